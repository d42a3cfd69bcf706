"""The Tensor: one array (NumPy or CuPy) plus what autograd needs to know.

Operators and math methods (``+``, ``@``, ``x.tanh()``, ``x.sum()``, ``.to()`` …)
are attached by :mod:`minigrad.ops`, where each op's forward and backward live;
``backward``, ``register_hook`` and ``retain_grad`` by :mod:`minigrad.autograd`.
Imports run one way: backend ← tensor ← autograd ← ops.
"""

from __future__ import annotations

import operator
import weakref
from typing import Any, Callable

import numpy

from . import backend
from .backend import Device

float32 = numpy.dtype("float32")
float64 = numpy.dtype("float64")
float16 = numpy.dtype("float16")
int32 = numpy.dtype("int32")
int64 = numpy.dtype("int64")
bool_ = numpy.dtype("bool")


class GradTypeError(TypeError, RuntimeError):
    """Only floating-point tensors can require gradients."""


def _infer_dtype(data: Any) -> Any:
    """Python scalars and lists: float32 for floats, int64 for ints, bool for bools.

    NumPy scalars (``numpy.float64(1.5)`` is also a Python float) keep their dtype, as arrays do.
    """
    if isinstance(data, numpy.generic):
        return None
    if isinstance(data, bool):
        return bool_
    if isinstance(data, int):
        return int64
    if isinstance(data, float):
        return float32
    if isinstance(data, (list, tuple)):
        kind = numpy.asarray(data).dtype.kind
        return {"b": bool_, "i": int64, "u": int64, "f": float32}.get(kind)
    return None


class InplaceLog:
    """Which arrays in-place ops changed, and when: the version counters behind backward's check.

    Kept per memory owner (a view's ``.base``), not per Tensor, so a view, a
    ``detach()``-ed copy and the tensor itself share one counter, as in
    PyTorch. A recorded op notes the current ``epoch`` (one store); backward
    looks further only when an in-place op ran since (``epoch`` moved on), so
    graphs built without in-place ops pay nothing more. Entries die with
    their array (weak references, swept as the log grows).
    """

    __slots__ = ("epoch", "entries", "_sweep_at")

    def __init__(self) -> None:
        self.epoch = 0
        self.entries: dict = {}   # id(owner) -> [weakref to owner, version, epochs of the last changes]
        self._sweep_at = 1024

    @staticmethod
    def _owner(array: Any) -> Any:
        base = getattr(array, "base", None)
        return array if base is None or not hasattr(base, "shape") else base   # a view: its owner

    def _entry(self, array: Any) -> list | None:
        owner = self._owner(array)
        entry = self.entries.get(id(owner))
        return entry if entry is not None and entry[0]() is owner else None

    def bump(self, array: Any) -> None:
        self.epoch += 1
        owner = self._owner(array)
        entry = self._entry(array)
        if entry is None:
            if len(self.entries) >= self._sweep_at:
                self.entries = {k: e for k, e in self.entries.items() if e[0]() is not None}
                self._sweep_at = max(1024, 2 * len(self.entries))
            entry = self.entries[id(owner)] = [weakref.ref(owner), 0, []]
        entry[1] += 1
        entry[2] = [*entry[2][-15:], self.epoch]

    def version(self, array: Any) -> int:
        entry = self._entry(array)
        return 0 if entry is None else entry[1]

    def changed_since(self, array: Any, epoch: int) -> tuple[int, int] | None:
        """``(version now, version at epoch)`` if an in-place op changed ``array`` after ``epoch``, else None."""
        entry = self._entry(array)
        if entry is None or entry[2][-1] <= epoch:
            return None
        later = sum(1 for e in entry[2] if e > epoch)   # the last 16 changes are kept: exact for the usual cases
        return entry[1], entry[1] - later


INPLACE = InplaceLog()


class Tensor:
    """An n-dimensional array that can record the ops applied to it.

    ``data`` is a ``numpy.ndarray`` (device ``"cpu"``) or ``cupy.ndarray``
    (``"cuda:N"``). A tensor made by an op while recording holds its
    creator node (``grad_fn``); a leaf has none.
    """

    # _view: (base, index) of a tensor that is base[index] sharing its memory; _views: weakrefs to such
    # tensors of this base. Set only by getitem (read with getattr): in-place ops use them to keep
    # both graphs right (ops/inplace.py).
    __slots__ = ("data", "requires_grad", "grad", "_node", "_index", "_hooks", "name", "_view", "_views",
                 "__weakref__")
    __array_ufunc__ = None  # make `ndarray * Tensor` call Tensor.__rmul__
    __hash__ = object.__hash__

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool = False,
                 device: str | Device | None = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        if device is None:
            device = backend.device_of(data) if backend.is_array(data) else backend.get_default_device()
        else:
            device = backend.resolve_device(device)
        try:
            if dtype is None:
                dtype = _infer_dtype(data)
            array = backend.make_array(data, dtype, device)
        except (TypeError, ValueError) as error:
            raise type(error)(f"tensor: cannot make a tensor from this {type(data).__name__} "
                              f"(dtype {dtype!r}): {error}") from error
        if array.dtype.kind not in "biufc":
            raise TypeError(f"tensor: cannot make a tensor of dtype {array.dtype} from a {type(data).__name__} "
                            "(numbers only)")
        self.data = array
        self.grad = None
        self._node = None
        self._index = 0
        self._hooks = None
        self.name = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data: Any, requires_grad: bool, node: Any, index: int) -> Tensor:
        """Wrap an array without checks (the engine's fast path)."""
        t = object.__new__(cls)
        t.data = data
        t.requires_grad = requires_grad
        t.grad = None
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

    @property
    def grad_fn(self) -> Any:
        return self._node

    @property
    def T(self) -> Tensor:
        return self.transpose()

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.data.dtype.kind not in "fc":
            raise GradTypeError(
                f"only floating-point tensors can require gradients; this one is {self.data.dtype} "
                "(integer and bool tensors are for indices and masks)"
            )
        if self._node is not None and not requires_grad:
            raise RuntimeError("requires_grad_: cannot turn off requires_grad of a non-leaf; use .detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return int(self.data.shape[0])

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous: "
                             "only one-element tensors can be used as a condition")
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError(
                f"only integer tensors of one element can be used as an index, got {self.dtype}{self.shape}"
            )
        return int(self.item())

    def __iter__(self) -> Any:
        for i in range(len(self)):
            yield self[i]

    # --- autograd (backward, register_hook, retain_grad: attached by minigrad.autograd) ---

    def detach(self) -> Tensor:
        """The same array, cut from the graph (no copy)."""
        return Tensor._make(self.data, False, None, 0)

    def detach_(self) -> Tensor:
        self._node = None
        self._index = 0
        self.requires_grad = False
        return self

    def zero_grad_(self) -> None:
        self.grad = None

    @property
    def _version(self) -> int:
        """How many in-place ops changed this tensor's memory (shared with its views and ``detach()``)."""
        return INPLACE.version(self.data)

    def _bump_version(self) -> None:
        """Called by every in-place op after it changed ``.data``: backward then refuses saved arrays
        that changed since their op recorded them. Writing ``.data`` directly is not tracked."""
        INPLACE.bump(self.data)

    # --- conversion ---

    def item(self) -> Any:
        if self.data.size != 1:
            raise ValueError(
                f"item: only one-element tensors can be converted to a Python scalar, got shape {self.shape}"
            )
        return backend.to_numpy(self.data).reshape(()).item()

    def numpy(self) -> numpy.ndarray:
        """A host ``numpy.ndarray`` (the same memory on CPU, a copy from a GPU)."""
        return backend.to_numpy(self.data)

    def tolist(self) -> Any:
        return self.numpy().tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> numpy.ndarray:
        # numpy.asarray(tensor), and lists of tensors given to mg.tensor, see the values
        array = self.numpy()
        return array if dtype is None else array.astype(dtype, copy=False)

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, device: int | None = None) -> Tensor:
        return self.to("cuda" if device is None else f"cuda:{device}")

    def float(self) -> Tensor:
        return self.to(dtype=float32)

    def double(self) -> Tensor:
        return self.to(dtype=float64)

    def long(self) -> Tensor:
        return self.to(dtype=int64)

    def astype(self, dtype: Any) -> Tensor:
        return self.to(dtype=dtype)

    def __repr__(self) -> str:
        body = numpy.array2string(self.numpy(), separator=", ", prefix="tensor(")
        extras = []
        if self.device != backend.CPU:
            extras.append(f"device='{self.device}'")
        if self.dtype not in (float32, int64, bool_):
            extras.append(f"dtype={self.dtype}")
        if self._node is not None:
            extras.append(f"grad_fn=<{self._node.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"tensor({body}{''.join(', ' + e for e in extras)})"



# --- constructors -----------------------------------------------------------

def tensor(data: Any, dtype: Any = None, requires_grad: bool = False,
           device: str | Device | None = None) -> Tensor:
    """A new leaf tensor copying ``data`` (scalar, nested list, NumPy/CuPy array or Tensor).

    Python floats become float32, ints int64, bools bool; arrays keep their dtype.
    """
    if isinstance(data, Tensor):
        data = data.data
    if backend.is_array(data) and (device is None or backend.resolve_device(device) == backend.device_of(data)):
        data = data.copy()
    return Tensor(data, dtype=dtype, requires_grad=requires_grad, device=device)


def _shape_arg(shape: Any, name: str = "tensor") -> tuple:
    """A shape given as ints, or as one tuple/list of ints; anything else raises naming the constructor."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    try:
        if any(isinstance(s, bool) for s in shape):
            raise TypeError("bools are not sizes")
        shape = tuple(operator.index(s) for s in shape)
    except TypeError:
        raise TypeError(f"{name}: a shape is ints or one tuple of ints, got {shape!r}") from None
    if any(s < 0 for s in shape):
        raise ValueError(f"{name}: negative dimension in shape {shape}")
    return shape


def _filled(fill: Callable[[Any, tuple, Any], Any], shape: tuple, dtype: Any, device: Any,
            requires_grad: bool, name: str = "tensor") -> Tensor:
    dev = backend.resolve_device(device)
    xp = backend.module_for(dev)
    try:
        dt = numpy.dtype(dtype) if dtype is not None else float32
        with backend.on_device(dev):
            data = fill(xp, shape, dt)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{name}: {error} (shape {shape}, dtype {dtype!r})") from error
    t = Tensor._make(data, False, None, 0)
    if requires_grad:
        t.requires_grad_(True)
    return t


def zeros(shape: Any = (), *dims: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Tensor of zeros; ``shape`` as ints or one tuple: ``zeros(2, 3)``, ``zeros((2, 3))``, ``zeros(shape=(2, 3))``.

    float32 by default.
    """
    return _filled(lambda xp, s, d: xp.zeros(s, dtype=d), _shape_arg((shape, *dims), "zeros"), dtype, device,
                   requires_grad, "zeros")


def ones(shape: Any = (), *dims: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Tensor of ones; ``shape`` as ints or one tuple."""
    return _filled(lambda xp, s, d: xp.ones(s, dtype=d), _shape_arg((shape, *dims), "ones"), dtype, device,
                   requires_grad, "ones")


def empty(shape: Any = (), *dims: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Uninitialised tensor; ``shape`` as ints or one tuple."""
    return _filled(lambda xp, s, d: xp.empty(s, dtype=d), _shape_arg((shape, *dims), "empty"), dtype, device,
                   requires_grad, "empty")


def full(shape: Any, fill_value: Any, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """Tensor of ``shape`` filled with ``fill_value`` (dtype inferred like ``tensor``)."""
    shape = _shape_arg((shape,), "full")
    if dtype is None:
        try:
            dtype = _infer_dtype(fill_value) or float32
        except ValueError as error:
            raise ValueError(f"full: fill_value is not a number or an array ({error})") from error
    return _filled(lambda xp, s, d: xp.full(s, fill_value, dtype=d), shape, dtype, device, requires_grad, "full")


def _like(x: Any, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor to take the shape, dtype and device of, got {type(x).__name__}")
    return x


def zeros_like(x: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    x = _like(x, "zeros_like")
    return zeros(x.shape, dtype=x.dtype if dtype is None else dtype, device=device or x.device,
                 requires_grad=requires_grad)


def ones_like(x: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    x = _like(x, "ones_like")
    return ones(x.shape, dtype=x.dtype if dtype is None else dtype, device=device or x.device,
                requires_grad=requires_grad)


def full_like(x: Tensor, fill_value: Any, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    x = _like(x, "full_like")
    return full(x.shape, fill_value, dtype=x.dtype if dtype is None else dtype, device=device or x.device,
                requires_grad=requires_grad)


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Evenly spaced values as ``numpy.arange``; int64 for ints, float32 for floats."""
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        dtype = int64 if all(isinstance(v, (int, numpy.integer)) for v in (start, stop, step)) else float32
    return _filled(lambda xp, s, d: xp.arange(start, stop, step, dtype=d), (), dtype, device, requires_grad,
                   "arange")


def randn(*shape: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the device's generator (see ``manual_seed``)."""
    dev = backend.resolve_device(device)
    gen = backend.generator(dev)
    return _filled(lambda xp, s, d: gen.standard_normal(s, dtype=d) if d.kind == "f" and d.itemsize >= 4
                   else gen.standard_normal(s).astype(d), _shape_arg(shape, "randn"), dtype, dev,
                   requires_grad, "randn")


def rand(*shape: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from the device's generator."""
    dev = backend.resolve_device(device)
    gen = backend.generator(dev)
    return _filled(lambda xp, s, d: gen.random(s, dtype=d) if d.kind == "f" and d.itemsize >= 4
                   else gen.random(s).astype(d), _shape_arg(shape, "rand"), dtype, dev,
                   requires_grad, "rand")


def randint(low: int, high: int, shape: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """Integers in [low, high) from the device's generator (int64 by default)."""
    dev = backend.resolve_device(device)
    gen = backend.generator(dev)
    shape = _shape_arg((shape,), "randint")
    dtype = int64 if dtype is None else dtype
    if dev.type == "cpu":
        return _filled(lambda xp, s, d: gen.integers(low, high, s).astype(d), shape, dtype, dev, False, "randint")
    return _filled(lambda xp, s, d: gen.randint(low, high, s).astype(d), shape, dtype, dev, False, "randint")


def as_tensor(value: Any, like: Tensor | None = None) -> Tensor:
    """``value`` as a Tensor (no copy for a Tensor or an array)."""
    if isinstance(value, Tensor):
        return value
    if backend.is_array(value):
        if value.dtype.kind not in "biufc":   # object, string, datetime ...: refused, as tensor() does
            raise TypeError(f"as_tensor: cannot make a tensor of dtype {value.dtype} (numbers only)")
        return Tensor._make(value, False, None, 0)
    if like is not None and not isinstance(like, Tensor):
        raise TypeError(f"as_tensor: like must be a Tensor, got {type(like).__name__}")
    device = like.device if like is not None else None
    dtype = None
    if like is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
        dtype = like.dtype if like.dtype.kind == "f" or isinstance(value, int) else None
    return Tensor(value, dtype=dtype, device=device)
