"""Complex gradients of prod, cumprod, gather/take_along_dim, scatter/scatter_add, index_add/index_copy, sgn, logsumexp,
linalg.inv/solve (and their ``_ex`` forms, negative matrix powers), var/std and var_mean/std_mean.

As tests/minigrad/test_complex_autograd.py: each case is ``fn(lib, *tensors)`` in PyTorch's spelling, run with
``lib = minigrad`` and ``lib = torch`` on the same complex128 values; a complex output ``y`` becomes the real loss
``(y * conj(w)).real.sum()`` (a real output ``(y * w).sum()``). Values, dtypes and gradients must agree with
PyTorch's, and each gradient with central differences of the loss along the real and imaginary parts of each
input element (PyTorch's convention: ``z.grad = dL/d(Re z) + i dL/d(Im z)``).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
from tests.minigrad.test_complex_autograd import matches_central_differences, matches_on_cupy, matches_torch

RNG = np.random.default_rng(12)


def _c(*shape: int) -> np.ndarray:
    return np.asarray(RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape))


Z34 = _c(3, 4)
ZEROS = Z34.copy()
ZEROS[1, 2] = ZEROS[2, 0] = ZEROS[2, 3] = 0   # one zero in row 1, two in row 2 (prod's and cumprod's cases)
A33, A233 = _c(3, 3) + 3 * np.eye(3), _c(2, 3, 3) + 3 * np.eye(3)
INDEX = np.array([[0, 2, 1, 0], [2, 2, 0, 1]])   # repeated rows: gather's gradient accumulates


def _index(lib: Any, values: Any) -> Any:
    return lib.tensor(np.asarray(values)) if lib is mg else lib.from_numpy(np.asarray(values))


def _var_mean(lib: Any, z: Any) -> Any:
    variance, mean = lib.var_mean(z, 1)
    return variance * 2 + mean * (1 - 1j)


def _std_mean(lib: Any, z: Any) -> Any:
    deviation, mean = lib.std_mean(z, 0, correction=0)
    return deviation * 2 + mean * (1 - 1j)


CASES: dict[str, tuple[Callable, tuple]] = {
    "prod": (lambda lib, a: a.prod(1), (Z34,)),
    "prod_all": (lambda lib, a: lib.prod(a), (Z34,)),
    "prod_with_zeros": (lambda lib, a: a.prod(1, keepdim=True), (ZEROS,)),
    "cumprod": (lambda lib, a: a.cumprod(1), (Z34,)),
    "cumprod_with_zeros": (lambda lib, a: lib.cumprod(a, 1), (ZEROS,)),
    "gather": (lambda lib, a: lib.gather(a, 0, _index(lib, INDEX)), (Z34,)),
    "take_along_dim": (lambda lib, a: lib.take_along_dim(a, _index(lib, [[1], [0], [3]]), 1), (Z34,)),
    "scatter_add": (lambda lib, a, b: lib.scatter_add(a, 0, _index(lib, INDEX), b), (Z34, _c(2, 4))),
    "scatter": (lambda lib, a, b: a.scatter(1, _index(lib, [[0, 2], [1, 3], [3, 0]]), b), (Z34, _c(3, 2))),
    "index_add": (lambda lib, a, b: lib.index_add(a, 1, _index(lib, [0, 2, 0]), b, alpha=2), (Z34, _c(3, 3))),
    "index_copy": (lambda lib, a, b: lib.index_copy(a, 1, _index(lib, [3, 1]), b), (Z34, _c(3, 2))),
    "sgn": (lambda lib, a: lib.sgn(a), (Z34,)),   # at zero: test_sgn_has_a_zero_gradient_at_zero…
    "sgn_method_times_z": (lambda lib, a: a.sgn() * a, (Z34,)),
    "logsumexp": (lambda lib, a: lib.logsumexp(a, 1), (Z34,)),
    "logsumexp_all_dims": (lambda lib, a: lib.logsumexp(a * 10, (0, 1)), (Z34,)),   # log's branch: PyTorch's
    "inv": (lambda lib, a: lib.linalg.inv(a), (A33,)),
    "inv_batched": (lambda lib, a: lib.linalg.inv(a), (A233,)),
    "inv_ex": (lambda lib, a: lib.linalg.inv_ex(a)[0], (A33,)),
    "matrix_power_minus_2": (lambda lib, a: lib.linalg.matrix_power(a, -2), (A33,)),
    "solve": (lambda lib, a, b: lib.linalg.solve(a, b), (A33, _c(3, 2))),
    "solve_vector": (lambda lib, a, b: lib.linalg.solve(a, b), (A33, _c(3))),
    "solve_right": (lambda lib, a, b: lib.linalg.solve(a, b, left=False), (A33, _c(2, 3))),
    "solve_batched": (lambda lib, a, b: lib.linalg.solve(a, b), (A233, _c(3, 2))),
    "solve_ex": (lambda lib, a, b: lib.linalg.solve_ex(a, b)[0], (A33, _c(3, 2))),
    "var": (lambda lib, a: a.var(1), (Z34,)),
    "std": (lambda lib, a: lib.std(a, 0), (Z34,)),
    "var_mean": (_var_mean, (Z34,)),
    "std_mean": (_std_mean, (Z34,)),
}


def _weights(shape: tuple) -> np.ndarray:
    return np.asarray(np.random.default_rng(len(shape) + 5).standard_normal(shape + (2,)) @ [1, 1j])


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_gradients_match_torch(name: str, torch: Any) -> None:
    matches_torch(name, *CASES[name], torch, weights=lambda y: _weights(tuple(y.shape)))


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_match_central_differences_of_real_and_imaginary_parts(name: str) -> None:
    matches_central_differences(name, *CASES[name], _weights)


def test_sgn_has_a_zero_gradient_at_zero_and_real_sgn_keeps_its_zero_gradient(torch: Any) -> None:
    z = mg.tensor(np.array([0j, 3 + 4j]), requires_grad=True)
    (mg.sgn(z) * mg.tensor(np.array([1 + 2j, 1j]))).real.sum().backward()
    t = torch.tensor([0j, 3 + 4j], requires_grad=True)
    (torch.sgn(t) * torch.tensor([1 + 2j, 1j])).real.sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), t.grad.numpy(), atol=1e-15)
    assert z.grad.numpy()[0] == 0
    x = mg.tensor([-2.0, 0.0, 5.0], requires_grad=True)
    mg.sgn(x).sum().backward()
    np.testing.assert_array_equal(mg.sgn(x).numpy(), [-1, 0, 1])
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 0])


def test_complex64_keeps_its_dtype() -> None:
    z = mg.tensor(Z34.astype(np.complex64), requires_grad=True)
    for make in (lambda: z.prod(1), lambda: z.cumprod(0), lambda: mg.logsumexp(z, 1), lambda: mg.sgn(z),
                 lambda: z.var(0), lambda: mg.linalg.inv(z[:, :3] + 3 * mg.eye(3))):
        y = make()
        (y.abs() if y.is_complex() else y).sum().backward()
        assert y.dtype == (np.float32 if not y.is_complex() else np.complex64) and z.grad.dtype == np.complex64
        z.grad = None


GPU_CASES = ["prod_with_zeros", "cumprod_with_zeros", "scatter", "index_copy", "sgn", "logsumexp", "inv", "solve",
             "std_mean"]


@pytest.mark.gpu
@pytest.mark.parametrize("name", GPU_CASES)
def test_the_cupy_path_gives_the_host_gradients(name: str) -> None:
    """On the GPU, or the strict CuPy stand-in without one (no implicit host copies)."""
    matches_on_cupy(*CASES[name], _weights, rtol=1e-10, atol=1e-12)


@pytest.mark.gpu
def test_gather_scatter_add_and_index_add_on_cupy_whose_add_at_refuses_complex() -> None:
    """CuPy's add.at has no complex (nor int64) dtypes; the strict stand-in refuses them as CuPy does, and
    minigrad.backend.scatter_add adds the real and imaginary parts apart (int64 as uint64's same bits)."""
    grads = []
    for device in ("cpu", "cuda"):
        z = mg.tensor(Z34, device=device, requires_grad=True)
        y = mg.gather(z, 0, mg.tensor(INDEX, device=device))
        y.abs().sum().backward()
        grads.append(z.grad.cpu().numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12)
    assert np.abs(grads[0]).sum() > 0


@pytest.mark.gpu
def test_int64_scatter_add_on_cupy_adds_as_uint64() -> None:
    """index_add_ of int64 values (counts, histograms): CuPy's add.at has no int64; uint64 adds the same bits."""
    counts = mg.zeros(4, dtype=mg.int64, device="cuda")
    counts.index_add_(0, mg.tensor([0, 2, 2, 3], device="cuda"), mg.tensor([5, -7, 2**40, -1], device="cuda"))
    assert counts.cpu().tolist() == [5, 0, 2**40 - 7, -1]
