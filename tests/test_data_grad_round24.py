"""Round 24: ``.data``/``.grad`` leftovers of round 23, against PyTorch 2.13: a ``.grad`` assigned as an expanded
view, a backward that fails part way, running statistics changed in place, and random training habits around
optimizers' ``foreach``/``fused`` flags and micro-batch accumulation (fuzzed by /tmp/h24_datagrad/fuzz.py)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn

torch = pytest.importorskip("torch", reason="no torch")

COLS = np.arange(6.0).reshape(2, 3)


def _backward_into(lib: Any, grad: Any, create_graph: bool = False) -> Any:
    p = lib.ones(2, 3, dtype=lib.float64, requires_grad=True)
    p.grad = grad
    (p * lib.tensor(COLS)).sum().backward(create_graph=create_graph)
    return p.grad.detach().numpy().copy()


@pytest.mark.parametrize("view", ["expand", "expand_0d"])
def test_backward_into_an_expanded_grad_raises_runtime_error(view: str) -> None:
    # p.grad = t.expand(...) then backward: PyTorch's in-place add refuses the overlapping memory (RuntimeError);
    # ours raised NumPy's ValueError "output array is read-only"
    for lib in (torch, mg):
        base = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64) if view == "expand" else lib.zeros((), dtype=lib.float64)
        with pytest.raises(RuntimeError, match="single memory location"):
            _backward_into(lib, base.expand(2, 3))


def test_expanded_grad_with_create_graph_and_strided_grads_accumulate_as_torch() -> None:
    # create_graph adds out of place (works in both); a transposed or stepped .grad is added into in place
    cases = ((lambda lib: lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64).expand(2, 3), True),
             (lambda lib: lib.ones(3, 2, dtype=lib.float64).T, False),
             (lambda lib: lib.ones(2, 6, dtype=lib.float64)[:, ::2], False))
    for make, create_graph in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # create_graph's reference cycle, torch's layout-contract note
            expected = _backward_into(torch, make(torch), create_graph)
        np.testing.assert_array_equal(_backward_into(mg, make(mg), create_graph), expected)


def test_failed_backward_into_expanded_grad_keeps_other_leaves_accumulated_as_torch() -> None:
    # the refusal comes after the walk: leaves accumulated before the expanded one keep their gradient in both
    got = {}
    for lib in (torch, mg):
        a = lib.ones(3, dtype=lib.float64, requires_grad=True)
        b = lib.ones(2, 3, dtype=lib.float64, requires_grad=True)
        b.grad = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64).expand(2, 3)
        with pytest.raises(RuntimeError):
            ((a * 2).sum() + (b * 3).sum()).backward()
        got[lib] = None if a.grad is None else a.grad.numpy().tolist()
    assert got[mg] == got[torch]


@pytest.mark.parametrize("clip", ["norm", "value"])
def test_clipping_an_expanded_grad_raises_runtime_error(clip: str) -> None:
    for lib, utils in ((torch, torch.nn.utils), (mg, nn.utils)):
        p = lib.ones(2, 3, requires_grad=True)
        p.grad = lib.tensor([1.0, 2.0, 3.0]).expand(2, 3)
        with pytest.raises(RuntimeError, match="memory location"):
            if clip == "norm":
                utils.clip_grad_norm_([p], 0.5)
            else:
                utils.clip_grad_value_([p], 1.5)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_optimizers_read_an_expanded_grad_as_torch(name: str) -> None:
    # an optimizer reads .grad out of place: an expanded .grad works in both, with the same steps
    got = {}
    for lib, optim in ((torch, torch.optim), (mg, nn.optim)):
        p = lib.ones(2, 3, dtype=lib.float64, requires_grad=True)
        p.grad = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64).expand(2, 3)
        opt = getattr(optim, name)([p], lr=0.1)
        opt.step()
        opt.step()
        got[lib] = p.detach().numpy().copy()
    np.testing.assert_allclose(got[mg], got[torch], rtol=1e-12)
