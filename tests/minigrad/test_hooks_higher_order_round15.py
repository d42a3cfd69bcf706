"""Hooks under ``create_graph=True`` and double backward, against torch 2.13 (round 15).

- the ``create_graph=True`` walk ran a ``grad_fn`` prehook among the output's tensor hooks, before ``retain_grad``,
  and at the node ``autograd.grad`` stops at: ``grad(z, y, create_graph=True)`` with a prehook ×10 on ``y.grad_fn``
  gave 10× torch's gradient, and ``y.grad`` (retain_grad) had the prehook's change. Now the first-order order:
  tensor hooks, then ``retain_grad``, then prehooks, none at a ``grad`` stop;
- a ``grad_fn.register_hook`` hook of a restricted ``create_graph=True`` walk (``grad``, ``backward(inputs=)``)
  saw the gradient of an input off every path to a target (torch: None), and at a ``backward(inputs=)`` target
  that leads nowhere further it did not run (torch runs it with None gradients);
- a Module's full backward hook ran again in a gradient penalty's backward (``grad(create_graph=True)``, then
  ``backward`` of the penalty) with the first backward's stale ``grad_output``: the penalty's gradients were off
  (by 0.03 for a Tanh whose hook scales by 1.5) and the hook ran twice. As torch's ``BackwardHook``, the input side
  now runs the hooks once per ``grad_output`` the output side kept, and hands a gradient that did not pass the
  module's outputs on unchanged;
- under ``create_graph=True`` that hook got None for a tensor input that needs no gradient (torch: zeros, as ours
  without ``create_graph``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg


def _values(t: Any) -> Any:
    return None if t is None else np.asarray(t.detach().numpy()).round(6).tolist()


def _prehook_graph(lib: Any, api: Any, how: str, create_graph: bool) -> dict:
    """y = x * 3 with a tensor hook ×2, retain_grad and a grad_fn prehook ×10; z = sum(y * 2)."""
    log: list = []
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.grad_fn.register_prehook(lambda gs: (log.append(("pre", _values(gs[0]))), (gs[0] * 10,))[1])
    y.retain_grad()
    y.register_hook(lambda g: (log.append(("hook", _values(g))), g * 2)[1])
    z = (y * 2).sum()
    out: dict = {}
    if how == "grad_y":
        out["result"] = [_values(g) for g in api.autograd.grad(z, y, create_graph=create_graph)]
    elif how == "grad_x":
        out["result"] = [_values(g) for g in api.autograd.grad(z, x, create_graph=create_graph)]
    elif how == "grad_xy":
        out["result"] = [_values(g) for g in api.autograd.grad(z, [x, y], create_graph=create_graph)]
    elif how == "inputs_y":
        z.backward(inputs=[y], create_graph=create_graph)
    else:
        z.backward(create_graph=create_graph)
    out["x.grad"], out["y.grad"], out["log"] = _values(x.grad), _values(y.grad), log
    return out


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("how", ["grad_y", "grad_x", "grad_xy", "inputs_y", "backward"])
def test_prehook_runs_after_tensor_hooks_and_retain_grad_and_not_at_a_grad_stop(torch: Any, how: str,
                                                                                 create_graph: bool) -> None:
    assert _prehook_graph(mg, mg, how, create_graph) == _prehook_graph(torch, torch, how, create_graph)


def _post_hook_graph(lib: Any, api: Any, how: str) -> dict:
    """y = a * b with a grad_fn.register_hook hook logging its grad_inputs; gradients only for ``a`` (or y)."""
    log: list = []
    a = lib.tensor([1.0, 2.0], requires_grad=True)
    b = lib.tensor([3.0, 4.0], requires_grad=True)
    y = a * b
    y.grad_fn.register_hook(lambda gi, go: log.append([_values(g) for g in gi]))
    w = y.tanh()
    z = (w * w).sum()
    if how == "grad_a":
        api.autograd.grad(z, a, create_graph=True)
    elif how == "inputs_a":
        z.backward(inputs=[a], create_graph=True)
    else:   # y is a target its node does not lead beyond: torch runs the node's hooks with None gradients
        z.backward(inputs=[y], create_graph=True)
    return {"log": log, "a.grad": _values(a.grad), "b.grad": _values(b.grad)}


@pytest.mark.parametrize("how", ["grad_a", "inputs_a", "inputs_y"])
def test_grad_fn_hook_of_a_restricted_create_graph_walk_sees_torchs_gradients(torch: Any, how: str) -> None:
    assert _post_hook_graph(mg, mg, how) == _post_hook_graph(torch, torch, how)


def _module_penalty(lib: Any, nn: Any, api: Any, hook_kind: str, squared: bool) -> dict:
    """A gradient penalty through a Tanh with a full backward (pre-)hook scaling by 1.5."""
    calls: list = []
    module = nn.Tanh()
    if hook_kind == "full":
        module.register_full_backward_hook(lambda m, gi, go: (calls.append("full"), (gi[0] * 1.5,))[1])
    else:
        module.register_full_backward_pre_hook(lambda m, go: (calls.append("pre"), (go[0] * 1.5,))[1])
    x = lib.tensor([0.3, -0.7, 1.1], requires_grad=True)
    w = lib.tensor([0.5, 2.0, -1.0], requires_grad=True)
    y = module(x * w)
    out = (y * y).sum() if squared else y.sum()   # y.sum(): the penalty's backward does not pass the output again
    (g,) = api.autograd.grad(out, x, create_graph=True)
    calls.append("penalty")
    (g * g).sum().backward()
    return {"g": _values(g), "x.grad": _values(x.grad), "w.grad": _values(w.grad), "calls": calls}


def _constant_input(lib: Any, nn: Any, api: Any) -> dict:
    """A module of (a, b) where b needs no gradient: its grad_input is zeros, under create_graph too."""
    seen: list = []

    class Gate(nn.Module):
        def forward(self, a: Any, b: Any) -> Any:
            return a.tanh() * b

    module = Gate()
    module.register_full_backward_hook(lambda m, gi, go: seen.append([_values(g) for g in gi]))
    a = lib.tensor([0.3, -0.7], requires_grad=True)
    b = lib.tensor([2.0, 3.0])
    (g,) = api.autograd.grad(module(a, b).sum(), a, create_graph=True)
    return {"g": _values(g), "seen": seen}


@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("hook_kind", ["full", "pre"])
def test_module_backward_hooks_run_once_per_output_gradient_in_a_gradient_penalty(torch: Any, hook_kind: str,
                                                                                  squared: bool) -> None:
    import nn
    ours = _module_penalty(mg, nn, mg, hook_kind, squared)
    theirs = _module_penalty(torch, torch.nn, torch, hook_kind, squared)
    assert ours["calls"] == theirs["calls"]
    for key in ("g", "x.grad", "w.grad"):
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-5, atol=1e-6)


def test_module_full_backward_hook_under_create_graph_sees_zeros_for_an_input_without_grad(torch: Any) -> None:
    import nn
    assert _constant_input(mg, nn, mg) == _constant_input(torch, torch.nn, torch)
