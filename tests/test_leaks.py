"""Long training does not leak.

A tiny LSTM seq2seq (Embedding + nn.LSTM encoder + nn.LSTM decoder + Linear + cross_entropy + Adam)
trains for 2,000 steps through five phases: plain; one ``backward(retain_graph=True)`` whose graph is
then dropped; an extra ``name_scope`` around every step; the gradient overlay recording switched on
(``backward(retain_graph=True)`` then ``observe_backward``, a tensor hook, ``retain_grad`` and a drawing with
``show_grads``) and then off again. Three measures must stay flat after warm-up:

* the number of live ``mg.Tensor`` objects and of graph nodes (``mg.Function``), counted with the
  garbage collector between steps: exactly constant, and no node outlives its step;
* ``sys.getallocatedblocks()`` (every Python object, NumPy array headers included), sampled all along:
  the fitted growth over the run stays within a small tolerance;
* bytes traced by ``tracemalloc`` (NumPy data buffers included) in windows of steps of each phase:
  what a window leaves allocated stays small and does not grow.

A deliberately leaking loop must trip the same measures (so the test can fail).
"""

from __future__ import annotations

import gc
import sys
import tracemalloc
import weakref
from typing import Callable

import numpy as np

import minigrad as mg
import nn

F = nn.functional

V, E, H, T, B = 8, 4, 6, 3, 2
STEPS, WARMUP = 2000, 200
WINDOW = 10                  # steps per tracemalloc window (tracing makes a step ~7x slower)


class Seq2Seq(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(V, E)
        self.encoder = nn.LSTM(E, H)
        self.decoder = nn.LSTM(E, H)
        self.head = nn.Linear(H, V)

    def forward(self, source: mg.Tensor, target_in: mg.Tensor) -> tuple:
        _, state = self.encoder(self.embed(source))
        output, _ = self.decoder(self.embed(target_in), state)
        return self.head(output), output


class Trainer:
    def __init__(self) -> None:
        mg.manual_seed(0)
        self.model = Seq2Seq()
        self.optimizer = nn.optim.Adam(self.model.parameters(), lr=1e-2)
        self.source = mg.randint(0, V, (T, B))
        self.target = mg.tensor(self.source.numpy()[::-1].copy())
        self.hook_calls, self.hook_norm = 0, 0.0
        self.kept: list = []        # only the leaking control puts things here
        mg.viz.draw(mg.randn(2, requires_grad=True).tanh().sum())   # import the drawing code before measuring

    def step(self, mode: str) -> float:
        self.optimizer.zero_grad()
        logits, output = self.model(self.source, self.target)
        loss = F.cross_entropy(logits.reshape(-1, V), self.target.reshape(-1))
        if mode == "overlay":
            output.register_hook(self._record_hook)
            logits.retain_grad()
            loss.backward(retain_graph=True)
            mg.autograd.observe_backward(loss, lambda node, grads_out, grads_in: None)
            if self.hook_calls % 100 == 1:   # before the step changes the weights the graph saved
                mg.viz.draw(loss, show_grads=True, collapse="steps")   # the overlay is read, then dropped
        elif mode == "retain_once":
            loss.backward(retain_graph=True)
            node = weakref.ref(loss.grad_fn)
            self.optimizer.zero_grad()
            loss.backward()              # the graph was retained, so a second pass works
            del loss, logits, output
            assert node() is None, "the retained graph outlived its loss"
            self.optimizer.step()
            return 0.0
        elif mode == "leak":
            loss.backward()
            self.kept.append(loss)       # the classic leak: keeping the loss keeps its whole graph
        else:
            loss.backward()
        self.optimizer.step()
        return loss.item()

    def _record_hook(self, grad: mg.Tensor) -> None:
        self.hook_calls += 1
        self.hook_norm = float(np.linalg.norm(grad.numpy()))


def phase(step: int) -> str:
    """The schedule of the 2,000 steps. Warm-up runs every mode a little (NumPy's and Python's internal
    caches fill up there); after it each mode gets its own long stretch."""
    if step < WARMUP:
        return ("plain", "scoped", "overlay", "plain")[step % 4]
    if step == 600:
        return "retain_once"
    if 600 < step < 1000:
        return "scoped"
    if 1000 <= step < 1200:
        return "overlay"
    return "plain"


def live_counts() -> tuple[int, int]:
    gc.collect()
    tensors = nodes = 0
    for obj in gc.get_objects():
        if isinstance(obj, mg.Tensor):
            tensors += 1
        elif isinstance(obj, mg.Function):
            nodes += 1
    return tensors, nodes


def run(trainer: Trainer, steps: int, schedule: Callable[[int], str], windows: dict,
        every: tuple[int, int] = (100, 400)) -> dict:
    """Train; sample allocated blocks and live objects every ``every`` steps, trace bytes in ``windows``.

    Samples go into preallocated arrays: appending Python tuples would itself allocate blocks.
    """
    block_every, count_every = every
    blocks = np.zeros((steps // block_every, 2), dtype=np.int64)
    counts = np.zeros((steps // count_every, 3), dtype=np.int64)
    traced = dict.fromkeys(windows, 0)
    for step in range(steps):
        window = next((name for name, start in windows.items() if start <= step < start + WINDOW), None)
        if window and step == windows[window]:
            gc.collect()
            tracemalloc.start()
        mode = schedule(step)
        if mode == "scoped":
            with mg.name_scope("train"), mg.name_scope(f"s{step % 3}"):
                trainer.step("plain")
        else:
            trainer.step(mode)
        if window and step == windows[window] + WINDOW - 1:
            gc.collect()
            traced[window] = tracemalloc.get_traced_memory()[0]
            tracemalloc.stop()
        if step % block_every == block_every - 1:
            gc.collect()       # a full collection also empties the free lists, so samples compare
            blocks[step // block_every] = step, sys.getallocatedblocks()
        if step % count_every == count_every - 1:
            counts[step // count_every] = (step, *live_counts())
    return {"blocks": blocks, "counts": counts, "traced": traced}


def fitted_growth(samples: np.ndarray, after: int) -> float:
    """Growth over the sampled span of a least-squares line through (step, value) after warm-up."""
    points = samples[samples[:, 0] >= after].astype(float)
    slope = np.polyfit(points[:, 0], points[:, 1], 1)[0]
    return float(slope * (points[-1, 0] - points[0, 0]))


def test_two_thousand_steps_do_not_leak() -> None:
    trainer = Trainer()
    windows = {"plain": 300, "scoped": 800, "overlay": 1100, "after_overlay": 1900}
    result = run(trainer, STEPS, phase, windows)

    counts = result["counts"][result["counts"][:, 0] >= WARMUP]
    assert set(counts[:, 2]) == {0}, f"graph nodes outlived their step: {counts.tolist()}"
    assert len(set(counts[:, 1])) == 1, f"live Tensor count changed: {counts.tolist()}"

    blocks = result["blocks"]
    growth = fitted_growth(blocks, WARMUP)
    traced = result["traced"]
    print(f"\n[leaks] {STEPS} steps: live tensors {counts[0, 1]} -> {counts[-1, 1]}, graph nodes 0; "
          f"allocated blocks {blocks[WARMUP // 100, 1]} -> {blocks[-1, 1]} (fitted growth {growth:+.0f} over "
          f"{STEPS - WARMUP} steps); bytes left by a {WINDOW}-step traced window: {traced}")
    # a leak of a single small object per step would add >= 1,800 blocks; a Tensor per step ~4x that
    assert abs(growth) < 600, f"allocated blocks grow by {growth:.0f} over the run"
    assert all(b < 64 * 1024 for b in traced.values()), f"a window left {traced} bytes allocated"
    assert trainer.hook_calls == 200 + WARMUP // 4 and np.isfinite(trainer.hook_norm) and trainer.hook_norm > 0


def test_the_measures_catch_a_leak() -> None:
    """The same measures flag a loop that keeps every loss (and so its graph) alive."""
    trainer = Trainer()
    result = run(trainer, 150, lambda step: "leak" if step >= 50 else "plain", {"leak": 100}, every=(25, 50))
    tensors, nodes = result["counts"][:, 1], result["counts"][:, 2]
    assert tensors[-1] - tensors[0] == 100 and nodes[-1] > 1000     # one loss and its graph per step
    assert fitted_growth(result["blocks"], 50) > 600
    assert result["traced"]["leak"] > 64 * 1024
    trainer.kept.clear()


def test_a_dropped_graph_is_freed_by_reference_counting_alone() -> None:
    """No reference cycles: with the cycle collector off, the graph dies with its last tensor."""
    trainer = Trainer()
    gc.collect()
    gc.disable()
    try:
        logits, _ = trainer.model(trainer.source, trainer.target)
        loss = F.cross_entropy(logits.reshape(-1, V), trainer.target.reshape(-1))
        loss.backward(retain_graph=True)
        mg.autograd.observe_backward(loss, lambda node, grads_out, grads_in: None)
        nodes = [weakref.ref(loss.grad_fn), weakref.ref(logits.grad_fn)]
        del loss, logits
        assert all(ref() is None for ref in nodes)
    finally:
        gc.enable()

