"""Indexing and shape ops against torch 2.13 (round 14): the leftovers two differential fuzzers found — an empty
``...`` between advanced indices, index dtypes, block_diag of empty 1-D parts, roll/repeat_interleave/meshgrid/
cartesian_prod errors, and fill_/zero_ on expanded views."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg

X = np.arange(60.0).reshape(4, 3, 5)
MASK_2D = [[True] + [False] * 4, [False] * 5, [False] * 3 + [True, False]]   # two True: pairs with a (2,)


def _index_ellipsis_cases() -> list:
    """Indices of a (4, 3, 5) tensor whose ``...`` covers no dims (lib: torch or mg, for the index tensors)."""
    return [
        lambda lib: (slice(None), lib.tensor([0, 1]), ..., lib.tensor([1, 2])),
        lambda lib: (slice(None), lib.tensor([0, 1]), ..., lib.tensor([True, False, True, False, False])),
        lambda lib: (lib.tensor([0, 1]), ..., lib.tensor([0, 2]), lib.tensor([1, 2])),
        lambda lib: (lib.tensor([0, 1]), None, ..., slice(1, 3), lib.tensor([1, 2])),
        lambda lib: (lib.tensor([0, 1]), 1, ..., lib.tensor([1, 2])),
        lambda lib: (lib.tensor([0, 1]), ..., True, slice(None), lib.tensor([1, 2])),
        lambda lib: (lib.tensor([0, 1]), ..., lib.tensor(MASK_2D)),
        lambda lib: (slice(None), lib.tensor([0, 2]), Ellipsis, lib.tensor([[1], [4]])),
    ]


@pytest.mark.parametrize("case", range(len(_index_ellipsis_cases())))
def test_empty_ellipsis_does_not_part_advanced_indices(torch: Any, case: int) -> None:
    """``x[:, t, ..., t2]`` of a 3-d x gave shape (2, 4) (NumPy's: the ``...`` parts the advanced indices); torch
    drops an ``...`` that covers no dims, so the indices are adjacent: (4, 2). Values, gradient and setitem."""
    make = _index_ellipsis_cases()[case]
    t = torch.tensor(X, requires_grad=True)
    m = mg.tensor(X, requires_grad=True)
    expected, got = t[make(torch)], m[make(mg)]
    assert tuple(got.shape) == tuple(expected.shape)
    np.testing.assert_array_equal(got.numpy(), expected.detach().numpy())
    weights = np.random.default_rng(case).standard_normal(tuple(expected.shape))
    (expected * torch.tensor(weights)).sum().backward()
    (got * mg.tensor(weights)).sum().backward()
    np.testing.assert_allclose(m.grad.numpy(), t.grad.numpy())
    t_written, m_written = torch.tensor(X), mg.tensor(X)
    t_written[make(torch)] = torch.tensor(weights)
    m_written[make(mg)] = mg.tensor(weights)
    np.testing.assert_array_equal(m_written.numpy(), t_written.numpy())
    m_recorded = mg.tensor(X, requires_grad=True) * 1.0   # the recorded setitem path too
    m_recorded[make(mg)] = mg.tensor(weights)
    np.testing.assert_array_equal(m_recorded.detach().numpy(), t_written.numpy())


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32"])
def test_take_reads_only_int64_indices(torch: Any, dtype: str) -> None:
    """``take(x, uint8_index)`` read the index as a mask (a silent wrong result); torch's take takes int64 only."""
    index = np.array([1, 0, 1], dtype=dtype)
    with pytest.raises(RuntimeError, match=r"take\(\)"):
        torch.take(torch.tensor(X), torch.from_numpy(index))
    with pytest.raises(RuntimeError, match=rf"take\(\): expected a long \(int64\) tensor for index, got dtype {dtype}"):
        mg.take(mg.tensor(X), mg.tensor(index))
    np.testing.assert_array_equal(mg.take(mg.tensor(X), mg.tensor(index.astype("int64"))).numpy(),
                                  torch.take(torch.tensor(X), torch.tensor(index.astype("int64"))).numpy())


@pytest.mark.parametrize("dtype", ["int8", "int16"])
@pytest.mark.parametrize("write", [False, True])
def test_index_tensor_of_a_narrow_integer_dtype_raises(torch: Any, dtype: str, write: bool) -> None:
    """``x[int16_tensor]`` was accepted; torch raises IndexError (long, int, byte or bool only), also for setitem.
    A 0-d one is an int there (accepted), and so is a NumPy array of any integer dtype."""
    index = np.array([1, 0], dtype=dtype)
    for lib in (torch, mg):
        x = lib.tensor(X)
        with pytest.raises(IndexError, match="tensors used as indices must be long, int, byte or bool tensors"):
            if write:
                x[:, lib.tensor(index)] = 1.0
            else:
                x[:, lib.tensor(index)]
    for index_of in (lambda lib: lib.tensor(index[0]), lambda lib: (slice(None), index)):
        np.testing.assert_array_equal(mg.tensor(X)[index_of(mg)].numpy(), torch.tensor(X)[index_of(torch)].numpy())


@pytest.mark.parametrize("shapes", [[(0,)], [(0,), (0,)], [(0,), ()], [(0, 0), (0,)], [(0,), (2, 0)], [(0,), (2, 2)],
                                    [(2, 2), (0,)], [(3, 0), (0,), (0, 2)], [(0,), (3,)]])
def test_block_diag_of_empty_1d_parts_matches_torch(torch: Any, shapes: list) -> None:
    """``block_diag(zeros(0))`` (every block of width 0) crashed with an internal IndexError; torch gives (1, 0).
    Each block gets its gradient, an empty one included (it was None when the block had width 0).

    torch 2.13's backward places the blocks after an empty 1-D one a row too high (its forward gives that block a
    row): the reference gradient is torch's with each 1-D block given as the (1, n) block it stands for."""
    arrays = [np.arange(float(np.prod(s))).reshape(s) + 1 for s in shapes]
    expected = torch.block_diag(*[torch.tensor(a) for a in arrays])
    inputs = [mg.tensor(a, requires_grad=True) for a in arrays]
    out = mg.block_diag(*inputs)
    assert tuple(out.shape) == tuple(expected.shape)
    np.testing.assert_array_equal(out.detach().numpy(), expected.numpy())
    weights = np.arange(float(out.numel())).reshape(tuple(out.shape))
    (out * mg.tensor(weights)).sum().backward()
    leaves = [torch.tensor(a, requires_grad=True) for a in arrays]
    blocks = [t.reshape(1, -1) if t.ndim == 1 else t for t in leaves]
    (torch.block_diag(*blocks) * torch.tensor(weights)).sum().backward()
    for mine, theirs in zip(inputs, leaves):
        assert tuple(mine.grad.shape) == tuple(theirs.grad.shape)
        np.testing.assert_array_equal(mine.grad.numpy(), theirs.grad.numpy())
