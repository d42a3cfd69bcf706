"""Resweep of round 24's last rewrites (mixed-dtype gradient gate, conv_transpose as one op, gradient layouts).

Swept against torch 2.13 (drivers under /tmp/h24_resweep2): 1,200 random mixed float16/32/64 graphs (hooks,
retain_grad, autograd.grad of every node, create_graph), 108 float32-with-float64/int/float16-operand cases in fresh
processes with the shape cache warmed first and last, 64 complex-with-real mixes, 20 mg.compile replays of mixed
graphs, 36 GradScaler runs of 6 float16 steps, 380 gradient-layout cases with 4 optimizers stepping 3 times, 800
random conv_transpose configurations: no value or gradient-dtype mismatch beyond the gaps named in
test_mixed_dtype_grads_round24.

Fixed here: a convolution or transposed convolution whose result is channels-last (a channels-last x or weight,
PyTorch's suggest_memory_format) gave x and the weight C-order gradients where PyTorch's kernels allocate both
channels-last; autograd.grad w.r.t. an (N, H, W, C).permute(0, 3, 1, 2) leaf then returned a gradient whose
view(-1) raised where PyTorch's works (60 of 128 layout cases, first order and create_graph alike).
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn.functional as F

torch = pytest.importorskip("torch")


def _laid_out(lib, array: np.ndarray, channels_last: bool):  # noqa: ANN001, ANN202 - minigrad's or torch's
    """A leaf holding ``array`` (N, C, *S) and its (N, C, *S) view, channels-last when asked: the leaf is the
    (N, *S, C) array, the view its permutation (the way channels-last data arrives from an image loader)."""
    if not channels_last:
        leaf = lib.tensor(array.copy(), requires_grad=True)
        return leaf, leaf
    dims = array.ndim
    leaf = lib.tensor(np.ascontiguousarray(np.moveaxis(array, 1, -1)), requires_grad=True)
    return leaf, leaf.permute(0, dims - 1, *range(1, dims - 1))


CASES = [(op, dims, x_last, w_last, False) for op in ("conv", "conv_transpose") for dims in (2, 3)
         for x_last, w_last in ((True, False), (False, True), (True, True))]
CASES += [("conv", 2, True, False, True), ("conv_transpose", 3, False, True, True)]   # create_graph's rules


@pytest.mark.parametrize(("op", "dims", "x_last", "w_last", "create_graph"), CASES,
                         ids=[f"{o}{d}d-x{'CL' if a else 'C'}-w{'CL' if b else 'C'}{'-create_graph' if c else ''}"
                              for o, d, a, b, c in CASES])
def test_convolution_gradients_are_laid_out_as_the_result_as_torch(op: str, dims: int, x_last: bool, w_last: bool,
                                                                    create_graph: bool) -> None:
    """x's and the weight's gradients are channels-last where the result is, as PyTorch's kernels allocate them: the
    leaves' gradients from autograd.grad have torch's strides and values (an (N, H, W, C) leaf's gradient is then
    contiguous and view(-1) works as in PyTorch; it raised)."""
    rng = np.random.default_rng(dims)
    x = rng.standard_normal((2, 4) + (4,) * dims).astype(np.float32)
    w = rng.standard_normal(((4, 3) if op == "conv_transpose" else (3, 4)) + (2,) * dims).astype(np.float32)
    gy = None
    seen = []
    for lib, functional in ((mg, F), (torch, torch.nn.functional)):
        x_leaf, x_in = _laid_out(lib, x, x_last)
        w_leaf, w_in = _laid_out(lib, w, w_last)
        y = getattr(functional, f"{op}{dims}d")(x_in, w_in, stride=2 if op == "conv_transpose" else 1)
        gy = rng.standard_normal(tuple(y.shape)).astype(np.float32) if gy is None else gy
        grads = lib.autograd.grad(y, [x_leaf, w_leaf], lib.tensor(gy), create_graph=create_graph)
        seen.append([(g.stride(), g.detach().numpy().copy()) for g in grads])
    for (ours_stride, ours), (torch_stride, theirs) in zip(*seen):
        assert ours_stride == torch_stride
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)


def test_channels_last_conv_transpose_gradgradcheck() -> None:
    """The create_graph rule's channels-last gradients differentiate again correctly (float64)."""
    rng = np.random.default_rng(3)
    x = mg.tensor(rng.standard_normal((2, 2, 3, 3)), requires_grad=True)
    w = mg.tensor(np.ascontiguousarray(rng.standard_normal((2, 2, 2, 2)).transpose(0, 2, 3, 1)), requires_grad=True)

    def fn(a: mg.Tensor, b: mg.Tensor) -> mg.Tensor:
        return F.conv_transpose2d(a, b.permute(0, 3, 1, 2), stride=2, output_padding=1)

    assert mg.autograd.gradgradcheck(fn, (x, w))
