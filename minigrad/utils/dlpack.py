"""``torch.utils.dlpack`` as PyTorch spells it: ``from_dlpack`` (another library's array as a tensor sharing its
memory) and ``to_dlpack`` (a tensor's DLPack capsule). Both live in ``minigrad.ops.torch_functions``."""

from __future__ import annotations

from ..ops.torch_functions import from_dlpack, to_dlpack

__all__ = ["from_dlpack", "to_dlpack"]
