"""nn.optim.lr_scheduler: learning rates equal torch.optim.lr_scheduler's, epoch by epoch, over many epochs."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import minigrad as mg
import nn
from nn import optim
from nn.optim import lr_scheduler

EPOCHS = 120


def groups(lib):
    """Two parameter groups with different learning rates, in minigrad (lib=None) or torch."""
    if lib is None:
        a, b = mg.zeros(3, requires_grad=True), mg.zeros(2, requires_grad=True)
        return optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.3}], lr=0.1, momentum=0.9)
    a, b = lib.zeros(3, requires_grad=True), lib.zeros(2, requires_grad=True)
    return lib.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.3}], lr=0.1, momentum=0.9)


class Warmup:
    """A callable object: LambdaLR saves its attributes (not the function)."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def __call__(self, epoch: int) -> float:
        return min(1.0, (epoch + 1) / self.epochs)


SCHEDULES = {
    "StepLR": dict(step_size=7, gamma=0.5),
    "StepLR-1": dict(step_size=1, gamma=0.9),
    "ExponentialLR": dict(gamma=0.97),
    "CosineAnnealingLR": dict(T_max=25, eta_min=0.001),
    "CosineAnnealingLR-0": dict(T_max=10),
    "LambdaLR": dict(lr_lambda=lambda epoch: 0.95 ** epoch),
    "LambdaLR-list": dict(lr_lambda=[lambda epoch: 1 / (1 + epoch), Warmup(10)]),
}


def build(lib, name, kwargs):
    opt = groups(lib)
    cls_name = name.split("-")[0]
    cls = getattr(lr_scheduler, cls_name) if lib is None else getattr(lib.optim.lr_scheduler, cls_name)
    return opt, cls(opt, **kwargs)


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_learning_rates_equal_torch_over_many_epochs(torch, name) -> None:
    opt, sched = build(None, name, SCHEDULES[name])
    t_opt, t_sched = build(torch, name, SCHEDULES[name])
    assert sched.get_last_lr() == t_sched.get_last_lr() and sched.last_epoch == t_sched.last_epoch == 0
    for epoch in range(EPOCHS):
        opt.step()          # no gradients: nothing moves, but the order of calls is PyTorch's
        t_opt.step()
        sched.step()
        t_sched.step()
        assert sched.last_epoch == t_sched.last_epoch == epoch + 1
        ours = [g["lr"] for g in opt.param_groups]
        theirs = [g["lr"] for g in t_opt.param_groups]
        np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-15, err_msg=f"epoch {epoch + 1}")
        assert sched.get_last_lr() == ours
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.3]


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_state_dict_round_trip_through_a_file_resumes_exactly(tmp_path, name) -> None:
    opt, sched = build(None, name, SCHEDULES[name])
    for _ in range(13):
        opt.step()
        sched.step()
    nn.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, tmp_path / "ck.npz")
    checkpoint = nn.load(tmp_path / "ck.npz")
    fresh_opt, fresh = build(None, name, SCHEDULES[name])
    fresh_opt.load_state_dict(checkpoint["optimizer"])
    fresh.load_state_dict(checkpoint["scheduler"])
    assert fresh.last_epoch == 13 and fresh.get_last_lr() == sched.get_last_lr()
    for _ in range(30):
        for o, s in ((opt, sched), (fresh_opt, fresh)):
            o.step()
            s.step()
        assert [g["lr"] for g in fresh_opt.param_groups] == [g["lr"] for g in opt.param_groups]


def test_state_dict_keys_match_torch(torch) -> None:
    for name, kwargs in SCHEDULES.items():
        _, sched = build(None, name, kwargs)
        _, t_sched = build(torch, name, kwargs)
        ignored = {"_get_lr_called_within_step"}      # PyTorch's guard against calling get_lr by hand
        assert set(sched.state_dict()) == set(t_sched.state_dict()) - ignored, name
        sched.load_state_dict(t_sched.state_dict())   # and PyTorch's loads


def test_lambda_lr_saves_callable_objects_but_not_functions() -> None:
    opt, sched = build(None, "LambdaLR-list", SCHEDULES["LambdaLR-list"])
    state = sched.state_dict()
    assert state["lr_lambdas"] == [None, {"epochs": 10}]
    state["lr_lambdas"][1] = {"epochs": 4}
    sched.load_state_dict(state)
    assert sched.lr_lambdas[1].epochs == 4
    with pytest.raises(IndexError, match=r"lr_lambdas\[2\] holds"):
        sched.load_state_dict({**state, "lr_lambdas": [None, None, {"epochs": 3}]})
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 3"):
        lr_scheduler.LambdaLR(opt, [lambda e: 1.0] * 3)


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")
def test_resuming_with_last_epoch(torch) -> None:
    opt, sched = build(None, "CosineAnnealingLR", SCHEDULES["CosineAnnealingLR"])
    t_opt, t_sched = build(torch, "CosineAnnealingLR", SCHEDULES["CosineAnnealingLR"])
    for _ in range(5):
        sched.step()
        t_sched.step()
    resumed = lr_scheduler.CosineAnnealingLR(opt, T_max=25, eta_min=0.001, last_epoch=5)
    t_resumed = torch.optim.lr_scheduler.CosineAnnealingLR(t_opt, T_max=25, eta_min=0.001, last_epoch=5)
    for _ in range(40):
        resumed.step()
        t_resumed.step()
        np.testing.assert_allclose([g["lr"] for g in opt.param_groups], [g["lr"] for g in t_opt.param_groups],
                                   rtol=1e-13)
    with pytest.raises(KeyError, match=r"param 'initial_lr' is not specified in param_groups\[0\]"):
        lr_scheduler.StepLR(groups(None), step_size=2, last_epoch=3)


def test_step_with_an_epoch_uses_the_closed_form(torch) -> None:
    opt, sched = build(None, "StepLR", SCHEDULES["StepLR"])
    t_opt, t_sched = build(torch, "StepLR", SCHEDULES["StepLR"])
    with pytest.warns(UserWarning, match="deprecated"):
        sched.step(15)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_sched.step(15)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([g["lr"] for g in t_opt.param_groups], rel=1e-14)


def test_a_tensor_lr_is_changed_in_place() -> None:
    lr = mg.tensor(0.1, dtype=mg.float64)
    opt = optim.Adam([mg.zeros(2, requires_grad=True)], lr=lr)
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    sched.step()
    assert opt.param_groups[0]["lr"] is lr and lr.item() == pytest.approx(0.05)
    last = sched.get_last_lr()[0]
    assert isinstance(last, mg.Tensor) and last is not lr and last.item() == pytest.approx(0.05)


# --- ReduceLROnPlateau ---

PLATEAU = [
    dict(),
    dict(mode="max", factor=0.5, patience=2),
    dict(patience=3, threshold=0.1, threshold_mode="abs", cooldown=2),
    dict(mode="max", patience=1, threshold=0.05, threshold_mode="rel", cooldown=1, min_lr=[0.01, 0.05]),
    dict(factor=0.3, patience=0, min_lr=0.02, eps=1e-3),
]


def metrics(seed: int) -> list[float]:
    """A noisy metric with plateaus, so reductions, cooldowns and thresholds all happen."""
    rng = np.random.default_rng(seed)
    level = np.repeat(rng.standard_normal(12).cumsum(), 10)
    return list(level + 0.05 * rng.standard_normal(level.size))


@pytest.mark.parametrize("kwargs", PLATEAU, ids=[str(i) for i in range(len(PLATEAU))])
def test_reduce_on_plateau_equals_torch(torch, kwargs) -> None:
    opt, t_opt = groups(None), groups(torch)
    sched = lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    t_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, **kwargs)
    changes = 0
    for epoch, value in enumerate(metrics(len(kwargs))):
        before = opt.param_groups[0]["lr"]
        sched.step(mg.tensor(value) if epoch % 2 else value)     # a number or a 0-d Tensor
        t_sched.step(value)
        changes += opt.param_groups[0]["lr"] != before
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in t_opt.param_groups], epoch
        assert sched.get_last_lr() == t_sched.get_last_lr()
        assert (sched.num_bad_epochs, sched.cooldown_counter, sched.best) == \
            (t_sched.num_bad_epochs, t_sched.cooldown_counter, t_sched.best)
    assert changes > 0
    state = sched.state_dict()
    assert set(state) == set(t_sched.state_dict())
    fresh = lr_scheduler.ReduceLROnPlateau(groups(None))
    fresh.load_state_dict(state)
    assert (fresh.best, fresh.num_bad_epochs, fresh.mode, fresh.patience) == \
        (sched.best, sched.num_bad_epochs, sched.mode, sched.patience)


def test_reduce_on_plateau_argument_errors() -> None:
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        lr_scheduler.ReduceLROnPlateau(groups(None), factor=1.0)
    with pytest.raises(ValueError, match="mode 'lowest' is unknown"):
        lr_scheduler.ReduceLROnPlateau(groups(None), mode="lowest")
    with pytest.raises(ValueError, match="threshold mode 'relative' is unknown"):
        lr_scheduler.ReduceLROnPlateau(groups(None), threshold_mode="relative")
    with pytest.raises(ValueError, match="expected 2 min_lrs, got 3"):
        lr_scheduler.ReduceLROnPlateau(groups(None), min_lr=[0, 0, 0])
    sched = lr_scheduler.ReduceLROnPlateau(groups(None))
    state = sched.state_dict()
    with pytest.raises(ValueError, match="mode 'sideways' is unknown"):
        sched.load_state_dict({**state, "mode": "sideways", "best": -1.0})
    assert sched.mode == "min" and sched.best == math.inf     # nothing taken


def test_scheduler_argument_and_state_errors() -> None:
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        lr_scheduler.StepLR([], step_size=2)
    with pytest.raises(ValueError, match="step_size must be an int >= 1"):
        lr_scheduler.StepLR(groups(None), step_size=0)
    with pytest.raises(ValueError, match="T_max must be > 0"):
        lr_scheduler.CosineAnnealingLR(groups(None), T_max=0)
    sched = lr_scheduler.StepLR(groups(None), step_size=2)
    state = sched.state_dict()
    for bad, words in [({"base_lrs": [0.1] * 3}, "base_lrs must hold one value per parameter group"),
                       ({"last_epoch": 2.5}, "last_epoch must be an int"),
                       ({"warmup": 3}, r"unknown entries \['warmup'\]")]:
        with pytest.raises(ValueError, match=words):
            sched.load_state_dict({**state, **bad})
        assert sched.state_dict() == state                    # nothing taken
    with pytest.raises(ValueError, match=r"the schedule gave lr=nan for param_groups\[0\]"):
        lr_scheduler.LambdaLR(groups(None), lambda epoch: math.nan)


def test_a_failing_schedule_changes_nothing() -> None:
    opt = groups(None)
    with pytest.raises(ValueError, match="the schedule gave lr=nan"):
        lr_scheduler.LambdaLR(opt, lambda epoch: math.nan)
    assert all("initial_lr" not in g for g in opt.param_groups)     # construction left no trace
    calls = []

    def flaky(epoch: int) -> float:
        calls.append(epoch)
        if epoch == 3:
            raise RuntimeError("schedule bug")
        return 0.5 ** epoch

    sched = lr_scheduler.LambdaLR(opt, [flaky, lambda epoch: 1.0])
    sched.step()
    sched.step()
    before = ([g["lr"] for g in opt.param_groups], sched.state_dict())
    with pytest.raises(RuntimeError, match="schedule bug"):
        sched.step()
    assert ([g["lr"] for g in opt.param_groups], sched.state_dict()) == before
    assert sched.last_epoch == 2
