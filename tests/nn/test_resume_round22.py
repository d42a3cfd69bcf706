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


def _lbfgs_float32_run(lib: Any, matrix: list, target: list, start: list, lr: float, steps: int) -> np.ndarray:
    """x after ``steps`` LBFGS steps (strong Wolfe, float32) on |Ax - b|² + 0.1·Σx⁴, the loss and gradient computed
    in NumPy float64 from x, so both libraries see the very same numbers."""
    optimizers = torch.optim if lib is torch else optim
    a, b = np.array(matrix), np.array(target)
    x = lib.tensor(np.array(start, dtype=np.float32), requires_grad=True)
    opt = optimizers.LBFGS([x], lr=lr, max_iter=5, history_size=3, line_search_fn="strong_wolfe")

    def closure() -> Any:
        v = x.detach().numpy().astype(np.float64)
        y = a @ v - b
        x.grad = lib.tensor((2 * a.T @ y + 0.4 * v ** 3).astype(np.float32))
        return lib.tensor(np.array((y * y).sum() + 0.1 * (v ** 4).sum(), dtype=np.float32))

    for _ in range(steps):
        opt.step(closure)
    return x.detach().numpy().copy()


@pytest.mark.parametrize("matrix, target, start, lr, steps", [
    ([[-0.23, 1.184], [0.304, 0.192]], [0.266, -1.366], [-0.39, -0.956], 1.0, 2),
    ([[1.285, 1.164], [-0.581, 1.085]], [-0.94, -1.364], [-6.052, -3.339], 1.0, 2),
    ([[-0.786, 0.226], [0.771, -1.562]], [0.666, 0.793], [-0.076, -0.077], 0.5, 3),
])
def test_lbfgs_float32_line_search_computes_in_float32_as_torch(matrix: list, target: list, start: list, lr: float,
                                                                 steps: int) -> None:
    # PyTorch's strong-Wolfe search mixes Python-float losses with 0-d Tensor slopes (and a Tensor first step) of
    # the parameters' dtype, so with float32 parameters its cubic interpolation runs in float32; minigrad's ran in
    # float64 and took other trial steps
    theirs = _lbfgs_float32_run(torch, matrix, target, start, lr, steps)
    ours = _lbfgs_float32_run(mg, matrix, target, start, lr, steps)
    np.testing.assert_allclose(ours, theirs, rtol=2e-7, atol=1e-7)


@pytest.mark.parametrize("scale", [0.1, 3.0])
def test_lbfgs_with_a_zero_lr_divides_by_zero_as_torch(scale: float) -> None:
    # lr 0 (a schedule that ends at 0) with the strong-Wolfe search: PyTorch's cubic through two trial steps at
    # t = 0 raises ZeroDivisionError, except at the first iteration of a gradient with |g|₁ > 1 (its first step is
    # a 0-d Tensor there: NaN arithmetic, 3 more evaluations, x unchanged); minigrad never raised
    outcomes = []
    for lib, optimizers in ((torch, torch.optim), (mg, optim)):
        x = _tensor(lib, np.array([1.0, -2.0, 0.5]) * scale)
        opt = optimizers.LBFGS([x], lr=0.0, max_iter=3, line_search_fn="strong_wolfe")

        def closure(opt: Any = opt, x: Any = x) -> Any:
            opt.zero_grad()
            loss = (x * x * x * x).sum() + (x * x).sum()
            loss.backward()
            return loss

        try:
            opt.step(closure)
            state = opt.state_dict()["state"][0]
            outcomes.append((x.detach().numpy().tolist(), state["func_evals"], state["n_iter"]))
        except ZeroDivisionError:
            outcomes.append("ZeroDivisionError")
    assert outcomes[1] == outcomes[0]
    assert outcomes[0] == ("ZeroDivisionError" if scale < 1 else ([3.0, -6.0, 1.5], 4, 1))


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_state_after_its_first_iteration_has_torch_kinds(line_search_fn: str | None) -> None:
    # one iteration: PyTorch's state holds t as a 0-d Tensor (min(1, 1/|g|₁)·lr, or the search's step) and H_diag as
    # the int 1 (no curvature pair yet); minigrad's held floats. Both kinds survive a reload and the next step.
    kinds = []
    for lib, optimizers in ((torch, torch.optim), (mg, optim)):
        x = _tensor(lib, [1.0, -2.0, 0.5])
        opt = optimizers.LBFGS([x], lr=0.5, max_iter=1, line_search_fn=line_search_fn)

        def closure(opt: Any = opt, x: Any = x) -> Any:
            opt.zero_grad()
            loss = (x * x * x * x).sum()
            loss.backward()
            return loss

        opt.step(closure)
        state = _round_trip(lib, opt.state_dict())["state"][0]
        kinds.append((type(state["t"]).__name__, tuple(state["t"].shape), type(state["H_diag"]).__name__))
        np.testing.assert_allclose(float(state["t"]), float(opt.state_dict()["state"][0]["t"]))
    assert kinds == [("Tensor", (), "int")] * 2
