"""Order-W Markov chains over words and over characters: counting, smoothing, bits per character, sampling.

The arithmetic behind ``examples/markov_text.py`` (the program), kept apart so tests can check it on
texts with known answers.

A character chain of order W predicts the next character from the W before it. Its probabilities are
counts, smoothed so that no character ever gets probability 0:

* ``add-k``:         p_W(c | h) = (n(h, c) + k_W) / (n(h) + k_W V)
* ``interpolated``:  p_W(c | h) = (n(h, c) + k_W V p_{W-1}(c | h')) / (n(h) + k_W V)

where h is the last W characters, h' the last W - 1, n(·) counts in the training text, V is the
vocabulary size and p_{-1}(c) = 1 / V. Add-k spreads the k_W pseudo-counts per character uniformly;
interpolation spreads them like the next-lower order does (a Dirichlet-prior form of interpolated
smoothing), so a context never seen falls back on a shorter one instead of on the uniform guess.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

import numpy as np

SMOOTHINGS = ("interpolated", "add-k")


def bits_per_char(probabilities: np.ndarray) -> float:
    """Mean of -log2 p over the probabilities (N,) a model gave to the characters that came."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.size == 0:
        raise ValueError("bits_per_char needs at least one probability")
    return float(-np.log2(probabilities).mean())


class CharChain:
    """Counts of every order 0..``order`` of a character sequence (ids (N,) in ``range(vocab_size)``).

    Counts are kept as sorted integer codes (context · V + next) so that looking up a whole held-out
    text is one ``searchsorted`` per order.
    """

    def __init__(self, ids: np.ndarray, vocab_size: int, order: int) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if order < 0:
            raise ValueError(f"CharChain: order must be at least 0, got {order}")
        if len(ids) < order + 1:
            raise ValueError(f"CharChain: a text of {len(ids)} characters is too short for order {order} "
                             f"(it needs at least {order + 1})")
        if float(vocab_size) ** (order + 1) >= 2.0**62:
            raise ValueError(f"CharChain: order {order} over {vocab_size} distinct characters does not fit "
                             "64-bit context codes; use a lower order")
        self.vocab_size, self.order = vocab_size, order
        self.pairs: list[tuple[np.ndarray, np.ndarray]] = []      # per order: sorted codes, their counts
        self.contexts: list[tuple[np.ndarray, np.ndarray]] = []
        for w in range(order + 1):
            context = self._codes(ids, w)[w:]
            self.contexts.append(np.unique(context, return_counts=True))
            self.pairs.append(np.unique(context * vocab_size + ids[w:], return_counts=True))

    def _codes(self, ids: np.ndarray, w: int) -> np.ndarray:
        """Code of the w characters before each position (N,); positions < w get a partial code."""
        code = np.zeros(len(ids), dtype=np.int64)
        for j in range(w, 0, -1):   # the oldest character is the most significant digit
            shifted = np.zeros(len(ids), dtype=np.int64)
            shifted[j:] = ids[:-j]
            code = code * self.vocab_size + shifted
        return code

    @staticmethod
    def _lookup(table: tuple[np.ndarray, np.ndarray], keys: np.ndarray) -> np.ndarray:
        codes, counts = table
        at = np.minimum(np.searchsorted(codes, keys), len(codes) - 1)
        return np.where(codes[at] == keys, counts[at], 0).astype(np.float64)

    def _smooth(self, w: int, context: np.ndarray, following: np.ndarray, lower: np.ndarray, k: float,
                smoothing: str) -> np.ndarray:
        """p_w(following | context) from the counts of order w, given p_{w-1} (``lower``) at the same places."""
        vocab = self.vocab_size
        pair = self._lookup(self.pairs[w], context * vocab + following)
        seen = self._lookup(self.contexts[w], context)
        prior = lower if smoothing == "interpolated" else 1.0 / vocab
        return (pair + k * vocab * prior) / (seen + k * vocab)

    def _check(self, order: int, ks: list[float], smoothing: str) -> None:
        if smoothing not in SMOOTHINGS:
            raise ValueError(f"unknown smoothing {smoothing!r}; choose one of {', '.join(SMOOTHINGS)}")
        if not 0 <= order <= self.order:
            raise ValueError(f"order {order} outside the counted orders 0..{self.order}")
        if len(ks) <= order or min(ks[: order + 1]) < 0:
            raise ValueError(f"need a pseudo-count k >= 0 for each order 0..{order}, got {ks}")

    def probabilities(self, ids: np.ndarray, order: int, ks: list[float], smoothing: str = "interpolated",
                      start: int = 1) -> np.ndarray:
        """p(ids[t] | the up to ``order`` characters before it) for t = start .. N-1: (N - start,).

        Only characters inside ``ids`` count as context, so position t uses order min(order, t).
        ``ks[w]`` is the pseudo-count per character of order w (``len(ks) > order``).
        """
        self._check(order, ks, smoothing)
        ids = np.asarray(ids, dtype=np.int64)
        position = np.arange(len(ids))
        lower = np.full(len(ids), 1.0 / self.vocab_size)
        result = lower
        for w in range(order + 1):
            lower = self._smooth(w, self._codes(ids, w), ids, lower, ks[w], smoothing)
            result = np.where(position >= w, lower, result)
        return result[start:]

    def distribution(self, context: list[int], order: int, ks: list[float],
                     smoothing: str = "interpolated") -> np.ndarray:
        """p(c | the last ``order`` ids of ``context``) for every character c: (V,); sums to 1."""
        self._check(order, ks, smoothing)
        order = min(order, len(context))
        candidates = np.arange(self.vocab_size)
        p = np.full(self.vocab_size, 1.0 / self.vocab_size)
        for w in range(order + 1):
            code = 0
            for i in context[len(context) - w :]:
                code = code * self.vocab_size + int(i)
            p = self._smooth(w, np.full(self.vocab_size, code, dtype=np.int64), candidates, p, ks[w], smoothing)
        return p / p.sum()   # sums to 1 up to rounding; renormalise the float error away


def choose_ks(chain: CharChain, held: np.ndarray, order: int, smoothing: str,
              grid: tuple[float, ...]) -> tuple[list[float], list[float]]:
    """Pick k_0, k_1, ... k_order from ``grid`` one order at a time on the validation ids ``held``.

    Order w's probabilities depend on k_0..k_w only, so choosing k_w with the lower ones fixed is
    exact coordinate descent, not a guess. Returns (ks, validation bits/char of each order).
    """
    ks: list[float] = []
    bits: list[float] = []
    for w in range(order + 1):
        scores = [bits_per_char(chain.probabilities(held, w, [*ks, k], smoothing)) for k in grid]
        best = int(np.argmin(scores))
        ks.append(grid[best])
        bits.append(scores[best])
    return ks, bits


def sample_chars(chain: CharChain, prime: list[int], length: int, order: int, ks: list[float], smoothing: str,
                 rng: np.random.Generator) -> list[int]:
    """``prime`` followed by ``length`` ids drawn one at a time from the chain."""
    out = list(prime)
    for _ in range(length):
        p = chain.distribution(out, order, ks, smoothing)
        out.append(int(rng.choice(len(p), p=p)))
    return out


# --- words -----------------------------------------------------------------------------------------

def tokenize(text: str) -> list[str]:
    """Words (letters, digits, apostrophes) and punctuation marks, in order."""
    return re.findall(r"[A-Za-z0-9']+|[^\sA-Za-z0-9']", text)


def detokenize(tokens: list[str]) -> str:
    """Tokens joined by spaces, without a space before punctuation."""
    text = " ".join(tokens)
    return re.sub(r" ([^\sA-Za-z0-9'])", r"\1", text)


class WordChain:
    """Order-W word chain: for every W-token context seen in training, the counts of the next token."""

    def __init__(self, tokens: list[str], order: int) -> None:
        if order < 1:
            raise ValueError(f"WordChain: order must be at least 1, got {order}")
        if len(tokens) < order + 1:
            raise ValueError(f"WordChain: {len(tokens)} tokens are too few for order {order} "
                             f"(it needs at least {order + 1})")
        self.order = order
        self.next: dict[tuple[str, ...], Counter] = defaultdict(Counter)
        for i in range(order, len(tokens)):
            self.next[tuple(tokens[i - order : i])][tokens[i]] += 1

    def probabilities(self, context: tuple[str, ...]) -> dict[str, float]:
        """p(next token | the last W tokens of ``context``); an unseen context gives {}."""
        counts = self.next.get(tuple(context[len(context) - self.order :]), Counter())
        total = sum(counts.values())
        return {token: n / total for token, n in counts.items()}

    def generate(self, context: list[str], length: int, rng: np.random.Generator) -> list[str]:
        """``length`` tokens drawn after ``context`` (a context with no successor restarts at a random one)."""
        out = list(context)
        contexts = list(self.next)
        for _ in range(length):
            p = self.probabilities(tuple(out))
            if not p:   # only the very last context of the training text has no successor
                p = self.probabilities(contexts[int(rng.integers(len(contexts)))])
            tokens = list(p)
            out.append(tokens[int(rng.choice(len(tokens), p=np.array([p[t] for t in tokens])))])
        return out[len(context) :]


def seed_context(tokens: list[str], word: str, order: int, rng: np.random.Generator) -> list[str]:
    """The ``order`` tokens starting at a random occurrence of ``word`` in ``tokens``."""
    places = [i for i, token in enumerate(tokens[: len(tokens) - order]) if token == word]
    if not places:
        raise KeyError(word)
    start = places[int(rng.integers(len(places)))]
    return tokens[start : start + order]


def verbatim_runs(generated: list[str], corpus: str) -> list[int]:
    """For each position i, the length of the longest run generated[i:j] found verbatim in ``corpus``.

    ``corpus`` is the training tokens joined by single spaces. Two pointers: if generated[i:j] occurs,
    so does generated[i+1:j], so j never moves back and there are O(len) substring searches.
    """
    padded = f" {corpus} "
    runs, j = [], 0
    for i in range(len(generated)):
        j = max(j, i)
        while j < len(generated) and f" {' '.join(generated[i : j + 1])} " in padded:
            j += 1
        runs.append(j - i)
    return runs


def copied_share(generated: list[str], corpus: str, span: int) -> tuple[float, int]:
    """(share of generated tokens inside a verbatim run of at least ``span`` tokens, longest run)."""
    runs = verbatim_runs(generated, corpus)
    copied = np.zeros(len(generated), dtype=bool)
    for i, run in enumerate(runs):
        if run >= span:
            copied[i : i + run] = True
    return (float(copied.mean()) if len(generated) else 0.0), max(runs, default=0)


if __name__ == "__main__":
    raise SystemExit("examples.markov_chains is a library; its program: python -m examples.markov_text --help")
