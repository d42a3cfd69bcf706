"""Integer arguments read as PyTorch's argument parser reads them: one int (``int_arg``), a list of sizes or
dims (``int_tuple``), each within int64.

PyTorch's parser takes a Python or NumPy integer or a 0-d integer tensor where it wants an int; a bool, a bool
tensor or a tensor with dims is refused (except where PyTorch itself takes ``tensor([k])``). Size lists (shapes,
strides, shifts, split sizes, pads) refuse a bool tensor among them; dim lists read it as 0 or 1. The engine's ops,
the constructors and ``nn`` all read their int arguments through here, so the rules are written once.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy

from .arguments import ArgumentTypeError, Int64RangeError
from .tensor import Tensor

__all__ = ["in_int64", "int_arg", "int_tuple", "refuse_bool_tensors"]


def in_int64(value: int, name: str, what: str) -> int:
    """``value`` (an int) if it fits in int64, else :class:`Int64RangeError` naming the op: NumPy would wrap
    it or read it as unsigned (``linspace(0, 1, 2**63)`` would be empty)."""
    if not -2**63 <= value < 2**63:
        raise Int64RangeError(f"{name}: {what} {value} does not fit in int64 (as in PyTorch)")
    return value


def int_tuple(values: Any, name: str, what: str = "shape", dims: bool = False, sized: bool = False) -> tuple:
    """An int or a sequence of ints (each within int64) as a tuple of ints; anything else raises a TypeError
    naming the op. A bool tensor among them raises an :class:`ArgumentTypeError` (PyTorch's RuntimeError) as
    PyTorch's size lists do (sizes, strides, shifts, split sizes, pads); ``dims=True``: the list is one PyTorch
    reads as plain ints (its dim lists, ``torch.Size``), where a bool tensor is the int 0 or 1. ``sized=True``:
    the list is one of PyTorch's fixed-length ``int[N]`` lists (roll's shifts and dims, a convolution's or pool's
    kernel, stride, padding, dilation), where one bare value stands for all N only if it is a Python or NumPy int
    or an integer tensor: a bare object with only ``__index__`` (a 0-d NumPy array too) is its RuntimeError."""
    if isinstance(values, (tuple, list)):
        items = values
    else:
        items = (values,)
        if sized and not isinstance(values, _INT64_TYPES):
            _refuse_bare_index(values, name, what)
    try:
        if items and type(items[0]) is bool:   # PyTorch's parser tells an int list by its first element only: a
            raise TypeError("bools are not sizes")   # later bool is the int 0 or 1 (``x.reshape(2, True, 12)``)
        ints = tuple(map(operator.index, items))
    except TypeError:
        raise TypeError(f"{name}: {what} must be an int or a sequence of ints, got {values!r}") from None
    if not dims and Tensor in map(type, items):   # (the type test first: the usual call has no Tensor)
        refuse_bool_tensors(items, name, what)
    if ints and (min(ints) < -2**63 or max(ints) >= 2**63):   # (min and max: cheaper than a check per value)
        for value in ints:
            in_int64(value, name, what)
    return ints


def refuse_bool_tensors(items: Any, name: str, what: str) -> None:
    """An :class:`ArgumentTypeError` (PyTorch's RuntimeError "Expected scalar.isIntegral") if a bool tensor is
    among ``items``, a sequence given where PyTorch wants a list of sizes: its parser reads each Tensor there as a
    scalar and refuses a bool one, where ``operator.index`` would read it as 0 or 1."""
    if Tensor in map(type, items) and any(isinstance(v, Tensor) and v.dtype == bool for v in items):
        raise ArgumentTypeError(f"{name}: {what} must be ints, got a bool tensor in {tuple(items)!r:.80}")


def int_arg(value: Any, name: str, what: str, one_element: bool = False) -> int:
    """An int argument within int64 (a 0-d integer tensor too, as PyTorch's parser reads an int; with
    ``one_element`` any one-element integer tensor, as PyTorch's ``tril``, ``topk``, ``eye`` take); a bool, a float
    or anything else raises a TypeError (a bool tensor or one with dims an :class:`ArgumentTypeError`: PyTorch's
    RuntimeError or TypeError, by op)."""
    return in_int64(_one_int(value, name, what, one_element), name, what)


def _one_int(value: Any, name: str, what: str, one_element: bool = False) -> int:
    """``operator.index(value)`` as PyTorch's parser reads one int: a Python or NumPy integer, or a 0-d integer
    tensor (``one_element``: of any dims); a bool, a bool tensor (:class:`ArgumentTypeError`) or a tensor with
    dims (``tensor([1])``, which ``operator.index`` takes) raises a TypeError naming the op."""
    if type(value) is int:
        return value   # the usual call, without the checks below
    if isinstance(value, Tensor) and (value.dtype == bool or (value.ndim and not one_element)):
        kind = "the bool tensor" if value.dtype == bool else f"a tensor of shape {tuple(value.shape)} (a 0-d one works)"
        raise ArgumentTypeError(f"{name}: {what} must be an int, got {kind} {value!r:.60}")
    if not isinstance(value, bool):   # (operator.index reads a bool as 0 or 1)
        if not one_element and not isinstance(value, _INT64_TYPES):   # PyTorch's int64 slot (not its SymInt one)
            _refuse_index_only(value, name, what)
        try:
            return operator.index(value)
        except TypeError:
            pass
    raise TypeError(f"{name}: {what} must be an int, got {value!r:.60}")


_INT64_TYPES = (int, numpy.integer, Tensor)


def _refuse_bare_index(value: Any, name: str, what: str) -> None:
    """PyTorch's RuntimeError (its parser's failed ``PyList_Check`` assert) for a bare object with only
    ``__index__`` given for a fixed-length ``int[N]`` list (``x.roll(np.array(1), 0)``, ``F.max_pool1d(x, k)``
    with ``k`` such an object): its parser lets the object pass as a one-int list and then fails to read it.
    ``(k,)`` or ``int(k)`` works there, as in PyTorch."""
    if hasattr(value, "__index__") and not isinstance(value, bool):
        raise ArgumentTypeError(f"{name}(): {what} must be an int or a tuple of ints, got a bare "
                                f"{type(value).__name__} (PyTorch's parser fails on it with a RuntimeError; pass "
                                f"int(...) or a tuple)")


def _refuse_index_only(value: Any, name: str, what: str) -> None:
    """PyTorch's TypeError for an object with only ``__index__`` (a 0-d NumPy array, a user's class) in an int64
    slot (``chunk``'s chunks, a diagonal's offset, ``linspace``'s steps, ``one_hot``'s num_classes): its parser
    reads a Python or NumPy int or a 0-d integer tensor there; only its SymInt slots (sizes, ``narrow``'s length,
    ``topk``'s k: ``one_element``) call ``__index__``."""
    if hasattr(value, "__index__"):
        raise ArgumentTypeError(f"{name}(): argument '{what}' must be int, not {type(value).__name__} (PyTorch "
                                f"reads it as a Python or NumPy int or a 0-d integer tensor only; pass int(...))")
