"""Indexing and shape ops against torch 2.13 (round 14): the leftovers two differential fuzzers found — an empty
``...`` between advanced indices, index dtypes, block_diag of empty 1-D parts, roll/repeat_interleave/meshgrid/
cartesian_prod errors, and fill_/zero_ on expanded views."""

from __future__ import annotations

from typing import Any, Callable

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


def _raises_as_torch(torch: Any, call: Callable[[Any], Any], error: type, message: str) -> None:
    """``call(torch)`` raises ``error`` (torch's class), and ``call(mg)`` raises one that is also an ``error``."""
    with pytest.raises(error):
        call(torch)
    with pytest.raises(error, match=message):
        call(mg)


ROLL_ERRORS = [
    (lambda lib: lib.roll(lib.tensor(3.0), 1, 0), IndexError, "out of range for a 0-d tensor"),
    (lambda lib: lib.roll(lib.tensor(3.0), (1,), (-1,)), IndexError, "out of range for a 0-d tensor"),
    (lambda lib: lib.roll(lib.tensor(3.0), (1, 1), (0, 0)), IndexError, "out of range for a 0-d tensor"),
    (lambda lib: lib.roll(lib.tensor(3.0), (1, 1), 0), RuntimeError, "must have the same length"),
    (lambda lib: lib.roll(lib.tensor(X), (), ()), RuntimeError, "`shifts` required"),
    (lambda lib: lib.roll(lib.tensor(X), (), 0), RuntimeError, "`shifts` required"),
    (lambda lib: lib.roll(lib.tensor(X), ()), RuntimeError, "`shifts` required"),
    (lambda lib: lib.roll(lib.tensor(3.0), (), ()), RuntimeError, "`shifts` required"),
    (lambda lib: lib.fft.fftshift(lib.ones(3), dim=()), RuntimeError, "`shifts` required"),
]


@pytest.mark.parametrize("case", range(len(ROLL_ERRORS)))
def test_roll_errors_match_torch(torch: Any, case: int) -> None:
    """roll of a 0-d tensor with dims returned it unchanged, and ``roll(x, (), ())`` returned x: torch raises."""
    _raises_as_torch(torch, *ROLL_ERRORS[case])


@pytest.mark.parametrize("call", [lambda lib: lib.roll(lib.tensor(X), 1, ()), lambda lib: lib.roll(lib.tensor(3.0), 2),
                                  lambda lib: lib.roll(lib.tensor(X), (1, -1), (0, 2))])
def test_roll_still_matches_torch(torch: Any, call: Callable[[Any], Any]) -> None:
    """dims ``()`` rolls the flattened tensor, as dims=None (it raised here); a 0-d tensor without dims rolls."""
    np.testing.assert_array_equal(call(mg).numpy(), call(torch).numpy())


REPEAT_INTERLEAVE_ERRORS = [   # (call, torch's class, the class minigrad raised before (kept as a base), message)
    (lambda lib: lib.repeat_interleave(lib.tensor(3.0), 2, dim=0), IndexError, IndexError, "for a 0-d tensor"),
    (lambda lib: lib.repeat_interleave(lib.tensor(3.0), lib.tensor([2]), dim=-1), IndexError, IndexError,
     "for a 0-d tensor"),
    (lambda lib: lib.repeat_interleave(lib.tensor([[1, 2]])), RuntimeError, ValueError, "1-D int tensor"),
    (lambda lib: lib.repeat_interleave(lib.tensor([1, -2])), RuntimeError, ValueError, "non-negative"),
    (lambda lib: lib.repeat_interleave(lib.tensor(X), -1, dim=0), RuntimeError, ValueError, "non-negative"),
    (lambda lib: lib.repeat_interleave(lib.tensor(X), lib.tensor([1, 0, -1, 2]), dim=0), RuntimeError, ValueError,
     "non-negative"),
    (lambda lib: lib.repeat_interleave(lib.tensor(X), 2, dim=0, output_size=3), RuntimeError, ValueError,
     "output_size=3"),
    (lambda lib: lib.repeat_interleave(lib.tensor(X), lib.tensor([1.0] * 4), dim=0), NotImplementedError, TypeError,
     "must be integers"),
    (lambda lib: lib.repeat_interleave(lib.tensor([1.0, 2.0])), NotImplementedError, TypeError, "must be integers"),
    (lambda lib: lib.repeat_interleave(lib.tensor(X), lib.tensor([[1] * 4]), dim=0), RuntimeError, TypeError,
     "1-D int tensor"),
]


@pytest.mark.parametrize("case", range(len(REPEAT_INTERLEAVE_ERRORS)))
def test_repeat_interleave_errors_match_torch(torch: Any, case: int) -> None:
    """repeat_interleave raised ValueError/TypeError where torch raises RuntimeError (NotImplementedError for a
    float repeats tensor), and gave (2,) for a 0-d tensor with dim=0 where torch raises IndexError. The old class
    stays a base of the new one."""
    call, torch_class, old_class, message = REPEAT_INTERLEAVE_ERRORS[case]
    _raises_as_torch(torch, call, torch_class, message)
    with pytest.raises(old_class):
        call(mg)


def test_repeat_interleave_of_a_0d_tensor_without_dim_matches_torch(torch: Any) -> None:
    """dim=None flattens: a 0-d tensor is repeated into (n,), as torch."""
    for repeats in (lambda lib: 2, lambda lib: lib.tensor([2])):
        np.testing.assert_array_equal(mg.repeat_interleave(mg.tensor(3.0), repeats(mg)).numpy(),
                                      torch.repeat_interleave(torch.tensor(3.0), repeats(torch)).numpy())


GRID_ERRORS = [   # (call, message): torch raises RuntimeError for each
    (lambda lib: lib.meshgrid(lib.ones(2, 2), lib.ones(3), indexing="ij"), "0-d or 1-D"),
    (lambda lib: lib.cartesian_prod(lib.tensor([1, 2]), lib.tensor([1.0, 2.0])), "the same dtype"),
    (lambda lib: lib.cartesian_prod(lib.tensor([1.0]), lib.tensor([1.0], dtype=lib.float64)), "the same dtype"),
    (lambda lib: lib.cartesian_prod(), "at least one tensor"),
]


@pytest.mark.parametrize("case", range(len(GRID_ERRORS)))
def test_meshgrid_and_cartesian_prod_errors_are_runtime_errors(torch: Any, case: int) -> None:
    """meshgrid of a 2-D tensor raised ValueError and cartesian_prod of no tensors TypeError (now both: also
    RuntimeError); cartesian_prod of mixed dtypes promoted them where torch refuses."""
    _raises_as_torch(torch, *GRID_ERRORS[case][:1], RuntimeError, GRID_ERRORS[case][1])


EXPANDED_FILLS = [   # (make the tensor written, from its base b (2, 4) of 1..8; write) under no_grad
    (lambda b: b[:1].expand(3, 4), lambda e: e.fill_(-1.0)),
    (lambda b: b[:, 1:2].expand(2, 5), lambda e: e.zero_()),
    (lambda b: b[1].expand(2, 3, 4), lambda e: e.fill_(7)),
    (lambda b: b[:1].expand(3, 4)[1], lambda e: e.fill_(-2.0)),
    (lambda b: b[:1].expand(3, 4).t(), lambda e: e.zero_()),
    (lambda b: b.reshape(-1).unfold(0, 3, 1), lambda e: e.fill_(5.0)),
]


@pytest.mark.parametrize("case", range(len(EXPANDED_FILLS)))
@pytest.mark.parametrize("requires_grad", [False, True])
def test_fill_of_an_expanded_view_writes_the_shared_memory_as_torch(torch: Any, case: int, requires_grad: bool) -> None:
    """``x.expand(3, 4).fill_(1)`` was refused (elements share memory); torch writes the memory, so the base and
    every broadcast copy read the value (also through a view of the expanded tensor, and of a leaf that requires
    grad under no_grad); the version counter moves."""
    make, write = EXPANDED_FILLS[case]
    results = []
    for lib in (torch, mg):
        base = lib.tensor(np.arange(1.0, 9.0).reshape(2, 4), requires_grad=requires_grad)
        with lib.no_grad():
            view = make(base)
            version = base._version
            assert write(view) is view
        results.append((base.detach().numpy().copy(), view.detach().numpy().copy(), base._version > version))
    (t_base, t_view, t_moved), (m_base, m_view, m_moved) = results
    np.testing.assert_array_equal(m_base, t_base)
    np.testing.assert_array_equal(m_view, t_view)
    assert m_moved and t_moved


@pytest.mark.parametrize("part", [lambda b: b, lambda b: b[:, :2], lambda b: b[1:]])
@pytest.mark.parametrize("fill", [lambda e: e.fill_(2.0), lambda e: e.zero_()])
def test_fill_of_an_expanded_view_of_a_non_leaf_is_recorded(torch: Any, part: Callable, fill: Callable) -> None:
    """While recording, ``b.expand(...).fill_(2)`` of a non-leaf b gives torch's values (b and its views read 2).
    torch 2.13's backward then raises (its CopySlices cannot take an overlapping view); minigrad's gives the exact
    gradient: that of filling b's part directly (0 where the fill overwrote b), checked against torch's."""
    weights = np.arange(8.0).reshape(2, 4)
    values = {}
    for lib in (torch, mg):
        leaf = lib.tensor(np.arange(1.0, 9.0).reshape(2, 4), requires_grad=True)
        b = leaf * leaf
        other = b.t()   # a view made before the fill reads the new values, with the new graph
        written = part(b)
        expanded = written.unsqueeze(0).expand(3, *written.shape)
        assert fill(expanded) is expanded
        values[lib.__name__] = b.detach().numpy().copy(), other.detach().numpy().copy(), expanded.detach().numpy()
    for mine, theirs in zip(values["minigrad"], values["torch"]):
        np.testing.assert_array_equal(mine, theirs)
    leaf = mg.tensor(np.arange(1.0, 9.0).reshape(2, 4), requires_grad=True)
    b = leaf * leaf
    other = b.t()
    written = part(b)
    fill(written.unsqueeze(0).expand(3, *written.shape))
    (other.t() * mg.tensor(weights)).sum().backward()
    reference = torch.tensor(np.arange(1.0, 9.0).reshape(2, 4), requires_grad=True)
    b_ref = reference * reference
    fill(part(b_ref))
    (b_ref * torch.tensor(weights)).sum().backward()
    np.testing.assert_array_equal(leaf.grad.numpy(), reference.grad.numpy())


REFUSED_EXPANDED_WRITES = [   # torch raises RuntimeError for each (message: minigrad's)
    (lambda lib: lib.ones(1, 3).expand(2, 3).add_(1.0), "single memory location"),
    (lambda lib: lib.ones(1, 3).expand(2, 3).copy_(lib.zeros(2, 3)), "single memory location"),
    (lambda lib: lib.ones(1, 3).expand(2, 3).fill_(lib.tensor(2.0)), "single memory location"),
    (lambda lib: lib.ones(1, 3, requires_grad=True).expand(2, 3).fill_(2.0), "view of a leaf Variable"),
]


@pytest.mark.parametrize("case", range(len(REFUSED_EXPANDED_WRITES)))
def test_other_writes_into_an_expanded_view_stay_refused(torch: Any, case: int) -> None:
    """Only a fill of one number is allowed: add_/copy_ (values that differ per copy), a fill with a tensor value
    (torch's refuses) and any write into a view of a leaf that requires grad while recording raise, as torch's."""
    _raises_as_torch(torch, *REFUSED_EXPANDED_WRITES[case][:1], RuntimeError, REFUSED_EXPANDED_WRITES[case][1])


def test_fill_of_an_expanded_view_under_no_grad_moves_the_base_version() -> None:
    """A saved array changed through the expanded view is refused by backward, as any in-place change."""
    leaf = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = leaf * 1
    y = b * b
    with mg.no_grad():
        b.expand(2, 3).fill_(5.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


@pytest.mark.parametrize("write", [lambda b: b.unfold(0, 3, 1).fill_(0.5), lambda b: b[1:].unfold(0, 2, 3).zero_(),
                                   lambda b: b.as_strided((3, 2), (1, 1)).fill_(0.5)])
def test_fill_of_overlapping_windows_of_a_non_leaf_matches_torch(torch: Any, write: Callable) -> None:
    """Overlapping unfold/as_strided windows (read-only here) take a fill while recording, as torch: values and
    gradient (was refused as a read-only view)."""
    results = []
    for lib in (torch, mg):
        leaf = lib.tensor(np.arange(1.0, 7.0), requires_grad=True)
        b = leaf * leaf
        write(b)
        (b * lib.tensor(np.arange(6.0))).sum().backward()
        results.append((b.detach().numpy().copy(), leaf.grad.numpy().copy()))
    for mine, theirs in zip(*reversed(results)):
        np.testing.assert_array_equal(mine, theirs)
