"""Round 24: conv_transpose1d/2d/3d as one op, nn._conv.ConvTranspose, PyTorch's ConvolutionBackward0.

A transposed convolution is the input gradient of a convolution: ConvTranspose is nn._conv.Convolution run backward
(its forward is the convolution's input gradient, its backward the convolution itself for x's gradient and the
convolution's weight gradient with the roles swapped for the weight's), so the math is written once. It keeps x and
the weight, as PyTorch's node (the weight times x and a col2im were three recorded ops, ending in FoldBackward0, and
an AddBackward0 for the bias).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn
import nn.functional as F  # noqa: N812
from tests.helpers import same_on_gpu_as_on_cpu

# (dims, input shape, weight shape, keyword arguments): groups, stride, padding, output_padding, dilation
CASES = [
    (1, (2, 4, 5), (4, 3, 3), {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2}),
    (1, (3, 2, 4), (2, 2, 1), {"dilation": 2, "output_padding": 1}),    # 1×1 kernel past x's size
    (1, (30, 3, 9), (3, 5, 3), {"dilation": 2, "padding": 2}),          # N·P ≥ 256: by kernel offset
    (2, (2, 4, 3, 4), (4, 2, 3, 2), {"stride": (2, 1), "padding": (1, 0), "output_padding": (1, 0)}),
    (2, (2, 6, 3, 3), (6, 1, 2, 2), {"stride": 2, "groups": 6}),         # depthwise: the direct path
    (2, (1, 2, 4, 4), (2, 1, 1, 1), {"stride": 2, "padding": (2, 0), "output_padding": 1, "dilation": (1, 2)}),
    (2, (3, 4, 6, 6), (4, 4, 2, 2), {"stride": 2}),                      # non-overlapping blocks
    (3, (2, 2, 2, 3, 2), (2, 3, 2, 1, 2), {"stride": (1, 2, 1), "padding": (0, 1, 1), "output_padding": (0, 1, 0)}),
    (3, (1, 4, 2, 2, 3), (4, 2, 1, 1, 1), {"stride": (3, 2, 2), "padding": (0, 0, 1), "output_padding": (2, 1, 1),
                                           "dilation": (1, 1, 2), "groups": 2}),
]


def _ids(cases: list) -> list[str]:
    return [f"{dims}d-{x}-{w}-{sorted(kw.items())}" for dims, x, w, kw in cases]


def _arrays(x_shape: tuple, w_shape: tuple, groups: int = 1, seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    return rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[1] * groups)


def _run(lib: Any, functional: Any, dims: int, arrays: tuple, kwargs: dict, bias: bool = True,
         layout: Any = None, dtype: Any = None) -> list:
    """Output, its node's name and the three gradients of a weighted sum, as NumPy arrays."""
    x, w, b = (lib.tensor(a, dtype=dtype, requires_grad=True) for a in arrays)
    if layout is not None:
        x = x.detach().contiguous(memory_format=getattr(lib, layout)).requires_grad_()
    y = getattr(functional, f"conv_transpose{dims}d")(x, w, b if bias else None, **kwargs)
    weights = lib.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)), dtype=y.dtype)
    (y * weights).sum().backward()
    grads = [t.grad.numpy() for t in (x, w, b) if t.grad is not None]
    return [y.detach().numpy(), y.grad_fn.name(), tuple(y.stride()), *grads]


@pytest.mark.parametrize(("dims", "x_shape", "w_shape", "kwargs"), CASES, ids=_ids(CASES))
def test_one_convolution_node_as_torch_in_float64(torch: Any, dims: int, x_shape: tuple, w_shape: tuple,
                                                   kwargs: dict) -> None:
    arrays = _arrays(x_shape, w_shape, kwargs.get("groups", 1))
    bias = CASES.index((dims, x_shape, w_shape, kwargs)) % 3 != 1   # (every third case without a bias)
    mine = _run(mg, F, dims, arrays, kwargs, bias)
    reference = _run(torch, torch.nn.functional, dims, arrays, kwargs, bias)
    assert mine[1] == reference[1] == "ConvolutionBackward0"
    assert mine[2] == reference[2]   # C order, size-1 dims too (an unbatched-like N = 1 result viewed a padded sum)
    assert len(mine) == len(reference)
    for k, (a, b) in enumerate(zip(mine[3:], reference[3:])):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10, err_msg=f"gradient {k}")
    np.testing.assert_allclose(mine[0], reference[0], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(("dims", "x_shape", "w_shape", "kwargs"), CASES[::4], ids=_ids(CASES[::4]))
def test_float32_within_a_few_ulps_of_float64(dims: int, x_shape: tuple, w_shape: tuple, kwargs: dict) -> None:
    arrays = _arrays(x_shape, w_shape, kwargs.get("groups", 1), seed=1)
    single = _run(mg, F, dims, arrays, kwargs, dtype=mg.float32)
    double = _run(mg, F, dims, arrays, kwargs)
    assert single[0].dtype == np.float32 and single[-1].dtype == np.float32
    for a, b in zip(single[3:] + single[:1], double[3:] + double[:1]):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5 * max(1.0, np.abs(b).max()))


def test_channels_last_as_torch(torch: Any) -> None:
    """A channels-last input gives PyTorch's channels-last result (allocated by the op), same values and gradients."""
    dims, x_shape, w_shape, kwargs = CASES[3]
    arrays = _arrays(x_shape, w_shape)
    mine = _run(mg, F, dims, arrays, kwargs, layout="channels_last")
    reference = _run(torch, torch.nn.functional, dims, arrays, kwargs, layout="channels_last")
    assert mine[1:3] == reference[1:3]
    for a, b in zip(mine[3:] + mine[:1], reference[3:] + reference[:1]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


def test_saves_x_and_the_weight_as_torch(torch: Any) -> None:
    """What the node saves (saved_tensors_hooks sees it): x and the weight, as PyTorch's ConvolutionBackward0 (the
    recorded matmul saved them reshaped, (N, G, C/G, ∏I) and (G, C/G, C_out/G·∏K)); next_functions: the three
    inputs' AccumulateGrad."""
    arrays = _arrays((2, 4, 3, 3), (4, 3, 2, 2))
    seen = []
    for lib, functional in ((mg, F), (torch, torch.nn.functional)):
        x, w, b = (lib.tensor(a, requires_grad=True) for a in arrays)
        packed: list = []
        with lib.autograd.graph.saved_tensors_hooks(lambda t, packed=packed: packed.append(tuple(t.shape)) or t,
                                                    lambda t: t):
            y = functional.conv_transpose2d(x, w, b, stride=2)
        edges = [type(f).__name__ if lib is torch else f.name() for f, _ in y.grad_fn.next_functions]
        seen.append((sorted(packed), len(edges)))
        y.sum().backward()
    assert seen[0] == seen[1] == ([(2, 4, 3, 3), (4, 3, 2, 2)], 3)


def test_keeps_only_the_output_after_forward() -> None:
    """Nothing but the result is held after forward (no columns, ∏K times x, and no copy of x or the weight)."""
    import tracemalloc
    x = mg.randn(8, 16, 8, 8, dtype=mg.float64, requires_grad=True)
    w = mg.randn(16, 8, 3, 3, dtype=mg.float64, requires_grad=True)
    tracemalloc.start()
    y = F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1)
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert held < y.data.nbytes + 4096


@pytest.mark.parametrize(("dims", "x_shape", "w_shape", "kwargs"), [CASES[0], CASES[5]], ids=_ids([CASES[0], CASES[5]]))
def test_gradgradcheck(dims: int, x_shape: tuple, w_shape: tuple, kwargs: dict) -> None:
    x, w, b = (mg.tensor(a, requires_grad=True) for a in _arrays(x_shape, w_shape, kwargs.get("groups", 1), seed=2))
    fn = getattr(F, f"conv_transpose{dims}d")
    assert mg.autograd.gradcheck(lambda a, c, d: fn(a, c, d, **kwargs), (x, w, b))
    assert mg.autograd.gradgradcheck(lambda a, c, d: fn(a, c, d, **kwargs).tanh(), (x, w, b))


def test_second_derivatives_as_torch(torch: Any) -> None:
    """create_graph: x's gradient is a recorded convolution of the output's gradient, the weight's the convolution's
    weight gradient with the roles swapped; their derivatives (through the output's gradient too) equal PyTorch's."""
    dims, x_shape, w_shape, kwargs = CASES[5]
    arrays = _arrays(x_shape, w_shape, seed=4)
    results = []
    for lib, functional in ((mg, F), (torch, torch.nn.functional)):
        x, w, b = (lib.tensor(a, requires_grad=True) for a in arrays)
        y = functional.conv_transpose2d(x, w, b, **kwargs)
        gy = lib.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)), requires_grad=True)
        gx, gw, gb = lib.autograd.grad(y, [x, w, b], gy, create_graph=True)
        second = lib.autograd.grad(gx.sin().sum() + (gw ** 2).sum() + (gb ** 3).sum(), [x, w, b, gy],
                                   allow_unused=True)
        results.append([None if t is None else t.detach().numpy() for t in (gx, gw, gb, *second)])
    for k, (mine, reference) in enumerate(zip(*results)):
        assert (mine is None) == (reference is None), k
        if mine is not None:
            np.testing.assert_allclose(mine, reference, rtol=1e-10, atol=1e-10, err_msg=f"item {k}")


@pytest.mark.parametrize("shape", [(0, 3, 2), (0, 3, 0)])
def test_an_empty_batch_is_one_node_too(torch: Any, shape: tuple) -> None:
    results = []
    for lib, functional in ((mg, F), (torch, torch.nn.functional)):
        x, w = lib.zeros(shape, requires_grad=True), lib.ones((3, 2, 3), requires_grad=True)
        y = functional.conv_transpose1d(x, w)
        y.sum().backward()
        results.append((tuple(y.shape), y.grad_fn.name(), tuple(x.grad.shape), float(w.grad.abs().sum())))
    assert results[0] == results[1]


def test_a_weight_without_input_channels_is_refused_as_torch(torch: Any) -> None:
    with pytest.raises(RuntimeError):
        torch.nn.functional.conv_transpose1d(torch.ones(2, 0, 3), torch.ones(0, 2, 1))
    with pytest.raises(RuntimeError, match="conv_transpose1d.*at least 1 at dimension 0"):
        F.conv_transpose1d(mg.ones(2, 0, 3), mg.ones(0, 2, 1))


def test_a_bias_of_another_dtype_as_torch(torch: Any) -> None:
    """PyTorch's 1-D/2-D CPU kernels add a float64 bias into a float32 result (one sample: its oneDNN path refuses a
    batch): added in float64 and rounded once, its gradient float64."""
    arrays = _arrays((1, 2, 3, 3), (2, 3, 2, 2))
    results = []
    for lib, functional in ((mg, F), (torch, torch.nn.functional)):
        x, w = (lib.tensor(a, dtype=lib.float32, requires_grad=True) for a in arrays[:2])
        b = lib.tensor(arrays[2] * 1e-3, requires_grad=True)
        y = functional.conv_transpose2d(x, w, b, stride=2)
        y.sum().backward()
        results.append((y.detach().numpy(), b.grad.numpy(), y.grad_fn.name()))
    assert results[0][0].dtype == np.float32 and results[0][1].dtype == np.float64
    assert results[0][2] == results[1][2]
    for mine, reference in zip(results[0][:2], results[1][:2]):   # (float32 sums: a few ulps)
        np.testing.assert_allclose(mine, reference, rtol=2e-6, atol=2e-6)


def test_offset_path_gradient_strides_for_one_sample(torch: Any) -> None:
    """A convolution's x gradient by kernel offset for a batch of one: C order's strides for the size-1 batch dim
    too, as PyTorch's (the channels-first buffer's view gave (400, 400, 20, 1) for its (3200, 400, 20, 1))."""
    x, w, _ = _arrays((1, 8, 20, 20), (8, 8, 3, 3))
    strides = []
    for lib, functional in ((mg, F), (torch, torch.nn.functional)):
        h = lib.tensor(x, requires_grad=True) * 1
        seen: list = []
        h.register_hook(lambda g, seen=seen: seen.append(tuple(g.stride())))
        functional.conv2d(h, lib.tensor(w)).sum().backward()
        strides.append(seen)
    assert strides[0] == strides[1] == [(3200, 400, 20, 1)]


def test_compiled_steps_replay_as_eager() -> None:
    """mg.compile captures the op once (fullgraph: no eager fallback) and replays it: equal losses and gradients."""
    mg.manual_seed(0)
    model = nn.Sequential(nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2), nn.Tanh(),
                          nn.ConvTranspose2d(6, 2, 2, dilation=2, bias=False)).double()
    step = mg.compile(lambda x: model(x).pow(2).sum(), fullgraph=True)
    rng = np.random.default_rng(5)
    for _ in range(3):
        x = mg.tensor(rng.standard_normal((3, 4, 5, 5)))
        model.zero_grad()
        compiled = step(x)
        compiled.backward()
        replayed = [p.grad.numpy().copy() for p in model.parameters()]
        model.zero_grad()
        eager = model(x).pow(2).sum()
        eager.backward()
        assert compiled.item() == eager.item()
        for a, p in zip(replayed, model.parameters()):
            np.testing.assert_array_equal(a, p.grad.numpy())


@pytest.mark.gpu
@pytest.mark.parametrize(("dims", "x_shape", "w_shape", "kwargs"), CASES[::3], ids=_ids(CASES[::3]))
def test_same_on_gpu_as_on_cpu(dims: int, x_shape: tuple, w_shape: tuple, kwargs: dict) -> None:
    arrays = _arrays(x_shape, w_shape, kwargs.get("groups", 1))
    same_on_gpu_as_on_cpu(lambda lib, a, c, d: getattr(F, f"conv_transpose{dims}d")(a, c, d, **kwargs), list(arrays))


# (batch, kernel, stride, groups, output_padding): PyTorch's float32 kernel is mkldnn's (channels_last_3d result) or
# its native one (C order) by ConvParams::use_mkldnn, as conv3d's, and never mkldnn's for an output padding ≥ stride.
# Left out: a 1x1x1 kernel at stride 1 of 2 samples, where PyTorch's choice follows its thread count and what earlier
# tests in the same process set (channels-last in a fresh two-thread process, as ours; C order after
# set_num_threads(1), also after setting 2 again)
LAYOUT_3D = [(1, 3, 2, 1, 0), (1, 1, 2, 2, 0), (2, 3, 1, 1, 0), (2, 3, (2, 1, 2), 1, (1, 0, 1)),
             (2, 3, (2, 1, 2), 1, (0, 1, 0))]


@pytest.mark.parametrize(("batch", "kernel", "stride", "groups", "output_padding"), LAYOUT_3D)
def test_channels_last_3d_float32_layout_as_torch(torch: Any, batch: int, kernel: int, stride: Any, groups: int,
                                                  output_padding: Any) -> None:
    x, w, _ = _arrays((batch, 4, 3, 3, 3), (4, 2, kernel, kernel, kernel), seed=6)
    strides = []
    for lib, functional in ((mg, F), (torch, torch.nn.functional)):
        a = lib.tensor(x, dtype=lib.float32).contiguous(memory_format=lib.channels_last_3d)
        y = functional.conv_transpose3d(a, lib.tensor(w, dtype=lib.float32), stride=stride, groups=groups,
                                        dilation=2 if output_padding else 1, output_padding=output_padding)
        strides.append(tuple(y.stride()))
    assert strides[0] == strides[1]
