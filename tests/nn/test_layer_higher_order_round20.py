"""Round 20: higher-order and forward-mode gradients through whole nn modules and losses, fuzzed against torch 2.13
(float64, to 1e-10): gradient penalties (double backward w.r.t. inputs and parameters), autograd.functional.hvp/vhp,
forward AD (dual numbers, autograd.functional.jvp) and torch.func (functional_call, grad, jvp, jacrev/jacfwd,
hessian, vmap of per-sample gradients). One regression test per root cause found.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg

RNG = np.random.default_rng(20)


@pytest.fixture(scope="module", autouse=True)
def _torch_func_loaded() -> None:
    """torch.func's first jvp through an embedding loads its decompositions (seconds, once): done in setup."""
    try:
        import torch
    except ImportError:
        return
    w = torch.ones(2, 1, dtype=torch.float64)
    torch.func.jvp(lambda v: torch.nn.functional.embedding(torch.tensor([1]), v, padding_idx=0) * 2, (w,), (w,))


# --- forward AD through an embedding with padding_idx: PyTorch's jvp is the plain lookup of the tangent -------------

@pytest.mark.parametrize("padding_idx", [0, 3, -1])
def test_embedding_forward_ad_keeps_the_padding_rows_tangent(padding_idx: int, torch: Any) -> None:
    """The padding row's output is that row of the table, so its tangent is the tangent's row (torch's forward AD);
    only the (double) backward masks it. Ours masked the tangent too (forward AD is built on the backward rules)."""
    weight, tangent = RNG.standard_normal((5, 3)), RNG.standard_normal((5, 3))
    indices = np.array([[0, 1, 3], [4, 3, 2]])

    def results(lib: Any) -> list:
        def f(w: Any) -> Any:
            return lib.nn.functional.embedding(lib.tensor(indices), w, padding_idx=padding_idx) * 2

        w, t = lib.tensor(weight), lib.tensor(tangent)
        fa = lib.autograd.forward_ad
        with fa.dual_level():
            dual = fa.unpack_dual(f(fa.make_dual(w, t))).tangent
        return [dual, lib.func.jvp(f, (w,), (t,))[1], lib.func.jacfwd(f)(w),
                lib.autograd.functional.jvp(f, (w,), (t,))[1]]   # the last: reverse mode's (masked) in torch too

    for ours, theirs in zip(results(mg), results(torch)):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-12)


def _twins(expression: str, torch: Any) -> tuple:
    """(minigrad's module, torch's) built from ``expression`` over ``nn``, in float64, with the same state."""
    ours = eval(expression, vars(mg.nn)).double()          # noqa: S307 - the tests' own expressions
    theirs = eval(expression, vars(torch.nn)).double()     # noqa: S307
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    return ours, theirs


# --- torch.func through an InstanceNorm that tracks running statistics ------------------------------------------------

def _transformed(lib: Any, model: Any, transform: str, x0: np.ndarray) -> list:
    """``transform`` of the sum of cubes of ``model``'s output through functional_call (parameters and buffers
    passed in, buffers captured), then the buffers; an error's class in place of the result."""
    params = {k: v.detach().clone() for k, v in model.named_parameters()}
    buffers = {k: v.detach().clone() for k, v in model.named_buffers()}
    x = lib.tensor(x0)

    def loss(p: dict, inputs: Any) -> Any:
        return lib.func.functional_call(model, {**p, **buffers}, (inputs,)).pow(3).sum()

    try:
        if transform == "grad":
            got = [v.numpy() for _, v in sorted(lib.func.grad(loss)(params, x).items())]
        elif transform == "jvp":
            got = [lib.func.jvp(lambda inputs: loss(params, inputs), (x,), (x * 0.5,))[1].numpy()]
        else:
            got = [lib.func.vmap(lib.func.grad(loss), in_dims=(None, 0))(params, x[:, None])]
    except RuntimeError as error:
        got = [type(error)]
    return got + [v.numpy() for _, v in sorted(buffers.items())]


@pytest.mark.parametrize("transform", ["grad", "jvp", "vmap"])
def test_instance_norm_running_stats_under_func_transforms(transform: str, torch: Any) -> None:
    """torch's instance_norm moves its running estimates in its kernel, which torch.func's grad and jvp let happen
    (vmap refuses: the buffers are not batched); ours refused all three (as for BatchNorm, which torch refuses)."""
    x0 = RNG.standard_normal((3, 2, 4))
    models = _twins("Sequential(Linear(4, 4), InstanceNorm1d(2, affine=True, track_running_stats=True))", torch)
    ours, theirs = (_transformed(lib, model, transform, x0) for lib, model in zip((mg, torch), models))
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        if isinstance(b, type):
            assert a is b
        else:
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# --- forward-over-reverse through a gradient without a derivative: NotImplementedError, as torch's forward AD -------

def _ctc_error_class(lib: Any, transform: str, log_probs: np.ndarray) -> type:
    """The class of the error ``transform`` of a summed ctc_loss raises (it must raise)."""
    x, targets = lib.tensor(log_probs), lib.tensor([[1, 2], [3, 1]])

    def loss(v: Any) -> Any:
        return lib.nn.functional.ctc_loss(v.log_softmax(2), targets, [5, 4], [2, 1], reduction="sum")

    programs = {"hessian": lambda: lib.func.hessian(loss)(x),
                "jacfwd_jacrev": lambda: lib.func.jacfwd(lib.func.jacrev(loss))(x),
                "jvp_grad": lambda: lib.func.jvp(lib.func.grad(loss), (x,), (x,)),
                "hvp": lambda: lib.autograd.functional.hvp(loss, x, x)}
    with pytest.raises(RuntimeError) as caught:   # NotImplementedError is a RuntimeError
        programs[transform]()
    return NotImplementedError if issubclass(caught.type, NotImplementedError) else RuntimeError


@pytest.mark.parametrize("transform", ["hessian", "jacfwd_jacrev", "jvp_grad", "hvp"])
def test_forward_over_reverse_through_ctc_loss_raises_torchs_class(transform: str, torch: Any) -> None:
    """ctc_loss's gradient has no derivative (nor in torch): forward AD over it raised NoSecondDerivative, a
    RuntimeError, where torch's forward AD raises NotImplementedError (reverse-over-reverse: RuntimeError, both)."""
    log_probs = RNG.standard_normal((5, 2, 4))
    assert _ctc_error_class(mg, transform, log_probs) is _ctc_error_class(torch, transform, log_probs)


# --- soft_margin_loss has no derivative w.r.t. its target in torch: a target that requires grad raises -------------

@pytest.mark.parametrize("module", [False, True])
@pytest.mark.parametrize("input_requires_grad", [False, True])
def test_soft_margin_loss_refuses_a_target_that_requires_grad(module: bool, input_requires_grad: bool,
                                                               torch: Any) -> None:
    """torch raises at the call (a gradient penalty w.r.t. both arguments, func.grad over the target, ...); ours
    differentiated w.r.t. the target. Under no_grad both compute."""
    x0, y0 = RNG.standard_normal((3, 4)), np.sign(RNG.standard_normal((3, 4)))
    for lib in (mg, torch):
        loss = lib.nn.SoftMarginLoss() if module else lib.nn.functional.soft_margin_loss
        x, y = lib.tensor(x0, requires_grad=input_requires_grad), lib.tensor(y0, requires_grad=True)
        with pytest.raises(RuntimeError, match="not differentiable with respect to argument 'target'"):
            loss(x, y)
        with lib.no_grad():
            value = loss(x, y).item()
    assert value == pytest.approx(mg.nn.functional.soft_margin_loss(mg.tensor(x0), mg.tensor(y0)).item(), rel=1e-12)
