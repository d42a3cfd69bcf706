"""Round 18: whole training loops against torch.optim (float64 weights, the same batches, every step compared)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
from nn import optim
from nn.optim import lr_scheduler

torch = pytest.importorskip("torch", reason="no torch")


@pytest.fixture(scope="module", autouse=True)
def _torch_optim_loaded() -> None:
    """torch.optim's first step imports its compiler machinery (about 2 s): once, outside the tests' timings."""
    p = torch.ones(1, requires_grad=True)
    p.grad = torch.ones(1)
    torch.optim.SGD([p], lr=0.1).step()


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
