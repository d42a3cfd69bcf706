"""Parametrized tensors, as ``torch.nn.utils.parametrize``: a module's ``weight`` computed on each read from
the tensors it is parametrized by.

``register_parametrization(module, "weight", P)`` moves the parameter into a ``ParametrizationList`` and
gives the module a class of its own, ``Parametrized<Class>``, with a property in place of the parameter::

    module.parametrizations.weight            ParametrizationList [P, Q, ...] (chained: Q(P(...)))
    module.parametrizations.weight.original   right_inverse(old weight): what the optimizer trains
    module.weight                             Q(P(original)), recomputed on every read (a graph to original)
    module.weight = value                     original = P.right_inverse(Q.right_inverse(value))

When the first ``right_inverse`` returns several tensors they are ``original0``, ``original1``, … and
``P(original0, original1, …)`` is the weight. State-dict keys are PyTorch's
(``parametrizations.weight.original0``), so a parametrized PyTorch module's state dict loads as is.

The layers read their weights through attribute access (``F.linear(x, self.weight)``), so they use the
parametrized value with no change; the recurrent layers, which read ``_parameters`` by name, get an
accessor by attribute in their ``Parametrized`` class (:func:`_recurrent_accessors`).

``mg.compile``: the parametrization's ops are recorded by a capture like any other, and its originals
are weights of the capture, so a replay recomputes the weight from their current values. Registering or
removing a parametrization is a re-registration (every capture is made again). Inside a ``cached()`` block
a compiled call that reads a parametrized tensor runs eagerly (whether a block is open is part of every
compiled call's signature once ``cached()`` was first used), so that it reads the block's one value, as
PyTorch's eager and compiled calls do, even after the original changed in place.
"""

from __future__ import annotations

import collections.abc
import copy
import threading
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import minigrad as mg
from minigrad import Tensor

from .._compile_state import reregistered
from ..containers import ModuleDict, ModuleList
from ..module import Module, Parameter

__all__ = ["ParametrizationList", "cached", "is_parametrized", "register_parametrization",
           "remove_parametrizations", "transfer_parametrizations_and_params", "type_before_parametrizations"]


# --- the cache of cached() (per thread: recording state is per thread) ---

_CACHE = threading.local()
_SIGNED = []   # [True] once the open block joined compiled calls' signatures (on the first cached())
_SIGN_LOCK = threading.Lock()


def _cache() -> Any:
    if not hasattr(_CACHE, "depth"):
        _CACHE.depth, _CACHE.values = 0, {}
    return _CACHE


def _in_block() -> bool:
    """Whether this thread is inside a :func:`cached` block (a part of each compiled call's signature)."""
    return bool(getattr(_CACHE, "depth", 0))


@contextmanager
def cached() -> Iterator[None]:
    """Compute each parametrized tensor once inside the block, as PyTorch's ``parametrize.cached()``: the
    first read of ``module.weight`` computes it, later reads return that tensor; the values are dropped
    when the outermost block ends. For a weight read many times per forward (an RNN's recurrent kernel)."""
    if not _SIGNED:   # programs that never meet a block pay nothing until one is used
        with _SIGN_LOCK:
            if not _SIGNED:
                mg.compiler.add_signature_part(_in_block)
                _SIGNED.append(True)
    state = _cache()
    state.depth += 1
    try:
        yield
    finally:
        state.depth -= 1
        if not state.depth:
            state.values = {}


# --- the container of the originals ---

def _register_parameter_or_buffer(module: Module, name: str, value: Tensor) -> None:
    if isinstance(value, Parameter):
        module.register_parameter(name, value)
    else:
        module.register_buffer(name, value)


def _set(dest: Tensor, src: Tensor) -> None:
    """``dest`` takes ``src``'s array, keeping its identity (an optimizer holding it trains the new values),
    as PyTorch's ``set_``, which counts as an in-place change: a backward through a graph that saved ``dest``'s
    old values (a forward run before ``module.weight = value``, or inside ``functional_call`` replacing a
    parametrized weight) raises, as PyTorch's, instead of giving ``dest`` a gradient taken at other values."""
    if dest is not src:
        dest._bump_version()
        dest.data = src.data


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor and the original(s) they read, as PyTorch's: the type of
    ``module.parametrizations[tensor_name]``. Made by :func:`register_parametrization` (not by hand).

    ``original``: the parameter or buffer ``right_inverse`` gave (the old tensor itself, its values replaced
    in place, so an optimizer holding it keeps training it), or ``original0``, ``original1``, … when the
    first parametrization's ``right_inverse`` returns a sequence (new parameters: add them to an optimizer
    made before). Calling the list gives the parametrized tensor. Unless ``unsafe``, the parametrized
    tensor must keep the original's dtype and shape.
    """

    original: Tensor
    unsafe: bool

    def __init__(self, modules: Sequence[Module], original: Tensor, unsafe: bool = False) -> None:
        if len(modules) == 0:
            raise ValueError("ParametrizationList requires one or more modules.")
        super().__init__(modules)
        self.unsafe = unsafe
        original_shape, original_dtype = original.shape, original.dtype
        with mg.no_grad():
            new = original
            for module in reversed(list(self)):
                if hasattr(module, "right_inverse"):
                    try:
                        new = module.right_inverse(new)
                    except NotImplementedError:
                        pass   # no right inverse: taken as the identity
        if not isinstance(new, (Tensor, collections.abc.Sequence)):
            raise ValueError("'right_inverse' must return a Tensor or a Sequence of tensors (list, tuple...). "
                             f"Got {type(new).__name__}")
        self.is_tensor = isinstance(new, Tensor)
        self.ntensors = 1 if self.is_tensor else len(new)
        if self.is_tensor:
            if original.dtype != new.dtype:
                raise ValueError("When `right_inverse` outputs one tensor, it may not change the dtype.\n"
                                 f"original.dtype: {original.dtype}\nright_inverse(original).dtype: {new.dtype}")
            if original.device != new.device:
                raise ValueError("When `right_inverse` outputs one tensor, it may not change the device.\n"
                                 f"original.device: {original.device}\n"
                                 f"right_inverse(original).device: {new.device}")
            _set(original, new)
            _register_parameter_or_buffer(self, "original", original)
        else:
            for i, tensor in enumerate(new):
                if not isinstance(tensor, Tensor):
                    raise ValueError("'right_inverse' must return a Tensor or a Sequence of tensors (list, tuple...). "
                                     f"Got element {i} of the sequence with type {type(tensor).__name__}.")
                if isinstance(original, Parameter):
                    tensor = Parameter(tensor, original.requires_grad)
                else:
                    tensor = tensor.detach()
                tensor.requires_grad_(original.requires_grad)
                _register_parameter_or_buffer(self, f"original{i}", tensor)
        if not self.unsafe:
            # forward(right_inverse(original)) lives where the original did: same dtype and shape
            value = self()
            if not isinstance(value, Tensor):
                raise ValueError(f"A parametrization must return a tensor. Got {type(value).__name__}.")
            if value.dtype != original_dtype:
                raise ValueError("Registering a parametrization may not change the dtype of the tensor, unless "
                                 f"`unsafe` flag is enabled.\nunparametrized dtype: {original_dtype}\n"
                                 f"parametrized dtype: {value.dtype}")
            if value.shape != original_shape:
                raise ValueError("Registering a parametrization may not change the shape of the tensor, unless "
                                 f"`unsafe` flag is enabled.\nunparametrized shape: {original_shape}\n"
                                 f"parametrized shape: {value.shape}")

    def right_inverse(self, value: Tensor) -> None:
        """Set the original(s) so that the list gives ``value``: each parametrization's ``right_inverse``, last
        registered first, then the result copied into ``original`` (or ``original0``, …), nothing recorded."""
        with mg.no_grad():
            for module in reversed(list(self)):
                if not hasattr(module, "right_inverse"):
                    raise RuntimeError(f"parametrization {type(module).__name__} does not implement right_inverse.")
                value = module.right_inverse(value)
            if self.is_tensor:
                if not isinstance(value, Tensor):
                    raise ValueError(f"`right_inverse` should return a tensor. Got {type(value).__name__}")
                if value.dtype != self.original.dtype:
                    raise ValueError(f"The tensor returned by `right_inverse` has dtype {value.dtype} while "
                                     f"`original` has dtype {self.original.dtype}")
                _set(self.original, value)
                return
            if not isinstance(value, collections.abc.Sequence):
                raise ValueError(f"'right_inverse' must return a sequence of tensors. Got {type(value).__name__}.")
            if len(value) != self.ntensors:
                raise ValueError(f"'right_inverse' must return a sequence of tensors of length {self.ntensors}. "
                                 f"Got a sequence of length {len(value)}.")
            for i, tensor in enumerate(value):
                original = getattr(self, f"original{i}")
                if not isinstance(tensor, Tensor):
                    raise ValueError("'right_inverse' must return a sequence of tensors. Got element "
                                     f"{i} of type {type(tensor).__name__}.")
                if original.dtype != tensor.dtype:
                    raise ValueError(f"Tensor {i} returned by `right_inverse` has dtype {tensor.dtype} while "
                                     f"`original{i}` has dtype {original.dtype}")
                _set(original, tensor)

    def forward(self) -> Tensor:
        """The parametrized tensor: ``Q(P(original))`` (``P(original0, original1, …)`` for several)."""
        modules = iter(self._modules.values())
        first = next(modules)
        if self.is_tensor:
            x = first(self.original)
        else:
            x = first(*(getattr(self, f"original{i}") for i in range(self.ntensors)))
        for module in modules:
            x = module(x)
        return x


# --- the class of a parametrized module ---

def _deepcopy(self: Module, memo: dict) -> Module:
    """A deep copy of a parametrized module, of the same class, as PyTorch's (``stack_module_state`` of copies
    works); registering or removing a parametrization on one of them gives it a class of its own first
    (:func:`_own_class`), so the others keep their properties."""
    replica = memo.get(id(self))
    if replica is not None:
        return replica
    cls = type(self)
    replica = cls.__new__(cls)
    memo[id(self)] = replica
    state = super(cls, self).__getstate__()
    replica.__setstate__(copy.deepcopy(state, memo))
    return replica


def _getstate(self: Module) -> dict:
    raise RuntimeError("Serialization of parametrized modules is only supported through state_dict() "
                       "(nn.save(module.state_dict(), path)); copy.deepcopy works")


def _setattr(self: Module, name: str, value: Any) -> None:
    """A parametrized name takes a Tensor (through ``right_inverse``), never a Parameter, as PyTorch's."""
    if isinstance(value, Parameter) and is_parametrized(self, name):
        raise KeyError(f"attribute '{name}' already exists (it is parametrized: assign a Tensor to set it through "
                       "right_inverse, or remove_parametrizations first)")
    super(type(self), self).__setattr__(name, value)


def _inject_new_class(module: Module) -> None:
    """Give ``module`` a class of its own, ``Parametrized<Class>`` (a subclass), to hold the properties."""
    cls = module.__class__
    namespace: dict = {"__getstate__": _getstate, "__setattr__": _setattr, "__module__": __name__}
    if not hasattr(cls, "__deepcopy__"):
        namespace["__deepcopy__"] = _deepcopy
    module.__class__ = type(f"Parametrized{cls.__name__}", (cls,), namespace)


def _own_class(module: Module) -> None:
    """Give a parametrized ``module`` a copy of its class, before a property is added to it or removed from it:
    deep copies share their class (as PyTorch's), and a change made for one must not reach the others."""
    cls = module.__class__
    module.__class__ = type(cls.__name__, cls.__bases__, dict(cls.__dict__))


def _inject_property(module: Module, tensor_name: str) -> None:
    """The property ``tensor_name`` on ``module``'s own class: reading computes the parametrization (once per
    :func:`cached` block), assigning goes through ``right_inverse``."""
    if hasattr(module, tensor_name):
        raise AssertionError(f"Module already has an attribute named '{tensor_name}'")

    def get_parametrized(self: Module) -> Tensor:
        parametrization = self.parametrizations[tensor_name]
        state = _cache()
        if not state.depth:
            return parametrization()
        # as PyTorch's, one value per block for eager and compiled calls alike: a capture inside a block runs
        # eagerly (its replay would compute the weight again from the original, maybe changed in place since)
        mg.compiler.run_eagerly(f"it reads the parametrized {tensor_name!r} of {type(self).__name__} inside "
                                "parametrize.cached(), whose one value per block a replay would compute again")
        key = (id(self), tensor_name)
        tensor = state.values.get(key)
        if tensor is None:
            tensor = state.values[key] = parametrization()
        return tensor

    def set_original(self: Module, value: Tensor) -> None:
        self.parametrizations[tensor_name].right_inverse(value)

    setattr(module.__class__, tensor_name, property(get_parametrized, set_original))


# --- the public functions ---

def register_parametrization(module: Module, tensor_name: str, parametrization: Module, *,
                             unsafe: bool = False) -> Module:
    """Parametrize ``module.<tensor_name>`` (a parameter or buffer) by the module ``parametrization``, as
    PyTorch's: reading it then gives ``parametrization(original)``, differentiable into the original.

    The first registration moves the tensor to ``module.parametrizations[tensor_name].original`` (through
    ``parametrization.right_inverse`` when it has one; ``original0``, ``original1``, … if that returns a
    sequence) and changes the module's class to ``Parametrized<Class>``; a later one on the same name chains
    (``Q(P(original))``). The parametrization takes the module's training mode. Unless ``unsafe``, the
    parametrization must keep the tensor's dtype and shape (checked). Returns ``module``.
    """
    parametrization.train(module.training)
    if is_parametrized(module, tensor_name):
        if not unsafe:
            _check_chained(module, tensor_name, parametrization)
        chain = module.parametrizations[tensor_name]
        chain.append(parametrization)
        chain.unsafe |= unsafe
        reregistered()   # the tensor is now computed by other ops (mg.compile's captures)
    elif tensor_name in module._buffers or tensor_name in module._parameters:
        original = getattr(module, tensor_name)
        if original is None:
            raise ValueError(f"Module '{module}' does not have a parameter, a buffer, or a parametrized element "
                             f"with name '{tensor_name}' (it is None)")
        path = original.name or tensor_name   # the parameter's path in its model, for mg.viz
        parametrizations = ParametrizationList([parametrization], original, unsafe=unsafe)
        first = not is_parametrized(module)
        if first:
            _inject_new_class(module)   # before the tensor leaves: a recurrent layer's class lists its names
        else:
            _own_class(module)
        delattr(module, tensor_name)
        if first:
            module.parametrizations = ModuleDict()
        _inject_property(module, tensor_name)
        module.parametrizations[tensor_name] = parametrizations
        owner = path[:-len(tensor_name)] if path.endswith(tensor_name) else ""
        for name, tensor in (*parametrizations.named_parameters(), *parametrizations.named_buffers()):
            tensor.name = f"{owner}parametrizations.{tensor_name}.{name}"
    else:
        raise ValueError(f"Module '{module}' does not have a parameter, a buffer, or a parametrized element with "
                         f"name '{tensor_name}'")
    return module


def _check_chained(module: Module, tensor_name: str, parametrization: Module) -> None:
    """PyTorch's checks of a parametrization added to a chain: from the tensor's space to itself, both ways."""
    current = getattr(module, tensor_name)
    result = parametrization(current)
    if not isinstance(result, Tensor):
        raise ValueError(f"A parametrization must return a tensor. Got {type(result).__name__}.")
    if result.dtype != current.dtype:
        raise ValueError("Registering a parametrization may not change the dtype of the tensor, unless the `unsafe` "
                         f"flag is enabled.\nmodule.{tensor_name}.dtype: {current.dtype}\n"
                         f"parametrization(module.{tensor_name}).dtype: {result.dtype}")
    if result.shape != current.shape:
        raise ValueError("Registering a parametrization may not change the shape of the tensor, unless the `unsafe` "
                         f"flag is enabled.\nmodule.{tensor_name}.shape: {current.shape}\n"
                         f"parametrization(module.{tensor_name}).shape: {result.shape}")
    if not hasattr(parametrization, "right_inverse"):
        return
    try:
        back = parametrization.right_inverse(result)
    except NotImplementedError:
        return
    if not isinstance(back, Tensor):
        raise ValueError(f"parametrization.right_inverse must return a tensor. Got: {type(back).__name__}")
    if back.dtype != current.dtype:
        raise ValueError("The tensor returned by parametrization.right_inverse must have the same dtype as "
                         f"module.{tensor_name}, unless the `unsafe` flag is enabled.\n"
                         f"module.{tensor_name}.dtype: {current.dtype}\nreturned dtype: {back.dtype}")
    if back.shape != current.shape:
        raise ValueError("The tensor returned by parametrization.right_inverse must have the same shape as "
                         f"module.{tensor_name}, unless the `unsafe` flag is enabled.\n"
                         f"module.{tensor_name}.shape: {current.shape}\nreturned shape: {back.shape}")


def is_parametrized(module: Module, tensor_name: str | None = None) -> bool:
    """Whether ``module`` has a parametrization on ``tensor_name`` (None: on any tensor)."""
    parametrizations = module.__dict__.get("parametrizations")
    if not isinstance(parametrizations, ModuleDict):
        return False
    if tensor_name is None:
        return len(parametrizations) > 0
    return tensor_name in parametrizations


def remove_parametrizations(module: Module, tensor_name: str, leave_parametrized: bool = True) -> Module:
    """Undo the parametrizations of ``module.<tensor_name>``, as PyTorch's: it becomes a plain parameter (or
    buffer) again holding its current parametrized value (``leave_parametrized=True``; the original keeps its
    identity when there is one) or the original's (``False``, only with one original). The module's class
    goes back to its own when nothing else is parametrized. Returns ``module``."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    parametrizations = module.parametrizations[tensor_name]
    if parametrizations.is_tensor:
        original = parametrizations.original
        if leave_parametrized:
            with mg.no_grad():
                value = getattr(module, tensor_name)
            if value.dtype != original.dtype:   # PyTorch's set_ refuses: the original keeps its dtype
                raise RuntimeError(f"remove_parametrizations: cannot leave '{tensor_name}' parametrized: its "
                                   f"parametrized value is {value.dtype}, the original {original.dtype} (an "
                                   "unsafe parametrization changed the dtype); pass leave_parametrized=False")
            _set(original, value)
    elif leave_parametrized:
        value = getattr(module, tensor_name)   # with grad: whether any original requires it
        original = Parameter(value) if value.requires_grad else value.detach()
    else:
        raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a tensor that is parametrized in "
                         "terms of a sequence of tensors.")
    _own_class(module)
    delattr(module.__class__, tensor_name)
    del module.parametrizations[tensor_name]
    _register_parameter_or_buffer(module, tensor_name, original)
    if not is_parametrized(module):
        delattr(module, "parametrizations")
        module.__class__ = module.__class__.__bases__[0]
    return module


def type_before_parametrizations(module: Module) -> type:
    """The module's class before any parametrization (``Linear`` for a ``ParametrizedLinear``)."""
    if is_parametrized(module):
        return module.__class__.__bases__[0]
    return type(module)


def transfer_parametrizations_and_params(from_module: Module, to_module: Module,
                                         tensor_name: str | None = None) -> Module:
    """Register ``from_module``'s parametrizations of ``tensor_name`` (None: of every parametrized tensor) on
    ``to_module`` too, sharing the originals (a tensor ``to_module`` lacks is made first), as PyTorch's."""
    if not is_parametrized(from_module):
        return to_module
    names = list(from_module.parametrizations) if tensor_name is None else [tensor_name]
    for name in names:
        if not hasattr(to_module, name):
            setattr(to_module, name, Parameter(getattr(from_module, name)))
        for parametrization in from_module.parametrizations[name]:
            register_parametrization(to_module, name, parametrization)
        source, target = from_module.parametrizations[name], to_module.parametrizations[name]
        if source.is_tensor:
            target.original = source.original
        else:
            for i in range(source.ntensors):
                setattr(target, f"original{i}", getattr(source, f"original{i}"))
    return to_module
