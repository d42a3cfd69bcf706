"""Round 23 fuzz of sorting, searching, set and counting ops against PyTorch 2.13: the differences it found."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg

VALUES = np.array([[1.0, 2.0, 2.0], [0.0, 3.0, 1.0]])


@pytest.mark.parametrize("call", [
    lambda lib, x: lib.unique(x),
    lambda lib, x: lib.unique(x, return_inverse=True, return_counts=True)[0],
    lambda lib, x: lib.unique(x, dim=0),
    lambda lib, x: lib.unique_consecutive(x),
    lambda lib, x: lib.unique_consecutive(x, dim=1),
    lambda lib, x: x.unique(sorted=True),
], ids=["unique", "unique_counts", "unique_dim", "unique_consecutive", "unique_consecutive_dim", "method"])
def test_unique_values_refuse_backward_as_torch(call: Any, torch: Any) -> None:
    """x.sum() + unique(x).sum() silently gave x only the first term's gradient; PyTorch's unique values require
    grad and backward raises NotImplementedError."""
    for lib in (torch, mg):
        x = lib.tensor(VALUES, requires_grad=True)
        values = call(lib, x)
        assert values.requires_grad
        with pytest.raises(NotImplementedError, match="derivative"):
            (x.sum() + values.sum()).backward()
        with lib.no_grad():
            assert not call(lib, x).requires_grad


def test_unique_inverse_and_counts_need_no_gradient(torch: Any) -> None:
    for lib in (torch, mg):
        x = lib.tensor(VALUES, requires_grad=True)
        _, inverse, counts = lib.unique(x, return_inverse=True, return_counts=True)
        assert not inverse.requires_grad and not counts.requires_grad


@pytest.mark.parametrize("call", [
    lambda lib, x, w: lib.histogram(x, 3),
    lambda lib, x, w: lib.histogram(x.detach(), 3, weight=w),
    lambda lib, x, w: lib.histogram(x, lib.tensor([0.0, 1.5, 4.0], dtype=lib.float64)),
    lambda lib, x, w: lib.histogramdd(x.reshape(3, 2), 2),
    lambda lib, x, w: lib.histogramdd(x.detach().reshape(3, 2), [2, 3], weight=w[:3]),
], ids=["histogram", "histogram_weight", "histogram_edges", "histogramdd", "histogramdd_weight"])
def test_histograms_refuse_backward_as_torch(call: Any, torch: Any) -> None:
    """The histograms of an input (or weights) that requires grad require grad, and backward raises RuntimeError,
    as PyTorch's (they were detached, so a loss that added one lost its gradient silently)."""
    for lib in (torch, mg):
        x = lib.tensor(VALUES.reshape(-1), requires_grad=True)
        w = lib.ones(6, dtype=lib.float64, requires_grad=True)
        hist, edges = call(lib, x, w)
        edges = edges if isinstance(edges, tuple) else (edges,)
        assert hist.requires_grad and all(e.requires_grad for e in edges)
        with pytest.raises(RuntimeError, match="derivative"):
            (x.sum() + hist.sum()).backward()


def test_histogramdd_edge_tensors_keep_no_graph(torch: Any) -> None:
    """histogramdd's edges given as tensors come back without the input's graph, as PyTorch's."""
    for lib in (torch, mg):
        x = lib.tensor(VALUES, requires_grad=True)
        edges = lib.tensor([0.0, 1.0, 2.0, 3.0], dtype=lib.float64)
        out = lib.histogramdd(x.reshape(3, 2), [edges, edges])
        assert out.hist.requires_grad and not any(e.requires_grad for e in out.bin_edges)
        np.testing.assert_array_equal(out.bin_edges[1].detach().numpy(), [0.0, 1.0, 2.0, 3.0])


@pytest.mark.parametrize("call", [
    lambda lib, x: lib.isin(x, 2.1),
    lambda lib, x: lib.isin(2.1, x),
    lambda lib, x: lib.isin(x, 2.1, invert=True),
    lambda lib, x: lib.isin(x.half(), 2.1),
    lambda lib, x: lib.isin(x.double(), 2.1),
    lambda lib, x: lib.isin(x, lib.tensor([2.1], dtype=lib.float64)),
    lambda lib, x: lib.isin(lib.tensor([1, 2]), 2.0),
], ids=["float32", "number_first", "invert", "float16", "float64", "float64_tensor", "integer"])
def test_isin_compares_a_python_float_in_the_tensors_dtype(call: Any, torch: Any) -> None:
    """isin(float32 x, 2.1) found nothing (2.1 compared as float64); PyTorch rounds the number to x's dtype."""
    ours = call(mg, mg.tensor([2.1, 1.0, 0.1], dtype=mg.float32))
    theirs = call(torch, torch.tensor([2.1, 1.0, 0.1], dtype=torch.float32))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("call", [
    lambda lib, x: lib.sort(x, 0),
    lambda lib, x: lib.sort(x, 0, descending=True),
    lambda lib, x: (lib.argsort(x, 0),),
    lambda lib, x: (lib.msort(x),),
    lambda lib, x: lib.sort(x.reshape(2, 20, 3), 1),
], ids=["sort", "descending", "argsort", "msort", "middle_dim"])
def test_sort_along_a_tied_leading_dim_is_c_ordered(call: Any, torch: Any) -> None:
    """Sorting a (40, 3) tensor with ties along dim 0 (PyTorch's std::sort order, replayed past 16 elements) gave
    Fortran-ordered values and indices, so .view(-1) raised; PyTorch's are C-contiguous."""
    array = np.random.default_rng(0).integers(0, 3, size=(40, 3)).astype(np.float64)
    ours, theirs = call(mg, mg.tensor(array)), call(torch, torch.from_numpy(array))
    for a, b in zip(ours, theirs):
        assert a.is_contiguous() and a.stride() == b.stride()
        np.testing.assert_array_equal(a.view(-1).numpy(), b.view(-1).numpy())


def test_nonzero_as_tuple_gives_contiguous_indices(torch: Any) -> None:
    """x.nonzero(as_tuple=True) of a 2-D x gave strided views of one (count, 2) array (is_contiguous() False);
    PyTorch's are contiguous."""
    array = np.array([[0.0, 1.0, 2.0], [3.0, 0.0, 4.0]])
    ours, theirs = mg.tensor(array).nonzero(as_tuple=True), torch.from_numpy(array).nonzero(as_tuple=True)
    for a, b in zip(ours, theirs, strict=True):
        assert a.is_contiguous() and a.stride() == b.stride()
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    compiled = mg.compile(lambda x: x.nonzero(as_tuple=True))
    for values in (array, array[::-1].copy()):
        assert all(a.is_contiguous() for a in compiled(mg.tensor(values)))


@pytest.mark.parametrize("call", [
    lambda lib, x: lib.amax(x, 1),
    lambda lib, x: lib.amin(x),
    lambda lib, x: lib.aminmax(x, dim=1)[1],
], ids=["amax", "amin_all", "aminmax"])
def test_amax_tangent_on_a_nan_line_is_nan(call: Any, torch: Any) -> None:
    """jvp of amax over a line holding NaN gave 0 (a NaN constant in the gradient's graph); PyTorch's tangent is
    NaN there, as its gradient."""
    array = np.array([[np.nan, 1.0, 2.0], [1.0, 3.0, 3.0]])
    tangent = np.arange(1.0, 7.0).reshape(2, 3)
    _, ours = mg.func.jvp(lambda x: call(mg, x), (mg.tensor(array),), (mg.tensor(tangent),))
    _, theirs = torch.func.jvp(lambda x: call(torch, x), (torch.from_numpy(array),), (torch.from_numpy(tangent),))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
