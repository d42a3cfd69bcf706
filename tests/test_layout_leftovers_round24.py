"""Result layouts PyTorch allocates outside TensorIterator's rule (round 24 leftovers).

take's result is C order whatever the index's layout (``at::empty(index.sizes())``), where an advanced index follows
the index's; huber_loss writes into ``empty_like(input)``, so an expanded input's layout decides, not the target's
(mse_loss and smooth_l1_loss are ordinary binary ops). Sweep: 290 cases of take/masked_select/losses over C-order,
transposed, sliced and expanded operands; 21 take and 5 huber_loss results had other strides than PyTorch's (values
equal), so a later ``.view(-1)`` raised in minigrad and not in PyTorch.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch")
F = torch.nn.functional


@pytest.mark.parametrize("as_tensor", [True, False])
@pytest.mark.parametrize("shape", [(2, 3), (3, 4, 2)])
def test_take_of_a_transposed_index_is_c_order(shape: tuple, as_tensor: bool) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 6))
    stored = rng.integers(-24, 24, size=shape[::-1])
    reverse = tuple(range(len(shape)))[::-1]
    index = stored.transpose(reverse)   # a transposed (F-order) index
    mx = mg.tensor(x).t()
    tx = torch.tensor(x).t()
    got = mg.take(mx, mg.tensor(stored).permute(*reverse) if as_tensor else index)
    want = torch.take(tx, torch.from_numpy(stored).permute(*reverse))
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert got.stride() == want.stride()
    assert got.view(-1).shape == want.view(-1).shape


def test_take_keeps_gradients_of_repeated_indices() -> None:
    x = mg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    tx = torch.arange(6.0, dtype=torch.float64).reshape(2, 3).requires_grad_()
    index = np.array([[0, 5], [5, 1], [0, 0]]).T
    mg.take(x.t(), mg.tensor(index)).sum().backward()
    torch.take(tx.t(), torch.from_numpy(index)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


def test_masked_select_of_transposed_operands_matches_torch() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4))
    mask = rng.random((4, 3)) > 0.4
    got = mg.masked_select(mg.tensor(x).t(), mg.tensor(mask))
    want = torch.masked_select(torch.tensor(x).t(), torch.tensor(mask))
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    got = mg.masked_select(mg.tensor(x.T.copy()), mg.tensor(mask.T.copy()).t())
    want = torch.masked_select(torch.tensor(x.T.copy()), torch.tensor(mask.T.copy()).t())
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("shape, size, perm, weighted", [((1, 3), (4, 3), (0, 1), False),
                                                         ((3, 1), (3, 4), (0, 1), True),
                                                         ((2, 1, 3), (2, 4, 3), (2, 1, 0), False),
                                                         ((1, 3, 2), (4, 3, 2), (2, 0, 1), True)])
def test_huber_loss_of_an_expanded_input_has_its_empty_like_layout(shape: tuple, size: tuple, perm: tuple,
                                                                   weighted: bool) -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape)
    out_shape = tuple(size[d] for d in perm)
    y = np.ascontiguousarray(rng.standard_normal(out_shape[::-1]) * 2).T   # a transposed target
    mx = mg.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    weight = rng.random(out_shape) if weighted else None
    got = nn.functional.huber_loss(mx.expand(*size).permute(*perm), mg.tensor(y), reduction="none",
                                   weight=None if weight is None else mg.tensor(weight))
    want = F.huber_loss(tx.expand(*size).permute(*perm), torch.tensor(y), reduction="none",
                        weight=None if weight is None else torch.tensor(weight))
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-12)
    assert got.stride() == want.stride()
    g = rng.standard_normal(out_shape)
    got.backward(mg.tensor(g))
    want.backward(torch.tensor(g))
    np.testing.assert_allclose(mx.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


def test_huber_loss_of_a_transposed_input_keeps_its_layout() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 3))
    y = rng.standard_normal((3, 4))
    got = nn.functional.huber_loss(mg.tensor(x).t(), mg.tensor(y), reduction="none")
    want = F.huber_loss(torch.tensor(x).t(), torch.tensor(y), reduction="none")
    assert got.stride() == want.stride() == (1, 3)


def _channels_last_like() -> tuple:
    """An (N, C, 1, W) tensor with strides (6, 1, 1, 2) in both libraries: C fastest, its size-1 H's stride 1."""
    x = np.random.default_rng(4).standard_normal((2, 3, 2, 1))
    return mg.tensor(x).permute(0, 2, 3, 1), torch.tensor(x).permute(0, 2, 3, 1)


@pytest.mark.parametrize("op", ["mul", "rmul", "add", "radd", "where_number"])
def test_size_one_strides_of_a_broadcast_operand_follow_pytorch(op: str) -> None:
    """a * a[:, :1] (same strides, other shapes) and where(c, a, 0.0) (a number is an operand of PyTorch's
    TensorIterator: no fast setup) gave NumPy's stride for the size-1 dim; a later cat then chose channels-last where
    PyTorch's is C order (48 + 23 of 301,716 chained layout cases)."""
    ops = {"mul": lambda a, L: a * a[:, :1], "rmul": lambda a, L: a[:, :1] * a, "add": lambda a, L: a + a[:, :1],
           "radd": lambda a, L: a[:, :1] + a, "where_number": lambda a, L: L.where(a > 0, a, 0.0)}
    ma, ta = _channels_last_like()
    got, want = ops[op](ma, mg), ops[op](ta, torch)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert got.stride() == want.stride()
    for dim in range(4):
        assert mg.cat([got, got], dim).stride() == torch.cat([want, want], dim).stride()
