"""``nn.SyncBatchNorm``, as torch's without a distributed process group (minigrad has none): batch
normalisation of (N, C, *) inputs of any number of dims, exactly what torch's computes when
``torch.distributed`` is not initialized; and ``SyncBatchNorm.convert_sync_batchnorm``, which training scripts
call on their models (each BatchNorm1d/2d/3d becomes one, sharing its parameters and buffers)."""

from __future__ import annotations

from typing import Any

from minigrad import Tensor

from ._errors import InputShapeError
from .module import Module
from .normalization import BatchNorm1d, batch_norm_forward
from .normalization_nd import _BatchNormNd

__all__ = ["SyncBatchNorm"]


class SyncBatchNorm(_BatchNormNd):
    """Batch normalisation over every dim but the channels (dim 1) of (N, C, *), as ``torch.nn.SyncBatchNorm``
    in a single process; ``process_group`` must be None (there are no others to synchronise with)."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, process_group: Any = None, device: Any = None,
                 dtype: Any = None, *, bias: bool = True) -> None:
        if process_group is not None:
            raise NotImplementedError("SyncBatchNorm: process_group: minigrad has no distributed process groups; "
                                      "pass None (a single process, which normalises as BatchNorm does)")
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)
        self.process_group = None

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
        """input: (N, C, *) → the same shape."""
        if not isinstance(input, Tensor) or input.ndim < 2:
            got = f"{input.ndim}D input" if isinstance(input, Tensor) else type(input).__name__
            raise ValueError(f"SyncBatchNorm: expected at least 2D input (got {got})")
        if input.shape[1] == 0:
            raise ValueError("SyncBatchNorm number of input channels should be non-zero")
        if input.shape[1] != self.num_features:
            raise InputShapeError(f"SyncBatchNorm: input of shape {input.shape} has {input.shape[1]} channels (dim 1), "
                                  f"expected {self.num_features}")
        return batch_norm_forward(self, input)

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: Any = None) -> Module:
        """``module`` with each BatchNorm1d/2d/3d inside (itself included) replaced by a SyncBatchNorm holding the
        same parameters and buffers (and training mode), as torch's."""
        output = module
        if isinstance(module, (BatchNorm1d, _BatchNormNd)) and not isinstance(module, SyncBatchNorm):
            output = cls(module.num_features, module.eps, module.momentum, module.affine,
                         module.track_running_stats, process_group, bias=module.bias is not None)
            if module.affine:
                output.weight = module.weight
                output.bias = module.bias
            output.running_mean = module.running_mean
            output.running_var = module.running_var
            output.num_batches_tracked = module.num_batches_tracked
            output.training = module.training
        for name, child in module.named_children():
            output.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return output
