"""Checks of user arguments shared by the engine: dtypes, yes/no flags, and NumPy errors re-raised with an op's name.

Every public function validates what it is given and names itself in the error, so a bad argument
never surfaces as a NumPy error from deep inside (``tests/test_fuzz.py`` checks that).
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Sequence

import numpy

NUMERIC_KINDS = "biufc"   # bool, signed and unsigned int, float, complex: the dtype kinds a Tensor may hold


def is_tensor_dtype(dt: numpy.dtype) -> bool:
    """Whether a Tensor may hold ``dt``: PyTorch's kinds (bool, ints, floats, complex), floats up to 64 bits and
    complex numbers up to 128 (NumPy's longdouble and clongdouble have no PyTorch dtype)."""
    return dt.kind in NUMERIC_KINDS and dt.itemsize <= (8 if dt.kind == "f" else 16)
NO_BFLOAT16 = ("NumPy (and so minigrad, on CPU and CuPy alike) has no bfloat16 dtype; use float16 (mg.half) or "
               "float32 (mg.float) instead")


def reworded(error: Exception, message: str) -> Exception:
    """An exception of ``error``'s type carrying ``message`` (to re-raise a NumPy error with the op's name).

    Some of NumPy's error types take more than a message (``_UFuncNoLoopError(ufunc, dtypes)``, raised by
    ``tensor < ""``): those become the builtin type they derive from, so the re-raise itself cannot fail.
    """
    try:
        return type(error)(message)
    except Exception:  # noqa: BLE001 - any constructor signature
        kind = next((k for k in (IndexError, TypeError, ValueError) if isinstance(error, k)), ValueError)
        return kind(message)


def as_dtype(dtype: Any, caller: str) -> numpy.dtype:
    """A user's ``dtype=`` (``mg.float32``, ``numpy.int64``, ``float``, ``"float64"``) as a numeric numpy.dtype.

    Anything else raises a TypeError naming ``caller``: ``numpy.dtype`` itself would read ``[]`` as an
    empty record type, an array's ``.dtype`` attribute as its dtype, and ``","`` as Python syntax.
    """
    if not isinstance(dtype, (numpy.dtype, str, type)):
        if "bfloat16" in str(dtype):   # torch.bfloat16 itself
            raise TypeError(f"{caller}: {NO_BFLOAT16}")
        raise TypeError(f"{caller}: dtype must be a dtype such as mg.float32 or 'int64', "
                        f"got {type(dtype).__name__} {dtype!r:.40}")
    try:
        dt = numpy.dtype(dtype)
    except Exception:  # noqa: BLE001 - TypeError, and SyntaxError for some strings
        if "bfloat16" in str(dtype):   # "bfloat16", "torch.bfloat16"
            raise TypeError(f"{caller}: {NO_BFLOAT16}") from None
        raise TypeError(f"{caller}: {dtype!r:.40} is not a dtype (use mg.float32, mg.int64, 'float64' ...)") from None
    if dt.kind not in NUMERIC_KINDS:
        if "bfloat16" in str(dtype):   # mg.bfloat16, a class NumPy reads as an object dtype
            raise TypeError(f"{caller}: {NO_BFLOAT16}")
        raise TypeError(f"{caller}: dtype {dt} is not a number type (tensors hold bools, ints, floats, complex)")
    if not is_tensor_dtype(dt):   # longdouble, clongdouble
        raise TypeError(f"{caller}: dtype {dt} is wider than any PyTorch dtype (floats go up to float64, complex "
                        "numbers to complex128)")
    return dt


def as_bool(value: Any, caller: str, what: str) -> bool:
    """A yes/no argument: a bool (Python's or NumPy's); anything else raises PyTorch's TypeError.

    ``bool(value)`` would read any string as True and raise a bare ValueError for an array.
    """
    if isinstance(value, (bool, numpy.bool_)):
        return bool(value)
    raise TypeError(f"{caller}(): argument '{what}' must be bool, not {type(value).__name__}")


class AxisError(ValueError, IndexError):
    """An axis argument out of range (both a ValueError and an IndexError, as NumPy's)."""


class Int64RangeError(TypeError, ValueError):
    """An int argument outside int64, which PyTorch cannot unpack: its TypeError inside a list of sizes, its
    ValueError ("Overflow when unpacking long long") for a single int. Raised by the engine and by nn
    (``mg.Int64RangeError``)."""


class ShapeMismatchError(ValueError, RuntimeError):
    """Operand shapes an op cannot combine, or an argument value it refuses (ValueError, as NumPy's, and
    RuntimeError, as PyTorch's), so ``except`` clauses written for either catch it."""


class ArgumentTypeError(TypeError, RuntimeError):
    """An input of a dtype an op refuses (TypeError here, RuntimeError in PyTorch)."""


class AllocationError(MemoryError, RuntimeError):
    """A result too large to allocate (``mg.zeros(2**40)``): PyTorch's RuntimeError ("can't allocate memory") and
    Python's MemoryError, so ``except`` clauses written for either catch it."""


@contextlib.contextmanager
def allocating(name: str) -> Iterator[None]:
    """Around the making of ``name``'s result: NumPy's MemoryError, or its ValueError for a size beyond what an
    array can address ("array is too big"), becomes AllocationError, as PyTorch's "can't allocate memory" or
    "Storage size calculation overflowed" RuntimeError (``mg.randperm(2**40)``)."""
    try:
        yield
    except MemoryError as error:
        raise AllocationError(f"{name}: can't allocate memory: {error}") from None
    except ValueError as error:
        if "too big" not in str(error):
            raise
        raise AllocationError(f"{name}: can't allocate memory: {error}") from None


class EmptyReductionError(ValueError, RuntimeError, IndexError):
    """A max/min/argmax/aminmax of an empty tensor (or over an empty dim): it has no value. PyTorch raises
    RuntimeError (max, amax, aminmax) or IndexError (argmax, a dim); NumPy ValueError: this is all three."""


def constant_array(name: str, value: Any) -> Any:
    """A non-Tensor input that is not a Python number or an array of a tensor dtype: a numeric array, or a
    TypeError naming the op (an object, string, structured or longdouble array or NumPy scalar too, as PyTorch
    refuses to convert them: NumPy would compute an object or float128 result). A Python list or tuple is
    refused too, as PyTorch's ops refuse one (``x + [1, 2]``, ``x.eq([1, 2])``: TypeError): wrap it in
    ``mg.tensor``."""
    if isinstance(value, (list, tuple)):
        raise TypeError(f"{name}: an input must be a Tensor or a number, not {type(value).__name__} "
                        f"({value!r:.60}); PyTorch does not convert a Python {type(value).__name__} operand either: "
                        "wrap it in mg.tensor(...)")
    try:
        array = numpy.asarray(value)
    except (TypeError, ValueError):
        array = None
    if array is not None and isinstance(value, (numpy.ndarray, numpy.generic)) and not is_tensor_dtype(array.dtype):
        raise TypeError(f"{name}: can't use a NumPy {type(value).__name__} of dtype {array.dtype} as an input "
                        "(tensors hold bools, integers, floats up to float64 and complex numbers up to complex128)")
    if array is None or array.dtype.kind not in "biufc":
        raise TypeError(f"{name}: an input must be a Tensor, an array or a number, got {type(value).__name__}"
                        + (f" ({value!r:.60})" if isinstance(value, (str, list, tuple)) else ""))
    return array


def wrapped_ints(arrays: Sequence[Any], error: OverflowError) -> list:
    """An op's raw inputs with each Python int that overflowed the integer dtype of its array inputs wrapped into
    that dtype, as PyTorch casts a Python number (two's complement after a 64-bit cast: 2654435761 beside an int32
    tensor is -1640531535, so ``int32 * 2654435761`` wraps instead of raising NumPy 2's OverflowError).

    Raises ``error`` again where PyTorch also refuses: an int outside 64 bits, or no integer array to wrap into.
    """
    dtypes = [a.dtype for a in arrays if hasattr(a, "dtype") and not isinstance(a, (int, float, complex))]
    dtype = numpy.result_type(*dtypes) if dtypes else None
    if dtype is None or dtype.kind not in "iu":
        raise error
    bits = dtype.itemsize * 8
    out = []
    for a in arrays:
        if type(a) is int:
            if not -2**63 <= a < 2**64:
                raise error
            a %= 2**bits
            if dtype.kind == "i" and a >= 2**(bits - 1):
                a -= 2**bits
        out.append(a)
    return out


def with_op_context(name: str, inputs: Sequence[Any], error: Exception) -> Exception:
    """Re-raise a NumPy error with the op name and the input shapes in front."""
    message = str(error)
    if message.startswith(f"{name}:"):
        return error
    shapes = " and ".join(str(getattr(x, "shape", None) or type(x).__name__) for x in inputs)
    text = f"{name}: {message} (input shapes {shapes})"
    if isinstance(error, ValueError) and isinstance(error, IndexError):
        return AxisError(text)
    if isinstance(error, MemoryError):   # a result too large to allocate: PyTorch's RuntimeError
        return AllocationError(f"{name}: can't allocate memory: {message} (input shapes {shapes})")
    # PyTorch raises RuntimeError where NumPy raises ValueError (shapes that do not broadcast, a bad reshape) or
    # TypeError (no loop for a dtype: bool - bool)
    for kind, dual in ((IndexError, IndexError), (ValueError, ShapeMismatchError), (TypeError, ArgumentTypeError)):
        if isinstance(error, kind):
            return dual(text)
    return ShapeMismatchError(text)   # ZeroDivisionError from two Python numbers
