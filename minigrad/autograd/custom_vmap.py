"""Custom autograd Functions inside ``mg.func.vmap``: a Function's ``vmap`` staticmethod, as PyTorch's.

``mg.func.vmap`` loops over the examples and runs its function under :func:`vmap_calls`; a custom Function applied
there computes each example's forward by its ``vmap`` staticmethod (:func:`run_vmap_rule`) where it has one, as
PyTorch's batched call does, and by its ``forward`` otherwise.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator, NamedTuple

from ..hooks import current_level, transform_level
from ..tensor import Tensor
from ..versions import memory_owner

__all__ = ["VmapInfo", "batched", "run_vmap_rule", "uses_vmap_rule", "vmap_calls", "vmap_is_innermost",
           "vmap_randomness"]


class VmapInfo(NamedTuple):
    """What a Function's ``vmap`` staticmethod receives first, as PyTorch's."""

    batch_size: int
    randomness: str


_VMAP = threading.local()   # .randomness, .level: those of the mg.func.vmap whose function runs now on this thread


@contextlib.contextmanager
def vmap_calls(randomness: str | None, level: object = None) -> Iterator[None]:
    """Around ``mg.func.vmap``'s calls of its function (``level``: its transform level; ``randomness`` None: around
    code that runs unbatched, such as a ``vmap`` staticmethod): a custom Function applied inside computes its
    forward by its ``vmap`` staticmethod, as PyTorch's."""
    outer = getattr(_VMAP, "randomness", None), getattr(_VMAP, "level", None)
    _VMAP.randomness, _VMAP.level = randomness, level
    try:
        yield
    finally:
        _VMAP.randomness, _VMAP.level = outer


def vmap_randomness() -> str | None:
    """The ``randomness`` of the ``mg.func.vmap`` whose function runs now on this thread; None outside one (or in
    code that runs unbatched inside it)."""
    return getattr(_VMAP, "randomness", None)


def vmap_is_innermost() -> bool:
    """Whether that ``mg.func.vmap`` is the innermost transform (no ``grad`` inside it around the call)."""
    return _VMAP.level is current_level()


def uses_vmap_rule(op: type, overrides_vmap: bool) -> bool:
    """Whether ``op``, applied inside ``mg.func.vmap``, computes by its ``vmap`` staticmethod (else its forward runs
    on each example, which is what ``generate_vmap_rule=True`` and a Function without either do);
    ``overrides_vmap``: whether it has a ``vmap`` staticmethod. PyTorch's RuntimeError for both a rule and
    ``generate_vmap_rule``. (The user's Function without ``setup_context``, or without either, was refused before,
    by ``custom._check_transforms``; minigrad's own Functions have no ``vmap`` rule.)"""
    if overrides_vmap and getattr(op, "generate_vmap_rule", False):
        raise RuntimeError(f"You tried to vmap over {op.__name__}, but it has both generate_vmap_rule=True and an "
                           "overridden vmap staticmethod. Please set generate_vmap_rule=False or delete the "
                           "overridden vmap staticmethod to avoid ambiguity.")
    return overrides_vmap


def batched(args: tuple) -> bool:
    """Whether a Tensor among ``args`` (a custom Function's arguments inside ``mg.func.vmap``) may be batched, that
    is computed from a mapped input of one of the vmaps calling their function now: PyTorch runs the Function's
    ``vmap`` rule only then, and its plain forward for inputs none of which is batched. minigrad's vmap has no
    batched tensors: an argument counts as not batched where that is certain (an unmapped input or memory of one,
    a tensor recorded before the vmap was called, one whose graph reaches only such tensors, a leaf that requires
    grad and is not a mapped input's memory); as batched otherwise (a tensor made inside without a graph)."""
    return any(batched_flags(args))


def batched_flags(args: tuple) -> list:
    """For each of ``args``: whether it is a Tensor that may be batched (see :func:`batched`)."""
    levels = []
    level = current_level()
    while level is not None:
        if getattr(level, "samples", None) is not None:   # a vmap's (func/vmap.py's _VmapLevel)
            levels.append(level)
        level = getattr(level, "enclosing", None)
    return [isinstance(a, Tensor) and any(_batched_at(a, level) for level in levels) for a in args]


def _batched_at(t: Tensor, level: Any) -> bool:
    """Whether ``t`` may be batched at the vmap ``level`` (see :func:`batched`)."""
    owner = id(memory_owner(t.data))
    if owner in level.mapped:
        return True
    if owner in level.unmapped:
        return False
    if t._node is None:   # a leaf that requires grad is not batched; a tensor without a graph is not known
        return not t._requires_grad
    seen: set = set()
    stack = [t._node]
    while stack:
        node = stack.pop()
        if node.seq <= level.start or node in seen:   # recorded before the vmap was called
            continue
        seen.add(node)
        if node in level.samples:
            return True
        for edge in node.edges:
            if edge is None:   # an input that does not require grad: not known
                return True
            if type(edge) is tuple:
                stack.append(edge[0])
            elif id(memory_owner(edge.data)) in level.mapped:
                return True
    return False


def run_vmap_rule(op: type, args: tuple, randomness: str) -> Any:
    """``op``'s ``vmap`` staticmethod inside ``mg.func.vmap``, whose loop gives one example's arguments: the rule on
    a batch of this one example (each Tensor argument that may be batched along dim 0, the others with in_dim None,
    as PyTorch's; ``info.batch_size`` 1), its outputs taken at that example: the values PyTorch's batched call
    gives (the rule's, not ``forward``'s, where the two differ). PyTorch's RuntimeError for a rule that does not
    return ``(output, out_dims)``."""
    in_dims = tuple(0 if flag else None for flag in batched_flags(args))
    batch = tuple(a.unsqueeze(0) if d is not None else a for a, d in zip(args, in_dims))
    # the rule runs below the vmap, as PyTorch's: its own calls (Op.apply on the batch) run unbatched
    below = getattr(_VMAP.level, "enclosing", None)   # (read before vmap_calls(None) sets _VMAP.level to None)
    with vmap_calls(None), transform_level(below):
        returned = op.vmap(VmapInfo(1, randomness), in_dims, *batch)
    if not (isinstance(returned, tuple) and len(returned) == 2):
        raise RuntimeError(f"{op.__name__}: Expected the vmap staticmethod to have two returns, an output and "
                           f"out_dims with pytree structure compatible with the output. Got a "
                           f"{type(returned).__name__} instead")
    output, out_dims = returned
    outputs = output if isinstance(output, tuple) else (output,)
    dims = out_dims if isinstance(out_dims, tuple) and isinstance(output, tuple) else (out_dims,) * len(outputs)
    if len(dims) != len(outputs) or any(d is not None and not isinstance(d, int) for d in dims):
        raise RuntimeError(f"{op.__name__}: The autograd.Function's vmap staticmethod returned an incompatible "
                           f"(output, out_dims) tuple: out_dims={out_dims!r} does not match the structure of the "
                           f"output ({len(outputs)} value(s))")
    example = tuple(y.select(d, 0) if isinstance(y, Tensor) and d is not None else y for y, d in zip(outputs, dims))
    return example if isinstance(output, tuple) else example[0]
