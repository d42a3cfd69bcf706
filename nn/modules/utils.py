"""``torch.nn.modules.utils``' tuple helpers, which custom layers import: ``_pair(3) == (3, 3)``."""

from __future__ import annotations

import collections.abc
from itertools import repeat
from typing import Any, Callable


def _ntuple(n: int, name: str = "parse") -> Callable[[Any], tuple]:
    """A function that repeats a single value ``n`` times and returns an iterable as a tuple (a str too, as
    PyTorch's: ``_pair("ab") == ("a", "b")``)."""
    def parse(x: Any) -> tuple:
        if isinstance(x, collections.abc.Iterable):
            return tuple(x)
        return tuple(repeat(x, n))
    parse.__name__ = name
    return parse


_single = _ntuple(1, "_single")
_pair = _ntuple(2, "_pair")
_triple = _ntuple(3, "_triple")
_quadruple = _ntuple(4, "_quadruple")


def _reverse_repeat_tuple(t: Any, n: int) -> tuple:
    """Each entry of ``t`` in reverse order, repeated ``n`` times: (1, 2) with n = 2 → (2, 2, 1, 1) (F.pad's
    order of a convolution's padding)."""
    return tuple(x for x in reversed(t) for _ in range(n))
