"""Recurrent cells (nn/cells.py): PyTorch parity, peephole/coupled references, gradchecks, fused gates."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn
from tests.helpers import assert_close
from tests.nn.recurrent_helpers import (
    assert_same_param_grads,
    cell_params,
    copy_weights,
    functional,
    leaf,
    numpy_lstm_reference,
    tol,
    torch_leaf,
    walk,
    weighted_sum,
)

RNG = np.random.default_rng(4321)

CELLS = {"rnn_tanh": ("RNNCell", {"nonlinearity": "tanh"}), "rnn_relu": ("RNNCell", {"nonlinearity": "relu"}),
         "lstm": ("LSTMCell", {}), "gru": ("GRUCell", {})}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("bias", [True, False])
def test_cell_matches_torch(torch, kind: str, dtype: Any, bias: bool) -> None:
    name, options = CELLS[kind]
    batch, inputs, hidden = (int(v) for v in RNG.integers(1, 6, size=3))
    cell = getattr(nn, name)(inputs, hidden, bias=bias, dtype=dtype, **options)
    torch_cell = getattr(torch.nn, name)(inputs, hidden, bias=bias, **options).to(getattr(torch, np.dtype(dtype).name))
    copy_weights(cell, torch_cell)
    x_np, h_np, c_np = (RNG.standard_normal(s) for s in [(batch, inputs), (batch, hidden), (batch, hidden)])
    x, h, c = leaf(x_np, dtype), leaf(h_np, dtype), leaf(c_np, dtype)
    tx, th, tc = (torch_leaf(torch, a, dtype) for a in (x_np, h_np, c_np))
    if kind == "lstm":
        out, t_out = cell(x, (h, c)), torch_cell(tx, (th, tc))
    else:
        out, t_out = (cell(x, h),), (torch_cell(tx, th),)
    for a, b in zip(out, t_out):
        assert a.dtype == np.dtype(dtype)
        assert_close(a, b, **tol(dtype), what=f"{kind} output")
    weighted_sum(list(out)).backward()
    weighted_sum(list(t_out), torch).backward()
    assert_close(x.grad, tx.grad, **tol(dtype), what="grad of x")
    assert_close(h.grad, th.grad, **tol(dtype), what="grad of h")
    if kind == "lstm":
        assert_close(c.grad, tc.grad, **tol(dtype), what="grad of c")
    assert_same_param_grads(cell, torch_cell, dtype)


@pytest.mark.parametrize("kind", list(CELLS))
def test_cell_unbatched_and_default_state(torch, kind: str) -> None:
    name, options = CELLS[kind]
    cell = getattr(nn, name)(3, 4, dtype=mg.float64, **options)
    torch_cell = getattr(torch.nn, name)(3, 4, **options).double()
    copy_weights(cell, torch_cell)
    x_np = RNG.standard_normal(3)
    out, t_out = cell(mg.tensor(x_np)), torch_cell(torch.from_numpy(x_np))
    out, t_out = (out, t_out) if kind == "lstm" else ((out,), (t_out,))
    for a, b in zip(out, t_out):
        assert a.shape == (4,)
        assert_close(a, b, what="unbatched output with zero state")


def test_cell_initialisation_and_factory_kwargs() -> None:
    cell = nn.LSTMCell(5, 16, dtype=mg.float64)
    bound = 1 / math.sqrt(16)
    assert [n for n, _ in cell.named_parameters()] == ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    assert cell.weight_ih.shape == (64, 5) and cell.weight_hh.shape == (64, 16) and cell.bias_ih.shape == (64,)
    for _, p in cell.named_parameters():
        assert p.dtype == np.float64 and p.requires_grad
        values = p.numpy()
        assert np.abs(values).max() <= bound and values.std() > bound / 4
    assert nn.GRUCell(2, 3, device="cpu").weight_hh.shape == (9, 3)
    assert nn.RNNCell(2, 3).weight_ih.dtype == np.float32
    no_bias = nn.GRUCell(2, 3, bias=False)
    assert no_bias.bias_ih is None and [n for n, _ in no_bias.named_parameters()] == ["weight_ih", "weight_hh"]


def test_cell_errors() -> None:
    with pytest.raises(ValueError, match="nonlinearity 'sigmoid'"):
        nn.RNNCell(2, 3, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size"):
        nn.GRUCell(2, 0)
    cell = nn.LSTMCell(3, 4)
    with pytest.raises(ValueError, match=r"LSTMCell.*input_size=3.*\(2, 5\)"):
        cell(mg.zeros(2, 5))
    with pytest.raises(ValueError, match=r"LSTMCell.*state c.*\(2, 4\).*\(2, 3\)"):
        cell(mg.zeros(2, 3), (mg.zeros(2, 4), mg.zeros(2, 3)))
    with pytest.raises(TypeError, match=r"tuple \(h, c\)"):
        cell(mg.zeros(2, 3), mg.zeros(2, 4))
    with pytest.raises(TypeError, match="floating-point"):
        nn.RNNCell(3, 4)(mg.tensor([[1, 2, 3]]))
    with pytest.raises(ValueError, match="fused=True"):
        nn.LSTMCell(3, 4, peephole=True, fused=True)


@pytest.mark.parametrize("peephole,coupled", [(True, False), (False, True), (True, True)])
def test_peephole_coupled_cell_matches_numpy_reference(peephole: bool, coupled: bool) -> None:
    cell = nn.LSTMCell(3, 4, peephole=peephole, coupled=coupled, dtype=mg.float64)
    rows = 12 if coupled else 16
    assert cell.weight_ih.shape == (rows, 3) and cell.weight_hh.shape == (rows, 4)
    expected = {"weight_cf", "weight_co"} | (set() if coupled else {"weight_ci"}) if peephole else set()
    assert {n for n, _ in cell.named_parameters() if n.startswith("weight_c")} == expected
    for name in expected:
        assert getattr(cell, name).shape == (4,)
    x, h, c = (RNG.standard_normal(s) for s in [(2, 3), (2, 4), (2, 4)])
    h_new, c_new = cell(mg.tensor(x), (mg.tensor(h), mg.tensor(c)))
    _, h_ref, c_ref = numpy_lstm_reference(x[None], h, c, cell_params(cell), peephole, coupled)
    np.testing.assert_allclose(h_new.numpy(), h_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c_new.numpy(), c_ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["RNNCell", "GRUCell"])
def test_cell_gradcheck(name: str) -> None:
    cell = getattr(nn, name)(2, 3, dtype=mg.float64)
    names = [n for n, _ in cell.named_parameters()]
    params = [p.detach().requires_grad_() for _, p in cell.named_parameters()]
    inputs = [mg.tensor(RNG.standard_normal(s), requires_grad=True) for s in [(2, 2), (2, 3)]]
    assert mg.gradcheck(functional(cell, names, lambda x, h: cell(x, h)), inputs + params)


@pytest.mark.parametrize("name", ["LSTMCell", "GRUCell"])
def test_fused_cell_matches_primitive_ops(name: str) -> None:
    plain = getattr(nn, name)(3, 4)
    fused = getattr(nn, name)(3, 4, fused=True)
    fused.load_state_dict(plain.state_dict())
    x_np, h_np = RNG.standard_normal((2, 3)).astype(np.float32), RNG.standard_normal((2, 4)).astype(np.float32)
    outs = []
    for cell in (plain, fused):
        x, h = leaf(x_np, np.float32), leaf(h_np, np.float32)
        out = cell(x, (h, h * 0.5)) if name == "LSTMCell" else (cell(x, h),)
        weighted_sum(list(out)).backward()
        outs.append((out, x.grad, h.grad, cell.weight_hh.grad))
    for a, b in zip(outs[0][0], outs[1][0]):
        assert_close(b, a.numpy(), rtol=1e-5, atol=1e-6, what="output")
    for a, b in zip(outs[0][1:], outs[1][1:]):
        assert_close(b, a.numpy(), rtol=1e-5, atol=1e-6, what="gradient")
    fused_names = {node.name for node in walk(outs[1][0][0])}
    assert ("lstm_gates" if name == "LSTMCell" else "gru_gates") in fused_names



# --- loop weights ----------------------------------------------------------------------------------

def _step_cases() -> list:
    """(name, step(gates_x, (h, c), weight_hh_t, weight_hr_t) → outputs, gates width G·H, state widths)."""
    h_size, p_size = 4, 3
    rng = np.random.default_rng(5)
    bias = mg.tensor(rng.standard_normal(3 * h_size), requires_grad=True)
    peepholes = tuple(mg.tensor(rng.standard_normal(h_size), requires_grad=True) for _ in range(3))
    return [
        ("rnn", lambda g, s, w, _: (nn.cells.rnn_step(g, s[0], w, None, "relu"),), h_size, (h_size,)),
        ("lstm", lambda g, s, w, _: nn.cells.lstm_step(g, *s, w, None), 4 * h_size, (h_size, h_size)),
        ("lstm_peephole_coupled", lambda g, s, w, _: nn.cells.lstm_step(g, *s, w, None, (None, *peepholes[1:]),
                                                                        True), 3 * h_size, (h_size, h_size)),
        ("lstm_fused", lambda g, s, w, _: nn.cells.lstm_step(g, *s, w, None, fused=True), 4 * h_size,
         (h_size, h_size)),
        ("lstm_projection", lambda g, s, w, r: nn.cells.lstm_step(g, *s, w, None, weight_hr_t=r), 4 * h_size,
         (p_size, h_size)),
        ("gru", lambda g, s, w, _: (nn.cells.gru_step(g, s[0], w, bias),), 3 * h_size, (h_size,)),
        ("gru_fused", lambda g, s, w, _: (nn.cells.gru_step(g, s[0], w, bias, fused=True),), 3 * h_size,
         (h_size,)),
    ]


@pytest.mark.parametrize("case", _step_cases(), ids=lambda case: case[0])
def test_a_loop_weight_gives_the_transposed_weights_values_and_gradients(case: tuple) -> None:
    # the layers pass loop_weight pairs for W_hhᵀ (and W_hrᵀ) in their loops: the same values and
    # gradients, to the last bit, as plain transposes, over three steps of every cell variant
    name, step, width, state_widths = case
    rng = np.random.default_rng(0)
    batch, rows = 3, state_widths[0]
    gates_x = [mg.tensor(rng.standard_normal((batch, width)), requires_grad=True) for _ in range(3)]
    weight = mg.tensor(rng.standard_normal((width, rows)), requires_grad=True)
    projection = mg.tensor(rng.standard_normal((rows, state_widths[-1])), requires_grad=True)   # W_hr (P, H)
    start = tuple(mg.tensor(rng.standard_normal((batch, n)), requires_grad=True) for n in state_widths)

    def run(transpose: Any) -> list:
        leaves = (*gates_x, weight, projection, *start)
        for x in leaves:
            x.grad = None
        weight_t, projection_t = transpose(weight), transpose(projection)
        state, outputs = start, []
        for g in gates_x:
            state = step(g, state, weight_t, projection_t)
            outputs += state
        sum(((o * (k + 1.5)) ** 2).sum() for k, o in enumerate(outputs)).backward()
        return [o.numpy() for o in outputs] + [x.grad.numpy() for x in leaves if x.grad is not None]

    expected, actual = run(lambda w: w.T), run(nn.cells.loop_weight)
    assert len(actual) == len(expected) > 3
    for a, b in zip(actual, expected):
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_loop_weight_is_the_transposed_weight_and_a_row_major_copy() -> None:
    weight = mg.randn(6, 4, requires_grad=True)
    transposed, rows = nn.cells.loop_weight(weight)
    assert transposed.shape == rows.shape == (4, 6)
    np.testing.assert_array_equal(rows.numpy(), weight.numpy().T)
    assert rows.numpy().flags.c_contiguous and not rows.requires_grad and transposed.requires_grad
