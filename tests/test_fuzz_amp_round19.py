"""Round 19: ``mg.amp.GradScaler`` and ``mg.autocast`` fuzzed against ``torch.amp`` (CPU, torch 2.13).

The training loops (random models, optimizers, scales, injected inf/NaN, clipping, accumulation, 20 steps) matched
already; these are the API edges that differed: the scaled output's dtype, the scale before the first ``scale()``,
misuse errors (AssertionError, as PyTorch's), ``scale()`` of iterables, ``update(new_scale)`` checks, float16
gradients, and autocast on "cuda" without a GPU, ``cache_enabled`` and the decorator's metadata.
"""

from __future__ import annotations

import pickle
import warnings
from typing import Any

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn

torch = pytest.importorskip("torch", reason="no torch")


def _scaler(lib: Any, **kw: Any) -> Any:
    return lib.amp.GradScaler("cpu", **kw)


class _SGD:
    """What a GradScaler uses of an optimizer (``param_groups``, ``step``); torch.optim's first use costs 2 s."""

    def __init__(self, params: list) -> None:
        self.param_groups = [{"params": params}]

    def step(self) -> None:
        for p in self.param_groups[0]["params"]:
            p.data -= 0.1 * p.grad.data


def _param(lib: Any, values: Any, dtype: str = "float32") -> Any:
    array = np.asarray(values, dtype=dtype)
    return torch.nn.Parameter(torch.tensor(array)) if lib is torch else nn.Parameter(mg.tensor(array))


def _outcome(fn: Any) -> Any:
    """``fn()``'s value, or the name of every class of the exception it raised (ours may subclass torch's)."""
    try:
        return fn()
    except Exception as error:   # noqa: BLE001 - the class is the answer
        return {cls.__name__ for cls in type(error).__mro__}


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int64", "bool"])
@pytest.mark.parametrize("shape", [(), (3,)])
def test_scale_gives_torchs_dtype_values_and_gradients(dtype: str, shape: tuple) -> None:
    # a float16 vector stays float16 (multiplied in float32, rounded once); integers become float32, not float64
    values, results = np.full(shape, 0.7).astype(dtype), []
    for lib in (torch, mg):
        x = lib.tensor(values, requires_grad=dtype.startswith("float"))
        scaled = _scaler(lib, init_scale=2.0**15).scale(x)
        if x.requires_grad:
            scaled.sum().backward()   # float16: 2**15 times a float16 1 is still finite
        results.append((str(scaled.dtype).replace("torch.", ""), scaled.detach().numpy(),
                        None if x.grad is None else x.grad.numpy()))
    assert results[1][0] == results[0][0]
    for got, want in zip(results[1][1:], results[0][1:]):
        np.testing.assert_array_equal(got, want)
        assert got is None or got.dtype == want.dtype


@pytest.mark.parametrize("init_scale", [0.1, 3, 2.0**16 + 1])
def test_the_scale_before_the_first_scale_call_is_init_scale_as_given(init_scale: float) -> None:
    seen = []
    for lib in (torch, mg):
        scaler = _scaler(lib, init_scale=init_scale, growth_factor=3)
        before = (scaler.get_scale(), scaler.state_dict())
        scaler.scale(lib.ones(1))
        loaded = _scaler(lib)
        loaded.load_state_dict({**scaler.state_dict(), "scale": 0.1})
        seen.append((before, scaler.get_scale(), loaded.state_dict()))
    assert seen[1] == seen[0]
    assert [type(v) for v in seen[1][0][1].values()] == [type(v) for v in seen[0][0][1].values()]


def _misuse(lib: Any, case: str) -> Any:
    weight = _param(lib, [1.0, 2.0])
    opt = _SGD([weight])
    scaler = _scaler(lib)
    if case == "unscale_ before scale":
        (weight * 2).sum().backward()
        return _outcome(lambda: scaler.unscale_(opt))
    if case == "step before scale":
        (weight * 2).sum().backward()
        return _outcome(lambda: scaler.step(opt)), weight.detach().numpy().tolist()
    if case == "update before scale":
        return _outcome(lambda: scaler.update(4.0))
    scaler.scale(lib.ones(1))
    if case == "step without gradients":
        return _outcome(lambda: scaler.step(opt))
    if case == "update after unscale_ without gradients":
        scaler.unscale_(opt)
        return _outcome(scaler.update)
    if case == "growth_factor 1":
        return _outcome(lambda: _scaler(lib, growth_factor=1.0))
    if case == "backoff_factor 1":
        return _outcome(lambda: _scaler(lib, backoff_factor=1.0))
    if case == "update with two elements":
        return _outcome(lambda: scaler.update(lib.tensor([2.0, 4.0])))
    assert case == "update with requires_grad"
    return _outcome(lambda: scaler.update(lib.tensor(2.0, requires_grad=True)))


@pytest.mark.parametrize("case", ["unscale_ before scale", "step before scale", "update before scale",
                                  "step without gradients", "update after unscale_ without gradients",
                                  "growth_factor 1", "backoff_factor 1", "update with two elements",
                                  "update with requires_grad"])
def test_misuse_raises_torchs_assertion_error(case: str) -> None:
    # before: unscale_/step went on dividing gradients that scale() never multiplied (silently 65536x too small)
    want, got = _misuse(torch, case), _misuse(mg, case)
    want = want if isinstance(want, tuple) else (want,)
    got = got if isinstance(got, tuple) else (got,)
    assert want[0] == {"AssertionError", "Exception", "BaseException", "object"}
    assert "AssertionError" in got[0] and got[1:] == want[1:]


def test_scale_of_iterables_as_torchs() -> None:
    # a generator (any iterable that is not a list/tuple) gives a lazy map; a number raises ValueError
    for lib in (torch, mg):
        scaled = _scaler(lib, init_scale=4.0).scale(t for t in [lib.ones(2), lib.ones(1) * 3])
        assert not isinstance(scaled, (list, tuple))
        assert [t.numpy().tolist() for t in scaled] == [[4.0, 4.0], [12.0]]
        assert "ValueError" in _outcome(lambda lib=lib: _scaler(lib).scale(3.0))
    # a dict: PyTorch maps over its keys (strings); minigrad refuses, naming the way out
    with pytest.raises(ValueError, match="list\\(outputs.values\\(\\)\\)"):
        _scaler(mg).scale({"loss": mg.ones(1)})


def test_unscale_refuses_float16_gradients_before_changing_any() -> None:
    grads = []
    for lib in (torch, mg):
        first, second = _param(lib, [1.0, 2.0]), _param(lib, [1.0, 2.0], "float16")
        opt = _SGD([first, second])
        scaler = _scaler(lib, init_scale=8.0)
        scaler.scale((first * 3).sum() + (second * 5).sum().float()).backward()
        assert "ValueError" in _outcome(lambda scaler=scaler, opt=opt: scaler.unscale_(opt))
        grads.append([first.grad.numpy().tolist(), second.grad.numpy().tolist()])
    assert grads[1] == grads[0] == [[24.0, 24.0], [40.0, 40.0]]


def test_cuda_autocast_without_a_gpu_disables_itself_as_torchs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mg.backend, "cuda_is_available", lambda: False)
    seen = []
    for lib in (torch, mg):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            block = lib.autocast("cuda", dtype=lib.float16)
            with block:
                seen.append((block.fast_dtype == lib.float16, lib.is_autocast_enabled("cuda"),
                             lib.is_autocast_enabled()))
    assert seen[1] == seen[0] == (True, False, False)
    with pytest.warns(UserWarning, match="CUDA is not available or torch_xla is imported. Disabling autocast."):
        mg.autocast("cuda")


def test_autocast_checks_cache_enabled_and_decorates_as_torchs() -> None:
    for lib in (torch, mg):
        @lib.autocast("cpu", cache_enabled=False)
        def scaled(x: Any, lib: Any = lib) -> Any:
            """Doubles ``x``."""
            return x * 2, lib.is_autocast_enabled("cpu")

        assert scaled.__wrapped__.__name__ == "scaled" and scaled.__doc__ == "Doubles ``x``."
        assert scaled.__qualname__.endswith("scaled")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # ours says once that it changes no dtype
            assert scaled(lib.ones(1))[1] and not lib.is_autocast_enabled("cpu")
        block = lib.autocast("cpu", cache_enabled=1)   # PyTorch checks it on entering the block
        assert "TypeError" in _outcome(lambda block=block: block.__enter__())
        lib.set_autocast_enabled("cpu", False)   # PyTorch's failed __enter__ leaves autocast on


@pytest.mark.gpu
def test_the_scaler_and_autocast_on_cuda_tensors() -> None:
    # the GPU path of the same code (the strict CuPy stand-in without a GPU): float16 stays float16 on the device
    weight = nn.Parameter(mg.tensor(np.array([1.0, 2.0], np.float32), device="cuda"))
    scaler, opt = mg.amp.GradScaler("cuda", init_scale=4.0), _SGD([weight])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # ours says once that it changes no dtype
        with mg.autocast("cuda"):
            assert mg.is_autocast_enabled("cuda")
            half = scaler.scale(mg.ones(3, dtype=mg.float16, device="cuda") * 0.7)
    assert half.dtype == mg.float16 and half.device == "cuda:0"
    np.testing.assert_array_equal(half.cpu().numpy(), np.float16(np.float32(np.float16(0.7)) * 4))
    scaler.scale((weight * 3).sum()).backward()
    scaler.step(opt)
    scaler.update()
    np.testing.assert_allclose(weight.cpu().numpy(), [0.7, 1.7], rtol=1e-6)
    assert scaler.get_scale() == 4.0 and scaler.state_dict()["_growth_tracker"] == 1


def _pickled(lib: Any, mid_iteration: bool) -> Any:
    weight = _param(lib, [1.0, 2.0])
    opt, scaler = _SGD([weight]), _scaler(lib, init_scale=0.1)
    scaler.scale((weight * 3).sum()).backward()
    scaler.unscale_(opt)
    if not mid_iteration:
        scaler.step(opt)
        scaler.update()
    copied = _outcome(lambda: pickle.loads(pickle.dumps(scaler)))
    if isinstance(copied, set):
        return copied
    return copied.state_dict(), _outcome(lambda: copied.unscale_(opt))   # the copy needs a scale() first


@pytest.mark.parametrize("mid_iteration", [False, True])
def test_pickling_a_scaler_as_torchs(mid_iteration: bool) -> None:
    want, got = _pickled(torch, mid_iteration), _pickled(mg, mid_iteration)
    if mid_iteration:   # PyTorch refuses: the per-optimizer state would not match the copies' optimizers
        assert "AssertionError" in want and "AssertionError" in got
    else:
        assert got[0] == want[0] and "AssertionError" in want[1] and "AssertionError" in got[1]


def _underflowed(lib: Any, init_scale: float) -> list:
    # a scale of 0 (backed off to it, or set): unscaling multiplies by inf, and PyTorch checks for inf/NaN before
    # it, so the step takes the NaN gradients (0 * inf); a tiny scale unscales by its float32 reciprocal
    weight = _param(lib, [1.0, 2.0])
    opt, scaler, seen = _SGD([weight]), _scaler(lib, init_scale=init_scale, backoff_factor=1e-30), []
    for _ in range(2):
        weight.grad = None
        scaler.scale((weight * 3).sum()).backward()
        scaler.unscale_(opt)
        seen.append(weight.grad.numpy().tolist())
        scaler.step(opt)
        scaler.update()
        seen.append((scaler.get_scale(), weight.detach().numpy().tolist()))
    return seen


@pytest.mark.parametrize("init_scale", [0.0, 1e-30])
def test_a_scale_of_zero_unscales_by_inf_as_torchs(init_scale: float) -> None:
    want = _underflowed(torch, init_scale)
    got = _underflowed(mg, init_scale)   # raised ZeroDivisionError
    np.testing.assert_equal(got, want)
