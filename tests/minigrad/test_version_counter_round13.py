"""Version counters after an in-place op that saved its result, detach_ of a saved tensor, and in-place shape
changes under no_grad: backward raises where torch's raises, and gives torch's gradient where torch gives one.

Each case runs the same program on torch and on minigrad and compares the outcomes (never a hard-coded one)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")
TF = torch.nn.functional

X = np.random.default_rng(13).uniform(0.2, 0.8, (3, 3))
W = np.random.default_rng(14).uniform(0.2, 0.8, (3, 3))


def _no_grad(lib: Any) -> Any:
    return torch.no_grad() if lib is torch else mg.no_grad()


def _outcome(lib: Any, first: Callable, then: Callable | None, loss: Callable = lambda t: (t * 1.5).sum()) -> Any:
    """Run ``first(lib, t, w)`` on ``t = x * 1`` (x, w leaves), then ``then(lib, t)``, then backward of ``loss(t)``:
    'raise' if backward raises RuntimeError, else the gradients of x and w."""
    x = lib.tensor(X, requires_grad=True)
    w = lib.tensor(W, requires_grad=True)
    t = x * 1.0
    first(lib, t, w)
    if then is not None:
        then(lib, t)
    try:
        loss(t).backward()
    except RuntimeError:
        return "raise"
    return tuple(None if g is None else np.asarray(g.detach().numpy(force=True) if lib is torch else g.numpy())
                 for g in (x.grad, w.grad))


def _same(lib_a: Any, lib_b: Any) -> bool:
    if isinstance(lib_a, str) or isinstance(lib_b, str):
        return lib_a == lib_b
    return all((a is None) == (b is None) and (a is None or np.allclose(a, b, rtol=1e-10, atol=1e-12))
               for a, b in zip(lib_a, lib_b))


def _nograd_mul(lib: Any, t: Any) -> None:
    with _no_grad(lib):
        t.mul_(2.0)


def _nograd_setitem(lib: Any, t: Any) -> None:
    with _no_grad(lib):
        t[0] = 0.7


CHANGES = {   # a later in-place change of the tensor an op wrote
    "grad": lambda lib, t: t.add_(0.5),
    "no_grad": _nograd_mul,
    "view under no_grad": lambda lib, t: _nograd_mul(lib, t[1:]),
    "transposed view": lambda lib, t: t.transpose(0, 1).mul_(2.0),
    "diagonal view": lambda lib, t: t.diagonal().zero_(),
    "detach() alias": lambda lib, t: t.detach().fill_(0.5),
    "setitem under no_grad": lambda lib, t: _nograd_setitem(lib, t),
}

RESULT_SAVERS = {   # in-place ops whose torch derivative reads the result
    "relu_": lambda lib, t, w: t.sub_(0.5).relu_(),
    "sigmoid_": lambda lib, t, w: t.sigmoid_(),
    "tanh_": lambda lib, t, w: t.tanh_(),
    "exp_": lambda lib, t, w: t.exp_(),
    "sqrt_": lambda lib, t, w: t.sqrt_(),
    "rsqrt_": lambda lib, t, w: t.rsqrt_(),
    "reciprocal_": lambda lib, t, w: t.reciprocal_(),
    "exp2_": lambda lib, t, w: t.exp2_(),
    "expm1_": lambda lib, t, w: t.expm1_(),
    "tan_": lambda lib, t, w: t.tan_(),
    "copysign_": lambda lib, t, w: t.copysign_(-2.0),
    "hypot_": lambda lib, t, w: t.hypot_(w),
    "cumprod_": lambda lib, t, w: t.cumprod_(0),
    "sgn_": lambda lib, t, w: t.sgn_(),
    "ldexp_": lambda lib, t, w: t.ldexp_(w),
    "pow_ (tensor exponent)": lambda lib, t, w: t.pow_(w),
    "mul_ then relu_ on a view": lambda lib, t, w: t.mul_(w)[1:].sub_(0.5).relu_(),
}

OLD_VALUE_SAVERS = {   # in-place ops whose torch derivative reads the old value (a copy) or nothing
    "sinh_": lambda lib, t, w: t.sinh_(),
    "acos_": lambda lib, t, w: t.acos_(),
    "erf_": lambda lib, t, w: t.erf_(),
    "log1p_": lambda lib, t, w: t.log1p_(),
    "pow_ (number)": lambda lib, t, w: t.pow_(3.0),
    "mul_": lambda lib, t, w: t.mul_(w),
    "div_": lambda lib, t, w: t.div_(w),
    "clamp_": lambda lib, t, w: t.clamp_(0.3, 0.6),
    "hardtanh_": lambda lib, t, w: TF.hardtanh_(t, 0.3, 0.6) if lib is torch else nn.functional.hardtanh_(t, 0.3, 0.6),
    "threshold_": lambda lib, t, w: (TF if lib is torch else nn.functional).threshold_(t, 0.5, 0.0),
}

NN_INPLACE = {
    "elu_": lambda F, t: F.elu_(t),
    "celu_": lambda F, t: F.celu_(t, 0.7),
    "selu_": lambda F, t: F.selu_(t),
    "leaky_relu_": lambda F, t: F.leaky_relu_(t, 0.1),
    "rrelu_ (eval)": lambda F, t: F.rrelu_(t, training=False),
    "relu(inplace=True)": lambda F, t: F.relu(t, inplace=True),
    "elu(inplace=True) on a view": lambda F, t: F.elu(t[1:], inplace=True),
    "silu(inplace=True)": lambda F, t: F.silu(t, inplace=True),
}


def test_known_bug_relu_then_no_grad_mul_raises() -> None:
    x = mg.randn(3, requires_grad=True)
    w = mg.randn(3, requires_grad=True)
    h = x * w
    h.relu_()
    with mg.no_grad():
        h.mul_(3)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        (h * w).sum().backward()


def test_inplace_ops_that_save_their_result_against_torch() -> None:
    """A later change of the written tensor (in any of CHANGES' ways) raises for the result savers, and gives
    torch's gradient for the others; with no change, every op gives torch's gradient."""
    checked = 0
    for table in (RESULT_SAVERS, OLD_VALUE_SAVERS):
        for name, first in table.items():
            for change_name, change in (*CHANGES.items(), ("none", None)):
                theirs, ours = _outcome(torch, first, change), _outcome(mg, first, change)
                assert _same(theirs, ours), (name, change_name, theirs if isinstance(theirs, str) else "grad",
                                             ours if isinstance(ours, str) else "grad")
                if table is RESULT_SAVERS:
                    assert (theirs == "raise") == (change is not None), (name, change_name)   # the probe is live
                checked += 1
    assert checked == (len(RESULT_SAVERS) + len(OLD_VALUE_SAVERS)) * (len(CHANGES) + 1)


def test_nn_inplace_activations_against_torch() -> None:
    for name, act in NN_INPLACE.items():
        for change_name, change in (("no_grad", _nograd_mul), ("view under no_grad", CHANGES["view under no_grad"]),
                                    ("none", None)):
            outcomes = [_outcome(lib, lambda lib, t, w, F=F, act=act: act(F, t), change)
                        for lib, F in ((torch, TF), (mg, nn.functional))]
            assert _same(*outcomes), (name, change_name)
            if name != "silu(inplace=True)":   # silu_ saves its input (a copy) in torch: no raise
                assert (outcomes[0] == "raise") == (change is not None), (name, change_name)


def test_gradcheck_through_ops_that_keep_their_result() -> None:
    """cumprod_, sgn_, ldexp_ and elu_ end with a node that keeps the result for the version check: gradients stay
    exact (float64 finite differences) and equal torch's."""
    x = mg.tensor(X, requires_grad=True)
    w = mg.tensor(W, requires_grad=True)
    assert mg.gradcheck(lambda a: (a * 1.0).cumprod_(0), (x,))
    assert mg.gradcheck(lambda a, b: (a * 1.0).ldexp_(mg.tensor(W)) * b, (x, w))
    assert mg.gradcheck(lambda a: nn.functional.elu_(a - 0.5), (x,))
    assert mg.gradcheck(lambda a: nn.functional.leaky_relu_(a[1:] - 0.5, 0.2), (x,))
    grads = []   # a second order through the node that keeps the result (WGAN-GP with inplace LeakyReLU)
    for lib, F in ((torch, TF), (mg, nn.functional)):
        a = lib.tensor(X - 0.5, requires_grad=True)
        h = a * 2.0
        F.leaky_relu(h, 0.1, inplace=True)
        (g,) = lib.autograd.grad((h ** 3).sum(), a, create_graph=True)
        (g * g).sum().backward()
        grads.append(np.asarray(a.grad.detach().numpy() if lib is torch else a.grad.numpy()))
    assert np.allclose(*grads, rtol=1e-12)
    for first in (RESULT_SAVERS["cumprod_"], RESULT_SAVERS["sgn_"], RESULT_SAVERS["hypot_"]):
        assert _same(_outcome(torch, first, None, lambda t: (t * t).sum()), _outcome(mg, first, None,
                                                                                     lambda t: (t * t).sum()))


def test_detach_in_place_of_a_saved_tensor() -> None:
    """torch: backward through an op that saved a tensor detached in place raises; an op that saved a view of it
    does not (the view is another tensor); detach_ of a view raises at once."""
    for view in (False, True):
        outcomes = []
        for lib in (torch, mg):
            x = lib.tensor(X, requires_grad=True)
            w = lib.tensor(W, requires_grad=True)
            t = x * 1.0
            y = t[1:] * w[1:] if view else t * w   # mul saved t (or its view)
            t.detach_()
            try:
                y.sum().backward()
                outcomes.append(np.asarray(w.grad.numpy()))
            except RuntimeError as error:
                outcomes.append(str(error))
        assert isinstance(outcomes[0], str) == isinstance(outcomes[1], str) == (not view), (view, outcomes)
        if view:
            assert np.allclose(outcomes[0], outcomes[1])
        else:
            assert "detached in-place" in outcomes[1]
    for lib in (torch, mg):
        t = lib.tensor(X, requires_grad=True) * 1.0
        with pytest.raises(RuntimeError, match="detach views in-place"):
            t[1:].detach_()


@pytest.mark.parametrize("shape, op", [((3, 3), lambda t: t.unsqueeze_(0)), ((3, 3), lambda t: t.unsqueeze_(1)),
                                       ((1, 3), lambda t: t.squeeze_(0)), ((3, 1), lambda t: t.squeeze_(1)),
                                       ((3, 3), lambda t: t.t_()), ((2, 3), lambda t: t.t_()),
                                       ((2, 3), lambda t: t.transpose_(0, 1))])
def test_shape_change_under_no_grad_of_a_non_leaf(shape: tuple, op: Callable) -> None:
    """torch sums the gradient of the new shape down to the old one where it broadcasts (unsqueeze_(0)) and
    raises otherwise; minigrad sent the new shape on, into gradients of the wrong shape ((3, 3, 3) for (3, 3))."""
    base = np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape)
    outcomes = []
    for lib in (torch, mg):
        x = lib.tensor(base, requires_grad=True)
        w = lib.tensor(base + 1.0, requires_grad=True)
        t = x * w
        with _no_grad(lib):
            op(t)
        try:
            (t * lib.tensor(base.reshape(tuple(t.shape)))).sum().backward()
            outcomes.append([np.asarray(g.numpy()) for g in (x.grad, w.grad)])
        except RuntimeError:
            outcomes.append("raise")
    if isinstance(outcomes[0], str):
        assert outcomes[1] == "raise"
    else:
        assert not isinstance(outcomes[1], str)
        for a, b in zip(*outcomes):
            assert a.shape == b.shape and np.allclose(a, b)
