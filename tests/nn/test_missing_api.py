"""The torch API that minigrad lacked and now has, against torch 2.13: F.interpolate and nn.Upsample, transposed
and 3-D convolution, fold/unfold, 3-D/adaptive/Lp pooling and unpooling, local response norm, 2-D/3-D batch and
instance norm, the 2-D/3-D padding layers, embedding bags, the pixel/channel shuffles, grid_sample/affine_grid.

Functions: each case ``fn(lib, *tensors)`` in PyTorch's spelling runs with ``lib = minigrad`` and ``lib = torch`` on
the same float64 values; values, dtypes and input gradients agree and every differentiable case passes
``mg.gradcheck`` (tests/helpers.py). Modules: torch's weights loaded, forward and gradients agree, reprs match.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import numpy as np
import pytest
from helpers import assert_close, case_tests, gpu_case_tests, to_torch

import minigrad as mg
import nn
from nn import functional as F

pytestmark = [pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel"),   # torch's, about its copy
              pytest.mark.filterwarnings("ignore:index_reduce\\(\\) is in beta")]

RNG = np.random.default_rng(11)


def _normal(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)


def _positive(*shape: int) -> np.ndarray:
    return RNG.uniform(0.5, 2.0, shape)


X3, X4, X5 = _normal(2, 3, 5), _normal(2, 3, 4, 5), _normal(1, 2, 3, 4, 3)
X34 = _normal(3, 4)
XS = _normal(2, 2, 3, 4)   # a small image: grid_sample's gradcheck perturbs every input and grid entry
P3, P4, P5 = _positive(2, 3, 9), _positive(2, 3, 5, 7), _positive(1, 2, 4, 5, 3)
CHANNELS = _normal(2, 8, 3, 2)
TABLE = _normal(7, 3)
BAG_INDEX, BAG_OFFSETS = np.array([1, 2, 4, 5, 4, 3, 0, 2, 5, 6]), np.array([0, 2, 2, 7])


def _resize(**options: Any) -> Callable:
    return lambda t, x: t.nn.functional.interpolate(x, **options)


def _unpool_case(dims: int, kernel: int, stride: int | None, padding: int, side: int = 6, **options: Any) -> tuple:
    """max_unpoolNd of the values and indices max_poolNd chose (minigrad's, equal to torch's: tests/nn/test_conv.py)."""
    x = mg.tensor(_normal(2, 2, *(side,) * dims))
    values, indices = getattr(F, f"max_pool{dims}d")(x, kernel, stride, padding, return_indices=True)
    return (lambda t, v, i: getattr(t.nn.functional, f"max_unpool{dims}d")(v, i, kernel, stride, padding, **options),
            (values.numpy(), indices.numpy()))


CASES: dict[str, tuple[Callable, tuple]] = {
    # interpolate: every mode, sizes and scale factors, align_corners, recompute_scale_factor
    "nearest_1d_size": (_resize(size=8), (X3,)),
    "nearest_1d_scale": (_resize(scale_factor=1.5), (X3,)),
    "nearest_1d_scale_keeps_size": (_resize(scale_factor=1.1), (X3,)),        # no copy shortcut in 1-D
    "nearest_2d_scale": (_resize(scale_factor=(2, 3)), (X4,)),
    "nearest_2d_size_down": (_resize(size=(3, 2)), (X4,)),
    "nearest_2d_scale_keeps_size": (_resize(scale_factor=1.1), (X4,)),        # the 2-D kernel copies
    "nearest_3d_scale": (_resize(scale_factor=1.5), (X5,)),
    "nearest_exact_2d": (_resize(scale_factor=0.6, mode="nearest-exact"), (X4,)),
    "nearest_exact_3d": (_resize(size=(2, 5, 4), mode="nearest-exact"), (X5,)),
    "linear": (_resize(size=9, mode="linear"), (X3,)),
    "linear_align_corners": (_resize(size=9, mode="linear", align_corners=True), (X3,)),
    "linear_scale_down": (_resize(scale_factor=0.7, mode="linear"), (X3,)),
    "linear_recompute": (_resize(scale_factor=1.7, mode="linear", recompute_scale_factor=True), (X3,)),
    "bilinear": (_resize(scale_factor=2, mode="bilinear"), (X4,)),
    "bilinear_align_corners": (_resize(size=(7, 3), mode="bilinear", align_corners=True), (X4,)),
    "bilinear_two_scales": (_resize(scale_factor=(0.5, 1.7), mode="bilinear"), (X4,)),
    "bicubic": (_resize(scale_factor=2, mode="bicubic"), (X4,)),
    "bicubic_align_corners": (_resize(size=(6, 3), mode="bicubic", align_corners=True), (X4,)),
    "bicubic_down": (_resize(scale_factor=0.7, mode="bicubic"), (X4,)),
    "trilinear": (_resize(scale_factor=1.5, mode="trilinear"), (X5,)),
    "trilinear_align_corners": (_resize(size=(2, 6, 5), mode="trilinear", align_corners=True), (X5,)),
    "area_1d": (_resize(size=3, mode="area"), (X3,)),
    "area_2d": (_resize(scale_factor=0.5, mode="area"), (X4,)),
    "area_3d": (_resize(size=(2, 3, 2), mode="area"), (X5,)),
    # transposed and 3-D convolution
    "conv_transpose1d": (lambda t, x, w, b: t.nn.functional.conv_transpose1d(x, w, b, stride=2, padding=1,
                                                                              output_padding=1), (X3, _normal(3, 2, 3),
                                                                                                  _normal(2))),
    "conv_transpose1d_groups_dilation": (lambda t, x, w: t.nn.functional.conv_transpose1d(
        x, w, groups=3, dilation=2, stride=3, output_padding=2), (_normal(2, 6, 4), _normal(6, 1, 2))),
    "conv_transpose2d": (lambda t, x, w, b: t.nn.functional.conv_transpose2d(x, w, b, stride=(2, 1), padding=(1, 0),
                                                                              output_padding=(1, 0)),
                         (X4, _normal(3, 4, 3, 2), _normal(4))),
    "conv_transpose2d_unbatched": (lambda t, x, w: t.nn.functional.conv_transpose2d(x, w, padding=1),
                                   (X4[0], _normal(3, 2, 3, 3))),
    "conv_transpose3d": (lambda t, x, w, b: t.nn.functional.conv_transpose3d(x, w, b, stride=2, padding=1),
                         (X5, _normal(2, 2, 2, 3, 2), _normal(2))),
    "conv3d": (lambda t, x, w, b: t.nn.functional.conv3d(x, w, b, padding=1, stride=(1, 2, 1)),
               (X5, _normal(3, 2, 2, 3, 2), _normal(3))),
    "conv3d_same_groups": (lambda t, x, w: t.nn.functional.conv3d(x, w, padding="same", groups=2),
                           (X5, _normal(4, 1, 3, 1, 2))),
    # sliding blocks
    "unfold": (lambda t, x: t.nn.functional.unfold(x, (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)), (X4,)),
    "unfold_unbatched": (lambda t, x: t.nn.functional.unfold(x, 2), (X4[0],)),
    "fold": (lambda t, x: t.nn.functional.fold(x, (4, 5), (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
             (_normal(2, 18, 9),)),
    "fold_overlapping": (lambda t, x: t.nn.functional.fold(x, (3, 4), 2), (_normal(12, 6),)),
    # pooling
    "max_pool3d": (lambda t, x: t.nn.functional.max_pool3d(x, 2, stride=1, padding=1, return_indices=True), (X5,)),
    "max_pool3d_ceil_dilation": (lambda t, x: t.nn.functional.max_pool3d(x, (2, 2, 1), (2, 1, 2), dilation=(1, 2, 1),
                                                                          ceil_mode=True), (X5,)),
    "avg_pool3d": (lambda t, x: t.nn.functional.avg_pool3d(x, 2, 1, 1, count_include_pad=False), (X5,)),
    "avg_pool3d_divisor": (lambda t, x: t.nn.functional.avg_pool3d(x, (2, 3, 2), divisor_override=5), (P5,)),
    "max_pool1d_with_indices": (lambda t, x: t.nn.functional.max_pool1d_with_indices(x, 3, 2, 1), (X3,)),
    "max_pool2d_with_indices": (lambda t, x: t.nn.functional.max_pool2d_with_indices(x, 2), (X4,)),
    "max_pool3d_with_indices": (lambda t, x: t.nn.functional.max_pool3d_with_indices(x, 2, 1), (X5,)),
    "adaptive_avg_pool3d": (lambda t, x: t.nn.functional.adaptive_avg_pool3d(x, (2, None, 2)), (X5,)),
    "adaptive_avg_pool3d_up": (lambda t, x: t.nn.functional.adaptive_avg_pool3d(x, 4), (X5[0],)),
    "adaptive_max_pool3d": (lambda t, x: t.nn.functional.adaptive_max_pool3d(x, (2, 3, 2), True), (X5,)),
    "adaptive_max_pool3d_with_indices": (lambda t, x: t.nn.functional.adaptive_max_pool3d_with_indices(x, 2), (X5,)),
    "adaptive_max_pool1d_with_indices": (lambda t, x: t.nn.functional.adaptive_max_pool1d_with_indices(x, 3), (X3,)),
    "adaptive_max_pool2d_with_indices": (lambda t, x: t.nn.functional.adaptive_max_pool2d_with_indices(x, (3, 2)),
                                         (X4,)),
    "lp_pool1d": (lambda t, x: t.nn.functional.lp_pool1d(x, 2, 3, 2), (P3,)),
    "lp_pool2d": (lambda t, x: t.nn.functional.lp_pool2d(x, 3.5, (2, 3), ceil_mode=True), (P4,)),
    "lp_pool3d": (lambda t, x: t.nn.functional.lp_pool3d(x, 1.5, 2), (P5,)),
    "lp_pool2d_inf": (lambda t, x: t.nn.functional.lp_pool2d(x, math.inf, 2), (X4,)),
    "local_response_norm_3d": (lambda t, x: t.nn.functional.local_response_norm(x, 3, 0.1, 0.6, 1.5), (CHANNELS[0],)),
    "local_response_norm_4d": (lambda t, x: t.nn.functional.local_response_norm(x, 4, k=2.0), (CHANNELS,)),
    # rearrangements
    "pixel_shuffle": (lambda t, x: [t.pixel_shuffle(x, 2), t.nn.functional.pixel_shuffle(x[0], 2)], (CHANNELS,)),
    "pixel_unshuffle": (lambda t, x: t.nn.functional.pixel_unshuffle(x, 2), (_normal(2, 3, 4, 6),)),
    "pixel_shuffle_batch_dims": (lambda t, x: t.pixel_shuffle(x.reshape(2, 1, 8, 3, 2), 2), (CHANNELS,)),
    "channel_shuffle": (lambda t, x: [t.channel_shuffle(x, 4), t.nn.functional.channel_shuffle(x, 2)], (CHANNELS,)),
    # embedding bags (integer inputs: no gradient; weights and per-sample weights: gradients)
    "embedding_bag_mean": (lambda t, w, i, o: t.nn.functional.embedding_bag(i, w, o), (TABLE, BAG_INDEX, BAG_OFFSETS)),
    "embedding_bag_sum_weighted": (lambda t, w, i, o, p: t.nn.functional.embedding_bag(
        i, w, o, mode="sum", per_sample_weights=p, padding_idx=4), (TABLE, BAG_INDEX, BAG_OFFSETS, _normal(10))),
    "embedding_bag_max": (lambda t, w, i, o: t.nn.functional.embedding_bag(i, w, o, mode="max", padding_idx=2),
                          (TABLE, BAG_INDEX, BAG_OFFSETS)),
    "embedding_bag_2d": (lambda t, w, i: t.nn.functional.embedding_bag(i, w, mode="mean", padding_idx=5),
                         (TABLE, BAG_INDEX.reshape(2, 5))),
    "embedding_bag_last_offset": (lambda t, w, i: t.nn.functional.embedding_bag(
        i, w, t.tensor([0, 3, 10]), mode="max", include_last_offset=True), (TABLE, BAG_INDEX)),
    # spatial transformers (align_corners given: None warns, as torch)
    "affine_grid_2d": (lambda t, th: t.nn.functional.affine_grid(th, (2, 3, 4, 5), align_corners=False),
                       (_normal(2, 2, 3),)),
    "affine_grid_3d": (lambda t, th: t.nn.functional.affine_grid(th, [2, 1, 3, 2, 4], align_corners=True),
                       (_normal(2, 3, 4),)),
    "grid_sample_bilinear": (lambda t, x, g: t.nn.functional.grid_sample(x, g, align_corners=False),
                             (XS, RNG.uniform(-1.3, 1.3, (2, 2, 3, 2)))),
    "grid_sample_bilinear_border": (lambda t, x, g: t.nn.functional.grid_sample(x, g, padding_mode="border",
                                                                                align_corners=True),
                                    (XS, RNG.uniform(-1.3, 1.3, (2, 2, 3, 2)))),
    "grid_sample_reflection": (lambda t, x, g: t.nn.functional.grid_sample(x, g, padding_mode="reflection",
                                                                           align_corners=False),
                               (XS, RNG.uniform(-2.5, 2.5, (2, 2, 3, 2)))),
    "grid_sample_reflection_align": (lambda t, x, g: t.nn.functional.grid_sample(x, g, padding_mode="reflection",
                                                                                 align_corners=True),
                                     (XS, RNG.uniform(-2.5, 2.5, (2, 2, 3, 2)))),
    "grid_sample_nearest": (lambda t, x, g: t.nn.functional.grid_sample(x, g, mode="nearest", align_corners=False),
                            (XS, RNG.uniform(-1.3, 1.3, (2, 2, 3, 2)))),
    "grid_sample_bicubic": (lambda t, x, g: t.nn.functional.grid_sample(x, g, mode="bicubic", padding_mode="border",
                                                                        align_corners=False),
                            (XS[:1], RNG.uniform(-1.2, 1.2, (1, 2, 2, 2)))),
    "grid_sample_trilinear": (lambda t, x, g: t.nn.functional.grid_sample(x, g, align_corners=True),
                              (X5[:, :1], RNG.uniform(-1.2, 1.2, (1, 2, 2, 2, 3)))),
    "spatial_transformer": (lambda t, x, th: t.nn.functional.grid_sample(
        x, t.nn.functional.affine_grid(th, (2, 2, 2, 3), align_corners=False), align_corners=False),
        (XS, np.eye(2, 3) + 0.2 * _normal(2, 2, 3))),
    # tensor methods and functions (torch.X / Tensor.X)
    "diagflat": (lambda t, x: [t.diagflat(x), x.diagflat(1), t.diagflat(x[0], -2)], (X34,)),
    "renorm": (lambda t, x: [t.renorm(x, 2, 0, 1.5), x.renorm(1, 1, 2.0), (x * 1).renorm_(3.0, -1, 0.5)], (X34,)),
    "index_reduce": (lambda t, x, s: [x.index_reduce(0, t.tensor([0, 2, 0]), s, "prod"),
                                      t.index_reduce(x, 0, t.tensor([1, 1, 0]), s, "mean", include_self=False),
                                      (x * 1).index_reduce_(1, t.tensor([3, 0, 3, 1]), s, "amax")],
                     (X34, _normal(3, 4))),
    "ldexp": (lambda t, x, e: [t.ldexp(x, e), (x * 1).ldexp_(e)], (X34, RNG.integers(0, 4, (3, 4)))),
    "frexp": (lambda t, x: [*t.frexp(x), x.frexp().exponent], (X34 * 100,)),
    "unravel_index": (lambda t, i: list(t.unravel_index(i, (3, 4, 5))), (np.array([0, 7, 59, -1, 33]),)),
    "sum_to_size": (lambda t, x: [x.sum_to_size(1, 4, 1), x.sum_to_size((5,)), x.sum_to_size(size=(3, 1, 5))],
                    (X4[0],)),
    "linalg_methods": (lambda t, a: [a.det(), a.inverse(), a.logdet(), *a.slogdet(), a.pinverse(), a.matrix_exp()],
                       (_normal(3, 3) + 3 * np.eye(3),)),
    "fill_diagonal_": (lambda t, x: [(x * 1).fill_diagonal_(2.5), (x.T.repeat(2, 1) * 1).fill_diagonal_(-1, wrap=True),
                                     (x.T.repeat(2, 1) * 1).fill_diagonal_(1)], (X34,)),
    "tril_triu_cumsum_": (lambda t, x: [(x * 1).tril_(), (x * 1).triu_(1), (x * 1).cumsum_(1), (x * 1).cumprod_(0)],
                          (X34,)),
    "addmm_family_": (lambda t, x, m, v: [(x * 1).addmm_(m, x, beta=0.5, alpha=2), (v * 1).addmv_(x.T, v[:3]),
                                          (x * 1).addr_(v[:3], v), (m * 1).addbmm_(x.unsqueeze(0), x.T.unsqueeze(0)),
                                          (x.unsqueeze(0) * 1).baddbmm_(m.unsqueeze(0), x.unsqueeze(0))],
                      (X34, _normal(3, 3), _normal(4))),
    "comparisons_": (lambda t, x, y: [(x * 1).eq_(y), (x * 1).lt_(y), (x * 1).ge_(0.1), (x * 1).greater_(y),
                                      (x * 1).less_equal_(y), (x * 1).not_equal_(x)], (X34, X34[::-1].copy())),
    "mvlgamma_": (lambda t, x: (x.abs() + 2).mvlgamma_(2), (X34,)),
}
CASES["max_unpool1d"] = _unpool_case(1, 2, None, 0)
CASES["max_unpool2d"] = _unpool_case(2, 2, 2, 1, side=7, output_size=(7, 7))   # no repeated index
CASES["max_unpool3d"] = _unpool_case(3, 2, 2, 0)
CASES["max_unpool2d_output_size"] = _unpool_case(2, 2, None, 0, output_size=(7, 7))

# torch 2.13's 1-D nearest kernel copies in backward when the size is kept but not in forward (its own gradcheck
# fails): the values are compared with torch's below, the gradient is checked by finite differences
NOT_IN_TORCH = {"nearest_1d_scale_keeps_size"}
# in-place comparisons keep x in the graph with a zero gradient, as torch's: steps, whose finite differences jump at
# the ties (x == y); their zero gradients are compared with torch's
NO_GRADCHECK = {"comparisons_"}
test_same_as_torch, test_gradcheck = case_tests(CASES, no_gradcheck=NO_GRADCHECK, not_in_torch=NOT_IN_TORCH)
test_on_gpu_same_as_on_cpu = gpu_case_tests(CASES, rtol=1e-9)


# --- interpolate: float32, errors, deprecated spellings -------------------------------------------------------

@pytest.mark.parametrize("options", [dict(scale_factor=1.7, mode="bilinear"), dict(size=(9, 4), mode="bicubic"),
                                     dict(scale_factor=(1 / 3, 2.5), mode="nearest"),
                                     dict(size=(5, 11), mode="bilinear", align_corners=True)])
def test_interpolate_in_float32_as_pytorch(torch, options: dict) -> None:
    """float32 in PyTorch's float32 index arithmetic: the same taps, values and gradients to float32 rounding."""
    x = mg.tensor(X4.astype(np.float32), requires_grad=True)
    tx = to_torch(torch, x)
    out, t_out = F.interpolate(x, **options), torch.nn.functional.interpolate(tx, **options)
    assert out.dtype == np.float32
    assert_close(out, t_out, rtol=1e-5, atol=1e-6)
    weights = _normal(*out.shape).astype(np.float32)
    (out * mg.tensor(weights)).sum().backward()
    (t_out * torch.from_numpy(weights)).sum().backward()
    assert_close(x.grad, tx.grad, rtol=1e-5, atol=1e-5)


def test_interpolate_nearest_1d_with_a_scale_that_keeps_the_size_as_pytorch_forward(torch) -> None:
    """⌊o/1.1⌋: PyTorch's 1-D (and 3-D) kernels take no copy shortcut; its 2-D kernel does (both cases above)."""
    fn = CASES["nearest_1d_scale_keeps_size"][0]
    assert_close(fn(mg, mg.tensor(X3)), fn(torch, torch.from_numpy(X3)))


def test_interpolate_nearest_keeps_integer_dtypes(torch) -> None:
    x = np.arange(24, dtype=np.uint8).reshape(1, 2, 3, 4)
    assert_close(F.interpolate(mg.tensor(x), scale_factor=2), torch.nn.functional.interpolate(torch.from_numpy(x),
                                                                                               scale_factor=2))


@pytest.mark.parametrize("call, error, match", [
    (lambda x: F.interpolate(x, scale_factor=2, align_corners=True), ValueError, "align_corners option"),
    (lambda x: F.interpolate(x, size=3, scale_factor=2), ValueError, "only one of size or scale_factor"),
    (lambda x: F.interpolate(x), ValueError, "either size or scale_factor"),
    (lambda x: F.interpolate(x, size=(3, 4, 5)), ValueError, "same number of spatial dimensions"),
    (lambda x: F.interpolate(x, size=3, recompute_scale_factor=True), ValueError, "not meaningful"),
    (lambda x: F.interpolate(x, scale_factor=2, mode="linear"), NotImplementedError, "linear mode needs 3D"),
    (lambda x: F.interpolate(x, scale_factor=2, mode="trilinear"), NotImplementedError, "needs 5D"),
    (lambda x: F.interpolate(x[0, 0], scale_factor=2), NotImplementedError, "Only 3D, 4D and 5D"),
    (lambda x: F.interpolate(x, scale_factor=2, mode="cubic"), NotImplementedError, "got cubic"),
    (lambda x: F.interpolate(x, scale_factor=2, mode="lanczos", antialias=True), NotImplementedError, "lanczos"),
    (lambda x: F.interpolate(x, scale_factor=2, mode="nearest", antialias=True), ValueError, "Anti-alias"),
    (lambda x: F.interpolate(x.astype(mg.int64), scale_factor=2, mode="bilinear"), NotImplementedError, "floating"),
    (lambda x: F.interpolate(x, scale_factor=0.1), ValueError, "greater than 0"),
])
def test_interpolate_refuses_what_pytorch_refuses_naming_the_problem(call: Callable, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call(mg.tensor(X4))


def test_the_deprecated_upsample_functions_warn_and_resize_as_interpolate(torch) -> None:
    x = mg.tensor(X4)
    for ours, expected in ((lambda: F.upsample(x, scale_factor=2, mode="bilinear"),
                            F.interpolate(x, scale_factor=2, mode="bilinear")),
                           (lambda: F.upsample_nearest(x, size=(5, 6)), F.interpolate(x, size=(5, 6))),
                           (lambda: F.upsample_bilinear(x, scale_factor=2),
                            F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True))):
        with pytest.warns(UserWarning, match="deprecated"):
            np.testing.assert_array_equal(ours().numpy(), expected.numpy())


# --- conv_transpose / fold errors ----------------------------------------------------------------------------

@pytest.mark.parametrize("call, match", [
    (lambda: F.conv_transpose2d(mg.tensor(X4), mg.tensor(_normal(4, 2, 3, 3))), "expects an input with 4 channels"),
    (lambda: F.conv_transpose2d(mg.tensor(X4), mg.tensor(_normal(3, 2, 3, 3)), output_padding=1),
     "output padding must be smaller"),
    (lambda: F.conv_transpose1d(mg.tensor(X3), mg.tensor(_normal(3, 2, 3)), padding=4), "too small"),
    (lambda: F.fold(mg.tensor(_normal(2, 12, 5)), (3, 4), 2), "sliding blocks"),
    (lambda: F.fold(mg.tensor(_normal(2, 10, 6)), (3, 4), 2), "divisible by the product of kernel_size"),
    (lambda: F.unfold(mg.tensor(X3[0]), 2), "Only 3D or 4D"),
    (lambda: F.embedding_bag(mg.tensor(BAG_INDEX), mg.tensor(TABLE), mg.tensor(np.array([1, 4]))), "offsets\\[0\\]"),
    (lambda: F.embedding_bag(mg.tensor(BAG_INDEX), mg.tensor(TABLE), mg.tensor(np.array([0, 5, 3]))), "non-decreasing"),
    (lambda: F.embedding_bag(mg.tensor(BAG_INDEX), mg.tensor(TABLE)), "offsets has to be a 1D Tensor"),
    (lambda: F.embedding_bag(mg.tensor(BAG_INDEX + 5), mg.tensor(TABLE), mg.tensor(np.array([0]))), "out of range"),
    (lambda: F.embedding_bag(mg.tensor(BAG_INDEX), mg.tensor(TABLE), mg.tensor(np.array([0])), mode="max",
                             scale_grad_by_freq=True), "max mode does not support"),
    (lambda: F.max_unpool2d(mg.tensor(_normal(1, 1, 2, 2)), mg.tensor(np.array([[[[0, 1], [2, 40]]]])), 2),
     "invalid max index"),
    (lambda: mg.pixel_shuffle(mg.tensor(X4), 2), "divisible by the square of upscale_factor"),
    (lambda: F.channel_shuffle(mg.tensor(X4), 2), "divisible by groups"),
])
def test_errors_name_the_op_and_the_problem(call: Callable, match: str) -> None:
    with pytest.raises((ValueError, TypeError, NotImplementedError), match=match):
        call()


def test_grid_sample_and_affine_grid_warn_without_align_corners_as_pytorch() -> None:
    x, theta = mg.tensor(X4), mg.tensor(_normal(2, 2, 3))
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        grid = F.affine_grid(theta, (2, 3, 4, 5))
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        F.grid_sample(x, grid)
    with pytest.raises(ValueError, match="expected mode"):
        F.grid_sample(x, grid, mode="area", align_corners=False)
    with pytest.raises(ValueError, match="bicubic interpolation only supports 4D"):
        F.grid_sample(mg.tensor(X5), mg.tensor(_normal(1, 2, 2, 2, 3)), mode="bicubic", align_corners=False)
    with pytest.raises(ValueError, match="Nx2x3"):
        F.affine_grid(mg.tensor(_normal(2, 3, 4)), (2, 3, 4, 5), align_corners=False)


def test_real_tensor_bits_and_the_legacy_constructor_as_pytorch(torch) -> None:
    ours, theirs = mg.tensor(X3), torch.from_numpy(X3)
    for call in (lambda x: x.is_conj(), lambda x: x.is_neg(), lambda x: x.is_signed(), lambda x: (x > 0).is_signed(),
                 lambda x: x.is_pinned(), lambda x: tuple(x.new(2, 3).shape), lambda x: tuple(x.new().shape),
                 lambda x: x.new([1, 2]).tolist()):
        assert call(ours) == call(theirs)
    assert ours.conj() is ours and ours.resolve_conj() is ours and ours.resolve_neg() is ours
    assert ours.pin_memory() is ours and mg.is_same_size(ours, ours * 2) and not mg.is_same_size(ours, ours[0])
    assert ours.new(mg.Size((2, 1))).shape == (2, 1) and ours.new(mg.Size((2, 1))).dtype == ours.dtype


def test_the_in_place_gamma_family_writes_the_out_of_place_result() -> None:
    x = mg.tensor(np.abs(X34) + 1)
    for method, expected in (("polygamma_", mg.polygamma(1, x)), ("igamma_", mg.igamma(x, x * 0.5)),
                             ("igammac_", mg.igammac(x, x * 0.5))):
        target = x.clone()
        getattr(target, method)(*((1,) if method == "polygamma_" else (x * 0.5,)))
        np.testing.assert_array_equal(target.numpy(), expected.numpy())


def test_ldexp_gradient_with_negative_exponents_is_two_to_the_exponent() -> None:
    """d(x·2^e)/dx = 2^e; torch 2.13 computes 2^e in integers there (0 for e < 0)."""
    x = mg.tensor(X34, requires_grad=True)
    exponent = RNG.integers(-3, 3, (3, 4))
    mg.ldexp(x, mg.tensor(exponent)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2.0 ** exponent)


def test_embedding_bag_per_sample_weights_only_with_sum() -> None:
    with pytest.raises(NotImplementedError, match="only supported for mode='sum'"):
        F.embedding_bag(mg.tensor(BAG_INDEX), mg.tensor(TABLE), mg.tensor(BAG_OFFSETS),
                        per_sample_weights=mg.tensor(_normal(10)))


# --- embedding_bag where torch 2.13's CPU kernels are wrong ------------------------------------------------

@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_embedding_bag_scale_grad_by_freq_divides_by_each_index_count(torch, mode: str) -> None:
    """Each row's gradient over its index's count in the input, as F.embedding's and torch's CUDA kernels; torch
    2.13's CPU embedding_bag divides by another index's count (pytorch/pytorch#190063, fixed upstream by #190264)."""
    weight = mg.tensor(TABLE, requires_grad=True)
    F.embedding_bag(mg.tensor(BAG_INDEX), weight, mg.tensor(BAG_OFFSETS), mode=mode, scale_grad_by_freq=True).sum() \
        .backward()
    t_weight = torch.from_numpy(TABLE).requires_grad_()
    torch.nn.functional.embedding_bag(torch.from_numpy(BAG_INDEX), t_weight, torch.from_numpy(BAG_OFFSETS),
                                      mode=mode).sum().backward()
    counts = np.maximum(np.bincount(BAG_INDEX, minlength=len(TABLE)), 1)[:, None]
    np.testing.assert_allclose(weight.grad.numpy(), t_weight.grad.numpy() / counts, rtol=1e-12)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_indices_past_the_last_offset_are_in_no_bag(torch, mode: str) -> None:
    """include_last_offset: the last offset ends the last bag (CSR), as torch's float32 sum kernel; its other
    kernels fold the trailing indices into the last bag, or (float32 mean) sum to the offset and count to the end
    (pytorch/pytorch#190062 describes the quirk on MPS)."""
    offsets = np.array([0, 2, 2, 7])
    if mode == "sum":
        ours = F.embedding_bag(mg.tensor(BAG_INDEX), mg.tensor(TABLE.astype(np.float32)), mg.tensor(offsets),
                               mode=mode, include_last_offset=True)
        theirs = torch.nn.functional.embedding_bag(torch.from_numpy(BAG_INDEX),
                                                   torch.from_numpy(TABLE.astype(np.float32)),
                                                   torch.from_numpy(offsets), mode=mode, include_last_offset=True)
        assert_close(ours, theirs, rtol=1e-6, atol=1e-6)
    trimmed = F.embedding_bag(mg.tensor(BAG_INDEX[:7]), mg.tensor(TABLE), mg.tensor(offsets[:-1]), mode=mode)
    np.testing.assert_allclose(F.embedding_bag(mg.tensor(BAG_INDEX), mg.tensor(TABLE), mg.tensor(offsets), mode=mode,
                                               include_last_offset=True).numpy(), trimmed.numpy())


# --- modules ---------------------------------------------------------------------------------------------------

def _load(ours: nn.Module, theirs: Any) -> None:
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def _same_forward_and_grads(torch, ours: nn.Module, theirs: Any, x: np.ndarray, *args: Any, rtol: float = 1e-10,
                            **kwargs: Any) -> None:
    ours.double()
    theirs.double()
    _load(ours, theirs)
    xo, xt = mg.tensor(x, requires_grad=True), torch.from_numpy(x).requires_grad_()
    out, t_out = ours(xo, *args, **kwargs), theirs(xt, *args, **kwargs)
    assert_close(out, t_out, rtol=rtol, atol=1e-12, what=type(ours).__name__)
    weights = _normal(*out.shape)
    (out * mg.tensor(weights)).sum().backward()
    (t_out * torch.from_numpy(weights)).sum().backward()
    assert_close(xo.grad, xt.grad, rtol=rtol, atol=1e-12, what="input gradient")
    t_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad, t_params[name].grad, rtol=rtol, atol=1e-12, what=f"{name}.grad")
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("name, args, kwargs, shape", [
    ("ConvTranspose1d", (3, 4, 3), dict(stride=2, padding=1, output_padding=1, bias=False), (2, 3, 5)),
    ("ConvTranspose2d", (3, 4, (3, 2)), dict(stride=2, groups=1, dilation=(1, 2)), (2, 3, 4, 5)),
    ("ConvTranspose2d", (4, 6, 3), dict(stride=2, padding=1, output_padding=1, groups=2, dilation=2), (2, 4, 3, 3)),
    ("ConvTranspose3d", (2, 2, 2), dict(stride=2), (1, 2, 3, 4, 3)),
    ("Conv3d", (2, 3, (2, 3, 2)), dict(padding=1, padding_mode="circular"), (1, 2, 3, 4, 3)),
    ("BatchNorm2d", (3,), {}, (4, 3, 2, 5)),
    ("BatchNorm3d", (2,), dict(momentum=None, affine=False), (3, 2, 2, 3, 2)),
    ("InstanceNorm2d", (3,), dict(affine=True, track_running_stats=True), (2, 3, 4, 5)),
    ("InstanceNorm3d", (2,), {}, (2, 3, 4, 3)),
    ("LocalResponseNorm", (3,), dict(alpha=0.1), (2, 5, 3, 2)),
    ("Upsample", (), dict(scale_factor=2, mode="bilinear"), (2, 3, 4, 5)),
    ("Upsample", (), dict(size=(3, 7), mode="bicubic", align_corners=True), (2, 3, 4, 5)),
    ("UpsamplingNearest2d", (), dict(scale_factor=(2, 3)), (2, 3, 4, 5)),
    ("UpsamplingBilinear2d", (5,), {}, (2, 3, 4, 5)),
    ("PixelShuffle", (2,), {}, (2, 8, 3, 2)),
    ("PixelUnshuffle", (2,), {}, (2, 3, 4, 6)),
    ("ChannelShuffle", (4,), {}, (2, 8, 3, 2)),
    ("Unfold", ((2, 3),), dict(padding=1, stride=2), (2, 3, 4, 5)),
    ("Fold", ((4, 5), 2), {}, (2, 12, 12)),
    ("MaxPool3d", (2,), dict(stride=1, ceil_mode=True), (1, 2, 3, 4, 3)),
    ("AvgPool3d", ((2, 1, 2),), dict(padding=(1, 0, 1)), (1, 2, 3, 4, 3)),
    ("AdaptiveAvgPool3d", ((2, None, 1),), {}, (1, 2, 3, 4, 3)),
    ("AdaptiveMaxPool3d", (2,), {}, (1, 2, 3, 4, 3)),
    ("LPPool1d", (2, 3), {}, (2, 3, 7)),
    ("LPPool2d", (1.5, 2), dict(stride=1), (2, 3, 4, 5)),
    ("LPPool3d", (3, 2), {}, (1, 2, 4, 4, 2)),
    ("ZeroPad2d", ((1, 2, 0, 3),), {}, (2, 3, 4, 5)),
    ("ConstantPad2d", (2, 3.5), {}, (3, 4, 5)),
    ("ConstantPad3d", ((1, 0, 2, 1, 0, 1), -1.0), {}, (1, 2, 3, 4, 3)),
    ("ZeroPad3d", (1,), {}, (2, 3, 4, 3)),
    ("ReflectionPad2d", ((2, 1, -1, 3),), {}, (2, 3, 4, 5)),
    ("ReflectionPad3d", (1,), {}, (1, 2, 3, 4, 3)),
    ("ReplicationPad2d", ((1, 3, 2, -2),), {}, (3, 4, 5)),
    ("ReplicationPad3d", ((0, 1, 2, 0, 1, 1),), {}, (1, 2, 3, 4, 3)),
    ("CircularPad2d", ((1, 2, 3, 0),), {}, (2, 3, 4, 5)),
    ("CircularPad3d", (1,), {}, (1, 2, 3, 4, 3)),
])
def test_modules_as_pytorch(torch, name: str, args: tuple, kwargs: dict, shape: tuple) -> None:
    """Weights and buffers loaded from torch's module: output, input and parameter gradients and repr agree; a
    normalisation's running statistics after the training step too."""
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    if name.startswith("Conv"):
        assert ours.weight.shape == tuple(theirs.weight.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        x = _positive(*shape) if name.startswith("LPPool") else _normal(*shape)   # x**p of a negative x is NaN
        _same_forward_and_grads(torch, ours, theirs, x)
    for key, value in theirs.state_dict().items():
        assert_close(ours.state_dict()[key], value, rtol=1e-10, what=key)
    if "Norm" in name and name != "LocalResponseNorm":   # eval mode: the running statistics, if tracked
        ours.eval()
        theirs.eval()
        x = _normal(*shape)
        assert_close(ours(mg.tensor(x)), theirs(torch.from_numpy(x)), rtol=1e-10, what="eval")


def test_conv_transpose_output_size_picks_the_output_padding_as_pytorch(torch) -> None:
    ours, theirs = nn.ConvTranspose2d(3, 2, 3, stride=3, padding=1), torch.nn.ConvTranspose2d(3, 2, 3, stride=3,
                                                                                               padding=1)
    for size in ((11, 14), [2, 2, 12, 13]):   # from (10, 13) to (12, 15) for a (4, 5) input
        _same_forward_and_grads(torch, ours, theirs, X4, output_size=size)
    with pytest.raises(ValueError, match="valid sizes range from"):
        ours(mg.tensor(X4), output_size=(13, 13))
    with pytest.raises(ValueError, match="zeros"):
        nn.ConvTranspose1d(2, 2, 3, padding_mode="reflect")


def test_conv_transpose_initialisation_as_pytorch() -> None:
    """kaiming-uniform(a=√5) over fan_in = out/groups·∏k (the weight's dim 1), the bias within 1/√fan_in."""
    layer = nn.ConvTranspose2d(8, 6, (3, 2), groups=2)
    assert layer.weight.shape == (8, 3, 3, 2) and layer.bias.shape == (6,)
    bound = 1 / math.sqrt(3 * 3 * 2)
    assert np.abs(layer.weight.numpy()).max() <= bound and np.abs(layer.bias.numpy()).max() <= bound


def test_max_unpool_modules_undo_max_pool_as_pytorch(torch) -> None:
    x = _normal(2, 3, 6, 7)
    values, indices = F.max_pool2d(mg.tensor(x), 2, return_indices=True)
    t_values, t_indices = torch.nn.functional.max_pool2d(torch.from_numpy(x), 2, return_indices=True)
    assert_close(indices, t_indices)
    for name, args in (("MaxUnpool2d", (2,)), ("MaxUnpool1d", (2,)), ("MaxUnpool3d", (2,))):
        ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
        assert repr(ours) == repr(theirs)
    out = nn.MaxUnpool2d(2)(values, indices, output_size=(2, 3, 6, 7))
    assert_close(out, torch.nn.MaxUnpool2d(2)(t_values, t_indices, output_size=(2, 3, 6, 7)))


@pytest.mark.parametrize("mode, padding_idx", [("mean", None), ("sum", 1), ("max", None)])
def test_embedding_bag_module_as_pytorch(torch, mode: str, padding_idx: int | None) -> None:
    ours = nn.EmbeddingBag(7, 3, mode=mode, padding_idx=padding_idx, dtype=mg.float64)
    theirs = torch.nn.EmbeddingBag(7, 3, mode=mode, padding_idx=padding_idx).double()
    if padding_idx is not None:
        assert not ours.weight.numpy()[padding_idx].any()
    _load(ours, theirs)
    out = ours(mg.tensor(BAG_INDEX), mg.tensor(BAG_OFFSETS))
    t_out = theirs(torch.from_numpy(BAG_INDEX), torch.from_numpy(BAG_OFFSETS))
    assert_close(out, t_out)
    out.sum().backward()
    t_out.sum().backward()
    assert_close(ours.weight.grad, theirs.weight.grad)
    assert repr(ours) == repr(theirs)
    frozen = nn.EmbeddingBag.from_pretrained(mg.tensor(TABLE), mode="sum")
    t_frozen = torch.nn.EmbeddingBag.from_pretrained(torch.from_numpy(TABLE), mode="sum")
    assert not frozen.weight.requires_grad and not t_frozen.weight.requires_grad
    assert_close(frozen(mg.tensor(BAG_INDEX.reshape(5, 2))), t_frozen(torch.from_numpy(BAG_INDEX.reshape(5, 2))))


def test_embedding_bag_max_norm_renormalises_the_looked_up_rows_as_pytorch(torch) -> None:
    weight, t_weight = mg.tensor(TABLE * 3), torch.from_numpy(TABLE * 3)
    out = F.embedding_bag(mg.tensor(BAG_INDEX), weight, mg.tensor(BAG_OFFSETS), max_norm=1.0)
    t_out = torch.nn.functional.embedding_bag(torch.from_numpy(BAG_INDEX), t_weight, torch.from_numpy(BAG_OFFSETS),
                                              max_norm=1.0)
    assert_close(out, t_out)
    assert_close(weight, t_weight)


def test_the_new_names_are_exported() -> None:
    for name in ("Upsample", "ConvTranspose2d", "Conv3d", "Fold", "Unfold", "BatchNorm2d", "InstanceNorm2d",
                 "EmbeddingBag", "PixelShuffle", "ZeroPad2d", "MaxPool3d", "LocalResponseNorm", "MaxUnpool2d"):
        assert name in nn.__all__ and issubclass(getattr(nn, name), nn.Module)
    for name in ("interpolate", "conv_transpose2d", "fold", "unfold", "embedding_bag", "pixel_shuffle", "conv3d",
                 "max_pool3d", "lp_pool2d", "max_unpool2d", "local_response_norm", "adaptive_avg_pool3d",
                 "grid_sample", "affine_grid"):
        assert name in F.__all__ and callable(getattr(F, name))
    assert mg.pixel_shuffle is F.pixel_shuffle and "channel_shuffle" in mg.__all__
