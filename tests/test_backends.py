"""LLM backends: no backend sends the HF token anywhere but Hugging Face hosts."""

from __future__ import annotations

import pytest
from conftest import TEST_TOKEN
from smolagents import ChatMessage, MessageRole

from spacechain.agent import models


@pytest.mark.parametrize("model_id", ["huggingface/acme/coder", "openai/scripted", "hosted_vllm/coder", "coder"])
def test_the_hf_token_never_goes_to_an_api_base(llm, monkeypatch: pytest.MonkeyPatch, model_id: str):
    monkeypatch.setenv("HF_TOKEN", TEST_TOKEN)
    monkeypatch.setenv("HUGGINGFACE_API_KEY", TEST_TOKEN)
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    stub = llm(["<code>\nfinal_answer('ok')\n</code>"])
    spec = models.resolve(model_id, api_base=stub.url)
    assert spec.backend == "litellm"
    model = models.load(spec)
    try:
        model.generate([ChatMessage(role=MessageRole.USER, content="hi")])
    except Exception:
        pass  # a provider whose wire format the stub does not speak: the headers are what matter
    assert stub.headers, "the backend sent nothing to the server, so the check below would be vacuous"
    for headers in stub.headers:
        assert TEST_TOKEN not in str(headers)


def test_hf_hosts_are_told_apart(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    assert models.is_hf_host("https://router.huggingface.co/v1")
    assert models.is_hf_host("https://x.us-east-1.aws.endpoints.huggingface.cloud/v1")
    assert models.is_hf_host("http://127.0.0.1:9/v1")  # the Hub the user configured
    assert not models.is_hf_host("http://127.0.0.1:8000/v1")
    assert not models.is_hf_host("https://huggingface.co.evil.example/v1")
    assert not models.is_hf_host("http://huggingface.co/v1")  # no token in clear text
