"""``mg.random``: PyTorch's ``torch.random`` names for the engine's generators.

    with mg.random.fork_rng():          # draws in here leave the outer streams untouched
        noise = mg.randn(3)
    state = mg.random.get_rng_state()   # a uint8 Tensor; mg.random.set_rng_state(state) repeats the draws

The same functions are ``mg.manual_seed``, ``mg.seed``, ``mg.initial_seed``, ``mg.get_rng_state`` and
``mg.set_rng_state``; the sampling ops (``mg.rand``, ``mg.randperm`` …) live on ``mg`` itself.
"""

from __future__ import annotations

from .generators import (
    Generator,
    default_generator,
    fork_rng,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)

__all__ = ["Generator", "default_generator", "fork_rng", "get_rng_state", "initial_seed", "manual_seed", "seed",
           "set_rng_state"]
