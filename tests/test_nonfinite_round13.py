"""NaN/Inf in a training loop, against torch: losses over masked (-inf) or bad rows that are ignored, the robust
losses at ±inf, Rprop on a NaN gradient, and detect_anomaly's check_nan. (Clipping, the other optimizers, GradScaler
and the normalisations at zero variance agreed with torch when probed; a few are pinned here as well.)"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn
from nn import functional as F

torch = pytest.importorskip("torch", reason="no torch")
TF = torch.nn.functional

INF, NAN = float("inf"), float("nan")


def _same(ours, theirs) -> None:
    """Values equal, NaN where torch has NaN, infinities of the same sign."""
    ours = ours.numpy() if hasattr(ours, "numpy") and not isinstance(ours, np.ndarray) else np.asarray(ours)
    theirs = theirs.detach().numpy()
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6, equal_nan=True)


def _loss_and_grad(call, inputs: np.ndarray) -> None:
    """``call(functional, library, x)`` with minigrad's and torch's: the losses and the gradients agree."""
    x = mg.tensor(inputs, requires_grad=True)
    t = torch.tensor(inputs, requires_grad=True)
    ours, theirs = call(F, mg, x), call(TF, torch, t)
    _same(ours, theirs)
    ours.sum().backward()
    theirs.sum().backward()
    _same(x.grad, t.grad)


@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_ignored_rows_with_masked_or_nan_logits_count_for_nothing(label_smoothing: float) -> None:
    # row 0's target is ignored and its logits hold -inf (a masked position) or NaN: the loss was NaN before
    for bad in (-INF, NAN):
        logits = np.array([[bad, 1.0, 2.0], [0.0, 3.0, 1.0], [1.0, 1.0, bad]], np.float32)
        for reduction in ("mean", "sum", "none"):
            for weight in (None, [1.0, 2.0, 0.5]):
                _loss_and_grad(lambda F, lib, x, weight=weight, reduction=reduction: F.cross_entropy(
                    x, lib.tensor([0, 1, 0]), weight=None if weight is None else lib.tensor(weight), ignore_index=0,
                    reduction=reduction, label_smoothing=label_smoothing), logits)
    # the (N, C, T) layout, ignore_index=-100, and an ignored row that is -inf everywhere
    seq = np.array([[[-INF, 1.0], [-INF, 2.0], [-INF, 0.0]]], np.float32)
    _loss_and_grad(lambda F, lib, x: F.cross_entropy(x, lib.tensor([[-100, 1]]), label_smoothing=label_smoothing), seq)


def test_nll_loss_skips_an_ignored_minus_inf() -> None:
    log_probs = np.array([[-INF, -1.0], [-0.5, -2.0]], np.float32)
    for reduction in ("mean", "sum", "none"):
        _loss_and_grad(lambda F, lib, x, reduction=reduction: F.nll_loss(
            x, lib.tensor([0, 1]), ignore_index=0, reduction=reduction), log_probs)
    # a target that is not ignored still gets the -inf: inf loss, as torch
    _loss_and_grad(lambda F, lib, x: F.nll_loss(x, lib.tensor([0, 1])), log_probs)


@pytest.mark.parametrize("name", ["smooth_l1_loss", "huber_loss"])
def test_robust_losses_have_finite_gradients_at_infinity_and_nan_at_nan(name: str) -> None:
    # |d| = inf is on the linear side: gradient ±1/N (the square's unused branch gave 0·inf = NaN); NaN stays NaN
    prediction = np.array([INF, -INF, NAN, 0.5, -3.0, 1.0], np.float32)
    target = np.zeros(6, np.float32)
    width = {"beta": 0.5} if name == "smooth_l1_loss" else {"delta": 2.0}
    for options in ({"reduction": "mean"}, {"reduction": "none"}, width):
        _loss_and_grad(lambda F, lib, x, options=options: getattr(F, name)(x, lib.tensor(target), **options),
                       prediction)


def test_rprop_reads_a_nan_gradient_as_torch_sign_does() -> None:
    # torch.sign(nan) is 0: the entry neither steps nor changes its step size (NumPy's sign made it NaN forever);
    # a product that underflows to 0 also counts as no sign
    grads = [[1.0, 1.0, 1e-30], [NAN, 1.0, 1e-30], [1.0, INF, 1.0], [1.0, -1.0, 1.0], [1.0, 1.0, 1.0]]
    w = nn.Parameter(mg.tensor([1.0, 2.0, 3.0]))
    tw = torch.nn.Parameter(torch.tensor([1.0, 2.0, 3.0]))
    ours, theirs = nn.optim.Rprop([w], lr=0.1), torch.optim.Rprop([tw], lr=0.1)
    for g in grads:
        w.grad, tw.grad = mg.tensor(g), torch.tensor(g)
        ours.step()
        theirs.step()
        _same(w.detach(), tw)
        _same(ours.state[w]["step_size"], theirs.state[tw]["step_size"])
        _same(ours.state[w]["prev"], theirs.state[tw]["prev"])
    assert np.isfinite(w.numpy()).all()


def test_other_optimizers_spread_a_nan_gradient_as_torch() -> None:
    g = np.array([[0.1, NAN, -0.3], [INF, 0.2, 0.4]], np.float32)
    for name, options in [("Adam", {}), ("Adam", {"amsgrad": True}), ("SGD", {"momentum": 0.9}), ("RMSprop", {}),
                          ("Adagrad", {}), ("NAdam", {})]:
        w = nn.Parameter(mg.ones(2, 3))
        tw = torch.nn.Parameter(torch.ones(2, 3))
        ours = getattr(nn.optim, name)([w], lr=0.1, **options)
        theirs = getattr(torch.optim, name)([tw], lr=0.1, **options)
        for step in range(2):
            w.grad, tw.grad = mg.tensor(g * (step + 1)), torch.tensor(g * (step + 1))
            ours.step()
            theirs.step()
        _same(w.detach(), tw)
        for key, value in theirs.state[tw].items():
            if value.ndim:
                _same(ours.state[w][key], value)


def test_clip_grad_norm_with_non_finite_gradients() -> None:
    for bad in (NAN, INF, -INF):
        for norm_type in (2.0, 1.0, INF):
            ps = [nn.Parameter(mg.zeros(2)), nn.Parameter(mg.zeros(1))]
            tps = [torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(1))]
            for p, tp, g in zip(ps, tps, ([1.0, bad], [2.0])):
                p.grad, tp.grad = mg.tensor(g), torch.tensor(g)
            total = nn.utils.clip_grad_norm_(ps, 1.0, norm_type=norm_type)
            _same(total, torch.nn.utils.clip_grad_norm_(tps, 1.0, norm_type=norm_type))
            for p, tp in zip(ps, tps):
                _same(p.grad, tp.grad)   # an inf total scales every gradient by 0 (inf · 0 = NaN), as torch
            before = ps[1].grad.numpy().copy()
            with pytest.raises(RuntimeError, match="error_if_nonfinite"):
                nn.utils.clip_grad_norm_(ps, 1.0, norm_type=norm_type, error_if_nonfinite=True)
            np.testing.assert_array_equal(ps[1].grad.numpy(), before)   # nothing scaled before the error


def test_detect_anomaly_takes_check_nan_and_refuses_false_as_set_detect_anomaly() -> None:
    with mg.autograd.detect_anomaly(check_nan=True):
        assert mg.is_anomaly_enabled()
    with pytest.raises(NotImplementedError, match="check_nan=False"):
        mg.autograd.detect_anomaly(check_nan=False)
    assert not mg.is_anomaly_enabled()
