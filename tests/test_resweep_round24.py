"""Round 24 resweep: this round's rewrites (conv backward by kernel offset, batch norm's direct running-estimate
writes, F.linear's one node, the elementwise layout rule, float16 backward rounding) fuzzed end to end against
PyTorch; each test pins a difference the sweep found.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn.functional as F  # noqa: N812

torch = pytest.importorskip("torch")


# --- convolution ---------------------------------------------------------------------------------

@pytest.mark.parametrize("size,stride,padding,dilation", [
    (2, 2, 1, 1), (2, 3, 2, 2), (5, 2, 2, 1), (4, 3, 3, 1), (3, 1, 0, 2)])
def test_conv_1x1_kernel_keeping_the_size_with_stride_and_padding(size, stride, padding, dilation):
    """A 1×1 kernel whose stride and padding keep the input's size is not pointwise (x's own columns): the windows
    read padded positions 0, stride, … (1×1 conv1d of size 2 at stride 2, padding 1 returned x itself)."""
    rng = np.random.default_rng(0)
    xs, ws = rng.standard_normal((3, 2, size)), rng.standard_normal((4, 2, 1))
    gys = None
    results = []
    for lib, conv in ((torch, torch.nn.functional.conv1d), (mg, F.conv1d)):
        x = lib.tensor(xs, requires_grad=True)
        w = lib.tensor(ws, requires_grad=True)
        y = conv(x, w, None, stride, padding, dilation)
        gys = rng.standard_normal(tuple(y.shape)) if gys is None else gys
        y.backward(lib.tensor(gys))
        results.append([np.asarray(t.detach().numpy()) for t in (y, x.grad, w.grad)])
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_conv_1x1_of_a_permuted_input_is_c_order():
    """A 1×1 convolution reads x's own columns; NumPy's matmul took x's order for the result, where PyTorch's is C
    order (an (N, C, L) input laid out C first gave strides (12, 36, 1) for (3, 2, 12))."""
    xs = np.random.default_rng(1).standard_normal((4, 3, 12)).transpose(1, 0, 2)
    ws = np.random.default_rng(2).standard_normal((2, 2, 1))
    tx = torch.tensor(np.ascontiguousarray(xs.transpose(1, 0, 2))).transpose(0, 1)
    mx = mg.tensor(np.ascontiguousarray(xs.transpose(1, 0, 2))).transpose(0, 1)
    ty = torch.nn.functional.conv1d(tx, torch.tensor(ws), groups=2)
    my = F.conv1d(mx, mg.tensor(ws), groups=2)
    assert my.stride() == ty.stride() == (24, 12, 1)
    np.testing.assert_allclose(my.numpy(), ty.numpy(), rtol=1e-12)


@pytest.mark.parametrize("batch,channels,size,kernel,threads,kwargs", [
    (1, 4, (6, 6, 6), (3, 3, 3), 2, {}),                  # one sample, 3×3: native, C order
    (1, 4, (6, 6, 6), (3, 3, 3), 2, {"groups": 2}),       # groups: mkldnn
    (1, 4, (6, 6, 6), (1, 4, 4), 2, {}),                  # kernel over 3×3 in its last two dims: mkldnn
    (1, 4, (6, 6, 6), (1, 4, 3), 2, {}),
    (1, 16, (40, 40, 2), (3, 3, 1), 2, {}),               # N·C·S₁·S₂ = 25600 > 20480: mkldnn
    (1, 12, (40, 40, 2), (3, 3, 1), 2, {}),               # 19200: native
    (2, 4, (6, 6, 6), (1, 1, 1), 1, {}),                  # 1×1 on one thread: native
    (2, 4, (6, 6, 6), (1, 1, 1), 1, {"stride": 2}),
    (2, 4, (6, 6, 6), (1, 1, 1), 2, {}),
    (2, 4, (6, 6, 6), (3, 3, 3), 1, {}),
])
def test_conv3d_float32_channels_last_layout_follows_pytorchs_kernel_choice(batch, channels, size, kernel, threads,
                                                                             kwargs):
    """float32 conv3d of a channels_last_3d input is channels_last_3d only where PyTorch takes mkldnn
    (ConvParams::use_mkldnn); its native 3-D kernel gives C order (every single-sample conv3d came out
    channels-last here)."""
    groups = kwargs.get("groups", 1)
    shape, wshape = (batch, channels, *size), (4, channels // groups, *kernel)
    strides = []
    before = (torch.get_num_threads(), mg.get_num_threads())
    try:
        for lib, conv in ((torch, torch.nn.functional.conv3d), (mg, F.conv3d)):
            lib.set_num_threads(threads)
            x = lib.zeros(shape).contiguous(memory_format=lib.channels_last_3d)
            strides.append(tuple(conv(x, lib.zeros(wshape), **kwargs).stride()))
    finally:
        torch.set_num_threads(before[0])
        mg.set_num_threads(before[1])
    assert strides[1] == strides[0]


# --- F.linear --------------------------------------------------------------------------------------

@pytest.mark.parametrize("x_shape,w_shape,b_shape,addmm", [
    ((2, 3, 4), (5, 4), (), False),      # a 0-d bias: PyTorch's matmul, then an add node of its own
    ((4,), (5, 4), (), False),
    ((2, 2, 3, 4), (4,), (), False),
    ((2, 3, 4), (5, 4), (5,), True),     # a 1-D bias with a contiguous input: one addmm node
    ((4,), (5, 4), (5,), True),
    ((3, 4), (5, 4), (), True),          # 2-D: addmm
])
def test_linear_failing_backward_gives_the_bias_its_gradient_as_pytorch(x_shape, w_shape, b_shape, addmm):
    """A backward that fails at linear's matmul (the weight changed in place) leaves the bias without a gradient
    only where PyTorch's linear is one addmm node: a 2-D input, or a contiguous one with a 1-D bias; with a 0-d bias
    PyTorch's add node has run first and the bias has its gradient (ours had none for any contiguous input)."""
    rng = np.random.default_rng(3)
    xs, ws, bs = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(b_shape)
    grads = []
    for lib, linear in ((torch, torch.nn.functional.linear), (mg, F.linear)):
        x, w, b = (lib.tensor(a, requires_grad=True) for a in (xs, ws, bs))
        y = linear(x, w, b)
        with lib.no_grad():
            w.mul_(1)
        with pytest.raises(RuntimeError):
            y.sum().backward()
        grads.append(None if b.grad is None else np.asarray(b.grad.numpy()))
    assert (grads[0] is None) is addmm
    assert (grads[1] is None) is addmm
    if not addmm:
        np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12)


# --- elementwise layout ---------------------------------------------------------------------------

def _layout_cases(lib: Any) -> list:
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 4))
    c = rng.standard_normal((2, 1, 1, 3))
    at = lib.tensor(a, requires_grad=True)
    bt = lib.tensor(b, requires_grad=True)
    ct = lib.tensor(np.ascontiguousarray(c.transpose(1, 0, 3, 2))).permute(1, 0, 3, 2)
    ct = ct.clone(memory_format=lib.preserve_format).requires_grad_(True)
    return [(at, bt, lambda: at.t() + bt),        # mixed layouts: a transposed copy (PyTorch's first operand's order)
            (ct, None, lambda: ct * 1)]           # size-1 dims restrided to PyTorch's


@pytest.mark.parametrize("case", [0, 1])
def test_in_place_op_on_an_elementwise_result_laid_out_as_pytorch(case):
    """An elementwise result copied into PyTorch's layout (iterator_layout.lay_out_as_torch) is memory of its own:
    in-place ops on it record as on any result (it was a view of the op's temporary, refused as 'a view of another
    tensor' while recording gradients)."""
    results = []
    for lib in (torch, mg):
        x, y, f = _layout_cases(lib)[case]
        z = f()
        strides = [s for s, n in zip(z.stride(), z.shape) if n != 1]   # (size-1 dims: still differ in places)
        z.mul_(lib.arange(1, z.shape[-1] + 1, dtype=z.dtype))
        z.exp().sum().backward()
        results.append((strides, [np.asarray(t.grad.numpy()) for t in (x, y) if t is not None]))
    assert results[1][0] == results[0][0]
    for ours, theirs in zip(results[1][1], results[0][1]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@pytest.mark.gpu
def test_in_place_op_on_an_elementwise_result_laid_out_as_pytorch_on_gpu():
    """The same on a GPU: the transposed copy is an array of its own (order "K" of a transposed new array)."""
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 4))
    grads = []
    for device in ("cpu", "cuda"):
        x = mg.tensor(a, device=device, requires_grad=True)
        y = mg.tensor(b, device=device, requires_grad=True)
        z = x.t() + y
        assert z.stride() == (1, 3)
        z.mul_(2)
        z.exp().sum().backward()
        grads.append([x.grad.cpu().numpy(), y.grad.cpu().numpy()])
    for ours, cpu in zip(grads[1], grads[0]):
        np.testing.assert_allclose(ours, cpu, rtol=1e-12)


@pytest.mark.parametrize("shape", [(2, 1, 3, 3), (1, 1, 1, 2), (1, 3, 1, 1)])
@pytest.mark.parametrize("spelling", ["to_dtype", "float", "to_dtype_3d"])
def test_to_another_dtype_in_channels_last_takes_pytorchs_strides(shape, spelling):
    """x.to(dtype, memory_format=channels_last) (and .float(memory_format=)) allocates in the format with PyTorch's
    strides for size-1 dims too, as contiguous/clone do since round 24: the cast's C-order array was kept where it
    is dense in both formats, and cat along C then gave a contiguous result where PyTorch's is not."""
    observed = []
    for lib in (torch, mg):
        if spelling == "to_dtype_3d":
            x = lib.zeros(shape + (2,), dtype=lib.float64)
            y = x.to(lib.float32, memory_format=lib.channels_last_3d)
        else:
            x = lib.zeros(shape, dtype=lib.float64)
            y = (x.to(lib.float32, memory_format=lib.channels_last) if spelling == "to_dtype"
                 else x.float(memory_format=lib.channels_last))
        joined = lib.cat([y, y], 1)
        observed.append((y.stride(), joined.stride(), joined.is_contiguous(), lib.stack([y, y]).is_contiguous()))
    assert observed[1] == observed[0]


_COPIED_INTO_A_LAYOUT = {   # ops whose result is copied into PyTorch's layout (memory_formats.in_format / lay_out)
    "avg_pool2d_channels_last": ("cl", lambda lib, f, x: f.avg_pool2d(x, 2)),
    "cat_transposed": ("t", lambda lib, f, x: lib.cat([x, x], 1)),
    "flip_channels_last": ("cl", lambda lib, f, x: x.flip(2)),
    "flip_transposed": ("t", lambda lib, f, x: x.flip(2)),
    "roll_transposed": ("t", lambda lib, f, x: x.roll(1, 2)),
}


@pytest.mark.parametrize("name", list(_COPIED_INTO_A_LAYOUT))
def test_in_place_op_on_a_result_copied_into_a_layout(name):
    """A result laid out as PyTorch's by a copy (channels-last avg_pool2d, cat and flip of a transposed or
    channels-last input, roll) is memory of its own (memory_formats.new_in_order): mul_ and relu_ on it record
    as on any result, as PyTorch's (a transposed view of the new array was refused as 'a view of another
    tensor' while recording gradients: avg_pool2d(x).relu_() of a channels-last x, as in a ResNet stem)."""
    layout, op = _COPIED_INTO_A_LAYOUT[name]
    xs = np.random.default_rng(5).standard_normal((2, 3, 6, 6))
    grads = []
    for lib, f in ((torch, torch.nn.functional), (mg, F)):
        if layout == "cl":
            x = lib.tensor(xs).contiguous(memory_format=lib.channels_last)
        else:
            x = lib.tensor(np.ascontiguousarray(xs.transpose(0, 1, 3, 2))).transpose(2, 3)
        x.requires_grad_(True)
        y = op(lib, f, x)
        y.mul_(2).relu_()
        y.exp().sum().backward()
        grads.append(np.asarray(x.grad.numpy()))
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12)
