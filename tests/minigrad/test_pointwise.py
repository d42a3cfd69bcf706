"""PyTorch's pointwise ops (minigrad/ops/pointwise.py) and the float32 results of integer inputs, against PyTorch.

As in ``test_pytorch_api_more.py``: each case is ``fn(lib, *tensors)`` in PyTorch's spelling, run with
``lib = minigrad`` and ``lib = torch`` on the same float64 values; outputs (values, shapes, dtypes) and
input gradients must agree, and every differentiable case passes ``mg.gradcheck`` in float64. The ops
whose backward PyTorch does not implement (``//``, ``heaviside``) are checked to raise the same way.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pytest
from helpers import assert_ieee_close, case_tests, device_tolerance, gpu_case_tests

import minigrad as mg
from minigrad.ops import elementwise, pointwise

RNG = np.random.default_rng(11)
NAN, INF = float("nan"), float("inf")


def _normal(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)


def _uniform(low: float, high: float, *shape: int) -> np.ndarray:
    return RNG.uniform(low, high, shape)


X34, X14, X31, X4 = _normal(3, 4), _normal(1, 4), _normal(3, 1), _normal(4)
P34, P14, P31 = _uniform(0.5, 2.0, 3, 4), _uniform(0.5, 2.0, 1, 4), _uniform(0.5, 2.0, 3, 1)
UNIT34, UNIT14 = _uniform(-0.9, 0.9, 3, 4), _uniform(-0.9, 0.9, 1, 4)
# quotients well away from whole numbers, so finite differences of the rounded ones are 0
DIVIDEND = np.array([[7.3, -7.3, 2.2, -0.4], [5.6, -3.1, 9.9, 0.7], [-1.3, 4.4, -8.8, 3.3]])
DIVISOR = np.array([[2.0, -2.0, 3.0, -3.0]])
ZEROS = np.array([[1.5, 0.0, 2.0, -1.0], [0.0, 0.0, 3.0, 2.0], [1.2, -0.5, 2.0, 0.8]])

CASES: dict[str, tuple[Callable, tuple]] = {
    # division
    "div": (lambda t, a, b: [t.div(a, b), a.div(b), t.divide(a, b), a.divide(b), t.true_divide(a, b),
                             a.true_divide(b)], (X34, P14)),
    "div_number": (lambda t, a: [t.div(a, 3), t.div(2.5, a), a.div(0.5, rounding_mode=None)], (P34,)),
    "div_floor": (lambda t, a, b: [t.div(a, b, rounding_mode="floor"), a.div(b, rounding_mode="floor") * a],
                  (DIVIDEND, DIVISOR)),
    "div_trunc": (lambda t, a, b: [t.div(a, b, rounding_mode="trunc"), a.divide(b, rounding_mode="trunc") * b],
                  (DIVIDEND, DIVISOR)),
    "div_rounded_number": (lambda t, a: [t.div(a, 2, rounding_mode="floor"), t.div(a, -2.5, rounding_mode="trunc")],
                           (DIVIDEND,)),
    # aliases
    "multiply": (lambda t, a, b: [t.multiply(a, b), a.multiply(b)], (X34, X31)),
    "subtract": (lambda t, a, b: [t.subtract(a, b), a.subtract(b, alpha=2), t.subtract(a, b, alpha=-0.5)],
                 (X34, X14)),
    "add_sub_alpha": (lambda t, a, b: [t.add(a, b, alpha=2), t.sub(a, b, alpha=3), t.add(a, 2.0, alpha=0.5),
                                       t.add(a, b), a.add(b, alpha=1.5), t.sub(a, 1, alpha=2)], (X34, X31)),
    "negative_positive": (lambda t, a: [t.negative(a), a.negative(), t.positive(a) * 2, +a], (X34,)),
    "comparisons": (lambda t, a, b: [t.eq(a, b), t.ne(a, b), t.lt(a, b), t.le(a, 0.5), t.gt(a, b), t.ge(a, b),
                                     t.greater(a, b), a.greater_equal(b), t.less(a, b), a.less_equal(b),
                                     t.not_equal(a, a), a.not_equal(b)], (ZEROS, X14)),
    # trigonometric and hyperbolic
    "tan": (lambda t, x: [t.tan(x), x.tan()], (UNIT34,)),
    "asin_acos_atan": (lambda t, x: [t.asin(x), x.acos(), t.atan(x * 3), t.arcsin(x), x.arccos(), t.arctan(x)],
                       (UNIT34,)),
    "sinh_cosh": (lambda t, x: [t.sinh(x), x.cosh()], (X34,)),
    "asinh_acosh_atanh": (lambda t, x, u: [t.asinh(x), x.asinh(), t.acosh(x.abs() + 1.1), t.atanh(u),
                                           t.arcsinh(x), (x.abs() + 1.5).arccosh(), u.arctanh()], (X34, UNIT34)),
    "arctan2": (lambda t, a, b: [t.arctan2(a, b), a.arctan2(b)], (X34, X31)),
    "sinc": (lambda t, x: [t.sinc(x * 2), x.sinc()], (np.array([[0.0, 0.5, 1.0, -2.5], [0.3, -1.7, 3.2, 0.0]]),)),
    "deg2rad_rad2deg": (lambda t, x: [t.deg2rad(x * 100), x.rad2deg()], (X34,)),
    # logs and friends
    "erfc": (lambda t, x: [t.erfc(x), x.erfc(), t.erfc(x * 3)], (X34,)),
    "erfc_tails": (lambda t, x: t.erfc(x), (np.array([[2.4, 2.6, 4.0, 6.0], [-2.6, -4.0, 10.0, 26.0]]),)),
    "logit": (lambda t, x: [t.logit(x), x.logit()], (_uniform(0.05, 0.95, 3, 4),)),
    "logit_eps": (lambda t, x: [t.logit(x, eps=0.15), x.logit(0.3), t.logit(x, -1.0)],
                  (np.array([[0.02, 0.1, 0.2, 0.5], [0.6, 0.8, 0.9, 0.98]]),)),
    "xlogy": (lambda t, a, b: [t.xlogy(a, b), a.xlogy(b), t.xlogy(a, 2.5), t.xlogy(3.0, b)], (ZEROS, P14)),
    "hypot": (lambda t, a, b: [t.hypot(a, b), a.hypot(b)], (X34, X31)),
    "logaddexp2": (lambda t, a, b: [t.logaddexp2(a * 100, b), a.logaddexp2(b)], (X34, X14)),
    "float_power": (lambda t, a, b: [t.float_power(a, b), a.float_power(2), t.float_power(1.5, b), a.float_power(-0.5)],
                    (P34, X14)),
    "copysign": (lambda t, a, b: [t.copysign(a, b), a.copysign(-1.0), t.copysign(a, 0.0)], (ZEROS, X14)),
    "fmax_fmin": (lambda t, a, b: [t.fmax(a, b), a.fmin(b), t.fmax(a, b * 0 + 0.25)], (X34, X31)),
    # sign, fraction, non-finite values
    "sgn": (lambda t, x: [t.sgn(x) * x, x.sgn()], (DIVIDEND,)),
    "sgn_at_zero": (lambda t, x: [t.sgn(x) * x, x.sgn()], (ZEROS,)),
    "signbit": (lambda t, x: [t.signbit(x), (x - 1).signbit(), t.signbit(-x)], (ZEROS,)),
    "frac": (lambda t, x: [t.frac(x), x.frac()], (DIVIDEND,)),
    "nan_to_num_finite": (lambda t, x: [t.nan_to_num(x), x.nan_to_num(nan=1.0, posinf=2.0)], (X34,)),
    "nan_to_num_non_finite": (lambda t, x: [t.nan_to_num(x / x.round()), (x / 0).nan_to_num(posinf=3.0, neginf=-4.0),
                                            t.nan_to_num(x.log(), nan=7.0)], (ZEROS,)),
    # fused multiply-add
    "addcmul": (lambda t, x, a, b: [t.addcmul(x, a, b), x.addcmul(a, b, value=0.5), t.addcmul(x, a, b, value=-2)],
                (X34, X31, X14)),
    "addcdiv": (lambda t, x, a, b: [t.addcdiv(x, a, b), x.addcdiv(a, b, value=0.5), t.addcdiv(x, a, b, value=3)],
                (X14, X31, P34)),
    # zero-size shapes
    "empty": (lambda t, x: [t.tan(x), t.xlogy(x, x), t.fmax(x, x), t.nan_to_num(x), t.addcmul(x, x, x),
                            t.div(x, 2, rounding_mode="floor"), t.sinc(x), t.logit(x), t.signbit(x)],
              (np.zeros((0, 4)),)),
}
NO_GRADCHECK = {"nan_to_num_non_finite", "sgn_at_zero"}


test_same_as_torch, test_gradcheck = case_tests(CASES, no_gradcheck=NO_GRADCHECK)


# --- floor division ------------------------------------------------------------------------------------

INTS = np.array([[-5, 5, 7, -7], [0, 3, -1, 12]])
INT_DIVISORS = np.array([[2, -2, 3, -4]])


@pytest.mark.parametrize("dtype", ["int64", "int32", "int8", "uint8"])
def test_integer_floor_division_stays_integer_and_rounds_down(dtype: str, torch: Any) -> None:
    a = np.abs(INTS).astype(dtype) if dtype == "uint8" else INTS.astype(dtype)
    b = np.abs(INT_DIVISORS).astype(dtype) if dtype == "uint8" else INT_DIVISORS.astype(dtype)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    x, y = mg.tensor(a), mg.tensor(b)
    three = 3 if dtype == "uint8" else -3
    pairs = [(x // y, ta // tb), (x // 2, ta // 2), (7 // y, 7 // tb),
             (mg.floor_divide(x, y), torch.floor_divide(ta, tb)), (x.floor_divide(3), ta.floor_divide(3)),
             (mg.div(x, y, rounding_mode="floor"), torch.div(ta, tb, rounding_mode="floor")),
             (mg.div(x, y, rounding_mode="trunc"), torch.div(ta, tb, rounding_mode="trunc")),
             (x.div(three, rounding_mode="trunc"), ta.div(three, rounding_mode="trunc"))]
    for i, (ours, theirs) in enumerate(pairs):
        assert ours.dtype == theirs.numpy().dtype, f"pair {i}: {ours.dtype} != {theirs.dtype}"
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=f"pair {i}")
    assert (mg.tensor([-5, 5]) // 2).numpy().tolist() == [-3, 2]


def test_floor_division_of_floats_matches_torch_at_the_edges(torch: Any) -> None:
    a = np.array([7.0, -7.0, 0.3, 5.5, -5.5, 1.0, -1.0, 0.0, INF, NAN, -0.0, 1e300])
    b = np.array([0.1, 0.1, 0.1, INF, INF, 0.0, 0.0, 0.0, 2.0, 1.0, 3.0, 1e-300])
    for dtype in ("float64", "float32"):
        with np.errstate(over="ignore"):
            x, y = a.astype(dtype), b.astype(dtype)
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        for ours, theirs in [(mg.tensor(x) // mg.tensor(y), tx // ty),
                             (mg.div(mg.tensor(x), mg.tensor(y), rounding_mode="trunc"),
                              torch.div(tx, ty, rounding_mode="trunc")),
                             (mg.tensor(x) // 0.25, tx // 0.25), (3.0 // mg.tensor(y), 3.0 // ty)]:
            assert ours.dtype == theirs.numpy().dtype
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=dtype)
            assert (np.signbit(ours.numpy()) == np.signbit(theirs.numpy())).all()


def test_floor_divide_backward_raises_as_in_torch(torch: Any) -> None:
    x = mg.tensor([-5.0, 5.0, 3.5], requires_grad=True)
    tx = torch.tensor([-5.0, 5.0, 3.5], requires_grad=True)
    for ours, theirs in [(x // 2, tx // 2), (mg.floor_divide(x, x * 0 + 2), torch.floor_divide(tx, tx * 0 + 2)),
                         (3 // x, 3 // tx)]:
        assert ours.requires_grad and theirs.requires_grad
        np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())
        with pytest.raises(RuntimeError, match="derivative for aten::floor_divide is not implemented"):
            theirs.sum().backward()
        with pytest.raises(RuntimeError, match="derivative for floor_divide is not implemented"):
            ours.sum().backward()


def test_rounded_div_has_a_zero_gradient_like_torch(torch: Any) -> None:
    for mode in ("floor", "trunc"):
        a = mg.tensor(DIVIDEND, requires_grad=True)
        b = mg.tensor(DIVISOR, requires_grad=True)
        mg.div(a, b, rounding_mode=mode).sum().backward()
        ta, tb = torch.tensor(DIVIDEND, requires_grad=True), torch.tensor(DIVISOR, requires_grad=True)
        torch.div(ta, tb, rounding_mode=mode).sum().backward()
        assert a.grad.shape == a.shape and b.grad.shape == b.shape
        np.testing.assert_array_equal(a.grad.numpy(), ta.grad.numpy())
        np.testing.assert_array_equal(b.grad.numpy(), tb.grad.numpy())


def test_division_errors_name_the_op(torch: Any) -> None:
    with pytest.raises(ZeroDivisionError, match="floor_divide"):
        mg.tensor([1, 2]) // 0
    with pytest.raises(ZeroDivisionError, match="div"):
        mg.div(mg.tensor([1, -7]), mg.tensor([1, 0]), rounding_mode="trunc")
    with pytest.raises(RuntimeError):
        torch.div(torch.tensor([1, -7]), 0, rounding_mode="trunc")
    with pytest.raises(RuntimeError, match="division by zero"):   # PyTorch's type, too
        mg.tensor([3]) // mg.tensor([0])
    with pytest.raises(ValueError, match="rounding_mode"):
        mg.div(mg.tensor([1.0]), 2, rounding_mode="round")
    with pytest.raises(TypeError, match="bool"):
        mg.tensor([True, False]) // mg.tensor([True, True])
    with pytest.raises(RuntimeError):
        torch.tensor([True, False]) // torch.tensor([True, True])
    assert mg.floor_divide(3, 2).tolist() == 1 and mg.floor_divide(3, 2).dtype == mg.int64   # as torch's
    with pytest.raises(TypeError, match="floor_divide"):
        mg.tensor([1.0]) // "2"


def test_in_place_floor_division_and_rounded_div_(torch: Any) -> None:
    x = mg.tensor(INTS.copy())
    version = x._version
    x //= mg.tensor(INT_DIVISORS)
    tx = torch.from_numpy(INTS.copy())
    tx //= torch.from_numpy(INT_DIVISORS)
    assert x._version > version and x.dtype == mg.int64
    np.testing.assert_array_equal(x.numpy(), tx.numpy())
    for name, kwargs in [("floor_divide_", {}), ("div_", {"rounding_mode": "trunc"}),
                         ("divide_", {"rounding_mode": "floor"})]:
        y, ty = mg.tensor(DIVIDEND.copy()), torch.from_numpy(DIVIDEND.copy())
        assert getattr(y, name)(-0.7, **kwargs) is y
        getattr(ty, name)(-0.7, **kwargs)
        np.testing.assert_array_equal(y.numpy(), ty.numpy(), err_msg=name)
    z, tz = mg.tensor(DIVIDEND.copy()), torch.from_numpy(DIVIDEND.copy())
    z.div_(3.0)
    z.true_divide_(2.0)
    tz.div_(3.0).true_divide_(2.0)
    np.testing.assert_allclose(z.numpy(), tz.numpy(), rtol=1e-15)
    with pytest.raises(TypeError):
        mg.tensor([4, 6]).div_(4)   # true division of an int tensor in place: float result, as PyTorch refuses
    with pytest.raises(RuntimeError):
        torch.tensor([4, 6]).div_(4)


# --- the overrides take effect, and the operators keep their fast binding --------------------------------

def test_div_add_sub_override_the_plain_ones() -> None:
    assert mg.div is pointwise.div and mg.Tensor.div is pointwise.div and mg.divide is pointwise.div
    assert mg.add is pointwise.add and mg.sub is pointwise.sub
    assert mg.Tensor.__add__ is elementwise.add and mg.Tensor.__sub__ is elementwise.sub
    assert mg.Tensor.__truediv__ is elementwise.div
    x = mg.tensor([7.0, -7.0])
    assert mg.div(x, 2, rounding_mode="floor").numpy().tolist() == [3.0, -4.0]
    assert x.div(2, rounding_mode="trunc").numpy().tolist() == [3.0, -3.0]
    assert mg.add(x, x, alpha=2).numpy().tolist() == [21.0, -21.0]
    assert mg.sub(x, 1, alpha=3).numpy().tolist() == [4.0, -10.0]


def test_alpha_keeps_dtypes_and_refuses_floats_for_integers(torch: Any) -> None:
    i32 = np.array([1, 2], dtype=np.int32)
    assert mg.add(mg.tensor(i32), 2, alpha=3).dtype == torch.add(torch.from_numpy(i32), 2, alpha=3).numpy().dtype
    assert mg.sub(mg.tensor(i32), mg.tensor(i32), alpha=2).dtype == mg.int32
    with pytest.raises(TypeError, match="alpha"):
        mg.add(mg.tensor([1, 2]), mg.tensor([1, 2]), alpha=0.5)
    with pytest.raises(RuntimeError):
        torch.add(torch.tensor([1, 2]), torch.tensor([1, 2]), alpha=0.5)
    with pytest.raises(TypeError, match="alpha"):
        mg.sub(mg.tensor([1.0]), 1, alpha="2")
    with pytest.raises(TypeError, match="positive"):
        mg.positive(mg.tensor([True]))
    x = mg.tensor([1.0])
    assert mg.positive(x) is x is +x


# --- dtypes: integers and bools become float32 as in PyTorch ---------------------------------------------

FLOAT_VALUED = ["exp", "log", "sqrt", "tanh", "sigmoid", "sin", "cos", "tan", "asin", "acos", "atan", "sinh",
                "cosh", "asinh", "acosh", "atanh", "arcsin", "sinc", "deg2rad", "rad2deg", "erfc", "logit", "sgn",
                "signbit", "frac", "nan_to_num", "negative", "positive"]


@pytest.mark.parametrize("name", FLOAT_VALUED)
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool", "float32", "float64"])
def test_unary_result_dtypes_match_torch(name: str, dtype: str, torch: Any) -> None:
    values = np.array([[1, 0, 3], [2, 5, 1]]).astype(dtype)
    try:
        theirs = getattr(torch, name)(torch.from_numpy(values))
    except (RuntimeError, TypeError, NotImplementedError):   # e.g. frac of an int tensor
        with pytest.raises(TypeError, match=name):
            getattr(mg, name)(mg.tensor(values))
        return
    ours = getattr(mg, name)(mg.tensor(values))
    assert ours.dtype == theirs.numpy().dtype, f"{name}({dtype}): {ours.dtype} != {theirs.dtype}"
    assert_ieee_close(ours.numpy().astype("float64"), theirs.numpy().astype("float64"), name, rtol=1e-6, atol=1e-7)


BINARY = ["xlogy", "hypot", "logaddexp2", "float_power", "copysign", "fmax", "fmin", "div", "true_divide",
          "floor_divide", "multiply", "subtract", "atan2", "arctan2", "eq", "greater", "heaviside"]


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("dtypes", [("int64", "int64"), ("int32", "int32"), ("bool", "bool"), ("int64", "float32"),
                                    ("float32", "float64"), ("float32", "float32"), ("uint8", "int64")])
def test_binary_result_dtypes_match_torch(name: str, dtypes: tuple, torch: Any) -> None:
    a = np.array([[1, 0, 3], [2, 5, 1]]).astype(dtypes[0])
    b = np.array([[2, 1, 1]]).astype(dtypes[1])
    # int64 with a float32 tensor: NumPy 2's promotion gives float64 (DESIGN §3) where PyTorch gives float32,
    # in the ops that do not make integers float32 first
    numpy_promotion = dtypes == ("int64", "float32") and name in ("div", "true_divide", "floor_divide", "multiply",
                                                                  "subtract", "fmax", "fmin")
    try:
        theirs = getattr(torch, name)(torch.from_numpy(a), torch.from_numpy(b))
    except (RuntimeError, TypeError, NotImplementedError):
        with pytest.raises(TypeError, match="Subtraction" if name == "subtract" else name):
            getattr(mg, name)(mg.tensor(a), mg.tensor(b))
        return
    ours = getattr(mg, name)(mg.tensor(a), mg.tensor(b))
    expected = np.dtype("float64") if numpy_promotion else theirs.numpy().dtype
    assert ours.dtype == expected, f"{name}{dtypes}: {ours.dtype} != {expected}"
    assert_ieee_close(ours.numpy().astype("float64"), theirs.numpy().astype("float64"), name, rtol=1e-6, atol=1e-7)


def test_true_division_of_integers_is_float32_and_mixed_keeps_numpy_promotion(torch: Any) -> None:
    ints = mg.tensor([5, 7])
    torch_ints = torch.tensor([5, 7])
    for ours, theirs in [(ints / 2, torch_ints / 2), (2 / ints, 2 / torch_ints), (ints / ints, torch_ints / torch_ints),
                         (mg.tensor([True]) / mg.tensor([True]), torch.tensor([True]) / torch.tensor([True])),
                         (mg.tensor(np.array([3], dtype=np.int8)) / 2, torch.tensor([3], dtype=torch.int8) / 2),
                         (mg.tensor(5) / 2, torch.tensor(5) / 2), (ints / 0, torch_ints / 0),
                         (ints.exp(), torch_ints.exp()),
                         (mg.tensor([True, False]).sigmoid(), torch.tensor([True, False]).sigmoid())]:
        assert ours.dtype == mg.float32 and theirs.dtype == torch.float32
        assert ours.shape == tuple(theirs.shape)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert (ints / 2.0).dtype == mg.float64               # an int tensor with a Python float: NumPy 2
    assert (ints / mg.tensor([2.0])).dtype == mg.float64  # int64 with a float32 tensor: NumPy 2
    assert (mg.tensor([1.5], dtype=mg.float32) / 2).dtype == mg.float32
    big = mg.tensor([16777217])                          # divided in float32, as PyTorch (not rounded twice)
    np.testing.assert_array_equal((big / 1).numpy(), (torch.tensor([16777217]) / 1).numpy())


# --- special values, against PyTorch ------------------------------------------------------------------------

def _values_and_grads(lib: Any, fn: Callable, arrays: list, torch: Any) -> tuple:
    make = (lambda a: mg.tensor(a, requires_grad=True)) if lib is mg else \
        (lambda a: torch.tensor(a, requires_grad=True))
    leaves = [make(np.asarray(a, dtype=np.float64)) for a in arrays]
    out = fn(lib, *leaves)
    out.sum().backward()
    value = out.detach().numpy() if lib is not mg else out.numpy()
    return [value] + [leaf.grad.numpy() if leaf.grad is not None else np.zeros(leaf.shape) for leaf in leaves]


SPECIAL: dict[str, tuple[Callable, list]] = {
    "xlogy_zeros_and_nan": (lambda t, a, b: t.xlogy(a, b), [[0.0, 0.0, 0.0, 1.0, 2.0, -1.0, NAN, 0.0],
                                                            [0.0, NAN, -1.0, NAN, 3.0, 2.0, 1.0, INF]]),
    "logit_no_eps": (lambda t, x: t.logit(x), [[-0.1, 0.0, 0.3, 1.0, 1.2, NAN]]),
    "logit_eps_zero": (lambda t, x: t.logit(x, 0.0), [[-0.1, 0.0, 0.3, 1.0, 1.2]]),
    "logit_eps_at_bounds": (lambda t, x: t.logit(x, 0.25), [[0.25, 0.75, 0.2, 0.8, 0.5]]),
    "logit_eps_crossed": (lambda t, x: t.logit(x, 0.6), [[-0.1, 0.0, 0.3, 1.0, 1.2]]),
    "fmax_ties_and_nan": (lambda t, a, b: t.fmax(a, b),
                          [[1.0, NAN, 2.0, NAN, 2.0, -0.0], [NAN, 1.0, 3.0, NAN, 2.0, 0.0]]),
    "fmin_ties_and_nan": (lambda t, a, b: t.fmin(a, b),
                          [[1.0, NAN, 2.0, NAN, 2.0, 0.0], [NAN, 1.0, 3.0, NAN, 2.0, -0.0]]),
    "copysign_zeros": (lambda t, a, b: t.copysign(a, b),
                       [[1.0, -2.0, 0.0, -0.0, 3.0, NAN], [-1.0, 2.0, -1.0, 1.0, -0.0, -1.0]]),
    "hypot_at_zero": (lambda t, a, b: t.hypot(a, b), [[3.0, 0.0, -4.0, INF], [4.0, 0.0, 0.0, NAN]]),
    "logaddexp2_infinities": (lambda t, a, b: t.logaddexp2(a, b),
                              [[1.0, -INF, INF, 3.0, 2000.0], [1.0, -INF, INF, -2.0, 0.0]]),
    "nan_to_num_grads": (lambda t, x: t.nan_to_num(x, nan=1.0), [[NAN, INF, -INF, 1.0, -2.0]]),
    "sinc_at_zero": (lambda t, x: t.sinc(x), [[0.0, 1e-20, 1.0, -1.0, 2.0]]),
    "atanh_acosh_edges": (lambda t, x: t.atanh(x) + t.acosh(x + 1), [[0.0, 0.5, 1.0, -1.0]]),
    "asin_edges": (lambda t, x: t.asin(x) + t.acos(x), [[-1.0, 1.0, 0.0, 1.5]]),
    "frac_of_inf": (lambda t, x: t.frac(x), [[INF, -2.5, 2.5, -0.0]]),
    "float_power_edges": (lambda t, a, b: t.float_power(a, b), [[0.0, 0.0, -2.0, 2.0], [0.0, 2.0, 0.5, -1.0]]),
    "erfc_far_tails": (lambda t, x: t.erfc(x), [[-30.0, -6.0, 6.0, 27.0, 30.0, 100.0]]),
}


@pytest.mark.parametrize("name", sorted(SPECIAL))
def test_special_values_and_gradients_match_torch(name: str, torch: Any) -> None:
    fn, arrays = SPECIAL[name]
    with np.errstate(all="ignore"):
        ours = _values_and_grads(mg, fn, arrays, torch)
    theirs = _values_and_grads(torch, fn, arrays, torch)
    for i, (o, t) in enumerate(zip(ours, theirs)):
        assert_ieee_close(o, t, f"{name} {'value' if i == 0 else f'grad {i - 1}'}")


def test_nan_to_num_defaults_are_the_dtype_limits(torch: Any) -> None:
    for dtype in ("float16", "float32", "float64"):
        values = np.array([NAN, INF, -INF, 1.0], dtype=dtype)
        ours, theirs = mg.nan_to_num(mg.tensor(values)), torch.nan_to_num(torch.from_numpy(values))
        assert ours.dtype == values.dtype
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        big = mg.tensor(values).nan_to_num(posinf=1e50)   # beyond the dtype's range: inf, as PyTorch
        np.testing.assert_array_equal(big.numpy(), torch.from_numpy(values).nan_to_num(posinf=1e50).numpy())
    ints = mg.tensor([1, 2])
    copy = mg.nan_to_num(ints)
    assert copy.dtype == mg.int64 and copy is not ints and not np.shares_memory(copy.data, ints.data)


def test_heaviside_values_dtype_and_no_derivative(torch: Any) -> None:
    x = np.array([-1.0, 0.0, 2.0, NAN, -0.0])
    ours = mg.heaviside(mg.tensor(x), mg.tensor([0.5], dtype=mg.float64))
    theirs = torch.heaviside(torch.from_numpy(x), torch.tensor([0.5], dtype=torch.float64))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert mg.tensor([-1, 0, 2]).heaviside(mg.tensor([7])).numpy().tolist() == [0, 7, 1]
    with pytest.raises(TypeError, match="heaviside"):
        mg.heaviside(mg.tensor([1.0]), mg.tensor([1]))
    with pytest.raises(TypeError, match="heaviside"):
        mg.heaviside(mg.tensor([1, 0]), 0.5)
    assert mg.heaviside(mg.tensor([-1.0, 0.0]), 0.25).numpy().tolist() == [0.0, 0.25]
    w = mg.tensor(x, requires_grad=True)
    out = mg.heaviside(w, mg.tensor([0.5], dtype=mg.float64))
    assert out.requires_grad
    with pytest.raises(RuntimeError, match="derivative for heaviside is not implemented"):
        out.sum().backward()


def test_addcmul_addcdiv_promote_and_refuse_like_torch(torch: Any) -> None:
    ints = np.array([1, 2])
    ours = mg.addcmul(mg.tensor([1.0, 2.0]), mg.tensor(ints), mg.tensor([3, 4]), value=0.5)
    theirs = torch.addcmul(torch.tensor([1.0, 2.0]), torch.from_numpy(ints), torch.tensor([3, 4]), value=0.5)
    assert ours.numpy().tolist() == theirs.numpy().tolist()
    assert ours.dtype == mg.float64   # float32 with int64 tensors: NumPy 2's promotion (DESIGN §3), PyTorch float32
    assert mg.addcmul(mg.tensor(ints), mg.tensor(ints), mg.tensor([3, 4]), value=2).numpy().tolist() == [7, 18]
    truncated = mg.addcmul(mg.tensor(ints), mg.tensor(ints), mg.tensor(ints), value=0.5)   # PyTorch's: value 0
    assert truncated.numpy().tolist() == torch.addcmul(*(torch.tensor(ints),) * 3, value=0.5).tolist() == [1, 2]
    with pytest.raises(TypeError, match="addcdiv"):
        mg.addcdiv(mg.tensor(ints), mg.tensor(ints), mg.tensor([3, 4]))
    with pytest.raises(RuntimeError):
        torch.addcdiv(torch.tensor([1, 2]), torch.tensor([1, 2]), torch.tensor([3, 4]))


def test_erfc_is_exact_where_one_minus_erf_is_not(torch: Any) -> None:
    x = np.linspace(-7.0, 27.0, 341)
    ours = mg.erfc(mg.tensor(x)).numpy()
    theirs = torch.erfc(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-11, atol=0)
    exact = [math.erfc(v) for v in (0.0, 1.0)]
    assert [mg.erfc(mg.tensor([v], dtype=mg.float64)).item() for v in (0.0, 1.0)] == pytest.approx(exact, rel=1e-14)


# --- predicates --------------------------------------------------------------------------------------------

def test_isin(torch: Any) -> None:
    cases = [lambda t: t.isin(t.tensor([[1, 2], [3, 4]]), t.tensor([2, 3])),
             lambda t: t.isin(t.tensor([[1, 2], [3, 4]]), t.tensor([2, 3]), invert=True),
             lambda t: t.isin(t.tensor([1.0, 2.0]), 2.0),
             lambda t: t.isin(2, t.tensor([1, 2])),
             lambda t: t.isin(t.tensor(np.array([1, 2, 3], dtype=np.int32)), t.tensor([2.5, 3.0])),
             lambda t: t.isin(t.tensor([NAN, 1.0]), t.tensor([NAN, 1.0])),
             lambda t: t.isin(t.tensor([1, 5, 3]), t.tensor([1, 3]), assume_unique=True)]
    for i, case in enumerate(cases):
        ours, theirs = case(mg), case(torch)
        assert ours.dtype == mg.bool_ and ours.shape == tuple(theirs.shape), i
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=str(i))
    with pytest.raises(TypeError, match="isin"):
        mg.isin(1, 2)


def test_is_floating_point_is_complex_is_nonzero_equal(torch: Any) -> None:
    assert mg.is_floating_point(mg.tensor([1.0])) and mg.is_floating_point(mg.tensor([1.0], dtype=mg.float16))
    assert not mg.is_floating_point(mg.tensor([1])) and not mg.is_floating_point(mg.tensor([True]))
    assert mg.is_complex(mg.tensor(np.array([1j]))) and not mg.is_complex(mg.tensor([1.0]))
    for values in ([0.0], [[3]], [NAN], [True], [False]):
        assert mg.is_nonzero(mg.tensor(values)) is torch.is_nonzero(torch.tensor(values))
        assert mg.tensor(values).is_nonzero() is torch.tensor(values).is_nonzero()
    for values in ([], [1.0, 2.0]):
        with pytest.raises(RuntimeError, match="ambiguous"):
            mg.is_nonzero(mg.tensor(values))
        with pytest.raises(RuntimeError, match="ambiguous"):
            torch.is_nonzero(torch.tensor(values))
    pairs = [([1, 2], [1.0, 2.0]), ([1.0, NAN], [1.0, NAN]), ([1.0], [[1.0]]), ([], []), ([1, 2], [1, 3])]
    for a, b in pairs:
        assert mg.equal(mg.tensor(a), mg.tensor(b)) is torch.equal(torch.tensor(a), torch.tensor(b)), (a, b)
        assert mg.tensor(a).equal(mg.tensor(b)) is torch.tensor(a).equal(torch.tensor(b))


# --- in place -----------------------------------------------------------------------------------------------

IN_PLACE = [("tan_", ()), ("asin_", ()), ("acos_", ()), ("atan_", ()), ("sinh_", ()), ("cosh_", ()), ("asinh_", ()),
            ("atanh_", ()), ("arcsin_", ()), ("arccos_", ()), ("arctan_", ()), ("arcsinh_", ()), ("arctanh_", ()),
            ("sinc_", ()), ("deg2rad_", ()), ("rad2deg_", ()), ("erfc_", ()), ("frac_", ()), ("sgn_", ()),
            ("logit_", ()), ("logit_", (0.2,)), ("nan_to_num_", ()), ("xlogy_", (2.0,)), ("hypot_", (X14,)),
            ("copysign_", (-1.0,)), ("atan2_", (X14,)), ("arctan2_", (X31,)), ("float_power_", (2.0,)),
            ("multiply_", (3.0,)), ("subtract_", (0.5,)), ("negative_", ())]


@pytest.mark.parametrize("name,args", IN_PLACE, ids=[f"{n}{len(a)}" for n, a in IN_PLACE])
def test_in_place_variants_keep_the_object_and_match_torch(name: str, args: tuple, torch: Any) -> None:
    values = np.abs(UNIT34)
    x = mg.tensor(values.copy())
    version = x._version
    assert getattr(x, name)(*[mg.tensor(a) if isinstance(a, np.ndarray) else a for a in args]) is x
    assert x._version > version
    expected = getattr(torch.from_numpy(values.copy()), name)(*[torch.from_numpy(a) if isinstance(a, np.ndarray)
                                                                 else a for a in args])
    np.testing.assert_allclose(x.numpy(), expected.numpy(), rtol=1e-12, err_msg=name)


def test_in_place_with_tensor_operands_and_keywords(torch: Any) -> None:
    a, b = _normal(3, 1), _uniform(0.5, 2.0, 1, 4)
    for name, args, kwargs in [("addcmul_", (a, b), {"value": 0.5}), ("addcdiv_", (a, b), {"value": 2}),
                               ("heaviside_", (np.array([0.5]),), {}), ("subtract_", (a,), {"alpha": 2}),
                               ("nan_to_num_", (), {"nan": 1.0, "posinf": 2.0}), ("xlogy_", (b,), {})]:
        x = mg.tensor(X34.copy())
        assert getattr(x, name)(*[mg.tensor(v) for v in args], **kwargs) is x
        tx = torch.from_numpy(X34.copy())
        getattr(tx, name)(*[torch.from_numpy(v) for v in args], **kwargs)
        assert_ieee_close(x.numpy(), tx.numpy(), name)


def test_in_place_on_a_non_leaf_records_the_gradient(torch: Any) -> None:
    def program(lib: Any, x: Any, w: Any) -> Any:
        y = x * 0.5
        y.sinh_()
        y.addcmul_(w, x, value=0.25)
        y.logit_(0.1)
        y.copysign_(w)   # last: PyTorch's backward needs its result unchanged (minigrad's keeps its own copy)
        return y

    x, w = mg.tensor(UNIT34, requires_grad=True), mg.tensor(X14, requires_grad=True)
    tx, tw = torch.tensor(UNIT34, requires_grad=True), torch.tensor(X14, requires_grad=True)
    ours, theirs = program(mg, x, w), program(torch, tx, tw)
    assert_ieee_close(ours.numpy(), theirs.detach().numpy(), "value")
    ours.sum().backward()
    theirs.sum().backward()
    assert_ieee_close(x.grad.numpy(), tx.grad.numpy(), "grad x")
    assert_ieee_close(w.grad.numpy(), tw.grad.numpy(), "grad w")
    with pytest.raises(RuntimeError, match="leaf"):
        mg.tensor(X34, requires_grad=True).sinh_()


def test_in_place_dtype_errors_match_torch(torch: Any) -> None:
    with pytest.raises(TypeError, match="float_power_"):
        mg.tensor([1.0, 2.0]).float_power_(2)   # float32 base: the float64 result cannot go back, as PyTorch
    with pytest.raises(RuntimeError):
        torch.tensor([1.0, 2.0]).float_power_(2)
    with pytest.raises(TypeError):
        mg.tensor([1, 2]).tan_()
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2]).tan_()


# --- bad input: clear errors naming the op -------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda: mg.xlogy(1.0, 2.0), lambda: mg.hypot(mg.tensor([1]), mg.tensor([2])), lambda: mg.tan("x"),
    lambda: mg.logit(mg.tensor([0.5]), eps="a"), lambda: mg.nan_to_num(mg.tensor([1.0]), nan="a"),
    lambda: mg.frac(mg.tensor([1, 2])), lambda: mg.fmax(mg.tensor([1.0]), "b"), lambda: mg.copysign([1.0], 2.0),
    lambda: mg.float_power(2, 3), lambda: mg.addcmul(mg.tensor([1.0]), "a", mg.tensor([1.0])),
])
def test_bad_arguments_raise_type_errors_naming_the_op(call: Callable) -> None:
    with pytest.raises(TypeError, match=r"^(xlogy|hypot|tan|logit|nan_to_num|frac|fmax|copysign|float_power|addcmul)"):
        call()


def test_shape_mismatch_names_the_op() -> None:
    with pytest.raises(ValueError, match="hypot"):
        mg.hypot(mg.tensor(X34), mg.tensor(X4[:3]))
    with pytest.raises(ValueError, match="floor_divide"):
        mg.tensor(X34) // mg.tensor(X4[:3])


# --- the same on the GPU (a real one, or the strict CuPy stand-in in CI) -----------------------------------

GPU_CASES: dict[str, tuple[Callable, tuple]] = {
    "rounding": (lambda t, a, b: [t.div(a, b, rounding_mode="floor"), t.div(a, b, rounding_mode="trunc") * b,
                                  (a // b).detach() * a, t.frac(a)], (DIVIDEND, DIVISOR)),
    "trig": (lambda t, a, b: [t.tan(b), t.asin(b), t.acos(b), t.atan(a), t.sinh(a), t.cosh(a), t.asinh(a),
                              t.atanh(b), t.acosh(a.abs() + 1.5), t.sinc(a), t.deg2rad(a), t.rad2deg(a)],
             (X34, UNIT34)),
    "binary": (lambda t, a, b: [t.xlogy(a, b.abs()), t.hypot(a, b), t.logaddexp2(a, b), t.copysign(a, b),
                                t.fmax(a, b), t.fmin(a, 0.5), t.float_power(b.abs(), a), t.xlogy(2.0, b.abs())],
               (ZEROS, X14)),
    "unary": (lambda t, a: [t.erfc(a * 4), t.logit(a.sigmoid()), t.logit(a, 0.2), t.nan_to_num(a.log()), t.sgn(a)],
              (X34,)),
    "fused": (lambda t, x, a, b: [t.addcmul(x, a, b, value=0.5), t.addcdiv(x, a, b.abs() + 0.5, value=2)],
              (X34, X31, X14)),
}


test_on_gpu_equal_cpu = gpu_case_tests(GPU_CASES, rtol=1e-12)


@pytest.mark.gpu
def test_integer_ops_on_gpu_equal_cpu() -> None:
    def program(device: str) -> list:
        a, b = mg.tensor(INTS, device=device), mg.tensor(INT_DIVISORS, device=device)
        return [a // b, mg.div(a, b, rounding_mode="trunc"), a / 2, a.exp(), mg.isin(a, b), mg.signbit(a),
                mg.heaviside(a, mg.tensor([7], device=device)), mg.fmax(a, b), mg.nan_to_num(a)]
    for ours, expected in zip(program("cuda"), program("cpu")):
        assert ours.dtype == expected.dtype and ours.device.type == "cuda"
        rtol, atol = device_tolerance(0.0, 0.0, [expected.numpy()])   # exact, but for CUDA's float32 exp
        if rtol:
            np.testing.assert_allclose(ours.numpy(), expected.numpy(), rtol=rtol, atol=atol)
        else:
            np.testing.assert_array_equal(ours.numpy(), expected.numpy())
    assert mg.equal(mg.tensor(INTS, device="cuda"), mg.tensor(INTS, device="cuda"))
    assert mg.is_nonzero(mg.tensor([2], device="cuda"))
    with pytest.raises(ZeroDivisionError):
        mg.tensor([1], device="cuda") // 0
