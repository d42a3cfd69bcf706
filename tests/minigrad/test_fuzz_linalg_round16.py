"""Linear algebra against torch: batches, complex, singular and non-finite inputs (round 16 differential fuzzing).

Each test runs the same call on torch and on minigrad and compares values, dtypes, shapes, gradients, or the class
(and the batch element) of the error both raise."""

from __future__ import annotations

import threading
import warnings
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")

rng = np.random.default_rng(16)


def _np(t: Any) -> np.ndarray:
    return np.asarray(t.detach().resolve_conj().numpy() if isinstance(t, torch.Tensor) else t.detach().numpy())


def _random(*shape: int, dtype: Any = np.float64) -> np.ndarray:
    x = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)


def _run(lib: Any, call: Callable, arrays: list) -> tuple[list, list]:
    """The outputs of ``call(lib, *tensors)`` and each input's gradient of Σ sin(|out|) over the float outputs."""
    tensors = [lib.tensor(a.copy(), requires_grad=True) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = call(lib, *tensors)
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        loss = sum((o.abs() if o.is_complex() else o).sin().sum() for o in outs if o.requires_grad)
        loss.backward()
    return outs, [None if t.grad is None else _np(t.grad) for t in tensors]


def _same(call: Callable, *arrays: np.ndarray) -> None:
    (t_outs, t_grads), (m_outs, m_grads) = _run(torch, call, list(arrays)), _run(mg, call, list(arrays))
    assert len(t_outs) == len(m_outs)
    for t, m in zip(t_outs, m_outs):
        assert tuple(t.shape) == tuple(m.shape) and str(t.dtype).replace("torch.", "") == str(m.dtype)
        np.testing.assert_allclose(_np(m), _np(t), rtol=1e-5, atol=1e-6, equal_nan=True)
    for t, m in zip(t_grads, m_grads):
        assert (t is None) == (m is None)
        if t is not None:
            np.testing.assert_allclose(m, t, rtol=1e-5, atol=1e-6, equal_nan=True)


# --- torch.svd's V is Vh's conjugate transpose: input = U diag(S) Vᴴ for complex inputs too -----------------------

@pytest.mark.parametrize("some", [True, False])
@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 3), (3, 2)])
def test_legacy_svd_of_a_complex_matrix_gives_v_not_its_conjugate(shape: tuple, some: bool) -> None:
    a = _random(*shape, dtype=np.complex128)

    def rebuilt(lib: Any, x: Any) -> Any:   # gauge-invariant: U diag(S) Vᴴ, and |V|
        u, s, v = lib.svd(x, some=some)
        k = s.shape[-1]
        return (u[..., :k] * s.unsqueeze(-2).to(u.dtype)) @ v[..., :k].mH, v.abs()

    _same(rebuilt, a)
    np.testing.assert_allclose(_np(rebuilt(mg, mg.tensor(a))[0]), a, atol=1e-12)


# --- solve_ex's info has A's own batch shape; solve names A's batch element -------------------------------------

@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("a_shape, b_shape", [((4, 4), (1, 4, 4)), ((3, 1, 4, 4), (3, 5, 4, 4)),
                                              ((3, 1, 4, 4), (2, 3, 1, 4, 4))])
def test_solve_ex_info_has_the_batch_shape_of_a(a_shape: tuple, b_shape: tuple, left: bool) -> None:
    a = _random(*a_shape, dtype=np.complex64)
    if len(a_shape) > 2:
        a[1] = 0   # batch element 1 of A singular
    b = _random(*b_shape, dtype=np.complex64)
    t = torch.linalg.solve_ex(torch.tensor(a), torch.tensor(b), left=left)
    m = mg.linalg.solve_ex(mg.tensor(a), mg.tensor(b), left=left)
    assert tuple(m.info.shape) == tuple(t.info.shape)
    np.testing.assert_array_equal(m.info.numpy(), t.info.numpy())
    if len(a_shape) > 2:
        with pytest.raises(RuntimeError, match=r"\(Batch element 1\)"):
            torch.linalg.solve(torch.tensor(a), torch.tensor(b), left=left)
        with pytest.raises(mg.linalg.LinAlgError, match=r"batch element 1 \(input shape \(3, 1, 4, 4\)\)"):
            mg.linalg.solve(mg.tensor(a), mg.tensor(b), left=left)


# --- lstsq(driver="gels") of an A without columns reports zero residuals, as PyTorch's ----------------------------

@pytest.mark.parametrize("shape", [(4, 0), (2, 3, 0)])
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_lstsq_gels_of_no_columns_has_zero_residuals(shape: tuple, dtype: Any) -> None:
    _same(lambda lib, a, b: tuple(lib.linalg.lstsq(a, b, driver="gels")[:2]), _random(*shape, dtype=dtype),
          _random(*shape[:-1], 2, dtype=dtype))


# --- qr's backward at a rank-deficient A: NaN as PyTorch's (it raised NumPy's "Singular matrix") -----------------

@pytest.mark.parametrize("mode", ["reduced", "complete"])
@pytest.mark.parametrize("a", [np.zeros((3, 3)), np.zeros((1, 2, 2), np.complex128)], ids=["real", "complex"])
def test_qr_backward_at_a_singular_r_is_nan_not_an_error(a: np.ndarray, mode: str) -> None:
    _same(lambda lib, x: lib.linalg.qr(x, mode=mode), a)


# --- cholesky_inverse of a factor with a zero on its diagonal raises, naming the batch element -------------------

@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.complex128])
def test_cholesky_inverse_of_a_singular_factor_raises(upper: bool, dtype: Any) -> None:
    factor = np.tile(np.eye(3, dtype=dtype), (2, 1, 1))
    factor[1, 2, 2] = 0
    with pytest.raises(RuntimeError, match=r"Batch element 1\): The diagonal element 3 is zero"):
        torch.cholesky_inverse(torch.tensor(factor), upper=upper)
    with pytest.raises(mg.linalg.LinAlgError, match=r"diagonal element 3 is zero.* in batch element 1"):
        mg.cholesky_inverse(mg.tensor(factor), upper=upper)
    _same(lambda lib, x: lib.cholesky_inverse(x, upper=upper), factor[0])   # the invertible one still works


# --- an SVD of a matrix with an inf: NaN factors (NumPy's gesdd looped forever); a NaN raises ---------------------
# PyTorch's S is NaN there; its U and Vh are what LAPACK left, NaN for this position of the inf (a permutation for
# some others, where minigrad's stay NaN)

def _within(seconds: float, call: Callable[[], Any]) -> Any:
    """``call()``'s result, failing (not hanging) where it does not return in time."""
    box: dict = {}

    def target() -> None:
        try:
            box["value"] = call()
        except Exception as error:  # noqa: BLE001 - handed back to the test
            box["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the call did not return (LAPACK looping on a non-finite input)"
    if "error" in box:
        raise box["error"]
    return box["value"]


SVD_CALLS = {   # complex Vh: PyTorch's backward raises at NaN vectors (its phase check), so only S there
    "svd": lambda lib, a: lib.linalg.svd(a, full_matrices=False)[1 if a.is_complex() else slice(1, None)],
    "svd_full": lambda lib, a: lib.linalg.svd(a)[1 if a.is_complex() else slice(1, None)],
    "svdvals": lambda lib, a: lib.linalg.svdvals(a),
    "pinv": lambda lib, a: lib.linalg.pinv(a),
    "matrix_norm_2": lambda lib, a: lib.linalg.matrix_norm(a, 2),
    "nuclear_norm": lambda lib, a: lib.linalg.matrix_norm(a, "nuc"),
    "legacy_svd": lambda lib, a: lib.svd(a)[1],
}


@pytest.mark.parametrize("case", SVD_CALLS)
@pytest.mark.parametrize("dtype", [np.float32, np.complex128])
def test_svd_of_a_matrix_with_an_inf(case: str, dtype: Any) -> None:
    # A draw of its own, not the module's rng (whose draw here depended on which tests ran before in the worker):
    # one whose finite matrix has well separated singular values (2.9, 1.6, 0.8 for float32), as the float32
    # backward's 1/(s_i^2 - s_j^2) and 1/s terms amplify each LAPACK's rounding (NumPy's and PyTorch's differ, and
    # by CPU): over 2,100 random draws 3.5 % were more than 1e-5 apart, up to 6e-4 (pinv, s_min 0.2)
    draw = np.random.default_rng(2316)
    a = draw.standard_normal((2, 3, 4))
    if np.dtype(dtype).kind == "c":
        a = a + 1j * draw.standard_normal((2, 3, 4))
    a = a.astype(dtype)
    a[0, 0, 3] = np.inf
    _within(30, lambda: _same(SVD_CALLS[case], a))


def test_svd_of_a_matrix_with_a_nan_raises_naming_the_batch_element() -> None:
    a = _random(2, 3, 4)
    a[0, 0, 3], a[1, 1, 1] = np.inf, np.nan
    with pytest.raises(RuntimeError, match=r"Batch element 1"):
        torch.linalg.svd(torch.tensor(a))
    with pytest.raises(mg.linalg.LinAlgError, match=r"NaN in batch element 1"):
        _within(30, lambda: mg.linalg.svd(mg.tensor(a)))


# --- solve(A, b, left=False) with a vector b raises as PyTorch's (a 1 by 1 A was taken) ---------------------------

@pytest.mark.parametrize("a_shape, b_shape", [((1, 1), (1,)), ((2, 1, 1), (2, 1)), ((0, 1, 1), (0, 1))])
def test_solve_of_a_vector_with_left_false_raises(a_shape: tuple, b_shape: tuple) -> None:
    a, b = np.ones(a_shape) * 2, np.ones(b_shape)
    with pytest.raises(RuntimeError, match="Vector broadcasting of the left hand side is not supported"):
        torch.linalg.solve(torch.tensor(a), torch.tensor(b), left=False)
    with pytest.raises(RuntimeError, match="Vector broadcasting of the left hand side is not supported"):
        mg.linalg.solve(mg.tensor(a), mg.tensor(b), left=False)


# --- cholesky's backward through a failed factor (cholesky_ex of a matrix not positive-definite): NaN ------------

@pytest.mark.parametrize("a", [np.zeros((1, 1), np.complex128), np.zeros((2, 3, 3))], ids=["complex", "batch"])
def test_cholesky_ex_backward_of_a_zero_pivot_is_nan_not_an_error(a: np.ndarray) -> None:
    _same(lambda lib, x: lib.linalg.cholesky_ex(x).L, a)
