"""The process-wide settings PyTorch scripts set at the top: ``mg.set_num_threads``, ``mg.get_num_threads``,
``mg.use_deterministic_algorithms`` and the ``mg.backends`` flags (``cudnn.deterministic``,
``cudnn.benchmark``, ``mps.is_available()`` …), so that such a preamble runs unchanged.

What each one does here: the thread count limits BLAS (NumPy's matrix products) through
``threadpoolctl`` when it is installed (the ``examples``/``dev`` extras); minigrad's CPU ops are
deterministic already, and it has no cuDNN or MPS backend, so those flags are stored and read back.
"""

from __future__ import annotations

import contextlib
import os
import types
import warnings
from typing import Any, Iterator

from .arguments import as_bool

__all__ = ["are_deterministic_algorithms_enabled", "backends", "get_deterministic_debug_mode",
           "get_float32_matmul_precision", "is_deterministic_algorithms_warn_only_enabled",
           "set_deterministic_debug_mode",
           "get_num_interop_threads", "get_num_threads", "is_warn_always_enabled", "set_float32_matmul_precision",
           "set_flush_denormal", "set_num_interop_threads", "set_num_threads", "set_warn_always",
           "use_deterministic_algorithms"]

_threads: list = [None]          # the threadpoolctl limiter in force, or None
_deterministic = [False, False]  # use_deterministic_algorithms(mode, warn_only)
_matmul_precision = ["highest"]  # set_float32_matmul_precision's last valid value
_interop_threads = [os.cpu_count() or 1]   # set_num_interop_threads's last value (PyTorch's default: the cores)
_warn_always = [False]           # set_warn_always's last value


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in BLAS from now on (PyTorch's intra-op threads; here, NumPy's BLAS pool)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {n!r}")
    try:
        from threadpoolctl import ThreadpoolController  # noqa: PLC0415 - optional, loaded on use
    except ImportError:
        warnings.warn("set_num_threads: threadpoolctl is not installed (pip install threadpoolctl), so the BLAS "
                      "thread count was left as it is", stacklevel=2)
        return
    if _threads[0] is not None:
        _threads[0].restore_original_limits()
    _threads[0] = ThreadpoolController().limit(limits=n, user_api="blas")


def get_num_threads() -> int:
    """The BLAS thread count (the CPU count when threadpoolctl cannot tell)."""
    try:
        from threadpoolctl import threadpool_info  # noqa: PLC0415 - optional, loaded on use
    except ImportError:
        return os.cpu_count() or 1
    pools = [p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"]
    return max(pools) if pools else (os.cpu_count() or 1)


def set_num_interop_threads(n: int) -> None:
    """Stored for :func:`get_num_interop_threads`: minigrad runs no pool of threads between ops (each op is one
    NumPy call, parallel only inside BLAS: :func:`set_num_threads`)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_interop_threads: expected a positive int, got {n!r}")
    _interop_threads[0] = n


def get_num_interop_threads() -> int:
    """What :func:`set_num_interop_threads` was last given (the CPU count at first, as PyTorch's default)."""
    return _interop_threads[0]


def set_warn_always(b: bool) -> None:
    """Stored for :func:`is_warn_always_enabled`, as PyTorch's flag for its warn-once messages."""
    _warn_always[0] = as_bool(b, "set_warn_always", "b")


def is_warn_always_enabled() -> bool:
    """What :func:`set_warn_always` was last given (False at first)."""
    return _warn_always[0]


def set_flush_denormal(mode: bool) -> bool:
    """PyTorch's request to flush subnormal floats to zero: NumPy and CuPy cannot, so nothing changes and the
    result is False, PyTorch's answer on a CPU that does not support it."""
    as_bool(mode, "set_flush_denormal", "mode")
    return False


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Accepted: every minigrad op on the CPU is deterministic (a GPU scatter-add may add in any order)."""
    _deterministic[:] = [as_bool(mode, "use_deterministic_algorithms", "mode"),
                         as_bool(warn_only, "use_deterministic_algorithms", "warn_only")]


def are_deterministic_algorithms_enabled() -> bool:
    """What :func:`use_deterministic_algorithms` was last given."""
    return _deterministic[0]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    """The ``warn_only`` :func:`use_deterministic_algorithms` was last given."""
    return _deterministic[1]


_DEBUG_MODES = {"default": 0, "warn": 1, "error": 2}


def set_deterministic_debug_mode(debug_mode: int | str) -> None:
    """PyTorch's other spelling of :func:`use_deterministic_algorithms`: ``"default"``/0 turns it off,
    ``"warn"``/1 on with ``warn_only=True``, ``"error"``/2 on."""
    if isinstance(debug_mode, bool) or not isinstance(debug_mode, (int, str)):
        raise TypeError(f"set_deterministic_debug_mode: debug_mode must be str or int, but got {type(debug_mode)}")
    if isinstance(debug_mode, str):
        if debug_mode not in _DEBUG_MODES:
            raise RuntimeError(f"set_deterministic_debug_mode: invalid value of debug_mode, expected one of "
                               f"`default`, `warn`, `error`, but got {debug_mode}")
        debug_mode = _DEBUG_MODES[debug_mode]
    if debug_mode not in (0, 1, 2):
        raise RuntimeError(f"set_deterministic_debug_mode: invalid value of debug_mode, expected 0, 1, or 2, but got "
                           f"{debug_mode}")
    _deterministic[:] = [debug_mode > 0, debug_mode == 1]


def get_deterministic_debug_mode() -> int:
    """0, 1 or 2, as :func:`set_deterministic_debug_mode` takes it: what :func:`use_deterministic_algorithms` set."""
    return 0 if not _deterministic[0] else 1 if _deterministic[1] else 2


def set_float32_matmul_precision(precision: str) -> None:
    """Stored for :func:`get_float32_matmul_precision`: ``"highest"``, ``"high"`` or ``"medium"``. minigrad's
    float32 products always run in full float32 (``"highest"``; NumPy and CuPy have no TF32 or bfloat16 mode).
    Another string warns and changes nothing, as in PyTorch."""
    if not isinstance(precision, str):
        raise TypeError(f"set_float32_matmul_precision(): argument 'precision' must be str, not "
                        f"{type(precision).__name__}")
    if precision not in ("highest", "high", "medium"):
        warnings.warn(f"set_float32_matmul_precision: {precision!r} is not one of 'highest', 'high' or 'medium'; "
                      "the call has no effect", stacklevel=2)
        return
    _matmul_precision[0] = precision


def get_float32_matmul_precision() -> str:
    """What :func:`set_float32_matmul_precision` was last given (``"highest"`` at first)."""
    return _matmul_precision[0]


def _flags(name: str, **values: Any) -> types.SimpleNamespace:
    namespace = types.SimpleNamespace(**values)
    namespace.__doc__ = f"PyTorch's torch.backends.{name} flags: stored, no effect in minigrad."
    return namespace


@contextlib.contextmanager
def _cudnn_flags(enabled: bool = False, benchmark: bool = False, benchmark_limit: int = 10,
                 deterministic: bool = False, allow_tf32: bool = True, fp32_precision: str = "none",
                 depthwise_kernel: str = "auto") -> Iterator[None]:
    """``with mg.backends.cudnn.flags(enabled=..., deterministic=...):``: PyTorch's cuDNN flags set for the block
    (each to its argument, the defaults included: ``enabled=False`` unless given, as PyTorch's), then restored.
    Stored only: minigrad has no cuDNN, so ``benchmark_limit``, ``fp32_precision`` and ``depthwise_kernel`` are
    accepted and not kept (PyTorch keeps them only where cuDNN is available)."""
    cudnn = backends.cudnn
    names = ("enabled", "benchmark", "deterministic", "allow_tf32")
    before = [getattr(cudnn, name) for name in names]
    for name, value in zip(names, (enabled, benchmark, deterministic, allow_tf32)):
        setattr(cudnn, name, value)
    try:
        yield
    finally:
        for name, value in zip(names, before):
            setattr(cudnn, name, value)


_SDP_KERNELS = ("flash", "mem_efficient", "math", "cudnn")
_sdp_enabled = dict.fromkeys(_SDP_KERNELS, True)   # torch.backends.cuda's attention-kernel switches


def _sdp_switches() -> dict:
    """``torch.backends.cuda.enable_flash_sdp(bool)`` / ``flash_sdp_enabled()`` … for the four kernels PyTorch's
    ``F.scaled_dot_product_attention`` picks among: stored and read back; minigrad's attention has one (math)
    path, whose values PyTorch's kernels approximate, so they change no result."""
    switches: dict = {}
    for kernel in _SDP_KERNELS:
        def enable(enabled: bool, kernel: str = kernel) -> None:
            if not isinstance(enabled, bool):   # PyTorch's RuntimeError for 0/1
                raise RuntimeError(f"enable_{kernel}_sdp expects a bool, but got {type(enabled).__name__}")
            _sdp_enabled[kernel] = enabled

        switches[f"enable_{kernel}_sdp"] = enable
        switches[f"{kernel}_sdp_enabled"] = lambda kernel=kernel: _sdp_enabled[kernel]
    return switches


@contextlib.contextmanager
def _sdp_kernel(enable_flash: bool = True, enable_math: bool = True, enable_mem_efficient: bool = True,
                enable_cudnn: bool = True) -> Iterator[None]:
    """``with torch.backends.cuda.sdp_kernel(enable_flash=False):`` (deprecated, with PyTorch's FutureWarning):
    the four switches set for the block, then restored."""
    warnings.warn("`torch.backends.cuda.sdp_kernel()` is deprecated. In the future, this context manager will be "
                  "removed. Please see `torch.nn.attention.sdpa_kernel()` for the new context manager, with updated "
                  "signature.", FutureWarning, stacklevel=3)
    before = dict(_sdp_enabled)
    _sdp_enabled.update(flash=bool(enable_flash), math=bool(enable_math), mem_efficient=bool(enable_mem_efficient),
                        cudnn=bool(enable_cudnn))
    try:
        yield
    finally:
        _sdp_enabled.update(before)


backends = types.SimpleNamespace(
    cudnn=_flags("cudnn", deterministic=False, benchmark=False, enabled=True, allow_tf32=True,
                 is_available=lambda: False, version=lambda: None, flags=_cudnn_flags),
    mps=_flags("mps", is_available=lambda: False, is_built=lambda: False),
    cuda=_flags("cuda", matmul=types.SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True,
                                                     allow_bf16_reduced_precision_reduction=True),
                is_built=lambda: False, sdp_kernel=_sdp_kernel, **_sdp_switches()),
    mkldnn=_flags("mkldnn", enabled=False, is_available=lambda: False),
)
