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

    def ours() -> mrnn.PackedSequence:
        return mrnn.PackedSequence(mg.tensor(data), mg.tensor(np.array(batch_sizes)),
                                   None if index is None else mg.tensor(index))

    if sorted_indices != [0, 0]:
        assert isinstance(_raised(lambda: torch.nn.utils.rnn.pad_packed_sequence(theirs())), RuntimeError)
        assert _raised(lambda: torch.nn.GRU(2, 3).double()(theirs())) is not None
    with pytest.raises(RuntimeError, match="PackedSequence('s)?:? (batch_sizes|sorted_indices)"):
        mrnn.pad_packed_sequence(ours())
    with pytest.raises(RuntimeError, match="PackedSequence('s)?:? (batch_sizes|sorted_indices)"):
        nn.GRU(2, 3, dtype=np.float64)(ours())


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


# --- PyTorch's checking helpers of RNNBase, which subclasses call ------------------------------------------

class _Checked:
    """A layer subclassed as PyTorch code subclasses nn.LSTM/GRU: its forward checks and permutes through the
    base class's helpers before running it."""

    def forward(self, input: Any, hx: Any = None) -> Any:  # noqa: A002
        packed = not hasattr(input, "ndim")
        data, batch_sizes, sorted_indices = (input[0], input[1], input[2]) if packed else (input, None, None)
        if hx is not None:
            self.check_forward_args(data, hx, batch_sizes)
            hx = self.permute_hidden(hx, sorted_indices)       # into the packed (sorted) batch order...
            hx = self.permute_hidden(hx, input[3] if packed else None)   # ...and back: what forward takes
        return super().forward(input, hx)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("options", [{}, {"batch_first": True, "bidirectional": True, "num_layers": 2}])
def test_rnnbase_checking_helpers_are_pytorchs(torch, name: str, options: dict) -> None:
    if name == "LSTM":
        options = {**options, "proj_size": 2}
    layers = [type("Checked" + name, (_Checked, base), {})(3, 4, **options).double()
              for base in (getattr(nn, name), getattr(torch.nn, name))]
    layers[0].load_state_dict({k: v.detach().numpy() for k, v in layers[1].state_dict().items()})
    rows = options.get("num_layers", 1) * (2 if options.get("bidirectional") else 1)
    bf = options.get("batch_first", False)
    draw = np.random.default_rng(0)
    x = draw.standard_normal((3, 4, 3) if bf else (4, 3, 3))
    widths = [2, 4] if name == "LSTM" else [4]
    states = [draw.standard_normal((rows, 3, w)) for w in widths]
    for lengths in ([4, 2, 3], None):
        results = []
        for layer, lib, rnn in ((layers[0], mg, mrnn), (layers[1], torch, torch.nn.utils.rnn)):
            assert layer.get_expected_hidden_size(lib.tensor(x), None) == (rows, 3, widths[0])
            hx = tuple(lib.tensor(s) for s in states) if name == "LSTM" else lib.tensor(states[0])
            inp = lib.tensor(x) if lengths is None else rnn.pack_padded_sequence(lib.tensor(x), lengths, bf, False)
            output, final = layer(inp, hx)
            output = output if lengths is None else output.data
            results.append([output, *(final if name == "LSTM" else [final])])
            permuted = layer.permute_hidden(hx, lib.tensor(np.array([2, 0, 1])))
            results[-1] += list(permuted) if name == "LSTM" else [permuted]
            bad = tuple(lib.tensor(s[:, :2]) for s in states) if name == "LSTM" else lib.tensor(states[0][:, :2])
            with pytest.raises(RuntimeError, match=r"Expected hidden(\[0\])? size \(\d, 3, \d\), got \[\d, 2, \d\]"):
                layer(inp, bad)
            with pytest.raises(ValueError, match=r"RNN input dtype \((torch\.)?float32\) does not match"):
                layer.check_input(lib.tensor(x.astype(np.float32)), None)
            with pytest.raises(RuntimeError, match="input must have 2 dimensions, got 3"):
                layer.check_input(lib.tensor(x), lib.tensor(np.array([3, 3])))
        for ours, theirs in zip(*results):
            np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-12, atol=1e-12)
