"""Round-18 leftovers, third batch, against PyTorch: zero-size strides, pickled views, lazy placeholders, empty
batches in nn.functional, nn dtype rules and ``Tensor.map_``."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


@pytest.mark.parametrize("make", [
    lambda L: L.zeros(0, 3), lambda L: L.empty(2, 0, 3), lambda L: L.ones(3, 0, 1), lambda L: L.full((0, 3), 1.0),
    lambda L: L.zeros(0), lambda L: L.empty_like(L.zeros(2, 0, 3)), lambda L: L.zeros(0, 3).clone(),
    lambda L: L.zeros(0, 3) + 1, lambda L: L.cat([L.zeros(0, 3), L.zeros(0, 3)]), lambda L: L.randn(0, 3),
    lambda L: L.zeros(2).new_zeros(0, 3), lambda L: L.zeros(0, 3).T.contiguous().reshape(0, 3),
], ids=range(12))
def test_zero_size_strides_are_contiguous(make: Callable) -> None:
    """A zero-size tensor's strides are PyTorch's contiguous ones (NumPy allocates it with all strides 0)."""
    ours, theirs = make(mg), make(torch)
    assert ours.stride() == theirs.stride()
    assert ours.is_contiguous() == theirs.is_contiguous()


@pytest.mark.parametrize("view", [
    lambda x: x.T, lambda x: x[::2], lambda x: x[:, 1], lambda x: x[:, 1:3], lambda x: x[0].expand(3, 4),
    lambda x: x[:, :1].expand(3, 4), lambda x: x.reshape(2, 3, 2).permute(2, 0, 1), lambda x: x[1:],
], ids=["T", "step", "column", "narrow", "expand", "expand_column", "permute", "offset"])
def test_pickled_view_keeps_strides(view: Callable) -> None:
    """A pickled view loads with the view's strides and offset (PyTorch pickles the storage it views)."""
    import pickle
    ours = pickle.loads(pickle.dumps(view(mg.arange(12.0).reshape(3, 4))))
    theirs = pickle.loads(pickle.dumps(view(torch.arange(12.0).reshape(3, 4))))
    assert ours.tolist() == theirs.tolist()
    assert (ours.stride(), ours.storage_offset(), ours.is_contiguous()) == \
        (theirs.stride(), theirs.storage_offset(), theirs.is_contiguous())
    for lib in (mg, torch):
        base = lib.arange(4.0)
        first, second = pickle.loads(pickle.dumps([base, base[1:]]))
        first[1] = 9.0     # PyTorch pickles each tensor's storage on its own: the loaded views share no memory
        assert second[0].item() == 1.0


@pytest.mark.parametrize("name", ["numel", "isnan", "isfinite", "all", "any", "nonzero", "argwhere", "unique",
                                  "count_nonzero", "logical_not", "signbit", "argsort", "flatten", "real", "conj",
                                  "is_complex", "is_floating_point", "histc", "detach", "where"])
def test_lazy_placeholder_refused_by_functions(name: str) -> None:
    """A function given a lazy module's placeholder raises PyTorch's ValueError, never acts on its empty array."""
    from nn.parameter import UninitializedParameter
    with pytest.raises(ValueError):
        getattr(torch, name)(torch.nn.parameter.UninitializedParameter())
    with pytest.raises(ValueError, match="uninitialized parameter"):
        getattr(mg, name)(UninitializedParameter())


def test_lazy_placeholder_size() -> None:
    """``p.size()`` is one of the methods PyTorch allows on a placeholder: its empty (0,) shape."""
    from nn.parameter import UninitializedParameter
    theirs = torch.nn.parameter.UninitializedParameter()
    assert tuple(UninitializedParameter().size()) == tuple(theirs.size())
    assert UninitializedParameter().size(0) == theirs.size(0)


@pytest.mark.parametrize("shape", [(0, 3), (0, 3, 4), (2, 3, 0), (0, 3, 2, 2)])
@pytest.mark.parametrize("stats", ["none", "mean_only", "wrong_size"])
@pytest.mark.parametrize("training", [False, True])
def test_batch_norm_empty_batch(shape: tuple, stats: str, training: bool) -> None:
    """An empty input skips batch_norm's checks in PyTorch (eval mode needs no running estimates): its copy times
    weight[0] plus bias[0], with zero gradients for weight and bias."""
    import nn.functional as F
    seen = []
    for L, functional in ((torch, torch.nn.functional), (mg, F)):
        channels = 4 if stats == "wrong_size" else 3
        mean = None if stats == "none" else L.zeros(channels)
        var = L.ones(channels) if stats == "wrong_size" else None
        x, w = L.zeros(*shape, requires_grad=True), L.ones(3, requires_grad=True)
        if stats == "mean_only" and training:
            var = None
        out = functional.batch_norm(x, mean, var, w, L.zeros(3), training=training)
        out.sum().backward()
        seen.append((tuple(out.shape), str(out.dtype).split(".")[-1], out is x, w.grad.tolist(), tuple(x.grad.shape)))
    assert seen[0] == seen[1]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtypes", [("int64", "float32"), ("int32", "float64"), ("uint8", "float16")])
def test_cross_entropy_soft_labels_empty_integer_batch(reduction: str, dtypes: tuple) -> None:
    """Soft-label cross_entropy of an empty integer input computes in the target's dtype, as PyTorch's."""
    import nn.functional as F
    seen = []
    for L, functional in ((torch, torch.nn.functional), (mg, F)):
        out = functional.cross_entropy(L.zeros(0, 3, dtype=getattr(L, dtypes[0])),
                                       L.zeros(0, 3, dtype=getattr(L, dtypes[1])), reduction=reduction)
        seen.append((tuple(out.shape), str(out.dtype).split(".")[-1], out.detach().numpy()))
    assert seen[0][:2] == seen[1][:2]
    np.testing.assert_array_equal(seen[1][2], seen[0][2])   # (NaN for an empty mean; PyTorch's sum is -0.0)


@pytest.mark.parametrize("dtype", ["int64", "uint8", "bool", "complex64"])
@pytest.mark.parametrize("call", [("alpha_dropout", 0.5, False), ("alpha_dropout", 0.0, True),
                                  ("feature_alpha_dropout", 0.5, False), ("feature_alpha_dropout", 0.0, True)])
def test_alpha_dropout_identity_of_any_dtype(dtype: str, call: tuple) -> None:
    """alpha dropout that drops nothing (eval mode, p=0) returns its input of any dtype, as PyTorch's."""
    import nn.functional as F
    name, p, training = call
    for L, functional in ((torch, torch.nn.functional), (mg, F)):
        x = L.ones(2, 3, 4).to(getattr(L, dtype))
        assert getattr(functional, name)(x, p, training) is x


@pytest.mark.parametrize("case", [("triplet_margin_loss", "int64", "float16"),
                                  ("triplet_margin_loss", "float16", "uint8"),
                                  ("margin_ranking_loss", "int32", "float16"),
                                  ("margin_ranking_loss", "float16", "int64"),
                                  ("margin_ranking_loss", "int64", "uint8")])
def test_ranking_losses_promote_integers_as_pytorch(case: tuple) -> None:
    """An integer input with a float16 one gives a float16 loss (PyTorch's promotion of ``input1 - input2``);
    a uint8 target is negated in uint8 (1 becomes 255), as PyTorch's ``-target``."""
    import nn.functional as F
    name, first, other = case
    seen = []
    for L, functional in ((torch, torch.nn.functional), (mg, F)):
        x = L.tensor([[0, 1, 2, 3], [4, 1, 0, 2]]).to(getattr(L, first))
        y, z = L.ones(2, 4).to(getattr(L, other)), L.zeros(2, 4).to(getattr(L, other))
        out = getattr(functional, name)(x, y, z if name == "triplet_margin_loss" else y, reduction="none")
        seen.append((str(out.dtype).split(".")[-1], out.float().tolist()))
    assert seen[0][0] == seen[1][0]
    np.testing.assert_allclose(seen[1][1], seen[0][1], rtol=1e-3)


@pytest.mark.parametrize("dtypes", [("float32", "float64"), ("float64", "float16"), ("float32", "float16"),
                                    ("float64", "float32")])
@pytest.mark.parametrize("dims", [1, 2])
def test_conv_transpose_bias_of_another_float_dtype(dtypes: tuple, dims: int) -> None:
    """PyTorch's conv_transpose1d/2d (float32 or float64 input) add a bias of another float dtype: the result in
    the input's dtype (the sum rounded once), the bias's gradient in its own."""
    import nn.functional as F
    seen = []
    for L, functional in ((torch, torch.nn.functional), (mg, F)):
        rng = np.random.default_rng(0)
        x = L.tensor(rng.standard_normal((1, 2) + (5,) * dims), dtype=getattr(L, dtypes[0]))
        w = L.tensor(rng.standard_normal((2, 3) + (2,) * dims), dtype=getattr(L, dtypes[0]))
        b = L.tensor(rng.standard_normal(3) / 3, dtype=getattr(L, dtypes[1]), requires_grad=True)
        out = getattr(functional, f"conv_transpose{dims}d")(x, w, b, stride=2)
        out.sum().backward()
        seen.append((str(out.dtype).split(".")[-1], str(b.grad.dtype).split(".")[-1], out.detach().numpy()))
        if L is torch:   # the float64 sum of |terms| of each element
            conv = torch.nn.functional.conv_transpose1d if dims == 1 else torch.nn.functional.conv_transpose2d
            terms = conv(x.double().abs(), w.double().abs(), b.detach().double().abs(), stride=2).numpy()
    assert seen[0][:2] == seen[1][:2]
    # each element is x·w over 2 channels plus the bias: PyTorch's order of that sum (and its FMA use) depends on
    # the CPU (bit-equal to ours on an Intel Xeon, 1-2 ulps apart on an AVX512 AMD EPYC), so a few ulps of the
    # input's dtype of the sum of |terms|; a bias rounded to a narrower dtype first would be ~2**-11 off
    np.testing.assert_array_less(np.abs(seen[1][2] - seen[0][2]), 4 * np.finfo(dtypes[0]).eps * terms)


def test_tensor_map_() -> None:
    """``x.map_(other, callable)``: callable(a, b) of each element and other's (broadcast) in place, as PyTorch's;
    refused on a tensor that requires grad, for another dtype of other, and for a shape that does not broadcast."""
    seen = []
    for L in (torch, mg):
        x, other = L.arange(6.0).reshape(2, 3), L.tensor([1.0, 2.0, 3.0])
        assert x.map_(other, lambda a, b: a * 10 + b) is x
        mapped = x.tolist()
        ints = L.arange(3)
        ints.map_(other=L.ones(3, dtype=L.int64), callable=lambda a, b: a + b + 0.5)
        errors = []
        for x, other in ((L.ones(2, requires_grad=True), L.ones(2)), (L.ones(3), L.ones(3, dtype=L.float64)),
                         (L.ones(3), L.ones(2, 3))):
            with pytest.raises((RuntimeError, TypeError)) as info:
                x.map_(other, max)
            errors.append(RuntimeError if isinstance(info.value, RuntimeError) else TypeError)
        seen.append((mapped, ints.tolist(), errors))
    assert seen[0] == seen[1]


@pytest.mark.parametrize("case", [
    ("avg_pool1d", (2, 3, 7), (3, 2, 1), {}), ("avg_pool2d", (1, 2, 5, 5), (3, 2, 1), {"count_include_pad": False}),
    ("avg_pool2d", (1, 2, 5, 4), (2, 2, 1), {"ceil_mode": True, "divisor_override": 3}),
    ("avg_pool3d", (1, 1, 3, 4, 4), (2, 1, 1), {}),
    ("lp_pool1d", (2, 3, 6), (2, 2), {}), ("lp_pool2d", (1, 2, 4, 4), (1, 2), {}),
    ("lp_pool2d", (1, 2, 4, 4), (3, 2), {}),
    ("lp_pool2d", (1, 2, 4, 4), (2.0, 2), {}), ("local_response_norm", (1, 5, 3, 3), (3,), {"alpha": 0.3, "k": 2.0}),
], ids=lambda case: case[0])
@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_integer_pools_as_pytorch(case: tuple, dtype: str) -> None:
    """PyTorch's CPU average pools take int64 (the exact sum divided by the count, rounded toward zero); lp_pool
    and local_response_norm of int64 (and lp_pool of bool, an int64 power) build on it and give float32."""
    import nn.functional as F
    name, shape, args, kwargs = case
    seen = []
    for L, functional in ((torch, torch.nn.functional), (mg, F)):
        x = L.tensor(np.random.default_rng(0).integers(-9, 10, shape)).to(getattr(L, dtype))
        try:
            out = getattr(functional, name)(x, *args, **kwargs)
        except NotImplementedError:
            seen.append("NotImplementedError")
            continue
        seen.append((str(out.dtype).split(".")[-1], np.round(out.double().numpy(), 4).tolist()))
    assert str(seen[0]) == str(seen[1])
