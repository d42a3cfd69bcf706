"""Round 14: dtype casts (``to``, ``type``, ``long()`` ...) fuzzed against PyTorch 2.13.

Values: zeros of both signs, halves (rounding toward zero), NaN, infinities, subnormals and values beyond the
target's range, between every pair of the dtypes both libraries have. The out-of-range float-to-int results are
x86's (C leaves them undefined); NumPy and PyTorch agree on them here, and the comparison says so.
"""
import warnings

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64",
          "complex64", "complex128"]
METHODS = {"bool": "bool", "uint8": "byte", "int8": "char", "int16": "short", "int32": "int", "int64": "long",
           "float16": "half", "float32": "float", "float64": "double", "complex64": "cfloat",
           "complex128": "cdouble"}
FLOATS = [0.0, -0.0, 1.5, -1.5, 2.5, -2.5, 127.0, 128.0, 255.0, 256.0, -1.0, -129.0, 300.0, 65504.0, 65520.0,
          7e4, 1e-8, 1e-40, 5e-324, 0.1, 3e9, -3e9, 1e19, -1e19, 1e40, float("nan"), float("inf"), float("-inf")]
INTS = [0, 1, -1, 127, 128, 255, 256, -128, -129, 32768, 65519, 65520, 2**31, -2**31 - 1, 2**24 + 1, 2**53 + 1,
        2**62 + 3, -2**63, 2**63 - 1]


def _mg_dtype(name):
    return mg.bool_ if name == "bool" else getattr(mg, name)


def _same(ours, theirs):
    """Same dtype, and the same values bit for bit (NaN matches NaN, -0.0 only -0.0)."""
    expected = theirs.numpy()
    got = ours.numpy()
    assert got.dtype == expected.dtype
    if expected.dtype.kind in "fc":
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(np.signbit(got.real), np.signbit(expected.real))
        np.testing.assert_array_equal(np.signbit(got.imag), np.signbit(expected.imag))
    else:
        np.testing.assert_array_equal(got, expected)


def _sources(name):
    """The same values in dtype ``name``, as a (minigrad, torch) pair."""
    values = torch.tensor(FLOATS, dtype=torch.float64)
    if name.startswith("complex"):
        values = torch.complex(values, torch.full_like(values, -0.5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = values.to(getattr(torch, name))
    return mg.tensor(theirs.numpy().copy()), theirs


@pytest.mark.parametrize("source", DTYPES)
def test_every_pair_of_dtypes_casts_as_torch_and_silently(source):
    ours, theirs = _sources(source)
    for target in DTYPES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # torch's complex-to-real UserWarning (once per process)
            expected = theirs.to(getattr(torch, target))
        with warnings.catch_warnings():
            # NumPy warned "invalid value encountered in cast" (NaN, inf, 1e19 to an int) and "overflow
            # encountered in cast" (1e40 to float32); PyTorch casts silently. Only the complex-to-real warning stays.
            warnings.simplefilter("error")
            warnings.filterwarnings("ignore", message="Casting complex values to real")
            _same(ours.to(_mg_dtype(target)), expected)
            _same(getattr(ours, METHODS[target])(), expected)
            _same(ours.type(_mg_dtype(target)), expected)


@pytest.mark.parametrize("source", ["uint8", "int8", "int16", "int32", "int64"])
def test_integer_sources_wrap_and_round_as_torch(source):
    theirs = torch.tensor(INTS, dtype=torch.int64).to(getattr(torch, source))
    ours = mg.tensor(theirs.numpy().copy())
    for target in DTYPES:
        with warnings.catch_warnings():
            warnings.simplefilter("error")   # int64 65520 to float16 is inf, with no warning
            _same(ours.to(_mg_dtype(target)), theirs.to(getattr(torch, target)))


def test_named_cases():
    x = mg.tensor([1.5, -1.5, 2.5, -2.5, -0.0])
    assert x.long().tolist() == [1, -1, 2, -2, 0]   # toward zero
    assert mg.tensor([-1, -2, 256]).byte().tolist() == [255, 254, 0]
    assert mg.tensor([float("nan"), 0.0, -0.0, float("-inf")]).bool().tolist() == [True, False, False, True]
    big = mg.tensor(np.array([1e40, -1e40, 70000.0]))
    assert big.half().tolist() == [float("inf"), float("-inf"), float("inf")]
    assert big.float().tolist()[:2] == [float("inf"), float("-inf")]
    assert mg.tensor(np.array([1e-40], dtype=np.float32)).double().item() == pytest.approx(1e-40, rel=1e-3)


def test_complex_to_real_drops_the_imaginary_part_with_a_warning():
    z = mg.tensor(np.array([1.7 + 2j, -0.5 - 3j], dtype=np.complex64))
    with pytest.warns(Warning, match="discards the imaginary part"):
        assert z.float().tolist() == pytest.approx([1.7, -0.5])
    with pytest.warns(Warning, match="discards the imaginary part"):
        assert z.long().tolist() == [1, 0]
    assert z.bool().tolist() == [True, True]


def test_gradients_through_casts():
    for dtype, tdtype in [(mg.float64, torch.float64), (mg.float16, torch.float16), (mg.complex128, torch.complex128)]:
        x = mg.tensor([1.5, -2.5], requires_grad=True)
        t = torch.tensor([1.5, -2.5], requires_grad=True)
        y, u = x.to(dtype), t.to(tdtype)
        assert y.requires_grad and u.requires_grad
        (y * y * 3).real.sum().backward() if dtype.kind == "c" else (y * y * 3).sum().backward()
        (u * u * 3).real.sum().backward() if tdtype.is_complex else (u * u * 3).sum().backward()
        assert x.grad.dtype == mg.float32
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-3)
    x = mg.tensor([1.5], requires_grad=True)
    for cast in ("long", "int", "bool", "byte"):
        y = getattr(x, cast)()
        assert not y.requires_grad and y.is_leaf and y.grad_fn is None
        with pytest.raises(RuntimeError):
            y.sum().backward() if cast != "bool" else y.any().backward()


def test_overflowing_half_cast_backward_is_silent_as_torch():
    x = mg.tensor([1e5], requires_grad=True)
    t = torch.tensor([1e5], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = x.half()
        (y.float() * 2).sum().backward()
    (t.half().float() * 2).sum().backward()
    assert y.tolist() == t.half().tolist() == [float("inf")]
    assert x.grad.tolist() == t.grad.tolist() == [2.0]


def test_to_arguments():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    assert x.to(mg.float32) is x and x.to() is x and x.to(None) is x
    copied = x.to(mg.float32, copy=True)
    assert copied is not x and not np.shares_memory(copied.data, x.data) and copied.grad_fn is not None
    assert x.to(mg.float32, False, True) is not x   # to(dtype, non_blocking, copy)
    assert x.to(mg.float64, non_blocking=True).dtype == mg.float64
    assert x.to("cpu", mg.float64, True, True).dtype == mg.float64
    other = mg.tensor(np.array([1], dtype=np.int8))
    assert x.to(other).dtype == mg.int8 and x.to(mg.tensor([0.0])) is x
    assert x.to(mg.tensor([0.0]), copy=True) is not x
    assert [x.to(kind).dtype for kind in (float, int, bool, complex)] == [mg.float64, mg.int64, mg.bool_,
                                                                         mg.complex128]
    y = x.to(mg.tensor(np.array([0.0])))
    (y * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    with pytest.raises(TypeError):
        x.to(mg.float64, copy=1)
    with pytest.raises(RuntimeError):   # torch: "Invalid device string: 'float64'"
        x.to("float64")


def test_type_spellings():
    x = mg.tensor([1.5, -2.5])
    assert x.type() == "float32"   # README: the dtype's name, not torch's 'torch.FloatTensor'
    for name, dtype in [("DoubleTensor", mg.float64), ("HalfTensor", mg.float16), ("LongTensor", mg.int64),
                        ("IntTensor", mg.int32), ("ShortTensor", mg.int16), ("CharTensor", mg.int8),
                        ("ByteTensor", mg.uint8), ("BoolTensor", mg.bool_), ("FloatTensor", mg.float32)]:
        assert x.type("torch." + name).dtype == dtype == x.type(getattr(mg, name)).dtype
    assert x.type(mg.float32) is x and x.type(dtype=mg.float64).dtype == mg.float64
    assert x.type(mg.float64, True).dtype == mg.float64
    with pytest.raises(TypeError):
        x.type(mg.float64, non_blocking=1)


def test_tensor_of_a_tensor_copies():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = mg.tensor(x)
    x.data[0] = 9.0
    assert y.tolist() == [1.0, 2.0] and not y.requires_grad
    assert mg.tensor(mg.tensor([1.7, -1.7]), dtype=mg.int64).tolist() == [1, -1]
    assert mg.tensor(mg.tensor([1.0], dtype=mg.float16)).dtype == mg.float16


def test_tensor_of_a_torch_tensor_or_a_buffer_copies():
    t = torch.tensor([1.0, 2.0])
    y = mg.tensor(t)
    t[0] = 9.0
    assert y.tolist() == [1.0, 2.0]
    raw = bytearray(np.array([1.0, 2.0]).tobytes())
    z = mg.tensor(np.frombuffer(raw, dtype=np.float64))
    raw[:8] = np.array([7.0]).tobytes()
    assert z.tolist() == [1.0, 2.0]


def test_cast_layout_is_torchs_preserve_format():
    # NumPy's order="K" laid a cast of an expanded tensor out as strides (1, 4), so view(-1) raised
    for shape, expanded in [((1, 3), (4, 3)), ((3, 1), (3, 4)), ((2, 1, 3), (2, 4, 3))]:
        t = torch.ones(shape).expand(expanded)
        x = mg.ones(*shape).expand(*expanded)
        for cast in ("double", "long", "half", "bool"):
            assert getattr(x, cast)().stride() == getattr(t, cast)().stride()
        assert x.double().view(-1).shape == (int(np.prod(expanded)),)
    t = torch.arange(24.0).reshape(2, 3, 4).permute(2, 0, 1)
    x = mg.arange(24.0).reshape(2, 3, 4).permute(2, 0, 1)
    y = x.long()
    assert y.stride() == t.long().stride() and y.tolist() == t.long().tolist()
    y.add_(1)   # the transposed result owns its memory: in place works, x is unchanged
    assert x.tolist() == t.tolist()
    s = torch.arange(24.0).reshape(4, 6)[:, ::2].t()
    z = mg.arange(24.0).reshape(4, 6)[:, ::2].t()
    assert z.double().stride() == s.double().stride()


def test_float_to_uint8_wraps_through_int64_as_torch():
    # c10's TypeCast.h casts a float to uint8 through int64; NumPy's direct cast gave 0 past 2**31
    values = [-1.2654214700e10, 3.5151007e9, 9.03470182e9, 2.0**40 + 7, -1.5, 255.9, 300.5, 2.0**63, float("nan")]
    for dtype, tdtype in [(np.float64, torch.float64), (np.float32, torch.float32), (np.complex128, torch.complex128)]:
        expected = torch.tensor(values, dtype=torch.float64).to(tdtype)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # complex to real
            assert mg.tensor(np.array(values, dtype=dtype)).byte().tolist() == expected.byte().tolist()
            assert mg.tensor(np.array(values, dtype=dtype)).to(mg.uint8).tolist() == expected.to(torch.uint8).tolist()
    assert mg.tensor(np.array([-1.2654214700e10])).byte().item() == 212   # -12654214700 % 256
