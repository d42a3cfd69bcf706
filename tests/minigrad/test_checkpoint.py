"""Activation checkpointing (``mg.utils.checkpoint``): gradients equal to a plain run's, bit for bit, through
every way of running backward; the graph keeps none of the segment's arrays; PyTorch's behaviour."""

from __future__ import annotations

import gc
import tracemalloc
import warnings
import weakref
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import nn
from minigrad.utils.checkpoint import CheckpointError, checkpoint, checkpoint_sequential, noop_context_fn
from tests.helpers import assert_close


def mlp(dtype: Any = mg.float64, width: int = 8) -> nn.Module:
    mg.manual_seed(0)
    return nn.Sequential(nn.Linear(4, width), nn.Tanh(), nn.Linear(width, width), nn.Sigmoid(),
                         nn.Linear(width, 3)).to(dtype=dtype)


def grads_of(run: Callable[[], mg.Tensor], tensors: list) -> list:
    """The gradients ``run().backward()`` leaves in ``tensors`` (starting from none)."""
    for t in tensors:
        t.grad = None
    run().backward()
    return [t.grad.numpy().copy() for t in tensors]


def assert_identical(got: list, want: list) -> None:
    assert len(got) == len(want)
    for i, (a, b) in enumerate(zip(got, want)):
        assert a.dtype == b.dtype and a.shape == b.shape, f"tensor {i}"
        np.testing.assert_array_equal(a, b, err_msg=f"tensor {i}")


def graph_nodes(*roots: mg.Tensor) -> list:
    """Every op node reachable from ``roots`` (iteratively)."""
    seen: dict = {}
    stack = [r._node for r in roots if r._node is not None]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen[id(node)] = node
        stack.extend(edge[0] for edge in node.edges if type(edge) is tuple)
    return list(seen.values())


def saved_activation_bytes(root: mg.Tensor, leaves: list) -> int:
    """Bytes of the distinct arrays the graph of ``root`` keeps for backward, other than the leaves' own."""
    own = {id(t.data) for t in leaves}
    arrays: dict = {}
    for node in graph_nodes(root):
        stack = [node.saved]
        while stack:
            item = stack.pop()
            if isinstance(item, (tuple, list)):
                stack.extend(item)
            elif isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, np.ndarray) and id(item) not in own:
                arrays[id(item)] = item.nbytes
    return sum(arrays.values())


# --- gradients equal to the plain run ----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [mg.float64, mg.float32])
@pytest.mark.parametrize("use_reentrant", [False, True])
def test_backward_gives_the_plain_runs_gradients_bit_for_bit(dtype: Any, use_reentrant: bool) -> None:
    model = mlp(dtype)
    x = mg.randn(5, 4, dtype=dtype, requires_grad=True)
    tensors = [*model.parameters(), x]
    plain = grads_of(lambda: (model(x) ** 2).sum(), tensors)
    out = checkpoint(model, x, use_reentrant=use_reentrant)
    np.testing.assert_array_equal(out.numpy(), model(x).numpy())
    assert_identical(grads_of(lambda: (checkpoint(model, x, use_reentrant=use_reentrant) ** 2).sum(), tensors),
                     plain)


@pytest.mark.parametrize("use_reentrant", [False, True])   # torch's reentrant variant refuses grad()
def test_autograd_grad_gives_the_gradients_and_changes_no_grad(use_reentrant: bool) -> None:
    model = mlp()
    x = mg.randn(5, 4, dtype=mg.float64, requires_grad=True)
    tensors = [*model.parameters(), x]
    plain = mg.autograd.grad((model(x) ** 2).sum(), tensors)
    got = mg.autograd.grad((checkpoint(model, x, use_reentrant=use_reentrant) ** 2).sum(), tensors)
    assert_identical([g.numpy() for g in got], [g.numpy() for g in plain])
    assert all(t.grad is None for t in tensors)
    # only some of them, a non-leaf among them; and backward(inputs=)
    h = x * 2
    loss = (checkpoint(model, h, use_reentrant=use_reentrant) ** 2).sum()
    gh, gw = mg.autograd.grad(loss, [h, model[0].weight], retain_graph=True)
    h2 = x * 2
    want_h, want_w = mg.autograd.grad((model(h2) ** 2).sum(), [h2, model[0].weight])
    assert_identical([gh.numpy(), gw.numpy()], [want_h.numpy(), want_w.numpy()])
    loss.backward(inputs=[model[2].bias])
    assert model[2].bias.grad is not None and x.grad is None and model[0].weight.grad is None


def test_retain_graph_twice_accumulates_as_the_plain_run_and_a_third_backward_raises() -> None:
    model = mlp()
    x = mg.randn(5, 4, dtype=mg.float64, requires_grad=True)
    tensors = [*model.parameters(), x]

    def twice(loss: mg.Tensor) -> list:
        for t in tensors:
            t.grad = None
        loss.backward(retain_graph=True)
        loss.backward()
        return [t.grad.numpy().copy() for t in tensors]

    plain = twice((model(x) ** 2).sum())
    out = checkpoint(model, x, use_reentrant=False)
    assert_identical(twice((out ** 2).sum()), plain)
    with pytest.raises(RuntimeError, match="second time.*'checkpoint'"):
        (out ** 2).sum().backward()   # its saved arguments were freed, as a plain graph's arrays


def test_non_tensor_arguments_keyword_arguments_and_structured_outputs() -> None:
    mg.manual_seed(1)
    lin = nn.Linear(3, 3).double()
    x = mg.randn(2, 3, dtype=mg.float64, requires_grad=True)
    y = mg.randn(2, 3, dtype=mg.float64, requires_grad=True)
    index = mg.tensor([1, 0])

    def f(a: mg.Tensor, scale: float, pair: list, *, shift: mg.Tensor, mode: str = "x") -> Any:
        assert mode == "sum"
        h = lin(a * scale + pair[0]).tanh()
        return {"h": h, "both": ((a * shift).tanh(), index, "label"), "same": h, "mask": (h > 0)}

    def loss_of(out: Any) -> mg.Tensor:
        return (out["h"] ** 2).sum() + out["both"][0].sum() + (out["same"] * 3).sum()

    tensors = [*lin.parameters(), x, y]
    plain = grads_of(lambda: loss_of(f(x, 0.5, [y, 7], shift=y * 1.5, mode="sum")), tensors)
    out = checkpoint(f, x, 0.5, [y, 7], shift=y * 1.5, mode="sum", use_reentrant=False)
    assert out["both"][1] is index and out["both"][2] == "label" and out["same"] is out["h"]
    assert not out["mask"].requires_grad and out["h"]._node.name == "checkpoint"
    got = grads_of(lambda: loss_of(checkpoint(f, x, 0.5, [y, 7], shift=y * 1.5, mode="sum", use_reentrant=False)),
                   tensors)
    assert_identical(got, plain)


def test_outputs_that_are_arguments_or_need_no_grad_are_returned_as_they_are() -> None:
    x = mg.randn(3, requires_grad=True)
    assert checkpoint(lambda a: a, x, use_reentrant=False) is x
    out = checkpoint(lambda a: a.detach() * 2, x, use_reentrant=False)
    assert not out.requires_grad and out._node is None
    a, b = checkpoint(lambda t: (t, t.sin()), x, use_reentrant=False)
    assert a is x and b._node.name == "checkpoint"


def test_inputs_that_need_no_grad_non_reentrant_gives_the_parameters_their_gradients() -> None:
    model = mlp()
    x = mg.randn(5, 4, dtype=mg.float64)
    params = list(model.parameters())
    plain = grads_of(lambda: model(x).sum(), params)
    assert_identical(grads_of(lambda: checkpoint(model, x, use_reentrant=False).sum(), params), plain)


def test_inputs_that_need_no_grad_reentrant_warns_and_gives_none_as_torch() -> None:
    model = mlp()
    x = mg.randn(5, 4, dtype=mg.float64)
    with pytest.warns(UserWarning, match="Gradients will be None"):
        out = checkpoint(model, x, use_reentrant=True)
    assert not out.requires_grad
    np.testing.assert_array_equal(out.numpy(), model(x).numpy())


def test_nested_checkpoints_and_a_closure_tensor_computed_outside() -> None:
    mg.manual_seed(2)
    enc, dec, head = nn.Linear(4, 6).double(), nn.Linear(6, 6).double(), nn.Linear(6, 2).double()
    x = mg.randn(3, 4, dtype=mg.float64, requires_grad=True)
    tensors = [*enc.parameters(), *dec.parameters(), *head.parameters(), x]

    def model(ck: bool) -> mg.Tensor:
        memory = enc(x).tanh()                          # read by the segments from their closure

        def inner(h: mg.Tensor) -> mg.Tensor:
            return (dec(h) + memory).tanh()

        def outer(h: mg.Tensor) -> mg.Tensor:
            h = checkpoint(inner, h, use_reentrant=False) if ck else inner(h)
            return head(h * memory)

        out = checkpoint(outer, memory * 2, use_reentrant=False) if ck else outer(memory * 2)
        return (out ** 2).sum() + memory.sum()          # memory also used outside the segments

    # memory's gradient is summed over its uses in another order (the uses inside a segment first), so
    # equal to rounding; the parameters used only inside the segments get the plain run's bits
    got, plain = grads_of(lambda: model(True), tensors), grads_of(lambda: model(False), tensors)
    for a, b in zip(got, plain):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    assert_identical(got[2:6], plain[2:6])


def test_hooks_on_parameters_and_inputs_run_once_on_the_summed_gradient() -> None:
    model = mlp()
    x = mg.randn(5, 4, dtype=mg.float64, requires_grad=True)
    seen: list = []
    handles = [model[0].weight.register_hook(lambda g: seen.append(("w", g.numpy().copy()))),
               x.register_hook(lambda g: seen.append(("x", g.numpy().copy())))]
    model(x).sum().backward()
    plain, seen[:] = list(seen), []
    checkpoint(model, x, use_reentrant=False).sum().backward()
    assert [k for k, _ in seen] == [k for k, _ in plain]
    assert_identical([g for _, g in seen], [g for _, g in plain])
    for h in handles:
        h.remove()


def test_gradcheck_of_a_checkpointed_function() -> None:
    mg.manual_seed(3)
    w = mg.randn(3, 3, dtype=mg.float64, requires_grad=True)

    def f(x: mg.Tensor, b: mg.Tensor) -> mg.Tensor:
        return checkpoint(lambda a, c: ((a @ w).tanh() * c).sigmoid(), x, b, use_reentrant=False)

    x = mg.randn(2, 3, dtype=mg.float64, requires_grad=True)
    b = mg.randn(3, dtype=mg.float64, requires_grad=True)
    assert mg.gradcheck(f, [x, b])
    assert mg.gradcheck(lambda a: f(a, b), [w])   # through the weight read from the closure


# --- random numbers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("use_reentrant", [False, True])
def test_dropout_repeats_its_mask_and_the_stream_continues_as_without_checkpointing(use_reentrant: bool) -> None:
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.5), nn.Tanh(), nn.Linear(16, 2)).double()
    x = mg.randn(6, 4, dtype=mg.float64, requires_grad=True)
    tensors = [*model.parameters(), x]

    def run(ck: bool) -> tuple:
        mg.manual_seed(42)
        grads = grads_of(lambda: (checkpoint(model, x, use_reentrant=use_reentrant) if ck else model(x)).sum(),
                         tensors)
        return grads, mg.rand(4).numpy()   # where the stream is after backward

    plain_grads, plain_next = run(False)
    grads, after = run(True)
    assert_identical(grads, plain_grads)
    np.testing.assert_array_equal(after, plain_next)


def test_without_preserve_rng_state_the_recomputation_draws_on() -> None:
    x = mg.ones(1000, dtype=mg.float64, requires_grad=True)
    mg.manual_seed(7)
    out = checkpoint(lambda a: nn.functional.dropout(a, 0.5), x, use_reentrant=False, preserve_rng_state=False)
    out.sum().backward()
    forward_mask = out.numpy() != 0
    assert not np.array_equal(x.grad.numpy() != 0, forward_mask)   # another mask: torch's documented behaviour


# --- memory -----------------------------------------------------------------------------------------------


def test_the_graph_keeps_no_array_of_the_segment() -> None:
    model = mlp(width=64)
    x = mg.randn(32, 4, dtype=mg.float64, requires_grad=True)
    leaves = [*model.parameters(), x]
    plain = model(x).sum()
    kept = checkpoint(model, x, use_reentrant=False).sum()
    assert saved_activation_bytes(plain, leaves) >= 4 * 32 * 64 * 8    # tanh, sigmoid outputs and matmul inputs
    assert saved_activation_bytes(kept, leaves) == 0                   # only the argument and the weights
    names = sorted(n.name for n in graph_nodes(kept))
    assert names.count("checkpoint") == 1 and len(names) <= 2          # the segment is one node (and the sum)
    assert len(graph_nodes(plain)) > 8


def test_intermediate_arrays_are_freed_after_the_forward() -> None:
    model = mlp(width=16)
    x = mg.randn(8, 4, dtype=mg.float64, requires_grad=True)
    refs: list = []

    def segment(a: mg.Tensor) -> mg.Tensor:
        h = model[1](model[0](a))
        refs.append(weakref.ref(h.data))   # the tanh output, which tanh saves for its gradient
        return model[4](model[3](model[2](h)))

    plain = segment(x).sum()
    gc.collect()
    assert refs[0]() is not None
    kept = checkpoint(segment, x, use_reentrant=False).sum()
    gc.collect()
    assert refs[1]() is None                 # dropped with the segment's graph
    kept.backward()                          # recomputed (a third array), freed again after the backward
    gc.collect()
    assert refs[2]() is None and plain is not None


def test_memory_held_between_forward_and_backward_is_much_smaller() -> None:
    model = nn.Sequential(*[nn.Sequential(nn.Linear(128, 128), nn.Tanh()) for _ in range(6)]).double()
    x = mg.randn(256, 128, dtype=mg.float64, requires_grad=True)

    def held(run: Callable[[], mg.Tensor]) -> tuple:
        """What the graph made by ``run`` keeps allocated after it returns, in (256, 128) float64 arrays."""
        gc.collect()
        tracemalloc.start()
        try:
            loss = run()
            gc.collect()
            current, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return current / (256 * 128 * 8), loss

    plain, _ = held(lambda: model(x).sum())
    whole, loss = held(lambda: checkpoint(model, x, use_reentrant=False).sum())
    halves, _ = held(lambda: checkpoint_sequential(model, 2, x, use_reentrant=False).sum())
    assert plain > 5.5       # each block's tanh output (which is also the next matmul's saved input)
    assert whole < 0.1       # nothing: the argument x existed before
    assert halves < 4.5      # the first half's output, and the three arrays of the second, plain half
    loss.backward()
    assert model[0][0].weight.grad is not None


# --- checkpoint_sequential --------------------------------------------------------------------------------


@pytest.mark.parametrize("segments", [1, 2, 3, 5])
def test_checkpoint_sequential_gives_the_plain_runs_gradients(segments: int) -> None:
    model = mlp()
    x = mg.randn(5, 4, dtype=mg.float64, requires_grad=True)
    tensors = [*model.parameters(), x]
    plain = grads_of(lambda: model(x).sum(), tensors)
    for functions in (model, list(model)):
        out = checkpoint_sequential(functions, segments, x, use_reentrant=False)
        np.testing.assert_array_equal(out.numpy(), model(x).numpy())
        got = grads_of(lambda f=functions: checkpoint_sequential(f, segments, x, use_reentrant=False).sum(), tensors)
        assert_identical(got, plain)
    kinds = [n.name for n in graph_nodes(checkpoint_sequential(model, segments, x, use_reentrant=False))]
    assert kinds.count("checkpoint") == segments - 1      # the last segment runs normally


def test_checkpoint_sequential_runs_a_repeated_module_each_time() -> None:
    lin = nn.Linear(3, 3).double()
    x = mg.randn(2, 3, dtype=mg.float64)
    out = checkpoint_sequential(nn.Sequential(lin, lin), 2, x, use_reentrant=False)
    np.testing.assert_array_equal(out.numpy(), lin(lin(x)).numpy())


def test_checkpoint_sequential_arguments() -> None:
    model = mlp()
    x = mg.randn(5, 4, dtype=mg.float64, requires_grad=True)
    with pytest.warns(UserWarning, match="checkpoint_sequential: the use_reentrant parameter should be passed"):
        checkpoint_sequential(model, 2, x)
    with pytest.raises(ValueError, match="unexpected keyword arguments: foo"):
        checkpoint_sequential(model, 2, x, use_reentrant=False, foo=1)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="segments must be a positive int"):
            checkpoint_sequential(model, bad, x, use_reentrant=False)
    with pytest.raises(ValueError, match="6 segments of 5 functions"):
        checkpoint_sequential(model, 6, x, use_reentrant=False)
    with pytest.raises(TypeError, match="nn.Sequential or a list"):
        checkpoint_sequential(model[0], 1, x, use_reentrant=False)


# --- recurrent layers -------------------------------------------------------------------------------------


def test_a_checkpointed_lstm_gives_the_plain_runs_gradients() -> None:
    mg.manual_seed(4)
    lstm = nn.LSTM(3, 5, num_layers=2, dropout=0.25)
    head = nn.Linear(5, 1)
    x = mg.randn(7, 2, 3, requires_grad=True)
    tensors = [*lstm.parameters(), *head.parameters(), x]

    def run(ck: bool) -> tuple:
        mg.manual_seed(9)

        def body(inp: mg.Tensor) -> tuple:
            output, (h, c) = lstm(inp)
            return head(output).tanh(), (h, c)

        def loss() -> mg.Tensor:
            y, (h, c) = checkpoint(body, x, use_reentrant=False) if ck else body(x)
            return y.sum() + (h ** 2).sum() + c.mean()

        return grads_of(loss, tensors), mg.rand(2).numpy()

    plain, plain_next = run(False)
    got, after = run(True)
    assert_identical(got, plain)
    np.testing.assert_array_equal(after, plain_next)


# --- mg.compile, anomaly mode, no_grad ------------------------------------------------------------------


def test_inside_mg_compile_the_call_runs_eagerly_with_a_warning() -> None:
    mg.manual_seed(5)
    head = nn.Linear(5, 2).double()
    f = mg.compile(lambda t: checkpoint(lambda z: head(z).tanh(), t, use_reentrant=False) * 2)
    z = mg.randn(4, 5, dtype=mg.float64, requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = [f(z) for _ in range(3)]
    assert any("checkpoint" in str(w.message) and "eagerly" in str(w.message) for w in caught)
    tensors = [*head.parameters(), z]
    plain = grads_of(lambda: (head(z).tanh() * 2).sum(), tensors)
    for r in results:
        np.testing.assert_array_equal(r.numpy(), (head(z).tanh() * 2).numpy())
    assert_identical(grads_of(lambda: f(z).sum(), tensors), plain)


def test_under_no_grad_it_is_a_plain_call() -> None:
    model = mlp()
    x = mg.randn(5, 4, dtype=mg.float64, requires_grad=True)
    with mg.no_grad():
        out = checkpoint(model, x, use_reentrant=False)
    assert not out.requires_grad
    np.testing.assert_array_equal(out.numpy(), model(x).numpy())


def test_the_recomputed_ops_keep_their_scopes_and_anomaly_mode_checks_them() -> None:
    lin = nn.Linear(2, 2).double()
    x = mg.tensor([[1.0, -1.0]], dtype=mg.float64, requires_grad=True)
    recorded: list = []

    def segment(a: mg.Tensor) -> mg.Tensor:
        h = lin(a)
        recorded.append(h._node)
        return mg.sqrt(h * 0.0 - 1.0 + 1.0).sum() + h.sum()   # sqrt(0): an infinite gradient in backward

    with mg.name_scope("block"):
        out = checkpoint(segment, x, use_reentrant=False)
    assert out._node.scope == "block" and recorded[0].scope == "block/linear"
    with mg.detect_anomaly(), pytest.raises(mg.AnomalyError, match="sqrt"), np.errstate(divide="ignore"):
        out.backward()
    assert recorded[1].scope == "block/linear"   # the recomputed op: as the forward's, without checkpoint's scope


# --- errors -----------------------------------------------------------------------------------------------


def test_use_reentrant_left_out_warns_as_torch_2_13_and_means_reentrant() -> None:
    model = mlp()
    x = mg.randn(5, 4, dtype=mg.float64, requires_grad=True)
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
        out = checkpoint(model, x)
    assert out.requires_grad
    with pytest.warns(UserWarning) as caught:
        checkpoint(model, x.detach())   # reentrant: no tensor argument requires grad
    assert any("Gradients will be None" in str(w.message) for w in caught)
    with pytest.raises(TypeError, match="use_reentrant"):
        checkpoint(model, x, use_reentrant="no")


def test_options_torch_refuses_or_we_do_not_implement() -> None:
    model = mlp()
    x = mg.randn(5, 4, dtype=mg.float64, requires_grad=True)
    with pytest.raises(ValueError, match="unexpected keyword arguments: scale"):
        checkpoint(lambda a, scale=1: model(a) * scale, x, use_reentrant=True, scale=2)
    with pytest.raises(ValueError, match="context_fn` or `debug`"):
        checkpoint(model, x, use_reentrant=True, debug=True)
    with pytest.raises(ValueError, match="context_fn` or `debug`"):
        checkpoint(model, x, use_reentrant=True, context_fn=lambda: (None, None))
    with pytest.raises(ValueError, match="determinism_check should be one of"):
        checkpoint(model, x, use_reentrant=False, determinism_check="strict")
    checkpoint(model, x, use_reentrant=True, determinism_check="strict")   # ignored by the reentrant variant
    with pytest.raises(TypeError, match="two context managers"):
        checkpoint(model, x, use_reentrant=False, context_fn=lambda: None)
    with pytest.raises(TypeError, match="must be callable"):
        checkpoint(3, x, use_reentrant=False)
    out = checkpoint(model, x, use_reentrant=False, context_fn=noop_context_fn, determinism_check="none",
                     debug=True, early_stop=False)
    out.sum().backward()
    assert x.grad is not None


def test_context_fn_runs_the_forward_and_the_recomputation_in_its_two_contexts() -> None:
    log: list = []

    class Mark:
        def __init__(self, name: str) -> None:
            self.name = name

        def __enter__(self) -> None:
            log.append((self.name, mg.is_grad_enabled()))

        def __exit__(self, *exc: object) -> None:
            return None

    x = mg.randn(3, requires_grad=True)
    out = checkpoint(lambda a: a.exp(), x, use_reentrant=False, context_fn=lambda: (Mark("forward"), Mark("again")))
    out.sum().backward()
    assert log == [("forward", True), ("again", True)]
    np.testing.assert_allclose(x.grad.numpy(), np.exp(x.numpy()), rtol=1e-6)


def test_a_recomputation_that_differs_raises_a_checkpoint_error() -> None:
    x = mg.randn(4, dtype=mg.float64, requires_grad=True)
    calls = [0]

    def shape_changes(a: mg.Tensor) -> mg.Tensor:
        calls[0] += 1
        return a[: 4 - calls[0]].exp()

    out = checkpoint(shape_changes, x, use_reentrant=False)
    with pytest.raises(CheckpointError, match=r"output 0 was float64\(3,\).*\(2,\)"):
        out.sum().backward()

    def makes_a_leaf(a: mg.Tensor) -> mg.Tensor:
        return a * mg.ones(4, dtype=mg.float64, requires_grad=True)

    out = checkpoint(makes_a_leaf, x, use_reentrant=False, debug=True)
    with pytest.raises(CheckpointError, match=r"(?s)did not read.*forward ops.*mul"):
        out.sum().backward()


def test_in_place_changes_of_the_arguments_are_refused() -> None:
    x = mg.randn(3, dtype=mg.float64, requires_grad=True)
    h = x * 1.0

    def changes_its_argument(a: mg.Tensor) -> mg.Tensor:
        a.mul_(2)
        return a.exp()

    with pytest.raises(RuntimeError, match="changed tensor argument 0 .* in place"):
        checkpoint(changes_its_argument, h, use_reentrant=False)
    h = x * 1.0
    out = checkpoint(lambda a: a.exp(), h, use_reentrant=False)
    h.add_(1.0)   # after the forward: the recomputation would read other values
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*'checkpoint'"):
        out.sum().backward()


# --- against PyTorch --------------------------------------------------------------------------------------


def torch_twin(torch: Any, model: nn.Module) -> Any:
    layers = []
    for m in model:
        if isinstance(m, nn.Linear):
            t = torch.nn.Linear(m.in_features, m.out_features, dtype=torch.float64)
            t.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in m.state_dict().items()})
            layers.append(t)
        else:
            layers.append(getattr(torch.nn, type(m).__name__)())
    return torch.nn.Sequential(*layers)


@pytest.mark.parametrize("use_reentrant", [False, True])
def test_values_and_gradients_equal_torchs_checkpoint(torch: Any, use_reentrant: bool) -> None:
    from torch.utils.checkpoint import checkpoint as torch_checkpoint
    from torch.utils.checkpoint import checkpoint_sequential as torch_sequential

    model = mlp()
    twin = torch_twin(torch, model)
    x = mg.randn(5, 4, dtype=mg.float64, requires_grad=True)
    tx = torch.from_numpy(x.numpy().copy()).requires_grad_()
    out = checkpoint(lambda a, s: model(a) * s, x, 1.5, use_reentrant=use_reentrant)
    t_out = torch_checkpoint(lambda a, s: twin(a) * s, tx, 1.5, use_reentrant=use_reentrant)
    assert_close(out, t_out, what="forward")
    (out ** 2).sum().backward()
    (t_out ** 2).sum().backward()
    for p, tp in zip([*model.parameters(), x], [*twin.parameters(), tx]):
        assert_close(p.grad, tp.grad, what="gradient")
    seq = checkpoint_sequential(model, 3, x, use_reentrant=use_reentrant)
    t_seq = torch_sequential(twin, 3, tx, use_reentrant=use_reentrant)
    assert_close(seq, t_seq, what="checkpoint_sequential")


def test_warnings_and_errors_match_torchs(torch: Any) -> None:
    from torch.utils.checkpoint import checkpoint as torch_checkpoint

    model = mlp()
    twin = torch_twin(torch, model)
    for fn, inp in ((checkpoint, mg.randn(2, 4, dtype=mg.float64)), (torch_checkpoint, torch.randn(2, 4).double())):
        net = model if fn is checkpoint else twin
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = fn(net, inp)
        assert len(caught) == 2 and all(w.category is UserWarning for w in caught)
        assert "use_reentrant" in str(caught[0].message) and "Gradients will be None" in str(caught[1].message)
        assert not out.requires_grad
        with pytest.raises(ValueError, match="(?i)unexpected keyword arguments"):
            fn(lambda a, k=1, m=net: m(a), inp, use_reentrant=True, k=2)
        out = fn(net, inp, use_reentrant=False)   # non-reentrant: the parameters get their gradients
        assert out.requires_grad


# --- on a GPU ---------------------------------------------------------------------------------------------


@pytest.mark.gpu
def test_on_a_gpu_the_recomputation_repeats_the_forwards_dropout() -> None:
    w = mg.tensor(np.full(512, 3.0), device="cuda", requires_grad=True)
    x = mg.tensor(np.linspace(1.0, 2.0, 512), device="cuda", requires_grad=True)

    def run(backward: bool) -> tuple:
        mg.manual_seed(3)
        w.grad = x.grad = None
        out = checkpoint(lambda a: nn.functional.dropout(a * w, 0.5), x, use_reentrant=False)
        if backward:
            out.sum().backward()
        return out, mg.rand(4, device="cuda").numpy()

    out, after = run(True)
    kept = out.numpy() != 0
    assert 0 < kept.sum() < 512 and out.device == x.device
    np.testing.assert_allclose(x.grad.numpy(), np.where(kept, 2 * 3.0, 0.0))   # the forward's mask, scaled by 1/(1-p)
    np.testing.assert_allclose(w.grad.numpy(), np.where(kept, 2 * x.numpy(), 0.0))
    _, without_backward = run(False)
    np.testing.assert_array_equal(after, without_backward)   # the GPU's stream is where the forward left it
