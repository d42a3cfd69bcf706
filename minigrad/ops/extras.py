"""Small PyTorch spellings about tensors themselves: ``eye``, ``empty_like``, ``empty_strided``, ``x.type()``,
``is_contiguous``, ``nelement``, ``x.apply_``, ``mg.detach``, ``mg.is_tensor`` and ``mg.inference_mode``."""

from __future__ import annotations

import builtins
from typing import Any, Callable

import numpy

from .. import backend
from .. import memory_formats as _memory_format
from ..constructors import _filled, _like, _zeros, out_requires_grad, tensor_options
from ..dtypes import get_default_dtype
from ..legacy import legacy_type
from ..outputs import creation_args, write_out
from ..recording import no_grad
from ..tensor import Tensor
from ._util import count_arg, flag, int_tuple
from .shape import astype


def eye(n: int, m: int | None = None, *, out: Any = None, dtype: Any = None, device: Any = None,
        requires_grad: bool = False, layout: Any = None, pin_memory: Any = None) -> Tensor:
    """The (n, m) identity matrix (m = n by default), float32 unless ``dtype`` is given (torch.eye)."""
    tensor_options("eye", layout, None if out is not None else pin_memory, device)
    if out is not None:
        dtype, device = creation_args("eye", out, dtype, device)
        return out_requires_grad(write_out("eye", eye(n, m, dtype=dtype, device=device), out, warn=False),
                                 requires_grad, "eye")
    n = count_arg(n, "eye", "n", one_element=True)
    m = n if m is None else count_arg(m, "eye", "m", one_element=True)
    out = _filled(_zeros, (n, m), get_default_dtype() if dtype is None else dtype, device, requires_grad, "eye")
    k = min(n, m)
    if k:
        out.data[range(k), range(k)] = 1
    return out


def empty_like(input: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,  # noqa: A002
               memory_format: Any = None, layout: Any = None, pin_memory: Any = None) -> Tensor:
    """An uninitialised (here: zero) tensor with ``x``'s shape, and its dtype and device unless given."""
    x = _like(input, "empty_like")
    tensor_options("empty_like", layout, pin_memory, x.device if device is None else device)
    out = _filled(_zeros, x.shape, x.dtype if dtype is None else dtype, x.device if device is None else device,
                  requires_grad, "empty_like")
    return _memory_format.relayout(out, memory_format, "empty_like", x)


def empty_strided(size: Any, stride: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,
                  layout: Any = None, pin_memory: bool = False) -> Tensor:
    """An uninitialised tensor of shape ``size`` whose neighbours along dim d lie ``stride[d]`` elements apart
    in its memory (torch.empty_strided): ``empty_strided((2, 3), (1, 2))`` is column-major."""
    tensor_options("empty_strided", layout, pin_memory, device)
    size, stride = int_tuple(size, "empty_strided", "size"), int_tuple(stride, "empty_strided", "stride")
    if len(size) != len(stride):
        raise ValueError(f"empty_strided: size {size} and stride {stride} need the same number of dims")
    if any(n < 0 for n in size) or any(s < 0 for s in stride):
        raise ValueError(f"empty_strided: sizes and strides must be non-negative, got size {size}, stride {stride}")
    places = 0 if 0 in size else 1 + sum((n - 1) * s for n, s in zip(size, stride))

    def fill(xp: Any, _shape: tuple, dt: Any) -> Any:
        memory = xp.empty(places, dtype=dt)
        return xp.lib.stride_tricks.as_strided(memory, size, tuple(s * memory.itemsize for s in stride))
    return _filled(fill, size, dtype, device, requires_grad, "empty_strided")


def apply_(x: Tensor, function: Callable[[Any], Any]) -> Tensor:
    """Replace each element of ``x`` by ``function(element)``, in place, in Python (slow; a CPU tensor that
    does not require grad, as PyTorch's ``Tensor.apply_``). Results are cast to x's dtype."""
    x = _tensor(x, "apply_")
    if not callable(function):
        raise TypeError(f"apply_: expected a callable, got {type(function).__name__}")
    if x.requires_grad:
        raise RuntimeError("apply_: cannot call it on a tensor that requires grad (its values would change "
                           "outside the graph); use x.detach().apply_(...)")
    if x.device != backend.CPU:
        raise TypeError(f"apply_: only implemented for CPU tensors, as PyTorch's; this one is on {x.device}")
    values = numpy.vectorize(function, otypes=[x.dtype])(x.data) if x.data.size else x.data.copy()
    return x.copy_(Tensor._make(values, False, None, 0))


def map_(x: Tensor, other: Tensor, callable: Callable[[Any, Any], Any]) -> Tensor:  # noqa: A002 - PyTorch's name
    """Replace each element ``a`` of ``x`` by ``callable(a, b)``, ``b`` the element of ``other`` (broadcast to
    x's shape, x's dtype) at its place, in place, in Python (slow; a CPU tensor that does not require grad, as
    PyTorch's ``Tensor.map_``). The callable gets Python numbers; results are cast to x's dtype."""
    x = _tensor(x, "map_")
    if not isinstance(other, Tensor):
        raise TypeError(f"map_(): argument 'other' (position 1) must be Tensor, not {type(other).__name__}")
    if other.dtype != x.dtype:
        raise TypeError(f"map_: expected 'other' of x's dtype {x.dtype}, got {other.dtype}")
    if not builtins.callable(callable):
        raise TypeError(f"map_: expected a callable, got {type(callable).__name__}")
    if x.requires_grad:
        raise RuntimeError("map_: cannot call it on a tensor that requires grad (its values would change "
                           "outside the graph); use x.detach().map_(...)")
    if x.device != backend.CPU or other.device != backend.CPU:
        raise TypeError(f"map_: only implemented for CPU tensors, as PyTorch's; got {x.device} and {other.device}")
    try:
        pairs = numpy.broadcast_to(other.data, x.shape)
    except ValueError:
        raise RuntimeError(f"map_: 'other' of shape {other.shape} does not broadcast to x's shape {x.shape}") from None
    values = [callable(a, b) for a, b in zip(x.data.ravel().tolist(), pairs.ravel().tolist())]
    try:
        with numpy.errstate(over="ignore", invalid="ignore"):   # 1e40 into float32 is inf, as PyTorch's
            result = numpy.array(values, dtype=x.dtype).reshape(x.shape)
    except OverflowError as error:
        raise RuntimeError(f"map_: a value cannot be converted to {x.dtype} without overflow ({error})") from None
    except (TypeError, ValueError) as error:
        raise TypeError(f"map_: the callable must return numbers ({error})") from None
    return x.copy_(Tensor._make(result, False, None, 0))


def type_(x: Tensor, dtype: Any = None, non_blocking: bool = False) -> Any:
    """``x.type()`` is the dtype's name (``'float32'``; PyTorch says ``'torch.FloatTensor'``);
    ``x.type(dtype)`` casts (differentiably); ``dtype`` may be a legacy type, which names a device too, as
    PyTorch's: ``mg.DoubleTensor`` / ``'torch.DoubleTensor'`` cast on the CPU, ``mg.cuda.FloatTensor`` /
    ``'torch.cuda.FloatTensor'`` on the GPU (x moves there, differentiably). ``non_blocking`` changes nothing
    (copies are synchronous here)."""
    x = _tensor(x, "type")
    if not isinstance(non_blocking, bool):
        raise TypeError(f"type: non_blocking must be a bool, got {non_blocking!r}")
    if dtype is None:
        return str(x.dtype)
    legacy = legacy_type(dtype)
    if legacy is not None and x.device.type != legacy.device_type:
        x = x.to(legacy.device_type)
    dtype = backend.as_dtype(dtype if legacy is None else legacy.dtype, "type")
    return x if x.dtype == dtype else astype(x, dtype)


def _tensor(x: Any, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
    if x._refuses_ops:   # a lazy module's placeholder (nn.parameter): PyTorch's ValueError, not its empty array
        x._refuse_op(name)
    return x


def is_contiguous(x: Tensor, memory_format: Any = None) -> bool:
    """Whether the array is C-contiguous in memory (a transpose is not, until ``contiguous()``), or dense in
    ``memory_format``'s layout (``mg.channels_last``: NHWC strides)."""
    return _memory_format.is_contiguous_as(_tensor(x, "is_contiguous").data, memory_format)


def nelement(x: Tensor) -> int:
    """The number of elements (PyTorch's older name of ``numel``)."""
    return int(_tensor(x, "nelement").data.size)


def detach(input: Tensor) -> Tensor:  # noqa: A002
    """``x.detach()``: the same values cut from the graph (sharing memory)."""
    return _tensor(input, "detach").detach()


def is_tensor(obj: Any) -> bool:
    """Whether ``obj`` is an ``mg.Tensor`` (a Parameter is one)."""
    return isinstance(obj, Tensor)


class inference_mode(no_grad):  # noqa: N801 - PyTorch's name
    """``with mg.inference_mode():`` (or as a decorator) records nothing, as ``no_grad``; minigrad has no
    separate inference tensors. ``inference_mode(False)`` turns grad mode on, as PyTorch's (its guard sets grad
    mode to ``not mode``), also inside ``no_grad``."""

    def __init__(self, mode: bool = True) -> None:
        self.mode = flag(mode, "inference_mode", "mode")

    def _entry_value(self) -> Any:
        """Recording off, or on for ``inference_mode(False)``."""
        return not self.mode
