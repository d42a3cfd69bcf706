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


NUMBER_OVER_TENSOR = {   # torch's number / x keeps x's reciprocal (x may change in place); pow(x, n), div(n, x) keep x
    "1 / s": lambda lib, s: 1 / s,
    "2.5 / s": lambda lib, s: 2.5 / s,
    "-3 / s": lambda lib, s: -3 / s,
    "1j / s": lambda lib, s: (1j / s).abs(),
    "1 / complex s": lambda lib, s: (1.0 / (s * (1 + 0.5j))).abs(),
    "reciprocal": lambda lib, s: s.reciprocal(),
    "rsqrt": lambda lib, s: s.rsqrt(),
    "s ** -1": lambda lib, s: s ** -1,
    "s ** -0.5": lambda lib, s: s ** -0.5,
    "div(1, s)": lambda lib, s: lib.div(1.0, s),
    "w / s": lambda lib, s: lib.tensor(W) / s,
}


def _number_over_tensor(lib: Any, op: Callable, change: str) -> Any:
    x = lib.tensor(X, requires_grad=True)
    s = x * 1.0
    y = op(lib, s)
    with _no_grad(lib):
        if change == "input":
            s.mul_(2.0)
        elif change == "output":
            y.mul_(2.0)
    try:
        (y * 1.5).sum().backward()
    except RuntimeError:
        return "raise"
    return (np.asarray(x.grad.numpy()), None)


def test_number_over_a_tensor_keeps_what_torch_keeps() -> None:
    """``c / s`` changed s in place under no_grad: torch gives the gradient (its graph keeps 1/s), minigrad raised;
    the other ops of the table raise or not as torch's."""
    for name, op in NUMBER_OVER_TENSOR.items():
        for change in ("input", "output", "none"):
            theirs, ours = _number_over_tensor(torch, op, change), _number_over_tensor(mg, op, change)
            assert _same(theirs, ours), (name, change, theirs if isinstance(theirs, str) else "grad",
                                         ours if isinstance(ours, str) else "grad")
    assert _number_over_tensor(torch, NUMBER_OVER_TENSOR["1 / s"], "input") != "raise"   # the probes are live
    assert _number_over_tensor(torch, NUMBER_OVER_TENSOR["s ** -1"], "input") == "raise"
    assert _number_over_tensor(torch, NUMBER_OVER_TENSOR["reciprocal"], "output") == "raise"


def test_number_over_a_tensor_values_gradients_and_dtypes() -> None:
    """Values and first gradients are NumPy's c / x and -g·((c / x) / x), bit for bit, as before the copy; an
    integer x over a Python int divides as torch's reciprocal(x) · c in float32, over a float as NumPy;
    gradcheck, a second order and the inverse-degree
    idiom (inv = 1 / d; inv[inv == inf] = 0) agree with torch."""
    for c in (1, 2.5, -3.0, 0.1):
        x = mg.tensor(X, requires_grad=True)
        y = c / x
        y.backward(mg.tensor(W))
        assert np.array_equal(y.numpy(), c / X) and np.array_equal(x.grad.numpy(), -W * ((c / X) / X))
    ints = np.array([[1, 3, 7], [-2, 0, 9]])
    for c in (1, -3, True):   # a Python int over an integer tensor: integer true division, torch's float32 values
        theirs, ours = c / torch.tensor(ints), c / mg.tensor(ints)
        assert str(ours.dtype) == "float32" == str(theirs.dtype).removeprefix("torch.")
        assert np.array_equal(ours.numpy(), theirs.numpy()), c
    for c in (1.0, 2.5, 0.1):   # a Python float: NumPy 2's promotion (DESIGN §3), float64 as int_tensor * 2.5
        ours = c / mg.tensor(ints)
        assert ours.dtype == (mg.tensor(ints) * c).dtype == mg.float64
        np.testing.assert_array_equal(ours.numpy(), c / ints)
    assert mg.gradcheck(lambda a: 2.5 / a, (mg.tensor(X, requires_grad=True),))
    grads = []
    for lib in (torch, mg):
        a = lib.tensor(X, requires_grad=True)
        (g,) = lib.autograd.grad((0.7 / a).sum(), a, create_graph=True)
        (g * g).sum().backward()
        d = a * lib.tensor(np.where(X > 0.5, 0.0, 1.0))
        inv = 1.0 / d
        inv[inv == float("inf")] = 0.0
        (q,) = lib.autograd.grad((inv * lib.tensor(W)).sum(), a)
        grads.append([np.asarray(t.detach().numpy() if lib is torch else t.numpy()) for t in (a.grad, q)])
    for theirs, ours in zip(*grads):
        assert np.allclose(theirs, ours, rtol=1e-12, equal_nan=True)


def test_leaf_that_stopped_requiring_grad_or_changed_shape() -> None:
    """torch's AccumulateGrad adds nothing into a leaf that no longer requires grad (its hooks still run), and
    copies the first gradient into a leaf whose shape changed in place where it broadcasts to it (unsqueeze_(0)),
    raising where it does not (unsqueeze_(1)); minigrad filled .grad in the old shape."""
    changes = {"detach_": lambda x: x.detach_(), "requires_grad_(False)": lambda x: x.requires_grad_(False),
               "unsqueeze_(0)": lambda x: x.unsqueeze_(0), "unsqueeze_(1)": lambda x: x.unsqueeze_(1),
               "t_": lambda x: x.t_(), "none": lambda x: x}
    for name, change in changes.items():
        outcomes = []
        for lib in (torch, mg):
            x = lib.tensor(X, requires_grad=True)
            w = lib.tensor(W, requires_grad=True)
            y = (x + w) * lib.tensor(W)
            ran: list = []
            x.register_hook(lambda g, ran=ran: ran.append("pre"))
            x.register_post_accumulate_grad_hook(lambda t, ran=ran: ran.append("post"))
            with _no_grad(lib):
                change(x)
            try:
                y.sum().backward()
            except RuntimeError:
                outcomes.append("raise")
                continue
            outcomes.append((None if x.grad is None else np.asarray(x.grad.numpy()), np.asarray(w.grad.numpy()),
                             tuple(ran), x.requires_grad))
        theirs, ours = outcomes
        assert (theirs == "raise") == (ours == "raise") == (name == "unsqueeze_(1)"), name
        if theirs != "raise":
            assert (theirs[0] is None) == (ours[0] is None) == (name in ("detach_", "requires_grad_(False)")), name
            assert theirs[0] is None or (theirs[0].shape == ours[0].shape and np.allclose(theirs[0], ours[0]))
            assert np.allclose(theirs[1], ours[1]) and theirs[2:] == ours[2:], name


LOGICAL_IN_PLACE = {   # torch: logical_*_ are not recorded (the gradient passes), comparisons give a zero gradient
    "logical_not_": lambda t, w: t.logical_not_(),
    "logical_and_": lambda t, w: t.logical_and_(w),
    "logical_or_": lambda t, w: t.logical_or_(w),
    "logical_xor_": lambda t, w: t.logical_xor_(w),
    "lt_": lambda t, w: t.lt_(0.5),
    "ge_": lambda t, w: t.ge_(w),
    "eq_": lambda t, w: t.eq_(0.0),
    "logical_not_ on a view": lambda t, w: t[1:].logical_not_(),
}


def test_logical_and_comparison_in_place_on_a_tensor_in_the_graph() -> None:
    """minigrad cut x from the graph (backward raised, or left x.grad None); torch keeps it."""
    data = np.array([[0.0, 1.5, -2.0], [0.3, 0.0, 0.6], [1.0, -0.5, 0.5]])
    for name, op in LOGICAL_IN_PLACE.items():
        for loss in (lambda t, w: (t * 2.0).sum(), lambda t, w: (t * w).sum()):
            outcomes = []
            for lib in (torch, mg):
                x = lib.tensor(data, requires_grad=True)
                w = lib.tensor(W, requires_grad=True)
                t = x * w
                op(t, w.detach())
                try:
                    loss(t, w).backward()
                except RuntimeError:
                    outcomes.append("raise")
                    continue
                outcomes.append(tuple(None if g is None else np.asarray(g.numpy(force=True) if lib is torch
                                                                        else g.numpy()) for g in (x.grad, w.grad)))
            assert outcomes[0] != "raise" and _same(*outcomes), name
    for lib in (torch, mg):   # a leaf: logical_not_ writes it (not recorded), lt_ is refused
        x = lib.tensor(data, requires_grad=True)
        x.logical_not_()
        assert x.requires_grad and np.array_equal(np.asarray(x.detach().numpy()), (data == 0).astype(float))
        with pytest.raises(RuntimeError, match="leaf Variable"):
            x.lt_(0.5)
