"""Recurrent layers and cells as people use them, against torch, round 18.

A differential fuzz of usage patterns in float64 with copied weights, several training steps each (truncated BPTT
with detached states, user-written cells under ``mg.compile``, seq2seq with attention and weight tying, packed
buckets sorted back, direction splits, last-step gathers, masked losses, hooks, ``compile()`` toggled between
train and eval, ``.double()``/``.to()``, torch-trained state dicts, clipping, eval-mode dropout, parametrizations)
matched torch except where a parametrization changes state on each read: ``parametrizations.spectral_norm`` on a
layer's weight runs its power iteration on every read in training mode, and PyTorch's layer reads a parametrized
weight 4 times per forward (the first one; 2 for each later one) and a cell once, while ours read ``weight_ih`` for
its dtype as well: the weight, so the losses and gradients, differed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg


@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch", reason="no torch")
    return torch


def _load(lib: Any, module: Any, seed: int) -> None:
    rng = np.random.default_rng(seed)
    module.load_state_dict({k: lib.from_numpy(rng.uniform(-0.6, 0.6, tuple(v.shape)))
                            for k, v in sorted(module.state_dict().items())})


# (module class, its arguments, the parametrized weights, input shape)
CASES = [
    ("RNN", (3, 4), ("weight_hh_l0",), (3, 2, 3)),
    ("LSTM", (3, 4), ("weight_ih_l0", "weight_hh_l0"), (3, 2, 3)),
    ("GRU", (3, 4), ("weight_hh_l0_reverse",), (3, 2, 3)),
    ("GRUCell", (3, 4), ("weight_ih",), (2, 3)),
    ("LSTMCell", (3, 4), ("weight_ih", "weight_hh"), (2, 3)),
]


@pytest.mark.parametrize(("kind", "args", "names", "shape"), CASES)
def test_spectral_norm_on_a_recurrent_weight_trains_as_pytorch(torch, kind: str, args: tuple, names: tuple,
                                                                shape: tuple) -> None:
    x = np.random.default_rng(0).standard_normal(shape)
    results = {}
    for lib in (torch, mg):
        kwargs = {"bidirectional": True} if kind == "GRU" else {}
        module = getattr(lib.nn, kind)(*args, **kwargs, dtype=lib.float64)
        _load(lib, module, 1)
        for name in names:
            lib.nn.utils.parametrizations.spectral_norm(module, name, n_power_iterations=2)
        for i, (_, buffer) in enumerate(sorted(module.named_buffers())):   # the same power-iteration start
            start = np.random.default_rng(10 + i).standard_normal(tuple(buffer.shape))
            with lib.no_grad():
                buffer.copy_(lib.from_numpy(start / np.linalg.norm(start)))
        optimizer = lib.optim.SGD(module.parameters(), lr=0.1)
        seen = []
        for _ in range(3):
            out = module(lib.from_numpy(x))
            out = out[0] if isinstance(out, tuple) else out
            loss = (out ** 2).sum()
            optimizer.zero_grad()
            loss.backward()
            seen.append(loss.item())
            seen.extend(p.grad.numpy().copy() for p in module.parameters())
            optimizer.step()
        results[lib] = seen
    assert len(results[mg]) == len(results[torch])
    for ours, theirs in zip(results[mg], results[torch]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-11)


def test_a_layer_reads_each_parametrized_weight_as_often_as_pytorch(torch) -> None:
    counts = {}
    for lib in (torch, mg):
        class Count(lib.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.reads = 0

            def forward(self, weight: Any) -> Any:
                self.reads += 1
                return weight * 1

        layer = lib.nn.LSTM(3, 4, num_layers=2, dtype=lib.float64)
        cell = lib.nn.GRUCell(3, 4, dtype=lib.float64)
        counters = {name: Count() for name in ("weight_ih_l0", "bias_hh_l0", "weight_hh_l1")}
        counters["cell"] = Count()
        for name in ("weight_ih_l0", "bias_hh_l0", "weight_hh_l1"):
            lib.nn.utils.parametrize.register_parametrization(layer, name, counters[name])
        lib.nn.utils.parametrize.register_parametrization(cell, "weight_ih", counters["cell"])
        for counter in counters.values():
            counter.reads = 0
        layer(lib.zeros(2, 1, 3, dtype=lib.float64))
        cell(lib.zeros(1, 3, dtype=lib.float64))
        counts[lib] = {name: counter.reads for name, counter in counters.items()}
        for counter in counters.values():
            counter.reads = 0
        with lib.nn.utils.parametrize.cached():       # one read each, and the cached weight keeps its graph
            layer(lib.ones(2, 1, 3, dtype=lib.float64))[0].sum().backward()
        counts[lib, "cached"] = {name: counter.reads for name, counter in counters.items()}
        assert layer.parametrizations.weight_hh_l1.original.grad is not None
    assert counts[mg] == counts[torch]
    assert counts[mg, "cached"] == counts[torch, "cached"]
