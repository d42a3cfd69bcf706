"""Devices: names, the default device (``set_default_device``, ``MINIGRAD_DEVICE``), CUDA requests
without CuPy, ops on two devices, seeding. GPU-only checks carry ``@pytest.mark.gpu``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad import backend, generators

ROOT = Path(__file__).resolve().parents[2]

cupy_usable = mg.cuda.is_available()
without_cuda = pytest.mark.skipif(cupy_usable, reason="CuPy and a GPU are usable here, so CUDA requests succeed")


def test_device_names() -> None:
    cpu = mg.device("cpu")
    assert cpu == "cpu" and cpu.type == "cpu" and cpu.index is None and repr(cpu) == "device('cpu')"
    assert mg.device(" CPU ") == "cpu" and mg.device(None) == "cpu" and mg.device(cpu) is cpu
    gpu = mg.device("cuda:2")
    assert gpu == "cuda:2" and gpu.type == "cuda" and gpu.index == 2
    assert mg.device("cuda").type == "cuda"
    for bad in ("tpu", "cuda:", "cuda:-1", "cuda:a", "cpu:a"):
        with pytest.raises(ValueError, match=rf"unknown device '{bad}'.*'cpu', 'cuda' or 'cuda:N'"):
            mg.device(bad)
    assert mg.device(3) == "cuda:3"   # an int is a CUDA index, as PyTorch's torch.device(3)
    with pytest.raises(TypeError, match="device must be a string"):
        mg.device(3.0)


def test_default_device_is_used_by_constructors() -> None:
    assert mg.get_default_device() == "cpu"
    mg.set_default_device("cpu")
    assert mg.zeros(2).device == "cpu" and mg.tensor([1.0]).device == "cpu" and mg.randn(2).device == "cpu"
    with pytest.raises(ValueError, match="unknown device 'gpu0'"):
        mg.set_default_device("gpu0")
    assert mg.get_default_device() == "cpu"


def _import_with_env(value: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, MINIGRAD_DEVICE=value)
    code = "import minigrad as mg; print('DEFAULT', mg.get_default_device(), mg.zeros(1).device)"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_minigrad_device_env_sets_the_default_device() -> None:
    result = _import_with_env("cpu")
    assert result.returncode == 0, result.stderr
    assert "DEFAULT cpu cpu" in result.stdout
    bad = _import_with_env("tpu")
    assert bad.returncode != 0 and "unknown device 'tpu'" in bad.stderr


@without_cuda
def test_minigrad_device_cuda_without_cupy_fails_with_the_install_hint() -> None:
    result = _import_with_env("cuda")
    assert result.returncode != 0
    assert "CUDA was requested but is not available" in result.stderr and "cupy" in result.stderr


class _FakeDeviceArray(np.ndarray):
    """A host array that pretends to live on cuda:0 (no GPU needed to test the device check)."""


def test_an_op_on_two_devices_raises_naming_both(monkeypatch: pytest.MonkeyPatch) -> None:
    real_device_of = backend.device_of
    monkeypatch.setattr(backend, "device_of", lambda array: mg.device("cuda:0")
                        if isinstance(array, _FakeDeviceArray) else real_device_of(array))
    on_cpu = mg.randn(2, 3, requires_grad=True)
    on_gpu = mg.Tensor._make(np.ones((2, 3), np.float32).view(_FakeDeviceArray), False, None, 0)
    assert on_gpu.device == "cuda:0"
    for op in (lambda: on_cpu + on_gpu, lambda: on_gpu * on_cpu, lambda: mg.concat([on_cpu, on_gpu]),
               lambda: mg.where(on_cpu > 0, on_gpu, on_cpu)):
        with pytest.raises(ValueError, match=r"different devices \((cpu and cuda:0|cuda:0 and cpu)\)"):
            op()


def test_manual_seed_is_the_engines_generator() -> None:
    mg.manual_seed(7)
    a = generators.generator(mg.device("cpu")).standard_normal(3)
    mg.manual_seed(7)
    b = generators.generator(mg.device("cpu")).standard_normal(3)
    np.testing.assert_array_equal(a, b)


# --- on a real GPU -------------------------------------------------------------------------------------

@pytest.mark.gpu
def test_gpu_graph_matches_cpu() -> None:
    rng = np.random.default_rng(0)
    x_np, w_np = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal((3, 5)).astype(np.float32)
    results = {}
    for device in ("cpu", "cuda"):
        x = mg.tensor(x_np, device=device, requires_grad=True)
        w = mg.tensor(w_np, device=device, requires_grad=True)
        y = mg.log_softmax((x @ w).tanh(), axis=1)[[0, 0, 2]].sum()
        y.backward()
        assert y.device.type == device[:4] and x.grad.device == x.device
        results[device] = (y.item(), x.grad.numpy(), w.grad.numpy())
    assert results["cuda"][0] == pytest.approx(results["cpu"][0], rel=1e-5)
    for gpu, cpu in zip(results["cuda"][1:], results["cpu"][1:]):
        np.testing.assert_allclose(gpu, cpu, rtol=1e-5, atol=1e-6)


@pytest.mark.gpu
def test_gpu_transfers_are_differentiable_and_mixing_raises() -> None:
    x = mg.randn(3, requires_grad=True)
    y = x.to("cuda")
    assert y.device == "cuda:0" and type(y.numpy()) is np.ndarray
    (y * 2).sum().backward()
    assert x.grad.device == "cpu" and x.grad.numpy().tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(ValueError, match=r"cpu.*cuda:0|cuda:0.*cpu"):
        x + y


@pytest.mark.gpu
def test_gpu_manual_seed_reproducible() -> None:
    mg.manual_seed(3)
    a = mg.randn(5, device="cuda").numpy()
    mg.manual_seed(3)
    b = mg.randn(5, device="cuda").numpy()
    np.testing.assert_array_equal(a, b)
