"""PyTorch's spellings give PyTorch's results (DESIGN §3): the same code run with ``mg`` and with ``torch``.

Each case is ``fn(lib, *tensors)`` written once in PyTorch's spelling; it runs
with ``lib = minigrad`` and ``lib = torch`` on the same float64 values, and the
outputs (values, indices, dtypes) and the input gradients must agree. Every
differentiable case also passes ``mg.gradcheck`` (the tests of such a table: ``case_tests`` and its
neighbours in tests/helpers.py). NumPy's keywords (``axis=``, ``keepdims=``, ``ddof=``) keep NumPy's
results: tested at the end.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
from helpers import assert_close, case_tests, drawn_case_tests, gpu_case_tests

import minigrad as mg

RNG = np.random.default_rng(12)


def _normal(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)


# --- the cases: name → (fn(lib, *tensors), arrays) ------------------------------------------------

X34, X234, X53, X314 = _normal(3, 4), _normal(2, 3, 4), _normal(5, 3), _normal(3, 1, 4)
TIES = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, -1.0, 2.0], [0.0, 0.0, 0.0, 0.0]])
MASK = np.array([[True, False, False, True]])
INDEX = np.array([[0, 3], [1, 1], [2, 0]])

CASES: dict[str, tuple[Callable, tuple]] = {
    # transpose and friends
    "transpose_2d_swaps": (lambda t, x: x.transpose(0, 1), (X34,)),
    "transpose_2d_reversed_args": (lambda t, x: x.transpose(1, 0), (X34,)),
    "transpose_function": (lambda t, x: t.transpose(x, 0, 1), (X34,)),
    "transpose_3d_swap": (lambda t, x: x.transpose(0, 2), (X234,)),
    "transpose_negative_dims": (lambda t, x: x.transpose(-1, 1), (X234,)),
    "permute": (lambda t, x: x.permute(2, 0, 1), (X234,)),
    "permute_tuple": (lambda t, x: x.permute((1, 2, 0)), (X234,)),
    "permute_function": (lambda t, x: t.permute(x, (2, 0, 1)), (X234,)),
    "T_2d": (lambda t, x: x.T, (X34,)),
    "mT": (lambda t, x: x.mT, (X234,)),
    "t_2d": (lambda t, x: x.t(), (X34,)),
    "t_1d": (lambda t, x: x[0].t(), (X34,)),
    # shapes
    "view_ints": (lambda t, x: x.view(4, 3), (X34,)),
    "view_tuple_minus_one": (lambda t, x: x.view((2, -1)), (X34,)),
    "reshape_ints": (lambda t, x: x.reshape(3, 2, 2), (X34,)),
    "reshape_tuple": (lambda t, x: t.reshape(x, (12,)), (X34,)),
    "narrow": (lambda t, x: x.narrow(1, 1, 2) * t.narrow(x, 0, -2, 2).sum(), (X34,)),
    "flatten": (lambda t, x: x.flatten(), (X234,)),
    "flatten_start": (lambda t, x: x.flatten(1), (X234,)),
    "flatten_range": (lambda t, x: t.flatten(x, start_dim=0, end_dim=1), (X234,)),
    "unsqueeze": (lambda t, x: x.unsqueeze(0) * x.unsqueeze(-1).sum(), (X34,)),
    "unsqueeze_function": (lambda t, x: t.unsqueeze(x, 1), (X34,)),
    "squeeze_dim": (lambda t, x: x.squeeze(1), (X314,)),
    "squeeze_dim_not_one_is_a_no_op": (lambda t, x: x.squeeze(0), (X314,)),
    "squeeze_all": (lambda t, x: x.squeeze(), (X314,)),
    "squeeze_function": (lambda t, x: t.squeeze(x, dim=1), (X314,)),
    "expand": (lambda t, x: x.expand(3, 1, 4).expand(2, -1, 5, -1), (X314,)),
    "expand_tuple": (lambda t, x: x[:, :, :1].expand((3, 2, 1)), (X314,)),
    "repeat": (lambda t, x: x.repeat(2, 3), (X34,)),
    "repeat_new_dims": (lambda t, x: x.repeat(2, 1, 2), (X34,)),
    "clone": (lambda t, x: x.clone() * 2, (X34,)),
    "contiguous": (lambda t, x: x.t().contiguous(), (X34,)),
    "detach": (lambda t, x: x.detach() * x, (X34,)),
    # joining and splitting
    "cat_dim": (lambda t, a, b: t.cat([a, b], dim=1), (X34, _normal(3, 2))),
    "cat_positional_tuple": (lambda t, a, b: t.cat((a, b), 1), (X34, _normal(3, 2))),
    "cat_default_dim": (lambda t, a, b: t.cat([a, b]), (X34, _normal(2, 4))),
    "concat_alias": (lambda t, a, b: t.concat([a, b], dim=-1), (X34, _normal(3, 2))),
    "stack_dim": (lambda t, a, b: t.stack([a, b], dim=1), (X34, _normal(3, 4))),
    "stack_default": (lambda t, a, b: t.stack((a, b)), (X34, _normal(3, 4))),
    "chunk_method": (lambda t, x: x.chunk(3, dim=1), (X34,)),
    "chunk_function": (lambda t, x: t.chunk(x, 2), (X53,)),
    "unbind": (lambda t, x: x.unbind(1), (X34,)),
    "unbind_function": (lambda t, x: t.unbind(x), (X34,)),
    "split_size": (lambda t, x: x.split(2), (X53,)),
    "split_sizes_dim": (lambda t, x: t.split(x, [2, 3], dim=0), (X53,)),
    "split_sizes_method": (lambda t, x: x.split([1, 2], dim=1), (X53,)),
    "split_positional_dim": (lambda t, x: x.split(2, 1), (X53,)),
    # selection
    "masked_fill": (lambda t, x: x.masked_fill(x > 0.3, 0.0), (X34,)),
    "masked_fill_broadcast_mask": (lambda t, x, m: x.masked_fill(m, -1e9).softmax(-1), (X34, MASK)),
    "masked_fill_function": (lambda t, x, m: t.masked_fill(x, m, 2.5), (X34, MASK)),
    "gather": (lambda t, x, i: x.gather(1, i), (X34, INDEX)),
    "gather_function": (lambda t, x, i: t.gather(x, 1, i[:, :1]), (X34, INDEX)),
    "sort": (lambda t, x: x.sort(1), (X34,)),
    "sort_descending_function": (lambda t, x: t.sort(x, dim=0, descending=True), (X34,)),
    "sort_ties": (lambda t, x: x.sort(dim=1, stable=True), (TIES,)),
    "argsort": (lambda t, x: x.argsort(dim=0, descending=True), (X34,)),
    "index_select": (lambda t, x, i: x.index_select(1, i[:, 0]), (X34, INDEX)),
    "index_select_function": (lambda t, x, i: t.index_select(x, 0, i[[0, 0, 2], 0]), (X34, INDEX)),
    "all_any": (lambda t, x: (t.all(x > -5), (x > 0).any(1), (x > 0).all(dim=0, keepdim=True)), (X34,)),
    "comparison_methods": (lambda t, x: (x.eq(x[0]), x.ne(0), x.gt(0.1), x.lt(x.t().t()), x.ge(0), x.le(0)), (X34,)),
    "method_arithmetic": (lambda t, a, b: a.add(b, alpha=2).sub(b, alpha=0.5).mul(b).div(b.exp()).pow(2).neg(),
                          (X34, _normal(3, 4))),
    "mm": (lambda t, a, b: a.mm(b), (X34, _normal(4, 2))),
    "as_shapes": (lambda t, a, b: a.view_as(b).reshape_as(a).mean(1, keepdim=True).expand_as(a), (X34, _normal(4, 3))),
    # reductions with dim / keepdim
    "sum_dim": (lambda t, x: x.sum(1), (X234,)),
    "sum_dim_keepdim": (lambda t, x: x.sum(dim=0, keepdim=True), (X234,)),
    "sum_dims_tuple": (lambda t, x: t.sum(x, (0, 2)), (X234,)),
    "mean_keepdim": (lambda t, x: x.mean(-1, keepdim=True), (X234,)),
    "mean_dims": (lambda t, x: x.mean(dim=(0, 2)), (X234,)),
    "max_dim": (lambda t, x: x.max(1), (X34,)),
    "max_dim_keyword_keepdim": (lambda t, x: x.max(dim=0, keepdim=True), (X34,)),
    "max_dim_ties": (lambda t, x: x.max(1), (TIES,)),
    "max_function_dim": (lambda t, x: t.max(x, -1), (X234,)),
    "min_dim": (lambda t, x: x.min(1), (X34,)),
    "min_dim_ties": (lambda t, x: x.min(dim=1), (TIES,)),
    "max_all": (lambda t, x: x.max(), (TIES,)),
    "min_all": (lambda t, x: t.min(x), (TIES,)),
    "max_elementwise": (lambda t, a, b: t.max(a, b), (X34, _normal(3, 4))),
    "amax": (lambda t, x: x.amax(1), (TIES,)),
    "amax_dims": (lambda t, x: t.amax(x, dim=(0, 1)), (TIES,)),
    "amin_keepdim": (lambda t, x: x.amin(0, keepdim=True), (TIES,)),
    "argmax": (lambda t, x: x.argmax(1), (TIES,)),
    "argmax_flat": (lambda t, x: x.argmax(), (X234,)),
    "argmax_keepdim": (lambda t, x: x.argmax(dim=0, keepdim=True), (X34,)),
    "argmin": (lambda t, x: t.argmin(x, 1), (TIES,)),
    "topk": (lambda t, x: x.topk(2), (X34,)),
    "topk_dim": (lambda t, x: x.topk(2, dim=0), (X34,)),
    "topk_smallest": (lambda t, x: t.topk(x, 3, largest=False), (X34,)),
    "topk_3d": (lambda t, x: x.topk(1, dim=1, largest=True, sorted=True), (X234,)),
    "var_default_unbiased": (lambda t, x: x.var(), (X34,)),
    "var_dim": (lambda t, x: x.var(1), (X34,)),
    "var_dim_keepdim": (lambda t, x: x.var(dim=0, keepdim=True), (X34,)),
    "var_unbiased_false": (lambda t, x: x.var(1, unbiased=False), (X34,)),
    "var_unbiased_positional": (lambda t, x: x.var(1, False), (X34,)),
    "var_correction": (lambda t, x: t.var(x, 0, correction=0), (X34,)),
    "var_correction_two": (lambda t, x: x.var(dim=(0, 1), correction=2), (X234,)),
    "std": (lambda t, x: x.std(), (X34,)),
    "std_dim_keepdim": (lambda t, x: x.std(1, keepdim=True), (X34,)),
    "std_function": (lambda t, x: t.std(x, 0, unbiased=False), (X34,)),
    "logsumexp": (lambda t, x: x.logsumexp(1), (X234,)),
    "logsumexp_keepdim": (lambda t, x: t.logsumexp(x, dim=-1, keepdim=True), (X234,)),
    "softmax": (lambda t, x: x.softmax(1), (X234,)),
    "softmax_dim": (lambda t, x: t.softmax(x, dim=0), (X34,)),
    "log_softmax": (lambda t, x: x.log_softmax(dim=-1), (X234,)),
    "log_softmax_function": (lambda t, x: t.log_softmax(x, 1), (X34,)),
    "norm": (lambda t, x: x.norm(), (X34,)),
    "norm_dim": (lambda t, x: x.norm(dim=1), (X34,)),
    "norm_p1_keepdim": (lambda t, x: x.norm(p=1, dim=0, keepdim=True), (X34,)),
    "norm_inf": (lambda t, x: x.norm(p=float("inf"), dim=1), (X34,)),
    "norm_p3": (lambda t, x: x.norm(3), (X34,)),
    "norm_function": (lambda t, x: t.norm(x, 2, 1), (X234,)),
    # math
    "sin": (lambda t, x: x.sin(), (X34,)),
    "cos": (lambda t, x: t.cos(x), (X34,)),
    "bmm": (lambda t, a, b: t.bmm(a, b), (X234, _normal(2, 4, 5))),
    "bmm_method": (lambda t, a, b: a.bmm(b), (X234, _normal(2, 4, 2))),
    "clamp": (lambda t, x: x.clamp(-0.5, 0.5) + t.clamp(x, min=0.1), (X34,)),
}


# kinks at ties (finite differences do not apply; the torch comparison covers them), and detach, whose
# output shares the input's memory, so gradcheck's in-place perturbation moves it too; argmax/argmin
# have no gradient
NO_GRADCHECK = {name for name, (_, arrays) in CASES.items() if any(a is TIES for a in arrays)} | {
    "norm_inf", "detach"} | {name for name in CASES if name.startswith("arg")}


test_same_as_torch, test_gradcheck = case_tests(CASES, no_gradcheck=NO_GRADCHECK)


def test_max_with_dim_returns_values_and_indices(torch: Any) -> None:
    """The silent trap: `v, i = x.max(1)` unpacked rows when the batch was 2."""
    x = mg.tensor(np.array([[0.5, 2.0, -1.0, 2.0, 0.1], [3.0, 1.0, 3.0, 0.0, -2.0]]), requires_grad=True)
    v, i = x.max(1)
    assert v.shape == (2,) and i.shape == (2,) and i.dtype == mg.int64
    result = x.max(dim=1)
    assert result.values is result[0] and result.indices is result[1]
    tv, ti = torch.from_numpy(x.numpy()).max(1)
    assert v.numpy().tolist() == tv.tolist() and i.numpy().tolist() == ti.tolist() == [1, 0]
    v.sum().backward()   # the gradient goes to the index, not shared among the ties
    assert x.grad.numpy().tolist() == [[0, 1, 0, 0, 0], [1, 0, 0, 0, 0]]


def test_transpose_on_2d_swaps() -> None:
    """The silent trap: transpose(0, 1) of a 2-D tensor was NumPy's identity permutation."""
    x = mg.tensor(np.arange(6.0).reshape(2, 3))
    assert x.transpose(0, 1).shape == (3, 2)
    np.testing.assert_array_equal(x.transpose(0, 1).numpy(), x.numpy().T)
    np.testing.assert_array_equal(mg.transpose(x, 1, 0).numpy(), x.numpy().T)


def test_size_is_a_method_and_numel_counts(torch: Any) -> None:
    """The silent trap: `x.size` was the element count, so `x.size(0)` failed."""
    x = mg.zeros(2, 3, 4)
    tx = torch.zeros(2, 3, 4)
    assert x.size() == (2, 3, 4) == tuple(tx.size()) and isinstance(x.size(), tuple)
    assert x.size(0) == 2 and x.size(-1) == 4 and x.size(1) == tx.size(1)
    assert x.numel() == 24 == tx.numel() and x.dim() == 3 == tx.dim() and x.ndimension() == 3
    assert x.size().numel() == 24 and x.size()[1:] == (3, 4) and isinstance(x.size()[1:], mg.Size)
    assert repr(x.size()) == "mg.Size([2, 3, 4])"
    with pytest.raises(IndexError, match="size"):
        x.size(3)
    assert mg.numel(x) == 24


# --- creation and dtypes -------------------------------------------------------------------------

def test_dtype_names_and_casts_match_torch(torch: Any) -> None:
    for name in ("long", "int", "float", "double", "bool", "half", "float32", "float64", "int64", "int32"):
        ours, theirs = getattr(mg, name), getattr(torch, name)
        assert mg.zeros(2, dtype=ours).dtype == torch.zeros(2, dtype=theirs).numpy().dtype, name
    x = mg.tensor([[1.5, -2.0], [0.0, 3.7]])
    tx = torch.tensor([[1.5, -2.0], [0.0, 3.7]])
    for method in ("long", "int", "float", "double", "bool", "half"):
        ours, theirs = getattr(x, method)(), getattr(tx, method)()
        assert ours.dtype == theirs.numpy().dtype, method
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert x.type_as(mg.zeros(1, dtype=mg.long)).dtype == mg.int64
    assert x.to(mg.float64).dtype == mg.float64 and x.to(dtype=mg.double).dtype == mg.float64
    assert x.to(mg.zeros(1, dtype=mg.long)).dtype == mg.int64 == tx.to(torch.zeros(1, dtype=torch.long)).numpy().dtype
    # the gradient passes through a float cast, as in PyTorch
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    w.double().sum().backward()
    assert w.grad.dtype == mg.float32 and w.grad.numpy().tolist() == [1.0, 1.0]


def test_creation_functions_match_torch(torch: Any) -> None:
    x = mg.tensor(np.arange(6.0).reshape(2, 3))
    tx = torch.from_numpy(np.arange(6.0).reshape(2, 3))
    pairs = [
        (mg.arange(5), torch.arange(5)),
        (mg.arange(1, 7, 2), torch.arange(1, 7, 2)),
        (mg.arange(0.0, 1.0, 0.25), torch.arange(0.0, 1.0, 0.25)),
        (mg.linspace(0, 1, 5), torch.linspace(0, 1, 5)),
        (mg.linspace(-2.0, 3.0, steps=7, dtype=mg.float64), torch.linspace(-2.0, 3.0, steps=7, dtype=torch.float64)),
        (mg.zeros_like(x), torch.zeros_like(tx)),
        (mg.ones_like(x, dtype=mg.long), torch.ones_like(tx, dtype=torch.long)),
        (mg.full_like(x, 7), torch.full_like(tx, 7)),
        (x.new_zeros(2, 3), tx.new_zeros(2, 3)),
        (x.new_zeros((4,)), tx.new_zeros((4,))),
        (x.new_ones(3), tx.new_ones(3)),
        (x.new_full((2, 2), 3.5), tx.new_full((2, 2), 3.5)),
        (x.new_tensor([1, 2, 3]), tx.new_tensor([1, 2, 3])),
        (x.new_empty(2, 5).zero_(), tx.new_empty(2, 5).zero_()),
    ]
    for i, (ours, theirs) in enumerate(pairs):
        assert ours.dtype == theirs.numpy().dtype, f"case {i}: {ours.dtype} != {theirs.dtype}"
        assert_close(ours, theirs, what=f"case {i}")
    for ours, theirs in ((mg.rand_like(x), torch.rand_like(tx)), (mg.randn_like(x), torch.randn_like(tx))):
        assert ours.shape == tuple(theirs.shape) and ours.dtype == theirs.numpy().dtype
    assert x.new_zeros(2, requires_grad=True).requires_grad


def test_from_numpy_shares_memory(torch: Any) -> None:
    array = np.arange(4.0)
    x = mg.from_numpy(array)
    t = torch.from_numpy(array.copy())
    assert x.dtype == np.float64 == t.numpy().dtype
    array[0] = 10.0
    assert x.numpy()[0] == 10.0   # torch.from_numpy shares memory too
    x.add_(1)
    assert array.tolist() == [11.0, 2.0, 3.0, 4.0]
    with pytest.raises(TypeError, match="from_numpy"):
        mg.from_numpy([1, 2])


# --- NumPy's keywords keep NumPy's results -------------------------------------------------------

def test_numpy_keywords_keep_numpy_meaning() -> None:
    a = np.array([[1.0, 5.0, 5.0], [2.0, 0.0, 7.0]])
    x = mg.tensor(a)
    np.testing.assert_array_equal(x.max(axis=1).numpy(), a.max(axis=1))          # values, not a pair
    np.testing.assert_array_equal(x.min(axis=0, keepdims=True).numpy(), a.min(axis=0, keepdims=True))
    # a dim (positional or dim=) is PyTorch's, and PyTorch takes keepdims= as its keepdim: (values, indices)
    values, indices = mg.max(x, 1, keepdims=True)
    np.testing.assert_array_equal(values.numpy(), a.max(1, keepdims=True))
    np.testing.assert_array_equal(indices.numpy(), a.argmax(1)[:, None])
    np.testing.assert_allclose(x.var(dim=1, keepdims=True).numpy(), a.var(axis=1, ddof=1, keepdims=True))
    np.testing.assert_allclose(x.var(keepdims=True).numpy(), a.var(keepdims=True))   # no dim: NumPy's ddof=0
    np.testing.assert_allclose(x.var(axis=0).numpy(), a.var(axis=0))            # ddof=0
    np.testing.assert_allclose(x.var(axis=None).numpy(), a.var())
    np.testing.assert_allclose(mg.var(x, axis=1, ddof=1).numpy(), a.var(axis=1, ddof=1))
    np.testing.assert_allclose(x.std(axis=1, keepdims=True).numpy(), a.std(axis=1, keepdims=True))
    np.testing.assert_allclose(x.var().numpy(), a.var(ddof=1))                    # PyTorch: correction=1
    parts = mg.split(mg.tensor(np.arange(12.0).reshape(2, 6)), [4], axis=1)       # split points
    assert [p.shape for p in parts] == [(2, 4), (2, 2)]
    assert [p.shape for p in mg.split(mg.zeros(6, 2), 3, axis=0)] == [(2, 2)] * 3   # a count of parts
    assert [p.shape for p in mg.split(mg.zeros(6, 2), 4)] == [(4, 2), (2, 2)]        # PyTorch: part sizes
    y = mg.zeros(2, 3, 4)
    assert y.transpose().shape == (4, 3, 2) and y.transpose(2, 0, 1).shape == (4, 2, 3)
    assert y.transpose((1, 0, 2)).shape == (3, 2, 4) and mg.transpose(y, axes=(2, 1, 0)).shape == (4, 3, 2)
    assert mg.zeros(2, 3).transpose((0, 1)).shape == (2, 3)   # one tuple: NumPy's permutation
    assert mg.concat([y, y], axis=1).shape == (2, 6, 4) and mg.stack([y, y], axis=-1).shape == (2, 3, 4, 2)
    assert x.sum(axis=1, keepdims=True).shape == (2, 1) and x.mean(axis=(0, 1)).shape == ()
    assert mg.zeros(3, 1).squeeze(0).shape == (3, 1)   # PyTorch: a dim that is not 1 is left alone
    with pytest.raises(ValueError, match="squeeze"):
        mg.zeros(3, 1).squeeze(axis=0)                   # NumPy: it raises
    assert mg.softmax(x, axis=0).shape == (2, 3) and x.chunk(3, axis=1)[0].shape == (2, 1)


def test_both_conventions_at_once_is_an_error() -> None:
    x = mg.zeros(2, 3)
    for call in (lambda: x.sum(dim=0, axis=0), lambda: x.max(dim=1, axis=1), lambda: mg.cat([x, x], dim=0, axis=0),
                 lambda: x.mean(0, keepdim=True, keepdims=True), lambda: x.var(0, unbiased=True, ddof=1)):
        with pytest.raises(TypeError, match="not both|one of"):
            call()


@pytest.mark.parametrize("call, error, words", [
    (lambda x: x.split([2, 2]), ValueError, ("split", "sum exactly", "3")),
    (lambda x: x.split(0), ValueError, ("split_size",)),
    (lambda x: x.topk(5), ValueError, ("topk", "5")),
    (lambda x: x.permute(0, 0), ValueError, ("permute",)),
    (lambda x: x.expand(2, 5), ValueError, ("expand",)),
    (lambda x: x.repeat(2), ValueError, ("repeat",)),
    (lambda x: x.flatten(1, 0), ValueError, ("flatten",)),
    (lambda x: x.t().t().mT.reshape(12).t().mT, ValueError, ("mT",)),
    (lambda x: x.max(2), IndexError, ("max",)),
    (lambda x: x.gather(1, mg.tensor([[5]])), IndexError, ("gather",)),
    (lambda x: x.masked_fill(x, 0.0), TypeError, ("masked_fill", "bool")),
    (lambda x: mg.bmm(x, x), ValueError, ("bmm",)),
    (lambda x: x.norm(p="nuc", dim=(0, 1, 2)), ValueError, ("matrix_norm",)),
    (lambda x: mg.zeros(0, 2).max(0), IndexError, ("max", "non-zero")),
])
def test_bad_arguments_raise_naming_the_op(call: Callable, error: type, words: tuple) -> None:
    x = mg.tensor(np.arange(12.0).reshape(3, 4))
    with pytest.raises(error) as info:
        call(x)
    for word in words:
        assert word in str(info.value)


def test_readme_coming_from_pytorch_runs_as_written(capsys: Any) -> None:
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Coming from PyTorch"):]
    section = section[:section.index("\n## ", 4)]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks
    exec(compile(blocks[0], "README.md", "exec"), {})   # noqa: S102 - the README's own code
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "tensor([1, 0])" and lines[2] == "(3, 2)" and lines[3] == "mg.Size([2, 3]) 2 6"
    assert lines[5] == "[(2, 1), (2, 2)] [(2, 1), (2, 2)]"


# --- on the GPU (a real one, or the strict CuPy stand-in of tests/conftest.py) -------------------

test_same_on_gpu_as_on_cpu = gpu_case_tests(CASES)


# --- random shapes and dims (Hypothesis): the dim-taking ops against PyTorch --------------------

DRAWN_CASES: dict[str, Callable] = {
    "transpose": lambda t, x, d, k: x.transpose(d[0], d[1]),
    "max_dim": lambda t, x, d, k: x.max(d[0], keepdim=k),
    "min_dim": lambda t, x, d, k: t.min(x, dim=d[1], keepdim=k),
    "argmax": lambda t, x, d, k: x.argmax(d[0], keepdim=k),
    "topk": lambda t, x, d, k: x.topk(1 + (x.shape[d[0]] - 1) // 2, dim=d[0], largest=k),
    "sort": lambda t, x, d, k: x.sort(d[1], descending=k),
    "var": lambda t, x, d, k: x.var(d[0], keepdim=k) if x.shape[d[0]] > 1 else x.var(d[0], correction=0),
    "std": lambda t, x, d, k: x.std(dim=d[1], keepdim=k, unbiased=k and x.shape[d[1]] > 1),
    "sum_two_dims": lambda t, x, d, k: x.sum(dim=tuple(sorted({a % x.ndim for a in d})), keepdim=k),
    "amax_two_dims": lambda t, x, d, k: x.amax(dim=tuple(sorted({a % x.ndim for a in d})), keepdim=k),
    "norm": lambda t, x, d, k: x.norm(p=3 if k else 2, dim=d[0], keepdim=k),
    "logsumexp": lambda t, x, d, k: x.logsumexp(d[0], keepdim=k),
    "softmax": lambda t, x, d, k: x.log_softmax(d[0]) if k else x.softmax(dim=d[0]),
    "split": lambda t, x, d, k: x.split(max(1, x.shape[d[0]] // 2), dim=d[0]),
    "chunk_cat": lambda t, x, d, k: t.cat(x.chunk(2 if k else 3, dim=d[0])[::-1], dim=d[0]),
    "unbind_stack": lambda t, x, d, k: t.stack(x.unbind(d[0]), dim=d[1] % x.ndim),
    "squeeze_unsqueeze": lambda t, x, d, k: x.unsqueeze(d[0]).squeeze(d[0]).squeeze(d[1]),
    "flatten": lambda t, x, d, k: x.flatten(min(d[0] % x.ndim, d[1] % x.ndim), max(d[0] % x.ndim, d[1] % x.ndim)),
    "narrow": lambda t, x, d, k: x.narrow(d[0], x.shape[d[0]] // 2, (x.shape[d[0]] + 1) // 2),
}


test_drawn_shapes_same_as_torch = drawn_case_tests(DRAWN_CASES)


def test_norm_nuc_as_torch(torch) -> None:
    a = np.random.default_rng(3).standard_normal((2, 3, 4))
    x, t = mg.tensor(a[0], requires_grad=True), torch.tensor(a[0], requires_grad=True)
    mg.norm(x, "nuc").backward()
    torch.norm(t, "nuc").backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(mg.tensor(a).norm(p="nuc", dim=(1, 2)).numpy(),
                               torch.tensor(a).norm(p="nuc", dim=(1, 2)).numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="nuc"):
        mg.norm(mg.tensor(a), "nuc")
