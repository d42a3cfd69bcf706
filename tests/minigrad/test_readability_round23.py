"""Round 23 readability pass: behaviour the refactors rely on, pinned (helper P)."""

from __future__ import annotations

from typing import Any

import pytest

import minigrad as mg
from minigrad.autograd.custom import FUNCTORCH_SETUP


def _ctx_function(vmap: str) -> type:
    """x ↦ 2x as a ``forward(ctx, x)`` Function (no setup_context), with a ``vmap`` rule or generate_vmap_rule."""
    body: dict = {"forward": staticmethod(lambda ctx, x: x * 2), "backward": staticmethod(lambda ctx, g: g * 2)}
    if vmap == "rule":
        body["vmap"] = staticmethod(lambda info, in_dims, x: (x * 3, in_dims[0]))
    else:
        body["generate_vmap_rule"] = True
    return type(f"Ctx_{vmap}", (mg.autograd.Function,), body)


@pytest.mark.parametrize("vmap", ["rule", "generate"])
def test_a_ctx_function_with_vmap_support_is_refused_by_the_one_setup_context_message(vmap: str) -> None:
    """custom._check_transforms refuses it before the vmap rule is looked at (custom_vmap.uses_vmap_rule kept a
    second, differently worded copy of this refusal that could not be reached)."""
    op = _ctx_function(vmap)
    with pytest.raises(RuntimeError) as caught:
        mg.func.vmap(op.apply)(mg.ones(2, 3))
    assert str(caught.value) == f"{op.__name__}: {FUNCTORCH_SETUP}"


def test_a_ctx_function_with_vmap_support_still_runs_outside_transforms() -> None:
    x: Any = mg.tensor([1.0, -2.0], requires_grad=True)
    _ctx_function("rule").apply(x).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
