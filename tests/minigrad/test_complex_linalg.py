"""Complex values through linalg.eig/eigvals, the elementwise ops whose complex gradients came last (lerp, acosh,
sinc, xlogy, pow with a tensor exponent), and complex linalg.det/slogdet/cholesky/matrix_exp/svdvals/pinv.

As tests/minigrad/test_complex_more.py: each case is ``fn(lib, *arrays)`` in PyTorch's spelling, run with
``lib = minigrad`` and ``lib = torch`` through the shared ``matches_torch`` (values, dtypes and the gradients of the
real loss ``(y * conj(w)).real.sum()``), and each gradient against central differences of that loss along the real
and imaginary parts of every input element (PyTorch's convention ``z.grad = dL/d(Re z) + i dL/d(Im z)``).
Eigenvectors are defined up to a phase per column: the cases read them through ``|V|²`` and ``V Vᴴ``, which do not
depend on it.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
from tests.minigrad.test_complex_autograd import (
    _loss,
    central_differences,
    matches_central_differences,
    matches_on_cupy,
    matches_torch,
)

RNG = np.random.default_rng(13)


def _c(*shape: int) -> np.ndarray:
    return np.asarray(RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape))


Z34, W34, Z3 = _c(3, 4), _c(3, 4), _c(3)
R34 = RNG.standard_normal((3, 4))   # negative entries: a real base's complex log
A33, A233, R33, R233 = _c(3, 3), _c(2, 3, 3), RNG.standard_normal((3, 3)), RNG.standard_normal((2, 3, 3))


def _eig_invariants(lib: Any, a: Any) -> Any:
    """λ and the phase-free ``|V|²`` of eig, side by side: (…, n + 1, n)."""
    values, vectors = lib.linalg.eig(a)
    return lib.cat([values[..., None, :], vectors * vectors.conj()], dim=-2)


def _eig_projector(lib: Any, a: Any) -> Any:
    vectors = lib.linalg.eig(a).eigenvectors
    return vectors @ vectors.mH


def _svd_invariants(lib: Any, a: Any, full_matrices: bool) -> Any:
    """The phase-free parts of A's SVD, flattened and side by side (…, N): ``|U|²``, ``|Vh|²`` (first k columns and
    rows), S, and the rank-2 part ``U₂ diag(S₂) Vh₂`` (whose gradient needs the diagonal phase term)."""
    u, s, vh = lib.linalg.svd(a, full_matrices=full_matrices)
    k = s.shape[-1]
    u, vh = u[..., :, :k], vh[..., :k, :]
    rank_two = (u[..., :, :2] * s[..., None, :2].to(u.dtype)) @ vh[..., :2, :]
    parts = [u * u.conj(), vh * vh.conj(), s.to(u.dtype)[..., None, :], rank_two]
    return lib.cat([part.reshape(*part.shape[:-2], -1) for part in parts], dim=-1)


def _hermitian(lib: Any, b: Any) -> Any:
    """A Hermitian positive-definite ``B Bᴴ + I`` (…, n, n) (a gradient through it is one central differences see)."""
    return b @ b.mH + lib.eye(b.shape[-2], dtype=b.dtype, device=b.device)


CASES: dict[str, tuple[Callable, tuple]] = {
    "eigvals": (lambda lib, a: lib.linalg.eigvals(a), (A33,)),
    "eigvals_real": (lambda lib, a: lib.linalg.eigvals(a), (R33,)),
    "eig": (_eig_invariants, (A33,)),
    "eig_batched": (_eig_invariants, (A233,)),
    "eig_real": (_eig_invariants, (R233,)),
    "eig_projector": (_eig_projector, (A33,)),
    "eig_projector_real": (_eig_projector, (R33,)),
    "lerp": (lambda lib, a, b: lib.lerp(a, b, 0.3), (Z34, W34)),
    "lerp_large_weight": (lambda lib, a, b: a.lerp(b, 0.8), (Z34, W34)),
    "lerp_tensor_weight": (lambda lib, a, b, w: lib.lerp(a, b, w), (Z34, W34, _c(4) * 0.5)),
    "acosh": (lambda lib, a: lib.acosh(a), (Z34,)),
    "sinc": (lambda lib, a: lib.sinc(a), (Z34,)),
    "pow_tensor_exponent": (lambda lib, a, b: a ** b, (Z34, W34)),
    "pow_broadcast": (lambda lib, a, b: lib.pow(a, b), (Z34, Z3[:, None])),
    "pow_real_base": (lambda lib, a, b: a ** b, (R34, W34)),
    "pow_real_exponent_tensor": (lambda lib, a, b: a ** b, (Z34, R34)),
    "pow_scalar_base": (lambda lib, b: 2.5 ** b, (W34,)),
    "pow_negative_scalar_base": (lambda lib, b: lib.pow(-1.5, b), (W34,)),
    "det": (lambda lib, a: lib.linalg.det(a), (A33,)),
    "det_batched": (lambda lib, a: lib.det(a), (A233,)),
    "slogdet": (lambda lib, a: lib.stack(list(lib.linalg.slogdet(a))), (A233,)),   # sign and logabsdet
    "slogdet_logabsdet": (lambda lib, a: lib.linalg.slogdet(a).logabsdet, (A33,)),
    "slogdet_sign": (lambda lib, a: lib.slogdet(a)[0], (A33,)),
    "logdet": (lambda lib, a: lib.logdet(a), (A233,)),
    "cholesky": (lambda lib, b: lib.linalg.cholesky(_hermitian(lib, b)), (A233,)),
    "cholesky_upper": (lambda lib, b: lib.linalg.cholesky(_hermitian(lib, b), upper=True), (A33,)),
    "cholesky_ex": (lambda lib, b: lib.linalg.cholesky_ex(_hermitian(lib, b)).L, (A33,)),
    "matrix_exp": (lambda lib, a: lib.linalg.matrix_exp(a), (A233,)),
    "matrix_exp_scaled": (lambda lib, a: lib.linalg.matrix_exp(a * 4), (A33,)),   # scaling and squaring
    "svdvals": (lambda lib, a: lib.linalg.svdvals(a), (A233,)),
    "svdvals_wide": (lambda lib, a: lib.linalg.svdvals(a), (Z34,)),
    "pinv": (lambda lib, a: lib.linalg.pinv(a), (Z34,)),
    "pinv_tall_batched": (lambda lib, a: lib.linalg.pinv(a.mT), (_c(2, 3, 4),)),
    "svd": (lambda lib, a: _svd_invariants(lib, a, False), (A233,)),
    "svd_tall": (lambda lib, a: _svd_invariants(lib, a, False), (Z34.T.copy(),)),
    "svd_wide_full_matrices": (lambda lib, a: _svd_invariants(lib, a, True), (Z34,)),
    "matrix_norm_2": (lambda lib, a: lib.linalg.matrix_norm(a, 2), (A233,)),
    "matrix_norm_nuc_and_minus_2": (lambda lib, a: lib.linalg.matrix_norm(a, "nuc") + lib.linalg.norm(a, -2), (Z34,)),
    "cond": (lambda lib, a: lib.linalg.cond(a), (A233,)),
    "pinv_hermitian": (lambda lib, b: lib.linalg.pinv(_hermitian(lib, b), hermitian=True), (A33,)),
}


def _weights(shape: tuple) -> np.ndarray:
    return np.asarray(np.random.default_rng(len(shape) + 7).standard_normal(shape + (2,)) @ [1, 1j])


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_gradients_match_torch(name: str, torch: Any) -> None:
    matches_torch(name, *CASES[name], torch, weights=lambda y: _weights(tuple(y.shape)))


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_match_central_differences_of_real_and_imaginary_parts(name: str) -> None:
    matches_central_differences(name, *CASES[name], _weights)


def test_det_of_a_singular_complex_matrix_has_the_cofactor_gradient() -> None:
    """Rank 2 of 3: the gradient comes from the SVD's adjugate (conjugated for complex A), as central differences."""
    singular = _c(3, 2) @ _c(2, 3)
    fn = CASES["det"][0]
    a = mg.tensor(singular, requires_grad=True)
    w = _weights(())
    _loss(mg, fn(mg, a), w).backward()
    np.testing.assert_allclose(a.grad.numpy(), central_differences(fn, (singular,), w)[0], rtol=1e-5, atol=1e-6)


def test_cond_in_other_norms_of_complex_matrices(torch: Any) -> None:
    """Values only: PyTorch's backward of cond with p other than 2 fails (it changes linalg.inv_ex's output in
    place), real matrices too; ours is the composition's (inv, matrix_norm)."""
    for p in ("fro", "nuc", 1, float("inf")):
        np.testing.assert_allclose(mg.linalg.cond(mg.tensor(A233), p).numpy(),
                                   torch.linalg.cond(torch.from_numpy(A233), p).numpy(), rtol=1e-10)


def test_matrix_rank_of_complex_matrices(torch: Any) -> None:
    rank_two = _c(2, 4, 2) @ _c(2, 2, 4)
    for hermitian, a in ((False, rank_two), (True, rank_two @ rank_two.conj().transpose(0, 2, 1))):
        ours = mg.linalg.matrix_rank(mg.tensor(a), hermitian=hermitian)
        theirs = torch.linalg.matrix_rank(torch.from_numpy(a), hermitian=hermitian)
        assert ours.tolist() == theirs.tolist() == [2, 2] and ours.dtype == np.int64


def test_cholesky_of_a_complex_matrix_that_is_not_positive_definite_raises(torch: Any) -> None:
    a = A33 @ A33.conj().T - 100 * np.eye(3)
    with pytest.raises(mg.linalg.LinAlgError, match="order 1"):
        mg.linalg.cholesky(mg.tensor(a))
    assert mg.linalg.cholesky_ex(mg.tensor(a)).info.item() == torch.linalg.cholesky_ex(torch.from_numpy(a)).info.item()


# --- eig: dtypes, names, the phase check ----------------------------------------------------------------------

def test_eig_gives_complex_results_of_the_matching_precision_with_torch_field_names(torch: Any) -> None:
    for dtype, complex_dtype in ((np.float32, np.complex64), (np.float64, np.complex128),
                                 (np.complex64, np.complex64)):
        a = mg.tensor(A33.astype(dtype) if dtype is np.complex64 else R33.astype(dtype), requires_grad=True)
        result = mg.linalg.eig(a)
        assert result._fields == type(torch.linalg.eig(torch.eye(2))).__match_args__ == ("eigenvalues", "eigenvectors")
        assert result.eigenvalues.dtype == result.eigenvectors.dtype == complex_dtype
        assert mg.linalg.eigvals(a).dtype == complex_dtype
        result.eigenvectors.abs().sum().backward()
        assert a.grad.dtype == dtype
    vectors = mg.linalg.eig(mg.tensor(A233)).eigenvectors.numpy()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=-2), 1, rtol=1e-12)   # unit columns, as LAPACK's


def test_eig_refuses_a_loss_that_depends_on_the_eigenvectors_phase(torch: Any) -> None:
    a = mg.tensor(A33, requires_grad=True)
    with pytest.raises(RuntimeError, match="e\\^{i phi}"):
        mg.linalg.eig(a).eigenvectors.real.sum().backward()
    t = torch.from_numpy(A33).requires_grad_(True)
    with pytest.raises(RuntimeError, match="e\\^{i phi}"):
        torch.linalg.eig(t).eigenvectors.real.sum().backward()


def test_complex64_gradients_keep_their_dtype() -> None:
    z = mg.tensor(Z34.astype(np.complex64), requires_grad=True)
    for make in (lambda: mg.acosh(z), lambda: mg.sinc(z), lambda: z ** z,
                 lambda: mg.lerp(z, z * 2, 0.3), lambda: mg.linalg.eigvals(z[:, :3]), lambda: mg.linalg.det(z[:, :3]),
                 lambda: mg.linalg.slogdet(z[:, :3]).logabsdet, lambda: mg.linalg.cholesky(_hermitian(mg, z)),
                 lambda: mg.linalg.matrix_exp(z[:, :3]), lambda: mg.linalg.svdvals(z), lambda: mg.linalg.pinv(z)):
        y = make()
        assert y.dtype == (np.float32 if y.dtype.kind == "f" else np.complex64)
        y.abs().sum().backward()
        assert z.grad.dtype == np.complex64
        z.grad = None


GPU_CASES = ["eig", "eigvals_real", "pow_real_base", "acosh", "slogdet", "cholesky", "matrix_exp", "pinv",
             "svdvals", "det", "svd", "matrix_norm_2"]


@pytest.mark.gpu
@pytest.mark.parametrize("name", GPU_CASES)
def test_the_cupy_path_gives_the_host_gradients(name: str) -> None:
    """On the GPU, or the strict CuPy stand-in without one (no implicit host copies)."""
    matches_on_cupy(*CASES[name], _weights, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("call", [
    lambda lib, z: lib.lgamma(z), lambda lib, z: lib.digamma(z), lambda lib, z: lib.polygamma(1, z),
    lambda lib, z: lib.special.zeta(z, z), lambda lib, z: lib.special.gammainc(z, z), lambda lib, z: lib.erfinv(z),
    lambda lib, z: lib.special.i0(z), lambda lib, z: lib.special.i1e(z), lambda lib, z: lib.special.entr(z),
    lambda lib, z: lib.special.ndtri(z),
])
def test_special_functions_without_a_complex_kernel_refuse_complex_as_torch(call: Callable, torch: Any) -> None:
    """They computed on the real part before (NumPy's cast drops the imaginary part with only a ComplexWarning)."""
    with pytest.raises(NotImplementedError, match="not implemented for complex tensors"):
        call(mg, mg.tensor(Z3))
    with pytest.raises(NotImplementedError):
        call(torch, torch.from_numpy(Z3))
