"""``torch.utils.data._utils.worker``: ``get_worker_info`` and ``WorkerInfo`` (``minigrad/utils/data/worker.py``)."""

from __future__ import annotations

from ..worker import WorkerInfo, get_worker_info

__all__ = ["WorkerInfo", "get_worker_info"]
