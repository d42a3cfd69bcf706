"""Regression tests for places where nn.optim differed from torch.optim (found by side-by-side probes).

Each test runs the same model (tests.nn.test_optim's MLP and its PyTorch twin) or the same
parameters in minigrad and in PyTorch and compares parameters (float64, rel. 1e-12), learning
rates, or the error raised.
"""

from __future__ import annotations

import pytest

import minigrad as mg
import nn
from nn import optim
from nn.optim import lr_scheduler
from tests.nn.test_optim import MLP, torch_twin  # the same small model and its PyTorch twin
from tests.nn.test_optim_more import assert_same_parameters, converted_from_torch, step_ours, step_torch


def run_both(torch, ours, theirs, model: MLP, twin, steps: int = 20) -> None:
    for _ in range(steps):
        step_ours(ours, model)
        step_torch(torch, theirs, twin)


# --- Adagrad: every sum starts at the constructor's initial_accumulator_value, as in PyTorch ---

def test_adagrad_group_initial_accumulator_value_is_pytorchs(torch) -> None:
    """PyTorch fills every ``sum`` with the constructor's value (``self.defaults``), whatever a group says;
    minigrad used the group's value, so the steps differed (rel. 0.3 after 20 steps)."""
    model = MLP()
    twin = torch_twin(torch, model)
    params, t_params = list(model.parameters()), list(twin.parameters())
    kwargs = dict(lr=0.1, initial_accumulator_value=0.2)
    with pytest.warns(UserWarning, match=r"Adagrad: param_groups\[1\] sets initial_accumulator_value=0.0"):
        ours = optim.Adagrad([{"params": params[:2]}, {"params": params[2:], "initial_accumulator_value": 0.0}],
                             **kwargs)
    theirs = torch.optim.Adagrad([{"params": t_params[:2]},
                                  {"params": t_params[2:], "initial_accumulator_value": 0.0}], **kwargs)
    run_both(torch, ours, theirs, model, twin)
    assert_same_parameters(model, twin)
    assert ours.param_groups[1]["initial_accumulator_value"] == 0.0       # kept in the group, as PyTorch's


def test_adagrad_added_group_starts_at_the_constructors_value(torch) -> None:
    model = MLP()
    twin = torch_twin(torch, model)
    params, t_params = list(model.parameters()), list(twin.parameters())
    ours = optim.Adagrad(params[:2], lr=0.1, initial_accumulator_value=0.5)
    theirs = torch.optim.Adagrad(t_params[:2], lr=0.1, initial_accumulator_value=0.5)
    run_both(torch, ours, theirs, model, twin, steps=3)
    with pytest.warns(UserWarning, match="initial_accumulator_value=0.1"):
        ours.add_param_group({"params": params[2:], "initial_accumulator_value": 0.1})
    theirs.add_param_group({"params": t_params[2:], "initial_accumulator_value": 0.1})
    run_both(torch, ours, theirs, model, twin, steps=10)
    assert_same_parameters(model, twin)


# --- named parameters, as PyTorch 2.x takes them (named_parameters(), param_names in the groups) ---

@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "NAdam"])
def test_named_parameters_are_taken_and_names_kept_as_in_torch(torch, name) -> None:
    """``optim.SGD(model.named_parameters())`` raised TypeError (a tuple is not a Tensor); PyTorch takes it."""
    model = MLP()
    twin = torch_twin(torch, model)
    ours = getattr(optim, name)(model.named_parameters(), lr=0.01)
    theirs = getattr(torch.optim, name)(twin.named_parameters(), lr=0.01)
    run_both(torch, ours, theirs, model, twin)
    assert_same_parameters(model, twin)
    names = [n for n, _ in model.named_parameters()]
    assert ours.param_groups[0]["param_names"] == names
    assert ours.param_groups[0]["params"] == list(model.parameters())
    assert ours.state_dict()["param_groups"][0]["param_names"] == names
    assert theirs.state_dict()["param_groups"][0]["param_names"] == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_named_parameter_groups_and_their_state_dicts_as_in_torch(torch, tmp_path) -> None:
    model = MLP()
    twin = torch_twin(torch, model)
    named, t_named = list(model.named_parameters()), list(twin.named_parameters())
    ours = optim.Adam([{"params": named[:2]}, {"params": named[2:], "lr": 0.003}], lr=0.01)
    theirs = torch.optim.Adam([{"params": t_named[:2]}, {"params": t_named[2:], "lr": 0.003}], lr=0.01)
    run_both(torch, ours, theirs, model, twin, steps=5)
    assert_same_parameters(model, twin)
    # PyTorch's state dict (its own names) loads; the saved names replace ours, as in PyTorch's load
    again = optim.Adam([{"params": named[:2]}, {"params": named[2:], "lr": 0.5}], lr=0.5)
    again.load_state_dict(converted_from_torch(theirs.state_dict()))
    assert [g["param_names"] for g in again.param_groups] == [["0.weight", "0.bias"], ["2.weight", "2.bias"]]
    run_both(torch, again, theirs, model, twin, steps=5)
    assert_same_parameters(model, twin)
    # ours through a file, into an optimizer built without names
    nn.save(again.state_dict(), tmp_path / "adam.npz")
    plain = optim.Adam([{"params": list(model.parameters())[:2]}, {"params": list(model.parameters())[2:]}])
    plain.load_state_dict(nn.load(tmp_path / "adam.npz"))
    assert plain.param_groups[1]["param_names"] == ["2.weight", "2.bias"]
    run_both(torch, plain, theirs, model, twin, steps=5)
    assert_same_parameters(model, twin)
    bad = again.state_dict()
    bad["param_groups"][0]["param_names"] = ["only one"]
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: param_groups\[0\]: param_names must be one name"):
        again.load_state_dict(bad)


def test_named_and_unnamed_parameters_do_not_mix_as_in_torch(torch) -> None:
    model = MLP()
    named = list(model.named_parameters())
    with pytest.raises(ValueError, match=r"SGD: all optimizer params should be with/without names"):
        optim.SGD([named[0], named[1][1]], lr=0.1)
    ours = optim.SGD(named[:2], lr=0.1)
    with pytest.raises(ValueError, match=r"SGD: all optimizer param groups should be with/without names"):
        ours.add_param_group({"params": [p for _, p in named[2:]]})
    with pytest.raises(TypeError, match=r"SGD: parameter 0 of a group is a tuple that is not a \(name, Tensor\)"):
        optim.SGD([(1, named[0][1])], lr=0.1)
    twin = torch_twin(torch, model)
    with pytest.raises(ValueError, match="all optimizer params should be with/without names"):
        torch.optim.SGD([next(twin.named_parameters()), next(twin.parameters())], lr=0.1)


# --- Tensor betas: refused with a clear message (PyTorch computes with them in their own dtype) ---

@pytest.mark.parametrize("name", ["Adam", "AdamW", "Adamax", "NAdam", "RAdam"])
def test_tensor_betas_are_refused_naming_the_optimizer_and_the_value(torch, name) -> None:
    """PyTorch takes ``betas=(tensor(0.9), tensor(0.99))`` but then computes the bias corrections (NAdam: its
    mu product) in the Tensors' dtype, float32 for ``torch.tensor(0.9)``; minigrad said "invalid betas"."""
    params = list(MLP().parameters())
    with pytest.raises(NotImplementedError, match=rf"{name}: Tensor betas are not supported, got betas=\(tensor"):
        getattr(optim, name)(params, betas=(mg.tensor(0.9), mg.tensor(0.99, dtype=mg.float64)))
    ours = getattr(optim, name)(params, betas=(0.9, 0.99))
    ours.param_groups[0]["betas"] = (0.9, mg.tensor(0.99))
    for p in params:
        p.grad = mg.zeros_like(p)
    with pytest.raises(NotImplementedError, match=rf"{name}: Tensor betas are not supported, .*param_groups\[0\]"):
        ours.step()
    torch.optim.Adam([torch.ones(2, requires_grad=True)], betas=(torch.tensor(0.9), torch.tensor(0.99)))


# --- scheduler errors that named neither the class nor the value ---

@pytest.mark.parametrize("make,words", [
    (lambda o: lr_scheduler.StepLR(o, 2, gamma="0.5"), r"StepLR: gamma must be a number, got '0.5'"),
    (lambda o: lr_scheduler.MultiStepLR(o, [2], gamma=None), r"MultiStepLR: gamma must be a number, got None"),
    (lambda o: lr_scheduler.ExponentialLR(o, "0.9"), r"ExponentialLR: gamma must be a number, got '0.9'"),
    (lambda o: lr_scheduler.CyclicLR(o, 0.01, 0.1, mode="exp_range", gamma="x"), r"CyclicLR: gamma must be a number"),
])
def test_a_gamma_that_is_no_number_is_refused_naming_the_scheduler(make, words) -> None:
    """PyTorch takes these and fails at a later step with "can't multiply sequence by non-int of type 'float'"."""
    with pytest.raises(TypeError, match=words):
        make(optim.SGD(MLP().parameters(), lr=0.1, momentum=0.9))


def test_reduce_lr_on_plateau_errors_name_the_class_and_the_value() -> None:
    opt = optim.SGD(MLP().parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau: Factor should be < 1.0, got factor=1.5"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau: Factor should be < 1.0, got factor='0.5'"):
        lr_scheduler.ReduceLROnPlateau(opt, factor="0.5")
    scheduler = lr_scheduler.ReduceLROnPlateau(opt, patience=0)
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau.step: metrics must be a number .* got 'low'"):
        scheduler.step("low")
    with pytest.raises(TypeError, match=r"ReduceLROnPlateau.step: metrics must be a number .* got None"):
        scheduler.step(None)
    assert scheduler.last_epoch == 0 and opt.param_groups[0]["lr"] == 0.1      # nothing changed
    scheduler.step(mg.tensor(1.0))
    scheduler.step(mg.tensor([2.0]))
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)
