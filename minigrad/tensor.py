"""The Tensor: one array (NumPy or CuPy) plus what autograd needs to know.

Operators and math methods (``+``, ``@``, ``x.tanh()``, ``x.sum()``, ``.to()`` …)
are attached by :mod:`minigrad.ops`, where each op's forward and backward live;
``backward``, ``register_hook`` and ``retain_grad`` by :mod:`minigrad.autograd`.
Constructors (``mg.tensor``, ``mg.zeros`` …) are in :mod:`minigrad.constructors`.
Imports run one way: backend ← tensor ← autograd ← ops.
"""

from __future__ import annotations

from typing import Any

import numpy

from . import backend
from .arguments import as_bool
from .backend import Device
from .recording import note_draw, note_read
from .versions import INPLACE

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
            # a device array stays where it is; host data (NumPy arrays too) goes to the default device, as in PyTorch
            on_gpu = backend.is_array(data) and type(data) is not numpy.ndarray
            device = backend.device_of(data) if on_gpu else backend.get_default_device()
        else:
            device = backend.resolve_device(device)
        if dtype is not None:
            dtype = backend.as_dtype(dtype, "tensor")
        try:
            if dtype is None:
                dtype = _infer_dtype(data)
            array = backend.make_array(data, dtype, device)
        except (TypeError, ValueError) as error:
            raise backend.reworded(error, f"tensor: cannot make a tensor from this {type(data).__name__} "
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
        if as_bool(requires_grad, "tensor", "requires_grad"):
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
        requires_grad = as_bool(requires_grad, "requires_grad_", "requires_grad")
        if requires_grad and self.data.dtype.kind not in "fc":
            raise GradTypeError(
                f"only floating-point tensors can require gradients; this one is {self.data.dtype} "
                "(integer and bool tensors are for indices and masks)"
            )
        if self._node is not None and not requires_grad:
            raise RuntimeError("requires_grad_: cannot turn off requires_grad of a non-leaf; use .detach()")
        self.requires_grad = requires_grad
        return self

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return int(self.data.shape[0])

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous: "
                             "only one-element tensors can be used as a condition")
        note_read(self, "bool")   # inside an mg.compile capture: the path may depend on this value
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
        # a recorded draw: inside mg.compile a replay passes on that call's array, not the capture's
        return note_draw("detach", _same_array, (self,), Tensor._make(self.data, False, None, 0))

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
        note_read(self, "item")
        return backend.to_numpy(self.data).reshape(()).item()

    def numpy(self) -> numpy.ndarray:
        """A host ``numpy.ndarray`` (the same memory on CPU, a copy from a GPU)."""
        note_read(self, "numpy")
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
        return self.to(dtype=backend.as_dtype(dtype, "astype"))

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


def _same_array(array: Any) -> Any:
    """``detach``'s replay: the input's array itself."""
    return array
