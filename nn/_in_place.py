"""PyTorch's ``inplace=True`` for the activations and dropouts (``F.relu(x, inplace=True)``,
``nn.ReLU(inplace=True)``, ``F.dropout(x, inplace=True)`` …) and the ``F.relu_`` family: the result is written into
the input's own array and the input itself is returned, so a program that ignores the return value, or reads the
input again, sees what it sees under PyTorch.

One rule, each activation's math written once (its out-of-place function): while gradients are recorded the
function reads a clone, so the ops it records keep the old values and the overwrite cannot invalidate them, and
the input then continues the graph through ``copy_`` (which bumps its version, so an op that saved the old value,
as ``sigmoid`` and ``tanh`` save their outputs, makes ``backward`` raise PyTorch's "modified by an inplace
operation"; a view is written through its base, as PyTorch's ``CopySlices``). As in PyTorch, a leaf that requires
grad refuses while recording (its value would no longer be the one its gradient is for); under ``no_grad`` it is
overwritten.

One fallback, with a warning: while recording, minigrad cannot write in place through a ``diagonal``, ``unfold``
or ``as_strided`` view of a tensor that requires grad (minigrad/ops/inplace.py refuses, where PyTorch writes
through), so there the result is computed out of place, as ``inplace=True`` did before, and the view is left
unchanged (a program that reads the view or its base again would differ from PyTorch: the warning says so).
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import minigrad as mg
from minigrad import Tensor

from ._arguments import _tensor

LEAF_ERROR = "a leaf Variable that requires grad is being used in an in-place operation."


def written_in_place(name: str, input: Any, function: Callable[[Tensor], Tensor],  # noqa: A002
                     method: Callable[[Tensor], Tensor] | None = None) -> Tensor:
    """``function(input)`` written into ``input``, which is returned (same shape and dtype; any shape).

    ``name`` is the in-place op's name for errors (``"relu_"``); ``function`` is the out-of-place op; ``method``,
    when given, is the Tensor's own in-place op that does the same (``Tensor.relu_``), which copies less."""
    x = _tensor(input, name)
    recording = mg.is_grad_enabled() and x.requires_grad
    if recording:
        if x.is_leaf:
            raise RuntimeError(f"{name}: {LEAF_ERROR} Use inplace=False (out of place), or call it under "
                               "`with mg.no_grad():`.")
        if _untracked_view(x):
            warnings.warn(f"{name}: the input (shape {x.shape}) is a diagonal, unfold or as_strided view of a tensor "
                          "that requires grad, which minigrad cannot write in place while recording: computed out "
                          "of place instead, the view and its base are left unchanged (PyTorch writes through). "
                          "Use inplace=False, or clone() the view first.", UserWarning, stacklevel=3)
            return function(x)
    if method is not None:
        return method(x)
    return x.copy_(function(x.clone()) if recording else function(x))


_UNWRITABLE_VIEWS = ("diagonal", "unfold", "as_strided")


def _untracked_view(x: Tensor) -> bool:
    """Whether ``x`` is a diagonal, unfold or as_strided view, which minigrad/ops/inplace.py refuses to write
    while recording and PyTorch writes through. (A piece of split, chunk or unbind is refused by both, an
    ``expand``-ed tensor too: those still raise.)"""
    return (getattr(x, "_view", None) is None and getattr(x.data, "base", None) is not None
            and x.grad_fn is not None and x.grad_fn.name in _UNWRITABLE_VIEWS)
