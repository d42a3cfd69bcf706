"""Finite-difference gradchecks (float64) for the public ops no other test ran ``mg.gradcheck`` on.

The list came from an audit: every public function of ``minigrad``, ``mg.linalg``, ``mg.fft``,
``mg.special`` and ``nn.functional`` that returns a float Tensor with a ``grad_fn``, against the
functions reached inside ``mg.gradcheck`` during the test suite. Ops that PyTorch does not
differentiate either (``geqrf``, ``linalg.ldl_factor``, ``linalg.ldl_solve``, the ``special`` Bessel functions and
polynomials, ``floor_divide``, ``heaviside``) are left out; ``fake_quantize_*`` are left out
because their straight-through gradient is not the derivative of their step function.

Each case is ``(fn, shapes)``: ``fn`` takes float64 leaves of those shapes (drawn from a seeded
generator, with ``shapes[i]`` broadcasting against each other where the op broadcasts). Random ops
reseed inside ``fn`` so that every evaluation draws the same mask. In-place ops run on a non-leaf
(an affine map of the input into the op's domain), so the gradient goes through the rebased graph.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

import minigrad as mg
import nn.functional as F
from tests.helpers import shape_gradcheck_tests

pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated")   # upsample*, lu, lu_solve warn as torch's do


def _seeded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with the global generator reseeded first: a random op draws the same mask on each call."""
    def call(*xs: mg.Tensor) -> Any:
        mg.manual_seed(7)
        return fn(*xs)
    return call


def _well_conditioned(a: mg.Tensor) -> mg.Tensor:
    """``a`` plus 4·I on its last two dims (square): away from singular, eigenvalues well apart from ties."""
    return a + 4 * mg.eye(a.shape[-1], dtype=a.dtype) * mg.arange(1, a.shape[-1] + 1, dtype=a.dtype)


def _while_loop(x: mg.Tensor) -> mg.Tensor:
    """Three steps of ``x ← sin(x) * x + x`` through ``mg.while_loop`` (the count is a carried int Tensor)."""
    _, out = mg.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, mg.sin(y) * y + y), (mg.tensor(0), x))
    return out


def _inplace(name: str, scale: float = 1.0, shift: float = 0.0, *args: Any) -> Callable[[mg.Tensor], mg.Tensor]:
    """``mg.<name>`` (an in-place op) on ``x * scale + shift``, then times ``x`` (so a zero-gradient op still
    has a non-zero one to check)."""
    def call(x: mg.Tensor) -> mg.Tensor:
        return getattr(mg, name)(x * scale + shift, *args) * x
    return call


_INPLACE = {  # name: (scale, shift, extra arguments): x is drawn from (-1, 1)
    **{name: (0.9, 0.0) for name in ("acos_", "arccos_", "asin_", "arcsin_", "atanh_", "arctanh_")},
    **{name: (0.4, 1.5) for name in ("acosh_", "arccosh_", "log10_", "log2_", "rsqrt_", "reciprocal_")},
    **{name: (1.0, 0.0) for name in ("asinh_", "arcsinh_", "atan_", "arctan_", "cos_", "cosh_", "sin_", "sinh_",
                                     "tan_", "erf_", "erfc_", "exp2_", "expm1_", "deg2rad_", "rad2deg_",
                                     "negative_", "sinc_", "square_", "i0_", "nan_to_num_")},
    **{name: (3.0, 0.0) for name in ("ceil_", "floor_", "round_", "trunc_", "fix_", "frac_")},
    "log1p_": (0.9, 0.0), "logit_": (0.4, 0.5),
    "clamp_max_": (1.0, 0.0, 0.3), "clamp_min_": (1.0, 0.0, -0.2), "clip_": (1.0, 0.0, -0.5, 0.5),
}

# name: (fn, input shapes)
CASES: dict[str, tuple[Callable[..., Any], tuple[tuple[int, ...], ...]]] = {
    "rsub": (lambda x, y: mg.rsub(x, y, alpha=2.5), ((3, 1, 4), (2, 4))),
    "fix": (lambda x: mg.fix(x * 3) * x, ((2, 5),)),
    "polar": (lambda r, t: mg.view_as_real(mg.polar(r + 0.5, t)), ((3, 1), (4,))),
    "view_as_complex": (lambda x, y: mg.view_as_real(mg.view_as_complex(x) * mg.view_as_complex(y)),
                        ((3, 2), (2, 1, 2))),
    "ger": (mg.ger, ((3,), (4,))),
    "pixel_unshuffle": (lambda x: mg.pixel_unshuffle(x, 2), ((2, 1, 4, 6),)),
    "native_channel_shuffle": (lambda x: mg.native_channel_shuffle(x, 3) * x, ((2, 6, 2, 3),)),
    "lstm_gates": (lambda g, c: mg.lstm_gates(g, c), ((2, 12), (2, 3))),
    "gru_gates": (lambda gi, gh, h: mg.gru_gates(gi, gh, h), ((2, 9), (2, 9), (2, 3))),
    "cond": (lambda p, x: mg.cond(p.sum() > -100, lambda a, b: mg.sin(a) * b, lambda a, b: a + b, (x, p)),
             ((3, 4), (4,))),
    "while_loop": (_while_loop, ((2, 3),)),
    "linalg.eig values": (lambda a: mg.view_as_real(mg.linalg.eig(_well_conditioned(a)).eigenvalues), ((4, 4),)),
    "linalg.eig vectors": (lambda a: mg.linalg.eig(_well_conditioned(a)).eigenvectors.abs(), ((2, 3, 3),)),
    "linalg.lu_factor_ex": (lambda a: mg.linalg.lu_factor_ex(_well_conditioned(a)).LU, ((2, 3, 3),)),
    "lu": (lambda a: mg.lu(_well_conditioned(a))[0], ((3, 3),)),
    "lu_solve": (lambda a, b: mg.lu_solve(b, *mg.linalg.lu_factor(_well_conditioned(a))), ((2, 3, 3), (3, 2))),
    "linalg.singular_values": (lambda a: mg.linalg.singular_values(a), ((4, 3),)),
    "svd_lowrank": (_seeded(lambda a: mg.svd_lowrank(a, q=3, niter=2)[1]), ((5, 3),)),
    "pca_lowrank": (_seeded(lambda a: mg.pca_lowrank(a, q=3)[1]), ((6, 3),)),
    "F.dropout1d": (_seeded(lambda x: F.dropout1d(x, 0.5)), ((2, 3, 4),)),
    "feature_alpha_dropout": (_seeded(lambda x: mg.feature_alpha_dropout(x, 0.4, True)), ((2, 3, 4),)),
    "F.adaptive_max_pool2d": (lambda x: F.adaptive_max_pool2d(x, (2, 3)), ((1, 2, 5, 5),)),
    "F.conv_tbc": (lambda x, w, b: F.conv_tbc(x, w, b, 1), ((5, 2, 3), (3, 3, 4), (4,))),
    "F.upsample": (lambda x: F.upsample(x, scale_factor=2), ((1, 2, 3, 2),)),
    "F.upsample bilinear": (lambda x: F.upsample(x, size=(4, 5), mode="bilinear"), ((1, 2, 3, 2),)),
    "F.upsample_bilinear": (lambda x: F.upsample_bilinear(x, scale_factor=2), ((2, 1, 3, 2),)),
    "F.upsample_nearest": (lambda x: F.upsample_nearest(x, size=(5, 7)), ((1, 2, 3, 2),)),
    "ctc_loss": (lambda x: mg.ctc_loss(x.log_softmax(2), mg.tensor([[1, 2], [3, 3]]), [5, 4], [2, 2], 0, "sum"),
                 ((5, 2, 4),)),
    "xlogy_": (lambda x, y: mg.xlogy_(x * 1, y.abs() + 0.5), ((3, 4), (4,))),
    "alpha_dropout_": (_seeded(lambda x: mg.alpha_dropout_(x * 1, 0.4, True)), ((3, 4),)),
    "feature_dropout_": (_seeded(lambda x: mg.feature_dropout_(x * 1, 0.4, True)), ((2, 3, 4),)),
    "F.rrelu_": (_seeded(lambda x: F.rrelu_(x * 1, training=True)), ((3, 4),)),
    **{name: (_inplace(name, *spec), ((2, 3),)) for name, spec in _INPLACE.items()},
}


test_gradcheck = shape_gradcheck_tests(CASES)
