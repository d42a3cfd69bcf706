"""Round 19 (hooks b): grad mode inside backward hooks, and hook order, checked against live PyTorch.

Found by the differential fuzzer /tmp/fuzz19_hooks_b.py (hook kinds x backward entry points, random graphs).
"""

import numpy as np
import pytest

import minigrad as mg
import nn as mnn

torch = pytest.importorskip("torch", reason="no torch")


def _state(api, tag, *tensors):
    """What a hook saw: grad mode, and whether each tensor (the gradient, a result computed from it) requires grad."""
    return tag, bool(api.is_grad_enabled()), tuple(None if t is None else bool(t.requires_grad) for t in tensors)


def _hooks_log(api, kind: str, entry: str) -> list:
    """One hook of ``kind`` computing with a tensor that requires grad, during one backward of ``entry``."""
    log: list = []
    x = api.tensor(np.array([1.0, 2.0]), requires_grad=True)
    w = api.tensor(np.array([3.0, -1.0]), requires_grad=True)
    k = api.tensor(np.array([0.5, 0.25]), requires_grad=True)

    def use(tag, g):
        log.append(_state(api, tag, g, g * k))

    if kind == "function":
        class Twice(api.autograd.Function):
            @staticmethod
            def forward(ctx, a):
                return a * 2

            @staticmethod
            def backward(ctx, g):
                use("function", g)
                return g * 2
        y = Twice.apply(x * w)
    else:
        y = x * w
    z = y.sin()
    if kind == "tensor":
        y.register_hook(lambda g: use("tensor", g))
    elif kind == "leaf":
        x.register_hook(lambda g: use("leaf", g))
    elif kind == "prehook":
        z.grad_fn.register_prehook(lambda go: use("prehook", go[0]))
    elif kind == "posthook":
        z.grad_fn.register_hook(lambda gi, go: use("posthook", gi[0]))
    elif kind == "post_accumulate":
        w.register_post_accumulate_grad_hook(lambda p: use("post_accumulate", p.grad))
    elif kind == "multi_any":
        api.autograd.graph.register_multi_grad_hook((x, w), lambda g: use("multi_any", g), mode="any")
    elif kind == "nested_grad":
        q = (k * k).sum()

        def nested(g):
            (gk,) = api.autograd.grad(q, [k], retain_graph=True)
            log.append(_state(api, "nested", g, gk, gk * k))
        y.register_hook(nested)
    elif kind == "nested_grad_create_graph":
        q = (k * k).sum()

        def nested_cg(g):
            (gk,) = api.autograd.grad(q, [k], retain_graph=True, create_graph=True)
            log.append(_state(api, "nested_cg", g, gk, gk * k))
        y.register_hook(nested_cg)
    s = z.sum()
    if entry == "backward":
        s.backward()
    elif entry == "backward_retain":
        s.backward(retain_graph=True)
    elif entry == "backward_create_graph_under_no_grad":
        with api.no_grad():
            s.backward(create_graph=True)
    elif entry == "autograd_backward_inputs":
        api.autograd.backward([s], inputs=[x, w])
    elif entry == "grad":
        api.autograd.grad(s, [x, w])
    elif entry == "grad_under_enable_grad":
        with api.enable_grad():
            api.autograd.grad(s, [x, w])
    elif entry == "grad_create_graph_under_no_grad":
        with api.no_grad():
            api.autograd.grad(s, [x, w], create_graph=True)
    elif entry == "leaf_backward":
        x.register_hook(lambda g: use("leaf_root", g))
        x.backward(api.tensor(np.array([1.0, 1.0])))
    log.append(("after", bool(api.is_grad_enabled())))
    return log


_CASES = [(kind, entry) for entry in ("backward", "backward_retain", "autograd_backward_inputs", "grad",
                                      "grad_under_enable_grad")
          for kind in ("tensor", "leaf", "prehook", "posthook", "function", "multi_any", "nested_grad",
                       "nested_grad_create_graph")
          if not (entry.startswith("grad") and kind == "post_accumulate")]
_CASES += [("post_accumulate", "backward"), ("post_accumulate", "autograd_backward_inputs"), ("leaf", "leaf_backward")]
_CASES += [(kind, "backward_create_graph_under_no_grad") for kind in ("tensor", "leaf", "prehook", "post_accumulate",
                                                                     "multi_any")]
_CASES += [(kind, "grad_create_graph_under_no_grad") for kind in ("tensor", "leaf", "posthook")]


@pytest.mark.parametrize(("kind", "entry"), _CASES)
def test_backward_hooks_run_in_pytorchs_grad_mode(kind, entry):
    # a backward without create_graph runs its hooks with grad mode off (their results need no grad); one with
    # create_graph=True with it on, even under no_grad; the caller's mode is back afterwards
    assert _hooks_log(mg, kind, entry) == _hooks_log(torch, kind, entry)


def test_create_graph_backward_under_no_grad_keeps_the_graph_of_grad():
    # .grad of a backward(create_graph=True) called under no_grad has a graph, as PyTorch's (minigrad's had none)
    results = []
    for api in (torch, mg):
        x = api.tensor(np.array([1.0, 2.0]), requires_grad=True)
        (x * x).sum().backward()   # a .grad already there: .grad + gradient must record too
        s = (x * x * x).sum()
        with api.no_grad():
            s.backward(create_graph=True)
        results.append((x.grad.requires_grad, x.grad.detach().numpy().tolist()))
        x.grad.sum().backward()
        results.append(x.grad.detach().numpy().tolist())
    assert results[:2] == results[2:]


def _accumulate_grad_prehooks_log(api, entry: str) -> list:
    """AccumulateGrad prehooks and tensor hooks on one leaf, registered interleaved, each replacing the gradient."""
    log: list = []
    x = api.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * 3.0
    accumulator = y.grad_fn.next_functions[0][0]
    accumulator.register_prehook(lambda go: log.append(("acc1", go[0].tolist())) or (go[0] * 10,))
    x.register_hook(lambda g: log.append(("t1", g.tolist())))
    accumulator.register_prehook(lambda go: log.append(("acc2", go[0].tolist())))
    x.register_hook(lambda g: log.append(("t2", g.tolist())) or g + 1)
    s = y.sum()
    if entry == "backward":
        s.backward()
    elif entry == "backward_inputs":
        s.backward(inputs=[x])
    elif entry == "backward_create_graph":
        s.backward(create_graph=True)
    elif entry == "leaf_backward":
        x.backward(api.tensor(np.array([1.0, 1.0])))
    if entry.startswith("grad"):
        log.append([g.tolist() for g in api.autograd.grad(s, [x], create_graph=entry == "grad_create_graph")])
    else:
        log.append(x.grad.tolist())
    return log


@pytest.mark.parametrize("entry", ["backward", "backward_inputs", "backward_create_graph", "leaf_backward", "grad",
                                   "grad_create_graph"])
def test_accumulate_grad_prehooks_run_after_the_tensor_hooks_and_not_in_grad(entry):
    # PyTorch runs a leaf's tensor hooks, then its AccumulateGrad's prehooks (whatever the order registered), and
    # autograd.grad runs no AccumulateGrad: minigrad ran them all in registration order, in grad() too (x.grad and
    # grad()'s result were other values than PyTorch's)
    assert _accumulate_grad_prehooks_log(mg, entry) == _accumulate_grad_prehooks_log(torch, entry)


def _branch_order(api, how: str) -> list:
    """Hooks on two branches that join again (``b * a`` with ``b`` recorded after ``a``), and on a third op."""
    log: list = []
    x = api.tensor(np.array([0.5, 1.0]), requires_grad=True)
    a = x.sin()
    b = x.exp()
    c = (x * 3.0).tanh()
    d = b * a + c
    for name, t in (("a", a), ("b", b), ("c", c)):
        t.register_hook(lambda g, name=name: log.append(("tensor", name, np.round(g.detach().numpy(), 6).tolist())))
        t.grad_fn.register_prehook(lambda go, name=name: log.append(("prehook", name)))
        t.grad_fn.register_hook(lambda gi, go, name=name: log.append(("posthook", name)))
    s = d.sum()
    if how == "backward":
        s.backward()
    elif how == "grad":
        api.autograd.grad(s, [x])
    elif how == "create_graph":
        api.autograd.grad(s, [x], create_graph=True)
    return log


@pytest.mark.parametrize("how", ["backward", "grad", "create_graph"])
def test_hooks_on_branches_run_in_pytorchs_order(how):
    # among the nodes ready in a backward, the one recorded last runs first (PyTorch's sequence numbers); the walk
    # took the one made ready last
    assert _branch_order(mg, how) == _branch_order(torch, how)


def _cell_twice_log(api, module) -> list:
    """Module backward hooks of a recurrent cell called twice, the second call fed the first's state."""
    log: list = []
    cell = module.LSTMCell(2, 3).double()
    rng = np.random.default_rng(0)
    with api.no_grad():
        for p in cell.parameters():
            p.copy_(api.tensor(rng.standard_normal(tuple(p.shape)) * 0.5))

    def sums(grads):
        return tuple(None if g is None else round(float(g.sum()), 6) for g in grads)

    cell.register_full_backward_pre_hook(lambda m, go: log.append(("pre", sums(go))))
    cell.register_full_backward_hook(lambda m, gi, go: log.append(("full", sums(gi), sums(go))))
    x = api.tensor(np.ones((1, 2)), requires_grad=True)
    h, c = cell(x, cell(x))
    (h.sum() * 2 + c.sum()).backward()
    return log


def test_module_hooks_of_a_cell_called_twice_run_in_pytorchs_order():
    # the second call's full backward hook runs before the first call's pre-hook, as PyTorch's (its input-side node
    # was recorded after the first call's output-side node: it runs first once both are ready)
    assert _cell_twice_log(mg, mnn) == _cell_twice_log(torch, torch.nn)


def _pack_hook_log(api, create_graph: bool) -> list:
    """What saved-tensor pack and unpack hooks see: grad mode, and whether a result computed with a tensor that
    requires grad requires grad."""
    log: list = []
    k = api.tensor(np.array([0.5, 0.25]), requires_grad=True)

    def pack(t):
        log.append(_state(api, "pack", t, t * k))
        return t

    def unpack(t):
        log.append(_state(api, "unpack", t, t * k))
        return t

    x = api.tensor(np.array([1.0, 2.0]), requires_grad=True)
    with api.autograd.graph.saved_tensors_hooks(pack, unpack):
        y = (x * x).sum()
    if create_graph:
        api.autograd.grad(y, [x], create_graph=True)
    else:
        y.backward()
    return log


@pytest.mark.parametrize("create_graph", [False, True])
def test_saved_tensors_pack_hook_runs_without_recording(create_graph):
    # PyTorch's pack hook runs with grad mode off (its result holds no graph); minigrad's recorded
    assert _pack_hook_log(mg, create_graph) == _pack_hook_log(torch, create_graph)
