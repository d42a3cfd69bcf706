"""Round-16 leftovers (second wave), each compared with live torch 2.13: detach_ of an op's saved output,
index_reduce's error classes on a 0-d input, CorrCholeskyTransform equality, positive_definite with an infinite
pivot, and logdet of a singular complex matrix."""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")

X = np.array([0.5, 1.5, -0.3])

# op1 makes e from x * 1, op2 reads e; then e.detach_() and backward of op2(e).sum()
OPS: dict[str, Callable[[Any], Any]] = {
    "exp": lambda t: t.exp(), "sigmoid": lambda t: t.sigmoid(), "tanh": lambda t: t.tanh(),
    "relu": lambda t: t.relu(), "sqrt": lambda t: t.abs().sqrt(), "prod": lambda t: t.prod(),
    "cumprod": lambda t: t.cumprod(0), "softmax": lambda t: t.softmax(0), "mul3": lambda t: t * 3,
    "sin": lambda t: t.sin(), "square": lambda t: t * t, "pow": lambda t: t ** 2,
}


def _detach_outcome(lib: Any, op1: str, op2: str) -> Any:
    x = lib.tensor(X, requires_grad=True)
    e = OPS[op1](x * 1.0)
    f = OPS[op2](e).sum()
    e.detach_()
    try:
        f.backward()
    except RuntimeError as error:
        assert "detached in-place" in str(error)
        return "raise"
    return x.grad.detach().numpy()


@pytest.mark.parametrize("op1,op2", [("exp", "mul3"), ("exp", "sin"), ("sigmoid", "mul3"), ("tanh", "mul3"),
                                     ("relu", "mul3"), ("sqrt", "mul3"), ("prod", "mul3"), ("cumprod", "exp"),
                                     ("softmax", "mul3"), ("exp", "square"), ("sin", "pow"), ("exp", "exp")])
def test_detach_of_saved_output_as_torch(op1: str, op2: str) -> None:
    """torch raises "a saved tensor that has been detached in-place" only for an op that saved it as an input
    (sin, x * x, pow); the op that made it still reads its own saved output (exp, sigmoid, tanh, relu, sqrt, prod)."""
    ours, theirs = _detach_outcome(mg, op1, op2), _detach_outcome(torch, op1, op2)
    if isinstance(theirs, str):
        assert ours == theirs
    else:
        assert not isinstance(ours, str), f"{op1} -> {op2}: torch gives {theirs}, we raise"
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


def _index_reduce_error(lib: Any, shape: tuple, index: Any, source_shape: tuple) -> type:
    x, source = lib.ones(shape, dtype=lib.float64), lib.full(source_shape, 2.0, dtype=lib.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # torch: "index_reduce() is in beta"
        with pytest.raises(Exception) as info:
            lib.index_reduce(x, 0, lib.tensor(index), source, "prod")
    return info.type


@pytest.mark.parametrize("shape,index,source_shape", [((), [0], (1,)), ((), 0, (1,)), ((), [0], (1, 1)),
                                                       ((), [0, 0], ()), ((), [[0]], ()), ((3,), [0], (2,)),
                                                       ((3, 2), [0], (1,)), ((3,), [0, 1], (1,))])
def test_index_reduce_error_classes_as_torch(shape: tuple, index: Any, source_shape: tuple) -> None:
    """A source or index of the wrong shape: torch's RuntimeError / IndexError (ours was ValueError/TypeError)."""
    theirs = _index_reduce_error(torch, shape, index, source_shape)
    ours = _index_reduce_error(mg, shape, index, source_shape)
    assert issubclass(ours, theirs), (ours, theirs)


def test_index_reduce_method_on_0d_raises_runtime_error() -> None:
    with pytest.raises(RuntimeError):
        mg.tensor(1.0).index_reduce_(0, mg.tensor([0]), mg.tensor([2.0]), "amax")
    assert mg.index_reduce(mg.tensor(1.0), 0, mg.tensor([0]), mg.tensor(2.0), "prod").item() == 2.0


def test_corr_cholesky_transform_equality_as_torch() -> None:
    """torch 2.13's CorrCholeskyTransform defines no __eq__: two instances differ, each equals itself."""
    theirs = torch.distributions.CorrCholeskyTransform()
    ours = mg.distributions.CorrCholeskyTransform()
    assert (ours == mg.distributions.CorrCholeskyTransform()) == (theirs == torch.distributions.CorrCholeskyTransform())
    assert (ours == ours) == (theirs == theirs)
    assert (ours.inv == mg.distributions.CorrCholeskyTransform().inv) == (
        theirs.inv == torch.distributions.CorrCholeskyTransform().inv)
    assert mg.distributions.ExpTransform() == mg.distributions.ExpTransform()   # parameterless ones stay equal


INF, NAN = float("inf"), float("nan")


@pytest.mark.parametrize("matrix", [[[INF]], [[-INF]], [[NAN]], [[1.0, 0.0], [0.0, INF]], [[INF, INF], [INF, 6.4]],
                                    [[INF, -INF], [-INF, 5.6]], [[1e300, 1.3], [1.3, INF]], [[2.0, 1.0], [1.0, 2.0]],
                                    [[5.7, INF], [INF, INF]], [[1.0, 2.0], [2.0, 1.0]]])
def test_positive_definite_check_with_inf_as_torch(matrix: list) -> None:
    """An infinite pivot factors in LAPACK's Cholesky (True in torch); inf - inf or a NaN pivot does not."""
    theirs = torch.distributions.constraints.positive_definite.check(torch.tensor(matrix, dtype=torch.float64))
    ours = mg.distributions.constraints.positive_definite.check(mg.tensor(matrix, dtype=mg.float64))
    assert bool(ours.item()) == bool(theirs.item())


@pytest.mark.parametrize("matrix", [[[1, 2], [2, 4]], [[0, 0], [0, 0]], [[1 + 1j, 2], [0, 0]], [[0.5j, 0], [0, 2]]])
@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_logdet_of_singular_complex_as_torch(matrix: list, dtype: str) -> None:
    """torch adds logabsdet as (1+0j)·logabsdet: a singular complex matrix gives -inf+nanj (we gave -inf+0j)."""
    array = np.array(matrix, dtype=dtype)
    theirs = torch.logdet(torch.tensor(array)).numpy()
    ours = mg.logdet(mg.tensor(array)).numpy()
    assert ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)   # NaN positions must agree too
    np.testing.assert_allclose(mg.logdet(mg.tensor(array[None].repeat(2, 0))).numpy(),
                               torch.logdet(torch.tensor(array[None].repeat(2, 0))).numpy(), rtol=1e-6)


VIEWS: dict[str, Callable[[Any], dict]] = {
    "column": lambda x: {"v": x[:, 1]},
    "row": lambda x: {"v": x[1]},
    "two_rows": lambda x: {"a": x[0], "b": x[2]},
    "transpose": lambda x: {"t": x.t()},
    "diagonal_and_slice": lambda x: {"d": x[:, :3].diagonal(), "s": x[1:, 2:]},
    "sub_base": lambda x: {"s": x[1:], "v": x[1:, 2]},
    "base_and_view": lambda x: {"x": x, "v": x[:, 1]},
    "unfold": lambda x: {"u": x.unfold(1, 2, 2), "c": x[:, 1]},
    "expand": lambda x: {"e": x[None, 1].expand(3, 5)},
}


def _saved_views(lib: Any, make: Callable[[Any], dict]) -> tuple:
    """Each loaded tensor's shape, stride, storage offset and values, and which ones share one storage."""
    import io
    buffer = io.BytesIO()
    lib.save(make(lib.arange(20, dtype=lib.float32).reshape(4, 5)), buffer)
    buffer.seek(0)
    loaded = torch.load(buffer) if lib is torch else mg.load(buffer)
    groups: dict = {}
    for key, t in loaded.items():
        start = t.untyped_storage().data_ptr() if lib is torch else t.data_ptr() - t.storage_offset() * t.element_size()
        groups.setdefault(start, []).append(key)
    described = {key: (tuple(t.shape), t.stride(), t.storage_offset(), t.tolist()) for key, t in loaded.items()}
    return described, sorted(sorted(keys) for keys in groups.values())


@pytest.mark.parametrize("case", list(VIEWS))
def test_save_keeps_a_view_whose_base_is_not_saved_as_torch(case: str) -> None:
    """torch.save saves a view's whole storage: it loads with its stride and storage_offset, and views of one
    storage saved together share it after load (ours loaded a contiguous copy of each)."""
    assert _saved_views(mg, VIEWS[case]) == _saved_views(torch, VIEWS[case])


def test_saved_view_storage_is_checked_and_shared() -> None:
    import io
    import zipfile
    x = mg.arange(12.0).reshape(3, 4)
    buffer = io.BytesIO()
    mg.save({"a": x[:, 1], "b": x[2]}, buffer)
    buffer.seek(0)
    loaded = mg.load(buffer)
    loaded["b"][1] = 100.0   # x[2, 1] is also a[2]
    assert loaded["a"].tolist() == [1.0, 5.0, 100.0]
    again = io.BytesIO()   # a loaded view saves as a view again
    mg.save(loaded, again)
    again.seek(0)
    assert mg.load(again)["a"].stride() == (4,)
    names = zipfile.ZipFile(again).namelist()
    assert "__minigrad__/storage/0.npy" in names and len(names) == 4
    buffer.seek(0)   # the storage member with no view naming it: an edited archive, refused
    edited = io.BytesIO()
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(edited, "w") as target:
        for name in source.namelist():
            target.writestr(name, source.read(name))
        target.writestr("__minigrad__/storage/1.npy", source.read("__minigrad__/storage/0.npy"))
    edited.seek(0)
    with pytest.raises(mg.CheckpointError, match="does not use"):
        mg.load(edited)
