"""Elementwise ops against PyTorch: the cases a differential fuzzer (random dtypes, shapes, scalars, special values,
in-place forms) found to differ, one test per root cause, each case run on minigrad and on torch.

Root causes: a refusal of another exception class than PyTorch's; a dtype PyTorch refuses that minigrad computed;
an integer tensor to a negative Python int (wrapped to a large exponent: a silent 0); an integer division by zero
into an empty result (nothing is divided: PyTorch gives the empty result); operands PyTorch promotes (a bool with an
integer, a float16 with a bool) that minigrad refused.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg


def _t(lib: Any, values: Any, dtype: str) -> Any:
    """A tensor of ``values`` in ``dtype`` (a name both libraries spell the same) on minigrad or torch."""
    return lib.tensor(np.asarray(values).tolist(), dtype=getattr(lib, dtype))


def _run(case: Callable[[Any], Any], lib: Any) -> Any:
    try:
        return case(lib)
    except Exception as error:  # noqa: BLE001 - the exception is the result compared
        return error


def _numpy(result: Any) -> np.ndarray:
    return result.detach().numpy() if hasattr(result, "detach") else np.asarray(result)


def _same_as_torch(case: Callable[[Any], Any], torch: Any) -> None:
    expected, got = _run(case, torch), _run(case, mg)
    if isinstance(expected, Exception):
        assert isinstance(got, type(expected)), f"torch raised {expected!r}, minigrad gave {got!r}"
        return
    assert not isinstance(got, Exception), f"torch gave {expected!r}, minigrad raised {got!r}"
    assert str(got.dtype) == str(expected.dtype).replace("torch.", "")
    np.testing.assert_array_equal(_numpy(got), _numpy(expected))


# dtype refusals: PyTorch's NotImplementedError ("not implemented for 'Long'") or RuntimeError, not only TypeError
REFUSAL_CLASS = {
    "frac_int": lambda lib: lib.frac(_t(lib, [1, 2], "int64")),
    "frac_bool_inplace": lambda lib: _t(lib, [True], "bool").frac_(),
    "nextafter_int": lambda lib: lib.nextafter(_t(lib, [1, 2], "int32"), _t(lib, [3], "int32")),
    "gcd_float": lambda lib: lib.gcd(_t(lib, [1.0], "float32"), _t(lib, [2.0], "float32")),
    "lcm_bool": lambda lib: lib.lcm(_t(lib, [True], "bool"), _t(lib, [False], "bool")),
    "logaddexp2_uint8": lambda lib: lib.logaddexp2(_t(lib, [1], "uint8"), _t(lib, [2], "uint8")),
    "hypot_int": lambda lib: lib.hypot(_t(lib, [3], "int16"), _t(lib, [4], "int64")),
    "floor_bool": lambda lib: lib.floor(_t(lib, [True], "bool")),
    "ceil_bool": lambda lib: lib.ceil(_t(lib, [True], "bool")),
    "trunc_bool": lambda lib: lib.trunc(_t(lib, [True], "bool")),
    "round_bool": lambda lib: lib.round(_t(lib, [True], "bool")),
    "heaviside_mixed": lambda lib: lib.heaviside(_t(lib, [1, 0], "int16"), _t(lib, [2], "int64")),
    "addcdiv_int": lambda lib: lib.addcdiv(_t(lib, [1], "int8"), _t(lib, [2], "int8"), _t(lib, [3], "int8")),
    "add_float_alpha": lambda lib: lib.add(_t(lib, [1], "uint8"), _t(lib, [2], "uint8"), alpha=0.5),
    "clamp_min_complex": lambda lib: _t(lib, [1, 2], "int32").clamp_min_(-2 + 1j),
}


@pytest.mark.parametrize("name", sorted(REFUSAL_CLASS))
def test_refusals_are_of_torchs_class(name: str, torch: Any) -> None:
    assert isinstance(_run(REFUSAL_CLASS[name], torch), Exception)
    _same_as_torch(REFUSAL_CLASS[name], torch)


# dtypes PyTorch has no kernel for, which minigrad computed (NumPy's answer) instead of raising
REFUSED_BY_TORCH = {
    "abs_bool": lambda lib: lib.abs(_t(lib, [True, False], "bool")),
    "abs_operator_bool": lambda lib: abs(_t(lib, [True, False], "bool")),
    "abs_inplace_bool": lambda lib: _t(lib, [True, False], "bool").abs_(),
    "lshift_bool": lambda lib: _t(lib, [True, False], "bool") << _t(lib, [True, True], "bool"),
    "rshift_bool": lambda lib: lib.bitwise_right_shift(_t(lib, [True], "bool"), _t(lib, [False], "bool")),
    "pow_bool_bool": lambda lib: _t(lib, [True, False], "bool") ** _t(lib, [True, True], "bool"),
    "remainder_bool": lambda lib: _t(lib, [True], "bool") % _t(lib, [True], "bool"),
    "remainder_bool_inplace": lambda lib: _t(lib, [True], "bool").remainder_(_t(lib, [True], "bool")),
    "fmod_bool": lambda lib: lib.fmod(_t(lib, [True, True], "bool"), _t(lib, [True], "bool")),
    "logaddexp_int": lambda lib: lib.logaddexp(_t(lib, [1, 2], "int8"), _t(lib, [3], "int8")),
    "logaddexp_bool": lambda lib: lib.logaddexp(_t(lib, [True], "bool"), _t(lib, [False], "bool")),
    "round_decimals_int": lambda lib: lib.round(_t(lib, [15, 25], "int32"), decimals=-1),
    "deg2rad_complex": lambda lib: lib.deg2rad(_t(lib, [1 + 2j], "complex64")),
    "rad2deg_complex": lambda lib: lib.rad2deg(_t(lib, [1 + 2j], "complex128")),
    "addcmul_bool": lambda lib: lib.addcmul(_t(lib, [True], "bool"), _t(lib, [True], "bool"), _t(lib, [False], "bool")),
    "addcdiv_int_operands": lambda lib: lib.addcdiv(_t(lib, [1.0], "float32"), _t(lib, [2], "uint8"),
                                                    _t(lib, [3], "int32")),
    "add_inplace_float_alpha": lambda lib: _t(lib, [1, 2], "int64").add_(_t(lib, [1], "int64"), alpha=1.0),
    "sub_inplace_float_alpha": lambda lib: _t(lib, [3], "uint8").sub_(_t(lib, [1], "uint8"), alpha=1.0),
}


@pytest.mark.parametrize("name", sorted(REFUSED_BY_TORCH))
def test_what_torch_refuses_raises(name: str, torch: Any) -> None:
    assert isinstance(_run(REFUSED_BY_TORCH[name], torch), Exception)
    _same_as_torch(REFUSED_BY_TORCH[name], torch)


# an integer tensor to a negative Python int: the exponent was wrapped into the tensor's dtype (-3 -> 253 for
# uint8), a silent 0 where PyTorch raises
NEGATIVE_INT_POWER = {
    "uint8_pow": lambda lib: _t(lib, [8, 2], "uint8") ** -3,
    "uint8_pow_inplace": lambda lib: _t(lib, [8, 2], "uint8").pow_(-1),
    "int16_pow_function": lambda lib: lib.pow(_t(lib, [2], "int16"), -2),
}


@pytest.mark.parametrize("name", sorted(NEGATIVE_INT_POWER))
def test_integer_to_a_negative_int_raises(name: str, torch: Any) -> None:
    assert isinstance(_run(NEGATIVE_INT_POWER[name], torch), RuntimeError)
    _same_as_torch(NEGATIVE_INT_POWER[name], torch)


def _empty(lib: Any) -> Any:
    return lib.zeros((2, 0), dtype=lib.int64)


# an integer zero divisor broadcast into an empty result divides nothing: PyTorch gives the empty result
EMPTY_DIVISION = {
    "floor_divide": lambda lib: _empty(lib) // _t(lib, [[0], [1]], "int64"),
    "div_trunc": lambda lib: lib.div(_empty(lib), _t(lib, [[0], [1]], "int64"), rounding_mode="trunc"),
    "remainder": lambda lib: lib.remainder(_empty(lib), _t(lib, [[2], [0]], "int64")),
    "fmod_scalar": lambda lib: lib.fmod(_empty(lib), 0),
    "floor_divide_inplace": lambda lib: _empty(lib).floor_divide_(_t(lib, [[0], [1]], "int64")),
}


@pytest.mark.parametrize("name", sorted(EMPTY_DIVISION))
def test_integer_division_by_zero_into_an_empty_result(name: str, torch: Any) -> None:
    _same_as_torch(EMPTY_DIVISION[name], torch)


def test_integer_division_by_zero_still_raises(torch: Any) -> None:
    _same_as_torch(lambda lib: _t(lib, [[1, 2]], "int64") // _t(lib, [[0], [1]], "int64"), torch)


# operands PyTorch promotes, which minigrad refused: a bool with an integer (gcd, lcm), a bool with a float16
PROMOTED = {
    "gcd_int16_bool": lambda lib: lib.gcd(_t(lib, [4, 6, 0], "int16"), _t(lib, [True, False, True], "bool")),
    "lcm_bool_int8": lambda lib: lib.lcm(_t(lib, [True, False], "bool"), _t(lib, [4, 6], "int8")),
    "gcd_inplace_bool": lambda lib: _t(lib, [4, 6], "int32").gcd_(_t(lib, [True, False], "bool")),
    "nextafter_float16_bool": lambda lib: lib.nextafter(_t(lib, [1.0, 0.0, -0.0], "float16"),
                                                        _t(lib, [False], "bool")),
}


@pytest.mark.parametrize("name", sorted(PROMOTED))
def test_promoted_operands_compute(name: str, torch: Any) -> None:
    _same_as_torch(PROMOTED[name], torch)


@pytest.mark.parametrize("dtypes", [("float32", "float16"), ("float64", "float32"), ("float16", "float64")])
def test_xlogy_takes_the_log_in_the_result_dtype(dtypes: tuple, torch: Any) -> None:
    """xlogy of a float32 x and a float16 y: the log of y in float32 (it was taken in float16, then promoted)."""
    x, y = np.array([1.0, 1.1156127, 4.0604043]), np.array([1.134, 1.363, 7.7])
    expected = torch.xlogy(_t(torch, x, dtypes[0]), _t(torch, y, dtypes[1]))
    got = mg.xlogy(_t(mg, x, dtypes[0]), _t(mg, y, dtypes[1]))
    assert str(got.dtype) == str(expected.dtype).replace("torch.", "")
    rtol = {"float16": 1e-3, "float32": 1e-6, "float64": 1e-12}[str(got.dtype)]
    np.testing.assert_allclose(_numpy(got), expected.numpy(), rtol=rtol)
