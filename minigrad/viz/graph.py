"""Reading the recorded graph: the roots' tensors, the op nodes behind them, parameters.

Drawing only reads the graph. The walk is iterative (a 10,000-step unroll is
fine) and its order depends only on the graph, never on memory addresses.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from ..autograd import Function
from ..tensor import Tensor

# ops that, applied to parameters only, still give "a parameter" (e.g. weight_hh.T, bias_ih + bias_hh)
WEIGHT_OPS = frozenset({"transpose", "reshape", "add", "sub", "mul", "neg", "concat", "stack", "astype",
                        "to_device", "broadcast_to", "expand_dims", "squeeze", "swapaxes", "permute"})


def flatten(roots: Sequence[Any]) -> list[Tensor]:
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


def walk(tensors: Iterable[Tensor]) -> list[Function]:
    """Op nodes reachable from ``tensors`` in data-flow order (producers first), each once.

    An iterative depth-first post-order over ``node.edges``: an edge is
    ``(node, output index)`` for an op's output, the Tensor itself for a leaf
    and None for a constant.
    """
    return _walk_nodes([t._node for t in tensors if t._node is not None])


def _walk_nodes(starts: Iterable[Any]) -> list:
    order: list = []
    seen: set = set()
    for start in starts:
        if start in seen:
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


def is_parameter(tensor: Tensor) -> bool:
    """True for an ``nn.Parameter``, recognised by class name: minigrad never imports nn."""
    return any(cls.__name__ == "Parameter" for cls in type(tensor).__mro__)


def leaf_name(leaf: Tensor) -> str:
    """A leaf's name (a parameter's module path such as ``encoder.weight_hh_l0``), else its shape."""
    return leaf.name or f"{tuple(leaf.shape)}"


def weights_of(node: Function, weights_of_parent: dict[Function, list | None]) -> list | None:
    """The parameters ``node`` is computed from, if it reads nothing else (``weight_hh.T``).

    ``weights_of_parent`` maps the nodes already seen to their own answer.
    Only ops that merely rearrange or combine their inputs count: an op such
    as an embedding lookup keeps its data (the indices) out of ``edges``.
    """
    if node.name not in WEIGHT_OPS:
        return None
    weights: dict = {}   # keyed by identity (Tensor == is elementwise)
    for edge in node.edges:
        if edge is None:   # a constant: could be data (an input without grad)
            return None
        if type(edge) is tuple:
            parent = weights_of_parent.get(edge[0])
            if parent is None:
                return None
            weights.update(dict.fromkeys(parent))
        elif is_parameter(edge):
            weights[edge] = None
        else:
            return None
    return list(weights) or None


# --- replayed mg.compile calls, drawn as the ops they stand for ----------------------------------------

class CapturedOp:
    """One op inside a replayed ``mg.compile`` call, drawn as if it had run eagerly.

    ``call`` is the replay's node and ``first`` the index of the op's first
    output among the call's values (the key of its gradient norms);
    ``call_outputs`` lists which of the call's outputs this op makes.
    """

    __slots__ = ("name", "scope", "tag", "tags", "out_meta", "edges", "n_outputs", "multiple", "call", "first",
                 "call_outputs")

    def __init__(self, name: str, scope: str, out_meta: tuple, call: Function, first: int) -> None:
        self.name, self.scope, self.out_meta, self.call, self.first = name, scope, out_meta, call, first
        self.n_outputs = len(out_meta)
        self.multiple = self.n_outputs > 1
        self.tag: str | None = None
        self.tags: dict[int, str] = {}   # output index → tag, as tags_of
        self.edges: tuple = ()
        self.call_outputs: list[int] = []


class Rewired:
    """An op node whose inputs come from a replayed call: the same node, its edges pointing at captured ops."""

    __slots__ = ("source", "edges")

    def __init__(self, source: Function, edges: tuple) -> None:
        self.source, self.edges = source, edges

    def __getattr__(self, name: str) -> Any:   # name, scope, tag, out_meta, n_outputs, multiple
        return getattr(self.source, name)


def expand_captured(tensors: Sequence[Tensor], nodes: list[Function]) -> tuple[list, dict]:
    """The graph with every replayed ``mg.compile`` call replaced by its captured ops.

    ``nodes`` come from :func:`walk`. Returns the nodes of the expanded graph
    in the order the same walk gives it (so a captured and an eager run draw
    alike) and the roots as ``{node: output index}``. A call's ops get the
    scopes they had when captured, rebased on the scope the call ran in
    (``lstm/l0/t0/…`` captured, ``lstm/l0/t5/…`` replayed).
    """
    if not any(getattr(getattr(node, "program", None), "drawn", None) is not None for node in nodes):
        return nodes, {t._node: t._index for t in tensors if t._node is not None}
    moved: dict[tuple, Any] = {}   # (node, output index) → the edge that now stands for it

    def resolve(edge: Any) -> Any:
        return moved.get(edge, edge) if type(edge) is tuple else edge

    for node in nodes:
        drawn = getattr(getattr(node, "program", None), "drawn", None)
        if drawn is None:
            edges = tuple(resolve(e) for e in node.edges)
            if edges != node.edges:
                rewired = Rewired(node, edges)
                for i in range(node.n_outputs):
                    moved[(node, i)] = (rewired, i)
            continue
        _expand_call(node, drawn, resolve, moved)
    roots = [resolve((t._node, t._index)) for t in tensors if t._node is not None]
    starts = [root[0] for root in roots if type(root) is tuple]
    return _walk_nodes(starts), {root[0]: root[1] for root in roots if type(root) is tuple}


def tags_of(node: Any) -> dict[int, str]:
    """Output index → tag (``"h"``, ``"c"``) of an op node: each output of a multi-output op
    (a fused LSTM step making both h and c) has its own, a single-output op its ``tag``."""
    if isinstance(node, CapturedOp):
        return node.tags
    node = getattr(node, "source", node)   # a Rewired node: its source's
    if node.multiple and "output_tags" in node.__dict__:
        return node.__dict__["output_tags"]
    return {0: node.tag} if node.tag else {}


def drawn_tags(entry: tuple) -> dict[int, str]:
    """Output index → tag of one captured op (an entry of ``Program.drawn``): per output when the
    capture kept them (a fused cell's [h, c]), else its one tag, for its first output."""
    if entry[7]:
        return dict(entry[7])
    return {0: entry[6]} if entry[6] else {}


def _expand_call(node: Function, drawn: list, resolve: Any, moved: dict) -> None:
    program = node.program
    value_edge: dict[int, Any] = {i: resolve(edge) for i, edge in enumerate(node.edges)}
    tags = {program.outputs[j]: label for j, label in node.__dict__.get("output_tags", {}).items()}
    calls = {}
    for j, v in enumerate(program.outputs):
        calls.setdefault(v, []).append(j)
    base = program.scope
    for entry in drawn:
        name, scope, meta, inputs, first, recorded = entry[:6]
        if not recorded:   # made without gradient: a constant, as in eager mode
            continue
        rebased = node.scope + scope[len(base):] if scope.startswith(base) else scope
        op = CapturedOp(name, rebased, meta, node, first)
        inner = drawn_tags(entry)   # set inside the captured function; the caller may tag its outputs
        op.tag = entry[6] if len(entry) > 6 else None
        op.edges = tuple(value_edge.get(v) for v in inputs)
        for i in range(op.n_outputs):
            value_edge[first + i] = (op, i)
            op.call_outputs += calls.get(first + i, [])
            label = tags.get(first + i, inner.get(i))
            if label is not None:
                op.tags[i] = op.tag = label
    for j, v in enumerate(program.outputs):
        moved[(node, j)] = value_edge.get(v)
