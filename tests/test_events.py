"""The planner tells listeners what happens; front ends (the terminal board, --json, the studio) are
only listeners."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import pytest
from scripted_model import code

from spacechain.agent.events import (
    CallFinished,
    CallSubmitted,
    Emitter,
    Event,
    StepCode,
    StepEvent,
    StepFinished,
    StepStarted,
    TextDelta,
    TurnEnded,
)

AGENT = Path(__file__).resolve().parent.parent / "agent"
TOOLS = Path(__file__).resolve().parent.parent / "tools"


def test_a_chain_is_told_as_events_in_order(hub_env, make):
    planner, run, model = make(
        [
            code(
                'img = run_space("acme/flux-lite", "/generate", {"prompt": "Eiffel Tower"})[0]\n'
                'run_space("acme/trellis-lite", "/image_to_3d", {"image": img})\n'
                'glb = run_space("acme/trellis-lite", "/extract_glb", {})[0]\nprint(glb)'
            ),
            code('try:\n    run_space("acme/flux-lite", "/nope", {})\nexcept Exception as e:\n    print("no")'),
            code('final_answer("done")'),
        ]
    )
    seen: list[Event] = []
    planner.events.add(seen.append)
    assert planner.turn("a 3D tower").success
    kinds = [e.kind for e in seen]
    assert kinds[:2] == ["turn_started", "step_started"] and kinds[-2:] == ["final_answer", "turn_ended"]
    assert kinds.count("step_finished") == 3 and kinds.count("step_code") == 3

    finished = [e for e in seen if isinstance(e, CallFinished)]
    assert [(e.call, e.state) for e in finished] == [
        ("acme/flux-lite /generate", "complete"),
        ("acme/trellis-lite /image_to_3d", "complete"),
        ("acme/trellis-lite /extract_glb", "complete"),
        ("acme/flux-lite /nope", "error"),
    ]
    image, glb = finished[0].files[0], finished[2].files[0]
    assert os.path.exists(image) and glb.endswith(".glb")
    # The portrait is there (with its file) before the 3D Space is even called.
    first_3d = next(i for i, e in enumerate(seen) if isinstance(e, CallSubmitted) and "trellis" in e.call)
    assert seen.index(finished[0]) < first_3d
    assert "/nope" in finished[3].error
    step1 = next(e for e in seen if isinstance(e, StepFinished))
    assert step1.step == 1 and "extract_glb" in step1.code and glb in step1.observations and step1.tokens_in
    end = seen[-1]
    assert isinstance(end, TurnEnded) and end.status == "success" and glb in end.files
    json.dumps([e.to_dict() for e in seen])  # every event is plain data
    run.close()


@pytest.mark.parametrize(
    "event, wire",
    [
        (StepStarted(1, 2), {"event": "step_started", "turn": 1, "step": 2}),
        (TextDelta(1, 2, "he"), {"event": "text_delta", "turn": 1, "step": 2, "text": "he"}),
        (StepCode(1, 2, "x = 1"), {"event": "step_code", "turn": 1, "step": 2, "code": "x = 1"}),
        (
            StepFinished(1, 2, "t", "x = 1", "obs", None, False, 0.5, 10, 3),
            {
                "event": "step_finished",
                "turn": 1,
                "step": 2,
                "thought": "t",
                "code": "x = 1",
                "observations": "obs",
                "error": None,
                "final": False,
                "duration_s": 0.5,
                "tokens_in": 10,
                "tokens_out": 3,
            },
        ),
    ],
)
def test_step_events_take_and_give_turn_and_step_first(event: Event, wire: dict):
    """The JSON form (and its key order) that `--json`, the studio and MCP progress read."""
    assert isinstance(event, StepEvent)
    assert list(event.to_dict().items()) == list(wire.items())


def test_a_failing_listener_does_not_stop_the_others():
    got: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("display crashed")

    emitter = Emitter([broken, got.append])
    emitter.emit(TurnEnded(1, "success"))
    assert [e.kind for e in got] == ["turn_ended"]


def test_the_planner_and_the_toolset_draw_nothing():
    """No terminal library in the planner, the toolset or the protocol core."""
    for path in [
        AGENT / "runner.py",
        AGENT / "toolset.py",
        AGENT / "events.py",
        AGENT / "sandbox.py",
        *TOOLS.glob("*.py"),
    ]:
        tree = ast.parse(path.read_text())
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not any(n.split(".")[0] in ("rich", "typer", "prompt_toolkit") for n in names), path
        assert ".display" not in names and "display" not in names, path


def test_a_call_that_ended_is_never_reported_running_again(hub_client, spaces):
    """The queue sampler may send one more update after the job's last: a listener must not see the call
    go back to running (the studio's row lost its outcome)."""
    from spacechain.agent.events import CallUpdated, CallWatch
    from spacechain.tools import JobUpdate

    seen: list[Event] = []
    watch = CallWatch("acme/toolbox /noop", seen.append)
    job = hub_client.submit("acme/toolbox", "/noop", {}, on_update=watch.update)
    watch.attach(job)
    assert job.result(timeout=30) == ["ok"]
    watch.update(JobUpdate("running", 1.0, queue_size=0))  # late, as from the sampler
    ends = [n for n, e in enumerate(seen) if isinstance(e, CallFinished)]
    assert len(ends) == 1 and seen[ends[0]].state == "complete"
    assert not any(isinstance(e, CallUpdated) for e in seen[ends[0] :])


def test_the_board_shows_a_streaming_calls_latest_words_cleaned():
    from io import StringIO

    from rich.console import Console

    from spacechain.agent.display import Board
    from spacechain.agent.events import CallUpdated

    board, label = Board(Console(file=StringIO(), width=160)), "acme/toolbox /stream"
    board(CallSubmitted(label, "acme/toolbox", "/stream", None, n=1))
    board(CallUpdated(label, "generating", 0.5, generated=2, partial=["step 1 \x1b[31mred\x1b[0m text"], n=1))
    board(CallUpdated(label, "generating", 0.9, generated=2, n=1))  # a heartbeat: the words stay
    out = StringIO()
    Console(file=out, width=160).print(board.render())
    assert "2 partial · step 1 red text" in out.getvalue() and "\x1b[31m" not in out.getvalue()
