"""Unit tests: Space references (`parse_ref`) and the Hub's agents.md contract (`parse_agents_md`).

The agents.md texts are the ones quoted in shared/reference/gradio-http-protocol.md §9."""

from __future__ import annotations

import pytest

from spacechain.tools import InvalidReference, NotGradioSpace, parse_agents_md, parse_ref
from spacechain.tools.refs import SpaceRef

# --------------------------------------------------------------------------- parse_ref


@pytest.mark.parametrize(
    "text, space_id",
    [
        ("acme/flux-lite", "acme/flux-lite"),
        ("  microsoft/TRELLIS.2 \n", "microsoft/TRELLIS.2"),
        ("black-forest-labs/FLUX.1-schnell", "black-forest-labs/FLUX.1-schnell"),
        ("owner_1/name_2", "owner_1/name_2"),
        ("https://huggingface.co/spaces/owner/name", "owner/name"),
        ("https://huggingface.co/spaces/owner/name/", "owner/name"),
        ("https://huggingface.co/spaces/microsoft/TRELLIS.2/tree/main", "microsoft/TRELLIS.2"),
        ("https://hf.co/spaces/owner/name", "owner/name"),
    ],
)
def test_space_ids(text: str, space_id: str) -> None:
    ref = parse_ref(text)
    assert ref == SpaceRef(space_id=space_id)
    assert ref.base_url is None and ref.label == space_id


@pytest.mark.parametrize(
    "text, base_url",
    [
        ("https://owner-name.hf.space", "https://owner-name.hf.space"),
        ("https://owner-name.hf.space/", "https://owner-name.hf.space"),
        ("https://microsoft-trellis-2.hf.space/gradio_api/info", "https://microsoft-trellis-2.hf.space"),
        ("http://127.0.0.1:7860/", "http://127.0.0.1:7860"),
        ("http://127.0.0.1:7860", "http://127.0.0.1:7860"),
        ("http://host:1234/gradio_api/info", "http://host:1234"),
        ("http://host:1234/gradio_api/call/greet", "http://host:1234"),
        ("http://host:1234/config", "http://host:1234"),
        ("http://host:1234/myapp/gradio_api/info", "http://host:1234/myapp"),
    ],
)
def test_direct_urls(text: str, base_url: str) -> None:
    ref = parse_ref(text)
    assert ref == SpaceRef(base_url=base_url)
    assert ref.space_id is None and ref.label == base_url


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "flux",  # no owner
        "a/b/c",
        "owner/na me",
        "/name",
        "owner/",
        "ftp://host/x",
        "http://",
        "https://huggingface.co/models/owner/name",  # a model page, not a Space
        "https://huggingface.co/spaces/owner",  # no name
        "https://huggingface.co/",
    ],
)
def test_bad_references(text: str) -> None:
    with pytest.raises(InvalidReference) as err:
        parse_ref(text)
    msg = str(err.value)
    assert "\n" not in msg and msg  # one actionable line
    assert err.value.kind == "invalid_reference" and not err.value.retryable


def test_none_is_an_invalid_reference() -> None:
    with pytest.raises(InvalidReference):
        parse_ref(None)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- parse_agents_md

HOST = "https://microsoft-trellis-2.hf.space"

# The current documented format (hub-docs #2524), verbatim.
V2 = f"""To use this application (microsoft/TRELLIS.2: Create 3D model from a single image):
API schema: GET {HOST}/gradio_api/info
Call endpoint: POST {HOST}/gradio_api/call/v2/{{endpoint}} {{"param_name": value, ...}}
Poll result: GET {HOST}/gradio_api/call/{{endpoint}}/{{event_id}}
File inputs: POST {HOST}/gradio_api/upload -F "files=@file.ext", use as: {{"path": "<returned-path>", "meta": {{"_type": "gradio.FileData"}}, "orig_name": "file.ext"}}
Auth: Bearer $HF_TOKEN (https://huggingface.co/settings/tokens)"""  # noqa: E501 - verbatim

# The April 2026 format: four lines after the title, positional body, no File line.
V1 = f"""To use this application (microsoft/TRELLIS.2: Create 3D model from a single image):
API schema: GET {HOST}/gradio_api/info
Call endpoint: POST {HOST}/gradio_api/call/{{endpoint}} {{"data": [...]}}
Poll result: GET {HOST}/gradio_api/call/{{endpoint}}/{{event_id}}
Auth: Bearer $HF_TOKEN"""


def test_v2_format() -> None:
    c = parse_agents_md(V2, "microsoft/TRELLIS.2")
    assert c.space == "microsoft/TRELLIS.2"
    assert c.title == "Create 3D model from a single image"
    assert c.host == HOST
    assert c.schema_url == f"{HOST}/gradio_api/info"
    assert c.call_url == f"{HOST}/gradio_api/call/v2/{{endpoint}}"
    assert c.poll_url == f"{HOST}/gradio_api/call/{{endpoint}}/{{event_id}}"
    assert c.upload_url == f"{HOST}/gradio_api/upload"
    assert c.body_hint == '{"param_name": value, ...}'
    assert c.named_inputs is True
    assert c.auth == "Bearer $HF_TOKEN (https://huggingface.co/settings/tokens)"
    assert c.source == "agents.md" and c.text == V2
    assert c.to_dict()["host"] == HOST


def test_v1_format() -> None:
    c = parse_agents_md(V1, "microsoft/TRELLIS.2")
    assert c.title == "Create 3D model from a single image"
    assert c.host == HOST
    assert c.call_url == f"{HOST}/gradio_api/call/{{endpoint}}"
    assert c.poll_url == f"{HOST}/gradio_api/call/{{endpoint}}/{{event_id}}"
    assert c.body_hint == '{"data": [...]}'
    assert c.named_inputs is False
    # No File inputs line: the upload URL is the standard one on the same host.
    assert c.upload_url == f"{HOST}/gradio_api/upload"
    assert c.auth == "Bearer $HF_TOKEN"


def test_extra_and_reordered_lines() -> None:
    text = """
# Agent instructions

- Auth: Bearer $HF_TOKEN
- Poll result: GET http://127.0.0.1:7860/root/gradio_api/call/{endpoint}/{event_id}
- Rate limits: 60 requests per minute
- To use this application (acme/tool: Make 3D (fast): from images):
- Config (find fn_index): GET http://127.0.0.1:7860/root/config

- API schema: GET http://127.0.0.1:7860/root/gradio_api/info
- Call endpoint: POST http://127.0.0.1:7860/root/gradio_api/call/{endpoint} {"data": [...]}
"""
    c = parse_agents_md(text, "acme/tool")
    assert c.host == "http://127.0.0.1:7860/root"
    assert c.schema_url == "http://127.0.0.1:7860/root/gradio_api/info"
    assert c.poll_url == "http://127.0.0.1:7860/root/gradio_api/call/{endpoint}/{event_id}"
    assert c.call_url == "http://127.0.0.1:7860/root/gradio_api/call/{endpoint}"
    assert c.upload_url == "http://127.0.0.1:7860/root/gradio_api/upload"
    assert c.title == "Make 3D (fast): from images"
    assert c.named_inputs is False


def test_missing_optional_lines_get_defaults() -> None:
    c = parse_agents_md("API schema: GET https://a-b.hf.space/gradio_api/info", "a/b")
    assert c.host == "https://a-b.hf.space"
    assert c.call_url == "https://a-b.hf.space/gradio_api/call/{endpoint}"
    assert c.poll_url == "https://a-b.hf.space/gradio_api/call/{endpoint}/{event_id}"
    assert c.upload_url == "https://a-b.hf.space/gradio_api/upload"
    assert c.title == "" and c.named_inputs is False


@pytest.mark.parametrize(
    "text",
    [
        "",
        "This Space is a static website; it has no API.",
        "To use this application (acme/site: A static gallery):\nAuth: Bearer $HF_TOKEN",
        "API schema:",  # the prefix without a URL
    ],
)
def test_no_api_schema_line_is_not_gradio(text: str) -> None:
    with pytest.raises(NotGradioSpace) as err:
        parse_agents_md(text, "acme/site")
    assert "acme/site" in str(err.value) and "\n" not in str(err.value)
