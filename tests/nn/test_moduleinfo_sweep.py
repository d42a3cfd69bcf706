"""Regressions from a sweep of ``nn`` modules and ``nn.functional`` against PyTorch's module and op databases.

The sweep (values, input and parameter gradients, buffers, state-dict keys, reprs and error inputs in float64)
is a scratch script; the cases it found are written out here by hand, each against torch 2.13 on the same
float64 values, so this file does not depend on torch's private test modules.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
from helpers import assert_close, to_torch

import minigrad as mg
import nn
import nn.functional as F

RNG = np.random.default_rng(11)


def _both(torch: Any, fn: Callable, torch_fn: Callable, *arrays: np.ndarray, grad: tuple = (0,)) -> None:
    """``fn`` on minigrad tensors and ``torch_fn`` on torch tensors of the same float64 values: equal outputs
    (NaN where torch has NaN) and equal gradients of the inputs listed in ``grad`` for a fixed upstream."""
    ours = [mg.tensor(a, requires_grad=i in grad) for i, a in enumerate(arrays)]
    theirs = [to_torch(torch, x) for x in ours]
    out, expected = fn(*ours), torch_fn(*theirs)
    assert_close(out, expected, what="forward")
    upstream = RNG.standard_normal(out.shape)
    (out * mg.tensor(upstream)).sum().backward()
    (expected * torch.from_numpy(upstream)).sum().backward()
    for i in grad:
        assert_close(ours[i].grad, theirs[i].grad, what=f"grad of input {i}")


# --- one-element size tuples: torch's C++ pools and convolutions take (k,) for every spatial dim -----------

@pytest.mark.parametrize("name, kwargs", [
    ("avg_pool2d", {"kernel_size": (3, 3), "stride": (1, 1), "padding": (1,), "ceil_mode": True,
                    "count_include_pad": False, "divisor_override": 2}),
    ("avg_pool2d", {"kernel_size": (2, 2), "stride": (), "padding": (0,), "ceil_mode": False}),
    ("avg_pool2d", {"kernel_size": (4,), "stride": (2,), "padding": (2,), "ceil_mode": True}),
    ("max_pool2d", {"kernel_size": (3,), "stride": (2,), "padding": (1,), "dilation": (1,)}),
    ("max_pool3d", {"kernel_size": (2,), "stride": (1,), "padding": (1,)}),
])
def test_pool_one_element_tuples(torch: Any, name: str, kwargs: dict) -> None:
    shape = (1, 2, 5, 6, 5) if name.endswith("3d") else (2, 3, 9, 9)
    _both(torch, lambda x: getattr(F, name)(x, **kwargs), lambda x: getattr(torch.nn.functional, name)(x, **kwargs),
          RNG.standard_normal(shape))


def test_conv2d_one_element_tuples(torch: Any) -> None:
    x, w, b = RNG.standard_normal((2, 4, 7, 6)), RNG.standard_normal((6, 2, 3, 3)), RNG.standard_normal(6)
    kwargs = {"stride": (2,), "padding": (1,), "dilation": (1,), "groups": 2}
    _both(torch, lambda *t: F.conv2d(*t, **kwargs), lambda *t: torch.nn.functional.conv2d(*t, **kwargs), x, w, b,
          grad=(0, 1, 2))


# --- batch norm: eps must be positive when training, non-negative otherwise -------------------------------

@pytest.mark.parametrize("eps", [0.0, -1.0])
def test_batch_norm_training_refuses_non_positive_eps(eps: float) -> None:
    x = mg.tensor(RNG.standard_normal((4, 3)))
    with pytest.raises(ValueError, match="batch_norm: eps must be positive"):
        nn.BatchNorm1d(3, eps=eps).double()(x)
    with pytest.raises(ValueError, match="batch_norm: eps must be positive"):
        F.batch_norm(x, None, None, training=True, eps=eps)


def test_batch_norm_eval_eps(torch: Any) -> None:
    x, mean, var = RNG.standard_normal((4, 3)), RNG.standard_normal(3), RNG.uniform(0.5, 2.0, 3)
    _both(torch, lambda t: F.batch_norm(t, mg.tensor(mean), mg.tensor(var), training=False, eps=0.0),
          lambda t: torch.nn.functional.batch_norm(t, torch.from_numpy(mean), torch.from_numpy(var), training=False,
                                                   eps=0.0), x)
    with pytest.raises(ValueError, match="batch_norm: eps must be non-negative"):
        F.batch_norm(mg.tensor(x), mg.tensor(mean), mg.tensor(var), training=False, eps=-1.0)


# --- cross entropy with class probabilities: no ignore_index ------------------------------------------------

def test_cross_entropy_probabilities_refuse_ignore_index(torch: Any) -> None:
    logits, probabilities = RNG.standard_normal((2, 3)), RNG.dirichlet(np.ones(3), 2)
    with pytest.raises(ValueError, match="ignore_index is not supported for floating point target"):
        F.cross_entropy(mg.tensor(logits), mg.tensor(probabilities), ignore_index=1)
    with pytest.raises(ValueError, match="ignore_index is not supported for floating point target"):
        nn.CrossEntropyLoss(ignore_index=1)(mg.tensor(logits), mg.tensor(probabilities))
    _both(torch, lambda t: F.cross_entropy(t, mg.tensor(probabilities)),
          lambda t: torch.nn.functional.cross_entropy(t, torch.from_numpy(probabilities)), logits)


# --- the clamp_min losses keep a NaN (it was a zero loss) --------------------------------------------------

NAN = np.array([-4.8, np.nan, 0.3, -1.5, 2.0, np.inf])


@pytest.mark.parametrize("reduction", ["none", "sum"])
def test_margin_ranking_loss_keeps_nan(torch: Any, reduction: str) -> None:
    other, target = np.array([5.5, 1.0, np.nan, 2.0, 0.0, 1.0]), np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
    _both(torch, lambda a, b, y: F.margin_ranking_loss(a, b, y, margin=0.5, reduction=reduction),
          lambda a, b, y: torch.nn.functional.margin_ranking_loss(a, b, y, margin=0.5, reduction=reduction),
          NAN, other, target, grad=(0, 1))


def test_hinge_embedding_loss_keeps_nan(torch: Any) -> None:
    target = np.array([-1.0, -1.0, 1.0, -1.0, -1.0, 1.0])
    _both(torch, lambda a: F.hinge_embedding_loss(a, mg.tensor(target), reduction="none"),
          lambda a: torch.nn.functional.hinge_embedding_loss(a, torch.from_numpy(target), reduction="none"),
          NAN)


def test_cosine_embedding_and_triplet_losses_keep_nan(torch: Any) -> None:
    a, b, c = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    a[1, 2] = np.nan
    target = np.array([1.0, -1.0, -1.0])
    _both(torch, lambda x, y: F.cosine_embedding_loss(x, y, mg.tensor(target), margin=-0.5, reduction="none"),
          lambda x, y: torch.nn.functional.cosine_embedding_loss(x, y, torch.from_numpy(target), margin=-0.5,
                                                                 reduction="none"), a, b, grad=(0, 1))
    _both(torch, lambda *t: F.triplet_margin_loss(*t, reduction="none"),
          lambda *t: torch.nn.functional.triplet_margin_loss(*t, reduction="none"), a, b, c, grad=(0, 1, 2))


# --- multi-class margin losses on a 0-d input (one class, as torch) ----------------------------------------

@pytest.mark.parametrize("name", ["multi_margin_loss", "multilabel_margin_loss"])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_margin_losses_take_a_0d_input(torch: Any, name: str, reduction: str) -> None:
    _both(torch, lambda x: getattr(F, name)(x, mg.tensor(0), reduction=reduction),
          lambda x: getattr(torch.nn.functional, name)(x, torch.tensor(0), reduction=reduction), np.array(0.7))


# --- fractional max pooling on an empty batch (a -1 reshape had nothing to infer from) ----------------------

@pytest.mark.parametrize("dims, shape", [(2, (0, 2, 5, 5)), (3, (0, 1, 4, 5, 4))])
def test_fractional_max_pool_empty_batch(torch: Any, dims: int, shape: tuple) -> None:
    name = f"fractional_max_pool{dims}d"
    x = mg.zeros(*shape, dtype=mg.float64, requires_grad=True)
    values, indices = getattr(F, name)(x, 2, output_size=2, return_indices=True)
    expected, expected_indices = getattr(torch.nn.functional, name)(torch.zeros(shape, dtype=torch.float64), 2,
                                                                     output_size=2, return_indices=True)
    assert values.shape == tuple(expected.shape) and indices.shape == tuple(expected_indices.shape)
    assert indices.dtype == mg.int64
    values.sum().backward()
    assert x.grad.shape == shape
    module = getattr(nn, f"FractionalMaxPool{dims}d")(2, output_ratio=0.5)
    assert module(mg.zeros(*shape)).shape == tuple(getattr(torch.nn, f"FractionalMaxPool{dims}d")(
        2, output_ratio=0.5)(torch.zeros(shape)).shape)
