"""Finite-difference gradchecks (float64) for the differentiable methods that exist only on ``mg.Tensor``.

The list came from an audit: every public method or property of ``mg.Tensor`` whose name is not also a function of
``minigrad``, ``mg.linalg``, ``mg.fft``, ``mg.special`` or ``nn.functional``, called on a float64 tensor that requires
grad, whose result has a ``grad_fn``, against the methods reached inside ``mg.gradcheck`` during the test suite (the
functions are in test_gradcheck_coverage_round13.py). Left out, as PyTorch does not differentiate them either:
``floor_divide_``, ``heaviside_``, ``bitwise_*_``, the derivative of ``igamma_``/``igammac_`` with respect to
``self``, and ``resize_`` (which refuses a tensor that requires grad). ``logical_not_`` and ``logical_and_/or_/xor_``
are left out too: PyTorch records no derivative for them (the write is out of the graph, so the gradient of the
op before passes through unchanged and torch's own gradcheck fails); ours does the same, pinned against torch in
test_version_counter_round13.py.

Each case is ``(fn, shapes)``: ``fn`` takes float64 leaves of those shapes, drawn from (-1, 1) by a seeded generator.
In-place methods run on a non-leaf (an affine map of the input into the method's domain). A method whose gradient is
zero (comparisons, ``logical_*_``, ``sign_``, the random fills) is multiplied by the input, so the check still has a
non-zero gradient to compare; random fills reseed first so that every evaluation draws the same values.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

import minigrad as mg
from tests.helpers import shape_gradcheck_tests

pytestmark = pytest.mark.filterwarnings("ignore:non-inplace resize")   # resize, resize_as warn as torch's do


def _seeded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with the global generator reseeded first: a random fill draws the same values on each call."""
    def call(*xs: mg.Tensor) -> Any:
        mg.manual_seed(11)
        return fn(*xs)
    return call


def _zero_grad(name: str, *args: Any) -> Callable[[mg.Tensor, mg.Tensor], mg.Tensor]:
    """``x.<name>_(y)`` (a method with a zero gradient) on a copy of ``x``, then times ``x``."""
    def call(x: mg.Tensor, y: mg.Tensor) -> mg.Tensor:
        return getattr(x * 1, name)(y, *args) * x
    return call


def _fill(name: str, *args: Any) -> Callable[[mg.Tensor], mg.Tensor]:
    """``x.<name>(*args)`` (a random fill: zero gradient) on a copy of ``x``, then times ``x``."""
    return _seeded(lambda x: getattr(x * 1, name)(*args) * x)


def _complex(x: mg.Tensor) -> mg.Tensor:
    """The float pairs on ``x``'s last dim as complex numbers (shape ``x.shape[:-1]``)."""
    return mg.view_as_complex(x)


_ROWS = mg.tensor([[2, 0], [1, 2]])          # a scatter index with distinct columns per row
_REPEATED = mg.tensor([2, 0, 2])              # an index_add_ index that repeats
_MASK = mg.tensor([[True, False, True], [False, True, True]])

# name: (fn, input shapes)
CASES: dict[str, tuple[Callable[..., Any], tuple[tuple[int, ...], ...]]] = {
    "T": (lambda x: x.T * x.T.sum(0), ((3, 4),)),
    "mT": (lambda x: x.mT, ((2, 3, 4),)),
    "H": (lambda x: mg.view_as_real(_complex(x).H * 1), ((3, 2, 2),)),
    "mH": (lambda x: mg.view_as_real(_complex(x).mH * (1 + 2j)), ((2, 3, 2, 2),)),
    "absolute_": (lambda x: (x * 1).absolute_(), ((2, 3),)),
    "addcdiv_": (lambda x, a, b: (x * 1).addcdiv_(a, b.abs() + 0.5, value=0.7), ((2, 3), (3,), (2, 1))),
    "addcmul_": (lambda x, a, b: (x * 1).addcmul_(a, b, value=-1.5), ((2, 3), (3,), (2, 1))),
    "arctan2_": (lambda x, y: (x * 1).arctan2_(y), ((2, 3), (3,))),
    "atan2_": (lambda x, y: (x * 1).atan2_(y), ((2, 3), (2, 1))),
    "copysign_": (lambda x, y: (x * 1).copysign_(y) * x, ((2, 3), (3,))),
    "digamma_": (lambda x: (x * 0.4 + 1.5).digamma_(), ((2, 3),)),
    "divide_": (lambda x, y: (x * 1).divide_(y.abs() + 0.5), ((2, 3), (3,))),
    "true_divide_": (lambda x, y: (x * 1).true_divide_(y * 0.4 + 1.5), ((2, 3), (2, 1))),
    "multiply_": (lambda x, y: (x * 1).multiply_(y), ((2, 3), (3,))),
    "subtract_": (lambda x, y: (x * 1).subtract_(y, alpha=2.5), ((2, 3), (3,))),
    "erfinv_": (lambda x: (x * 0.9).erfinv_(), ((2, 3),)),
    "float_power_": (lambda x, y: (x * 0.4 + 1.5).float_power_(y * 2), ((2, 3), (3,))),
    "fmod_": (lambda x, y: (x * 3).fmod_(y * 0.4 + 1.5), ((2, 3), (3,))),
    "remainder_": (lambda x, y: (x * 3).remainder_(y * 0.4 + 1.5), ((2, 3), (3,))),
    "hypot_": (lambda x, y: (x * 1).hypot_(y), ((2, 3), (3,))),
    "igamma_": (lambda x: mg.full((2, 3), 1.5, dtype=mg.float64).igamma_(x.abs() + 0.5), ((2, 3),)),
    "igammac_": (lambda x: mg.full((2, 3), 0.7, dtype=mg.float64).igammac_(x.abs() + 0.5), ((2, 3),)),
    "lerp_": (lambda x, y, w: (x * 1).lerp_(y, w), ((2, 3), (3,), (2, 1))),
    "lgamma_": (lambda x: (x * 0.4 + 1.5).lgamma_(), ((2, 3),)),
    "nextafter_": (lambda x, y: (x * 1).nextafter_(y) * x, ((2, 3), (3,))),
    "polygamma_": (lambda x: (x * 0.4 + 1.5).polygamma_(2), ((2, 3),)),
    "index_add_": (lambda x, s: (x * 1).index_add_(0, _REPEATED, s, alpha=2.0), ((4, 3), (3, 3))),
    "index_copy_": (lambda x, s: (x * 1).index_copy_(1, mg.tensor([2, 0]), s), ((2, 3), (2, 2))),
    "index_fill_": (lambda x, v: (x * 1).index_fill_(1, mg.tensor([1]), v), ((2, 3), ())),
    "masked_scatter_": (lambda x, s: (x * 1).masked_scatter_(_MASK, s), ((2, 3), (5,))),
    "scatter_ src": (lambda x, s: (x * 1).scatter_(1, _ROWS, s), ((2, 3), (2, 2))),
    "scatter_ value": (lambda x: (x * 1).scatter_(1, _ROWS, value=0.5) * x, ((2, 3),)),
    "scatter_add_": (lambda x, s: (x * 1).scatter_add_(1, mg.tensor([[2, 2], [0, 2]]), s), ((2, 3), (2, 2))),
    "resize": (lambda x: (x * 1).resize(3, 2) * mg.arange(2, dtype=mg.float64), ((2, 3),)),
    "resize_as": (lambda x: (x * 1).resize_as(mg.zeros(6, dtype=mg.float64)), ((2, 3),)),
    "pin_memory": (lambda x: (x * 1).pin_memory(), ((2, 3),)),
    "share_memory_": (lambda x: (x * 1).share_memory_(), ((2, 3),)),
    "to_dense": (lambda x: (x * 1).to_dense(), ((2, 3),)),
    "sign_": (lambda x: (x * 1).sign_() * x, ((2, 3),)),
    "sgn_": (lambda x: (x * 1).sgn_() * x, ((2, 3),)),
    **{name: (_zero_grad(name), ((2, 3), (3,))) for name in (
        "eq_", "ne_", "not_equal_", "ge_", "greater_equal_", "gt_", "greater_", "le_", "less_equal_", "less_")},
    "bernoulli_": (_fill("bernoulli_", 0.3), ((2, 3),)),
    "cauchy_": (_fill("cauchy_"), ((2, 3),)),
    "exponential_": (_fill("exponential_"), ((2, 3),)),
    "geometric_": (_fill("geometric_", 0.5), ((2, 3),)),
    "log_normal_": (_fill("log_normal_"), ((2, 3),)),
    "normal_": (_fill("normal_", 1.0, 2.0), ((2, 3),)),
    "random_": (_fill("random_", 0, 5), ((2, 3),)),
    "uniform_": (_fill("uniform_", -2.0, 3.0), ((2, 3),)),
}


test_gradcheck = shape_gradcheck_tests(CASES)


def test_the_zero_gradient_methods_are_zero() -> None:
    """The methods multiplied by ``x`` above have a zero gradient of their own (as PyTorch's), not a missing one."""
    x = mg.tensor([[0.3, -0.2, 0.8]], dtype=mg.float64, requires_grad=True)
    y = mg.tensor([0.1, 0.5, -0.4], dtype=mg.float64, requires_grad=True)
    for out in [(x * 1).gt_(y), (x * 1).eq_(y), (x * 1).sign_(), (x * 1).normal_()]:
        gx, gy = mg.autograd.grad(out.sum(), (x, y), allow_unused=True, materialize_grads=True)
        assert out.grad_fn is not None and not gx.any() and not gy.any()
