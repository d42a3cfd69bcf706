"""Autograd through complex values, against PyTorch's convention (z.grad = dL/dz* for a real loss L).

Each case is ``fn(lib, *tensors)`` in PyTorch's spelling, run with ``lib = minigrad`` and
``lib = torch`` on the same complex128 (or float64) values. A complex output ``y`` is turned
into the real loss ``(y * conj(w)).real.sum()`` for a fixed random ``w`` of y's shape (a real
output: ``(y * w).sum()``); values and the gradients of every input must agree. Ops without a
complex gradient must refuse at forward time instead of giving a silent wrong gradient.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

RNG = np.random.default_rng(11)


def _c(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)


def _r(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)


Z34, Z4, Z3, Z234, Z45, Z245 = _c(3, 4), _c(4), _c(3), _c(2, 3, 4), _c(4, 5), _c(2, 4, 5)
Z31, R34, R4, R342, R45 = _c(3, 1), _r(3, 4), _r(4), _r(3, 4, 2), _r(4, 5)

CASES: dict[str, tuple[Callable, tuple]] = {
    "add": (lambda lib, a, b: a + b, (Z34, Z4)),
    "add_real": (lambda lib, a, b: a + b, (Z34, R4)),
    "sub": (lambda lib, a, b: a - b, (Z31, Z34)),
    "neg": (lambda lib, a: -a, (Z34,)),
    "mul": (lambda lib, a, b: a * b, (Z34, Z4)),
    "mul_real": (lambda lib, a, b: a * b, (R34, Z4)),
    "mul_scalar": (lambda lib, a: a * (2 - 3j), (Z34,)),
    "real_times_1j": (lambda lib, a: a * 1j, (R34,)),
    "div": (lambda lib, a, b: a / b, (Z34, Z31)),
    "div_real": (lambda lib, a, b: a / b, (R34, Z4)),
    "conj": (lambda lib, a: lib.conj(a) * a, (Z34,)),
    "conj_method": (lambda lib, a: a.conj(), (Z34,)),
    "conj_physical": (lambda lib, a: lib.conj_physical(a), (Z34,)),
    "abs": (lambda lib, a: lib.abs(a), (Z34,)),
    "abs_of_product": (lambda lib, a: (a * a).abs(), (Z34,)),
    "exp": (lambda lib, a: lib.exp(a), (Z34,)),
    "log": (lambda lib, a: lib.log(a), (Z34,)),
    "sqrt": (lambda lib, a: lib.sqrt(a), (Z34,)),
    "pow_2": (lambda lib, a: a ** 2, (Z34,)),
    "pow_3": (lambda lib, a: a ** 3, (Z34,)),
    "pow_half": (lambda lib, a: a ** 0.5, (Z34,)),
    "pow_minus_1_5": (lambda lib, a: lib.pow(a, -1.5), (Z34,)),
    "reciprocal": (lambda lib, a: lib.reciprocal(a), (Z34,)),
    "rsqrt": (lambda lib, a: lib.rsqrt(a), (Z34,)),
    "log1p": (lambda lib, a: lib.log1p(a), (Z34,)),
    "expm1": (lambda lib, a: lib.expm1(a), (Z34,)),
    "sum": (lambda lib, a: a.sum(), (Z34,)),
    "sum_dim": (lambda lib, a: a.sum(dim=1, keepdim=True), (Z234,)),
    "mean": (lambda lib, a: a.mean(dim=0), (Z34,)),
    "reshape": (lambda lib, a: a.reshape(4, 3), (Z34,)),
    "view": (lambda lib, a: a.view(12), (Z34,)),
    "transpose": (lambda lib, a: a.transpose(0, 2), (Z234,)),
    "permute": (lambda lib, a: a.permute(2, 0, 1), (Z234,)),
    "T": (lambda lib, a: a.T, (Z34,)),
    "getitem": (lambda lib, a: a[1:, ::2], (Z34,)),
    "getitem_repeats": (lambda lib, a: a[[0, 2, 0]], (Z34,)),
    "cat": (lambda lib, a, b: lib.cat([a, b], dim=0), (Z34, Z34)),
    "cat_mixed": (lambda lib, a, b: lib.cat([a, b.to(lib.complex128)], dim=1), (Z34, R34)),
    "stack": (lambda lib, a, b: lib.stack([a, b], dim=1), (Z34, Z34)),
    "split": (lambda lib, a: lib.split(a, [1, 3], dim=1)[1] * 2, (Z34,)),
    "chunk": (lambda lib, a: a.chunk(2, dim=1)[0], (Z34,)),
    "unbind": (lambda lib, a: a.unbind(0)[1], (Z34,)),
    "matmul": (lambda lib, a, b: a @ b, (Z34, Z45)),
    "matmul_batched": (lambda lib, a, b: a @ b, (Z234, Z245)),
    "matmul_vector": (lambda lib, a, b: lib.matmul(a, b), (Z34, Z4)),
    "matmul_real_right": (lambda lib, a, b: a @ b.to(lib.complex128), (Z34, R45)),
    "where": (lambda lib, a, b: lib.where(lib.abs(a) > 1, a, b), (Z34, Z4)),
    "real": (lambda lib, a: lib.real(a), (Z34,)),
    "real_property": (lambda lib, a: (a * a).real, (Z34,)),
    "imag": (lambda lib, a: lib.imag(a), (Z34,)),
    "imag_property": (lambda lib, a: (a * a).imag, (Z34,)),
    "angle": (lambda lib, a: lib.angle(a), (Z34,)),
    "angle_method": (lambda lib, a: (a * a).angle(), (Z34,)),
    "polar": (lambda lib, r, t: lib.polar(r, t), (np.abs(R34), R4)),
    "complex": (lambda lib, re, im: lib.complex(re, im), (R34, R4)),
    "view_as_real": (lambda lib, a: lib.view_as_real(a), (Z34,)),
    "view_as_complex": (lambda lib, a: lib.view_as_complex(a), (R342,)),
    "to_complex": (lambda lib, a: a.to(lib.complex128) * (1 + 2j), (R34,)),
    "resolve": (lambda lib, a: lib.resolve_neg(lib.resolve_conj(a)) * a, (Z34,)),
    "sin": (lambda lib, a: lib.sin(a), (Z34,)),
    "cos": (lambda lib, a: lib.cos(a), (Z34,)),
    "tan": (lambda lib, a: lib.tan(a), (Z34,)),
    "tanh": (lambda lib, a: a.tanh(), (Z34,)),
    "sigmoid": (lambda lib, a: lib.sigmoid(a), (Z34,)),
    "sinh": (lambda lib, a: lib.sinh(a), (Z34,)),
    "cosh": (lambda lib, a: lib.cosh(a), (Z34,)),
    "asin": (lambda lib, a: lib.asin(a), (Z34,)),
    "acos": (lambda lib, a: lib.acos(a), (Z34,)),
    "atan": (lambda lib, a: lib.atan(a), (Z34,)),
    "asinh": (lambda lib, a: lib.asinh(a), (Z34,)),
    "atanh": (lambda lib, a: lib.atanh(a), (Z34,)),
    "square": (lambda lib, a: lib.square(a), (Z34,)),
    "exp2": (lambda lib, a: lib.exp2(a), (Z34,)),
    "log2": (lambda lib, a: lib.log2(a), (Z34,)),
    "log10": (lambda lib, a: lib.log10(a), (Z34,)),
    "mm": (lambda lib, a, b: lib.mm(a, b), (Z34, Z45)),
    "bmm": (lambda lib, a, b: lib.bmm(a, b), (Z234, Z245)),
    "mv": (lambda lib, a, b: lib.mv(a, b), (Z34, Z4)),
    "dot": (lambda lib, a, b: lib.dot(a, b), (Z4, Z4)),
    "vector_matrix": (lambda lib, a, b: a @ b, (Z4, Z45)),
    "outer": (lambda lib, a, b: lib.outer(a, b), (Z4, Z3)),
    "inner": (lambda lib, a, b: lib.inner(a, b), (Z34, Z234)),
    "tensordot": (lambda lib, a, b: lib.tensordot(a, b, dims=1), (Z34, Z45)),
    "linear": (lambda lib, a, b: lib.nn.functional.linear(a, b.T), (Z34, Z45)),
    "addmm": (lambda lib, a, b: lib.addmm(a @ b, a, b), (Z34, Z45)),
    "chain": (lambda lib, a, b: (lib.exp(a @ b) / (1 + lib.abs(a).sum())).sum(dim=0), (Z34, Z45)),
}


def _loss(lib: Any, y: Any, w: np.ndarray) -> Any:
    weight = lib.tensor(w) if lib is mg else lib.from_numpy(w)
    if y.is_complex():
        return (y * lib.conj(weight)).real.sum()
    return (y * weight.real).sum()


def matches_torch(name: str, fn: Callable, arrays: tuple, torch: Any, weights: Callable = lambda y: _c(*y.shape),
                  loss: Callable = _loss) -> Any:
    """``fn(lib, *arrays)`` in minigrad and torch: the same dtype and values, and the same gradients of a weighted
    real loss (PyTorch's convention: ``z.grad`` is dL/dz*) for every input. Returns minigrad's output."""
    ours = [mg.tensor(a.copy(), requires_grad=True) for a in arrays]
    theirs = [torch.from_numpy(a.copy()).requires_grad_(True) for a in arrays]
    y, t_y = fn(mg, *ours), fn(torch, *theirs)
    assert y.dtype == np.dtype(str(t_y.dtype).replace("torch.", "")), name
    np.testing.assert_allclose(y.numpy(), t_y.detach().resolve_conj().numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
    w = np.asarray(weights(y))
    loss(mg, y, w).backward()
    loss(torch, t_y, w).backward()
    for i, (x, t) in enumerate(zip(ours, theirs)):
        assert x.grad is not None and x.grad.dtype == x.dtype, f"{name}: input {i}"
        np.testing.assert_allclose(x.grad.numpy(), t.grad.resolve_conj().numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=f"{name}: gradient of input {i}")
    return y


def central_differences(fn: Callable, arrays: tuple, w: np.ndarray, step: float = 1e-6) -> list:
    """dL/d(Re x) + i dL/d(Im x) of ``_loss(fn(mg, *arrays), w)`` for each input, by central differences."""

    def loss_at(values: list) -> float:
        with mg.no_grad():
            return float(_loss(mg, fn(mg, *[mg.tensor(v) for v in values]), w).item())

    numeric = []
    for i, a in enumerate(arrays):
        gradient = np.zeros_like(a)
        for k in range(a.size):
            for direction in ((1, 1j) if a.dtype.kind == "c" else (1,)):
                plus, minus = [v.copy() for v in arrays], [v.copy() for v in arrays]
                plus[i].flat[k] += step * direction
                minus[i].flat[k] -= step * direction
                gradient.flat[k] += direction * (loss_at(plus) - loss_at(minus)) / (2 * step)
        numeric.append(gradient)
    return numeric


def matches_central_differences(name: str, fn: Callable, arrays: tuple, weights: Callable) -> None:
    """minigrad's gradients of the weighted real loss of ``fn(mg, *arrays)`` equal central differences taken
    along the real and the imaginary axis of every input entry (``weights(shape)`` gives the loss's weights)."""
    ours = [mg.tensor(a.copy(), requires_grad=True) for a in arrays]
    y = fn(mg, *ours)
    w = weights(tuple(y.shape))
    _loss(mg, y, w).backward()
    for i, (x, numeric) in enumerate(zip(ours, central_differences(fn, arrays, w))):
        np.testing.assert_allclose(x.grad.numpy(), numeric, rtol=1e-5, atol=1e-6, err_msg=f"{name}: input {i}")


def matches_on_cupy(fn: Callable, arrays: tuple, weights: Callable, rtol: float, atol: float) -> None:
    """``fn`` on the GPU (or the strict CuPy stand-in) gives the host's values and gradients."""
    host = [mg.tensor(a.copy(), requires_grad=True) for a in arrays]
    device = [mg.tensor(a.copy(), device="cuda", requires_grad=True) for a in arrays]
    y, y_device = fn(mg, *host), fn(mg, *device)
    w = weights(tuple(y.shape))
    _loss(mg, y, w).backward()
    weight = mg.tensor(w, device="cuda")
    (y_device * mg.conj(weight)).real.sum().backward() if y_device.is_complex() else \
        (y_device * weight.real).sum().backward()
    np.testing.assert_allclose(y_device.cpu().numpy(), y.numpy(), rtol=rtol, atol=atol)
    for x, x_device in zip(host, device):
        np.testing.assert_allclose(x_device.grad.cpu().numpy(), x.grad.numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_matches_torch(name: str, torch: Any) -> None:
    matches_torch(name, *CASES[name], torch)


def test_complex64_keeps_its_dtype(torch: Any) -> None:
    z = mg.tensor(Z34.astype(np.complex64), requires_grad=True)
    t = torch.from_numpy(Z34.astype(np.complex64)).requires_grad_(True)
    (mg.exp(z) * z).abs().sum().backward()
    (torch.exp(t) * t).abs().sum().backward()
    assert z.grad.dtype == np.complex64
    np.testing.assert_allclose(z.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_the_brief_example(torch: Any) -> None:
    z = mg.tensor(np.array([1 + 2j, 3 - 1j]), requires_grad=True)
    (z * z).abs().sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), [2 + 4j, 6 - 2j])


# z near both sides of every branch cut (real axis beyond ±1, imaginary axis beyond ±i) and away from them
Z_CUTS = np.array([2 + 1e-3j, 2 - 1e-3j, -2 + 1e-3j, -2 - 1e-3j, 1e-3 + 2j, -1e-3 + 2j, 1e-3 - 2j, -1e-3 - 2j,
                   0.5 + 0.1j, -0.5 - 0.1j, 3 + 4j, -3 - 4j])
HOLOMORPHIC = ["sin", "cos", "tan", "tanh", "sigmoid", "sinh", "cosh", "asin", "acos", "atan", "asinh", "atanh",
               "square", "exp", "exp2", "log", "log2", "log10", "log1p", "expm1", "sqrt", "rsqrt", "reciprocal"]


@pytest.mark.parametrize("name", HOLOMORPHIC)
def test_holomorphic_unary_op_gradients_of_abs_and_of_a_weighted_real_part(name: str, torch: Any) -> None:
    points = np.concatenate([Z34.ravel(), 3 * Z3, Z_CUTS])
    w = np.asarray(_c(points.size))
    for loss in (lambda lib, y: y.abs().sum(), lambda lib, y: (y * lib.conj(_tensor(lib, w))).real.sum()):
        z, t = mg.tensor(points.copy(), requires_grad=True), torch.from_numpy(points.copy()).requires_grad_(True)
        y, t_y = getattr(mg, name)(z), getattr(torch, name)(t)
        np.testing.assert_allclose(y.numpy(), t_y.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
        loss(mg, y).backward()
        loss(torch, t_y).backward()
        np.testing.assert_allclose(z.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


def _tensor(lib: Any, array: np.ndarray) -> Any:
    return lib.tensor(array) if lib is mg else lib.from_numpy(array)


def test_softmax_over_complex_refuses_as_torch(torch: Any) -> None:
    for name in ("softmax", "log_softmax"):
        with pytest.raises(NotImplementedError):
            getattr(torch, name)(torch.from_numpy(Z34.copy()), 1)
        for requires_grad in (False, True):
            with pytest.raises(NotImplementedError, match=f"{name}: not implemented for complex"):
                getattr(mg, name)(mg.tensor(Z34, requires_grad=requires_grad), 1)


class _Twice(mg.autograd.Function):
    """An op that says nothing about complex values (every op of minigrad's has a complex gradient or refuses)."""

    def forward(self, a: Any) -> Any:
        return a * 2

    def backward(self, gy: Any) -> Any:
        return gy * 2


@pytest.mark.parametrize("make", [
    # (einsum has it now: tests/test_pytorch_programs_operator.py)
    # (prod, cumprod, gather, scatter_add, sgn, logsumexp, linalg.inv/solve, var: tests/minigrad/test_complex_more.py)
    # (norms of complex tensors are the norms of |z|, real, with |z|'s gradient: tests/test_pytorch_programs_audio.py)
    # (cumsum, flip, pad … have it now: test_pytorch_programs_ssm)
    # (acosh, sinc, lerp, pow with a tensor exponent, linalg.eig: tests/minigrad/test_complex_linalg.py)
    # (logit, xlogy, xlog1py refuse complex input as torch does: tests/minigrad/test_complex_leftovers_round13.py)
    lambda z, x: _Twice()(z),
    lambda z, x: _Twice()(x * 1j),   # a real tensor made complex
])
def test_an_op_without_a_complex_gradient_refuses_at_forward_time(make: Callable) -> None:
    z = mg.tensor(Z34, requires_grad=True)
    x = mg.tensor(R34, requires_grad=True)
    with pytest.raises(NotImplementedError, match="complex autograd: .* has no complex gradient yet"):
        make(z, x)


def test_refused_ops_still_run_without_grad() -> None:
    z = mg.tensor(Z34, requires_grad=True)
    with mg.no_grad():
        np.testing.assert_allclose(z.acosh().numpy(), np.arccosh(Z34))
    np.testing.assert_allclose(mg.tensor(Z34).acosh().numpy(), np.arccosh(Z34))


def test_backward_of_a_complex_root_needs_a_gradient() -> None:
    z = mg.tensor(Z4, requires_grad=True)
    with pytest.raises(RuntimeError, match="real scalar outputs"):
        (z * 2).sum().backward()
    y = z * 2
    y.backward(mg.tensor(np.ones(4, dtype=complex)))
    np.testing.assert_allclose(z.grad.numpy(), 2 * np.ones(4))


def test_complex_to_real_cast_passes_the_real_gradient(torch: Any) -> None:
    z = mg.tensor(Z34, requires_grad=True)
    t = torch.from_numpy(Z34.copy()).requires_grad_(True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (mg.astype(z, mg.float64) * mg.tensor(R34)).sum().backward()
        (t.to(torch.float64) * torch.from_numpy(R34)).sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), t.grad.numpy())


def test_parts_and_bits() -> None:
    x = mg.tensor(R4)
    assert mg.real(x) is x and x.real is x and mg.conj(x) is x
    assert mg.resolve_conj(x) is x and not mg.is_conj(x) and not mg.is_neg(mg.tensor(Z4))
    with pytest.raises(RuntimeError, match="non-complex"):
        mg.imag(x)
    with pytest.raises(RuntimeError, match="complex tensors"):
        mg.view_as_real(x)
    with pytest.raises(RuntimeError, match="last dimension of size 2"):
        mg.view_as_complex(mg.tensor(R34))
    with pytest.raises(RuntimeError, match="same dtype"):
        mg.complex(mg.tensor(R4), mg.tensor(R4.astype(np.float32)))
    z = mg.tensor(Z4)
    assert mg.complex(mg.tensor(R4.astype(np.float32)), mg.tensor(R4.astype(np.float32))).dtype == mg.complex64
    part = z.real
    part += 1   # a view, as PyTorch's .real: the complex tensor changes
    np.testing.assert_allclose(z.numpy(), Z4 + 1)
    np.testing.assert_allclose(mg.angle(mg.tensor([-1.0, 2.0])).numpy(), [np.pi, 0.0])


def test_a_python_complex_number_keeps_a_float32_tensor_complex64_as_torch() -> None:
    # a Python complex is a weak scalar (NumPy 2, as PyTorch): float32 * 1j is complex64, float64 * 1j complex128
    assert (mg.ones(2) * 1j).dtype == mg.complex64 and (mg.ones(2) + 1j).dtype == mg.complex64
    assert (mg.ones(2, dtype=mg.float64) * 1j).dtype == mg.complex128


class _RealPartWithoutComplexGradient(mg.autograd.Function):
    """An op class that says nothing of complex values (no ``complex_grad``): the gate refuses it."""

    def forward(self, x: Any) -> Any:
        return x.real.copy()

    def backward(self, gy: Any) -> Any:
        return gy


def test_the_shape_cache_stays_on_and_still_gates_a_real_output_of_a_complex_input(torch: Any) -> None:
    from minigrad.autograd import engine
    z = mg.tensor(Z34, requires_grad=True)
    x = mg.tensor(R34, requires_grad=True)
    (x * x).sum().backward()   # (3, 4) and () float64 metas are cached: abs(z) and the op below are cache hits
    assert engine._meta_cache.get((3, 4)) is not None and engine._meta_cache.get(()) is not None
    t = torch.from_numpy(Z34.copy()).requires_grad_(True)
    mg.abs(z).sum().backward()
    t.abs().sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), t.grad.numpy(), rtol=1e-12)
    with pytest.raises(NotImplementedError, match="complex autograd: .* has no complex gradient yet"):
        _RealPartWithoutComplexGradient()(z)   # complex in, real out (z.norm() and z.var() have gradients now)
    (x * x).sum().backward()
    assert engine._meta_cache.get((3, 4)) is not None   # real programs keep the cache once complex is live
