"""Dtypes as PyTorch handles them: the default float dtype, promotion, casting and ``finfo``/``iinfo``.

``mg.float32`` … are NumPy's dtypes (named here; :mod:`minigrad.tensor` re-exports them).
``mg.set_default_dtype(mg.float64)`` changes what Python floats become (``mg.tensor([1.5])``) and
the dtype of the float constructors (``zeros``, ``ones``, ``full``, ``randn``, ``rand``, ``arange``
with float bounds …), as ``torch.set_default_dtype``; Python complex numbers follow it (complex64,
or complex128 under float64). Arrays keep their dtype.

:func:`promote_types` and :func:`can_cast` are PyTorch's tables, not NumPy's where they differ: an integer with a
float gives that float (``int64`` with ``float16`` is ``float16``; NumPy says ``float64``). :func:`result_type`
answers what minigrad's arithmetic gives, NumPy 2's promotion (DESIGN §3): a Python number is weak, a 0-d
tensor and a NumPy scalar are not (``int32 tensor + 2.5`` is float64; PyTorch's float32).
:func:`torch_result_type` is PyTorch's rule (a dimensioned tensor outranks a 0-d tensor, which outranks a
Python number, within a category: bool < integer < float < complex), for the ops that keep PyTorch's dtype.

This module imports no other part of minigrad but :mod:`minigrad.arguments`: the tensor module reads
the default from here.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy

from .arguments import NO_BFLOAT16, as_dtype

__all__ = ["bfloat16", "can_cast", "cdouble", "cfloat", "complex64", "complex128", "dtype", "finfo",
           "get_default_dtype", "iinfo", "int8", "int16", "promote_types", "result_type", "set_default_dtype", "short",
           "uint8", "uint16", "uint32", "uint64"]

float16 = numpy.dtype("float16")
float32 = numpy.dtype("float32")
float64 = numpy.dtype("float64")
complex64 = numpy.dtype("complex64")
complex128 = numpy.dtype("complex128")
int32 = numpy.dtype("int32")
int64 = numpy.dtype("int64")
bool_ = numpy.dtype("bool")
# the rest of PyTorch's dtype names that NumPy has (bfloat16 it has not), with PyTorch's aliases
int8, uint8, int16 = numpy.dtype("int8"), numpy.dtype("uint8"), numpy.dtype("int16")
uint16, uint32, uint64 = numpy.dtype("uint16"), numpy.dtype("uint32"), numpy.dtype("uint64")
short, cfloat, cdouble = int16, complex64, complex128   # PyTorch's aliases
# torch.dtype, the class of every dtype name above: `isinstance(d, mg.dtype)` and annotations `dtype: mg.dtype`
dtype = numpy.dtype


class bfloat16:  # noqa: N801 - PyTorch's name
    """PyTorch's bfloat16, which NumPy has no dtype for: a program that names ``mg.bfloat16`` loads, and asking for
    it as a dtype (``dtype=mg.bfloat16``, ``x.to(mg.bfloat16)``, ``"bfloat16"``) raises a TypeError saying so."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(f"bfloat16: {NO_BFLOAT16}")

# What Python floats and complex numbers become; set_default_dtype changes both together.
_default_float = float32
_default_complex = complex64
_COMPLEX_OF = {float16: complex64, float32: complex64, float64: complex128}   # NumPy has no complex32


def get_default_dtype() -> numpy.dtype:
    """The dtype Python floats and the float constructors give: ``mg.float32`` unless set."""
    return _default_float


def default_complex_dtype() -> numpy.dtype:
    """The dtype Python complex numbers become: complex64, or complex128 when the default is float64."""
    return _default_complex


def set_default_dtype(d: Any) -> None:
    """Make ``d`` the default float dtype (``mg.float32``, ``mg.float64`` or ``mg.float16``), as PyTorch's.

    Anything but a float dtype raises PyTorch's TypeError. Under float16, Python complex numbers
    become complex64 (PyTorch's complex32 has no NumPy dtype).
    """
    global _default_float, _default_complex
    dtype = as_dtype(d, "set_default_dtype")
    if dtype not in _COMPLEX_OF:
        raise TypeError(f"set_default_dtype: only floating-point types are supported as the default type, "
                        f"got {dtype} (use mg.float32 or mg.float64)")
    _default_float, _default_complex = dtype, _COMPLEX_OF[dtype]


# --- promotion ----------------------------------------------------------------------------------

def _is_wide_unsigned(dtype: numpy.dtype) -> bool:
    return dtype.kind == "u" and dtype.itemsize > 1


def promote_types(type1: Any, type2: Any) -> numpy.dtype:
    """The smallest dtype both ``type1`` and ``type2`` convert to, by PyTorch's table.

    PyTorch's where it differs from NumPy's: a bool or integer dtype with a float or complex dtype
    gives that float or complex dtype. uint16/32/64 promote only with themselves and with floats;
    any other pair with one of them raises PyTorch's RuntimeError.
    """
    a, b = as_dtype(type1, "promote_types"), as_dtype(type2, "promote_types")
    if a == b:
        return a
    if _is_wide_unsigned(a) or _is_wide_unsigned(b):
        other = b if _is_wide_unsigned(a) else a
        if other.kind != "f":
            raise RuntimeError(f"promote_types: promotion for uint16, uint32, uint64 types is not supported, "
                               f"attempted to promote {a} and {b}")
        return other
    a_float, b_float = a.kind in "fc", b.kind in "fc"
    if a_float != b_float:
        return a if a_float else b
    return numpy.promote_types(a, b)


def can_cast(from_: Any, to: Any) -> bool:
    """Whether PyTorch's casting rules allow an in-place op to write a ``from_`` result into ``to``.

    Only a change of category downwards is refused: complex to non-complex, float to integer, and
    anything but bool to bool (``float64`` to ``float32`` is allowed, as in PyTorch).
    """
    a, b = as_dtype(from_, "can_cast"), as_dtype(to, "can_cast")
    if a.kind == "c" and b.kind != "c":
        return False
    if a.kind == "f" and b.kind in "biu":
        return False
    return not (a.kind != "b" and b.kind == "b")


def _category_result(higher: numpy.dtype | None, lower: numpy.dtype | None) -> numpy.dtype | None:
    """PyTorch's ``combine_categories``: ``higher`` (a higher priority operand class) wins within a category."""
    if higher is not None and higher.kind == "c":
        return higher
    if lower is not None and lower.kind == "c":
        if higher is None or higher.kind != "f":
            return lower
        if higher not in _COMPLEX_OF or higher == float16:
            raise TypeError(f"result_type: the result would be the complex type of {higher} (PyTorch's complex32 "
                            "for float16), which NumPy does not have")
        return _COMPLEX_OF[higher]
    if higher is None:
        return lower
    if higher.kind == "f":
        return higher
    if higher.kind == "b" or (lower is not None and lower.kind == "f"):
        return higher if lower is None else promote_types(higher, lower)
    return higher


def _operand_dtype(x: Any) -> tuple[str, numpy.dtype]:
    """``(class, dtype)`` of a result_type operand: a dimensioned tensor or array, a 0-d one, or a number.

    NumPy scalars count as Python numbers of their kind, as PyTorch reads them.
    """
    if isinstance(x, numpy.generic):
        x = {"b": True, "i": 0, "u": 0, "f": 0.0, "c": 0j}.get(x.dtype.kind, x)
    if isinstance(x, bool):
        return "number", bool_
    if isinstance(x, int):
        return "number", int64
    if isinstance(x, float):
        return "number", _default_float
    if isinstance(x, complex):
        return "number", _default_complex
    dtype, ndim = getattr(x, "dtype", None), getattr(x, "ndim", None)   # a Tensor or a NumPy/CuPy array
    if isinstance(dtype, numpy.dtype) and isinstance(ndim, int) and not isinstance(x, numpy.generic):
        return ("dimensioned" if ndim > 0 else "zero_dim"), dtype
    raise TypeError(f"result_type: expected a Tensor or a number, got {type(x).__name__}")


_PYTHON_NUMBERS = (bool, int, float, complex)


def _two_operands(name: str, *given: Any) -> list:
    operands = [x for x in given if x is not None]
    if len(operands) != 2:
        raise TypeError(f"{name}: expected two operands (tensor and other, scalar and tensor, or scalar1 and "
                        f"scalar2), got {len(operands)}")
    return operands


def result_type(tensor: Any = None, other: Any = None, *, scalar: Any = None, scalar1: Any = None,
                scalar2: Any = None) -> numpy.dtype:
    """The dtype minigrad's arithmetic (``tensor + other``) gives: NumPy 2's promotion (DESIGN §3), PyTorch's
    other spellings ``result_type(scalar=, tensor=)`` and ``result_type(scalar1=, scalar2=)`` too.

    Each is a Tensor (an array), a 0-d one, a NumPy scalar or a Python number. A Python number is weak: it takes
    the other operand's dtype within its category (``int32 tensor + 2`` is int32, ``float16 tensor + 2.5``
    float16) and NumPy's default of a higher one (``int32 tensor + 2.5`` is float64, where PyTorch's
    :func:`torch_result_type` says float32); a 0-d tensor and a NumPy scalar promote as a tensor does
    (``float32 tensor + float64 0-d`` is float64). Two Python numbers give PyTorch's dtype (a float the
    default dtype), as ``mg.add(2, 2.5)``; so do two NumPy scalars, read as Python numbers there.
    """
    operands = _two_operands("result_type", tensor, other, scalar, scalar1, scalar2)
    if all(isinstance(x, (*_PYTHON_NUMBERS, numpy.generic)) for x in operands):
        return torch_result_type(*operands)   # no tensor: the numbers' PyTorch dtype, as mg.add(2, 2.5) takes
    weak = [isinstance(x, _PYTHON_NUMBERS) and not isinstance(x, numpy.generic) for x in operands]   # not np.float64
    return numpy.result_type(*(x if w else x.dtype if isinstance(x, numpy.generic) else _operand_dtype(x)[1]
                               for x, w in zip(operands, weak)))


def torch_result_type(tensor: Any = None, other: Any = None, *, scalar: Any = None, scalar1: Any = None,
                      scalar2: Any = None) -> numpy.dtype:
    """The dtype PyTorch's arithmetic on ``tensor`` and ``other`` gives (``torch.result_type``), for the ops that
    keep PyTorch's dtype (``ldexp``, ``where`` of two numbers, the special polynomials).

    Each is a Tensor (an array), a 0-d one or a Python number. Within a category (bool < integer
    < float < complex) the dtype of a dimensioned tensor wins over a 0-d tensor's, which wins over
    a number's; a higher category wins anyway (a Python float is the default float dtype). So
    ``torch_result_type(int32 tensor of shape (3,), 1.5)`` is float32 and ``torch_result_type(int32 (3,),
    int64 0-d)`` is int32.
    """
    operands = _two_operands("result_type", tensor, other, scalar, scalar1, scalar2)
    best: dict[str, numpy.dtype | None] = {"dimensioned": None, "zero_dim": None, "number": None}
    for x in operands:
        kind, dtype = _operand_dtype(x)
        best[kind] = dtype if best[kind] is None else promote_types(best[kind], dtype)
    result = _category_result(best["dimensioned"], _category_result(best["zero_dim"], best["number"]))
    assert result is not None   # two operands, each gave a dtype
    return result


# --- what torch.tensor infers from a nested list ------------------------------------------------

_INT64_MIN, _INT64_MAX = -(2 ** 63), 2 ** 63 - 1


# the Python sequences ``torch.tensor`` reads element by element (a deque of returns, as pytorch/examples'
# reinforce.py builds them, is float32 there, not NumPy's float64)
SEQUENCES = (list, tuple, deque, range)


def sequence_dtype(data: list | tuple | deque | range, name: str = "tensor") -> numpy.dtype | None:
    """The dtype ``torch.tensor(data)`` gives a nested list, tuple, deque or range: each element's dtype promoted by
    :func:`promote_types` (a Python bool is bool, an int int64, a float the default dtype, a complex
    its complex counterpart; a NumPy scalar, an array or a Tensor keeps its own dtype), so
    ``[np.float64(1), 2.0]`` and a list of float64 0-d tensors give float64 and ``[True, 2]`` int64.

    An empty sequence gives the default dtype; an element of another kind (a string, None …) gives
    None (the array maker then names the problem). A 0-d NumPy array among the elements, or a NumPy bool where the
    result is an integer dtype, raises PyTorch's TypeError. A Python int outside int64 raises
    :class:`IntegerOverflowError`, as PyTorch's, unless a float or complex number makes the result a float or
    complex dtype (``[1.5, 2 ** 63]`` is float32 there).
    """
    result: numpy.dtype | None = None
    too_big: int | None = None   # a Python int outside int64, fine if the result is a float or complex dtype
    numpy_bool = False   # a NumPy bool among them: PyTorch's parser cannot read it as an integer
    pending: list = [data]
    while pending:
        seq = pending.pop()
        found: set = set()
        if not len(seq):
            found.add(_default_float)
        for kind in set(map(type, seq)):
            items = [v for v in seq if type(v) is kind]
            if kind not in _PYTHON_NUMBERS and issubclass(kind, (int, float, complex)) \
                    and not issubclass(kind, numpy.generic):   # an IntEnum member, a float subclass: its base
                kind = next(base for base in _PYTHON_NUMBERS[1:] if issubclass(kind, base))
            if kind in SEQUENCES:
                pending.extend(items)
            elif kind is bool:
                found.add(bool_)
            elif kind is int:
                if min(items) < _INT64_MIN or max(items) > _INT64_MAX:
                    too_big = max(items, key=abs)
                found.add(int64)
            elif kind is float:
                found.add(_default_float)
            elif kind is complex:
                found.add(_default_complex)
            elif all(isinstance(getattr(v, "dtype", None), numpy.dtype) for v in items):
                if kind is numpy.ndarray and any(v.ndim == 0 for v in items):   # PyTorch reads each as a sequence
                    raise TypeError(f"{name}: len() of unsized object (a 0-d NumPy array in a list, as PyTorch "
                                    "refuses: use .item() or one array)")
                numpy_bool = numpy_bool or kind is numpy.bool_
                found.update(v.dtype for v in items)   # NumPy scalars and arrays, CuPy arrays, Tensors
            else:
                return None
        for dtype in found:
            if dtype.kind not in "biufc":
                return None
            result = dtype if result is None else promote_types(result, dtype)
    if numpy_bool and result is not None and result.kind in "iu":
        raise TypeError(f"{name}: 'numpy.bool' object cannot be interpreted as an integer (a NumPy bool among "
                        "integers, as PyTorch's parser refuses: use bool() or a dtype)")
    if too_big is not None and result is not None and result.kind not in "fc":
        raise IntegerOverflowError(f"{name}: the integer {too_big} does not fit in int64 (PyTorch's ValueError "
                                   "'Overflow when unpacking long long')")
    return result


class IntegerOverflowError(OverflowError, ValueError):
    """A Python int that does not fit in int64 where a tensor needs it as an integer: PyTorch's ValueError
    ("Overflow when unpacking long long"), and Python's OverflowError."""


# --- machine limits -----------------------------------------------------------------------------

class finfo:  # noqa: N801 - PyTorch's name
    """Machine limits of a float dtype (the default dtype when none is given), as ``torch.finfo``.

    Attributes (Python numbers): ``bits``, ``eps`` (1.0's gap to the next float), ``max``, ``min``,
    ``tiny`` = ``smallest_normal``, ``resolution`` (10 ** -decimal digits) and ``dtype`` (the name,
    ``'float32'``). A complex dtype gives its real part's limits, as in PyTorch.
    """

    bits: int
    eps: float
    max: float
    min: float
    tiny: float
    smallest_normal: float
    resolution: float
    dtype: str

    def __init__(self, type: Any = None) -> None:  # noqa: A002 - PyTorch's name
        dtype = _default_float if type is None else as_dtype(type, "finfo")
        if dtype.kind not in "fc":
            raise TypeError(f"finfo: requires a floating point dtype, got {dtype}; use mg.iinfo for integers")
        info = numpy.finfo(dtype)
        self.bits = int(info.bits)
        self.eps, self.max, self.min = float(info.eps), float(info.max), float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -int(info.precision)
        self.dtype = str(info.dtype)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, finfo) and other.dtype == self.dtype

    def __hash__(self) -> int:
        return hash(("finfo", self.dtype))

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:  # noqa: N801 - PyTorch's name
    """Limits of an integer dtype, as ``torch.iinfo``: ``bits``, ``max``, ``min`` (Python ints) and
    ``dtype`` (the name). bool and float dtypes raise a TypeError, as in PyTorch."""

    bits: int
    max: int
    min: int
    dtype: str

    def __init__(self, type: Any) -> None:  # noqa: A002 - PyTorch's name
        dtype = as_dtype(type, "iinfo")
        if dtype.kind not in "iu":
            raise TypeError(f"iinfo: requires an integer dtype, got {dtype}"
                            + ("; use mg.finfo for floats" if dtype.kind in "fc" else ""))
        info = numpy.iinfo(dtype)
        self.bits, self.max, self.min, self.dtype = int(info.bits), int(info.max), int(info.min), str(info.dtype)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, iinfo) and other.dtype == self.dtype

    def __hash__(self) -> int:
        return hash(("iinfo", self.dtype))

    def __repr__(self) -> str:
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"
