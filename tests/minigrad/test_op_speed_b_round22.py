"""Round 22 op speed, second batch: topk's candidate selection, the clamp-like activations, cdist's matrix-product
formula and backend.scatter_add in rounds, each against PyTorch (behaviour only, no timings)."""

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _tie_heavy(rng: np.random.Generator, shape: tuple) -> list:
    """Arrays whose lines tie at topk's boundary: small ints, repeated floats with NaN, +-0.0 and infinities."""
    floats = np.array([0.0, -0.0, 1.5, np.nan, -np.inf, np.inf, 2.0], np.float32)
    return [rng.integers(0, 4, shape), rng.integers(-100, 100, shape).astype(np.int32),
            rng.choice(floats, size=shape), rng.standard_normal(shape).astype(np.float32),
            np.round(rng.standard_normal(shape), 1)]


@pytest.mark.parametrize("shape", [(600,), (4, 200), (150, 3)])
def test_topk_picks_and_orders_ties_as_torch(shape: tuple) -> None:
    rng = np.random.default_rng(0)
    for a in _tie_heavy(rng, shape):
        for dim in range(a.ndim):
            n = a.shape[dim]
            for k in sorted({0, 1, 3, 7, n // 5, n} & set(range(n + 1))):
                for largest in (True, False):
                    v, i = mg.topk(mg.tensor(a), k, dim, largest)
                    tv, ti = torch.topk(torch.from_numpy(a), k, dim, largest)
                    np.testing.assert_array_equal(v.numpy(), tv.numpy())
                    np.testing.assert_array_equal(i.numpy(), ti.numpy(), err_msg=f"{a.dtype} {dim} {k} {largest}")


def test_topk_gradient_goes_to_the_picked_elements_as_torch() -> None:
    rng = np.random.default_rng(1)
    a = rng.choice(np.array([0.0, -0.0, 1.0, 2.0, np.nan], np.float32), size=(3, 400))
    g = rng.standard_normal((3, 9)).astype(np.float32)
    for largest in (True, False):
        x, t = mg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        (mg.topk(x, 9, 1, largest)[0] * mg.tensor(g)).sum().backward()
        (torch.topk(t, 9, 1, largest)[0] * torch.from_numpy(g)).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int64, np.uint8, np.bool_, np.complex64])
def test_scatter_add_of_wide_slices_keeps_add_at_bits(dtype: type) -> None:
    from minigrad import backend
    rng = np.random.default_rng(4)
    for shape, n, low in [((10, 64), 40, -10), ((7, 3, 40), 200, 0), ((30, 100), 5, -30), ((50, 70), 60, 0)]:
        index = rng.integers(low, shape[0], n)
        target = (rng.standard_normal(shape) * 50).astype(dtype)
        values = (rng.standard_normal((n,) + shape[1:]) * 50).astype(dtype)
        for key in (index, (index,)):
            want, got = target.copy(), target.copy()
            with np.errstate(all="ignore"):
                np.add.at(want, key, values)
                backend.scatter_add(np, got, key, values)
            assert got.tobytes() == want.tobytes()
    with pytest.raises(IndexError):   # out of range: add.at's error
        backend.scatter_add(np, np.zeros((5, 64)), np.array([0, 5]), np.ones((2, 64)))


def test_row_gradients_of_repeated_indices_as_torch() -> None:
    rng = np.random.default_rng(5)
    a = rng.standard_normal((40, 100)).astype(np.float32)
    index = rng.integers(-40, 40, 300)
    g = rng.standard_normal((300, 100)).astype(np.float32)
    for pick in (lambda x, i: x[i], lambda x, i: x.index_select(0, i % 40)):
        x, t = mg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        (pick(x, mg.tensor(index)) * mg.tensor(g)).sum().backward()
        (pick(t, torch.from_numpy(index)) * torch.from_numpy(g)).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-5)
