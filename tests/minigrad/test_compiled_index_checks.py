"""An ``mg.compile`` replay reads and checks each call's index, as eager mode does.

The range checks of the ops that read a user's index (gather, scatter, scatter_add, scatter_reduce, index_add,
index_copy, index_fill, index_reduce, bincount, searchsorted's sorter, unravel_index) are made by the ops
themselves, so a replay with a negative or too-large index raises eager's error (NumPy would wrap a negative
one silently) and a replay with another valid index gives eager's values and gradients (index_fill's mask, an
int32 index and a 0-d index are each call's, not the capture's).
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

F64 = mg.float64


def _ones(*shape: int) -> mg.Tensor:
    return mg.ones(*shape, dtype=F64)


# name: (fn(x, index), index of shape (3, 1) read as (3, 1) or flattened to (3,))
OPS: dict[str, Callable[[mg.Tensor, mg.Tensor], mg.Tensor]] = {
    "gather": lambda x, i: x.gather(1, i),
    "scatter": lambda x, i: x.scatter(1, i, _ones(3, 1) * 2),
    "scatter_value": lambda x, i: x.scatter(1, i, 2.0),
    "scatter_add": lambda x, i: x.scatter_add(1, i, _ones(3, 1) * 2),
    "scatter_add_": lambda x, i: (x * 1).scatter_add_(1, i, _ones(3, 1) * 2),
    "scatter_reduce": lambda x, i: x.scatter_reduce(1, i, _ones(3, 1) * 2, "amax"),
    "scatter_reduce_": lambda x, i: (x * 1).scatter_reduce_(1, i, _ones(3, 1) * 2, "sum"),
    "scatter_multiply": lambda x, i: x.scatter(1, i, 2.0, reduce="multiply"),
    "index_add": lambda x, i: x.index_add(1, i.reshape(-1), _ones(3, 3) * 2),
    "index_add_": lambda x, i: (x * 1).index_add_(1, i.reshape(-1), _ones(3, 3) * 2),
    "index_copy": lambda x, i: x.index_copy(1, i.reshape(-1), _ones(3, 3) * 2),
    "index_copy_": lambda x, i: (x * 1).index_copy_(1, i.reshape(-1), _ones(3, 3) * 2),
    "index_fill": lambda x, i: x.index_fill(1, i.reshape(-1), 5.0),
    "index_fill_": lambda x, i: (x * 1).index_fill_(1, i.reshape(-1), 5.0),
    "index_fill_0d_index": lambda x, i: x.index_fill(1, i[2, 0], 5.0),
    "index_reduce": lambda x, i: x.index_reduce(1, i.reshape(-1), _ones(3, 3) * 2, "prod"),
    "gather_int32": lambda x, i: x.gather(1, i.int()),
    "scatter_add_int32": lambda x, i: x.scatter_add(1, i.int(), _ones(3, 1) * 2),
    "index_add_int32": lambda x, i: x.index_add(1, i.reshape(-1).int(), _ones(3, 3) * 2),
    "index_fill_int32": lambda x, i: x.index_fill(1, i.reshape(-1).int(), 5.0),
}

GOOD = [[0], [1], [2]]
# (a negative index, another negative one, a too-large one, another valid one with repeats)
CALLS = [[[0], [1], [-1]], [[0], [-5], [1]], [[0], [1], [4]], [[3], [0], [3]]]
# the order of the calls after the capture: another valid index first (the call that compares the capture's
# frozen values with eager's must find none that differ), the bad ones, then the good one again
ORDER = [3, 0, 1, 2, 3]

# eager mode's errors, as they were before the checks moved into the ops (for the index of each CALLS entry)
EAGER_ERRORS = {
    ("gather", 0): "gather: index out of range for dim 1 of size 4 (index values -1..1)",
    ("gather", 2): "gather: index out of range for dim 1 of size 4 (index values 0..4)",
    ("scatter", 1): "scatter: index out of range for dim 1 of size 4 (index values -5..1)",
    ("scatter_value", 0): "scatter: index out of range for dim 1 of size 4 (index values -1..1)",
    ("scatter_add", 2): "scatter_add: index out of range for dim 1 of size 4 (index values 0..4)",
    ("scatter_add_", 0): "scatter_add_: index out of range for dim 1 of size 4 (index values -1..1)",
    ("scatter_reduce", 0): "scatter_reduce: index out of range for dim 1 of size 4 (index values -1..1)",
    ("scatter_reduce_", 2): "scatter_reduce_: index out of range for dim 1 of size 4 (index values 0..4)",
    ("index_add", 0): "index_add: index -1 is out of range for dim 1 (shape (3, 4)) of size 4",
    ("index_add_", 2): "index_add_: index 4 is out of range for dim 1 (shape (3, 4)) of size 4",
    ("index_copy", 1): "index_copy: index -5 is out of range for dim 1 (shape (3, 4)) of size 4",
    ("index_copy_", 0): "index_copy_: index -1 is out of range for dim 1 (shape (3, 4)) of size 4",
    ("index_fill", 1): "index_fill: index -5 is out of range for dim 1 (shape (3, 4)) of size 4",
    ("index_fill", 2): "index_fill: index 4 is out of range for dim 1 (shape (3, 4)) of size 4",
    ("index_fill_", 2): "index_fill: index 4 is out of range for dim 1 (shape (3, 4)) of size 4",
    ("index_reduce", 0): "index_reduce: index out of range for dim 1 of size 4 (index values -1..1)",
}


def _x() -> mg.Tensor:
    return mg.tensor(np.random.default_rng(0).standard_normal((3, 4)) + 3, dtype=F64, requires_grad=True)


def _run(fn: Callable, x: mg.Tensor, index: Any) -> tuple:
    """(values, x's gradient) of ``fn(x, index)``, or the error it raises."""
    x.grad = None
    try:
        out = fn(x, mg.tensor(index))
    except Exception as error:   # noqa: BLE001 - compared below
        return error, None
    weights = mg.tensor(np.arange(1, out.numel() + 1, dtype=np.float64).reshape(out.shape))
    (out * weights).sum().backward()
    return out.detach().numpy().copy(), x.grad.numpy().copy()


@pytest.mark.parametrize("name", list(OPS))
def test_every_replay_checks_and_reads_its_own_index(name: str) -> None:
    fn = OPS[name]
    x = _x()
    compiled = mg.compile(fn)
    with warnings.catch_warnings():
        # captured, not run eagerly (an in-place op's function runs eagerly: its errors are still eager's)
        warnings.simplefilter("ignore" if name.endswith("_") else "error", mg.CompileWarning)
        for k in [None, *ORDER, None, None]:   # the capture, then replays
            index = GOOD if k is None else CALLS[k]
            eager = _run(fn, x, index)
            replayed = _run(compiled, x, index)
            if isinstance(eager[0], Exception):
                error = replayed[0]
                assert isinstance(error, Exception), f"{name}: eager raises {eager[0]!r}, the replay gave values"
                base = next(kind for kind in (IndexError, ValueError, TypeError) if isinstance(eager[0], kind))
                assert isinstance(error, base) and str(eager[0]) in str(error), (eager[0], error)
                if (name, k) in EAGER_ERRORS:
                    assert str(eager[0]) == EAGER_ERRORS[name, k]
            else:
                assert not isinstance(replayed[0], Exception), f"{name}: {replayed[0]!r}, eager gives values"
                np.testing.assert_array_equal(replayed[0], eager[0])
                np.testing.assert_array_equal(replayed[1], eager[1])


@pytest.mark.parametrize("name", ["gather", "scatter", "scatter_add", "scatter_reduce", "index_add", "index_copy",
                                  "index_reduce", "index_fill"])
def test_eager_still_raises_as_before(name: str) -> None:
    fn = OPS[name]
    for (op, k), message in EAGER_ERRORS.items():
        if op == name:
            with pytest.raises(IndexError) as info:
                fn(_x(), mg.tensor(CALLS[k]))
            assert str(info.value) == message


def test_index_fill_takes_negative_indices_in_a_replay_as_eager() -> None:
    x = _x()
    compiled = mg.compile(OPS["index_fill"])
    for _ in range(3):
        compiled(x, mg.tensor(GOOD))
    out = compiled(x, mg.tensor([[0], [1], [-1]]))
    expected = x.detach().numpy().copy()
    expected[:, [0, 1, 3]] = 5.0
    np.testing.assert_array_equal(out.detach().numpy(), expected)


def _replays(fn: Callable, good: Any, bad: Any, *args: Any) -> tuple:
    """(eager's error, the replay's error) of ``fn(*args, bad)`` after captures with ``good``."""
    compiled = mg.compile(fn)
    for _ in range(4):
        compiled(*args, mg.tensor(good))
    with pytest.raises(Exception) as eager:
        fn(*args, mg.tensor(bad))
    with pytest.raises(Exception) as replayed:
        compiled(*args, mg.tensor(bad))
    assert str(eager.value) in str(replayed.value)
    assert isinstance(replayed.value, next(k for k in (IndexError, ValueError) if isinstance(eager.value, k)))
    return eager.value, replayed.value


def test_bincount_replay_checks_for_negative_values() -> None:
    eager, _ = _replays(lambda i: mg.bincount(i, minlength=8).float() * 1.0, [0, 1, 2], [0, -1, 2])
    assert isinstance(eager, ValueError) and str(eager) == "bincount: only non-negative inputs, got the value -1"
    weights = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    eager, _ = _replays(lambda w, i: mg.bincount(i, w, minlength=8), [0, 1, 2], [0, -2, 2], weights)
    assert str(eager) == "bincount: only non-negative inputs, got the value -2"


@pytest.mark.parametrize("bad", [[0, 1, -1], [0, 3, 1]])
def test_searchsorted_replay_checks_the_sorter(bad: list) -> None:
    sequence, values = mg.tensor([3.0, 1.0, 2.0]), mg.tensor([0.5, 1.5, 2.5, 3.5])
    eager, _ = _replays(lambda s, v, i: mg.searchsorted(s, v, sorter=i).float() * 1.0, [1, 2, 0], bad,
                        sequence, values)
    assert isinstance(eager, ValueError)
    assert str(eager) == f"searchsorted: sorter indices must be in [0, 3), got {min(bad)}..{max(bad)}"
    compiled = mg.compile(lambda s, v, i: mg.searchsorted(s, v, sorter=i).float() * 1.0)
    for order in ([1, 2, 0], [1, 2, 0], [2, 1, 0], [0, 1, 2]):   # another valid sorter: eager's result
        expected = mg.searchsorted(sequence, values, sorter=mg.tensor(order)).numpy()
        np.testing.assert_array_equal(compiled(sequence, values, mg.tensor(order)).numpy(), expected)


def test_unravel_index_replay_checks_the_range() -> None:
    eager, replayed = _replays(lambda i: mg.unravel_index(i, (3, 4))[0] * 1, [0, 5, 11], [0, 5, 12])
    assert isinstance(replayed, IndexError)
    assert str(eager) == "unravel_index: 'indices' must be in range [-12, 11] for shape (3, 4)"
    _replays(lambda i: mg.unravel_index(i, (3, 4))[1] * 1, [0, 5, 11], [0, -13, 1])


def test_take_along_dim_without_dim_checks_each_replays_index() -> None:
    x = mg.arange(6.0).reshape(2, 3).requires_grad_()
    compiled = mg.compile(lambda x, i: mg.take_along_dim(x, i))
    for _ in range(4):
        compiled(x, mg.tensor([5, 0]))
    for bad in (mg.tensor([5, -1]), mg.tensor([6, 0])):
        with pytest.raises(IndexError, match="take_along_dim"):
            mg.take_along_dim(x, bad)
        with pytest.raises(IndexError, match="take_along_dim"):
            compiled(x, bad)
    np.testing.assert_array_equal(compiled(x, mg.tensor([1, 2])).numpy(), [1.0, 2.0])
