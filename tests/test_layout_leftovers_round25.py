"""Round 25: result and gradient layouts left over from round 24, compared with PyTorch 2.13.

A leaf's ``.grad`` after ``backward()`` already follows PyTorch (its AccumulateGrad lays a gradient out as the leaf);
``autograd.grad`` hands back the backward formula's own result, whose strides follow PyTorch's TensorIterator over
the formula's operands: most unary formulas are ``grad * f'(x)`` (the incoming gradient decides), erf, erfc,
erfinv, erfcx and ndtr's are ``f'(x) * grad`` (x decides). NumPy's order "K" gives C order where the two disagree,
so an incoming gradient given transposed to ``autograd.grad`` came back C order here and transposed in PyTorch
(``.view(-1)`` then works here and raises there). Sweep (/tmp driver, float64, 27 input layouts x incoming gradients
of ones, C order, transposed, channels-last and expanded, w.r.t. the viewed leaf and a non-contiguous leaf):
55,620 gradient cases of 93 unary ops, 3,092 with other strides (dims longer than 1) before, 1,185 after (left:
tanh/sigmoid/exp, whose check would add opcodes to every recurrent step, and identity formulas that hand an expanded
incoming gradient through as it is in PyTorch). Where-based activations: 1,421 -> 762 of 21,360 (first order
435 -> 144); index ops: 149 -> 105 of 3,648; matmul/bmm/baddbmm/einsum: 2,654 -> 1,490 of 15,548.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _strides(g: Any) -> tuple:
    """The strides user code sees (dims longer than 1) and whether ``view(-1)`` works."""
    try:
        g.view(-1)
        flat = True
    except RuntimeError:
        flat = False
    return tuple(s for s, n in zip(g.stride(), g.shape) if n > 1), flat


def _unary_gradient(lib: Any, name: str, x_transposed: bool, g_transposed: bool) -> Any:
    """The gradient ``autograd.grad`` gives for ``name(x)`` (3, 4), x and the incoming gradient C order or
    transposed."""
    rng = np.random.default_rng(0)
    values = rng.random((4, 3)) * 0.5 + 0.2
    gradient = rng.random((4, 3))
    x = lib.tensor(values if x_transposed else values.T.copy(), dtype=lib.float64)
    x = (x.t() if x_transposed else x).requires_grad_()
    g = lib.tensor(gradient if g_transposed else gradient.T.copy(), dtype=lib.float64)
    g = g.t() if g_transposed else g
    module, _, op = name.rpartition(".")
    fn = getattr(lib.special if module == "special" else lib, op)
    (gx,) = lib.autograd.grad(fn(x), x, g)
    return gx


@pytest.mark.parametrize("x_transposed", [False, True])
@pytest.mark.parametrize("name", ["log", "sqrt", "abs", "sin", "cos", "log1p", "expm1", "log2", "rsqrt",
                                  "reciprocal", "asin", "atanh", "lgamma", "i0", "erf", "erfc", "erfinv",
                                  "special.erfcx", "special.ndtr", "special.ndtri", "special.log_ndtr", "special.i1e",
                                  "special.entr"])
def test_unary_gradient_follows_pytorchs_formula_operand_order(name: str, x_transposed: bool) -> None:
    ours = _unary_gradient(mg, name, x_transposed, not x_transposed)
    theirs = _unary_gradient(torch, name, x_transposed, not x_transposed)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-14)
    assert _strides(ours) == _strides(theirs)


@pytest.mark.parametrize("name, args", [("alias_copy", ()), ("detach_copy", ()), ("permute_copy", ((1, 0, 2),)),
                                        ("transpose_copy", (0, 2)), ("slice_copy", (2, 0, 4, 2)),
                                        ("unsqueeze_copy", (1,)), ("squeeze_copy", ()), ("unbind_copy", (2,)),
                                        ("split_copy", (1, 2)), ("unfold_copy", (0, 2, 1))])
def test_copy_functions_give_c_order(name: str, args: tuple) -> None:
    """PyTorch's ``*_copy`` functions are the view then ``clone(memory_format=torch.contiguous_format)``: C order
    whatever the input's layout (39 of 85 layout cases kept the view's strides here, so a later ``.view(-1)``
    raised here and worked in PyTorch)."""
    base = np.random.default_rng(0).random((4, 2, 4))
    got = {}
    for lib in (torch, mg):
        leaf = lib.tensor(base, requires_grad=True)
        pieces = getattr(lib, name)(leaf.permute(2, 1, 0), *args)
        pieces = list(pieces) if isinstance(pieces, (tuple, list)) else [pieces]
        got[lib] = [(tuple(p.shape), p.stride(), p.detach().numpy().copy()) for p in pieces]
        if name != "detach_copy":
            sum(p.sum() for p in pieces).backward()
            got[lib].append(leaf.grad.numpy().copy())
    for ours, theirs in zip(got[mg], got[torch]):
        if isinstance(ours, tuple):
            assert ours[:2] == theirs[:2]
            np.testing.assert_array_equal(ours[2], theirs[2])
        else:
            np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("dtype", ["float64", "int64", "complex128"])
@pytest.mark.parametrize("layout", ["transposed", "permuted", "sliced", "expanded"])
def test_isreal_keeps_the_input_layout(layout: str, dtype: str) -> None:
    """isreal is PyTorch's ones_like(x) (preserve_format) for a real x and imag(x) == 0 for a complex one: x's
    order of strides (NumPy's isreal gave C order: 15 of 92 layout cases differed)."""
    base = np.random.default_rng(1).random((2, 3, 4)).astype(dtype)
    if dtype == "complex128":
        base = base + 1j * (base.real > 0.5)
    views = {"transposed": lambda t: t[0].t(), "permuted": lambda t: t.permute(2, 0, 1),
             "sliced": lambda t: t.permute(2, 1, 0)[::2], "expanded": lambda t: t[:, :1].expand(2, 3, 4)}
    ours = mg.isreal(views[layout](mg.tensor(base)))
    theirs = torch.isreal(views[layout](torch.tensor(base)))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert ours.stride() == theirs.stride()


ACTIVATIONS = {"elu": lambda F, t: F.elu(t), "selu": lambda F, t: F.selu(t), "celu": lambda F, t: F.celu(t, 0.7),
               "leaky_relu": lambda F, t: F.leaky_relu(t, 0.1), "hardtanh": lambda F, t: F.hardtanh(t, -0.5, 0.5),
               "relu6": lambda F, t: F.relu6(t * 8), "hardsigmoid": lambda F, t: F.hardsigmoid(t * 4),
               "hardswish": lambda F, t: F.hardswish(t * 4), "silu": lambda F, t: F.silu(t),
               "gelu": lambda F, t: F.gelu(t), "gelu_tanh": lambda F, t: F.gelu(t, approximate="tanh"),
               "mish": lambda F, t: F.mish(t), "softplus": lambda F, t: F.softplus(t, beta=2, threshold=1)}


@pytest.mark.parametrize("x_transposed", [False, True])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_gradient_follows_pytorchs_kernel_operand_order(name: str, x_transposed: bool) -> None:
    """The activations' backward kernels iterate over (grad, x) (leaky_relu's over (x, grad)): with the incoming
    gradient and x in different layouts, ``autograd.grad`` gives the first one's layout (first order). Sweep: 10,680
    ``autograd.grad`` cases of 29 activations, 1,421 with other strides before, 1,109 after (the rest: create_graph
    rules, the where-composed shrinks/threshold/rrelu/prelu, masked_fill)."""
    import nn.functional as MF

    got = {}
    for lib, F in ((torch, torch.nn.functional), (mg, MF)):
        rng = np.random.default_rng(2)
        values, gradient = rng.standard_normal((4, 3)), rng.random((4, 3))
        x = lib.tensor(values if x_transposed else values.T.copy(), dtype=lib.float64)
        x = (x.t() if x_transposed else x).requires_grad_()
        g = lib.tensor(gradient if not x_transposed else gradient.T.copy(), dtype=lib.float64)
        g = g.t() if not x_transposed else g
        (gx,) = lib.autograd.grad(ACTIVATIONS[name](F, x), x, g)
        got[lib] = gx.detach().numpy().copy(), _strides(gx)
    # (PyTorch's float64 hardsigmoid/hardswish kernels use float32's 1/6: 4e-8 relative from the exact slope)
    np.testing.assert_allclose(got[mg][0], got[torch][0], rtol=1e-7, atol=1e-14)
    assert got[mg][1] == got[torch][1]


WHERE_BASED = {
    "where": lambda lib, F, t: lib.where(t > 0.2, t, 0.0),
    "where_tensors": lambda lib, F, t: lib.where(t > 0.2, t, t * 2),
    "masked_fill": lambda lib, F, t: t.masked_fill(t > 0.2, 0.0),
    "masked_fill_tensor": lambda lib, F, t: t.masked_fill(t > 0.2, lib.tensor(1.5, dtype=t.dtype)),
    "threshold": lambda lib, F, t: F.threshold(t, 0.1, -2.0),
    "prelu": lambda lib, F, t: F.prelu(t, lib.tensor([0.25], dtype=t.dtype)),
    "rrelu_eval": lambda lib, F, t: F.rrelu(t, training=False),
    "hardshrink": lambda lib, F, t: F.hardshrink(t, 0.3),
    "softshrink": lambda lib, F, t: F.softshrink(t, 0.3),
}


@pytest.mark.parametrize("layouts", ["x C, grad transposed", "x transposed, grad C", "x channels-last, grad C"])
@pytest.mark.parametrize("name", sorted(WHERE_BASED))
def test_where_based_gradient_layouts(name: str, layouts: str) -> None:
    """where's backward is where(condition, grad, 0), a TensorIterator over the condition first (x's layout wins:
    threshold, prelu, the eval rrelu's leaky_relu too); masked_fill's is grad.masked_fill(mask, 0), a C-order
    clone; the shrinks' kernels iterate over (grad, x). rrelu's C-order result used to come from a C-order copy of
    x, so x's gradient was C order too. First order: 435 of 5,340 sweep cases had other strides, 144 after (the
    rest: logsigmoid/tanhshrink/softsign compositions and expanded leaves)."""
    import nn.functional as MF

    got = {}
    for lib, F in ((torch, torch.nn.functional), (mg, MF)):
        rng = np.random.default_rng(3)
        if layouts == "x channels-last, grad C":
            values, gradient = rng.standard_normal((2, 3, 2, 2)), rng.random((2, 3, 2, 2))
            x = lib.tensor(values, dtype=lib.float64).contiguous(memory_format=lib.channels_last).requires_grad_()
            g = lib.tensor(gradient, dtype=lib.float64)
        else:
            x_transposed = layouts.startswith("x transposed")
            values, gradient = rng.standard_normal((4, 3)), rng.random((4, 3))
            x = lib.tensor(values if x_transposed else values.T.copy(), dtype=lib.float64)
            x = (x.t() if x_transposed else x).requires_grad_()
            g = lib.tensor(gradient.T.copy() if x_transposed else gradient, dtype=lib.float64)
            g = g if x_transposed else g.t()
        (gx,) = lib.autograd.grad(WHERE_BASED[name](lib, F, x), x, g)
        got[lib] = gx.detach().numpy().copy(), _strides(gx)
    np.testing.assert_allclose(got[mg][0], got[torch][0], rtol=1e-12, atol=1e-14)
    assert got[mg][1] == got[torch][1]


def _matrix_layout(g: Any) -> str:
    return "C" if g.is_contiguous() else "T" if g.transpose(-1, -2).is_contiguous() else str(g.stride())


@pytest.mark.parametrize("shape_a, shape_b, a_column_major, b_column_major", [
    ((3,), (1, 3, 4), False, False), ((3,), (1, 1, 3, 4), False, False), ((1, 2, 3), (3, 4), True, False),
    ((1, 1, 2, 3), (3, 4), True, True), ((1, 2, 3), (2, 3, 4), True, False), ((1, 2, 3), (1, 3, 4), False, True),
    ((1, 2, 3), (1, 2, 3, 4), False, False), ((1, 1, 2, 3), (2, 3, 4), False, True),
    ((2, 2, 3), (1, 1, 3, 4), False, True), ((2, 1, 2, 3), (1, 3, 4), True, True), ((2, 3), (1, 3, 4), False, False),
    ((2, 3), (2, 3, 4), True, True), ((2, 2, 3), (1, 3, 4), False, True)])
def test_matmul_gradients_of_broadcast_batches(shape_a: tuple, shape_b: tuple, a_column_major: bool,
                                               b_column_major: bool) -> None:
    """PyTorch 2.13's matmul folds a stack into the rows of one mm against a 1-D or 2-D operand (or a (1, n, k) one
    against a (B, k, m) stack), mm's backward keeping a column-major operand's layout, and runs bmm (C-order
    gradients) otherwise. Ours folded every operand whose batch is 1 ((1, 2, 3) @ (1, 2, 3, 4) gave b a per-matrix
    column-major gradient) and never a 1-D one: 44 of 144 layout cases of ``autograd.grad`` w.r.t. both operands
    differed before (values equal), none after; the sweep's 15,548 matmul/bmm/baddbmm/einsum gradient cases: 2,654
    with other strides before, 1,490 after (einsum's own contractions and transposed incoming gradients left)."""
    got = {}
    for lib in (torch, mg):
        rng = np.random.default_rng(5)
        values_a, values_b = rng.random(shape_a), rng.random(shape_b)
        a, b = lib.tensor(values_a), lib.tensor(values_b)
        if a_column_major:
            a = lib.tensor(np.swapaxes(values_a, -1, -2).copy()).transpose(-1, -2)
        if b_column_major:
            b = lib.tensor(np.swapaxes(values_b, -1, -2).copy()).transpose(-1, -2)
        a.requires_grad_(), b.requires_grad_()
        y = lib.matmul(a, b)
        grads = lib.autograd.grad(y, [a, b], lib.ones_like(y))
        got[lib] = [(g.detach().numpy().copy(), _matrix_layout(g)) for g in grads]
    for (ours, our_layout), (theirs, their_layout) in zip(got[mg], got[torch]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
        assert our_layout == their_layout


@pytest.mark.parametrize("op", ["masked_fill_", "masked_fill_tensor_", "copy_", "fill_", "zero_", "where_other"])
@pytest.mark.parametrize("layouts", [(False, True, True), (True, True, False), (True, False, True)])
def test_in_place_fill_gradient_layouts(op: str, layouts: tuple) -> None:
    """masked_fill_'s old value gets grad.masked_fill(mask, 0) (a C-order clone) and copy_'s zeros_like(grad,
    contiguous); fill_/zero_'s zeros_like(grad) keeps the gradient's layout; where(mask, 0, x) the mask's first.
    A transposed mask gave masked_fill_ a transposed gradient, a transposed incoming gradient gave copy_'s old
    value one (8 of 72 fill cases)."""
    x_transposed, g_transposed, mask_transposed = layouts
    got = {}
    for lib in (torch, mg):
        rng = np.random.default_rng(6)
        values, gradient = rng.standard_normal((4, 3)), rng.random((4, 3))
        x = lib.tensor(values if x_transposed else values.T.copy())
        x = (x.t() if x_transposed else x).requires_grad_()
        mask = (lib.tensor(values) > 0).t() if mask_transposed else lib.tensor(values.T.copy()) > 0
        g = lib.tensor(gradient).t() if g_transposed else lib.tensor(gradient.T.copy())
        y = x * 1
        if op == "masked_fill_":
            y.masked_fill_(mask, 0.0)
        elif op == "masked_fill_tensor_":
            y.masked_fill_(mask, lib.tensor(0.5, dtype=lib.float64))
        elif op == "copy_":
            y.copy_(lib.ones(3, 4, dtype=lib.float64))
        elif op == "fill_":
            y.fill_(2.0)
        elif op == "zero_":
            y.zero_()
        else:
            y = lib.where(mask, 0.0, y)
        (gx,) = lib.autograd.grad(y, x, g)
        got[lib] = gx.detach().numpy().copy(), gx.stride()
    np.testing.assert_array_equal(got[mg][0], got[torch][0])
    assert got[mg][1] == got[torch][1]


@pytest.mark.parametrize("layout", ["transposed", "channels-last", "broadcast mask"])
def test_masked_select_gradient_in_the_input_layout(layout: str) -> None:
    """PyTorch's masked_select_backward scatters into zeros_like(x) (preserve_format): x's layout; ours was C order
    (an advanced index's IndexBackward, which PyTorch allocates C order)."""
    got = {}
    for lib in (torch, mg):
        rng = np.random.default_rng(7)
        if layout == "channels-last":
            values = rng.standard_normal((2, 3, 2, 2))
            x = lib.tensor(values).contiguous(memory_format=lib.channels_last).requires_grad_()
            mask = lib.tensor(values) > 0
        else:
            values = rng.standard_normal((4, 3))
            x = lib.tensor(values).t().requires_grad_()
            mask = lib.tensor([True, False, True, True]) if layout == "broadcast mask" else lib.tensor(values.T > 0)
        out = lib.masked_select(x, mask)
        (gx,) = lib.autograd.grad(out, x, lib.tensor(rng.random(tuple(out.shape))))
        got[lib] = gx.detach().numpy().copy(), gx.stride()
    np.testing.assert_array_equal(got[mg][0], got[torch][0])
    assert got[mg][1] == got[torch][1]


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("layout", ["transposed", "permuted", "sliced", "channels-last"])
def test_take_gradient_in_the_input_layout(layout: str, create_graph: bool) -> None:
    """PyTorch's take_backward puts the gradient into zeros_like(x): x's layout; ours came back C order through the
    flattening reshape (32 of 96 index-sweep cases). x is now read in its memory's order with the indices moved
    to match; values unchanged, repeated and negative indices included (a size-1 dim's stride may differ)."""
    views = {"transposed": lambda t: t[0].t(), "permuted": lambda t: t.permute(2, 0, 1),
             "sliced": lambda t: t.permute(2, 1, 0)[::2], "channels-last": lambda t: t[None].permute(0, 3, 1, 2)}
    got = {}
    for lib in (torch, mg):
        rng = np.random.default_rng(8)
        base = lib.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
        x = views[layout](base)
        index = lib.tensor([[0, -1, 5], [5, 2, 0]])
        out = lib.take(x, index)
        (gx, gbase) = lib.autograd.grad(out, (x, base), lib.tensor(rng.random((2, 3))), create_graph=create_graph)
        got[lib] = out.detach().numpy().copy(), gx.detach().numpy().copy(), _strides(gx), _strides(gbase)
    for ours, theirs in zip(got[mg], got[torch]):
        if isinstance(ours, tuple):
            assert ours == theirs
        else:
            np.testing.assert_array_equal(ours, theirs)
