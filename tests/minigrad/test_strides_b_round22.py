"""Round 22: layouts where PyTorch's ``view()`` works on a result and minigrad's raised (strides leftovers).

A differential fuzzer of elementwise ops on operands in different layouts, channels-last inputs through nn ops,
and the raw gradients of pools and losses found:

- ``addcmul(a, b, c)`` computed ``b * c`` first: its layout (a transposed ``b``) decided the result's, where
  PyTorch's TensorIterator lets its first operand, ``a``, decide (a C-contiguous ``a``: a C-contiguous result).
- The gradients of ``cross_entropy``/``nll_loss`` on (N, C, H, W) and of ``adaptive_avg_pool2d`` and
  ``interpolate(mode="area")``: minigrad builds them from ``movedim``/``transpose`` views, so the input's gradient
  was a permuted view (``grad.view(n, -1)`` raised, as in a gradient penalty); PyTorch's kernels write a
  C-contiguous one.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _layout(t: Any) -> tuple:
    """Strides, contiguity and whether ``view(-1)`` works: what user code observes."""
    try:
        t.view(-1)
        flat = True
    except RuntimeError:
        flat = False
    return tuple(t.shape), tuple(t.stride()), bool(t.is_contiguous()), flat


def _square(lib: Any) -> Any:
    return lib.tensor(np.arange(1.0, 5.0).reshape(2, 2) / 5)


ADDCMUL: dict[str, Callable] = {
    "c_first_transposed_product": lambda lib: _square(lib).addcmul(_square(lib).t(), _square(lib).t()),
    "transposed_first": lambda lib: _square(lib).t().addcmul(_square(lib), _square(lib)),
    "mixed_product": lambda lib: _square(lib).addcmul(_square(lib), _square(lib).t()),
    "functional": lambda lib: lib.addcmul(_square(lib), _square(lib).t(), _square(lib).t()),
    "broadcast_first": lambda lib: lib.addcmul(_square(lib)[:, :1], _square(lib).t(), _square(lib).t()),
    "batched": lambda lib: lib.addcmul(lib.tensor(np.random.RandomState(0).rand(3, 2, 4)),
                                       lib.tensor(np.random.RandomState(1).rand(3, 4, 2)).mT, lib.ones(4)),
}


@pytest.mark.parametrize("case", list(ADDCMUL))
def test_addcmul_layout_follows_its_first_operand(case: str) -> None:
    ours, theirs = ADDCMUL[case](mg), ADDCMUL[case](torch)
    assert _layout(ours) == _layout(theirs)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


def _f(lib: Any) -> Any:
    return lib.nn.functional


def _targets(lib: Any) -> Any:
    return lib.tensor(np.random.RandomState(2).randint(0, 3, (2, 5, 6)))


GRADIENTS: dict[str, Callable] = {
    "cross_entropy": lambda lib, x: _f(lib).cross_entropy(x, _targets(lib)),
    "cross_entropy_smoothed_sum": lambda lib, x: _f(lib).cross_entropy(x, _targets(lib), reduction="sum",
                                                                       label_smoothing=0.1),
    "cross_entropy_weighted": lambda lib, x: _f(lib).cross_entropy(x, _targets(lib), weight=lib.ones(3).double()),
    "cross_entropy_none": lambda lib, x: _f(lib).cross_entropy(x, _targets(lib), reduction="none").pow(2).sum(),
    "nll_loss": lambda lib, x: _f(lib).nll_loss(x, _targets(lib)),
    "cross_entropy_3d": lambda lib, x: _f(lib).cross_entropy(x.flatten(2), _targets(lib).flatten(1)),
    "adaptive_avg_pool2d": lambda lib, x: _f(lib).adaptive_avg_pool2d(x, (2, 3)).pow(2).sum(),
    "adaptive_avg_pool2d_global": lambda lib, x: _f(lib).adaptive_avg_pool2d(x, 1).pow(2).sum(),
    "adaptive_avg_pool2d_uneven": lambda lib, x: _f(lib).adaptive_avg_pool2d(x, (3, 4)).pow(2).sum(),
    "interpolate_area": lambda lib, x: _f(lib).interpolate(x, size=(2, 3), mode="area").pow(2).sum(),
}


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("case", list(GRADIENTS))
def test_gradient_of_nchw_loss_and_pool_is_contiguous(case: str, create_graph: bool) -> None:
    """``autograd.grad(loss, x)[0].view(n, -1)`` (a gradient penalty) works, as in PyTorch, with the same values."""
    results = []
    for lib in (mg, torch):
        x = lib.tensor(np.random.RandomState(0).rand(2, 3, 5, 6), requires_grad=True)
        (g,) = lib.autograd.grad(GRADIENTS[case](lib, x), x, create_graph=create_graph)
        results.append((_layout(g), g.detach().numpy()))
        if create_graph:   # the penalty's own gradient
            (gg,) = lib.autograd.grad(g.view(2, -1).norm(dim=1).sum(), x)
            results.append((None, gg.numpy()))
    assert results[0][0] == results[len(results) // 2][0]
    for ours, theirs in zip(results[:len(results) // 2], results[len(results) // 2:]):
        np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-7, atol=1e-12)


LEAVES: dict[str, Callable] = {
    "expanded": lambda lib: lib.tensor(np.random.RandomState(0).rand(1, 4)).expand(3, 4),
    "expanded_transposed": lambda lib: lib.tensor(np.random.RandomState(0).rand(4, 1)).expand(4, 3).t(),
    "stepped_transposed": lambda lib: lib.tensor(np.random.RandomState(0).rand(6, 4))[::2].t(),
    "stepped_channels_last": lambda lib: lib.tensor(np.random.RandomState(0).rand(2, 3, 4, 5)).contiguous(
        memory_format=lib.channels_last)[:, :, ::2],
}


@pytest.mark.parametrize("op", ["sum", "exp", "reshape"])
@pytest.mark.parametrize("leaf", list(LEAVES))
def test_first_grad_of_a_leaf_with_gaps_or_overlaps_is_c_order(leaf: str, op: str) -> None:
    """PyTorch's gradient layout contract: a leaf whose elements are not dense (an expanded or stepped view made a
    leaf) gets a C-contiguous ``.grad``; minigrad copied the gradient into ``empty_like(leaf)``, NumPy's order of
    the leaf's strides ((1, 3) for an expanded (3, 4)), so ``x.grad.view(-1)`` raised."""
    fns = {"sum": lambda x: x.sum(), "exp": lambda x: x.exp().sum(), "reshape": lambda x: x.reshape(-1).pow(2).sum()}
    results = []
    for lib in (mg, torch):
        x = LEAVES[leaf](lib).detach().requires_grad_()
        fns[op](x).backward()
        results.append((_layout(x.grad), x.grad.numpy()))
    assert results[0][0] == results[1][0]
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12)



DENSE_LEAVES: dict[str, Callable] = {
    "transposed": lambda lib: lib.tensor(np.random.RandomState(0).rand(3, 4)).t(),
    "permuted": lambda lib: lib.tensor(np.random.RandomState(0).rand(2, 3, 4)).permute(2, 0, 1),
    "channels_last": lambda lib: lib.tensor(np.random.RandomState(0).rand(2, 3, 4, 5)).contiguous(
        memory_format=lib.channels_last),
    "expanded": LEAVES["expanded"],
}


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
@pytest.mark.parametrize("leaf", list(DENSE_LEAVES))
def test_create_graph_grad_of_a_non_contiguous_leaf_follows_the_layout_contract(leaf: str) -> None:
    """``backward(create_graph=True)``: PyTorch's first ``.grad`` obeys the layout contract too (the leaf's strides
    where it is dense, else C order); minigrad's was always C order. It still differentiates."""
    results = []
    for lib in (mg, torch):
        x = DENSE_LEAVES[leaf](lib).detach().requires_grad_()
        (x * x).exp().sum().backward(create_graph=True)
        grad = x.grad
        (gg,) = lib.autograd.grad(grad.pow(2).sum(), x)
        results.append((_layout(grad), grad.detach().numpy(), gg.numpy()))
    assert results[0][0] == results[1][0]
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12)
    np.testing.assert_allclose(results[0][2], results[1][2], rtol=1e-12)


def _nchw_last(lib: Any) -> Any:
    return lib.tensor(np.random.RandomState(0).rand(2, 3, 5, 6)).contiguous(memory_format=lib.channels_last)


def _ncdhw_last(lib: Any) -> Any:
    return lib.tensor(np.random.RandomState(0).rand(2, 3, 4, 5, 3)).contiguous(memory_format=lib.channels_last_3d)


def _weight(lib: Any, *shape: int) -> Any:
    return lib.tensor(np.random.RandomState(1).rand(*shape))


CHANNELS_LAST: dict[str, tuple[Callable, Callable]] = {
    "conv2d": (_nchw_last, lambda lib, x: _f(lib).conv2d(x, _weight(lib, 4, 3, 3, 3), _weight(lib, 4), padding=1)),
    "conv2d_groups": (_nchw_last, lambda lib, x: _f(lib).conv2d(x, _weight(lib, 3, 1, 3, 3), groups=3)),
    "conv2d_channels_last_weight": (lambda lib: _nchw_last(lib).contiguous(), lambda lib, x: _f(lib).conv2d(
        x, _weight(lib, 4, 3, 3, 3).contiguous(memory_format=lib.channels_last))),
    "conv_transpose2d": (_nchw_last, lambda lib, x: _f(lib).conv_transpose2d(x, _weight(lib, 3, 4, 3, 3), stride=2)),
    "max_pool2d": (_nchw_last, lambda lib, x: _f(lib).max_pool2d(x, 3, 1, 1)),
    "max_pool2d_indices": (_nchw_last, lambda lib, x: _f(lib).max_pool2d(x, 2, return_indices=True)[1]),
    "max_pool3d": (_ncdhw_last, lambda lib, x: _f(lib).max_pool3d(x, 2)),
    "avg_pool2d": (_nchw_last, lambda lib, x: _f(lib).avg_pool2d(x, 2, ceil_mode=True)),
    "adaptive_avg_pool2d": (_nchw_last, lambda lib, x: _f(lib).adaptive_avg_pool2d(x, (2, 3))),
    "adaptive_max_pool2d": (_nchw_last, lambda lib, x: _f(lib).adaptive_max_pool2d(x, (2, 3))),
    "interpolate_nearest": (_nchw_last, lambda lib, x: _f(lib).interpolate(x, scale_factor=2)),
    "interpolate_bilinear": (_nchw_last, lambda lib, x: _f(lib).interpolate(x, size=(7, 4), mode="bilinear",
                                                                            align_corners=True)),
    "interpolate_bicubic": (_nchw_last, lambda lib, x: _f(lib).interpolate(x, scale_factor=2, mode="bicubic")),
    "interpolate_area": (_nchw_last, lambda lib, x: _f(lib).interpolate(x, size=(2, 3), mode="area")),
    "interpolate_trilinear": (_ncdhw_last, lambda lib, x: _f(lib).interpolate(x, scale_factor=2, mode="trilinear")),
    "upsample_module": (_nchw_last, lambda lib, x: lib.nn.Upsample(scale_factor=2)(x)),
    "pad_constant": (_nchw_last, lambda lib, x: _f(lib).pad(x, (1, 1, 2, 0))),
    "pad_constant_channels": (_nchw_last, lambda lib, x: _f(lib).pad(x, (1, 1, 1, 1, 1, 1))),
    "pad_reflect": (_nchw_last, lambda lib, x: _f(lib).pad(x, (1, 1, 2, 0), mode="reflect")),
    "pad_replicate": (_nchw_last, lambda lib, x: _f(lib).pad(x, (0, 0, 1, 1), mode="replicate")),
    "pad_circular": (_nchw_last, lambda lib, x: _f(lib).pad(x, (1, 1, 2, 0), mode="circular")),
    "sliced_channels_last_conv": (lambda lib: _nchw_last(lib)[..., ::2], lambda lib, x: _f(lib).conv2d(
        x, _weight(lib, 4, 3, 1, 1))),
    "max_unpool2d": (_nchw_last, lambda lib, x: _f(lib).max_unpool2d(*_f(lib).max_pool2d(x, 2, return_indices=True),
                                                                      2)),
    "group_norm": (_nchw_last, lambda lib, x: _f(lib).group_norm(x, 1, _weight(lib, 3), _weight(lib, 3))),
    "group_norm_module_3d": (_ncdhw_last, lambda lib, x: lib.nn.GroupNorm(1, 3).double()(x)),
    "local_response_norm": (_nchw_last, lambda lib, x: _f(lib).local_response_norm(x, 2)),
    "pixel_unshuffle": (lambda lib: _nchw_last(lib)[..., :4, :], lambda lib, x: _f(lib).pixel_unshuffle(x, 2)),
    "channel_shuffle": (lambda lib: _nchw_last(lib).repeat(1, 2, 1, 1), lambda lib, x: _f(lib).channel_shuffle(x, 2)),
    "transposed_pad_stays_c_order": (lambda lib: _nchw_last(lib).contiguous().transpose(2, 3),
                                     lambda lib, x: _f(lib).pad(x, (1, 1, 1, 1), mode="reflect")),
}


def _formats(t: Any, lib: Any) -> tuple:
    return _layout(t) + tuple(bool(t.is_contiguous(memory_format=fmt)) for fmt in (
        lib.channels_last if t.dim() == 4 else lib.channels_last_3d,))


@pytest.mark.parametrize("case", list(CHANNELS_LAST))
def test_channels_last_input_keeps_pytorch_result_layout(case: str) -> None:
    """A channels-last input: PyTorch's convolution, pooling, upsampling, padding, group/LRN norm and pixel-shuffle
    kernels allocate a channels-last result (``is_contiguous(memory_format=channels_last)``); minigrad's im2col and
    gathers gave C order, the non-constant pads a permuted mix (circular: PyTorch's is C order, ``view(-1)`` raised
    in minigrad)."""
    make, op = CHANNELS_LAST[case]
    ours, theirs = op(mg, make(mg)), op(torch, make(torch))
    assert _formats(ours, mg) == _formats(theirs, torch)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_channels_last_convolution_trains() -> None:
    """The relaid result carries the gradients back (a Conv2d-pool-upsample block on a channels-last batch)."""
    grads = []
    for lib in (mg, torch):
        x = _nchw_last(lib).requires_grad_()
        w = _weight(lib, 4, 3, 3, 3).requires_grad_()
        y = _f(lib).interpolate(_f(lib).max_pool2d(_f(lib).conv2d(_f(lib).pad(x, (1, 1, 1, 1), mode="reflect"), w),
                                                   2), scale_factor=2, mode="bilinear")
        (y * y).sum().backward()
        grads.append((x.grad.numpy(), w.grad.numpy()))
    for ours, theirs in zip(*grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9)



def _transposed_self(lib: Any) -> Any:
    return lib.tensor(np.random.RandomState(0).rand(4, 3)).t()


def _index(lib: Any, values: list) -> Any:
    return lib.tensor(np.array(values), dtype=lib.int64)


SCATTERS: dict[str, Callable] = {
    "index_put": lambda lib, x: x.index_put((_index(lib, [0, 1]),), lib.tensor(7.0).double()),
    "index_put_accumulate": lambda lib, x: x.index_put((_index(lib, [0, 0]),), lib.tensor(7.0).double(),
                                                       accumulate=True),
    "select_scatter": lambda lib, x: x.select_scatter(lib.zeros(4).double(), 0, 1),
    "slice_scatter": lambda lib, x: x.slice_scatter(lib.zeros(1, 4).double(), 0, 0, 1),
    "diagonal_scatter": lambda lib, x: x.diagonal_scatter(lib.zeros(3).double()),
    "as_strided_scatter": lambda lib, x: x.as_strided_scatter(lib.zeros(2).double(), (2,), (1,)),
    "scatter": lambda lib, x: x.scatter(1, lib.zeros(3, 1, dtype=lib.int64), 5.0),
    "index_add": lambda lib, x: x.index_add(0, _index(lib, [0, 2]), lib.ones(2, 4).double()),
}


@pytest.mark.parametrize("case", list(SCATTERS))
def test_scatter_family_keeps_self_layout(case: str) -> None:
    """PyTorch's out-of-place scatters clone ``self`` keeping its layout (a transposed self: a transposed result);
    index_put and the select/slice/diagonal scatters gave C order."""
    ours, theirs = SCATTERS[case](mg, _transposed_self(mg)), SCATTERS[case](torch, _transposed_self(torch))
    assert _layout(ours) == _layout(theirs)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


@pytest.mark.gpu
def test_layouts_on_gpu_as_on_cpu() -> None:
    """The same layouts from device arrays (a real GPU, or the strict CuPy stand-in): no host copies."""
    results = []
    for device in ("cpu", "cuda"):
        x = mg.tensor(np.random.RandomState(0).rand(2, 3, 5, 6), device=device, requires_grad=True)
        (g,) = mg.autograd.grad(_f(mg).cross_entropy(x, _targets(mg).to(device)), x)
        y = _f(mg).conv2d(x.detach().contiguous(memory_format=mg.channels_last), _weight(mg, 4, 3, 3, 3).to(device))
        results.append((_layout(g), y.is_contiguous(memory_format=mg.channels_last), g.cpu().numpy(), y.cpu().numpy()))
    assert results[0][:2] == results[1][:2] == (((2, 3, 5, 6), (90, 30, 6, 1), True, True), True)
    np.testing.assert_allclose(results[1][2], results[0][2], rtol=1e-12)
    np.testing.assert_allclose(results[1][3], results[0][3], rtol=1e-12)
