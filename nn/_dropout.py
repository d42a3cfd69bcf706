"""Dropout as ``torch.nn.functional``'s (re-exported by ``nn.functional``): ``dropout``, ``dropout1d`` and
``alpha_dropout`` (attention's dropout is ``dropout`` too).

The masks come from the engine's generator on the input's device (``mg.manual_seed``), through ``mg.rand``
and a comparison rather than raw arrays, so an ``mg.compile`` replay draws a fresh mask on every call.
``inplace=True`` writes the result into the input and returns the input itself, as PyTorch's (nn/_in_place.py);
where PyTorch's returns its input untouched (not ``training``, ``p = 0``, an empty input) so does it, a leaf that
requires grad included.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy

import minigrad as mg
from minigrad import Tensor, memory_formats
from minigrad._nn_support import ArgumentTypeError

from ._arguments import _floating, _tensor
from ._errors import ComplexInputError, InputDtypeError, InputShapeError
from ._flags import flag
from ._in_place import written_in_place

__all__ = ["alpha_dropout", "dropout", "dropout1d"]


def _refuse_complex_mask(x: Tensor) -> None:
    """ComplexInputError (NotImplementedError, as PyTorch's) for a complex x: PyTorch draws the random mask with
    ``bernoulli_`` in the input's dtype, which has no complex kernel (p = 0 and p = 1 need no mask and pass)."""
    if x.dtype.kind == "c":
        raise ComplexInputError(f"dropout: a random mask of a complex input is not implemented (dtype {x.dtype}, shape "
                                f"{x.shape}), as in PyTorch; drop the real and imaginary parts with one real mask")


def _droppable(x: Tensor, name: str) -> Tensor:
    """x if it is floating point or complex (a complex one is zeroed by p = 1 and refused a random mask, as
    PyTorch's), else :func:`_floating`'s error naming ``name``."""
    return x if x.dtype.kind == "c" else _floating(x, name)


def _in_layout(x: Tensor, mask_shape: tuple, drop: Callable[[Tensor, tuple], Tensor]) -> Tensor:
    """``drop(x, mask_shape)`` laid out as x, as PyTorch's dropouts keep a transposed, permuted or channels-last
    input's layout: such an x is dropped viewed in its memory order (its mask drawn in that order too, as
    PyTorch's), and the result viewed back. ``mask_shape`` has x's number of dims."""
    order = memory_formats._stride_order(x.data)   # None for a C-ordered x (one flags check)
    if order is None:
        return drop(x, tuple(mask_shape))
    back = tuple(order.index(d) for d in range(x.ndim))
    return drop(x.permute(order), tuple(mask_shape[d] for d in order)).permute(back)


def _zeroed(x: Tensor) -> Tensor:
    """x times zero, in x's dtype (an integer or bool x too, as PyTorch's p = 1 dropouts return); x's shape."""
    return x * 0.0 if x.dtype.kind in "fc" else mg.zeros_like(x)


def _inverted_dropout(x: Tensor, p: float, mask_shape: tuple, name: str = "dropout") -> Tensor:
    """x with each entry zeroed with probability ``p`` (a ``mask_shape`` of x's rank that broadcasts against x,
    such as (N, C, 1), zeroes whole rows) and the rest scaled by 1/(1-p); in x's layout. x itself for p = 0;
    p is in [0, 1]. An integer or bool x with 0 < p < 1 raises PyTorch's RuntimeError (an InputDtypeError
    naming ``name``): the 1/(1-p) scale is a float that x's dtype cannot hold."""
    if p == 0:
        return x
    if p == 1:
        return _zeroed(x)
    if x.dtype.kind in "biu":
        raise InputDtypeError(f"{name}: result type float can't be cast to the input's dtype {x.dtype} (shape "
                              f"{x.shape}, p={p}): a dropout with 0 < p < 1 needs a floating-point input, as PyTorch")
    _refuse_complex_mask(x)

    def drop(t: Tensor, shape: tuple) -> Tensor:
        keep = mg.rand(shape, dtype=mg.float32, device=t.device) >= p
        return t * (keep.astype(t.dtype) * t.dtype.type(1.0 / (1.0 - p)))
    return _in_layout(x, mask_shape, drop)


def _unbatched_version(x: Tensor, batched: int, inplace: Any, name: str) -> None:
    """Move the version of an input of other than ``batched`` dims, written in place, on by two, as PyTorch's
    ``unsqueeze_(0)`` and ``squeeze_(0)`` around its channel dropout do (whatever ``p`` and ``training``)."""
    if x.ndim != batched and inplace is not False and flag(inplace, name, "inplace"):
        x._bump_version()
        x._bump_version()


def _alpha_version(out: Tensor, x: Tensor, p: float) -> Tensor:
    """``out``; x's version moved on once more when it was written in place with 0 < p < 1, where PyTorch's
    in-place alpha dropout is two ops (``mul_`` and ``add_``)."""
    if out is x and p < 1:
        x._bump_version()
    return out


def _maybe_in_place(name: str, x: Tensor, inplace: bool, drop: Callable[[Tensor], Tensor]) -> Tensor:
    """``drop(x)``, written into ``x`` (and x returned) when ``inplace``; ``name`` is PyTorch's in-place op's."""
    return written_in_place(name, x, drop) if inplace is not False and flag(inplace, name, "inplace") else drop(x)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:  # noqa: A002
    """Inverted dropout: zero each entry with probability ``p`` and scale the rest by 1/(1-p).

    The identity (``input`` itself) when ``training`` is False or ``p`` is 0. The mask comes from the engine's
    generator on ``input``'s device. ``inplace=True`` writes the result into ``input`` and returns it. Any shape.
    """
    x, p = _tensor(input, "dropout"), _probability(p, "dropout")
    if not flag(training, "dropout", "training") or p == 0 or x.numel() == 0:   # training="False" is not True
        return x
    return _maybe_in_place("dropout_", x, inplace, lambda t: _inverted_dropout(t, p, t.shape))


def _unwrapped(p: Any) -> Any:
    """A 0-d real tensor's value (PyTorch's float arguments take one); anything else as given."""
    return p.item() if isinstance(p, Tensor) and p.ndim == 0 and p.dtype.kind in "biuf" else p


def _probability(p: Any, name: str, module: bool = False) -> float:
    """``p`` as a float in [0, 1]: a Python or NumPy number (a bool too: ``p=True`` is 1, as PyTorch's), or a 0-d
    real or bool tensor; another number raises PyTorch's ValueError (and message) naming ``name``, anything else
    (None, a tensor with dims) its TypeError. A NaN passes PyTorch's ``p < 0 or p > 1``: a ``module`` keeps it, and
    a call refuses it as PyTorch's kernels do (RuntimeError, and a ValueError as the other values). The one check
    of every dropout function and module."""
    p = _unwrapped(p)
    if not isinstance(p, (int, float, numpy.integer, numpy.floating, numpy.bool_)):
        kind = ArgumentTypeError if isinstance(p, Tensor) else TypeError   # (a tensor of more elements: RuntimeError)
        raise kind(f"{name}: the dropout probability p must be a number in [0, 1], got {p!r:.60}")
    if p < 0 or p > 1:
        raise ValueError(f"{name}: dropout probability has to be between 0 and 1, but got {p!r}")
    if p != p and not module:
        raise InputShapeError(f"{name}: dropout probability has to be between 0 and 1, but got {p!r}")
    return float(p)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:  # noqa: A002
    """Zero whole channels: each (sample, channel) row of (N, C, L) (or (C, L)) with probability ``p``, and
    scale the rest by 1/(1 - p); as ``torch.nn.functional.dropout1d``. The identity when not ``training``.
    ``inplace=True`` writes the result into ``input`` and returns it."""
    name = "dropout1d"
    p, x = _probability(p, name), _tensor(input, name)
    if x.ndim not in (2, 3):
        raise InputShapeError(f"{name}: expected a 2-D (C, L) or 3-D (N, C, L) input, got shape {x.shape}")
    _unbatched_version(x, 3, inplace, name)
    if not flag(training, name, "training") or p == 0 or x.numel() == 0:
        return x   # of any dtype, as PyTorch's
    return _maybe_in_place("feature_dropout_", x, inplace,
                           lambda t: _inverted_dropout(t, p, (*t.shape[:-1], 1), name))


# SELU's negative saturation value λ·α: alpha dropout sets dropped entries to -λα, then restores mean and variance
_SELU_SATURATION = 1.7580993408473766


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:  # noqa: A002
    """Dropout for self-normalising (SELU) networks, as ``torch.nn.functional.alpha_dropout``: each entry
    is set with probability ``p`` to SELU's saturation -λα, then a·x + b keeps zero mean and unit variance
    (a = 1/√(((λα)²·p + 1)(1 - p)), b = a·λα·p). The identity when not ``training``. Any shape.
    ``inplace=True`` writes the result into ``input`` and returns it."""
    name = "alpha_dropout"
    p, x = _probability(p, name), _tensor(input, name)
    if not flag(training, name, "training") or p == 0 or x.numel() == 0:
        return x   # of any dtype, as PyTorch's
    x = _droppable(x, name)
    return _alpha_version(_maybe_in_place("alpha_dropout_", x, inplace, lambda t: _alpha_dropped(t, p, t.shape)), x, p)


def _alpha_dropped(x: Tensor, p: float, mask_shape: tuple) -> Tensor:
    """x with the entries (or, for a ``mask_shape`` such as (N, C, 1, 1), the channels) dropped with probability
    ``p`` set to -λα, then a·x + b (see ``alpha_dropout``), in x's layout; zeros for p = 1, as PyTorch's."""
    if p == 1:
        return x * 0.0
    _refuse_complex_mask(x)
    a = 1.0 / math.sqrt((_SELU_SATURATION ** 2 * p + 1) * (1 - p))

    def drop(t: Tensor, shape: tuple) -> Tensor:
        keep = (mg.rand(shape, dtype=mg.float32, device=t.device) >= p).astype(t.dtype)
        shift = (keep - 1) * (_SELU_SATURATION * a) + _SELU_SATURATION * a * p
        return t * (keep * a) + shift
    return _in_layout(x, mask_shape, drop)
