"""Every loss of nn.functional against torch.nn.functional: the cases a round-15 differential fuzz (random shapes,
dtypes, reductions, weights, broadcasting targets, empty batches, gradients and double backward of each loss,
ctc_loss, AdaptiveLogSoftmaxWithLoss and linear_cross_entropy) found differing from PyTorch 2.13, each compared
with live torch."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")
F, TF = nn.functional, torch.nn.functional


@pytest.mark.parametrize(("name", "shapes", "kwargs"), [
    ("binary_cross_entropy_with_logits", [(3,), (3,)], {"weight": (2, 3)}),
    ("binary_cross_entropy_with_logits", [(3,), (3,)], {"pos_weight": (2, 1)}),
    ("binary_cross_entropy_with_logits", [(), ()], {"weight": (3, 2)}),
    ("binary_cross_entropy", [(2, 3), (2, 3)], {"weight": (2, 1, 1)}),   # ours: ValueError only
    ("soft_margin_loss", [(3, 1), (1, 2)], {}),                           # ours: a (3, 2) loss
    ("soft_margin_loss", [(2,), (2, 1, 2)], {}),
])
def test_operand_must_broadcast_to_the_input_shape(name: str, shapes: list, kwargs: dict) -> None:
    # torch's kernels multiply in place into an input-shaped tensor: a weight, pos_weight or target that would grow
    # the loss is a RuntimeError; ours broadcast the loss to the larger shape
    rng = np.random.default_rng(1)
    arrays = [rng.uniform(0.1, 0.9, s) for s in shapes]
    extra = {key: rng.uniform(0.5, 2, s) for key, s in kwargs.items()}
    with pytest.raises(RuntimeError):
        getattr(TF, name)(*map(torch.tensor, arrays), **{k: torch.tensor(v) for k, v in extra.items()})
    with pytest.raises(RuntimeError, match=name):
        getattr(F, name)(*map(mg.tensor, arrays), **{k: mg.tensor(v) for k, v in extra.items()})


@pytest.mark.parametrize(("input_shape", "target_shape", "weighted"), [
    ((1, 3), (2, 1, 1), False),   # the loss broadcasts to (2, 1, 3): torch sums its dim 1, the input's class dim
    ((3,), (1, 3, 1), True),
    ((2,), (3, 1), False),
    ((0,), (2, 1), True),         # no class: torch's sum of nothing is 0, ours was 0/0
])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_multilabel_soft_margin_sums_the_inputs_class_dim(input_shape: tuple, target_shape: tuple, weighted: bool,
                                                        reduction: str) -> None:
    rng = np.random.default_rng(2)
    x, t = rng.standard_normal(input_shape), (rng.random(target_shape) > 0.5).astype(np.float64)
    w = rng.uniform(0.5, 2, input_shape[-1:]) if weighted else None
    xt, xm = torch.tensor(x, requires_grad=True), mg.tensor(x, requires_grad=True)
    expected = TF.multilabel_soft_margin_loss(xt, torch.tensor(t), weight=None if w is None else torch.tensor(w),
                                              reduction=reduction)
    got = F.multilabel_soft_margin_loss(xm, mg.tensor(t), weight=None if w is None else mg.tensor(w),
                                        reduction=reduction)
    assert got.shape == tuple(expected.shape)
    np.testing.assert_allclose(got.numpy(), expected.detach().numpy(), rtol=1e-12)
    expected.sum().backward()
    got.sum().backward()
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("log_input", [True, False])
def test_poisson_nll_full_target_gradient_is_torchs(log_input: bool) -> None:
    # the Stirling term is masked where target <= 1 (torch's masked_fill): torch's target gradient is NaN where the
    # target is 0 or negative (0·log 0) and the plain term's elsewhere; ours was finite at 0
    x, t = np.array([0.5, 1.0, 2.0, 1.5, 3.0]), np.array([0.0, 1.0, 0.5, 3.0, -1.0])
    xt, tt = torch.tensor(x, requires_grad=True), torch.tensor(t, requires_grad=True)
    xm, tm = mg.tensor(x, requires_grad=True), mg.tensor(t, requires_grad=True)
    expected = TF.poisson_nll_loss(xt, tt, log_input=log_input, full=True, reduction="sum")
    got = F.poisson_nll_loss(xm, tm, log_input=log_input, full=True, reduction="sum")
    np.testing.assert_allclose(got.item(), expected.item(), rtol=1e-12)
    expected.backward()
    got.backward()
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(tm.grad.numpy(), tt.grad.numpy(), rtol=1e-12)   # NaN where torch's is


def _ctc_inputs() -> tuple:
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((5, 2, 4))
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return log_probs, np.array([[1, 2, 2], [3, 1, 0]]), np.array([5, 4]), np.array([3, 2])


@pytest.mark.parametrize("which", [2, 3])
def test_ctc_float_lengths_raise_runtime_error(which: int) -> None:
    # torch: "input_lengths must be integral" (RuntimeError); ours was a TypeError only
    args = list(_ctc_inputs())
    args[which] = args[which].astype(np.float64)
    with pytest.raises(RuntimeError):
        TF.ctc_loss(*map(torch.tensor, args))
    with pytest.raises(RuntimeError, match="ctc_loss: .*lengths must be integers"):
        F.ctc_loss(*map(mg.tensor, args))


@pytest.mark.parametrize(("name", "dtypes"), [
    ("poisson_nll_loss", ["int64", "int64"]),                     # float32, as torch's int.exp()
    ("poisson_nll_loss", ["int64", "float64"]),
    ("gaussian_nll_loss", ["int64", "int64", "float64"]),
    ("gaussian_nll_loss", ["int32", "float32", "float32"]),
    ("margin_ranking_loss", ["int64", "int64", "int64"]),
    ("margin_ranking_loss", ["float32", "int64", "int64"]),        # ours was float64 (NumPy's f32 - int64)
    ("cosine_embedding_loss", ["int64", "int64", "int64"]),
    ("cosine_embedding_loss", ["int64", "float64", "int64"]),
    ("triplet_margin_loss", ["int64", "int64", "float64"]),
    ("triplet_margin_loss", ["int64", "float32", "int64"]),
    ("smooth_l1_loss", ["int64", "float32"]),
])
def test_integer_inputs_are_promoted_as_torchs(name: str, dtypes: list) -> None:
    # torch's composite losses turn integer inputs into floats; ours refused them (InputDtypeError)
    rng = np.random.default_rng(4)
    arrays = []
    for i, dtype in enumerate(dtypes):
        shape = (3,) if name == "cosine_embedding_loss" and i == 2 else (3, 4)
        signs = name in ("margin_ranking_loss", "cosine_embedding_loss") and i == 2
        arrays.append((rng.choice([-1, 1], shape) if signs else rng.integers(0, 4, shape)).astype(dtype))
    for reduction in ("none", "sum"):
        expected = getattr(TF, name)(*map(torch.tensor, arrays), reduction=reduction)
        got = getattr(F, name)(*map(mg.tensor, arrays), reduction=reduction)
        assert got.dtype == expected.numpy().dtype
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6)


@pytest.mark.parametrize("full", [False, True])
def test_gaussian_nll_infinite_var_and_input(full: bool) -> None:
    # the clamp to eps was var + (clamped - var): an infinite var gave inf - inf = NaN, where torch's is inf
    x = np.array([[np.inf, 1.0, 0.5], [2.0, -np.inf, 0.0]])
    t = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 0.0]])
    var = np.array([[1.0, np.inf, 1e-9], [np.inf, 0.5, 0.0]])
    xt, vt = torch.tensor(x, requires_grad=True), torch.tensor(var, requires_grad=True)
    xm, vm = mg.tensor(x, requires_grad=True), mg.tensor(var, requires_grad=True)
    expected = TF.gaussian_nll_loss(xt, torch.tensor(t), vt, full=full, eps=1e-6, reduction="none")
    got = F.gaussian_nll_loss(xm, mg.tensor(t), vm, full=full, eps=1e-6, reduction="none")
    np.testing.assert_allclose(got.numpy(), expected.detach().numpy(), rtol=1e-12)
    expected.sum().backward()
    got.sum().backward()
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(vm.grad.numpy(), vt.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize(("shapes"), [
    [(3, 4), (3, 4), ()], [(4,), (4,), (3,)], [(3, 4), (3, 4), (3, 1)], [(3, 4), (4,), (3,)]])
def test_cosine_embedding_dims_error_is_runtime_error(shapes: list) -> None:
    # torch: RuntimeError ("1D target tensor expects 2D input tensors"); ours was a ValueError only
    arrays = [np.ones(s) for s in shapes]
    with pytest.raises(RuntimeError):
        TF.cosine_embedding_loss(*map(torch.tensor, arrays))
    with pytest.raises(RuntimeError, match="cosine_embedding_loss: expected inputs"):
        F.cosine_embedding_loss(*map(mg.tensor, arrays))


@pytest.mark.parametrize(("name", "label_smoothing"), [
    ("nll_loss", 0.0), ("cross_entropy", 0.0), ("cross_entropy", 0.2)])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_ignored_targets_ignore_a_non_finite_class_weight(name: str, reduction: str, label_smoothing: float,
                                                          bad: float) -> None:
    # 1/frequency class weights give the never-seen padding class 0 an inf weight; with ignore_index=0 torch skips
    # those rows, ours multiplied their 0 by inf (NaN loss, NaN gradients)
    rng = np.random.default_rng(5)
    x, t, w = rng.standard_normal((4, 3)), np.array([0, 1, 2, 0]), np.array([bad, 1.0, 2.0])
    extra = {"label_smoothing": label_smoothing} if label_smoothing else {}
    xt, xm = torch.tensor(x, requires_grad=True), mg.tensor(x, requires_grad=True)
    expected = getattr(TF, name)(xt, torch.tensor(t), weight=torch.tensor(w), ignore_index=0, reduction=reduction,
                                 **extra)
    got = getattr(F, name)(xm, mg.tensor(t), weight=mg.tensor(w), ignore_index=0, reduction=reduction, **extra)
    np.testing.assert_allclose(got.numpy(), expected.detach().numpy(), rtol=1e-12)
    expected.sum().backward()
    got.sum().backward()
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(("x", "target", "weight", "p"), [
    ([[0.5, 0.2, 0.1], [0.3, 0.0, 0.4]], [0, 1], [1.0, np.inf, 2.0], 1),   # inf weight of a row with no term > 0
    ([[0.5], [0.4]], [0, 0], [np.nan], 1),                                   # one class: no term at all
    ([[-0.5, 0.0, -np.inf], [0.2, 0.1, 0.3]], [2, 0], None, 2),              # x_y = -inf: torch's grad is -inf
    ([[np.nan, -0.2, -np.inf], [0.2, 0.1, 0.3]], [1, 0], [0.4, -np.inf, 0.1], 2),
])
@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_multi_margin_counts_only_terms_above_zero(x: list, target: list, weight: list | None, p: int,
                                                   reduction: str) -> None:
    # torch's kernel adds w_y·z^p only where z > 0; ours multiplied every term by the weight (inf·0 = NaN) and
    # squared the masked-out NaN z (a NaN gradient)
    x, target = np.array(x), np.array(target)
    w = None if weight is None else np.array(weight)
    xt, xm = torch.tensor(x, requires_grad=True), mg.tensor(x, requires_grad=True)
    expected = TF.multi_margin_loss(xt, torch.tensor(target), p=p, weight=None if w is None else torch.tensor(w),
                                    reduction=reduction)
    got = F.multi_margin_loss(xm, mg.tensor(target), p=p, weight=None if w is None else mg.tensor(w),
                              reduction=reduction)
    np.testing.assert_allclose(got.numpy(), expected.detach().numpy(), rtol=1e-12)
    expected.sum().backward()
    got.sum().backward()
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float16, np.int64])
def test_ctc_log_probs_dtype_error_is_not_implemented_error(dtype: type) -> None:
    # torch: "ctc_loss_cpu" not implemented for 'Half' (NotImplementedError); ours was a TypeError only
    args = list(_ctc_inputs())
    args[0] = args[0].astype(dtype)
    with pytest.raises(NotImplementedError):
        TF.ctc_loss(*map(torch.tensor, args))
    with pytest.raises(NotImplementedError, match="ctc_loss: log_probs must be float32 or float64"):
        F.ctc_loss(*map(mg.tensor, args))


@pytest.mark.parametrize(("dtype", "acc_dtype", "reduction"), [
    ("float32", "float64", "mean"), ("float64", "float32", "none"), ("float64", "float32", "sum")])
def test_linear_cross_entropy_chunked_acc_dtype_must_fit_the_input(dtype: str, acc_dtype: str, reduction: str) -> None:
    # torch's chunked path takes acc_dtype = the input's dtype (or float32 for half inputs): RuntimeError otherwise;
    # ours ignored it
    rng = np.random.default_rng(6)
    x, w, t = rng.standard_normal((4, 3)).astype(dtype), rng.standard_normal((5, 3)).astype(dtype), np.arange(4)
    options = torch.nn.LinearCrossEntropyOptions(acc_dtype=getattr(torch, acc_dtype))
    with pytest.raises(RuntimeError):
        TF.linear_cross_entropy(torch.tensor(x), torch.tensor(w), torch.tensor(t), reduction=reduction,
                                options=options)
    ours = nn.LinearCrossEntropyOptions(acc_dtype=getattr(mg, acc_dtype))
    with pytest.raises(RuntimeError, match="acc_dtype"):
        F.linear_cross_entropy(mg.tensor(x), mg.tensor(w), mg.tensor(t), reduction=reduction, options=ours)
    # the input's own dtype is fine, and gives torch's values
    options = torch.nn.LinearCrossEntropyOptions(acc_dtype=getattr(torch, dtype))
    ours = nn.LinearCrossEntropyOptions(acc_dtype=getattr(mg, dtype))
    expected = TF.linear_cross_entropy(torch.tensor(x), torch.tensor(w), torch.tensor(t), reduction=reduction,
                                       options=options)
    got = F.linear_cross_entropy(mg.tensor(x), mg.tensor(w), mg.tensor(t), reduction=reduction, options=ours)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5)


@pytest.mark.parametrize(("name", "target"), [
    ("mse_loss", "int"), ("huber_loss", "int"), ("smooth_l1_loss", "int"), ("binary_cross_entropy", "int"),
    ("binary_cross_entropy_with_logits", "float"), ("multilabel_soft_margin_loss", "float"),
    ("cross_entropy", "classes"), ("nll_loss", "classes"), ("multi_margin_loss", "classes"),
    ("multilabel_margin_loss", "float"),
])
def test_integer_input_of_a_loss_kernel_is_not_implemented_error(name: str, target: str) -> None:
    # torch: "mse_cpu" not implemented for 'Long' (NotImplementedError); ours raised InputDtypeError (TypeError,
    # RuntimeError), and nll_loss computed a float64 loss from int64 log-probabilities
    x = np.array([[1, 0, 1], [0, 1, 1]])
    t = {"int": x, "float": x.astype(np.float64), "classes": np.array([0, 2])}[target]
    with pytest.raises(NotImplementedError):
        getattr(TF, name)(torch.tensor(x), torch.tensor(t))
    with pytest.raises(NotImplementedError, match=f"{name}: input"):
        getattr(F, name)(mg.tensor(x), mg.tensor(t))
