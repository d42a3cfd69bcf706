"""Round 18 regression sweep: the earlier offline differential fuzzers (/tmp/fuzz16_*, fuzz17_*) re-run on the
round-18 tree; one test per mismatch fixed, compared with live PyTorch."""

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")


def _output_grads(lib, compiled: bool) -> list:
    """``autograd.grad(loss, logits)`` of a step that returns ``loss, logits``, with a hook on ``logits`` that
    doubles its gradient; four calls (with ``compiled``, the later ones replay the captured call)."""
    model = (torch.nn if lib is torch else nn).Linear(4, 2)
    with lib.no_grad():   # the same weights in both libraries
        model.weight.copy_(lib.tensor(np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)))
        model.bias.copy_(lib.tensor([0.5, -0.25]))
    functional = torch.nn.functional if lib is torch else nn.functional

    def step(x, y):
        logits = model(x)
        return functional.cross_entropy(logits, y), logits

    f = mg.compile(step) if compiled else step
    grads = []
    for call in range(4):
        x = lib.tensor(np.random.default_rng(call).standard_normal((3, 4)).astype(np.float32))
        loss, logits = f(x, lib.tensor([0, 1, 1]))
        logits.register_hook(lambda g: g * 2)
        grads.append(lib.autograd.grad(loss, logits)[0].detach().numpy().copy())
    return grads


def test_compiled_output_hook_runs_before_autograd_grad_captures_it():
    """A replayed call's output hook ran after ``autograd.grad`` captured the output's gradient (half of eager's
    and PyTorch's: the hook's doubling was missed from the third call on, silently)."""
    expected = _output_grads(torch, False)
    for compiled in (False, True):
        got = _output_grads(mg, compiled)
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
