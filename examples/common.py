"""What every example program shares: its command line, device, progress bar,
checkpoint and the one-line JSON summary it prints last.

An example reads like this::

    parser = common.parser("parity", __doc__, epochs=10)
    parser.add_argument("--hidden-size", type=int, default=32)
    args = parser.parse_args(argv)
    device = common.setup(args)            # checks --device, seeds everything
    for epoch in range(args.epochs):
        for batch in common.progress(batches, args, desc=f"epoch {epoch + 1}"):
            ...
    common.save_checkpoint(model, args.out, "parity", config=vars(args))
    common.finish(args, example="parity", device=device, epochs=..., val_accuracy=...)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Any, Iterable, Iterator

import numpy as np

import minigrad as mg
from minigrad import nn


def parser(name: str, description: str | None, epochs: int, seed: int = 0) -> argparse.ArgumentParser:
    """An argument parser with the options every example has.

    ``--device``, ``--seed``, ``--epochs``, ``--out`` (default ``runs/<name>``)
    and ``--no-progress``. The first paragraph of ``description`` (the
    module docstring) is the help text.
    """
    text = (description or "").strip().split("\n\n")[0]
    result = argparse.ArgumentParser(
        prog=f"python -m examples.{name}", description=text,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    result.add_argument("--device", default="cpu", help="where to run: cpu, cuda or cuda:N (needs CuPy and a GPU)")
    result.add_argument("--seed", type=int, default=seed, help="seed for the weights and the batch order")
    result.add_argument("--epochs", type=int, default=epochs, help="passes over the training data")
    result.add_argument("--out", default=os.path.join("runs", name),
                        help="folder for the checkpoint, pictures and summary.json")
    result.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return result


def setup(args: argparse.Namespace) -> str:
    """Check ``--device``, seed the engine and make ``--out``; returns the device name."""
    device = str(args.device)
    if device.startswith("cuda") or device == "gpu":
        if not mg.cuda.is_available():
            sys.exit(f"error: --device {device} asked for a GPU, but none is usable here "
                     "(install CuPy with `pip install -e .[cuda]` on a machine with an NVIDIA GPU)")
    elif device != "cpu":
        sys.exit(f"error: --device must be cpu, cuda or cuda:N, got {device!r}")
    device = str(mg.Device(device))
    mg.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    return device


def progress(iterable: Iterable, args: argparse.Namespace, **kwargs: Any) -> Any:
    """A tqdm progress bar on stderr (a plain iterator with ``--no-progress`` or without tqdm)."""
    try:
        from tqdm.auto import tqdm  # noqa: PLC0415 - optional dependency of the examples
    except ImportError:  # pragma: no cover - tqdm is in the examples extra
        return _Silent(iterable)
    if args.no_progress:
        return _Silent(iterable)
    return tqdm(iterable, file=sys.stderr, dynamic_ncols=True, leave=False, **kwargs)


class _Silent:
    """Stands in for a tqdm bar: iterates, and ignores ``set_postfix``."""

    def __init__(self, iterable: Iterable) -> None:
        self.iterable = iterable

    def __iter__(self) -> Iterator:
        return iter(self.iterable)

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass


def log(*parts: Any) -> None:
    """Print a progress line to stdout (stdout's last line is kept for the JSON summary)."""
    print(*parts, flush=True)


def batches(n: int, batch_size: int, rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """Index arrays covering ``range(n)`` in batches, shuffled by ``rng`` when given."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def set_learning_rate(optimizer: Any, base_lr: float, progress: float, schedule: str = "constant") -> float:
    """Set every parameter group's ``lr`` for training ``progress`` in [0, 1]; returns it.

    ``constant``: ``base_lr`` throughout. ``cosine``: from ``base_lr`` down to 5% of
    it along half a cosine, so the last epochs take small, steady steps.
    """
    lr = base_lr
    if schedule == "cosine":
        lr = base_lr * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * min(max(progress, 0.0), 1.0))))
    elif schedule != "constant":
        raise ValueError(f"unknown learning-rate schedule {schedule!r}; choose constant or cosine")
    for group in optimizer.param_groups:
        group["lr"] = lr
    return lr


class Stopwatch:
    """Seconds spent training, excluding evaluation and drawing."""

    def __init__(self) -> None:
        self.total = 0.0
        self._start: float | None = None

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        if mg.cuda.is_available():
            mg.cuda.synchronize()
        self.total += time.perf_counter() - (self._start or 0.0)


def save_checkpoint(model: nn.Module, out: str, name: str, config: dict | None = None) -> str:
    """Save ``model.state_dict()`` with ``nn.save`` as ``out/name.npz`` (config beside it as JSON)."""
    path = os.path.join(out, f"{name}.npz")
    nn.save(model.state_dict(), path)
    if config is not None:
        with open(os.path.join(out, f"{name}.json"), "w") as f:
            json.dump(_jsonable(config), f, indent=2, sort_keys=True)
    return path


def finish(args: argparse.Namespace, example: str, device: str, epochs: int, train_seconds: float,
           seconds_per_epoch: float | None = None, **metrics: Any) -> dict:
    """Print the summary as one JSON object on the last line of stdout (and save it as summary.json).

    ``seconds_per_epoch`` defaults to ``train_seconds / epochs`` (pass it when one
    program trains several models).
    """
    if seconds_per_epoch is None:
        seconds_per_epoch = train_seconds / max(epochs, 1)
    summary = {
        "example": example,
        "device": device,
        "epochs": epochs,
        "train_seconds": round(train_seconds, 3),
        "seconds_per_epoch": round(seconds_per_epoch, 3),
        **metrics,
    }
    summary = _jsonable(summary)
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    sys.stderr.flush()
    print(json.dumps(summary), flush=True)
    return summary


def _jsonable(value: Any) -> Any:
    """Plain JSON values: NumPy scalars become Python numbers, NaN becomes None."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return float(f"{value:.6g}") if math.isfinite(value) else None   # 6 significant digits
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return str(value)
