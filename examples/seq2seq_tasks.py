"""The generated sequence-to-sequence tasks of ``examples.seq2seq`` (nothing is downloaded).

* ``addition``: ``"16+75"`` → ``"91"``; each operand has 1 to 3 digits.
* ``dates``: a date in one of many human formats (``"Tuesday, September 25,
  1984"``, ``"9/25/84"``, ``"25.09.1984"`` …) → ISO ``"1984-09-25"``.
* ``reverse``: a random lower-case string → the same string reversed.

Every task is a list of distinct ``(source, target)`` string pairs drawn with a
fixed seed, so the held-out questions never appear in the training set. Text is
turned into integer ids by a character :class:`Vocab` whose first three ids are
the special tokens ``<pad>``, ``<go>`` (the decoder's first input) and
``<eos>``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

PAD, GO, EOS = "<pad>", "<go>", "<eos>"
SPECIALS = (PAD, GO, EOS)
PAD_ID, GO_ID, EOS_ID = 0, 1, 2


class Vocab:
    """Characters ↔ integer ids; ids 0, 1, 2 are ``<pad>``, ``<go>``, ``<eos>``."""

    def __init__(self, characters: str) -> None:
        chars = sorted(set(characters))
        self.tokens = list(SPECIALS) + chars
        self.index = {token: i for i, token in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str) -> list[int]:
        try:
            return [self.index[ch] for ch in text]
        except KeyError as error:
            raise ValueError(f"Vocab.encode: character {error.args[0]!r} of {text!r} is not in the vocabulary") \
                from None

    def decode(self, ids: Any) -> str:
        """Text up to the first ``<eos>``; ``<pad>`` and ``<go>`` are skipped."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS_ID:
                break
            if i > EOS_ID:
                out.append(self.tokens[i])
        return "".join(out)


# --- the tasks --------------------------------------------------------------

def _distinct(draw: Callable[[np.random.Generator], tuple[str, str]], n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` distinct pairs from ``draw`` (rejecting repeats), in draw order."""
    rng = np.random.default_rng(seed)
    seen: set[str] = set()
    pairs = []
    attempts = 0
    while len(pairs) < n:
        attempts += 1
        if attempts > 20 * n + 1000:
            raise ValueError(f"could only draw {len(pairs)} distinct pairs of the {n} asked for")
        source, target = draw(rng)
        if source not in seen:
            seen.add(source)
            pairs.append((source, target))
    return pairs


def _operand(rng: np.random.Generator, max_digits: int) -> int:
    digits = int(rng.integers(1, max_digits + 1))
    low = 0 if digits == 1 else 10 ** (digits - 1)
    return int(rng.integers(low, 10**digits))


def addition_pairs(n: int = 50_000, seed: int = 1234, max_digits: int = 3) -> list[tuple[str, str]]:
    """``"16+75"`` → ``"91"``: operands with a uniformly drawn number of digits (1 … max_digits)."""
    def draw(rng: np.random.Generator) -> tuple[str, str]:
        a, b = _operand(rng, max_digits), _operand(rng, max_digits)
        return f"{a}+{b}", str(a + b)
    return _distinct(draw, n, seed)


MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _date_formats() -> list[Callable[[datetime.date], str]]:
    """Human spellings of a date; none is ambiguous (two-digit years ≥ 50 are 19xx)."""
    def month(d: datetime.date) -> str:
        return MONTHS[d.month - 1]

    def mon(d: datetime.date) -> str:
        return MONTHS[d.month - 1][:3]

    def day(d: datetime.date) -> str:
        return WEEKDAYS[d.weekday()]

    return [
        lambda d: f"{month(d)} {d.day}, {d.year}",                  # September 25, 1984
        lambda d: f"{month(d).lower()} {d.day}, {d.year}",          # september 25, 1984
        lambda d: f"{month(d).upper()} {d.day}, {d.year}",          # SEPTEMBER 25, 1984
        lambda d: f"{mon(d)} {d.day}, {d.year}",                    # Sep 25, 1984
        lambda d: f"{mon(d).upper()} {d.day:02d} {d.year}",         # SEP 25 1984
        lambda d: f"{day(d)}, {month(d)} {d.day}, {d.year}",        # Tuesday, September 25, 1984
        lambda d: f"{day(d).upper()}, {month(d).upper()} {d.day}, {d.year}",
        lambda d: f"{day(d)[:3]} {d.day} {mon(d)} {d.year}",        # Tue 25 Sep 1984
        lambda d: f"{d.day} {month(d)} {d.year}",                   # 25 September 1984
        lambda d: f"{d.day:02d}-{mon(d).lower()}-{d.year}",         # 25-sep-1984
        lambda d: f"{d.month}/{d.day}/{d.year % 100:02d}",          # 9/25/84
        lambda d: f"{d.month:02d}/{d.day:02d}/{d.year}",            # 09/25/1984
        lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}",            # 25.09.1984
        lambda d: f"{d.year}/{d.month}/{d.day}",                    # 1984/9/25
        lambda d: f"{d.year}{d.month:02d}{d.day:02d}",              # 19840925
    ]


DATE_FIRST = datetime.date(1950, 1, 1)
DATE_LAST = datetime.date(2049, 12, 31)


def dates_pairs(n: int = 50_000, seed: int = 1234) -> list[tuple[str, str]]:
    """A date between 1950 and 2049 in a random human format → ``YYYY-MM-DD``."""
    formats = _date_formats()
    span = (DATE_LAST - DATE_FIRST).days + 1

    def draw(rng: np.random.Generator) -> tuple[str, str]:
        date = DATE_FIRST + datetime.timedelta(days=int(rng.integers(span)))
        spelling = formats[int(rng.integers(len(formats)))](date)
        return spelling, date.isoformat()
    return _distinct(draw, n, seed)


LETTERS = "abcdefghijklmnopqrstuvwxyz"


def reverse_pairs(n: int = 50_000, seed: int = 1234, min_length: int = 4, max_length: int = 12,
                  alphabet: str = LETTERS) -> list[tuple[str, str]]:
    """A random string of ``min_length`` … ``max_length`` letters → the string reversed."""
    letters = np.array(list(alphabet))

    def draw(rng: np.random.Generator) -> tuple[str, str]:
        length = int(rng.integers(min_length, max_length + 1))
        text = "".join(letters[rng.integers(len(letters), size=length)])
        return text, text[::-1]
    return _distinct(draw, n, seed)


# Each task: its pair generator and the fixed character sets of its two sides
# (fixed, so the vocabulary never depends on which pairs were drawn).
_DATE_CHARS = "".join(MONTHS) + "".join(MONTHS).upper() + "".join(WEEKDAYS) + "".join(WEEKDAYS).upper()
TASKS: dict[str, tuple[Callable[..., list[tuple[str, str]]], str, str]] = {
    "addition": (addition_pairs, "0123456789+", "0123456789"),
    "dates": (dates_pairs, _DATE_CHARS.lower() + _DATE_CHARS + "0123456789 ,./-", "0123456789-"),
    "reverse": (reverse_pairs, LETTERS, LETTERS),
}


@dataclass
class EncodedPairs:
    """Padded id arrays for a list of pairs.

    source: (N, S) int64, each row's ids then ``<pad>`` (reversed when asked);
    source_lengths: (N,) int64; target: (N, T) int64, each row's ids, ``<eos>``,
    then ``<pad>``; text: the original ``(source, target)`` strings.
    """

    source: np.ndarray
    source_lengths: np.ndarray
    target: np.ndarray
    text: list[tuple[str, str]]

    def __len__(self) -> int:
        return len(self.text)


def encode_pairs(pairs: list[tuple[str, str]], source_vocab: Vocab, target_vocab: Vocab,
                 reverse_source: bool = False) -> EncodedPairs:
    """Turn string pairs into padded id arrays (``reverse_source``: read the source backwards)."""
    sources = [source_vocab.encode(s[::-1] if reverse_source else s) for s, _ in pairs]
    targets = [target_vocab.encode(t) + [EOS_ID] for _, t in pairs]
    source = np.full((len(pairs), max(map(len, sources))), PAD_ID, dtype=np.int64)
    target = np.full((len(pairs), max(map(len, targets))), PAD_ID, dtype=np.int64)
    for i, (s, t) in enumerate(zip(sources, targets)):
        source[i, : len(s)] = s
        target[i, : len(t)] = t
    lengths = np.array([len(s) for s in sources], dtype=np.int64)
    return EncodedPairs(source, lengths, target, list(pairs))


@dataclass
class TaskData:
    name: str
    source_vocab: Vocab
    target_vocab: Vocab
    train: EncodedPairs
    val: EncodedPairs


def max_pairs(name: str) -> int:
    """The most pairs task ``name`` may be asked for: 90% of its distinct sources, so that drawing
    them without repeats ends quickly (near all of them, ``_distinct`` rejects almost every draw)."""
    sources = {
        "addition": (10**3) ** 2,                                                       # operands 0 … 999
        "dates": ((DATE_LAST - DATE_FIRST).days + 1) * len(_date_formats()),            # days × spellings
        "reverse": sum(len(LETTERS) ** k for k in range(4, 13)),                        # 4 … 12 letters
    }
    return int(0.9 * sources[name])


def held_out_count(n: int, val_fraction: float) -> int:
    """How many of ``n`` pairs :func:`load_task` holds out for validation: at least 1."""
    return max(1, int(round(n * val_fraction)))


def load_task(name: str, n: int = 50_000, val_fraction: float = 0.1, seed: int = 1234,
              reverse_source: bool = False) -> TaskData:
    """Generate task ``name`` (``n`` distinct pairs) and hold out ``val_fraction`` of it."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of {sorted(TASKS)}")
    make, source_chars, target_chars = TASKS[name]
    pairs = make(n=n, seed=seed)
    n_val = held_out_count(n, val_fraction)
    if n_val >= n:
        raise ValueError(f"load_task: {n} pairs leave nothing to train on after holding out {n_val}")
    source_vocab, target_vocab = Vocab(source_chars), Vocab(target_chars)

    def encode(part: list[tuple[str, str]]) -> EncodedPairs:
        return encode_pairs(part, source_vocab, target_vocab, reverse_source)

    return TaskData(name, source_vocab, target_vocab, encode(pairs[n_val:]), encode(pairs[:n_val]))
