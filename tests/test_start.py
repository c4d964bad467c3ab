"""The core every front end starts work with (agent/start.py): a run and its planner opened with every option
checked first, a replay told to listeners as a turn, and the CLI's one bundle of planning options."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from spacechain.agent.cli import plan_options
from spacechain.agent.events import CallFinished, CallSubmitted, CallUpdated, FinalAnswer, TurnEnded, TurnStarted
from spacechain.agent.models import BackendError
from spacechain.agent.replay import Chain, ChainCall
from spacechain.agent.run import Run
from spacechain.agent.start import (
    REPLAY_MODEL,
    PlanOptions,
    Replay,
    ReplayTurn,
    open_planner,
    open_run,
    overrides,
)
from spacechain.tools import InvalidInputs, SpacechainError, UploadRefused


def manifest(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text())


def one_call(endpoint: str, inputs: dict) -> Replay:
    chain = Chain("say it", [ChainCall("acme/toolbox", endpoint, "default", inputs)])
    return Replay({"goal": "say it", "user_files": []}, chain, set())


def replayed(run: Run, replay: Replay) -> list:
    events: list = []
    try:
        ReplayTurn(run, replay, [events.append]).turn()
    finally:
        run.close()
    return events


def test_a_replay_is_a_turn_its_listeners_see_like_a_planner_turn(hub_env, tmp_path):
    first = open_run(PlanOptions(cache=False), "say it (replay)", tmp_path / "one", REPLAY_MODEL)
    events = replayed(first, one_call("/echo", {"text": "hello"}))
    kinds = [type(e) for e in events]
    assert kinds[0] is TurnStarted and kinds[-2:] == [FinalAnswer, TurnEnded]
    assert CallSubmitted in kinds and CallFinished in kinds
    assert events[-1].status == "success" and events[-1].answer == "replayed 1 call(s)"
    m = manifest(tmp_path / "one")
    assert m["model"] == REPLAY_MODEL and m["turns"][0]["status"] == "success" and "before" in m["quota"]
    assert m["calls"][0]["outputs"][0]["text"]["value"] == "hello"

    # That run replayed in turn, with a changed input: the recorded chain, the new value.
    again = Replay.load(tmp_path / "one", overrides(["text=again"]))
    assert again.goal == "say it (replay) (replay)"
    replayed(open_run(PlanOptions(), again.goal, tmp_path / "two", REPLAY_MODEL), again)
    assert manifest(tmp_path / "two")["calls"][0]["outputs"][0]["text"]["value"] == "again"


def test_a_failed_replay_is_recorded_told_and_raised(hub_env, tmp_path):
    run = open_run(PlanOptions(cache=False), "fail (replay)", tmp_path / "run", REPLAY_MODEL)
    events: list = []
    with pytest.raises(SpacechainError):
        ReplayTurn(run, one_call("/fail", {"prompt": ""}), [events.append]).turn()
    run.close()
    assert isinstance(events[-1], TurnEnded) and events[-1].status == "failed" and "empty" in events[-1].error
    assert not any(isinstance(e, FinalAnswer) for e in events)
    turn = manifest(tmp_path / "run")["turns"][0]
    assert turn["status"] == "failed" and turn["final_answer"] == events[-1].error


def test_a_stopped_replay_ends_as_interrupted(private_toolbox, tmp_path):
    run = open_run(PlanOptions(cache=False), "slow (replay)", tmp_path / "run", REPLAY_MODEL)
    events: list = []
    turn = ReplayTurn(run, one_call("/slow", {"seconds": 30}), [events.append])
    started = threading.Event()
    turn.events.add(lambda e: started.set() if isinstance(e, CallUpdated) else None)
    threading.Thread(target=lambda: started.wait(30) and turn.stop(), daemon=True).start()
    with pytest.raises(SpacechainError):
        turn.turn()
    run.close()
    assert events[-1] == TurnEnded(1, "interrupted")
    assert manifest(tmp_path / "run")["turns"][0]["status"] == "interrupted"


def test_open_planner_checks_everything_before_a_run_folder_exists(hub_env, llm, tmp_path):
    with pytest.raises(UploadRefused, match="--file .*nope.png does not exist"):
        open_planner(
            PlanOptions(model="openai/scripted", api_base="http://127.0.0.1:9"),
            "g",
            tmp_path / "a",
            files=[tmp_path / "nope.png"],
        )
    with pytest.raises(BackendError, match="take no --api-base"):
        open_planner(PlanOptions(model="hf:acme/m", api_base="http://127.0.0.1:9"), "g", tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()

    stub = llm([])
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"png")
    opts = PlanOptions(model="openai/scripted", api_base=stub.url, max_steps=3, max_space_calls=2, cache=False)
    run, planner = open_planner(opts, "g", tmp_path / "run", files=[photo])
    try:
        assert planner.max_steps == 3 and run.max_space_calls == 2 and not run.use_cache
        m = manifest(tmp_path / "run")
        assert m["model"] == "openai/scripted" and "before" in m["quota"]
        assert [f["path"] for f in m["user_files"]] == [str(photo.resolve())]
    finally:
        run.close()


def test_plan_options_is_one_bundle_of_typer_options():
    app = typer.Typer()
    got: list = []

    @app.command()
    @plan_options()
    def plan(goal: str, opts: PlanOptions = PlanOptions(), out: str = typer.Option("o", "--out")):
        got.append((goal, opts, out))

    @app.command()
    @plan_options(cache=False)
    def page(opts: PlanOptions = PlanOptions()):
        got.append(opts)

    res = CliRunner().invoke(app, ["plan", "a goal", "-m", "x/y", "--max-steps", "3", "--no-cache", "--out", "p"])
    assert res.exit_code == 0, res.output
    assert got.pop() == ("a goal", PlanOptions(model="x/y", max_steps=3, cache=False), "p")
    assert CliRunner().invoke(app, ["plan", "g", "--max-steps", "0"]).exit_code == 2  # the shared option's range
    assert CliRunner().invoke(app, ["page", "--api-key", "k", "--max-space-calls", "4"]).exit_code == 0
    assert got.pop() == PlanOptions(api_key="k", max_space_calls=4, cache=False)  # no --no-cache: no call cache
    assert CliRunner().invoke(app, ["page", "--no-cache"]).exit_code == 2


def test_overrides_say_what_is_wrong_in_the_front_ends_words():
    assert overrides(["1.prompt=a=b", " seed =2"]) == {"1.prompt": "a=b", "seed": "2"}
    with pytest.raises(InvalidInputs, match=r"^--set expects name=value .*got 'novalue'"):
        overrides(["novalue"])
    with pytest.raises(InvalidInputs, match=r"^Each line of the inputs box is name=value"):
        overrides(["=1"], "Each line of the inputs box is")
