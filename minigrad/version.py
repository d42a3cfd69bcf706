"""``mg.version``, PyTorch's ``torch.version``: what an environment report prints (``mg.version.__version__``,
``mg.version.cuda``: the CUDA runtime CuPy uses, ``"12.4"``, or None without CuPy, as PyTorch's CPU build says;
``hip``: None). Not :mod:`minigrad.versions`, the version counters of in-place ops."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
hip = None      # no ROCm build
debug = False   # not a debug build


def __getattr__(name: str) -> Any:
    if name == "cuda":   # read when asked: importing CuPy takes a while
        from .backend import cupy_module

        cp = cupy_module(required=False)
        if cp is None:
            return None
        runtime = int(cp.cuda.runtime.runtimeGetVersion())   # 12040 for CUDA 12.4
        return f"{runtime // 1000}.{runtime % 1000 // 10}"
    raise AttributeError(f"module 'minigrad.version' has no attribute {name!r}")
