"""Complex values through cholesky_solve/cholesky_inverse, linalg.tensorinv/tensorsolve, optim.LBFGS with complex
parameters and the LDL family (ldl_factor, ldl_factor_ex, ldl_solve; hermitian and complex symmetric).

As tests/minigrad/test_complex_linalg.py, whose checks these reuse: each case is ``fn(lib, *arrays)`` in PyTorch's
spelling, run with ``lib = minigrad`` and ``lib = torch`` (values, dtypes and the gradients of the real loss
``(y * conj(w)).real.sum()``), and each gradient against central differences along the real and imaginary parts of
every input element.
"""

from __future__ import annotations

from typing import Any, Callable

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


GPU_CASES = ["cholesky_solve_upper_broadcast", "cholesky_inverse"]


@pytest.mark.gpu
@pytest.mark.parametrize("name", GPU_CASES)
def test_the_cupy_path_gives_the_host_gradients(name: str) -> None:
    """On the GPU, or the strict CuPy stand-in without one (no implicit host copies)."""
    matches_on_cupy(*CASES[name], _weights, rtol=1e-9, atol=1e-11)
