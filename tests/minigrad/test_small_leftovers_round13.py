"""Round 13 leftovers against torch 2.13 / NumPy: ldexp's dtype, lerp of integers with a 0-d float weight,
NumPy's ``axis=`` on sort/argsort/flip/median/repeat, and igamma's gradient to x while a also requires grad."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")

DTYPES = ["float16", "float32", "float64", "int8", "int32", "int64", "uint8", "bool"]


@pytest.mark.filterwarnings("ignore:An output with one or more elements was resized")  # torch.ldexp 0-d input
def test_ldexp_dtype_and_values_match_torch() -> None:
    """Every dtype pair and 0-d/dimensioned mix (bool exponents with a float input excepted: torch has no
    kernel) gives torch's dtype and values; float16 stays float16 with an int exponent, no overflow midway."""
    checked = 0
    for xd in DTYPES:
        for od in DTYPES:
            if od == "bool" and xd[0] == "f":
                continue
            for xs, os_ in [((3,), (3,)), ((3,), ()), ((), (3,))]:
                xv = np.full(xs, 3)
                ov = np.full(os_, 2)
                tx, to = torch.tensor(xv).to(getattr(torch, xd)), torch.tensor(ov).to(getattr(torch, od))
                want = torch.ldexp(tx, to)
                got = mg.ldexp(mg.tensor(tx.numpy()), mg.tensor(to.numpy()))
                assert str(got.dtype).rsplit(".", 1)[-1] == str(want.dtype).rsplit(".", 1)[-1], (xd, od, xs, os_)
                np.testing.assert_array_equal(got.numpy(), want.numpy())
                checked += 1
    assert checked == 61 * 3
    x = np.array([2.0 ** -10, 2.0 ** -20, 1000.0], dtype=np.float16)
    e = np.array([20, 24, -30])
    got = mg.ldexp(mg.tensor(x), mg.tensor(e))
    np.testing.assert_array_equal(got.numpy(), torch.ldexp(torch.tensor(x), torch.tensor(e)).numpy())
    np.testing.assert_array_equal(got.numpy(), np.ldexp(x, e))
    big = mg.ldexp(mg.tensor([2.0 ** -20]), mg.tensor([130]))   # 2^130 is beyond float32, the product is not
    assert big.dtype == mg.float32 and np.isfinite(big.numpy()).all()
    xg = mg.tensor([1.0, 3.0], dtype=mg.float16, requires_grad=True)
    mg.ldexp(xg, mg.tensor([3, -1])).sum().backward()
    assert xg.grad.dtype == mg.float16 and xg.grad.tolist() == [8.0, 0.5]
    xd = mg.tensor([0.7, -1.3], dtype=mg.float64, requires_grad=True)
    assert mg.gradcheck(lambda t: mg.ldexp(t, mg.tensor([2, -3])), (xd,))


def test_lerp_of_integers_takes_a_zero_d_float_weight_as_torch() -> None:
    for start_dtype, w_dtype in [("int64", "float16"), ("int8", "float64"), ("uint8", "float32"), ("bool", "float16")]:
        s, e = np.array([1, 2, 0]), np.array([5, 6, 9])
        ts, te = torch.tensor(s).to(getattr(torch, start_dtype)), torch.tensor(e).to(getattr(torch, start_dtype))
        for w in (0.3, 0.7):
            tw = torch.tensor(w, dtype=getattr(torch, w_dtype), requires_grad=True)
            want = torch.lerp(ts, te, tw)
            if start_dtype != "bool":   # torch's weight gradient subtracts the bool tensors: its RuntimeError
                want.sum().backward()
            mw = mg.tensor(w, dtype=getattr(mg, w_dtype), requires_grad=True)
            got = mg.lerp(mg.tensor(ts.numpy()), mg.tensor(te.numpy()), mw)
            got.sum().backward()
            assert got.dtype == getattr(mg, w_dtype)
            eps = float(np.finfo(got.numpy().dtype).eps)   # torch's kernel fuses (w - 1) * diff + end: 1 ulp
            np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=eps, atol=0)
            bool_grad = float(e.astype(bool).sum() - s.astype(bool).sum())   # sum of end - start
            assert mw.grad.item() == (tw.grad.item() if tw.grad is not None else bool_grad)
    i, e = mg.tensor([1, 2, 3]), mg.tensor([5, 6, 9])
    w64 = mg.tensor(0.4, dtype=mg.float64, requires_grad=True)
    assert mg.gradcheck(lambda w: mg.lerp(i, e, w), (w64,))
    for weight, end in [(mg.tensor([0.5, 0.5, 0.5]), e), (0.5, e), (mg.tensor(1), e), (mg.tensor(0.5), e.to(mg.int8)),
                        (mg.tensor(0.5), e.to(mg.float32))]:
        with pytest.raises(RuntimeError):   # torch: RuntimeError / NotImplementedError (its subclass)
            mg.lerp(i, end, weight)
    with pytest.raises(RuntimeError):   # the float result does not go into the int tensor
        i.clone().lerp_(e, mg.tensor(0.3))


def test_numpy_axis_keyword_gives_numpy_results() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, (3, 4, 5)).astype(np.float64)
    a[0, 1, 2] = np.nan
    x = mg.tensor(a)
    for axis in (0, -1, None):
        for got in (x.sort(axis=axis), mg.sort(x, axis=axis)):
            assert isinstance(got, mg.Tensor)
            np.testing.assert_array_equal(got.numpy(), np.sort(a, axis=axis))
        for got in (x.argsort(axis=axis), mg.argsort(x, axis=axis)):
            np.testing.assert_array_equal(got.numpy(), np.argsort(a, axis=axis, kind="stable"))
    for axis in (0, -1, (0, 2), None, ()):
        np.testing.assert_array_equal(x.flip(axis=axis).numpy(), np.flip(a, axis=axis))
        np.testing.assert_array_equal(mg.flip(x, axis=axis).numpy(), np.flip(a, axis=axis))
    for dtype in (np.float64, np.float32, np.int64):
        b = a.astype(dtype) if dtype != np.int64 else np.nan_to_num(a).astype(dtype)
        for axis in (0, -1, (0, 2), None):
            for keep in (False, True):
                want = np.median(b, axis=axis, keepdims=keep)
                got = mg.tensor(b).median(axis=axis, keepdims=keep)
                assert got.dtype == want.dtype and got.shape == want.shape
                np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)
    c = np.arange(6.0).reshape(2, 3)
    y = mg.tensor(c)
    for args, kwargs in [((2,), {"axis": 0}), ((2,), {"axis": None}), (([1, 2],), {"axis": 0}),
                         (([0, 1, 3],), {"axis": -1}), ((), {"repeats": 3, "axis": 1})]:
        np.testing.assert_array_equal(y.repeat(*args, **kwargs).numpy(), np.repeat(c, *args, **kwargs))
    # PyTorch's results stay for positional / dim= calls
    assert isinstance(x.sort(0), tuple) and x.median(0).indices.dtype == mg.int64
    assert y.repeat(2, 1).shape == (4, 3)
    for call in (lambda: x.sort(0, axis=1), lambda: x.argsort(dim=0, axis=1), lambda: x.flip(0, axis=1),
                 lambda: x.median(0, axis=1), lambda: y.repeat(2, 2, axis=0), lambda: y.repeat(2.5, axis=0)):
        with pytest.raises(TypeError):
            call()
    g = mg.tensor(rng.normal(size=(3, 4)), requires_grad=True)
    weights = mg.tensor(rng.normal(size=(4,)))
    assert mg.gradcheck(lambda t: (t.median(axis=1) * weights[:3]).sum() + (t.sort(axis=0)[0] * weights).sum()
                        + (t.flip(axis=None)[0] * weights).sum() + t.repeat([1, 2, 0], axis=0).sum(0), (g,))


def test_igamma_gradient_to_x_while_a_requires_grad_too() -> None:
    def run(lib: object) -> list:
        a = lib.tensor([1.5, 2.0], dtype=lib.float64, requires_grad=True)
        b = lib.tensor([0.5, 3.0], dtype=lib.float64, requires_grad=True)
        out = [lib.autograd.grad(lib.igamma(a + 1, b).sum(), (b,))[0].tolist(),
               lib.autograd.grad(lib.igammac(a, b).sum(), (b,))[0].tolist(),
               lib.autograd.grad((lib.igamma(a, b) * a).sum(), (b,))[0].tolist()]
        lib.igamma(a * 2, b).sum().backward(inputs=[b])
        out.append(b.grad.tolist())
        for call in (lambda: lib.autograd.grad(lib.igamma(a, b).sum(), (a, b)),
                     lambda: lib.igammac(a + 1, b).sum().backward(),
                     lambda: lib.autograd.grad((lib.igamma(a, b) * a).sum(), (a,))):
            with pytest.raises(NotImplementedError):
                call()
        return out

    ours, theirs = run(mg), run(torch)
    np.testing.assert_allclose(np.array(ours), np.array(theirs), rtol=1e-12)


@pytest.mark.filterwarnings("ignore:Using backward")
def test_igamma_second_derivative_in_x_as_torch() -> None:
    """create_graph=True through gammainc/gammaincc: the x-gradient is differentiable again (in x and in a, as
    torch's formula), the a-gradient stays a placeholder that raises only where it is used."""
    def run(lib: object, upper: bool) -> list:
        f = lib.igammac if upper else lib.igamma
        a0 = lib.tensor([0.5, 1.5, 2.0, 12.0, 30.0], dtype=lib.float64, requires_grad=True)
        x = lib.tensor([0.3, 0.7, 3.0, 10.0, 25.0], dtype=lib.float64, requires_grad=True)
        v = lib.tensor([1.0, -2.0, 0.5, 3.0, 1.5], dtype=lib.float64)
        a = a0 * 1.0   # a non-leaf a as well
        (gx,) = lib.autograd.grad(f(a, x).sum() + (f(a0, x * 2) * a0).sum(), (x,), create_graph=True)
        hx, ha = lib.autograd.grad((gx * v).sum(), (x, a0))
        for call in (lambda: lib.autograd.grad(f(a0, x).sum(), (a0, x), create_graph=True),
                     lambda: lib.autograd.grad(f(a, x).sum(), (a0,), create_graph=True),
                     lambda: f(a0, x).sum().backward(create_graph=True)):
            with pytest.raises(NotImplementedError):
                call()
        return [gx.tolist(), hx.tolist(), ha.tolist()]

    for upper in (False, True):
        ours, theirs = run(mg, upper), run(torch, upper)
        np.testing.assert_allclose(np.array(ours), np.array(theirs), rtol=1e-10, atol=1e-300)
    a = mg.tensor([0.8, 2.5, 40.0], dtype=mg.float64)
    x = mg.tensor([0.4, 1.5, 37.0], dtype=mg.float64, requires_grad=True)
    assert mg.gradgradcheck(lambda t: mg.igamma(a, t) - 2 * mg.igammac(a + 1, t * t), (x,))
    # a large a keeps the first-order backward's stable value under create_graph too
    a, x = mg.tensor([3e6], dtype=mg.float64), mg.tensor([3e6 + 100.0], dtype=mg.float64, requires_grad=True)
    plain = mg.autograd.grad(mg.igamma(a, x).sum(), (x,))[0]
    assert mg.autograd.grad(mg.igamma(a, x).sum(), (x,), create_graph=True)[0].item() == plain.item()
