"""Loss modules against PyTorch's (values and input gradients in float64), options and buffers included."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import check_against_torch, check_op

import minigrad as mg
import nn

RNG = np.random.default_rng(5)


def leaf(*shape: int, scale: float = 1.0) -> mg.Tensor:
    return mg.tensor(RNG.standard_normal(shape) * scale, requires_grad=True)


def classes(shape: tuple, count: int, ignore: int | None = None) -> np.ndarray:
    t = RNG.integers(0, count, shape)
    if ignore is not None:
        t.reshape(-1)[::4] = ignore
    return t


REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape,tshape", [((6, 5), (6,)), ((3, 5, 4), (3, 4)), ((5,), ())])
@pytest.mark.parametrize("options", [{}, {"weight": True}, {"ignore_index": 2}, {"label_smoothing": 0.2},
                                     {"weight": True, "ignore_index": 1, "label_smoothing": 0.1}])
def test_cross_entropy_loss_module(torch, reduction: str, shape: tuple, tshape: tuple, options: dict) -> None:
    x = leaf(*shape, scale=2.0)
    target = classes(tshape, 5)
    kwargs = dict(options)
    weight = RNG.uniform(0.5, 2.0, 5) if kwargs.pop("weight", False) else None
    mine = nn.CrossEntropyLoss(weight=None if weight is None else mg.tensor(weight), reduction=reduction, **kwargs)
    peer = torch.nn.CrossEntropyLoss(weight=None if weight is None else torch.from_numpy(weight),
                                     reduction=reduction, **kwargs)
    check_against_torch(torch, lambda v: mine(v, mg.tensor(target)), lambda v: peer(v, torch.from_numpy(target)), [x])
    if np.isfinite(mine(x, target).numpy()).all():   # all targets ignored: NaN, as PyTorch (checked above)
        assert mg.gradcheck(lambda v: mine(v, target), [x.detach().requires_grad_()])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_module_after_log_softmax(torch, reduction: str, weighted: bool) -> None:
    x = leaf(4, 6, 3)
    target = classes((4, 3), 6, ignore=-100)
    weight = RNG.uniform(0.5, 2.0, 6) if weighted else None
    mine = nn.Sequential(nn.LogSoftmax(dim=1))
    loss = nn.NLLLoss(weight=weight, reduction=reduction)
    peer = torch.nn.NLLLoss(weight=None if weight is None else torch.from_numpy(weight), reduction=reduction)
    check_op(lambda v: loss(mine(v), target), [x], torch,
             lambda v: peer(torch.log_softmax(v, 1), torch.from_numpy(target)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["MSELoss", "L1Loss"])
def test_regression_losses(torch, reduction: str, name: str) -> None:
    x, y = leaf(3, 4), leaf(3, 4)
    mine, peer = getattr(nn, name)(reduction=reduction), getattr(torch.nn, name)(reduction=reduction)
    check_op(mine, [x, y], torch, peer)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted,positive", [(False, False), (True, False), (False, True), (True, True)])
def test_bce_with_logits_loss(torch, reduction: str, weighted: bool, positive: bool) -> None:
    x = leaf(5, 3, scale=4.0)
    y = RNG.uniform(0, 1, (5, 3))
    weight = RNG.uniform(0.5, 2.0, (5, 3)) if weighted else None
    pos_weight = RNG.uniform(0.5, 3.0, 3) if positive else None
    mine = nn.BCEWithLogitsLoss(weight=weight, reduction=reduction, pos_weight=pos_weight)
    peer = torch.nn.BCEWithLogitsLoss(weight=None if weight is None else torch.from_numpy(weight),
                                      reduction=reduction,
                                      pos_weight=None if pos_weight is None else torch.from_numpy(pos_weight))
    check_op(lambda v: mine(v, y), [x], torch, lambda v: peer(v, torch.from_numpy(y)))


def test_loss_weights_are_buffers_as_in_torch(torch) -> None:
    for mine, peer in [
        (nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()),
        (nn.CrossEntropyLoss(weight=mg.ones(3)), torch.nn.CrossEntropyLoss(weight=torch.ones(3))),
        (nn.NLLLoss(weight=[1.0, 2.0]), torch.nn.NLLLoss(weight=torch.tensor([1.0, 2.0]))),
        (nn.BCEWithLogitsLoss(pos_weight=mg.ones(2)), torch.nn.BCEWithLogitsLoss(pos_weight=torch.ones(2))),
        (nn.MSELoss(), torch.nn.MSELoss()),
    ]:
        assert sorted(mine.state_dict()) == sorted(peer.state_dict()), type(mine).__name__
        assert list(mine.parameters()) == []
    loss = nn.CrossEntropyLoss(weight=[1.0, 2.0, 3.0]).double()
    assert loss.weight.dtype == mg.float64


def test_loss_modules_refuse_bad_options() -> None:
    with pytest.raises(ValueError, match="CrossEntropyLoss: reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        nn.CrossEntropyLoss(reduction="avg")
    with pytest.raises(ValueError, match="MSELoss: reduction"):
        nn.MSELoss(reduction=None)
    with pytest.raises(TypeError, match="NLLLoss: weight must be a Tensor or numbers"):
        nn.NLLLoss(weight="heavy")
    assert repr(nn.L1Loss(reduction="sum")) == "L1Loss()"   # PyTorch's repr never shows the reduction


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(4, 5), (3, 5, 2), (5,)])
@pytest.mark.parametrize("weighted,smoothing", [(False, 0.0), (True, 0.0), (False, 0.3), (True, 0.1)])
def test_cross_entropy_with_class_probabilities(torch, reduction: str, shape: tuple, weighted: bool,
                                                smoothing: float) -> None:
    x = leaf(*shape, scale=2.0)
    axis = 1 if len(shape) > 1 else 0
    probabilities = RNG.dirichlet(np.ones(5), size=int(np.prod(shape)) // 5)
    target = np.moveaxis(probabilities.reshape(np.delete(shape, axis).tolist() + [5]), -1, axis)
    weight = RNG.uniform(0.5, 2.0, 5) if weighted else None
    mine = nn.CrossEntropyLoss(weight=weight, reduction=reduction, label_smoothing=smoothing)
    peer = torch.nn.CrossEntropyLoss(weight=None if weight is None else torch.from_numpy(weight),
                                     reduction=reduction, label_smoothing=smoothing)
    check_op(lambda v: mine(v, mg.tensor(target)), [x], torch, lambda v: peer(v, torch.from_numpy(target)))


@pytest.mark.parametrize("size_average,reduce", [(None, False), (False, None), (True, True), (False, False)])
def test_deprecated_size_average_and_reduce_pick_the_reduction_as_in_torch(torch, size_average, reduce) -> None:
    x, y = leaf(3, 4), leaf(3, 4)
    with pytest.warns(UserWarning, match="deprecated"):
        mine = nn.MSELoss(size_average, reduce)
    with pytest.warns(UserWarning):
        peer = torch.nn.MSELoss(size_average, reduce)
    assert mine.reduction == peer.reduction
    check_op(mine, [x, y], torch, peer)


def test_positional_arguments_bind_as_in_torch(torch) -> None:
    weight = np.array([1.0, 2.0, 3.0])
    mine = nn.CrossEntropyLoss(mg.tensor(weight), None, 1)
    peer = torch.nn.CrossEntropyLoss(torch.from_numpy(weight), None, 1)
    assert mine.ignore_index == peer.ignore_index == 1
    bce = nn.BCEWithLogitsLoss(None, None, None, "sum", mg.ones(3))
    assert bce.reduction == "sum" and bce.pos_weight.shape == (3,)
