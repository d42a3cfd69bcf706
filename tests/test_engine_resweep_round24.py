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


def _checkpoint(lib: Any) -> Any:
    return torch.utils.checkpoint.checkpoint if lib is torch else mg.utils.checkpoint.checkpoint


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
        late = _checkpoint(lib)(_segment, leaves[1], use_reentrant=reentrant)
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
        late = _checkpoint(lib)(_segment, b, use_reentrant=reentrant)
        with lib.no_grad():
            t.mul_(2.0)
        with pytest.raises(RuntimeError):
            (early + late).sum().backward()
        grads.append((a.grad, None if b.grad is None else b.grad.numpy()))
    assert grads[1][0] is None and grads[0][0] is None
    assert grads[0][1] is not None and grads[1][1] is not None
    np.testing.assert_allclose(grads[1][1], grads[0][1], rtol=1e-12)
