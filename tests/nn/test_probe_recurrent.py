"""Regression tests for differences from PyTorch 2.13 found by probing the recurrent stack
(nn/utils/rnn.py, nn/recurrent.py, nn/cells.py), each checked against torch with the weights copied over."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn
from nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence
from tests.helpers import assert_close
from tests.nn.recurrent_helpers import assert_same_param_grads, copy_weights, leaf, torch_leaf, weighted_sum

RNG = np.random.default_rng(4321)


def final_states(name: str, final: Any) -> list:
    return list(final) if name == "LSTM" else [final]


# --- PackedSequence built by hand -------------------------------------------------------

@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_packed_sequence_without_unsorted_indices_derives_them(torch, name: str) -> None:
    """PackedSequence(data, batch_sizes, sorted_indices) (PyTorch's form) once kept unsorted_indices None,
    so unpacking and the layers left the batch in sorted order: outputs and h_n silently permuted."""
    from torch.nn.utils import rnn as trnn

    lengths = [2, 5, 1, 4]
    array = RNG.standard_normal((5, 4, 3))
    tmodel = getattr(torch.nn, name)(3, 4, bidirectional=True).double()
    model = getattr(nn, name)(3, 4, bidirectional=True, dtype=mg.float64)
    copy_weights(model, tmodel)
    x, tx = leaf(array, np.float64), torch_leaf(torch, array, np.float64)
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    tpacked = trnn.pack_padded_sequence(tx, lengths, enforce_sorted=False)
    by_hand = PackedSequence(packed.data, packed.batch_sizes, packed.sorted_indices)
    tby_hand = trnn.PackedSequence(tpacked.data, tpacked.batch_sizes, tpacked.sorted_indices)
    np.testing.assert_array_equal(by_hand.unsorted_indices.numpy(), tby_hand.unsorted_indices.numpy())
    assert by_hand.unsorted_indices.dtype == np.int64

    padded, sizes = pad_packed_sequence(by_hand)
    tpadded, tsizes = trnn.pad_packed_sequence(tby_hand)
    assert_close(padded, tpadded, what="padded")
    np.testing.assert_array_equal(sizes.numpy(), tsizes.numpy())

    out, final = model(by_hand)
    tout, tfinal = tmodel(tby_hand)
    np.testing.assert_array_equal(out.unsorted_indices.numpy(), tout.unsorted_indices.numpy())
    assert_close(out.data, tout.data, what="output")
    for a, b in zip(final_states(name, final), final_states(name, tfinal)):
        assert_close(a, b, what="h_n")
    weighted_sum([out.data, *final_states(name, final)]).backward()
    weighted_sum([tout.data, *final_states(name, tfinal)], torch).backward()
    assert_close(x.grad, tx.grad, what="grad of x")
    assert_same_param_grads(model, tmodel, np.float64)


def test_packed_sequence_from_a_data_batch_sizes_pair(torch) -> None:
    from torch.nn.utils import rnn as trnn

    packed = pack_padded_sequence(mg.tensor(RNG.standard_normal((3, 2, 2))), [3, 1])
    pair = PackedSequence((packed.data, packed.batch_sizes))
    tpair = trnn.PackedSequence((torch.from_numpy(packed.data.numpy()), torch.tensor([2, 1, 1])))
    assert pair.data is packed.data and pair.batch_sizes is packed.batch_sizes
    assert pair.sorted_indices is None and pair.unsorted_indices is None
    assert tpair.sorted_indices is None and tpair.unsorted_indices is None
    with pytest.raises(TypeError, match="PackedSequence: give \\(data, batch_sizes\\)"):
        PackedSequence(packed.data)


def test_packed_sequence_still_copies_and_replaces() -> None:
    import copy

    packed = pack_padded_sequence(mg.tensor(RNG.standard_normal((3, 2, 2))), [1, 3], enforce_sorted=False)
    for clone in (copy.deepcopy(packed), copy.copy(packed), packed._replace(data=packed.data * 2)):
        assert isinstance(clone, PackedSequence)
        np.testing.assert_array_equal(clone.unsorted_indices.numpy(), packed.unsorted_indices.numpy())


# --- PyTorch's keyword names: input=, hx= ---------------------------------------------------

@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_layer_takes_torchs_input_and_hx_keywords(torch, name: str) -> None:
    """``model(x, hx=h0)`` and ``model(input=x)`` (PyTorch's forward(input, hx=None)) raised TypeError."""
    tmodel = getattr(torch.nn, name)(3, 4, num_layers=2).double()
    model = getattr(nn, name)(3, 4, num_layers=2, dtype=mg.float64)
    copy_weights(model, tmodel)
    array = RNG.standard_normal((5, 2, 3))
    states = [RNG.standard_normal((2, 2, 4)) for _ in range(2 if name == "LSTM" else 1)]
    x, tx = leaf(array, np.float64), torch_leaf(torch, array, np.float64)
    ours = [leaf(s, np.float64) for s in states]
    theirs = [torch_leaf(torch, s, np.float64) for s in states]
    state, tstate = (tuple(ours), tuple(theirs)) if name == "LSTM" else (ours[0], theirs[0])
    out, final = model(input=x, hx=state)
    tout, tfinal = tmodel(input=tx, hx=tstate)
    assert_close(out, tout, what="output")
    for a, b in zip(final_states(name, final), final_states(name, tfinal)):
        assert_close(a, b, what="h_n")
    weighted_sum([out, *final_states(name, final)]).backward()
    weighted_sum([tout, *final_states(name, tfinal)], torch).backward()
    assert_close(x.grad, tx.grad, what="grad of x")
    for a, b in zip(ours, theirs):
        assert_close(a.grad, b.grad, what="grad of the state")
    assert_same_param_grads(model, tmodel, np.float64)
    # the keywords mean the same as the positions
    again, _ = model(x, hx=state)
    np.testing.assert_array_equal(again.numpy(), out.numpy())
    with pytest.raises(TypeError, match=f"{name}: got the state twice"):
        model(x, state, hx=state)
    with pytest.raises(TypeError, match=f"{name}: got the input twice"):
        model(x, input=x)
    with pytest.raises(TypeError, match=f"{name}: forward\\(\\) missing the input"):
        model(hx=state)


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_takes_torchs_input_and_hx_keywords(torch, name: str) -> None:
    tcell = getattr(torch.nn, name)(3, 4).double()
    cell = getattr(nn, name)(3, 4, dtype=mg.float64)
    copy_weights(cell, tcell)
    array = RNG.standard_normal((2, 3))
    states = [RNG.standard_normal((2, 4)) for _ in range(2 if name == "LSTMCell" else 1)]
    state = tuple(mg.tensor(s) for s in states) if name == "LSTMCell" else mg.tensor(states[0])
    tstate = tuple(torch.tensor(s) for s in states) if name == "LSTMCell" else torch.tensor(states[0])
    result = cell(input=mg.tensor(array), hx=state)
    tresult = tcell(input=torch.tensor(array), hx=tstate)
    for a, b in zip(result if name == "LSTMCell" else [result], tresult if name == "LSTMCell" else [tresult]):
        assert_close(a, b, what=f"{name} output")
    with pytest.raises(TypeError, match=f"{name}: got the state twice"):
        cell(mg.tensor(array), state, hx=state)


# --- Module.compile() on a recurrent layer ----------------------------------------------------

@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("loops", [False, True])
def test_module_compile_is_callable_on_a_recurrent_layer(torch, name: str, loops: bool) -> None:
    """``torch.nn.LSTM(...).compile()`` works; ours raised "'bool' object is not callable" because the
    layer's ``compile=`` option, stored as a bool attribute, hid ``Module.compile``."""
    tmodel = getattr(torch.nn, name)(3, 4).double()
    model = getattr(nn, name)(3, 4, compile=loops, dtype=mg.float64)
    assert bool(model.compile) is loops and model.compile == loops
    assert ("compile=True" in repr(model)) is loops
    copy_weights(model, tmodel)
    model.compile()
    array = RNG.standard_normal((5, 2, 3))
    expected, _ = tmodel(torch.tensor(array))
    for _ in range(2):                         # the capture, then a replay
        out, _ = model(mg.tensor(array))
        assert_close(out, expected, what=f"compiled {name}")
    assert bool(model.compile) is loops        # the option is unchanged
    model.compile = not loops
    assert bool(model.compile) is (not loops)


# --- unpad_sequence -------------------------------------------------------------------------

@pytest.mark.parametrize("batch_first", [False, True])
def test_unpad_sequence_takes_a_zero_length(torch, batch_first: bool) -> None:
    """PyTorch's unpad_sequence gives a (0, *) sequence for a length of 0; ours refused it."""
    from torch.nn.utils import rnn as trnn

    from nn.utils.rnn import unpad_sequence

    array = RNG.standard_normal((3, 4, 2) if batch_first else (4, 3, 2))
    lengths = [0, 4, 2]
    padded = leaf(array, np.float64)
    ours = unpad_sequence(padded, mg.tensor(lengths), batch_first=batch_first)
    theirs = trnn.unpad_sequence(torch.tensor(array), torch.tensor(lengths), batch_first=batch_first)
    assert [tuple(s.shape) for s in ours] == [tuple(s.shape) for s in theirs] == [(0, 2), (4, 2), (2, 2)]
    for a, b in zip(ours, theirs):
        assert_close(a, b, what="sequence")
    sum((s * mg.tensor(np.ones(s.shape))).sum() for s in ours[1:]).backward()
    assert padded.grad.numpy().sum() == 6 * 2
    with pytest.raises(ValueError, match="unpad_sequence: every length must be at least 0"):
        unpad_sequence(padded, [-1, 4, 2], batch_first=batch_first)


# --- PyTorch's attributes ---------------------------------------------------------------------

@pytest.mark.parametrize("name,kwargs", [
    ("RNN", {}), ("RNN", {"nonlinearity": "relu", "num_layers": 2}), ("GRU", {"bias": False, "bidirectional": True}),
    ("LSTM", {"num_layers": 2, "bidirectional": True, "proj_size": 2}), ("LSTM", {"bias": False}),
])
def test_mode_and_weight_name_lists_are_torchs(torch, name: str, kwargs: dict) -> None:
    """``mode``, ``_all_weights``, ``_flat_weights_names`` and ``_flat_weights`` (read by weight-dropping
    code written for PyTorch) were missing."""
    model, tmodel = getattr(nn, name)(3, 4, **kwargs), getattr(torch.nn, name)(3, 4, **kwargs)
    assert model.mode == tmodel.mode
    assert model._all_weights == tmodel._all_weights
    assert model._flat_weights_names == tmodel._flat_weights_names
    assert [p.shape for p in model._flat_weights] == [tuple(p.shape) for p in tmodel._flat_weights]
    assert all(p is getattr(model, n) for p, n in zip(model._flat_weights, model._flat_weights_names))
    assert [[tuple(p.shape) for p in group] for group in model.all_weights] == \
        [[tuple(p.shape) for p in group] for group in tmodel.all_weights]


def test_packed_sequence_has_torchs_dtype_methods(torch) -> None:
    from torch.nn.utils import rnn as trnn

    array = RNG.standard_normal((3, 2, 2)) * 10
    packed = pack_padded_sequence(mg.tensor(array), [3, 1])
    tpacked = trnn.pack_padded_sequence(torch.tensor(array), [3, 1])
    for method in ("half", "long", "int", "short", "char", "byte", "float", "double"):
        ours, theirs = getattr(packed, method)(), getattr(tpacked, method)()
        assert str(ours.data.dtype) == str(theirs.data.dtype).removeprefix("torch."), method
        assert ours.batch_sizes is packed.batch_sizes
    assert packed.is_pinned() is False and tpacked.is_pinned() is False
