"""Round 19 fuzz of activation checkpointing (``mg.utils.checkpoint``) against ``torch.utils.checkpoint``:
saved_tensors_hooks around a checkpointed call, and torch's ``set_checkpoint_debug_enabled`` /
``set_checkpoint_early_stop`` switches."""

from __future__ import annotations

import contextlib
import warnings
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import minigrad.utils.checkpoint as mg_checkpoint

torch = pytest.importorskip("torch", reason="no torch")
import torch.utils.checkpoint as torch_checkpoint  # noqa: E402

X = [[0.3, -1.2, 2.0]]
W = [[0.5], [0.25], [-1.0]]
C = [[1.5, 0.5, -0.5]]


def _hooked_run(lib: str, reentrant: bool, where: str) -> dict:
    """``checkpoint(f, x, c)`` with saved_tensors_hooks whose unpack doubles (so which tensors go through them
    shows in the gradients) on around the call (``fwd``), the backward (``bwd``) or both; the gradients and the
    number of pack/unpack calls."""
    T, C_, hooks = (torch, torch_checkpoint, torch.autograd.graph.saved_tensors_hooks) if lib == "torch" else \
        (mg, mg_checkpoint, mg.autograd.graph.saved_tensors_hooks)
    x = T.tensor(X, dtype=T.float64, requires_grad=True)
    w = T.tensor(W, dtype=T.float64, requires_grad=True)
    c = T.tensor(C, dtype=T.float64)
    calls = {"pack": 0, "unpack": 0}

    def pack(t: Any) -> Any:
        calls["pack"] += 1
        return t * 1

    def unpack(t: Any) -> Any:
        calls["unpack"] += 1
        return t * 2

    def f(a: Any, b: Any) -> Any:
        if "nested" in where:
            a = C_.checkpoint(lambda a2: a2.sin() * 2, a, use_reentrant=reentrant)
        return ((a.exp() * b.sin()) @ w).tanh() * 0.1

    def on(part: str) -> Any:
        return hooks(pack, unpack) if part in where else contextlib.nullcontext()

    arg = x * 1 if "nonleaf" in where else x
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with on("fwd"):
            y = C_.checkpoint(f, arg, c, use_reentrant=reentrant)
            packed = calls["pack"]
        with on("bwd"):
            if "double" in where:
                gx, gw = T.autograd.grad(y.sum(), [x, w], create_graph=True)
                grads = T.autograd.grad((gx * gx).sum() + (gw * gw).sum(), [x, w])
            else:
                y.sum().backward()
                grads = (x.grad, w.grad)
    return {"grads": [np.asarray(g.detach().numpy()) for g in grads], "packed in forward": packed,
            "unpacked": calls["unpack"]}


@pytest.mark.parametrize("reentrant, where", [
    (reentrant, where) for reentrant in (True, False)
    for where in ("fwd", "bwd", "fwd+bwd", "fwd nonleaf", "fwd+bwd nonleaf", "fwd double", "fwd double nested")
    if not (reentrant and "double" in where)])   # torch's reentrant checkpoint refuses autograd.grad
def test_saved_tensors_hooks_see_the_arguments_and_not_the_functions_own_tensors_as_torch(
        reentrant: bool, where: str) -> None:
    """Torch saves the tensor arguments through the caller's hooks (the recomputation reads the unpacked values),
    saves none of the function's tensors through them, and recomputes the non-reentrant variant under hooks of
    its own (the reentrant one under the hooks on during backward). We ran the function's ops through the
    caller's hooks and recomputed from the arguments as they are: other gradients than torch's."""
    ours, theirs = _hooked_run("mg", reentrant, where), _hooked_run("torch", reentrant, where)
    for got, want in zip(ours["grads"], theirs["grads"]):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    assert ours["packed in forward"] == theirs["packed in forward"]


@pytest.mark.parametrize("reentrant", [True, False])
def test_save_on_cpu_around_a_checkpoint_gives_torchs_gradients(reentrant: bool) -> None:
    results = []
    for T, C_ in ((mg, mg_checkpoint), (torch, torch_checkpoint)):
        x = T.tensor(X, dtype=T.float64, requires_grad=True)
        w = T.tensor(W, dtype=T.float64, requires_grad=True)
        with T.autograd.graph.save_on_cpu():
            y = C_.checkpoint(lambda a, b: (a.exp() @ b).sin(), x, w, use_reentrant=reentrant)
        y.sum().backward()
        results.append([np.asarray(t.grad.detach().numpy()) for t in (x, w)])
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def _changes_shape_when_recomputed() -> Any:
    calls = [0]

    def f(a: mg.Tensor) -> mg.Tensor:
        calls[0] += 1
        return a.exp() if calls[0] == 1 else a.exp().sum().expand(2)
    return f


def test_set_checkpoint_debug_enabled_and_early_stop_exist_as_torchs() -> None:
    assert {"set_checkpoint_debug_enabled", "set_checkpoint_early_stop"} <= set(dir(torch_checkpoint))
    x = mg.ones(3, requires_grad=True)
    with pytest.raises(mg_checkpoint.CheckpointError) as plain:
        mg_checkpoint.checkpoint(_changes_shape_when_recomputed(), x, use_reentrant=False).sum().backward()
    assert "forward ops" not in str(plain.value)
    with mg_checkpoint.set_checkpoint_debug_enabled(True):   # overrides debug=False, as torch's
        y = mg_checkpoint.checkpoint(_changes_shape_when_recomputed(), x, use_reentrant=False, debug=False)
        y_reentrant = mg_checkpoint.checkpoint(lambda a: a.exp(), x, use_reentrant=True)   # not refused
    with pytest.raises(mg_checkpoint.CheckpointError, match="forward ops"):
        y.sum().backward()
    y_reentrant.sum().backward()
    with mg_checkpoint.set_checkpoint_debug_enabled(False):   # and debug=True
        y = mg_checkpoint.checkpoint(_changes_shape_when_recomputed(), x, use_reentrant=False, debug=True)
    with pytest.raises(mg_checkpoint.CheckpointError) as quiet:
        y.sum().backward()
    assert "forward ops" not in str(quiet.value)
    assert mg_checkpoint._debug_enabled is None   # restored on exit
    x.grad = None
    with mg_checkpoint.set_checkpoint_early_stop(False):
        mg_checkpoint.checkpoint(lambda a: a.exp(), x, use_reentrant=False).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.exp(np.ones(3, dtype=np.float32)))


def test_retain_grad_inside_the_function_gives_the_forwards_tensors_their_grad_as_torch() -> None:
    """Torch's non-reentrant checkpoint keeps the forward's graph, so a tensor the function called retain_grad()
    on (an intermediate it keeps, or the output it returns) gets its .grad; ours left them None."""
    results = []
    for T, C_ in ((mg, mg_checkpoint), (torch, torch_checkpoint)):
        x = T.tensor(X, dtype=T.float64, requires_grad=True)
        w = T.tensor(W, dtype=T.float64, requires_grad=True)
        kept = []

        def f(a: Any, b: Any, kept: list = kept) -> Any:
            h = a @ b
            h.retain_grad()
            kept.append(h)
            y = h.tanh()
            y.retain_grad()
            return y

        out = C_.checkpoint(f, x, w, use_reentrant=False)
        loss = (out * out).sum()
        loss.backward(retain_graph=True)
        loss.backward()   # the .grad of both accumulates, as a plain run's
        assert out.retains_grad
        results.append([np.asarray(t.grad.detach().numpy()) for t in (kept[0], out)])
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.gpu
@pytest.mark.parametrize("reentrant", [True, False])
def test_save_on_cpu_around_a_checkpoint_on_the_gpu_gives_the_plain_runs_gradients(reentrant: bool) -> None:
    """The GPU arguments go to the host through save_on_cpu's pack hook and come back for the recomputation."""
    x_host = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    grads = []
    for checkpointed in (False, True):
        x = mg.tensor(x_host, device="cuda", requires_grad=True)
        w = mg.tensor(np.array(W), device="cuda", requires_grad=True)

        def f(a: mg.Tensor, b: mg.Tensor) -> mg.Tensor:
            return (a.exp() @ b).sin()

        with mg.autograd.graph.save_on_cpu():
            y = mg_checkpoint.checkpoint(f, x, w, use_reentrant=reentrant) if checkpointed else f(x, w)
        y.sum().backward()
        assert x.grad.device == x.device
        grads.append([x.grad.numpy(), w.grad.numpy()])
    for got, want in zip(*grads):
        np.testing.assert_array_equal(got, want)


def _inner_run(lib: str) -> tuple:
    """``y = checkpoint(f, x)`` where ``f`` keeps its intermediate ``h`` in a list; x, h, y."""
    T, C_ = (torch, torch_checkpoint) if lib == "torch" else (mg, mg_checkpoint)
    x = T.tensor(X[0], dtype=T.float64, requires_grad=True)
    kept: list = []

    def f(a: Any, kept: list = kept) -> Any:
        h = a * 3
        kept.append(h)
        return h.exp()

    return x, (C_.checkpoint(f, x, use_reentrant=False), kept)


@pytest.mark.parametrize("call", ["grad", "grad allow_unused", "backward inputs", "register_hook"])
def test_gradients_at_a_tensor_computed_inside_the_function_are_torchs_not_none(call: str) -> None:
    """Torch's non-reentrant checkpoint keeps the forward's graph: grad(y, h) at an intermediate h of the function
    is exp(3x). Ours replaced that graph by the checkpoint node's: grad(..., allow_unused=True) and
    backward(inputs=[h]) gave None silently, and a hook on h never ran. They now reach h through the
    recomputation (round 21)."""
    x, (y, kept) = _inner_run("torch")
    torch_grad = torch.autograd.grad(y.sum(), kept[0])[0]
    np.testing.assert_allclose(torch_grad.numpy(), np.exp(3 * np.array(X[0])))
    x, (y, kept) = _inner_run("mg")
    h = kept[0]
    if call == "backward inputs":
        y.sum().backward(inputs=[h])
        got = h.grad.numpy()
        assert x.grad is None
    elif call == "register_hook":
        seen = []
        h.register_hook(lambda g: seen.append(g.numpy().copy()))
        y.sum().backward()
        got = seen[0]
    else:
        got = mg.autograd.grad(y.sum(), [h], allow_unused=call == "grad allow_unused")[0].numpy()
    np.testing.assert_allclose(got, torch_grad.numpy(), rtol=1e-12)


def test_retain_grad_after_the_call_and_an_intermediate_used_outside_give_torchs_gradients() -> None:
    results = []
    for lib in ("mg", "torch"):
        x, (y, kept) = _inner_run(lib)
        h = kept[0]
        h.retain_grad()   # after the checkpointed call: the recomputation gives it its .grad, as torch's graph does
        (y.sum() + (h * h).sum()).backward()   # h also used outside the function
        results.append([np.asarray(t.grad.detach().numpy()) for t in (x, h)])
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-12)
