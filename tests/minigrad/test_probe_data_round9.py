"""Round-9 probe of ``mg.utils.data`` against torch.utils.data 2.13: the differences it found, fixed.

Exception types follow PyTorch's; where minigrad raised ValueError/TypeError before and PyTorch raises
AssertionError or RuntimeError, the error is both (code written for either keeps working).
Random orders are minigrad's own (not PyTorch's numbers), so shuffles are compared by what repeats.
"""

from __future__ import annotations

import collections

import numpy as np
import pytest

import minigrad as mg
from minigrad.utils import data as D


def _outcome(make: object) -> object:
    """("ok", value) or the exception's class name; Tensors become (dtype, values) to compare libraries."""
    try:
        value = make()
    except Exception as error:   # noqa: BLE001 - the class is what is compared
        return type(error).__name__
    if hasattr(value, "numpy"):
        return (str(value.dtype).replace("torch.", ""), value.numpy().tolist())
    return ("ok", value)


class Stream(D.IterableDataset):
    def __iter__(self):
        return iter(range(3))

    def __len__(self) -> int:
        return 3


# --- collate ---------------------------------------------------------------------------------------------


def test_collate_of_mixed_shapes_names_the_entries_as_torch(torch) -> None:
    from torch.utils.data import default_collate as torch_collate

    for batch in ([[1.0, 2.0], [3.0, 4.0], [5.0]], [[1.0], [2.0, 3.0]]):
        with pytest.raises(RuntimeError) as theirs:
            torch_collate([torch.tensor(b) for b in batch])
        for samples in ([mg.tensor(b) for b in batch], [np.array(b) for b in batch]):
            with pytest.raises(RuntimeError) as ours:
                D.default_collate(samples)
            assert str(theirs.value) in str(ours.value)   # "… but got [2] at entry 0 and [1] at entry 2"


# --- samplers --------------------------------------------------------------------------------------------


def test_sampler_flag_errors_have_torchs_classes(torch) -> None:
    import torch.utils.data as T

    for lib in (D, T):
        with pytest.raises(ValueError, match="drop_last should be a boolean"):
            lib.BatchSampler(range(3), 2, 1)
        with pytest.raises(ValueError, match="drop_last should be a boolean"):
            lib.DataLoader(list(range(3)), batch_size=2, drop_last=1)
        with pytest.raises(ValueError, match="replacement should be a boolean"):
            lib.WeightedRandomSampler([1.0, 2.0], 2, replacement=1)
        with pytest.raises(TypeError, match="replacement should be a boolean"):
            lib.RandomSampler(range(3), replacement=1)


def test_random_sampler_refuses_an_empty_dataset_as_torch(torch) -> None:
    import torch.utils.data as T

    for lib in (D, T):
        with pytest.raises(ValueError, match="num_samples should be a positive integer value, but got num_samples=0"):
            lib.RandomSampler([])
        with pytest.raises(ValueError, match="num_samples=0"):
            lib.DataLoader([], shuffle=True)
        assert list(lib.DataLoader([], shuffle=False)) == []
        assert len(lib.RandomSampler([], num_samples=3)) == 3


def test_weighted_sampler_without_replacement_and_too_few_weights_raises_torchs_runtime_error(torch) -> None:
    import torch.utils.data as T

    for lib in (D, T):
        sampler = lib.WeightedRandomSampler([1.0, 1.0], 3, replacement=False)   # built, refused when drawn
        with pytest.raises(RuntimeError, match="cannot sample n_sample > prob_dist.size"):
            list(sampler)
    with pytest.raises(ValueError):   # minigrad's earlier class still catches it
        list(D.WeightedRandomSampler([1.0, 1.0], 3, replacement=False))
    assert sorted(D.WeightedRandomSampler([1.0, 2.0, 3.0], 3, replacement=False)) == [0, 1, 2]


# --- DataLoader options ----------------------------------------------------------------------------------


def test_timeout_without_workers_is_refused_when_iterated_as_torch(torch) -> None:
    for lib in (D, torch.utils.data):
        loader = lib.DataLoader(list(range(4)), batch_size=2, timeout=5)
        assert len(loader) == 2 and loader.timeout == 5
        with pytest.raises(AssertionError, match="timeout == 0"):
            iter(loader)
    with pytest.raises(ValueError):
        iter(D.DataLoader(list(range(4)), timeout=1.5))
    workers = D.DataLoader(list(range(4)), batch_size=2, timeout=5, num_workers=2)
    assert [b.tolist() for b in workers] == [[0, 1], [2, 3]]


def test_prefetch_factor_zero_with_workers_raises_torchs_assertion(torch) -> None:
    with pytest.raises(AssertionError, match="prefetch_factor"):
        D.DataLoader(list(range(4)), num_workers=2, prefetch_factor=0)
    with pytest.raises(ValueError, match="prefetch_factor"):
        D.DataLoader(list(range(4)), num_workers=2, prefetch_factor=-1)
    with pytest.raises(ValueError, match="prefetch_factor"):
        torch.utils.data.DataLoader(list(range(4)), num_workers=2, prefetch_factor=-1)
    with pytest.raises(ValueError, match="prefetch_factor"):   # both refuse it without workers
        D.DataLoader(list(range(4)), prefetch_factor=2)
    assert D.DataLoader(list(range(4)), num_workers=2, prefetch_factor=3, pin_memory=True,
                        persistent_workers=True).prefetch_factor == 3


# --- datasets --------------------------------------------------------------------------------------------


def test_dataset_checks_raise_torchs_assertion_error_too(torch) -> None:
    import torch.utils.data as T

    cases = [(lambda L, lib: L.TensorDataset(lib.zeros(3), lib.zeros(4)), ValueError),
             (lambda L, lib: L.ConcatDataset([]), ValueError),
             (lambda L, lib: L.ConcatDataset([[1], Stream() if L is D else TorchStream()]), TypeError),
             (lambda L, lib: list(L.ChainDataset([Stream() if L is D else TorchStream(), [1, 2]])), TypeError),
             (lambda L, lib: len(L.ChainDataset([Stream() if L is D else TorchStream(), [1, 2]])), TypeError)]

    class TorchStream(T.IterableDataset):
        def __iter__(self):
            return iter(range(3))

        def __len__(self) -> int:
            return 3

    for make, ours_before in cases:
        with pytest.raises(AssertionError):
            make(T, torch)
        with pytest.raises(AssertionError):
            make(D, mg)
        with pytest.raises(ours_before):   # the class minigrad raised before still catches it
            make(D, mg)
    with pytest.raises(AssertionError, match="size mismatch between tensors"):
        D.TensorDataset(mg.zeros(3), mg.zeros(4))


def test_stack_dataset_has_torchs_datasets_and_batched_getitems(torch) -> None:
    import torch.utils.data as T

    class Batched(D.Dataset):
        """A dataset read in one call per batch; counts its calls."""

        def __init__(self) -> None:
            self.calls = 0

        def __len__(self) -> int:
            return 4

        def __getitem__(self, i: int) -> int:
            return 10 * i

        def __getitems__(self, indices: list) -> list:
            self.calls += 1
            return [10 * i for i in indices]

    for args, kwargs in ((([1, 2, 3, 4], "abcd"), {}), ((), {"x": [1, 2, 3, 4], "y": "abcd"})):
        ours, theirs = D.StackDataset(*args, **kwargs), T.StackDataset(*args, **kwargs)
        assert ours.datasets == theirs.datasets
        assert ours.__getitems__([3, 0]) == theirs.__getitems__([3, 0])
    batched = Batched()
    stacked = D.StackDataset(a=batched, b=list("wxyz"))
    assert stacked.__getitems__([1, 2]) == [{"a": 10, "b": "x"}, {"a": 20, "b": "y"}] and batched.calls == 1
    batches = list(D.DataLoader(stacked, batch_size=2))
    assert batched.calls == 3 and batches[1]["a"].tolist() == [20, 30] and batches[1]["b"] == ["y", "z"]

    class Short(Batched):
        def __getitems__(self, indices: list) -> list:
            return [0]

    with pytest.raises(ValueError, match="output size mismatch"):
        D.StackDataset(Short(), [1, 2, 3, 4]).__getitems__([0, 1])


# --- DistributedSampler ----------------------------------------------------------------------------------


def test_distributed_sampler_shares_as_torch_without_a_process_group(torch) -> None:
    import torch.utils.data as T

    for n in (0, 1, 5, 7, 10):
        for replicas in (1, 2, 3, 4):
            for drop_last in (False, True):
                for rank in range(replicas):
                    ours = D.DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
                    theirs = T.DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
                    assert (list(ours), len(ours), ours.total_size) == (list(theirs), len(theirs), theirs.total_size)
                    shuffled = D.DistributedSampler(range(n), replicas, rank, drop_last=drop_last, seed=3)
                    assert len(list(shuffled)) == len(theirs)
    for lib in (D, T):
        with pytest.raises(ValueError, match=r"Invalid rank 2, rank should be in the interval \[0, 1\]"):
            lib.DistributedSampler(range(5), num_replicas=2, rank=2)
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            lib.DistributedSampler(range(5))
    assert D.DistributedSampler is D.distributed.DistributedSampler


def test_distributed_sampler_shuffles_per_epoch_identically_in_every_replica() -> None:
    def shares(epoch: int, seed: int = 1) -> list:
        samplers = [D.DistributedSampler(range(10), 2, rank, seed=seed) for rank in range(2)]
        for sampler in samplers:
            sampler.set_epoch(epoch)
        return [list(s) for s in samplers]

    first = shares(0)
    assert sorted(first[0] + first[1]) == list(range(10))   # the replicas split one permutation
    assert shares(0) == first and shares(1) != first and shares(0, seed=2) != first
    sampler = D.DistributedSampler(range(10), 2, 0, seed=1)
    assert list(sampler) == list(sampler) == first[0] and sampler.epoch == 0
    mg.manual_seed(0)
    before = mg.rand(1).item()
    mg.manual_seed(0)
    list(sampler)
    assert mg.rand(1).item() == before   # the engine's stream is untouched
    loader = D.DataLoader(list(range(10)), batch_size=2, sampler=D.DistributedSampler(range(10), 2, 1, shuffle=False))
    assert [b.tolist() for b in loader] == [[1, 3], [5, 7], [9]] and len(loader) == 3


# --- what the probe found already as torch's (kept so) ----------------------------------------------------


def test_loader_batching_and_lengths_as_torch(torch) -> None:
    import torch.utils.data as T

    data = list(range(10))
    for options in ({"batch_size": None}, {"batch_size": 3}, {"batch_size": 3, "drop_last": True},
                    {"batch_size": 11, "drop_last": True}, {"batch_size": 4, "sampler": [9, 1, 5, 2, 0]}):
        ours, theirs = D.DataLoader(data, **options), T.DataLoader(data, **options)
        assert len(ours) == len(theirs)
        assert [_outcome(lambda b=b: b) for b in ours] == [_outcome(lambda b=b: b) for b in theirs]
    for has_len in (True, False):
        class OurStream(D.IterableDataset):
            def __iter__(self):
                return iter(range(7))

        class TheirStream(T.IterableDataset):
            def __iter__(self):
                return iter(range(7))

        if has_len:
            OurStream.__len__ = TheirStream.__len__ = lambda self: 7
        for batch_size, drop_last in ((None, False), (2, False), (2, True), (8, True)):
            options = {"batch_size": batch_size, "drop_last": drop_last}
            assert _outcome(lambda: len(D.DataLoader(OurStream(), **options))) == \
                _outcome(lambda: len(T.DataLoader(TheirStream(), **options)))   # noqa: B023 - called at once


def test_collate_keeps_torchs_types(torch) -> None:
    from torch.utils.data import default_collate as torch_collate

    Pair = collections.namedtuple("Pair", "a b")
    for batch in ([1, 2], [1.5, 2.5], [True, False], [np.float32(1), np.float32(2)], [np.int8(1), np.int8(2)]):
        assert _outcome(lambda b=batch: D.default_collate(b)) == _outcome(lambda b=batch: torch_collate(b))
    ours = D.default_collate([Pair(1, "a"), Pair(2, "b")])
    theirs = torch_collate([Pair(1, "a"), Pair(2, "b")])
    assert type(ours) is Pair and ours.a.tolist() == theirs.a.tolist() and ours.b == theirs.b == ("a", "b")
