"""The optimizer base class: parameter groups, checks, all-or-nothing steps, state dicts.

A step is all-or-nothing. ``step()`` first checks every hyper-parameter of
every group, every gradient (shape, dtype, device, and finiteness when the
optimizer was built with ``check_finite=True``) and the state of every
parameter it will touch; only then does it update, in place. Every way a step
can fail is among those checks (floating-point overflow and NaN propagate
silently, as in PyTorch), so when ``step()`` raises, the parameters and the
optimizer state are exactly as before. (Running out of memory in the middle
of the updates is the one exception: making that atomic too would cost a
copy of every parameter and state array at every step.) ``load_state_dict``
works the same way: it checks and converts the whole state dict before
taking any of it.

A subclass gives ``defaults``, ``_state_keys`` and ``_update(param, grad,
state, hyper)``, which updates ``param`` and the arrays of ``state`` in place
(``state`` is empty at a parameter's first step). ``hyper`` holds the group's
hyper-parameters with a Tensor ``lr`` read as a Python float (PyTorch reads a
0-d Tensor ``lr`` at each step).
"""

from __future__ import annotations

import contextlib
import inspect
import math
from collections import defaultdict
from typing import Any, Callable, Iterable

import numpy as np

import minigrad as mg

from .._errors import InputShapeError
from .checks import (
    BoolHyperParameterError,
    check_count,
    copied,
    followed,
    invalid,
    is_flag,
    is_number,
    lr_scalar,
    param_label,
    scalar_of,
    snapshot,
)
from .hooks import OptimizerHooks, hooks_of


class _RequiredParameter:
    """The default of a hyper-parameter a group must give (torch.optim.optimizer.required), as older custom
    optimizers write ``def __init__(self, params, lr=required)``."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


class ParamGroupError(TypeError, KeyError):
    """A parameter group without its ``"params"`` entry: TypeError here, KeyError in PyTorch."""

    def __str__(self) -> str:   # KeyError's str() would quote the message
        return str(self.args[0]) if self.args else ""


class ComplexParameterError(TypeError, RuntimeError):
    """A complex parameter with a gradient at ``step()`` of an optimizer that takes but does not step one
    (Adafactor): RuntimeError in PyTorch (a TypeError too, as the constructor's dtype refusal)."""


class LearningRateTypeError(ValueError, TypeError):
    """An lr that is not a number (a str): ValueError as minigrad's other invalid learning rates, TypeError as
    PyTorch's comparison of it raises."""


class StateDictKeyError(ValueError, KeyError):
    """An optimizer state dict without its 'state' or 'param_groups' entry: ValueError here, KeyError in
    PyTorch."""

    def __str__(self) -> str:   # KeyError's str() would quote the message
        return str(self.args[0]) if self.args else ""


class ImplementationFlagError(NotImplementedError, AssertionError):
    """A step under ``capturable=True`` or ``differentiable=True``, which minigrad does not implement, where PyTorch's
    CPU step raises AssertionError (or RuntimeError, which NotImplementedError is)."""


class StateShapeError(ValueError, RuntimeError):
    """A state array in ``load_state_dict`` whose shape is not its parameter's: ValueError here (refused at the
    load, nothing loaded); PyTorch loads it and raises RuntimeError at the next ``step()``."""


__all__ = ["Optimizer"]

# Keys PyTorch writes into its param groups that choose an implementation, with the value its optimizers'
# __setstate__ gives a group that lacks one. Each optimizer keeps those its PyTorch twin has (in its defaults);
# a saved key an optimizer does not have is dropped at a load.
_TORCH_IMPLEMENTATION_KEYS = {"foreach": None, "fused": None, "capturable": False, "differentiable": False}
# A learning-rate scheduler records its settings in each group, as PyTorch's do: the starting lr,
# OneCycleLR's/CyclicLR's bounds and SWALR's swa_lr (so an optimizer's state dict saved during such a
# schedule loads again).
_SCHEDULER_KEYS = frozenset({"initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum", "swa_lr"})


def opmath(array: Any) -> type:
    """The type of a step's scalars on ``array``, as PyTorch's CPU kernels read them (their ``opmath_t``): float32
    for a float16 array, else Python's float (which NumPy rounds to the array's float32 or float64, as PyTorch).

    PyTorch's float16 ops compute in float32 (their Python-float scalars too) and round each result to float16
    once; NumPy rounds a Python float to float16 first. A float32 scalar makes NumPy's float16 arithmetic float32
    too (an in-place op on a float16 array then rounds once)."""
    return np.float32 if array.dtype.itemsize < 4 else float


def scale_type(array: Any, hyper: dict) -> type:
    """The type of a scalar that multiplies a state array (or the parameter) in place: :func:`opmath`'s, but the
    array's own under foreach=True (PyTorch's in-place ``_foreach_mul_`` rounds its scalar to float16 first)."""
    return array.dtype.type if hyper.get("foreach") else opmath(array)


def fused(array: Any) -> Any:
    """The dtype in which a step emulates PyTorch's fused float16 kernels (``lerp_``, ``addcmul_``: one float32
    fused multiply-add, product and sum rounded once): float64 for a float16 array (its products are exact there),
    the array's own otherwise (NumPy has no fused multiply-add: float32 and float64 steps round twice)."""
    return np.float64 if array.dtype.itemsize < 4 else array.dtype


def add_fused_(target: Any, product: Any) -> None:
    """target ← target + product in place, where ``product`` comes from :func:`fused`: for float16 the exact sum
    rounded to float32 and then to float16, as PyTorch's float32 fused multiply-add and its float16 result (not
    straight to float16: a float32 tie, such as 0.1 times the least float16 subnormal, rounds to even)."""
    if product.dtype == target.dtype:
        target += product
    else:
        target[...] = (target + product).astype(np.float32)


def plus(array: Any, other: Any, alpha: float) -> Any:
    """array + alpha·other, as PyTorch's ``array.add(other, alpha=alpha)``: alpha rounded to the array's dtype
    (float16 too), the sum computed in :func:`opmath` and rounded once. (PyTorch's float16 kernel does so in its
    vectorized loop; the last ``n % 64`` elements of its scalar tail (AVX512) round alpha·other to float16 first.)"""
    return (array + _alpha(array, alpha) * other).astype(array.dtype, copy=False)


def plus_(array: Any, other: Any, alpha: float) -> None:
    """array ← array + alpha·other in place, as PyTorch's ``array.add_(other, alpha=alpha)`` (see :func:`plus`)."""
    array += _alpha(array, alpha) * other


def _alpha(array: Any, alpha: float) -> Any:
    """``alpha`` as PyTorch's add(alpha=) reads it for ``array``: rounded to its dtype (complex too), then float32 for
    float16 (its arithmetic dtype, see opmath). A Python float is kept for the others: NumPy rounds it so."""
    if array.dtype.itemsize < 4:
        return np.float32(np.float16(alpha))
    return alpha if type(alpha) is float else array.dtype.type(alpha)


def lerp_(start: Any, end: Any, weight: float) -> None:
    """start ← start + weight·(end - start) in place, in the two forms PyTorch's ``lerp`` uses (by weight),
    with weight in :func:`opmath` and the rest in :func:`fused`, rounded once, as PyTorch's."""
    difference = end - start if start.dtype.itemsize >= 4 else end.astype(np.float64) - start
    weight = opmath(start)(weight)
    if weight < 0.5:
        difference *= weight
        add_fused_(start, difference)
    else:
        difference *= 1 - weight
        result = end - difference
        start[...] = result if result.dtype == start.dtype else result.astype(np.float32)   # (as add_fused_)


def snapshot_value(value: Any) -> Any:
    """A group's value as ``state_dict`` gives it: Tensors (a Tensor lr) and lists copied."""
    if isinstance(value, mg.Tensor):
        return mg.tensor(value)
    if isinstance(value, (list, tuple)):
        return type(value)(snapshot_value(v) for v in value)
    return value


def _taken(value: Any, p: mg.Tensor) -> Any:
    """A state entry of an optimizer written as PyTorch's (its own ``step``), loaded as PyTorch loads it: Tensors
    and arrays copied onto ``p``'s device (floating ones in ``p``'s dtype), containers taken apart, the rest kept."""
    if isinstance(value, mg.Tensor):
        return mg.tensor(followed(value.data, p))
    if mg.is_array(value):
        return copied(followed(value, p))
    if isinstance(value, (list, tuple)):
        return type(value)(_taken(v, p) for v in value)
    if isinstance(value, dict):
        return {k: _taken(v, p) for k, v in value.items()}
    return value


def bump_version(p: mg.Tensor) -> None:
    """Count a step as an in-place change of ``p``, as PyTorch's optimizers do (their ``add_`` bumps it).

    So a backward through a graph that saved ``p`` before the step raises instead
    of silently using the stepped values. The update itself writes ``.data`` in
    place (an in-place op would cost a copy of every parameter at every step),
    and ``_bump_version`` is the one Tensor method that records that.
    """
    bump = getattr(p, "_bump_version", None)
    if bump is not None:
        bump()


def _as_real(array: Any) -> Any:
    """A complex array (...) as its real and imaginary parts (..., 2), sharing memory (torch.view_as_real)."""
    if not array.flags.c_contiguous:
        array = array.copy()    # a gradient in another layout: read only, so a copy does
    return array.reshape(-1).view(array.real.dtype).reshape(*array.shape, 2)


def _update_as_real(update: Callable, param: Any, grad: Any, state: dict, hyper: dict) -> None:
    """``update`` on a complex parameter's real and imaginary parts, as PyTorch's optimizers do: the state keeps
    complex arrays of the parameter's shape (as PyTorch's), stepped through real views."""
    if not param.flags.c_contiguous:
        raise NotImplementedError(f"optimizer step: a complex parameter of shape {param.shape} that is not "
                                  "C-contiguous")
    as_real = {k: _as_real(v) if mg.is_array(v) and v.dtype.kind == "c" else v for k, v in state.items()}
    update(_as_real(param), _as_real(grad), as_real, hyper)
    for key, value in as_real.items():
        if mg.is_array(value) and value.dtype.kind == "f" and value.shape == (*param.shape, 2):
            value = mg.array_module(value).ascontiguousarray(value).reshape(-1).view(param.dtype).reshape(param.shape)
        state[key] = value


def _python_number(value: Any) -> Any:
    """A NumPy scalar as the Python number it holds (and so inside a tuple or list, as ``betas``); the rest kept."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, list)) and any(isinstance(v, np.generic) for v in value):
        return type(value)(v.item() if isinstance(v, np.generic) else v for v in value)
    return value


def _hyper_parameter_names() -> set[str]:
    """The keyword names of every optimizer class's constructor (``momentum``, ``betas`` ...): in a group of an
    optimizer without it, such a key is a mistake (PyTorch ignores it silently), while any other key is the
    program's own entry (MAE's ``lr_scale``, a group's ``name``), which PyTorch keeps in the group and so do we."""
    names, classes = set(), [Optimizer]
    while classes:
        cls = classes.pop()
        classes.extend(cls.__subclasses__())
        names.update(name for name, parameter in inspect.signature(cls.__init__).parameters.items()
                     if parameter.kind is parameter.KEYWORD_ONLY or parameter.kind is parameter.POSITIONAL_OR_KEYWORD)
    return names - {"self", "params"}


def check_written(p: mg.Tensor, index: int, where: str) -> None:
    """PyTorch's refusal to step a parameter whose elements share memory (an ``expand``-ed tensor, say one
    assigned by ``load_state_dict(assign=True)``): an in-place update would write one value to every row.
    A read-only array (a view of a non-writable NumPy array) is refused by name too, before anything changes."""
    data = p.data
    if data.size and any(n > 1 and step == 0 for n, step in zip(data.shape, data.strides)):
        raise RuntimeError(f"{where}: unsupported operation: more than one element of {param_label(p, index)} "
                           "(an expanded view) refers to a single memory location. Please clone() the parameter "
                           "before performing the operation.")
    if not getattr(data.flags, "writeable", True):
        raise RuntimeError(f"{where}: {param_label(p, index)} is read-only (a view of a non-writable array); "
                           "clone() it first")


class Optimizer(OptimizerHooks):
    """Base class: parameter groups, per-parameter state, ``zero_grad``, ``step``, ``state_dict``, and
    PyTorch's step and state-dict hooks (:mod:`nn.optim.hooks`).

    ``params``: an iterable of Tensors (or of ``(name, Tensor)`` pairs, as
    ``module.named_parameters()`` gives; the group then keeps the names as
    ``"param_names"``, as PyTorch's), or of dicts (parameter groups) each with
    ``"params"`` and any hyper-parameter to override for that group.
    ``check_finite=True`` (keyword only; PyTorch has no such check) makes
    ``step()`` refuse a NaN or infinite gradient before anything changes.
    """

    # A complex parameter steps as its real and imaginary parts (PyTorch's view_as_real in these optimizers);
    # an optimizer whose update reads the parameter's shape (Adafactor's factored moments) keeps refusing it.
    complex_as_real = False
    # A complex parameter steps in complex arithmetic (PyTorch's SGD, which has no view_as_real): the same values
    # as through its parts while they are finite, and PyTorch's NaN parts from an infinite gradient.
    complex_native = False
    # The constructor takes a complex parameter that step() refuses once it has a gradient (PyTorch's Adafactor);
    # with complex_as_real the constructor takes it anyway.
    accepts_complex = False

    def __init__(self, params: Iterable[Any], defaults: dict, *, check_finite: bool = False) -> None:
        self.defaults = dict(defaults)
        self.check_finite = bool(check_finite)
        self.param_groups: list[dict] = []
        # as PyTorch's: opt.state[p] is {} for a parameter not stepped yet
        self.state: defaultdict[mg.Tensor, dict] = defaultdict(dict)
        if isinstance(params, mg.Tensor):
            raise TypeError(f"{self._name}: params must be an iterable of Tensors or of dicts, got one Tensor "
                            "(wrap it in a list)")
        groups = list(params)
        if not groups:
            raise ValueError(f"{self._name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        if any(c.__module__.startswith("nn.optim.") for c in type(self).__mro__ if c is not Optimizer):
            # as PyTorch's optimizers (not its base class): an invalid constructor argument is refused even
            # where every group gives its own value
            self._checked_hyper({k: v for k, v in self.defaults.items() if v is not required},
                                "a constructor argument, checked even where every group overrides it")
        for group in groups:
            self.add_param_group(group)

    @property
    def _name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        """PyTorch's: ``SGD (``, then each group's ``Parameter Group i`` and sorted entries, a blank line between."""
        lines = [f"{self._name} ("]
        for i, group in enumerate(self.param_groups):
            lines += ([""] if i else []) + [f"Parameter Group {i}"]
            lines += [f"    {key}: {group[key]}" for key in sorted(group) if key != "params"]
        return "\n".join(lines) + "\n)"

    # --- groups and hyper-parameters ---

    def add_param_group(self, param_group: dict) -> None:
        """Add a dict with ``"params"`` (Tensors) and optional hyper-parameters; defaults fill the rest."""
        if not isinstance(param_group, dict) or "params" not in param_group:
            kind = ParamGroupError if isinstance(param_group, dict) else TypeError
            raise kind(f"{self._name}: a parameter group is a dict with a 'params' entry, got {param_group!r}")
        params = param_group["params"]
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{self._name}: parameters must be an ordered sequence (a set has no stable order)")
        params = [params] if isinstance(params, mg.Tensor) else list(params)
        params, names = self._named(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            if not isinstance(p, mg.Tensor):
                raise TypeError(f"{self._name}: parameter {i} of a group is a {type(p).__name__}, not a Tensor")
            if not p.is_leaf and self.defaults.get("differentiable"):
                raise NotImplementedError(f"{self._name}: differentiable=True with a non-leaf Tensor "
                                          f"({p.name or p.shape}): minigrad does not differentiate through an "
                                          "optimizer step")
            if not p.is_leaf:
                raise ValueError(f"{self._name}: can't optimize a non-leaf Tensor ({p.name or p.shape}); "
                                 "optimize the leaf it was computed from")
            if p.dtype.kind != "f" and not (p.dtype.kind == "c" and (self.complex_as_real or self.accepts_complex)):
                raise TypeError(f"{self._name}: parameter {p.name or i} is {p.dtype}, not floating point"
                                + (f" ({self._name} does not step complex parameters)" if p.dtype.kind == "c" else ""))
            if id(p) in seen:
                raise ValueError(f"{self._name}: parameter {p.name or i} appears in more than one group or twice")
            seen.add(id(p))
        unknown = [k for k in param_group if k != "params" and k not in self.defaults and k not in _SCHEDULER_KEYS]
        mistaken = [k for k in unknown if k in _hyper_parameter_names()]
        if mistaken:
            raise TypeError(f"{self._name}: unknown hyper-parameter(s) {mistaken}; known: {sorted(self.defaults)}")
        # PyTorch's order: the param_group's own entries (a scheduler's, a program's own too) as given, the names, then
        # the defaults it does not set
        full = {key: params if key == "params" else value for key, value in param_group.items()}
        if names is not None:
            full["param_names"] = names
        for key, value in self.defaults.items():
            if value is required and key not in param_group:   # an older optimizer's `lr=required` left unset
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {key}")
            full.setdefault(key, value)
        self._hyper(full)
        self.param_groups.append(full)

    def _named(self, params: list) -> tuple[list, list[str] | None]:
        """(Tensors, names or None) from a group's entries: Tensors, or ``(name, Tensor)`` pairs as
        ``module.named_parameters()`` gives them (PyTorch keeps the names in the group as ``param_names``)."""
        pairs = [isinstance(p, tuple) for p in params]
        if not any(pairs):
            names = None
        elif not all(pairs):
            raise ValueError(f"{self._name}: all optimizer params should be with/without names. Some param names "
                             f"are missing ({pairs.count(False)} of {len(params)} parameters have none)")
        else:
            for i, pair in enumerate(params):
                if len(pair) != 2 or not isinstance(pair[0], str):
                    raise TypeError(f"{self._name}: parameter {i} of a group is a tuple that is not a "
                                    f"(name, Tensor) pair: {pair!r}")
            names, params = [name for name, _ in params], [p for _, p in params]
        if self.param_groups and (names is None) != ("param_names" not in self.param_groups[0]):
            which = "with names" if names is not None else "without names"
            raise ValueError(f"{self._name}: all optimizer param groups should be with/without names. "
                             f"cannot add param group {which} to the optimizer")
        return params, names

    def _checked_hyper(self, group: dict, where: str) -> dict:
        """:meth:`_hyper`, with ``where`` (which group, which call) added to the message of its error."""
        try:
            return self._hyper(group)
        except (TypeError, ValueError, NotImplementedError) as error:
            raise type(error)(f"{error} [{where}]") from None

    def _checked_lr(self, lr: Any, fused: bool = False) -> Any:
        """A learning rate (a number, or a 0-d or one-element real Tensor read now) checked, as
        :func:`~.checks.lr_scalar` gives it: a Python float, or for a Tensor a NumPy scalar (a step computes in its
        dtype, as PyTorch's); raises naming the value."""
        tensor = isinstance(lr, mg.Tensor) or mg.is_array(lr)
        if tensor and (math.prod(lr.shape) != 1 or lr.dtype.kind not in "fiu"):
            kind = TypeError if math.prod(lr.shape) == 1 else LearningRateTypeError   # PyTorch: ValueError
            raise kind(f"{self._name}: a Tensor lr must be 0-d and real, or of one element (as in PyTorch), got "
                       f"shape {tuple(lr.shape)} and dtype {lr.dtype}")
        value = lr.item() if tensor else lr
        if not is_number(value) or not value >= 0 or not math.isfinite(value):  # `not >=` also catches NaN
            kind = (ValueError if is_number(value)   # lr=True: PyTorch's LBFGS raises "Boolean alpha ..."
                    else BoolHyperParameterError if isinstance(value, bool) else LearningRateTypeError)
            raise kind(f"{self._name}: invalid learning rate lr={value!r} (must be a finite number >= 0)")
        # (PyTorch's fused steps read a Tensor lr as a double)
        return lr_scalar(lr) if tensor and not fused else float(value)

    def _hyper(self, group: dict) -> dict:
        """The group's hyper-parameters checked, with a 0-d Tensor ``lr`` read as a float.

        Raises ValueError (TypeError for a wrong kind of value) naming the optimizer and the value.
        """
        # NumPy scalars (np.float64(0.9) from a config or np.logspace) read as Python numbers, as PyTorch reads
        # them: under NumPy 2 a float64 scalar would turn a float32 parameter's updates and state into float64
        hyper = {k: _python_number(v) for k, v in group.items() if k != "params" and k != "param_names"}
        for key in _TORCH_IMPLEMENTATION_KEYS:
            # PyTorch's: foreach, fused and capturable True, False or None; differentiable True or False
            value, takes_none = hyper.get(key), key != "differentiable"
            if key in self.defaults and not is_flag(value) and not (takes_none and value is None):
                allowed = "True, False or None" if takes_none else "True or False"
                raise TypeError(f"{self._name}: {key} must be {allowed}, got {value!r}")
        if "lr" in hyper:                  # (a user's subclass may have no lr)
            hyper["lr"] = self._checked_lr(hyper["lr"], bool(hyper.get("fused")))
        betas = hyper.get("betas")
        if isinstance(betas, (tuple, list)) and any(isinstance(b, mg.Tensor) or mg.is_array(b) for b in betas):
            # PyTorch takes them, but then computes its bias corrections (and NAdam its mu product) in the
            # Tensors' dtype, float32 for torch.tensor(0.9): floats here rather than steps that differ
            raise NotImplementedError(f"{self._name}: Tensor betas are not supported, got betas={betas!r}; pass "
                                      "Python floats, e.g. betas=(float(beta1), float(beta2))")
        for key, value in hyper.items():
            # lr and the implementation flags are checked above; a key not in the defaults is a scheduler's
            # entry or a program's own
            if key == "lr" or key not in self.defaults or key in _TORCH_IMPLEMENTATION_KEYS:
                continue
            if isinstance(value, mg.Tensor) or mg.is_array(value):
                raise TypeError(f"{self._name}: hyper-parameter {key} is a Tensor; only lr may be a (0-d) Tensor")
            if isinstance(self.defaults.get(key), bool) and not is_flag(value):
                raise TypeError(f"{self._name}: {key} must be True or False, got {value!r}")
        for key in ("weight_decay", "eps", "momentum", "dampening", "alpha", "lr_decay",
                    "initial_accumulator_value"):
            if key in hyper and (not is_number(hyper[key]) or not 0 <= hyper[key] < math.inf):
                raise invalid(hyper[key], f"{self._name}: invalid {key}={hyper[key]!r} (must be a finite number >= 0)")
        return hyper

    # --- stepping ---

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's ``.grad`` (or zero it in place with ``set_to_none=False``, out of any graph a
        ``backward(create_graph=True)`` gave it, as PyTorch's and ``Module.zero_grad``)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                    continue
                grad = p.grad
                if grad.grad_fn is not None:
                    grad.detach_()
                else:
                    grad.requires_grad_(False)
                grad.zero_()   # an in-place change (its version moves on), as PyTorch's

    def _grad_array(self, p: mg.Tensor, index: int, where: str) -> Any:
        """``p``'s gradient array after checking its shape, dtype, device (and finiteness if asked); None if absent."""
        grad = p.grad
        if grad is None:
            return None
        array, data = (grad.data if isinstance(grad, mg.Tensor) else grad), p.data
        if (type(array) is type(data) and array.shape == data.shape and array.dtype == data.dtype
                and mg.device_of(array) == mg.device_of(data) and not self.check_finite):
            return array                    # the usual case, checked in one line
        label = param_label(p, index)
        if not mg.is_array(array):
            raise TypeError(f"{where}: {label} has a .grad of type {type(grad).__name__}, not a Tensor")
        if tuple(array.shape) != tuple(p.shape):
            raise InputShapeError(f"{where}: {label} has a gradient of shape {tuple(array.shape)}; "
                             "it must have the parameter's shape")
        if array.dtype != p.dtype:
            raise TypeError(f"{where}: {label} is {p.dtype} but its gradient is {array.dtype}")
        if mg.device_of(array) != p.device:
            raise ValueError(f"{where}: {label} is on {p.device} but its gradient is on {mg.device_of(array)}")
        if self.check_finite:
            xp = mg.array_module(array)
            bad = int((~xp.isfinite(array)).sum())
            if bad:
                raise ValueError(f"{where}: {label} has {bad} non-finite gradient value(s) (NaN or inf) "
                                 "and check_finite=True")
        return array

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; ``closure`` (optional) recomputes and returns the loss.

        All-or-nothing: every check runs before any parameter or state changes,
        so on an error nothing has changed.
        """
        loss = None
        if closure is not None:
            with mg.enable_grad():
                loss = closure()
        where = f"{self._name}.step"
        with mg.no_grad():
            plan = []                       # (param, grad, its checked state, hyper-parameters)
            index = 0
            for g, group in enumerate(self.param_groups):
                hyper = self._checked_hyper(group, f"param_groups[{g}], checked by step()")
                refused = hyper.get("capturable") or hyper.get("differentiable")
                for p in group["params"]:
                    grad = self._grad_array(p, index, where)
                    if grad is not None:
                        check_written(p, index, where)
                        if refused:
                            self._refuse_implementation(p, index, hyper, where)
                        if p.dtype.kind == "c" and hyper.get("fused"):
                            raise RuntimeError(f"{where}: `fused=True` requires all the params to be floating "
                                               f"point Tensors, but {param_label(p, index)} is {p.dtype}")
                        if p.dtype.kind == "c" and not self.complex_as_real:   # (taken by accepts_complex)
                            raise ComplexParameterError(f"{self._name}: does not support complex parameters "
                                                        f"({param_label(p, index)} is {p.dtype}), as PyTorch's "
                                                        f"{self._name}")
                        state = self._checked_state(p, index, self.state.get(p, {}), hyper, where)
                        plan.append((p, grad, state, hyper))
                    index += 1
            # every check passed: update. NaN and inf propagate silently, as in PyTorch
            # (check_finite=True is the opt-in check), whatever the caller's NumPy error settings.
            with contextlib.ExitStack() as quiet:
                for xp in {mg.array_module(p.data) for p, *_ in plan}:
                    quiet.enter_context(mg.errstate(xp, invalid="ignore", divide="ignore", over="ignore"))
                for p, grad, state, hyper in plan:
                    self.state[p] = state
                    if p.data.dtype.kind == "c" and not self.complex_native:
                        _update_as_real(self._update, p.data, grad, state, hyper)
                    else:
                        self._update(p.data, grad, state, hyper)
                    bump_version(p)
        return loss

    @staticmethod
    def _refuse_implementation(p: mg.Tensor, index: int, hyper: dict, where: str) -> None:
        """Raise for a group's ``capturable=True`` (unfused) or ``differentiable=True``, which minigrad does not
        implement, at the step of a parameter with a gradient.

        PyTorch's CPU step raises there too for capturable (AssertionError: it wants CUDA tensors) and for
        differentiable with a parameter that requires grad (RuntimeError: a leaf changed in place) or with
        ``foreach=True`` (AssertionError). Its differentiable step of a parameter that does not require grad
        computes its bias corrections in float32 (Adam's, and others'): other numbers, so refused too.
        """
        label = param_label(p, index)
        if hyper.get("capturable") and not hyper.get("fused"):
            raise ImplementationFlagError(f"{where}: capturable=True is not supported ({label} is on {p.device}; "
                                          "PyTorch's capturable step wants CUDA tensors and minigrad does not capture "
                                          "CUDA graphs): leave it False or None")
        if hyper.get("differentiable"):
            raise ImplementationFlagError(f"{where}: differentiable=True is not supported: minigrad does not "
                                          f"differentiate through an optimizer step ({label}; PyTorch's CPU step "
                                          "raises too for a leaf that requires grad): leave it False")

    def _update(self, param: Any, grad: Any, state: dict, hyper: dict) -> None:
        """Update one parameter array and its state (arrays and counts) in place."""
        raise NotImplementedError

    # --- per-parameter state: what it must hold ---

    def _state_keys(self, hyper: dict) -> tuple[set, set]:
        """(required, optional) state keys of a parameter that has state, for these hyper-parameters.

        ``"step"`` is a count; every other key is an array of the parameter's shape.
        """
        return set(), set()

    def _checked_state(self, p: mg.Tensor, index: int, entries: Any, hyper: dict, where: str) -> dict:
        """``entries`` checked and converted (arrays on ``p``'s device, floating ones in its dtype) as a new dict.

        An empty state (a parameter never stepped) is always valid.
        """
        label = f"state[{index}]"
        if not isinstance(entries, dict):
            raise TypeError(f"{where}: {label} is a {type(entries).__name__}, not a dict")
        if not entries:
            return {}
        if type(self)._state_keys is Optimizer._state_keys:   # a subclass with its own step(), as PyTorch's
            return {key: _taken(value, p) for key, value in entries.items()}
        required, optional = self._state_keys(hyper)
        if not required <= entries.keys():
            raise ValueError(f"{where}: {label} (of {param_label(p, index)}) lacks {sorted(required - entries.keys())} "
                             f"(it has {sorted(entries)})")
        if not entries.keys() <= required | optional:
            raise ValueError(f"{where}: {label} has unknown entries {sorted(entries.keys() - required - optional)}; "
                             f"{self._name} keeps {sorted(required | optional)}")
        converted = {}
        data = p.data
        for key, value in entries.items():
            if key != "step" and type(value) is type(data) and value.shape == data.shape \
                    and value.dtype == data.dtype and mg.device_of(value) == mg.device_of(data):
                converted[key] = value      # the usual case: already right
            elif key == "step":
                converted[key] = check_count(value, f"{where}: {label}['step']")
            elif value is None and key not in required:
                continue                    # PyTorch's SGD may store momentum_buffer=None
            else:
                converted[key] = self._checked_array(value, p, f"{where}: {label}[{key!r}]", index)
        return converted

    @staticmethod
    def _checked_array(value: Any, p: mg.Tensor, what: str, index: int, shape: tuple | None = None) -> Any:
        """A floating state array of ``shape`` (default: ``p``'s) on ``p``'s device in ``p``'s dtype."""
        array = value.data if isinstance(value, mg.Tensor) else value
        if not mg.is_array(array):
            kind = f"{type(value).__module__}.{type(value).__name__}"   # torch.Tensor, not our Tensor
            raise TypeError(f"{what} is a {kind}, not a NumPy/CuPy array or a minigrad Tensor (convert a PyTorch "
                            f"state with .numpy() first)")
        if tuple(array.shape) != (tuple(p.shape) if shape is None else shape):
            expected = f"{param_label(p, index)} has shape {tuple(p.shape)}" if shape is None else f"expected {shape}"
            raise StateShapeError(f"{what}: shape {tuple(array.shape)} in the state, {expected}")
        if array.dtype.kind != "f" and not (array.dtype.kind == "c" and p.dtype.kind == "c"):
            raise TypeError(f"{what}: dtype {array.dtype}; optimizer state must be floating point")
        return followed(array, p)

    # --- state dict ---

    def _indexed(self) -> list[mg.Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> dict:
        """``{"state": {index: {name: Tensor | number}}, "param_groups": [{hyper-parameters, "params": [index]}]}``.

        Indices count the parameters across groups in order, as PyTorch's. State
        arrays are copies (a snapshot) as Tensors on the parameters' device.
        The state-dict hooks run before and after (a post-hook may return a new dict).
        """
        for hook in hooks_of(self, "state_dict_pre"):
            hook(self)
        state_dict = self._state_dict()
        for hook in hooks_of(self, "state_dict_post"):
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    def _state_dict(self) -> dict:
        index = {id(p): i for i, p in enumerate(self._indexed())}
        state = {}
        for p, entries in self.state.items():
            if entries:
                state[index[id(p)]] = {k: snapshot(v) for k, v in entries.items()}
        groups = []
        for group in self.param_groups:
            saved = {k: snapshot_value(v) for k, v in group.items() if k != "params"}
            saved["params"] = [index[id(p)] for p in group["params"]]
            groups.append(saved)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyper-parameters and state from :meth:`state_dict` (or ``nn.load`` of it, or PyTorch's
        converted with ``.numpy()``).

        Everything is checked first: the groups and their sizes, the indices,
        every hyper-parameter, every state entry (names, shapes, floating dtypes,
        step counts). On any problem nothing changes and the error says what.
        Arrays are copied to each parameter's device and cast to its dtype.
        The load pre-hooks see (and may replace) a shallow copy of ``state_dict``; the post-hooks run after.
        """
        if isinstance(state_dict, dict):
            state_dict = dict(state_dict)
        for hook in hooks_of(self, "load_state_dict_pre"):
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        try:
            new_groups, new_state = self._checked_load(state_dict, f"{self._name}.load_state_dict")
        except (TypeError, ValueError) as error:
            raise type(error)(f"{error}; nothing was loaded") from None
        # everything checked and converted: take it (copies: steps update state arrays in place)
        for group, (values, _) in zip(self.param_groups, new_groups):
            # PyTorch takes the saved group whole: a scheduler's key it lacks (initial_lr set by a scheduler built
            # after the save) goes, so the next scheduler starts from the restored lr, not from a stale one
            for key in _SCHEDULER_KEYS - values.keys():
                group.pop(key, None)
            group.update(values)
        self.state = defaultdict(dict, {p: {k: copied(v) for k, v in entries.items()}
                                        for p, entries in new_state.items() if entries})
        for hook in hooks_of(self, "load_state_dict_post"):
            hook(self)

    def _checked_load(self, state_dict: Any, where: str) -> tuple[list, dict]:
        """(per group: (values to set, hyper-parameters), per parameter: its state), all checked and converted."""
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            kind = StateDictKeyError if isinstance(state_dict, dict) else ValueError
            raise kind(f"{where}: expected a dict with 'state' and 'param_groups', got "
                             f"{sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__}")
        saved_groups, saved_state = state_dict["param_groups"], state_dict["state"]
        if not isinstance(saved_groups, (list, tuple)) or not all(isinstance(g, dict) for g in saved_groups):
            raise TypeError(f"{where}: 'param_groups' must be a list of dicts")
        if not isinstance(saved_state, dict):
            raise TypeError(f"{where}: 'state' must be a dict of parameter index -> dict, "
                            f"got {type(saved_state).__name__}")
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{where}: the state dict has {len(saved_groups)} parameter group(s), "
                             f"this optimizer has {len(self.param_groups)}")
        new_groups, by_index, position = [], {}, {}
        for g, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            new_groups.append(self._loaded_group(saved, group, f"{where}: param_groups[{g}]"))
            indices = saved.get("params")
            if not isinstance(indices, (list, tuple)) or len(indices) != len(group["params"]):
                size = len(indices) if isinstance(indices, (list, tuple)) else repr(indices)
                raise ValueError(f"{where}: param_groups[{g}] has {size} parameters in the state dict, "
                                 f"{len(group['params'])} here")
            for saved_index, p in zip(indices, group["params"]):
                saved_index = check_count(saved_index, f"{where}: param_groups[{g}] parameter index", integral=True)
                if saved_index in by_index:
                    raise ValueError(f"{where}: parameter index {saved_index} is listed twice")
                by_index[saved_index] = (p, g)
        for i, p in enumerate(self._indexed()):
            position[id(p)] = i
        new_state: dict[mg.Tensor, dict] = {}
        for key, entries in saved_state.items():
            # an int (a str of digits from a JSON file): int(0.7) or int(True) would pick a parameter silently
            if isinstance(key, str) and key.isascii() and key.isdecimal():
                saved_index = int(key)
            else:
                try:
                    saved_index = check_count(key, "", integral=True)
                except (TypeError, ValueError):
                    raise ValueError(f"{where}: state key {key!r} is not a parameter index") from None
            if saved_index not in by_index:
                raise ValueError(f"{where}: state for parameter index {saved_index}, which no group lists")
            p, g = by_index[saved_index]
            new_state[p] = self._checked_state(p, position[id(p)], entries, new_groups[g][1], where)
        return new_groups, new_state

    def _loaded_group(self, saved: dict, group: dict, where: str) -> tuple[dict, dict]:
        """(values to set in ``group``, checked hyper-parameters) from a saved group; raises on any bad entry."""
        values = {}
        unknown = []
        for key, value in saved.items():
            if key == "params" or (key in _TORCH_IMPLEMENTATION_KEYS and key not in self.defaults):
                continue
            if key == "param_names":         # as PyTorch's: the saved names replace the group's
                if (not isinstance(value, (list, tuple)) or len(value) != len(group["params"])
                        or not all(isinstance(name, str) for name in value)):
                    raise ValueError(f"{where}: param_names must be one name (a str) per parameter of the group "
                                     f"({len(group['params'])}), got {value!r}")
                values[key] = list(value)
                continue
            if key == "decoupled_weight_decay" and key not in self.defaults:   # (Adam, NAdam, RAdam have it)
                if bool(scalar_of(value)):
                    raise ValueError(f"{where}: decoupled_weight_decay={value!r} does not match {self._name}")
                continue
            if key not in self.defaults and key not in _SCHEDULER_KEYS:
                if key in _hyper_parameter_names():
                    unknown.append(key)
                else:   # a program's own entry, taken as saved
                    values[key] = value
                continue
            if isinstance(self.defaults.get(key), tuple) and isinstance(value, list):
                value = tuple(value)
            if key != "lr":
                value = scalar_of(value)
            elif isinstance(value, mg.Tensor) or mg.is_array(value):
                value = mg.tensor(value)
            values[key] = value
        if unknown:
            raise ValueError(f"{where}: unknown hyper-parameter(s) {sorted(unknown)} for {self._name}")
        for key, default in _TORCH_IMPLEMENTATION_KEYS.items():   # (a state dict saved before they were kept)
            if key in self.defaults and key not in saved:
                values[key] = default
        candidate = {**group, **values}
        if "initial_lr" in candidate:
            initial = scalar_of(candidate["initial_lr"])
            if not is_number(initial) or not 0 <= initial < math.inf:
                raise ValueError(f"{where}: invalid initial_lr={initial!r}")
        return values, self._checked_hyper(candidate, where)
