"""Householder reflectors in LAPACK's layout (``geqrf``, ``linalg.householder_product``/``orgqr``, ``ormqr``)
against PyTorch: values, batches, dtypes, errors and float64 gradients (geqrf has none: backward raises)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from helpers import case_tests, gpu_case_tests

import minigrad as mg

rng = np.random.default_rng(7)


def _normal(*shape: int) -> np.ndarray:
    return rng.standard_normal(shape)


def _taus(*shape: int) -> np.ndarray:
    return rng.uniform(0.2, 1.8, shape)


CASES = {
    "householder_product_tall": (lambda t, a, tau: t.linalg.householder_product(a, tau), (_normal(5, 3), _taus(3))),
    "householder_product_fewer_taus": (lambda t, a, tau: t.linalg.householder_product(a, tau),
                                       (_normal(4, 3), _taus(2))),
    "householder_product_batch": (lambda t, a, tau: t.linalg.householder_product(a, tau),
                                  (_normal(2, 3, 3), _taus(2, 3))),
    "orgqr_method": (lambda t, a, tau: a.orgqr(tau), (_normal(4, 2), _taus(2))),
    "ormqr_left": (lambda t, a, tau, c: t.ormqr(a, tau, c), (_normal(4, 3), _taus(3), _normal(4, 2))),
    "ormqr_left_transpose": (lambda t, a, tau, c: t.ormqr(a, tau, c, transpose=True),
                             (_normal(4, 3), _taus(3), _normal(4, 5))),
    "ormqr_right": (lambda t, a, tau, c: t.ormqr(a, tau, c, left=False), (_normal(3, 4), _taus(3), _normal(2, 3))),
    "ormqr_right_transpose_batch": (lambda t, a, tau, c: a.ormqr(tau, c, False, True),
                                    (_normal(2, 4, 2), _taus(2, 2), _normal(2, 3, 4))),
}

test_same_as_torch, test_gradcheck = case_tests(CASES)
test_same_on_gpu_as_on_cpu = gpu_case_tests({
    **CASES, "geqrf": (lambda t, x: [o.detach() for o in t.geqrf(x)], (_normal(2, 4, 3),))})


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 3, 3), (5, 1), (2, 0, 4), (1, 2, 3, 2)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_geqrf_is_lapacks(shape: tuple, dtype: str, torch: Any) -> None:
    """(a, tau) in LAPACK's packed layout, as torch.geqrf, for tall, wide, batched and empty inputs."""
    x = _normal(*shape).astype(dtype)
    ours, theirs = mg.geqrf(mg.tensor(x)), torch.geqrf(torch.from_numpy(x))
    assert type(ours).__name__ == "geqrf" and ours._fields == ("a", "tau")
    tol = 1e-5 if dtype == "float32" else 1e-12
    for o, t in zip(ours, theirs):
        assert o.dtype == t.numpy().dtype and o.shape == tuple(t.shape)
        np.testing.assert_allclose(o.numpy(), t.numpy(), rtol=tol, atol=tol)
    assert mg.tensor(x).geqrf().tau.shape == tuple(theirs.tau.shape)


def test_geqrf_signs_where_a_column_is_already_reduced(torch: Any) -> None:
    """LAPACK's dlarfg: tau = 0 where the column below the diagonal is zero (whatever the sign), a zero column."""
    for x in ([[0.0, 1], [0, 2], [0, 3]], [[-1.0, 0], [0, -2], [0, 0]], [[2.0, 1], [0, 0], [0, 5]]):
        ours, theirs = mg.geqrf(mg.tensor(x, dtype=mg.float64)), torch.geqrf(torch.tensor(x, dtype=torch.float64))
        for o, t in zip(ours, theirs):
            np.testing.assert_allclose(o.numpy(), t.numpy(), rtol=1e-12, atol=1e-12)


def test_geqrf_round_trip_and_no_gradient() -> None:
    """Q from householder_product and R from the upper triangle give back A; backward through geqrf raises."""
    x = mg.tensor(_normal(2, 5, 3), requires_grad=True)
    a, tau = mg.geqrf(x)
    assert a.requires_grad and tau.requires_grad
    q = mg.linalg.householder_product(a, tau)
    np.testing.assert_allclose((q @ a[..., :3, :].triu()).numpy(), x.numpy(), atol=1e-12)
    np.testing.assert_allclose((q.mT @ q).numpy(), np.broadcast_to(np.eye(3), (2, 3, 3)), atol=1e-12)
    with pytest.raises(NotImplementedError, match="derivative for 'geqrf' is not implemented"):
        a.sum().backward()


def test_householder_product_second_order() -> None:
    """The gradient is differentiable again (the composition of matmuls)."""
    a, tau = mg.tensor(_normal(3, 2), requires_grad=True), mg.tensor(_taus(2), requires_grad=True)
    (ga,) = mg.autograd.grad((mg.linalg.householder_product(a, tau) ** 3).sum(), [a], create_graph=True)
    (gtau,) = mg.autograd.grad(ga.sum(), [tau])
    assert gtau.shape == (2,) and np.isfinite(gtau.numpy()).all()


ERRORS = [
    (lambda t: t.geqrf(t.ones(3)), "at least 2 dim"),
    (lambda t: t.linalg.householder_product(t.ones(3, 4), t.ones(2)), r"input.shape\[-2\] must be greater"),
    (lambda t: t.linalg.householder_product(t.ones(4, 3), t.ones(4)), r"input.shape\[-1\] must be greater"),
    (lambda t: t.linalg.householder_product(t.ones(4, 3), t.ones(2, 2)), "one dimension less"),
    (lambda t: t.linalg.householder_product(t.ones(2, 4, 3), t.ones(1, 2)), "batch dimensions of tau"),
    (lambda t: t.ormqr(t.ones(4, 3), t.ones(2), t.ones(4, 5)), r"tau.shape\[-1\] must be equal to min"),
    (lambda t: t.ormqr(t.ones(4, 3), t.ones(3), t.ones(5, 4)), r"other.shape\[-2\] must be equal"),
    (lambda t: t.ormqr(t.ones(2, 4, 3), t.ones(2, 3), t.ones(4, 5)), "same number of dimensions"),
    (lambda t: t.ormqr(t.ones(2, 4, 3), t.ones(2, 3), t.ones(3, 4, 5)), "batch dimensions of other"),
    (lambda t: t.ormqr(t.ones(4, 3), t.ones(3), t.ones(5)), "at least 2 dim"),
]


@pytest.mark.parametrize("case", range(len(ERRORS)))
def test_shape_errors_as_torch(case: int, torch: Any) -> None:
    """The shapes PyTorch refuses raise here too, with PyTorch's wording, naming the shapes."""
    call, message = ERRORS[case]
    with pytest.raises(RuntimeError, match=message):
        call(torch)
    with pytest.raises(RuntimeError, match=message):
        call(mg)


def test_dtype_errors() -> None:
    """Integer inputs and mixed dtypes are refused, naming the op and the dtypes."""
    with pytest.raises(TypeError, match="geqrf.*int64"):
        mg.geqrf(mg.ones(3, 3, dtype=mg.int64))
    with pytest.raises(TypeError, match="householder_product.*float32.*float64"):
        mg.linalg.householder_product(mg.ones(4, 3), mg.ones(2, dtype=mg.float64))
    with pytest.raises(TypeError, match="ormqr.*other"):
        mg.ormqr(mg.ones(4, 3), mg.ones(3), mg.ones(4, 5, dtype=mg.float64))
