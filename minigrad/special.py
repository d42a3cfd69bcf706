"""(placeholder, filled in by this session's work)"""

from __future__ import annotations

__all__: list[str] = []
