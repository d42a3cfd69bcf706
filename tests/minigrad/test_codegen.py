"""minigrad.codegen: a replayed program as straight-line code, bit-identical to the plans' loops.

tests/conftest.py has every test write the code from a program's first replay, so the
other compile tests check the code against eager mode; here the loops (no code) are
checked against the code, and when the code is written.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn
from minigrad import codegen

LAYERS = {
    "lstm_bidirectional_2layers": lambda: nn.LSTM(4, 5, num_layers=2, bidirectional=True, dtype=mg.float64),
    "lstm_peephole": lambda: nn.LSTM(4, 5, peephole=True),
    "gru": lambda: nn.GRU(4, 5),
    "rnn_relu": lambda: nn.RNN(4, 5, nonlinearity="relu"),
}


def _train_calls(layer: nn.Module, calls: int = 4) -> list[list[np.ndarray]]:
    """Outputs, final states and every gradient of ``calls`` replayed calls of the whole layer."""
    compiled = mg.compile(lambda x: layer(x, lengths=mg.tensor([5, 2, 4])))
    rng = np.random.default_rng(1)
    results = []
    for _ in range(calls):
        x = mg.tensor(rng.standard_normal((5, 3, 4)), dtype=layer.weight_hh_l0.dtype, requires_grad=True)
        layer.zero_grad()
        output, state = compiled(x)
        flat = [output, *(state if isinstance(state, tuple) else (state,))]
        sum(((t * t).sum() for t in flat), mg.tensor(0.0, dtype=x.dtype)).backward()
        results.append([t.numpy().copy() for t in flat] + [p.grad.numpy().copy() for p in [*layer.parameters(), x]])
    assert output._node.name == "compiled" and not compiled.eager
    return results


@pytest.mark.parametrize("kind", list(LAYERS))
def test_the_code_and_the_loops_give_the_same_bits(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    mg.manual_seed(4)
    layer = LAYERS[kind]()
    coded = _train_calls(layer)
    monkeypatch.setattr(codegen, "MAX_OPS", 0)   # too long for code: the loops replay
    looped = _train_calls(layer)
    for call_coded, call_looped in zip(coded, looped):
        for a, b in zip(call_coded, call_looped):
            np.testing.assert_array_equal(a, b)


def _program(compiled: mg.compile) -> object:
    (program,) = compiled.programs.values()
    return program


def test_the_code_is_written_after_replays_first_replays(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codegen, "REPLAYS_FIRST", 2)
    w = mg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    compiled = mg.compile(lambda x: ((x @ w).tanh() * 2).sum())
    written, expected = [], 0
    for call in range(6):
        x = np.full((4, 2), 0.1 * call)
        compiled(mg.tensor(x)).backward()
        expected = expected + x.T @ (2 * (1 - np.tanh(x @ w.numpy()) ** 2))
        program = _program(compiled)
        written.append((program.replays, program.forward_code is not None))
    # a capture, a check of its constant (2) against a fresh capture, two replays by the loops, then code
    assert written == [(0, False), (0, False), (1, False), (2, False), (2, True), (2, True)]
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-12)
    source = _program(compiled).forward_code.source
    assert source.count(" = f") == len(_program(compiled).forward_plan)   # one line per captured op


def test_the_code_is_written_once_the_replays_took_as_long_as_writing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rent or buy: a program is written out when its loop replays have cost its estimated writing time."""
    monkeypatch.setattr(codegen, "REPLAYS_FIRST", 2)
    monkeypatch.setattr(codegen, "SECONDS_PER_OP", 1e-4)
    assert not codegen.worth_writing(1, 1.0, 100)        # too few replays, however slow
    assert not codegen.worth_writing(50, 0.009, 100)     # 9 ms of replays against 10 ms of writing
    assert codegen.worth_writing(50, 0.011, 100)
    monkeypatch.setattr(codegen, "SECONDS_PER_OP", 1e6)   # writing never pays: the loops replay on
    w = mg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    compiled = mg.compile(lambda x: (x @ w).tanh().sum())
    for call in range(8):   # a capture, then seven replays
        compiled(mg.tensor(np.full((4, 2), 0.1 * call))).backward()
    program = _program(compiled)
    assert program.forward_code is None and program.replays == 7 and program.replay_seconds > 0
    monkeypatch.setattr(codegen, "SECONDS_PER_OP", 0.0)   # now it does: the next replay is code
    compiled(mg.tensor(np.full((4, 2), 0.5))).backward()
    assert program.forward_code is not None and program.backward_code is not None and program.replays == 7


def test_a_program_longer_than_max_ops_replays_by_the_loops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codegen, "MAX_OPS", 3)
    x = mg.tensor([0.5, -1.0, 2.0], dtype=mg.float64, requires_grad=True)
    compiled = mg.compile(lambda t: (t.sigmoid() * t).exp().sum())
    for _ in range(3):
        x.grad = None
        compiled(x).backward()
    program = _program(compiled)
    assert len(program.forward_plan) == 4 and program.forward_code is None and program.backward_code is None
    value = x.detach().numpy()
    sigmoid = 1 / (1 + np.exp(-value))
    expected = np.exp(sigmoid * value) * (sigmoid + value * sigmoid * (1 - sigmoid))
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)


def test_outputs_without_gradient_and_unused_pieces_of_a_split() -> None:
    """A multi-output op with a piece nobody reads, and a returned output that gets no gradient."""
    w = mg.tensor(np.linspace(-1, 1, 12).reshape(3, 4), requires_grad=True)

    def fn(x):
        a, _unused, c = (x @ w).split([1, 2, 1], dim=-1)
        return (a * c).sum(), c.detach() * 3

    compiled = mg.compile(fn)
    for call in range(4):
        x = mg.tensor(np.full((2, 3), call + 1.0))
        w.grad = None
        loss, side = compiled(x)
        loss.backward()
    grad = w.grad.numpy().copy()
    w.grad = None
    fn(x)[0].backward()
    np.testing.assert_array_equal(grad, w.grad.numpy())
    assert _program(compiled).backward_code is not None


def test_a_long_program_has_a_frame_larger_than_a_frame_stack_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its op calls then always have room on the frame stack (see codegen.PAD_FRAME_OPS)."""
    x = mg.tensor(np.ones(3), requires_grad=True)
    for pad_from, padded in ((10, False), (4, True)):
        monkeypatch.setattr(codegen, "PAD_FRAME_OPS", pad_from)
        compiled = mg.compile(lambda t: (t.sigmoid() * t).exp().sum())
        for call in range(3):
            compiled(x * (call + 1)).backward()
        program = _program(compiled)
        for code in (program.forward_code, program.backward_code):
            assert (code.__code__.co_nlocals * 8 > 16 * 1024) == padded


def test_a_one_piece_unbind_and_zero_d_outputs_match_eager() -> None:
    w = mg.tensor(np.arange(3.0), requires_grad=True)

    def fn(x):
        (a,) = (x * w).reshape(1, 3).unbind(0)   # a multi-output op with one output
        return a.sum(), a * 2, a.sum()           # 0-d outputs, one op's output read twice

    compiled = mg.compile(fn)
    for call in range(4):
        x = mg.tensor(np.full(3, call + 1.0))
        grads = []
        for f in (compiled, fn):
            w.grad = None
            total, doubled, again = f(x)
            (total + doubled.sum() + again).backward()
            grads.append(w.grad.numpy().copy())
        np.testing.assert_array_equal(*grads)
    assert _program(compiled).forward_code is not None
