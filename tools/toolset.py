"""The toolset every front end serves: nine calls, each a plain spec — a name, a description written for
a model, JSON-schema inputs and the shape of its result — run against a `ToolContext`.

Framework-neutral: the agent adapts the specs to smolagents tools, other front ends to theirs. A call
takes and returns plain JSON values only (text, numbers, booleans, None, lists, dicts with text keys),
so whoever calls it — a model's code, an MCP client — holds no object that leads back to the client."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .client import Client
from .errors import InvalidInputs, SpacechainError
from .job import Job
from .nested import KEEP, transform
from .pipeline import run_batch, run_pipeline
from .pool import move_reason

__all__ = ["MAX_WAIT_S", "TOOLSET", "ToolContext", "ToolSpec", "check_plain", "plain", "spec"]

# No call blocks longer than this: a model's step cannot be interrupted, so every wait is bounded here.
MAX_WAIT_S = 600.0


class ToolContext:
    """What the calls run against: one client and the jobs they started. Front ends subclass it to
    count, observe or limit submissions (`submit`) and to share jobs with a run record (`jobs`)."""

    def __init__(self, client: Client, *, use_cache: bool = True, max_wait_s: float = MAX_WAIT_S):
        self.client = client
        self.use_cache = use_cache
        self.max_wait_s = max_wait_s
        self.jobs: dict[str, Job] = {}
        # call_space's calls, to move one whose Space fails it after submission (poll_result sees that).
        self.asked: dict[str, tuple[str, str, Any, str | None]] = {}
        self.notes: list[str] = []

    def submit(
        self, space: str, endpoint: str, inputs: Any, session: str | None = None, moved: dict | None = None
    ) -> Job:
        job = self.client.submit(space, endpoint, inputs, session=session, use_cache=self.use_cache, moved=moved)
        self.jobs[job.event_id] = job
        return job

    def note(self, text: str) -> None:
        """One line the caller should see (a call that moved to another Space); the latest few are kept."""
        self.notes = [*self.notes[-9:], text]

    def take_notes(self) -> list[str]:
        notes, self.notes = self.notes, []
        return notes

    def run(
        self, space: str, endpoint: str, inputs: Any, session: str | None, *, wait: bool = True, failed=None
    ) -> Any:
        """Submit (and with `wait`, wait for) a call where (space, session) runs now; a Space that cannot run
        it moves it to an equivalent (tools.pool). Without `wait` the Job is returned."""

        def attempt(target: str, moved: dict | None) -> Any:
            job = self.submit(target, endpoint, inputs, session, moved=moved)
            return self.wait(job, self.max_wait_s) if wait else job

        start = (failed.record.space, failed.record.moved) if failed is not None and failed.record else None
        return self.client.pool.run(
            space, endpoint, session, attempt, start=start, failed=failed if start else None, note=self.note
        )

    def wait(self, job: Job, timeout: float) -> Any:
        """The outputs, the job's own one-line error, or a handle when it is still running."""
        if not job.wait(min(max(float(timeout), 0.0), self.max_wait_s)):
            return {
                "status": "running",
                "event_id": job.event_id,
                "hint": "the job keeps running; call poll_result again with this event_id",
            }
        return job.result()


_PLAIN_LEAVES = (str, int, float, bool, type(None))


def check_plain(value: Any, where: str, depth: int = 0) -> Any:
    """`value` if it holds only plain JSON values (exact types: a caller's subclass could run its own
    code on our objects), with tuples as lists; else InvalidInputs naming the argument."""
    if depth > 32:
        raise InvalidInputs(f"{where}: nested more than 32 levels deep; pass a flatter value.")
    kind = type(value)
    if kind in _PLAIN_LEAVES:
        return value
    if kind in (list, tuple):
        return [check_plain(v, where, depth + 1) for v in value]
    if kind is dict:
        if not all(type(k) is str for k in value):
            raise InvalidInputs(f"{where}: dict keys must be text.")
        return {k: check_plain(v, where, depth + 1) for k, v in value.items()}
    raise InvalidInputs(
        f"{where}: a {kind.__name__} object is not a plain value; pass text, numbers, booleans, None, lists or dicts."
    )


def plain(value: Any) -> Any:
    """A result as plain JSON values: paths and other objects become text, tuples lists."""

    def visit(v: Any) -> Any:
        if isinstance(v, (dict, list, tuple)):
            return KEEP
        return v if type(v) in _PLAIN_LEAVES else str(v)

    out = transform(value, visit)
    if isinstance(out, dict):
        out = {str(k): v for k, v in out.items()}
    return out


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    inputs: dict[str, dict]  # argument name → JSON schema ("default" marks it optional), in call order
    output: dict  # JSON schema of the result
    fn: Callable[..., Any] = field(repr=False)  # fn(ctx, **arguments)

    @property
    def required(self) -> list[str]:
        return [name for name, schema in self.inputs.items() if "default" not in schema]

    def parameters(self) -> dict:
        """The inputs as one JSON-schema object (what MCP and function-calling APIs take)."""
        props = {name: {k: v for k, v in schema.items()} for name, schema in self.inputs.items()}
        return {"type": "object", "properties": props, "required": self.required}

    def bind(self, args: tuple, kwargs: dict) -> dict[str, Any]:
        names = list(self.inputs)
        if len(args) > len(names):
            raise InvalidInputs(
                f"{self.name}() takes at most {len(names)} arguments ({', '.join(names)}); got {len(args)}."
            )
        bound = dict(zip(names, args))
        for key, value in kwargs.items():
            if key not in self.inputs:
                raise InvalidInputs(f"{self.name}() has no argument {key!r}; its arguments are {', '.join(names)}.")
            if key in bound:
                raise InvalidInputs(f"{self.name}() got {key!r} twice.")
            bound[key] = value
        missing = [n for n in self.required if n not in bound]
        if missing:
            raise InvalidInputs(f"{self.name}() needs {', '.join(missing)}.")
        for name, schema in self.inputs.items():
            if bound.get(name) is None and "default" in schema:
                bound[name] = schema["default"]
        return {k: check_plain(v, f"{self.name}({k}=...)") for k, v in bound.items()}

    def call(self, ctx: ToolContext, *args: Any, **kwargs: Any) -> Any:
        return plain(self.fn(ctx, **self.bind(args, kwargs)))


def spec(name: str, description: str, inputs: dict[str, dict], output: dict) -> Callable[[Callable], ToolSpec]:
    def wrap(fn: Callable) -> ToolSpec:
        return ToolSpec(name, description, inputs, output, fn)

    return wrap


def _opt(schema: dict, default: Any = None) -> dict:
    return {**schema, "default": default}


_SPACE = {"type": "string", "description": "Space id 'owner/name' (or a Space/Gradio URL)"}
_ENDPOINT = {"type": "string", "description": "endpoint name as listed by get_space_api, e.g. '/generate'"}
_INPUTS = {"description": "inputs by parameter name (dict) or position (list); files as local paths or URLs"}
_SESSION = {"type": "string", "description": "optional session name: calls with the same name share the Space's state"}
_CONCURRENCY = {"type": "integer", "description": "most jobs in flight per Space (default 4)"}
_DRY_RUN = {
    "type": "boolean",
    "description": "only check the whole plan (Spaces, endpoints, inputs, "
    "placeholders) and return {'ok', 'problems', 'calls'}; nothing runs",
}
_OUTPUTS = {"type": "array", "description": "the outputs in order; files as local paths"}
_SPREAD = {
    "type": "boolean",
    "description": "run the items across the healthy equivalent Spaces (duplicates with the same API) of each "
    "Space, not only the one named: for many items (8 or more) on busy Spaces",
}


@spec(
    "search_spaces",
    "Search Gradio Spaces on the Hugging Face Hub by what they do (semantic search). Returns a list of dicts "
    "with id, title, description, likes, stage, hardware and health (calls, failures, typical_run_s, last_error "
    "from this machine's earlier calls); running Spaces first, ones that recently failed after them.",
    {
        "query": {"type": "string", "description": "what the Space should do, e.g. 'text to image'"},
        "limit": _opt({"type": "integer", "description": "maximum number of results"}, 8),
    },
    {"type": "array", "items": {"type": "object"}},
)
def search_spaces(ctx: ToolContext, query: str, limit: int = 8) -> list:
    keep = ("id", "title", "description", "likes", "stage", "hardware", "category", "health")
    hits = ctx.client.search(str(query), limit=int(limit))
    return [{k: v for k, v in h.to_dict().items() if k in keep} for h in hits]


@spec(
    "find_alternatives",
    "Spaces equivalent to `space` for `endpoint` (the same parameters, types and outputs, confirmed from "
    "their API): its duplicates, origin and sibling copies on the Hub, best first. Returns a list of dicts "
    "with id, stage, hardware, likes, relation, confirmed and health. Calls already move to one of them by "
    "themselves when a Space is down; use this to choose one yourself.",
    {"space": _SPACE, "endpoint": _opt({**_ENDPOINT, "description": "endpoint name (default: the whole API)"})},
    {"type": "array", "items": {"type": "object"}},
)
def find_alternatives(ctx: ToolContext, space: str, endpoint: str | None = None) -> list:
    return [e.to_dict() for e in ctx.client.pool.alternatives(str(space), endpoint)]


@spec(
    "read_agents_md",
    "Read a Space's agents.md contract from the Hub: returns a dict with space, title, host, schema_url, "
    "call_url, poll_url, upload_url, auth and the raw text.",
    {"space": _SPACE},
    {"type": "object"},
)
def read_agents_md(ctx: ToolContext, space: str) -> dict:
    c = ctx.client.contract(space)
    return {
        "space": c.space,
        "title": c.title,
        "host": c.host,
        "schema_url": c.schema_url,
        "call_url": c.call_url,
        "poll_url": c.poll_url,
        "upload_url": c.upload_url,
        "auth": c.auth,
        "text": c.text,
    }


@spec(
    "get_space_api",
    "The API of a Space, one line per endpoint: '/endpoint(name: type = default, ...) -> [output types]'. "
    "Parameters without a default are required; 'image file' etc. take a local path, a URL or an earlier "
    "output path.",
    {"space": _SPACE},
    {"type": "string"},
)
def get_space_api(ctx: ToolContext, space: str) -> str:
    return ctx.client.schema(space).compact()


@spec(
    "upload_file",
    "Upload a local file to a Space and return the FileData dict to pass as an input. Usually not needed: "
    "call_space/run_space upload file paths themselves. Only files the user gave or files produced in this "
    "run may be uploaded.",
    {"space": _SPACE, "path": {"type": "string", "description": "local file path"}},
    {"type": "object"},
)
def upload_file(ctx: ToolContext, space: str, path: str) -> dict:
    return ctx.client.upload(space, path)


@spec(
    "call_space",
    "Submit a call to a Space endpoint and return its event id at once (the job runs in the background; get "
    "the outputs with poll_result). Calls to one Space share its session, so stateful multi-endpoint Spaces "
    "work.",
    {"space": _SPACE, "endpoint": _ENDPOINT, "inputs": _opt(_INPUTS), "session": _opt(_SESSION)},
    {"type": "string"},
)
def call_space(ctx: ToolContext, space: str, endpoint: str, inputs: Any = None, session: str | None = None) -> str:
    job = ctx.run(space, endpoint, inputs, session, wait=False)
    ctx.asked[job.event_id] = (space, endpoint, inputs, session)
    return job.event_id


@spec(
    "poll_result",
    "Wait up to `timeout` seconds for a submitted call. Returns the outputs list (files as local paths), or "
    "{'status': 'running', 'event_id': ...} if it is still running (poll again). Raises a one-line error "
    "when the Space failed.",
    {
        "space": _SPACE,
        "endpoint": _ENDPOINT,
        "event_id": {"type": "string", "description": "the id returned by call_space"},
        "timeout": _opt({"type": "number", "description": "seconds to wait (max 600)"}, MAX_WAIT_S),
    },
    _OUTPUTS,
)
def poll_result(ctx: ToolContext, space: str, endpoint: str, event_id: str, timeout: float = MAX_WAIT_S) -> Any:
    job = ctx.jobs.get(event_id)
    if job is None:
        raise SpacechainError(f"Unknown event id {event_id!r}: use an id returned by call_space in this run.")
    try:
        return ctx.wait(job, timeout)
    except SpacechainError as exc:
        if event_id not in ctx.asked or move_reason(exc) is None:
            raise
        space, endpoint, inputs, session = ctx.asked[event_id]
        # Its Space failed it (down, no GPU…): the call runs again on an equivalent, under the same id.
        moved = ctx.jobs[event_id] = ctx.run(space, endpoint, inputs, session, wait=False, failed=exc)
        return ctx.wait(moved, timeout)


@spec(
    "run_space",
    "Call a Space endpoint and wait for its outputs (a list; files as local paths you can pass to the next "
    "Space). Inputs by name (dict) or position (list). A Space that is down, full or out of GPU hands the call "
    "to an equivalent Space by itself (the step's output says which).",
    {"space": _SPACE, "endpoint": _ENDPOINT, "inputs": _opt(_INPUTS), "session": _opt(_SESSION)},
    _OUTPUTS,
)
def run_space(ctx: ToolContext, space: str, endpoint: str, inputs: Any = None, session: str | None = None) -> Any:
    return ctx.run(space, endpoint, inputs, session)


@spec(
    "run_space_batch",
    "Call one endpoint for many inputs at once (up to max_concurrency jobs in flight). Returns one entry per "
    "item, in order: its outputs list, or an error dict {'error', 'message'} — one failure does not stop the "
    "others. Item i runs in session 'item-i' unless sessions are given.",
    {
        "space": _SPACE,
        "endpoint": _ENDPOINT,
        "inputs_list": {"type": "array", "description": "one inputs dict (or list) per item"},
        "max_concurrency": _opt(_CONCURRENCY, 4),
        "sessions": _opt({"type": "array", "description": "optional session name per item"}),
        "dry_run": _opt(_DRY_RUN, False),
        "spread": _opt(_SPREAD, False),
    },
    {"type": "array"},
)
def run_space_batch(
    ctx: ToolContext,
    space: str,
    endpoint: str,
    inputs_list: list,
    max_concurrency: int = 4,
    sessions: list | None = None,
    dry_run: bool = False,
    spread: bool = False,
) -> Any:
    return run_batch(
        ctx.client,
        space,
        endpoint,
        inputs_list,
        max_concurrency=max_concurrency or 4,
        sessions=sessions,
        submit=ctx.submit,
        timeout=ctx.max_wait_s,
        dry_run=bool(dry_run),
        fallback=True,
        spread=bool(spread),
        note=ctx.note,
    )


@spec(
    "run_pipeline",
    "Push many items through a chain of Space calls, pipelined: each item enters the next stage as soon as "
    "its previous stage is done, so all Spaces work at once. `stages` is a list of {'space', 'endpoint', "
    "'inputs'}; in inputs, a string '{field}' takes the item's field, '{prev[0]}' output 0 of the previous "
    "stage, '{s0[1]}' output 1 of stage 0. Each item has its own session on every Space (stateful Spaces "
    "keep items apart). Returns per item {'item', 'outputs': [outputs of each stage]} plus 'error' and "
    "'failed_stage' if it failed. The whole plan is checked first: a wrong stage runs nothing.",
    {
        "items": {"type": "array", "description": "one dict of fields per item, e.g. {'prompt': ...}"},
        "stages": {"type": "array", "description": "the chain: [{'space', 'endpoint', 'inputs'}, ...]"},
        "max_concurrency": _opt(_CONCURRENCY, 4),
        "dry_run": _opt(_DRY_RUN, False),
        "spread": _opt(_SPREAD, False),
    },
    {"type": "array"},
)
def run_pipeline_tool(
    ctx: ToolContext, items: list, stages: list, max_concurrency: int = 4, dry_run: bool = False, spread: bool = False
) -> Any:
    return run_pipeline(
        ctx.client,
        items,
        stages,
        max_concurrency=max_concurrency or 4,
        submit=ctx.submit,
        timeout=ctx.max_wait_s,
        dry_run=bool(dry_run),
        fallback=True,
        spread=bool(spread),
        note=ctx.note,
    )


TOOLSET: tuple[ToolSpec, ...] = (
    search_spaces,
    find_alternatives,
    read_agents_md,
    get_space_api,
    upload_file,
    call_space,
    poll_result,
    run_space,
    run_space_batch,
    run_pipeline_tool,
)
