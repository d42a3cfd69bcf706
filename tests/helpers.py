"""One helper to check an op or layer two ways: finite differences and PyTorch."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

import minigrad as mg


def to_torch(torch: Any, x: Any, requires_grad: bool | None = None) -> Any:
    """A torch tensor with the same values (and requires_grad) as a minigrad Tensor or array."""
    array = x.numpy() if isinstance(x, mg.Tensor) else np.asarray(x)
    t = torch.from_numpy(array.copy())
    if requires_grad is None:
        requires_grad = isinstance(x, mg.Tensor) and x.requires_grad
    return t.requires_grad_(requires_grad)


def assert_close(actual: Any, expected: Any, rtol: float = 1e-10, atol: float = 1e-12, what: str = "") -> None:
    a = actual.numpy() if isinstance(actual, mg.Tensor) else np.asarray(actual)
    e = expected.detach().cpu().numpy() if hasattr(expected, "detach") else np.asarray(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=what)


def check_against_torch(torch: Any, fn: Callable, torch_fn: Callable, inputs: Sequence[mg.Tensor],
                        rtol: float = 1e-10, atol: float = 1e-12) -> None:
    """Values and input gradients of ``fn`` equal ``torch_fn``'s on the same inputs."""
    t_inputs = [to_torch(torch, x) for x in inputs]
    out = fn(*inputs)
    t_out = torch_fn(*t_inputs)
    assert_close(out, t_out, rtol, atol, "forward")
    weights = np.random.default_rng(1).standard_normal(out.shape)
    (out * mg.tensor(weights, dtype=out.dtype)).sum().backward()
    (t_out * torch.from_numpy(weights).to(t_out.dtype)).sum().backward()
    for i, (x, tx) in enumerate(zip(inputs, t_inputs)):
        if x.requires_grad:
            assert x.grad is not None, f"input {i} got no gradient"
            assert_close(x.grad, tx.grad, rtol, atol, f"grad of input {i}")


def check_op(fn: Callable, inputs: Sequence[mg.Tensor], torch: Any = None, torch_fn: Callable | None = None,
             rtol: float = 1e-10, atol: float = 1e-12) -> None:
    """gradcheck in float64, then (when torch is given) agreement with PyTorch."""
    inputs64 = [x.double().detach().requires_grad_(x.requires_grad) if isinstance(x, mg.Tensor)
                and x.dtype.kind == "f" else x for x in inputs]
    assert mg.gradcheck(fn, inputs64)
    if torch is not None and torch_fn is not None:
        fresh = [x.detach().requires_grad_(x.requires_grad) if isinstance(x, mg.Tensor)
                 and x.dtype.kind == "f" else x for x in inputs64]
        check_against_torch(torch, fn, torch_fn, fresh, rtol, atol)


def assert_ieee_close(actual: Any, expected: Any, what: str = "", rtol: float = 1e-10, atol: float = 1e-12) -> None:
    """Equal shapes, NaN at the same places, the same infinities, finite values close.

    ``atol`` is relative to the largest finite magnitude in either array (at least 1), so values
    that went through a long float64 computation compare by their scale. The sign of a zero or
    of a NaN is not compared.
    """
    a = actual.numpy() if isinstance(actual, mg.Tensor) else np.asarray(actual)
    e = expected.detach().cpu().numpy() if hasattr(expected, "detach") else np.asarray(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
    if a.dtype.kind not in "fc" or e.dtype.kind not in "fc":
        np.testing.assert_array_equal(a, e, err_msg=what)
        return
    nan_a, nan_e = np.isnan(a), np.isnan(e)
    assert (nan_a == nan_e).all(), f"{what}: NaN at {np.argwhere(nan_a != nan_e)[:5].tolist()}\n{a}\n{e}"
    finite = np.concatenate([np.abs(a[np.isfinite(a)]).ravel(), np.abs(e[np.isfinite(e)]).ravel(), [1.0]])
    close = np.isclose(a, e, rtol=rtol, atol=atol * finite.max(), equal_nan=True)
    assert close.all(), f"{what}: differ at {np.argwhere(~close)[:5].tolist()}\n{a}\n{e}"
