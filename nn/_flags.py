"""On/off options of the newer ``nn.functional`` functions (``ceil_mode``, ``full``, ``training`` …), checked."""

from __future__ import annotations

from typing import Any

import numpy


def flag(value: Any, name: str, what: str) -> bool:
    """``value`` as a bool: a bool, or an int 0 or 1 (as PyTorch's C++ options accept); else a TypeError naming
    the function and the option (an array's truth is ambiguous, a string's is not what was meant)."""
    if isinstance(value, (bool, numpy.bool_)) or (isinstance(value, (int, numpy.integer)) and value in (0, 1)):
        return bool(value)
    raise TypeError(f"{name}: {what} must be a bool, got {value!r}")
