"""Shapes of real Gradio apps that differ from the simple ones: a gr.ChatInterface whose labels are
i18n objects, and outputs gradio's `/call` route cannot encode (pandas timestamps, numpy scalars, PIL
images in a table). Each against a real app on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import httpx
import pytest
from conftest import launch_apps
from network_support import one_line
from servers import stop_process

from spacechain.tools import ApiSchema, Client, SpaceError, UnsendableResult


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
