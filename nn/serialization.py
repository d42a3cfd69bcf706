"""``nn.save`` / ``nn.load``: the engine's ``mg.save`` / ``mg.load`` (see ``minigrad.serialization``).

They live in the engine so that ``mg.save``/``mg.load`` (PyTorch's spellings)
work without ``minigrad`` importing ``nn``; ``nn.save is mg.save``.
"""

from __future__ import annotations

import minigrad as mg

CheckpointError = mg.CheckpointError
load = mg.load
save = mg.save

__all__ = ["CheckpointError", "load", "save"]
