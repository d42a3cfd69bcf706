"""Round 20 leftovers, batch C: a leaf's AccumulateGrad runs as soon as its gradient is complete (in the middle of
the walk, as PyTorch's), ``mg.autograd.set_multithreading_enabled`` and ``mg.backends.cudnn.flags``; each compared
with live torch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _round(t: Any) -> Any:
    return None if t is None else np.round(np.asarray(t.detach().numpy(), dtype=np.float64), 6).tolist()


def _hook_log(lib: Any, entry: str) -> list:
    """The order in which tensor, grad_fn and leaf hooks run, and the leaves' ``.grad`` a non-leaf hook sees.

    ``w`` is complete once ``b``'s product ran; ``x`` only after ``a``'s node, so PyTorch accumulates ``w`` (its
    hooks, ``.grad``, post-accumulate hook) before ``a``'s hooks run."""
    log: list = []
    x = lib.tensor([0.3, 0.7], dtype=lib.float64, requires_grad=True)
    w = lib.tensor([1.5, -0.5], dtype=lib.float64, requires_grad=True)
    a = x * 2.0
    b = a.sin() * w
    c = b.exp()
    a.register_hook(lambda g: log.append(("a", _round(g), _round(w.grad), _round(x.grad))))
    b.grad_fn.register_prehook(lambda go: log.append(("b pre", _round(w.grad))))
    a.grad_fn.register_hook(lambda gi, go: log.append(("a post", _round(w.grad), _round(x.grad))))
    x.register_hook(lambda g: log.append(("x", _round(g), _round(w.grad))))
    w.register_hook(lambda g: log.append(("w", _round(g), _round(x.grad))))
    w.register_post_accumulate_grad_hook(lambda p: log.append(("w acc", _round(p.grad))))
    x.register_post_accumulate_grad_hook(lambda p: log.append(("x acc", _round(p.grad), _round(w.grad))))
    loss = c.sum()
    if entry == "backward":
        loss.backward()
    elif entry == "backward inputs":
        loss.backward(inputs=[w, x])
    elif entry == "autograd.backward roots":
        lib.autograd.backward([c, b], [lib.ones(2, dtype=lib.float64), lib.full((2,), 2.0, dtype=lib.float64)])
    elif entry == "backward create_graph":
        loss.backward(create_graph=True)
    elif entry == "grad create_graph":
        lib.autograd.grad(loss, [x, w], create_graph=True)
    log.append(("after", _round(x.grad), _round(w.grad)))
    return log


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
@pytest.mark.parametrize("entry", ["backward", "backward inputs", "autograd.backward roots", "backward create_graph",
                                   "grad create_graph"])
def test_a_leaf_is_accumulated_as_soon_as_its_gradient_is_complete(entry: str) -> None:
    """PyTorch runs a leaf's AccumulateGrad (hooks, ``.grad +=``, post-accumulate hooks) before any other ready node
    once its last consumer ran; minigrad ran every leaf's after the walk (a non-leaf hook saw no ``.grad``)."""
    assert _hook_log(mg, entry) == _hook_log(torch, entry)


def _squeezed_leaf_outcome(lib: Any) -> Any:
    """A leaf squeezed in place after the forward whose gradient array is another leaf's too (both inputs of an
    add), with a hook on it: PyTorch's AccumulateGrad copies a shared gradient into the leaf's new shape."""
    x = lib.tensor([[0.25, 0.5, 0.75]], dtype=lib.float64, requires_grad=True)
    w = lib.tensor([[1.0, 2.0, 3.0]], dtype=lib.float64, requires_grad=True)
    y = (x + w) * lib.tensor([[2.0, 3.0, 4.0]], dtype=lib.float64)
    x.register_hook(lambda g: None)
    y.register_hook(lambda g: None)
    with lib.no_grad():
        x.squeeze_()
    try:
        y.sum().backward()
    except RuntimeError:   # torch: "output with shape [3] doesn't match the broadcast shape [1, 3]"
        return "raise", _round(x.grad)
    return tuple(x.grad.shape), _round(x.grad), tuple(w.grad.shape)


def test_a_shared_gradient_of_a_reshaped_leaf_with_hooks_is_not_taken_as_its_own() -> None:
    """Accumulated leaf by leaf (hooks present), a gradient shared by two leaves was taken as the squeezed leaf's own
    and kept in the forward's (1, 3) shape, where PyTorch copies it into the leaf's (3,) shape, which it does not
    broadcast to: a RuntimeError."""
    assert _squeezed_leaf_outcome(mg) == _squeezed_leaf_outcome(torch)


def _multithreading_states(lib: Any) -> list:
    enabled = (lambda: lib._C._is_multithreading_enabled()) if lib is torch else lib.autograd.is_multithreading_enabled
    states = [enabled()]
    with lib.autograd.set_multithreading_enabled(False):
        states.append(enabled())
        with lib.autograd.set_multithreading_enabled(True):
            states.append(enabled())
        states.append(enabled())
    states.append(enabled())

    @lib.autograd.set_multithreading_enabled(False)
    def decorated() -> bool:
        return enabled()

    states += [enabled(), decorated(), enabled()]
    lib.autograd.set_multithreading_enabled(True)   # a plain call sets it from now on
    states += [enabled(), decorated(), enabled()]
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    with lib.autograd.set_multithreading_enabled(False):
        (x * x).sum().backward()   # backward runs as ever
    states.append(_round(x.grad))
    return states


def test_set_multithreading_enabled_as_torch() -> None:
    """``mg.autograd.set_multithreading_enabled`` (a call, context manager and decorator) records the flag as
    PyTorch's; minigrad had none."""
    assert _multithreading_states(mg) == _multithreading_states(torch)
    with pytest.raises(TypeError):
        torch.autograd.set_multithreading_enabled(1)
    with pytest.raises(TypeError):
        mg.autograd.set_multithreading_enabled(1)


def _cudnn_flags_states(cudnn: Any) -> list:
    read = lambda: [cudnn.enabled, cudnn.benchmark, cudnn.deterministic, cudnn.allow_tf32]  # noqa: E731
    states = [read()]
    with cudnn.flags() as entered:
        states += [entered, read()]
    with cudnn.flags(enabled=True, benchmark=True, deterministic=True, allow_tf32=False):
        states.append(read())
        with cudnn.flags(enabled=True, deterministic=False):
            states.append(read())
        states.append(read())
    try:
        with cudnn.flags(enabled=True, benchmark_limit=3, fp32_precision="none", depthwise_kernel="auto"):
            raise KeyError("inside")
    except KeyError:
        pass
    states.append(read())
    return states


def test_cudnn_flags_as_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    """``mg.backends.cudnn.flags(...)`` sets the flags for the block (its defaults too: enabled=False) and restores
    them, also after an error, as PyTorch's; minigrad had no ``flags``."""
    import minigrad.backends.cudnn as cudnn  # the package spelling reaches the same namespace

    assert cudnn is mg.backends.cudnn
    for module in (mg.backends.cudnn, torch.backends.cudnn):   # one start for both (other tests set them)
        for name, value in (("enabled", True), ("benchmark", False), ("deterministic", False), ("allow_tf32", True)):
            monkeypatch.setattr(module, name, value)
    assert _cudnn_flags_states(mg.backends.cudnn) == _cudnn_flags_states(torch.backends.cudnn)
