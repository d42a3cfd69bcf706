"""Round 22: resuming training from {model, optimizer, scheduler} state dicts mid-run, against torch.optim.

Found by /tmp/fuzz22_resume.py: k steps, save the state dicts (in memory or through mg.save), build fresh
objects, load, continue; the continued run must equal the uninterrupted one and torch's same procedure.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest

import minigrad as mg
from nn import optim
from nn.optim import lr_scheduler

torch = pytest.importorskip("torch", reason="no torch")

pytestmark = pytest.mark.usefixtures("torch_optim_loaded")


class Decay:
    """A callable lr_lambda object: LambdaLR's state dict keeps its attributes (``rate``)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate

    def __call__(self, epoch: int) -> float:
        return self.rate ** epoch


def _tensor(lib: Any, values: Any) -> Any:
    return lib.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def _round_trip(lib: Any, obj: Any) -> Any:
    """``obj`` through mg.save/mg.load (torch.save/torch.load for torch)."""
    buffer = io.BytesIO()
    if lib is torch:
        torch.save(obj, buffer)
        buffer.seek(0)
        return torch.load(buffer)
    mg.save(obj, buffer)
    buffer.seek(0)
    return mg.load(buffer)


def _multiplicative_resume_after_add_param_group(lib: Any) -> list:
    """lrs and weights of 5 SGD steps under MultiplicativeLR with a callable object; a second group joins after
    step 2 and everything is saved then (mg.save) and loaded into fresh objects (whose scheduler's object starts
    at another rate, which the load restores)."""
    schedulers = torch.optim.lr_scheduler if lib is torch else lr_scheduler
    optimizers = torch.optim if lib is torch else optim
    a, b = _tensor(lib, [1.0, -2.0]), _tensor(lib, [0.5, 3.0])
    opt = optimizers.SGD([a], lr=0.1)
    sched = schedulers.MultiplicativeLR(opt, Decay(0.9))
    seen = []
    for step in range(5):
        if step == 3:
            saved = _round_trip(lib, {"opt": opt.state_dict(), "sched": sched.state_dict()})
            opt = optimizers.SGD([{"params": [a]}, {"params": [b]}], lr=0.1)
            sched = schedulers.MultiplicativeLR(opt, Decay(0.5))
            opt.load_state_dict(saved["opt"])
            sched.load_state_dict(saved["sched"])
        opt.zero_grad()
        ((a * a).sum() + (b * b * b).sum()).backward()
        opt.step()
        sched.step()
        if step == 2:
            opt.add_param_group({"params": [b], "lr": 0.2})
        seen.append((sched.get_last_lr(), a.detach().numpy().copy(), b.detach().numpy().copy()))
    return seen


def test_multiplicative_lr_saved_after_a_group_was_added_loads_as_torch() -> None:
    # the saved lr_lambdas has one entry (the scheduler was made with one group); the resumed optimizer has two
    # groups, so the fresh scheduler two functions: PyTorch restores the first and trains on (without the resume its
    # next step raises: one function for two groups), minigrad refused the state with ValueError (lr_lambdas must
    # hold one entry per group)
    theirs = _multiplicative_resume_after_add_param_group(torch)
    ours = _multiplicative_resume_after_add_param_group(mg)
    assert len(ours) == len(theirs) == 5
    for step, (mine, reference) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(mine[0], reference[0], rtol=1e-12, err_msg=f"step {step} lrs")
        for got, want in zip(mine[1:], reference[1:]):
            np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=f"step {step}")


def test_lambda_scheduler_refuses_attributes_for_a_function_it_lacks_as_torch() -> None:
    # more entries than functions: a None is skipped (as PyTorch's), attributes raise PyTorch's IndexError
    class_state = {}
    for lib, schedulers, optimizers in ((torch, torch.optim.lr_scheduler, torch.optim), (mg, lr_scheduler, optim)):
        sched = schedulers.LambdaLR(optimizers.SGD([_tensor(lib, [1.0])], lr=0.1), Decay(0.9))
        state = sched.state_dict()
        sched.load_state_dict({**state, "lr_lambdas": [{"rate": 0.7}, None]})
        assert sched.lr_lambdas[0].rate == 0.7
        with pytest.raises(IndexError):
            sched.load_state_dict({**state, "lr_lambdas": [None, {"rate": 0.5}]})
        class_state[lib.__name__] = sched.lr_lambdas[0].rate
    assert class_state["minigrad"] == 0.7     # (PyTorch's failed load changed nothing here either)


def _lbfgs_state(lib: Any, resume: bool) -> dict:
    """LBFGS's state after 3 steps on a quadratic (float64); with ``resume`` reloaded (mg.save) after step 2."""
    optimizers = torch.optim if lib is torch else optim
    a = np.array([[3.0, 0.5, 0.0], [0.5, 2.0, 0.3], [0.0, 0.3, 1.0]])
    x = _tensor(lib, [1.0, -2.0, 0.5])
    matrix, target = lib.tensor(a), lib.tensor(np.array([0.1, 0.2, -0.3]))
    opt = optimizers.LBFGS([x], lr=0.5, max_iter=2, history_size=3)

    def closure() -> Any:
        opt.zero_grad()
        loss = (x * (matrix @ x)).sum() - (x * target).sum() + (x * x * x * x).sum()
        loss.backward()
        return loss

    for step in range(3):
        if resume and step == 2:
            saved = _round_trip(lib, opt.state_dict())
            opt = optimizers.LBFGS([x], lr=0.5, max_iter=2, history_size=3)
            opt.load_state_dict(saved)
        opt.step(closure)
    return opt.state_dict()["state"][0]


@pytest.mark.parametrize("resume", [False, True])
def test_lbfgs_state_keeps_its_curvature_scalars_as_tensors_as_torch(resume: bool) -> None:
    # ro (1/yᵀs of each pair) and H_diag are 0-d Tensors in PyTorch's state dict; minigrad's step turned the ones of
    # earlier steps into Python floats (its state check read them as numbers), so a checkpoint's layout changed
    theirs, ours = _lbfgs_state(torch, resume), _lbfgs_state(mg, resume)
    assert len(ours["ro"]) == len(theirs["ro"]) == 2
    for key in ("ro", "al"):
        assert len(ours[key]) == len(theirs[key])
        for mine, reference in zip(ours[key], theirs[key]):
            if reference is None:      # (al: history_size entries, the unused ones None)
                assert mine is None
                continue
            assert isinstance(mine, mg.Tensor) and mine.shape == () and mine.dtype == mg.float64, (key, mine)
            np.testing.assert_allclose(mine.item(), reference.item(), rtol=1e-10)
    assert isinstance(theirs["H_diag"], torch.Tensor)
    assert isinstance(ours["H_diag"], mg.Tensor) and ours["H_diag"].shape == ()
    np.testing.assert_allclose(ours["H_diag"].item(), theirs["H_diag"].item(), rtol=1e-10)


def test_adafactor_state_of_groups_in_another_order_raises_assertionerror_as_torch() -> None:
    # a matrix's state (row_var, col_var) loaded for a vector and the other way round (the saved groups reversed):
    # PyTorch loads it and its step raises AssertionError; minigrad refuses it at the load, with ValueError only
    for lib, optimizers in ((torch, torch.optim), (mg, optim)):
        matrix, vector = _tensor(lib, [[1.0, 2.0], [3.0, 4.0]]), _tensor(lib, [1.0, -1.0, 0.5])
        opt = optimizers.Adafactor([{"params": [matrix]}, {"params": [vector]}])
        ((matrix * matrix).sum() + (vector * vector).sum()).backward()
        opt.step()
        saved = opt.state_dict()
        saved["param_groups"] = saved["param_groups"][::-1]
        resumed = optimizers.Adafactor([{"params": [matrix]}, {"params": [vector]}])
        with pytest.raises(AssertionError):
            resumed.load_state_dict(saved)
            resumed.step()
