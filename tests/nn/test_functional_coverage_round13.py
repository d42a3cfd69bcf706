"""nn.functional against torch.nn.functional: values AND input gradients, float64 (1e-10) and float32 (1e-5), for
the functions the round-13 coverage audit found compared with torch forward-only, in one option set, or not at all
(pools with indices, unpools, lp/fractional pools, channel shuffles, in-place activations, the margin/ranking losses
with every reduction, norms with their non-default arguments, grid ops).

One table: each row names the function, builds its arguments from a seeded generator and gives keyword arguments.
The cotangent of every floating output is a fixed random array, so a wrong gradient anywhere shows up."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")
F, TF = nn.functional, torch.nn.functional


class G:
    """A floating input that requires grad (gradient compared)."""

    def __init__(self, a: np.ndarray) -> None:
        self.a = np.asarray(a, dtype=np.float64)


class C(G):
    """A floating input without grad (cast to the run's dtype)."""


class I:  # noqa: E742 - short table marker
    """An integer or boolean input, passed as is."""

    def __init__(self, a: Any) -> None:
        self.a = np.asarray(a)


class L:
    """A library-specific value: ``fn(F)`` with F the library's functional module."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn


def _n(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda r: r.standard_normal(shape)


def _u(lo: float, hi: float, *shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda r: r.uniform(lo, hi, shape)


def _row(name: str, builder: Callable[[np.random.Generator], list], inplace: bool = False, rid: str = "",
         rtol64: float = 1e-10, grads: bool = True, **kw: Any) -> Any:
    """``rtol64``: torch's float64 backward of a few activations computes with a float32 constant (hardsigmoid's
    1/6, celu's 1/α), 3e-8 off the exact value ours gives; ``grads=False``: torch has no backward to compare."""
    return pytest.param(name, builder, inplace, kw, rtol64, grads, id=f"{name}-{rid}" if rid else name)


def _nonneg_x(r: np.random.Generator, *shape: int) -> np.ndarray:
    # away from ties and kinks so finite arithmetic in both libraries picks the same branch
    x = r.permutation(int(np.prod(shape))).reshape(shape).astype(np.float64)
    return x / x.size + 0.1 * r.random(shape) / x.size


def _ties_free(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda r: _nonneg_x(r, *shape) - 0.5


def _pool_indices(dims: int, shape: tuple, k: int) -> Callable[[np.random.Generator], list]:
    def build(r: np.random.Generator) -> list:
        x = _nonneg_x(r, *shape)
        pool = getattr(TF, f"max_pool{dims}d")
        out, idx = pool(torch.from_numpy(x), k, return_indices=True)
        return [G(out.numpy()), I(idx.numpy()), k]
    return build


def _mlm_target(r: np.random.Generator) -> np.ndarray:
    t = np.full((3, 5), -1, dtype=np.int64)
    t[0, :2] = [1, 3]
    t[1, :4] = [0, 4, 2, 1]
    t[2, 0] = 2          # row 2: one label then -1 ends the list
    return t


REDUCTIONS = ("mean", "sum", "none")
_K = np.random.default_rng(3)   # keyword-argument arrays (weights, random samples): fixed at import
ROWS = [
    # activations, incl. the in-place spellings (applied to a non-leaf copy)
    _row("glu", lambda r: [G(r.standard_normal((3, 4, 2)))], dim=1),
    _row("glu", lambda r: [G(r.standard_normal((2, 6)))], rid="lastdim"),
    _row("softmin", lambda r: [G(r.standard_normal((3, 4)))], dim=0),
    _row("hardswish", lambda r: [G(r.uniform(-4, 4, (20,)))]),
    _row("hardsigmoid", lambda r: [G(r.uniform(-4, 4, (20,)))], rtol64=1e-7),
    _row("mish", lambda r: [G(r.uniform(-4, 4, (20,)))]),
    _row("softshrink", lambda r: [G(r.uniform(-2, 2, (20,)))], lambd=0.3),
    _row("hardshrink", lambda r: [G(r.uniform(-2, 2, (20,)))], lambd=0.3),
    _row("tanhshrink", lambda r: [G(r.standard_normal((5,)))]),
    _row("softsign", lambda r: [G(r.standard_normal((5,)))]),
    _row("logsigmoid", lambda r: [G(r.uniform(-30, 30, (9,)))]),
    _row("prelu", lambda r: [G(r.standard_normal((2, 3, 4))), G(r.random(3))], rid="perchannel"),
    _row("prelu", lambda r: [G(r.standard_normal((2, 3))), G(r.random(1))], rid="shared"),
    _row("rrelu", lambda r: [G(r.standard_normal((9,)))], lower=0.1, upper=0.3, training=False),
    _row("rrelu_", lambda r: [G(r.standard_normal((9,)))], inplace=True, lower=0.2, upper=0.4),
    _row("relu6", lambda r: [G(r.uniform(-3, 9, (20,)))]),
    _row("threshold", lambda r: [G(r.uniform(-1, 1, (20,)))], threshold=0.1, value=2.0),
    _row("threshold_", lambda r: [G(r.uniform(-1, 1, (20,)))], inplace=True, threshold=-0.2, value=-3.0),
    _row("selu_", lambda r: [G(r.standard_normal((9,)))], inplace=True),
    _row("celu_", lambda r: [G(r.standard_normal((9,)))], inplace=True, alpha=0.7, rtol64=1e-7),
    _row("elu_", lambda r: [G(r.standard_normal((9,)))], inplace=True, alpha=1.3),
    _row("hardtanh_", lambda r: [G(r.uniform(-2, 2, (20,)))], inplace=True, min_val=-0.5, max_val=0.8),
    _row("leaky_relu_", lambda r: [G(r.standard_normal((9,)))], inplace=True, negative_slope=0.2),
    _row("relu_", lambda r: [G(r.standard_normal((9,)))], inplace=True),
    # pools
    _row("adaptive_avg_pool3d", lambda r: [G(r.standard_normal((2, 2, 5, 4, 3)))], output_size=(2, 3, 2)),
    _row("adaptive_max_pool1d_with_indices", lambda r: [G(_ties_free(2, 3, 7)(r))], output_size=3),
    _row("adaptive_max_pool2d_with_indices", lambda r: [G(_ties_free(2, 5, 7)(r))], output_size=(2, 3)),
    _row("adaptive_max_pool3d_with_indices", lambda r: [G(_ties_free(1, 2, 5, 4, 3)(r))], output_size=(2, 3, 2)),
    _row("adaptive_max_pool3d", lambda r: [G(_ties_free(2, 4, 5, 3)(r))], output_size=(3, None, 2)),
    _row("max_pool1d_with_indices", lambda r: [G(_ties_free(2, 3, 9)(r)), 3], stride=2, padding=1, dilation=2),
    _row("max_pool2d_with_indices", lambda r: [G(_ties_free(2, 2, 7, 6)(r)), (3, 2)], stride=2, ceil_mode=True),
    _row("max_pool3d_with_indices", lambda r: [G(_ties_free(1, 2, 5, 6, 4)(r)), 2], stride=(1, 2, 2), padding=1),
    _row("avg_pool3d", lambda r: [G(r.standard_normal((1, 2, 5, 6, 4))), 3], stride=2, padding=1, ceil_mode=True,
         count_include_pad=False),
    _row("avg_pool3d", lambda r: [G(r.standard_normal((2, 5, 6, 4))), 2], stride=1, divisor_override=3,
         rid="divisor"),
    _row("lp_pool1d", lambda r: [G(r.uniform(0.2, 2, (2, 3, 9))), 2, 3], stride=2, ceil_mode=True),
    _row("lp_pool2d", lambda r: [G(r.uniform(0.2, 2, (2, 3, 6, 5))), 1.5, (2, 3)]),
    _row("lp_pool3d", lambda r: [G(r.uniform(0.2, 2, (1, 2, 4, 4, 4))), 3, 2], stride=2),
    _row("max_unpool1d", _pool_indices(1, (2, 3, 8), 2), output_size=[9]),
    _row("max_unpool2d", _pool_indices(2, (2, 2, 6, 4), 2)),
    _row("max_unpool3d", _pool_indices(3, (1, 2, 4, 4, 6), 2), stride=2),
    _row("fractional_max_pool2d", lambda r: [G(_ties_free(2, 3, 9, 8)(r)), 2],
         output_size=(5, 4), _random_samples=C(_K.random((2, 3, 2)))),
    _row("fractional_max_pool2d_with_indices", lambda r: [G(_ties_free(1, 2, 9, 8)(r)), (3, 2)],
         output_ratio=(0.5, 0.5), _random_samples=C(_K.random((1, 2, 2)))),
    _row("fractional_max_pool3d", lambda r: [G(_ties_free(1, 2, 7, 6, 8)(r)), 2],
         output_size=(3, 3, 4), _random_samples=C(_K.random((1, 2, 3)))),
    _row("fractional_max_pool3d_with_indices", lambda r: [G(_ties_free(2, 7, 6, 8)(r)), 2],
         output_ratio=(0.5, 0.5, 0.5), _random_samples=C(_K.random((1, 2, 3)))),
    # shuffles, resampling, convolutions
    _row("channel_shuffle", lambda r: [G(r.standard_normal((2, 6, 3))), 3]),
    _row("native_channel_shuffle", lambda r: [G(r.standard_normal((2, 6, 2, 2))), 2], grads=False),
    _row("pixel_unshuffle", lambda r: [G(r.standard_normal((2, 3, 4, 6))), 2]),
    _row("pixel_shuffle", lambda r: [G(r.standard_normal((2, 8, 3, 2))), 2]),
    _row("upsample", lambda r: [G(r.standard_normal((1, 2, 3, 4)))], scale_factor=2, mode="bilinear",
         align_corners=True),
    _row("upsample_bilinear", lambda r: [G(r.standard_normal((1, 2, 3, 4)))], size=(5, 7)),
    _row("upsample_nearest", lambda r: [G(r.standard_normal((1, 2, 3, 4)))], scale_factor=3),
    _row("local_response_norm", lambda r: [G(r.standard_normal((2, 5, 4))), 3], alpha=0.1, beta=0.6, k=1.5),
    _row("local_response_norm", lambda r: [G(r.standard_normal((2, 6, 3, 2, 2))), 2], rid="3d"),
    _row("conv3d", lambda r: [G(r.standard_normal((2, 4, 5, 4, 5))), G(r.standard_normal((6, 2, 2, 3, 2))),
                              G(r.standard_normal(6))], stride=(1, 2, 1), padding=1, dilation=(2, 1, 1), groups=2),
    _row("conv_transpose1d", lambda r: [G(r.standard_normal((2, 4, 5))), G(r.standard_normal((4, 3, 3))),
                                        G(r.standard_normal(6))], stride=2, padding=1, output_padding=1, groups=2),
    _row("conv_transpose3d", lambda r: [G(r.standard_normal((1, 2, 3, 4, 3))), G(r.standard_normal((2, 3, 2, 2, 3))),
                                        None], stride=(2, 1, 2), padding=(0, 1, 1), output_padding=(1, 0, 0),
         dilation=(1, 2, 1)),
    _row("conv_tbc", lambda r: [G(r.standard_normal((6, 2, 3))), G(r.standard_normal((3, 3, 4))),
                                G(r.standard_normal(4))], pad=1),
    _row("affine_grid", lambda r: [G(r.standard_normal((2, 2, 3))), [2, 1, 3, 4]], align_corners=False),
    _row("affine_grid", lambda r: [G(r.standard_normal((1, 3, 4))), [1, 1, 2, 3, 2]], align_corners=True,
         rid="3d"),
    _row("grid_sample", lambda r: [G(r.standard_normal((2, 2, 4, 5))), G(r.uniform(-1.1, 1.1, (2, 3, 2, 2)))],
         mode="bilinear", padding_mode="border", align_corners=False),
    _row("grid_sample", lambda r: [G(r.standard_normal((1, 2, 4, 5))), G(r.uniform(-1.1, 1.1, (1, 3, 2, 2)))],
         mode="bilinear", padding_mode="reflection", align_corners=True, rid="reflection"),
    _row("fold", lambda r: [G(r.standard_normal((2, 3 * 4, 6))), (3, 4)], kernel_size=2, stride=(1, 2), padding=(0, 1)),
    _row("embedding_bag", lambda r: [I([1, 3, 0, 3, 2, 4]), G(r.standard_normal((5, 3))), I([0, 2, 2])],
         mode="sum", per_sample_weights=G(_K.random(6))),
    _row("embedding_bag", lambda r: [I([1, 3, 0, 3, 2, 4]), G(r.standard_normal((5, 3))), I([0, 1, 4, 6])],
         mode="mean", include_last_offset=True, padding_idx=3, rid="mean"),
    _row("embedding_bag", lambda r: [I([[1, 3, 0], [4, 2, 2]]), G(_ties_free(5, 3)(r))], mode="max", rid="max"),
    _row("interpolate", lambda r: [G(r.standard_normal((1, 2, 4, 5)))], size=(6, 3), mode="bicubic",
         align_corners=False, rid="bicubic"),
    _row("interpolate", lambda r: [G(r.standard_normal((1, 1, 3, 4, 2)))], scale_factor=(2, 1.5, 2),
         mode="trilinear", rid="trilinear"),
    _row("interpolate", lambda r: [G(r.standard_normal((2, 2, 7, 5)))], size=(3, 2), mode="area", rid="area"),
    _row("interpolate", lambda r: [G(r.standard_normal((1, 2, 5)))], size=7, mode="nearest-exact", rid="exact"),
    _row("unfold", lambda r: [G(r.standard_normal((2, 2, 5, 6))), (2, 3)], dilation=(2, 1), padding=1, stride=2),
    _row("scaled_dot_product_attention", lambda r: [G(r.standard_normal((2, 3, 4))), G(r.standard_normal((2, 5, 4))),
                                                    G(r.standard_normal((2, 5, 2))), I(r.random((3, 5)) > 0.3)],
         scale=0.4, rid="boolmask"),
    _row("scaled_dot_product_attention", lambda r: [G(r.standard_normal((1, 4, 3, 2))),
                                                    G(r.standard_normal((1, 2, 3, 2))),
                                                    G(r.standard_normal((1, 2, 3, 3)))],
         is_causal=True, enable_gqa=True, rid="causal-gqa"),
    _row("scaled_dot_product_attention", lambda r: [G(r.standard_normal((2, 3, 4))), G(r.standard_normal((2, 3, 4))),
                                                    G(r.standard_normal((2, 3, 4))), G(r.standard_normal((3, 3)))],
         rid="floatmask"),
    # normalisation
    _row("group_norm", lambda r: [G(r.standard_normal((2, 6, 3))), 3, G(r.standard_normal(6)),
                                  G(r.standard_normal(6))], eps=1e-3),
    _row("instance_norm", lambda r: [G(r.standard_normal((2, 3, 5))), C(r.standard_normal(3)), C(r.random(3) + 0.5),
                                     G(r.standard_normal(3)), G(r.standard_normal(3))], use_input_stats=False),
    _row("instance_norm", lambda r: [G(r.standard_normal((2, 3, 4, 2)))], eps=1e-2, rid="stats"),
    _row("batch_norm", lambda r: [G(r.standard_normal((4, 3, 2))), C(r.standard_normal(3)), C(r.random(3) + 0.5),
                                  G(r.standard_normal(3)), G(r.standard_normal(3))], training=False),
    _row("batch_norm", lambda r: [G(r.standard_normal((4, 3))), None, None, None, G(r.standard_normal(3))],
         training=True, eps=1e-3, rid="train"),
    _row("rms_norm", lambda r: [G(r.standard_normal((2, 3, 4))), [3, 4], G(r.standard_normal((3, 4)))], eps=1e-4),
    _row("rms_norm", lambda r: [G(r.standard_normal((2, 5))), (5,)], rid="noweight"),
    _row("layer_norm", lambda r: [G(r.standard_normal((2, 3, 4))), [3, 4], None, G(r.standard_normal((3, 4)))],
         eps=1e-3),
    # distances
    _row("pdist", lambda r: [G(r.standard_normal((5, 3)))], p=1.5),
    _row("pairwise_distance", lambda r: [G(r.standard_normal((4, 3))), G(r.standard_normal((3,)))], p=3.0,
         eps=1e-3, keepdim=True),
    _row("cosine_similarity", lambda r: [G(r.standard_normal((4, 1, 3))), G(r.standard_normal((2, 3)))], dim=-1),
    _row("normalize", lambda r: [G(r.standard_normal((3, 4)))], p=1.0, dim=0),
    _row("bilinear", lambda r: [G(r.standard_normal((4, 3))), G(r.standard_normal((4, 2))),
                                G(r.standard_normal((5, 3, 2))), G(r.standard_normal(5))]),
]

# losses: every reduction
for red in REDUCTIONS:
    ROWS += [
        _row("multilabel_soft_margin_loss", lambda r: [G(r.standard_normal((3, 4))), C(r.integers(0, 2, (3, 4)))],
             rid=red, reduction=red, weight=C(np.array([0.5, 1.0, 2.0, 0.3]))),
        _row("triplet_margin_with_distance_loss", lambda r: [G(r.standard_normal((4, 3))) for _ in range(3)],
             rid=red, reduction=red, margin=0.5, swap=True),
        _row("triplet_margin_with_distance_loss", lambda r: [G(r.standard_normal((4, 3))) for _ in range(3)],
             rid=f"{red}-cos", reduction=red,
             distance_function=L(lambda f: lambda a, b: 1 - f.cosine_similarity(a, b))),
        _row("triplet_margin_loss", lambda r: [G(r.standard_normal((4, 3))) for _ in range(3)],
             rid=red, reduction=red, margin=0.7, p=1.0, swap=True),
        _row("gaussian_nll_loss", lambda r: [G(r.standard_normal((4, 3))), C(r.standard_normal((4, 3))),
                                             G(r.random((4, 1)) + 0.1)], rid=red, reduction=red, full=True),
        _row("gaussian_nll_loss", lambda r: [G(r.standard_normal((4, 3))), C(r.standard_normal((4, 3))),
                                             G(r.random((4, 3)) * 1e-3)], rid=f"{red}-eps", reduction=red, eps=1e-3),
        _row("multi_margin_loss", lambda r: [G(r.standard_normal((4, 5))), I([0, 4, 2, 2])], rid=red, reduction=red,
             p=2, margin=0.8, weight=C(_K.random(5))),
        _row("multi_margin_loss", lambda r: [G(r.standard_normal((4, 5))), I([1, 3, 2, 0])], rid=f"{red}-p1",
             reduction=red),
        _row("multilabel_margin_loss", lambda r: [G(r.standard_normal((3, 5))), I(_mlm_target(r))], rid=red,
             reduction=red),
        _row("soft_margin_loss", lambda r: [G(r.standard_normal((3, 4))), C(np.sign(r.standard_normal((3, 4))))],
             rid=red, reduction=red),
        _row("poisson_nll_loss", lambda r: [G(r.standard_normal((3, 4))), C(r.poisson(2.0, (3, 4)))], rid=red,
             reduction=red, full=True),
        _row("poisson_nll_loss", lambda r: [G(r.random((3, 4)) + 0.1), C(r.poisson(2.0, (3, 4)))],
             rid=f"{red}-rate", reduction=red, log_input=False, eps=1e-4),
        _row("hinge_embedding_loss", lambda r: [G(r.standard_normal((3, 4))), C(np.sign(r.standard_normal((3, 4))))],
             rid=red, reduction=red, margin=0.6),
        _row("margin_ranking_loss", lambda r: [G(r.standard_normal(6)), G(r.standard_normal(6)),
                                               C(np.sign(r.standard_normal(6)))], rid=red, reduction=red, margin=0.2),
        _row("cosine_embedding_loss", lambda r: [G(r.standard_normal((5, 3))), G(r.standard_normal((5, 3))),
                                                 I([1, -1, 1, -1, -1])], rid=red, reduction=red, margin=0.1),
        _row("huber_loss", lambda r: [G(r.standard_normal((3, 4)) * 2), C(r.standard_normal((3, 4)))], rid=red,
             reduction=red, delta=0.7),
        _row("smooth_l1_loss", lambda r: [G(r.standard_normal((3, 4)) * 2), C(r.standard_normal((3, 4)))], rid=red,
             reduction=red, beta=0.6),
        _row("kl_div", lambda r: [G(r.standard_normal((3, 4))), G(r.standard_normal((3, 4)))], rid=red,
             reduction=red, log_target=True),
        _row("kl_div", lambda r: [G(r.standard_normal((3, 4))), G(r.random((3, 4)))], rid=f"{red}-prob",
             reduction=red),
        _row("binary_cross_entropy", lambda r: [G(r.uniform(0.05, 0.95, (3, 4))), G(r.random((3, 4)))], rid=red,
             reduction=red, weight=C(_K.random(4))),
        _row("l1_loss", lambda r: [G(r.standard_normal((3, 4))), G(r.standard_normal((3, 4)))], rid=red,
             reduction=red),
        _row("linear_cross_entropy", lambda r: [G(r.standard_normal((4, 3))), G(r.standard_normal((5, 3))),
                                                I([0, 4, -100, 2])], rid=red, reduction=red,
             linear_bias=G(_K.standard_normal(5)), label_smoothing=0.1),
    ]
ROWS.append(_row("kl_div", lambda r: [G(r.standard_normal((3, 4))), G(r.random((3, 4)))], rid="batchmean",
                 reduction="batchmean"))
ROWS.append(_row("linear_cross_entropy", lambda r: [G(r.standard_normal((4, 3))), G(r.standard_normal((5, 3))),
                                                    I([0, 4, 1, 2])], rid="weight", weight=C(np.arange(1., 6.)),
                 ignore_index=1))


def _convert(value: Any, lib: str, dtype: str, leaves: list) -> Any:
    if isinstance(value, G):
        a = value.a.astype(dtype)
        grad = type(value) is G
        t = mg.tensor(a, requires_grad=grad) if lib == "mg" else torch.tensor(a, requires_grad=grad)
        if grad:
            leaves.append(t)
        return t
    if isinstance(value, I):
        return mg.tensor(value.a) if lib == "mg" else torch.from_numpy(value.a.copy())
    if isinstance(value, L):
        return value.fn(F if lib == "mg" else TF)
    return value


def _run(name: str, builder: Callable, inplace: bool, kw: dict, lib: str, dtype: str,
         grads: bool) -> tuple[list, list]:
    built = builder(np.random.default_rng(7))
    leaves: list = []
    args = [_convert(a, lib, dtype, leaves) for a in built]
    kwargs = {k: _convert(v, lib, dtype, leaves) for k, v in kw.items()}
    if inplace:
        args[0] = args[0] * 1
    fn = getattr(F, name) if lib == "mg" else getattr(TF, name)
    out = fn(*args, **kwargs)
    outs = list(out) if isinstance(out, tuple) else [out]
    arrays = [o.detach().numpy() if lib == "torch" else o.numpy() for o in outs]
    floats = [o for o in outs if np.issubdtype(np.dtype(str(o.dtype).replace("torch.", "")), np.floating)]
    crng = np.random.default_rng(11)
    total = None
    for o in floats:
        cot = crng.standard_normal(tuple(o.shape)).astype(dtype)
        term = (o * (mg.tensor(cot) if lib == "mg" else torch.from_numpy(cot))).sum()
        total = term if total is None else total + term
    if not grads:
        return arrays, []
    total.backward()
    return arrays, [leaf.grad.numpy() if leaf.grad is not None else None for leaf in leaves]


@pytest.mark.filterwarnings("ignore:.*deprecated:UserWarning", "ignore:.*reduction:UserWarning")
@pytest.mark.parametrize(("name", "builder", "inplace", "kw", "rtol64", "grads"), ROWS)
def test_functional_values_and_input_grads_as_torch(name: str, builder: Callable, inplace: bool, kw: dict,
                                                    rtol64: float, grads: bool) -> None:
    for dtype, rtol, atol in (("float64", rtol64, rtol64 / 100), ("float32", 1e-5, 1e-6)):
        ours, our_grads = _run(name, builder, inplace, kw, "mg", dtype, grads)
        theirs, their_grads = _run(name, builder, inplace, kw, "torch", dtype, grads)
        assert len(ours) == len(theirs), f"F.{name}: {len(ours)} outputs, torch {len(theirs)}"
        for k, (a, b) in enumerate(zip(ours, theirs)):
            assert a.shape == b.shape, f"F.{name} output {k}: shape {a.shape}, torch {b.shape}"
            assert a.dtype == b.dtype, f"F.{name} output {k}: dtype {a.dtype}, torch {b.dtype}"
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"F.{name} {dtype} output {k}")
        assert len(our_grads) == len(their_grads)
        assert not grads or any(g is not None for g in their_grads), f"F.{name}: no input gradient to compare"
        for k, (a, b) in enumerate(zip(our_grads, their_grads)):
            if b is None:
                assert a is None or not np.any(a), f"F.{name} {dtype}: grad of input {k} where torch has none"
                continue
            assert a is not None, f"F.{name} {dtype}: no grad for input {k}"
            np.testing.assert_allclose(a, b, rtol=rtol, atol=10 * atol, err_msg=f"F.{name} {dtype} grad {k}")
