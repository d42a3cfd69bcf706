"""``mg.compile(mode="max-autotune")``: a GPU capture's elementwise ops fused into generated kernels.

On a machine without a GPU these run against the strict CuPy stand-in, whose ``fuse`` runs the traced
functions op by op (so the values are eager's exactly); on a real GPU the kernels are ``cupy.fuse``'s and
the values agree to float32's or float64's last bits.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from helpers import REAL_GPU

import minigrad as mg
import nn
from minigrad import fusion


def _tolerance(dtype: Any) -> dict:
    if not REAL_GPU:
        return {"rtol": 0, "atol": 0}
    return {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-11, "atol": 1e-12}


def _train(layer: Any, x: np.ndarray, device: str, steps: int = 3, use_c: bool = True) -> list:
    """Forward/backward ``steps`` times (the first captures, the next replay): outputs and every gradient."""
    inputs = mg.tensor(x, device=device, requires_grad=True)
    results = []
    for _ in range(steps):
        layer.zero_grad()
        inputs.grad = None
        out, state = layer(inputs)
        h, c = state if isinstance(state, tuple) else (state, None)
        loss = (out * out).sum() + (h * h).sum()
        if use_c and c is not None:
            loss = loss + 2 * (c * c).sum()
        loss.backward()
        results.append([out.numpy(), h.numpy(), inputs.grad.numpy()] + [p.grad.numpy() for p in layer.parameters()])
    return results


def _layer(name: str, dtype: Any, device: str, **kwargs: Any) -> Any:
    mg.manual_seed(0)
    return getattr(nn, name)(6, 5, **kwargs).to(device=device, dtype=mg.float32 if dtype == np.float32 else mg.float64)


def _fused_names(compiled: Any) -> list[int]:
    return [sum(name == "fused" for name in program.names) for program in compiled.programs.values()]


@pytest.mark.gpu
@pytest.mark.parametrize("name, kwargs", [("LSTM", {"num_layers": 2, "bidirectional": True}), ("GRU", {}),
                                          ("RNN", {"nonlinearity": "tanh"})])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_layer_equals_eager(name: str, kwargs: dict, dtype: Any) -> None:
    x = np.random.default_rng(1).standard_normal((7, 3, 6)).astype(dtype)
    eager = _train(_layer(name, dtype, "cuda", **kwargs), x, "cuda")
    layer = _layer(name, dtype, "cuda", **kwargs)
    layer.compile(mode="max-autotune")
    fused = _train(layer, x, "cuda")
    for step_eager, step_fused in zip(eager, fused):
        for a, b in zip(step_fused, step_eager):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_allclose(a, b, **_tolerance(dtype))
    counts = _fused_names(layer._compiled_call)
    if name == "RNN":   # addmm then tanh: no run of two fusable ops
        assert counts == [0]
    else:   # every step of every layer and direction has its group(s)
        assert counts and all(count >= 7 * (4 if name == "LSTM" else 1) for count in counts), counts


@pytest.mark.gpu
def test_a_gradient_that_reaches_no_output_of_a_group_counts_as_zeros() -> None:
    x = np.random.default_rng(2).standard_normal((4, 2, 6))
    eager = _train(_layer("LSTM", np.float64, "cuda"), x, "cuda", use_c=False)
    layer = _layer("LSTM", np.float64, "cuda")
    layer.compile(mode="max-autotune")
    fused = _train(layer, x, "cuda", use_c=False)
    for a, b in zip(fused[-1], eager[-1]):
        np.testing.assert_allclose(a, b, **_tolerance(np.float64))


@pytest.mark.gpu
def test_user_cell_compiled_with_max_autotune_fuses_its_elementwise_chain() -> None:
    def cell(x: mg.Tensor, h: mg.Tensor, w: mg.Tensor) -> mg.Tensor:
        z = (x @ w).sigmoid()
        return z * h.tanh() + (1 - z) * h   # the constant 1 - z is left out of the group

    rng = np.random.default_rng(3)
    args = [mg.tensor(rng.standard_normal(shape), device="cuda", requires_grad=True)
            for shape in ((4, 3), (4, 5), (3, 5))]
    step = mg.compile(cell, mode="max-autotune")
    for _ in range(3):
        for a in args:
            a.grad = None
        step(*args).sum().backward()
    fused_grads = [a.grad.numpy() for a in args]
    for a in args:
        a.grad = None
    cell(*args).sum().backward()
    for got, expected in zip(fused_grads, (a.grad.numpy() for a in args)):
        np.testing.assert_allclose(got, expected, **_tolerance(np.float64))
    assert _fused_names(step) == [2]   # sigmoid, tanh, mul | 1 - z | mul, add


def test_a_capture_on_the_cpu_is_not_changed() -> None:
    layer = _layer("LSTM", np.float64, "cpu")
    layer.compile(mode="max-autotune")
    x = np.random.default_rng(4).standard_normal((5, 2, 6))
    fused = _train(layer, x, "cpu")
    eager = _train(_layer("LSTM", np.float64, "cpu"), x, "cpu")
    for a, b in zip(fused[-1], eager[-1]):
        np.testing.assert_array_equal(a, b)   # the default replay: bit-identical
    assert _fused_names(layer._compiled_call) == [0]


@pytest.mark.gpu
def test_the_drawing_shows_a_group_as_one_fused_node() -> None:
    layer = _layer("LSTM", np.float64, "cuda")
    layer.compile(mode="max-autotune")
    x = mg.tensor(np.ones((3, 2, 6)), device="cuda", requires_grad=True)
    for _ in range(4):   # captured, checked, then replayed
        out, _state = layer(x)
    assert type(out._node).__name__ == "Replay"
    source = mg.viz.draw(out.sum()).source
    assert "fused" in source and "sigmoid" not in source


def test_only_the_max_autotune_modes_fuse() -> None:
    assert mg.compile(lambda x: x, mode="max-autotune").fuse
    assert mg.compile(lambda x: x, mode="max-autotune-no-cudagraphs").fuse
    assert not mg.compile(lambda x: x).fuse and not mg.compile(lambda x: x, mode="reduce-overhead").fuse
    assert fusion.FusedOps.name == "fused"
