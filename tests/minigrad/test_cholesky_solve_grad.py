"""cholesky_solve and cholesky_inverse: values and gradients as PyTorch's, also for a leaf factor whose other
triangle (never read by the forward) holds values: PyTorch's gradient treats the factor as a full matrix of
A = L Lᵀ, so that triangle gets a (symmetrised) gradient; float64 gradchecks where the factor comes from tril/triu
(differentiable in PyTorch's sense), second derivatives against torch's, the GPU stand-in against the CPU."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from helpers import gpu_case_tests, same_as_torch

import minigrad as mg

RNG = np.random.default_rng(7)


def _factor(*shape: int) -> np.ndarray:
    """A full matrix (…, n, n) with a diagonal far from 0: its triangle is a well-conditioned factor."""
    f = RNG.standard_normal(shape)
    n = shape[-1]
    f[..., range(n), range(n)] = np.abs(f[..., range(n), range(n)]) + 1.5
    return f


FULL = _factor(2, 3, 3)              # both triangles hold values
BROADCAST = _factor(4, 1, 3, 3)      # batch (4, 1) against B's (5,)
B = RNG.standard_normal((2, 3, 2))
B5 = RNG.standard_normal((5, 3, 2))


def _triangle(lib: Any, f: Any, upper: bool) -> Any:
    return f.triu() if upper else f.tril()


CASES: dict[str, tuple] = {}
for _upper in (False, True):
    CASES[f"solve_leaf_{_upper}"] = (lambda lib, b, f, u=_upper: lib.cholesky_solve(b, f, upper=u), (B, FULL))
    CASES[f"solve_broadcast_{_upper}"] = (lambda lib, b, f, u=_upper: lib.cholesky_solve(b, f, upper=u),
                                          (B5, BROADCAST))
    CASES[f"inverse_leaf_{_upper}"] = (lambda lib, f, u=_upper: lib.cholesky_inverse(f, upper=u), (FULL,))
    CASES[f"solve_triangle_{_upper}"] = (
        lambda lib, b, f, u=_upper: b.cholesky_solve(_triangle(lib, f, u), upper=u), (B5, BROADCAST))
    CASES[f"inverse_triangle_{_upper}"] = (
        lambda lib, f, u=_upper: _triangle(lib, f, u).cholesky_inverse(upper=u), (FULL,))
# a leaf factor: the forward reads one triangle, so finite differences in the other see nothing (as torch's)
LEAF = {name for name in CASES if "_triangle_" not in name}


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_as_torch_float64(name: str, torch: Any) -> None:
    fn, arrays = CASES[name]
    same_as_torch(torch, fn, *arrays, gradcheck=name not in LEAF)


@pytest.mark.parametrize("upper", [False, True])
def test_leaf_factor_float32_and_gradient_of_the_unread_triangle(upper: bool, torch: Any) -> None:
    f32, b32, w = FULL.astype(np.float32), B.astype(np.float32), RNG.standard_normal(B.shape).astype(np.float32)
    w_inv = RNG.standard_normal(FULL.shape).astype(np.float32)
    grads = []
    for lib in (mg, torch):
        f, b = lib.tensor(f32, requires_grad=True), lib.tensor(b32, requires_grad=True)
        x, y = lib.cholesky_solve(b, f, upper=upper), lib.cholesky_inverse(f, upper=upper)
        assert x.dtype == lib.float32 and y.dtype == lib.float32
        ((x * lib.tensor(w)).sum() + (y * lib.tensor(w_inv)).sum()).backward()
        grads.append((x.detach().numpy(), y.detach().numpy(), f.grad.numpy(), b.grad.numpy()))
    for ours, theirs in zip(*grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
    unread = np.triu_indices(3, 1) if not upper else np.tril_indices(3, -1)
    assert np.abs(grads[0][2][:, unread[0], unread[1]]).min() > 0   # nonzero there, as torch's


@pytest.mark.parametrize("upper", [False, True])
def test_second_derivatives_as_torch(upper: bool, torch: Any) -> None:
    """d/dL and d/dB of ⟨v, ∂⟨w, f⟩/∂(B, L)⟩ with create_graph=True, f = cholesky_solve + cholesky_inverse."""
    w, w_inv = RNG.standard_normal(B.shape), RNG.standard_normal(FULL.shape)
    v_b, v_f = RNG.standard_normal(B.shape), RNG.standard_normal(FULL.shape)
    results = []
    for lib in (mg, torch):
        f, b = lib.tensor(FULL, requires_grad=True), lib.tensor(B, requires_grad=True)
        out = (lib.cholesky_solve(b, f, upper=upper) * lib.tensor(w)).sum() \
            + (lib.cholesky_inverse(f, upper=upper) * lib.tensor(w_inv)).sum()
        gb, gf = lib.autograd.grad(out, (b, f), create_graph=True)
        second = lib.autograd.grad((gb * lib.tensor(v_b)).sum() + (gf * lib.tensor(v_f)).sum(), (b, f))
        results.append([t.detach().numpy() for t in (gb, gf, *second)])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("upper", [False, True])
def test_gradgradcheck_through_the_triangle(upper: bool) -> None:
    b, f = mg.tensor(B[:1], requires_grad=True), mg.tensor(FULL[:1], requires_grad=True)
    assert mg.gradgradcheck(lambda b, f: (mg.cholesky_solve(b, _triangle(mg, f, upper), upper=upper),
                                          mg.cholesky_inverse(_triangle(mg, f, upper), upper=upper)), [b, f])


def test_errors_name_cholesky_solve() -> None:
    with pytest.raises(TypeError, match="cholesky_solve"):
        mg.cholesky_solve(mg.tensor(B.astype(np.float32)), mg.tensor(FULL))
    with pytest.raises(ValueError, match="cholesky_solve: incompatible"):
        mg.cholesky_solve(mg.tensor(B5), mg.tensor(FULL))   # batch 5 against 2


test_same_on_gpu_as_on_cpu = gpu_case_tests(CASES)
