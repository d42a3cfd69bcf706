"""``torch.distributed``'s availability guards, for programs that ask before they reduce across processes.

minigrad runs in one process and has no process groups (no ``init_process_group``, ``all_reduce``,
``get_rank`` …). ``is_available()`` is False, as in a PyTorch built without distributed support, so the
usual guard takes its single-process branch::

    def is_dist_avail_and_initialized():          # DETR's util/misc.py, torchvision's references
        if not dist.is_available():
            return False
        if not dist.is_initialized():
            return False
        return True

``is_initialized()`` is False too. Any other name raises an ``AttributeError`` that says why.
"""

from __future__ import annotations

__all__ = ["is_available", "is_initialized"]

NO_PROCESS_GROUPS = ("minigrad has no torch.distributed process groups (one process; is_available() is False): "
                     "guard the call with dist.is_available() and dist.is_initialized(), as single-process "
                     "PyTorch programs do")


def is_available() -> bool:
    """False: no distributed backend (as a PyTorch built without one)."""
    return False


def is_initialized() -> bool:
    """False: no default process group exists."""
    return False


def __getattr__(name: str) -> None:
    raise AttributeError(f"module 'minigrad.distributed' has no attribute {name!r}: {NO_PROCESS_GROUPS}")
