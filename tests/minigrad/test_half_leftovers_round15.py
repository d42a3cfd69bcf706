"""Round-15 float16 leftovers, each compared bit for bit with live PyTorch's CPU kernels: where PyTorch computes
in float32 and rounds once, or rounds at each of its steps, we do the same."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn.functional as F

torch = pytest.importorskip("torch", reason="no torch")


def _halves(seed: int, *shapes: tuple) -> list[np.ndarray]:
    """Standard-normal float16 arrays of ``shapes``."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(np.float16) for shape in shapes]


@pytest.mark.parametrize("seed, batch, in1, in2, out", [(0, 4, 5, 3, 2), (1, 3, 2, 4, 5), (2, 6, 4, 4, 3)])
def test_bilinear_float16_rounds_each_of_its_two_products_once(seed: int, batch: int, in1: int, in2: int,
                                                               out: int) -> None:
    x1, x2, w, b = _halves(seed, (batch, in1), (batch, in2), (out, in1, in2), (out,))
    ours = F.bilinear(mg.tensor(x1), mg.tensor(x2), mg.tensor(w), mg.tensor(b))
    theirs = torch.nn.functional.bilinear(torch.tensor(x1), torch.tensor(x2), torch.tensor(w), torch.tensor(b))
    assert ours.dtype == mg.float16
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("shape, output_size", [((2, 3, 7, 6, 5), (2, 2, 1)), ((3, 9, 10, 11), (4, None, 3)),
                                                ((1, 2, 3, 7, 5), (1, 5, 5)), ((2, 3, 7, 8, 1), 1)])
def test_adaptive_avg_pool3d_float16_sums_in_float16_steps_as_pytorch(shape: tuple, output_size: object) -> None:
    (a,) = _halves(3, shape)
    a = a * np.float16(4)
    x, t = mg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    ours, theirs = F.adaptive_avg_pool3d(x, output_size), torch.nn.functional.adaptive_avg_pool3d(t, output_size)
    assert ours.dtype == mg.float16
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


@pytest.mark.parametrize("shape, size, alpha, beta, k", [((2, 5, 7), 2, 1e-4, 0.75, 1.0),
                                                         ((7, 6, 5), 3, 0.1, 0.75, 1.0),
                                                         ((2, 7, 8), 9, 0.1, 0.75, 0.5),
                                                         ((1, 5, 6), 3, 2.5, 1.3, 0.5)])
def test_local_response_norm_3d_float16_rounds_each_of_pytorchs_steps(shape: tuple, size: int, alpha: float,
                                                                      beta: float, k: float) -> None:
    (a,) = _halves(4, shape)
    a = a * np.float16(3)
    ours = F.local_response_norm(mg.tensor(a), size, alpha, beta, k)
    theirs = torch.nn.functional.local_response_norm(torch.tensor(a), size, alpha, beta, k)
    assert ours.dtype == mg.float16
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("shape, dim", [((4, 3, 5), 0), ((4, 7, 5), 1), ((40, 3), 0), ((6, 3, 2, 7), 1),
                                        ((5, 9, 1), 1)])
def test_softmax_float16_along_another_dim_as_pytorchs_scalar_kernel(shape: tuple, dim: int) -> None:
    """Fewer than 16 float16 after ``dim``: PyTorch keeps each exp in float16, sums in float32, multiplies."""
    (a,) = _halves(5, shape)
    a = a * np.float16(3)
    x = mg.tensor(a, requires_grad=True)
    ours, theirs = mg.softmax(x, dim), torch.softmax(torch.tensor(a), dim)
    assert ours.dtype == mg.float16
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.numpy())
    np.testing.assert_array_equal(F.softmax(mg.tensor(a), dim).numpy(), theirs.numpy())
    ours.sum().backward()
    assert x.grad.dtype == mg.float16 and x.grad.shape == shape


@pytest.mark.parametrize("name", ["nll_loss", "cross_entropy"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("rows, weighted", [(37, False), (300, True), (17, True), (5, False)])
def test_nll_float16_sum_and_mean_add_up_as_pytorchs_cascade(name: str, reduction: str, rows: int,
                                                             weighted: bool) -> None:
    rng = np.random.default_rng(rows)
    a, w = rng.standard_normal((rows, 5)).astype(np.float16) * np.float16(2), rng.random(5).astype(np.float16)
    target = rng.integers(0, 5, rows)
    target[rng.random(rows) < 0.1] = -100
    weight = (mg.tensor(w), torch.tensor(w)) if weighted else (None, None)
    x, t = mg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    ours = getattr(F, name)(x, mg.tensor(target), weight=weight[0], reduction=reduction)
    theirs = getattr(torch.nn.functional, name)(t, torch.tensor(target), weight=weight[1], reduction=reduction)
    assert ours.dtype == mg.float16
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())
    ours.backward()
    theirs.backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=2e-2, atol=1e-3)   # the gradient: unchanged
    if name == "nll_loss":   # no kept row: 0 / 0
        ignored = mg.tensor(np.full(rows, -100))
        assert np.isnan(F.nll_loss(mg.tensor(a), ignored, reduction=reduction).item()) == (reduction == "mean")


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("layout, dim, keepdim", [("T", 0, False), ("T", (1, 3), False), ("T", 1, True),
                                                  ("channels_last", (0, 2), True), ("channels_last", 1, False),
                                                  ("sliced", -1, False)])
def test_vector_norm_over_dims_of_a_non_c_ordered_input_gives_a_c_ordered_result(dtype: str, layout: str,
                                                                                   dim: object, keepdim: bool) -> None:
    (a,) = _halves(6, (3, 4, 5, 6))
    x, t = mg.tensor(a).to(getattr(mg, dtype)), torch.tensor(a).to(getattr(torch, dtype))
    if layout == "T":
        x, t = x.transpose(0, -1), t.transpose(0, -1)
    elif layout == "channels_last":
        x, t = x.permute(0, 2, 3, 1), t.permute(0, 2, 3, 1)
    else:
        x, t = x[:, ::2], t[:, ::2]
    ours, theirs = mg.linalg.vector_norm(x, 2, dim, keepdim), torch.linalg.vector_norm(t, 2, dim, keepdim)
    assert ours.stride() == theirs.stride() and ours.is_contiguous()
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6 if dtype == "float32" else 0)


@pytest.mark.parametrize("window_dtype, onesided", [(None, True), (None, False), ("float16", True),
                                                    ("float32", True)])
def test_stft_of_float16_raises_as_pytorchs_cpu_fft(window_dtype: str | None, onesided: bool) -> None:
    (a,) = _halves(7, (64,))
    ours = {"onesided": onesided, "return_complex": True}
    theirs = dict(ours)
    if window_dtype is not None:
        ours["window"] = mg.ones(16, dtype=getattr(mg, window_dtype))
        theirs["window"] = torch.ones(16, dtype=getattr(torch, window_dtype))
    try:
        expected = torch.stft(torch.tensor(a), 16, **theirs)
    except RuntimeError:
        with pytest.raises(RuntimeError, match="float16"):
            mg.stft(mg.tensor(a), 16, **ours)
        return
    result = mg.stft(mg.tensor(a), 16, **ours)   # a float32 window: float32 frames, as PyTorch's
    assert str(result.dtype) == str(expected.dtype).removeprefix("torch.")
    np.testing.assert_allclose(result.numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape, mode, scale_factor, align_corners", [
    ((2, 3, 7), "linear", 1.7, False), ((2, 3, 5), "linear", 3.3, True), ((2, 3, 9), "linear", 0.6, False),
    ((1, 2, 3, 4, 5), "trilinear", 1.7, False), ((1, 2, 4, 5, 6), "trilinear", 1.7, True),
    ((2, 3, 5, 7), "bicubic", 3.3, True), ((2, 3, 5, 7), "bicubic", 0.6, False)])
def test_interpolate_float16_weights_are_stored_in_float16_as_pytorchs(shape: tuple, mode: str, scale_factor: float,
                                                                       align_corners: bool) -> None:
    (a,) = _halves(8, shape)
    a = a * np.float16(3)
    kwargs = {"scale_factor": scale_factor, "mode": mode, "align_corners": align_corners}
    ours = F.interpolate(mg.tensor(a), **kwargs)
    theirs = torch.nn.functional.interpolate(torch.tensor(a), **kwargs)
    assert ours.dtype == mg.float16
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("size", [(2, 3, 4), (3, 3, 3)])
def test_interpolate_area_of_a_5d_float16_input_is_pytorchs_adaptive_avg_pool3d(size: tuple) -> None:
    (a,) = _halves(9, (1, 2, 5, 7, 9))
    a = a * np.float16(3)
    ours = F.interpolate(mg.tensor(a), size=size, mode="area")
    np.testing.assert_array_equal(ours.numpy(),
                                  torch.nn.functional.interpolate(torch.tensor(a), size=size, mode="area").numpy())


@pytest.mark.parametrize("name", ["nll_loss", "cross_entropy"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape, weighted", [((3, 4, 25), False), ((2, 5, 6, 7), True), ((4, 3, 9), True)])
def test_nll_float16_of_more_dims_adds_up_as_pytorchs_nll_loss2d(name: str, reduction: str, shape: tuple,
                                                                  weighted: bool) -> None:
    rng = np.random.default_rng(sum(shape))
    a, w = rng.standard_normal(shape).astype(np.float16) * np.float16(2), rng.random(shape[1]).astype(np.float16)
    target = rng.integers(0, shape[1], (shape[0],) + shape[2:])
    target[rng.random(target.shape) < 0.1] = -100
    weight = (mg.tensor(w), torch.tensor(w)) if weighted else (None, None)
    ours = getattr(F, name)(mg.tensor(a), mg.tensor(target), weight=weight[0], reduction=reduction)
    theirs = getattr(torch.nn.functional, name)(torch.tensor(a), torch.tensor(target), weight=weight[1],
                                                reduction=reduction)
    assert ours.dtype == mg.float16 and ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
