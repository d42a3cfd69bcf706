"""Regression tests for the differences from PyTorch 2.13 found by the ninth probe of the recurrent stack
(nn/recurrent.py, nn/cells.py, nn/_recurrent_checks.py, nn/utils/rnn.py), and pins of the places where
minigrad keeps its own behaviour on purpose. Values are checked against torch with the weights copied over."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn
from nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence
from tests.helpers import assert_close
from tests.nn.recurrent_helpers import assert_same_param_grads, copy_weights, leaf, torch_leaf, weighted_sum

RNG = np.random.default_rng(909)


def states_of(name: str, final: Any) -> list:
    return list(final) if name == "LSTM" else [final]


def both_raise(torch: Any, ours: Any, theirs: Any, error: type) -> Exception:
    """``ours()`` and ``theirs()`` each raise an ``error`` (theirs by torch); returns ours."""
    with pytest.raises(error):
        theirs()
    with pytest.raises(error) as info:
        ours()
    return info.value


# --- error types: torch's class, so `except RuntimeError` written for torch catches ours -----------

@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_layer_input_errors_are_torchs_classes(torch, name: str) -> None:
    """A wrong input_size and an empty sequence raised ValueError here, RuntimeError in torch; an integer
    input TypeError here, ValueError in torch. Ours now is each (RecurrentInputError)."""
    from torch.nn.utils import rnn as trnn

    model, tmodel = getattr(nn, name)(3, 4, dtype=mg.float64), getattr(torch.nn, name)(3, 4).double()
    e = both_raise(torch, lambda: model(mg.zeros((5, 2, 7), dtype=mg.float64)),
                   lambda: tmodel(torch.zeros((5, 2, 7), dtype=torch.float64)), RuntimeError)
    assert isinstance(e, ValueError) and "input_size=3" in str(e) and "(5, 2, 7)" in str(e)
    e = both_raise(torch, lambda: model(mg.zeros((0, 2, 3), dtype=mg.float64)),
                   lambda: tmodel(torch.zeros((0, 2, 3), dtype=torch.float64)), RuntimeError)
    assert isinstance(e, ValueError) and "no time steps" in str(e)
    for error in (ValueError, TypeError):   # torch: ValueError; minigrad raised TypeError before
        with pytest.raises(error, match="floating-point"):
            model(mg.zeros((5, 2, 3), dtype=mg.int64))
    with pytest.raises(ValueError):
        tmodel(torch.zeros((5, 2, 3), dtype=torch.int64))
    with pytest.raises(RuntimeError, match=r"packed data.*input_size=3.*\(3, 2\)"):
        model(nn.utils.rnn.pack_sequence([mg.zeros((3, 2), dtype=mg.float64)]))
    with pytest.raises(RuntimeError):
        tmodel(trnn.pack_sequence([torch.zeros((3, 2), dtype=torch.float64)]))


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_input_errors_are_torchs_classes(torch, name: str) -> None:
    cell, tcell = getattr(nn, name)(3, 4, dtype=mg.float64), getattr(torch.nn, name)(3, 4).double()
    for shape in [(2, 5), (5,)]:
        e = both_raise(torch, lambda shape=shape: cell(mg.zeros(shape, dtype=mg.float64)),
                       lambda shape=shape: tcell(torch.zeros(shape, dtype=torch.float64)), RuntimeError)
        assert "input_size=3" in str(e) and str(shape) in str(e)
    with pytest.raises(ValueError):          # a 3-D input: ValueError on both sides (and RuntimeError here)
        tcell(torch.zeros((1, 2, 3), dtype=torch.float64))
    with pytest.raises(ValueError):
        cell(mg.zeros((1, 2, 3), dtype=mg.float64))
    both_raise(torch, lambda: cell(mg.zeros((2, 3), dtype=mg.int64)),
               lambda: tcell(torch.zeros((2, 3), dtype=torch.int64)), RuntimeError)
    # a state of the wrong size names both shapes (torch names the sizes)
    h = mg.zeros((3, 4), dtype=mg.float64)
    with pytest.raises(RuntimeError, match=r"shape \(2, 4\).*\(2, 3\).*got \(3, 4\)"):
        cell(mg.zeros((2, 3), dtype=mg.float64), (h, h) if name == "LSTMCell" else h)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"])
def test_a_float_size_is_a_type_error_as_torch(torch, name: str) -> None:
    """hidden_size=4.0: torch raises TypeError, minigrad raised ValueError; a size <= 0 stays ValueError."""
    both_raise(torch, lambda: getattr(nn, name)(3, 4.0), lambda: getattr(torch.nn, name)(3, 4.0), TypeError)
    with pytest.raises(TypeError, match="input_size"):
        getattr(nn, name)(3.0, 4)
    with pytest.raises(ValueError, match="hidden_size"):
        getattr(nn, name)(3, -1)


def test_lstm_float_proj_size_and_non_bool_flags_are_type_errors(torch) -> None:
    both_raise(torch, lambda: nn.LSTM(3, 4, proj_size=2.0), lambda: torch.nn.LSTM(3, 4, proj_size=2.0), TypeError)
    for flag in ("bias", "batch_first"):
        # batch_first="False" read as True before: a silently transposed batch
        both_raise(torch, lambda flag=flag: nn.GRU(3, 4, **{flag: "False"}),
                   lambda flag=flag: torch.nn.GRU(3, 4, **{flag: "False"}), TypeError)
        both_raise(torch, lambda flag=flag: nn.LSTM(3, 4, **{flag: 1}),
                   lambda flag=flag: torch.nn.LSTM(3, 4, **{flag: 1}), TypeError)
    assert nn.GRU(3, 4, batch_first=np.bool_(True)).batch_first is True   # NumPy's bool is a bool here


# --- nn.utils.rnn ----------------------------------------------------------------------------------

def test_pack_padded_sequence_takes_whole_float_lengths_as_torch(torch) -> None:
    """torch reads lengths as int64 (lengths = mask.sum(1) of a float mask); minigrad refused floats.
    A fraction, which torch would cut silently, is still refused."""
    from torch.nn.utils import rnn as trnn

    array = RNG.standard_normal((4, 3, 2))
    x, tx = leaf(array, np.float64), torch_leaf(torch, array, np.float64)
    for lengths, tlengths in [([4.0, 1.0, 3.0], [4.0, 1.0, 3.0]),
                              (mg.tensor([4.0, 1.0, 3.0]), torch.tensor([4.0, 1.0, 3.0]))]:
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
        tpacked = trnn.pack_padded_sequence(tx, tlengths, enforce_sorted=False)
        assert_close(packed.data, tpacked.data, what="data")
        for a, b in zip(packed[1:], tpacked[1:]):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(TypeError, match=r"whole numbers.*\[4.5, 1.0, 3.0\]"):
        pack_padded_sequence(x, [4.5, 1.0, 3.0], enforce_sorted=False)


def test_pad_packed_sequence_total_length_must_be_an_int(torch) -> None:
    from torch.nn.utils import rnn as trnn

    packed = nn.utils.rnn.pack_sequence([mg.zeros((3, 2)), mg.zeros((2, 2))])
    tpacked = trnn.pack_sequence([torch.zeros((3, 2)), torch.zeros((2, 2))])
    both_raise(torch, lambda: pad_packed_sequence(packed, total_length=4.0),
               lambda: trnn.pad_packed_sequence(tpacked, total_length=4.0), TypeError)
    assert pad_packed_sequence(packed, total_length=np.int64(4))[0].shape == (4, 2, 2)


def test_kept_differences_from_torch_are_pinned(torch) -> None:
    """Where torch reads out of bounds, casts silently or fails by accident, minigrad keeps a clear error."""
    from torch.nn.utils import rnn as trnn

    # torch packs lengths longer than the input without a word (it reads past the end)
    trnn.pack_padded_sequence(torch.zeros((3, 2, 1)), [4, 3])
    with pytest.raises(ValueError, match="at most the input's 3 time steps"):
        pack_padded_sequence(mg.zeros((3, 2, 1)), [4, 3])
    # torch pads mixed dtypes into the first sequence's dtype (a silent cast)
    trnn.pad_sequence([torch.zeros(2, dtype=torch.float32), torch.zeros(3, dtype=torch.float64)])
    with pytest.raises(RuntimeError, match="same trailing shape, dtype"):
        pad_sequence([mg.zeros(2, dtype=mg.float32), mg.zeros(3, dtype=mg.float64)])
    # a tuple state for RNN/GRU: torch's AttributeError ('tuple' object has no attribute 'dim') by accident
    with pytest.raises(AttributeError):
        torch.nn.GRU(3, 4)(torch.zeros(5, 2, 3), (torch.zeros(1, 2, 4),) * 2)
    with pytest.raises(nn.RecurrentStateError, match="must be a Tensor, got tuple"):
        nn.GRU(3, 4)(mg.zeros(5, 2, 3), (mg.zeros(1, 2, 4),) * 2)
    # a cell with hidden_size=0: torch builds an empty cell, minigrad refuses (a layer refuses in both)
    torch.nn.GRUCell(3, 0)
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        nn.GRUCell(3, 0)


# --- values: the corners the probe swept, one representative each ------------------------------------

@pytest.mark.parametrize("name,kwargs", [
    ("LSTM", {"num_layers": 2, "bidirectional": True, "proj_size": 2, "batch_first": True}),
    ("GRU", {"num_layers": 3, "bidirectional": True, "bias": False, "fused": True}),
    ("RNN", {"num_layers": 2, "nonlinearity": "relu", "compile": True}),
])
def test_packed_unsorted_input_with_hx_matches_torch(torch, name: str, kwargs: dict) -> None:
    """A hx given with a packed unsorted batch is in the batch's order (torch permutes it by sorted_indices);
    outputs, finals, gradients of x, h0/c0 and every weight equal torch's, padded back with total_length
    and padding_value."""
    from torch.nn.utils import rnn as trnn

    torch_kwargs = {k: v for k, v in kwargs.items() if k not in ("fused", "compile")}
    tmodel = getattr(torch.nn, name)(3, 4, **torch_kwargs).double()
    model = getattr(nn, name)(3, 4, **kwargs, dtype=mg.float64)
    copy_weights(model, tmodel)
    lengths, rows = [2, 5, 1, 4], 2 * kwargs["num_layers"] if kwargs.get("bidirectional") else kwargs["num_layers"]
    widths = [kwargs.get("proj_size") or 4, 4][:2 if name == "LSTM" else 1]
    arrays = [RNG.standard_normal((rows, 4, w)) for w in widths]
    xs = RNG.standard_normal((4, 5, 3) if kwargs.get("batch_first") else (5, 4, 3))
    for _ in range(2):    # compile=True: capture, then replay
        x, tx = leaf(xs, np.float64), torch_leaf(torch, xs, np.float64)
        hs, ths = [leaf(a, np.float64) for a in arrays], [torch_leaf(torch, a, np.float64) for a in arrays]
        bf = kwargs.get("batch_first", False)
        out, final = model(pack_padded_sequence(x, mg.tensor(lengths), bf, enforce_sorted=False),
                           tuple(hs) if name == "LSTM" else hs[0])
        tout, tfinal = tmodel(trnn.pack_padded_sequence(tx, torch.tensor(lengths), bf, enforce_sorted=False),
                              tuple(ths) if name == "LSTM" else ths[0])
        padded, sizes = pad_packed_sequence(out, bf, padding_value=-1.5, total_length=7)
        tpadded, tsizes = trnn.pad_packed_sequence(tout, bf, padding_value=-1.5, total_length=7)
        assert_close(padded, tpadded, what="padded output")
        np.testing.assert_array_equal(sizes.numpy(), tsizes.numpy())
        for a, b in zip(states_of(name, final), states_of(name, tfinal)):
            assert_close(a, b, what="final state")
        model.zero_grad()
        tmodel.zero_grad()
        weighted_sum([padded, *states_of(name, final)]).backward()
        weighted_sum([tpadded, *states_of(name, tfinal)], torch).backward()
        assert_close(x.grad, tx.grad, what="grad of x")
        for h, th in zip(hs, ths):
            assert_close(h.grad, th.grad, what="grad of the initial state")
        assert_same_param_grads(model, tmodel, np.float64)


def test_dropout_is_seeded_and_compile_replays_it_bit_for_bit() -> None:
    """Same seed, same dropout masks; compile=True equals eager bit for bit (no torch: its masks differ)."""
    array = RNG.standard_normal((6, 3, 4)).astype(np.float32)
    runs = []
    for compile_loops in (False, True, True):
        mg.manual_seed(0)
        model = nn.LSTM(4, 5, num_layers=3, dropout=0.5, bidirectional=True, compile=compile_loops)
        mg.manual_seed(123)
        x = mg.tensor(array, requires_grad=True)
        out, (h, c) = model(x)
        weighted_sum([out, h, c]).backward()
        model.eval()
        evaluated, _ = model(x)
        runs.append([out.numpy(), h.numpy(), x.grad.numpy(), *(p.grad.numpy() for p in model.parameters()),
                     evaluated.numpy()])
    assert not np.array_equal(runs[0][0], runs[0][-1]), "dropout changed nothing in training"
    for run in runs[1:]:
        for a, b in zip(runs[0], run):
            np.testing.assert_array_equal(a, b)


def test_compiled_training_step_with_packed_lstm_of_changing_lengths() -> None:
    """mg.compile of a step (pack, LSTM, unpack, loss; the backward outside, as a backward inside runs the call
    eagerly): a new shape or lengths list captures anew, a repeated one replays; losses and gradients equal
    eager's bit for bit."""
    def step(lstm: nn.LSTM, head: nn.Linear, x: mg.Tensor, lengths: list, target: mg.Tensor) -> mg.Tensor:
        out, (h, c) = lstm(pack_padded_sequence(x, lengths, enforce_sorted=False))
        padded, _ = pad_packed_sequence(out, batch_first=True, total_length=8, padding_value=0.5)
        loss = ((head(h[-2:].permute(1, 0, 2).reshape(-1, 10)) - target) ** 2).mean() + padded.pow(2).mean()
        return loss + c.sum() * 0.1

    batches = [(5, [5, 2, 4]), (7, [3, 7, 1, 6]), (5, [5, 2, 4]), (5, [3, 5, 5]), (7, [3, 7, 1, 6])]
    data = [(RNG.standard_normal((t, len(ls), 3)).astype(np.float32), ls,
             RNG.standard_normal((len(ls), 2)).astype(np.float32)) for t, ls in batches]
    results = []
    for compiled in (False, True):
        mg.manual_seed(0)
        lstm, head = nn.LSTM(3, 5, num_layers=2, bidirectional=True), nn.Linear(10, 2)
        optimizer = nn.optim.SGD([*lstm.parameters(), *head.parameters()], lr=0.1)
        fn = mg.compile(step) if compiled else step
        trace = []
        with warnings.catch_warnings():
            warnings.simplefilter("error")          # no fallback to eager
            for x, lengths, target in data:
                optimizer.zero_grad()
                loss = fn(lstm, head, mg.tensor(x), lengths, mg.tensor(target))
                loss.backward()
                trace.append(loss.item())
                trace.extend(p.grad.numpy().copy() for p in lstm.parameters())
                optimizer.step()
        results.append(trace)
        if compiled:
            assert len(fn.programs) == 3 and not fn.eager
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
