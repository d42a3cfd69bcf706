"""mg.compile: capture once, replay as one node; values and gradients bit-identical to eager."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import run_interleaved

import minigrad as mg
import nn
from minigrad import codegen


def _grads(params: list) -> list:
    return [None if p.grad is None else p.grad.numpy().copy() for p in params]


def _run(step, cell, x, state, dtype) -> tuple:
    """One step forward and backward; returns the outputs and every gradient."""
    for p in cell.parameters():
        p.grad = None
    for t in [x, *state]:
        t.grad = None
    out = step(x, *state)
    flat = list(out) if isinstance(out, tuple) else [out]
    loss = sum(((o * o).sum() for o in flat), mg.tensor(0.0, dtype=dtype))
    loss.backward()
    return [o.numpy().copy() for o in flat], _grads([*cell.parameters(), x, *state])


CELLS = {
    "rnn_tanh": lambda d: nn.RNNCell(5, 7, dtype=d),
    "rnn_relu": lambda d: nn.RNNCell(5, 7, nonlinearity="relu", dtype=d),
    "lstm": lambda d: nn.LSTMCell(5, 7, dtype=d),
    "lstm_peephole": lambda d: nn.LSTMCell(5, 7, peephole=True, dtype=d),
    "lstm_coupled": lambda d: nn.LSTMCell(5, 7, coupled=True, dtype=d),
    "lstm_peephole_coupled": lambda d: nn.LSTMCell(5, 7, peephole=True, coupled=True, dtype=d),
    "gru": lambda d: nn.GRUCell(5, 7, dtype=d),
}


@pytest.mark.parametrize("dtype", [mg.float64, mg.float32])
@pytest.mark.parametrize("kind", list(CELLS))
def test_cell_steps_replay_bit_identical_to_eager(kind: str, dtype) -> None:
    mg.manual_seed(3)
    cell = CELLS[kind](dtype)
    lstm = kind.startswith("lstm")

    def step(x, *state):
        return cell(x, tuple(state)) if lstm else cell(x, state[0])

    compiled = mg.compile(step)
    rng = np.random.default_rng(0)
    for _ in range(4):   # the first call captures, the others replay
        x = mg.tensor(rng.standard_normal((3, 5)), dtype=dtype, requires_grad=True)
        state = [mg.tensor(rng.standard_normal((3, 7)), dtype=dtype, requires_grad=True) for _ in range(1 + lstm)]
        eager = _run(step, cell, x, state, dtype)
        replay = _run(compiled, cell, x, state, dtype)
        for a, b in zip(eager[0], replay[0]):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(eager[1], replay[1]):
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_array_equal(a, b)
    out = compiled(x, *state)
    assert not compiled.eager, compiled.eager
    node = (out[0] if isinstance(out, tuple) else out)._node
    assert node.name == "compiled"   # one node for the whole step


def test_closure_weights_get_gradients_and_see_in_place_updates() -> None:
    w = mg.tensor([1.0, 2.0], dtype=mg.float64, requires_grad=True)
    f = mg.compile(lambda x: (x * w).sum())
    x = mg.tensor([3.0, 4.0], dtype=mg.float64)
    for _ in range(3):
        w.grad = None
        f(x).backward()
        np.testing.assert_array_equal(w.grad.numpy(), [3.0, 4.0])
        with mg.no_grad():
            w.sub_(w.grad * 0.5)
    assert f(x).item() == pytest.approx(float((x.numpy() * w.numpy()).sum()))


def test_tuple_outputs_passthrough_and_multi_output_ops() -> None:
    def f(x):
        a, b = mg.chunk(x, 2, dim=1)
        return (a.tanh(), (b.sigmoid(), x))

    g = mg.compile(f)
    x = mg.randn(2, 4, dtype=mg.float64, requires_grad=True)
    for _ in range(2):
        a, (b, same) = g(x)
        (a.sum() + (b * 2).sum() + (same * 3).sum()).backward()
    expected = mg.tensor(x.numpy(), requires_grad=True)
    a, (b, same) = f(expected)
    (a.sum() + (b * 2).sum() + (same * 3).sum()).backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * expected.grad.numpy())


def test_data_dependent_shapes_capture_again() -> None:
    f = mg.compile(lambda x: x[x > 0].sum())
    for values in ([1.0, -1.0, 2.0], [1.0, 2.0, 3.0], [-1.0, -2.0, 5.0]):
        x = mg.tensor(values, requires_grad=True)
        f(x).backward()
        np.testing.assert_array_equal(x.grad.numpy(), (np.array(values) > 0).astype(np.float32))


def test_check_mode_names_the_op_where_the_path_diverges() -> None:
    def f(x):
        return x.exp() if x.sum().item() > 0 else x.tanh()

    g = mg.compile(f, check=True)
    g(mg.tensor([1.0]))
    with pytest.raises(mg.CompileError, match=r"op 1 is 'tanh' where the capture has 'exp'"):
        g(mg.tensor([-1.0]))


def test_random_draws_and_masks_replay_in_eagers_order() -> None:
    """rand/randn and comparisons inside a capture are replayed: fresh numbers each call, eager's stream."""
    def f(t):
        noise = mg.randn(4, 3, dtype=mg.float64)
        keep = mg.rand(4, 3, dtype=mg.float64) > 0.5
        return ((t + noise) * keep).tanh().sum()

    g = mg.compile(f)
    x = mg.randn(4, 3, dtype=mg.float64, requires_grad=True)
    results = []
    for fn in (f, g):
        mg.manual_seed(7)
        calls = []
        for _ in range(3):   # the compiled one: capture, then two replays
            x.grad = None
            y = fn(x)
            y.backward()
            calls.append((y.item(), x.grad.numpy().copy()))
        results.append(calls)
    assert g(x)._node.name == "compiled" and not g.eager
    for (ye, ge), (yc, gc) in zip(*results):
        assert ye == yc
        np.testing.assert_array_equal(ge, gc)
    assert results[1][1][0] != results[1][2][0]   # a replay draws new numbers, not the capture's


def test_dropout_inside_a_capture_draws_a_new_mask_each_call() -> None:
    F = nn.functional
    w = mg.randn(6, 6, dtype=mg.float32, requires_grad=True)

    def f(t):
        return F.dropout(t @ w, p=0.4).sum()

    g = mg.compile(f)
    x = mg.randn(5, 6)
    for fn in (f, g):
        mg.manual_seed(3)
        values = [fn(x).item() for _ in range(4)]
        if fn is f:
            expected = values
    assert values == expected and len(set(values)) == 4


def test_index_tensor_arguments_are_replayed_not_frozen() -> None:
    """An index Tensor (token ids, a boolean mask) is an input of the replay, not a constant."""
    table = mg.randn(10, 3, dtype=mg.float64, requires_grad=True)
    f = mg.compile(lambda ids: (table[ids] * 2).sum())
    for ids in ([1, 2, 3], [4, 4, 0], [9, 8, 7]):
        table.grad = None
        f(mg.tensor(ids)).backward()
        expected = np.zeros((10, 3))
        np.add.at(expected, ids, 2.0)
        np.testing.assert_array_equal(table.grad.numpy(), expected)
    assert f(mg.tensor([0, 1, 2]))._node.name == "compiled"


def test_hooks_inside_and_anomaly_mode_run_eagerly() -> None:
    x = mg.randn(4, 3, requires_grad=True)
    seen = []

    def hooked(t):
        y = t.tanh()
        y.register_hook(lambda g: seen.append(1))
        return y.sum()

    h = mg.compile(hooked)
    with pytest.warns(mg.CompileWarning, match="hook"):
        h(x).backward()
    h(x).backward()
    assert len(seen) == 2
    f = mg.compile(lambda t: t.exp().sum())
    f(x), f(x)
    with mg.detect_anomaly():
        assert f(x)._node.name == "sum"


def test_a_weight_that_stops_requiring_grad_is_captured_again() -> None:
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    f = mg.compile(lambda x: (x * w).sum())
    x = mg.tensor([3.0, 4.0], requires_grad=True)
    f(x), f(x)
    w.requires_grad_(False)
    f(x).backward()
    assert w.grad is None
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0])


def test_a_second_backward_through_a_replayed_call_says_retain_graph() -> None:
    f = mg.compile(lambda t: t.exp().sum())
    x = mg.randn(3, requires_grad=True)
    f(x)
    y = f(x)
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


@pytest.mark.parametrize("dtype", [mg.float64, mg.float32])
def test_a_multi_step_loss_with_weights_used_at_every_step_is_bit_identical(dtype) -> None:
    """A whole min-char-rnn chunk loss (25 steps, every weight used at every step) as one replayed node."""
    rng = np.random.default_rng(1)
    vocab, hidden, steps = 11, 8, 25
    params = [mg.tensor(rng.standard_normal(s) * 0.3, dtype=dtype, requires_grad=True)
              for s in ((vocab, hidden), (hidden, hidden), (hidden, vocab), (hidden,), (vocab,))]

    def chunk_loss(xs, targets, h):
        w_xh, w_hh, w_hy, b_h, b_y = params
        loss = None
        for t in range(steps):
            h = (xs[t:t + 1] @ w_xh + h @ w_hh + b_h).tanh()
            step_loss = -((h @ w_hy + b_y).log_softmax(axis=-1) * targets[t:t + 1]).sum()
            loss = step_loss if loss is None else loss + step_loss
        return loss, h

    compiled = mg.compile(chunk_loss)
    eye = np.eye(vocab)
    for _call in range(3):
        ids = rng.integers(0, vocab, steps + 1)
        xs, targets = mg.tensor(eye[ids[:-1]], dtype=dtype), mg.tensor(eye[ids[1:]], dtype=dtype)
        h0 = mg.tensor(rng.standard_normal((1, hidden)), dtype=dtype, requires_grad=True)
        runs = []
        for fn in (chunk_loss, compiled):
            for p in [*params, h0]:
                p.grad = None
            loss, h = fn(xs, targets, h0)
            (loss + (h * h).sum()).backward()
            runs.append([loss.numpy(), h.numpy(), *[p.grad.numpy().copy() for p in [*params, h0]]])
        for a, b in zip(*runs):
            np.testing.assert_array_equal(a, b)
    assert loss._node.name == "compiled" and len(compiled.programs[next(iter(compiled.programs))].names) > 100


LAYER_CASES = {
    "lstm": lambda d: nn.LSTM(4, 5, dtype=d),
    "lstm_peephole_2layers": lambda d: nn.LSTM(4, 5, num_layers=2, peephole=True, dtype=d),
    "lstm_coupled_bidirectional": lambda d: nn.LSTM(4, 5, coupled=True, bidirectional=True, dtype=d),
    "lstm_dropout": lambda d: nn.LSTM(4, 5, num_layers=2, dropout=0.3, dtype=d),
    "gru_bidirectional_2layers": lambda d: nn.GRU(4, 5, num_layers=2, bidirectional=True, dtype=d),
    "rnn_relu_batch_first": lambda d: nn.RNN(4, 5, nonlinearity="relu", batch_first=True, dtype=d),
}


@pytest.mark.parametrize("dtype", [mg.float64, mg.float32])
@pytest.mark.parametrize("lengths", [False, True])
@pytest.mark.parametrize("kind", list(LAYER_CASES))
def test_a_whole_layer_captured_is_bit_identical_to_eager(kind: str, lengths: bool, dtype) -> None:
    """The layer's whole loop over time (every option) as one node: same outputs, states and gradients."""
    mg.manual_seed(5)
    layer = LAYER_CASES[kind](dtype)
    sizes = mg.tensor([6, 3, 5]) if lengths else None

    def run(x):
        output, state = layer(x, lengths=sizes)
        return output, state

    compiled = mg.compile(run)
    rng = np.random.default_rng(2)
    params = list(layer.parameters())
    for call in range(3):
        shape = (3, 6, 4) if layer.batch_first else (6, 3, 4)
        x = mg.tensor(rng.standard_normal(shape), dtype=dtype, requires_grad=True)
        runs = []
        for fn in (run, compiled):
            mg.manual_seed(10 + call)   # dropout draws the same masks in both
            for p in [*params, x]:
                p.grad = None
            output, state = fn(x)
            flat = [output, *(state if isinstance(state, tuple) else (state,))]
            sum(((t * t).sum() for t in flat), mg.tensor(0.0, dtype=dtype)).backward()
            runs.append([t.numpy() for t in flat] + [p.grad.numpy().copy() for p in [*params, x]])
        for a, b in zip(*runs):
            np.testing.assert_array_equal(a, b)
    assert output._node.name == "compiled"
    assert not compiled.eager, compiled.eager


def test_an_in_place_change_of_a_weight_before_backward_is_refused_as_in_eager() -> None:
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    f = mg.compile(lambda x: (x * w).tanh().sum())
    x = mg.tensor([3.0, 4.0], requires_grad=True)
    f(x)
    y = f(x)
    with mg.no_grad():
        w.mul_(2.0)   # an optimizer step between forward and backward
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


@pytest.mark.gpu
def test_a_compiled_layer_on_cuda_equals_eager_and_copies_nothing_between_host_and_device() -> None:
    """Replays on the GPU (or the strict CuPy stand-in): eager's numbers, and no host↔device copy."""
    from minigrad import backend  # noqa: PLC0415 - which CuPy the GPU tests run on

    mg.manual_seed(0)
    layer = nn.LSTM(4, 6, num_layers=2, dropout=0.25, bidirectional=True, peephole=True).to("cuda")
    compiled = mg.compile(lambda x: layer(x))
    x = mg.randn(5, 3, 4, device="cuda", requires_grad=True)
    params = [*layer.parameters(), x]

    def step(fn) -> list:
        mg.manual_seed(1)   # the same dropout masks in every run
        for p in params:
            p.grad = None
        output, (h, c) = fn(x)
        ((output * output).sum() + (h * c).sum()).backward()
        return [output.data, h.data, c.data, *[p.grad.data for p in params]]

    eager = [mg.to_numpy(a) for a in step(lambda t: layer(t))]
    step(compiled)   # captures
    step(compiled)   # checks the capture's frozen values (index arrays) against a fresh run
    stand_in = getattr(backend._cupy, "is_strict_stand_in", False)
    if stand_in:
        from tests.support import strict_cupy  # noqa: PLC0415

        strict_cupy.reset_copies()
    replayed = step(compiled)
    if stand_in:
        assert strict_cupy.copies == {"to_host": 0, "to_device": 0}
    assert replayed[0] is not None and not compiled.eager
    for a, b in zip(eager, replayed):
        np.testing.assert_array_equal(a, mg.to_numpy(b))


def test_reading_a_computed_value_inside_runs_eagerly_with_a_warning_naming_the_op() -> None:
    """Value-dependent control flow (`if y.item() > 0`) is found at capture time: that signature stays eager."""
    def f(x):
        y = x.sum()
        return x.exp() if y.item() > 0 else x.tanh()

    g = mg.compile(f)
    with pytest.warns(mg.CompileWarning, match=r"\.item\(\) of the output of op 0 'sum'"):
        g(mg.tensor([1.0]))
    np.testing.assert_array_equal(g(mg.tensor([-1.0])).numpy(), np.tanh(np.float32(-1.0)))
    scale = mg.compile(lambda x, n: x * float(n.item()))   # an argument's value becomes a Python number
    with pytest.warns(mg.CompileWarning, match=r"\.item\(\) of argument or weight 1"):
        scale(mg.tensor([1.0]), mg.tensor(2.0))
    assert scale(mg.tensor([1.0]), mg.tensor(3.0)).item() == 3.0


def test_retain_graph_backward_twice_through_a_replay_doubles_the_gradients() -> None:
    w = mg.randn(3, 3, dtype=mg.float64, requires_grad=True)
    f = mg.compile(lambda x: (x @ w).tanh().sum())
    x = mg.randn(2, 3, dtype=mg.float64)
    f(x)
    y = f(x)
    y.backward(retain_graph=True)
    once = w.grad.numpy().copy()
    y.backward()
    np.testing.assert_array_equal(w.grad.numpy(), once + once)


@pytest.mark.parametrize("code", [True, False], ids=["code", "loops"])
def test_a_replay_frees_each_ops_saved_arrays_once_its_backward_ran(code: bool,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """As the eager walk frees node by node: a long compiled call does not hold every op's arrays to its end."""
    if not code:
        monkeypatch.setattr(codegen, "REPLAYS_FIRST", 10**9)
    w = mg.randn(3, 3, dtype=mg.float64, requires_grad=True)
    f = mg.compile(lambda x: ((x @ w).tanh() @ w).sigmoid().sum())
    x = mg.randn(2, 3, dtype=mg.float64)
    f(x)
    y = f(x)
    node = y.grad_fn
    saved = node.saved[0]
    assert (node.program.backward_code is not None) == code and any(s is not None for s in saved)
    seen = []
    hook = w.register_hook(lambda g: seen.append([s is None for s in saved]))   # runs after the walk
    y.backward(retain_graph=True)
    assert seen == [[False] * len(saved)]   # retain_graph: the node's list is kept whole for the next one
    y.backward()
    assert seen[1] == [True] * len(saved)
    hook.remove()


def test_threads_replaying_one_capture_at_once_get_their_own_results() -> None:
    """Replays reuse one instance per captured op; a lock keeps concurrent calls apart."""
    import threading  # noqa: PLC0415

    w = mg.randn(8, 8, dtype=mg.float64, requires_grad=True)

    def f(x):
        h = x
        for _ in range(20):
            h = (h @ w).tanh()
        return h.sum()

    g = mg.compile(f)
    g(mg.randn(4, 8, dtype=mg.float64))
    inputs = [mg.randn(4, 8, dtype=mg.float64, requires_grad=True) for _ in range(4)]
    expected = []
    for x in inputs:
        f(x).backward()
        expected.append(x.grad.numpy().copy())
        x.grad = None
    errors: list = []

    def work(x, want) -> None:
        try:
            for _ in range(30):
                x.grad = None
                g(x).backward()
                np.testing.assert_array_equal(x.grad.numpy(), want)
        except Exception as error:  # noqa: BLE001 - reported in the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(x, want)) for x, want in zip(inputs, expected)]
    run_interleaved(threads)
    assert not errors, errors[0]


def test_tensors_in_tuple_and_keyword_arguments_are_inputs_of_one_capture() -> None:
    cell = nn.LSTMCell(3, 4, dtype=mg.float64)
    step = mg.compile(lambda x, state=None: cell(x, state))
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = mg.tensor(rng.standard_normal((2, 3)), requires_grad=True)
        h, c = (mg.tensor(rng.standard_normal((2, 4)), requires_grad=True) for _ in range(2))
        runs = []
        for fn in (lambda a, state: cell(a, state), step):
            for t in (x, h, c, *cell.parameters()):
                t.grad = None
            h1, c1 = fn(x, state=(h, c))
            (h1.sum() + (c1 * c1).sum()).backward()
            runs.append([h1.numpy(), c1.numpy(), *[t.grad.numpy().copy() for t in (x, h, c, *cell.parameters())]])
        for a, b in zip(*runs):
            np.testing.assert_array_equal(a, b)
    assert len(step.programs) == 1 and h1._node.name == "compiled"


def test_too_many_signatures_run_eagerly_with_one_warning() -> None:
    f = mg.compile(lambda x, scale: x * scale)
    x = mg.tensor([1.0, 2.0])
    with pytest.warns(mg.CompileWarning, match="64 input signatures") as caught:
        results = [f(x, float(k)).numpy() for k in range(70)]
    assert len(caught) == 1 and len(f.programs) == 64
    for k, r in enumerate(results):
        np.testing.assert_array_equal(r, [k, 2.0 * k])


def test_outputs_nested_in_dicts_named_tuples_and_lists_with_none_replay_in_their_structure() -> None:
    import collections  # noqa: PLC0415

    pair = collections.namedtuple("pair", "first rest")
    f = mg.compile(lambda x: {"double": x * 2, "none": None, "pair": pair(x + 1, [x - 1, None])})
    x = mg.tensor([1.0, -2.0, 3.0], dtype=mg.float64, requires_grad=True)
    for _ in range(4):   # a capture, its check, then replays
        x.grad = None
        out = f(x)
        assert list(out) == ["double", "none", "pair"] and out["none"] is None and out["pair"].rest[1] is None
        assert type(out["pair"]) is pair and type(out["pair"].rest) is list
        (out["double"].sum() + 3 * out["pair"].first.sum() + out["pair"].rest[0].sum()).backward()
        np.testing.assert_array_equal(out["pair"].rest[0].numpy(), [0.0, -3.0, 2.0])
        np.testing.assert_array_equal(x.grad.numpy(), [6.0, 6.0, 6.0])
    assert len(f.programs) == 1 and next(iter(f.programs.values())).form == "nested"


def test_a_function_returning_a_number_runs_eagerly_with_a_warning() -> None:
    f = mg.compile(lambda x, n: (x * n, n + 1))
    x = mg.tensor([1.0, 2.0])
    with pytest.warns(mg.CompileWarning, match="returns a value of type int"):
        assert f(x, 2)[1] == 3
    assert f(x, 5)[1] == 6 and f(x, 5)[0].numpy().tolist() == [5.0, 10.0]


RANDOM_WEIGHT = mg.ones(3)   # a module global a compiled function reads (the notebook case: rebound later)


def _compiled_over_a_closure(size: int) -> tuple:
    """``mg.compile(t * w)`` with ``w`` a closure variable, and a function that rebinds ``w`` to a new value."""
    w = mg.ones(size)
    compiled = mg.compile(lambda t: t * w)

    def rebind(value: float) -> None:
        nonlocal w
        w = mg.full((size,), value)
    return compiled, rebind


def test_a_rebound_global_or_closure_variable_is_read_anew_not_replayed_stale() -> None:
    global RANDOM_WEIGHT
    f = mg.compile(lambda t: t * RANDOM_WEIGHT)
    x = mg.tensor([1.0, 2.0, 3.0])
    for _ in range(4):
        f(x)
    RANDOM_WEIGHT = mg.tensor([2.0, 2.0, 2.0])
    try:
        assert f(x).numpy().tolist() == [2.0, 4.0, 6.0]
    finally:
        RANDOM_WEIGHT = mg.ones(3)

    g, rebind = _compiled_over_a_closure(3)
    for _ in range(4):
        g(x)
    rebind(-1.0)
    assert g(x).numpy().tolist() == [-1.0, -2.0, -3.0]
    assert len(g.programs) == 1   # captured again in place


def test_a_variable_rebound_on_every_call_runs_eagerly_after_the_recapture_limit() -> None:
    g, rebind = _compiled_over_a_closure(2)
    x = mg.ones(2)
    for _ in range(4):
        g(x)
    with pytest.warns(mg.CompileWarning, match="captured again 8 times because the variable 'w' of its closure"):
        for i in range(12):
            rebind(float(i))
            assert g(x).numpy().tolist() == [float(i)] * 2
    assert g.guarded_out


def test_mg_compiler_is_compiling_and_disable_as_torch_compiler() -> None:
    seen = []

    @mg.compiler.disable
    def log(t: mg.Tensor) -> mg.Tensor:
        seen.append(mg.compiler.is_compiling())
        return t

    f = mg.compile(lambda t: log(t * 2) + 1)
    x = mg.ones(2)
    with pytest.warns(mg.CompileWarning, match="marked mg.compiler.disable"):
        f(x)
    for _ in range(3):   # the signature runs eagerly: the disabled function runs on every call
        assert f(x).numpy().tolist() == [3.0, 3.0]
    assert seen == [True, False, False, False] and not mg.compiler.is_compiling()
