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


# --- the LDL family -------------------------------------------------------------------------------------------

def _symmetric(*shape: int) -> np.ndarray:
    x = _normal(*shape)
    return x + np.swapaxes(x, -1, -2)


LDL_MATRICES = {
    "random": _symmetric(3, 5, 5),
    "two_by_two_pivots": np.array([[0.0, 1, 2], [1, 0, 3], [2, 3, 0]]),   # zero diagonal: 2×2 blocks
    "mixed": np.array([[1.0, 2, 3], [2, 1, 3], [3, 3, 1]]),
    "small_pivot": np.array([[1e-3, 1, 0, 2], [1, 2, 1, 0], [0, 1, 1e-4, 3], [2, 0, 3, 1]]),
    "singular": np.array([[[0.0, 0], [0, 0]], [[2, 1], [1, 2]]]),
    "one": np.array([[-3.0]]),
    "empty": np.zeros((2, 0, 0)),
}


@pytest.mark.parametrize("name", sorted(LDL_MATRICES))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_ldl_factor_ex_is_lapacks(name: str, dtype: str, torch: Any) -> None:
    """LD, pivots and info as torch.linalg.ldl_factor_ex (LAPACK's sytrf, lower): the same pivots, 2×2 blocks."""
    x = LDL_MATRICES[name].astype(dtype)
    ours, theirs = mg.linalg.ldl_factor_ex(mg.tensor(x)), torch.linalg.ldl_factor_ex(torch.from_numpy(x))
    assert type(ours).__name__ == "linalg_ldl_factor_ex" and ours._fields == ("LD", "pivots", "info")
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(ours.LD.numpy(), theirs.LD.numpy(), rtol=tol, atol=tol)
    for o, t in zip(ours, theirs):
        assert o.dtype == t.numpy().dtype and o.shape == tuple(t.shape)
    np.testing.assert_array_equal(ours.pivots.numpy(), theirs.pivots.numpy())
    np.testing.assert_array_equal(ours.info.numpy(), theirs.info.numpy())


@pytest.mark.parametrize("name", ["random", "two_by_two_pivots", "mixed", "small_pivot", "one"])
def test_ldl_solve_as_torch(name: str, torch: Any) -> None:
    """ldl_solve on the factors gives torch's X (and solves A X = B); B's batch dims broadcast against LD's."""
    x = LDL_MATRICES[name]
    b = _normal(*x.shape[:-1], 2)
    factors = mg.linalg.ldl_factor(mg.tensor(x))
    theirs = torch.linalg.ldl_factor(torch.from_numpy(x))
    ours_x = mg.linalg.ldl_solve(*factors, mg.tensor(b))
    np.testing.assert_allclose(ours_x.numpy(), torch.linalg.ldl_solve(*theirs, torch.from_numpy(b)).numpy(),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(x @ ours_x.numpy(), b, atol=1e-10)
    single = mg.linalg.ldl_solve(*factors, mg.tensor(b[..., :1, :, :] if b.ndim == 3 else b))
    assert single.shape == ours_x.shape


def test_ldl_errors_and_no_gradient() -> None:
    """A singular D raises in ldl_factor (not in ldl_factor_ex); shapes and dtypes named; backward raises."""
    with pytest.raises(mg.linalg.LinAlgError, match="ldl_factor.*singular.*element 1.*batch element 0"):
        mg.linalg.ldl_factor(mg.tensor(LDL_MATRICES["singular"]))
    assert mg.linalg.ldl_factor_ex(mg.tensor(LDL_MATRICES["singular"])).info.tolist() == [1, 0]
    with pytest.raises(RuntimeError, match="square"):
        mg.linalg.ldl_factor(mg.ones(3, 4))
    with pytest.raises(TypeError, match="ldl_factor.*int64"):
        mg.linalg.ldl_factor(mg.ones(3, 3, dtype=mg.int64))
    a = mg.tensor(_symmetric(3, 3), requires_grad=True)
    ld, pivots = mg.linalg.ldl_factor(a)
    with pytest.raises(RuntimeError, match=r"pivots.shape to be the same"):
        mg.linalg.ldl_solve(ld, pivots[:2], mg.ones(3, 1, dtype=mg.float64))
    with pytest.raises(RuntimeError, match="Incompatible matrix sizes"):
        mg.linalg.ldl_solve(ld, pivots, mg.ones(2, 1, dtype=mg.float64))
    with pytest.raises(TypeError, match="LD and B"):
        mg.linalg.ldl_solve(ld, pivots, mg.ones(3, 1))
    b = mg.tensor(_normal(3, 2), requires_grad=True)
    solution = mg.linalg.ldl_solve(ld, pivots, b)
    assert ld.requires_grad and solution.requires_grad and not pivots.requires_grad
    with pytest.raises(NotImplementedError, match="derivative for 'linalg_ldl_factor_ex' is not implemented"):
        ld.sum().backward()
    with pytest.raises(NotImplementedError, match="derivative for 'linalg_ldl_solve' is not implemented"):
        mg.linalg.ldl_solve(ld.detach(), pivots, b).sum().backward()


@pytest.mark.gpu
def test_ldl_on_gpu_as_on_cpu() -> None:
    """The factors and the solution on cuda equal the cpu run's."""
    x, b = LDL_MATRICES["random"], _normal(3, 5, 2)
    cpu = mg.linalg.ldl_factor(mg.tensor(x))
    gpu = mg.linalg.ldl_factor(mg.tensor(x, device="cuda"))
    assert gpu.LD.device == mg.device("cuda") and gpu.pivots.device == mg.device("cuda")
    np.testing.assert_allclose(gpu.LD.numpy(), cpu.LD.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(gpu.pivots.numpy(), cpu.pivots.numpy())
    solution = mg.linalg.ldl_solve(*gpu, mg.tensor(b, device="cuda"))
    np.testing.assert_allclose(solution.numpy(), mg.linalg.ldl_solve(*cpu, mg.tensor(b)).numpy(), atol=1e-10)


@pytest.mark.parametrize("shape", [(5, 3), (3, 5)])
def test_orthogonal_householder_without_trivialization_as_torch(shape: tuple, torch: Any) -> None:
    """nn's orthogonal(householder, use_trivialization=False) starts from geqrf's reflectors, as PyTorch's: the
    same ``original``, weight, output and gradient."""
    import nn
    from nn.utils.parametrizations import orthogonal
    torch.manual_seed(0)
    theirs = torch.nn.Linear(shape[1], shape[0]).double()
    ours = nn.Linear(shape[1], shape[0], dtype=mg.float64)
    ours.load_state_dict({key: value.detach().numpy() for key, value in theirs.state_dict().items()})
    torch.nn.utils.parametrizations.orthogonal(theirs, orthogonal_map="householder", use_trivialization=False)
    orthogonal(ours, orthogonal_map="householder", use_trivialization=False)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = _normal(2, shape[1])
    ours(mg.tensor(x)).square().sum().backward()
    theirs(torch.from_numpy(x)).square().sum().backward()
    for o, t in ((ours.parametrizations.weight.original, theirs.parametrizations.weight.original),
                 (ours.weight, theirs.weight)):
        np.testing.assert_allclose(o.numpy(), t.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(ours.parametrizations.weight.original.grad.numpy(),
                               theirs.parametrizations.weight.original.grad.numpy(), atol=1e-12)
