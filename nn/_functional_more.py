"""More of ``torch.nn.functional`` (re-exported by ``nn.functional``): ``bilinear``, ``pdist``,
``gumbel_softmax`` and the channel dropouts ``dropout2d``, ``dropout3d`` and ``feature_alpha_dropout``, each
composed of engine ops.

``gumbel_softmax`` and the dropouts draw their noise from the engine's generator on the input's device
(``mg.manual_seed``), through ``mg.rand``, so a compiled function draws afresh on every call.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy

import minigrad as mg
from minigrad import Tensor

from ._arguments import _dim, _dtype_error, _floating, _number, _refuse_cpu_half, _same_dtype, _tensor
from ._dropout import (
    _alpha_dropped,
    _alpha_version,
    _droppable,
    _inverted_dropout,
    _maybe_in_place,
    _probability,
    _unbatched_version,
    _zeroed,
)
from ._errors import InputShapeError
from ._flags import flag

__all__ = ["bilinear", "dropout2d", "dropout3d", "feature_alpha_dropout", "gumbel_softmax", "pdist"]


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y_o = x1ᵀ A_o x2 + b_o, as ``torch.nn.functional.bilinear``.

    input1: (*, in1), input2: (*, in2) with the same leading dims, weight A: (out, in1, in2), bias: (out,)
    → (*, out). One matmul: x1 against A laid out as (in1, out·in2), then a product with x2 summed over in2.
    Complex and integer tensors too, as PyTorch's (integers wrap around in their dtype); bools only for an
    empty result (PyTorch has no bool kernel).
    """
    name = "bilinear"
    x1, x2 = _tensor(input1, name), _tensor(input2, name, "input2")
    weight = _tensor(weight, name, "weight")
    if weight.ndim != 3 or x1.ndim == 0 or x2.ndim == 0 or x1.shape[:-1] != x2.shape[:-1] \
            or (x1.shape[-1], x2.shape[-1]) != weight.shape[1:]:
        raise InputShapeError(f"{name}: expected input1 (*, in1) and input2 (*, in2) with the same leading dims and "
                              f"weight (out, in1, in2); got input1 {x1.shape}, input2 {x2.shape}, weight "
                              f"{weight.shape}")
    out, in1, in2 = weight.shape
    if bias is not None and _tensor(bias, name, "bias").shape != (out,):
        raise InputShapeError(f"{name}: bias must have shape ({out},), got {bias.shape}")
    _same_dtype(name, input1=x1, input2=x2, weight=weight, bias=bias)
    lead, dtype = x1.shape[:-1], x1.dtype
    if dtype == mg.bool and math.prod(lead) * out:
        raise _dtype_error(x1.dtype, f"{name}: not implemented for 'Bool' (input1 {x1.shape}, weight {weight.shape}), "
                                     "as in PyTorch")
    half = x1.dtype == x2.dtype == weight.dtype == mg.float16   # as PyTorch: two float32 products, each rounded
    if half:
        x1, x2, weight = x1.float(), x2.float(), weight.float()
    rows = math.prod(lead)   # B, not -1: any of B, in1, in2, out may be 0
    mixed = x1.reshape(rows, in1) @ weight.permute(1, 0, 2).reshape(in1, out * in2)     # (B, out·in2)
    if half:
        mixed = mixed.half().float()
    y = (mixed.reshape(rows, out, in2) * x2.reshape(rows, 1, in2)).sum(axis=-1)         # (B, out)
    if half:
        y = y.half()
    if bias is not None:
        y = y + bias
    if y.dtype != dtype:   # an integer sum is int64: the same values modulo 2**bits, wrapped as PyTorch's
        y = y.to(dtype)
    return y.reshape(*lead, out)


def pdist(input: Tensor, p: float = 2) -> Tensor:  # noqa: A002 - PyTorch's name
    """The p-norm distance between every pair of rows i < j of ``input`` (N, M) → (N(N-1)/2,), in the order
    (0, 1), (0, 2), …, (1, 2), …, as ``torch.nn.functional.pdist``. p >= 0 (0 counts differing entries, inf
    takes the largest); a zero distance sends no gradient back, as PyTorch's."""
    name = "pdist"
    x = _floating(input, name)
    p = _number(p, name, "p")
    if x.ndim != 2:
        raise InputShapeError(f"{name}: only supports 2-D inputs (N, M), got shape {x.shape}")
    if p < 0:
        raise InputShapeError(f"{name}: only supports non-negative p values, got {p}")
    if x.shape[0] > 1:   # (PyTorch's kernel is not reached for fewer than two rows)
        _refuse_cpu_half(x, name, "pdist")
    first, second = numpy.triu_indices(x.shape[0], 1)
    difference = (x[mg.as_tensor(mg.make_array(first, numpy.int64, x.device))]
                  - x[mg.as_tensor(mg.make_array(second, numpy.int64, x.device))])        # (pairs, M)
    if p == 0:   # PyTorch's kernel: min(⌈|d|⌉, 1) summed (a NaN stays NaN); its gradient is 0, still a graph node
        return difference.abs().ceil().clamp(max=1.0).sum(axis=-1)
    if p != 2:
        return _PairDistance(p)(difference)
    total = (difference * difference).sum(axis=-1)
    # the root read at 1 where the distance is 0: the value is 0 and the gradient 0 instead of 0·inf (a NaN total,
    # from a NaN or inf - inf, stays NaN, as PyTorch's)
    zero = total == 0
    return mg.where(zero, 0.0, mg.where(zero, 1.0, total).sqrt())


class _PairDistance(mg.Function):
    """pdist's p-norm (p > 0, not 2) of each row of the differences d (pairs, M) → (pairs,), with PyTorch's
    backward term by term: g · sign(d) for p = 1; g · sign(d) · [|d| = distance] for p = inf (every tied entry gets
    the whole gradient, where amax would share it); g · d |d|^(p-2) / distance^(p-1) otherwise (0 at a zero
    distance, and at d = 0 for p < 1). sign(NaN) and the tie test at an infinite distance (inf - inf) are NaN, as
    in PyTorch's kernel. PyTorch has no double backward for pdist; this op has none either."""

    name = "pdist"

    def __init__(self, p: float) -> None:
        self.p = p

    def forward(self, d: Any) -> Any:
        size, p = self.xp.abs(d), self.p
        if p == math.inf:
            y = size.max(axis=-1) if d.shape[-1] else size.sum(axis=-1)
        else:
            y = size.sum(axis=-1) if p == 1 else (size ** p).sum(axis=-1) ** (1 / p)
        self.saved = (d, y)
        return y

    def backward(self, gy: Any) -> Any:
        d, y = self.saved
        xp, p = self.xp, self.p
        g, y = gy[..., None], y[..., None]
        sign = xp.sign(d)   # NumPy's sign: NaN at NaN, as PyTorch's kernel's (torch.sign gives 0)
        with mg.errstate(xp, divide="ignore", invalid="ignore"):
            if p == 1:
                return g * sign
            if p == math.inf:   # PyTorch's tie test, 1 - min(1, ⌈||d| - y|⌉): 1 at a tie
                return g * sign * (1 - xp.minimum(1, xp.ceil(xp.abs(xp.abs(d) - y))))
            slope = sign * xp.abs(d) ** (p - 1) if p < 2 else d * xp.abs(d) ** (p - 2)
            grad = xp.where(y == 0, 0, slope * g / y ** (p - 1))
            if p < 1:
                grad = xp.where(d == 0, 0, grad)   # 0 · inf
            return grad.astype(d.dtype, copy=False)


def gumbel_softmax(logits: Tensor, tau: float = 1, hard: bool = False, eps: float = 1e-10, dim: int = -1) -> Tensor:
    """A sample from the Gumbel-softmax (concrete) distribution: softmax((logits + g) / tau) along ``dim``, g
    Gumbel(0, 1) noise, as ``torch.nn.functional.gumbel_softmax``. Any shape in, the same shape out.

    ``hard=True``: the one-hot of each sample's largest entry in the forward pass, with the soft sample's
    gradient (straight-through). ``eps`` is deprecated and unused, as in PyTorch.
    """
    name = "gumbel_softmax"
    logits = _floating(logits, name)
    if logits.ndim == 0:   # one class: the sample is 1 (PyTorch's softmax of a 0-d tensor)
        _dim(dim, 0, name)
        return gumbel_softmax(logits.reshape(1), tau, hard, eps, 0).reshape(())
    if _number(eps, name, "eps") != 1e-10:
        warnings.warn(f"{name}: `eps` parameter is deprecated and has no effect.", stacklevel=2)
    tau = _number(tau, name, "tau")
    axis = _dim(dim, logits.ndim, name)
    # -log E, E ~ Exp(1) = -log(1 - U): kept above the dtype's tiniest value, so the noise stays finite
    uniform = mg.rand(logits.shape, dtype=logits.dtype, device=logits.device)
    exponential = (-mg.log1p(-uniform)).clip(min=float(numpy.finfo(logits.dtype).tiny))
    soft = mg.softmax((logits - exponential.log()) / tau, axis=axis)
    if not flag(hard, name, "hard"):
        return soft
    with mg.no_grad():
        choice = soft.argmax(dim=axis, keepdim=True)
        classes = mg.arange(logits.shape[axis], device=logits.device)
        one_hot = (classes.reshape([-1 if i == axis else 1 for i in range(logits.ndim)]) == choice)
    return one_hot.astype(logits.dtype) - soft.detach() + soft


# --- channel dropout ---------------------------------------------------------------------------------------------

def _channel_mask_shape(x: Tensor, name: str) -> tuple:
    """(N, C, 1, …, 1): one draw per (sample, channel), as PyTorch's feature dropout."""
    if x.ndim < 2:
        raise InputShapeError(f"{name}: feature dropout requires at least 2 dimensions (N, C, *) in the input, "
                              f"got shape {x.shape}")
    return x.shape[:2] + (1,) * (x.ndim - 2)


def _dimension_warning(name: str, ndim: int, expected: tuple, spatial: int) -> None:
    if ndim not in expected:
        warnings.warn(f"{name}: Received a {ndim}-D input to {name}, which is deprecated (as in PyTorch); it "
                      f"drops channels of dim 1. {name} is for inputs with {spatial} spatial dimensions, a channel "
                      f"dimension and an optional batch dimension ({expected[0]}-D or {expected[1]}-D)",
                      stacklevel=3)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:  # noqa: A002
    """Zero whole channels of (N, C, H, W) with probability ``p`` and scale the rest by 1/(1 - p), as
    ``torch.nn.functional.dropout2d``. A 3-D input is read as (N, C, L), with PyTorch's warning (PyTorch does
    the same for now); other ranks warn too and drop along dim 1. The identity when not ``training``.
    ``inplace=True`` writes the result into ``input`` and returns it, as PyTorch's."""
    name = "dropout2d"
    p, x = _probability(p, name), _tensor(input, name)
    _dimension_warning(name, x.ndim, (3, 4), 2)
    if x.ndim == 3:
        warnings.warn(f"{name}: Received a 3D input to {name} and assuming that channel-wise 1D dropout behavior "
                      "is desired - input is interpreted as shape (N, C, L), where C is the channel dim (as "
                      "PyTorch); use dropout1d for that", stacklevel=2)
    if not flag(training, name, "training") or p == 0 or x.numel() == 0:
        return x
    # p = 1 zeroes before the rank check, as PyTorch
    return _maybe_in_place("feature_dropout_", x, inplace, lambda t: _zeroed(t) if p == 1 else
                           _inverted_dropout(t, p, _channel_mask_shape(t, name), name))


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:  # noqa: A002
    """Zero whole channels of (N, C, D, H, W) (or unbatched (C, D, H, W)) with probability ``p`` and scale the
    rest by 1/(1 - p), as ``torch.nn.functional.dropout3d``. Other ranks warn, as PyTorch. The identity when
    not ``training``. ``inplace=True`` writes the result into ``input`` and returns it, as PyTorch's."""
    name = "dropout3d"
    p, x = _probability(p, name), _tensor(input, name)
    _dimension_warning(name, x.ndim, (4, 5), 3)
    _unbatched_version(x, 5, inplace, name)
    if not flag(training, name, "training") or p == 0 or x.numel() == 0:
        return x

    def drop(t: Tensor) -> Tensor:
        if p == 1:   # before the rank check, as PyTorch
            return _zeroed(t)
        if t.ndim == 5:
            return _inverted_dropout(t, p, _channel_mask_shape(t, name), name)
        batched = t.unsqueeze(0)   # any other rank is one sample, as PyTorch
        return _inverted_dropout(batched, p, _channel_mask_shape(batched, name), name).squeeze(0)
    return _maybe_in_place("feature_dropout_", x, inplace, drop)


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,  # noqa: A002
                          inplace: bool = False) -> Tensor:
    """Alpha dropout (see ``F.alpha_dropout``) of whole channels of (N, C, *): each (sample, channel) is set with
    probability ``p`` to SELU's saturation, then a·x + b restores zero mean and unit variance; as
    ``torch.nn.functional.feature_alpha_dropout``. The identity when not ``training``. ``inplace=True`` writes
    the result into ``input`` and returns it, as PyTorch's."""
    name = "feature_alpha_dropout"
    p, x = _probability(p, name), _tensor(input, name)
    if not flag(training, name, "training") or p == 0 or x.numel() == 0:
        return x   # of any dtype, as PyTorch's
    x = _droppable(x, name)
    return _alpha_version(_maybe_in_place("feature_alpha_dropout_", x, inplace, lambda t: t * 0.0 if p == 1 else
                                         _alpha_dropped(t, p, _channel_mask_shape(t, name))), x, p)
