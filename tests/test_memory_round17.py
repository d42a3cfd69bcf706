"""Memory in long training loops: what a backward leaves alive, and reference cycles.

Measured with weak references and the cycle collector switched off (``gc.disable()``): an object that
survives its last reference then is held by a reference cycle, which only the collector frees (a
training loop's graphs would then pile up between collections). PyTorch frees these by reference
counting alone; the tests say where ``torch`` is the peer. No timed assertions, no byte counts.
"""

from __future__ import annotations

import contextlib
import gc
import weakref
from typing import Any, Callable, Iterator

import numpy as np
import pytest

import minigrad as mg
import nn
from minigrad.autograd import engine
from minigrad.autograd.graph import register_multi_grad_hook

F = nn.functional


@contextlib.contextmanager
def cycle_collector_off() -> Iterator[None]:
    """Reference counting only, inside the block."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def graph_nodes(root: mg.Tensor) -> list:
    """Every op node reachable from ``root``."""
    seen: dict = {}
    stack = [root.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen[id(node)] = node
        stack.extend(edge[0] for edge in node.edges if type(edge) is tuple)
    return list(seen.values())


def saved_arrays(nodes: list, keep: Any = ()) -> list:
    """Weak references to the arrays the nodes saved for backward (not those in ``keep``: weights, inputs)."""
    kept = {id(a) for a in keep}
    found: list = []

    def visit(value: Any) -> None:
        if isinstance(value, np.ndarray):
            if id(value) not in kept:
                found.append(weakref.ref(value))
        elif isinstance(value, (tuple, list)):
            for item in value:
                visit(item)
        elif isinstance(value, dict):
            for item in value.values():
                visit(item)

    for node in nodes:
        visit(node.saved)
    return found


# --- cycles fixed in this round ------------------------------------------------------------------------------------

def test_a_prehook_on_a_node_does_not_keep_its_graph_alive(torch: Any) -> None:
    """grad_fn.register_prehook's wrapper held the node (for its error message): node -> hooks -> wrapper -> node."""
    calls = []
    with cycle_collector_off():
        w = mg.randn(3, 3, requires_grad=True)
        y = (w * 2).tanh()
        y.grad_fn.register_prehook(lambda grads: calls.append(grads[0].shape))
        y.sum().backward()
        node = weakref.ref(y.grad_fn)
        del y
        assert node() is None
    assert calls == [(3, 3)]
    t = torch.randn(3, 3, requires_grad=True)
    ty = (t * 2).tanh()
    ty.grad_fn.register_prehook(lambda grads: None)
    ty.sum().backward()
    with cycle_collector_off():
        alive = weakref.ref(ty)
        del ty
        assert alive() is None


def test_a_prehook_on_a_leafs_accumulate_grad_does_not_keep_the_leaf_alive(torch: Any) -> None:
    """AccumulateGrad.register_prehook's wrapper held the accumulator, which holds the leaf the hook lives on."""
    with cycle_collector_off():
        w = mg.randn(3, 3, requires_grad=True)
        y = (w * 2).sum()
        accumulator = y.grad_fn.next_functions[0][0].next_functions[0][0]
        assert isinstance(accumulator, engine.AccumulateGrad)
        accumulator.register_prehook(lambda grads: (grads[0] * 3,))
        y.backward()
        np.testing.assert_allclose(w.grad.numpy(), np.full((3, 3), 6.0))
        leaf = weakref.ref(w)
        del w, y, accumulator
        assert leaf() is None
    tw = torch.randn(3, 3, requires_grad=True)
    ty = (tw * 2).sum()
    ty.grad_fn.next_functions[0][0].next_functions[0][0].register_prehook(lambda grads: (grads[0] * 3,))
    ty.backward()
    assert float(tw.grad[0, 0]) == 6.0


def test_a_bad_accumulate_grad_prehook_still_names_the_leaf() -> None:
    w = mg.randn(2, requires_grad=True)
    y = (w * 1).sum()
    y.grad_fn.next_functions[0][0].next_functions[0][0].register_prehook(lambda grads: 5)
    with pytest.raises(RuntimeError, match=r"on tensor of shape \(2,\) must return None or a tuple"):
        y.backward()


def test_a_multi_grad_hook_does_not_keep_its_tensors_alive(torch: Any) -> None:
    """register_multi_grad_hook kept its tensors; their hooks held it: tensor -> hook -> registration -> tensor."""
    def run(lib: Any, tensor: Callable, rand: Callable) -> tuple:
        seen: list = []
        w = rand(4, 4, requires_grad=True)
        a = tensor(np.arange(12.0, dtype=np.float32).reshape(3, 4) / 10) @ w
        b = a.tanh()
        c = a.sigmoid()   # not on b's path
        register_multi_grad_hook([a, b, c, w], lambda grads: seen.append([g is not None for g in grads]))
        b.sum().backward()
        refs = [weakref.ref(a), weakref.ref(b), weakref.ref(c)]
        del a, b, c
        return seen, [r() is None for r in refs]

    from torch.autograd.graph import register_multi_grad_hook as torch_hook
    with cycle_collector_off():
        ours = run(mg, mg.tensor, mg.randn)
    with cycle_collector_off():
        global register_multi_grad_hook
        mine, register_multi_grad_hook = register_multi_grad_hook, torch_hook
        try:
            theirs = run(torch, lambda a: torch.from_numpy(a), torch.randn)
        finally:
            register_multi_grad_hook = mine
    assert ours == theirs == ([[True, True, False, True]], [True, True, True])


# --- bounded caches ------------------------------------------------------------------------------------------------

def test_signatures_that_run_eagerly_count_towards_the_compile_limit() -> None:
    """A compiled function that reads .item() (so each signature runs eagerly) kept one entry per new shape,
    without bound: a loop over variable-length batches grew memory forever and attempted a capture on every
    new shape. Now eager signatures count towards MAX_PROGRAMS as captured ones do (torch.compile stops
    recompiling after its limit too)."""
    from minigrad.compile import MAX_PROGRAMS  # noqa: PLC0415

    f = mg.compile(lambda x: x * float(x.sum().item()))
    with pytest.warns(mg.CompileWarning) as caught:
        for n in range(1, MAX_PROGRAMS + 40):
            x = mg.arange(n, dtype=mg.float32)
            np.testing.assert_allclose(f(x).numpy(), x.numpy() * x.numpy().sum())
    assert len(f.eager) == MAX_PROGRAMS and not f.programs
    assert sum(f"{MAX_PROGRAMS} input signatures" in str(w.message) for w in caught) == 1


# --- what a backward frees (regression guards: these held in this round's audit) --------------------------------

def _recurrent(kind: str, options: dict) -> Callable[[], tuple]:
    layer = getattr(nn, kind)(3, 4, **options)
    x = mg.randn(5, 2, 3)
    keep = [p.data for p in layer.parameters()] + [x.data]

    def build() -> mg.Tensor:
        out, state = layer(x, lengths=[5, 3])
        h = state[0] if isinstance(state, tuple) else state
        return out.sum() + h.sum()
    if options.get("compile"):
        build().backward()   # the capture; the builds below are replays (one compiled node per direction)
    return build, keep


RECURRENT = [("RNN", {}), ("LSTM", {}), ("GRU", {}), ("LSTM", {"fused": True}), ("GRU", {"fused": True}),
             ("LSTM", {"bidirectional": True, "num_layers": 2}), ("LSTM", {"compile": True}),
             ("GRU", {"compile": True, "bidirectional": True}), ("LSTM", {"proj_size": 2})]


@pytest.mark.parametrize(("kind", "options"), RECURRENT, ids=[f"{k}-{o}" for k, o in RECURRENT])
def test_backward_frees_what_a_recurrent_layer_saved(kind: str, options: dict) -> None:
    """While the loss is still held, backward() (retain_graph=False) lets every saved array go; then dropping
    the loss frees the graph by reference counting alone."""
    build, keep = _recurrent(kind, options)
    with cycle_collector_off():
        loss = build()
        nodes = graph_nodes(loss)
        saved = saved_arrays(nodes, keep)
        node_refs = [weakref.ref(node) for node in nodes]
        assert saved and node_refs
        del nodes
        loss.backward()
        assert [r for r in saved if r() is not None] == []
        del loss
        assert [r() for r in node_refs if r() is not None] == []


def test_backward_of_a_packed_sequence_frees_its_graph() -> None:
    layer = nn.GRU(3, 4)
    x = mg.randn(5, 2, 3)
    with cycle_collector_off():
        packed = nn.utils.rnn.pack_padded_sequence(x, [5, 2])
        out, h = layer(packed)
        padded, _ = nn.utils.rnn.pad_packed_sequence(out)
        loss = padded.sum() + h.sum()
        refs = [weakref.ref(node) for node in graph_nodes(loss)]
        loss.backward()
        del packed, out, h, padded, loss
        assert [r() for r in refs if r() is not None] == []


def _graphs() -> dict[str, Callable[[], mg.Tensor]]:
    """Losses over each kind of graph the audit checked (built fresh on each call)."""
    from minigrad.utils.checkpoint import checkpoint  # noqa: PLC0415

    w = mg.randn(4, 4, requires_grad=True)
    x = mg.randn(3, 4)
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, 8, batch_first=True), 1,
                                    enable_nested_tensor=False)
    convnet = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Flatten(), nn.Linear(12, 2))
    compiled = mg.compile(lambda a: (a @ w).tanh() @ w)
    compiled(x).sum().backward()   # the capture: later calls replay

    def hooked() -> mg.Tensor:
        y = (x @ w).tanh()
        y.register_hook(lambda g: g * 2)
        y.retain_grad()
        z = y.sigmoid()
        z.grad_fn.register_hook(lambda grads_in, grads_out: None)
        z.grad_fn.register_prehook(lambda grads_out: None)
        return (z * z).sum()

    def second_order() -> mg.Tensor:
        a = x.detach().requires_grad_()
        (g,) = mg.autograd.grad((a @ w).tanh().sum(), a, create_graph=True)
        return g.pow(2).sum()

    def scoped() -> mg.Tensor:
        with mg.name_scope("outer"), mg.name_scope("t0"):
            return (x @ w).tanh().sum()

    def anomalous() -> mg.Tensor:
        with mg.autograd.detect_anomaly():
            return (x @ w).tanh().sum()

    def drawn() -> mg.Tensor:
        y = (x @ w).tanh().sum()
        mg.viz.draw(y)
        return y

    return {
        "transformer": lambda: encoder(mg.randn(2, 3, 4)).sum(),
        "convnet": lambda: convnet(mg.randn(2, 2, 4, 4)).sum(),
        "compiled replay": lambda: compiled(x).sum(),
        "checkpoint": lambda: checkpoint(lambda a: (a @ w).tanh(), x, use_reentrant=False).sum(),
        "hooks": hooked, "create_graph": second_order, "name scopes": scoped, "anomaly": anomalous, "viz": drawn,
    }


@pytest.mark.parametrize("name", list(_graphs()))
def test_a_graph_dies_with_its_loss_without_the_cycle_collector(name: str) -> None:
    build = _graphs()[name]
    with warnings_off(), cycle_collector_off():
        loss = build()
        refs = [weakref.ref(node) for node in graph_nodes(loss)]
        if name == "anomaly":
            with mg.autograd.detect_anomaly():
                loss.backward()
        else:
            loss.backward()
        del loss
        assert [r() for r in refs if r() is not None] == []


@contextlib.contextmanager
def warnings_off() -> Iterator[None]:
    import warnings  # noqa: PLC0415

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# --- an error mid-forward or mid-backward changes no global state and frees the graph ---------------------------

def _state() -> tuple:
    from minigrad import recording  # noqa: PLC0415

    state = recording._state.get()
    return (state.grad, state.checks, state.scope, engine._freeing.get(), engine._observing.get(),
            engine.PROFILE_HOOK, engine._PACK, mg.is_anomaly_enabled(), mg.autograd.graph._ACTIVE[0])


def _failures() -> dict[str, Callable[[], Any]]:
    w = mg.randn(4, 4, requires_grad=True)
    x = mg.randn(3, 4)

    def boom(_: Any) -> None:
        raise ValueError("boom")

    def hook_in_backward() -> None:
        y = (x @ w).tanh()
        y.register_hook(boom)
        y.sum().backward()

    def hook_in_grad() -> None:
        y = (x @ w).tanh()
        y.register_hook(boom)
        mg.autograd.grad(y.sum(), w, create_graph=True)

    def shape_error_in_a_scoped_module() -> None:
        with mg.name_scope("outer"):
            nn.Sequential(nn.Linear(4, 3), nn.Linear(5, 2))(x)

    def anomaly_in_backward() -> None:
        with mg.autograd.detect_anomaly():
            ((w - w).pow(0.5)).sum().backward()

    def error_while_compile_captures() -> None:
        def f(a: mg.Tensor) -> mg.Tensor:
            (a @ w).tanh()
            raise KeyboardInterrupt
        mg.compile(f)(x)

    def error_in_a_pack_hook() -> None:
        with mg.autograd.graph.saved_tensors_hooks(boom, lambda a: a):
            (x @ w).tanh()

    def error_under_the_profiler() -> None:
        with mg.autograd.profiler.profile():
            hook_in_backward()

    def error_in_a_module_backward_hook() -> None:
        layer = nn.Linear(4, 3)
        layer.register_full_backward_hook(lambda module, grads_in, grads_out: boom(None))
        layer(x).sum().backward()

    return {name: fn for name, fn in locals().items() if callable(fn) and name not in ("boom", "w", "x")}


@pytest.mark.parametrize("name", list(_failures()))
def test_an_error_leaves_no_state_changed_and_no_graph_alive(name: str) -> None:
    fn = _failures()[name]
    before = _state()
    with warnings_off(), cycle_collector_off():
        nodes_before = sum(isinstance(o, engine.Function) for o in gc.get_objects())
        with pytest.raises((ValueError, RuntimeError, KeyboardInterrupt)):
            fn()
        assert _state() == before
        assert sum(isinstance(o, engine.Function) for o in gc.get_objects()) == nodes_before


# --- long loops keep a bounded number of live objects ---------------------------------------------------------------

def _live() -> tuple[int, int]:
    gc.collect()
    objects = gc.get_objects()
    return sum(isinstance(o, mg.Tensor) for o in objects), sum(isinstance(o, engine.Function) for o in objects)


def test_three_hundred_training_steps_keep_the_same_live_tensors_and_nodes() -> None:
    """A compiled LSTM with truncated BPTT, Adam, two LR schedulers, a GradScaler, gradient clipping, a
    DataLoader, a compiled loss and a detect_anomaly step every tenth iteration: after warm-up, the live
    Tensors and graph nodes (the captures' ops included) are counted again at the end: the same."""
    model = nn.LSTM(3, 5, compile=True)
    head = nn.Linear(5, 3)
    parameters = [*model.parameters(), *head.parameters()]
    optimizer = nn.optim.Adam(parameters, lr=1e-2)
    schedulers = [nn.optim.lr_scheduler.StepLR(optimizer, 50), nn.optim.lr_scheduler.ReduceLROnPlateau(optimizer)]
    scaler = mg.amp.GradScaler("cpu")
    data = mg.utils.data.DataLoader(mg.utils.data.TensorDataset(mg.randn(8, 4, 3)), batch_size=2, shuffle=True)
    loss_of = mg.compile(lambda out, target: F.mse_loss(head(out), target))
    state: list = [None]

    def step(i: int) -> None:
        (batch,) = next(iter(data))
        optimizer.zero_grad()
        with mg.autograd.detect_anomaly() if i % 10 == 0 else contextlib.nullcontext():
            out, hc = model(batch.transpose(0, 1), state[0])
            loss = loss_of(out, mg.zeros(4, 2, 3))
            scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(parameters, 1.0)
        scaler.step(optimizer)
        scaler.update()
        schedulers[0].step()
        schedulers[1].step(loss.item())
        state[0] = tuple(s.detach() for s in hc)

    with warnings_off():
        for i in range(60):
            step(i)
        warm = _live()
        for i in range(60, 300):
            step(i)
        assert _live() == warm
