"""Higher-order gradients (``create_graph=True``): second derivatives of every op with a higher-order rule
checked by ``gradgradcheck`` in float64, and the programs that need them (a WGAN-GP gradient penalty, a MAML
inner step, d²u/dx² of a tanh MLP, Hessians, third derivatives) against PyTorch."""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import nn
from minigrad.autograd.functional import hessian, hvp, jacobian, jvp, vhp, vjp
from tests.helpers import assert_close, device_tolerance, to_torch

F = nn.functional
LSTM, GRU = nn.LSTM(3, 2, dtype=mg.float64), nn.GRU(3, 2, dtype=mg.float64)   # fixed weights for the checks
RNG = np.random.default_rng(7)


def _t(*shape: int, low: float | None = None, grad: bool = True) -> mg.Tensor:
    """A float64 tensor away from kinks: normal values, or uniform in [low, low + 1] when ``low`` is given."""
    values = RNG.standard_normal(shape) if low is None else RNG.uniform(low, low + 1, shape)
    if low is None:   # keep |x| >= 0.2, away from relu/abs/clamp kinks that finite differences would straddle
        values = np.where(np.abs(values) < 0.2, np.sign(values) * 0.2 + values, values)
    return mg.tensor(values, dtype="float64", requires_grad=grad)


TARGETS = mg.tensor(np.array([0, 2, 1]))
INDEX = mg.tensor(np.array([2, 0, 2]))   # a repeated index: gradients accumulate
GATHER = mg.tensor(np.array([[0, 1], [1, 1], [2, 0]]))
SCATTER, SCATTER_ONE = mg.tensor(np.array([[0, 1], [0, 0]])), mg.tensor(np.array([[0], [2], [1]]))
MASK = mg.tensor(np.array([[True, False], [False, True], [False, False]]))
TOKENS = mg.tensor(np.array([[2, 0], [2, 1], [3, 3]]))   # 1 is the padding index


class Exp(mg.autograd.Function):
    """A PyTorch-style custom Function that saves its output."""

    @staticmethod
    def forward(ctx: Any, x: mg.Tensor) -> mg.Tensor:
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, g: mg.Tensor) -> mg.Tensor:
        (y,) = ctx.saved_tensors
        return g * y


class MulAdd(mg.autograd.Function):
    """x * w + k: saves its inputs, and a non-tensor argument on the ctx."""

    @staticmethod
    def forward(ctx: Any, x: mg.Tensor, w: mg.Tensor, k: float) -> mg.Tensor:
        ctx.save_for_backward(x, w)
        ctx.k = k
        return x * w + k

    @staticmethod
    def backward(ctx: Any, g: mg.Tensor) -> tuple:
        x, w = ctx.saved_tensors
        return g * w, g * x, None


def _with_zeros(*shape: int) -> mg.Tensor:
    """A float64 tensor with zeros in it (one row with two): prod's and cumprod's exact, division-free case."""
    values = RNG.uniform(0.5, 1.5, shape) * RNG.choice([-1, 1], shape)
    values.flat[[0, 1, shape[-1] + 1]] = 0.0
    return mg.tensor(values, dtype="float64", requires_grad=True)


def _probabilities(*shape: int) -> mg.Tensor:
    """A float64 tensor of values in [0.1, 0.9]: binary_cross_entropy's inputs, away from its floors at 0 and 1."""
    return mg.tensor(RNG.uniform(0.1, 0.9, shape), dtype="float64", requires_grad=True)


SCATTER_PROD = mg.tensor(np.array([[0, 1], [0, 0], [2, 1]]))
BCE_WEIGHT = RNG.uniform(0.5, 2.0, (3, 1))


def _scatter_prod_inputs() -> list:
    """x and src for scatter_reduce(prod) with zeros: one in x, one src zero alone at its place, one beside x's."""
    x = np.array([[1.5, 0.0], [0.7, -1.2], [0.9, 1.1]])
    src = np.array([[0.8, 1.3], [0.0, -0.6], [1.4, 0.0], [2.0, 2.0]])
    return [mg.tensor(x, requires_grad=True), mg.tensor(src, requires_grad=True)]


def _implicit_log_softmax(a: mg.Tensor) -> mg.Tensor:
    with warnings.catch_warnings():   # dim=None: PyTorch's implicit dim (0 for 1-D, 1 for 2-D), with its warning
        warnings.simplefilter("ignore", UserWarning)
        return F.log_softmax(a)


def _seeded(fn: Callable[[], mg.Tensor]) -> mg.Tensor:
    mg.manual_seed(0)   # the same dropout mask at every call of gradgradcheck's
    return fn()

# name -> (function, input tensors)
OPS: dict[str, tuple[Callable, Callable[[], list]]] = {
    "add_broadcast": (lambda a, b: (a + b) * (a + b), lambda: [_t(3, 1), _t(4)]),
    "sub": (lambda a, b: (a - b) ** 2, lambda: [_t(3, 4), _t(4)]),
    "mul_broadcast": (lambda a, b: a * b * a, lambda: [_t(3, 4), _t(4)]),
    "div": (lambda a, b: a / b, lambda: [_t(3, 4), _t(4, low=1.0)]),
    "rdiv": (lambda a: 2.0 / a, lambda: [_t(3, low=1.0)]),
    "neg": (lambda a: -(a * a), lambda: [_t(3)]),
    "pow_scalar": (lambda a: a ** 3 + a ** 2 + a ** 0.5 + a ** -1.5, lambda: [_t(2, 3, low=0.5)]),
    "pow_tensor": (lambda a, b: a ** b, lambda: [_t(2, 3, low=0.5), _t(3, low=0.5)]),
    "rpow": (lambda b: 2.0 ** b, lambda: [_t(3)]),
    "exp": (lambda a: a.exp(), lambda: [_t(3)]),
    "log": (lambda a: a.log(), lambda: [_t(3, low=0.5)]),
    "sqrt": (lambda a: a.sqrt(), lambda: [_t(3, low=0.5)]),
    "rsqrt": (lambda a: a.rsqrt(), lambda: [_t(3, low=0.5)]),
    "tanh": (lambda a: a.tanh(), lambda: [_t(3, 2)]),
    "sigmoid": (lambda a: a.sigmoid(), lambda: [_t(3, 2)]),
    "relu": (lambda a: a.relu() * a, lambda: [_t(6)]),
    "leaky_relu": (lambda a: F.leaky_relu(a, 0.1) * a, lambda: [_t(6)]),
    "elu": (lambda a: F.elu(a), lambda: [_t(6)]),
    "gelu": (lambda a: F.gelu(a), lambda: [_t(6)]),
    "gelu_tanh": (lambda a: F.gelu(a, approximate="tanh"), lambda: [_t(6)]),
    "silu": (lambda a: F.silu(a), lambda: [_t(6)]),
    "softplus": (lambda a: F.softplus(a), lambda: [_t(6)]),
    "sin_cos": (lambda a: a.sin() * a.cos(), lambda: [_t(4)]),
    "abs": (lambda a: a.abs() * a, lambda: [_t(6)]),
    "log1p_expm1_erf": (lambda a: a.log1p() + a.expm1() + mg.erf(a), lambda: [_t(3, low=0.2)]),
    "logaddexp": (lambda a, b: mg.logaddexp(a, b), lambda: [_t(3), _t(3)]),
    "matmul": (lambda a, b: (a @ b).tanh(), lambda: [_t(3, 4), _t(4, 2)]),
    "matmul_batched": (lambda a, b: (a @ b).tanh(), lambda: [_t(2, 3, 4), _t(2, 4, 2)]),
    "matmul_broadcast": (lambda a, b: (a @ b).tanh(), lambda: [_t(2, 3, 4), _t(4, 2)]),
    "matmul_vec": (lambda a, v: (a @ v).tanh() + (v @ a.T).sum(), lambda: [_t(3, 4), _t(4)]),
    "matmul_vec_batched": (lambda v, b: (v @ b).tanh(), lambda: [_t(3), _t(2, 3, 2)]),
    "dot": (lambda u, v: (u @ v) ** 2, lambda: [_t(4), _t(4)]),
    "linear": (lambda x, w, b: F.linear(x, w, b).tanh(), lambda: [_t(3, 4), _t(2, 4), _t(2)]),
    "addmm": (lambda c, a, b: mg.addmm(c, a, b).tanh(), lambda: [_t(2), _t(3, 4), _t(4, 2)]),
    "addcmul": (lambda a, b, c: mg.addcmul(a, b, c) * b + mg.addcmul(a.sum(0), b, c[:1]), lambda: [_t(2, 3), _t(2, 3),
                                                                                                 _t(2, 3)]),
    "step_addmm": (lambda c, h, w: (mg.step_addmm(c, h, w.T, w.T.detach().contiguous()) * h.sum()).tanh(),
                   lambda: [_t(3, 2), _t(3, 4), _t(2, 4)]),
    "recurrent_layers": (lambda x, h: LSTM(x, (h, h))[1][1].sum() + GRU(x, h)[0].sum(),   # step_addmm, addcmul
                         lambda: [_t(2, 1, 3), _t(1, 1, 2)]),
    "sum_mean": (lambda a: a.sum(dim=1, keepdim=True) * a.mean(dim=0) + a.sum() * a.mean(), lambda: [_t(3, 4)]),
    "shapes": (lambda a: a.reshape(4, 3).t().flatten().view(2, 6).unsqueeze(0).squeeze(0).transpose(0, 1)
               .permute(1, 0).T ** 2, lambda: [_t(3, 4)]),
    "expand": (lambda v: v.expand(3, 4) * v, lambda: [_t(4)]),
    "getitem_basic": (lambda a: a[1:, ::2] * a[0, :2], lambda: [_t(3, 4)]),
    "getitem_int_array": (lambda a: a[INDEX] ** 2, lambda: [_t(3, 2)]),
    "getitem_mask": (lambda a: a[a.detach() > 0] ** 3, lambda: [_t(3, 4)]),
    "cat_stack": (lambda a, b: mg.cat([a, b], 0) * mg.stack([a, b]).sum(0).repeat(2, 1), lambda: [_t(2, 3), _t(2, 3)]),
    "split_chunk": (lambda a: mg.split(a, 2, dim=1)[0] * a.chunk(2, 1)[1] ** 2, lambda: [_t(3, 4)]),
    "unbind": (lambda a: a.unbind(0)[0] * a.unbind(0)[2], lambda: [_t(3, 2)]),
    "softmax": (lambda a: F.softmax(a, dim=1) * a, lambda: [_t(3, 4)]),
    "log_softmax": (lambda a: F.log_softmax(a, dim=0) * a, lambda: [_t(3, 4)]),
    "logsumexp": (lambda a: a.logsumexp(1), lambda: [_t(3, 4)]),
    "mse_loss": (lambda a, b: F.mse_loss(a, b), lambda: [_t(3, 4), _t(3, 4)]),
    "cross_entropy": (lambda a: F.cross_entropy(a, TARGETS), lambda: [_t(3, 4)]),
    "nll_loss": (lambda a: F.nll_loss(F.log_softmax(a, dim=1), TARGETS, reduction="sum"), lambda: [_t(3, 4)]),
    "norm": (lambda a: a.norm() * a.norm(dim=1).sum() * mg.linalg.vector_norm(a, 1), lambda: [_t(3, 4)]),
    "clamp": (lambda a: a.clamp(-0.5, 0.5) * a, lambda: [_t(6)]),
    "where": (lambda a, b: mg.where(a.detach() > 0, a * a, b * a), lambda: [_t(6), _t(6)]),
    "maximum_minimum": (lambda a, b: mg.maximum(a, b) * mg.minimum(a, b * 2) * a, lambda: [_t(6), _t(6)]),
    "max_amax": (lambda a: a.amax(1) * a.max(), lambda: [_t(3, 4)]),
    "clone_repeat": (lambda a: a.clone().repeat(2, 1) ** 2, lambda: [_t(3)]),
    "conv1d": (lambda x, w: F.conv1d(x, w, padding=1).tanh(), lambda: [_t(1, 2, 5), _t(3, 2, 2)]),
    "conv2d": (lambda x, w: F.conv2d(x, w, stride=2).tanh(), lambda: [_t(1, 2, 4, 4), _t(2, 2, 2, 2)]),
    # statistics, scans, binary math
    "var_std": (lambda a: a.var(dim=1, keepdim=True) * a + a.var(dim=0, correction=0) + a.var() + a.std(dim=(0, 1))
                + a.std(dim=0, keepdim=True, correction=0), lambda: [_t(3, 4)]),
    "prod": (lambda a: a.prod(dim=1) * a.prod(), lambda: [_t(3, 4)]),
    "prod_with_zeros": (lambda a: a.prod(dim=1).sum() + a.prod(0) + a[:2].prod(), lambda: [_with_zeros(3, 2)]),
    "cumsum": (lambda a: a.cumsum(1) * a, lambda: [_t(3, 4)]),
    "cumprod": (lambda a: a.cumprod(1), lambda: [_t(3, 4)]),
    "cumprod_with_zeros": (lambda a: a.cumprod(0), lambda: [_with_zeros(4, 2)]),
    "atan2": (lambda a, b: mg.atan2(a, b) * a + mg.atan2(b, mg.full_like(b, 0.5)), lambda: [_t(4), _t(4)]),
    "fmod_remainder": (lambda a: mg.fmod(a, 0.7) * a + mg.remainder(a, -0.6) * a * a, lambda: [_t(5)]),
    "norms": (lambda a: a.norm(float("inf")) * a + a.norm(float("-inf"), dim=1, keepdim=True) * a + a.norm(3)
              + a.norm(1.5, dim=0).sum() + mg.linalg.vector_norm(a, 0.5) + a.norm("fro") * a.norm(0),
              lambda: [_t(3, 4)]),
    # activations written from pieces
    "logsigmoid_softplus": (lambda a: F.logsigmoid(a) + F.softplus(a, beta=2, threshold=1.5), lambda: [_t(6)]),
    "hardtanh_relu6": (lambda a: F.hardtanh(a * 2) * a + F.relu6(a * 4) * a, lambda: [_t(6)]),
    "mish_selu_celu": (lambda a: F.mish(a) + F.selu(a) + F.celu(a, 0.7), lambda: [_t(6)]),
    "log_softmax_implicit_dim": (lambda a, b: _implicit_log_softmax(a) * a + _implicit_log_softmax(b).sum(),
                                 lambda: [_t(3, 4), _t(5)]),
    # rearranging and indexing
    "trace_diagonal": (lambda a: a.trace() * a + a.diagonal(1).sum() * a + mg.diag_embed(a.diagonal()) ** 2,
                       lambda: [_t(3, 3)]),
    "triu_tril_flip_roll": (lambda a: (a.triu(1) * a.tril() + a.flip(0) * a.roll(1, 1) + a.roll(2)) ** 2,
                            lambda: [_t(3, 3)]),
    "gather_scatter": (lambda a, s: (a.gather(1, GATHER) ** 2).sum() + a[:2, :2].scatter_add(0, SCATTER, s[:, :2]) ** 2
                       + (a.scatter(1, SCATTER_ONE, s[:1, :1].expand(3, 1) * a[:, :1]) ** 2).sum()
                       + (a.index_select(0, INDEX) ** 2).sum(), lambda: [_t(3, 3), _t(2, 3)]),
    "masked_fill_pad": (lambda a: a.masked_fill(MASK, 1.0) * a + (F.pad(a, (1, 2, 0, 1), value=0.5) ** 3).sum(),
                        lambda: [_t(3, 2)]),
    "embedding": (lambda w: F.embedding(TOKENS, w, padding_idx=1) ** 2, lambda: [_t(4, 2)]),
    "dropout": (lambda a: _seeded(lambda: F.dropout(a, 0.5) ** 2), lambda: [_t(3, 4)]),
    # normalization, pooling, resampling, attention
    "layer_norm": (lambda a, w, b: F.layer_norm(a, (4,), w, b) ** 2, lambda: [_t(3, 4), _t(4), _t(4)]),
    "group_norm": (lambda a, w, b: F.group_norm(a, 2, w, b) ** 2, lambda: [_t(2, 4, 3), _t(4), _t(4)]),
    "batch_norm_train": (lambda a, w, b: F.batch_norm(a, None, None, w, b, training=True) ** 2,
                         lambda: [_t(4, 3), _t(3), _t(3)]),
    "batch_norm_eval": (lambda a, w, b: F.batch_norm(a, mg.tensor(np.array([0.1, -0.2, 0.3])),
                                                     mg.tensor(np.array([1.5, 0.5, 2.0])), w, b) ** 2,
                        lambda: [_t(4, 3), _t(3), _t(3)]),
    "pools": (lambda a: F.max_pool2d(a, 2) ** 2 + F.avg_pool2d(a, 2) * F.adaptive_avg_pool2d(a, 2),
              lambda: [_t(1, 2, 4, 4)]),
    "interpolate": (lambda a: (F.interpolate(a, scale_factor=2) ** 2).sum()
                    + (F.interpolate(a, size=(5, 4), mode="bilinear") ** 2).sum(), lambda: [_t(1, 1, 3, 3)]),
    "max_dim_topk": (lambda a: a.max(dim=1).values * a.topk(2, dim=1).values.sum(1), lambda: [_t(3, 4)]),
    "custom_functions": (lambda x, w: MulAdd.apply(Exp.apply(x), w, 2.0).sin() * x, lambda: [_t(3), _t(3)]),
    "scaled_dot_product_attention": (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                                     lambda: [_t(2, 3, 4), _t(2, 3, 4), _t(2, 3, 4)]),
    # more unary and binary math, rounding
    "trigonometric": (lambda a, b: a.tan() + b.asin() + b.acos() * a + a.atan() * b, lambda: [_t(4, low=-0.5),
                                                                                            _t(4, low=-0.5)]),
    "hyperbolic": (lambda a, b: a.sinh() * a.cosh() + a.asinh() + (b + 1).acosh() + (b - 0.6).atanh(),
                   lambda: [_t(4), _t(4, low=0.1)]),
    "special": (lambda a, b: mg.erfc(a) + mg.erfinv(b - 0.7) + mg.lgamma(b + 0.5) * mg.digamma(b + 0.5)
                + mg.polygamma(2, b + 0.5) + mg.sinc(a) + mg.logit(b * 0.8) * mg.logit(b, eps=0.3),   # b * 0.8 < 1
                lambda: [_t(4), _t(4, low=0.1)]),
    "xlogy_hypot": (lambda a, b: mg.xlogy(a, b) * a + mg.special.xlog1py(a, b) + mg.hypot(a, b) + mg.xlogy(2.0, b),
                    lambda: [_t(2, 3), _t(3, low=0.5)]),
    "lerp": (lambda a, b, w: mg.lerp(a, b, w) * a + mg.lerp(a, b, 0.7) ** 2, lambda: [_t(3, 2), _t(2), _t(3, 1)]),
    "logcumsumexp_median": (lambda a: mg.logcumsumexp(a, 1) * a + a.median() * a + a.nanmedian(0).values.sum()
                            + a.kthvalue(2, 1).values.sum() + a.sort(1).values[:, 0].sum() + a.cummax(1).values.sum()
                            + a.cummin(0).values.sum(), lambda: [_t(3, 4)]),
    "rounding_zero_gradient": (lambda a, b: (mg.div(a, b, rounding_mode="floor") + mg.div(a, b, rounding_mode="trunc")
                                             + a.frac() + a.trunc() + a.round() + a.ceil()) * a * b,
                               lambda: [_t(4), _t(4, low=1.0)]),
    "bessel_i1": (lambda a: mg.special.i1(a[:4]).sum() * a + mg.special.i1e(a),   # i1e: past 30, its other series
                  lambda: [mg.tensor([0.5, -2.0, 3.0, 0.0, 31.0], requires_grad=True)]),
    "fmod_remainder_tensors": (lambda a, b: mg.fmod(a, b) + mg.remainder(a, b) * a, lambda: [_t(4), _t(4, low=0.5)]),
    # writes at indices and into views
    "index_writes": (lambda a, s: a.index_add(0, INDEX, s) ** 2 + a.index_copy(0, INDEX[:2], s[:2]) * a
                     + a.index_put((INDEX[:2],), s[1]) ** 2 + a.index_put((INDEX,), s, accumulate=True) * a
                     + a.index_fill(1, INDEX[1:2], 1.5) * a, lambda: [_t(3, 2), _t(3, 2)]),
    "masked_scatter_scatter_reduce": (lambda a, s: a.masked_scatter(MASK, s[:1]) * a
                                      + sum(a.scatter_reduce(0, SCATTER[:, :1].expand(2, 2), s[:2], r,
                                                             include_self=r != "amax") ** 2
                                            for r in ("sum", "mean", "amax")) + mg.take(a, INDEX) .sum() * a,
                                      lambda: [_t(3, 2), _t(3, 2)]),
    "scatter_reduce_prod": (lambda a, s: sum(a.scatter_reduce(0, SCATTER_PROD, s, "prod", include_self=flag) ** 2
                                             for flag in (True, False)), _scatter_prod_inputs),
    "view_scatters": (lambda a, s: mg.select_scatter(a, s[0], 0, 1) ** 2 + mg.slice_scatter(a, s[:2], 0, 1) * a
                      + mg.diagonal_scatter(a, s[0], 0) ** 2 + mg.as_strided_scatter(a, s[1, :2], (2,), (4,)) * a
                      + mg.fill(a, s[0, 0]) * a, lambda: [_t(3, 3), _t(2, 3)]),
    "strided_reads": (lambda a, v: mg.diag(a, 1).sum() * a + mg.diag(v, -1) ** 2 + (a.unfold(1, 2, 1) ** 2).sum()
                      + (a.as_strided((2, 2), (1, 3), 1) ** 2).sum(), lambda: [_t(3, 3), _t(2)]),
    "einsum": (lambda a, b, c: mg.einsum("ij,jk,k->i", a, b, c) ** 2 + mg.einsum("bij->bj", a[None] * a[:, :1]).sum(),
               lambda: [_t(3, 2), _t(2, 4), _t(4)]),
    # linear algebra
    "inv_det_slogdet": (lambda a: mg.linalg.inv(a) * mg.linalg.det(a) + mg.linalg.slogdet(a)[1] * a
                        + mg.logdet(a @ a.mT), lambda: [_t(3, 3) + 3 * mg.eye(3, dtype=mg.float64)]),
    "solve": (lambda a, b, v: mg.linalg.solve(a, b) ** 2 + mg.linalg.solve(a, v)[:, None] * b
              + mg.linalg.solve_triangular(a, b, upper=True) ** 2 + mg.linalg.solve(a, b.mT, left=False).mT,
              lambda: [_t(3, 3) + 3 * mg.eye(3, dtype=mg.float64), _t(3, 2), _t(3)]),
    "pinv": (lambda a, b: mg.linalg.pinv(a) ** 2 + mg.linalg.pinv(b)[:, :2].sum(0), lambda: [_t(3, 2), _t(2, 3, 4)]),
    "cholesky_matrix_exp_eigh": (lambda a: mg.linalg.cholesky(a @ a.mT + mg.eye(3, dtype=mg.float64)) ** 2
                                 + mg.linalg.cholesky(a.mT @ a + 1e-1, upper=True) + mg.linalg.matrix_exp(a * 0.5)
                                 + mg.linalg.eigvalsh(a + a.mT).sum() * a + mg.linalg.eigh(a + a.mT)[1] ** 2,
                                 lambda: [_t(3, 3)]),
    # nn
    "conv_transpose_fold": (lambda x, w: F.conv_transpose1d(x, w, stride=2).tanh().sum()
                            + F.conv_transpose2d(x[..., None], w[..., None], stride=(2, 1)).tanh(),
                            lambda: [_t(1, 2, 3), _t(2, 1, 2)]),
    "more_nn": (lambda a, b: F.normalize(a, dim=1) * F.cosine_similarity(a, b)[:, None]
                + F.pairwise_distance(a, b)[:, None]
                + F.smooth_l1_loss(a, b) + F.huber_loss(a, b, delta=0.5) + F.l1_loss(a, b) * a
                + F.kl_div(F.log_softmax(a, 1), F.softmax(b, 1), reduction="batchmean")
                + F.binary_cross_entropy_with_logits(a, b.sigmoid()), lambda: [_t(3, 4), _t(3, 4)]),
    "binary_cross_entropy": (lambda x, y, w: F.binary_cross_entropy(x, y, w, reduction="none")
                             + F.binary_cross_entropy(x, y) * x, lambda: [_probabilities(3, 4), _probabilities(3, 4),
                                                                          _probabilities(3, 1)]),
    "embedding_bag_conv3d": (lambda w, x: F.embedding_bag(INDEX, w, mg.tensor(np.array([0, 1])), mode="mean") ** 2
                             + F.embedding_bag(INDEX, w, mg.tensor(np.array([0, 2])), mode="sum") * w[:2]
                             + F.conv3d(x, x[:1, :1, :2, :2, :2]).sum(), lambda: [_t(3, 2), _t(1, 1, 3, 3, 3)]),
    "more_pools": (lambda x: F.max_pool1d(x, 2).sum() * x + F.avg_pool1d(x, 2).sum() * x
                   + F.adaptive_max_pool1d(x, 2).sum() + F.pixel_shuffle(x[..., None], 1).sum() * x,
                   lambda: [_t(1, 2, 4)]),
}


@pytest.mark.parametrize("name", list(OPS))
def test_gradgradcheck(name: str) -> None:
    fn, make = OPS[name]
    assert mg.autograd.gradgradcheck(fn, make(), atol=1e-5, rtol=1e-4)


def test_third_order_on_a_scalar_function(torch: Any) -> None:
    values = np.array([0.3, -1.2, 0.8])

    def f(lib: Any, x: Any) -> Any:
        return (lib.sin(x) * x ** 3 + lib.exp(x) * x.tanh()).sum()

    x = mg.tensor(values, requires_grad=True)
    tx = torch.tensor(values, requires_grad=True)
    derivatives = []
    for lib, inp in ((mg, x), (torch, tx)):
        grad = lib.autograd.grad
        (g1,) = grad(f(lib, inp), inp, create_graph=True)
        (g2,) = grad(g1.sum(), inp, create_graph=True)
        (g3,) = grad(g2.sum(), inp)
        derivatives.append((g1, g2, g3))
    for ours, theirs in zip(*derivatives):
        assert_close(ours, theirs.detach(), what="nth derivative")
    assert derivatives[0][1].requires_grad and not derivatives[0][2].requires_grad


def _mlp_weights(sizes: list[int], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    weights = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        weights += [rng.standard_normal((fan_out, fan_in)) / np.sqrt(fan_in), rng.standard_normal(fan_out) * 0.1]
    return weights


def _mlp(lib: Any, params: list, x: Any, act: str = "tanh") -> Any:
    functional = F if lib is mg else lib.nn.functional
    for i in range(0, len(params), 2):
        x = functional.linear(x, params[i], params[i + 1])
        if i + 2 < len(params):
            x = functional.leaky_relu(x, 0.2) if act == "leaky_relu" else x.tanh()
    return x


@pytest.mark.parametrize("act", ["tanh", "leaky_relu"])
def test_wgan_gradient_penalty_matches_torch(act: str, torch: Any) -> None:
    rng = np.random.default_rng(1)
    weights = _mlp_weights([3, 8, 1], seed=1)
    real, fake = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    alpha = rng.uniform(size=(5, 1))
    results = []
    for lib, wrap in ((mg, lambda a: mg.tensor(a, requires_grad=True)),
                      (torch, lambda a: torch.tensor(a, requires_grad=True))):
        params = [wrap(w) for w in weights]
        x = wrap(alpha * real + (1 - alpha) * fake)
        critic = _mlp(lib, params, x, act)
        (gx,) = lib.autograd.grad(critic.sum(), x, create_graph=True)
        penalty = ((gx.norm(2, dim=1) - 1) ** 2).mean()
        penalty.backward()
        results.append((penalty, [p.grad for p in params], x.grad))
    (ours, our_grads, our_x), (theirs, their_grads, their_x) = results
    assert_close(ours, theirs.detach(), what="penalty")
    # with leaky_relu, the first layer's bias and x reach the penalty only through the activation's mask: zeros, as
    # torch's leaky_relu_backward gives them; the last bias does not reach it at all: None in both
    for i, (a, b) in enumerate(zip(our_grads + [our_x], their_grads + [their_x])):
        assert (a is None) == (b is None), f"param {i}: {a} vs {b}"
        if a is not None:
            assert_close(a, b, rtol=1e-9, what=f"d penalty / d param {i}")


def test_maml_inner_step_matches_torch(torch: Any) -> None:
    rng = np.random.default_rng(2)
    weights = _mlp_weights([2, 6, 1], seed=2)
    support_x, support_y = rng.standard_normal((4, 2)), rng.standard_normal((4, 1))
    query_x, query_y = rng.standard_normal((4, 2)), rng.standard_normal((4, 1))
    lr = 0.1
    results = []
    for lib in (mg, torch):
        functional = F if lib is mg else torch.nn.functional
        params = [lib.tensor(w, requires_grad=True) for w in weights]
        inner = functional.mse_loss(_mlp(lib, params, lib.tensor(support_x)), lib.tensor(support_y))
        grads = lib.autograd.grad(inner, params, create_graph=True)
        fast = [p - lr * g for p, g in zip(params, grads)]
        for _ in range(2):   # a second inner step differentiates through the first
            inner = functional.mse_loss(_mlp(lib, fast, lib.tensor(support_x)), lib.tensor(support_y))
            grads = lib.autograd.grad(inner, fast, create_graph=True)
            fast = [p - lr * g for p, g in zip(fast, grads)]
        outer = functional.mse_loss(_mlp(lib, fast, lib.tensor(query_x)), lib.tensor(query_y))
        results.append((outer, lib.autograd.grad(outer, params)))
    (ours, our_grads), (theirs, their_grads) = results
    assert_close(ours, theirs.detach(), what="outer loss")
    for i, (a, b) in enumerate(zip(our_grads, their_grads)):
        assert_close(a, b, rtol=1e-9, what=f"meta-gradient {i}")


def test_pinn_second_derivative_of_a_tanh_mlp_matches_torch(torch: Any) -> None:
    weights = _mlp_weights([1, 10, 10, 1], seed=3)
    points = np.linspace(-1, 1, 7).reshape(7, 1)
    results = []
    for lib in (mg, torch):
        params = [lib.tensor(w, requires_grad=True) for w in weights]
        x = lib.tensor(points, requires_grad=True)
        u = _mlp(lib, params, x)
        (du,) = lib.autograd.grad(u.sum(), x, create_graph=True)
        (d2u,) = lib.autograd.grad(du.sum(), x, create_graph=True)
        residual = ((d2u + lib.sin(x) * u) ** 2).mean()   # u'' + sin(x) u = 0
        residual.backward()
        results.append((du, d2u, residual, [p.grad for p in params]))
    (du, d2u, res, grads), (tdu, td2u, tres, tgrads) = results
    assert_close(du, tdu.detach(), what="du/dx")
    assert_close(d2u, td2u.detach(), what="d2u/dx2")
    assert_close(res, tres.detach(), what="residual")
    for i, (a, b) in enumerate(zip(grads, tgrads)):
        assert_close(a, b, rtol=1e-9, what=f"d residual / d param {i}")


def _scalar(lib: Any) -> Callable:
    def f(x: Any, y: Any) -> Any:
        return (x.tanh() * (x @ y) + (y ** 3).sum() * x.sin()).sum()
    return f


def test_hessian_hvp_vhp_match_torch(torch: Any) -> None:
    x, y, v, w = (RNG.standard_normal(3) for _ in range(4))
    ours_in, theirs_in = (mg.tensor(x), mg.tensor(y)), (torch.tensor(x), torch.tensor(y))
    H = hessian(_scalar(mg), ours_in)
    tH = torch.autograd.functional.hessian(_scalar(torch), theirs_in)
    for i in range(2):
        for j in range(2):
            assert_close(H[i][j], tH[i][j], what=f"H[{i}][{j}]")
    vs, tvs = (mg.tensor(v), mg.tensor(w)), (torch.tensor(v), torch.tensor(w))
    for ours, theirs in ((hvp, torch.autograd.functional.hvp), (vhp, torch.autograd.functional.vhp)):
        value, product = ours(_scalar(mg), ours_in, vs)
        tvalue, tproduct = theirs(_scalar(torch), theirs_in, tvs)
        assert_close(value, tvalue)
        for a, b in zip(product, tproduct):
            assert_close(a, b, what=ours.__name__)
    # one Tensor input: one Hessian block
    single = hessian(lambda a: (a ** 3).sum() * a.exp().sum(), mg.tensor(x))
    assert_close(single, torch.autograd.functional.hessian(lambda a: (a ** 3).sum() * a.exp().sum(), torch.tensor(x)))


def test_functional_create_graph_keeps_the_graph_to_the_inputs(torch: Any) -> None:
    x_values = RNG.standard_normal(3)
    x, tx = mg.tensor(x_values, requires_grad=True), torch.tensor(x_values, requires_grad=True)
    for lib, inp, fns in ((mg, x, (jacobian, vjp, jvp, hessian)),
                          (torch, tx, (torch.autograd.functional.jacobian, torch.autograd.functional.vjp,
                                       torch.autograd.functional.jvp, torch.autograd.functional.hessian))):
        jac_fn, vjp_fn, jvp_fn, hess_fn = fns
        J = jac_fn(lambda a: a.tanh() * a, inp, create_graph=True)
        _, back = vjp_fn(lambda a: a.sin() * a, inp, lib.ones(3, dtype=lib.float64), create_graph=True)
        _, forward = jvp_fn(lambda a: a.exp() * a, inp, lib.ones(3, dtype=lib.float64), create_graph=True)
        H = hess_fn(lambda a: (a ** 4).sum(), inp, create_graph=True)
        (J.sum() + back.sum() + forward.sum() + H.sum()).backward()
    assert_close(x.grad, tx.grad)


def test_backward_create_graph_twice_accumulates_like_torch(torch: Any) -> None:
    values = np.array([1.0, 2.0])
    grads = []
    for lib in (mg, torch):
        x = lib.tensor(values, requires_grad=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            (x ** 3).sum().backward(create_graph=True)
            first = x.grad
            assert first.requires_grad
            (x ** 3).sum().backward(create_graph=True)
        assert x.grad is not first and x.grad.requires_grad   # .grad + gradient, out of place
        assert_close(first.detach(), np.array([3.0, 12.0]))
        (g2,) = lib.autograd.grad(x.grad.sum(), x)   # d/dx of 2 * 3x² = 12x
        grads.append((x.grad, g2))
        if lib is mg:
            assert any("reference cycle" in str(w.message) for w in caught)
    assert_close(grads[0][0].detach(), grads[1][0].detach())
    assert_close(grads[0][1], grads[1][1])
    assert_close(grads[0][1], np.array([12.0, 24.0]))


def test_requires_grad_follows_torch(torch: Any) -> None:
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    (linear,) = mg.autograd.grad((3 * x).sum(), x, create_graph=True)
    (square,) = mg.autograd.grad((x * x).sum(), x, create_graph=True)
    assert not linear.requires_grad and square.requires_grad
    assert square.grad_fn is not None if hasattr(square, "grad_fn") else True


def test_grad_of_a_non_leaf_and_hooks_with_create_graph() -> None:
    x = mg.tensor([0.5, -0.3], dtype="float64", requires_grad=True)
    h = x.tanh()
    seen = []
    h.register_hook(lambda g: seen.append(g.requires_grad))
    y = (h * h * x).sum()
    gh, gx = mg.autograd.grad(y, [h, x], create_graph=True)
    np.testing.assert_allclose(gh.numpy(), 2 * h.numpy() * x.numpy())
    assert seen == [True] and gh.requires_grad
    (second,) = mg.autograd.grad(gx.sum(), x)
    eps = 1e-6
    def first(a: np.ndarray) -> np.ndarray:
        t = mg.tensor(a, requires_grad=True)
        (g,) = mg.autograd.grad((t.tanh() ** 2 * t).sum(), t)
        return g.numpy()
    numeric = [(first(x.numpy() + eps * e) - first(x.numpy() - eps * e)).sum() / (2 * eps) for e in np.eye(2)]
    np.testing.assert_allclose(second.numpy(), numeric, rtol=1e-6)


def test_an_op_without_a_rule_raises_naming_it() -> None:
    x = mg.tensor([0.5, 1.5], requires_grad=True)
    with pytest.raises(NotImplementedError, match="create_graph=True: no higher-order gradient for bincount yet"):
        mg.autograd.grad(mg.bincount(mg.tensor([0, 1, 1]), weights=x[:1].repeat(3)).sum(), x, create_graph=True)
    assert x.grad is None   # nothing accumulated
    # the first-order path still works on the same graph
    (g,) = mg.autograd.grad(mg.bincount(mg.tensor([0, 1, 1]), weights=x[:1].repeat(3)).sum(), x)
    assert not g.requires_grad


def test_retain_graph_false_with_create_graph_frees_the_graph() -> None:
    x = mg.tensor([0.5, 1.5], requires_grad=True)
    y = (x.exp() * x).sum()
    mg.autograd.grad(y, x, create_graph=True, retain_graph=False)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_float32_gradients_keep_their_dtype(torch: Any) -> None:
    x = mg.tensor([0.5, 1.5], dtype="float32", requires_grad=True)
    (g,) = mg.autograd.grad((x.tanh() * x).sum(), x, create_graph=True)
    (h,) = mg.autograd.grad(g.sum(), x)
    tx = to_torch(torch, x)
    (tg,) = torch.autograd.grad((tx.tanh() * tx).sum(), tx, create_graph=True)
    (th,) = torch.autograd.grad(tg.sum(), tx)
    assert g.dtype == h.dtype == np.float32
    assert_close(h, th, rtol=1e-6, atol=1e-6)


# --- second derivatives of the composite ops against torch's, None where torch has None ---------------------------

def _values(*shape: int, zeros: bool = False) -> np.ndarray:
    values = RNG.standard_normal(shape)
    values = np.where(np.abs(values) < 0.2, np.sign(values) * 0.2 + values, values)
    if zeros:
        values.flat[[0, 1, shape[-1] + 1]] = 0.0
    return values


# name -> (fn(lib, F, *inputs), input arrays); each the same code for minigrad and torch
COMPOSITES: dict[str, tuple[Callable, list]] = {
    "var_std": (lambda L, F, a: a.var(dim=1, keepdim=True) + a.var(dim=0, correction=0).sum() + a.var()
                + a.std(dim=(0, 1)) * a.std(dim=0, keepdim=True, correction=0), [_values(3, 4)]),
    "prod_cumprod_with_zeros": (lambda L, F, a: a.prod(dim=1).sum() + a.prod() + a.cumprod(0).sum(1).prod()
                                + a.cumsum(1).sum(), [_values(3, 4, zeros=True)]),
    "atan2_fmod_remainder": (lambda L, F, a, b: L.atan2(a, b) + L.fmod(a, 0.7) * a + L.remainder(a, 0.6) * a * b,
                             [_values(5), _values(5)]),
    "norms": (lambda L, F, a: a.norm(float("inf")) * a + a.norm(float("-inf"), dim=1, keepdim=True) * a
              + a.norm(3) + a.norm(1.5, dim=0).sum() + L.linalg.vector_norm(a, 0.5) + a.norm("fro") * a.norm(1),
              [_values(3, 4)]),
    "activations": (lambda L, F, a: F.logsigmoid(a) + F.softplus(a, beta=2, threshold=1.5) + F.hardtanh(a * 2) * a
                    + F.relu6(a * 4) * a + F.leaky_relu(a, 0.2) * a + F.gelu(a, approximate="tanh") + F.mish(a)
                    + F.selu(a) + F.celu(a, 0.7), [_values(6)]),
    "log_softmax": (lambda L, F, a, b: F.log_softmax(a, dim=-1) * a + (F.log_softmax(b, 0) * b).sum(),
                    [_values(3, 4), _values(5)]),
    "rearranging": (lambda L, F, a: a.trace() * a + a.diagonal(1).sum() * a + (a.triu(1) * a.tril()
                    + a.flip(0) * a.roll(1, 1)) ** 2, [_values(3, 3)]),
    "indexing": (lambda L, F, a, s: (a.gather(1, L.tensor(GATHER.numpy())) ** 2).sum()
                 + (a.scatter_add(0, L.tensor(np.array([[0, 1, 2], [0, 1, 0]])), s) ** 2).sum()
                 + (a.index_select(0, L.tensor(INDEX.numpy())) ** 2).sum()
                 + (a.masked_fill(L.tensor(MASK.numpy()[:, :1].repeat(3, 1)), 1.0) * a).sum(), [_values(3, 3),
                                                                                                 _values(2, 3)]),
    "pad_embedding": (lambda L, F, a: (F.pad(a, (1, 1, 2, 0), value=0.5) ** 3).sum()
                      + (F.embedding(L.tensor(TOKENS.numpy()), a, padding_idx=1) ** 2).sum(), [_values(4, 2)]),
    "norm_layers": (lambda L, F, a, w, b: F.layer_norm(a, (4,), w, b) ** 2 + F.batch_norm(a, None, None, w, b, True)
                    + F.batch_norm(a, L.tensor(np.array([0.1, -0.2, 0.3, 0.0])), L.tensor(np.array([1.5, 0.5, 2, 1])),
                                   w, b) ** 2 + F.group_norm(a.reshape(3, 4, 1), 2, w, b).reshape(3, 4) ** 2,
                    [_values(3, 4), _values(4), _values(4)]),
    "pools_interpolate": (lambda L, F, a: (F.max_pool2d(a, 2) ** 2).sum() + (F.avg_pool2d(a, 2) ** 2).sum()
                          + (F.adaptive_avg_pool2d(a, 3) ** 2).sum() + (F.interpolate(a, scale_factor=2) ** 2).sum()
                          + (F.interpolate(a, size=(5, 3), mode="bilinear") ** 2).sum(), [_values(1, 2, 4, 4)]),
    "attention": (lambda L, F, q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                  [_values(2, 3, 4), _values(2, 3, 4), _values(2, 3, 4)]),
    "more_math": (lambda L, F, a, b: (a * 0.4).asin() + (b.abs() + 1).acosh() * a + L.erfinv(a * 0.4)
                  + L.lgamma(b.abs()) + L.digamma(b.abs()) * a + L.sinc(a) + L.logit(b.sigmoid())
                  + L.xlogy(a, b.abs()) + L.hypot(a, b)
                  + L.lerp(a, b, a.sigmoid()) + L.logcumsumexp(a * b, 0) + L.fmod(a, b) + L.remainder(b, a),
                  [_values(5), _values(5)]),
    "writes": (lambda L, F, a, s: (a.index_add(0, L.tensor(INDEX.numpy()), s) ** 2).sum(0)
               + (a.index_copy(0, L.tensor(INDEX.numpy()[:2]), s[:2]) * a).sum(0)
               + (a.index_put((L.tensor(INDEX.numpy()),), s, accumulate=True) ** 2).sum(0)
               + (a.masked_scatter(L.tensor(MASK.numpy()), s) ** 2).sum(0)
               + (a.scatter_reduce(0, L.tensor(SCATTER.numpy()), s[:2], "mean") ** 2).sum(0)
               + (L.select_scatter(a, s[0], 0, 1) ** 2).sum(0) + (L.slice_scatter(a, s[:2] * a[:2], 0, 1) ** 2).sum(0),
               [_values(3, 2), _values(3, 2)]),
    "linear_algebra": (lambda L, F, a, b: L.linalg.inv(a) * L.linalg.det(a) + L.linalg.slogdet(a)[1] * a
                       + L.linalg.solve(a, b) ** 2 + L.linalg.cholesky(a @ a.mT + L.eye(3, dtype=a.dtype))
                       + L.linalg.matrix_exp(a * 0.3) + L.linalg.eigvalsh(a + a.mT)[:, None] * a
                       + L.einsum("ij,jk->ik", a, b * a), [_values(3, 3) + 3 * np.eye(3), _values(3, 3)]),
    "pinv_i1_scatter_prod": (lambda L, F, a, s: L.linalg.pinv(a) ** 3
                             + (L.special.i1(a) * L.special.i1e(a)).sum(0)[:, None]
                             + (a.scatter_reduce(0, L.tensor(SCATTER_PROD.numpy()), s, "prod") ** 2).sum(0)[:, None],
                             [_values(3, 2), _values(3, 2, zeros=True)]),
    # PyTorch's hand-written gradients (finite at 0 and 1), differentiated again; the weight is a constant in torch
    "binary_cross_entropy": (lambda L, F, x, y: F.binary_cross_entropy(x, y, reduction="none")
                             + F.binary_cross_entropy(x, y, L.tensor(BCE_WEIGHT), reduction="sum") * x
                             + (nn.BCELoss(mg.tensor(BCE_WEIGHT)) if L is mg else L.nn.BCELoss(L.tensor(BCE_WEIGHT)))(
                                 x, y) * y, [RNG.uniform(0.1, 0.9, (3, 4)), RNG.uniform(0, 1, (3, 4))]),
}


def _second_order(lib: Any, fn: Callable, values: list, weights: np.ndarray, directions: list) -> tuple:
    """fn's value, its gradient (create_graph=True) and the gradient of <gradient, directions>, with torch's None."""
    functional = F if lib is mg else lib.nn.functional
    xs = [lib.tensor(v, requires_grad=True) for v in values]
    y = fn(lib, functional, *xs)
    grads = lib.autograd.grad((y * lib.tensor(weights)).sum(), xs, create_graph=True, allow_unused=True)
    inner = [(g * lib.tensor(d)).sum() for g, d in zip(grads, directions) if g is not None and g.requires_grad]
    seconds = lib.autograd.grad(sum(inner), xs, allow_unused=True) if inner else (None,) * len(xs)
    return y, grads, seconds


@pytest.mark.parametrize("name", list(COMPOSITES))
def test_second_derivatives_match_torch(name: str, torch: Any) -> None:
    fn, values = COMPOSITES[name]
    rng = np.random.default_rng(5)
    shape = tuple(fn(torch, torch.nn.functional, *(torch.tensor(v) for v in values)).shape)
    weights, directions = rng.standard_normal(shape), [rng.standard_normal(v.shape) for v in values]
    ours = _second_order(mg, fn, values, weights, directions)
    theirs = _second_order(torch, fn, values, weights, directions)
    assert_close(ours[0], theirs[0].detach(), rtol=1e-9, what="value")
    for what, mine, torchs in (("gradient", ours[1], theirs[1]), ("second derivative", ours[2], theirs[2])):
        for i, (a, b) in enumerate(zip(mine, torchs)):
            assert (a is None) == (b is None), f"{what} of input {i}: {a} vs torch's {b}"
            if a is not None:
                assert_close(a.detach(), b.detach(), rtol=1e-7, atol=1e-9, what=f"{what} of input {i}")


def test_binary_cross_entropy_gradients_with_create_graph_are_the_ordinary_ones_bit_for_bit() -> None:
    """Also at x = 0 and 1, where PyTorch's input gradient is (x - y) / 1e-12 and the target's ±inf."""
    x = np.array([[0.0, 1.0, 0.0, 1.0, 1e-20, 0.3], [0.5, 1 - 1e-16, 0.7, 0.2, 1e-13, 0.9]])
    y = np.array([[0.0, 1.0, 1.0, 0.0, 0.5, 0.5], [0.5, 0.0, 0.3, 1.0, 0.0, 0.1]])
    for dtype in ("float64", "float32"):
        inputs = [mg.tensor(x, dtype=dtype, requires_grad=True), mg.tensor(y, dtype=dtype, requires_grad=True),
                  mg.tensor(RNG.uniform(0.5, 2.0, 6), requires_grad=True)]
        loss = F.binary_cross_entropy(*inputs)
        ordinary = mg.autograd.grad(loss, inputs, retain_graph=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")   # log 0 and 1/0 at x = 0 and 1 are quiet, as in the first-order backward
            with_graph = mg.autograd.grad(loss, inputs, create_graph=True)
        for a, b in zip(ordinary, with_graph):
            assert b.requires_grad and a.dtype == b.dtype
            np.testing.assert_array_equal(a.numpy(), b.detach().numpy())


def test_scatter_reduce_prod_with_two_src_zeros_at_one_place_refuses_as_torch() -> None:
    x, src = mg.tensor([1.0, 2.0], requires_grad=True), mg.tensor([0.0, 0.0, 3.0], requires_grad=True)
    y = x.scatter_reduce(0, mg.tensor(np.array([0, 0, 1])), src, "prod")
    with pytest.raises(NotImplementedError, match="scatter_reduce with reduce='prod' where two or more zeros"):
        mg.autograd.grad(y.sum(), src, create_graph=True, retain_graph=True)
    np.testing.assert_array_equal(mg.autograd.grad(y.sum(), src)[0].numpy(), [0.0, 0.0, 2.0])


def test_fmod_remainder_divisor_gradient_stays_on_the_graph_as_torch(torch: Any) -> None:
    """b's gradient -g · q(a / b) keeps a graph even where g is a constant, and differentiates to zeros, as torch's
    (a constant quotient made the second grad raise "does not require grad")."""
    values = (np.array([1.3, -2.5, 0.7]), np.array([0.4, 0.6, -0.3]))
    for lib in (mg, torch):
        for fn in (lib.fmod, lib.remainder):
            a, b = (lib.tensor(v, requires_grad=True) for v in values)
            (gb,) = lib.autograd.grad(fn(a, b).sum(), b, create_graph=True)
            assert gb.requires_grad
            for g in lib.autograd.grad(gb.sum(), [a, b]):
                assert not g.abs().sum().item()


@pytest.mark.parametrize("kind", ["lstm", "gru", "compile"])
def test_fused_and_compiled_nodes_refuse_with_the_way_that_works(kind: str) -> None:
    x, h = _t(2, 1, 3), _t(1, 1, 2)
    if kind == "compile":
        square_sin = mg.compile(lambda a: (a * a).sin())
        for _ in range(3):   # captured and replayed as one node
            y = square_sin(x)
        match = "mg.compile'd call .* eagerly"
    else:
        layer = (nn.LSTM if kind == "lstm" else nn.GRU)(3, 2, dtype=mg.float64, fused=True)
        y = layer(x, (h, h) if kind == "lstm" else h)[0]
        match = f"{kind}_gates .* fused=False"
    with pytest.raises(NotImplementedError, match=match):
        mg.autograd.grad(y.sum(), x, create_graph=True)
    assert mg.autograd.grad(y.sum(), x)[0].shape == x.shape   # the first-order backward works


# --- zeros, not None, where torch's backward reads its input to pick a piece ------------------------------------------

ACTIVATIONS: dict[str, Callable] = {   # torch: zeros for the first bias (its backward takes the input) …
    "relu": lambda L, F, h: F.relu(h),
    "leaky_relu": lambda L, F, h: F.leaky_relu(h, 0.2),
    "LeakyReLU": lambda L, F, h: (nn.LeakyReLU(0.2) if L is mg else L.nn.LeakyReLU(0.2))(h),
    "hardtanh": lambda L, F, h: F.hardtanh(h),
    "relu6": lambda L, F, h: F.relu6(h * 3),
    "threshold": lambda L, F, h: F.threshold(h, 0.1, 0.0),
    "hardshrink_softshrink": lambda L, F, h: F.hardshrink(h, 0.3) + F.softshrink(h, 0.3),
    "prelu": lambda L, F, h: F.prelu(h, L.tensor(np.array([0.25]))),
    "rrelu": lambda L, F, h: F.rrelu(h),
    "abs": lambda L, F, h: h.abs(),
    "max_pool1d": lambda L, F, h: F.max_pool1d(h.reshape(5, 1, 4), 2).reshape(5, 2).repeat(1, 2),
    "where": lambda L, F, h: L.where(h > 0, h, 0.2 * h),   # … None: the condition is not an input of where
    "clamp_maximum_amax": lambda L, F, h: h.clamp(-1, 1) + L.maximum(h, 0.2 * h) + h.amax(1, keepdim=True),
    "elu": lambda L, F, h: F.elu(h),   # a real second derivative
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_gradient_penalty_gives_zeros_or_none_as_torch(name: str, torch: Any) -> None:
    """A parameter that reaches the penalty only through a piecewise-linear mask gets zeros where torch gives zeros
    (relu, leaky_relu, hardtanh …: their backward reads the input) and None where torch gives None (where, clamp)."""
    rng = np.random.default_rng(4)
    values = [rng.standard_normal(s) for s in ((4, 3), (4,), (1, 4), (1,), (5, 3))]
    results = []
    for lib in (mg, torch):
        functional = F if lib is mg else torch.nn.functional
        w1, b1, w2, b2, x = (lib.tensor(v, requires_grad=True) for v in values)
        out = ACTIVATIONS[name](lib, functional, x @ w1.T + b1) @ w2.T + b2
        (gx,) = lib.autograd.grad(out.sum(), x, create_graph=True)
        penalty = ((gx.norm(2, dim=1) - 1) ** 2).mean()
        results.append(lib.autograd.grad(penalty, [w1, b1, w2, b2], allow_unused=True))
    for i, (a, b) in enumerate(zip(*results)):
        assert (a is None) == (b is None), f"param {i}: {a} vs torch's {b}"
        if a is not None:
            assert_close(a, b, rtol=1e-9, what=f"param {i}")


def _critic(lib: Any) -> Any:
    module = nn if lib is mg else lib.nn
    return module.Sequential(module.Linear(3, 8), module.LayerNorm(8), module.LeakyReLU(0.2), module.Linear(8, 8),
                             module.LayerNorm(8), module.LeakyReLU(0.2), module.Linear(8, 1))


def test_wgan_gp_with_a_layernorm_leaky_relu_critic_matches_torch(torch: Any) -> None:
    """WGAN-GP's critic step: every parameter's .grad (None vs zeros included) and the parameters after one Adam step
    equal torch's; the penalty's own gradients too, where its zeros come through LeakyReLU's mask."""
    rng = np.random.default_rng(6)
    real, fake, alpha = rng.standard_normal((6, 3)), rng.standard_normal((6, 3)), rng.uniform(size=(6, 1))
    critics = [_critic(mg).double(), _critic(torch).double()]
    weights = {name: rng.standard_normal(tuple(p.shape)) * 0.5 for name, p in critics[1].named_parameters()}
    results = []
    for lib, critic in zip((mg, torch), critics):
        critic.load_state_dict({name: lib.tensor(w) for name, w in weights.items()})
        params = list(critic.parameters())
        optimizer = (nn.optim if lib is mg else torch.optim).Adam(params, lr=1e-2, betas=(0.5, 0.9))
        x = lib.tensor(alpha * real + (1 - alpha) * fake, requires_grad=True)
        (gx,) = lib.autograd.grad(critic(x).sum(), x, create_graph=True)
        penalty = ((gx.norm(2, dim=1) - 1) ** 2).mean()
        penalty_grads = lib.autograd.grad(penalty, params, retain_graph=True, allow_unused=True)
        critic_loss = critic(lib.tensor(fake)).mean() - critic(lib.tensor(real)).mean()
        optimizer.zero_grad()
        (critic_loss + 10 * penalty).backward()
        grads = [p.grad for p in params]
        optimizer.step()
        results.append((penalty, penalty_grads, grads, [p.detach() for p in params]))
    (penalty, penalty_grads, grads, after), (t_penalty, t_penalty_grads, t_grads, t_after) = results
    assert_close(penalty, t_penalty.detach(), rtol=1e-9, what="penalty")
    names = [name for name, _ in critics[1].named_parameters()]
    for what, mine, theirs in (("d penalty", penalty_grads, t_penalty_grads), (".grad", grads, t_grads),
                               ("after Adam", after, t_after)):
        for name, a, b in zip(names, mine, theirs):
            assert (a is None) == (b is None), f"{what} of {name}: {a} vs torch's {b}"
            if a is not None:
                assert not a.requires_grad
                assert_close(a, b, rtol=1e-8, atol=1e-12, what=f"{what} of {name}")
    # the last LayerNorm's bias reaches the penalty only through the last LeakyReLU's mask: zeros, as torch's
    assert names[7] == "4.bias" and penalty_grads[7] is not None and not penalty_grads[7].abs().sum().item()


# --- PyTorch-style custom Functions under create_graph=True -------------------------------------------------------

def _once_cube(lib: Any) -> type:
    once = lib.autograd.function.once_differentiable if lib is not mg else mg.autograd.once_differentiable

    class OnceCube(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        @once
        def backward(ctx: Any, g: Any) -> Any:
            (x,) = ctx.saved_tensors
            return 3 * g * x * x
    return OnceCube


def test_custom_function_backward_is_recorded_with_create_graph(torch: Any) -> None:
    values = np.array([0.3, -0.7, 1.1])
    results = []
    for lib in (mg, torch):
        exp, mul_add = (Exp, MulAdd) if lib is mg else _torch_customs(torch)
        x, w = lib.tensor(values, requires_grad=True), lib.tensor(values[::-1].copy(), requires_grad=True)
        y = mul_add.apply(exp.apply(x), w, 2.0).sin()
        gx, gw = lib.autograd.grad(y.sum(), [x, w], create_graph=True)
        assert gx.requires_grad and gw.requires_grad
        results.append((gx, gw, *lib.autograd.grad((gx * gx).sum() + gw.sum() * gx.sum(), [x, w])))
    for i, (a, b) in enumerate(zip(*results)):
        assert_close(a.detach(), b.detach(), rtol=1e-10, what=f"result {i}")


def _torch_customs(torch: Any) -> tuple:
    class TorchExp(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            (y,) = ctx.saved_tensors
            return g * y

    class TorchMulAdd(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any, w: Any, k: float) -> Any:
            ctx.save_for_backward(x, w)
            return x * w + k

        @staticmethod
        def backward(ctx: Any, g: Any) -> tuple:
            x, w = ctx.saved_tensors
            return g * w, g * x, None
    return TorchExp, TorchMulAdd


def test_once_differentiable_raises_only_when_its_gradient_is_differentiated(torch: Any) -> None:
    values = np.array([0.3, -0.7, 1.1])
    for lib in (mg, torch):
        cube = _once_cube(lib)
        x, z = lib.tensor(values, requires_grad=True), lib.tensor(values, requires_grad=True)
        (last,) = lib.autograd.grad(cube.apply(x).sum(), x, create_graph=True)   # the incoming gradient is constant
        assert not last.requires_grad
        (inner,) = lib.autograd.grad(cube.apply(x).sin().sum(), x, create_graph=True)
        assert inner.requires_grad
        with pytest.raises(RuntimeError, match="differentiate twice a function that was marked with @once_differ"):
            inner.sum().backward()
        (gz,) = lib.autograd.grad((cube.apply(x) * z).sum(), z, create_graph=True)   # not needed: no error
        assert lib.autograd.grad(gz.sum(), z, allow_unused=True) == (None,)
        assert_close(lib.autograd.grad(cube.apply(x).sum(), x)[0], 3 * values ** 2, what=lib.__name__)


GPU_OPS = ["relu", "abs", "var_std", "prod_with_zeros", "cumsum", "cumprod", "cumprod_with_zeros", "atan2",
           "fmod_remainder", "norms", "hardtanh_relu6", "trace_diagonal", "triu_tril_flip_roll", "max_dim_topk",
           "layer_norm", "pools", "interpolate", "scaled_dot_product_attention", "custom_functions", "bessel_i1",
           "pinv", "binary_cross_entropy"]


@pytest.mark.gpu
@pytest.mark.parametrize("name", GPU_OPS)
def test_second_derivatives_on_gpu_equal_cpu(name: str) -> None:
    fn, make = OPS[name]
    inputs = make()
    results = []
    for device in ("cpu", "cuda"):
        xs = [x.detach().to(device).requires_grad_() for x in inputs]
        y = fn(*xs)
        grads = mg.autograd.grad((y * y).sum(), xs, create_graph=True)
        inner = sum((g * g).sum() for g in grads if g.requires_grad)
        results.append([g.numpy() for g in grads] + [g.numpy() for g in mg.autograd.grad(inner, xs)])
    rtol, atol = device_tolerance(1e-10, 1e-12, results[0])
    for i, (a, b) in enumerate(zip(*results)):
        np.testing.assert_allclose(b, a, rtol=rtol, atol=atol, err_msg=f"result {i}")


NAN_DATA = np.random.default_rng(8).standard_normal((3, 4, 2))
NAN_DATA[0, 1, 0] = NAN_DATA[2, 3, 1] = np.nan
NAN_DATA[1, :, 1] = np.nan   # a line of NaNs only: nanmean gives NaN there, and its gradients NaN as torch's
INF_DATA = NAN_DATA.copy()
INF_DATA[1, 2, 0], INF_DATA[0, 0, 0] = np.inf, -np.inf

NAN_OPS: dict[str, tuple[Callable, np.ndarray]] = {
    "nansum": (lambda L, t: L.nansum(t * t, dim=(0, -1)) + L.nansum(t ** 3), NAN_DATA),
    "nansum_keepdim": (lambda L, t: L.nansum(t * t, dim=1, keepdim=True), NAN_DATA),
    "nanmean": (lambda L, t: L.nanmean(t * t, dim=1) + L.nanmean(t ** 3), NAN_DATA),
    "nanmean_keepdim": (lambda L, t: L.nanmean(t * t, dim=-2, keepdim=True), NAN_DATA),
    "nan_to_num": (lambda L, t: L.nan_to_num(t * t, nan=0.5, posinf=3.0), INF_DATA),
}


@pytest.mark.parametrize("name", list(NAN_OPS))
def test_nan_skipping_ops_second_derivatives_match_torch(name: str, torch: Any) -> None:
    fn, data = NAN_OPS[name]
    results = []
    for lib in (torch, mg):
        x = lib.tensor(data, requires_grad=True)
        y = fn(lib, x)
        weights = lib.tensor(np.linspace(0.5, 1.5, int(np.prod(y.shape))).reshape(tuple(y.shape)))
        (g,) = lib.autograd.grad((y * weights).sum(), [x], create_graph=True)
        (h,) = lib.autograd.grad((g * lib.tensor(np.nan_to_num(data, nan=1.0, posinf=2.0, neginf=-2.0))).sum(), [x])
        results.append((g.detach().numpy(), h.numpy()))
    for theirs, ours in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, equal_nan=True)


@pytest.mark.parametrize("shape, mode, use", [((4, 3), "reduced", "both"), ((3, 3), "reduced", "q"),
                                              ((3, 5), "reduced", "both"), ((2, 4, 3), "reduced", "r"),
                                              ((2, 5), "complete", "both")])
def test_qr_second_derivatives_match_torch(shape: tuple, mode: str, use: str, torch: Any) -> None:
    a = np.random.default_rng(1).standard_normal(shape)
    results = []
    for lib in (torch, mg):
        x = lib.tensor(a, requires_grad=True)
        q, r = lib.linalg.qr(x, mode=mode)
        wq = lib.tensor(np.cos(np.arange(np.prod(q.shape))).reshape(tuple(q.shape)))
        wr = lib.tensor(np.sin(np.arange(np.prod(r.shape))).reshape(tuple(r.shape)))
        y = (q * wq).sum() * (use != "r") + (r * r * wr).sum() * (use != "q")
        (g,) = lib.autograd.grad(y, [x], create_graph=True)
        (h,) = lib.autograd.grad((g * g).sum(), [x])
        results.append((g.detach().numpy(), h.numpy()))
    for theirs, ours in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("shape, full, use", [((4, 3), False, "all"), ((3, 5), False, "all"), ((2, 4, 3), False, "uv"),
                                              ((4, 3), True, "all"), ((3, 5), True, "s"), ((2, 3, 5), False, "vals")])
def test_svd_second_derivatives_match_torch(shape: tuple, full: bool, use: str, torch: Any) -> None:
    a = np.random.default_rng(2).standard_normal(shape)
    k = min(shape[-2:])
    weights = [np.arange(1.0, k + 1), np.cos(np.arange(shape[-2] * k)).reshape(shape[-2], k),
               np.sin(np.arange(k * shape[-1])).reshape(k, shape[-1])]
    results = []
    for lib in (torch, mg):
        x = lib.tensor(a, requires_grad=True)
        w_s, w_u, w_vh = (lib.tensor(w) for w in weights)
        if use == "vals":
            y = (lib.linalg.svdvals(x) ** 2 * w_s).sum()
        else:   # functions of U and Vh that do not depend on their columns' signs
            u, s, vh = lib.linalg.svd(x, full_matrices=full)
            y = (s * w_s).sum()
            if use != "s":
                y = y * (use == "all") + (u[..., :k] ** 2 * w_u).sum() + (vh[..., :k, :] ** 2 * w_vh).sum()
        (g,) = lib.autograd.grad(y, [x], create_graph=True)
        (h,) = lib.autograd.grad((g * g).sum(), [x])
        results.append((g.detach().numpy(), h.numpy()))
    for theirs, ours in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-10)


QUANTILE_DATA = np.random.default_rng(3).standard_normal((3, 5))
QUANTILES: dict[str, Callable] = {
    "scalar_q": lambda L, x: L.quantile(x * x, 0.3),
    "q_vector_dim": lambda L, x: L.quantile(x ** 3, L.tensor([0.1, 0.5, 0.9], dtype=x.dtype), dim=1),
    "keepdim": lambda L, x: L.quantile(x * x, 0.75, dim=0, keepdim=True),
    "lower": lambda L, x: L.quantile(x * x, 0.4, dim=1, interpolation="lower"),
    "midpoint": lambda L, x: L.quantile(x * x, 0.4, dim=1, interpolation="midpoint"),
    "nanquantile": lambda L, x: L.nanquantile(L.where(x > 1.5, float("nan"), x) ** 2, 0.6, dim=1),
}


@pytest.mark.parametrize("name", list(QUANTILES))
def test_quantile_second_derivatives_match_torch(name: str, torch: Any) -> None:
    results = []
    for lib in (torch, mg):
        x = lib.tensor(QUANTILE_DATA, requires_grad=True)
        y = QUANTILES[name](lib, x)
        weights = lib.tensor(np.linspace(0.5, 1.5, int(np.prod(y.shape))).reshape(tuple(y.shape)))
        (g,) = lib.autograd.grad((y * weights).sum(), [x], create_graph=True)
        (h,) = lib.autograd.grad((g * g).sum(), [x])
        results.append((g.detach().numpy(), h.numpy()))
    for theirs, ours in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
