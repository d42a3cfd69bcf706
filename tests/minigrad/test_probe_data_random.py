"""Probe of ``mg.utils.data`` and the random-number API against PyTorch's habits.

Random streams are not PyTorch's (other generators), so draws are compared by semantics: what
repeats, what stays untouched, which ranges, dtypes, shapes and errors; batches, orders and
collated structures are compared with PyTorch's exactly.
"""

from __future__ import annotations

import collections
import math
import multiprocessing
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad import random as mg_random
from minigrad.ops.random import cauchy_, exponential_, geometric_, log_normal_, random_
from minigrad.utils import data as D

# --- RNG state -------------------------------------------------------------------------------------------


def _draws(generator: mg.Generator | None = None) -> list:
    g = {"generator": generator}
    return [mg.rand(3, **g).tolist(), mg.randn(2, 2, **g).tolist(), mg.randint(0, 10, (4,), **g).tolist(),
            mg.randperm(6, **g).tolist(), mg.normal(0.0, 2.0, (3,), **g).tolist(),
            mg.bernoulli(mg.full((5,), 0.5), **g).tolist(), mg.multinomial(mg.ones(4), 2, **g).tolist()]


def test_get_rng_state_is_a_byte_tensor_and_set_rng_state_repeats_every_draw(torch) -> None:
    mg.manual_seed(11)
    state = mg.get_rng_state()
    assert isinstance(state, mg.Tensor) and state.dtype == np.uint8 and state.ndim == 1
    assert torch.get_rng_state().dtype == torch.uint8 and torch.get_rng_state().ndim == 1   # the same kind
    first = _draws()
    assert mg.get_rng_state().tolist() != state.tolist()   # a copy: the draws did not change it
    mg.set_rng_state(state)
    assert _draws() == first
    mg.set_rng_state(state.numpy())   # an array of the bytes is taken too
    assert _draws() == first
    g = mg.Generator().manual_seed(3)
    saved = g.get_state()
    assert saved.dtype == np.uint8 and saved.tolist() == mg.Generator().manual_seed(3).get_state().tolist()
    drawn = _draws(g)
    assert g.set_state(saved) is g and _draws(g) == drawn
    twin = g.set_state(saved).clone_state()
    assert _draws(twin) == drawn == _draws(mg.Generator().set_state(saved))
    with pytest.raises(ValueError, match="uint8 tensor of 56 bytes"):
        mg.set_rng_state(mg.zeros(56))
    with pytest.raises(ValueError, match="uint8 tensor of 56 bytes"):
        g.set_state(torch.get_rng_state().numpy())


def test_manual_seed_takes_what_torch_takes_and_reseeds_held_generators(torch) -> None:
    assert mg.manual_seed(4) is mg.default_generator and mg.initial_seed() == 4
    assert mg.manual_seed(mg.tensor(7)).initial_seed() == 7 and mg.manual_seed(np.int64(8)).initial_seed() == 8
    assert mg.manual_seed(2 ** 64 - 1).initial_seed() == torch.manual_seed(2 ** 64 - 1).initial_seed()
    with pytest.raises(ValueError, match="below 2\\*\\*64"):
        mg.manual_seed(2 ** 64)
    with pytest.raises((ValueError, RuntimeError)):
        torch.manual_seed(2 ** 64)
    with pytest.raises(TypeError, match="the seed must be an int"):
        mg.Generator().manual_seed(1.5)
    held = mg.random_generator("cpu")   # the array interop's generator follows later seeds
    mg.manual_seed(5)
    value = held.random()
    mg.manual_seed(5)
    assert mg.rand(1, dtype=mg.float64).item() == value
    torch.manual_seed(0)


def test_initial_seed_of_an_unseeded_run_replays_it_from_the_start() -> None:
    script = ("import minigrad as mg; a = mg.rand(3).tolist(); s = mg.initial_seed(); b = mg.rand(3).tolist(); "
              "mg.manual_seed(s); assert [mg.rand(3).tolist(), mg.rand(3).tolist()] == [a, b], 'not replayed'")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr[-2000:]


def test_fork_rng_restores_the_streams_as_torch(torch) -> None:
    for lib, rand, fork in ((mg, lambda: mg.rand(3).tolist(), mg_random.fork_rng),
                            (torch, lambda: torch.rand(3).tolist(), torch.random.fork_rng)):
        lib.manual_seed(3)
        outside = [rand(), rand()]
        lib.manual_seed(3)
        with fork(devices=[]):
            assert rand() == outside[0]   # the block continues the stream …
            lib.manual_seed(99)
            rand()
        assert lib.initial_seed() == 3 and rand() == outside[0]   # … and the outside is back where it was
        with fork(devices=[], enabled=False):
            rand()
        assert rand() != outside[1]
    assert mg_random.get_rng_state is mg.get_rng_state and mg_random.manual_seed is mg.manual_seed
    torch.manual_seed(0)


@pytest.mark.gpu
def test_fork_rng_puts_each_gpu_stream_back() -> None:
    mg.manual_seed(2)
    expected = [mg.randn(4, device="cuda").tolist(), mg.rand(2).tolist()]
    mg.manual_seed(2)
    with mg_random.fork_rng():
        inside = mg.randn(4, device="cuda").tolist()
        mg.rand(5)
    assert [mg.randn(4, device="cuda").tolist(), mg.rand(2).tolist()] == expected
    assert len(inside) == 4


def test_in_place_random_fills_as_torch(torch) -> None:
    mg.manual_seed(1)
    for dtype, tdtype in ((mg.int64, torch.int64), (mg.float32, torch.float32), (np.uint8, torch.uint8)):
        for args in ((), (7,), (2, 9)):
            ours, theirs = random_(mg.zeros(4000, dtype=dtype), *args), torch.zeros(4000, dtype=tdtype).random_(*args)
            assert ours.dtype == dtype and str(theirs.dtype) == f"torch.{np.dtype(dtype)}"
            if args:
                low, high = (0, args[0]) if len(args) == 1 else args
                assert ours.numpy().min() == theirs.min().item() == low
                assert ours.numpy().max() == theirs.max().item() == high - 1
    assert set(random_(mg.zeros(200, dtype=mg.bool_)).tolist()) == {False, True}
    assert 0 <= random_(mg.zeros(100)).numpy().min() and random_(mg.zeros(100)).numpy().max() <= 2 ** 24
    assert random_(mg.zeros(100, dtype=mg.int64), **{"from": -3, "to": None}).numpy().min() >= -3
    for bad in ((5, 5), (-1, 5)):
        with pytest.raises(ValueError):
            random_(mg.zeros(3, dtype=np.uint8), *bad)
        with pytest.raises(RuntimeError):
            torch.zeros(3, dtype=torch.uint8).random_(*bad)
    big = 200000
    assert abs(exponential_(mg.zeros(big), 4.0).numpy().mean() - 0.25) < 0.01
    geo = geometric_(mg.zeros(big, dtype=mg.int64), 0.2).numpy()
    assert geo.min() == 1 and abs(geo.mean() - 5.0) < 0.1 and geo.dtype == np.int64
    assert abs(np.median(cauchy_(mg.zeros(big), 3.0, 0.5).numpy()) - 3.0) < 0.02
    assert abs(np.median(log_normal_(mg.zeros(big, dtype=mg.float64), 1.0, 0.5).numpy()) - math.e) < 0.05
    for fill, args in ((exponential_, ()), (cauchy_, ()), (log_normal_, ())):
        with pytest.raises(TypeError, match="floating point"):
            fill(mg.zeros(3, dtype=mg.int64), *args)
    with pytest.raises(ValueError, match="lambd > 0"):
        exponential_(mg.zeros(3), 0.0)
    with pytest.raises(ValueError, match=r"p to be in \(0, 1\)"):
        geometric_(mg.zeros(3), 1.0)
    g = mg.Generator().manual_seed(5)
    first = [exponential_(mg.zeros(3), generator=g).tolist(), random_(mg.zeros(3), 9, generator=g).tolist()]
    g.manual_seed(5)
    assert first == [exponential_(mg.zeros(3), generator=g).tolist(), random_(mg.zeros(3), 9, generator=g).tolist()]


def test_multinomial_refuses_zero_samples_as_torch(torch) -> None:
    with pytest.raises(RuntimeError, match="n_sample <= 0"):
        torch.multinomial(torch.ones(3), 0)
    with pytest.raises(ValueError, match="num_samples <= 0"):
        mg.multinomial(mg.ones(3), 0)


def test_two_threads_drawing_from_the_global_generator_share_one_stream() -> None:
    mg.manual_seed(0)
    got: dict[int, list] = {}
    errors: list = []

    def work(k: int) -> None:
        try:
            got[k] = [mg.randn(500, dtype=mg.float64).numpy() for _ in range(40)]
        except Exception as error:   # noqa: BLE001 - reported below
            errors.append(error)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    drawn = np.sort(np.concatenate([a for k in got for a in got[k]]))
    mg.manual_seed(0)
    assert np.array_equal(drawn, np.sort(mg.randn(40000, dtype=mg.float64).numpy()))   # nothing lost or repeated


# --- collate ---------------------------------------------------------------------------------------------


def _plain(value: object) -> object:
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        return ("tensor", str(value.dtype).replace("torch.", ""), value.numpy().tolist())
    if isinstance(value, dict):
        return (type(value).__name__, {k: _plain(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_plain(v) for v in value])
    return value


class Row(list):
    """A list subclass: PyTorch's collate keeps it."""


def test_collate_numbers_and_containers_as_torch(torch) -> None:
    from torch.utils.data import default_collate as torch_collate
    from torch.utils.data import default_convert as torch_convert

    batches = [[1, 2.5], [True, 2], [True, False], [1.0, 2], [3, 4], [1, np.float32(2.5)],
               [np.int32(1), np.int32(2)], [np.float32(1), np.float64(2)],
               [collections.defaultdict(list, a=1), collections.defaultdict(list, a=2)],
               [Row([1, 2.0]), Row([3, 4.0])], [(1, "a"), (2, "b")], [{"x": [1, 2]}, {"x": [3, 4]}]]
    for batch in batches:
        ours, theirs = D.default_collate(batch), torch_collate(batch)
        assert _plain(ours) == _plain(theirs), batch
    assert isinstance(D.default_collate(batches[8]), collections.defaultdict)
    for sample in [(np.zeros(2), 3), collections.defaultdict(int, a=np.ones(1)), Row([np.ones(1)]), 5, "s"]:
        assert _plain(D.default_convert(sample)) == _plain(torch_convert(sample)), sample
    with pytest.raises(TypeError):
        D.default_collate([1, "a"])


# --- DataLoader options ------------------------------------------------------------------------------------


@pytest.mark.parametrize("options", [
    {"batch_size": None, "drop_last": True}, {"prefetch_factor": 2}, {"persistent_workers": True},
    {"timeout": -1}, {"num_workers": -1}, {"multiprocessing_context": "fork"},
    {"num_workers": 1, "prefetch_factor": -1}, {"batch_sampler": [[0]], "drop_last": True},
    {"batch_sampler": [[0]], "batch_size": 1}, {"batch_size": None, "sampler": [3, 1]},
    {"num_workers": 2, "persistent_workers": True, "prefetch_factor": 4}])
def test_loader_options_refused_or_taken_as_torch(torch, options: dict) -> None:
    data = list(range(6))

    def outcome(loader_class: type) -> object:
        try:
            loader = loader_class(data, **options)
        except ValueError:
            return "ValueError"
        return [_plain(b) for b in loader]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert outcome(D.DataLoader) == outcome(torch.utils.data.DataLoader)


def test_loader_settings_cannot_change_after_init_and_batch_sampler_clears_batch_size(torch) -> None:
    loader = D.DataLoader(list(range(6)), batch_size=2)
    for name in ("batch_size", "drop_last", "sampler", "batch_sampler", "dataset", "persistent_workers"):
        with pytest.raises(ValueError, match=f"{name} attribute should not be set"):
            setattr(loader, name, 3)
    with pytest.raises(ValueError, match="batch_size attribute should not be set"):
        torch.utils.data.DataLoader(list(range(6)), batch_size=2).batch_size = 3
    loader.collate_fn = list   # other attributes may change, as in PyTorch
    assert next(iter(loader)) == [0, 1] and len(iter(loader)) == 3
    given = D.DataLoader(list(range(6)), batch_sampler=D.BatchSampler(range(6), 4, True))
    theirs = torch.utils.data.DataLoader(list(range(6)), batch_sampler=torch.utils.data.BatchSampler(range(6), 4, True))
    assert (given.batch_size, given.drop_last) == (theirs.batch_size, theirs.drop_last) == (None, False)


class Items(D.Dataset):
    """Counts the ``__getitems__`` calls, as PyTorch's fetcher makes them."""

    def __init__(self) -> None:
        self.calls = 0

    def __len__(self) -> int:
        return 5

    def __getitem__(self, i: int) -> int:
        raise AssertionError("__getitems__ should be used")

    def __getitems__(self, indices: list) -> list:
        self.calls += 1
        return [10 * i for i in indices]


def test_shuffle_reproducible_reshuffled_and_getitems_used() -> None:
    data = D.TensorDataset(mg.arange(12))

    def epochs(loader: D.DataLoader) -> list:
        return [[int(v) for (b,) in loader for v in b.tolist()] for _ in range(2)]
    a = epochs(D.DataLoader(data, batch_size=5, shuffle=True, generator=mg.Generator().manual_seed(0)))
    assert a == epochs(D.DataLoader(data, batch_size=5, shuffle=True, generator=mg.Generator().manual_seed(0)))
    assert a[0] != a[1] and sorted(a[0]) == sorted(a[1]) == list(range(12))
    mg.manual_seed(8)
    b = epochs(D.DataLoader(data, batch_size=5, shuffle=True))
    mg.manual_seed(8)
    assert b == epochs(D.DataLoader(data, batch_size=5, shuffle=True)) and b[0] != b[1]
    items = Items()
    assert [b.tolist() for b in D.DataLoader(items, batch_size=2)] == [[0, 10], [20, 30], [40]] and items.calls == 3
    assert D.Subset(items, [4, 0]).__getitems__([0, 1]) == [40, 0]


# --- workers, emulated ---------------------------------------------------------------------------------


class Stream(D.IterableDataset):
    def __iter__(self):
        return iter(range(7))


def _sharded(base: type, info_fn) -> type:
    class Sharded(base):
        """PyTorch's documented sharding by get_worker_info() inside __iter__ (info_fn None: no sharding)."""

        def __init__(self, start: int, end: int) -> None:
            self.start, self.end = start, end

        def __iter__(self):
            info = info_fn() if info_fn is not None else None
            if info is None:
                return iter(range(self.start, self.end))
            per = int(math.ceil((self.end - self.start) / info.num_workers))
            first = self.start + info.id * per
            return iter(range(first, min(first + per, self.end)))
    return Sharded


Sharded, Ranged = _sharded(D.IterableDataset, D.get_worker_info), _sharded(D.IterableDataset, None)


def _shard_in_init(info_fn):
    def init(worker_id: int) -> None:   # PyTorch's documented worker_init_fn sharding
        info = info_fn()
        ds = info.dataset
        per = int(math.ceil((ds.end - ds.start) / info.num_workers))
        ds.start = ds.start + worker_id * per
        ds.end = min(ds.start + per, ds.end)
    return init


def test_workers_deliver_torchs_batches_in_torchs_order(torch) -> None:
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("PyTorch's workers are compared under the fork start method only")
    import torch.utils.data as T

    class TorchStream(T.IterableDataset):
        def __iter__(self):
            return iter(range(7))

    TorchSharded, TorchRanged = _sharded(T.IterableDataset, T.get_worker_info), _sharded(T.IterableDataset, None)
    cases = [(Stream(), TorchStream(), {"batch_size": 2, "num_workers": 3}),
             (Sharded(3, 10), TorchSharded(3, 10), {"batch_size": 2, "num_workers": 2}),
             (Ranged(3, 6), TorchRanged(3, 6), {"batch_size": None, "num_workers": 2}),
             (list(range(9)), list(range(9)), {"batch_size": 2, "num_workers": 2, "shuffle": False})]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ours, theirs, options in cases:
            got = [_plain(b) for b in D.DataLoader(ours, **options)]
            want = [_plain(b) for b in T.DataLoader(theirs, multiprocessing_context="fork", **options)]
            assert got == want, options
        stream = Ranged(3, 10)
        got = [b.tolist() for b in D.DataLoader(stream, num_workers=2,
                                                worker_init_fn=_shard_in_init(D.get_worker_info))]
        want = [b.tolist() for b in T.DataLoader(TorchRanged(3, 10), num_workers=2, multiprocessing_context="fork",
                                                 worker_init_fn=_shard_in_init(T.get_worker_info))]
        assert got == want == [[3], [7], [4], [8], [5], [9], [6]]
        assert stream.start == 3   # each worker changed its own copy
    # drop_last and uneven workers, as PyTorch gives them (recorded from torch 2.13)
    assert [b.tolist() for b in D.DataLoader(Stream(), batch_size=2, num_workers=2, drop_last=True)] == \
        [[0, 1], [0, 1], [2, 3], [2, 3], [4, 5], [4, 5]]
    assert [b.tolist() for b in D.DataLoader(Sharded(0, 5), batch_size=2, num_workers=2)] == [[0, 1], [3, 4], [2]]
    assert D.get_worker_info() is None


class Noisy(D.Dataset):
    def __init__(self, draws: int = 1) -> None:
        self.draws = draws

    def __len__(self) -> int:
        return 6

    def __getitem__(self, i: int) -> tuple:
        info = D.get_worker_info()
        return i, mg.rand(self.draws).tolist()[:1], mg.initial_seed(), info.id, info.num_workers


def test_workers_have_their_own_streams_and_leave_the_callers_alone() -> None:
    after = []
    for draws in (1, 50):   # however much the dataset draws, the caller's stream moves the same
        mg.manual_seed(0)
        rows = list(D.DataLoader(Noisy(draws), batch_size=None, num_workers=2))
        after.append(mg.rand(3).tolist())
    assert after[0] == after[1] and mg.initial_seed() == 0
    assert [r[3] for r in rows] == [0, 1, 0, 1, 0, 1] and {r[4] for r in rows} == {2}
    assert rows[1][2] == rows[0][2] + 1 and rows[2][2] == rows[0][2]   # initial_seed() is base seed + id
    assert len({r[1][0] for r in rows}) == 6   # the two workers draw different numbers
    mg.manual_seed(0)
    assert list(D.DataLoader(Noisy(50), batch_size=None, num_workers=2)) == rows   # repeatable
    g = mg.Generator().manual_seed(1)
    first = list(D.DataLoader(Noisy(), batch_size=None, num_workers=2, generator=g))
    assert list(D.DataLoader(Noisy(), batch_size=None, num_workers=2, generator=g.manual_seed(1))) == first
    calls = []
    loader = D.DataLoader(Noisy(), batch_size=3, num_workers=2, persistent_workers=True,
                          worker_init_fn=calls.append, collate_fn=len)
    assert [list(loader), list(loader)] == [[3, 3], [3, 3]] and calls == [0, 1]   # started once
    list(D.DataLoader(Noisy(), batch_size=3, num_workers=2, worker_init_fn=calls.append, collate_fn=len))
    assert calls == [0, 1, 0, 1]


# --- datasets and samplers -----------------------------------------------------------------------------


def test_concat_chain_and_stack_datasets_as_torch(torch) -> None:
    import torch.utils.data as T

    a, b = D.TensorDataset(mg.arange(3)), D.TensorDataset(mg.arange(10, 14))
    ta, tb = T.TensorDataset(torch.arange(3)), T.TensorDataset(torch.arange(10, 14))
    ours, theirs = a + b, ta + tb
    assert isinstance(ours, D.ConcatDataset) and ours.cumulative_sizes == theirs.cumulative_sizes == [3, 7]
    assert [ours[i][0].item() for i in range(-7, 7)] == [theirs[i][0].item() for i in range(-7, 7)]
    for bad in (-8, 7):
        with pytest.raises((ValueError, IndexError)):
            ours[bad]
        with pytest.raises((ValueError, IndexError)):
            theirs[bad]
    with pytest.raises(ValueError, match="empty"):
        D.ConcatDataset([])
    with pytest.raises(TypeError, match="IterableDataset"):
        D.ConcatDataset([Stream()])
    chained = Stream() + Stream()
    assert isinstance(chained, D.ChainDataset) and list(chained) == list(range(7)) * 2
    stacked = D.StackDataset(a, D.TensorDataset(mg.ones(3)))
    named = D.StackDataset(x=list("abc"), y=[1, 2, 3])
    assert len(stacked) == 3 and stacked[1][0][0].item() == 1 and named[2] == {"x": "c", "y": 3}
    assert T.StackDataset(x=list("abc"), y=[1, 2, 3])[2] == named[2]
    with pytest.raises(ValueError, match="size mismatch"):
        D.StackDataset([1], [1, 2])
    with pytest.raises(ValueError, match="both"):
        D.StackDataset([1], y=[1])
    loader = D.DataLoader(named, batch_size=2)
    assert _plain(list(loader)) == _plain(list(T.DataLoader(T.StackDataset(x=list("abc"), y=[1, 2, 3]),
                                                            batch_size=2)))


def test_subset_and_weighted_samplers(torch) -> None:
    import torch.utils.data as T

    g = mg.Generator().manual_seed(2)
    order = list(D.SubsetRandomSampler([10, 20, 30, 40], generator=g))
    assert sorted(order) == [10, 20, 30, 40] and len(D.SubsetRandomSampler([1, 2])) == 2
    assert list(D.SubsetRandomSampler([10, 20, 30, 40], generator=g.manual_seed(2))) == order
    drawn = list(D.WeightedRandomSampler([0.0, 1.0, 3.0], 4000))
    assert set(drawn) == {1, 2} and abs(drawn.count(2) / 4000 - 0.75) < 0.05
    assert sorted(D.WeightedRandomSampler(mg.tensor([1.0, 0.0, 2.0, 5.0]), 3, replacement=False)) == [0, 2, 3]
    with pytest.raises(ValueError, match="without replacement"):   # PyTorch's documented precondition
        list(D.WeightedRandomSampler([1.0, 0.0, 1.0], 3, replacement=False))
    for lib in (D, T):
        with pytest.raises(ValueError, match="1d sequence"):
            lib.WeightedRandomSampler([[1.0, 2.0]], 2)
        with pytest.raises(ValueError, match="num_samples should be a positive integer"):
            lib.WeightedRandomSampler([1.0], 0)
        with pytest.raises((TypeError, ValueError), match="replacement should be a boolean"):
            lib.RandomSampler(range(3), replacement=1)
        with pytest.raises((TypeError, ValueError), match="drop_last should be a boolean"):
            lib.BatchSampler(range(3), 2, 1)
    loader = D.DataLoader(list(range(5)), sampler=D.WeightedRandomSampler([1.0] * 5, 5, replacement=False),
                          batch_size=5)
    assert sorted(next(iter(loader)).tolist()) == list(range(5))


def test_random_split_reads_lengths_summing_to_one_as_fractions_as_torch(torch) -> None:
    for n, lengths in ((5, [0, 1]), (5, [1]), (10, [0.33, 0.33, 0.34]), (3, [0.1, 0.1, 0.8])):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = [len(s) for s in torch.utils.data.random_split(range(n), lengths)]
        assert [len(s) for s in D.random_split(range(n), lengths)] == want
    with pytest.raises(ValueError, match="fraction at index 0 is not between 0 and 1"):
        D.random_split(range(4), [1.5, -0.5])
    g = mg.Generator().manual_seed(4)
    parts = [s.indices for s in D.random_split(range(8), [0.5, 0.5], generator=g)]
    assert parts == [s.indices for s in D.random_split(range(8), [0.5, 0.5], generator=g.manual_seed(4))]
