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
