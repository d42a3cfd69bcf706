"""The smallest program learners start from: a min-char-rnn-style character RNN, minigrad against plain NumPy.

    python -m bench.char_rnn_tiny [--iterations 300] [--repeats 3] [--threads 1] [--clock wall|process]

Batch 1, hidden 100, 25-step chunks, one-hot inputs, softmax cross-entropy summed
over the chunk, gradients clipped to [-5, 5], Adagrad (lr 0.1, the update
``p -= lr * g / sqrt(memory + 1e-8)``), on the shipped small text. Peers, run in
the same process from the same initial weights on the same chunks:

* ``numpy``: the plain NumPy original's math, forward and hand-written BPTT;
* ``eager``: the same model on minigrad's public API, the graph recorded op by op;
* ``compiled``: the same, with the chunk's loss function wrapped in ``mg.compile``
  (captured once, then replayed), when this minigrad has it.

The minigrad peers are a faithful port of the NumPy program, step by step (no vectorising over
the chunk). Before timing, the first five iterations' losses of the peers are compared (they are the same
computation) and their largest difference is printed. Each number is the median over
``--repeats`` rounds of ``--iterations`` iterations per peer, as milliseconds per iteration: wall
time by default, or with ``--clock process`` this process's CPU time (as ``bench.overhead``), which on
a shared machine leaves out the time spent descheduled (with one BLAS thread both count the same work).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np
from threadpoolctl import threadpool_limits

import minigrad as mg
from bench import steady_state

HIDDEN, CHUNK, LR = 100, 25, 0.1
TEXT = Path(__file__).resolve().parents[1] / "examples" / "data" / "us_documents.txt"


def _data() -> tuple[np.ndarray, int]:
    text = TEXT.read_text(encoding="utf-8")
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    return np.array([index[c] for c in text], dtype=np.int64), len(chars)


def _weights(vocab: int, seed: int = 0) -> dict[str, np.ndarray]:
    """float64 weights as min-char-rnn draws them (×0.01 normal), row-vector layout: h' = tanh(x Wxh + h Whh + bh)."""
    rng = np.random.default_rng(seed)
    return {"Wxh": rng.standard_normal((vocab, HIDDEN)) * 0.01, "Whh": rng.standard_normal((HIDDEN, HIDDEN)) * 0.01,
            "Why": rng.standard_normal((HIDDEN, vocab)) * 0.01, "bh": np.zeros(HIDDEN), "by": np.zeros(vocab)}


def _chunks(data: np.ndarray) -> Callable[[int], tuple[np.ndarray, np.ndarray]]:
    starts = np.arange(0, len(data) - CHUNK - 1, CHUNK)

    def chunk(i: int) -> tuple[np.ndarray, np.ndarray]:
        p = starts[i % len(starts)]
        return data[p:p + CHUNK], data[p + 1:p + CHUNK + 1]

    return chunk


def _adagrad(params: dict, grads: dict, memory: dict) -> None:
    for name, p in params.items():
        g = np.clip(grads[name], -5, 5)
        memory[name] += g * g
        p -= LR * g / np.sqrt(memory[name] + 1e-8)


def numpy_peer(weights: dict, vocab: int, chunk: Callable) -> Callable[[int], float]:
    """The plain NumPy program: forward over the chunk, BPTT by hand, Adagrad."""
    params = {k: v.copy() for k, v in weights.items()}
    memory = {k: np.zeros_like(v) for k, v in params.items()}
    state = {"h": np.zeros(HIDDEN)}
    eye = np.eye(vocab)

    def iteration(i: int) -> float:
        inputs, targets = chunk(i)
        Wxh, Whh, Why, bh, by = (params[k] for k in ("Wxh", "Whh", "Why", "bh", "by"))
        xs, hs, ps = eye[inputs], {-1: state["h"]}, {}
        loss = 0.0
        for t in range(CHUNK):
            hs[t] = np.tanh(xs[t] @ Wxh + hs[t - 1] @ Whh + bh)
            logits = hs[t] @ Why + by
            e = np.exp(logits - logits.max())
            ps[t] = e / e.sum()
            loss -= np.log(ps[t][targets[t]])
        grads = {k: np.zeros_like(v) for k, v in params.items()}
        dh_next = np.zeros(HIDDEN)
        for t in reversed(range(CHUNK)):
            dy = ps[t].copy()
            dy[targets[t]] -= 1
            grads["Why"] += np.outer(hs[t], dy)
            grads["by"] += dy
            dh = Why @ dy + dh_next
            draw = (1 - hs[t] * hs[t]) * dh
            grads["bh"] += draw
            grads["Wxh"] += np.outer(xs[t], draw)
            grads["Whh"] += np.outer(hs[t - 1], draw)
            dh_next = Whh @ draw
        state["h"] = hs[CHUNK - 1]
        _adagrad(params, grads, memory)
        return float(loss)

    return iteration


def minigrad_peer(weights: dict, vocab: int, chunk: Callable, compiled: bool) -> Callable[[int], float]:
    """The same program on minigrad's public API; ``compiled`` wraps the chunk's loss in ``mg.compile``."""
    params = {k: mg.tensor(v.copy(), requires_grad=True) for k, v in weights.items()}
    memory = {k: np.zeros_like(v) for k, v in weights.items()}
    eye = np.eye(vocab)
    state = {"h": mg.zeros(1, HIDDEN, dtype=mg.float64)}

    def chunk_loss(xs: mg.Tensor, targets: mg.Tensor, h: mg.Tensor) -> tuple[mg.Tensor, mg.Tensor]:
        """xs, targets: (T, V) one-hot rows, h: (1, H) → (summed cross-entropy, last h).

        Step by step, as the NumPy original is written: a learner's program, not a vectorised one.
        """
        Wxh, Whh, Why, bh, by = (params[k] for k in ("Wxh", "Whh", "Why", "bh", "by"))
        loss = None
        for t in range(CHUNK):
            h = (xs[t:t + 1] @ Wxh + h @ Whh + bh).tanh()                  # (1, H)
            logits = h @ Why + by                                            # (1, V)
            step_loss = -(logits.log_softmax(axis=-1) * targets[t:t + 1]).sum()   # picks the target's log p
            loss = step_loss if loss is None else loss + step_loss
        return loss, h

    loss_fn = mg.compile(chunk_loss) if compiled else chunk_loss

    def iteration(i: int) -> float:
        inputs, targets = chunk(i)
        for p in params.values():
            p.grad = None
        loss, h = loss_fn(mg.tensor(eye[inputs]), mg.tensor(eye[targets]), state["h"])
        loss.backward()
        state["h"] = h.detach()
        _adagrad({k: p.data for k, p in params.items()}, {k: p.grad.data for k, p in params.items()}, memory)
        return loss.item()

    return iteration


def run(iterations: int, repeats: int, clock: Callable[[], float] = time.perf_counter) -> None:
    data, vocab = _data()
    chunk = _chunks(data)
    weights = _weights(vocab)
    peers = {"numpy": numpy_peer(weights, vocab, chunk), "eager": minigrad_peer(weights, vocab, chunk, False)}
    if hasattr(mg, "compile"):
        peers["compiled"] = minigrad_peer(weights, vocab, chunk, True)
    losses = {name: [peer(i) for i in range(5)] for name, peer in peers.items()}
    worst = max(abs(a - b) for name in peers for a, b in zip(losses[name], losses["numpy"]))
    print(f"# min-char-rnn iteration (batch 1, hidden {HIDDEN}, {CHUNK}-step chunks, vocab {vocab}, float64, "
          f"Adagrad); median of {repeats} rounds of {iterations} iterations (ms per iteration)")
    print(f"# {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"NumPy {np.__version__}; first 5 losses agree with NumPy's to {worst:.1e}")
    samples: dict[str, list[float]] = {name: [] for name in peers}
    position = 5
    for _ in range(repeats):
        for name, peer in peers.items():
            start = clock()
            for i in range(position, position + iterations):
                peer(i)
            samples[name].append((clock() - start) * 1e3 / iterations)
        position += iterations
    ms = {name: statistics.median(v) for name, v in samples.items()}
    ratios = [name for name in ms if name != "numpy"]
    print(" | ".join(f"{name:>10}" for name in ms) + " | " + " | ".join(f"{n + '/numpy':>14}" for n in ratios))
    print(" | ".join(f"{v:>10.3f}" for v in ms.values()) + " | "
          + " | ".join(f"{ms[n] / ms['numpy']:>14.2f}" for n in ratios))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=300, help="iterations per peer and round")
    parser.add_argument("--repeats", type=int, default=3, help="rounds (the median is reported)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (threadpoolctl)")
    parser.add_argument("--clock", choices=("wall", "process"), default="wall",
                        help="wall time (perf_counter) or this process's CPU time (process_time)")
    args = parser.parse_args(argv)
    steady_state()
    with threadpool_limits(limits=args.threads):
        run(args.iterations, args.repeats, time.perf_counter if args.clock == "wall" else time.process_time)


if __name__ == "__main__":
    main()
