"""Pointwise ops at special points against PyTorch: the discrepancies a probe found, one regression each.

Values (NaN, infinities, the sign of a zero), result dtypes and gradients must equal PyTorch's exactly
at these points; away from them each differentiable case also passes ``mg.gradcheck`` in float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from helpers import case_tests

import minigrad as mg
from minigrad.ops.math import IntegerDivisionByZero

NAN, INF = float("nan"), float("inf")
SPECIAL = np.array([NAN, INF, -INF, 0.0, -0.0, 1.0, -1.0, 2.5, -2.5, 1e300, -1e-310, 3.0])


def _same(ours: Any, theirs: Any, what: str = "", zero_signs: bool = True) -> None:
    """Equal dtype, shape and values, NaN at the same places and (``zero_signs``) the same sign of every zero."""
    a = ours.detach().numpy() if isinstance(ours, mg.Tensor) else np.asarray(ours)
    e = theirs.detach().numpy()
    assert a.dtype == e.dtype, f"{what}: dtype {a.dtype} != {e.dtype}"
    np.testing.assert_array_equal(a, e, err_msg=what)
    if a.dtype.kind == "f" and zero_signs:
        assert (np.signbit(a) == np.signbit(e))[~np.isnan(a)].all(), f"{what}: sign of zero\n{a}\n{e}"


def _pair(torch: Any, array: np.ndarray, requires_grad: bool = True) -> tuple:
    return (mg.tensor(array, requires_grad=requires_grad),
            torch.tensor(array, requires_grad=requires_grad))


# --- pow with PyTorch's kernels for the exponents ±0.5, -1, ±2, 3 ------------------------------------------

@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("exponent", [0.5, -0.5, -1, 2, -2, 3, 1.5, 0, 1])
def test_pow_by_a_number_at_special_points_is_torchs(exponent: float, dtype: str, torch: Any) -> None:
    with np.errstate(over="ignore"):
        values = SPECIAL.astype(dtype)
    x, tx = _pair(torch, values)
    y, ty = x ** exponent, tx ** exponent
    _same(y, ty, f"(x ** {exponent})")   # (-0.0) ** -0.5 is -inf and (-inf) ** 0.5 NaN, as PyTorch
    y.sum().backward()
    ty.sum().backward()
    _same(x.grad, tx.grad, f"grad of x ** {exponent}")


def test_integer_pow_with_negative_tensor_exponents_is_torchs(torch: Any) -> None:
    base = np.array([-7, -2, -1, 0, 1, 2, 3])
    for exponent in ([-1] * 7, [-2] * 7, [-3] * 7, [0, 1, 2, 3, -1, -2, 2]):
        exponents = np.array(exponent)
        _same(mg.tensor(base) ** mg.tensor(exponents), torch.tensor(base) ** torch.tensor(exponents))
    for number in (2, -2, 1, 0, -1):   # a number to the power of an integer tensor
        _same(number ** mg.tensor(base), number ** torch.tensor(base), f"{number} ** x")
    small = np.array([2, 3], dtype=np.int32)
    _same(mg.tensor(small) ** mg.tensor([True, False]), torch.tensor(small) ** torch.tensor([True, False]))
    _same(mg.tensor(small) ** mg.tensor([-1, 2]), torch.tensor(small) ** torch.tensor([-1, 2]))
    _same(mg.tensor([True, False]) ** 2, torch.tensor([True, False]) ** 2, "bool ** int is int64")
    _same(mg.pow(mg.tensor(base), mg.tensor([-1] * 7)), torch.pow(torch.tensor(base), torch.tensor([-1] * 7)))
    with pytest.raises(ValueError, match="pow"):   # as PyTorch (a RuntimeError there)
        mg.tensor(base) ** -1


def test_pow_float_keeps_its_gradients_away_from_special_points() -> None:
    x = mg.tensor(np.random.default_rng(0).uniform(0.5, 2.0, (3, 4)), requires_grad=True)
    for exponent in (0.5, -0.5, -1, 2, -2, 3, 1.5):
        assert mg.gradcheck(lambda t, e=exponent: t ** e, [x])


# --- remainder, fmod ----------------------------------------------------------------------------------------

def test_remainder_keeps_the_sign_of_a_zero_as_torch(torch: Any) -> None:
    a = np.array([-0.0, 0.0, 3.0, -3.0, 2.5, -2.5, -4.0, 4.0, INF, NAN, 5e-324])
    b = np.array([2.0, -2.0, -1.5, 1.5, -INF, INF, 2.0, -2.0, 1.0, 1.0, -INF])
    for dtype in ("float64", "float32"):
        x, y = a.astype(dtype), b.astype(dtype)
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        _same(mg.remainder(mg.tensor(x), mg.tensor(y)), torch.remainder(tx, ty), dtype)
        _same(mg.tensor(x) % 2.5, tx % 2.5, dtype)
        _same(mg.tensor(x) % -2, tx % -2, dtype)
    _same(mg.tensor([-7, 7, -6]) % mg.tensor([2, -2, 3]), torch.tensor([-7, 7, -6]) % torch.tensor([2, -2, 3]))


def test_remainder_gradient_matches_torch(torch: Any) -> None:
    a, b = np.array([[7.3, -7.3, 2.2, -0.4]]), np.array([[2.0], [-3.0]])
    x, tx = _pair(torch, a)
    y, ty = _pair(torch, b)
    mg.remainder(x, y).sum().backward()
    torch.remainder(tx, ty).sum().backward()
    _same(x.grad, tx.grad)
    _same(y.grad, ty.grad)
    assert mg.gradcheck(lambda p, q: mg.remainder(p, q), [mg.tensor(a, requires_grad=True),
                                                          mg.tensor(b, requires_grad=True)])


@pytest.mark.parametrize("spelling", ["%", "remainder", "fmod", "rmod", "remainder_"])
def test_integer_remainder_by_zero_raises_as_torch(spelling: str, torch: Any) -> None:
    def run(lib: Any) -> Any:
        x, zero = lib.tensor([5, -3]), lib.tensor([2, 0])
        if spelling == "%":
            return x % zero
        if spelling == "rmod":
            return 7 % zero
        if spelling == "remainder_":
            return x.remainder_(0)
        return getattr(lib, spelling)(x, zero)
    with pytest.raises(RuntimeError):
        run(torch)
    with pytest.raises(IntegerDivisionByZero, match=spelling.strip("_").replace("%", "remainder")
                       .replace("rmod", "remainder")):
        run(mg)
    assert issubclass(IntegerDivisionByZero, ZeroDivisionError) and issubclass(IntegerDivisionByZero, RuntimeError)
    assert mg.fmod(mg.tensor([5.0, -3.0]), 0.0).isnan().all()   # floats divide by zero to NaN, as PyTorch


def test_python_bools_are_numbers_in_rounding_ops(torch: Any) -> None:
    x = np.array([-2.5, 1.5, 3.0])
    for fn in (lambda t, a: t.remainder(a, True), lambda t, a: t.fmod(a, True),
               lambda t, a: t.div(a, True, rounding_mode="floor"), lambda t, a: t.floor_divide(a, True),
               lambda t, a: t.copysign(a, True), lambda t, a: t.xlogy(a, True), lambda t, a: t.float_power(a, True)):
        _same(fn(mg, mg.tensor(x)), fn(torch, torch.tensor(x)))
    _same(mg.remainder(mg.tensor([5, -3]), True), torch.remainder(torch.tensor([5, -3]), True))


# --- add/sub with alpha: alpha * other in the result's dtype ------------------------------------------------

def test_alpha_scales_a_narrow_integer_other_in_the_result_dtype(torch: Any) -> None:
    other = np.array([0, 1, 2, 200, 255], np.uint8)
    flags = np.array([True, False, True, False, True])
    for base in (np.array([1.5, -1.0, 0.0, 2.0, 3.0]), np.array([1, -2, 0, 3, 5]),
                 np.array([1, -2, 0, 3, 5], np.int32)):
        for b in (other, flags):
            m, t = mg.tensor(base), torch.tensor(base)
            mb, tb = mg.tensor(b), torch.tensor(b)
            _same(mg.add(m, mb, alpha=2), torch.add(t, tb, alpha=2), f"add {base.dtype} {b.dtype}")
            _same(m.add(mb, alpha=2), t.add(tb, alpha=2), "method add")
            if b.dtype != bool:   # PyTorch refuses to subtract a bool tensor
                _same(mg.sub(m, mb, alpha=3), torch.sub(t, tb, alpha=3), f"sub {base.dtype} {b.dtype}")
                _same(m.sub(mb, alpha=-2), t.sub(tb, alpha=-2), "method sub")
                _same(mg.rsub(mb, m, alpha=2), torch.rsub(tb, t, alpha=2), "rsub")
    _same(mg.add(mg.tensor(flags), mg.tensor(flags), alpha=2), torch.add(torch.tensor(flags), torch.tensor(flags),
                                                                          alpha=2), "bool stays bool")


def test_alpha_keeps_gradients(torch: Any) -> None:
    a, b = np.random.default_rng(1).standard_normal((2, 3, 4))
    x, tx = _pair(torch, a)
    y, ty = _pair(torch, b[:1])
    (x.add(y, alpha=2.5) * x.sub(y, alpha=-0.5)).sum().backward()
    (tx.add(ty, alpha=2.5) * tx.sub(ty, alpha=-0.5)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy(), rtol=1e-12)


# --- lerp: PyTorch's two formulas ---------------------------------------------------------------------------

def test_lerp_uses_torchs_formula_at_special_points(torch: Any) -> None:
    start = SPECIAL
    end = SPECIAL[::-1].copy()
    for dtype in ("float64", "float32"):
        with np.errstate(over="ignore"):
            s, e = start.astype(dtype), end.astype(dtype)
        for weight in (0.3, 1.0, 0.5, -0.5, 2.0):
            # the sign of a zero is not compared: PyTorch's vector loop and its scalar tail differ there
            _same(mg.lerp(mg.tensor(s), mg.tensor(e), weight), torch.lerp(torch.tensor(s), torch.tensor(e), weight),
                  f"lerp {dtype} weight {weight}", zero_signs=False)
        _same(mg.lerp(mg.tensor(s), mg.tensor(e), mg.tensor(e)),
              torch.lerp(torch.tensor(s), torch.tensor(e), torch.tensor(e)), f"lerp {dtype} tensor weight",
              zero_signs=False)
    rng = np.random.default_rng(2)
    s, e = rng.standard_normal(1000), rng.standard_normal(1000)
    _same(mg.lerp(mg.tensor(s), mg.tensor(e), 1.0), torch.tensor(e), "weight 1 gives end exactly")


def test_lerp_gradients_match_torch(torch: Any) -> None:
    rng = np.random.default_rng(3)
    start, end, weight = rng.standard_normal((3, 4)), rng.standard_normal((1, 4)), rng.uniform(-1, 2, (3, 1))
    for scalar in (None, 0.25, 0.75):
        x, tx = _pair(torch, start)
        y, ty = _pair(torch, end)
        w, tw = _pair(torch, weight)
        ours = mg.lerp(x, y, w if scalar is None else scalar)
        theirs = torch.lerp(tx, ty.expand(3, 4) if scalar is not None else ty, tw if scalar is None else scalar)
        ours.sum().backward()
        theirs.sum().backward()
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-14)
        for mine, their in ((x, tx), (y, ty)) + (((w, tw),) if scalar is None else ()):
            np.testing.assert_allclose(mine.grad.numpy(), their.grad.numpy(), rtol=1e-14)
    assert mg.gradcheck(lambda a, b, c: mg.lerp(a, b, c), [mg.tensor(start, requires_grad=True),
                                                           mg.tensor(end, requires_grad=True),
                                                           mg.tensor(weight, requires_grad=True)])
    z = mg.tensor(start.copy())
    tz = torch.tensor(start.copy())
    z.lerp_(mg.tensor(end), 0.75)
    tz.lerp_(torch.tensor(end), 0.75)
    _same(z, tz, "lerp_")


# --- erf, erfc ----------------------------------------------------------------------------------------------

def test_erf_keeps_the_sign_of_zero_and_erfc_is_exact_in_float32(torch: Any) -> None:
    for dtype in ("float64", "float32"):
        x = np.array([-0.0, 0.0, -1e-30, 1e-30], dtype)
        ours, theirs = mg.erf(mg.tensor(x)).numpy(), torch.erf(torch.tensor(x)).numpy()
        assert ours.dtype == theirs.dtype and (np.signbit(ours) == np.signbit(theirs)).all(), dtype
        # the tiny values to an ulp: torch's float32 kernel depends on the CPU (AVX2 and AVX-512 round apart)
        np.testing.assert_allclose(ours, theirs, rtol=2 * np.finfo(dtype).eps, atol=0, err_msg=f"erf {dtype}")
    x = np.linspace(-3, 6, 200).astype(np.float32)
    ours, theirs = mg.erfc(mg.tensor(x)).numpy(), torch.erfc(torch.tensor(x)).numpy()
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=2e-6, atol=0)
    _same(mg.erfc(mg.tensor(np.array([0, 1, 2], np.uint8))).isnan(), torch.tensor([False, False, False]))


# --- ops and methods minigrad lacked --------------------------------------------------------------------------

def test_nextafter_matches_torch(torch: Any) -> None:
    a = np.array([1.0, -0.0, 0.0, INF, NAN, 5e-324, 1.0])
    b = np.array([2.0, 1.0, -1.0, 0.0, 1.0, 0.0, 1.0])
    for dtype in ("float64", "float32"):
        with np.errstate(under="ignore"):
            x, y = a.astype(dtype), b.astype(dtype)
        mx, tx = _pair(torch, x)
        my, ty = _pair(torch, y)
        out, tout = mg.nextafter(mx, my), torch.nextafter(tx, ty)
        _same(out, tout, dtype)
        _same(mx.nextafter(my), tx.nextafter(ty), dtype)
        out.sum().backward()
        tout.sum().backward()
        _same(mx.grad, tx.grad)
        _same(my.grad, ty.grad)
    z = mg.tensor([1.0, 2.0])
    z.nextafter_(mg.tensor([2.0, 0.0]))
    _same(z, torch.tensor([1.0, 2.0]).nextafter_(torch.tensor([2.0, 0.0])))
    with pytest.raises(TypeError, match="nextafter.*int64"):
        mg.nextafter(mg.tensor([1, 2]), mg.tensor([3, 4]))


def test_new_in_place_methods_and_integer_functions(torch: Any) -> None:
    x = np.array([-2.5, -1.0, 0.0, 0.5, 3.7])
    for name, args in (("fmod_", (1.5,)), ("absolute_", ()), ("fix_", ()), ("sin_", ()), ("cos_", ()),
                       ("logical_not_", ()), ("logical_and_", (mg.tensor(x[::-1].copy()),)),
                       ("logical_or_", (mg.tensor(x * 0),)), ("logical_xor_", (mg.tensor(x),))):
        ours, theirs = mg.tensor(x.copy()), torch.tensor(x.copy())
        their_args = [torch.from_numpy(a.numpy()) if isinstance(a, mg.Tensor) else a for a in args]
        assert getattr(ours, name)(*args) is ours
        getattr(theirs, name)(*their_args)
        _same(ours, theirs, name)
    _same(mg.absolute(mg.tensor(x)), torch.absolute(torch.tensor(x)))
    ints, others = np.array([12, -18, 0, 7, 0]), np.array([8, 12, 5, -3, 0])
    for name in ("gcd", "lcm"):
        _same(getattr(mg, name)(mg.tensor(ints), mg.tensor(others)),
              getattr(torch, name)(torch.tensor(ints), torch.tensor(others)), name)
        m = mg.tensor(ints.copy())
        getattr(m, name + "_")(mg.tensor(others))
        _same(m, getattr(torch.tensor(ints.copy()), name + "_")(torch.tensor(others)), name + "_")
    with pytest.raises(TypeError, match="gcd.*float64"):
        mg.gcd(mg.tensor(x), mg.tensor(x))
    _same(mg.isreal(mg.tensor(x)), torch.isreal(torch.tensor(x)))
    _same(mg.tensor(x).isreal(), torch.tensor(x).isreal())
    m = mg.tensor(x.copy(), requires_grad=True)
    tm = torch.tensor(x.copy(), requires_grad=True)
    (m * 1).fmod_(1.5).sum().backward()
    (tm * 1).fmod_(1.5).sum().backward()
    _same(m.grad, tm.grad, "fmod_ gradient")


# --- kinks and ties (already PyTorch's: kept that way) ------------------------------------------------------

# sqrt(|x|) at 0 is left out: abs's backward selects 0 at x == 0 where PyTorch multiplies by sgn(0), so an
# inf from above gives 0 here and NaN there (a deliberate choice of ops/elementwise.py)
KINKS = np.array([[0.0, -0.0, 1.0, -1.0, 2.0, NAN], [0.5, 1.0, 1.0, -2.0, 0.0, 3.0]])
CASES = {
    "relu_abs_at_zero": (lambda t, x: [t.relu(x), t.abs(x), x.clamp(0, 1), x.clamp(min=1.0)], (KINKS,)),
    "maximum_ties": (lambda t, x: [t.maximum(x, x * 1), t.minimum(x, x.flip(0)), t.fmax(x, x * 1)], (KINKS,)),
    "where_with_nan_branch": (lambda t, x: t.where(x > 0, x.sqrt(), t.zeros_like(x)), (KINKS,)),
    "sqrt_at_zero": (lambda t, x: [x.relu().sqrt(), x.relu() ** 0.5, x.relu() ** -0.5], (KINKS,)),
    "pow_zero_bases": (lambda t, x: [x ** 2.0, x.abs() ** 1.5, 2.0 ** x, 0.0 ** x.abs()], (KINKS,)),
    "xlogy_zero": (lambda t, x, y: t.xlogy(x, y), (KINKS, np.abs(KINKS[::-1]))),
}

test_kinks_same_as_torch, _ = case_tests(CASES, no_gradcheck=set(CASES))
