"""Round 22 op speed: the faster paths (each branch of erf & co. on its own elements, cummax's NumPy scans, median
by partition, index_add in rounds, multilabel_margin_loss over the longest target list) give PyTorch's values on
inputs that mix their branches: NaN, ±0, ties, both sides of each series' switch point."""

import numpy as np
import pytest

import minigrad as mg
import nn.functional as F

torch = pytest.importorskip("torch", reason="no torch")


def _mixed(dtype=np.float64):
    """Values on both sides of erf's 2.5, erfcx's 1, Bessel's 30 and lgamma's 0 / 3.5 switch points."""
    return np.array([-40.0, -30.5, -29.5, -3.0, -2.5, -2.4, -1.5, -1.0, -0.7, -0.5, -0.3, -0.0, 0.0, 1e-8, 0.3, 0.5,
                     0.9, 1.0, 1.4, 2.4, 2.5, 2.6, 3.4, 3.6, 9.0, 29.5, 30.5, 41.0], dtype=dtype)


@pytest.mark.parametrize("name", ["erf", "erfc", "lgamma", "i0", "special.i0e", "special.i1", "special.ndtr",
                                  "special.log_ndtr", "special.erfcx"])
def test_split_series_match_torch_across_switch_points(name):
    x = _mixed()
    get = lambda lib: lib.special if name.startswith("special.") else lib  # noqa: E731
    short = name.split(".")[-1]
    ours = mg.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    y, yt = getattr(get(mg), short)(ours), getattr(get(torch), short)(theirs)
    # atol: in the far left tail PyTorch's ndtr underflows to 0 sooner (ndtr(-29.5) = 1.4e-191)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-150)
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-9, atol=1e-150)


@pytest.mark.parametrize("name", ["erfinv", "special.ndtri"])
def test_split_inverses_match_torch(name):
    x = np.array([-0.99, -0.7, -0.5, -0.2, 0.0, 1e-9, 0.2, 0.5, 0.51, 0.9, 0.999999]) if name == "erfinv" else \
        np.array([1e-12, 0.01, 0.2, 0.25, 0.5, 0.74, 0.75, 0.76, 0.99, 1 - 1e-9])
    lib, tlib = (mg, torch) if name == "erfinv" else (mg.special, torch.special)
    short = name.split(".")[-1]
    np.testing.assert_allclose(getattr(lib, short)(mg.tensor(x)).numpy(),
                               getattr(tlib, short)(torch.tensor(x)).numpy(), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.int64])
@pytest.mark.parametrize("op", ["cummax", "cummin"])
def test_cummax_scan_indices_match_torch(op, dtype):
    x = np.array([[1, 3, 3, 2, 5, 5, 0, 7], [4, 4, 4, 1, 4, 9, 9, 2]], dtype=dtype)
    if dtype == np.float32:
        x[0, 3], x[1, 6], x[1, 0] = np.nan, np.nan, -0.0
    for dim in (0, 1):
        ours, theirs = getattr(mg, op)(mg.tensor(x), dim), getattr(torch, op)(torch.tensor(x), dim)
        np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
        np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())


def test_median_by_partition_matches_torch():
    rng = np.random.default_rng(0)
    for x in (rng.normal(size=1001).astype(np.float32), rng.integers(-3, 4, 500), np.array([2.0, -0.0, 0.0, 1.0]),
              np.array([3.0, np.nan, 1.0])):
        np.testing.assert_array_equal(mg.median(mg.tensor(x)).numpy(), torch.median(torch.tensor(x)).numpy())


def test_index_add_in_rounds_matches_torch():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 3, 80)).astype(np.float32)
    index = np.array([4, 0, 4, 4, 1, 0, 2])
    source = rng.normal(size=(7, 3, 80)).astype(np.float32)
    ours = mg.tensor(x).index_add(0, mg.tensor(index), mg.tensor(source), alpha=2.0)
    theirs = torch.tensor(x).index_add(0, torch.tensor(index), torch.tensor(source), alpha=2.0)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-6)
    bags = rng.integers(0, 5, (4, 3))
    bag = F.embedding_bag(mg.tensor(bags), mg.tensor(x.reshape(5, -1)), mode="mean")
    bag_t = torch.nn.functional.embedding_bag(torch.tensor(bags), torch.tensor(x.reshape(5, -1)), mode="mean")
    np.testing.assert_allclose(bag.numpy(), bag_t.numpy(), rtol=1e-6, atol=1e-6)


def test_multilabel_margin_short_lists_many_classes_match_torch():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(6, 300))
    target = np.full((6, 300), -1)
    target[0, :3], target[1, :1], target[3, :5] = [5, 7, 299], [0], [1, 2, 3, 4, 5]
    target[2, 1:4] = [8, 9, 10]   # after the end marker: ignored
    ours = mg.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    y = F.multilabel_margin_loss(ours, mg.tensor(target), reduction="none")
    yt = torch.nn.functional.multilabel_margin_loss(theirs, torch.tensor(target), reduction="none")
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-12)
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=1e-15)
