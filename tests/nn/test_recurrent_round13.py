"""Recurrent layers against torch, round 13: what a differential sweep (every combination of layers 1–3,
bidirectional, batch_first, bias, proj_size, relu, packed sorted/unsorted with and without h0, unbatched;
values and all gradients in float64 to 1e-10) found, and one representative of the corners it swept."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn
from nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from tests.nn.recurrent_helpers import copy_weights

RNG = np.random.default_rng(1313)


@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch", reason="no torch")
    return torch


def _pair(torch, name: str, **kwargs) -> tuple:
    reference = getattr(torch.nn, name)(**kwargs).double()
    module = getattr(nn, name)(**kwargs).double()
    copy_weights(module, reference)
    return module, reference


def _states(state) -> tuple:
    return state if isinstance(state, tuple) else (state,)


def _close(ours, theirs, what: str) -> None:
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=what)


# --- fixed: a padded batch's NaN/Inf padding reached the gradients through lengths= ----------------------------

@pytest.mark.parametrize("name,options", [("RNN", {}), ("RNN", {"compile": True}), ("LSTM", {}),
                                          ("LSTM", {"fused": True}), ("GRU", {"fused": True}),
                                          ("GRU", {"compile": True})])
def test_non_finite_padding_does_not_reach_gradients(torch, name: str, options: dict) -> None:
    """Forward ignored the padding, but its backward multiplied zero gradients by NaN there (0 · NaN = NaN): every
    weight's gradient was NaN where torch's packed sequence gives finite ones. Now the padding is zeroed first."""
    from torch.nn.utils import rnn as trnn

    lengths = [4, 3, 2]
    x = RNG.standard_normal((3, 5, 2))                 # batch_first, T = 5 > the longest length
    x[1, 3] = np.nan
    x[2, 2:] = np.inf
    x[:, 4] = -np.inf
    reference = getattr(torch.nn, name)(2, 3, bidirectional=True, batch_first=True).double()
    module = getattr(nn, name)(2, 3, bidirectional=True, batch_first=True, **options).double()
    copy_weights(module, reference)
    for _ in range(2 if options.get("compile") else 1):          # a compiled layer: capture, then replay
        module.zero_grad()
        reference.zero_grad()
        xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out, state = module(xm, lengths=lengths)
        packed, tstate = reference(trnn.pack_padded_sequence(xt, lengths, batch_first=True))
        tout = trnn.pad_packed_sequence(packed, batch_first=True, total_length=5)[0]
        ((out ** 2).sum() + _states(state)[0].sum()).backward()
        ((tout ** 2).sum() + _states(tstate)[0].sum()).backward()
        _close(out, tout, "output")
        _close(xm.grad, xt.grad, "input grad")          # zeros at the padding, as torch's
        for (n, p), tp in zip(module.named_parameters(), reference.parameters()):
            _close(p.grad, tp.grad, f"grad of {n}")
    with mg.detect_anomaly():                          # the padding is no anomaly: the layer never reads it
        module(mg.tensor(x), lengths=lengths)
    assert out.dtype == mg.float64


def test_padding_mask_keeps_float32_and_an_empty_batch_takes_empty_lengths() -> None:
    lstm = nn.LSTM(2, 3)
    x = mg.tensor(RNG.standard_normal((4, 2, 2)).astype(np.float32), requires_grad=True)
    out, (h, c) = lstm(x, lengths=[2, 4])
    assert out.dtype == h.dtype == c.dtype == mg.float32
    # an empty batch with lengths=[] (NumPy reads [] as float64: it was refused as non-integer lengths)
    empty = mg.zeros((4, 0, 2), requires_grad=True)
    out, (h, c) = lstm(empty, lengths=[])
    assert out.shape == (4, 0, 3) and h.shape == c.shape == (1, 0, 3)
    out.sum().backward()
    assert empty.grad.shape == (4, 0, 2)


def test_packing_a_1d_input_is_torchs_index_error(torch) -> None:
    from torch.nn.utils import rnn as trnn

    with pytest.raises(IndexError):
        trnn.pack_padded_sequence(torch.zeros(4), [4])
    with pytest.raises(IndexError, match="time and a batch axis"):
        pack_padded_sequence(mg.zeros(4), [4])
    with pytest.raises(ValueError):                    # still the packing error it was
        pack_padded_sequence(mg.zeros(4), [4])


# --- the sweep's corners, one representative each ----------------------------------------------------------------

@pytest.mark.parametrize("name,kwargs,mode", [
    ("LSTM", {"num_layers": 3, "bidirectional": True, "proj_size": 2, "bias": False, "dropout": 0.4}, "unsorted"),
    ("GRU", {"num_layers": 2, "bidirectional": True, "batch_first": True}, "unbatched"),
    ("RNN", {"num_layers": 2, "nonlinearity": "relu", "batch_first": True}, "sorted"),
    ("LSTM", {"num_layers": 2, "batch_first": True}, "padded"),
])
def test_values_and_every_gradient_match_torch_over_two_calls(torch, name: str, kwargs: dict, mode: str) -> None:
    """Two calls, the second from the first's final state (packed unsorted: h0 and h_n in the batch's order);
    output, states and the gradients of input, h0 (c0) and every parameter, in eval mode (dropout off)."""
    from torch.nn.utils import rnn as trnn

    module, reference = _pair(torch, name, input_size=3, hidden_size=4, **kwargs)
    module.eval()
    reference.eval()
    batch_first = kwargs.get("batch_first", False)
    layers = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    widths = (kwargs.get("proj_size", 4), 4)[:2 if name == "LSTM" else 1]
    x = RNG.standard_normal((3, 5, 3) if batch_first else (5, 3, 3))
    states = [RNG.standard_normal((layers, 3, w)) for w in widths]
    if mode == "unbatched":
        x = x[0] if batch_first else x[:, 0]
        states = [s[:, 0] for s in states]
    lengths = {"sorted": [5, 3, 1], "unsorted": [2, 5, 4]}.get(mode)
    sides = []
    for lib, make in ((mg, lambda a: mg.tensor(a, requires_grad=True)),
                      (torch, lambda a: torch.tensor(a, requires_grad=True))):
        layer = module if lib is mg else reference
        xs, h0 = make(x), [make(s) for s in states]
        state = tuple(h0) if name == "LSTM" else h0[0]
        outputs = []
        for _ in range(2):
            if lengths is None:
                out, state = layer(xs, state)
            else:
                packer = pack_padded_sequence if lib is mg else trnn.pack_padded_sequence
                padder = pad_packed_sequence if lib is mg else trnn.pad_packed_sequence
                lens = lengths if lib is mg else torch.tensor(lengths)
                packed, state = layer(packer(xs, lens, batch_first=batch_first, enforce_sorted=False), state)
                out = padder(packed, batch_first=batch_first, padding_value=0.5, total_length=5)[0]
            outputs += [out, *_states(state)]
        sides.append((outputs, xs, h0))
    weights = [RNG.standard_normal(tuple(o.shape)) for o in sides[0][0]]
    (ours, xm, hm), (theirs, xt, ht) = sides
    sum((o * mg.tensor(w)).sum() for o, w in zip(ours, weights)).backward()
    sum((o * torch.tensor(w)).sum() for o, w in zip(theirs, weights)).backward()
    for i, (a, b) in enumerate(zip(ours, theirs)):
        _close(a, b, f"result {i}")
    _close(xm.grad, xt.grad, "input grad")
    for a, b in zip(hm, ht):
        _close(a.grad, b.grad, "initial state grad")
    for (n, p), tp in zip(module.named_parameters(), reference.parameters()):
        _close(p.grad, tp.grad, f"grad of {n}")


# --- kept differences ------------------------------------------------------------------------------------------

def test_lstm_cell_state_of_another_dtype_is_refused_where_torch_takes_it(torch) -> None:
    """torch runs an LSTM whose c0 dtype differs from h0's and the input's (the result's dtype then depends on the
    kernel); minigrad names the state instead, as it does for h0 (where torch raises too)."""
    reference = torch.nn.LSTM(3, 4).double()
    reference(torch.zeros(2, 1, 3, dtype=torch.float64),
              (torch.zeros(1, 1, 4, dtype=torch.float64), torch.zeros(1, 1, 4, dtype=torch.float32)))
    with pytest.raises(RuntimeError, match="state c0 of dtype float64"):
        nn.LSTM(3, 4).double()(mg.zeros((2, 1, 3), dtype=mg.float64),
                               (mg.zeros((1, 1, 4), dtype=mg.float64), mg.zeros((1, 1, 4), dtype=mg.float32)))


@pytest.mark.parametrize("build", [lambda: nn.LSTM(2, 4, peephole="no"), lambda: nn.LSTM(2, 4, coupled=1),
                                   lambda: nn.LSTM(2, 4, fused="no"), lambda: nn.GRU(2, 4, fused="no"),
                                   lambda: nn.GRUCell(2, 4, fused="no"), lambda: nn.LSTMCell(2, 4, peephole="no")])
def test_cell_options_must_be_bools_in_layers_as_in_cells(build) -> None:
    """A string flag was read by truthiness: nn.LSTM(2, 4, peephole='no') built a peephole LSTM."""
    with pytest.raises(TypeError, match="must be True or False"):
        build()
