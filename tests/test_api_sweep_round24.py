"""Round 24's missing-API sweep: names and keywords of PyTorch's public API that minigrad still lacked, each
checked against torch 2.13 (values, dtypes, gradients; float64 gradchecks for the differentiable ones)."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="PyTorch is the reference for these tests")


# --- torch.dtype and torch.layout as classes -------------------------------------------------------------------

@pytest.mark.parametrize("name", ["float32", "float64", "float16", "int64", "int32", "uint8", "bool", "complex64",
                                  "long", "double", "half", "cfloat"])
def test_dtype_is_the_class_of_every_dtype_name(name: str) -> None:
    # `isinstance(d, torch.dtype)` and annotations `dtype: torch.dtype = torch.float32` (evaluated when the def runs)
    assert isinstance(getattr(torch, name), torch.dtype)
    assert isinstance(getattr(mg, name), mg.dtype)
    assert not isinstance(mg.ones(2), mg.dtype) and not isinstance("float32", mg.dtype)


def test_dtype_in_an_annotation_and_layout_class() -> None:
    def cast(x: mg.Tensor, dtype: mg.dtype = mg.float64) -> mg.Tensor:
        return x.to(dtype)

    assert cast(mg.ones(2)).dtype == mg.float64
    assert isinstance(torch.strided, torch.layout) and isinstance(mg.strided, mg.layout)
    assert isinstance(mg.ones(2).layout, mg.layout)


# --- keyword names torch's functions take ---------------------------------------------------------------------

def _model_with_grads(lib, seed: int = 0):
    rng = np.random.default_rng(seed)
    weights = [lib.tensor(rng.standard_normal(s), requires_grad=True) for s in ((3, 4), (4,))]
    for w in weights:
        w.grad = lib.tensor(rng.standard_normal(tuple(w.shape)) * 5)
    return weights


@pytest.mark.parametrize(("name", "kwargs"), [
    ("clip_grad_norm_", {"max_norm": 1.0, "norm_type": 2.0}),
    ("clip_grad_norm_", {"max_norm": 0.5, "norm_type": float("inf"), "error_if_nonfinite": True}),
    ("clip_grad_value_", {"clip_value": 0.3}),
])
def test_clip_grad_takes_parameters_by_keyword(name: str, kwargs: dict) -> None:
    # torch.nn.utils.clip_grad_norm_(parameters=model.parameters(), max_norm=1.0); ours named it params
    ours, theirs = _model_with_grads(mg), _model_with_grads(torch)
    got = getattr(nn.utils, name)(parameters=ours, **kwargs)
    expected = getattr(torch.nn.utils, name)(parameters=theirs, **kwargs)
    if expected is not None:
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-12)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12)


def test_clip_grads_with_norm_takes_parameters_by_keyword() -> None:
    ours, theirs = _model_with_grads(mg), _model_with_grads(torch)
    nn.utils.clip_grads_with_norm_(parameters=ours, max_norm=1.0, total_norm=mg.tensor(7.0, dtype=mg.float64))
    torch.nn.utils.clip_grads_with_norm_(parameters=theirs, max_norm=1.0,
                                         total_norm=torch.tensor(7.0, dtype=torch.float64))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12)


def test_default_convert_takes_data_by_keyword() -> None:
    from torch.utils.data import default_convert

    got = mg.utils.data.default_convert(data={"x": np.arange(3.0), "y": (np.int64(2), "s")})
    expected = default_convert(data={"x": np.arange(3.0), "y": (np.int64(2), "s")})
    np.testing.assert_array_equal(got["x"].numpy(), expected["x"].numpy())
    assert got["x"].dtype == mg.float64 and expected["x"].dtype == torch.float64
    assert [type(v).__name__ for v in got["y"]] == ["Tensor", "str"] == [type(v).__name__ for v in expected["y"]]


# --- torch.amp.custom_fwd / custom_bwd -------------------------------------------------------------------------

def _scaled_function(lib, cast_inputs):
    """y = x * 3 as a custom Function decorated with custom_fwd/custom_bwd; records the autocast state seen."""
    seen = {}

    class Scale(lib.autograd.Function):
        @staticmethod
        @lib.amp.custom_fwd(device_type="cpu", cast_inputs=cast_inputs)
        def forward(ctx, x, extras):
            seen["forward"] = (lib.is_autocast_enabled("cpu"), str(x.dtype).split(".")[-1],
                               [str(e.dtype).split(".")[-1] for e in extras])
            return x * 3

        @staticmethod
        @lib.amp.custom_bwd(device_type="cpu")
        def backward(ctx, g):
            seen["backward"] = lib.is_autocast_enabled("cpu")
            return g * 3, None

    return Scale, seen


@pytest.mark.filterwarnings("ignore::UserWarning")   # minigrad's autocast warns once that it keeps full precision
@pytest.mark.parametrize("cast_inputs", [None, "float32"])
@pytest.mark.parametrize("in_block", [True, False])
def test_custom_fwd_and_custom_bwd_as_torch(cast_inputs: str | None, in_block: bool) -> None:
    results = []
    for lib in (torch, mg):
        fn, seen = _scaled_function(lib, None if cast_inputs is None else getattr(lib, cast_inputs))
        x = lib.tensor([1.0, 2.0], dtype=lib.float16, requires_grad=True)
        extras = [lib.ones(1, dtype=lib.float16), lib.ones(1, dtype=lib.float64)]
        with lib.autocast("cpu", dtype=lib.float16, enabled=in_block):
            y = fn.apply(x, extras)
        y.sum().backward()
        results.append((seen["forward"], seen["backward"], str(y.dtype).split(".")[-1], x.grad.tolist()))
    assert results[1] == results[0]


def test_custom_fwd_refusals_and_the_older_spelling() -> None:
    for lib in (torch, mg):
        with pytest.raises(ValueError, match="device_type"):
            lib.amp.custom_fwd(lambda ctx, x: x, device_type=None)
        with pytest.raises(ValueError, match="device_type"):
            lib.amp.custom_bwd(lambda ctx, g: g, device_type=0)
        with pytest.warns(FutureWarning, match="custom_fwd"):
            forward = lib.cuda.amp.custom_fwd(lambda ctx, x: x * 2, cast_inputs=lib.float32)
        with pytest.warns(FutureWarning, match="custom_bwd"):
            lib.cuda.amp.custom_bwd(lambda ctx, g: g)
        ctx = type("Ctx", (), {})()
        assert forward(ctx, lib.ones(2)).tolist() == [2.0, 2.0] and ctx._fwd_used_autocast is False


# --- small top-level names: version, newaxis, GradScaler, sym_*, deterministic debug mode ------------------------

def test_version_module_newaxis_and_grad_scaler() -> None:
    # environment reports print torch.version.__version__ / torch.version.cuda (None without CUDA)
    assert mg.version.__version__ == mg.__version__ and isinstance(mg.version.__version__, str)
    assert (mg.version.cuda is None) == (not mg.cuda.is_available()) and mg.version.hip is None is torch.version.hip
    assert mg.newaxis is None is torch.newaxis and mg.ones(3)[:, mg.newaxis].shape == (3, 1)
    assert mg.GradScaler is mg.amp.GradScaler and torch.GradScaler is torch.amp.GradScaler


@pytest.mark.parametrize(("name", "args"), [
    ("sym_int", (3.7,)), ("sym_int", (-3.7,)), ("sym_int", (np.int64(5),)), ("sym_float", (3,)),
    ("sym_max", (1, 0.5)), ("sym_max", (2, 7)), ("sym_max", (np.int32(4), 2.5)), ("sym_min", (1, 0.5)),
    ("sym_min", (np.float32(1.5), 3)), ("sym_max", ("a", 1)), ("sym_sqrt", (16,)), ("sym_sqrt", (2.0,)),
    ("sym_ite", (True, 1, 2)), ("sym_ite", (False, 1.5, 2.5)),
    ("sym_ite", (1, 1, 2)), ("sym_ite", (True, 1, 2.0)), ("sym_sum", ([1, 2, 3],)), ("sym_sum", (1, 2.5, 3)),
    ("sym_sum", ((),)),
])
def test_sym_helpers_as_torch(name: str, args: tuple) -> None:
    def outcome(lib):
        try:
            result = getattr(lib, name)(*args)
        except AssertionError:
            return "AssertionError"
        return type(result).__name__, result

    assert outcome(mg) == outcome(torch)


def test_sym_not() -> None:
    # torch.sym_not(a) is `not a` for a Python value (its first call imports sympy: seconds, so not called here)
    assert mg.sym_not(True) is False and mg.sym_not(0) is True


@pytest.mark.parametrize("mode", ["default", "warn", "error", 0, 1, 2, 3, "loud", 1.0])
def test_deterministic_debug_mode_as_torch(mode) -> None:
    def outcome(lib):
        try:
            lib.set_deterministic_debug_mode(mode)
        except (TypeError, RuntimeError) as error:
            return type(error).__name__
        return (lib.get_deterministic_debug_mode(), lib.are_deterministic_algorithms_enabled(),
                lib.is_deterministic_algorithms_warn_only_enabled())

    try:
        assert outcome(mg) == outcome(torch)
    finally:
        for lib in (mg, torch):   # (torch.use_deterministic_algorithms takes seconds on its first call)
            lib.set_deterministic_debug_mode(0)


# --- Tensor.cuda(non_blocking=True) and Tensor.cpu(memory_format=) ------------------------------------------------

def test_cpu_takes_memory_format_as_torch() -> None:
    a = np.arange(24.0).reshape(1, 2, 3, 4)
    for fmt in ("channels_last", "contiguous_format", "preserve_format"):
        got = mg.tensor(a).cpu(memory_format=getattr(mg, fmt))
        expected = torch.tensor(a).cpu(memory_format=getattr(torch, fmt))
        assert got.stride() == expected.stride()
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
    for lib in (torch, mg):   # memory_format is keyword-only, as PyTorch's
        with pytest.raises(TypeError):
            lib.ones(2).cpu(lib.preserve_format)


@pytest.mark.parametrize("call", [lambda x: x.cuda(non_blocking=True), lambda x: x.cuda(0, True),
                                  lambda x: x.cuda(memory_format=mg.channels_last),
                                  lambda x: x.cuda("cuda:0", non_blocking=False)])
def test_cuda_takes_non_blocking_and_memory_format(call) -> None:
    # `images.cuda(non_blocking=True)` in nearly every PyTorch data loop: ours refused the keyword (TypeError)
    x = mg.ones(2, 3)
    if not mg.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):   # (torch's CPU build: AssertionError, not compiled with CUDA)
            call(x)
        return
    assert call(x).device.type == "cuda"


def test_cuda_refuses_a_cpu_device_as_torch() -> None:
    for lib in (torch, mg):
        with pytest.raises(RuntimeError, match="must be cuda device"):
            lib.ones(2).cuda("cpu")
        with pytest.raises(TypeError):
            lib.ones(2).cuda(0, True, lib.preserve_format)   # memory_format is keyword-only


@pytest.mark.gpu
def test_cuda_device_spellings_on_a_gpu() -> None:
    x = mg.ones(2, 3, 4, 5)
    assert x.cuda(non_blocking=True).device == mg.device("cuda:0")
    assert x.cuda(memory_format=mg.channels_last).is_contiguous(memory_format=mg.channels_last)
    if mg.cuda.device_count() > 1:
        for device in (1, "cuda:1", mg.device("cuda:1")):
            assert x.cuda(device).device == mg.device("cuda:1")


@pytest.mark.parametrize("name", ["SGD", "Adam", "Adagrad", "Adafactor", "Muon"])
def test_add_param_group_takes_param_group_by_keyword(name: str) -> None:
    # torch's optimizer.add_param_group(param_group={...}); ours named it group
    for lib, optim in ((torch, torch.optim), (mg, nn.optim)):
        first, second = lib.zeros(2, 2, requires_grad=True), lib.zeros(3, 3, requires_grad=True)
        optimizer = getattr(optim, name)([first], lr=0.1)
        optimizer.add_param_group(param_group={"params": [second], "lr": 0.5})
        assert [g["lr"] for g in optimizer.param_groups] == [0.1, 0.5]


# --- torch.backends.cuda's attention-kernel switches -------------------------------------------------------------

def test_backends_cuda_sdp_switches_as_torch() -> None:
    def state(lib) -> tuple:
        cuda = lib.backends.cuda
        return (cuda.flash_sdp_enabled(), cuda.mem_efficient_sdp_enabled(), cuda.math_sdp_enabled(),
                cuda.cudnn_sdp_enabled())

    for lib in (torch, mg):
        cuda = lib.backends.cuda
        assert state(lib) == (True, True, True, True)
        assert cuda.matmul.allow_fp16_reduced_precision_reduction and cuda.matmul.allow_bf16_reduced_precision_reduction
        try:
            cuda.enable_flash_sdp(False)
            cuda.enable_math_sdp(False)
            assert state(lib) == (False, True, False, True)
            with pytest.raises(RuntimeError, match="expects a bool"):
                cuda.enable_mem_efficient_sdp(1)
            with pytest.warns(FutureWarning, match="sdp_kernel"):
                with cuda.sdp_kernel(enable_flash=True, enable_cudnn=False):
                    assert state(lib) == (True, True, True, False)
            assert state(lib) == (False, True, False, True)
        finally:
            for kernel in ("flash", "mem_efficient", "math", "cudnn"):
                getattr(cuda, f"enable_{kernel}_sdp")(True)


@pytest.mark.parametrize("device", [None, "cpu", "cuda", "cuda:1", "device_cpu", 3])
def test_get_device_module_as_torch(device) -> None:
    def outcome(lib) -> str:
        try:
            spec = lib.device("cpu") if device == "device_cpu" else device
            return lib.get_device_module(spec).__name__.split(".")[-1]
        except RuntimeError:
            return "RuntimeError"

    assert outcome(mg) == outcome(torch)


@pytest.mark.parametrize(("module", "name", "args"), [
    (m, n, a) for m in ("xpu", "mps") for n, a in (
        ("is_available", ()), ("device_count", ()), ("manual_seed", (0,)), ("manual_seed_all", (0,)), ("seed", ()),
        ("seed_all", ()), ("empty_cache", ()), ("synchronize", ()), ("current_device", ()), ("is_initialized", ()))])
def test_xpu_and_mps_answer_as_torch_without_them(module: str, name: str, args: tuple) -> None:
    # `elif torch.xpu.is_available():` in device pickers raised AttributeError on mg
    def outcome(lib):
        namespace = getattr(lib, module)
        if not hasattr(namespace, name):
            return "absent"
        try:
            return repr(getattr(namespace, name)(*args))
        except (AssertionError, RuntimeError) as error:
            return type(error).__name__

    assert outcome(mg) == outcome(torch)


def test_serialization_safe_globals_as_torch() -> None:
    # torch.serialization.add_safe_globals([argparse.Namespace]) before torch.load (weights_only, PyTorch 2.6+)
    import argparse

    for lib in (torch, mg):
        serialization = lib.serialization
        before = serialization.get_safe_globals()
        try:
            serialization.add_safe_globals([argparse.Namespace, (argparse.ArgumentParser, "argparse.ArgumentParser")])
            listed = serialization.get_safe_globals()
            assert argparse.Namespace in listed and (argparse.ArgumentParser, "argparse.ArgumentParser") in listed
            with pytest.raises(TypeError):
                serialization.add_safe_globals(argparse.Namespace)
            serialization.clear_safe_globals()
            assert serialization.get_safe_globals() == []
            with serialization.safe_globals([argparse.Action]):
                assert serialization.get_safe_globals() == [argparse.Action]
            assert serialization.get_safe_globals() == []
        finally:
            serialization.clear_safe_globals()
            serialization.add_safe_globals(before)


def test_load_needs_no_safe_globals(tmp_path) -> None:
    path = tmp_path / "checkpoint.pt"
    mg.save({"step": 3, "weight": mg.ones(2)}, path)
    with mg.serialization.safe_globals([]):
        loaded = mg.load(path, weights_only=True)
    assert loaded["step"] == 3 and loaded["weight"].tolist() == [1.0, 1.0]
