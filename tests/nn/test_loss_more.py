"""Gaussian/Poisson NLL, margin-ranking, hinge-embedding, soft-margin, multi-label soft-margin, cosine-embedding,
triplet, multi-margin and multi-label-margin losses against PyTorch.

Each function: gradcheck in float64 (at points away from the kinks), values and gradients of every
differentiable input equal torch's for every reduction, and the module equal to torch's module; then the
kinks themselves, where the gradient is the one PyTorch's backward picks.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import assert_close, check_against_torch, check_op, to_torch

import minigrad as mg
import nn
from nn import functional as F

RNG = np.random.default_rng(17)
REDUCTIONS = ["mean", "sum", "none"]


def leaf(values: np.ndarray) -> mg.Tensor:
    return mg.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def signs(*shape: int) -> np.ndarray:
    return RNG.choice([-1.0, 1.0], shape)


def away_from(values: np.ndarray, kinks: float | list = 0.0, gap: float = 1e-3) -> np.ndarray:
    """``values`` nudged at least ``gap`` away from each kink (finite differences straddle no corner)."""
    for kink in np.atleast_1d(kinks):
        close = np.abs(values - kink) < gap
        values = np.where(close, kink + 2 * gap * np.sign(values - kink + 1e-30), values)
    return values


def check_module(torch, ours: nn.Module, theirs: object, arrays: list, grads: list) -> None:
    """The module's loss and the gradients of ``arrays[i]`` where ``grads[i]``, against torch's module."""
    inputs = [leaf(a) if g else mg.tensor(a) for a, g in zip(arrays, grads)]
    check_against_torch(torch, lambda *a: ours(*a), lambda *a: theirs(*a), inputs)


def check_loss(torch, name: str, module: str, arrays: list, grads: list, *args, **kwargs) -> None:
    """``F.<name>(*inputs, *args, **kwargs)`` against torch's (gradcheck in float64, values, gradients of
    ``arrays[i]`` where ``grads[i]``), then the module ``nn.<module>(*args, **kwargs)`` against torch's."""
    inputs = [leaf(a) if g else mg.tensor(a) for a, g in zip(arrays, grads)]
    check_op(lambda *xs: getattr(F, name)(*xs, *args, **kwargs), inputs, torch,
             lambda *xs: getattr(torch.nn.functional, name)(*xs, *args, **kwargs))
    check_module(torch, getattr(nn, module)(*args, **kwargs), getattr(torch.nn, module)(*args, **kwargs), arrays,
                 grads)


# --- Gaussian and Poisson NLL ---------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("var_shape", [(4, 3), (4,), (4, 1), (1, 3)])
@pytest.mark.parametrize("full", [False, True])
def test_gaussian_nll_loss_as_pytorch(torch, reduction: str, var_shape: tuple, full: bool) -> None:
    x, y = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))
    var = RNG.uniform(0.2, 2.0, var_shape)
    check_op(lambda a, b, v: F.gaussian_nll_loss(a, b, v, full, 1e-6, reduction), [leaf(x), leaf(y), leaf(var)],
             torch, lambda a, b, v: torch.nn.functional.gaussian_nll_loss(a, b, v, full, 1e-6, reduction))
    check_module(torch, nn.GaussianNLLLoss(full=full, reduction=reduction),
                 torch.nn.GaussianNLLLoss(full=full, reduction=reduction), [x, y, var], [True, False, True])


def test_gaussian_nll_loss_clamps_var_without_changing_its_gradient(torch) -> None:
    """A variance below eps reads as eps, but its gradient is the formula's at eps (PyTorch's no_grad clamp)."""
    x, y, var = RNG.standard_normal(5), RNG.standard_normal(5), np.array([1e-9, 0.0, 0.5, 2.0, 1e-3])
    check_against_torch(torch, lambda a, v: F.gaussian_nll_loss(a, mg.tensor(y), v, eps=1e-4),
                        lambda a, v: torch.nn.functional.gaussian_nll_loss(a, torch.from_numpy(y), v, eps=1e-4),
                        [leaf(x), leaf(var)])
    loss = F.gaussian_nll_loss(leaf(x), mg.tensor(y), 0.5)   # a float variance
    assert_close(loss, torch.nn.functional.gaussian_nll_loss(torch.from_numpy(x), torch.from_numpy(y), 0.5))
    with pytest.raises(ValueError, match="negative"):
        F.gaussian_nll_loss(leaf(x), mg.tensor(y), mg.tensor(-np.ones(5)))
    with pytest.raises(ValueError, match="incorrect size"):
        F.gaussian_nll_loss(leaf(np.ones((4, 3))), mg.ones(4, 3), mg.ones(3, 4))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(("log_input", "full"), [(True, False), (False, False), (True, True), (False, True)])
def test_poisson_nll_loss_as_pytorch(torch, reduction: str, log_input: bool, full: bool) -> None:
    x = RNG.standard_normal((3, 4)) if log_input else RNG.uniform(0.1, 3.0, (3, 4))
    y = RNG.poisson(2.0, (3, 4)).astype(np.float64)   # counts 0 and 1 too, where Stirling's term is 0
    check_loss(torch, "poisson_nll_loss", "PoissonNLLLoss", [x, y], [True, False], log_input, full,
               reduction=reduction)


# --- margins and rankings ----------------------------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.5])
def test_margin_ranking_loss_as_pytorch(torch, reduction: str, margin: float) -> None:
    x1, x2, y = RNG.standard_normal(8), RNG.standard_normal(8), signs(8)
    x1 = x2 + away_from(x1 - x2, [margin, -margin])
    check_loss(torch, "margin_ranking_loss", "MarginRankingLoss", [x1, x2, y], [True, True, False], margin,
               reduction=reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_hinge_embedding_loss_as_pytorch(torch, reduction: str) -> None:
    x = away_from(RNG.uniform(-1, 3, (4, 5)), 1.0)
    y = RNG.choice([-1.0, 1.0, 0.0, 2.0], (4, 5))   # targets other than ±1 get both terms, as PyTorch
    check_op(lambda a: F.hinge_embedding_loss(a, mg.tensor(y), reduction=reduction), [leaf(x)], torch,
             lambda a: torch.nn.functional.hinge_embedding_loss(a, torch.from_numpy(y), reduction=reduction))
    check_module(torch, nn.HingeEmbeddingLoss(0.7, reduction=reduction),
                 torch.nn.HingeEmbeddingLoss(0.7, reduction=reduction), [x, y], [True, False])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin_loss_as_pytorch(torch, reduction: str) -> None:
    x, y = RNG.standard_normal((3, 4)) * 3, signs(3, 4)
    check_loss(torch, "soft_margin_loss", "SoftMarginLoss", [x, y], [True, False], reduction=reduction)
    # stable where PyTorch's log1p(exp(·)) overflows: the loss is -y·x there
    far = F.soft_margin_loss(mg.tensor([-1000.0], dtype=mg.float32), mg.tensor([1.0]), reduction="none")
    assert far.numpy()[0] == 1000.0


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_multilabel_soft_margin_loss_as_pytorch(torch, reduction: str, weighted: bool) -> None:
    x, y = RNG.standard_normal((4, 5)) * 2, RNG.integers(0, 2, (4, 5)).astype(np.float64)
    w = RNG.uniform(0.5, 2, 5) if weighted else None
    tw = None if w is None else torch.from_numpy(w)
    check_op(lambda a, b: F.multilabel_soft_margin_loss(a, b, w, reduction=reduction), [leaf(x), leaf(y)], torch,
             lambda a, b: torch.nn.functional.multilabel_soft_margin_loss(a, b, tw, reduction=reduction))
    ours = nn.MultiLabelSoftMarginLoss(w, reduction=reduction)
    assert ("weight" in ours.state_dict()) == weighted
    check_module(torch, ours.double(), torch.nn.MultiLabelSoftMarginLoss(tw, reduction=reduction), [x, y],
                 [True, False])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.3, -0.2])
def test_cosine_embedding_loss_as_pytorch(torch, reduction: str, margin: float) -> None:
    x1, x2, y = RNG.standard_normal((6, 4)), RNG.standard_normal((6, 4)), RNG.choice([-1.0, 1.0, 0.0], 6)
    check_loss(torch, "cosine_embedding_loss", "CosineEmbeddingLoss", [x1, x2, y], [True, True, False], margin,
               reduction=reduction)
    # a single pair: (D,) inputs with a 0-d target; a zero vector stays finite (PyTorch's 1e-12), its
    # gradient of order 1e6 agreeing to the rounding of the different order of operations
    for a, b, rtol in ((x1[0], x2[0], 1e-10), (np.zeros(4), x2[0], 1e-8)):
        check_against_torch(torch, lambda u, v: F.cosine_embedding_loss(u, v, mg.tensor(-1.0), margin),
                            lambda u, v: torch.nn.functional.cosine_embedding_loss(u, v, torch.tensor(-1.0), margin),
                            [leaf(a), leaf(b)], rtol=rtol)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(("p", "swap"), [(2.0, False), (1.0, False), (2.0, True), (3.0, True)])
def test_triplet_margin_loss_as_pytorch(torch, reduction: str, p: float, swap: bool) -> None:
    a, pos, neg = (RNG.standard_normal((5, 3)) for _ in range(3))
    check_loss(torch, "triplet_margin_loss", "TripletMarginLoss", [a, pos, neg], [True] * 3, 0.8, p, swap=swap,
               reduction=reduction)
    with pytest.raises(ValueError, match="margin must be greater than 0"):
        F.triplet_margin_loss(leaf(a), leaf(pos), leaf(neg), margin=0.0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(("p", "weighted"), [(1, False), (2, False), (1, True), (2, True)])
def test_multi_margin_loss_as_pytorch(torch, reduction: str, p: int, weighted: bool) -> None:
    target = RNG.integers(0, 5, 6)
    x = RNG.standard_normal((6, 5))
    # margin - x_y + x_i away from 0, so finite differences see no kink
    x = x[np.arange(6), target][:, None] - 1.0 + away_from(x - x[np.arange(6), target][:, None] + 1.0)
    w = RNG.uniform(0.5, 2, 5) if weighted else None
    tw = None if w is None else torch.from_numpy(w)
    check_op(lambda a: F.multi_margin_loss(a, mg.tensor(target), p, 1.0, w, reduction=reduction), [leaf(x)], torch,
             lambda a: torch.nn.functional.multi_margin_loss(a, torch.from_numpy(target), p, 1.0, tw,
                                                             reduction=reduction))
    check_module(torch, nn.MultiMarginLoss(p, 1.0, w, reduction=reduction).double(),
                 torch.nn.MultiMarginLoss(p, 1.0, tw, reduction=reduction), [x, target], [True, False])


def test_multi_margin_loss_of_one_sample_and_errors(torch) -> None:
    x = RNG.standard_normal(4)
    for target in (np.array(2), np.array([2])):
        ours = F.multi_margin_loss(leaf(x), mg.tensor(target), reduction="none")
        assert_close(ours, torch.nn.functional.multi_margin_loss(torch.from_numpy(x), torch.from_numpy(target),
                                                                 reduction="none"))
    with pytest.raises(ValueError, match="only p == 1 and p == 2"):
        F.multi_margin_loss(leaf(x), mg.tensor(1), p=3)
    with pytest.raises(IndexError, match="out of range"):
        F.multi_margin_loss(leaf(x), mg.tensor(4))
    with pytest.raises(ValueError, match="inconsistent target size"):
        F.multi_margin_loss(leaf(np.ones((2, 4))), mg.tensor([1, 2, 3]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_margin_loss_as_pytorch(torch, reduction: str) -> None:
    """Targets listed up to the first -1 (entries after it ignored), a repeated target counted twice, a
    sample with no target at all."""
    target = np.array([[3, 0, -1, 1, 4], [1, 2, 4, 0, 3], [-1, 0, 1, 2, 3], [2, 2, -1, -1, -1]])
    x = RNG.standard_normal((4, 5))
    x = away_from(x, [-2, -1, 0, 1, 2], 0.0)   # (x_j - x_i) = 1 would be a kink; random values miss it
    check_loss(torch, "multilabel_margin_loss", "MultiLabelMarginLoss", [x, target], [True, False],
               reduction=reduction)
    one = F.multilabel_margin_loss(leaf(x[0]), target[0], reduction=reduction)   # (C,) with an array target
    assert_close(one, torch.nn.functional.multilabel_margin_loss(torch.from_numpy(x[0]), torch.from_numpy(target[0]),
                                                                 reduction=reduction))
    with pytest.raises(IndexError, match="out of range"):
        F.multilabel_margin_loss(leaf(x), mg.tensor(np.full((4, 5), 5)))
    with pytest.raises(IndexError, match="out of range"):
        F.multilabel_margin_loss(leaf(x), mg.tensor(np.full((4, 5), -2)))


# --- the kinks: PyTorch's gradient exactly at them -------------------------------------------------------------

def test_gradients_exactly_at_the_kinks_are_pytorchs(torch) -> None:
    """clamp_min-based losses pass the gradient at 0; the multi-margin kernels do not."""
    x1, x2, y = np.array([1.0, 2.0, 0.5]), np.array([1.0, 1.5, 0.5]), np.array([1.0, -1.0, -1.0])
    check_against_torch(torch, lambda a, b: F.margin_ranking_loss(a, b, mg.tensor(y), reduction="sum"),
                        lambda a, b: torch.nn.functional.margin_ranking_loss(a, b, torch.from_numpy(y),
                                                                             reduction="sum"), [leaf(x1), leaf(x2)])
    distances, targets = np.array([1.0, 0.5, 1.0]), np.array([-1.0, -1.0, 1.0])
    check_against_torch(torch, lambda a: F.hinge_embedding_loss(a, mg.tensor(targets), reduction="sum"),
                        lambda a: torch.nn.functional.hinge_embedding_loss(a, torch.from_numpy(targets),
                                                                           reduction="sum"), [leaf(distances)])
    scores, labels = np.array([[1.0, 0.0, 2.0], [0.5, 1.5, 0.5]]), np.array([0, 1])   # z = 0 at [0, 1] and [1, *]
    for p in (1, 2):
        check_against_torch(torch, lambda a, p=p: F.multi_margin_loss(a, mg.tensor(labels), p, reduction="sum"),
                            lambda a, p=p: torch.nn.functional.multi_margin_loss(a, torch.from_numpy(labels), p,
                                                                                 reduction="sum"), [leaf(scores)])
    ml_target = np.array([[0, -1, 0], [1, 2, -1]])
    check_against_torch(torch, lambda a: F.multilabel_margin_loss(a, mg.tensor(ml_target), reduction="sum"),
                        lambda a: torch.nn.functional.multilabel_margin_loss(a, torch.from_numpy(ml_target),
                                                                             reduction="sum"), [leaf(scores)])


def test_deprecated_size_average_and_reduce_as_pytorch(torch) -> None:
    x, y = RNG.standard_normal((3, 4)), signs(3, 4)
    for size_average, reduce in ((False, None), (None, False), (True, True)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = F.soft_margin_loss(leaf(x), mg.tensor(y), size_average, reduce)
            theirs = torch.nn.functional.soft_margin_loss(torch.from_numpy(x), torch.from_numpy(y), size_average,
                                                          reduce)
            module = nn.SoftMarginLoss(size_average, reduce)
            torch_module = torch.nn.SoftMarginLoss(size_average, reduce)
        assert_close(ours, theirs)
        assert module.reduction == torch_module.reduction
    with pytest.warns(UserWarning, match="deprecated"):
        F.hinge_embedding_loss(leaf(x), mg.tensor(y), 1.0, False)
    with pytest.raises(ValueError, match="reduction must be"):
        F.soft_margin_loss(leaf(x), mg.tensor(y), reduction="batchmean")


def test_float32_losses_stay_float32_with_integer_targets(torch) -> None:
    x = mg.tensor(RNG.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    y = mg.tensor(np.array([[1, -1, 1]] * 4))
    for loss in (F.soft_margin_loss(x, y), F.margin_ranking_loss(x, x * 2, y), F.hinge_embedding_loss(x, y),
                 F.multilabel_soft_margin_loss(x, mg.tensor(np.ones((4, 3), dtype=np.int64)))):
        assert loss.dtype == mg.float32
    assert_close(F.soft_margin_loss(x, y), torch.nn.functional.soft_margin_loss(to_torch(torch, x),
                                                                                to_torch(torch, y).float()),
                 rtol=1e-6, atol=1e-7)


# --- the same numbers on the GPU (the strict CuPy stand-in without one) --------------------------------

@pytest.mark.gpu
def test_losses_on_the_gpu_match_the_cpu() -> None:
    x = RNG.standard_normal((4, 5)).astype(np.float32)
    classes = RNG.integers(0, 5, 4)
    lists = np.array([[3, 0, -1, 1, 4], [1, 2, 4, 0, 3], [-1, 0, 1, 2, 3], [2, 2, -1, -1, -1]])

    def run(device: str) -> list:
        xo = mg.tensor(x, requires_grad=True, device=device)
        ones = mg.ones(4, 5, device=device)
        total = (F.gaussian_nll_loss(xo, ones, ones * 0.5) + F.poisson_nll_loss(xo, ones, full=True)
                 + F.margin_ranking_loss(xo, ones, -ones) + F.hinge_embedding_loss(xo, -ones)
                 + F.soft_margin_loss(xo, ones) + F.multilabel_soft_margin_loss(xo, ones)
                 + F.cosine_embedding_loss(xo, ones, mg.ones(4, device=device))
                 + F.triplet_margin_loss(xo, ones, -ones, swap=True)
                 + F.multi_margin_loss(xo, mg.tensor(classes, device=device), p=2)
                 + F.multilabel_margin_loss(xo, mg.tensor(lists, device=device)))
        total.backward()
        return [total.numpy(), xo.grad.numpy()]

    for gpu, cpu in zip(run("cuda"), run("cpu")):
        np.testing.assert_allclose(gpu, cpu, rtol=1e-5, atol=1e-6)
