"""LLM backends behind one small interface: `resolve()` a model option, `check()` it, `load()` it.

- default: HF Inference Providers with the user's HF token (no litellm import);
- `hf:<org/model>`: any model on Inference Providers;
- `<litellm-provider>/<model>` (`anthropic/…`, `openai/…`, `ollama_chat/…`): litellm;
- any id plus `--api-base`: an OpenAI-compatible server through litellm's `openai/<name>`."""

from __future__ import annotations

import os
from dataclasses import dataclass

from spacechain.tools import SpacechainError

DEFAULT_MODEL = "Qwen/Qwen3-Coder-480B-A35B-Instruct"

# litellm's provider prefixes (a subset of litellm.provider_list kept here so choosing a backend
# does not import litellm, which takes ~2 s).
LITELLM_PROVIDERS = frozenset(
    """
openai anthropic azure azure_ai bedrock vertex_ai gemini mistral groq together_ai ollama ollama_chat
huggingface cohere cohere_chat deepseek xai openrouter fireworks_ai perplexity cerebras sambanova nvidia_nim
hosted_vllm vllm lm_studio deepinfra replicate watsonx databricks cloudflare ai21 novita nebius github
litellm_proxy custom_openai llamafile lambda_ai moonshot dashscope text-completion-openai friendliai
""".split()
)
_LOCAL_PROVIDERS = {"ollama", "ollama_chat", "hosted_vllm", "vllm", "lm_studio", "llamafile"}


class BackendError(SpacechainError):
    kind = "model_backend"


@dataclass(frozen=True)
class ModelSpec:
    backend: str  # "hf" | "litellm"
    model_id: str
    api_base: str | None = None
    api_key: str | None = None

    @property
    def label(self) -> str:
        return self.model_id if self.backend == "litellm" else f"hf:{self.model_id}"


def resolve(model: str | None, api_base: str | None = None, api_key: str | None = None) -> ModelSpec:
    model = (model or os.environ.get("SPACECHAIN_MODEL") or "").strip()
    if not model:
        if api_base:
            raise BackendError("--api-base needs --model, e.g. --model openai/<served-model-name>.")
        return ModelSpec("hf", DEFAULT_MODEL, api_key=api_key)
    if model.startswith("hf:"):
        if api_base:
            # Never send the HF token to another server: a self-hosted model goes through litellm.
            raise BackendError(
                "hf: models run on HF Inference Providers and take no --api-base; for your own "
                "server use --model openai/<served-name> --api-base URL."
            )
        return ModelSpec("hf", model[3:], api_key=api_key)
    prefix = model.split("/", 1)[0] if "/" in model else ""
    if prefix in LITELLM_PROVIDERS:
        return ModelSpec("litellm", model, api_base, api_key)
    if api_base:  # any OpenAI-compatible server
        return ModelSpec("litellm", f"openai/{model}", api_base, api_key)
    if "/" in model:
        return ModelSpec("hf", model, api_key=api_key)
    raise BackendError(
        f"Unknown model {model!r}: use org/model for HF Inference Providers, "
        "provider/model for litellm (e.g. anthropic/claude-sonnet-4-5), or add --api-base."
    )


def is_hf_host(url: str) -> bool:
    """A Hugging Face host (the Hub, Inference Endpoints, the router), where the HF token may go."""
    from urllib.parse import urlsplit

    from spacechain.tools.http import hub_endpoint

    parts, hub = urlsplit(url), urlsplit(hub_endpoint())
    host = (parts.hostname or "").lower()
    if (parts.scheme, parts.netloc.lower()) == (hub.scheme, hub.netloc.lower()):
        return True
    return parts.scheme == "https" and any(
        host == d or host.endswith("." + d) for d in ("huggingface.co", "hf.co", "huggingface.cloud")
    )


def _import_litellm():
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    return litellm


def check(spec: ModelSpec) -> None:
    """Fail in one line before any Space is called: bad id, missing key, unreachable server."""
    if spec.backend == "hf":
        from spacechain.tools.http import find_token

        if not (spec.api_key or find_token()):
            raise BackendError(
                "No HF token for HF Inference Providers: set HF_TOKEN or run `hf auth login`, "
                "or choose another backend with --model."
            )
        return
    if _openai_compatible(spec):
        return _reachable(str(spec.api_base))
    litellm = _import_litellm()
    try:
        _, provider, _, _ = litellm.get_llm_provider(model=spec.model_id, api_base=spec.api_base)
    except Exception:
        raise BackendError(
            f"litellm does not know the model {spec.model_id!r}: write provider/model "
            "(see https://docs.litellm.ai/docs/providers)."
        ) from None
    if spec.api_base:
        _reachable(spec.api_base)
    elif provider not in _LOCAL_PROVIDERS and not spec.api_key:
        env = litellm.validate_environment(model=spec.model_id)
        if not env.get("keys_in_environment"):
            keys = ", ".join(env.get("missing_keys") or []) or "the provider's API key"
            raise BackendError(f"No API key for {spec.model_id}: set {keys} or pass --api-key.")


def _reachable(api_base: str) -> None:
    import httpx

    try:
        httpx.get(api_base.rstrip("/") + "/models", timeout=5.0)
    except httpx.HTTPError as exc:
        raise BackendError(
            f"Cannot reach the LLM backend at {api_base} ({exc.__class__.__name__}); start it or fix --api-base."
        ) from None


def _openai_compatible(spec: ModelSpec) -> bool:
    """An `openai/<name>` id at an --api-base: spoken to with plain httpx, without importing litellm (~4 s)."""
    return spec.backend == "litellm" and bool(spec.api_base) and spec.model_id.startswith("openai/")


def _openai_model(spec: ModelSpec, key: str | None):
    """A smolagents Model for an OpenAI-compatible server; it sends what litellm's `openai/` route sends."""
    import contextlib
    import json
    import time

    import httpx
    from smolagents.models import ChatMessage, ChatMessageStreamDelta, Model
    from smolagents.monitoring import TokenUsage

    url = str(spec.api_base).rstrip("/") + "/chat/completions"
    limit = 16 * 1024 * 1024  # a reply larger than this is no chat completion

    class OpenAICompatibleModel(Model):
        def __init__(self) -> None:
            super().__init__(model_id=spec.model_id)
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            transport = httpx.HTTPTransport(retries=2)  # connection errors only, quickly
            self.client = httpx.Client(headers=headers, timeout=120, transport=transport, trust_env=False)

        def _body(self, messages, stop_sequences, response_format, tools_to_call_from, **kwargs) -> dict:
            body = self._prepare_completion_kwargs(
                messages=messages,
                stop_sequences=stop_sequences,
                response_format=response_format,
                tools_to_call_from=tools_to_call_from,
                model=spec.model_id.split("/", 1)[1],
                convert_images_to_image_urls=True,
                **kwargs,
            )
            return json.loads(json.dumps(body, default=str))

        def _open(self, body: dict) -> httpx.Response:
            """The response, streaming; 429 and 5xx are retried twice, quickly (as the openai client does)."""
            for attempt in range(3):
                r = self.client.send(self.client.build_request("POST", url, json=body), stream=True)
                if r.status_code < 400:
                    return r
                text = r.read()[:300].decode("utf-8", "replace").replace("\n", " ")
                r.close()
                if r.status_code != 429 and r.status_code < 500 or attempt == 2:
                    raise BackendError(f"The LLM server at {spec.api_base} answered {r.status_code}: {text}")
                time.sleep(0.5 * (attempt + 1))
            raise AssertionError("unreachable")

        def generate(self, messages, stop_sequences=None, response_format=None, tools_to_call_from=None, **kwargs):
            body = self._body(messages, stop_sequences, response_format, tools_to_call_from, **kwargs)
            with contextlib.closing(self._open(body)) as r:
                data = b""
                for chunk in r.iter_bytes():
                    data += chunk
                    if len(data) > limit:
                        raise BackendError(f"The LLM server at {spec.api_base} sent a reply over 16 MB.")
            reply = json.loads(data)
            usage = reply.get("usage") or {}
            message = reply["choices"][0]["message"]
            return ChatMessage.from_dict(
                {k: message.get(k) for k in ("role", "content", "tool_calls")},
                raw=reply,
                token_usage=TokenUsage(usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0),
            )

        def generate_stream(
            self, messages, stop_sequences=None, response_format=None, tools_to_call_from=None, **kwargs
        ):
            body = self._body(messages, stop_sequences, response_format, tools_to_call_from, **kwargs)
            body.update(stream=True, stream_options={"include_usage": True})
            with contextlib.closing(self._open(body)) as r:
                size = 0
                for line in r.iter_lines():
                    size += len(line)
                    if size > limit:
                        raise BackendError(f"The LLM server at {spec.api_base} sent a reply over 16 MB.")
                    if not line.startswith("data:") or line[5:].strip() == "[DONE]":
                        continue
                    event = json.loads(line[5:])
                    if event.get("usage"):
                        u = event["usage"]
                        yield ChatMessageStreamDelta(
                            content="",
                            token_usage=TokenUsage(u.get("prompt_tokens") or 0, u.get("completion_tokens") or 0),
                        )
                    for choice in event.get("choices") or []:
                        if (choice.get("delta") or {}).get("content"):
                            yield ChatMessageStreamDelta(content=choice["delta"]["content"])

    return OpenAICompatibleModel()


def load(spec: ModelSpec):
    """A smolagents Model. Retries: a couple of quick ones in the client, none of smolagents' 2-4 min waits."""
    if spec.backend == "hf":
        from smolagents import InferenceClientModel

        return InferenceClientModel(model_id=spec.model_id, token=spec.api_key, timeout=120, retry=False)
    key = spec.api_key
    if spec.api_base and not key and not is_hf_host(spec.api_base):
        # litellm reads HF_TOKEN (and other providers' keys) from the environment by itself and would
        # send it to this server. An explicit key stops that; local servers usually ignore it.
        key = "sk-no-key"
    if _openai_compatible(spec):
        return _openai_model(spec, key)
    from smolagents import LiteLLMModel

    _import_litellm()
    # max_retries: the provider client's own retries (429, 5xx, connection). Not num_retries, whose
    # wrapper needs `tenacity` (not installed) and then hides every backend error behind an ImportError.
    return LiteLLMModel(
        model_id=spec.model_id, api_base=spec.api_base, api_key=key, retry=False, max_retries=2, timeout=120
    )
