"""Random op programs against PyTorch in float64: forward values and gradients (issue #13).

Hypothesis draws a program of 3-8 ops, which tests/support/torch_programs.py runs. Each op takes the
current value (and maybe an earlier value or a fresh leaf that broadcasts with it) and gives the next;
shapes may be empty, values include 0, -0, ±inf and NaN, and log, sqrt, div and pow make more of
them. The same program runs in minigrad and in PyTorch; every intermediate value, the error (or not)
of every op, the gradient of every intermediate value and of every leaf, for an upstream gradient
that itself may hold inf or NaN, must agree: NaN at the same places, the same infinities, finite
values to 1e-10 (relative, or 1e-12 of the largest magnitude).

Where PyTorch itself departs from IEEE 754 or from "a mask selects, it never multiplies", the
reference is PyTorch's op with that one rule written out (``reference_ops``), each with a unit test
below that shows PyTorch still does it:

- ``pow(x, ±0.5)`` at x = -0 and -inf: PyTorch computes sqrt/rsqrt, so pow(-0, -0.5) = -inf and
  pow(-inf, -0.5) = NaN (IEEE and NumPy: +inf and +0), and so the gradient of pow(x, 0.5) there.
- ``abs``: PyTorch multiplies by sign(x), so an inf or NaN from above at x = 0 (or at x = NaN)
  becomes NaN; minigrad selects and gives 0. (The sign of abs(NaN) is not compared at all.)
- ``amax``/``amin`` along dims: PyTorch multiplies by its tie mask (inf from above becomes NaN at
  the elements that are not the max) and gives NaN to a whole slice whose max is NaN. minigrad uses
  ``torch.max()``'s rule on every axis: select, and the NaN elements share the gradient.

CI runs ``PROGRAMS`` programs (about 20 s on one core); ``pytest --soak tests/test_fuzz_torch.py``
runs ``SOAK_PROGRAMS``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from helpers import assert_ieee_close
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minigrad as mg
from tests.support.torch_programs import INF, NAMES, NAN, OPS, reference_ops, run_program, unary

PROGRAMS = 2_000
SOAK_PROGRAMS = 50_000
SHAPES = st.lists(st.sampled_from([1, 2, 3, 2, 3, 0]), max_size=3).map(tuple)
PROGRAM_STRATEGY = st.tuples(st.integers(0, 2**32 - 1), SHAPES,
                             st.lists(st.sampled_from(NAMES), min_size=3, max_size=8))


def _fuzz(torch: Any, programs: int) -> None:
    @settings(max_examples=programs, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(program=PROGRAM_STRATEGY)
    def check(program: tuple) -> None:
        run_program(torch, *program)

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        check()


def test_random_programs_match_pytorch(torch, request):
    _fuzz(torch, SOAK_PROGRAMS if request.config.getoption("--soak") else PROGRAMS)


# --- the allowed deviations: PyTorch still does each, and minigrad follows the documented rule ------

def test_deviation_pow_half_at_negative_zero_and_negative_infinity(torch):
    x = np.array([-0.0, -INF])
    assert torch.pow(torch.tensor(x), -0.5).tolist() == [-INF, pytest.approx(NAN, nan_ok=True)]
    np.testing.assert_array_equal((mg.tensor(x) ** -0.5).numpy(), [INF, 0.0])          # IEEE 754, as NumPy
    ours, theirs = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (ours ** 0.5).backward(mg.tensor(np.ones(2)))
    torch.pow(theirs, 0.5).backward(torch.ones(2, dtype=torch.float64))
    assert theirs.grad[0] == -INF and torch.isnan(theirs.grad[1])                        # 0.5 * rsqrt(x)
    np.testing.assert_array_equal(ours.grad.numpy(), [INF, 0.0])                         # 0.5 * x ** -0.5


def test_deviation_abs_multiplies_by_sign_in_pytorch(torch):
    x = np.array([0.0, NAN, -2.0])
    ours, theirs = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    mg.abs(ours).backward(mg.tensor([INF, INF, INF]))
    torch.abs(theirs).backward(torch.full((3,), INF, dtype=torch.float64))
    assert torch.isnan(theirs.grad[:2]).all() and theirs.grad[2] == -INF                 # inf * sign(0) = NaN
    np.testing.assert_array_equal(ours.grad.numpy(), [0.0, 0.0, -INF])


def test_deviation_amax_multiplies_its_mask_and_spreads_nan_in_pytorch(torch):
    x = np.array([[1.0, 1.0, 0.0], [NAN, 1.0, NAN]])
    ours, theirs = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    mg.amax(ours, 1).backward(mg.tensor([INF, 1.0]))
    torch.amax(theirs, 1).backward(torch.tensor([INF, 1.0], dtype=torch.float64))
    assert torch.isnan(theirs.grad[0, 2]) and torch.isnan(theirs.grad[1]).all()
    np.testing.assert_array_equal(ours.grad.numpy(), [[INF, INF, 0.0], [0.5, 0.0, 0.5]])
    full = torch.tensor(x[1], requires_grad=True)
    full.max().backward()                                                                # torch.max(): NaNs share
    np.testing.assert_array_equal(full.grad.numpy(), [0.5, 0.0, 0.5])


def test_references_are_pytorch_ops_away_from_their_one_rule(torch):
    """On finite inputs without ties, with a finite gradient from above, each reference is PyTorch's op."""
    refs = reference_ops(torch)
    NumpyPow, SelectingAbs, SelectingAmax = refs.numpy_pow, refs.selecting_abs, refs.selecting_amax
    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 2.0, (3, 4)) * rng.choice([-1.0, 1.0], (3, 4))
    g = rng.standard_normal((3, 4))
    cases = [(lambda t: NumpyPow.apply(t.abs(), 0.5), lambda t: torch.pow(t.abs(), 0.5)),
             (lambda t: NumpyPow.apply(t.abs(), -0.5), lambda t: torch.pow(t.abs(), -0.5)),
             (SelectingAbs.apply, torch.abs),
             (lambda t: SelectingAmax.apply(t, (1,), True, False).expand(3, 4),
              lambda t: torch.amax(t, 1, keepdim=True).expand(3, 4)),
             (lambda t: SelectingAmax.apply(t, (0, 1), False, True) * torch.ones(3, 4, dtype=t.dtype),
              lambda t: torch.amin(t) * torch.ones(3, 4, dtype=t.dtype))]
    for reference, original in cases:
        a, b = torch.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        reference(a).backward(torch.tensor(g))
        original(b).backward(torch.tensor(g))
        assert_ieee_close(a.grad, b.grad, rtol=1e-14, atol=0.0)


def test_the_fuzz_finds_a_wrong_gradient(torch, monkeypatch):
    """The oracle can fail: a relu whose backward multiplies by its mask (the old bug) is caught."""

    class MultiplyingRelu(mg.Function):
        def forward(self, x: Any) -> Any:
            self.saved = (np.maximum(x, 0),)
            return self.saved[0]

        def backward(self, gy: Any) -> Any:
            return gy * (self.saved[0] > 0)

    monkeypatch.setitem(OPS, "relu", unary(lambda x: MultiplyingRelu()(x), "relu"))
    caught = 0
    with np.errstate(all="ignore"):
        for seed in range(20):
            try:
                run_program(torch, seed, (4,), ["relu", "sqrt", "sum"])
            except AssertionError as failure:
                assert "gradient of leaf 0" in str(failure) and "program (seed" in str(failure)
                caught += 1
    assert caught > 0
