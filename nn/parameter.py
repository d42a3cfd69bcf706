"""``torch.nn.parameter``'s names, where older programs import them from: ``from torch.nn.parameter import
Parameter`` (tkipf/pygcn's layers) becomes ``from minigrad.nn.parameter import Parameter``.

``Parameter`` and ``Buffer`` are ``nn.Parameter`` and ``nn.Buffer``. ``UninitializedParameter`` and
``UninitializedBuffer`` are the placeholders of the lazy modules (``nn.LazyLinear``, ``nn.LazyConv2d`` …, whose
first input gives them their shapes), as PyTorch's: an empty (0,) tensor of a dtype and a device whose ``shape``
(and ``numel()``, ``len()``, ``share_memory_()``) raises PyTorch's error until ``materialize(shape)`` gives it a
shape in place, turning the same object into a ``Parameter`` (a plain ``Tensor`` for a buffer). Where minigrad
differs: PyTorch refuses every other op on a placeholder; here ops see the empty (0,) tensor.
"""

from __future__ import annotations

from typing import Any

import minigrad as mg
from minigrad import Tensor

from ._buffer import Buffer, _mark, buffer_persistence
from .module import Parameter

__all__ = ["Buffer", "Parameter", "UninitializedBuffer", "UninitializedParameter", "UninitializedTensorMixin",
           "is_lazy"]

_UNUSABLE = ("Attempted to use an uninitialized parameter in {what}. This error happens when you are using a "
             "`LazyModule` or explicitly manipulating `torch.nn.parameter.{cls}` objects. When using LazyModules "
             "Call `forward` with a dummy batch to initialize the parameters before calling torch functions")


class UninitializedTensorMixin:
    """What a lazy module's placeholder is until its shape is known: ``materialize``, and PyTorch's refusals."""

    __slots__ = ()
    cls_to_become: type

    def materialize(self, shape: Any, device: Any = None, dtype: Any = None) -> None:
        """Give this placeholder ``shape`` (an uninitialised array, as ``torch.empty``; its own device and dtype
        unless given) in place: the same object becomes a ``cls_to_become`` (Parameter, or Tensor)."""
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        tensor: Any = self
        with mg.no_grad():
            tensor.data = mg.empty(*shape, dtype=tensor.dtype if dtype is None else dtype,
                                   device=tensor.device if device is None else device).data
        object.__setattr__(self, "__class__", self.cls_to_become)

    @property
    def shape(self) -> tuple:
        raise RuntimeError("Can't access the shape of an uninitialized parameter or buffer. This error usually "
                           "happens in `load_state_dict` when trying to load an uninitialized parameter into an "
                           "initialized one. Call `forward` to initialize the parameters before accessing their "
                           "attributes.")

    def numel(self) -> int:
        raise ValueError(_UNUSABLE.format(what="numel", cls=type(self).__name__))

    def __len__(self) -> int:
        raise ValueError(_UNUSABLE.format(what="__len__", cls=type(self).__name__))

    def share_memory_(self) -> Any:
        raise RuntimeError("Can't share memory on an uninitialized parameter or buffer. Call `forward` to "
                           "initialize the parameters before calling `module.share_memory()`.")

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    def __deepcopy__(self, memo: dict) -> Any:
        tensor: Any = self
        if id(self) not in memo:
            memo[id(self)] = type(self)(tensor.requires_grad, tensor.device, tensor.dtype)
        return memo[id(self)]


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A lazy module's parameter before its shape is known (``torch.nn.UninitializedParameter``): an empty (0,)
    float tensor of ``dtype`` on ``device`` until ``materialize(shape)`` makes it a Parameter of that shape."""

    cls_to_become = Parameter

    def __init__(self, requires_grad: bool = True, device: Any = None, dtype: Any = None) -> None:
        Parameter.__init__(self, mg.empty(0, dtype=dtype, device=device), requires_grad)


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    """A lazy module's buffer before its shape is known (``torch.nn.UninitializedBuffer``), registered as a
    buffer (``persistent``: in the state dict): an empty (0,) tensor until ``materialize(shape)`` makes it a
    plain Tensor of that shape."""

    __slots__ = ()
    cls_to_become = Tensor

    def __init__(self, requires_grad: bool = False, device: Any = None, dtype: Any = None,
                 persistent: bool = True) -> None:
        Tensor.__init__(self, mg.empty(0, dtype=dtype, device=device), requires_grad=requires_grad)
        _mark(self, persistent)

    @property
    def persistent(self) -> bool:
        """Whether the buffer goes into the state dict, as given."""
        return bool(buffer_persistence(self))


def is_lazy(param: Any) -> bool:
    """Whether ``param`` is an ``UninitializedParameter`` or ``UninitializedBuffer``, as PyTorch's ``is_lazy``."""
    return isinstance(param, UninitializedTensorMixin)
