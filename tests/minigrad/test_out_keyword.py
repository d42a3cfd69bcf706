"""PyTorch's ``out=`` keyword (minigrad/outputs.py) against torch.

Each case is ``fn(lib, out)`` in PyTorch's spelling with ``out`` made by ``make_out(lib)``, run with lib =
minigrad and lib = torch on the same float64 values: the returned object is ``out`` itself (each tensor of a
``(values, indices)`` pair), with torch's values, dtype and shape, and a resize warning exactly where torch
gives one. Then the refusals: a result that cannot go into out's dtype, autograd (an input or out that
requires grad), and a backward that saved out's old values.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

RNG = np.random.default_rng(5)
X23, Y23, P23 = RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3)), RNG.uniform(0.5, 2.0, (2, 3))
B234, B243 = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 4, 3))
HALVES = np.array([[1.5, 1.5, -0.7], [0.6, 0.6, 0.6]])   # sum/cumsum into int64 cast first, as torch


def _t(lib: Any, array: np.ndarray, dtype: str | None = None) -> Any:
    data = lib.tensor(array)
    return data if dtype is None else data.to(getattr(lib, dtype))


def _out(shape: tuple, dtype: str = "float64") -> Callable:
    return lambda lib: lib.empty(shape, dtype=getattr(lib, dtype))


def _pair(shape: tuple, dtype: str = "float64") -> Callable:
    return lambda lib: (lib.empty(shape, dtype=getattr(lib, dtype)), lib.empty(shape, dtype=lib.int64))


# name: (fn(lib, out), make_out(lib)); a wrong or empty out shape checks the resize (and its warning)
CASES: dict[str, tuple[Callable, Callable]] = {
    # creation: out's dtype
    "arange_long": (lambda t, o: t.arange(0, 5, out=o), _out((5,), "int64")),
    "arange_float_bounds_long": (lambda t, o: t.arange(0.0, 3.7, 1.5, out=o), _out((3,), "int64")),
    "arange_resized": (lambda t, o: t.arange(0, 5, out=o), _out((3,), "float32")),
    "arange_from_empty": (lambda t, o: t.arange(1, 4, out=o), _out((0,), "float64")),
    "linspace_long": (lambda t, o: t.linspace(0, 1, 5, out=o), _out((5,), "int64")),
    "logspace": (lambda t, o: t.logspace(0, 2, 3, out=o), _out((3,), "int64")),
    "zeros_int32": (lambda t, o: t.zeros(2, 3, out=o), _out((1,), "int32")),
    "ones_bool": (lambda t, o: t.ones((2,), out=o), _out((2,), "bool")),
    "full_long": (lambda t, o: t.full((2, 2), 1.5, out=o), _out((2, 2), "int64")),
    "eye_int32": (lambda t, o: t.eye(2, 3, out=o), _out((0,), "int32")),
    "empty_uninitialised": (lambda t, o: t.empty(2, 3, out=o), _out((6,), "int64")),   # values not compared
    # pointwise
    "add_alpha": (lambda t, o: t.add(_t(t, X23), _t(t, Y23), alpha=2, out=o), _out((2, 3))),
    "add_into_wider": (lambda t, o: t.add(_t(t, X23, "float32"), 1, out=o), _out((2, 3), "float64")),
    "add_long_into_float": (lambda t, o: t.add(_t(t, X23, "int64"), 1, out=o), _out((2, 3), "float32")),
    "sub": (lambda t, o: t.sub(_t(t, X23), _t(t, Y23), out=o), _out((2, 3))),
    "mul_broadcast_resized": (lambda t, o: t.mul(_t(t, X23), _t(t, Y23[0]), out=o), _out((3,))),
    "div": (lambda t, o: t.div(_t(t, X23), _t(t, P23), out=o), _out((2, 3))),
    "div_floor": (lambda t, o: t.div(_t(t, X23), 0.5, rounding_mode="floor", out=o), _out((2, 3))),
    "pow": (lambda t, o: t.pow(_t(t, X23), 2, out=o), _out((2, 3))),
    "pow_scalar_base": (lambda t, o: t.pow(2, _t(t, X23), out=o), _out((2, 3))),
    "abs": (lambda t, o: t.abs(_t(t, X23), out=o), _out((2, 3))),
    "exp": (lambda t, o: t.exp(_t(t, X23), out=o), _out((2, 3))),
    "exp_long_into_float": (lambda t, o: t.exp(_t(t, X23, "int64"), out=o), _out((2, 3), "float32")),
    "log": (lambda t, o: t.log(_t(t, P23), out=o), _out((2, 3))),
    "sqrt": (lambda t, o: t.sqrt(_t(t, P23), out=o), _out((0,))),
    "clamp": (lambda t, o: t.clamp(_t(t, X23), -0.5, 0.5, out=o), _out((2, 3))),
    "where": (lambda t, o: t.where(_t(t, X23) > 0, _t(t, X23), _t(t, Y23), out=o), _out((2, 3))),
    "tanh_into_float32_resized": (lambda t, o: t.tanh(_t(t, X23), out=o), _out((3,), "float32")),
    "tanh_long_into_float": (lambda t, o: t.tanh(_t(t, X23, "int64"), out=o), _out((2, 3), "float32")),
    "maximum": (lambda t, o: t.maximum(_t(t, X23), _t(t, Y23), out=o), _out((0,))),
    "maximum_long_into_int32": (lambda t, o: t.maximum(_t(t, X23, "int64"), _t(t, Y23, "int64"), out=o),
                                _out((2, 3), "int32")),
    "atan2": (lambda t, o: t.atan2(_t(t, X23), _t(t, Y23), out=o), _out((2, 3), "float32")),
    "lerp_scalar_weight": (lambda t, o: t.lerp(_t(t, X23), _t(t, Y23), 0.7, out=o), _out((2,), "float32")),
    "lerp_tensor_weight": (lambda t, o: t.lerp(_t(t, X23), _t(t, Y23), _t(t, P23), out=o), _out((2, 3))),
    "addcmul": (lambda t, o: t.addcmul(_t(t, X23), _t(t, Y23), _t(t, P23), value=2, out=o), _out((3,))),
    "addcmul_long_into_float": (lambda t, o: t.addcmul(*[_t(t, X23, "int64")] * 3, out=o), _out((2, 3), "float32")),
    # reductions and scans
    "sum_dim": (lambda t, o: t.sum(_t(t, X23), 1, out=o), _out((2,))),
    "sum_keepdim_resized": (lambda t, o: t.sum(_t(t, X23), 0, keepdim=True, out=o), _out((5,))),
    "sum_into_long": (lambda t, o: t.sum(_t(t, HALVES), 1, out=o), _out((2,), "int64")),
    "sum_dtype": (lambda t, o: t.sum(_t(t, X23, "float32"), 1, dtype=t.float64, out=o), _out((2,))),
    "mean": (lambda t, o: t.mean(_t(t, X23), 0, out=o), _out((3,))),
    "mean_into_float32": (lambda t, o: t.mean(_t(t, X23), (0, 1), out=o), _out((), "float32")),
    "cumsum": (lambda t, o: t.cumsum(_t(t, X23), 1, out=o), _out((2, 3))),
    "cumsum_into_long": (lambda t, o: t.cumsum(_t(t, HALVES), 1, out=o), _out((2, 3), "int64")),
    "max_dim": (lambda t, o: t.max(_t(t, X23), 1, out=o), _pair((2,))),
    "min_dim_keepdim": (lambda t, o: t.min(_t(t, X23), 0, keepdim=True, out=o), _pair((0,))),
    "max_elementwise": (lambda t, o: t.max(_t(t, X23), _t(t, Y23), out=o), _out((2, 3))),
    "max_all": (lambda t, o: t.max(_t(t, X23), out=o), _out(())),
    "sort": (lambda t, o: t.sort(_t(t, X23), 1, descending=True, out=o), _pair((2, 3))),
    "topk": (lambda t, o: t.topk(_t(t, X23), 2, dim=1, out=o), _pair((0,))),
    # joining, indexing, products
    "cat": (lambda t, o: t.cat([_t(t, X23), _t(t, Y23)], 1, out=o), _out((2, 6))),
    "concat_resized": (lambda t, o: t.concat([_t(t, X23), _t(t, Y23)], out=o), _out((2, 3))),
    "cat_into_wider": (lambda t, o: t.cat([_t(t, X23, "float32")], out=o), _out((2, 3), "float64")),
    "stack": (lambda t, o: t.stack([_t(t, X23), _t(t, Y23)], dim=1, out=o), _out((2, 2, 3))),
    "index_select": (lambda t, o: t.index_select(_t(t, X23), 1, t.tensor([2, 0, 2]), out=o), _out((2, 3))),
    "gather": (lambda t, o: t.gather(_t(t, X23), 1, t.tensor([[0, 0], [2, 1]]), out=o), _out((2, 2))),
    "matmul": (lambda t, o: t.matmul(_t(t, X23), _t(t, Y23).T, out=o), _out((2, 2))),
    "mm": (lambda t, o: t.mm(_t(t, X23), _t(t, Y23).T, out=o), _out((2, 2))),
    "bmm_resized": (lambda t, o: t.bmm(_t(t, B234), _t(t, B243), out=o), _out((1,))),
}

RANDOM: dict[str, tuple[Callable, Callable]] = {   # shape, dtype and range only
    "rand": (lambda t, o: t.rand(2, 3, out=o), _out((2, 3))),
    "randn_resized": (lambda t, o: t.randn(4, out=o), _out((2,), "float32")),
    "randint_into_float": (lambda t, o: t.randint(0, 5, (3,), out=o), _out((3,))),
    "randperm_into_float": (lambda t, o: t.randperm(4, out=o), _out((4,), "float32")),
}


def _run(lib: Any, fn: Callable, make_out: Callable) -> tuple[Any, Any, list]:
    out = make_out(lib)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(lib, out)
    resized = [w for w in caught if "resized" in str(w.message)]
    return out, result, resized


def _same_objects(out: Any, result: Any) -> None:
    if isinstance(out, tuple):
        assert isinstance(result, tuple) and len(result) == 2
        assert result[0] is out[0] and result[1] is out[1]
        assert result.values is out[0] and result.indices is out[1]
    elif isinstance(result, mg.Tensor):
        assert result is out


@pytest.mark.parametrize("name", sorted(CASES))
def test_out_gets_torchs_result(name: str, torch: Any) -> None:
    fn, make_out = CASES[name]
    out, result, resized = _run(mg, fn, make_out)
    torch_out, _, torch_resized = _run(torch, fn, make_out)
    _same_objects(out, result)
    assert bool(resized) == bool(torch_resized), f"resize warnings: {resized} vs torch's {torch_resized}"
    for mine, theirs in zip(out if isinstance(out, tuple) else (out,),
                            torch_out if isinstance(torch_out, tuple) else (torch_out,)):
        assert str(mine.dtype) == str(theirs.dtype).replace("torch.", "")
        assert mine.shape == tuple(theirs.shape)
        if not name.startswith("empty"):
            np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(RANDOM))
def test_random_functions_draw_into_out(name: str, torch: Any) -> None:
    fn, make_out = RANDOM[name]
    out, result, resized = _run(mg, fn, make_out)
    torch_out, _, torch_resized = _run(torch, fn, make_out)
    assert result is out and bool(resized) == bool(torch_resized)
    assert str(out.dtype) == str(torch_out.dtype).replace("torch.", "") and out.shape == tuple(torch_out.shape)
    if name.startswith("rand") and name[4:5] in ("i", "p"):
        assert out.numpy().min() >= 0 and out.numpy().max() < 5


# calls torch refuses for out's dtype: (fn(lib), make_out(lib))
REFUSED: dict[str, tuple[Callable, Callable]] = {
    "add_float_into_long": (lambda t, o: t.add(_t(t, X23), 1, out=o), _out((2, 3), "int64")),
    "add_long_into_bool": (lambda t, o: t.add(_t(t, X23, "int64"), 1, out=o), _out((2, 3), "bool")),
    "div_long_into_long": (lambda t, o: t.div(_t(t, X23, "int64"), 2, out=o), _out((2, 3), "int64")),
    "mean_into_long": (lambda t, o: t.mean(_t(t, X23), 0, out=o), _out((3,), "int64")),
    "exp_into_long": (lambda t, o: t.exp(_t(t, X23), out=o), _out((2, 3), "int64")),
    "tanh_long_into_long": (lambda t, o: t.tanh(_t(t, X23, "int64"), out=o), _out((2, 3), "int64")),
    "maximum_float_into_bool": (lambda t, o: t.maximum(_t(t, X23), _t(t, Y23), out=o), _out((2, 3), "bool")),
    "atan2_into_long": (lambda t, o: t.atan2(_t(t, X23), _t(t, Y23), out=o), _out((2, 3), "int64")),
    "lerp_tensor_weight_other_float": (lambda t, o: t.lerp(_t(t, X23), _t(t, Y23), _t(t, P23), out=o),
                                       _out((2, 3), "float32")),
    "addcmul_into_long": (lambda t, o: t.addcmul(_t(t, X23), _t(t, Y23), _t(t, P23), out=o), _out((2, 3), "int64")),
    "cat_into_long": (lambda t, o: t.cat([_t(t, X23)], out=o), _out((2, 3), "int64")),
    "mm_other_float": (lambda t, o: t.mm(_t(t, X23, "float32"), _t(t, Y23, "float32").T, out=o), _out((2, 2))),
    "abs_other_float": (lambda t, o: t.abs(_t(t, X23, "float32"), out=o), _out((2, 3))),
    "gather_other_float": (lambda t, o: t.gather(_t(t, X23), 1, t.tensor([[0], [1]]), out=o), _out((2, 1), "float32")),
    "index_select_other": (lambda t, o: t.index_select(_t(t, X23), 0, t.tensor([1]), out=o), _out((1, 3), "float32")),
    "where_other_float": (lambda t, o: t.where(_t(t, X23) > 0, _t(t, X23), 0.0, out=o), _out((2, 3), "float32")),
    "max_float_indices": (lambda t, o: t.max(_t(t, X23), 1, out=o), lambda t: (t.empty(2, dtype=t.float64),) * 2),
    "sort_other_values": (lambda t, o: t.sort(_t(t, X23), out=o), _pair((2, 3), "float32")),
    "sum_dtype_mismatch": (lambda t, o: t.sum(_t(t, X23), 0, dtype=t.float64, out=o), _out((3,), "float32")),
    "zeros_dtype_mismatch": (lambda t, o: t.zeros(2, dtype=t.float64, out=o), _out((2,), "float32")),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_result_out_cannot_hold_is_refused_as_torch(name: str, torch: Any) -> None:
    fn, make_out = REFUSED[name]
    with pytest.raises((RuntimeError, TypeError)):
        fn(torch, make_out(torch))
    with pytest.raises(RuntimeError, match=name.split("_")[0]):   # our error is also a RuntimeError
        fn(mg, make_out(mg))


AUTOGRAD_ERROR = r"functions with out=\.\.\. arguments don't support automatic differentiation"
GRAD_CALLS: dict[str, Callable] = {   # fn(lib, x, out) with x requiring grad
    "exp": lambda t, x, o: t.exp(x, out=o),
    "add": lambda t, x, o: t.add(x, 1, out=o),
    "mul": lambda t, x, o: t.mul(x, x, out=o),
    "matmul": lambda t, x, o: t.matmul(x, x.T[:, :2], out=o),
    "cat": lambda t, x, o: t.cat([x], out=o),
    "where": lambda t, x, o: t.where(x > 0, x, x, out=o),
    "sum": lambda t, x, o: t.sum(x, 1, out=o),
    "max": lambda t, x, o: t.max(x, 1, out=(o, t.empty(0, dtype=t.int64))),
    "clamp": lambda t, x, o: t.clamp(x, 0, 1, out=o),
    "tanh": lambda t, x, o: t.tanh(x, out=o),
    "maximum": lambda t, x, o: t.maximum(x, x.detach(), out=o),
    "atan2": lambda t, x, o: t.atan2(x, x, out=o),
    "lerp": lambda t, x, o: t.lerp(x.detach(), x, 0.5, out=o),
    "addcmul": lambda t, x, o: t.addcmul(x, x, x, out=o),
}


@pytest.mark.parametrize("name", sorted(GRAD_CALLS))
def test_out_refuses_autograd_as_torch(name: str, torch: Any) -> None:
    fn = GRAD_CALLS[name]
    for lib in (torch, mg):
        x = lib.tensor(X23, requires_grad=True)
        with pytest.raises(RuntimeError, match=rf"^{name}\(\): {AUTOGRAD_ERROR}"):
            fn(lib, x, lib.empty(0, dtype=lib.float64))
        with lib.no_grad():   # nothing is recorded: allowed
            out = lib.empty(0, dtype=lib.float64)
            fn(lib, x, out)
            assert not out.requires_grad


def test_an_out_that_requires_grad_is_refused_under_grad_mode(torch: Any) -> None:
    for lib in (torch, mg):
        for call in (lambda t, o: t.exp(t.ones(2), out=o), lambda t, o: t.zeros(2, out=o)):
            with pytest.raises(RuntimeError, match=AUTOGRAD_ERROR):
                call(lib, lib.ones(2, requires_grad=True))
            with lib.no_grad():
                call(lib, lib.ones(2, requires_grad=True))


def test_writing_out_bumps_its_version() -> None:
    x = mg.tensor(X23, requires_grad=True)
    y = x.exp()   # Exp's backward reads its output y
    before = y._version
    mg.add(mg.ones(2, 3), 1, out=y.detach())   # the same memory as y
    assert y._version > before
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_out_takes_a_view_and_writes_through_it() -> None:
    base = mg.zeros(2, 2, dtype=mg.float64)
    column = base[:, 0]
    assert mg.exp(mg.zeros(2, dtype=mg.float64), out=column) is column
    np.testing.assert_array_equal(base.numpy(), [[1, 0], [1, 0]])


def test_out_must_be_tensors() -> None:
    with pytest.raises(TypeError, match="argument 'out' must be Tensor, not ndarray"):
        mg.exp(mg.ones(2), out=np.empty(2))
    with pytest.raises(TypeError, match="out must be a tuple of 2 Tensors"):
        mg.sort(mg.ones(2), out=mg.empty(2))
    with pytest.raises(TypeError, match="argument 'out' must be Tensor"):
        mg.arange(3, out=[0, 0, 0])


def test_tacotron_mask_from_lengths() -> None:
    """NVIDIA Tacotron 2's get_mask_from_lengths, unchanged but for the import (torch.cuda.LongTensor there)."""
    lengths = mg.tensor([3, 1, 2])
    max_len = int(mg.max(lengths).item())
    ids = mg.arange(0, max_len, out=mg.LongTensor(max_len))
    mask = (ids < lengths.unsqueeze(1)).bool()
    np.testing.assert_array_equal(mask.numpy(), [[1, 1, 1], [1, 0, 0], [1, 1, 0]])


def test_operators_take_no_out_test() -> None:
    """``a * b``, ``a ** b``, ``a @ b``, ``abs(a)`` bind functions without ``out=`` (no per-call test)."""
    for operator in ("__mul__", "__rmul__", "__pow__", "__matmul__", "__abs__", "__add__", "__truediv__"):
        assert "out" not in inspect.signature(getattr(mg.Tensor, operator)).parameters, operator
    x = mg.tensor(X23)
    np.testing.assert_allclose((x * x + abs(x) ** 2 - 2 * x.pow(2)).numpy(), 0, atol=1e-12)


@pytest.mark.gpu
def test_out_on_the_gpu() -> None:
    x = mg.tensor(X23, device="cuda")
    out = mg.empty(0, dtype=mg.float32, device="cuda")
    assert mg.add(x, 1, out=out) is out and out.device == x.device and out.dtype == mg.float32
    np.testing.assert_allclose(out.numpy(), X23 + 1, rtol=1e-6)
    ids = mg.arange(0, 3, out=mg.empty(3, dtype=mg.int64, device="cuda"))
    assert ids.device == x.device and ids.numpy().tolist() == [0, 1, 2]
    values, indices = mg.max(x, 1, out=(mg.empty(2, dtype=mg.float64, device="cuda"),
                                        mg.empty(2, dtype=mg.int64, device="cuda")))
    np.testing.assert_array_equal(indices.numpy(), X23.argmax(1))
    with pytest.raises(ValueError, match="out is on cpu"):
        mg.exp(x, out=mg.empty(2, 3, dtype=mg.float64))
