"""Round 18: whole training loops against torch.optim (float64 weights, the same batches, every step compared)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
from nn import optim
from nn.optim import lr_scheduler

torch = pytest.importorskip("torch", reason="no torch")


pytestmark = pytest.mark.usefixtures("torch_optim_loaded")


def _lrs(opt: Any) -> list[float]:
    return [float(group["lr"]) for group in opt.param_groups]


def _resume_after_a_group_was_added(lib: Any, opt_module: Any, schedulers: Any, name: str, kwargs: dict) -> list:
    """lrs of 5 steps where a second group joins after step 2, then of 2 steps after a checkpoint resume."""
    a = lib.tensor(np.ones(2), requires_grad=True)
    b = lib.tensor(np.ones(2), requires_grad=True)
    opt = opt_module.SGD([a], lr=0.1)
    sched = getattr(schedulers, name)(opt, **kwargs)
    seen = []
    for step in range(5):
        if step == 2:
            opt.add_param_group({"params": [b], "lr": 0.3})
        a.grad, b.grad = lib.tensor(np.ones(2)), lib.tensor(np.ones(2))
        opt.step()
        sched.step()
        seen.append(_lrs(opt))
    resumed = opt_module.SGD([{"params": [a]}, {"params": [b]}], lr=0.1)
    resumed_sched = getattr(schedulers, name)(resumed, **kwargs)
    resumed.load_state_dict(opt.state_dict())
    resumed_sched.load_state_dict(sched.state_dict())
    for _ in range(2):
        resumed.step()
        resumed_sched.step()
        seen.append(_lrs(resumed))
    return seen


@pytest.mark.parametrize("name, kwargs", [
    ("StepLR", dict(step_size=2, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[1, 3, 6])),
    ("ExponentialLR", dict(gamma=0.9)),
    ("LinearLR", dict(start_factor=0.5, total_iters=6)),
    ("PolynomialLR", dict(total_iters=9)),
])
def test_scheduler_state_saved_after_add_param_group_loads_as_torch(name: str, kwargs: dict) -> None:
    # the scheduler's base_lrs keeps one lr per group it was made with; PyTorch loads that state into a scheduler of
    # the resumed optimizer (which has the added group too) and trains on, minigrad refused it with ValueError
    theirs = _resume_after_a_group_was_added(torch, torch.optim, torch.optim.lr_scheduler, name, kwargs)
    ours = _resume_after_a_group_was_added(mg, optim, lr_scheduler, name, kwargs)
    assert [len(lrs) for lrs in ours] == [len(lrs) for lrs in theirs]
    np.testing.assert_allclose(np.concatenate(ours), np.concatenate(theirs), rtol=1e-12)


def _lbfgs_run(lib: Any, opt_module: Any, start: np.ndarray, steps: int, state: dict | None = None) -> tuple:
    """(the parameter, the optimizer) after ``steps`` LBFGS steps on a quartic, from ``state`` if given."""
    p = lib.tensor(start.copy(), requires_grad=True)
    opt = opt_module.LBFGS([p], lr=0.5, max_iter=3, history_size=4)
    if state is not None:
        opt.load_state_dict(state)

    def closure() -> Any:
        opt.zero_grad()
        loss = ((p - 1.0) ** 4).sum() + (p ** 2).sum()
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)
    return p, opt


def _numbers(values: list) -> list:
    return [None if v is None else float(v) for v in values]


def test_lbfgs_state_dict_keeps_the_two_loop_alphas_as_torch() -> None:
    # PyTorch's LBFGS keeps the two-loop recursion's alphas in its state ("al", history_size long, None where no pair
    # was used yet); minigrad's state dict lacked the key, and resuming from PyTorch's dropped it
    start = np.array([0.3, -1.2, 2.0])
    tp, topt = _lbfgs_run(torch, torch.optim, start, 2)
    mp, mopt = _lbfgs_run(mg, optim, start, 2)
    theirs, ours = topt.state_dict()["state"][0], mopt.state_dict()["state"][0]
    assert sorted(ours) == sorted(theirs)
    assert len(ours["al"]) == 4 and [v is None for v in ours["al"]] == [v is None for v in theirs["al"]]
    np.testing.assert_allclose(np.array(_numbers(ours["al"]), dtype=float),
                               np.array(_numbers(theirs["al"]), dtype=float), rtol=1e-9)
    assert isinstance(ours["al"][0], mg.Tensor) and ours["al"][0].shape == () and ours["al"][0].dtype == mg.float64
    converted = {"state": {0: {k: ([None if u is None else mg.tensor(u.numpy()) for u in v] if isinstance(v, list)
                                   else mg.tensor(v.numpy()) if isinstance(v, torch.Tensor) else v)
                               for k, v in theirs.items()}},
                 "param_groups": [dict(g) for g in topt.state_dict()["param_groups"]]}
    resumed = _lbfgs_run(mg, optim, tp.detach().numpy(), 0, converted)[1]
    assert _numbers(resumed.state_dict()["state"][0]["al"]) == _numbers(theirs["al"])


# --- whole training loops: configurations the fuzzer drew (/tmp/fuzz18_training.py), two per optimizer family ---

def _schedule(lib: Any, opt: Any, spec: tuple | None) -> Any:
    """The scheduler a spec names: (class name, kwargs); lr_lambda "pow" is 0.9 ** epoch."""
    if spec is None:
        return None
    schedulers = lib.optim.lr_scheduler
    name, kwargs = spec[0], dict(spec[1])
    if name in ("LambdaLR", "MultiplicativeLR"):
        kwargs["lr_lambda"] = lambda epoch: 0.9 ** epoch
    if name == "SequentialLR":
        kwargs["schedulers"] = [schedulers.LinearLR(opt, start_factor=0.5, total_iters=2),
                                schedulers.ExponentialLR(opt, gamma=0.8)]
    if name == "ChainedScheduler":
        return schedulers.ChainedScheduler([schedulers.StepLR(opt, step_size=2, gamma=0.5),
                                            schedulers.ExponentialLR(opt, gamma=0.9)], optimizer=opt)
    return getattr(schedulers, name)(opt, **kwargs)


def _numbers_of(entries: dict) -> dict:
    """An optimizer state entry's values as float arrays (None kept), for comparing."""
    def one(v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            return [one(u) for u in v]
        return None if v is None else np.array(v.detach().numpy() if hasattr(v, "detach") else v, dtype=float)
    return {k: one(v) for k, v in entries.items()}


def _trajectory(lib: Any, opt_name: str, kwargs: dict, sched: tuple | None, options: dict) -> list:
    """Per step: the loss, the lrs, every parameter and buffer and the optimizer's state, for 7 steps of a
    Linear(no bias)-BatchNorm1d-Tanh-Linear classifier (float64, weights from torch.manual_seed(0)) on fixed batches.

    options: groups=2 (the last three parameters in a group with lr × 2 and ``group2``'s values), frozen (the
    BatchNorm weight), clip ("norm" or "value"), accum (two micro-batches per step), reload (the step at which
    optimizer and scheduler are rebuilt from their state dicts), plateau losses go to ReduceLROnPlateau."""
    torch.manual_seed(0)
    reference = torch.nn.Sequential(torch.nn.Linear(4, 5, bias=False), torch.nn.BatchNorm1d(5), torch.nn.Tanh(),
                                    torch.nn.Linear(5, 3)).double()
    if lib is torch:
        model = reference
    else:
        model = lib.nn.Sequential(lib.nn.Linear(4, 5, bias=False), lib.nn.BatchNorm1d(5), lib.nn.Tanh(),
                                  lib.nn.Linear(5, 3)).double()
        model.load_state_dict({k: v.numpy() for k, v in reference.state_dict().items()})
    params = list(model.parameters())
    if options.get("frozen"):
        params[1].requires_grad_(False)
    groups = [{"params": params}]
    if options.get("groups") == 2:
        groups = [{"params": params[:2]}, {"params": params[2:], "lr": kwargs["lr"] * 2, **options.get("group2", {})}]

    def make() -> tuple:
        opt = getattr(lib.optim, opt_name)([dict(g) for g in groups], **kwargs)
        return opt, _schedule(lib, opt, sched)

    def loss_of(x: Any, y: Any) -> Any:
        return lib.nn.functional.cross_entropy(model(x), y, label_smoothing=0.1)

    opt, scheduler = make()
    rng = np.random.default_rng(1)
    seen = []
    for step in range(7):
        batches = [(lib.tensor(rng.standard_normal((5, 4))), lib.tensor(rng.integers(0, 3, 5))) for _ in range(2)]
        if step == options.get("reload"):
            saved, saved_schedule = opt.state_dict(), scheduler and scheduler.state_dict()
            opt, scheduler = make()
            opt.load_state_dict(saved)
            if scheduler is not None:
                scheduler.load_state_dict(saved_schedule)
        if opt_name == "LBFGS":
            def closure(opt: Any = opt, batch: tuple = batches[0]) -> Any:
                opt.zero_grad()
                loss = loss_of(*batch)
                loss.backward()
                return loss
            loss = opt.step(closure).item()
        else:
            opt.zero_grad(set_to_none=step % 2 == 0)
            loss = 0.0
            for x, y in batches[:2 if options.get("accum") else 1]:
                part = loss_of(x, y) / (2 if options.get("accum") else 1)
                part.backward()
                loss += part.item()
            trained = [p for p in params if p.requires_grad]
            if options.get("clip") == "norm":
                lib.nn.utils.clip_grad_norm_(trained, 0.5)
            elif options.get("clip") == "value":
                lib.nn.utils.clip_grad_value_(trained, 0.1)
            opt.step()
        if scheduler is not None and sched[0] == "ReduceLROnPlateau":
            scheduler.step(loss)
        elif scheduler is not None:
            scheduler.step()
        state = opt.state_dict()["state"]
        seen.append({"loss": loss, "lrs": [float(g["lr"]) for g in opt.param_groups],
                     "model": {k: v.detach().numpy().copy() for k, v in model.state_dict().items()},
                     "state": {i: _numbers_of(entries) for i, entries in state.items()}})
    return seen


def _assert_same_trajectory(ours: list, theirs: list) -> None:
    for step, (mine, reference) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(mine["loss"], reference["loss"], rtol=1e-10, err_msg=f"step {step} loss")
        np.testing.assert_allclose(mine["lrs"], reference["lrs"], rtol=1e-10, err_msg=f"step {step} lrs")
        for name, value in reference["model"].items():
            np.testing.assert_allclose(mine["model"][name], value, rtol=1e-10, atol=1e-12,
                                       err_msg=f"step {step} {name}")
        assert mine["state"].keys() == reference["state"].keys(), step
        for index, entries in reference["state"].items():
            assert sorted(mine["state"][index]) == sorted(entries), (step, index)
            for key, value in entries.items():
                if key == "al":
                    continue       # LBFGS's scratch alphas: compared by test_lbfgs_state_dict_keeps_..._as_torch
                mine_value = mine["state"][index][key]
                if isinstance(value, list):
                    assert len(mine_value) == len(value), (step, index, key)
                    value, mine_value = np.array(value, dtype=float), np.array(mine_value, dtype=float)
                np.testing.assert_allclose(mine_value, value, rtol=1e-10, atol=1e-12,
                                           err_msg=f"step {step} state[{index}][{key}]")


_CHAINED = ("ChainedScheduler", {})
_TRAJECTORIES = [   # (optimizer, its kwargs, scheduler, loop options): drawn by the fuzzer, two per family
    ("SGD", dict(lr=0.05, momentum=0.5, nesterov=True), _CHAINED, dict(accum=True, reload=2)),
    ("SGD", dict(lr=0.01, momentum=0.5, nesterov=True),
     ("CyclicLR", dict(base_lr=0.002, max_lr=0.01, step_size_up=1, mode="triangular2", gamma=0.9,
                       base_momentum=0.8, max_momentum=0.9)),
     dict(groups=2, clip="value", group2=dict(momentum=0.0))),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.9), eps=1e-3, amsgrad=True, decoupled_weight_decay=True),
     ("MultiStepLR", dict(milestones=[3, 6], gamma=0.1)),
     dict(groups=2, frozen=True, reload=2, group2=dict(weight_decay=0.0, amsgrad=True))),
    ("Adam", dict(lr=0.01, eps=1e-3), ("MultiStepLR", dict(milestones=[4, 5, 6], gamma=0.5)),
     dict(groups=2, frozen=True, clip="norm", accum=True, group2=dict(eps=1e-6, amsgrad=True))),
    ("AdamW", dict(lr=0.001, betas=(0.0, 0.99), weight_decay=0.0, amsgrad=True), ("SequentialLR", dict(milestones=[1])),
     dict(groups=2)),
    ("AdamW", dict(lr=0.001, betas=(0.8, 0.9), eps=1e-3, amsgrad=True), _CHAINED, dict(accum=True, reload=2)),
    ("RMSprop", dict(lr=0.001, alpha=0.9, eps=1e-4, momentum=0.9, centered=True),
     ("CosineAnnealingLR", dict(T_max=3)),
     dict(groups=2, clip="norm", accum=True, reload=5, group2=dict(weight_decay=0.05, momentum=0.0))),
    ("RMSprop", dict(lr=0.001, eps=1e-4), ("CosineAnnealingLR", dict(T_max=5)), dict(accum=True, reload=4)),
    ("Adagrad", dict(lr=0.01, lr_decay=0.01, initial_accumulator_value=0.1), ("CosineAnnealingLR", dict(T_max=10)),
     dict(groups=2, frozen=True, clip="norm", accum=True, reload=3)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.1), _CHAINED,
     dict(groups=2, clip="norm", reload=2, group2=dict(eps=1e-6))),
    ("Adadelta", dict(lr=0.5), ("MultiplicativeLR", dict(lr_lambda="pow")), dict(reload=3)),
    ("Adadelta", dict(lr=1.0, eps=1e-3), ("ExponentialLR", dict(gamma=0.5)),
     dict(groups=2, clip="norm", reload=2, group2=dict(eps=1e-6))),
    ("Adamax", dict(lr=0.05), ("MultiplicativeLR", dict(lr_lambda="pow")), dict(reload=3)),
    ("Adamax", dict(lr=0.002, eps=1e-3), ("ExponentialLR", dict(gamma=0.5)),
     dict(groups=2, clip="norm", reload=2, group2=dict(betas=(0.5, 0.8)))),
    ("NAdam", dict(lr=0.05, betas=(0.5, 0.9), eps=1e-3, momentum_decay=0.1, decoupled_weight_decay=True),
     ("CosineAnnealingLR", dict(T_max=3)),
     dict(groups=2, clip="norm", accum=True, reload=5,
          group2=dict(weight_decay=0.05, betas=(0.5, 0.8), momentum_decay=0.02))),
    ("NAdam", dict(lr=0.05, eps=1e-3), ("CosineAnnealingLR", dict(T_max=5)), dict(accum=True, reload=4)),
    ("RAdam", dict(lr=0.05, betas=(0.9, 0.6), decoupled_weight_decay=True), ("SequentialLR", dict(milestones=[1])),
     dict(groups=2)),
    ("RAdam", dict(lr=0.05, betas=(0.5, 0.9), eps=1e-3, decoupled_weight_decay=True), _CHAINED,
     dict(accum=True, reload=2)),
    ("ASGD", dict(lr=0.1, alpha=0.5, t0=2.0), ("CosineAnnealingLR", dict(T_max=10)),
     dict(groups=2, frozen=True, clip="norm", accum=True, reload=3, group2=dict(alpha=0.8))),
    ("ASGD", dict(lr=0.01, alpha=0.5), _CHAINED, dict(groups=2, clip="norm", reload=2, group2=dict(maximize=True))),
    ("Rprop", dict(lr=0.1), ("MultiplicativeLR", dict(lr_lambda="pow")), dict(reload=3)),
    ("Rprop", dict(lr=0.01, step_sizes=(1e-3, 0.2)), ("ExponentialLR", dict(gamma=0.5)),
     dict(groups=2, clip="norm", reload=2, group2=dict(etas=(0.4, 1.3)))),
    ("LBFGS", dict(lr=0.5, max_iter=3, history_size=5, line_search_fn="strong_wolfe"),
     ("ExponentialLR", dict(gamma=0.5)), dict(reload=5)),
    ("LBFGS", dict(lr=1.0, max_iter=3, tolerance_grad=1e-12),
     ("ReduceLROnPlateau", dict(mode="max", factor=0.5, patience=0, threshold=0.1, min_lr=0.05)), dict(reload=5)),
]


@pytest.mark.parametrize("opt_name, kwargs, sched, options", _TRAJECTORIES,
                         ids=[f"{c[0]}-{i % 2}" for i, c in enumerate(_TRAJECTORIES)])
def test_training_trajectory_matches_torch(opt_name: str, kwargs: dict, sched: tuple, options: dict) -> None:
    theirs = _trajectory(torch, opt_name, kwargs, sched, options)
    ours = _trajectory(mg, opt_name, kwargs, sched, options)
    _assert_same_trajectory(ours, theirs)
