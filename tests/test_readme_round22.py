"""README audit of round 22's bullets: behaviours the bullets describe, pinned against PyTorch."""
from typing import Any

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn

torch = pytest.importorskip("torch", reason="no torch")


@pytest.mark.parametrize("lr", [0.0, 1.0])
def test_lbfgs_state_t_after_a_search_that_keeps_the_start_is_torchs_int(lr: float) -> None:
    """A strong-Wolfe search that ends at its start (lr 0, one iteration) left state['t'] the float 0.0; PyTorch's
    search starts at the int 0 (t_prev = 0), so its state and state dict hold the int 0."""
    kinds = []
    for lib, linear in ((mg, nn.Linear), (torch, torch.nn.Linear)):
        model = linear(3, 1)
        with lib.no_grad():
            model.weight.copy_(lib.tensor([[0.5, -0.25, 0.125]]))
            model.bias.copy_(lib.tensor([0.75]))
        opt = lib.optim.LBFGS(model.parameters(), lr=lr, max_iter=1, line_search_fn="strong_wolfe")
        x = lib.tensor(np.random.default_rng(0).random((4, 3)).astype(np.float32))

        def closure(opt: Any = opt, model: Any = model, x: Any = x) -> Any:
            opt.zero_grad()
            loss = (model(x) ** 2).mean()
            loss.backward()
            return loss

        opt.step(closure)
        state = opt.state_dict()["state"][0]
        kinds.append((type(state["t"]).__name__, float(state["t"]), type(state["H_diag"]).__name__))
    assert kinds[0] == kinds[1]
