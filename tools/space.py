"""A resolved Space and what its app says of itself: sessions, uploads, and the /config facts the API
schema leaves out (which inputs and outputs are gr.State, which dropdowns take any value, the app's
identity for cache keys), each read once and kept for the client's life."""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .contract import Contract, contract_from_host
from .errors import BadAnswer, NotGradioSpace, SpacechainError
from .hub import SpaceStatus
from .limits import too_deep
from .schema import ApiSchema, Endpoint

if TYPE_CHECKING:
    from .http import Http

__all__ = ["AppConfig", "Session", "Space"]


@dataclass
class Session:
    """A Gradio session (`session_hash`). One call at a time: two in flight corrupt each other's streams."""

    name: str
    hash: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Cache key of the call that last wrote this session's gr.State, and — when that call was served
    # from the cache, so the server never saw it — how to replay it before a call that reads the State.
    state_key: str | None = None
    pending_state: tuple[str, Any] | None = None
    busy: str | None = None  # event id of the call holding the session


class AppConfig:
    """An app's `GET /config`, kept only where well formed (an odd answer turns features off, never fails)."""

    def __init__(self, raw: Any = None):
        self.data = _clean(raw)
        self._comps = {c.get("id"): c for c in self.data.get("components", [])}

    def _dependency(self, api_name: str) -> dict | None:
        return next((d for d in self.data.get("dependencies", []) if d.get("api_name") == api_name), None)

    def _hidden(self, comp_id: Any) -> bool:
        comp = self._comps.get(comp_id, {})
        return comp.get("type") == "state" or bool(comp.get("skip_api"))

    def state_slots(self, api_name: str) -> tuple[list[bool], list[bool]] | None:
        """Which inputs and outputs of an endpoint are gr.State (left out of /info); None if unknown."""
        dep = self._dependency(api_name)
        if dep is None:
            return None
        return [self._hidden(i) for i in dep.get("inputs", [])], [self._hidden(i) for i in dep.get("outputs", [])]

    def fn_index(self, api_name: str) -> int | None:
        """The endpoint's dependency id, which `/cancel` and the queue route name it by; None if unknown."""
        dep = self._dependency(api_name)
        fn = dep.get("id") if dep else None
        return fn if isinstance(fn, int) and not isinstance(fn, bool) else None

    def custom_values(self, ep: Endpoint) -> frozenset[str]:
        """Dropdowns of `ep` that take values outside their choices (allow_custom_value)."""
        dep = self._dependency(ep.api_name)
        if dep is None:
            return frozenset()
        shown = [self._comps.get(i, {}) for i in dep.get("inputs", []) if not self._hidden(i)]
        return frozenset(
            p.name
            for p, c in zip(ep.params, shown)
            if isinstance(c.get("props"), dict) and c["props"].get("allow_custom_value")
        )

    def identity(self, schema: ApiSchema | None) -> str:
        """A hash of the app (its config less what changes per launch or request, and its API)."""
        cfg = {k: v for k, v in self.data.items() if k not in ("app_id", "root", "username")}
        eps = [asdict(e) for e in schema.endpoints.values()] if schema else []
        return "app-" + hashlib.sha256(json.dumps([cfg, eps], sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class Space:
    """A resolved Space: its contract, schema, sessions and upload cache (kept for the client's life)."""

    label: str
    contract: Contract
    status: SpaceStatus | None = None
    _schema: ApiSchema | None = None
    sessions: dict[str, Session] = field(default_factory=dict)
    config: AppConfig | None = None  # GET /config, fetched only when needed
    uploaded: dict[str, dict] = field(default_factory=dict)
    server_paths: set[str] = field(default_factory=set)
    queue_routed: set[str] = field(default_factory=set)  # endpoints whose results /call cannot encode
    _identity: str | None = None

    @property
    def api_root(self) -> str:
        url = self.contract.schema_url.split("?", 1)[0]
        return url[: -len("/info")] if url.endswith("/info") else f"{self.contract.host}/gradio_api"

    def session(self, name: str | None) -> Session:
        key = name or "default"
        if key not in self.sessions:
            self.sessions[key] = Session(key, secrets.token_hex(6))
        return self.sessions[key]

    def schema(self, http: Http) -> ApiSchema:
        """The app's API (`/info`), read once; a gradio 4.x app (no /gradio_api prefix) is found too."""
        if self._schema is None:
            resp = self._get_info(http, self.contract.schema_url)
            if resp.status_code == 404 and self.contract.source != "agents.md":
                root = contract_from_host(self.contract.space, self.contract.host, api="")
                legacy = replace(
                    self.contract,
                    schema_url=root.schema_url,
                    poll_url=root.poll_url,
                    call_url=root.call_url,
                    upload_url=root.upload_url,
                )
                resp = self._get_info(http, legacy.schema_url)
                if resp.is_success:
                    self.contract = legacy
            self._schema = self._parse_info(resp)
        return self._schema

    def _get_info(self, http: Http, url: str) -> Any:
        ok = lambda r: r.is_success or r.status_code == 404
        return http.request("GET", url, what=f"Reading the API of {self.label}", ok=ok)

    def _parse_info(self, resp: Any) -> ApiSchema:
        where = self.contract.schema_url
        if resp.status_code == 404:
            raise NotGradioSpace(
                f"{self.label} serves no Gradio API at {where}; is it a Gradio app (gradio 4.20 or newer)?"
            )
        try:
            info = resp.json()
        except (ValueError, RecursionError):
            raise BadAnswer(
                f"{self.label} did not return a Gradio API schema at {where}; is it a Gradio app?"
            ) from None
        try:
            return ApiSchema.from_info(info)
        except BadAnswer as exc:
            raise BadAnswer(f"{self.label}: {exc} (from {where}); is it a Gradio app?") from None

    def app_config(self, http: Http) -> AppConfig:
        """`GET /config`, read only when a feature needs it; older or proxied apps work without it."""
        if self.config is None:
            try:
                raw = http.request("GET", f"{self.contract.host}/config", what=f"Reading {self.label} config").json()
            except (SpacechainError, ValueError, RecursionError):
                raw = None
            self.config = AppConfig(raw)
        return self.config

    def identity(self, http: Http) -> str:
        """What a cache key holds for the app's revision: the Hub's commit, else a hash of the app served
        (so another app served later at the same URL never gets this one's outputs)."""
        if self.status and self.status.sha:
            return self.status.sha
        if self._identity is None:
            self._identity = self.app_config(http).identity(self._schema)
        return self._identity


def _clean(cfg: Any) -> dict:
    """A /config answer with the parts AppConfig reads kept only when well formed."""
    if not isinstance(cfg, dict) or too_deep(cfg):
        return {}

    def is_id(i: Any) -> bool:
        return isinstance(i, (int, str)) and not isinstance(i, bool)

    def ids(dep: dict, key: str) -> bool:
        value = dep.get(key, [])
        return isinstance(value, list) and all(is_id(i) for i in value)

    comps: list = cfg["components"] if isinstance(cfg.get("components"), list) else []
    cfg["components"] = [c for c in comps if isinstance(c, dict) and is_id(c.get("id"))]
    deps: list = cfg["dependencies"] if isinstance(cfg.get("dependencies"), list) else []
    cfg["dependencies"] = [d for d in deps if isinstance(d, dict) and ids(d, "inputs") and ids(d, "outputs")]
    return cfg
