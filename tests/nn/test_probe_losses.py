"""Regression tests for the differences from PyTorch that a probe of the losses and ``nn.functional`` found:
values, gradients (float64 gradcheck) and dtypes against torch in float32 and float64."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from helpers import assert_close, gradcheck_case, same_as_torch

import minigrad as mg
import nn
from nn.loss_more import TripletMarginWithDistanceLoss

F = nn.functional
RNG = np.random.default_rng(17)


def normal(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)


def torch_and_ours(torch: Any, fn: Any, arrays: list, dtype: Any) -> tuple:
    """``fn(lib, *tensors)`` on both libraries, float arrays in ``dtype`` and requiring grad; outputs and inputs."""
    arrays = [a.astype(dtype) if a.dtype.kind == "f" else a for a in arrays]
    ours = [mg.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    theirs = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    return fn(mg, *ours), fn(torch, *theirs), ours, theirs


def check_both_dtypes(torch: Any, fn: Any, *arrays: np.ndarray) -> None:
    """Values, dtypes and input gradients equal torch's in float32 and float64; gradcheck in float64."""
    for dtype, tolerance in ((np.float32, 1e-5), (np.float64, 1e-10)):
        out, peer, ours, theirs = torch_and_ours(torch, fn, list(arrays), dtype)
        assert_close(out, peer, rtol=tolerance, atol=tolerance, what="forward")
        assert out.dtype == peer.detach().numpy().dtype
        weights = np.random.default_rng(3).standard_normal(out.shape).astype(out.dtype)
        (out * mg.tensor(weights)).sum().backward()
        (peer * torch.from_numpy(weights)).sum().backward()
        for i, (x, t) in enumerate(zip(ours, theirs)):
            if t.requires_grad:
                assert_close(x.grad, t.grad, rtol=tolerance, atol=tolerance, what=f"grad of input {i}")
    gradcheck_case(fn, list(arrays))


def lib_nn(lib: Any) -> Any:
    return nn if lib is mg else lib.nn


def lib_f(lib: Any) -> Any:
    return F if lib is mg else lib.nn.functional


# --- nn.ReLU(inplace=True) -------------------------------------------------------------------------------------

@pytest.mark.parametrize("args,kwargs,text", [((), {}, "ReLU()"), ((True,), {}, "ReLU(inplace=True)"),
                                              ((), {"inplace": True}, "ReLU(inplace=True)"),
                                              ((False,), {}, "ReLU()")])
def test_relu_module_takes_pytorchs_inplace_argument(torch: Any, args: tuple, kwargs: dict, text: str) -> None:
    """``nn.ReLU(inplace=True)`` (PyTorch's common idiom) was refused; its repr is PyTorch's."""
    module = nn.ReLU(*args, **kwargs)
    assert repr(module) == repr(torch.nn.ReLU(*args, **kwargs)) == text
    leaf = mg.tensor([-1.5, 0.0, 2.0], requires_grad=True)
    x = leaf * 1.0   # in place, as PyTorch's, only an intermediate may be overwritten (a leaf refuses)
    y = module(x)
    np.testing.assert_array_equal(y.numpy(), [0.0, 0.0, 2.0])
    assert (y is x) == module.inplace   # in place: x holds the result, as in PyTorch
    y.sum().backward()
    np.testing.assert_array_equal(leaf.grad.numpy(), [0.0, 0.0, 1.0])


# --- F.linear with a 1-D weight ---------------------------------------------------------------------------------

@pytest.mark.parametrize("shapes", [((3, 4), (4,)), ((2, 3, 4), (4,)), ((4,), (4,), ()), ((4,), (5, 4), (5,))])
def test_linear_takes_a_one_dimensional_weight(torch: Any, shapes: tuple) -> None:
    """F.linear(x (*, in), w (in,)) is x @ w of shape (*,), as PyTorch; it was refused."""
    arrays = [normal(*shape) for shape in shapes]
    check_both_dtypes(torch, lambda lib, *xs: lib_f(lib).linear(*xs), *arrays)


def test_linear_still_names_the_shapes_it_refuses() -> None:
    with pytest.raises(ValueError, match=r"linear: input of shape \(3, 4\) does not match weight of shape \(3,\)"):
        F.linear(mg.randn(3, 4), mg.randn(3))
    with pytest.raises(ValueError, match=r"linear: weight must be 2-D .* or 1-D .* got shape \(2, 3, 4\)"):
        F.linear(mg.randn(3, 4), mg.randn(2, 3, 4))


# --- binary cross-entropies: a float64 weight keeps a float32 loss float32 ----------------------------------------

@pytest.mark.parametrize("options", ["weight", "pos_weight", "both"])
def test_bce_with_logits_weights_take_the_losss_dtype(torch: Any, options: str) -> None:
    """PyTorch computes in the input's dtype whatever the weights' dtype; minigrad promoted to float64."""
    x, y, w = normal(4, 3).astype(np.float32), RNG.random((4, 3)).astype(np.float32), RNG.random(3) * 2
    keywords = {"weight": w, "pos_weight": w[::-1].copy()} if options == "both" else {options: w}
    for reduction in ("mean", "none"):
        ours = F.binary_cross_entropy_with_logits(mg.tensor(x), mg.tensor(y), reduction=reduction,
                                                  **{k: mg.tensor(v) for k, v in keywords.items()})
        theirs = torch.nn.functional.binary_cross_entropy_with_logits(
            torch.from_numpy(x), torch.from_numpy(y), reduction=reduction,
            **{k: torch.from_numpy(v) for k, v in keywords.items()})
        assert ours.dtype == np.float32
        assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


def test_bce_weight_takes_the_inputs_dtype(torch: Any) -> None:
    x, y, w = RNG.uniform(0.05, 0.95, (4, 3)).astype(np.float32), RNG.random((4, 3)).astype(np.float32), RNG.random(3)
    leaf = mg.tensor(x, requires_grad=True)
    peer = torch.tensor(x, requires_grad=True)
    ours = F.binary_cross_entropy(leaf, mg.tensor(y), weight=mg.tensor(w))
    theirs = torch.nn.functional.binary_cross_entropy(peer, torch.from_numpy(y), weight=torch.from_numpy(w))
    assert ours.dtype == np.float32
    assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    ours.backward()
    theirs.backward()
    assert leaf.grad.dtype == np.float32
    assert_close(leaf.grad, peer.grad, rtol=1e-5, atol=1e-6)


def test_bce_loss_modules_with_a_float64_weight_buffer_stay_float32(torch: Any) -> None:
    x, y, w = normal(4, 3).astype(np.float32), RNG.random((4, 3)).astype(np.float32), RNG.random(3)
    ours = nn.BCEWithLogitsLoss(mg.tensor(w), pos_weight=mg.tensor(w))(mg.tensor(x), mg.tensor(y))
    theirs = torch.nn.BCEWithLogitsLoss(torch.from_numpy(w), pos_weight=torch.from_numpy(w))(
        torch.from_numpy(x), torch.from_numpy(y))
    assert ours.dtype == np.float32
    assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


def test_bce_with_logits_weight_gradients_keep_the_weights_dtype() -> None:
    """Weights that require grad (PyTorch refuses them; minigrad differentiates) get gradients of their dtype."""
    w = mg.tensor(RNG.random(3) + 0.5, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(mg.tensor(normal(4, 3).astype(np.float32)),
                                              mg.tensor(RNG.random((4, 3)).astype(np.float32)), weight=w,
                                              pos_weight=w)
    loss.backward()
    assert w.grad.dtype == np.float64 and w.grad.shape == (3,)


# --- triplet_margin_with_distance_loss and its module ------------------------------------------------------------

def _cosine_distance(lib: Any) -> Any:
    return lambda u, v: 1 - lib_f(lib).cosine_similarity(u, v, dim=-1)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("options", [{}, {"swap": True, "margin": 0.5}, {"distance": True},
                                     {"distance": True, "swap": True}])
@pytest.mark.parametrize("shape", [(5, 3), (3,)])
def test_triplet_margin_with_distance_loss_as_pytorch(torch: Any, reduction: str, options: dict,
                                                      shape: tuple) -> None:
    """F.triplet_margin_with_distance_loss was missing."""
    keywords = dict(options)

    def fn(lib: Any, a: Any, p: Any, n: Any) -> Any:
        extra = dict(keywords)
        if extra.pop("distance", False):
            extra["distance_function"] = _cosine_distance(lib)
        return lib_f(lib).triplet_margin_with_distance_loss(a, p, n, reduction=reduction, **extra)

    check_both_dtypes(torch, fn, normal(*shape), normal(*shape), normal(*shape))


def test_triplet_margin_with_distance_loss_module_as_pytorch(torch: Any) -> None:
    assert repr(TripletMarginWithDistanceLoss()) == repr(torch.nn.TripletMarginWithDistanceLoss())
    assert TripletMarginWithDistanceLoss().state_dict() == {}

    def fn(lib: Any, a: Any, p: Any, n: Any) -> Any:
        module = TripletMarginWithDistanceLoss if lib is mg else lib.nn.TripletMarginWithDistanceLoss
        return module(distance_function=_cosine_distance(lib), margin=2.0, swap=True, reduction="none")(a, p, n)

    check_both_dtypes(torch, fn, normal(4, 3), normal(4, 3), normal(4, 3))
    same_as_torch(torch, lambda lib, a, p, n: (TripletMarginWithDistanceLoss if lib is mg
                                               else lib.nn.TripletMarginWithDistanceLoss)()(a, p, n),
                  normal(4, 3), normal(4, 3), normal(4, 3))


def test_triplet_margin_with_distance_loss_errors_name_it() -> None:
    a = mg.randn(4, 3)
    with pytest.raises(ValueError, match="triplet_margin_with_distance_loss: margin must be greater than 0"):
        F.triplet_margin_with_distance_loss(a, a, a, margin=0.0)
    with pytest.raises(ValueError, match=r"triplet_margin_with_distance_loss: .* anchor: \(4, 3\), positive: \(3,\)"):
        F.triplet_margin_with_distance_loss(a, mg.randn(3), a)
    with pytest.raises(ValueError, match="triplet_margin_with_distance_loss: reduction must be"):
        F.triplet_margin_with_distance_loss(a, a, a, reduction="avg")
    with pytest.raises(TypeError, match="distance_function must be callable"):
        F.triplet_margin_with_distance_loss(a, a, a, distance_function=2)
    with pytest.raises(ValueError, match="TripletMarginWithDistanceLoss: margin must be greater than 0"):
        TripletMarginWithDistanceLoss(margin=-1.0)
    with pytest.raises(TypeError):
        TripletMarginWithDistanceLoss(None)   # keyword-only, as PyTorch's


# --- channel dropouts (were missing) ----------------------------------------------------------------------------

@pytest.mark.parametrize("name,shape", [("dropout2d", (2, 3, 4, 4)), ("dropout3d", (2, 3, 2, 2, 2)),
                                        ("dropout3d", (3, 2, 2, 2)), ("feature_alpha_dropout", (2, 3, 4)),
                                        ("feature_alpha_dropout", (2, 3, 2, 2))])
def test_channel_dropouts_are_the_identity_in_eval_as_pytorch(torch: Any, name: str, shape: tuple) -> None:
    check_both_dtypes(torch, lambda lib, x: getattr(lib_f(lib), name)(x, 0.5, False), normal(*shape))
    check_both_dtypes(torch, lambda lib, x: getattr(lib_f(lib), name)(x, 0.0, True), normal(*shape))


@pytest.mark.parametrize("name,shape,channels", [("dropout2d", (4, 10, 3, 3), 40), ("dropout3d", (4, 10, 2, 2, 2), 40),
                                                 ("dropout3d", (40, 2, 2, 2), 40)])
def test_channel_dropout_zeroes_whole_channels_and_scales_the_rest(name: str, shape: tuple, channels: int) -> None:
    mg.manual_seed(4)
    x = mg.tensor(np.ones(shape, dtype=np.float32), requires_grad=True)
    y = getattr(F, name)(x, 0.5)
    assert y.dtype == np.float32 and y.shape == shape
    per_channel = y.numpy().reshape(channels, -1)
    assert (per_channel == per_channel[:, :1]).all()                  # one draw per (sample, channel)
    assert set(np.unique(per_channel)) == {0.0, 2.0}                   # kept ones scaled by 1/(1 - p)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.numpy())


def test_feature_alpha_dropout_keeps_pytorchs_two_values_per_channel(torch: Any) -> None:
    mg.manual_seed(1)
    y = F.feature_alpha_dropout(mg.ones(40, 50, 3, dtype=mg.float64), 0.5, True).numpy()
    peer = torch.nn.functional.feature_alpha_dropout(torch.ones(40, 50, 3, dtype=torch.float64), 0.5, True).numpy()
    assert (y == y[..., :1]).all()
    np.testing.assert_allclose(np.unique(y), np.unique(peer), rtol=1e-12)


@pytest.mark.parametrize("name", ["dropout2d", "dropout3d", "feature_alpha_dropout"])
def test_channel_dropouts_check_as_pytorch(torch: Any, name: str) -> None:
    fn = getattr(F, name)
    with pytest.raises(ValueError, match=f"{name}: dropout probability has to be between 0 and 1"):
        fn(mg.ones(2, 3, 4, 4), 1.5, True)
    np.testing.assert_array_equal(fn(mg.ones(2, 3, 2, 2), 1.0, True).numpy(), np.zeros((2, 3, 2, 2)))
    if name != "dropout3d":   # dropout3d makes a lone sample of any rank
        with pytest.raises(ValueError, match=rf"{name}: feature dropout requires at least 2 dimensions .* \(3,\)"), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")   # dropout2d's warning about the rank, as PyTorch's
            fn(mg.ones(3), 0.5, True)


def test_dropout2d_warns_as_pytorch_about_3d_input() -> None:
    with pytest.warns(UserWarning, match=r"dropout2d: Received a 3D input .* \(N, C, L\)"):
        F.dropout2d(mg.ones(2, 3, 4), 0.5, False)
    with pytest.warns(UserWarning, match="dropout2d: Received a 2-D input to dropout2d, which is deprecated"):
        F.dropout2d(mg.ones(2, 3), 0.5, False)
    with pytest.warns(UserWarning, match="dropout3d: Received a 3-D input to dropout3d, which is deprecated"):
        F.dropout3d(mg.ones(2, 3, 4), 0.5, False)


# --- rrelu / RReLU (were missing) -------------------------------------------------------------------------------

@pytest.mark.parametrize("bounds", [(), (0.1, 0.5), (0.2, 0.2)])
def test_rrelu_in_eval_as_pytorch(torch: Any, bounds: tuple) -> None:
    check_both_dtypes(torch, lambda lib, x: lib_f(lib).rrelu(x, *bounds), normal(3, 4))
    same_as_torch(torch, lambda lib, x: lib_f(lib).rrelu(x, *bounds), np.array([0.0, -1.0, 2.0]), gradcheck=False)


def test_rrelu_in_training_draws_one_slope_per_element_as_its_gradient() -> None:
    mg.manual_seed(2)
    x = mg.tensor(-np.abs(normal(200)) - 0.1, requires_grad=True)
    y = F.rrelu(x, 0.1, 0.4, training=True)
    slopes = y.numpy() / x.numpy()
    assert 0.1 <= slopes.min() and slopes.max() <= 0.4 and len(np.unique(slopes)) > 100
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), slopes, rtol=1e-12)
    np.testing.assert_array_equal(F.rrelu(mg.tensor([3.0]), training=True).numpy(), [3.0])


def test_rrelu_checks_and_module_as_pytorch(torch: Any) -> None:
    from nn.activation import RReLU

    with pytest.raises(ValueError, match="rrelu: lower bound 0.5 should be less than or equal to the upper bound 0.1"):
        F.rrelu(mg.randn(3), 0.5, 0.1)
    with pytest.raises(TypeError, match="rrelu: input must be floating point"):
        F.rrelu(mg.tensor([1, -2]))
    for args in [(), (0.1, 0.3, True)]:
        assert repr(RReLU(*args)) == repr(torch.nn.RReLU(*args))
    module = RReLU(0.1, 0.3).eval()
    x = normal(3, 4)
    assert_close(module(mg.tensor(x)), torch.nn.RReLU(0.1, 0.3).eval()(torch.from_numpy(x)))


# --- gelu refuses integers with either approximation; Hardtanh's deprecated spellings ------------------------------

@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_refuses_integers_either_way_as_pytorch(torch: Any, approximate: str) -> None:
    with pytest.raises(NotImplementedError):
        torch.nn.functional.gelu(torch.tensor([1, -2]), approximate=approximate)
    with pytest.raises(TypeError, match=r"gelu: input must be floating point, got int64 \(shape \(2,\)\)"):
        F.gelu(mg.tensor([1, -2]), approximate=approximate)
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh'"):
        F.gelu(mg.tensor([1, -2]), approximate="erf")


@pytest.mark.parametrize("args,kwargs", [((), {"min_value": -2.0}), ((), {"max_value": 3.0}),
                                         ((-1.0, 1.0, False, -3.0, 4.0), {})])
def test_hardtanh_takes_pytorchs_deprecated_min_value_max_value(torch: Any, args: tuple, kwargs: dict) -> None:
    with pytest.warns(FutureWarning, match="deprecated and renamed"):
        module = nn.Hardtanh(*args, **kwargs)
    with pytest.warns(FutureWarning):
        peer = torch.nn.Hardtanh(*args, **kwargs)
    assert repr(module) == repr(peer)
    x = normal(5) * 4
    assert_close(module(mg.tensor(x)), peer(torch.from_numpy(x)))


# --- a (1,) class target for a (C,) input; errors that name the loss ----------------------------------------------

@pytest.mark.parametrize("name", ["nll_loss", "cross_entropy"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_a_one_element_target_for_an_unbatched_input_as_pytorch(torch: Any, name: str, reduction: str) -> None:
    """PyTorch takes a (1,) target for a (C,) input (as a 0-d one); minigrad refused it. (PyTorch's own backward
    fails on it, so only the forward is compared; the gradient is the 0-d target's.)"""
    x = normal(4)
    ours = getattr(F, name)(mg.tensor(x, requires_grad=True), mg.tensor(np.array([1])), reduction=reduction)
    theirs = getattr(torch.nn.functional, name)(torch.from_numpy(x), torch.tensor([1]), reduction=reduction)
    assert_close(ours, theirs)
    gradcheck_case(lambda lib, v: getattr(lib_f(lib), name)(v, lib.tensor(np.array([1])), reduction=reduction), [x])
    with pytest.raises(ValueError, match=rf"{name}: target of shape \(2,\) does not fit input of shape \(4,\)"):
        getattr(F, name)(mg.tensor(x), mg.tensor(np.array([1, 2])))


@pytest.mark.parametrize("call,message", [
    (lambda: F.mse_loss(mg.randn(3, 4), mg.randn(3, 5)), r"mse_loss: shapes \(3, 4\) and \(3, 5\) do not broadcast"),
    (lambda: F.l1_loss(mg.randn(3, 4), mg.randn(3, 5)), r"l1_loss: shapes \(3, 4\) and \(3, 5\)"),
    (lambda: F.huber_loss(mg.randn(3, 4), mg.randn(3, 5)), r"huber_loss: shapes \(3, 4\) and \(3, 5\)"),
    (lambda: F.smooth_l1_loss(mg.randn(3, 4), mg.randn(3, 5)), r"smooth_l1_loss: shapes \(3, 4\) and \(3, 5\)"),
    (lambda: F.kl_div(mg.randn(3, 4), mg.rand(3, 5), reduction="sum"), r"kl_div: shapes \(3, 4\) and \(3, 5\)"),
    (lambda: F.binary_cross_entropy_with_logits(mg.randn(3, 4), mg.rand(3, 4), weight=mg.rand(3)),
     r"binary_cross_entropy_with_logits: weight of shape \(3,\) does not broadcast against the input of shape"),
    (lambda: F.binary_cross_entropy_with_logits(mg.randn(3, 4), mg.rand(3, 4), pos_weight=mg.rand(3)),
     r"binary_cross_entropy_with_logits: pos_weight of shape \(3,\) does not broadcast"),
    (lambda: F.cosine_embedding_loss(mg.randn(3, 4), mg.randn(3, 4), mg.ones(4)),
     r"cosine_embedding_loss: target of shape \(4,\) does not fit inputs of shapes \(3, 4\) and \(3, 4\)"),
])
def test_shape_errors_name_the_loss_and_the_shapes(torch: Any, call: Any, message: str) -> None:
    """These raised the inner op's error (``sub:``, ``mul:``, ``where:``) instead of the loss's."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=message):
            call()
