"""Memory, round 21 (batch B): ops whose graph node kept more than PyTorch's node saves, compared with PyTorch.

PyTorch's nodes save only what each needed gradient reads (``MmBackward0`` keeps ``self`` only when ``mat2``
wants a gradient, and ``mat2`` only when ``self`` does), and a backward without ``retain_graph`` frees them,
indices included. Measured with weak references (cycle collector off: reference counting only) and with the
bytes of the arrays a graph's nodes hold against the bytes of PyTorch's ``grad_fn._saved_*`` tensors. No timings.
"""

from __future__ import annotations

import contextlib
import gc
import weakref
from typing import Any, Callable, Iterator

import numpy as np
import pytest

import minigrad as mg
import nn


@contextlib.contextmanager
def cycle_collector_off() -> Iterator[None]:
    """Reference counting only, inside the block."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _functional(lib: Any) -> Any:
    return nn.functional if lib is mg else lib.nn.functional


def _const(lib: Any, *shape: int) -> Any:
    return lib.tensor(np.linspace(-1, 1, int(np.prod(shape))).reshape(shape), dtype=lib.float64)


def _input(lib: Any) -> Any:
    return lib.tensor(np.linspace(-2, 2, 12).reshape(3, 4), dtype=lib.float64, requires_grad=True)


def _freed_before_backward(lib: Any, op: Callable, make: Callable = _input) -> bool:
    """``y = x.sin()`` (sin keeps x, not y), ``loss = op(y).sum()``, ``del y``: whether y's values are still
    alive (held by op's node only), before the backward. A torch Tensor that its graph saved stays alive."""
    with cycle_collector_off():
        x = make(lib)
        y = x.sin()
        ref = weakref.ref(y.data) if lib is mg else weakref.ref(y)
        loss = op(lib, y).sum()
        del y
        alive = ref() is not None
        loss.backward()
    return not alive


def _node_bytes(root: mg.Tensor, leaves: list) -> int:
    """Bytes of the distinct arrays the nodes of ``root``'s graph hold in their attributes (tuples, lists and
    dicts looked into), leaves' arrays and the root's own left out."""
    def base(a: Any) -> Any:
        while isinstance(a, np.ndarray) and a.base is not None:
            a = a.base
        return a

    skip = {id(base(t.data)) for t in leaves} | {id(base(root.data))}
    found: dict = {}

    def visit(value: Any, depth: int) -> None:
        if isinstance(value, np.ndarray):
            owner = base(value)
            if id(owner) not in skip:
                found[id(owner)] = owner.nbytes
        elif depth < 4 and type(value) in (tuple, list):
            for item in value:
                visit(item, depth + 1)
        elif depth < 4 and type(value) is dict:
            for item in value.values():
                visit(item, depth + 1)

    seen: set = set()
    stack = [root.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        for key, value in vars(node).items():
            if key != "edges":
                visit(value, 0)
        stack.extend(edge[0] for edge in node.edges if type(edge) is tuple)
    return sum(found.values())


def _torch_saved_bytes(root: Any, leaves: list) -> int:
    """Bytes of the distinct storages PyTorch's graph of ``root`` saved (``grad_fn._saved_*``), leaves left out."""
    import torch  # noqa: PLC0415 - the fixture skips without it

    skip = {t.untyped_storage().data_ptr() for t in leaves}
    found: dict = {}
    seen: set = set()
    stack = [root.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        for name in dir(node):
            if name.startswith("_saved_"):
                value = getattr(node, name)
                for t in value if isinstance(value, (tuple, list)) else (value,):
                    if isinstance(t, torch.Tensor) and t.untyped_storage().data_ptr() not in skip:
                        found[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        stack.extend(f for f, _ in node.next_functions)
    return sum(found.values())


# --- 1. matmul and einsum kept an operand no gradient reads ---------------------------------------------------------

PRODUCTS = {
    "y @ W": lambda lib, y: y @ _const(lib, 4, 5),
    "W @ y": lambda lib, y: _const(lib, 2, 3) @ y,
    "linear": lambda lib, y: _functional(lib).linear(y, _const(lib, 5, 4)),
    "linear with bias": lambda lib, y: _functional(lib).linear(y, _const(lib, 5, 4), _const(lib, 5)),
    "stack @ W": lambda lib, y: y.reshape(3, 1, 4) @ _const(lib, 4, 5),
    "vector @ W": lambda lib, y: y[0] @ _const(lib, 4, 5),
    "W @ vector": lambda lib, y: _const(lib, 5, 4) @ y[0],
    "dot": lambda lib, y: lib.dot(y[0], _const(lib, 4)),
    "mv": lambda lib, y: lib.mv(y, _const(lib, 4)),
    "bmm": lambda lib, y: lib.bmm(y.reshape(1, 3, 4), _const(lib, 1, 4, 2)),
    "batched matmul": lambda lib, y: lib.matmul(y.reshape(3, 1, 4), _const(lib, 3, 4, 2)),
    "addmm": lambda lib, y: lib.addmm(_const(lib, 3, 2), y, _const(lib, 4, 2)),
    "multi_dot": lambda lib, y: lib.linalg.multi_dot([y, _const(lib, 4, 2), _const(lib, 2, 2)]),
    "tensordot": lambda lib, y: lib.tensordot(y, _const(lib, 4, 2), dims=1),
    "einsum": lambda lib, y: lib.einsum("ij,jk->ik", y, _const(lib, 4, 2)),
    "einsum left": lambda lib, y: lib.einsum("ki,ij->kj", _const(lib, 2, 3), y),
    "einsum of three": lambda lib, y: lib.einsum("ij,jk,kl->il", y, _const(lib, 4, 2), _const(lib, 2, 2)),
    "einsum outer": lambda lib, y: lib.einsum("ij,k->ijk", y, _const(lib, 2)),
}


@pytest.mark.parametrize("case", list(PRODUCTS))
def test_a_product_with_a_frozen_operand_keeps_nothing_of_the_other(case: str, torch: Any) -> None:
    """``y @ W_frozen`` saved y's array, which only W's gradient would read (``F.linear`` of a frozen layer, a
    stack times a frozen matrix, einsum with a constant): an activation stayed alive until backward. PyTorch's
    MmBackward0 keeps ``mat2`` only; its y dies with its last user reference."""
    assert _freed_before_backward(torch, PRODUCTS[case]) is True
    assert _freed_before_backward(mg, PRODUCTS[case]) is True


def test_a_convolution_with_a_frozen_kernel_keeps_no_columns(torch: Any) -> None:
    """conv2d by im2col kept its (C·k·k, positions) column matrix for a frozen kernel's gradient nobody wanted:
    8.4x PyTorch's saved bytes here (138 KB against its input and weight, 16 KB)."""
    def graph(lib: Any) -> tuple:
        x = lib.tensor(np.linspace(-1, 1, 4096).reshape(64, 64), dtype=lib.float32, requires_grad=True)
        kernel = lib.tensor(np.linspace(-1, 1, 18).reshape(2, 1, 3, 3), dtype=lib.float32)
        return _functional(lib).conv2d((x * 2).reshape(1, 1, 64, 64), kernel).sum(), x

    loss, x = graph(mg)
    t_loss, t_x = graph(torch)
    assert _node_bytes(loss, [x]) <= _torch_saved_bytes(t_loss, [t_x])


PRODUCT_GRADS = {
    "y @ W": lambda lib, y, w: y @ w,
    "W @ y.T": lambda lib, y, w: w.T @ y.T,
    "linear": lambda lib, y, w: _functional(lib).linear(y, w.T),
    "stack @ W": lambda lib, y, w: y.reshape(3, 1, 4) @ w,
    "W.T @ stack": lambda lib, y, w: w.T @ y.reshape(3, 4, 1),
    "vector @ W": lambda lib, y, w: y[0] @ w,
    "W.T @ vector": lambda lib, y, w: w.T @ y[1],
    "vector @ vector": lambda lib, y, w: y[0] @ w[:, 1],
    "batched": lambda lib, y, w: y.reshape(3, 1, 4) @ w.reshape(1, 4, 5).expand(3, 4, 5),
    "einsum": lambda lib, y, w: lib.einsum("ij,jk->ik", y, w),
    "einsum diagonal": lambda lib, y, w: lib.einsum("ij,jj->i", y, w[:, :4]),
}


def _grads_first_and_second(lib: Any, case: str, which: str) -> list:
    """First and second derivatives of a product where only ``which`` ('y', 'w' or 'both') requires grad."""
    y = lib.tensor(np.linspace(-2, 2, 12).reshape(3, 4), dtype=lib.float64, requires_grad=which != "w")
    w = lib.tensor(np.linspace(-1, 1.5, 20).reshape(4, 5), dtype=lib.float64, requires_grad=which != "y")
    wanted = [t for t in (y, w) if t.requires_grad]
    out = PRODUCT_GRADS[case](lib, y.sin() if y.requires_grad else y, w.cos() if w.requires_grad else w)
    first = lib.autograd.grad((out * out).sum(), wanted, create_graph=True)
    second = lib.autograd.grad(sum((g * g).sum() for g in first), wanted)
    return [g.detach().numpy() for g in (*first, *second)]


@pytest.mark.parametrize("which", ["y", "w", "both"])
@pytest.mark.parametrize("case", list(PRODUCT_GRADS))
def test_a_product_keeping_one_operand_still_differentiates_twice(case: str, which: str, torch: Any) -> None:
    """Each gradient reads the other operand and its own shape only (kept beside: 1-D, stacked, batched)."""
    ours, theirs = _grads_first_and_second(mg, case, which), _grads_first_and_second(torch, case, which)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("frozen", ["x", "weight"])
def test_a_frozen_operands_product_in_a_compiled_call(frozen: str) -> None:
    """mg.compile replays keep what each op's gradient reads (the op's needs_grad at capture), and a weight's
    gradient through ``x @ W.T`` stays row-major where x was not kept (its layout flag kept instead)."""
    weight = mg.tensor(np.linspace(-1, 1, 20).reshape(5, 4), dtype=mg.float64, requires_grad=frozen == "x")
    bias = mg.tensor(np.linspace(0, 1, 5), dtype=mg.float64, requires_grad=frozen == "x")

    def loss(x: mg.Tensor) -> mg.Tensor:
        return (nn.functional.linear(x.sin(), weight, bias) ** 2).sum()

    compiled = mg.compile(loss)
    for step in range(3):
        grads = []
        for fn in (loss, compiled):
            x = mg.tensor(np.linspace(-2, 2, 12).reshape(3, 4) + step, dtype=mg.float64,
                          requires_grad=frozen == "weight")
            weight.grad = bias.grad = None
            fn(x).backward()
            grads.append((x.grad if frozen == "weight" else weight.grad).numpy())
            if frozen == "x":
                assert weight.grad.is_contiguous()
        np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12)


def test_a_weights_gradient_keeps_its_layout_when_the_input_is_constant(torch: Any) -> None:
    """``F.linear(x_const, W)``: W's gradient comes from ``x @ W.T`` with x kept and W.T not: it is row-major as
    W, as PyTorch's (the column-major flag of W.T is kept instead of W.T)."""
    for lib in (mg, torch):
        weight = lib.tensor(np.linspace(-1, 1, 600).reshape(20, 30), dtype=lib.float32, requires_grad=True)
        x = lib.tensor(np.linspace(-1, 1, 120).reshape(4, 30), dtype=lib.float32)
        _functional(lib).linear(x, weight).sum().backward()
        assert weight.grad.is_contiguous()


# --- 3. activations kept what their backward computes again -------------------------------------------------------

ACTIVATIONS = {"silu": lambda lib, y: _functional(lib).silu(y), "mish": lambda lib, y: _functional(lib).mish(y),
               "SiLU module": lambda lib, y: (nn if lib is mg else lib.nn).SiLU()(y)}


@pytest.mark.parametrize("case", list(ACTIVATIONS))
def test_an_activation_keeps_its_input_only(case: str, torch: Any) -> None:
    """silu kept σ(x) beside x, mish tanh(softplus(x)) beside x: twice PyTorch's saved bytes, whose SiluBackward0 and
    MishBackward0 save ``self`` only and compute the rest again in backward."""
    def graph(lib: Any) -> tuple:
        x = lib.tensor(np.linspace(-3, 3, 4096).reshape(64, 64), dtype=lib.float32, requires_grad=True)
        return ACTIVATIONS[case](lib, x * 2).sum(), x

    loss, x = graph(mg)
    t_loss, t_x = graph(torch)
    assert _node_bytes(loss, [x]) <= _torch_saved_bytes(t_loss, [t_x])


@pytest.mark.parametrize("dtype", ["float64", "float16"])
@pytest.mark.parametrize("case", list(ACTIVATIONS))
def test_an_activation_keeping_its_input_only_still_differentiates_twice(case: str, dtype: str, torch: Any) -> None:
    values = np.array([-30.0, -3.0, -0.5, 0.0, 0.7, 2.0, 25.0])
    grads = []
    for lib in (mg, torch):
        x = lib.tensor(values, dtype=getattr(lib, dtype), requires_grad=True)
        if dtype == "float16":   # first derivatives only (PyTorch's float16 double backward is not its CPU kernel's)
            (g,) = lib.autograd.grad((ACTIVATIONS[case](lib, x) * 3).sum(), x)
            grads.append([g.float().numpy()])
            continue
        (g,) = lib.autograd.grad((ACTIVATIONS[case](lib, x) * 3).sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad((g * g).sum(), x)
        grads.append([g.detach().numpy(), gg.numpy()])
    for ours, theirs in zip(*grads, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-3 if dtype == "float16" else 1e-10, atol=1e-12)


# --- 2. index arrays stayed on the nodes after backward ------------------------------------------------------------

def _index(lib: Any, *rows: Any) -> Any:
    return lib.tensor(np.array(rows))


def _set_rows(lib: Any, y: Any) -> Any:
    z = y * 1
    z[_index(lib, 0, 2)] = y[:2] * 3
    return z


INDEXED = {
    "sort": lambda lib, y: y.sort(1).values,
    "topk": lambda lib, y: y.topk(2, 1).values,
    "max(dim)": lambda lib, y: y.max(1).values,
    "cummax": lambda lib, y: y.cummax(1).values,
    "gather": lambda lib, y: y.gather(1, _index(lib, [0, 1], [2, 0], [1, 1])),
    "index tensor": lambda lib, y: y[_index(lib, 0, 2, 2)],
    "two index tensors": lambda lib, y: y[_index(lib, 0, 2), _index(lib, 1, 3)],
    "index_select": lambda lib, y: y.index_select(0, _index(lib, 0, 2, 2)),
    "masked_select": lambda lib, y: y.masked_select(y > 0),
    "scatter": lambda lib, y: y.scatter(1, _index(lib, [0, 1], [1, 2], [2, 0]), y[:, :2] * 3),
    "scatter_add": lambda lib, y: y.scatter_add(1, _index(lib, [0, 1], [1, 2], [2, 0]), y[:, :2] * 3),
    "index_add": lambda lib, y: y.index_add(0, _index(lib, 0, 2), y[:2] * 3),
    "index_copy": lambda lib, y: y.index_copy(0, _index(lib, 0, 2), y[:2] * 3),
    "setitem": _set_rows,
    "max_pool2d": lambda lib, y: _functional(lib).max_pool2d(y.reshape(1, 1, 3, 4), 2),
    "adaptive_max_pool2d": lambda lib, y: _functional(lib).adaptive_max_pool2d(y.reshape(1, 1, 3, 4), 2),
}


def _arrays_of_the_graph(root: mg.Tensor, skip: set) -> list:
    """Weak references to the arrays the nodes of ``root``'s graph hold (tuples looked into), but ``skip``'s."""
    found: list = []

    def visit(value: Any, depth: int) -> None:
        if isinstance(value, np.ndarray):
            if id(value) not in skip:
                found.append(weakref.ref(value))
        elif depth < 4 and type(value) in (tuple, list):
            for item in value:
                visit(item, depth + 1)

    seen: set = set()
    stack = [root.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        for key, value in vars(node).items():
            if key != "edges":
                visit(value, 0)
        stack.extend(edge[0] for edge in node.edges if type(edge) is tuple)
    return found


@pytest.mark.parametrize("case", list(INDEXED))
def test_backward_frees_the_index_arrays_a_node_kept(case: str, torch: Any) -> None:
    """``y.sort(1).values``, ``y[idx]``, ``y.scatter(1, idx, src)`` …: a backward without retain_graph freed the
    node's ``saved`` but the index arrays stayed on it (``Gather.index``, ``GetItem.index``, ``Scatter.index``,
    ``IndexWrite.index``, ``SetItem.index``; for sort, topk and max-pool as big as the output) while the loss
    was held. PyTorch frees its saved indices with the rest (reading ``grad_fn._saved_indices`` then raises)."""
    t = torch.tensor(np.linspace(-2, 2, 12).reshape(3, 4), requires_grad=True)
    out = INDEXED[case](torch, t * 2)
    def tensors(value: Any) -> bool:
        return isinstance(value, torch.Tensor) or type(value) in (tuple, list) and any(map(tensors, value))

    names = [a for a in dir(out.grad_fn) if a.startswith("_saved_") and tensors(getattr(out.grad_fn, a))]
    assert names   # torch saves an index here
    out.sum().backward()
    for name in names:
        with pytest.raises(RuntimeError, match="freed"):
            getattr(out.grad_fn, name)
    with cycle_collector_off():
        x = _input(mg)
        y = x * 2
        loss = INDEXED[case](mg, y).sum()
        del y
        held = _arrays_of_the_graph(loss, {id(x.data), id(loss.data)})
        assert any(r() is not None for r in held)
        loss.backward()
        assert [r().shape for r in held if r() is not None] == []
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_a_freed_index_write_keeps_its_grad_fn_name(torch: Any) -> None:
    """The index arrays of ``z[i] = v`` are freed; what grad_fn.name() reads of them (their dims) stays."""
    names = []
    for lib in (mg, torch):
        x = lib.tensor(np.linspace(-2, 2, 12).reshape(3, 4), requires_grad=True)
        z, w = x * 1, x * 1
        z[_index(lib, 0, 2)] = x[:2] * 3
        w[_index(lib, 0, 2), 1:] = 3 * x[:2, 1:]
        before = [z.grad_fn.name(), w.grad_fn.name()]
        (z.sum() + w.sum()).backward()
        names.append((before, [z.grad_fn.name(), w.grad_fn.name()]))
    assert names[0] == names[1]


@pytest.mark.parametrize("case", ["sort", "topk", "gather", "index tensor", "scatter", "index_add", "setitem",
                                  "adaptive_max_pool2d"])
def test_a_compiled_call_with_an_index_replays_after_backward(case: str) -> None:
    """mg.compile's replays read the captured op's index again: only the graph's nodes drop theirs."""
    def loss(x: mg.Tensor) -> mg.Tensor:
        return (INDEXED[case](mg, x * 2) ** 2).sum()

    compiled = mg.compile(loss)
    for step in range(4):
        grads = []
        for fn in (loss, compiled):
            x = mg.tensor(np.linspace(-2, 2, 12).reshape(3, 4) * (step + 1), requires_grad=True)
            fn(x).backward()
            grads.append(x.grad.numpy())
        np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12)


READS_INPUT_ONLY = {"erf": lambda y: y.erf(), "erfc": lambda y: y.erfc(), "log1p": lambda y: y.log1p(),
                    "log2": lambda y: y.log2(), "asin": lambda y: y.asin(), "atan": lambda y: y.atan(),
                    "sinh": lambda y: y.sinh(), "atanh": lambda y: y.atanh(), "lgamma": lambda y: y.lgamma(),
                    "digamma": lambda y: y.digamma(), "erfinv": lambda y: y.erfinv(), "i0": lambda y: y.i0()}


@pytest.mark.parametrize("name", list(READS_INPUT_ONLY))
def test_a_function_whose_derivative_reads_its_input_keeps_no_result(name: str, torch: Any) -> None:
    """erf, erfc, log1p, asin … kept their result beside their input, which their derivative never reads: twice
    PyTorch's saved bytes (its nodes save ``self`` only); gelu's erfc was one of the four arrays it kept."""
    def graph(lib: Any) -> tuple:
        x = lib.tensor(np.linspace(0.1, 0.9, 4096).reshape(64, 64), dtype=lib.float32, requires_grad=True)
        return READS_INPUT_ONLY[name](x * 0.5).sum(), x

    loss, x = graph(mg)
    t_loss, t_x = graph(torch)
    assert _node_bytes(loss, [x]) <= _torch_saved_bytes(t_loss, [t_x])


@pytest.mark.parametrize("name", list(READS_INPUT_ONLY))
def test_a_function_keeping_its_input_only_still_differentiates_twice(name: str, torch: Any) -> None:
    grads = []
    for lib in (mg, torch):
        x = lib.tensor([0.15, 0.4, 0.8], dtype=lib.float64, requires_grad=True)
        (g,) = lib.autograd.grad(READS_INPUT_ONLY[name](x * 1).sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad((g * g).sum(), x)
        grads.append([g.detach().numpy(), gg.numpy()])
    for ours, theirs in zip(*grads, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9)


GELUS = {"gelu": lambda lib, y: _functional(lib).gelu(y),
         "gelu tanh": lambda lib, y: _functional(lib).gelu(y, approximate="tanh"),
         "GELU module": lambda lib, y: (nn if lib is mg else lib.nn).GELU()(y)}


@pytest.mark.parametrize("case", list(GELUS))
def test_gelu_keeps_its_input_and_at_most_its_cdf(case: str, torch: Any) -> None:
    """gelu was a chain of products and erfc that kept four arrays of x's size (x, x/√2, erfc's result, Φ):
    4x PyTorch's saved bytes (GeluBackward0 keeps x). The tanh form keeps x alone now, as PyTorch's; the exact
    form keeps Φ(x) beside x (its erfc is the engine's, which nn's op cannot run again in its backward): 2x."""
    def graph(lib: Any) -> tuple:
        x = lib.tensor(np.linspace(-3, 3, 4096).reshape(64, 64), dtype=lib.float32, requires_grad=True)
        return GELUS[case](lib, x * 2).sum(), x

    loss, x = graph(mg)
    t_loss, t_x = graph(torch)
    factor = 1 if case == "gelu tanh" else 2
    assert _node_bytes(loss, [x]) <= factor * _torch_saved_bytes(t_loss, [t_x])
    assert loss.grad_fn.next_functions[0][0].name() == t_loss.grad_fn.next_functions[0][0].name() == "GeluBackward0"


@pytest.mark.parametrize("case", list(GELUS))
def test_gelu_as_one_op_still_differentiates_twice(case: str, torch: Any) -> None:
    values = np.array([-30.0, -6.0, -3.0, -0.5, 0.0, 0.7, 2.0, 9.0])
    grads = []
    for lib in (mg, torch):
        x = lib.tensor(values, dtype=lib.float64, requires_grad=True)
        (g,) = lib.autograd.grad((GELUS[case](lib, x * 1) * 3).sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad((g * g).sum(), x)
        grads.append([g.detach().numpy(), gg.numpy()])
    for ours, theirs in zip(*grads, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_in_a_compiled_call(approximate: str) -> None:
    """The exact form's Φ, made without a graph, is a captured op of its own: each replay computes it anew."""
    def loss(x: mg.Tensor) -> mg.Tensor:
        return (nn.functional.gelu(x * 2, approximate=approximate) ** 2).sum()

    compiled = mg.compile(loss)
    for step in range(4):
        grads = []
        for fn in (loss, compiled):
            x = mg.tensor(np.linspace(-3, 3, 12).reshape(3, 4) * (step + 1), requires_grad=True)
            fn(x).backward()
            grads.append(x.grad.numpy())
        np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12)


@pytest.mark.parametrize("q_grad", [False, True])
def test_backward_frees_what_quantile_kept_beside_saved(q_grad: bool, torch: Any) -> None:
    """quantile kept q's slope (and, with q requiring grad, x and q for create_graph's rule) on its node after a
    backward without retain_graph; PyTorch's graph of quantile frees all it saved."""
    with cycle_collector_off():
        x = _input(mg)
        q = mg.tensor([0.25, 0.6], dtype=mg.float64, requires_grad=q_grad)
        y = x * 2
        loss = mg.quantile(y, q, dim=1).sum()
        del y
        held = _arrays_of_the_graph(loss, {id(x.data), id(q.data), id(loss.data)})
        loss.backward()
        assert [r().shape for r in held if r() is not None] == []
    t = torch.tensor(np.linspace(-2, 2, 12).reshape(3, 4), requires_grad=True)
    tq = torch.tensor([0.25, 0.6], dtype=torch.float64, requires_grad=q_grad)
    torch.quantile(t * 2, tq, dim=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)
    if q_grad:
        np.testing.assert_allclose(q.grad.numpy(), tq.grad.numpy(), rtol=1e-12)
