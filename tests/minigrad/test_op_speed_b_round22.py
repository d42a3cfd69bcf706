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


@pytest.mark.parametrize("shape", [(1200,), (8, 200), (400, 3)])   # ≥ 1024 values: the partition path
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


_EDGES = np.array([0.0, -0.0, -3.0, 3.0, 6.0, -1.0, 1.0, -0.5, 2.0, 2.5, -7.0, 8.0, np.inf, -np.inf, np.nan, 1e-30],
                  np.float32)
_HARD = {"relu6": lambda F, x: F.relu6(x), "hardtanh": lambda F, x: F.hardtanh(x),
         "hardtanh_0": lambda F, x: F.hardtanh(x, -0.0, 2.0), "hardsigmoid": lambda F, x: F.hardsigmoid(x),
         "hardswish": lambda F, x: F.hardswish(x)}


@pytest.mark.parametrize("name", sorted(_HARD))
def test_hard_activations_values_and_gradients_as_torch(name: str) -> None:
    """Values (NaN, -0.0, the bounds), gradients (0 at the kinks) and second derivatives as PyTorch's on finite
    inputs; hardswish's x >= 3 piece is x, PyTorch's x · 6 / 6 (up to an ulp apart)."""
    from torch.nn import functional as TF

    import nn.functional as F
    fn = _HARD[name]
    rng = np.random.default_rng(6)
    a = np.concatenate([_EDGES, rng.uniform(-8, 8, 200).astype(np.float32)])
    g = rng.standard_normal(a.shape).astype(np.float32)
    x, t = mg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, ty = fn(F, x), fn(TF, t)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=2e-7 if name == "hardswish" else 0, atol=0)
    number = ~np.isnan(a)
    np.testing.assert_array_equal(np.signbit(y.numpy())[number], np.signbit(ty.detach().numpy())[number])   # -0.0
    y.backward(mg.tensor(g))
    ty.backward(torch.from_numpy(g))
    finite = np.isfinite(a)   # PyTorch's kernels disagree at NaN (its vectorised hardtanh gives 0, its scalar one 1)
    np.testing.assert_allclose(x.grad.numpy()[finite], t.grad.numpy()[finite], rtol=2e-6, atol=0)
    if name == "hardsigmoid":   # its gradient is a constant mask here (PyTorch's reads x: zeros)
        return
    x, t = mg.tensor(a.astype(np.float64), requires_grad=True), torch.tensor(a.astype(np.float64), requires_grad=True)
    (gx,), (tgx,) = (mg.autograd.grad(fn(F, x).sum(), x, create_graph=True),
                     torch.autograd.grad(fn(TF, t).sum(), t, create_graph=True))
    second = mg.autograd.grad((gx * mg.tensor(g.astype(np.float64))).sum(), x)[0]
    tsecond = torch.autograd.grad((tgx * torch.from_numpy(g.astype(np.float64))).sum(), t)[0]
    np.testing.assert_allclose(second.numpy()[finite], tsecond.numpy()[finite], rtol=1e-12, atol=0)


def test_hardtanh_of_integers_as_torch() -> None:
    from torch.nn import functional as TF

    import nn.functional as F
    for dtype in (np.int64, np.int8, np.uint8):
        a = np.arange(-5 if dtype != np.uint8 else 0, 9).astype(dtype)
        for low, high in ((0, 6), (1, 3)):
            y, ty = F.hardtanh(mg.tensor(a), low, high), TF.hardtanh(torch.from_numpy(a), low, high)
            assert y.dtype == mg.tensor(a).dtype
            np.testing.assert_array_equal(y.numpy(), ty.numpy())


def _far_points(rows: int) -> tuple:
    """Points near 1e4 a few thousandths apart: the matrix-product form cancels to 0 or 2.83, the direct one not."""
    a = np.full((rows, 1), 1e4, np.float32)
    return a, (a.astype(np.float64) + np.arange(rows)[:, None] * 1e-3).astype(np.float32)


@pytest.mark.parametrize("rows, mode", [(30, "use_mm_for_euclid_dist_if_necessary"),
                                        (3, "use_mm_for_euclid_dist"), (30, "donot_use_mm_for_euclid_dist"),
                                        (3, "use_mm_for_euclid_dist_if_necessary")])
def test_cdist_picks_torchs_formula(rows: int, mode: str) -> None:
    a, b = _far_points(rows)
    g = np.random.default_rng(8).standard_normal((rows, rows)).astype(np.float32)
    x, y, tx, ty = mg.tensor(a, requires_grad=True), mg.tensor(b, requires_grad=True), *(
        torch.tensor(v, requires_grad=True) for v in (a, b))
    d, td = mg.cdist(x, y, compute_mode=mode), torch.cdist(tx, ty, compute_mode=mode)
    np.testing.assert_allclose(d.numpy(), td.detach().numpy(), rtol=1e-6, atol=1e-6)
    if rows > 25 and mode != "donot_use_mm_for_euclid_dist" or mode == "use_mm_for_euclid_dist":
        return   # the product form's gradient cancels here too, rounded otherwise than PyTorch's: the next test
    d.backward(mg.tensor(g))
    td.backward(torch.from_numpy(g))
    for ours, theirs in ((x, tx), (y, ty)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_cdist_matrix_product_form_values_gradients_and_second_order_as_torch() -> None:
    rng = np.random.default_rng(9)
    a, b = rng.standard_normal((2, 40, 5)), rng.standard_normal((1, 7, 5))
    b[0, 0] = a[1, 3]   # a zero distance: a zero gradient
    g = rng.standard_normal((2, 40, 7))
    x, y, tx, ty = mg.tensor(a, requires_grad=True), mg.tensor(b, requires_grad=True), *(
        torch.tensor(v, requires_grad=True) for v in (a, b))
    d, td = mg.cdist(x, y), torch.cdist(tx, ty)
    assert d.shape == tuple(td.shape) and d.dtype == mg.float64
    np.testing.assert_allclose(d.numpy(), td.detach().numpy(), rtol=1e-12, atol=1e-7)
    (gx, gy), (tgx, tgy) = (mg.autograd.grad((d * mg.tensor(g)).sum(), [x, y], create_graph=True),
                            torch.autograd.grad((td * torch.from_numpy(g)).sum(), [tx, ty], create_graph=True))
    # The zero distance's product-form sum rounds to <= 0 (clamped: distance 0, gradient 0) or to ~1e-16 (distance
    # ~1e-8, whose backward then cancels ~1e-9 off) by the matmul's summation order, which for PyTorch's depends on
    # the CPU (0 on an Intel Xeon, 1e-8 on an AVX512 AMD EPYC). So the gradients are checked tightly against the
    # direct formula sum_j g_ij (x_i - y_j) / d_ij (0 at d = 0), and against PyTorch's within that cancellation.
    diff = a[:, :, None, :] - b[:, None, :, :]
    exact = np.sqrt((diff ** 2).sum(-1))[..., None]
    unit = np.divide(diff, exact, out=np.zeros_like(diff), where=exact > 0)
    np.testing.assert_allclose(gx.numpy(), (g[..., None] * unit).sum(2), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(gy.numpy(), -(g[..., None] * unit).sum((0, 1))[None], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(gx.numpy(), tgx.detach().numpy(), rtol=1e-9, atol=1e-8)
    np.testing.assert_allclose(gy.numpy(), tgy.detach().numpy(), rtol=1e-9, atol=1e-8)
    hx = mg.autograd.grad((gx * gx).sum(), x)[0]
    thx = torch.autograd.grad((tgx * tgx).sum(), tx)[0]
    # d/dx_i of gx_i = sum_j g_ij u_ij (u_ij the unit vector (x_i - y_j) / d_ij) is sum_j g_ij (I - u u^T) / d_ij
    first = (g[..., None] * unit).sum(2)
    along = (unit * first[:, :, None, :]).sum(-1, keepdims=True)
    inverse = np.divide(1.0, exact, out=np.zeros_like(exact), where=exact > 0)
    np.testing.assert_allclose(hx.numpy(), 2 * (g[..., None] * inverse * (first[:, :, None, :] - along * unit)).sum(2),
                               rtol=1e-7, atol=1e-7)
    # PyTorch's (where its zero distance rounded to ~1e-8, the second derivative there is ~1e8 · g): the other rows
    rows = (exact[..., 0] > 0).all(-1)
    np.testing.assert_allclose(hx.numpy()[rows], thx.numpy()[rows], rtol=1e-7, atol=1e-7)
