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


# --- ops/_kernels.where_split: math._where_split's two branches on pieces' gathering ----------------------------


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("layout", ["flat", "matrix", "transposed", "strided", "one_piece", "empty"])
def test_where_split_gives_where_s_bits_running_each_branch_on_its_own_elements(dtype: str, layout: str) -> None:
    import types

    import numpy as np

    from minigrad.ops import _kernels

    rng = np.random.default_rng(5)
    values = np.concatenate([rng.normal(0, 10, 200), [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-300, 30.0]])
    x = {"flat": values, "matrix": values[:196].reshape(14, 14), "transposed": values[:196].reshape(14, 14).T,
         "strided": values[::3], "one_piece": np.abs(values[:50]) % 7, "empty": values[:0].reshape(0, 2)}[layout]
    x = x.astype(dtype)
    mask = x <= 7
    seen: list = []

    def branch(name: str, scale: float) -> Any:
        def run(v: Any) -> Any:
            seen.append((name, v.copy()))
            return np.exp(v / scale) - v
        return run

    device_like = types.SimpleNamespace(**{k: getattr(np, k) for k in dir(np) if not k.startswith("__")})
    with np.errstate(all="ignore"):
        expected = np.where(mask, branch("true", 3)(x), branch("false", 50)(x))
        seen.clear()
        got = _kernels.where_split(np, mask, branch("true", 3), branch("false", 50), x)
        on_device = _kernels.where_split(device_like, mask, branch("true", 3), branch("false", 50), x)
    for out in (got, on_device):
        assert out.dtype == expected.dtype and out.shape == x.shape
        assert out.tobytes() == expected.tobytes()   # the same bits, NaNs and -0.0 included
    assert got.base is None and got is not x   # its own memory
    host = [(name, v) for name, v in seen[:len(seen) - 2]]   # the device path's two whole-array calls last
    for name, v in host:
        mine = x[mask] if name == "true" else x[~mask]
        assert np.sort(v).tobytes() == np.sort(mine).tobytes()
    assert len(host) == len({name for name, _ in host}) <= 2
    assert len(host) == (int(mask.any()) + int((~mask).any()) or 1)   # a branch without elements is not run
