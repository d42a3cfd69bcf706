"""More pooling as ``torch.nn.functional``'s (re-exported by ``nn.functional``): ``max_pool3d``,
``avg_pool3d``, ``adaptive_avg_pool3d``, ``adaptive_max_pool3d``, the ``*_with_indices`` spellings,
``lp_pool1d``/``2d``/``3d``, ``max_unpool1d``/``2d``/``3d`` and ``local_response_norm`` (a pooling over channels).

The window pools reuse ``nn._conv``'s im2col (its ``_max_pool``/``_avg_pool`` take any number of spatial dims);
adaptive pools gather each window's positions from a host-built table, as ``adaptive_max_pool2d`` does; the rest
is composed of engine ops, so every gradient is the engine's.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

import minigrad as mg
from minigrad import Tensor

from ._activations import _reads_input
from ._arguments import _floating, _number, _refuse_cpu_half, _tensor
from ._conv import (
    _avg_pool,
    _ints,
    _listed_sizes,
    _max_pool,
    _max_positions,
    _python_tuple,
    _some_channels,
    _window_means,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    complex_mean_to_ones,
    max_pool1d,
    max_pool2d,
)
from ._errors import ArgumentFormError, InputRankError, InputShapeError
from ._flags import flag
from ._gradient_layout import channels_last_as
from ._padding import ConstantPad
from ._targets import checked_indices

__all__ = ["adaptive_avg_pool3d", "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
           "adaptive_max_pool3d", "adaptive_max_pool3d_with_indices", "avg_pool3d", "local_response_norm",
           "lp_pool1d", "lp_pool2d", "lp_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
           "max_pool3d", "max_pool3d_with_indices", "max_unpool1d", "max_unpool2d", "max_unpool3d"]


# --- 3-D window pools and the *_with_indices spellings ---------------------------------------------------

def max_pool3d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,  # noqa: A002
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """``max_pool1d`` over the last three dims, as ``torch.nn.functional.max_pool3d``: (N, C, D, H, W) or
    (C, D, H, W) → (N, C, D_out, H_out, W_out); each argument an int or a triple; ``return_indices``: also
    each maximum's int64 position in the flattened D·H·W volume."""
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def avg_pool3d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,  # noqa: A002
               ceil_mode: bool = False, count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """``avg_pool2d`` over the last three dims, as ``torch.nn.functional.avg_pool3d``: (N, C, D, H, W) or
    (C, D, H, W) → (N, C, D_out, H_out, W_out); each argument an int or a triple. Unlike the 1-D and 2-D pools,
    each of D, H, W must be at least its kernel size, padding aside, as PyTorch's 3-D kernel checks. A float16
    input on the CPU raises PyTorch's NotImplementedError (its CPU kernel has no float16 version)."""
    if isinstance(input, Tensor):
        _refuse_cpu_half(input, "avg_pool3d", "avg_pool3d_out_frame")
    if isinstance(input, Tensor) and input.ndim in (4, 5):
        (t, h, w), (kt, kh, kw) = input.shape[-3:], _ints(kernel_size, 3, "avg_pool3d", "kernel_size", 1,
                                                           int_list=True)
        if t < kt or h < kh or w < kw:
            raise InputShapeError(f"avg_pool3d: input image (T: {t} H: {h} W: {w}) smaller than kernel size "
                                  f"(kT: {kt} kH: {kh} kW: {kw}) of input shape {input.shape}")
    return _avg_pool("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def max_pool1d_with_indices(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,  # noqa: A002
                            dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> tuple:
    """``max_pool1d(..., return_indices=True)``: (values, int64 indices), whatever ``return_indices`` says."""
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,  # noqa: A002
                            dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> tuple:
    """``max_pool2d(..., return_indices=True)``: (values, int64 indices), whatever ``return_indices`` says."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,  # noqa: A002
                            dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> tuple:
    """:func:`max_pool3d` with ``return_indices=True``: (values, int64 indices)."""
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


# --- adaptive 3-D pools -----------------------------------------------------------------------------------

def _adaptive_windows(input: Any, output_size: Any, dims: int, name: str) -> tuple:  # noqa: A002
    """The input (a float Tensor of dims + 1 or dims + 2 dims) and PyTorch's adaptive windows along each spatial
    dim, [(starts, ends), …]: window i covers [⌊i·L/out⌋, ⌈(i + 1)·L/out⌉); None in ``output_size`` keeps L."""
    x = _floating(input, name)
    if x.ndim not in (dims + 1, dims + 2) or 0 in x.shape[-dims:]:
        raise InputShapeError(f"{name}: expected a {dims + 1}-D or {dims + 2}-D input with non-zero spatial sizes, "
                              f"got shape {x.shape}")
    sizes = _listed_sizes(output_size, dims, name)
    if len(sizes) != dims:
        raise ArgumentFormError(f"{name}: output_size must be an int or a tuple of {dims}, got {output_size!r}")
    # PyTorch fills in the Nones, then parses the list: adaptive_avg_pool3d's a SymInt list (a bool tensor refused),
    # adaptive_max_pool3d's an int list
    sizes = _ints(tuple(length if size is None else size for size, length in zip(sizes, x.shape[-dims:])), dims, name,
                  "output_size", 0, int_list="max" in name)
    if not (name == "adaptive_avg_pool3d" and sizes == (1,) * dims):   # PyTorch's mean to 1s takes no channels
        _some_channels(x, dims, name)
    windows = []
    for out, length in zip(sizes, x.shape[-dims:]):
        steps = numpy.arange(out)
        windows.append((steps * length // out, -((-(steps + 1) * length) // out)))
    return x, windows


def adaptive_avg_pool3d(input: Tensor, output_size: Any) -> Tensor:  # noqa: A002
    """Mean over the ``output_size`` (an int or a triple; None keeps a dim) windows tiling the last three dims,
    as PyTorch's: (N, C, D, H, W) or (C, D, H, W) → (N, C, D_out, H_out, W_out). The mean over a box is the
    mean of the means along each of its dims (W, then H, then D)."""
    mean = complex_mean_to_ones(input, output_size, 3, "adaptive_avg_pool3d")
    if mean is not None:
        return mean
    x, windows = _adaptive_windows(input, output_size, 3, "adaptive_avg_pool3d")
    out = x
    for k, (starts, ends) in reversed(list(enumerate(windows))):
        out = _window_means(out, x.ndim - 3 + k, starts, ends)
    return out


def adaptive_max_pool3d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:  # noqa: A002
    """Largest entry of each window of :func:`adaptive_avg_pool3d`'s, as PyTorch's: (N, C, D, H, W) or
    (C, D, H, W) → (N, C, D_out, H_out, W_out), the gradient to the first largest entry in row-major order;
    ``return_indices``: also each maximum's int64 position in the flattened D·H·W volume."""
    name = "adaptive_max_pool3d"
    x, windows = _adaptive_windows(input, output_size, 3, name)
    spatial = x.shape[-3:]
    # (D_out, H_out, W_out, widest window) flat positions (see _window_table)
    table = _window_table(windows, spatial)
    table = mg.as_tensor(mg.make_array(table, numpy.int64, x.device))
    flat = x.reshape(*x.shape[:-3], math.prod(spatial))
    with mg.no_grad():
        picked = flat.detach()[..., table]                                       # (*, D_out, H_out, W_out, k)
        indices = _max_positions(picked, table)
    values = _reads_input(flat.gather(-1, indices.reshape(*x.shape[:-3], math.prod(indices.shape[-3:]))))
    values = values.reshape(indices.shape)   # _reads_input: PyTorch's max-pool backward reads x
    return (values, indices) if flag(return_indices, name, "return_indices") else values


def _window_table(windows: list, spatial: tuple) -> numpy.ndarray:
    """(out_1, …, out_n, w_1·…·w_n): the flat positions (row-major over ``spatial``) of each window's entries,
    row-major within the window; a window narrower than the widest repeats its first position."""
    table = numpy.zeros((), dtype=numpy.int64)
    for (starts, ends), length in zip(windows, spatial):
        rows = starts[:, None] + numpy.arange(int((ends - starts).max(initial=1)))
        rows = numpy.where(rows < ends[:, None], rows, starts[:, None])                     # (out, width)
        # new table[..., o, (w_prev, w)] = table[..., (w_prev)] * length + rows[o, w]
        table = table[..., None, :, None] * length + rows[:, None, :] if table.ndim else rows
        if table.ndim > 2:
            table = table.reshape(table.shape[:-2] + (table.shape[-2] * table.shape[-1],))
    return table


def adaptive_max_pool1d_with_indices(input: Tensor, output_size: Any, return_indices: bool = False) -> tuple:  # noqa: A002
    """``adaptive_max_pool1d(..., return_indices=True)``: (values, int64 indices)."""
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input: Tensor, output_size: Any, return_indices: bool = False) -> tuple:  # noqa: A002
    """``adaptive_max_pool2d(..., return_indices=True)``: (values, int64 indices)."""
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool3d_with_indices(input: Tensor, output_size: Any, return_indices: bool = False) -> tuple:  # noqa: A002
    """:func:`adaptive_max_pool3d` with ``return_indices=True``: (values, int64 indices)."""
    return adaptive_max_pool3d(input, output_size, True)


# --- power-average pooling ------------------------------------------------------------------------------

def _lp_pool(name: str, dims: int, pool: Any, max_pool: Any, input: Any, norm_type: Any,  # noqa: A002
             kernel_size: Any, stride: Any, ceil_mode: Any) -> Tensor:
    x = _tensor(input, name)
    if dims > 1:   # (PyTorch's lp_pool2d/3d pass kernel_size through its Python _pair/_triple first)
        kernel_size = _python_tuple(kernel_size, name, "kernel_size")
    if dims > 1 and isinstance(kernel_size, (tuple, list)) and len(kernel_size) != dims:
        # PyTorch's lp_pool2d/3d unpack kernel_size into dims sizes first (a one-element one is not spread)
        raise ValueError(f"{name}: kernel_size must be an int or a tuple of {dims} ints, got {kernel_size!r}")
    p = exponent = _number(norm_type, name, "norm_type")
    if x.dtype.kind in "biu" and abs(p) != math.inf:
        # PyTorch's x.pow(p): an int p keeps integers (bool: int64), which only int64's average pool takes (its
        # mean rounded toward 0); a float p gives the default float dtype
        if isinstance(norm_type, (int, numpy.integer)):
            x, exponent = x.to(mg.int64) if x.dtype == mg.bool else x, int(norm_type)
        else:
            x = x.to(mg.get_default_dtype())
    elif x.dtype.kind not in "iu":   # (integers' max pools: the 2-D and 3-D ones take them)
        x = _floating(x, name)
    if p == math.inf:
        return max_pool(x.abs(), kernel_size, stride, 0, 1, ceil_mode)
    if p == -math.inf:
        return -max_pool(-x.abs(), kernel_size, stride, 0, 1, ceil_mode)
    kernel = _ints(kernel_size, dims, name, "kernel_size", 1, int_list=True)   # (the average pool's int list)
    try:
        out = pool(x ** exponent, kernel_size, stride, 0, ceil_mode)
    except ValueError as error:   # the average pool's shape error, named as the call
        raise type(error)(f"{name}: {error}") from None
    if out.dtype.kind in "iu":   # an int64 average times PyTorch's Python float: the default float dtype
        out = out.to(mg.get_default_dtype())
    # as PyTorch: sign(out)·relu(|out|) (a zero mean stays 0), times the window size, to the power 1/p
    return (out.sign() * out.abs().relu() * float(math.prod(kernel))) ** (1.0 / p)


def lp_pool1d(input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None,  # noqa: A002
              ceil_mode: bool = False) -> Tensor:
    """(Σ_window x^p)^(1/p) over each window, as ``torch.nn.functional.lp_pool1d``: (N, C, L) or (C, L) →
    (N, C, L_out), no padding; ``norm_type`` p (inf: the max of |x|); ``stride`` defaults to ``kernel_size``."""
    return _lp_pool("lp_pool1d", 1, avg_pool1d, max_pool1d, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None,  # noqa: A002
              ceil_mode: bool = False) -> Tensor:
    """:func:`lp_pool1d` over the last two dims: (N, C, H, W) or (C, H, W) → (N, C, H_out, W_out)."""
    return _lp_pool("lp_pool2d", 2, avg_pool2d, max_pool2d, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None,  # noqa: A002
              ceil_mode: bool = False) -> Tensor:
    """:func:`lp_pool1d` over the last three dims: (N, C, D, H, W) or (C, D, H, W) → (N, C, D_out, H_out, W_out)."""
    return _lp_pool("lp_pool3d", 3, avg_pool3d, max_pool3d, input, norm_type, kernel_size, stride, ceil_mode)


# --- unpooling ------------------------------------------------------------------------------------------

def _max_unpool(name: str, dims: int, input: Any, indices: Any, kernel_size: Any, stride: Any,  # noqa: A002
                padding: Any, output_size: Any) -> Tensor:
    x, indices = _floating(input, name), _tensor(indices, name, "indices")
    if x.ndim not in (dims + 1, dims + 2):   # (a 0-d one: PyTorch's IndexError)
        error = InputRankError if x.ndim == 0 else InputShapeError
        raise error(f"{name}: expected a {dims + 1}-D or {dims + 2}-D input, got shape {x.shape}")
    if indices.shape != x.shape or indices.dtype != mg.int64:   # PyTorch's kernel reads int64 indices only
        raise InputShapeError(f"{name}: indices must be an int64 tensor of the input's shape {x.shape}, got "
                              f"{indices.dtype} of shape {indices.shape}")
    kernel = _ints(kernel_size, dims, name, "kernel_size", 1)
    stride = kernel if stride is None else _ints(stride, dims, name, "stride", 1)
    padding = _ints(padding, dims, name, "padding", 0)
    default = [(n - 1) * s + k - 2 * p for n, s, k, p in zip(x.shape[-dims:], stride, kernel, padding)]
    if output_size is None:
        size = default
    else:
        size = list(output_size)
        if len(size) == dims + 2:
            size = size[2:]
        if len(size) != dims:
            raise ValueError(f"{name}: output_size should be a sequence containing {dims} or {dims + 2} elements, "
                             f"but it has a length of '{len(size)}'")
        for d in range(dims):
            if not default[d] - stride[d] < size[d] < default[d] + stride[d]:
                raise ValueError(f'{name}: invalid output_size "{tuple(output_size)}" (dim {d} must be between '
                                 f'{default[d] - stride[d]} and {default[d] + stride[d]})')
    total = math.prod(size)
    if total == 0:   # an empty output (a dim of size 0): nothing is written, so PyTorch checks no index
        out = x.reshape(*x.shape[:-dims], math.prod(x.shape[-dims:]))[..., :0].reshape(*x.shape[:-dims], *size)
        return out.clone()
    shape = "x".join(map(str, size))
    flat_index = checked_indices(indices.reshape(*x.shape[:-dims], math.prod(x.shape[-dims:])), x.device, total, name,
                                 lambda value, _low, _high: f"{name}: Found an invalid max index: {value} (output "
                                                            f"volumes are of size {shape})")
    out = mg.zeros(*x.shape[:-dims], total, dtype=x.dtype, device=x.device)
    out = out.scatter(-1, flat_index, x.reshape(*x.shape[:-dims], math.prod(x.shape[-dims:])))
    out = out.reshape(*x.shape[:-dims], *size)
    return channels_last_as(out, x) if dims == 2 else out   # PyTorch's 2-D kernel: as the input suggests


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,  # noqa: A002
                 output_size: Any = None) -> Tensor:
    """The inverse of ``max_pool1d``'s selection, as ``torch.nn.functional.max_unpool1d``: each value of (N, C, L)
    or (C, L) is put at its position in ``indices`` (from ``max_pool1d(..., return_indices=True)``) of a zero
    (N, C, L_out), L_out = (L - 1)·stride + kernel_size - 2·padding unless ``output_size`` says otherwise."""
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,  # noqa: A002
                 output_size: Any = None) -> Tensor:
    """:func:`max_unpool1d` over the last two dims: (N, C, H, W) or (C, H, W) → (N, C, H_out, W_out); the
    indices are positions in the flattened H_out·W_out plane, as ``max_pool2d`` returns them."""
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,  # noqa: A002
                 output_size: Any = None) -> Tensor:
    """:func:`max_unpool1d` over the last three dims: (N, C, D, H, W) or (C, D, H, W) → (N, C, D_out, H_out,
    W_out)."""
    return _max_unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding, output_size)


# --- local response normalisation ----------------------------------------------------------------------

def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,  # noqa: A002
                        k: float = 1.0) -> Tensor:
    """x / (k + α/n · Σ x²)^β, the sum over the ``size`` = n channels around each (n//2 before, (n-1)//2 after,
    zero beyond the ends), as ``torch.nn.functional.local_response_norm`` (AlexNet's). (N, C, *) → same shape."""
    name = "local_response_norm"
    x = _tensor(input, name)
    if x.ndim < 3:   # the shape before the dtype, as PyTorch
        raise ValueError(f"{name}: expected 3D or higher dimensionality input (got {x.ndim} dimensions)")
    integers = x.dtype == mg.int64   # PyTorch's: the mean of the squares is then int64's average pool (toward 0)
    if not integers:
        x = _floating(x, name)
    if isinstance(size, bool) or not isinstance(size, (int, numpy.integer)) or size < 1:
        raise InputShapeError(f"{name}: size must be a positive int, got {size!r}")
    if x.numel() == 0:
        return x
    alpha, beta, k = _number(alpha, name, "alpha"), _number(beta, name, "beta"), _number(k, name, "k")
    channels = x.shape[1]
    squares = x * x
    widths = ((0, 0), (size // 2, (size - 1) // 2)) + ((0, 0),) * (x.ndim - 2)

    padded = ConstantPad(widths, 0.0)(squares)
    total = None
    for offset in range(size):   # the sum of the window along the channels, one shifted slice at a time
        part = padded[:, offset:offset + channels]
        total = part if total is None else total + part
    if integers:
        mean = mg.div(total, size, rounding_mode="trunc").to(mg.get_default_dtype())
        return channels_last_as(x.to(mean.dtype) / ((mean * alpha + k) ** beta), x)
    return channels_last_as(x / ((total * (alpha / size) + k) ** beta), x)   # PyTorch's x first: its layout
