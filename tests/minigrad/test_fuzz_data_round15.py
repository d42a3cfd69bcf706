"""minigrad.utils.data against torch.utils.data: the cases a differential fuzzer found (round 15).

Each case runs the same call on torch and on minigrad and compares the batches (values, dtypes, shapes and
containers), lengths, or the class of the exception torch raises (never a hard-coded outcome). Random orders are
minigrad's own numbers, so they are compared by what they contain, not by their values."""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _plain(batch: Any) -> Any:
    """A batch as nested builtins: each tensor as (dtype name, shape, values), containers by type name."""
    if isinstance(batch, torch.Tensor):
        return str(batch.dtype).removeprefix("torch."), tuple(batch.shape), batch.tolist()
    if isinstance(batch, mg.Tensor):
        return str(batch.dtype), tuple(batch.shape), batch.tolist()
    if isinstance(batch, dict):
        return type(batch).__name__, {key: _plain(value) for key, value in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch).__name__, [_plain(value) for value in batch]
    return type(batch).__name__, batch


def _same_outcome(call: Callable[[Any, Any], Any]) -> None:
    """``call(data, lib)`` gives the same plain result on torch and minigrad, or raises an instance of torch's
    exception class on minigrad where torch raises."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            theirs = _plain(call(torch.utils.data, torch))
        except Exception as error:   # noqa: BLE001 - the class is what is compared
            with pytest.raises(type(error)):
                call(mg.utils.data, mg)
            return
    assert _plain(call(mg.utils.data, mg)) == theirs


# --- default_collate ------------------------------------------------------------------------------------------------

COLLATE_CASES = [   # a number first, then a Tensor: torch.tensor(batch) reads a one-element Tensor as a number
    lambda lib: [1.0, lib.tensor([2])],
    lambda lib: [1, lib.tensor(2.5, dtype=lib.float64)],
    lambda lib: [True, lib.tensor([0.5], dtype=lib.float16)],
    lambda lib: [[1, 0], lib.tensor([1.0, 1.0], dtype=lib.float16)],    # zipped: [1, tensor(1.)] and [0, tensor(1.)]
    lambda lib: [np.float32(1.0), lib.tensor([2])],
    lambda lib: [1.0, 2.0, lib.tensor([0.0, 2.0])],                    # several elements: ValueError
    lambda lib: [True, lib.tensor([0, 0], dtype=lib.int32)],           # integral: TypeError
    lambda lib: [np.float16(2.0), lib.tensor([2, 1], dtype=lib.int32)],
    lambda lib: [1.0, lib.ones(0)],
    # a NumPy string after an array: torch.as_tensor's TypeError (a stack size error before)
    lambda lib: [np.ones(2, np.uint8), np.str_("s")],
    lambda lib: [np.ones(1), np.bytes_(b"s")],
    # after an array, what torch.as_tensor cannot read raises its class (RuntimeError for a dict, a set or an object;
    # ValueError for a list of strings): a TypeError before
    lambda lib: [np.ones(1), {"a": 1}],
    lambda lib: [np.array(0, np.int8), {1, 2}],
    lambda lib: [np.ones(1), ["a"]],
    lambda lib: [np.ones(1), object()],
    # list lengths checked in order: the first unequal length raises before a later sample without len()
    lambda lib: [[2, 2], np.array([0], np.uint8), 0.5],
]


@pytest.mark.parametrize("case", range(len(COLLATE_CASES)))
def test_default_collate_of_mixed_samples_as_torch(case: int) -> None:
    _same_outcome(lambda data, lib: data.default_collate(COLLATE_CASES[case](lib)))



def _memmap(tmp_path: Any) -> np.memmap:
    rows = np.memmap(tmp_path / "rows.f32", dtype=np.float32, mode="w+", shape=(5, 2))
    rows[:] = np.arange(10).reshape(5, 2)
    return rows


ARRAY_SUBCLASS_CASES = [   # NumPy array subclasses: torch.as_tensor reads them (a masked array as its data)
    lambda data, rows: list(data.DataLoader(rows, batch_size=2)),   # a disk-backed dataset: refused before
    lambda data, rows: list(data.DataLoader(rows, batch_size=None)),
    lambda data, rows: data.default_collate([np.ones(2), rows[0]]),
    lambda data, rows: data.default_collate([np.matrix([[1, 2]]), np.matrix([[3, 4]])]),
    lambda data, rows: data.default_collate([np.ma.array([1, 2], mask=[0, 1]), np.ma.array([3, 4])]),
    lambda data, rows: data.default_convert((rows[0], [rows[1]])),
    lambda data, rows: data.default_convert(np.matrix([[1, 2]])),
    lambda data, rows: data.default_convert(np.zeros(2, "V4")),   # no numbers: torch's TypeError (kept before)
]


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
@pytest.mark.parametrize("case", range(len(ARRAY_SUBCLASS_CASES)))
def test_memmap_matrix_and_masked_arrays_collate_as_torch(case: int, tmp_path: Any) -> None:
    rows = _memmap(tmp_path)
    _same_outcome(lambda data, lib: ARRAY_SUBCLASS_CASES[case](data, rows))

# --- workers --------------------------------------------------------------------------------------------------------

def _failing_loader(data: Any, which: str) -> Any:
    class Rows(data.Dataset):
        def __len__(self) -> int:
            return 6

        def __getitem__(self, i: int) -> int:
            if i == 3:
                raise KeyError("boom")
            return i

    class Stream(data.IterableDataset):
        def __iter__(self) -> Any:
            yield 1
            raise ValueError("boom")

    if which == "map":
        return data.DataLoader(Rows(), batch_size=2, num_workers=2)
    return data.DataLoader(Stream(), num_workers=1)


@pytest.mark.parametrize("which, error, worker_id", [("map", KeyError, 1), ("stream", ValueError, 0)])
def test_an_error_in_a_worker_names_the_worker_as_torch(which: str, error: type, worker_id: int) -> None:
    """The same class and message as torch's main process re-raises (batch 1 is worker 1's). Torch's own
    re-raise (its ExceptionWrapper) makes the expected message: a failing torch worker process takes seconds
    to shut down."""
    from torch.utils.data._utils import ExceptionWrapper

    try:
        raise error("boom")
    except error:
        wrapper = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
    with pytest.raises(error) as theirs:
        wrapper.reraise()
    with pytest.raises(error) as ours:
        list(_failing_loader(mg.utils.data, which))
    theirs_lines, ours_lines = str(theirs.value).splitlines(), str(ours.value).splitlines()
    assert ours_lines[:2] == theirs_lines[:2]   # "Caught KeyError in DataLoader worker process 1.", "Original …"
    assert ours_lines[-1] == theirs_lines[-1]   # the original "KeyError: 'boom'"


# --- samplers and loader options ------------------------------------------------------------------------------------

SAMPLER_CASES = [
    # no samples to permute: torch divides by zero (an empty pass, with len() 3, before)
    lambda data, lib: list(data.RandomSampler(range(0), num_samples=3)),
    lambda data, lib: list(data.DataLoader(range(0), sampler=data.RandomSampler(range(0), num_samples=2))),
    # with a batch_sampler, torch only asks batch_size == 1 (True is 1); other values are refused
    lambda data, lib: (lambda loader: (len(loader), list(loader)))(
        data.DataLoader(range(4), batch_size=True, batch_sampler=data.BatchSampler(range(4), 3, False))),
    lambda data, lib: data.DataLoader(range(4), batch_size=0, batch_sampler=[[0]]),
    lambda data, lib: data.DataLoader(range(4), batch_size=2.0, batch_sampler=[[0]]),
]


@pytest.mark.parametrize("case", range(len(SAMPLER_CASES)))
def test_samplers_and_loader_options_as_torch(case: int) -> None:
    _same_outcome(SAMPLER_CASES[case])


@pytest.mark.gpu
def test_tensors_among_numbers_and_memmap_rows_collate_on_gpu(tmp_path: Any) -> None:
    """A one-element cuda Tensor among numbers is read as a number; memmap rows go to the default device."""
    batch = mg.utils.data.default_collate([1.0, mg.tensor([2.0], device="cuda")])
    assert batch.dtype == np.float64 and batch.tolist() == [1.0, 2.0]
    rows = _memmap(tmp_path)
    mg.set_default_device("cuda")
    try:
        batch = mg.utils.data.default_collate([rows[0], rows[1]])
    finally:
        mg.set_default_device("cpu")
    assert str(batch.device).startswith("cuda") and batch.dtype == np.float32 and batch.tolist() == [[0, 1], [2, 3]]
