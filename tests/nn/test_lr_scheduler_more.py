"""nn.optim.lr_scheduler, the schedules added after the first five: MultiStepLR, ConstantLR, LinearLR,
MultiplicativeLR, PolynomialLR, CosineAnnealingWarmRestarts, OneCycleLR, CyclicLR, SequentialLR and
ChainedScheduler, each against torch.optim.lr_scheduler step by step (lrs, momentum/betas, counters,
state dicts, warnings and errors)."""

from __future__ import annotations

import math
import warnings
from collections import Counter
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import nn
from nn import optim
from nn.optim import lr_scheduler

RTOL = 1e-12
LRS = (0.1, 0.3, 0.02)          # three parameter groups with different base lrs
# keys a scheduler writes into the parameter groups; ours and torch's must hold the same ones
SCHEDULER_KEYS = {"initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum"}
# keys OneCycleLR/CyclicLR keep in the groups, which nn.optim's Optimizer.load_state_dict does not take yet


def make_optimizer(lib: Any, kind: str = "sgd") -> Any:
    """An optimizer over three groups (lrs 0.1, 0.3, 0.02), in minigrad (lib=None) or torch."""
    zeros = mg.zeros if lib is None else lib.zeros
    module = optim if lib is None else lib.optim
    groups = [{"params": [zeros(2, requires_grad=True)], "lr": lr} for lr in LRS]
    if kind == "sgd":
        return module.SGD(groups, lr=0.1, momentum=0.9)
    if kind == "adam":
        return module.Adam(groups, lr=0.1, betas=(0.9, 0.99))
    if kind == "rmsprop":
        return module.RMSprop(groups, lr=0.1, momentum=0.5)
    return module.Adagrad(groups, lr=0.1)


class Scale:
    """A callable object: schedulers save its attributes (never a function)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate

    def __call__(self, x: float) -> float:
        return self.rate ** x


Build = Callable[[Any, Any], Any]     # (scheduler module, optimizer) -> scheduler

# name -> (build, optimizer kind, steps)
CASES: dict[str, tuple[Build, str, int]] = {
    "MultiStepLR": (lambda L, o: L.MultiStepLR(o, [3, 10, 10, 25], gamma=0.5), "sgd", 40),
    "MultiStepLR-unsorted": (lambda L, o: L.MultiStepLR(o, (25, 3, 17), gamma=0.7), "sgd", 40),
    "ConstantLR": (lambda L, o: L.ConstantLR(o), "sgd", 30),
    "ConstantLR-0.5-8": (lambda L, o: L.ConstantLR(o, factor=0.5, total_iters=8), "sgd", 30),
    "ConstantLR-1": (lambda L, o: L.ConstantLR(o, factor=1.0, total_iters=3), "sgd", 30),
    "ConstantLR-0-iters": (lambda L, o: L.ConstantLR(o, factor=0.25, total_iters=0), "sgd", 30),
    "LinearLR": (lambda L, o: L.LinearLR(o), "sgd", 30),
    "LinearLR-up": (lambda L, o: L.LinearLR(o, start_factor=0.25, end_factor=0.9, total_iters=12), "sgd", 40),
    "LinearLR-down": (lambda L, o: L.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=20), "sgd", 40),
    "LinearLR-to-0": (lambda L, o: L.LinearLR(o, start_factor=0.5, end_factor=0.0, total_iters=10), "sgd", 30),
    "MultiplicativeLR": (lambda L, o: L.MultiplicativeLR(o, lambda epoch: 0.95), "sgd", 40),
    "MultiplicativeLR-list": (lambda L, o: L.MultiplicativeLR(
        o, [lambda epoch: 0.9, Scale(0.999), lambda epoch: 1.0 if epoch % 3 else 0.5]), "sgd", 40),
    "PolynomialLR": (lambda L, o: L.PolynomialLR(o), "sgd", 30),
    "PolynomialLR-2": (lambda L, o: L.PolynomialLR(o, total_iters=20, power=2.0), "sgd", 40),
    "PolynomialLR-0.5": (lambda L, o: L.PolynomialLR(o, total_iters=33, power=0.5), "sgd", 40),
    "CosineAnnealingWarmRestarts": (lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=7), "sgd", 50),
    "CosineAnnealingWarmRestarts-mult2": (lambda L, o: L.CosineAnnealingWarmRestarts(o, 3, T_mult=2, eta_min=1e-3),
                                          "sgd", 60),
    "CosineAnnealingWarmRestarts-mult3": (lambda L, o: L.CosineAnnealingWarmRestarts(o, 5, 3, 0.01), "adam", 60),
    "OneCycleLR-cos": (lambda L, o: L.OneCycleLR(o, [1.0, 0.5, 2.0], total_steps=50), "sgd", 50),
    "OneCycleLR-linear": (lambda L, o: L.OneCycleLR(o, 0.8, total_steps=50, anneal_strategy="linear"), "sgd", 50),
    "OneCycleLR-three-cos": (lambda L, o: L.OneCycleLR(o, [1.0, 0.5, 2.0], total_steps=45, pct_start=0.25,
                                                       three_phase=True), "sgd", 45),
    "OneCycleLR-three-linear": (lambda L, o: L.OneCycleLR(o, 0.6, epochs=6, steps_per_epoch=9, pct_start=0.4,
                                                          anneal_strategy="linear", three_phase=True), "sgd", 54),
    "OneCycleLR-adam": (lambda L, o: L.OneCycleLR(o, 0.01, total_steps=40, base_momentum=[0.8, 0.85, 0.7],
                                                  max_momentum=(0.95, 0.9, 0.99), div_factor=10.0,
                                                  final_div_factor=100.0), "adam", 40),
    "OneCycleLR-rmsprop": (lambda L, o: L.OneCycleLR(o, 0.05, total_steps=30, pct_start=0.5), "rmsprop", 30),
    "OneCycleLR-no-momentum": (lambda L, o: L.OneCycleLR(o, 0.5, total_steps=35, cycle_momentum=False),
                               "adagrad", 35),
    "OneCycleLR-pct-0": (lambda L, o: L.OneCycleLR(o, 0.5, total_steps=30, pct_start=0.0), "sgd", 30),
    "CyclicLR-triangular": (lambda L, o: L.CyclicLR(o, 0.01, [0.1, 0.2, 0.05], step_size_up=5), "sgd", 50),
    "CyclicLR-triangular2": (lambda L, o: L.CyclicLR(o, [0.01, 0.02, 0.001], 0.1, step_size_up=4, step_size_down=6,
                                                     mode="triangular2"), "sgd", 60),
    "CyclicLR-exp-range": (lambda L, o: L.CyclicLR(o, 0.001, 0.1, step_size_up=3, mode="exp_range", gamma=0.97,
                                                   base_momentum=0.7, max_momentum=[0.9, 0.95, 0.85]), "sgd", 50),
    "CyclicLR-scale-cycle": (lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=4, scale_fn=Scale(0.8)),
                             "sgd", 50),
    "CyclicLR-scale-iterations": (lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=4, step_size_down=2,
                                                          scale_fn=lambda x: 1 / (1 + 0.1 * x),
                                                          scale_mode="iterations"), "sgd", 50),
    "CyclicLR-adam": (lambda L, o: L.CyclicLR(o, 0.001, 0.01, step_size_up=5, mode="triangular2",
                                              base_momentum=0.8, max_momentum=0.9), "adam", 50),
    "CyclicLR-no-momentum": (lambda L, o: L.CyclicLR(o, 0.001, 0.01, step_size_up=7, cycle_momentum=False),
                             "adagrad", 50),
    "CyclicLR-down-0": (lambda L, o: L.CyclicLR(o, 0.001, 0.01, step_size_up=5, step_size_down=0), "sgd", 30),
    "SequentialLR-warmup-cosine": (lambda L, o: L.SequentialLR(
        o, [L.LinearLR(o, start_factor=0.1, total_iters=5), L.CosineAnnealingLR(o, T_max=20, eta_min=1e-3)],
        milestones=[5]), "sgd", 50),
    "SequentialLR-three": (lambda L, o: L.SequentialLR(
        o, [L.ConstantLR(o, factor=0.5, total_iters=3), L.ExponentialLR(o, gamma=0.9), L.StepLR(o, 4, gamma=0.5)],
        milestones=[4, 12]), "sgd", 40),
    "SequentialLR-new-kinds": (lambda L, o: L.SequentialLR(
        o, [L.MultiplicativeLR(o, lambda epoch: 1.1), L.PolynomialLR(o, total_iters=10, power=2.0),
            L.MultiStepLR(o, [3, 6]), L.CosineAnnealingWarmRestarts(o, T_0=4)], milestones=[5, 15, 25]), "sgd", 45),
    "SequentialLR-cycles": (lambda L, o: L.SequentialLR(
        o, [L.LambdaLR(o, lambda epoch: (epoch + 1) / 6), L.CyclicLR(o, 0.01, 0.1, step_size_up=3)],
        milestones=[6]), "sgd", 40),
    "SequentialLR-milestone-0": (lambda L, o: L.SequentialLR(
        o, [L.ExponentialLR(o, 0.5), L.LinearLR(o, 0.2, total_iters=4)], milestones=[0]), "sgd", 20),
    "ChainedScheduler": (lambda L, o: L.ChainedScheduler(
        [L.ConstantLR(o, factor=0.1, total_iters=2), L.ExponentialLR(o, gamma=0.9)]), "sgd", 30),
    "ChainedScheduler-many": (lambda L, o: L.ChainedScheduler(
        [L.LinearLR(o, 0.2, total_iters=6), L.MultiStepLR(o, [8, 16], 0.5), L.CosineAnnealingLR(o, 10),
         L.MultiplicativeLR(o, lambda epoch: 0.99)], optimizer=o), "sgd", 40),
    "ChainedScheduler-in-SequentialLR": (lambda L, o: L.SequentialLR(
        o, [L.ChainedScheduler([L.ConstantLR(o, 0.5, 4), L.ExponentialLR(o, 0.95)]), L.PolynomialLR(o, 12)],
        milestones=[8]), "sgd", 30),
}


def build(lib: Any, name: str) -> tuple[Any, Any]:
    make, kind, _ = CASES[name]
    opt = make_optimizer(lib, kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # a composition may warn as it is built, as torch's does
        return opt, make(lr_scheduler if lib is None else lib.optim.lr_scheduler, opt)


def as_float(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def assert_groups_equal(opt: Any, t_opt: Any, where: str) -> None:
    """lr, momentum/betas and the scheduler's group keys of every group equal torch's (to 1e-12)."""
    for i, (group, t_group) in enumerate(zip(opt.param_groups, t_opt.param_groups)):
        assert SCHEDULER_KEYS & group.keys() == SCHEDULER_KEYS & t_group.keys(), (where, i)
        for key in ["lr", "momentum", *sorted(SCHEDULER_KEYS)]:
            if key in t_group:
                np.testing.assert_allclose(as_float(group[key]), as_float(t_group[key]), rtol=RTOL, atol=1e-18,
                                           err_msg=f"{where}: param_groups[{i}][{key!r}]")
        if "betas" in t_group:
            assert len(group["betas"]) == 2 and group["betas"][1] == t_group["betas"][1]
            np.testing.assert_allclose(group["betas"][0], t_group["betas"][0], rtol=RTOL,
                                       err_msg=f"{where}: param_groups[{i}]['betas']")


def assert_state_equal(ours: Any, theirs: Any, where: str) -> None:
    """Two state dicts (nested) hold the same entries; numbers equal to 1e-12 (torch's private flag aside)."""
    if isinstance(theirs, dict):
        theirs = {k: v for k, v in theirs.items() if k != "_get_lr_called_within_step"}
        assert isinstance(ours, dict) and set(ours) == set(theirs), (where, sorted(ours), sorted(theirs))
        for key in theirs:
            assert_state_equal(ours[key], theirs[key], f"{where}.{key}")
    elif isinstance(theirs, (list, tuple)):
        assert isinstance(ours, (list, tuple)) and len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert_state_equal(a, b, f"{where}[{i}]")
    elif isinstance(theirs, float) and not isinstance(ours, str):
        np.testing.assert_allclose(as_float(ours), theirs, rtol=RTOL, atol=1e-18, err_msg=where)
    else:
        assert ours == theirs and type(ours) is type(theirs), (where, ours, theirs)


def step_both(opt: Any, sched: Any, t_opt: Any, t_sched: Any) -> None:
    opt.step()              # no gradients: nothing moves, but the order of calls is PyTorch's
    t_opt.step()
    sched.step()
    t_sched.step()


# --- every case, step by step ---

def warning_kinds(records: list) -> list[str]:
    """Which of PyTorch's scheduler warnings were given, in order (ours word them a little differently)."""
    phrases = {"before `optimizer.step()`": "order", "has been overridden": "overridden",
               "please use `get_last_lr()`": "get_lr", "epoch parameter": "epoch"}
    return [next((kind for phrase, kind in phrases.items() if phrase in str(r.message)), str(r.message))
            for r in records]


def recorded(call: Callable[[], Any]) -> tuple[Any, list[str]]:
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        result = call()
    return result, warning_kinds(records)


@pytest.mark.parametrize("name", list(CASES))
def test_learning_rates_and_momentum_equal_torch(torch, name) -> None:
    _, _, steps = CASES[name]
    make, kind, _ = CASES[name]
    opt, t_opt = make_optimizer(None, kind), make_optimizer(torch, kind)
    sched, ours = recorded(lambda: make(lr_scheduler, opt))
    t_sched, theirs = recorded(lambda: make(torch.optim.lr_scheduler, t_opt))
    assert ours == theirs, "construction"        # warnings where torch warns (a composition may), only there
    assert_groups_equal(opt, t_opt, "after construction")
    np.testing.assert_allclose(sched.get_last_lr(), t_sched.get_last_lr(), rtol=RTOL)
    for step in range(1, steps + 1):
        opt.step()
        t_opt.step()
        _, ours = recorded(sched.step)
        _, theirs = recorded(t_sched.step)
        assert ours == theirs == [], f"step {step}"
        assert_groups_equal(opt, t_opt, f"step {step}")
        np.testing.assert_allclose(sched.get_last_lr(), t_sched.get_last_lr(), rtol=RTOL, atol=1e-18)
        assert sched.get_last_lr() == [g["lr"] for g in opt.param_groups]
        assert getattr(sched, "last_epoch", None) == getattr(t_sched, "last_epoch", None)
    assert_state_equal(sched.state_dict(), t_sched.state_dict(), name)


# --- state dicts ---

@pytest.mark.parametrize("name", list(CASES))
def test_a_scheduler_restored_mid_run_continues_as_torch(torch, tmp_path, name) -> None:
    _, _, steps = CASES[name]
    opt, sched = build(None, name)
    t_opt, t_sched = build(torch, name)
    middle = steps // 3
    for _ in range(middle):
        step_both(opt, sched, t_opt, t_sched)
    nn.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, tmp_path / "ck.npz")
    checkpoint = nn.load(tmp_path / "ck.npz")
    opt, sched = build(None, name)          # a fresh run: its own first step, then the checkpoint
    opt.load_state_dict(checkpoint["optimizer"])   # with OneCycleLR's/CyclicLR's keys in the groups
    sched.load_state_dict(checkpoint["scheduler"])
    assert_groups_equal(opt, t_opt, "restored")
    for step in range(middle + 1, steps + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            step_both(opt, sched, t_opt, t_sched)
        assert_groups_equal(opt, t_opt, f"step {step} after the restore")
        np.testing.assert_allclose(sched.get_last_lr(), t_sched.get_last_lr(), rtol=RTOL, atol=1e-18)


@pytest.mark.parametrize("name", list(CASES))
def test_torch_state_dicts_load_and_continue(torch, name) -> None:
    """A torch scheduler's state (mid-run) loads into ours, which then continues as torch's."""
    _, _, steps = CASES[name]
    t_opt, t_sched = build(torch, name)
    for _ in range(steps // 2):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_opt.step()
            t_sched.step()
    opt, sched = build(None, name)
    for group, t_group in zip(opt.param_groups, t_opt.param_groups):
        for key in {"lr", "momentum", "betas", *SCHEDULER_KEYS} & t_group.keys():
            group[key] = t_group[key]
    sched.load_state_dict(t_sched.state_dict())
    assert_state_equal(sched.state_dict(), t_sched.state_dict(), name)
    for step in range(steps // 2 + 1, steps + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            step_both(opt, sched, t_opt, t_sched)
        assert_groups_equal(opt, t_opt, f"step {step}")


def test_callable_objects_are_saved_by_their_attributes(torch) -> None:
    opt, sched = build(None, "MultiplicativeLR-list")
    state = sched.state_dict()
    assert state["lr_lambdas"] == [None, {"rate": 0.999}, None]
    state["lr_lambdas"][1] = {"rate": 0.5}
    sched.load_state_dict(state)
    assert sched.lr_lambdas[1].rate == 0.5
    with pytest.raises(IndexError, match=r"MultiplicativeLR.load_state_dict: lr_lambdas\[3\] holds"):
        sched.load_state_dict({**state, "lr_lambdas": [None, None, None, {"rate": 0.5}]})

    opt, sched = build(None, "CyclicLR-scale-cycle")
    t_opt, t_sched = build(torch, "CyclicLR-scale-cycle")
    assert sched.state_dict()["_scale_fn_custom"] == t_sched.state_dict()["_scale_fn_custom"] == {"rate": 0.8}
    sched.load_state_dict({**sched.state_dict(), "_scale_fn_custom": {"rate": 0.25}})
    assert sched._scale_fn_custom.rate == 0.25 and sched.scale_fn(2) == 0.0625
    _, lambda_sched = build(None, "CyclicLR-scale-iterations")
    assert lambda_sched.state_dict()["_scale_fn_custom"] is None
    with pytest.raises(ValueError, match="_scale_fn_custom holds"):
        lambda_sched.load_state_dict({**lambda_sched.state_dict(), "_scale_fn_custom": {"rate": 2}})


def test_multistep_milestones_are_a_counter_in_the_state(torch) -> None:
    _, sched = build(None, "MultiStepLR")
    _, t_sched = build(torch, "MultiStepLR")
    state = sched.state_dict()
    assert state["milestones"] == t_sched.state_dict()["milestones"] == Counter({3: 1, 10: 2, 25: 1})
    state["milestones"][99] = 1
    assert 99 not in sched.milestones                          # a copy, not the scheduler's own
    sched.load_state_dict({**state, "milestones": {"4": 1, 8: 2}})   # as a file may give it back
    assert sched.milestones == Counter({4: 1, 8: 2})
    with pytest.raises(ValueError, match="MultiStepLR.load_state_dict: milestones must be whole epoch numbers"):
        sched.load_state_dict({**state, "milestones": {2.5: 1}})


def test_composition_state_errors_change_nothing() -> None:
    opt, sched = build(None, "SequentialLR-three")
    for _ in range(6):
        opt.step()
        sched.step()
    state = sched.state_dict()
    assert set(state) == {"_last_lr", "_milestones", "_schedulers", "last_epoch"}
    assert [set(s) >= {"last_epoch", "base_lrs"} for s in state["_schedulers"]] == [True] * 3
    bad = {**state, "_schedulers": [state["_schedulers"][0], {**state["_schedulers"][1], "gamma_typo": 1},
                                    state["_schedulers"][2]]}
    with pytest.raises(ValueError, match=r"ExponentialLR.load_state_dict: unknown entries \['gamma_typo'\]"):
        sched.load_state_dict(bad)
    with pytest.raises(ValueError, match="SequentialLR.load_state_dict: _schedulers must hold the state of each"):
        sched.load_state_dict({**state, "_schedulers": state["_schedulers"][:2]})
    with pytest.raises(ValueError, match="SequentialLR.load_state_dict: _milestones must be in increasing order"):
        sched.load_state_dict({**state, "_milestones": [12, 4]})
    assert_state_equal(sched.state_dict(), state, "unchanged")


# --- step(epoch), float epochs, closed forms ---

@pytest.mark.parametrize("name", ["MultiStepLR", "ConstantLR-0.5-8", "LinearLR-up", "PolynomialLR-2",
                                  "MultiplicativeLR", "OneCycleLR-cos", "CyclicLR-triangular2"])
def test_step_with_an_epoch_uses_the_closed_form_where_torch_does(torch, name) -> None:
    opt, sched = build(None, name)
    t_opt, t_sched = build(torch, name)
    for epoch in (3, 12, 7, 25, 8, 9):
        opt.step()
        t_opt.step()
        with pytest.warns(UserWarning, match="epoch parameter in scheduler.step\\(\\) is deprecated"):
            sched.step(epoch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_sched.step(epoch)
        assert sched.last_epoch == t_sched.last_epoch == epoch
        assert_groups_equal(opt, t_opt, f"step({epoch})")
        step_both(opt, sched, t_opt, t_sched)
        assert_groups_equal(opt, t_opt, f"step() after step({epoch})")


@pytest.mark.parametrize("name", ["CosineAnnealingWarmRestarts", "CosineAnnealingWarmRestarts-mult2",
                                  "CosineAnnealingWarmRestarts-mult3"])
def test_warm_restarts_with_float_epochs(torch, name) -> None:
    opt, sched = build(None, name)
    t_opt, t_sched = build(torch, name)
    batches = 7
    for epoch in range(8):
        for batch in range(batches):
            opt.step()
            t_opt.step()
            with warnings.catch_warnings():
                warnings.simplefilter("error")       # step(epoch) is this schedule's documented use: no warning
                sched.step(epoch + batch / batches)
            t_sched.step(epoch + batch / batches)
            assert (sched.T_cur, sched.T_i, sched.last_epoch) == pytest.approx(
                (t_sched.T_cur, t_sched.T_i, t_sched.last_epoch), rel=RTOL)
            assert_groups_equal(opt, t_opt, f"epoch {epoch} batch {batch}")
    # interleaved: whole steps, a jump, whole steps again
    for epoch in [None] * 5 + [26, None, None, 3.5, None, 100.25, None]:
        opt.step()
        t_opt.step()
        sched.step(epoch)
        t_sched.step(epoch)
        assert sched.last_epoch == t_sched.last_epoch
        assert_groups_equal(opt, t_opt, f"step({epoch})")
    assert_state_equal(sched.state_dict(), t_sched.state_dict(), name)
    assert sched.state_dict()["_step_count"] == 0           # as torch's: this step() never counts
    with pytest.raises(ValueError, match="CosineAnnealingWarmRestarts: Expected non-negative epoch, but got -1"):
        sched.step(-1)
    with pytest.raises(ValueError):
        t_sched.step(-1)
    assert_groups_equal(opt, t_opt, "after the refused step")


RESUMED: dict[str, tuple[Callable[[Any, Any, int], Any], str]] = {
    "MultiStepLR": (lambda L, o, last: L.MultiStepLR(o, [3, 8, 8], 0.5, last_epoch=last), "sgd"),
    "ConstantLR": (lambda L, o, last: L.ConstantLR(o, 0.5, total_iters=8, last_epoch=last), "sgd"),
    "LinearLR": (lambda L, o, last: L.LinearLR(o, 0.25, 0.9, total_iters=12, last_epoch=last), "sgd"),
    "MultiplicativeLR": (lambda L, o, last: L.MultiplicativeLR(o, lambda epoch: 0.9, last_epoch=last), "sgd"),
    "PolynomialLR": (lambda L, o, last: L.PolynomialLR(o, 20, 2.0, last_epoch=last), "sgd"),
    "CosineAnnealingWarmRestarts": (lambda L, o, last: L.CosineAnnealingWarmRestarts(o, 3, 2, last_epoch=last),
                                    "sgd"),
    "OneCycleLR": (lambda L, o, last: L.OneCycleLR(o, [1.0, 0.5, 2.0], total_steps=40, three_phase=True,
                                                   last_epoch=last), "sgd"),
    "CyclicLR": (lambda L, o, last: L.CyclicLR(o, 0.01, 0.1, step_size_up=3, mode="exp_range", gamma=0.9,
                                               last_epoch=last), "adam"),
}


@pytest.mark.parametrize("name", list(RESUMED))
def test_resuming_with_last_epoch_as_torch(torch, name) -> None:
    """A scheduler built with last_epoch=7 on an optimizer that ran 7 steps takes over as torch's does."""
    make, kind = RESUMED[name]
    runs = []
    for lib in (None, torch):
        L = lr_scheduler if lib is None else lib.optim.lr_scheduler
        opt = make_optimizer(lib, kind)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sched = make(L, opt, -1)
            for _ in range(7):
                opt.step()
                sched.step()
            resumed = make(L, opt, 7)
        runs.append((opt, resumed))
    (opt, sched), (t_opt, t_sched) = runs
    assert_groups_equal(opt, t_opt, "resumed")
    assert sched.last_epoch == t_sched.last_epoch
    for step in range(20):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            step_both(opt, sched, t_opt, t_sched)
        assert_groups_equal(opt, t_opt, f"step {step} after resuming")
    assert_state_equal(sched.state_dict(), t_sched.state_dict(), name)
    with pytest.raises(KeyError, match=r"param 'initial_lr' is not specified in param_groups\[0\]"):
        make(lr_scheduler, make_optimizer(None, kind), 3)


def test_one_cycle_refuses_a_step_past_its_end_and_changes_nothing(torch) -> None:
    opt, sched = build(None, "OneCycleLR-cos")
    t_opt, t_sched = build(torch, "OneCycleLR-cos")
    for _ in range(50):
        step_both(opt, sched, t_opt, t_sched)
    before = ([dict(g) for g in opt.param_groups], sched.state_dict())
    with pytest.raises(ValueError, match="OneCycleLR: Tried to step 51 times. The specified number of total steps "
                                         "is 50"):
        sched.step()
    with pytest.raises(ValueError, match="Tried to step 51 times"):
        t_sched.step()
    assert ([dict(g) for g in opt.param_groups], sched.state_dict()) == before


def test_cycled_momentum_is_restored_when_a_step_fails() -> None:
    calls = []

    def scale(x: float) -> float:
        calls.append(x)
        return math.nan if x == 3 else 1.0

    opt = make_optimizer(None)
    sched = lr_scheduler.CyclicLR(opt, 0.01, 0.1, step_size_up=2, scale_fn=scale, scale_mode="iterations")
    opt.step()
    sched.step()
    sched.step()
    before = ([dict(g) for g in opt.param_groups], sched.state_dict())
    with pytest.raises(ValueError, match=r"CyclicLR.step: the schedule gave lr=nan for param_groups\[0\]"):
        sched.step()
    assert ([dict(g) for g in opt.param_groups], sched.state_dict()) == before   # momentum too
    assert calls.count(3) == 6          # once per lr and once per momentum of each group, as torch calls it


def test_a_tensor_lr_is_changed_in_place() -> None:
    lr = mg.tensor(0.1, dtype=mg.float64)
    opt = optim.Adam([mg.zeros(2, requires_grad=True)], lr=lr)
    sched = lr_scheduler.OneCycleLR(opt, 0.5, total_steps=10)
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] is lr
    last = sched.get_last_lr()[0]
    assert isinstance(last, mg.Tensor) and last is not lr and last.item() == lr.item() > 0.02


# --- warnings ---

def test_warnings_where_torch_warns(torch) -> None:
    for lib in (None, torch):
        L = lr_scheduler if lib is None else lib.optim.lr_scheduler
        opt = make_optimizer(lib)
        sched = L.LinearLR(opt, 0.5, total_iters=4)
        with pytest.warns(UserWarning, match=r"Detected call of `lr_scheduler.step\(\)` before `optimizer.step\(\)`"):
            sched.step()
        with pytest.warns(UserWarning, match=r"please use `get_last_lr\(\)`"):
            sched.get_lr()
        opt = make_optimizer(lib)
        sched = L.MultiStepLR(opt, [2])
        opt.step = lambda: None      # replaced after the scheduler wrapped it
        with pytest.warns(UserWarning, match=r"`optimizer.step\(\)` has been overridden"):
            sched.step()
        opt = make_optimizer(lib)
        sched = L.CosineAnnealingWarmRestarts(opt, 3)
        with warnings.catch_warnings():
            warnings.simplefilter("error")        # its own step(): neither the order check nor step(epoch) warns
            sched.step()
            sched.step(2.5)


def test_the_optimizer_is_wrapped_once_and_held_weakly() -> None:
    import gc
    import weakref

    opt = make_optimizer(None)
    lr_scheduler.ConstantLR(opt)
    step = opt.step
    lr_scheduler.ExponentialLR(opt, 0.9)
    assert opt.step is step and step._wrapped_by_lr_sched
    opt.step()
    assert opt._opt_called
    gone = weakref.ref(opt)
    del opt, step
    gc.disable()                 # freed by reference counting alone: no cycle through the wrapper
    try:
        assert gone() is None
    finally:
        gc.enable()


# --- errors ---

ERRORS = [
    # (build, words in our message, torch raises ValueError too)
    (lambda L, o: L.ConstantLR(o, factor=1.5), ("ConstantLR", "factor", "between 0 and 1"), True),
    (lambda L, o: L.ConstantLR(o, factor=-0.1), ("ConstantLR", "factor"), True),
    (lambda L, o: L.ConstantLR(o, total_iters=-2), ("ConstantLR", "total_iters", "-2"), False),
    (lambda L, o: L.LinearLR(o, start_factor=0), ("LinearLR", "start_factor", "greater than 0"), True),
    (lambda L, o: L.LinearLR(o, start_factor=1.5), ("LinearLR", "start_factor"), True),
    (lambda L, o: L.LinearLR(o, end_factor=-0.5), ("LinearLR", "end_factor", "between 0 and 1"), True),
    (lambda L, o: L.LinearLR(o, end_factor=2.0), ("LinearLR", "end_factor"), True),
    (lambda L, o: L.LinearLR(o, total_iters=2.5), ("LinearLR", "total_iters", "2.5"), False),
    (lambda L, o: L.MultiStepLR(o, [1.5, 3]), ("MultiStepLR", "milestones", "1.5"), False),
    (lambda L, o: L.MultiStepLR(o, 3), ("MultiStepLR", "milestones"), False),
    (lambda L, o: L.PolynomialLR(o, total_iters=-1), ("PolynomialLR", "total_iters"), False),
    (lambda L, o: L.PolynomialLR(o, power="2"), ("PolynomialLR", "power"), False),
    (lambda L, o: L.MultiplicativeLR(o, [lambda e: 1.0] * 2), ("MultiplicativeLR", "Expected 3 lr_lambdas, but got 2"),
     True),
    (lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=0), ("CosineAnnealingWarmRestarts", "T_0", "0"), True),
    (lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=2.5), ("CosineAnnealingWarmRestarts", "T_0", "2.5"), True),
    (lambda L, o: L.CosineAnnealingWarmRestarts(o, 5, T_mult=0), ("CosineAnnealingWarmRestarts", "T_mult"), True),
    (lambda L, o: L.CosineAnnealingWarmRestarts(o, 5, T_mult=1.5), ("CosineAnnealingWarmRestarts", "T_mult"), True),
    (lambda L, o: L.CosineAnnealingWarmRestarts(o, 5, eta_min="0"), ("CosineAnnealingWarmRestarts", "eta_min"), True),
    (lambda L, o: L.OneCycleLR(o, 1.0, total_steps=0), ("OneCycleLR", "total_steps", "0"), True),
    (lambda L, o: L.OneCycleLR(o, 1.0, total_steps=10.0), ("OneCycleLR", "total_steps"), True),
    (lambda L, o: L.OneCycleLR(o, 1.0), ("OneCycleLR", "total_steps OR (epochs AND steps_per_epoch)"), True),
    (lambda L, o: L.OneCycleLR(o, 1.0, epochs=0, steps_per_epoch=5), ("OneCycleLR", "epochs", "0"), True),
    (lambda L, o: L.OneCycleLR(o, 1.0, epochs=2, steps_per_epoch=-5), ("OneCycleLR", "steps_per_epoch"), True),
    (lambda L, o: L.OneCycleLR(o, 1.0, total_steps=10, pct_start=1), ("OneCycleLR", "pct_start", "float"), True),
    (lambda L, o: L.OneCycleLR(o, 1.0, total_steps=10, pct_start=1.5), ("OneCycleLR", "pct_start"), True),
    (lambda L, o: L.OneCycleLR(o, 1.0, total_steps=10, anneal_strategy="exp"), ("OneCycleLR", "anneal_strategy"),
     True),
    (lambda L, o: L.OneCycleLR(o, [1.0, 2.0], total_steps=10), ("OneCycleLR", "max_lr", "2 values", "3"), True),
    (lambda L, o: L.OneCycleLR(o, 1.0, total_steps=10, max_momentum=[0.9]), ("OneCycleLR", "max_momentum"), True),
    (lambda L, o: L.OneCycleLR(o, 1.0, total_steps=10, div_factor=0), ("OneCycleLR", "div_factor"), False),
    (lambda L, o: L.CyclicLR(o, 0.01, 0.1, mode="sine"), ("CyclicLR", "mode", "'sine'", "scale_fn is None"), True),
    (lambda L, o: L.CyclicLR(o, [0.01] * 4, 0.1), ("CyclicLR", "base_lr", "4 values"), True),
    (lambda L, o: L.CyclicLR(o, 0.01, (0.1, 0.2)), ("CyclicLR", "max_lr", "2 values"), True),
    (lambda L, o: L.CyclicLR(o, 0.01, 0.1, base_momentum=[0.8] * 2), ("CyclicLR", "base_momentum"), True),
    (lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=0), ("CyclicLR", "step_size_up"), False),
    (lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_down=-1), ("CyclicLR", "step_size_down"), False),
    (lambda L, o: L.CyclicLR(o, 0.01, 0.1, scale_fn=abs, scale_mode="step"), ("CyclicLR", "scale_mode"), False),
    (lambda L, o: L.SequentialLR(o, [], []), ("SequentialLR", "at least one scheduler"), True),
    (lambda L, o: L.SequentialLR(o, [L.ConstantLR(o), L.ExponentialLR(o, 0.9)], [2, 4]),
     ("SequentialLR", "milestones", "one milestone fewer"), True),
    (lambda L, o: L.SequentialLR(o, [L.ConstantLR(o), L.ReduceLROnPlateau(o)], [2]),
     ("SequentialLR", "ReduceLROnPlateau", "index 1"), True),
    (lambda L, o: L.SequentialLR(o, [L.ConstantLR(o), L.ExponentialLR(o, 0.9), L.StepLR(o, 2)], [6, 3]),
     ("SequentialLR", "milestones", "increasing"), False),
    (lambda L, o: L.ChainedScheduler([]), ("ChainedScheduler", "at least one scheduler"), True),
    (lambda L, o: L.ChainedScheduler([L.ExponentialLR(o, 0.9), L.ReduceLROnPlateau(o)]),
     ("ChainedScheduler", "ReduceLROnPlateau", "index 1"), True),
]


@pytest.mark.parametrize("index", range(len(ERRORS)), ids=lambda i: str(i))
def test_bad_arguments_raise_value_errors_naming_the_scheduler_and_argument(torch, index) -> None:
    make, words, torch_refuses = ERRORS[index]
    opt = make_optimizer(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError) as info:
            make(lr_scheduler, opt)
    missing = [word for word in words if word not in str(info.value)]
    assert not missing, f"message lacks {missing}: {info.value}"
    if torch_refuses:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(ValueError):
                make(torch.optim.lr_scheduler, make_optimizer(torch))


def test_other_errors_as_torch(torch) -> None:
    for lib in (None, torch):
        L = lr_scheduler if lib is None else lib.optim.lr_scheduler
        with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
            L.OneCycleLR(make_optimizer(lib, "adagrad"), 1.0, total_steps=10)
        with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
            L.CyclicLR(make_optimizer(lib, "adagrad"), 0.01, 0.1)
        with pytest.raises(TypeError, match="lr_lambda should be a function"):
            L.MultiplicativeLR(make_optimizer(lib), [lambda e: 1.0, 0.5, lambda e: 1.0])
        opt, other = make_optimizer(lib), make_optimizer(lib)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            first, second = L.ConstantLR(opt), L.ExponentialLR(other, 0.9)
        with pytest.raises(ValueError, match="expects all schedulers to belong to the same optimizer"):
            L.SequentialLR(opt, [first, second], [3])
        with pytest.raises(ValueError, match="expects all schedulers to belong to the same optimizer"):
            L.ChainedScheduler([first, second])
        with pytest.raises(ValueError, match="expects all schedulers to belong to the same optimizer"):
            L.ChainedScheduler([first], optimizer=other)
        with pytest.raises(TypeError, match="should have `optimizer` as its attribute"):
            L.SequentialLR(opt, [first, object()], [3])
    with pytest.raises(TypeError, match="OneCycleLR: list is not an Optimizer"):
        lr_scheduler.OneCycleLR([], 1.0, total_steps=10)


@pytest.mark.parametrize("make", [
    lambda o: lr_scheduler.OneCycleLR(o, 1.0, total_steps=10, last_epoch=-2),
    lambda o: lr_scheduler.CyclicLR(o, 0.01, 0.1, last_epoch=-2),
    lambda o: lr_scheduler.CyclicLR(o, 0.01, 0.1, scale_fn=lambda x: math.nan),
    lambda o: lr_scheduler.OneCycleLR(o, math.inf, total_steps=10, anneal_strategy="linear"),
], ids=["OneCycleLR-last_epoch", "CyclicLR-last_epoch", "CyclicLR-nan", "OneCycleLR-inf"])
def test_a_failed_construction_leaves_the_optimizer_as_it_was(make) -> None:
    opt = make_optimizer(None, "adam")
    before = [dict(g) for g in opt.param_groups]
    with pytest.raises(ValueError):
        make(opt)
    assert [dict(g) for g in opt.param_groups] == before
    assert not hasattr(opt.step, "_wrapped_by_lr_sched")
