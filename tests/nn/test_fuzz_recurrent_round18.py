"""Recurrent layers, cells and ``nn.utils.rnn`` against torch, round 18: what a random-configuration fuzz found.

The fuzz (default, ``compile=True`` and ``fused=True`` layers; cells; float64, float32, double backward; packed,
padded, unbatched inputs; the strict CuPy stand-in) matched torch everywhere on valid inputs. What it found is at
the edges: a hand-built ``PackedSequence`` whose batch sizes or indices do not describe its data was read
silently (PyTorch raises), and a few refusals lacked PyTorch's words or class.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn
from nn.utils import rnn as mrnn


@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch", reason="no torch")
    return torch


def _raised(call: Any) -> BaseException | None:
    try:
        call()
    except Exception as error:  # noqa: BLE001 - the error is what is compared
        return error
    return None


# --- a hand-built PackedSequence is checked against its data ---------------------------------------------

# (data rows, batch_sizes, sorted_indices): each describes rows that are not there, or not each once
BAD_PACKS = [
    (5, [1, 2, 2], None),          # batch sizes that grow: ours dropped the second sequence
    (3, [2, 2], None),             # 4 rows counted, 3 there: ours read the padding row as data
    (3, [2.0, 1.0], None),         # float batch sizes: PyTorch takes int64 only
    (3, [2, 1], [0, 0]),           # sorted_indices not a permutation: ours duplicated sequence 0 (PyTorch reads
                                   # uninitialised memory: an error, most often)
    (3, [2, 1], [0, 2]),           # an index past the batch
]


@pytest.mark.parametrize(("rows", "batch_sizes", "sorted_indices"), BAD_PACKS)
def test_a_packed_sequence_that_does_not_describe_its_data_raises(torch, rows: int, batch_sizes: list,
                                                                    sorted_indices: list | None) -> None:
    data = np.arange(2.0 * rows).reshape(rows, 2)
    index = None if sorted_indices is None else np.array(sorted_indices)
    def theirs() -> Any:     # PyTorch refuses an index past the batch as it builds the PackedSequence
        return torch.nn.utils.rnn.PackedSequence(torch.tensor(data), torch.tensor(batch_sizes),
                                                 None if index is None else torch.tensor(index))

    ours = mrnn.PackedSequence(mg.tensor(data), mg.tensor(np.array(batch_sizes)),
                               None if index is None else mg.tensor(index))
    if sorted_indices != [0, 0]:
        assert isinstance(_raised(lambda: torch.nn.utils.rnn.pad_packed_sequence(theirs())), RuntimeError)
        assert _raised(lambda: torch.nn.GRU(2, 3).double()(theirs())) is not None
    with pytest.raises(RuntimeError, match="pad_packed_sequence: the PackedSequence's"):
        mrnn.pad_packed_sequence(ours)
    with pytest.raises(RuntimeError, match="the PackedSequence's"):
        nn.GRU(2, 3, dtype=np.float64)(ours)


def test_a_packed_sequence_with_rows_past_its_batch_sizes_reads_the_first_ones_as_pytorch(torch) -> None:
    data = np.arange(10.0).reshape(5, 2)
    padded, lengths = mrnn.pad_packed_sequence(mrnn.PackedSequence(mg.tensor(data), mg.tensor(np.array([2, 2]))))
    t_padded, t_lengths = torch.nn.utils.rnn.pad_packed_sequence(
        torch.nn.utils.rnn.PackedSequence(torch.tensor(data), torch.tensor([2, 2])))
    np.testing.assert_array_equal(padded.numpy(), t_padded.numpy())
    np.testing.assert_array_equal(lengths.numpy(), t_lengths.numpy())


# --- refusals in PyTorch's words ---------------------------------------------------------------------------

def _rnn(lib: Any) -> Any:
    """``nn.utils.rnn`` of minigrad or of torch."""
    return mrnn if lib is mg else lib.nn.utils.rnn


def _pack(lib: Any, lengths: list, enforce_sorted: bool = True) -> Any:
    return _rnn(lib).pack_padded_sequence(lib.zeros(3, len(lengths), 2), lengths, enforce_sorted=enforce_sorted)


CASES = {
    "empty sequence, RNN": lambda lib, n: n(lib).RNN(2, 3)(lib.zeros(0, 1, 2)),
    "empty sequence, LSTM": lambda lib, n: n(lib).LSTM(2, 3, batch_first=True)(lib.zeros(2, 0, 2)),
    "empty sequence, GRU": lambda lib, n: n(lib).GRU(2, 3)(lib.zeros(0, 2)),
    "RNNCell hidden 3-D": lambda lib, n: n(lib).RNNCell(2, 3)(lib.zeros(4, 2), lib.zeros(1, 4, 3)),
    "GRUCell hidden 0-D": lambda lib, n: n(lib).GRUCell(2, 3)(lib.zeros(4, 2), lib.zeros(())),
    "LSTMCell hx[1] 3-D": lambda lib, n: n(lib).LSTMCell(2, 3)(lib.zeros(4, 2), (lib.zeros(4, 3), lib.zeros(1, 4, 3))),
    "LSTMCell hx[0] 3-D": lambda lib, n: n(lib).LSTMCell(2, 3)(lib.zeros(2), (lib.zeros(1, 1, 3), lib.zeros(3))),
    "a zero length": lambda lib, n: _pack(lib, [3, 0]),
    "a negative length": lambda lib, n: _pack(lib, [-1], enforce_sorted=False),
    "unsorted lengths": lambda lib, n: _pack(lib, [1, 3]),
    "total_length short": lambda lib, n: _rnn(lib).pad_packed_sequence(_pack(lib, [3, 2]), total_length=2),
}


@pytest.mark.parametrize("case", list(CASES))
def test_refusals_carry_pytorchs_class_and_words(torch, case: str) -> None:
    """Code that catches PyTorch's class and matches its message (its first sentence) still works."""
    theirs = _raised(lambda: CASES[case](torch, lambda lib: lib.nn))
    ours = _raised(lambda: CASES[case](mg, lambda lib: nn))
    assert theirs is not None and ours is not None, (theirs, ours)
    assert isinstance(ours, type(theirs)), (type(ours).__mro__, theirs)
    words = str(theirs).split(". You can pass")[0]
    assert words in str(ours), (str(ours), words)


@pytest.mark.parametrize("lengths", [[3, 0], [4, 1], [3, 2, 1], [-1, 3]])
def test_wrong_lengths_keyword_raise_what_pytorchs_packing_raises(torch, lengths: list) -> None:
    """``lengths=`` stands for PyTorch's packing, whose refusals are RuntimeErrors; ours stay ValueErrors too."""
    assert isinstance(_raised(lambda: torch.nn.LSTM(2, 3)(torch.nn.utils.rnn.pack_padded_sequence(
        torch.zeros(3, 2, 2), lengths, enforce_sorted=False))), RuntimeError)
    with pytest.raises(RuntimeError, match="LSTM: lengths") as caught:
        nn.LSTM(2, 3)(mg.zeros(3, 2, 2), lengths=lengths)
    assert isinstance(caught.value, ValueError)
