"""Round 19: values and gradients at kinks, ties, signed zeros, infinities and NaNs, fuzzed against PyTorch 2.13.

Each case is ``fn(lib, F, *tensors)`` in PyTorch's spelling, run with ``lib = minigrad`` and ``lib = torch`` on the
same arrays (float64 and float32); the outputs and the input gradients for the same random upstream gradient must
agree: equal shapes and dtypes, NaN at the same places, finite values equal to rounding, and where a case says so
the same signs of zeros. (tests/minigrad/test_probe_kinks.py holds the earlier, fixed float64 cases.)
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pytest
from helpers import flat_outputs

import minigrad as mg

NAN, INF = math.nan, math.inf


def _values(ours: Any, theirs: Any, what: str, signed_zeros: bool = False) -> None:
    a = ours.detach().numpy() if isinstance(ours, mg.Tensor) else np.asarray(ours)
    e = theirs.detach().numpy(force=True)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
    assert a.dtype == e.dtype, f"{what}: dtype {a.dtype} != {e.dtype}"
    rtol = 1e-5 if a.dtype == np.float32 else 1e-10
    np.testing.assert_allclose(a, e, rtol=rtol, atol=1e-30, equal_nan=True, err_msg=what)
    if signed_zeros:
        zeros = (a == 0) & (e == 0)
        np.testing.assert_array_equal(np.signbit(a[zeros]), np.signbit(e[zeros]), err_msg=f"{what}: signs of zeros")


def _same_as_torch(torch: Any, fn: Callable, arrays: tuple, signed_zeros: bool = False) -> None:
    """Outputs, then each output's input gradients for one random upstream gradient (the same for both)."""
    ours_in = [mg.tensor(a, requires_grad=True) for a in arrays]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    ours = flat_outputs(fn(mg, mg.nn.functional, *ours_in))
    theirs = flat_outputs(fn(torch, torch.nn.functional, *theirs_in))
    assert len(ours) == len(theirs)
    rng = np.random.default_rng(19)
    for i, (o, t) in enumerate(zip(ours, theirs)):
        _values(o, t, f"output {i}", signed_zeros)
        if not t.requires_grad:
            continue
        upstream = (rng.uniform(0.5, 1.5, t.shape) * rng.choice([-1.0, 1.0], t.shape)).astype(arrays[0].dtype)
        grads = mg.autograd.grad(o, ours_in, mg.tensor(upstream), retain_graph=True, allow_unused=True)
        their_grads = torch.autograd.grad(t, theirs_in, torch.from_numpy(upstream), retain_graph=True,
                                          allow_unused=True)
        for k, (g, tg) in enumerate(zip(grads, their_grads)):
            zero = np.zeros(arrays[k].shape, arrays[k].dtype)
            _values(zero if g is None else g, torch.from_numpy(zero) if tg is None else tg,
                    f"gradient of input {k} from output {i}")


# --- pdist --------------------------------------------------------------------------------------------------------
# A NaN in a row (or inf - inf) gave a distance of 0 with p = 2 and other p (the zero test read NaN > 0 as false);
# p = inf shared the gradient among tied entries (amax's rule) where PyTorch's kernel gives each the whole gradient;
# PyTorch's kernel also gives NaN gradients where a difference is NaN (p = 1, 2, inf) or the distance is infinite.
PDIST_CASES = {
    "nan_p2": ([[1.0, NAN], [2.0, 3.0], [4.0, 5.0]], 2.0),
    "inf_minus_inf_p2": ([[INF, 1.0], [INF, 3.0]], 2.0),
    "nan_p3": ([[1.0, NAN, 5.0], [2.0, 3.0, 0.0]], 3.0),
    "nan_p_half": ([[1.0, NAN, 5.0], [2.0, 3.0, 0.0]], 0.5),
    "nan_p1": ([[NAN, -3.0], [-3.0, -6.0], [1.0, 2.0]], 1.0),
    "ties_pinf": ([[-2.0, 6.0], [6.0, -2.0], [0.0, 0.0]], INF),
    "ties_3d_pinf": ([[0.5, -3.0, 0.5], [-3.0, -3.0, -3.0]], INF),
    "infinite_pinf": ([[-INF, -0.36], [INF, 6.0]], INF),
    "nan_pinf": ([[1.0, NAN, 5.0], [2.0, 3.0, 0.0]], INF),
    "zero_rows": ([[1.0, 2.0], [1.0, 2.0], [0.0, 2.0]], INF),
    "zero_difference_infinite_distance_p_half": ([[-0.0, -0.0, 0.5, -0.5, INF], [-0.5, -0.0, -3.0, 2.0, -0.0]], 0.5),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(PDIST_CASES))
def test_pdist_at_nan_ties_and_infinities_as_torch(name: str, dtype: str, torch: Any) -> None:
    rows, p = PDIST_CASES[name]
    _same_as_torch(torch, lambda t, F, x: F.pdist(x, p), (np.array(rows, dtype=dtype),))


def test_pdist_has_no_double_backward_at_p_inf_as_torch(torch: Any) -> None:
    for lib in (torch, mg):
        x = lib.tensor([[1.0, 2.0], [3.0, 3.0]], requires_grad=True)
        with pytest.raises(RuntimeError):   # minigrad: NotImplementedError naming pdist, a RuntimeError
            (g,) = lib.autograd.grad(lib.nn.functional.pdist(x, INF).sum(), [x], create_graph=True)
            g.sum().backward()


# --- hardtanh / relu6 at their bounds -----------------------------------------------------------------------------
# at a bound the value was the bound (relu6(-0.0) gave 0.0); PyTorch's clamp keeps x there (-0.0), gradient 0.
# (No NaN: PyTorch's gradient at NaN depends on whether it falls in the vectorised loop or the scalar tail.)
BOUNDS = np.array([-0.0, 0.0, 6.0, -1.0, 1.0, INF, 7.0, -3.0, 0.5, -0.0, -INF])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", ["relu6", "hardtanh", "hardtanh_zero_bounds", "hardtanh_negative_zero_low"])
def test_hardtanh_keeps_x_at_a_bound_as_torch(name: str, dtype: str, torch: Any) -> None:
    fn = {"relu6": lambda t, F, x: F.relu6(x), "hardtanh": lambda t, F, x: F.hardtanh(x),
          "hardtanh_zero_bounds": lambda t, F, x: F.hardtanh(x, -0.0, 0.0),
          "hardtanh_negative_zero_low": lambda t, F, x: F.hardtanh(x, -0.0, 6.0)}[name]
    _same_as_torch(torch, fn, (BOUNDS.astype(dtype),), signed_zeros=True)


# --- logsigmoid where e^-x underflows ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_logsigmoid_is_positive_zero_where_exp_underflows_as_torch(dtype: str, torch: Any) -> None:
    x = np.array([INF, 800.0, 50.0, 0.0, -0.0, -3.0, -INF, NAN], dtype=dtype)   # was -0.0 at inf and 800
    _same_as_torch(torch, lambda t, F, x: F.logsigmoid(x), (x,), signed_zeros=True)


# --- second derivatives at the kink ---------------------------------------------------------------------------
# PyTorch's double backward of elu/celu/selu is masked by x < 0 and prelu's by x >= 0: at x = 0 itself no curvature
# (elu) and no cross term between x and the weight (prelu), while the first derivative there is the negative
# side's slope. minigrad's pieces gave the negative side's second derivative (α·s² at 0 for elu).
SECOND_ORDER = {
    "elu": lambda t, F, x, w: F.elu(x),
    "elu_alpha": lambda t, F, x, w: F.elu(x, 0.5),
    "celu": lambda t, F, x, w: F.celu(x, 2.0),
    "selu": lambda t, F, x, w: F.selu(x),
    "prelu": lambda t, F, x, w: F.prelu(x, w),
    "prelu_channels": lambda t, F, x, w: F.prelu(x.reshape(2, 3), w.expand(3).contiguous()),
}
KINK_INPUTS = np.array([0.0, -0.0, -1.0, 2.0, 0.0, -3.0])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_second_derivative_at_zero_as_torch(name: str, dtype: str, torch: Any) -> None:
    fn = SECOND_ORDER[name]
    x, w = KINK_INPUTS.astype(dtype), np.array([0.25], dtype)
    rng = np.random.default_rng(5)
    upstream, vx, vw = (rng.uniform(0.5, 1.5, shape).astype(dtype) * rng.choice([-1, 1], shape).astype(dtype)
                        for shape in ((2, 3) if name == "prelu_channels" else (6,), (6,), (1,)))

    def run(lib: Any) -> list:
        inputs = [lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)]
        out = fn(lib, lib.nn.functional, *inputs)
        gx, gw = lib.autograd.grad(out, inputs, lib.tensor(upstream), create_graph=True, allow_unused=True)
        total = (gx * lib.tensor(vx)).sum() + (0 if gw is None else (gw * lib.tensor(vw)).sum())
        return [gx, *lib.autograd.grad(total, inputs, allow_unused=True)]

    for i, (ours, theirs) in enumerate(zip(run(mg), run(torch))):
        zero = np.zeros((6,) if i < 2 else (1,), dtype)
        _values(zero if ours is None else ours, torch.from_numpy(zero) if theirs is None else theirs, f"result {i}")


# --- signed zeros at ties: where PyTorch has one rule, the same ------------------------------------------------
# max(dim)/min(dim) return the first extreme's index and its value (its sign of zero); a stable sort keeps ±0 in
# input order; cummax/cummin take the last of equal values. (Which zero amax/amin, max()/min() with no dim and
# maximum/minimum return at a ±0 tie is not one rule in PyTorch: its CPU loops differ between the vectorised part
# and the scalar tail, and from CUDA's; minigrad keeps NumPy's there.)
SIGNED_ZERO_TIES = np.array([[0.0, -0.0, -1.0], [-0.0, 0.0, -2.0], [-3.0, -0.0, 0.0], [NAN, -0.0, 0.0]])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", ["max_min_dim", "sort", "cummax_cummin"])
def test_signed_zero_ties_where_torch_has_one_rule(name: str, dtype: str, torch: Any) -> None:
    fn = {"max_min_dim": lambda t, F, x: [*x.max(1), *x.min(1), *x[:3].max(0), *x[:3].min(0)],
          "sort": lambda t, F, x: [*x.sort(dim=1, stable=True), *x.sort(dim=1, descending=True, stable=True),
                                   x.argsort(dim=0, stable=True)],
          "cummax_cummin": lambda t, F, x: [*x.cummax(1), *x.cummin(1), *x.cummax(0)]}[name]
    _same_as_torch(torch, fn, (SIGNED_ZERO_TIES.astype(dtype),), signed_zeros=True)


# --- the same on the GPU (the strict CuPy stand-in without one) ---------------------------------------------------
@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_pdist_and_bounded_activations_on_the_gpu_match_the_cpu(dtype: str) -> None:
    rows = np.array([[1.0, NAN, 5.0], [2.0, 3.0, 0.0], [-2.0, 6.0, 0.0], [6.0, -2.0, 0.0], [0.0, 0.0, 0.0]], dtype)
    points = np.array([-0.0, 0.0, 6.0, -1.0, 1.0, INF, 800.0, -3.0], dtype)
    upstream = np.linspace(-1.5, 1.5, 10).astype(dtype)

    def run(device: str) -> list:
        x = mg.tensor(rows, requires_grad=True, device=device)
        y = mg.tensor(points, requires_grad=True, device=device)
        F = mg.nn.functional
        total = sum(((F.pdist(x, p) * mg.tensor(upstream, device=device)).nansum() for p in (0.5, 1.0, 2.0, 3.0, INF)),
                    start=F.relu6(y).sum() + F.hardtanh(y, -0.0, 1.0).sum() + F.logsigmoid(y).sum())
        total.backward()
        return [F.relu6(y).numpy(), F.logsigmoid(y).numpy(), total.numpy(), x.grad.numpy(), y.grad.numpy()]

    with np.errstate(all="ignore"):   # the stand-in is NumPy underneath, which warns where CuPy does not
        results = zip(run("cuda"), run("cpu"))
    for gpu, cpu in results:
        np.testing.assert_allclose(gpu, cpu, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(np.signbit(gpu[gpu == 0]), np.signbit(cpu[cpu == 0]))
