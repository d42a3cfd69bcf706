"""All differentiable ops, and their binding to Tensor operators and methods.

Each op lives in one place (a ``Function`` subclass plus a public function);
this module only attaches those functions to :class:`Tensor` so that both
spellings exist: ``x.tanh()`` and ``mg.tanh(x)``.
"""

from __future__ import annotations

import builtins
from typing import Any

from .. import backend
from .. import memory_formats as _memory_format
from ..arguments import wrapped_ints
from ..autograd.names import spelled
from ..outputs import write_out
from ..recording import is_recording, note_draw
from ..tensor import Tensor, is_torch_tensor, torch_values
from . import creation, inplace
from ._util import ShapeMismatchError, number, refuse_complex, same_device, sum_to, tensor_arg, unwrap
from .elementwise import (
    Div,
    Sub,
    abs,
    abs_operator,
    add,
    clip,
    cos,
    div,
    exp,
    log,
    maximum,
    minimum,
    mul,
    multiply_operator,
    neg,
    pow,
    power_operator,
    refuse_bool_subtraction,
    relu,
    sigmoid,
    sin,
    sqrt,
    sub,
    tanh,
    where,
)
from .inplace import masked_fill
from .iterator_layout import elementwise_layout
from .join import cat, chunk, concat, split, stack, unbind
from .linalg import bmm, matmul, matmul_operator
from .norms import matrix_norm
from .reduce import amax, amin, log_softmax, logsumexp, max, mean, min, softmax, std, sum, var
from .reduce import norm as _vector_norm
from .select import ValuesIndices, all, any, argmax, argmin, argsort, gather, index_select, sort, topk
from .shape import (
    Size,
    astype,
    broadcast_to,
    broadcast_to_method,
    clone,
    contiguous,
    dim,
    expand,
    expand_dims,
    flatten,
    getitem,
    matrix_transpose,
    narrow,
    numel,
    permute,
    repeat,
    reshape,
    size,
    squeeze,
    squeeze_method,
    swapaxes,
    t,
    to_device,
    transpose,
    unsqueeze,
    view,
)

__all__ = [
    "Size", "ValuesIndices", "all", "any", "argsort", "index_select", "sort", "amax", "amin", "argmax",
    "argmin", "bmm", "cat", "clone", "contiguous", "cos",
    "creation", "dim", "expand", "flatten", "gather", "inplace", "masked_fill", "matrix_transpose", "narrow", "norm",
    "numel", "permute", "repeat", "sin", "size", "std", "t", "topk", "unsqueeze", "view",
    "abs", "add", "astype", "broadcast_to", "chunk", "clip", "concat", "div", "exp",
    "expand_dims", "getitem", "log", "log_softmax", "logsumexp", "matmul", "max", "maximum",
    "mean", "min", "minimum", "mul", "neg", "pow", "relu", "reshape", "sigmoid", "softmax",
    "split", "sqrt", "squeeze", "stack", "sub", "sum", "sum_to", "swapaxes", "tanh", "to_device",
    "transpose", "unbind", "var", "where",
]


_PYTHON_COMPLEX, _PYTHON_FLOAT = builtins.complex, builtins.float   # this module's ``complex`` is the op
_PYTHON_NUMBERS = (int, _PYTHON_FLOAT, bool, _PYTHON_COMPLEX)
_PLAIN_OPERANDS = frozenset((backend.numpy.ndarray, int, _PYTHON_FLOAT, bool))   # never a PyTorch tensor


def _outside_int_dtype(value: int, dtype: Any) -> bool:
    """Whether the Python int ``value`` lies outside the range of ``dtype``, an integer dtype (False for others)."""
    if dtype.kind not in "iu":
        return False
    bits = dtype.itemsize * 8
    low = -(1 << (bits - 1)) if dtype.kind == "i" else 0
    return not low <= value < low + (1 << bits)


def _compare(name: str, op: Any, operator: bool = False) -> Any:
    equality = name in ("eq", "ne")

    def compare(self: Tensor, other: Any) -> Tensor:
        # refused as PyTorch's (NumPy would compare an empty tensor with None, a list elementwise)
        if other is None or type(other) in (str, list, tuple):
            if operator and equality:   # Python then compares identities: x == None, x == [1, 2] are False
                return NotImplemented
            raise TypeError(f"{name}{'()' if equality else ''}: other must be a Tensor or a number, got "
                            f"{type(other).__name__} (shapes {self.shape} and ()); wrap a list in mg.tensor(...)")
        raw = unwrap(other)
        if type(raw) is int and not 0 <= raw < 128 and _outside_int_dtype(raw, self.data.dtype):
            # PyTorch casts the number into the integer dtype first (uint8 >= -1 compares with 255), as the
            # arithmetic does; NumPy compares the values themselves
            raw = other = wrapped_ints((self.data, raw), OverflowError(f"{name}: Python int {raw} is too big to "
                                                                       f"convert to {self.dtype} (as in PyTorch)"))[1]
        # complex values have no order (NumPy's is lexicographic): PyTorch refuses lt/le/gt/ge of them
        if type(raw) not in _PLAIN_OPERANDS and is_torch_tensor(raw):   # a PyTorch tensor is compared as its
            raw = other = torch_values(raw)   # values (NumPy's `!=` would defer to it, then fall back to identity)
        if not equality:
            refuse_complex(name, self.data, raw)
        try:
            result = op(self.data, raw)
        except (ValueError, TypeError) as error:
            moved = same_device(name, (self, other))   # tensors on two devices: the ValueError naming both
            if moved[0] is not self or moved[1] is not other:
                return compare(*moved)
            message = f"{name}: {error} (shapes {self.shape} and {getattr(raw, 'shape', ())})"
            # shapes that do not broadcast: PyTorch's RuntimeError as well as NumPy's ValueError
            raise (ShapeMismatchError(message) if type(error) is ValueError else backend.reworded(error, message)) \
                from error
        if not backend.is_array(result):
            result = backend.numpy.asarray(result)   # NumPy gives a scalar for 0-d operands
        else:   # PyTorch's layout of mixed-layout operands
            result = elementwise_layout(backend.array_module(result), result, (self.data, raw))
        # an mg.compile capture records the comparison, so a replay compares the new values
        return note_draw(name, op, (self, other), Tensor._make(result, False, None, 0))
    compare.__name__ = name
    compare.__doc__ = f"Elementwise ``{name}`` comparison: a bool tensor with no gradient."
    return compare


def norm(input: Tensor, p: Any = 2, dim: Any = None, keepdim: bool = False, *, axis: Any = None,  # noqa: A002
         keepdims: bool | None = None, dtype: Any = None) -> Tensor:
    """The vector p-norm over ``dim`` (None: all elements), as torch.norm (see :func:`reduce.norm`); ``p='nuc'``
    is the nuclear norm of the matrices in the two dims ``dim`` (None: a 2-D input's), as torch.norm's."""
    if isinstance(p, str) and p == "nuc":
        if dim is None and getattr(input, "ndim", 2) != 2:
            raise ValueError(f"norm: p='nuc' needs a 2-D input or two dims in dim, got shape {input.shape}")
        return matrix_norm(input, "nuc", (-2, -1) if dim is None else dim, keepdim, dtype=dtype)
    return _vector_norm(input, p, dim, keepdim, axis=axis, keepdims=keepdims, dtype=dtype)


def _reflected(fn: Any) -> Any:
    def reflected(self: Tensor, other: Any) -> Tensor:
        return fn(other, self)
    return reflected


def _rsub(self: Tensor, other: Any) -> Tensor:
    """``other - x`` (a number): PyTorch's node is its rsub's (``RsubBackward1``)."""
    out = sub(other, self)
    node = out._node
    if type(node) is Sub:   # (one cheap check: a hot path)
        node.name = _RSUB
    return out


_RSUB = spelled("sub", "RsubBackward1")


def _rdiv(self: Tensor, other: Any) -> Tensor:
    """``other / x``. For a Python number ``other`` the recorded op keeps a copy of x, as PyTorch's keeps x's
    reciprocal, so x may change in place before backward (``mg.div(other, x)`` keeps x itself, as torch.div). A
    Python int over an integer or bool x is PyTorch's ``reciprocal(x) * other`` in the default float dtype (integer
    true division); a Python float or complex over one follows NumPy 2 (``2.5 / int64_tensor`` is float64, as
    ``int64_tensor * 2.5``: DESIGN §3)."""
    if type(other) in _PYTHON_NUMBERS:
        # a float16 x: PyTorch's reciprocal(x) * other too (its rounding, in float32 with the number itself)
        if (self.dtype.kind in "biu" and type(other) in (int, bool)) or (self.dtype == "float16"
                                                                          and type(other) in (int, float)):
            inverse = math.reciprocal(self)
            return inverse if other == 1 and type(other) is not _PYTHON_COMPLEX else multiply_operator(inverse, other)
        if self._requires_grad and is_recording():
            node = Div()
            node.divisor_copy = True
            return node(other, self)
    return div(other, self)


def _to(self: Tensor, device: Any = None, dtype: Any = None, non_blocking: bool = False, copy: bool = False,
        memory_format: Any = None) -> Tensor:
    """Move to ``device`` and/or cast to ``dtype`` (differentiable).

    As in PyTorch, a dtype may also come first: ``x.to(mg.float64)``, and ``x.to(other)`` takes
    the device and dtype of the tensor ``other``. ``non_blocking`` changes nothing here (copies are
    synchronous); ``memory_format`` lays a cast or moved result out as :func:`contiguous` does
    (``preserve_format`` keeps the layout); with nothing to cast or move, x itself comes back when its suggested
    format (``mg.memory_formats.suggest``) is ``memory_format``, else a copy in it, as PyTorch's; ``copy=True``
    returns a new tensor even when nothing changes.
    """
    if isinstance(dtype, bool) and isinstance(device, (Tensor, backend.numpy.dtype, type)):
        dtype, non_blocking, copy = None, dtype, non_blocking   # to(dtype, non_blocking, copy) / to(other, ...)
    if isinstance(device, Tensor):
        device, dtype = device.device, device.dtype
    if dtype is None and isinstance(device, (backend.numpy.dtype, type)):
        device, dtype = None, device
    if not isinstance(non_blocking, bool) or not isinstance(copy, bool):
        raise TypeError(f"to: non_blocking and copy must be bools, got {non_blocking!r} and {copy!r}")
    out = self
    if dtype is not None:
        dtype = backend.as_dtype(dtype, "to")
        if dtype != self.dtype:
            out = astype(out, dtype)
    if device is not None:
        dev = backend.resolve_device(device)
        if dev != self.device:
            out = to_device(out, dev)
    fmt = _memory_format.check(memory_format, "to")
    if fmt not in (None, _memory_format.preserve_format):
        if out is not self:
            out = contiguous(out, fmt)
            if fmt is not _memory_format.contiguous_format and out.data.size and \
                    out.data.strides != _memory_format.dense_strides(out.shape, fmt, out.data.itemsize):
                # PyTorch allocates the copy in fmt, a size-1 dim's stride too (contiguous() keeps a (N, 1, H, W)
                # array that is dense in both formats as it is: cat and stack then lay out otherwise)
                out = clone(out, memory_format=fmt)
        elif copy or _memory_format.suggest(self.shape, self.data.strides) is not fmt:
            # PyTorch's to() returns x itself only when x's suggested format is fmt (even if x is not dense in
            # it, as a transposed matrix to contiguous_format), else a copy in fmt
            out = clone(self, memory_format=fmt)
    return clone(out) if copy and out is self else out


def _where_method(self: Tensor, condition: Any, other: Any) -> Tensor:
    """``x.where(condition, y)``: x where condition is true, else y (PyTorch's method spelling)."""
    return where(condition, self, other)


def _scaled(op: Any) -> Any:
    """``x.add(y, alpha=2)``: PyTorch's method spelling, ``x + alpha * y``."""
    def method(self: Tensor, other: Any, alpha: Any = 1) -> Tensor:
        alpha = number(alpha, op.__name__, "alpha")
        if op is sub:
            refuse_bool_subtraction(self, other)
        return op(self, other if alpha == 1 else mul(other, alpha))
    method.__name__ = op.__name__
    method.__doc__ = f"``{op.__name__}(x, alpha * other)``, as PyTorch's ``x.{op.__name__}(other, alpha=)``."
    return method


def _mm(self: Tensor, other: Tensor) -> Tensor:
    """Matrix product of two 2-D tensors (torch.mm)."""
    if self.ndim != 2 or getattr(other, "ndim", 0) != 2:
        raise ValueError(f"mm: expects two 2-D tensors, got shapes {self.shape} and {getattr(other, 'shape', ())}")
    return matmul(self, other)


_methods = {
    "to": _to,
    "__add__": add, "__radd__": add,
    "__sub__": sub, "__rsub__": _rsub,
    "__mul__": multiply_operator, "__rmul__": multiply_operator,
    "__truediv__": div, "__rtruediv__": _rdiv,
    "__pow__": power_operator, "__rpow__": _reflected(power_operator),
    "__matmul__": matmul_operator, "__rmatmul__": _reflected(matmul_operator),
    "__neg__": neg, "__getitem__": getitem, "__abs__": abs_operator,
    "exp": exp, "log": log, "tanh": tanh, "sigmoid": sigmoid, "relu": relu, "abs": abs,
    "sqrt": sqrt, "clip": clip, "clamp": clip, "maximum": maximum, "minimum": minimum,
    "sum": sum, "mean": mean, "max": max, "min": min, "var": var, "logsumexp": logsumexp,
    "softmax": softmax, "log_softmax": log_softmax, "matmul": matmul,
    "reshape": reshape, "view": view, "transpose": transpose, "swapaxes": swapaxes,
    "expand_dims": expand_dims, "unsqueeze": expand_dims, "squeeze": squeeze_method,
    "broadcast_to": broadcast_to_method, "chunk": chunk, "split": split, "unbind": unbind, "where": _where_method,
}
# PyTorch's spellings (DESIGN §3): the methods an RNN program uses, and the in-place ops
_methods.update({
    "size": size, "narrow": narrow, "numel": numel, "dim": dim, "ndimension": dim, "view": view, "flatten": flatten,
    "permute": permute, "t": t, "unsqueeze": unsqueeze, "expand": expand, "repeat": repeat, "clone": clone,
    "contiguous": contiguous, "masked_fill": masked_fill, "topk": topk, "argmax": argmax, "argmin": argmin,
    "amax": amax, "amin": amin, "std": std, "norm": norm, "sin": sin, "cos": cos, "bmm": bmm, "gather": gather,
    "new_zeros": creation.new_zeros, "new_ones": creation.new_ones, "new_full": creation.new_full,
    "new_empty": creation.new_empty, "new_tensor": creation.new_tensor, "int": creation.to_int,
    "bool": creation.to_bool, "half": creation.to_half, "type_as": creation.type_as,
    "element_size": creation.element_size,
    "add_": inplace.add_, "sub_": inplace.sub_, "mul_": inplace.mul_, "div_": inplace.div_,
    "clamp_": inplace.clamp_, "clip_": inplace.clamp_, "zero_": inplace.zero_, "fill_": inplace.fill_,
    "copy_": inplace.copy_, "masked_fill_": inplace.masked_fill_, "__setitem__": inplace.setitem,
    "_write_result": inplace._write_result,   # nn's inplace=True activations (nn/_in_place.py)
    "__iadd__": inplace.add_, "__isub__": inplace.sub_, "__imul__": inplace.mul_, "__itruediv__": inplace.div_,
    "mT": property(matrix_transpose, doc="The last two dims swapped (a batch of matrices transposed)."),
    "exp_": inplace.exp_, "log_": inplace.log_, "tanh_": inplace.tanh_, "sigmoid_": inplace.sigmoid_,
    "relu_": inplace.relu_, "neg_": inplace.neg_, "abs_": inplace.abs_, "sqrt_": inplace.sqrt_,
    "pow_": inplace.pow_, "uniform_": inplace.uniform_, "normal_": inplace.normal_, "__ipow__": inplace.pow_,
    "sort": sort, "argsort": argsort, "index_select": index_select, "all": all, "any": any,
    "add": _scaled(add), "sub": _scaled(sub), "mul": mul, "div": div, "pow": pow, "neg": neg, "mm": _mm,
    "expand_as": lambda self, other: expand(self, tensor_arg(other, "expand_as").shape),
    "view_as": lambda self, other: view(self, tensor_arg(other, "view_as").shape),
    "reshape_as": lambda self, other: reshape(self, tensor_arg(other, "reshape_as").shape),
})
for _name, _fn in _methods.items():
    setattr(Tensor, _name, _fn)

_comparisons = {
    "__lt__": lambda a, b: a < b, "__le__": lambda a, b: a <= b,
    "__gt__": lambda a, b: a > b, "__ge__": lambda a, b: a >= b,
    "__eq__": lambda a, b: a == b, "__ne__": lambda a, b: a != b,
}
for _name, _op in _comparisons.items():
    setattr(Tensor, _name, _compare(_name.strip("_"), _op, operator=True))
    setattr(Tensor, _name.strip("_"), _compare(_name.strip("_"), _op))   # PyTorch's x.eq(y), x.lt(y) ...

# More of PyTorch's tensor surface (math, scans, indexing, products, sampling): functions in their own
# modules, attached here from one table like the rest.
from . import contract, extras, index, inference, math, random, scan  # noqa: E402 - after the Tensor methods above

_where = where
_ONE_ARGUMENT = object()   # where(condition): no input and other given


def where(condition: Any, input: Any = _ONE_ARGUMENT, other: Any = _ONE_ARGUMENT, *,  # noqa: A002
          out: Tensor | None = None) -> Any:
    """``input`` where ``condition`` is true, else ``other`` (all broadcast together). ``where(condition)`` alone
    is ``nonzero(condition, as_tuple=True)``: one int64 index tensor per dim, as PyTorch's and NumPy's.
    ``out=``: written into that tensor, of the result's dtype (minigrad/outputs.py)."""
    if out is not None:
        if input is _ONE_ARGUMENT and other is _ONE_ARGUMENT:
            raise TypeError("where(): out= is not taken with the condition alone (as torch.where(condition))")
        return write_out("where", where(condition, input, other), out, "exact",
                         inputs=(condition, input, other))
    if input is _ONE_ARGUMENT and other is _ONE_ARGUMENT:
        return index.nonzero(condition, as_tuple=True)
    if input is _ONE_ARGUMENT or other is _ONE_ARGUMENT:
        raise TypeError("where() takes the condition alone, or the condition, input and other")
    return _where(condition, input, other)


_more_math = ("sign", "floor", "ceil", "round", "trunc", "fix", "log1p", "expm1", "log2", "log10", "exp2", "rsqrt",
              "square", "reciprocal", "erf", "lerp", "remainder", "fmod", "atan2", "logaddexp", "clamp_min",
              "clamp_max", "isnan", "isinf", "isfinite", "isposinf", "isneginf", "logical_not", "logical_and",
              "logical_or", "logical_xor", "isclose", "allclose", "count_nonzero")
_more_methods: dict = {name: getattr(math, name) for name in _more_math}
_more_methods["count_nonzero"] = math.count_nonzero_method   # x.count_nonzero(0, 1), as PyTorch's method
_more_methods.update({name: getattr(scan, name) for name in ("prod", "cumsum", "cumprod", "median", "logcumsumexp")})
_more_methods.update({name: getattr(index, name) for name in (
    "flip", "roll", "tril", "triu", "diag", "nonzero", "argwhere", "masked_select", "scatter", "scatter_",
    "scatter_add", "scatter_add_", "repeat_interleave")})
_more_methods.update({name: getattr(contract, name) for name in ("dot", "outer", "ger", "mm", "addmm", "baddbmm")})
_more_methods.update({
    "type": extras.type_, "is_contiguous": extras.is_contiguous, "nelement": extras.nelement, "apply_": extras.apply_,
    "map_": extras.map_,
    "is_inference": inference.is_inference,
    "bernoulli": random.bernoulli, "bernoulli_": random.bernoulli_, "multinomial": random.multinomial,
    "random_": random.random_, "exponential_": random.exponential_, "geometric_": random.geometric_,
    "cauchy_": random.cauchy_, "log_normal_": random.log_normal_,
    "__mod__": math.remainder, "__rmod__": _reflected(math.remainder),
    "clamp_min_": lambda self, min: inplace._inplace(
        self, "clamp_min_", lambda cur: math.clamp_min(cur, *inplace.in_dtype_of(cur, min)), min),
    "clamp_max_": lambda self, max: inplace._inplace(
        self, "clamp_max_", lambda cur: math.clamp_max(cur, *inplace.in_dtype_of(cur, max)), max),
    "__imod__": lambda self, other: inplace._inplace(
        self, "remainder_", lambda cur: math.remainder(cur, *inplace.in_dtype_of(cur, other)), other),
    "remainder_": lambda self, other: inplace._inplace(
        self, "remainder_", lambda cur: math.remainder(cur, *inplace.in_dtype_of(cur, other)), other),
    "lerp_": lambda self, end, weight: inplace._inplace(self, "lerp_", lambda cur: math.lerp(cur, end, weight),
                                                        end, weight),
})
for _name in ("sign", "floor", "ceil", "round", "trunc", "log1p", "expm1", "log2", "log10", "exp2", "rsqrt",
              "square", "reciprocal", "erf"):
    _more_methods[_name + "_"] = inplace._unary_(_name + "_", getattr(math, _name))


def _round_(self: Tensor, decimals: int = 0) -> Tensor:
    """``x = x.round(decimals=decimals)`` in place (the gradient as the out-of-place op)."""
    return inplace._inplace(self, "round_", lambda cur: math.round(cur, decimals=decimals))


_more_methods["round_"] = _round_
for _name, _fn in _more_methods.items():
    setattr(Tensor, _name, _fn)

# PyTorch's pointwise math, rearranging and statistics ops: each module lists its Tensor methods in METHODS.
from . import arrange, bitwise, pointwise, statistics  # noqa: E402

for _module in (pointwise, arrange, statistics, bitwise):
    for _name, _fn in _module.METHODS.items():
        setattr(Tensor, _name, _fn)

# the gamma family and the other special functions PyTorch has as Tensor methods
from . import gamma, special_functions  # noqa: E402

_gamma_methods: dict = {
    "lgamma": gamma.lgamma, "digamma": gamma.digamma, "erfinv": special_functions.erfinv, "i0": special_functions.i0,
    "polygamma": lambda self, n: gamma.polygamma(n, self), "mvlgamma": gamma.mvlgamma,
    "igamma": gamma.gammainc, "igammac": gamma.gammaincc,
}
for _name in ("lgamma", "digamma", "erfinv", "i0"):
    _gamma_methods[_name + "_"] = inplace._unary_(_name + "_", _gamma_methods[_name])
for _name, _fn in _gamma_methods.items():
    setattr(Tensor, _name, _fn)

# more of torch.Tensor's methods: in-place variants, the linear-algebra methods, renorm, index_reduce, new …
from . import tensor_more  # noqa: E402

for _name, _fn in tensor_more.METHODS.items():
    setattr(Tensor, _name, _fn)

# in-place shape changes: unsqueeze_, squeeze_, t_, transpose_ (swapaxes_, swapdims_), resize_, resize_as_
from . import inplace_shape  # noqa: E402

for _name, _fn in inplace_shape.METHODS.items():
    setattr(Tensor, _name, _fn)

# complex numbers: real, imag, angle, polar, complex, view_as_real/complex, conj … (after tensor_more: its
# real-only conj, resolve_conj … give way to these)
from . import complex_ops  # noqa: E402

globals().update({_name: getattr(complex_ops, _name) for _name in complex_ops.__all__})
__all__ += complex_ops.__all__
for _name, _fn in complex_ops.METHODS.items():
    setattr(Tensor, _name, _fn)
