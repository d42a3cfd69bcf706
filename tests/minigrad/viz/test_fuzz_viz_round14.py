"""Regressions found by differential fuzzing of minigrad.viz against DESIGN.md §4 (round 14)."""

from __future__ import annotations

import re

from drawing_helpers import Dot

import minigrad as mg
from minigrad import viz


def _tagged_loss() -> tuple[mg.Tensor, mg.Tensor]:
    mg.manual_seed(0)
    x = mg.randn(2, 3, requires_grad=True)
    with mg.name_scope("rnn"), mg.name_scope("t0"):
        h = mg.tag((x * 3).tanh(), "h")
    h.retain_grad()
    return (h ** 2).sum(), h


def test_a_loss_given_twice_is_observed_once():
    """draw(loss, loss, show_grads=True) showed every norm √2 times too large (the loss was walked twice)."""
    loss, h = _tagged_loss()
    once = viz.draw(loss, show_grads=True).source
    assert viz.draw(loss, loss, show_grads=True).source == once
    assert viz.draw(loss, [loss, (loss,)], show_grads=True).source == once
    label = Dot(once).clusters["cluster_rnn_t0"]["label"]
    loss.backward()
    want = float((h.grad.numpy().astype("float64") ** 2).sum() ** 0.5)
    assert re.search(r"‖∂L/∂h‖ (\S+)", label).group(1) == f"{want:.1e}"
