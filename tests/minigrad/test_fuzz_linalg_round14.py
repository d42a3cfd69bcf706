"""Linear algebra against torch: the cases a differential fuzzer found (round 14).

Each case runs the same call on torch and on minigrad and compares values, dtypes, shapes and the gradients of a
fixed weighted sum (never a hard-coded outcome), or the class of the error both raise."""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")

rng = np.random.default_rng(14)


def _np(t: Any) -> np.ndarray:
    return np.asarray(t.detach().resolve_conj().numpy() if isinstance(t, torch.Tensor) else t.numpy())


def _random(*shape: int, dtype: Any = np.float64) -> np.ndarray:
    x = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)


def _run(lib: Any, call: Callable, arrays: list) -> tuple[list, list]:
    """The outputs of ``call(lib, *tensors)`` and each input's gradient of Σ sin(|out|) over the float outputs."""
    tensors = [lib.tensor(a.copy(), requires_grad=a.dtype.kind in "fc") for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = call(lib, *tensors)
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        floats = [o for o in outs if o.dtype.is_floating_point or o.dtype.is_complex] if lib is torch else \
            [o for o in outs if o.dtype.kind in "fc"]
        loss = sum((o.abs() if o.is_complex() else o).sin().sum() for o in floats if o.requires_grad)
        if not isinstance(loss, int):
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
        if t is not None:   # single precision: the sums run in another order
            tolerance = 1e-3 if t.dtype in (np.float32, np.complex64) else 1e-6
            np.testing.assert_allclose(m, t, rtol=tolerance, atol=tolerance)


def _same_error(call: Callable, *arrays: np.ndarray) -> None:
    with pytest.raises(Exception) as theirs:
        call(torch, *[torch.tensor(a) for a in arrays])
    expected = RuntimeError if isinstance(theirs.value, RuntimeError) else type(theirs.value)
    with pytest.raises(expected):
        call(mg, *[mg.tensor(a) for a in arrays])


# --- lstsq: the "gels" driver ignores rcond and reports residuals without a rank test, as PyTorch's ----------------

@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 5, 3)])
def test_lstsq_gels_ignores_rcond(shape: tuple) -> None:
    _same(lambda lib, a, b: lib.linalg.lstsq(a, b, rcond=0.5, driver="gels"), _random(*shape),
          _random(*shape[:-1], 2))


def test_lstsq_gels_residuals_without_a_rank_test() -> None:
    a = _random(5, 3)
    a[:, 2] = a[:, 0] + 1e-9 * a[:, 1]   # nearly rank 2: gelsd's rank drops, gels still reports residuals
    t = torch.linalg.lstsq(torch.tensor(a), torch.tensor(_random(5, 2)), driver="gels").residuals
    m = mg.linalg.lstsq(mg.tensor(a), mg.tensor(_random(5, 2)), rcond=1e-6, driver="gels").residuals
    assert tuple(m.shape) == tuple(t.shape) == (2,)


# --- addmm and its family with beta=0: the input (NaN ignored) still gets a zero gradient ------------------------

ADD_PRODUCTS = {
    "addmm": (lambda lib, x, a, b: lib.addmm(x, a, b, beta=0, alpha=2), [(2, 4), (2, 3), (3, 4)]),
    "addmm_broadcast": (lambda lib, x, a, b: lib.addmm(x, a, b, beta=0), [(4,), (2, 3), (3, 4)]),
    "addmv": (lambda lib, x, a, b: lib.addmv(x, a, b, beta=0), [(2,), (2, 3), (3,)]),
    "addr": (lambda lib, x, a, b: lib.addr(x, a, b, beta=0), [(2, 4), (2,), (4,)]),
    "addbmm": (lambda lib, x, a, b: lib.addbmm(x, a, b, beta=0), [(2, 4), (5, 2, 3), (5, 3, 4)]),
    "baddbmm": (lambda lib, x, a, b: lib.baddbmm(x, a, b, beta=0.0), [(5, 2, 4), (5, 2, 3), (5, 3, 4)]),
    "method": (lambda lib, x, a, b: x.addmm(a, b, beta=0), [(2, 4), (2, 3), (3, 4)]),
}


@pytest.mark.parametrize("case", ADD_PRODUCTS)
@pytest.mark.parametrize("dtype", [np.float32, np.complex128])
def test_add_products_with_beta_zero_give_the_input_a_zero_gradient(case: str, dtype: Any) -> None:
    call, shapes = ADD_PRODUCTS[case]
    x, a, b = (_random(*shape, dtype=dtype) for shape in shapes)
    x.reshape(-1)[0] = np.nan
    _same(call, x, a, b)


# --- linalg.vander of complex x -------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(3,), (2, 3), (0, 3), (4, 1, 2)])
def test_vander_of_complex(shape: tuple) -> None:
    _same(lambda lib, x: lib.linalg.vander(x), _random(*shape, dtype=np.complex128))
    _same(lambda lib, x: lib.linalg.vander(x, N=4), _random(*shape, dtype=np.complex64))


# --- einsum: a size-1 dim broadcasts against the same index elsewhere; the sublist form ---------------------------

@pytest.mark.parametrize("equation, shapes", [
    ("ij,ij->i", [(3, 1), (3, 2)]),
    ("ij,jk->ik", [(2, 1), (3, 4)]),
    ("ij,jk", [(2, 3), (1, 4)]),
    ("bij,bjk->bik", [(1, 2, 3), (4, 3, 2)]),
    ("ii,i->i", [(1, 1), (3,)]),
    ("i,i->", [(1,), (0,)]),
])
def test_einsum_broadcasts_size_one_dims(equation: str, shapes: list) -> None:
    _same(lambda lib, *ops: lib.einsum(equation, *ops), *[_random(*s) for s in shapes])


def test_einsum_sublist_form() -> None:
    a, b = _random(2, 3), _random(3, 4)
    _same(lambda lib, x, y: lib.einsum(x, [0, 1], y, [1, 2], [0, 2]), a, b)
    _same(lambda lib, x, y: lib.einsum(x, [27, 1], y, [1, 51]), a, b)   # implicit output: 'A' sorts before 'z'
    _same(lambda lib, x, y: lib.einsum(x, [Ellipsis, 0], y, [0, Ellipsis]), _random(5, 2, 3), _random(3, 2))
    _same_error(lambda lib, x, y: lib.einsum(x, [0, 52], y, [0, 1]), a, _random(2, 3))


@pytest.mark.parametrize("equation, shapes, dtype", [
    ("ij->i", [(2, 40)], np.uint8),   # summed with PyTorch's sum: int64, no wrap-around
    ("i->", [(40,)], np.bool_),
    ("ii", [(3, 3)], np.int8),
    ("i,j->", [(30,), (30,)], np.int16),
    ("ij,kj->", [(2, 30), (4, 30)], np.int8),
    ("ij,j->i", [(2, 3), (3,)], np.int32),   # no index of one operand alone: the dtype stays
    ("ii->i", [(3, 3)], np.uint8),
    ("ij,j->", [(1, 3), (3,)], np.int32),   # a private index of size 1 beside other operands: not summed
])
def test_einsum_of_integers_sums_in_int64(equation: str, shapes: list, dtype: Any) -> None:
    arrays = [np.full(s, 100).astype(dtype) for s in shapes]
    theirs = torch.einsum(equation, *[torch.tensor(a) for a in arrays])
    ours = mg.einsum(equation, *[mg.tensor(a) for a in arrays])
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


# --- householder_product / ormqr with no reflectors (tau of size 0) -------------------------------------------------

@pytest.mark.parametrize("shape, tau", [((3, 2), (0,)), ((0, 0), (0,)), ((2, 0, 0), (2, 0))])
def test_householder_product_of_no_reflectors(shape: tuple, tau: tuple) -> None:
    for lib in (torch, mg):   # the product still requires grad (its backward runs), as PyTorch's
        a, t = lib.ones(shape, requires_grad=True), lib.ones(tau, requires_grad=True)
        out = lib.linalg.householder_product(a, t)
        assert out.requires_grad
        out.sum().backward()
    _same(lambda lib, a, t: lib.linalg.householder_product(a, t), _random(*shape), _random(*tau))
    if shape[-1] == 0:   # ormqr's tau has min(m, n) elements
        other = _random(*shape[:-2], shape[-2], 2)
        _same(lambda lib, a, t, c: lib.ormqr(a, t, c), _random(*shape), _random(*tau), other)


# --- errors: PyTorch's RuntimeError (the TypeError/ValueError minigrad raised before still catch them) ------------

ERRORS = {
    "float16_inv": (lambda lib, a: lib.linalg.inv(a), [np.eye(3, dtype=np.float16)]),
    "float16_svd": (lambda lib, a: lib.linalg.svd(a), [np.eye(3, dtype=np.float16)]),
    "solve_dtypes": (lambda lib, a, b: lib.linalg.solve(a, b), [np.eye(3), np.ones((3, 1), np.float32)]),
    "lstsq_dtypes": (lambda lib, a, b: lib.linalg.lstsq(a, b), [np.eye(3), np.ones((3, 1), np.float32)]),
    "multi_dot_one": (lambda lib, a: lib.linalg.multi_dot([a]), [np.eye(3)]),
    "multi_dot_3d": (lambda lib, a, b: lib.linalg.multi_dot([a, b]), [np.ones((2, 3, 4)), np.ones((4, 5))]),
    "tensorinv_shape": (lambda lib, a: lib.linalg.tensorinv(a, ind=1), [np.ones((2, 3))]),
    "qr_mode": (lambda lib, a: lib.linalg.qr(a, mode="x"), [np.eye(3)]),
    "eigvalsh_uplo": (lambda lib, a: lib.linalg.eigvalsh(a, UPLO="X"), [np.eye(3)]),
    "einsum_repeated_output": (lambda lib, a: lib.einsum("ij->ii", a), [np.eye(3)]),
    "lu_solve_shapes": (lambda lib, a, b: lib.linalg.lu_solve(*lib.linalg.lu_factor(a), b),
                        [np.eye(3), np.ones((4, 1))]),
    "vander_bool": (lambda lib, x: lib.linalg.vander(x), [np.ones(3, bool)]),
    "cholesky_inverse_shape": (lambda lib, a: lib.cholesky_inverse(a), [np.ones((2, 3))]),
}


@pytest.mark.parametrize("case", ERRORS)
def test_errors_are_pytorchs_class(case: str) -> None:
    call, arrays = ERRORS[case]
    _same_error(call, *arrays)
