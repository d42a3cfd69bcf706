"""Bags of embeddings as PyTorch's: ``F.embedding_bag`` (re-exported by ``nn.functional``) and
``nn.EmbeddingBag``.

A bag's result is the sum, mean or max of the embedding rows its indices pick, without building the
(bags, length, D) tensor of rows: the rows are one lookup (``nn.functional``'s ``EmbeddingLookup``, which keeps
``padding_idx``'s row without gradient and scales by frequency), and each bag reduces its own with
``index_add`` (sum, mean) or a ``scatter_reduce`` that finds each bag's first largest row per feature (max,
whose gradient then goes to that row alone, as PyTorch's). All engine ops, so the gradients (to the weight and to
``per_sample_weights``) are the engine's.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy

import minigrad as mg
from minigrad import Tensor

from . import init
from ._arguments import _number, _tensor
from ._embedding import EmbeddingLookup, _normalize_padding, _renorm_rows
from ._errors import ArgumentAssertionError
from ._flags import flag
from ._parameters import float_dtype, size_arg
from ._targets import TargetError, checked_indices, index_array
from .module import Module, Parameter

__all__ = ["EmbeddingBag", "embedding_bag"]

_MODES = ("sum", "mean", "max")


class OffsetsError(ValueError, RuntimeError):
    """``offsets`` that do not cut ``input`` into bags (PyTorch raises RuntimeError; a ValueError as well)."""


class BagDtypeError(TypeError, RuntimeError):
    """``offsets`` or ``per_sample_weights`` of the wrong dtype (PyTorch raises RuntimeError; a TypeError too)."""


def _index_dtype(name: str, dtype: Any) -> None:
    """PyTorch's embedding_bag takes int64 or int32 indices (with their offsets promoted to one dtype); other
    integers raise its RuntimeError."""
    if numpy.dtype(dtype).name not in ("int64", "int32"):
        raise TargetError(f"{name}: input and offsets must be int64 or int32 (promoted together), got {dtype} "
                          f"(cast them with .long())")


def _bags(name: str, indices: Any, offsets: Any, include_last_offset: bool, device: Any) -> tuple:
    """(flat indices (n,), the bag of each of the first ``used`` indices (used,) as host int64, bags B, used)."""
    array = index_array(indices, device, name, "input")
    if array.ndim == 2:
        _index_dtype(name, array.dtype)
        if offsets is not None:
            raise ValueError(f"{name}: if input is 2D, then offsets has to be None, as input is treated is a "
                             f"mini-batch of fixed length sequences. However, found offsets of type "
                             f"{type(offsets).__name__}")
        bags, length = array.shape
        return numpy.repeat(numpy.arange(bags), length), bags, bags * length
    if array.ndim != 1:
        raise ValueError(f"{name}: input has to be 1D or 2D Tensor, but got Tensor of dimension {array.ndim}")
    if offsets is None:
        raise ValueError(f"{name}: offsets has to be a 1D Tensor but got None")
    # the bag boundaries are read on the host (as PyTorch checks them): a compiled call runs eagerly
    starts = offsets.numpy() if isinstance(offsets, Tensor) else numpy.asarray(offsets)
    if starts.ndim != 1:
        raise ValueError(f"{name}: offsets has to be a 1D Tensor")
    if starts.dtype.kind not in "iu":
        raise BagDtypeError(f"{name}: offsets must be integers (int64 or int32), got {starts.dtype}")
    _index_dtype(name, numpy.result_type(array.dtype, starts.dtype))   # PyTorch promotes the pair first
    n = array.shape[0]
    starts = starts.astype(numpy.int64)
    if include_last_offset:
        if starts.size == 0:
            raise OffsetsError(f"{name}: include_last_offset=True needs at least one offset")
        starts, end = starts[:-1], int(starts[-1])
    else:
        end = n if starts.size else 0   # no offsets: no bags, so no index in one (PyTorch: a (0, D) result)
    if starts.size and starts[0] != 0:
        raise OffsetsError(f"{name}: offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start "
                         f"from position 0. However, got {int(starts[0])}")
    bounds = numpy.append(starts, end)
    if end > n or (bounds.size and numpy.any(numpy.diff(bounds) < 0)):
        raise OffsetsError(f"{name}: offsets must be non-decreasing and at most the input's length {n}, got "
                         f"{bounds.tolist() if include_last_offset else starts.tolist()}")
    return numpy.repeat(numpy.arange(starts.size), numpy.diff(bounds)), starts.size, end


def embedding_bag(input: Any, weight: Tensor, offsets: Any = None, max_norm: float | None = None,  # noqa: A002
                  norm_type: float = 2, scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """The sum, mean or max of each bag of embedding rows, as ``torch.nn.functional.embedding_bag``: → (B, D).

    ``input``: (B, N) integer indices, one bag per row; or 1-D indices (n,) with ``offsets`` (B,), the start of
    each bag (the first 0, non-decreasing; a bag runs to the next start, the last to n). With
    ``include_last_offset``, ``offsets`` has B + 1 entries and the last one ends the last bag. ``weight``: (V, D).
    ``mode``: ``'sum'``, ``'mean'`` or ``'max'`` (per feature; the gradient goes to the first largest row).
    ``per_sample_weights`` (``input``'s shape, ``'sum'`` only) scale each row first. Indices equal to
    ``padding_idx`` are left out (not counted in a mean; their row gets no gradient). An empty bag gives zeros.
    ``max_norm``, ``norm_type``, ``scale_grad_by_freq``: as :func:`F.embedding` (the frequency over all of
    ``input``). ``sparse=True`` is refused (no sparse gradients).
    """

    name = "embedding_bag"
    # the order before PyTorch 1.0, (weight, input), is still taken with PyTorch's warning
    if isinstance(input, Tensor) and isinstance(weight, Tensor) and input.dtype.kind == "f" \
            and weight.dtype == numpy.int64:
        warnings.warn("Argument order of nn.functional.embedding_bag was changed. Usage `embedding_bag(weight, "
                      "input, ...)` is deprecated, and should now be `embedding_bag(input, weight, ...)`.",
                      stacklevel=2)
        input, weight = weight, input  # noqa: A001
    weight = _tensor(weight, name, "weight")
    if weight.ndim != 2:
        raise ValueError(f"{name}: weight has to be a 2D Tensor, but got Tensor of dimension {weight.ndim}")
    if weight.dtype.kind != "f":   # PyTorch's kernel takes floating weights only (complex and integers refused)
        raise BagDtypeError(f"{name}: weight must be floating point (float16, float32, float64), got "
                            f"{weight.dtype}")
    if not isinstance(mode, str) or mode not in _MODES:
        raise ValueError(f"{name}: mode has to be one of sum, mean or max, got {mode!r}")
    scale_grad_by_freq = flag(scale_grad_by_freq, name, "scale_grad_by_freq")
    if mode == "max" and scale_grad_by_freq:
        raise ValueError("max mode does not support scaling the gradient by the frequency")
    if flag(sparse, name, "sparse"):
        raise ValueError(f"{name}: sparse=True needs sparse gradients, which minigrad does not have")
    if per_sample_weights is not None:
        per_sample_weights = _tensor(per_sample_weights, name, "per_sample_weights")
        shape = tuple(getattr(input, "shape", numpy.shape(input)))
        if tuple(per_sample_weights.shape) != shape:
            raise ValueError(f"embedding_bag: If per_sample_weights ({per_sample_weights.shape}) is not None, then "
                             f"it must have the same shape as the input ({shape})")
        if mode != "sum":
            raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                      f"supported for mode='sum' (got mode='{mode}').")
        if per_sample_weights.dtype != weight.dtype:
            raise BagDtypeError(f"{name}: per_sample_weights ({per_sample_weights.dtype}) must have the weight's dtype "
                            f"({weight.dtype})")
    num, width = weight.shape
    bag_of, bags, used = _bags(name, input, offsets, flag(include_last_offset, name, "include_last_offset"),
                               weight.device)
    indices = checked_indices(input, weight.device, num, name, lambda value, _low, _high: (
        f"{name}: index {value} is out of range for an embedding of {num} rows (indices must be in "
        f"[0, {num - 1}])")).reshape(-1)
    if padding_idx is not None:
        padding_idx = _normalize_padding(padding_idx, num, name)
    if max_norm is not None:
        _renorm_rows(weight, indices.data, _number(max_norm, name, "max_norm"), _number(norm_type, name, "norm_type"))
    if used < indices.shape[0]:   # with include_last_offset, indices past the last offset are in no bag
        indices = indices[:used]
        per_sample_weights = None if per_sample_weights is None else per_sample_weights.reshape(-1)[:used]
    rows = EmbeddingLookup(indices.data, padding_idx, scale_grad_by_freq)(weight)            # (used, D)
    bag = mg.as_tensor(mg.make_array(bag_of, numpy.int64, weight.device))
    kept = None if padding_idx is None else (indices != padding_idx)                         # (used,) bool
    if mode == "max":
        return _bag_max(rows, bag, kept, bags)
    if rows.dtype == mg.float16:   # PyTorch sums float16 bags in float32, rounded once
        rows = rows.float()
        per_sample_weights = None if per_sample_weights is None else per_sample_weights.float()
    if kept is not None:   # zeros, not times 0: a NaN or inf padding row must not reach its bag
        rows = mg.where(kept.unsqueeze(1), rows, 0.0)
    if per_sample_weights is not None:
        rows = rows * per_sample_weights.reshape(-1, 1)
    out = mg.zeros(bags, width, dtype=rows.dtype, device=weight.device).index_add(0, bag, rows).to(weight.dtype)
    if mode == "sum":
        return out
    ones = mg.ones(rows.shape[0], dtype=weight.dtype, device=weight.device) if kept is None \
        else kept.astype(weight.dtype)
    counts = mg.zeros(bags, dtype=weight.dtype, device=weight.device).index_add(0, bag, ones)
    return out / mg.clip(counts, min=1.0).unsqueeze(1)


def _bag_max(rows: Tensor, bag: Tensor, kept: Tensor | None, bags: int) -> Tensor:
    """Per bag and feature, PyTorch's running maximum over the bag's rows in order (padding left out): the first
    row's value, replaced by each later one strictly larger. So the first largest row wins, -inf included; a NaN
    first row stays (NaN), a later NaN is passed over. An empty bag gives 0. The gradient goes to the row picked."""
    used, width = rows.shape
    device, dtype = rows.device, rows.dtype
    with mg.no_grad():
        values = rows.detach()
        taken = mg.ones(used, dtype=mg.bool_, device=device) if kept is None else kept
        position = mg.arange(used, device=device)
        start = mg.full((bags,), used, dtype=mg.int64, device=device).scatter_reduce(   # each bag's first row
            0, bag, mg.where(taken, position, used), "amin", include_self=True)
        spread = bag.unsqueeze(1).expand(used, width)
        compared = taken.unsqueeze(1) & ~values.isnan()   # the rows a later NaN cannot replace the maximum with
        largest = mg.full((bags, width), float("-inf"), dtype=dtype, device=device).scatter_reduce(
            0, spread, mg.where(compared, values, float("-inf")), "amax", include_self=True)
        positions = position.unsqueeze(1).expand(used, width)
        candidate = mg.where(compared & (values == largest[bag]), positions, used)
        first = mg.full((bags, width), used, dtype=mg.int64, device=device).scatter_reduce(
            0, spread, candidate, "amin", include_self=True)
        padded_values = mg.cat([values, mg.zeros(1, width, dtype=dtype, device=device)], 0)
        starts_nan = padded_values[start].isnan()                                      # (bags, width)
        first = mg.where(starts_nan, start.unsqueeze(1).expand(bags, width), first)
    padded = mg.cat([rows, mg.zeros(1, width, dtype=dtype, device=device)], 0)   # row `used`: an empty bag's 0
    return padded.gather(0, first)


class EmbeddingBag(Module):
    """Sums, means or maxima of bags of embeddings, as ``torch.nn.EmbeddingBag``: ``forward(input, offsets=None,
    per_sample_weights=None)`` → (B, embedding_dim); see :func:`embedding_bag` for the arguments.

    ``weight``: (num_embeddings, embedding_dim), N(0, 1) as PyTorch's, the row ``padding_idx`` (if given) zero.
    ``_weight`` is used as the weight (``from_pretrained`` passes it). ``sparse=True`` is refused.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, max_norm: float | None = None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                 _weight: Any = None, include_last_offset: bool = False, padding_idx: int | None = None,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        num_embeddings = size_arg(num_embeddings, "EmbeddingBag", "num_embeddings", position=0)   # weight (num, dim)
        embedding_dim = size_arg(embedding_dim, "EmbeddingBag", "embedding_dim", position=1)
        if mode not in _MODES:
            raise ValueError(f"EmbeddingBag: mode has to be one of sum, mean or max, got {mode!r}")
        if sparse:
            raise ValueError("EmbeddingBag: sparse=True needs sparse gradients, which minigrad does not have")
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.max_norm, self.norm_type, self.scale_grad_by_freq = max_norm, norm_type, scale_grad_by_freq
        if padding_idx is not None:
            if isinstance(padding_idx, bool):   # PyTorch's forward refuses it (True would pad row 1)
                raise TypeError(f"EmbeddingBag: padding_idx must be an int or None, got {padding_idx!r}")
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ArgumentAssertionError(f"EmbeddingBag: padding_idx must be within num_embeddings "
                                             f"({self.num_embeddings}), got {padding_idx}")
            padding_idx %= self.num_embeddings
        self.padding_idx = padding_idx
        if _weight is None:
            dt = float_dtype(dtype, "EmbeddingBag", complex_ok=True)   # as PyTorch; forward refuses it
            self.weight = Parameter(mg.empty(self.num_embeddings, self.embedding_dim, dtype=dt, device=device))
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (self.num_embeddings, self.embedding_dim):
                raise ValueError(f"EmbeddingBag: shape of weight {tuple(_weight.shape)} does not match "
                                 f"num_embeddings and embedding_dim ({self.num_embeddings}, {self.embedding_dim})")
            self.weight = Parameter(_weight)
        self.mode, self.sparse, self.include_last_offset = mode, False, include_last_offset

    def reset_parameters(self) -> None:
        """Redraw ``weight`` from N(0, 1) and zero the ``padding_idx`` row, as PyTorch."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with mg.no_grad():
                self.weight.data[self.padding_idx] = 0

    def forward(self, input: Any, offsets: Any = None, per_sample_weights: Tensor | None = None) -> Tensor:  # noqa: A002
        """input: (B, L) indices (offsets None), or 1-D with offsets (B,) → (B, embedding_dim)."""
        return embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type, self.scale_grad_by_freq,
                             self.mode, self.sparse, per_sample_weights, self.include_last_offset, self.padding_idx)

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm!r}"
        if self.norm_type != 2:
            text += f", norm_type={self.norm_type!r}"
        if self.scale_grad_by_freq is not False:
            text += f", scale_grad_by_freq={self.scale_grad_by_freq!r}"
        text += f", mode={self.mode!r}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx!r}"
        return text

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True, max_norm: float | None = None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False, mode: str = "mean",
                        sparse: bool = False, include_last_offset: bool = False,
                        padding_idx: int | None = None) -> EmbeddingBag:
        """An EmbeddingBag whose weight is ``embeddings`` (V, D), frozen unless ``freeze=False``, as PyTorch's."""
        if not isinstance(embeddings, Tensor) or embeddings.ndim != 2:
            raise ArgumentAssertionError("EmbeddingBag.from_pretrained: embeddings must be a 2-D Tensor, got "
                                         f"{getattr(embeddings, 'shape', type(embeddings).__name__)}")
        rows, cols = embeddings.shape
        bag = cls(rows, cols, max_norm, norm_type, scale_grad_by_freq, mode, sparse, embeddings, include_last_offset,
                  padding_idx)
        bag.weight.requires_grad_(not freeze)
        return bag
