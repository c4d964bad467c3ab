"""The Hub side: agents.md contracts, space info (host, sdk, runtime stage) and Space search."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import httpx

from .contract import Contract, contract_from_host, parse_agents_md
from .errors import AuthError, HTTPError, NotGradioSpace, SpacechainError, SpaceNotFound
from .http import Http
from .refs import subdomain_host

__all__ = ["Hub", "SearchHit", "SpaceStatus"]

AGENTS_MD_BYTES = 1 << 20  # a contract is a few kB; more is not one


@dataclass(frozen=True)
class SpaceStatus:
    space: str
    sdk: str | None
    stage: str | None
    hardware: str | None
    host: str | None
    sha: str | None
    title: str
    description: str
    likes: int
    private: bool
    duplicated_from: str | None = None  # the Space this one was duplicated from (its card says so)

    def hit(self) -> SearchHit:
        return SearchHit(
            self.space,
            self.title,
            self.description,
            self.likes,
            self.stage,
            self.hardware,
            self.sdk,
            duplicated_from=self.duplicated_from,
        )


@dataclass(frozen=True)
class SearchHit:
    id: str
    title: str
    description: str
    likes: int
    stage: str | None
    hardware: str | None
    sdk: str | None = None
    category: str | None = None
    score: float | None = None
    duplicated_from: str | None = None
    health: dict | None = None  # this machine's record of the Space (tools.health), set by Client.search

    def to_dict(self) -> dict:
        return asdict(self)


class Hub:
    """Reads from HF_ENDPOINT (the real Hub or any stand-in speaking its API)."""

    def __init__(self, http: Http):
        self.http = http

    def _api(self):
        from huggingface_hub import HfApi  # deferred: keeps `--help` and pure-URL calls fast

        return HfApi(endpoint=self.http.hub, token=self.http.policy.token or False)

    def agents_md(self, space_id: str) -> Contract | None:
        """The parsed contract, or None when the Hub serves no agents.md for this Space."""
        url = f"{self.http.hub}/spaces/{space_id}/agents.md"
        resp = self.http.request(
            "GET",
            url,
            what=f"Reading agents.md of {space_id}",
            max_bytes=AGENTS_MD_BYTES,
            ok=lambda r: r.is_success or r.status_code in (404, 401, 403),
        )
        if resp.status_code != 200:
            return None
        contract = parse_agents_md(resp.text, space_id)
        self.http.policy.trust_space_host(contract.host)
        return contract

    def status(self, space_id: str) -> SpaceStatus:
        from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

        try:
            info = self._api().space_info(space_id)
        except RepositoryNotFoundError:
            raise SpaceNotFound(
                f"Space {space_id} was not found on {self.http.hub}: check the id "
                "(owner/name), or log in if it is private."
            ) from None
        except GatedRepoError:
            raise AuthError(f"Space {space_id} is gated: accept its conditions on the Hub first.") from None
        except HfHubHTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            raise HTTPError(f"The Hub failed to describe {space_id} (HTTP {status}); retry later.", status) from None
        except (OSError, httpx.HTTPError) as exc:  # connection errors from the Hub client
            raise self._unreachable(exc) from None
        card = info.card_data.to_dict() if info.card_data is not None else {}
        stage, hardware = _runtime(info)
        return SpaceStatus(
            space=space_id,
            sdk=info.sdk or card.get("sdk"),
            stage=stage,
            hardware=hardware,
            host=info.host,
            sha=info.sha,
            title=card.get("title") or space_id,
            description=card.get("short_description") or "",
            likes=info.likes or 0,
            private=bool(info.private),
            duplicated_from=_origin(card),
        )

    def _unreachable(self, exc: Exception) -> SpacechainError:
        return SpacechainError(
            f"Cannot reach the Hub at {self.http.hub} ({exc.__class__.__name__}); check your network or HF_ENDPOINT."
        )

    def contract_from_status(self, st: SpaceStatus) -> Contract:
        if st.sdk and st.sdk != "gradio":
            raise NotGradioSpace(
                f"Space {st.space} uses the {st.sdk} SDK, not Gradio, so it has no Gradio API; pick a Gradio Space."
            )
        host = st.host or subdomain_host(st.space)
        self.http.policy.trust_space_host(host)
        return contract_from_host(st.space, host, title=st.description or st.title)

    def search(self, query: str, limit: int = 8, include_non_running: bool = False) -> list[SearchHit]:
        """Semantic search first; plain search when the semantic endpoint is unavailable."""
        from huggingface_hub.errors import HfHubHTTPError

        api = self._api()
        try:
            raw = list(api.search_spaces(query, sdk="gradio", include_non_running=include_non_running))
            hits = [_hit_from_search(r) for r in raw]
        except (HfHubHTTPError, ValueError, KeyError):
            hits = self._plain_search(api, query, limit)
        except (OSError, httpx.HTTPError) as exc:
            raise self._unreachable(exc) from None
        hits = [h for h in hits if h.sdk in (None, "gradio")]
        if not include_non_running:
            hits = [h for h in hits if h.stage in (None, "RUNNING", "RUNNING_BUILDING", "RUNNING_APP_STARTING")]
        # Stable sort keeps the Hub's relevance order within each group.
        hits.sort(key=lambda h: 0 if (h.stage or "").startswith("RUNNING") else 1)
        return hits[:limit]

    def relatives(self, st: SpaceStatus, limit: int = 24, titled: int = 8) -> list[SearchHit]:
        """Spaces that may be copies of `st`, each with its own `duplicated_from`: those whose id holds its
        name or its origin's name (duplicates keep the name), its origin, and up to `titled` more that the
        semantic search finds for its title (a renamed copy). `st` itself is left out."""
        from huggingface_hub.errors import HfHubHTTPError

        api = self._api()
        names = {st.space.split("/")[-1]} | ({st.duplicated_from.split("/")[-1]} if st.duplicated_from else set())
        seen: dict[str, SearchHit] = {}
        try:
            for name in sorted(names):
                for info in api.list_spaces(
                    search=name, sort="likes", limit=limit, expand=["cardData", "likes", "runtime", "sdk"]
                ):
                    seen.setdefault(info.id, _hit_from_info(info))
            try:
                found = api.search_spaces(st.title, sdk="gradio", include_non_running=True) if st.title else []
                more = [r.id for r in found if r.id not in seen and r.id != st.space][:titled]
            except (HfHubHTTPError, ValueError, KeyError):  # no semantic search here: the names are enough
                more = []
        except HfHubHTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            raise HTTPError(f"Hub search failed (HTTP {status}); retry later.", status) from None
        except (OSError, httpx.HTTPError) as exc:
            raise self._unreachable(exc) from None
        if st.duplicated_from and st.duplicated_from not in seen:
            more.append(st.duplicated_from)
        for space_id in more:  # a search result has no card: its own info says where it came from
            try:
                seen[space_id] = self.status(space_id).hit()
            except SpacechainError:
                continue
        seen.pop(st.space, None)
        return [h for h in seen.values() if h.sdk in (None, "gradio")]

    def zero_gpu_quota(self):
        """The token's ZeroGPU quota (tools.quota.ZeroGpuQuota); QuotaUnavailable when it cannot be read."""
        from .quota import read_quota

        return read_quota(self)

    def _plain_search(self, api: Any, query: str, limit: int) -> list[SearchHit]:
        from huggingface_hub.errors import HfHubHTTPError

        words = [w for w in query.split() if w]
        seen: dict[str, SearchHit] = {}
        # The plain endpoint matches a substring of the id, so a multi-word goal is split in words.
        for term in [query] + (words if len(words) > 1 else []):
            try:
                found = api.list_spaces(
                    search=term,
                    filter="gradio",
                    sort="likes",
                    limit=limit * 2,
                    expand=["cardData", "likes", "runtime", "sdk", "tags"],
                )
                for info in found:
                    seen.setdefault(info.id, _hit_from_info(info))
            except HfHubHTTPError as exc:
                status = exc.response.status_code if exc.response is not None else 0
                raise HTTPError(f"Hub search failed (HTTP {status}); retry later.", status) from None
            if len(seen) >= limit:
                break
        return list(seen.values())


def _runtime(info: Any) -> tuple[str | None, str | None]:
    """(stage, hardware) of a Hub answer's runtime: what runs now, else what was asked for."""
    rt = getattr(info, "runtime", None)
    return (rt.stage, rt.hardware or rt.requested_hardware) if rt else (None, None)


def _hit_from_search(r: Any) -> SearchHit:
    stage, hardware = _runtime(r)
    return SearchHit(
        id=r.id,
        title=r.title or r.id,
        description=r.ai_short_description or "",
        likes=r.likes or 0,
        stage=stage,
        hardware=hardware,
        sdk=r.sdk,
        category=r.ai_category,
        score=r.semantic_relevancy_score,
    )


def _hit_from_info(info: Any) -> SearchHit:
    card = info.card_data.to_dict() if info.card_data is not None else {}
    stage, hardware = _runtime(info)
    return SearchHit(
        id=info.id,
        title=card.get("title") or info.id,
        description=card.get("short_description") or "",
        likes=info.likes or 0,
        stage=stage,
        hardware=hardware,
        sdk=info.sdk or card.get("sdk"),
        duplicated_from=_origin(card),
    )


def _origin(card: dict) -> str | None:
    """`duplicated_from` of a card: `owner/name` (the Hub writes it when a Space is duplicated)."""
    value = card.get("duplicated_from")
    return value if isinstance(value, str) and value.count("/") == 1 and len(value) <= 200 else None
