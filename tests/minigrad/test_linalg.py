"""``mg.linalg`` against ``torch.linalg``: values, dtypes, shapes and gradients, plus gradcheck in float64.

As in ``test_pytorch_api_more.py``, each case is ``fn(lib, *tensors)`` in PyTorch's spelling, run with
``lib = minigrad`` and ``lib = torch`` on the same float64 values. Eigenvectors and singular vectors are
unique only up to sign, and NumPy's LAPACK (OpenBLAS) and PyTorch's (MKL) may pick different signs, so
the cases fix the sign of each vector (its first entry positive) before comparing: the gradient of that
sign-fixed result is the decomposition's own gradient. Inputs that a decomposition assumes symmetric
are built symmetric inside the case (``x + x.mT``), so finite differences see the same function.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pytest
from helpers import assert_close, case_tests, gpu_case_tests, to_torch

import minigrad as mg

RNG = np.random.default_rng(11)


def _normal(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)


def _invertible(*shape: int) -> np.ndarray:
    """Well-conditioned square matrices: normal entries plus n on the diagonal."""
    return RNG.standard_normal(shape) + shape[-1] * np.eye(shape[-1])


A33, A233, A4133, A44 = _invertible(3, 3), _invertible(2, 3, 3), _invertible(4, 1, 3, 3), _invertible(4, 4)
X33, X44, X53, X35, X243, X234 = _normal(3, 3), _normal(4, 4), _normal(5, 3), _normal(3, 5), _normal(2, 4, 3), \
    _normal(2, 3, 4)
B234, B3, B23, B243, B232, B4232 = _normal(2, 3, 4), _normal(3), _normal(2, 3), _normal(2, 4, 3), _normal(2, 3, 2), \
    _normal(4, 2, 3, 2)
NEGATIVE_DET = A33 @ np.diag([1.0, 1.0, -1.0])
SINGULAR = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])   # rank 2, an exact zero pivot in any LU
RANK_TWO_LEFT, RANK_TWO_RIGHT = _normal(4, 2), _normal(2, 4)
ZEROS_AND_VALUES = np.array([[0.0, 0.0, 0.0], [1.5, -2.0, 0.0], [0.3, 0.0, -0.7]])
SCALES = np.array([0.05, 2.5, 6.0])[:, None, None]   # matrix_exp: no squaring, a few, many


def _spd(t: Any, x: Any) -> Any:
    """A symmetric positive-definite matrix made from x (…, n, n)."""
    return x @ x.mT + t.eye(x.shape[-1], dtype=x.dtype, device=x.device)


def _columns_signed(t: Any, v: Any) -> Any:
    """Each column of v with its first entry made positive (the sign LAPACK leaves free)."""
    return v * t.sign(v[..., :1, :])


def _eigh(t: Any, x: Any, uplo: str = "L") -> list:
    values, vectors = t.linalg.eigh(x + x.mT, UPLO=uplo)
    return [values, _columns_signed(t, vectors)]


def _svd(t: Any, x: Any, full_matrices: bool) -> list:
    u, s, vh = t.linalg.svd(x, full_matrices=full_matrices)
    k = s.shape[-1]
    u, vh = u[..., :k], vh[..., :k, :]   # past k, full matrices hold an arbitrary basis
    sign = t.sign(u[..., :1, :])
    return [u * sign, s, vh * sign.mT]


CASES: dict[str, tuple[Callable, tuple]] = {
    # inverses and linear systems
    "inv": (lambda t, a: t.linalg.inv(a), (A33,)),
    "inv_batched": (lambda t, a: t.linalg.inv(a), (A233,)),
    "inv_ex": (lambda t, a: list(t.linalg.inv_ex(a)), (A233,)),
    "solve": (lambda t, a, b: t.linalg.solve(a, b), (A233, B234)),
    "solve_broadcast": (lambda t, a, b: t.linalg.solve(a, b), (A4133, B232)),
    "solve_one_matrix_many_rhs": (lambda t, a, b: t.linalg.solve(a, b), (A33, B4232)),
    "solve_vector": (lambda t, a, b: t.linalg.solve(a, b), (A33, B3)),
    "solve_batch_of_vectors": (lambda t, a, b: t.linalg.solve(a, b), (A233, B23)),
    "solve_vector_broadcast": (lambda t, a, b: t.linalg.solve(a, b), (A233, B3)),
    "solve_left_false": (lambda t, a, b: t.linalg.solve(a, b, left=False), (A233, B243)),
    "solve_ex": (lambda t, a, b: list(t.linalg.solve_ex(a, b)), (A233, B234)),
    "solve_triangular_lower": (lambda t, a, b: t.linalg.solve_triangular(a, b, upper=False), (A233, B234)),
    "solve_triangular_upper_right": (lambda t, a, b: t.linalg.solve_triangular(a, b, upper=True, left=False),
                                     (A233, B243)),
    "solve_triangular_unit": (lambda t, a, b: t.linalg.solve_triangular(a, b, upper=True, unitriangular=True),
                              (A233, B234)),
    "det": (lambda t, a: t.linalg.det(a), (A233,)),
    "det_negative": (lambda t, a: t.linalg.det(a), (NEGATIVE_DET,)),
    "det_unconditioned": (lambda t, a: t.linalg.det(a), (X44,)),
    "slogdet": (lambda t, a: list(t.linalg.slogdet(a)), (np.stack([A33, NEGATIVE_DET]),)),
    "matrix_power": (lambda t, a: t.linalg.matrix_power(a, 3), (X33,)),
    "matrix_power_zero": (lambda t, a: t.linalg.matrix_power(a, 0), (X33,)),
    "matrix_power_negative": (lambda t, a: t.linalg.matrix_power(a, -2), (A233,)),
    "matrix_exp": (lambda t, a: t.linalg.matrix_exp(a), (X33,)),
    "matrix_exp_scales": (lambda t, a: t.linalg.matrix_exp(a), (X33 * SCALES,)),
    "tensorinv": (lambda t, a: t.linalg.tensorinv(a.reshape(4, 2, 2), ind=1), (A44,)),
    "tensorsolve": (lambda t, a, b: t.linalg.tensorsolve(a.reshape(2, 2, 2, 2), b.reshape(2, 2)), (A44, X44[0])),
    # decompositions
    "cholesky": (lambda t, x: t.linalg.cholesky(_spd(t, x)), (X33,)),
    "cholesky_batched_upper": (lambda t, x: t.linalg.cholesky(_spd(t, x), upper=True), (X234[..., :3],)),
    "cholesky_reads_lower_triangle": (lambda t, x: t.linalg.cholesky(_spd(t, x) + t.triu(x, 1)), (X33,)),
    "cholesky_ex": (lambda t, x: list(t.linalg.cholesky_ex(_spd(t, x))), (X234[..., :3],)),
    "qr_tall": (lambda t, x: list(t.linalg.qr(x)), (X53,)),
    "qr_wide": (lambda t, x: list(t.linalg.qr(x)), (X35,)),
    "qr_square_batched": (lambda t, x: list(t.linalg.qr(x)), (np.stack([X33, A33]),)),
    "qr_complete_square": (lambda t, x: list(t.linalg.qr(x, mode="complete")), (X33,)),
    "qr_complete_wide": (lambda t, x: list(t.linalg.qr(x, mode="complete")), (X35,)),
    "qr_batched_tall": (lambda t, x: list(t.linalg.qr(x)), (X243,)),
    "eigh": (lambda t, x: _eigh(t, x), (X44,)),
    "eigh_batched_upper": (lambda t, x: _eigh(t, x, "U"), (np.stack([X33, A33]),)),
    "eigh_values_only_grad": (lambda t, x: t.linalg.eigh(x + x.mT).eigenvalues, (X44,)),
    "eigvalsh": (lambda t, x: t.linalg.eigvalsh(x + x.mT), (X44,)),
    "eigvalsh_upper": (lambda t, x: t.linalg.eigvalsh(x, UPLO="U"), (np.triu(X44) + np.triu(X44, 1).T,)),
    "svd_square": (lambda t, x: _svd(t, x, False), (X44,)),
    "svd_tall": (lambda t, x: _svd(t, x, False), (X53,)),
    "svd_wide": (lambda t, x: _svd(t, x, False), (X35,)),
    "svd_full_tall_batched": (lambda t, x: _svd(t, x, True), (X243,)),
    "svd_full_wide": (lambda t, x: _svd(t, x, True), (X35,)),
    "svd_values_only_grad": (lambda t, x: t.linalg.svd(x).S, (X243,)),
    "svdvals": (lambda t, x: t.linalg.svdvals(x), (X234,)),
    "pinv_tall": (lambda t, x: t.linalg.pinv(x), (X53,)),
    "pinv_wide_batched": (lambda t, x: t.linalg.pinv(x), (X234,)),
    "pinv_rank_deficient": (lambda t, x, y: t.linalg.pinv(x @ y), (RANK_TWO_LEFT, RANK_TWO_RIGHT)),
    "pinv_hermitian": (lambda t, x: t.linalg.pinv(x + x.mT, hermitian=True), (X44,)),
    "pinv_rtol": (lambda t, x: t.linalg.pinv(x, rtol=0.5), (X44,)),
    "pinv_atol": (lambda t, x: t.linalg.pinv(x, atol=1.0), (X44,)),
    "matrix_rank": (lambda t, x, y: [t.linalg.matrix_rank(x @ y), t.linalg.matrix_rank(x @ y, hermitian=True),
                                     t.linalg.matrix_rank(y.mT @ y, atol=1.0, rtol=0.0)],
                    (RANK_TWO_LEFT, RANK_TWO_RIGHT)),
    "lstsq_tall": (lambda t, a, b: list(t.linalg.lstsq(a, b)), (X53, _normal(5, 2))),
    "lstsq_wide": (lambda t, a, b: t.linalg.lstsq(a, b).solution, (X35, _normal(3, 2))),
    "lstsq_vector": (lambda t, a, b: t.linalg.lstsq(a, b).solution, (X53, _normal(5))),
    "lstsq_vector_gelsd": (lambda t, a, b: list(t.linalg.lstsq(a, b, driver="gelsd"))[:3], (X53, _normal(5))),
    "lstsq_batched": (lambda t, a, b: t.linalg.lstsq(a, b).solution, (X243, _normal(2, 4, 2))),
    "lstsq_gelsd": (lambda t, a, b: list(t.linalg.lstsq(a, b, driver="gelsd"))[:3], (X53, _normal(5, 2))),
    "lstsq_gelss_singular_values": (lambda t, a, b: t.linalg.lstsq(a, b, driver="gelss").singular_values,
                                    (X53, _normal(5, 2))),
    "lstsq_gels": (lambda t, a, b: list(t.linalg.lstsq(a, b, driver="gels")), (X53, _normal(5, 2))),
    "lstsq_rank_deficient": (lambda t, x, y, b: t.linalg.lstsq(x @ y, b, driver="gelsd").solution,
                             (RANK_TWO_LEFT, RANK_TWO_RIGHT, _normal(4, 2))),
    # norms
    "vector_norm": (lambda t, x: [t.linalg.vector_norm(x), t.linalg.vector_norm(x, 1, dim=1),
                                  t.linalg.vector_norm(x, 3, dim=(0, 2), keepdim=True),
                                  t.linalg.vector_norm(x, 0.5, dim=-1)], (X234,)),
    "vector_norm_inf": (lambda t, x: [t.linalg.vector_norm(x, math.inf, dim=(1, 2)),
                                      t.linalg.vector_norm(x, -math.inf), t.linalg.vector_norm(x, 0, dim=0),
                                      t.linalg.vector_norm(x, -1.5, dim=2)], (X234,)),
    "vector_norm_at_zero": (lambda t, x: [t.linalg.vector_norm(x, o, dim=1) for o in (2, 1, 3, 1.5, 0.5, math.inf)],
                            (ZEROS_AND_VALUES,)),
    "vector_norm_ties": (lambda t, x: t.linalg.vector_norm(x.abs().round(), math.inf, dim=1),
                         (np.array([[1.2, -1.1, 0.4], [2.2, 1.9, -2.1]]),)),
    "vector_norm_dtype": (lambda t, x: t.linalg.vector_norm(x, dtype=t.float64), (X234,)),
    "vector_norm_0d": (lambda t, x: t.linalg.vector_norm(x[0, 0], dim=0), (X33,)),
    "matrix_norm": (lambda t, x: [t.linalg.matrix_norm(x, o) for o in ("fro", "nuc", 1, -1, 2, -2, math.inf,
                                                                        -math.inf)], (X234,)),
    "matrix_norm_dims_keepdim": (lambda t, x: [t.linalg.matrix_norm(x, o, dim=(2, 0), keepdim=True)
                                               for o in ("fro", "nuc", 1, -1, 2, math.inf, -math.inf)], (X234,)),
    "matrix_norm_empty": (lambda t, x: [t.linalg.matrix_norm(x[:, :0], o) for o in ("fro", "nuc", 1, 2, math.inf)],
                          (X234,)),
    "norm": (lambda t, x: [t.linalg.norm(x), t.linalg.norm(x[0], 2), t.linalg.norm(x[0, 0], 3),
                           t.linalg.norm(x, "nuc", dim=(1, 2)), t.linalg.norm(x, 1, dim=(0, 2), keepdim=True),
                           t.linalg.norm(x, 3, dim=1), t.linalg.norm(x, None, dim=(1, 2))], (X234,)),
    "cond": (lambda t, a: [t.linalg.cond(a), t.linalg.cond(a, -2)], (A233,)),
    "cond_rectangular": (lambda t, x: t.linalg.cond(x), (X243,)),
    # products and helpers
    "cross": (lambda t, a, b: t.linalg.cross(a, b), (_normal(2, 4, 3), _normal(1, 4, 3))),
    "cross_dim": (lambda t, a, b: t.linalg.cross(a, b, dim=0), (_normal(3, 4), _normal(3, 4))),
    "vecdot": (lambda t, x, y: [t.linalg.vecdot(x, y), t.linalg.vecdot(x, y[..., :1], dim=1)], (X234, _normal(3, 4))),
    "multi_dot": (lambda t, a, b, c, d: t.linalg.multi_dot([a, b, c, d]),
                  (_normal(2, 5), _normal(5, 3), _normal(3, 6), _normal(6, 2))),
    "multi_dot_vectors": (lambda t, a, b, c: [t.linalg.multi_dot([a, b, c]), t.linalg.multi_dot([a, b]),
                                              t.linalg.multi_dot([b, c])], (_normal(5), _normal(5, 3), _normal(3))),
    "diagonal": (lambda t, x: [t.linalg.diagonal(x), t.linalg.diagonal(x, offset=1, dim1=0, dim2=2)], (X234,)),
    "vander": (lambda t, x: [t.linalg.vander(x), t.linalg.vander(x, N=5)], (_normal(2, 3),)),
    "matmul": (lambda t, a, b: t.linalg.matmul(a, b), (X234, _normal(4, 2))),
}

# the lower triangle alone defines the input: finite differences see nothing in the upper one, while the
# gradient (symmetric, as PyTorch's) has it
# pinv with a cutoff that drops singular values: PyTorch's gradient (the constant-rank formula at A itself) is
# not the derivative of the truncated pseudo-inverse; minigrad gives PyTorch's
NO_GRADCHECK = {"cholesky_reads_lower_triangle", "eigvalsh_upper", "matrix_rank", "pinv_atol", "pinv_rtol"}

test_same_as_torch, test_gradcheck = case_tests(CASES, no_gradcheck=NO_GRADCHECK)

GPU_LEAVE_OUT = {"matrix_rank"}
test_same_on_gpu_as_on_cpu = gpu_case_tests(CASES, leave_out=GPU_LEAVE_OUT, rtol=1e-8, atol=1e-10)


# --- float32 ---------------------------------------------------------------------------------------------------

FLOAT32_CASES = ["inv", "solve", "det", "slogdet", "cholesky", "qr_tall", "eigh", "svd_tall", "pinv_tall",
                 "matrix_exp", "matrix_norm", "lstsq_tall"]


@pytest.mark.parametrize("name", FLOAT32_CASES)
def test_float32_same_as_torch(name: str, torch: Any) -> None:
    """float32 in, float32 out, values and gradients within float32 rounding of PyTorch's."""
    fn, arrays = CASES[name]
    ours_in = [mg.tensor(a.astype(np.float32), requires_grad=True) for a in arrays]
    theirs_in = [torch.tensor(a.astype(np.float32), requires_grad=True) for a in arrays]
    ours, theirs = fn(mg, *ours_in), fn(torch, *theirs_in)
    ours, theirs = (ours, theirs) if isinstance(ours, list) else ([ours], [theirs])
    loss_ours = loss_theirs = 0
    for o, t in zip(ours, theirs):
        assert o.dtype == np.float32 or o.dtype.kind == "i", f"{o.dtype}"
        assert_close(o, t, rtol=2e-4, atol=2e-5)
        if o.dtype.kind == "f" and o.requires_grad:
            loss_ours, loss_theirs = loss_ours + o.sum(), loss_theirs + t.sum()
    loss_ours.backward()
    loss_theirs.backward()
    for o, t in zip(ours_in, theirs_in):
        assert o.grad.dtype == np.float32
        assert_close(o.grad, t.grad, rtol=2e-3, atol=2e-4)


# --- named results ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, call", [
    ("slogdet", lambda t, a: t.linalg.slogdet(a)), ("eigh", lambda t, a: t.linalg.eigh(a)),
    ("svd", lambda t, a: t.linalg.svd(a)), ("qr", lambda t, a: t.linalg.qr(a)),
    ("inv_ex", lambda t, a: t.linalg.inv_ex(a)),
    ("cholesky_ex", lambda t, a: t.linalg.cholesky_ex(a)), ("solve_ex", lambda t, a: t.linalg.solve_ex(a, a)),
    ("lstsq", lambda t, a: t.linalg.lstsq(a, a)),
])
def test_named_results_have_torch_field_names(name: str, call: Callable, torch: Any) -> None:
    spd = A33 @ A33.T
    ours, theirs = call(mg, mg.tensor(spd)), call(torch, torch.tensor(spd))
    assert ours._fields == tuple(theirs._fields if hasattr(theirs, "_fields") else type(theirs).__match_args__)


def test_public_names_are_in_torch_linalg(torch: Any) -> None:
    names = set(mg.linalg.__all__) - {n for n in mg.linalg.__all__ if n.endswith("Result")}
    assert names <= set(dir(torch.linalg)) | {"LinAlgError"}
    assert "no attribute 'eig_'" in _attribute_error("eig_")   # an unknown name: Python's AttributeError


def _attribute_error(name: str) -> str:
    with pytest.raises(AttributeError) as error:
        getattr(mg.linalg, name)
    return str(error.value)


# --- singular matrices, failing factorizations -----------------------------------------------------------------

def test_det_gradient_at_a_singular_matrix_is_the_adjugate(torch: Any) -> None:
    """PyTorch's first-order backward gives 0 at an exactly singular matrix; its second-order path, like minigrad,
    gives the adjugate (the derivative finite differences see)."""
    ours = mg.tensor(SINGULAR, requires_grad=True)
    mg.linalg.det(ours).backward()
    theirs = torch.tensor(SINGULAR, requires_grad=True)
    (grad,) = torch.autograd.grad(torch.linalg.det(theirs), theirs, create_graph=True)
    assert_close(ours.grad, grad)
    assert np.abs(ours.grad.numpy()).max() > 1   # not 0: rank n - 1 has a non-zero adjugate
    assert mg.gradcheck(lambda a: mg.linalg.det(a), [mg.tensor(SINGULAR, requires_grad=True)])
    assert mg.gradcheck(lambda a: mg.linalg.det(a), [mg.tensor(np.zeros((3, 3)), requires_grad=True)])


def test_singular_inv_and_solve_raise_naming_the_function() -> None:
    batch = mg.tensor(np.stack([np.eye(3), SINGULAR]))
    with pytest.raises(mg.linalg.LinAlgError, match=r"linalg\.inv: the input is not invertible \(singular\).*batch "
                                                     r"element 1.*\(2, 3, 3\)"):
        mg.linalg.inv(batch)
    with pytest.raises(RuntimeError, match=r"linalg\.solve: the matrix A is not invertible \(singular\)"):
        mg.linalg.solve(batch, mg.ones(2, 3, dtype=mg.float64))
    with pytest.raises(mg.linalg.LinAlgError, match=r"linalg\.matrix_power"):
        mg.linalg.matrix_power(mg.tensor(SINGULAR), -1)
    with pytest.raises(mg.linalg.LinAlgError, match=r"linalg\.tensorinv"):
        mg.linalg.tensorinv(mg.tensor(SINGULAR), ind=1)


def test_inv_ex_and_solve_ex_info_match_torch(torch: Any) -> None:
    stack = np.stack([A33, SINGULAR, np.zeros((3, 3)), np.diag([1.0, 0.0, 2.0])])
    ours, theirs = mg.linalg.inv_ex(mg.tensor(stack)), torch.linalg.inv_ex(torch.tensor(stack))
    assert ours.info.dtype == np.int32
    np.testing.assert_array_equal(ours.info.numpy(), theirs.info.numpy())
    assert_close(ours.inverse[0], theirs.inverse[0])
    assert np.isnan(ours.inverse.numpy()[1:]).all()
    rhs = _normal(4, 3, 2)
    ours, theirs = mg.linalg.solve_ex(mg.tensor(stack), mg.tensor(rhs)), torch.linalg.solve_ex(torch.tensor(stack),
                                                                                                 torch.tensor(rhs))
    np.testing.assert_array_equal(ours.info.numpy(), theirs.info.numpy())
    ours = mg.linalg.solve_ex(mg.tensor(stack), mg.tensor(rhs).mT, left=False)
    theirs = torch.linalg.solve_ex(torch.tensor(stack), torch.tensor(rhs).mT, left=False)
    np.testing.assert_array_equal(ours.info.numpy(), theirs.info.numpy())
    with pytest.raises(mg.linalg.LinAlgError):
        mg.linalg.inv_ex(mg.tensor(stack), check_errors=True)


def test_cholesky_failure_matches_torch(torch: Any) -> None:
    stack = np.stack([np.eye(3), [[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]], -np.eye(3), A33 @ A33.T])
    ours, theirs = mg.linalg.cholesky_ex(mg.tensor(stack)), torch.linalg.cholesky_ex(torch.tensor(stack))
    np.testing.assert_array_equal(ours.info.numpy(), theirs.info.numpy())
    assert_close(ours.L, theirs.L)   # the partial factors too, as LAPACK leaves them
    with pytest.raises(mg.linalg.LinAlgError, match=r"linalg\.cholesky: the input is not positive-definite: the "
                                                     r"leading minor of order 2 .* batch element 1"):
        mg.linalg.cholesky(mg.tensor(stack))
    with pytest.raises(mg.linalg.LinAlgError, match="order 2"):   # upper=True reads the upper triangle
        mg.linalg.cholesky(mg.tensor([[1.0, 5.0], [0.0, 1.0]]), upper=True)
    assert_close(mg.linalg.cholesky(mg.tensor([[1.0, 5.0], [0.0, 1.0]])), np.eye(2))


def test_vector_norm_dtype_casts_first(torch: Any) -> None:
    x = X234.astype(np.float32)
    ours = mg.linalg.vector_norm(mg.tensor(x), 3, dim=1, dtype=mg.float64)
    assert ours.dtype == np.float64
    assert_close(ours, torch.linalg.vector_norm(torch.tensor(x), 3, dim=1, dtype=torch.float64))


def test_cond_in_other_norms_same_values_as_torch(torch: Any) -> None:
    """PyTorch cannot differentiate these (its inv_ex output is changed in place); minigrad can (gradcheck)."""
    for p in ("fro", "nuc", 1, -1, math.inf, -math.inf):
        assert_close(mg.linalg.cond(mg.tensor(A233), p), torch.linalg.cond(torch.tensor(A233), p))
        assert mg.gradcheck(lambda a, p=p: mg.linalg.cond(a, p), [mg.tensor(A233, requires_grad=True)])
    singular = np.stack([A33, SINGULAR])
    assert_close(mg.linalg.cond(mg.tensor(singular), 1), torch.linalg.cond(torch.tensor(singular), 1))


def test_slogdet_of_a_singular_matrix(torch: Any) -> None:
    sign, logabsdet = mg.linalg.slogdet(mg.tensor(SINGULAR))
    assert sign.item() == 0 and logabsdet.item() == -math.inf


# --- what is not differentiable --------------------------------------------------------------------------------

def test_qr_r_mode_and_complete_tall_are_not_differentiable() -> None:
    x = mg.tensor(X53, requires_grad=True)
    q, r = mg.linalg.qr(x, mode="r")
    assert q.shape == (0,) and r.shape == (3, 3)
    with pytest.raises(RuntimeError, match="mode='r'"):
        r.sum().backward()
    q, r = mg.linalg.qr(x, mode="complete")
    assert q.shape == (5, 5) and r.shape == (5, 3)
    with pytest.raises(RuntimeError, match="mode='complete'"):
        (q.sum() + r.sum()).backward()


def test_rank_and_info_have_no_gradient() -> None:
    x = mg.tensor(X44, requires_grad=True)
    assert not mg.linalg.matrix_rank(x).requires_grad
    assert mg.linalg.matrix_rank(x).dtype == np.int64
    assert not mg.linalg.inv_ex(x).info.requires_grad


def test_eigvalsh_and_svdvals_skip_the_vectors_without_grad() -> None:
    x = mg.tensor(X44 + X44.T)
    assert mg.linalg.eigvalsh(x)._node is None and mg.linalg.svdvals(x)._node is None
    with mg.no_grad():
        assert not mg.linalg.eigvalsh(mg.tensor(X44, requires_grad=True)).requires_grad


# --- errors ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, error, match", [
    (lambda: mg.linalg.inv(mg.ones(2, 3)), ValueError, r"linalg\.inv: A must be batches of square matrices, but they "
                                                       r"are 2 by 3 matrices \(shape \(2, 3\)\)"),
    (lambda: mg.linalg.det(mg.ones(3)), ValueError, r"linalg\.det: A must have at least 2 dims.*\(3,\)"),
    (lambda: mg.linalg.inv(mg.tensor([[1, 2], [3, 4]])), TypeError, r"linalg\.inv: expected a floating-point A, got "
                                                                     r"dtype int64"),
    (lambda: mg.linalg.inv(mg.ones(2, 2, dtype="float16")), TypeError, "low-precision"),
    (lambda: mg.linalg.solve(mg.eye(3), mg.ones(2)), ValueError, r"linalg\.solve: incompatible shapes of A \(3, 3\) "
                                                                 r"and B \(2,\) for the equation AX = B"),
    (lambda: mg.linalg.solve(mg.eye(3), mg.ones(4, 3)), ValueError, "AX = B"),
    (lambda: mg.linalg.solve(mg.eye(3), mg.ones(3), left=False), ValueError, "XA = B"),
    (lambda: mg.linalg.solve(mg.eye(3), mg.ones(3, 2, dtype="float64")), TypeError, "same dtype"),
    (lambda: mg.linalg.cholesky(mg.ones(2, 3)), ValueError, r"linalg\.cholesky: A must be batches of square"),
    (lambda: mg.linalg.qr(mg.ones(2, 2), mode="x"), ValueError, r"linalg\.qr: mode must be"),
    (lambda: mg.linalg.eigh(mg.ones(2, 2), UPLO="X"), ValueError, r"linalg\.eigh: UPLO must be 'L' or 'U'"),
    (lambda: mg.linalg.matrix_power(mg.ones(2, 3), 2), ValueError, r"linalg\.matrix_power: A must be batches"),
    (lambda: mg.linalg.matrix_exp(mg.ones(2, 3)), ValueError, r"linalg\.matrix_exp"),
    (lambda: mg.linalg.vector_norm(mg.ones(3, dtype="int64")), TypeError, r"linalg\.vector_norm: expected a "
                                                                          r"floating-point"),
    (lambda: mg.linalg.vector_norm(mg.ones(3), "fro"), TypeError, r"linalg\.vector_norm: ord must be a number"),
    (lambda: mg.linalg.vector_norm(mg.ones(3, dtype="float64"), dtype=mg.float32), TypeError, "narrowing"),
    (lambda: mg.linalg.vector_norm(mg.ones(0, 3), math.inf), ValueError, r"inf norm over the empty dim 0"),
    (lambda: mg.linalg.vector_norm(mg.ones(0, 3), -1, dim=0), ValueError, "-1 norm"),
    (lambda: mg.linalg.matrix_norm(mg.ones(3)), ValueError, r"linalg\.matrix_norm: the input A must have at least 2"),
    (lambda: mg.linalg.matrix_norm(mg.ones(2, 2), 3), ValueError, r"order 3 is not supported"),
    (lambda: mg.linalg.matrix_norm(mg.ones(2, 2), "abc"), ValueError, r"order 'abc' is not supported"),
    (lambda: mg.linalg.matrix_norm(mg.ones(2, 2), dim=(0, 0)), ValueError, "must be different"),
    (lambda: mg.linalg.matrix_norm(mg.ones(0, 2), -2), ValueError, "empty"),
    (lambda: mg.linalg.norm(mg.ones(2, 2, 2), 2), ValueError, r"linalg\.norm: if dim is not given but ord is"),
    (lambda: mg.linalg.norm(mg.ones(2, 2, 2), dim=(0, 1, 2)), ValueError, "1 or 2 dims"),
    (lambda: mg.linalg.norm(mg.ones(2, 2, 2), "fro", dim=1), ValueError, "pair of dims"),
    (lambda: mg.linalg.cond(mg.ones(3, 4), 1), ValueError, r"linalg\.cond\(ord=1\): A must be batches of square"),
    (lambda: mg.linalg.multi_dot([mg.ones(2, 2)]), ValueError, "at least 2 tensors"),
    (lambda: mg.linalg.multi_dot([mg.ones(3, 2), mg.ones(3, 2)]), ValueError, r"tensors 0 and 1 with shapes \(3, 2\) "
                                                                              r"and \(3, 2\) cannot be multiplied"),
    (lambda: mg.linalg.multi_dot([mg.ones(2, 2, 2), mg.ones(2, 3)]), ValueError, "first tensor must be 1-D or 2-D"),
    (lambda: mg.linalg.vecdot(mg.ones(2, 3), mg.ones(2)), ValueError, "do not broadcast"),
    (lambda: mg.linalg.lstsq(mg.ones(5, 3), mg.ones(4, 2)), ValueError, r"linalg\.lstsq: .* same m"),
    (lambda: mg.linalg.lstsq(mg.ones(5, 3), mg.ones(5, 2), driver="xx"), ValueError, "driver should be one of"),
    (lambda: mg.linalg.vander(mg.ones(3), N=1), ValueError, "N must be greater than 1"),
    (lambda: mg.linalg.tensorinv(mg.ones(2, 3), ind=1), ValueError, r"linalg\.tensorinv: expected prod"),
])
def test_errors_name_the_function_and_shapes(call: Callable, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call()


def test_errors_torch_raises_too(torch: Any) -> None:
    """The refusals above are PyTorch's as well (not stricter)."""
    with pytest.raises(RuntimeError):
        torch.linalg.solve(torch.eye(3), torch.ones(3), left=False)
    with pytest.raises(RuntimeError):
        torch.linalg.norm(torch.ones(2, 2, 2), 2)
    with pytest.raises(RuntimeError):
        torch.linalg.vector_norm(torch.ones(0, 3), math.inf)


# --- batches of many shapes ------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (5, 5), (3, 1, 2, 2), (0, 3, 3), (2, 0, 0)])
def test_batches_and_empty_shapes_same_as_torch(shape: tuple, torch: Any) -> None:
    data = np.random.default_rng(3).standard_normal(shape) + 3 * np.eye(shape[-1])
    for fn in (lambda t, a: t.linalg.inv(a), lambda t, a: t.linalg.det(a), lambda t, a: t.linalg.matrix_exp(a),
               lambda t, a: t.linalg.slogdet(a).logabsdet, lambda t, a: t.linalg.cholesky(a @ a.mT),
               lambda t, a: t.linalg.svdvals(a), lambda t, a: t.linalg.eigvalsh(a + a.mT)):
        ours, theirs = mg.tensor(data, requires_grad=True), to_torch(torch, data, True)
        out, expected = fn(mg, ours), fn(torch, theirs)
        assert_close(out, expected, rtol=1e-9)
        out.sum().backward()
        expected.sum().backward()
        assert_close(ours.grad, theirs.grad, rtol=1e-8, atol=1e-10)
