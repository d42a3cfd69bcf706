"""Samplers: the order in which a DataLoader visits a dataset's indices, as ``torch.utils.data``'s.

A sampler is any iterable of indices (``len`` optional); a batch sampler
yields lists of indices. ``RandomSampler`` draws a fresh order on every pass
from the ``generator`` given (an ``mg.Generator`` or a NumPy ``Generator``) or from the
engine's, which ``mg.manual_seed`` seeds.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Sized

import numpy

import minigrad as mg
from minigrad.generators import drawing_from

__all__ = ["BatchSampler", "RandomSampler", "Sampler", "SequentialSampler"]


def _check_generator(generator: Any, name: str) -> Any:
    """The host array generator to draw from: an ``mg.Generator``'s (on the CPU), a NumPy ``Generator``, or
    None for the engine's own (looked up at each draw, so that ``mg.manual_seed`` later still counts)."""
    if generator is None:
        return None
    return drawing_from(generator, mg.Device("cpu"), name)


def _count(value: Any, what: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)) or value <= 0:
        raise ValueError(f"{name}: {what} should be a positive integer value, but got {what}={value!r}")
    return int(value)


class Sampler:
    """Base class: ``iter(sampler)`` yields dataset indices."""

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
        self.data_source, self.replacement = data_source, bool(replacement)
        self._num_samples = None if num_samples is None else _count(num_samples, "num_samples", "RandomSampler")
        self.generator = _check_generator(generator, "RandomSampler")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n = len(self.data_source)
        rng = self.generator if self.generator is not None else mg.random_generator("cpu")
        if self.replacement:
            return iter(int(i) for i in rng.integers(0, n, self.num_samples))
        # as PyTorch: num_samples beyond n repeats whole permutations
        order = [int(i) for _ in range(-(-self.num_samples // max(n, 1))) for i in rng.permutation(n)]
        return iter(order[:self.num_samples])

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size`` (the last shorter unless ``drop_last``)."""

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool) -> None:
        self.sampler, self.batch_size = sampler, _count(batch_size, "batch_size", "BatchSampler")
        self.drop_last = bool(drop_last)

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
