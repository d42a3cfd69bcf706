"""Histograms with PyTorch's results: ``histogram`` (one dimension) and ``histogramdd`` (points of D coordinates).

The bins of a dimension are given as a count (equal bins from the range, or from the data's minimum to its
maximum, widened by ±0.5 where they are equal and [0, 1] for no data, as PyTorch's) or as a 1-D tensor of
increasing edges. A point counts in bin i of a dimension where ``edges[i] <= x < edges[i + 1]``, the last bin
also taking its right edge; points outside (and NaNs) are not counted. Equal bins' edges are PyTorch's
``linspace`` (computed from both ends, in the input's dtype). The results depend on the values, so one op
computes them (an ``mg.compile`` replay recomputes them from new values). No gradient: as PyTorch's, the results
require grad when an input does, and backward through them raises RuntimeError.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from .. import backend, return_types
from ..autograd import Function
from ..tensor import Tensor
from ._util import (
    ArgumentTypeError,
    DtypeNotImplementedError,
    ShapeMismatchError,
    flag,
    int_arg,
    number,
    refuse_complex,
    tensor_arg,
)
from .creation import linspace_arrays

__all__ = ["histogram", "histogramdd"]


def outer_edges(xp: Any, column: Any, given: tuple | None, dim: int, name: str) -> tuple[float, float]:
    """The first and last edge of equal bins over ``column``: ``given`` or the data's extremes, as PyTorch's."""
    if given is not None:
        low, high = given
    elif column.size:
        low, high = (float(v) for v in xp.stack((column.min(), column.max())).tolist())   # one host read
    else:
        low, high = 0.0, 1.0
    if low > high:
        raise ShapeMismatchError(f"{name}: min should not exceed max, but got min {low} max {high} for dimension {dim}")
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ShapeMismatchError(f"{name}: dimension {dim}'s range [{low}, {high}] is not finite")
    return (low - 0.5, high + 0.5) if low == high else (low, high)


class Histogram(Function):
    """``(hist, *edges)`` of points x (N, D): ``counts[d]`` equal bins in dimension d (None: its edges are the next
    of the edge arrays given after x and the weights), over ``ranges[d]`` (None: the data's); ``weighted``: the
    second input holds each point's weight (N,). ``density``: hist / (total · bin volume). No gradient: as
    PyTorch's, its outputs require grad when an input does, and its backward raises."""

    name = "histogramdd"
    multiple = True

    def __init__(self, counts: list, ranges: list, weighted: bool, density: bool) -> None:
        self.counts, self.ranges, self.weighted, self.density = counts, ranges, weighted, density
        self.n_outputs = 1 + len(counts)

    def forward(self, x: Any, *rest: Any) -> tuple:
        xp = self.xp
        weight, given = (rest[0], list(rest[1:])) if self.weighted else (None, list(rest))
        edges = []
        for d, count in enumerate(self.counts):
            if count is None:
                edges.append(given.pop(0))
            else:
                low, high = outer_edges(xp, x[:, d], self.ranges[d], d, self.name)
                edges.append(linspace_arrays(xp, low, high, count + 1, x.dtype))
        sizes = [e.shape[0] - 1 for e in edges]
        flat = xp.zeros(x.shape[0], dtype=xp.int64)
        inside = xp.ones(x.shape[0], dtype=bool)
        for d, e in enumerate(edges):
            column = x[:, d]
            inside &= (column >= e[0]) & (column <= e[-1])
            position = xp.searchsorted(e, column, side="right") - 1
            position = xp.clip(position, 0, sizes[d] - 1)   # the last bin includes its right edge
            flat = flat * sizes[d] + position
        total = math.prod(sizes)
        flat = xp.where(inside, flat, total)   # outside points go to one extra bin, dropped below
        if x.shape[0] and weight is not None:   # summed in x's dtype point by point, as PyTorch's (on one thread):
            hist = xp.zeros(total + 1, dtype=x.dtype)   # float32 weights that cancel give its 0, not a float64 rest
            backend.scatter_add(xp, hist, flat, weight)
            hist = hist[:total]
        elif x.shape[0]:
            hist = xp.bincount(flat, minlength=total + 1)[:total]
        else:
            hist = xp.zeros(total)
        hist = hist.astype(x.dtype).reshape(sizes)
        if self.density:
            with backend.errstate(xp, divide="ignore", invalid="ignore"):
                hist = hist / hist.sum()
                for d, e in enumerate(edges):
                    shape = [1] * len(sizes)
                    shape[d] = sizes[d]
                    hist = hist / (e[1:] - e[:-1]).reshape(shape)
        return (hist, *edges)

    def backward(self, *grads: Any) -> Any:
        raise RuntimeError(f"{self.name}: derivative for aten::{self.name} is not implemented (as in PyTorch)")


def _points(input: Any, name: str) -> Tensor:  # noqa: A002 - PyTorch's name
    x = tensor_arg(input, name)
    refuse_complex(name, x, order=False)   # PyTorch: NotImplementedError ("histogramdd" not implemented)
    if x.dtype.kind != "f" or x.dtype.itemsize < 4:   # PyTorch's float16 sums run in float16, split by thread
        raise DtypeNotImplementedError(f"{name}: only float32 and float64 tensors are supported, got dtype {x.dtype} "
                                       f"(PyTorch refuses other dtypes too, and float16 without a range; its float16 "
                                       f"counts and weights are summed in float16 per thread, which minigrad does "
                                       f"not reproduce: cast with .float())")
    return x


def _edges(bins: Tensor, x: Tensor, dim: int, name: str) -> Tensor:
    if bins.ndim != 1:
        raise ShapeMismatchError(f"{name}: bins tensor should have one dimension, but got {bins.ndim} dimensions in "
                                 f"the bins tensor for dimension {dim}")
    if bins.shape[0] < 2:
        raise ShapeMismatchError(f"{name}: bins must be > 0, but got {bins.shape[0] - 1} for dimension {dim} (a bins "
                                 f"tensor holds the edges, at least 2)")
    if bins.dtype != x.dtype:
        raise ArgumentTypeError(f"{name}: input tensor and bins tensors should have the same dtype, but got input "
                                f"with dtype {x.dtype} and bins for dimension {dim} with dtype {bins.dtype}")
    return bins


def _count(bins: Any, dim: int, name: str) -> int:
    count = int_arg(bins, name, "bins")
    if count <= 0:
        raise ShapeMismatchError(f"{name}: bins must be > 0, but got {count} for dimension {dim}")
    return count


def _run(x: Tensor, bins: list, ranges: list, weight: Any, density: Any, name: str) -> tuple:
    """``(hist, [edges])`` of the points x (N, D) with ``bins[d]`` an int or an edge Tensor per dimension."""
    inputs: list = [x]   # not detached: as PyTorch's, the results require grad and backward through them raises
    if weight is not None:
        weight = tensor_arg(weight, name)
        if weight.dtype != x.dtype:
            raise TypeError(f"{name}: if weight tensor is provided, input tensor and weight tensor should have the "
                            f"same dtype, but got input({x.dtype}), and weight({weight.dtype})")
        inputs.append(weight)
    counts = [None if isinstance(b, Tensor) else _count(b, d, name) for d, b in enumerate(bins)]
    inputs += [_edges(b, x, d, name) for d, b in enumerate(bins) if isinstance(b, Tensor)]
    op = Histogram(counts, ranges, weight is not None, flag(density, name, "density"))
    op.name = name
    hist, *edges = op(*inputs)
    if name == "histogramdd":   # PyTorch's histogramdd returns its edge tensors' values (without x's or weight's graph)
        edges = [e.detach() if isinstance(b, Tensor) else e for e, b in zip(edges, bins)]
    return hist, edges


def _range_pairs(given: Any, dims: int, name: str) -> list:
    """``range`` (min₀, max₀, min₁, max₁ …) as D pairs of floats, or D Nones when it is not given."""
    if given is None:
        return [None] * dims
    values = [float(number(v, name, "range")) for v in given]
    if len(values) != 2 * dims:
        raise ValueError(f"{name}: for a {dims}-dimensional histogram range should have {2 * dims} elements, but "
                         f"got {len(values)}")
    return [(values[2 * d], values[2 * d + 1]) for d in range(dims)]


def histogram(input: Any, bins: Any = 100, *, range: Sequence[float] | None = None,  # noqa: A002
              weight: Any = None, density: bool = False) -> Any:
    """``(hist, bin_edges)`` of the elements of x (any shape, float32/float64), as torch.histogram: ``bins``
    equal bins (over ``range`` = (min, max), else the data's extremes) or a 1-D tensor of increasing edges
    (b + 1,) in x's dtype. ``weight`` (x's number of elements): each element's weight instead of 1;
    ``density``: the counts divided by their total and the bin widths. hist (b,) and bin_edges (b + 1,) in x's
    dtype; no gradient. A ``return_types.histogram``."""
    name = "histogram"
    x = _points(input, name)
    if isinstance(bins, Tensor) and range is not None:
        raise TypeError(f"{name}: range is given by the bins tensor's edges; pass range only with an int bins")
    if weight is not None:
        weight = tensor_arg(weight, name)
        if weight.numel() != x.numel():
            raise ShapeMismatchError(f"{name}: if weight tensor is provided it should have as many elements as the "
                                     f"input, got input with shape {x.shape} and weight with shape {weight.shape}")
        weight = weight.reshape(-1)
    hist, edges = _run(x.reshape(-1, 1), [bins], _range_pairs(range, 1, name), weight, density, name)
    return return_types.histogram(hist, edges[0])


def histogramdd(input: Any, bins: Any = 10, *, range: Sequence[float] | None = None,  # noqa: A002
                weight: Any = None, density: bool = False) -> Any:
    """``(hist, bin_edges)`` of the points x (…, D) (each a row of D coordinates), as torch.histogramdd: ``bins``
    an int (each dimension), D ints or D 1-D edge tensors; ``range`` (min₀, max₀, min₁, max₁ …) for int bins;
    ``weight`` (…) each point's weight; ``density`` as :func:`histogram`. hist (b₀, …, b_(D-1)) in x's dtype and
    a tuple of D edge tensors; no gradient. A ``return_types.histogramdd``."""
    name = "histogramdd"
    x = _points(input, name)
    if x.ndim < 2:
        raise ValueError(f"{name}: input tensor should have at least 2 dimensions, got shape {x.shape}")
    dims = x.shape[-1]
    if isinstance(bins, (list, tuple)):
        if len(bins) != dims:
            raise ShapeMismatchError(f"{name}: the size of bins must be equal to the innermost dimension of the input, "
                                     f"got {len(bins)} bins for points of {dims} coordinates")
        bins = list(bins)
    elif isinstance(bins, Tensor):
        raise TypeError(f"{name}: bins must be an int, a sequence of ints or a sequence of 1-D tensors, got a "
                        f"Tensor (give one edge tensor per dimension in a list)")
    else:
        bins = [bins] * dims
    if weight is not None:
        weight = tensor_arg(weight, name)
        if tuple(weight.shape) != tuple(x.shape[:-1]):
            raise ShapeMismatchError(f"{name}: if weight tensor is provided it should have the same shape as the "
                                     f"input tensor excluding its innermost dimension, but got input with shape "
                                     f"{x.shape} and weight with shape {weight.shape}")
        weight = weight.reshape(-1)
    all_edges = all(isinstance(b, Tensor) for b in bins)
    ranges = [None] * dims if all_edges else _range_pairs(range, dims, name)
    if dims == 0:   # points of no coordinates: PyTorch's 0-D histogram counts none of them (its density 0 / 0)
        hist, _ = _run(x.reshape(0, 0), [], [], None, density, name)
        return return_types.histogramdd(hist, ())
    hist, edges = _run(x.reshape(-1, dims), bins, ranges, weight, density, name)
    return return_types.histogramdd(hist, tuple(edges))


METHODS = {"histogram": histogram}
