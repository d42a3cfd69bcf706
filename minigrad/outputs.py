"""PyTorch's ``out=`` keyword: write a function's result into a tensor the caller made beforehand.

``mg.arange(0, n, out=mg.LongTensor(n))``, ``mg.add(a, b, out=c)``, ``mg.max(x, 1, out=(values, indices))``: the
result is computed as without ``out`` and then copied into ``out``'s array, and ``out`` itself (the same object)
is returned. PyTorch's rules:

* ``out`` takes the result's shape: a different shape resizes it (new memory), with PyTorch's warning unless
  ``out`` had no elements or the function creates values (``zeros``, ``rand`` …; ``arange`` warns);
* dtypes: a creation function (``zeros``, ``arange``, ``randint`` …) computes in ``out``'s dtype (an explicit
  ``dtype`` must be the same); most other ops cast their result into ``out``'s dtype where an in-place op could
  (no float into an integer ``out``, nothing but bool into bool: ``"cast"``), some need the very dtype
  (``mm``, ``gather``, ``sort`` …: ``"exact"``), and ``sum``/``cumsum`` accumulate in ``out``'s dtype;
* no autograd: under grad mode an input or ``out`` that requires grad raises PyTorch's error, and ``out``
  never becomes part of a graph;
* ``out`` may not share memory with an input in a way PyTorch refuses (``inputs=``): elementwise ops, sorts and
  scans take ``out`` that is exactly an input (``mg.exp(x, out=x)``) but not one that partly overlaps it
  (``mg.add(x, x[0], out=x)``, ``out=x`` with ``x.T`` as input); ``cat``, ``gather``, ``take`` … take no overlap at
  all (``overlap="any"``). Views that are not dense (a column of a matrix) are not checked, as PyTorch's;
* the write bumps ``out``'s version counter, as an in-place op does, so a backward that saved ``out``'s old
  values refuses to run.

Each public function calls :func:`write_out` only when ``out is not None``: a call without ``out`` pays one test.
"""

from __future__ import annotations

import warnings
from typing import Any

from . import backend
from .autograd import is_grad_enabled
from .dtypes import can_cast
from .tensor import Tensor

AUTOGRAD_ERROR = ("{name}(): functions with out=... arguments don't support automatic differentiation, but one of "
                  "the arguments requires grad.")


class OutDtypeError(TypeError, RuntimeError):
    """The result cannot be written into ``out``'s dtype (TypeError here, RuntimeError in PyTorch)."""


def _check_out(name: str, out: Any) -> Tensor:
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if is_grad_enabled() and out.requires_grad:
        raise RuntimeError(AUTOGRAD_ERROR.format(name=name))
    return out


def creation_args(name: str, out: Any, dtype: Any, device: Any) -> tuple[Any, Any]:
    """The ``(dtype, device)`` a creation function computes in when it writes into ``out``: out's own, and an
    explicit ``dtype`` must be out's (PyTorch's ``dtype X does not match dtype of out parameter (Y)``)."""
    out = _check_out(name, out)
    if dtype is not None and backend.as_dtype(dtype, name) != out.dtype:
        raise OutDtypeError(f"{name}(): dtype {backend.as_dtype(dtype, name)} does not match dtype of out parameter "
                            f"({out.dtype})")
    return out.dtype, out.device if device is None else device


OVERLAP_ERROR = ("{name}(): unsupported operation: some elements of the input tensor (shape {input}) and the "
                 "written-to tensor (out, shape {out}) refer to a single memory location. Please clone() the tensor "
                 "before performing the operation.")


def _dense_span(a: Any) -> tuple[int, int] | None:
    """``(first byte, past last byte)`` of an array whose elements fill that range once each (PyTorch's
    "non-overlapping and dense"), else None (PyTorch does not check those)."""
    if a.size == 0:
        return None
    expected = a.itemsize
    for stride, n in sorted((s, n) for n, s in zip(a.shape, a.strides) if n != 1):
        if stride != expected:
            return None
        expected *= n
    interface = getattr(a, "__cuda_array_interface__", None)   # CuPy's; NumPy's otherwise
    begin = (interface if interface is not None else a.__array_interface__)["data"][0]
    return begin, begin + a.size * a.itemsize


def _layout(a: Any) -> tuple:
    return tuple((n, s) for n, s in zip(a.shape, a.strides) if n != 1)


def _check_overlap(name: str, out: Tensor, inputs: Any, overlap: str, resized: tuple | None,
                   broadcast: bool = False) -> None:
    """PyTorch's memory-overlap checks of ``out`` against each Tensor in ``inputs`` (nested lists too):
    ``"partial"`` refuses an input that shares some but not exactly all of out's elements, ``"any"`` refuses
    any sharing (``out`` being an input included). A ``resized`` out (the result's shape; None: not resized)
    gets new memory: only being an input counts, and for an elementwise op (``broadcast``) that makes the op an
    in-place one, which PyTorch's rule forbids to resize (``maximum(a, b, out=a)`` is ``a.maximum_(b)``)."""
    span = _dense_span(out.data)
    for value in inputs:
        if isinstance(value, (list, tuple)):
            _check_overlap(name, out, value, overlap, resized, broadcast)
            continue
        if not isinstance(value, Tensor):
            continue
        if value is out:
            if resized is not None and broadcast and overlap != "any":
                raise RuntimeError(f"{name}(): output with shape {list(out.shape)} doesn't match the broadcast "
                                   f"shape {list(resized)} (out is also an input, so it cannot be resized)")
            clash = overlap == "any"
        elif resized is not None:
            continue
        else:
            other = _dense_span(value.data)
            if span is None or other is None or not (span[0] < other[1] and other[0] < span[1]):
                continue
            clash = overlap == "any" or span != other or _layout(out.data) != _layout(value.data)
        if clash:
            raise RuntimeError(OVERLAP_ERROR.format(name=name, input=value.shape, out=out.shape))


def write_out(name: str, result: Any, out: Any, dtypes: str = "cast", warn: bool = True, inputs: Any = (),
              overlap: str = "partial", broadcast: bool = False) -> Any:
    """Copy ``result`` (a Tensor, or a ``(values, indices)`` named tuple written into a pair of tensors) into
    ``out`` and return ``out`` (a pair: the same named tuple type holding out's two tensors).

    ``dtypes`` says which result dtypes ``out`` takes: ``"cast"`` (those an in-place op can write:
    ``dtypes.can_cast``) or ``"exact"`` (only its own). ``warn=False``: resize without PyTorch's warning, as
    its creation functions but ``arange`` do. ``inputs``: the op's tensors (lists of them too) that ``out``
    may not overlap, PyTorch's way (``overlap``: ``"partial"`` or ``"any"``: see the module's docstring).
    ``broadcast``: the op is elementwise (its result the broadcast of its inputs), so an input given as ``out``
    keeps its shape (PyTorch's in-place rule) instead of being resized.
    """
    if isinstance(result, tuple):
        if not (isinstance(out, (tuple, list)) and len(out) == len(result)):
            raise TypeError(f"{name}(): out must be a tuple of {len(result)} Tensors, got {type(out).__name__}"
                            + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else ""))
        pairs = list(zip(result, out))
    else:
        pairs = [(result, out)]
    targets = [_check_out(name, target) for _, target in pairs]
    if is_grad_enabled() and any(value.requires_grad for value, _ in pairs):
        raise RuntimeError(AUTOGRAD_ERROR.format(name=name))
    for (value, target) in pairs:
        if value.dtype != target.dtype and dtypes == "exact":
            raise OutDtypeError(f"{name}(): expected out to have the result's dtype {value.dtype}, got {target.dtype} "
                                f"(shape {target.shape})")
        if not can_cast(value.dtype, target.dtype):
            raise OutDtypeError(f"{name}(): result type {value.dtype} can't be cast to the dtype {target.dtype} of "
                                f"out (shape {target.shape})")
        if value.device != target.device:
            raise ValueError(f"{name}(): out is on {target.device} but the result is on {value.device}")
    for value, target in pairs:
        if target.shape != value.shape:
            _check_resizable(name, target, value.shape)
        if inputs:
            resized = value.shape if target.shape != value.shape else None
            _check_overlap(name, target, inputs, overlap, resized, broadcast)
    for value, target in pairs:
        _write(name, value, target, warn)
    return type(result)(*targets) if isinstance(result, tuple) else out


def _check_resizable(name: str, out: Tensor, shape: tuple) -> None:
    """PyTorch resizes ``out`` inside its storage, so a tensor sharing that memory (out's base, or a view of
    out) sees the result; minigrad gives a resized out memory of its own, so it refuses rather than differ."""
    shared = getattr(out, "_view", None) or any(
        view is not None and view.data.size for view in (ref() for ref in getattr(out, "_views", None) or ()))
    if shared:
        raise RuntimeError(f"{name}(): out (shape {out.shape}) shares its memory with another tensor (it is a view, "
                           f"or has views) and would be resized to {shape}; PyTorch would write the result into that "
                           f"shared memory, which minigrad does not do: pass an out of shape {shape}, or one that "
                           "shares no memory")


def _write(name: str, value: Tensor, out: Tensor, warn: bool) -> None:
    data = out.data
    if data.shape != value.shape:
        if warn and data.size:
            warnings.warn(f"{name}(): an output with one or more elements was resized since it had shape "
                          f"{tuple(data.shape)}, which does not match the required output shape {value.shape}. "
                          "This behavior is deprecated, and in a future PyTorch release outputs will not be resized "
                          "unless they have zero elements. You can explicitly reuse an out tensor t by resizing it, "
                          "inplace, to zero elements with t.resize_(0).", UserWarning, stacklevel=4)
        for ref in getattr(out, "_views", None) or ():   # views keep the old memory, which out no longer shares
            view = ref()
            if view is not None:
                view._view = None
        out.data = value.data.astype(out.dtype, copy=True)
        out._view, out._views = (), []
    else:
        if any(n > 1 and step == 0 for n, step in zip(data.shape, data.strides)) or not getattr(
                data.flags, "writeable", True):
            raise RuntimeError(f"{name}(): out (shape {out.shape}) is an expanded or read-only view whose elements "
                               "share memory; clone() it first")
        data[...] = value.data
    out._bump_version()
