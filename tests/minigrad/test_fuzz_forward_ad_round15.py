"""Forward-mode AD (func.jvp, forward_ad duals, jacfwd, linearize, autograd.functional.jvp) fuzzed against PyTorch:
one regression test per root cause found (float64, to 1e-10; finite differences where PyTorch has no answer)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

RNG = np.random.default_rng(15)


@pytest.fixture(scope="module")
def torch() -> Any:
    torch = pytest.importorskip("torch", reason="no torch")
    # setup: torch.func.jvp's first call (and its first cast) load torch's decompositions, seconds
    one = torch.ones(1, dtype=torch.float64)
    torch.func.jvp(lambda a: (a.long(), a * 2), (one,), (one,))
    return torch


def _np(t: Any) -> Any:
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def _central_difference(f: Callable, primals: list, tangents: list, eps: float = 1e-6) -> np.ndarray:
    """(f(p + eps·t) - f(p - eps·t)) / 2eps on float64 NumPy arrays."""
    def at(s: float) -> np.ndarray:
        return _np(f(*[mg.tensor(p + s * t) for p, t in zip(primals, tangents)]))
    return (at(eps) - at(-eps)) / (2 * eps)


# --- a weighted cross-entropy/nll mean: the tangent w.r.t. the class weights ----------------------------------------

@pytest.mark.parametrize(("loss", "label_smoothing"), [("cross_entropy", 0.0), ("cross_entropy", 0.1),
                                                       ("nll_loss", 0.0)])
def test_weighted_mean_loss_tangent_wrt_weight(loss: str, label_smoothing: float) -> None:
    # the higher-order rule of the mean over weighted targets read its saved inputs as (denominator, quotient):
    # the tangent (and the double backward) w.r.t. the weights was wrong. PyTorch has no derivative w.r.t. the
    # weights (its reverse mode refuses, its forward AD ignores their tangent), hence finite differences.
    logits, w = RNG.standard_normal((3, 4)), RNG.standard_normal(4)
    tangents = [RNG.standard_normal((3, 4)), RNG.standard_normal(4)]
    target = mg.tensor([1, 0, 2])

    def f(x: mg.Tensor, v: mg.Tensor) -> mg.Tensor:
        if loss == "nll_loss":
            return mg.nn.functional.nll_loss(x.log_softmax(-1), target, weight=v.exp())
        return mg.nn.functional.cross_entropy(x, target, weight=v.exp(), label_smoothing=label_smoothing)

    _, tangent = mg.func.jvp(f, (mg.tensor(logits), mg.tensor(w)), tuple(mg.tensor(t) for t in tangents))
    np.testing.assert_allclose(_np(tangent), _central_difference(f, [logits, w], tangents), rtol=1e-6, atol=1e-8)

    # the double backward: the Hessian block d²L/dw² against finite differences of the (first-order) gradient
    def gradient(v: np.ndarray) -> np.ndarray:
        x = mg.tensor(v, requires_grad=True)
        return _np(mg.autograd.grad(f(mg.tensor(logits), x), x)[0])

    numeric = np.stack([(gradient(w + 1e-6 * e) - gradient(w - 1e-6 * e)) / 2e-6 for e in np.eye(4)], axis=1)
    hessian = mg.func.hessian(lambda v: f(mg.tensor(logits), v))(mg.tensor(w))
    np.testing.assert_allclose(_np(hessian), numeric, rtol=1e-6, atol=1e-8)


# --- integer and bool outputs: zero tangents of their dtype -------------------------------------------------------

_INTEGER_OUTPUTS = {
    "argmax": lambda lib, a: a.argmax(),
    "comparison": lambda lib, a: a > 0,
    "mixed": lambda lib, a: (a.sin(), a.argmax()),
    "integer_first": lambda lib, a: (a.long(), a * 2),
}


@pytest.mark.parametrize("name", sorted(_INTEGER_OUTPUTS))
@pytest.mark.parametrize("api", ["jvp", "jacfwd", "jvp_in_dual_level"])
def test_integer_outputs_get_zero_tangents(api: str, name: str, torch: Any) -> None:
    # jvp and jacfwd refused them with vjp's error; torch.func's give zeros of the output's dtype
    x, t = RNG.standard_normal(3), RNG.standard_normal(3)

    def run(lib: Any) -> list:
        fn = lambda a: _INTEGER_OUTPUTS[name](lib, a)  # noqa: E731
        if api == "jacfwd":
            result = lib.func.jacfwd(fn)(lib.tensor(x))
        elif api == "jvp" or lib is torch:   # torch refuses jvp inside an open dual level (nested forward AD)
            result = lib.func.jvp(fn, (lib.tensor(x),), (lib.tensor(t),))
        else:
            with lib.autograd.forward_ad.dual_level():
                result = lib.func.jvp(fn, (lib.tensor(x),), (lib.tensor(t),))
        return [r for r in mg.func._pytree.flatten(result)[0]] if lib is mg else list(
            torch.utils._pytree.tree_leaves(result))

    ours, theirs = run(mg), run(torch)
    assert len(ours) == len(theirs)
    for mine, expected in zip(ours, theirs):
        assert str(mine.dtype).replace("torch.", "") == str(expected.dtype).replace("torch.", "")
        np.testing.assert_allclose(_np(mine), _np(expected), rtol=1e-10, atol=1e-12)


def test_vjp_and_jacrev_still_refuse_integer_outputs(torch: Any) -> None:
    x = RNG.standard_normal(3)
    for lib in (mg, torch):
        with pytest.raises(RuntimeError, match="floating-point or complex"):
            lib.func.jacrev(lambda a: a.argmax())(lib.tensor(x))
        with pytest.raises(RuntimeError, match="floating-point or complex"):
            lib.func.vjp(lambda a: a > 0, lib.tensor(x))


# --- torch.func.jvp under inference_mode ----------------------------------------------------------------------------

def test_jvp_under_inference_mode(torch: Any) -> None:
    # ours gave zero tangents (the ops run in the mode carried none); torch.func's jvp computes them there
    x, t = RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3))

    def run(lib: Any) -> list:
        with lib.inference_mode():
            out, tangent = lib.func.jvp(lambda a: (a.sin() * a).softmax(-1), (lib.tensor(x),), (lib.tensor(t),))
        return [_np(out), _np(tangent)]

    for mine, expected in zip(run(mg), run(torch)):
        np.testing.assert_allclose(mine, expected, rtol=1e-10, atol=1e-12)


# --- autograd.functional.jvp: a NaN derivative stays in its own element ---------------------------------------------

_NAN_DERIVATIVE = {
    "erfinv": (lambda lib, a: lib.special.erfinv(a), np.array([0.3, 1.5, -0.2])),        # 1.5 outside [-1, 1]
    "pow_zero_base": (lambda lib, a: lib.pow(a * 0, a), np.array([0.5, 1.2, 2.0])),   # d/dx 0^x
    "sqrt": (lambda lib, a: (a.sqrt() * 2).cumsum(0), np.array([0.25, -1.0, 4.0])),
}


@pytest.mark.parametrize("name", sorted(_NAN_DERIVATIVE))
def test_functional_jvp_keeps_nan_in_its_element(name: str, torch: Any) -> None:
    # J·v was summed from J's rows, where an element's NaN derivative times the zero of the one-hot made every
    # product NaN; PyTorch's double-backward trick (used now) keeps it in its own element
    fn, x = _NAN_DERIVATIVE[name]
    v = np.array([0.7, -0.4, 1.1])
    ours = mg.autograd.functional.jvp(lambda a: fn(mg, a), mg.tensor(x), mg.tensor(v))
    theirs = torch.autograd.functional.jvp(lambda a: fn(torch, a), torch.tensor(x), torch.tensor(v))
    for mine, expected in zip(ours, theirs):
        np.testing.assert_allclose(_np(mine), _np(expected), rtol=1e-10, atol=1e-12)


# --- an in-place op on a tensor saved for a derivative: a forward-AD error, not a "backward" one ---------------------

def _exp_then_scale(lib: Any, a: Any) -> Any:
    b = a.exp()
    b.mul_(2)   # exp saved its output for its derivative
    return b


def _self_multiply(lib: Any, a: Any) -> Any:
    b = a * 1
    b.mul_(b)
    return b


@pytest.mark.parametrize("fn", [_exp_then_scale, _self_multiply])
def test_inplace_on_a_saved_tensor_raises_a_forward_ad_error(fn: Callable, torch: Any) -> None:
    # PyTorch's forward AD computes these; minigrad's tangents come from the reverse-mode graph, which the in-place
    # op invalidated: a RuntimeError that says so (it read "backward: ..." inside func.jvp)
    x, t = RNG.standard_normal(3), RNG.standard_normal(3)
    torch.func.jvp(lambda a: fn(torch, a), (torch.tensor(x),), (torch.tensor(t),))   # computes
    with pytest.raises(RuntimeError, match="forward AD: .*in-place op changed a tensor an earlier op saved"):
        mg.func.jvp(lambda a: fn(mg, a), (mg.tensor(x),), (mg.tensor(t),))
    with pytest.raises(RuntimeError, match="forward AD: .*in-place op changed a tensor an earlier op saved"):
        mg.func.jacfwd(lambda a: fn(mg, a))(mg.tensor(x))


# --- an op whose gradient has no derivative: forward AD raises NotImplementedError, as PyTorch's ---------------------

def _ctc(lib: Any, a: Any) -> Any:
    return lib.nn.functional.ctc_loss(a.log_softmax(-1), lib.tensor([[1, 2]]), lib.tensor([4]), lib.tensor([2]))


@pytest.mark.parametrize("api", ["jvp", "jacfwd", "linearize"])
def test_forward_ad_of_ctc_loss_raises_not_implemented(api: str, torch: Any) -> None:
    # it raised reverse mode's RuntimeError (double backward of ctc_loss); the reverse-mode one stays RuntimeError
    x, t = RNG.standard_normal((4, 1, 3)), RNG.standard_normal((4, 1, 3))

    def run(lib: Any) -> Any:
        f = lambda a: _ctc(lib, a)  # noqa: E731
        if api == "jvp":
            return lib.func.jvp(f, (lib.tensor(x),), (lib.tensor(t),))
        if api == "jacfwd":
            return lib.func.jacfwd(f)(lib.tensor(x))
        return lib.func.linearize(f, lib.tensor(x))[1](lib.tensor(t))

    for lib in (mg, torch):
        with pytest.raises(NotImplementedError):
            run(lib)
    for lib in (mg, torch):
        a = lib.tensor(x, requires_grad=True)
        (g,) = lib.autograd.grad(_ctc(lib, a), a, create_graph=True)
        with pytest.raises(RuntimeError) as info:
            lib.autograd.grad(g.sum(), a)
        assert not isinstance(info.value, NotImplementedError)


# --- transforms' edge cases: as torch.func -------------------------------------------------------------------------

def test_linearize_of_a_function_with_non_tensor_outputs(torch: Any) -> None:
    # func returning a non-Tensor beside its Tensors raised RuntimeError; torch's jvp_fn hands it back as it is
    x, t = RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3))

    def run(lib: Any) -> list:
        def f(a: Any) -> Any:
            with lib.no_grad():   # forward AD differentiates it anyway
                b = a.exp()
            return (b * a.sin(), 3, a.sum())
        _, jvp_fn = lib.func.linearize(f, lib.tensor(x))
        product, number, total = jvp_fn(lib.tensor(t))
        return [_np(product), number, _np(total)]

    ours, theirs = run(mg), run(torch)
    assert ours[1] == theirs[1] == 3
    for i in (0, 2):
        np.testing.assert_allclose(ours[i], theirs[i], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", ["no_primals", "integer_primal_jacfwd"])
def test_transform_argument_errors_as_torch(case: str, torch: Any) -> None:
    # jvp with no primals computed (torch: RuntimeError); jacfwd of an integer input raised GradTypeError
    for lib in (mg, torch):
        if case == "no_primals":
            with pytest.raises(RuntimeError, match="at least one Tensor"):
                lib.func.jvp(lambda ones=lib.ones(2): ones, (), ())
        else:
            with pytest.raises(ValueError, match="Expected primal to be floating point or complex"):
                lib.func.jacfwd(lambda a: a * 2)(lib.tensor([1, 2]))


# --- in-place ops on a dual tensor itself --------------------------------------------------------------------------

def _inplace_on_duals(lib: Any, api: str, x: np.ndarray, t: np.ndarray) -> list:
    def f(a: Any) -> Any:
        before = a * 3          # recorded before the in-place ops: its tangent is 3t still
        if api != "jacfwd":   # a view of a dual (jacfwd's duals sit on its own leaves: refused there)
            a.t()[2].mul_(3)
        a.mul_(2)
        a[0] += a[1] * 0.5
        return a.exp() + before
    if api == "fwad":
        fw = lib.autograd.forward_ad
        primal = lib.tensor(x)
        with fw.dual_level():
            dual = fw.make_dual(primal, lib.tensor(t))
            y = f(dual)
            unpacked = fw.unpack_dual(dual)
            return [_np(fw.unpack_dual(y).tangent), _np(unpacked.primal), _np(unpacked.tangent), _np(primal)]
    if api == "jvp":
        return [_np(r) for r in lib.func.jvp(f, (lib.tensor(x),), (lib.tensor(t),))]
    return [_np(lib.func.jacfwd(f)(lib.tensor(x)))]


@pytest.mark.parametrize("api", ["fwad", "jvp", "jacfwd"])
def test_inplace_ops_on_a_dual_tensor(api: str, torch: Any) -> None:
    # a dual was a leaf that requires grad: in-place ops on it and its views raised; PyTorch's duals take them
    # (and write the primal's memory)
    x, t = RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3))
    ours, theirs = _inplace_on_duals(mg, api, x, t), _inplace_on_duals(torch, api, x, t)
    assert len(ours) == len(theirs)
    for mine, expected in zip(ours, theirs):
        np.testing.assert_allclose(mine, expected, rtol=1e-10, atol=1e-12)


# --- eigvals in float32: its higher-order rule compared a fresh eig to float64 precision -----------------------------

@pytest.mark.parametrize("api", ["jvp", "jacfwd"])
def test_eigvals_float32_forward_ad(api: str, torch: Any) -> None:
    # the rule rebuilds eig of the input and refused (NotImplementedError) unless its eigenvalues agreed to 1e-8
    a = RNG.standard_normal((3, 3))
    x, t = (a @ a.T + 3 * np.eye(3)).astype(np.float32), RNG.standard_normal((3, 3)).astype(np.float32)

    def run(lib: Any) -> np.ndarray:
        f = lambda m: lib.linalg.eigvals(m).real.sort().values  # noqa: E731
        if api == "jvp":
            return _np(lib.func.jvp(f, (lib.tensor(x),), (lib.tensor(t),))[1])
        return _np(lib.func.jacfwd(f)(lib.tensor(x)))

    np.testing.assert_allclose(run(mg), run(torch), rtol=1e-4, atol=1e-4)
