"""``mg.cuda``: is a GPU usable, how many, which one, wait for it, seed it, free its cache; no bfloat16;
the legacy GPU tensor types (``mg.cuda.FloatTensor``)."""

from __future__ import annotations

from typing import Any

from . import backend, generators
from .amp import cuda_amp as amp  # noqa: F401 - PyTorch's older spelling: torch.cuda.amp.GradScaler / autocast
from .backend import cuda_device_count, cuda_is_available, cuda_synchronize
from .legacy import CUDA_BY_NAME

# PyTorch's legacy GPU tensor types: mg.cuda.FloatTensor([1, 2]) is a float32 tensor on the GPU;
# x.type(mg.cuda.FloatTensor) moves and casts; isinstance(x, mg.cuda.FloatTensor) tests dtype and device
FloatTensor, DoubleTensor, HalfTensor = CUDA_BY_NAME["FloatTensor"], CUDA_BY_NAME["DoubleTensor"], \
    CUDA_BY_NAME["HalfTensor"]
LongTensor, IntTensor, ShortTensor = CUDA_BY_NAME["LongTensor"], CUDA_BY_NAME["IntTensor"], CUDA_BY_NAME["ShortTensor"]
CharTensor, ByteTensor, BoolTensor = CUDA_BY_NAME["CharTensor"], CUDA_BY_NAME["ByteTensor"], CUDA_BY_NAME["BoolTensor"]


def is_available() -> bool:
    """True when CuPy imports and at least one GPU is visible."""
    return cuda_is_available()


def device_count() -> int:
    """Number of visible GPUs (0 without CuPy)."""
    return cuda_device_count()


def synchronize(device: Any = None) -> None:
    """Wait for all queued GPU work (no-op without CuPy)."""
    cuda_synchronize()


def current_device() -> int:
    """The index of the current GPU (raises, as PyTorch's, when there is none)."""
    cp = backend.cupy_module()
    return int(cp.cuda.Device().id)


def set_device(device: Any) -> None:
    """Make GPU ``device`` (an index, ``"cuda:1"`` or an ``mg.device``) the current one."""
    index = device if isinstance(device, int) else backend.resolve_device(device).index or 0
    backend.cupy_module().cuda.Device(index).use()


def get_device_name(device: Any = None) -> str:
    """The GPU's name, e.g. ``"NVIDIA H100 80GB HBM3"``."""
    cp = backend.cupy_module()
    index = current_device() if device is None else (device if isinstance(device, int)
                                                     else backend.resolve_device(device).index or 0)
    name = cp.cuda.runtime.getDeviceProperties(index)["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """False: minigrad has no bfloat16 (NumPy and CuPy have no such dtype), so a script's
    ``'bfloat16' if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else 'float16'`` picks float16."""
    return False


def manual_seed(seed: int) -> None:
    """Seed the GPUs' generators (without CuPy: nothing to seed, as PyTorch's call is silent without CUDA)."""
    generators.seed_cuda(seed)


manual_seed_all = manual_seed   # minigrad seeds every GPU at once


def empty_cache() -> None:
    """Hand CuPy's cached, unused GPU memory back to the driver (no-op without CuPy)."""
    cp = backend.cupy_module(required=False)
    if cp is not None:
        cp.get_default_memory_pool().free_all_blocks()
        cp.get_default_pinned_memory_pool().free_all_blocks()


def memory_allocated(device: Any = None) -> int:
    """Bytes of GPU memory held by tensors (CuPy's memory pool in use); 0 without CuPy."""
    cp = backend.cupy_module(required=False)
    return 0 if cp is None else int(cp.get_default_memory_pool().used_bytes())


def memory_reserved(device: Any = None) -> int:
    """Bytes of GPU memory CuPy's pool holds, in use or cached; 0 without CuPy."""
    cp = backend.cupy_module(required=False)
    return 0 if cp is None else int(cp.get_default_memory_pool().total_bytes())
