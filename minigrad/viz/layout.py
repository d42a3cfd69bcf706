"""What gets drawn where: units (ops, folded boxes, leaves, ghost copies, references) and the edges between them.

The layout decisions that keep Graphviz fast live here: a parameter used at
many time steps gets a dashed copy at each use (``params="ghost"``), and an
op linked to many time steps (the ``unbind`` of a layer's inputs, the
``stack`` of its outputs) gets a dashed reference beside each step. Long
edges across the picture are what make ``dot``'s layout blow up.
"""

from __future__ import annotations

from typing import Any

from ..autograd import Function
from ..tensor import Tensor
from .gradients import GradientNorms
from .graph import is_parameter, leaf_name, weights_of
from .scopes import STEP, Elided, Fold, common_scope, parent
from .style import escape, meta_text
from .units import Edges, Unit

HUB_LIMIT = 3   # an op linked to more than this many other scopes is drawn with references


def collect(nodes: list[Function], fold: Fold, scoped: bool, roots_of: dict, elided: dict[str, Elided],
            grads: GradientNorms | None) -> tuple[list[Unit], dict, Edges, dict]:
    """Pass 1: every op becomes its own unit or joins the box of its folded scope.

    Returns the units, node → unit, the edges between units, and leaf → [(consumer, norm)].
    """
    units: list[Unit] = []
    boxes: dict[str, Unit] = {}
    unit_of: dict[Function, Unit] = {}
    weights: dict[Function, list | None] = {}
    edges = Edges()
    leaf_uses: dict[Tensor, list] = {}         # leaf → [(consumer unit, norm)] in walk order
    runs = {run.path: run for run in elided.values()}
    for position, node in enumerate(nodes):
        box_path = fold(node.scope)
        if box_path is None:
            unit = Unit("op", node.scope if scoped else "", node.scope, (position, 1))
            unit.title = node.name
            unit.meta = node.out_meta
            unit.weights = weights[node] = weights_of(node, weights)
            if unit.weights is not None:
                names = [leaf_name(w) for w in unit.weights]
                unit.title = f"{node.name}({', '.join(names[:2])}{', …' if len(names) > 2 else ''})"
            units.append(unit)
        else:
            weights[node] = None
            unit = boxes.get(box_path)
            if unit is None:
                unit = boxes[box_path] = Unit("box", parent(box_path) if scoped else "", box_path, (position, 1))
                unit.path = unit.title = box_path
                unit.elided = runs.get(box_path)
                units.append(unit)
            unit.order = (position, 1)   # a box comes where its last op does: t0 before t1 in the DOT text
        unit.ops += 1
        unit_of[node] = unit
        if node in roots_of:
            unit.is_root = True
            if unit.kind == "box":
                unit.outputs.append(node.out_meta[roots_of[node]])
        norms = grads.sent_along(node) if grads is not None else None
        for j, edge in enumerate(node.edges):
            if edge is None:
                continue
            norm = norms[j] if norms is not None and j < len(norms) else None
            if type(edge) is tuple:
                source_node, index = edge
                source = unit_of[source_node]
                if source is unit:
                    if unit.elided is not None and norm is not None:
                        unit.inner_norms.append(norm)
                    continue
                if source.kind == "box":
                    source.outputs.append(source_node.out_meta[index])
                multi = source.kind == "op" and source_node.n_outputs > 1
                edges.add(source, unit, [norm], [index] if multi else [])
            else:
                leaf_uses.setdefault(edge, []).append((unit, norm))
    return units, unit_of, edges, leaf_uses


def place_leaves(leaf_uses: dict, root_leaves: list, edges: Edges, ghost: bool, end: int) -> list[Unit]:
    """Pass 2: leaf nodes. In ghost mode a parameter used inside a folded box
    belongs to the box, and a leaf used by several units gets a copy at each."""
    placed: dict[Any, Unit] = {}
    for k, (leaf, uses) in enumerate(leaf_uses.items()):
        if ghost and is_parameter(leaf):
            for consumer, _ in uses:
                if consumer.kind == "box":
                    consumer.params[leaf] = None
            uses = [(c, n) for c, n in uses if c.kind != "box"]
            if not uses:
                continue
        consumers = list(dict.fromkeys(c for c, _ in uses))
        if ghost and len(consumers) > 1:
            for consumer in consumers:
                copy = placed[(leaf, consumer)] = Unit("ghost", consumer.place, "", (consumer.order[0], 0, k))
                copy.leaf = leaf
            for consumer, norm in uses:
                edges.add(placed[(leaf, consumer)], consumer, [norm], [])
        else:
            single = Unit("leaf", common_scope([c.place for c in consumers]), "", (consumers[0].order[0], 0, k))
            single.leaf = leaf
            placed[leaf] = single
            for consumer, norm in uses:
                edges.add(single, consumer, [norm], [])
    for k, leaf in enumerate(root_leaves):
        if leaf not in placed:
            alone = placed[leaf] = Unit("leaf", "", "", (end, 0, k))
            alone.leaf = leaf
            alone.is_root = True
    return list(placed.values())


def reference_hubs(edges: Edges, show_shapes: bool) -> list[Unit]:
    """Replace the long edges of hub ops by short edges to dashed references.

    A hub is an op (or box) whose inputs come from, or whose outputs go to,
    more than ``HUB_LIMIT`` other scopes: the ``stack`` of all time steps'
    outputs, the ``unbind`` of a projected input sequence. Each such edge to
    an op is drawn to a reference beside that op; an edge to a folded box is
    left out (the box stands for its ops). One dashed anchor edge, labelled
    with the number of scopes the hub links to (and, with gradients, the norm
    of all the gradients along the hub's edges taken together), ties the hub
    to the nearest reference or box, so the hub keeps its place in the layout.
    """
    sources: dict[Unit, dict] = {}
    targets: dict[Unit, dict] = {}
    for tail, head in edges:
        if tail.kind in ("op", "box") and tail.home != head.home:
            sources.setdefault(head, {})[tail.home] = None
            targets.setdefault(tail, {})[head.home] = None
    fan_in = {u for u, homes in sources.items() if len(homes) > HUB_LIMIT}
    fan_out = {u for u, homes in targets.items() if len(homes) > (1 if u.weights else HUB_LIMIT)}
    if not fan_in and not fan_out:
        return []
    refs: dict[tuple, Unit] = {}
    partners: dict[tuple, dict[Unit, None]] = {}   # (hub, side) → stand-ins (refs or boxes)
    carried: dict[tuple, list] = {}   # (hub, side) → gradient norms along the edges it stands for
    for (tail, head), edge in list(edges.items()):
        if tail.kind not in ("op", "box") or tail.home == head.home:
            continue
        if head in fan_in:
            hub, side, partner = head, "in", tail
        elif tail in fan_out:
            hub, side, partner = tail, "out", head
        else:
            continue
        del edges[(tail, head)]
        stand_in = partner
        if partner.kind == "box" and hub.weights:
            for weight in hub.weights:
                partner.params[weight] = None
        if partner.kind != "box":
            stand_in = refs.get((hub, side, partner.home))
            if stand_in is None:
                stand_in = refs[(hub, side, partner.home)] = _reference(hub, side, partner, len(refs), show_shapes)
            if side == "in":
                edges.add(partner, stand_in, edge.norms, edge.indices, edge.count)
            else:
                edges.add(stand_in, partner, edge.norms, edge.indices, edge.count)
        partners.setdefault((hub, side), {})[stand_in] = None
        carried.setdefault((hub, side), []).extend(edge.norms)
    for (hub, side), stand_ins in partners.items():
        if side == "in":
            key = (max(stand_ins, key=lambda u: u.order), hub)
        else:
            key = (hub, min(stand_ins, key=lambda u: u.order))
        edges.add(*key, carried[(hub, side)], [], len(stand_ins)).anchor = True
    return list(refs.values())


def _reference(hub: Unit, side: str, partner: Unit, k: int, show_shapes: bool) -> Unit:
    """The dashed stand-in for ``hub`` beside ``partner``."""
    order = (partner.order[0], 2, k) if side == "in" else (partner.order[0], 0, -1, k)
    ref = Unit("ref", partner.place, partner.home, order)
    name = hub.title.rsplit("/", 1)[-1]
    ref.label = escape(f"to {name}" if side == "in" else name if hub.weights else f"from {name}")
    ref.attrs = {"style": "dashed,rounded", "fontsize": "8", "height": "0.2", "color": "#888888",
                 "fontcolor": "#555555"}
    if hub.weights:   # drawn like a ghost parameter
        ref.attrs.update(style="dashed,filled", fillcolor="#fff4cc", fontcolor="#000000")
        if show_shapes:
            ref.label += "\\n" + meta_text(hub.meta)
    return ref


def wrapped_rows(units: list[Unit], wrap: int) -> dict[str, list[list[Unit]]]:
    """Cluster scope → rows of at most ``wrap`` time-step boxes, in data-flow order.

    Each row is later drawn at one rank (``rank=same``), so with the picture
    running top to bottom a long unroll reads like lines of text.
    """
    steps: dict[str, list[Unit]] = {}
    for unit in units:
        if unit.kind == "box" and (unit.elided is not None or STEP.fullmatch(unit.path.rsplit("/", 1)[-1])):
            steps.setdefault(unit.place, []).append(unit)
    return {place: [boxes[k:k + wrap] for k in range(0, len(boxes), wrap)]
            for place, boxes in steps.items()}
