"""A run's conversation as a Hub session trace, in the Session Trace Simple Format (hub-docs
`docs/hub/session-traces-format.md`) that the Hub's trace viewer renders: a JSONL file whose first line is
`{"type": "session", "harness": "spacechain", "id", "name"}` and every other line one message
`{"type": "message", "message": {role, content, reasoningContent, toolCalls, toolCallId, timestamp, model}}`.

Each turn is the user's goal, then per agent step the model's thought (as reasoning) and its code as a tool call
of `python`, the step's observations (and the Space calls it made) as that call's result, then the answer. A
replay has no steps: each Space call is a `run_space` tool call with its outputs as the result."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from spacechain.tools import InvalidInputs, SpacechainError

from .record import CallEntry, RunRecord

__all__ = ["HARNESS", "push_trace", "trace_lines", "trace_text"]

HARNESS = "spacechain"
CODE_TOOL = "python"  # the step's code, run in the sealed interpreter
CALL_TOOL = "run_space"


def _ms(stamp: str | None) -> int | None:
    """Epoch milliseconds of an ISO time (None when there is none or it does not parse)."""
    if not stamp:
        return None
    try:
        return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _message(role: str, content: str, timestamp: int | None, model: str | None = None, **extra: Any) -> dict:
    message: dict[str, Any] = {"role": role, "content": content}
    message.update({k: v for k, v in extra.items() if v})
    if timestamp is not None:
        message["timestamp"] = timestamp
    if model:
        message["model"] = model
    return {"type": "message", "message": message}


def _call_line(call: CallEntry) -> str:
    took = f", {call.total_s:.1f} s" if call.total_s is not None else ""
    cached = ", cached" if call.cached else ""
    result = _text(call.outputs) if call.complete else _text((call.error or {}).get("message") or call.status)
    return f"{call.space} {call.endpoint} ({call.status}{cached}{took}): {result}"


def _session(record: RunRecord) -> dict:
    run_id = Path(record.run_dir).name if record.run_dir else (record.started_at or "run")
    return {
        "type": "session",
        "harness": HARNESS,
        "id": run_id,
        "name": " ".join(record.goal.split())[:200] or run_id,
        "model": record.model,
        "spacechain": record.spacechain,
        "started_at": record.started_at,
        "status": record.status,
    }


def trace_lines(record: RunRecord) -> list[dict]:
    """The session header and one message per line, turn by turn."""
    lines = [_session(record)]
    model = record.model
    turns = record.turns or []
    for t, turn in enumerate(turns, start=1):
        lines.append(_message("user", turn.goal, _ms(turn.started_at)))
        steps = [s for s in record.steps if s.turn == t]
        calls = [c for c in record.calls if c.turn == t]
        if steps:
            for s in steps:
                call_id = f"turn{t}-step{s.step}"
                at = _ms(s.finished_at) or _ms(turn.started_at)
                if s.code:
                    lines.append(
                        _message(
                            "assistant",
                            "",
                            at,
                            model,
                            reasoningContent=s.thought,
                            toolCalls=[
                                {
                                    "id": call_id,
                                    "function": {"name": CODE_TOOL, "arguments": json.dumps({"code": s.code})},
                                }
                            ],
                        )
                    )
                    made = [_call_line(c) for c in calls if c.step == s.step]
                    result = "\n".join(x for x in (s.observations, s.error and f"Error: {s.error}", *made) if x)
                    lines.append(_message("tool", result, at, toolCallId=call_id))
                elif s.thought or s.error:
                    lines.append(_message("assistant", s.thought or f"Error: {s.error}", at, model))
        else:  # a replay: the calls themselves
            for c in calls:
                call_id = f"turn{t}-call{c.id}"
                args = {"space": c.space, "endpoint": c.endpoint, "inputs": c.inputs, "session": c.session}
                lines.append(
                    _message(
                        "assistant",
                        "",
                        _ms(c.submitted_at) or _ms(turn.started_at),
                        model,
                        toolCalls=[{"id": call_id, "function": {"name": CALL_TOOL, "arguments": _text(args)}}],
                    )
                )
                lines.append(_message("tool", _call_line(c), _ms(c.finished_at), toolCallId=call_id))
        if turn.final_answer is not None or turn.status != "running":
            answer = _text(turn.final_answer) if turn.final_answer is not None else f"(turn {turn.status})"
            # The turn's times are kept to the second, its steps' to the millisecond: never before the last step.
            stamps = [x["message"].get("timestamp") for x in lines[1:]] + [_ms(turn.finished_at)]
            lines.append(_message("assistant", answer, max((x for x in stamps if x), default=None), model))
    return lines


def trace_text(record: RunRecord) -> str:
    if not record.turns:
        raise SpacechainError("The run has no turn to trace; give a run folder made by `spacechain run`.")
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in trace_lines(record))


def push_trace(path: Path, repo_id: str, *, private: bool = False) -> str:
    """Upload the trace file to the Hub dataset `repo_id` (created when missing) as `<session id>.jsonl`;
    returns the file's URL on the Hub."""
    from .appgen import REPO_ID, hub_write

    if not REPO_ID.fullmatch(repo_id) or ".." in repo_id:
        raise InvalidInputs(f"--push {repo_id[:100]} is not a dataset id; give owner/name.")
    name = f"{json.loads(path.read_text(encoding='utf-8').splitlines()[0])['id']}.jsonl"

    def upload(api) -> None:
        api.create_repo(repo_id, repo_type="dataset", exist_ok=True, private=private)
        api.upload_file(
            path_or_fileobj=str(path),
            path_in_repo=name,
            repo_id=repo_id,
            repo_type="dataset",
            commit_message=f"Add spacechain session trace {name}",
        )

    endpoint = hub_write(repo_id, upload)
    return f"{endpoint}/datasets/{repo_id}/blob/main/{name}"
