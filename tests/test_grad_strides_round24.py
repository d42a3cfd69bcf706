"""Round 24: gradients laid out as PyTorch's, so that ``g.view(-1)`` works where it works in PyTorch.

Users flatten gradients (``torch.cat([g.view(-1) for g in grads])`` in MAML and Hessian-vector code, LBFGS's flat
gradient). A differential fuzzer of ``autograd.grad`` (``create_graph`` off and on) and ``.backward()`` over ~190
ops (elementwise, matrix products, reductions, indexing, shape ops, joins, conv/pool, norms, losses) with inputs in
C, transposed, channels-last, sliced and expanded layouts compared each gradient's strides (dims longer than 1),
contiguity and ``view(-1)`` with PyTorch 2.13's. Fixed here:

- matrix products: a column-major left operand (``x.T @ W`` w.r.t. x, ``mm``/``addmm``/``linear`` of a transposed
  input) gets its gradient in its own layout, as PyTorch's mm_mat1_backward (x's gradient is then row-major); a
  vector times ``W.T`` and a matrix times a stack give the right operand PyTorch's layout (mm_mat2_backward's,
  and the stack's per-matrix column-major one of PyTorch's folded product); first order and ``create_graph``;
- ``retain_grad()``: a non-leaf's ``.grad`` is a C-order clone, as PyTorch's hook (it took the tensor's strides);
- relu, clamp (number and tensor bounds), maximum and minimum: the input's gradient laid out as PyTorch's kernels
  lay it out (threshold_backward's and where(cond, grad, 0)'s operands: the input first, then the gradient), so
  ``relu(x.t())`` gives the leaf x a row-major gradient (ours followed the incoming gradient's C order);
- max and average pools: the input's gradient in the input's suggested memory format, as PyTorch's kernels
  allocate it (channels-last for a channels-last input, a 1-d pool's (N, C, L) as its 2-d kernel reads it);
  group_norm's too (with ``create_graph`` PyTorch's formula follows the incoming gradient's layout instead);
- an expanded operand (``w.expand(...)``, a batch-1 key in attention): its gradient summed back in C order, as
  PyTorch's sum (NumPy's sum kept the incoming gradient's order of strides);
- binary_cross_entropy_with_logits: the input's gradient in the input's layout (PyTorch's steps are in place on
  σ(x); with pos_weight on pos_weight·target: the target's layout).

Left as they are (ours more permissive, or per-kernel rules not worth a node): tanh/sigmoid/elu-like backward
of a transposed input with a C-order gradient (PyTorch's kernels take the gradient's layout first, ours the
input's), ``where``/``leaky_relu``/``threshold``, ``take``/``masked_select`` of a transposed input, a conv weight's
channels-last gradient and ``cat``/``split`` gradients (views of the gradient in PyTorch, copies here), ``sum``'s
expanded gradient (PyTorch's has stride 0 everywhere).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _layout(g: Any) -> tuple:
    """What user code sees of a gradient's layout: strides of dims longer than 1, contiguity, ``view(-1)``."""
    try:
        g.view(-1)
        flat = True
    except RuntimeError:
        flat = False
    return tuple(g.shape), tuple(s for s, n in zip(g.stride(), g.shape) if n > 1), bool(g.is_contiguous()), flat


def _leaf(lib: Any, shape: tuple, seed: int) -> Any:
    values = np.round(np.random.default_rng(seed).standard_normal(shape), 3)
    return lib.tensor(values, dtype=lib.float64, requires_grad=True)


def _compare(fn: Callable, shapes: list, create_graph: bool) -> None:
    """``fn(lib, *leaves)`` returns (output, the tensors to differentiate by): their gradients' layouts and values
    equal PyTorch's, and so do the second-order gradients of a flattened first-order one."""
    got = {}
    for lib in (torch, mg):
        leaves = [_leaf(lib, shape, seed) for seed, shape in enumerate(shapes)]
        out, targets = fn(lib, *leaves)
        seed = np.round(np.random.default_rng(9).standard_normal(tuple(out.shape)), 3)
        grads = lib.autograd.grad(out, targets, lib.tensor(seed, dtype=lib.float64), create_graph=create_graph)
        layouts = [_layout(g) for g in grads]
        values = [g.detach().numpy().copy() for g in grads]
        if create_graph:   # a Hessian-vector product from the flattened gradients, as users write it
            flat = lib.cat([g.reshape(-1) for g in grads])
            second = lib.autograd.grad((flat * flat).sum(), leaves, allow_unused=True)
            values += [s.detach().numpy().copy() for s in second if s is not None]
        got[lib] = layouts, values
    assert got[mg][0] == got[torch][0]
    for ours, theirs in zip(got[mg][1], got[torch][1]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


MATMUL: dict[str, tuple[Callable, list]] = {
    # (output, targets): the leaves and the transposed views the product multiplies
    "x.T @ w": (lambda lib, x, w: (x.T @ w, [x, w]), [(4, 3), (4, 5)]),
    "x.T @ w.T": (lambda lib, x, w: (x.T @ w.T, [x, w]), [(4, 3), (5, 4)]),
    "mm(x.t(), w) view": (lambda lib, x, w: (lambda u: (lib.mm(u, w), [x, u, w]))(x.t()), [(4, 3), (4, 5)]),
    "addmm(c, x.t(), w)": (lambda lib, c, x, w: (lib.addmm(c, x.t(), w), [c, x, w]), [(3, 5), (4, 3), (4, 5)]),
    "linear(x.t(), w)": (lambda lib, x, w, b: (lib.nn.functional.linear(x.t(), w, b), [x, w, b]),
                         [(4, 3), (5, 4), (5,)]),
    "v @ w.T": (lambda lib, v, w: (v @ w.T, [v, w]), [(4,), (3, 4)]),
    "x.T @ stack": (lambda lib, x, s: (x.T @ s, [x, s]), [(4, 3), (2, 4, 5)]),
    "x @ stack": (lambda lib, x, s: (x @ s, [x, s]), [(3, 4), (2, 4, 5)]),
    "v @ stack": (lambda lib, v, s: (v @ s, [v, s]), [(4,), (2, 4, 5)]),
    "x @ stack.mT": (lambda lib, x, s: (x @ s.mT, [x, s]), [(3, 4), (2, 5, 4)]),
    "stack @ batch-1 w.mT": (lambda lib, s, w: (s @ w.mT, [s, w]), [(2, 3, 4), (1, 5, 4)]),
    "x.T @ v": (lambda lib, x, v: (x.T @ v, [x, v]), [(4, 3), (4,)]),
}


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("case", list(MATMUL))
def test_matmul_gradients_in_torchs_layout(case: str, create_graph: bool) -> None:
    fn, shapes = MATMUL[case]
    _compare(fn, shapes, create_graph)


def test_frozen_weight_keeps_the_layout_rule() -> None:
    # x.T @ W with W frozen: the product keeps only W (MatMul.keep's meta), x's gradient still row-major
    for lib in (torch, mg):
        x = _leaf(lib, (4, 3), 0)
        w = _leaf(lib, (4, 5), 1).detach()
        grad, = lib.autograd.grad((x.T @ w).sin().sum(), x)
        assert grad.is_contiguous() and grad.view(-1).shape == (12,)


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.filterwarnings(r"ignore:Using backward\(\) with create_graph")
@pytest.mark.parametrize("view", ["transposed", "channels_last", "elementwise of transposed"])
def test_retained_grad_is_a_contiguous_clone_as_torch(view: str, create_graph: bool) -> None:
    # a non-leaf's retain_grad() .grad: PyTorch's hook clones the gradient in C order (a leaf's first .grad takes
    # the leaf's strides instead); ours took the tensor's strides, so y.grad.view(-1) raised
    got = {}
    for lib in (torch, mg):
        x = _leaf(lib, (2, 3, 4, 5), 0)
        if view == "channels_last":
            y = x.contiguous(memory_format=lib.channels_last)
        else:
            y = x.transpose(1, 3) * 2.0 if view.startswith("elementwise") else x.transpose(1, 3)
        y.retain_grad()
        (y.sin() * y).sum().backward(create_graph=create_graph, retain_graph=True)
        first = _layout(y.grad), y.grad.detach().numpy().copy()
        (y.sin() * y).sum().backward()   # accumulated: .grad + new, still C order
        got[lib] = first, _layout(y.grad), y.grad.detach().numpy().copy()
    assert got[mg][0][0] == got[torch][0][0] and got[mg][1] == got[torch][1]
    np.testing.assert_allclose(got[mg][0][1], got[torch][0][1], rtol=1e-12)
    np.testing.assert_allclose(got[mg][2], got[torch][2], rtol=1e-12)


SELECTIONS: dict[str, Callable] = {
    "relu": lambda lib, u, o: u.relu(),
    "clamp": lambda lib, u, o: u.clamp(-0.5, 0.5),
    "clamp_min": lambda lib, u, o: u.clamp(min=0.0),
    "clamp tensor bound": lambda lib, u, o: lib.clamp(u, min=o),
    "maximum": lambda lib, u, o: lib.maximum(u, o),
    "minimum of the other first": lambda lib, u, o: lib.minimum(o, u),
}


@pytest.mark.parametrize("incoming", ["C", "transposed"])
@pytest.mark.parametrize("op", list(SELECTIONS))
def test_selection_gradients_follow_the_input_as_torch(op: str, incoming: str) -> None:
    def fn(lib: Any, x: Any, other: Any) -> tuple:
        u = x.t()   # (3, 4), column-major: torch's kernels give u a gradient in its layout, x a row-major one
        out = SELECTIONS[op](lib, u, other)
        if incoming == "transposed":
            out = out.t().contiguous().t()   # the gradient arriving column-major: still u's layout
        return out, [x, u, other] if "tensor" in op or "mum" in op else [x, u]
    _compare(fn, [(4, 3), (3, 4)], create_graph=False)


POOLS: dict[str, tuple[Callable, tuple, Callable]] = {
    # (pool, the leaf's shape, the leaf viewed as the pool's input)
    "max_pool2d channels-last": (lambda F, u: F.max_pool2d(u, 2), (2, 4, 4, 3), lambda x: x.permute(0, 3, 1, 2)),
    "avg_pool2d channels-last": (lambda F, u: F.avg_pool2d(u, 2, padding=1), (2, 4, 4, 3),
                                 lambda x: x.permute(0, 3, 1, 2)),
    "max_pool1d channels innermost": (lambda F, u: F.max_pool1d(u, 2), (2, 6, 3), lambda x: x.transpose(1, 2)),
    "avg_pool1d channels innermost": (lambda F, u: F.avg_pool1d(u, 3, 1), (2, 6, 3), lambda x: x.transpose(1, 2)),
    "max_pool2d transposed": (lambda F, u: F.max_pool2d(u, 2), (2, 3, 4, 4), lambda x: x.transpose(2, 3)),
}


@pytest.mark.parametrize("pool", list(POOLS))
def test_pool_input_gradient_in_the_suggested_format_as_torch(pool: str) -> None:
    run, shape, view = POOLS[pool]

    def fn(lib: Any, x: Any) -> tuple:
        u = view(x)
        return run(lib.nn.functional, u), [x, u]
    _compare(fn, [shape], create_graph=False)


@pytest.mark.parametrize("create_graph", [False, True])
def test_group_norm_input_gradient_as_torch(create_graph: bool) -> None:
    def fn(lib: Any, x: Any, weight: Any, bias: Any) -> tuple:
        u = x.permute(0, 3, 1, 2)   # a channels-last (2, 4, 3, 2) view of the C-order leaf
        return lib.nn.functional.group_norm(u, 2, weight, bias), [x, u, weight, bias]
    _compare(fn, [(2, 3, 2, 4), (4,), (4,)], create_graph=create_graph)


@pytest.mark.parametrize("pos_weight", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_bce_with_logits_input_gradient_as_torch(reduction: str, pos_weight: bool) -> None:
    def fn(lib: Any, x: Any, target: Any, weight: Any) -> tuple:
        u = x.t()   # column-major logits: PyTorch's gradient is column-major too, the leaf's row-major
        extra = {"pos_weight": weight.detach().abs()} if pos_weight else {}
        out = lib.nn.functional.binary_cross_entropy_with_logits(u, target.detach().sigmoid(), reduction=reduction,
                                                                 **extra)
        return out, [x, u]
    _compare(fn, [(4, 3), (3, 4), (4,)], create_graph=False)


EXPANDED: dict[str, tuple[Callable, list]] = {
    "x @ w.expand(2, 4, 5)": (lambda lib, x, w: (x @ w.expand(2, 4, 5), [x, w]), [(3, 4), (1, 4, 5)]),
    "x.expand(2, 3, 4).permute": (lambda lib, x: (x.expand(2, 3, 4).permute(0, 2, 1) * 2.0, [x]), [(1, 3, 4)]),
    "attention, one key for the batch": (
        lambda lib, q, k, v: (lib.nn.functional.scaled_dot_product_attention(q, k.expand(2, 5, 4), v), [q, k, v]),
        [(2, 3, 4), (1, 5, 4), (2, 5, 4)]),
}


@pytest.mark.parametrize("case", list(EXPANDED))
def test_expanded_operand_gradient_is_summed_in_c_order(case: str) -> None:
    fn, shapes = EXPANDED[case]
    _compare(fn, shapes, create_graph=False)


@pytest.mark.gpu
def test_round24_gradient_layouts_on_cuda() -> None:
    """The layout rules above run on the device (CuPy, or the strict stand-in) with the CPU's strides and values."""
    def program(device: str) -> list:
        values = np.round(np.random.default_rng(4).standard_normal((4, 3)), 3)
        x = mg.tensor(values, device=device, requires_grad=True)
        w = mg.tensor(values[:, :2] * 2.0, device=device, requires_grad=True)
        v = mg.tensor(values[0], device=device, requires_grad=True)
        pooled = mg.tensor(np.arange(96.0).reshape(2, 4, 4, 3) / 96, device=device, requires_grad=True)
        out = ((x.T @ w).relu().sum() + (v @ x.T.T.T).clamp(-1, 1).sum()
               + mg.nn.functional.max_pool2d(pooled.permute(0, 3, 1, 2), 2).sum()
               + mg.nn.functional.binary_cross_entropy_with_logits(x.t(), w.detach()[:3, :1].expand(3, 4).sigmoid()))
        return list(mg.autograd.grad(out, [x, w, v, pooled]))

    cpu, gpu = program("cpu"), program("cuda")
    for k, (c, g) in enumerate(zip(cpu, gpu)):
        assert g.device.type == "cuda" and g.stride() == c.stride(), k
        np.testing.assert_allclose(g.cpu().numpy(), c.numpy(), rtol=1e-12, err_msg=f"gradient {k}")
