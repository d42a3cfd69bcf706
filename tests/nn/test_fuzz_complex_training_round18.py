"""Round 18: complex-valued models and training, fuzzed against torch 2.13 in complex128 and complex64.

Each test is one root cause the differential fuzzer found (modules, activations, losses, optimizers, clip_grad,
nn.init, save/load, mg.compile, higher-order grads and gradcheck on complex parameters and data); the values and
gradients (PyTorch's convention: ``z.grad`` is dL/dz* for a real loss) are compared with live torch.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _complex(rng: np.random.Generator, *shape: int, dtype: Any = np.complex128) -> np.ndarray:
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


def _close(ours: Any, theirs: Any, what: str, tol: float = 1e-10) -> None:
    a = ours.detach().numpy() if isinstance(ours, mg.Tensor) else np.asarray(ours)
    e = theirs.detach().resolve_conj().numpy()
    assert a.shape == e.shape and a.dtype == e.dtype, f"{what}: {a.shape} {a.dtype} != {e.shape} {e.dtype}"
    np.testing.assert_allclose(a, e, rtol=tol, atol=tol, err_msg=what)


LOSSES: dict[str, Callable[[Any, Any], Any]] = {   # real losses of a complex output y (lib: torch or mg)
    "abs2": lambda lib, y: (y.abs() ** 2).sum(),
    "mul_conj": lambda lib, y: (y * y.conj()).real.sum(),
    "view_as_real": lambda lib, y: lib.view_as_real(y).pow(2).sum(),
    "parts": lambda lib, y: y.real.sum() + 2 * y.imag.sum(),
    "matmul_mH": lambda lib, y: (y @ y.mH).real.sum(),
    "fft": lambda lib, y: lib.fft.fft(y).abs().sum(),
    "mean_abs": lambda lib, y: lib.sigmoid(y).mean().abs(),
}


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_compiled_complex_step_has_torchs_gradient(loss: str) -> None:
    # a mg.compile'd call with complex inputs requiring grad raised "compiled has no complex gradient yet" in
    # backward-building (the replay node had no complex_grad mark); eager and torch give the gradient
    rng = np.random.default_rng(0)
    w0, x0 = _complex(rng, 3, 4), _complex(rng, 5, 3)

    def step(lib: Any, w: Any, x: Any) -> Any:
        return LOSSES[loss](lib, lib.tanh(x @ w))

    tw = torch.tensor(w0, requires_grad=True)
    step(torch, tw, torch.tensor(x0)).backward()
    compiled = mg.compile(lambda w, x: step(mg, w, x))
    mw = mg.tensor(w0, requires_grad=True)
    for _ in range(3):   # the first call captures, the next ones replay
        mw.grad = None
        compiled(mw, mg.tensor(x0)).backward()
    _close(mw.grad, tw.grad, loss)


def test_compiled_complex_output_and_real_weight_as_torch() -> None:
    # a complex output's backward with a gradient, and a real weight feeding a complex output (its grad is real)
    rng = np.random.default_rng(1)
    w0, x0, g0 = rng.standard_normal((3, 4)), _complex(rng, 5, 3), _complex(rng, 5, 4)
    tw = torch.tensor(w0, requires_grad=True)
    torch.exp(torch.tensor(x0) @ tw.to(torch.complex128)).backward(torch.tensor(g0))
    compiled = mg.compile(lambda w, x: mg.exp(x @ w.to(mg.complex128)))
    mw = mg.tensor(w0, requires_grad=True)
    for _ in range(2):
        mw.grad = None
        compiled(mw, mg.tensor(x0)).backward(mg.tensor(g0))
    _close(mw.grad, tw.grad, "real weight")
