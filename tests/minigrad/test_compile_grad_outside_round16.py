"""Round 16: a replayed ``mg.compile`` call's output that its own ops read (``return loss, logits``) and that also
gets a gradient from outside the call (``loss + logits.sum()``): ``autograd.grad`` of it, and its hooks and
``retain_grad``, see its whole gradient, the outside part plus the inside's terms, as eager and PyTorch.

Before, the walk ran the output's hooks on the outside part alone, so the replay raised RuntimeError ("gets a
gradient both from outside the call and from the call's own ops") where eager returns the gradient.
"""

import warnings

import numpy as np
import pytest

import minigrad as mg


def _step(x, w):
    logits = x @ w
    return logits.tanh().sum(), logits


def _calls(dtype, after_call, compiled: bool):
    """Four calls (the later ones replay); ``after_call(loss, logits, w)`` returns what to compare."""
    f = mg.compile(_step) if compiled else _step
    x = mg.tensor(np.random.default_rng(0).standard_normal((2, 3)).astype(dtype))
    w = mg.tensor(np.random.default_rng(1).standard_normal((3, 4)).astype(dtype), requires_grad=True)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(4):
            loss, logits = f(x, w)
            rows.append([None if a is None else a.numpy() for a in after_call(loss, logits, w)])
            w.grad = None
    return rows


def _grad(loss, logits, w):
    return mg.autograd.grad(loss + logits.sum(), [logits, w])


def _hook(loss, logits, w):
    logits.register_hook(lambda g: g * 2.0)
    (loss + 3.0 * logits.sum()).backward()
    return [w.grad]


def _hook_retain_grad(loss, logits, w):
    logits.register_hook(lambda g: g * 2.0)
    logits.retain_grad()
    (loss + logits.sum()).backward()
    return [logits.grad, w.grad]


def _backward_inputs(loss, logits, w):
    logits.register_hook(lambda g: g * 2.0)
    (loss + logits.sum()).backward(inputs=[logits, w])
    return [logits.grad, w.grad]


def _outside_only(loss, logits, w):
    logits.register_hook(lambda g: g * 2.0)
    logits.retain_grad()
    (3.0 * logits.sum()).backward()   # the loss, which the call's ops make from logits, is not used
    return [logits.grad, w.grad]


def _retain_and_grad(loss, logits, w):
    logits.retain_grad()
    seen = []
    logits.register_hook(lambda g: seen.append(g.numpy().copy()))
    gl, gw = mg.autograd.grad(loss + (logits * logits).sum(), [logits, w])
    return [gl, gw, mg.tensor(seen[0])]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("after_call", [_grad, _hook, _hook_retain_grad, _backward_inputs,
                                       _outside_only, _retain_and_grad])
def test_an_output_read_inside_and_outside_the_call_gets_eagers_gradient(dtype, after_call):
    # two terms (outside, inside) per sum: bit-identical to eager in either dtype
    want, got = _calls(dtype, after_call, False), _calls(dtype, after_call, True)
    for a_row, b_row in zip(want, got):
        for a, b in zip(a_row, b_row):
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_array_equal(a, b)


def test_autograd_grad_matches_torch(torch):
    x = np.random.default_rng(0).standard_normal((2, 3))
    w = np.random.default_rng(1).standard_normal((3, 4))
    got = _calls(np.float64, _grad, True)[-1]
    tw = torch.tensor(w, requires_grad=True)
    logits = torch.tensor(x) @ tw
    want = torch.autograd.grad(logits.tanh().sum() + logits.sum(), [logits, tw])
    for a, b in zip(want, got):
        np.testing.assert_allclose(b, a.numpy(), rtol=1e-12, atol=1e-12)
