"""An optimizer written as PyTorch's (a subclass with its own ``step`` keeping Tensors in ``self.state``):
its state dict saves and loads as PyTorch's does, and training resumed from it continues exactly."""

from __future__ import annotations

from typing import Any

import numpy as np

import minigrad as mg
import nn
from nn import optim


class Momentum(optim.Optimizer):
    """Heavy-ball SGD in PyTorch's custom-optimizer style (state: a Tensor buffer, an int and a list)."""

    def __init__(self, params: Any, lr: float = 0.1, beta: float = 0.9) -> None:
        super().__init__(params, {"lr": lr, "beta": beta})

    @mg.no_grad()
    def step(self, closure: Any = None) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = 0
                    state["buf"] = mg.zeros_like(p, memory_format=mg.preserve_format)
                    state["norms"] = []
                state["step"] += 1
                state["buf"].mul_(group["beta"]).add_(p.grad)
                state["norms"].append(float(p.grad.norm()))
                p.add_(state["buf"], alpha=-group["lr"])


def _run(model: nn.Module, opt: optim.Optimizer, x: mg.Tensor, y: mg.Tensor, steps: int) -> None:
    for _ in range(steps):
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        opt.step()


def test_state_dict_round_trip_resumes_exactly(tmp_path: Any) -> None:
    x, y = mg.randn(16, 3, dtype=mg.float64), mg.randn(16, 2, dtype=mg.float64)
    mg.manual_seed(3)
    straight = nn.Linear(3, 2).double()
    mg.manual_seed(3)
    resumed = nn.Linear(3, 2).double()
    opt = Momentum(straight.parameters())
    _run(straight, opt, x, y, 3)
    mg.save(opt.state_dict(), tmp_path / "opt.pt")   # a state dict refers to the live state, as PyTorch's
    saved = mg.load(tmp_path / "opt.pt")
    assert isinstance(saved["state"][0]["buf"], mg.Tensor) and saved["state"][0]["step"] == 3
    _run(straight, opt, x, y, 2)

    first = Momentum(resumed.parameters())
    _run(resumed, first, x, y, 3)
    second = Momentum(resumed.parameters())
    second.load_state_dict(saved)
    buf = second.state[resumed.weight]["buf"]
    assert isinstance(buf, mg.Tensor) and buf is not saved["state"][0]["buf"]   # a copy, as a Tensor
    _run(resumed, second, x, y, 2)
    np.testing.assert_array_equal(resumed.weight.numpy(), straight.weight.numpy())
    assert second.state[resumed.weight]["norms"] == opt.state[straight.weight]["norms"]


def test_loaded_state_follows_the_parameters_dtype() -> None:
    model = nn.Linear(3, 2)
    opt = Momentum(model.parameters())
    _run(model, opt, mg.randn(4, 3), mg.randn(4, 2), 1)
    saved = opt.state_dict()
    model.double()
    again = Momentum(model.parameters())
    again.load_state_dict(saved)
    assert again.state[model.weight]["buf"].dtype == mg.float64
