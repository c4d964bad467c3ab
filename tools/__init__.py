"""Drive any Gradio Space over plain HTTP from the Hub's agents.md contract. Knows nothing of LLMs.

The public surface: the client, its records, the fan-out functions, the framework-neutral toolset and
the whole error hierarchy. Everything else is reached through its module."""

from .client import Client, Space
from .contract import Contract, parse_agents_md
from .errors import (
    AuthError,
    BadAnswer,
    CallTimeout,
    Cancelled,
    ConnectionLost,
    EndpointNotFound,
    GpuUnavailable,
    HTTPError,
    InvalidInputs,
    InvalidReference,
    NotGradioSpace,
    QueueFull,
    QuotaExceeded,
    RateLimited,
    SessionBusy,
    SpacechainError,
    SpaceError,
    SpaceNotFound,
    SpaceNotRunning,
    TooLarge,
    UnsafeURL,
    UnsendableResult,
    UploadRefused,
)
from .hub import SearchHit, SpaceStatus
from .job import CallRecord, Job, JobUpdate
from .pipeline import run_batch, run_pipeline
from .plan import PlanProblems
from .quota import QuotaUnavailable, ZeroGpuQuota
from .refs import SpaceRef, parse_ref
from .schema import ApiSchema, Endpoint, Param
from .toolset import TOOLSET, ToolContext, ToolSpec

__all__ = [
    "ApiSchema",
    "AuthError",
    "BadAnswer",
    "CallRecord",
    "CallTimeout",
    "Cancelled",
    "Client",
    "ConnectionLost",
    "Contract",
    "Endpoint",
    "EndpointNotFound",
    "GpuUnavailable",
    "HTTPError",
    "InvalidInputs",
    "InvalidReference",
    "Job",
    "JobUpdate",
    "NotGradioSpace",
    "Param",
    "PlanProblems",
    "QueueFull",
    "QuotaExceeded",
    "QuotaUnavailable",
    "RateLimited",
    "SearchHit",
    "SessionBusy",
    "Space",
    "SpaceError",
    "SpaceNotFound",
    "SpaceNotRunning",
    "SpaceRef",
    "SpaceStatus",
    "SpacechainError",
    "TOOLSET",
    "ToolContext",
    "ToolSpec",
    "TooLarge",
    "UnsafeURL",
    "UnsendableResult",
    "UploadRefused",
    "ZeroGpuQuota",
    "parse_agents_md",
    "parse_ref",
    "run_batch",
    "run_pipeline",
]
