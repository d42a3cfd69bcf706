"""Round 19: integer and bool semantics fuzzed against PyTorch 2.13 (/tmp/fuzz19_ints.py), one test per root cause.

Each case runs the same call on minigrad and on torch and compares the dtype, the values and the exception class.
"""
import warnings
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg


def _run(call: Callable, lib: Any) -> Any:
    try:
        return call(lib)
    except Exception as error:  # noqa: BLE001 - the class is what is compared
        return error


def _same_as_torch(call: Callable, torch: Any) -> None:
    ours, theirs = _run(call, mg), _run(call, torch)
    if isinstance(theirs, Exception):
        assert isinstance(ours, type(theirs)), f"torch raised {type(theirs).__name__}, minigrad gave {ours!r}"
        return
    assert not isinstance(ours, Exception), f"minigrad raised {ours!r}, torch gave {theirs}"
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def _t(lib: Any, values: list, dtype: str) -> Any:
    return lib.tensor(values, dtype=getattr(lib, dtype))


# where(condition, int_tensor, python_int): the int keeps the tensor's dtype, so one it cannot hold raises, as
# PyTorch's; minigrad wrapped it (300 into int8 was 44, -300 into uint8 212)
@pytest.mark.parametrize("dtype, number", [("int8", 128), ("int8", 300), ("int8", -129), ("uint8", 256),
                                           ("uint8", -300), ("int16", 2**31), ("int32", 2**40), ("int64", 2**63),
                                           ("float32", 1e39), ("int8", 127), ("uint8", -1), ("bool", 300)])
@pytest.mark.parametrize("side", ["input", "other"])
def test_where_with_a_python_int_the_tensor_cannot_hold(dtype: str, number: Any, side: str, torch: Any) -> None:
    def call(lib: Any) -> Any:
        mask, x = lib.tensor([True, False, True]), _t(lib, [1, 0, 1], dtype)
        return lib.where(mask, x, number) if side == "input" else lib.where(mask, number, x)
    _same_as_torch(call, torch)


# clamp of a bool tensor between Python bools: PyTorch has no scalar kernel for bools (NotImplementedError);
# minigrad returned the bools
@pytest.mark.parametrize("call", [
    lambda lib: lib.tensor([True, False]).clamp(False),
    lambda lib: lib.tensor([True, False]).clamp(None, True),
    lambda lib: lib.tensor([True, False]).clamp(False, True),
    lambda lib: lib.clamp(lib.tensor([True, False]), min=True),
    lambda lib: lib.tensor([True, False]).clamp_min(False),
    lambda lib: lib.tensor([True, False]).clamp_max(True),
    lambda lib: lib.tensor([True, False]).clamp_(False),
    lambda lib: lib.tensor([True, False]).clamp_min_(True),
    lambda lib: lib.tensor([True, False]).clamp_max_(False),
    lambda lib: lib.tensor([True, False]).clamp(0, 1),            # an int bound: int64, computed
    lambda lib: lib.tensor([True, False]).clamp(lib.tensor([False, True])),   # a tensor bound: computed
], ids=lambda f: "")
def test_clamp_of_bools_between_bools_raises_as_torch(call: Callable, torch: Any) -> None:
    _same_as_torch(call, torch)


# clamp of an integer tensor with a float bound gives a float: the other (int) bound need not fit the integer
# dtype; minigrad raised "300 cannot be converted to type int8" where PyTorch clamps
@pytest.mark.parametrize("dtype, low, high", [("int8", -1.5, 300), ("uint8", 0.5, 2**31), ("int32", 2**40, 2.5),
                                              ("int16", float("nan"), 40000)])
def test_clamp_of_integers_with_a_float_bound_takes_any_int_bound(dtype: str, low: Any, high: Any,
                                                                    torch: Any) -> None:
    ours = _t(mg, [1, 5, -3] if dtype != "uint8" else [1, 5, 3], dtype).clamp(low, high)
    theirs = _t(torch, [1, 5, -3] if dtype != "uint8" else [1, 5, 3], dtype).clamp(low, high)
    assert ours.dtype.kind == "f"   # float64 by NumPy 2's promotion (README), PyTorch's float32
    np.testing.assert_allclose(ours.numpy(), theirs.numpy().astype(np.float64), equal_nan=True)


def test_clamp_of_integers_with_an_int_bound_still_checks_it(torch: Any) -> None:
    _same_as_torch(lambda lib: _t(lib, [1, 2], "int8").clamp(1, 300), torch)


# cumprod(dtype=bool): PyTorch has no bool kernel ("cumprod_out_cpu" not implemented); minigrad computed it
@pytest.mark.parametrize("dtype", ["int64", "uint8", "bool", "int8"])
def test_cumprod_into_bool_raises_as_torch(dtype: str, torch: Any) -> None:
    _same_as_torch(lambda lib: _t(lib, [[1, 2, 0], [3, 1, 1]], dtype).cumprod(1, dtype=lib.bool), torch)
    _same_as_torch(lambda lib: _t(lib, [[1, 2, 0], [3, 1, 1]], dtype).cumprod(1), torch)   # int64: computed


# gcd beside the dtype's minimum: PyTorch's Euclid loop starts from abs(), which leaves INT_MIN negative, so its
# answer can be negative (int16 gcd(-32768, 6) is -2); minigrad gave NumPy's 2
@pytest.mark.parametrize("dtype, a, b", [("int16", [-32768, -32768, 6, -32768, 0], [6, -7, -32768, 0, -32768]),
                                         ("int8", [-128, 12, -128, -128], [-6, -128, -128, 3]),
                                         ("int32", [-(2**31), 5, -(2**31)], [10, -(2**31), 2**30]),
                                         ("int64", [-(2**63), 9, -(2**63)], [-5, -(2**63), 64])])
def test_gcd_beside_the_minimum_as_torch(dtype: str, a: list, b: list, torch: Any) -> None:
    _same_as_torch(lambda lib: lib.gcd(_t(lib, a, dtype), _t(lib, b, dtype)), torch)
    _same_as_torch(lambda lib: _t(lib, a, dtype).gcd_(_t(lib, b, dtype)), torch)


def test_gcd_of_a_narrower_minimum_promotes_first(torch: Any) -> None:
    _same_as_torch(lambda lib: lib.gcd(_t(lib, [-128, 7], "int8"), _t(lib, [6, -7], "int16")), torch)


@pytest.mark.gpu
def test_gcd_beside_the_minimum_on_the_gpu() -> None:
    a, b = [-32768, -32768, 6, 12], [6, 0, -32768, 8]
    on_gpu = mg.gcd(mg.tensor(a, dtype=mg.int16, device="cuda"), mg.tensor(b, dtype=mg.int16, device="cuda"))
    assert on_gpu.cpu().tolist() == mg.gcd(mg.tensor(a, dtype=mg.int16), mg.tensor(b, dtype=mg.int16)).tolist()
    assert on_gpu.cpu().tolist() == [-2, -32768, -2, 4]


# trapezoid / cumulative_trapezoid of integers: PyTorch adds the pairs y[i] + y[i+1] (and multiplies them by integer
# spacings) in the integers' dtype, wrapping, and sums integers in int64 before its float; minigrad cast y to
# float first (int8 [126, 127, 100, -128] cumulatively was [126.5, 240, 226], PyTorch's [-1.5, -16, -30])
TRAPEZOID_CASES = {
    "int8 pairs wrap": ("cumulative_trapezoid", ([126, 127, 100, -128], "int8"), None, {}),
    "int8 pairs wrap dx": ("cumulative_trapezoid", ([126, 127, 100, -128], "int8"), None, {"dx": 2}),
    "uint8 pairs wrap": ("cumulative_trapezoid", ([254, 255, 100, 0], "uint8"), None, {}),
    "int64 pairs wrap": ("cumulative_trapezoid", ([2**62, 2**62, 2**62], "int64"), None, {}),
    "int64 sum wraps": ("trapezoid", ([2**62, 2**62, 2**62], "int64"), None, {}),
    "int32 ends wrap": ("trapezoid", ([[2**31 - 1, 5, 2**31 - 1], [1, 2, 3]], "int32"), None, {"dx": 0.5}),
    "int8 products wrap": ("trapezoid", ([1, 2, 3], "int8"), ([1, 5, 127], "int8"), {}),
    "int8 spacing wraps": ("trapezoid", ([100, 100, 100], "int8"), ([-128, 0, 127], "int8"), {}),
    "int8 spacing wraps, running": ("cumulative_trapezoid", ([100, 100, 100], "int8"), ([-128, 0, 127], "int8"), {}),
    "int16 y, float64 x": ("trapezoid", ([32767, 32767, 1], "int16"), ([0.0, 0.5, 2.0], "float64"), {}),
    "int32 y, float32 x, running": ("cumulative_trapezoid", ([2**31 - 1, 1, 7], "int32"), ([0.0, 1.0, 3.0], "float32"),
                                    {}),
    "uint8 y, int16 x by dim 0": ("cumulative_trapezoid", ([[200, 1], [100, 2], [3, 250]], "uint8"),
                                  ([-3, 400, 9], "int16"), {"dim": 0}),
}


@pytest.mark.parametrize("case", sorted(TRAPEZOID_CASES))
def test_trapezoid_of_integers_as_torch(case: str, torch: Any) -> None:
    name, (y, y_dtype), x, kwargs = TRAPEZOID_CASES[case]

    def call(lib: Any) -> Any:
        samples = () if x is None else (_t(lib, x[0], x[1]),)
        return getattr(lib, name)(_t(lib, y, y_dtype), *samples, **kwargs)
    _same_as_torch(call, torch)


# the cross product of two bool tensors: PyTorch's NotImplementedError ("cross" not implemented for 'Bool');
# minigrad raised sub's ArgumentTypeError about subtracting bools, naming neither cross nor its class
@pytest.mark.parametrize("call", [lambda lib: lib.linalg.cross(lib.tensor([[True, False, True]]),
                                                              lib.tensor([[False, True, True]])),
                                  lambda lib: lib.cross(lib.tensor([True, False, True]), lib.tensor([True] * 3), dim=0),
                                  lambda lib: lib.tensor([[True, True, False]]).cross(lib.tensor([[True] * 3]), dim=1)],
                         ids=["linalg.cross", "cross", "method"])
def test_cross_of_bools_raises_as_torch(call: Callable, torch: Any) -> None:
    _same_as_torch(call, torch)
    with pytest.raises(NotImplementedError, match="cross"):
        call(mg)


# repeat_interleave's counts tensor: PyTorch has kernels for int64 and int32 only (NotImplementedError for int8,
# uint8, int16 and bool); minigrad counted with any integer dtype, and a bool tensor alone raised arange's error
@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "bool", "int32", "int64"])
@pytest.mark.parametrize("form", ["counts", "repeats", "method"])
def test_repeat_interleave_counts_of_int32_or_int64_only(dtype: str, form: str, torch: Any) -> None:
    def call(lib: Any) -> Any:
        counts = _t(lib, [1, 2, 0], dtype)
        if form == "counts":
            return lib.repeat_interleave(counts)
        if form == "repeats":
            return lib.repeat_interleave(_t(lib, [5, 6, 7], "int64"), counts)
        return _t(lib, [[5, 6, 7]], "int8").repeat_interleave(counts, dim=1)
    _same_as_torch(call, torch)


# cumsum_/cumprod_ of a bool tensor: PyTorch's NotImplementedError (no bool scan kernel); minigrad raised its
# InplaceCastError (int64 can't be cast back to bool), a RuntimeError of another class
@pytest.mark.parametrize("name", ["cumsum_", "cumprod_"])
@pytest.mark.parametrize("dtype", ["bool", "int8", "uint8"])
def test_in_place_scans_of_bools_raise_as_torch(name: str, dtype: str, torch: Any) -> None:
    _same_as_torch(lambda lib: getattr(_t(lib, [[1, 1, 0], [100, 3, 1]], dtype), name)(1), torch)


# ldexp: a floating input with integer exponents is PyTorch's exact ldexp kernel, anything else its
# input * 2.0 ** other with the power in other's float dtype (the default float for integers); minigrad computed
# everything in float64 (0 · 2^1100 was NaN, an int 0 · 2^255 was 0 where PyTorch gives NaN)
LDEXP_CASES = {
    "float64 0 by 2^1100": (([0.0, 1e-300, 2.0**-1074], "float64"), ([1100, 1100, 2000], "int64")),
    "float64 down past 2^-1074": (([1.5, 3.0, 2.0**1000], "float64"), ([-1075, -1075, -2100], "int32")),
    "float32 0 by 2^300": (([0.0, -0.0, 1.5], "float32"), ([300, 2000, -160], "int16")),
    "float16 by int8": (([2.0**-10, 3.0, 0.0], "float16"), ([20, -30, 100], "int8")),
    "int 0 by 2^255": (([0, 0, 1, 3], "int64"), ([255, 128, 200, -150], "int64")),
    "uint8 by bool": (([1, 2], "uint8"), ([True, False], "bool")),
    "float16 by float16": (([2.0**-10], "float16"), ([20.0], "float16")),
    "float32 0 by 255.0": (([0.0, 2.0**-100], "float32"), ([255.0, 200.0], "float32")),
    "float64 by float32": (([1.5, -2.0], "float64"), ([2.5, -1.0], "float32")),
    "complex64 by int": (([1.5 + 1j], "complex64"), ([200], "int64")),
}


@pytest.mark.parametrize("case", sorted(LDEXP_CASES))
def test_ldexp_as_torch(case: str, torch: Any) -> None:
    (x, x_dtype), (e, e_dtype) = LDEXP_CASES[case]
    ours = mg.ldexp(_t(mg, x, x_dtype), _t(mg, e, e_dtype))
    theirs = torch.ldexp(_t(torch, x, x_dtype), _t(torch, e, e_dtype))
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert (np.signbit(ours.numpy().real) == np.signbit(theirs.numpy().real)).all()


def test_exact_ldexp_keeps_its_gradients() -> None:
    x = mg.tensor([1.5, 2.0, 0.25], dtype=mg.float64, requires_grad=True)
    exponents = mg.tensor([3, -1, -1080])
    assert mg.gradcheck(lambda t: mg.ldexp(t, exponents), (x,))
    (grad,) = mg.autograd.grad((mg.ldexp(x, exponents) ** 2).sum(), x, create_graph=True)
    (second,) = mg.autograd.grad(grad.sum(), x)
    assert second.tolist() == [128.0, 0.5, 0.0]


@pytest.mark.gpu
@pytest.mark.parametrize("call", [
    lambda dev: mg.ldexp(mg.tensor([0.0, 1e-300, 1.5], dtype=mg.float64, device=dev),
                         mg.tensor([1100, 1100, -1075], device=dev)),
    lambda dev: mg.ldexp(mg.tensor([0, 3], device=dev), mg.tensor([255, -150], device=dev)),
    lambda dev: mg.cumulative_trapezoid(mg.tensor([126, 127, 100, -128], dtype=mg.int8, device=dev)),
    lambda dev: mg.trapezoid(mg.tensor([100, 100, 100], dtype=mg.int8, device=dev),
                             mg.tensor([-128, 0, 127], dtype=mg.int8, device=dev)),
    lambda dev: mg.where(mg.tensor([True, False], device=dev), mg.tensor([1, 2], dtype=mg.uint8, device=dev), -1),
    lambda dev: mg.tensor([1, 5, -3], dtype=mg.int8, device=dev).clamp(-1.5, 300),
], ids=["ldexp exact", "ldexp int", "cumulative_trapezoid", "trapezoid", "where", "clamp"])
def test_integer_fixes_on_the_gpu(call: Callable) -> None:
    on_gpu, on_cpu = call("cuda"), call("cpu")
    assert on_gpu.dtype == on_cpu.dtype
    np.testing.assert_array_equal(on_gpu.cpu().numpy(), on_cpu.numpy())


# a complex value written into a bool tensor converts as PyTorch's (True where it is not 0); minigrad refused
# one with an imaginary part ("cannot be converted to type bool"), as it rightly does for the other real dtypes
@pytest.mark.parametrize("call", [
    lambda lib: lib.tensor([True, False]).masked_fill(lib.tensor([True, False]), 2 + 1j),
    lambda lib: lib.tensor([False, False]).masked_fill_(lib.tensor([False, True]), 1j),
    lambda lib: lib.tensor([False, True]).masked_fill(lib.tensor([True, True]), lib.tensor(0j)),
    lambda lib: lib.tensor([False, True]).masked_fill(lib.tensor([True, False]), lib.tensor(3j)),
    lambda lib: (lambda x: (x.__setitem__(0, 1j), x)[1])(lib.tensor([False, False])),
    lambda lib: (lambda x: (x.__setitem__(0, lib.tensor(1j)), x)[1])(lib.tensor([False, False])),
    lambda lib: (lambda x: (x.__setitem__(slice(0, 1), lib.tensor([1j])), x)[1])(lib.tensor([False, False])),
    lambda lib: lib.tensor([1, 0]).masked_fill(lib.tensor([True, False]), 2 + 1j),    # int64: still refused
    lambda lib: lib.tensor([1.0, 0.0]).masked_fill(lib.tensor([True, False]), 2 + 0j),  # no imaginary part: 2.0
], ids=lambda f: "")
def test_complex_values_into_bool_tensors_as_torch(call: Callable, torch: Any) -> None:
    _same_as_torch(call, torch)


# copy_ of a complex Python number: PyTorch copies its real part (True for a nonzero one into bools); minigrad
# raised "expected a Tensor or an array to copy from, got complex"
@pytest.mark.parametrize("dtype", ["int32", "uint8", "bool", "float32", "float16", "complex64"])
@pytest.mark.parametrize("value", [2.5 + 1j, 1j, 0j])
def test_copy_of_a_complex_number_as_torch(dtype: str, value: complex, torch: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # NumPy's ComplexWarning, PyTorch's once-per-process UserWarning
        _same_as_torch(lambda lib: _t(lib, [1, 0], dtype).copy_(value), torch)


# a Python number written by scatter (src or value=) is converted into x's dtype as PyTorch converts it;
# minigrad wrapped it (300 into int8 was 44, 255.9 into uint8 255, 1e39 into float32 inf)
@pytest.mark.parametrize("dtype, number", [("int8", 300), ("int8", -129), ("uint8", 256), ("uint8", 255.9),
                                           ("uint8", -0.5), ("int16", 2**31), ("int32", 2**40), ("float32", 1e39),
                                           ("int8", 2 + 0j), ("int8", 2 + 1j), ("uint8", -1), ("int8", 2.5)])
@pytest.mark.parametrize("form", ["src", "value", "in place", "reduce"])
def test_scatter_of_a_number_the_dtype_cannot_hold(dtype: str, number: Any, form: str, torch: Any) -> None:
    def call(lib: Any) -> Any:
        x, index = _t(lib, [1, 2, 3], dtype), lib.tensor([1])
        if form == "src":
            return x.scatter(0, index, number)
        if form == "value":
            return lib.scatter(x, 0, index, value=number)
        if form == "in place":
            return x.scatter_(0, index, number)
        return x.scatter(0, index, number, reduce="add")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the deprecated reduce=
        _same_as_torch(call, torch)


# integers past int64 that wrapped silently: mg.tensor([2**63, 1], dtype=mg.int64) (NumPy reads the list as
# float64, and 2.0**63 is not above int64's max as a float) and where(mask, bool_tensor, 2**63) (an int64 result)
@pytest.mark.parametrize("call", [
    lambda lib: lib.tensor([2**63, 1], dtype=lib.int64),
    lambda lib: lib.tensor([[2**63], [1.5]], dtype=lib.int32),
    lambda lib: lib.tensor([2.0**63], dtype=lib.int64),          # a float: cast as PyTorch casts it
    lambda lib: lib.tensor([2**63 - 1, 1], dtype=lib.int64),
    lambda lib: lib.where(lib.tensor([True, False]), lib.tensor([True, False]), 2**63),
    lambda lib: lib.where(lib.tensor([True, False]), 2**63 - 1, lib.tensor([True, False])),
], ids=lambda f: "")
def test_integers_past_int64_raise_as_torch(call: Callable, torch: Any) -> None:
    _same_as_torch(call, torch)


# add/sub's alpha is converted into the (integer) result's dtype as PyTorch converts it: alpha=300 for int8
# raises; minigrad computed alpha * b in int8, wrapping 300 to 44 (alpha=2**40 added nothing)
@pytest.mark.parametrize("dtype, alpha", [("int8", 300), ("int8", -129), ("uint8", 256), ("int32", 2**40),
                                          ("int8", 127), ("uint8", -1), ("int64", 2**63 - 1)])
@pytest.mark.parametrize("form", ["add", "sub", "add_", "sub_", "add a number", "add an int16 tensor"])
def test_integer_alpha_the_result_cannot_hold(dtype: str, alpha: int, form: str, torch: Any) -> None:
    def call(lib: Any) -> Any:
        x = _t(lib, [1, 2], dtype)
        if form in ("add", "sub"):
            return getattr(lib, form)(x, x, alpha=alpha)
        if form in ("add_", "sub_"):
            return getattr(x, form)(_t(lib, [1, 1], dtype), alpha=alpha)
        if form == "add a number":
            return lib.add(x, 1, alpha=alpha)
        return lib.add(x, _t(lib, [1, 1], "int16"), alpha=alpha)
    _same_as_torch(call, torch)


# index_add's alpha is converted into an integer x's dtype as PyTorch converts it: 300 for int8 and NaN raise
# (minigrad wrapped 300 to 44), and a float is truncated (minigrad refused 2.5 with a TypeError)
@pytest.mark.parametrize("dtype, alpha", [("int8", 300), ("uint8", 2**40), ("int16", float("nan")), ("int32", 2.5),
                                          ("int64", 0.5), ("uint8", -1), ("int8", -128), ("int16", 255.9)])
@pytest.mark.parametrize("in_place", [False, True])
def test_index_add_integer_alpha_as_torch(dtype: str, alpha: Any, in_place: bool, torch: Any) -> None:
    def call(lib: Any) -> Any:
        x = _t(lib, [[1, 2], [3, 4]], dtype)
        return getattr(x, "index_add_" if in_place else "index_add")(0, lib.tensor([0]), x[:1].clone(), alpha=alpha)
    _same_as_torch(call, torch)


# isin with a Python int the integer tensor's dtype cannot hold: PyTorch converts it into that dtype first
# (256 is 0 in int8), as its comparisons do; minigrad compared exactly. A Python bool raises PyTorch's
# RuntimeError (minigrad's TypeError named a missing Tensor)
@pytest.mark.parametrize("dtype, number", [("int8", 256), ("int8", -256), ("int8", 128), ("uint8", -256),
                                           ("uint8", -1), ("int16", 2**63), ("int32", -(2**63)), ("int8", 3),
                                           ("int8", True), ("float32", 2**63)])
@pytest.mark.parametrize("side", ["test_elements", "elements"])
def test_isin_with_a_python_int_as_torch(dtype: str, number: Any, side: str, torch: Any) -> None:
    def call(lib: Any) -> Any:
        x = _t(lib, [3, 0, 255 if dtype == "uint8" else -1], dtype)
        return lib.isin(x, number) if side == "test_elements" else lib.isin(number, x)
    _same_as_torch(call, torch)


# a complex clamp bound with no imaginary part is its real part for a float tensor, as PyTorch's (2+1j raises its
# RuntimeError); minigrad refused any complex bound. Integer and bool tensors refuse them, as PyTorch's
@pytest.mark.parametrize("dtype", ["float32", "float16", "float64", "int8", "bool"])
@pytest.mark.parametrize("bound", [2 + 0j, 0j, 2 + 1j])
@pytest.mark.parametrize("side", ["min", "max", "in place"])
def test_clamp_with_a_complex_bound_as_torch(dtype: str, bound: complex, side: str, torch: Any) -> None:
    def call(lib: Any) -> Any:
        x = _t(lib, [1, 5], dtype)
        return x.clamp(min=bound) if side == "min" else x.clamp(max=bound) if side == "max" else x.clamp_(bound)
    _same_as_torch(call, torch)


# nan_to_num's replacements may be Python bools, read as 0.0 and 1.0 as PyTorch reads them; minigrad raised
# "nan must be a number, got bool"
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "bool"])
def test_nan_to_num_with_bool_replacements_as_torch(dtype: str, torch: Any) -> None:
    values = [float("nan"), float("inf"), -float("inf"), 1.5] if dtype.startswith("float") else [1, 0, 1, 1]
    _same_as_torch(lambda lib: _t(lib, values, dtype).nan_to_num(nan=True, posinf=False, neginf=True), torch)
