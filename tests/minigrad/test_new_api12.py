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
        (lib.segment_reduce(data, reduce, lengths=lib.tensor([2, 0, 4])) * lib.tensor(upstream)).sum().backward()
        grads.append(data.grad)
    assert_close(*grads)
    data = mg.tensor(TIES, requires_grad=True)
    mg.segment_reduce(data, reduce, lengths=mg.tensor([2, 0, 4])).backward(mg.tensor(-upstream))
    assert_close(data.grad[:2], [-0.75, -0.75])


# --- lobpcg ---------------------------------------------------------------------------------------------------

def _spd(m: int, seed: int) -> np.ndarray:
    """A symmetric positive-definite (m, m) with eigenvalues 1 … m (well separated)."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((m, m)))
    return q @ np.diag(np.arange(1.0, m + 1)) @ q.T


SPD = _spd(12, 3)


@pytest.mark.parametrize("largest", [True, False])
def test_lobpcg_values_and_vectors_as_eigh(largest: bool, torch: Any) -> None:
    values, vectors = mg.lobpcg(mg.tensor(SPD), k=3, largest=largest)
    reference, reference_vectors = np.linalg.eigh(SPD)
    order = slice(None, -4, -1) if largest else slice(0, 3)
    assert values.shape == (3,) and vectors.shape == (12, 3) and values.dtype == np.float64
    assert_close(values, reference[order], rtol=1e-6, atol=1e-6)
    assert_close(np.abs(vectors.numpy().T @ reference_vectors[:, order]), np.eye(3), atol=1e-6)
    theirs, _ = torch.lobpcg(torch.tensor(SPD), k=3, largest=largest)
    assert_close(values, theirs, rtol=1e-6, atol=1e-6)


def test_lobpcg_generalized_batched_float32_and_start(torch: Any) -> None:
    b = np.diag(np.linspace(1.0, 2.0, 12))
    values, _ = mg.lobpcg(mg.tensor(SPD), k=2, B=mg.tensor(b))
    assert_close(values, torch.lobpcg(torch.tensor(SPD), k=2, B=torch.tensor(b))[0], rtol=1e-6, atol=1e-6)
    values, vectors = mg.lobpcg(mg.tensor(np.stack([SPD, 2 * SPD]).astype(np.float32)), k=2)
    assert values.dtype == np.float32 and vectors.shape == (2, 12, 2)
    assert_close(values, [[12, 11], [24, 22]], rtol=1e-5, atol=1e-5)
    start = RNG.standard_normal((12, 3))
    for k, kept in ((None, 3), (2, 2), (4, 3)):   # k defaults to X's columns; at most n pairs come back (as torch)
        assert mg.lobpcg(mg.tensor(SPD), k=k, X=mg.tensor(start))[0].shape == (kept,)
    steps: list = []   # the tracker sees each step done, as PyTorch's: istep 1, 2, 3
    mg.lobpcg(mg.tensor(SPD), k=1, tracker=lambda state: steps.append(state.ivars["istep"]), niter=3)
    assert steps == [1, 2, 3]


def test_lobpcg_gradient_as_torch(torch: Any) -> None:
    """dE and dX (up to X's signs) of dense A: PyTorch's (that of the selected eigenpairs of (A + Aᵀ)/2)."""
    weights = RNG.standard_normal((12, 2))
    grads = []
    for lib in (mg, torch):
        a = lib.tensor(SPD, requires_grad=True)
        values, vectors = lib.lobpcg(a, k=2, tol=1e-12)
        signs = lib.tensor(np.sign(vectors.detach().numpy()[0]))
        ((values * lib.tensor([0.3, -0.2])).sum() + (vectors * signs * lib.tensor(weights)).sum()).backward()
        grads.append(a.grad)
    assert_close(grads[0], grads[1].T, atol=1e-7, rtol=1e-6)   # symmetric
    assert_close(*grads, atol=1e-7, rtol=1e-6)

    def fn(lib: Any, a: Any) -> Any:
        values, vectors = lib.lobpcg(a, k=2, tol=1e-13, niter=-1)
        return values, vectors * lib.tensor(np.sign(vectors.detach().numpy()[0]))
    gradcheck_case(fn, (_spd(6, 4),))


def test_lobpcg_errors_as_torch(torch: Any) -> None:
    for lib in (mg, torch):
        with pytest.raises(ValueError, match="smaller than 3 x"):
            lib.lobpcg(lib.tensor(SPD), k=5)
        with pytest.raises(AssertionError):
            lib.lobpcg(lib.tensor(SPD[:3]), k=1)
        b = lib.tensor(np.eye(12), requires_grad=True)
        values, _ = lib.lobpcg(lib.tensor(SPD, requires_grad=True), k=1, B=b)
        with pytest.raises(ValueError, match="B != I"):
            values.sum().backward()
    with pytest.raises(NotImplementedError):
        mg.lobpcg(mg.tensor(SPD, requires_grad=True), k=1, B=mg.tensor(np.eye(12)))[0].sum().backward()


def test_segment_reduce_under_compile_reads_the_lengths_it_is_given_each_call() -> None:
    """The segments are values: a compiled function runs eagerly (with a CompileWarning) rather than replay the
    first call's segments."""
    data = mg.arange(6.0)
    f = mg.compile(lambda x, lengths: mg.segment_reduce(x, "sum", lengths=lengths))
    with pytest.warns(mg.CompileWarning, match="reads the value"):
        first = f(data, mg.tensor([2, 4]))
    second = f(data, mg.tensor([5, 1]))
    assert first.tolist() == [1.0, 14.0] and second.tolist() == [10.0, 5.0]
