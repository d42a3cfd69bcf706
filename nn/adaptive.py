"""``nn.AdaptiveLogSoftmaxWithLoss``: the efficient softmax approximation of Grave et al. (2016) for large
output vocabularies, as ``torch.nn.AdaptiveLogSoftmaxWithLoss``.

Classes are split by ``cutoffs`` into a shortlist (the frequent ones) and clusters. The head, a Linear of
``in_features → shortlist + n_clusters``, scores the shortlist classes and one entry per cluster; cluster ``i``
has its own two-layer projection ``in_features → in_features // div_value**(i+1) → cluster size``. The log
probability of a class in cluster ``i`` is ``log p(cluster i | x) + log p(class | cluster i, x)``. A forward
with targets only runs each cluster's projection on the rows whose target lies in it, as PyTorch's does.
"""

from __future__ import annotations

import itertools
from typing import Any, NamedTuple, Sequence

import minigrad as mg
from minigrad import Tensor

from ._arguments import _tensor
from ._errors import InputRankError
from .containers import ModuleList, Sequential
from .layers import Linear
from .module import Module

__all__ = ["AdaptiveLogSoftmaxWithLoss"]


class _ASMoutput(NamedTuple):
    """``(output, loss)`` of :class:`AdaptiveLogSoftmaxWithLoss`, torch's ``_ASMoutput``: output (N,) the log
    probability of each target, loss the mean negative log likelihood (a 0-d tensor)."""

    output: Tensor
    loss: Tensor


class AdaptiveLogSoftmaxWithLoss(Module):
    """Adaptive softmax with its loss: ``forward(input (N, in_features) or (in_features,), target (N,) or ())``
    → ``(output, loss)``; ``log_prob(input)`` (N, n_classes) the full log distribution; ``predict(input)`` (N,)
    the most probable class. ``cutoffs``: increasing, unique ints in [1, n_classes - 1]; parameters ``head``
    (Linear, ``head_bias``) and ``tail`` (one ``Sequential(Linear, Linear)`` per cluster, no biases), named as
    PyTorch's so its state dict loads."""

    def __init__(self, in_features: int, n_classes: int, cutoffs: Sequence[int], div_value: float = 4.0,
                 head_bias: bool = False, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted in an increasing "
                             "order, where each value is between 1 and n_classes-1")
        self.in_features, self.n_classes = in_features, n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value, self.head_bias = div_value, head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        factory = {"device": device, "dtype": dtype}
        self.head = Linear(in_features, self.head_size, bias=head_bias, **factory)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hidden = int(in_features // (div_value ** (i + 1)))
            size = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(Sequential(Linear(in_features, hidden, bias=False, **factory),
                                        Linear(hidden, size, bias=False, **factory)))

    def reset_parameters(self) -> None:
        """Draws the parameters afresh, as ``__init__`` does."""
        self.head.reset_parameters()
        for to_hidden, to_output in self.tail:
            to_hidden.reset_parameters()
            to_output.reset_parameters()

    def forward(self, input_: Tensor, target_: Tensor) -> _ASMoutput:
        """input (N, in_features), target (N,) int64 classes → (output (N,), loss ()); or (in_features,) and a
        0-d target → (output (), loss ())."""
        name = "AdaptiveLogSoftmaxWithLoss"
        input_, target_ = _tensor(input_, name), _tensor(target_, name, "target")
        # (PyTorch's messages, word for word: programs match them)
        if target_.ndim == 1:
            if input_.ndim == 0:   # PyTorch reads its size(0): IndexError
                raise InputRankError(f"{name}: a 1D target tensor expects a 2D input tensor, got input of shape "
                                     f"{input_.shape} and target of shape {target_.shape}")
            if input_.shape[0] != target_.shape[0]:
                raise RuntimeError("Input and target should have the same size in the batch dimension.")
            if input_.ndim != 2:
                raise RuntimeError(f"1D target tensor expects 2D input tensors, but found inputs with size "
                                   f"{tuple(input_.shape)}")
        elif target_.ndim == 0:
            if input_.ndim != 1:
                raise RuntimeError(f"0D target tensor expects 1D input tensors, but found inputs with size "
                                   f"{tuple(input_.shape)}")
        else:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        if target_.dtype.kind not in "iu":
            raise RuntimeError(f"{name}: expected an integer target, got dtype {target_.dtype}")
        if input_.shape[-1] != self.in_features:   # PyTorch's projections refuse it (RuntimeError)
            raise RuntimeError(f"{name}: input of shape {input_.shape} must have in_features={self.in_features} "
                               "features (its last dim)")
        batched = target_.ndim > 0
        x = input_ if batched else input_.unsqueeze(0)
        target = target_ if batched else target_.unsqueeze(0)
        batch = target.shape[0]

        output = mg.zeros(batch, dtype=x.dtype, device=x.device)
        gather_index = target.detach()   # the head column of each row: its class, or its cluster's entry
        used_rows = 0
        bounds = [0] + self.cutoffs
        for i, (low, high) in enumerate(itertools.pairwise(bounds)):
            in_range = (target >= low) & (target < high)
            rows = in_range.nonzero().flatten()
            if rows.numel() == 0:
                continue
            if i > 0:
                relative = target.index_select(0, rows) - low
                cluster_logprob = mg.log_softmax(self.tail[i - 1](x.index_select(0, rows)), axis=1)
                gather_index = mg.where(in_range, self.shortlist_size + i - 1, gather_index)
                output = output.index_copy(0, rows, cluster_logprob.gather(1, relative.unsqueeze(1)).squeeze(1))
            used_rows += rows.numel()
        if used_rows != batch:
            raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but values in range "
                               f"[{target.min().item()}, {target.max().item()}] were found. ")
        head_logprob = mg.log_softmax(self.head(x), axis=1)
        output = output + head_logprob.gather(1, gather_index.unsqueeze(1)).squeeze(1)
        loss = (-output).mean()
        return _ASMoutput(output if batched else output.squeeze(0), loss)

    def _full_log_prob(self, x: Tensor, head_output: Tensor) -> Tensor:
        head_logprob = mg.log_softmax(head_output, axis=1)
        parts = [head_logprob[:, :self.shortlist_size]]
        for i in range(self.n_clusters):
            cluster_logprob = mg.log_softmax(self.tail[i](x), axis=1)
            parts.append(cluster_logprob + head_logprob[:, self.shortlist_size + i].unsqueeze(1))
        return mg.cat(parts, dim=1)

    def log_prob(self, input: Tensor) -> Tensor:  # noqa: A002
        """The log probability of every class: input (N, in_features) → (N, n_classes)."""
        x = _tensor(input, "AdaptiveLogSoftmaxWithLoss.log_prob")
        return self._full_log_prob(x, self.head(x))

    def predict(self, input: Tensor) -> Tensor:  # noqa: A002
        """The most probable class of each row, ``log_prob(input).argmax(dim=1)``: (N, in_features) → (N,) int64;
        the clusters run only for the rows whose head prefers a cluster."""
        x = _tensor(input, "AdaptiveLogSoftmaxWithLoss.predict")
        head_output = self.head(x)
        output = head_output.argmax(dim=1)
        outside = output >= self.shortlist_size
        if not outside.any().item():
            return output
        if outside.all().item():
            return self._full_log_prob(x, head_output).argmax(dim=1)
        rows = outside.nonzero().flatten()
        best = self._full_log_prob(x.index_select(0, rows), head_output.index_select(0, rows)).argmax(dim=1)
        return output.index_copy(0, rows, best)
