"""PyTorch's other spellings of ops minigrad has as Tensor methods: the top-level in-place functions
(``torch.exp_(x)`` is ``x.exp_()``), the ``unsafe_chunk``/``unsafe_split``/``unsafe_split_with_sizes`` aliases
(PyTorch's skip a view check that minigrad does not make), and ``Tensor.bfloat16()`` and ``Tensor.chalf()``
(complex32), which NumPy cannot hold.
"""

from __future__ import annotations

import inspect
from typing import Any

from ..arguments import NO_BFLOAT16
from ..autograd.names import spelled
from ..tensor import Tensor
from ._util import NOT_GIVEN, axis_alias, int_arg
from .combine import split_with_sizes
from .join import chunk, split

# torch's top-level in-place functions, each the Tensor method of its name
INPLACE = ("abs_", "acos_", "acosh_", "addmv_", "arccos_", "arccosh_", "arcsin_", "arcsinh_", "arctan_", "arctanh_",
           "asin_", "asinh_", "atan_", "atanh_", "ceil_", "clamp_", "clamp_max_", "clamp_min_", "clip_", "cos_",
           "cosh_", "deg2rad_", "detach_", "erf_", "erfc_", "exp2_", "exp_", "expm1_", "fill_", "fix_", "floor_",
           "frac_", "gcd_", "i0_", "index_put_", "lcm_", "ldexp_", "log10_", "log1p_", "log2_", "log_", "logit_",
           "nan_to_num_", "neg_", "negative_", "rad2deg_", "reciprocal_", "relu_", "resize_as_", "round_", "rsqrt_",
           "sigmoid_", "sin_", "sinc_", "sinh_", "sqrt_", "square_", "tan_", "tanh_", "trunc_", "xlogy_", "zero_")

__all__ = [*INPLACE, "unsafe_chunk", "unsafe_split", "unsafe_split_with_sizes"]


_SIGNATURES: dict = {}   # name → the Tensor method's signature, read on first use


def _signature(name: str, method: Any) -> inspect.Signature:
    """The arguments ``method`` takes: its own signature, or, where it forwards ``*args`` to the op it applies in
    place, that of the out-of-place method (``xlogy_`` → ``xlogy``)."""
    signature = inspect.signature(method)
    forwards = any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in signature.parameters.values())
    if forwards and hasattr(Tensor, name[:-1]):
        return inspect.signature(getattr(Tensor, name[:-1]))
    return signature


def _inplace_function(name: str) -> Any:
    def function(input: Tensor, *args: Any, **kwargs: Any) -> Tensor:  # noqa: A002 - PyTorch's name
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' must be a Tensor (it is changed in place), got "
                            f"{type(input).__name__}")
        method = getattr(Tensor, name)
        if name not in _SIGNATURES:
            _SIGNATURES[name] = _signature(name, method)
        try:   # the method's arguments, checked here so that a wrong one names this function
            _SIGNATURES[name].bind(input, *args, **kwargs)
        except TypeError as error:
            raise TypeError(f"{name}(): {error}") from None
        return method(input, *args, **kwargs)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"``torch.{name}(x, …)``: ``x.{name}(…)``, changing x in place and returning it."
    return function


globals().update({_name: _inplace_function(_name) for _name in INPLACE})


def _untracked(parts: list, pytorch: str = "UnsafeSplitBackward0") -> list:
    """``parts`` (views of one tensor) marked as memory of their own for autograd, as PyTorch's unsafe_split:
    an in-place op on a part is recorded on that part alone (split's parts refuse it while recording). The
    memory is still shared: the version counter is the memory's, so a saved array another write changed is
    still refused (PyTorch's separate counters give a silently wrong gradient there, as its docs warn). Their
    node (one for all) is spelled ``pytorch``, as PyTorch's."""
    for part in parts:
        part._view = ()
    node = parts[0]._node if parts else None
    if node is not None:
        node.name = spelled(str(node.name), pytorch)
    return parts


def unsafe_chunk(input: Tensor, chunks: int, dim: int = 0, *, axis: Any = NOT_GIVEN) -> list:  # noqa: A002
    """:func:`chunk` (torch.unsafe_chunk): ``chunks`` parts along ``dim``, which may be changed in place (``axis=``
    is PyTorch's alias of ``dim=``)."""
    dim = axis_alias("unsafe_chunk", dim, axis, 0)
    return _untracked(chunk(input, int_arg(chunks, "unsafe_chunk", "chunks"), dim))


def unsafe_split(input: Tensor, split_size: int, dim: int = 0, *, axis: Any = NOT_GIVEN) -> list:  # noqa: A002
    """:func:`split` into parts of ``split_size`` (an int, as torch.unsafe_split) along ``dim``, which may be
    changed in place (``axis=`` is PyTorch's alias of ``dim=``)."""
    dim = axis_alias("unsafe_split", dim, axis, 0)
    return _untracked(split(input, int_arg(split_size, "unsafe_split", "split_size", one_element=True), dim))


def unsafe_split_with_sizes(input: Tensor, split_sizes: Any, dim: int = 0, *,  # noqa: A002
                            axis: Any = NOT_GIVEN) -> list:
    """:func:`split_with_sizes` (torch.unsafe_split_with_sizes): parts of the given sizes along ``dim``, which
    may be changed in place (``axis=`` is PyTorch's alias of ``dim=``)."""
    dim = axis_alias("unsafe_split_with_sizes", dim, axis, 0)
    return _untracked(split_with_sizes(input, split_sizes, dim), "UnsafeSplitWithSizesBackward0")


def bfloat16(self: Tensor, memory_format: Any = None) -> Tensor:
    """``Tensor.bfloat16()``: a TypeError whatever the shape, NumPy has no bfloat16 (use ``x.half()`` or
    ``x.float()``)."""
    raise TypeError(f"Tensor.bfloat16: {NO_BFLOAT16}")


def chalf(self: Tensor, memory_format: Any = None) -> Tensor:
    """``Tensor.chalf()`` (``x.to(torch.complex32)``): a TypeError whatever the shape, NumPy has no complex32
    (PyTorch's ComplexHalf); ``x.cfloat()`` gives complex64."""
    raise TypeError(f"Tensor.chalf: NumPy (and so minigrad, on CPU and CuPy alike) has no complex32 (ComplexHalf) "
                    f"dtype to hold this {self.dtype} tensor of shape {tuple(self.shape)}; use x.cfloat() "
                    "(complex64) instead")


METHODS = {"unsafe_chunk": unsafe_chunk, "unsafe_split": unsafe_split,
           "unsafe_split_with_sizes": unsafe_split_with_sizes, "bfloat16": bfloat16, "chalf": chalf}
