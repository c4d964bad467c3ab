"""Malformed answers from a Gradio-shaped server on 127.0.0.1 (submit, info, upload, result stream,
config): each is one line, and the session is free again for the next call."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import network_support
import pytest
from http_support import INFO, gets, png_bytes, posts
from network_support import FAST, one_line
from servers import Reply, ScriptedServer, sse

from spacechain.tools import BadAnswer, Client
from spacechain.tools.cache import CallCache

no_private = network_support.no_private  # the default: only origins the user named may be private


@pytest.mark.parametrize(
    "answer",
    [
        Reply(200, body={"event_id": 123}),
        Reply(200, body={}),
        Reply(200, body=["e1"]),
        Reply(200, {"content-type": "text/html"}, "<html>hello</html>"),
        Reply(200, body={"event_id": ""}),
        Reply(200, body={"event_id": "../../info?x="}),
        Reply(200, body="[" * 50000 + "]" * 50000),
    ],
    ids=["numeric", "missing", "list", "html", "empty", "path", "deep"],
)
def test_a_malformed_submit_answer_is_one_line_and_frees_the_session(
    scripted: ScriptedServer, tmp_path: Path, answer: Reply
) -> None:
    scripted.add("/gradio_api/info", Reply(200, body=INFO))
    scripted.add("/gradio_api/call/x", answer, Reply(200, body={"event_id": "e2"}))
    scripted.add("/gradio_api/call/x/e2", sse(("complete", ["next"])))
    with Client(token=False, out_dir=tmp_path, retry=FAST) as c:
        with pytest.raises(BadAnswer) as err:
            c.call(scripted.url, "x", session="s", timeout=30)
        assert "event id" in one_line(err.value)
        assert c.records[-1].status == "error" and c.records[-1].error["error"] == "bad_answer"  # in the manifest
        t0 = time.monotonic()
        assert c.call(scripted.url, "x", session="s", timeout=5) == ["next"]  # not waiting for a lock
        assert time.monotonic() - t0 < 4


DEEP = {"named_endpoints": {"/x": {"parameters": [{"type": json.loads("[" * 500 + "]" * 500)}]}}}


@pytest.mark.parametrize(
    "info",
    [
        [1, 2],
        "just text",
        {"named_endpoints": ["/x"]},
        {"named_endpoints": {"/x": []}},
        {"named_endpoints": {"/x": {"parameters": {"a": 1}}}},
        {"named_endpoints": {"/x": {"parameters": [{"component": 5, "parameter_name": "a"}]}}},
        {"named_endpoints": {"/x": {"parameters": [{"python_type": "str"}]}}},
        {"named_endpoints": {"/x": {"parameters": [{"type": {"enum": 3}}]}}},
        {"named_endpoints": {"/x": {"returns": [{"python_type": {"type": ["str"]}}]}}},
        DEEP,
        "[" * 50000 + "]" * 50000,
    ],
    ids=[
        "list",
        "text",
        "endpoints-list",
        "body-list",
        "params-dict",
        "component-int",
        "pytype-str",
        "enum-int",
        "return-type-list",
        "deep",
        "too-deep-to-parse",
    ],
)
def test_a_malformed_info_is_one_line(scripted: ScriptedServer, tmp_path: Path, info: Any) -> None:
    body = info if isinstance(info, str) and info.startswith("[") else json.dumps(info)
    scripted.add("/gradio_api/info", Reply(200, {"content-type": "application/json"}, body))
    with Client(token=False, out_dir=tmp_path, retry=FAST) as c:
        with pytest.raises(BadAnswer) as err:
            c.call(scripted.url, "x", timeout=30)
        assert "Gradio" in one_line(err.value)
        scripted.script["/gradio_api/info"] = [Reply(200, body=INFO)]
        scripted.add("/gradio_api/call/x", Reply(200, body={"event_id": "e1"}))
        scripted.add("/gradio_api/call/x/e1", sse(("complete", ["fixed"])))
        assert c.call(scripted.url, "x", timeout=30) == ["fixed"]  # nothing half-parsed was kept


def test_one_malformed_endpoint_leaves_the_rest_of_the_app_callable(scripted: ScriptedServer, tmp_path: Path) -> None:
    odd = {"parameters": [{"component": ["Textbox"], "parameter_name": "a", "label": {"text": "A"}}]}
    info = {"named_endpoints": {**INFO["named_endpoints"], "/odd": odd, "/labelled": {"description": 7}}}
    scripted.add("/gradio_api/info", Reply(200, body=info))
    scripted.add("/gradio_api/call/x", Reply(200, body={"event_id": "e1"}))
    scripted.add("/gradio_api/call/x/e1", sse(("complete", ["ok"])))
    with Client(token=False, out_dir=tmp_path, retry=FAST) as c:
        assert c.call(scripted.url, "x", timeout=30) == ["ok"]
        assert c.endpoint(scripted.url, "/labelled").description == "7"  # an odd label or description is shown
        with pytest.raises(BadAnswer) as err:
            c.call(scripted.url, "odd", {"a": "hi"}, timeout=30)
        msg = one_line(err.value)
        assert "/odd" in msg and "parameter 0 component" in msg and "Gradio" in msg
        assert "/odd" not in c.schema(scripted.url).compact() and posts(scripted, "/gradio_api/call/odd") == []


@pytest.mark.parametrize(
    "answer",
    [
        Reply(200, body={}),
        Reply(200, body=[]),
        Reply(200, body=[1]),
        Reply(200, body=[["a"]]),
        Reply(200, {"content-type": "text/plain"}, "not json"),
    ],
    ids=["dict", "empty", "number", "nested", "text"],
)
def test_a_malformed_upload_answer_is_one_line(scripted: ScriptedServer, tmp_path: Path, answer: Reply) -> None:
    scripted.add("/gradio_api/info", Reply(200, body=INFO))
    scripted.add("/gradio_api/upload", answer, Reply(200, body=["/tmp/gradio/a/in.png"]))
    scripted.add("/gradio_api/call/img", Reply(200, body={"event_id": "e1"}))
    scripted.add("/gradio_api/call/img/e1", sse(("complete", ["ok"])))
    image = tmp_path / "in.png"
    image.write_bytes(png_bytes((1, 2, 3)))
    with Client(token=False, out_dir=tmp_path / "out", retry=FAST) as c:
        with pytest.raises(BadAnswer) as err:
            c.call(scripted.url, "img", {"image": str(image)}, session="s", timeout=30)
        assert "server paths" in one_line(err.value) and posts(scripted, "/gradio_api/call/img") == []
        assert c.call(scripted.url, "img", {"image": str(image)}, session="s", timeout=5) == ["ok"]


@pytest.mark.parametrize(
    "stream",
    [
        Reply(200, {"content-type": "application/json"}, {"msg": "complete"}),
        sse(("complete", json.loads("[" * 150 + "]" * 150))),
    ],
    ids=["not-an-event-stream", "deep-event"],
)
def test_a_malformed_result_stream_is_one_line(scripted: ScriptedServer, tmp_path: Path, stream: Reply) -> None:
    scripted.add("/gradio_api/info", Reply(200, body=INFO))
    scripted.add("/gradio_api/call/x", Reply(200, body={"event_id": "e1"}), Reply(200, body={"event_id": "e2"}))
    scripted.add("/gradio_api/call/x/e1", stream)
    scripted.add("/gradio_api/call/x/e2", sse(("complete", ["next"])))
    with Client(token=False, out_dir=tmp_path, retry=FAST) as c:
        with pytest.raises(BadAnswer) as err:
            c.call(scripted.url, "x", session="s", timeout=30)
        one_line(err.value)
        assert c.call(scripted.url, "x", session="s", timeout=5) == ["next"]


def test_a_malformed_config_only_turns_the_cache_off(scripted: ScriptedServer, tmp_path: Path) -> None:
    scripted.add("/gradio_api/info", Reply(200, body=INFO))
    scripted.add(
        "/config",
        Reply(
            200,
            body={"components": 5, "dependencies": [{"api_name": "x", "inputs": [[1]], "outputs": [{"a": 1}]}, "junk"]},
        ),
    )
    scripted.add("/gradio_api/call/x", Reply(200, body={"event_id": "e1"}))
    scripted.add("/gradio_api/call/x/e1", sse(("complete", ["ok"])))
    with Client(token=False, out_dir=tmp_path, retry=FAST, cache=CallCache(tmp_path / "cache")) as c:
        assert c.call(scripted.url, "x", timeout=30) == ["ok"]
        assert c.call(scripted.url, "x", timeout=30) == ["ok"]
    assert len(posts(scripted, "/gradio_api/call/x")) == 2 and gets(scripted, "/config")
