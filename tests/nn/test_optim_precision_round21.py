"""Round 21: optimizers' arithmetic in low precision and mixed dtypes, step by step against torch.optim.

Found by /tmp/fuzz21_optprec.py (random hyper-parameters, float16/float32/float64 and mixed groups, gradients with
zeros, tiny and huge values, 1-20 steps, parameters and state compared after every step).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
from nn import optim

torch = pytest.importorskip("torch", reason="no torch")

pytestmark = pytest.mark.usefixtures("torch_optim_loaded")


def _steps(lib: Any, name: str, kwargs: dict, values: np.ndarray, grads: list[np.ndarray]) -> list[np.ndarray]:
    """The parameter and every state array after each step, as NumPy arrays (torch's or ours)."""
    p = lib.tensor(values.copy(), requires_grad=True)
    opt = getattr(lib.optim if lib is torch else optim, name)([p], **kwargs)
    out = []
    for grad in grads:
        p.grad = lib.tensor(grad.copy())
        opt.step()
        out.append(p.detach().numpy().copy())
        out += [np.asarray(v.numpy() if hasattr(v, "numpy") else v).copy()
                for k, v in opt.state[p].items() if k != "step"]
    return out


def _assert_bitwise(name: str, kwargs: dict, values: np.ndarray, grads: list[np.ndarray]) -> None:
    theirs = _steps(torch, name, kwargs, values, grads)
    ours = _steps(mg, name, kwargs, values, grads)
    for a, b in zip(theirs, ours):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(b, a)


def _float16_case(seed: int, steps: int = 4) -> tuple[np.ndarray, list[np.ndarray]]:
    """64 float16 values (whole vectors of PyTorch's CPU loops) and gradients with zeros and tiny values."""
    rng = np.random.default_rng(seed)
    values = (rng.standard_normal(64) * 0.3).astype(np.float16)
    grads = []
    for _ in range(steps):
        g = rng.standard_normal(64) * 10.0 ** rng.integers(-7, 1, size=64)
        g[rng.random(64) < 0.2] = 0.0
        grads.append(g.astype(np.float16))
    return values, grads


@pytest.mark.parametrize("name, kwargs", [
    ("Adam", dict(lr=0.1)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.1, weight_decay=0.5, betas=(0.8, 0.5))),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.9, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.3, eps=1e-3)),
    ("Adamax", dict(lr=0.1, weight_decay=0.1)),
    ("NAdam", dict(lr=0.1, weight_decay=0.1)),
    ("NAdam", dict(lr=0.1, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.1, betas=(0.8, 0.5), weight_decay=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.3)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.3)),
    ("Adadelta", dict(lr=0.7, rho=0.5, weight_decay=0.3, eps=1e-3)),
    ("ASGD", dict(lr=0.1, t0=1.0, lambd=0.1, weight_decay=0.3)),
    ("Rprop", dict(lr=0.01, etas=(0.3, 1.3))),
])
def test_float16_steps_round_as_torch(name: str, kwargs: dict) -> None:
    """A float16 step computes each PyTorch op in float32 (Python-float scalars read as float32) and rounds its
    result once, lerp_ and addcmul_ as one fused multiply-add, add(alpha=)'s alpha and add_(eps)'s eps in float16.
    NumPy's float16 arithmetic rounded the scalar and each partial result to float16: at a cancellation the
    parameter moved elsewhere (Adam's first step on 0.1 gave 1.2e-4, torch 4.8e-5)."""
    for seed in range(3):
        values, grads = _float16_case(seed)
        _assert_bitwise(name, kwargs, values, grads)


def test_float16_adam_first_step_at_a_cancellation() -> None:
    """The helper's example: p=0.1, gradient 0.074, lr=0.1; and a 0-dim parameter with a zero gradient, whose
    denominator 0 + eps rounds to 0 in float16 (NaN, as torch: the root was a NumPy scalar, never rounded)."""
    grads = [np.array([0.074, 0.0], dtype=np.float16)]
    _assert_bitwise("Adam", dict(lr=0.1), np.array([0.1, 0.5], dtype=np.float16), grads)
    _assert_bitwise("Adam", dict(lr=0.1), np.array(0.5, dtype=np.float16), [np.array(0.0, dtype=np.float16)])
    _assert_bitwise("RMSprop", dict(lr=0.1, centered=True), np.array(0.5, dtype=np.float16),
                    [np.array(0.0, dtype=np.float16)])


@pytest.mark.parametrize("name, kwargs", [
    ("Adamax", dict(foreach=True)),
    ("NAdam", dict(foreach=True)),
    ("NAdam", dict(foreach=True, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(foreach=True)),
    ("RAdam", dict(foreach=True, weight_decay=0.1, decoupled_weight_decay=True)),
])
def test_foreach_steps_with_a_float32_tensor_lr(name: str, kwargs: dict) -> None:
    """PyTorch's foreach=True step of Adamax, NAdam and RAdam is another order of operations: it reads a Tensor lr as
    a Python float in its step sizes (NAdam's decoupled decay factor stays in the Tensor's dtype), NAdam divides
    √v by √(1-β₂ᵗ), RAdam adds m·(1/((√v + eps)/s₂) + s₁). Ours computed the single-tensor step in float32 with
    the lr: 1e-9 relative off on float64 parameters."""
    rng = np.random.default_rng(0)
    values, grads = rng.standard_normal(8), [rng.standard_normal(8) for _ in range(8)]

    def run(lib: Any) -> np.ndarray:
        p = lib.tensor(values.copy(), requires_grad=True)
        opt = getattr(lib.optim if lib is torch else optim, name)([p], lr=lib.tensor(0.01, dtype=lib.float32),
                                                                   **kwargs)
        for grad in grads:
            p.grad = lib.tensor(grad.copy())
            opt.step()
        return p.detach().numpy()

    np.testing.assert_allclose(run(mg), run(torch), rtol=4e-16, atol=0)


def test_radam_foreach_float16_order() -> None:
    """RAdam's foreach=True step in float16: the unrectified first steps divide √v + eps by -0.0 (NaN where v is 0:
    eps rounds to 0 in float16), as PyTorch's; and the rectified ones later follow its order bit for bit."""
    values, grads = _float16_case(5, steps=8)
    _assert_bitwise("RAdam", dict(lr=0.1, foreach=True), values, grads)


@pytest.mark.parametrize("etas", [(0.5, 1.2), (0.3, 1.3)])
def test_rprop_float32_etas_in_the_parameters_dtype(etas: tuple) -> None:
    """Rprop's etas go into PyTorch's sign tensor, of the parameter's dtype, before multiplying the step sizes:
    ours multiplied by float64 etas (1.2, not float32's 1.2000000477) and rounded the product once."""
    rng = np.random.default_rng(3)
    values = rng.standard_normal(64).astype(np.float32)
    grads = [rng.standard_normal(64).astype(np.float32) for _ in range(12)]
    _assert_bitwise("Rprop", dict(lr=0.01, etas=etas), values, grads)


@pytest.mark.parametrize("name, kwargs", [
    ("Adam", dict(lr=0.1, betas=(0.8, 0.99), weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.1, weight_decay=0.5)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.99)),
    ("Adadelta", dict(lr=0.7, rho=0.99)),
    ("Adamax", dict(lr=0.1, betas=(0.9, 0.99))),
    ("NAdam", dict(lr=0.1, betas=(0.9, 0.99))),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.3)),
    ("ASGD", dict(lr=0.1, t0=1.0, lambd=0.1)),
])
def test_float16_foreach_steps_round_as_torch(name: str, kwargs: dict) -> None:
    """PyTorch's foreach=True float16 step: its in-place _foreach_mul_ rounds the scalar to float16 first (β₂ 0.99
    is 0.98999 there, while mul_ multiplies by float32's 0.99), Adagrad rounds g·(-clr) before dividing, ASGD
    adds (g + λp)·η with addcmul_: we computed the single-tensor step's rounding."""
    for seed in range(2):
        values, grads = _float16_case(seed)
        _assert_bitwise(name, dict(kwargs, foreach=True), values, grads)


@pytest.mark.parametrize("kwargs", [dict(lr=0.01, weight_decay=0.1), dict(lr=0.01, weight_decay=0.1, foreach=True)])
@pytest.mark.parametrize("shape", [(64,), (2, 64)])
def test_float16_adafactor_rounds_as_torch(shape: tuple, kwargs: dict) -> None:
    """Adafactor on float16: torch.norm sums in float32 and rounds once, rsqrt_ is 1/√x in float32 rounded once,
    the step is add_(update, alpha=-α/d) (foreach: the update scaled in place, then added). Ours rounded each
    square, the root and the reciprocal to float16."""
    rng = np.random.default_rng(7)
    values = (rng.standard_normal(shape) * 0.3).astype(np.float16)
    grads = [(rng.standard_normal(shape) * 10.0 ** rng.integers(-4, 1, size=shape)).astype(np.float16)
             for _ in range(5)]
    _assert_bitwise("Adafactor", kwargs, values, grads)


@pytest.mark.parametrize("kwargs", [dict(lr=0.02), dict(lr=0.02, nesterov=False, weight_decay=0.1, momentum=0.9)])
def test_float16_muon_rounds_as_torch(kwargs: dict) -> None:
    """Muon on float16: its momentum lerp_ in float32, and add_(update, alpha=-lr') adds the bfloat16 update to the
    float16 parameter in float32, rounded once (ours rounded the scaled update to float16 first)."""
    rng = np.random.default_rng(11)
    values = rng.standard_normal((8, 16)).astype(np.float16)
    grads = [rng.standard_normal((8, 16)).astype(np.float16) for _ in range(4)]
    _assert_bitwise("Muon", kwargs, values, grads)


def test_lbfgs_coefficients_in_the_parameters_dtype() -> None:
    """L-BFGS's ro = 1/(y·s), H_diag = (y·s)/(y·y), the two-loop's alphas and the first step length min(1, 1/|g|₁)·lr
    are 0-d Tensors of the parameters' dtype in PyTorch (float32 here, rounded there); ours were float64 numbers,
    whose rounding moved float32 runs off PyTorch's by a few ulps per iteration. (The alphas are not compared:
    PyTorch's q.add_(y, alpha=-a) is a fused multiply-add, which NumPy has not.)"""
    def run(lib: Any) -> dict:
        p = lib.tensor(np.array([0.3], dtype=np.float32), requires_grad=True)
        opt = (torch.optim if lib is torch else optim).LBFGS([p], lr=0.7, max_iter=6)

        def closure() -> float:
            x = p.detach().numpy().astype(np.float64)
            p.grad = lib.tensor(((x - 1) ** 3 + 0.3 * (x - 1)).astype(np.float32))
            return float(((x - 1) ** 4 / 4 + 0.15 * (x - 1) ** 2).sum())

        opt.step(closure)
        return opt.state_dict()["state"][0]

    theirs, ours = run(torch), run(mg)
    assert len(ours["ro"]) == len(theirs["ro"]) > 1
    for a, b in zip(theirs["ro"], ours["ro"]):
        assert b.dtype == mg.float32
        np.testing.assert_array_equal(b.numpy(), a.numpy())
    assert ours["H_diag"].dtype == mg.float32
