"""How a turn ends when something goes wrong, with the real Planner and Run driven by a scripted model:
a Space's error reaches the model as one line, running out of steps is not success, Ctrl-C keeps a
valid manifest and cancels the job, a lost LLM ends the turn with a one-line reason."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from agent_support import action_steps, manifest
from scripted_model import code

# --------------------------------------------------------------------------- failures the model must see


@pytest.mark.parametrize(
    "bad, expected, fallback, seen, calls",
    [
        pytest.param(
            'out = run_space("acme/toolbox", "/fail", {"prompt": "x"})\nprint(out)',
            "acme/toolbox failed (Bad prompt): Prompt is empty; write something",
            'out = run_space("acme/toolbox", "/echo", {"text": "plan B"})[0]\nprint(out["text"]["value"])',
            "plan B",
            [("/fail", "error", "space_error"), ("/echo", "complete", None)],
            id="failing",
        ),
        pytest.param(
            'print(run_space("acme/sleepy", "/noop", {}))',
            "Space acme/sleepy is not running (stage SLEEPING): it is asleep; a request wakes it, so retry in a "
            "minute or pick another Space.",
            'print(run_space("acme/toolbox", "/noop", {}))',
            "['ok']",
            [("/noop", "complete", None)],  # a Space that is not running is refused before any call
            id="sleeping",
        ),
    ],
)
def test_a_space_error_reaches_the_model_which_switches(hub_env, make, bad, expected, fallback, seen, calls):
    planner, run, model = make([code(bad), code(fallback), code('final_answer("switched")')])
    result = planner.turn("switch Spaces when one fails")
    assert result.success and result.answer == "switched"

    steps = action_steps(planner)
    assert expected in str(steps[0].error)
    # The Space's message reaches the model as one line, not a traceback.
    line = next(line for line in model.text_seen(1).splitlines() if expected in line)
    assert "Traceback" not in model.text_seen(1)
    assert line.strip().endswith(expected)
    assert seen in steps[1].observations

    run.close()
    m = manifest(run)
    assert expected in m["steps"][0]["error"] and m["steps"][1]["error"] is None
    assert [(c["endpoint"], c["status"], (c.get("error") or {}).get("error")) for c in m["calls"]] == calls
    assert all(c["error"]["message"] == expected for c in m["calls"] if c["status"] == "error")


def test_max_steps_is_not_success_even_with_a_fallback_answer(hub_env, make):
    planner, run, model = make(
        [
            code('img = run_space("acme/flux-lite", "/generate", {"prompt": "a red bike"})[0]\nprint(img)'),
            code('print("still thinking")'),
            "The image is ready, I think.",  # smolagents' fallback answer after the last step
        ],
        max_steps=2,
    )
    result = planner.turn("draw a red bike")
    assert not model.replies, "the fallback answer was requested"
    assert result.success is False and result.status == "max_steps"
    assert "all 2 steps" in result.error and "--max-steps" in result.error
    assert len(result.files) == 1 and Path(result.files[0]).is_file()

    run.close()
    m = manifest(run)
    assert m["status"] == "max_steps" and m["turns"][-1]["status"] == "max_steps"
    assert not any(s["final"] for s in m["steps"])
    assert m["files"] == result.files


# --------------------------------------------------------------------------- interruption


def test_interrupt_on_step_two_keeps_a_valid_manifest(hub_env, make):
    def ctrl_c(messages):
        raise KeyboardInterrupt

    planner, run, model = make(
        [
            code('img = run_space("acme/flux-lite", "/generate", {"prompt": "interrupted"})[0]\nprint(img)'),
            ctrl_c,
        ]
    )
    result = planner.turn("make an image, then be interrupted")
    assert result.success is False and result.status == "interrupted"
    assert len(result.files) == 1 and Path(result.files[0]).is_file()

    m = manifest(run)  # valid JSON before close()
    assert m["status"] == "interrupted" and m["turns"][-1]["status"] == "interrupted"
    assert m["steps"][0]["step"] == 1 and "interrupted" in m["steps"][0]["code"]
    assert m["calls"][0]["status"] == "complete"
    assert m["files"] == result.files
    run.close()
    m = manifest(run)
    assert m["status"] == "interrupted" and Path(m["files"][0]).is_file()
    assert not list(run.dir.glob(".manifest.*.tmp"))


def test_interrupt_during_a_call_cancels_the_job(hub_env, private_toolbox, make):
    planner, run, model = make(
        [
            code('print(run_space("acme/toolbox", "/slow", {"seconds": 30}))'),
            code('final_answer("after")'),
        ]
    )

    def press_ctrl_c_when_the_call_is_submitted():
        deadline = time.monotonic() + 120
        while not run.jobs and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)  # a real signal wakes the blocked wait

    threading.Thread(target=press_ctrl_c_when_the_call_is_submitted, daemon=True).start()
    result = planner.turn("a call that takes too long")
    # Interrupted, and the job cancelled rather than waited for: had the Ctrl-C been lost, the turn would
    # have ended after the 30 s with the job's "done".
    assert result.status == "interrupted"
    (job,) = run.jobs.values()
    assert job.wait(60), "the job was cancelled, not left running"
    run.close()
    (call,) = manifest(run)["calls"]
    assert call["endpoint"] == "/slow" and call["status"] == "error"
    assert call["error"]["error"] == "cancelled"
    # The session goes on: the next turn works.
    result = planner.turn("say after")
    assert result.success and result.answer == "after"


def test_llm_failure_ends_the_turn_with_a_one_line_reason(hub_env, make):
    def backend_down(messages):
        raise RuntimeError("Connection refused by the LLM server\nTraceback (most recent call last): ...")

    planner, run, model = make(
        [
            code('img = run_space("acme/flux-lite", "/generate", {"prompt": "before the failure"})[0]\nprint(img)'),
            backend_down,
        ]
    )
    result = planner.turn("draw, then lose the LLM")
    assert result.success is False and result.status == "failed"
    assert "\n" not in result.error and "Connection refused by the LLM server" in result.error
    assert len(result.files) == 1 and Path(result.files[0]).is_file()
    run.close()
    m = manifest(run)
    assert m["status"] == "failed" and m["turns"][-1]["status"] == "failed"
    assert result.error in json.dumps(m["turns"][-1])
