"""Round-15 fuzzing leftovers: custom Functions without Tensor outputs, optimizer argument errors and
forward-mode tangents at the edges of xlogy/atan2's domains, each compared with live PyTorch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _no_tensor_functions(base: Any, value: Any) -> tuple[Any, Any]:
    """An old-style and a setup_context-style Function over ``base`` whose forward returns ``value``."""

    class OldStyle(base):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            return value

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            return grad

    class SetupStyle(base):
        @staticmethod
        def forward(x: Any) -> Any:
            return value

        @staticmethod
        def setup_context(ctx: Any, inputs: Any, output: Any) -> None:
            pass

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            return grad

    return OldStyle, SetupStyle


@pytest.mark.parametrize("value", [3, (1, 2.0), None])
@pytest.mark.parametrize("grad_mode", [True, False])
def test_custom_function_without_tensor_output_returns_the_value(value: Any, grad_mode: bool) -> None:
    ours = _no_tensor_functions(mg.autograd.Function, value)
    theirs = _no_tensor_functions(torch.autograd.Function, value)
    x, tx = mg.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
    for op, top in zip(ours, theirs):
        with mg.set_grad_enabled(grad_mode):
            got = op.apply(x)
        with torch.set_grad_enabled(grad_mode):
            expected = top.apply(tx)
        assert got == expected and type(got) is type(expected)
