"""mg.compile probed where a replay could silently differ from eager mode (issue 14, "Capture and replay").

Each test runs the same function eagerly and compiled, call after call (the first call captures, the
second checks the capture, the next ones replay), and asserts the compiled calls give eager's values,
gradients, dtypes and objects, or run eagerly with a CompileWarning where a replay cannot be right.
"""

from __future__ import annotations

import collections
import threading
import warnings
from typing import Any, Callable

import numpy as np
import pytest
from helpers import run_interleaved

import minigrad as mg
import nn
from minigrad import codegen

F = nn.functional


def _quiet(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args)`` with CompileWarnings silenced (the tests look at results, then at ``compiled.eager``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mg.CompileWarning)
        return fn(*args, **kwargs)


def _same(a: mg.Tensor, b: mg.Tensor) -> None:
    """The same values, bit for bit (signs of zeros too), shape and dtype."""
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(np.signbit(a.numpy()), np.signbit(b.numpy()))


# --- the signature -----------------------------------------------------------------------------------

@pytest.mark.parametrize("x, values", [
    (mg.tensor([1, 2]), [2, 2, 3, 2.0, 2.0, 2.5]),                     # int tensor * 2 stays int, * 2.0 not
    (mg.tensor([True, False]), [True, True, False, 1, 1, 0]),          # bool * True stays bool, * 1 is int
    (mg.tensor([1.0, -2.0]), [0.0, 0.0, 1.0, -0.0, -0.0, float("nan"), float("nan")]),   # -0.0 is not 0.0
], ids=["int", "bool", "float"])
def test_python_numbers_equal_in_python_are_other_signatures(x: mg.Tensor, values: list) -> None:
    """2 == 2.0 == True in Python (one dict key), but a tensor times each has another dtype or sign."""
    compiled = mg.compile(lambda t, n: t * n)
    for n in values:
        _same(_quiet(compiled, x, n), x * n)


def test_inference_mode_is_part_of_the_signature() -> None:
    def fn(x):
        return x * 3 if mg.is_inference_mode_enabled() else x * 2

    compiled = mg.compile(fn)
    x = mg.tensor([1.0, 2.0])
    for mode in ("no_grad", "inference", "no_grad", "inference", "no_grad"):
        with mg.no_grad() if mode == "no_grad" else mg.inference_mode():
            _same(compiled(x), fn(x))


# --- the same tensor passed twice --------------------------------------------------------------------

def test_a_capture_of_the_same_tensor_twice_is_not_replayed_for_two_tensors() -> None:
    def fn(a, b):
        return (a * 2 + b).sum()

    compiled = mg.compile(fn)
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    for _ in range(3):
        compiled(x, x)
    a, b = mg.tensor([1.0, 2.0], requires_grad=True), mg.tensor([3.0, 5.0], requires_grad=True)
    out = compiled(a, b)
    _same(out, fn(a.detach(), b.detach()))
    out.backward()
    np.testing.assert_array_equal(a.grad.numpy(), [2.0, 2.0])
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0])
    x.grad = None
    compiled(x, x).backward()   # the capture of two tensors replays the same tensor twice too
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    assert compiled(x, x)._node.name == "compiled"

    pair = mg.compile(lambda ts: ts[0] - ts[1])
    y, z = mg.tensor([10.0, 20.0]), mg.tensor([1.0, 2.0])
    for _ in range(3):
        pair((y, y))
    _same(pair((y, z)), y - z)


def test_an_argument_the_function_also_reads_from_its_closure_or_self_is_not_replayed_for_another() -> None:
    w = mg.tensor([1.0, 1.0], requires_grad=True)
    compiled = mg.compile(lambda a: a * w)
    for _ in range(3):
        compiled(w)
    y = mg.tensor([10.0, 20.0])
    _same(compiled(y), y * w)

    class Holder:
        def __init__(self) -> None:
            self.w = mg.tensor([2.0, 3.0])

        def scaled(self, a: mg.Tensor) -> mg.Tensor:
            return a * self.w

    holder = Holder()
    method = mg.compile(holder.scaled)
    for _ in range(3):
        method(holder.w)
    _same(method(y), y * holder.w)


def test_state_kept_on_self_and_passed_back_replays_without_capturing_again() -> None:
    """``self.h = step(x, self.h)``: the argument is also ``self.h`` at every call, so one capture holds."""
    class Recurrent:
        def __init__(self) -> None:
            self.weight = mg.tensor(np.random.default_rng(0).standard_normal((3, 3)), requires_grad=True)
            self.h = mg.zeros(2, 3, dtype=mg.float64)
            self.compiled = mg.compile(self.step)

        def step(self, x: mg.Tensor, h: mg.Tensor) -> mg.Tensor:
            return (x @ self.weight + h).tanh()

        def run(self, xs: list, step: Callable) -> mg.Tensor:
            self.h = mg.zeros(2, 3, dtype=mg.float64)
            for x in xs:
                self.h = step(x, self.h)
            return self.h

    model = Recurrent()
    xs = [mg.tensor(np.random.default_rng(k).standard_normal((2, 3))) for k in range(6)]
    eager = model.run(xs, model.step)
    for _ in range(2):
        _same(model.run(xs, model.compiled), eager)
    assert model.compiled.recaptures == 0 and len(model.compiled.programs) == 2 and not model.compiled.eager


# --- outputs -----------------------------------------------------------------------------------------

def test_an_argument_returned_as_it_is_is_that_object_and_gradients_are_eagers(torch) -> None:
    def fn(x):
        return x, x * 2

    compiled = mg.compile(fn)
    for call in range(4):
        values = np.random.default_rng(call // 2).standard_normal((3, 4))
        grads = []
        for f in (fn, compiled):
            x = mg.tensor(values, requires_grad=True)
            a, b = f(x)
            assert a is x and a.is_leaf
            ((a * a).sum() + (b * b).sum()).backward()
            grads.append(x.grad.numpy())
        np.testing.assert_array_equal(*grads)   # (x + x) + 8x in eager's order, not 2x + 8x
    tx = torch.tensor(values, requires_grad=True)
    ta, tb = torch.compile(fn, backend="eager")(tx)
    assert ta is tx   # as torch.compile
    ((ta * ta).sum() + (tb * tb).sum()).backward()
    np.testing.assert_allclose(grads[1], tx.grad.numpy(), rtol=1e-15)

    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        compiled(x)[0].mul_(2)   # as eager: not a silent write into the leaf
    np.testing.assert_array_equal(x.numpy(), [1.0, 2.0])


def test_outputs_without_a_gradient_do_not_require_grad_and_one_tensor_returned_twice_is_one(torch) -> None:
    def fn(x):
        y = x.exp()
        return y, y, x.argmax(), x > 0, x.detach() * 2, mg.histc(x, 4)

    compiled = mg.compile(fn)
    tx = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    t_out = (tx.exp(), tx.argmax(), tx > 0, tx.detach() * 2, torch.histc(tx.detach(), 4))   # torch's flags
    for _ in range(4):
        x = mg.tensor([1.0, -2.0, 3.0], requires_grad=True)
        outs = compiled(x)
        assert outs[0] is outs[1]
        assert [o.requires_grad for o in outs] == [True, True, False, False, False, False]
        assert [t.requires_grad for t in t_out] == [True, False, False, False, False]
        with pytest.raises(RuntimeError, match="does not require grad"):
            outs[2].sum().backward()
        outs[0].sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), np.exp(x.numpy()))
    assert outs[0]._node.name == "compiled"


def test_a_detached_output_used_in_a_later_loss_does_not_reach_back_into_the_replay() -> None:
    """A target computed by a compiled call, used after the call's own backward (was 'backward through the
    graph a second time')."""
    w = mg.tensor([0.5, -1.0], requires_grad=True)
    compiled = mg.compile(lambda x: ((x * w).sum(), (x * w).detach()))
    x = mg.tensor([1.0, 2.0])
    for _ in range(4):
        w.grad = None
        loss, target = compiled(x)
        loss.backward()
        (w * target).sum().backward()
        np.testing.assert_array_equal(w.grad.numpy(), x.numpy() + (x * w).numpy())


def test_a_weight_returned_is_that_weight_and_a_leaf_made_inside_is_new_on_every_call() -> None:
    w = mg.ones(3, requires_grad=True)
    x = mg.tensor([1.0, 2.0, 3.0])
    returns_weight = mg.compile(lambda t: ((t * w).sum(), w))
    for _ in range(4):
        loss, same = returns_weight(x)
    assert same is w and loss._node.name == "compiled"

    def makes_leaf(t):
        c = mg.ones(3, requires_grad=True)
        return (t * c).sum(), c, mg.zeros(3) + 1

    compiled = mg.compile(makes_leaf)
    seen = []
    for _ in range(4):
        loss, leaf, constant = _quiet(compiled, x)
        loss.backward()
        np.testing.assert_array_equal(leaf.grad.numpy(), x.numpy())   # a fresh leaf each call, as eager
        seen += [leaf, constant]
    assert len({id(t) for t in seen}) == len(seen) and compiled.eager


# --- random draws ------------------------------------------------------------------------------------

def _draws(fn: Callable, x: mg.Tensor, calls: int, seed: int | None = 0) -> list:
    if seed is not None:
        mg.manual_seed(seed)
    return [_quiet(fn, x).numpy().copy() for _ in range(calls)]


def test_seeding_inside_the_function_runs_eagerly() -> None:
    def seeded(x):
        mg.manual_seed(0)
        return F.dropout(x, 0.5)

    x = mg.ones(16)
    for outside in (None, 0):   # the same seed outside first: found by the check call
        compiled = mg.compile(seeded)
        for a, b in zip(_draws(seeded, x, 5, outside), _draws(compiled, x, 5, outside)):
            np.testing.assert_array_equal(a, b)
        assert compiled.eager and "seeds" in next(iter(compiled.eager.values()))[0]

    def made_inside(x):
        return x * mg.randn(16, generator=mg.Generator().manual_seed(3))

    held = mg.Generator()

    def reseeded_inside(x):
        held.manual_seed(4)
        return x * mg.randn(16, generator=held)

    for fn in (made_inside, reseeded_inside):
        compiled = mg.compile(fn)
        for a, b in zip(_draws(fn, x, 5, None), _draws(compiled, x, 5, None)):
            np.testing.assert_array_equal(a, b)
        assert compiled.eager


def test_a_state_set_inside_the_function_runs_eagerly() -> None:
    """mg.set_rng_state / Generator.set_state inside: each call starts its draws from that state, as eager."""
    x = mg.ones(8)
    held = mg.Generator()
    host, saved = mg.get_rng_state(), held.get_state()

    def host_state(x):
        mg.set_rng_state(host)
        return x * mg.rand(8)

    def generator_state(x):
        held.set_state(saved)
        return x * mg.rand(8, generator=held)

    for fn in (host_state, generator_state):
        compiled = mg.compile(fn)
        draws = [compiled(x).numpy() for _ in range(5)]
        for d in draws[1:]:
            np.testing.assert_array_equal(d, draws[0])
        np.testing.assert_array_equal(draws[0], fn(x).numpy())
        assert compiled.eager


def test_a_generator_reseeded_between_calls_is_replayed_from_its_new_seed() -> None:
    g = mg.Generator()

    def fn(x):
        return x[mg.randperm(8, generator=g)] * mg.rand(8, generator=g)

    compiled = mg.compile(fn)
    x = mg.arange(8.0)
    runs = []
    for f in (fn, compiled):
        g.manual_seed(9)
        calls = []
        for call in range(6):
            if call == 4:
                g.manual_seed(1)
            calls.append(f(x).numpy())
        runs.append(calls)
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
    assert compiled(x)._node is None and not compiled.eager and len(compiled.programs) == 1


@pytest.mark.parametrize("explicit", [False, True], ids=["engine", "generator="])
def test_a_call_captured_again_for_a_new_shape_draws_what_eager_draws(explicit: bool) -> None:
    """The replay's draws before the op whose shape changed are put back: same numbers as eager, same seed."""
    g = mg.Generator()

    def fn(x):
        noisy = x + mg.randn(4, generator=g if explicit else None)
        return noisy[noisy > 0].sum() + mg.randn(1, generator=g if explicit else None).sum()

    compiled = mg.compile(fn)
    runs = []
    for f in (fn, compiled):
        mg.manual_seed(0)
        g.manual_seed(0)
        runs.append([f(mg.zeros(4)).item() for _ in range(8)])
    assert runs[0] == runs[1]


# --- what a replay would not do ----------------------------------------------------------------------

def _hook_on_argument(x):
    x.register_hook(lambda g: g * 10)
    return (x * x).sum()


def _retain_grad_on_argument(x):
    x.retain_grad()
    return (x * x).sum()


def _requires_grad_on_argument(x):
    x.requires_grad_()
    return (x * x).sum()


@pytest.mark.parametrize("fn", [_hook_on_argument, _retain_grad_on_argument, _requires_grad_on_argument])
def test_a_function_that_changes_its_tensor_argument_runs_eagerly(fn: Callable) -> None:
    compiled = mg.compile(fn)
    leaf_argument = fn is not _retain_grad_on_argument
    for f in (fn, compiled):
        grads = []
        for _ in range(4):
            leaf = mg.tensor([1.0, 2.0], requires_grad=fn is not _requires_grad_on_argument)
            x = leaf if leaf_argument else leaf * 1
            _quiet(f, x).backward()
            grads.append((leaf.grad.numpy().tolist(), None if leaf_argument else x.grad.numpy().tolist()))
        if f is fn:
            expected = grads
    assert grads == expected and compiled.eager


def test_a_function_that_leaves_a_module_mode_changed_runs_eagerly() -> None:
    model = nn.Sequential(nn.Linear(6, 5), nn.Dropout(0.5), nn.Linear(5, 2))
    calls = {"n": 0}

    def fn(x):
        calls["n"] += 1
        model.train(calls["n"] % 2 == 0)   # the mode comes from Python state a replay cannot see
        return model(x)

    compiled = mg.compile(fn)
    x = mg.tensor(np.random.default_rng(0).standard_normal((4, 6)), dtype=mg.float32)
    runs = []
    for f in (fn, compiled):
        calls["n"] = 0
        model.train()
        mg.manual_seed(1)
        runs.append([(_quiet(f, x).numpy(), model.training) for _ in range(6)])
    for (a, mode_a), (b, mode_b) in zip(*runs):
        np.testing.assert_array_equal(a, b)
        assert mode_a == mode_b
    assert compiled.eager


# --- tensors the function reads from containers ------------------------------------------------------

def test_a_weight_rebound_in_a_list_dict_or_object_is_read_anew() -> None:
    x = mg.tensor([1.0, 2.0])
    params = [mg.ones(2)]
    from_list = mg.compile(lambda t: t * params[0])

    class Config:
        pass

    config = Config()
    config.weights = {"w": mg.ones(2)}
    from_object = mg.compile(lambda t: t * config.weights["w"])

    class Model:
        def __init__(self) -> None:
            self.w, self.linear = mg.ones(2), nn.Linear(2, 2)

        def forward(self, t: mg.Tensor) -> mg.Tensor:
            return t * self.w + self.linear(t)

    model = Model()
    method = mg.compile(model.forward)
    for _ in range(3):
        from_list(x), from_object(x), method(x)
    params[0] = mg.full((2,), 5.0)
    config.weights["w"] = mg.full((2,), 7.0)
    _same(from_list(x), x * 5.0)
    _same(from_object(x), x * 7.0)
    for change in ("w", "linear"):
        setattr(model, change, mg.full((2,), 3.0) if change == "w" else nn.Linear(2, 2))
        _same(method(x), model.forward(x))


def test_a_weight_rebound_on_every_step_runs_eagerly_after_the_recapture_limit() -> None:
    params = {"w": mg.ones(2, requires_grad=True)}
    compiled = mg.compile(lambda t: (t * params["w"]).sum())
    x = mg.tensor([1.0, 2.0])
    with pytest.warns(mg.CompileWarning, match=r"params\['w'\]"):
        for _ in range(12):
            value = params["w"].numpy().copy()
            compiled(x).backward()
            np.testing.assert_array_equal(params["w"].grad.numpy(), x.numpy())
            params["w"] = mg.tensor(value - 0.1, requires_grad=True)   # w = w - lr * grad, out of place
    assert compiled.guarded_out


# --- arguments in containers and objects -------------------------------------------------------------

def test_tensors_in_dicts_named_tuples_and_objects_are_inputs_of_one_node() -> None:
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    from_dict = mg.compile(lambda d: (d["a"] * d["b"]).sum())
    pair = collections.namedtuple("pair", "a b")
    from_pair = mg.compile(lambda p: (p.a * p.b).sum())

    class State:
        pass

    state = State()
    state.scale = 2
    from_object = mg.compile(lambda t, s: (t * s.h).sum() * s.scale)
    for k in range(4):
        other = mg.tensor([1.0, float(k)])
        state.h = other
        for out, expected in ((from_dict({"a": x, "b": other}), 1.0 + 2.0 * k),
                              (from_pair(pair(x, other)), 1.0 + 2.0 * k),
                              (from_object(x, state), 2.0 * (1.0 + 2.0 * k))):
            assert out.item() == expected
    assert all(out._node.name == "compiled" for out in (from_dict({"a": x, "b": other}), from_pair(pair(x, other)),
                                                         from_object(x, state)))
    state.scale = 5   # a number attribute is static: captured again
    assert from_object(x, state).item() == 5.0 * 7.0
    with pytest.warns(mg.CompileWarning, match="unhashable"):
        assert mg.compile(lambda t, a: t * float(a[0]))(x, np.array([3.0])).numpy().tolist() == [3.0, 6.0]


# --- errors ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("code", [False, True], ids=["loops", "code"])
def test_an_op_that_fails_in_a_replay_is_named(code: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codegen, "REPLAYS_FIRST", 0 if code else 10**9)
    monkeypatch.setattr(codegen, "SECONDS_PER_OP", 0.0)
    w = mg.randn(3, 3)
    compiled = mg.compile(lambda x, i: (x @ w).tanh()[i].sum())
    x = mg.randn(2, 3)
    for _ in range(4):
        compiled(x, mg.tensor([0, 1]))
    assert (next(iter(compiled.programs.values())).forward_code is not None) == code
    with pytest.raises(IndexError, match=r"op 2 'getitem'.*index 7 is out of bounds.*\(2, 3\) and \(2,\)"):
        compiled(x, mg.tensor([0, 7]))
    assert compiled(x, mg.tensor([1, 0])).item() == (x @ w).tanh()[mg.tensor([1, 0])].sum().item()


def test_detect_anomaly_around_the_backward_of_a_replay_names_the_op() -> None:
    compiled = mg.compile(lambda x: (x.sqrt() * 2).sum())
    x = mg.tensor([1.0, 0.0], requires_grad=True)
    for _ in range(3):   # a capture and its checks (the constant 2 is checked twice: the same values)
        compiled(x)
    y = compiled(x)
    assert y._node.name == "compiled"
    with mg.detect_anomaly(), np.errstate(divide="ignore"):
        with pytest.raises(mg.AnomalyError, match="backward of 'sqrt'"):
            y.backward()


def test_a_function_that_raises_while_captured_leaves_nothing_behind() -> None:
    fail = {"error": ValueError("boom")}

    def fn(x):
        y = x * 2
        if fail["error"] is not None:
            raise fail["error"]
        return y + 1

    compiled = mg.compile(fn)
    x = mg.tensor([1.0, 2.0])
    for error in (ValueError("boom"), KeyboardInterrupt()):
        fail["error"] = error
        with pytest.raises(type(error)):
            compiled(x)
        assert not mg.compiler.is_compiling() and mg.is_grad_enabled() and not compiled.programs
    fail["error"] = None
    for _ in range(3):
        assert compiled(x).numpy().tolist() == [3.0, 5.0]


# --- bit-identical to eager, and to PyTorch at its precision -----------------------------------------

@pytest.mark.parametrize("dtype", [mg.float32, mg.float64])
def test_a_training_loss_replays_bit_identical_values_and_gradients(dtype: Any, torch) -> None:
    rng = np.random.default_rng(3)
    weights = [mg.tensor(rng.standard_normal(s) * 0.5, dtype=dtype, requires_grad=True) for s in ((5, 7), (7,), (7, 3))]

    def loss_fn(x, target):
        w1, b1, w2 = weights
        hidden = F.gelu(x @ w1 + b1)
        return F.cross_entropy(hidden @ w2, target), hidden.argmax(dim=1)

    compiled = mg.compile(loss_fn)
    for _call in range(4):
        x = mg.tensor(rng.standard_normal((4, 5)), dtype=dtype, requires_grad=True)
        target = mg.tensor(rng.integers(0, 3, 4))
        runs = []
        for f in (loss_fn, compiled):
            for t in (*weights, x):
                t.grad = None
            loss, picks = f(x, target)
            loss.backward()
            runs.append([loss, picks, *(t.grad for t in (*weights, x))])
        for a, b in zip(*runs):
            _same(a, b)
    assert loss._node.name == "compiled" and not picks.requires_grad
    tw = [torch.tensor(w.numpy(), requires_grad=True) for w in weights]
    tx = torch.tensor(x.numpy(), requires_grad=True)
    t_loss = torch.nn.functional.cross_entropy(torch.nn.functional.gelu(tx @ tw[0] + tw[1]) @ tw[2],
                                               torch.tensor(target.numpy()))
    t_loss.backward()
    tol = 1e-5 if dtype == mg.float32 else 1e-12
    np.testing.assert_allclose(loss.numpy(), t_loss.detach().numpy(), rtol=tol)
    for ours, theirs in zip((*weights, x), (*tw, tx)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=tol, atol=tol)


# --- threads -----------------------------------------------------------------------------------------

def test_threads_with_other_shapes_and_grad_modes_get_their_own_results() -> None:
    w = mg.tensor(np.random.default_rng(0).standard_normal((8, 8)), requires_grad=True)

    def fn(x, steps):
        h = x
        for _ in range(steps):
            h = (h @ w).tanh()
        return h.sum(), h

    compiled = mg.compile(fn)
    inputs = [mg.tensor(np.random.default_rng(k).standard_normal((1 + k % 3, 8)), requires_grad=True)
              for k in range(6)]
    expected = []
    for k, x in enumerate(inputs):
        total, h = fn(x, 2 + k % 2)
        total.backward()
        expected.append((h.numpy().copy(), x.grad.numpy().copy()))
        x.grad = None
    errors: list = []

    def work(k: int) -> None:
        x, (want_h, want_grad) = inputs[k], expected[k]
        try:
            for call in range(12):
                x.grad = None
                if k % 3 == 0 and call % 2:   # this thread alone turns recording off
                    with mg.no_grad():
                        total, h = compiled(x, 2 + k % 2)
                    assert not total.requires_grad
                    continue
                total, h = compiled(x, 2 + k % 2)
                assert total.requires_grad, "another thread's no_grad leaked into this one"
                total.backward()
                np.testing.assert_array_equal(h.numpy(), want_h)
                np.testing.assert_array_equal(x.grad.numpy(), want_grad)
        except Exception as error:  # noqa: BLE001 - reported in the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(inputs))]
    run_interleaved(threads)
    assert not errors, errors[0]


def test_a_branch_on_allclose_is_not_replayed_stale() -> None:
    pos = mg.ones(3)

    def branch(x):
        return x.exp() if mg.allclose(x, pos) else x.tanh()

    compiled = mg.compile(branch)
    for _ in range(4):
        compiled(mg.ones(3))
    np.testing.assert_array_equal(compiled(mg.zeros(3)).numpy(), branch(mg.zeros(3)).numpy())
