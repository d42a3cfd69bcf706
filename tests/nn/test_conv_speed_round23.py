"""Round 23: the convolutions' and max pools' own ops (nn._conv.Convolution, MaxPool), against PyTorch.

A convolution keeps x and the weight for backward, as PyTorch's ConvolutionBackward0, no longer the unfolded
windows (∏K times x); a depthwise convolution sums kernel offsets' slices instead of a loop of tiny matmuls. A max
pool takes a running maximum over kernel offsets' slices and keeps only each window's choice (int8); an average
pool adds the slices (nn._conv.WindowSum).
"""

from __future__ import annotations

import tracemalloc
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn
import nn.functional as F  # noqa: N812
from tests.helpers import same_on_gpu_as_on_cpu

# (function, input shape, weight shape, keyword arguments): odd sizes, strides, dilations, groups, padding modes
CONVOLUTIONS = [
    ("conv1d", (3, 4, 11), (6, 2, 3), {"padding": 2, "groups": 2, "dilation": 2}),
    ("conv1d", (2, 3, 10), (3, 1, 4), {"padding": "same", "groups": 3}),
    ("conv1d", (1, 2, 7), (5, 2, 2), {"stride": 3, "padding": "valid"}),
    ("conv2d", (2, 4, 7, 9), (6, 4, 3, 2), {"stride": (2, 1), "padding": (1, 2), "dilation": (1, 2)}),
    ("conv2d", (2, 6, 8, 8), (6, 1, 3, 3), {"padding": 1, "groups": 6}),                   # depthwise
    ("conv2d", (2, 6, 9, 7), (12, 1, 3, 3), {"padding": 1, "groups": 6, "stride": 2}),     # multiplier 2
    ("conv2d", (2, 6, 8, 8), (30, 1, 3, 3), {"padding": "same", "groups": 6}),             # multiplier 5: matmul
    ("conv2d", (2, 4, 9, 9), (4, 1, 3, 3), {"padding": "same", "groups": 4, "dilation": 2}),
    ("conv2d", (2, 1, 9, 9), (5, 1, 3, 3), {}),                                          # one input channel
    ("conv2d", (2, 1, 6, 5), (3, 1, 2, 2), {"stride": 2, "padding": 1}),                  # direct, groups=1
    ("conv2d", (3, 8, 5, 5), (4, 4, 1, 1), {"groups": 2}),                                # 1x1 grouped
    ("conv2d", (1, 2, 4, 4), (2, 2, 4, 4), {}),                                           # one output position
    ("conv3d", (1, 4, 5, 6, 7), (2, 4, 2, 3, 1), {"stride": (1, 2, 1), "padding": (1, 0, 0)}),
    ("conv3d", (2, 3, 4, 5, 4), (3, 1, 3, 2, 3), {"padding": 1, "groups": 3, "dilation": (1, 2, 1)}),
]


def _ids() -> list[str]:
    return [f"{fn}-{x}-{w}-{sorted(kw.items())}" for fn, x, w, kw in CONVOLUTIONS]


def _arrays(x_shape: tuple, w_shape: tuple, seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    return rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])


@pytest.mark.parametrize(("fn", "x_shape", "w_shape", "kwargs"), CONVOLUTIONS, ids=_ids())
def test_values_and_gradients_as_torch_in_float64(torch: Any, fn: str, x_shape: tuple, w_shape: tuple,
                                                  kwargs: dict) -> None:
    x, w, b = _arrays(x_shape, w_shape)
    ours = [mg.tensor(a, requires_grad=True) for a in (x, w, b)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = getattr(F, fn)(*ours, **kwargs)
    expected = getattr(torch.nn.functional, fn)(*theirs, **kwargs)
    g = np.random.default_rng(1).standard_normal(tuple(expected.shape))
    y.backward(mg.tensor(g))
    expected.backward(torch.tensor(g))
    np.testing.assert_allclose(y.numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    for mine, reference in zip(ours, theirs):
        np.testing.assert_allclose(mine.grad.numpy(), reference.grad.numpy(), rtol=1e-10, atol=1e-12)
        assert mine.grad.data.flags.c_contiguous   # PyTorch's gradients are C-contiguous too


GRADCHECKED = [   # small: finite differences take a pass per entry
    ("conv1d", (2, 4, 7), (4, 2, 3), {"padding": 2, "groups": 2, "dilation": 2, "stride": 2}),
    ("conv2d", (1, 3, 5, 4), (3, 1, 3, 2), {"padding": "same", "groups": 3}),
    ("conv2d", (1, 2, 5, 5), (3, 2, 2, 3), {"stride": (2, 1), "padding": (1, 0), "dilation": (1, 2)}),
    ("conv3d", (1, 2, 3, 4, 3), (2, 1, 2, 2, 2), {"padding": 1, "groups": 2}),
]


@pytest.mark.parametrize(("fn", "x_shape", "w_shape", "kwargs"), GRADCHECKED)
def test_gradcheck(fn: str, x_shape: tuple, w_shape: tuple, kwargs: dict) -> None:
    x, w, _ = _arrays(x_shape, w_shape)
    assert mg.gradcheck(lambda a, c: getattr(F, fn)(a, c, **kwargs),
                        (mg.tensor(x, requires_grad=True), mg.tensor(w, requires_grad=True)))


@pytest.mark.parametrize(("fn", "x_shape", "w_shape", "kwargs"), CONVOLUTIONS[1::3], ids=_ids()[1::3])
def test_second_derivatives_as_torch(torch: Any, fn: str, x_shape: tuple, w_shape: tuple, kwargs: dict) -> None:
    x, w, _ = _arrays(x_shape, w_shape)
    results = []
    for lib, functional in ((mg, F), (torch, torch.nn.functional)):
        a, c = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        ga, gc = lib.autograd.grad((getattr(functional, fn)(a, c, **kwargs) ** 2).sum(), [a, c], create_graph=True)
        results.append([t.detach().numpy() for t in lib.autograd.grad((ga ** 2).sum() + (gc ** 3).sum(), [a, c])])
    for mine, reference in zip(*results):
        np.testing.assert_allclose(mine, reference, rtol=1e-9, atol=1e-9)


def _saved_arrays(y: mg.Tensor) -> list:
    """Every array the graph of ``y`` keeps for backward."""
    found, seen, stack = [], set(), [y._node]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        items = list(node.saved) if isinstance(node.saved, (tuple, list)) else [node.saved]
        found += [a for a in items if hasattr(a, "nbytes")]
        stack += [edge[0] for edge in node.edges if type(edge) is tuple]
    return found


def test_a_convolution_keeps_its_input_not_the_unfolded_windows() -> None:
    """The 3x3 windows of x are 9 times x: the graph keeps x and the weight only, as PyTorch's."""
    x = mg.randn(4, 8, 10, 10, requires_grad=True)
    w = mg.randn(16, 8, 3, 3, requires_grad=True)
    y = F.conv2d(x, w, padding=1)
    saved = _saved_arrays(y)
    assert sum(a.nbytes for a in saved) <= x.data.nbytes + w.data.nbytes
    assert all(a is x.data or a is w.data for a in saved)


def test_a_frozen_kernel_keeps_nothing_of_its_input(torch: Any) -> None:
    """conv2d with a weight that takes no gradient reads only the weight backward, so x may change in place after
    it (PyTorch saves x anyway and refuses; the gradient does not depend on x, so nothing read has changed)."""
    x_values, w_values = np.random.default_rng(2).standard_normal((2, 3, 6, 6)), np.ones((4, 3, 3, 3))
    x = mg.tensor(x_values, requires_grad=True)
    h = x * 2
    y = F.conv2d(h, mg.tensor(w_values), padding=1)
    assert all(a is not h.data for a in _saved_arrays(y))
    expected = torch.tensor(x_values, requires_grad=True)
    z = torch.nn.functional.conv2d(expected * 2, torch.tensor(w_values), padding=1)
    h.mul_(3)
    (y * y).sum().backward()
    (z * z).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), expected.grad.numpy(), rtol=1e-12)


def test_changing_the_input_in_place_is_refused_as_torch(torch: Any) -> None:
    """With a trainable weight, backward reads x: changing it in place raises, as PyTorch's (the windows were
    a copy before, and the weight's gradient was one of the values read then)."""
    for lib, functional in ((mg, F), (torch, torch.nn.functional)):
        x = lib.ones(1, 2, 6, requires_grad=True)
        h = x * 2
        y = functional.conv1d(h, lib.ones(3, 2, 3, requires_grad=True), padding=1)
        h.mul_(3)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            (y * y).sum().backward()


def test_the_result_may_change_in_place(torch: Any) -> None:
    """The convolution's result owns its memory (a reshape of the op's own temporary): in-place ops on it record,
    as PyTorch's (a DCGAN's ``out.copy_`` after a convolution)."""
    x_values, w_values = np.random.default_rng(4).standard_normal((2, 3, 5, 5)), np.ones((2, 3, 3, 3)) / 9
    grads = []
    for lib, functional in ((mg, F), (torch, torch.nn.functional)):
        x, w = lib.tensor(x_values, requires_grad=True), lib.tensor(w_values, requires_grad=True)
        y = functional.conv2d(x, w, padding=1)
        y.add_(1)
        y[:, 0] = y[:, 1] * 2
        (y * y).sum().backward()
        grads.append((x.grad.numpy(), w.grad.numpy()))
    for mine, reference in zip(*grads):
        np.testing.assert_allclose(mine, reference, rtol=1e-12)


def test_a_small_cnn_as_torch(torch: Any) -> None:
    """Two convolutions (one depthwise), pooling and a linear layer: the loss and every parameter's gradient."""
    rng = np.random.default_rng(5)
    images, labels = rng.standard_normal((4, 2, 8, 8)), rng.integers(0, 3, 4)
    ours = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1, groups=4),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 3)).double()
    tnn = torch.nn
    theirs = tnn.Sequential(tnn.Conv2d(2, 4, 3, padding=1), tnn.ReLU(), tnn.Conv2d(4, 4, 3, padding=1, groups=4),
                            tnn.MaxPool2d(2), tnn.Flatten(), tnn.Linear(4 * 4 * 4, 3)).double()
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    loss = F.cross_entropy(ours(mg.tensor(images)), mg.tensor(labels))
    expected = torch.nn.functional.cross_entropy(theirs(torch.tensor(images)), torch.tensor(labels))
    loss.backward()
    expected.backward()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12)
    for (name, mine), reference in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(mine.grad.numpy(), reference.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


# (function, input shape, keyword arguments): padding, ceil mode, dilation, 1-D to 3-D, unbatched
MAX_POOLS = [
    ("max_pool2d", (2, 3, 8, 8), {"kernel_size": 2}),
    ("max_pool2d", (2, 3, 9, 7), {"kernel_size": 3, "stride": 2, "padding": 1}),
    ("max_pool2d", (2, 3, 9, 7), {"kernel_size": (3, 2), "stride": (2, 1), "padding": (1, 1), "dilation": (1, 2)}),
    ("max_pool2d", (2, 3, 10, 9), {"kernel_size": 3, "stride": 2, "ceil_mode": True}),
    ("max_pool2d", (2, 3, 10, 9), {"kernel_size": 3, "stride": 3, "padding": 1, "ceil_mode": True}),
    ("max_pool1d", (3, 11), {"kernel_size": 4, "stride": 2, "padding": 2}),
    ("max_pool1d", (2, 3, 11), {"kernel_size": 3, "dilation": 3, "padding": 1}),
    ("max_pool3d", (1, 2, 5, 6, 7), {"kernel_size": (2, 3, 2), "stride": 2, "padding": 1}),
]


def _pool_input(shape: tuple, special: bool) -> np.ndarray:
    """Random values; ``special``: rounded (ties) with -inf and NaN entries, some windows all -inf."""
    x = np.random.default_rng(6).standard_normal(shape)
    if special:
        x = np.round(x)
        x.flat[::7] = -np.inf
        x.flat[::11] = np.nan
        x.reshape(-1, shape[-1])[0, :3] = -np.inf
    return x


@pytest.mark.parametrize("special", [False, True], ids=["plain", "ties_nan_inf"])
@pytest.mark.parametrize(("fn", "shape", "kwargs"), MAX_POOLS, ids=[f"{f}-{s}-{sorted(k.items())}"
                                                                    for f, s, k in MAX_POOLS])
def test_max_pool_values_indices_and_gradient_as_torch(torch: Any, fn: str, shape: tuple, kwargs: dict,
                                                       special: bool) -> None:
    """The running maximum over kernel offsets picks PyTorch's entry: the first largest, a window's last NaN, the
    first input entry of a window of -inf next to padding."""
    x = _pool_input(shape, special)
    ours, theirs = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, index = getattr(F, fn)(ours, return_indices=True, **kwargs)
    expected, expected_index = getattr(torch.nn.functional, fn)(theirs, return_indices=True, **kwargs)
    g = np.random.default_rng(7).standard_normal(tuple(expected.shape))
    y.backward(mg.tensor(g))
    expected.backward(torch.tensor(g))
    np.testing.assert_array_equal(y.numpy(), expected.detach().numpy())
    np.testing.assert_array_equal(index.numpy(), expected_index.numpy())
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize(("fn", "shape", "kwargs"), MAX_POOLS[1::2], ids=[f"{f}-{s}" for f, s, _ in MAX_POOLS[1::2]])
def test_max_pool_gradcheck_and_second_derivative(torch: Any, fn: str, shape: tuple, kwargs: dict) -> None:
    x = _pool_input(shape, False)
    assert mg.gradcheck(lambda a: getattr(F, fn)(a, **kwargs) ** 2, (mg.tensor(x, requires_grad=True),))
    results = []
    for lib, functional in ((mg, F), (torch, torch.nn.functional)):
        a = lib.tensor(x, requires_grad=True)
        (ga,) = lib.autograd.grad((getattr(functional, fn)(a, **kwargs) ** 2).sum(), [a], create_graph=True)
        results.append(lib.autograd.grad((ga ** 3).sum(), [a])[0].detach().numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-10)


def test_max_pool_of_integers_as_torch(torch: Any) -> None:
    """Integer windows next to padding (padded with the dtype's minimum) pick as PyTorch's."""
    x = np.random.default_rng(8).integers(-3, 3, (2, 3, 7, 7))
    x[0, 0, :2, :2] = np.iinfo(np.int64).min
    y, index = F.max_pool2d(mg.tensor(x), 3, 2, 1, return_indices=True)
    expected, expected_index = torch.nn.functional.max_pool2d(torch.tensor(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(y.numpy(), expected.numpy())
    np.testing.assert_array_equal(index.numpy(), expected_index.numpy())


def test_max_pool_keeps_a_small_index_not_the_windows() -> None:
    """Backward needs only which kernel offset each window chose: one byte per output for a 3x3 kernel (the
    windows were 9 outputs' worth of values; PyTorch keeps x and int64 indices)."""
    x = mg.randn(2, 4, 12, 12, requires_grad=True)
    y = F.max_pool2d(x * 1, 3, 2, 1)
    saved = _saved_arrays(y)
    assert [a.dtype for a in saved] == [np.int8]
    assert sum(a.nbytes for a in saved) == y.numel()


AVG_POOLS = [
    ("avg_pool2d", (2, 3, 9, 7), {"kernel_size": 3, "stride": 2, "padding": 1}),
    ("avg_pool2d", (2, 3, 9, 7), {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False}),
    ("avg_pool2d", (2, 3, 10, 9), {"kernel_size": 3, "stride": 3, "padding": 1, "ceil_mode": True,
                                   "divisor_override": 5}),
    ("avg_pool1d", (3, 11), {"kernel_size": 4, "stride": 2, "padding": 2}),
    ("avg_pool3d", (1, 2, 5, 6, 7), {"kernel_size": (2, 3, 2), "stride": 2, "padding": 1}),
]


@pytest.mark.parametrize(("fn", "shape", "kwargs"), AVG_POOLS, ids=[f"{f}-{s}-{sorted(k.items())}"
                                                                    for f, s, k in AVG_POOLS])
def test_avg_pool_as_torch_to_second_derivatives(torch: Any, fn: str, shape: tuple, kwargs: dict) -> None:
    """The window sums (nn._conv.WindowSum: slices added in place of an unfolded copy) give PyTorch's values,
    gradients and second derivatives."""
    x = _pool_input(shape, False)
    results = []
    for lib, functional in ((mg, F), (torch, torch.nn.functional)):
        a = lib.tensor(x, requires_grad=True)
        y = getattr(functional, fn)(a, **kwargs)
        (ga,) = lib.autograd.grad((y ** 2).sum(), [a], create_graph=True)
        (gga,) = lib.autograd.grad((ga ** 3).sum(), [a])
        results.append([t.detach().numpy() for t in (y, ga, gga)])
    for mine, reference in zip(*results):
        np.testing.assert_allclose(mine, reference, rtol=1e-10, atol=1e-14)
    assert mg.gradcheck(lambda a: getattr(F, fn)(a, **kwargs), (mg.tensor(x[..., :5], requires_grad=True),))


def test_avg_pool_makes_no_windows() -> None:
    """The (N, C, 3, 3, *O) windows of a 3x3 average pool are never built (2.25 times x at stride 2): forward's
    peak is x's padded copy and the sums."""
    x = mg.randn(4, 8, 32, 32)
    tracemalloc.start()
    F.avg_pool2d(x, 3, 2, 1)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2 * x.data.nbytes


@pytest.mark.gpu
@pytest.mark.parametrize(("fn", "shape", "kwargs"), AVG_POOLS[::2], ids=[f"{f}-{s}" for f, s, _ in AVG_POOLS[::2]])
def test_avg_pool_same_on_gpu_as_on_cpu(fn: str, shape: tuple, kwargs: dict) -> None:
    same_on_gpu_as_on_cpu(lambda lib, a: getattr(F, fn)(a, **kwargs), [_pool_input(shape, False)])


@pytest.mark.gpu
@pytest.mark.parametrize(("fn", "shape", "kwargs"), MAX_POOLS[::3], ids=[f"{f}-{s}" for f, s, _ in MAX_POOLS[::3]])
def test_max_pool_same_on_gpu_as_on_cpu(fn: str, shape: tuple, kwargs: dict) -> None:
    same_on_gpu_as_on_cpu(lambda lib, a: getattr(F, fn)(a, **kwargs), [_pool_input(shape, True)])


@pytest.mark.gpu
@pytest.mark.parametrize(("fn", "x_shape", "w_shape", "kwargs"), CONVOLUTIONS[::2], ids=_ids()[::2])
def test_same_on_gpu_as_on_cpu(fn: str, x_shape: tuple, w_shape: tuple, kwargs: dict) -> None:
    x, w, b = _arrays(x_shape, w_shape)
    same_on_gpu_as_on_cpu(lambda lib, a, c, d: getattr(F, fn)(a, c, d, **kwargs), [x, w, b])
