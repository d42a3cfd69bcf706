"""Spatial transformers as ``torch.nn.functional``'s: ``affine_grid`` and ``grid_sample`` (bilinear, nearest and
bicubic; zeros, border and reflection padding; 4-D and, but for bicubic, 5-D inputs).

Composed of engine ops in the steps of PyTorch's kernel (``aten/src/ATen/native/GridSampler.h``): grid
coordinates in [-1, 1] → input positions (unnormalise, then clip or reflect for the padding mode) → the corner
taps (``floor``, outside the graph) and their weights (from the positions, inside it) → a ``gather`` per tap.
So the gradient reaches both the input (scatter-add back to the taps) and the grid (through the weights), as
PyTorch's; and it runs on CuPy alike.
"""

from __future__ import annotations

import itertools
import math
import warnings
from typing import Any

import numpy

import minigrad as mg
from minigrad import Tensor

from ._arguments import _dtype_error, _tensor
from ._conv import _backward_takes_inputs
from ._errors import ComplexInputError
from ._flags import flag


class GridShapeError(ValueError, RuntimeError):
    """Input and grid (or theta and size) shapes grid_sample (affine_grid) cannot pair: ValueError here,
    RuntimeError in PyTorch, so ``except`` clauses written for either catch it."""


class GridDtypeError(TypeError, RuntimeError):
    """An input and grid of different or non-floating dtypes (TypeError here, RuntimeError in PyTorch)."""


__all__ = ["affine_grid", "grid_sample"]

_CUBIC_A = -0.75
_ALIGN_WARNING = ("Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. "
                  "Please specify align_corners=True if the old behavior is desired. See the documentation of "
                  "grid_sample for details.")


def _align(align_corners: Any, name: str) -> bool:
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, UserWarning, stacklevel=3)
        return False
    return flag(align_corners, name, "align_corners")


# --- affine_grid ---------------------------------------------------------------------------------------------

def _steps(count: int, align_corners: bool, dtype: Any) -> numpy.ndarray:
    """The ``count`` pixel centres in [-1, 1] coordinates, in ``dtype``: ±1 at the corner pixels' centres with
    ``align_corners``, else ±(count - 1)/count (the corners of the corner pixels at ±1). Rounded as PyTorch's
    ``linspace(-1, 1, count) * (count - 1) / count``, bit for bit: at the identity map every grid point lies on a
    pixel centre, where bilinear sampling has a kink, so one ulp decides which side's slope the grid's gradient
    takes (a spatial transformer's first step)."""
    dtype = numpy.dtype(dtype)
    if count <= 1:
        return numpy.zeros(max(count, 1), dtype)
    values = mg.linspace(-1.0, 1.0, count, dtype=dtype).numpy()   # PyTorch's CPU linspace, bit for bit
    if not align_corners:
        values = values * dtype.type(count - 1) / dtype.type(count)
    return values


def affine_grid(theta: Tensor, size: Any, align_corners: bool | None = None) -> Tensor:
    """The sampling grid of a batch of affine maps, as ``torch.nn.functional.affine_grid``: theta (N, 2, 3) and
    size (N, C, H, W) → (N, H, W, 2), each entry θ·(x, y, 1) for the output pixel's centre (x, y) in [-1, 1]
    coordinates; theta (N, 3, 4) and size (N, C, D, H, W) → (N, D, H, W, 3). Differentiable in theta."""
    name = "affine_grid"
    theta = _tensor(theta, name, "theta")
    align = _align(align_corners, name)
    if theta.dtype.kind != "f":
        raise ValueError(f"affine_grid: Expected theta to have floating point type, but got {theta.dtype}")
    size = [int(s) for s in size]
    if len(size) == 4:
        if theta.ndim != 3 or theta.shape[-2:] != (2, 3):
            raise ValueError(f"affine_grid: Expected a batch of 2D affine matrices of shape Nx2x3 for size {size}. Got "
                             f"{theta.shape}.")
    elif len(size) == 5:
        if theta.ndim != 3 or theta.shape[-2:] != (3, 4):
            raise ValueError(f"affine_grid: Expected a batch of 3D affine matrices of shape Nx3x4 for size {size}. Got "
                             f"{theta.shape}.")
    else:
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
                                  f"respectively. Got size {size}.")
    spatial = size[2:]
    if align and min(spatial) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size grids when "
                      "align_corners=True. This is not an intended use case of affine_grid. See the documentation of "
                      "affine_grid for details.", UserWarning, stacklevel=2)
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    if theta.shape[0] != size[0]:
        raise GridShapeError(f"{name}: theta has {theta.shape[0]} matrices for a size with batch {size[0]}")
    # (∏S, dims + 1) rows (x, y[, z], 1), x varying fastest
    axes = [_steps(n, align, theta.dtype) for n in reversed(spatial)]        # x over W, y over H, z over D
    mesh = numpy.meshgrid(*reversed(axes), indexing="ij")[::-1]             # x, y[, z], each of shape S
    base = numpy.stack([m.reshape(-1) for m in mesh] + [numpy.ones(math.prod(spatial), theta.dtype)], axis=1)
    base = mg.as_tensor(mg.make_array(base, theta.dtype, theta.device))
    grid = base @ theta.mT                                                   # (N, ∏S, dims)
    return grid.reshape(size[0], *spatial, len(spatial))


# --- grid_sample ---------------------------------------------------------------------------------------------

def _unnormalize(coordinate: Tensor, size: int, align_corners: bool, fused: bool = False) -> Tensor:
    """[-1, 1] → [0, size - 1] (``align_corners``) or [-½, size - ½], as ``grid_sampler_unnormalize``.

    ``fused``: rounded as PyTorch's 2-D CPU kernel, whose ``(x + 1) · size/2 - ½`` is one fused multiply-add (one
    rounding, where ``((x + 1) · size - 1) / 2`` has two). They differ by an ulp at some points, and at a pixel
    centre (every point of an identity warp) that ulp picks the side of bilinear sampling's kink, so the grid's
    gradient. The fused value is taken in a wider float (long double for float64; not on CuPy) and added as a
    constant correction of at most an ulp, so the gradient stays size/2."""
    if align_corners:
        return (coordinate + 1) / 2 * (size - 1)
    out = ((coordinate + 1) * size - 1) / 2
    if fused:
        shifted, plain = (coordinate.detach() + 1).numpy(), out.detach().numpy()
        wide = numpy.float64 if shifted.dtype.itemsize < 8 else numpy.longdouble
        exact = (shifted.astype(wide) * wide(size / 2) - wide(0.5)).astype(shifted.dtype)
        if not numpy.array_equal(exact, plain, equal_nan=True):
            correction = numpy.where(numpy.isfinite(exact), exact - plain, 0).astype(shifted.dtype)
            out = out + mg.as_tensor(mg.make_array(correction, out.dtype, out.device))
    return out


def _reflect(coordinate: Tensor, twice_low: int, twice_high: int) -> Tensor:
    """Reflect about low and high until inside [low, high] (``reflect_coordinates``)."""
    if twice_low == twice_high:
        return coordinate * 0
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    distance = (coordinate - low).abs()
    extra = mg.fmod(distance, span)
    with mg.no_grad():
        even = mg.fmod((distance.detach() / span).floor(), 2) == 0
    return mg.where(even, extra + low, span - extra + low)


def _padded(coordinate: Tensor, size: int, padding_mode: str, align_corners: bool) -> Tensor:
    """``compute_coordinates``: as is (zeros), clipped into the input (border), or reflected then clipped. The clip
    passes the gradient strictly inside (0, size - 1) only: PyTorch's kernels count a point exactly on the border
    (an edge pixel's centre, so the identity warp's edge with ``align_corners``) as outside, gradient 0."""
    if padding_mode == "zeros":
        return coordinate
    if padding_mode == "reflection":
        coordinate = _reflect(coordinate, 0, 2 * (size - 1)) if align_corners else \
            _reflect(coordinate, -1, 2 * size - 1)
    clipped = mg.clip(coordinate, 0, size - 1)
    if not clipped.requires_grad:
        return clipped
    with mg.no_grad():
        inside = (coordinate > 0) & (coordinate < size - 1)
    return mg.where(inside, clipped, clipped.detach())


def _nonfinite_placed(position: Tensor, size: int, padding_mode: str, volumetric: bool) -> Tensor:
    """A non-finite position (a NaN in the grid, or an infinity that reflection's fmod made NaN) put where
    PyTorch's CPU kernels put it. 2-D: the first pixel under border and reflection (its vectorised clip takes
    max(NaN, 0) as 0); zeros keeps the NaN, so a NaN output. 3-D: the last pixel under border and reflection
    (``std::min(size - 1, std::max(NaN, 0))``); zeros moves it to -100 (``safe_downgrade_to_int_range``), outside,
    so 0 with finite weights."""
    if padding_mode == "zeros" and not volumetric:
        return position
    with mg.no_grad():
        lost = ~mg.isfinite(position.detach())
    target = -100.0 if padding_mode == "zeros" else float(size - 1 if volumetric else 0)
    return mg.where(lost, target, position)


def _cubic_weights(t: Tensor) -> list[Tensor]:
    """The cubic convolution weights (A = -0.75) of the four taps at distances 1 + t, t, 1 - t, 2 - t."""
    a = _CUBIC_A

    def near(x: Tensor) -> Tensor:
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x: Tensor) -> Tensor:
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)]


class _Taps:
    """Reads the input at integer positions per output point: (N, C, *S) flattened once; a tap is the values at
    (positions along each dim, x first), zero where outside the input."""

    def __init__(self, x: Tensor, out_shape: tuple) -> None:
        self.flat = x.reshape(*x.shape[:2], math.prod(x.shape[2:]))
        self.sizes = x.shape[2:][::-1]                     # W, H[, D]: the order of the grid's coordinates
        self.shape = x.shape[:2] + out_shape
        self.device = x.device

    def read(self, positions: list[Tensor]) -> Tensor:
        """Values (N, C, *out) at integer-valued positions (each (N, *out), x first), 0 outside the input."""
        with mg.no_grad():
            inside = None
            flat_index = None
            for position, size in zip(reversed(positions), reversed(self.sizes)):   # D (or H) first: row-major
                ok = (position >= 0) & (position < size)
                inside = ok if inside is None else inside & ok
                index = mg.where(ok, position, 0).astype(mg.int64)   # outside or NaN: read pixel 0, masked below
                flat_index = index if flat_index is None else flat_index * size + index
            (batch, channels), points = self.shape[:2], math.prod(flat_index.shape[1:])
            index = flat_index.reshape(batch, 1, points).expand(batch, channels, points)
        values = _backward_takes_inputs(self.flat.gather(2, index)).reshape(self.shape)
        # selected, not multiplied by the mask: an inf or NaN pixel read in a point's stead must not leave a NaN
        return mg.where(inside.unsqueeze(1), values, 0.0)


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear", padding_mode: str = "zeros",  # noqa: A002
                align_corners: bool | None = None) -> Tensor:
    """Sample ``input`` at the [-1, 1] coordinates of ``grid``, as ``torch.nn.functional.grid_sample``.

    input (N, C, H, W) with grid (N, H_out, W_out, 2) of (x, y) → (N, C, H_out, W_out); or input (N, C, D, H, W)
    with grid (N, D_out, H_out, W_out, 3) of (x, y, z). (-1, -1) is the centre of the top-left pixel with
    ``align_corners=True``, its top-left corner otherwise. ``mode``: ``'bilinear'`` (trilinear for 5-D),
    ``'nearest'`` (half to even) or ``'bicubic'`` (4-D only, A = -0.75). ``padding_mode`` for points outside:
    ``'zeros'``, ``'border'`` (the edge values) or ``'reflection'``. Gradients to the input and to the grid.
    """
    name = "grid_sample"
    x, grid = _tensor(input, name), _tensor(grid, name, "grid")
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', but "
                         f"got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
                         f"'reflection', but got: '{padding_mode}'")
    align = _align(align_corners, name)
    if x.ndim not in (4, 5) or grid.ndim != x.ndim or grid.shape[0] != x.shape[0] or grid.shape[-1] != x.ndim - 2:
        raise GridShapeError(f"{name}: expected a 4-D input with a (N, H_out, W_out, 2) grid or a 5-D input with a "
                         f"(N, D_out, H_out, W_out, 3) grid, the same N; got input {x.shape} and grid {grid.shape}")
    if x.dtype.kind == "c":   # PyTorch's kernel has no complex dtype: NotImplementedError, as its
        raise ComplexInputError(f"{name}: not implemented for complex tensors (input {x.dtype}, grid {grid.dtype})")
    if x.dtype.kind != "f":   # PyTorch's kernel has no integer or bool dtype: NotImplementedError, as its
        raise _dtype_error(x.dtype, f"{name}: not implemented for an input of {x.dtype} (grid {grid.dtype})")
    if grid.dtype != x.dtype:
        raise GridDtypeError(f"{name}: expected input and grid of the same floating dtype, got {x.dtype} and "
                             f"{grid.dtype}")
    if 0 in x.shape[2:]:
        raise GridShapeError(f"{name}: expected an input with non-empty spatial dimensions, got {x.shape}")
    if mode == "bicubic" and x.ndim != 4:
        raise GridShapeError("grid_sampler(): bicubic interpolation only supports 4D input")
    taps = _Taps(x, grid.shape[1:-1])
    sizes = taps.sizes
    fused = len(sizes) == 2 and grid.device.type == "cpu"   # PyTorch's vectorised 2-D CPU kernel
    coordinates = [_unnormalize(grid[..., k], size, align, fused) for k, size in enumerate(sizes)]   # x, y[, z]
    if mode == "bicubic":
        return _bicubic(taps, coordinates, padding_mode, align)
    positions = [_nonfinite_placed(_padded(c, size, padding_mode, align), size, padding_mode, x.ndim == 5)
                 for c, size in zip(coordinates, sizes)]
    if mode == "nearest":   # half to even, as nearbyint; the gradient reaches the input, the grid's is 0
        # round: recorded, a zero gradient; marked as PyTorch's backward, which takes the grid, so with
        # create_graph the grid's (zero) gradient requires grad and a penalty on it alone differentiates to None
        nearest = [_backward_takes_inputs(p.round()) for p in positions]
        out = taps.read([p.detach() for p in nearest])
        if grid.requires_grad and mg.is_grad_enabled():
            # an exact 0 tied to the grid, so grid.grad is zeros as PyTorch's (not None: an optimizer skips a
            # None grad but steps a zero one with momentum or weight decay); nan_to_num keeps a NaN grid out
            out = out + mg.nan_to_num(sum(p - p.detach() for p in nearest), nan=0.0).unsqueeze(1)
        return out
    with mg.no_grad():
        lows = [p.detach().floor() for p in positions]
    out = None
    # the corners in PyTorch's order of summation: the last coordinate slowest, x fastest (nw, ne, sw, se, …)
    for bits in itertools.product((0, 1), repeat=len(positions)):
        bits = bits[::-1]                                                    # x's bit first
        weight = None
        for position, low, bit in zip(positions, lows, bits):
            factor = (position - low) if bit else (low + 1 - position)
            weight = factor if weight is None else weight * factor
        value = taps.read([low + bit for low, bit in zip(lows, bits)]) * weight.unsqueeze(1)
        out = value if out is None else out + value
    return out


def _bicubic(taps: _Taps, coordinates: list[Tensor], padding_mode: str, align_corners: bool) -> Tensor:
    """4×4 taps around each point, the cubic weights of its fractional part along x, then along y; each tap's
    position goes through the padding mode (PyTorch's ``get_value_bounded``)."""
    ix, iy = coordinates
    (width, height) = taps.sizes
    with mg.no_grad():
        ix_low, iy_low = ix.detach().floor(), iy.detach().floor()
    wx, wy = _cubic_weights(ix - ix_low), _cubic_weights(iy - iy_low)
    out = None
    for j in range(4):
        row = None
        with mg.no_grad():
            y = _padded(iy_low + (j - 1), height, padding_mode, align_corners).trunc()
        for i in range(4):
            with mg.no_grad():
                x = _padded(ix_low + (i - 1), width, padding_mode, align_corners).trunc()
            term = taps.read([x, y]) * wx[i].unsqueeze(1)
            row = term if row is None else row + term
        term = row * wy[j].unsqueeze(1)
        out = term if out is None else out + term
    return out
