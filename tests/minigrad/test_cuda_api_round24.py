"""``mg.cuda``'s device queries and switches that PyTorch training code calls (round 24's API sweep):
``get_device_properties``, ``get_device_capability``, ``mem_get_info``, ``device``/``device_of``, ``init``,
``is_initialized``, ``seed``/``seed_all`` and ``OutOfMemoryError``; without a GPU as PyTorch without CUDA, and on
the strict CuPy stand-in (``-m gpu``) or a real GPU."""

from __future__ import annotations

import types

import pytest

import minigrad as mg
from minigrad import backend

torch = pytest.importorskip("torch", reason="PyTorch is the reference for these tests")
NO_GPU = pytest.mark.skipif(mg.cuda.is_available(), reason="checks the answers without a GPU")

# what CuPy's runtime.getDeviceProperties gives for an H100 (CUDA's cudaDeviceProp field names), for the stand-in
H100 = {"name": b"NVIDIA H100 80GB HBM3", "totalGlobalMem": 85045379072, "major": 9, "minor": 0,
        "multiProcessorCount": 132, "integrated": 0, "isMultiGpuBoard": 0, "l2CacheSize": 52428800,
        "maxThreadsPerMultiProcessor": 2048, "warpSize": 32, "uuid": b"\x01" * 16}


@NO_GPU
@pytest.mark.parametrize("call", [
    lambda cuda: cuda.get_device_properties(0), lambda cuda: cuda.get_device_capability(),
    lambda cuda: cuda.mem_get_info(), lambda cuda: cuda.device(0).__enter__(), lambda cuda: cuda.init()])
def test_without_a_gpu_the_device_queries_raise(call) -> None:
    # PyTorch without CUDA: AssertionError/RuntimeError ("Torch not compiled with CUDA enabled"); minigrad's
    # convention without a GPU is RuntimeError, as PyTorch's CUDA build on a machine without one
    with pytest.raises((AssertionError, RuntimeError)):
        call(torch.cuda)
    with pytest.raises(RuntimeError, match="GPU|CUDA"):
        call(mg.cuda)


@NO_GPU
def test_without_a_gpu_what_torch_answers_too() -> None:
    for cuda in (torch.cuda, mg.cuda):
        assert cuda.is_initialized() is False
        assert cuda.seed() is None and cuda.seed_all() is None
        with cuda.device(-1):   # (torch.cuda.device(None) fails in torch 2.13's CPU build; ours: no change)
            pass
        assert issubclass(cuda.OutOfMemoryError, RuntimeError)
        try:   # `except torch.cuda.OutOfMemoryError:` evaluates the class
            raise ValueError("not an OOM")
        except cuda.OutOfMemoryError:
            raise AssertionError("caught another error") from None
        except ValueError:
            pass
    assert mg.OutOfMemoryError is mg.cuda.OutOfMemoryError and torch.OutOfMemoryError is torch.cuda.OutOfMemoryError
    # a CPU tensor: no change (torch 2.13's CPU build fails here: a bug)
    with mg.cuda.device(None), mg.cuda.device_of(mg.ones(1)):
        pass


@pytest.fixture
def gpu(monkeypatch: pytest.MonkeyPatch):
    """CuPy: the real one on a GPU machine, else the strict stand-in with the runtime calls read here."""
    cp = backend.cupy_module()
    if getattr(cp, "__name__", "") != "cupy":   # the stand-in: CuPy's runtime answers for an H100 pair
        runtime = cp.cuda.runtime
        monkeypatch.setattr(runtime, "getDeviceProperties", lambda index: dict(H100), raising=False)
        monkeypatch.setattr(runtime, "memGetInfo", lambda: (1000 + cp.cuda.Device().id, 85045379072),
                            raising=False)
        memory = types.SimpleNamespace(OutOfMemoryError=type("OutOfMemoryError", (MemoryError,), {}))
        monkeypatch.setattr(cp.cuda, "memory", memory, raising=False)
    return cp


@pytest.mark.gpu
def test_device_properties_and_capability(gpu) -> None:
    properties = mg.cuda.get_device_properties(0)
    assert isinstance(properties.name, str) and properties.name == mg.cuda.get_device_name(0)
    assert properties.total_memory > 2**30 and properties.multi_processor_count > 0
    assert mg.cuda.get_device_capability() == mg.cuda.get_device_capability("cuda:0") == (properties.major,
                                                                                          properties.minor)
    assert properties.major >= 3 and isinstance(properties.is_integrated, bool)
    assert f"total_memory={properties.total_memory // 2**20}MB" in repr(properties)
    free, total = mg.cuda.mem_get_info()
    assert 0 < free <= total == properties.total_memory


@pytest.mark.gpu
def test_device_block_switches_the_current_gpu(gpu) -> None:
    if mg.cuda.device_count() < 2:
        pytest.skip("needs two GPUs")
    assert mg.cuda.current_device() == 0
    with mg.cuda.device(1):
        assert mg.cuda.current_device() == 1
        x = mg.ones(2, device="cuda")
        with mg.cuda.device("cuda:0"):
            assert mg.cuda.current_device() == 0
        with mg.cuda.device(None), mg.cuda.device_of(mg.ones(1)):   # a CPU tensor: no change
            assert mg.cuda.current_device() == 1
    assert mg.cuda.current_device() == 0 and x.device == mg.device("cuda:1")
    with mg.cuda.device_of(x):
        assert mg.cuda.current_device() == 1
    assert mg.cuda.is_initialized()
    with pytest.raises(ValueError, match="cuda device"):
        mg.cuda.device("cpu")


@pytest.mark.gpu
def test_out_of_memory_error_is_cupy_s(gpu) -> None:
    assert mg.cuda.OutOfMemoryError is gpu.cuda.memory.OutOfMemoryError is mg.OutOfMemoryError


@NO_GPU
def test_memory_queries_without_a_gpu_are_zero_as_torch() -> None:
    for cuda in (torch.cuda, mg.cuda):
        assert cuda.memory_allocated() == cuda.memory_reserved() == 0
        assert cuda.memory_allocated(1) == cuda.memory_reserved("cuda:1") == 0


@pytest.mark.gpu
def test_memory_queries_answer_for_the_gpu_asked(gpu, monkeypatch: pytest.MonkeyPatch) -> None:
    # CuPy's pool answers for the current GPU only: memory_allocated(1) gave GPU 0's bytes
    if mg.cuda.device_count() < 2:
        pytest.skip("needs two GPUs")
    if getattr(gpu, "__name__", "") != "cupy":   # the stand-in: a pool of 100 bytes per device index in use
        pool = types.SimpleNamespace(used_bytes=lambda: 100 * gpu.cuda.Device().id,
                                     total_bytes=lambda: 1000 + 100 * gpu.cuda.Device().id)
        monkeypatch.setattr(gpu, "get_default_memory_pool", lambda: pool, raising=False)
        assert (mg.cuda.memory_allocated(1), mg.cuda.memory_reserved("cuda:1")) == (100, 1100)
    held = mg.ones(1 << 20, device="cuda:1")
    assert mg.cuda.memory_allocated(1) >= held.numel() * 4 * (getattr(gpu, "__name__", "") == "cupy")
    assert mg.cuda.memory_allocated() == mg.cuda.memory_allocated(0) and mg.cuda.current_device() == 0
