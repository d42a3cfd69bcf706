"""PyTorch's float16 ``adaptive_avg_pool3d`` on the CPU, shared by ``F.adaptive_avg_pool3d`` and
``F.interpolate(mode="area")`` of a 5-D input: PyTorch's kernel sums each window in float16 steps, where a
float32 sum rounded once would differ in the last bits of a third of the results."""

from __future__ import annotations

import itertools
from typing import Any

import numpy

import minigrad as mg
from minigrad import Tensor

from ._padding import ConstantPad
from ._pool_more import _adaptive_windows, adaptive_avg_pool3d

__all__ = ["adaptive_avg_pool3d_float16"]


def adaptive_avg_pool3d_float16(input: Tensor, output_size: Any) -> Tensor:  # noqa: A002 - PyTorch's name
    """Float16 (*, D, H, W) → (*, D_out, H_out, W_out) as PyTorch's CPU kernel: each window summed in float16
    steps (row-major over depth, height, width), then divided by its depth, height and width in turn, each
    step rounded; to (1, 1, 1) it is PyTorch's mean: in float32, rounded once."""
    x, windows = _adaptive_windows(input, output_size, 3, "adaptive_avg_pool3d")
    if all(len(starts) == 1 for starts, _ in windows):
        return adaptive_avg_pool3d(x.float(), output_size).half()
    padded = ConstantPad(((0, 0),) * (x.ndim - 3) + ((0, 1),) * 3, 0.0)(x)   # zeros for steps past a narrower window
    widths = [ends - starts for starts, ends in windows]
    total = None
    for steps in itertools.product(*(range(int(width.max(initial=1))) for width in widths)):
        at = [mg.as_tensor(mg.make_array(numpy.where(step < width, starts + step, length), numpy.int64, x.device))
              for step, width, (starts, _), length in zip(steps, widths, windows, x.shape[-3:])]
        term = padded[..., at[0][:, None, None], at[1][:, None], at[2]]               # (*, D_out, H_out, W_out)
        total = term if total is None else total + term
    depth, height, width = (mg.as_tensor(mg.make_array(w, numpy.float16, x.device)) for w in widths)
    return total / depth[:, None, None] / height[:, None] / width
