"""A turn that works, in process: a scripted smolagents Model drives the real Planner, Run and toolset
against the loopback Gradio apps and the Hub stand-in (no LLM, no network beyond 127.0.0.1): chaining
Spaces into a complete manifest, polling long calls, and chat turns that share memory until reset."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from agent_support import action_steps, manifest
from artifacts_check import glb_json, sha256
from PIL import Image
from scripted_model import code

# --------------------------------------------------------------------------- the main chain


CHAIN_CODE = """
img = run_space("acme/flux-lite", "/generate", {"prompt": "Eiffel Tower"})[0]
prev = run_space("acme/trellis-lite", "image_to_3d", {"image": img})
glb = run_space("acme/trellis-lite", "/extract_glb", {})[0]
print("image:", img)
print("glb:", glb)
"""


def test_text_to_image_to_3d_chain_writes_a_complete_manifest(hub_env, make):
    planner, run, model = make(
        [
            code(
                'hits = search_spaces("text to image")\nprint([h["id"] for h in hits])\n'
                'print(get_space_api("acme/flux-lite"))\nprint(get_space_api("acme/trellis-lite"))',
                "Find Spaces and read their APIs.",
            ),
            code(CHAIN_CODE, "Chain the Spaces."),
            code('final_answer(f"3D model: {glb} (image {img})")', "Done."),
        ],
        goal="a 3D model of the Eiffel Tower",
    )

    result = planner.turn("a 3D model of the Eiffel Tower")
    run.close()

    assert result.success and result.status == "success" and result.error is None
    assert "3D model:" in result.answer
    # The model saw the search results and the API of both Spaces before chaining them.
    step2_input = model.text_seen(1)
    assert "acme/flux-lite" in step2_input and "/image_to_3d(image: image file" in step2_input
    assert "/extract_glb(" in step2_input

    m = manifest(run)
    assert m["goal"] == "a 3D model of the Eiffel Tower"
    assert m["model"] == "scripted"
    assert m["status"] == "success" and m["finished_at"]
    assert m["final_answer"] == result.answer
    assert [t["status"] for t in m["turns"]] == ["success"]
    assert [s["step"] for s in m["steps"]] == [1, 2, 3]
    assert "search_spaces(" in m["steps"][0]["code"] and "acme/flux-lite" in m["steps"][0]["observations"]
    assert 'run_space("acme/flux-lite", "/generate"' in m["steps"][1]["code"]
    assert m["steps"][2]["final"] is True
    assert all(s["error"] is None for s in m["steps"])
    assert m["steps"][1]["tokens"] == {"input": 10, "output": 5}

    calls = m["calls"]
    assert [(c["space"], c["endpoint"]) for c in calls] == [
        ("acme/flux-lite", "/generate"),
        ("acme/trellis-lite", "/image_to_3d"),
        ("acme/trellis-lite", "/extract_glb"),
    ]
    for c in calls:
        assert c["status"] == "complete" and c["error"] is None
        assert c["step"] == 2 and c["turn"] == 1
        assert c["session"] == "default" and c["event_id"]
        assert isinstance(c["queue_s"], float) and isinstance(c["run_s"], float) and c["run_s"] >= 0
        for f in c["files"]:
            assert len(f["sha256"]) == 64 and f["size"] > 0
    gen, to3d, extract = calls
    assert gen["inputs"] == {"prompt": "Eiffel Tower"}
    image = gen["outputs"][0]
    assert Path(image).parent == run.dir and image.endswith(".png")
    with Image.open(image) as im:
        assert im.text["prompt"] == "Eiffel Tower"
    assert gen["files"] == [{**gen["files"][0], "local": image, "sha256": sha256(image), "direction": "out"}]
    # The image went into the 3D Space as an upload of that exact file.
    assert to3d["inputs"] == {"image": image}
    uploads = [f for f in to3d["files"] if f["direction"] == "in"]
    assert [(f["local"], f["sha256"]) for f in uploads] == [(image, sha256(image))]
    # extract_glb found the State left by image_to_3d: both calls ran in the same Gradio session.
    glb = extract["outputs"][0]
    assert glb.endswith(".glb") and Path(glb).is_file()
    extras = glb_json(glb)["asset"]["extras"]
    assert extras["source_sha256"] == sha256(image)
    assert extras["stage"] == "final"
    assert set(m["files"]) == {image, to3d["outputs"][0], glb} == set(result.files)


# --------------------------------------------------------------------------- long calls


def test_poll_result_reports_running_then_the_result(hub_env, make):
    planner, run, model = make(
        [
            code(
                'eid = call_space("acme/toolbox", "/slow", {"seconds": 2})\n'
                'first = poll_result("acme/toolbox", "/slow", eid, 0.2)\nprint("first:", first)'
            ),
            code('second = poll_result("acme/toolbox", "/slow", eid, 30)\nprint("second:", second)'),
            code("final_answer(second[0])"),
        ]
    )
    t0 = time.monotonic()
    result = planner.turn("wait for a slow job")
    assert result.success and result.answer == "done"
    steps = action_steps(planner)
    first = steps[0].observations
    assert "first: {'status': 'running', 'event_id':" in first and "poll_result again" in first
    assert "second: ['done']" in steps[1].observations
    # The first poll returned quickly instead of blocking for the whole job.
    assert steps[0].timing.duration < 1.5
    assert time.monotonic() - t0 >= 2
    run.close()
    (call,) = manifest(run)["calls"]
    assert call["endpoint"] == "/slow" and call["status"] == "complete" and call["outputs"] == ["done"]
    assert call["total_s"] >= 1.9
    assert call["queue_s"] + call["run_s"] == pytest.approx(call["total_s"], abs=0.01)


def test_unknown_event_id_is_a_one_line_error(hub_env, make):
    planner, run, model = make(
        [
            code('poll_result("acme/toolbox", "/slow", "nope", 1)'),
            code('final_answer("gave up")'),
        ]
    )
    assert planner.turn("poll nothing").success
    assert "Unknown event id 'nope'" in str(action_steps(planner)[0].error)
    assert "Unknown event id 'nope'" in model.text_seen(1)


# --------------------------------------------------------------------------- chat memory


def test_chat_turns_share_memory_and_variables_until_reset(hub_env, make):
    planner, run, model = make(
        [
            code('img = run_space("acme/flux-lite", "/generate", {"prompt": "a cat"})[0]\nprint(img)'),
            code("final_answer(img)"),
            code('final_answer("same image: " + img)'),
            code("print(img)"),
            code('final_answer("forgot")'),
        ]
    )
    first = planner.turn("make an image of a cat")
    assert first.success and first.answer.endswith(".png")
    second = planner.turn("use the same image again")
    assert second.success and second.answer == "same image: " + first.answer
    turn2_input = model.text_seen(2)
    assert "make an image of a cat" in turn2_input and "use the same image again" in turn2_input

    planner.reset()
    third = planner.turn("what was the image?")
    assert third.success and third.answer == "forgot"
    turn3_first_input = model.text_seen(3)
    assert "make an image of a cat" not in turn3_first_input and "what was the image?" in turn3_first_input
    assert "img" in str(action_steps(planner)[0].error) and "not defined" in str(action_steps(planner)[0].error)

    run.close()
    m = manifest(run)
    assert [t["goal"] for t in m["turns"]] == [
        "make an image of a cat",
        "use the same image again",
        "what was the image?",
    ]
    assert [t["status"] for t in m["turns"]] == ["success"] * 3
    assert [(s["turn"], s["step"]) for s in m["steps"]] == [(1, 1), (1, 2), (2, 1), (3, 1), (3, 2)]
    assert m["calls"][0]["turn"] == 1
