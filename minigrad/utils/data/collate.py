"""Turning a list of samples into a batch: ``default_collate`` (stack) and ``default_convert`` (no batching),
as PyTorch's."""

from __future__ import annotations

import copy
import functools
import numbers
from collections.abc import Mapping, MutableMapping, MutableSequence, Sequence
from typing import Any

import numpy

import minigrad as mg

__all__ = ["default_collate", "default_convert"]


class _EmptyBatchError(IndexError, ValueError):
    """An IndexError as PyTorch's ``batch[0]`` raises (a ValueError too, as minigrad raised before)."""


class _MixedBatchError(TypeError, RuntimeError):
    """PyTorch's ``torch.tensor(batch)`` raises TypeError for a str among numbers, RuntimeError for None."""


class _NotConvertibleError(_MixedBatchError, ValueError):
    """PyTorch's ``torch.as_tensor(value)`` of a value it cannot read: RuntimeError (a dict, a set, None), ValueError
    (a list of strings) or TypeError, by the value."""


class _TensorAmongNumbersError(ValueError, TypeError):
    """PyTorch's ``torch.tensor(batch)`` of numbers and a Tensor of several elements: ValueError where the batch is
    floating, TypeError where it is integral."""


def _stack_arrays(arrays: list, what: str) -> mg.Tensor:
    first = tuple(arrays[0].shape)
    for entry, array in enumerate(arrays):
        if tuple(array.shape) != first:   # PyTorch's message: the first entry whose shape differs from entry 0's
            raise RuntimeError(f"default_collate: stack expects each tensor to be equal size, but got "
                               f"{list(first)} at entry 0 and {list(array.shape)} at entry {entry} (of the {what}s)")
    dtypes = {array.dtype for array in arrays}
    if len(dtypes) > 1:   # torch.stack promotes by PyTorch's table (int64 with float32 is float32, not float64)
        dtype = functools.reduce(mg.promote_types, dtypes)
        arrays = [array.astype(dtype, copy=False) for array in arrays]
    xp = mg.array_module(arrays[0])
    return mg.as_tensor(xp.stack(arrays))


def default_collate(batch: Sequence[Any]) -> Any:
    """Combine a list of samples into a batch, as PyTorch's ``default_collate``.

    Tensors and arrays are stacked along a new first dim (Tensors that
    require grad through ``mg.stack``, so the batch stays in the graph);
    Python floats give a float64 Tensor; a batch whose first sample is an int
    becomes ``mg.tensor(batch)`` as PyTorch's ``torch.tensor(batch)``: int64
    for ints, bool for bools, the default float dtype when a float is among
    them (never truncated); after an array first, each other sample is converted as
    ``torch.as_tensor`` would (a list, number or 0-d array stacks where the shapes agree; a Tensor that requires
    grad keeps the batch in its graph);
    strings come back as the batch itself; dicts, tuples and lists are
    collated field by field (a tuple of fields comes back as a list, a named
    tuple, a list or a mapping as its own type where it can be copied).
    """
    if not len(batch):
        raise _EmptyBatchError("default_collate: got an empty batch (PyTorch: list index out of range)")
    elem = batch[0]
    if isinstance(elem, mg.Tensor):
        if not all(isinstance(b, mg.Tensor) for b in batch):
            raise TypeError("default_collate: a batch mixes Tensors and other types")
        if any(b.requires_grad for b in batch):
            dtypes = {b.dtype for b in batch}
            dtype = functools.reduce(mg.promote_types, dtypes) if len(dtypes) > 1 else None   # as torch.stack's
            return mg.stack([b if dtype is None or b.dtype == dtype else b.to(dtype) for b in batch])
        devices = {b.device for b in batch}
        if len(devices) > 1:
            raise ValueError(f"default_collate: samples on different devices {sorted(devices)}")
        return _stack_arrays([b.data for b in batch], "tensor")
    if isinstance(elem, numpy.generic) and not isinstance(elem, (numpy.str_, numpy.bytes_)):
        # PyTorch's torch.as_tensor(batch): the scalars' dtypes promoted (a Python float among float64s is float64)
        if elem.dtype.kind not in "biufc":
            raise TypeError(f"default_collate: batch must contain numeric arrays; found dtype {elem.dtype}")
        return mg.tensor(_numbers(batch))
    if mg.is_array(elem) or isinstance(elem, numpy.ndarray):   # a memmap or matrix row too, as PyTorch
        if elem.dtype.kind not in "biufc":
            raise TypeError(f"default_collate: batch must contain numeric arrays; found dtype {elem.dtype}")
        if any(isinstance(b, mg.Tensor) and b.requires_grad for b in batch):   # torch.as_tensor keeps its graph
            return default_collate([b if isinstance(b, mg.Tensor) else mg.as_tensor(_as_array(b)) for b in batch])
        arrays = [_as_array(b) for b in batch]   # PyTorch's torch.as_tensor of each sample, then stack
        return _stack_arrays([mg.to_device(a, mg.get_default_device()) for a in arrays], "array")
    if isinstance(elem, numbers.Integral):
        # PyTorch's torch.tensor(batch): [1, 2.5] is float, [True, 2] int64, [True, False] bool
        return mg.tensor(_numbers(batch))
    if isinstance(elem, numbers.Real):
        return mg.tensor([_python_number(b) for b in batch], dtype=mg.float64)   # in order: torch's dtype is given
    if isinstance(elem, (str, bytes)):
        return batch   # as PyTorch: the batch itself (a field of tuples stays the tuple zip made)
    if isinstance(elem, Mapping):
        return _same_mapping(elem, {key: default_collate([d[key] for d in batch]) for key in elem})
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):   # a named tuple keeps its type
        return type(elem)(*(default_collate(field) for field in zip(*batch)))
    if isinstance(elem, Sequence):
        if not all(len(b) == len(elem) for b in batch):   # in order, as PyTorch: a len() TypeError only if reached
            raise RuntimeError("default_collate: each element in list of batch should be of equal size")
        fields = [default_collate(field) for field in zip(*batch)]
        return fields if isinstance(elem, tuple) else _same_sequence(elem, fields)
    raise TypeError(f"default_collate: batch must contain Tensors, numpy arrays, numbers, dicts or lists; "
                    f"found {type(elem).__name__}")


def _as_array(value: Any) -> Any:
    """A sample of a batch whose first sample is an array, as an array: PyTorch's ``torch.as_tensor(value)`` (a
    number, a 0-d array or a nested list stacks with the others where the shapes agree)."""
    if mg.is_array(value):
        return value
    if isinstance(value, numpy.ndarray):   # a memmap or matrix as a plain array, a masked array as its data
        return numpy.asarray(value)
    if value is None or isinstance(value, (str, bytes)):   # numpy.str_ and numpy.bytes_ too
        raise _MixedBatchError(f"default_collate: a batch mixes arrays and {type(value).__name__} (PyTorch's "
                               f"torch.as_tensor cannot convert it)")
    if isinstance(value, numpy.generic):
        return numpy.asarray(value)
    if isinstance(value, mg.Tensor):
        return value.data
    try:
        return mg.as_tensor(value).data
    except (TypeError, ValueError) as error:   # torch.as_tensor: RuntimeError, TypeError or ValueError by the value
        raise _NotConvertibleError(f"default_collate: a batch mixes arrays and {type(value).__name__} ({error})") \
            from error


def _numbers(batch: Sequence[Any]) -> list:
    """The samples of a batch whose first sample is an int or a NumPy scalar, for ``mg.tensor``. As
    ``torch.tensor(batch)`` infers the dtype first, a sample of no dtype (None, a dict, a set) raises before any
    Tensor's size is read (PyTorch's RuntimeError)."""
    for value in batch:
        if value is None or not isinstance(value, (numbers.Number, numpy.generic, numpy.ndarray, mg.Tensor, str,
                                                   bytes, Sequence)):
            raise _MixedBatchError(f"default_collate: a batch mixes numbers and {type(value).__name__} (could not "
                                   "infer its dtype)")
    return [_python_number(b) for b in batch]


def _python_number(value: Any) -> Any:
    """A number of a batch for ``mg.tensor``; anything else raises PyTorch's collate error. A 0-d array is its
    number (NumPy scalar), as ``torch.tensor([1, numpy.array(2.0)])`` reads it."""
    if isinstance(value, numpy.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, mg.Tensor):   # torch.tensor([1.0, t]) reads a one-element t as a number of its dtype
        if value.numel() != 1:
            raise _TensorAmongNumbersError(f"default_collate: a batch of numbers holds a Tensor of shape "
                                           f"{tuple(value.shape)}; only one element tensors can be converted to "
                                           "Python scalars")
        return value.detach().reshape(())
    if isinstance(value, (numbers.Number, numpy.generic)) and not isinstance(value, (str, bytes)):
        return value
    raise _MixedBatchError(f"default_collate: a batch mixes numbers and {type(value).__name__}")


def _same_mapping(elem: Mapping, fields: dict) -> Any:
    """``fields`` in a mapping of ``elem``'s type (a copy of it, so a defaultdict keeps its default), as PyTorch."""
    try:
        if isinstance(elem, MutableMapping):
            clone = copy.copy(elem)
            clone.update(fields)
            return clone
        return type(elem)(fields)
    except TypeError:
        return fields


def _same_sequence(elem: Sequence, fields: list) -> Any:
    """``fields`` in a sequence of ``elem``'s type where it can be made (a list subclass stays one)."""
    try:
        if isinstance(elem, MutableSequence):
            clone = copy.copy(elem)
            for i, field in enumerate(fields):
                clone[i] = field
            return clone
        return type(elem)(fields)
    except TypeError:
        return fields


def default_convert(data: Any) -> Any:
    """Without batching: arrays and numbers in the data become Tensors (PyTorch's default_convert)."""
    if isinstance(data, mg.Tensor):
        return data
    if isinstance(data, numpy.ndarray) and not isinstance(data, numpy.ma.MaskedArray):
        # as PyTorch: arrays of strings or objects stay arrays; the others (a memmap, a matrix) convert or raise
        return data if data.dtype.kind in "SUO" else mg.as_tensor(numpy.asarray(data))
    if mg.is_array(data):   # a CuPy array
        return mg.as_tensor(data)
    if isinstance(data, numpy.generic) and not isinstance(data, (numpy.str_, numpy.bytes_)):
        return mg.tensor(data)
    if isinstance(data, Mapping):
        return _same_mapping(data, {key: default_convert(value) for key, value in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(v) for v in data))
    if isinstance(data, tuple):
        return [default_convert(v) for v in data]
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        return _same_sequence(data, [default_convert(v) for v in data])
    return data
