"""Samplers: the order in which a DataLoader visits a dataset's indices, as ``torch.utils.data``'s.

A sampler is any iterable of indices (``len`` optional); a batch sampler
yields lists of indices. ``RandomSampler`` draws a fresh order on every pass
from the ``generator`` given (an ``mg.Generator`` or a NumPy ``Generator``) or from the
engine's, which ``mg.manual_seed`` seeds.
"""

from __future__ import annotations

from typing import Any, Generic, Iterable, Iterator, Sized, TypeVar

import numpy

import minigrad as mg
from minigrad.generators import drawing_from

__all__ = ["BatchSampler", "RandomSampler", "Sampler", "SequentialSampler", "SubsetRandomSampler",
           "WeightedRandomSampler"]


def _check_generator(generator: Any, name: str) -> Any:
    """The host array generator to draw from: an ``mg.Generator``'s (on the CPU), a NumPy ``Generator``, or
    None for the engine's own (looked up at each draw, so that ``mg.manual_seed`` later still counts)."""
    if generator is None:
        return None
    return drawing_from(generator, mg.Device("cpu"), name)


def _host_stream(generator: Any, name: str) -> Any:
    """The host array generator of ``generator`` (or the engine's) now: looked up at each pass, so that
    ``generator.manual_seed`` or ``set_state`` after the sampler was made counts, as in PyTorch."""
    return _check_generator(generator, name) or mg.random_generator("cpu")


class _AssertValueError(ValueError, AssertionError):
    """A ValueError where PyTorch raises AssertionError (an ``except`` of either catches it)."""


class _AssertTypeError(TypeError, AssertionError):
    """A TypeError where PyTorch raises AssertionError (an ``except`` of either catches it)."""


class _ZeroDivisionValueError(ValueError, ZeroDivisionError):
    """A ValueError where PyTorch divides by zero (an ``except`` of either catches it)."""


class _RuntimeValueError(ValueError, RuntimeError):
    """A ValueError where PyTorch raises RuntimeError (an ``except`` of either catches it)."""


def _flag(value: Any, what: str, name: str, error: type[Exception] = TypeError) -> bool:
    """A bool option, as PyTorch checks it (1 or "yes" are refused: a typo must not pass silently); ``error``
    is the class PyTorch raises there (TypeError in RandomSampler, ValueError in BatchSampler and
    WeightedRandomSampler)."""
    if not isinstance(value, (bool, numpy.bool_)):
        raise error(f"{name}: {what} should be a boolean value, but got {what}={value!r}")
    return bool(value)


def _count(value: Any, what: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)) or value <= 0:
        raise ValueError(f"{name}: {what} should be a positive integer value, but got {what}={value!r}")
    return int(value)


T_co = TypeVar("T_co", covariant=True)


class Sampler(Generic[T_co]):
    """Base class: ``iter(sampler)`` yields dataset indices. Generic as PyTorch's (``Sampler[int]``)."""

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError(f"{type(self).__name__} has no __iter__()")


class SequentialSampler(Sampler):
    """0, 1, …, len(data_source) - 1."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation of the indices per pass, or ``num_samples`` draws with replacement."""

    def __init__(self, data_source: Sized, replacement: bool = False, num_samples: int | None = None,
                 generator: Any = None) -> None:
        self.data_source, self.replacement = data_source, _flag(replacement, "replacement", "RandomSampler")
        self._num_samples = None if num_samples is None else _count(num_samples, "num_samples", "RandomSampler")
        _check_generator(generator, "RandomSampler")
        self.generator = generator   # as given (PyTorch's attribute); its stream is looked up at each pass
        _count(self.num_samples, "num_samples", "RandomSampler")   # as PyTorch: an empty data_source is refused

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n = len(self.data_source)
        rng = _host_stream(self.generator, "RandomSampler")
        if self.replacement:
            if n == 0:
                raise _RuntimeValueError(f"RandomSampler: cannot draw {self.num_samples} samples with replacement "
                                         "from an empty data_source")
            return iter(int(i) for i in rng.integers(0, n, self.num_samples))
        if n == 0:   # PyTorch's num_samples // n: a ZeroDivisionError
            raise _ZeroDivisionValueError(f"RandomSampler: cannot draw {self.num_samples} samples without "
                                          "replacement from an empty data_source")
        # as PyTorch: num_samples beyond n repeats whole permutations
        order = [int(i) for _ in range(-(-self.num_samples // n)) for i in rng.permutation(n)]
        return iter(order[:self.num_samples])

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size`` (the last shorter unless ``drop_last``)."""

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool) -> None:
        self.sampler, self.batch_size = sampler, _count(batch_size, "batch_size", "BatchSampler")
        self.drop_last = _flag(drop_last, "drop_last", "BatchSampler", ValueError)

    def __iter__(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a fresh random order on every pass (from ``generator`` or the engine's)."""

    def __init__(self, indices: Any, generator: Any = None) -> None:
        self.indices = indices
        _check_generator(generator, "SubsetRandomSampler")
        self.generator = generator

    def __iter__(self) -> Iterator[Any]:
        rng = _host_stream(self.generator, "SubsetRandomSampler")
        order = [self.indices[int(i)] for i in rng.permutation(len(self.indices))]
        return iter(order)

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices in [0, len(weights)) drawn with probabilities proportional to ``weights``
    (a 1-D sequence or Tensor of non-negative numbers), with replacement by default, as PyTorch's; without
    replacement ``num_samples`` may not exceed the number of non-zero weights (an error when iterating)."""

    def __init__(self, weights: Any, num_samples: int, replacement: bool = True, generator: Any = None) -> None:
        self.num_samples = _count(num_samples, "num_samples", "WeightedRandomSampler")
        self.replacement = _flag(replacement, "replacement", "WeightedRandomSampler", ValueError)
        values = weights.numpy() if isinstance(weights, mg.Tensor) else numpy.asarray(weights)
        if values.dtype.kind not in "biuf":
            raise TypeError(f"WeightedRandomSampler: weights must be numbers, got dtype {values.dtype}")
        if values.ndim != 1:
            raise ValueError(f"WeightedRandomSampler: weights should be a 1d sequence but given weights have "
                             f"shape {tuple(values.shape)}")
        self.weights = mg.tensor(values.astype(numpy.float64), device="cpu")
        _check_generator(generator, "WeightedRandomSampler")
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        if not self.weights.shape[0]:   # PyTorch's multinomial: an empty distribution sums to 0
            raise _RuntimeValueError("WeightedRandomSampler: invalid multinomial distribution (sum of probabilities "
                                     "<= 0): weights is empty")
        if not self.replacement and self.num_samples > self.weights.shape[0]:
            raise _RuntimeValueError(f"WeightedRandomSampler: cannot sample n_sample > prob_dist.size(-1) samples "
                                     f"without replacement (num_samples={self.num_samples}, "
                                     f"{self.weights.shape[0]} weights)")
        rng = _host_stream(self.generator, "WeightedRandomSampler")
        drawn = mg.multinomial(self.weights, self.num_samples, self.replacement, generator=rng)
        return iter(drawn.tolist())

    def __len__(self) -> int:
        return self.num_samples
