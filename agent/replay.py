"""Replay a recorded run without an LLM, or export it as a standalone Python script.

Both read the manifest's completed Space calls and "rewire" them: an input that is a file produced by
an earlier call becomes a reference to that call's output, so a replay feeds each call the new outputs
of the calls before it, and an export writes `outN[i]` instead of a stale path."""

from __future__ import annotations

import json
import keyword
import math
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spacechain.tools import InvalidInputs, SpacechainError
from spacechain.tools.files import is_local_file
from spacechain.tools.nested import KEEP, leaves, transform

from .record import RunRecord


@dataclass(frozen=True)
class Ref:
    call: int  # index in the chain
    path: tuple  # where the file sits in that call's outputs (e.g. (0,) or (2, "image"))


@dataclass
class ChainCall:
    space: str
    endpoint: str
    session: str
    inputs: Any  # with Ref where an earlier output is used
    outputs: Any = None


@dataclass
class Chain:
    goal: str
    calls: list[ChainCall] = field(default_factory=list)


def load_manifest(run_dir: Path) -> dict:
    """The run's manifest, checked by the typed run record (a one-line error for a malformed one)."""
    return RunRecord.load(run_dir).to_dict()


def _index_outputs(value: Any) -> dict[str, tuple]:
    """Every string in an output structure mapped to its (first) position."""
    found: dict[str, tuple] = {}
    for at, leaf in leaves(value):
        if isinstance(leaf, str):
            found.setdefault(leaf, at)
    return found


def build_chain(manifest: dict | RunRecord) -> Chain:
    """The completed calls, each input that is an earlier call's output rewired to a Ref to it."""
    record = manifest if isinstance(manifest, RunRecord) else RunRecord.from_dict(manifest)
    calls = [c for c in record.calls if c.complete]
    if not calls:
        raise SpacechainError("The run has no completed Space call to replay.")
    index = {id(c): i for i, c in enumerate(calls)}

    def rewire(value: Any) -> Any:
        if not isinstance(value, str):
            return KEEP
        producer = record.producer(value)
        if producer is not None and id(producer) in index:
            pos = _index_outputs(producer.outputs).get(value)
            if pos is not None:
                return Ref(index[id(producer)], pos)
        return value

    chain = Chain(goal=record.goal)
    for c in calls:
        chain.calls.append(ChainCall(c.space, c.endpoint, c.session, transform(c.inputs, rewire), c.outputs))
    return chain


def resolve(value: Any, results: list) -> Any:
    """`value` with every Ref replaced by the output it points at."""

    def visit(v: Any) -> Any:
        if not isinstance(v, Ref):
            return KEEP
        out = results[v.call]
        for key in v.path:
            out = out[key]
        return out

    return transform(value, visit)


def apply_overrides(chain: Chain, overrides: dict[str, Any]) -> None:
    """`name=value` sets input `name` in every call that has it; `N.name=value` only in call N (1-based)."""
    used = set()
    for key, value in overrides.items():
        target, _, name = key.rpartition(".")
        for n, call in enumerate(chain.calls, start=1):
            if target and target != str(n):
                continue
            if isinstance(call.inputs, dict) and name in call.inputs:
                call.inputs[name] = value
                used.add(key)
    unused = [k for k in overrides if k not in used]
    if unused:
        names = sorted({k for c in chain.calls if isinstance(c.inputs, dict) for k in c.inputs})
        raise InvalidInputs(
            f"--set {', '.join(unused)} matches no recorded input; inputs in this run: {', '.join(names) or 'none'}."
        )


# ---------------- export ----------------


def _const_name(param: str, used: set[str]) -> str:
    # ASCII only: Python folds identifiers by NFKC, so two Unicode names that differ here ("ｘ", "x")
    # would be one variable in the script; folded first so they still read alike and get _2.
    ascii_name = unicodedata.normalize("NFKC", str(param)).encode("ascii", "ignore").decode()
    base = re.sub(r"[^A-Za-z0-9]+", "_", ascii_name).strip("_").upper() or "VALUE"
    if base[0].isdigit() or keyword.iskeyword(base.lower()):
        base = f"V_{base}"
    name, n = base, 2
    while name in used:
        name, n = f"{base}_{n}", n + 1
    used.add(name)
    return name


def export_script(chain: Chain, source: str) -> str:
    """A readable script that reproduces the chain with `spacechain.tools`, free inputs on top."""
    consts: list[tuple[str, Any]] = []
    used: set[str] = set()
    by_value: dict[tuple[str, str], str] = {}

    def expr(value: Any, param: str = "value") -> str:
        if isinstance(value, Ref):
            return f"out{value.call + 1}" + "".join(f"[{k!r}]" for k in value.path)
        if isinstance(value, dict):
            return "{" + ", ".join(f"{k!r}: {expr(v, k)}" for k, v in value.items()) + "}"
        if isinstance(value, list):
            return "[" + ", ".join(expr(v, param) for v in value) + "]"
        if isinstance(value, float) and not math.isfinite(value):
            return f"float({str(value)!r})"  # `nan` and `inf` are no Python literals
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            ident = (param, json.dumps(value))
            if ident not in by_value:
                by_value[ident] = _const_name(param, used)
                consts.append((by_value[ident], value))
            return by_value[ident]
        return repr(value)

    body = []
    for n, call in enumerate(chain.calls, start=1):
        args = expr(call.inputs) if call.inputs is not None else "None"
        body.append(
            f"        out{n} = client.call({call.space!r}, {call.endpoint!r}, {args}, session={call.session!r})"
        )
        body.append(f"        print({call.space + call.endpoint!r}, out{n})")
    header = "\n".join(f"{name} = {value!r}" for name, value in consts) or "# (this chain has no free inputs)"

    def doc(text: str) -> str:  # safe inside a triple-quoted docstring: no NUL, control or surrogate either
        text = "".join(ch for ch in " ".join(str(text).split()) if ch.isprintable())
        return text.replace("\\", "\\\\").replace('"""', "'''")

    goal, source = doc(chain.goal), doc(source)
    return f'''"""Reproduces a spacechain run: {goal}

Exported from {source}. Free inputs are the constants below; edit them and run
`python {{this file}} [OUT_DIR]`. Needs `pip install spacechain` and, for private Spaces or ZeroGPU
quota, an HF token (HF_TOKEN or `hf auth login`).
"""

import sys

from spacechain.tools import Client

# Free inputs of the chain
{header}


def main(out_dir: str = "pipeline-outputs") -> None:
    with Client(out_dir=out_dir) as client:
{chr(10).join(body)}


if __name__ == "__main__":
    main(*sys.argv[1:2])
'''


def replay_chain(run, chain: Chain, overridden: set[str], emit=None, user_files: list[dict] | None = None) -> list:
    """Execute the chain in `run` (a Run): recorded inputs, rewired outputs, same sessions. `emit`
    gets the calls' events, as from a planner's turn. Every call is checked before the first one runs."""
    from .toolset import RunContext

    _check_files(run, chain, overridden, user_files or [])  # the sandbox's own refusal comes first
    problems = check_chain(run, chain, overridden, user_files, files=False)
    if problems:
        from spacechain.tools.plan import PlanProblems

        raise PlanProblems(problems)
    ctx = RunContext(run, emit)
    names = {k.rpartition(".")[2] for k in overridden}
    results: list = []
    for n, call in enumerate(chain.calls, start=1):
        run.step = n
        inputs = _inputs_for(run, call, results, names)
        results.append(ctx.submit(call.space, call.endpoint, inputs, session=call.session).result())
    return results


def run_chain_pipelined(run, chain: Chain, emit=None, user_files: list[dict] | None = None) -> list:
    """Execute the chain in `run` with each call started as soon as the calls it takes outputs from are
    done (calls in one session still one at a time, in order). Checked as a whole first, like replay_chain;
    when calls fail the others still finish, then one error says how many failed and the first reason."""
    from spacechain.tools.pipeline import run_graph

    from .toolset import RunContext

    _check_files(run, chain, set(), user_files or [])
    problems = check_chain(run, chain, set(), user_files, files=False)
    if problems:
        from spacechain.tools.plan import PlanProblems

        raise PlanProblems(problems)
    ctx = RunContext(run, emit)
    run.step = 1  # one step: the whole graph
    calls = [
        {
            "space": c.space,
            "endpoint": c.endpoint,
            "session": c.session,
            "after": sorted({leaf.call for _, leaf in leaves(c.inputs) if isinstance(leaf, Ref)}),
            "inputs": (lambda results, c=c: resolve(c.inputs, results)),
        }
        for c in chain.calls
    ]
    results = run_graph(run.client, calls, submit=ctx.submit)
    failed = [(n, r) for n, r in enumerate(results, start=1) if isinstance(r, dict)]
    if failed:
        n, first = next(((n, r) for n, r in failed if not r.get("skipped")), failed[0])
        call = chain.calls[n - 1]
        raise SpacechainError(
            f"{len(failed)} of {len(results)} calls did not complete; call {n} ({call.space} {call.endpoint}): "
            f"{str(first.get('message') or first.get('error')).rstrip('.')}."
        )
    return results


def check_chain(
    run, chain: Chain, overridden: set[str], user_files: list[dict] | None = None, *, files: bool = True
) -> list[str]:
    """Everything that would stop the replay, found without calling a Space: files the sandbox refuses,
    Spaces that do not resolve or run, endpoints gone, inputs (the --set ones too) the schema refuses.
    Earlier calls' outputs stand in as they were recorded."""
    problems: list[str] = []
    try:
        if files:
            _check_files(run, chain, overridden, user_files or [])
    except SpacechainError as exc:
        problems.append(str(exc).rstrip("."))
    names = {k.rpartition(".")[2] for k in overridden}
    recorded = [c.outputs for c in chain.calls]
    for n, call in enumerate(chain.calls, start=1):
        try:
            run.client.endpoint(call.space, call.endpoint).to_positional(_inputs_for(run, call, recorded, names))
        except SpacechainError as exc:
            problems.append(f"call {n} ({call.space} {call.endpoint}): {exc}".rstrip("."))
        except (LookupError, TypeError):
            problems.append(
                f"call {n} ({call.space} {call.endpoint}): an input refers to an output the run did not record"
            )
    return list(dict.fromkeys(problems))


def _inputs_for(run, call: ChainCall, results: list, names: set[str]) -> Any:
    """A call's inputs with earlier outputs filled in and --set values converted to their parameter's type."""
    from spacechain.tools.values import coerce_text

    inputs = resolve(call.inputs, results)
    if isinstance(inputs, dict) and names & set(inputs):
        params = {p.name: p for p in run.client.endpoint(call.space, call.endpoint).params}
        inputs = {
            k: coerce_text(params[k], v) if k in names and k in params and isinstance(v, str) else v
            for k, v in inputs.items()
        }
    return inputs


def _check_files(run, chain: Chain, overridden: set[str], user_files: list[dict]) -> None:
    """A local file may be uploaded again only if the recorded run's user named it and it is unchanged
    (or it is named now, with --file). Checked for every call before the first one runs."""
    from spacechain.tools import UploadRefused
    from spacechain.tools.files import sha256_file

    named = {f.get("path"): f.get("sha256") for f in user_files}
    set_names = {k.rpartition(".")[2] for k in overridden}
    for call in chain.calls:
        given = call.inputs.items() if isinstance(call.inputs, dict) else [("", call.inputs)]
        for name, value in given:
            for path in _local_files(value):
                real = str(Path(path).resolve())
                if real in run.allowed or real.startswith(str(run.dir) + os.sep):
                    continue
                if named.get(real) and named[real] == sha256_file(real):
                    run.allow(real)
                    continue
                source = "--set gives" if name in set_names else "the recorded run sends"
                raise UploadRefused(
                    f"{source} {real}, which was not named with --file (or changed since); "
                    "pass it with --file to allow it."
                )


def _local_files(value: Any) -> list[str]:
    return [leaf for _, leaf in leaves(value) if isinstance(leaf, str) and is_local_file(leaf)]
