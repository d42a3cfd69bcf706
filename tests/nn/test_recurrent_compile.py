"""nn.RNN/LSTM/GRU(compile=True): each direction's loop over time replayed through mg.compile gives
eager mode's numbers, bit for bit.

Every configuration runs twice per model (the first forward captures, the second replays) and is
compared array by array with the eager layer's: outputs, final states, and the gradients of the
input, the initial state and every parameter.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn
from nn.utils.rnn import pack_padded_sequence
from tests.nn.recurrent_helpers import walk

VARIANTS = {
    "RNN": [{}, {"nonlinearity": "relu"}],
    "LSTM": [{}, {"peephole": True}, {"coupled": True}, {"peephole": True, "coupled": True}, {"fused": True}],
    "GRU": [{}, {"fused": True}],
}
CASES = [(name, options) for name, variants in VARIANTS.items() for options in variants]
LAYOUTS = list(itertools.product([1, 2], [False, True], ["full", "lengths", "packed"]))


def run(model: nn.Module, x_np: np.ndarray, h_np: list, layout: str, dtype: Any) -> list[np.ndarray]:
    """Two training steps' worth of forward + backward; the arrays of the second."""
    lengths = [5, 2, 4]
    for _ in range(2):
        model.zero_grad()
        x = mg.tensor(x_np.astype(dtype), requires_grad=True)
        states = [mg.tensor(h.astype(dtype), requires_grad=True) for h in h_np]
        state = tuple(states) if len(states) == 2 else states[0]
        if layout == "packed":
            out, final = model(pack_padded_sequence(x, lengths, enforce_sorted=False), state)
            out = out.data
        else:
            out, final = model(x, state, lengths=lengths if layout == "lengths" else None)
        finals = list(final) if isinstance(final, tuple) else [final]
        loss = (out * out).sum()
        for f in finals:
            loss = loss + (f * f.tanh()).sum()
        loss.backward()
    grads = [x.grad.numpy(), *(s.grad.numpy() for s in states)]
    return [out.numpy(), *(f.numpy() for f in finals), *grads, *(p.grad.numpy() for p in model.parameters())]


def pair(name: str, options: dict, num_layers: int, bidirectional: bool, dtype: Any, **extra: Any) -> tuple:
    eager = getattr(nn, name)(3, 4, num_layers=num_layers, bidirectional=bidirectional, dtype=dtype,
                              **options, **extra)
    compiled = getattr(nn, name)(3, 4, num_layers=num_layers, bidirectional=bidirectional, dtype=dtype,
                                 compile=True, **options, **extra)
    compiled.load_state_dict(eager.state_dict())
    return eager, compiled


def inputs(name: str, num_layers: int, bidirectional: bool) -> tuple:
    rng = np.random.default_rng(11)
    count = num_layers * (2 if bidirectional else 1)
    states = [rng.standard_normal((count, 3, 4)) for _ in range(2 if name == "LSTM" else 1)]
    return rng.standard_normal((5, 3, 3)), states


def assert_same(eager: list, compiled: list, exact: bool, what: str) -> None:
    """Bit-identical, or (``exact=False``) within a few units in the last place of the array's scale."""
    assert len(eager) == len(compiled)
    for i, (a, b) in enumerate(zip(eager, compiled)):
        if exact:
            np.testing.assert_array_equal(b, a, err_msg=f"{what}: array {i}")
        else:
            ulps = 16 * np.finfo(a.dtype).eps
            scale = float(np.abs(a).max())
            np.testing.assert_allclose(b, a, rtol=ulps, atol=ulps * scale, err_msg=f"{what}: array {i}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("num_layers,bidirectional,layout", LAYOUTS)
@pytest.mark.parametrize("name,options", CASES, ids=[f"{n}-{'-'.join(o) or 'plain'}" for n, o in CASES])
def test_compiled_layer_equals_eager(name: str, options: dict, num_layers: int, bidirectional: bool,
                                     layout: str, dtype: Any) -> None:
    eager, compiled = pair(name, options, num_layers, bidirectional, dtype)
    x_np, h_np = inputs(name, num_layers, bidirectional)
    expected, got = run(eager, x_np, h_np, layout, dtype), run(compiled, x_np, h_np, layout, dtype)
    assert_same(expected, got, True, "outputs, final states and gradients")


def test_compiled_dropout_with_a_fixed_seed_equals_eager() -> None:
    eager, compiled = pair("LSTM", {}, 3, True, np.float64, dropout=0.5)
    x_np, h_np = inputs("LSTM", 3, True)
    results = []
    for model in (eager, compiled):
        mg.manual_seed(5)
        results.append(run(model, x_np, h_np, "lengths", np.float64))
    assert_same(results[0], results[1], True, "dropout")


def test_compiled_layer_replays_one_node_per_direction() -> None:
    model = nn.LSTM(3, 4, compile=True, bidirectional=True)
    x = mg.randn(6, 2, 3)
    model(x)                                  # captures each direction's loop over time
    out, _ = model(x)
    nodes = walk(out)
    replayed = [n for n in nodes if n.name == "compiled"]
    assert sorted(n.scope for n in replayed) == ["lstm/l0", "lstm/l0_reverse"]
    assert not any(n.name == "sigmoid" for n in nodes)   # every step's ops are inside the two replays
    drawn_scopes = {scope for n in replayed for _name, scope, *_ in n.program.drawn}
    assert {f"lstm/l0/t{t}" for t in range(6)} <= drawn_scopes   # drawn as the unrolled steps
    assert repr(model) == "LSTM(3, 4, bidirectional=True, compile=True)"


def test_lengths_with_the_same_longest_and_shortest_replay_one_capture() -> None:
    eager, compiled = pair("GRU", {}, 2, True, np.float64)
    x_np, h_np = inputs("GRU", 2, True)
    for lengths in ([5, 2, 4], [4, 5, 2], [2, 3, 5], [5, 5, 5], [1, 5, 3]):
        results = []
        for model in (eager, compiled):
            model.zero_grad()
            x = mg.tensor(x_np, requires_grad=True)
            out, h = model(x, mg.tensor(h_np[0]), lengths=lengths)
            ((out * out).sum() + h.sum()).backward()
            results.append([out.numpy(), h.numpy(), x.grad.numpy(), *(p.grad.numpy() for p in model.parameters())])
        assert_same(results[0], results[1], True, f"lengths {lengths}")
    # one capture per (longest, shortest) length: (5, 2) three times, (5, 5), (5, 1)
    assert [len(c.programs) for c in compiled._compiled_directions.values()] == [3, 3, 3, 3]
    assert not any(c.eager for c in compiled._compiled_directions.values())


def test_compiled_layer_copies_and_sees_weight_updates() -> None:
    import copy

    model = nn.GRU(3, 4, compile=True, dtype=mg.float64)
    x = mg.randn(5, 2, 3, dtype=mg.float64)
    model(x)
    out, _ = model(x)
    twin = copy.deepcopy(model)                # captured programs are not copied; the twin captures its own
    assert twin.compile and not twin._compiled_directions   # captures its own on its first call
    np.testing.assert_array_equal(twin(x)[0].numpy(), out.numpy())
    np.testing.assert_array_equal(twin(x)[0].numpy(), out.numpy())
    with mg.no_grad():                         # an optimizer-style in-place update is seen by the replay
        for p in twin.parameters():
            p.data *= 0.5
    reference = nn.GRU(3, 4, dtype=mg.float64)
    reference.load_state_dict(twin.state_dict())
    np.testing.assert_array_equal(twin(x)[0].numpy(), reference(x)[0].numpy())


@pytest.mark.parametrize("compile", [False, True])
def test_a_training_step_keeps_no_activations_alive_after_backward(compile: bool) -> None:
    """The replayed loop drops each intermediate array after its last use and its saved arrays after
    backward, as eager mode does (the captured ops are shared instances that outlive the call)."""
    import tracemalloc

    model = nn.LSTM(8, 32, compile=compile)
    x = mg.randn(50, 4, 8)

    def step() -> None:
        model.zero_grad()
        out, _ = model(x)
        out.sum().backward()

    step()
    step()
    tracemalloc.start()
    try:
        step()
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kept < peak / 4, f"{kept} bytes kept after the step, peak {peak}"


def test_a_parameter_replaced_after_the_capture_is_used() -> None:
    eager, compiled = pair("GRU", {}, 1, True, np.float64)
    x = mg.randn(5, 2, 3, dtype=mg.float64)
    compiled(x)
    compiled(x)                                # replays
    values = np.random.default_rng(3).standard_normal((12, 4))
    for model in (eager, compiled):
        model.weight_hh_l0_reverse = nn.Parameter(mg.tensor(values.copy()))
    results = []
    for model in (eager, compiled):
        out, h = model(x)
        (out.sum() + h.sum()).backward()
        results.append([out.numpy(), h.numpy(), *(p.grad.numpy() for p in model.parameters())])
    assert_same(results[0], results[1], True, "after replacing weight_hh_l0_reverse")
