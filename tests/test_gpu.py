"""GPU (CuPy) runs against the CPU (NumPy) run of the same code.

Every test here carries ``@pytest.mark.gpu`` and is skipped, with the reason,
where CuPy or a GPU is missing (see tests/conftest.py). On a GPU machine::

    python -m pytest -m gpu tests/test_gpu.py

Each check builds the same inputs/weights on the host, runs once on ``cpu``
and once on ``cuda``, and compares values and gradients to float32 tolerance.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
from minigrad.ops import fused
from minigrad.ops.fused import gru_gates, lstm_gates

pytestmark = pytest.mark.gpu

RTOL, ATOL = 1e-4, 1e-5
ROOT = Path(__file__).resolve().parents[1]


def _stand_in() -> bool:
    """True when the GPU of these tests is the strict CuPy stand-in (no real GPU on this machine)."""
    from minigrad import backend  # noqa: PLC0415

    return bool(getattr(backend._cupy, "is_strict_stand_in", False))


def _nn() -> Any:
    import nn  # noqa: PLC0415 - the nn library is optional for the engine-only checks

    return nn


def _flat(result: Any) -> list:
    if isinstance(result, mg.Tensor):
        return [result]
    return [t for item in result for t in _flat(item)]


def _on_gpu(t: mg.Tensor) -> bool:
    # a CuPy array, or the strict stand-in's device array on machines without a GPU
    return t.device.type == "cuda" and type(t.data) is not np.ndarray and mg.is_array(t.data)


def _is_on(t: mg.Tensor, device: str) -> bool:
    return _on_gpu(t) if device == "cuda" else t.device == "cpu"


def _run(fn: Callable, arrays: list, device: str) -> tuple[list, list]:
    """Outputs and input gradients (host arrays) of fn on ``device``; float inputs require grad."""
    leaves = [mg.tensor(a, requires_grad=a.dtype.kind == "f", device=device) for a in arrays]
    outputs = _flat(fn(*leaves))
    rng = np.random.default_rng(1)
    loss = None
    for y in outputs:
        assert _is_on(y, device), f"output on {y.device}, expected {device}"
        if y.requires_grad:
            w = mg.tensor(rng.standard_normal(y.shape), dtype=y.dtype, device=device)
            term = (y * w).sum()
            loss = term if loss is None else loss + term
    if loss is not None:
        loss.backward()
    grads = [None if x.grad is None else x.grad.numpy() for x in leaves]
    for x in leaves:
        assert x.grad is None or x.grad.device == x.device
    return [y.numpy() for y in outputs], grads


def _assert_same(cpu: tuple, gpu: tuple, rtol: float = RTOL, atol: float = ATOL) -> None:
    (out_c, grad_c), (out_g, grad_g) = cpu, gpu
    assert len(out_c) == len(out_g)
    for k, (a, b) in enumerate(zip(out_g, out_c)):
        assert a.dtype == b.dtype and a.shape == b.shape, f"output {k}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"output {k}")
    for k, (a, b) in enumerate(zip(grad_g, grad_c)):
        if b is None:
            assert a is None, f"input {k}: gradient on GPU only"
            continue
        assert a is not None and a.dtype == b.dtype, f"input {k}: gradient missing or of another dtype on GPU"
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"grad of input {k}")


# --- every op: forward and backward on GPU equal the CPU run -----------------------

_rng = np.random.default_rng(0)


def _r(*shape: int) -> np.ndarray:
    return _rng.standard_normal(shape).astype(np.float32)


def _pos(*shape: int) -> np.ndarray:
    return np.abs(_r(*shape)) + 0.5


def _F() -> Any:
    return _nn().functional


_MASK = _rng.standard_normal((3, 4)) > 0

OP_CASES = [
    ("add_broadcast", lambda a, b: a + b, [_r(3, 4), _r(4)]),
    ("sub_broadcast", lambda a, b: a - b, [_r(3, 1), _r(1, 4)]),
    ("mul", lambda a, b: a * b, [_r(3, 4), _r(3, 4)]),
    ("div", lambda a, b: a / b, [_r(3, 4), _pos(3, 4)]),
    ("scalar_arith", lambda a: (2.5 - a) * 3 / (a * a + 1), [_r(3, 4)]),
    ("pow_int", lambda a: a ** 3, [_r(3, 4)]),
    ("pow_square", lambda a: a ** 2, [_r(3, 4)]),
    ("rpow", lambda a: 2.0 ** a, [_r(3, 4)]),
    ("pow_tensors", lambda a, b: a ** b, [_pos(3, 4), _r(3, 4)]),
    ("neg", lambda a: -a, [_r(3, 4)]),
    ("exp", mg.exp, [_r(3, 4)]),
    ("log", mg.log, [_pos(3, 4)]),
    ("tanh", mg.tanh, [2 * _r(3, 4)]),
    ("sigmoid", mg.sigmoid, [4 * _r(3, 4)]),
    ("relu", mg.relu, [_r(3, 4)]),
    ("abs", mg.abs, [_r(3, 4)]),
    ("sqrt", mg.sqrt, [_pos(3, 4)]),
    ("clip", lambda a: mg.clip(a, -0.5, 0.5), [_r(3, 4)]),
    ("clip_low_only", lambda a: a.clip(min=0.1), [_r(3, 4)]),
    ("maximum", mg.maximum, [_r(3, 4), _r(3, 4)]),
    ("minimum", mg.minimum, [_r(3, 4), _r(4)]),
    ("where", lambda a, b: mg.where(a > 0, a, b), [_r(3, 4), _r(3, 4)]),
    ("sum_all", lambda a: a.sum(), [_r(3, 4)]),
    ("sum_axis", lambda a: a.sum(axis=1), [_r(3, 4)]),
    ("mean_keepdims", lambda a: a.mean(axis=(0, 2), keepdims=True), [_r(2, 3, 4)]),
    ("max_axis", lambda a: a.max(axis=0), [_r(3, 4)]),
    ("min_all", lambda a: a.min(), [_r(3, 4)]),
    ("var_ddof", lambda a: mg.var(a, axis=1, ddof=1), [_r(3, 4)]),
    ("logsumexp", lambda a: mg.logsumexp(a, axis=-1), [3 * _r(3, 4)]),
    ("softmax", lambda a: mg.softmax(a, axis=0), [_r(3, 4)]),
    ("log_softmax", lambda a: mg.log_softmax(a, axis=-1), [_r(3, 4)]),
    ("matmul", mg.matmul, [_r(3, 4), _r(4, 5)]),
    ("matmul_batch_shared_weight", mg.matmul, [_r(2, 3, 4), _r(4, 5)]),
    ("matmul_batched", mg.matmul, [_r(2, 3, 4), _r(2, 4, 5)]),
    ("matmul_vector_matrix", mg.matmul, [_r(4), _r(4, 5)]),
    ("matmul_dot", mg.matmul, [_r(4), _r(4)]),
    ("step_matmul", lambda h, w: mg.step_matmul(h, w.T, w.T.detach().contiguous()), [_r(3, 4), _r(5, 4)]),
    ("step_addmm", lambda c, h, w: mg.step_addmm(c, h, w.T, w.T.detach().contiguous()),
     [_r(5), _r(3, 4), _r(5, 4)]),
    ("addcmul", lambda a, b, c: mg.addcmul(a, b, c), [_r(4), _r(3, 4), _r(3, 1)]),
    ("select_scatter", lambda a, b: mg.select_scatter(a, b, 1, 2), [_r(3, 4), _r(3)]),
    ("slice_scatter", lambda a, b: mg.slice_scatter(a, b, 0, 1, 3), [_r(3, 4), _r(2, 4)]),
    ("diagonal_scatter", lambda a, b: mg.diagonal_scatter(a, b, 1), [_r(3, 4), _r(3)]),
    ("gradient", lambda a: mg.gradient(a, spacing=0.5, dim=1, edge_order=2)[0], [_r(3, 4)]),
    ("permute_copy", lambda a: mg.permute_copy(a, (1, 0)) * 2, [_r(3, 4)]),
    ("reshape", lambda a: a.reshape(4, 3), [_r(3, 4)]),
    ("transpose", lambda a: a.transpose(2, 0, 1), [_r(2, 3, 4)]),
    ("T", lambda a: a.T, [_r(3, 4)]),
    ("swapaxes", lambda a: mg.swapaxes(a, 0, 2), [_r(2, 3, 4)]),
    ("expand_dims", lambda a: mg.expand_dims(a, 1), [_r(3, 4)]),
    ("squeeze", lambda a: mg.squeeze(a, 1), [_r(3, 1, 4)]),
    ("broadcast_to", lambda a: mg.broadcast_to(a, (2, 3, 4)), [_r(3, 1)]),
    ("getitem_basic", lambda a: a[1:, ::2, None], [_r(3, 4)]),
    ("getitem_repeated_indices", lambda a: a[np.array([0, 2, 0, 0])], [_r(3, 4)]),
    ("getitem_index_pairs", lambda a: a[np.array([0, 1, 1]), np.array([2, 0, 2])], [_r(3, 4)]),
    ("getitem_bool_mask", lambda a: a[_MASK], [_r(3, 4)]),
    ("getitem_repeated_float64", lambda a: a.astype(mg.float64)[[1, 1, 2]], [_r(3, 4)]),
    ("concat", lambda a, b: mg.concat([a, b], axis=1), [_r(3, 4), _r(3, 2)]),
    ("stack", lambda a, b: mg.stack([a, b], axis=1), [_r(3, 4), _r(3, 4)]),
    ("split_points", lambda a: mg.split(a, [1, 3], axis=1), [_r(3, 4)]),
    ("split_one_used", lambda a: mg.split(a, 2, axis=1)[1], [_r(3, 4)]),
    ("chunk", lambda a: a.chunk(3, axis=0), [_r(3, 4)]),
    ("unbind", lambda a: mg.unbind(a, 1), [_r(3, 4)]),
    ("astype_float64", lambda a: a.astype(mg.float64) * 2, [_r(3, 4)]),
    ("lstm_gates", lstm_gates, [3 * _r(3, 16), _r(3, 4)]),
    ("lstm_gates_h_only", lambda g, c: lstm_gates(g, c)[0], [3 * _r(2, 3, 8), _r(2, 3, 2)]),
    ("lstm_gates_c_only", lambda g, c: lstm_gates(g, c)[1], [3 * _r(3, 8), _r(3, 2)]),
    ("gru_gates", gru_gates, [2 * _r(3, 12), 2 * _r(3, 12), _r(3, 4)]),
    ("embedding", lambda w: _F().embedding(np.array([[0, 2], [2, 2]]), w), [_r(4, 3)]),
    ("embedding_padding", lambda w: _F().embedding(np.array([0, 1, 1]), w, padding_idx=1), [_r(4, 3)]),
    ("linear", lambda x, w, b: _F().linear(x, w, b), [_r(5, 3), _r(4, 3), _r(4)]),
    ("cross_entropy", lambda x: _F().cross_entropy(x, np.array([0, 2, 1, 2])), [_r(4, 3)]),
    ("cross_entropy_ignore_sum", lambda x: _F().cross_entropy(x, np.array([0, -100, 1, 2]), reduction="sum"),
     [_r(4, 3)]),
    ("cross_entropy_nd", lambda x: _F().cross_entropy(x, np.array([[0, 1], [2, 2]])), [_r(2, 3, 2)]),
    ("mse_loss", lambda a, b: _F().mse_loss(a, b), [_r(3, 4), _r(3, 4)]),
    ("bce_with_logits", lambda a: _F().binary_cross_entropy_with_logits(a, np.array([[0.0, 1.0]] * 3)), [_r(3, 2)]),
]


@pytest.mark.parametrize("fn, arrays", [case[1:] for case in OP_CASES], ids=[case[0] for case in OP_CASES])
def test_op_on_gpu_equals_cpu(fn: Callable, arrays: list) -> None:
    _assert_same(_run(fn, arrays, "cpu"), _run(fn, arrays, "cuda"))


def test_fused_ops_use_the_cuda_kernels() -> None:
    fused._compiled.clear()
    gates, c = mg.randn(2, 8, device="cuda", requires_grad=True), mg.randn(2, 2, device="cuda", requires_grad=True)
    h_new, c_new = lstm_gates(gates, c)
    (h_new.sum() + c_new.sum()).backward()
    gi, gh = mg.randn(2, 6, device="cuda", requires_grad=True), mg.randn(2, 6, device="cuda", requires_grad=True)
    gru_gates(gi, gh, mg.randn(2, 2, device="cuda")).sum().backward()
    assert set(fused._compiled) == {"lstm_forward", "lstm_backward", "gru_forward", "gru_backward"}
    assert _on_gpu(gates.grad) and _on_gpu(gh.grad)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_ops_on_gpu_equal_primitive_ops_on_gpu(dtype: str) -> None:
    rng = np.random.default_rng(2)
    gates, c = (3 * rng.standard_normal((4, 20))).astype(dtype), rng.standard_normal((4, 5)).astype(dtype)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)

    def primitive_lstm(g: mg.Tensor, s: mg.Tensor) -> tuple:
        i, f, gg, o = g.chunk(4, axis=-1)
        c_new = f.sigmoid() * s + i.sigmoid() * gg.tanh()
        return o.sigmoid() * c_new.tanh(), c_new

    _assert_same(_run(primitive_lstm, [gates, c], "cuda"), _run(lstm_gates, [gates, c], "cuda"), **tol)

    gi, gh, h = (rng.standard_normal(s).astype(dtype) for s in ((4, 15), (4, 15), (4, 5)))

    def primitive_gru(a: mg.Tensor, b: mg.Tensor, s: mg.Tensor) -> mg.Tensor:
        x_r, x_z, x_n = a.chunk(3, axis=-1)
        h_r, h_z, h_n = b.chunk(3, axis=-1)
        r, z = (x_r + h_r).sigmoid(), (x_z + h_z).sigmoid()
        return (1 - z) * (x_n + r * h_n).tanh() + z * s

    _assert_same(_run(primitive_gru, [gi, gh, h], "cuda"), _run(gru_gates, [gi, gh, h], "cuda"), **tol)


# --- tensors, devices, random numbers ------------------------------------------------

def test_tensor_device_basics() -> None:
    x = mg.tensor([[1.0, 2.0], [3.0, 4.0]], device="cuda")
    assert _on_gpu(x) and x.device == "cuda:0" and x.dtype == mg.float32
    host = x.numpy()
    assert type(host) is np.ndarray
    host[0, 0] = 100.0                                   # a copy: the GPU array is unchanged
    assert x.numpy()[0, 0] == 1.0
    assert x.cpu().device == "cpu" and x.cpu().to("cuda").device == "cuda:0"
    assert float(x.sum().item()) == 10.0
    for make in (mg.zeros, mg.ones, mg.empty, mg.randn, mg.rand):
        assert _on_gpu(make(2, 3, device="cuda"))
    assert _on_gpu(mg.arange(5, device="cuda")) and _on_gpu(mg.randint(0, 5, (3,), device="cuda"))


def test_ops_across_devices_raise_naming_both() -> None:
    with pytest.raises(ValueError, match=r"cpu.*cuda:0|cuda:0.*cpu"):
        mg.ones(2) + mg.ones(2, device="cuda")


def test_to_device_is_differentiable() -> None:
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x.to("cuda")
    (y * y).sum().backward()
    assert x.grad.device == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 6.0])


def test_manual_seed_repeats_gpu_random_numbers() -> None:
    mg.manual_seed(11)
    a = mg.randn(4, 5, device="cuda").numpy()
    b = mg.rand(3, device="cuda").numpy()
    mg.manual_seed(11)
    np.testing.assert_array_equal(mg.randn(4, 5, device="cuda").numpy(), a)
    np.testing.assert_array_equal(mg.rand(3, device="cuda").numpy(), b)
    mg.manual_seed(12)
    assert not np.array_equal(mg.randn(4, 5, device="cuda").numpy(), a)


def test_dropout_draws_its_mask_on_the_gpu() -> None:
    x = mg.ones(1000, 10, device="cuda")
    y = _nn().functional.dropout(x, 0.25)
    assert _on_gpu(y)
    values = y.numpy()
    assert set(np.unique(values).tolist()) <= {0.0, float(np.float32(1 / 0.75))}
    assert 0.2 < (values == 0).mean() < 0.3


def test_default_device_cuda() -> None:
    mg.set_default_device("cuda")
    try:
        assert _on_gpu(mg.zeros(2)) and _on_gpu(mg.tensor([1.0])) and _on_gpu(_nn().Linear(2, 3).weight)
        # host arrays follow the default device too, as torch.tensor(ndarray) does; device arrays stay put
        assert _on_gpu(mg.tensor(np.ones(2))) and _on_gpu(mg.as_tensor(np.ones(2), device="cuda"))
        assert mg.tensor(np.ones(2), device="cpu").device == "cpu" and mg.from_numpy(np.ones(2)).device == "cpu"
    finally:
        mg.set_default_device("cpu")


# --- recurrent layers and cells ------------------------------------------------------

LAYER_CASES = [
    ("RNN", {}),
    ("RNN", {"nonlinearity": "relu", "num_layers": 2}),
    ("LSTM", {"num_layers": 2, "bidirectional": True}),
    ("LSTM", {"batch_first": True}),
    ("LSTM", {"peephole": True}),
    ("LSTM", {"coupled": True}),
    ("LSTM", {"fused": True, "bidirectional": True}),
    ("GRU", {"bidirectional": True}),
    ("GRU", {"fused": True, "num_layers": 2}),
]


def _layer_run(name: str, kwargs: dict, device: str, lengths: list | None, with_state: bool) -> tuple:
    nn = _nn()
    mg.manual_seed(0)                          # same weights: made on the host, then moved
    layer = getattr(nn, name)(6, 5, **kwargs).to(device)
    rng = np.random.default_rng(3)
    batch_first = kwargs.get("batch_first", False)
    x = rng.standard_normal((3, 7, 6) if batch_first else (7, 3, 6)).astype(np.float32)
    inputs = mg.tensor(x, requires_grad=True, device=device)
    state = None
    leaves = [inputs]
    if with_state:
        count = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
        states = [mg.tensor(rng.standard_normal((count, 3, 5)).astype(np.float32), requires_grad=True,
                            device=device) for _ in range(2 if name == "LSTM" else 1)]
        state = tuple(states) if name == "LSTM" else states[0]
        leaves += states
    output, final = layer(inputs, state, lengths=lengths)
    finals = _flat(final)
    loss = (output * output).sum() + sum((s * s).sum() * (k + 2) for k, s in enumerate(finals))
    loss.backward()
    assert all(_is_on(p.grad, device) for p in layer.parameters())
    values = [output.numpy()] + [s.numpy() for s in finals]
    grads = [x.grad.numpy() for x in leaves] + [p.grad.numpy() for _, p in layer.named_parameters()]
    return values, grads


@pytest.mark.parametrize("lengths, with_state", [(None, False), ([7, 4, 5], True)], ids=["full", "lengths_state"])
@pytest.mark.parametrize("name, kwargs", LAYER_CASES, ids=[f"{n}-{'-'.join(k) or 'plain'}" for n, k in LAYER_CASES])
def test_recurrent_layer_on_gpu_equals_cpu(name: str, kwargs: dict, lengths: list | None, with_state: bool) -> None:
    cpu = _layer_run(name, kwargs, "cpu", lengths, with_state)
    gpu = _layer_run(name, kwargs, "cuda", lengths, with_state)
    _assert_same(cpu, gpu, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("name, kwargs", [("RNNCell", {}), ("LSTMCell", {}), ("LSTMCell", {"fused": True}),
                                          ("GRUCell", {}), ("GRUCell", {"fused": True})])
def test_cell_on_gpu_equals_cpu(name: str, kwargs: dict) -> None:
    nn = _nn()

    def run(device: str) -> tuple:
        mg.manual_seed(0)
        cell = getattr(nn, name)(4, 3, **kwargs).to(device)
        x = mg.tensor(np.random.default_rng(4).standard_normal((2, 4)).astype(np.float32), requires_grad=True,
                      device=device)
        state = cell(x)
        state = cell(x, state)                 # two steps: the second uses the state
        sum(((s * s).sum() for s in _flat(state)), mg.zeros((), device=device)).backward()
        return [s.numpy() for s in _flat(state)], [x.grad.numpy()] + [p.grad.numpy() for p in cell.parameters()]

    _assert_same(run("cpu"), run("cuda"))


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_fused_layer_on_gpu_equals_primitive_layer_on_gpu(name: str) -> None:
    kwargs = {"num_layers": 2, "bidirectional": True}
    primitive = _layer_run(name, kwargs, "cuda", [7, 4, 5], True)
    fast = _layer_run(name, {**kwargs, "fused": True}, "cuda", [7, 4, 5], True)
    _assert_same(primitive, fast, rtol=2e-4, atol=2e-5)


def test_gate_kernels_generated_from_the_ops_code_equal_the_hand_written_ones() -> None:
    """``bench.gpu_fusion`` swaps ``LSTMGates``' hand-written kernels for two that ``cupy.fuse`` generates from the
    primitive ops' own forward/backward code: a 2-layer bidirectional LSTM over ragged lengths gives the same
    outputs and gradients (on the stand-in, whose ``fuse`` runs the traced functions op by op, too)."""
    from bench import gpu_fusion  # noqa: PLC0415 - the benchmark under test

    kwargs = {"num_layers": 2, "bidirectional": True, "fused": True}
    hand = _layer_run("LSTM", kwargs, "cuda", [7, 4, 5], True)
    with gpu_fusion.generated_gates(mg.backend.cupy_module()):
        generated = _layer_run("LSTM", kwargs, "cuda", [7, 4, 5], True)
    assert fused.LSTMGates._forward_kernel.__qualname__.startswith("LSTMGates")   # the hand-written ones are back
    _assert_same(hand, generated, rtol=1e-5, atol=1e-6)


def test_the_gpu_benchmarks_run(capsys: pytest.CaptureFixture) -> None:
    """``bench.gpu`` and ``bench.gpu_fusion``'s training steps, at a tiny size: every peer runs and they agree
    on the first-step loss (on the stand-in the timings mean nothing; on a GPU this is a smoke run)."""
    from bench import gpu, gpu_fusion  # noqa: PLC0415 - the benchmarks under test

    gpu.run([(2, 3, 4, 5)], repeats=1, warmup=1, device="cuda", lr=1e-4)
    gpu_fusion.time_training_steps(mg.backend.cupy_module(), [(2, 3, 4, 5)], repeats=1, warmup=1)
    text = capsys.readouterr().out
    assert "minigrad" in text and "fused" in text and "autotune" in text and "generated" in text
    spread = float(text.split("largest relative difference ")[1].split()[0])
    assert spread < 1e-3, text   # a sum of outputs near 0: cuDNN's float32 differs by 3.6e-5 relative on an H200


# --- optimizers, Module.to, a training step -------------------------------------------

def test_adam_step_on_gpu_equals_cpu() -> None:
    nn = _nn()

    def run(device: str) -> list:
        rng = np.random.default_rng(5)
        params = [nn.Parameter(mg.tensor(rng.standard_normal(s).astype(np.float32), device=device))
                  for s in ((4, 3), (3,))]
        optimizer = nn.optim.Adam(params, lr=0.01, weight_decay=0.1)
        for _ in range(3):
            for p in params:
                p.grad = mg.tensor(rng.standard_normal(p.shape).astype(np.float32), device=device)
            optimizer.step()
        assert all(_is_on(p, device) for p in params)
        return [p.numpy() for p in params]

    for a, b in zip(run("cuda"), run("cpu")):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


def test_module_to_cuda_moves_parameters_and_optimizer_state_follows() -> None:
    nn = _nn()

    def run(move_after_first_step: bool) -> list:
        mg.manual_seed(0)
        model = nn.Linear(3, 2)
        optimizer = nn.optim.Adam(model.parameters(), lr=0.05)
        x = np.random.default_rng(6).standard_normal((4, 3)).astype(np.float32)
        for step in range(3):
            if move_after_first_step and step == 1:
                params_before = list(model.parameters())
                model.to("cuda")
                assert all(a is b for a, b in zip(model.parameters(), params_before))   # same Parameters
                assert all(_on_gpu(p) for p in model.parameters())
            device = model.weight.device
            optimizer.zero_grad()
            loss = (model(mg.tensor(x, device=device)) ** 2).mean()
            loss.backward()
            optimizer.step()
        return [p.numpy() for p in model.parameters()]

    for a, b in zip(run(True), run(False)):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


def _seq2seq_run(device: str, steps: int = 3) -> tuple:
    nn = _nn()

    class Seq2Seq(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(12, 8, padding_idx=0)
            self.encoder = nn.LSTM(8, 16)
            self.decoder = nn.LSTM(8, 16)
            self.out = nn.Linear(16, 12)

        def forward(self, source: mg.Tensor, target_in: mg.Tensor) -> mg.Tensor:
            _, state = self.encoder(self.embed(source))
            decoded, _ = self.decoder(self.embed(target_in), state)
            return self.out(decoded)

    mg.manual_seed(0)
    model = Seq2Seq().to(device)
    optimizer = nn.optim.Adam(model.parameters(), lr=0.01)
    rng = np.random.default_rng(7)
    source = mg.tensor(rng.integers(1, 12, size=(6, 4)), device=device)         # (T, B)
    target = rng.integers(1, 12, size=(5, 4))
    target[-1, :2] = -100                                                      # ignored positions
    target_in = mg.tensor(np.where(target < 0, 0, target), device=device)       # 0: padding
    target_out = mg.tensor(target, device=device)
    losses, norms = [], []
    for _ in range(steps):
        optimizer.zero_grad()
        logits = model(source, target_in)
        loss = nn.functional.cross_entropy(logits.reshape(-1, 12), target_out.reshape(-1))
        loss.backward()
        norms.append(float(nn.utils.clip_grad_norm_(model.parameters(), 1.0).item()))
        optimizer.step()
        losses.append(float(loss.item()))
    assert all(_is_on(p, device) for p in model.parameters())
    return losses, norms, [p.numpy() for p in model.parameters()]


def test_seq2seq_training_step_on_gpu_equals_cpu() -> None:
    losses_c, norms_c, params_c = _seq2seq_run("cpu")
    losses_g, norms_g, params_g = _seq2seq_run("cuda")
    np.testing.assert_allclose(losses_g, losses_c, rtol=RTOL)
    np.testing.assert_allclose(norms_g, norms_c, rtol=RTOL)
    for a, b in zip(params_g, params_c):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
    assert losses_g[-1] < losses_g[0]


def test_seq2seq_example_runs_on_cuda(tmp_path: Path) -> None:
    if not (ROOT / "examples" / "seq2seq.py").exists():
        pytest.skip("examples/seq2seq.py is not in this checkout")
    # without a GPU the program runs on the strict CuPy stand-in, installed in the subprocess too
    runner = ["-m", "tests.support.run_with_strict_cupy"] if _stand_in() else ["-m"]
    result = subprocess.run(
        [sys.executable, *runner, "examples.seq2seq", "--device", "cuda", "--epochs", "1", "--pairs", "600",
         "--no-progress", "--no-graph", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_training_step_copies_nothing_between_host_and_device_but_the_loss(name: str) -> None:
    """A training step of a recurrent layer stays on the GPU: the only copy is the loss read back by .item()."""
    if not _stand_in():
        pytest.skip("copies are counted by the strict CuPy stand-in, used on machines without a GPU")
    from tests.support import strict_cupy  # noqa: PLC0415

    nn = _nn()
    mg.manual_seed(0)
    model = getattr(nn, name)(8, 16, num_layers=2, bidirectional=True).to("cuda")
    head = nn.Linear(32, 1).to("cuda")
    params = list(model.parameters()) + list(head.parameters())
    optimizer = nn.optim.Adam(params, lr=1e-3)
    x = mg.randn(5, 3, 8, device="cuda")
    y = mg.randn(3, 1, device="cuda")

    def step() -> float:
        optimizer.zero_grad()
        output, _ = model(x)
        loss = ((head(output[-1]) - y) ** 2).mean()
        loss.backward()
        nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        return loss.item()

    step()   # the first step creates the optimizer state
    strict_cupy.reset_copies()
    step()
    assert strict_cupy.copies == {"to_host": 1, "to_device": 0}
