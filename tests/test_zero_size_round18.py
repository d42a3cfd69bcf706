"""Zero-size and size-1 shapes across ops and nn against PyTorch 2.13: the cases a round-18 differential fuzz (every
namespace function and Tensor method on (0,), (0, 3), (3, 0), (2, 0, 4) and size-1 inputs, reductions over an empty
dim, k=0 products, empty joins, 0x0 linear algebra, conv/pool/norm layers with batch 0 and 0 channels, Embedding
with empty indices, losses with N=0, recurrent layers with batch 0 and T=0, attention with 0 tokens, interpolate,
one_hot/bincount/histc of empty inputs) found differing, each compared with live torch: value, dtype, shape,
raised class and the gradient through the empty result (zeros of the input's shape)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")


def _lib_nn(lib: Any) -> Any:
    return nn if lib is mg else torch.nn


def _same_forward_and_grads(build: Callable[[Any], tuple]) -> None:
    """``build(lib)`` -> (output, leaves) on each library: same output shape/dtype/values, and the gradient of
    ``output.sum()`` into each leaf the same (zeros of the leaf's shape through an empty output)."""
    out_t, leaves_t = build(torch)
    out_m, leaves_m = build(mg)
    assert tuple(out_m.shape) == tuple(out_t.shape)
    assert str(out_m.dtype) == str(out_t.dtype).replace("torch.", "")
    np.testing.assert_allclose(out_m.detach().numpy(), out_t.detach().numpy(), rtol=1e-5, atol=1e-6)
    grads_t = torch.autograd.grad(out_t.sum(), leaves_t)
    grads_m = mg.autograd.grad(out_m.sum(), leaves_m)
    for got, expected in zip(grads_m, grads_t):
        assert tuple(got.shape) == tuple(expected.shape)
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("num", "dim", "indices"), [(5, 0, (2,)), (5, 0, (2, 3)), (5, 3, (2, 0)), (5, 3, (0,)),
                                                      (0, 3, (0,)), (5, 0, (0,))])
def test_embedding_backward_with_zero_width_or_no_indices(num: int, dim: int, indices: tuple) -> None:
    # nn.Embedding(5, 0)(idx).sum().backward(): ours raised NumPy's "cannot reshape array of size 0 into shape (0)"
    def build(lib: Any) -> tuple:
        weight = lib.ones(num, dim, requires_grad=True)
        out = _lib_nn(lib).functional.embedding(lib.zeros(indices, dtype=lib.int64), weight)
        return out, [weight]
    _same_forward_and_grads(build)


@pytest.mark.parametrize("name", ["quantile", "nanquantile"])
@pytest.mark.parametrize(("shape", "dim"), [((1,), None), ((2, 3), 1), ((2, 3), None), ((4,), 0)])
def test_quantile_gradient_into_an_empty_q(name: str, shape: tuple, dim: Any) -> None:
    # torch.quantile(x, q_empty_requiring_grad) backward: zeros for x, an empty gradient for q; ours raised
    # NumPy's "cannot reshape array of size 0 into shape (0,newaxis)" in q's gradient
    def build(lib: Any) -> tuple:
        x = lib.ones(shape, dtype=lib.float64, requires_grad=True)
        q = lib.zeros(0, dtype=lib.float64, requires_grad=True)
        return getattr(lib, name)(x, q, dim), [x, q]
    _same_forward_and_grads(build)


def _functional(lib: Any) -> Any:
    return nn.functional if lib is mg else torch.nn.functional


NO_CHANNELS = {   # PyTorch's kernels refuse an empty non-batch dim here; ours computed an empty result
    "interpolate_nearest": lambda lib: _functional(lib).interpolate(lib.zeros(1, 0, 4), size=3),
    "interpolate_nearest_exact": lambda lib: _functional(lib).interpolate(lib.zeros(0, 0, 4, 4), size=3,
                                                                          mode="nearest-exact"),
    "interpolate_linear": lambda lib: _functional(lib).interpolate(lib.zeros(2, 0, 4), size=3, mode="linear"),
    "interpolate_bilinear": lambda lib: _functional(lib).interpolate(lib.zeros(1, 0, 4, 4), scale_factor=2,
                                                                     mode="bilinear"),
    "interpolate_bicubic": lambda lib: _functional(lib).interpolate(lib.zeros(1, 0, 4, 4), size=3, mode="bicubic"),
    "interpolate_trilinear": lambda lib: _functional(lib).interpolate(lib.zeros(1, 0, 2, 2, 2), size=3,
                                                                      mode="trilinear"),
    "interpolate_area_3d": lambda lib: _functional(lib).interpolate(lib.zeros(1, 0, 2, 2, 2), size=(1, 2, 1),
                                                                    mode="area"),
    "upsample_module": lambda lib: _lib_nn(lib).Upsample(scale_factor=2)(lib.zeros(2, 0, 5)),
    "adaptive_max_pool1d": lambda lib: _functional(lib).adaptive_max_pool1d(lib.zeros(2, 0, 4), 2),
    "adaptive_max_pool2d": lambda lib: _functional(lib).adaptive_max_pool2d(lib.zeros(0, 0, 4, 4), 2),
    "adaptive_max_pool3d": lambda lib: _functional(lib).adaptive_max_pool3d(lib.zeros(2, 0, 4, 4, 4), 0),
    "adaptive_avg_pool3d": lambda lib: _lib_nn(lib).AdaptiveAvgPool3d(2)(lib.zeros(2, 0, 4, 4, 4)),
    "unfold": lambda lib: _functional(lib).unfold(lib.zeros(2, 0, 3, 3), 2),
    "unfold_unbatched": lambda lib: _lib_nn(lib).Unfold(2)(lib.zeros(0, 3, 3)),
    "fold": lambda lib: _functional(lib).fold(lib.zeros(2, 0, 4), (3, 3), 2),
    "fold_unbatched": lambda lib: _functional(lib).fold(lib.zeros(0, 4), (3, 3), 2),
    "pad_reflect": lambda lib: _functional(lib).pad(lib.zeros(2, 0, 5), (1, 1), mode="reflect"),
    "pad_reflect_unbatched": lambda lib: _functional(lib).pad(lib.zeros(0, 5, 5), (1, 1, 1, 1), mode="reflect"),
    "pad_replicate": lambda lib: _functional(lib).pad(lib.zeros(2, 0, 4, 4, 4), (1,) * 6, mode="replicate"),
    "pad_replicate_unpadded_dim": lambda lib: _lib_nn(lib).ReplicationPad2d((1, 1, 0, 0))(lib.zeros(1, 2, 0, 5)),
}
WITH_BATCH_OR_CHANNELS = {   # ... while an empty batch, or an empty dim PyTorch takes, still computes
    "interpolate_batch0": lambda lib: _functional(lib).interpolate(lib.zeros(0, 2, 4), size=3, mode="linear"),
    "interpolate_area_1d": lambda lib: _functional(lib).interpolate(lib.zeros(1, 0, 4), size=3, mode="area"),
    "interpolate_area_2d": lambda lib: _functional(lib).interpolate(lib.zeros(1, 0, 4, 4), size=3, mode="area"),
    "adaptive_avg_pool1d": lambda lib: _functional(lib).adaptive_avg_pool1d(lib.zeros(2, 0, 4), 2),
    "adaptive_avg_pool2d": lambda lib: _functional(lib).adaptive_avg_pool2d(lib.zeros(2, 0, 4, 4), 2),
    "adaptive_max_pool1d_unbatched": lambda lib: _functional(lib).adaptive_max_pool1d(lib.zeros(0, 4), 2),
    "adaptive_max_pool3d_unbatched": lambda lib: _functional(lib).adaptive_max_pool3d(lib.zeros(0, 4, 4, 4), 2),
    "adaptive_avg_pool3d_to_ones": lambda lib: _functional(lib).adaptive_avg_pool3d(lib.zeros(2, 0, 4, 4, 4), 1),
    "interpolate_area_3d_to_ones": lambda lib: _functional(lib).interpolate(lib.zeros(1, 0, 2, 2, 2), size=1,
                                                                            mode="area"),
    "adaptive_avg_pool3d_batch0": lambda lib: _functional(lib).adaptive_avg_pool3d(lib.zeros(0, 3, 4, 4, 4), 2),
    "unfold_batch0": lambda lib: _functional(lib).unfold(lib.zeros(0, 2, 3, 3), 2),
    "fold_batch0": lambda lib: _functional(lib).fold(lib.zeros(0, 4, 4), (3, 3), 2),
    "pad_reflect_batch0": lambda lib: _functional(lib).pad(lib.zeros(0, 3, 5), (1, 1), mode="reflect"),
    "pad_circular_no_channels": lambda lib: _functional(lib).pad(lib.zeros(2, 0, 5), (1, 1), mode="circular"),
}


@pytest.mark.parametrize("name", sorted(NO_CHANNELS))
def test_kernels_that_refuse_an_empty_non_batch_dim_raise(name: str) -> None:
    # F.interpolate(zeros(1, 0, 4), size=3): torch's RuntimeError "Non-empty 3D data tensor expected"; ours (1, 0, 3)
    with pytest.raises(RuntimeError):
        NO_CHANNELS[name](torch)
    with pytest.raises(RuntimeError, match=r"interpolate|adaptive_(avg|max)_pool\dd|fold|pad"):   # the op named
        NO_CHANNELS[name](mg)


@pytest.mark.parametrize("name", sorted(WITH_BATCH_OR_CHANNELS))
def test_an_empty_batch_still_computes(name: str) -> None:
    expected, got = WITH_BATCH_OR_CHANNELS[name](torch), WITH_BATCH_OR_CHANNELS[name](mg)
    assert tuple(got.shape) == tuple(expected.shape)


@pytest.mark.parametrize(("shapes", "dim"), [([(0,)], 1), ([(0,), (0,)], 1), ([(0,), (0,)], -2), ([(0,)], 5),
                                             ([(0,)], -1), ([(0,), (2, 3)], 1), ([(2, 3), (0,)], -1)])
def test_cat_of_legacy_empties_alone_takes_any_dim(shapes: list, dim: int) -> None:
    # torch.cat([torch.empty(0)], 1): (0,) (its legacy rule checks no dim against (0,)s alone); ours an AxisError
    def build(lib: Any) -> tuple:
        parts = [lib.ones(shape, requires_grad=True) for shape in shapes]
        return lib.cat(parts, dim), parts
    _same_forward_and_grads(build)


@pytest.mark.parametrize("dim", [True, 1.5])
def test_cat_of_legacy_empties_still_checks_the_dim_type(dim: Any) -> None:
    with pytest.raises(TypeError):
        torch.cat([torch.zeros(0)], dim)
    with pytest.raises(TypeError, match="concat"):
        mg.cat([mg.zeros(0)], dim)


def _loss_case(fn: str, shape: tuple, target: Any, dtype: str = "float64", **kwargs: Any) -> Callable[[Any], tuple]:
    """``fn(logits of shape, target(lib), **kwargs)`` and the logits as the one leaf."""
    def build(lib: Any) -> tuple:
        x = lib.zeros(shape, dtype=getattr(lib, dtype), requires_grad=True)
        return getattr(_functional(lib), fn)(x, target(lib), **kwargs), [x]
    return build


def _probabilities(shape: tuple) -> Callable[[Any], Any]:
    return lambda lib: lib.full(shape, 0.5, dtype=lib.float64)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
@pytest.mark.parametrize("shape", [(2, 0), (0, 0), (2, 0, 3), (0,)])
def test_cross_entropy_with_no_classes(shape: tuple, label_smoothing: float, reduction: str) -> None:
    # F.cross_entropy(zeros(2, 0), probabilities, label_smoothing=0.1): ours raised Python's ZeroDivisionError (ε/C);
    # the mean over no classes is torch's NaN (its sum over numel / C = 0 / 0), ours was 0
    _same_forward_and_grads(_loss_case("cross_entropy", shape, _probabilities(shape), reduction=reduction,
                                       label_smoothing=label_smoothing))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(("fn", "label_smoothing"), [("cross_entropy", 0.0), ("cross_entropy", 0.1), ("nll_loss", 0.0)])
@pytest.mark.parametrize("shape", [(0, 0), (0, 0, 3), (0, 0, 3, 2)])
@pytest.mark.parametrize("dtype", ["float64", "float16"])
def test_class_index_losses_with_no_rows_and_no_classes(dtype: str, shape: tuple, fn: str, label_smoothing: float,
                                                        reduction: str) -> None:
    # F.cross_entropy(zeros(0, 0, 3), zeros((0, 3), int64)): torch's NaN; ours raised "cannot reshape array of size
    # 0 into shape (0)" (the rows as reshape(-1, C) with C = 0; float16 has its own path), and with label smoothing
    # a ZeroDivisionError
    kwargs = {"label_smoothing": label_smoothing} if fn == "cross_entropy" else {}
    target = (shape[0],) + shape[2:]
    _same_forward_and_grads(_loss_case(fn, shape, lambda lib: lib.zeros(target, dtype=lib.int64), dtype,
                                       reduction=reduction, **kwargs))


@pytest.mark.parametrize(("batch", "in1", "in2", "out"), [(2, 3, 3, 0), (0, 3, 3, 0), (0, 3, 3, 2), (1, 1, 1, 1)])
def test_bilinear_with_no_outputs(batch: int, in1: int, in2: int, out: int) -> None:
    # F.bilinear(x1 (2, 3), x2 (2, 3), weight (0, 3, 3)): torch's (2, 0); ours "cannot reshape array of size 0"
    def build(lib: Any) -> tuple:
        x1, x2 = lib.ones(batch, in1, requires_grad=True), lib.ones(batch, in2, requires_grad=True)
        weight, bias = lib.ones(out, in1, in2, requires_grad=True), lib.ones(out, requires_grad=True)
        return _functional(lib).bilinear(x1, x2, weight, bias), [x1, x2, weight, bias]
    _same_forward_and_grads(build)


@pytest.mark.parametrize("shape", [(3, 0), (0, 0), (2, 3, 0)])
@pytest.mark.parametrize("kwargs", [{}, {"density": True}, {"weight": True}, {"bins": 3}, {"bins": []}])
def test_histogramdd_of_points_with_no_coordinates(shape: tuple, kwargs: dict) -> None:
    # torch.histogramdd(zeros(3, 0)): a 0-d hist of 0 (NaN with density) and no edges; ours raised NumPy's
    # "cannot reshape array of size 0 into shape (0)"
    results = []
    for lib in (torch, mg):
        options = dict(kwargs)
        if options.pop("weight", False):
            options["weight"] = lib.ones(shape[:-1])
        options.setdefault("bins", 10)
        results.append(lib.histogramdd(lib.zeros(shape), **options))
    expected, got = results
    assert got.hist.shape == tuple(expected.hist.shape) == ()
    assert str(got.hist.dtype) == str(expected.hist.dtype).replace("torch.", "")
    np.testing.assert_array_equal(got.hist.numpy(), expected.hist.numpy())
    assert got.bin_edges == () == tuple(expected.bin_edges)


@pytest.mark.parametrize("shape", [(0, 2), (2, 0), (0, 2, 3), (3, 0, 2)])
def test_hermitian_pinv_and_rank_of_empty_non_square_matrices(shape: tuple) -> None:
    # torch.linalg.pinv(zeros(0, 2), hermitian=True): (2, 0) zeros, matrix_rank 0; ours raised a LinAlgError that
    # blamed "a NaN or inf in the input" (NumPy's eigh of a non-square array)
    def build(lib: Any) -> tuple:
        a = lib.ones(shape, dtype=lib.float64, requires_grad=True)
        return lib.linalg.pinv(a, hermitian=True), [a]
    _same_forward_and_grads(build)
    expected = torch.linalg.matrix_rank(torch.ones(shape), hermitian=True)
    np.testing.assert_array_equal(mg.linalg.matrix_rank(mg.ones(shape), hermitian=True).numpy(), expected.numpy())


@pytest.mark.parametrize("fn", ["pinv", "matrix_rank"])
def test_hermitian_pinv_and_rank_of_non_square_matrices_raise(fn: str) -> None:
    with pytest.raises(RuntimeError):
        getattr(torch.linalg, fn)(torch.ones(2, 3), hermitian=True)
    with pytest.raises(RuntimeError, match=f"{fn}: hermitian=True needs square matrices"):
        getattr(mg.linalg, fn)(mg.ones(2, 3), hermitian=True)


@pytest.mark.parametrize("form", ["operator", "function", "method"])
@pytest.mark.parametrize("values", [[], [True, False]])
def test_bool_to_a_negative_int_power_raises_even_when_empty(values: list, form: str) -> None:
    # torch.zeros(0, dtype=torch.bool) ** -1: RuntimeError (integers to negative integer powers); ours gave an empty
    # int64 tensor (the check ran only on non-empty bools, inside the int64 power)
    for lib in (torch, mg):
        x = lib.tensor(values, dtype=lib.bool)
        with pytest.raises(RuntimeError, match="negative integer powers"):
            x ** -1 if form == "operator" else lib.pow(x, -1) if form == "function" else x.pow(-1)
    assert mg.zeros(0, dtype=mg.bool).pow(2).dtype == mg.int64   # a non-negative power still computes, as torch's
