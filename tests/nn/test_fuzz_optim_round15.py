"""Round 15: bugs found by differential fuzzing of optimizer flags and learning-rate schedules against torch.optim."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import minigrad as mg
from nn import optim

torch = pytest.importorskip("torch", reason="no torch")


pytestmark = pytest.mark.usefixtures("torch_optim_loaded")


def _outcome(module: Any, opt_module: Any, name: str, kwargs: dict, dtype: Any, steps: int = 3) -> Any:
    """The parameter after ``steps`` steps on fixed gradients, or the class of the error raised."""
    kwargs = dict(kwargs)
    if isinstance(kwargs.get("lr"), tuple):            # ("tensor", value, shape)
        _, value, shape = kwargs["lr"]
        kwargs["lr"] = module.tensor(np.full(shape, value, dtype=np.float32))
    p = module.tensor(np.ones((2, 2)).astype(dtype), requires_grad=True)
    try:
        opt = getattr(opt_module, name)([p], **kwargs)
        for step in range(steps):
            p.grad = module.tensor((np.arange(1.0, 5.0).reshape(2, 2) / (step + 1)).astype(dtype))
            opt.step()
    except Exception as error:   # noqa: BLE001 (the class is what is compared)
        return type(error)
    return p.detach().numpy().copy()


def _assert_same(name: str, kwargs: dict, dtype: Any = np.float64) -> None:
    theirs = _outcome(torch, torch.optim, name, kwargs, dtype)
    ours = _outcome(mg, optim, name, kwargs, dtype)
    if isinstance(theirs, type):
        assert isinstance(ours, type) and issubclass(ours, theirs), (ours, theirs)
    else:
        assert not isinstance(ours, type), ours
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name, kwargs, dtype", [
    ("Adam", dict(fused=True, foreach=True), np.float64),
    ("AdamW", dict(fused=True, foreach=True), np.float64),
    ("SGD", dict(lr=0.1, fused=True, foreach=True), np.float64),
    ("Adagrad", dict(fused=True, foreach=True), np.float64),
    ("Adam", dict(fused=True, differentiable=True), np.float64),
    ("Adam", dict(fused=True), np.complex128),
    ("SGD", dict(lr=0.1, momentum=0.9, fused=True), np.complex64),
    ("Adagrad", dict(fused=True), np.complex128),
    ("Adam", dict(lr=("tensor", 0.1, ()), foreach=True), np.float64),
    ("AdamW", dict(lr=("tensor", 0.1, ()), foreach=True, fused=True), np.float64),
    ("SGD", dict(lr=0.1, nesterov=True, foreach=True, fused=True), np.float64),
])
def test_implementation_flags_are_refused_as_torch(name: str, kwargs: dict, dtype: Any) -> None:
    # fused with foreach (or differentiable), a fused step of a complex parameter, and Adam's Tensor lr under
    # foreach=True were taken (and stepped); PyTorch raises, in this order of its checks
    _assert_same(name, kwargs, dtype)


@pytest.mark.parametrize("name, kwargs", [
    ("Adam", dict(lr=("tensor", 0.1, ()), fused=True)),
    ("AdamW", dict(lr=("tensor", 0.1, ()), fused=True, amsgrad=True)),
    ("Adagrad", dict(lr=("tensor", 0.1, ()), fused=True, lr_decay=0.1)),
    ("SGD", dict(lr=("tensor", 0.1, (1,)), momentum=0.9)),
    ("Adam", dict(lr=("tensor", 0.1, (1, 1)))),
    ("RMSprop", dict(lr=("tensor", 0.01, (1,)), centered=True)),
    ("Adam", dict(lr=("tensor", 0.1, (2,)))),
])
def test_tensor_lr_read_as_torch(name: str, kwargs: dict) -> None:
    # a fused step reads a float32 Tensor lr as a double (it was rounded in float32 as the unfused steps do);
    # a one-element lr of shape (1,) is taken as PyTorch's (it was refused as not 0-d); two elements: ValueError
    _assert_same(name, kwargs)


@pytest.mark.parametrize("lr_dtype, alpha, reload", [(np.float32, 0.75, False), (np.float64, 0.75, True),
                                                      (np.float32, 0.3, True)])
def test_asgd_eta_follows_a_tensor_lr(lr_dtype: Any, alpha: float, reload: bool) -> None:
    # ASGD's next eta is lr / (1 + lambd·lr·t)^alpha in the Tensor lr's dtype (PyTorch's 0-d arithmetic), kept in
    # full after a load casts eta to a float64 parameter's dtype; it was always rounded through float32
    rng = np.random.default_rng(0)
    value, grads = rng.standard_normal(3), rng.standard_normal((20, 3))
    params = []
    for module, opt_module in ((torch, torch.optim), (mg, optim)):
        p = module.tensor(value.copy(), requires_grad=True)
        kwargs = dict(lr=module.tensor(np.array(0.01, dtype=lr_dtype)), lambd=0.1, alpha=alpha, t0=1.0)
        opt = opt_module.ASGD([p], **kwargs)
        for step, g in enumerate(grads):
            if reload and step == 3:
                saved = opt.state_dict()
                opt = opt_module.ASGD([p], **kwargs)
                opt.load_state_dict(saved)
            p.grad = module.tensor(g.copy())
            opt.step()
        params.append(p.detach().numpy())
    np.testing.assert_allclose(params[1], params[0], rtol=1e-12, atol=0)


@pytest.mark.parametrize("start_factor, total_iters", [(1 / 3, 7), (1 / 3, 17), (1.0, 3), (0.5, 10)])
def test_linear_lr_decayed_to_zero_keeps_training(start_factor: float, total_iters: int) -> None:
    # at epoch total_iters PyTorch's ratio rounds to about ±1e-17 (here -4e-18 for (1/3, 7)), and PyTorch steps on
    # with it; the next step of ours refused the negative lr. The schedule is now exactly 0 there.
    lrs = []
    for module, opt_module in ((torch, torch.optim), (mg, optim)):
        p = module.tensor(np.ones(2), requires_grad=True)
        opt = opt_module.SGD([p], lr=0.1, momentum=0.9)
        sched = opt_module.lr_scheduler.LinearLR(opt, start_factor=start_factor, end_factor=0.0,
                                                 total_iters=total_iters)
        seen = []
        for _ in range(total_iters + 3):
            p.grad = module.tensor(np.ones(2))
            opt.step()
            sched.step()
            seen.append(float(sched.get_last_lr()[0]))
        lrs.append(seen)
    np.testing.assert_allclose(lrs[1], lrs[0], rtol=1e-12, atol=1e-15)
    assert lrs[1][-1] == 0.0


@pytest.mark.parametrize("name, key, value", [
    ("SGD", "momentum", None), ("SGD", "weight_decay", "0.1"), ("Adam", "eps", (1e-8,)), ("AdamW", "betas", None),
    ("Adamax", "betas", 0.9), ("NAdam", "momentum_decay", "x"), ("RAdam", "weight_decay", [0.1]),
    ("Adagrad", "lr_decay", None), ("Adagrad", "initial_accumulator_value", "0"), ("Adadelta", "rho", None),
    ("RMSprop", "alpha", "0.99"), ("Rprop", "etas", None), ("Rprop", "step_sizes", 1e-6), ("ASGD", "lambd", None),
    ("ASGD", "t0", "1e6"), ("Adafactor", "eps", 1e-3), ("Adafactor", "d", None), ("Adafactor", "beta2_decay", "x"),
])
def test_a_hyper_parameter_of_the_wrong_kind_raises_typeerror_as_torch(name: str, key: str, value: Any) -> None:
    # PyTorch's range checks compare (or index) the value and raise TypeError; ours raised a bare ValueError
    _assert_same(name, {key: value})
    with pytest.raises(ValueError, match=key.split("_")[0]):          # and still the ValueError it was
        getattr(optim, name)([mg.ones(2, requires_grad=True)], **{key: value})


@pytest.mark.parametrize("name, kwargs", [
    ("StepLR", dict(step_size=None)), ("MultiStepLR", dict(milestones=3)), ("ConstantLR", dict(factor="0.5")),
    ("LinearLR", dict(start_factor=None)), ("LinearLR", dict(total_iters="5")), ("PolynomialLR", dict(power=None)),
    ("CosineAnnealingLR", dict(T_max=None)), ("CosineAnnealingWarmRestarts", dict(T_0="3")),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=None)),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=10, div_factor=None)),
    ("OneCycleLR", dict(max_lr=0.1, total_steps="10")),
    ("ReduceLROnPlateau", dict(mode=1)), ("ReduceLROnPlateau", dict(threshold_mode=None)),
    ("ReduceLROnPlateau", dict(factor="0.1")),
])
def test_a_scheduler_argument_of_the_wrong_kind_raises_typeerror_as_torch(name: str, kwargs: dict) -> None:
    # PyTorch compares, iterates or concatenates the value and raises TypeError (at construction or at the first
    # steps); ours raised a bare ValueError (a StepLR step_size of inf: OverflowError from int())
    def outcome(module: Any, opt_module: Any) -> type | None:
        p = module.tensor(np.ones(2), requires_grad=True)
        opt = opt_module.SGD([p], lr=0.1, momentum=0.9)
        try:
            scheduler = getattr(opt_module.lr_scheduler, name)(opt, **kwargs)
            for _ in range(3):
                p.grad = module.tensor(np.ones(2))
                opt.step()
                scheduler.step(1.0) if name == "ReduceLROnPlateau" else scheduler.step()
        except Exception as error:   # noqa: BLE001 (the class is what is compared)
            return type(error)
        return None

    theirs, ours = outcome(torch, torch.optim), outcome(mg, optim)
    assert theirs is TypeError and ours is not None and issubclass(ours, (TypeError, ValueError)), (theirs, ours)
    assert issubclass(ours, theirs)


def test_step_lr_refuses_an_infinite_step_size_by_name() -> None:
    p = mg.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="StepLR: step_size must be an int >= 1"):
        optim.lr_scheduler.StepLR(optim.SGD([p], lr=0.1), step_size=float("inf"))


@pytest.mark.parametrize("name, kwargs", [
    ("StepLR", dict(step_size=0)), ("CosineAnnealingLR", dict(T_max=0)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=0)),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=10, div_factor=0)),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=10, final_div_factor=0.0)),
])
def test_a_zero_schedule_length_or_divisor_raises_zerodivisionerror_as_torch(name: str, kwargs: dict) -> None:
    # PyTorch divides by it (at construction or at a step): ZeroDivisionError; ours raised ValueError only
    p = torch.ones(2, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    with pytest.raises(ZeroDivisionError):
        scheduler = getattr(torch.optim.lr_scheduler, name)(opt, **kwargs)
        for _ in range(3):
            opt.step()
            scheduler.step()
    with pytest.raises(ZeroDivisionError, match=name):
        getattr(optim.lr_scheduler, name)(optim.SGD([mg.ones(2, requires_grad=True)], lr=0.1, momentum=0.9), **kwargs)


def test_zero_grad_without_none_takes_the_gradient_out_of_its_graph() -> None:
    # after backward(create_graph=True), zero_grad(set_to_none=False) zeroed .grad but left it in the graph
    # (requires_grad, a grad_fn): PyTorch detaches it in place, as Module.zero_grad did already
    results = []
    for module, opt_module in ((torch, torch.optim), (mg, optim)):
        p = module.tensor(np.array([1.0, 2.0]), requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")         # PyTorch's reference-cycle warning
            (p ** 3).sum().backward(create_graph=True)
        grad = p.grad
        opt_module.SGD([p], lr=0.1).zero_grad(set_to_none=False)
        results.append((p.grad is grad, p.grad.requires_grad, p.grad.grad_fn is None,
                        p.grad.detach().numpy().tolist()))
    assert results[1] == results[0] == (True, False, True, [0.0, 0.0])


def test_lbfgs_unknown_line_search_raises_runtimeerror_as_torch() -> None:
    # PyTorch raises RuntimeError ("only 'strong_wolfe' is supported") at the step; ours a ValueError only, earlier
    tp = torch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="strong_wolfe"):
        torch.optim.LBFGS([tp], line_search_fn="armijo").step(lambda: (tp * tp).sum().backward() or (tp * tp).sum())
    with pytest.raises(RuntimeError, match="line_search_fn='armijo'"):
        optim.LBFGS([mg.ones(2, requires_grad=True)], line_search_fn="armijo")
    with pytest.raises(TypeError, match="max_iter=None"):
        optim.LBFGS([mg.ones(2, requires_grad=True)], max_iter=None)
