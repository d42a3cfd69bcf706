"""The fused LSTM/GRU step ops against the same math composed from primitive ops.

Also runs the CUDA kernel sources of ``minigrad.ops.fused`` on the host: the
kernel bodies are compiled with the system C++ compiler inside a loop that
declares the arguments as CuPy's ``ElementwiseKernel`` does, and the ops' CuPy
branch is driven through that emulation, so the GPU path's arithmetic,
argument order and output handling are checked without a GPU.
"""

from __future__ import annotations

import types

import numpy as np
import pytest

import minigrad as mg
from minigrad import backend
from minigrad.ops import fused
from minigrad.ops.fused import GRUGates, LSTMGates, gru_gates, lstm_gates
from tests.support.host_kernels import CXX, HostElementwiseKernel

TOL = {"float64": dict(rtol=1e-12, atol=1e-12), "float32": dict(rtol=1e-5, atol=1e-6)}


def _leaf(array: np.ndarray) -> mg.Tensor:
    return mg.tensor(array.copy(), requires_grad=True)


def _lstm_primitive(gates: mg.Tensor, c: mg.Tensor) -> tuple:
    i, f, g, o = gates.chunk(4, axis=-1)
    c_new = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c_new.tanh(), c_new


def _gru_primitive(gi: mg.Tensor, gh: mg.Tensor, h: mg.Tensor) -> mg.Tensor:
    x_r, x_z, x_n = gi.chunk(3, axis=-1)
    h_r, h_z, h_n = gh.chunk(3, axis=-1)
    r = (x_r + h_r).sigmoid()
    z = (x_z + h_z).sigmoid()
    n = (x_n + r * h_n).tanh()
    return (1 - z) * n + z * h


def _weighted_loss(outputs: list, weights: list) -> mg.Tensor:
    loss = None
    for y, w in zip(outputs, weights):
        term = (y * mg.tensor(w, dtype=y.dtype)).sum()
        loss = term if loss is None else loss + term
    return loss


def _random_shape(rng: np.random.Generator) -> tuple:
    lead = tuple(int(s) for s in rng.integers(1, 5, size=int(rng.integers(1, 3))))
    return lead, int(rng.integers(1, 7))


# --- values and gradients equal the primitive-op composition ---------------------

@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("used", ["both", "h", "c"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lstm_gates_equals_primitive_ops(dtype: str, used: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    lead, hidden = _random_shape(rng)
    gates = (3 * rng.standard_normal(lead + (4 * hidden,))).astype(dtype)
    c = rng.standard_normal(lead + (hidden,)).astype(dtype)
    pick = {"both": (0, 1), "h": (0,), "c": (1,)}[used]
    weights = [rng.standard_normal(lead + (hidden,)) for _ in pick]

    results = []
    for fn in (lstm_gates, _lstm_primitive):
        g_leaf, c_leaf = _leaf(gates), _leaf(c)
        outputs = fn(g_leaf, c_leaf)
        _weighted_loss([outputs[k] for k in pick], weights).backward()
        results.append((outputs, g_leaf.grad, c_leaf.grad))
    (fused_out, fused_dg, fused_dc), (prim_out, prim_dg, prim_dc) = results
    for a, b in zip(fused_out, prim_out):
        assert a.dtype == b.dtype == np.dtype(dtype) and a.shape == b.shape
        np.testing.assert_allclose(a.numpy(), b.numpy(), **TOL[dtype])
    assert fused_dg.dtype == np.dtype(dtype) and fused_dc.dtype == np.dtype(dtype)
    np.testing.assert_allclose(fused_dg.numpy(), prim_dg.numpy(), **TOL[dtype], err_msg="grad of gates")
    np.testing.assert_allclose(fused_dc.numpy(), prim_dc.numpy(), **TOL[dtype], err_msg="grad of c")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gru_gates_equals_primitive_ops(dtype: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    lead, hidden = _random_shape(rng)
    gi = (2 * rng.standard_normal(lead + (3 * hidden,))).astype(dtype)
    gh = (2 * rng.standard_normal(lead + (3 * hidden,))).astype(dtype)
    h = rng.standard_normal(lead + (hidden,)).astype(dtype)
    weights = [rng.standard_normal(lead + (hidden,))]

    results = []
    for fn in (gru_gates, _gru_primitive):
        leaves = [_leaf(gi), _leaf(gh), _leaf(h)]
        out = fn(*leaves)
        _weighted_loss([out], weights).backward()
        results.append((out, [x.grad for x in leaves]))
    (fused_out, fused_grads), (prim_out, prim_grads) = results
    assert fused_out.dtype == np.dtype(dtype) and fused_out.shape == lead + (hidden,)
    np.testing.assert_allclose(fused_out.numpy(), prim_out.numpy(), **TOL[dtype])
    for name, a, b in zip(("gi", "gh", "h"), fused_grads, prim_grads):
        assert a.dtype == np.dtype(dtype)
        np.testing.assert_allclose(a.numpy(), b.numpy(), **TOL[dtype], err_msg=f"grad of {name}")


def test_gradcheck_lstm_gates() -> None:
    gates = mg.randn(3, 12, dtype=mg.float64, requires_grad=True)
    c = mg.randn(3, 3, dtype=mg.float64, requires_grad=True)
    assert mg.gradcheck(lambda g, s: lstm_gates(g, s), [gates, c])
    assert mg.gradcheck(lambda g, s: lstm_gates(g, s)[0], [gates, c])
    assert mg.gradcheck(lambda g, s: lstm_gates(g, s)[1], [gates, c])


def test_gradcheck_gru_gates() -> None:
    gi = mg.randn(2, 2, 9, dtype=mg.float64, requires_grad=True)
    gh = mg.randn(2, 2, 9, dtype=mg.float64, requires_grad=True)
    h = mg.randn(2, 2, 3, dtype=mg.float64, requires_grad=True)
    assert mg.gradcheck(gru_gates, [gi, gh, h])


def test_only_some_inputs_want_gradients() -> None:
    gates = mg.randn(2, 8, dtype=mg.float64, requires_grad=True)
    c = mg.randn(2, 2, dtype=mg.float64)                       # a constant: no gradient asked
    h_new, _ = lstm_gates(gates, c)
    h_new.sum().backward()
    assert gates.grad is not None and c.grad is None
    gi, gh = mg.randn(2, 6, dtype=mg.float64), mg.randn(2, 6, dtype=mg.float64, requires_grad=True)
    h = mg.randn(2, 2, dtype=mg.float64, requires_grad=True)
    gru_gates(gi, gh, h).sum().backward()
    assert gi.grad is None and gh.grad is not None and h.grad is not None


# --- one node, named, with the graph's usual bookkeeping ---------------------------

def test_fused_ops_are_single_named_nodes() -> None:
    gates = mg.randn(2, 8, requires_grad=True)
    c = mg.randn(2, 2, requires_grad=True)
    with mg.name_scope("t0"):
        h_new, c_new = lstm_gates(gates, c)
    node = h_new._node
    assert node is c_new._node and node.name == "lstm_gates" and node.scope == "t0"
    assert (h_new._index, c_new._index) == (0, 1)
    assert node.edges == (gates, c)                           # straight to the leaves: one node
    assert node.out_meta == (((2, 2), np.dtype("float32")), ((2, 2), np.dtype("float32")))

    gi, gh, h = mg.randn(2, 6, requires_grad=True), mg.randn(2, 6, requires_grad=True), mg.randn(2, 2)
    out = gru_gates(gi, gh, h)
    assert out._node.name == "gru_gates" and out._node.edges == (gi, gh, None)
    with mg.no_grad():
        assert gru_gates(gi, gh, h)._node is None


def test_fused_backward_does_not_write_into_incoming_gradients() -> None:
    gates = mg.randn(3, 8, dtype=mg.float64, requires_grad=True)
    c = mg.randn(3, 2, dtype=mg.float64, requires_grad=True)
    h_new, c_new = lstm_gates(gates, c)
    grad_h, grad_c = np.ones((3, 2)), np.full((3, 2), 0.5)
    op = h_new._node
    op.backward(grad_h, grad_c)
    op.backward(None, grad_c)
    np.testing.assert_array_equal(grad_h, np.ones((3, 2)))
    np.testing.assert_array_equal(grad_c, np.full((3, 2), 0.5))


# --- errors name the op, the shapes and the dtypes ------------------------------

def test_lstm_gates_rejects_bad_shapes_and_dtypes() -> None:
    c = mg.randn(2, 3)
    with pytest.raises(ValueError, match=r"lstm_gates: gates must have shape \(2, 12\).*gates \(2, 10\), c \(2, 3\)"):
        lstm_gates(mg.randn(2, 10), c)
    with pytest.raises(ValueError, match=r"lstm_gates: gates must have shape \(2, 12\)"):
        lstm_gates(mg.randn(4, 12), c)
    with pytest.raises(TypeError, match="lstm_gates: .*gates float64, c float32"):
        lstm_gates(mg.randn(2, 12, dtype=mg.float64), c)
    with pytest.raises(TypeError, match="lstm_gates: .*int64"):
        lstm_gates(mg.zeros(2, 12, dtype=mg.int64), mg.zeros(2, 3, dtype=mg.int64))


def test_gru_gates_rejects_bad_shapes() -> None:
    h = mg.randn(2, 3)
    with pytest.raises(ValueError, match=r"gru_gates: gh must have shape \(2, 9\)"):
        gru_gates(mg.randn(2, 9), mg.randn(2, 12), h)


# --- the CUDA kernels, run on the host ------------------------------------------

@pytest.fixture
def host_kernels(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> types.SimpleNamespace:
    """A stand-in ``cupy`` module: NumPy arrays plus ElementwiseKernel run on the host."""
    if CXX is None:
        pytest.skip("no C++ compiler (g++/clang++) to build the CUDA kernel bodies on the host")
    HostElementwiseKernel.cache_dir = tmp_path_factory.getbasetemp() / "fused_kernels"
    HostElementwiseKernel.cache_dir.mkdir(exist_ok=True)
    fake = types.SimpleNamespace(**{name: getattr(np, name) for name in ("ascontiguousarray", "empty", "zeros")})
    fake.ElementwiseKernel = HostElementwiseKernel
    monkeypatch.setattr(backend, "cupy_module", lambda required=True: fake)
    monkeypatch.setattr(fused, "_compiled", {})
    return fake


def _run_op(op: mg.Function, xp: object, arrays: list, grads: list, needs: tuple) -> tuple:
    op.xp, op.needs_grad = xp, needs
    out = op.forward(*arrays)
    return out, (op.backward(*grads) if op.multiple else op.backward(grads[0]))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lstm_kernels_match_host_path(host_kernels: types.SimpleNamespace, dtype: str) -> None:
    rng = np.random.default_rng(3)
    gates = (3 * rng.standard_normal((3, 2, 20))).astype(dtype)
    c = rng.standard_normal((3, 2, 5)).astype(dtype)
    grad_h, grad_c = (rng.standard_normal((3, 2, 5)).astype(dtype) for _ in range(2))
    for grads in ([grad_h, grad_c], [grad_h, None], [None, grad_c], [np.broadcast_to(grad_h[0], c.shape), None]):
        for needs in ((True, True), (True, False)):
            want_out, want_grads = _run_op(LSTMGates(), np, [gates, c], grads, needs)
            got_out, got_grads = _run_op(LSTMGates(), host_kernels, [gates, c], grads, needs)
            for got, want in zip(got_out + got_grads, want_out + want_grads):
                if want is None:
                    assert got is None
                    continue
                assert got.dtype == want.dtype and got.shape == want.shape
                np.testing.assert_allclose(got, want, **TOL[dtype])
    assert fused._compiled["lstm_forward"].calls == 8 and fused._compiled["lstm_backward"].calls == 8


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gru_kernels_match_host_path(host_kernels: types.SimpleNamespace, dtype: str) -> None:
    rng = np.random.default_rng(4)
    gi = (2 * rng.standard_normal((4, 12))).astype(dtype)
    gh = (2 * rng.standard_normal((4, 12)))[:, ::-1].astype(dtype)   # non-contiguous: made contiguous for raw use
    h = rng.standard_normal((4, 4)).astype(dtype)
    grad = rng.standard_normal((4, 4)).astype(dtype)
    for needs in ((True, True, True), (False, True, False)):
        want_out, want_grads = _run_op(GRUGates(), np, [gi, gh, h], [grad], needs)
        got_out, got_grads = _run_op(GRUGates(), host_kernels, [gi, gh, h], [grad], needs)
        np.testing.assert_allclose(got_out, want_out, **TOL[dtype])
        for got, want in zip(got_grads, want_grads):
            if want is None:
                assert got is None
            else:
                np.testing.assert_allclose(got, want, **TOL[dtype])


def test_kernels_are_built_once(host_kernels: types.SimpleNamespace) -> None:
    gates, c = np.zeros((1, 4)), np.zeros((1, 1))
    _run_op(LSTMGates(), host_kernels, [gates, c], [c, None], (True, True))
    first = fused._compiled["lstm_forward"]
    _run_op(LSTMGates(), host_kernels, [gates, c], [c, None], (True, True))
    assert fused._compiled["lstm_forward"] is first and first.calls == 2


# --- the recurrent layers with fused=True ------------------------------------------

def _layer_run(layer_cls: type, fused_flag: bool, x: np.ndarray, lengths: list | None, **kwargs: object) -> tuple:
    mg.manual_seed(7)
    layer = layer_cls(x.shape[-1], 5, fused=fused_flag, dtype=mg.float64, **kwargs)
    inputs = mg.tensor(x, requires_grad=True)
    output, state = layer(inputs, lengths=lengths)
    states = state if isinstance(state, tuple) else (state,)
    loss = (output * output).sum() + sum((s * s).sum() * (k + 2) for k, s in enumerate(states))
    loss.backward()
    grads = {name: p.grad.numpy() for name, p in layer.named_parameters()}
    return output.numpy(), [s.numpy() for s in states], inputs.grad.numpy(), grads


@pytest.mark.parametrize("layer_name", ["LSTM", "GRU"])
@pytest.mark.parametrize("kwargs, lengths", [
    ({}, None),
    ({"num_layers": 2, "bidirectional": True}, [4, 2, 3]),
])
def test_recurrent_layers_fused_equal_primitive(layer_name: str, kwargs: dict, lengths: list | None) -> None:
    nn = pytest.importorskip("nn")
    layer_cls = getattr(nn, layer_name)
    x = np.random.default_rng(5).standard_normal((4, 3, 6))
    out_p, states_p, dx_p, grads_p = _layer_run(layer_cls, False, x, lengths, **kwargs)
    out_f, states_f, dx_f, grads_f = _layer_run(layer_cls, True, x, lengths, **kwargs)
    np.testing.assert_allclose(out_f, out_p, rtol=1e-12, atol=1e-12)
    for a, b in zip(states_f, states_p):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx_f, dx_p, rtol=1e-12, atol=1e-12)
    assert grads_f.keys() == grads_p.keys()
    for name in grads_p:
        np.testing.assert_allclose(grads_f[name], grads_p[name], rtol=1e-12, atol=1e-12, err_msg=name)


def test_fused_layer_records_one_gate_node_per_step() -> None:
    nn = pytest.importorskip("nn")
    layer = nn.LSTM(3, 4, fused=True)
    output, _ = layer(mg.randn(5, 2, 3))
    names, stack, seen = [], [output._node], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        names.append(node.name)
        stack.extend(edge[0] for edge in node.edges if type(edge) is tuple)
    assert names.count("lstm_gates") == 5
    assert "sigmoid" not in names and "tanh" not in names
