"""Gradient norms for ``draw(show_grads=True)``, taken by observing a backward walk.

The drawing never reads or writes ``.grad``: it walks the retained graph
again with an observer (:func:`minigrad.autograd.observe_backward`) that sees,
per op, the gradients of its outputs and the gradients it sends to each input,
and keeps only their norms. So ``draw(show_grads=True)`` works after a plain
``loss.backward(retain_graph=True)`` (or before any backward) and leaves every
``.grad`` as it was.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, Sequence

from .. import autograd
from ..autograd import Function
from ..tensor import Tensor
from .graph import CapturedOp, drawn_tags, tags_of
from .scopes import common_scope


def norm(g: Any) -> float | None:
    """The 2-norm of one gradient array, None where no gradient flowed.

    Taken as ``m·‖g/m‖`` with ``m = max|g|``, so a float64 gradient as small as
    1e-300 (a long vanishing unroll) or as large as 1e300 keeps its true norm
    instead of 0 or inf (its squares would underflow or overflow); only a
    gradient that is exactly zero gives 0.
    """
    if g is None:
        return None
    if isinstance(g, autograd.LazyGradient):   # e.g. matmul's deferred weight gradient
        g = g.value()
    g = g.astype("complex128" if g.dtype.kind == "c" else "float64")   # a complex gradient: |g|², not its real part
    size = abs(g)
    largest = float(size.max()) if size.size else 0.0
    if largest == 0 or not math.isfinite(largest):   # zero, inf, or NaN (a NaN anywhere: NaN)
        return largest
    return largest * math.sqrt(float(((size / largest) ** 2).sum()))


def combined(norms: Sequence[float | None]) -> float | None:
    """Norm of several gradients taken together, √Σ‖g‖² without under/overflow (None if none flowed)."""
    values = [n for n in norms if n is not None]
    if not values:
        return None
    if any(math.isnan(v) for v in values):
        return math.nan
    return math.hypot(*values)


class GradientNorms:
    """The observer: per op, the norm of the gradient sent along each input edge and,
    for an op tagged ``"h"`` (a hidden state), the norm of its output's gradient ‖∂L/∂h‖.

    Observing several roots (e.g. two losses drawn side by side) adds up their
    norms where they share ops, as √Σ‖g‖².
    """

    def __init__(self) -> None:
        self.sent: dict[Any, tuple[float | None, ...]] = {}
        # a single-output node tagged "h"; (node, output index) of a multi-output node's output tagged "h"
        # (a fused LSTM step's h, a compiled call's); (call, "value", value index) inside a replayed call
        self.hidden: dict[Any, float] = {}

    def __call__(self, node: Function, grads_out: Sequence[Any], grads_in: Sequence[Any]) -> None:
        self._add_sent(node, grads_in)
        for j, label in tags_of(node).items():
            if label == "h" and j < len(grads_out) and grads_out[j] is not None:
                self._add_hidden((node, j) if node.multiple else node, norm(grads_out[j]))
        if getattr(getattr(node, "program", None), "drawn", None) is not None:
            self._observe_call(node, grads_out)

    def _observe_call(self, node: Function, grads_out: Sequence[Any]) -> None:
        """The same norms for each op inside a replayed ``mg.compile`` call, keyed ``(call, first)``:
        the call's backward runs once more with an observer."""
        program = node.program
        tags = {entry[4]: drawn_tags(entry) for entry in program.drawn}

        def inside(first: int, grads_out: Sequence[Any], grads_in: Sequence[Any]) -> None:
            self._add_sent((node, first), grads_in)
            for k, label in tags.get(first, {}).items():
                if label == "h" and k < len(grads_out) and grads_out[k] is not None:
                    self._add_hidden((node, "value", first + k), norm(grads_out[k]))

        with getattr(program, "lock", contextlib.nullcontext()):
            program.backward(list(node.saved[0]), tuple(grads_out), observe=inside)   # a copy: it frees as it goes

    def _add_sent(self, key: Any, grads_in: Sequence[Any]) -> None:
        sent = tuple(norm(g) for g in grads_in)
        earlier = self.sent.get(key)
        self.sent[key] = sent if earlier is None else tuple(combined([a, b]) for a, b in zip(earlier, sent))

    def _add_hidden(self, key: Any, value: float | None) -> None:
        earlier = self.hidden.get(key)
        self.hidden[key] = value if earlier is None else combined([earlier, value])

    def sent_along(self, node: Any) -> tuple | None:
        """Norms along ``node``'s edges (a captured op of a replayed call included)."""
        if isinstance(node, CapturedOp):
            return self.sent.get((node.call, node.first))
        return self.sent.get(getattr(node, "source", node))

    def hidden_of(self, node: Any) -> float | None:
        """‖∂L/∂h‖ for an op with an output tagged ``"h"`` (inside a replayed call: tagged there, or on the
        call's output)."""
        if isinstance(node, CapturedOp):
            values = [self.hidden[(node.call, j)] for j in node.call_outputs if (node.call, j) in self.hidden]
            if not values:
                values = [self.hidden[key] for key in ((node.call, "value", node.first + k)
                                                       for k, label in node.tags.items() if label == "h")
                          if key in self.hidden]
            return combined(values)
        node = getattr(node, "source", node)
        if not node.multiple:
            return self.hidden.get(node)
        return combined([self.hidden.get((node, j)) for j, label in tags_of(node).items() if label == "h"])


def sent_back(nodes: Sequence[Any], grads: GradientNorms) -> dict[str, float]:
    """Scope → the gradient it sent back: √Σ‖g‖² over the recorded edges that enter the scope from
    outside in the forward direction (from an op in no scope inside it, or from a leaf: an input or a
    parameter), each ``g`` being what an op inside sent along that edge during backward.

    Every prefix of an op's scope counts (``seq2seq/encoder`` as well as ``seq2seq/encoder/l0``).
    A scope along whose crossing edges no gradient flowed has no entry.
    """
    values: dict[str, list[float]] = {}
    crossed: dict[tuple, tuple[str, ...]] = {}   # (consumer scope, source scope or None) → scopes left
    for node in nodes:
        scope = node.scope
        if not scope:
            continue
        norms = None
        for j, edge in enumerate(node.edges):
            if edge is None:
                continue
            source = edge[0].scope if type(edge) is tuple else None
            if source == scope:
                continue
            if norms is None:
                norms = grads.sent_along(node) or ()
            value = norms[j] if j < len(norms) else None
            if value is None:
                continue
            key = (scope, source)
            left = crossed.get(key)
            if left is None:
                left = crossed[key] = _scopes_left(scope, source)
            for path in left:
                values.setdefault(path, []).append(value)
    return {path: combined(norms) for path, norms in values.items()}


def _scopes_left(scope: str, source: str | None) -> tuple[str, ...]:
    """The scopes holding ``scope`` but not ``source`` (all of them for a leaf, ``source`` None)."""
    parts = scope.split("/")
    common = common_scope([scope, source]) if source else ""
    shared = len(common.split("/")) if common else 0
    return tuple("/".join(parts[:k]) for k in range(shared + 1, len(parts) + 1))


def observe(tensors: Sequence[Tensor]) -> GradientNorms:
    """Norms of the gradients of every one-element root (a loss) that has a recorded graph.

    A loss given twice (``draw(loss, [loss])``) is observed once: it is one loss, not two.
    """
    losses = list({(t._node, t._index): t for t in tensors
                   if t._node is not None and t.requires_grad and t.data.size == 1}.values())
    if not losses:
        shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
        raise ValueError(
            f"draw(show_grads=True): needs a one-element root with a recorded graph (a loss) to take "
            f"gradients from; the roots have shapes {shapes}"
        )
    norms = GradientNorms()
    for loss in losses:
        try:
            autograd.observe_backward(loss, norms)
        except RuntimeError as error:
            if not _graph_unusable(error):   # e.g. a custom Function's backward raised: its own error, as backward()
                raise
            raise RuntimeError(
                f"draw(show_grads=True) runs the backward pass of the recorded graph itself, so draw before "
                f"backward(), or after loss.backward(retain_graph=True) and before the weights change: {error}"
            ) from error
    return norms



def _graph_unusable(error: RuntimeError) -> bool:
    """Whether the backward walk refused the graph itself: freed by an earlier ``backward()`` or a saved array
    changed in place since (the engine's ``_check_saved``), which drawing earlier or after
    ``backward(retain_graph=True)`` avoids; not an error raised by a node's own backward (a custom Function's)."""
    text = str(error).lower()
    return "backward through the graph a second time" in text or "modified by an inplace operation" in text
