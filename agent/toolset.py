"""The LLM-facing tools. Names and shapes are the product's contract with the model.

Tools return data (the agent's code prints what it needs); expected failures are raised as one-line
errors, which smolagents shows to the model as the step's error so it can switch Spaces."""

from __future__ import annotations

from typing import Any, Callable

from smolagents import Tool
from spacechain.tools import Job, JobUpdate, SpacechainError
from spacechain.tools.pipeline import run_batch, run_pipeline

from .run import Run

# No tool blocks longer than this: smolagents cannot interrupt a step, so every wait is bounded here.
MAX_WAIT_S = 600.0

_SPACE = {"type": "string", "description": "Space id 'owner/name' (or a Space/Gradio URL)"}
_ENDPOINT = {"type": "string", "description": "endpoint name as listed by get_space_api, e.g. '/generate'"}
_INPUTS = {"type": "any", "nullable": True,
           "description": "inputs by parameter name (dict) or position (list); files as local paths or URLs"}
_SESSION = {"type": "string", "nullable": True,
            "description": "optional session name: calls with the same name share the Space's state"}
_CONCURRENCY = {"type": "integer", "nullable": True, "description": "most jobs in flight per Space (default 4)"}


class _RunTool(Tool):
    skip_forward_signature_validation = False

    def __init__(self, run: Run, on_call: Callable[[str], Callable[[JobUpdate], None]] | None = None):
        super().__init__()
        self.run = run
        self.on_call = on_call

    def _submit(self, space: str, endpoint: str, inputs: Any, session: str | None = None) -> Job:
        """Submit through the run's client (which records the call in the manifest)."""
        label = f"{space} /{endpoint.lstrip('/')}"
        with self.run.budget_slot():
            return self.run.client.submit(space, endpoint, inputs, session=session, use_cache=self.run.use_cache,
                                          on_update=self.on_call(label) if self.on_call else None)

    def _wait(self, job: Job, timeout: float) -> Any:
        if not job.wait(min(max(float(timeout), 0.0), MAX_WAIT_S)):
            return {"status": "running", "event_id": job.event_id,
                    "hint": "the job keeps running; call poll_result again with this event_id"}
        return job.result()  # the outputs, or the job's own one-line error


class SearchSpaces(_RunTool):
    name = "search_spaces"
    description = ("Search Gradio Spaces on the Hugging Face Hub by what they do (semantic search). Returns a "
                   "list of dicts with id, title, description, likes, stage and hardware; running Spaces first.")
    inputs = {"query": {"type": "string", "description": "what the Space should do, e.g. 'text to image'"},
              "limit": {"type": "integer", "description": "maximum number of results", "nullable": True}}
    output_type = "array"

    def forward(self, query: str, limit: int | None = 8) -> list:
        hits = self.run.client.search(query, limit=int(limit or 8))
        return [{k: v for k, v in h.to_dict().items() if k in ("id", "title", "description", "likes", "stage",
                                                                 "hardware", "category")} for h in hits]


class ReadAgentsMd(_RunTool):
    name = "read_agents_md"
    description = ("Read a Space's agents.md contract from the Hub: returns a dict with space, title, host, "
                   "schema_url, call_url, poll_url, upload_url, auth and the raw text.")
    inputs = {"space": _SPACE}
    output_type = "object"

    def forward(self, space: str) -> dict:
        c = self.run.client.contract(space)
        return {"space": c.space, "title": c.title, "host": c.host, "schema_url": c.schema_url,
                "call_url": c.call_url, "poll_url": c.poll_url, "upload_url": c.upload_url, "auth": c.auth,
                "text": c.text}


class GetSpaceApi(_RunTool):
    name = "get_space_api"
    description = ("The API of a Space, one line per endpoint: "
                   "'/endpoint(name: type = default, ...) -> [output types]'. Parameters without a default are "
                   "required; 'image file' etc. take a local path, a URL or an earlier output path.")
    inputs = {"space": _SPACE}
    output_type = "string"

    def forward(self, space: str) -> str:
        return self.run.client.schema(space).compact()


class UploadFile(_RunTool):
    name = "upload_file"
    description = ("Upload a local file to a Space and return the FileData dict to pass as an input. Usually "
                   "not needed: call_space/run_space upload file paths themselves. Only files the user gave "
                   "or files produced in this run may be uploaded.")
    inputs = {"space": _SPACE, "path": {"type": "string", "description": "local file path"}}
    output_type = "object"

    def forward(self, space: str, path: str) -> dict:
        return self.run.client.upload(space, path)


class CallSpace(_RunTool):
    name = "call_space"
    description = ("Submit a call to a Space endpoint and return its event id at once (the job runs in the "
                   "background; get the outputs with poll_result). Calls to one Space share its session, so "
                   "stateful multi-endpoint Spaces work.")
    inputs = {"space": _SPACE, "endpoint": _ENDPOINT, "inputs": _INPUTS, "session": _SESSION}
    output_type = "string"

    def forward(self, space: str, endpoint: str, inputs: Any = None, session: str | None = None) -> str:
        return self._submit(space, endpoint, inputs, session).event_id


class PollResult(_RunTool):
    name = "poll_result"
    description = ("Wait up to `timeout` seconds for a submitted call. Returns the outputs list (files as "
                   "local paths), or {'status': 'running', 'event_id': ...} if it is still running (poll again). "
                   "Raises a one-line error when the Space failed.")
    inputs = {"space": _SPACE, "endpoint": _ENDPOINT,
              "event_id": {"type": "string", "description": "the id returned by call_space"},
              "timeout": {"type": "number", "description": "seconds to wait (max 600)", "nullable": True}}
    output_type = "any"

    def forward(self, space: str, endpoint: str, event_id: str, timeout: float | None = 600) -> Any:
        job = self.run.jobs.get(event_id)
        if job is None:
            raise SpacechainError(f"Unknown event id {event_id!r}: use an id returned by call_space in this run.")
        return self._wait(job, 600 if timeout is None else timeout)


class RunSpace(_RunTool):
    name = "run_space"
    description = ("Call a Space endpoint and wait for its outputs (a list; files as local paths you can pass "
                   "to the next Space). Inputs by name (dict) or position (list).")
    inputs = {"space": _SPACE, "endpoint": _ENDPOINT, "inputs": _INPUTS, "session": _SESSION}
    output_type = "any"

    def forward(self, space: str, endpoint: str, inputs: Any = None, session: str | None = None) -> Any:
        return self._wait(self._submit(space, endpoint, inputs, session), MAX_WAIT_S)


class RunSpaceBatch(_RunTool):
    name = "run_space_batch"
    description = ("Call one endpoint for many inputs at once (up to max_concurrency jobs in flight). Returns one "
                   "entry per item, in order: its outputs list, or an error dict {'error', 'message'} — one "
                   "failure does not stop the others. Item i runs in session 'item-i' unless sessions are given.")
    inputs = {"space": _SPACE, "endpoint": _ENDPOINT,
              "inputs_list": {"type": "array", "description": "one inputs dict (or list) per item"},
              "max_concurrency": _CONCURRENCY,
              "sessions": {"type": "array", "nullable": True, "description": "optional session name per item"}}
    output_type = "array"

    def forward(self, space: str, endpoint: str, inputs_list: list, max_concurrency: int | None = 4,
                sessions: list | None = None) -> list:
        return run_batch(self.run.client, space, endpoint, inputs_list, max_concurrency=max_concurrency or 4,
                         sessions=sessions, submit=self._submit, timeout=MAX_WAIT_S)


class RunPipeline(RunSpaceBatch):
    name = "run_pipeline"
    description = ("Push many items through a chain of Space calls, pipelined: each item enters the next stage "
                   "as soon as its previous stage is done, so all Spaces work at once. `stages` is a list of "
                   "{'space', 'endpoint', 'inputs'}; in inputs, a string '{field}' takes the item's field, "
                   "'{prev[0]}' output 0 of the previous stage, '{s0[1]}' output 1 of stage 0. Each item has its "
                   "own session on every Space (stateful Spaces keep items apart). Returns per item "
                   "{'item', 'outputs': [outputs of each stage]} plus 'error' and 'failed_stage' if it failed.")
    inputs = {"items": {"type": "array", "description": "one dict of fields per item, e.g. {'prompt': ...}"},
              "stages": {"type": "array", "description": "the chain: [{'space', 'endpoint', 'inputs'}, ...]"},
              "max_concurrency": _CONCURRENCY}
    output_type = "array"

    def forward(self, items: list, stages: list, max_concurrency: int | None = 4) -> list:
        return run_pipeline(self.run.client, items, stages, max_concurrency=max_concurrency or 4,
                            submit=self._submit, timeout=MAX_WAIT_S)


TOOL_CLASSES = (SearchSpaces, ReadAgentsMd, GetSpaceApi, UploadFile, CallSpace, PollResult, RunSpace,
                RunSpaceBatch, RunPipeline)


def make_tools(run: Run, on_call=None) -> list[Tool]:
    return [cls(run, on_call) for cls in TOOL_CLASSES]
