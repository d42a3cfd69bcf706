"""nn.functional against PyTorch: values and input gradients in float64 (rel. < 1e-10)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, check_against_torch, to_torch

import minigrad as mg
import nn
from nn import functional as F

RNG = np.random.default_rng(1234)


def leaf(*shape: int, scale: float = 1.0) -> mg.Tensor:
    return mg.tensor(RNG.standard_normal(shape) * scale, requires_grad=True)


def targets(shape: tuple, classes: int, ignore: int | None = None) -> np.ndarray:
    t = RNG.integers(0, classes, shape)
    if ignore is not None:
        t.reshape(-1)[::3] = ignore
    return t


def test_submodule_spellings_are_one_module() -> None:
    from minigrad import nn as nn2

    assert nn.functional is F and nn2.functional is F
    assert nn.init.xavier_uniform_ and nn.optim.SGD and nn.utils.clip_grad_norm_


# --- cross_entropy ------------------------------------------------------------

LAYOUTS = [((6, 5), (6,)), ((4, 5, 7), (4, 7)), ((2, 5, 3, 4), (2, 3, 4)), ((5,), ())]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape,tshape", LAYOUTS)
def test_cross_entropy_matches_torch(torch, shape, tshape, reduction) -> None:
    x = leaf(*shape)
    t = targets(tshape, 5, ignore=-100 if tshape else None)
    check_against_torch(torch, lambda a: F.cross_entropy(a, t, reduction=reduction),
                        lambda a: torch.nn.functional.cross_entropy(a, torch.from_numpy(t), reduction=reduction), [x])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape,tshape", [((6, 5), (6,)), ((3, 5, 4), (3, 4))])
def test_cross_entropy_weight_smoothing_ignore(torch, shape, tshape, reduction) -> None:
    x = leaf(*shape)
    t = targets(tshape, 5, ignore=2)
    w = RNG.random(5) + 0.1
    kwargs = dict(ignore_index=2, reduction=reduction, label_smoothing=0.15)
    check_against_torch(torch, lambda a: F.cross_entropy(a, t, weight=w, **kwargs),
                        lambda a: torch.nn.functional.cross_entropy(a, torch.from_numpy(t), weight=torch.from_numpy(w),
                                                                    **kwargs), [x])
    check_against_torch(torch, lambda a: F.cross_entropy(a, t, **kwargs),
                        lambda a: torch.nn.functional.cross_entropy(a, torch.from_numpy(t), **kwargs), [leaf(*shape)])


def test_cross_entropy_huge_logits_stay_finite(torch) -> None:
    x = leaf(8, 6, scale=1000.0)
    t = targets((8,), 6)
    loss = F.cross_entropy(x, t)
    assert np.isfinite(loss.item()) and loss.item() > 10  # confidently wrong somewhere: a large, finite loss
    check_against_torch(torch, lambda a: F.cross_entropy(a, t, label_smoothing=0.1),
                        lambda a: torch.nn.functional.cross_entropy(a, torch.from_numpy(t), label_smoothing=0.1),
                        [leaf(8, 6, scale=1000.0)])


def test_cross_entropy_float32_and_tensor_targets(torch) -> None:
    x = mg.tensor(RNG.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    t = mg.tensor(np.array([0, 2, 1, 2]))
    loss = F.cross_entropy(x, t)
    assert loss.dtype == np.float32
    expected = torch.nn.functional.cross_entropy(to_torch(torch, x), torch.tensor([0, 2, 1, 2]))
    assert_close(loss, expected, rtol=1e-6, atol=1e-7)
    loss.backward()
    assert x.grad.dtype == np.float32


def test_cross_entropy_all_ignored_is_nan_like_torch(torch) -> None:
    x = leaf(3, 4)
    t = np.full(3, -100)
    with np.errstate(invalid="ignore"):
        ours = F.cross_entropy(x, t).item()
    theirs = torch.nn.functional.cross_entropy(to_torch(torch, x), torch.from_numpy(t)).item()
    assert np.isnan(ours) and np.isnan(theirs)


def test_cross_entropy_is_gradchecked() -> None:
    t = np.array([[1, 0, 2], [2, 2, -100]])
    assert mg.gradcheck(lambda a: F.cross_entropy(a, t, label_smoothing=0.2), [leaf(2, 3, 3)])


def test_cross_entropy_bad_targets_are_named() -> None:
    x = leaf(4, 3)
    with pytest.raises(TypeError, match=r"cross_entropy: target \(class indices for C=3 classes\) must be integers, "
                                        r"got dtype float64"):
        F.cross_entropy(x, np.array([0.0, 1.0, 2.0, 1.0]))
    with pytest.raises(IndexError, match=r"cross_entropy: target 3 is out of range for C=3.*\[0, 3\]"):
        F.cross_entropy(x, np.array([0, 1, 3, 1]))
    with pytest.raises(ValueError, match=r"cross_entropy: target -1 is out of range for C=3"):
        F.cross_entropy(x, np.array([0, -1, 2, 1]))
    with pytest.raises(ValueError, match=r"cross_entropy: target of shape \(3,\) does not fit input of shape \(4, 3\)"):
        F.cross_entropy(x, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, np.array([0, 1, 2, 1]), reduction="avg")


# --- other losses -------------------------------------------------------------

@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss_matches_torch(torch, reduction) -> None:
    t = targets((4, 6), 5, ignore=-100)
    w = RNG.random(5)
    check_against_torch(torch, lambda a: F.nll_loss(mg.log_softmax(a, axis=1), t, weight=w, reduction=reduction),
                        lambda a: torch.nn.functional.nll_loss(torch.log_softmax(a, 1), torch.from_numpy(t),
                                                               weight=torch.from_numpy(w), reduction=reduction),
                        [leaf(4, 5, 6)])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_losses_match_torch(torch, reduction) -> None:
    y = RNG.standard_normal((5, 3))
    for ours, theirs in [(F.mse_loss, torch.nn.functional.mse_loss), (F.l1_loss, torch.nn.functional.l1_loss)]:
        check_against_torch(torch, lambda a, ours=ours: ours(a, y, reduction=reduction),
                            lambda a, theirs=theirs: theirs(a, torch.from_numpy(y), reduction=reduction), [leaf(5, 3)])
    # a Tensor target that requires grad gets its gradient too
    check_against_torch(torch, lambda a, b: F.mse_loss(a, b, reduction=reduction),
                        lambda a, b: torch.nn.functional.mse_loss(a, b, reduction=reduction), [leaf(5, 3), leaf(5, 3)])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_matches_torch(torch, reduction) -> None:
    x = RNG.standard_normal((6, 4)) * 30
    x[0, :2] = 0.0  # the kink of max(-x, 0): the gradient must still be sigmoid(x) - y
    x[1, 0] = 800.0
    x[1, 1] = -800.0
    y = RNG.random((6, 4))
    w = RNG.random((6, 4))
    pos = RNG.random(4) + 0.5
    fns = [
        (lambda a: F.binary_cross_entropy_with_logits(a, y, reduction=reduction),
         lambda a: torch.nn.functional.binary_cross_entropy_with_logits(a, torch.from_numpy(y), reduction=reduction)),
        (lambda a: F.binary_cross_entropy_with_logits(a, y, weight=w, pos_weight=pos, reduction=reduction),
         lambda a: torch.nn.functional.binary_cross_entropy_with_logits(
             a, torch.from_numpy(y), weight=torch.from_numpy(w), pos_weight=torch.from_numpy(pos),
             reduction=reduction)),
    ]
    for ours, theirs in fns:
        check_against_torch(torch, ours, theirs, [mg.tensor(x, requires_grad=True)])


def test_losses_are_gradchecked() -> None:
    y = RNG.random((3, 4))
    assert mg.gradcheck(lambda a: F.binary_cross_entropy_with_logits(a, y, pos_weight=np.full(4, 2.0)), [leaf(3, 4)])
    assert mg.gradcheck(lambda a: F.mse_loss(a, y), [leaf(3, 4)])


# --- layers as functions ------------------------------------------------------

def test_linear_matches_torch(torch) -> None:
    check_against_torch(torch, F.linear, torch.nn.functional.linear, [leaf(2, 3, 4), leaf(5, 4), leaf(5)])
    check_against_torch(torch, F.linear, torch.nn.functional.linear, [leaf(4), leaf(5, 4)])
    with pytest.raises(ValueError, match=r"linear: input of shape \(2, 3\) does not match weight of shape \(5, 4\)"):
        F.linear(leaf(2, 3), leaf(5, 4))


def test_embedding_matches_torch_with_repeats_and_padding(torch) -> None:
    idx = np.array([[1, 3, 3, 0], [0, 4, 1, 1]])
    for padding in (None, 1):
        w = leaf(6, 3)
        check_against_torch(torch, lambda a, padding=padding: F.embedding(idx, a, padding_idx=padding),
                            lambda a, padding=padding: torch.nn.functional.embedding(torch.from_numpy(idx), a,
                                                                                     padding_idx=padding),
                            [w])
        if padding is not None:
            assert np.all(w.grad.numpy()[padding] == 0)
    assert mg.gradcheck(lambda a: F.embedding(mg.tensor(idx), a), [leaf(5, 2)])


def test_embedding_bad_indices() -> None:
    w = leaf(4, 2)
    with pytest.raises(IndexError, match=r"embedding: index 4 is out of range for an embedding of 4 rows"):
        F.embedding(np.array([0, 4]), w)
    with pytest.raises(TypeError, match=r"embedding: indices must be integers, got dtype float64"):
        F.embedding(np.array([0.0, 1.0]), w)


def test_dropout_statistics_and_gradient() -> None:
    x = mg.ones(200, 500, dtype=mg.float64, requires_grad=True)
    y = F.dropout(x, p=0.3)
    values = y.numpy()
    kept = values != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(values[kept], 1 / 0.7)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), values)  # d(x * mask)/dx = mask
    assert F.dropout(x, p=0.3, training=False) is x
    assert F.dropout(x, p=0.0) is x
    assert np.all(F.dropout(x, p=1.0).numpy() == 0)
    with pytest.raises(ValueError, match=r"dropout: dropout probability has to be between 0 and 1, but got 1.5"):
        F.dropout(x, p=1.5)


def test_dropout_is_reproducible_with_manual_seed() -> None:
    x = mg.ones(50)
    mg.manual_seed(7)
    a = F.dropout(x, 0.5).numpy()
    mg.manual_seed(7)
    b = F.dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(a, b)


def test_softmax_spellings(torch) -> None:
    x = leaf(3, 4, 5)
    check_against_torch(torch, lambda a: F.softmax(a, dim=1), lambda a: torch.softmax(a, 1), [x])
    check_against_torch(torch, lambda a: F.log_softmax(a, axis=0), lambda a: torch.log_softmax(a, 0), [leaf(3, 4)])
    check_against_torch(torch, F.log_softmax, lambda a: torch.log_softmax(a, -1), [leaf(3, 4)])


# --- one_hot, pad, embedding -------------------------------------------------------

@pytest.mark.parametrize("shape", [(5,), (2, 3), ()])
@pytest.mark.parametrize("num_classes", [-1, 7])
def test_one_hot_matches_torch(torch, shape: tuple, num_classes: int) -> None:
    index = RNG.integers(0, 5, shape)
    if num_classes == -1:
        index.reshape(-1)[0] = 4   # so both infer 5 classes
    mine = F.one_hot(mg.tensor(index), num_classes)
    expected = torch.nn.functional.one_hot(torch.from_numpy(index), num_classes)
    assert mine.dtype == mg.int64 and not mine.requires_grad
    np.testing.assert_array_equal(mine.numpy(), expected.numpy())


def test_one_hot_errors() -> None:
    with pytest.raises(F.TargetError, match="one_hot: class indices must be integers, got dtype float32"):
        F.one_hot(mg.tensor([0.0, 1.0]))
    with pytest.raises(F.TargetError, match=r"one_hot: class index 3 is out of range for num_classes=3"):
        F.one_hot(mg.tensor([0, 3]), 3)
    with pytest.raises(F.TargetError, match="class index -1"):
        F.one_hot(mg.tensor([-1, 0]), 3)
    with pytest.raises(ValueError, match="cannot infer num_classes from an empty tensor"):
        F.one_hot(mg.tensor(np.zeros(0, dtype=np.int64)))
    assert F.one_hot(mg.tensor(np.zeros((0, 2), dtype=np.int64)), 4).shape == (0, 2, 4)


PADS = [((3, 4), (1, 2)), ((3, 4), (0, 0, 2, 1)), ((2, 3, 4), (1, 1, 1, 1, 1, 1)), ((3, 4), (-1, 2)),
        ((3, 5), (2, -3, -1, 1)), ((2, 3), ()), ((4,), (0, 3))]


@pytest.mark.parametrize("shape,amounts", PADS)
@pytest.mark.parametrize("value", [None, 0.5, -np.inf])
def test_constant_pad_matches_torch(torch, shape: tuple, amounts: tuple, value) -> None:
    x = leaf(*shape)
    kwargs = {} if value is None else {"value": value}
    check_against_torch(torch, lambda v: F.pad(v, amounts, **kwargs),
                        lambda v: torch.nn.functional.pad(v, amounts, **kwargs), [x])
    if value is None or np.isfinite(value):
        assert mg.gradcheck(lambda v: F.pad(v, amounts, "constant", value), [x.detach().requires_grad_()])


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,amounts", [((2, 3, 5), (2, 1)), ((1, 2, 4, 5), (1, 2, 3, 0)),
                                           ((2, 3, 4), (0, 3)), ((1, 1, 3, 3, 4), (1, 1, 2, 0, 1, 2))])
def test_other_pad_modes_match_torch(torch, mode: str, shape: tuple, amounts: tuple) -> None:
    if mode == "reflect" and max(amounts) >= min(shape[-len(amounts) // 2:]):
        pytest.skip("reflect needs padding smaller than the dim (PyTorch raises too)")
    x = leaf(*shape)
    check_against_torch(torch, lambda v: F.pad(v, amounts, mode=mode),
                        lambda v: torch.nn.functional.pad(v, amounts, mode=mode), [x])
    assert mg.gradcheck(lambda v: F.pad(v, amounts, mode=mode), [x.detach().requires_grad_()])


def test_pad_errors_name_the_problem() -> None:
    x = mg.randn(2, 3)
    with pytest.raises(ValueError, match="pad: padding length must be divisible by 2"):
        F.pad(x, (1, 2, 3))
    with pytest.raises(ValueError, match=r"pad: 6 amounts pad 3 dims but the input of shape \(2, 3\) has 2"):
        F.pad(x, (1,) * 6)
    with pytest.raises(ValueError, match="pad: mode must be one of"):
        F.pad(x, (1, 1), mode="wrap")
    with pytest.raises(ValueError, match=r"reflect padding \(3, 0\) of dim 1 .* must be < the dim size 3"):
        F.pad(x, (3, 0), mode="reflect")
    with pytest.raises(ValueError, match="would make its size 3 negative"):
        F.pad(x, (-2, -2))
    with pytest.raises(ValueError, match="does not take a value"):
        F.pad(x, (1, 1), mode="replicate", value=2.0)
    with pytest.raises(TypeError, match="pad must be a sequence of ints"):
        F.pad(x, (1.5, 1))


def test_functional_embedding_matches_torch(torch) -> None:
    weight = leaf(6, 3)
    index = np.array([[0, 2, 2], [5, 1, 0]])
    check_against_torch(torch, lambda w: F.embedding(mg.tensor(index), w),
                        lambda w: torch.nn.functional.embedding(torch.from_numpy(index), w), [weight])
    weight.grad = None
    check_against_torch(torch, lambda w: F.embedding(index, w, padding_idx=2),
                        lambda w: torch.nn.functional.embedding(torch.from_numpy(index), w, padding_idx=2), [weight])
    assert np.all(weight.grad.numpy()[2] == 0)
    assert mg.gradcheck(lambda w: F.embedding(index, w), [weight.detach().requires_grad_()])   # padding_idx blocks it


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_with_negative_amounts_crops_as_pytorch(mode: str) -> None:
    """A negative amount crops: reflect/replicate index the original input (then crop), circular crops first."""
    torch = pytest.importorskip("torch", reason="the reference is PyTorch")
    x = np.random.default_rng(0).standard_normal((2, 3, 6))
    for pads in [(-1, 2), (2, -1), (-2, -1), (0, 0, -1, 1), (-2, 3), (3, -2, -1, 2), (3, -2), (5, -1)]:
        if mode == "reflect" and max(pads) >= 6:
            continue
        ours_in, theirs_in = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ours, theirs = F.pad(ours_in, pads, mode=mode), torch.nn.functional.pad(theirs_in, pads, mode=mode)
        np.testing.assert_array_equal(ours.numpy(), theirs.detach().numpy(), err_msg=str(pads))
        weights = np.random.default_rng(1).standard_normal(tuple(theirs.shape))
        (ours * mg.tensor(weights)).sum().backward()
        (theirs * torch.tensor(weights)).sum().backward()
        np.testing.assert_allclose(ours_in.grad.numpy(), theirs_in.grad.numpy(), rtol=1e-12, err_msg=str(pads))
    if mode in ("reflect", "replicate"):
        with pytest.raises(ValueError, match="leaves nothing of the input"):
            F.pad(mg.tensor(x), (-3, -3), mode=mode)
