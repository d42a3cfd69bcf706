"""The Tensor: one array (NumPy or CuPy) plus what autograd needs to know.

Operators and math methods (``+``, ``@``, ``x.tanh()``, ``x.sum()``, ``.to()`` …)
are attached by :mod:`minigrad.ops`, where each op's forward and backward live;
``backward``, ``register_hook`` and ``retain_grad`` by :mod:`minigrad.autograd`.
Constructors (``mg.tensor``, ``mg.zeros`` …) are in :mod:`minigrad.constructors`.
Imports run one way: backend ← tensor ← autograd ← ops.
"""

from __future__ import annotations

import copy
import math
import numbers
import warnings
from typing import Any

import numpy

from . import backend, dtypes
from .arguments import ArgumentTypeError, ShapeMismatchError, as_bool, is_tensor_dtype
from .backend import Device
from .dtypes import bool_, float16, float32, float64, int32, int64
from .printing import set_printoptions, tensor_repr  # noqa: F401 - mg.set_printoptions is imported from here
from .recording import note_draw, note_read
from .versions import INPLACE

__all__ = ["GradTypeError", "NotOneElementError", "Tensor", "bool_", "float16", "float32", "float64", "int32", "int64"]


class GradTypeError(TypeError, RuntimeError):
    """Only floating-point tensors can require gradients."""


class NotOneElementError(ValueError, RuntimeError):
    """``bool(x)`` or ``x.item()`` of a tensor that has not exactly one element (PyTorch raises RuntimeError,
    NumPy ValueError: both catch it)."""


class ContainsTypeError(TypeError, RuntimeError):
    """``v in x`` with ``v`` neither a Tensor nor a number (PyTorch's RuntimeError)."""


_LEAVES_ONLY = ("only a leaf tensor's requires_grad can change; this one was computed by an op (it requires grad "
                "because its inputs do). For a copy cut from the graph use .detach()")


def _infer_dtype(data: Any) -> Any:
    """Python scalars and lists: the default dtype for floats (float32 unless ``mg.set_default_dtype``),
    its complex counterpart for complex numbers, int64 for ints, bool for bools.

    NumPy scalars (``numpy.float64(1.5)`` is also a Python float) keep their dtype, as arrays do.
    """
    if isinstance(data, numpy.generic):
        return None
    if isinstance(data, bool):
        return bool_
    if isinstance(data, int):
        return int64
    if isinstance(data, float):
        return dtypes.get_default_dtype()
    if isinstance(data, complex):
        return dtypes.default_complex_dtype()
    if isinstance(data, dtypes.SEQUENCES):
        return dtypes.sequence_dtype(data)   # PyTorch's: each element's dtype, promoted
    return None


def is_torch_tensor(value: Any) -> bool:
    """Whether ``value`` is a PyTorch tensor (a Parameter too), told without importing torch."""
    return _is_torch_class(type(value))


def _is_torch_class(kind: type) -> bool:
    """Whether ``kind`` is PyTorch's tensor class or a subclass (``torch.Tensor``, ``nn.Parameter``)."""
    return kind.__module__.startswith("torch") and hasattr(kind, "resolve_conj")


def torch_values(data: Any) -> Any:
    """A PyTorch tensor's values as ``torch.tensor`` reads them: detached, its lazy conjugate and negative bits
    resolved (``tensor.numpy()`` refuses a tensor that requires grad or has them), a CPU one as its NumPy array."""
    data = data.detach().resolve_conj().resolve_neg()
    return data.numpy() if data.device.type == "cpu" else data


def _holds_tensor(seq: Any) -> bool:
    """Whether a nested sequence has a Tensor (ours or PyTorch's) anywhere in it (one type check per kind of
    element and level)."""
    kinds = set(map(type, seq))
    if any(issubclass(kind, Tensor) or _is_torch_class(kind) for kind in kinds):
        return True
    if kinds.isdisjoint(dtypes.SEQUENCES):
        return False
    return any(_holds_tensor(v) for v in seq if type(v) in dtypes.SEQUENCES)


def _tensor_items(seq: Any, dtype: Any) -> list:
    """``seq`` with each Tensor in it replaced by its one element (a NumPy scalar, keeping its dtype), as
    ``torch.tensor([t1, t2])`` reads them: a Tensor inside a list is a number, so ``[tensor([1.]), tensor([2.])]``
    has shape (2,), not NumPy's stacked (2, 1); a tensor of other than one element raises ValueError, and a complex
    one whose imaginary part is not 0 RuntimeError when ``dtype`` (the dtype asked for, or None) is real, as
    PyTorch's (the cast would drop the imaginary part)."""
    items = []
    for v in seq:
        if is_torch_tensor(v):   # PyTorch's, read as its own: a number of its dtype
            v = Tensor._make(torch_values(v), False, None, 0)
        if isinstance(v, Tensor):
            if v.data.size != 1:
                raise ValueError(f"tensor: only one element tensors can be converted to Python scalars; a list "
                                 f"holds a tensor of shape {v.shape} (use mg.stack to join tensors)")
            # a NumPy scalar keeping its dtype (a bool one a Python bool: PyTorch reads a bool tensor among ints as
            # 0 or 1, where it refuses a NumPy bool there; a 0-d array it refuses anywhere: see sequence_dtype)
            v = numpy.asarray(backend.to_numpy(v.data)).reshape(())[()]
            if dtype is not None and dtype.kind != "c" and v.dtype.kind == "c" and v.imag != 0:
                raise RuntimeError(f"tensor: the complex value {v.item()} of a tensor in the list cannot be "
                                   f"converted to {dtype} (its imaginary part is not 0), as in PyTorch")
            v = bool(v) if v.dtype == bool else v
        elif type(v) in dtypes.SEQUENCES:
            v = _tensor_items(v, dtype)
        items.append(v)
    return items


def _fitting_integers(data: Any, dtype: numpy.dtype) -> Any:
    """Python or NumPy numbers (nested lists too) for the integer ``dtype``, checked as ``torch.tensor(data,
    dtype=)`` checks each number: NaN, infinities and values outside the dtype's range raise RuntimeError ("value
    cannot be converted to type int8 without overflow"; an unsigned dtype takes -max ... max, a negative
    wrapping, as PyTorch's). NumPy would wrap ``numpy.int64(300)`` to 44 and turn NaN into the minimum integer.
    Complex numbers raise TypeError, as PyTorch's. Returns a NumPy array of the numbers' own kind (floats are
    truncated by the cast that follows)."""
    raw = numpy.asarray(data)
    if raw.dtype.kind in "bfc":   # a NumPy bool, float32 or complex among them?
        _check_readable_numbers(data, dtype)
    if raw.dtype.kind == "c":   # NumPy would drop the imaginary parts (numpy.complex64(1+2j) -> 1)
        raise TypeError(f"tensor: complex numbers cannot be converted to the integer dtype {dtype}")
    if raw.dtype.kind == "O" or raw.dtype == numpy.uint64:   # an int past int64 somewhere (NumPy's uint64/object)
        _check_int64(data)
    if raw.dtype.kind not in "iuf":
        return data
    if raw.dtype.kind == "f" and bool((numpy.abs(raw) >= 2.0 ** 63).any()):
        _check_int64(data)   # [2**63, 1] is float64 to NumPy, and 2.0**63 is not above int64's max as a float
    info = numpy.iinfo(dtype)
    low = -int(info.max) if dtype.kind == "u" and raw.dtype.kind != "f" else int(info.min)
    bad = (raw < low) | (raw > int(info.max))
    if raw.dtype.kind == "f":
        bad |= ~numpy.isfinite(raw)
    if bad.any():
        value = raw[bad].flat[0] if raw.ndim else raw.item()
        if raw.dtype.kind == "f":
            _check_int64(data)   # [1.5, 2**64] is float64 to NumPy; PyTorch reads the int as an int
        if raw.dtype.kind == "f" and dtype.kind == "u":   # ints among floats: PyTorch reads each number alone
            value = _unsigned_misfit(data, int(info.max))
            if value is None:
                return raw   # [2.5, -1] into uint8: the int -1 wraps (to 255 by the cast that follows)
        raise RuntimeError(f"tensor: value {value} cannot be converted to type {dtype} without overflow")
    return raw


def _check_readable_numbers(data: Any, dtype: numpy.dtype) -> None:
    """Raise TypeError, as ``torch.tensor(data, dtype=)``'s parser, at the first number of ``data`` (a number or
    nested sequence) it does not read as ``dtype``: into an integer dtype a NumPy bool, float (but float64, a
    Python float) or complex, or a Python complex; into bool a NumPy float or complex (but float64, complex128);
    into a floating dtype a Python complex (NumPy's complex scalars are cast)."""
    if type(data) in dtypes.SEQUENCES:
        for value in data:
            _check_readable_numbers(value, dtype)
        return
    if dtype.kind == "f":
        if type(data) is complex:
            raise TypeError(f"tensor: must be real number, not complex (got {data!r} for dtype {dtype})")
        return
    if dtype.kind in "iu":
        refused = isinstance(data, (complex, numpy.bool_, numpy.inexact)) and not isinstance(data, float)
    elif dtype.kind == "b":
        refused = isinstance(data, numpy.inexact) and not isinstance(data, (float, complex))
    else:
        return
    if refused:
        name = f"numpy.{type(data).__name__}" if isinstance(data, numpy.generic) else type(data).__name__
        raise TypeError(f"tensor: '{name}' object cannot be interpreted as an integer (got {data!r} for dtype "
                        f"{dtype}, as PyTorch)")


def _refuse_none(data: Any) -> None:
    """PyTorch's TypeError ("must be real number, not NoneType") if ``data`` is None or a nested sequence holding
    one: ``torch.tensor([None], dtype=torch.float32)`` and ``x.new_tensor([1, None])`` raise where NumPy's cast
    to a float dtype makes NaN. A sequence is first read by NumPy (C speed); only one with a NaN is walked."""
    if data is not None:
        try:
            if not numpy.isnan(numpy.asarray(data, dtype=complex)).any():
                return
        except (TypeError, ValueError):   # ragged, or not numbers: the array maker names the problem
            return
    _refuse_walk(data)


def _refuse_walk(data: Any) -> None:
    if data is None:
        raise TypeError("tensor: must be real number, not NoneType (None is not a number, as in PyTorch; use "
                        "float('nan'))")
    if type(data) in dtypes.SEQUENCES:
        for value in data:
            _refuse_walk(value)


def _unsigned_misfit(data: Any, limit: int) -> Any:
    """The first number in ``data`` (a number or nested sequence) that an unsigned dtype of largest value
    ``limit`` cannot take as PyTorch converts each number (an int from -limit on, wrapping; a float from 0 on,
    finite), or None when they all fit."""
    if type(data) in dtypes.SEQUENCES:
        return next((v for v in data if _unsigned_misfit(v, limit) is not None), None)
    number = data.item() if isinstance(data, (numpy.generic, numpy.ndarray)) else data
    low = -limit if isinstance(number, int) else 0   # bools are ints
    return None if low <= number <= limit else data   # NaN compares False: a misfit


def _check_int64(data: Any) -> None:
    """Raise :class:`dtypes.IntegerOverflowError` (PyTorch's ValueError "Overflow when unpacking long long") if
    the number ``data`` or a number in the nested sequence ``data`` is an integer outside int64, as
    ``torch.tensor(data, dtype=<an integer dtype>)`` reads each one into a C long long first."""
    if type(data) in dtypes.SEQUENCES:
        for v in data:
            _check_int64(v)
    elif isinstance(data, (int, numpy.integer)) and not -2 ** 63 <= int(data) < 2 ** 63:
        raise dtypes.IntegerOverflowError(f"tensor: the integer {data} does not fit in int64 (PyTorch's "
                                          "ValueError 'Overflow when unpacking long long')")


def cast_as_torch(array: Any, dtype: numpy.dtype, order: str = "K") -> Any:
    """``array.astype(dtype, order=order)`` (same shape) with PyTorch's values and silence: a float goes into uint8
    through int64, as c10's TypeCast.h (-1.2654e10 is 212; NumPy's direct cast gives 0 past 2**31), and NaN, inf or
    out-of-range values give no NumPy RuntimeWarning (float64 1e40 to float32 is inf)."""
    if order == "K" and any(step == 0 and size > 1 for step, size in zip(array.strides, array.shape)):
        order = "C"   # a broadcast array: NumPy's "K" would lay the copy out in F order, PyTorch's copy is C order
    with numpy.errstate(invalid="ignore", over="ignore"):   # CuPy never warns
        if dtype.char == "B" and array.dtype.kind in "fc":
            array = array.astype(int64, order=order)
        return array.astype(dtype, order=order)


def _made(tensor: Tensor) -> bool:
    """Whether ``tensor`` has its array (its ``__new__`` made it)."""
    try:
        object.__getattribute__(tensor, "data")
    except AttributeError:
        return False
    return True


def _constructor_arguments(*data: Any, dtype: Any = None, requires_grad: bool = False,
                           device: str | Device | None = None) -> tuple:
    """``Tensor(*data, dtype=None, requires_grad=False, device=None)``'s arguments for ``Tensor._initialize``."""
    return (*_legacy_arguments(data, dtype), requires_grad, device)


def _legacy_arguments(args: tuple, dtype: Any) -> tuple:
    """``(data, dtype)`` for ``Tensor(*args, dtype=)``, read as PyTorch reads ``torch.Tensor(*args)``."""
    if len(args) == 1 and isinstance(args[0], Tensor):
        return args[0], dtype   # shares the array, keeps its dtype unless one is given
    dtype = dtypes.get_default_dtype() if dtype is None else backend.as_dtype(dtype, "Tensor")
    if not args:
        return numpy.zeros((0,), dtype), dtype
    if all(isinstance(a, (int, numpy.integer)) and not isinstance(a, bool) for a in args) or (
            len(args) == 1 and type(args[0]).__name__ == "Size"):
        shape = tuple(int(a) for a in (args if isinstance(args[0], (int, numpy.integer)) else args[0]))
        negative = [n for n in shape if n < 0]
        if negative:   # PyTorch's RuntimeError (and ValueError, as before)
            raise ShapeMismatchError(f"Trying to create tensor with negative dimension {negative[0]}: {list(shape)}")
        return numpy.zeros(shape, dtype), dtype
    if len(args) != 1 or not isinstance(args[0], (list, tuple, range)) and not backend.is_array(args[0]):
        raise TypeError(f"Tensor: expected sizes (ints), one sequence or array of data, or a Tensor; got "
                        f"{', '.join(type(a).__name__ for a in args)} (use mg.tensor(...) for a number)")
    return (list(args[0]) if isinstance(args[0], range) else args[0]), dtype   # LongTensor(range(n)), as pygcn


# NumPy's binary ufuncs and the reflected Tensor operator that ``array (op) tensor`` means
_REFLECTED = {"add": "__radd__", "subtract": "__rsub__", "multiply": "__rmul__", "divide": "__rtruediv__",
              "floor_divide": "__rfloordiv__", "power": "__rpow__", "matmul": "__rmatmul__", "remainder": "__rmod__",
              "bitwise_and": "__rand__", "bitwise_or": "__ror__", "bitwise_xor": "__rxor__",
              "left_shift": "__rlshift__", "right_shift": "__rrshift__", "less": "__gt__", "greater": "__lt__",
              "less_equal": "__ge__", "greater_equal": "__le__", "equal": "__eq__", "not_equal": "__ne__"}


def _array_ufunc(self: Tensor, ufunc: Any, method: str, *inputs: Any, out: Any = None, **kwargs: Any) -> Any:
    """NumPy meeting a Tensor. ``array += tensor`` (the ``p.data += -lr * p.grad`` habit: ``.data`` is the
    array) updates the array in place with the tensor's values, outside autograd as PyTorch's ``.data``;
    ``array * tensor`` and the other operators are the Tensor's reflected ones (a Tensor). Any other NumPy
    ufunc called on host tensors (``numpy.exp(x)``, ``numpy.isnan(x)``, ``numpy.add.reduce(x)``) computes on their
    arrays and gives a Tensor, as PyTorch's (a bool result becomes uint8, as PyTorch's ``__array_wrap__`` makes it;
    ``outer`` gives NumPy's array, as there; ``at`` and tensors as ``out=`` are refused); NumPy records
    nothing for backward, so a tensor that requires grad is refused (ArgumentTypeError: PyTorch's RuntimeError),
    and a GPU tensor too (TypeError): use the Tensor's own op."""
    if method == "__call__" and out is not None and all(backend.is_array(o) for o in out):
        return ufunc(*(x.data if isinstance(x, Tensor) else x for x in inputs), out=out, **kwargs)
    name = _REFLECTED.get(ufunc.__name__)
    if method == "__call__" and out is None and not kwargs and name and len(inputs) == 2 and inputs[1] is self \
            and not isinstance(inputs[0], Tensor):
        return getattr(self, name)(inputs[0])
    if method == "at" or out is not None:   # NumPy would write into a tensor behind autograd's back
        return NotImplemented
    for x in inputs:
        if isinstance(x, Tensor) and x._requires_grad:
            raise ArgumentTypeError(f"numpy.{ufunc.__name__}: can't call NumPy on a tensor that requires grad "
                                    "(NumPy records nothing for backward); use the tensor's own op, or tensor.detach()")
        if isinstance(x, Tensor) and type(x.data) is not numpy.ndarray:
            raise TypeError(f"numpy.{ufunc.__name__}: can't convert a tensor on {x.device} to NumPy; use the "
                            f"tensor's own op, or tensor.cpu() first")
    result = getattr(ufunc, method)(*(x.data if isinstance(x, Tensor) else x for x in inputs), **kwargs)
    if method == "outer":   # NumPy's outer reads its operands as arrays, and PyTorch gives its ndarray
        return result
    return tuple(map(_from_ufunc, result)) if ufunc.nout > 1 and method == "__call__" else _from_ufunc(result)


def _from_ufunc(result: Any) -> Tensor:
    """A NumPy function's result as PyTorch's ``Tensor.__array_wrap__`` gives it: a Tensor sharing the array
    (0-d for a NumPy scalar), bools as uint8."""
    array = numpy.asarray(result)
    return Tensor._make(array.astype(numpy.uint8) if array.dtype == numpy.bool_ else array, False, None, 0)


class _NumPyOnly:
    """``Tensor.__array_ufunc__``: NumPy reads it from the class and gets :func:`_array_ufunc`; CuPy reads it from
    the instance and gets None, its opt-out, so ``cupy_array * tensor`` goes to the Tensor's reflected operator
    (CuPy's ufuncs do not dispatch to other types, and a device array has no in-place update from a Tensor)."""

    def __get__(self, instance: Any, owner: Any) -> Any:
        return _array_ufunc if instance is None else None


# Called when a complex tensor starts to require grad; autograd.engine registers its gate here (tensor sits
# below autograd and cannot import it).
COMPLEX_GRAD_BEGINS: list = []
# Called when a float16 tensor starts to require grad: autograd.engine's dtype gate (each input's gradient in its
# dtype) from then on
FLOAT16_GRAD_BEGINS: list = []
# told of each in-place change (Tensor._bump_version): the open forward-AD dual level, which refuses a change
# it cannot give a tangent (autograd.forward_ad); empty outside a level
INPLACE_CHANGES: list = []


def _deepcopy_sharing(data: Any, memo: dict, copied: Any) -> Any:
    """``data`` deep-copied as torch copies a tensor's storage: host arrays viewing the same C-contiguous NumPy
    buffer copy it once per ``copy.deepcopy`` (its ``memo``) and stay views of the copy (same offset and
    strides), so views copied together still share memory. Anything else keeps its own copy, ``copied``."""
    root = data
    while isinstance(root.base, numpy.ndarray):
        root = root.base
    if type(data) is not numpy.ndarray or root is data or root.base is not None or not root.flags.c_contiguous:
        return copied
    if id(root) not in memo:   # (``data`` keeps ``root`` alive, so its id stays its own during the copy)
        memo[id(root)] = root.copy()
    offset = data.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    return numpy.ndarray(data.shape, data.dtype, buffer=memo[id(root)], offset=offset, strides=data.strides)


class Tensor:
    """An n-dimensional array that can record the ops applied to it.

    ``data`` is a ``numpy.ndarray`` (device ``"cpu"``) or ``cupy.ndarray``
    (``"cuda:N"``). A tensor made by an op while recording holds its
    creator node (``grad_fn``); a leaf has none.
    """

    # _view: (base, how) of a tensor that shares base's memory, ``how`` a basic index (base[how]) or the
    # Reshape/Transpose/Diagonal/Unfold/AsStrided op that made it; () for the copy a reshape made. _views:
    # weakrefs to such tensors of this base. Set only by getitem and the view ops (ops/shape.py's _view_op and
    # track_view; read with getattr): in-place ops use them to keep both graphs right (ops/inplace.py).
    # _post_hooks: register_post_accumulate_grad_hook's hooks of a leaf, set only by it (read with getattr).
    # _grad: the gradient behind the ``grad`` property (the engine writes it directly; a user's assignment
    # is checked). _requires_grad: likewise behind ``requires_grad`` (the engine reads and writes the slot).
    # __dict__: a user's own attributes (``x.foo = 1``, as PyTorch allows), made on first use; copy, deepcopy and
    # pickle carry them, ops and ``detach()`` do not, as PyTorch's.
    __slots__ = ("data", "_requires_grad", "_grad", "_node", "_index", "_hooks", "name", "_view", "_views",
                 "_post_hooks", "__weakref__", "__dict__")
    __array_ufunc__ = _NumPyOnly()   # `array += tensor`, `array * tensor`: see _array_ufunc
    _refuses_ops = False   # True for nn's lazy placeholders, whose ``_refuse_op(name)`` the engine's ops call

    @property
    def __cuda_array_interface__(self) -> dict:
        """A GPU tensor's device memory, as CuPy takes it (``cupy_array += tensor``, ``cupy.asarray(tensor)``:
        zero-copy). A host tensor has none (AttributeError, so ``hasattr`` says False)."""
        return self.data.__cuda_array_interface__
    __hash__ = object.__hash__

    def __new__(cls, *data: Any, **kwargs: Any) -> Tensor:
        """``mg.Tensor(...)`` as PyTorch's legacy ``torch.Tensor(...)``: ``Tensor([1, 2])`` and ``Tensor(array)``
        give the default float dtype (float32), ``Tensor(2, 3)`` / ``Tensor(size)`` zeros of that shape,
        ``Tensor()`` an empty tensor, ``Tensor(t)`` a tensor sharing ``t``'s array; ``dtype=`` overrides.
        ``mg.tensor(data)`` is the constructor that infers the dtype from the data.

        The tensor is made here, as PyTorch's, so a subclass's ``__init__(self, data, extra)`` need not call
        ``Tensor.__init__`` and its ``__new__`` may return ``super().__new__(cls, data)``. Arguments that are not
        the legacy constructor's go to a subclass's own ``__init__``, which then makes the tensor with
        ``super().__init__(data, ...)`` (minigrad's older style)."""
        tensor = object.__new__(cls)
        try:
            arguments = _constructor_arguments(*data, **kwargs)
        except (TypeError, ValueError) as error:
            if cls.__init__ is Tensor.__init__:
                raise type(error)(f"Tensor(): {error}") from None   # (the message names the argument)
            return tensor   # a subclass's own arguments: its __init__ makes the tensor
        tensor._initialize(*arguments)
        return tensor

    def __init__(self, *data: Any, **kwargs: Any) -> None:
        """Nothing (``__new__`` made the tensor; Python passes ``__init__`` the arguments of a subclass's
        ``__new__`` too, which PyTorch's ``__init__`` takes and ignores), but for a subclass's ``__init__`` calling
        it with arguments (``super().__init__(data, requires_grad=True)``), which makes the tensor from them."""
        if type(self).__init__ is not Tensor.__init__ and (data or kwargs or not _made(self)):
            self._initialize(*_constructor_arguments(*data, **kwargs))

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass defining ``__torch_function__`` or ``__torch_dispatch__`` is refused (NotImplementedError):
        minigrad's ops never call them, so the subclass would silently lose what they do."""
        super().__init_subclass__(**kwargs)
        for hook in ("__torch_function__", "__torch_dispatch__"):
            if hook in cls.__dict__:
                raise NotImplementedError(
                    f"class {cls.__qualname__}: minigrad has no {hook} dispatch (its ops never call it, so what it "
                    f"does would be silently skipped); remove it, or wrap a Tensor instead of subclassing. Results "
                    f"of ops on a Tensor subclass are plain Tensors (PyTorch's with __torch_function__ disabled)")

    @staticmethod
    def _make_subclass(cls: type, data: Tensor, require_grad: bool = False, *args: Any, **kwargs: Any) -> Tensor:
        """PyTorch's ``Tensor._make_subclass(cls, data, require_grad=False)``, with which ``nn.Parameter`` and
        subclasses' ``__new__`` make themselves: a leaf of class ``cls`` sharing ``data``'s array (cut from its
        graph, same shape), requiring grad as asked (only a float or complex tensor may)."""
        if not (isinstance(cls, type) and issubclass(cls, Tensor)):
            raise TypeError("Creating a Tensor subclass from a class that does not inherit from Tensor is not "
                            f"possible (got {cls!r}). Make sure your class inherits from Tensor.")
        if not isinstance(data, Tensor):
            raise TypeError(f"_make_subclass(): argument 'data' must be Tensor, not {type(data).__name__}")
        return cls._make(data.data, False, None, 0).requires_grad_(require_grad)

    @classmethod
    def _new(cls, data: Any, dtype: Any = None, requires_grad: bool = False,
             device: str | Device | None = None) -> Tensor:
        """A leaf from ``data`` with its dtype inferred (``mg.tensor``'s rules) unless ``dtype`` is given."""
        t = object.__new__(cls)
        t._initialize(data, dtype, requires_grad, device)
        return t

    def _initialize(self, data: Any, dtype: Any, requires_grad: Any, device: str | Device | None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        if device is None:
            # a device array stays where it is; host data (NumPy arrays too) goes to the default device, as in PyTorch
            on_gpu = backend.is_array(data) and type(data) is not numpy.ndarray
            device = backend.device_of(data) if on_gpu else backend.get_default_device()
        else:
            device = backend.resolve_device(device)
        if dtype is not None:
            dtype = backend.as_dtype(dtype, "tensor")
            if backend.is_array(data) and not is_tensor_dtype(data.dtype):   # as without dtype (PyTorch's)
                raise ArgumentTypeError(f"tensor: cannot make a tensor from an array of dtype {data.dtype} (numbers "
                                        "only, at most float64 and complex128, as PyTorch; a str, object, datetime "
                                        "or longdouble array is not cast)")
            if dtype.kind in "fc" and (data is None or type(data) in dtypes.SEQUENCES):
                _refuse_none(data)   # NumPy reads None as NaN into a float dtype; PyTorch's parser refuses it
        try:
            if type(data) in dtypes.SEQUENCES and _holds_tensor(data):   # each tensor a 0-d array of its dtype
                data = _tensor_items(data, dtype)
            if dtype is None:
                swapped = isinstance(data, numpy.ndarray) and not data.dtype.isnative   # ">f4" on this machine
                dtype = data.dtype.newbyteorder("=") if swapped else _infer_dtype(data)   # the native dtype
            if dtype is not None and dtype.kind in "iu" and not backend.is_array(data):
                data = _fitting_integers(data, dtype)
            elif dtype is not None and dtype.kind == "b" and not backend.is_array(data):
                _check_readable_numbers(data, dtype)
            if backend.is_array(data) and dtype is not None and data.dtype != dtype:
                data = cast_as_torch(data, dtype)
            array = backend.make_array(data, dtype, device)
        except (TypeError, ValueError) as error:
            if dtype is not None and dtype.kind in "biuf" and not backend.is_array(data):   # a ragged list:
                _check_readable_numbers(data, dtype)   # PyTorch refuses a number before the lengths
            raise backend.reworded(error, f"tensor: cannot make a tensor from this {type(data).__name__} "
                              f"(dtype {dtype!r}): {error}") from error
        if array.dtype.kind not in "biufc" or array.dtype.itemsize > 8 and not is_tensor_dtype(array.dtype):
            # both classes: PyTorch raises RuntimeError for None or an object, TypeError for a str
            raise ArgumentTypeError(f"tensor: cannot make a tensor of dtype {array.dtype} from a "
                                    f"{type(data).__name__} (numbers only, at most float64 and complex128, as PyTorch)")
        self.data = array
        self._grad = None
        self._node = None
        self._index = 0
        self._hooks = None
        self.name = None
        self._requires_grad = False
        if as_bool(requires_grad, "tensor", "requires_grad"):
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data: Any, requires_grad: bool, node: Any, index: int) -> Tensor:
        """Wrap an array without checks (the engine's fast path)."""
        t = object.__new__(cls)
        t.data = data
        t._requires_grad = requires_grad
        t._grad = None
        t._node = node
        t._index = index
        t._hooks = None
        t.name = None
        return t

    # --- attributes ---

    @property
    def shape(self) -> tuple:
        return tuple(self.data.shape)

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> Any:
        return self.data.dtype

    @property
    def device(self) -> Device:
        return backend.device_of(self.data)

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    def __reduce_ex__(self, protocol: Any) -> tuple:
        """``pickle.dumps`` and ``copy.copy``, as PyTorch's: a leaf of this class over the array (``copy.copy``:
        the same memory; pickle: NumPy's copy of the values), with ``requires_grad`` and the attributes a subclass
        keeps in ``__dict__``; the gradient, hooks and graph stay behind (a tensor computed by an op comes back as a
        leaf). A view of a host array (``x.T``, ``x[::2]``, ``x.expand(3, 4)``) travels as PyTorch's does: the
        whole array it views, with its shape, strides and offset, so it loads with the same strides. Tensors
        loaded from one pickle never share memory (PyTorch pickles each tensor's storage on its own), even views
        of one array or x and x.detach(). ``multiprocessing`` sends tensors its own way
        (multiprocessing.reductions)."""
        data, base = self.data, _storage(self.data)
        args = (type(self), _Memory(data), self._requires_grad)
        if type(data) is numpy.ndarray and base is not data:
            layout = (data.shape, data.dtype, data.strides, _address(data) - _address(base), data.flags.writeable)
            args = (type(self), _Memory(base), self._requires_grad, layout)
        return _rebuild_leaf, args, getattr(self, "__dict__", None) or None

    def __deepcopy__(self, memo: dict) -> Tensor:
        """``copy.deepcopy`` of a leaf (a parameter, data): its own array, as PyTorch's. A tensor's ``.grad`` and
        attributes are copied too, a Parameter's are not (torch's ``Parameter.__deepcopy__`` makes a new
        Parameter of the cloned values: a copied model has no grads); hooks never are.
        A tensor computed in a graph is refused with PyTorch's error (copying its graph is not meaningful).
        The copy owns its array, so it is neither a view (``_view``) nor the base of the original's views."""
        if self._node is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                               "protocol at the moment (this tensor came from "
                               f"'{getattr(self._node, 'name', type(self._node).__name__)}'; copy x.detach())")
        parameter = any(cls.__name__ == "Parameter" and cls.__module__.split(".")[0] == "nn"
                        for cls in type(self).__mro__)   # nn.Parameter (the engine never imports nn)
        skipped = {"__weakref__", "__dict__", "_view", "_views", "_hooks", "_post_hooks"} | \
            ({"_grad", "data"} if parameter else set())
        new = object.__new__(type(self))
        memo[id(self)] = new
        new._hooks = None
        for cls in type(self).__mro__:
            for slot in cls.__dict__.get("__slots__", ()):
                if slot not in skipped and hasattr(self, slot):
                    object.__setattr__(new, slot, copy.deepcopy(object.__getattribute__(self, slot), memo))
        if parameter:   # torch's Parameter.__deepcopy__ clones: its copy never shares memory with other copies
            new.data = copy.deepcopy(self.data, {})
            new._grad = None
        else:
            new.data = _deepcopy_sharing(self.data, memo, new.data)
            new.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return new

    # grad_fn (the node that made this tensor, named as PyTorch's) is set by autograd.engine: the names live there

    @property
    def T(self) -> Tensor:
        return self.transpose()

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place and return this tensor (same shape, same memory), as PyTorch's.
        Only a float or complex tensor may require grad (GradTypeError otherwise); a non-leaf may not stop."""
        requires_grad = as_bool(requires_grad, "requires_grad_", "requires_grad")
        if requires_grad and self.data.dtype.kind not in "fc":
            raise GradTypeError(
                f"only floating-point tensors can require gradients; this one is {self.data.dtype} "
                "(integer and bool tensors are for indices and masks)"
            )
        if self._node is not None and not requires_grad:
            raise RuntimeError(f"requires_grad_: {_LEAVES_ONLY}")
        if requires_grad and self.data.dtype.kind == "c":   # the ops it meets are then gated (autograd.engine)
            for begin in COMPLEX_GRAD_BEGINS:
                begin()
        elif requires_grad and self.data.dtype == numpy.float16:   # so they are for float16 (each input's gradient
            for begin in FLOAT16_GRAD_BEGINS:                         # in its dtype)
                begin()
        self._requires_grad = requires_grad
        return self

    @property
    def requires_grad(self) -> bool:
        """Whether ops on this tensor are recorded for backward. Assigning checks, as PyTorch does: a bool,
        on a leaf only (a non-leaf's follows from its inputs), True only for a float or complex dtype."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if not isinstance(value, (bool, numpy.bool_)):
            raise ArgumentTypeError(f"requires_grad must be a bool, got {type(value).__name__}")   # torch's class too
        if self._node is not None:
            raise RuntimeError(f"requires_grad: {_LEAVES_ONLY}")
        self.requires_grad_(bool(value))

    @requires_grad.deleter
    def requires_grad(self) -> None:
        """``del x.requires_grad``: PyTorch's RuntimeError (its setter is handed no bool)."""
        raise RuntimeError("requires_grad must be a bool (del x.requires_grad removes nothing; set it instead)")

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return int(self.data.shape[0])

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise NotOneElementError(f"the truth value of a tensor of shape {self.shape} is ambiguous: "
                                     "only one-element tensors can be used as a condition")
        note_read(self, "bool")   # inside an mg.compile capture: the path may depend on this value
        return bool(self.data)

    def __float__(self) -> float:
        return float(self._real_item("float"))

    def __int__(self) -> int:
        value = self._real_item("int")
        if self.data.dtype.kind == "c" and not -2 ** 63 <= value < 2 ** 63:   # NaN too: PyTorch casts to int64
            raise RuntimeError(f"int(): the complex value {self.item()} cannot be converted to type int64 without "
                               "overflow")
        return int(value)

    def _real_item(self, caller: str) -> Any:
        """``item()``, with a complex value read as PyTorch's ``float(z)``/``int(z)`` read it: its real part when the
        imaginary part is 0, else ArgumentTypeError (PyTorch's RuntimeError, Python's TypeError for a complex)."""
        value = self.item()
        if isinstance(value, complex):
            if value.imag != 0:
                raise ArgumentTypeError(f"{caller}(): the complex value {value} cannot be converted to a real "
                                        "number (its imaginary part is not 0; use .real or .abs())")
            return value.real
        return value

    def __complex__(self) -> complex:
        return complex(self.item())

    def __index__(self) -> int:
        if self.data.dtype.kind not in "biu" or self.data.size != 1:
            raise TypeError(
                f"only integer or bool tensors of one element can be used as an index, got {self.dtype}{self.shape}"
            )
        return int(self.item())

    def __iter__(self) -> Any:
        """The rows: ``self.unbind(0)``, as PyTorch's (views sharing this tensor's memory, recorded as one
        UnbindBackward0 node, which refuses an in-place change of a row while recording); a 0-d tensor has none."""
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __reversed__(self) -> Tensor:
        """``reversed(x)``: ``x`` flipped along dim 0 (a 0-d tensor: itself), as PyTorch's."""
        return self if self.data.ndim == 0 else self.flip(0)

    def __contains__(self, element: Any) -> bool:
        """``v in x``: whether any element of ``x`` equals ``v`` (a number or a Tensor, broadcast), as PyTorch's."""
        if not isinstance(element, (Tensor, numbers.Number)):
            raise ContainsTypeError(f"Tensor.__contains__ only supports Tensor or scalar, but you passed in a "
                                    f"{type(element)}.")
        return bool((self == element).any().item())

    @property
    def retains_grad(self) -> bool:
        """Whether this non-leaf keeps its ``.grad`` after backward (``retain_grad()`` was called); False for leaves."""
        node = self._node
        if node is None or not node.retained:
            return False
        ref = node.retained.get(self._index)
        return ref is not None and ref() is self

    # --- dtype, device and memory, as PyTorch names them ---

    def is_floating_point(self) -> bool:
        """Whether the dtype is a float dtype (float16/32/64)."""
        return self.data.dtype.kind == "f"

    def is_complex(self) -> bool:
        """Whether the dtype is a complex dtype."""
        return self.data.dtype.kind == "c"

    def is_signed(self) -> bool:
        """Whether the dtype holds negative values: signed integers, floats and complex (not bool, not uint)."""
        return self.data.dtype.kind in "ifc"

    @property
    def is_cuda(self) -> bool:
        return type(self.data) is not numpy.ndarray

    @property
    def is_cpu(self) -> bool:
        return type(self.data) is numpy.ndarray

    def get_device(self) -> int:
        """The CUDA device index, or -1 on the CPU (PyTorch's)."""
        return -1 if type(self.data) is numpy.ndarray else int(self.device.index)

    @property
    def itemsize(self) -> int:
        """Bytes per element."""
        return int(self.data.itemsize)

    @property
    def nbytes(self) -> int:
        """Bytes of the elements (``numel() * itemsize``; a broadcast view counts its elements)."""
        return int(self.data.size * self.data.itemsize)

    def stride(self, dim: int | None = None, *, axis: int | None = None) -> Any:
        """The strides in elements (NumPy's byte strides / itemsize): a tuple, or one int for ``dim`` (``axis=`` is
        PyTorch's alias of ``dim=``).

        NumPy's may be negative (a flipped view), which a PyTorch stride never is. A host array's size-1 dims have
        PyTorch's strides (the view ops set them: ``x[None]``, ``expand``), and any stride ``as_strided`` gives
        them; on a GPU, a size-1 dim CuPy gives a 0 stride (``x[None]``, a new dim of ``expand``) reads as
        PyTorch's unsqueeze gives it: the next dim's ``stride * size``, or 1 for the last dim. A zero-size array
        NumPy allocates has all strides 0; it reads as PyTorch's contiguous strides (``mg.zeros(0, 3).stride()`` is
        ``(3, 1)``; a transpose of one reads as the contiguous strides of its own shape, where PyTorch's keeps the
        permuted ones).
        """
        strides = [s // self.data.itemsize for s in self.data.strides]
        shape = self.data.shape
        if self.data.size == 0 and not any(strides):
            strides = [math.prod(max(n, 1) for n in shape[d + 1:]) for d in range(len(shape))]
        for d in reversed(range(len(strides)) if type(self.data) is not numpy.ndarray else ()):
            if shape[d] == 1 and strides[d] == 0:
                strides[d] = 1 if d == len(strides) - 1 else strides[d + 1] * shape[d + 1]
        strides = tuple(strides)
        if axis is not None:
            if dim is not None:
                raise TypeError("stride() got multiple values for argument 'dim' (axis= is its alias)")
            dim = axis
        if dim is None:
            return strides
        return strides[self._dim(dim, "stride")]

    def storage_offset(self) -> int:
        """How many elements this tensor's first element lies past the start of the memory it views."""
        return (_address(self.data) - _address(_storage(self.data))) // self.data.itemsize

    def data_ptr(self) -> int:
        """The address of the first element (host memory, or device memory for a CUDA tensor)."""
        return _address(self.data)

    const_data_ptr = data_ptr   # PyTorch's read-only spelling: the same address

    def is_same_size(self, other: Tensor) -> bool:
        """Whether ``other`` has the same shape."""
        if not isinstance(other, Tensor):
            raise TypeError(f"is_same_size(): argument 'other' must be Tensor, not {type(other).__name__}")
        return self.data.shape == other.data.shape

    def _dim(self, dim: Any, name: str) -> int:
        """``dim`` as an index into the shape (negative counts from the end); out of range: PyTorch's IndexError."""
        ndim = self.data.ndim
        if isinstance(dim, bool) or not isinstance(dim, (int, numpy.integer)):
            raise TypeError(f"{name}(): argument 'dim' must be int, not {type(dim).__name__}")
        if ndim == 0:
            raise IndexError(f"{name}: dimension specified as {dim} but the tensor has no dimensions")
        if not -ndim <= dim < ndim:
            raise IndexError(f"{name}: dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], "
                             f"but got {dim})")
        return int(dim) % ndim

    # --- autograd (backward, register_hook, retain_grad: attached by minigrad.autograd) ---

    def detach(self) -> Tensor:
        """The same array, cut from the graph (no copy)."""
        # a recorded draw: inside mg.compile a replay passes on that call's array, not the capture's
        return note_draw("detach", _same_array, (self,), Tensor._make(self.data, False, None, 0))

    def detach_(self) -> Tensor:
        """Cut this tensor from the graph in place (PyTorch's ``detach_``). A view tracked for autograd is refused,
        as PyTorch's; for a non-leaf, a backward through an op that saved its array as an input raises, as
        PyTorch's ("a saved tensor that has been detached in-place"), instead of reading an array that left the
        graph. The op that made it still reads it, as PyTorch's (exp, sigmoid, tanh, relu save their output)."""
        if getattr(self, "_view", None):   # base[i], x.view(...) … made while recording, or under no_grad
            raise RuntimeError(f"detach_: can't detach views in-place (shape {self.shape}). Use detach() instead.")
        if self._node is not None and self._requires_grad:
            INPLACE.detach(self.data, self._node)   # a saved input raises at backward; its op's saved output not
        self._node = None
        self._index = 0
        self._requires_grad = False
        return self

    def zero_grad_(self) -> None:
        """Drop the accumulated gradient (``.grad`` becomes None, not a zero tensor of this shape)."""
        self._grad = None

    @property
    def grad(self) -> Tensor | None:
        """The gradient backward accumulated into this tensor (a leaf, or a non-leaf after ``retain_grad()``),
        or None. Assigning checks, as PyTorch does: a Tensor of this shape, dtype and device, or None.
        Reading it on a non-leaf that does not retain its gradient warns, as PyTorch's (it stays None)."""
        grad = self._grad
        if grad is None and self._node is not None and not self.retains_grad:
            warnings.warn("The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
                          "attribute won't be populated during backward(). If you want the gradient of a non-leaf "
                          "Tensor, call .retain_grad() on it before backward(), or use mg.autograd.grad.",
                          UserWarning, stacklevel=2)
        return grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type "
                                f"{type(value).__module__}.{type(value).__qualname__}")
            if value is self:   # backward would add each gradient into the tensor's own values
                raise RuntimeError(f"can't assign a Tensor as its own grad (shape {self.shape}): assign a copy, "
                                   "x.grad = x.detach().clone()")
            if value.shape != self.shape:
                raise RuntimeError(f"attempting to assign a gradient of shape {value.shape} to a tensor of shape "
                                   f"{self.shape}. Please ensure that the gradient and the tensor are the same size")
            if value.dtype != self.dtype:
                raise RuntimeError(f"attempting to assign a gradient with dtype {value.dtype} to a tensor with "
                                   f"dtype {self.dtype}; the gradient must match the tensor's dtype")
            if value.device != self.device:
                raise RuntimeError(f"attempting to assign a gradient on {value.device} to a tensor on "
                                   f"{self.device}; the gradient must be on the tensor's device")
        self._grad = value

    @grad.deleter
    def grad(self) -> None:
        """``del x.grad``: drops the gradient (``.grad`` becomes None), as PyTorch's."""
        self._grad = None

    @property
    def _version(self) -> int:
        """How many in-place ops changed this tensor's memory (shared with its views and ``detach()``)."""
        return INPLACE.version(self.data)

    def _bump_version(self) -> None:
        """Called by every in-place op after it changed ``.data``: backward then refuses saved arrays
        that changed since their op recorded them. Writing ``.data`` directly is not tracked."""
        INPLACE.bump(self.data)
        for told in INPLACE_CHANGES:
            told(self)

    # --- conversion ---

    def item(self) -> Any:
        """The value of a one-element tensor (any shape with ``numel() == 1``) as a Python number;
        NotOneElementError (a RuntimeError and ValueError) for any other shape."""
        if self.data.size != 1:
            raise NotOneElementError(
                f"item: only one-element tensors can be converted to a Python scalar, got shape {self.shape}"
            )
        note_read(self, "item")
        return backend.to_numpy(self.data).reshape(()).item()

    def numpy(self, *, force: bool = False) -> numpy.ndarray:
        """A host ``numpy.ndarray`` (the same memory on CPU, a copy from a GPU); ``force`` is PyTorch's
        keyword (minigrad never refuses: a tensor that requires grad gives its values too)."""
        note_read(self, "numpy")
        return backend.to_numpy(self.data)

    def tolist(self) -> Any:
        """The values as nested Python lists, one level per dim (a 0-d tensor gives a scalar)."""
        return self.numpy().tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> numpy.ndarray:
        """NumPy's protocol: ``numpy.asarray(x)`` shares a host tensor's memory (as PyTorch's), ``numpy.array(x)``
        (``copy=True``) is a copy the tensor never sees, as PyTorch's; ``copy=False`` where a copy is needed (a GPU
        tensor, another dtype) raises NumPy's ValueError. Lists of tensors given to ``mg.tensor`` read this too."""
        array = self.numpy()
        shared = type(self.data) is numpy.ndarray and (dtype is None or numpy.dtype(dtype) == array.dtype)
        if copy is False and not shared:
            raise ValueError(f"Unable to avoid copy while creating an array as requested (a tensor on {self.device} "
                             f"of dtype {self.dtype}, asked for dtype {dtype}); use numpy.asarray(x) to allow a copy")
        if dtype is not None:
            array = array.astype(dtype, copy=bool(copy))
        return array.copy(order="K") if copy and shared and dtype is None else array   # the layout kept, as PyTorch's

    def __array_wrap__(self, array: Any, context: Any = None, return_scalar: bool = False) -> Tensor:
        """The result of a NumPy function that computed on ``numpy.asarray(x)`` (``numpy.round(x)``,
        ``numpy.reshape(x, -1)``, ``numpy.linalg.inv(x)``) as a Tensor, as PyTorch's ``__array_wrap__`` gives it
        (bools as uint8); refused for a tensor that requires grad, whose graph NumPy cannot continue (PyTorch's
        RuntimeError: its ``numpy()`` refuses such a tensor), and for a GPU tensor (TypeError, as PyTorch's)."""
        if self._requires_grad:
            raise ArgumentTypeError("a NumPy function was called on a tensor that requires grad (NumPy records "
                                    "nothing for backward); use the tensor's own op, or tensor.detach()")
        if type(self.data) is not numpy.ndarray:   # PyTorch's TypeError: a device tensor is not NumPy's to read
            raise TypeError(f"a NumPy function was called on a tensor on {self.device}; use the tensor's own op, "
                            "or tensor.cpu() first")
        return _from_ufunc(array)

    def cpu(self, *, memory_format: Any = None) -> Tensor:
        """This tensor on the CPU: itself when already there (in ``memory_format``), else a copy of the same shape
        (recorded for backward)."""
        return self.to("cpu", memory_format=memory_format)

    def cuda(self, device: Any = None, non_blocking: bool = False, *, memory_format: Any = None) -> Tensor:
        """This tensor on a GPU (``device``: None for the current one, an index, ``"cuda:1"`` or an ``mg.device``),
        same shape; RuntimeError without CuPy or a GPU. ``non_blocking`` as in :meth:`to`."""
        if device is None or (isinstance(device, int) and not isinstance(device, bool)):
            target = Device("cuda" if device is None else f"cuda:{device}")
        else:
            target = Device(device)
            if target.type != "cuda":   # PyTorch's RuntimeError
                raise RuntimeError(f"Tensor.cuda: Invalid device, must be cuda device, got {target}")
        return self.to(target, non_blocking=non_blocking, memory_format=memory_format)

    def float(self, memory_format: Any = None) -> Tensor:
        """``self.to(float32)``: same shape, itself when already float32."""
        return self.to(memory_format=memory_format, dtype=float32)

    def double(self, memory_format: Any = None) -> Tensor:
        """``self.to(float64)``: same shape, itself when already float64."""
        return self.to(memory_format=memory_format, dtype=float64)

    def long(self, memory_format: Any = None) -> Tensor:
        """``self.to(int64)``: same shape, itself when already int64 (floats truncate toward zero)."""
        return self.to(memory_format=memory_format, dtype=int64)

    def short(self, memory_format: Any = None) -> Tensor:
        """``self.to(int16)``: same shape, itself when already int16."""
        return self.to(memory_format=memory_format, dtype=dtypes.int16)

    def char(self, memory_format: Any = None) -> Tensor:
        """``self.to(int8)``: same shape, itself when already int8."""
        return self.to(memory_format=memory_format, dtype=dtypes.int8)

    def byte(self, memory_format: Any = None) -> Tensor:
        """``self.to(uint8)``: same shape, itself when already uint8."""
        return self.to(memory_format=memory_format, dtype=dtypes.uint8)

    def cfloat(self, memory_format: Any = None) -> Tensor:
        """``self.to(complex64)``: same shape, itself when already complex64."""
        return self.to(memory_format=memory_format, dtype=dtypes.complex64)

    def cdouble(self, memory_format: Any = None) -> Tensor:
        """``self.to(complex128)``: same shape, itself when already complex128."""
        return self.to(memory_format=memory_format, dtype=dtypes.complex128)

    def astype(self, dtype: Any) -> Tensor:
        """NumPy's spelling of ``self.to(dtype)``: same shape, the given dtype (a minigrad or NumPy dtype)."""
        return self.to(dtype=backend.as_dtype(dtype, "astype"))

    def __format__(self, format_spec: str) -> str:
        """PyTorch's: a plain 0-d tensor formats as its value (``f"{loss:.4f}"``); any other
        tensor (a Parameter too) only with an empty spec, as ``str(tensor)``."""
        if self.data.ndim == 0 and type(self) is Tensor:
            return format(self.item(), format_spec)
        return object.__format__(self, format_spec)

    def __repr__(self) -> str:
        return tensor_repr(self)


class _Memory:
    """The array a pickled tensor views. ``copy.copy`` keeps this object (the copy shares the memory, as PyTorch's);
    pickle writes a new view of the array for each tensor, so NumPy's pickle does not memoize one array for two
    tensors and the loaded tensors do not share memory, as PyTorch's."""

    __slots__ = ("array",)

    def __init__(self, array: Any) -> None:
        self.array = array

    def __reduce__(self) -> tuple:
        return _Memory, (self.array.view(),)


def _rebuild_leaf(cls: type, memory: _Memory, requires_grad: bool, layout: tuple | None = None) -> Tensor:
    """``Tensor.__reduce_ex__``'s other half: a leaf of class ``cls`` (a Parameter stays one) over ``memory``'s
    array, or over the view of it that ``layout`` (shape, dtype, byte strides, byte offset, writeable) describes."""
    data = memory.array
    if layout is not None:
        shape, dtype, strides, offset, writeable = layout
        data = numpy.ndarray(shape, dtype, buffer=data, offset=offset, strides=strides)
        data.flags.writeable = writeable
    tensor = cls._make(data, False, None, 0)
    return tensor.requires_grad_(True) if requires_grad else tensor


def _storage(array: Any) -> Any:
    """The array that owns the memory ``array`` views (``array`` itself when it owns its memory)."""
    base, parent = array, array.base
    while parent is not None:   # NumPy's as_strided (unfold) puts a non-array wrapper between a view and its base
        if backend.is_array(parent):
            base = parent
        parent = getattr(parent, "base", None)
    return base


def _address(array: Any) -> int:
    """Where ``array``'s first element is in memory (a NumPy or CuPy array)."""
    if type(array) is numpy.ndarray:
        return int(array.__array_interface__["data"][0])
    return int(array.data.ptr)


def _same_array(array: Any) -> Any:
    """``detach``'s replay: the input's array itself."""
    return array
