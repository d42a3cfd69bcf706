"""The eager engine's bookkeeping per op: an opcode budget for a small recurrent training step, and the cases
the leaner paths must keep (gradients by edge in the backward walk, slices as views, product sums' dtype)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from bench.opcount import opcodes as _opcodes
from minigrad.ops.linalg import ProductSum
from tests.helpers import assert_close, to_torch


def _char_rnn_step():  # noqa: ANN202
    """bench.char_rnn_tiny's eager step, 5 time steps, vocab 7, hidden 6: (step, the losses it returned)."""
    rng = np.random.default_rng(0)
    vocab, hidden = 7, 6
    params = {"Wxh": rng.standard_normal((vocab, hidden)) * 0.1, "Whh": rng.standard_normal((hidden, hidden)) * 0.1,
              "Why": rng.standard_normal((hidden, vocab)) * 0.1, "bh": np.zeros(hidden), "by": np.zeros(vocab)}
    params = {k: mg.tensor(v, requires_grad=True) for k, v in params.items()}
    eye = np.eye(vocab)
    inputs, targets = [1, 2, 3, 4, 5], [2, 3, 4, 5, 6]
    losses = []

    def step() -> None:
        for p in params.values():
            p.grad = None
        xs, ts = mg.tensor(eye[inputs]), mg.tensor(eye[targets])
        h = mg.zeros(1, hidden, dtype=mg.float64)
        loss = None
        for t in range(len(inputs)):
            h = (xs[t:t + 1] @ params["Wxh"] + h @ params["Whh"] + params["bh"]).tanh()
            logits = h @ params["Why"] + params["by"]
            step_loss = -(logits.log_softmax(axis=-1) * ts[t:t + 1]).sum()
            loss = step_loss if loss is None else loss + step_loss
        loss.backward()
        losses.append(loss.item())

    return step, losses


# Counted on CPython 3.11 after this round's trims: 41,824 (43,398 before them). A change that makes the engine's
# per-op work grow fails here: measure it (bench.opcount, bench.char_rnn_tiny) and raise the budget only with
# a reason, as the project's rule for the hot paths asks.
OPCODE_BUDGET = 42_350


def _warm_count() -> int:
    """The opcodes of one warm step (caches of shapes and metadata filled, as in a training loop)."""
    step, _ = _char_rnn_step()
    for _ in range(3):
        step()
    return _opcodes(step)


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the opcode budget is counted on CPython 3.11")
def test_eager_char_rnn_step_stays_within_its_opcode_budget() -> None:
    # counted in a fresh process: the engine's process-wide switches (complex or float16 graphs recorded, module
    # backward hooks registered, saved-tensor hooks …) that tests run earlier in this worker turn on stay on
    repo = Path(__file__).resolve().parents[2]
    code = "from tests.minigrad.test_eager_overhead_round24 import _warm_count; print(_warm_count())"
    env = {**os.environ, "PYTHONPATH": str(repo)}
    done = subprocess.run([sys.executable, "-c", code], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=120, check=True)
    assert int(done.stdout.split()[-1]) <= OPCODE_BUDGET


def test_char_rnn_step_gradients_equal_torch() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    vocab, hidden = 5, 4
    arrays = {"Wxh": rng.standard_normal((vocab, hidden)), "Whh": rng.standard_normal((hidden, hidden)),
              "Why": rng.standard_normal((hidden, vocab)), "bh": rng.standard_normal(hidden),
              "by": rng.standard_normal(vocab)}
    eye = np.eye(vocab)
    xs, ts = eye[[0, 1, 2, 3]], eye[[1, 2, 3, 4]]

    def run(lib, p, x, target, h):  # noqa: ANN001, ANN202 - minigrad or torch
        loss = None
        for t in range(4):
            h = (x[t:t + 1] @ p["Wxh"] + h @ p["Whh"] + p["bh"]).tanh()
            logits = h @ p["Why"] + p["by"]
            step_loss = -(lib.log_softmax(logits, -1) * target[t:t + 1]).sum()
            loss = step_loss if loss is None else loss + step_loss
        return loss

    mine = {k: mg.tensor(v, requires_grad=True) for k, v in arrays.items()}
    theirs = {k: to_torch(torch, v, True) for k, v in arrays.items()}
    loss = run(mg, mine, mg.tensor(xs), mg.tensor(ts), mg.zeros(1, hidden, dtype=mg.float64))
    torch_loss = run(torch, theirs, torch.from_numpy(xs), torch.from_numpy(ts), torch.zeros(1, hidden,
                                                                                              dtype=torch.float64))
    loss.backward()
    torch_loss.backward()
    assert_close(loss, torch_loss)
    for name in arrays:
        assert_close(mine[name].grad, theirs[name].grad, what=name)


def test_repeated_steps_give_the_same_losses() -> None:
    step, losses = _char_rnn_step()
    step()
    step()
    assert losses[0] == losses[1]


def test_outputs_of_a_multiple_output_op_without_gradient_get_none_and_others_sum() -> None:
    """The walk keeps each output's gradient by edge: an unbind whose outputs get gradients from several uses, some
    from none, gives PyTorch's input gradient."""
    torch = pytest.importorskip("torch")
    values = np.random.default_rng(1).standard_normal((4, 3))
    w = np.random.default_rng(2).standard_normal((3, 3))

    def run(x, weight):  # noqa: ANN001, ANN202 - minigrad or torch tensors
        rows = x.unbind(0)
        return (rows[0] @ weight).sum() + (rows[0] * rows[2]).sum() + (rows[2] @ weight).sum() * 2

    x, weight = mg.tensor(values, requires_grad=True), mg.tensor(w, requires_grad=True)
    tx, tweight = to_torch(torch, values, True), to_torch(torch, w, True)
    run(x, weight).backward()
    run(tx, tweight).backward()
    assert_close(x.grad, tx.grad, what="x")
    assert_close(weight.grad, tweight.grad, what="weight")


def test_a_product_sum_first_in_an_op_output_slot_is_valued_before_its_backward() -> None:
    """A weight that is itself an op's output (W = V * 2) gets lazy product sums from each use: its node sums them
    and values them before its own backward."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    v, hs = rng.standard_normal((3, 3)), rng.standard_normal((5, 2, 3))

    def run(v_, h_list):  # noqa: ANN001, ANN202 - minigrad or torch
        weight = v_ * 2
        return sum(((h @ weight).tanh()).sum() for h in h_list)

    mine = mg.tensor(v, requires_grad=True)
    theirs = to_torch(torch, v, True)
    run(mine, [mg.tensor(h) for h in hs]).backward()
    run(theirs, [torch.from_numpy(h) for h in hs]).backward()
    assert_close(mine.grad, theirs.grad)


def test_a_walk_that_raises_accumulates_the_leaves_it_finished_as_torch() -> None:
    """A node that raises mid-walk: the leaves whose every consumer ran have their gradients (the nodes waiting
    with gradients, read from the walk's slots by edge, hold the others back)."""
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    b = mg.tensor([3.0, 4.0], requires_grad=True)
    y = a * 3
    z = (y * b).sum() + (y.tanh() * 2).sum()

    def fail(grad):  # noqa: ANN001, ANN202 - a hook
        raise RuntimeError("boom")

    y.register_hook(fail)
    with pytest.raises(RuntimeError, match="boom"):
        z.backward()
    assert a.grad is None
    np.testing.assert_array_equal(b.grad.numpy(), [3.0, 6.0])


def test_slice_index_is_a_tracked_view_as_before() -> None:
    """``x[a:b]`` takes the short path past the index conversion: still a view whose in-place change reaches the
    base's graph, as PyTorch's."""
    torch = pytest.importorskip("torch")
    values = np.arange(12.0).reshape(4, 3)
    x = mg.tensor(values, requires_grad=True)
    tx = to_torch(torch, values, True)
    base, tbase = x * 1, tx * 1
    view, tview = base[1:3], tbase[1:3]
    view.mul_(2)
    tview.mul_(2)
    (base * base).sum().backward()
    (tbase * tbase).sum().backward()
    assert_close(base, tbase)
    assert_close(x.grad, tx.grad)
    assert view.data.base is not None


def test_product_sum_dtype_is_its_first_factors() -> None:
    left, right = np.ones((2, 3), dtype=np.float32), np.ones((2, 4), dtype=np.float32)
    total = ProductSum(left, right) + ProductSum(left.astype(np.float32), right)
    assert total.dtype is np.dtype(np.float32)
    assert total.value().dtype == np.float32
