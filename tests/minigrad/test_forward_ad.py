"""``mg.autograd.forward_ad`` (dual tensors, forward-mode J·t) and ``mg.func.linearize`` against PyTorch's.

Each case runs the same float64 program with ``lib = minigrad`` and ``lib = torch`` inside a dual level and
compares primals and tangents to 1e-10; a few are also checked against central finite differences (no torch
needed). Tangents come from the reverse-mode engine (the double-vjp trick), so an op without a higher-order
rule must raise NotImplementedError naming it, never give a wrong tangent.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import minigrad.autograd.forward_ad as fwAD

RNG = np.random.default_rng(11)


def _normal(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)


@pytest.fixture(scope="module")
def torch() -> Any:
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (optional test peer)")
    # torch's first op on a dual tensor loads its forward-AD decompositions (~2 s, once per process): setup, as
    # `import torch` is
    with torch.autograd.forward_ad.dual_level():
        1 + torch.autograd.forward_ad.make_dual(torch.ones(1), torch.ones(1))   # (its first dual op with a number)
    return torch


def _forward(lib: Any, fn: Callable, primals: list, tangents: list) -> tuple[list, list]:
    """fn's outputs and their tangents (NumPy arrays) with dual inputs, in ``lib``'s forward AD."""
    fw = lib.autograd.forward_ad
    with fw.dual_level():
        duals = [fw.make_dual(lib.tensor(p), lib.tensor(t)) for p, t in zip(primals, tangents)]
        out = fn(lib, *duals)
        outs = list(out) if isinstance(out, tuple) else [out]
        unpacked = [fw.unpack_dual(o) for o in outs]
        return ([u.primal.detach().numpy() for u in unpacked],
                [None if u.tangent is None else u.tangent.detach().numpy() for u in unpacked])


def _cross_entropy(lib: Any, a: Any) -> Any:
    return lib.nn.functional.cross_entropy(a, lib.tensor([1, 0, 3]))


CASES: dict[str, tuple[Callable, tuple]] = {
    "elementwise": (lambda lib, a: ((a.sin() * a.exp() + a.tanh() / (1 + a ** 2)).sigmoid() - a.abs().sqrt()),
                    (_normal(3, 4),)),
    "two_duals": (lambda lib, a, b: a * b - (a / (b ** 2 + 1)).square().log1p(), (_normal(3, 4), _normal(3, 4))),
    "matmul": (lambda lib, a, b: (a @ b).relu() @ b.T, (_normal(3, 4), _normal(4, 5))),
    "softmax": (lambda lib, a: (a.softmax(-1), a.log_softmax(0), _cross_entropy(lib, a)), (_normal(3, 5),)),
    "reductions": (lambda lib, a: (a.sum(1), a.mean(), a.max(dim=1).values, a.var(0), a.norm(), a.logsumexp(1),
                                   a.prod(1), a.std(1, keepdim=True)), (_normal(3, 4),)),
    "views": (lambda lib, a: (a[1:, ::2].T.reshape(-1), a[[0, 2, 0]], lib.cat([a, a.flip(0)], 1).transpose(0, 1),
                              a.unsqueeze(0).expand(2, 3, 4).sum(0), a.view(12)[3:9]), (_normal(3, 4),)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_same_tangents_as_torch(name: str, torch: Any) -> None:
    fn, primals = CASES[name]
    tangents = [_normal(*p.shape) for p in primals]
    ours, theirs = _forward(mg, fn, list(primals), tangents), _forward(torch, fn, list(primals), tangents)
    for mine, expected in zip(ours[0] + ours[1], theirs[0] + theirs[1]):
        assert mine.shape == expected.shape and mine.dtype == expected.dtype
        np.testing.assert_allclose(mine, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["elementwise", "two_duals", "softmax"])
def test_tangents_are_finite_differences(name: str) -> None:
    fn, primals = CASES[name]
    tangents = [_normal(*p.shape) for p in primals]
    _, (tangent, *_) = _forward(mg, fn, list(primals), tangents)
    eps = 1e-6

    def first(shift: float) -> np.ndarray:
        out = fn(mg, *[mg.tensor(p + shift * t) for p, t in zip(primals, tangents)])
        return (out[0] if isinstance(out, tuple) else out).numpy()
    np.testing.assert_allclose(tangent, (first(eps) - first(-eps)) / (2 * eps), rtol=1e-6, atol=1e-8)


def _layers(torch: Any, kind: str) -> tuple[Any, Any]:
    torch.manual_seed(0)
    theirs = getattr(torch.nn, kind)(3, 4).double()
    ours = getattr(mg.nn, kind)(3, 4, dtype=mg.float64)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize("kind", ["Linear", "LSTM", "GRU"])
def test_modules_with_dual_input_and_dual_weight(kind: str, torch: Any) -> None:
    ours, theirs = _layers(torch, kind)
    x = _normal(3, 2, 3)   # (T, B, I); Linear maps the last dim
    weight = "weight" if kind == "Linear" else "weight_hh_l0"
    w = dict(theirs.named_parameters())[weight].detach().numpy()
    tx, tw = _normal(*x.shape), _normal(*w.shape)
    results = []
    for lib, model in ((mg, ours), (torch, theirs)):
        fw = lib.autograd.forward_ad
        with fw.dual_level():
            out = model(fw.make_dual(lib.tensor(x), lib.tensor(tx)))
            out = out[0] if isinstance(out, tuple) else out
            by_input = fw.unpack_dual(out).tangent.detach().numpy()
            dual_w = fw.make_dual(lib.tensor(w), lib.tensor(tw))
            out = lib.func.functional_call(model, {weight: dual_w}, (lib.tensor(x),))
            out = out[0] if isinstance(out, tuple) else out
            primal, by_weight = fw.unpack_dual(out)
            results.append((primal.detach().numpy(), by_input, by_weight.detach().numpy()))
    for mine, expected in zip(*results):
        np.testing.assert_allclose(mine, expected, rtol=1e-10, atol=1e-12)


def test_hessian_vector_product_forward_over_reverse(torch: Any) -> None:
    x, v = _normal(4), _normal(4)

    def f(lib: Any, a: Any) -> Any:
        return (a.sin() * a).sum() + (a ** 3).prod() + a.softmax(0)[1]

    results = []
    for lib, requires_grad in ((torch, True), (mg, True), (mg, False)):   # torch: only a primal requiring grad
        fw = lib.autograd.forward_ad
        primal = lib.tensor(x, requires_grad=requires_grad)
        with fw.dual_level():
            dual = fw.make_dual(primal, lib.tensor(v))
            (gradient,) = lib.autograd.grad(f(lib, dual), primal if requires_grad else dual)
            results.append(fw.unpack_dual(gradient).tangent.detach().numpy())
    for mine in results[1:]:
        np.testing.assert_allclose(mine, results[0], rtol=1e-10, atol=1e-12)


def test_levels_and_unpacking() -> None:
    x, t = mg.tensor(_normal(3)), mg.tensor(_normal(3))
    primal, tangent = fwAD.unpack_dual(x)   # outside any level: the tensor itself, no tangent
    assert primal is x and tangent is None
    with fwAD.dual_level() as level:
        assert level == 0
        dual = fwAD.make_dual(x, t)
        unpacked = fwAD.unpack_dual(dual)
        assert isinstance(unpacked, fwAD.UnpackedDualTensor) and unpacked._fields == ("primal", "tangent")
        assert unpacked.tangent is t and np.array_equal(unpacked.primal.numpy(), x.numpy())
        assert fwAD.unpack_dual(x).tangent is None and fwAD.unpack_dual(dual.argmax()).tangent is None
        assert fwAD.unpack_dual(dual.detach()).tangent is None
        y = dual * 2
        assert fwAD.unpack_dual(y).tangent is fwAD.unpack_dual(y).tangent   # computed once
        with pytest.raises(RuntimeError, match="Nested forward mode AD is not supported"):
            fwAD.enter_dual_level()
    assert fwAD.unpack_dual(y).tangent is None   # the level is gone
    with pytest.raises(RuntimeError, match="positive number"):
        fwAD.exit_dual_level()
    assert fwAD.enter_dual_level() == 0
    with pytest.raises(RuntimeError, match="not the last one"):
        fwAD.exit_dual_level(level=1)
    fwAD.exit_dual_level(level=0)

    @fwAD.dual_level()
    def decorated() -> Any:
        return fwAD.unpack_dual(fwAD.make_dual(x, t).exp()).tangent
    np.testing.assert_allclose(decorated().numpy(), np.exp(x.numpy()) * t.numpy())


def _errors(lib: Any, x: Any, t: Any) -> list:
    fw = lib.autograd.forward_ad
    caught = []
    calls = [lambda: fw.make_dual(x, t)]
    for call in calls:
        try:
            call()
        except (RuntimeError, ValueError) as error:
            caught.append((type(error), str(error)))
    with fw.dual_level():
        dual = fw.make_dual(x, t)
        for call in (lambda: fw.make_dual(x, lib.cat([t, t])), lambda: fw.make_dual(x, t.reshape(3, 1)),
                     lambda: fw.make_dual(lib.arange(3), lib.arange(3)), lambda: fw.make_dual(x, lib.arange(3)),
                     lambda: fw.make_dual(x, t, level=4), lambda: fw.make_dual(dual, t)):
            try:
                call()
            except (RuntimeError, ValueError) as error:
                caught.append((type(error), str(error).replace("torch.", "")))
    return caught


def test_errors_as_torch(torch: Any) -> None:
    x, t = _normal(3), _normal(3)
    ours, theirs = _errors(mg, mg.tensor(x), mg.tensor(t)), _errors(torch, torch.tensor(x), torch.tensor(t))
    assert len(ours) == len(theirs) == 7
    assert ours == theirs


def test_op_without_higher_order_rule_raises() -> None:
    compiled = mg.compile(lambda a: (a.sin() * a).sum())   # replayed calls: one node without a higher-order rule
    with fwAD.dual_level():
        dual = fwAD.make_dual(mg.tensor(_normal(4)), mg.tensor(_normal(4)))
        compiled(dual)   # the first call runs eagerly, to capture
        y = compiled(dual)
        with pytest.raises(NotImplementedError, match="forward AD.*compile"):
            fwAD.unpack_dual(y)


def test_linearize_as_torch(torch: Any) -> None:
    x, w, tx, tw = _normal(3, 4), _normal(4), _normal(3, 4), _normal(4)

    def f(lib: Any, a: Any, b: Any) -> Any:
        return (a.tanh() * b).softmax(-1), (a @ b).sum(), lib.ones(2, dtype=a.dtype)

    results = []
    for lib in (mg, torch):
        output, jvp_fn = lib.func.linearize(lambda a, b, lib=lib: f(lib, a, b), lib.tensor(x), lib.tensor(w))
        results.append([o.detach().numpy() for o in output + jvp_fn(lib.tensor(tx), lib.tensor(tw))
                        + jvp_fn(lib.tensor(tw[None, :] * tx), lib.tensor(tw))])
    for mine, expected in zip(*results):
        np.testing.assert_allclose(mine, expected, rtol=1e-10, atol=1e-12)
    _, jvp_fn = mg.func.linearize(lambda a: a.sin(), mg.tensor(x))
    with pytest.raises(RuntimeError, match="doesn't match the dtype"):
        jvp_fn(mg.tensor(tx).float())
    with pytest.raises(RuntimeError, match="doesn't match the shape"):
        jvp_fn(mg.tensor(tw))
