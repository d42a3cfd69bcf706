"""PyTorch's dtype habits against PyTorch: the default dtype, promotion, casting, finfo/iinfo, and the
Tensor attributes about dtype, device and memory (``is_floating_point``, ``stride``, ``f"{x:.3f}"`` …).

Every test that changes the default dtype goes through the ``default_dtype`` fixture, which sets
minigrad's and PyTorch's together and restores both afterwards (checked by the last test of the
file, and by ``_default_dtype_is_restored`` around every test here).
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, Iterator

import numpy as np
import pytest

import minigrad as mg
from minigrad.dtypes import torch_result_type

DTYPE_NAMES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64", "complex64",
               "complex128", "uint16", "uint32", "uint64"]


@pytest.fixture(autouse=True)
def _default_dtype_is_restored() -> Iterator[None]:
    """Every test here starts and ends with minigrad's default dtype float32."""
    assert mg.get_default_dtype() == mg.float32, "an earlier test left the default dtype changed"
    yield
    assert mg.get_default_dtype() == mg.float32, "this test left the default dtype changed"


@pytest.fixture
def default_dtype(request: pytest.FixtureRequest) -> Iterator[Callable[[Any, Any], None]]:
    """``set(mg_dtype, torch_dtype=None)`` sets the default dtype (PyTorch's too, when given) for this test only."""
    before = mg.get_default_dtype()
    torch_module: list = []

    def set_both(dtype: Any, torch_dtype: Any = None) -> None:
        if torch_dtype is not None:
            torch = request.getfixturevalue("torch")
            if not torch_module:
                torch_module.append((torch, torch.get_default_dtype()))
            torch.set_default_dtype(torch_dtype)
        mg.set_default_dtype(dtype)

    try:
        yield set_both
    finally:
        mg.set_default_dtype(before)
        for torch, torch_before in torch_module:
            torch.set_default_dtype(torch_before)


def _dt(lib: Any, name: str) -> Any:
    """The dtype called ``name`` in ``lib`` (minigrad: NumPy's dtype, which every minigrad function takes)."""
    return np.dtype(name) if lib is mg else getattr(lib, name)


def _name(dtype: Any) -> str:
    return str(dtype).replace("torch.", "")


def _outcome(fn: Callable[[], Any]) -> Any:
    """The value, or the exception class's name (PyTorch and minigrad should agree on both)."""
    try:
        return fn()
    except Exception as error:  # noqa: BLE001 - comparing which exception
        return type(error).__name__


# --- the default dtype --------------------------------------------------------------------------------------

def test_default_dtype_is_float32_and_names_numpys_dtype() -> None:
    assert mg.get_default_dtype() == mg.float32 and isinstance(mg.get_default_dtype(), np.dtype)
    assert mg.tensor([1.5]).dtype == mg.float32 and mg.tensor(1j).dtype == np.complex64


_FLOAT_MAKERS: dict[str, Callable[[Any], Any]] = {
    "tensor_scalar": lambda lib: lib.tensor(1.5),
    "tensor_list": lambda lib: lib.tensor([1.5, 2]),
    "tensor_nested": lambda lib: lib.tensor([[1, 2.5]]),
    "tensor_complex": lambda lib: lib.tensor([1j, 2]),
    "tensor_int": lambda lib: lib.tensor([1, 2]),
    "zeros": lambda lib: lib.zeros(2, 3),
    "ones": lambda lib: lib.ones(2),
    "empty": lambda lib: lib.empty(2),
    "full_float": lambda lib: lib.full((2,), 1.5),
    "full_int": lambda lib: lib.full((2,), 2),
    "full_bool": lambda lib: lib.full((2,), True),
    "randn": lambda lib: lib.randn(2, 2),
    "rand": lambda lib: lib.rand(3),
    "arange_float_step": lambda lib: lib.arange(0, 1, 0.25),
    "arange_float_end": lambda lib: lib.arange(2.5),
    "arange_int": lambda lib: lib.arange(3),
    "as_tensor_float": lambda lib: lib.as_tensor([0.5]),
    "randint": lambda lib: lib.randint(0, 3, (2,)),
}


@pytest.mark.parametrize("default", ["float32", "float64"])
@pytest.mark.parametrize("case", list(_FLOAT_MAKERS))
def test_constructors_follow_the_default_dtype_as_torch(torch: Any, default_dtype: Callable, default: str,
                                                       case: str) -> None:
    default_dtype(getattr(mg, default), getattr(torch, default))
    ours, theirs = _FLOAT_MAKERS[case](mg), _FLOAT_MAKERS[case](torch)
    assert str(ours.dtype) == _name(theirs.dtype) and ours.shape == tuple(theirs.shape)


def test_default_dtype_float64_keeps_arrays_and_explicit_dtypes(default_dtype: Callable) -> None:
    default_dtype(mg.float64)
    assert mg.get_default_dtype() == mg.float64
    assert mg.tensor(np.ones(2, np.float32)).dtype == mg.float32   # arrays keep their dtype
    assert mg.tensor(np.float32(1.5)).dtype == mg.float32
    assert mg.zeros(2, dtype=mg.float32).dtype == mg.float32
    assert mg.zeros_like(mg.ones(2, dtype=mg.float32)).dtype == mg.float32
    assert mg.tensor([1.5]).float().dtype == mg.float32   # .float() is float32, whatever the default
    assert mg.as_tensor(2.0, like=mg.ones(1, dtype=mg.float32)).dtype == mg.float32
    # the repr names a dtype when it is not the default, as PyTorch's
    assert "dtype" not in repr(mg.tensor([1.5])) and "dtype=float32" in repr(mg.tensor([1.5], dtype=mg.float32))


def test_set_default_dtype_accepts_spellings_and_float16(torch: Any, default_dtype: Callable) -> None:
    default_dtype("float64")
    assert mg.get_default_dtype() == mg.float64
    default_dtype(np.float32)
    assert mg.get_default_dtype() == mg.float32
    default_dtype(mg.float16, torch.float16)   # PyTorch 2.13 takes float16 as the default too
    assert mg.tensor([1.5]).dtype == mg.float16 == np.dtype(_name(torch.tensor([1.5]).dtype))
    assert mg.arange(0, 1, 0.5).dtype == mg.float16
    assert mg.tensor([1j]).dtype == np.complex64   # PyTorch's complex32 has no NumPy dtype


@pytest.mark.parametrize("name", ["int64", "int32", "bool", "complex64", "uint8"])
def test_set_default_dtype_refuses_non_float_dtypes_as_torch(torch: Any, name: str) -> None:
    with pytest.raises(TypeError):
        torch.set_default_dtype(getattr(torch, name))
    with pytest.raises(TypeError, match="only floating-point types"):
        mg.set_default_dtype(name)
    with pytest.raises(TypeError, match="set_default_dtype"):
        mg.set_default_dtype(object())
    assert mg.get_default_dtype() == mg.float32


# --- promotion and casting ------------------------------------------------------------------------------------

def test_promote_types_is_torchs_table(torch: Any) -> None:
    for a, b in itertools.product(DTYPE_NAMES, repeat=2):
        expected = _outcome(lambda a=a, b=b: _name(torch.promote_types(getattr(torch, a), getattr(torch, b))))
        got = _outcome(lambda a=a, b=b: str(mg.promote_types(a, b)))
        assert got == expected, f"promote_types({a}, {b})"
    assert mg.promote_types(mg.int64, mg.float16) == mg.float16   # NumPy says float64
    assert mg.promote_types(mg.int64, np.complex64) == np.complex64   # NumPy says complex128


def test_can_cast_is_torchs_table(torch: Any) -> None:
    for a, b in itertools.product(DTYPE_NAMES, repeat=2):
        expected = torch.can_cast(getattr(torch, a), getattr(torch, b))
        assert mg.can_cast(a, b) == expected, f"can_cast({a}, {b})"
    assert mg.can_cast(mg.float64, mg.float32) and not mg.can_cast(mg.float32, mg.int64)


_RESULT_OPERANDS: dict[str, Callable[[Any], Any]] = {
    "int32_vector": lambda lib: lib.tensor([1, 2], dtype=_dt(lib, "int32")),
    "uint8_vector": lambda lib: lib.tensor([1, 2], dtype=_dt(lib, "uint8")),
    "bool_vector": lambda lib: lib.tensor([True, False]),
    "float16_vector": lambda lib: lib.tensor([1.0], dtype=_dt(lib, "float16")),
    "float64_vector": lambda lib: lib.tensor([1.0], dtype=_dt(lib, "float64")),
    "complex64_vector": lambda lib: lib.tensor([1.0], dtype=_dt(lib, "complex64")),
    "int64_scalar_tensor": lambda lib: lib.tensor(3),
    "int8_scalar_tensor": lambda lib: lib.tensor(-1, dtype=_dt(lib, "int8")),
    "float64_scalar_tensor": lambda lib: lib.tensor(1.5, dtype=_dt(lib, "float64")),
    "complex128_scalar_tensor": lambda lib: lib.tensor(1j, dtype=_dt(lib, "complex128")),
    "python_int": lambda lib: 2,
    "python_float": lambda lib: 2.5,
    "python_bool": lambda lib: True,
    "python_complex": lambda lib: 1j,
    "numpy_float32": lambda lib: np.float32(1.5),
    "numpy_int16": lambda lib: np.int16(2),
}


@pytest.mark.parametrize("default", ["float32", "float64"])
def test_torch_result_type_ranks_tensors_zero_dim_tensors_and_numbers_as_torch(torch: Any, default_dtype: Callable,
                                                                                default: str) -> None:
    # the internal rule of the ops that keep PyTorch's dtype (ldexp, where of two numbers, special polynomials)
    default_dtype(getattr(mg, default), getattr(torch, default))
    for (name_a, a), (name_b, b) in itertools.product(_RESULT_OPERANDS.items(), repeat=2):
        if name_a.startswith(("python", "numpy")) and name_b.startswith(("python", "numpy")):
            continue   # two numbers: PyTorch's overloads differ by version; not a tensor op
        expected = _outcome(lambda a=a, b=b: _name(torch.result_type(a(torch), b(torch))))
        got = _outcome(lambda a=a, b=b: str(torch_result_type(a(mg), b(mg))))
        if expected == "complex32":   # float16 with a complex: NumPy has no complex32, so minigrad refuses
            expected = "TypeError"
        assert got == expected, f"torch_result_type({name_a}, {name_b})"


@pytest.mark.parametrize("default", ["float32", "float64"])
def test_result_type_is_what_the_arithmetic_gives(default_dtype: Callable, default: str) -> None:
    # mg.result_type answers minigrad's arithmetic, NumPy 2's promotion (DESIGN §3): it said PyTorch's dtype
    # (int32 tensor + 2.5: float32) where x + 2.5 is float64
    mg.set_default_dtype(getattr(mg, default))
    for (name_a, a), (name_b, b) in itertools.product(_RESULT_OPERANDS.items(), repeat=2):
        x, y = a(mg), b(mg)
        if not isinstance(x, mg.Tensor) and not isinstance(y, mg.Tensor):
            continue
        expected = _outcome(lambda x=x, y=y: str((x + y if isinstance(x, mg.Tensor) else y.__radd__(x)).dtype))
        assert _outcome(lambda x=x, y=y: str(mg.result_type(x, y))) == expected, f"result_type({name_a}, {name_b})"
        assert expected == str(np.result_type(*(v.dtype if isinstance(v, mg.Tensor) else v for v in (x, y))))


def test_result_type_examples_and_errors() -> None:
    ints = mg.tensor([1, 2], dtype=mg.int32)
    assert mg.result_type(ints, 1.5) == mg.float64 == (ints + 1.5).dtype   # NumPy 2's; PyTorch's float32
    assert mg.result_type(ints, 2) == mg.int32 and mg.result_type(ints, mg.tensor(1)) == mg.int64
    assert mg.result_type(ints, np.ones(2)) == mg.float64   # arrays are tensors here
    assert mg.result_type(mg.tensor([1.0], dtype=mg.float16), 1j) == mg.complex64
    assert mg.result_type(2, 2.5) == mg.get_default_dtype() == mg.add(2, 2.5).dtype   # two numbers: PyTorch's
    assert torch_result_type(ints, 1.5) == mg.float32 and torch_result_type(ints, mg.tensor(1)) == mg.int32
    with pytest.raises(TypeError, match="complex32"):
        torch_result_type(mg.tensor([1.0], dtype=mg.float16), 1j)
    with pytest.raises(TypeError, match="result_type: expected a Tensor or a number, got list"):
        mg.result_type([1], ints)


# --- finfo and iinfo ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["float16", "float32", "float64", "complex64", "complex128"])
def test_finfo_is_torchs(torch: Any, name: str) -> None:
    ours, theirs = mg.finfo(name), torch.finfo(getattr(torch, name))
    for attribute in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
        assert getattr(ours, attribute) == getattr(theirs, attribute), attribute
        assert type(getattr(ours, attribute)) is type(getattr(theirs, attribute)), attribute
    assert repr(ours) == repr(theirs)
    assert ours == mg.finfo(name) and hash(ours) == hash(mg.finfo(name))


def test_finfo_of_the_default_dtype_and_errors(default_dtype: Callable) -> None:
    assert mg.finfo().dtype == "float32" and mg.finfo().eps == float(np.finfo(np.float32).eps)
    default_dtype(mg.float64)
    assert mg.finfo().dtype == "float64"
    with pytest.raises(TypeError, match="finfo: requires a floating point dtype, got int32; use mg.iinfo"):
        mg.finfo(mg.int32)
    with pytest.raises(TypeError, match="finfo"):
        mg.finfo("no such dtype")


@pytest.mark.parametrize("name", ["uint8", "int8", "int16", "int32", "int64", "uint16", "uint32", "uint64"])
def test_iinfo_is_torchs(torch: Any, name: str) -> None:
    ours, theirs = mg.iinfo(name), torch.iinfo(getattr(torch, name))
    for attribute in ("bits", "max", "min", "dtype"):
        assert getattr(ours, attribute) == getattr(theirs, attribute), attribute
        assert type(getattr(ours, attribute)) is type(getattr(theirs, attribute)), attribute
    assert repr(ours) == str(theirs)


def test_iinfo_refuses_bool_and_floats_as_torch(torch: Any) -> None:
    for name in ("bool", "float32"):
        with pytest.raises(TypeError):
            torch.iinfo(getattr(torch, name))
        with pytest.raises(TypeError, match=f"iinfo: requires an integer dtype, got {name}"):
            mg.iinfo(name)


# --- Tensor attributes: dtype, device, memory --------------------------------------------------------------------

@pytest.mark.parametrize("name", DTYPE_NAMES[:11])
def test_dtype_predicates_are_torchs(torch: Any, name: str) -> None:
    ours = mg.tensor(np.zeros(2, dtype=name))
    theirs = torch.zeros(2, dtype=getattr(torch, name))
    assert ours.is_floating_point() == theirs.is_floating_point()
    assert ours.is_complex() == theirs.is_complex()
    assert ours.is_signed() == theirs.is_signed()
    assert ours.itemsize == theirs.itemsize and ours.nbytes == theirs.nbytes
    assert type(ours.itemsize) is int and type(ours.nbytes) is int


def test_device_attributes_on_the_cpu(torch: Any) -> None:
    ours, theirs = mg.zeros(2), torch.zeros(2)
    assert (ours.is_cuda, ours.is_cpu, ours.get_device()) == (theirs.is_cuda, theirs.is_cpu, theirs.get_device())
    assert ours.get_device() == -1 and ours.is_cpu and not ours.is_cuda
    assert ours.is_leaf and (ours * 2).is_leaf and not mg.zeros(2, requires_grad=True).exp().is_leaf


_VIEWS: dict[str, Callable[[Any], Any]] = {
    "whole": lambda x: x,
    "slice": lambda x: x[1:, 2:],
    "row": lambda x: x[1],
    "step": lambda x: x[::2],
    "transpose": lambda x: x.T,
    "permute": lambda x: x.permute(1, 0),
    "unsqueeze": lambda x: x.unsqueeze(0),
    "expand": lambda x: x.expand(2, 3, 4),
    "narrow": lambda x: x.narrow(1, 1, 2),
    "view": lambda x: x.view(4, 3),
}


@pytest.mark.parametrize("case", list(_VIEWS))
def test_strides_offsets_and_sizes_of_views_are_torchs(torch: Any, case: str) -> None:
    x, t = mg.arange(12.0).reshape(3, 4), torch.arange(12.0).reshape(3, 4)
    ours, theirs = _VIEWS[case](x), _VIEWS[case](t)
    assert ours.stride() == theirs.stride()
    for dim in range(-ours.ndim, ours.ndim):
        assert ours.stride(dim) == theirs.stride(dim)
    assert ours.storage_offset() == theirs.storage_offset()
    assert ours.nbytes == theirs.nbytes and ours.itemsize == theirs.itemsize
    assert ours.data_ptr() - x.data_ptr() == theirs.data_ptr() - t.data_ptr()


def test_stride_errors_are_torchs(torch: Any) -> None:
    x, t = mg.zeros(2, 3), torch.zeros(2, 3)
    for bad, error in ((2, IndexError), (-3, IndexError), (1.0, TypeError)):
        with pytest.raises(error):
            t.stride(bad)
        with pytest.raises(error, match="stride"):
            x.stride(bad)
    with pytest.raises(IndexError, match="no dimensions"):
        mg.tensor(1.0).stride(0)
    assert mg.tensor(1.0).stride() == torch.tensor(1.0).stride() == ()


def test_is_same_size_is_torchs(torch: Any) -> None:
    assert mg.zeros(3, 4).is_same_size(mg.ones(3, 4)) and not mg.zeros(3, 4).is_same_size(mg.zeros(4, 3))
    with pytest.raises(TypeError):
        torch.zeros(1).is_same_size([1])
    with pytest.raises(TypeError, match="is_same_size.*list"):
        mg.zeros(1).is_same_size([1])


_FORMATTED: dict[str, Callable[[Any], Any]] = {
    "float32_scalar": lambda lib: lib.tensor(1.23456),
    "float64_scalar": lambda lib: lib.tensor(-2.5e-7, dtype=_dt(lib, "float64")),
    "int_scalar": lambda lib: lib.tensor(3),
    "bool_scalar": lambda lib: lib.tensor(True),
    "requires_grad_scalar": lambda lib: lib.tensor(2.5, requires_grad=True),
    "one_element_vector": lambda lib: lib.tensor([1.23456]),
    "matrix": lambda lib: lib.tensor([[1.5, 2.0]]),
}


@pytest.mark.parametrize("spec", ["", ".3f", ">10", "e", "s", "10", "+.2e", ".1%"])
@pytest.mark.parametrize("case", list(_FORMATTED))
def test_format_is_torchs(torch: Any, case: str, spec: str) -> None:
    """A 0-d tensor formats as its item; any other only with an empty spec (as ``str``), as in PyTorch."""
    ours, theirs = _FORMATTED[case](mg), _FORMATTED[case](torch)
    expected = _outcome(lambda: format(theirs, spec))
    got = _outcome(lambda: format(ours, spec))
    if ours.ndim and spec == "":
        assert got == str(ours)   # PyTorch's str(tensor) prints differently
    else:
        assert got == expected


def test_f_string_of_a_loss_and_a_parameter(torch: Any) -> None:
    loss = (mg.tensor([1.0, 2.0], requires_grad=True) ** 2).mean()
    assert f"{loss:.4f}" == "2.5000" and f"{loss}" == "2.5"
    nn = pytest.importorskip("nn")
    with pytest.raises(TypeError):   # as torch: only a plain Tensor formats as its item
        f"{torch.nn.Parameter(torch.tensor(1.5)):.2f}"
    with pytest.raises(TypeError, match="unsupported format string"):
        f"{nn.Parameter(mg.tensor(1.5)):.2f}"


@pytest.mark.gpu
def test_device_attributes_and_format_on_a_gpu() -> None:
    x = mg.arange(12.0, device="cuda").reshape(3, 4)
    assert x.is_cuda and not x.is_cpu and x.get_device() == x.device.index == 0
    assert x.stride() == (4, 1) and x[1:, 2:].stride() == (4, 1) and x.T.stride() == (1, 4)
    assert x.nbytes == 48 and x.itemsize == 4 and x.is_floating_point() and x.is_signed()
    assert f"{x.sum():.1f}" == "66.0"
    assert mg.zeros(2, device="cuda").dtype == mg.float32


@pytest.mark.gpu
def test_default_dtype_reaches_gpu_constructors(default_dtype: Callable) -> None:
    default_dtype(mg.float64)
    for t in (mg.zeros(2, device="cuda"), mg.randn(2, device="cuda"), mg.tensor([1.5], device="cuda"),
              mg.arange(0.0, 1.0, 0.5, device="cuda")):
        assert t.dtype == mg.float64 and t.is_cuda


# --- the default is back (keep these last: they run after the tests above changed it) --------------------------

def test_the_default_dtype_was_restored_after_the_tests_that_set_it() -> None:
    assert mg.get_default_dtype() == mg.float32
    assert mg.tensor([1.5]).dtype == mg.float32 and mg.zeros(1).dtype == mg.float32


def test_the_default_dtype_fixture_restores_it_when_the_test_ends(default_dtype: Callable) -> None:
    default_dtype(mg.float64)
    assert mg.zeros(1).dtype == mg.float64   # the autouse fixture checks float32 is back after this test
