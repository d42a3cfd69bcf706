"""What every example program shares: its command line, device, progress bar,
checkpoint and the one-line JSON summary it prints last.

An example reads like this::

    parser = common.parser("parity", __doc__, epochs=10)
    parser.add_argument("--hidden-size", type=common.positive_int, default=32)
    args = parser.parse_args(argv)         # a nonsense value exits 2 here, before anything is written
    device = common.setup(args)            # limits BLAS threads, seeds everything, makes --out
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
import re
import statistics
import sys
import time
from typing import Any, Callable, Iterable, Iterator

import numpy as np

import minigrad as mg
from minigrad import nn

# BLAS threads for the examples' matrix products. Measured on the 2-core CI box
# (bench/RESULTS.md, "Examples"): at the examples' sizes (batch 16-128 × a few
# hundred) one thread is as fast as two, and when the other core is busy two
# threads waiting on each other make every matmul several times slower.
# `--threads auto` (seq2seq's default, see ThreadTuner) measures it instead.
BLAS_THREADS = 1


# --- argument types: a nonsense value is a usage error (exit 2) before anything runs or is written ---

def distinct(values: list) -> list:
    """``values`` without repeats, in their order: ``--cells lstm lstm`` trains and reports the LSTM once."""
    return list(dict.fromkeys(values))


def positive_int(text: str) -> int:
    """An int ≥ 1 (epochs, batch size, hidden size, steps ...)."""
    return _checked_int(text, 1)


def sequence_length(text: str) -> int:
    """An int ≥ 2: a sequence with a first and a second half (the adding problem puts one marker in each)."""
    return _checked_int(text, 2)


def thread_count(text: str) -> int | str:
    """``--threads``: a positive int, or ``auto`` (a :class:`ThreadTuner` picks by timing the training steps)."""
    return "auto" if text == "auto" else positive_int(text)


def nonnegative_int(text: str) -> int:
    """An int ≥ 0 (a seed, or a count where 0 means "none" or "all")."""
    return _checked_int(text, 0)


def random_seed(text: str) -> int:
    """``--seed``: an int in [0, 2**64), the range ``mg.manual_seed`` (as ``torch.manual_seed``) takes."""
    value = _checked_int(text, 0)
    if value >= 2**64:
        raise argparse.ArgumentTypeError(f"must be below 2**64 (a 64-bit seed), got {value}")
    return value


def _checked_int(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be {'positive' if low == 1 else f'at least {low}'}, got {value}")
    return value


def finite_float(text: str) -> float:
    """A float that stays finite in a float32 weight (a bias, a coefficient): nan, inf and 1e39 are usage errors."""
    return _float32(text)


def positive_float(text: str) -> float:
    """A float > 0 that stays finite in float32 (a learning rate: 1e39 would make every weight inf, a temperature)."""
    value = _float32(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value:g}")
    return value


def nonnegative_float(text: str) -> float:
    """A finite float ≥ 0 (a clipping norm where 0 means off, a smoothing constant)."""
    value = _finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value:g}")
    return value


def probability(text: str) -> float:
    """A float in [0, 1] (dropout, teacher forcing)."""
    value = _finite_float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a probability in [0, 1], got {value:g}")
    return value


def dropout_rate(text: str) -> float:
    """A float in [0, 1): a dropout probability (1 would zero every activation, and the model could learn nothing)."""
    value = _finite_float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a dropout probability in [0, 1), got {value:g}")
    return value


def fraction(text: str) -> float:
    """A float strictly between 0 and 1 (the held-out share of a data set)."""
    value = _finite_float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must lie strictly between 0 and 1, got {value:g}")
    return value


def _float32(text: str) -> float:
    value = _finite_float(text)
    if abs(value) > float(np.finfo(np.float32).max):
        raise argparse.ArgumentTypeError(f"must be finite in float32 (at most {np.finfo(np.float32).max:.4g} "
                                         f"in size), got {text!r}")
    return value


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    return value


def device(text: str) -> str:
    """``cpu``, ``cuda`` or ``cuda:N`` naming a device that exists here (``cpu:N`` is ``cpu``, as in PyTorch);
    returns its canonical name."""
    name = text.strip().lower()
    if not re.fullmatch(r"(cpu|cuda)(:\d+)?", name):
        raise argparse.ArgumentTypeError(f"must be cpu, cuda or cuda:N, got {text!r}")
    if name.startswith("cuda"):
        if not mg.cuda.is_available():
            raise argparse.ArgumentTypeError(
                f"{text!r} asks for a GPU, but none is usable here (install CuPy with "
                "`pip install -e .[cuda]` on a machine with an NVIDIA GPU)")
        try:
            mg.resolve_device(name)
        except (RuntimeError, ValueError) as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return str(mg.Device(name))


DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
TEXTS = {   # named texts for --text (examples/data/README.md says where each comes from)
    "kjv": os.path.join(DATA_DIR, "kjv_genesis_ruth.txt"),   # ~1 MB: the default of the text models
    "small": os.path.join(DATA_DIR, "us_documents.txt"),     # ~17 KB: quick runs and tests
}


def text_file(text: str) -> str:
    """A name from ``TEXTS`` (``kjv``, ``small``) or the path of an existing regular file."""
    path = TEXTS.get(text, text)
    if not os.path.isfile(path):
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither one of the shipped texts ({', '.join(TEXTS)}) nor an existing file")
    return path


def read_text(parser: argparse.ArgumentParser, path: str) -> str:
    """The UTF-8 text at ``path``; an unreadable or binary file is a usage error (exit 2, nothing written)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as error:
        parser.error(f"cannot read --text {path}: {error}")
        raise   # parser.error exits; this line only tells type checkers so
    if "\x00" in text:   # valid UTF-8 but no text: a model would learn NUL bytes
        parser.error(f"--text {path} is a binary file (it holds NUL bytes), not a text")
    return text


# --- options that fit together: given ones that would do nothing are usage errors ---

def parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> tuple[argparse.Namespace, set[str]]:
    """``parser.parse_args(argv)``, and the names (``dest``) of the options ``argv`` gives explicitly.

    An option given on the command line that the other options make pointless
    (``--attention-size`` without ``--attention``) is a usage error; the same value
    left at its default is not: see :func:`reject`.
    """
    args = parser.parse_args(argv)
    unset = object()   # parse again over a namespace that already holds every name: defaults are not filled in
    explicit = parser.parse_args(argv, argparse.Namespace(**dict.fromkeys(vars(args), unset)))
    return args, {name for name, value in vars(explicit).items() if value is not unset}


def reject(parser: argparse.ArgumentParser, given: set[str], option: str, when: bool, reason: str) -> None:
    """A usage error (exit 2) when ``option`` (``"--forget-bias"``) was given and ``when`` holds.

    ``reason`` completes the sentence "``option`` has no effect ..." and names the other option.
    """
    if when and option.lstrip("-").replace("-", "_") in given:
        parser.error(f"{option} has no effect {reason}")


def check_batch_size(parser: argparse.ArgumentParser, args: argparse.Namespace, given: set[str], count: int,
                     what: str) -> None:
    """``--batch-size`` larger than the ``count`` training items (``what``: "training reviews"): a usage
    error when given, a note when it is the default (each epoch is then one batch of all of them)."""
    if args.batch_size <= count:
        return
    if "batch_size" in given:
        parser.error(f"--batch-size {args.batch_size:,} is larger than the {count:,} {what}: choose at most {count:,}")
    log(f"note: the default --batch-size {args.batch_size:,} is larger than the {count:,} {what}: "
        f"each epoch is one batch of {count:,}")


# --- training that diverges stops before anything is saved ---

def check_loss(loss: float, args: argparse.Namespace, epoch: int, step: int, lr: float | None = None,
               model: str = "") -> float:
    """``loss`` (a training step's, read with ``.item()``) when it is finite; else stop the program (exit 1).

    A diverged model must not be saved: its checkpoint would replace a good one with nan
    weights. ``lr``: the learning rate of that step (default ``args.lr``); ``model`` names
    it when the program trains several.
    """
    if math.isfinite(loss):
        return loss
    lr = args.lr if lr is None else lr
    at = f"epoch {epoch}, step {step}" + (f" of {model}" if model else "")
    rate = f"learning rate {lr:g}" + (f" (--lr {args.lr:g})" if lr != args.lr else " (--lr)")
    _diverged(f"training diverged: the loss is {loss} at {at}, with {rate}", args)
    return loss   # not reached


def _diverged(what: str, args: argparse.Namespace | None, out: str | None = None) -> None:
    hint = "try a smaller --lr"
    if args is not None:
        out = args.out
        hint = f"try a smaller --lr (such as {args.lr / 10:g})" if hasattr(args, "lr") else hint
        if getattr(args, "clip", None) == 0:
            hint += " or clip the gradients (--clip 1)"
    print(f"error: {what}; its checkpoint was not written (what {out!r} already holds is kept); {hint}",
          file=sys.stderr, flush=True)
    raise SystemExit(1)


def parser(name: str, description: str | None, epochs: int | None, seed: int = 0,
           tuned_threads: bool = False) -> argparse.ArgumentParser:
    """An argument parser with the options every example has.

    ``--device``, ``--seed``, ``--epochs``, ``--threads``, ``--out`` (default
    ``runs/<name>``) and ``--no-progress``. The first paragraph of
    ``description`` (the module docstring) is the help text. ``--epochs`` must
    be positive, unless its default is 0 (then 0 is allowed: "skip training");
    ``epochs=None`` leaves it out, for a program that does not train in epochs.
    ``tuned_threads``: the program times its steps with a :class:`ThreadTuner`, so
    ``--threads`` also takes ``auto``, its default.
    """
    text = (description or "").strip().split("\n\n")[0]
    result = _Parser(
        prog=f"python -m examples.{name}", description=text,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    result.add_argument("--device", type=device, default="cpu",
                        help="where to run: cpu, cuda or cuda:N (needs CuPy and a GPU)")
    result.add_argument("--seed", type=random_seed, default=seed, help="seed for the weights and the batch order")
    if epochs is not None:
        result.add_argument("--epochs", type=positive_int if epochs > 0 else nonnegative_int, default=epochs,
                            help="passes over the training data")
    if tuned_threads:
        result.add_argument("--threads", type=thread_count, default="auto",
                            help="BLAS threads for NumPy's matrix products, or auto: the count that trains "
                                 "fastest, timed as it trains (see ThreadTuner)")
    else:
        result.add_argument("--threads", type=positive_int, default=BLAS_THREADS,
                            help="BLAS threads for NumPy's matrix products (see BLAS_THREADS)")
    result.add_argument("--out", default=os.path.join("runs", name),
                        help="folder for the checkpoint, pictures and summary.json")
    result.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return result


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose ``--help`` shows every option's default, also of options added without help text
    (``ArgumentDefaultsHelpFormatter`` alone leaves out the line of an option without help, default included)."""

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        if kwargs.get("help") is None and args and args[0].startswith("-"):
            kwargs["help"] = "(default: %(default)s)"
        return super().add_argument(*args, **kwargs)


def setup(args: argparse.Namespace, files: Iterable[str] = ()) -> str:
    """Limit BLAS threads, seed the engine and make ``--out``; returns the device name.

    ``--device`` was already checked by its argparse type. ``files``: names the program will write in
    ``--out`` besides ``summary.json`` (its checkpoint ...). An ``--out`` that cannot be made or written
    in, or where one of these names is a folder, is a usage error here, not a traceback after training.
    """
    if args.threads != "auto":   # else a ThreadTuner sets them step by step
        limit_blas_threads(args.threads)
    mg.manual_seed(args.seed)
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as error:   # a file of that name, no permission ...: a usage error, not a traceback
        why = "a file of that name exists" if os.path.isfile(args.out) else (error.strerror or str(error))
        _out_error(f"cannot make the --out folder {args.out!r}: {why}")
    if not os.access(args.out, os.W_OK | os.X_OK):   # read-only: also a read-only file system for root
        _out_error(f"cannot write in the --out folder {args.out!r}: permission denied")
    for name in ("summary.json", *files):
        if os.path.isdir(os.path.join(args.out, name)):
            _out_error(f"cannot write {name} in the --out folder {args.out!r}: a folder of that name exists")
    return str(args.device)


def _out_error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def run(main: Callable[[list[str]], Any], argv: list[str] | None = None) -> None:
    """Run an example's ``main`` as a program (``argv`` defaults to the command line's).

    Sizes too large for this machine (``--hidden-size 1000000``) run out of memory while the model
    or the data is allocated: a one-line error and exit 2, as for other unusable options, not a traceback.
    """
    try:
        main(sys.argv[1:] if argv is None else argv)
    except MemoryError as error:   # NumPy's "Unable to allocate 14.6 TiB for an array with shape ...", CuPy's too
        print(f"error: out of memory: {error or 'an allocation failed'}; choose smaller sizes (--hidden-size, "
              "--batch-size, ...)", file=sys.stderr)
        raise SystemExit(2) from None


def limit_blas_threads(threads: int) -> None:
    """Let NumPy's BLAS use at most ``threads`` threads for the rest of the program (threadpoolctl).

    Done at run time rather than by environment variables set before NumPy is
    imported, so importing an example has no side effect and ``--threads`` can
    change it.
    """
    try:
        from threadpoolctl import threadpool_limits  # noqa: PLC0415 - only programs that run, not importers
    except ImportError:  # pragma: no cover - threadpoolctl is in the examples extra
        print("note: threadpoolctl is not installed, so BLAS keeps its own thread count "
              "(pip install -e .[examples])", file=sys.stderr)
        return
    threadpool_limits(limits=threads, user_api="blas")


class ThreadTuner:
    """Times a training loop's steps to run them with the fastest BLAS thread count (``--threads auto``).

    Whether two threads beat one for an example's matrix products depends on the machine and, on a
    shared one, on the minute: on the 2-core CI VM two threads train the seq2seq demo ~1.3x faster
    most of the time and ~1.1x slower while the other core is taken by someone else (bench/RESULTS.md).
    So the choice is measured, and measured again: after ``warmup`` steps, a trial runs
    ``trial`` steps with each candidate count, taking turns, and the count with the lowest median
    time per unit of work (``work``: anything proportional to a step's cost, such as its tokens)
    runs the next ``period`` steps; then the next trial. Candidates are 1, 2, 4 … up to the cores
    this process may use; a given ``threads`` count (an int) fixes it and times nothing.

    Usage::

        tuner = common.ThreadTuner(args.threads)
        for batch in batches:
            with tuner(work=tokens_in(batch)):
                ...   # forward, backward, optimizer step
    """

    def __init__(self, threads: int | str, period: int = 100, trial: int = 4, warmup: int = 20) -> None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        if threads == "auto":
            self.candidates = [n for n in (1, 2, 4, 8, 16, 32, 64) if n <= cores]
        else:
            self.candidates = [int(threads)]
        self.period, self.trial, self.warmup = period, trial, warmup
        self.steps_with = dict.fromkeys(self.candidates, 0)   # steps run with each count, for the summary
        self._blas = None
        self._current: int | None = None
        self._step = 0
        self._times: dict[int, list[float]] = {}
        self._chosen = self.candidates[-1]
        self._work = 1.0
        self._start = 0.0

    @property
    def tuning(self) -> bool:
        return len(self.candidates) > 1

    def __call__(self, work: float = 1.0) -> ThreadTuner:
        self._work = max(float(work), 1e-12)
        self._use(self._count_for(self._step))
        return self

    def __enter__(self) -> ThreadTuner:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        elapsed = time.perf_counter() - self._start
        step, count = self._step, self._current
        self._step += 1
        self.steps_with[count] += 1
        if not self.tuning or step < self.warmup:
            return
        cycle, trial_steps = self.trial * len(self.candidates) + self.period, self.trial * len(self.candidates)
        position = (step - self.warmup) % cycle
        if position < trial_steps:
            self._times.setdefault(count, []).append(elapsed / self._work)
            if position == trial_steps - 1:   # the trial's last step: choose, and start afresh next time
                self._chosen = min(self._times, key=lambda n: statistics.median(self._times[n]))
                self._times = {}

    def _count_for(self, step: int) -> int:
        """The count step ``step`` runs with: the largest while warming up, in turn during a trial, else the chosen."""
        if not self.tuning:
            return self.candidates[0]
        if step < self.warmup:
            return self._chosen
        trial_steps = self.trial * len(self.candidates)
        position = (step - self.warmup) % (trial_steps + self.period)
        return self.candidates[position % len(self.candidates)] if position < trial_steps else self._chosen

    def _use(self, count: int) -> None:
        if count == self._current:
            return
        if self._blas is None:
            try:
                from threadpoolctl import ThreadpoolController  # noqa: PLC0415 - only programs that run
            except ImportError:  # pragma: no cover - threadpoolctl is in the examples extra
                self.candidates, self.steps_with = [count], {count: 0}
                self._current = count
                return
            self._blas = ThreadpoolController().select(user_api="blas")
        self._blas.limit(limits=count)
        self._current = count

    def summary(self) -> str:
        """E.g. ``"auto: 2 threads for 2,700 steps, 1 for 116"``, or ``"1"`` for a fixed count."""
        if not self.tuning:
            return str(self.candidates[0])
        ranked = sorted(self.steps_with.items(), key=lambda item: -item[1])
        return "auto: " + ", ".join(f"{n} thread{'s' if n > 1 else ''} for {k:,} steps" for n, k in ranked if k)


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
    """Seconds spent training, excluding evaluation and drawing.

    ``total`` is wall-clock time; ``cpu`` is this process's CPU time over the same spans, which
    stays honest on a machine whose cores other programs are using too.
    """

    def __init__(self) -> None:
        self.total = 0.0
        self.cpu = 0.0
        self._start: tuple[float, float] | None = None

    def __enter__(self) -> Stopwatch:
        self._start = (time.perf_counter(), time.process_time())
        return self

    def __exit__(self, *exc: object) -> None:
        if mg.cuda.is_available():
            mg.cuda.synchronize()
        wall, cpu = self._start or (time.perf_counter(), time.process_time())
        self.total += time.perf_counter() - wall
        self.cpu += time.process_time() - cpu


def save_checkpoint(model: nn.Module, out: str, name: str, config: dict | None = None) -> str:
    """Save ``model.state_dict()`` with ``nn.save`` as ``out/name.npz`` (config beside it as JSON).

    Weights holding nan or inf stop the program (exit 1) and write nothing.
    """
    path = os.path.join(out, f"{name}.npz")
    state = model.state_dict()
    broken = [key for key, value in state.items()
              if value.is_floating_point() and not bool(mg.isfinite(value).all().item())]
    if broken:   # a diverged model (check_loss stops most earlier): never replace a good checkpoint with it
        _diverged(f"training diverged: {name}'s weights {', '.join(broken[:3])}{' ...' if len(broken) > 3 else ''} "
                  "hold nan or inf", None, out)
    nn.save(state, path)
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
