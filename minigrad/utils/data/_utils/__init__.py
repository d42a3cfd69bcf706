"""``torch.utils.data._utils``, for programs that import its collate and worker helpers from there."""

from __future__ import annotations

from . import collate, worker

__all__ = ["collate", "worker"]
