"""Complex values through linalg.qr, the LU family (lu_factor, lu_factor_ex, lu, lu_solve), solve_triangular and
the deprecated triangular_solve, lstsq, geqrf, householder_product/orgqr and ormqr.

As tests/minigrad/test_complex_linalg.py, whose checks these reuse: each case is ``fn(lib, *arrays)`` in PyTorch's
spelling, run with ``lib = minigrad`` and ``lib = torch`` (values, dtypes and the gradients of the real loss
``(y * conj(w)).real.sum()``), and each gradient against central differences along the real and imaginary parts of
every input element.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
from tests.minigrad.test_complex_autograd import matches_central_differences, matches_on_cupy, matches_torch
from tests.minigrad.test_complex_linalg import _weights

RNG = np.random.default_rng(29)


def _c(*shape: int) -> np.ndarray:
    return np.asarray(RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape))


A33, A233, A43, A35, A243 = _c(3, 3), _c(2, 3, 3), _c(4, 3), _c(3, 5), _c(2, 4, 3)
B32, B232, B23, B42 = _c(3, 2), _c(2, 3, 2), _c(2, 3), _c(4, 2)


def _flat(lib: Any, *parts: Any) -> Any:
    """The parts side by side, each flattened past the batch dims: (…, N)."""
    return lib.cat([part.reshape(*part.shape[:-2], -1) for part in parts], dim=-1)


def _qr(mode: str) -> Callable:
    return lambda lib, a: _flat(lib, *lib.linalg.qr(a, mode))


def _lu_solve(left: bool, adjoint: bool) -> Callable:
    def solve(lib: Any, a: Any, b: Any) -> Any:
        factors, pivots = lib.linalg.lu_factor(a)
        return lib.linalg.lu_solve(factors, pivots, b, left=left, adjoint=adjoint)
    return solve


def _triangular_solve(lib: Any, b: Any, a: Any) -> Any:
    with warnings.catch_warnings():   # deprecated, in both
        warnings.simplefilter("ignore")
        return lib.triangular_solve(b, a, upper=False, transpose=True).solution


def _householder_product(lib: Any, a: Any, tau: Any) -> Any:
    return lib.linalg.householder_product(a, tau)


CASES: dict[str, tuple[Callable, tuple]] = {
    "qr": (_qr("reduced"), (A33,)),
    "qr_tall_batched": (_qr("reduced"), (A243,)),
    "qr_wide": (_qr("reduced"), (A35,)),
    "qr_complete_wide": (_qr("complete"), (A35,)),
    "qr_q_only": (lambda lib, a: lib.linalg.qr(a).Q, (A43,)),
    "qr_r_only_wide": (lambda lib, a: lib.linalg.qr(a).R, (A35,)),
    "lu_factor": (lambda lib, a: lib.linalg.lu_factor(a).LU, (A233,)),
    "lu_factor_ex": (lambda lib, a: lib.linalg.lu_factor_ex(a).LU, (A33,)),
    "lu_tall": (lambda lib, a: _flat(lib, *lib.linalg.lu(a)), (A243,)),
    "lu_wide": (lambda lib, a: _flat(lib, *lib.linalg.lu(a)[1:]), (A35,)),
    "lu_solve": (_lu_solve(True, False), (A233, B232)),
    "lu_solve_adjoint": (_lu_solve(True, True), (A33, B32)),
    "lu_solve_right": (_lu_solve(False, False), (A233, _c(2, 2, 3))),
    "lu_solve_right_adjoint": (_lu_solve(False, True), (A33, B23)),
    "solve_triangular": (lambda lib, a, b: lib.linalg.solve_triangular(a, b, upper=True), (A233, B232)),
    "solve_triangular_right_unit": (lambda lib, a, b: lib.linalg.solve_triangular(
        a, b, upper=False, left=False, unitriangular=True), (A33, B23)),
    "triangular_solve_transpose": (_triangular_solve, (B32, A33)),
    "lstsq": (lambda lib, a, b: lib.linalg.lstsq(a, b).solution, (A43, B42)),
    "lstsq_wide_batched": (lambda lib, a, b: lib.linalg.lstsq(a, b, driver="gelsd").solution,
                           (_c(2, 3, 4), B232)),
    "householder_product": (_householder_product, (A43, _c(3))),
    "householder_product_batched_fewer": (_householder_product, (A243, _c(2, 2))),
    "ormqr": (lambda lib, a, tau, c: lib.ormqr(a, tau, c), (A43, _c(3), B42)),
    "ormqr_right_transpose": (lambda lib, a, tau, c: lib.ormqr(a, tau, c, left=False, transpose=True),
                              (A43, _c(3), _c(2, 4))),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_gradients_match_torch(name: str, torch: Any) -> None:
    matches_torch(name, *CASES[name], torch, weights=lambda y: _weights(tuple(y.shape)))


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_match_central_differences_of_real_and_imaginary_parts(name: str) -> None:
    matches_central_differences(name, *CASES[name], _weights)


def test_lu_pivots_are_lapacks_for_complex_matrices(torch: Any) -> None:
    """LAPACK's izamax compares |Re| + |Im|, not the modulus: in [3, 2+2j] it picks 2+2j (4 > 3; |2+2j| < 3)."""
    cases = [np.array([[3, 1], [2 + 2j, 5]]), A233, A243, A35, _c(3, 4, 4)]
    for a in cases:
        ours, theirs = mg.linalg.lu_factor_ex(mg.tensor(a)), torch.linalg.lu_factor_ex(torch.from_numpy(a))
        assert ours.pivots.tolist() == theirs.pivots.tolist()
        np.testing.assert_allclose(ours.LU.numpy(), theirs.LU.numpy(), rtol=1e-10, atol=1e-12)
        assert ours.info.tolist() == theirs.info.tolist()
    singular = np.array([[1 + 1j, 2], [2 + 2j, 4]])
    ours, theirs = mg.linalg.lu_factor_ex(mg.tensor(singular)), torch.linalg.lu_factor_ex(torch.from_numpy(singular))
    assert ours.info.item() == theirs.info.item() == 2 and ours.pivots.tolist() == theirs.pivots.tolist()
    with pytest.raises(mg.linalg.LinAlgError, match=r"U\[2,2\] is zero"):
        mg.linalg.lu_factor(mg.tensor(singular))


def test_qr_r_mode_and_complex_r_diagonal(torch: Any) -> None:
    for a in (A243, A35):
        r = mg.linalg.qr(mg.tensor(a), mode="r")
        theirs = torch.linalg.qr(torch.from_numpy(a), mode="r")
        assert r.Q.shape == tuple(theirs.Q.shape) == (0,) and r.Q.dtype == np.complex128
        np.testing.assert_allclose(r.R.numpy(), theirs.R.numpy(), rtol=1e-10, atol=1e-12)
        assert np.all(np.diagonal(r.R.numpy(), axis1=-2, axis2=-1).imag == 0)   # zgeqrf's real beta


def test_lstsq_fields_of_complex_systems(torch: Any) -> None:
    """Residuals and singular values are real (float64 for complex128), as PyTorch's, per driver."""
    b = _c(2, 4, 2)
    for driver in ("gels", "gelsy", "gelsd", "gelss"):
        ours = mg.linalg.lstsq(mg.tensor(A243), mg.tensor(b), driver=driver)
        theirs = torch.linalg.lstsq(torch.from_numpy(A243), torch.from_numpy(b), driver=driver)
        for field in ("solution", "residuals", "rank", "singular_values"):
            mine, yours = getattr(ours, field), getattr(theirs, field)
            assert mine.dtype == np.dtype(str(yours.dtype).replace("torch.", "")), (driver, field)
            np.testing.assert_allclose(mine.numpy(), yours.numpy(), rtol=1e-10, atol=1e-12, err_msg=driver + field)


def test_geqrf_of_complex_matrices_is_lapacks(torch: Any) -> None:
    """zlarfg: complex tau, a real beta on R's diagonal; a column already zero below a real alpha gives tau 0."""
    for a in (A243, A35, A33, np.array([[2.0 + 0j, 1], [0, 1j], [0, 3]]), np.array([[1j, 1], [0, 2], [0, 3]])):
        ours, theirs = mg.geqrf(mg.tensor(a)), torch.geqrf(torch.from_numpy(a))
        np.testing.assert_allclose(ours.a.numpy(), theirs.a.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ours.tau.numpy(), theirs.tau.numpy(), rtol=1e-10, atol=1e-12)


GPU_CASES = ["qr_tall_batched", "qr_wide", "lu_factor", "lu_tall", "lu_solve_adjoint", "solve_triangular", "lstsq",
             "householder_product", "ormqr_right_transpose"]


@pytest.mark.gpu
@pytest.mark.parametrize("name", GPU_CASES)
def test_the_cupy_path_gives_the_host_gradients(name: str) -> None:
    """On the GPU, or the strict CuPy stand-in without one (no implicit host copies)."""
    matches_on_cupy(*CASES[name], _weights, rtol=1e-9, atol=1e-11)
