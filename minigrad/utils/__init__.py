"""Utilities beside the engine, as ``torch.utils``: ``minigrad.utils.data`` (datasets and a DataLoader) and
``minigrad.utils.checkpoint`` (activation checkpointing: ``checkpoint``, ``checkpoint_sequential``)."""

from __future__ import annotations

from . import checkpoint, data

__all__ = ["checkpoint", "data"]
