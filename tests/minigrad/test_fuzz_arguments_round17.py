"""Hostile and unusual argument forms against PyTorch 2.13: the cases a round-17 differential fuzz (dims, sizes,
counts, scalars, dtypes, devices and tensor slots given as bools, floats, NumPy scalars, 0-d and one-element
tensors, negative, out-of-range and beyond-int64 ints, lists, tuples, Size, None; /tmp/fuzz17_args.py) found
crashing, giving a different meaning than PyTorch's, or refusing what PyTorch takes."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")
F, TF = nn.functional, torch.nn.functional


def _x(lib):
    return lib.tensor(np.arange(24.0, dtype=np.float32).reshape(2, 3, 4) % 7 - 3)


@pytest.mark.parametrize("repeats", [2**62, 2**63 - 1, 2**61 * 3])
def test_repeat_interleave_with_a_count_beyond_int64_elements_raises(repeats: int) -> None:
    # x.repeat_interleave(2**62, 2) of a (2, 3, 4) x: 2**64 elements; NumPy's repeat wrapped the count and the
    # interpreter crashed (segmentation fault); torch: RuntimeError (numel: integer multiplication overflow)
    with pytest.raises(RuntimeError):
        torch.ones(2, 3, 4).repeat_interleave(repeats, 2)
    with pytest.raises(RuntimeError, match="repeat_interleave"):
        mg.ones(2, 3, 4).repeat_interleave(repeats, 2)
    assert mg.ones(2, 3, 4).repeat_interleave(3, 2).shape == (2, 3, 12)


@pytest.mark.parametrize("repeats", [np.int64(2), np.uint8(3), np.int32(0)])
def test_repeat_interleave_takes_a_numpy_int(repeats) -> None:
    # x.repeat_interleave(np.int64(2), 1): torch takes it; ours raised "repeats must be an int or a 1-D int tensor"
    expected = torch.arange(6.0).view(2, 3).repeat_interleave(repeats, 1)
    got = mg.arange(6.0).view(2, 3).repeat_interleave(repeats, 1)
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


CALLS_WITH_A_DIM = {
    "sum": lambda lib, x, d: lib.sum(x, d), "mean": lambda lib, x, d: x.mean(dim=d, keepdim=True),
    "amax": lambda lib, x, d: lib.amax(x, d), "amin": lambda lib, x, d: x.amin(d),
    "nansum": lambda lib, x, d: lib.nansum(x, d), "nanmean": lambda lib, x, d: lib.nanmean(x, d),
    "logsumexp": lambda lib, x, d: lib.logsumexp(x, d), "norm": lambda lib, x, d: lib.norm(x, 2, d),
    "count_nonzero": lambda lib, x, d: lib.count_nonzero(x, d), "squeeze": lambda lib, x, d: lib.squeeze(x, d),
    "sum_tuple": lambda lib, x, d: lib.sum(x, (d, 0)),
}


@pytest.mark.parametrize("dim", [True, False])
@pytest.mark.parametrize("name", sorted(CALLS_WITH_A_DIM))
def test_a_bool_is_not_a_dim(name: str, dim: bool) -> None:
    # mg.sum(x, True) reduced dim 1 (True as 1; x.sum(True) reads as a keepdim); torch: TypeError
    call = CALLS_WITH_A_DIM[name]
    with pytest.raises(TypeError):
        call(torch, _x(torch), dim)
    with pytest.raises(TypeError, match=name.split("_")[0]):
        call(mg, _x(mg), dim)
    np.testing.assert_allclose(call(mg, _x(mg), 1).numpy(), call(torch, _x(torch), 1).numpy(), rtol=1e-6)


@pytest.mark.parametrize("call", [
    lambda lib, F: lib.linspace(0, 1, 2**63),
    lambda lib, F: F.one_hot(lib.tensor([0, 1]), 2**63),
    lambda lib, F: F.interpolate(lib.ones(1, 1, 2, 3), size=(2, 2**63)),
    lambda lib, F: F.adaptive_avg_pool2d(lib.ones(1, 1, 4, 6), (2, 2**63)),
    lambda lib, F: F.adaptive_avg_pool1d(lib.ones(2, 3, 4), 2**63),
    lambda lib, F: F.conv1d(lib.ones(2, 3, 4), lib.ones(2, 3, 1), stride=2**63),
], ids=["linspace", "one_hot", "interpolate", "adaptive_avg_pool2d", "adaptive_avg_pool1d", "conv1d"])
def test_an_int_beyond_int64_raises(call) -> None:
    # linspace(0, 1, 2**63) was empty, one_hot(i, 2**63) had no columns, interpolate/adaptive pools to 2**63 gave
    # size 0 and conv1d(stride=2**63) a result: NumPy wrapped the int; torch cannot unpack it (TypeError or
    # ValueError: "Overflow when unpacking long long")
    with pytest.raises((TypeError, ValueError)) as expected:
        call(torch, TF)
    with pytest.raises(type(expected.value), match="int64"):
        call(mg, F)


@pytest.mark.parametrize("method", ["max", "min"])
@pytest.mark.parametrize("form", ["positional", "keyword"])
def test_max_with_a_0d_int_tensor_dim_and_keepdim_reduces_along_it(method: str, form: str) -> None:
    # x.max(tensor(1), True) / x.max(dim=tensor(1), keepdim=True): torch reads the 0-d int tensor as the dim and
    # gives (values, indices); ours took it as `other` (the elementwise maximum) and dropped keepdim
    def call(lib):
        x = _x(lib)
        return getattr(x, method)(lib.tensor(1), True) if form == "positional" else \
            getattr(x, method)(dim=lib.tensor(1), keepdim=True)
    expected, got = call(torch), call(mg)
    np.testing.assert_array_equal(got.values.numpy(), expected.values.numpy())
    np.testing.assert_array_equal(got.indices.numpy(), expected.indices.numpy())
    # without keepdim a Tensor second argument stays torch.max(a, b), the elementwise maximum
    assert getattr(mg, method)(_x(mg), mg.tensor(1.0)).shape == (2, 3, 4)


@pytest.mark.parametrize("dim", [(), []])
@pytest.mark.parametrize("p", [2, 1, "fro"])
def test_norm_over_no_listed_dims_reduces_all(p, dim) -> None:
    # torch.norm(x, 2, ()) reduces every dim (as sum(x, ()) does); ours reduced none and returned |x|
    expected = torch.norm(_x(torch), p, dim)
    got = mg.norm(_x(mg), p, dim)
    assert got.shape == tuple(expected.shape) == ()
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6)


@pytest.mark.parametrize("p", [np.float32(0.5), np.float64(3.0), np.int64(1)])
def test_norm_takes_a_numpy_number_as_p(p) -> None:
    # torch.norm(x, p=np.float32(0.5)) works; ours raised "p must be a number"
    np.testing.assert_allclose(mg.norm(_x(mg), p=p).numpy(), torch.norm(_x(torch), p=p).numpy(), rtol=1e-5)


@pytest.mark.parametrize("p", [np.float32(0.25), np.int64(0), "tensor(0.25)", "tensor(0)"])
def test_dropout_takes_numpy_and_0d_tensor_probabilities(p) -> None:
    # F.dropout(x, np.float32(0.25)) or a 0-d tensor p: torch takes them; ours raised "p must be in [0, 1]"
    def prob(lib):
        return lib.tensor(float(p[7:-1]) if "." in p else int(p[7:-1])) if isinstance(p, str) else p
    assert TF.dropout(_x(torch), prob(torch), False).shape == (2, 3, 4)
    np.testing.assert_array_equal(F.dropout(_x(mg), prob(mg), False).numpy(), _x(mg).numpy())
    mg.manual_seed(0)
    kept = F.dropout(mg.ones(1000), prob(mg)).numpy()
    np.testing.assert_allclose(kept[kept != 0], 1 / (1 - float(prob(mg))), rtol=1e-6)


@pytest.mark.parametrize("padding_idx", [1.0, True, np.float64(1.0)])
def test_embedding_padding_idx_must_be_an_int(padding_idx) -> None:
    # F.embedding(i, w, padding_idx=1.0 or True): torch TypeError; ours took it as row 1
    weight = np.arange(8.0).reshape(4, 2)
    with pytest.raises(TypeError):
        TF.embedding(torch.tensor([0, 1]), torch.tensor(weight), padding_idx=padding_idx)
    with pytest.raises(TypeError, match="padding_idx"):
        F.embedding(mg.tensor([0, 1]), mg.tensor(weight), padding_idx=padding_idx)


@pytest.mark.parametrize("call", [
    lambda lib, F, d: F.normalize(_x(lib), dim=d), lambda lib, F, d: F.glu(_x(lib)[:, :2], d),
    lambda lib, F, d: F.cosine_similarity(_x(lib), _x(lib), d), lambda lib, F, d: F.softmax(_x(lib), d),
    lambda lib, F, d: F.one_hot(lib.tensor([0, 1]), d + 2),
], ids=["normalize", "glu", "cosine_similarity", "softmax", "one_hot"])
def test_nn_functional_takes_a_0d_int_tensor_as_an_int(call) -> None:
    # F.normalize(x, dim=torch.tensor(1)): torch reads the 0-d int tensor as 1; ours raised "dim must be an int"
    np.testing.assert_allclose(call(mg, F, mg.tensor(1)).numpy(), call(torch, TF, torch.tensor(1)).numpy(),
                               rtol=1e-6)


# sizes past the 128 TiB of a process's address space: refused at once whatever the machine's overcommit setting,
# by a constructor or by an op whose result NumPy cannot allocate
@pytest.mark.parametrize("call", [lambda lib: lib.zeros(2**46), lambda lib: lib.ones(2, 2**45),
                                  lambda lib: lib.empty(2**45, dtype=lib.float64),
                                  lambda lib: lib.ones(1).expand(2**46) + 1, lambda lib: lib.ones(1).repeat(2**46),
                                  lambda lib: lib.outer(lib.ones(2**23), lib.ones(2**23))],
                         ids=["zeros", "ones", "empty", "expand-add", "repeat", "outer"])
def test_a_result_too_large_to_allocate_raises_runtime_error(call) -> None:
    # NumPy's MemoryError leaked (mg.zeros(2**46), x.repeat(2**46)); torch: RuntimeError ("can't allocate memory")
    with pytest.raises(RuntimeError):
        call(torch)
    with pytest.raises(RuntimeError, match="can't allocate") as error:
        call(mg)
    assert isinstance(error.value, MemoryError)


def test_abs_of_a_number_is_a_tensor_of_the_default_dtype() -> None:
    # mg.abs(-1.5) raised AttributeError ('float' object has no attribute 'dtype') from inside the op; the other
    # unary ops (mg.exp(1.5)) take a number as mg.as_tensor does (torch refuses numbers: TypeError)
    assert mg.abs(-1.5).dtype == mg.exp(1.5).dtype == mg.float32
    assert mg.abs(-1.5).item() == 1.5
    np.testing.assert_array_equal(mg.abs([-1, 2]).numpy(), [1, 2])


@pytest.mark.parametrize("training", ["False", "no", None, 2])
def test_dropout_training_must_be_a_bool(training) -> None:
    # F.dropout(x, 0.5, training="False"): torch TypeError; ours read the string's truth (dropout applied)
    with pytest.raises(TypeError):
        TF.dropout(_x(torch), 0.5, training)
    with pytest.raises(TypeError, match="training"):
        F.dropout(_x(mg), 0.5, training)
    np.testing.assert_array_equal(F.dropout(_x(mg), 0.5, np.False_).numpy(), _x(mg).numpy())


@pytest.mark.parametrize("num_groups", [2.0, True, np.float64(2.0)])
def test_group_norm_num_groups_must_be_an_int(num_groups) -> None:
    # F.group_norm(x, 2.0): torch TypeError; ours InputShapeError ("divisible by num_groups")
    with pytest.raises(TypeError):
        TF.group_norm(torch.ones(2, 4, 3), num_groups)
    with pytest.raises(TypeError, match="num_groups"):
        F.group_norm(mg.ones(2, 4, 3), num_groups)


@pytest.mark.parametrize("call", [
    lambda lib: lib.linspace(0, 1, lib.tensor(3)), lambda lib: lib.linspace(0, 1, np.int64(3)),
    lambda lib: lib.arange(6.0).view(np.int64(-1)), lambda lib: lib.arange(6.0).view(lib.tensor(6)),
    lambda lib: lib.arange(6.0).view(np.int32(3), lib.tensor(2)),
], ids=["linspace-tensor", "linspace-numpy", "view-numpy", "view-tensor", "view-mixed"])
def test_sizes_given_as_numpy_ints_or_0d_tensors(call) -> None:
    # linspace(0, 1, tensor(3)) raised "steps must be an int"; x.view(np.int64(-1)) read the NumPy int as a dtype
    np.testing.assert_array_equal(call(mg).numpy(), call(torch).numpy())


@pytest.mark.parametrize("p", [np.float32(0.25), np.float64(0.5), np.int64(0)])
def test_dropout_modules_take_a_numpy_probability(p) -> None:
    # nn.Dropout(np.float32(0.25)) (a p read from a NumPy config): torch takes it; ours raised ValueError
    assert repr(nn.Dropout(p)) == repr(torch.nn.Dropout(p))
    module = nn.Dropout(p).eval()
    np.testing.assert_array_equal(module(_x(mg)).numpy(), _x(mg).numpy())


@pytest.mark.parametrize("call", [
    lambda lib: lib.sort(lib.tensor([3.0, 1.0, 2.0]), 0, False, True),
    lambda lib: lib.argsort(lib.tensor([3.0, 1.0, 2.0]), 0, False, True),
    lambda lib: lib.tensor([3.0, 1.0, 2.0]).sort(0, False, True),
    lambda lib: lib.round(lib.tensor([1.25]), 1), lambda lib: lib.tensor([1.25]).round(1),
    lambda lib: lib.linspace(0, 1, 3, lib.float64),
], ids=["sort", "argsort", "Tensor.sort", "round", "Tensor.round", "linspace"])
def test_keyword_only_arguments_are_keyword_only(call) -> None:
    # sort's stable, round's decimals and linspace's dtype are keyword-only in PyTorch; ours took them by position
    with pytest.raises(TypeError):
        call(torch)
    with pytest.raises(TypeError):
        call(mg)
    assert mg.sort(mg.tensor([3.0, 1.0, 2.0]), 0, False, stable=True).indices.tolist() == [1, 2, 0]
    assert mg.round(mg.tensor([1.25], dtype=mg.float64), decimals=1).tolist() == [1.2]
    assert mg.linspace(0, 1, 3, dtype=mg.float64).dtype == mg.float64


@pytest.mark.parametrize("scale", [float("nan"), float("inf"), -float("inf"), 1e30])
def test_interpolate_scale_factor_past_int64_sizes_raises_runtime_error(scale: float) -> None:
    # F.interpolate(x, scale_factor=nan/inf/1e30): torch RuntimeError (cannot be converted to int64_t); ours
    # raised NumPy's and Python's ValueError and OverflowError
    with pytest.raises(RuntimeError):
        TF.interpolate(torch.ones(1, 1, 2, 3), scale_factor=scale)
    with pytest.raises(RuntimeError, match="interpolate: scale_factor"):
        F.interpolate(mg.ones(1, 1, 2, 3), scale_factor=scale)


@pytest.mark.parametrize("call", [
    lambda lib, F: lib.norm(lib.tensor([[3.0, 4.0], [1.0, 1.0]]), p=None),
    lambda lib, F: lib.tensor([[3.0, 4.0], [1.0, 1.0]]).norm(None, 1),
    lambda lib, F: F.normalize(lib.tensor([[3.0, 4.0], [1.0, 1.0]]), p=None),
    lambda lib, F: lib.nan_to_num(lib.tensor([float("nan"), 1.0, float("inf")]), nan=None),
], ids=["norm", "Tensor.norm", "normalize", "nan_to_num"])
def test_none_means_the_default(call) -> None:
    # torch.norm(x, p=None) is the 2-norm and nan_to_num(nan=None) replaces NaN by 0; ours raised TypeError
    np.testing.assert_allclose(call(mg, F).numpy(), call(torch, TF).numpy(), rtol=1e-6)


@pytest.mark.parametrize("dim", [(0, 1), [-1], None, ()])
def test_normalize_over_several_dims_or_all(dim) -> None:
    # F.normalize(x, dim=(0, 1)) / dim=None: torch normalizes over those dims (all of them); ours raised TypeError
    x = np.arange(6.0).reshape(2, 3)
    expected = TF.normalize(torch.tensor(x), dim=dim)
    np.testing.assert_allclose(F.normalize(mg.tensor(x), dim=dim).numpy(), expected.numpy(), rtol=1e-12)
