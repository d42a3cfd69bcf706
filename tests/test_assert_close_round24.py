"""Round 24: ``mg.testing.assert_close`` passes and fails exactly where ``torch.testing.assert_close`` does,
with PyTorch's error class and message; ``mg.testing.make_tensor`` makes what PyTorch's makes.

Each case builds the same inputs with both libraries (``L`` is ``torch`` or ``mg``) and compares the outcome:
passing, or the exception class and its message (PyTorch's ``torch.Size``/``torch.`` spellings read as ours).
"""
import collections
import math

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _parameter(lib):
    return torch.nn.Parameter if lib is torch else mg.nn.Parameter


def _outcome(lib, actual, expected, kwargs):
    try:
        lib.testing.assert_close(actual, expected, **kwargs)
    except Exception as error:   # noqa: BLE001 - the class is what is compared
        text = str(error).replace("torch.Size", "mg.Size").replace("torch.", "").replace("nn.parameter.", "")
        return type(error).__name__, text.replace("minigrad.tensor.", "").replace("nn.module.", "")
    return "passes", ""


_CASES = {
    # silent passes before round 24: two NumPy arrays of different dtypes
    "numpy_dtypes_differ": lambda L: (np.ones(2, np.float32), np.ones(2), {}),
    "numpy_bool_vs_uint8": lambda L: (np.zeros(2, bool), np.zeros(2, np.uint8), {}),
    # failures where PyTorch passes: the loosest tolerance of the two dtypes, compared in the promoted dtype
    "float16_vs_float32_unchecked": lambda L: (L.tensor([1.0005], dtype=L.float16), L.tensor([1.0]),
                                               {"check_dtype": False}),
    "float16_vs_complex128_unchecked": lambda L: (L.tensor([-1.0556640625], dtype=L.float16),
                                                  L.tensor([-1.056220703125 + 0j], dtype=L.complex128),
                                                  {"check_dtype": False}),
    "int_vs_float32_unchecked": lambda L: (L.tensor([1]), L.tensor([1.000001]), {"check_dtype": False}),
    "bool_vs_int_unchecked": lambda L: (L.tensor([True, False]), L.tensor([1, 0]), {"check_dtype": False}),
    # float16's allowed error is rounded to float16 from float32 tolerances (not from float16-rounded ones)
    "float16_tolerance_boundary": lambda L: (L.tensor([-0.96728515625, 1.3779296875], dtype=L.float16),
                                             L.tensor([-0.96630859375, 1.376953125], dtype=L.float16), {}),
    # integers and bools with given tolerances (were compared exactly)
    "int_within_rtol": lambda L: (L.tensor([5]), L.tensor([3]), {"rtol": 0.5, "atol": 0}),
    "int_within_atol": lambda L: (L.tensor([3, 4], dtype=L.int8), L.tensor([3, 3], dtype=L.int8),
                                  {"rtol": 0, "atol": 1}),
    "int_beyond_atol_no_wraparound": lambda L: (L.tensor([100], dtype=L.int8), L.tensor([-100], dtype=L.int8),
                                                {"rtol": 0, "atol": 60}),
    "bool_within_atol": lambda L: (L.tensor([True]), L.tensor([False]), {"rtol": 0, "atol": 1}),
    # PyTorch's messages
    "tensor_message": lambda L: (L.tensor([1.0, 4.0, 5.0]), L.tensor([1.0, 2.0, 3.0]), {}),
    "int_message_equal": lambda L: (L.tensor([1, 3]), L.tensor([0, 1]), {}),
    "nan_relative_message": lambda L: (L.tensor([0.0, float("nan")]), L.tensor([0.0, 1.0]), {}),
    "zero_d_tensor_message": lambda L: (L.tensor(2.0), L.tensor(1.0), {}),
    "zero_d_nan": lambda L: (L.tensor(float("nan")), L.tensor(float("nan")), {}),
    "scalar_message": lambda L: (1e-9, 1e-10, {}),
    "int_scalar_message": lambda L: (3, 4, {}),
    "python_bools": lambda L: (True, False, {}),
    "numbers_types_differ": lambda L: (1, 1.0, {}),
    "shape_message": lambda L: (L.ones(2), L.ones(3, dtype=L.float64), {}),
    "dtype_message": lambda L: (L.ones(2), L.ones(2, dtype=L.float64), {}),
    "stride_message": lambda L: (L.ones(2, 3).t(), L.ones(3, 2), {"check_stride": True}),
    "item_path": lambda L: ({"a": [1.0, (L.ones(2), L.zeros(2))]}, {"a": [1.0, (L.ones(2), L.ones(2))]}, {}),
    "callable_msg": lambda L: ([L.ones(2)], [L.zeros(2)], {"msg": lambda text: f"Header\n\n{text}\n\nFooter"}),
    "str_msg": lambda L: (L.ones(2), L.zeros(2), {"msg": "Argh"}),
    "length_ignores_msg": lambda L: ([L.ones(2)], [L.ones(2), 1], {"msg": "Argh"}),
    "keys_message": lambda L: ({"a": 1, "b": 2}, {"a": 1, "c": 2}, {}),
    "none_mismatch": lambda L: (None, L.ones(1), {}),
    "rtol_alone": lambda L: ([L.ones(1)], [L.ones(1)], {"rtol": 1e-3}),
    "rtol_alone_with_bools": lambda L: (True, True, {"rtol": 1e-3}),
    # what is compared with what
    "tuple_vs_list": lambda L: ((L.ones(2), 1.0), [L.ones(2), 1.0], {}),
    "size_vs_tuple": lambda L: (L.ones(2, 3).shape, (2, 4), {}),
    "range_vs_list": lambda L: (range(3), [0, 1, 2], {}),
    "ordered_dict_vs_dict": lambda L: (collections.OrderedDict(b=L.ones(1), a=L.zeros(1)),
                                       {"a": L.zeros(1), "b": L.ones(1)}, {}),
    "numpy_scalar_vs_float": lambda L: (np.float32(0.1), 0.1, {}),
    "numpy_bool_vs_bool": lambda L: (np.bool_(True), True, {}),
    "tensor_vs_number": lambda L: (L.tensor(1.0), 1.0, {}),
    "strings": lambda L: ("a", "a", {}),
    "subclass_refused": lambda L: (_parameter(L)(L.ones(2)), L.ones(2), {"allow_subclasses": False}),
    "type_error_before_mismatch": lambda L: ([L.ones(2), L.ones(1)], [L.zeros(2), 1.0], {}),
    "inf_equal": lambda L: (L.tensor([math.inf]), L.tensor([math.inf]), {"rtol": 1.0, "atol": 1.0}),
    "complex_nan_equal": lambda L: (L.tensor([complex(math.nan, 0)]), L.tensor([complex(0, math.nan)]),
                                    {"equal_nan": True}),
}


@pytest.mark.parametrize("case", sorted(_CASES))
def test_assert_close_agrees_with_torch(case):
    ours = _outcome(mg, *_CASES[case](mg))
    theirs = _outcome(torch, *_CASES[case](torch))
    assert ours == theirs


def test_assert_close_message_lists_mismatches_and_their_index():
    with pytest.raises(AssertionError) as raised:
        mg.testing.assert_close({"x": mg.tensor([[1.0, 2.0], [3.0, 4.0]])}, {"x": mg.tensor([[1.0, 2.0], [3.0, 8.0]])})
    assert str(raised.value) == ("Tensor-likes are not close!\n\nMismatched elements: 1 / 4 (25.0%)\n"
                                 "Greatest absolute difference: 4.0 at index (1, 1) (up to 1e-05 allowed)\n"
                                 "Greatest relative difference: 0.5 at index (1, 1) (up to 1.3e-06 allowed)\n\n"
                                 "The failure occurred for item ['x']")


def test_negative_tolerance_is_refused():
    # (PyTorch's RuntimeError comes from its isclose, wrapped in an internal message)
    with pytest.raises(RuntimeError, match="rtol=-1.0"):
        mg.testing.assert_close(mg.ones(2), mg.ones(2) + 1, rtol=-1.0, atol=0.0)


def test_python_bool_against_number_is_refused():
    # (PyTorch fails here too, with an internal RuntimeError)
    with pytest.raises(RuntimeError, match="bool"):
        mg.testing.assert_close(True, 1, check_dtype=False)


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_make_tensor_zero_d_complex(dtype):
    x = mg.testing.make_tensor((), dtype=getattr(mg, dtype), device="cpu", exclude_zero=True)
    assert x.shape == () and str(x.dtype) == dtype
    assert -9 <= x.real.item() < 9 and -9 <= x.imag.item() < 9 and x.item() != 0


@pytest.mark.parametrize("dtype, low, high", [("float16", -1e9, 2.0), ("float16", None, math.inf),
                                              ("complex128", -math.inf, math.inf)])
def test_make_tensor_range_wider_than_the_dtype(dtype, low, high):
    x = mg.testing.make_tensor(50, dtype=getattr(mg, dtype), device="cpu", low=low, high=high)
    y = torch.testing.make_tensor(50, dtype=getattr(torch, dtype), device="cpu", low=low, high=high)
    assert str(y.dtype) == f"torch.{x.dtype}" and tuple(x.shape) == tuple(y.shape)
    values = np.concatenate([x.numpy().real, x.numpy().imag]) if dtype.startswith("complex") else x.numpy()
    assert np.isfinite(values).all()
    finfo = np.finfo(values.dtype)
    assert values.min() >= max(float(finfo.min), -9 if low is None else low)
    assert values.max() <= min(float(finfo.max), high)


@pytest.mark.gpu
def test_assert_close_and_make_tensor_on_the_gpu():
    on_gpu, on_host = mg.tensor([1.0, 2.0], device="cuda"), mg.tensor([1.0, 2.0])
    with pytest.raises(AssertionError, match="attribute 'device' do not match: cuda:0 != cpu"):
        mg.testing.assert_close(on_gpu, on_host)
    mg.testing.assert_close(on_gpu, on_host, check_device=False)
    with pytest.raises(AssertionError, match=r"Mismatched elements: 1 / 2 \(50.0%\)"):
        mg.testing.assert_close(on_gpu, mg.tensor([1.0, 3.0], device="cuda"))
    assert mg.testing.make_tensor((), dtype=mg.complex64, device="cuda").device.type == "cuda"
    assert mg.testing.make_tensor(3, dtype=mg.float16, device="cuda", low=-1e9, high=1).device.type == "cuda"
