"""How tensors print (minigrad/printing.py): ``repr`` string for string as PyTorch's.

Each case builds a tensor with ``lib = minigrad`` and ``lib = torch`` from the same values, and
``repr`` must be PyTorch's text, changed only where minigrad's documented wording differs: the dtype
is NumPy's name (``dtype=float64`` for ``dtype=torch.float64``), and ``grad_fn`` is our node's
``grad_fn.name()`` (PyTorch's, ``MulBackward0``). Where a wording differs its length differs, so
whether a suffix wraps to a new line may differ too: those texts are compared with the suffixes on
one line; every other text is compared exactly.
"""

from __future__ import annotations

import math
import re
import sys
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad import printing

nan, inf = math.nan, math.inf
RNG = np.random.default_rng(11)


@pytest.fixture(autouse=True)
def _default_printoptions() -> Any:
    """Every test starts and ends with the default options, here and in PyTorch."""
    yield
    mg.set_printoptions(profile="default")   # sci_mode back to None too, as PyTorch's
    mg.set_default_dtype(mg.float32)
    mg.set_default_device("cpu")
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_printoptions(profile="default")
        torch.set_default_dtype(torch.float32)


def _in_our_words(text: str, grad_fn: str | None = None) -> str:
    """PyTorch's repr with minigrad's dtype names and, given ``grad_fn``, minigrad's node name."""
    text = re.sub(r"dtype=torch\.(\w+)", r"dtype=\1", text)
    if grad_fn is not None:
        text = re.sub(r"grad_fn=<\w+>", f"grad_fn=<{grad_fn}>", text)
    return text


def _suffixes_on_one_line(text: str) -> str:
    return re.sub(r",\n +(?=(?:device|size|dtype|grad_fn|requires_grad)=)", ", ", text)


def assert_prints_as_torch(ours: Any, theirs: Any) -> None:
    """``repr(ours)`` is ``repr(theirs)`` in minigrad's words (exactly, where no word changed)."""
    node = getattr(ours, "_node", None)
    expected = _in_our_words(repr(theirs), None if node is None else ours.grad_fn.name())
    got = repr(ours)
    if expected == repr(theirs):
        assert got == expected, f"\nours:\n{got}\nPyTorch's:\n{expected}"
    else:
        assert _suffixes_on_one_line(got) == _suffixes_on_one_line(expected), \
            f"\nours:\n{got}\nPyTorch's (in our words):\n{expected}"
    assert str(ours) == got
    if ours.ndim:   # a 0-d tensor formats as its value (test_format_keeps_its_behaviour)
        assert f"{ours}" == got


def both(make: Callable, torch: Any) -> None:
    """``make(lib)`` with minigrad and with PyTorch prints the same."""
    assert_prints_as_torch(make(mg), make(torch))


def _array(*shape: int, scale: float = 1.0, dtype: Any = np.float32) -> np.ndarray:
    return (RNG.standard_normal(shape) * scale).astype(dtype)


# --- fixed cases: (lib) -> tensor, lib being minigrad or torch -----------------------------------------------

def _from(array: Any, requires_grad: bool = False) -> Callable:
    """``lib.tensor`` of the same values (drawn once, here) for both libraries."""
    return lambda t: t.tensor(array.copy() if isinstance(array, np.ndarray) else array, requires_grad=requires_grad)


CASES: dict[str, Callable] = {
    # floats: fixed with 4 digits, whole numbers as `1.`, scientific by PyTorch's rule
    "fixed": _from([3.5, -0.25, 1.0]),
    "whole": _from([1.0, 2.0, -30.0]),
    "scientific_small_and_large": _from([1e-5, 2e6]),
    "scientific_ratio_over_1000": _from([1.0, 1001.0]),
    "fixed_ratio_of_1000": _from([1.0, 1000.0]),
    "scientific_whole_over_1e8": _from([123456789.0]),
    "whole_1e8": _from([1e8]),
    "float32_1e-4_is_below_1e-4": _from([1e-4, 1.0]),
    "float64_1e-4": lambda t: t.tensor([1e-4, 1.0], dtype=t.float64),
    "zeros": _from([0.0, 0.0]),
    "negative_zero": _from([-0.0]),
    "zero_and_negative_zero_among_fractions": _from([0.0, -0.0, 0.5]),
    "nan_with_whole": _from([nan, 1.0]),
    "nan_with_fractions": _from([nan, -1.5, 2.25]),
    "inf_and_fractions": _from([inf, -inf, 1.5]),
    "inf_with_whole_is_not_padded": _from([1.0, -inf]),
    "only_nonfinite": _from([nan, inf, -inf]),
    "nan_with_tiny": _from([1e-20, nan]),
    "scientific_with_inf": _from([1e-10, inf, 3.0]),
    "float32_randn_4_digits": _from(_array(7)),
    "float64": _from(_array(5, dtype=np.float64)),
    "float16": _from(np.array([0.1, 2.5, -1000.0], np.float16)),
    "float16_whole": _from(np.array([1, 2048, -7], np.float16)),
    "float64_huge": _from(np.array([1e300, -1e-300])),
    # ints and bools: right-aligned to the widest
    "ints": _from([1, -200, 3]),
    "int32": lambda t: t.tensor([5, -7], dtype=t.int32),
    "uint8": lambda t: t.tensor([0, 255, 7], dtype=t.uint8),
    "int8": lambda t: t.tensor([-128, 5], dtype=t.int8),
    "int16_matrix": lambda t: t.tensor([[1, -20], [300, 4]], dtype=t.int16),
    "int64_extremes": _from([2**63 - 1, -2**63]),
    "bools": _from([True, False, True]),
    "bool_matrix": _from([[True], [False]]),
    # complex: the real and imaginary parts each with their own format
    "complex": _from([1 + 2j, -3.5 - 0j]),
    "complex_tiny_imaginary": _from([1e-5 + 1j, 2 - 3j]),
    "complex_nan_and_inf": _from([complex(nan, 1), complex(1, inf), complex(-inf, -0.0)]),
    "complex128_matrix": _from(np.array([[1 + 1j, 2.5 - 0.5j], [0j, -1e3j]])),
    "complex_whole_negative_imaginary": _from([1 - 2j, 3 + 4j]),
    "complex_scalar": _from(np.complex64(1.5 - 2j)),
    # 0-d
    "scalar": _from(3.5),
    "scalar_whole": _from(7.0),
    "scalar_nan": _from(nan),
    "scalar_negative_inf": _from(-inf),
    "scalar_int": _from(-12),
    "scalar_bool": _from(True),
    "scalar_float64": lambda t: t.tensor(1e-7, dtype=t.float64),
    "scalar_int32": lambda t: t.tensor(5, dtype=t.int32),
    # empty
    "empty": _from([]),
    "empty_0_by_3": lambda t: t.zeros(0, 3),
    "empty_2_0_4_int": lambda t: t.zeros(2, 0, 4, dtype=t.int64),
    "empty_int": lambda t: t.tensor([], dtype=t.int64),
    "empty_bool": lambda t: t.tensor([], dtype=t.bool),
    "empty_float64": lambda t: t.zeros(0, dtype=t.float64),
    # dims: one more space per level, a blank line per dim below the top
    "matrix": _from(_array(3, 4)),
    "three_dims": _from(_array(2, 3, 4)),
    "four_dims": _from(np.ones((2, 2, 2, 2))),
    "ones_1_1_1": _from(np.ones((1, 1, 1), np.float32)),
    "column": _from(_array(3, 1)),
    "transposed_view": lambda t: t.tensor(np.arange(12.0, dtype=np.float32).reshape(3, 4)).T,
    "strided_view": lambda t: t.tensor(np.arange(20, dtype=np.int64))[::3],
    # wrapping at 80 characters
    "long_row": _from(_array(40)),
    "long_row_float64_suffix": _from(_array(40, dtype=np.float64)),
    "wide_matrix": _from(_array(3, 12)),
    "long_int_row": _from(np.arange(100, dtype=np.int64) * 37),
    "long_bool_row": _from(np.arange(40) % 3 == 0),
    "long_complex_row": _from(_array(12) + 1j * _array(12)),
    # summaries past 1000 elements: 3 items at each end of every long dim
    "summary_1d": lambda t: t.arange(2000.0),
    "summary_1001": _from(_array(1001)),
    "summary_int_matrix": lambda t: t.arange(3000).reshape(30, 100),
    "summary_only_last_dim_cut": _from(_array(4, 300)),
    "summary_three_dims": _from(_array(11, 11, 11)),
    "summary_format_from_shown_items_only": _from(np.concatenate([np.ones(3), np.full(1000, 1e-9), [2.0, 3, 4]])),
    "summary_float64": _from(_array(2000, scale=1e6, dtype=np.float64)),
    # suffixes
    "requires_grad": lambda t: t.tensor([1.0, 2.0], requires_grad=True),
    "requires_grad_wraps": _from(_array(2, 8), requires_grad=True),
    "requires_grad_fits": _from(_array(2, 6), requires_grad=True),
    "requires_grad_float64": _from(_array(2, 2, dtype=np.float64), requires_grad=True),
    "grad_fn": lambda t: t.tensor([1.0, 2.0], requires_grad=True) * 2,
    "grad_fn_float64": lambda t: t.tensor([0.5, 2.0], dtype=t.float64, requires_grad=True).tanh(),
    "detached": lambda t: (t.tensor([1.0, 2.0], requires_grad=True) * 2).detach(),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_repr_as_torch(name: str, torch: Any) -> None:
    both(CASES[name], torch)


def test_examples_from_the_task_literally() -> None:
    assert repr(mg.tensor([3.5])) == "tensor([3.5000])"
    assert repr(mg.tensor([1e-5, 2e6])) == "tensor([1.0000e-05, 2.0000e+06])"
    assert repr(mg.tensor([1.0, 2.0], requires_grad=True) * 2) == "tensor([2., 4.], grad_fn=<MulBackward0>)"
    assert repr(mg.zeros(0, 3)) == "tensor([], size=(0, 3))"
    assert repr(mg.tensor([0.5, 2.0], dtype=mg.float64)) == "tensor([0.5000, 2.0000], dtype=float64)"
    # a suffix that would pass 80 characters starts a new line under the first bracket
    assert repr(mg.tensor([[0.25] * 8] * 2, dtype=mg.float64)) == (
        "tensor([[0.2500, 0.2500, 0.2500, 0.2500, 0.2500, 0.2500, 0.2500, 0.2500],\n"
        "        [0.2500, 0.2500, 0.2500, 0.2500, 0.2500, 0.2500, 0.2500, 0.2500]],\n"
        "       dtype=float64)")


# --- set_printoptions ------------------------------------------------------------------------------------------

OPTIONS: dict[str, list[dict]] = {
    "precision_2": [{"precision": 2}],
    "precision_0": [{"precision": 0}],
    "precision_10": [{"precision": 10}],
    "sci_mode_on": [{"sci_mode": True}],
    "sci_mode_off": [{"sci_mode": False}],
    "threshold_5": [{"threshold": 5}],
    "threshold_5_edgeitems_1": [{"threshold": 5, "edgeitems": 1}],
    "edgeitems_0_summarized": [{"threshold": 5, "edgeitems": 0}],
    "edgeitems_0_not_summarized": [{"edgeitems": 0}],
    "edgeitems_5": [{"threshold": 10, "edgeitems": 5}],
    "threshold_0": [{"threshold": 0}],
    "threshold_0_edgeitems_0": [{"threshold": 0, "edgeitems": 0}],
    "threshold_inf": [{"threshold": inf}],
    "linewidth_40": [{"linewidth": 40}],
    "linewidth_10": [{"linewidth": 10}],
    "linewidth_200": [{"linewidth": 200}],
    "profile_short": [{"profile": "short"}],
    "profile_full": [{"profile": "full"}],
    "profile_full_then_default": [{"profile": "full"}, {"profile": "default"}],
    "profile_short_with_precision": [{"profile": "short", "precision": 6}],
    "sci_mode_reset_by_next_call": [{"sci_mode": True}, {"precision": 3}],
}

PRINTED: dict[str, Callable] = {
    "fractions": _from(_array(3, 5, scale=10.0)),
    "tiny_and_large": _from([1e-5, 2e6, -3.0]),
    "whole": _from([1.0, 200.0, -3.0]),
    "huge_whole": _from([1e12, 1.0]),
    "ints": lambda t: t.arange(30).reshape(3, 10),
    "long_row": _from(_array(25)),
    "cube": _from(_array(6, 7, 8)),
    "summary": lambda t: t.arange(1200.0).reshape(12, 100) / 7,
    "complex": _from(_array(4) + 1j * _array(4, scale=1e-3)),
    "scalar": _from(2.0 / 3.0),
    "bools": _from(np.arange(12).reshape(3, 4) % 2 == 0),
    "requires_grad": _from(_array(3, 7), requires_grad=True),
    "empty": lambda t: t.zeros(2, 0),
}


@pytest.mark.parametrize("options", sorted(OPTIONS))
def test_set_printoptions_as_torch(options: str, torch: Any) -> None:
    for kwargs in OPTIONS[options]:
        mg.set_printoptions(**kwargs)
        torch.set_printoptions(**kwargs)
    assert printing.get_printoptions() == torch._tensor_str.get_printoptions()
    for name, make in PRINTED.items():
        assert_prints_as_torch(make(mg), make(torch)), name


def test_get_printoptions_round_trips_and_is_only_in_printing(torch: Any) -> None:
    assert hasattr(mg, "get_printoptions") == hasattr(torch, "get_printoptions")
    assert mg.set_printoptions is printing.set_printoptions
    mg.set_printoptions(precision=6, linewidth=100, sci_mode=False)
    saved = printing.get_printoptions()
    mg.set_printoptions(profile="short")
    mg.set_printoptions(**saved)
    assert printing.get_printoptions() == saved == {"precision": 6, "threshold": 1000, "edgeitems": 3,
                                                      "linewidth": 100, "sci_mode": False}


def test_set_printoptions_errors_change_nothing() -> None:
    before = printing.get_printoptions()
    with pytest.raises(ValueError, match="profile must be one of"):
        mg.set_printoptions(profile="tiny")
    for bad in ({"precision": -1}, {"precision": 1.5}, {"edgeitems": True}, {"linewidth": "80"},
                {"threshold": -1}, {"threshold": nan}, {"precision": 2, "threshold": "x"}):
        with pytest.raises(TypeError, match="set_printoptions"):
            mg.set_printoptions(**bad)
    with pytest.raises(TypeError, match="sci_mode"):
        mg.set_printoptions(sci_mode="yes")
    assert printing.get_printoptions() == before
    mg.set_printoptions(threshold=sys.maxsize)   # an int (the old way to say "never summarize") works too
    assert "..." not in repr(mg.arange(2000))


# --- defaults that change the suffixes --------------------------------------------------------------------------

def test_default_dtype_float64_as_torch(torch: Any) -> None:
    mg.set_default_dtype(mg.float64)
    torch.set_default_dtype(torch.float64)
    for make in (_from([1.5, 2.0]), lambda t: t.tensor([1.5, 2.0], dtype=t.float32), _from([1 + 1j]),
                 lambda t: t.tensor([1j], dtype=t.complex64), lambda t: t.zeros(0, 2), lambda t: t.zeros(0, 2).float(),
                 lambda t: t.tensor([], dtype=t.int64)):
        both(make, torch)


def test_parameter_as_torch(torch: Any) -> None:
    from minigrad import nn

    both(lambda t: (nn if t is mg else t.nn).Parameter(t.tensor([1.0, 2.5])), torch)
    both(lambda t: (nn if t is mg else t.nn).Parameter(t.zeros(2, 3, dtype=t.float64)), torch)
    both(lambda t: (nn if t is mg else t.nn).Parameter(t.tensor([1.0, 2.0]), requires_grad=False), torch)
    assert repr(nn.Parameter(mg.tensor([1.0, 2.5]))) == \
        "Parameter containing:\ntensor([1.0000, 2.5000], requires_grad=True)"


def test_format_keeps_its_behaviour() -> None:
    loss = mg.tensor(2.5)
    assert f"{loss:.2f}" == "2.50" and f"{loss}" == "2.5" and format(loss, "") == "2.5"
    x = mg.tensor([1.0, 2.0])
    assert f"{x}" == repr(x) == str(x) == "tensor([1., 2.])"
    with pytest.raises(TypeError):
        format(x, ".2f")


def test_print_writes_the_repr(capsys: Any) -> None:
    print(mg.tensor([[1, 2], [30, 4]]))
    assert capsys.readouterr().out == "tensor([[ 1,  2],\n        [30,  4]])\n"


# --- on a GPU (the real one, or the strict CuPy stand-in) ---------------------------------------------------------

@pytest.mark.gpu
def test_cuda_tensors_print_their_device_and_copy_only_what_is_shown() -> None:
    values = RNG.standard_normal((3, 4)).astype(np.float32)
    on_cpu, on_gpu = mg.tensor(values), mg.tensor(values, device="cuda")
    assert repr(on_gpu) == repr(on_cpu)[:-1] + ", device='cuda:0')"
    # PyTorch measures the suffix as "dtype=torch.float64": with the device named, this line passes 80 columns
    assert repr(mg.tensor(values[0], device="cuda", dtype=mg.float64)) == \
        repr(mg.tensor(values[0], dtype=mg.float64)).replace(", dtype=", ", device='cuda:0',\n       dtype=")
    summary = mg.tensor(np.arange(5000.0, dtype=np.float32), device="cuda", requires_grad=True)
    assert repr(summary) == ("tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 4.9970e+03, 4.9980e+03,\n"
                             "        4.9990e+03], device='cuda:0', requires_grad=True)")
    assert repr(mg.tensor([], device="cuda", dtype=mg.int32)) == "tensor([], device='cuda:0', dtype=int32)"
    # the default device is not named, as PyTorch's; a tensor elsewhere is
    mg.set_default_device("cuda")
    assert repr(mg.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(mg.tensor([1.0, 2.0], device="cpu")) == "tensor([1., 2.], device='cpu')"
    if mg.cuda.device_count() > 1:   # a GPU other than the current one is named
        assert repr(mg.tensor([1.0], device="cuda:1")) == "tensor([1.], device='cuda:1')"


@pytest.mark.gpu
def test_printing_a_large_gpu_tensor_copies_only_its_edges_to_the_host() -> None:
    big = mg.zeros(300, 300, device="cuda") + 0.5
    if not mg.cuda.is_available():   # the stand-in counts copies; a shown summary needs one
        from tests.support import strict_cupy  # noqa: PLC0415

        copied = []
        original = printing.backend.to_numpy

        def to_numpy(array: Any) -> np.ndarray:
            copied.append(array.shape)
            return original(array)

        strict_cupy.reset_copies()
        printing.backend.to_numpy, restore = to_numpy, original
        try:
            text = repr(big)
        finally:
            printing.backend.to_numpy = restore
        assert copied == [(6, 6)] and strict_cupy.copies["to_host"] == 1
    else:
        text = repr(big)
    assert text.startswith("tensor([[0.5000, 0.5000, 0.5000,  ..., 0.5000, 0.5000, 0.5000],")


# --- drawn values, shapes, dtypes and options (Hypothesis) ---------------------------------------------------------

DTYPES = ["float32", "float64", "float16", "int64", "int32", "int8", "uint8", "bool", "complex64", "complex128"]
SPECIAL = [0.0, -0.0, nan, inf, -inf]


@st.composite
def drawn_arrays(draw: Callable) -> np.ndarray:
    """An array of 0 to 4 dims (sides 0 to 6, or one long dim), of a drawn dtype and magnitude, with whole
    numbers, zeros, nan and inf mixed in at times."""
    if draw(st.booleans()):
        shape = tuple(draw(st.lists(st.integers(0, 6), min_size=0, max_size=4)))
    else:
        shape = (draw(st.integers(1, 3)), draw(st.integers(20, 1200)))
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = 10.0 ** draw(st.integers(-12, 12))
    values = np.asarray(rng.standard_normal(shape) * scale)   # 0-d stays an array
    if draw(st.booleans()):
        values = np.asarray(np.round(values))
    if dtype.kind == "c":
        values = np.asarray(values + 1j * rng.standard_normal(shape) * 10.0 ** draw(st.integers(-6, 6)))
    if dtype.kind in "fc" and draw(st.booleans()) and values.size:
        where = rng.random(shape) < 0.2
        values[where] = rng.choice(SPECIAL, size=int(where.sum()))
    if dtype.kind == "b":
        return np.asarray(values > 0)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return np.asarray(np.clip(np.nan_to_num(values), info.min, info.max)).astype(dtype)
    with np.errstate(over="ignore"):
        return np.asarray(values.astype(dtype))


DRAWN = settings(max_examples=150, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@DRAWN
@given(array=drawn_arrays(), precision=st.sampled_from([4, 4, 0, 2, 7]), linewidth=st.sampled_from([80, 80, 30, 120]),
       threshold=st.sampled_from([1000, 1000, 20]), edgeitems=st.sampled_from([3, 3, 1, 0]),
       sci_mode=st.sampled_from([None, None, True, False]), requires_grad=st.booleans())
def test_drawn_tensors_print_as_torch(torch: Any, array: np.ndarray, precision: int, linewidth: int, threshold: int,
                                      edgeitems: int, sci_mode: bool | None, requires_grad: bool) -> None:
    options = {"precision": precision, "linewidth": linewidth, "threshold": threshold, "edgeitems": edgeitems,
               "sci_mode": sci_mode}
    mg.set_printoptions(**options)
    torch.set_printoptions(**options)
    requires_grad = requires_grad and array.dtype.kind in "fc"
    ours = mg.tensor(array.copy(), requires_grad=requires_grad)
    theirs = torch.from_numpy(array.copy()).requires_grad_(requires_grad)
    assert_prints_as_torch(ours, theirs)


def test_the_dtype_suffix_wraps_where_pytorchs_does(torch: Any) -> None:
    """PyTorch measures ``dtype=torch.float64``: a line that fits with ``dtype=float64`` but not with PyTorch's
    spelling breaks before the suffix, in both."""
    for n in range(1, 12):
        for requires_grad in (False, True):
            values = np.linspace(-1.5, 2.25, n)
            ours = repr(mg.tensor(values, requires_grad=requires_grad))
            theirs = repr(torch.tensor(values, requires_grad=requires_grad))
            assert ours == theirs.replace("torch.", "")
