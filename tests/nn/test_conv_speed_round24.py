"""Round 24: a convolution's backward by kernel offset (nn._conv.Convolution._offset_backward) and its 1×1 path.

Round 23 kept x and the weight, as PyTorch, and unfolded x again in backward: the (C/G·∏K, N·P) windows, ∏K
times x, were built for the weight's gradient and the gradient's windows for x's. With enough input channels per
group, backward now goes offset by offset over x laid out channels first: one matmul per offset for each
gradient and one reused (C, N, *O) buffer, no windows. A 1×1 kernel at stride 1 without padding reads x itself.
"""

from __future__ import annotations

import math
import tracemalloc
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn._conv as conv
import nn.functional as F  # noqa: N812
from tests.helpers import same_on_gpu_as_on_cpu

# (function, input shape, weight shape, keyword arguments): each takes the offset path (C/G·2 ≥ O/G, N·P ≥ 256)
BY_OFFSET = [
    ("conv2d", (8, 8, 13, 11), (6, 8, 3, 3), {"stride": 2, "padding": 1}),
    ("conv2d", (3, 6, 12, 12), (4, 6, 3, 2), {"dilation": (2, 1), "padding": (2, 0)}),
    ("conv2d", (2, 8, 12, 12), (8, 2, 3, 3), {"padding": "same", "groups": 4}),
    ("conv2d", (2, 4, 12, 12), (4, 4, 2, 2), {"padding": "same"}),            # odd total: the padded copy
    ("conv2d", (2, 6, 16, 16), (6, 6, 1, 1), {"stride": 2}),                   # 1×1 strided: the windows' path
    ("conv1d", (4, 6, 70), (5, 6, 5), {"padding": 2, "stride": 1}),
    ("conv1d", (2, 4, 300), (8, 2, 3), {"groups": 2, "dilation": 3}),
    ("conv3d", (2, 4, 6, 7, 8), (8, 4, 3, 3, 3), {"padding": 1}),
    ("conv3d", (1, 6, 8, 8, 8), (6, 3, 2, 3, 1), {"stride": (2, 1, 1), "groups": 2, "padding": (0, 1, 0)}),
]


def _ids(cases: list) -> list[str]:
    return [f"{fn}-{x}-{w}-{sorted(kw.items())}" for fn, x, w, kw in cases]


def _arrays(x_shape: tuple, w_shape: tuple, seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    return rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])


def _node(y: mg.Tensor) -> Any:
    """The Convolution op under a convolution's result (through the bias's add and the reshape)."""
    stack = [y._node]
    while stack:
        node = stack.pop()
        if isinstance(node, conv.Convolution):
            return node
        stack += [edge[0] for edge in node.edges if type(edge) is tuple]
    raise AssertionError("no Convolution node")


@pytest.mark.parametrize(("fn", "x_shape", "w_shape", "kwargs"), BY_OFFSET, ids=_ids(BY_OFFSET))
@pytest.mark.parametrize("needs", ["both", "x", "weight"])
def test_offset_backward_as_torch_in_float64(torch: Any, fn: str, x_shape: tuple, w_shape: tuple, kwargs: dict,
                                             needs: str) -> None:
    """Values and gradients to 1e-10 of PyTorch's, the gradients C-contiguous as PyTorch's, with either input
    frozen too."""
    x, w, b = _arrays(x_shape, w_shape)
    flags = (needs != "weight", needs != "x")
    ours = [mg.tensor(x, requires_grad=flags[0]), mg.tensor(w, requires_grad=flags[1]), mg.tensor(b)]
    theirs = [torch.tensor(x, requires_grad=flags[0]), torch.tensor(w, requires_grad=flags[1]), torch.tensor(b)]
    y = getattr(F, fn)(*ours, **kwargs)
    assert _node(y)._by_offset() != (math.prod(w_shape[2:]) == 1)
    expected = getattr(torch.nn.functional, fn)(*theirs, **kwargs)
    g = np.random.default_rng(1).standard_normal(tuple(expected.shape))
    y.backward(mg.tensor(g))
    expected.backward(torch.tensor(g))
    np.testing.assert_allclose(y.numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    for mine, reference in zip(ours[:2], theirs[:2]):
        if reference.requires_grad:
            np.testing.assert_allclose(mine.grad.numpy(), reference.grad.numpy(), rtol=1e-10, atol=1e-12)
            assert mine.grad.data.flags.c_contiguous
        else:
            assert mine.grad is None


@pytest.mark.parametrize(("fn", "x_shape", "w_shape", "kwargs"), [
    ("conv2d", (1, 4, 5, 6), (4, 2, 3, 2), {"stride": (2, 1), "padding": 1, "dilation": (1, 2), "groups": 2}),
    ("conv1d", (2, 3, 7), (2, 3, 3), {"padding": "same"}),
    ("conv3d", (1, 2, 3, 4, 3), (2, 2, 2, 2, 2), {"padding": 1, "stride": 2}),
])
def test_offset_backward_gradcheck(monkeypatch: Any, fn: str, x_shape: tuple, w_shape: tuple, kwargs: dict) -> None:
    """Finite differences of small convolutions sent through the offset path (its size floor lowered to 0)."""
    monkeypatch.setattr(conv, "BY_OFFSET_POSITIONS", 0)
    x, w, _ = _arrays(x_shape, w_shape, seed=2)
    a, c = mg.tensor(x, requires_grad=True), mg.tensor(w, requires_grad=True)
    assert _node(getattr(F, fn)(a, c, **kwargs))._by_offset()
    assert mg.gradcheck(lambda a, c: getattr(F, fn)(a, c, **kwargs), (a, c))


def _backward_peak(x: mg.Tensor, w: mg.Tensor, **kwargs: Any) -> int:
    """The bytes backward allocates at its peak, beyond what was held before it (tracemalloc sees NumPy's)."""
    y = F.conv2d(x, w, **kwargs).sum()
    tracemalloc.start()
    y.backward()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_offset_backward_builds_no_windows() -> None:
    """A 3×3 convolution's windows of x are 9 times x (and its gradient's too): backward now peaks at a few
    x-sized arrays (x and its gradient transposed and padded, one offset's buffer, the two gradients)."""
    x = mg.randn(8, 16, 16, 16, dtype=mg.float64, requires_grad=True)
    w = mg.randn(16, 16, 3, 3, dtype=mg.float64, requires_grad=True)
    assert _backward_peak(x, w, padding=1) < 6 * x.data.nbytes   # the windows alone were 9 times x


def test_a_pointwise_convolution_reads_x_itself() -> None:
    """A 1×1 kernel at stride 1 without padding: forward multiplies x itself (no unfolded copy); its result is the
    only new array, and x's gradient is the product itself."""
    x = mg.randn(4, 32, 8, 8, requires_grad=True)
    w = mg.randn(8, 32, 1, 1, requires_grad=True)
    tracemalloc.start()
    y = F.conv2d(x, w)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < y.data.nbytes + x.data.nbytes // 2   # a copy of x (its windows) was x's size more
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.broadcast_to(w.numpy().sum(axis=0).reshape(1, 32, 1, 1),
                                                               x.shape), rtol=1e-5)


def test_pointwise_as_torch_to_second_derivatives(torch: Any) -> None:
    """The 1×1 path's values, gradients and second derivatives (its create_graph rule unfolds nothing either)."""
    x, w, _ = _arrays((2, 6, 5, 4), (3, 6, 1, 1), seed=3)
    results = []
    for lib, functional in ((mg, F), (torch, torch.nn.functional)):
        a, c = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        y = functional.conv2d(a, c)
        ga, gc = lib.autograd.grad((y ** 2).sum(), [a, c], create_graph=True)
        second = lib.autograd.grad((ga ** 2).sum() + (gc ** 3).sum(), [a, c])
        results.append([t.detach().numpy() for t in (y, ga, gc, *second)])
    for mine, reference in zip(*results):
        np.testing.assert_allclose(mine, reference, rtol=1e-10, atol=1e-12)


@pytest.mark.gpu
@pytest.mark.parametrize(("fn", "x_shape", "w_shape", "kwargs"), BY_OFFSET[::3], ids=_ids(BY_OFFSET[::3]))
def test_offset_backward_same_on_gpu_as_on_cpu(fn: str, x_shape: tuple, w_shape: tuple, kwargs: dict) -> None:
    x, w, b = _arrays(x_shape, w_shape)
    same_on_gpu_as_on_cpu(lambda lib, a, c, d: getattr(F, fn)(a, c, d, **kwargs), [x, w, b])
