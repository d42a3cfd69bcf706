"""Recurrent layers, cells and ``nn.utils.rnn`` against torch, round 14: a seeded differential fuzz.

Each case draws a random configuration (RNN tanh/relu, LSTM with and without ``proj_size``, GRU; 1-3 layers,
bidirectional, batch_first, bias, dropout in eval mode, compile=True after a warm-up forward; float32 and float64;
padded, unbatched, packed with ``pack_padded_sequence``/``pack_sequence``, or padded with ``lengths=``; h0 given or
not), copies torch's weights in through the state dict and compares outputs, final states and the gradients of the
input, the initial states and every weight. What the sweep found is pinned below it: PyTorch's words in a wrong
state's error, and ``pad_packed_sequence(total_length=<0-d tensor>)``.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn
from nn.utils import rnn as mrnn
from tests.helpers import assert_close

pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")

KINDS = ("RNN_tanh", "RNN_relu", "LSTM", "LSTM_proj", "GRU")


@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch", reason="no torch")
    return torch


def _tol(dtype: Any) -> dict:
    return {"rtol": 1e-9, "atol": 1e-10} if dtype == np.float64 else {"rtol": 2e-4, "atol": 2e-5}


def _close(ours: mg.Tensor, theirs: Any, dtype: Any, what: str) -> None:
    assert ours.numpy().dtype == theirs.detach().numpy().dtype, f"{what}: dtype {ours.dtype} vs {theirs.dtype}"
    assert_close(ours, theirs, **_tol(dtype), what=what)


def _listed(state: Any) -> list:
    return list(state) if isinstance(state, tuple) else [state]


def _layer_pair(torch: Any, rng: random.Random, dtype: Any) -> tuple:
    """A random layer configuration, built in torch and here with torch's weights: (ours, torch's, facts)."""
    kind = rng.choice(KINDS)
    input_size, hidden, layers = rng.randint(1, 4), rng.randint(2, 4), rng.randint(1, 3)
    options = {"num_layers": layers, "bias": rng.random() < 0.7, "batch_first": rng.random() < 0.5,
               "dropout": rng.choice([0.0, 0.3]) if layers > 1 else 0.0, "bidirectional": rng.random() < 0.5}
    proj = rng.randint(1, hidden - 1) if kind == "LSTM_proj" else 0
    if kind.startswith("RNN"):
        options["nonlinearity"] = kind[4:]
    if kind.startswith("LSTM"):
        options["proj_size"] = proj
    name = kind.split("_")[0]
    theirs = getattr(torch.nn, name)(input_size, hidden, **options).to(
        torch.float64 if dtype == np.float64 else torch.float32).eval()
    ours = getattr(nn, name)(input_size, hidden, **options, compile=rng.random() < 0.4, dtype=dtype).eval()
    state_dict = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    assert list(ours.state_dict()) == list(state_dict)
    ours.load_state_dict(state_dict)
    assert ours._flat_weights_names == theirs._flat_weights_names
    assert [[p.shape for p in w] for w in ours.all_weights] == [[tuple(p.shape) for p in w] for w in theirs.all_weights]
    facts = {"lstm": name == "LSTM", "directions": 2 if options["bidirectional"] else 1, "layers": layers,
             "hidden": hidden, "width": proj or hidden, "input_size": input_size, "batch_first": options["batch_first"]}
    return ours, theirs, facts


def _forward(module: nn.Module, *args: Any, **kwargs: Any) -> tuple:
    """``module(*args, **kwargs)``; a compile=True layer runs once before (forward and backward), so the call
    compared with torch replays its capture."""
    if module._compile_loops:
        output, state = module(*args, **kwargs)
        output = output.data if isinstance(output, mrnn.PackedSequence) else output
        (output.sum() + sum(s.sum() for s in _listed(state))).backward(retain_graph=True)
        module.zero_grad()
    return module(*args, **kwargs)


def _layer_case(torch: Any, seed: int) -> None:
    rng, draw = random.Random(seed), np.random.default_rng(seed)
    dtype = rng.choice([np.float32, np.float64])
    ours, theirs, f = _layer_pair(torch, rng, dtype)
    mode = rng.choice(["padded", "unbatched", "packed", "pack_sequence", "lengths"])
    batch, steps = rng.randint(1, 3), rng.randint(1, 4)
    unbatched = mode == "unbatched"
    rows = f["directions"] * f["layers"]
    shape = (steps, f["input_size"]) if unbatched else (
        (batch, steps, f["input_size"]) if f["batch_first"] else (steps, batch, f["input_size"]))
    x_value = draw.standard_normal(shape).astype(dtype)
    x, tx = mg.tensor(x_value, requires_grad=True), torch.tensor(x_value, requires_grad=True)
    leaves = [(x, tx)]
    states, t_states = None, None
    if rng.random() < 0.5:        # h0 (and c0) given
        widths = [f["width"], f["hidden"]][:2 if f["lstm"] else 1]
        values = [draw.standard_normal((rows, w) if unbatched else (rows, batch, w)).astype(dtype) for w in widths]
        pairs = [(mg.tensor(v, requires_grad=True), torch.tensor(v, requires_grad=True)) for v in values]
        leaves += pairs
        states = tuple(p[0] for p in pairs) if f["lstm"] else pairs[0][0]
        t_states = tuple(p[1] for p in pairs) if f["lstm"] else pairs[0][1]
    lengths = [rng.randint(1, steps) for _ in range(batch)]
    lengths[rng.randrange(batch)] = steps
    enforce = rng.random() < 0.5
    if enforce:
        lengths.sort(reverse=True)
    utils = torch.nn.utils.rnn
    if mode == "packed":
        as_tensor = rng.random() < 0.5
        packed = mrnn.pack_padded_sequence(x, mg.tensor(np.array(lengths)) if as_tensor else lengths,
                                           batch_first=f["batch_first"], enforce_sorted=enforce)
        t_packed = utils.pack_padded_sequence(tx, torch.tensor(lengths) if as_tensor else lengths,
                                              batch_first=f["batch_first"], enforce_sorted=enforce)
        output, state = _forward(ours, packed, states)
        t_output, t_state = theirs(t_packed, t_states)
        _close(output.data, t_output.data, dtype, "packed output")
        total, fill = steps + rng.randint(0, 2), rng.choice([0.0, -1.5])
        output, _ = mrnn.pad_packed_sequence(output, f["batch_first"], fill, total)
        t_output, _ = utils.pad_packed_sequence(t_output, f["batch_first"], fill, total)
    elif mode == "pack_sequence":
        values = [draw.standard_normal((n, f["input_size"])).astype(dtype) for n in lengths]
        leaves = [(mg.tensor(v, requires_grad=True), torch.tensor(v, requires_grad=True)) for v in values] + leaves[1:]
        packed = mrnn.pack_sequence([p[0] for p in leaves[:batch]], enforce_sorted=enforce)
        t_packed = utils.pack_sequence([p[1] for p in leaves[:batch]], enforce_sorted=enforce)
        output, state = _forward(ours, packed, states)
        t_output, t_state = theirs(t_packed, t_states)
        output = mg.concat(mrnn.unpack_sequence(output), axis=0)
        t_output = torch.cat(utils.unpack_sequence(t_output), 0)
    elif mode == "lengths":       # our lengths= against torch's packed result
        output, state = _forward(ours, x, states, lengths=lengths)
        packed = utils.pack_padded_sequence(tx, lengths, batch_first=f["batch_first"], enforce_sorted=False)
        t_output, t_state = theirs(packed, t_states)
        t_output, _ = utils.pad_packed_sequence(t_output, batch_first=f["batch_first"], total_length=steps)
    else:
        output, state = _forward(ours, x, states)
        t_output, t_state = theirs(tx, t_states)
    _close(output, t_output, dtype, "output")
    results, t_results = [output, *_listed(state)], [t_output, *_listed(t_state)]
    for i, (ours_state, their_state) in enumerate(zip(results[1:], t_results[1:])):
        _close(ours_state, their_state, dtype, f"final state {i}")
    loss, t_loss = 0, 0
    for ours_result, their_result in zip(results, t_results):
        weights = draw.standard_normal(tuple(their_result.shape))
        loss = loss + (ours_result * mg.tensor(weights.astype(dtype))).sum()
        t_loss = t_loss + (their_result * torch.tensor(weights.astype(dtype))).sum()
    for leaf, _ in leaves:
        leaf.grad = None          # the warm-up forward of a compile=True layer reached them too
    loss.backward()
    t_loss.backward()
    for i, (leaf, t_leaf) in enumerate(leaves):
        _close(leaf.grad, t_leaf.grad, dtype, f"grad of input/state {i}")
    t_params = dict(theirs.named_parameters())
    for name, param in ours.named_parameters():
        _close(param.grad, t_params[name].grad, dtype, f"grad of {name}")


@pytest.mark.parametrize("seed", range(40))
def test_layers_match_torch(torch, seed: int) -> None:
    _layer_case(torch, seed)


@pytest.mark.parametrize("seed", range(8))
def test_cells_match_torch(torch, seed: int) -> None:
    rng, draw = random.Random(seed), np.random.default_rng(seed)
    dtype = rng.choice([np.float32, np.float64])
    name, options = rng.choice([("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}), ("LSTMCell", {}),
                                ("GRUCell", {})])
    options["bias"] = rng.random() < 0.7
    input_size, hidden = rng.randint(1, 4), rng.randint(1, 4)
    theirs = getattr(torch.nn, name)(input_size, hidden, **options).to(
        torch.float64 if dtype == np.float64 else torch.float32)
    ours = getattr(nn, name)(input_size, hidden, **options, dtype=dtype)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert repr(ours) == repr(theirs)
    unbatched = seed % 2 == 0     # 1-D input (and state) half the time
    batch = rng.randint(1, 3)
    x_value = draw.standard_normal((input_size,) if unbatched else (batch, input_size)).astype(dtype)
    leaves = [(mg.tensor(x_value, requires_grad=True), torch.tensor(x_value, requires_grad=True))]
    state, t_state = None, None
    if rng.random() < 0.5:
        values = [draw.standard_normal((hidden,) if unbatched else (batch, hidden)).astype(dtype)
                  for _ in range(2 if name == "LSTMCell" else 1)]
        pairs = [(mg.tensor(v, requires_grad=True), torch.tensor(v, requires_grad=True)) for v in values]
        leaves += pairs
        state = tuple(p[0] for p in pairs) if name == "LSTMCell" else pairs[0][0]
        t_state = tuple(p[1] for p in pairs) if name == "LSTMCell" else pairs[0][1]
    results = _listed(ours(leaves[0][0], state))
    t_results = _listed(theirs(leaves[0][1], t_state))
    for i, (ours_result, their_result) in enumerate(zip(results, t_results)):
        _close(ours_result, their_result, dtype, f"result {i}")
    sum(r.sum() * (i + 1) for i, r in enumerate(results)).backward()
    sum(r.sum() * (i + 1) for i, r in enumerate(t_results)).backward()
    for i, (leaf, t_leaf) in enumerate(leaves):
        _close(leaf.grad, t_leaf.grad, dtype, f"grad of input/state {i}")
    t_params = dict(theirs.named_parameters())
    for param_name, param in ours.named_parameters():
        _close(param.grad, t_params[param_name].grad, dtype, f"grad of {param_name}")


@pytest.mark.parametrize("seed", range(8))
def test_rnn_utils_match_torch(torch, seed: int) -> None:
    rng, draw = random.Random(seed), np.random.default_rng(seed)
    utils = torch.nn.utils.rnn
    dtype = rng.choice([np.float32, np.float64])
    lengths = [rng.randint(1, 4) for _ in range(rng.randint(1, 3))]
    features = rng.choice([(), (2,), (2, 3)])
    batch_first, fill = rng.random() < 0.5, rng.choice([0.0, 2.5])
    values = [draw.standard_normal((n, *features)).astype(dtype) for n in lengths]
    for side in ("right", "left"):
        padded = mrnn.pad_sequence([mg.tensor(v) for v in values], batch_first, fill, side)
        _close(padded, utils.pad_sequence([torch.tensor(v) for v in values], batch_first, fill, side), dtype, side)
    sequences = [mg.tensor(v, requires_grad=True) for v in values]
    t_sequences = [torch.tensor(v, requires_grad=True) for v in values]
    padded = mrnn.pad_sequence(sequences, batch_first=batch_first)
    t_padded = utils.pad_sequence(t_sequences, batch_first=batch_first)
    for ours_row, their_row in zip(mrnn.unpad_sequence(padded, mg.tensor(np.array(lengths)), batch_first),
                                   utils.unpad_sequence(t_padded.detach().clone(), torch.tensor(lengths),
                                                        batch_first)):
        _close(ours_row, their_row, dtype, "unpad_sequence")
    packed = mrnn.pack_padded_sequence(padded, lengths, batch_first, enforce_sorted=False)
    t_packed = utils.pack_padded_sequence(t_padded, lengths, batch_first, enforce_sorted=False)
    _close(packed.data, t_packed.data, dtype, "packed data")
    for field in ("batch_sizes", "sorted_indices", "unsorted_indices"):
        assert_close(getattr(packed, field), getattr(t_packed, field), what=field)
    total = max(lengths) + 1
    repadded, out_lengths = mrnn.pad_packed_sequence(packed, not batch_first, -1.0, total)
    t_repadded, t_out_lengths = utils.pad_packed_sequence(t_packed, not batch_first, -1.0, total)
    _close(repadded, t_repadded, dtype, "pad_packed_sequence")
    assert_close(out_lengths, t_out_lengths, what="lengths")
    for ours_row, their_row in zip(mrnn.unpack_sequence(packed), utils.unpack_sequence(t_packed)):
        _close(ours_row, their_row, dtype, "unpack_sequence")
    weights = draw.standard_normal(tuple(t_repadded.shape))
    (repadded * mg.tensor(weights.astype(dtype))).sum().backward()
    (t_repadded * torch.tensor(weights.astype(dtype))).sum().backward()
    for i, (sequence, t_sequence) in enumerate(zip(sequences, t_sequences)):
        _close(sequence.grad, t_sequence.grad, dtype, f"grad of sequence {i}")


# --- what the sweep found --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_a_wrong_state_names_it_in_pytorchs_words_too(torch, name: str) -> None:
    """PyTorch code matching "Expected hidden size" (a layer) or the cells' messages still matches."""
    lstm = name == "LSTM"
    ours, theirs = getattr(nn, name)(3, 4, num_layers=2), getattr(torch.nn, name)(3, 4, num_layers=2)
    pairs = [((2, 3, 4), r"Expected hidden(\[0\])? size \(2, 2, 4\), got \[2, 3, 4\]"),
             ((1, 2, 4), r"Expected hidden(\[0\])? size \(2, 2, 4\), got \[1, 2, 4\]"),
             ((2, 4), r"For batched 3-D input, hx (and cx )?should also be 3-D but got (2-D|\(2-D, 2-D\))")]
    for shape, pattern in pairs:
        for module, lib, error in ((ours, mg, nn.RecurrentStateError), (theirs, torch, RuntimeError)):
            h = lib.zeros(*shape)
            with pytest.raises(error, match=pattern):
                module(lib.zeros(5, 2, 3), (h, h) if lstm else h)
    unbatched_h = (mg.zeros(2, 1, 4), torch.zeros(2, 1, 4))
    for module, lib, h in ((ours, mg, unbatched_h[0]), (theirs, torch, unbatched_h[1])):
        with pytest.raises(RuntimeError, match=r"For unbatched 2-D input, hx (and cx )?should also be 2-D"):
            module(lib.zeros(5, 3), (h, h) if lstm else h)


def test_a_wrong_lstm_cell_state_names_it_in_pytorchs_words_too(torch) -> None:
    ours, theirs = nn.LSTM(3, 4, proj_size=2), torch.nn.LSTM(3, 4, proj_size=2)
    for module, lib in ((ours, mg), (theirs, torch)):
        with pytest.raises(RuntimeError, match=r"Expected hidden\[1\] size \(1, 2, 4\), got \[1, 2, 2\]"):
            module(lib.zeros(5, 2, 3), (lib.zeros(1, 2, 2), lib.zeros(1, 2, 2)))


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_a_wrong_cell_state_names_it_in_pytorchs_words_too(torch, name: str) -> None:
    lstm = name == "LSTMCell"
    for module, lib in ((getattr(nn, name)(3, 4), mg), (getattr(torch.nn, name)(3, 4), torch)):
        for shape, pattern in (((3, 4), "Input batch size 2 doesn't match hidden0 batch size 3"),
                               ((2, 5), "hidden0 has inconsistent hidden_size: got 5, expected 4")):
            h = lib.zeros(*shape)
            with pytest.raises(RuntimeError, match=pattern):
                module(lib.zeros(2, 3), (h, h) if lstm else h)


def test_pad_packed_sequence_takes_a_0d_integer_tensor_total_length(torch) -> None:
    packed = mrnn.pack_padded_sequence(mg.ones(4, 3), [4, 2, 1])
    t_packed = torch.nn.utils.rnn.pack_padded_sequence(torch.ones(4, 3), [4, 2, 1])
    for total in (6, np.int64(6)):
        padded, lengths = mrnn.pad_packed_sequence(packed, total_length=mg.tensor(total))
        t_padded, t_lengths = torch.nn.utils.rnn.pad_packed_sequence(t_packed, total_length=torch.tensor(total))
        assert_close(padded, t_padded, what="padded")
        assert_close(lengths, t_lengths, what="lengths")
    with pytest.raises(TypeError, match="total_length must be an int"):   # a float tensor: TypeError, as torch's
        mrnn.pad_packed_sequence(packed, total_length=mg.tensor(6.0))
    with pytest.raises(TypeError):
        torch.nn.utils.rnn.pad_packed_sequence(t_packed, total_length=torch.tensor(6.0))


@pytest.mark.parametrize(("name", "shape"), [("RNN", (5, 2, 4)), ("LSTM", (5, 4)), ("GRU", (5, 2, 3, 3)),
                                             ("RNN", (3,)), ("RNNCell", (2, 4)), ("LSTMCell", (4,)),
                                             ("GRUCell", (1, 2, 3))])
def test_pytorch_input_message_is_pytorchs(torch, name: str, shape: tuple) -> None:
    """The words for a wrong input that nn/recurrent.py and nn/cells.py append to their errors are PyTorch's."""
    from nn._recurrent_checks import pytorch_input_message

    ranks = (1, 2) if name.endswith("Cell") else (2, 3)
    with pytest.raises((RuntimeError, ValueError)) as caught:
        getattr(torch.nn, name)(3, 4)(torch.zeros(*shape))
    assert pytorch_input_message(name, mg.zeros(*shape), 3, ranks) == str(caught.value)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"])
def test_reset_parameters_redraws_every_weight(torch, name: str) -> None:
    """PyTorch's ``reset_parameters`` (code calls it on every module that has one, to re-initialise a model)."""
    options = {"proj_size": 2} if name == "LSTM" else {}
    for module, init in ((getattr(nn, name)(3, 4, **options), nn.init),
                         (getattr(torch.nn, name)(3, 4, **options), torch.nn.init)):
        with (torch.no_grad() if init is torch.nn.init else mg.no_grad()):
            for param in module.parameters():
                init.constant_(param, 7.0)
        module.reset_parameters()
        for param in module.parameters():
            value = param.detach().numpy()
            assert np.all(np.abs(value) <= 0.5) and len(np.unique(value)) > 1   # U(-1/√4, 1/√4) again
