"""Folding an eval-mode batch norm into the convolution or linear layer before it, as ``torch.nn.utils.fusion``:
``y = γ·(W x + b - μ)/√(σ² + ε) + β`` is one layer with ``W' = W·γ/√(σ² + ε)`` (per output channel) and
``b' = (b - μ)·γ/√(σ² + ε) + β``. The fused parameters are computed with engine ops on the current values (no
graph back to the originals) and keep the originals' dtypes and ``requires_grad``."""

from __future__ import annotations

import copy
from typing import Any

import minigrad as mg
from minigrad import Tensor

from ..module import Parameter

__all__ = ["fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval", "fuse_linear_bn_weights"]


def fuse_conv_bn_weights(conv_w: Tensor, conv_b: Tensor | None, bn_rm: Tensor, bn_rv: Tensor, bn_eps: float,
                         bn_w: Tensor | None, bn_b: Tensor | None, transpose: bool = False) -> tuple:
    """(weight, bias) Parameters of the convolution that computes conv then batch norm: conv_w (C_out, C_in/g, *k)
    (or (C_in, C_out/g, *k) with ``transpose=True``), the norm's running mean/var, eps, affine weight/bias
    (C_out,) (None: 1 and 0)."""
    weight_dtype = conv_w.dtype
    bias_dtype = conv_b.dtype if conv_b is not None else weight_dtype
    bias_requires_grad = conv_b.requires_grad if conv_b is not None else False
    with mg.no_grad():
        conv_b = mg.zeros_like(bn_rm) if conv_b is None else conv_b
        bn_w = mg.ones_like(bn_rm) if bn_w is None else bn_w
        bn_b = mg.zeros_like(bn_rm) if bn_b is None else bn_b
        rsqrt = (bn_rv + bn_eps).rsqrt()
        shape = ([1, -1] if transpose else [-1, 1]) + [1] * (conv_w.ndim - 2)
        weight = (conv_w * (bn_w * rsqrt).reshape(shape)).to(dtype=weight_dtype)
        bias = ((conv_b - bn_rm) * rsqrt * bn_w + bn_b).to(dtype=bias_dtype)
    return Parameter(weight, conv_w.requires_grad), Parameter(bias, bias_requires_grad)


def fuse_conv_bn_eval(conv: Any, bn: Any, transpose: bool = False) -> Any:
    """A copy of ``conv`` (a Conv or ConvTranspose module, ``transpose=True`` for the latter) that also applies the
    eval-mode batch norm ``bn``; both must be in eval mode, ``bn`` with running statistics."""
    if conv.training or bn.training:
        raise AssertionError("Fusion only for eval!")
    if bn.running_mean is None or bn.running_var is None:
        raise AssertionError("bn.running_mean and bn.running_var must not be None")
    fused = copy.deepcopy(conv)
    fused.weight, fused.bias = fuse_conv_bn_weights(fused.weight, fused.bias, bn.running_mean, bn.running_var,
                                                    bn.eps, bn.weight, bn.bias, transpose)
    return fused


def fuse_linear_bn_weights(linear_w: Tensor, linear_b: Tensor | None, bn_rm: Tensor, bn_rv: Tensor, bn_eps: float,
                           bn_w: Tensor, bn_b: Tensor) -> tuple:
    """(weight, bias) Parameters of the Linear that computes linear then batch norm: linear_w (out, in), the
    norm's statistics and affine parameters (out,) or (1,)."""
    weight_dtype = linear_w.dtype
    bias_dtype = linear_b.dtype if linear_b is not None else weight_dtype
    bias_requires_grad = linear_b.requires_grad if linear_b is not None else False
    with mg.no_grad():
        linear_b = mg.zeros_like(bn_rm) if linear_b is None else linear_b
        scale = bn_w * (bn_rv + bn_eps).rsqrt()
        weight = linear_w * scale.unsqueeze(-1).to(dtype=weight_dtype)
        bias = ((linear_b - bn_rm) * scale + bn_b).to(dtype=bias_dtype)
    return Parameter(weight, linear_w.requires_grad), Parameter(bias, bias_requires_grad)


def fuse_linear_bn_eval(linear: Any, bn: Any) -> Any:
    """A copy of ``linear`` that also applies the eval-mode batch norm ``bn`` (of ``linear.out_features`` or 1
    features); both must be in eval mode."""
    if linear.training or bn.training:
        raise AssertionError("Fusion only for eval!")
    if linear.out_features != bn.num_features and bn.num_features != 1:
        raise AssertionError(f"To fuse, linear.out_features == bn.num_features or bn.num_features == 1, got "
                             f"linear.out_features={linear.out_features} and bn.num_features={bn.num_features}")
    if bn.running_mean is None or bn.running_var is None:
        raise AssertionError("bn.running_mean and bn.running_var must not be None")
    fused = copy.deepcopy(linear)
    fused.weight, fused.bias = fuse_linear_bn_weights(fused.weight, fused.bias, bn.running_mean, bn.running_var,
                                                      bn.eps, bn.weight, bn.bias)
    return fused
