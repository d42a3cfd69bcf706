"""mg.linalg at the edges against torch 2.13 (round 13): solve_triangular by substitution (inf/NaN/zero diagonal as
PyTorch's trsm, gradients, double backward, broadcasting), a NaN in inv/solve/slogdet, cond of singular, NaN and
empty matrices, and the error classes of lstsq's driver, norms of empty inputs and vander."""

import itertools
import math

import numpy as np
import pytest

import minigrad as mg
from minigrad.distributions import MultivariateNormal

torch = pytest.importorskip("torch", reason="no torch")

INF, NAN = math.inf, math.nan


def _same(expected, got, rtol=1e-9, atol=1e-9):
    """Same NaN/±inf pattern and close finite values."""
    expected, got = np.asarray(expected), np.asarray(got)
    assert expected.shape == got.shape
    np.testing.assert_array_equal(np.isnan(expected), np.isnan(got))
    np.testing.assert_array_equal(np.isposinf(expected), np.isposinf(got))
    np.testing.assert_array_equal(np.isneginf(expected), np.isneginf(got))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(got[finite], expected[finite], rtol=rtol, atol=atol)


def test_solve_triangular_non_finite_and_zero_diagonal_match_torch():
    rng = np.random.default_rng(0)
    specials = [INF, -INF, NAN, 0.0]
    for trial in range(150):
        n, k = int(rng.integers(0, 6)), int(rng.integers(0, 3))
        dtype = np.float64 if trial % 2 else np.float32
        a, b = rng.standard_normal((n, n)), rng.standard_normal((n, k))
        for _ in range(int(rng.integers(0, 3)) if n else 0):
            a[rng.integers(n), rng.integers(n)] = specials[rng.integers(4)]
        if n and k:
            if rng.random() < 0.4:    # one inf in an otherwise zero B: 0·inf makes later rows NaN
                b[:] = 0
                b[rng.integers(n), rng.integers(k)] = INF
            else:
                b[rng.integers(n), rng.integers(k)] = specials[rng.integers(4)]
        upper, left, unit = (bool(v) for v in rng.integers(0, 2, 3))
        b = b if left else b.T.copy()
        kw = dict(upper=upper, left=left, unitriangular=unit)
        expected = torch.linalg.solve_triangular(torch.tensor(a.astype(dtype)), torch.tensor(b.astype(dtype)), **kw)
        got = mg.linalg.solve_triangular(mg.tensor(a.astype(dtype)), mg.tensor(b.astype(dtype)), **kw)
        assert got.dtype == dtype
        _same(expected.numpy(), got.numpy(), *((1e-4, 1e-4) if dtype == np.float32 else (1e-9, 1e-9)))


def test_solve_triangular_blocked_broadcast_non_contiguous():
    """n above the block size (several blocks), batch broadcasting, a transposed (non-contiguous) A; an inf in B
    that reaches the later blocks through 0·inf."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 1, 70, 70)) + 70 * np.eye(70)
    b = rng.standard_normal((4, 70, 3))
    b[1, 5, 0] = INF
    for upper, left, transposed in itertools.product((True, False), repeat=3):
        aa = np.swapaxes(a, -1, -2) if transposed else a
        bb = b if left else np.swapaxes(b, -1, -2)
        expected = torch.linalg.solve_triangular(torch.tensor(aa), torch.tensor(bb), upper=upper, left=left)
        got = mg.linalg.solve_triangular(mg.tensor(aa), mg.tensor(bb), upper=upper, left=left)
        assert got.shape == (3, 4) + bb.shape[-2:]
        _same(expected.numpy(), got.numpy())


def test_solve_triangular_gradients_match_torch_and_gradcheck():
    rng = np.random.default_rng(2)
    for upper, left, unit in itertools.product((True, False), repeat=3):
        a = rng.standard_normal((2, 3, 3)) + 3 * np.eye(3)
        b = rng.standard_normal((3, 2) if left else (2, 3))
        kw = dict(upper=upper, left=left, unitriangular=unit)
        ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        (torch.linalg.solve_triangular(ta, tb, **kw) ** 2).sum().backward()
        ma, mb = mg.tensor(a, requires_grad=True), mg.tensor(b, requires_grad=True)
        (mg.linalg.solve_triangular(ma, mb, **kw) ** 2).sum().backward()
        np.testing.assert_allclose(ma.grad.numpy(), ta.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(mb.grad.numpy(), tb.grad.numpy(), rtol=1e-10, atol=1e-12)
        assert mg.gradcheck(lambda x, y, kw=kw: mg.linalg.solve_triangular(x, y, **kw),
                            [mg.tensor(a, requires_grad=True), mg.tensor(b, requires_grad=True)])
    # second order (create_graph) as torch's
    a = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    b = rng.standard_normal((3, 2))
    for upper, left in itertools.product((True, False), repeat=2):
        bb = b if left else b.T.copy()
        grads = []
        for lib in (torch, mg):
            x, y = lib.tensor(a, requires_grad=True), lib.tensor(bb, requires_grad=True)
            out = (lib.linalg.solve_triangular(x, y, upper=upper, left=left) ** 3).sum()
            (ga,) = (torch.autograd.grad(out, x, create_graph=True) if lib is torch
                     else mg.autograd.grad(out, x, create_graph=True))
            (ga * ga).sum().backward()
            grads.append((x.grad.detach().numpy(), y.grad.detach().numpy()))
        for expected, got in zip(*grads):
            np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-10)


def test_multivariate_normal_log_prob_at_inf_is_minus_inf():
    """The reported bug: the LU route turned inf into NaN."""
    tril = [[1.0, 0.0], [2.0, 1.0]]
    value = [INF, 0.0]
    expected = torch.distributions.MultivariateNormal(torch.zeros(2, dtype=torch.float64),
                                                      scale_tril=torch.tensor(tril, dtype=torch.float64))
    got = MultivariateNormal(mg.zeros(2, dtype=mg.float64), scale_tril=mg.tensor(tril, dtype=mg.float64))
    assert expected.log_prob(torch.tensor(value, dtype=torch.float64)).item() == -INF
    assert got.log_prob(mg.tensor(value, dtype=mg.float64)).item() == -INF


def test_nan_in_matrix_makes_inverse_and_solve_nan_and_slogdet_sign_zero():
    rng = np.random.default_rng(3)
    for block in (False, True):
        a = rng.standard_normal((2, 5, 5)) + 3 * np.eye(5)
        if block:   # block diagonal: OpenBLAS left the other block finite, PyTorch's is all NaN
            a[:, :2, 2:] = 0
            a[:, 2:, :2] = 0
        a[0, 4, 3] = NAN
        b = rng.standard_normal((5, 2))
        for dtype in (np.float64, np.float32):
            ta, ma = torch.tensor(a.astype(dtype)), mg.tensor(a.astype(dtype))
            _same(torch.linalg.inv(ta).numpy(), mg.linalg.inv(ma).numpy(), 1e-4, 1e-4)
            _same(torch.linalg.solve(ta, torch.tensor(b.astype(dtype))).numpy(),
                  mg.linalg.solve(ma, mg.tensor(b.astype(dtype))).numpy(), 1e-4, 1e-4)
            t_inv, m_inv = torch.linalg.inv_ex(ta), mg.linalg.inv_ex(ma)
            np.testing.assert_array_equal(m_inv.info.numpy(), t_inv.info.numpy())
            t_sign, t_log = torch.linalg.slogdet(ta)
            m_sign, m_log = mg.linalg.slogdet(ma)
            _same(t_sign.numpy(), m_sign.numpy(), 1e-5, 1e-5)
            _same(t_log.numpy(), m_log.numpy(), 1e-4, 1e-4)


def test_cond_singular_nan_and_empty_match_torch():
    cases = [np.array([[1.0, 2.0], [2.0, 4.0]]), np.zeros((3, 3)), np.array([[NAN, 1.0], [1.0, 2.0]]),
             np.zeros((0, 0)), np.zeros((2, 0, 0)), np.zeros((0, 3, 3)), np.zeros((0, 3)), np.zeros((3, 0))]
    for a, p in itertools.product(cases, (None, "fro", "nuc", 1, -1, 2, -2, INF, -INF)):
        try:
            expected = torch.linalg.cond(torch.tensor(a), p)
        except RuntimeError:
            with pytest.raises(RuntimeError):
                mg.linalg.cond(mg.tensor(a), p)
            continue
        got = mg.linalg.cond(mg.tensor(a), p)
        assert got.dtype == np.float64
        _same(expected.numpy(), got.numpy(), 1e-6, 0)


def test_error_classes_match_torch():
    """Each raises torch's class (and still the ValueError it raised before)."""
    for call, cls in [
        (lambda lib: lib.linalg.lstsq(lib.ones(5, 3), lib.ones(5, 2), driver="bogus"), RuntimeError),
        (lambda lib: lib.linalg.vector_norm(lib.zeros(0, 3), ord=INF), RuntimeError),
        (lambda lib: lib.linalg.vector_norm(lib.zeros(0, 3), ord=-1), RuntimeError),
        (lambda lib: lib.linalg.matrix_norm(lib.zeros(0, 0), ord=-1), IndexError),
        (lambda lib: lib.linalg.matrix_norm(lib.zeros(0, 0), ord=-2), IndexError),
        (lambda lib: lib.linalg.norm(lib.zeros(2, 3, 3), ord=2), RuntimeError),
        (lambda lib: lib.linalg.vander(lib.zeros(0)), RuntimeError),
        (lambda lib: lib.linalg.vander(lib.ones(3), N=0), RuntimeError),
    ]:
        with pytest.raises(cls):
            call(torch)
        with pytest.raises(cls):
            call(mg)
        with pytest.raises(ValueError):
            call(mg)
