"""Round 22, leftovers: recurrent argument errors, the functional cells' biases, saved tensors, hooks, each compared
with torch 2.13 (fuzzers: /tmp/fuzz22_rnn_args.py, /tmp/fuzz22_rnn_hooks.py)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _outcome(call: Callable[[], Any]) -> type | None:
    """None, or the class of the error ``call`` raised."""
    try:
        call()
    except Exception as error:  # noqa: BLE001 - the class is compared
        return type(error)
    return None


def _same_outcome(ours: Callable[[], Any], theirs: Callable[[], Any]) -> None:
    """Both succeed, or ours raises an instance of the (builtin) class torch's raises."""
    expected, got = _outcome(theirs), _outcome(ours)
    assert (got is None) == (expected is None), (got, expected)
    assert expected is None or issubclass(got, expected), (got, expected)


# --- 2. the functional cells take a bias that expands to (B, gates · H), as torch's -------------------------------

_CELLS = [("rnn_tanh_cell", 1), ("rnn_relu_cell", 1), ("lstm_cell", 4), ("gru_cell", 3)]


@pytest.mark.parametrize("dtype", [np.float64, np.float16])
@pytest.mark.parametrize("name, gates", _CELLS)
@pytest.mark.parametrize("shape", [(), (1,), (1, "G"), ("B", "G"), ("B", 1), (1, 1), (2, "G"), (1, 1, "G"), ("G+1",)])
def test_functional_cell_bias_broadcasts(name: str, gates: int, shape: tuple, dtype: Any) -> None:
    batch, inputs, hidden = 3, 2, 4
    sizes = {"G": gates * hidden, "B": batch, "G+1": gates * hidden + 1}
    shape = tuple(sizes.get(s, s) for s in shape)
    rng = np.random.default_rng(0)
    values = [rng.standard_normal(s).astype(dtype) for s in
              [(batch, inputs), (batch, hidden), (batch, hidden), (gates * hidden, inputs), (gates * hidden, hidden),
               shape, shape]]

    def call(lib: Any, make: Callable) -> list:
        tensors = [make(v) for v in values]
        x, h, c, w_ih, w_hh, b_ih, b_hh = tensors
        result = getattr(lib, name)(x, (h, c) if gates == 4 else h, w_ih, w_hh, b_ih, b_hh)
        outputs = list(result) if gates == 4 else [result]
        sum(o.float().sum() * (k + 1) for k, o in enumerate(outputs)).backward()
        return [o.detach() for o in outputs] + [t.grad for t in tensors]

    expected = _outcome(lambda: call(torch, lambda v: torch.tensor(v, requires_grad=True)))
    got = _outcome(lambda: call(mg, lambda v: mg.tensor(v, requires_grad=True)))
    assert got is expected or (expected is not None and got is not None and issubclass(got, expected))
    if expected is not None:
        return
    theirs = call(torch, lambda v: torch.tensor(v, requires_grad=True))
    ours = call(mg, lambda v: mg.tensor(v, requires_grad=True))
    for a, b in zip(ours, theirs):
        assert (a is None) == (b is None)
        if a is None:
            continue
        assert a.shape == tuple(b.shape) and a.numpy().dtype == b.numpy().dtype
        tolerance = 1e-2 if dtype == np.float16 else 1e-12
        np.testing.assert_allclose(a.numpy().astype(np.float64), b.numpy().astype(np.float64),
                                   rtol=tolerance, atol=tolerance)
    if dtype == np.float16:                               # the outputs: torch's rounding, bit for bit
        for a, b in zip(ours[:1 + (gates == 4)], theirs):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
