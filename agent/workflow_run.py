"""A gr.Workflow graph (exported by `workflow.py` or written by hand in gradio's format) run through spacechain:
checked, its Space operators turned into a chain (stateful pairs in one session), once or once per item."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spacechain.tools import InvalidInputs, SpacechainError
from spacechain.tools.files import is_local_file

from .replay import Chain, ChainCall, Ref
from .workflow import MAX_GRAPH_BYTES, SCHEMA_VERSION, WorkflowError, _state_slots

__all__ = ["WorkflowReplay", "graph_chain", "load_graph", "read_items"]


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
