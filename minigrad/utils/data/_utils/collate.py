"""``torch.utils.data._utils.collate``: ``default_collate`` and ``default_convert``
(``minigrad/utils/data/collate.py``)."""

from __future__ import annotations

from ..collate import default_collate, default_convert

__all__ = ["default_collate", "default_convert"]
