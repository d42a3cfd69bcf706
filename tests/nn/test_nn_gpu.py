"""The newer nn pieces on the GPU give the CPU's numbers: GELU, pad, one_hot, LayerNorm, losses, load, DataLoader.

Marked ``gpu``: a real GPU where there is one, else the strict CuPy stand-in (tests/conftest.py).
"""

from __future__ import annotations

import io

import numpy as np
import pytest

import minigrad as mg
import nn
from minigrad.utils.data import DataLoader, TensorDataset

pytestmark = pytest.mark.gpu
F = nn.functional
RNG = np.random.default_rng(21)


def run(fn, arrays: list, device: str) -> tuple[list, list]:
    leaves = [mg.tensor(a, requires_grad=a.dtype.kind == "f", device=device) for a in arrays]
    out = fn(*leaves)
    assert out.device.type == device
    if out.requires_grad:
        weights = np.linspace(-1, 1, int(np.prod(out.shape))).reshape(out.shape)
        (out * mg.tensor(weights, dtype=out.dtype, device=device)).sum().backward()
    return out.numpy(), [None if x.grad is None else x.grad.numpy() for x in leaves]


CASES = {
    "gelu": (lambda x: F.gelu(x), [RNG.standard_normal((3, 5)) * 3]),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), [RNG.standard_normal((4,))]),
    "pad_constant": (lambda x: F.pad(x, (1, 2, -1, 1), value=0.5), [RNG.standard_normal((3, 4))]),
    "pad_reflect": (lambda x: F.pad(x, (2, 1), mode="reflect"), [RNG.standard_normal((2, 3, 5))]),
    "pad_circular": (lambda x: F.pad(x, (1, 3), mode="circular"), [RNG.standard_normal((2, 3, 5))]),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, (5,), w, b), [RNG.standard_normal((3, 5)), RNG.random(5),
                                                                 RNG.standard_normal(5)]),
    "one_hot": (lambda t: F.one_hot(t, 6), [RNG.integers(0, 6, (3, 2))]),
    "cross_entropy_soft": (lambda x, p: F.cross_entropy(x, p, label_smoothing=0.1),
                           [RNG.standard_normal((4, 3)), RNG.dirichlet(np.ones(3), 4)]),
    "bce_pos_weight": (lambda x, y: nn.BCEWithLogitsLoss(pos_weight=mg.ones(3, device=x.device) * 2)(x, y),
                       [RNG.standard_normal((2, 3)), RNG.random((2, 3))]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_function_on_gpu_matches_cpu(case: str) -> None:
    fn, arrays = CASES[case]
    arrays = [a.astype(np.float32) if a.dtype.kind == "f" else a for a in arrays]
    (cpu_out, cpu_grads), (gpu_out, gpu_grads) = run(fn, arrays, "cpu"), run(fn, arrays, "cuda")
    np.testing.assert_allclose(gpu_out, cpu_out, rtol=1e-5, atol=1e-6)
    for a, b in zip(gpu_grads, cpu_grads):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_modules_with_buffers_move_to_the_gpu() -> None:
    norm = nn.LayerNorm(4).to("cuda")
    loss = nn.CrossEntropyLoss(weight=[1.0, 2.0, 0.5]).to("cuda")
    assert norm.weight.device.type == "cuda" and loss.weight.device.type == "cuda"
    x = mg.randn(2, 4, device="cuda")
    value = loss(nn.Linear(4, 3).to("cuda")(norm(x)), mg.tensor([0, 2], device="cuda"))
    assert value.device.type == "cuda" and np.isfinite(value.item())


def test_load_to_the_gpu_and_collate_on_the_default_device() -> None:
    buffer = io.BytesIO()
    mg.save({"w": mg.randn(3, 2), "step": 4}, buffer)
    buffer.seek(0)
    back = mg.load(buffer, map_location="cuda")
    assert back["w"].device.type == "cuda" and back["step"] == 4
    dataset = TensorDataset(mg.randn(6, 2, device="cuda"), mg.arange(6, device="cuda"))
    x, y = next(iter(DataLoader(dataset, batch_size=4, shuffle=True)))
    assert x.device.type == "cuda" and y.device.type == "cuda" and x.shape == (4, 2)
