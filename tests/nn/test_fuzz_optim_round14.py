"""Round 14: bugs found by differential fuzzing of nn.optim against torch.optim (same weights, same gradients)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn
from nn import optim

torch = pytest.importorskip("torch", reason="no torch")


def _pair(values: list[np.ndarray]) -> tuple[list[Any], list[Any]]:
    """The same starting weights as torch and minigrad leaf tensors."""
    return ([torch.tensor(v.copy(), requires_grad=True) for v in values],
            [mg.tensor(v.copy(), requires_grad=True) for v in values])


def _step_both(tparams: list, mparams: list, topt: Any, mopt: Any, grads: list[np.ndarray]) -> None:
    for tp, mp, g in zip(tparams, mparams, grads):
        tp.grad, mp.grad = torch.tensor(g.copy()), mg.tensor(g.copy())
    topt.step()
    mopt.step()


def test_radam_steps_a_0d_parameter_once_rectified() -> None:
    # the rectified branch (rho_t > 5, from step 6 with beta2=0.999) wrote out= into NumPy's scalar root of a 0-d state
    rng = np.random.default_rng(0)
    (tp,), (mp,) = _pair([np.array(0.5)])
    topt, mopt = torch.optim.RAdam([tp], lr=0.01), optim.RAdam([mp], lr=0.01)
    for _ in range(8):
        _step_both([tp], [mp], topt, mopt, [np.array(rng.standard_normal())])
    np.testing.assert_allclose(mp.numpy(), tp.detach().numpy(), rtol=1e-12)
    assert mp.shape == ()


@pytest.mark.parametrize("name", ["NAdam", "ASGD"])
def test_scalar_state_of_a_complex_parameter_survives_a_state_dict_round_trip(name: str) -> None:
    # load_state_dict cast mu_product/eta/mu to the complex parameter's dtype, and the next step refused them;
    # PyTorch casts state to the parameter's dtype only for a floating-point parameter
    rng = np.random.default_rng(1)
    value = (rng.standard_normal(3) + 1j * rng.standard_normal(3)).astype(np.complex64)
    grads = [(rng.standard_normal(3) + 1j * rng.standard_normal(3)).astype(np.complex64) for _ in range(4)]
    kwargs = dict(lr=0.05, t0=1.0) if name == "ASGD" else dict(lr=0.05)
    (tp,), (mp,) = _pair([value])
    topt, mopt = getattr(torch.optim, name)([tp], **kwargs), getattr(optim, name)([mp], **kwargs)
    _step_both([tp], [mp], topt, mopt, grads[:2])
    saved = topt.state_dict()
    converted = {"state": {i: {k: mg.tensor(v.numpy()) if isinstance(v, torch.Tensor) else v for k, v in s.items()}
                           for i, s in saved["state"].items()},
                 "param_groups": [dict(g) for g in saved["param_groups"]]}
    mopt = getattr(optim, name)([mp], **kwargs)
    mopt.load_state_dict(converted)
    topt = getattr(torch.optim, name)([tp], **kwargs)
    topt.load_state_dict(saved)
    for g in grads[2:]:
        _step_both([tp], [mp], topt, mopt, [g])
    np.testing.assert_allclose(mp.numpy(), tp.detach().numpy(), rtol=1e-5, atol=1e-6)
    for key, value in topt.state_dict()["state"][0].items():
        if key != "step":
            assert str(mopt.state_dict()["state"][0][key].dtype) == str(value.dtype).removeprefix("torch."), key


def test_sgd_group_without_momentum_under_nesterov_steps_plainly() -> None:
    # PyTorch checks nesterov against the constructor's momentum only; a group's momentum=0 is plain SGD
    rng = np.random.default_rng(2)
    values = [rng.standard_normal((3, 2)), rng.standard_normal(2)]
    tparams, mparams = _pair(values)
    topt = torch.optim.SGD([{"params": tparams[:1]}, {"params": tparams[1:], "momentum": 0.0}], lr=0.1,
                           momentum=0.9, nesterov=True)
    mopt = optim.SGD([{"params": mparams[:1]}, {"params": mparams[1:], "momentum": 0.0}], lr=0.1,
                     momentum=0.9, nesterov=True)
    for _ in range(3):
        _step_both(tparams, mparams, topt, mopt, [rng.standard_normal(v.shape) for v in values])
    for tp, mp in zip(tparams, mparams):
        np.testing.assert_allclose(mp.numpy(), tp.detach().numpy(), rtol=1e-12)
    assert "momentum_buffer" not in mopt.state[mparams[1]]
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD(mparams, lr=0.1, momentum=0.0, nesterov=True)


@pytest.mark.parametrize("name, kwargs", [
    ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.1)),
    ("Adafactor", dict(lr=0.01, eps=(None, 1e-3), weight_decay=0.1)),
])
def test_numpy_scalar_hyper_parameters_keep_a_float32_parameter_float32(name: str, kwargs: dict) -> None:
    # np.float64 hyper-parameters (from a config, np.logspace) made float32 updates and state float64 under NumPy 2;
    # PyTorch reads them as Python numbers
    def numpy_scalars(value: Any) -> Any:
        return tuple(map(numpy_scalars, value)) if isinstance(value, tuple) else (
            np.float64(value) if isinstance(value, float) else value)

    kwargs = {k: numpy_scalars(v) for k, v in kwargs.items()}
    rng = np.random.default_rng(3)
    values = [rng.standard_normal((4, 3)).astype(np.float32)]
    tparams, mparams = _pair(values)
    topt, mopt = getattr(torch.optim, name)(tparams, **kwargs), getattr(optim, name)(mparams, **kwargs)
    for _ in range(4):
        _step_both(tparams, mparams, topt, mopt, [rng.standard_normal((4, 3)).astype(np.float32)])
    np.testing.assert_allclose(mparams[0].numpy(), tparams[0].detach().numpy(), rtol=1e-5, atol=1e-6)
    for key, value in mopt.state[mparams[0]].items():
        if key != "step":
            assert value.dtype == np.float32, (key, value.dtype)


def test_lbfgs_line_search_counts_against_max_eval() -> None:
    # PyTorch passes max_ls=max_eval - evaluations so far to its strong-Wolfe search: with max_iter=1 (max_eval=1)
    # the first trial step is taken as it is; the search used to run up to 25 more evaluations
    x0 = np.array([-1.2, 1.0, 0.5])
    results = []
    for make, make_opt in ((torch.tensor, torch.optim.LBFGS), (mg.tensor, optim.LBFGS)):
        x = make(x0.copy(), requires_grad=True)
        opt = make_opt([x], lr=0.1, max_iter=1, history_size=2, line_search_fn="strong_wolfe")
        calls = [0]

        def closure(x: Any = x, opt: Any = opt, calls: list = calls) -> Any:
            opt.zero_grad()
            loss = ((1 - x[:-1]) ** 2).sum() + 10 * ((x[1:] - x[:-1] ** 2) ** 2).sum()
            loss.backward()
            calls[0] += 1
            return loss

        for _ in range(4):
            opt.step(closure)
        results.append((x.detach().numpy().copy(), calls[0], int(opt.state_dict()["state"][0]["func_evals"])))
    (tx, tcalls, tevals), (mx, mcalls, mevals) = results
    np.testing.assert_allclose(mx, tx, rtol=1e-10)
    assert (mcalls, mevals) == (tcalls, tevals) == (8, 8)


@pytest.mark.parametrize("name, empty, kwargs", [("Adafactor", (0,), {}), ("Adafactor", (0, 3), {}),
                                                 ("Muon", (3, 0), {})])
def test_a_step_that_divides_by_an_empty_parameter_fails_before_changing_anything(name: str, empty: tuple,
                                                                                   kwargs: dict) -> None:
    # PyTorch raises ZeroDivisionError in the middle of its step; ours raised it too, after stepping the parameters
    # before it and leaving state behind (steps are all-or-nothing)
    tfirst, tempty = torch.ones(2, 2, requires_grad=True), torch.zeros(empty, requires_grad=True)
    topt = getattr(torch.optim, name)([tfirst, tempty], lr=0.01, **kwargs)
    tfirst.grad, tempty.grad = torch.ones(2, 2), torch.zeros(empty)
    with pytest.raises(ZeroDivisionError):
        topt.step()
    first, empty_param = mg.ones(2, 2, requires_grad=True), mg.zeros(empty, requires_grad=True)
    opt = getattr(optim, name)([first, empty_param], lr=0.01, **kwargs)
    first.grad, empty_param.grad = mg.ones(2, 2), mg.zeros(empty)
    with pytest.raises(ZeroDivisionError, match=rf"{name}.step: parameter 1 \(shape"):
        opt.step()
    np.testing.assert_array_equal(first.numpy(), np.ones((2, 2), np.float32))
    assert not opt.state
    empty_param.grad = None                 # without it the step runs, as PyTorch's
    opt.step()
    assert first.numpy()[0, 0] < 1


def test_muon_matrix_without_columns_steps_under_match_rms_adamw() -> None:
    tp, mp = torch.zeros(3, 0, requires_grad=True), mg.zeros(3, 0, requires_grad=True)
    topt = torch.optim.Muon([tp], lr=0.01, adjust_lr_fn="match_rms_adamw")
    opt = optim.Muon([mp], lr=0.01, adjust_lr_fn="match_rms_adamw")
    tp.grad, mp.grad = torch.zeros(3, 0), mg.zeros(3, 0)
    topt.step()
    opt.step()
    assert opt.state_dict()["state"][0]["momentum_buffer"].shape == tuple(topt.state_dict()["state"][0][
        "momentum_buffer"].shape) == (3, 0)


@pytest.mark.parametrize("kwargs", [dict(lr=0.1), dict(lr=0.1, momentum=0.9, weight_decay=0.1),
                                    dict(lr=0.1, momentum=0.9, nesterov=True, maximize=True)])
def test_sgd_steps_a_complex_parameter_in_complex_arithmetic(kwargs: dict) -> None:
    # PyTorch's SGD has no view_as_real: an infinite gradient part gives NaN imaginary parts (inf · (c + 0j));
    # stepping the parts separately kept them finite
    rng = np.random.default_rng(4)
    values = [(rng.standard_normal((2, 3)) + 1j * rng.standard_normal((2, 3))).astype(np.complex64),
              np.complex128(0.5 - 0.25j) * np.ones(())]
    tparams, mparams = _pair(values)
    topt, mopt = torch.optim.SGD(tparams, **kwargs), optim.SGD(mparams, **kwargs)
    for step in range(3):
        grads = [(rng.standard_normal(v.shape) + 1j * rng.standard_normal(v.shape)).astype(v.dtype) for v in values]
        if step == 1:
            grads[0][0, 0] = complex(np.inf, 1.0)
        _step_both(tparams, mparams, topt, mopt, grads)
        for tp, mp in zip(tparams, mparams):
            np.testing.assert_allclose(mp.numpy(), tp.detach().numpy(), rtol=1e-6, equal_nan=True)
            assert mp.dtype == mp.numpy().dtype and mp.shape == tuple(tp.shape)
    assert np.isnan(mparams[0].numpy()[0, 0].imag)


@pytest.mark.parametrize("norm_type", [math.inf, -math.inf])
def test_infinity_norm_of_an_empty_gradient_raises_as_torch(torch: Any, norm_type: float) -> None:
    """torch: the ±inf norm of an empty tensor has no identity, so clip_grad_norm_ raises RuntimeError."""
    for module, clip in ((mg, nn.utils.clip_grad_norm_), (torch, torch.nn.utils.clip_grad_norm_)):
        empty, full = module.zeros(0, requires_grad=True), module.ones(2, requires_grad=True)
        empty.grad, full.grad = module.zeros(0), module.ones(2)
        with pytest.raises(RuntimeError, match="identity"):
            clip([empty, full], 1.0, norm_type=norm_type)
