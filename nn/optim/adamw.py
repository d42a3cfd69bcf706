"""``torch.optim.adamw``: :class:`AdamW` (defined with Adam, ``nn/optim/adam.py``)."""

from __future__ import annotations

from .adam import AdamW

__all__ = ["AdamW"]
