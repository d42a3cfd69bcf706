"""Round 19: deep and long inputs (hostile sizes) against PyTorch: no RecursionError at any depth, no crash.

Each test proves "no recursion" cheaply: a recursion limit a little above the test's own stack depth, and a
graph deeper than that limit (as PyTorch, which copes with any depth).
"""

from __future__ import annotations

import contextlib
import inspect
import sys
from typing import Iterator

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")


@contextlib.contextmanager
def shallow_stack(room: int = 150) -> Iterator[None]:
    """A recursion limit ``room`` frames above the caller's depth: code that recurses once per level of a deep
    graph (deeper than ``room``) raises RecursionError; code that loops does not."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + room)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


VIEW_STEPS = {
    "view": lambda v: v.view(3, 3),
    "slice": lambda v: v[0:],
    "t": lambda v: v.t(),
    "expand": lambda v: v.expand(3, 3),
    "select": lambda v: v.unsqueeze(0).select(0, 0),
    "unfold": lambda v: v.unfold(0, 3, 1)[0].t(),
}


@pytest.mark.parametrize("kind", sorted(VIEW_STEPS))
def test_inplace_write_through_a_long_chain_of_views(kind: str) -> None:
    """``v = y.view(...).view(...)...`` 400 deep, then ``v.mul_(2)``: the write goes through every base in a loop
    (it recursed once per view: RecursionError past ~300 views); values and gradients as PyTorch's."""
    step = VIEW_STEPS[kind]
    results = []
    for lib in (torch, mg):
        x = lib.tensor(np.arange(1.0, 10.0).reshape(3, 3), requires_grad=True)
        y = x.clone() * 1
        v = y
        for _ in range(400):
            v = step(v)
        with shallow_stack() if lib is mg else contextlib.nullcontext():
            v.mul_(2.0)
            (y * y).sum().backward()
        results.append((y.detach().numpy(), v.detach().numpy(), x.grad.numpy()))
    for theirs, ours in zip(*results):
        np.testing.assert_array_equal(ours, theirs)


def _nested(lib: object, depth: int) -> object:
    """``Sequential(Sequential(... Linear(2, 2) ...))``, ``depth`` Sequentials deep, weights 0.5 and bias 0
    (``lib``: torch, or minigrad, whose modules are nn's)."""
    modules = torch.nn if lib is torch else nn
    module = modules.Linear(2, 2)
    with lib.no_grad():
        module.weight.fill_(0.5)
        module.bias.fill_(0.0)
    for _ in range(depth):
        module = modules.Sequential(module)
    return module


def test_state_dict_of_a_deeply_nested_model_is_a_loop() -> None:
    """``state_dict()`` of a model nested 400 deep, under a 150-frame stack: the walk is a loop (it took two frames
    per level, so it failed at half PyTorch's depth, ~500 of the default 1,000); keys, metadata and values as
    PyTorch's (which, at the full stack, copes); a load of it back works."""
    theirs = _nested(torch, 400).state_dict()
    ours_model = _nested(mg, 400)
    with shallow_stack():
        ours = ours_model.state_dict()
    assert list(ours) == list(theirs)
    assert dict(ours._metadata) == dict(theirs._metadata)
    np.testing.assert_array_equal(ours[list(ours)[0]].numpy(), theirs[list(theirs)[0]].numpy())
    assert repr(ours_model.load_state_dict(ours)) == "<All keys matched successfully>"


def test_repr_of_a_nested_model_reaches_pytorchs_depth() -> None:
    """``repr`` of a model nested 100 deep, with a stack PyTorch's repr fits in (350 frames): ours fits too (its
    list comprehension took a second frame per level, ~245 levels of the default stack where PyTorch's reach ~330),
    and prints the same text."""
    theirs_model, ours_model = _nested(torch, 100), _nested(mg, 100)
    with shallow_stack(350):
        theirs = repr(theirs_model)
        ours = repr(ours_model)
    assert ours == theirs


EINSUM_MANY = [
    ",".join(["a"] * 100) + "->a",                     # NumPy's einsum takes fewer than 64 operands: it raised
    ",".join(["ij"] * 70) + "->j",
    ",".join(["ii"] * 70) + "->i",                     # diagonals
    ",".join("ab"[i % 2] + "ab"[(i + 1) % 2] for i in range(65)) + "->ab",
]


@pytest.mark.parametrize("equation", EINSUM_MANY, ids=lambda e: f"{e[:6]}x{e.count(',') + 1}")
def test_einsum_with_many_operands(equation: str) -> None:
    """``einsum`` of 65-100 operands (PyTorch takes any number; ours raised NumPy's "too many operands"): values
    and every operand's gradient as PyTorch's (float64)."""
    inputs = equation.split("->")[0].split(",")
    rng = np.random.default_rng(0)
    arrays = [rng.uniform(0.9, 1.1, (2,) * len(sub)) for sub in inputs]
    results = []
    for lib in (torch, mg):
        operands = [lib.tensor(a, requires_grad=True) for a in arrays]
        y = lib.einsum(equation, *operands)
        (y * y).sum().backward()
        results.append((y.detach().numpy(), [o.grad.numpy() for o in operands]))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-12)
    for ours, theirs in zip(results[1][1], results[0][1]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
