"""Mixed dtypes entering nn layers, functionals and losses, against PyTorch 2.13 (round 18).

A scratch differential fuzzer fed every layer and functional inputs, weights, biases, running estimates, targets and
indices of other dtypes than PyTorch's kernels take. Where PyTorch refuses a mix NumPy would promote, a promoted
result is a different answer: each case below runs on both libraries and must give the same dtype and values, or
raise the same class (minigrad's error classes are also RuntimeErrors where PyTorch's are)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import nn
import nn.functional as F

torch = pytest.importorskip("torch", reason="no torch")
TF = torch.nn.functional


class _Side:
    """One library: its tensors, dtypes, ``nn`` and functional namespace."""

    def __init__(self, ours: bool) -> None:
        self.ours, self.nn, self.F = ours, (nn if ours else torch.nn), (F if ours else TF)

    def t(self, array: Any) -> Any:
        if not isinstance(array, np.ndarray):
            return array
        return mg.tensor(array.copy()) if self.ours else torch.from_numpy(array.copy())

    def dt(self, name: str) -> Any:
        return getattr(mg if self.ours else torch, name)


def _a(shape: tuple, dtype: str, seed: int = 0, low: int = 0, high: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind in "iub":
        return rng.integers(low, high, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _outputs(value: Any) -> list:
    return [y for x in value for y in _outputs(x)] if isinstance(value, (tuple, list)) else [value]


def _same(call: Callable[[_Side], Any], rtol: float = 1e-6) -> None:
    """``call`` gives torch's dtypes and values on both sides, or raises an error of torch's class on both."""
    try:
        expected = call(_Side(False))
    except Exception as error:  # noqa: BLE001 - any class torch raises
        with pytest.raises(type(error)):
            call(_Side(True))
        return
    ours = call(_Side(True))
    for a, e in zip(_outputs(ours), _outputs(expected), strict=True):
        a, e = a.numpy(), e.detach().numpy()
        assert (a.dtype, a.shape) == (e.dtype, e.shape)
        np.testing.assert_allclose(a, e, rtol=rtol, atol=rtol)


def _module(name: str, args: tuple, dtype: str) -> Callable[[_Side], Any]:
    """``name(*args)`` on one side, with torch's float32 weights, cast to ``dtype``."""
    torch.manual_seed(0)
    state = {k: v.numpy().copy() for k, v in getattr(torch.nn, name)(*args).state_dict().items()}

    def build(side: _Side) -> Any:
        module = getattr(side.nn, name)(*args)
        module.load_state_dict({k: side.t(v) for k, v in state.items()})
        return module.to(side.dt(dtype))
    return build


@pytest.mark.parametrize("x, w, b", [("float64", "float32", "float32"), ("float32", "float64", None),
                                     ("float16", "float32", "float32"), ("int64", "float32", None),
                                     ("float32", "float32", "float64"), ("complex64", "float32", None),
                                     ("float64", "float64", "float64")])
def test_linear_and_bilinear_refuse_mixed_dtypes(x: str, w: str, b: str | None) -> None:
    """F.linear and F.bilinear took NumPy's promotion (float32 weights with a float64 input gave float64);
    PyTorch's addmm and bilinear refuse any mix (RuntimeError)."""
    bias = None if b is None else _a((3,), b, 2)
    _same(lambda s: s.F.linear(s.t(_a((2, 4), x)), s.t(_a((3, 4), w, 1)), s.t(bias)))
    _same(lambda s: s.F.bilinear(s.t(_a((2, 4), x)), s.t(_a((2, 5), x, 3)), s.t(_a((3, 4, 5), w, 1)), s.t(bias)))
    if b is not None and x[0] == "f":
        _same(lambda s: _module("Linear", (4, 3), w)(s)(s.t(_a((2, 4), x))))


@pytest.mark.parametrize("x, w, b, stats", [
    ("float64", "float32", "float32", "float32"), ("float32", "float64", "float64", "float64"),
    ("float32", "float32", "float32", "float64"), ("float16", "float16", "float32", "float16"),
    ("float16", "float32", "float32", "float32"), ("float16", "float32", None, "float32"),
    ("float16", "float32", "float32", "float16"), ("int64", "float32", "float32", "float32"),
    ("float32", None, None, "float64"), ("float64", "float64", None, "float64")])
def test_normalizations_take_pytorchs_mixed_dtype_rule(x: str, w: str | None, b: str | None, stats: str) -> None:
    """layer_norm, group_norm, batch_norm and instance_norm promoted mixed dtypes (float32 parameters with a float64
    input gave float64); PyTorch's CPU kernels take parameters of the input's dtype, or all float32 ones with a
    float16 input (computed in float32, rounded to float16), and refuse any other mix (RuntimeError)."""
    weight, bias = (None if d is None else np.abs(_a((4,), d, i)) + 0.5 for i, d in ((1, w), (2, b)))
    mean, var = _a((4,), stats, 3), np.abs(_a((4,), stats, 4)) + 1
    inp = _a((3, 4, 5), x, 5)
    tol = 2e-3 if "float16" in (x, w, b) else 1e-6
    _same(lambda s: s.F.layer_norm(s.t(inp), (5,), None if w is None else s.t(_a((5,), w)), None), tol)
    _same(lambda s: s.F.group_norm(s.t(inp), 2, s.t(weight), s.t(bias)), tol)
    for training in (True, False):
        def batch_norm(s: _Side, training: bool = training) -> Any:
            m, v = s.t(mean), s.t(var)
            return s.F.batch_norm(s.t(inp), m, v, s.t(weight), s.t(bias), training=training), m, v
        _same(batch_norm, tol)
    for use_input_stats in (True, False):   # PyTorch casts the running estimates to the input's dtype
        _same(lambda s, u=use_input_stats: s.F.instance_norm(s.t(inp), s.t(mean), s.t(var), s.t(weight), s.t(bias),
                                                             use_input_stats=u), tol)
    if w is not None and w == b == stats:
        for name, args in (("LayerNorm", (5,)), ("BatchNorm1d", (4,)), ("GroupNorm", (2, 4))):
            _same(lambda s, name=name, args=args: _module(name, args, w)(s)(s.t(inp)), tol)


@pytest.mark.parametrize("name", ["conv1d", "conv_transpose1d", "conv2d"])
@pytest.mark.parametrize("w, b", [("float32", None), ("float32", "float16"), ("float16", "float32")])
def test_a_float16_convolution_refuses_float32_parameters(name: str, w: str, b: str | None) -> None:
    """A float16 input with a float32 weight or bias was widened with them and gave float16; PyTorch refuses the
    mix as it does for every other pair of dtypes (RuntimeError)."""
    dims = 2 if name.endswith("2d") else 1
    weight = _a((2, 2) + (2,) * dims, w, 1)
    bias = None if b is None else _a((2,), b, 2)
    if name == "conv_transpose1d" and b == "float32":
        # torch's own answer is CPU-dependent here: RuntimeError on an Intel Xeon (as conv1d's everywhere), but a
        # float16 result on an AVX512 AMD EPYC (whose float16 conv_transpose takes another path); we refuse
        with pytest.raises(RuntimeError, match="conv_transpose1d"):
            F.conv_transpose1d(mg.tensor(_a((1, 2, 4), "float16")), mg.tensor(weight), mg.tensor(bias))
        return
    _same(lambda s: getattr(s.F, name)(s.t(_a((1, 2) + (4,) * dims, "float16")), s.t(weight), s.t(bias)), 2e-3)


@pytest.mark.parametrize("dtype", ["int64", "int32", "int16", "uint8", "int8"])
def test_lookup_indices_and_class_targets_take_pytorchs_integer_dtypes(dtype: str) -> None:
    """embedding and embedding_bag took any integer indices, one_hot any integer classes, cross_entropy and
    nll_loss any integer targets; PyTorch's kernels take int64 or int32 (embedding), int64 (one_hot), int64 or
    uint8 for an (N, C) input and int64 for (N, C, d) (the losses), and raise RuntimeError for the rest."""
    weight, idx = _a((5, 3), "float32"), _a((2, 3), dtype, 1, 0, 5)
    _same(lambda s: s.F.embedding(s.t(idx), s.t(weight)))
    _same(lambda s: s.F.embedding_bag(s.t(idx.reshape(-1)), s.t(weight), s.t(np.array([0, 2]))))
    _same(lambda s: s.F.one_hot(s.t(idx), 5))
    _same(lambda s: _module("Embedding", (5, 3), "float64")(s)(s.t(idx)))
    logits, logits3 = _a((4, 3), "float32"), _a((4, 3, 2), "float32")
    target, target3 = _a((4,), dtype, 2), _a((4, 2), dtype, 3)
    for loss in ("cross_entropy", "nll_loss"):
        _same(lambda s, loss=loss: getattr(s.F, loss)(s.t(logits), s.t(target)))
        _same(lambda s, loss=loss: getattr(s.F, loss)(s.t(logits3), s.t(target3)))


@pytest.mark.filterwarnings("ignore:Mismatch dtype between input and weight")   # torch's rms_norm
@pytest.mark.parametrize("x, w", [("float32", "float64"), ("float64", "float32"), ("float16", "float32"),
                                  ("float32", "float16"), ("float64", "float64")])
def test_prelu_refuses_and_rms_norm_keeps_the_inputs_dtype(x: str, w: str) -> None:
    """F.prelu (and nn.PReLU) promoted a weight of another dtype; PyTorch refuses it ("Type promoting not
    supported"). F.rms_norm gave the promoted dtype (float64 for a float32 input with a float64 weight), PyTorch
    the input's."""
    inp, weight = _a((2, 4, 3), x), _a((4,), w, 1)
    tol = 2e-3 if "float16" in (x, w) else 1e-6
    _same(lambda s: s.F.prelu(s.t(inp), s.t(weight)), tol)
    _same(lambda s: _module("PReLU", (4,), w)(s)(s.t(inp)), tol)
    _same(lambda s: s.F.rms_norm(s.t(inp), (3,), s.t(_a((3,), w, 2))), tol)


@pytest.mark.parametrize("dtype", ["int64", "int32", "int16"])
def test_margin_losses_take_int64_targets_and_layer_norm_floats(dtype: str) -> None:
    """multi_margin_loss and multilabel_margin_loss took any integer target, PyTorch's kernels int64 alone
    (RuntimeError); layer_norm of an integer input gave float64, PyTorch has no such kernel
    (NotImplementedError)."""
    x = _a((4, 3), "float32")
    _same(lambda s: s.F.multi_margin_loss(s.t(x), s.t(_a((4,), dtype, 1))))
    _same(lambda s: s.F.multilabel_margin_loss(s.t(x), s.t(np.array([[0, 1, -1]] * 4, dtype=dtype))))
    _same(lambda s: s.F.layer_norm(s.t(_a((2, 3), dtype, 2)), (3,)))


BOOLS = np.array([[True, False, True, False]] * 2)
FLOATS = _a((2, 4), "float32")


@pytest.mark.parametrize("call", [
    lambda s, b: s.F.threshold(s.t(b), 0.5, 2.0), lambda s, b: s.F.softsign(s.t(b)),
    lambda s, b: s.F.tanhshrink(s.t(b)), lambda s, b: s.F.softmin(s.t(b), dim=1, dtype=s.dt("float32")),
    lambda s, b: s.F.pad(s.t(b)[None], (1, 1), mode="reflect"), lambda s, b: s.F.pad(s.t(b)[None], (1, 1),
                                                                                       mode="replicate"),
    lambda s, b: s.F.pad(s.t(b)[None], (1, 1), mode="circular"), lambda s, b: s.nn.ReflectionPad1d(1)(s.t(b)[None]),
    lambda s, b: s.F.l1_loss(s.t(FLOATS), s.t(b)), lambda s, b: s.F.multilabel_soft_margin_loss(s.t(FLOATS), s.t(b)),
    lambda s, b: s.F.gaussian_nll_loss(s.t(FLOATS), s.t(b), s.t(np.ones((2, 4), "float32"))),
    lambda s, b: s.F.margin_ranking_loss(s.t(FLOATS[0]), s.t(FLOATS[1]), s.t(b[0])),
    lambda s, b: s.F.triplet_margin_loss(s.t(FLOATS), s.t(b), s.t(FLOATS)),
    lambda s, b: s.F.mse_loss(s.t(FLOATS), s.t(b)), lambda s, b: s.F.softmin(s.t(b.astype(np.uint8)), 1,
                                                                               dtype=s.dt("float32"))],
    ids=["threshold", "softsign", "tanhshrink", "softmin", "reflect", "replicate", "circular", "ReflectionPad1d",
         "l1", "multilabel_soft_margin", "gaussian_nll", "margin_ranking", "triplet", "mse", "softmin_uint8"])
def test_bool_inputs_and_targets_raise_where_pytorchs_kernels_do(call: Callable) -> None:
    """A bool input to threshold (float64 out), softsign, tanhshrink, softmin, reflect and replicate padding, and a
    bool operand of l1, multilabel soft margin, Gaussian NLL, margin ranking and triplet losses was cast to float;
    PyTorch has no such kernel or refuses bool subtraction (NotImplementedError / RuntimeError). softmin negates
    before its dtype cast, as PyTorch (a uint8 -x wraps round). Circular padding and mse_loss take bools in both."""
    _same(lambda s: call(s, BOOLS))


@pytest.mark.parametrize("a, b", [("uint8", "uint8"), ("int64", "float16"), ("int32", "float64"),
                                  ("float32", "float32")])
def test_pairwise_distance_subtracts_in_pytorchs_dtype(a: str, b: str) -> None:
    """pairwise_distance turned integers into float32 before x1 - x2: uint8 inputs gave the true distance where
    PyTorch's uint8 difference wraps round, and an int64 with a float16 gave float32 (PyTorch: float16)."""
    x1, x2 = _a((3, 4), a, 1, 0, 9), _a((3, 4), b, 2, 0, 9)
    _same(lambda s: s.F.pairwise_distance(s.t(x1), s.t(x2)), 2e-3)
    _same(lambda s: s.nn.PairwiseDistance()(s.t(x1), s.t(x2)), 2e-3)


@pytest.mark.parametrize("q, kv", [("float16", "float32"), ("float32", "float16"), ("float16", "float16")])
def test_attention_of_a_float16_query_refuses_float32_keys(q: str, kv: str) -> None:
    """scaled_dot_product_attention widened a float16 query to float32 with float32 keys and values and gave
    float16; PyTorch refuses the mix, as for every other pair (RuntimeError)."""
    query, key = _a((1, 2, 3, 4), q), _a((1, 2, 3, 4), kv, 1)
    _same(lambda s: s.F.scaled_dot_product_attention(s.t(query), s.t(key), s.t(key)), 2e-3)


@pytest.mark.parametrize("x, t, w", [("float16", "float16", "float32"), ("float16", "float32", "float64"),
                                     ("float32", "float32", "float64"), ("float32", "float16", None)])
def test_soft_cross_entropy_promotes_with_a_float_weight(x: str, t: str, w: str | None) -> None:
    """cross_entropy against class probabilities cast a float weight to the input's dtype; PyTorch's product
    promotes (float16 logits with a float32 weight give float32)."""
    logits, target = _a((4, 3), x), _a((4, 3), t, 3) ** 2
    weight = None if w is None else np.abs(_a((3,), w, 2)) + 0.1
    _same(lambda s: s.F.cross_entropy(s.t(logits), s.t(target), weight=s.t(weight)), 2e-3)


@pytest.mark.parametrize("dtype", ["int64", "int32", "int8", "uint8", "bool", "complex64", "float32"])
def test_nearest_interpolation_and_fold_take_pytorchs_dtypes(dtype: str) -> None:
    """Nearest interpolation (F.interpolate, nn.Upsample) took any dtype and unfold/fold any integers; PyTorch's
    nearest kernels take floats and uint8, im2col/col2im floats, complex and bool (NotImplementedError)."""
    x = _a((1, 2, 4, 4), dtype, 1, 0, 9) if dtype != "complex64" else _a((1, 2, 4, 4), "float32").astype(dtype)
    for mode in ("nearest", "nearest-exact"):
        _same(lambda s, mode=mode: s.F.interpolate(s.t(x), scale_factor=2, mode=mode))
        _same(lambda s, mode=mode: s.F.interpolate(s.t(x[0]), size=6, mode=mode))
    _same(lambda s: s.nn.Upsample(scale_factor=2)(s.t(x)))
    _same(lambda s: s.F.unfold(s.t(x), (2, 2)))
    _same(lambda s: s.F.fold(s.t(x.reshape(1, 8, 4)), (3, 3), (2, 2)))


@pytest.mark.parametrize("a, b", [("int64", "float32"), ("bool", "float64"), ("uint8", "float16"), ("int64", "int64"),
                                  ("float16", "float32")])
def test_cosine_similarity_casts_an_integer_to_the_others_float(a: str, b: str) -> None:
    """cosine_similarity refused an integer (or bool) tensor beside a float one; PyTorch casts both to their common
    floating dtype (two integers: RuntimeError)."""
    x1, x2 = _a((3, 4), a, 1, 0, 3), _a((3, 4), b, 2, 0, 3)
    _same(lambda s: s.F.cosine_similarity(s.t(x1), s.t(x2)), 2e-3)
    _same(lambda s: s.nn.CosineSimilarity()(s.t(x2), s.t(x1)), 2e-3)


@pytest.mark.parametrize("a, b", [("int64", "float16"), ("int32", "float32"), ("float32", "int64"),
                                  ("int64", "int64")])
def test_pointwise_losses_of_an_integer_input_take_the_targets_float(a: str, b: str) -> None:
    """mse_loss, l1_loss and the other pointwise losses kept a float target's dtype for an integer target but
    promoted an integer input with a float target by NumPy's rule (int64 with float32: float64); PyTorch promotes by
    category both ways (float32)."""
    x, y = _a((3, 4), a, 1, 0, 5), _a((3, 4), b, 2, 0, 5)
    for loss in ("mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss"):
        _same(lambda s, loss=loss: getattr(s.F, loss)(s.t(x), s.t(y)), 2e-3)
