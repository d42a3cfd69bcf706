"""Random sampling with PyTorch's names: ``randperm``, ``multinomial``, ``bernoulli``/``bernoulli_`` and
``normal``. All draw from the engine's generator (seeded by ``mg.manual_seed``) through ``mg.rand`` /
``mg.randn``, so they work on every device and an ``mg.compile`` replay draws fresh numbers.

The samples carry no gradient (PyTorch's are not reparameterised either).
"""

from __future__ import annotations

import operator
from typing import Any

import numpy

from .. import backend
from ..constructors import rand, randn
from ..tensor import Tensor, float32, int64
from ._util import int_tuple, number, tensor_arg
from .inplace import _fill, _inplace


def _host(value: Any) -> Any:
    """A number or an array (on any device) as a NumPy array, for checking its values."""
    return numpy.asarray(backend.to_numpy(value) if backend.is_array(value) else value)


def _count(n: Any, name: str, what: str) -> int:
    if isinstance(n, bool):
        raise TypeError(f"{name}: {what} must be an int, got {n!r}")
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"{name}: {what} must be an int, got {n!r}") from None
    if n < 0:
        raise ValueError(f"{name}: {what} must be non-negative, got {n}")
    return n


def randperm(n: int, *, dtype: Any = int64, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A random permutation of 0 … n-1 (int64 by default), as torch.randperm."""
    n = _count(n, "randperm", "n")
    keys = rand(n, dtype="float64", device=device)
    return Tensor._make(keys.data.argsort(kind="stable").astype(dtype), requires_grad, None, 0)


def _probabilities(probs: Any, name: str) -> Tensor:
    probs = tensor_arg(probs, name)
    if probs.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating point tensor of probabilities, got dtype {probs.dtype}")
    return probs


def multinomial(probs: Tensor, num_samples: int, replacement: bool = False) -> Tensor:
    """Category indices drawn with weights ``probs`` (non-negative, need not sum to 1), as torch.multinomial.

    Shapes: probs (C,) → (num_samples,); probs (B, C) → (B, num_samples), one draw per row; int64.
    Without replacement each row gives distinct categories (at most its number of non-zero weights).
    """
    probs = _probabilities(probs, "multinomial")
    k = _count(num_samples, "multinomial", "num_samples")
    if probs.ndim not in (1, 2):
        raise ValueError(f"multinomial: probs must be 1-D or 2-D, got shape {probs.shape}")
    rows = probs.data.reshape(1, -1) if probs.ndim == 1 else probs.data
    xp = backend.array_module(rows)
    weights = rows.astype("float64")
    if rows.shape[1] == 0:
        raise ValueError("multinomial: probs has no categories (size 0)")
    if not bool(xp.isfinite(weights).all()) or bool((weights < 0).any()):
        raise ValueError("multinomial: probs must be finite and non-negative")
    totals = weights.sum(axis=1, keepdims=True)
    if bool((totals <= 0).any()):
        raise ValueError("multinomial: each row of probs must have a positive sum")
    if not replacement and k > int((weights > 0).sum(axis=1).min()):
        raise ValueError(f"multinomial: cannot draw {k} samples without replacement from a row with fewer "
                         "non-zero weights")
    uniform = rand(rows.shape[0], k if replacement else rows.shape[1], dtype="float64", device=probs.device).data
    if replacement:
        cdf = xp.cumsum(weights / totals, axis=1)
        cdf[:, -1] = 1.0   # rounding must not leave the last category unreachable
        picks = (uniform[:, :, None] >= cdf[:, None, :]).sum(axis=2)
        picks = xp.minimum(picks, rows.shape[1] - 1)
    else:
        # Gumbel top-k: the k largest log w + Gumbel noise are a draw without replacement
        with backend.errstate(xp, divide="ignore"):
            keys = xp.log(weights) - xp.log(-xp.log(xp.maximum(uniform, 1e-300)))
        picks = xp.argsort(-keys, axis=1, kind="stable")[:, :k]
    picks = picks.astype("int64")
    return Tensor._make(picks.reshape(-1) if probs.ndim == 1 else picks, False, None, 0)


def bernoulli(probs: Tensor, p: Any = None) -> Tensor:
    """1 with probability ``probs`` (elementwise; or the number ``p`` for all), else 0; probs's dtype."""
    probs = _probabilities(probs, "bernoulli")
    chance = probs.data if p is None else number(p, "bernoulli", "p")
    if p is not None and not 0 <= chance <= 1:
        raise ValueError(f"bernoulli: p must be in [0, 1], got {p}")
    if p is None and probs.data.size and not bool(((probs.data >= 0) & (probs.data <= 1)).all()):
        raise ValueError("bernoulli: probabilities must be in [0, 1]")
    draw = rand(*probs.shape, dtype="float64", device=probs.device).data
    xp = backend.array_module(draw)
    return Tensor._make(xp.asarray(draw < chance).astype(probs.dtype), False, None, 0)   # 0-d: an array


def bernoulli_(x: Tensor, p: Any = 0.5) -> Tensor:
    """Fill ``x`` in place with 1 with probability ``p`` (a number or a tensor broadcast to x), else 0."""
    if not isinstance(x, Tensor):
        raise TypeError(f"bernoulli_: expected a Tensor, got {type(x).__name__}")
    chance = p.data if isinstance(p, Tensor) else number(p, "bernoulli_", "p")
    if not bool(((_host(chance) >= 0) & (_host(chance) <= 1)).all()):
        raise ValueError("bernoulli_: p must be in [0, 1]")
    draw = rand(*x.shape, dtype="float64", device=x.device).data
    sample = Tensor._make(backend.array_module(draw).asarray(draw < chance).astype(x.dtype), False, None, 0)
    return _inplace(x, "bernoulli_", _fill("bernoulli_", True, sample))


def normal(mean: Any = 0.0, std: Any = 1.0, size: Any = None, *, dtype: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Samples of N(mean, std²), as torch.normal: ``mean`` and ``std`` are tensors (broadcast together,
    the result takes their shape) or numbers with a ``size``."""
    tensors = [t for t in (mean, std) if isinstance(t, Tensor)]
    for value, what in ((mean, "mean"), (std, "std")):
        if not isinstance(value, Tensor):
            number(value, "normal", what)
    if tensors:
        if size is not None:
            raise TypeError("normal: give size only when mean and std are both numbers")
        try:
            shape = tuple(numpy.broadcast_shapes(*(t.shape for t in tensors)))
        except ValueError:
            raise ValueError(f"normal: mean and std shapes {[t.shape for t in tensors]} do not broadcast") from None
        kind = dtype or tensors[0].dtype
        device = device or tensors[0].device
    else:
        if size is None:
            raise TypeError("normal: with numbers for mean and std, give size (e.g. normal(0, 1, (2, 3)))")
        shape = int_tuple(size, "normal", "size")
        kind = dtype or float32
    std_data = std.data if isinstance(std, Tensor) else std
    if bool((_host(std_data) < 0).any()):
        raise ValueError("normal: std must be non-negative")
    sample = randn(*shape, dtype=kind, device=device).data
    mean_data = mean.data if isinstance(mean, Tensor) else mean
    out = backend.array_module(sample).asarray(sample * std_data + mean_data).astype(kind, copy=False)
    return Tensor._make(out, requires_grad, None, 0)
