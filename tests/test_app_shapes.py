"""Shapes of real Gradio apps that differ from the simple ones: a gr.ChatInterface whose labels are
i18n objects, and outputs gradio's `/call` route cannot encode (pandas timestamps, numpy scalars, PIL
images in a table), fetched by its queue route. Each against a real app on 127.0.0.1; the queue route's
messages one by one against a scripted server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from conftest import launch_apps
from http_support import INFO, posts
from network_support import FAST, one_line
from servers import Reply, ScriptedServer, sse, stop_process

from spacechain.tools import ApiSchema, Client, SpacechainError, SpaceError, UnsendableResult


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    proc, urls = launch_apps(["chat", "tables"], tmp_path_factory.mktemp("gradio-shapes"))
    yield urls
    stop_process(proc)


def test_a_chat_interface_with_i18n_labels_is_callable(apps: dict[str, str], tmp_path: Path) -> None:
    info = httpx.get(f"{apps['chat']}/gradio_api/info", timeout=30).json()
    label = info["named_endpoints"]["/chat"]["parameters"][1]["label"]
    assert label == {"key": "system_prompt", "_type": "translation_metadata"}  # what gradio really sends
    with Client(token=False, out_dir=tmp_path) as c:
        ep = c.endpoint(apps["chat"], "/chat")
        assert [p.label for p in ep.params][1] == "system_prompt"  # the key is shown
        assert c.call(apps["chat"], "/chat", {"message": "hi", "system": "pirate"}, timeout=60) == [
            "[pirate] you said: hi"
        ]


def test_a_localised_error_shows_its_key(apps: dict[str, str], tmp_path: Path) -> None:
    # gradio's /call route cannot encode an i18n gr.Error; /chat keeps the chat history in gr.State, so
    # the first call is not run again, and the next one goes by the queue route, which sends the error.
    with Client(token=False, out_dir=tmp_path) as c:
        with pytest.raises(UnsendableResult) as first:
            c.call(apps["chat"], "/chat", {"message": "x" * 201}, timeout=60)
        assert "I18nData is not JSON serializable" in one_line(first.value) and "gr.State" in str(first.value)
        with pytest.raises(SpaceError) as err:
            c.call(apps["chat"], "/chat", {"message": "y" * 201}, timeout=60)
        msg = one_line(err.value)
        assert msg.endswith("failed: too_long") and "__i18n__" not in msg, msg
        assert c.call(apps["chat"], "/chat", {"message": "hi"}, timeout=60) == ["[assistant] you said: hi"]


def test_i18n_labels_are_read_everywhere_gradio_sends_them(apps: dict[str, str]) -> None:
    # With every endpoint listed, gradio's own chatbot label is an i18n object in inputs and outputs.
    info = httpx.get(f"{apps['chat']}/gradio_api/info?all_endpoints=true", timeout=30).json()
    schema = ApiSchema.from_info(info)
    assert len(schema.endpoints) == len(info["named_endpoints"]) > 10 and not schema.broken
    labels = {r.label for ep in schema.endpoints.values() for r in (*ep.params, *ep.returns)}
    assert "chat_interface.chatbot" in labels


def runs(c: Client, url: str, name: str) -> int:
    return c.call(url, "/runs", {"name": name}, session="count", timeout=60)[0]


def test_a_table_of_timestamps_comes_by_the_queue_route_and_the_next_call_goes_there_directly(
    apps: dict[str, str], tmp_path: Path
) -> None:
    url = apps["tables"]
    with Client(token=False, out_dir=tmp_path) as c:
        before = runs(c, url, "prices")
        table = c.call(url, "/prices", {"days": 2}, timeout=60)[0]
        assert table["headers"] == ["date", "price"]
        assert table["data"] == [["2024-01-01 00:00:00", 100], ["2024-01-02 00:00:00", 101]]
        assert runs(c, url, "prices") == before + 2  # /call ran it and could not send it; the queue route did
        assert c.call(url, "/prices", {"days": 1}, timeout=60)[0]["data"] == [["2024-01-01 00:00:00", 100]]
        assert runs(c, url, "prices") == before + 3  # once: straight by the queue route
        assert c.records[-2].status == "complete" and c.records[-2].error is None


def test_numpy_scalars_and_pil_images_come_as_gradio_client_gets_them(apps: dict[str, str], tmp_path: Path) -> None:
    with Client(token=False, out_dir=tmp_path) as c:
        assert c.call(apps["tables"], "/count", {"text": "one two three"}, timeout=60) == ["3"]
        table = c.call(apps["tables"], "/thumbs", {"n": 2}, timeout=60)[0]
        assert table["headers"] == ["thumb"] and len(table["data"]) == 2
        assert all(str(cell).startswith("<PIL.Image.Image image mode=RGB size=2x2") for [cell] in table["data"])


def test_a_streamed_table_is_rebuilt_from_the_queue_routes_diffs(apps: dict[str, str], tmp_path: Path) -> None:
    partials: list[list] = []
    with Client(token=False, out_dir=tmp_path) as c:
        seen = lambda u: partials.append(u.partial) if u.state == "generating" and u.partial else None
        table = c.call(apps["tables"], "/ticker", {"days": 4}, timeout=60, on_update=seen)[0]
        assert [row[1] for row in table["data"]] == [100, 101, 102, 103]
        assert table["data"][3][0] == "2024-01-04 00:00:00"
        # The diffs after the first yield were applied: every partial is a whole table, one row longer.
        sizes = [len(p[0]["data"]) for p in partials]
        assert sizes == [1, 2, 3, 4] and all(p[0]["headers"] == ["date", "price"] for p in partials)


def test_a_call_that_changes_state_is_not_run_twice_but_its_next_call_works(
    apps: dict[str, str], tmp_path: Path
) -> None:
    url = apps["tables"]
    with Client(token=False, out_dir=tmp_path) as c:
        before = runs(c, url, "log_price")
        with pytest.raises(UnsendableResult) as err:
            c.call(url, "/log_price", {"price": 101.5}, session="s", timeout=60)
        msg = one_line(err.value)
        assert "Timestamp is not JSON serializable" in msg and "gr.State" in msg and "retry" not in msg
        assert isinstance(err.value, SpaceError) and not err.value.retryable
        assert c.records[-1].error["error"] == "unsendable_result"
        assert runs(c, url, "log_price") == before + 1  # not run again: the session's State changed once
        log = c.call(url, "/log_price", {"price": 102}, session="s", timeout=60)[0]
        assert [row[1] for row in log["data"]] == [101.5, 102.0]  # the State holds both prices, once each


# --------------------------------------------------------------------------- the queue route, message by message

CONFIG = {
    "components": [{"id": 1, "type": "textbox"}],
    "dependencies": [{"id": 7, "api_name": "x", "inputs": [], "outputs": [1]}],
}


def queue_stream(*messages: dict) -> Reply:
    body = "".join(f"data: {json.dumps(m)}\n\n" for m in messages)
    return Reply(200, {"content-type": "text/event-stream; charset=utf-8"}, body)


def test_the_queue_route_reads_only_its_own_job_and_applies_diffs(scripted: ScriptedServer, tmp_path: Path) -> None:
    scripted.add("/gradio_api/info", Reply(200, body=INFO))
    scripted.add("/config", Reply(200, body=CONFIG))
    scripted.add("/gradio_api/call/x", Reply(200, body={"event_id": "e1"}))
    scripted.add("/gradio_api/call/x/e1", sse(("error", "Object of type Timestamp is not JSON serializable")))
    scripted.add("/gradio_api/queue/join", Reply(200, body={"event_id": "q1"}))
    ok = {"success": True, "event_id": "q1"}
    scripted.add(
        "/gradio_api/queue/data",
        queue_stream(
            {"msg": "estimation", "event_id": "q1", "rank": 0, "queue_size": 1, "rank_eta": 0.5},
            {"msg": "process_completed", "event_id": "other", "output": {"data": ["not ours"]}, "success": True},
            {"msg": "process_starts", "event_id": "q1"},
            {"msg": "process_generating", "output": {"data": ["a"]}, **ok},
            {"msg": "process_generating", "output": {"data": [[["append", [], "b"]]]}, **ok},
            {"msg": "process_completed", "output": {"data": ["ab"]}, **ok},
            {"msg": "close_stream", "event_id": None},
        ),
    )
    updates: list = []
    with Client(token=False, out_dir=tmp_path, retry=FAST) as c:
        assert c.call(scripted.url, "x", session="s", timeout=30, on_update=updates.append) == ["ab"]
        assert c.records[-1].event_id == "q1" and c.records[-1].status == "complete"
    [join] = posts(scripted, "/gradio_api/queue/join")
    body = json.loads(join.body)
    [call] = posts(scripted, "/gradio_api/call/x")
    assert (
        body["fn_index"] == 7 and body["data"] == [] and body["session_hash"] == json.loads(call.body)["session_hash"]
    )
    [read] = [r for r in scripted.requests if r.path.startswith("/gradio_api/queue/data")]
    assert read.path == f"/gradio_api/queue/data?session_hash={body['session_hash']}"
    assert [u.partial for u in updates if u.state == "generating"] == [["a"], ["ab"]]  # the diff applied
    assert "running" in [u.state for u in updates]  # told by process_starts


@pytest.mark.parametrize(
    "end, kind",
    [
        (
            {"msg": "process_completed", "output": {"error": "bad row", "title": "Error"}, "success": False},
            "space_error",
        ),
        ({"msg": "unexpected_error", "message": "Server stopped unexpectedly."}, "connection_lost"),
        ({"msg": "process_generating", "output": {"data": [[["append", [0, 5], "b"]]]}, "success": True}, "bad_answer"),
    ],
    ids=["app-error", "server-error", "diff-that-does-not-fit"],
)
def test_a_queue_route_failure_is_one_line(scripted: ScriptedServer, tmp_path: Path, end: dict, kind: str) -> None:
    scripted.add("/gradio_api/info", Reply(200, body=INFO))
    scripted.add("/config", Reply(200, body=CONFIG))
    scripted.add("/gradio_api/call/x", Reply(200, body={"event_id": "e1"}))
    scripted.add("/gradio_api/call/x/e1", sse(("error", "Object of type int64 is not JSON serializable")))
    scripted.add("/gradio_api/queue/join", Reply(200, body={"event_id": "q1"}))
    first = {"msg": "process_generating", "event_id": "q1", "output": {"data": ["a"]}, "success": True}
    scripted.add("/gradio_api/queue/data", queue_stream(first, {**end, "event_id": "q1"}))
    with Client(token=False, out_dir=tmp_path, retry=FAST) as c:
        with pytest.raises(SpacechainError) as err:
            c.call(scripted.url, "x", timeout=30)
        one_line(err.value)
        assert err.value.to_dict()["error"] == kind
