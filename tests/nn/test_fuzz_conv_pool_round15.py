"""Convolution, pooling, padding, resizing and fold against torch.nn.functional: the cases a round-15 differential
fuzz (thousands of random configurations of strides, paddings, dilations, groups, ceil modes, layouts and dtypes)
found differing from PyTorch 2.13, each compared with the value, shape, error class or gradient torch gives."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")
F, TF = nn.functional, torch.nn.functional


@pytest.mark.parametrize(("name", "shape", "output_size"), [
    ("adaptive_avg_pool1d", (1, 2, 6), 3),
    ("adaptive_avg_pool2d", (1, 4, 5), (2, 3)),
    ("adaptive_avg_pool3d", (1, 4, 4, 5), 2),
    ("area", (1, 1, 4, 6), (2, 3)),
])
@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_adaptive_average_keeps_a_nan_or_inf_in_its_own_window(name: str, shape: tuple, output_size: object,
                                                               bad: float) -> None:
    # the averaging was a matmul with a 0/1 matrix: 0·inf = NaN spread the entry to every window
    x = np.random.default_rng(0).standard_normal(shape)
    x.flat[1] = bad
    xt, xm = torch.tensor(x, requires_grad=True), mg.tensor(x, requires_grad=True)
    if name == "area":
        expected = TF.interpolate(xt, size=output_size, mode="area")
        got = F.interpolate(xm, size=output_size, mode="area")
    else:
        expected, got = getattr(TF, name)(xt, output_size), getattr(F, name)(xm, output_size)
    np.testing.assert_allclose(got.numpy(), expected.detach().numpy(), rtol=1e-12)   # NaNs in the same places
    cotangent = np.random.default_rng(1).standard_normal(expected.shape)
    (expected * torch.tensor(cotangent)).sum().backward()
    (got * mg.tensor(cotangent)).sum().backward()
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("output_size", [(0, 2, 2), (2, 0, 3), 0])
def test_adaptive_max_pool3d_empty_output(output_size: object) -> None:
    # torch gives an empty result; ours failed reshaping its (empty) window table
    x = np.random.default_rng(2).standard_normal((1, 2, 3, 4, 5))
    values_t, index_t = TF.adaptive_max_pool3d(torch.tensor(x), output_size, return_indices=True)
    values_m, index_m = F.adaptive_max_pool3d(mg.tensor(x), output_size, return_indices=True)
    assert values_m.shape == tuple(values_t.shape) and index_m.shape == tuple(index_t.shape)
    assert F.adaptive_avg_pool3d(mg.tensor(x), output_size).shape == tuple(TF.adaptive_avg_pool3d(
        torch.tensor(x), output_size).shape)


@pytest.mark.parametrize(("shape", "pads", "mode"), [
    ((4,), (1, 2), "replicate"),                # a 1-D input: torch pads (C, W) or (N, C, W) only
    ((2, 3, 4, 5), (1, 1), "reflect"),          # 4-D with one padded dim
    ((2, 3), (1, 1, 1, 1), "circular"),         # 2-D with two padded dims
    ((4,), (-2, -2), "reflect"),                # the rank check comes before the crop-to-nothing one
    ((1, 1, 2, 2, 2, 2), (1,) * 8, "reflect"),  # four padded dims
])
def test_pad_non_constant_modes_take_torch_ranks_only(shape: tuple, pads: tuple, mode: str) -> None:
    # ours padded any rank (a different op than torch offers); torch raises NotImplementedError
    x = np.random.default_rng(3).standard_normal(shape)
    with pytest.raises(NotImplementedError):
        TF.pad(torch.tensor(x), pads, mode=mode)
    with pytest.raises(NotImplementedError, match=f"pad: {mode}"):
        F.pad(mg.tensor(x), pads, mode=mode)


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 1e30])
def test_pad_integer_input_with_an_unrepresentable_value_raises_runtime_error(value: float) -> None:
    x = np.arange(6).reshape(2, 3)
    with pytest.raises(RuntimeError):
        TF.pad(torch.tensor(x), (1, 1), value=value)
    with pytest.raises(RuntimeError, match="pad: value"):   # ours: NumPy's OverflowError or a garbage fill
        F.pad(mg.tensor(x), (1, 1), value=value)
    np.testing.assert_array_equal(F.pad(mg.tensor(x), (1, 1), value=2.7).numpy(),
                                  TF.pad(torch.tensor(x), (1, 1), value=2.7).numpy())


@pytest.mark.parametrize(("shape", "kwargs"), [
    ((1, 1, 2), {"mode": "trilinear", "scale_factor": 0.4}),               # output size 0 and the wrong rank
    ((2, 1, 2, 1, 2), {"mode": "linear", "scale_factor": (2.0, 0.5, 2.0)}),
    ((1, 1, 1, 3), {"mode": "bilinear", "size": (0, 2), "align_corners": True}),
])
def test_interpolate_mode_rank_error_comes_before_the_size_error(shape: tuple, kwargs: dict) -> None:
    x = np.ones(shape)
    expected = (NotImplementedError if kwargs["mode"] != "bilinear" else RuntimeError)
    with pytest.raises(expected):
        TF.interpolate(torch.tensor(x), **kwargs)
    with pytest.raises(expected, match="interpolate"):
        F.interpolate(mg.tensor(x), **kwargs)


@pytest.mark.parametrize(("name", "shapes", "kwargs", "torch_class"), [
    # a non-int argument is torch's argument-parser TypeError, even where a shape is wrong too
    ("conv1d", [(2, 2, 4), (2, 1, 2), None], {"stride": 1.5}, TypeError),         # channels mismatch too
    ("conv2d", [(1, 2, 4, 4), (2, 2, 1, 1), None], {"groups": (1, 2)}, TypeError),
    ("conv2d", [(1, 2, 4, 4), (2, 2, 1, 1), None], {"groups": True}, TypeError),
    ("conv3d", [(1, 2, 3, 3, 3), (2, 2, 1, 1, 1), (3,)], {"dilation": 2.0}, TypeError),  # bias shape too
    ("conv_transpose1d", [(2, 2, 3), (2, 2, 2), (4,)], {"dilation": 2.0}, TypeError),
    ("conv_transpose2d", [(1, 2, 3, 3), (2, 1, 1, 1), None], {"groups": 2.0}, TypeError),
    # a transposed convolution's shape and dtype errors are RuntimeErrors (ours: ValueError / TypeError only)
    ("conv_transpose1d", [(2, 2, 3), (2, 2, 2), (4,)], {}, RuntimeError),           # bias of the wrong size
    ("conv_transpose3d", [(1, 2, 2, 2, 2), (2, 1, 1, 1, 1), (3,)], {}, RuntimeError),
    ("conv_transpose2d", [(1, 2, 3, 3), (2, 1, 1, 1), None], {"weight_dtype": np.float32}, RuntimeError),
])
def test_convolution_argument_errors_have_torch_class(name: str, shapes: list, kwargs: dict,
                                                      torch_class: type) -> None:
    kwargs = dict(kwargs)
    weight_dtype = kwargs.pop("weight_dtype", np.float64)
    rng = np.random.default_rng(4)
    x, w, b = (None if s is None else rng.standard_normal(s) for s in shapes)
    w = w.astype(weight_dtype)
    with pytest.raises(torch_class):
        getattr(TF, name)(torch.tensor(x), torch.tensor(w), None if b is None else torch.tensor(b), **kwargs)
    with pytest.raises(torch_class, match=name):
        getattr(F, name)(mg.tensor(x), mg.tensor(w), None if b is None else mg.tensor(b), **kwargs)


@pytest.mark.parametrize(("mode", "size"), [("nearest", (3, 4)), ("bilinear", (3, 4)), ("nearest-exact", (3, 4)),
                                            ("bilinear", None)])
def test_interpolate_to_the_same_size_returns_a_new_tensor(mode: str, size: tuple | None) -> None:
    # ours returned the input itself, so an in-place change of the result changed the input
    x = np.arange(12.0).reshape(1, 1, 3, 4)
    kwargs = {"size": size} if size else {"scale_factor": 1.0}
    xt, xm = torch.tensor(x), mg.tensor(x)
    yt, ym = TF.interpolate(xt, mode=mode, **kwargs), F.interpolate(xm, mode=mode, **kwargs)
    assert ym is not xm and yt is not xt
    yt.add_(1)
    ym.add_(1)
    np.testing.assert_array_equal(xm.numpy(), xt.numpy())
    np.testing.assert_array_equal(ym.numpy(), yt.numpy())


@pytest.mark.parametrize(("shape", "size", "mode"), [
    ((1, 1, 3, 3), (5, 3), "bilinear"),         # W unchanged: torch still weighs it (1·x + 0·x)
    ((1, 1, 3, 3), (3, 4), "bilinear"),
    ((1, 1, 3, 1), (5, 1), "bilinear"),
    ((1, 1, 2, 3, 3), (2, 4, 3), "trilinear"),
])
@pytest.mark.parametrize("align_corners", [False, True])
def test_interpolate_unchanged_dim_turns_inf_into_nan_as_torch(shape: tuple, size: tuple, mode: str,
                                                               align_corners: bool) -> None:
    # ours copied a dim of unchanged size, so an inf stayed inf where torch's kernel gives NaN (inf·0)
    x = np.random.default_rng(5).standard_normal(shape)
    x.flat[1] = np.inf
    x.flat[-2] = -np.inf
    expected = TF.interpolate(torch.tensor(x), size=size, mode=mode, align_corners=align_corners).numpy()
    got = F.interpolate(mg.tensor(x), size=size, mode=mode, align_corners=align_corners).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12)   # NaNs in the same places


@pytest.mark.parametrize(("shape", "call"), [
    ((2, 3, 4), lambda f, x: f.pad(x, (0, 0))),
    ((2, 3, 4), lambda f, x: f.pad(x, (-1, 0, 0, -1), value=2.0)),            # a crop: ours was a view
    ((2, 3, 4), lambda f, x: f.pad(x, (0, 0), mode="replicate")),
    ((2, 3, 4), lambda f, x: f.pad(x, (-1, 0), mode="circular")),
    ((1, 4, 2, 2), lambda f, x: f.pixel_shuffle(x, 1)),
    ((1, 4, 1, 1), lambda f, x: f.pixel_shuffle(x, 2)),                       # size-1 dims: the permute moves nothing
    ((1, 1, 2, 2), lambda f, x: f.pixel_unshuffle(x, 1)),
    ((2, 3, 4), lambda f, x: f.channel_shuffle(x, 1)),
    ((2, 3, 4), lambda f, x: f.native_channel_shuffle(x, 3)),
])
def test_padding_and_shuffles_return_a_new_tensor(shape: tuple, call: object) -> None:
    # ours returned the input (or a view of it) where nothing moved, so an in-place change of the result
    # changed the input; torch's results own their memory
    x = np.arange(float(np.prod(shape))).reshape(shape)
    xt, xm = torch.tensor(x), mg.tensor(x)
    yt, ym = call(TF, xt), call(F, xm)
    yt.mul_(-1)
    ym.mul_(-1)
    np.testing.assert_array_equal(xm.numpy(), xt.numpy())
    np.testing.assert_array_equal(ym.numpy(), yt.numpy())


@pytest.mark.parametrize(("name", "shape", "kwargs"), [
    ("unfold", (1, 2, 4, 4), {"kernel_size": (2,)}),
    ("unfold", (1, 2, 4, 4), {"kernel_size": 2, "padding": [1]}),
    ("unfold", (1, 2, 4, 4), {"kernel_size": 2, "stride": (1,)}),
    ("fold", (1, 8, 9), {"output_size": (4,), "kernel_size": 2}),
    ("fold", (1, 8, 9), {"output_size": 4, "kernel_size": 2, "dilation": (1,)}),
])
def test_fold_unfold_refuse_a_one_element_sequence(name: str, shape: tuple, kwargs: dict) -> None:
    # torch's im2col/col2im want exactly two ints (its convolutions take one for every dim); ours took it
    x = np.ones(shape)
    with pytest.raises(RuntimeError):
        getattr(TF, name)(torch.tensor(x), **kwargs)
    with pytest.raises(RuntimeError, match=name):
        getattr(F, name)(mg.tensor(x), **kwargs)


@pytest.mark.parametrize(("name", "shape", "kwargs", "torch_class"), [
    ("avg_pool2d", (1, 1, 4, 4), {"kernel_size": 2, "divisor_override": 1.5}, TypeError),   # ours: ValueError
    ("avg_pool3d", (1, 1, 2, 2, 2), {"kernel_size": 2, "divisor_override": (2,)}, TypeError),
    ("avg_pool2d", (1, 1, 4, 4), {"kernel_size": 2, "divisor_override": 0}, RuntimeError),
    ("max_pool2d", (2, 3, 1), {"kernel_size": 1, "padding": (1, -1), "dilation": 1.5}, TypeError),
    ("max_pool1d", (1, 2, 3, 4), {"kernel_size": 2.0}, TypeError),                          # a 4-D input too
    ("avg_pool1d", (1, 0, 3), {"kernel_size": "2"}, TypeError),                             # an empty channel dim too
])
def test_pool_argument_errors_have_torch_class(name: str, shape: tuple, kwargs: dict, torch_class: type) -> None:
    x = np.ones(shape)
    with pytest.raises(torch_class):
        getattr(TF, name)(torch.tensor(x), **kwargs)
    with pytest.raises(torch_class, match=name):
        getattr(F, name)(mg.tensor(x), **kwargs)
