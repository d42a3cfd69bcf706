"""Utilities beside the engine, as ``torch.utils``: ``minigrad.utils.data`` (datasets and a DataLoader)."""

from __future__ import annotations

from . import data

__all__ = ["data"]
