"""Round 22, leftovers: recurrent argument errors, the functional cells' biases, saved tensors, hooks, each compared
with torch 2.13 (fuzzers: /tmp/fuzz22_rnn_args.py, /tmp/fuzz22_rnn_hooks.py)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import nn
from nn.utils import rnn as mrnn

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


# --- 3. saved tensors ---------------------------------------------------------------------------------------------

def _leaf(lib: Any) -> Any:
    return lib.tensor(np.arange(12, dtype=np.float64).reshape(4, 3) / 7 + 0.1, requires_grad=True)


@pytest.mark.parametrize("view, write", [(lambda b: b[:], lambda b: b[1:2].add_(1.0)),
                                         (lambda b: b, lambda b: b.__setitem__(1, 7.0)),
                                         (lambda b: b[:, 1], lambda b: b.zero_()),
                                         (lambda b: b[1:2].expand(2, 3), lambda b: b.add_(1.0)),
                                         (lambda b: b.T[1:], lambda b: b[-1].fill_(3.0))])
def test_allow_mutation_reads_a_view_as_saved_where_torch_misses_the_write(view: Callable, write: Callable) -> None:
    """A kept difference (documented in allow_mutation_on_saved_tensors' docstring): torch clones a saved tensor on
    mutation only when the write starts where the saved tensor does, so a write through the base or another view
    reaches the values its backward reads (a gradient of other values than the forward's). Ours reads the values as
    saved: the gradient of the program without the write."""
    with mg.autograd.graph.allow_mutation_on_saved_tensors():
        x = _leaf(mg)
        b = x * 1.0
        y = (view(b) ** 3).sum()
        write(b)
        y.backward()
    reference = _leaf(torch)
    (view(reference * 1.0) ** 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), reference.grad.numpy(), rtol=1e-12)


def _changes_a_saved_tensor(clone: bool) -> Callable:
    def function(a: Any) -> Any:
        y = a.exp()
        r = y * y                              # saves y
        changed = (y.clone() if clone else y).mul_(2.0)   # then changes it: a plain run's backward raises
        return r + changed[..., :1]
    return function


def _changes_a_saved_view(clone: bool) -> Callable:
    def function(a: Any) -> Any:
        b = a * 1.0
        r = (b[1:] ** 3).sum(0)                # saves the view b[1:]
        changed = b.clone() if clone else b
        changed[1].zero_()
        return r * changed[0]
    return function


@pytest.fixture(scope="module")
def _torch_checkpoint_loaded() -> None:
    """torch's first non-reentrant checkpoint imports its machinery (about 3 s): once, outside the test's time."""
    import torch.utils.checkpoint as torch_checkpoint

    a = torch.ones(2, requires_grad=True)
    torch_checkpoint.checkpoint(torch.sin, a, use_reentrant=False).sum().backward()


@pytest.mark.usefixtures("_torch_checkpoint_loaded")
@pytest.mark.parametrize("program, torch_agrees", [(_changes_a_saved_tensor, True), (_changes_a_saved_view, False)])
def test_non_reentrant_checkpoint_computes_with_a_saved_tensor_changed_in_place(program: Callable,
                                                                                 torch_agrees: bool) -> None:
    """torch's non-reentrant checkpoint saves the recomputed tensors under its own hooks, so an in-place change
    after the save computes (a plain run, and the reentrant variant, raise the in-place error); ours recomputed
    with a plain graph and raised. Ours now reads each saved tensor as saved: the gradient of the program that
    changes a clone instead. torch's recomputation stops once it has what backward needs, so it reads the saved
    values where the change comes after that point (the first program) and the changed ones where it does not
    (the second: a gradient of other values than the forward's): ours refuses that case (round 22's lead)."""
    import torch.utils.checkpoint as torch_checkpoint

    import minigrad.utils.checkpoint as mg_checkpoint

    def gradient(lib: Any, run: Callable) -> np.ndarray:
        a = _leaf(lib)
        out = run(a)
        (out * lib.tensor(np.arange(out.numel(), dtype=np.float64).reshape(tuple(out.shape)))).sum().backward()
        return a.grad.numpy()

    theirs = gradient(torch, lambda a: torch_checkpoint.checkpoint(program(False), a, use_reentrant=False))
    if torch_agrees:
        ours = gradient(mg, lambda a: mg_checkpoint.checkpoint(program(False), a, use_reentrant=False))
        np.testing.assert_allclose(ours, gradient(torch, program(True)), rtol=1e-12)
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    else:   # torch reads the changed value (not the forward's gradient): refused rather than another answer
        assert not np.allclose(theirs, gradient(torch, program(True)), rtol=1e-12)
        with pytest.raises(RuntimeError, match="checkpoint: the function changed in place"):
            gradient(mg, lambda a: mg_checkpoint.checkpoint(program(False), a, use_reentrant=False))
    for lib, checkpoint in ((mg, mg_checkpoint.checkpoint), (torch, torch_checkpoint.checkpoint)):
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            gradient(lib, lambda a, checkpoint=checkpoint: checkpoint(program(False), a, use_reentrant=True))



@pytest.mark.parametrize("source", ["bool_0d", "bool_1d", "int_0d", "float64"])
@pytest.mark.parametrize("op", ["copy_", "fill_"])
def test_copy_and_fill_save_no_tensor_for_saved_tensor_hooks(source: str, op: str) -> None:
    """torch's CopyBackwards and FillBackward save no tensor, so a dtype-casting hook pair (pack t.double(),
    unpack t.float()) never meets one; ours kept the 0-d bool 'everywhere' mask of the fill, which the pair made
    float32: RuntimeError (unpack_hook returned float32 for a bool)."""
    grads = []
    for lib in (mg, torch):
        values = {"bool_0d": True, "bool_1d": np.array([True, False, True]), "int_0d": 3,
                  "float64": np.array([1.5, -2.0, 0.5])}
        x = lib.tensor(np.array([0.5, -1.5, 2.0], dtype=np.float32), requires_grad=True)
        with lib.autograd.graph.saved_tensors_hooks(lambda t: t.double(), lambda t: t.float()):
            source_value = lib.tensor(values[source])
            if op == "fill_":
                if source_value.ndim:
                    continue
                y = (x * 1.0).fill_(source_value) * x
            else:
                y = (x * 1.0).copy_(source_value) * x
        y.sum().backward()
        grads.append(x.grad.numpy())
    if grads:
        np.testing.assert_array_equal(*grads)


# --- 5. recurrent layers x hooks: the order of the hooks on the output, h_n and c_n --------------------------------

@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("form", ["padded", "packed", "unbatched"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_hooks_on_output_and_final_states_run_in_torchs_order(kind: str, form: str, bidirectional: bool) -> None:
    """torch makes the output (a packed one's data included), then c_n, then h_n, so backward runs h_n's hooks,
    then c_n's, then the output's; ours stacked h_n before c_n and packed the output last."""
    rng = np.random.default_rng(0)
    x_value = rng.standard_normal((3, 2, 2))
    orders = []
    for lib, module in zip((mg, torch), _pair(kind, bidirectional)):
        order: list = []
        x = lib.tensor(x_value[:, 0] if form == "unbatched" else x_value, requires_grad=True)
        pack = mrnn.pack_padded_sequence if lib is mg else torch.nn.utils.rnn.pack_padded_sequence
        output, state = module(pack(x, [3, 2]) if form == "packed" else x)
        output = output.data if form == "packed" else output
        states = state if kind == "LSTM" else (state,)
        for name, tensor in zip(("output", "h_n", "c_n"), (output, *states)):
            tensor.register_hook(lambda g, name=name, order=order: order.append(name))
        sum((t * t).sum() for t in (output, *states)).backward()
        orders.append(order)
    assert orders[0] == orders[1]


def _pair(kind: str, bidirectional: bool) -> tuple:
    theirs = getattr(torch.nn, kind)(2, 3, bidirectional=bidirectional).double()
    ours = getattr(nn, kind)(2, 3, bidirectional=bidirectional, dtype=np.float64)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (2, True)])
def test_batch_first_layer_reads_the_input_transposed_as_torch(kind: str, num_layers: int, bidirectional: bool) -> None:
    """torch's batch_first layer transposes the input to time-major first and the output back last: the output's
    strides are (H·D, B·H·D, 1) and backward runs the output's hooks before h_n's, x's after h0's. Ours stacked
    the steps along axis 1: a contiguous output, made before h_n."""
    theirs = getattr(torch.nn, kind)(2, 3, num_layers, batch_first=True, bidirectional=bidirectional).double()
    ours = getattr(nn, kind)(2, 3, num_layers, batch_first=True, bidirectional=bidirectional, dtype=np.float64)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(2)
    x_value = rng.standard_normal((2, 3, 2))
    states = [rng.standard_normal((num_layers * (1 + bidirectional), 2, 3)) for _ in range(1 + (kind == "LSTM"))]
    results = []
    for lib, module in ((mg, ours), (torch, theirs)):
        order: list = []
        x = lib.tensor(x_value, requires_grad=True)
        h = [lib.tensor(s, requires_grad=True) for s in states]
        output, state = module(x, tuple(h) if kind == "LSTM" else h[0])
        finals = state if kind == "LSTM" else (state,)
        named = [("x", x), ("h0", h[0]), ("output", output), ("h_n", finals[0])]
        for name, tensor in named:
            tensor.register_hook(lambda g, name=name, order=order: order.append(name))
        sum((t * t).sum() for t in (output, *finals)).backward()
        results.append((order, tuple(output.stride()), x.grad.numpy(), h[0].grad.numpy()))
    assert results[0][:2] == results[1][:2]
    for a, b in zip(results[0][2:], results[1][2:]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
