"""Helpers shared by the ops."""

from __future__ import annotations

import contextlib
import math
import operator
import warnings
from contextvars import ContextVar
from typing import Any, Callable, Iterator

import numpy

from .. import backend
from ..arguments import AllocationError, ArgumentTypeError, Int64RangeError, ShapeMismatchError  # noqa: F401
from ..autograd import AxisError, frees_saved
from ..autograd.engine import _move_cpu_scalars
from ..int_arguments import _one_int, in_int64, int_arg, int_tuple, refuse_bool_tensors  # noqa: F401 - ops' helpers
from ..tensor import Tensor, is_torch_tensor, torch_values


def same_device(name: str, inputs: tuple) -> tuple:
    """``inputs`` for an op with no gradient (a comparison, a logical or bitwise op): as given when every Tensor
    among them is on one device; 0-dim CPU tensors among CUDA ones moved to the GPU (PyTorch reads them as
    scalars); any other mix of devices raises the ValueError naming both, as the recorded ops do."""
    devices = [x.device for x in inputs if isinstance(x, Tensor)]
    if all(device == devices[0] for device in devices[1:]):
        return inputs
    return tuple(x.detach() if isinstance(x, Tensor) else x for x in _move_cpu_scalars(name, inputs, devices))


# mg.func.vmap's watchers of the random ops called inside it (its ``randomness`` modes): see note_random_op
_random_watchers: ContextVar[tuple] = ContextVar("minigrad_random_watchers", default=())


@contextlib.contextmanager
def watching_random_ops(watch: Callable[[str, tuple, Any], None]) -> Iterator[None]:
    """Around ``mg.func.vmap``'s calls of its function: ``watch(name, params, into)`` is called at each random op
    (see :func:`note_random_op`), so vmap can refuse what torch's ``randomness`` modes refuse."""
    token = _random_watchers.set(_random_watchers.get() + (watch,))
    try:
        yield
    finally:
        _random_watchers.reset(token)


def note_random_op(name: str, params: tuple = (), into: Tensor | None = None) -> None:
    """Called by a random op before it draws: ``params`` are the Tensors its numbers depend on (bernoulli's
    probabilities, normal's mean and std, poisson's rates …), ``into`` the Tensor it fills in place, if any."""
    for watch in _random_watchers.get():
        watch(name, params, into)


class ArgumentValueError(ValueError, RuntimeError):
    """An argument value PyTorch refuses with RuntimeError (an unknown mode string): a ValueError too."""


class IndexRangeError(IndexError, RuntimeError):
    """An index value outside its dim (gather, scatter, index_add_, ...): Python's IndexError and PyTorch's
    RuntimeError, so ``except`` clauses written for either catch it."""


class DtypeMismatchError(TypeError, RuntimeError):
    """Two tensors an op writes one into the other with different dtypes (TypeError here, RuntimeError in PyTorch)."""


class IndexArgumentError(TypeError, IndexError, RuntimeError):
    """An index of the wrong dtype or rank (index_select): TypeError here, RuntimeError (dtype) or IndexError
    (rank) in PyTorch."""


class DtypeNotImplementedError(TypeError, NotImplementedError):
    """An op with no kernel for a dtype (frac of an int, gcd of a float, floor of a bool …): TypeError here, the
    NotImplementedError PyTorch raises ("not implemented for 'Long'"), so ``except`` clauses for either catch it."""


class ComplexOrderError(TypeError, NotImplementedError):
    """An op that orders values (``<``, clamp, max, sort, round …) given complex ones, which have no order: PyTorch's
    NotImplementedError ("not implemented for 'ComplexDouble'"); TypeError here, as for any dtype an op refuses.
    NumPy would order them lexicographically (real part first): a silent wrong result in a PyTorch program."""


class ComplexOrderRuntimeError(TypeError, RuntimeError):
    """:class:`ComplexOrderError` for the ops where PyTorch raises a plain RuntimeError instead (maximum, fmax,
    ``max(dim)``, argmax, sort, topk, heaviside, isin)."""


def complex_order_error(name: str, dtype: Any, runtime: bool = False, order: bool = True) -> TypeError:
    """The error of ordering op ``name`` given values of complex ``dtype`` (raise it): RuntimeError-only where
    PyTorch raises that (``runtime=True``), else NotImplementedError. ``order=False``: the same classes for an op
    PyTorch has no complex kernel for for another reason (erf, xlogy, gcd, nansum …), with a message that says so."""
    kind = ComplexOrderRuntimeError if runtime else ComplexOrderError
    why = ": complex numbers have no order (as in PyTorch; order by .abs() or .real)" if order else \
        ", as in PyTorch (compute it on .real and .imag, or .abs())"
    return kind(f"{name}: not implemented for complex tensors (dtype {dtype}){why}")


def tensors_only(name: str, input: Any, other: Any) -> None:  # noqa: A002 - PyTorch's names
    """PyTorch's TypeError for a binary op whose only overload is (Tensor, Tensor) (``atan2``, ``hypot``,
    ``nextafter``, ``logaddexp2``) given a Python or NumPy number, which NumPy's ufunc would take."""
    for position, (what, value) in enumerate((("input", input), ("other", other)), 1):
        if isinstance(value, (int, float, complex, numpy.number, numpy.bool_)):
            raise TypeError(f"{name}(): argument '{what}' (position {position}) must be Tensor, not "
                            f"{type(value).__name__} (wrap it: mg.tensor({value!r}))")


def refuse_complex(name: str, *values: Any, runtime: bool = False, order: bool = True) -> None:
    """Raise :func:`complex_order_error` if any of ``values`` (Tensors, arrays or numbers) is complex."""
    for value in values:
        if _is_complex(value):
            raise complex_order_error(name, getattr(value, "dtype", "complex"), runtime, order)


def _complex_dtype(dtype: Any) -> bool:
    """Whether ``dtype`` (ours, NumPy's or CuPy's, or a PyTorch dtype, which has no ``kind``) is complex."""
    kind = getattr(dtype, "kind", None)
    return kind == "c" if kind is not None else bool(getattr(dtype, "is_complex", False))


def sum_to(grad: Any, shape: tuple) -> Any:
    """Sum ``grad`` down to ``shape``: the inverse of NumPy broadcasting.

    Every op whose forward broadcasts uses this in its backward.
    """
    if grad.shape == shape:
        return grad
    if grad.size == math.prod(shape):
        # as many elements: every broadcast axis had length 1 (a bias at batch 1), nothing to add up
        return grad.reshape(shape)
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead))
    if 1 in shape:   # (a bias's (H,) has none: no loop over its dims)
        axes += tuple(lead + i for i, size in enumerate(shape) if size == 1 and grad.shape[lead + i] != 1)
        if not grad.flags.c_contiguous:   # PyTorch's sum is C order, NumPy's keeps the gradient's order of strides
            grad = backend.array_module(grad).ascontiguousarray(grad)   # (an expanded operand's, x.expand(...))
    # add.reduce is what ndarray.sum runs, without its Python wrapper (~0.3 us: this runs once per
    # broadcast input per backward, a bias at every step of a recurrent net)
    if grad.dtype == FLOAT16:   # PyTorch sums float16 in float32 and rounds once (NumPy rounds at each row)
        out = grad.sum(axis=axes, keepdims=True, dtype=FLOAT32).astype(FLOAT16)
    elif type(grad) is numpy.ndarray:
        out = numpy.add.reduce(grad, axis=axes, keepdims=True)
    else:
        out = grad.sum(axis=axes, keepdims=True)
    return out.reshape(shape) if lead else out


def read_by_the_others(node: Any) -> tuple:
    """A product's saved operands that its backward reads (``Function.kept_for_backward``): each operand's
    gradient reads the other operands, never its own values, so an operand is needed only when another one wants
    a gradient (``x * 2``, ``x @ W_frozen``: nothing of x). None for the rest."""
    needs = node.needs_grad
    wanted = sum(needs)
    return tuple(array if wanted - needs[i] else None for i, array in enumerate(node.saved))


def last_backward(node: Any) -> bool:
    """Whether ``node``'s backward, running now, is its last: a graph node (it has edges; a replayed mg.compile
    call's op has none, and its next replay reads its attributes again) in a walk that frees what nodes saved (no
    ``retain_graph``). An op drops the index arrays it keeps beside ``saved`` then, as PyTorch frees its saved
    indices with the rest (a sort's or max-pool's are as big as its output)."""
    return bool(node.edges) and frees_saved()


def fresh_memory(out: Tensor) -> Tensor:
    """``out``, an op's result, marked as owning its memory where its array views a temporary of the op's own
    (NumPy's ``tile``, ``roll`` without an axis, advanced indexing, a squeezed ``take_along_axis``), so in-place
    ops may write it as PyTorch's (ops/inplace.py refuses a view of another tensor's memory)."""
    if getattr(out.data, "base", None) is not None:
        out._view = ()
    return out


def unwrap(value: Any) -> Any:
    """The array of a Tensor; other values unchanged."""
    return value.data if isinstance(value, Tensor) else value


def called_as(name: str, error: Exception, *inputs: Any) -> Exception:
    """``error`` from an op that the composite op ``name`` called (``div`` inside ``addcdiv``), re-worded under
    the name the user called with the shapes of its own inputs; the class stays (it is PyTorch's)."""
    if str(error).startswith(f"{name}:"):
        return error
    shapes = ", ".join(str(tuple(getattr(x, "shape", ()))) for x in inputs)
    text = f"{name}: {error} (the inputs of {name} have shapes {shapes})"
    try:
        return type(error)(text)
    except TypeError:   # an exception class that takes other arguments
        return ShapeMismatchError(text)


def tensor_arg(x: Any, name: str) -> Tensor:
    """``x`` as a Tensor: Tensors pass through, NumPy/CuPy arrays and numbers are wrapped (no copy).

    Anything else raises a TypeError naming the op, instead of an AttributeError from deep inside it. A lazy
    module's placeholder (nn.parameter) raises PyTorch's ValueError, as the engine's ops do (not its empty array).
    """
    if isinstance(x, Tensor):
        if x._refuses_ops:
            x._refuse_op(name)
        return x
    if backend.is_array(x) or (isinstance(x, (int, float)) and not isinstance(x, bool)):
        return Tensor._make(x if backend.is_array(x) else backend.numpy.asarray(x), False, None, 0)
    if isinstance(x, numpy.generic) and x.dtype.kind in "biufc":   # a NumPy scalar keeps its dtype, as NumPy 2's
        return Tensor._make(numpy.asarray(x), False, None, 0)
    if is_torch_tensor(x):   # a PyTorch CPU tensor is read as its values, as `x + t` and mg.tensor(t) read it
        values = torch_values(x)
        if backend.is_array(values):
            return Tensor._make(values, False, None, 0)
        raise TypeError(f"{name}: a PyTorch tensor on {x.device} is not an operand here; move it with "
                        f"mg.from_dlpack(t) or t.cpu()")
    raise TypeError(f"{name}: expected a Tensor (or an array or number), got {type(x).__module__}.{type(x).__name__}")


def device_array(x: Tensor, make: Any) -> Any:
    """``make(xp)`` on ``x``'s device: index arrays built next to the data (CuPy's current device)."""
    with backend.on_device(x.device):
        return make(backend.array_module(x.data))


def index_data(index: Any, name: str, max_ndim: int | None = None) -> Any:
    """The raw integer array of an index (a Tensor, an array or a list); other dtypes raise a TypeError."""
    data = index.data if isinstance(index, Tensor) else index
    if not backend.is_array(data):
        try:
            data = backend.numpy.asarray(data)
        except (TypeError, ValueError):
            raise TypeError(f"{name}: index must be an integer tensor, got {type(index).__name__}") from None
    if data.dtype.kind not in "iu":
        raise IndexArgumentError(f"{name}: index must be an integer tensor, got dtype {data.dtype}")
    if max_ndim is not None and data.ndim > max_ndim:
        raise ValueError(f"{name}: index must be a vector (0-d or 1-D), got shape {tuple(data.shape)}")
    return data


def check_index_range(data: Any, size: int, name: str, where: str, negative: bool) -> None:
    """Every index in ``[-size, size)`` (``[0, size)`` without ``negative``); one host read of min and max together."""
    if data.size:
        xp = backend.array_module(data)
        low, high = xp.stack((data.min(), data.max())).tolist()
        if low < (-size if negative else 0) or high >= size:
            bad = low if low < (-size if negative else 0) else high
            raise IndexRangeError(f"{name}: index {bad} is out of range for {where} of size {size}")


def count_arg(value: Any, name: str, what: str, one_element: bool = False) -> int:
    """A non-negative int argument (a size or a count; ``one_element``: see :func:`int_arg`); a negative one raises
    a ValueError naming the op."""
    count = int_arg(value, name, what, one_element)
    if count < 0:
        raise ShapeMismatchError(f"{name}: {what} must be non-negative, got {count}")
    return count


def refuse_index_only(axis: Any, name: str) -> None:
    """PyTorch's TypeError for a single dim that its parser does not read as an int: one that is only
    ``__index__``-able (a 0-d NumPy array, an object of the user's), not a Python or NumPy int or a Tensor (a dim
    list takes those items, as PyTorch's)."""
    if not isinstance(axis, (int, numpy.integer, Tensor)):   # (PyTorch's TypeError, or RuntimeError by op: both)
        raise ArgumentTypeError(f"{name}(): argument 'dim' must be int, not {type(axis).__name__} (PyTorch reads a "
                                "single dim as a Python or NumPy int or a 0-d integer tensor only; pass int(dim))")


def one_axis(axis: Any, ndim: int, name: str) -> int:
    """A single ``axis`` as a non-negative int; a tuple, None or a float raises a TypeError naming the op."""
    if type(axis) is int and -ndim <= axis < ndim:
        return axis % ndim   # the usual call, without the checks below
    refuse_index_only(axis, name)
    axis = _one_int(axis, name, "axis (a single int)")
    return normalize_axis(axis, ndim, name)[0] if ndim else normalize_axis(axis, 1, name)[0]


def normalize_axis(axis: Any, ndim: int, name: str) -> Any:
    """``axis`` as a tuple of non-negative ints (None stays None). A 0-d tensor's one dim (0 or -1) named more than
    once (``(0, -1)``, ``(0, 0)``) raises PyTorch's RuntimeError (for more dims, each caller checks repeats)."""
    if axis is None:
        return None
    if not isinstance(axis, (int, tuple, list)) and not hasattr(axis, "__index__"):
        raise TypeError(f"{name}: axis must be an int, a tuple of ints or None, got {axis!r}")
    if not isinstance(axis, (int, tuple, list)):
        refuse_index_only(axis, name)
    axes = (axis,) if isinstance(axis, int) or not isinstance(axis, (tuple, list)) else tuple(axis)
    if axes and isinstance(axes[0], bool):   # PyTorch refuses True as dim 1 (``x.sum(True)`` means no keepdim);
        # its parser tells an int list by the first element only, so a later bool is the dim 0 or 1, as PyTorch's
        # ``x.permute(2, 0, True)`` and ``x.sum((0, True))``
        raise TypeError(f"{name}: axis must be an int or a tuple of ints, got {axis!r}")
    out = []
    for a in axes:
        try:
            a = operator.index(a)
        except TypeError:
            raise TypeError(f"{name}: axis must be an int or a tuple of ints, got {axis!r}") from None
        if not -max(ndim, 1) <= a < max(ndim, 1):   # a 0-d tensor takes dim 0 and -1, as in PyTorch
            raise AxisError(f"{name}: axis {a} is out of range for a tensor with {ndim} dimensions (expected a dim in "
                            f"[{-max(ndim, 1)}, {max(ndim, 1) - 1}])")
        out.append(a % ndim if ndim else 0)
    if ndim == 0:
        if len(out) > 1:
            raise ShapeMismatchError(f"{name}: dim 0 appears multiple times in the list of dims {tuple(axes)} (a 0-d "
                                     "tensor has one dim, 0 or -1)")
        return ()   # over a 0-d tensor's dim 0 or -1 (as PyTorch allows) nothing is reduced
    return tuple(out)


class _NotGiven:
    """Marks a keyword the caller left out (where None is itself a meaningful value)."""

    def __repr__(self) -> str:
        return "<not given>"


NOT_GIVEN: Any = _NotGiven()


def dim_or_axis(name: str, dim: Any, axis: Any, default: Any = None) -> Any:
    """The axis of a call that may spell it ``dim=`` (PyTorch) or ``axis=`` (NumPy), never both."""
    given_dim = dim is not None and dim is not NOT_GIVEN
    given_axis = axis is not None and axis is not NOT_GIVEN
    if given_dim and given_axis:
        raise TypeError(f"{name}: give dim= (PyTorch) or axis= (NumPy), not both")
    return dim if given_dim else axis if given_axis else default


def one_dim_or_axis(name: str, dim: Any, axis: Any, default: int) -> Any:
    """The single dim of softmax, log_softmax, cat or stack, spelled ``dim=`` (PyTorch) or ``axis=`` (NumPy), or
    ``default`` when neither is given: their ``dim`` defaults to NOT_GIVEN, so ``dim=None`` is passed on for
    :func:`one_axis` to raise PyTorch's TypeError (``torch.cat(ts, dim=None)``, ``x.softmax(None)``)."""
    if dim is NOT_GIVEN:
        return default if axis is None else axis
    if axis is not None:
        raise TypeError(f"{name}: give dim= (PyTorch) or axis= (NumPy), not both")
    return dim


def axis_alias(name: str, dim: Any, axis: Any, default: Any) -> Any:
    """The dim of a function NumPy has no spelling of, which PyTorch lets a call name ``axis=`` too
    (``torch.topk(x, 2, axis=1)``): both keywords mean the same there. ``dim`` other than its ``default``
    beside ``axis`` is refused."""
    if axis is NOT_GIVEN:
        return dim
    if dim is not default:
        raise TypeError(f"{name}: give dim= or axis=, not both")
    return axis


def required_dim(name: str, dim: Any, axis: Any, **after: Any) -> Any:
    """The dim of a call to a function whose ``dim`` PyTorch requires and lets a call spell ``axis=``
    (``torch.gather(x, axis=1, index=i)``; NumPy has no function of the name). Such a function's ``dim``, and
    the arguments after it (``after``, by name), default to NOT_GIVEN so that a call may leave ``dim`` out:
    one of them missing, or ``dim`` given both ways, is Python's TypeError for a call of ``name``."""
    if axis is not NOT_GIVEN:
        if dim is not NOT_GIVEN:
            raise TypeError(f"{name}() got multiple values for argument 'dim' (axis= is its alias)")
        dim = axis
    for key, value in {"dim": dim, **after}.items():
        if value is NOT_GIVEN:
            raise TypeError(f"{name}() missing 1 required positional argument: '{key}'")
    return dim


def sizes_keyword(name: str, values: tuple, keyword: str, value: Any) -> tuple:
    """Sizes or dims PyTorch lets a call give positionally (``view(2, 3)``) or by keyword (``view(size=(2, 3))``):
    the keyword's ``value`` as the one positional tuple; both given is a TypeError naming the op."""
    if values:
        raise TypeError(f"{name}: give the {keyword} positionally or as {keyword}=, not both")
    return (value,)


def some_sizes(name: str, values: tuple, what: str) -> tuple:
    """``values``, the sizes (or counts) a call gave positionally, unless it gave none: a TypeError, as PyTorch's
    (``x.reshape()`` would be a 0-d tensor of a one-element x, ``x.tile()`` x itself)."""
    if not values:
        raise TypeError(f"{name}() missing 1 required positional argument: '{what}'")
    return values


def unsupported(name: str, option: str, why: str) -> NotImplementedError:
    """The error for one of PyTorch's options that minigrad does not implement, naming the op and the option."""
    return NotImplementedError(f"{name}: {option} is not supported ({why})")


OUT_DTYPE = "PyTorch's CUDA-only float16/bfloat16 product accumulated into float32; cast the inputs instead"


def one_of(name: str, **spellings: Any) -> Any:
    """The one argument given (not ``NOT_GIVEN``) among ``spellings``, the names PyTorch and NumPy give it
    (``broadcast_to(x, size=)`` or ``shape=``); none or several given is a TypeError naming the op and the names."""
    given = [value for value in spellings.values() if value is not NOT_GIVEN]
    if len(given) != 1:
        names = ", ".join(f"{keyword}=" for keyword in spellings)
        raise TypeError(f"{name}: give exactly one of {names} (got {'none' if not given else len(given)})")
    return given[0]


def flag(value: Any, name: str, what: str) -> bool:
    """A yes/no argument (a bool, or an int as NumPy allows); anything else raises a TypeError naming the op."""
    if isinstance(value, (bool, int, numpy.bool_, numpy.integer)):
        return bool(value)
    raise TypeError(f"{name}: {what} must be a bool, got {type(value).__name__}")


_NUMBERS, _NUMBERS_AND_COMPLEX = (int, float, numpy.number), (int, float, complex, numpy.number)


def number(value: Any, name: str, what: str, *, complex_ok: bool = False) -> Any:
    """A Python or NumPy number (a one-element Tensor gives its value); anything else raises a TypeError (and
    PyTorch's RuntimeError for a tensor of more elements). ``complex_ok``: a Python complex is a number too (an
    ``alpha`` of complex tensors); the caller checks that the tensors are complex."""
    if isinstance(value, Tensor):
        if value.data.size != 1:
            raise ArgumentTypeError(f"{name}: {what} must be a number or a one-element tensor, got a tensor of "
                                    f"shape {value.shape}")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, _NUMBERS_AND_COMPLEX if complex_ok else _NUMBERS):
        raise TypeError(f"{name}: {what} must be a number, got {type(value).__name__}")
    # a NumPy scalar as the Python number it holds, as PyTorch reads one: its dtype would promote the result
    # (layer_norm(eps=np.float64(1e-5)) of float32 was float64)
    return value.item() if isinstance(value, numpy.generic) else value


def real_scalar(name: str, what: str, value: Any, dtype: Any) -> Any:
    """A number ``value`` (addmm's beta, addcmul's value …) for tensors of the real ``dtype``, as PyTorch converts
    it: a complex one must have no imaginary part (and gives its real part)."""
    if not isinstance(value, (complex, numpy.complexfloating)):
        return value
    if value.imag != 0:
        raise ArgumentTypeError(f"{name}: {what}={value!r} is complex but the tensors are {dtype}; a complex {what} "
                                "needs complex tensors (PyTorch: the value cannot be converted to the tensors' type)")
    return value.real


def _is_complex(value: Any) -> bool:
    """Whether ``value`` (a tensor, an array or a Python number) is complex."""
    dtype = getattr(value, "dtype", None)
    return isinstance(value, complex) if dtype is None else _complex_dtype(dtype)


def refuse_complex_alpha(name: str, alpha: Any, a: Any, b: Any) -> None:
    """PyTorch's refusal of a complex ``alpha`` (add, sub, add_, sub_) unless ``a`` or ``b`` (tensors, arrays or
    numbers) is complex."""
    if isinstance(alpha, (complex, numpy.complexfloating)) and not (_is_complex(a) or _is_complex(b)):
        a_kind, b_kind = (getattr(v, "dtype", type(v).__name__) for v in (a, b))
        raise ArgumentTypeError(f"{name}: for non-complex input tensors, argument alpha must not be a complex "
                                f"number (got {alpha!r}; operands {a_kind} and {b_kind}), as in PyTorch")


def scale_given_first(name: str, scale: Any, operand: Any, keyword: str) -> bool:
    """Whether a call is one of PyTorch's deprecated overloads that give the scale first, by position
    (``x.add_(alpha, other)``, ``torch.add(input, alpha, other)``, ``x.addcmul_(value, tensor1, tensor2)``):
    ``scale`` a number where the tensor belongs and ``operand`` a Tensor. PyTorch still runs them with a warning
    and older programs write them (``p.data.add_(-lr, p.grad.data)``, ``exp_avg_sq.addcmul_(1 - beta2, g, g)``),
    so this warns as PyTorch does and the caller swaps the two."""
    if isinstance(scale, bool) or not isinstance(scale, (int, float, numpy.number)) or not isinstance(operand, Tensor):
        return False
    warnings.warn(f"This overload of {name} is deprecated (as in PyTorch): {name}(Number {keyword}, Tensor ...); "
                  f"pass the number as the keyword {keyword}= instead", UserWarning, stacklevel=3)
    return True


def keep_flag(name: str, keepdim: Any, keepdims: Any) -> bool:
    """``keepdim`` (PyTorch) or ``keepdims`` (NumPy, None when not given), never both."""
    if keepdims is not None and keepdims is not NOT_GIVEN:
        if flag(keepdim, name, "keepdim"):
            raise TypeError(f"{name}: give keepdim= (PyTorch) or keepdims= (NumPy), not both")
        return flag(keepdims, name, "keepdims")
    return flag(keepdim, name, "keepdim")


FLOAT16, FLOAT32 = numpy.dtype("float16"), numpy.dtype("float32")


def float16_in_float32(fn: Any, *arrays: Any) -> Any:
    """``fn(*arrays)`` with its float16 arrays in float32 and the result rounded once to float16, as PyTorch's CPU
    kernels compute float16 (in float32, their ``opmath`` type), where NumPy's float16 loops and a chain of
    float16 steps round at every step. The caller checks for a float16 array first (one check on the hot path)."""
    wide = [a.astype(FLOAT32) if getattr(a, "dtype", None) == FLOAT16 else a for a in arrays]
    return fn(*wide).astype(FLOAT16)


def unit_complex(xp: Any, z: Any, size: Any) -> Any:
    """Complex ``z / size`` for a real positive ``size``, each part divided by it: NumPy's ``z / size`` is a complex
    division, whose reciprocal of a subnormal size (1e-310) overflows into inf + nan·1j."""
    out = xp.empty(z.shape, dtype=z.dtype)
    out.real, out.imag = z.real / size, z.imag / size
    return out
