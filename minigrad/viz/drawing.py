"""Draw the recorded graph of a computation with Graphviz: see BPTT happen.

``draw(loss)`` walks the graph from its roots (iteratively, each node once)
and returns a ``graphviz.Digraph``:

* one box per op (op name, output shape, dtype) and one node per leaf tensor
  that requires grad (a parameter's module path such as
  ``encoder.weight_hh_l0``, or an input's name or shape); edges run in the
  direction data flows;
* one nested cluster per name scope (``lstm`` ⊃ ``l0`` ⊃ ``t3``), labelled with
  the scope's last component, so an unrolled recurrent layer reads as a row of
  time steps;
* ``params="ghost"``: a leaf used in several places is drawn as a small dashed
  copy beside each use. One shared node per weight would pull an edge from
  every time step to one point, and Graphviz's layout time explodes with those
  long edges; copies keep every edge local;
* ``collapse``: fold scopes into single boxes (op count and output shape
  inside) so that a 1,000-step unroll stays a readable chain;
* ``show_grads``: after ``loss.backward(retain_graph=True, retain_grads=True)``
  every edge is coloured and labelled by the norm of the gradient that flowed
  along it (log colour scale, with a legend) and each time step shows
  ‖∂L/∂h_t‖, read from the op tagged ``"h"`` in that step
  (:func:`minigrad.autograd.tag`). A plain RNN's gradient fades step by step;
  an LSTM's does not.

Node ids are numbered afresh in every call in walk order, so the same graph
always gives byte-identical DOT text. Drawing only reads the graph.

``render(loss, path="graph", format="svg")`` writes the picture (``"dot"``
needs no Graphviz binary). ``python -m minigrad.viz --help`` draws a built-in
model from the command line.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import subprocess
import sys
from typing import Any, Iterable, Sequence

import graphviz
import numpy

from .autograd import Function
from .tensor import Tensor

__all__ = ["DotNotFoundError", "FORMATS", "Graph", "draw", "render", "main"]

FORMATS = ("svg", "png", "pdf", "dot")

_STEP = re.compile(r"t\d+")
_INSTALL_HINT = (
    "install Graphviz: `apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS) "
    "or `conda install graphviz`"
)

# Gradient colour scale, small → large norm: faded grey-blue to dark red.
_PALETTE = ("#c8d0dc", "#8fb3d9", "#3d7cc9", "#6a3fa0", "#c2185b", "#b71c1c")
_NO_GRAD_COLOR = "#b0b0b0"


class DotNotFoundError(RuntimeError):
    """The Graphviz ``dot`` binary is needed (to render SVG/PNG/PDF) but is not installed."""


class Graph(graphviz.Digraph):
    """The ``graphviz.Digraph`` that :func:`draw` returns.

    It displays inline in Jupyter (as SVG) like any Digraph; without the
    ``dot`` binary it shows the DOT text and how to install Graphviz instead
    of a traceback.
    """

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict:
        try:
            return super()._repr_mimebundle_(include, exclude, **kwargs)
        except graphviz.ExecutableNotFound:
            return {"text/plain": f"(no Graphviz 'dot' binary to draw this graph: {_INSTALL_HINT})\n{self.source}"}


# --- walking the recorded graph ---------------------------------------------

def _flatten(roots: Sequence[Any]) -> list[Tensor]:
    """Tensors from ``roots``, which may nest lists/tuples (e.g. ``(output, (h, c))``)."""
    tensors: list[Tensor] = []
    stack = list(reversed(roots))
    while stack:
        item = stack.pop()
        if isinstance(item, Tensor):
            tensors.append(item)
        elif isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        else:
            raise TypeError(f"draw: roots must be Tensors (or lists/tuples of them), got {type(item).__name__}")
    return tensors


def _walk(tensors: Iterable[Tensor]) -> list[Function]:
    """Op nodes reachable from ``tensors`` in data-flow order (producers first), each once.

    An iterative depth-first post-order over ``node.edges``: no recursion, so
    a 10,000-step unroll is fine, and the order depends only on the graph.
    """
    order: list[Function] = []
    seen: set[Function] = set()
    for tensor in tensors:
        start = tensor._node
        if start is None or start in seen:
            continue
        seen.add(start)
        stack = [(start, 0)]
        while stack:
            node, i = stack[-1]
            edges = node.edges
            while i < len(edges):
                edge = edges[i]
                i += 1
                if type(edge) is tuple and edge[0] not in seen:
                    seen.add(edge[0])
                    stack[-1] = (node, i)
                    stack.append((edge[0], 0))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def _is_parameter(tensor: Tensor) -> bool:
    # nn.Parameter, recognised by name: minigrad never imports nn.
    return any(cls.__name__ == "Parameter" for cls in type(tensor).__mro__)


# --- labels -------------------------------------------------------------------

def _escape(text: str) -> str:
    return text.replace("\\", "\\\\")


def _shape_text(shape: Any, dtype: Any) -> str:
    return f"{tuple(int(d) for d in shape)} {numpy.dtype(dtype).name}"


def _meta_text(metas: Sequence[tuple]) -> str:
    texts = [_shape_text(shape, dtype) for shape, dtype in metas]
    if not texts:
        return ""
    if len(set(texts)) == 1:
        return texts[0] if len(texts) == 1 else f"{len(texts)} × {texts[0]}"
    distinct = list(dict.fromkeys(texts))
    return "\\n".join(distinct[:3]) + ("\\n…" if len(distinct) > 3 else "")


def _norm_text(value: float) -> str:
    return "0" if value == 0 else f"{value:.1e}"


class _Scale:
    """Log-scale colours for gradient norms between the smallest and largest seen."""

    def __init__(self, values: Iterable[float]) -> None:
        logs = [math.log10(v) for v in values if v is not None and v > 0 and math.isfinite(v)]
        self.low = math.floor(min(logs)) if logs else 0.0
        self.high = math.ceil(max(logs)) if logs else 1.0
        if self.high <= self.low:
            self.high = self.low + 1

    def fraction(self, value: float) -> float:
        position = (math.log10(value) - self.low) / (self.high - self.low)
        return min(1.0, max(0.0, position))

    def color(self, value: float | None) -> str:
        if value is None or value <= 0 or not math.isfinite(value):
            return _NO_GRAD_COLOR
        position = self.fraction(value) * (len(_PALETTE) - 1)
        k = min(int(position), len(_PALETTE) - 2)
        w = position - k
        a, b = _PALETTE[k], _PALETTE[k + 1]
        rgb = [round((1 - w) * int(a[i:i + 2], 16) + w * int(b[i:i + 2], 16)) for i in (1, 3, 5)]
        return "#" + "".join(f"{c:02x}" for c in rgb)

    def width(self, value: float | None) -> str:
        if value is None or value <= 0 or not math.isfinite(value):
            return "0.8"
        return f"{0.8 + 2.7 * self.fraction(value):.2f}"

    def legend(self) -> str:
        """An HTML-like Graphviz label: one coloured cell per power of ten."""
        steps = int(self.high - self.low)
        stride = max(1, math.ceil(steps / 8))
        exponents = range(int(self.low), int(self.high) + 1, stride)
        cells = "".join(
            f'<td bgcolor="{self.color(10.0 ** e)}"><font point-size="9">1e{e}</font></td>' for e in exponents
        )
        return (
            '<<table border="0" cellborder="1" cellspacing="0" cellpadding="4">'
            f'<tr><td colspan="{len(exponents)}">gradient norm along each edge (log scale)</td></tr>'
            f"<tr>{cells}</tr></table>>"
        )


# --- folding scopes -----------------------------------------------------------

def _folder(collapse: Any, scopes: Iterable[str]) -> Any:
    """A function scope → path of the box it folds into (None: not folded)."""
    if collapse is None:
        return lambda scope: None
    if isinstance(collapse, bool) or not isinstance(collapse, (int, str, list, tuple)):
        raise TypeError(
            f"draw: collapse must be None, an int (scope levels kept open), 'steps' or a scope path, "
            f"got {collapse!r}"
        )
    if isinstance(collapse, int):
        if collapse < 0:
            raise ValueError(f"draw: collapse={collapse} must be >= 0 (the number of scope levels kept open)")

        def by_depth(scope: str) -> str | None:
            parts = scope.split("/") if scope else []
            return "/".join(parts[:collapse + 1]) if len(parts) > collapse else None

        return by_depth
    if collapse == "steps":

        def by_step(scope: str) -> str | None:
            parts = scope.split("/") if scope else []
            for k, part in enumerate(parts):
                if _STEP.fullmatch(part):
                    return "/".join(parts[:k + 1])
            return None

        return by_step
    paths = [collapse] if isinstance(collapse, str) else list(collapse)
    wanted = []
    for path in paths:
        if not isinstance(path, str) or not path.strip("/"):
            raise ValueError(f"draw: collapse scope paths must be non-empty strings, got {path!r}")
        wanted.append(path.strip("/").split("/"))

    def by_path(scope: str) -> str | None:
        for pattern in wanted:
            match = _match_scope(scope, pattern)
            if match is not None:
                return match
        return None

    known = [s for s in scopes if s]
    for pattern in wanted:
        if not any(_match_scope(s, pattern) is not None for s in known):
            outer = sorted({"/".join(s.split("/")[:2]) for s in known})
            raise ValueError(
                f"draw: collapse={'/'.join(pattern)!r} matches no name scope in this graph; "
                f"scopes include: {', '.join(outer) or '(none)'}"
            )
    return by_path


def _match_scope(scope: str, pattern: list[str]) -> str | None:
    """The part of ``scope`` that ends with ``pattern``, matched from the top
    (``seq2seq/encoder``) or at any depth (``encoder``); None if absent."""
    parts = scope.split("/") if scope else []
    n = len(pattern)
    for k in range(len(parts) - n + 1):
        if parts[k:k + n] == pattern:
            return "/".join(parts[:k + n])
    return None


def _enclosing_step(scope: str) -> str | None:
    """The deepest time-step scope (last part ``t{t}``) that contains ``scope``."""
    parts = scope.split("/") if scope else []
    for k in range(len(parts), 0, -1):
        if _STEP.fullmatch(parts[k - 1]):
            return "/".join(parts[:k])
    return None


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def _common_scope(scopes: Sequence[str]) -> str:
    parts = scopes[0].split("/") if scopes[0] else []
    for scope in scopes[1:]:
        other = scope.split("/") if scope else []
        k = 0
        while k < min(len(parts), len(other)) and parts[k] == other[k]:
            k += 1
        parts = parts[:k]
    return "/".join(parts)


# --- drawing --------------------------------------------------------------------

_HUB_LIMIT = 3   # an op linked to more than this many other scopes is drawn with references
# ops that, applied to parameters only, still give "a parameter" (e.g. weight_hh.T, bias_ih + bias_hh)
_WEIGHT_OPS = frozenset({"transpose", "reshape", "add", "sub", "mul", "neg", "concat", "stack", "astype",
                         "to_device", "broadcast_to", "expand_dims", "squeeze", "swapaxes"})


class _Unit:
    """One drawn node: an op, a folded scope (box), a leaf, a ghost copy of a leaf, or a
    reference (a dashed stand-in, next to a time step, for an op that many steps share)."""

    __slots__ = ("kind", "place", "home", "order", "title", "path", "leaf", "weights", "meta", "label", "attrs", "ops",
                 "params", "outputs", "node_id", "is_root")

    def __init__(self, kind: str, place: str, home: str, order: tuple) -> None:
        self.kind = kind
        self.place = place        # the scope of the cluster that holds it ("" when ungrouped)
        self.home = home          # its own scope (a box: the folded path), used to find hubs
        self.order = order        # sort key: where it comes in the DOT text
        self.title = ""           # op name or box name, for references
        self.path = ""            # box: the folded scope
        self.leaf: Any = None     # leaf / ghost: the tensor
        self.weights: list | None = None   # op computed from parameters only (e.g. weight_hh.T): them
        self.meta: tuple = ()     # op: its node's out_meta
        self.label = ""
        self.attrs: dict = {}
        self.ops = 0
        self.params: dict = {}
        self.outputs: list = []
        self.node_id = ""
        self.is_root = False


class _Edges(dict):
    """(tail unit, head unit) → [count, gradient norms, output indices, anchor?]."""

    def add(self, tail: _Unit, head: _Unit, norms: list, indices: list, count: int = 1) -> None:
        entry = self.get((tail, head))
        if entry is None:
            entry = self[(tail, head)] = [0, [], [], False]
        entry[0] += count
        entry[1].extend(norms)
        entry[2].extend(i for i in indices if i not in entry[2])


def draw(*roots: Any, group: str | None = "scope", collapse: int | str | Sequence[str] | None = None,
         params: str = "ghost", show_shapes: bool = True, show_grads: bool = False,
         rankdir: str = "LR") -> graphviz.Digraph:
    """Draw the graph that produced ``roots`` (e.g. a loss, or ``output, h_n``).

    Args:
        roots: Tensors (or nested lists/tuples of them) whose history is drawn.
        group: ``"scope"``: one nested cluster per name scope; ``None``: no clusters.
        collapse: ``None`` (every op), an int N (keep N scope levels open, fold each
            scope at level N+1 into one box), ``"steps"`` (fold every ``t{t}`` scope)
            or a scope path / list of paths (fold just those, e.g. ``"encoder"``).
        params: ``"ghost"``: a leaf used in several places is drawn as a dashed
            copy at each use, and an op linked to many time steps (the ``unbind``
            of a layer's inputs, the ``stack`` of its outputs) as a dashed
            reference in each step, with one dashed anchor edge to the real node:
            long edges are what makes Graphviz's layout slow. ``"single"``: one
            node per leaf and every edge drawn as is.
        show_shapes: write output shapes and dtypes in the labels.
        show_grads: colour and label edges by gradient norm; needs
            ``loss.backward(retain_graph=True, retain_grads=True)`` first.
        rankdir: Graphviz direction, ``"LR"`` (time runs left to right), ``"TB"``, ...

    Returns:
        A :class:`Graph` (a ``graphviz.Digraph``): ``.source`` is the DOT text;
        it displays inline in Jupyter.
    """
    if group not in ("scope", None):
        raise ValueError(f"draw: group must be 'scope' or None, got {group!r}")
    if params not in ("ghost", "single"):
        raise ValueError(f"draw: params must be 'ghost' or 'single', got {params!r}")
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"draw: rankdir must be one of LR, RL, TB, BT, got {rankdir!r}")
    tensors = _flatten(roots)
    nodes = _walk(tensors)
    root_leaves = [t for t in tensors if t._node is None and t.requires_grad]
    if not nodes and not root_leaves:
        raise ValueError(
            "draw: nothing to draw: the roots have no recorded history (were they computed under "
            "no_grad, or from tensors without requires_grad=True?)"
        )
    if show_grads and not any(node.input_grad_norms is not None for node in nodes):
        raise RuntimeError(
            "draw(show_grads=True): no gradient norms are recorded on this graph; call "
            "loss.backward(retain_graph=True, retain_grads=True) before drawing"
        )
    fold = _folder(collapse, dict.fromkeys(node.scope for node in nodes))
    ghost = params == "ghost"
    roots_of = {t._node: t._index for t in tensors if t._node is not None}

    units, unit_of, edges, leaf_uses = _collect(nodes, fold, group == "scope", roots_of, show_grads)
    units += _place_leaves(leaf_uses, root_leaves, edges, ghost, len(nodes))
    if ghost:
        units += _reference_hubs(edges, show_shapes)

    # Number every unit in one stable order: ids never depend on memory addresses.
    units.sort(key=lambda u: u.order)
    counters = dict.fromkeys("nbpgr", 0)
    for unit in units:
        letter = {"op": "n", "box": "b", "leaf": "p", "ghost": "g", "ref": "r"}[unit.kind]
        unit.node_id = f"{letter}{counters[letter]}"
        counters[letter] += 1
    # edges in the order of their heads, then tails: stable, and reads like the walk
    ordered = sorted(edges.items(), key=lambda item: (item[0][1].order, item[0][0].order))

    # ‖∂L/∂h‖ per scope: from the op tagged "h" in it, for a time step also from one
    # nested deeper (a cell module called inside t3: "t3/lstmcell"); the last one wins
    h_norms: dict[str, float] = {}
    scale = None
    if show_grads:
        for node in nodes:
            if node.tag == "h" and node.grad_norms and node.grad_norms[0] is not None:
                h_norms[node.scope] = node.grad_norms[0]
                step = _enclosing_step(node.scope)
                if step is not None:
                    h_norms[step] = node.grad_norms[0]
        scale = _Scale([_combined(entry[1]) for entry in edges.values()] + list(h_norms.values()))

    for node, unit in unit_of.items():
        if unit.kind == "op":
            _label_op(unit, node, show_shapes, node in roots_of)
    for unit in units:
        if unit.kind == "box":
            _label_box(unit, show_shapes, h_norms.get(unit.path), scale)
        elif unit.kind in ("leaf", "ghost"):
            _label_leaf(unit, show_shapes)

    graph = Graph(
        "minigrad",
        graph_attr={"rankdir": rankdir, "fontname": "Helvetica", "fontsize": "11", "nodesep": "0.15",
                    "ranksep": "0.25"},
        node_attr={"shape": "box", "style": "rounded", "fontname": "Helvetica", "fontsize": "10",
                   "height": "0.3", "margin": "0.06,0.03"},
        edge_attr={"arrowsize": "0.6", "fontname": "Helvetica", "fontsize": "8"},
    )
    _emit_clusters(graph, units, h_norms, scale)
    for (tail, head), (count, norms, indices, anchor) in ordered:
        boxed = tail.kind == "box" or head.kind == "box"
        graph.edge(tail.node_id, head.node_id, **_edge_attrs(count, norms, indices, anchor, scale, boxed))
    if scale is not None:
        graph.node("legend", label=scale.legend(), shape="plaintext", style="")
    return graph


def _collect(nodes: list[Function], fold: Any, scoped: bool, roots_of: dict,
             show_grads: bool) -> tuple[list[_Unit], dict, _Edges, dict]:
    """Pass 1: every op becomes its own unit or joins the box of its folded scope."""
    units: list[_Unit] = []
    boxes: dict[str, _Unit] = {}
    unit_of: dict[Function, _Unit] = {}
    edges = _Edges()
    leaf_uses: dict[Tensor, list] = {}         # leaf → [(consumer unit, norm)] in walk order
    for position, node in enumerate(nodes):
        box_path = fold(node.scope)
        if box_path is None:
            unit = _Unit("op", node.scope if scoped else "", node.scope, (position, 1))
            unit.title = node.name
            unit.meta = node.out_meta
            unit.weights = _weights_of(node, unit_of)
            if unit.weights is not None:
                names = [_leaf_name(w) for w in unit.weights]
                unit.title = f"{node.name}({', '.join(names[:2])}{', …' if len(names) > 2 else ''})"
            units.append(unit)
        else:
            unit = boxes.get(box_path)
            if unit is None:
                unit = boxes[box_path] = _Unit("box", _parent(box_path) if scoped else "", box_path, (position, 1))
                unit.path = unit.title = box_path
                units.append(unit)
        unit.ops += 1
        unit_of[node] = unit
        if node in roots_of:
            unit.is_root = True
            if unit.kind == "box":
                unit.outputs.append(node.out_meta[roots_of[node]])
        norms = node.input_grad_norms if show_grads else None
        for j, edge in enumerate(node.edges):
            if edge is None:
                continue
            norm = norms[j] if norms is not None and j < len(norms) else None
            if type(edge) is tuple:
                parent, index = edge
                source = unit_of[parent]
                if source is unit:
                    continue
                if source.kind == "box":
                    source.outputs.append(parent.out_meta[index])
                multi = source.kind == "op" and parent.n_outputs > 1
                edges.add(source, unit, [norm], [index] if multi else [])
            else:
                leaf_uses.setdefault(edge, []).append((unit, norm))
    return units, unit_of, edges, leaf_uses


def _weights_of(node: Function, unit_of: dict) -> list | None:
    """The parameters ``node`` is computed from, if it reads nothing else (``weight_hh.T``).

    Only ops that merely rearrange or combine their inputs count: an op such
    as an embedding lookup keeps its data (the indices) out of ``edges``.
    """
    if node.name not in _WEIGHT_OPS:
        return None
    weights: dict = {}   # keyed by identity (Tensor == is elementwise)
    for edge in node.edges:
        if edge is None:   # a constant: could be data (an input without grad)
            return None
        if type(edge) is tuple:
            parent = unit_of[edge[0]]
            if parent.weights is None:
                return None
            weights.update(dict.fromkeys(parent.weights))
        elif _is_parameter(edge):
            weights[edge] = None
        else:
            return None
    return list(weights) or None


def _leaf_name(leaf: Tensor) -> str:
    return leaf.name or f"{tuple(leaf.shape)}"


def _place_leaves(leaf_uses: dict, root_leaves: list, edges: _Edges, ghost: bool, end: int) -> list[_Unit]:
    """Pass 2: leaf nodes. In ghost mode a parameter used inside a folded box
    belongs to the box, and a leaf used by several units gets a copy at each."""
    placed: dict[Any, _Unit] = {}
    for k, (leaf, uses) in enumerate(leaf_uses.items()):
        if ghost and _is_parameter(leaf):
            for consumer, _ in uses:
                if consumer.kind == "box":
                    consumer.params[leaf] = None
            uses = [(c, n) for c, n in uses if c.kind != "box"]
            if not uses:
                continue
        consumers = list(dict.fromkeys(c for c, _ in uses))
        if ghost and len(consumers) > 1:
            for consumer in consumers:
                copy = placed[(leaf, consumer)] = _Unit("ghost", consumer.place, "", (consumer.order[0], 0, k))
                copy.leaf = leaf
            for consumer, norm in uses:
                edges.add(placed[(leaf, consumer)], consumer, [norm], [])
        else:
            single = _Unit("leaf", _common_scope([c.place for c in consumers]), "", (consumers[0].order[0], 0, k))
            single.leaf = leaf
            placed[leaf] = single
            for consumer, norm in uses:
                edges.add(single, consumer, [norm], [])
    for k, leaf in enumerate(root_leaves):
        if leaf not in placed:
            alone = placed[leaf] = _Unit("leaf", "", "", (end, 0, k))
            alone.leaf = leaf
            alone.is_root = True
    return list(placed.values())


def _reference_hubs(edges: _Edges, show_shapes: bool) -> list[_Unit]:
    """Replace the long edges of hub ops by short edges to dashed references.

    A hub is an op (or box) whose inputs come from, or whose outputs go to,
    more than ``_HUB_LIMIT`` other scopes: the ``stack`` of all time steps'
    outputs, the ``unbind`` of a projected input sequence. Each such edge to
    an op is drawn to a reference beside that op; an edge to a folded box is
    left out (the box stands for its ops). One dashed anchor edge, labelled
    with the number of scopes the hub links to, ties the hub to the nearest
    reference or box, so the hub keeps its place in the layout.
    """
    sources: dict[_Unit, dict] = {}
    targets: dict[_Unit, dict] = {}
    for tail, head in edges:
        if tail.kind in ("op", "box") and tail.home != head.home:
            sources.setdefault(head, {})[tail.home] = None
            targets.setdefault(tail, {})[head.home] = None
    fan_in = {u for u, homes in sources.items() if len(homes) > _HUB_LIMIT}
    fan_out = {u for u, homes in targets.items() if len(homes) > (1 if u.weights else _HUB_LIMIT)}
    if not fan_in and not fan_out:
        return []
    refs: dict[tuple, _Unit] = {}
    partners: dict[tuple, dict[_Unit, None]] = {}   # (hub, side) → stand-ins (refs or boxes)
    for (tail, head), (count, norms, indices, _) in list(edges.items()):
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
                order = (partner.order[0], 2, len(refs)) if side == "in" else (partner.order[0], 0, -1, len(refs))
                stand_in = refs[(hub, side, partner.home)] = _Unit("ref", partner.place, partner.home, order)
                name = hub.title.rsplit("/", 1)[-1]
                stand_in.label = _escape(f"to {name}" if side == "in" else name if hub.weights else f"from {name}")
                stand_in.attrs = {"style": "dashed,rounded", "fontsize": "8", "height": "0.2",
                                  "color": "#888888", "fontcolor": "#555555"}
                if hub.weights:   # drawn like a ghost parameter
                    stand_in.attrs.update(style="dashed,filled", fillcolor="#fff4cc", fontcolor="#000000")
                    if show_shapes:
                        stand_in.label += "\\n" + _meta_text(hub.meta)
            if side == "in":
                edges.add(partner, stand_in, norms, indices, count)
            else:
                edges.add(stand_in, partner, norms, indices, count)
        partners.setdefault((hub, side), {})[stand_in] = None
    for (hub, side), stand_ins in partners.items():
        if side == "in":
            key = (max(stand_ins, key=lambda u: u.order), hub)
        else:
            key = (hub, min(stand_ins, key=lambda u: u.order))
        edges.add(*key, [], [], len(stand_ins))
        edges[key][3] = True
    return list(refs.values())


def _edge_attrs(count: int, norms: list, indices: list, anchor: bool, scale: _Scale | None,
                boxed: bool) -> dict[str, str]:
    """Style of one edge. Gradient labels between boxes get room in the layout
    (``label``); other labels are placed after layout (``xlabel``), which keeps
    big graphs fast."""
    if anchor:   # count: how many scopes the hub links to
        return {"style": "dashed", "color": "#999999", "arrowhead": "none", "xlabel": f"×{count}",
                "fontcolor": "#777777"}
    attrs: dict[str, str] = {}
    texts = []
    if indices:
        attrs["taillabel"] = ",".join(str(i) for i in indices)
    if count > 1:
        texts.append(f"×{count}")
    if scale is not None:
        value = _combined(norms)
        attrs["color"] = scale.color(value)
        attrs["penwidth"] = scale.width(value)
        if value is None:
            attrs["style"] = "dashed"
        else:
            texts.append(_norm_text(value))
            attrs["fontcolor"] = attrs["color"]
    if texts:
        # a gradient norm between boxes gets room in the layout; the rest is placed afterwards
        roomy = boxed and scale is not None
        attrs["label" if roomy else "xlabel"] = " ".join(texts)
    return attrs


def _combined(norms: Sequence[float | None]) -> float | None:
    """Norm of several gradients taken together (None if none flowed)."""
    values = [n for n in norms if n is not None]
    if not values:
        return None
    return math.sqrt(sum(v * v for v in values))


def _label_op(unit: _Unit, node: Function, show_shapes: bool, is_root: bool) -> None:
    title = node.name + (f"  [{node.tag}]" if node.tag else "")
    lines = [_escape(title)]
    if show_shapes and node.out_meta:
        lines.append(_meta_text(node.out_meta))
    unit.label = "\\n".join(lines)
    if node.tag == "h":
        unit.attrs = {"style": "rounded,filled", "fillcolor": "#dbe9f6"}
    if is_root:
        unit.attrs = {**unit.attrs, "penwidth": "2"}


def _label_box(unit: _Unit, show_shapes: bool, h_norm: float | None, scale: _Scale | None) -> None:
    path = unit.path
    count = f"{unit.ops} op" + ("s" if unit.ops != 1 else "")
    if unit.params:
        count += f", {len(unit.params)} param" + ("s" if len(unit.params) != 1 else "")
    lines = [_escape(path.rsplit("/", 1)[-1]), count]
    if show_shapes and unit.outputs:
        lines.append(_meta_text(list(dict.fromkeys(unit.outputs))))
    attrs = {"shape": "box", "style": "rounded,filled", "fillcolor": "#f2f2f2", "tooltip": _escape(path)}
    if h_norm is not None and scale is not None:
        lines.append(f"‖∂L/∂h‖ {_norm_text(h_norm)}")
        attrs["color"] = scale.color(h_norm)
        attrs["penwidth"] = "2"
    if unit.is_root:
        attrs["penwidth"] = "2"
    unit.label = "\\n".join(lines)
    unit.attrs = attrs


def _label_leaf(unit: _Unit, show_shapes: bool) -> None:
    leaf: Tensor = unit.leaf
    parameter = _is_parameter(leaf)
    name = leaf.name
    lines = [_escape(str(name))] if name else []
    if show_shapes or not lines:
        lines.append(_shape_text(leaf.shape, leaf.dtype) if show_shapes else "leaf")
    unit.label = "\\n".join(lines)
    fill = "#fff4cc" if parameter else "#e3f2e1"
    if unit.kind == "ghost":
        unit.attrs = {"style": "dashed,filled", "fillcolor": fill, "fontsize": "8", "height": "0.2",
                      "color": "#888888"}
    else:
        unit.attrs = {"style": "filled", "fillcolor": fill, "shape": "box" if parameter else "ellipse"}
    if unit.is_root:
        unit.attrs["penwidth"] = "2"


def _emit_clusters(graph: graphviz.Digraph, units: list[_Unit], h_norms: dict, scale: _Scale | None) -> None:
    """State every unit inside its (nested) scope cluster, in unit order."""
    members: dict[str, list[_Unit]] = {}
    children: dict[str, list[str]] = {"": []}
    for unit in units:
        members.setdefault(unit.place, []).append(unit)
        path = unit.place
        # register the cluster and its ancestors, parents first
        chain = []
        while path and path not in children:
            chain.append(path)
            path = _parent(path)
        for path in reversed(chain):
            children[path] = []
            children[_parent(path)].append(path)
    names: dict[str, str] = {}
    taken: set[str] = set()
    for path in children:
        if not path:
            continue
        base = "cluster_" + re.sub(r"\W", "_", path, flags=re.ASCII)
        name, k = base, 1
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        taken.add(name)
        names[path] = name

    def fill(target: graphviz.Digraph, path: str) -> None:
        for unit in members.get(path, ()):
            target.node(unit.node_id, label=unit.label, **unit.attrs)
        for child in children[path]:
            label = child.rsplit("/", 1)[-1]
            attrs = {"label": _escape(label), "style": "rounded", "color": "#9e9e9e", "fontsize": "10",
                     "tooltip": _escape(child)}
            if scale is not None and child in h_norms:
                attrs["label"] = f"{_escape(label)}\\n‖∂L/∂h‖ {_norm_text(h_norms[child])}"
                attrs["color"] = scale.color(h_norms[child])
                attrs["penwidth"] = "2"
            sub = graphviz.Digraph(names[child], graph_attr=attrs)
            fill(sub, child)   # depth = scope nesting depth (a handful)
            target.subgraph(sub)

    fill(graph, "")


# --- writing files ----------------------------------------------------------------

def render(*roots: Any, path: str | os.PathLike, format: str = "svg", **draw_kwargs: Any) -> str:
    """Draw ``roots`` (see :func:`draw`) and write the picture; return the path written.

    ``path`` is used as is when it ends in ``.{format}``, else ``.{format}`` is
    appended. ``format="dot"`` writes the DOT text and needs no Graphviz
    binary; ``"svg"``, ``"png"`` and ``"pdf"`` run ``dot`` and raise
    :class:`DotNotFoundError` (saying how to install it) when it is missing.
    """
    if format not in FORMATS:
        raise ValueError(f"render: format must be one of {', '.join(FORMATS)}, got {format!r}")
    target = os.fspath(path)
    if not target.endswith("." + format):
        target = f"{target}.{format}"
    if format != "dot" and shutil.which("dot") is None:
        raise DotNotFoundError(
            f"render: format={format!r} needs the Graphviz 'dot' binary, which is not on PATH; "
            f"{_INSTALL_HINT}; or pass format='dot' to write the DOT text only"
        )
    source = draw(*roots, **draw_kwargs).source
    if format == "dot":
        data = source.encode("utf-8")
    else:
        result = subprocess.run(["dot", f"-T{format}"], input=source.encode("utf-8"), capture_output=True)
        if result.returncode != 0:
            raise RuntimeError(f"render: dot -T{format} failed: {result.stderr.decode(errors='replace').strip()}")
        data = result.stdout
    folder = os.path.dirname(target)
    if folder:
        os.makedirs(folder, exist_ok=True)
    with open(target, "wb") as file:
        file.write(data)
    return target


# --- command line -----------------------------------------------------------------

def _collapse_arg(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m minigrad.viz",
        description="Render the unrolled computational graph of a built-in recurrent model.",
    )
    parser.add_argument("--model", choices=("rnn", "lstm", "gru", "seq2seq"), default="lstm")
    parser.add_argument("--steps", type=int, default=3, help="time steps T to unroll (default 3)")
    parser.add_argument("--hidden", type=int, default=8, help="hidden size H (default 8)")
    parser.add_argument("--layers", type=int, default=1, help="stacked layers (default 1)")
    parser.add_argument("--bidirectional", action="store_true")
    parser.add_argument("--batch", type=int, default=2, help="batch size B (default 2)")
    parser.add_argument("--input-size", type=int, default=4, help="input features I (default 4)")
    parser.add_argument("--collapse", type=_collapse_arg, default=None,
                        help="N (keep N scope levels open), 'steps', or a scope path such as 'encoder'")
    parser.add_argument("--params", choices=("ghost", "single"), default="ghost")
    parser.add_argument("--grads", action="store_true",
                        help="run backward and colour edges by gradient norm (loss: sum of the last output)")
    parser.add_argument("--no-shapes", action="store_true", help="leave shapes and dtypes out of the labels")
    parser.add_argument("--rankdir", choices=("LR", "TB"), default="LR")
    parser.add_argument("--format", choices=FORMATS, default="svg")
    parser.add_argument("--out", default=None, help="output path (default runs/viz/<model>.<format>)")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def _run_model(args: argparse.Namespace) -> Tensor:
    """Build the named model, run it forward and return the loss (its last output, summed)."""
    import minigrad as mg
    import nn

    mg.manual_seed(args.seed)
    steps, batch = args.steps, args.batch
    if args.model in ("rnn", "lstm", "gru"):
        layer_class = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[args.model]
        model = layer_class(args.input_size, args.hidden, num_layers=args.layers, bidirectional=args.bidirectional)
        output, _ = model(mg.randn(steps, batch, args.input_size))
        return output[-1].sum()
    return _seq2seq_loss(args, mg, nn)


def _seq2seq_loss(args: argparse.Namespace, mg: Any, nn: Any) -> Tensor:
    """A small encoder–decoder: embedding + LSTM encoder, LSTM decoder + linear, cross-entropy."""
    vocab = 12
    directions = 2 if args.bidirectional else 1

    class Seq2Seq(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = nn.Embedding(vocab, args.input_size)
            self.encoder = nn.LSTM(args.input_size, args.hidden, num_layers=args.layers,
                                   bidirectional=args.bidirectional)
            self.decoder = nn.LSTM(args.input_size, args.hidden, num_layers=args.layers)
            self.output = nn.Linear(args.hidden, vocab)

        def forward(self, source: Tensor, target_in: Tensor) -> Tensor:
            _, (h, c) = self.encoder(self.embedding(source))
            if directions == 2:   # sum the two directions of each layer: (2L, B, H) → (L, B, H)
                h = h.reshape(args.layers, 2, *h.shape[1:]).sum(axis=1)
                c = c.reshape(args.layers, 2, *c.shape[1:]).sum(axis=1)
            decoded, _ = self.decoder(self.embedding(target_in), (h, c))
            return self.output(decoded)

    model = Seq2Seq()
    source = mg.randint(1, vocab, (args.steps, args.batch))
    target = mg.randint(1, vocab, (args.steps, args.batch))
    logits = model(source, target)
    return nn.functional.cross_entropy(logits.reshape(-1, vocab), target.reshape(-1))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m minigrad.viz``: build, run and draw a model; print where the picture went."""
    args = _parser().parse_args(argv)
    if args.steps < 1 or args.hidden < 1 or args.layers < 1 or args.batch < 1 or args.input_size < 1:
        print("minigrad.viz: --steps, --hidden, --layers, --batch and --input-size must be >= 1", file=sys.stderr)
        return 2
    out = args.out or os.path.join("runs", "viz", f"{args.model}.{args.format}")
    loss = _run_model(args)
    if args.grads:
        loss.backward(retain_graph=True, retain_grads=True)
    try:
        written = render(loss, path=out, format=args.format, collapse=args.collapse, params=args.params,
                         show_shapes=not args.no_shapes, show_grads=args.grads, rankdir=args.rankdir)
    except (DotNotFoundError, ValueError) as error:
        print(f"minigrad.viz: {error}", file=sys.stderr)
        return 1
    print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
