"""The user's ZeroGPU quota, from the Hub: `GET /api/spaces/zero-gpu/quota`, as huggingface_hub 2.x's
`get_zero_gpu_quota` reads it (that function is used when the installed huggingface_hub has it; litellm
pins huggingface_hub below 2, so the same endpoint is read here otherwise)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from .errors import AuthError, SpacechainError

__all__ = ["QuotaUnavailable", "ZeroGpuQuota", "read_quota"]

QUOTA_PATH = "/api/spaces/zero-gpu/quota"


class QuotaUnavailable(SpacechainError):
    """The Hub would not tell this token its quota (no token, or no billing-read permission)."""

    kind = "quota_unavailable"


@dataclass(frozen=True)
class ZeroGpuQuota:
    total_s: float  # the day's quota, GPU-seconds
    remaining_s: float
    resets_at: str | None  # ISO time; None until the quota is first used
    overquota_used_s: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        reset = f", resets at {self.resets_at}" if self.resets_at else " (unused today)"
        return f"ZeroGPU: {self.remaining_s:g} of {self.total_s:g} GPU-seconds left{reset}"


def _iso(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _number(data: dict, *keys: str) -> float:
    for key in keys:
        value = data.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    raise SpacechainError(f"The Hub's ZeroGPU quota answer has no {keys[0]}; spacechain cannot read it.")


_NO_PERMISSION = (
    'this token may not read the ZeroGPU quota: a fine-grained token needs the "Read billing usage" '
    "permission (Settings > Access Tokens), an OAuth app the read-billing scope"
)


def read_quota(hub) -> ZeroGpuQuota:
    """The quota of the token `hub` (a tools.hub.Hub) uses. QuotaUnavailable when it cannot be read."""
    if not hub.http.policy.token:
        raise QuotaUnavailable("No HF token, so no ZeroGPU quota to read: set HF_TOKEN or run `hf auth login`.")
    api = hub._api()
    if hasattr(api, "get_zero_gpu_quota"):  # huggingface_hub >= 2
        try:
            q = api.get_zero_gpu_quota()
        except Exception as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            if status in (401, 403):
                raise QuotaUnavailable(f"The Hub refused the quota request ({status}): {_NO_PERMISSION}.") from None
            raise SpacechainError(f"Reading the ZeroGPU quota failed: {str(exc).splitlines()[0][:200]}") from None
        return ZeroGpuQuota(
            float(q.base), float(q.remaining), _iso(q.resets_at), float(getattr(q, "overquota_used", 0) or 0)
        )
    try:
        resp = hub.http.request("GET", hub.http.hub + QUOTA_PATH, what="Reading the ZeroGPU quota")
        data = resp.json()
    except AuthError as exc:
        raise QuotaUnavailable(f"The Hub refused the quota request: {_NO_PERMISSION}.") from exc
    except ValueError:
        raise SpacechainError("The Hub's ZeroGPU quota answer is not JSON; retry later.") from None
    if not isinstance(data, dict):
        raise SpacechainError("The Hub's ZeroGPU quota answer is not an object; spacechain cannot read it.")
    return ZeroGpuQuota(
        _number(data, "base"),
        _number(data, "current", "remaining"),
        _iso(data.get("resetsAt")),
        float(data.get("overquotaUsed") or 0),
    )
