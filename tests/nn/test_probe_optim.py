"""Regression tests for places where nn.optim differed from torch.optim (found by side-by-side probes).

Each test runs the same model (tests.nn.test_optim's MLP and its PyTorch twin) or the same
parameters in minigrad and in PyTorch and compares parameters (float64, rel. 1e-12), learning
rates, or the error raised.
"""

from __future__ import annotations

import pytest

from nn import optim
from tests.nn.test_optim import MLP, torch_twin  # the same small model and its PyTorch twin
from tests.nn.test_optim_more import assert_same_parameters, step_ours, step_torch


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
