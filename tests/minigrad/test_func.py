"""``minigrad.func`` (PyTorch's ``torch.func``) against torch 2.13 in float64.

Each case runs the same program with ``F = mg.func`` and ``F = torch.func`` on the same values: results
agree in value, shape, dtype and pytree structure, errors in type and message. Nested differentiation
(``hessian``, ``jacrev(jacrev(f))``) either equals torch's or, where the engine has no differentiable
backward for an op, raises NotImplementedError saying so — never a wrong value.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn
from minigrad import func

RNG = np.random.default_rng(5)
X = RNG.standard_normal((3, 4))
V = RNG.standard_normal(4)


def _same(ours: Any, theirs: Any, atol: float = 1e-10, what: str = "result") -> None:
    """Same pytree structure, and equal Tensors (shape, dtype name, values) at the leaves."""
    if isinstance(ours, mg.Tensor):
        assert type(theirs).__name__ == "Tensor", f"{what}: a Tensor against {type(theirs)}"
        t = theirs.detach().numpy()
        assert ours.shape == t.shape, f"{what}: shape {ours.shape} != {t.shape}"
        assert ours.dtype.name == str(theirs.dtype).replace("torch.", ""), f"{what}: dtype {ours.dtype}"
        np.testing.assert_allclose(ours.numpy(), t, atol=atol, rtol=1e-9, err_msg=what)
    elif isinstance(ours, dict):
        assert isinstance(theirs, dict) and list(ours) == list(theirs), f"{what}: keys {list(ours)}"
        for k in ours:
            _same(ours[k], theirs[k], atol, f"{what}[{k!r}]")
    elif isinstance(ours, (tuple, list)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs), f"{what}: {type(ours)} against {type(theirs)}"
        for i, (a, b) in enumerate(zip(ours, theirs)):
            _same(a, b, atol, f"{what}[{i}]")
    else:
        assert ours == theirs, f"{what}: {ours!r} != {theirs!r}"


def _both(torch: Any, program: Any, *arrays: Any) -> None:
    """``program(F, lib, *tensors)`` with minigrad and with torch on the same float64 values: same results."""
    ours = program(func, mg, *[mg.tensor(a, dtype=mg.float64) for a in arrays])
    theirs = program(torch.func, torch, *[torch.tensor(a, dtype=torch.float64) for a in arrays])
    _same(ours, theirs)


def _error(torch: Any, program: Any, *arrays: Any) -> str:
    """The same error type (ours may be a class that is torch's and another: a dual class) and message from
    both (returned for further checks)."""
    messages, classes = [], []
    for F, lib in ((func, mg), (torch.func, torch)):
        with pytest.raises(Exception) as info, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program(F, lib, *[lib.tensor(a, dtype=lib.float64) for a in arrays])
        messages.append(str(info.value))
        classes.append(type(info.value))
    assert classes[1].__name__ in [base.__name__ for base in classes[0].__mro__], classes
    assert messages[0] == messages[1]
    return messages[0]


# --- grad / grad_and_value ----------------------------------------------------------------------------------------


def _loss(lib: Any, params: dict, x: Any, scale: float = 1.0) -> Any:
    return ((x @ params["w"]).tanh() * params["b"]).sum() * scale


@pytest.mark.parametrize("program", [
    lambda F, lib, x, v: F.grad(lambda a: (a.sin() * a).sum())(x),
    lambda F, lib, x, v: F.grad(lambda a, b: (a @ b).exp().sum(), argnums=1)(x, v),
    lambda F, lib, x, v: F.grad(lambda a, b: (a @ b).exp().sum(), argnums=(0, -1))(x, v),
    lambda F, lib, x, v: F.grad(lambda p, a, scale: _loss(lib, p, a, scale))({"w": v[:, None] * v, "b": v}, x, 2.0),
    lambda F, lib, x, v: F.grad(lambda p, a: _loss(lib, p, a), argnums=(0,))({"w": v[:, None] * v, "b": v}, x),
    lambda F, lib, x, v: F.grad(lambda a, b: a[0] @ a[1] * b, argnums=0)((v, v * 2), x[0, 0]),
    lambda F, lib, x, v: F.grad(lambda a, *, k: (a * k).sum())(v, k=x[0]),
    lambda F, lib, x, v: F.grad(lambda a: ((a ** 2).sum(), {"aux": a * 2}), has_aux=True)(v),
    lambda F, lib, x, v: F.grad_and_value(lambda a: (a.exp() * x).sum())(x),
    lambda F, lib, x, v: F.grad_and_value(lambda a: ((a.exp()).sum(), a.sum()), has_aux=True)(x),
    lambda F, lib, x, v: F.grad(lambda a: lib.tensor(1.0, dtype=lib.float64))(v),   # no dependence: zeros
], ids=["simple", "argnum1", "argnums-tuple", "dict-params", "argnums-1tuple", "tuple-arg", "kwargs", "aux",
        "grad_and_value", "value-aux", "independent"])
def test_grad_matches_torch(torch: Any, program: Any) -> None:
    _both(torch, program, X, V)


def test_grad_leaves_grad_alone_and_needs_no_requires_grad(torch: Any) -> None:
    x = mg.tensor(X, requires_grad=True)
    model = nn.Linear(4, 2, dtype=mg.float64)
    g = func.grad(lambda a: model(a).square().sum())(x)
    assert x.grad is None and all(p.grad is None for p in model.parameters())
    assert g.requires_grad   # as torch.func's: differentiable w.r.t. x and the parameters (tested below)
    y = mg.tensor(X)   # does not require grad
    with mg.no_grad():   # the transform records inside, as torch.func does; the result is detached
        g2 = func.grad(lambda a: model(a).square().sum())(y)
    np.testing.assert_allclose(g2.numpy(), g.detach().numpy())
    assert not g2.requires_grad and g2.is_leaf
    value, aux = func.grad_and_value(lambda a: (a.sum(), a * 2), has_aux=True)(y)[1]
    assert not value.requires_grad and not aux.requires_grad


@pytest.mark.parametrize("program", [
    lambda F, lib, x: F.grad(lambda a: a)(x),
    lambda F, lib, x: F.grad(lambda a: 1.0)(x),
    lambda F, lib, x: F.grad(lambda a: a.sum(), argnums=1)(x),
    lambda F, lib, x: F.grad(lambda a: a.sum(), argnums=[0])(x),
    lambda F, lib, x: F.grad(lambda a, b: a.sum(), argnums=(0, -2))(x, x),
    lambda F, lib, x: F.grad(lambda a, b: a.sum(), argnums=())(x, x),
    lambda F, lib, x: F.grad(lambda a, b: a.sum())(1.0, x),
    lambda F, lib, x: F.grad(lambda a: a.sum(), has_aux=True)(x),
])
def test_grad_errors_as_torch(torch: Any, program: Any) -> None:
    _error(torch, program, X)


# --- vjp / jvp ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("program", [
    lambda F, lib, x, v: F.vjp(lambda a: a.sin() * 2, x)[1](x.cos()),
    lambda F, lib, x, v: F.vjp(lambda a, b: (a @ b, a.exp()), x, v)[1]((v[:3], x)),
    lambda F, lib, x, v: F.vjp(lambda a: {"y": a["p"].tanh()}, {"p": x})[1]({"y": x * 3}),
    lambda F, lib, x, v: F.vjp(lambda a: a.sin() * 2, x)[0],
    lambda F, lib, x, v: F.vjp(lambda a: (a.sin(), a.sum()), x, has_aux=True)[2],
    lambda F, lib, x, v: F.jvp(lambda a, b: (a @ b, a.exp()), (x, v), (x * 2, v + 1)),
    lambda F, lib, x, v: F.jvp(lambda a: (a.sin(), a * 3), (x,), (x,), has_aux=True),
])
def test_vjp_jvp_match_torch(torch: Any, program: Any) -> None:
    _both(torch, program, X, V)


def test_vjp_fn_runs_twice() -> None:
    x = mg.tensor(X)
    out, vjp_fn = func.vjp(lambda a: a.exp(), x)
    first, second = vjp_fn(mg.ones_like(out))[0], vjp_fn(mg.ones_like(out) * 2)[0]
    np.testing.assert_allclose(second.numpy(), 2 * first.numpy())
    assert not out.requires_grad


@pytest.mark.parametrize("program", [
    lambda F, lib, x: F.vjp(lambda a: 1.0, x),
    lambda F, lib, x: F.vjp(lambda a: (a, a), x)[1]((x,)),
    lambda F, lib, x: F.vjp(lambda a: {"a": a}, x)[1]([x]),
    lambda F, lib, x: F.vjp(lambda a: a, x, has_aux=True),
    lambda F, lib, x: F.jacrev(lambda a: a, chunk_size=0),
])
def test_vjp_errors_as_torch(torch: Any, program: Any) -> None:
    _error(torch, program, X)


# --- jacrev / jacfwd / hessian ------------------------------------------------------------------------------------


@pytest.mark.parametrize("api", ["jacrev", "jacfwd"])
@pytest.mark.parametrize("program", [
    lambda J, lib, x, v: J(lambda a: a.sin() * a.sum())(x),
    lambda J, lib, x, v: J(lambda a, b: (a @ b, a.sum()), argnums=(0, 1))(x, v),
    lambda J, lib, x, v: J(lambda a, b: {"o": a @ b}, argnums=1)(x, v),
    lambda J, lib, x, v: J(lambda p: (p["w"] * p["b"]).tanh())({"w": x, "b": v}),
    lambda J, lib, x, v: J(lambda a: (a.exp(), a.sum()), has_aux=True)(v),
    lambda J, lib, x, v: J(lambda a: a.sum())(v[0]),   # 0-d in, 0-d out
    lambda J, lib, x, v: J(lambda a: a[:0] * 2)(v),    # an empty output
], ids=["one", "argnums", "dict-out", "dict-in", "aux", "scalar", "empty"])
def test_jacobians_match_torch(torch: Any, api: str, program: Any) -> None:
    ours = program(getattr(func, api), mg, mg.tensor(X), mg.tensor(V))
    theirs = program(getattr(torch.func, api), torch, torch.tensor(X), torch.tensor(V))
    _same(ours, theirs)


def _nested_or_refused(ours: Any, theirs: Any) -> None:
    """A nested transform either equals torch's or raises NotImplementedError naming create_graph."""
    try:
        result = ours()
    except NotImplementedError as error:
        assert "create_graph=True" in str(error) and "nested differentiation" in str(error)
        return
    _same(result, theirs())


@pytest.mark.parametrize("program", [
    lambda F, lib, v: F.hessian(lambda a: (a ** 3).sum() + (a[0] * a[1]))(v),
    lambda F, lib, v: F.jacrev(F.jacrev(lambda a: a.sin() * a.sum()))(v),
    lambda F, lib, v: F.grad(F.grad(lambda a: a.exp() * a ** 2))(v[0]),
    lambda F, lib, v: F.grad(lambda a: F.grad(lambda b: a * b)(a))(v[1]),   # no perturbation confusion: 1
    lambda F, lib, v: F.vmap(F.hessian(lambda a: (a.tanh() * a).sum()))(v.reshape(2, 2)),
])
def test_nested_transforms_match_torch_or_refuse(torch: Any, program: Any) -> None:
    _nested_or_refused(lambda: program(func, mg, mg.tensor(V)), lambda: program(torch.func, torch, torch.tensor(V)))


class _Cube(mg.autograd.Function):
    """In the form torch.func takes (setup_context, a vmap rule and jvp for hessian's jacfwd): PyTorch refuses a
    forward(ctx, ...) Function inside any transform, and so does minigrad (round 23)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x: Any) -> Any:
        return x ** 3

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Any) -> None:
        ctx.save_for_backward(inputs[0])
        ctx.save_for_forward(inputs[0])

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        (x,) = ctx.saved_tensors
        return g * 3 * x ** 2

    @staticmethod
    def jvp(ctx: Any, t: Any) -> Any:
        (x,) = ctx.saved_tensors
        return t * 3 * x ** 2


def test_nested_through_a_custom_function_differentiates_its_backward() -> None:
    """A custom Function's backward is recorded under create_graph=True (as PyTorch's), so hessian goes through it."""
    x = mg.tensor(V)
    assert func.jacrev(lambda a: _Cube.apply(a).sum())(x).shape == (4,)   # first order works
    np.testing.assert_allclose(func.hessian(lambda a: _Cube.apply(a).sum())(x).numpy(), np.diag(6 * V), rtol=1e-12)


# --- results stay differentiable w.r.t. what outside the transform requires grad ------------------------------------

C = RNG.standard_normal((4, 4))


def _f(w: Any, c: Any) -> Any:
    return lambda a: (a.sin() * w) @ c @ a.tanh()


def _maml(lib: Any, F: Any, x: Any, w: Any, c: Any) -> Any:
    def loss_fn(p: dict, data: Any) -> Any:
        return ((data @ p["c"]).tanh() * p["w"]).sum() ** 2
    params = {"w": w, "c": c}
    grads = F.grad(loss_fn)(params, lib.tensor(X[:3]))
    fast = {k: p - 0.1 * grads[k] for k, p in params.items()}   # second-order MAML: through grads too
    return loss_fn(fast, lib.tensor(X[::-1] * 0.5))


def _grad_and_value(lib: Any, F: Any, x: Any, w: Any, c: Any) -> Any:
    g, v = F.grad_and_value(_f(w, c))(x)
    return (g ** 2).sum() + v * 3


def _vjp(lib: Any, F: Any, x: Any, w: Any, c: Any) -> Any:
    out, vjp_fn = F.vjp(lambda a: (a.sin() * w) @ c, x)
    return (vjp_fn(out.cos())[0] ** 2).sum() + out.sum()


def _jvp(lib: Any, F: Any, x: Any, w: Any, c: Any) -> Any:
    out, tangent = F.jvp(lambda a: (a.sin() * w) @ c, (x,), (w.cos(),))
    return out.sum() + (tangent ** 2).sum()


def _aux(lib: Any, F: Any, x: Any, w: Any, c: Any) -> Any:
    g, aux = F.grad(lambda a: ((a * w).sin().sum(), (a * w).exp()), has_aux=True)(x)
    return (g ** 2).sum() + aux.sum()


@pytest.mark.parametrize("program", [
    lambda lib, F, x, w, c: (F.grad(_f(w, c))(x) ** 2).sum(),
    lambda lib, F, x, w, c: (F.grad(_f(w, c))(x.detach()) ** 2).sum(),   # only the closed-over w, c
    _grad_and_value, _aux, _vjp,
    lambda lib, F, x, w, c: (F.vjp(lambda a: a.sin() @ c.detach(), x.detach())[1](w)[0] ** 2).sum(),   # cotangent
    lambda lib, F, x, w, c: (F.jacrev(lambda a: (a.sin() * w) @ c)(x) ** 2).sum(),
    lambda lib, F, x, w, c: (F.jacfwd(lambda a: (a.sin() * w) @ c)(x) ** 2).sum(),
    lambda lib, F, x, w, c: (F.hessian(_f(w, c))(x) ** 2).sum(),
    _jvp,
    lambda lib, F, x, w, c: (F.vmap(F.grad(lambda a, m: (a.sin() * w @ m).sum()), in_dims=(None, 0))(x, c) ** 2).sum(),
    _maml,
], ids=["grad", "grad-closure", "grad_and_value", "aux", "vjp", "vjp-cotangent", "jacrev", "jacfwd", "hessian", "jvp",
        "vmap-grad", "maml"])
def test_results_stay_differentiable_as_torch(torch: Any, program: Any) -> None:
    """The .grad of the inputs and closed-over tensors after a backward through the results equal torch's."""
    grads = []
    for lib, F in ((mg, func), (torch, torch.func)):
        leaves = [lib.tensor(a, dtype=lib.float64, requires_grad=True) for a in (V, V[::-1] + 0.5, C)]
        program(lib, F, *leaves).backward()
        grads.append(tuple(t.grad for t in leaves))
    _same(*grads, what="grads")


def test_gradient_penalty_and_per_sample_gradients_reach_the_parameters_as_torch(torch: Any) -> None:
    """A WGAN-GP penalty and per-sample gradients of the parameters themselves (not detached): the
    outer backward reaches the parameters through the gradients, as with torch.func."""
    model, peer = _models(torch)
    y = np.array([0, 1, 1])
    grads = []
    for F, lib, net, functional in ((func, mg, model, nn.functional), (torch.func, torch, peer, torch.nn.functional)):
        x = lib.tensor(X)
        g = F.grad(lambda a, net=net: net(a).tanh().sum())(x)
        penalty = ((g ** 2).sum(1).sqrt() - 1).square().mean()

        def loss_fn(p: dict, xi: Any, yi: Any, F: Any = F, net: Any = net, functional: Any = functional) -> Any:
            return functional.cross_entropy(F.functional_call(net, p, (xi.unsqueeze(0),)), yi.unsqueeze(0))
        per_sample = F.vmap(F.grad(loss_fn), in_dims=(None, 0, 0))(dict(net.named_parameters()), x, lib.tensor(y))
        (net(x).sum() + penalty + sum((v ** 2).sum() for v in per_sample.values())).backward()
        grads.append({k: v.grad for k, v in net.named_parameters()})
    _same(*grads, what="parameter grads")


def _requires_grad_flags(lib: Any, F: Any) -> list:
    x = lib.tensor(V, dtype=lib.float64, requires_grad=True)
    w = lib.tensor(V[::-1] + 0.5, dtype=lib.float64, requires_grad=True)
    plain = x.detach()
    f = lambda a: (a.sin() * w * a).sum()   # noqa: E731
    out, vjp_fn = F.vjp(lambda a: a.sin(), plain)
    flags = [F.grad(lambda a: (a.sin() * a).sum())(plain), F.grad(f)(plain), *F.grad_and_value(f)(x),
             F.grad(lambda a: (a * a).sum() + w.sum())(plain),
             F.grad_and_value(lambda a: (a * a).sum() + w.sum())(plain),
             *F.grad(lambda a: ((a * w).sum(), a * 2), has_aux=True)(plain),
             *F.grad(lambda a: ((a * w).sum(), w * 2), has_aux=True)(plain),
             out, vjp_fn(lib.ones(4, dtype=lib.float64))[0], vjp_fn(w)[0],
             vjp_fn(w, create_graph=False)[0], F.jacrev(lambda a: a.sin() * w)(plain), F.hessian(f)(plain)]
    with lib.no_grad():
        flags.append(F.grad(f)(x))
    return [t[1].requires_grad if isinstance(t, tuple) else t.requires_grad for t in flags]


def test_results_require_grad_exactly_where_torchs_do(torch: Any) -> None:
    """Detached when nothing from outside is reached (or grad mode is off), else differentiable."""
    assert _requires_grad_flags(mg, func) == _requires_grad_flags(torch, torch.func)


def test_an_op_without_a_higher_order_rule_raises_at_top_level_and_says_how_to_opt_out() -> None:
    x = mg.tensor(V, requires_grad=True)

    def spread(a: mg.Tensor) -> mg.Tensor:   # bincount has no higher-order rule
        return (mg.bincount(mg.tensor([0, 1, 1, 2]), weights=a * a) ** 2).sum()

    plain = mg.tensor(V, requires_grad=True)
    slope = mg.autograd.grad(spread(plain), plain)[0].numpy()   # the first-order gradient, ordinary autograd
    with pytest.raises(NotImplementedError, match="differentiable w.r.t. tensors outside.*mg.no_grad"):
        func.grad(spread)(x)
    with mg.no_grad():
        first = func.grad(spread)(x)
    np.testing.assert_allclose(first.numpy(), slope)
    np.testing.assert_allclose(func.grad(spread)(x.detach()).numpy(), slope)


# --- vmap ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("program", [
    lambda F, lib, x, v: F.vmap(lambda a, b: a @ b, in_dims=(0, None))(x, v),
    lambda F, lib, x, v: F.vmap(lambda a, b: a * b, in_dims=(1, 0))(x, v),
    lambda F, lib, x, v: F.vmap(lambda a: a.sum())(x),                                  # 0-d outputs
    lambda F, lib, x, v: F.vmap(lambda a: a * 2, in_dims=-1, out_dims=1)(x),
    lambda F, lib, x, v: F.vmap(lambda a: a * 2, out_dims=-1)(x),
    lambda F, lib, x, v: F.vmap(lambda a: (a, a.sum()), out_dims=(1, 0))(x),
    lambda F, lib, x, v: F.vmap(lambda p: p["w"] @ p["b"], in_dims=({"w": 0, "b": None},))({"w": x, "b": v}),
    lambda F, lib, x, v: F.vmap(lambda p: p[0] * p[1], in_dims=([0, None],))([x, v]),
    lambda F, lib, x, v: F.vmap(lambda p: p[0] * p[1], in_dims=((None, 1),))((v[:3], x)),
    lambda F, lib, x, v: F.vmap(lambda a: {"s": a.sum(), "l": [a, a * 2]}, out_dims={"s": 0, "l": [1, 0]})(x),
    lambda F, lib, x, v: F.vmap(lambda a, b: (a * b, b), in_dims=(0, None), out_dims=(0, None))(x, v),
    lambda F, lib, x, v: F.vmap(lambda a, k: a * k, in_dims=(0, None))(x, 3.0),
    lambda F, lib, x, v: F.vmap(lambda a, *, k: a * k)(x, k=v),
    lambda F, lib, x, v: F.vmap(F.vmap(lambda a, b: a * b), in_dims=(0, None))(x, v),
    lambda F, lib, x, v: F.vmap(lambda a: a.sum(0), in_dims=1)(x[:, :0]),                 # batch of size 0
    lambda F, lib, x, v: F.vmap(lambda a: a * 2)(x[:0]),
    lambda F, lib, x, v: F.vmap(lambda a: lib.tensor(1.0, dtype=lib.float64))(x),         # unbatched output
], ids=["matvec", "in-dims-mixed", "scalars", "neg-in", "neg-out", "two-outs", "dict-in", "list-in",
        "tuple-in", "dict-out", "out-none", "scalar-arg", "kwargs", "nested", "empty-batch", "empty-batch2",
        "constant"])
def test_vmap_matches_torch(torch: Any, program: Any) -> None:
    _both(torch, program, X, V)


@pytest.mark.parametrize("program", [
    lambda F, lib, x: F.vmap(lambda a, b: a + b, in_dims=[0, 0])(x, x),
    lambda F, lib, x: F.vmap(lambda a: a, in_dims=(0, 0))(x),
    lambda F, lib, x: F.vmap(lambda a: a, in_dims=({"a": 0},))(x),
    lambda F, lib, x: F.vmap(lambda a: a[0] + a[1], in_dims=((0, None),))([x, x[0]]),
    lambda F, lib, x: F.vmap(lambda a: a, out_dims=None)(x),
    lambda F, lib, x: F.vmap(lambda a: 1.0)(x),
    lambda F, lib, x: F.vmap(lambda a: a, in_dims=2)(x),
    lambda F, lib, x: F.vmap(lambda a, b: a, in_dims=(0, 0))(x, 1.0),
    lambda F, lib, x: F.vmap(lambda a: a, in_dims=(0.5,))(x),
    lambda F, lib, x: F.vmap(lambda a: (a, a.sum()), out_dims=(1, 0, 0))(x),
    lambda F, lib, x: F.vmap(lambda a: a, out_dims=1.0)(x),
    lambda F, lib, x: F.vmap(lambda a: a, chunk_size=0)(x),
    lambda F, lib, x: F.vmap(lambda a: a, randomness="x")(x),
    lambda F, lib, x: F.vmap(lambda: 1)(),
    lambda F, lib, x: F.vmap(lambda a, b: a, in_dims=(None, None))(x, x),
    lambda F, lib, x: F.vmap(lambda a, b: a)(x, x[:2]),
    lambda F, lib, x: F.vmap(lambda a: lib.rand(4, dtype=lib.float64) + a)(x),
    lambda F, lib, x: F.vmap(lambda a: lib.nn.functional.dropout(a, 0.5))(x),
])
def test_vmap_errors_as_torch(torch: Any, program: Any) -> None:
    _error(torch, program, X)


def test_vmap_randomness() -> None:
    x = mg.zeros(3, 4)
    same = func.vmap(lambda a: a + mg.rand(4), randomness="same")(x)
    assert all(np.array_equal(same[i].numpy(), same[0].numpy()) for i in range(3))
    different = func.vmap(lambda a: a + mg.rand(4), randomness="different")(x)
    assert not np.array_equal(different[1].numpy(), different[0].numpy())
    mg.manual_seed(3)
    func.vmap(lambda a: a + mg.rand(4), randomness="same")(x)
    after_same = mg.rand(1).item()
    mg.manual_seed(3)
    mg.rand(4)
    assert mg.rand(1).item() == after_same   # "same" leaves the generator where one call did


def test_grad_through_vmap_and_vmap_of_jacrev(torch: Any) -> None:
    _both(torch, lambda F, lib, x, v: F.grad(lambda a: F.vmap(lambda r: (r * v).sin().sum())(a).prod())(x), X, V)
    _both(torch, lambda F, lib, x, v: F.vmap(F.jacrev(lambda r: r.sin() * r.sum()))(x), X, V)


# --- functional_call and per-sample gradients ---------------------------------------------------------------------


def _models(torch: Any) -> tuple:
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 2)).double()
    peer = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2)).double()
    peer.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})
    return model, peer


def test_per_sample_gradients_match_torch(torch: Any) -> None:
    """The torch.func tutorial: vmap(grad(loss), in_dims=(None, 0, 0)) with functional_call."""
    model, peer = _models(torch)
    y = np.array([0, 1, 1])
    results = []
    for F, lib, net, functional in ((func, mg, model, nn.functional), (torch.func, torch, peer, torch.nn.functional)):
        params = {k: v.detach() for k, v in net.named_parameters()}

        def loss_fn(p: dict, xi: Any, yi: Any, F: Any = F, net: Any = net, functional: Any = functional) -> Any:
            return functional.cross_entropy(F.functional_call(net, p, (xi.unsqueeze(0),)), yi.unsqueeze(0))
        results.append(F.vmap(F.grad(loss_fn), in_dims=(None, 0, 0))(params, lib.tensor(X), lib.tensor(y)))
    _same(*results)
    # the parameters themselves (requiring grad) work too, and nothing's .grad changes
    params = dict(model.named_parameters())
    again = func.vmap(func.grad(lambda p, xi, yi: nn.functional.cross_entropy(
        func.functional_call(model, p, xi.unsqueeze(0)), yi.unsqueeze(0))), in_dims=(None, 0, 0))(
        params, mg.tensor(X), mg.tensor(y))
    _same(again, results[1])
    assert all(p.grad is None for p in model.parameters())


def test_functional_call_matches_torch(torch: Any) -> None:
    model, peer = _models(torch)
    new = {k: RNG.standard_normal(tuple(v.shape)) for k, v in model.state_dict().items()}
    ours = func.functional_call(model, ({k: mg.tensor(v) for k, v in new.items() if "weight" in k},
                                        {k: mg.tensor(v) for k, v in new.items() if "bias" in k}), mg.tensor(X))
    theirs = torch.func.functional_call(peer, {k: torch.tensor(v) for k, v in new.items()}, (torch.tensor(X),))
    _same(ours, theirs)
    before = {k: v for k, v in model.named_parameters()}
    assert all(model.get_parameter(k) is v for k, v in before.items())   # the originals are back
    _same(model(mg.tensor(X)), peer(torch.tensor(X)))


def test_functional_call_gradients_flow_to_given_tensors() -> None:
    layer = nn.Linear(4, 2, dtype=mg.float64)
    w = mg.tensor(RNG.standard_normal((2, 4)), requires_grad=True)
    out = func.functional_call(layer, {"weight": w}, (mg.tensor(X),))
    out.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), np.tile(X.sum(0), (2, 1)))
    assert layer.weight.grad is None   # the module's own weight took no part (its bias did)
    np.testing.assert_allclose(layer.bias.grad.numpy(), [3.0, 3.0])


def test_functional_call_restores_after_an_exception_and_removes_new_names() -> None:
    class Boom(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = nn.Linear(2, 2)

        def forward(self, x: Any) -> Any:
            assert self.inner.weight is given and self.extra is extra
            raise ValueError("boom")

    module, given, extra = Boom(), mg.zeros(2, 2), mg.ones(1)
    original = module.inner.weight
    with pytest.raises(ValueError, match="boom"):
        func.functional_call(module, {"inner.weight": given, "extra": extra}, mg.zeros(1, 2))
    assert module.inner.weight is original and module.inner._parameters["weight"] is original
    assert not hasattr(module, "extra")
    assert [name for name, _ in module.named_parameters()] == ["inner.weight", "inner.bias"]


def test_functional_call_buffers_update_the_given_tensor_as_torch(torch: Any) -> None:
    results = []
    for F, lib, norm in ((func, mg, nn.BatchNorm1d(3, dtype=mg.float64)),
                         (torch.func, torch, torch.nn.BatchNorm1d(3, dtype=torch.float64))):
        mean = lib.zeros(3, dtype=lib.float64)
        out = F.functional_call(norm, {"running_mean": mean}, lib.tensor(X[:, :3]))
        results.append((out, mean, norm.running_mean))
    _same(*results)


def test_functional_call_ties_and_strict_as_torch(torch: Any) -> None:
    def tied(lib: Any, module_lib: Any) -> Any:
        module = module_lib.Sequential(module_lib.Linear(3, 3, bias=False), module_lib.Linear(3, 3, bias=False))
        module[1].weight = module[0].weight
        return module.double()

    for F, lib, module_lib in ((func, mg, nn), (torch.func, torch, torch.nn)):
        module, w, x = tied(lib, module_lib), lib.eye(3, dtype=lib.float64) * 2, lib.ones(1, 3, dtype=lib.float64)
        assert F.functional_call(module, {"0.weight": w}, x).tolist() == [[4.0, 4.0, 4.0]]   # both replaced
        untied = F.functional_call(module, {"0.weight": w}, x, tie_weights=False)
        assert not np.allclose(np.asarray(untied.tolist()), 4.0)
    programs = [
        lambda F, lib, module_lib: F.functional_call(
            tied(lib, module_lib), {"0.weight": lib.eye(3), "1.weight": lib.ones(3, 3)}, lib.ones(1, 3)),
        lambda F, lib, module_lib: F.functional_call(
            module_lib.Linear(2, 2), {"weight": lib.zeros(2, 2), "foo": lib.zeros(1)}, lib.ones(1, 2), strict=True),
        lambda F, lib, module_lib: F.functional_call(
            module_lib.Linear(2, 2), ({"weight": lib.zeros(2, 2)}, {"weight": lib.zeros(2, 2)}), lib.ones(2)),
        lambda F, lib, module_lib: F.functional_call(
            module_lib.Linear(2, 2), [{"weight": lib.zeros(2, 2)}, 3], lib.ones(2)),
    ]
    for program in programs:
        errors = []
        for F, lib, module_lib in ((func, mg, nn), (torch.func, torch, torch.nn)):
            with pytest.raises(Exception) as info:
                program(F, lib, module_lib)
            errors.append((type(info.value).__name__, str(info.value)))
        assert errors[0] == errors[1]


def test_functional_call_of_a_compiled_module_uses_the_given_tensors() -> None:
    layer = nn.Linear(3, 2, dtype=mg.float64)
    layer.compile()
    x = mg.tensor(X[:, :3])
    before = layer(x).numpy()
    doubled = {k: v.detach() * 2 for k, v in layer.named_parameters()}
    out = func.functional_call(layer, doubled, x)
    np.testing.assert_allclose(out.numpy(), (x @ doubled["weight"].T + doubled["bias"]).numpy())
    np.testing.assert_allclose(layer(x).numpy(), before)


def test_stateless_functional_call_warns_as_torch() -> None:
    layer = nn.Linear(2, 1, dtype=mg.float64)
    with pytest.warns(FutureWarning, match="torch.func.functional_call"):
        out = mg.nn.utils.stateless.functional_call(layer, {"bias": mg.tensor([5.0], dtype=mg.float64)},
                                                    mg.zeros(1, 2, dtype=mg.float64))
    assert out.tolist() == [[5.0]]
    assert mg.func.functional_call is func.functional_call


def test_stack_module_state_ensembles_as_torch(torch: Any) -> None:
    weights = RNG.standard_normal((3, 2, 4))
    results = []
    for F, lib, module_lib in ((func, mg, nn), (torch.func, torch, torch.nn)):
        models = [module_lib.Linear(4, 2).double() for _ in range(3)]
        for i, m in enumerate(models):
            with lib.no_grad():
                m.weight.copy_(lib.tensor(weights[i]))
                m.bias.fill_(float(i))
        params, buffers = F.stack_module_state(models)
        out = F.vmap(lambda p, b, x, m=models[0], F=F: F.functional_call(m, (p, b), (x,)), in_dims=(0, 0, None))(
            params, buffers, lib.tensor(X))
        results.append((out, params["weight"].requires_grad, params["weight"].is_leaf))
    _same(*results)


@pytest.mark.gpu
def test_transforms_on_the_gpu_as_on_the_cpu() -> None:
    model = nn.Linear(4, 2, dtype=mg.float64)
    results = []
    for device in ("cpu", "cuda"):
        model.to(device)
        params = {k: v.detach() for k, v in model.named_parameters()}
        x, y = mg.tensor(X, device=device), mg.tensor(X[:, :2], device=device)
        per_sample = func.vmap(func.grad(lambda p, a, b: (func.functional_call(model, p, a) - b).square().sum()),
                               in_dims=(None, 0, 0))(params, x, y)
        jac = func.jacrev(lambda a: model(a).tanh())(x)
        results.append([per_sample[k].numpy() for k in per_sample] + [jac.numpy()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_a_buffer_changed_in_place_inside_a_transform_is_refused_and_put_back() -> None:
    # BatchNorm in train mode under vmap(grad(functional_call)): torch refuses the running-statistics update of
    # a tensor captured from outside the transform; ours raises too, with the buffers as they were
    mg.manual_seed(0)
    model = nn.Sequential(nn.BatchNorm1d(4), nn.Flatten(), nn.Linear(12, 1))
    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = {k: v.detach() for k, v in model.named_buffers()}
    x, y = mg.randn(5, 4, 3), mg.randn(5, 1)

    def loss(p: dict, b: dict, xi: mg.Tensor, yi: mg.Tensor) -> mg.Tensor:
        return ((func.functional_call(model, (p, b), (xi[None],)) - yi) ** 2).mean()

    before = {k: v.numpy().copy() for k, v in buffers.items()}
    for transform in (func.vmap(func.grad(loss), in_dims=(None, None, 0, 0)), func.vmap(loss, (None, None, 0, 0))):
        with pytest.raises(RuntimeError, match="changed its buffer.*running_mean.*in place inside a torch.func"):
            transform(params, buffers, x, y)
        assert all(np.array_equal(buffers[k].numpy(), before[k]) for k in before)
    model.eval()   # no buffer update: per-sample gradients as usual
    assert func.vmap(func.grad(loss), in_dims=(None, None, 0, 0))(params, buffers, x, y)["2.weight"].shape == (5, 1, 12)
    model.train()
    func.functional_call(model, (params, buffers), (x,))   # outside a transform the update happens, as torch's
    assert int(buffers["0.num_batches_tracked"].item()) == 1
