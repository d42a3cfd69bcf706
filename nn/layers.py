"""Basic layers: ``Linear``, ``Embedding``, ``Dropout``, ``Identity``, ``Flatten`` and ``Unflatten``.

Every constructor with parameters takes PyTorch's factory keywords ``device=None, dtype=None``
(float32 on the default device unless told otherwise) and initialises its
parameters as PyTorch does, from the engine's generator (``mg.manual_seed``).
The containers (``Sequential``, ``ModuleList``, …) are in ``nn/containers.py``; this module imports them
too, so ``nn.layers.Sequential`` still names them.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import numpy

import minigrad as mg
from minigrad import Tensor

from . import functional as F
from . import init
from ._dropout import _probability
from ._errors import ArgumentAssertionError, InputShapeError
from ._flags import flag
from ._parameters import float_dtype, size_arg, weight_and_bias
from .containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .module import Module, Parameter

__all__ = ["Dropout", "Embedding", "Flatten", "Identity", "Linear", "ModuleDict", "ModuleList", "ParameterDict",
           "ParameterList", "Sequential", "Unflatten"]


def _positive(value: Any, what: str, name: str, allow_zero: bool = False, position: int | None = None) -> int:
    return size_arg(value, name, what, 0 if allow_zero else 1, position)


class Linear(Module):
    """y = x Wᵀ + b.  x: (*, in_features) → (*, out_features).

    ``weight``: (out_features, in_features), ``bias``: (out_features,), both
    U(-1/√in_features, 1/√in_features) as PyTorch (kaiming_uniform with a=√5).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.in_features = _positive(in_features, "in_features", "Linear", allow_zero=True, position=1)
        self.out_features = _positive(out_features, "out_features", "Linear", allow_zero=True, position=0)
        dt = float_dtype(dtype, "Linear", complex_ok=True)   # complex too, as PyTorch's
        weight_and_bias(self, (self.out_features, self.in_features), bias, dt, device)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Redraw ``weight`` and ``bias`` from U(-1/√in_features, 1/√in_features), as PyTorch."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: (*, in_features) → (*, out_features)."""
        if isinstance(input, Tensor) and input.shape[-1:] != (self.in_features,):
            raise InputShapeError(f"Linear(in_features={self.in_features}, out_features={self.out_features}): "
                                  f"expected input of shape (*, {self.in_features}), got {input.shape}")
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Embedding(Module):
    """A lookup table: integer indices of any shape S → (*S, embedding_dim), as ``torch.nn.Embedding``.

    ``weight``: (num_embeddings, embedding_dim), N(0, 1) as PyTorch; the row
    ``padding_idx`` (if given) starts at zero and never receives a gradient.
    Indices may be an integer Tensor, a NumPy array or a list. ``max_norm``,
    ``norm_type`` and ``scale_grad_by_freq`` are :func:`F.embedding`'s;
    ``_weight`` (used as the weight, not reinitialised) and ``_freeze`` are what
    :meth:`from_pretrained` passes. ``sparse=True`` is refused (no sparse gradients).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight: Any = None, _freeze: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.num_embeddings = _positive(num_embeddings, "num_embeddings", "Embedding", allow_zero=True,
                                        position=0)
        self.embedding_dim = _positive(embedding_dim, "embedding_dim", "Embedding", allow_zero=True, position=1)
        num_embeddings, embedding_dim = self.num_embeddings, self.embedding_dim
        if padding_idx is not None:
            if isinstance(padding_idx, bool):   # PyTorch's forward refuses it (True would pad row 1)
                raise TypeError(f"Embedding: padding_idx must be an int or None, got {padding_idx!r}")
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ArgumentAssertionError(f"Embedding: padding_idx {padding_idx} must be within [-{num_embeddings}, "
                                             f"{num_embeddings - 1}] for num_embeddings={num_embeddings}")
            padding_idx %= num_embeddings
        if sparse:
            raise ValueError("Embedding: sparse=True needs sparse gradients, which minigrad does not have")
        self.padding_idx, self.max_norm, self.norm_type = padding_idx, max_norm, norm_type
        # a bool, as PyTorch's forward needs (scale_grad_by_freq="False" read as True)
        self.scale_grad_by_freq, self.sparse = flag(scale_grad_by_freq, "Embedding", "scale_grad_by_freq"), False
        if _weight is None:
            dt = float_dtype(dtype, "Embedding", complex_ok=True)   # as PyTorch's (lookup without grad)
            self.weight = Parameter(mg.empty(num_embeddings, embedding_dim, dtype=dt, device=device),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError(f"Embedding: _weight has shape {tuple(_weight.shape)}, expected "
                                 f"({num_embeddings}, {embedding_dim})")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True, padding_idx: int | None = None,
                        max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> Embedding:
        """An Embedding whose weight is ``embeddings`` (V, D), frozen unless ``freeze=False``, as PyTorch's."""
        if not isinstance(embeddings, Tensor) or embeddings.ndim != 2:
            raise ArgumentAssertionError("Embedding.from_pretrained: embeddings must be a 2-D Tensor, got "
                                         f"{getattr(embeddings, 'shape', type(embeddings).__name__)}")
        rows, dim = embeddings.shape
        return cls(rows, dim, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                   _weight=embeddings, _freeze=freeze)

    def reset_parameters(self) -> None:
        """Redraw ``weight`` from N(0, 1) and zero the ``padding_idx`` row, as PyTorch."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with mg.no_grad():
                self.weight.data[self.padding_idx] = 0

    def forward(self, input: Any) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: integer indices of any shape S → (*S, embedding_dim)."""
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq)

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            text += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            text += ", scale_grad_by_freq=True"
        return text


class _DropoutNd(Module):
    """What the dropout modules share, as PyTorch's ``_DropoutNd``: ``p`` in [0, 1] and ``inplace`` (the result
    written into the input, which is returned, as PyTorch's; ``AlphaDropout`` and ``FeatureAlphaDropout`` ignore it,
    as PyTorch's do)."""

    def __init__(self, p: float = 0.5, inplace: bool = False, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        _probability(p, name, module=True)
        if not isinstance(inplace, (bool, numpy.bool_)):
            raise TypeError(f"{name}: inplace must be a bool, got {inplace!r}")
        self.p, self.inplace = p, bool(inplace)   # p as given, as PyTorch (its repr shows `p=0` for 0)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Inverted dropout: in training, zero each entry with probability p and scale the rest by 1/(1-p);
    the identity in ``eval()`` mode. Any shape in, the same shape out."""

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: any shape → the same shape."""
        return F.dropout(input, self.p, self.training, self.inplace)


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. for an optional layer)."""

    def __init__(self, *args: Any, device: Any = None, dtype: Any = None, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:  # noqa: A002 - PyTorch's name
        """input: anything → the same object."""
        return input


class Flatten(Module):
    """Flatten dims ``start_dim`` … ``end_dim`` into one, as ``torch.nn.Flatten`` (by default all but the batch dim)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: (*before, n_start, …, n_end, *after) → (*before, n_start·…·n_end, *after)."""
        if not isinstance(input, Tensor):   # else "'str' object has no attribute 'flatten'"
            raise TypeError(f"Flatten: input must be a Tensor, got {type(input).__name__}")
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size`` (one entry may be -1), as ``torch.nn.Unflatten``:
    (…, n, …) → (…, *unflattened_size, …)."""

    def __init__(self, dim: int, unflattened_size: Iterable[int]) -> None:
        super().__init__()
        sizes = tuple(unflattened_size)
        if not sizes or not all(isinstance(n, int) and not isinstance(n, bool) for n in sizes):
            raise TypeError("Unflatten: unflattened_size must be a non-empty sequence of ints, "
                            f"got {unflattened_size!r}")
        # a list stays a list and an mg.Size a Size, as torch keeps what it is given (its repr shows which)
        if isinstance(unflattened_size, list):
            sizes = list(sizes)
        elif isinstance(unflattened_size, mg.Size):
            sizes = unflattened_size
        self.dim, self.unflattened_size = dim, sizes

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: (…, n, …) with n at ``dim`` → (…, *unflattened_size, …)."""
        if not isinstance(input, Tensor):
            raise TypeError(f"Unflatten: input must be a Tensor, got {type(input).__name__}")
        shape = tuple(input.shape)
        dim = self.dim + len(shape) if self.dim < 0 else self.dim
        if not 0 <= dim < len(shape):
            raise IndexError(f"Unflatten: dim {self.dim} is out of range for a tensor of shape {shape}")
        sizes = tuple(self.unflattened_size)
        known = math.prod(n for n in sizes if n != -1)
        if (-1 not in sizes and known != shape[dim]) or (-1 in sizes and (known == 0 or shape[dim] % known)):
            raise InputShapeError(f"Unflatten: cannot split dim {self.dim} of size {shape[dim]} into {sizes}")
        return input.reshape(*shape[:dim], *sizes, *shape[dim + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
