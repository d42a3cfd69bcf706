"""Round-18 leftovers, third batch, against PyTorch: zero-size strides, pickled views, lazy placeholders, empty
batches in nn.functional, nn dtype rules and ``Tensor.map_``."""

from __future__ import annotations

from typing import Callable

import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


@pytest.mark.parametrize("make", [
    lambda L: L.zeros(0, 3), lambda L: L.empty(2, 0, 3), lambda L: L.ones(3, 0, 1), lambda L: L.full((0, 3), 1.0),
    lambda L: L.zeros(0), lambda L: L.empty_like(L.zeros(2, 0, 3)), lambda L: L.zeros(0, 3).clone(),
    lambda L: L.zeros(0, 3) + 1, lambda L: L.cat([L.zeros(0, 3), L.zeros(0, 3)]), lambda L: L.randn(0, 3),
    lambda L: L.zeros(2).new_zeros(0, 3), lambda L: L.zeros(0, 3).T.contiguous().reshape(0, 3),
], ids=range(12))
def test_zero_size_strides_are_contiguous(make: Callable) -> None:
    """A zero-size tensor's strides are PyTorch's contiguous ones (NumPy allocates it with all strides 0)."""
    ours, theirs = make(mg), make(torch)
    assert ours.stride() == theirs.stride()
    assert ours.is_contiguous() == theirs.is_contiguous()


@pytest.mark.parametrize("view", [
    lambda x: x.T, lambda x: x[::2], lambda x: x[:, 1], lambda x: x[:, 1:3], lambda x: x[0].expand(3, 4),
    lambda x: x[:, :1].expand(3, 4), lambda x: x.reshape(2, 3, 2).permute(2, 0, 1), lambda x: x[1:],
], ids=["T", "step", "column", "narrow", "expand", "expand_column", "permute", "offset"])
def test_pickled_view_keeps_strides(view: Callable) -> None:
    """A pickled view loads with the view's strides and offset (PyTorch pickles the storage it views)."""
    import pickle
    ours = pickle.loads(pickle.dumps(view(mg.arange(12.0).reshape(3, 4))))
    theirs = pickle.loads(pickle.dumps(view(torch.arange(12.0).reshape(3, 4))))
    assert ours.tolist() == theirs.tolist()
    assert (ours.stride(), ours.storage_offset(), ours.is_contiguous()) == \
        (theirs.stride(), theirs.storage_offset(), theirs.is_contiguous())
    base = mg.arange(4.0)
    first, second = pickle.loads(pickle.dumps([base, base[1:]]))
    first[1] = 9.0     # two views of one array in one pickle share memory again, as PyTorch's
    assert second[0].item() == 9.0


@pytest.mark.parametrize("name", ["numel", "isnan", "isfinite", "all", "any", "nonzero", "argwhere", "unique",
                                  "count_nonzero", "logical_not", "signbit", "argsort", "flatten", "real", "conj",
                                  "is_complex", "is_floating_point", "histc", "detach", "where"])
def test_lazy_placeholder_refused_by_functions(name: str) -> None:
    """A function given a lazy module's placeholder raises PyTorch's ValueError, never acts on its empty array."""
    from nn.parameter import UninitializedParameter
    with pytest.raises(ValueError):
        getattr(torch, name)(torch.nn.parameter.UninitializedParameter())
    with pytest.raises(ValueError, match="uninitialized parameter"):
        getattr(mg, name)(UninitializedParameter())


def test_lazy_placeholder_size() -> None:
    """``p.size()`` is one of the methods PyTorch allows on a placeholder: its empty (0,) shape."""
    from nn.parameter import UninitializedParameter
    theirs = torch.nn.parameter.UninitializedParameter()
    assert tuple(UninitializedParameter().size()) == tuple(theirs.size())
    assert UninitializedParameter().size(0) == theirs.size(0)
