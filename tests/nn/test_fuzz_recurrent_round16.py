"""Recurrent layers, cells and ``nn.utils.rnn`` against torch, round 16: the module API and the functional cells.

An offline differential sweep (constructor arguments positional and keyword, attributes PyTorch users read,
parameters replaced or set to None, forward arguments, packing utilities, the functional cells in float16) found
the causes pinned below, each compared with live torch: ``nn.RNN``'s positional order (``nonlinearity`` 4th),
a GRU running on without a weight set to None, ``_flat_weights_names`` dropping such a weight, and
``mg.lstm_cell`` & co. rounding float16's ``x W_ihᵀ + b_ih`` twice.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn


@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch", reason="no torch")
    return torch


def _copied(torch: Any, kind: str, *args: Any, **kwargs: Any) -> tuple:
    """(ours, torch's) ``kind`` built from the same arguments, ours with torch's weights."""
    theirs = getattr(torch.nn, kind)(*args, **kwargs)
    ours = getattr(nn, kind)(*args, **kwargs)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize("args", [(3, 4, 1, "relu"), (3, 4, 2, "tanh", False), (3, 4, 2, "relu", True, True, 0.0, True),
                                  (3, 4, 1, "relu", False, False, 0.0, True)])
def test_rnn_takes_pytorchs_positional_order(torch, args: tuple) -> None:
    ours, theirs = _copied(torch, "RNN", *args)
    assert repr(ours) == repr(theirs) and ours.mode == theirs.mode
    x = np.random.default_rng(0).standard_normal((2, 5, 3) if theirs.batch_first else (5, 2, 3)).astype(np.float32)
    output, h = ours(mg.tensor(x))
    t_output, t_h = theirs(torch.tensor(x))
    np.testing.assert_allclose(output.numpy(), t_output.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h.numpy(), t_h.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("args", [(3, 4, 1, True), (3, 4, 2, False, True), (3, 4, 1, "sigmoid")])
def test_rnn_refuses_what_pytorch_reads_as_a_bad_nonlinearity(torch, args: tuple) -> None:
    with pytest.raises(ValueError):
        torch.nn.RNN(*args)
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(*args)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("name", ["bias_hh_l0", "bias_ih_l0", "weight_hh_l0"])
def test_a_layer_weight_set_to_none_raises_as_pytorch(torch, kind: str, name: str) -> None:
    ours, theirs = _copied(torch, kind, 3, 4)
    setattr(ours, name, None)
    setattr(theirs, name, None)
    with pytest.raises(TypeError):
        theirs(torch.zeros(5, 2, 3))
    with pytest.raises(TypeError, match=f"{kind}: {name} is None"):
        ours(mg.zeros((5, 2, 3)))


@pytest.mark.parametrize("kind, options", [("RNN", {}), ("LSTM", {"proj_size": 2}), ("GRU", {})])
@pytest.mark.parametrize("how", ["none", "del"])
def test_flat_weights_names_keep_every_registered_weight(torch, kind: str, options: dict, how: str) -> None:
    ours, theirs = _copied(torch, kind, 3, 4, 2, bidirectional=True, **options)
    for module in (ours, theirs):
        if how == "none":
            module.bias_hh_l1_reverse = None
        else:
            del module.weight_hh_l0
    assert ours._flat_weights_names == theirs._flat_weights_names
    assert ours._all_weights == theirs._all_weights
    if how == "none":
        assert [w is None for w in ours._flat_weights] == [w is None for w in theirs._flat_weights]
        assert [[w is None for w in ws] for ws in ours.all_weights] == [[w is None for w in ws]
                                                                         for ws in theirs.all_weights]


@pytest.mark.parametrize("name, gates", [("rnn_tanh_cell", 1), ("rnn_relu_cell", 1), ("lstm_cell", 4),
                                         ("gru_cell", 3)])
@pytest.mark.parametrize("seed", range(3))
def test_functional_float16_cells_round_as_pytorch(torch, name: str, gates: int, seed: int) -> None:
    draw = np.random.default_rng(seed)
    batch, inputs, hidden = 3, 5, 4

    def value(*shape: int) -> np.ndarray:
        return draw.standard_normal(shape).astype(np.float16)

    x, h, c = value(batch, inputs), value(batch, hidden), value(batch, hidden)
    weights = [value(gates * hidden, inputs), value(gates * hidden, hidden), value(gates * hidden),
               value(gates * hidden)]

    def call(module: Any, tensor: Any) -> list:
        state = (tensor(h), tensor(c)) if name == "lstm_cell" else tensor(h)
        result = getattr(module, name)(tensor(x), state, *map(tensor, weights))
        return list(result) if isinstance(result, tuple) else [result]

    for ours, theirs in zip(call(mg, mg.tensor), call(torch, torch.tensor)):
        assert ours.dtype == np.float16
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
