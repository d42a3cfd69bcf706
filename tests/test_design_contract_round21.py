"""DESIGN.md §3's convention, probed as an outside tester would (round 21 contract audit).

"The keyword says which convention a call means": ``dim=``/``keepdim=`` or positional arguments give PyTorch's
result, NumPy's ``axis=``/``keepdims=`` give NumPy's. The table below runs both spellings of each op named in §3
(reductions, scans, sort/argsort/topk/max/min, squeeze/unsqueeze, cat/stack/concatenate, softmax/log_softmax,
var/std with ``correction`` vs ``ddof``, flatten, split) against live PyTorch and NumPy. The audit found functions
that refused one of the two spellings with a TypeError (PyTorch accepts ``axis=`` as its alias of ``dim=``, and
NumPy has ``axis=``/``keepdims=`` for them): ``mean(axis=None)`` of integers, ``argmax``/``argmin(axis=None)`` of
bools, ``nansum``, ``nanmean``, ``nanmedian``, ``count_nonzero(keepdims=)``, ``cumsum``/``cumprod`` with
``axis=None``, ``diff``, ``quantile``/``nanquantile``, and PyTorch's alias on ``topk``, ``kthvalue``, ``mode``,
``cummax``/``cummin``, ``aminmax``, ``unsqueeze``, ``tensor_split``, ``repeat_interleave``, ``trapezoid``,
``cumulative_trapezoid``, ``take_along_dim`` and ``linalg.vector_norm``; ``any``/``all(axis=)`` of uint8 gave
PyTorch's uint8, not NumPy's bool. ``mg.gradcheck``'s failure was not PyTorch's RuntimeError.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="PyTorch is the reference for these tests")

RNG = np.random.default_rng(21)
X = RNG.standard_normal((3, 4, 6))   # float64: the same numbers on both sides
XI = RNG.integers(0, 5, (3, 4, 6))
XNAN = X.copy()
XNAN[RNG.random(X.shape) < 0.3] = np.nan
XNAN[0, 1, :] = np.nan   # a line of NaNs along the last dim
XNAN[2, :, 3] = np.nan   # and one along dim 1


def _arrays(result: Any) -> Any:
    if isinstance(result, (tuple, list)):
        return [_arrays(r) for r in result]
    if isinstance(result, (mg.Tensor, torch.Tensor)):
        return result.detach().numpy()
    return np.asarray(result)


def _assert_same(ours: Any, reference: Any) -> None:
    ours, reference = _arrays(ours), _arrays(reference)
    if isinstance(reference, list):
        assert isinstance(ours, list) and len(ours) == len(reference)
        for a, b in zip(ours, reference):
            _assert_same(a, b)
        return
    assert ours.shape == reference.shape and ours.dtype == reference.dtype, (ours.shape, reference.shape,
                                                                              ours.dtype, reference.dtype)
    np.testing.assert_allclose(ours, reference, rtol=1e-12, atol=1e-12, equal_nan=True)


m, t = mg.tensor(X), torch.tensor(X)
mi, ti = mg.tensor(XI), torch.tensor(XI)
mn, tn = mg.tensor(XNAN), torch.tensor(XNAN)
Case = tuple[str, Callable[[], Any], Callable[[], Any]]

# (id, minigrad call, reference call): PyTorch spelling vs torch, NumPy spelling vs NumPy
TABLE: list[Case] = [
    ("sum dim keepdim", lambda: m.sum(dim=1, keepdim=True), lambda: t.sum(dim=1, keepdim=True)),
    ("sum axis keepdims", lambda: m.sum(axis=(0, 2), keepdims=True), lambda: X.sum(axis=(0, 2), keepdims=True)),
    ("mean positional", lambda: mg.mean(m, 2), lambda: torch.mean(t, 2)),
    ("mean of ints axis", lambda: mi.mean(axis=1), lambda: XI.mean(axis=1)),
    ("mean of ints axis=None", lambda: mg.mean(mi, axis=None), lambda: np.mean(XI, axis=None)),
    ("prod dim", lambda: mi.prod(1), lambda: ti.prod(1)),
    ("max dim: values, indices", lambda: m.max(dim=1), lambda: t.max(dim=1)),
    ("max positional keepdim", lambda: m.max(2, True), lambda: t.max(2, True)),
    ("max axis: values", lambda: m.max(axis=1), lambda: X.max(axis=1)),
    ("min axis keepdims", lambda: mg.min(m, axis=-1, keepdims=True), lambda: X.min(axis=-1, keepdims=True)),
    ("amax dims", lambda: m.amax((0, 2)), lambda: t.amax((0, 2))),
    ("argmax dim keepdim", lambda: m.argmax(dim=1, keepdim=True), lambda: t.argmax(dim=1, keepdim=True)),
    ("argmax axis", lambda: m.argmax(axis=1), lambda: X.argmax(axis=1)),
    ("argmax of bools axis=None", lambda: (m > 0).argmax(axis=None), lambda: (X > 0).argmax(axis=None)),
    ("argmin of bools keepdims", lambda: mg.argmin(m > 0, keepdims=True), lambda: np.argmin(X > 0, keepdims=True)),
    ("var default correction=1", lambda: m.var(), lambda: t.var()),
    ("var dim", lambda: m.var(dim=0), lambda: t.var(dim=0)),
    ("var correction", lambda: m.var(1, correction=0, keepdim=True), lambda: t.var(1, correction=0, keepdim=True)),
    ("var axis: ddof=0", lambda: m.var(axis=0), lambda: X.var(axis=0)),
    ("std axis ddof", lambda: m.std(axis=(0, 1), ddof=1), lambda: X.std(axis=(0, 1), ddof=1)),
    ("std unbiased", lambda: mg.std(m, 2, unbiased=False), lambda: torch.std(t, 2, unbiased=False)),
    ("logsumexp dim", lambda: m.logsumexp(dim=1), lambda: t.logsumexp(dim=1)),
    ("median dim: values, indices", lambda: m.median(dim=2), lambda: t.median(dim=2)),
    ("median axis: NumPy's", lambda: m.median(axis=2), lambda: np.median(X, axis=2)),
    ("all/any axis", lambda: (m > 0).any(axis=1), lambda: (X > 0).any(axis=1)),
    ("any of uint8 axis: bool", lambda: mi.to(mg.uint8).any(axis=1), lambda: XI.astype(np.uint8).any(axis=1)),
    ("all of uint8 keepdims: bool", lambda: mg.all(mi.to(mg.uint8), keepdims=True),
     lambda: np.all(XI.astype(np.uint8), keepdims=True)),
    ("any of uint8 dim: uint8", lambda: mi.to(mg.uint8).any(1), lambda: ti.to(torch.uint8).any(1)),
    ("cumsum dim", lambda: m.cumsum(dim=1), lambda: t.cumsum(dim=1)),
    ("cumsum axis", lambda: mi.cumsum(axis=1), lambda: XI.cumsum(axis=1)),
    ("cumsum axis=None", lambda: mi.cumsum(axis=None), lambda: np.cumsum(XI, axis=None)),
    ("cumprod axis=None", lambda: mg.cumprod(m, axis=None), lambda: np.cumprod(X, axis=None)),
    ("cumsum of bools axis", lambda: mg.cumsum(m > 0, axis=0), lambda: np.cumsum(X > 0, axis=0)),
    ("sort dim", lambda: m.sort(dim=1, descending=True), lambda: t.sort(dim=1, descending=True)),
    ("sort axis: values", lambda: m.sort(axis=1), lambda: np.sort(X, axis=1)),
    ("argsort dim", lambda: m.argsort(1), lambda: t.argsort(1)),
    ("argsort axis=None", lambda: m.argsort(axis=None), lambda: np.argsort(X, axis=None)),
    ("topk", lambda: m.topk(2, dim=1), lambda: t.topk(2, dim=1)),
    ("squeeze dim not 1", lambda: m[:, :1].squeeze(0), lambda: t[:, :1].squeeze(0)),
    ("squeeze axis", lambda: m[:, :1].squeeze(axis=1), lambda: np.squeeze(X[:, :1], axis=1)),
    ("unsqueeze", lambda: m.unsqueeze(dim=-1), lambda: t.unsqueeze(dim=-1)),
    ("expand_dims", lambda: mg.expand_dims(m, 1), lambda: np.expand_dims(X, 1)),
    ("cat dim", lambda: mg.cat([m, m], dim=1), lambda: torch.cat([t, t], dim=1)),
    ("concat", lambda: mg.concat([m, m], -1), lambda: torch.concat([t, t], -1)),
    ("concatenate axis", lambda: mg.concatenate([m, m], axis=2), lambda: np.concatenate([X, X], axis=2)),
    ("stack dim", lambda: mg.stack([m, m], 1), lambda: torch.stack([t, t], 1)),
    ("stack axis", lambda: mg.stack([m, m], axis=-1), lambda: np.stack([X, X], axis=-1)),
    ("softmax dim", lambda: mg.softmax(m, dim=1), lambda: torch.softmax(t, dim=1)),
    ("log_softmax dim", lambda: m.log_softmax(-1), lambda: t.log_softmax(-1)),
    ("flatten", lambda: m.flatten(1), lambda: t.flatten(1)),
    ("flatten range", lambda: mg.flatten(m, 0, 1), lambda: torch.flatten(t, 0, 1)),
    ("split sizes", lambda: mg.split(m, [2, 4], dim=2), lambda: torch.split(t, [2, 4], dim=2)),
    ("split size", lambda: m.split(2), lambda: t.split(2)),
    ("split axis: points", lambda: mg.split(m, [4], axis=2), lambda: np.split(X, [4], axis=2)),
    ("chunk", lambda: m.chunk(3, 2), lambda: t.chunk(3, 2)),
    ("unbind", lambda: mg.unbind(m, 1), lambda: torch.unbind(t, 1)),
    ("transpose swap", lambda: m.transpose(0, 2), lambda: t.transpose(0, 2)),
    ("transpose permutation", lambda: m.transpose(2, 0, 1), lambda: X.transpose(2, 0, 1)),
    ("permute", lambda: m.permute(2, 0, 1), lambda: t.permute(2, 0, 1)),
    ("mT", lambda: m.mT, lambda: t.mT),
    ("swapaxes", lambda: mg.swapaxes(m, 0, 1), lambda: np.swapaxes(X, 0, 1)),
    ("nansum axis keepdims", lambda: mn.nansum(axis=1, keepdims=True), lambda: np.nansum(XNAN, axis=1, keepdims=True)),
    ("nansum of ints axis", lambda: mg.nansum(mi, axis=(0, 2)), lambda: np.nansum(XI, axis=(0, 2))),
    ("nanmean axis", lambda: mn.nanmean(axis=2), lambda: np.nanmean(XNAN, axis=2)),
    ("nanmedian axis", lambda: mn.nanmedian(axis=2), lambda: np.nanmedian(XNAN, axis=2)),
    ("nanmedian dim", lambda: mn[1:].nanmedian(dim=2), lambda: tn[1:].nanmedian(dim=2)),   # (a NaN line's index:
    # PyTorch's is unspecified)
    ("count_nonzero keepdims", lambda: mg.count_nonzero(mi, axis=1, keepdims=True),
     lambda: np.count_nonzero(XI, axis=1, keepdims=True)),
    ("diff axis", lambda: m.diff(axis=1, n=2), lambda: np.diff(X, axis=1, n=2)),
    ("quantile axis keepdims", lambda: mg.quantile(m, 0.3, axis=1, keepdims=True),
     lambda: np.quantile(X, 0.3, axis=1, keepdims=True)),
]


@pytest.mark.parametrize("case", TABLE, ids=[c[0] for c in TABLE])
def test_section3_convention_table(case: Case) -> None:
    _, ours, reference = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # NumPy's "Mean of empty slice" at the NaN lines
        _assert_same(ours(), reference())


@pytest.mark.parametrize("spelling", ["axis", "keepdims"])
@pytest.mark.parametrize("name", ["nansum", "nanmean", "nanmedian"])
def test_numpy_keywords_of_the_nan_reductions_give_numpys_result(name: str, spelling: str) -> None:
    """nansum/nanmean/nanmedian(axis=, keepdims=) raised TypeError; NumPy's result now: nanmedian averages the two
    middle values and returns values alone, integers give NumPy's dtypes, and the gradient flows."""
    kwargs: dict[str, Any] = {"axis": 2} if spelling == "axis" else {"keepdims": True}
    for data in (XNAN, XI, XNAN.astype(np.float32)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            _assert_same(getattr(mg.tensor(data), name)(**kwargs), getattr(np, name)(data, **kwargs))
            _assert_same(getattr(mg, name)(mg.tensor(data), axis=(0, 2), keepdims=True),
                         getattr(np, name)(data, axis=(0, 2), keepdims=True))
    x = mg.tensor(np.array([[1.0, np.nan, 4.0, 2.0], [5.0, np.nan, np.nan, 7.0]]), requires_grad=True)
    getattr(mg, name)(x, axis=1).sum().backward()
    expected = {"nansum": [[1, 0, 1, 1], [1, 0, 0, 1]], "nanmean": [[1 / 3, 0, 1 / 3, 1 / 3], [0.5, 0, 0, 0.5]],
                "nanmedian": [[0, 0, 0, 1], [0.5, 0, 0, 0.5]]}[name]
    np.testing.assert_allclose(x.grad.numpy(), expected)
    with pytest.raises(TypeError, match="not both"):
        getattr(mg, name)(x, 1, axis=1)


TORCH_ALIAS: list[tuple[str, Callable[[Any, Any], Any]]] = [
    ("topk", lambda lib, x: lib.topk(x, 2, axis=1)),
    ("kthvalue", lambda lib, x: x.kthvalue(2, axis=0, keepdim=True)),
    ("mode", lambda lib, x: lib.mode(x, axis=1)),
    ("cummax", lambda lib, x: x.cummax(axis=2)),
    ("cummin", lambda lib, x: lib.cummin(x, axis=0)),
    ("aminmax", lambda lib, x: x.aminmax(axis=1)),
    ("unsqueeze", lambda lib, x: x.unsqueeze(axis=1)),
    ("tensor_split", lambda lib, x: lib.tensor_split(x, 3, axis=2)),
    ("repeat_interleave", lambda lib, x: x.repeat_interleave(2, axis=1)),
    ("trapezoid", lambda lib, x: lib.trapezoid(x, axis=1)),
    ("cumulative_trapezoid", lambda lib, x: lib.cumulative_trapezoid(x, axis=0)),
    ("diff", lambda lib, x: lib.diff(x, axis=1)),
    ("quantile", lambda lib, x: x.quantile(0.25, axis=2, keepdims=True)),
    ("nanquantile", lambda lib, x: lib.nanquantile(x, 0.75, axis=1)),
    ("take_along_dim", lambda lib, x: lib.take_along_dim(x, lib.argsort(x, 1), axis=1)),
    ("linalg.vector_norm", lambda lib, x: lib.linalg.vector_norm(x, 3, axis=1)),
    ("nansum", lambda lib, x: lib.nansum(x, axis=1, keepdims=True)),
    ("nanmean", lambda lib, x: x.nanmean(axis=(0, 2))),
]


@pytest.mark.parametrize("call", TORCH_ALIAS, ids=[c[0] for c in TORCH_ALIAS])
def test_pytorchs_axis_alias_of_dim(call: tuple[str, Callable[[Any, Any], Any]]) -> None:
    """PyTorch takes ``axis=`` for ``dim=`` in these (and NumPy means the same by it where it has the function);
    minigrad raised TypeError. Values, dtypes, shapes and the gradient now match PyTorch's."""
    _, fn = call
    x, tx = mg.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
    ours, theirs = fn(mg, x), fn(torch, tx)
    _assert_same(ours, theirs)
    first, tfirst = (ours[0], theirs[0]) if isinstance(theirs, (tuple, list)) else (ours, theirs)
    (first * first).sum().backward()
    (tfirst * tfirst).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_axis_alias_beside_dim_or_a_missing_dim_is_a_type_error() -> None:
    x = mg.tensor(X)
    for call in (lambda: x.topk(2, 1, axis=0), lambda: mg.quantile(x, 0.5, 1, axis=1), lambda: x.diff(1, 0, axis=1)):
        with pytest.raises(TypeError, match="not both"):
            call()
    for call in (lambda: mg.cummax(x), lambda: x.unsqueeze()):
        with pytest.raises(TypeError, match="missing 1 required positional argument: 'dim'"):
            call()


def test_gradcheck_failure_is_pytorchs_runtime_error_and_raise_exception_false_returns_false() -> None:
    """§3's ``mg.gradcheck`` "returns True or raises": PyTorch's GradcheckError is a RuntimeError (minigrad's was an
    AssertionError only) and ``raise_exception=False`` (torch.autograd.gradcheck's keyword) raised TypeError."""

    class WrongBackward(mg.autograd.Function):
        @staticmethod
        def forward(ctx: Any, a: Any) -> Any:
            return a * 2

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            return g * 3

    x = mg.tensor([0.5, -1.0, 2.0], dtype=mg.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"input 0 \(shape \(3,\)\) disagrees at index"):
        mg.gradcheck(lambda a: WrongBackward.apply(a).sum(), [x])
    assert mg.autograd.gradcheck(lambda a: WrongBackward.apply(a).sum(), [x], raise_exception=False) is False
    assert mg.autograd.gradgradcheck(lambda a: (a ** 3).sum(), [x], raise_exception=False) is True

    class TorchWrong(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, a: Any) -> Any:
            return a * 2

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            return g * 3

    tx = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: TorchWrong.apply(a).sum(), [tx], raise_exception=False) is False
    with pytest.raises(RuntimeError):
        torch.autograd.gradcheck(lambda a: TorchWrong.apply(a).sum(), [tx])


KEEPDIMS_WITH_DIM: list[tuple[str, Callable[[Any, Any], Any]]] = [
    ("nansum", lambda lib, x: lib.nansum(x, dim=1, keepdims=True)),
    ("nanmean", lambda lib, x: x.nanmean(1, keepdims=True)),
    ("nanmedian", lambda lib, x: x.nanmedian(dim=2, keepdims=True)),
    ("median", lambda lib, x: lib.median(x, 0, keepdims=True)),
    ("kthvalue", lambda lib, x: x.kthvalue(2, dim=1, keepdims=True)),
    ("mode", lambda lib, x: lib.mode(x, 2, keepdims=True)),
    ("aminmax", lambda lib, x: x.aminmax(dim=0, keepdims=True)),
    ("var_mean", lambda lib, x: lib.var_mean(x, 1, keepdims=True)),
    ("std_mean", lambda lib, x: lib.std_mean(x, dim=(0, 2), keepdims=True)),
]


@pytest.mark.parametrize("call", KEEPDIMS_WITH_DIM, ids=[c[0] for c in KEEPDIMS_WITH_DIM])
def test_keepdims_beside_a_dim_is_pytorchs_call(call: tuple[str, Callable[[Any, Any], Any]]) -> None:
    """README: "a dim given with keepdims= is PyTorch's call, as PyTorch takes keepdims= for its keepdim". These
    raised TypeError (an unknown keyword, or "give dim= or axis=, not both" for median/nanmedian/nansum/nanmean)."""
    _, fn = call
    data = XNAN[1:] if call[0].startswith("nan") else X   # (no all-NaN line: its index is PyTorch's unspecified)
    _assert_same(fn(mg, mg.tensor(data)), fn(torch, torch.tensor(data)))


@pytest.mark.parametrize("name", ["median", "nanmedian"])
@pytest.mark.parametrize("data, kwargs", [
    (np.float32(2.5), {"axis": None}),                           # 0-d: permute() with no dims raised TypeError
    (np.array(3, dtype=np.int32), {"axis": ()}),
    (np.arange(6.0).reshape(2, 3), {"axis": ()}),                # NumPy's axis=(): each element its own line
    (np.zeros((2, 0)), {"axis": 1}),                             # an empty line: NaN (raised ValueError)
    (np.zeros((2, 0), np.float32), {"axis": 0}),                 # no lines: an empty result (reshape raised)
    (np.zeros((0, 3), np.float16), {"axis": None, "keepdims": True}),
    (np.array([[True, False], [True, True]]), {"axis": 1}),      # bools: float64, as integers (raised TypeError)
])
def test_numpy_median_of_edge_shapes(name: str, data: Any, kwargs: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # NumPy's "Mean of empty slice"
        expected = getattr(np, name)(data, **kwargs)
    _assert_same(getattr(mg.tensor(data), name)(**kwargs), expected)
