"""Fractional max pooling (Graham 2014), as ``torch.nn.functional.fractional_max_pool2d``/``3d``.

Each output position ``i`` along a spatial dim of size ``n`` pools a window of ``k`` entries starting at
PyTorch's pseudo-random interval sequence for that plane's sample ``u`` in [0, 1)::

    alpha = (n - k) / (out - 1)
    start[i] = trunc((i + u) · alpha) - trunc(u · alpha)    (i < out - 1)
    start[out - 1] = n - k

computed in the input's dtype, as PyTorch's kernel does, so equal samples pick equal windows. The samples are
``_random_samples`` (N, C, dims) — for 2-D ``[..., 0]`` is the width's and ``[..., 1]`` the height's; for 3-D
time, height, width in that order — or drawn from ``mg.rand`` (PyTorch draws its own). The maximum of each window
is its first largest entry, or its last NaN, as PyTorch's loop picks it; the values are a gather of the input at
those positions, so the gradient (accumulated where windows overlap) is the engine's.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy

import minigrad as mg
from minigrad import Tensor

from ._activations import _reads_input
from ._arguments import _tensor
from ._conv import _ints, _unspread
from ._errors import InputRankError
from ._flags import flag

__all__ = ["fractional_max_pool2d", "fractional_max_pool2d_with_indices", "fractional_max_pool3d",
           "fractional_max_pool3d_with_indices"]

# the sample column of each spatial dim (PyTorch's kernels read W first in 2-D, T, H, W in 3-D)
_SAMPLE_COLUMN = {2: (1, 0), 3: (0, 1, 2)}
_DIM_NAMES = {2: ("height", "width"), 3: ("time", "height", "width")}


def _output_size(x: Tensor, dims: int, output_size: Any, output_ratio: Any, name: str) -> tuple:
    if output_size is None and output_ratio is None:
        raise ValueError(f"{name} requires specifying either an output_size or an output_ratio")
    if output_size is not None:
        _unspread(output_size, dims, name, "output_size")   # (PyTorch's C++ check: not spread)
        return _ints(output_size, dims, name, "output_size", 0, int_list=True)   # (int lists: a bool tensor is 0/1)
    ratios = output_ratio if isinstance(output_ratio, (tuple, list)) else (output_ratio,) * dims
    if len(ratios) != dims or not all(isinstance(r, numbers.Real) and not isinstance(r, bool) for r in ratios):
        raise ValueError(f"{name} requires output_ratio to either be a single number or a tuple of {dims} numbers, "
                         f"got {output_ratio!r}")
    return tuple(int(length * float(r)) for length, r in zip(x.shape[-dims:], ratios))


def _samples(samples: Any, x: Tensor, batch: int, dims: int, name: str) -> Tensor:
    channels = x.shape[-dims - 1]
    if samples is None:
        return mg.rand(batch, channels, dims, dtype=x.dtype, device=x.device)
    samples = _tensor(samples, name, "_random_samples")
    if samples.ndim != 3:
        raise RuntimeError(f"{name}: expect _random_samples to have 3 dimensions, got {samples.ndim} "
                           f"(shape {samples.shape})")
    if samples.dtype != x.dtype:
        raise RuntimeError(f"{name}: expect _random_samples to have the same dtype as input "
                           f"({samples.dtype} vs {x.dtype})")
    if samples.shape[2] != dims:
        raise RuntimeError(f"{name}: expect _random_samples.size(2) equals to {dims}; got {samples.shape[2]}")
    if samples.shape[0] < batch:
        raise RuntimeError(f"{name}: expect _random_samples.size(0) no less than the input batch size "
                           f"({samples.shape[0]} < {batch})")
    if samples.shape[1] != channels:
        raise RuntimeError(f"{name}: expect _random_samples.size(1) equals to the input channel size "
                           f"({samples.shape[1]} != {channels})")
    if samples.device != x.device:
        raise ValueError(f"{name}: _random_samples is on {samples.device}, the input on {x.device}")
    return samples[:batch]


def _starts(sample: Tensor, length: int, out: int, pool: int) -> Tensor:
    """(N, C) samples → (N, C, out) int64 window starts (the module docstring's sequence)."""
    if out == 0:
        return mg.zeros(*sample.shape, 0, dtype=mg.int64, device=sample.device)
    last = mg.full((*sample.shape, 1), length - pool, dtype=mg.int64, device=sample.device)
    if out == 1:
        return last
    dtype = numpy.dtype(sample.dtype)
    alpha = float(dtype.type(length - pool) / dtype.type(out - 1))   # rounded in the input's dtype, as PyTorch
    steps = mg.arange(out - 1, dtype=sample.dtype, device=sample.device)
    u = sample.unsqueeze(-1)
    starts = ((steps + u) * alpha).trunc().long() - (u * alpha).trunc().long()
    return mg.cat([starts, last], dim=-1)


def _fractional_max_pool(dims: int, input: Any, kernel_size: Any, output_size: Any, output_ratio: Any,  # noqa: A002
                         return_indices: Any, samples: Any) -> Any:
    name = f"fractional_max_pool{dims}d"
    x = _tensor(input, name)
    if x.ndim not in (dims + 1, dims + 2):   # too few dims: PyTorch's size(-dims - 1) raises IndexError
        error = InputRankError if x.ndim < dims + 1 else RuntimeError
        raise error(f"{name}(): expected {dims + 1}D or {dims + 2}D tensor, but got: {list(x.shape)}")
    if x.dtype.kind != "f":
        raise NotImplementedError(f"{name}: expects a floating-point input, got dtype {x.dtype}")
    if 0 in x.shape[-dims - 1:]:
        raise RuntimeError(f"{name}(): expected input to have non-zero size for non-batch dimensions, "
                           f"but got {list(x.shape)}")
    _unspread(kernel_size, dims, name, "kernel_size")
    kernel = _ints(kernel_size, dims, name, "kernel_size", 1, int_list=True)
    out = _output_size(x, dims, output_size, output_ratio, name)
    spatial = x.shape[-dims:]
    # PyTorch's checks: 2-D allows out + k - 1 == n (height, then width); 3-D does not (time, width, height)
    order = (0, 1) if dims == 2 else (0, 2, 1)
    for axis in order:
        fits = out[axis] + kernel[axis] - 1 <= spatial[axis] if dims == 2 else \
            out[axis] + kernel[axis] - 1 < spatial[axis]
        if not fits:
            what = _DIM_NAMES[dims][axis]
            raise RuntimeError(f"{name}(): pool {what} {kernel[axis]} too large relative to input {what} "
                               f"{spatial[axis]} (output {what} {out[axis]})")
    unbatched = x.ndim == dims + 1
    if unbatched:
        x = x.unsqueeze(0)
    batch, channels = x.shape[0], x.shape[1]
    u = _samples(samples, x, batch, dims, name)
    flat = x.reshape(batch, channels, math.prod(spatial))
    with mg.no_grad():
        # table[n, c, o_1, …, o_d, j]: the flat position of the j-th entry (row-major in the window) of window o
        table = mg.zeros((batch, channels) + (1,) * (2 * dims), dtype=mg.int64, device=x.device)
        for axis in range(dims):
            starts = _starts(u[:, :, _SAMPLE_COLUMN[dims][axis]], spatial[axis], out[axis], kernel[axis])
            offsets = mg.arange(kernel[axis], dtype=mg.int64, device=x.device)
            rows = starts.unsqueeze(-1) + offsets                                   # (N, C, out_a, k_a)
            shape = [batch, channels] + [1] * (2 * dims)
            shape[2 + axis], shape[2 + dims + axis] = out[axis], kernel[axis]
            table = table * spatial[axis] + rows.reshape(shape)
        table = table.reshape(batch, channels, *out, math.prod(kernel))
        # explicit sizes, not -1: an empty batch has nothing to infer a -1 from
        windows = math.prod(out) * math.prod(kernel)
        picked = flat.detach().gather(-1, table.reshape(batch, channels, windows)).reshape(table.shape)
        nan = picked.isnan()
        last_nan = (nan.shape[-1] - 1) - nan.flip(-1).int().argmax(dim=-1, keepdim=True)
        choice = mg.where(nan.any(dim=-1, keepdim=True), last_nan, picked.argmax(dim=-1, keepdim=True))
        indices = table.gather(-1, choice).squeeze(-1)                              # (N, C, *out)
    # PyTorch's backward reads x: with create_graph, x's gradient requires grad (a penalty on it works)
    values = _reads_input(flat.gather(-1, indices.reshape(batch, channels, math.prod(out)))).reshape(indices.shape)
    if unbatched:
        values, indices = values.squeeze(0), indices.squeeze(0)
    return (values, indices) if flag(return_indices, name, "return_indices") else values


def fractional_max_pool2d_with_indices(input: Tensor, kernel_size: Any, output_size: Any = None,  # noqa: A002
                                       output_ratio: Any = None, return_indices: bool = False,
                                       _random_samples: Tensor | None = None) -> tuple:
    """:func:`fractional_max_pool2d` with the indices: (values, int64 positions in the flattened H·W plane)."""
    return _fractional_max_pool(2, input, kernel_size, output_size, output_ratio, True, _random_samples)


def fractional_max_pool2d(input: Tensor, kernel_size: Any, output_size: Any = None,  # noqa: A002
                          output_ratio: Any = None, return_indices: bool = False,
                          _random_samples: Tensor | None = None) -> Any:
    """Fractional max pooling over (H, W), as torch's: (N, C, H, W) or (C, H, W) → (N, C, oH, oW) with
    ``output_size`` (an int or a pair) or ``output_size = int(size · output_ratio)``; windows ``kernel_size``
    (int or pair) at the pseudo-random starts of the module docstring; ``_random_samples`` (N, C, 2) in the
    input's dtype (drawn with ``mg.rand`` when None). ``return_indices``: also the positions in H·W."""
    return _fractional_max_pool(2, input, kernel_size, output_size, output_ratio, return_indices, _random_samples)


def fractional_max_pool3d_with_indices(input: Tensor, kernel_size: Any, output_size: Any = None,  # noqa: A002
                                       output_ratio: Any = None, return_indices: bool = False,
                                       _random_samples: Tensor | None = None) -> tuple:
    """:func:`fractional_max_pool3d` with the indices: (values, int64 positions in the flattened T·H·W volume)."""
    return _fractional_max_pool(3, input, kernel_size, output_size, output_ratio, True, _random_samples)


def fractional_max_pool3d(input: Tensor, kernel_size: Any, output_size: Any = None,  # noqa: A002
                          output_ratio: Any = None, return_indices: bool = False,
                          _random_samples: Tensor | None = None) -> Any:
    """:func:`fractional_max_pool2d` over (T, H, W): (N, C, T, H, W) or (C, T, H, W) → (N, C, oT, oH, oW);
    ``_random_samples`` (N, C, 3)."""
    return _fractional_max_pool(3, input, kernel_size, output_size, output_ratio, return_indices, _random_samples)
