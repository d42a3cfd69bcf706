"""``torch.segment_reduce``: reduce consecutive segments of a tensor along one axis.

The segments are given by their ``lengths`` (…, S) or their ``offsets`` (…, S + 1) (the lengths' leading dims are
the data's dims before ``axis``, so each row may be cut differently). Each element along ``axis`` gets its segment's
number, and :func:`scatter_reduce` reduces the data into the segments, so the values and the gradients are
scatter_reduce's, which are PyTorch's: ``max``/``min`` share the gradient evenly among tied maxima, ``prod``
handles zeros, ``mean`` divides by the length. Empty segments get ``initial`` or PyTorch's default (0 for sum, NaN
for mean, -inf for max, inf for min, 1 for prod); ``initial`` takes part in every segment's reduction as in
PyTorch (``mean``: (sum + initial) / length).

Elements outside the segments (before the first offset, or past the lengths' total with ``unsafe=True``) are
aimed at one extra segment that is dropped.
"""

from __future__ import annotations

import math
from typing import Any

from .. import backend
from ..recording import note_read
from ..tensor import Tensor
from ._util import one_axis, tensor_arg, unwrap
from .index_write import _scatter_reduce

__all__ = ["segment_reduce"]

_REDUCES = {"sum": "sum", "mean": "sum", "max": "amax", "amax": "amax", "min": "amin", "amin": "amin",
            "prod": "prod"}
_EMPTY = {"sum": 0.0, "mean": 0.0, "amax": -math.inf, "amin": math.inf, "prod": 1.0}


def _segment_array(value: Any, data: Tensor, what: str) -> Any:
    """The integer array of ``lengths``/``offsets`` on the data's device (NotImplementedError for other dtypes,
    as PyTorch's kernels)."""
    if isinstance(value, Tensor):   # the segments are read as values: an mg.compile capture runs eagerly
        note_read(value, what)
    array = unwrap(value)
    if not backend.is_array(array):
        array = backend.numpy.asarray(array)
    if array.dtype.kind not in "iu":
        raise NotImplementedError(f"segment_reduce: {what} must be an integer tensor, got dtype {array.dtype}")
    return backend.to_device(array, data.device)


def segment_ids(xp: Any, bounds: Any, size: int) -> Any:
    """Each position's segment number (…, size) from the segments' bounds (…, S + 1); positions outside every
    segment get S."""
    segments = bounds.shape[-1] - 1
    positions = xp.arange(size)
    ids = (bounds[..., None, :] <= positions[:, None]).sum(-1) - 1
    return xp.where(ids < 0, segments, ids)


def segment_reduce(data: Tensor, reduce: str, *, lengths: Any = None, indices: Any = None, offsets: Any = None,
                   axis: int = 0, unsafe: bool = False, initial: Any = None) -> Tensor:
    """Reduce ``data`` (…, L, …) over consecutive segments along ``axis`` (torch.segment_reduce).

    ``reduce``: 'sum', 'mean', 'max', 'min' or 'prod' ('amax'/'amin' too, as PyTorch); ``lengths`` (…, S) or
    ``offsets`` (…, S + 1) with the data's dims before ``axis`` leading (``lengths`` wins when both are given);
    ``unsafe`` skips the checks of the lengths. Returns (…, S, …): one value per segment, in data's dtype.
    """
    name = "segment_reduce"
    data = tensor_arg(data, name)
    if not isinstance(reduce, str) or reduce not in _REDUCES:
        raise RuntimeError(f"{name}: reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    if indices is not None:
        raise RuntimeError(f"{name}(): indices based reduction is not supported yet.")
    if lengths is None and offsets is None:
        raise RuntimeError(f"{name}(): Either lengths or offsets must be defined.")
    if data.dtype.kind != "f":
        raise NotImplementedError(f"{name}: data must be a floating-point tensor, got dtype {data.dtype}")
    axis = one_axis(axis, data.ndim, name)
    xp = backend.array_module(data.data)
    bounds = _segment_array(lengths if lengths is not None else offsets, data, "lengths" if lengths is not None
                            else "offsets")
    if bounds.ndim - 1 != axis:
        raise RuntimeError(f"{name}(): Expected axis to be the last dimension of "
                           f"{'lengths' if lengths is not None else 'offsets'} but got {axis}.")
    if tuple(bounds.shape[:-1]) != tuple(data.shape[:axis]):
        raise RuntimeError(f"{name}(): the segments' leading dims {tuple(bounds.shape[:-1])} must be the data's "
                           f"dims before axis {axis}, {tuple(data.shape[:axis])}")
    if lengths is not None:
        counts = bounds
        if not unsafe:
            if bool((counts < 0).any()):
                raise RuntimeError(f"{name}: lengths contains negative value!")
            if bool((counts.sum(-1) != data.shape[axis]).any()):
                raise RuntimeError(f"{name}(): Expected all rows of lengths along axis to sum to "
                                   f"data.size(lengths.dim()-1) (= {data.shape[axis]}) when !unsafe.")
        bounds = xp.concatenate([xp.zeros(counts.shape[:-1] + (1,), dtype=counts.dtype),
                                 xp.cumsum(counts, axis=-1)], axis=-1)
    else:
        counts = bounds[..., 1:] - bounds[..., :-1]
    segments, trailing = bounds.shape[-1] - 1, data.ndim - axis - 1
    ids = segment_ids(xp, bounds, data.shape[axis]).astype(xp.int64)
    index = xp.broadcast_to(ids.reshape(ids.shape + (1,) * trailing), data.shape)
    op = _REDUCES[reduce]
    shape = data.shape[:axis] + (segments + 1,) + data.shape[axis + 1:]
    start = Tensor._make(xp.full(shape, _EMPTY[op], dtype=data.dtype), False, None, 0)
    out = _scatter_reduce(start, axis, index, data, op, False, name)
    out = out[(slice(None),) * axis + (slice(0, segments),)]   # the extra segment held what no segment covers
    if reduce == "mean":
        if initial is not None:
            out = out + initial
        divisor = counts if initial is None else xp.maximum(counts, 1)
        divisor = divisor.reshape(divisor.shape + (1,) * trailing).astype(data.dtype)
        with backend.errstate(xp, invalid="ignore", divide="ignore"):   # an empty segment's 0 / 0: NaN, as PyTorch
            return out / Tensor._make(divisor, False, None, 0)
    if initial is None:
        return out
    if op == "sum":
        return out + initial
    if op == "prod":
        return out * initial
    from .. import where  # noqa: PLC0415 - the top-level where (ops import before the package)
    keep = out >= initial if op == "amax" else out <= initial   # a tie keeps the data's gradient, as PyTorch
    return where(keep, out, Tensor._make(xp.full(out.shape, initial, dtype=data.dtype), False, None, 0))
