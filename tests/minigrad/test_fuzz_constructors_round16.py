"""Round 16: constructors and ranges against PyTorch (values bit for bit, dtypes, errors)."""

import numpy
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _same(ours, theirs):
    """Both raised the same class, or equal dtype, shape and bits."""
    if isinstance(theirs, Exception):
        assert isinstance(ours, type(theirs)) or isinstance(ours, RuntimeError), (ours, theirs)
        return
    assert not isinstance(ours, Exception), (ours, theirs)
    a, b = ours.numpy(), theirs.numpy()
    assert str(a.dtype) == str(b.dtype) and a.shape == b.shape
    assert a.tobytes() == b.tobytes(), (a, b)


def _call(lib, name, args, dtype, **kw):
    try:
        return getattr(lib, name)(*args, dtype=getattr(lib, dtype), **kw)
    except Exception as error:   # noqa: BLE001 - compared with torch's
        return error


SPACES = [("linspace", (-4.0, 18, 10), "uint8"), ("linspace", (-4, 18, 1000), "uint8"),
          ("linspace", (300, 1, 3), "uint8"), ("linspace", (-1.39, 0.59, 1), "uint8"),
          ("linspace", (0, 1e39, 3), "float32"),
          ("linspace", (0.0, 1e19, 3), "int64"), ("linspace", (-1, 5, 1), "uint8"),
          ("logspace", (-4, 18, 10), "uint8"), ("logspace", (-0.4, -0.8, 100), "uint8"),
          ("logspace", (2.8, 0, 1), "uint8"), ("logspace", (-2.8, 0, 1), "uint8"), ("logspace", (2.8, 0, 0), "uint8"),
          ("logspace", (0, 70000, 3), "float16"), ("logspace", (2.4, -4.0, 10), "int64")]


@pytest.mark.parametrize(("name", "args", "dtype"), SPACES, ids=[f"{n}{a}-{d}" for n, a, d in SPACES])
def test_integer_and_narrow_ranges_convert_their_ends_as_torch(name, args, dtype):
    """The ends are converted into the dtype first, checked: -4.0 into uint8 raises, the int -4 wraps to 252."""
    _same(_call(mg, name, args, dtype), _call(torch, name, args, dtype))


LOGS = [((-0.4, 1.4, 3), "float32", 10.0), ((3.8, 0.0, 3), "float32", 10.0), ((2.6, -1.8, 5), "float32", 10.0),
        ((-1.0, -0.6, 10), "float32", 0.5), ((-2.0, 4.0, 10), "float64", 10.0), ((-2.2, 1.6, 33), "float64", 0.5),
        ((-2.2, -0.6, 1), "float64", 10.0), ((0.4, 2.8, 1000), "float64", 10.0), ((0.0, 2.4, 2), "float16", 10.0),
        ((1.4, -1.0, 10), "float16", 10.0), ((-0.6, 1.0, 3), "float16", 10.0)]


@pytest.mark.parametrize(("args", "dtype", "base"), LOGS, ids=[f"{a}-{d}-{b}" for a, d, b in LOGS])
def test_logspace_bits_as_torch(args, dtype, base):
    """The ends in dtype, the exponents from both ends in float64, C's pow (NumPy's float64 power is off by a bit)."""
    _same(_call(mg, "logspace", args, dtype, base=base), _call(torch, "logspace", args, dtype, base=base))


def test_logspace_of_many_steps_is_fast_enough_and_nan_for_a_negative_base():
    ours = mg.logspace(0, 1, 3, base=-2.0, dtype=mg.float64).numpy()
    theirs = torch.logspace(0, 1, 3, base=-2.0, dtype=torch.float64).numpy()
    numpy.testing.assert_array_equal(ours, theirs)
    assert mg.logspace(0, 1, 100_000).shape == (100_000,)


def test_bool_ends_are_numbers_as_torch():
    _same(mg.linspace(True, 5, 3), torch.linspace(True, 5, 3))
    _same(mg.logspace(True, 5, 3), torch.logspace(True, 5, 3))


BUFFERS = ["tensor(bytearray(b'ab'))", "tensor(memoryview(b'ab'))", "as_tensor(bytearray(b'ab'))",
           "tensor(memoryview(numpy.array([1.5, 2.0])))", "as_tensor(memoryview(numpy.array([1.5, 2.0])))",
           "tensor(bytearray(b'ab'), dtype=L.uint8)", "tensor(memoryview(numpy.ones((2, 2))))",
           "asarray(bytearray(b'abcd'))", "asarray(b'abcd', dtype=L.uint8)", "asarray(bytearray(b'ab'))",
           "asarray(memoryview(numpy.array([1.5, 2.0])))"]


@pytest.mark.parametrize("call", BUFFERS)
def test_buffers_as_torch(call):
    """tensor/as_tensor read a bytearray or memoryview as a sequence of Python numbers (int64, float32), asarray
    reads its bytes as the dtype (the default dtype when None)."""
    def build(lib):
        try:
            return eval("L." + call, {"L": lib, "numpy": numpy})   # noqa: S307 - our own literal calls
        except Exception as error:   # noqa: BLE001 - compared with torch's
            return error
    _same(build(mg), build(torch))


def test_asarray_of_a_bytearray_shares_its_memory_as_torch():
    raw = bytearray(8)
    x = mg.asarray(raw)
    x[1] = 2.0
    assert raw == bytearray(numpy.array([0.0, 2.0], dtype=numpy.float32).tobytes())
    raw[:4] = numpy.array([3.0], dtype=numpy.float32).tobytes()
    assert x.tolist() == [3.0, 2.0]


@pytest.mark.parametrize("dtype", ["int32", "int64", "int16", "uint8", "float32", "bool"])
@pytest.mark.parametrize("name", ["tril_indices", "triu_indices"])
def test_triangle_indices_take_index_dtypes_only_as_torch(name, dtype):
    _same(_call(mg, name, (3, 4, 1), dtype), _call(torch, name, (3, 4, 1), dtype))


def test_meshgrid_of_nothing_raises_as_torch():
    with pytest.raises(RuntimeError):
        torch.meshgrid()
    with pytest.raises(RuntimeError, match="meshgrid"):
        mg.meshgrid()


MIXED = [[2.5, -1], [[0.28, 3], [numpy.int16(3), -3]], [-1, 2.5, 256], [2.5, -1.0], [2.5, float("nan")],
         [True, -2, 0.5]]


@pytest.mark.parametrize("data", MIXED, ids=[repr(d) for d in MIXED])
def test_ints_among_floats_for_an_unsigned_dtype_wrap_as_torch(data):
    """PyTorch converts each number alone: the int -1 wraps to 255 even beside a float; a float -1.0 raises."""
    _same(_call(mg, "tensor", (data,), "uint8"), _call(torch, "tensor", (data,), "uint8"))


HALVES = [("linspace", (7, -5, 10), {}), ("linspace", (-2, -3, 100), {}), ("linspace", (5.677, -8.5475, 10), {}),
          ("linspace", (13.278, 11.84, 1000), {}), ("linspace", (-1.1727, -0.4642, 33), {}),
          ("logspace", (2.4, 0.2, 10), {}), ("logspace", (1.6, -0.4, 1000), {"base": 3.0})]


@pytest.mark.parametrize(("name", "args", "kw"), HALVES, ids=[f"{n}{a}" for n, a, _ in HALVES])
def test_float16_ranges_bit_for_bit_as_torch(name, args, kw):
    """linspace in c10::Half's arithmetic (each operation rounded to float16); logspace's float64 power reaches
    float16 through float32, as c10::Half is made."""
    _same(_call(mg, name, args, "float16", **kw), _call(torch, name, args, "float16", **kw))


ARANGES = [(-4.0, 6.0, 0.1, "float32"), (0.4, 84.0, 0.7, "float32"), (-1, 1, 0.2, "float32"),
           (0.1, 56.0, 0.01, "float32"), (7.5, 1000.0, 0.3, "float64"), (-1.4, 0.0, 1 / 3, "float64"),
           (0.1, 0.6000000000000001, 0.1, "float64"), (300.0, -11.2, -0.2, "float32"), (5.0, 77.0, 0.1, "float64"),
           (0.8, 4.2, 0.01, "float16"), (100.0, 37.5, -0.2, "float16"), (-2.8, 0.06, 0.01, "float16")]


@pytest.mark.parametrize(("start", "end", "step", "dtype"), ARANGES, ids=[str(a) for a in ARANGES])
def test_arange_bits_as_torch(start, end, step, dtype):
    """PyTorch's CPU kernel: vectors of 16 float16s / 8 float32s / 4 float64s, each from a fused start + step * i
    (the tail element by element: -2.8 + 0.01 * 280 is float16 -0.0)."""
    _same(_call(mg, "arange", (start, end, step), dtype), _call(torch, "arange", (start, end, step), dtype))


@pytest.mark.parametrize(("start", "end", "steps"), [(-9.732612847285758, -5.892262508755333, 1000),
                                                     (3.3, -7.1, 40000), (0.1, 1e6, 5000)])
def test_float64_linspace_bits_as_torch(start, end, steps):
    """Each value one exactly rounded fused multiply-add, as PyTorch's loop (long double was not enough)."""
    _same(_call(mg, "linspace", (start, end, steps), "float64"),
          _call(torch, "linspace", (start, end, steps), "float64"))
