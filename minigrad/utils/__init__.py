"""Utilities beside the engine, as ``torch.utils``: ``minigrad.utils.data`` (datasets and a DataLoader),
``minigrad.utils.checkpoint`` (activation checkpointing: ``checkpoint``, ``checkpoint_sequential``) and
``minigrad.utils.dlpack`` (``from_dlpack``, ``to_dlpack``)."""

from __future__ import annotations

from . import checkpoint, data, dlpack

__all__ = ["checkpoint", "data", "dlpack"]
