"""Helpers shared by the distributions, with ``torch.distributions.utils``' names: broadcasting the
parameters, probabilities ↔ logits, cached properties, one-hot vectors."""

from __future__ import annotations

from functools import update_wrapper
from typing import Any, Callable

import minigrad as mg

from ..tensor import Tensor
from . import constraints

__all__ = ["broadcast_all", "clamp_probs", "lazy_property", "logits_to_probs", "probs_to_logits", "tril_matrix_to_vec",
           "vec_to_tril_matrix"]

euler_constant = 0.57721566490153286060


def is_number(value: Any) -> bool:
    """A Python int, float or bool (PyTorch's numbers.Number: ``Bernoulli(True)``, ``Normal(0, True)``): a parameter
    given as a number gives an empty batch shape."""
    return isinstance(value, (int, float))


def broadcast_all(*values: Any) -> tuple:
    """Tensors and numbers broadcast to one shape (torch.distributions.utils.broadcast_all).

    Numbers become tensors of the first tensor's dtype and device, or of the default dtype when all
    are numbers. Anything else raises the ValueError PyTorch raises.
    """
    if not all(isinstance(v, Tensor) or is_number(v) for v in values):
        raise ValueError("Input arguments must all be instances of Number, torch.Tensor or objects implementing "
                         "__torch_function__.")
    first = next((v for v in values if isinstance(v, Tensor)), None)
    dtype = mg.get_default_dtype() if first is None else first.dtype
    device = None if first is None else first.device
    tensors = [v if isinstance(v, Tensor) else mg.tensor(v, dtype=dtype, device=device) for v in values]
    return tuple(mg.broadcast_tensors(*tensors))


def clamp_by_zero(x: Tensor) -> Tensor:
    """max(x, 0) with PyTorch's gradient: 1 above 0, 0 below and ½ at 0 (a plain clamp gives 1 there, relu 0);
    0 at x = -inf (where (|x| + x) / 2 would give NaN)."""
    return (x.clamp(min=0) + x.relu()) / 2


def softplus(x: Tensor) -> Tensor:
    """log(1 + eˣ) = max(x, 0) + log(1 + e^-|x|), stable for any x; gradient sigmoid(x) (½ at 0, where a plain
    clamp and |x| would give 1 or 0)."""
    return clamp_by_zero(x) + (-x.abs()).exp().log1p()


def value_like(value: Any, like: Tensor) -> Any:
    """A value to score (log_prob, cdf, icdf) next to the parameter ``like``: an integer or bool tensor takes
    ``like``'s float dtype, as PyTorch's promotion gives (float32 parameters and int64 counts score in float32,
    where NumPy's rule would give float64); anything else is returned as it is. Shapes kept."""
    if isinstance(value, Tensor) and value.dtype.kind in "biu" and like.dtype.kind == "f":
        return value.astype(like.dtype)
    return value


def logits_to_probs(logits: Tensor, is_binary: bool = False) -> Tensor:
    """sigmoid(logits) for a binary variable, else softmax over the last dim. Shapes kept."""
    return logits.sigmoid() if is_binary else mg.softmax(logits, -1)


def clamp_probs(probs: Tensor) -> Tensor:
    """probs clamped to [eps, 1 - eps] of their dtype, so their logs are finite."""
    eps = mg.finfo(probs.dtype).eps
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs: Tensor, is_binary: bool = False) -> Tensor:
    """log p - log(1 - p) for a binary variable, else log p (probs clamped first). Shapes kept."""
    clamped = clamp_probs(probs)
    return clamped.log() - (-clamped).log1p() if is_binary else clamped.log()


class lazy_property:  # noqa: N801 - PyTorch's name
    """A property computed on first use (with gradients recorded) and then stored on the instance."""

    def __init__(self, wrapped: Callable) -> None:
        self.wrapped = wrapped
        update_wrapper(self, wrapped)  # type: ignore[arg-type]

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        if instance is None:
            return self
        with mg.enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value


def sum_rightmost(value: Tensor, dim: int) -> Tensor:
    """``value`` summed over its ``dim`` rightmost dims: (..., *rightmost) → (...). A sum over the dims, not a
    reshape to (..., -1): that has no size to infer for an empty batch (PyTorch 2.13 raises there). A ``dim``
    beyond value's dims sums them all, as PyTorch's (a transform's Jacobian of a smaller-than-event input)."""
    dims = min(dim, value.ndim)
    return value.sum(tuple(range(-dims, 0))) if dims else value


def tril_matrix_to_vec(mat: Tensor, diag: int = 0) -> Tensor:
    """The entries on and below diagonal ``diag`` of (..., n, n) matrices in row order: (..., m)."""
    n = mat.shape[-1]
    if mat.ndim < 2 or mat.shape[-2] != n:   # PyTorch's (n, n) mask refuses them: IndexError
        raise IndexError(f"tril_matrix_to_vec: expected square matrices (..., n, n), got shape {tuple(mat.shape)}")
    if diag < -n or diag >= n:
        raise ValueError(f"diag ({diag}) provided is outside [{-n}, {n - 1}].")
    rows, cols = mg.tril_indices(n, n, diag, device=mat.device)
    return mat[..., rows, cols]


def vec_to_tril_matrix(vec: Tensor, diag: int = 0) -> Tensor:
    """(..., m) → (..., n, n) lower-triangular matrices holding the entries in row order on and below diagonal
    ``diag`` (zeros elsewhere); a gather, so gradients flow back to ``vec``."""
    m = vec.shape[-1]
    root = (-(1 + 2 * diag) + ((1 + 2 * diag) ** 2 + 8 * m + 4 * abs(diag) * (diag + 1)) ** 0.5) / 2
    if abs(round(root) - root) > float(mg.finfo(vec.dtype).eps):   # PyTorch tests one side only
        raise ValueError(f"The size of last dimension is {m} which cannot be expressed as the lower triangular part "
                         "of a square D x D matrix.")
    n = round(root)
    rows, cols = mg.tril_indices(n, n, diag, device=vec.device)
    source = mg.full((n * n,), m, dtype=mg.int64, device=vec.device)   # position m: the zero padded on below
    source[rows * n + cols] = mg.arange(m, device=vec.device)
    padded = mg.cat([vec, vec.new_zeros(tuple(vec.shape[:-1]) + (1,))], -1)
    return padded[..., source].reshape(tuple(vec.shape[:-1]) + (n, n))


def one_hot(indices: Tensor, num_classes: int, dtype: Any) -> Tensor:
    """indices (...) → (..., num_classes) of 0s with a 1 at each index, in ``dtype``."""
    classes = mg.arange(num_classes, device=indices.device)
    return (indices.unsqueeze(-1) == classes).astype(dtype)


def standard_normal(shape: tuple, like: Tensor) -> Tensor:
    """N(0, 1) samples of ``shape`` in ``like``'s dtype and on its device (the engine's generator)."""
    return mg.randn(tuple(shape), dtype=like.dtype, device=like.device)


def uniform(shape: tuple, like: Tensor) -> Tensor:
    """U[0, 1) samples of ``shape`` in ``like``'s dtype and on its device (the engine's generator)."""
    return mg.rand(tuple(shape), dtype=like.dtype, device=like.device)


class Located:
    """For a distribution with a ``loc`` parameter (Normal, Laplace, MultivariateNormal): mean and mode are
    ``loc``."""

    loc: Any

    @property
    def mean(self) -> Any:
        return self.loc

    @property
    def mode(self) -> Any:
        return self.loc


class LocationScale:
    """For a distribution on the reals with a ``loc`` and a positive ``scale`` (Normal, Laplace, Cauchy): the two
    broadcast together give the batch shape."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc: Tensor | float, scale: Tensor | float, validate_args: bool | None = None) -> None:
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.shape, validate_args=validate_args)  # type: ignore[call-arg]


class BinaryParameters:
    """For a distribution of successes (Bernoulli, Binomial): ``probs`` and ``logits`` of one success, each
    computed from the other when first read; ``param_shape`` is the given one's."""

    _param: Any

    def _set_probs_or_logits(self, probs: Any, logits: Any, total_count: Any = None) -> None:
        """Keeps the one of ``probs`` and ``logits`` given (a ValueError unless exactly one is) as a tensor and as
        ``_param``; with ``total_count`` (Binomial, NegativeBinomial), broadcasts the two and keeps total_count in
        the parameter's dtype."""
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        name, given = ("probs", probs) if probs is not None else ("logits", logits)
        if total_count is None:
            (self._param,) = broadcast_all(given)
        else:
            total_count, self._param = broadcast_all(total_count, given)
            self.total_count = total_count.type_as(self._param)
        setattr(self, name, self._param)   # the other one is computed when first read

    def _expanded(self, cls: type, batch_shape: Any, _instance: Any, names: tuple, event_shape: Any = ()) -> Any:
        new = super()._expanded(cls, batch_shape, _instance, names, event_shape)  # type: ignore[misc]
        new._param = new.probs if "probs" in self.__dict__ else new.logits
        return new

    @lazy_property
    def logits(self) -> Any:
        """log(p / (1 - p)): batch_shape."""
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self) -> Any:
        """P(success) = sigmoid(logits): batch_shape."""
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def param_shape(self) -> Any:
        return self._param.size()


class CategoricalParameters:
    """For a distribution built on a Categorical ``_categorical`` (Multinomial, ExpRelaxedCategorical): its
    ``probs``, ``logits`` (*batch_shape, K) and ``param_shape``."""

    _categorical: Any

    @property
    def logits(self) -> Any:
        return self._categorical.logits

    @property
    def probs(self) -> Any:
        return self._categorical.probs

    @property
    def param_shape(self) -> Any:
        return self._categorical.param_shape


class RelaxedParameters:
    """For a relaxed distribution, a transform of ``base_dist`` (RelaxedBernoulli, RelaxedOneHotCategorical): the
    base's ``temperature``, ``logits`` and ``probs``."""

    base_dist: Any

    @property
    def temperature(self) -> Any:
        return self.base_dist.temperature

    @property
    def logits(self) -> Any:
        return self.base_dist.logits

    @property
    def probs(self) -> Any:
        return self.base_dist.probs
