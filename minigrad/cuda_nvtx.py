"""``mg.cuda.nvtx``: NVTX ranges and marks that NVIDIA's profilers (Nsight Systems) show on the timeline, as
``torch.cuda.nvtx`` (CuPy's ``cupy.cuda.nvtx`` underneath)::

    with mg.cuda.nvtx.range("forward"):
        loss = model(x)

Without a GPU (or with a CuPy built without NVTX) each call raises RuntimeError, as PyTorch's CPU build.
``range_start``/``range_end`` (ranges across threads) are not here: CuPy has no NVTX start/end pair."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

from .cuda_devices import cupy_or_error


def _nvtx(what: str) -> Any:
    nvtx = getattr(cupy_or_error(f"nvtx.{what}").cuda, "nvtx", None)
    if nvtx is None or not getattr(nvtx, "available", True):
        raise RuntimeError(f"mg.cuda.nvtx.{what}: NVTX functions not installed (CuPy has no NVTX support here)")
    return nvtx


def range_push(msg: str) -> int:
    """Open a nested range named ``msg``; returns its depth (0 for the outermost), as PyTorch's."""
    return _nvtx("range_push").RangePush(msg) or 0


def range_pop() -> int:
    """Close the innermost open range."""
    return _nvtx("range_pop").RangePop() or 0


def mark(msg: str) -> None:
    """An instant event named ``msg``."""
    _nvtx("mark").Mark(msg)


@contextlib.contextmanager
def range(msg: str, *args: Any, **kwargs: Any) -> Iterator[None]:  # noqa: A001 - PyTorch's name
    """A range around the block (or a decorated function): ``msg.format(*args, **kwargs)`` is its name."""
    range_push(msg.format(*args, **kwargs))
    try:
        yield
    finally:
        range_pop()
