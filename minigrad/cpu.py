"""``mg.cpu``: PyTorch's ``torch.cpu`` namespace, for code written against any device module
(``getattr(torch, device_type).synchronize()``): the CPU is always there, one device, nothing to wait for;
``mg.cpu.amp`` is PyTorch's deprecated ``torch.cpu.amp`` (``autocast``, ``GradScaler``; they warn, as torch's)."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

from .amp import cpu_amp as amp  # noqa: F401 - PyTorch's deprecated spelling: torch.cpu.amp.autocast / GradScaler


def is_available() -> bool:
    """True: the CPU is always available."""
    return True


def is_initialized() -> bool:
    """True: the CPU needs no initialisation."""
    return True


def device_count() -> int:
    """1: minigrad (like PyTorch) counts the CPU as one device."""
    return 1


def current_device() -> str:
    """``"cpu"``, as ``torch.cpu.current_device()``."""
    return "cpu"


def set_device(device: Any) -> None:
    """Accepted and ignored, as PyTorch's (there is one CPU device)."""
    return None


def synchronize(device: Any = None) -> None:
    """Nothing to wait for: CPU ops finish before they return."""
    return None


class Stream:
    """``torch.cpu.Stream``: the CPU runs its ops in order as they come, so there is one stream and nothing on it
    to wait for (its methods do nothing, as PyTorch's)."""

    def __init__(self, priority: int = -1) -> None:
        self.priority = priority

    def record_event(self, event: Any = None) -> None:
        return None

    def wait_event(self, event: Any) -> None:
        return None

    def wait_stream(self, stream: Any) -> None:
        return None


_STREAM = Stream()


def current_stream(device: Any = None) -> Stream:
    """The CPU's one stream, as ``torch.cpu.current_stream``."""
    return _STREAM


@contextlib.contextmanager
def stream(stream: Stream) -> Iterator[None]:
    """A block that changes nothing (the CPU has one stream), as ``torch.cpu.stream``."""
    yield None
