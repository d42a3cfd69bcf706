"""Round 24 resweep of the engine's backward walk (gradients kept per edge, needs_grad a tuple) and the matmul fast
paths, against PyTorch 2.13: random graphs (multi-output ops, reuse, diamonds, in-place ops on views, hooks,
retain_grad, autograd.grad with inputs and allow_unused, create_graph, checkpoint, backward failing partway),
the matmul family (1-D..4-D, transposed/strided/expanded operands, create_graph) and the recurrent layers over
several optimizer steps. Each test pins a difference the sweep found.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")


def _checkpoint(lib: Any, reentrant: bool) -> Any:
    """minigrad's checkpoint as asked; torch's reentrant one (its node runs where the non-reentrant one's last op
    does, checked by the sweep), called past its dynamo wrapper, whose first call imports torch._dynamo (~2 s)."""
    if lib is torch:
        return lambda function, *args: torch.utils.checkpoint.checkpoint.__wrapped__(function, *args,
                                                                                     use_reentrant=True)
    return lambda function, *args: mg.utils.checkpoint.checkpoint(function, *args, use_reentrant=reentrant)


def _segment(u: Any) -> Any:
    return (u * u).tanh() + u.exp()


# --- checkpoint: the node's place among the nodes ready in a backward -------------------------------------------

@pytest.mark.parametrize("reentrant", [False, True])
def test_checkpoint_node_runs_in_recording_order(reentrant):
    """A checkpointed call's node runs where PyTorch's does among the nodes ready at once: after nodes recorded
    later, before nodes recorded earlier (its sequence number was 0, so it ran last: tensor and post-accumulate
    hooks fired in another order)."""
    logs = []
    for lib in (torch, mg):
        log: list = []
        leaves = [lib.tensor(np.full((2, 2), i + 1.0), requires_grad=True) for i in range(2)]
        for n, t in enumerate(leaves):
            t.register_hook(lambda g, n=n, log=log: log.append(f"hook {n}"))
            t.register_post_accumulate_grad_hook(lambda p, n=n, log=log: log.append(f"post {n}"))
        early = leaves[0].sin()   # recorded before the checkpoint: its node runs after it
        late = _checkpoint(lib, reentrant)(_segment, leaves[1])
        (late + early).sum().backward()
        logs.append(log)
    assert logs[1] == logs[0] == ["hook 1", "post 1", "hook 0", "post 0"]


@pytest.mark.parametrize("reentrant", [False, True])
def test_backward_failing_after_a_checkpoint_gave_its_leaves_their_gradients(reentrant):
    """A backward that fails at a node recorded before a checkpoint has run the checkpoint's node first (as
    PyTorch): the leaf only the checkpoint reads has its .grad (it had none: the checkpoint node waited last)."""
    grads = []
    for lib in (torch, mg):
        a, b = (lib.tensor(np.full((2, 3), v), requires_grad=True) for v in (0.5, -0.3))
        t = a * 1.0
        early = t.sin()   # saves t, changed in place below: backward fails here
        late = _checkpoint(lib, reentrant)(_segment, b)
        with lib.no_grad():
            t.mul_(2.0)
        with pytest.raises(RuntimeError):
            (early + late).sum().backward()
        grads.append((a.grad, None if b.grad is None else b.grad.numpy()))
    assert grads[1][0] is None and grads[0][0] is None
    assert grads[0][1] is not None and grads[1][1] is not None
    np.testing.assert_allclose(grads[1][1], grads[0][1], rtol=1e-12)


# --- the per-edge backward walk against PyTorch: one graph with each case the rewrite handles -------------------

def _graph(lib: Any, leaves: list, w: Any, log: list) -> tuple:
    """Multi-output ops with unused outputs, a weight that is no leaf (a lazy matmul gradient into a node), a
    diamond, in-place ops on views, hooks that change gradients, a leaf returned as it is."""
    a, b, c = leaves
    parts = a.split([2, 2, 1], dim=1)   # parts[1] unused
    top, _ = b.topk(3, dim=1)   # the indices unused
    rows = c.unbind(0)
    weight = w * rows[0][0] + 0.5   # not a leaf: x @ weight's lazy gradient goes to this node
    h = lib.cat([parts[0].exp(), top[:, :2], parts[2]], dim=1) @ weight
    h2 = h.tanh() * h.sigmoid() + h @ weight.T   # a diamond through h, weight used three times
    v = h2.clone()
    v[:, 1:3] *= b[:, :2]   # in place on a view
    v.select(1, 4).mul_(2.0)
    v.register_hook(lambda g: log.append(("v", float(g.detach().sum()))) or g * 1.5)
    m, _ = v.max(dim=1, keepdim=True)
    out = v * m + lib.stack([rows[3], rows[1] * rows[2], rows[1], rows[0]], dim=0)
    return out, v, c   # c: a leaf among the outputs


def _run_graph(lib: Any, mode: str) -> dict:
    rng = np.random.default_rng(3)
    leaves = [lib.tensor(rng.standard_normal((4, 5)), requires_grad=True) for _ in range(3)]
    w = lib.tensor(rng.standard_normal((5, 5)) * 0.3, requires_grad=True)
    log: list = []
    for i, t in enumerate(leaves):
        t.register_hook(lambda g, i=i: log.append(("leaf", i)) or (g * 2 if i == 1 else None))
    out, v, c = _graph(lib, leaves, w, log)
    v.retain_grad()
    weights = [lib.tensor(rng.standard_normal((4, 5))) for _ in range(3)]
    loss = sum((y * k).sum() for y, k in zip((out, v, c), weights))
    result: dict = {}
    if mode == "backward":
        loss.backward(retain_graph=True)
        loss.backward()
        result["grads"] = [t.grad.numpy() for t in (*leaves, w)] + [v.grad.numpy()]
    elif mode == "inputs":
        loss.backward(inputs=[leaves[0], w])
        result["grads"] = [None if t.grad is None else t.grad.numpy() for t in (*leaves, w)]
    elif mode == "grad":
        unused = lib.tensor(np.ones(2), requires_grad=True)
        grads = lib.autograd.grad(loss, [leaves[2], unused, w], allow_unused=True, materialize_grads=True)
        result["grads"] = [g.numpy() for g in grads]
    else:   # create_graph, then the gradient of the gradients' norm
        grads = lib.autograd.grad(loss, [*leaves, w], create_graph=True)
        sum((g * g).sum() for g in grads).backward()
        result["grads"] = [g.detach().numpy() for g in grads] + [t.grad.numpy() for t in (*leaves, w)]
    result["log"] = log
    return result


@pytest.mark.parametrize("mode", ["backward", "inputs", "grad", "create_graph"])
def test_per_edge_walk_matches_torch(mode):
    """Gradients (float64, to 1e-10) and the order and arguments of the hooks equal PyTorch's on a graph of the
    cases the per-edge walk of 6c13d240 and the matmul fast path of 05cad2f9 rewrote."""
    expected, actual = _run_graph(torch, mode), _run_graph(mg, mode)
    assert [entry[:2] if entry[0] == "leaf" else entry[0] for entry in actual["log"]] == \
        [entry[:2] if entry[0] == "leaf" else entry[0] for entry in expected["log"]]
    hooked = [[entry[1] for entry in result["log"] if entry[0] == "v"] for result in (actual, expected)]
    np.testing.assert_allclose(*hooked, rtol=1e-10)
    assert len(actual["grads"]) == len(expected["grads"])
    for i, (got, want) in enumerate(zip(actual["grads"], expected["grads"])):
        assert (got is None) == (want is None), i
        if want is not None:
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=f"gradient {i}")
