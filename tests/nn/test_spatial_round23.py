"""Spatial and resampling ops against PyTorch 2.13: the cases a round-23 differential fuzz (grid_sample,
affine_grid, interpolate, fold/unfold, the shuffles, F.pad, adaptive/fractional/lp pools, max_unpool) found
differing, each pinned to the value, layout, error or gradient torch gives."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")
F, TF = nn.functional, torch.nn.functional


@pytest.mark.parametrize("dims", [2, 3])
def test_nearest_grid_sample_grid_gradient_requires_grad_under_create_graph(dims: int) -> None:
    # the grid's zero gradient did not require grad: a penalty on it alone raised "does not require grad";
    # PyTorch's does, and the penalty's gradient is None (not used) for both inputs
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2) + (3,) * dims)
    g = rng.uniform(-1, 1, (1,) + (2,) * dims + (dims,))
    results = []
    for lib, fn in ((mg, F), (torch, TF)):
        xt = lib.tensor(x, requires_grad=True)
        gt = lib.tensor(g, requires_grad=True)
        out = fn.grid_sample(xt, gt, mode="nearest", align_corners=False)
        gx, gg = lib.autograd.grad(out.sum(), [xt, gt], create_graph=True)
        assert gx.requires_grad and gg.requires_grad
        assert not gg.detach().numpy().any()
        second = lib.autograd.grad((gg * gg).sum(), [xt, gt], allow_unused=True)
        results.append(second)
    assert results[0] == (None, None) and results[1] == (None, None)


@pytest.mark.parametrize("case", ["fold", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"])
def test_fold_and_transposed_convolution_with_padding_are_c_contiguous(case: str) -> None:
    # col2im with padding returned the inner slice of the padded sum: strides of the padded buffer, so
    # `.view(n, -1)` raised where PyTorch's result is C-contiguous
    rng = np.random.default_rng(1)
    if case == "fold":
        x = rng.standard_normal((2, 4, 4))
        args = ((5, 3), 2)
        kwargs = {"padding": (1, 2), "stride": 3}
    else:
        dims = int(case[-2])
        x = rng.standard_normal((2, 3) + (4,) * dims)
        args = (rng.standard_normal((3, 2) + (3,) * dims),)
        kwargs = {"padding": 1}
    ours = getattr(F, case)(mg.tensor(x), *(mg.tensor(a) if isinstance(a, np.ndarray) else a for a in args),
                            **kwargs)
    theirs = getattr(TF, case)(torch.tensor(x), *(torch.tensor(a) if isinstance(a, np.ndarray) else a for a in args),
                               **kwargs)
    assert ours.is_contiguous() and theirs.is_contiguous()
    assert ours.stride() == theirs.stride()
    np.testing.assert_allclose(ours.view(2, -1).numpy(), theirs.view(2, -1).numpy(), rtol=1e-12)


@pytest.mark.parametrize("dims", [2, 3])
def test_fractional_max_pool_gradient_requires_grad_under_create_graph(dims: int) -> None:
    # PyTorch's backward reads the input, so x's create_graph gradient requires grad (a penalty on it worked
    # there and raised here)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 2) + (5,) * dims)
    samples = rng.uniform(0, 1, (2, 2, dims))
    grads = []
    for lib, fn in ((mg, F), (torch, TF)):
        xt = lib.tensor(x, requires_grad=True)
        out = getattr(fn, f"fractional_max_pool{dims}d")(xt, 2, output_size=3, _random_samples=lib.tensor(samples))
        (gx,) = lib.autograd.grad(out.sum(), [xt], create_graph=True)
        assert gx.requires_grad
        (g2,) = lib.autograd.grad((gx * gx).sum(), [xt])   # a penalty on the gradient alone: zeros
        grads.append(g2.detach().numpy())
    np.testing.assert_array_equal(grads[0], grads[1])


@pytest.mark.parametrize("mode", ["reflect", "replicate"])
@pytest.mark.parametrize(("shape", "pad", "raises"), [
    ((2, 3, 4, 6), (-3, -3, 0, 0), False),
    ((1, 1, 5, 2), (-2, 0, 2, 4), False),
    ((4, 2, 5), (-2, -2, 1, -3), False),
    ((2, 3, 2, 4, 6), (-3, -3, -2, -2, -1, 0), False),
    ((2, 3, 6), (-3, -3), True),                          # every padded dim empty: PyTorch's "too small"
    ((2, 3, 4, 6), (-3, -3, -2, -2), True),
    ((2, 3, 2, 4, 6), (-3, -3, -2, -2, -3, 0), True),     # a negative size
])
def test_pad_may_crop_some_padded_dims_to_nothing(mode: str, shape: tuple, pad: tuple, raises: bool) -> None:
    # F.pad refused a reflect/replicate pad that crops one dim to 0; PyTorch's kernels give an empty result
    # unless every padded dim is emptied
    x = np.random.default_rng(3).standard_normal(shape)
    if raises:
        with pytest.raises(RuntimeError):
            TF.pad(torch.tensor(x), pad, mode=mode)
        with pytest.raises(RuntimeError):
            F.pad(mg.tensor(x), pad, mode=mode)
        return
    xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours, theirs = F.pad(xm, pad, mode=mode), TF.pad(xt, pad, mode=mode)
    assert ours.shape == tuple(theirs.shape) and ours.numel() == 0
    ours.sum().backward()
    assert xm.grad.shape == shape and not xm.grad.numpy().any()   # (PyTorch's 3-D reflect backward: garbage)


def test_channel_shuffle_keeps_channels_last_3d() -> None:
    # a 5-D channels-last-3d input gave a C-order result; PyTorch's kernel lays it out as the input suggests
    x = np.random.default_rng(4).standard_normal((2, 6, 3, 4, 5))
    ours = F.channel_shuffle(mg.tensor(x).contiguous(memory_format=mg.channels_last_3d), 2)
    theirs = TF.channel_shuffle(torch.tensor(x).contiguous(memory_format=torch.channels_last_3d), 2)
    assert ours.stride() == theirs.stride() == (360, 1, 120, 30, 6)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_max_unpool_to_an_empty_output_checks_no_index(dims: int) -> None:
    # kernel 2, stride 3, padding 1 over a size-2 dim: the default output size is 0 along it; PyTorch writes
    # nothing and returns the empty tensor, minigrad raised "invalid max index"
    shape = (2, 1) + (2,) * dims
    x = np.random.default_rng(5).standard_normal(shape)
    results = []
    for lib, fn in ((mg, F), (torch, TF)):
        xt = lib.tensor(x, requires_grad=True)
        y, i = getattr(fn, f"max_pool{dims}d")(xt, 2, 3, 1, return_indices=True)
        results.append((xt, getattr(fn, f"max_unpool{dims}d")(y, i, 2, 3, 1)))
    (xm, ours), (_, theirs) = results
    assert ours.shape == tuple(theirs.shape) == (2, 1) + (0,) * dims
    ours.sum().backward()   # (PyTorch's backward raises "index 0 is out of bounds"; the gradient is zeros)
    assert xm.grad.shape == shape and not xm.grad.numpy().any()


def test_area_resize_of_float16_keeps_channels_last() -> None:
    # float16 'area' ran in float32 and came back in C order; PyTorch's adaptive pooling keeps channels-last
    x = np.random.default_rng(6).standard_normal((2, 3, 6, 7))
    ours = F.interpolate(mg.tensor(x).half().contiguous(memory_format=mg.channels_last), size=(3, 4), mode="area")
    theirs = TF.interpolate(torch.tensor(x).half().contiguous(memory_format=torch.channels_last), size=(3, 4),
                            mode="area")
    assert not theirs.is_contiguous() and ours.stride() == theirs.stride()
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-3)


@pytest.mark.parametrize("shape", [(1, 6, 2), (1, 9, 3), (2, 1, 6, 2)])
def test_pixel_unshuffle_of_one_channel_is_c_contiguous(shape: tuple) -> None:
    # with one channel and an output width of 1 the permute moved only size-1 dims: the reshaped result kept its
    # strides, so `.view(-1)` raised; PyTorch's result is C order
    x = np.random.default_rng(7).standard_normal(shape)
    r = 3 if shape[-2] == 9 else 2
    ours, theirs = F.pixel_unshuffle(mg.tensor(x), r), TF.pixel_unshuffle(torch.tensor(x), r)
    assert ours.is_contiguous() and ours.stride() == theirs.stride()
    np.testing.assert_array_equal(ours.view(-1).numpy(), theirs.view(-1).numpy())


@pytest.mark.parametrize(("mode", "n", "size", "dims"), [
    ("nearest", 16, 82, 1), ("nearest", 16, 82, 3), ("nearest-exact", 14, 23, 1), ("nearest-exact", 14, 23, 3),
])
def test_nearest_resize_of_float64_picks_pytorchs_source_pixel(mode: str, n: int, size: int, dims: int) -> None:
    # PyTorch's 1-D and 3-D kernels take the scale in float64 for a float64 input; minigrad took it in float32
    # always, so where o·in/out is an integer (output 41 of 16 → 82: 8) it read the pixel before (7)
    x = np.arange(float(n)).reshape((1, 1) + (1,) * (dims - 1) + (n,))
    out_size = (1,) * (dims - 1) + (size,)
    ours = F.interpolate(mg.tensor(x), size=out_size, mode=mode)
    theirs = TF.interpolate(torch.tensor(x), size=out_size, mode=mode)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
