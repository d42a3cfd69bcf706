"""gradcheck's and gradgradcheck's PyTorch options (check_forward_ad, fast_mode, nondet_tol, check_undefined_grad,
check_batched_grad, ...; round 24's API sweep): the same verdict as torch 2.13 on a right function and on functions
with one bug each."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="PyTorch is the reference for these tests")


def _doubling(lib, backward_extra=None, jvp_factor: float = 2.0):
    """y = 2x as a custom Function whose backward adds ``backward_extra(g)`` and whose jvp uses ``jvp_factor``."""

    class Doubling(lib.autograd.Function):
        generate_vmap_rule = True   # check_batched_forward_grad vmaps it (torch's check uses a legacy vmap)

        @staticmethod
        def forward(x):
            return x * 2

        @staticmethod
        def setup_context(ctx, inputs, output):
            pass

        @staticmethod
        def backward(ctx, g):
            return g * 2 + (0 if backward_extra is None else backward_extra(lib, g))

        @staticmethod
        def jvp(ctx, t):
            return t * jvp_factor

    return lambda x: Doubling.apply(x).sin()


def _outcome(lib, fn, x, check, **kwargs) -> str:
    """True/False, "GradcheckError" (a check failed) or "AssertionError" (options that conflict); any other
    error (a keyword refused) propagates."""
    failed = (mg.GradcheckError, sys.modules["torch.autograd.gradcheck"].GradcheckError)
    try:
        return str(getattr(lib.autograd, check)(fn, (x,), **kwargs))
    except AssertionError as error:
        if type(error) is not AssertionError:
            return "GradcheckError"
        return "AssertionError"
    except failed:
        return "GradcheckError"


X5 = np.random.default_rng(3).standard_normal(5)
_KW = {"eps": 1e-6, "atol": 1e-5, "rtol": 1e-3}


_OPTIONS = [{}, {"fast_mode": True}, {"check_forward_ad": True}, {"check_forward_ad": True, "fast_mode": True},
            {"check_forward_ad": True, "check_backward_ad": False}, {"check_batched_grad": True},
            {"check_forward_ad": True, "check_batched_forward_grad": True}, {"check_grad_dtypes": True},
            {"check_undefined_grad": False}, {"nondet_tol": 1e-6}, {"masked": True}, {"raise_exception": False}]
_CONFLICTS = [{"check_backward_ad": False}, {"check_batched_forward_grad": True},
              {"check_batched_grad": True, "check_backward_ad": False, "check_forward_ad": True}]
_CASES = ([("none", kwargs) for kwargs in _OPTIONS + _CONFLICTS]
          + [(bug, kwargs) for bug in ("backward", "jvp", "zero_grad", "nondeterministic") for kwargs in (
              {}, {"fast_mode": True}, {"check_forward_ad": True},
              {"check_forward_ad": True, "check_backward_ad": False}, {"check_undefined_grad": False},
              {"nondet_tol": 1e-6})])


@pytest.mark.parametrize(("bug", "kwargs"), _CASES)
def test_gradcheck_options_as_torch(kwargs: dict, bug: str) -> None:
    # torch.autograd.gradcheck(fn, inputs, check_forward_ad=True, fast_mode=True, ...): ours refused the keywords
    noise = np.random.default_rng(0)
    extra = {"none": None, "backward": lambda lib, g: g * 1e-2,
             "zero_grad": lambda lib, g: (g == 0).all().to(g.dtype),    # wrong only along a zero output gradient
             "jvp": None,
             "nondeterministic": lambda lib, g: lib.tensor(noise.standard_normal(tuple(g.shape)) * 1e-8)}[bug]
    factor = 2.5 if bug == "jvp" else 2.0
    results = [_outcome(lib, _doubling(lib, extra, factor), lib.tensor(X5, requires_grad=True), "gradcheck",
                        **_KW, **kwargs) for lib in (torch, mg)]
    assert results[1] == results[0], f"torch: {results[0]}, minigrad: {results[1]}"


def _gradgrad_outcome(lib, **kwargs) -> str:
    a, b = np.random.default_rng(4).standard_normal((2, 3, 3))
    inputs = (lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True))
    try:
        return str(lib.autograd.gradgradcheck(lambda x, w: (x.sin() * w).tanh() @ w, inputs, **_KW, **kwargs))
    except AssertionError as error:   # the options that conflict
        return type(error).__name__


@pytest.mark.parametrize("kwargs", [{}, {"gen_non_contig_grad_outputs": True}, {"fast_mode": True},
                                    {"check_batched_grad": True}, {"check_grad_dtypes": True}, {"nondet_tol": 1e-9},
                                    {"check_rev_over_rev": False}, {"check_rev_over_rev": False,
                                                                    "check_fwd_over_rev": True}])
def test_gradgradcheck_options_as_torch(kwargs: dict) -> None:
    assert _gradgrad_outcome(mg, **kwargs) == _gradgrad_outcome(torch, **kwargs)


@pytest.mark.parametrize("kwargs", [{"check_fwd_over_rev": True}, {"check_fwd_over_rev": True, "fast_mode": True},
                                    {"check_rev_over_rev": False, "check_fwd_over_rev": True,
                                     "check_undefined_grad": False}])
def test_gradgradcheck_forward_over_reverse(kwargs: dict) -> None:
    # torch's answer is True for each (its first forward-over-reverse call takes seconds to set up: not run here)
    assert _gradgrad_outcome(mg, **kwargs) == "True"


def test_gradcheck_forward_ad_finds_a_wrong_jvp_at_its_element() -> None:
    fn = _doubling(mg, jvp_factor=2.5)
    assert mg.autograd.gradcheck(fn, (mg.tensor(X5, requires_grad=True),))   # backward alone: right
    with pytest.raises(mg.GradcheckError, match=r"input 0 \(shape \(5,\)\) disagrees at index \(\d,\): forward-mode"):
        mg.autograd.gradcheck(fn, (mg.tensor(X5, requires_grad=True),), check_forward_ad=True)
    with pytest.raises(mg.GradcheckError, match="along a random direction: forward-mode"):
        mg.autograd.gradcheck(fn, (mg.tensor(X5, requires_grad=True),), check_forward_ad=True, fast_mode=True)


def test_gradcheck_complex_input_forward_ad_and_fast_mode() -> None:
    # (torch.autograd.gradcheck answers True for each; its first complex forward-AD check takes seconds: not run)
    z = np.random.default_rng(5).standard_normal((2, 3)) + 1j * np.random.default_rng(6).standard_normal((2, 3))
    x = mg.tensor(z, requires_grad=True)
    assert mg.autograd.gradcheck(lambda a: (a * a.conj() + a).exp(), (x,), check_forward_ad=True)
    assert mg.autograd.gradcheck(lambda a: (a * a).sin(), (x,), check_forward_ad=True, fast_mode=True)
    assert mg.autograd.gradcheck(lambda a: (a * a).sin(), (x,), check_forward_ad=True, check_backward_ad=False)
