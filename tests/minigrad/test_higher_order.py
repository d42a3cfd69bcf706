"""Higher-order gradients (``create_graph=True``): second derivatives of every op with a higher-order rule
checked by ``gradgradcheck`` in float64, and the programs that need them (a WGAN-GP gradient penalty, a MAML
inner step, d²u/dx² of a tanh MLP, Hessians, third derivatives) against PyTorch."""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import nn
from minigrad.autograd.functional import hessian, hvp, jacobian, jvp, vhp, vjp
from tests.helpers import assert_close, to_torch

F = nn.functional
LSTM, GRU = nn.LSTM(3, 2, dtype=mg.float64), nn.GRU(3, 2, dtype=mg.float64)   # fixed weights for the checks
RNG = np.random.default_rng(7)


def _t(*shape: int, low: float | None = None, grad: bool = True) -> mg.Tensor:
    """A float64 tensor away from kinks: normal values, or uniform in [low, low + 1] when ``low`` is given."""
    values = RNG.standard_normal(shape) if low is None else RNG.uniform(low, low + 1, shape)
    if low is None:   # keep |x| >= 0.2, away from relu/abs/clamp kinks that finite differences would straddle
        values = np.where(np.abs(values) < 0.2, np.sign(values) * 0.2 + values, values)
    return mg.tensor(values, dtype="float64", requires_grad=grad)


TARGETS = mg.tensor(np.array([0, 2, 1]))
INDEX = mg.tensor(np.array([2, 0, 2]))   # a repeated index: gradients accumulate

# name -> (function, input tensors)
OPS: dict[str, tuple[Callable, Callable[[], list]]] = {
    "add_broadcast": (lambda a, b: (a + b) * (a + b), lambda: [_t(3, 1), _t(4)]),
    "sub": (lambda a, b: (a - b) ** 2, lambda: [_t(3, 4), _t(4)]),
    "mul_broadcast": (lambda a, b: a * b * a, lambda: [_t(3, 4), _t(4)]),
    "div": (lambda a, b: a / b, lambda: [_t(3, 4), _t(4, low=1.0)]),
    "rdiv": (lambda a: 2.0 / a, lambda: [_t(3, low=1.0)]),
    "neg": (lambda a: -(a * a), lambda: [_t(3)]),
    "pow_scalar": (lambda a: a ** 3 + a ** 2 + a ** 0.5 + a ** -1.5, lambda: [_t(2, 3, low=0.5)]),
    "pow_tensor": (lambda a, b: a ** b, lambda: [_t(2, 3, low=0.5), _t(3, low=0.5)]),
    "rpow": (lambda b: 2.0 ** b, lambda: [_t(3)]),
    "exp": (lambda a: a.exp(), lambda: [_t(3)]),
    "log": (lambda a: a.log(), lambda: [_t(3, low=0.5)]),
    "sqrt": (lambda a: a.sqrt(), lambda: [_t(3, low=0.5)]),
    "rsqrt": (lambda a: a.rsqrt(), lambda: [_t(3, low=0.5)]),
    "tanh": (lambda a: a.tanh(), lambda: [_t(3, 2)]),
    "sigmoid": (lambda a: a.sigmoid(), lambda: [_t(3, 2)]),
    "relu": (lambda a: a.relu() * a, lambda: [_t(6)]),
    "leaky_relu": (lambda a: F.leaky_relu(a, 0.1) * a, lambda: [_t(6)]),
    "elu": (lambda a: F.elu(a), lambda: [_t(6)]),
    "gelu": (lambda a: F.gelu(a), lambda: [_t(6)]),
    "gelu_tanh": (lambda a: F.gelu(a, approximate="tanh"), lambda: [_t(6)]),
    "silu": (lambda a: F.silu(a), lambda: [_t(6)]),
    "softplus": (lambda a: F.softplus(a), lambda: [_t(6)]),
    "sin_cos": (lambda a: a.sin() * a.cos(), lambda: [_t(4)]),
    "abs": (lambda a: a.abs() * a, lambda: [_t(6)]),
    "log1p_expm1_erf": (lambda a: a.log1p() + a.expm1() + mg.erf(a), lambda: [_t(3, low=0.2)]),
    "logaddexp": (lambda a, b: mg.logaddexp(a, b), lambda: [_t(3), _t(3)]),
    "matmul": (lambda a, b: (a @ b).tanh(), lambda: [_t(3, 4), _t(4, 2)]),
    "matmul_batched": (lambda a, b: (a @ b).tanh(), lambda: [_t(2, 3, 4), _t(2, 4, 2)]),
    "matmul_broadcast": (lambda a, b: (a @ b).tanh(), lambda: [_t(2, 3, 4), _t(4, 2)]),
    "matmul_vec": (lambda a, v: (a @ v).tanh() + (v @ a.T).sum(), lambda: [_t(3, 4), _t(4)]),
    "matmul_vec_batched": (lambda v, b: (v @ b).tanh(), lambda: [_t(3), _t(2, 3, 2)]),
    "dot": (lambda u, v: (u @ v) ** 2, lambda: [_t(4), _t(4)]),
    "linear": (lambda x, w, b: F.linear(x, w, b).tanh(), lambda: [_t(3, 4), _t(2, 4), _t(2)]),
    "addmm": (lambda c, a, b: mg.addmm(c, a, b).tanh(), lambda: [_t(2), _t(3, 4), _t(4, 2)]),
    "addcmul": (lambda a, b, c: mg.addcmul(a, b, c) * b + mg.addcmul(a.sum(0), b, c[:1]), lambda: [_t(2, 3), _t(2, 3),
                                                                                                 _t(2, 3)]),
    "step_addmm": (lambda c, h, w: (mg.step_addmm(c, h, w.T, w.T.detach().contiguous()) * h.sum()).tanh(),
                   lambda: [_t(3, 2), _t(3, 4), _t(2, 4)]),
    "recurrent_layers": (lambda x, h: LSTM(x, (h, h))[1][1].sum() + GRU(x, h)[0].sum(),   # step_addmm, addcmul
                         lambda: [_t(2, 1, 3), _t(1, 1, 2)]),
    "sum_mean": (lambda a: a.sum(dim=1, keepdim=True) * a.mean(dim=0) + a.sum() * a.mean(), lambda: [_t(3, 4)]),
    "shapes": (lambda a: a.reshape(4, 3).t().flatten().view(2, 6).unsqueeze(0).squeeze(0).transpose(0, 1)
               .permute(1, 0).T ** 2, lambda: [_t(3, 4)]),
    "expand": (lambda v: v.expand(3, 4) * v, lambda: [_t(4)]),
    "getitem_basic": (lambda a: a[1:, ::2] * a[0, :2], lambda: [_t(3, 4)]),
    "getitem_int_array": (lambda a: a[INDEX] ** 2, lambda: [_t(3, 2)]),
    "getitem_mask": (lambda a: a[a.detach() > 0] ** 3, lambda: [_t(3, 4)]),
    "cat_stack": (lambda a, b: mg.cat([a, b], 0) * mg.stack([a, b]).sum(0).repeat(2, 1), lambda: [_t(2, 3), _t(2, 3)]),
    "split_chunk": (lambda a: mg.split(a, 2, dim=1)[0] * a.chunk(2, 1)[1] ** 2, lambda: [_t(3, 4)]),
    "unbind": (lambda a: a.unbind(0)[0] * a.unbind(0)[2], lambda: [_t(3, 2)]),
    "softmax": (lambda a: F.softmax(a, dim=1) * a, lambda: [_t(3, 4)]),
    "log_softmax": (lambda a: F.log_softmax(a, dim=0) * a, lambda: [_t(3, 4)]),
    "logsumexp": (lambda a: a.logsumexp(1), lambda: [_t(3, 4)]),
    "mse_loss": (lambda a, b: F.mse_loss(a, b), lambda: [_t(3, 4), _t(3, 4)]),
    "cross_entropy": (lambda a: F.cross_entropy(a, TARGETS), lambda: [_t(3, 4)]),
    "nll_loss": (lambda a: F.nll_loss(F.log_softmax(a, dim=1), TARGETS, reduction="sum"), lambda: [_t(3, 4)]),
    "norm": (lambda a: a.norm() * a.norm(dim=1).sum() * mg.linalg.vector_norm(a, 1), lambda: [_t(3, 4)]),
    "clamp": (lambda a: a.clamp(-0.5, 0.5) * a, lambda: [_t(6)]),
    "where": (lambda a, b: mg.where(a.detach() > 0, a * a, b * a), lambda: [_t(6), _t(6)]),
    "maximum_minimum": (lambda a, b: mg.maximum(a, b) * mg.minimum(a, b * 2) * a, lambda: [_t(6), _t(6)]),
    "max_amax": (lambda a: a.amax(1) * a.max(), lambda: [_t(3, 4)]),
    "clone_repeat": (lambda a: a.clone().repeat(2, 1) ** 2, lambda: [_t(3)]),
    "conv1d": (lambda x, w: F.conv1d(x, w, padding=1).tanh(), lambda: [_t(1, 2, 5), _t(3, 2, 2)]),
    "conv2d": (lambda x, w: F.conv2d(x, w, stride=2).tanh(), lambda: [_t(1, 2, 4, 4), _t(2, 2, 2, 2)]),
}


@pytest.mark.parametrize("name", list(OPS))
def test_gradgradcheck(name: str) -> None:
    fn, make = OPS[name]
    assert mg.autograd.gradgradcheck(fn, make(), atol=1e-5, rtol=1e-4)


def test_third_order_on_a_scalar_function(torch: Any) -> None:
    values = np.array([0.3, -1.2, 0.8])

    def f(lib: Any, x: Any) -> Any:
        return (lib.sin(x) * x ** 3 + lib.exp(x) * x.tanh()).sum()

    x = mg.tensor(values, requires_grad=True)
    tx = torch.tensor(values, requires_grad=True)
    derivatives = []
    for lib, inp in ((mg, x), (torch, tx)):
        grad = lib.autograd.grad
        (g1,) = grad(f(lib, inp), inp, create_graph=True)
        (g2,) = grad(g1.sum(), inp, create_graph=True)
        (g3,) = grad(g2.sum(), inp)
        derivatives.append((g1, g2, g3))
    for ours, theirs in zip(*derivatives):
        assert_close(ours, theirs.detach(), what="nth derivative")
    assert derivatives[0][1].requires_grad and not derivatives[0][2].requires_grad


def _mlp_weights(sizes: list[int], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    weights = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        weights += [rng.standard_normal((fan_out, fan_in)) / np.sqrt(fan_in), rng.standard_normal(fan_out) * 0.1]
    return weights


def _mlp(lib: Any, params: list, x: Any, act: str = "tanh") -> Any:
    functional = F if lib is mg else lib.nn.functional
    for i in range(0, len(params), 2):
        x = functional.linear(x, params[i], params[i + 1])
        if i + 2 < len(params):
            x = functional.leaky_relu(x, 0.2) if act == "leaky_relu" else x.tanh()
    return x


@pytest.mark.parametrize("act", ["tanh", "leaky_relu"])
def test_wgan_gradient_penalty_matches_torch(act: str, torch: Any) -> None:
    rng = np.random.default_rng(1)
    weights = _mlp_weights([3, 8, 1], seed=1)
    real, fake = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    alpha = rng.uniform(size=(5, 1))
    results = []
    for lib, wrap in ((mg, lambda a: mg.tensor(a, requires_grad=True)),
                      (torch, lambda a: torch.tensor(a, requires_grad=True))):
        params = [wrap(w) for w in weights]
        x = wrap(alpha * real + (1 - alpha) * fake)
        critic = _mlp(lib, params, x, act)
        (gx,) = lib.autograd.grad(critic.sum(), x, create_graph=True)
        penalty = ((gx.norm(2, dim=1) - 1) ** 2).mean()
        penalty.backward()
        results.append((penalty, [p.grad for p in params], x.grad))
    (ours, our_grads, our_x), (theirs, their_grads, their_x) = results
    assert_close(ours, theirs.detach(), what="penalty")
    # with leaky_relu, the first layer's bias and x reach the penalty only through the activation's mask: torch's
    # fused op gives the bias zeros, minigrad's leaky_relu (a where) gives it none, as torch.where would
    for i, (a, b) in enumerate(zip(our_grads + [our_x], their_grads + [their_x])):
        if a is None and b is None:   # the last bias: the gradient w.r.t. x does not depend on it
            continue
        if a is None:
            assert act == "leaky_relu" and i in (1, len(our_grads)) and not b.abs().sum(), f"param {i}"
            continue
        assert_close(a, b, rtol=1e-9, what=f"d penalty / d param {i}")


def test_maml_inner_step_matches_torch(torch: Any) -> None:
    rng = np.random.default_rng(2)
    weights = _mlp_weights([2, 6, 1], seed=2)
    support_x, support_y = rng.standard_normal((4, 2)), rng.standard_normal((4, 1))
    query_x, query_y = rng.standard_normal((4, 2)), rng.standard_normal((4, 1))
    lr = 0.1
    results = []
    for lib in (mg, torch):
        functional = F if lib is mg else torch.nn.functional
        params = [lib.tensor(w, requires_grad=True) for w in weights]
        inner = functional.mse_loss(_mlp(lib, params, lib.tensor(support_x)), lib.tensor(support_y))
        grads = lib.autograd.grad(inner, params, create_graph=True)
        fast = [p - lr * g for p, g in zip(params, grads)]
        for _ in range(2):   # a second inner step differentiates through the first
            inner = functional.mse_loss(_mlp(lib, fast, lib.tensor(support_x)), lib.tensor(support_y))
            grads = lib.autograd.grad(inner, fast, create_graph=True)
            fast = [p - lr * g for p, g in zip(fast, grads)]
        outer = functional.mse_loss(_mlp(lib, fast, lib.tensor(query_x)), lib.tensor(query_y))
        results.append((outer, lib.autograd.grad(outer, params)))
    (ours, our_grads), (theirs, their_grads) = results
    assert_close(ours, theirs.detach(), what="outer loss")
    for i, (a, b) in enumerate(zip(our_grads, their_grads)):
        assert_close(a, b, rtol=1e-9, what=f"meta-gradient {i}")


def test_pinn_second_derivative_of_a_tanh_mlp_matches_torch(torch: Any) -> None:
    weights = _mlp_weights([1, 10, 10, 1], seed=3)
    points = np.linspace(-1, 1, 7).reshape(7, 1)
    results = []
    for lib in (mg, torch):
        params = [lib.tensor(w, requires_grad=True) for w in weights]
        x = lib.tensor(points, requires_grad=True)
        u = _mlp(lib, params, x)
        (du,) = lib.autograd.grad(u.sum(), x, create_graph=True)
        (d2u,) = lib.autograd.grad(du.sum(), x, create_graph=True)
        residual = ((d2u + lib.sin(x) * u) ** 2).mean()   # u'' + sin(x) u = 0
        residual.backward()
        results.append((du, d2u, residual, [p.grad for p in params]))
    (du, d2u, res, grads), (tdu, td2u, tres, tgrads) = results
    assert_close(du, tdu.detach(), what="du/dx")
    assert_close(d2u, td2u.detach(), what="d2u/dx2")
    assert_close(res, tres.detach(), what="residual")
    for i, (a, b) in enumerate(zip(grads, tgrads)):
        assert_close(a, b, rtol=1e-9, what=f"d residual / d param {i}")


def _scalar(lib: Any) -> Callable:
    def f(x: Any, y: Any) -> Any:
        return (x.tanh() * (x @ y) + (y ** 3).sum() * x.sin()).sum()
    return f


def test_hessian_hvp_vhp_match_torch(torch: Any) -> None:
    x, y, v, w = (RNG.standard_normal(3) for _ in range(4))
    ours_in, theirs_in = (mg.tensor(x), mg.tensor(y)), (torch.tensor(x), torch.tensor(y))
    H = hessian(_scalar(mg), ours_in)
    tH = torch.autograd.functional.hessian(_scalar(torch), theirs_in)
    for i in range(2):
        for j in range(2):
            assert_close(H[i][j], tH[i][j], what=f"H[{i}][{j}]")
    vs, tvs = (mg.tensor(v), mg.tensor(w)), (torch.tensor(v), torch.tensor(w))
    for ours, theirs in ((hvp, torch.autograd.functional.hvp), (vhp, torch.autograd.functional.vhp)):
        value, product = ours(_scalar(mg), ours_in, vs)
        tvalue, tproduct = theirs(_scalar(torch), theirs_in, tvs)
        assert_close(value, tvalue)
        for a, b in zip(product, tproduct):
            assert_close(a, b, what=ours.__name__)
    # one Tensor input: one Hessian block
    single = hessian(lambda a: (a ** 3).sum() * a.exp().sum(), mg.tensor(x))
    assert_close(single, torch.autograd.functional.hessian(lambda a: (a ** 3).sum() * a.exp().sum(), torch.tensor(x)))


def test_functional_create_graph_keeps_the_graph_to_the_inputs(torch: Any) -> None:
    x_values = RNG.standard_normal(3)
    x, tx = mg.tensor(x_values, requires_grad=True), torch.tensor(x_values, requires_grad=True)
    for lib, inp, fns in ((mg, x, (jacobian, vjp, jvp, hessian)),
                          (torch, tx, (torch.autograd.functional.jacobian, torch.autograd.functional.vjp,
                                       torch.autograd.functional.jvp, torch.autograd.functional.hessian))):
        jac_fn, vjp_fn, jvp_fn, hess_fn = fns
        J = jac_fn(lambda a: a.tanh() * a, inp, create_graph=True)
        _, back = vjp_fn(lambda a: a.sin() * a, inp, lib.ones(3, dtype=lib.float64), create_graph=True)
        _, forward = jvp_fn(lambda a: a.exp() * a, inp, lib.ones(3, dtype=lib.float64), create_graph=True)
        H = hess_fn(lambda a: (a ** 4).sum(), inp, create_graph=True)
        (J.sum() + back.sum() + forward.sum() + H.sum()).backward()
    assert_close(x.grad, tx.grad)


def test_backward_create_graph_twice_accumulates_like_torch(torch: Any) -> None:
    values = np.array([1.0, 2.0])
    grads = []
    for lib in (mg, torch):
        x = lib.tensor(values, requires_grad=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            (x ** 3).sum().backward(create_graph=True)
            first = x.grad
            assert first.requires_grad
            (x ** 3).sum().backward(create_graph=True)
        assert x.grad is not first and x.grad.requires_grad   # .grad + gradient, out of place
        assert_close(first.detach(), np.array([3.0, 12.0]))
        (g2,) = lib.autograd.grad(x.grad.sum(), x)   # d/dx of 2 * 3x² = 12x
        grads.append((x.grad, g2))
        if lib is mg:
            assert any("reference cycle" in str(w.message) for w in caught)
    assert_close(grads[0][0].detach(), grads[1][0].detach())
    assert_close(grads[0][1], grads[1][1])
    assert_close(grads[0][1], np.array([12.0, 24.0]))


def test_requires_grad_follows_torch(torch: Any) -> None:
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    (linear,) = mg.autograd.grad((3 * x).sum(), x, create_graph=True)
    (square,) = mg.autograd.grad((x * x).sum(), x, create_graph=True)
    assert not linear.requires_grad and square.requires_grad
    assert square.grad_fn is not None if hasattr(square, "grad_fn") else True


def test_grad_of_a_non_leaf_and_hooks_with_create_graph() -> None:
    x = mg.tensor([0.5, -0.3], dtype="float64", requires_grad=True)
    h = x.tanh()
    seen = []
    h.register_hook(lambda g: seen.append(g.requires_grad))
    y = (h * h * x).sum()
    gh, gx = mg.autograd.grad(y, [h, x], create_graph=True)
    np.testing.assert_allclose(gh.numpy(), 2 * h.numpy() * x.numpy())
    assert seen == [True] and gh.requires_grad
    (second,) = mg.autograd.grad(gx.sum(), x)
    eps = 1e-6
    def first(a: np.ndarray) -> np.ndarray:
        t = mg.tensor(a, requires_grad=True)
        (g,) = mg.autograd.grad((t.tanh() ** 2 * t).sum(), t)
        return g.numpy()
    numeric = [(first(x.numpy() + eps * e) - first(x.numpy() - eps * e)).sum() / (2 * eps) for e in np.eye(2)]
    np.testing.assert_allclose(second.numpy(), numeric, rtol=1e-6)


def test_an_op_without_a_rule_raises_naming_it() -> None:
    x = mg.tensor([0.5, 1.5], requires_grad=True)
    with pytest.raises(NotImplementedError, match="create_graph=True: no higher-order gradient for atan2 yet"):
        mg.autograd.grad(mg.atan2(x, x + 1).sum(), x, create_graph=True)
    with pytest.raises(NotImplementedError, match="no higher-order gradient for cumsum yet"):
        (x.cumsum(0) * x).sum().backward(create_graph=True)
    assert x.grad is None   # nothing accumulated
    # the first-order path still works on the same graph
    (g,) = mg.autograd.grad(mg.atan2(x, x + 1).sum(), x)
    assert not g.requires_grad


def test_retain_graph_false_with_create_graph_frees_the_graph() -> None:
    x = mg.tensor([0.5, 1.5], requires_grad=True)
    y = (x.exp() * x).sum()
    mg.autograd.grad(y, x, create_graph=True, retain_graph=False)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_float32_gradients_keep_their_dtype(torch: Any) -> None:
    x = mg.tensor([0.5, 1.5], dtype="float32", requires_grad=True)
    (g,) = mg.autograd.grad((x.tanh() * x).sum(), x, create_graph=True)
    (h,) = mg.autograd.grad(g.sum(), x)
    tx = to_torch(torch, x)
    (tg,) = torch.autograd.grad((tx.tanh() * tx).sum(), tx, create_graph=True)
    (th,) = torch.autograd.grad(tg.sum(), tx)
    assert g.dtype == h.dtype == np.float32
    assert_close(h, th, rtol=1e-6, atol=1e-6)
