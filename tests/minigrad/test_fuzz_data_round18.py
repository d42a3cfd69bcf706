"""minigrad.utils.data against torch.utils.data: the cases a differential fuzzer found (round 18).

Each test runs the same program on torch (with real worker processes, forked: a few hundredths of a second) and on
minigrad (workers emulated in the calling process) and compares what both give. Random orders are each library's
own numbers, so the tests compare relations between passes (equal or not), never the orders themselves."""

from __future__ import annotations

import collections.abc
import copy
import dataclasses
import gc
import multiprocessing
import pickle
import sys
from typing import Any

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _order(data: Any, lib: Any, num_workers: int, seeded: bool, persistent: bool = False, epochs: int = 1) -> list:
    """The batches of ``epochs`` shuffled passes over 0 … 8 with ``num_workers`` workers, the order drawn from a
    generator seeded 0 (``seeded``) or from the global stream seeded 0."""
    generator = lib.Generator().manual_seed(0) if seeded else None
    if not seeded:
        lib.manual_seed(0)
    loader = data.DataLoader(list(range(8)), batch_size=3, shuffle=True, generator=generator,
                             num_workers=num_workers, persistent_workers=persistent)
    return [[batch.tolist() for batch in loader] for _ in range(epochs)]


def _order_relations(data: Any, lib: Any) -> list[bool]:
    """Whether a seeded shuffle gives one order for 0, 1 and 2 workers (by generator and by the global seed),
    whether persistent workers give the same epochs as new ones (PyTorch draws a base seed per new set of
    workers, from the generator the shuffle reads), and whether a pass moves the global stream."""
    relations = []
    for seeded in (True, False):
        orders = [_order(data, lib, workers, seeded) for workers in (0, 1, 2)]
        relations += [orders[0] == orders[1], orders[1] == orders[2]]
    fresh, persistent = (_order(data, lib, 1, True, persistent, epochs=3) for persistent in (False, True))
    relations += [fresh == _order(data, lib, 0, True, epochs=3), persistent == fresh]
    for workers in (0, 1):
        lib.manual_seed(0)
        plain = lib.rand(1).item()
        lib.manual_seed(0)
        list(data.DataLoader(range(3), num_workers=workers))
        relations.append(lib.rand(1).item() == plain)
    return relations


def test_a_seeded_shuffle_gives_one_order_for_any_num_workers_as_torch() -> None:
    """Each pass draws the workers' base seed from the loader's generator (or the global stream) as PyTorch's, also
    without workers: the order of 8 samples in batches of 3 changed with num_workers > 0 before."""
    assert _order_relations(mg.utils.data, mg) == _order_relations(torch.utils.data, torch)
    assert multiprocessing.active_children() == []


def _persistent_iterators(data: Any) -> tuple:
    loader = data.DataLoader(list(range(6)), batch_size=2, num_workers=1, persistent_workers=True)
    first, second = iter(loader), iter(loader)
    return first is second, next(first).tolist(), next(second).tolist(), [batch.tolist() for batch in loader]


def test_persistent_workers_keep_one_iterator_reset_at_each_pass_as_torch() -> None:
    """With persistent workers PyTorch's ``iter(loader)`` returns its one iterator, reset: two live iterators
    were independent before."""
    assert _persistent_iterators(mg.utils.data) == _persistent_iterators(torch.utils.data)
    assert multiprocessing.active_children() == []


PICKLING = [
    lambda loader: pickle.dumps(iter(loader)),
    lambda loader: (list(loader), copy.deepcopy(loader)),
    lambda loader: (list(loader), pickle.dumps(loader)),
]


@pytest.mark.parametrize("case", range(len(PICKLING)))
def test_loader_iterators_refuse_pickling_as_torch(case: int) -> None:
    """A loader's iterator cannot be pickled or copied (PyTorch's NotImplementedError), nor a loader with persistent
    workers that holds one (PyTorch's too, checked offline: its persistent workers take seconds to shut down after
    the error): a TypeError about a generator leaked before."""
    with pytest.raises(Exception) as theirs:
        pickle.dumps(iter(torch.utils.data.DataLoader(range(4), batch_size=2)))
    with pytest.raises(theirs.type, match="cannot be pickled"):
        PICKLING[case](mg.utils.data.DataLoader(range(4), batch_size=2, num_workers=1, persistent_workers=True))


SETTINGS = [   # (num_workers at construction, attribute, value): torch checks a context at each assignment
    (0, "multiprocessing_context", "spawn"),
    (1, "multiprocessing_context", "no such method"),
    (1, "multiprocessing_context", 3),
    (0, "num_workers", -1),   # torch: AssertionError when iterated (a ZeroDivisionError before)
]


@pytest.mark.parametrize("case", range(len(SETTINGS)))
def test_worker_settings_assigned_after_construction_are_checked_as_torch(case: int) -> None:
    """Assigned after construction, a bad setting raises torch's class instead of being taken silently."""
    workers, name, value = SETTINGS[case]

    def run(data: Any) -> None:
        loader = data.DataLoader(range(4), batch_size=2, num_workers=workers)
        setattr(loader, name, value)
        list(loader)

    with pytest.MonkeyPatch.context() as patch:   # torch's half-made worker iterator fails in __del__: not ours
        patch.setattr(sys, "unraisablehook", lambda unraisable: None)
        with pytest.raises(Exception) as theirs:
            run(torch.utils.data)
        theirs = theirs.type
        gc.collect()
    with pytest.raises(theirs):
        run(mg.utils.data)


def test_a_start_method_assigned_after_construction_is_stored_as_its_context_as_torch() -> None:
    contexts = []
    for data in (torch.utils.data, mg.utils.data):
        loader = data.DataLoader(range(4), num_workers=1)
        loader.multiprocessing_context = "spawn"
        contexts.append(loader.multiprocessing_context)
    assert contexts[0] is contexts[1] is multiprocessing.get_context("spawn")


def test_an_iterable_dataset_without_iter_cannot_be_made_as_torch() -> None:
    """IterableDataset is abstract (collections.abc.Iterable) as PyTorch's: a NotImplementedError came only when
    iterated before."""
    for data in (torch.utils.data, mg.utils.data):
        class Counted(data.IterableDataset):
            def __len__(self) -> int:
                return 3

        with pytest.raises(TypeError, match="abstract"):
            Counted()
        with pytest.raises(TypeError, match="abstract"):
            data.IterableDataset()
        assert isinstance(data.ChainDataset([]), collections.abc.Iterable)


GRAD_AFTER_ARRAY = [   # an array first, then a Tensor that requires grad (torch.as_tensor keeps it)
    lambda lib, w: [np.array(-1.0, np.float32), 3.5, w],
    lambda lib, w: [np.array([[253]], np.uint8), w.reshape(1, 1)],
    lambda lib, w: [np.array([[2.0, 1.0]]), w.expand(1, 2), lib.zeros(1, 2)],
    lambda lib, w: [np.array([True]), w.reshape(1) * 2],
]


@pytest.mark.parametrize("case", range(len(GRAD_AFTER_ARRAY)))
def test_default_collate_keeps_the_graph_of_a_tensor_after_an_array_as_torch(case: int) -> None:
    """The batch requires grad and the gradient reaches the sample's leaf: the graph was silently dropped (the
    Tensor read as its array) before."""
    outcomes = []
    for data, lib in ((torch.utils.data, torch), (mg.utils.data, mg)):
        w = lib.tensor(2.0, requires_grad=True)
        batch = data.default_collate(GRAD_AFTER_ARRAY[case](lib, w))
        (batch * lib.arange(batch.numel()).reshape(batch.shape)).sum().backward()
        outcomes.append((str(batch.dtype).removeprefix("torch."), tuple(batch.shape), batch.tolist(),
                         batch.requires_grad, w.grad.item()))
    assert outcomes[1] == outcomes[0]


NO_DTYPE_AFTER_TENSOR = [   # an int first: torch.tensor(batch) infers every sample's dtype before reading sizes
    lambda lib: [1, lib.tensor([0, 253], dtype=lib.uint8), {"k": 1}],
    lambda lib: [1, lib.ones(2), None],
    lambda lib: [1.5, lib.ones(2), None],   # a float first: float64 is given, the Tensor's size raises first
    lambda lib: [np.float32(1.0), lib.ones(2, 2), {1, 2}],
    lambda lib: [True, lib.zeros(0), object()],
]

CONTAINER_AFTER_ARRAY = [   # an array first: what torch.as_tensor cannot read raises its class (a ValueError before)
    lambda lib: [np.array(-1.0), ([np.int64(3)],), [{"k": lib.tensor(1.0)}, (True,)]],
    lambda lib: [np.ones((2, 2), np.float16), [(False, np.ones((2, 2), np.float32)), (lib.ones(2, 2),)]],
    lambda lib: [np.array(0), (1, (2, 3))],
]


@pytest.mark.parametrize("case", range(len(NO_DTYPE_AFTER_TENSOR)))
def test_default_collate_of_numbers_reads_every_type_before_sizes_as_torch(case: int) -> None:
    with pytest.raises(Exception) as theirs:
        torch.utils.data.default_collate(NO_DTYPE_AFTER_TENSOR[case](torch))
    with pytest.raises(theirs.type):
        mg.utils.data.default_collate(NO_DTYPE_AFTER_TENSOR[case](mg))


@pytest.mark.filterwarnings("ignore:Creating a tensor from a list of numpy")
@pytest.mark.parametrize("case", range(len(CONTAINER_AFTER_ARRAY)))
def test_default_collate_of_a_container_after_an_array_raises_torchs_class(case: int) -> None:
    with pytest.raises(Exception) as theirs:
        torch.utils.data.default_collate(CONTAINER_AFTER_ARRAY[case](torch))
    with pytest.raises(theirs.type):
        mg.utils.data.default_collate(CONTAINER_AFTER_ARRAY[case](mg))


def _stream_loader_attributes(data: Any) -> list:
    class Stream(data.IterableDataset):
        def __iter__(self) -> Any:
            return iter(range(5))

    out = []
    for batch_size in (None, 3):
        loader = data.DataLoader(Stream(), batch_size=batch_size, drop_last=batch_size is not None)
        batches = loader.batch_sampler
        out.append((type(loader.sampler).__name__, next(iter(loader.sampler)), type(batches).__name__,
                    None if batches is None else (batches.batch_size, batches.drop_last),
                    [batch if isinstance(batch, int) else batch.tolist() for batch in loader]))
    return out


def test_a_loader_over_a_stream_has_torchs_sampler_and_batch_sampler() -> None:
    """``loader.sampler`` yields None forever and ``loader.batch_sampler`` holds the batch size, as PyTorch's
    (both were None before)."""
    assert _stream_loader_attributes(mg.utils.data) == _stream_loader_attributes(torch.utils.data)


def _worker_info_fields(data: Any) -> list:
    class Fields(data.Dataset):
        def __len__(self) -> int:
            return 1

        def __getitem__(self, i: int) -> list:
            info = data.get_worker_info()
            return [(field.name, getattr(info, field.name)) for field in dataclasses.fields(info)
                    if field.name not in ("seed", "dataset")]

    return list(data.DataLoader(Fields(), batch_size=None, num_workers=1))


def test_worker_info_has_torchs_fields() -> None:
    """``get_worker_info().rng`` and ``.worker_method`` exist as in PyTorch 2.13 (an AttributeError before)."""
    assert _worker_info_fields(mg.utils.data) == _worker_info_fields(torch.utils.data)
