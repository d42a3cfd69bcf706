"""Resizing as ``torch.nn.functional``'s: ``interpolate`` (nearest, nearest-exact, linear, bilinear, bicubic,
trilinear, area) and its deprecated spellings ``upsample``, ``upsample_nearest``, ``upsample_bilinear``.

Every mode but ``area`` is separable: along each spatial dim, output position o reads a few input positions
(its taps) and weighs them. The taps and weights are computed on the host, in the arithmetic of PyTorch's
CPU kernels (``aten/src/ATen/native/UpSample.h``: float32 for float32 inputs, float64 for float64), and the
resampling is ordinary engine ops: a gather along the dim per tap, times its weights, summed. So the gradient
is the engine's (a scatter-add back to the taps), shows up op by op in the graph, and runs on CuPy alike.
The dims are resampled innermost first (W, then H, then D), the order in which PyTorch's kernel sums.
``area`` is adaptive average pooling.
"""

from __future__ import annotations

import operator
import warnings
from typing import Any

import numpy

import minigrad as mg
from minigrad import Tensor
from minigrad.int_arguments import refuse_bool_tensors

from ._arguments import _dtype_error, _in_int64, _tensor
from ._conv import _some_channels, _window_means
from ._errors import InputShapeError
from ._flags import flag
from ._gradient_layout import channels_last_as
from ._half_pool import adaptive_avg_pool3d_float16

__all__ = ["interpolate", "upsample", "upsample_bilinear", "upsample_nearest"]

_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact", "lanczos")
_LINEAR_DIMS = {"linear": 1, "bilinear": 2, "trilinear": 3}
_CUBIC_A = -0.75   # PyTorch's (and OpenCV's) bicubic convolution parameter


# --- taps and weights along one dim (host NumPy, PyTorch's arithmetic) ------------------------------------

def _compute_dtype(dtype: numpy.dtype) -> type:
    """PyTorch's ``opmath_t`` for the index arithmetic: float64 for float64 inputs, else float32."""
    return numpy.float64 if dtype == numpy.float64 else numpy.float32


def _nearest_taps(in_size: int, out_size: int, scale: float | None, exact: bool, spatial: int,
                  wide: bool = False) -> numpy.ndarray:
    """Input position of each output position, as ``nearest_idx`` / ``nearest_exact_idx`` (float32 arithmetic):
    ⌊o·s⌋ (nearest) or ⌊(o + ½)·s⌋ (nearest-exact), s = 1/scale_factor if given else in/out, at most in - 1.
    PyTorch's 2-D nearest kernel (``spatial == 2``) copies when out = in and takes ⌊o/2⌋ when out = 2·in,
    whatever the scale factor; its 1-D and 3-D kernels do not, and they take s in the input's opmath type:
    ``wide`` (a float64 input), s in float64, which puts o·s on the other side of an integer at some points
    (1-D 16 → 82: output 41 reads 8, not 7)."""
    f32 = numpy.float32
    out = numpy.arange(out_size)
    if not exact and spatial == 2 and out_size == in_size:
        return out
    if not exact and spatial == 2 and out_size == 2 * in_size:
        return out >> 1
    ft = numpy.float64 if wide and spatial != 2 else f32
    step = ft(1.0 / scale) if scale is not None and scale > 0 else ft(in_size) / ft(out_size)
    if exact:   # (o + 0.5) is a double in PyTorch's kernel, times the float scale, then floorf
        source = numpy.floor(((out + 0.5) * numpy.float64(step)).astype(f32))
    else:   # o·s in double, then floorf
        source = numpy.floor((out * numpy.float64(step)).astype(f32))
    return numpy.minimum(source.astype(numpy.int64), in_size - 1)


def _source_positions(in_size: int, out_size: int, scale: float | None, align_corners: bool, cubic: bool,
                      ct: type) -> numpy.ndarray:
    """Real input position of each output position (``area_pixel_compute_scale`` / ``_source_index``):
    o·(in - 1)/(out - 1) with ``align_corners``, else (o + ½)·s - ½ with s = 1/scale_factor or in/out,
    clamped at 0 except for bicubic."""
    out = numpy.arange(out_size).astype(ct)
    if align_corners:
        ratio = ct(in_size - 1) / ct(out_size - 1) if out_size > 1 else ct(0)
        return ratio * out
    ratio = ct(1.0 / scale) if scale is not None and scale > 0 else ct(in_size) / ct(out_size)
    source = ratio * (out + ct(0.5)) - ct(0.5)
    return source if cubic else numpy.maximum(source, ct(0))


def _index_and_fraction(source: numpy.ndarray, in_size: int, ct: type) -> tuple[numpy.ndarray, numpy.ndarray]:
    """``guard_index_and_lambda``: ⌊source⌋ (as floorf: through float32) at most in - 1, and the fraction
    source - index clamped to [0, 1]."""
    index = numpy.minimum(numpy.floor(source.astype(numpy.float32)).astype(numpy.int64), in_size - 1)
    return index, numpy.clip(source - index.astype(ct), ct(0), ct(1))


def _linear_taps(in_size: int, out_size: int, scale: float | None, align_corners: bool,
                 ct: type, half: bool = False) -> list[tuple[numpy.ndarray, numpy.ndarray]]:
    """Two (positions, weights) taps per output position, as ``compute_source_index_and_lambda``. A dim of
    unchanged size reads each entry twice, weighed 1 and 0 (so an inf there becomes NaN), as PyTorch's kernel
    does where another dim changes. ``half``: the weights of a float16 input, which PyTorch stores in float16
    (the fraction λ rounded, then 1 - λ rounded)."""
    if in_size == out_size:
        same = numpy.arange(in_size)
        return [(same, numpy.ones(in_size, dtype=ct)), (same, numpy.zeros(in_size, dtype=ct))]
    index, fraction = _index_and_fraction(_source_positions(in_size, out_size, scale, align_corners, False, ct),
                                          in_size, ct)
    if half:
        fraction = _as_float16(fraction)
    return [(index, _as_float16(ct(1) - fraction) if half else ct(1) - fraction),
            (index + (index < in_size - 1), fraction)]


def _as_float16(weights: numpy.ndarray) -> numpy.ndarray:
    """``weights`` rounded to float16, kept in their own dtype (PyTorch's float16 kernels store their weights
    in float16 and sum the products in float32)."""
    return weights.astype(numpy.float16).astype(weights.dtype)


def _cubic_taps(in_size: int, out_size: int, scale: float | None, align_corners: bool,
                ct: type, half: bool = False) -> list[tuple[numpy.ndarray, numpy.ndarray]]:
    """Four taps per output position, as PyTorch's bicubic: positions index - 1 … index + 2 clamped to the
    input, weights the cubic convolution (A = -0.75) at distances 1 + t, t, 1 - t, 2 - t (``half``: rounded
    to float16, as PyTorch stores a float16 input's)."""
    index, t = _index_and_fraction(_source_positions(in_size, out_size, scale, align_corners, True, ct), in_size, ct)
    a = ct(_CUBIC_A)

    def near(x: numpy.ndarray) -> numpy.ndarray:      # |x| <= 1
        return ((a + ct(2)) * x - (a + ct(3))) * x * x + ct(1)

    def far(x: numpy.ndarray) -> numpy.ndarray:       # 1 < |x| < 2
        return ((a * x - ct(5) * a) * x + ct(8) * a) * x - ct(4) * a

    weights = [far(t + ct(1)), near(t), near(ct(1) - t), far(ct(1) - t + ct(1))]
    return [(numpy.clip(index + k - 1, 0, in_size - 1), _as_float16(w) if half else w) for k, w in enumerate(weights)]


def _antialias_taps(in_size: int, out_size: int, scale: float | None, align_corners: bool, cubic: bool,
                    ct: type) -> list[tuple[numpy.ndarray, numpy.ndarray]]:
    """The taps of ``antialias=True`` (``_compute_index_ranges_weights`` in PyTorch's ``UpSampleKernel.cpp``):
    when shrinking by s = in/out > 1 the filter (triangle, or cubic with A = -0.5 as PIL's) is stretched to
    support s·(2 or 4)/2 around each centre s·(o + ½), so every input pixel contributes; the weights of a
    position are normalised to sum 1. Double/scalar roundings as the C++ code (``ct`` its scalar type)."""
    f64 = numpy.float64
    interp_size = 4 if cubic else 2
    if align_corners:
        s = ct(in_size - 1) / ct(out_size - 1) if out_size > 1 else ct(0)
    else:
        s = ct(1.0 / scale) if scale is not None and scale > 0 else ct(in_size) / ct(out_size)
    support = ct(f64(interp_size * 0.5) * f64(s)) if s >= 1.0 else ct(interp_size * 0.5)
    width = int(numpy.ceil(support)) * 2 + 1
    invscale = ct(1.0 / f64(s)) if s >= 1.0 else ct(1.0)
    center = (f64(s) * (numpy.arange(out_size) + 0.5)).astype(ct)
    low = numpy.maximum(((center - support).astype(f64) + 0.5).astype(numpy.int64), 0)
    high = numpy.minimum(((center + support).astype(f64) + 0.5).astype(numpy.int64), in_size)
    count = numpy.clip(high - low, 0, width)
    j = numpy.arange(width)[:, None]                                                      # (width, out)
    distance = ((((j + low) - center).astype(ct)).astype(f64) + 0.5) * f64(invscale)
    x = numpy.abs(distance.astype(ct))
    if cubic:
        a = ct(-0.5)
        near = ((a + ct(2)) * x - (a + ct(3))) * x * x + ct(1)
        far = ((a * x - ct(5) * a) * x + ct(8) * a) * x - ct(4) * a
        weights = numpy.where(x < 1.0, near, numpy.where(x < 2.0, far, ct(0)))
    else:
        weights = numpy.where(x < 1.0, (1.0 - x.astype(f64)).astype(ct), ct(0))
    weights = numpy.where(j < count, weights, ct(0)).astype(ct)
    total = numpy.zeros(out_size, dtype=ct)
    for row in weights:            # summed in order, in the scalar type, as the C++ loop
        total = (total + row).astype(ct)
    weights = numpy.where(total != 0, weights / numpy.where(total != 0, total, ct(1)), weights).astype(ct)
    positions = numpy.minimum(low + j, in_size - 1)
    # a tap past a position's count is no tap of it (PyTorch's loop stops at the count): left out, not weighted 0,
    # so an inf or NaN pixel there does not make the output NaN
    return [(positions[k], weights[k], j[k] < count) for k in range(width)]


def _resample(x: Tensor, axis: int, taps: Any) -> Tensor:
    """Σ over taps of x gathered at the tap's positions along ``axis``, times its weights (None: no weights); a
    tap's optional third entry, a bool per output position, leaves it out where False."""
    out = None
    trailing = (1,) * (x.ndim - 1 - axis)
    for positions, weights, *used in taps:
        # a host array: its range is checked on the host as it moves (a device Tensor would be read back)
        picked = x[(slice(None),) * axis + (positions.astype(numpy.int64),)]
        if weights is not None:
            picked = picked * mg.as_tensor(mg.make_array(weights.reshape((-1,) + trailing), x.dtype, x.device))
        if used and not used[0].all():   # (an antialias tap: the output positions it is a tap of)
            picked = mg.where(mg.as_tensor(mg.make_array(used[0].reshape((-1,) + trailing), mg.bool, x.device)),
                              picked, 0.0)
        out = picked if out is None else out + picked
    return out


# --- arguments ----------------------------------------------------------------------------------------------

def _sizes_and_scales(x: Tensor, size: Any, scale_factor: Any, recompute_scale_factor: Any, mode: str,
                      name: str) -> tuple[tuple, tuple]:
    """The output size of each spatial dim and the scale factor its kernel uses (None: in/out), as
    ``interpolate``'s argument processing and ATen's ``compute_output_size``."""
    dims = x.ndim - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is None and scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    recompute = recompute_scale_factor is not None and flag(recompute_scale_factor, name, "recompute_scale_factor")
    if size is not None:
        if recompute:
            raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
        sizes = tuple(size) if isinstance(size, (list, tuple)) else (size,) * dims
        if len(sizes) != dims:
            raise ValueError(f"Input and output must have the same number of spatial dimensions, but got input with "
                             f"spatial dimensions of {list(x.shape[2:])} and output size of {size}. Please provide "
                             f"input tensor in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) "
                             f"format.")
        given = sizes
        # PyTorch's SymInt[] parse refuses a bool as the first size and reads a later one as 0 or 1
        first_is_bool = bool(sizes) and isinstance(sizes[0], bool)
        try:
            sizes = () if first_is_bool else tuple(operator.index(s) for s in sizes)
        except TypeError:
            sizes = ()
        if len(sizes) != dims:
            raise TypeError(f"{name}: expected size to be one of int or Tuple[int] or Tuple[int, int] or "
                            f"Tuple[int, int, int], but got size {size!r}")
        refuse_bool_tensors(given, name, "size")   # (operator.index read tensor(True) as 1; PyTorch's RuntimeError)
        sizes = _in_int64(sizes, name, "size")
        scales: tuple = (None,) * dims
    else:
        scales = tuple(scale_factor) if isinstance(scale_factor, (list, tuple)) else (scale_factor,) * dims
        if len(scales) != dims:
            raise ValueError(f"Input and scale_factor must have the same number of spatial dimensions, but got input "
                             f"with spatial dimensions of {list(x.shape[2:])} and scale_factor of shape "
                             f"{scale_factor}. Please provide input tensor in (N, C, d1, d2, ...,dK) format and "
                             f"scale_factor in (s1, s2, ...,sK) format.")
        if not all(isinstance(s, (int, float, numpy.integer, numpy.floating)) and not isinstance(s, bool)
                   for s in scales):
            raise TypeError(f"{name}: scale_factor must be a number or a sequence of numbers, got {scale_factor!r}")
        scales = tuple(float(s) for s in scales)
        if not all(abs(n * s) < 2**63 for n, s in zip(x.shape[2:], scales)):   # inf, NaN, 1e30: PyTorch's error
            raise InputShapeError(f"{name}: scale_factor {scale_factor!r} gives an output size that cannot be "
                                  f"converted to int64 (input spatial size {tuple(x.shape[2:])})")
        sizes = tuple(n * int(s) if int(s) == s else int(n * s) for n, s in zip(x.shape[2:], scales))
        if recompute or mode == "area":   # PyTorch passes the size alone on: the kernel uses in/out
            scales = (None,) * dims
    return sizes, scales


def interpolate(input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",  # noqa: A002
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resize the spatial dims of (N, C, *S) to (N, C, *size) or (N, C, *⌊S·scale_factor⌋), as
    ``torch.nn.functional.interpolate``.

    ``mode``: ``'nearest'`` (PyTorch's: input position ⌊o·in/out⌋), ``'nearest-exact'`` (⌊(o + ½)·in/out⌋),
    ``'linear'`` (3-D input), ``'bilinear'`` / ``'bicubic'`` (4-D), ``'trilinear'`` (5-D) or ``'area'``
    (adaptive average pooling). ``align_corners`` (the interpolating modes only; None is False): the corner
    pixels' centres of input and output coincide. With ``scale_factor``, the kernels place the output by
    1/scale_factor unless ``recompute_scale_factor=True`` (then by in/out of the computed size). Nearest modes
    work on any dtype; the interpolating ones need floating point. ``antialias=True`` (bilinear and bicubic of
    4-D inputs) widens the filter when shrinking, as PyTorch's (and PIL's) resize; ``'lanczos'`` is not
    supported (NotImplementedError).
    """
    name = "interpolate"
    x = _tensor(input, name)
    if not isinstance(mode, str) or mode not in _MODES:
        raise NotImplementedError(f"interpolate: Input Error: Only 3D, 4D and 5D input Tensors supported (got "
                                  f"{x.ndim}D: shape {x.shape}) for the "
                                  f"modes: nearest | linear | bilinear | bicubic | trilinear | lanczos | area | "
                                  f"nearest-exact (got {mode})")
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: linear | bilinear "
                             "| bicubic | trilinear")
    else:
        align_corners = False if align_corners is None else flag(align_corners, name, "align_corners")
    if x.ndim < 3 or x.ndim > 5:
        raise NotImplementedError(f"interpolate: Input Error: Only 3D, 4D and 5D input Tensors supported (got "
                                  f"{x.ndim}D: shape {x.shape}) for the "
                                  f"modes: nearest | linear | bilinear | bicubic | trilinear | lanczos | area | "
                                  f"nearest-exact (got {mode})")
    sizes, scales = _sizes_and_scales(x, size, scale_factor, recompute_scale_factor, mode, name)
    antialias = flag(antialias, name, "antialias")
    if antialias and (mode not in ("bilinear", "bicubic", "lanczos") or x.ndim != 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos modes and requires "
                         "a 4-D tensor as input")
    if mode == "lanczos":
        raise NotImplementedError("interpolate: mode 'lanczos' (antialiased, CPU-only in PyTorch) is not supported "
                                  "in minigrad")
    wanted = _LINEAR_DIMS.get(mode, 2 if mode == "bicubic" else None)
    if wanted is not None and wanted != x.ndim - 2:
        if mode == "bicubic":
            raise NotImplementedError(f"interpolate: Input Error: Only 3D, 4D and 5D input Tensors supported (got "
                                      f"{x.ndim}D: shape {x.shape}) for "
                                      f"the modes: nearest | linear | bilinear | bicubic | trilinear | lanczos | "
                                      f"area | nearest-exact (got {mode})")
        raise NotImplementedError(f"interpolate: Got {x.ndim}D input (shape {x.shape}), but {mode} mode needs "
                                  f"{wanted + 2}D input")
    # PyTorch's kernels check the sizes, after its dispatch on the mode and rank (area: as adaptive pooling)
    if any(s < (mode != "area") for s in sizes) or any(n <= 0 for n in x.shape[2:]):
        raise InputShapeError(f"{name}: input and output sizes should be greater than 0, but got input "
                              f"(spatial) {tuple(x.shape[2:])} and output {sizes}")
    if x.shape[1] == 0 and mode != "area":   # PyTorch's upsample kernels refuse (N, 0, *S)
        raise InputShapeError(f"{name}: Non-empty {x.ndim}D data tensor expected but got a tensor with sizes "
                              f"{list(x.shape)} (no channels)")
    if mode == "area" and x.ndim == 5 and tuple(sizes) != (1, 1, 1):   # as PyTorch's 3-D adaptive pooling
        _some_channels(x, 3, "adaptive_avg_pool3d")
    if mode == "area" and x.dtype == mg.float16:   # PyTorch's adaptive average pooling of float16
        if x.ndim == 5:   # its 3-D kernel's float16 steps
            return adaptive_avg_pool3d_float16(x, sizes)
        # the 1-D and 2-D kernels: in float32, rounded once; laid out as the input suggests, as the float32 path
        return channels_last_as(_area(x.float(), sizes).half(), x)
    if mode == "area":   # (PyTorch's 3-D adaptive pooling gives C order)
        return _area(x, sizes) if x.ndim == 5 else channels_last_as(_area(x, sizes), x)
    if mode.startswith("nearest") and x.dtype.kind != "f" and x.dtype != mg.uint8:   # as PyTorch's kernels
        raise _dtype_error(x.dtype, f"interpolate: mode {mode!r} takes a floating-point or uint8 input, got "
                                    f"{x.dtype} (shape {x.shape}), as in PyTorch")
    if mode.startswith("nearest"):
        out = x
        for axis in reversed(range(2, x.ndim)):
            positions = _nearest_taps(x.shape[axis], sizes[axis - 2], scales[axis - 2], mode == "nearest-exact",
                                      x.ndim - 2, x.dtype == mg.float64)
            if not numpy.array_equal(positions, numpy.arange(x.shape[axis])):
                out = _resample(out, axis, [(positions, None)])
        # a new tensor, as PyTorch's, even where nothing moves; in its kernel's layout
        return x.clone() if out is x else channels_last_as(out, x)
    if x.dtype.kind != "f":
        raise NotImplementedError(f"interpolate: mode {mode!r} needs a floating-point input, got {x.dtype} "
                                  f"(shape {x.shape}); nearest modes take uint8 too")
    # float16, as PyTorch's kernels: in float32, rounded once; the linear, trilinear and bicubic kernels store
    # their weights in float16 (the bilinear and antialias kernels keep them in float32)
    narrow = x.dtype == mg.float16
    half = narrow and not antialias and mode != "bilinear"
    if narrow:
        x = x.float()
    ct = _compute_dtype(x.dtype)
    out = x
    for axis in reversed(range(2, x.ndim)):
        in_size, out_size, scale = x.shape[axis], sizes[axis - 2], scales[axis - 2]
        if antialias:   # PyTorch's separable kernel leaves a dim of unchanged size alone
            taps = _antialias_taps(in_size, out_size, scale, align_corners, mode == "bicubic", ct) \
                if in_size != out_size else None
        elif mode == "bicubic":
            taps = _cubic_taps(in_size, out_size, scale, align_corners, ct, half)
        else:
            taps = _linear_taps(in_size, out_size, scale, align_corners, ct, half)
        if taps is not None:
            out = _resample(out, axis, taps)
    if narrow:
        return channels_last_as(out.half(), x)
    return x.clone() if out is x else channels_last_as(out, x)   # in PyTorch's kernel's layout


def _area(x: Tensor, sizes: tuple) -> Tensor:
    """Adaptive average pooling to ``sizes``: window i of a dim covers [⌊i·L/out⌋, ⌈(i + 1)·L/out⌉), averaged
    along each dim in turn (W, then H, then D)."""
    if x.dtype.kind != "f":
        raise NotImplementedError(f"interpolate: mode 'area' needs a floating-point input, got {x.dtype}")
    out = x
    for k in reversed(range(x.ndim - 2)):
        length, size = x.shape[2 + k], sizes[k]
        steps = numpy.arange(size)
        out = _window_means(out, 2 + k, steps * length // size, -((-(steps + 1) * length) // size))
    return out


# --- the deprecated spellings --------------------------------------------------------------------------------

def upsample(input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",  # noqa: A002
             align_corners: bool | None = None) -> Tensor:
    """Deprecated spelling of :func:`interpolate` (with PyTorch's warning)."""
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:  # noqa: A002
    """Deprecated: ``interpolate(..., mode='nearest')`` (with PyTorch's warning)."""
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:  # noqa: A002
    """Deprecated: ``interpolate(..., mode='bilinear', align_corners=True)`` (with PyTorch's warning)."""
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)

