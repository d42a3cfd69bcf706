"""One helper to check an op or layer two ways: finite differences and PyTorch (and on the GPU as on the CPU)."""

from __future__ import annotations

import sys
import threading
import warnings
from typing import Any, Callable, Collection, Sequence

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

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


# --- tables of cases in PyTorch's spelling ---------------------------------------------------------------
# A case is ``fn(lib, *tensors)`` written once in PyTorch's spelling, with the arrays it runs on (float64,
# integer or bool): ``CASES = {name: (fn, arrays)}`` in tests/minigrad/test_pytorch_api.py and its
# neighbours. The functions below return the tests of such a table; a test file assigns them to the names
# pytest collects, for instance ``test_same_as_torch, test_gradcheck = case_tests(CASES)``.


def flat_outputs(out: Any) -> list:
    """Tensors in an op's result: one, or a (values, indices) pair, or a list of parts."""
    if isinstance(out, (tuple, list)):
        return [t for part in out for t in flat_outputs(part)]
    return [out]


def _leaf(lib: Any, array: np.ndarray) -> Any:
    return lib.tensor(array, requires_grad=array.dtype.kind == "f")


def same_as_torch(torch: Any, fn: Callable, *arrays: np.ndarray, gradcheck: bool = True) -> None:
    """``fn(mg, ...)`` and ``fn(torch, ...)``: equal outputs (values, shapes, dtypes) and input gradients.

    ``arrays``: the inputs, float ones as leaves that require grad. With ``gradcheck`` a differentiable
    case also passes :func:`gradcheck_case`.
    """
    ours_in = [_leaf(mg, a) for a in arrays]
    theirs_in = [_leaf(torch, a) for a in arrays]
    ours, theirs = fn(mg, *ours_in), fn(torch, *theirs_in)
    assert type(ours) is not list or isinstance(theirs, (tuple, list))
    ours_flat, theirs_flat = flat_outputs(ours), flat_outputs(theirs)
    assert len(ours_flat) == len(theirs_flat)
    if type(theirs).__module__ == "torch.return_types":   # (values, indices): the same field names
        assert_close(ours.values, theirs.values, what="values")
        assert_close(ours.indices, theirs.indices, what="indices")
    rng = np.random.default_rng(12)
    loss_ours, loss_theirs = 0, 0
    for i, (o, t) in enumerate(zip(ours_flat, theirs_flat)):
        assert_close(o, t, what=f"output {i}")
        assert o.dtype == t.detach().numpy().dtype, f"output {i}: dtype {o.dtype} != {t.dtype}"
        if o.requires_grad:
            assert t.requires_grad, f"output {i} requires grad in minigrad only"
            weights = rng.standard_normal(o.shape)
            loss_ours = loss_ours + (o * mg.tensor(weights)).sum()
            loss_theirs = loss_theirs + (t * torch.from_numpy(weights)).sum()
    if isinstance(loss_ours, mg.Tensor):
        loss_ours.backward()
        loss_theirs.backward()
        for i, (o, t) in enumerate(zip(ours_in, theirs_in)):
            if o.requires_grad:
                assert_close(o.grad if o.grad is not None else np.zeros(o.shape), t.grad if t.grad is not None
                             else np.zeros(o.shape), what=f"grad of input {i}")
        if gradcheck:
            gradcheck_case(fn, arrays)


def gradcheck_case(fn: Callable, arrays: Sequence[np.ndarray]) -> None:
    """``mg.gradcheck`` of ``fn(mg, ...)``'s float outputs in float64, without PyTorch.

    A case none of whose outputs requires grad (bool results, indices) has nothing to check.
    """
    inputs = [_leaf(mg, a) for a in arrays]

    def float_outputs(*xs: mg.Tensor) -> list:
        return [o for o in flat_outputs(fn(mg, *xs)) if o.dtype.kind == "f"]

    if any(o.requires_grad for o in float_outputs(*inputs)):
        assert mg.gradcheck(float_outputs, inputs)


def case_tests(cases: dict[str, tuple[Callable, tuple]], no_gradcheck: Collection[str] = (),
               not_in_torch: Collection[str] = ()) -> tuple[Callable, Callable]:
    """``test_same_as_torch`` (:func:`same_as_torch`, each case but those PyTorch refuses, ``not_in_torch``)
    and ``test_gradcheck`` (:func:`gradcheck_case`, each case but ``no_gradcheck``: kinks at ties, NaNs,
    outputs that share memory with an input), parametrized by the case's name."""
    @pytest.mark.parametrize("name", sorted(set(cases) - set(not_in_torch)))
    def test_same_as_torch(name: str, torch: Any) -> None:
        fn, arrays = cases[name]
        same_as_torch(torch, fn, *arrays, gradcheck=name not in no_gradcheck)

    @pytest.mark.parametrize("name", sorted(set(cases) - set(no_gradcheck)))
    def test_gradcheck(name: str) -> None:
        """Finite differences in float64, without PyTorch."""
        gradcheck_case(*cases[name])

    return test_same_as_torch, test_gradcheck


def shape_gradcheck_tests(cases: dict[str, tuple[Callable, tuple]]) -> Callable:
    """``test_gradcheck`` over ``cases`` (name → (fn of Tensors, input shapes)): float64 inputs drawn uniformly
    in [-1, 1) with a seed from the name, ``mg.gradcheck`` of ``fn``; parametrized by the case's name."""
    @pytest.mark.parametrize("name", sorted(cases))
    def test_gradcheck(name: str) -> None:
        """Analytic gradients of each case equal central differences, in float64."""
        fn, shapes = cases[name]
        rng = np.random.default_rng(sum(map(ord, name)))
        inputs = [mg.tensor(rng.uniform(-1, 1, shape), dtype=mg.float64, requires_grad=True) for shape in shapes]
        assert mg.gradcheck(fn, inputs)

    return test_gradcheck


# --- random shapes and dims (Hypothesis) -------------------------------------------------------------------
# A drawn case is ``fn(lib, x, dims, flag)``: ``dims`` two dims of ``x`` (negative ones too), ``flag`` a
# bool for the case to choose keepdim, largest, descending... with.

DRAWN = settings(max_examples=25, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@st.composite
def array_and_dims(draw: Callable, min_dims: int = 1) -> tuple:
    """``(x, [dim, dim], flag)``: a float64 array of 1 to 4 dims of sizes 1 to 4, two dims of it, a bool."""
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=4, min_side=1, max_side=4))
    seed = draw(st.integers(0, 2**32 - 1))
    ndim = len(shape)
    dims = draw(st.lists(st.integers(-ndim, ndim - 1), min_size=2, max_size=2))
    return np.random.default_rng(seed).standard_normal(shape), dims, draw(st.booleans())


def drawn_case_tests(cases: dict[str, Callable]) -> Callable:
    """``test_drawn_shapes_same_as_torch``: each drawn case on 25 drawn ``(x, dims, flag)``, by
    :func:`same_as_torch` (without gradcheck), parametrized by the case's name."""
    @pytest.mark.parametrize("name", sorted(cases))
    @DRAWN
    @given(drawn=array_and_dims())
    def test_drawn_shapes_same_as_torch(name: str, drawn: tuple, torch: Any) -> None:
        array, dims, flag = drawn
        fn = cases[name]
        same_as_torch(torch, lambda t, x: fn(t, x, dims, flag), array, gradcheck=False)

    return test_drawn_shapes_same_as_torch


# --- on the GPU (a real one, or the strict CuPy stand-in of tests/conftest.py) -----------------------------

def _run_on(device: str, fn: Callable, arrays: Sequence[np.ndarray]) -> tuple[list, list]:
    leaves = [mg.tensor(a, requires_grad=a.dtype.kind == "f", device=device) for a in arrays]
    outs = flat_outputs(fn(mg, *leaves))
    loss = None
    for k, out in enumerate(outs):
        assert out.device == mg.device(device), f"output {k} on {out.device}"
        if out.requires_grad:
            weights = mg.tensor(np.random.default_rng(k).standard_normal(out.shape), device=device)
            loss = (out * weights).sum() if loss is None else loss + (out * weights).sum()
    if loss is not None:
        loss.backward()
    return [o.numpy() for o in outs], [None if x.grad is None else x.grad.numpy() for x in leaves]


# Whether GPU tests run on a real GPU (read before any test installs the strict CuPy stand-in)
REAL_GPU = mg.cuda.is_available()
_SINGLE = (np.dtype(np.float32), np.dtype(np.complex64))


def device_tolerance(rtol: float, atol: float, arrays: Sequence[Any]) -> tuple[float, float]:
    """``(rtol, atol)`` for comparing a GPU run with the CPU's when ``arrays`` are its results.

    The strict CuPy stand-in is NumPy underneath, so there the comparison stays as tight as asked. A real
    GPU's single-precision functions are CUDA's (``expf``, ``erfcinvf``: within 1 to 2 units in the last
    place), not NumPy's, and its kernels may flush float32 subnormals to zero: where any result is float32
    or complex64 (so the computation ran in single precision, whatever the gradients' dtype), the
    tolerance is float32's, as PyTorch's cross-device tests use.
    """
    if REAL_GPU and any(a is not None and np.asarray(a).dtype in _SINGLE for a in arrays):
        return max(rtol, 1e-5), max(atol, float(np.finfo(np.float32).tiny))
    return rtol, atol


def same_on_gpu_as_on_cpu(fn: Callable, arrays: Sequence[np.ndarray], rtol: float = 1e-10,
                          atol: float = 1e-12) -> None:
    """``fn(mg, ...)`` on cuda: outputs on cuda, and outputs and input gradients equal to the cpu run's
    (dtypes and shapes too)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)   # the stand-in is NumPy, which warns where CuPy does not
        (cpu_out, cpu_grads), (gpu_out, gpu_grads) = _run_on("cpu", fn, arrays), _run_on("cuda", fn, arrays)
    rtol, atol = device_tolerance(rtol, atol, cpu_out + cpu_grads)
    for k, (a, b) in enumerate(zip(gpu_out + gpu_grads, cpu_out + cpu_grads)):
        assert (a is None) == (b is None), f"item {k}"
        if a is not None:
            assert a.dtype == b.dtype and a.shape == b.shape, f"item {k}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"item {k}")


def gpu_case_tests(cases: dict[str, tuple[Callable, tuple]], leave_out: Collection[str] = (),
                   rtol: float = 1e-10, atol: float = 1e-12) -> Callable:
    """``test_same_on_gpu_as_on_cpu``: each case but ``leave_out`` by :func:`same_on_gpu_as_on_cpu`."""
    @pytest.mark.gpu
    @pytest.mark.parametrize("name", sorted(set(cases) - set(leave_out)))
    def test_same_on_gpu_as_on_cpu(name: str) -> None:
        same_on_gpu_as_on_cpu(*cases[name], rtol=rtol, atol=atol)

    return test_same_on_gpu_as_on_cpu


def run_interleaved(threads: Sequence[threading.Thread]) -> None:
    """Start and join ``threads`` with the interpreter switching between them as often as it can, so that
    code that is not thread-safe would interleave (and fail the threads' own checks)."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)


def in_threads(*targets: Callable[[], Any], timeout: float = 120.0) -> list:
    """Run each target in its own thread; return their results, re-raising the first exception (a thread still
    running after ``timeout`` seconds fails the test instead of hanging it)."""
    results: list = [None] * len(targets)
    errors: list = []

    def run(i: int, target: Callable[[], Any]) -> None:
        try:
            results[i] = target()
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i, t), daemon=True) for i, t in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    if errors:
        raise errors[0]
    return results
