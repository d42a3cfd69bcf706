"""``torch.nn.parameter``'s names, where older programs import them from: ``from torch.nn.parameter import
Parameter`` (tkipf/pygcn's layers) becomes ``from minigrad.nn.parameter import Parameter``.

``Parameter`` and ``Buffer`` are ``nn.Parameter`` and ``nn.Buffer``. ``UninitializedParameter`` and
``UninitializedBuffer`` are the placeholders of the lazy modules (``nn.LazyLinear``, ``nn.LazyConv2d`` …, whose
first input gives them their shapes), as PyTorch's: an empty (0,) tensor of a dtype and a device whose ``shape``
(and ``numel()``, ``len()``, ``share_memory_()``) raises PyTorch's error until ``materialize(shape)`` gives it a
shape in place, turning the same object into a ``Parameter`` (a plain ``Tensor`` for a buffer). Its Tensor
methods and operators (``p + 1``, ``p.sum()``, ``p[0]``, ``p.tolist()``) raise PyTorch's ValueError, but for the
few PyTorch allows (``to``, ``float``, ``copy_``, ``size`` …); a lazy module's state dict holds the placeholders.
An op given one (``mg.sum(p)``, ``mg.add(p, 1)``, ``F.relu(p)``) raises PyTorch's ValueError as well: the engine
asks each input that is not a plain Tensor (``_refuses_ops``), at no cost to the ops on plain tensors. Where minigrad
differs: a function that reads the shape first (``mg.cat([p])``, ``F.linear(x, p)``, ``mg.zeros_like(p)``) raises the
shape's RuntimeError; the functions that compute on the array outside the engine (``mg.isnan``, ``mg.nonzero``,
``mg.all``, ``mg.numel`` …) raise PyTorch's ValueError too, but for a few that return no values (``mg.typename``,
``mg.get_device``, ``mg.is_inference``) and two in-place ones that return the placeholder itself
(``mg.detach_``, ``mg.conj_physical_``), where PyTorch refuses every function.
"""

from __future__ import annotations

from typing import Any

import minigrad as mg
from minigrad import Tensor

from ._buffer import Buffer, _mark
from .module import Parameter

__all__ = ["Buffer", "Parameter", "UninitializedBuffer", "UninitializedParameter", "UninitializedTensorMixin",
           "is_lazy"]   # torch.nn.parameter's (SavesPlaceholders is the lazy modules' mixin)

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

    _refuses_ops = True   # the engine's ops call _refuse_op

    def _refuse_op(self, op: str) -> None:
        """Raise PyTorch's ValueError for the engine's op ``op`` given this placeholder, but for the conversions
        of the methods PyTorch allows (``to``, ``float``, ``cuda``, ``size`` …: see :data:`_ALLOWED`)."""
        if op not in ("astype", "to_device", "size"):
            raise ValueError(_UNUSABLE.format(what=op, cls=type(self).__name__))

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


# what PyTorch lets a placeholder do (its ``_allowed_methods``; attributes, as ``dtype``, are read too), and what
# minigrad's own machinery calls on one (Module's state dict detaches, ``requires_grad_``); every other Tensor method
# and operator raises PyTorch's ValueError, as an op would otherwise see the empty (0,) tensor and give an empty result
_ALLOWED = frozenset({"size", "copy_", "is_complex", "is_floating_point", "half", "float", "double", "char", "short",
                      "int", "long", "cuda", "cpu", "to", "get_device", "detach", "requires_grad_"})
_OPERATORS = ("__iter__ __reversed__ __contains__ __bool__ __float__ __int__ __complex__ __index__ __array__ "
              "__getitem__ __setitem__ __neg__ __pos__ __abs__ __invert__ __eq__ __ne__ __lt__ __le__ __gt__ __ge__ "
              "__add__ __radd__ __iadd__ __sub__ __rsub__ __isub__ __mul__ __rmul__ __imul__ __truediv__ "
              "__rtruediv__ __itruediv__ __floordiv__ __rfloordiv__ __ifloordiv__ __mod__ __rmod__ __imod__ "
              "__pow__ __rpow__ __ipow__ __matmul__ __rmatmul__ __and__ __rand__ __iand__ __or__ __ror__ __ior__ "
              "__xor__ __rxor__ __ixor__ __lshift__ __rlshift__ __ilshift__ __rshift__ __rrshift__ __irshift__ "
              "__dlpack__ __dlpack_device__").split()


def _refusal(name: str) -> Any:
    def refuse(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise ValueError(_UNUSABLE.format(what=name, cls=type(self).__name__))
    refuse.__name__ = refuse.__qualname__ = name
    return refuse


def _refuse_tensor_methods(mixin: type) -> None:
    """Give ``mixin`` a refusing method for each public Tensor method (not in :data:`_ALLOWED`, nor one ``mixin``
    defines) and each operator, as PyTorch's ``__torch_function__`` of a placeholder."""
    names = set(_OPERATORS)
    for cls in Tensor.__mro__:
        names.update(name for name, value in vars(cls).items() if not name.startswith("_") and callable(value)
                     and not isinstance(value, (type, staticmethod, classmethod)))
    for name in names - _ALLOWED - set(vars(mixin)):
        setattr(mixin, name, _refusal(name))
    mixin.__hash__ = Tensor.__hash__   # (defining __eq__ would drop it)


_refuse_tensor_methods(UninitializedTensorMixin)


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A lazy module's parameter before its shape is known (``torch.nn.UninitializedParameter``): an empty (0,)
    float tensor of ``dtype`` on ``device`` until ``materialize(shape)`` makes it a Parameter of that shape."""

    cls_to_become = Parameter

    def __new__(cls, requires_grad: bool = True, device: Any = None, dtype: Any = None) -> UninitializedParameter:
        return Parameter.__new__(cls, mg.empty(0, dtype=dtype, device=device), requires_grad)

    def __init__(self, requires_grad: bool = True, device: Any = None, dtype: Any = None) -> None:
        pass   # made by __new__


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    """A lazy module's buffer before its shape is known (``torch.nn.UninitializedBuffer``), registered as a
    buffer (``persistent``: in the state dict): an empty (0,) tensor until ``materialize(shape)`` makes it a
    plain Tensor of that shape."""

    __slots__ = ()
    cls_to_become = Tensor

    def __new__(cls, requires_grad: bool = False, device: Any = None, dtype: Any = None,
                persistent: bool = True) -> UninitializedBuffer:
        buffer = Tensor._make_subclass(cls, mg.empty(0, dtype=dtype, device=device), requires_grad)
        _mark(buffer, persistent)   # ``persistent``: whether the buffer goes into the state dict, as given
        return buffer

    def __init__(self, requires_grad: bool = False, device: Any = None, dtype: Any = None,
                 persistent: bool = True) -> None:
        pass   # made by __new__


class SavesPlaceholders:
    """The lazy modules' state-dict saving, mixed in before their Module class (``LazyLinear(SavesPlaceholders,
    Linear)``, ``nn._lazy_more._LazyMixin``): the state dict holds each placeholder itself, as PyTorch's, not a
    detached empty tensor."""

    _parameters: dict
    _buffers: dict

    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        """As Module's, each placeholder saved as itself (PyTorch's)."""
        super()._save_to_state_dict(destination, prefix, keep_vars)  # type: ignore[misc]
        for name, value in (*self._parameters.items(), *self._buffers.items()):
            if is_lazy(value) and prefix + name in destination:
                destination[prefix + name] = value


def is_lazy(param: Any) -> bool:
    """Whether ``param`` is an ``UninitializedParameter`` or ``UninitializedBuffer``, as PyTorch's ``is_lazy``."""
    return isinstance(param, UninitializedTensorMixin)
