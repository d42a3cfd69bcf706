"""``torch.utils.dlpack`` as PyTorch spells it: ``from_dlpack`` (another library's array as a tensor sharing its
memory), ``to_dlpack`` (a tensor's DLPack capsule) and ``DLDeviceType`` (what ``__dlpack_device__`` names). They
live in ``minigrad.ops.torch_functions``."""

from __future__ import annotations

from ..ops.torch_functions import DLDeviceType, from_dlpack, to_dlpack

__all__ = ["DLDeviceType", "from_dlpack", "to_dlpack"]
