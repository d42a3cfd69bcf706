"""``torch.autograd.grad_mode``: the recording switches ``no_grad``, ``enable_grad``, ``set_grad_enabled``,
``inference_mode`` (``mg.no_grad`` … themselves; ``minigrad/recording.py``, ``minigrad/ops/inference.py``), and
``set_multithreading_enabled``."""

from __future__ import annotations

import contextlib
import threading

from ..arguments import as_bool
from ..recording import enable_grad, no_grad, set_grad_enabled

_MULTITHREADING = threading.local()   # .enabled: this thread's set_multithreading_enabled flag (True if unset)


def is_multithreading_enabled() -> bool:
    """What :class:`set_multithreading_enabled` last set in this thread (True at first, as PyTorch's)."""
    return getattr(_MULTITHREADING, "enabled", True)


class set_multithreading_enabled(contextlib.ContextDecorator):  # noqa: N801 - PyTorch's name
    """PyTorch's switch for running backward on per-device worker threads: a call (it takes effect at once),
    ``with mg.autograd.set_multithreading_enabled(False):`` (the block only) or a decorator.

    minigrad's engine runs every backward on the calling thread whatever the flag says, so this only records
    it, per thread as PyTorch's, for :func:`is_multithreading_enabled`."""

    def __init__(self, mode: bool) -> None:
        self.mode = as_bool(mode, "set_multithreading_enabled", "mode")
        self.prev = is_multithreading_enabled()
        _MULTITHREADING.enabled = self.mode

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        _MULTITHREADING.enabled = self.prev

    def _recreate_cm(self) -> set_multithreading_enabled:   # a decorated call: the flag set anew, as torch's clone()
        return type(self)(self.mode)


def __getattr__(name: str) -> object:
    if name == "inference_mode":   # minigrad/__init__ puts it on autograd (it lives a layer above, in ops)
        from . import inference_mode  # noqa: PLC0415
        return inference_mode
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["enable_grad", "is_multithreading_enabled", "no_grad", "set_grad_enabled",
           "set_multithreading_enabled"]   # and inference_mode, on first use
