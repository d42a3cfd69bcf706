"""The embedding lookup op and its argument helpers, shared by ``F.embedding`` (``nn.functional``) and
``F.embedding_bag`` (``nn.embedding_bag``)."""

from __future__ import annotations

from typing import Any

import numpy

import minigrad as mg
from minigrad import Tensor

from ._errors import ArgumentAssertionError, InputShapeError

__all__ = ["EmbeddingLookup"]


class EmbeddingLookup(mg.Function):
    """weight[indices]; the gradient scatters back with accumulation, except into ``padding_idx``."""

    name = "embedding"

    def __init__(self, indices: Any, padding_idx: int | None, scale_grad_by_freq: bool = False) -> None:
        self.indices, self.padding_idx, self.scale_grad_by_freq = indices, padding_idx, scale_grad_by_freq

    def forward(self, weight: Any) -> Any:
        self.weight_shape = weight.shape
        self.saved = (self.indices,)   # freed by a backward without retain_graph: a second one raises, as PyTorch's
        return weight[self.indices]

    def kept_for_backward(self) -> tuple:
        """The indices too: changed in place after the lookup, backward raises, as PyTorch's (which saves them),
        instead of sending the rows' gradients to the rows they name now."""
        return (self.saved, self.indices)

    def backward(self, gy: Any) -> Any:
        xp = self.xp
        flat = self.saved[0].reshape(-1)
        rows = gy.reshape(flat.size, gy.shape[-1])   # not (-1, D): D may be 0
        if self.scale_grad_by_freq:   # each row's gradient over how often its index occurs in this batch
            counts = xp.bincount(flat, minlength=self.weight_shape[0])
            rows = rows / counts[flat][:, None].astype(rows.dtype)
        if self.padding_idx is not None:   # zeros, not times 0: a NaN or inf there would make its row NaN
            rows = xp.where((flat != self.padding_idx)[:, None], rows, 0)
        gw = xp.zeros(self.weight_shape, dtype=gy.dtype)
        mg.scatter_add(xp, gw, flat, rows)   # accumulating over repeated indices, in index order (add.at's bits)
        return gw


def _renorm_rows(weight: Tensor, indices: Any, max_norm: float, norm_type: float) -> None:
    """Scale each row of ``weight`` that ``indices`` names and whose norm exceeds ``max_norm`` down to it,
    in place (as ``torch.embedding_renorm_``: by max_norm / (norm + 1e-7)); nothing is recorded. Like PyTorch's,
    it counts as an in-place change of ``weight`` even when no row was over, so a backward that saved the weight
    before (``w = a.exp()``, a tied decoder's matmul) raises whatever the rows' norms, not only once one grows."""
    xp = mg.array_module(weight.data)
    rows = xp.unique(indices.reshape(-1))
    with mg.no_grad():
        picked = weight.data[rows]
        # PyTorch's norm: a row of one entry is its |x| (NumPy's squares it first: inf for 1e20 in float32)
        norms = mg.linalg.vector_norm(mg.as_tensor(picked), norm_type, 1).data.astype(numpy.float64)
        over = norms > max_norm
        if over.any():   # PyTorch's arithmetic: norm + 1e-7 and the scale in float64, then in the weight's dtype
            scale = (max_norm / (norms[over] + 1e-7)).astype(weight.dtype)
            weight[mg.as_tensor(rows[over])] = mg.as_tensor(picked[over] * scale[:, None])
        else:
            weight._bump_version()


def _normalize_padding(padding_idx: int, num: int, name: str) -> int:
    if not -num <= padding_idx < num:   # PyTorch's class: F.embedding asserts, F.embedding_bag's op raises
        error = ArgumentAssertionError if name == "embedding" else InputShapeError
        raise error(f"{name}: padding_idx {padding_idx} is out of range for {num} embeddings")
    return padding_idx % num
