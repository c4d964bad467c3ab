"""gr.Workflow graphs both ways: a run's chain exported as a `workflow.json` (schema_version "2") that gradio's
`gr.Workflow(graph=...)` loads and draws, and such a graph — exported or written by hand — run through spacechain.

The format (gradio's guides/04_additional-features/18_workflows.md, gradio/workflow_api.py): `references` are the
inputs (a value under `data[<output port id>]`), `operators` the steps (kind "space" with `space_id` and
`endpoint`; its input ports are the endpoint's parameters in order, because gr.Workflow passes them
positionally; a value set on the card sits in `data[<port id>]`), `subjects` the results, `edges` connect an
output port to an input port. gr.Workflow calls every operator in a new Gradio session, so an endpoint that reads
the gr.State an earlier one left (image_to_3d → extract_glb) cannot work on its canvas: the export marks the
pair with `state_from` (ignored by gradio) and says so in one note; spacechain runs the pair in one session.
Loading and running graphs is `workflow_run.py`."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spacechain.tools import SpacechainError
from spacechain.tools.nested import leaves

from .appgen import PROMPT_NAMES, _family
from .record import RunRecord
from .replay import Chain, Ref, _index_outputs, build_chain

__all__ = ["MAX_GRAPH_BYTES", "SCHEMA_VERSION", "Exported", "WorkflowError", "export_workflow", "port_type"]

SCHEMA_VERSION = "2"
MAX_GRAPH_BYTES = 5 * 1024 * 1024  # gr.Workflow's own limit for a saved graph
_PORTS = {
    "image": "image",
    "imageeditor": "image",
    "audio": "audio",
    "video": "video",
    "model3d": "model3d",
    "gallery": "gallery",
    "file": "file",
    "uploadbutton": "file",
    "number": "number",
    "slider": "number",
    "checkbox": "boolean",
    "json": "json",
    "html": "html",
}
_PY_PORTS = {"float": "number", "int": "number", "bool": "boolean", "str": "text"}
FILE_PORTS = {"image", "audio", "video", "model3d", "file", "gallery"}
_WIDTH = 250


class WorkflowError(SpacechainError):
    kind = "bad_workflow"


def port_type(component: str, python_type: str, takes_files: bool = False) -> str:
    """A gr.Workflow port type for a Gradio component (as /info names it)."""
    found = _PORTS.get(component.lower())
    if found:
        return found
    if takes_files:
        return "file"
    return _PY_PORTS.get(python_type, "text" if component.lower() in ("textbox", "dropdown", "radio") else "json")


# ---------------- export ----------------


@dataclass
class Exported:
    graph: dict
    notes: list[str] = field(default_factory=list)  # what the graph cannot express, one line each


def _in_ports(ep) -> list[dict]:
    ports = []
    for p in ep.params:
        port: dict = {
            "id": p.name,
            "label": p.label or p.name,
            "type": port_type(p.component, p.python_type, p.takes_files),
        }
        if p.has_default:
            if p.default is not None:
                port["default_value"] = p.default
        else:
            port["required"] = True
        choices = p.choices
        if choices and all(isinstance(c, str) for c in choices):
            port["choices"] = choices
        ports.append(port)
    return ports


def _out_ports(ep) -> list[dict]:
    return [
        {
            "id": f"out_{i}",
            "label": r.label or f"output {i}",
            "type": port_type(r.component, r.python_type, "filepath" in r.python_type),
            "output_index": i,
        }
        for i, r in enumerate(ep.returns)
    ]


def _state_slots(client, space: str, endpoint: str) -> tuple[bool, bool]:
    """Whether an endpoint reads and writes a gr.State (from the app's /config; unknown: neither)."""
    try:
        sp = client.space(space)
        slots = sp.app_config(client.http).state_slots(client.endpoint(space, endpoint).api_name)
    except SpacechainError:
        return False, False
    return (any(slots[0]), any(slots[1])) if slots else (False, False)


class _Builder:
    """The graph's nodes and edges as they are added, with unique ids."""

    def __init__(self) -> None:
        self.references: list[dict] = []
        self.operators: list[dict] = []
        self.subjects: list[dict] = []
        self.edges: list[dict] = []
        self._ids: set[str] = set()
        self._refs: dict[tuple, str] = {}

    def ident(self, base: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_-]+", "_", base).strip("_") or "node"
        name, n = base, 2
        while name in self._ids:
            name, n = f"{base}_{n}", n + 1
        self._ids.add(name)
        return name

    def edge(self, src: str, src_port: str, dst: str, dst_port: str, kind: str) -> None:
        self.edges.append(
            {
                "id": f"e{len(self.edges) + 1}",
                "from_node_id": src,
                "from_port_id": src_port,
                "to_node_id": dst,
                "to_port_id": dst_port,
                "type": kind,
            }
        )

    @staticmethod
    def _asset(node_id: str, role: str, label: str, kind: str, data: dict) -> dict:
        """A reference or a subject: one typed value in (`in`) and the same out (`out`)."""
        port = {"label": label, "type": kind}
        return {
            "id": node_id,
            "label": label,
            "role": role,
            "asset_type": kind,
            "inputs": [{"id": "in", **port}],
            "outputs": [{"id": "out", **port}],
            "data": data,
            "width": _WIDTH,
        }

    def reference(self, name: str, label: str, kind: str, value: Any) -> str:
        key = (name, kind, json.dumps(value, sort_keys=True, default=str))
        if key not in self._refs:
            self._refs[key] = self.ident(f"ref_{name}")
            self.references.append(self._asset(self._refs[key], "reference", label, kind, {"out": value}))
        return self._refs[key]

    def subject(self, label: str, kind: str, op_id: str, port_id: str) -> None:
        sub_id = self.ident(f"sub_{op_id}_{port_id}")
        self.subjects.append(self._asset(sub_id, "subject", label, kind, {}))
        self.edge(op_id, port_id, sub_id, "in", kind)


def _user_file(value: Any, user_files: set[str]) -> str | None:
    path = value.get("path") if isinstance(value, dict) else value
    return path if isinstance(path, str) and path in user_files else None


def export_workflow(record: RunRecord, client) -> Exported:
    """The run's chain as a gr.Workflow graph: the user's files and prompt-like text as references, each Space
    call an operator with the ports of its endpoint's schema (read through `client`), results as subjects, an
    edge for every output passed on. Recorded values of other parameters are set on the operator's card."""
    chain = build_chain(record)
    user_files = {f.path for f in record.user_files}
    made = {p for c in record.calls if c.complete for p in c.outputs_made()}
    g, notes = _Builder(), []
    eps = []
    for n, call in enumerate(chain.calls, start=1):
        try:
            eps.append(client.endpoint(call.space, call.endpoint))
        except SpacechainError as exc:
            raise WorkflowError(
                f"call {n} ({call.space} {call.endpoint}): {str(exc).rstrip('.')}; a gr.Workflow graph needs "
                "each Space's API, so export when it is reachable."
            ) from None
    consumed: set[tuple[int, int]] = set()
    state_fed: set[int] = set()
    writers: dict[tuple[str, str], int] = {}
    for n, (call, ep) in enumerate(zip(chain.calls, eps)):
        op_id = g.ident(f"op_{n + 1}_{ep.api_name}")
        ports = _in_ports(ep)
        op = {
            "id": op_id,
            "label": f"{call.space} {ep.name}",
            "role": "operator",
            "kind": "space",
            "source": f"hf://spaces/{call.space}",
            "space_id": call.space,
            "endpoint": ep.name,
            "inputs": ports,
            "outputs": _out_ports(ep),
            "data": {},
            "width": _WIDTH + 30,
        }
        given = ep.given(call.inputs) if call.inputs is not None else {}
        kinds = {p["id"]: p["type"] for p in ports}
        for name, value in given.items():
            if isinstance(value, Ref) and len(value.path) == 1 and isinstance(value.path[0], int):
                src = g.operators[value.call]
                g.edge(src["id"], f"out_{value.path[0]}", op_id, name, kinds[name])
                consumed.add((value.call, value.path[0]))
            elif any(isinstance(leaf, Ref) for _, leaf in leaves(value)):
                notes.append(
                    f"{op['label']}: input {name} takes an earlier output inside a list or dict, which a "
                    "gr.Workflow edge cannot carry; the graph keeps the file the run used"
                )
                op["data"][name] = _recorded(value, chain)
            elif (path := _user_file(value, user_files)) is not None:
                kind = kinds[name] if kinds[name] in FILE_PORTS else _family(path)
                g.edge(g.reference(name, Path(path).name, kind, path), "out", op_id, name, kinds[name])
            elif isinstance(value, str) and kinds[name] == "text" and PROMPT_NAMES.search(name) and value not in made:
                g.edge(
                    g.reference(name, name.replace("_", " ").capitalize(), "text", value), "out", op_id, name, "text"
                )
            else:
                op["data"][name] = value
        reads, writes = _state_slots(client, call.space, call.endpoint)
        key = (call.space, call.session)
        if reads and not writes and key in writers:
            m = writers[key]
            op["state_from"] = g.operators[m]["id"]
            state_fed.add(m)
            notes.append(
                f"{call.space} {g.operators[m]['endpoint']} → {ep.name} share a gr.State through one session; "
                f"gr.Workflow calls each operator in a new session, so {ep.name} fails on its canvas "
                "(`spacechain replay` on the graph runs the pair in one session)"
            )
        if writes:
            writers[key] = n
        # Ports after the last one the run set are left off: gr.Workflow drops trailing empty arguments, so
        # the Space's defaults apply just the same, and the card shows what the run chose.
        fed = {e["to_port_id"] for e in g.edges if e["to_node_id"] == op_id} | set(op["data"])
        keep = max((i + 1 for i, p in enumerate(ports) if p["id"] in fed), default=0)
        op["inputs"] = ports[:keep]
        g.operators.append(op)
    _subjects(g, chain, eps, consumed, state_fed, made)
    _layout(g)
    name = " ".join(record.goal.split())[:80] or "spacechain run"
    graph = {
        "schema_version": SCHEMA_VERSION,
        "name": name,
        "description": f"Exported by spacechain from {record.run_dir or 'a run'}: {name}",
        "references": g.references,
        "operators": g.operators,
        "subjects": g.subjects,
        "edges": g.edges,
    }
    return Exported(graph, list(dict.fromkeys(notes)))


def _height(node: dict) -> int:
    return 80 + 26 * (len(node["inputs"]) + len(node["outputs"]))


def _layout(g: _Builder) -> None:
    """x and y for every node, so the canvas opens on the chain as it ran: one band per independent
    pipeline (a landmark, an item), columns by how many steps from the inputs a node is."""
    nodes = {n["id"]: n for n in [*g.references, *g.operators, *g.subjects]}
    links = [(e["from_node_id"], e["to_node_id"]) for e in g.edges]
    links += [(op["state_from"], op["id"]) for op in g.operators if "state_from" in op]
    depth = {n: 0 for n in nodes}
    for _ in nodes:  # longest path from an input; the graph is small and flows one way
        for src, dst in links:
            depth[dst] = max(depth[dst], depth[src] + 1)
    band = {n: n for n in nodes}

    def root(n: str) -> str:
        while band[n] != n:
            n = band[n]
        return n

    for src, dst in links:
        band[root(src)] = root(dst)
    order = list(dict.fromkeys(root(op["id"]) for op in g.operators)) + [r for r in dict.fromkeys(map(root, nodes))]
    y0 = 40
    for b in dict.fromkeys(order):
        members = [n for n in nodes if root(n) == b]
        column_y: dict[int, int] = {}
        for n in members:
            node, col = nodes[n], depth[n]
            node["x"], node["y"] = 40 + 360 * col, y0 + column_y.get(col, 0)
            column_y[col] = column_y.get(col, 0) + _height(node) + 30
        y0 += max(column_y.values(), default=0) + 50


def _recorded(value: Any, chain: Chain) -> Any:
    from .replay import resolve

    return resolve(value, [c.outputs for c in chain.calls])


def _subjects(g: _Builder, chain: Chain, eps: list, consumed: set, state_fed: set[int], made: set[str]) -> None:
    """A subject for each file no later call took (the first place a call returned it), like the gallery's
    cards; when no call left one, the last call's outputs."""
    for n, (call, ep) in enumerate(zip(chain.calls, eps)):
        if n in state_fed:
            continue  # its result went on, through the session's gr.State
        seen = set()
        for value, at in _index_outputs(call.outputs).items():
            if len(at) != 1 or not isinstance(at[0], int) or value not in made or at[0] >= len(ep.returns):
                continue
            if (n, at[0]) in consumed or value in seen:
                continue
            seen.add(value)
            port = g.operators[n]["outputs"][at[0]]
            g.subject(_title(g, g.operators[n]["id"], port["label"]), port["type"], g.operators[n]["id"], port["id"])
    if not g.subjects and g.operators:
        last = g.operators[-1]
        for port in last["outputs"]:
            g.subject(_title(g, last["id"], port["label"]), port["type"], last["id"], port["id"])


def _title(g: _Builder, op_id: str, what: str) -> str:
    """A result's title as the gallery gives it: the input you would know it by (the prompt, or your file's
    name) and what it is, e.g. "Eiffel Tower · Extracted GLB"."""
    feeds = {(e["to_node_id"], e["from_node_id"]) for e in g.edges}
    feeds |= {(op["id"], op["state_from"]) for op in g.operators if "state_from" in op}
    refs = {r["id"]: r for r in g.references}
    todo, seen = [op_id], set()
    while todo:
        node = todo.pop(0)
        seen.add(node)
        if node in refs:
            value = refs[node]["data"]["out"]
            name = value if refs[node]["asset_type"] == "text" else refs[node]["label"]
            name = " ".join(str(name).split())
            return f"{name[:40]}{'…' * (len(name) > 40)} · {what}"
        todo += [src for dst, src in sorted(feeds) if dst == node and src not in seen]
    return what
