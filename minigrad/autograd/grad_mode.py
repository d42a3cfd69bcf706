"""``torch.autograd.grad_mode``: the recording switches ``no_grad``, ``enable_grad``, ``set_grad_enabled``,
``inference_mode`` (``mg.no_grad`` … themselves; ``minigrad/recording.py``, ``minigrad/ops/inference.py``)."""

from __future__ import annotations

from ..recording import enable_grad, no_grad, set_grad_enabled


def __getattr__(name: str) -> object:
    if name == "inference_mode":   # minigrad/__init__ puts it on autograd (it lives a layer above, in ops)
        from . import inference_mode  # noqa: PLC0415
        return inference_mode
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["enable_grad", "no_grad", "set_grad_enabled"]   # and inference_mode, on first use
