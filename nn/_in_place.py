"""PyTorch's ``inplace=True`` for the activations and dropouts (``F.relu(x, inplace=True)``,
``nn.ReLU(inplace=True)``, ``F.dropout(x, inplace=True)`` …) and the ``F.relu_`` family: the result is written into
the input's own array and the input itself is returned, so a program that ignores the return value, or reads the
input again, sees what it sees under PyTorch.

One rule, each activation's math written once (its out-of-place function): while gradients are recorded the
function reads a clone, so the ops it records keep the old values and the overwrite cannot invalidate them, and
the input then continues the graph through ``copy_`` (which bumps its version, so an op that saved the old value,
as ``sigmoid`` and ``tanh`` save their outputs, makes ``backward`` raise PyTorch's "modified by an inplace
operation"; a view — from indexing, reshape, transpose, diagonal, unfold, as_strided, tensor_split … — is written
through its base, as PyTorch's ``CopySlices``). As in PyTorch, a leaf that requires grad refuses while recording
(its value would no longer be the one its gradient is for); under ``no_grad`` it is overwritten. What
minigrad/ops/inplace.py refuses (a part of split, chunk or unbind, as PyTorch; overlapping unfold windows, which
are read-only here) raises here too.
"""

from __future__ import annotations

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
    if recording and x.is_leaf:
        raise RuntimeError(f"{name}: {LEAF_ERROR} Use inplace=False (out of place), or call it under "
                           "`with mg.no_grad():`.")
    if method is not None:
        return method(x)
    if not recording:
        return x.copy_(function(x))
    # copy_, and where PyTorch's op saves its result (elu_, leaky_relu_ …) a later change of x makes backward raise
    return x._write_result(name, function(x.clone()))
