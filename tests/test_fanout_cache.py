"""Fan-out (batch, pipeline, session names) and the call cache, on the loopback apps."""

from __future__ import annotations

from pathlib import Path

import pytest
from artifacts_check import glb_source, sha256
from artifacts_check import sha256 as sha

from spacechain.agent.run import Run
from spacechain.tools import Client, InvalidInputs, UploadRefused
from spacechain.tools.cache import CallCache
from spacechain.tools.pipeline import fill, run_batch, run_pipeline
from spacechain.tools.plan import PlanProblems

PROMPTS = ["Eiffel Tower", "Louvre", "Pont Neuf"]
STAGES = [
    {"space": "acme/flux-lite", "endpoint": "/generate", "inputs": {"prompt": "{prompt}"}},
    {"space": "acme/trellis-lite", "endpoint": "/image_to_3d", "inputs": {"image": "{prev[0]}"}},
    {"space": "acme/trellis-lite", "endpoint": "/extract_glb", "inputs": {}},
]


def real_calls(client: Client) -> list:
    return [r for r in client.records if r.event_id and not r.cached]


def test_fill_placeholders():
    stages = [["img.png", 7]]
    assert fill(
        {"image": "{prev[0]}", "p": "{prompt}", "k": "{s0[1]}", "text": "a photo of {prompt}, seed {s0[1]}"},
        {"prompt": "Louvre"},
        stages[-1],
        stages,
    ) == {"image": "img.png", "p": "Louvre", "k": 7, "text": "a photo of Louvre, seed 7"}
    assert fill({"prompt": "{item}"}, "Pont Neuf", None, []) == {"prompt": "Pont Neuf"}
    with pytest.raises(InvalidInputs, match="first stage"):
        fill({"image": "{prev[0]}"}, {}, None, [])
    with pytest.raises(InvalidInputs, match="not a field of the item; fields: prompt"):
        fill({"p": "{promt}"}, {"prompt": "x"}, None, [])
    with pytest.raises(InvalidInputs, match="out of range"):
        fill({"p": "{prev[5]}"}, {}, ["a"], [["a"]])


def test_pipeline_gives_each_item_its_own_model_and_overlaps_stages(hub_env, app_launcher, tmp_path):
    # Private apps with real compute delays, so the stages have something to overlap.
    urls = app_launcher(["text2img", "img2_3d"], delay=0.3)
    hub_env.update_space("acme/flux-lite", host=urls["text2img"])
    hub_env.update_space("acme/trellis-lite", host=urls["img2_3d"])
    with Client(out_dir=tmp_path) as client:
        rows = run_pipeline(client, [{"prompt": p} for p in PROMPTS], STAGES, max_concurrency=len(PROMPTS))
        assert [r["item"]["prompt"] for r in rows] == PROMPTS
        for row in rows:
            assert "error" not in row, row
            image, glb = row["outputs"][0][0], row["outputs"][2][0]
            assert glb_source(glb) == sha(image)  # item i's model comes from item i's image
        glbs = [r["outputs"][2][0] for r in rows]
        assert len(set(glbs)) == len(PROMPTS)
        recs = real_calls(client)
        assert {r.session for r in recs} == {f"item-{i}" for i in range(len(PROMPTS))}
        # Pipelined: some item entered the 3D Space before the image Space had finished every item.
        first_3d = min(r.submitted_at for r in recs if r.endpoint == "/image_to_3d")
        last_image = max(r.finished_at for r in recs if r.endpoint == "/generate")
        assert first_3d < last_image


def test_pipeline_failure_stays_with_its_item(hub_env, tmp_path):
    stages = [
        {"space": "acme/toolbox", "endpoint": "/echo", "inputs": {"text": "{text}"}},
        {"space": "acme/toolbox", "endpoint": "/fail", "inputs": {"prompt": "{text}"}},
    ]
    with Client(out_dir=tmp_path) as client:
        rows = run_pipeline(client, [{"text": "a"}, {"text": "b"}], stages)
    assert [r["failed_stage"] for r in rows] == [1, 1]
    assert rows[0]["error"]["error"] == "space_error" and "Prompt is empty" in rows[0]["error"]["message"]
    assert rows[0]["outputs"][0][0]["text"]["value"] == "a"


def test_batch_per_item_results_and_errors(hub_env, tmp_path):
    with Client(out_dir=tmp_path) as client:
        out = run_batch(client, "acme/toolbox", "echo", [{"text": "x"}, ["y", 2.5]], max_concurrency=2)
        assert out[0][0]["text"]["value"] == "x"
        assert out[1][0]["number"]["value"] == 2.5
        # An invalid item is found before any submission: the whole batch is refused, every problem named.
        with pytest.raises(PlanProblems) as info:
            run_batch(client, "acme/toolbox", "echo", [{"text": "x"}, {"bogus": 1}, {"text": "z", "count": "two"}])
        assert info.value.problems[0].startswith("item 1: /echo has no input named bogus")
        assert info.value.problems[1].startswith("item 2: /echo: count expects an integer")
        assert len(client.records) == 2  # only the first batch's calls


def test_batch_sessions_keep_state_apart(hub_env, tmp_path):
    with Client(out_dir=tmp_path) as client:
        images = [r[0] for r in run_batch(client, "acme/flux-lite", "/generate", [{"prompt": p} for p in PROMPTS])]
        names = [f"landmark-{i}" for i in range(len(images))]
        run_batch(client, "acme/trellis-lite", "/image_to_3d", [{"image": im} for im in images], sessions=names)
        glbs = run_batch(client, "acme/trellis-lite", "/extract_glb", [{}] * len(images), sessions=names)
    assert [glb_source(g[0]) for g in glbs] == [sha(im) for im in images]


def test_repeat_run_makes_no_space_call(hub_env, tmp_path):
    cache = CallCache(tmp_path / "cache")
    items = [{"prompt": p} for p in PROMPTS[:2]]
    with Client(out_dir=tmp_path / "a", cache=cache) as first:
        rows_a = run_pipeline(first, items, STAGES)
        assert len(real_calls(first)) == 6
    with Client(out_dir=tmp_path / "b", cache=cache) as second:
        rows_b = run_pipeline(second, items, STAGES)
        assert real_calls(second) == [] and all(r.cached for r in second.records)
    for a, b in zip(rows_a, rows_b):
        glb_a, glb_b = a["outputs"][2][0], b["outputs"][2][0]
        assert Path(glb_b).parent == tmp_path / "b"  # restored into the new output folder
        assert sha(glb_a) == sha(glb_b)
    assert len(cache.entries()) == 6


def test_cache_key_follows_the_session_state(hub_env, tmp_path):
    cache = CallCache(tmp_path / "cache")
    with Client(out_dir=tmp_path / "a", cache=cache) as client:
        img_a, img_b = (client.call("acme/flux-lite", "/generate", {"prompt": p})[0] for p in ("red", "blue"))
        client.call("acme/trellis-lite", "/image_to_3d", {"image": img_a}, session="s")
        glb_a = client.call("acme/trellis-lite", "/extract_glb", session="s")[0]
    with Client(out_dir=tmp_path / "b", cache=cache) as client:
        client.call("acme/trellis-lite", "/image_to_3d", {"image": img_b}, session="s")
        glb_b = client.call("acme/trellis-lite", "/extract_glb", session="s")[0]
        # same endpoint, same (empty) inputs, different State: not served from the cache
        assert not client.records[-1].cached
    assert glb_source(glb_a) == sha(img_a) and glb_source(glb_b) == sha(img_b)


def test_cached_state_is_rebuilt_before_a_state_reading_miss(hub_env, tmp_path):
    cache = CallCache(tmp_path / "cache")
    with Client(out_dir=tmp_path / "a", cache=cache) as client:
        img = client.call("acme/flux-lite", "/generate", {"prompt": "green"})[0]
        client.call("acme/trellis-lite", "/image_to_3d", {"image": img})
    with Client(out_dir=tmp_path / "b", cache=cache) as client:
        client.call("acme/trellis-lite", "/image_to_3d", {"image": img})
        assert client.records[-1].cached  # the server never saw this call...
        glb = client.call("acme/trellis-lite", "/extract_glb", {"decimation_target": 20000})[0]
        # ...so it was run for real before the export that reads its State
        assert [(r.endpoint, r.cached) for r in client.records] == [
            ("/image_to_3d", True),
            ("/image_to_3d", False),
            ("/extract_glb", False),
        ]
    assert glb_source(glb) == sha(img)


def test_cache_keeps_only_downloaded_outputs(hub_env, tmp_path):
    """A Space echoing a local path must not get that file copied into the cache or the run."""
    secret = tmp_path / "secret.env"
    secret.write_text("TOKEN=hunter2")
    cache = CallCache(tmp_path / "cache")
    for out in ("a", "b"):
        with Client(out_dir=tmp_path / out, cache=cache) as client:
            [echoed] = client.call("acme/toolbox", "/echo", {"text": str(secret)})
            assert echoed["text"]["value"] == str(secret)
    assert client.records[-1].cached and client.records[-1].files == []
    assert not [f for f in (tmp_path / "cache").rglob("*") if f.is_file() and f.name != "entry.json"]
    assert not (tmp_path / "b" / "secret.env").exists()


def test_same_call_twice_in_parallel_with_the_cache(hub_env, tmp_path):
    with Client(out_dir=tmp_path, cache=CallCache(tmp_path / "cache")) as client:
        out = run_batch(client, "acme/flux-lite", "/generate", [{"prompt": "twin"}] * 4, max_concurrency=4)
    assert all(isinstance(o, list) and Path(o[0]).is_file() for o in out), out


def test_sandbox_holds_for_cache_hits(hub_env, tmp_path):
    """A result computed from a private file must not come back to a run that may not upload it."""
    private = tmp_path / "private.txt"
    private.write_text("12345")
    cache = CallCache(tmp_path / "cache")
    with Client(out_dir=tmp_path / "a", cache=cache) as client:
        assert client.call("acme/toolbox", "/count_upload", {"file": str(private)}) == ["5"]
    run = Run(tmp_path / "run", goal="g", model="m", cache=cache)
    with pytest.raises(UploadRefused):
        run.client.submit("acme/toolbox", "/count_upload", {"file": str(private)})
    run.close()


def test_an_uncached_state_writer_unsettles_cached_readers(hub_env, tmp_path):
    cache = CallCache(tmp_path / "cache")
    with Client(out_dir=tmp_path / "a", cache=cache) as client:
        red, blue = (client.call("acme/flux-lite", "/generate", {"prompt": p})[0] for p in ("red", "blue"))
        client.call("acme/trellis-lite", "/image_to_3d", {"image": red})
        client.call("acme/trellis-lite", "/extract_glb")
    with Client(out_dir=tmp_path / "b", cache=cache) as client:
        client.call("acme/trellis-lite", "/image_to_3d", {"image": red})  # a hit
        client.call("acme/trellis-lite", "/image_to_3d", {"image": blue}, use_cache=False)
        glb = client.call("acme/trellis-lite", "/extract_glb")[0]
    assert glb_source(glb) == sha256(blue)


def test_cached_calls_report_progress(hub_env, tmp_path):
    cache, seen = CallCache(tmp_path / "cache"), []
    for out in ("a", "b"):
        with Client(out_dir=tmp_path / out, cache=cache) as client:
            client.call("acme/toolbox", "/noop", on_update=lambda u: seen.append(u.state))
    assert seen[-1] == "cached" and "complete" in seen
