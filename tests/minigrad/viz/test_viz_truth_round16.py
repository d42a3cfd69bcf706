"""Regressions found by fuzzing whether the drawings of minigrad.viz tell the truth (round 16)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from drawing_helpers import Dot, steps_of

import minigrad as mg
import nn
from minigrad import viz

torch = pytest.importorskip("torch", reason="no torch")


def _torch_norm(g: torch.Tensor) -> float:
    """The true 2-norm of a float64 gradient (scaled: torch's norm of 1e-200s underflows to 0)."""
    largest = g.abs().max()
    return 0.0 if largest == 0 else float(largest * (g / largest).norm())


def _label_norm(label: str) -> float:
    return float(re.search(r"‖∂L/∂h‖ ([^\s\\]+)", label).group(1))


def test_a_float64_gradient_that_vanishes_below_1e_154_keeps_its_norm():
    """‖∂L/∂h_t‖ of the early steps of a long float64 unroll was drawn as 0 (its squares underflowed) though the
    gradient is nonzero; a gradient of 1e200s was drawn as inf."""
    rng = np.random.default_rng(0)
    weights = {"weight_ih_l0": rng.standard_normal((3, 2)) * 0.02, "weight_hh_l0": rng.standard_normal((3, 3)) * 0.02,
               "bias_ih_l0": np.zeros(3), "bias_hh_l0": np.zeros(3)}
    x = rng.standard_normal((120, 1, 2))
    layer = nn.RNN(2, 3).to(mg.float64)
    layer.load_state_dict({k: mg.tensor(v) for k, v in weights.items()})
    out, _ = layer(mg.tensor(x))
    dot = Dot(viz.draw(out[-1].sum(), show_grads=True).source)

    params = {k: torch.tensor(v, requires_grad=True) for k, v in weights.items()}
    h, states = torch.zeros(1, 3, dtype=torch.float64), []
    for t in range(120):
        h = torch.tanh(torch.tensor(x[t]) @ params["weight_ih_l0"].T + h @ params["weight_hh_l0"].T)
        h.retain_grad()
        states.append(h)
    h.sum().backward()
    want = [_torch_norm(s.grad) for s in states]
    assert 0 < want[0] < 1e-160   # torch's own h.grad.norm() is 0 here
    got = [_label_norm(dot.clusters[c]["label"]) for c in steps_of(dot, "rnn/l0")]
    assert len(got) == 120
    for t, (g, w) in enumerate(zip(got, want)):
        assert math.isclose(g, w, rel_tol=0.051), (t, g, w)

    x = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    with mg.name_scope("rnn"), mg.name_scope("t0"):
        h = mg.tag(x * 3.0, "h")
    label = Dot(viz.draw((h * 1e200).sum(), show_grads=True).source).clusters["cluster_rnn_t0"]["label"]
    assert label == "t0\\n‖∂L/∂h‖ 1.4e+200"
