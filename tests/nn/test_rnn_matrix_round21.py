"""Recurrent layers' configuration matrix against torch, round 21: what a random-configuration fuzz found.

The fuzz (/tmp/fuzz21_rnn_matrix.py: RNN/LSTM/GRU and their cells, sizes 1..7, 1..3 layers, bidirectional, no
bias, batch_first, proj_size, dropout in eval, float32/float64, unbatched, batch 0, hx requiring grad, frozen
parameters, packed/padded/``lengths=`` inputs, every ``nn.utils.rnn`` helper, ``compile=``, ``fused=``,
``mg.compile`` around the module or a cell's step, ``module.compile()``, inf/nan inputs and weights, the strict
CuPy stand-in) matched torch on every valid input of the modules. What it found is in PyTorch's functional cells
(``mg.rnn_tanh_cell``, ``rnn_relu_cell``, ``lstm_cell``, ``gru_cell``): tensors of mixed dtypes were promoted where
PyTorch raises, and an argument of the wrong rank raised the other class than PyTorch's; and in packing: past 16
sequences, PyTorch's unstable sort puts sequences of equal length out of batch order, which ours kept.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

import minigrad as mg


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


# --- the functional cells refuse tensors of mixed dtypes, as PyTorch's ------------------------------------

FUNCTIONAL_CELLS = [("rnn_tanh_cell", 1), ("rnn_relu_cell", 1), ("lstm_cell", 4), ("gru_cell", 3)]
# (input, hx, weights, biases): one of them float32, the rest float64 (ours promoted to a float64 result)
MIXED = [dtypes for dtypes in itertools.product(("float32", "float64"), repeat=4) if len(set(dtypes)) == 2
         and dtypes.count("float32") == 1]


@pytest.mark.parametrize(("name", "gates"), FUNCTIONAL_CELLS)
@pytest.mark.parametrize("dtypes", MIXED)
def test_functional_cells_refuse_mixed_dtypes_as_pytorch(torch, name: str, gates: int, dtypes: tuple) -> None:
    rng = np.random.default_rng(0)
    batch, inputs, hidden = 2, 3, 4
    x_dtype, h_dtype, w_dtype, b_dtype = dtypes
    arrays = {"x": rng.standard_normal((batch, inputs)).astype(x_dtype),
              "h": rng.standard_normal((batch, hidden)).astype(h_dtype),
              "c": rng.standard_normal((batch, hidden)).astype(h_dtype),
              "w_ih": rng.standard_normal((gates * hidden, inputs)).astype(w_dtype),
              "w_hh": rng.standard_normal((gates * hidden, hidden)).astype(w_dtype),
              "b_ih": rng.standard_normal(gates * hidden).astype(b_dtype),
              "b_hh": rng.standard_normal(gates * hidden).astype(b_dtype)}

    def call(lib: Any) -> Any:
        t = {key: lib.tensor(value) for key, value in arrays.items()}
        hx = (t["h"], t["c"]) if name == "lstm_cell" else t["h"]
        return getattr(lib, name)(t["x"], hx, t["w_ih"], t["w_hh"], t["b_ih"], t["b_hh"])

    assert isinstance(_raised(lambda: call(torch)), RuntimeError)
    with pytest.raises(RuntimeError, match=f"{name}: .*dtype"):
        call(mg)


# --- ... and raise PyTorch's class for an argument that is not 2-D ------------------------------------------

# (the argument, its shape): each the only thing wrong, with batch 2, input 3, hidden 2. PyTorch reads the dims it
# checks, so a missing one is its IndexError and an extra one its RuntimeError (ours had them the other way round
# for an input of 3 dims, a state or weight of 1 dim)
RANKS = [("x", (3,)), ("x", (1, 2, 3)), ("x", ()), ("w_ih", (2,)), ("h", (2,)), ("w_ih", (1, 2, 3))]


@pytest.mark.parametrize(("name", "gates"), [("rnn_tanh_cell", 1), ("gru_cell", 3)])
@pytest.mark.parametrize(("argument", "shape"), RANKS)
def test_functional_cells_raise_pytorchs_class_for_an_argument_not_2d(torch, name: str, gates: int, argument: str,
                                                                      shape: tuple) -> None:
    rng = np.random.default_rng(1)
    shapes = {"x": (2, 3), "h": (2, 2), "w_ih": (gates * 2, 3), "w_hh": (gates * 2, 2)}
    if argument == "w_ih":          # the rows stay right: only the rank is wrong
        shape = (gates * 2,) if len(shape) == 1 else (1, gates * 2, 3)
    if argument == "h":
        shape = (2,)                # its batch matches the input's; its width is missing
    shapes[argument] = shape
    arrays = {key: rng.standard_normal(value) for key, value in shapes.items()}

    def call(lib: Any) -> Any:
        t = {key: lib.tensor(value) for key, value in arrays.items()}
        return getattr(lib, name)(t["x"], t["h"], t["w_ih"], t["w_hh"])

    expected = _raised(lambda: call(torch))
    assert expected is not None
    error = _raised(lambda: call(mg))
    assert isinstance(error, type(expected)), (error, expected)
    assert name in str(error)


# --- packing sorts sequences of equal length in PyTorch's order ----------------------------------------------

@pytest.mark.parametrize(("batch", "longest", "seed"), [(17, 2, 0), (20, 3, 1), (40, 5, 2), (64, 30, 3), (300, 4, 4),
                                                        (33, 1, 5)])
def test_packing_orders_equal_lengths_as_pytorch(torch, batch: int, longest: int, seed: int) -> None:
    # PyTorch sorts the lengths with its unstable sort: past 16 sequences, equal lengths leave batch order (ours kept
    # it), which is sorted_indices and the order of the packed rows, so an LSTM's packed output differed from torch's
    from nn.utils import rnn as mrnn

    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, longest + 1, batch).tolist()
    padded = rng.standard_normal((longest, batch, 2))
    ours = mrnn.pack_padded_sequence(mg.tensor(padded), lengths, enforce_sorted=False)
    theirs = torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(padded), lengths, enforce_sorted=False)
    np.testing.assert_array_equal(ours.sorted_indices.numpy(), theirs.sorted_indices.numpy())
    np.testing.assert_array_equal(ours.unsorted_indices.numpy(), theirs.unsorted_indices.numpy())
    np.testing.assert_array_equal(ours.data.numpy(), theirs.data.numpy())
    sequences = [padded[:n, b] for b, n in enumerate(lengths)]
    ours = mrnn.pack_sequence([mg.tensor(s) for s in sequences], enforce_sorted=False)
    theirs = torch.nn.utils.rnn.pack_sequence([torch.tensor(s) for s in sequences], enforce_sorted=False)
    np.testing.assert_array_equal(ours.data.numpy(), theirs.data.numpy())
