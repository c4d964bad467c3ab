"""Drive any Gradio Space over plain HTTP from the Hub's agents.md contract. Knows nothing of LLMs."""

from .client import Client, Space
from .contract import Contract, parse_agents_md
from .errors import *  # noqa: F401,F403 - the hierarchy is part of the public surface
from .hub import SearchHit
from .job import CallRecord, Job, JobUpdate
from .refs import SpaceRef, parse_ref
from .schema import ApiSchema, Endpoint, Param

__all__ = ["Client", "Space", "Contract", "parse_agents_md", "SearchHit", "CallRecord", "Job", "JobUpdate",
           "SpaceRef", "parse_ref", "ApiSchema", "Endpoint", "Param"]
