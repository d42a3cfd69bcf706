"""Device habits of PyTorch programs: 0-dim CPU tensors among CUDA ones, legacy GPU tensor types,
``torch.cpu.amp`` and meshgrid's same-dtype rule.

GPU cases carry ``@pytest.mark.gpu`` and run on the strict CuPy stand-in where no GPU is present
(tests/conftest.py); they compare the GPU run with the CPU run of the same code, and with torch on the CPU.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

try:
    import torch
except ImportError:  # pragma: no cover - CI installs torch
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

_rng = np.random.default_rng(7)
CORR = _rng.standard_normal((2, 3, 4)).astype(np.float32)


def _raft_scale(corr: mg.Tensor, dim: int) -> mg.Tensor:
    # RAFT's CorrBlock: corr / torch.sqrt(torch.tensor(dim).float()) on a CUDA corr
    return corr / mg.sqrt(mg.tensor(dim).float())


def _run(device: str, fn: Callable, scale_value: float = 1.5) -> tuple:
    """fn(corr on device, a 0-dim CPU scale that requires grad): output and both gradients, on the host."""
    corr = mg.tensor(CORR, requires_grad=True, device=device)
    scale = mg.tensor(scale_value, requires_grad=True)          # always on the CPU
    out = fn(corr, scale)
    out.backward(mg.ones_like(out))
    assert out.device.type == corr.device.type, f"result on {out.device}, expected {device}"
    assert corr.grad.device == corr.device and scale.grad.device == "cpu"
    return out.numpy(), corr.grad.numpy(), scale.grad.numpy()


CASES = {
    "raft_scale": lambda c, s: _raft_scale(c, 4) * s,
    "scalar_first": lambda c, s: s - c * s,
    "pow_and_where": lambda c, s: mg.where(c > 0, (c.abs() + 1) ** s, s) + mg.maximum(c, s),
    "int_scalar": lambda c, s: c * mg.tensor(3) + s,
}


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(CASES))
def test_a_0dim_cpu_tensor_joins_cuda_tensors_as_pytorch(name: str) -> None:
    cpu, gpu = _run("cpu", CASES[name]), _run("cuda", CASES[name])
    for a, b in zip(gpu, cpu):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@needs_torch
def test_the_cpu_run_equals_torch() -> None:
    out, grad_corr, grad_scale = _run("cpu", CASES["raft_scale"])
    corr = torch.tensor(CORR, requires_grad=True)
    scale = torch.tensor(1.5, requires_grad=True)
    expected = corr / torch.sqrt(torch.tensor(4).float()) * scale
    expected.backward(torch.ones_like(expected))
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(grad_corr, corr.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(grad_scale, scale.grad.numpy(), rtol=1e-5)


@pytest.mark.gpu
def test_the_0dim_cpu_tensor_is_copied_once_and_nothing_comes_back() -> None:
    from tests.support import strict_cupy  # noqa: PLC0415

    if not getattr(mg.backend._cupy, "is_strict_stand_in", False):
        pytest.skip("copies are counted by the strict CuPy stand-in, used on machines without a GPU")
    corr = mg.tensor(CORR, device="cuda")
    scale = mg.tensor(2.0)
    strict_cupy.reset_copies()
    out = corr * scale
    assert strict_cupy.copies == {"to_host": 0, "to_device": 1}
    assert out.device == "cuda:0"


@pytest.mark.gpu
@pytest.mark.parametrize("other", [[2.0], [[2.0]], [1.0, 2.0, 3.0, 4.0]], ids=["1-element-1d", "1x1", "bigger"])
def test_other_cpu_tensors_with_cuda_ones_raise_naming_both(other: list) -> None:
    corr = mg.tensor(CORR[0, 0], device="cuda")
    with pytest.raises(ValueError, match=r"different devices \(cuda:0 and cpu\)"):
        corr * mg.tensor(other)
    with pytest.raises(ValueError, match=r"different devices \(cuda:0 and cpu\)"):
        mg.tensor(other) + corr


@pytest.mark.gpu
def test_a_0dim_cpu_tensor_does_not_join_tensors_on_two_gpus() -> None:
    if mg.cuda.device_count() < 2:   # the strict stand-in has two; a real machine may have one (the H200 here)
        pytest.skip("needs two GPUs")
    a, b = mg.ones(2, device="cuda:0"), mg.ones(2, device="cuda:1")
    with pytest.raises(ValueError, match=r"cuda:0 and cuda:1"):
        mg.where(a > 0, b, mg.tensor(1.0))


@pytest.mark.gpu
def test_compile_replays_the_0dim_cpu_tensor() -> None:
    def step(corr: mg.Tensor, scale: mg.Tensor) -> mg.Tensor:
        return (_raft_scale(corr, 4) * scale).tanh().sum()

    compiled = mg.compile(step)
    for value in (1.5, -0.5, 2.0):      # the first call captures, the others replay
        expected = _run("cpu", step, value)
        got = _run("cuda", compiled, value)
        for a, b in zip(got, expected):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.gpu
def test_in_place_ops_and_writes_take_a_0dim_cpu_tensor() -> None:
    x = mg.ones(3, device="cuda")
    x.mul_(mg.tensor(2.0))
    x[0] = mg.tensor(5.0)
    x[1:2] = mg.tensor([7.0])                     # one element: read as a number, as PyTorch's
    np.testing.assert_array_equal(x.numpy(), [5.0, 7.0, 2.0])
    assert x.device == "cuda:0"
    with pytest.raises(ValueError, match="value is on cpu but the tensor is on cuda:0"):
        x[:2] = mg.tensor([1.0, 2.0])
    w = mg.tensor(3.0, requires_grad=True)        # recorded: the write's gradient comes back to the CPU
    y = mg.zeros(3, device="cuda", requires_grad=True) * 1
    y[1] = w
    (y * mg.tensor([1.0, 2.0, 3.0], device="cuda")).sum().backward()
    assert w.grad.device == "cpu" and w.grad.item() == 2.0


# --- legacy tensor types name a device ----------------------------------------------------

@pytest.mark.gpu
def test_legacy_cuda_types_build_on_the_gpu_and_type_moves() -> None:
    x = mg.cuda.FloatTensor([[1, 2], [3, 4]])
    assert x.device == "cuda:0" and x.dtype == mg.float32
    assert isinstance(x, mg.cuda.FloatTensor) and isinstance(x, mg.FloatTensor)
    assert not isinstance(mg.ones(2), mg.cuda.FloatTensor)
    assert mg.cuda.LongTensor(3).shape == (3,) and mg.cuda.LongTensor(3).device.type == "cuda"
    with pytest.raises(RuntimeError, match="cuda device"):
        mg.cuda.FloatTensor([1.0], device="cpu")
    h = mg.tensor([1.5, -2.0], dtype=mg.float64, requires_grad=True)
    for target in ("torch.cuda.FloatTensor", mg.cuda.FloatTensor):
        y = h.type(target)
        assert y.device == "cuda:0" and y.dtype == mg.float32
    (y * y).sum().backward()                                   # differentiable: the gradient comes home
    assert h.grad.device == "cpu" and h.grad.dtype == mg.float64
    np.testing.assert_allclose(h.grad.numpy(), [3.0, -4.0])
    back = y.type("torch.DoubleTensor")                        # a CPU type name moves back, as PyTorch's
    assert back.device == "cpu" and back.dtype == mg.float64
    assert y.type(mg.cuda.FloatTensor) is y and y.type(mg.float64).device == "cuda:0"


@pytest.mark.gpu
def test_module_type_with_a_legacy_cuda_type_moves_the_module() -> None:
    """PyTorch's ``Module.type`` applies ``t.type(T)`` to every tensor: a legacy type names the device too."""
    from nn import Linear  # noqa: PLC0415

    layer = Linear(3, 2)
    layer.type(mg.cuda.FloatTensor)
    assert layer.weight.device == mg.device("cuda") and layer.bias.dtype == mg.float32
    layer.type("torch.DoubleTensor")
    assert layer.weight.device.type == "cpu" and layer.weight.dtype == mg.float64
    layer.type(mg.float32)   # a dtype keeps the device
    assert layer.weight.device.type == "cpu" and layer.weight.dtype == mg.float32


def test_legacy_cpu_types_keep_casting_on_the_cpu() -> None:
    x = mg.ones(2)
    assert x.type("torch.FloatTensor") is x and x.type(mg.FloatTensor) is x
    assert x.type("torch.LongTensor").dtype == mg.int64 and x.type(mg.DoubleTensor).device == "cpu"
    assert repr(mg.cuda.FloatTensor) == "<class 'minigrad.cuda.FloatTensor'>"
    assert sorted(n for n in dir(mg.cuda) if n.endswith("Tensor")) == sorted(
        n for n in dir(mg) if n.endswith("Tensor") and n != "Tensor" and isinstance(getattr(mg, n), type)
        and type(getattr(mg, n)).__name__ == "_LegacyType")


# --- torch.cpu and its deprecated amp ---------------------------------------------------------

def _future_warnings(make: Callable[[], Any]) -> tuple[Any, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        made = make()
    return made, [str(w.message) for w in caught if w.category is FutureWarning]


@needs_torch
@pytest.mark.parametrize("name", ["autocast", "GradScaler"])
def test_cpu_amp_is_amp_on_the_cpu_with_torchs_deprecation_warning(name: str) -> None:
    ours, our_warnings = _future_warnings(lambda: getattr(mg.cpu.amp, name)())
    _, torch_warnings = _future_warnings(lambda: getattr(torch.cpu.amp, name)())
    assert our_warnings == torch_warnings and len(our_warnings) == 1, our_warnings
    assert isinstance(ours, getattr(mg.amp, name))
    if name == "autocast":
        assert ours.device_type == "cpu"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with ours:
                assert mg.is_autocast_enabled("cpu") and not mg.is_autocast_enabled("cuda")
    else:
        assert ours.is_enabled() and ours.get_scale() == 65536.0


@needs_torch
@pytest.mark.parametrize("name", ["autocast", "GradScaler"])
def test_cuda_amp_warns_as_torchs(name: str) -> None:
    """torch 2.13 deprecates torch.cuda.amp's constructors too (FutureWarning, the same text here)."""
    ours = _future_warnings(lambda: getattr(mg.cuda.amp, name)(enabled=False))[1]
    theirs = _future_warnings(lambda: getattr(torch.cuda.amp, name)(enabled=False))[1]
    assert ours == theirs and len(ours) == 1, (ours, theirs)


def test_cpu_namespace_as_torch_cpu() -> None:
    from minigrad.cpu.amp import GradScaler, autocast  # noqa: PLC0415 - the import spelling works

    assert autocast is mg.cpu.amp.autocast and GradScaler is mg.cpu.amp.GradScaler
    assert mg.cpu.is_available() and mg.cpu.device_count() == 1 and mg.cpu.current_device() == "cpu"
    assert mg.cpu.synchronize() is None and mg.cpu.set_device("cpu") is None and mg.cpu.is_initialized()


# --- meshgrid ------------------------------------------------------------------------------

@needs_torch
def test_meshgrid_of_different_dtypes_raises_as_torch() -> None:
    for dtype in (mg.float64, mg.int64):
        with pytest.raises(RuntimeError, match="meshgrid: expects all tensors to have the same dtype"):
            mg.meshgrid(mg.ones(2), mg.ones(3, dtype=dtype), indexing="ij")
    with pytest.raises(RuntimeError, match="same dtype"):
        torch.meshgrid(torch.ones(2), torch.arange(3), indexing="ij")
    grids = mg.meshgrid(mg.arange(2), mg.arange(3), indexing="xy")
    expected = torch.meshgrid(torch.arange(2), torch.arange(3), indexing="xy")
    for a, b in zip(grids, expected):
        assert a.dtype == mg.int64 and np.array_equal(a.numpy(), b.numpy())


@pytest.mark.gpu
def test_meshgrid_on_two_devices_raises_naming_both() -> None:
    with pytest.raises(ValueError, match=r"same device.*cpu.*cuda:0"):
        mg.meshgrid(mg.ones(2), mg.ones(3, device="cuda"))

