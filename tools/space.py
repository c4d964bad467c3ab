"""A resolved Space and what its app says of itself: sessions, uploads, and the /config facts the API
schema leaves out (which inputs and outputs are gr.State, which dropdowns take any value, the app's
identity for cache keys)."""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from .contract import Contract
from .hub import SpaceStatus
from .limits import too_deep
from .schema import ApiSchema, Endpoint

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

    @property
    def api_root(self) -> str:
        url = self.contract.schema_url.split("?", 1)[0]
        return url[: -len("/info")] if url.endswith("/info") else f"{self.contract.host}/gradio_api"

    def session(self, name: str | None) -> Session:
        key = name or "default"
        if key not in self.sessions:
            self.sessions[key] = Session(key, secrets.token_hex(6))
        return self.sessions[key]


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
