"""Round 24: ``mg.func.jvp`` under ``no_grad`` against ``torch.func.jvp`` (its own file: importing torch.func costs
about a second)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
import minigrad.func as mf

torch = pytest.importorskip("torch")


def _np(t: Any) -> np.ndarray:
    return t.detach().numpy()


def test_func_jvp_under_no_grad_has_no_graph() -> None:
    """torch.func.jvp under no_grad records nothing: its outputs, tangents and the aux it computed do not require
    grad (minigrad records func for the tangents, and returned them with that graph)."""
    def run(lib: Any, func_module: Any) -> list:
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        w = lib.tensor([0.5, -1.5], dtype=lib.float64, requires_grad=True)
        with lib.no_grad():
            out, tangent, aux = func_module.jvp(lambda x: ((x * w).sin(), (x.cos(), w)), (x,), (x,), has_aux=True)
        return [out.requires_grad, tangent.requires_grad, aux[0].requires_grad, aux[1] is w,
                _np(out).tolist(), _np(tangent).tolist()]
    assert run(mg, mf) == run(torch, torch.func)
