"""Round 19: ``mg.compile`` against eager mode on random programs (differential fuzzing, /tmp/fuzz19_compile.py).

The fuzzer built thousands of programs with tests/support/device_sweep.program_case, wrapped each in ``mg.compile``
and called it several times (capture, replay, new values, another signature, back; under ``no_grad``; with dropout
and random draws, in-place ops, views, changing Python numbers and closure tensors), comparing every call's outputs
and gradients with eager's bit for bit. Each test here is one root cause it found.
"""
import warnings
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg


def _calls(fn: Callable, inputs: list, seed: int = 0) -> list:
    """``fn``'s result on each input in turn (the engine's generator seeded once, first), with its strides."""
    mg.manual_seed(seed)
    results = []
    for x in inputs:
        y = fn(x)
        results.append((y.numpy().copy(), y.stride()))
    return results


@pytest.mark.parametrize("draw", [
    lambda lib, x: x * lib.rand_like(x),
    lambda lib, x: lib.randn_like(x) + x,
    lambda lib, x: lib.randint_like(x, 0, 9) * x,
])
def test_a_replayed_like_draw_keeps_its_inputs_layout(draw: Callable, torch: Any) -> None:
    """``rand_like`` of a transposed tensor is transposed (PyTorch's preserve_format, and eager mode's); a replay
    drew it C-ordered, so ``x * mg.rand_like(x)`` had strides (3, 1) where eager and PyTorch give (1, 4)."""
    rng = np.random.default_rng(0)
    inputs = [mg.tensor(rng.standard_normal((4, 3))).t() for _ in range(5)]
    want = _calls(lambda x: draw(mg, x), inputs)
    got = _calls(mg.compile(lambda x: draw(mg, x)), inputs)
    torch_strides = draw(torch, torch.tensor(rng.standard_normal((4, 3))).t()).stride()
    for call, ((values, strides), (values_c, strides_c)) in enumerate(zip(want, got)):
        np.testing.assert_array_equal(values_c, values, err_msg=f"call {call}")
        assert strides_c == strides == torch_strides, call


@pytest.mark.parametrize("spread", [
    lambda lib, x: x.std(0),
    lambda lib, x: lib.std(x, dim=1, keepdim=True, correction=0),
    lambda lib, x: lib.std_mean(x, dim=0)[0],
    lambda lib, x: (lambda s: s * s.detach())(lib.std(x, dim=(0,), correction=1)),   # its array read again
])
def test_std_over_a_dim_replays(spread: Callable, torch: Any) -> None:
    """``x.std(0)`` keeps its own output for its backward; the capture took that array for a value frozen from the
    arguments, so every compiled function with a std over a dim ran eagerly (a CompileWarning on its first call
    with new values). It replays now, bit-identical to eager (and to PyTorch's values)."""
    compiled = mg.compile(lambda x: spread(mg, x) * 2)
    rng = np.random.default_rng(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", mg.CompileWarning)
        for call in range(5):
            values = rng.standard_normal((3, 4))
            x, x_eager = (mg.tensor(values, requires_grad=True) for _ in range(2))
            y, y_eager = compiled(x), spread(mg, x_eager) * 2
            y.sum().backward()
            y_eager.sum().backward()
            assert y.numpy().tobytes() == y_eager.numpy().tobytes(), call
            assert x.grad.numpy().tobytes() == x_eager.grad.numpy().tobytes(), call
            t = torch.tensor(values, requires_grad=True)
            spread(torch, t).mul(2).sum().backward()
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert compiled.programs and not compiled.eager   # replayed, not run eagerly
