"""Round 14: a number written into a tensor (fill_, masked_fill, index_fill, x[i] = v, full, new_full,
fill_diagonal_) is converted as PyTorch converts it: a value that does not fit the dtype (NaN or 300 into an
integer, 255.9 into uint8, 1e39 into float32 or float16) raises PyTorch's RuntimeError instead of NumPy's
silent minimum int, wrap-around or inf; -1 into uint8 still wraps to 255, as PyTorch's."""

import math

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")

NAN = math.nan


def _dtype(lib, name):
    return getattr(lib, name) if lib is torch else name


def _outcome(build, lib):
    """(values, dtype name) of ``build(lib)``, or the exception it raised."""
    try:
        out = build(lib)
    except Exception as error:  # noqa: BLE001 - the class is compared with torch's
        return error
    return np.asarray(out.tolist()), str(out.dtype).replace("torch.", "")


def _same_as_torch(build):
    expected, got = _outcome(build, torch), _outcome(build, mg)
    if isinstance(expected, Exception):
        assert isinstance(got, type(expected)), f"torch raised {expected!r}, minigrad gave {got!r}"
        assert "cannot be converted" in str(got)
        return
    assert not isinstance(got, Exception), f"torch gave {expected}, minigrad raised {got!r}"
    np.testing.assert_array_equal(got[0], expected[0])
    assert got[1] == expected[1]


def _x(lib, dtype):
    return lib.tensor([1, 2, 3], dtype=_dtype(lib, dtype))


def _mask(lib):
    return lib.tensor([True, False, True])


def _index(lib):
    return lib.tensor([0, 2])


def _setitem(key):
    def write(x, value, lib):
        x[key(lib) if callable(key) else key] = value
        return x
    return write


WRITES = {
    "fill_": lambda x, v, lib: x.fill_(v),
    "masked_fill": lambda x, v, lib: x.masked_fill(_mask(lib), v),
    "masked_fill_": lambda x, v, lib: x.masked_fill_(_mask(lib), v),
    "index_fill": lambda x, v, lib: x.index_fill(0, _index(lib), v),
    "index_fill_": lambda x, v, lib: x.index_fill_(0, _index(lib), v),
    "set_int": _setitem(1),
    "set_slice": _setitem(slice(1, None)),
    "set_index": _setitem(_index),
    "set_mask": _setitem(_mask),
    "new_full": lambda x, v, lib: x.new_full((2,), v),
    "fill_diagonal_": lambda x, v, lib: x.reshape(1, 3).fill_diagonal_(v),
}

CASES = [
    ("uint8", NAN), ("uint8", np.float64(NAN)), ("uint8", 300), ("uint8", np.int64(300)), ("uint8", 255.9),
    ("uint8", 256.0), ("uint8", -0.5), ("uint8", -1.0), ("uint8", -1), ("uint8", -255), ("uint8", -256),
    ("uint8", np.int64(-1)), ("uint8", 255), ("int8", 255.9), ("int8", -255), ("int32", NAN), ("int32", math.inf),
    ("int32", np.float64(NAN)), ("int32", 2**40), ("int32", 2.7), ("int64", np.float64(1e39)), ("int64", -2.7),
    ("float32", np.float64(1e39)), ("float32", 1e39), ("float32", math.inf), ("float32", NAN), ("float32", 2**40),
    ("float32", np.int64(-1)), ("float16", 65504.0), ("float64", 1e308), ("bool", NAN), ("bool", np.int64(300)),
    ("bool", -2.5), ("complex64", 1e39), ("complex64", complex(0, 1e39)), ("complex64", 1 + 2j),
]


@pytest.mark.parametrize("op", sorted(WRITES))
@pytest.mark.parametrize("dtype,value", CASES, ids=[f"{d}-{v!r}" for d, v in CASES])
def test_number_written_into_a_tensor_as_torch(op, dtype, value):
    _same_as_torch(lambda lib: WRITES[op](_x(lib, dtype), value, lib))


@pytest.mark.parametrize("value", [70000, 65520.0, -1e39, 1e39, 2**40, 65519.0, NAN])
@pytest.mark.parametrize("op", ["fill_", "masked_fill", "index_fill", "new_full", "set_int", "set_index"])
def test_float16_fills_refuse_overflow_but_setitem_casts_to_inf_as_torch(op, value):
    _same_as_torch(lambda lib: WRITES[op](_x(lib, "float16"), value, lib))


@pytest.mark.parametrize("dtype,value", [("float16", 70000.0), ("float16", 2**40), ("float32", 1e39),
                                         ("complex64", 1e39), ("uint8", -1), ("uint8", 255.9), ("bool", 2**63)])
def test_full_and_full_like_as_torch(dtype, value):
    _same_as_torch(lambda lib: lib.full((2,), value, dtype=_dtype(lib, dtype)))
    _same_as_torch(lambda lib: lib.full_like(_x(lib, dtype), value))


def test_the_error_names_the_op_value_and_dtype():
    with pytest.raises(RuntimeError, match=r"index_fill: value nan cannot be converted to type int64 without overflow"):
        mg.tensor([1, 2, 3]).index_fill(0, mg.tensor([0]), NAN)
    with pytest.raises(RuntimeError, match=r"setitem: value 300 cannot be converted to type uint8"):
        mg.tensor([1, 2, 3], dtype="uint8")[1:] = 300
    x = mg.tensor([1, 2, 3], dtype="int32")
    with pytest.raises(RuntimeError, match=r"fill_: value nan cannot be converted to type int32"):
        x.fill_(np.float64(NAN))
    assert x.tolist() == [1, 2, 3]   # nothing written


def test_zero_and_plain_fills_unchanged():
    for dtype in ("uint8", "int32", "bool", "float16", "float32", "complex64"):
        assert mg.tensor([1, 2, 3], dtype=dtype).zero_().tolist() == torch.tensor(
            [1, 2, 3], dtype=getattr(torch, dtype)).zero_().tolist()
    x = mg.zeros(3, requires_grad=True)
    y = x * 1
    y[1] = 2.5
    y.masked_fill_(mg.tensor([True, False, False]), 1.5)
    y.sum().backward()
    assert y.tolist() == [1.5, 2.5, 0.0] and x.grad.tolist() == [0.0, 0.0, 1.0]


# --- normal/bernoulli drawn with tensors that require grad: the result requires grad, zero gradients (torch) ---

def _draws(lib):
    mean, std = lib.zeros(2, 1, requires_grad=True), lib.ones(3, requires_grad=True)
    probs = lib.full((3,), 0.5, requires_grad=True)
    return {
        "normal(mean, std)": (lambda: lib.normal(mean, std), (mean, std)),
        "normal(mean, 2.0)": (lambda: lib.normal(mean, 2.0), (mean,)),
        "normal(0.0, std)": (lambda: lib.normal(0.0, std), (std,)),
        "bernoulli(probs)": (lambda: lib.bernoulli(probs), (probs,)),
        "probs.bernoulli(0.3)": (lambda: probs.bernoulli(0.3), (probs,)),
        "zeros.bernoulli_(probs)": (lambda: lib.zeros(3).bernoulli_(probs), (probs,)),
    }


@pytest.mark.parametrize("case", sorted(_draws(torch)))
def test_draws_from_tensors_that_require_grad_as_torch(case):
    results = []
    for lib in (torch, mg):
        draw, params = _draws(lib)[case]
        out = draw()
        try:
            out.sum().backward()
            grads = [p.grad.tolist() for p in params]
        except RuntimeError as error:   # probs.bernoulli(0.3): torch's derivative is not implemented
            grads = "not implemented" in str(error)
        results.append((out.requires_grad, tuple(out.shape), grads))
    assert results[1] == results[0]
    with mg.no_grad():
        draw, _ = _draws(mg)[case]
        assert not draw().requires_grad


@pytest.mark.parametrize("lib", ["torch", "mg"])
def test_draws_with_out_refuse_arguments_that_require_grad(lib):
    lib = torch if lib == "torch" else mg
    with pytest.raises(RuntimeError, match="out=... arguments don't support automatic differentiation"):
        lib.normal(lib.zeros(3, requires_grad=True), 1.0, out=lib.empty(3))


# --- scalar_tensor takes a bool and a complex, and checks the value against the dtype, as torch ---------------

SCALARS = [True, False, 1, 2.5, 1 + 2j, 1 + 0j, np.float64(1.5), np.int64(3), np.bool_(True), 2**63, NAN, 1e39,
           70000, -1, 300, 2.7]


@pytest.mark.parametrize("dtype", [None, "int64", "uint8", "bool", "float16", "float64", "complex64"])
@pytest.mark.parametrize("value", SCALARS, ids=[repr(v) for v in SCALARS])
def test_scalar_tensor_as_torch(value, dtype):
    _same_as_torch(lambda lib: lib.scalar_tensor(value, dtype=None if dtype is None else _dtype(lib, dtype)))


def test_scalar_tensor_refuses_what_is_not_a_number():
    for value in ("x", None, [1]):
        with pytest.raises(TypeError):
            torch.scalar_tensor(value)
        with pytest.raises(TypeError, match="scalar_tensor: s must be a number"):
            mg.scalar_tensor(value)


# --- creation gaps: a bool arange/linspace/logspace and an int64-overflowing arange bound are refused ----------

RANGES = {
    "arange(3, dtype=bool)": lambda lib: lib.arange(3, dtype=_dtype(lib, "bool")),
    "arange(0, dtype=bool)": lambda lib: lib.arange(0, dtype=_dtype(lib, "bool")),
    "linspace(0, 1, 3, dtype=bool)": lambda lib: lib.linspace(0, 1, 3, dtype=_dtype(lib, "bool")),
    "logspace(0, 1, 3, dtype=bool)": lambda lib: lib.logspace(0, 1, 3, dtype=_dtype(lib, "bool")),
    "arange(0, 2**63)": lambda lib: lib.arange(0, 2**63),
    "arange(0, 2**63, 2**62)": lambda lib: lib.arange(0, 2**63, 2**62),
    "arange(2**63 + 1, 0, -2**62)": lambda lib: lib.arange(2**63 + 1, 0, -2**62),
    "arange(-2**63, -2**63 + 3)": lambda lib: lib.arange(-2**63, -2**63 + 3),
    "arange(2**63 - 3, 2**63 - 1)": lambda lib: lib.arange(2**63 - 3, 2**63 - 1),
    "arange(3, dtype=uint8)": lambda lib: lib.arange(3, dtype=_dtype(lib, "uint8")),
    "linspace(0, 3, 4, dtype=int64)": lambda lib: lib.linspace(0, 3, 4, dtype=_dtype(lib, "int64")),
    "logspace(0, 3, 4, dtype=uint8)": lambda lib: lib.logspace(0, 3, 4, dtype=_dtype(lib, "uint8")),
}


@pytest.mark.parametrize("case", sorted(RANGES))
def test_ranges_as_torch(case):
    expected, got = _outcome(RANGES[case], torch), _outcome(RANGES[case], mg)
    if isinstance(expected, Exception):
        assert isinstance(got, type(expected)), f"torch raised {expected!r}, minigrad gave {got!r}"
    else:
        np.testing.assert_array_equal(got[0], expected[0])
        assert got[1] == expected[1]


def test_an_arange_bound_beyond_int64_is_refused_not_wrapped():
    with pytest.raises(RuntimeError, match="arange: value 18446744073709551616 cannot be converted to type int64"):
        mg.arange(0, 2**64, 2**62, dtype="float64")   # NumPy's int64 wrap gave negative values


# --- a 0-d tensor value of another dtype: masked_fill/index_fill check its item() as torch (fill_ casts) --------

TENSOR_VALUES = [(300, "int64"), (NAN, "float32"), (255.9, "float64"), (-1, "int64"), (2.5, "float32"),
                 (1e39, "float64"), (True, "bool"), (-1, "int8"), (70000.0, "float32")]


@pytest.mark.parametrize("op", ["masked_fill", "masked_fill_", "index_fill", "index_fill_", "fill_"])
@pytest.mark.parametrize("dtype", ["uint8", "int32", "float16", "float32", "bool"])
@pytest.mark.parametrize("value,value_dtype", TENSOR_VALUES, ids=[f"{v!r}-{d}" for v, d in TENSOR_VALUES])
def test_a_0d_tensor_value_as_torch(op, dtype, value, value_dtype):
    _same_as_torch(lambda lib: WRITES[op](_x(lib, dtype), lib.tensor(value, dtype=_dtype(lib, value_dtype)), lib))


def test_a_0d_tensor_value_keeps_its_gradient():
    x, value = mg.zeros(3), mg.tensor(2.0, dtype="float64", requires_grad=True)
    x.masked_fill(mg.tensor([True, False, True]), value).sum().backward()
    assert value.grad.item() == 2.0


@pytest.mark.gpu
def test_checked_fills_and_zero_gradient_draws_on_the_gpu():
    x = mg.tensor([1, 2, 3], dtype="uint8", device="cuda")
    with pytest.raises(RuntimeError, match="cannot be converted to type uint8"):
        x.fill_(300)
    x[0] = -1
    x.masked_fill_(mg.tensor([False, True, False], device="cuda"), 7)
    assert x.index_fill(0, mg.tensor([2], device="cuda"), 9).tolist() == [255, 7, 9]
    mean = mg.zeros(3, device="cuda", requires_grad=True)
    mg.normal(mean, 1.0).sum().backward()
    assert mean.grad.device == mean.device and mean.grad.tolist() == [0.0, 0.0, 0.0]
    assert mg.scalar_tensor(True, device="cuda").tolist() == 1.0


@pytest.mark.parametrize("lib", ["torch", "mg"])
def test_index_put_of_another_dtype_raises_a_runtime_error(lib):
    lib = torch if lib == "torch" else mg
    x = lib.tensor([1, 2, 3], dtype=lib.uint8)
    with pytest.raises(RuntimeError):   # minigrad's is a TypeError too
        x.index_put_((lib.tensor([0]),), lib.tensor(300))
    assert x.tolist() == [1, 2, 3]
