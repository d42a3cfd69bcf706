"""Order-W Markov chains over words and characters: the fixed-window baseline for examples.char_rnn.

Fits the chains by counting on the training part of the text char_rnn uses (the same split: the
last --val-fraction is held out). Words: generates --words words for each W in --word-orders from a
seed taken from the text, and reports how much of it is copied verbatim from the training text.
Characters: held-out bits per character for W = 1 .. --max-order, with add-k or interpolated
smoothing whose pseudo-count k is chosen on a validation slice of the training part, next to
char_rnn's held-out bits per character when runs/char_rnn/summary.json holds a run on the same text.
Counting runs in NumPy on the host (--device is accepted for uniformity and recorded).

    python -m examples.markov_text                          # the ~1 MB King James text, W = 1..8
    python -m examples.markov_text --text small --start We  # the small shipped text
    python -m examples.markov_text --smoothing add-k --word-orders 1 2 3 4
"""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter

import numpy as np

from examples import common
from examples.char_rnn import Text, split_point
from examples.markov_chains import (
    SMOOTHINGS,
    CharChain,
    WordChain,
    bits_per_char,
    choose_ks,
    copied_share,
    detokenize,
    sample_chars,
    seed_context,
    tokenize,
)

K_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)


def build_parser() -> argparse.ArgumentParser:
    parser = common.parser("markov_text", __doc__, epochs=None)
    add = parser.add_argument
    add("--text", type=common.text_file, default="kjv",
        help="kjv (~1 MB, the default of char_rnn), small (~17 KB) or the path of a UTF-8 text file")
    add("--max-chars", type=common.nonnegative_int, default=0, help="use only the first N characters (0: all)")
    add("--val-fraction", type=common.fraction, default=0.1, help="held-out share at the end (as char_rnn)")
    add("--k-fraction", type=common.fraction, default=0.1,
        help="share at the end of the training part used to choose the smoothing k")
    add("--max-order", type=common.positive_int, default=8, help="character chains of order W = 1 .. this")
    add("--smoothing", choices=SMOOTHINGS, default="interpolated",
        help="add-k: pseudo-counts spread uniformly; interpolated: spread like the next-lower order")
    add("--word-orders", nargs="+", type=common.positive_int, default=[1, 2, 3], help="orders W of the word chains")
    add("--words", type=common.positive_int, default=30, help="words generated per word chain")
    add("--start", default="the", help="seed word: generation starts at a random place in the text where it occurs")
    add("--copy-span", type=common.positive_int, default=8,
        help="a generated run of this many tokens found verbatim in the training text counts as copied")
    add("--sample-length", type=common.positive_int, default=300, help="characters sampled from the best chain")
    add("--rnn-summary", default=os.path.join("runs", "char_rnn", "summary.json"),
        help="char_rnn's summary.json to put beside the table (used if it is a run on the same text and split)")
    return parser


def load(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[Text, list[str]]:
    """The text and its training tokens; every bad input is a usage error before anything is written."""
    raw = common.read_text(parser, args.text)
    if args.max_chars and args.max_chars >= len(raw):
        parser.error(f"--max-chars {args.max_chars:,} has no effect on --text {args.text}: it has only "
                     f"{len(raw):,} characters (leave out --max-chars, or give fewer)")
    if args.max_chars:
        raw = raw[: args.max_chars]
    text = Text(raw)
    split = split_point(len(text.ids), args.val_fraction)
    fit = split_point(split, args.k_fraction)
    shortest = min(fit, split - fit, len(text.ids) - split)
    if shortest < args.max_order + 1:
        parser.error(f"--text {args.text} ({len(raw):,} characters) is too short for --max-order {args.max_order}: "
                     f"each of its three parts (fit, choose k, held out) needs at least {args.max_order + 1} "
                     f"characters, the shortest has {shortest}")
    if float(len(text.vocab)) ** (args.max_order + 1) >= 2.0**62:   # CharChain's context codes are 64-bit
        parser.error(f"--max-order {args.max_order} is too high for the {len(text.vocab)} distinct characters of "
                     f"--text {args.text}: {len(text.vocab)}^{args.max_order + 1} contexts do not fit 64-bit codes")
    train_tokens = tokenize(raw[:split])
    if len(train_tokens) < max(args.word_orders) + 1:
        parser.error(f"the training part of --text {args.text} has {len(train_tokens)} words, too few for "
                     f"--word-orders up to {max(args.word_orders)} (it needs at least {max(args.word_orders) + 1})")
    usable = Counter(train_tokens[: len(train_tokens) - max(args.word_orders)])
    if args.start not in usable:
        known = ", ".join(word for word, _ in usable.most_common(20))
        parser.error(f"--start {args.start!r} does not occur in the training part of the text; "
                     f"known words include: {known}")
    return text, train_tokens


def rnn_bits(path: str, args: argparse.Namespace) -> float | None:
    """char_rnn's held-out bits/char from its summary.json, if that run used the same text and split."""
    try:
        with open(path) as f:
            summary = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(summary, dict) or not isinstance(summary.get("val_bpc"), (int, float)):
        return None   # not a char_rnn summary (or its run diverged: null)
    same = (os.path.abspath(str(summary.get("text", ""))) == os.path.abspath(args.text)
            and summary.get("val_fraction") == args.val_fraction and summary.get("max_chars", 0) == args.max_chars)
    return float(summary["val_bpc"]) if same else None


def plot(path: str, orders: list[int], validation: list[float], held_out: list[float], unigram: float,
         rnn: float | None, smoothing: str) -> None:
    import matplotlib  # noqa: PLC0415 - only for the picture

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.plot(orders, held_out, "o-", label=f"order-W chain, held out ({smoothing})")
    ax.plot(orders, validation, "s--", alpha=0.6, label="order-W chain, k-choice slice")
    ax.axhline(unigram, color="grey", linestyle=":", label=f"character frequencies ({unigram:.2f})")
    if rnn is not None:
        ax.axhline(rnn, color="C3", label=f"char_rnn, held out ({rnn:.2f})")
    ax.set_xlabel("order W (characters of context)")
    ax.set_ylabel("bits per character")
    ax.set_title("A fixed window stops improving; the RNN's state does not" if rnn is not None
                 else "Order-W character chains: held-out bits per character")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.word_orders = common.distinct(args.word_orders)
    longest = max(args.word_orders) + args.words   # a word chain's text: its seed context and the words generated
    if args.copy_span > longest:
        parser.error(f"--copy-span {args.copy_span} has no effect with --words {args.words} and --word-orders up to "
                     f"{max(args.word_orders)}: no text is that long ({longest} tokens), so nothing could count as "
                     "copied")
    text, train_tokens = load(parser, args)
    device = common.setup(args, files=["markov_text.json", "markov_text.png"])
    rng = np.random.default_rng(args.seed)
    stopwatch = common.Stopwatch()

    # words: the course's demonstration that order 1 generates nothing meaningful and order 3 copies
    corpus = " ".join(train_tokens)
    word_results = {}
    common.log(f"word chains on {len(train_tokens):,} training tokens, seed word {args.start!r}:")
    for order in args.word_orders:
        with stopwatch:
            chain = WordChain(train_tokens, order)
            context = seed_context(train_tokens, args.start, order, rng)
            generated = chain.generate(context, args.words, rng)
        share, longest = copied_share(context + generated, corpus, args.copy_span)
        word_results[order] = {"text": detokenize(context + generated), "copied_share": share,
                               "longest_copy": longest, "contexts": len(chain.next)}
        common.log(f"  W={order} ({len(chain.next):,} contexts; {share:.0%} of tokens in verbatim runs of "
                   f"≥{args.copy_span}, longest {longest}):\n    {word_results[order]['text']}")

    # characters: held-out bits per character for W = 1..max_order
    split = split_point(len(text.ids), args.val_fraction)
    fit = split_point(split, args.k_fraction)
    train, held_out = text.ids[:split], text.ids[split:]
    vocab = len(text.vocab)
    with stopwatch:
        ks, validation = choose_ks(CharChain(train[:fit], vocab, args.max_order), train[fit:], args.max_order,
                                   args.smoothing, K_GRID)
        chain = CharChain(train, vocab, args.max_order)   # refit on the whole training part with the chosen k
    bits = []
    for order in common.progress(range(args.max_order + 1), args, desc="held-out bits/char", unit="order"):
        with stopwatch:
            bits.append(bits_per_char(chain.probabilities(held_out, order, ks, args.smoothing)))
    orders = list(range(1, args.max_order + 1))
    best = orders[int(np.argmin(bits[1:]))]
    rnn = rnn_bits(args.rnn_summary, args)
    common.log(f"\ncharacter chains ({args.smoothing} smoothing, k chosen on {len(train) - fit:,} characters; "
               f"{len(held_out):,} held-out characters, {vocab} distinct):")
    common.log("   W        k   k-slice bpc   held-out bpc")
    common.log(f"   0 {ks[0]:8g}   {validation[0]:11.3f}   {bits[0]:12.3f}   (character frequencies)")
    for w in orders:
        mark = "   ← best" if w == best else ""
        common.log(f"  {w:2d} {ks[w]:8g}   {validation[w]:11.3f}   {bits[w]:12.3f}{mark}")
    common.log(" char_rnn (its defaults, same split): "
               + (f"{rnn:.3f}" if rnn is not None else f"not found at {args.rnn_summary} for this text and split"))

    prime = text.ids[split : split + best]
    with stopwatch:
        sampled = text.decode(sample_chars(chain, list(prime), args.sample_length, best, ks, args.smoothing, rng))
    common.log(f"\nsample of the order-{best} character chain (from the held-out text's first {best} characters):"
               f"\n{sampled}\n")
    picture = os.path.join(args.out, "markov_text.png")
    plot(picture, orders, validation[1:], bits[1:], bits[0], rnn, args.smoothing)
    table = {"orders": [0, *orders], "k": ks, "k_slice_bpc": validation, "held_out_bpc": bits}
    checkpoint = os.path.join(args.out, "markov_text.json")   # the fitted smoothing and the table
    with open(checkpoint, "w") as f:
        json.dump(common._jsonable({**vars(args), **table, "words": word_results}), f, indent=2)
    common.log(f"picture: {picture}\nsmoothing and table: {checkpoint}")
    return common.finish(
        args, example="markov_text", device=device, epochs=1, train_seconds=stopwatch.total,
        val_bpc=bits[best], best_order=best, unigram_bpc=bits[0], char_rnn_bpc=rnn, smoothing=args.smoothing,
        held_out_bpc={str(w): bits[w] for w in orders}, k={str(w): ks[w] for w in [0, *orders]},
        copied_share={str(w): r["copied_share"] for w, r in word_results.items()},
        word_samples={str(w): r["text"] for w, r in word_results.items()}, sample=sampled, picture=picture,
    )


if __name__ == "__main__":
    common.run(main)
