"""Values and gradients at kinks, ties, zeros, infinities and NaNs, compared with PyTorch.

Finite differences cannot check a gradient at a kink or a tie, so PyTorch is the reference: each case is
``fn(lib, F, *tensors)`` in PyTorch's spelling (``F`` is ``lib.nn.functional``), run in float64 with
``lib = minigrad`` and ``lib = torch`` on the same arrays; outputs and input gradients (for a fixed upstream
gradient) must agree, NaN and infinities at the same places.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pytest
from helpers import flat_outputs

import minigrad as mg

NAN, INF = math.nan, math.inf
# the kinks of the pointwise activations (0, ±1, ±3, 6, beta * x == threshold) and the special values
KINKS = np.array([-7.0, -6.0, -3.0, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 1.5, 3.0, 6.0, 7.0, 20.0, NAN, INF, -INF])
FINITE_KINKS = KINKS[np.isfinite(KINKS)]
# PyTorch's backward of elu/celu/selu, hardtanh/relu6, hardshrink/softshrink and hardswish at a NaN input differs
# between its vectorised loop and its scalar tail (NaN or 0 in one, the upstream gradient in the other: it depends
# on where the NaN sits), so these ops are compared on the kinks and infinities without NaN
NO_NAN_KINKS = KINKS[~np.isnan(KINKS)]
TIES = np.array([[1.0, 3.0, 3.0, -2.0], [2.0, 2.0, 2.0, 2.0], [-1.0, 0.0, -1.0, 0.0]])
TIES_NAN = np.array([[1.0, NAN, 3.0, 3.0], [NAN, NAN, 2.0, 2.0], [-1.0, 0.0, -1.0, 0.0]])
TIES_3D = np.array([[[1.0, 1.0], [2.0, 0.5]], [[2.0, 0.5], [2.0, 2.0]], [[0.0, 0.0], [0.0, 0.0]]])
X34 = np.random.default_rng(3).standard_normal((3, 4))
ZEROS = np.zeros((2, 3))
ZERO_ROWS = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 2.0], [0.0, 0.0, 0.0]])
ONE_ZERO = np.array([[2.0, 0.0, 3.0, -1.5], [0.0, 4.0, 0.0, 0.5], [1.0, 2.0, 3.0, 4.0]])
LOG_PROBS = np.array([[-INF, -INF, -INF], [-INF, 0.0, 1.0], [INF, 0.0, 1.0], [-INF, INF, INF]])
PROBS = np.array([0.0, 1.0, 0.5, 0.0, 1.0, 1e-300])
TARGETS = np.array([0.0, 1.0, 0.5, 1.0, 0.0, 0.0])


def _fn(lib: Any) -> Any:
    return lib.nn.functional


CASES: dict[str, tuple[Callable, tuple]] = {
    # --- pointwise activations at their kinks -------------------------------------------------------------
    "abs_relu": (lambda t, F, x: [t.abs(x), t.relu(x), F.relu(x)], (KINKS,)),
    "relu6_hardtanh": (lambda t, F, x: [F.relu6(x), F.hardtanh(x), F.hardtanh(x, -3.0, 6.0)], (NO_NAN_KINKS,)),
    "hardsigmoid": (lambda t, F, x: [F.hardsigmoid(x)], (KINKS,)),
    # was 0 at -inf (PyTorch's x·0 is NaN) and NaN gradients at ±inf (inf·0 through the unused middle piece)
    "hardswish": (lambda t, F, x: [F.hardswish(x)], (NO_NAN_KINKS,)),
    "leaky_relu": (lambda t, F, x: [F.leaky_relu(x), F.leaky_relu(x, 0.2), F.leaky_relu(x, -1.5)], (KINKS,)),
    "elu_celu_selu": (lambda t, F, x: [F.elu(x), F.elu(x, 0.5), F.celu(x), F.celu(x, 2.0), F.selu(x)],
                      (NO_NAN_KINKS,)),
    # softplus's gradient at +inf and logsigmoid's at -inf were NaN: logaddexp's backward read exp(inf - inf)
    "softplus_threshold": (lambda t, F, x: [F.softplus(x), F.softplus(x, 2.0, 3.0), F.softplus(x, 1.0, 1.0),
                                            F.softplus(x, 0.5, 0.25)], (KINKS,)),
    "threshold": (lambda t, F, x: [F.threshold(x, 1.0, -5.0), F.threshold(x, 0.0, 0.0), F.threshold(x, -3.0, 2.0)],
                  (KINKS,)),
    "gelu_silu_mish": (lambda t, F, x: [F.gelu(x), F.gelu(x, approximate="tanh"), F.silu(x), F.mish(x)], (KINKS,)),
    "sigmoid_tanh_logsigmoid": (lambda t, F, x: [t.sigmoid(x), t.tanh(x), F.logsigmoid(x), F.softsign(x),
                                                 F.tanhshrink(x)], (KINKS,)),
    "shrinks": (lambda t, F, x: [F.hardshrink(x), F.hardshrink(x, 1.0), F.softshrink(x, 1.0), F.softshrink(x, 0.0)],
                (NO_NAN_KINKS,)),
    "rrelu_eval_prelu": (lambda t, F, x, w: [F.rrelu(x, training=False), F.prelu(x, w)], (KINKS, np.array([0.25]))),
    # --- clamp family at the bounds --------------------------------------------------------------------------
    "clamp_scalar": (lambda t, F, x: [x.clamp(-1.0, 1.0), x.clamp(min=0.0), x.clamp(max=3.0), t.clip(x, -3.0, 6.0),
                                      x.clamp_min(0.5), x.clamp_max(-0.5), x.clamp(1.0, -1.0)], (KINKS,)),
    "clamp_tensor": (lambda t, F, x, lo, hi: [x.clamp(lo, hi), t.clamp(x, min=lo), t.clamp(x, max=hi),
                                              t.clip(x, hi, lo), x.clamp_min(lo), x.clamp_max(hi)],
                     (KINKS, np.full(17, -1.0), np.concatenate([np.full(8, 1.0), np.full(9, 3.0)]))),
    "clamp_tensor_at_bounds": (lambda t, F, x, lo, hi: [x.clamp(lo, hi), x.clamp(hi, lo), x.clamp_min(lo)],
                               (FINITE_KINKS, FINITE_KINKS.copy(), FINITE_KINKS[::-1].copy())),
    "clamp_nan_bound": (lambda t, F, x: [x.clamp(NAN, 1.0), x.clamp(-1.0, NAN)], (KINKS,)),
    # --- rounding and sign ------------------------------------------------------------------------------------
    "sign_round_floor": (lambda t, F, x: [t.sign(x), t.sgn(x), t.round(x), t.floor(x), t.ceil(x), t.trunc(x),
                                          t.frac(x), t.round(x, decimals=1), t.fix(x)], (KINKS,)),
    "heaviside": (lambda t, F, x, v: [t.heaviside(x.detach(), v.detach())], (KINKS, np.full(17, 0.5))),
    # --- binary elementwise at ties and NaNs --------------------------------------------------------------------
    "maximum_minimum_ties": (lambda t, F, x, y: [t.maximum(x, y), t.minimum(x, y), t.fmax(x, y), t.fmin(x, y),
                                                 t.max(x, y), t.min(x, y)],
                             (KINKS, np.array([-7.0, 0.0, -3.0, NAN, -0.5, 0.0, -0.0, 1.0, 1.0, NAN, 3.0, 6.0, INF,
                                               20.0, NAN, INF, 1.0]))),
    "atan2_hypot_zero": (lambda t, F, x, y: [t.atan2(x, y), t.hypot(x, y), t.arctan2(y, x)],
                         (np.array([0.0, -0.0, 0.0, -0.0, 1.0, INF, 0.0]), np.array([0.0, 0.0, -0.0, -0.0, 0.0, INF,
                                                                                      2.0]))),
    "fmod_remainder": (lambda t, F, x, y: [t.fmod(x, y), t.remainder(x, y), x % 2.0, t.fmod(x, -2.0)],
                       (np.array([-7.5, 7.5, -6.0, 6.0, -0.0, 3.0, 2.0, -2.0]),
                        np.array([2.0, -2.0, 3.0, -3.0, 1.0, 1.5, -2.0, 2.0]))),
    "div_rounding": (lambda t, F, x, y: [t.div(x, y, rounding_mode="floor"), t.div(x, y, rounding_mode="trunc"),
                                         x / y],
                     (np.array([-7.5, 7.5, -6.0, 6.0, 0.0, 3.0, 1.0, -1.0]),
                      np.array([2.0, -2.0, 3.0, -3.0, 0.0, 0.0, 0.0, INF]))),
    "lerp": (lambda t, F, x, y, w: [t.lerp(x, y, w), t.lerp(x, y, 0.5), t.lerp(x, y, 1.0)],
             (np.array([0.0, 1.0, INF, -1.0, 2.0]), np.array([0.0, 1.0, 1.0, 3.0, INF]),
              np.array([0.5, 0.0, 1.0, 0.5, 0.0]))),
    # --- roots, logs and powers at zero ------------------------------------------------------------------------
    "sqrt_rsqrt_log_zero": (lambda t, F, x: [t.sqrt(x), t.rsqrt(x), t.log(x), t.log2(x), t.log10(x), t.log1p(x - 1),
                                             t.reciprocal(x)],
                            (np.array([0.0, -0.0, 1.0, INF, -1.0, NAN]),)),
    "pow_zero_base": (lambda t, F, x: [x ** 0.0, t.pow(x, 0.5), x ** 2.0, x ** 1.0, x ** 3.0, x ** -1.0, x ** 2.5,
                                       x ** 1.5, t.pow(x, 0)],
                      (np.array([0.0, -0.0, -2.0, 2.0, INF, -INF, NAN]),)),
    "pow_tensor_exponent": (lambda t, F, x, e: [t.pow(x, e), x ** e, t.pow(2.0, e), t.pow(0.0, e), t.float_power(x, e)],
                            (np.array([0.0, 0.0, 0.0, 0.0, -2.0, -2.0, 2.0, -0.0, 1.0, 0.0]),
                             np.array([0.0, 0.5, 2.0, -1.0, 2.0, 0.5, 0.0, 1.0, NAN, 1.0]))),
    "xlogy_xlog1py": (lambda t, F, x, y: [t.xlogy(x, y), t.special.xlogy(x, y), t.special.xlog1py(x, y - 1)],
                      (np.array([0.0, 0.0, 0.0, 1.0, 0.0, 2.0, NAN]), np.array([0.0, 1.0, NAN, 0.0, INF, 3.0, 0.0]))),
    "sinc_zero": (lambda t, F, x: [t.sinc(x), t.special.sinc(x)], (np.array([0.0, -0.0, 1.0, 0.5, 1e-20, INF]),)),
    "erfinv_edges": (lambda t, F, x: [t.erfinv(x), t.special.erfinv(x)], (np.array([-1.0, 1.0, 0.0, 1.5, 0.5]),)),
    "nan_to_num": (lambda t, F, x: [t.nan_to_num(x), t.nan_to_num(x, 1.0, 2.0, -3.0)], (KINKS,)),
    "logit_entr_ndtri": (lambda t, F, x: [t.logit(x), t.logit(x, 1e-6), t.special.entr(x), t.special.ndtri(x),
                                          t.special.log_ndtr(x * 40 - 20), t.special.expit(x),
                                          t.special.logit(x, 0.25)],
                         (np.array([0.0, 1.0, 0.5, -0.0, 1e-300, 0.25, 0.75, -0.5, 1.5]),)),
    "copysign_signbit": (lambda t, F, x, y: [t.copysign(x, y), t.copysign(x, 2.0), t.copysign(x, -0.0)],
                         (KINKS, KINKS[::-1].copy())),
    "exp_expm1_log1p_edges": (lambda t, F, x: [t.exp(x), t.expm1(x), t.exp2(x), t.log1p(x), t.sinh(x), t.cosh(x),
                                               t.asinh(x), t.atanh(x / 7)], (KINKS,)),
    "asin_acos_at_one": (lambda t, F, x: [t.asin(x), t.acos(x), t.atanh(x), t.acosh(x + 1)],
                         (np.array([1.0, -1.0, 0.0, -0.0, 1.5]),)),
    # --- reductions at ties and NaNs ----------------------------------------------------------------------------
    "max_min_full_ties": (lambda t, F, x: [x.max(), x.min(), x.amax(), x.amin(), t.max(x), t.amin(x)], (TIES,)),
    "max_min_dim_ties": (lambda t, F, x: [*x.max(1), *x.min(0), *t.max(x, 1, keepdim=True), x.amax(1), x.amin(0),
                                          x.amax((0, 1)), x.amin(-1, keepdim=True), *t.aminmax(x, dim=1)], (TIES,)),
    "max_min_3d_ties": (lambda t, F, x: [x.amax((1, 2)), x.amin((0, 2), keepdim=True), *x.max(2), x.amax(),
                                         *t.aminmax(x)], (TIES_3D,)),
    "max_min_nan": (lambda t, F, x: [x.max(), x.min(), *x.max(1), *x.min(0), x.amax(1), x.amin(0), x.amax()],
                    (TIES_NAN,)),
    "nanmax_like": (lambda t, F, x: [t.nansum(x, 1), t.nanmean(x, 0), t.nanmedian(x), *t.nanmedian(x, 1)],
                    (TIES_NAN,)),
    "median_ties": (lambda t, F, x: [x.median(), *x.median(1), *x.median(0, keepdim=True), t.quantile(x, 0.5, 1),
                                     t.nanmedian(x), *t.nanmedian(x, 0)], (TIES,)),
    "median_nan": (lambda t, F, x: [x.median(), *x.median(1)], (TIES_NAN,)),
    # which of tied values kthvalue and topk return depends on PyTorch's selection algorithm (its quickselect,
    # std::partial_sort): not compared with ties
    "kthvalue_topk": (lambda t, F, x: [*x.kthvalue(2, 1), *x.kthvalue(1, 0, keepdim=True), *x.topk(2, 1),
                                       *x.topk(2, 0, largest=False)], (X34,)),
    "mode_ties": (lambda t, F, x: [*x.mode(1), *x.mode(0), *x.mode(0, keepdim=True)], (TIES,)),
    "sort_ties": (lambda t, F, x: [*x.sort(1), *x.sort(0, descending=True), *x.sort(dim=1, stable=True),
                                   t.msort(x), x.argsort(1)], (TIES,)),
    "sort_nan": (lambda t, F, x: [*x.sort(1), *x.sort(1, descending=True), *x.sort(0), t.argsort(x, 0)],
                 (TIES_NAN,)),
    "cummax_cummin_ties": (lambda t, F, x: [*x.cummax(1), *x.cummin(1), *x.cummax(0), t.logcumsumexp(x, 1)],
                           (TIES,)),
    "cummax_nan": (lambda t, F, x: [*x.cummax(1), *x.cummin(1)], (TIES_NAN,)),
    "maximum_reduce_nan_ties": (lambda t, F, x: [t.maximum(x, x.flip(1)), t.fmax(x, x.flip(0)), t.fmin(x, x.flip(1))],
                                (TIES_NAN,)),
    # --- norms at zero ------------------------------------------------------------------------------------------
    "norm_zero_vectors": (lambda t, F, x: [x.norm(), x.norm(dim=1), x.norm(1, 1), x.norm(float("inf"), 1),
                                           x.norm(-float("inf"), 1), x.norm(0, 1), x.norm(3, 1), x.norm(0.5, 1)],
                          (ZERO_ROWS,)),
    "vector_norm_zero": (lambda t, F, x: [t.linalg.vector_norm(x, o, dim=1) for o in (0, 1, 2, 3, 0.5, INF, -INF)]
                         + [t.linalg.vector_norm(x), t.linalg.norm(x, dim=1)], (ZERO_ROWS,)),
    "matrix_norm_zero": (lambda t, F, x: [t.linalg.matrix_norm(x, o) for o in ("fro", 1, -1, INF, -INF)],
                         (ZEROS,)),
    "matrix_norm_svd_zero": (lambda t, F, x: [t.linalg.matrix_norm(x, o) for o in ("nuc", 2, -2)]
                             + [t.linalg.norm(x, "nuc"), t.linalg.svdvals(x)], (ZEROS,)),
    "matrix_norm_svd_rank_deficient": (lambda t, F, x: [t.linalg.matrix_norm(x, o) for o in ("nuc", 2)],
                                       (np.array([[1.0, 2.0, 0.0], [2.0, 4.0, 0.0]]),)),
    "nansum_nanmean_nan": (lambda t, F, x: [t.nansum(x), t.nanmean(x, 1), x.nan_to_num().sum(0)], (TIES_NAN,)),
    "mean_sum_infinities": (lambda t, F, x: [x.sum(1), x.mean(0), x.var(1), x.std(0), t.cumsum(x, 1)], (LOG_PROBS,)),
    "norm_ties": (lambda t, F, x: [t.linalg.vector_norm(x, o, dim=1) for o in (1, INF, -INF)]
                  + [t.linalg.matrix_norm(x, o) for o in (1, -1, INF, -INF)], (TIES,)),
    # --- products, statistics, distances at zero ----------------------------------------------------------------
    "prod_zeros": (lambda t, F, x: [x.prod(), x.prod(1), x.prod(0, keepdim=True), x[1].prod(), x[:, 1:3].prod(1)],
                   (ONE_ZERO,)),
    "cumprod_zeros": (lambda t, F, x: [x.cumprod(1), x.cumprod(0)], (ONE_ZERO,)),
    "std_var_zero_variance": (lambda t, F, x: [x.std(1), x.var(1), x.std(1, correction=0), x.var(0, correction=0),
                                               x.std(), t.std_mean(x, 1)[0], t.var_mean(x, 0)[0]],
                              (np.array([[2.0, 2.0, 2.0], [1.0, 1.0, 1.0]]),)),
    "std_var_one_element": (lambda t, F, x: [x.std(1), x.var(1), x.std(1, correction=0), x.var(1, correction=0),
                                             x.std(0), x.std(0, correction=2)], (np.array([[2.0], [3.0]]),)),
    "dist_identical": (lambda t, F, x, y: [t.cdist(x, y), t.cdist(x, y, 1.0), t.cdist(x, y, INF), t.cdist(x, y, 0.0),
                                           t.cdist(x, y, 3.0), F.pdist(x), F.pdist(x, 1.0), F.pdist(x, INF),
                                           t.dist(x, y[:2]), t.dist(x, y[:2], 1), t.dist(x, y[:2], INF),
                                           F.pairwise_distance(x, y[:2])],
                       (np.array([[1.0, 2.0], [1.0, 2.0]]), np.array([[1.0, 2.0], [0.0, 2.0], [1.0, 2.0]]))),
    "logsumexp_infinities": (lambda t, F, x: [t.logsumexp(x, 1), x.logsumexp(0), t.logsumexp(x, (0, 1))],
                             (LOG_PROBS,)),
    "softmax_infinities": (lambda t, F, x: [t.softmax(x, 1), F.log_softmax(x, 1), F.softmin(x, 1)],
                           (LOG_PROBS[:2],)),
    "softmax_inf_rows": (lambda t, F, x: [t.softmax(x, 1), F.log_softmax(x, 1)], (LOG_PROBS[2:],)),
    # --- functional pieces ---------------------------------------------------------------------------------------
    "normalize_zero": (lambda t, F, x: [F.normalize(x), F.normalize(x, 1.0), F.normalize(x, dim=0),
                                        F.normalize(x, INF)], (ZERO_ROWS,)),
    "cosine_similarity_zero": (lambda t, F, x, y: [F.cosine_similarity(x, y), F.cosine_similarity(x, x),
                                                   F.cosine_similarity(x, y, dim=0)],
                               (ZERO_ROWS, ZERO_ROWS[::-1].copy())),
    "smooth_l1_huber_at_beta": (lambda t, F, x, y: [F.smooth_l1_loss(x, y, reduction="none"),
                                                    F.smooth_l1_loss(x, y, beta=0.5, reduction="none"),
                                                    F.smooth_l1_loss(x, y, beta=0.0, reduction="none"),
                                                    F.huber_loss(x, y, reduction="none"),
                                                    F.huber_loss(x, y, delta=0.5, reduction="none"),
                                                    F.l1_loss(x, y, reduction="none"), F.mse_loss(x, y)],
                                (np.array([1.0, -1.0, 0.5, -0.5, 0.0, 2.0]), np.array([0.0, 0.0, 0.0, 0.0, 0.0, 1.0]))),
    # kl_div's target gradient at y = 0 was finite (PyTorch's xlogy(y, y) gives NaN there)
    "kl_div_zero_targets": (lambda t, F, x, y: [F.kl_div(x, y, reduction="none"), F.kl_div(x, y, reduction="sum"),
                                                F.kl_div(x, y.log(), reduction="none", log_target=True),
                                                F.kl_div(x, y, reduction="batchmean")],
                            (np.array([[-1.0, -INF, -2.0], [-0.5, -1.0, -INF]]),
                             np.array([[0.0, 0.0, 1.0], [0.5, 0.5, 0.0]]))),
    # the target's gradient was the clamped logs' (±100 at x = 0 and 1); PyTorch's is -logit(x), unclamped
    "bce_at_0_and_1": (lambda t, F, p, y: [F.binary_cross_entropy(p, y, reduction="none"),
                                           F.binary_cross_entropy(p, y)], (PROBS, TARGETS)),
    # NaN gradient at x = -inf (inf - inf in the stable softplus); PyTorch's is σ(x) - y
    "bce_logits_infinities": (lambda t, F, x, y: [F.binary_cross_entropy_with_logits(x, y, reduction="none")],
                              (np.array([INF, -INF, INF, -INF, 0.0, 800.0]), TARGETS)),
    "margin_losses_at_the_margin": (lambda t, F, x, y: [F.margin_ranking_loss(x, y, t.ones_like(x), margin=1.0,
                                                                              reduction="none"),
                                                        F.hinge_embedding_loss(x, t.ones_like(x) - 2, margin=1.0,
                                                                               reduction="none"),
                                                        F.soft_margin_loss(x, t.ones_like(x), reduction="none"),
                                                        F.poisson_nll_loss(x, y, log_input=False,
                                                                           reduction="none"),
                                                        F.gaussian_nll_loss(x, y, (x - x.detach()).abs(),
                                                                            reduction="none")],
                                    (np.array([0.0, 1.0, 2.0, -1.0, 0.5]), np.array([1.0, 0.0, 1.0, 0.0, 0.5]))),
    "triplet_cosine_embedding_zero": (lambda t, F, a, p: [F.triplet_margin_loss(a, p, a, reduction="none"),
                                                          F.triplet_margin_loss(a, a, p, reduction="none"),
                                                          F.cosine_embedding_loss(a, p, t.ones(3)),
                                                          F.cosine_embedding_loss(a, p, -t.ones(3))],
                                      (ZERO_ROWS, ZERO_ROWS[::-1].copy())),
    "cross_entropy_smoothing_inf": (lambda t, F, x, y: [F.cross_entropy(x, y, label_smoothing=0.1, reduction="none"),
                                                        F.cross_entropy(x, y, reduction="none")],
                                    (np.array([[-INF, 0.0, 1.0], [0.0, 0.0, 0.0]]), np.array([1, 2]))),
    "where_masked_fill": (lambda t, F, x, y: [t.where(x > 0, x, y), t.where(x > 0, x.sqrt(), y.log()),
                                              x.masked_fill(x < 0, 2.0), x.masked_fill(x.isnan(), 0.0),
                                              t.where(x.isnan(), 0.0, x)], (KINKS, np.abs(KINKS[::-1]))),
    "index_gather_repeated": (lambda t, F, x, i: [x[i], x[:, i], x.gather(1, i.reshape(1, -1).expand(3, 5)),
                                                  x.index_select(0, i), t.take(x, i), x[i, i]],
                              (TIES, np.array([0, 2, 0, 0, 1]))),
    "softmax_cross_entropy_inf": (lambda t, F, x, y: [F.cross_entropy(x, y, reduction="none"),
                                                      F.nll_loss(F.log_softmax(x, 1), y, reduction="none")],
                                  (np.array([[-INF, 0.0, 1.0], [0.0, 0.0, 0.0]]), np.array([1, 2]))),
    # logaddexp's gradient exp(a - out) was NaN at a = inf, b finite; PyTorch's 1 / (1 + exp(b - a)) gives 1
    "logaddexp_infinities": (lambda t, F, x, y: [t.logaddexp(x, y), t.logaddexp2(x, y)],
                             (np.array([INF, -INF, 0.0, 5.0, NAN, INF, -INF, -INF, INF, 1.0]),
                              np.array([0.0, 0.0, -INF, INF, 0.0, INF, -INF, INF, -INF, 1.0]))),
}


def _leaf(lib: Any, array: np.ndarray) -> Any:
    return lib.tensor(array, requires_grad=array.dtype.kind == "f")


# PyTorch's float64 hardsigmoid backward multiplies by 1/6 rounded to float32 (relative error 3e-8)
RTOL = {"hardsigmoid": 1e-7}


def _compare(ours: Any, theirs: Any, what: str, rtol: float = 1e-10) -> None:
    """Equal shapes and dtypes, NaN and infinities at the same places, finite values equal to rounding."""
    a = ours.detach().numpy() if isinstance(ours, mg.Tensor) else np.asarray(ours)
    e = theirs.detach().numpy(force=True) if hasattr(theirs, "detach") else np.asarray(theirs)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
    assert a.dtype == e.dtype, f"{what}: dtype {a.dtype} != {e.dtype}"
    np.testing.assert_allclose(a, e, rtol=rtol, atol=1e-15, equal_nan=True, err_msg=what)


def _run(torch: Any, fn: Callable, arrays: tuple, rtol: float) -> None:
    """Outputs, then each output's input gradients for a fixed upstream gradient (one output at a time, so a
    NaN in one output's gradient hides nothing of another's)."""
    ours_in = [_leaf(mg, a) for a in arrays]
    theirs_in = [_leaf(torch, a) for a in arrays]
    ours = flat_outputs(fn(mg, _fn(mg), *ours_in))
    theirs = flat_outputs(fn(torch, _fn(torch), *theirs_in))
    assert len(ours) == len(theirs)
    leaves = [k for k, x in enumerate(ours_in) if x.requires_grad]
    rng = np.random.default_rng(7)
    for i, (o, t) in enumerate(zip(ours, theirs)):
        _compare(o, t, f"output {i}", rtol)
        assert o.requires_grad == t.requires_grad, f"output {i}: requires_grad {o.requires_grad}"
        if not o.requires_grad:
            continue
        upstream = np.asarray(rng.uniform(0.5, 1.5, o.shape) * rng.choice([-1.0, 1.0], o.shape))
        grads = mg.autograd.grad(o, [ours_in[k] for k in leaves], mg.tensor(upstream), retain_graph=True,
                                 allow_unused=True)
        their_grads = torch.autograd.grad(t, [theirs_in[k] for k in leaves], torch.from_numpy(upstream),
                                          retain_graph=True, allow_unused=True)
        for k, g, tg in zip(leaves, grads, their_grads):
            zero = np.zeros(arrays[k].shape)
            _compare(zero if g is None else g, zero if tg is None else tg, f"gradient of input {k} from output {i}",
                     rtol)


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_as_torch(name: str, torch: Any) -> None:
    fn, arrays = CASES[name]
    _run(torch, fn, arrays, RTOL.get(name, 1e-10))


@pytest.mark.parametrize("spelling", ["floor_divide", "heaviside"])
def test_ops_without_a_derivative_refuse_backward_as_torch(spelling: str, torch: Any) -> None:
    def run(lib: Any) -> None:
        x = lib.tensor([-1.5, 0.0, 2.0], requires_grad=True)
        y = getattr(lib, spelling)(x, lib.tensor([2.0, 0.5, -1.0]))
        lib.autograd.grad(y.sum(), [x])
    with pytest.raises(RuntimeError, match="derivative for floor_divide|not implemented"):
        run(torch)
    with pytest.raises(RuntimeError, match=f"{spelling}: derivative for {spelling} is not implemented"):
        run(mg)
