"""Each gradient reaches a node in that node's dtype, as PyTorch's engine casts it (``validate_outputs``).

Where a float16 value meets a float32 one (``h.exp() * w``), the op's gradient for the float16 input used to go on
in float32, so the float16 part of the graph back-propagated float32 values until a cast at its leaf: other
roundings than PyTorch's, and no float16 overflow where PyTorch's gradient overflows, so an AMP GradScaler took a
step that PyTorch skips. autograd.engine._dtype_gate now gives such an op a backward that casts each input's
gradient to the input's dtype (same-dtype programs pay nothing: bench.opcount).

The differential fuzz behind it (/tmp/h24_mixed/fuzz.py: 29 ops, 6 dtype pairs of float16/32/64, 3 broadcasts,
828 cases against torch 2.13) found 744 where the gradient at a hook on a non-leaf input had another dtype than
PyTorch's; none now. Also fixed: a float16 target that mse/l1/smooth_l1/huber loss broadcasts (PyTorch expands it
first, so each element is rounded before the sum: 1 float16 step off), and mg.compile of a float16 array times a
Python number (the second replay raised). Left: addcdiv's tensor1 gradient, which PyTorch computes as
``value / tensor2`` in tensor2's (float16) dtype (up to 2,400 float32 steps off; fixed in round 25: one op with
PyTorch's formulas, tests/autograd/test_mixed_dtype_hits_round25.py); a float32 value that needs grad
meeting an uncast float64 or int64 one on a cache hit before any dtype change was seen (the float32 ops before it
got float64 gradients: fixed in round 25, tests/autograd/test_mixed_dtype_hits_round25.py); create_graph rules
that round float16 at each op (tanh: the first-order kernel rounds once).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import minigrad as mg
import nn
from minigrad import codegen
from minigrad.autograd import engine
from tests.helpers import assert_close

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(24)
ARRAYS = {"x": RNG.standard_normal((6, 8)).astype(np.float32),
          "W": (RNG.standard_normal((8, 5)) * 0.5).astype(np.float32),
          "s": RNG.standard_normal(5).astype(np.float32), "b": RNG.standard_normal(5).astype(np.float32)}
TARGETS = np.array([0, 1, 2, 3, 4, 0])


def _h(P):  # noqa: ANN001, ANN202 - minigrad's or torch's tensors
    """A float16 activation made from float32 parameters."""
    return P["x"].half() @ P["W"].half()


# float16 chains meeting float32 parameters: elementwise, matmul, softmax, losses
CHAINS = {
    "mul": lambda L, P: (_h(P) * P["s"]).sum(),
    "exp-mul": lambda L, P: (P["x"].half().exp() * P["x"]).sum(),
    "tanh-mul-add": lambda L, P: (_h(P).tanh() * P["s"] + P["b"]).sum(),
    "sigmoid-add": lambda L, P: (_h(P).sigmoid() + P["b"]).sum(),
    "softmax": lambda L, P: (_h(P).softmax(-1) * P["s"]).sum(),
    "log_softmax": lambda L, P: (_h(P).log_softmax(-1) * P["s"]).sum(),
    "cross_entropy": lambda L, P: L.nn.functional.cross_entropy(_h(P) * P["s"], L.tensor(TARGETS)),
    "mse_loss": lambda L, P: L.nn.functional.mse_loss(_h(P).relu() * P["s"], P["b"].expand(6, 5)),
    "where": lambda L, P: L.where((P["x"] > 0)[:, :5], _h(P), P["b"]).sum(),
    "cat": lambda L, P: (L.cat([_h(P), P["b"][None]]) * 3).sum(),
    "maximum": lambda L, P: L.maximum(_h(P), P["b"]).sum(),
    "div": lambda L, P: (_h(P) / (P["s"].abs() + 1)).sum(),
    "layer": lambda L, P: ((_h(P) + P["b"].half()).relu() * P["s"]).log_softmax(-1).mean(),
}


def _grads(L, fn, arrays=ARRAYS):  # noqa: ANN001, ANN202
    P = {k: L.tensor(v.copy(), requires_grad=True) for k, v in arrays.items()}
    fn(L, P).backward()
    return {k: p.grad.numpy().copy() for k, p in P.items() if p.grad is not None}


def _bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.uint16 if a.dtype == np.float16 else np.uint32)


@pytest.mark.parametrize("name", list(CHAINS))
def test_float16_chain_with_float32_parameters_matches_torch_bit_for_bit(name: str) -> None:
    """x and W reach the float32 loss only through the float16 part: their gradients are PyTorch's bit for bit
    (they were 10-48 of 48 elements off); the float32 parameters' are within float32 steps (sums in other orders)."""
    ours, theirs = _grads(mg, CHAINS[name]), _grads(torch, CHAINS[name])
    assert ours.keys() == theirs.keys()
    for key in {"x", "W"} & ours.keys():
        assert ours[key].dtype == theirs[key].dtype == np.float32
        assert np.array_equal(_bits(ours[key]), _bits(theirs[key])), f"{name}: {key}.grad\n{ours[key]}\n{theirs[key]}"
    for key in set(ours) - {"x", "W"}:
        assert_close(ours[key], theirs[key], rtol=1e-5, atol=1e-6, what=key)


_DTYPES = {"f16": ("float16", mg.float16, torch.float16), "f32": ("float32", mg.float32, torch.float32),
           "f64": ("float64", mg.float64, torch.float64)}


def _ops(L):  # noqa: ANN001, ANN202
    F = L.nn.functional
    return {
        "add": lambda a, b: a + b, "sub": lambda a, b: b - a, "mul": lambda a, b: a * b, "div": lambda a, b: a / b,
        "pow": lambda a, b: (a.abs() + 0.5) ** b, "maximum": L.maximum, "minimum": L.minimum,
        "where": lambda a, b: L.where(a > 0, a, b), "atan2": L.atan2, "hypot": L.hypot,
        "clamp": lambda a, b: L.clamp(a, min=b), "addcmul": lambda a, b: L.addcmul(a, a, b),
        "cat": lambda a, b: L.cat([a, b]), "stack": lambda a, b: L.stack([a, b]),
        "mse_loss": lambda a, b: F.mse_loss(a, b, reduction="none"), "copysign": L.copysign, "fmax": L.fmax,
        "xlogy": lambda a, b: L.xlogy(a, b.abs() + 0.1), "dist": L.dist,
    }


def _hooked(L, op, da, db, a0, b0, w):  # noqa: ANN001, ANN202
    """The dtype and value of the gradient that reaches each of two non-leaf inputs of ``op``."""
    x, y = L.tensor(a0.copy(), requires_grad=True), L.tensor(b0.copy(), requires_grad=True)
    a, b = x.to(_DTYPES[da][1 + (L is torch)]).exp(), y.to(_DTYPES[db][1 + (L is torch)]).sin()
    seen = {}
    a.register_hook(lambda g: seen.__setitem__("a", g.numpy().copy()))
    b.register_hook(lambda g: seen.__setitem__("b", g.numpy().copy()))
    out = _ops(L)[op](a, b)
    out.backward(L.tensor(w[:out.numel()].reshape(tuple(out.shape))).to(out.dtype))
    return seen


@pytest.mark.parametrize("op", list(_ops(mg)))
@pytest.mark.parametrize("pair", [("f16", "f32"), ("f32", "f16"), ("f32", "f64"), ("f64", "f16")])
def test_the_gradient_reaching_an_input_has_its_dtype(op: str, pair: tuple) -> None:
    a0, b0 = RNG.standard_normal((3, 4)).astype(np.float32), RNG.standard_normal((3, 4)).astype(np.float32)
    w = RNG.standard_normal(24).astype(np.float32)
    ours, theirs = _hooked(mg, op, *pair, a0, b0, w), _hooked(torch, op, *pair, a0, b0, w)
    assert ours.keys() == theirs.keys()
    for side, dtype in zip("ab", pair):
        if side in ours:
            assert ours[side].dtype == theirs[side].dtype == _DTYPES[dtype][0], (side, ours[side].dtype)
            assert_close(ours[side], theirs[side], rtol=2e-3 if dtype == "f16" else 1e-5, atol=1e-6, what=side)


class _SGD:
    """Plain SGD with the optimizer interface GradScaler uses (param_groups, step), for both libraries (torch.optim's
    first step imports TorchDynamo: most of a second)."""

    def __init__(self, params: list, lr: float) -> None:
        self.param_groups = [{"params": params, "lr": lr}]

    def zero_grad(self) -> None:
        for p in self.param_groups[0]["params"]:
            p.grad = None

    def step(self) -> None:
        for p in self.param_groups[0]["params"]:
            p.data -= self.param_groups[0]["lr"] * p.grad.data


def _amp_steps(L):  # noqa: ANN001, ANN202
    """An AMP loop whose float16 activations meet a float32 weight: the gradient reaching them is the weight times
    the scale, past float16's 65504 until the scaler has backed off four times."""
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((6, 8)).astype(np.float32)
    W = L.tensor((rng.standard_normal((8, 5)) * 0.5).astype(np.float32), requires_grad=True)
    v = L.tensor((rng.standard_normal(5) * 1.5).astype(np.float32))
    opt = _SGD([W], lr=0.01)
    scaler = L.amp.GradScaler("cpu", init_scale=2.0 ** 16)
    skipped = []
    for _ in range(7):
        opt.zero_grad()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # mg.autocast warns that it casts nothing (the casts here are explicit)
            with L.autocast("cpu", dtype=L.float16):
                loss = ((L.tensor(x0).half() @ W.half()) * v).sum()
        scaler.scale(loss).backward()
        before = scaler.get_scale()
        scaler.step(opt)
        scaler.update()
        skipped.append(scaler.get_scale() < before)
    return skipped, W.detach().numpy(), scaler.get_scale()


def test_grad_scaler_skips_the_steps_pytorch_skips_on_float16_overflow() -> None:
    """PyTorch's float16 gradient of the activations overflows to inf (then NaN through the matmul): its scaler
    skips those steps. Ours kept them float32 and finite, and took every step."""
    ours, theirs = _amp_steps(mg), _amp_steps(torch)
    assert theirs[0] == [True] * 4 + [False] * 3
    assert ours[0] == theirs[0] and ours[2] == theirs[2]
    assert_close(ours[1], theirs[1], rtol=1e-6, atol=1e-7)


def test_compiled_replays_give_the_eager_gradients(monkeypatch: pytest.MonkeyPatch) -> None:
    """mg.compile replays the captured ops' backwards, cast as eager's: bit for bit, also once written as code."""
    monkeypatch.setattr(codegen, "SECONDS_PER_OP", 0.0)   # written after codegen.REPLAYS_FIRST replays

    def fn(x, W, s):  # noqa: ANN001, ANN202
        return (((x.half() @ W.half()).tanh() * s).log_softmax(-1) * s).sum()

    def grads(f):  # noqa: ANN001, ANN202
        P = [mg.tensor(ARRAYS[k].copy(), requires_grad=True) for k in ("x", "W", "s")]
        f(*P).backward()
        return [p.grad.numpy() for p in P]

    eager = grads(fn)
    assert np.array_equal(eager[1], _grads(torch, lambda L, P: fn(P["x"], P["W"], P["s"]))["W"])
    compiled = mg.compile(fn)
    for _ in range(5):
        for got, want in zip(grads(compiled), eager):
            assert np.array_equal(got, want)


def test_compiled_float16_times_a_number_replays(monkeypatch: pytest.MonkeyPatch) -> None:
    """A float16 array times a Python number sets its own backward when it runs (engine: PyTorch's rounding); the
    compiled call's copy of the op kept the captured op's, whose saved arrays the first backward freed: the second
    replay raised (TypeError), and with retain_graph it read the captured call's values."""
    monkeypatch.setattr(codegen, "SECONDS_PER_OP", 0.0)

    def fn(x, w):  # noqa: ANN001, ANN202
        return ((x.half() * w.half()) * 0.3).float().sum()

    compiled = mg.compile(fn)
    rng = np.random.default_rng(7)
    for _ in range(4):
        arrays = rng.standard_normal((2, 5)).astype(np.float32)
        got = []
        for f in (fn, compiled):
            x, w = (mg.tensor(a, requires_grad=True) for a in arrays)
            f(x, w).backward()
            got.append((x.grad.numpy(), w.grad.numpy()))
        for a, b in zip(*got):
            assert np.array_equal(a, b)


def test_create_graph_gradients_are_cast_as_the_first_order_ones() -> None:
    ours, theirs = [], []
    for L, out in ((mg, ours), (torch, theirs)):
        P = {k: L.tensor(ARRAYS[k].copy(), requires_grad=True) for k in ("x", "W", "s")}
        h = _h(P)
        seen = []
        h.register_hook(lambda g, seen=seen: seen.append(g.dtype))
        grads = L.autograd.grad((h * P["s"]).sum(), list(P.values()), create_graph=True)
        sum((g * g).sum() for g in grads).backward()
        out.extend([seen, *(g.detach().numpy() for g in grads), *(p.grad.numpy() for p in P.values())])
    assert str(ours[0][0]) == "float16" and str(theirs[0][0]) == "torch.float16"
    for got, want in zip(ours[1:4], theirs[1:4]):
        assert np.array_equal(_bits(got), _bits(want))
    for got, want in zip(ours[4:], theirs[4:]):
        assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_a_float16_leaf_used_twice_sums_float16_gradients() -> None:
    """Each use's gradient is cast before the two are added (in float16), as PyTorch's AccumulateGrad sees them;
    a hook on the leaf sees the float16 sum."""
    h0 = RNG.standard_normal((4, 5)).astype(np.float16)
    w0, u0 = RNG.standard_normal(5).astype(np.float32) * 3, RNG.standard_normal((4, 5)).astype(np.float32)
    out = []
    for L in (mg, torch):
        h = L.tensor(h0.copy(), requires_grad=True)
        seen = []
        h.register_hook(lambda g, seen=seen: seen.append(g.dtype))
        ((h * L.tensor(w0)).sum() + (h.exp() * L.tensor(u0)).sum()).backward()
        out.append((h.grad.numpy(), str(seen[0]).split(".")[-1]))
    assert out[0][1] == out[1][1] == "float16"
    assert np.array_equal(_bits(out[0][0]), _bits(out[1][0]))


def test_a_half_module_meeting_float32_values_gets_pytorchs_gradients() -> None:
    """``module.half()`` then float32 values after it: the float16 layer's gradients are PyTorch's bit for bit."""
    rng = np.random.default_rng(5)
    x0, s0 = rng.standard_normal((4, 6)).astype(np.float16), rng.standard_normal(3).astype(np.float32) * 4
    weight, bias = np.linspace(-1, 1, 18, dtype=np.float32).reshape(3, 6), np.array([0.1, -0.2, 0.3], np.float32)
    grads = []
    for L in (mg, torch):
        layer = L.nn.Linear(6, 3)
        with L.no_grad():
            layer.weight.copy_(L.tensor(weight))
            layer.bias.copy_(L.tensor(bias))
        layer.half()
        ((layer(L.tensor(x0)).tanh() * L.tensor(s0)).sum()).backward()
        grads.append((layer.weight.grad.numpy(), layer.bias.grad.numpy()))
    for got, want in zip(*grads):
        assert got.dtype == want.dtype == np.float16
        assert np.array_equal(_bits(got), _bits(want))


@pytest.mark.parametrize("loss", ["mse_loss", "l1_loss", "smooth_l1_loss"])
@pytest.mark.parametrize("shape", [(12,), (40, 1)])
def test_a_broadcast_float16_target_is_expanded_first(loss: str, shape: tuple) -> None:
    """PyTorch's pointwise losses expand input and target to one shape first: the float16 target's gradient is then
    rounded per element before the expansion sums it (it was summed in float32 and rounded once: 1 step off)."""
    rng = np.random.default_rng(len(shape))
    a, b = rng.standard_normal((40, 12)).astype(np.float32), rng.standard_normal(shape).astype(np.float16)
    got = []
    for L in (mg, torch):
        x, y = L.tensor(a, requires_grad=True), L.tensor(b, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # both warn of the broadcast
            getattr(L.nn.functional, loss)(x, y).backward()
        got.append((x.grad.numpy(), y.grad.numpy()))
    for ours, theirs in zip(*got):
        assert ours.dtype == theirs.dtype and np.array_equal(_bits(ours), _bits(theirs))


def test_programs_of_one_dtype_each_leave_the_gate_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """A float32 program and a float64 one in the same process pay nothing (the shape cache's hit stays one test;
    the float64 one's outputs miss once float32 ones were recorded: tests/autograd/test_mixed_dtype_hits_round25.py);
    a float16 tensor made to require grad, a module cast to float16, or a cast of a tensor that needs grad turns the
    gate on for the ops that follow."""
    monkeypatch.setattr(engine._COMPLEX, "live", False)   # as in a process that never recorded complex graphs
    monkeypatch.setattr(engine._DTYPES, "live", False)
    monkeypatch.setattr(engine, "_PLAIN", True)
    for dtype in (mg.float32, mg.float64):
        x = mg.ones(3, 4, dtype=dtype, requires_grad=True)
        ((x * 2).exp().sum(0) * mg.ones(4, dtype=dtype)).sum().backward()
    assert not engine._DTYPES.live and engine._PLAIN
    mg.zeros(2, dtype=mg.float16, requires_grad=True)
    assert engine._DTYPES.live and not engine._PLAIN
    monkeypatch.setattr(engine._DTYPES, "live", False)
    monkeypatch.setattr(engine, "_PLAIN", True)
    nn.Linear(2, 2).half()
    assert engine._DTYPES.live and not engine._PLAIN
    monkeypatch.setattr(engine._DTYPES, "live", False)
    monkeypatch.setattr(engine, "_PLAIN", True)
    x = mg.ones(3, 4, requires_grad=True)
    (x.double().exp() + x).sum().backward()   # the cast, then float32 meeting float64 on a cache hit
    assert engine._DTYPES.live and x.grad.dtype == mg.float32
