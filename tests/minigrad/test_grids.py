"""PyTorch's grid and spacing constructors (minigrad/ops/grids.py), top-level aliases and set_printoptions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="the reference is PyTorch")
RNG = np.random.default_rng(3)


def _same(ours: Any, theirs: Any) -> None:
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    assert ours.numpy().dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-12)


@pytest.mark.parametrize("args", [(0, 2, 5), (-1.5, 1.0, 4, 2.0), (1, 1, 1), (0, 3, 0)])
def test_logspace(args: tuple) -> None:
    _same(mg.logspace(*args, dtype=mg.float64), torch.logspace(*args, dtype=torch.float64))


@pytest.mark.parametrize("shape", [(3, 3, 0), (4, 2, 1), (2, 5, -1), (3, 4, 2), (0, 3, 0), (3, 3, -5)])
def test_triangle_indices(shape: tuple) -> None:
    _same(mg.tril_indices(*shape), torch.tril_indices(*shape))
    _same(mg.triu_indices(*shape), torch.triu_indices(*shape))


def _grads(fn_ours: Any, fn_theirs: Any, *arrays: np.ndarray) -> None:
    ours = [mg.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, z = fn_ours(*ours), fn_theirs(*theirs)
    _same(y, z)
    weights = RNG.standard_normal(tuple(z.shape))
    (y * mg.tensor(weights)).sum().backward()
    (z * torch.tensor(weights)).sum().backward()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12)
    assert mg.gradcheck(fn_ours, [mg.tensor(a, requires_grad=True) for a in arrays])


def test_cartesian_prod_and_block_diag() -> None:
    a, b, c = RNG.standard_normal(3), RNG.standard_normal(2), RNG.standard_normal(4)
    _grads(mg.cartesian_prod, torch.cartesian_prod, a, b, c)
    _grads(mg.cartesian_prod, torch.cartesian_prod, a)
    m1, m2, v = RNG.standard_normal((2, 3)), RNG.standard_normal((1, 2)), RNG.standard_normal(3)
    _grads(mg.block_diag, torch.block_diag, m1, m2, v)
    _grads(lambda s, m: mg.block_diag(s, m), lambda s, m: torch.block_diag(s, m), np.array(2.5), m1)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_trapezoid_with_points_or_a_spacing(dim: int) -> None:
    y = RNG.standard_normal((4, 5))
    x = np.sort(RNG.standard_normal(y.shape[dim]))
    _grads(lambda t: mg.trapezoid(t, dim=dim), lambda t: torch.trapezoid(t, dim=dim), y)
    _grads(lambda t: mg.trapezoid(t, dx=0.3, dim=dim), lambda t: torch.trapezoid(t, dx=0.3, dim=dim), y)
    _grads(lambda t, s: mg.trapezoid(t, s, dim=dim), lambda t, s: torch.trapezoid(t, s, dim=dim), y, x)
    _same(mg.trapz(mg.tensor(y), dim=dim), torch.trapz(torch.tensor(y), dim=dim))


def test_randint_like_scalar_tensor_and_aliases() -> None:
    x = mg.zeros(3, 2, dtype=mg.int32)
    drawn = mg.randint_like(x, 5)
    assert drawn.shape == (3, 2) and drawn.dtype == mg.int32 and ((0 <= drawn) & (drawn < 5)).all().item()
    assert ((3 <= mg.randint_like(x, 3, 6)) & (mg.randint_like(x, 3, 6) < 6)).all().item()
    _same(mg.scalar_tensor(2.5), torch.scalar_tensor(2.5))
    a = RNG.standard_normal((3, 3)) + 3 * np.eye(3)
    _same(mg.det(mg.tensor(a)), torch.det(torch.tensor(a)))
    _same(mg.logdet(mg.tensor(a)), torch.logdet(torch.tensor(a)))
    _same(mg.logdet(mg.tensor(-a)), torch.logdet(torch.tensor(-a)))   # NaN for a negative determinant
    _same(mg.inverse(mg.tensor(a)), torch.inverse(torch.tensor(a)))
    _same(mg.pinverse(mg.tensor(a[:, :2])), torch.pinverse(torch.tensor(a[:, :2])))
    _same(mg.matrix_exp(mg.tensor(a / 4)), torch.matrix_exp(torch.tensor(a / 4)))
    sign, logabs = mg.slogdet(mg.tensor(a))
    theirs = torch.slogdet(torch.tensor(a))
    _same(sign, theirs.sign)
    _same(logabs, theirs.logabsdet)
    _same(mg.concatenate([mg.tensor(a), mg.tensor(a)]), torch.concatenate([torch.tensor(a), torch.tensor(a)]))
    _same(mg.absolute(mg.tensor(-a)), torch.absolute(torch.tensor(-a)))
    assert mg.asarray([1, 2]).dtype == mg.int64


def test_set_printoptions_changes_repr_and_profiles_restore_it() -> None:
    x = mg.tensor([1 / 3, 2 / 3], dtype=mg.float64)
    before = repr(x)
    try:
        mg.set_printoptions(precision=2)
        assert repr(x) == "tensor([0.33, 0.67], dtype=float64)"
        mg.set_printoptions(threshold=5, edgeitems=1)
        assert "..." in repr(mg.arange(100))
    finally:
        mg.set_printoptions(profile="default")
    assert repr(x) == before
    with pytest.raises(ValueError, match="profile must be one of"):
        mg.set_printoptions(profile="tiny")
