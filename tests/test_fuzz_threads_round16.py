"""Round 16 concurrency fuzzing: the round's new code run from 4-8 threads at once with forced switching
(``sys.setswitchinterval(1e-6)``), each thread's results compared bit for bit with the same work run alone:
mg.compile guards (defaults, partials, class attributes, strides, nested compiled functions, hooks and
retain_grad on outputs a replay reads, autograd.grad of them), float16 recurrent layers, viz's gradient norms,
Module._apply / to(), ModuleDict's live views and the in-place rules. The offline harness is /tmp/h3/stress*.py.

The one race found is forced with events: another thread rebinding a variable a capture reads while the capture
ran made mg.compile run the signature eagerly from then on with a misleading warning ('took a different path',
'a Python side effect'), or raise CompileError with check=True / fullgraph=True.
"""

from __future__ import annotations

import functools
import sys
import threading
import warnings
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import nn
from tests.helpers import in_threads

WAIT = 20.0


def _switching(*targets: Callable[[], Any]) -> list:
    """``in_threads`` with threads switched as often as possible and started together (a barrier)."""
    start = threading.Barrier(len(targets))

    def started(target: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            start.wait(WAIT)
            return target()
        return run

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        return in_threads(*map(started, targets))
    finally:
        sys.setswitchinterval(interval)


def _same(a: Any, b: Any) -> bool:
    """Bit for bit (dtype and shape too), through lists."""
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    return a == b


def _alone_then_together(jobs: list[Callable[[], Callable[[], Any]]]) -> None:
    """Each ``job()`` makes a fresh piece of work; run each alone, then all in threads: the same results."""
    alone = [job()() for job in jobs]
    together = _switching(*[job() for job in jobs])
    for k, (a, b) in enumerate(zip(alone, together)):
        assert _same(a, b), f"thread {k} differs from its lone run"


# --- a variable a capture reads, rebound by another thread while the capture runs ----------------------------------

SCALE = 2.0


class _Config:
    scale = 2.0


def _global_scaled(x: mg.Tensor) -> mg.Tensor:
    return x.exp() * SCALE


def _default_scaled(x: mg.Tensor, scale: float = 2.0) -> mg.Tensor:
    return x.exp() * scale


def _class_scaled(x: mg.Tensor) -> mg.Tensor:
    return x.exp() * _Config.scale


def _partial_scaled(x: mg.Tensor, scale: float) -> mg.Tensor:
    return x.exp() * scale


_PARTIAL = functools.partial(_partial_scaled, scale=2.0)


def _set_global(value: float) -> None:
    global SCALE
    SCALE = value


_CHANGES = {
    "global": (_global_scaled, _set_global),
    "default": (_default_scaled, lambda v: setattr(_default_scaled, "__defaults__", (v,))),
    "class attribute": (_class_scaled, lambda v: setattr(_Config, "scale", v)),
    "partial keyword": (_PARTIAL, lambda v: _PARTIAL.keywords.__setitem__("scale", v)),
}


@pytest.mark.parametrize("options", [{}, {"check": True}, {"fullgraph": True}])
@pytest.mark.parametrize("what", list(_CHANGES))
def test_a_value_rebound_by_another_thread_during_a_capture_is_not_taken_for_fns(what: str, options: dict,
                                                                                monkeypatch: Any) -> None:
    # was: the capture held the guards read before fn ran (2.0) and the value fn read (3.0); the next call's check
    # saw another constant and ran the signature eagerly for good ('took a different path', or for a class
    # attribute 'a Python side effect'), or raised CompileError with check=True / fullgraph=True
    fn, change = _CHANGES[what]
    inside, done = threading.Event(), threading.Event()
    exp = mg.Tensor.exp

    def pausing_exp(self: mg.Tensor) -> mg.Tensor:   # fn pauses in its first op, after its guards were read
        if threading.current_thread().name == "A" and not done.is_set():
            inside.set()
            assert done.wait(WAIT)
        return exp(self)

    monkeypatch.setattr(mg.Tensor, "exp", pausing_exp)
    compiled = mg.compile(fn, **options)
    x = mg.arange(3.0)

    def b() -> None:
        try:
            assert inside.wait(WAIT)
            change(3.0)
        finally:
            done.set()

    results: list = []
    thread_a = threading.Thread(target=lambda: results.append(compiled(x).numpy()), name="A", daemon=True)
    thread_b = threading.Thread(target=b, daemon=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")   # no CompileWarning
            thread_a.start()
            thread_b.start()
            thread_a.join(60)
            thread_b.join(60)
            assert not thread_a.is_alive() and not thread_b.is_alive(), "a thread hung"
            read = 2.0 if what in ("default", "partial keyword") else 3.0   # bound at the call, or read after
            np.testing.assert_array_equal(results[0], (x.exp() * read).numpy())
            change(2.0)
            for _ in range(4):   # capture, check, replays: each eager's value, no warning, no CompileError
                np.testing.assert_array_equal(compiled(x).numpy(), fn(x).numpy())
        assert compiled.programs and not compiled.eager
    finally:
        change(2.0)


# --- free-running: each feature from several threads at once, compared with lone runs -----------------------------

def _step(x: mg.Tensor, w: mg.Tensor, scale: float = 2.0) -> tuple:
    return ((x @ w).tanh() * scale).sum(), x.exp()


def test_one_compiled_function_called_with_other_signatures_per_thread() -> None:
    compiled = mg.compile(_step)   # shared: dtypes, shapes, strides (a transposed input), keyword arguments

    def job(k: int) -> Callable[[], list]:
        def run() -> list:
            out: list = []
            rng = np.random.default_rng(k)
            dtype = (mg.float32, mg.float64)[k % 2]
            for _ in range(4):
                x = mg.tensor(rng.standard_normal((3 + k % 3, 4)), dtype=dtype)
                if k % 4 == 3:
                    x = mg.tensor(rng.standard_normal((4, 3 + k % 3)), dtype=dtype).t()
                w = mg.full((4, 2), 0.1 * (k + 1), dtype=dtype, requires_grad=True)
                loss, e = compiled(x, w, scale=3.0) if k % 3 == 0 else compiled(x, w)
                loss.backward()
                out += [loss.detach().numpy(), e.numpy(), w.grad.numpy()]
            return out
        return run

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _alone_then_together([functools.partial(job, k) for k in range(6)])
    assert not compiled.eager


def test_a_default_and_a_partial_changed_by_one_thread_while_others_replay() -> None:
    # every replay is eager's with the old or the new value, never a mix or a stale one after the change
    def scaled(x: mg.Tensor, scale: float = 2.0) -> mg.Tensor:
        return x * scale

    partial = functools.partial(lambda x, s, w: x * s + w, s=2.0, w=mg.ones(3))
    compiled, compiled_partial = mg.compile(scaled), mg.compile(partial)
    x = mg.arange(3.0)
    allowed = [{(x * s).numpy().tobytes() for s in (2.0, 3.0)}, {(x * s + 1).numpy().tobytes() for s in (2.0, 3.0)}]

    def change() -> None:
        for i in range(60):
            scaled.__defaults__ = (2.0 + i % 2,)
            partial.keywords["s"] = 2.0 + i % 2

    def replay(which: int) -> int:
        fn = (compiled, compiled_partial)[which]
        return sum(fn(x).numpy().tobytes() not in allowed[which] for _ in range(60))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # past RECAPTURE_LIMIT the functions run eagerly, with a warning
        wrong = _switching(change, lambda: replay(0), lambda: replay(1), lambda: replay(0), lambda: replay(1))
    assert wrong[1:] == [0, 0, 0, 0]
    scaled.__defaults__ = (3.0,)
    partial.keywords["s"] = 3.0
    np.testing.assert_array_equal(compiled(x).numpy(), (x * 3.0).numpy())
    np.testing.assert_array_equal(compiled_partial(x).numpy(), (x * 3.0 + 1).numpy())


def _loss_and_logits(x: mg.Tensor, w: mg.Tensor) -> tuple:
    logits = x @ w
    return (logits.tanh() ** 2).sum(), logits


_INNER = mg.compile(lambda x, w: (x @ w).sigmoid())


def _outer(x: mg.Tensor, w: mg.Tensor) -> tuple:
    logits = x @ w
    return _INNER(x, w).sum() * 2.0 + (logits ** 2).sum(), logits


@pytest.mark.parametrize("fn", [_loss_and_logits, _outer], ids=["outputs read inside", "nested compiled"])
def test_grads_hooks_and_retain_grad_on_outputs_a_shared_replay_reads(fn: Callable) -> None:
    compiled = mg.compile(fn)
    weights = np.random.default_rng(99).standard_normal((3, 4))

    def job(k: int) -> Callable[[], list]:
        x = mg.tensor(np.random.default_rng(k).standard_normal((2, 3)))

        def run() -> list:
            out: list = []
            w = mg.tensor(weights, requires_grad=True)
            for _ in range(4):
                loss, logits = compiled(x, w)
                if k % 3 == 0:   # autograd.grad of an output the call reads (_Targets)
                    out += [g.numpy() for g in mg.autograd.grad(loss, [logits, w])]
                elif k % 3 == 1:
                    logits.retain_grad()
                    logits.register_hook(lambda g: g * 2.0)
                    loss.backward()
                    out += [logits.grad.numpy(), w.grad.numpy()]
                    w.grad = None
                else:
                    loss.backward(inputs=[logits])
                    out.append(logits.grad.numpy())
            return out
        return run

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _alone_then_together([functools.partial(job, k) for k in range(6)])


def test_in_place_writes_and_their_checks_on_separate_tensors_while_others_backward() -> None:
    exp_sigmoid = mg.compile(lambda x: (x.exp(), x.sigmoid()))   # shared: the replay's kept_for_backward check

    def message(action: Callable[..., Any], *args: Any) -> Any:
        try:
            return action(*args)
        except RuntimeError as error:
            return str(error)[:50]

    def write_then_backward(y: mg.Tensor) -> None:
        y.add_(1)
        y.sum().backward()

    def backward_of_replay(a: mg.Tensor, e: mg.Tensor, s: mg.Tensor) -> np.ndarray:
        (e + s).sum().backward()
        return a.grad.numpy()

    def job(k: int) -> Callable[[], list]:
        rng = np.random.default_rng(k)

        def run() -> list:
            out: list = []
            for i in range(6):
                a = mg.tensor(rng.standard_normal(5), requires_grad=True)
                if k % 3 == 0:   # writes into what a backward reads, a no_grad view of a leaf, a leaf
                    out.append(message(write_then_backward, (a * 2).exp()))
                    with mg.no_grad():
                        view = a[1:3]
                    out.append(message(lambda v: v.mul_(2).numpy(), view))
                    out.append(message(lambda leaf: leaf.add_(1), a))
                elif k % 3 == 1:
                    e, s = exp_sigmoid(a)
                    if i % 2:
                        e.mul_(2)
                    out.append(message(backward_of_replay, a, e, s))
                else:
                    (a.sin() * a).sum().backward()
                    out.append(a.grad.numpy())
            return out
        return run

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _alone_then_together([functools.partial(job, k) for k in range(6)])


def test_apply_and_to_on_separate_models_eager_and_compiled() -> None:
    def job(k: int) -> Callable[[], list]:
        mg.manual_seed(k)
        model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
        run_it = mg.compile(model) if k % 2 else model
        x = mg.tensor(np.random.default_rng(k).standard_normal((5, 3)), dtype=mg.float32)

        def run() -> list:
            out: list = []
            for i in range(4):
                if i % 2:
                    model._apply(lambda t: t * 1.5)   # buffers replaced, compile told
                else:
                    model.to(mg.float64 if i == 2 else mg.float32)
                y = run_it(x.to(model[0].weight.dtype))
                y.sum().backward()
                out += [y.detach().numpy(), model[0].weight.grad.numpy(), model[1].running_mean.numpy()]
                model.zero_grad()
            return out
        return run

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _alone_then_together([functools.partial(job, k) for k in range(6)])


def test_float16_and_float32_recurrent_layers_in_threads() -> None:
    def job(k: int) -> Callable[[], list]:
        mg.manual_seed(k)
        layer = (nn.LSTM, nn.GRU, nn.RNN)[k % 3](3, 4)
        if k < 3:
            layer = layer.half()
        x = mg.tensor(np.random.default_rng(k).standard_normal((4, 2, 3))).to(layer.weight_ih_l0.dtype)

        def run() -> list:
            out: list = []
            for _ in range(2):
                y = layer(x)[0]
                y.float().sum().backward()
                out += [y.detach().numpy(), layer.weight_ih_l0.grad.numpy()]
                layer.zero_grad()
            return out
        return run

    _alone_then_together([functools.partial(job, k) for k in range(6)])


def test_drawing_gradient_norms_of_shared_graphs_while_other_threads_backward() -> None:
    mg.manual_seed(0)
    lstm = nn.LSTM(2, 3, fused=True, compile=True).to(mg.float64)
    x = mg.tensor(np.random.default_rng(1).standard_normal((4, 2, 2)))
    for _ in range(3):   # the later calls replay
        out, _ = lstm(x)
    replayed = (out ** 2).sum()
    leaf = mg.tensor(np.random.default_rng(2).standard_normal((5, 3)), requires_grad=True)
    plain = ((leaf * 1e-200).sin() * 3).sum() * 1e250   # norms rescaled: 1e-200 gradients inside
    hooked = leaf * 2
    hooked.register_hook(lambda g: g * 3)   # draw warns about it
    hooked_loss = hooked.sum()
    losses = (replayed, plain, hooked_loss)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        drawings = [mg.viz.draw(loss, show_grads=True).source for loss in losses]
        gradient = mg.autograd.grad(replayed, [lstm.weight_hh_l0], retain_graph=True)[0].numpy()

        def draw(which: int) -> bool:
            return all(mg.viz.draw(losses[which], show_grads=True).source == drawings[which] for _ in range(3))

        def backward() -> bool:
            return all(np.array_equal(mg.autograd.grad(replayed, [lstm.weight_hh_l0], retain_graph=True)[0].numpy(),
                                      gradient) for _ in range(3))

        assert _switching(lambda: draw(0), lambda: draw(1), lambda: draw(2), backward,
                          lambda: draw(0), backward) == [True] * 6


def test_module_dict_key_views_of_separate_dicts_in_threads() -> None:
    def job(k: int) -> Callable[[], list]:
        modules = nn.ModuleDict({"a": nn.Linear(1, 1)})

        def run() -> list:
            keys, out = modules.keys(), []
            for i in range(30):
                modules[f"m{k}_{i}"] = nn.Identity()
                if i % 3 == 0:
                    del modules[f"m{k}_{i}"]
                out += [len(keys), list(keys)[-1]]
            return out
        return run

    _alone_then_together([functools.partial(job, k) for k in range(4)])


def test_special_functions_and_their_gradients_in_threads() -> None:
    def job(k: int) -> Callable[[], list]:
        x = mg.tensor(np.linspace(0.1, 5.0, 40) + k, requires_grad=True)

        def run() -> list:
            out: list = []
            for fn in (mg.special.digamma, mg.special.erfcx, mg.lgamma, mg.special.i0e, mg.special.expit):
                y = fn(x)
                out += [y.detach().numpy(), mg.autograd.grad(y.sum(), x)[0].numpy()]
            return out
        return run

    _alone_then_together([functools.partial(job, k) for k in range(6)])


# --- another model's _apply (buffers replaced: nn's count of module changes) is not this compiled model's change ----

def _models() -> tuple:
    mg.manual_seed(16)
    return nn.Sequential(nn.Linear(3, 3), nn.ReLU()), nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))


def test_another_models_apply_does_not_send_a_compiled_model_eager_for_good() -> None:
    # was: each buffer replaced anywhere counted as a recapture of every compiled function: after 8, the compiled
    # model ran eagerly for good ('captured again 8 times because a module's attributes ... changed')
    model, other = _models()
    compiled = mg.compile(model)
    x = mg.randn(4, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(12):
            np.testing.assert_array_equal(compiled(x).numpy(), model(x).numpy())
            other._apply(lambda t: t * 1)
    assert not compiled.guarded_out
    for _ in range(9):   # its own child replaced: counted as before
        model[0] = nn.Linear(3, 3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compiled(x)
    assert compiled.guarded_out


def test_a_compiled_model_trains_while_another_thread_applies_to_another_model() -> None:
    model, other = _models()
    compiled = mg.compile(model)
    x = mg.randn(4, 3)
    want = model(x).numpy()

    applied = threading.Event()

    def train() -> int:
        wrong = calls = 0
        while calls < 30 or not applied.is_set():   # calls before, between and after the other model's changes
            wrong += not np.array_equal(compiled(x).numpy(), want)
            calls += 1
        return wrong

    def apply() -> None:
        for i in range(40):
            other._apply(lambda t: t * 1) if i % 2 else other.to(mg.float64 if i % 4 else mg.float32)
            compiled(x)   # (a switch to a training thread)
        applied.set()

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _switching(train, apply, train)[::2] == [0, 0]
    assert not compiled.guarded_out


# --- autograd.grad's capturing hook on a replayed call's output belongs to its own walk only ------------------------

def test_another_threads_grad_of_an_output_a_replay_reads_does_not_refuse_this_threads_backward() -> None:
    # was: A's autograd.grad(m, [logits]) put its capturing hook on the replayed call's node; B's walk (no hook of
    # its own, logits also used outside the call) took it for a user's hook on logits and raised "gets a gradient
    # both from outside the call and from the call's own ops"
    compiled = mg.compile(_loss_and_logits)
    x = mg.tensor(np.random.default_rng(0).standard_normal((2, 3)))
    w = mg.tensor(np.random.default_rng(1).standard_normal((3, 4)), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(4):   # the later calls replay
            loss, logits = compiled(x, w)
    m = loss * 1.0
    inside, done = threading.Event(), threading.Event()

    def pause(g: mg.Tensor) -> None:   # A waits inside its walk, its capturing hook installed
        if threading.current_thread().name == "A" and not done.is_set():
            inside.set()
            assert done.wait(WAIT)

    m.register_hook(pause)
    loss_b = loss * 2.0 + logits.sum()
    want_a = mg.autograd.grad(m, [logits], retain_graph=True)[0].numpy()
    want_b = mg.autograd.grad(loss_b, [w], retain_graph=True)[0].numpy()
    want_b_own = mg.autograd.grad(loss_b, [logits], retain_graph=True)[0].numpy()
    results: dict = {}

    def a() -> None:
        try:
            results["A"] = mg.autograd.grad(m, [logits], retain_graph=True)[0].numpy()
        finally:
            inside.set()

    def b() -> None:
        try:
            assert inside.wait(WAIT)
            results["B"] = mg.autograd.grad(loss_b, [w], retain_graph=True)[0].numpy()
            results["B own"] = mg.autograd.grad(loss_b, [logits], retain_graph=True)   # its own, with A's hook there
        except RuntimeError as error:
            results["B error"] = str(error)
        finally:
            done.set()

    threads = [threading.Thread(target=a, name="A", daemon=True), threading.Thread(target=b, name="B", daemon=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    np.testing.assert_array_equal(results["A"], want_a)
    np.testing.assert_array_equal(results["B"], want_b)
    assert "B error" not in results   # its own grad of logits (read inside and outside the call): eager's value
    np.testing.assert_array_equal(results["B own"][0].numpy(), want_b_own)


# --- two threads finding a guard changed on an eager signature at once -------------------------------------------

VALUE = 1.0


def _reads_a_value(x: mg.Tensor) -> mg.Tensor:
    y = x.exp() * VALUE
    return y * y.sum().item()   # .item(): this signature runs eagerly


def test_two_threads_dropping_an_eager_signature_after_a_guard_changed(monkeypatch: Any) -> None:
    # was: KeyError from A's `del self.eager[key]`: B had dropped the entry after A's check and was capturing
    from minigrad import guards

    compiled = mg.compile(_reads_a_value)
    x = mg.ones(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compiled(x)
    assert compiled.eager
    a_checked, b_in_fn, a_done = threading.Event(), threading.Event(), threading.Event()
    unchanged, exp = guards.unchanged, mg.Tensor.exp

    def pausing_unchanged(now: Any, then: Any) -> bool:   # A found the guard changed and pauses before dropping
        same = unchanged(now, then)
        if not same and threading.current_thread().name == "A" and not a_checked.is_set():
            a_checked.set()
            assert b_in_fn.wait(WAIT)
        return same

    def pausing_exp(self: mg.Tensor) -> mg.Tensor:   # B dropped the entry and captures: it pauses in fn
        if threading.current_thread().name == "B" and not b_in_fn.is_set():
            b_in_fn.set()
            assert a_done.wait(WAIT)
        return exp(self)

    monkeypatch.setattr(guards, "unchanged", pausing_unchanged)
    monkeypatch.setattr(mg.Tensor, "exp", pausing_exp)
    monkeypatch.setattr(sys.modules[__name__], "VALUE", 2.0)
    results: dict = {}

    def a() -> None:
        try:
            results["A"] = compiled(x).numpy()
        finally:
            a_checked.set()
            a_done.set()

    def b() -> None:
        try:
            assert a_checked.wait(WAIT)
            results["B"] = compiled(x).numpy()
        finally:
            b_in_fn.set()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        threads = [threading.Thread(target=a, name="A", daemon=True),
                   threading.Thread(target=b, name="B", daemon=True)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    want = _reads_a_value(x).numpy()
    np.testing.assert_array_equal(results["A"], want)
    np.testing.assert_array_equal(results["B"], want)


# --- the guards look into modules other threads are running -------------------------------------------------------

_MODELS: dict = {}


def _by_index(x: mg.Tensor, k: int) -> mg.Tensor:
    return _MODELS[k](x) * 2.0


def test_threads_capturing_one_function_over_a_table_of_models_in_other_modes() -> None:
    # was: RuntimeError 'dictionary changed size during iteration' from the guards' walk over a module's attributes
    # (another thread's first forward of a module in the same table marks it called meanwhile)
    def job(k: int, fn: Callable) -> Callable[[], list]:
        mg.manual_seed(k)
        model = _MODELS[k] = nn.Sequential(nn.BatchNorm1d(3), nn.Dropout(0.0), nn.BatchNorm1d(3))
        if k % 2:
            model.eval()
        if k % 3 == 2:
            model[2].eval()
        x = mg.tensor(np.random.default_rng(k).standard_normal((4, 3)), dtype=mg.float32)

        def run() -> list:
            out: list = []
            for i in range(4):
                if i == 3 and k % 4 == 0:
                    model[0].eval()
                out += [fn(x, k).numpy(), model[0].running_mean.numpy()]
            return out
        return run

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(6):
                compiled = mg.compile(_by_index)
                alone = [job(k, _by_index)() for k in range(8)]
                together = _switching(*[job(k, compiled) for k in range(8)])
                for k, (a, b) in enumerate(zip(alone, together)):
                    assert _same(a, b), f"thread {k} differs from its lone run"
    finally:
        _MODELS.clear()


class _Marker:
    """A public attribute of a module: the guards' walk over its attributes meets it."""


def test_an_attribute_set_on_a_module_while_the_guards_walk_its_attributes(monkeypatch: Any) -> None:
    # the forced form of the test above: thread A's capture pauses inside the walk over the module's attributes
    # while thread B sets one (as a module's first forward does: nn marks it called)
    from minigrad import guards

    mg.manual_seed(0)
    model = _MODELS[0] = nn.Linear(3, 2)
    model.marker = marker = _Marker()
    inside, done = threading.Event(), threading.Event()
    is_container = guards._is_container

    def pausing(value: Any) -> bool:   # in the walk over the module's attributes (find_paths), not elsewhere
        walking = sys._getframe(2).f_code.co_name == "_module_containers"   # (1: the list comprehension)
        if value is marker and walking and threading.current_thread().name == "A" and not done.is_set():
            inside.set()
            assert done.wait(WAIT)
        return is_container(value)

    def b() -> None:
        try:
            assert inside.wait(WAIT)
            model.set_by_another_thread = 1.0
        finally:
            done.set()

    monkeypatch.setattr(guards, "_is_container", pausing)
    compiled = mg.compile(_by_index)
    x = mg.ones(4, 3)
    results: list = []

    def a() -> None:
        try:
            results.append(compiled(x, 0).numpy())
        except RuntimeError as error:   # 'dictionary changed size during iteration'
            results.append(error)

    threads = [threading.Thread(target=a, name="A", daemon=True), threading.Thread(target=b, daemon=True)]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            assert not any(thread.is_alive() for thread in threads), "a thread hung"
            assert inside.is_set() and not isinstance(results[0], RuntimeError), results[0]
            np.testing.assert_array_equal(results[0], _by_index(x, 0).numpy())
    finally:
        _MODELS.clear()


def test_drawing_while_another_thread_takes_grad_through_the_graph_does_not_warn_of_hooks() -> None:
    # was: "draw(show_grads=True): gradient hooks ... are registered on the outputs of mul": the capturing hook of
    # another thread's autograd.grad(.., [h]), there for the length of its walk, was taken for a user's hook
    x = mg.tensor([1.0, -2.0, 0.5], dtype=mg.float64, requires_grad=True)
    h = x * 1.5
    q = h * 2.0   # in A's graph only: A waits in its hook, its capture on h's node installed
    inside, done = threading.Event(), threading.Event()

    def pause(g: mg.Tensor) -> None:
        if threading.current_thread().name == "A" and not done.is_set():
            inside.set()
            assert done.wait(WAIT)

    q.register_hook(pause)
    loss_a, loss_b = q.sum(), (h.tanh() * 3.0).sum()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        want = mg.viz.draw(loss_b, show_grads=True).source
    results: dict = {}

    def a() -> None:
        try:
            results["A"] = mg.autograd.grad(loss_a, [h], retain_graph=True)[0].numpy()
        finally:
            inside.set()

    def b() -> None:
        try:
            assert inside.wait(WAIT)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                results["B"] = mg.viz.draw(loss_b, show_grads=True).source
            results["B warnings"] = [str(w.message) for w in caught if "draw" in str(w.message)]
        finally:
            done.set()

    threads = [threading.Thread(target=a, name="A", daemon=True), threading.Thread(target=b, name="B", daemon=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    np.testing.assert_array_equal(results["A"], np.full(3, 2.0))
    assert results["B"] == want and results["B warnings"] == []


def test_another_threads_grad_of_a_non_leaf_argument_during_its_captures(monkeypatch: Any) -> None:
    # was: A's autograd.grad(.., [h]) capturing hook on h's node, installed while B's capture of compiled(h) ran,
    # read as B's function changing its argument's hooks: after 3 such captures the signature ran eagerly for good
    # ('it changes Tensor argument 0 itself (its requires_grad, hooks, ...)')
    x = mg.tensor([1.0, -2.0, 0.5], dtype=mg.float64, requires_grad=True)
    h = x * 1.5
    q = h * 2.0
    compiled = mg.compile(lambda t: t.exp() * 2.0)
    exp = mg.Tensor.exp
    events: dict = {}

    def pausing_exp(self: mg.Tensor) -> mg.Tensor:   # B's capture waits until A's walk is under way (a replay
        if threading.current_thread().name == "B" and not events["go"].is_set():   # runs no exp: no wait)
            events["go"].set()
            assert events["a_inside"].wait(WAIT)
        return exp(self)

    def pause(g: mg.Tensor) -> None:   # A waits in its walk (its capturing hook on h's node) until B's capture ends
        if threading.current_thread().name == "A" and not events["b_done"].is_set():
            events["a_inside"].set()
            assert events["b_done"].wait(WAIT)

    q.register_hook(pause)
    monkeypatch.setattr(mg.Tensor, "exp", pausing_exp)
    results: dict = {}
    for _ in range(4):
        events.update((name, threading.Event()) for name in ("go", "a_inside", "b_done"))
        results.clear()

        def a() -> None:
            try:
                assert events["go"].wait(WAIT)
                results["A"] = mg.autograd.grad(q.sum(), [h], retain_graph=True)[0].numpy()
            finally:
                events["a_inside"].set()

        def b() -> None:
            try:
                results["B"] = compiled(h).detach().numpy()
            finally:
                events["b_done"].set()
                events["go"].set()

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            threads = [threading.Thread(target=a, name="A", daemon=True),
                       threading.Thread(target=b, name="B", daemon=True)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
        assert not any(thread.is_alive() for thread in threads), "a thread hung"
        np.testing.assert_array_equal(results["A"], np.full(3, 2.0))
        np.testing.assert_array_equal(results["B"], (h.detach().exp() * 2.0).numpy())
    assert not compiled.eager and compiled.programs
