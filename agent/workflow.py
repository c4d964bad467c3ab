"""gr.Workflow graphs both ways: a run's chain exported as a `workflow.json` (schema_version "2") that gradio's
`gr.Workflow(graph=...)` loads and draws, and such a graph — exported or written by hand — run through spacechain.

The format (gradio's guides/04_additional-features/18_workflows.md, gradio/workflow_api.py): `references` are the
inputs (a value under `data[<output port id>]`), `operators` the steps (kind "space" with `space_id` and
`endpoint`; its input ports are the endpoint's parameters in order, because gr.Workflow passes them
positionally; a value set on the card sits in `data[<port id>]`), `subjects` the results, `edges` connect an
output port to an input port. gr.Workflow calls every operator in a new Gradio session, so an endpoint that reads
the gr.State an earlier one left (image_to_3d → extract_glb) cannot work on its canvas: the export marks the
pair with `state_from` (ignored by gradio) and says so in one note; spacechain runs the pair in one session."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spacechain.tools import InvalidInputs, SpacechainError
from spacechain.tools.files import is_local_file
from spacechain.tools.nested import leaves

from .appgen import PROMPT_NAMES, _family
from .record import RunRecord
from .replay import Chain, ChainCall, Ref, _index_outputs, build_chain

__all__ = ["SCHEMA_VERSION", "Exported", "WorkflowReplay", "export_workflow", "load_graph", "port_type"]

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


# ---------------- load and run ----------------


def load_graph(path: Path) -> dict:
    """A gr.Workflow graph from `path`, checked for the shape spacechain reads (a one-line error otherwise)."""
    try:
        if path.stat().st_size > MAX_GRAPH_BYTES:
            raise WorkflowError(f"{path} is larger than 5 MB; a gr.Workflow graph is a small JSON file.")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WorkflowError(f"{path} does not exist; give a workflow.json or a run folder.") from None
    except (OSError, ValueError, RecursionError) as exc:
        raise WorkflowError(f"{path} is not readable JSON ({exc.__class__.__name__}).") from None
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        raise WorkflowError(
            f'{path} is not a gr.Workflow graph with "schema_version": "2"; open and save it in gradio first.'
        )
    ids: set[str] = set()
    for role in ("references", "operators", "subjects", "edges"):
        items = data.get(role) or []
        if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
            raise WorkflowError(f"{path}: '{role}' is not a list of objects.")
        data[role] = items
        for i, node in enumerate(items if role != "edges" else []):
            if not isinstance(node.get("id"), str) or not node["id"] or node["id"] in ids:
                raise WorkflowError(f"{path}: {role[:-1]} {i} has no id, or one another node has.")
            ids.add(node["id"])
            for side in ("inputs", "outputs"):
                ports = node.setdefault(side, [])
                if not isinstance(ports, list) or not all(
                    isinstance(p, dict) and isinstance(p.get("id"), str) for p in ports
                ):
                    raise WorkflowError(f"{path}: {node['id']} has {side} that are not ports with ids.")
            if not isinstance(node.setdefault("data", {}) or {}, dict):
                raise WorkflowError(f"{path}: {node['id']} has data that is not an object.")
    for i, e in enumerate(data["edges"]):
        if not all(isinstance(e.get(k), str) for k in ("from_node_id", "from_port_id", "to_node_id", "to_port_id")):
            raise WorkflowError(f"{path}: edge {i} lacks from_node_id, from_port_id, to_node_id or to_port_id.")
        if e["from_node_id"] not in ids or e["to_node_id"] not in ids:
            raise WorkflowError(f"{path}: edge {i} connects a node the graph does not have.")
    others = [op for op in data["operators"] if (op.get("kind") or "space") != "space"]
    if others:
        names = ", ".join(f"{op.get('label') or op['id']} ({op.get('kind')})" for op in others[:6])
        raise WorkflowError(
            f"spacechain runs Space operators only; this graph also has {names}: replace them with Space "
            "operators, or run the graph in gr.Workflow."
        )
    bad = [op["id"] for op in data["operators"] if not isinstance(op.get("space_id"), str) or not op.get("space_id")]
    if bad:
        raise WorkflowError(f"{path}: operator {', '.join(bad[:6])} has no space_id; set it to owner/name.")
    return data


def _topo(graph: dict) -> list[dict]:
    """The nodes in an order they can run: after what feeds them by an edge or by `state_from`, and otherwise
    as the file lists them (so an operator that only reads an earlier one's gr.State still comes after it)."""
    import heapq

    nodes = [*graph["references"], *graph["operators"], *graph["subjects"]]
    place = {n["id"]: i for i, n in enumerate(nodes)}
    links = [(e["from_node_id"], e["to_node_id"]) for e in graph["edges"]]
    links += [(op["state_from"], op["id"]) for op in graph["operators"] if op.get("state_from") in place]
    indeg = dict.fromkeys(place, 0)
    for _, dst in links:
        indeg[dst] += 1
    ready = [place[n] for n, d in indeg.items() if d == 0]
    heapq.heapify(ready)
    out: list[dict] = []
    while ready:
        node = nodes[heapq.heappop(ready)]
        out.append(node)
        for src, dst in links:
            if src == node["id"]:
                indeg[dst] -= 1
                if indeg[dst] == 0:
                    heapq.heappush(ready, place[dst])
    if len(out) != len(nodes):
        raise WorkflowError("The graph has a cycle; a gr.Workflow graph must flow one way.")
    return out


def _ref_names(graph: dict) -> dict[str, list[dict]]:
    """Each free reference by its id and by its label (lower case): the names --set and --items take."""
    names: dict[str, list[dict]] = {}
    fed = {e["to_node_id"] for e in graph["edges"]}
    for ref in graph["references"]:
        if ref["id"] in fed:
            continue
        names.setdefault(ref["id"], []).append(ref)
        label = str(ref.get("label") or "").strip().lower()
        if label and label != ref["id"]:
            names.setdefault(label, []).append(ref)
    return names


def _typed(ref: dict, value: Any) -> Any:
    """A --set text as the reference's type (numbers, booleans, JSON); other values as they are."""
    if not isinstance(value, str):
        return value
    kind = ref.get("asset_type") or (ref["outputs"][0].get("type") if ref["outputs"] else "text")
    try:
        if kind == "number":
            return int(value) if re.fullmatch(r"-?\d+", value.strip()) else float(value)
        if kind == "boolean" and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        if kind == "json":
            return json.loads(value)
    except ValueError:
        raise InvalidInputs(f"{ref['id']} expects a {kind}; got {value[:80]!r}.") from None
    return value


def _ref_value(ref: dict, overrides: dict[str, Any]) -> Any:
    if ref["id"] in overrides:
        return overrides[ref["id"]]
    data = ref.get("data") or {}
    for port in [*ref["outputs"], *ref["inputs"]]:
        if data.get(port["id"]) is not None:
            value = data[port["id"]]
            # The canvas keeps an uploaded file as {name, url, mime} or {path, url}: a path or URL goes on.
            if isinstance(value, dict) and ("path" in value or "url" in value):
                return value.get("path") or value.get("url")
            return value
    return ref.get("value")


def _param_for(port: dict, i: int, ep) -> str | None:
    """The endpoint parameter a port feeds: by name, by label, else by position (gr.Workflow's own rule)."""
    if ep is None:
        return port["id"]
    names = ep.param_names()
    if port["id"] in names:
        return port["id"]
    by_label = [p.name for p in ep.params if p.label and p.label == port.get("label")]
    if len(by_label) == 1:
        return by_label[0]
    return names[i] if i < len(names) else None


def graph_chain(graph: dict, client, overrides: dict[str, Any], session_prefix: str = "wf") -> Chain:
    """The graph's Space operators as a chain in an order they can run: each input the reference's value, an
    earlier operator's output (a Ref), or the card's value. An operator that reads a gr.State runs in the session
    of the one it takes it from (`state_from`; else, when it writes none itself, the latest earlier operator on
    that Space that writes one)."""
    order = [n for n in _topo(graph) if n in graph["operators"]]
    nodes = {n["id"]: n for n in [*graph["references"], *graph["operators"], *graph["subjects"]]}
    incoming = {(e["to_node_id"], e["to_port_id"]): e for e in graph["edges"]}
    index = {op["id"]: k for k, op in enumerate(order)}
    chain = Chain(goal=str(graph.get("name") or "gr.Workflow graph"))
    session_of: dict[str, str] = {}
    writers: dict[str, str] = {}
    from spacechain.tools.plan import stand_ins

    def source(edge: dict) -> Any:
        node = nodes[edge["from_node_id"]]
        if node["id"] in index:
            port = next((p for p in node["outputs"] if p["id"] == edge["from_port_id"]), None)
            at = port.get("output_index") if port else None
            if not isinstance(at, int):
                at = node["outputs"].index(port) if port else 0
            return Ref(index[node["id"]], (at,))
        relay = incoming.get((node["id"], node["inputs"][0]["id"])) if node["inputs"] else None
        if relay is not None:  # a reference or subject with an edge into it passes its value on
            return source(relay)
        return _ref_value(node, overrides)

    for k, op in enumerate(order):
        endpoint = str(op.get("endpoint") or "/predict")
        try:
            ep = client.endpoint(op["space_id"], endpoint)
        except SpacechainError:
            ep = None  # the check before the run names what is wrong with it
        inputs: dict[str, Any] = {}
        defaults = {p.name: p.default for p in ep.params if p.has_default} if ep else {}
        for i, port in enumerate(op["inputs"]):
            name = _param_for(port, i, ep)
            edge = incoming.get((op["id"], port["id"]))
            data = op.get("data") or {}
            if edge:
                value = source(edge)
            elif port["id"] in data:
                value = data[port["id"]]
            elif name in defaults and defaults[name] == port.get("default_value"):
                continue  # the Space's own default: left to it, as the run did
            else:
                value = port.get("default_value")
            if name is not None and value is not None:
                inputs[name] = value
        reads, writes = _state_slots(client, op["space_id"], endpoint) if ep else (False, False)
        # An endpoint that reads a State without writing one (extract_glb) needs the State another left;
        # one that also writes it (image_to_3d, which takes its State in) starts afresh.
        giver = op["state_from"] if op.get("state_from") in session_of else None
        if giver is None and reads and not writes:
            giver = writers.get(op["space_id"])
        session_of[op["id"]] = session_of[giver] if giver else f"{session_prefix}-{op['id']}"
        if writes:
            writers[op["space_id"]] = op["id"]
        outputs = stand_ins(k, ep) if ep else None
        chain.calls.append(ChainCall(op["space_id"], endpoint, session_of[op["id"]], inputs, outputs))
    if not chain.calls:
        raise WorkflowError("The graph has no Space operator to run.")
    return chain


def _batch(chains: list[Chain]) -> Chain:
    """Several chains as one: each one's Refs moved past the calls before it."""
    from spacechain.tools.nested import KEEP, transform

    out = Chain(goal=chains[0].goal)
    for chain in chains:
        offset = len(out.calls)

        def move(v: Any, offset: int = offset) -> Any:
            return Ref(v.call + offset, v.path) if isinstance(v, Ref) else KEEP

        for c in chain.calls:
            out.calls.append(ChainCall(c.space, c.endpoint, c.session, transform(c.inputs, move), c.outputs))
    return out


def read_items(path: Path) -> list[dict]:
    """--items: one JSON object a line (blank lines skipped)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InvalidInputs(f"--items {path} cannot be read ({exc.strerror or exc.__class__.__name__}).") from None
    items = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            item = None
        if not isinstance(item, dict):
            raise InvalidInputs(f'--items {path} line {n} is not a JSON object such as {{"prompt": "Louvre"}}.')
        items.append(item)
    if not items:
        raise InvalidInputs(f"--items {path} has no line; give one JSON object a line.")
    return items


@dataclass
class WorkflowReplay:
    """A gr.Workflow graph made ready to run: the graph, the values given for its references (--set, and one
    set per --items line), and — once `prepare`d with a client — its chain."""

    path: Path
    graph: dict
    items: list[dict[str, Any]]
    overridden: set[str]
    chain: Chain = field(default_factory=lambda: Chain(goal=""))
    manifest: dict = field(default_factory=dict)  # no recorded run: no file was named before

    @classmethod
    def load(cls, path: Path, sets: dict[str, str], items: list[dict] | None = None) -> WorkflowReplay:
        graph = load_graph(path)
        names = _ref_names(graph)
        rows = []
        for n, row in enumerate(items or [{}], start=1):
            given = {**row, **sets}
            values: dict[str, Any] = {}
            for key, value in given.items():
                refs = names.get(key) or names.get(str(key).strip().lower())
                if not refs:
                    where = f"--items line {n}: " if key not in sets else "--set "
                    raise InvalidInputs(
                        f"{where}{key} is no input of the graph; its inputs: {', '.join(sorted(names)) or 'none'}."
                    )
                for ref in refs:
                    values[ref["id"]] = _typed(ref, value)
            rows.append(values)
        return cls(path, graph, rows, set())  # values are typed here: no parameter gets --set text

    @property
    def goal(self) -> str:
        return f"{self.graph.get('name') or self.path.name} (gr.Workflow graph)"

    def prepare(self, client) -> Chain:
        """The chain, one copy per item, each in sessions of its own (items never share a gr.State)."""
        many = len(self.items) > 1
        chains = [
            graph_chain(self.graph, client, values, f"item-{k}" if many else "wf")
            for k, values in enumerate(self.items)
        ]
        self.chain = _batch(chains)
        return self.chain

    def execute(self, run, emit=None) -> list:
        from .replay import run_chain_pipelined

        return run_chain_pipelined(run, self.chain, emit, user_files=[])


def local_files_in(graph: dict) -> list[str]:
    """The local files a graph's references name (each must be given with --file to be uploaded)."""
    found = []
    for ref in graph["references"]:
        value = _ref_value(ref, {})
        if isinstance(value, str) and is_local_file(value):
            found.append(value)
    return found
