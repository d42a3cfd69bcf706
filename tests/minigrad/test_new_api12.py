"""torch 2.13's ``nn.functional.linear_cross_entropy`` / ``nn.LinearCrossEntropyLoss``, ``torch.lobpcg`` and
``torch.segment_reduce`` against PyTorch (values, shapes, dtypes, gradients, errors) and finite differences."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from helpers import assert_close, gradcheck_case, same_as_torch

import minigrad as mg
import nn

RNG = np.random.default_rng(12)
X54, W64, B6 = RNG.standard_normal((5, 4)), RNG.standard_normal((6, 4)), RNG.standard_normal(6)
W6234 = RNG.standard_normal((6, 2, 3, 4))
T5, T523 = np.array([0, 5, 2, -100, 3]), RNG.integers(0, 6, (5, 2, 3))
PROBS = RNG.random((5, 6))
PROBS /= PROBS.sum(1, keepdims=True)
CLASS_WEIGHT = RNG.random(6) + 0.5


# --- linear_cross_entropy -------------------------------------------------------------------------------------

def _lce(**kwargs: Any) -> Any:
    class_weight = kwargs.pop("class_weight", False)

    def fn(lib: Any, x: Any, w: Any, b: Any, target: Any) -> Any:
        extra = {"weight": lib.tensor(CLASS_WEIGHT)} if class_weight else {}
        return lib.nn.functional.linear_cross_entropy(x, w, target, linear_bias=b, **extra, **kwargs)
    return fn


LCE_CASES = {
    "mean": (_lce(), (X54, W64, B6, T5)),
    "sum_weighted": (_lce(reduction="sum", class_weight=True), (X54, W64, B6, T5)),
    "none_smoothed": (_lce(reduction="none", label_smoothing=0.2, class_weight=True), (X54, W64, B6, T5)),
    "ignore_index": (_lce(ignore_index=2), (X54, W64, B6, np.where(T5 < 0, 2, T5))),
    "probabilities": (_lce(label_smoothing=0.1), (X54, W64, B6, PROBS)),
    "k_dimensional": (_lce(reduction="none"), (X54, W6234, RNG.standard_normal((6, 2, 3)), T523)),
    "unbatched": (_lce(), (X54[0], W64, B6, np.array(3))),
}


@pytest.mark.parametrize("name", sorted(LCE_CASES))
def test_linear_cross_entropy_as_torch(name: str, torch: Any) -> None:
    """Values and the gradients of input, linear_weight and linear_bias as PyTorch's; gradcheck in float64."""
    same_as_torch(torch, *LCE_CASES[name][:1], *LCE_CASES[name][1])


def test_linear_cross_entropy_is_the_unfused_composition() -> None:
    x, w = mg.tensor(X54, requires_grad=True), mg.tensor(W64, requires_grad=True)
    fused = nn.functional.linear_cross_entropy(x, w, mg.tensor(T5), label_smoothing=0.3)
    unfused = nn.functional.cross_entropy(nn.functional.linear(x, w), mg.tensor(T5), label_smoothing=0.3)
    assert_close(fused, unfused)
    gradcheck_case(lambda lib, x, w: lib.nn.functional.linear_cross_entropy(x, w, lib.tensor(T5)), (X54, W64))


def test_linear_cross_entropy_errors_and_options_as_torch(torch: Any) -> None:
    F, TF = nn.functional, torch.nn.functional
    for args, kwargs in [((X54[None], W64, T5), {}), ((X54, W64[0], T5), {}), ((X54[:, :3], W64, T5), {}),
                         ((X54, W64, T5), {"linear_bias": B6[:3]}), ((X54[0], W6234, T523[0]), {}),
                         ((X54, W64, PROBS), {"ignore_index": 1})]:
        with pytest.raises(RuntimeError) as theirs:
            TF.linear_cross_entropy(*(torch.tensor(a) for a in args), **{k: torch.tensor(v) if k == "linear_bias"
                                                                        else v for k, v in kwargs.items()})
        with pytest.raises(RuntimeError) as ours:
            F.linear_cross_entropy(*(mg.tensor(a) for a in args), **{k: mg.tensor(v) if k == "linear_bias" else v
                                                                    for k, v in kwargs.items()})
        assert str(theirs.value).split(",")[0] in str(ours.value)
    for kwargs in [{"acc_policy": "fast"}, {"chunking_method": "square"}, {"batch_chunk_size": 0}]:
        with pytest.raises(ValueError):
            torch.nn.LinearCrossEntropyOptions(**kwargs)
        with pytest.raises(ValueError):
            nn.LinearCrossEntropyOptions(**kwargs)
    with pytest.raises(ValueError, match="give different chunk sizes"):   # chunk size 3 vs "auto"'s pick
        F.linear_cross_entropy(mg.tensor(X54), mg.tensor(W64), mg.tensor(T5),
                               options=nn.LinearCrossEntropyOptions(batch_chunk_size=3, chunking_method="aspect_ratio"))
    chunked = F.linear_cross_entropy(mg.tensor(X54), mg.tensor(W64), mg.tensor(T5),
                                     options=nn.LinearCrossEntropyOptions(batch_chunk_size=2))
    assert_close(chunked, TF.linear_cross_entropy(torch.tensor(X54), torch.tensor(W64), torch.tensor(T5)))
    with warnings.catch_warnings(record=True) as caught:   # the options PyTorch's chunked path cannot use: ignored
        warnings.simplefilter("always")
        F.linear_cross_entropy(mg.tensor(X54), mg.tensor(W64), mg.tensor(T5), label_smoothing=0.1,
                               options=nn.LinearCrossEntropyOptions())
    assert len(caught) == 1 and "``options`` ignored" in str(caught[0].message)
    assert caught[0].filename == __file__


def test_linear_cross_entropy_loss_module_as_torch(torch: Any) -> None:
    torch.manual_seed(0)
    theirs = torch.nn.LinearCrossEntropyLoss(4, 3, out_features=(2,), bias=True, weight=torch.tensor([1.0, 2, 3]),
                                             label_smoothing=0.1).double()
    ours = nn.LinearCrossEntropyLoss(4, 3, out_features=(2,), bias=True, weight=mg.tensor([1.0, 2, 3]),
                                     label_smoothing=0.1).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert repr(ours) == repr(theirs)
    assert list(dict(ours.named_parameters())) == ["linear.weight", "linear.bias"]
    assert isinstance(ours, nn.modules.loss._WeightedLoss) and nn.modules.loss.LinearCrossEntropyLoss is type(ours)
    target = RNG.integers(0, 3, (5, 2))
    loss_ours, loss_theirs = ours(mg.tensor(X54), mg.tensor(target)), theirs(torch.tensor(X54), torch.tensor(target))
    loss_ours.backward()
    loss_theirs.backward()
    assert_close(loss_ours, loss_theirs)
    assert_close(ours.linear.weight.grad, theirs.linear.weight.grad)
    assert_close(ours.linear.bias.grad, theirs.linear.bias.grad)
    with pytest.raises(RuntimeError, match="weight shape"):
        nn.LinearCrossEntropyLoss(4, 3, weight=mg.ones(4))
    with pytest.raises(RuntimeError, match="label_smoothing"):
        nn.LinearCrossEntropyLoss(4, 3, label_smoothing=1.5)


# --- segment_reduce -------------------------------------------------------------------------------------------

TIES = np.array([2.0, 2.0, 3.0, 0.0, 0.0, 6.0])   # tied maxima, zeros in a product
DISTINCT = np.array([2.0, 1.0, 3.0, 0.5, -1.0, 6.0])   # max/min: PyTorch's gradient at ties is tested below
X263 = RNG.standard_normal((2, 6, 3))


def _segments(reduce: str, **kwargs: Any) -> Any:
    def fn(lib: Any, data: Any) -> Any:
        return lib.segment_reduce(data, reduce, **{k: lib.tensor(v) if isinstance(v, np.ndarray) else v
                                                   for k, v in kwargs.items()})
    return fn


SEGMENT_CASES = {
    f"{reduce}_{how}": (_segments(reduce, **kwargs), (DISTINCT if reduce in ("max", "min") and data is TIES
                                                      else data,))
    for reduce in ("sum", "mean", "max", "min", "prod")
    for how, data, kwargs in [
        ("lengths", TIES, {"lengths": np.array([2, 0, 3, 1])}),
        ("initial", TIES, {"lengths": np.array([2, 0, 3, 1]), "initial": 2.0}),
        ("offsets", TIES, {"offsets": np.array([1, 2, 2, 5])}),
        ("rows", X263, {"lengths": np.array([[2, 4], [3, 3]]), "axis": 1}),
        ("trailing", X263[0], {"lengths": np.array([1, 0, 5])}),
    ]
}
# no finite differences across the zeros of TIES's products, max's tie with initial=2.0, nor the ±inf/NaN of empty
# segments without initial
SEGMENT_KINKS = {"prod_lengths", "prod_initial", "prod_offsets", "max_initial"} | {
    f"{reduce}_{how}" for reduce in ("max", "min", "mean") for how in ("lengths", "offsets", "trailing")}


@pytest.mark.parametrize("name", sorted(SEGMENT_CASES))
def test_segment_reduce_as_torch(name: str, torch: Any) -> None:
    """Values (NaN/±inf/initial in empty segments), dtypes and gradients (ties shared, zeros in products)."""
    same_as_torch(torch, SEGMENT_CASES[name][0], *SEGMENT_CASES[name][1], gradcheck=name not in SEGMENT_KINKS)


def test_segment_reduce_float32_and_unsafe(torch: Any) -> None:
    data = TIES.astype(np.float32)
    ours = mg.segment_reduce(mg.tensor(data), "mean", lengths=mg.tensor([2, 4]))
    assert ours.dtype == np.float32
    assert_close(ours, torch.segment_reduce(torch.tensor(data), "mean", lengths=torch.tensor([2, 4])))
    assert_close(mg.segment_reduce(mg.tensor(TIES), "sum", lengths=mg.tensor([2, 3]), unsafe=True),
                 torch.segment_reduce(torch.tensor(TIES), "sum", lengths=torch.tensor([2, 3]), unsafe=True))


def test_segment_reduce_errors_as_torch(torch: Any) -> None:
    cases = [(TIES, "any", {"lengths": [2, 4]}), (TIES, "sum", {}), (TIES, "sum", {"lengths": [2, 3]}),
             (TIES, "sum", {"lengths": [2, 5, -1]}), (TIES, "sum", {"indices": [0, 0, 1, 1, 1, 1]}),
             (X263[0], "sum", {"lengths": [2, 4], "axis": 1}), (TIES, "sum", {"lengths": [2, 4], "axis": 1}),
             (np.arange(6), "sum", {"lengths": [2, 4]}), (TIES, "sum", {"lengths": [2.0, 4.0]})]
    for data, reduce, kwargs in cases:
        with pytest.raises((RuntimeError, NotImplementedError, IndexError)) as theirs:
            torch.segment_reduce(torch.tensor(data), reduce, **{k: torch.tensor(v) if k != "axis" else v
                                                                for k, v in kwargs.items()})
        with pytest.raises(type(theirs.value)):
            mg.segment_reduce(mg.tensor(data), reduce, **{k: mg.tensor(v) if k != "axis" else v
                                                          for k, v in kwargs.items()})


@pytest.mark.parametrize("reduce", ["max", "min"])
def test_segment_reduce_shares_the_gradient_among_ties(reduce: str, torch: Any) -> None:
    """Tied extremes share the gradient evenly, as PyTorch's for a non-negative upstream gradient. (PyTorch
    2.13's kernel gives a negative upstream gradient whole to each tie: not linear in it; minigrad keeps the even
    split, torch.amax's and scatter_reduce's rule.)"""
    upstream = np.array([1.5, 1.0, 0.5])
    grads = []
    for lib in (mg, torch):
        data = lib.tensor(TIES, requires_grad=True)
        lib.segment_reduce(data, reduce, lengths=lib.tensor([2, 0, 4])).backward(lib.tensor(upstream))
        grads.append(data.grad)
    assert_close(*grads)
    data = mg.tensor(TIES, requires_grad=True)
    mg.segment_reduce(data, reduce, lengths=mg.tensor([2, 0, 4])).backward(mg.tensor(-upstream))
    assert_close(data.grad[:2], [-0.75, -0.75])
