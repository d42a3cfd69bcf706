"""float16 gradients round where PyTorch's do: bit for bit against torch where its CPU kernel computes in float32
and rounds once, and the gradient of every leaf in the leaf's own dtype."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")


def _grads(lib, fn, a32, b16, w):
    """x.grad of a float32 leaf cast to float16 and of a float16 leaf, through ``fn``, from the gradient ``w``."""
    x = lib.tensor(a32.copy(), requires_grad=True)
    h = lib.tensor(b16.copy(), requires_grad=True)
    out = fn(lib, x.to(lib.float16), h)
    out.backward(lib.tensor(w.reshape(tuple(out.shape)).copy()))
    return [None if t.grad is None else t.grad.numpy().copy() for t in (x, h)]


def _assert_bitwise(fn, seed, shape=(4, 7), out_shape=None):
    rng = np.random.default_rng(seed)
    a32 = (rng.standard_normal(shape) * 2).astype(np.float32)
    b16 = (rng.standard_normal(shape) * 2).astype(np.float16)
    w = rng.standard_normal(shape if out_shape is None else out_shape).astype(np.float16)
    ours, theirs = _grads(mg, fn, a32, b16, w), _grads(torch, fn, a32, b16, w)
    for name, g, t in zip(("float32 leaf", "float16 leaf"), ours, theirs):
        assert (g is None) == (t is None), name
        if g is None:
            continue
        assert g.dtype == t.dtype, f"{name}: {g.dtype} != {t.dtype}"
        assert np.array_equal(g.view(np.uint16 if g.dtype == np.float16 else np.uint32),
                              t.view(np.uint16 if t.dtype == np.float16 else np.uint32)), f"{name}:\n{g}\n{t}"


# PyTorch's softmax and log_softmax backward kernels read the float16 output (softmax · (gy - Σ gy·softmax),
# gy - exp(output) · Σgy) in float32 and round once; ours read the float32 values before the output's rounding
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("case", [
    lambda L, y, h: y.softmax(-1) * h,
    lambda L, y, h: y.softmax(0) + h,
    lambda L, y, h: y.log_softmax(-1) + h,
    lambda L, y, h: y.log_softmax(0) * h,
    lambda L, y, h: L.nn.functional.cross_entropy(y, L.tensor([0, 3, 6, 2]), reduction="none") * h[:, 0],
    lambda L, y, h: L.nn.functional.kl_div(y.log_softmax(-1), h.softmax(-1).detach(), reduction="batchmean"),
], ids=["softmax-1", "softmax0", "log_softmax-1", "log_softmax0", "cross_entropy", "kl_div"])
def test_softmax_family_backward_reads_float16_output(case, seed):
    out = case(mg, mg.zeros((4, 7), dtype=mg.float16), mg.zeros((4, 7), dtype=mg.float16))
    _assert_bitwise(case, seed, out_shape=tuple(out.shape))


# a broadcast operand's gradient: summed in float32 and rounded once (NumPy's float16 sum rounds at every row)
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("case", [
    lambda L, y, h: y * h[0],
    lambda L, y, h: y[:1] + h,
    lambda L, y, h: L.where(y > 0, h[:, :1], y),
], ids=["mul-row", "add-row", "where-column"])
def test_broadcast_gradient_summed_in_float32(case, seed):
    _assert_bitwise(case, seed, shape=(40, 7))


# a float16 array times / over a Python number: the backward multiplies by the number in float32, as the forward
# and PyTorch's kernel (NumPy rounds 0.3 to float16 first: one step off)
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("case", [
    lambda L, y, h: y * 0.3 + h * 0.7,
    lambda L, y, h: 0.3 * y - 0.1 * h,
    lambda L, y, h: y / 0.3 + h / 0.7,
    lambda L, y, h: L.where(y > 0, y, y * 0.1) * h,
], ids=["mul", "rmul", "div", "leaky"])
def test_float16_times_number_backward(case, seed):
    _assert_bitwise(case, seed)


def test_leaf_gradient_dtypes_through_casts():
    """Every leaf's gradient is in its own dtype, through casts in and out of float16 and a second use."""
    x = mg.tensor(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    d = mg.tensor(np.linspace(1, 2, 3), requires_grad=True)
    h = x.to(mg.float16)
    loss = ((h.softmax(-1) * 0.3).double() * d).sum() + (h.float() * x).sum() + (h * d.half()).log_softmax(0).sum()
    loss.backward()
    assert x.grad.dtype == mg.float32 and d.grad.dtype == mg.float64


# binary_cross_entropy_with_logits' input gradient σ(x) - y: σ(x) of a float16 x as PyTorch's sigmoid kernel, in
# float32 rounded once (it was rounded at each of e^-x, 1 + e^-x and 1 / (1 + e^-x): up to 3 float16 steps off)
@pytest.mark.parametrize("seed", range(3))
def test_bce_with_logits_sigmoid_rounds_once(seed):
    _assert_bitwise(lambda L, y, h: L.nn.functional.binary_cross_entropy_with_logits(
        y * 4, (h.detach() > 0).to(L.float16), reduction="none"), seed, shape=(8, 33))
