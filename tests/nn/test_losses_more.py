"""BCE, smooth L1, Huber and KL losses, normalize and the two distances, against PyTorch in float64.

Values and gradients at the edges where PyTorch's backward has its own rules: probabilities of exactly
0 and 1 (BCE), |input - target| exactly at β or δ, zero targets (KL), vectors shorter than ``eps``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import check_against_torch, to_torch

import minigrad as mg
import nn
from nn import functional as F

RNG = np.random.default_rng(13)
REDUCTIONS = ["mean", "sum", "none"]


def leaf(values: np.ndarray) -> mg.Tensor:
    return mg.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def quiet(fn, *args, **kwargs):
    """Call ``fn`` with warnings off (PyTorch's kl_div warns about reduction='mean')."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# --- binary_cross_entropy ----------------------------------------------------------------------

def probabilities_with_edges() -> tuple:
    """(input, target) of shape (4, 6): random probabilities, and exactly 0 and 1, tiny and nearly 1."""
    x = RNG.uniform(0.02, 0.98, (4, 6))
    y = RNG.uniform(0, 1, (4, 6))
    x[0] = [0.0, 1.0, 0.0, 1.0, 1e-20, 1 - 1e-16]
    y[0] = [0.0, 1.0, 1.0, 0.0, 0.5, 0.5]
    x[1, :3], y[1, :3] = [1e-50, 0.3, 1e-13], [1.0, 0.3, 0.0]
    return x, y


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight_shape", [None, (4, 6), (6,), (4, 1)])
def test_binary_cross_entropy_matches_torch_at_0_and_1(torch, reduction: str, weight_shape: tuple | None) -> None:
    x, y = probabilities_with_edges()
    weight = None if weight_shape is None else RNG.uniform(0.5, 2.0, weight_shape)
    tw = None if weight is None else torch.from_numpy(weight)
    check_against_torch(torch, lambda v: F.binary_cross_entropy(v, mg.tensor(y), weight, reduction=reduction),
                        lambda v: torch.nn.functional.binary_cross_entropy(v, torch.from_numpy(y), tw,
                                                                           reduction=reduction), [leaf(x)])
    loss = nn.BCELoss(weight, reduction=reduction)(leaf(x), y)
    np.testing.assert_allclose(loss.numpy(), torch.nn.BCELoss(tw, reduction=reduction)(
        torch.from_numpy(x), torch.from_numpy(y)).numpy(), rtol=1e-12)


def test_binary_cross_entropy_edges_spelled_out() -> None:
    x = leaf([0.0, 1.0, 0.0, 1.0])
    loss = F.binary_cross_entropy(x, mg.tensor([0.0, 1.0, 1.0, 0.0], dtype=mg.float64), reduction="none")
    loss.sum().backward()
    np.testing.assert_array_equal(loss.numpy(), [0.0, 0.0, 100.0, 100.0])   # each log clamped to >= -100
    # (x - y) / max(x(1 - x), 1e-12), with PyTorch's 1e-12 a C float
    floor = float(np.float32(1e-12))
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, -1 / floor, 1 / floor])


def test_binary_cross_entropy_target_gradient(torch) -> None:
    # PyTorch's target gradient is -logit(x); away from 0 and 1 that is the clamped logs' own derivative
    x, y = RNG.uniform(0.05, 0.95, (3, 4)), RNG.uniform(0, 1, (3, 4))
    check_against_torch(torch, F.binary_cross_entropy, torch.nn.functional.binary_cross_entropy, [leaf(x), leaf(y)])


def test_binary_cross_entropy_gradcheck_and_float32() -> None:
    x, y = RNG.uniform(0.05, 0.95, (3, 4)), RNG.uniform(0, 1, (3, 4))
    weight = mg.tensor(RNG.uniform(0.5, 2.0, 4))
    assert mg.gradcheck(lambda a, b: F.binary_cross_entropy(a, b, weight), [leaf(x), leaf(y)])
    x32 = mg.tensor(x.astype(np.float32), requires_grad=True)
    loss = F.binary_cross_entropy(x32, y.astype(np.float32), reduction="none")
    loss.sum().backward()
    assert loss.dtype == x32.grad.dtype == mg.float32
    assert F.binary_cross_entropy(x32, y.astype(np.float32)).dtype == mg.float32


def test_binary_cross_entropy_after_sigmoid_in_compile_replays_new_values(torch) -> None:
    step = mg.compile(lambda logits, target: F.binary_cross_entropy(logits.sigmoid(), target))
    for _ in range(3):
        z, y = RNG.standard_normal((4, 3)) * 3, RNG.uniform(0, 1, (4, 3))
        x = leaf(z)
        step(x, mg.tensor(y)).backward()
        tx = to_torch(torch, z, requires_grad=True)
        expected = torch.nn.functional.binary_cross_entropy(tx.sigmoid(), torch.from_numpy(y))
        expected.backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10)


def test_binary_cross_entropy_refuses_bad_arguments() -> None:
    x = mg.tensor([0.2, 0.7])
    with pytest.raises(ValueError, match="binary_cross_entropy: all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(mg.tensor([1.5, 0.5]), [1.0, 0.0])
    with pytest.raises(ValueError, match="binary_cross_entropy: all elements of input"):
        F.binary_cross_entropy(mg.tensor([np.nan, 0.5]), [1.0, 0.0])
    with pytest.raises(ValueError, match="binary_cross_entropy: all elements of target should be between 0 and 1"):
        F.binary_cross_entropy(x, [2.0, 0.0])
    with pytest.raises(ValueError, match=r"binary_cross_entropy: target shape \(3,\) must equal input shape \(2,\)"):
        F.binary_cross_entropy(x, [1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match=r"binary_cross_entropy: weight of shape \(2, 2\) does not broadcast"):
        F.binary_cross_entropy(x, [1.0, 0.0], mg.ones((2, 2)))
    with pytest.raises(ValueError, match="binary_cross_entropy: shapes"):
        F.binary_cross_entropy(x, [1.0, 0.0], mg.ones(3))
    with pytest.raises(ValueError, match="binary_cross_entropy: reduction must be"):
        F.binary_cross_entropy(x, [1.0, 0.0], reduction="avg")
    with pytest.raises(TypeError, match="binary_cross_entropy: input must be floating point"):
        F.binary_cross_entropy(mg.tensor([0, 1]), [1.0, 0.0])


# --- smooth_l1_loss and huber_loss ---------------------------------------------------------------

def differences_at(points: list) -> tuple:
    """(input, target) of shape (3, 5) whose differences include each of ``points`` exactly."""
    target = RNG.standard_normal((3, 5))
    difference = RNG.standard_normal((3, 5)) * 2
    difference.reshape(-1)[:len(points)] = points
    return target + difference, target, difference


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [1.0, 0.5, 2.0, 0.0])
def test_smooth_l1_loss_matches_torch_at_beta(torch, reduction: str, beta: float) -> None:
    points = [beta, -beta, 0.0, 2 * beta + 0.25, -3.0]
    _, target, difference = differences_at(points)
    # input - target is exactly ``difference`` when target = 0; a second case with a non-zero target
    for x, y in [(difference, np.zeros_like(difference)), (target + difference, target)]:
        check_against_torch(torch, lambda a, b: F.smooth_l1_loss(a, b, reduction=reduction, beta=beta),
                            lambda a, b: torch.nn.functional.smooth_l1_loss(a, b, reduction=reduction, beta=beta),
                            [leaf(x), leaf(y)])
    check_against_torch(torch, nn.SmoothL1Loss(reduction=reduction, beta=beta),
                        torch.nn.SmoothL1Loss(reduction=reduction, beta=beta), [leaf(difference), leaf(target)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [1.0, 0.5, 3.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_huber_loss_matches_torch_at_delta(torch, reduction: str, delta: float, weighted: bool) -> None:
    points = [delta, -delta, 0.0, delta + 0.25, -4.0]
    _, target, difference = differences_at(points)
    weight = RNG.uniform(0.5, 2.0, difference.shape) if weighted else None
    tw = None if weight is None else torch.from_numpy(weight)
    check_against_torch(torch, lambda a, b: F.huber_loss(a, b, reduction, delta, weight),
                        lambda a, b: torch.nn.functional.huber_loss(a, b, reduction, delta, tw),
                        [leaf(difference), leaf(np.zeros_like(difference))])
    check_against_torch(torch, nn.HuberLoss(reduction, delta), torch.nn.HuberLoss(reduction, delta),
                        [leaf(target + difference), leaf(target)])


def test_smooth_l1_and_huber_gradients_at_the_switch_spelled_out() -> None:
    x = leaf([-2.0, -1.0, 0.0, 0.5, 1.0, 2.0])
    F.smooth_l1_loss(x, mg.zeros(6, dtype=mg.float64), reduction="sum", beta=1.0).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [-1.0, -1.0, 0.0, 0.5, 1.0, 1.0])
    x.grad = None
    F.huber_loss(x, mg.zeros(6, dtype=mg.float64), reduction="sum", delta=0.5).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [-0.5, -0.5, 0.0, 0.5, 0.5, 0.5])


def test_smooth_l1_and_huber_gradcheck_float32_and_broadcast_warning(torch) -> None:
    target, difference = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4)) * 2
    difference[np.abs(np.abs(difference) - 0.7) < 0.01] += 0.05   # finite differences away from the switch
    x = target + difference
    assert mg.gradcheck(lambda a, b: F.smooth_l1_loss(a, b, beta=0.7), [leaf(x), leaf(target)])
    assert mg.gradcheck(lambda a, b: F.huber_loss(a, b, delta=0.7), [leaf(x), leaf(target)])
    x32, y32 = mg.tensor(x.astype(np.float32)), mg.tensor(target.astype(np.float32))
    for reduction in REDUCTIONS:
        assert F.smooth_l1_loss(x32, y32, reduction=reduction).dtype == mg.float32
        assert F.huber_loss(x32, y32, reduction=reduction).dtype == mg.float32
    row = leaf(target[0])
    with pytest.warns(UserWarning, match=r"smooth_l1_loss: target of shape \(4,\) differs from input"):
        mine = F.smooth_l1_loss(leaf(x), row, reduction="none")
    with pytest.warns(UserWarning):
        peer = torch.nn.functional.smooth_l1_loss(torch.from_numpy(x), torch.from_numpy(target[0]), reduction="none")
    np.testing.assert_allclose(mine.numpy(), peer.numpy(), rtol=1e-12)
    with pytest.warns(UserWarning, match="huber_loss: target of shape"):
        F.huber_loss(leaf(x), row)


def test_smooth_l1_and_huber_refuse_bad_arguments() -> None:
    x, y = mg.randn(3), mg.randn(3)
    with pytest.raises(ValueError, match="smooth_l1_loss: beta must be non-negative, got -1.0"):
        F.smooth_l1_loss(x, y, beta=-1.0)
    with pytest.raises(ValueError, match="huber_loss: delta must be positive, got 0.0"):
        F.huber_loss(x, y, delta=0.0)
    with pytest.raises(ValueError, match=r"huber_loss: weight of shape \(1,\) must have the input's shape \(3,\)"):
        F.huber_loss(x, y, weight=mg.ones(1))
    with pytest.raises(ValueError, match="huber_loss: reduction must be"):
        F.huber_loss(x, y, reduction="batchmean")
    with pytest.raises(ValueError, match="SmoothL1Loss: beta must be non-negative"):
        nn.SmoothL1Loss(beta=-0.5)
    with pytest.raises(ValueError, match="HuberLoss: delta must be positive"):
        nn.HuberLoss(delta=-1.0)


# --- kl_div ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("shape", [(4, 5), (3, 4, 2), (6,)])
def test_kl_div_matches_torch(torch, reduction: str, shape: tuple) -> None:
    log_probs = np.log(RNG.dirichlet(np.ones(shape[-1]), size=shape[:-1]))
    target = RNG.dirichlet(np.ones(shape[-1]), size=shape[:-1])
    target.reshape(-1)[::4] = 0.0   # 0·log 0 = 0; the input's gradient there is 0
    check_against_torch(torch, lambda v: quiet(F.kl_div, v, mg.tensor(target), reduction=reduction),
                        lambda v: quiet(torch.nn.functional.kl_div, v, torch.from_numpy(target),
                                        reduction=reduction), [leaf(log_probs)])
    # the target's gradient too, on positive targets (at 0, PyTorch's is NaN: 0/0 in xlogy's)
    positive = RNG.dirichlet(np.ones(shape[-1]), size=shape[:-1])
    check_against_torch(torch, lambda v, t: quiet(F.kl_div, v, t, reduction=reduction),
                        lambda v, t: quiet(torch.nn.functional.kl_div, v, t, reduction=reduction),
                        [leaf(log_probs), leaf(positive)])
    check_against_torch(torch, lambda v, t: quiet(nn.KLDivLoss(reduction=reduction), v, t),
                        lambda v, t: quiet(torch.nn.KLDivLoss(reduction=reduction), v, t),
                        [leaf(log_probs), leaf(positive)])


@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
def test_kl_div_with_log_target_matches_torch(torch, reduction: str) -> None:
    log_probs = np.log(RNG.dirichlet(np.ones(5), size=4))
    log_target = np.log(RNG.dirichlet(np.ones(5), size=4))
    log_target[0, 0] = -np.inf   # a zero probability, as a log
    check_against_torch(torch, lambda v: quiet(F.kl_div, v, mg.tensor(log_target), reduction=reduction,
                                               log_target=True),
                        lambda v: quiet(torch.nn.functional.kl_div, v, torch.from_numpy(log_target),
                                        reduction=reduction, log_target=True), [leaf(log_probs)])
    finite = np.log(RNG.dirichlet(np.ones(5), size=4))
    check_against_torch(torch, lambda v, t: quiet(nn.KLDivLoss(reduction=reduction, log_target=True), v, t),
                        lambda v, t: quiet(torch.nn.KLDivLoss(reduction=reduction, log_target=True), v, t),
                        [leaf(log_probs), leaf(finite)])


def test_kl_div_batchmean_of_a_0d_input_is_the_sum_and_mean_warns(torch) -> None:
    x, t = mg.tensor(-1.2, dtype=mg.float64), mg.tensor(0.4, dtype=mg.float64)
    expected = torch.nn.functional.kl_div(torch.tensor(-1.2, dtype=torch.float64), torch.tensor(0.4,
                                          dtype=torch.float64), reduction="batchmean")
    np.testing.assert_allclose(F.kl_div(x, t, reduction="batchmean").numpy(), expected.numpy(), rtol=1e-12)
    with pytest.warns(UserWarning, match="kl_div: reduction='mean' divides the total loss by both"):
        F.kl_div(x, t)
    with pytest.warns(UserWarning, match="reduction='mean'"):
        nn.KLDivLoss()(x, t)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.kl_div(x, t, reduction="batchmean")
        nn.KLDivLoss(reduction="sum")(x, t)


def test_kl_div_gradcheck_float32_and_errors() -> None:
    log_probs = np.log(RNG.dirichlet(np.ones(4), size=3))
    target = RNG.dirichlet(np.ones(4), size=3)
    for log_target in (False, True):
        t = np.log(target) if log_target else target
        assert mg.gradcheck(lambda a, b, log_target=log_target: F.kl_div(a, b, reduction="batchmean",
                                                                          log_target=log_target),
                            [leaf(log_probs), leaf(t)])
    x32, t32 = mg.tensor(log_probs.astype(np.float32)), mg.tensor(target.astype(np.float32))
    for reduction in REDUCTIONS + ["batchmean"]:
        assert quiet(F.kl_div, x32, t32, reduction=reduction).dtype == mg.float32
    assert np.isnan(F.kl_div(mg.zeros(2), mg.tensor([-0.5, np.nan]), reduction="none").numpy()).all()
    with pytest.raises(ValueError, match="kl_div: reduction must be 'mean', 'batchmean', 'sum' or 'none', got 'avg'"):
        F.kl_div(x32, t32, reduction="avg")
    with pytest.raises(TypeError, match="kl_div: target must be floating point"):
        F.kl_div(x32, mg.tensor([[1, 0, 0, 0]] * 3), reduction="sum")
    with pytest.raises(ValueError, match="KLDivLoss: reduction must be 'mean', 'batchmean', 'sum' or 'none'"):
        nn.KLDivLoss(reduction="avg")


def test_deprecated_size_average_and_reduce_as_in_torch(torch) -> None:
    x, y = RNG.uniform(0.1, 0.9, (3, 4)), RNG.uniform(0, 1, (3, 4))
    for size_average, reduce in [(None, False), (False, None), (True, True)]:
        for mine, peer in [(F.binary_cross_entropy, torch.nn.functional.binary_cross_entropy),
                           (F.smooth_l1_loss, torch.nn.functional.smooth_l1_loss),
                           (F.kl_div, torch.nn.functional.kl_div)]:
            with pytest.warns(UserWarning, match="deprecated"):
                value = mine(mg.tensor(x), mg.tensor(y), size_average=size_average, reduce=reduce)
            expected = quiet(peer, torch.from_numpy(x), torch.from_numpy(y), size_average=size_average, reduce=reduce)
            np.testing.assert_allclose(value.numpy(), expected.numpy(), rtol=1e-12)
        with pytest.warns(UserWarning, match="deprecated"):
            module = nn.KLDivLoss(size_average, reduce)
        assert module.reduction == quiet(torch.nn.KLDivLoss, size_average, reduce).reduction


# --- normalize, cosine_similarity, pairwise_distance ----------------------------------------------

def rows_with_tiny_and_zero(shape: tuple = (5, 4)) -> np.ndarray:
    x = RNG.standard_normal(shape)
    x[0] = 0.0          # a zero vector: the clamp gives it norm eps
    x[1] *= 1e-14       # shorter than eps
    return x


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("dim", [1, 0, -1])
def test_normalize_matches_torch(torch, p: float, dim: int) -> None:
    x = rows_with_tiny_and_zero()
    check_against_torch(torch, lambda v: F.normalize(v, p, dim), lambda v: torch.nn.functional.normalize(v, p, dim),
                        [leaf(x)])
    smooth = RNG.standard_normal((3, 4))
    assert mg.gradcheck(lambda v: F.normalize(v, p, dim), [leaf(smooth)])
    assert F.normalize(mg.tensor(smooth.astype(np.float32)), p, dim).dtype == mg.float32


def test_normalize_shapes_as_torch(torch) -> None:
    for shape, dim in [((6,), 0), ((), 0), ((2, 3, 4), 2), ((2, 3, 4), -2)]:
        x = RNG.standard_normal(shape)
        check_against_torch(torch, lambda v, dim=dim: F.normalize(v, dim=dim),
                            lambda v, dim=dim: torch.nn.functional.normalize(v, dim=dim), [leaf(x)])
    with pytest.raises(IndexError, match="normalize: dim 1 is out of range for a tensor with 1 dimensions"):
        F.normalize(mg.randn(5))
    with pytest.raises(TypeError, match="normalize: input must be floating point"):
        F.normalize(mg.tensor([[1, 2]]))


@pytest.mark.parametrize("shapes,dim", [(((5, 4), (5, 4)), 1), (((5, 4), (5, 4)), 0), (((3, 4), (4,)), 1),
                                        (((3, 1, 4), (5, 4)), -1), (((6,), (6,)), 0), (((2, 3, 4), (2, 3, 4)), 1)])
def test_cosine_similarity_matches_torch(torch, shapes: tuple, dim: int) -> None:
    a, b = RNG.standard_normal(shapes[0]), RNG.standard_normal(shapes[1])
    check_against_torch(torch, lambda u, v: F.cosine_similarity(u, v, dim),
                        lambda u, v: torch.nn.functional.cosine_similarity(u, v, dim), [leaf(a), leaf(b)])
    assert mg.gradcheck(lambda u, v: F.cosine_similarity(u, v, dim), [leaf(a), leaf(b)])
    check_against_torch(torch, nn.CosineSimilarity(dim), torch.nn.CosineSimilarity(dim), [leaf(a), leaf(b)])
    assert F.cosine_similarity(mg.tensor(a.astype(np.float32)), mg.tensor(b.astype(np.float32)),
                               dim).dtype == mg.float32


def test_cosine_similarity_of_short_vectors_as_torch(torch) -> None:
    # PyTorch clamps each norm to eps without gradient: a vector shorter than eps still sends its norm's gradient
    a, b = rows_with_tiny_and_zero(), rows_with_tiny_and_zero()
    b[2] *= 1e-12
    for eps in (1e-8, 0.5):
        check_against_torch(torch, lambda u, v, eps=eps: F.cosine_similarity(u, v, eps=eps),
                            lambda u, v, eps=eps: torch.nn.functional.cosine_similarity(u, v, eps=eps),
                            [leaf(a), leaf(b)], rtol=1e-9)


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.5, float("inf")])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shapes", [((5, 4), (5, 4)), ((3, 4), (4,)), ((6,), (6,)), ((2, 3, 4), (3, 4))])
def test_pairwise_distance_matches_torch(torch, p: float, keepdim: bool, shapes: tuple) -> None:
    a, b = RNG.standard_normal(shapes[0]), RNG.standard_normal(shapes[1])
    if a.shape == b.shape:
        a[0] = b[0]   # a zero difference: eps keeps the norm's gradient finite
    check_against_torch(torch, lambda u, v: F.pairwise_distance(u, v, p, keepdim=keepdim),
                        lambda u, v: torch.nn.functional.pairwise_distance(u, v, p, keepdim=keepdim),
                        [leaf(a), leaf(b)])
    if p != float("inf"):
        smooth = RNG.standard_normal(shapes[0])
        assert mg.gradcheck(lambda u, v: F.pairwise_distance(u, v, p, keepdim=keepdim), [leaf(smooth), leaf(b)])
    check_against_torch(torch, nn.PairwiseDistance(p, 1e-6, keepdim), torch.nn.PairwiseDistance(p, 1e-6, keepdim),
                        [leaf(a), leaf(b)])


def test_pairwise_distance_of_scalars_integers_and_float32(torch) -> None:
    for a, b in [(1.5, -0.5), (1.5, [0.5, 2.0, -1.0])]:
        mine = F.pairwise_distance(mg.tensor(a, dtype=mg.float64), mg.tensor(b, dtype=mg.float64))
        peer = torch.nn.functional.pairwise_distance(torch.tensor(a, dtype=torch.float64),
                                                     torch.tensor(b, dtype=torch.float64))
        assert mine.shape == tuple(peer.shape)
        np.testing.assert_allclose(mine.numpy(), peer.numpy(), rtol=1e-12)
    ints = F.pairwise_distance(mg.tensor([[1, 2], [3, 4]]), mg.tensor([[0, 0], [1, 1]]))
    assert ints.dtype == mg.float32
    assert F.pairwise_distance(mg.randn(3, 4), mg.randn(3, 4), keepdim=True).dtype == mg.float32
    with pytest.raises(ValueError, match=r"pairwise_distance: shapes \(3, 4\) and \(3, 5\) do not broadcast"):
        F.pairwise_distance(mg.randn(3, 4), mg.randn(3, 5))


def test_distance_errors_name_the_function() -> None:
    with pytest.raises(ValueError, match=r"cosine_similarity: shapes \(3, 4\) and \(3, 5\) do not broadcast"):
        F.cosine_similarity(mg.randn(3, 4), mg.randn(3, 5))
    with pytest.raises(IndexError, match="cosine_similarity: dim 1 is out of range for a tensor with 1 dimensions"):
        F.cosine_similarity(mg.randn(5), mg.randn(5))
    with pytest.raises(TypeError, match="cosine_similarity: input must be floating point"):
        F.cosine_similarity(mg.tensor([[1, 2]]), mg.tensor([[1, 2]]))
    with pytest.raises(TypeError, match="pairwise_distance: p must be a number"):
        F.pairwise_distance(mg.randn(3, 4), mg.randn(3, 4), p="fro")


# --- modules -----------------------------------------------------------------------------------------

def test_loss_modules_state_dicts_and_attributes_as_torch(torch) -> None:
    weight = RNG.uniform(0.5, 2.0, 3)
    pairs = [
        (nn.BCELoss(), torch.nn.BCELoss()),
        (nn.BCELoss(mg.tensor(weight)), torch.nn.BCELoss(torch.from_numpy(weight))),
        (nn.SmoothL1Loss(beta=0.5), torch.nn.SmoothL1Loss(beta=0.5)),
        (nn.HuberLoss(delta=2.0), torch.nn.HuberLoss(delta=2.0)),
        (nn.KLDivLoss(log_target=True), torch.nn.KLDivLoss(log_target=True)),
        (nn.CosineSimilarity(0, 1e-6), torch.nn.CosineSimilarity(0, 1e-6)),
        (nn.PairwiseDistance(1.0, 1e-3, True), torch.nn.PairwiseDistance(1.0, 1e-3, True)),
    ]
    for mine, peer in pairs:
        assert sorted(mine.state_dict()) == sorted(peer.state_dict()), type(mine).__name__
        assert list(mine.parameters()) == []
        for attribute in ("reduction", "beta", "delta", "log_target", "dim", "eps", "norm", "keepdim"):
            if hasattr(peer, attribute):
                assert getattr(mine, attribute) == getattr(peer, attribute), (type(mine).__name__, attribute)
    assert repr(nn.CosineSimilarity()) == repr(torch.nn.CosineSimilarity())
    assert repr(nn.PairwiseDistance()) == repr(torch.nn.PairwiseDistance())
    assert repr(nn.KLDivLoss(reduction="batchmean")) == repr(torch.nn.KLDivLoss(reduction="batchmean"))
    assert nn.BCELoss(weight=[1.0, 2.0]).double().weight.dtype == mg.float64


def test_loss_modules_take_torchs_positional_arguments(torch) -> None:
    for args in [(None, None, None, "sum"), (mg.ones(3), None, None, "none")]:
        assert nn.BCELoss(*args).reduction == args[3]
    assert (nn.SmoothL1Loss(None, None, "sum", 0.25).reduction, nn.SmoothL1Loss(None, None, "sum", 0.25).beta) == \
           ("sum", 0.25)
    assert (nn.HuberLoss("none", 2.0).reduction, nn.HuberLoss("none", 2.0).delta) == ("none", 2.0)
    kl = nn.KLDivLoss(None, None, "batchmean", True)
    assert (kl.reduction, kl.log_target) == ("batchmean", True)
    peer = torch.nn.KLDivLoss(None, None, "batchmean", True)
    assert (peer.reduction, peer.log_target) == ("batchmean", True)


def test_bce_loss_module_weight_buffer_follows_to() -> None:
    loss = nn.BCELoss(weight=[1.0, 2.0, 0.5], reduction="sum").double()
    x, y = leaf(RNG.uniform(0.1, 0.9, (2, 3))), RNG.uniform(0, 1, (2, 3))
    assert loss(x, y).dtype == mg.float64
    expected = -(np.array([1.0, 2.0, 0.5]) * (y * np.log(x.numpy()) + (1 - y) * np.log(1 - x.numpy()))).sum()
    np.testing.assert_allclose(loss(x, y).numpy(), expected, rtol=1e-12)


def test_functions_and_modules_are_exported() -> None:
    for name in ("binary_cross_entropy", "smooth_l1_loss", "huber_loss", "kl_div", "normalize", "cosine_similarity",
                 "pairwise_distance"):
        assert name in F.__all__ and callable(getattr(F, name))
    for name in ("BCELoss", "SmoothL1Loss", "HuberLoss", "KLDivLoss", "CosineSimilarity", "PairwiseDistance"):
        assert name in nn.__all__ and issubclass(getattr(nn, name), nn.Module)


def test_compiled_distances_and_losses_replay_each_calls_values() -> None:
    def loss(a: mg.Tensor, b: mg.Tensor, target: mg.Tensor) -> mg.Tensor:
        similarity = F.cosine_similarity(a, b)
        distance = F.pairwise_distance(F.normalize(a), b)
        return (F.huber_loss(similarity, target, delta=0.5) + F.smooth_l1_loss(distance, target, beta=0.3)
                + F.kl_div(F.normalize(a, p=1.0).abs().clip(min=1e-3).log(), b.softmax(-1), reduction="batchmean"))

    compiled = mg.compile(loss)
    for scale in (1.0, 1e-9, 3.0):
        a, b, target = RNG.standard_normal((4, 5)) * scale, RNG.standard_normal((4, 5)), RNG.uniform(-1, 1, 4)
        inputs, again = [leaf(a), leaf(b), leaf(target)], [leaf(a), leaf(b), leaf(target)]
        out, expected = compiled(*inputs), loss(*again)
        out.backward()
        expected.backward()
        np.testing.assert_array_equal(out.numpy(), expected.numpy())
        for mine, eager in zip(inputs, again):
            np.testing.assert_array_equal(mine.grad.numpy(), eager.grad.numpy())
