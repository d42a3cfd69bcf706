"""``mg.amp``: PyTorch's mixed-precision spellings, so that a ported training loop runs unchanged.

- ``GradScaler`` is PyTorch's loss scaler, working: ``scale(loss)`` multiplies by the scale,
  ``unscale_(optimizer)`` divides the gradients back and looks for inf/NaN, ``step`` skips the
  optimizer's step when one was found, and ``update`` halves the scale after a skipped step and
  doubles it after ``growth_interval`` good ones. As in PyTorch, a scaler for ``device="cuda"``
  on a machine without a GPU warns and disables itself (every call then passes through).
- ``autocast`` does not change dtypes: minigrad has no per-op precision lists, so ops inside
  the block run in their inputs' dtypes (float32 where PyTorch would pick float16/bfloat16).
  Results are then more precise than PyTorch's, never wrong; it warns once that it does nothing.
  As PyTorch's, a ``"cuda"`` block without a GPU warns and disables itself (``is_autocast_enabled("cuda")``
  stays False in it).
  ``dtype=torch.bfloat16`` is accepted like float16 (NumPy has no bfloat16, and neither changes a dtype).
- ``set_autocast_enabled``, ``set_autocast_dtype`` and ``get_autocast_dtype`` are PyTorch's per-thread switches
  that ``autocast`` blocks set and restore (``is_autocast_enabled`` reads the first): they are kept and read back
  as PyTorch's, and change no dtype either (``get_autocast_dtype`` is PyTorch's default, float16 for "cuda" and
  ``mg.bfloat16``, a name only, for "cpu", until set). PyTorch's deprecated per-device spellings
  (``is_autocast_cpu_enabled``, ``get_autocast_cpu_dtype``, ``get_autocast_gpu_dtype`` and their setters) read and
  set the same state, each with torch's DeprecationWarning.
- ``is_autocast_cache_enabled``/``set_autocast_cache_enabled`` keep PyTorch's per-thread cache flag (an ``autocast``
  block's ``cache_enabled`` sets it and its end restores it); there is no cast cache, so ``clear_autocast_cache``
  does nothing. ``is_autocast_available(device_type)`` is True for "cpu" and "cuda" (with or without a GPU, as
  PyTorch's), False for PyTorch's other device types (an autocast block there raises here).
- ``custom_fwd``/``custom_bwd`` are PyTorch's decorators for a custom ``Function`` under autocast: ``cast_inputs``
  casts the forward's float arguments inside an enabled block (and runs it with autocast off), and the backward runs
  in its forward's autocast state.
- ``torch.cuda.amp``, PyTorch's older spelling (``from torch.cuda.amp import GradScaler, autocast``), is
  :data:`cuda_amp`: the same two for ``"cuda"``, with that module's arguments (no device argument; each
  constructor warns as torch 2.13's does: that module is deprecated too);
  ``torch.cpu.amp``, deprecated, is :data:`cpu_amp` (``"cpu"``; each constructor warns as torch's does).
"""

from __future__ import annotations

import functools
import math
import sys
import threading
import types
import warnings
from collections.abc import Iterable, Mapping
from typing import Any, Callable

from . import backend
from .arguments import as_bool
from .dtypes import bfloat16, float16

__all__ = ["GradScaler", "autocast", "clear_autocast_cache", "custom_bwd", "custom_fwd", "get_autocast_cpu_dtype",
           "get_autocast_dtype", "get_autocast_gpu_dtype", "is_autocast_available", "is_autocast_cache_enabled",
           "is_autocast_cpu_enabled", "is_autocast_enabled", "set_autocast_cache_enabled", "set_autocast_cpu_dtype",
           "set_autocast_cpu_enabled", "set_autocast_dtype", "set_autocast_enabled", "set_autocast_gpu_dtype"]

_READY, _UNSCALED, _STEPPED = "ready", "unscaled", "stepped"
_warned_autocast = False


class autocast:  # noqa: N801 - PyTorch's name
    """``with mg.autocast("cuda", dtype=mg.float16):`` (or as a decorator): accepted, changes nothing.

    minigrad runs every op in its inputs' dtype; cast the model (``model.half()``) to compute in
    float16. ``enabled=True`` warns once that the block keeps full precision.
    """

    def __init__(self, device_type: str, dtype: Any = None, enabled: bool = True,
                 cache_enabled: bool | None = None) -> None:
        if not isinstance(device_type, str):   # PyTorch's autocast: ValueError, the functions: TypeError
            raise AutocastDeviceError(f"autocast: expected device_type of type str, got {type(device_type).__name__}")
        self.device_type, self._device_kind = device_type, _device_kind(device_type, "autocast")
        # PyTorch's default: the device's autocast dtype (get_autocast_dtype); bfloat16 names no NumPy dtype
        self.fast_dtype = (get_autocast_dtype(self._device_kind) if dtype is None
                           else _autocast_dtype(dtype, "autocast"))
        self.enabled = as_bool(enabled, "autocast", "enabled")
        # PyTorch's default: the thread's cache flag when the block is made (is_autocast_cache_enabled)
        self._cache_enabled = is_autocast_cache_enabled() if cache_enabled is None else cache_enabled
        if self.enabled and self._device_kind == "cuda" and not backend.cuda_is_available():
            warnings.warn("CUDA is not available or torch_xla is imported. Disabling autocast.", stacklevel=2)
            self.enabled = False   # as PyTorch's: is_autocast_enabled("cuda") stays False in the block
        if self.enabled and self._device_kind == "cpu" and not (_is_bfloat16(self.fast_dtype)
                                                                 or self.fast_dtype == float16):
            warnings.warn("In CPU autocast, but the target dtype is not supported. Disabling autocast.\nCPU Autocast "
                          "only supports dtypes of torch.bfloat16, torch.float16 currently.", stacklevel=2)
            self.enabled = False   # as PyTorch's

    def __enter__(self) -> autocast:
        if not isinstance(self._cache_enabled, bool):   # PyTorch's, on entry
            raise TypeError(f"autocast: cache_enabled must be a bool (got {type(self._cache_enabled).__name__})")
        states, dtypes = _states(), _dtypes()
        self._previous = (states.get(self._device_kind, False), get_autocast_dtype(self._device_kind),
                          is_autocast_cache_enabled())
        states[self._device_kind] = self.enabled   # a block sets the state, the block's end restores it
        dtypes[self._device_kind] = self.fast_dtype
        _state.cache_enabled = self._cache_enabled
        if self.enabled:
            _warn_once()
        return self

    def __exit__(self, *exc: object) -> None:
        _states()[self._device_kind], _dtypes()[self._device_kind], _state.cache_enabled = self._previous
        return None

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)   # name, doc, __qualname__ and __wrapped__, as PyTorch's decorator
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)
        return wrapper


_state = threading.local()   # per thread, as PyTorch's: device kind -> whether autocast is on (enabled), its dtype


def _states() -> dict:
    states = getattr(_state, "enabled", None)
    if states is None:
        states = _state.enabled = {}
    return states


def _dtypes() -> dict:
    dtypes = getattr(_state, "dtypes", None)
    if dtypes is None:
        dtypes = _state.dtypes = {}
    return dtypes


class AutocastDeviceError(ValueError, RuntimeError):
    """A device type autocast does not know (ValueError here, RuntimeError in PyTorch)."""


def _device_kind(device_type: Any, name: str) -> str:
    """"cpu" or "cuda" from ``device_type`` ("cuda:1" is "cuda"); anything else raises naming ``name`` (a
    non-string TypeError, as PyTorch's functions)."""
    if not isinstance(device_type, str):
        raise TypeError(f"{name}(): argument 'device_type' must be str, not {type(device_type).__name__}")
    if device_type.split(":")[0] not in ("cpu", "cuda"):
        raise AutocastDeviceError(f"{name}: device_type must be 'cpu' or 'cuda', got {device_type!r}")
    return device_type.split(":")[0]


def _is_bfloat16(dtype: Any) -> bool:
    """Whether ``dtype`` names bfloat16 (``mg.bfloat16``, ``"bfloat16"``, ``torch.bfloat16``), which NumPy has not."""
    return dtype is bfloat16 or "bfloat16" in str(dtype)


def _autocast_dtype(dtype: Any, name: str) -> Any:
    """A dtype as given to autocast: bfloat16 (which names no NumPy dtype) kept as given, others as NumPy's."""
    return dtype if _is_bfloat16(dtype) else backend.as_dtype(dtype, name)


def _warn_once() -> None:
    global _warned_autocast
    if not _warned_autocast:
        _warned_autocast = True
        warnings.warn("autocast: minigrad does not change op dtypes; the block runs in its inputs' dtypes "
                      "(full precision). Use model.half() to compute in float16.", stacklevel=3)


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Whether autocast is on for ``device_type`` ("cpu" or "cuda"; PyTorch's deprecated default without it:
    "cuda") in this thread: the innermost ``autocast`` block's ``enabled``, or what ``set_autocast_enabled``
    set. (Inside one, minigrad still runs ops in their inputs' dtypes.)"""
    return _states().get(_device_kind("cuda" if device_type is None else device_type, "is_autocast_enabled"), False)


_NOT_GIVEN = object()


def set_autocast_enabled(device_type: Any, enabled: Any = _NOT_GIVEN) -> None:
    """Switch autocast on or off for ``device_type`` in this thread, as ``torch.set_autocast_enabled`` (the older
    one-argument form, ``set_autocast_enabled(True)``, is for "cuda"). Ops still run in their inputs' dtypes."""
    if enabled is _NOT_GIVEN:
        device_type, enabled = "cuda", device_type
    kind = _device_kind(device_type, "set_autocast_enabled")
    if not isinstance(enabled, bool):
        raise TypeError(f"set_autocast_enabled(): argument 'enabled' must be bool, not {type(enabled).__name__}")
    _states()[kind] = enabled
    if enabled:
        _warn_once()


def get_autocast_dtype(device_type: str) -> Any:
    """The dtype autocast names for ``device_type`` in this thread (``torch.get_autocast_dtype``): the innermost
    block's, or what ``set_autocast_dtype`` set, else PyTorch's default (float16 for "cuda", ``mg.bfloat16``
    for "cpu": a name only, NumPy has no bfloat16). minigrad computes in the inputs' dtypes whatever it is."""
    kind = _device_kind(device_type, "get_autocast_dtype")
    return _dtypes().get(kind, float16 if kind == "cuda" else bfloat16)


def set_autocast_dtype(device_type: str, dtype: Any) -> None:
    """Set the dtype autocast names for ``device_type`` in this thread (``torch.set_autocast_dtype``); a block
    without ``dtype=`` takes it. It changes no op's dtype here."""
    _dtypes()[_device_kind(device_type, "set_autocast_dtype")] = _autocast_dtype(dtype, "set_autocast_dtype")


def _deprecated(old: str, new: str) -> None:
    warnings.warn(f"torch.{old} is deprecated. Please use torch.{new} instead.", DeprecationWarning, stacklevel=3)


def is_autocast_cpu_enabled() -> bool:
    """``is_autocast_enabled("cpu")``, PyTorch's deprecated spelling (warns as torch's)."""
    _deprecated("is_autocast_cpu_enabled()", "is_autocast_enabled('cpu')")
    return is_autocast_enabled("cpu")


def set_autocast_cpu_enabled(enabled: bool) -> None:
    """``set_autocast_enabled("cpu", enabled)``, PyTorch's deprecated spelling (warns as torch's)."""
    _deprecated("set_autocast_cpu_enabled(enabled)", "set_autocast_enabled('cpu', enabled)")
    set_autocast_enabled("cpu", enabled)


def get_autocast_cpu_dtype() -> Any:
    """``get_autocast_dtype("cpu")``, PyTorch's deprecated spelling (warns as torch's)."""
    _deprecated("get_autocast_cpu_dtype()", "get_autocast_dtype('cpu')")
    return get_autocast_dtype("cpu")


def set_autocast_cpu_dtype(dtype: Any) -> None:
    """``set_autocast_dtype("cpu", dtype)``, PyTorch's deprecated spelling (warns as torch's)."""
    _deprecated("set_autocast_cpu_dtype(dtype)", "set_autocast_dtype('cpu', dtype)")
    set_autocast_dtype("cpu", dtype)


def get_autocast_gpu_dtype() -> Any:
    """``get_autocast_dtype("cuda")``, PyTorch's deprecated spelling (warns as torch's)."""
    _deprecated("get_autocast_gpu_dtype()", "get_autocast_dtype('cuda')")
    return get_autocast_dtype("cuda")


def set_autocast_gpu_dtype(dtype: Any) -> None:
    """``set_autocast_dtype("cuda", dtype)``, PyTorch's deprecated spelling (warns as torch's)."""
    _deprecated("set_autocast_gpu_dtype(dtype)", "set_autocast_dtype('cuda', dtype)")
    set_autocast_dtype("cuda", dtype)


def is_autocast_cache_enabled() -> bool:
    """Whether autocast would cache its casts in this thread (PyTorch's flag, True until set; the innermost
    ``autocast`` block's ``cache_enabled``). minigrad casts nothing, so nothing is cached either way."""
    return getattr(_state, "cache_enabled", True)


def set_autocast_cache_enabled(enabled: bool) -> None:
    """Set this thread's autocast cache flag (``torch.set_autocast_cache_enabled``); a bool, as PyTorch's."""
    if not isinstance(enabled, bool):
        raise TypeError(f"set_autocast_cache_enabled: enabled must be a bool (got {type(enabled).__name__})")
    _state.cache_enabled = enabled


def clear_autocast_cache() -> None:
    """Empty autocast's cache of casts (``torch.clear_autocast_cache``): minigrad keeps none, so nothing to do."""


# PyTorch's device types (its device-string parser's list): autocast here knows only "cpu" and "cuda"
_TORCH_DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga",
                       "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone")


def is_autocast_available(device_type: str) -> bool:
    """Whether ``autocast(device_type)`` works here (``torch.amp.is_autocast_available``): True for "cpu" and
    "cuda" (even without a GPU, as PyTorch's; the block then disables itself), False for PyTorch's other device
    types, where minigrad's autocast raises; a string that names no device type raises RuntimeError, as torch's."""
    if not isinstance(device_type, str):
        raise TypeError(f"is_autocast_available(): argument 'device_type' must be str, not "
                        f"{type(device_type).__name__}")
    kind = device_type.split(":")[0]
    if kind not in _TORCH_DEVICE_TYPES:
        raise RuntimeError(f"is_autocast_available: expected one of {', '.join(_TORCH_DEVICE_TYPES)} device type "
                           f"at start of device string: {device_type}")
    return kind in ("cpu", "cuda")


class ScalerCheckError(AssertionError, ValueError):
    """A GradScaler misuse PyTorch reports with an AssertionError (a bad growth/backoff factor, a step or update
    before ``scale()``, no gradient to check); a ValueError too, as minigrad raised before."""


class ScaleOutputsError(ValueError, TypeError):
    """``GradScaler.scale`` of something that is not a Tensor or an iterable of them (ValueError, as PyTorch's)."""


class GradScaler:
    """PyTorch's dynamic loss scaler (``torch.amp.GradScaler``), same arguments, methods and state dict.

    Typical loop: ``scaler.scale(loss).backward()``; optionally ``scaler.unscale_(opt)`` then clip;
    ``scaler.step(opt)``; ``scaler.update()``. As PyTorch's, the scale is a float32 value made by the first
    ``scale()``; ``unscale_``, ``step`` and ``update`` before it raise (AssertionError), and ``get_scale()``
    and ``state_dict()`` report ``init_scale`` as given until then.
    """

    def __init__(self, device: str = "cuda", init_scale: float = 2.0**16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, enabled: bool = True) -> None:
        if not isinstance(device, str):
            raise TypeError(f"GradScaler: device must be a string like 'cuda' or 'cpu', got {type(device).__name__}")
        self._device = device
        self._enabled = as_bool(enabled, "GradScaler", "enabled")
        if self._enabled and device.split(":")[0] == "cuda" and not backend.cuda_is_available():
            warnings.warn("GradScaler is enabled, but CUDA is not available. Disabling.", stacklevel=2)
            self._enabled = False
        if self._enabled:
            if not growth_factor > 1.0:
                raise ScalerCheckError(f"GradScaler: The growth factor must be > 1.0, got {growth_factor}")
            if not backoff_factor < 1.0:
                raise ScalerCheckError(f"GradScaler: The backoff factor must be < 1.0, got {backoff_factor}")
        # kept as given (PyTorch's state_dict() reports them so); the scale is float32 once scale() made it
        self._init_scale = init_scale
        self._scale: float | None = None
        self._growth_factor, self._backoff_factor = growth_factor, backoff_factor
        self._growth_interval = growth_interval
        self._growth_tracker = 0
        self._per_optimizer: dict[int, dict] = {}

    def is_enabled(self) -> bool:
        return self._enabled

    def _started(self, name: str) -> float:
        """The current scale; PyTorch's AssertionError when ``scale()`` has not made it yet."""
        if self._scale is None:
            raise ScalerCheckError(f"Attempted {name} but _scale is None.  This may indicate your script did not "
                                   "use scaler.scale(loss or outputs) earlier in the iteration.")
        return self._scale

    def scale(self, outputs: Any) -> Any:
        """``outputs`` times the current scale, as PyTorch's: a Tensor, or a list/tuple (same type back, nested)
        or other iterable (a lazy ``map`` back) of them; unchanged when disabled. A float16 tensor stays float16
        (multiplied in float32, then rounded), an integer one becomes float32."""
        if not self._enabled:
            return outputs
        if hasattr(outputs, "backward"):
            if self._scale is None:
                self._scale = _float32(self._init_scale)
            return _times_scale(outputs, self._scale)
        if isinstance(outputs, (str, bytes, Mapping)) or not isinstance(outputs, Iterable):
            # PyTorch maps over a dict's keys (or a string's characters); minigrad refuses instead
            raise ScaleOutputsError(f"GradScaler.scale: outputs must be a Tensor or an iterable of Tensors, got "
                                    f"{type(outputs).__name__}" + (" (pass list(outputs.values()))"
                                                                   if isinstance(outputs, Mapping) else ""))
        scaled = map(self.scale, outputs)
        return type(outputs)(scaled) if isinstance(outputs, (list, tuple)) else scaled

    def _state(self, optimizer: Any) -> dict:
        # found_inf: None until unscale_ saw a gradient (PyTorch records no inf check then)
        return self._per_optimizer.setdefault(id(optimizer), {"stage": _READY, "found_inf": None})

    def unscale_(self, optimizer: Any) -> None:
        """Divide ``optimizer``'s gradients by the scale, in place, and note whether any is inf/NaN."""
        if not self._enabled:
            return
        scale = self._started("unscale_")
        state = self._state(optimizer)
        if state["stage"] is _UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        if state["stage"] is _STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        grads = [p.grad.data for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        if any(grad.dtype == backend.numpy.float16 for grad in grads):   # before any gradient changes
            raise ValueError("Attempting to unscale FP16 gradients.")
        # in float64 then float32, as PyTorch's: a scale of 0 gives inf (finite gradients become NaN: 0 * inf)
        inverse = _float32(1.0 / scale) if scale != 0 else math.copysign(math.inf, scale)
        found = None
        for grad in grads:   # checked while still scaled, as PyTorch's kernel (0 * inf after it is not seen)
            found = bool(found) or not bool(backend.array_module(grad).isfinite(grad).all())
            grad *= grad.dtype.type(inverse)
        state["found_inf"], state["stage"] = found, _UNSCALED

    def step(self, optimizer: Any, *args: Any, **kwargs: Any) -> Any:
        """Unscale (if not done yet), then ``optimizer.step()`` unless a gradient was inf/NaN."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        self._started("step")
        state = self._state(optimizer)
        if state["stage"] is _STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] is _READY:
            self.unscale_(optimizer)
        if state["found_inf"] is None:
            raise ScalerCheckError("No inf checks were recorded for this optimizer.")
        result = None if state["found_inf"] else optimizer.step(*args, **kwargs)
        state["stage"] = _STEPPED
        return result

    def update(self, new_scale: Any = None) -> None:
        """Set the next scale: ``new_scale`` if given (a float or a one-element tensor), else backed off after an
        inf/NaN, grown after ``growth_interval`` clean steps in a row."""
        if not self._enabled:
            return
        scale = self._started("update")
        if new_scale is not None:
            if hasattr(new_scale, "backward") and (new_scale.numel() != 1 or new_scale.requires_grad):
                raise ScalerCheckError("new_scale should be a float or a 1-element torch.cuda.FloatTensor or "
                                       "torch.FloatTensor with requires_grad=False.")
            value = new_scale.item() if hasattr(new_scale, "item") else new_scale
            self._scale = _float32(float(value))
        else:
            found = [s["found_inf"] for s in self._per_optimizer.values() if s["found_inf"] is not None]
            if not found:
                raise ScalerCheckError("No inf checks were recorded prior to update.")
            if any(found):
                self._scale, self._growth_tracker = _float32(scale * self._backoff_factor), 0
            else:
                self._growth_tracker += 1
                if self._growth_tracker == self._growth_interval:
                    grown = _float32(scale * self._growth_factor)
                    self._scale = grown if math.isfinite(grown) else scale
                    self._growth_tracker = 0
        self._per_optimizer.clear()

    def get_scale(self) -> float:
        """The current scale (``init_scale`` as given before the first ``scale()``; 1.0 when disabled)."""
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else self._scale

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        self._growth_factor = new_factor

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        self._backoff_factor = new_factor

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        self._growth_interval = new_interval

    def state_dict(self) -> dict:
        """PyTorch's keys: scale, growth_factor, backoff_factor, growth_interval, _growth_tracker ({} when disabled)."""
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state_dict: dict) -> None:
        """Take a :meth:`state_dict` (checked whole before anything changes). As PyTorch's, before the first
        ``scale()`` the loaded scale is reported as given, and made float32 by ``scale()``."""
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved from a disabled "
                               "instance of GradScaler.")
        keys = ("scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker")
        missing = [k for k in keys if k not in state_dict]
        if missing:
            raise KeyError(f"GradScaler.load_state_dict: missing keys {missing}")
        for key in keys:
            if not _finite_number(state_dict[key]):
                raise ValueError(f"GradScaler.load_state_dict: {key} must be a finite number, "
                                 f"got {state_dict[key]!r}"[:300])
        self._init_scale = state_dict["scale"]
        if self._scale is not None:
            self._scale = _float32(float(state_dict["scale"]))
        self._growth_factor, self._backoff_factor = state_dict["growth_factor"], state_dict["backoff_factor"]
        self._growth_interval, self._growth_tracker = state_dict["growth_interval"], int(state_dict["_growth_tracker"])

    def __getstate__(self) -> dict:
        """Pickle (and ``copy.deepcopy``) between iterations only, as PyTorch's: the copy starts from the current
        scale as its ``init_scale``, and needs a ``scale()`` before ``unscale_``/``step``/``update``."""
        state = self.__dict__.copy()
        if self._enabled:
            if self._per_optimizer:
                raise ScalerCheckError("A GradScaler instance may only be pickled at the beginning of an iteration, "
                                       "or at the end after scaler.update().")
            state["_init_scale"], state["_scale"] = self.get_scale(), None
        return state


def _times_scale(output: Any, scale: float) -> Any:
    """``output * scale`` in PyTorch's dtype for a tensor times its float32 0-d scale: a dimensioned floating
    tensor keeps its dtype (float16 multiplied in float32 and rounded once), a 0-d one promotes with float32, an
    integer or bool one becomes float32 (NumPy's promotion would give float64, or float32 for float16)."""
    np_ = backend.numpy
    dtype = np_.dtype(output.dtype)
    if dtype.kind not in "fc":
        target = np_.dtype(np_.float32)
    else:
        target = dtype if output.ndim > 0 else np_.promote_types(dtype, np_.float32)
    compute = np_.promote_types(target, np_.float32)
    scaled = (output if dtype == compute else output.to(compute)) * np_.float32(scale)
    return scaled if compute == target else scaled.to(target)


def custom_fwd(fwd: Callable | None = None, *, device_type: str, cast_inputs: Any = None) -> Callable:
    """Decorate a custom ``Function``'s ``forward``, as ``torch.amp.custom_fwd``: it records whether autocast was
    on for ``device_type`` (and its dtype), so that a backward decorated with :func:`custom_bwd` runs in the same
    autocast state. With ``cast_inputs`` (a float dtype), inside an enabled autocast block the floating-point
    tensors among the arguments on ``device_type`` (not float64 ones; also inside lists, tuples and dicts) are cast
    to it and ``forward`` runs with autocast off; outside one, the arguments pass as they are."""
    if not isinstance(device_type, str):
        raise ValueError(f"custom_fwd: Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(*args: Any, **kwargs: Any) -> Any:
        ctx = args[0]
        ctx._dtype = get_autocast_dtype(device_type)
        enabled = is_autocast_enabled(device_type)
        ctx._fwd_used_autocast = enabled and cast_inputs is None
        if cast_inputs is None or not enabled:
            return fwd(*args, **kwargs)
        with autocast(device_type=device_type, enabled=False):
            return fwd(*_cast(args, device_type, cast_inputs), **_cast(kwargs, device_type, cast_inputs))

    return decorate_fwd


def custom_bwd(bwd: Callable | None = None, *, device_type: str) -> Callable:
    """Decorate a custom ``Function``'s ``backward``, as ``torch.amp.custom_bwd``: it runs in the autocast state
    (enabled, dtype) that its :func:`custom_fwd` forward ran in."""
    if not isinstance(device_type, str):
        raise ValueError(f"custom_bwd: Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(*args: Any, **kwargs: Any) -> Any:
        ctx = args[0]
        with autocast(device_type=device_type, enabled=ctx._fwd_used_autocast, dtype=ctx._dtype):
            return bwd(*args, **kwargs)

    return decorate_bwd


def _cast(value: Any, device_type: str, dtype: Any) -> Any:
    """``value`` with its floating-point tensors on ``device_type`` (float64 ones excepted) cast to ``dtype``,
    through lists, tuples, dicts and other iterables (strings and NumPy arrays pass), as PyTorch's."""
    from .tensor import Tensor  # the tensor module imports this one's package: imported when used

    if isinstance(value, Tensor):
        eligible = value.dtype.kind == "f" and value.device.type == device_type and value.dtype != "float64"
        return value.to(dtype) if eligible else value
    if isinstance(value, (str, bytes)) or backend.is_array(value):
        return value
    if isinstance(value, Mapping):
        return {_cast(k, device_type, dtype): _cast(v, device_type, dtype) for k, v in value.items()}
    if isinstance(value, Iterable):
        cast = (_cast(v, device_type, dtype) for v in value)
        return type(value)(cast) if isinstance(value, (list, tuple)) else cast
    return value


def _older_amp(device: str) -> types.ModuleType:
    """``torch.{device}.amp``, PyTorch's older spelling (deprecated): ``autocast`` and ``GradScaler`` on ``device``
    with that module's arguments (no device argument), each constructor warning as torch 2.13's does. In
    ``sys.modules``, so that ``from minigrad.cuda.amp import autocast`` imports (mg.cuda is a module)."""

    def deprecated(name: str) -> None:
        warnings.warn(f"`torch.{device}.amp.{name}(args...)` is deprecated. Please use `torch.amp.{name}('{device}', "
                      "args...)` instead.", FutureWarning, stacklevel=3)

    class OlderAutocast(autocast):
        def __init__(self, enabled: bool = True, dtype: Any = None, cache_enabled: bool = True) -> None:
            deprecated("autocast")
            super().__init__(device, dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)

    class OlderGradScaler(GradScaler):
        def __init__(self, init_scale: float = 2.0**16, growth_factor: float = 2.0, backoff_factor: float = 0.5,
                     growth_interval: int = 2000, enabled: bool = True) -> None:
            deprecated("GradScaler")
            super().__init__(device, init_scale, growth_factor, backoff_factor, growth_interval, enabled)

    def older_custom_fwd(fwd: Callable | None = None, *, cast_inputs: Any = None) -> Callable:
        warnings.warn(f"`torch.{device}.amp.custom_fwd(args...)` is deprecated. Please use `torch.amp.custom_fwd("
                      f"args..., device_type='{device}')` instead.", FutureWarning, stacklevel=2)
        return custom_fwd(fwd, device_type=device, cast_inputs=cast_inputs)

    def older_custom_bwd(bwd: Callable) -> Callable:
        warnings.warn(f"`torch.{device}.amp.custom_bwd(args...)` is deprecated. Please use `torch.amp.custom_bwd("
                      f"args..., device_type='{device}')` instead.", FutureWarning, stacklevel=2)
        return custom_bwd(bwd, device_type=device)

    module = types.ModuleType(f"minigrad.{device}.amp", f"PyTorch's torch.{device}.amp: GradScaler and autocast on "
                                                        f"{device!r}.")
    for cls, name in ((OlderAutocast, "autocast"), (OlderGradScaler, "GradScaler")):
        cls.__qualname__ = cls.__name__ = name
        cls.__module__ = module.__name__
        setattr(module, name, cls)
    if device == "cuda":   # torch.cuda.amp's decorators (torch.cpu.amp has none)
        module.custom_fwd, module.custom_bwd = older_custom_fwd, older_custom_bwd
    sys.modules[module.__name__] = module
    return module


cuda_amp = _older_amp("cuda")
cpu_amp = _older_amp("cpu")


def _finite_number(value: Any) -> bool:
    """Whether ``float(value)`` is a finite float (a one-element tensor counts; text, lists and huge ints do not)."""
    if isinstance(value, str):
        return False
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError, OverflowError):
        return False


def _float32(value: float) -> float:
    """``value`` rounded to float32, as PyTorch keeps the scale in a float32 tensor."""
    return float(backend.numpy.float32(value))
