"""Pruning, as ``torch.nn.utils.prune``: zero some entries (or channels) of a module's tensor through a mask.

``prune.l1_unstructured(module, "weight", amount=0.3)`` reparametrises ``module.weight``::

    module.weight_orig    the Parameter (the same object as the old ``weight``): what the optimizer trains
    module.weight_mask    a buffer of 0s and 1s, the weight's shape and dtype
    module.weight         a plain attribute, ``weight_mask * weight_orig``, recomputed by a forward pre-hook
                          (the pruning method itself) before every call, so gradients reach ``weight_orig``
                          through the mask (0 where pruned)

State-dict keys are PyTorch's (``weight_orig``, ``weight_mask``), so a pruned PyTorch module's state dict
loads into a module pruned the same way, and back. Pruning the same tensor again combines the masks as
PyTorch's :class:`PruningContainer` does: the new method sees only the entries (unstructured) or the channels
(structured) that are still unpruned, and ``amount`` counts among those. :func:`remove` makes the pruning
permanent: ``weight`` is a Parameter again (the ``weight_orig`` object) holding the masked values.

The layers read their weights by attribute (``F.linear(x, self.weight)``, the recurrent layers'
``getattr(self, "weight_hh_l0")``), so a pruned weight is what their forward uses.

Ties. ``amount`` entries are pruned exactly (``round(amount · size)`` for a fraction). Where several entries
share the importance at the cut, PyTorch keeps whichever its ``topk`` leaves (on the CPU the order
``std::nth_element``/``std::partial_sort`` of the C++ library leaves them in, on CUDA a radix select's): no
index rule reproduces it. Here the tied entries with the lowest flat indices are pruned first
(:func:`L1Unstructured`), and the tied channels with the highest indices (:class:`LnStructured` keeps the
``size - amount`` largest norms, the lowest indices first), so masks agree with PyTorch's whenever the
importance at the cut is not tied across it (always for continuous weights), and the count always agrees.
Random methods draw from minigrad's generator (``mg.manual_seed``): the same seed gives the same mask here,
not PyTorch's mask.
"""

from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, Callable, TypeVar

import minigrad as mg
from minigrad import Tensor

from .._compile_state import reregistered
from ..module import Module

__all__ = ["BasePruningMethod", "CustomFromMask", "Identity", "L1Unstructured", "LnStructured", "PruningContainer",
           "RandomStructured", "RandomUnstructured", "custom_from_mask", "global_unstructured", "identity",
           "is_pruned", "l1_unstructured", "ln_structured", "random_structured", "random_unstructured", "remove"]

T_module = TypeVar("T_module", bound=Module)


def _forward_pre_hooks(module: Module) -> dict:
    """``module``'s forward pre-hooks by key (``(hook, options)`` values), as nn.hooks keeps them."""
    hooks = module.__dict__.get("_hooks")
    return hooks["forward_pre"] if hooks else {}


def _as_tensor(value: Any, like: Tensor) -> Tensor:
    """``value`` (a Tensor, an array, a PyTorch tensor) as a Tensor on ``like``'s device."""
    if isinstance(value, Tensor):
        return value
    if hasattr(value, "detach") and hasattr(value, "numpy"):   # a PyTorch tensor
        value = value.detach().cpu().numpy()
    return mg.as_tensor(value, device=like.device)


class BasePruningMethod(ABC):
    """The base of every pruning method, as PyTorch's: subclasses define ``PRUNING_TYPE`` (``"unstructured"``,
    ``"structured"`` (with a ``dim`` attribute) or ``"global"``) and :meth:`compute_mask`; the instance is the
    forward pre-hook that sets ``module.<name> = <name>_mask · <name>_orig``."""

    PRUNING_TYPE: str
    _tensor_name: str | None = None

    def __call__(self, module: Module, inputs: Any) -> None:
        """The forward pre-hook: ``module.<name>`` = the mask times the original tensor (recorded)."""
        setattr(module, self._tensor_name, self.apply_mask(module))

    @abstractmethod
    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        """The mask (``t``'s shape) to apply on top of ``default_mask`` (the mask of earlier pruning; ones if
        none), from the importance scores ``t``."""

    def apply_mask(self, module: Module) -> Tensor:
        """``module.<name>_mask · module.<name>_orig`` (cast to the original's dtype): the pruned tensor."""
        if self._tensor_name is None:
            raise AssertionError(f"Module {module} has to be pruned")
        mask = getattr(module, self._tensor_name + "_mask")
        orig = getattr(module, self._tensor_name + "_orig")
        if mask.dtype != orig.dtype:
            mask = mask.to(dtype=orig.dtype)
        return mask * orig

    @classmethod
    def apply(cls, module: Module, name: str, *args: Any, importance_scores: Any = None,
              **kwargs: Any) -> BasePruningMethod:
        """Prune ``module.<name>`` with ``cls(*args, **kwargs)``: on the first pruning the parameter becomes
        ``<name>_orig`` and a ``<name>_mask`` buffer is registered; on a later one the new method joins the
        existing one in a :class:`PruningContainer` and the masks combine. ``importance_scores`` (the
        tensor's shape; default the tensor itself) decide what is pruned. Returns the method now hooked
        (the container on a later pruning). If computing the mask fails, the module is left as it was."""
        hooks = _forward_pre_hooks(module)
        old_keys = [k for k, (hook, _) in hooks.items()
                    if isinstance(hook, BasePruningMethod) and hook._tensor_name == name]
        if len(old_keys) > 1:
            raise AssertionError(f"Avoid adding multiple pruning hooks to the same tensor {name} of module "
                                 f"{module}. Use a PruningContainer.")
        old_method = hooks[old_keys[0]][0] if old_keys else None
        method = cls(*args, **kwargs)
        method._tensor_name = name
        added_to = None   # an existing container the new method joined (undone on failure)
        if isinstance(old_method, PruningContainer):
            old_method.add_pruning_method(method)
            method, added_to = old_method, old_method
        elif old_method is not None:
            container = PruningContainer(old_method)
            container.add_pruning_method(method)
            method = container

        orig = getattr(module, name)
        if importance_scores is not None:
            importance_scores = _as_tensor(importance_scores, orig)
            if tuple(importance_scores.shape) != tuple(orig.shape):
                raise AssertionError(f"importance_scores should have the same shape as parameter {name} of "
                                     f"{module}, got {tuple(importance_scores.shape)} vs {tuple(orig.shape)}")
        else:
            importance_scores = orig
        first = not isinstance(method, PruningContainer)
        if first:
            module.register_parameter(name + "_orig", orig)
            delattr(module, name)
            default_mask = mg.ones_like(orig)
        else:
            default_mask = getattr(module, name + "_mask").detach().clone()
        try:
            with mg.no_grad():
                mask = method.compute_mask(importance_scores.detach(), default_mask=default_mask)
            module.register_buffer(name + "_mask", mask)
            setattr(module, name, method.apply_mask(module))
        except Exception:
            if first:
                delattr(module, name + "_orig")
                module.register_parameter(name, orig)
            elif added_to is not None:
                added_to._pruning_methods = added_to._pruning_methods[:-1]
            raise
        for k in old_keys:
            del hooks[k]
        module.register_forward_pre_hook(method)
        return method

    def prune(self, t: Tensor, default_mask: Tensor | None = None, importance_scores: Tensor | None = None) -> Tensor:
        """``t`` times the mask :meth:`compute_mask` gives from ``importance_scores`` (default ``t``) on top of
        ``default_mask`` (default ones): the pruned tensor, differentiable in ``t``."""
        if importance_scores is not None:
            importance_scores = _as_tensor(importance_scores, t)
            if tuple(importance_scores.shape) != tuple(t.shape):
                raise AssertionError(f"importance_scores should have the same shape as tensor t, got "
                                     f"{tuple(importance_scores.shape)} vs {tuple(t.shape)}")
        else:
            importance_scores = t
        default_mask = default_mask if default_mask is not None else mg.ones_like(t)
        with mg.no_grad():
            mask = self.compute_mask(importance_scores.detach(), default_mask=default_mask)
        return t * mask

    def remove(self, module: Module) -> None:
        """Make the pruning permanent: ``<name>`` is the ``<name>_orig`` Parameter again, now holding the
        masked values; ``<name>_orig`` and ``<name>_mask`` are gone (the hook is removed by :func:`remove`)."""
        if self._tensor_name is None:
            raise AssertionError(f"Module {module} has to be pruned before pruning can be removed")
        name = self._tensor_name
        weight = self.apply_mask(module)
        if hasattr(module, name):
            delattr(module, name)
        orig = module._parameters[name + "_orig"]
        orig.data = weight.data
        delattr(module, name + "_orig")
        delattr(module, name + "_mask")
        setattr(module, name, orig)


class PruningContainer(BasePruningMethod):
    """The methods applied in turn to one tensor (iterative pruning), as PyTorch's: :meth:`compute_mask` runs
    the latest method on what earlier ones left unpruned and combines its mask with theirs."""

    def __init__(self, *args: BasePruningMethod) -> None:
        self._pruning_methods: tuple[BasePruningMethod, ...] = ()
        if args:
            self._tensor_name = args[0]._tensor_name
        for method in args:
            self.add_pruning_method(method)

    def add_pruning_method(self, method: BasePruningMethod) -> None:
        """Append ``method`` (a :class:`BasePruningMethod` acting on this container's tensor)."""
        if not isinstance(method, BasePruningMethod) and method is not None:
            raise TypeError(f"{type(method)} is not a BasePruningMethod subclass")
        if method is not None and self._tensor_name != method._tensor_name:
            raise ValueError(f"Can only add pruning methods acting on the parameter named '{self._tensor_name}' "
                             f"to PruningContainer {self}. Found '{method._tensor_name}'")
        self._pruning_methods += (method,)

    def __len__(self) -> int:
        return len(self._pruning_methods)

    def __iter__(self) -> Any:
        return iter(self._pruning_methods)

    def __getitem__(self, idx: Any) -> Any:
        return self._pruning_methods[idx]

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        """The latest method's mask computed on the part of ``t`` that ``default_mask`` leaves: the entries
        where it is 1 (``"unstructured"``), the channels along the method's ``dim`` not all zero
        (``"structured"``), everything (``"global"``); combined with ``default_mask`` (``t``'s dtype)."""
        method = self._pruning_methods[-1]
        xp = mg.array_module(default_mask.data)
        mask = default_mask.data
        new_mask = mask.astype(t.dtype, copy=True)
        kind = getattr(method, "PRUNING_TYPE", None)
        if kind == "unstructured":
            slc: Any = mask == 1
        elif kind == "structured":
            if not hasattr(method, "dim"):
                raise AttributeError('Pruning methods of PRUNING_TYPE "structured" need to have the attribute '
                                     "`dim` defined.")
            n_dims = t.ndim
            dim = method.dim + n_dims if method.dim < 0 else method.dim
            if dim < 0:
                raise IndexError(f"Index is out of bounds for tensor with dimensions {n_dims}")
            if dim >= n_dims:   # PyTorch's list assignment IndexError (NumPy's nonzero of a 0-d array was a ValueError)
                raise IndexError(f"prune ({type(method).__name__}): dim={method.dim} is out of range for the pruned "
                                 f"tensor of shape {tuple(t.shape)} (list assignment index out of range)")
            keep_channel = mask.sum(axis=tuple(d for d in range(n_dims) if d != dim)) != 0
            parts: list = [slice(None)] * n_dims
            parts[dim] = xp.nonzero(keep_channel)[0]   # one index array: the other dims stay in place
            slc = tuple(parts)
        elif kind == "global":
            slc = (slice(None),) * t.ndim
        else:
            raise ValueError(f"Unrecognized PRUNING_TYPE {kind}")
        partial = method.compute_mask(mg.as_tensor(t.data[slc]), default_mask=mg.as_tensor(mask[slc]))
        new_mask[slc] = partial.data.astype(new_mask.dtype, copy=False)
        return mg.as_tensor(new_mask)


class Identity(BasePruningMethod):
    """Prunes nothing: the reparametrisation with a mask of ones."""

    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        return default_mask

    @classmethod
    def apply(cls, module: Module, name: str) -> Identity:  # type: ignore[override]
        """Hook :class:`Identity` on ``module.<name>``."""
        return super().apply(module, name)


def _k_smallest(scores: Any, k: int) -> Any:
    """The flat indices of the ``k`` smallest of the 1-D array ``scores``; ties: the lowest indices first."""
    xp = mg.array_module(scores)
    if xp.__name__ == "numpy":
        return xp.argsort(scores, kind="stable")[:k]
    return xp.argsort(scores)[:k]   # CuPy's sort is stable (and takes no kind=)


def _unstructured_mask(amount: int | float, t: Tensor, default_mask: Tensor, scores: Callable[[], Any]) -> Tensor:
    """``default_mask`` with 0 at the ``amount`` entries of smallest ``scores()`` (flat, one per entry of ``t``;
    called only when something is pruned)."""
    size = t.numel()
    k = _compute_nparams_toprune(amount, size)
    _validate_pruning_amount(k, size)
    _refuse_bool_count(amount, k)
    mask = default_mask.data.copy()
    if k != 0:
        flat = mask.reshape(-1)
        flat[_k_smallest(scores(), k)] = 0
        mask = flat.reshape(mask.shape)
    return mg.as_tensor(mask)


def _structured_mask(amount: int | float, t: Tensor, dim: int, default_mask: Tensor,
                     keep: Callable[[int, int], Any]) -> Tensor:
    """``default_mask`` with 0 in the channels along ``dim`` that ``keep(k, size)`` does not keep (indices or a
    bool array; called only when ``k``, the channels to prune, is not 0)."""
    size = t.shape[dim]
    k = _compute_nparams_toprune(amount, size)
    _validate_pruning_amount(k, size)
    if k == 0:
        return default_mask
    mask = _channel_mask(t, dim, keep(k, size))
    mask *= default_mask.data.astype(mask.dtype, copy=False)
    return mg.as_tensor(mask)


class RandomUnstructured(BasePruningMethod):
    """Prunes ``amount`` entries (an int, or a fraction of the entries) chosen at random (minigrad's generator)."""

    PRUNING_TYPE = "unstructured"

    def __init__(self, amount: int | float) -> None:
        _validate_pruning_amount_init(amount)
        self.amount = amount

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        # the largest of uniform draws go: drawn only when something is pruned, as PyTorch's
        return _unstructured_mask(self.amount, t, default_mask,
                                  lambda: -mg.rand(t.shape, device=t.device).data.reshape(-1))

    @classmethod
    def apply(cls, module: Module, name: str, amount: int | float) -> RandomUnstructured:  # type: ignore[override]
        """Hook :class:`RandomUnstructured` on ``module.<name>``."""
        return super().apply(module, name, amount=amount)


class L1Unstructured(BasePruningMethod):
    """Prunes the ``amount`` entries (an int, or a fraction) of smallest absolute importance."""

    PRUNING_TYPE = "unstructured"

    def __init__(self, amount: int | float) -> None:
        _validate_pruning_amount_init(amount)
        self.amount = amount

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        return _unstructured_mask(self.amount, t, default_mask,
                                  lambda: mg.array_module(t.data).abs(t.data).reshape(-1))

    @classmethod
    def apply(cls, module: Module, name: str, amount: int | float,  # type: ignore[override]
              importance_scores: Tensor | None = None) -> L1Unstructured:
        """Hook :class:`L1Unstructured` on ``module.<name>``."""
        return super().apply(module, name, amount=amount, importance_scores=importance_scores)


def _channel_mask(t: Tensor, dim: int, keep: Any) -> Any:
    """An array of ``t``'s shape and dtype: 1 in the channels ``keep`` (indices or a bool array) along ``dim``."""
    xp = mg.array_module(t.data)
    mask = xp.zeros(t.shape, dtype=t.dtype)
    parts: list = [slice(None)] * t.ndim
    parts[dim] = keep
    mask[tuple(parts)] = 1
    return mask


class RandomStructured(BasePruningMethod):
    """Prunes ``amount`` channels (an int, or a fraction of them) along ``dim``, chosen at random."""

    PRUNING_TYPE = "structured"

    def __init__(self, amount: int | float, dim: int = -1) -> None:
        _validate_pruning_amount_init(amount)
        self.amount = amount
        self.dim = dim

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        _validate_structured_pruning(t)
        _validate_pruning_dim(t, self.dim)

        def keep(k: int, size: int) -> Any:   # the smallest of uniform draws go
            _refuse_bool_count(self.amount, k)
            prob = mg.rand(size, device=t.device).data
            kept = mg.array_module(prob).ones(size, dtype=bool)
            kept[_k_smallest(prob, k)] = False
            return kept

        return _structured_mask(self.amount, t, self.dim, default_mask, keep)

    @classmethod
    def apply(cls, module: Module, name: str, amount: int | float,  # type: ignore[override]
              dim: int = -1) -> RandomStructured:
        """Hook :class:`RandomStructured` on ``module.<name>``."""
        return super().apply(module, name, amount=amount, dim=dim)


class LnStructured(BasePruningMethod):
    """Prunes the ``amount`` channels (an int, or a fraction) along ``dim`` of smallest L``n`` norm (``n``: a
    number, ``inf``, ``-inf`` or ``"fro"``)."""

    PRUNING_TYPE = "structured"

    def __init__(self, amount: int | float, n: Any, dim: int = -1) -> None:
        _validate_pruning_amount_init(amount)
        self.amount = amount
        self.n = n
        self.dim = dim

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        _validate_structured_pruning(t)
        _validate_pruning_dim(t, self.dim)
        size = t.shape[self.dim]
        _validate_pruning_amount(_compute_nparams_toprune(self.amount, size), size)   # before the norm, as PyTorch
        norm = _compute_norm(t, self.n, self.dim)
        # keep the size - k largest norms (ties: the lowest indices kept)
        return _structured_mask(self.amount, t, self.dim, default_mask, lambda k, size: _k_smallest(-norm, size - k))

    @classmethod
    def apply(cls, module: Module, name: str, amount: int | float, n: Any, dim: int,  # type: ignore[override]
              importance_scores: Tensor | None = None) -> LnStructured:
        """Hook :class:`LnStructured` on ``module.<name>``."""
        return super().apply(module, name, amount=amount, n=n, dim=dim, importance_scores=importance_scores)


class CustomFromMask(BasePruningMethod):
    """Prunes where the given ``mask`` (the tensor's shape) is 0."""

    PRUNING_TYPE = "global"

    def __init__(self, mask: Tensor) -> None:
        self.mask = mask

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        mask = _as_tensor(self.mask, default_mask)
        if tuple(default_mask.shape) != tuple(mask.shape):
            raise AssertionError(f"default_mask shape {tuple(default_mask.shape)} must match self.mask shape "
                                 f"{tuple(mask.shape)}")
        return mg.as_tensor(default_mask.data * mask.data.astype(default_mask.dtype, copy=False))

    @classmethod
    def apply(cls, module: Module, name: str, mask: Tensor) -> CustomFromMask:  # type: ignore[override]
        """Hook :class:`CustomFromMask` on ``module.<name>``."""
        return super().apply(module, name, mask=mask)


# --- the functional forms ---

def identity(module: T_module, name: str) -> T_module:
    """Reparametrise ``module.<name>`` as ``<name>_orig`` times a ``<name>_mask`` of ones. Returns ``module``."""
    Identity.apply(module, name)
    return module


def random_unstructured(module: T_module, name: str, amount: int | float) -> T_module:
    """Prune ``amount`` random entries of ``module.<name>`` (an int, or a fraction in [0, 1] of the entries
    still unpruned). Returns ``module``."""
    RandomUnstructured.apply(module, name, amount)
    return module


def l1_unstructured(module: T_module, name: str, amount: int | float,
                    importance_scores: Tensor | None = None) -> T_module:
    """Prune the ``amount`` entries of ``module.<name>`` of smallest ``|importance_scores|`` (default the
    tensor; the tensor's shape). Returns ``module``."""
    L1Unstructured.apply(module, name, amount=amount, importance_scores=importance_scores)
    return module


def random_structured(module: T_module, name: str, amount: int | float, dim: int) -> T_module:
    """Prune ``amount`` random channels of ``module.<name>`` along ``dim``. Returns ``module``."""
    RandomStructured.apply(module, name, amount, dim)
    return module


def ln_structured(module: T_module, name: str, amount: int | float, n: Any, dim: int,
                  importance_scores: Tensor | None = None) -> T_module:
    """Prune the ``amount`` channels of ``module.<name>`` along ``dim`` whose ``importance_scores`` (default the
    tensor) have the smallest L``n`` norm. Returns ``module``."""
    LnStructured.apply(module, name, amount, n, dim, importance_scores=importance_scores)
    return module


def global_unstructured(parameters: Iterable[tuple[Module, str]], pruning_method: type,
                        importance_scores: dict | None = None, **kwargs: Any) -> None:
    """Prune the ``(module, name)`` tensors of ``parameters`` together: ``pruning_method(**kwargs)`` (an
    ``"unstructured"`` method, e.g. ``L1Unstructured`` with ``amount=``) runs on all their still-unpruned
    entries joined, and each tensor gets its part of the mask (through :class:`CustomFromMask`).
    ``importance_scores``: ``{(module, name): tensor}`` for some of them (default the tensors)."""
    if not isinstance(parameters, Iterable):
        raise TypeError("global_unstructured(): parameters is not an Iterable")
    parameters = list(parameters)
    importance_scores = importance_scores if importance_scores is not None else {}
    if not isinstance(importance_scores, dict):
        raise TypeError("global_unstructured(): importance_scores must be of type dict")
    if not parameters:
        raise ValueError("global_unstructured(): no parameters given")
    with mg.no_grad():
        tensors = [getattr(module, name) for module, name in parameters]
        scores = mg.cat([_as_tensor(importance_scores.get((module, name), t), t).detach().reshape(-1)
                         for (module, name), t in zip(parameters, tensors)])
        default_mask = mg.cat([getattr(module, name + "_mask", mg.ones_like(t)).reshape(-1)
                               for (module, name), t in zip(parameters, tensors)])
    container = PruningContainer()
    container._tensor_name = "temp"
    method = pruning_method(**kwargs)
    method._tensor_name = "temp"
    if method.PRUNING_TYPE != "unstructured":
        raise TypeError('Only "unstructured" PRUNING_TYPE supported for the `pruning_method`. Found method '
                        f"{pruning_method} of type {method.PRUNING_TYPE}")
    container.add_pruning_method(method)
    with mg.no_grad():
        final_mask = container.compute_mask(scores, default_mask)
    pointer = 0
    for (module, name), t in zip(parameters, tensors):
        count = t.numel()
        custom_from_mask(module, name, mask=final_mask[pointer:pointer + count].reshape(t.shape))
        pointer += count


def custom_from_mask(module: T_module, name: str, mask: Tensor) -> T_module:
    """Prune ``module.<name>`` where ``mask`` (its shape) is 0. Returns ``module``."""
    CustomFromMask.apply(module, name, mask)
    return module


def remove(module: T_module, name: str) -> T_module:
    """Make the pruning of ``module.<name>`` permanent: ``<name>`` is a Parameter again (the ``<name>_orig``
    object) holding the pruned values, and the hook, ``<name>_orig`` and ``<name>_mask`` are gone. Returns
    ``module``; a ValueError if ``<name>`` is not pruned."""
    hooks = _forward_pre_hooks(module)
    for key, (hook, _) in list(hooks.items()):
        if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
            hook.remove(module)
            del hooks[key]
            reregistered()
            return module
    raise ValueError(f"Parameter '{name}' of module {module} has to be pruned before pruning can be removed")


def is_pruned(module: Module) -> bool:
    """Whether ``module`` or any module inside it has a pruning hook."""
    return any(isinstance(hook, BasePruningMethod)
               for _, sub in module.named_modules() for hook, _ in _forward_pre_hooks(sub).values())


# --- validation, as PyTorch's (same errors and messages) ---

def _validate_pruning_amount_init(amount: Any) -> None:
    """``amount`` must be a non-negative int or a float in [0, 1]."""
    if not isinstance(amount, numbers.Real):
        raise TypeError(f"Invalid type for amount: {amount}. Must be int or float.")
    if (isinstance(amount, numbers.Integral) and amount < 0) or (
            not isinstance(amount, numbers.Integral) and (float(amount) > 1.0 or float(amount) < 0.0)):
        raise ValueError(f"amount={amount} should either be a float in the range [0, 1] or a non-negative integer")


def _validate_pruning_amount(amount: Any, tensor_size: int) -> None:
    """An int ``amount`` must not exceed the units there are to prune."""
    if isinstance(amount, numbers.Integral) and amount > tensor_size:
        raise ValueError(f"amount={amount} should be smaller than the number of parameters to prune={tensor_size}")


def _validate_structured_pruning(t: Tensor) -> None:
    """Structured pruning needs channels: at least 2 dims."""
    shape = tuple(t.shape)
    if len(shape) <= 1:
        raise ValueError(f"Structured pruning can only be applied to multidimensional tensors. Found tensor of "
                         f"shape {shape} with {len(shape)} dims")


def _compute_nparams_toprune(amount: Any, tensor_size: int) -> int:
    """The units to prune: ``amount`` if an int, else ``round(amount · tensor_size)`` (Python's rounding)."""
    if isinstance(amount, numbers.Integral):
        return int(amount)
    return round(amount * tensor_size)


def _refuse_bool_count(amount: Any, k: int) -> None:
    """``amount=True`` (a bool is an int to the checks) as PyTorch's: the methods that pass the count to
    ``topk``/``kthvalue`` raise its TypeError (``False``, nothing to prune, passes; ``ln_structured`` prunes 1)."""
    if isinstance(amount, bool) and k:
        raise TypeError(f"prune: amount={amount} is a bool, not an int (topk(): argument 'k' must be int, not bool)")


def _validate_pruning_dim(t: Tensor, dim: int) -> None:
    if dim >= t.ndim:
        raise IndexError(f"Invalid index {dim} for tensor of size {tuple(t.shape)}")


def _compute_norm(t: Tensor, n: Any, dim: int) -> Any:
    """The L``n`` norm of each slice of ``t`` along ``dim`` (over all other dims): an array ``(t.shape[dim],)``."""
    xp = mg.array_module(t.data)
    dims = list(range(t.ndim))
    dims.remove(dims[dim])
    a = xp.abs(t.data)
    axes = tuple(dims)
    if (n in ("fro", "nuc") and len(axes) > 2) or (n == "nuc" and len(axes) < 2):
        # torch.norm hands these to linalg.matrix_norm, which needs exactly two dims
        raise RuntimeError(f"prune.LnStructured: the norm n={n!r} of a tensor of shape {tuple(t.shape)} over the "
                           f"dims {axes}: linalg.matrix_norm: dim must be a 2-tuple")
    if n == "fro" or n is None:   # torch.norm's p=None: the 2-norm over all the dims given
        n = 2
    if n == "nuc":   # the sum of the singular values of each slice, a matrix over the two other dims
        moved = xp.moveaxis(t.data, dim, 0)
        return xp.linalg.svd(moved, compute_uv=False).sum(axis=-1).astype(a.dtype, copy=False)
    if isinstance(n, str) or not isinstance(n, numbers.Real):
        raise NotImplementedError(f"prune.LnStructured: the norm n={n!r} is not supported (a number, inf, -inf, "
                                  "'fro' or 'nuc')")
    if n == float("inf"):
        return a.max(axis=axes)
    if n == float("-inf"):
        return a.min(axis=axes)
    if n == 0:
        return (a != 0).sum(axis=axes).astype(a.dtype)
    if n == 1:
        return a.sum(axis=axes)
    if n == 2:
        return xp.sqrt((a * a).sum(axis=axes))
    return (a ** n).sum(axis=axes) ** (1.0 / n)
