"""Round 19: optimizer repr and grad_fn names against PyTorch (fuzzers: /tmp/fuzz19_optrepr.py, _gradfn.py)."""

from __future__ import annotations

import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")

# PyTorch's groups also carry foreach/fused/capturable/differentiable, which minigrad's do not keep
_IMPLEMENTATION = ("foreach", "fused", "capturable", "differentiable")


def _without_implementation_keys(text: str) -> str:
    return "\n".join(line for line in text.split("\n")
                     if not any(line.startswith(f"    {key}:") for key in _IMPLEMENTATION))


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "Adagrad", "Adadelta", "Adamax", "ASGD", "NAdam", "RAdam",
                                  "RMSprop", "Rprop", "Adafactor"])
def test_optimizer_repr_and_default_hyper_parameters_are_pytorch_s(name) -> None:
    """A blank line between groups, and the defaults PyTorch's signatures give (the int 0, not 0.0)."""
    theirs = getattr(torch.optim, name)([{"params": [torch.nn.Parameter(torch.ones(2, 2))]},
                                         {"params": [torch.nn.Parameter(torch.ones(2))], "lr": 0.5, "tag": "x"}])
    ours = getattr(nn.optim, name)([{"params": [nn.Parameter(mg.ones(2, 2))]},
                                    {"params": [nn.Parameter(mg.ones(2))], "lr": 0.5, "tag": "x"}])
    assert repr(ours) == _without_implementation_keys(repr(theirs))
    for group, torch_group in zip(ours.param_groups, theirs.param_groups):
        for key, value in group.items():
            if key != "params":
                assert type(value) is type(torch_group[key]) and value == torch_group[key], key
