"""Round 22: interop with PyTorch and NumPy (DLPack both ways, array protocols, Python number protocols of 0-d and
one-element tensors), against PyTorch 2.13.

Regression cases found by the differential fuzzer /tmp/fuzz22_interop.py. One test per root cause, each compared
with live torch where torch has the behaviour.
"""

from __future__ import annotations

import enum
import warnings

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


@pytest.mark.parametrize("make", [
    lambda lib: lib.ones(3, requires_grad=True),
    lambda lib: lib.ones(2, 3, dtype=lib.float64, requires_grad=True).T,
    lambda lib: lib.tensor(1.5, requires_grad=True),
    lambda lib: lib.ones(2, requires_grad=True) * 2,                       # a non-leaf
], ids=["leaf", "transposed", "0-d", "non-leaf"])
def test_from_dlpack_of_a_tensor_that_requires_grad_raises_as_pytorch(make: object) -> None:
    """``mg.from_dlpack(x)`` of a minigrad tensor that requires grad returned a detached tensor over its memory;
    PyTorch's ``torch.from_dlpack(x)`` refuses it (BufferError: its ``__dlpack__`` does), as minigrad's
    ``__dlpack__`` already did for ``torch.from_dlpack``."""
    with pytest.raises(BufferError):
        torch.from_dlpack(make(torch))
    with pytest.raises(BufferError, match="requires grad"):
        mg.from_dlpack(make(mg))
    shared = mg.from_dlpack(make(mg).detach())   # the documented way out
    assert not shared.requires_grad


@pytest.mark.parametrize("make", [
    lambda: mg.arange(6.0)[::-1],
    lambda: mg.arange(12, dtype=mg.int32).reshape(3, 4)[:, ::-2],
    lambda: mg.from_numpy(np.arange(6.0).reshape(2, 3)[::-1]),
], ids=["reversed", "negative-column-step", "from-numpy"])
def test_dlpack_export_of_a_negative_stride_view_is_refused(make: object) -> None:
    """A view with a negative stride (minigrad's NumPy-style ``x[::-1]``, README) was handed to DLPack as is;
    ``torch.from_dlpack(x)`` (and ``torch.tensor(x)``, which reads ``__dlpack__``) then aborted the whole Python
    process ("Storage size calculation overflowed", a C++ terminate). PyTorch has no negative strides (its
    ``from_numpy`` refuses such arrays with a clear error): ``__dlpack__`` now raises BufferError naming the
    way out, and ``copy=True`` exports a copy. (The refusal is checked on ``__dlpack__`` with the arguments
    ``torch.from_dlpack`` passes, so a regression fails here instead of killing the test run.)"""
    x = make()
    with pytest.raises(BufferError, match="negative stride"):
        x.__dlpack__(max_version=(1, 0))
    with pytest.raises(BufferError, match="negative stride"):
        mg.to_dlpack(x)
    with pytest.raises(BufferError, match="negative stride"):
        np.from_dlpack(x)
    expected = x.numpy().copy()
    copied = torch.from_dlpack(x, copy=True)
    np.testing.assert_array_equal(copied.numpy(), expected)
    np.testing.assert_array_equal(torch.from_dlpack(x.contiguous()).numpy(), expected)
    assert mg.from_dlpack(x).stride() == x.stride()   # minigrad to minigrad keeps the view


def test_dlpack_export_of_a_size_one_dim_with_a_negative_stride_as_pytorch_reads_it() -> None:
    """A negative stride on a dim of size 1 steps nowhere: such a view is exported (PyTorch reads it fine)."""
    x = mg.arange(6.0).reshape(2, 3)[::-1][:1]
    assert x.stride()[0] < 0
    assert torch.from_dlpack(x).tolist() == [[3.0, 4.0, 5.0]]


@pytest.mark.parametrize("dtype", ["float32", "int64", "bool", "complex64"])
def test_legacy_dlpack_capsule_of_an_expanded_view_as_pytorch(dtype: str) -> None:
    """``mg.to_dlpack(x.expand(...))`` (and ``x.__dlpack__()`` with no ``max_version``, as older readers call it)
    raised NumPy's "Cannot export readonly array since signalling readonly is unsupported by DLPack": NumPy marks
    an expanded view read-only and a legacy capsule cannot say so. PyTorch exports it (the memory is writable);
    minigrad now does too, sharing the memory."""
    def make(lib: object) -> object:
        base = lib.arange(6).reshape(2, 3) % 2 == 0 if dtype == "bool" else lib.arange(6).reshape(2, 3).to(
            getattr(lib, dtype))
        return base, base[:, :1].expand(2, 3)

    base, ours = make(mg)
    tbase, theirs = make(torch)
    got = torch.utils.dlpack.from_dlpack(mg.to_dlpack(ours))
    expected = torch.utils.dlpack.from_dlpack(torch.utils.dlpack.to_dlpack(theirs))
    assert got.stride() == expected.stride() and got.dtype == expected.dtype
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
    np.testing.assert_array_equal(np.from_dlpack(_Legacy(ours)), expected.numpy())
    assert np.shares_memory(got.numpy(), base.numpy())
    assert not ours.data.flags.writeable   # the tensor itself stays read-only


class _Legacy:
    """An object exporting through a legacy (unversioned) capsule, as an older DLPack reader asks for one."""

    def __init__(self, tensor: mg.Tensor) -> None:
        self.tensor = tensor

    def __dlpack__(self, **_options: object) -> object:
        return self.tensor.__dlpack__()

    def __dlpack_device__(self) -> tuple:
        return self.tensor.__dlpack_device__()


def test_a_read_only_legacy_export_is_still_refused() -> None:
    """Memory that really is read-only (``from_numpy`` of a non-writable array) keeps NumPy's BufferError for a
    legacy capsule, which could not tell the reader so."""
    array = np.arange(3.0)
    array.flags.writeable = False
    with pytest.raises(BufferError):
        mg.to_dlpack(mg.from_numpy(array))


@pytest.mark.parametrize("source", [
    lambda: b"\x00\x00\x80?\x00\x00\x00@",
    lambda: (lambda a: (a.flags.__setattr__("writeable", False), a)[1])(np.array([1.0, 2.0], dtype=np.float32)),
], ids=["bytes", "read-only-ndarray"])
@pytest.mark.parametrize("write", [
    lambda t: t.add_(1), lambda t: t.fill_(0), lambda t: t.zero_(), lambda t: t.__setitem__(0, 5),
    lambda t: t.copy_(t + 1), lambda t: t.mul_(2),
], ids=["add_", "fill_", "zero_", "setitem", "copy_", "mul_"])
def test_a_write_into_a_read_only_frombuffer_tensor_raises_runtime_error(source: object, write: object) -> None:
    """An in-place write into ``mg.frombuffer`` of a read-only buffer raised ``AttributeError: 'memoryview' object
    has no attribute 'flags'`` (or ``'dtype'``): the read-only check asked the memory's owner, a memoryview, for
    NumPy's flags. It now raises the RuntimeError that names the read-only memory (PyTorch would write into the
    immutable buffer, warning that this is undefined behaviour), and leaves the buffer as it was."""
    buffer = source()
    before = bytes(buffer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        t = mg.frombuffer(buffer, dtype=mg.float32)
    assert t.tolist() == [1.0, 2.0]
    with pytest.raises(RuntimeError, match="read-only"):
        write(t)
    assert bytes(buffer) == before


class _ArrayInterface:
    """A foreign array-like: only NumPy's ``__array_interface__`` (memory another library owns)."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array
        self.__array_interface__ = array.__array_interface__


@pytest.mark.parametrize("make", [
    lambda a: torch.from_numpy(a), lambda a: torch.from_numpy(a).T, lambda a: torch.from_numpy(a)[:, ::2],
    _ArrayInterface,
], ids=["torch", "torch-transposed", "torch-strided", "array-interface"])
def test_asarray_copy_true_of_a_foreign_array_copies_as_pytorch(make: object) -> None:
    """``mg.asarray(torch_tensor, copy=True)`` (and of any object NumPy reads in place through ``__array__`` or
    ``__array_interface__``) returned a tensor sharing the source's memory: a write into the "copy" changed the
    source. PyTorch's ``asarray(copy=True)`` copies, keeping the layout; so does minigrad now."""
    array = np.arange(12.0).reshape(3, 4)
    source = make(array)
    ours = mg.asarray(source, copy=True)
    if isinstance(source, torch.Tensor):
        theirs = torch.asarray(source, copy=True)
        assert ours.stride() == theirs.stride() and ours.tolist() == theirs.tolist()
        assert not np.shares_memory(theirs.numpy(), array)
    assert not np.shares_memory(ours.numpy(), array)
    ours.fill_(-1.0)
    assert array.min() == 0.0
    assert np.shares_memory(mg.as_tensor(source).numpy(), array)   # without copy=True: shared, as PyTorch's


@pytest.mark.parametrize("make", [
    lambda: torch.arange(6.0).reshape(2, 3).requires_grad_(),
    lambda: torch.arange(6.0).reshape(2, 3).requires_grad_() * 2,                      # a non-leaf
    lambda: (torch.arange(6.0) * (1 + 2j)).reshape(2, 3).conj(),                        # conjugate bit
    lambda: torch.ops.aten._neg_view(torch.arange(6.0) * (1 + 2j)),                    # negative bit
    lambda: torch.arange(24.0).reshape(2, 3, 4).transpose(0, 2),                        # layout kept
    lambda: torch.arange(24, dtype=torch.int16).reshape(2, 3, 4).permute(1, 0, 2),
    lambda: torch.nn.Parameter(torch.ones(2, 2)),
], ids=["requires-grad", "non-leaf", "conj", "neg", "transposed", "permuted", "parameter"])
@pytest.mark.parametrize("dtype", [None, "float64"])
def test_tensor_of_a_torch_tensor_copies_its_values_as_pytorch(make: object, dtype: str | None) -> None:
    """``mg.tensor(torch_tensor)`` raised PyTorch's "Can't call numpy() on Tensor that requires grad" (or "that has
    conjugate bit set"/"negative bit set") where ``torch.tensor`` copies the values (detached, bits resolved), and
    a transposed or permuted source came out C-ordered where PyTorch keeps the layout (preserve_format)."""
    source = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)   # torch: "To copy construct from a tensor ..."
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)   # complex to float64: as PyTorch, real part
        theirs = torch.tensor(source, dtype=None if dtype is None else getattr(torch, dtype))
        ours = mg.tensor(source, dtype=None if dtype is None else getattr(mg, dtype))
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    assert ours.shape == tuple(theirs.shape) and ours.stride() == theirs.stride()
    assert ours.tolist() == theirs.tolist()
    assert not ours.requires_grad and ours.is_leaf


@pytest.mark.parametrize("items", [
    lambda: [torch.ones(1, 1), torch.ones(1, 1)],                                      # one element each: numbers
    lambda: [torch.tensor(1.0), 2],                                                     # the tensor's dtype counts
    lambda: [torch.tensor(1.0, dtype=torch.float64), 2],
    lambda: [[torch.tensor(3, dtype=torch.int8)], [torch.tensor(4, dtype=torch.int8)]],
    lambda: [torch.tensor(1.0, requires_grad=True) * 2, torch.tensor(1j).conj()],       # detached, conj resolved
    lambda: [mg.tensor(1.0), torch.tensor(2, dtype=torch.int16)],
    lambda: [torch.ones(2), torch.ones(2)],                                             # ValueError, as PyTorch
], ids=["one-element", "float32-and-int", "float64-and-int", "nested-int8", "grad-and-conj", "mixed", "two-elements"])
def test_tensor_of_a_list_of_torch_tensors_as_pytorch(items: object) -> None:
    """``mg.tensor([torch.tensor(1.), 2])`` was float64 where PyTorch's is float32, ``[torch.ones(1, 1)] * 2``
    came out (2, 1, 1) where PyTorch's is (2,), and ``[torch.ones(2)] * 2`` stacked to (2, 2) where PyTorch
    raises: NumPy read the torch tensors as arrays. They now read as minigrad's own tensors in a list do (each one
    number of its dtype), as ``torch.tensor`` reads its own."""
    def torch_side() -> object:
        converted = [[mg_to_torch(v) for v in x] if isinstance(x, list) else mg_to_torch(x) for x in items()]
        return torch.tensor(converted)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            theirs = torch_side()
    except ValueError:
        with pytest.raises(ValueError, match="one element"):
            mg.tensor(items())
        return
    ours = mg.tensor(items())
    assert ours.shape == tuple(theirs.shape) and str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    assert ours.tolist() == theirs.tolist()


def mg_to_torch(value: object) -> object:
    """A minigrad tensor in a test list as the same torch tensor (torch.tensor cannot read ours in a list)."""
    return torch.from_numpy(value.numpy().copy()) if isinstance(value, mg.Tensor) else value


@pytest.mark.parametrize("array", [
    np.array(["1.5", "2"]), np.array([b"1"]), np.array([1, 2], dtype=object),
    np.array(["2020-01-01"], dtype="datetime64[D]"), np.array([1], dtype="timedelta64[s]"),
    np.arange(3, dtype=np.longdouble),
], ids=["str", "bytes", "object", "datetime", "timedelta", "longdouble"])
@pytest.mark.parametrize("dtype", ["float32", "int64", "float64"])
def test_tensor_with_a_dtype_refuses_an_array_no_tensor_holds_as_pytorch(array: np.ndarray, dtype: str) -> None:
    """``mg.tensor(np.array(["1.5"]), dtype=mg.float32)`` parsed the strings (1.5), a datetime array gave its days
    since 1970, an object or longdouble array was cast: PyTorch refuses each of them (TypeError), as minigrad
    already did without ``dtype=``."""
    with pytest.raises(TypeError):
        torch.tensor(array, dtype=getattr(torch, dtype))
    with pytest.raises(TypeError, match="numbers only"):
        mg.tensor(array, dtype=getattr(mg, dtype))
    assert mg.tensor(np.arange(3, dtype=">f8"), dtype=mg.float32).tolist() == [0.0, 1.0, 2.0]   # still cast


@pytest.mark.parametrize("value", [1e20 + 0j, complex("nan"), complex("inf"), -complex("inf"), 2.0 ** 63 + 0j])
@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_int_of_a_complex_tensor_out_of_int64_raises_as_pytorch(value: complex, dtype: str) -> None:
    """``int(mg.tensor(1e20 + 0j))`` gave 100000002004087734272 and a NaN or infinite real part Python's ValueError
    or OverflowError; PyTorch converts a complex value to int64 and raises RuntimeError ("value cannot be converted
    to type int64_t without overflow"). 2**63 raises here too, where PyTorch's float check lets it wrap to -2**63."""
    if value != 2.0 ** 63:
        with pytest.raises(RuntimeError):
            int(torch.tensor(value, dtype=getattr(torch, dtype)))
    with pytest.raises(RuntimeError, match="int64"):
        int(mg.tensor(value, dtype=getattr(mg, dtype)))
    for fine in (1.5 + 0j, -2.0 ** 63 + 0j, 9.2e18 + 0j):
        assert int(mg.tensor(fine, dtype=getattr(mg, dtype))) == int(torch.tensor(fine, dtype=getattr(torch, dtype)))


@pytest.mark.parametrize("make", [
    lambda lib: lib.arange(24.0).reshape(2, 3, 4).transpose(0, 2),
    lambda lib: lib.arange(12).reshape(3, 4).T,
    lambda lib: lib.arange(24.0).reshape(2, 3, 4).permute(1, 0, 2),
], ids=["transposed", "int-T", "permuted"])
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")   # torch's __array__
def test_numpy_array_copy_of_a_tensor_keeps_its_layout_as_pytorch(make: object) -> None:
    """``np.array(x)`` of a transposed tensor gave a C-ordered copy where PyTorch's keeps the tensor's layout
    (NumPy copies PyTorch's array in order 'K'); minigrad's ``__array__(copy=True)`` now copies in order 'K'."""
    ours, theirs = np.array(make(mg)), np.array(make(torch))
    assert ours.strides == theirs.strides
    np.testing.assert_array_equal(ours, theirs)


class _Scale(enum.IntEnum):
    TWO = 2


class _Float(float):
    """A float subclass (a library's unit-carrying float, say)."""


@pytest.mark.parametrize("number", [_Scale.TWO, _Float(1.5)], ids=["IntEnum", "float-subclass"])
@pytest.mark.parametrize("call", [
    lambda x, n: x + n, lambda x, n: n - x, lambda x, n: x * n, lambda x, n: n / x, lambda x, n: x ** n,
    lambda x, n: x.clamp(max=n), lambda x, n: x.lib.where(x > 1, x, n), lambda x, n: x.lib.tensor([n, 1.0]),
    lambda x, n: x.lib.tensor([[n], [2]]),
], ids=["add", "rsub", "mul", "rdiv", "pow", "clamp", "where", "tensor-list", "tensor-nested"])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_a_subclass_of_a_python_number_is_a_python_number_as_pytorch(number: object, call: object, dtype: str) -> None:
    """``x * Scale.TWO`` (an IntEnum member) or ``x + my_float`` (a float subclass) made a float32 tensor float64:
    NumPy reads a subclass of int or float as an int64/float64 array, not as a weak Python scalar. PyTorch reads
    them as Python numbers, keeping the tensor's dtype; so does minigrad now (NumPy scalars such as np.float64 keep
    NumPy 2's promotion, as the README documents)."""
    results = []
    for lib in (mg, torch):
        x = lib.tensor([1.0, 2.0, 3.0], dtype=getattr(lib, dtype))
        x.lib = lib
        results.append(call(x, number))
    ours, theirs = results
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_allclose(ours.numpy().astype(np.float64), theirs.numpy().astype(np.float64), rtol=1e-3)


class _CopyingArray:
    """An object whose ``__array__`` hands out a fresh array each time (nothing to alias)."""

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        return np.arange(6.0).reshape(2, 3)


@pytest.mark.parametrize("make", [
    lambda a: torch.from_numpy(a), lambda a: torch.from_numpy(a).T, lambda a: np.ma.masked_array(a),
    _ArrayInterface,
], ids=["torch", "torch-transposed", "masked-array", "array-interface"])
def test_asarray_copy_false_aliases_what_numpy_reads_in_place_as_pytorch(make: object) -> None:
    """``mg.asarray(torch_tensor, copy=False)`` raised "copy=False cannot alias a Tensor into a tensor" although
    ``mg.as_tensor`` of it shares the memory; PyTorch's ``asarray(copy=False)`` aliases it. It now aliases any
    object NumPy reads in place, and still raises where a copy would be needed (another dtype, an object that
    hands out a fresh array, a list), as PyTorch's."""
    array = np.arange(6.0).reshape(2, 3)
    source = make(array)
    ours = mg.asarray(source, copy=False)
    assert np.shares_memory(ours.numpy(), array)
    if isinstance(source, torch.Tensor):
        theirs = torch.asarray(source, copy=False)
        assert ours.stride() == theirs.stride() and ours.tolist() == theirs.tolist()
        with pytest.raises(ValueError):
            torch.asarray(source, copy=False, dtype=torch.float32)
    with pytest.raises(ValueError, match="copy=False"):
        mg.asarray(source, copy=False, dtype=mg.float32)
    for other in (_CopyingArray(), [1.0, 2.0]):
        with pytest.raises(ValueError, match="copy=False"):
            mg.asarray(other, copy=False)


def test_dlpack_device_names_its_type_as_pytorch() -> None:
    """``x.__dlpack_device__()`` gave ``(1, 0)``; PyTorch's gives ``(DLDeviceType.kDLCPU, 0)``, an IntEnum that
    ``torch.utils.dlpack.DLDeviceType`` names, which minigrad now has too (same names and values)."""
    ours, theirs = mg.ones(2).__dlpack_device__(), torch.ones(2).__dlpack_device__()
    assert ours == theirs and repr(ours) == repr(theirs)
    assert {k: int(v) for k, v in mg.utils.dlpack.DLDeviceType.__members__.items()} == {
        k: int(v) for k, v in torch.utils.dlpack.DLDeviceType.__members__.items()}


def test_a_float_subclass_constant_keeps_the_dtype_in_compiled_replays() -> None:
    """Under ``mg.compile`` the replayed program read a float-subclass constant as NumPy's float64 (the eager call
    gave float32): the op now runs again with the plain number, so the capture records that."""
    def step(x: mg.Tensor) -> mg.Tensor:
        return (x * _Float(2.0) + 1.5).sum()

    compiled = mg.compile(step)
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    for _ in range(4):   # captured, then replayed
        y = compiled(x)
        y.backward()
        assert y.dtype == mg.float32 and y.item() == 9.0 and x.grad.tolist() == [2.0, 2.0]
        x.grad = None


class _Level(enum.IntEnum):
    TWO = 2
    THREE = 3


@pytest.mark.parametrize("holder", ["attribute", "class-attribute", "dict"])
@pytest.mark.parametrize("first, second", [(_Level.TWO, _Level.THREE), (_Float(2.0), _Float(3.0))],
                         ids=["IntEnum", "float-subclass"])
def test_compiled_replays_guard_subclass_numbers_held_in_objects(holder: str, first: object, second: object) -> None:
    """``mg.compile`` of ``x * cfg.level`` kept replaying the first value after ``cfg.level`` changed from
    ``Level.TWO`` to ``Level.THREE`` (an attribute the instance reads from its class, a dict entry) or from one
    float-subclass value to another: its guards read only plain numbers, so a subclass's was no guarded value (a
    silent stale result). Such numbers are now guarded by type and value."""
    settings = type("Settings", (), {"level": first})
    cfg = settings()
    if holder == "attribute":
        cfg.level = first
    table = {"level": first}

    def step(x: mg.Tensor) -> mg.Tensor:
        return (x * (table["level"] if holder == "dict" else cfg.level)).sum()

    compiled = mg.compile(step)
    x = mg.tensor([1.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", mg.CompileWarning)   # captured and replayed, not run eagerly
        assert [compiled(x).item() for _ in range(3)] == [3.0 * first] * 3
        if holder == "dict":
            table["level"] = second
        elif holder == "class-attribute":
            settings.level = second
        else:
            cfg.level = second
        assert [compiled(x).item() for _ in range(2)] == [3.0 * second] * 2


def test_a_compiled_function_reading_an_enum_member_is_captured() -> None:
    """Reading an IntEnum member (``x * Level.TWO``) made every capture run eagerly with a CompileWarning ("it
    changes Enum.name.fget ..., a Python side effect a replay would skip"): enum's own shared machinery, reached
    through the class, was taken for the function's state. enum's code now counts as a library's."""
    def step(x: mg.Tensor) -> mg.Tensor:
        return (x * _Level.TWO).sum()

    compiled = mg.compile(step)
    with warnings.catch_warnings():
        warnings.simplefilter("error", mg.CompileWarning)
        assert [compiled(mg.tensor([1.0, 2.0])).item() for _ in range(3)] == [6.0] * 3
