"""Round-13 probe of ``mg.utils.data`` against torch.utils.data 2.13: the differences it found, fixed.

Collate promotes mixed dtypes and numpy scalars by PyTorch's table; the data classes are Generic
(``Dataset[int]``) as PyTorch's; samplers look their generator's stream up at each pass (a reseeded
``mg.Generator`` was ignored); random_split reads fractions only when they sum to at most 1 and takes
0-d Tensors; Subset keeps its indices as given; multiprocessing_context is checked as PyTorch checks it.
Random draws are minigrad's own numbers, so shuffles are compared by what repeats, not by their values.
"""

from __future__ import annotations

import multiprocessing
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad.utils import data as D


def _as_pair(value: object) -> tuple:
    """(dtype name, shape, values) of a torch or minigrad Tensor."""
    return str(value.dtype).replace("torch.", ""), tuple(value.shape), value.detach().numpy().tolist()


# --- collate ---------------------------------------------------------------------------------------------


def test_collate_promotes_dtypes_and_numpy_scalars_as_torch(torch) -> None:
    from torch.utils.data import default_collate as torch_collate

    batches = {
        "numpy float64 then a Python float": lambda lib: [np.float64(1.5), 2.0],   # raised TypeError before
        "numpy int64 and float32 scalars": lambda lib: [np.int64(1), np.float32(2.5)],   # float64 before
        "numpy uint8 and int8 scalars": lambda lib: [np.uint8(1), np.int8(-2)],
        "0-d array then a numpy scalar": lambda lib: [np.array(1.0, np.float32), np.float64(2)],
        "int64 and float32 arrays": lambda lib: [np.ones(2, np.int64), np.zeros(2, np.float32)],
        "bool and int32 arrays": lambda lib: [np.ones(2, bool), np.full(2, 3, np.int32)],
        "int64 and float32 tensors": lambda lib: [lib.tensor([1, 2]), lib.tensor([0.5, 1.5])],
        "float16 and int16 tensors": lambda lib: [lib.tensor([1, 2], dtype=lib.int16),
                                                  lib.tensor([0.5, 1.5], dtype=lib.float16)],
    }
    for name, make in batches.items():
        assert _as_pair(D.default_collate(make(mg))) == _as_pair(torch_collate(make(torch))), name

    # tensors that require grad are stacked in the graph, promoted the same way
    w = mg.tensor([0.5, 1.5], requires_grad=True)
    ours = D.default_collate([mg.tensor([1, 2]), w])
    theirs = torch_collate([torch.tensor([1, 2]), torch.tensor([0.5, 1.5], requires_grad=True)])
    assert _as_pair(ours) == _as_pair(theirs) and ours.requires_grad
    (ours * mg.tensor([[1.0], [3.0]])).sum().backward()
    assert w.grad.tolist() == [3.0, 3.0]


def test_collate_error_classes_as_torch(torch) -> None:
    from torch.utils.data import default_collate as torch_collate

    for batch, error in (([], IndexError), ([1, None], RuntimeError), ([1, "a"], TypeError), ([2.0, "a"], TypeError)):
        with pytest.raises(error):
            torch_collate(batch)
        with pytest.raises(error):
            D.default_collate(batch)
    with pytest.raises(ValueError, match="empty batch"):   # minigrad's class before, still caught
        D.default_collate([])


# --- Generic classes -------------------------------------------------------------------------------------


def test_data_classes_are_generic_where_torchs_are(torch) -> None:
    import torch.utils.data as T

    names = ["Dataset", "IterableDataset", "Subset", "ConcatDataset", "ChainDataset", "StackDataset", "Sampler",
             "DistributedSampler", "DataLoader", "TensorDataset", "RandomSampler", "SequentialSampler",
             "BatchSampler", "SubsetRandomSampler", "WeightedRandomSampler"]
    for name in names:
        outcomes = []
        for lib in (T, D):
            try:
                getattr(lib, name)[int]
                outcomes.append("ok")
            except TypeError:
                outcomes.append("TypeError")
        assert outcomes[0] == outcomes[1], name

    class Squares(D.Dataset[tuple]):   # the annotated subclass PyTorch programs write
        def __getitem__(self, i: int) -> tuple:
            return i, i * i

        def __len__(self) -> int:
            return 5

    class Backwards(D.Sampler[int]):
        def __init__(self, n: int) -> None:
            self.n = n

        def __iter__(self):
            return iter(range(self.n - 1, -1, -1))

        def __len__(self) -> int:
            return self.n

    loader: D.DataLoader[tuple] = D.DataLoader(Squares(), batch_size=2, sampler=Backwards(5))
    assert [[t.tolist() for t in batch] for batch in loader] == [[[4, 3], [16, 9]], [[2, 1], [4, 1]], [[0], [0]]]
    assert isinstance(Squares(), D.Dataset) and len(loader) == 3


# --- generators ------------------------------------------------------------------------------------------


def _replays(lib: object, data: object, g: object) -> list[bool]:
    """For each sampler over ``g``: whether a pass after ``g.manual_seed(s)`` (and after ``set_state``) repeats
    the pass after the same reseed, and whether the sampler keeps ``g`` itself."""
    samplers = [data.RandomSampler(range(12), generator=g),
                data.RandomSampler(range(12), replacement=True, num_samples=20, generator=g),
                data.SubsetRandomSampler(list(range(3, 15)), generator=g),
                data.WeightedRandomSampler([1.0, 2.0, 0.0, 4.0, 1.0], 8, generator=g),
                data.WeightedRandomSampler([1.0] * 12, 12, replacement=False, generator=g)]
    loader = data.DataLoader(list(range(12)), batch_size=12, shuffle=True, generator=g)
    out = []
    for sampler in samplers:
        g.manual_seed(7)
        first = list(sampler)
        g.manual_seed(7)
        again = list(sampler)
        state = g.get_state()
        third = list(sampler)
        g.set_state(state)
        out += [first == again, third == list(sampler), first != third, sampler.generator is g]
    g.manual_seed(3)
    first = [b.tolist() for b in loader]
    g.manual_seed(3)
    out += [first == [b.tolist() for b in loader], loader.sampler.generator is g]
    return out


def test_samplers_follow_their_generator_reseeded_after_construction(torch) -> None:
    import torch.utils.data as T

    theirs = _replays(torch, T, torch.Generator())
    ours = _replays(mg, D, mg.Generator())   # a reseed after the sampler was made was ignored before
    assert ours == theirs and all(ours)


# --- random_split, Subset, WeightedRandomSampler, DataLoader options ------------------------------------


def test_random_split_lengths_as_torch(torch) -> None:
    import torch.utils.data as T

    rng = np.random.default_rng(13)
    cases = [(10, [0.5, 0.5000000001]), (10, [0.3, 0.7 + 1e-12]), (10, [0.3, 0.7 - 1e-12]), (3, [0.5, 0.5, 0.0]),
             (5, [1 / 3] * 3), (0, [0.5, 0.5]), (7, [0.1, 0.1, 0.8])]
    for _ in range(200):
        w = rng.random(rng.integers(1, 6))
        cases.append((int(rng.integers(0, 40)), [float(f) for f in np.round(w / w.sum(), int(rng.integers(1, 4)))]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # PyTorch warns of an empty split
        for n, lengths in cases:
            outcomes = []
            for lib in (T, D):
                try:
                    outcomes.append([len(s) for s in lib.random_split(range(n), lengths)])
                except ValueError:
                    outcomes.append("ValueError")
            assert outcomes[0] == outcomes[1], (n, lengths)
    for lengths, expected in (([0.5, 0.5], [3, 2]), ([2, 3], [2, 3])):   # 0-d Tensors, as torch takes them
        assert [len(s) for s in T.random_split(range(5), [torch.tensor(x) for x in lengths])] == expected
        assert [len(s) for s in D.random_split(range(5), [mg.tensor(x) for x in lengths])] == expected


def test_subset_keeps_its_indices_as_given(torch) -> None:
    import torch.utils.data as T

    data = list(range(10, 20))
    for make in (lambda lib: range(2, 6), lambda lib: np.array([7, 1, 4]), lambda lib: lib.tensor([7, 1, 4]),
                 lambda lib: (5, 0)):
        theirs, ours = T.Subset(data, make(torch)), D.Subset(data, make(mg))
        assert type(theirs.indices).__name__ == type(ours.indices).__name__
        assert [int(ours[i]) for i in range(len(ours))] == [int(theirs[i]) for i in range(len(theirs))]
        assert [b.tolist() for b in D.DataLoader(ours, batch_size=2)] == \
            [b.tolist() for b in T.DataLoader(theirs, batch_size=2)]


def test_weighted_sampler_of_no_weights_raises_torchs_runtime_error(torch) -> None:
    import torch.utils.data as T

    for lib in (T, D):
        sampler = lib.WeightedRandomSampler([], 3)   # made, as torch; refused when drawn
        with pytest.raises(RuntimeError, match="sum of probabilities"):
            list(sampler)


def test_multiprocessing_context_checked_as_torch(torch) -> None:
    import torch.utils.data as T

    for lib in (T, D):
        with pytest.raises(ValueError, match="valid start method"):
            lib.DataLoader(list(range(4)), num_workers=1, multiprocessing_context="bogus")
        with pytest.raises(TypeError, match="valid context object"):
            lib.DataLoader(list(range(4)), num_workers=1, multiprocessing_context=3)
        with pytest.raises(ValueError):
            lib.DataLoader(list(range(4)), multiprocessing_context="spawn")   # needs workers
        loader = lib.DataLoader(list(range(4)), num_workers=1, multiprocessing_context="spawn")
        assert isinstance(loader.multiprocessing_context, multiprocessing.context.BaseContext)
    assert [b.tolist() for b in loader] == [[0], [1], [2], [3]]
