"""``mg.inference_mode`` (``extras.py``'s: recording off, as ``no_grad``) that also says it is on, for
``mg.is_inference_mode_enabled()``, per thread as PyTorch's. minigrad has no separate inference tensors
(PyTorch's ``Tensor.is_inference()``), so nothing else changes inside the block."""

from __future__ import annotations

from threading import get_ident
from typing import Any

from ..recording import _inference_mode as _enabled
from ..tensor import Tensor
from . import extras


class inference_mode(extras.inference_mode):  # noqa: N801 - PyTorch's name
    """``with mg.inference_mode():`` (or as a decorator) records nothing, as ``no_grad``, and
    ``mg.is_inference_mode_enabled()`` is True inside; ``inference_mode(False)`` turns it off again and grad
    mode on, as PyTorch's."""

    def __enter__(self) -> Any:
        # this thread's values to restore: one object may be entered by several threads at once, as the switches
        self.__dict__.setdefault("_previous_modes", {}).setdefault(get_ident(), []).append(_enabled.get())
        _enabled.set(self.mode)
        return super().__enter__()

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        stacks = self._previous_modes
        thread = get_ident() if get_ident() in stacks else next(iter(stacks))   # a generator resumed elsewhere
        _enabled.set(stacks[thread].pop())
        if not stacks[thread]:
            del stacks[thread]


def is_inference_mode_enabled() -> bool:
    """Whether this thread is inside ``mg.inference_mode()`` (torch.is_inference_mode_enabled)."""
    return _enabled.get()


def is_inference(input: Any) -> bool:  # noqa: A002 - PyTorch's argument name
    """``x.is_inference()`` / ``mg.is_inference(x)``: always False. minigrad makes no inference tensors: a
    tensor made inside ``mg.inference_mode()`` is an ordinary tensor that autograd may record later (where
    PyTorch refuses one), so code that clones an inference tensor before training needs no clone here."""
    if not isinstance(input, Tensor):
        raise TypeError(f"is_inference(): argument 'input' must be Tensor, not {type(input).__name__}")
    return False
