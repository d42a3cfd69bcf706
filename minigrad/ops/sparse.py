"""PyTorch's sparse tensors, which minigrad does not have: ``mg.sparse_coo_tensor`` and ``Tensor.to_sparse``
raise a NotImplementedError that says so and names the dense way (a program such as tkipf/pygcn, which keeps
a graph's adjacency sparse for ``torch.spmm``, runs here with the dense adjacency: ``mg.spmm`` multiplies dense
matrices, as PyTorch's does). There is one layout, ``mg.strided`` (ops/strided.py).
"""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor

__all__ = ["sparse_coo_tensor"]   # mg.sparse (torch.sparse.mm, torch.sparse.FloatTensor) is an AttributeError
# that says the same (minigrad/__init__.py)

NO_SPARSE = ("minigrad has no sparse tensors (one dense, strided layout); keep the matrix dense: "
          "mg.zeros(size).index_put_(tuple(indices), values, accumulate=True) builds it from COO indices, "
          "and mg.mm / mg.spmm multiply it")


def sparse_coo_tensor(indices: Any, values: Any, size: Any = None, *, dtype: Any = None, device: Any = None,
                      pin_memory: bool = False, requires_grad: bool = False, check_invariants: Any = None,
                      is_coalesced: Any = None) -> Tensor:
    """torch.sparse_coo_tensor: refused (NotImplementedError), since minigrad has no sparse tensors."""
    raise NotImplementedError(f"sparse_coo_tensor: {NO_SPARSE}")


def _to_sparse(self: Tensor, sparse_dim: Any = None, *, layout: Any = None, blocksize: Any = None,
               dense_dim: Any = None) -> Tensor:
    """Tensor.to_sparse: refused (NotImplementedError), since minigrad has no sparse tensors."""
    raise NotImplementedError(f"to_sparse: {NO_SPARSE} (tensor of shape {self.shape})")


METHODS: dict = {"to_sparse": _to_sparse}
