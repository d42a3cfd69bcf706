"""nn.functional breadth against torch.nn.functional: the cases a round-20 differential fuzz of the less-common
functions (grid_sample, affine_grid, fold/unfold, pixel and channel shuffles, embedding_bag, ctc_loss, the margin,
distance and NLL losses, scaled_dot_product_attention, adaptive/lp/fractional pools, antialiased interpolate,
shrinks and thresholds) found differing from PyTorch 2.13, each compared with live torch."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")
F, TF = nn.functional, torch.nn.functional


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("volumetric", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_grid_sample_places_a_non_finite_grid_value_as_torch(value: float, padding_mode: str, mode: str,
                                                             volumetric: bool, dtype: type) -> None:
    # a NaN x (or a reflected ±inf) sampled as torch's CPU kernels do: 4-D border/reflection read the first pixel,
    # 5-D the last; 5-D zeros reads nothing (0). Ours gave NaN (bilinear) or 0 (nearest)
    shape = (1, 1, 2, 3, 4) if volumetric else (1, 1, 3, 4)
    x = np.arange(1.0, 1.0 + np.prod(shape), dtype=dtype).reshape(shape)
    point = [value, 0.3, 0.2] if volumetric else [value, 0.3]
    g = np.array([point, [0.1] * len(point)], dtype=dtype).reshape((1, 1, 1, 2, -1) if volumetric else (1, 1, 2, -1))
    for align_corners in (False, True):
        kwargs = dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners)
        expected = TF.grid_sample(torch.tensor(x), torch.tensor(g), **kwargs).numpy()
        got = F.grid_sample(mg.tensor(x), mg.tensor(g), **kwargs)
        assert got.dtype == mg.tensor(x).dtype
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("case", ["abs", "abs_create_graph", "lp_pool1d"])
def test_abs_gradient_at_zero_or_nan_carries_a_non_finite_upstream(case: str) -> None:
    # torch's abs backward is grad · sgn(x) (sgn(NaN) = 0): at x = 0 or NaN an inf/NaN grad gives NaN, not 0. So
    # lp_pool with p = 0.5 over a window holding a negative (NaN output): every grad of the window is NaN
    def run(lib: object, fn: object) -> tuple:
        if case.startswith("abs"):
            x = lib.tensor([np.nan, 0.0, -0.0, 1.0, -2.0], requires_grad=True)
            upstream = lib.tensor([np.inf, np.nan, -1.0, np.nan, 2.0])
            if case == "abs_create_graph":
                (grad,) = lib.autograd.grad(x.abs(), x, upstream, create_graph=True)
                return np.asarray(grad.detach().numpy())
            x.abs().backward(upstream)
        else:
            x = lib.tensor([[[1.37, -0.10, 0.5, 0.25]]], requires_grad=True)
            fn.lp_pool1d(x, 0.5, 2).sum().backward()
        return np.asarray(x.grad.numpy())

    expected, got = run(torch, TF), run(mg, F)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("index_dtype", [np.int64, np.int32])
def test_embedding_bag_with_no_offsets_is_zero_bags(mode: str, index_dtype: type) -> None:
    # offsets of length 0 cut no bag: torch 2.13 gives a (0, D) result for sum and mean (not called here: its
    # kernels read out of bounds on this input, crashing the process now and then); ours raised index_add's error
    w = mg.tensor(np.arange(12.0).reshape(4, 3), requires_grad=True)
    idx, offsets = np.array([0, 1, 2, 3, 1], dtype=index_dtype), np.array([], dtype=index_dtype)
    got = F.embedding_bag(mg.tensor(idx), w, mg.tensor(offsets), mode=mode)
    assert got.shape == (0, 3) and got.dtype == mg.float64
    got.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.zeros((4, 3)))


@pytest.mark.parametrize("case", ["grid_sample_int64", "grid_sample_bool", "grid_sample_int64_5d", "sdpa_1d"])
def test_refusals_raise_torch_exception_class(case: str) -> None:
    # grid_sample of an integer/bool input: torch NotImplementedError (ours: TypeError/RuntimeError);
    # scaled_dot_product_attention of 1-D tensors: torch RuntimeError (ours: a bare ValueError)
    def call(lib: object, fn: object) -> object:
        if case == "sdpa_1d":
            q = lib.tensor(np.ones(4))
            return fn.scaled_dot_product_attention(q, q, q)
        dtype = bool if case == "grid_sample_bool" else np.int64
        shape = (1, 1, 2, 2, 2) if case.endswith("5d") else (1, 1, 2, 2)
        grid = np.zeros((1,) * (len(shape) - 1) + (len(shape) - 2,))
        return fn.grid_sample(lib.tensor(np.ones(shape, dtype)), lib.tensor(grid), align_corners=False)

    with pytest.raises(Exception) as expected:
        call(torch, TF)
    with pytest.raises(type(expected.value)):
        call(mg, F)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("size", [(3, 2), (2, 4), (1, 3), (5, 5)])
def test_antialias_interpolate_leaves_pixels_outside_a_filter_out(mode: str, value: float, size: tuple) -> None:
    # an inf/NaN pixel outside an output position's filter support does not reach it (torch sums only the taps in
    # the support); ours weighted the padding taps by 0, and 0 · inf made those outputs NaN
    x = np.zeros((1, 1, 6, 6))
    x[0, 0, 5, 5] = value
    expected = TF.interpolate(torch.tensor(x), size=size, mode=mode, antialias=True).numpy()
    got = F.interpolate(mg.tensor(x), size=size, mode=mode, antialias=True).numpy()
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("value", [np.inf, np.nan])
def test_grid_sample_outside_taps_do_not_read_an_inf_pixel(mode: str, padding_mode: str, value: float) -> None:
    # a tap outside the input reads nothing (torch skips it); ours read pixel 0 and multiplied it by a 0 mask, so
    # an inf/NaN first pixel made outside and edge points NaN
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 0, 0] = value
    g = np.array([[[[-2.0, -2.0], [0.9, 0.9], [1.2, -0.4], [0.0, 0.0]]]])
    for align_corners in (False, True):
        kwargs = dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners)
        expected = TF.grid_sample(torch.tensor(x), torch.tensor(g), **kwargs).numpy()
        got = F.grid_sample(mg.tensor(x), mg.tensor(g), **kwargs).numpy()
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("mode", ["linear", "bilinear", "trilinear"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_linear_interpolate_to_the_same_size_computes_as_torch(mode: str, align_corners: bool) -> None:
    # torch's linear kernels compute an unchanged size too (each entry weighed 1, read again weighed 0): an inf
    # entry becomes NaN, -0.0 stays; ours copied the input (inf stayed inf)
    shape = {"linear": (1, 2, 5), "bilinear": (1, 2, 3, 5), "trilinear": (1, 2, 2, 3, 5)}[mode]
    x = np.random.default_rng(0).standard_normal(shape)
    x.flat[2], x.flat[4], x.flat[7] = np.inf, -0.0, np.nan
    for kwargs in (dict(size=shape[2:]), dict(scale_factor=1.0)):
        expected = TF.interpolate(torch.tensor(x), mode=mode, align_corners=align_corners, **kwargs).numpy()
        got = F.interpolate(mg.tensor(x), mode=mode, align_corners=align_corners, **kwargs).numpy()
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))
