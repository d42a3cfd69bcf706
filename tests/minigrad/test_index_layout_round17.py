"""Advanced-index results take PyTorch's layout with size-1 dims too (round 17): PyTorch keeps the real strides
of size-1 dims (a ``None`` dim's, an index reshaped around the other dims, x's own), and they decide the order
of the other dims, so ``.view(-1)`` of the result raised in one library and not the other."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _x(L: Any, shape: tuple, perm: tuple | None = None, step: int = 1) -> Any:
    """arange of ``shape`` (every ``step``-th element of the last dim), then permuted by ``perm``."""
    x = L.arange(float(np.prod(shape) * step)).reshape(*shape[:-1], shape[-1] * step)[..., ::step]
    return x.permute(*perm) if perm is not None else x


def _t(L: Any, data: Any) -> Any:
    return L.tensor(data)


CASES = [
    # x[0] of a permute: C-contiguous by NumPy's flag, but its size-1 dim's stride 6 orders the result
    lambda L: _x(L, (1, 1, 2, 3), (1, 2, 3, 0))[0, :, _t(L, [[-2, -2]])],
    lambda L: _x(L, (1, 1, 3, 3), (3, 0, 1, 2))[:, _t(L, [[-1, -1], [-1, 0]]), :, 1],
    lambda L: _x(L, (1, 3, 3, 2), (2, 1, 3, 0))[0, :, _t(L, [[-1], [1]])],
    lambda L: _x(L, (3, 1, 3, 3), (3, 0, 1, 2))[:, _t(L, [[-3, 1], [-2, 0]]), None, -1],
    # None dims step as PyTorch's unsqueeze (size * stride of the next dim), not 0
    lambda L: _x(L, (3, 2, 2, 2), (1, 3, 0, 2), 2)[:, None, None, _t(L, [[-2, 0], [1, 1]]), None, ...],
    lambda L: _x(L, (3, 1, 2), (2, 0, 1), 2)[:, _t(L, [[0, -2], [1, -2]])],
    lambda L: _x(L, (3, 2, 2))[None, _t(L, [[-3], [-3]]), _t(L, [True, True]), ...],
    lambda L: _x(L, (3, 2, 3, 3), (1, 2, 0, 3))[None, _t(L, [True, False])],
    # an index's size-1 dims take its reshaped strides; a size-1 dim ties with the dim after it
    lambda L: _x(L, (3, 3, 1, 1), (3, 0, 2, 1), 2)[:, :, _t(L, [[0, 0], [0, -1]]), :],
    lambda L: _x(L, (2, 1, 2, 1), (0, 1, 3, 2))[_t(L, [[-2], [-2]]), _t(L, [0, 0])],
    lambda L: _x(L, (2, 3, 1, 3), (0, 3, 2, 1))[:, _t(L, [[-1, 0]])],
    # a C-order x: C order's strides, size-1 dims too
    lambda L: _x(L, (3,))[None, _t(L, [1, 2])],
    lambda L: _x(L, (2, 3, 3, 3))[_t(L, [1]), None],
    lambda L: _x(L, (4, 1, 3))[:, :, _t(L, [2, 0])],
    lambda L: _x(L, (2, 2))[_t(L, [True, True]), None, None],
]


@pytest.mark.parametrize("index", CASES)
def test_advanced_index_strides_as_torch(index: Callable) -> None:
    """stride() (size-1 dims included), contiguity, values and whether ``.view(-1)`` raises, as PyTorch's."""
    seen = {}
    for L in (torch, mg):
        y = index(L)
        try:
            flat = np.array(y.view(-1).numpy(), copy=True)
        except RuntimeError:
            flat = None
        seen[L] = (tuple(y.shape), y.stride(), y.is_contiguous(), flat is None, np.array(y.numpy(), copy=True))
    assert seen[mg][:4] == seen[torch][:4]
    np.testing.assert_array_equal(seen[mg][4], seen[torch][4])


@pytest.mark.parametrize("make, new_shape", [
    (lambda: torch.zeros(2, 3), (6,)), (lambda: torch.zeros(2, 3).T, (6,)), (lambda: torch.zeros(2, 3).T, (1, 3, 2)),
    (lambda: torch.zeros(2, 1, 3).permute(2, 1, 0), (1, 3, 1, 2, 1)), (lambda: torch.zeros(4, 6)[:, ::2], (2, 2, 3)),
    (lambda: torch.zeros(4, 6)[:, ::2], (12,)), (lambda: torch.zeros(3, 2)[:, :1], (1, 3, 1)),
    (lambda: torch.zeros(()), (1, 1)), (lambda: torch.zeros(3, 2)[:, 1:], (3,)),
])
def test_view_strides_as_torch(make: Callable, new_shape: tuple) -> None:
    """``_view_strides`` (PyTorch's computeStride, which reshapes each index around the other dims) gives
    torch's ``view`` strides, or None where torch's view raises."""
    from minigrad.ops.shape import _view_strides

    x = make()
    try:
        want = x.view(new_shape).stride()
    except RuntimeError:
        want = None
    assert _view_strides(tuple(x.shape), x.stride(), new_shape) == want
