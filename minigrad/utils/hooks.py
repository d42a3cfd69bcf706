"""``torch.utils.hooks``: :class:`RemovableHandle`, the handle every ``register_*_hook`` returns."""

from __future__ import annotations

from ..hooks import RemovableHandle

__all__ = ["RemovableHandle"]
