"""``mg.autograd.graph`` as ``torch.autograd.graph``: saved-tensor hooks, save_on_cpu, multi-grad hooks,
gradient edges, Node, increment_version.

minigrad's ops save arrays, not always the tensors torch's ops save, so the number of pack calls is not
compared with torch's; the gradients and what the hooks see (Tensors, their values) are.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import graph


def _model(lib: object, w: object, x: object) -> object:
    h = lib.tanh(x @ w)
    return (h * h.exp()).sum() + (h.sigmoid() ** 2).mean()


def _data() -> tuple:
    rng = np.random.default_rng(0)
    return rng.standard_normal((3, 4)), rng.standard_normal((2, 3))


def test_import_paths() -> None:
    import minigrad.autograd.graph as imported  # noqa: PLC0415 - the import path itself is tested

    assert imported is mg.autograd.graph is graph
    for name in graph.__all__:
        assert hasattr(graph, name)


def test_copies_on_host_give_equal_gradients(torch: object) -> None:
    """(a) pack stores NumPy copies, unpack gives them back: the gradients are the plain ones and torch's."""
    w0, x0 = _data()
    w, x = mg.tensor(w0, requires_grad=True), mg.tensor(x0)
    _model(mg, w, x).backward()
    plain = w.grad.numpy().copy()
    w.grad = None
    store: list = []

    def pack(t: mg.Tensor) -> int:
        assert isinstance(t, mg.Tensor)
        store.append(t.numpy().copy())
        return len(store) - 1

    with graph.saved_tensors_hooks(pack, lambda i: mg.tensor(store[i])):
        loss = _model(mg, w, x)
    assert store   # packed at record time
    loss.backward()
    np.testing.assert_allclose(w.grad.numpy(), plain, rtol=1e-12)
    tw = torch.tensor(w0, requires_grad=True)
    with torch.autograd.graph.saved_tensors_hooks(lambda t: t.detach().numpy().copy(), torch.from_numpy):
        _model(torch, tw, torch.tensor(x0)).backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-10)


def test_pack_sees_the_input_tensor_and_counts_bytes() -> None:
    """(b) a pack hook that counts bytes; an op saving its inputs hands the input Tensors themselves."""
    a = mg.ones(3, requires_grad=True)
    b = mg.full((3,), 2.0, requires_grad=True)
    seen: list = []
    total = [0]

    def pack(t: mg.Tensor) -> mg.Tensor:
        seen.append(t)
        total[0] += t.numel() * t.element_size()
        return t.detach()

    with graph.saved_tensors_hooks(pack, lambda t: t):
        y = a * b
    assert seen[0] is a and seen[1] is b
    assert total[0] == 2 * 3 * a.element_size()
    y.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [2.0, 2.0, 2.0])


def test_unpack_per_backward_nesting_and_no_grad() -> None:
    """(e) nothing packed under no_grad; the innermost pair applies; retain_graph unpacks on each backward."""
    log: list = []

    def pair(tag: str) -> graph.saved_tensors_hooks:
        return graph.saved_tensors_hooks(lambda t: (log.append(("pack", tag)), t.detach())[1],
                                         lambda t: (log.append(("unpack", tag)), t)[1])

    a = mg.tensor([1.0, 2.0], requires_grad=True)
    with pair("outer"):
        with mg.no_grad():
            a * a
        assert log == []
        with pair("inner"):
            y = (a * a).sum()
        z = a.exp().sum()
    assert {tag for _, tag in log} == {"inner", "outer"} and ("pack", "inner") in log
    n = len(log)
    y.backward(retain_graph=True)
    unpacks = len(log) - n
    assert unpacks > 0 and all(kind == "unpack" for kind, _ in log[n:])
    y.backward()
    assert len(log) - n == 2 * unpacks
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    z.backward()
    np.testing.assert_allclose(a.grad.numpy(), 2 * 2 * np.array([1.0, 2.0]) + np.exp([1.0, 2.0]))


def test_unpack_must_give_back_the_tensor() -> None:
    a = mg.ones(3, requires_grad=True)
    with graph.saved_tensors_hooks(lambda t: t.detach(), lambda t: t[:2]):
        y = (a * a).sum()
    with pytest.raises(RuntimeError, match="mul"):
        y.backward()
    with graph.saved_tensors_hooks(lambda t: t.detach(), lambda t: 5):
        y = (a * a).sum()
    with pytest.raises(TypeError, match="must return a Tensor"):
        y.backward()


def test_disable_saved_tensors_hooks(torch: object) -> None:
    for lib in (mg, torch):
        with pytest.raises(RuntimeError, match="no hooks here"):
            with lib.autograd.graph.disable_saved_tensors_hooks("no hooks here"):
                with lib.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):
                    pass
        with lib.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):   # left as it was
            pass


def test_save_on_cpu_step_equals_plain() -> None:
    """(c) a training step under save_on_cpu (CPU tensors: kept as they are) equals the plain one."""
    def step(hooks: bool) -> list:
        mg.manual_seed(0)
        model = mg.nn.Sequential(mg.nn.Linear(4, 5), mg.nn.Tanh(), mg.nn.Linear(5, 1))
        opt = mg.optim.SGD(model.parameters(), lr=0.1)
        x = mg.randn(6, 4)
        for _ in range(2):
            opt.zero_grad()
            if hooks:
                with graph.save_on_cpu(pin_memory=True):
                    loss = (model(x) ** 2).mean()
            else:
                loss = (model(x) ** 2).mean()
            loss.backward()
            opt.step()
        return [p.detach().numpy().copy() for p in model.parameters()]

    for got, want in zip(step(True), step(False)):
        np.testing.assert_array_equal(got, want)


@pytest.mark.gpu
def test_save_on_cpu_keeps_cuda_arrays_on_the_host() -> None:
    x = mg.randn(3, 4, device="cuda", requires_grad=True)
    kept: list = []
    hooks = graph.save_on_cpu()
    pack = hooks.pack_hook
    hooks.pack_hook = lambda t: kept.append(pack(t)) or kept[-1]
    with hooks:
        loss = (x.tanh() * x).sum()
    assert kept and all(host.device.type == "cpu" and device.type == "cuda" for device, host in kept)
    loss.backward()
    y = x.detach().clone().requires_grad_(True)
    (y.tanh() * y).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), y.grad.cpu().numpy(), rtol=1e-12)


def test_double_backward_with_hooks(torch: object) -> None:
    out = []
    for lib in (mg, torch):
        x = lib.tensor([0.5, -1.0, 2.0], requires_grad=True)
        with lib.autograd.graph.saved_tensors_hooks(lambda t: t.detach().clone(), lambda t: t):
            y = (x ** 3 * x.sin()).sum()
            (g,) = lib.autograd.grad(y, x, create_graph=True)
            (g * g).sum().backward()
        out.append((g.detach().numpy(), x.grad.numpy()))
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_compiled_function_with_hooks() -> None:
    w = mg.tensor(_data()[0], requires_grad=True)
    x = mg.tensor(_data()[1])
    f = mg.compile(lambda w, x: _model(mg, w, x))
    grads = []
    packed: list = []
    for hooks in (False, True, True, False):
        w.grad = None
        if hooks:
            with graph.saved_tensors_hooks(lambda t: packed.append(t) or t.detach(), lambda t: t):
                loss = f(w, x)
        else:
            loss = f(w, x)
        loss.backward()
        grads.append(w.grad.numpy().copy())
    assert packed   # a replayed call is one node: its hooks see the arrays its captured ops keep
    for g in grads[1:]:
        np.testing.assert_allclose(g, grads[0], rtol=1e-12)


def test_hooks_are_per_thread() -> None:
    packed: list = []
    in_thread: list = []
    with graph.saved_tensors_hooks(lambda t: packed.append(1) or t.detach(), lambda t: t):
        def other() -> None:
            a = mg.ones(2, requires_grad=True)
            in_thread.append((a * a).sum())
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert packed == []
    in_thread[0].backward()


def _multi_log(lib: object) -> list:
    a = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    b = lib.tensor([[0.5, 0.5], [2.0, 1.0]], requires_grad=True)
    c, d = a * b, a * b
    log: list = []
    lib.autograd.graph.register_multi_grad_hook(
        (a, b, c, d), lambda grads: log.append([None if g is None else g.tolist() for g in grads]))
    c.sum().backward(retain_graph=True)
    c.sum().backward(inputs=(a,), retain_graph=True)
    handle = lib.autograd.graph.register_multi_grad_hook((a, b), lambda g: log.append(("any", g.tolist())),
                                                          mode="any")
    (c + d).sum().backward()
    handle.remove()
    (a * b).sum().backward()
    return log


def test_register_multi_grad_hook_as_torch(torch: object) -> None:
    """(d) fn's calls and arguments as torch's (the docstring's example, inputs=, mode="any", remove)."""
    assert _multi_log(mg) == _multi_log(torch)
    with pytest.raises(ValueError, match="mode"):
        graph.register_multi_grad_hook((mg.ones(1, requires_grad=True),), print, mode="some")


def test_gradient_edge_as_grad_inputs(torch: object) -> None:
    out = []
    for lib in (mg, torch):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        c = a * 2
        edge = lib.autograd.graph.get_gradient_edge(c)
        assert isinstance(edge.node, lib.autograd.graph.Node) and edge.output_nr == 0
        assert isinstance(c.grad_fn, lib.autograd.graph.Node)
        leaf = lib.autograd.graph.get_gradient_edge(a)
        assert leaf.node.name() == "torch::autograd::AccumulateGrad" and leaf.output_nr == 0
        loss = (c * c).sum()
        out.append([g.tolist() for g in lib.autograd.grad(loss, (edge, leaf), retain_graph=True)])
        out.append([g.tolist() for g in lib.autograd.grad(loss, edge)])
        with pytest.raises(RuntimeError, match="does not require gradients"):
            lib.autograd.graph.get_gradient_edge(lib.ones(2))
    assert out[:2] == out[2:]


def test_increment_version(torch: object) -> None:
    for lib in (mg, torch):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = a * 1
        y = (b * b).sum()
        before = b._version
        lib.autograd.graph.increment_version(b)
        assert b._version == before + 1
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.backward()


def test_a_multi_grad_hook_keeps_no_graph_alive_after_its_backward() -> None:
    """The walk a multi-grad hook looks at keeps ids only: the last backward's graph dies with its loss
    (reference counting alone, as tests/test_leaks.py checks for a plain step)."""
    import gc
    import weakref

    a, b = mg.randn(3, requires_grad=True), mg.randn(3, requires_grad=True)
    seen: list = []
    handle = mg.autograd.graph.register_multi_grad_hook([a, b], lambda grads: seen.append(len(grads)))
    gc.collect()
    gc.disable()
    try:
        loss = (a * b).tanh().sum()
        loss.backward()
        node = weakref.ref(loss.grad_fn)
        del loss
        assert node() is None and seen == [2]
    finally:
        gc.enable()
        handle.remove()
