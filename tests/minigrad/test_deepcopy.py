"""``copy.deepcopy`` as PyTorch's: leaves and modules copy (gradients too), graph tensors are refused with
PyTorch's error, and a compiled module copies into a compiled module of its own."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn


def test_a_model_copy_is_independent_and_has_no_gradients() -> None:
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    model(mg.randn(4, 2)).sum().backward()
    best = copy.deepcopy(model)
    for (name, p), q in zip(model.named_parameters(), best.parameters()):
        assert q is not p and type(q) is type(p) and q.requires_grad, name
        np.testing.assert_array_equal(q.numpy(), p.numpy())
        assert q.grad is None   # as torch: a Parameter's deepcopy leaves its .grad behind
    with mg.no_grad():
        best[0].weight.fill_(7.0)
    assert not np.any(model[0].weight.numpy() == 7.0)


def test_shared_tensors_stay_shared_within_one_copy() -> None:
    x = mg.randn(3, requires_grad=True)
    a, b = copy.deepcopy([x, x])
    assert a is b and a is not x and a.is_leaf and a.requires_grad


def test_graph_tensors_are_refused_as_torch(torch: Any) -> None:
    with pytest.raises(RuntimeError, match="graph leaves") as theirs:
        copy.deepcopy(torch.ones(2, requires_grad=True) * 2)
    with pytest.raises(RuntimeError, match="graph leaves") as ours:
        copy.deepcopy(mg.ones(2, requires_grad=True) * 2)
    assert str(ours.value).startswith(str(theirs.value).split("  If you")[0].rstrip("."))


def test_a_compiled_module_copies_into_a_compiled_copy() -> None:
    model = nn.Linear(2, 3)
    compiled = mg.compile(model)
    x = mg.randn(5, 2)
    compiled(x)
    twin = copy.deepcopy(compiled)
    assert isinstance(twin, type(compiled)) and twin._orig_mod is not model
    np.testing.assert_array_equal(twin(x).numpy(), compiled(x).numpy())
    with mg.no_grad():
        twin.weight.zero_()
    assert not np.array_equal(twin(x).numpy(), compiled(x).numpy())
