"""Round 18 (lead): autograd.grad of a compiled call's output with a tensor hook, when another requested input
does not feed that output (the capture took the gradient before the hook: a silent half gradient)."""
from typing import Any

import pytest

import minigrad as mg


def _step(lib: Any, x: Any, y: Any, x2: Any) -> tuple:
    out = x * y
    return (out * out).sum() + (x2 * 3).sum(), out


@pytest.mark.parametrize("which", [("out", "x2"), ("out", "x"), ("out",), ("out", "x", "x2"), ("x2", "out")])
def test_a_hooked_output_of_a_replay_gets_torch_gradient(torch: Any, which: tuple) -> None:
    results = []
    for lib, compiled in ((torch, False), (mg, False), (mg, True)):
        f = mg.compile(lambda x, y, x2: _step(mg, x, y, x2)) if compiled else (lambda x, y, x2, lib=lib: _step(
            lib, x, y, x2))
        for _call in range(4):   # the later calls replay
            x = lib.tensor([1.0, 2.0], requires_grad=True)
            x2 = lib.tensor([1.0, 1.0], requires_grad=True)
            loss, out = f(x, lib.tensor([3.0, 4.0]), x2)
            out.register_hook(lambda g: g * 2)
            named = {"out": out, "x": x, "x2": x2}
            grads = (torch.autograd.grad if lib is torch else mg.autograd.grad)(loss, [named[w] for w in which])
            results.append([g.tolist() for g in grads])
    assert all(r == results[0] for r in results), results


@pytest.mark.gpu
def test_tensors_on_two_devices_raise_both_classes() -> None:
    """DESIGN.md names a ValueError, PyTorch raises a RuntimeError: the error is both (it was a plain ValueError)."""
    on_gpu, on_cpu = mg.ones(3, device="cuda", requires_grad=True), mg.ones(3)
    for call in (lambda: on_gpu * on_cpu, lambda: mg.equal(on_gpu, on_cpu), lambda: on_gpu.backward(on_cpu)):
        with pytest.raises(RuntimeError, match="device") as info:
            call()
        assert isinstance(info.value, ValueError) and isinstance(info.value, mg.DeviceMismatchError)


@pytest.mark.parametrize("index", ["a", b"a", 1.5, {"k": 1}, (0, "a")], ids=repr)
def test_an_index_of_no_tensor_kind_raises_torch_class_too(torch: Any, index: Any) -> None:
    """PyTorch raises TypeError for a str/bytes index and IndexError for a float or dict; ours is both (it was an
    IndexError only, so `except TypeError` written for PyTorch, as default_collate's callers do, missed it)."""
    with pytest.raises((TypeError, IndexError)) as theirs:
        torch.ones(2, 2)[index]
    with pytest.raises(type(theirs.value)) as ours:
        mg.ones(2, 2)[index]
    assert isinstance(ours.value, IndexError) and isinstance(ours.value, TypeError)
