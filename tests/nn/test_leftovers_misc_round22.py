"""Round 22, leftovers: recurrent argument errors, the functional cells' biases, saved tensors, hooks, each compared
with torch 2.13 (fuzzers: /tmp/fuzz22_rnn_args.py, /tmp/fuzz22_rnn_hooks.py)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")


def _outcome(call: Callable[[], Any]) -> type | None:
    """None, or the class of the error ``call`` raised."""
    try:
        call()
    except Exception as error:  # noqa: BLE001 - the class is compared
        return type(error)
    return None


def _same_outcome(ours: Callable[[], Any], theirs: Callable[[], Any]) -> None:
    """Both succeed, or ours raises an instance of the (builtin) class torch's raises."""
    expected, got = _outcome(theirs), _outcome(ours)
    assert (got is None) == (expected is None), (got, expected)
    assert expected is None or issubclass(got, expected), (got, expected)


# --- 2. the functional cells take a bias that expands to (B, gates · H), as torch's -------------------------------

_CELLS = [("rnn_tanh_cell", 1), ("rnn_relu_cell", 1), ("lstm_cell", 4), ("gru_cell", 3)]


@pytest.mark.parametrize("dtype", [np.float64, np.float16])
@pytest.mark.parametrize("name, gates", _CELLS)
@pytest.mark.parametrize("shape", [(), (1,), (1, "G"), ("B", "G"), ("B", 1), (1, 1), (2, "G"), (1, 1, "G"), ("G+1",)])
def test_functional_cell_bias_broadcasts(name: str, gates: int, shape: tuple, dtype: Any) -> None:
    batch, inputs, hidden = 3, 2, 4
    sizes = {"G": gates * hidden, "B": batch, "G+1": gates * hidden + 1}
    shape = tuple(sizes.get(s, s) for s in shape)
    rng = np.random.default_rng(0)
    values = [rng.standard_normal(s).astype(dtype) for s in
              [(batch, inputs), (batch, hidden), (batch, hidden), (gates * hidden, inputs), (gates * hidden, hidden),
               shape, shape]]

    def call(lib: Any, make: Callable) -> list:
        tensors = [make(v) for v in values]
        x, h, c, w_ih, w_hh, b_ih, b_hh = tensors
        result = getattr(lib, name)(x, (h, c) if gates == 4 else h, w_ih, w_hh, b_ih, b_hh)
        outputs = list(result) if gates == 4 else [result]
        sum(o.float().sum() * (k + 1) for k, o in enumerate(outputs)).backward()
        return [o.detach() for o in outputs] + [t.grad for t in tensors]

    expected = _outcome(lambda: call(torch, lambda v: torch.tensor(v, requires_grad=True)))
    got = _outcome(lambda: call(mg, lambda v: mg.tensor(v, requires_grad=True)))
    assert got is expected or (expected is not None and got is not None and issubclass(got, expected))
    if expected is not None:
        return
    theirs = call(torch, lambda v: torch.tensor(v, requires_grad=True))
    ours = call(mg, lambda v: mg.tensor(v, requires_grad=True))
    for a, b in zip(ours, theirs):
        assert (a is None) == (b is None)
        if a is None:
            continue
        assert a.shape == tuple(b.shape) and a.numpy().dtype == b.numpy().dtype
        tolerance = 1e-2 if dtype == np.float16 else 1e-12
        np.testing.assert_allclose(a.numpy().astype(np.float64), b.numpy().astype(np.float64),
                                   rtol=tolerance, atol=tolerance)
    if dtype == np.float16:                               # the outputs: torch's rounding, bit for bit
        for a, b in zip(ours[:1 + (gates == 4)], theirs):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


# --- 1. recurrent layers and cells: the class of torch's error for a state or input of the wrong kind -------------

def _layers(kind: str, proj_size: int = 0) -> tuple:
    """(ours, torch's) ``kind`` layer (I=2, H=3), float64, the same weights."""
    options = {"proj_size": proj_size} if proj_size else {}
    theirs = getattr(torch.nn, kind)(2, 3, **options).double()
    ours = getattr(nn, kind)(2, 3, **options, dtype=np.float64)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _states(lib: Any, kind: str, case: str, shape: tuple = (1, 2)) -> Any:
    """A hostile state of the kind ``case`` for a ``kind`` layer (or cell: ``shape`` (2,)), H = 3 (proj_size 2: h 2)."""
    h = lib.ones((*shape, 2 if kind == "LSTMp" else 3), dtype=lib.float64)
    c = lib.ones((*shape, 3), dtype=lib.float64)
    return {"int": 1, "str": "ab", "list": [h], "tuple": (h,), "none_in": (h, None), "none_first": (None, c),
            "numpy": np.ones(tuple(h.shape)), "numpy_c": (h, np.ones(tuple(c.shape))), "nested": ((h,), c),
            "tensor": h}[case]


_STATE_CASES = ([(kind, case) for kind in ("RNN", "GRU") for case in ("int", "str", "list", "tuple", "numpy")]
                + [(kind, case) for kind in ("LSTM", "LSTMp")
                   for case in ("tensor", "tuple", "none_in", "none_first", "numpy_c", "nested", "str", "numpy")])


@pytest.mark.parametrize("kind, case", _STATE_CASES)
def test_layer_state_of_the_wrong_kind_raises_torchs_class(kind: str, case: str) -> None:
    """torch: AttributeError ('int' object has no attribute 'dim'), IndexError (an LSTM's state a Tensor or a
    1-tuple); ours raised RecurrentStateError (RuntimeError, TypeError, ValueError) for each."""
    ours, theirs = _layers(kind.rstrip("p"), 2 if kind == "LSTMp" else 0)
    x = np.random.default_rng(0).standard_normal((3, 2, 2))
    _same_outcome(lambda: ours(mg.tensor(x), _states(mg, kind, case)),
                  lambda: theirs(torch.tensor(x), _states(torch, kind, case)))


@pytest.mark.parametrize("kind, case", [(kind, case) for kind in ("RNNCell", "GRUCell", "LSTMCell")
                                        for case in ("int", "str", "list", "tuple", "numpy", "none_in")])
def test_cell_state_of_the_wrong_kind_raises_torchs_class(kind: str, case: str) -> None:
    theirs = getattr(torch.nn, kind)(2, 3).double()
    ours = getattr(nn, kind)(2, 3, dtype=np.float64)
    x = np.ones((2, 2))
    _same_outcome(lambda: ours(mg.tensor(x), _states(mg, kind, case, (2,))),
                  lambda: theirs(torch.tensor(x), _states(torch, kind, case, (2,))))


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell"])
@pytest.mark.parametrize("case", ["list", "tuple", "none"])
def test_input_of_the_wrong_kind_raises_torchs_class(kind: str, case: str) -> None:
    """torch: AttributeError ('list' object has no attribute 'dim'); ours TypeError only."""
    theirs = getattr(torch.nn, kind)(2, 3).double()
    ours = getattr(nn, kind)(2, 3, dtype=np.float64)
    x = np.ones((3, 1, 2) if "Cell" not in kind else (1, 2))
    inputs = {"list": lambda lib: x.tolist(), "tuple": lambda lib: (lib.tensor(x),), "none": lambda lib: None}[case]
    _same_outcome(lambda: ours(inputs(mg)), lambda: theirs(inputs(torch)))


@pytest.mark.parametrize("lengths", [[[3]], [3, 1], [3.0], [[3, 3]]])
def test_layer_lengths_as_torchs_packing_reads_them(lengths: list) -> None:
    """``lengths=`` is packing in torch: a 2-D or too long list is its IndexError (ours: RuntimeError/ValueError),
    whole floats pack (ours: TypeError)."""
    batch = len(lengths[0]) if isinstance(lengths[0], list) else 1
    ours, theirs = _layers("GRU")
    x = np.random.default_rng(1).standard_normal((3, batch, 2))

    def packed() -> tuple:
        output, state = theirs(torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(x), lengths,
                                                                       enforce_sorted=False))
        return torch.nn.utils.rnn.pad_packed_sequence(output, total_length=3)[0], state

    _same_outcome(lambda: ours(mg.tensor(x), lengths=lengths), packed)
    if _outcome(packed) is None:
        for a, b in zip(ours(mg.tensor(x), lengths=lengths), packed()):
            np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-12)
