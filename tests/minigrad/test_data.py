"""minigrad.utils.data: Dataset, TensorDataset, DataLoader and default_collate, as torch.utils.data."""

from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset, default_collate


def as_numpy(value):
    """A nested batch with every Tensor (minigrad or torch) as a NumPy array, for comparing structures."""
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        return ("tensor", str(value.dtype).replace("torch.", ""), value.numpy().tolist())
    if isinstance(value, dict):
        return {k: as_numpy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [as_numpy(v) for v in value])
    return value


def test_tensor_dataset_batches_in_order_and_keeps_the_last_short_batch() -> None:
    x, y = mg.arange(10.0).reshape(5, 2), mg.tensor([0, 1, 0, 1, 1])
    dataset = TensorDataset(x, y)
    assert len(dataset) == 5
    first = dataset[1]
    assert isinstance(first, tuple) and first[0].numpy().tolist() == [2.0, 3.0] and first[1].item() == 1
    loader = DataLoader(dataset, batch_size=2)
    batches = list(loader)
    assert len(loader) == 3 and len(batches) == 3
    assert [b[0].shape for b in batches] == [(2, 2), (2, 2), (1, 2)]
    assert isinstance(batches[0], list) and batches[0][1].dtype == mg.int64
    np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in batches]), x.numpy())
    dropping = DataLoader(dataset, batch_size=2, drop_last=True)
    assert len(dropping) == 2 and [b[0].shape[0] for b in dropping] == [2, 2]


def test_shuffle_follows_manual_seed_changes_per_epoch_and_covers_every_sample() -> None:
    dataset = TensorDataset(mg.arange(20))

    def epoch(loader):
        return [int(v) for (batch,) in loader for v in batch.numpy()]

    mg.manual_seed(3)
    loader = DataLoader(dataset, batch_size=6, shuffle=True)
    a1, a2 = epoch(loader), epoch(loader)
    mg.manual_seed(3)
    b1, b2 = epoch(loader), epoch(loader)
    assert a1 == b1 and a2 == b2 and a1 != a2
    assert sorted(a1) == list(range(20)) and a1 != list(range(20))
    own = [epoch(DataLoader(dataset, batch_size=6, shuffle=True, generator=np.random.default_rng(9)))
           for _ in range(2)]
    assert own[0] == own[1]   # a given generator in the same state gives the same order


class Pairs(Dataset):
    """Samples of every kind default_collate handles."""

    Point = namedtuple("Point", "x y")

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int):
        return {"array": np.full((2,), i, dtype=np.float32), "float": i / 2, "int": i, "flag": i % 2 == 0,
                "name": f"s{i}", "pair": (i, float(i)), "point": self.Point(i, [i, i + 1]),
                "scalar": np.float32(i), "tensor": mg.tensor([i, -i])}


def test_default_collate_matches_torch_structure_and_dtypes(torch) -> None:
    from torch.utils.data import DataLoader as TorchLoader

    ours = next(iter(DataLoader(Pairs(), batch_size=3)))
    torch_data = [{k: (torch.from_numpy(v.numpy()) if isinstance(v, mg.Tensor) else v) for k, v in Pairs()[i].items()}
                  for i in range(4)]
    theirs = next(iter(TorchLoader(torch_data, batch_size=3)))
    assert as_numpy(ours) == as_numpy(theirs)
    assert isinstance(ours["point"], Pairs.Point)


def test_default_collate_errors() -> None:
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        default_collate([mg.zeros(2), mg.zeros(3)])
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [1]])
    with pytest.raises(TypeError, match="found object"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="numeric arrays; found dtype <U1"):
        default_collate([np.array(["a"]), np.array(["b"])])
    ordered = default_collate([OrderedDict(a=1), OrderedDict(a=2)])
    assert isinstance(ordered, OrderedDict) and ordered["a"].numpy().tolist() == [1, 2]


def test_collate_keeps_the_graph_for_tensors_that_require_grad() -> None:
    w = mg.ones(3, requires_grad=True)
    batch = default_collate([w * 2, w * 3])
    batch.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [5.0, 5.0, 5.0])


def test_custom_collate_samplers_no_batching_and_streams() -> None:
    data = list(range(7))
    assert list(DataLoader(data, batch_size=3, collate_fn=list)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert [b.numpy().tolist() for b in DataLoader(data, batch_size=2, sampler=[6, 0, 3])] == [[6, 0], [3]]
    batches = DataLoader(data, batch_sampler=[[1, 2], [5]])
    assert len(batches) == 2 and [b.numpy().tolist() for b in batches] == [[1, 2], [5]]
    single = list(DataLoader([np.array([1.0, 2.0]), np.array([3.0, 4.0])], batch_size=None))
    assert isinstance(single[0], mg.Tensor) and single[1].numpy().tolist() == [3.0, 4.0]

    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(5))

    assert [b.numpy().tolist() for b in DataLoader(Stream(), batch_size=2)] == [[0, 1], [2, 3], [4]]
    assert [b.numpy().tolist() for b in DataLoader(Stream(), batch_size=2, drop_last=True)] == [[0, 1], [2, 3]]
    with pytest.raises(TypeError, match="has no len"):
        len(DataLoader(Stream(), batch_size=2))


def test_loader_option_errors() -> None:
    data = list(range(4))
    with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
        DataLoader(data, batch_size=0)
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(data, sampler=[0], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(data, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="IterableDataset: expected unspecified shuffle"):
        DataLoader(type("Stream", (IterableDataset,), {"__iter__": lambda self: iter([])})(), shuffle=True)
    with pytest.raises(ValueError, match="TensorDataset: every tensor needs the same first dim"):
        TensorDataset(mg.zeros(3, 2), mg.zeros(4))
    with pytest.raises(TypeError, match="generator must be an mg.Generator"):
        DataLoader(data, shuffle=True, generator=5)


def test_a_training_loop_over_a_loader_learns() -> None:
    import nn

    mg.manual_seed(0)
    x = mg.randn(64, 3)
    y = x @ mg.tensor([[1.0], [-2.0], [0.5]])
    model = nn.Linear(3, 1)
    optimizer = nn.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for _ in range(5):
        for xb, yb in DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True):
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(xb), yb)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0]


def test_random_split_and_subset(torch) -> None:
    from minigrad.utils.data import Subset, random_split

    data = list(range(10))
    mg.manual_seed(4)
    parts = random_split(data, [7, 3])
    assert [len(p) for p in parts] == [7, 3] and all(isinstance(p, Subset) for p in parts)
    assert sorted(list(parts[0]) + list(parts[1])) == data
    mg.manual_seed(4)
    again = random_split(data, [7, 3])
    assert [list(p) for p in again] == [list(p) for p in parts]
    for n, fractions in [(10, [0.5, 0.25, 0.25]), (7, [0.3, 0.3, 0.4]), (5, [0.1, 0.9])]:
        ours = random_split(list(range(n)), fractions, generator=np.random.default_rng(0))
        theirs = torch.utils.data.random_split(list(range(n)), fractions)
        assert [len(p) for p in ours] == [len(p) for p in theirs]
    assert Subset(data, [4, 0])[1] == 0
    with pytest.raises(ValueError, match="sum of input lengths"):
        random_split(data, [5, 6])
    loader = DataLoader(parts[1], batch_size=2)
    assert len(loader) == 2


@settings(max_examples=60, deadline=None, derandomize=True)
@given(n=st.integers(0, 40), batch_size=st.integers(1, 12), shuffle=st.booleans(), drop_last=st.booleans())
def test_every_sample_once_per_epoch_and_len_counts_the_batches(n: int, batch_size: int, shuffle: bool,
                                                                drop_last: bool) -> None:
    loader = DataLoader(TensorDataset(mg.arange(n)) if n else list(range(0)), batch_size=batch_size,
                        shuffle=shuffle, drop_last=drop_last)
    batches = [b[0].numpy().tolist() for b in loader] if n else list(loader)
    assert len(batches) == len(loader) == (n // batch_size if drop_last else -(-n // batch_size))
    seen = [v for b in batches for v in b]
    assert all(len(b) == batch_size for b in batches[:-1] if b) and len(seen) == len(set(seen))
    assert len(seen) == (n - n % batch_size if drop_last else n)
    assert shuffle or seen == list(range(len(seen)))


def test_samplers_as_in_torch(torch) -> None:
    from minigrad.utils.data import BatchSampler, RandomSampler, SequentialSampler

    data = list(range(10))
    for size, drop in [(3, False), (3, True), (5, False), (12, True)]:
        ours = list(BatchSampler(SequentialSampler(data), size, drop))
        theirs = list(torch.utils.data.BatchSampler(torch.utils.data.SequentialSampler(data), size, drop))
        assert ours == theirs and len(BatchSampler(range(10), size, drop)) == len(theirs)
    mg.manual_seed(1)
    order = list(RandomSampler(data))
    assert sorted(order) == data and len(RandomSampler(data)) == 10
    drawn = list(RandomSampler(data, replacement=True, num_samples=25))
    assert len(drawn) == 25 and set(drawn) <= set(data)
    longer = list(RandomSampler(data, num_samples=15, generator=np.random.default_rng(0)))
    assert len(longer) == 15 and sorted(longer[:10]) == data
    # the seq2seq tutorial's spelling: DataLoader(data, sampler=RandomSampler(data), batch_size=...)
    dataset = TensorDataset(mg.arange(10))
    loader = DataLoader(dataset, sampler=RandomSampler(dataset), batch_size=4)
    assert len(loader) == 3 and sorted(v for (b,) in loader for v in b.numpy().tolist()) == data
    with pytest.raises(ValueError, match="BatchSampler: batch_size should be a positive integer"):
        BatchSampler(data, 0, False)
