"""nn.utils.rnn (pad/pack, PackedSequence) and the recurrent layers on packed input, against PyTorch (float64)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn
from nn.utils.rnn import (
    PackedSequence,
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
    pad_sequence,
    unpack_sequence,
    unpad_sequence,
)
from tests.helpers import assert_close

LENGTH_CASES = {"sorted": [5, 3, 3, 1], "unsorted": [2, 5, 1, 5], "equal": [4, 4, 4], "one": [3]}


def padded_input(lengths: list, features: tuple = (3,), batch_first: bool = False, seed: int = 0) -> np.ndarray:
    steps, batch = max(lengths), len(lengths)
    shape = (batch, steps, *features) if batch_first else (steps, batch, *features)
    return np.random.default_rng(seed).standard_normal(shape)


def weights_like(shape: tuple, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def torch_packed(torch: Any, ours: PackedSequence, theirs: Any) -> None:
    """Our PackedSequence has exactly PyTorch's layout."""
    assert_close(ours.data, theirs.data, what="data")
    np.testing.assert_array_equal(ours.batch_sizes.numpy(), theirs.batch_sizes.numpy())
    assert ours.batch_sizes.dtype == np.int64 and ours.batch_sizes.device.type == "cpu"
    for name in ("sorted_indices", "unsorted_indices"):
        a, b = getattr(ours, name), getattr(theirs, name)
        assert (a is None) == (b is None), name
        if a is not None:
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


@pytest.mark.parametrize("case", list(LENGTH_CASES))
@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_and_pad_round_trip_match_torch(torch, case: str, batch_first: bool) -> None:
    from torch.nn.utils import rnn as trnn

    lengths = LENGTH_CASES[case]
    enforce_sorted = case != "unsorted"
    array = padded_input(lengths, (2, 3), batch_first)
    x, tx = mg.tensor(array, requires_grad=True), torch.tensor(array, requires_grad=True)
    packed = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    tpacked = trnn.pack_padded_sequence(tx, torch.tensor(lengths), batch_first=batch_first,
                                        enforce_sorted=enforce_sorted)
    torch_packed(torch, packed, tpacked)
    for total_length in (None, max(lengths) + 2):
        padded, out_lengths = pad_packed_sequence(packed, batch_first=batch_first, padding_value=-1.5,
                                                  total_length=total_length)
        tpadded, tlengths = trnn.pad_packed_sequence(tpacked, batch_first=batch_first, padding_value=-1.5,
                                                     total_length=total_length)
        assert_close(padded, tpadded, what=f"padded (total_length={total_length})")
        np.testing.assert_array_equal(out_lengths.numpy(), tlengths.numpy())
        assert out_lengths.dtype == np.int64
    # gradients flow through pack then pad back into the padded input (zero at the padding)
    w = weights_like(tuple(padded.shape))
    (padded * mg.tensor(w)).sum().backward()
    (tpadded * torch.from_numpy(w)).sum().backward()
    assert_close(x.grad, tx.grad, what="grad through pack/pad")


def test_unsorted_with_ties_matches_torch_order(torch) -> None:
    from torch.nn.utils import rnn as trnn

    lengths = [2, 4, 2, 4, 1, 4]
    array = padded_input(lengths)
    packed = pack_padded_sequence(mg.tensor(array), lengths, enforce_sorted=False)
    tpacked = trnn.pack_padded_sequence(torch.tensor(array), torch.tensor(lengths), enforce_sorted=False)
    torch_packed(torch, packed, tpacked)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_matches_torch(torch, batch_first: bool, padding_side: str) -> None:
    from torch.nn.utils import rnn as trnn

    arrays = [np.random.default_rng(i).standard_normal((n, 2)) for i, n in enumerate([3, 5, 1, 0])]
    ours = [mg.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = pad_sequence(ours, batch_first=batch_first, padding_value=2.0, padding_side=padding_side)
    tout = trnn.pad_sequence(theirs, batch_first=batch_first, padding_value=2.0, padding_side=padding_side)
    assert_close(out, tout, what="padded")
    w = weights_like(tuple(out.shape))
    (out * mg.tensor(w)).sum().backward()
    (tout * torch.from_numpy(w)).sum().backward()
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert_close(a.grad, b.grad, what=f"grad of sequence {i}")


@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_pack_sequence_and_unpack_match_torch(torch, enforce_sorted: bool) -> None:
    from torch.nn.utils import rnn as trnn

    sizes = [4, 2, 2, 1] if enforce_sorted else [1, 4, 2, 3]
    arrays = [np.random.default_rng(i).standard_normal((n, 3)) for i, n in enumerate(sizes)]
    packed = pack_sequence([mg.tensor(a) for a in arrays], enforce_sorted=enforce_sorted)
    tpacked = trnn.pack_sequence([torch.tensor(a) for a in arrays], enforce_sorted=enforce_sorted)
    torch_packed(torch, packed, tpacked)
    for a, s in zip(arrays, unpack_sequence(packed)):
        np.testing.assert_array_equal(s.numpy(), a)
    padded = pad_sequence([mg.tensor(a) for a in arrays], batch_first=True)
    for a, s in zip(arrays, unpad_sequence(padded, sizes, batch_first=True)):
        np.testing.assert_array_equal(s.numpy(), a)


def test_packed_sequence_is_a_named_tuple_that_moves() -> None:
    packed = pack_sequence([mg.ones((2, 3)), mg.ones((1, 3))])
    data, batch_sizes, sorted_indices, unsorted_indices = packed
    assert data.shape == (3, 3) and batch_sizes.tolist() == [2, 1]
    assert sorted_indices is None and unsorted_indices is None
    moved = packed.double()
    assert moved.data.dtype == np.float64 and moved.batch_sizes is packed.batch_sizes
    assert packed.float() is packed and packed.cpu() is packed and not packed.is_cuda
    # built by hand from plain lists, as PyTorch allows: the layout is read the same way
    by_hand = PackedSequence(mg.arange(6.0).reshape(3, 2), [2, 1], [1, 0], [1, 0])
    padded, lengths = pad_packed_sequence(by_hand)
    assert lengths.tolist() == [1, 2]
    np.testing.assert_array_equal(padded.numpy()[:, 1], [[0, 1], [4, 5]])


def test_rnn_utils_errors() -> None:
    x = mg.zeros((4, 3, 2))
    with pytest.raises(ValueError, match="sorted in decreasing order.*enforce_sorted=False"):
        pack_padded_sequence(x, [2, 4, 1])
    with pytest.raises(ValueError, match=r"len\(lengths\).*batch_size \(3\)"):
        pack_padded_sequence(x, [4, 2])
    with pytest.raises(ValueError, match="greater than 0"):
        pack_padded_sequence(x, [4, 2, 0])
    with pytest.raises(ValueError, match="at most the input's 4 time steps"):
        pack_padded_sequence(x, [5, 2, 1])
    with pytest.raises(TypeError, match="lengths must be integers"):
        pack_padded_sequence(x, [4.5, 2.0, 1.0])      # whole floats pack, as in PyTorch; a fraction is refused
    with pytest.raises(ValueError, match="total_length to be at least"):
        pad_packed_sequence(pack_padded_sequence(x, [4, 2, 1]), total_length=3)
    with pytest.raises(TypeError, match="expected a PackedSequence"):
        pad_packed_sequence(x)
    with pytest.raises(ValueError, match="empty list"):
        pad_sequence([])
    with pytest.raises(ValueError, match="same trailing shape"):
        pad_sequence([mg.zeros((2, 3)), mg.zeros((2, 4))])
    with pytest.raises(ValueError, match="padding_side"):
        pad_sequence([mg.zeros((2, 3))], padding_side="middle")
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):    # PyTorch's exception type too
        pack_padded_sequence(x, [2, 4, 1])


# --- layers on packed input -----------------------------------------------------------

LAYER_CASES = [
    ("RNN", 1, False), ("LSTM", 1, False), ("GRU", 1, False),
    ("RNN", 2, True), ("LSTM", 2, True), ("GRU", 2, True),
]


@pytest.mark.parametrize("name,num_layers,bidirectional", LAYER_CASES)
@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("given_state", [False, True])
def test_layer_on_packed_input_matches_torch(torch, name: str, num_layers: int, bidirectional: bool,
                                             enforce_sorted: bool, given_state: bool) -> None:
    from torch.nn.utils import rnn as trnn

    lengths = [5, 4, 2, 1] if enforce_sorted else [2, 5, 1, 4]
    batch, hidden, directions = len(lengths), 3, 2 if bidirectional else 1
    array = padded_input(lengths, (2,))
    torch.manual_seed(0)
    tmodel = getattr(torch.nn, name)(2, hidden, num_layers=num_layers, bidirectional=bidirectional).double()
    model = getattr(nn, name)(2, hidden, num_layers=num_layers, bidirectional=bidirectional, dtype=mg.float64)
    model.load_state_dict({k: v.detach().numpy() for k, v in tmodel.state_dict().items()})
    x, tx = mg.tensor(array, requires_grad=True), torch.tensor(array, requires_grad=True)
    packed = pack_padded_sequence(x, lengths, enforce_sorted=enforce_sorted)
    tpacked = trnn.pack_padded_sequence(tx, torch.tensor(lengths), enforce_sorted=enforce_sorted)
    state_shape = (num_layers * directions, batch, hidden)
    leaves, tleaves = [x], [tx]
    state = tstate = None
    if given_state:
        arrays = [np.random.default_rng(50 + i).standard_normal(state_shape) for i in range(2 if name == "LSTM" else 1)]
        ours = [mg.tensor(a, requires_grad=True) for a in arrays]
        theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
        leaves += ours
        tleaves += theirs
        state, tstate = (tuple(ours), tuple(theirs)) if name == "LSTM" else (ours[0], theirs[0])
    out, final = model(packed, state)
    tout, tfinal = tmodel(tpacked, tstate)
    assert isinstance(out, PackedSequence)
    torch_packed(torch, out, tout)
    finals, tfinals = (list(final), list(tfinal)) if name == "LSTM" else ([final], [tfinal])
    for a, b in zip(finals, tfinals):
        assert_close(a, b, what="final state")
    # gradients: through the packed output and the final states back to input, state and weights
    tensors, ttensors = [out.data, *finals], [tout.data, *tfinals]
    loss = sum((t * mg.tensor(weights_like(tuple(t.shape), 9 + i))).sum() for i, t in enumerate(tensors))
    tloss = sum((t * torch.from_numpy(weights_like(tuple(t.shape), 9 + i))).sum() for i, t in enumerate(ttensors))
    loss.backward()
    tloss.backward()
    for i, (a, b) in enumerate(zip(leaves, tleaves)):
        assert_close(a.grad, b.grad, what=f"grad of leaf {i}")
    tparams = dict(tmodel.named_parameters())
    for pname, param in model.named_parameters():
        assert_close(param.grad, tparams[pname].grad, what=f"grad of {pname}")


def test_layer_packed_ignores_batch_first_and_refuses_lengths() -> None:
    lengths = [3, 2]
    array = padded_input(lengths, (2,))
    packed = pack_padded_sequence(mg.tensor(array), lengths)
    plain = nn.GRU(2, 3, dtype=mg.float64)
    batch_first = nn.GRU(2, 3, batch_first=True, dtype=mg.float64)
    batch_first.load_state_dict(plain.state_dict())
    out, h = plain(packed)
    out_bf, h_bf = batch_first(packed)
    np.testing.assert_array_equal(out.data.numpy(), out_bf.data.numpy())
    np.testing.assert_array_equal(h.numpy(), h_bf.numpy())
    # the same numbers as the padded input with lengths=
    padded_out, padded_h = plain(mg.tensor(array), lengths=lengths)
    unpacked, _ = pad_packed_sequence(out)
    np.testing.assert_allclose(unpacked.numpy(), padded_out.numpy(), rtol=0, atol=0)
    np.testing.assert_allclose(h.numpy(), padded_h.numpy(), rtol=0, atol=0)
    with pytest.raises(ValueError, match="carries its own lengths"):
        plain(packed, lengths=lengths)
    with pytest.raises(ValueError, match=r"GRU: expected packed data of shape .*input_size=5.*\(5, 2\)"):
        nn.GRU(5, 3)(packed)
