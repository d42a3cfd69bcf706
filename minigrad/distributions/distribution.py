"""The base class of every distribution, as PyTorch's ``torch.distributions.Distribution``.

Shapes: a distribution has a ``batch_shape`` (independent, differently parameterised copies) and an
``event_shape`` (one draw: ``()`` for a scalar, ``(k,)`` for a vector). ``sample(sample_shape)`` gives
``sample_shape + batch_shape + event_shape``; ``log_prob(value)`` takes such a value (any leading
dims broadcast) and gives its shape without the event dims; ``entropy()``, ``mean``, ``variance`` …
give ``batch_shape`` (+ ``event_shape`` for the moments).

Validation (on by default, as in PyTorch; ``validate_args=False`` or
``Distribution.set_default_validate_args(False)`` turns it off) checks every parameter against
``arg_constraints`` when the distribution is made and every value against ``support`` in
``log_prob``/``cdf``, raising PyTorch's ValueErrors. Those checks read values on the host.
"""

from __future__ import annotations

import operator
import warnings
from typing import Any

import minigrad as mg

from ..tensor import Tensor
from . import constraints
from .utils import lazy_property

__all__ = ["Distribution"]


def _all_true(valid: Any) -> bool:
    return bool(valid.data.all()) if isinstance(valid, Tensor) else bool(valid)


def _size(shape: Any) -> mg.Size:
    return mg.Size(tuple(shape))


class Distribution:
    """A probability distribution with batch and event shapes; subclasses give the parameters and formulas."""

    has_rsample = False
    has_enumerate_support = False
    _validate_args = True

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Turn argument and sample validation on or off for every distribution made afterwards."""
        if value not in (True, False):
            raise ValueError
        Distribution._validate_args = value

    def __init__(self, batch_shape: Any = (), event_shape: Any = (), validate_args: bool | None = None) -> None:
        self._batch_shape = _size(batch_shape)
        self._event_shape = _size(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            try:
                arg_constraints = self.arg_constraints
            except NotImplementedError:
                arg_constraints = {}
                warnings.warn(f"{self.__class__} does not define `arg_constraints`. Please set `arg_constraints = "
                              "{}` or initialize the distribution with `validate_args=False` to turn off "
                              "validation.", stacklevel=2)
            for param, constraint in arg_constraints.items():
                if constraints.is_dependent(constraint):
                    continue
                if param not in self.__dict__ and isinstance(getattr(type(self), param, None), lazy_property):
                    continue   # a parameter computed from another on first use
                value = getattr(self, param)
                if not _all_true(constraint.check(value)):
                    raise ValueError(f"Expected parameter {param} ({type(value).__name__} of shape "
                                     f"{tuple(value.shape)}) of distribution {self!r} to satisfy the constraint "
                                     f"{constraint!r}, but found invalid values:\n{value}")

    def expand(self, batch_shape: Any, _instance: Any = None) -> Distribution:
        """A new distribution with the parameters expanded (not copied) to ``batch_shape``."""
        raise NotImplementedError

    @property
    def batch_shape(self) -> mg.Size:
        """The shape over which parameters are batched."""
        return self._batch_shape

    @property
    def event_shape(self) -> mg.Size:
        """The shape of one draw (without batching)."""
        return self._event_shape

    @property
    def arg_constraints(self) -> dict:
        """Parameter name → the constraint it must satisfy."""
        raise NotImplementedError

    @property
    def support(self) -> Any:
        """The constraint every value must satisfy."""
        raise NotImplementedError

    @property
    def mean(self) -> Tensor:
        """The mean: batch_shape + event_shape."""
        raise NotImplementedError

    @property
    def mode(self) -> Tensor:
        """The mode: batch_shape + event_shape."""
        raise NotImplementedError(f"{self.__class__} does not implement mode")

    @property
    def variance(self) -> Tensor:
        """The variance: batch_shape + event_shape."""
        raise NotImplementedError

    @property
    def stddev(self) -> Tensor:
        """The standard deviation, sqrt(variance): batch_shape + event_shape."""
        return self.variance.sqrt()

    def sample(self, sample_shape: Any = ()) -> Tensor:
        """A draw without gradient: sample_shape + batch_shape + event_shape."""
        with mg.no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        """A reparameterised draw (gradients flow to the parameters): sample_shape + batch_shape + event_shape."""
        raise NotImplementedError(f"{type(self).__name__} has no reparameterised sampler (rsample); use sample")

    def sample_n(self, n: int) -> Tensor:
        """``sample((n,))`` (deprecated in PyTorch)."""
        warnings.warn("`sample_n(n)` will be deprecated. Use `sample((n,))` instead.", FutureWarning, stacklevel=2)
        return self.sample((n,))

    def log_prob(self, value: Tensor) -> Tensor:
        """The log density (or mass) at ``value`` (..., *event_shape) → (...)."""
        raise NotImplementedError

    def cdf(self, value: Tensor) -> Tensor:
        """The cumulative distribution function at ``value``; value's shape."""
        raise NotImplementedError

    def icdf(self, value: Tensor) -> Tensor:
        """The inverse CDF at probabilities ``value``; value's shape."""
        raise NotImplementedError

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """Every value of a discrete distribution along dim 0: (cardinality,) + batch_shape + event_shape
        (batch dims of size 1 without ``expand``)."""
        raise NotImplementedError

    def entropy(self) -> Tensor:
        """The entropy: batch_shape."""
        raise NotImplementedError

    def perplexity(self) -> Tensor:
        """exp(entropy): batch_shape."""
        return self.entropy().exp()

    def _extended_shape(self, sample_shape: Any = ()) -> mg.Size:
        """sample_shape + batch_shape + event_shape."""
        return _size(tuple(_size_arg(sample_shape)) + self._batch_shape + self._event_shape)

    def _validate_sample(self, value: Tensor) -> None:
        """Raise PyTorch's ValueError unless ``value`` has a broadcastable shape and lies in the support."""
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        event_dim_start = value.ndim - len(self._event_shape)
        if tuple(value.shape[event_dim_start:]) != tuple(self._event_shape):
            raise ValueError(f"The right-most size of value must match event_shape: {_size(value.shape)} vs "
                             f"{self._event_shape}.")
        actual, expected = value.shape, self._batch_shape + self._event_shape
        for i, j in zip(reversed(actual), reversed(expected)):
            if i != 1 and j != 1 and i != j:
                raise ValueError(f"Value is not broadcastable with batch_shape+event_shape: {_size(actual)} vs "
                                 f"{_size(expected)}.")
        try:
            support = self.support
        except NotImplementedError:
            warnings.warn(f"{self.__class__} does not define `support` to enable sample validation. Please "
                          "initialize the distribution with `validate_args=False` to turn off validation.",
                          stacklevel=2)
            return
        if not _all_true(support.check(value)):
            raise ValueError(f"Expected value argument ({type(value).__name__} of shape {tuple(value.shape)}) to be "
                             f"within the support ({support!r}) of the distribution {self!r}, but found invalid "
                             f"values:\n{value}")

    def _expanded(self, cls: type, batch_shape: Any, _instance: Any, names: tuple, event_shape: Any = ()) -> Any:
        """A copy of ``self`` (an instance of ``cls``) with the parameters ``names`` (that have no event dims
        beyond ``event_shape``) expanded to ``batch_shape + event_shape``, unchecked, as PyTorch's ``expand``."""
        new = self._get_checked_instance(cls, _instance)
        shape = _size(batch_shape)
        for name in names:
            if name in self.__dict__:
                setattr(new, name, self.__dict__[name].expand(tuple(shape) + tuple(event_shape)))
        Distribution.__init__(new, shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _get_checked_instance(self, cls: type, _instance: Any = None) -> Any:
        if _instance is None and type(self).__init__ != cls.__init__:
            raise NotImplementedError(f"Subclass {self.__class__.__name__} of {cls.__name__} that defines a custom "
                                      "__init__ method must also define a custom .expand() method.")
        return self.__new__(type(self)) if _instance is None else _instance

    def __repr__(self) -> str:
        names = [k for k in self.arg_constraints if k in self.__dict__]
        parts = [f"{p}: {self.__dict__[p] if self.__dict__[p].numel() == 1 else self.__dict__[p].size()}"
                 for p in names]   # a 0-d tensor formats as its number, as PyTorch's
        return f"{type(self).__name__}({', '.join(parts)})"


def _size_arg(sample_shape: Any) -> tuple:
    """A sample shape as a tuple of ints (an int n means (n,), as torch.Size accepts only sequences)."""
    if isinstance(sample_shape, int) and not isinstance(sample_shape, bool):
        return (sample_shape,)
    try:
        return tuple(operator.index(n) for n in sample_shape)   # a float size raises, as torch.Size
    except TypeError:
        raise TypeError(f"sample_shape must be a tuple of ints, got {sample_shape!r}") from None

