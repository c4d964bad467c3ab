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


def test_a_result_the_call_route_cannot_encode_is_the_spaces_error_not_a_lost_connection(
    apps: dict[str, str], tmp_path: Path
) -> None:
    with Client(token=False, out_dir=tmp_path) as c:
        with pytest.raises(UnsendableResult) as err:
            c.call(apps["tables"], "/log_price", {"price": 101.5}, session="s", timeout=60)
        msg = one_line(err.value)
        assert "Timestamp is not JSON serializable" in msg and "retry" not in msg
        assert isinstance(err.value, SpaceError) and not err.value.retryable
        assert c.records[-1].error["error"] == "unsendable_result"
