"""One exception hierarchy. Every message is a single line a person or an LLM can act on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from .job import CallRecord

__all__ = [
    "AuthError",
    "BadAnswer",
    "CallTimeout",
    "Cancelled",
    "ConnectionLost",
    "EndpointNotFound",
    "GpuUnavailable",
    "HTTPError",
    "InvalidInputs",
    "InvalidReference",
    "NotGradioSpace",
    "QueueFull",
    "QuotaExceeded",
    "RUNNING_STAGES",
    "RateLimited",
    "SessionBusy",
    "SpaceError",
    "SpaceNotFound",
    "SpaceNotRunning",
    "SpacechainError",
    "TooLarge",
    "UnsafeURL",
    "UnsendableResult",
    "UploadRefused",
    "WAKING_STAGES",
    "space_not_running",
]


class SpacechainError(Exception):
    """Base class. `kind` is a stable machine-readable tag (used in JSON output and manifests);
    `fields` names the data an error carries besides its message, which `to_dict()` includes."""

    kind = "error"
    fields: ClassVar[tuple[str, ...]] = ()
    #: Whether trying the same request again later can succeed.
    retryable = False
    #: The failed call, when the error happened during one (set by the client).
    record: CallRecord | None = None

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))

    @property
    def message(self) -> str:
        return str(self)

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name, None) for name in self.fields}
        return {"error": self.kind, "message": str(self), "retryable": self.retryable, **data}


class InvalidReference(SpacechainError):
    kind = "invalid_reference"


class SpaceNotFound(SpacechainError):
    kind = "space_not_found"


class NotGradioSpace(SpacechainError):
    kind = "not_gradio"


class SpaceNotRunning(SpacechainError):
    kind = "space_not_running"
    fields = ("stage",)

    def __init__(self, message: str, stage: str):
        super().__init__(message)
        self.stage = stage
        self.retryable = stage in WAKING_STAGES


class AuthError(SpacechainError):
    kind = "auth"


class EndpointNotFound(SpacechainError):
    kind = "endpoint_not_found"
    fields = ("available",)

    def __init__(self, message: str, available: list[str] | None = None):
        super().__init__(message)
        self.available = available or []


class InvalidInputs(SpacechainError):
    kind = "invalid_inputs"


class UploadRefused(SpacechainError):
    """A file input the caller may not send (missing, outside the sandbox, too large)."""

    kind = "upload_refused"


class UnsafeURL(UploadRefused):
    """A file URL (input, output or redirect) pointing into the local network."""

    kind = "unsafe_url"


class SpaceError(SpacechainError):
    """The Space's own function failed."""

    kind = "space_error"
    fields: ClassVar[tuple[str, ...]] = ("title", "hidden")

    def __init__(self, message: str, title: str | None = None, hidden: bool = False):
        super().__init__(message)
        self.title = title
        self.hidden = hidden


class QuotaExceeded(SpaceError):
    kind = "quota_exceeded"
    fields = SpaceError.fields + ("requested_s", "left_s", "retry_after_s")

    def __init__(
        self,
        message: str,
        title: str | None = None,
        requested_s: float | None = None,
        left_s: float | None = None,
        retry_after_s: float | None = None,
    ):
        super().__init__(message, title=title)
        self.requested_s, self.left_s, self.retry_after_s = requested_s, left_s, retry_after_s


class GpuUnavailable(SpaceError):
    """ZeroGPU had no GPU free in time: the job was refused, not run, so a new submission is fair (every
    job makes one after a short wait, a bounded number of times, before it fails with this). Not an
    exhausted quota."""

    kind = "gpu_unavailable"
    retryable = True


class UnsendableResult(SpaceError):
    """The Space ran the call but its `/call` route could not encode the result as JSON (a pandas
    Timestamp, a numpy scalar, a PIL image where a table or number goes): the same call fails the same
    way, so it is not retryable there; gradio's queue route (which encodes them as text) may return it."""

    kind = "unsendable_result"

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.detail = detail  # what Python's json said of the value


class QueueFull(SpacechainError):
    kind = "queue_full"
    retryable = True


class RateLimited(SpacechainError):
    kind = "rate_limited"
    fields = ("retry_after_s",)
    retryable = True

    def __init__(self, message: str, retry_after_s: float | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class CallTimeout(SpacechainError):
    kind = "timeout"
    retryable = True


class ConnectionLost(SpacechainError):
    kind = "connection_lost"
    retryable = True


class HTTPError(SpacechainError):
    """An HTTP status we have no better name for."""

    kind = "http_error"
    fields = ("status",)

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status
        self.retryable = status >= 500


class TooLarge(SpacechainError):
    """An answer, a file or a call's downloads passed a size or count limit."""

    kind = "too_large"


class BadAnswer(SpacechainError):
    """A server answered 200 with something of the wrong shape (not JSON, a list for a dict…)."""

    kind = "bad_answer"


# Stages in which a Space comes back by itself (or on the first request).
WAKING_STAGES = frozenset(
    {"SLEEPING", "STOPPED", "BUILDING", "RUNNING_BUILDING", "APP_STARTING", "RUNNING_APP_STARTING"}
)
RUNNING_STAGES = frozenset({"RUNNING", "RUNNING_BUILDING", "RUNNING_APP_STARTING"})

_STAGE_ADVICE = {
    "SLEEPING": "it is asleep; a request wakes it, so retry in a minute or pick another Space",
    "STOPPED": "it is stopped; a request may wake it, so retry in a minute or pick another Space",
    "BUILDING": "it is building; retry in a few minutes or pick another Space",
    "APP_STARTING": "it is starting; retry in a minute",
    "PAUSED": "its owner paused it; pick another Space",
    "BUILD_ERROR": "its build failed; pick another Space",
    "RUNTIME_ERROR": "it crashed at runtime; pick another Space",
    "CONFIG_ERROR": "its configuration is broken; pick another Space",
    "NO_APP_FILE": "it has no app file; pick another Space",
    "DELETING": "it is being deleted; pick another Space",
}


def space_not_running(space: str, stage: str) -> SpaceNotRunning:
    advice = _STAGE_ADVICE.get(stage, "pick another Space or retry later")
    return SpaceNotRunning(f"Space {space} is not running (stage {stage}): {advice}.", stage)


class SessionBusy(SpacechainError):
    """Another call still holds the Gradio session (one call at a time per session)."""

    kind = "session_busy"
    retryable = True


class Cancelled(SpacechainError):
    kind = "cancelled"
