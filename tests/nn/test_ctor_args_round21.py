"""Round 21: hostile and unusual constructor arguments of ``nn`` modules, compared with torch 2.13.

Found by an offline differential fuzzer (every nn module class both namespaces have, each constructor argument
replaced by hostile values: 0, negatives, floats, bools, None, NaN/inf, strings, wrong-length tuples, NumPy
scalars, 0-d tensors, huge ints; then a forward with torch's weights copied). One test per root cause.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import nn

RNG = np.random.default_rng(21)


def _outcome(lib: Any, build: Callable, shape: tuple) -> Any:
    """The module ``build(lib.nn)`` run on a float64 input of ``shape`` (the same values for both libraries):
    its output, or the exception its constructor or forward raised."""
    x = np.random.default_rng(0).standard_normal(shape)
    try:
        module = build(lib.nn)
        return module(lib.tensor(x))
    except Exception as error:   # noqa: BLE001 - the class is what is compared
        return error


# --- a one-element size tuple is not spread over 2 or 3 dims where PyTorch's module does not spread it ---------
# (PyTorch's C++ convolutions and pools do spread (k,) for stride/padding/dilation, and minigrad keeps that; but a
# convolution module's kernel_size (1,) makes a weight of the wrong rank, F.pad takes (1,) as an odd amount list,
# lp_pool2d unpacks kernel_size into two sizes and fractional max pooling's C++ check wants 2 or 3 sizes. minigrad
# spread each to every dim and returned a result where PyTorch raises.)

@pytest.mark.parametrize("build, shape", [
    (lambda n: n.ConstantPad1d((1,), 0.5), (2, 3, 4)),
    (lambda n: n.ConstantPad2d((1,), 0.5), (2, 3, 4)),
    (lambda n: n.ZeroPad2d((2,)), (1, 2, 3, 4)),
    (lambda n: n.ReflectionPad2d((1,)), (1, 2, 3, 4)),
    (lambda n: n.ReplicationPad3d((1,)), (1, 2, 3, 4, 5)),
    (lambda n: n.CircularPad1d((1,)), (2, 3, 4)),
    (lambda n: n.Conv2d(2, 3, (1,)).double(), (1, 2, 4, 4)),
    (lambda n: n.Conv3d(2, 3, [2]).double(), (1, 2, 3, 3, 3)),
    (lambda n: n.ConvTranspose2d(2, 3, (2,)).double(), (1, 2, 4, 4)),
    (lambda n: n.LazyConv2d(3, (1,)).double(), (1, 2, 4, 4)),
    (lambda n: n.LazyConvTranspose3d(3, (1,)).double(), (1, 2, 3, 3, 3)),
    (lambda n: n.FractionalMaxPool2d((1,), output_size=2), (1, 2, 4, 4)),
    (lambda n: n.LPPool2d(2, (1,)), (1, 2, 4, 4)),
    (lambda n: n.LPPool2d(2, (2, 2, 2)), (1, 2, 4, 4)),
    (lambda n: n.LPPool3d(2, (2,)), (1, 2, 4, 4, 4)),
])
def test_one_element_size_tuple_refused_as_torch(torch: Any, build: Callable, shape: tuple) -> None:
    expected = _outcome(torch, build, shape)
    assert isinstance(expected, Exception), "torch accepts this call: the case is no longer a refusal"
    ours = _outcome(mg, build, shape)
    assert isinstance(ours, type(expected)), f"ours {ours!r}, torch {type(expected).__name__}: {expected}"


def test_one_element_tuples_still_spread_where_torch_spreads(torch: Any) -> None:
    """stride/padding/dilation (k,) of a Conv2d module still stand for every dim, as PyTorch's C++ op takes them."""
    def build(n: Any) -> Any:
        torch.manual_seed(0)
        return n.Conv2d(2, 3, 3, stride=(2,), padding=(1,), dilation=(1,)).double()
    theirs = build(torch.nn)
    ours = build(nn)
    ours.load_state_dict({k: mg.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    x = RNG.standard_normal((1, 2, 5, 5))
    np.testing.assert_allclose(ours(mg.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(), rtol=1e-12)


# --- a one-element padding with a non-zero padding_mode: PyTorch's module pads with the 2 amounts as given, and
# its F.pad refuses 2 amounts in a non-constant mode for a 4-D or 5-D input; minigrad padded every dim ------------

@pytest.mark.parametrize("cls, mode, shape", [
    ("Conv2d", "reflect", (2, 4, 6, 6)), ("Conv2d", "replicate", (2, 4, 6, 6)), ("Conv2d", "circular", (2, 4, 6, 6)),
    ("Conv3d", "reflect", (1, 4, 4, 4, 4)), ("Conv3d", "circular", (1, 4, 4, 4, 4)),
])
def test_conv_one_element_padding_with_padding_mode(torch: Any, cls: str, mode: str, shape: tuple) -> None:
    def build(n: Any) -> Any:
        return getattr(n, cls)(4, 2, 3, padding=(1,), padding_mode=mode).double()
    expected = _outcome(torch, build, shape)
    assert isinstance(expected, NotImplementedError), f"torch: {expected!r}"
    ours = _outcome(mg, build, shape)
    assert isinstance(ours, NotImplementedError), f"ours {ours!r}"


# --- a NaN bound or eps: every value NaN, as PyTorch's clamp (minigrad's comparisons skipped the NaN bound) ---

@pytest.mark.parametrize("build, shape", [
    (lambda n: n.Hardtanh(float("nan"), 1.0), (3, 4)),
    (lambda n: n.Hardtanh(-1.0, float("nan")), (3, 4)),
    (lambda n: n.Hardtanh(min_val=float("nan"), max_val=float("nan")), (3, 4)),
])
def test_hardtanh_nan_bound(torch: Any, build: Callable, shape: tuple) -> None:
    """(Values only: PyTorch's gradient at a NaN bound differs between its vectorised and scalar CPU loops.)"""
    x = RNG.standard_normal(shape) * 2
    out, expected = build(nn)(mg.tensor(x)), build(torch.nn)(torch.tensor(x))
    np.testing.assert_array_equal(np.isnan(out.numpy()), np.isnan(expected.numpy()))
    assert np.isnan(out.numpy()).all()


def test_gaussian_nll_loss_nan_eps(torch: Any) -> None:
    x, t, v = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3)), RNG.uniform(0.1, 1.0, (4, 3))
    for reduction in ("mean", "none"):
        out = nn.GaussianNLLLoss(eps=float("nan"), reduction=reduction)(mg.tensor(x), mg.tensor(t), mg.tensor(v))
        expected = torch.nn.GaussianNLLLoss(eps=float("nan"), reduction=reduction)(
            torch.tensor(x), torch.tensor(t), torch.tensor(v))
        np.testing.assert_array_equal(np.isnan(out.numpy()), np.isnan(expected.numpy()))
        assert np.isnan(out.numpy()).all()


# --- out-of-range hyperparameters PyTorch refuses at the call: minigrad returned NaN -----------------------------

@pytest.mark.parametrize("build, shapes", [
    (lambda n: n.CosineSimilarity(eps=-1.0), [(3, 4), (3, 4)]),
    (lambda n: n.CosineSimilarity(eps=float("nan")), [(3, 4), (3, 4)]),
    (lambda n: n.RReLU(float("nan"), 0.3), [(3, 4)]),
    (lambda n: n.RReLU(float("-inf"), 0.3), [(3, 4)]),
    (lambda n: n.RReLU(0.1, float("inf")), [(3, 4)]),
    (lambda n: n.RReLU(0.1, float("nan")).eval(), [(3, 4)]),
    (lambda n: n.HuberLoss(delta=float("nan")), [(3, 4), (3, 4)]),
    (lambda n: n.SmoothL1Loss(beta=float("nan")), [(3, 4), (3, 4)]),
    (lambda n: n.HuberLoss(delta=0.0), [(3, 4), (3, 4)]),
    (lambda n: n.SmoothL1Loss(beta=-1.0), [(3, 4), (3, 4)]),
])
def test_non_finite_or_negative_hyperparameter_refused(torch: Any, build: Callable, shapes: list) -> None:
    arrays = [RNG.standard_normal(s) for s in shapes]
    with pytest.raises(RuntimeError) as theirs:
        build(torch.nn)(*[torch.tensor(a) for a in arrays])
    with pytest.raises(RuntimeError, match="must be"):   # (PyTorch's message reads differently for some)
        build(nn)(*[mg.tensor(a) for a in arrays])
    assert theirs.value is not None


# --- CrossMapLRN2d size below 1: PyTorch's legacy running sum gives no window sum for it (its values are of the
# window-matrix formula minigrad uses only from size 1 on); refused instead of a different answer ---------------

@pytest.mark.parametrize("size", [-1, 0.5, -(2 ** 63)])
def test_cross_map_lrn2d_size_below_one_refused(size: float) -> None:
    with pytest.raises(ValueError, match="size must be at least 1"):
        nn.CrossMapLRN2d(size)(mg.tensor(RNG.standard_normal((2, 4, 3, 3))))


def test_cross_map_lrn2d_sizes_from_one_match(torch: Any) -> None:
    x = RNG.standard_normal((2, 5, 3, 3))
    for size in (1, 2, 2.5, 3):
        np.testing.assert_allclose(nn.CrossMapLRN2d(size)(mg.tensor(x)).numpy(),
                                   torch.nn.CrossMapLRN2d(size)(torch.tensor(x)).numpy(), rtol=1e-10)


# --- dtype= keywords: a floating module against a float64 input, an integer dtype ---------------------------------

@pytest.mark.parametrize("build, shape", [
    # the fused linear + cross entropy promoted mixed dtypes where PyTorch's matmul refuses them
    (lambda lib: lib.nn.LinearCrossEntropyLoss(5, 3, dtype=lib.float32), (4, 5)),
    # MultiheadAttention of an integer dtype: PyTorch's RuntimeError (a parameter that cannot require grad)
    (lambda lib: lib.nn.MultiheadAttention(4, 2, dtype=lib.int64), (2, 4)),
    (lambda lib: lib.nn.TransformerEncoderLayer(4, 2, 8, dtype=lib.bool), (2, 4)),
])
def test_dtype_keyword_refusals(torch: Any, build: Callable, shape: tuple) -> None:
    x = RNG.standard_normal(shape)
    target = np.array([0, 1, 2, 0])[: shape[0]]

    def outcome(lib: Any) -> Any:
        try:
            module = build(lib)
            if isinstance(module, lib.nn.LinearCrossEntropyLoss):
                return module(lib.tensor(x), lib.tensor(target))
            if isinstance(module, lib.nn.MultiheadAttention):
                return module(lib.tensor(x), lib.tensor(x), lib.tensor(x))
            return module(lib.tensor(x))
        except Exception as error:   # noqa: BLE001 - the class is what is compared
            return error

    expected = outcome(torch)
    assert isinstance(expected, RuntimeError), f"torch: {expected!r}"
    ours = outcome(mg)
    assert isinstance(ours, RuntimeError), f"ours {ours!r}, torch {type(expected).__name__}: {expected}"


# --- a sequence layer's bidirectional must be a bool, as its bias and batch_first: PyTorch's forward refuses any
# other (TypeError); minigrad read its truth, so bidirectional="False" built a bidirectional layer ----------------

@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("value", ["False", 1, None, 0.5, (1,)])
def test_recurrent_bidirectional_must_be_bool(torch: Any, cls: str, value: Any) -> None:
    def build(n: Any) -> Any:
        return getattr(n, cls)(3, 4, bidirectional=value).double()
    expected = _outcome(torch, build, (5, 2, 3))
    assert isinstance(expected, TypeError), f"torch: {expected!r}"
    with pytest.raises(TypeError, match="bidirectional should be of type bool"):
        build(nn)


# --- other on/off options read by their truth where PyTorch's forward refuses a non-bool (TypeError): KLDivLoss's
# log_target="False" computed the log-target loss, PairwiseDistance's keepdim="False" kept the dim ---------------

@pytest.mark.parametrize("build, arrays", [
    (lambda n: n.KLDivLoss(reduction="sum", log_target="False"), [np.log([[0.3, 0.7]]), np.log([[0.5, 0.5]])]),
    (lambda n: n.KLDivLoss(reduction="sum", log_target=None), [np.log([[0.3, 0.7]]), np.log([[0.5, 0.5]])]),
    (lambda n: n.PairwiseDistance(keepdim="False"), [np.ones((2, 3)), np.zeros((2, 3))]),
    (lambda n: n.PairwiseDistance(keepdim=0.5), [np.ones((2, 3)), np.zeros((2, 3))]),
    (lambda n: n.Embedding(4, 2, scale_grad_by_freq="False"), [np.array([0, 1])]),
])
def test_on_off_option_must_be_bool(torch: Any, build: Callable, arrays: list) -> None:
    with pytest.raises(TypeError):
        build(torch.nn)(*[torch.tensor(a) for a in arrays])
    with pytest.raises(TypeError, match="must be a bool"):
        build(nn)(*[mg.tensor(a) for a in arrays])


def test_bfloat16_dtype_keyword_named() -> None:
    """minigrad has no bfloat16 (NumPy has none): a layer built with it says so (the message said "object")."""
    for build in (lambda: nn.Linear(2, 3, dtype=mg.bfloat16), lambda: nn.Embedding(3, 2, dtype=mg.bfloat16),
                  lambda: nn.Conv1d(2, 3, 1, dtype=mg.bfloat16)):
        with pytest.raises(TypeError, match="no bfloat16 dtype"):
            build()


@pytest.mark.parametrize("cls, value", [("Embedding", True), ("Embedding", False), ("EmbeddingBag", True)])
def test_embedding_bool_padding_idx_refused(torch: Any, cls: str, value: bool) -> None:
    """PyTorch's forward refuses a bool padding_idx (TypeError); minigrad padded row 1 (or 0)."""
    indices = np.array([[0, 1, 2]])
    with pytest.raises(TypeError):
        getattr(torch.nn, cls)(4, 2, padding_idx=value)(torch.tensor(indices))
    with pytest.raises(TypeError, match="padding_idx must be an int"):
        getattr(nn, cls)(4, 2, padding_idx=value)(mg.tensor(indices))
