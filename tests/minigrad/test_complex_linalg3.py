"""Complex values through cholesky_solve/cholesky_inverse, linalg.tensorinv/tensorsolve, optim.LBFGS with complex
parameters and the LDL family (ldl_factor, ldl_factor_ex, ldl_solve; hermitian and complex symmetric).

As tests/minigrad/test_complex_linalg.py, whose checks these reuse: each case is ``fn(lib, *arrays)`` in PyTorch's
spelling, run with ``lib = minigrad`` and ``lib = torch`` (values, dtypes and the gradients of the real loss
``(y * conj(w)).real.sum()``), and each gradient against central differences along the real and imaginary parts of
every input element.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

import minigrad.nn as mnn
import numpy as np
import pytest

import minigrad as mg
from tests.minigrad.test_complex_autograd import matches_central_differences, matches_on_cupy, matches_torch
from tests.minigrad.test_complex_linalg import _weights

RNG = np.random.default_rng(31)


def _c(*shape: int) -> np.ndarray:
    return np.asarray(RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape))


# factors well away from singular: a dominant diagonal
L33, L233 = _c(3, 3) + 3 * np.eye(3), _c(2, 3, 3) + 3 * np.eye(3)
B32, B232 = _c(3, 2), _c(2, 3, 2)


def _cholesky_solve(upper: bool) -> Callable:
    """The factor's unread triangle is dropped first, so central differences see the gradient the op gives."""
    return lambda lib, b, a: lib.cholesky_solve(b, lib.triu(a) if upper else lib.tril(a), upper=upper)


def _cholesky_inverse(upper: bool) -> Callable:
    """A factor with a real diagonal, as ``cholesky`` gives (see test_cholesky_inverse_of_a_non_real_diagonal)."""
    return lambda lib, a: lib.cholesky_inverse(lib.linalg.cholesky(a @ a.mH, upper=upper), upper=upper)


def _solve_with_cholesky(lib: Any, a: Any, b: Any) -> Any:
    return lib.cholesky_solve(b, lib.linalg.cholesky(a @ a.mH))


CASES: dict[str, tuple[Callable, tuple]] = {
    "cholesky_solve": (_cholesky_solve(False), (B32, L33)),
    "cholesky_solve_upper_broadcast": (_cholesky_solve(True), (B232, L33)),
    "cholesky_solve_broadcast_factor": (_cholesky_solve(False), (B32, L233)),
    "cholesky_solve_of_cholesky": (_solve_with_cholesky, (L233, B232)),
    "cholesky_inverse": (_cholesky_inverse(False), (L233,)),
    "cholesky_inverse_upper": (_cholesky_inverse(True), (L33,)),
    "tensorinv": (lambda lib, a: lib.linalg.tensorinv(a, ind=2), (_c(2, 3, 6) + 2 * np.eye(6).reshape(2, 3, 6),)),
    "tensorinv_ind_1": (lambda lib, a: lib.linalg.tensorinv(a, 1), (L33.reshape(3, 3, 1),)),
    "tensorsolve": (lambda lib, a, b: lib.linalg.tensorsolve(a, b), (_c(2, 3, 6) + 2 * np.eye(6).reshape(2, 3, 6),
                                                                   _c(2, 3))),
    "tensorsolve_dims": (lambda lib, a, b: lib.linalg.tensorsolve(a, b, dims=(0,)),
                         (np.moveaxis(_c(6, 2, 3) + 2 * np.eye(6).reshape(6, 2, 3), 1, 0).copy(), _c(6))),
}

# the unread triangle of a leaf factor gets PyTorch's gradient (the factor read as a full matrix of A = L Lᴴ):
# torch only, central differences see nothing there
TORCH_ONLY: dict[str, tuple[Callable, tuple]] = {
    "cholesky_solve_leaf_factor": (lambda lib, b, a: lib.cholesky_solve(b, a), (B232, L33)),
    "cholesky_solve_leaf_factor_upper": (lambda lib, b, a: lib.cholesky_solve(b, a, upper=True), (B32, L233)),
    "cholesky_inverse_leaf_factor": (lambda lib, a: lib.cholesky_inverse(a), (L33,)),
    "cholesky_inverse_leaf_factor_upper": (lambda lib, a: lib.cholesky_inverse(a, True), (L233,)),
}


@pytest.mark.parametrize("name", sorted(CASES) + sorted(TORCH_ONLY))
def test_values_and_gradients_match_torch(name: str, torch: Any) -> None:
    matches_torch(name, *{**CASES, **TORCH_ONLY}[name], torch, weights=lambda y: _weights(tuple(y.shape)))


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_match_central_differences_of_real_and_imaginary_parts(name: str) -> None:
    matches_central_differences(name, *CASES[name], _weights)


def test_cholesky_inverse_of_a_non_real_diagonal_is_lapacks(torch: Any) -> None:
    """A factor whose diagonal is not real is no Cholesky factor: LAPACK's potri then reads the real part of L⁻¹'s
    diagonal (zlauu2), so PyTorch's value is not (L Lᴴ)⁻¹; minigrad gives PyTorch's."""
    for factor in (L33, L233, _c(5, 5) + 3 * np.eye(5), _c(1, 1)):
        for upper in (False, True):
            ours = mg.cholesky_inverse(mg.tensor(factor), upper=upper).numpy()
            np.testing.assert_allclose(ours, torch.cholesky_inverse(torch.from_numpy(factor), upper).numpy(),
                                       rtol=1e-10, atol=1e-12)
    real = np.tril(L33) - 1j * np.diag(np.diag(L33).imag)
    inverse = np.linalg.inv(real)
    np.testing.assert_allclose(mg.cholesky_inverse(mg.tensor(real)).numpy(), inverse.conj().T @ inverse, rtol=1e-12)


@pytest.fixture
def torch_optim(torch: Any) -> Any:
    """torch, with torch._dynamo (its first optimizer imports it, ~1 s once per process) imported in setup, as
    tests/test_pytorch_programs_flow.py's ``_lean_torch`` does."""
    importlib.import_module("torch._dynamo")
    return torch


def _least_squares(lib: Any, optim: Any, make: Callable, line_search: str | None) -> tuple:
    """A few L-BFGS steps on a complex least-squares problem with two complex parameters."""
    rng = np.random.default_rng(3)
    a, b, z0, u0 = (rng.standard_normal(shape + (2,)) @ [1, 1j] for shape in ((6, 4), (6,), (4,), (2,)))
    z, u = make(z0).requires_grad_(True), make(u0).requires_grad_(True)
    opt = optim.LBFGS([z, u], lr=0.5 if line_search is None else 1.0, max_iter=4, history_size=3,
                      line_search_fn=line_search)
    a_t, b_t = make(a), make(b)

    def closure() -> Any:
        opt.zero_grad()
        residual = a_t @ z - b_t + lib.cat([u * u, u, u])
        loss = (residual.abs() ** 2).sum()
        loss.backward()
        return loss

    losses = [opt.step(closure).item() for _ in range(3)]
    return losses, z.detach().numpy(), u.detach().numpy(), opt.state[z]


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_lbfgs_steps_complex_parameters_as_torch(line_search: str | None, torch_optim: Any) -> None:
    """PyTorch's flat vector views a complex parameter as real (view_as_real): real dot products, a real state."""
    ours = _least_squares(mg, mnn.optim, mg.tensor, line_search)
    theirs = _least_squares(torch_optim, torch_optim.optim, torch_optim.from_numpy, line_search)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-10)
    for mine, yours in zip(ours[1:3], theirs[1:3]):
        np.testing.assert_allclose(mine, yours, rtol=1e-10, atol=1e-12)
    for key in ("d", "prev_flat_grad"):
        assert ours[3][key].dtype == np.float64 and ours[3][key].shape == tuple(theirs[3][key].shape) == (12,)
        np.testing.assert_allclose(np.asarray(ours[3][key]), theirs[3][key].numpy(), rtol=1e-9, atol=1e-12)
    assert ours[3]["n_iter"] == theirs[3]["n_iter"] and ours[3]["func_evals"] == theirs[3]["func_evals"]


def test_lbfgs_state_of_complex_parameters_loads_back() -> None:
    """The saved real state (maybe cast to the parameter's complex dtype on loading) steps on as before."""
    z = mg.tensor(_c(3), requires_grad=True)
    target = mg.tensor(_c(3))

    def run(opt: Any) -> float:
        def closure() -> Any:
            opt.zero_grad()
            loss = ((z - target).abs() ** 4).sum()
            loss.backward()
            return loss
        return opt.step(closure).item()

    opt = mnn.optim.LBFGS([z], max_iter=2)
    run(opt)
    saved, start = opt.state_dict(), z.detach().numpy().copy()
    expected = (run(opt), z.detach().numpy().copy())
    z.data[...] = start
    again = mnn.optim.LBFGS([z], max_iter=2)
    again.load_state_dict(saved)
    assert run(again) == expected[0]
    np.testing.assert_array_equal(z.detach().numpy(), expected[1])


def _ldl_cases(count: int) -> list:
    """Complex matrices that exercise 1×1 and 2×2 pivots, swaps, exact zeros (info > 0) and, for ``hermitian``, a
    diagonal with imaginary parts LAPACK's hetf2 does not read; only the lower triangle matters."""
    rng = np.random.default_rng(11)
    cases = []
    for i in range(count):
        n = 1 + i % 6
        a = rng.standard_normal((n, n, 2)) @ [1, 1j]
        if i % 3 == 1:
            np.fill_diagonal(a, 1j * rng.standard_normal(n))
        if i % 5 == 2:
            zero = rng.integers(n)
            a[:, zero] = a[zero] = 0
        cases.append(a)
    return cases


@pytest.mark.parametrize("hermitian", [False, True])
def test_ldl_factor_and_solve_of_complex_matrices_are_lapacks(hermitian: bool, torch: Any) -> None:
    """Bunch-Kaufman's pivots, LD and info as LAPACK's zsytrf (zhetrf with ``hermitian``), and its solves."""
    pivots_2x2 = zeros = 0
    for a in _ldl_cases(36):
        ours = mg.linalg.ldl_factor_ex(mg.tensor(a), hermitian=hermitian)
        theirs = torch.linalg.ldl_factor_ex(torch.from_numpy(a), hermitian=hermitian)
        assert ours.pivots.tolist() == theirs.pivots.tolist() and ours.info.item() == theirs.info.item()
        np.testing.assert_allclose(ours.LD.numpy(), theirs.LD.numpy(), rtol=1e-10, atol=1e-12)
        pivots_2x2, zeros = pivots_2x2 + (theirs.pivots < 0).any().item(), zeros + (theirs.info > 0).item()
        if theirs.info.item() == 0:
            b = _c(a.shape[0], 2)
            solved = mg.linalg.ldl_solve(ours.LD, ours.pivots, mg.tensor(b), hermitian=hermitian)
            expected = torch.linalg.ldl_solve(theirs.LD, theirs.pivots, torch.from_numpy(b), hermitian=hermitian)
            np.testing.assert_allclose(solved.numpy(), expected.numpy(), rtol=1e-9, atol=1e-11)
    assert pivots_2x2 >= 5 and zeros >= 3


def test_ldl_of_a_batch_in_complex64_and_its_missing_gradient(torch: Any) -> None:
    a = _c(2, 3, 5, 5).astype(np.complex64)
    for hermitian in (False, True):
        a_t = mg.tensor(a, requires_grad=True)
        ours = mg.linalg.ldl_factor(a_t, hermitian=hermitian)
        theirs = torch.linalg.ldl_factor(torch.from_numpy(a), hermitian=hermitian)
        assert ours.LD.dtype == np.complex64 and ours.pivots.dtype == np.int32
        assert ours.pivots.tolist() == theirs.pivots.tolist()
        np.testing.assert_allclose(ours.LD.detach().numpy(), theirs.LD.numpy(), rtol=1e-4, atol=1e-5)
        with pytest.raises(NotImplementedError, match="derivative for 'linalg_ldl_factor_ex' is not implemented"):
            ours.LD.abs().sum().backward()
        solved = mg.linalg.ldl_solve(ours.LD.detach(), ours.pivots, mg.tensor(a[..., :2]), hermitian=hermitian)
        expected = torch.linalg.ldl_solve(theirs.LD, theirs.pivots, torch.from_numpy(a[..., :2]), hermitian=hermitian)
        np.testing.assert_allclose(solved.numpy(), expected.numpy(), rtol=1e-3, atol=1e-4)


GPU_CASES = ["cholesky_solve_upper_broadcast", "cholesky_inverse"]


@pytest.mark.gpu
@pytest.mark.parametrize("name", GPU_CASES)
def test_the_cupy_path_gives_the_host_gradients(name: str) -> None:
    """On the GPU, or the strict CuPy stand-in without one (no implicit host copies)."""
    matches_on_cupy(*CASES[name], _weights, rtol=1e-9, atol=1e-11)


@pytest.mark.gpu
def test_complex_ldl_on_the_cupy_path_is_the_hosts() -> None:
    for hermitian in (False, True):
        for a in _ldl_cases(8):
            host = mg.linalg.ldl_factor_ex(mg.tensor(a), hermitian=hermitian)
            device = mg.linalg.ldl_factor_ex(mg.tensor(a, device="cuda"), hermitian=hermitian)
            assert device.pivots.cpu().tolist() == host.pivots.tolist()
            np.testing.assert_allclose(device.LD.cpu().numpy(), host.LD.numpy(), rtol=1e-10, atol=1e-12)
            if host.info.item() == 0:
                b = a[:, :1]
                solved = mg.linalg.ldl_solve(device.LD, device.pivots, mg.tensor(b, device="cuda"),
                                             hermitian=hermitian)
                np.testing.assert_allclose(solved.cpu().numpy(), mg.linalg.ldl_solve(
                    host.LD, host.pivots, mg.tensor(b), hermitian=hermitian).numpy(), rtol=1e-9, atol=1e-11)
