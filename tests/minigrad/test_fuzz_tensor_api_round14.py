"""Round 14: tensor creation, conversion and Python protocols checked against PyTorch (differential fuzzing)."""

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _dtype(module, name):
    return getattr(module, name)


FILLS = [
    (float("nan"), "int64"), (1e10, "int32"), (-1, "uint8"), (-255, "uint8"), (-256, "uint8"), (-1.0, "uint8"),
    (255.9, "uint8"), (256.0, "uint8"), (2.5, "bool"), (float("nan"), "bool"), (1 + 1j, "bool"),
    (float("inf"), "float16"), (1e300, "float32"), (1 + 1j, "float32"), (1 + 0j, "int64"), (2 ** 63, "int64"),
    (True, "int8"), (128, "int8"), (-128.5, "int8"), (-129, "int8"), (np.float64("nan"), "int32"),
    (np.int64(300), "uint8"), (-1, "uint64"), (2 ** 32 - 1, "int32"), (float("-inf"), "int16"), (3.9, "int64"),
]


@pytest.mark.parametrize(("value", "dtype"), FILLS, ids=[f"{v!r}-{d}" for v, d in FILLS])
def test_full_checks_the_fill_value_fits_the_dtype_as_torch(value, dtype):
    """full/full_like/new_full refuse a value the dtype cannot hold (NumPy filled int64's minimum for NaN)."""
    try:
        expected = torch.full((2,), value, dtype=_dtype(torch, dtype)).numpy()
    except RuntimeError:
        expected = None
    like = mg.zeros(3, dtype=_dtype(mg, dtype))
    calls = [lambda: mg.full((2,), value, dtype=_dtype(mg, dtype)), lambda: like.new_full((2,), value),
             lambda: mg.full_like(mg.zeros(2), value, dtype=_dtype(mg, dtype))]
    for call in calls:
        if expected is None:
            with pytest.raises(RuntimeError, match="cannot be converted to type"):
                call()
        else:
            got = call()
            assert str(got.dtype) == dtype
            np.testing.assert_array_equal(got.numpy(), expected)


@pytest.mark.filterwarnings("ignore:Creating a tensor from a list of numpy.ndarrays")
def test_a_tensor_inside_a_list_is_a_number_as_torch():
    """mg.tensor([tensor([1.]), tensor([2.])]) had NumPy's stacked shape (2, 1); torch reads each as a number."""
    cases = [
        lambda m: m.tensor([m.tensor([1.0]), m.tensor([2.0])]),
        lambda m: m.tensor([[m.tensor(1.0)], [m.tensor(2)]]),
        lambda m: m.tensor((m.tensor([[3]]),)),
        lambda m: m.tensor([m.tensor(1.0), m.tensor(2.0, dtype=m.float64)]),
        lambda m: m.tensor([m.tensor(1, dtype=m.int32), m.tensor(2, dtype=m.int32)]),
        lambda m: m.tensor([m.tensor(True), 2]),
        lambda m: m.as_tensor([m.tensor([1.5]), m.tensor([2.0])]),
        lambda m: m.tensor([np.array([1.0]), np.array([2.0])]),   # arrays stay sequences, as in torch
    ]
    for case in cases:
        ours, theirs = case(mg), case(torch)
        assert ours.shape == tuple(theirs.shape)
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    with pytest.raises(ValueError, match="only one element tensors"):
        mg.tensor([mg.tensor([1.0, 2.0])])


@pytest.mark.parametrize(("start", "end", "steps"), [(0, 1j, 3), (1 + 2j, -3 - 1j, 5), (0.1 + 0.3j, 0.7 - 0.2j, 7),
                                                     (2j, 2j, 1), (1.5, -2j, 0), (-4.25 + 1j, 3, 10)])
def test_linspace_between_complex_ends_as_torch(start, end, steps):
    """torch.linspace takes complex ends (complex64 by default); ours refused them with a TypeError."""
    for dtype in (None, "complex128"):
        ours = mg.linspace(start, end, steps, **({} if dtype is None else {"dtype": getattr(mg, dtype)}))
        theirs = torch.linspace(start, end, steps, **({} if dtype is None else {"dtype": getattr(torch, dtype)}))
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert mg.linspace(mg.tensor(1j), 2, 3).dtype == mg.complex64
    with pytest.raises(RuntimeError, match="complex"):
        mg.linspace(0, 1j, 3, dtype=mg.float32)


NUMBERS = [np.uint8(200), np.int64(300), np.float64(1e10), np.float64("nan"), np.float64(-np.inf), np.float64(1e300),
           300, -2, -256, 1e10, -1.5, 255.9, float("inf"), 2 ** 40, 3.9, -3.9, np.int64(-2)]


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32", "int64"])
def test_numbers_for_an_integer_dtype_are_checked_as_torch(dtype):
    """mg.tensor(np.int64(300), dtype=uint8) gave NumPy's wrapped 44 and NaN the minimum int; torch raises."""
    for value in NUMBERS:
        for make in (lambda m, v: m.tensor(v, dtype=getattr(m, dtype)),
                     lambda m, v: m.tensor([[v, 1]], dtype=getattr(m, dtype)),
                     lambda m, v: m.as_tensor([v], dtype=getattr(m, dtype))):
            try:
                expected = make(torch, value).numpy()
            except RuntimeError:
                with pytest.raises(RuntimeError, match="cannot be converted to type"):
                    make(mg, value)
                continue
            got = make(mg, value)
            assert str(got.dtype) == dtype
            np.testing.assert_array_equal(got.numpy(), expected)
    with pytest.raises(TypeError, match="complex"):   # NumPy dropped the imaginary part: 1
        mg.tensor([np.complex64(1 + 2j)], dtype=getattr(mg, dtype))


def test_byte_swapped_arrays_give_native_dtypes():
    """A big-endian array made a tensor of dtype '>f4' (not == mg.float32, printed dtype=>f4); torch refuses it.
    The copying constructors convert it to the native dtype; from_numpy (which shares memory) refuses, as torch."""
    swapped = np.arange(3, dtype=np.dtype(np.float32).newbyteorder("S"))
    for make in (mg.tensor, mg.as_tensor, mg.asarray, lambda a: mg.tensor(a, dtype=mg.float32)):
        t = make(swapped)
        assert t.dtype == mg.float32 and t.dtype.isnative
        assert repr(t) == "tensor([0., 1., 2.])"
    with pytest.raises(ValueError, match="byte order"):
        torch.from_numpy(swapped)
    with pytest.raises(ValueError, match="byte order"):
        mg.from_numpy(swapped)
    with pytest.raises(ValueError, match="copy"):
        mg.asarray(swapped, copy=False)
