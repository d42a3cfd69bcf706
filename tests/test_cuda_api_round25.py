"""``mg.cuda``'s memory statistics (``max_memory_allocated``, ``reset_peak_memory_stats``, ``memory_stats`` …) and
random state (``get_rng_state``/``set_rng_state`` and their ``_all`` forms, ``initial_seed``), missing before round
25: without a GPU as PyTorch's CPU build answers, and on a GPU (the strict CuPy stand-in here, CuPy on a real one)."""

from __future__ import annotations

import types

import numpy as np
import pytest

import minigrad as mg
from minigrad import cuda_memory
from tests.conftest import REAL_GPU

torch = pytest.importorskip("torch", reason="PyTorch's CPU build is the reference without a GPU")

no_gpu = pytest.mark.skipif(REAL_GPU or mg.cuda.is_available(), reason="the answers without a GPU")


# --- without a GPU: PyTorch's CPU build ---------------------------------------------------------------------------

@no_gpu
@pytest.mark.parametrize("name", ["max_memory_allocated", "max_memory_reserved", "memory_allocated",
                                  "memory_reserved"])
def test_byte_counts_without_a_gpu_are_zero_as_torch(name: str) -> None:
    assert getattr(mg.cuda, name)() == getattr(torch.cuda, name)() == 0


@no_gpu
def test_stats_without_a_gpu_as_torch() -> None:
    assert mg.cuda.memory_stats() == torch.cuda.memory_stats() == {}
    assert type(mg.cuda.memory_stats()) is type(torch.cuda.memory_stats())
    assert mg.cuda.get_rng_state_all() == torch.cuda.get_rng_state_all() == []
    mg.cuda.reset_peak_memory_stats()    # (torch's CPU build: AttributeError from its C extension)
    mg.cuda.reset_accumulated_memory_stats()
    assert "no GPU" in mg.cuda.memory_summary()
    mg.cuda.empty_cache()
    torch.cuda.set_rng_state(torch.zeros(16, dtype=torch.uint8))   # queued for a CUDA that never starts
    mg.cuda.set_rng_state(mg.zeros(16, dtype=mg.uint8))
    mg.cuda.set_rng_state_all([mg.zeros(16, dtype=mg.uint8)])
    with pytest.raises(TypeError):
        mg.cuda.set_rng_state([1, 2])


@no_gpu
@pytest.mark.parametrize("call", [lambda lib: lib.cuda.get_rng_state(), lambda lib: lib.cuda.initial_seed(),
                                  lambda lib: lib.cuda.set_per_process_memory_fraction(0.5),
                                  lambda lib: lib.cuda.get_per_process_memory_fraction()])
def test_calls_that_need_a_gpu_raise_without_one(call) -> None:
    with pytest.raises((RuntimeError, AssertionError)):   # torch's CPU build: AssertionError (not compiled)
        call(torch)
    with pytest.raises(RuntimeError, match="needs a GPU"):
        call(mg)


@no_gpu
def test_stream_and_device_queries_without_a_gpu_as_torch() -> None:
    for lib in (mg, torch):
        lib.cuda.set_stream(None)
        with lib.cuda.stream(None) as inside:
            assert inside is None
        assert isinstance(lib.cuda.stream(None), lib.cuda.StreamContext)
        assert lib.cuda.is_tf32_supported() is False
        assert lib.cuda.get_arch_list() == [] and lib.cuda.get_gencode_flags() == ""
    with pytest.raises(RuntimeError):
        torch.cuda.nvtx.range_push("step")
    for call in (lambda: mg.cuda.nvtx.range_push("step"), lambda: mg.cuda.nvtx.mark("step"),
                 lambda: mg.cuda.can_device_access_peer(0, 1), lambda: mg.cuda.ExternalStream(0)):
        with pytest.raises(RuntimeError, match="needs a GPU"):
            call()
    with pytest.raises(RuntimeError, match="needs a GPU"), mg.cuda.nvtx.range("epoch {}", 3):
        pass


@no_gpu
def test_accelerator_error_is_a_runtime_error_class_to_catch() -> None:
    for lib in (mg, torch):
        assert issubclass(lib.AcceleratorError, RuntimeError) and lib.cuda.AcceleratorError is lib.AcceleratorError
        assert issubclass(lib.cuda.CudaError, RuntimeError)
    try:
        raise mg.AcceleratorError("CUDA error: an illegal memory access")
    except mg.AcceleratorError as error:
        assert "illegal" in str(error)


# --- on a GPU: the memory pool's statistics -----------------------------------------------------------------------

class _Memory:
    def __init__(self, ptr: int, size: int, owner: object = None, device_id: int = 0) -> None:
        self.ptr, self.size, self.owner, self.device_id = ptr, size, owner, device_id


class _Pointer:
    def __init__(self, mem: _Memory, offset: int) -> None:
        self.mem, self.ptr, self.device_id = mem, mem.ptr + offset, mem.device_id


class _PooledPointer(_Pointer):
    """A pool block in use: gives its bytes back to the pool's count when freed."""

    def __init__(self, pool: _Pool, size: int) -> None:
        super().__init__(_Memory(pool.next_ptr, size, device_id=pool.device), 0)
        self.pool = pool

    def __del__(self) -> None:
        self.pool.used -= self.mem.size


class _Pool:
    """One GPU's CuPy pool as far as the statistics read it: 512-byte blocks, cached when freed, a limit."""

    def __init__(self, device: int) -> None:
        self.device, self.used, self.total, self.next_ptr, self.limit = device, 0, 0, 4096, 0

    def malloc(self, size: int) -> _PooledPointer:
        size = -(-size // 512) * 512
        if self.limit and self.used + size > self.limit:
            raise _OutOfMemory(size)
        self.total = max(self.total, self.used + size)
        self.used += size
        self.next_ptr += size
        return _PooledPointer(self, size)


class _OutOfMemory(MemoryError):
    pass


@pytest.fixture
def pool(_gpu_backend, monkeypatch: pytest.MonkeyPatch):
    """The stand-in's CuPy with a memory pool and CuPy's allocator hooks (set_allocator, UnownedMemory …)."""
    if REAL_GPU:
        pytest.skip("the stand-in's pool (a real GPU runs test_gpu_memory_stats_on_cupy)")
    cp = _gpu_backend
    pools = {index: _Pool(index) for index in range(cp.cuda.runtime.getDeviceCount())}
    current = lambda: pools[cp.cuda.Device().id]  # noqa: E731
    default_pool = types.SimpleNamespace(
        malloc=lambda size: current().malloc(size), used_bytes=lambda: current().used,
        total_bytes=lambda: current().total, free_all_blocks=lambda: setattr(current(), "total", current().used),
        set_limit=lambda fraction: setattr(current(), "limit", int(fraction * 1000 * 512)),
        get_limit=lambda: current().limit)
    allocator = [default_pool.malloc]
    monkeypatch.setattr(cp, "get_default_memory_pool", lambda: default_pool, raising=False)
    monkeypatch.setattr(cp, "get_default_pinned_memory_pool", lambda: default_pool, raising=False)
    for name, value in {"get_allocator": lambda: allocator[0], "set_allocator": lambda f: allocator.__setitem__(0, f),
                        "UnownedMemory": _Memory, "MemoryPointer": _Pointer,
                        "memory": types.SimpleNamespace(OutOfMemoryError=_OutOfMemory)}.items():
        monkeypatch.setattr(cp.cuda, name, value, raising=False)
    monkeypatch.setattr(cp.cuda.runtime, "memGetInfo", lambda: (0, 1000 * 512), raising=False)
    monkeypatch.setattr(cuda_memory, "_tracking", [None])
    monkeypatch.setattr(cuda_memory, "_stats", {})
    return types.SimpleNamespace(alloc=lambda size: allocator[0](size), pools=pools, cp=cp)


@pytest.mark.gpu
def test_peak_allocated_and_reserved_bytes(pool) -> None:
    held = pool.alloc(1000)           # before tracking begins: counted in the current bytes, not as they change
    mg.cuda.reset_peak_memory_stats()
    assert mg.cuda.max_memory_allocated() == mg.cuda.memory_allocated() == 1024
    a, b = pool.alloc(2048), pool.alloc(512)
    assert mg.cuda.memory_allocated() == mg.cuda.max_memory_allocated() == 1024 + 2048 + 512
    del a, b
    assert mg.cuda.memory_allocated() == 1024
    assert mg.cuda.max_memory_allocated() == 3584 and mg.cuda.max_memory_reserved() == 3584
    c = pool.alloc(512)                # a cached block: the pool holds no more
    assert mg.cuda.max_memory_allocated() == 3584 and mg.cuda.memory_reserved() == 3584
    mg.cuda.empty_cache()              # hands back the cache; the reserved peak stays
    assert mg.cuda.memory_reserved() == 1536 and mg.cuda.max_memory_reserved() == 3584
    mg.cuda.reset_peak_memory_stats()
    assert mg.cuda.max_memory_allocated() == 1536 and mg.cuda.max_memory_reserved() == 1536
    del held, c
    assert mg.cuda.memory_allocated() == 0 and mg.cuda.max_memory_allocated() == 1536
    stats = mg.cuda.memory_stats()
    assert list(stats) == sorted(stats)
    assert stats["allocated_bytes.all.current"] == 0 and stats["allocated_bytes.all.peak"] == 1536
    assert stats["reserved_bytes.all.peak"] == 1536 and stats["num_ooms"] == 0
    assert "Allocated memory" in mg.cuda.memory_summary()


@pytest.mark.gpu
def test_peaks_are_per_gpu_and_the_limit_counts_out_of_memory_errors(pool) -> None:
    mg.cuda.reset_peak_memory_stats(1)
    with mg.cuda.device(1):
        kept = pool.alloc(4096)
    assert mg.cuda.max_memory_allocated(1) == 4096 and mg.cuda.max_memory_allocated("cuda:0") == 0
    mg.cuda.set_per_process_memory_fraction(0.01)   # 5,120 bytes of the stand-in's 512,000
    assert mg.cuda.get_per_process_memory_fraction() == pytest.approx(0.01)
    with pytest.raises(_OutOfMemory):
        pool.alloc(8192)
    assert mg.cuda.memory_stats(0)["num_ooms"] == 1 and mg.cuda.memory_stats(1)["num_ooms"] == 0
    mg.cuda.reset_accumulated_memory_stats(0)
    assert mg.cuda.memory_stats(0)["num_ooms"] == 0
    with pytest.raises(ValueError, match="0~1"):
        mg.cuda.set_per_process_memory_fraction(1.5)
    with pytest.raises(TypeError, match="float"):
        mg.cuda.set_per_process_memory_fraction(1)
    del kept


# --- on a GPU: the random state -----------------------------------------------------------------------------------

@pytest.mark.gpu
def test_set_rng_state_repeats_the_draws_after_get_rng_state() -> None:
    mg.manual_seed(7)
    state = mg.cuda.get_rng_state()
    assert state.dtype == mg.uint8 and state.device.type == "cpu" and state.shape == (16,)
    first = mg.randn(5, device="cuda").cpu().numpy()
    mg.randn(3, device="cuda")
    mg.cuda.set_rng_state(state)
    np.testing.assert_array_equal(mg.randn(5, device="cuda").cpu().numpy(), first)
    mg.manual_seed(7)                      # a seeded run makes the same states
    assert mg.cuda.get_rng_state().numpy().tobytes() == state.numpy().tobytes()
    assert mg.cuda.initial_seed() == 7


def _draw_on(index: int) -> np.ndarray:
    with mg.cuda.device(index):   # (the stand-in's cupy.random binds the current GPU's stream when looked up)
        return mg.rand(4, device=f"cuda:{index}").cpu().numpy()


@pytest.mark.gpu
def test_rng_states_of_every_gpu() -> None:
    mg.cuda.manual_seed_all(3)
    _draw_on(1)                    # the GPUs' streams apart
    states = mg.cuda.get_rng_state_all()
    assert len(states) == mg.cuda.device_count() > 1
    draws = [_draw_on(i) for i in range(len(states))]
    assert not np.array_equal(draws[0], draws[1])
    _draw_on(1)
    mg.cuda.set_rng_state_all(states)
    for i, expected in enumerate(draws):
        np.testing.assert_array_equal(_draw_on(i), expected)
    mg.cuda.set_rng_state(states[0], device=1)   # one GPU's state on another: its stream restarts from it
    np.testing.assert_array_equal(_draw_on(1), draws[0])


@pytest.mark.gpu
def test_a_state_that_is_not_a_gpu_state_is_refused() -> None:
    with pytest.raises(RuntimeError, match="16 bytes"):
        mg.cuda.set_rng_state(mg.get_rng_state())          # the host's state (56 bytes)
    with pytest.raises(RuntimeError, match="16 bytes"):
        mg.cuda.set_rng_state(mg.zeros(16, dtype=mg.uint8))
    with pytest.raises(TypeError):
        mg.cuda.set_rng_state(mg.zeros(16))


@pytest.mark.gpu
def test_a_gpu_generator_state_round_trips() -> None:
    # Generator(device="cuda").get_state/set_state/clone_state raised NotImplementedError
    g = mg.Generator("cuda").manual_seed(11)
    mg.randn(3, device="cuda", generator=g)
    state = g.get_state()
    assert state.dtype == mg.uint8 and state.shape == (16,) and g.initial_seed() == 11
    first = mg.randn(6, device="cuda", generator=g).cpu().numpy()
    mg.randn(2, device="cuda", generator=g)
    g.set_state(state)
    np.testing.assert_array_equal(mg.randn(6, device="cuda", generator=g).cpu().numpy(), first)
    twin = g.clone_state()     # (reading g's state restarts g too: both go on alike)
    np.testing.assert_array_equal(mg.randn(4, device="cuda", generator=twin).cpu().numpy(),
                                  mg.randn(4, device="cuda", generator=g).cpu().numpy())
    again = mg.Generator("cuda").manual_seed(11)
    mg.randn(3, device="cuda", generator=again)
    assert again.get_state().numpy().tobytes() == state.numpy().tobytes()   # a seeded run: the same states
    with pytest.raises(RuntimeError, match="16 bytes"):
        g.set_state(mg.Generator().get_state())    # a CPU generator's state


# --- torch.utils.checkpoint's helpers ---------------------------------------------------------------------------

def test_checkpoint_helpers_on_the_cpu_as_torch() -> None:
    from torch.utils import checkpoint as theirs

    from minigrad.utils import checkpoint as ours

    for lib, module in ((mg, ours), (torch, theirs)):
        a, b = lib.ones(2, requires_grad=True), lib.ones(2)
        out = module.detach_variable((a, b, 3))
        assert [type(v).__name__ for v in out][2] == "int" and out[0] is not a
        assert [out[0].requires_grad, out[1].requires_grad, out[0].is_leaf] == [True, False, True]
        with pytest.raises(RuntimeError, match="tuple"):
            module.detach_variable([a])
        with pytest.warns(UserWarning, match="None of the inputs"):
            module.check_backward_validity([b, 1])
        assert module.get_device_states(a, [b], {"k": 1}) == ([], [])
        module.set_device_states([], [])


@pytest.mark.gpu
def test_checkpoint_device_states_repeat_the_draws() -> None:
    from minigrad.utils import checkpoint

    x, y = mg.ones(2, device="cuda:0"), mg.ones(2, device="cuda:1")
    devices, states = checkpoint.get_device_states(x, [mg.ones(1), {"y": y}])
    assert devices == [0, 1] and len(states) == 2
    draws = [_draw_on(0), _draw_on(1)]
    checkpoint.set_device_states(devices, states)
    np.testing.assert_array_equal(_draw_on(0), draws[0])
    np.testing.assert_array_equal(_draw_on(1), draws[1])
