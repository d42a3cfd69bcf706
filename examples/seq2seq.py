"""Encoder–decoder (seq2seq) on generated tasks: addition, date normalisation, string reversal.

An LSTM (or GRU) encoder reads the source; its final state starts the decoder,
which is trained with teacher forcing and decodes greedily (or with a beam)
until <eos>. Options: --reverse-source (Sutskever et al. 2014), --peeky (the
encoder's summary is fed to every decoder step), --attention (Bahdanau
additive attention), a bidirectional encoder, several layers. Sources of
different length share a batch through the recurrent layer's ``lengths``
(--no-packed instead pads every source to one width and lets the encoder read
the padding, as a plain NumPy implementation does).

    python -m examples.seq2seq                                   # the demo: addition, reversed + peeky
    python -m examples.seq2seq --no-reverse-source --no-peeky    # the plain encoder-decoder
    python -m examples.seq2seq --task dates --attention --hidden-size 256

Each epoch prints the held-out exact-match accuracy and a few decoded
examples. At the end the checkpoint (``nn.save``), the unrolled graph of one
batch collapsed to time steps (``mg.viz``), and with --attention an attention
heat map are written to --out; the last line of stdout is a JSON summary.
BLAS threads default to ``--threads auto``: the training loop times its steps
with each thread count in short trials and runs the fastest
(``common.ThreadTuner``).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import sys
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

import minigrad as mg
from examples import common
from examples.seq2seq_model import RECURRENT, PeekyDecoder, Seq2Seq, scaled_normal_init
from examples.seq2seq_tasks import GO_ID, PAD_ID, EncodedPairs, TaskData, held_out_count, load_task, max_pairs
from minigrad import nn

F = nn.functional


def keep_freed_memory() -> None:
    """Let glibc's malloc keep freed blocks of up to 32 MB for reuse (Linux; elsewhere nothing).

    A training step allocates and frees the same temporaries every time: the
    gates of a whole sequence, gradients, Adam's buffers (0.25-1.5 MB each).
    By default glibc hands blocks that large back to the kernel (mmap above its
    threshold, heap trimmed past 128 KB), so the next step page-faults them in
    again, zero-filled: ~700 minor page faults per step, about a sixth of the
    demo's step time (bench/RESULTS.md). Raising both thresholds keeps them.
    """
    if sys.platform != "linux":
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):   # not glibc
        return
    m_trim_threshold, m_mmap_threshold = -1, -3   # glibc's <malloc.h>
    mallopt(m_mmap_threshold, 32 << 20)
    mallopt(m_trim_threshold, 256 << 20)


# --- data → tensors ---------------------------------------------------------

@dataclass
class Batch:
    source: mg.Tensor        # (S, B) ids
    lengths: Any             # (B,) ints, or None when every row fills S
    inputs: mg.Tensor        # (T, B) decoder inputs: <go>, y_1, …
    targets: mg.Tensor       # (T, B) y_1, …, <eos>, <pad>…
    index: np.ndarray


def make_batch(data: EncodedPairs, index: np.ndarray, device: str, padding: str = "packed") -> Batch:
    """Rows ``index`` as tensors. ``padding``: "packed" — the batch is cut to its longest source and
    the encoder gets ``lengths``, so each row's final state is at its last real character; "after" /
    "before" — every source is a fixed-width field with <pad> after (or before) the characters, all
    of which the encoder reads (as in a plain NumPy implementation that pads text to one width)."""
    lengths = data.source_lengths[index]
    if padding == "packed":
        width = int(lengths.max())
        source = data.source[index, :width].T
    else:
        width = data.source.shape[1]
        columns = np.arange(width)[None, :]
        if padding == "before":   # rotate each row so that its padding comes first
            columns = (columns - (width - lengths)[:, None]) % width
        source = data.source[index[:, None], columns].T
        lengths = np.full_like(lengths, width)
    targets = data.target[index].T
    inputs = np.concatenate([np.full((1, len(index)), GO_ID, dtype=np.int64), targets[:-1]], axis=0)
    return Batch(mg.tensor(source, device=device), None if (lengths == width).all() else lengths.tolist(),
                 mg.tensor(inputs, device=device), mg.tensor(targets, device=device), index)


def training_forward(model: Seq2Seq, args: argparse.Namespace) -> Callable[..., mg.Tensor]:
    """``model(source, lengths, inputs, teacher_forcing)`` for training; with ``--compile``, through ``mg.compile``.

    The first batch of each shape is recorded and later ones replay it as one graph node (same
    values and gradients). Only where a replay is exact: with full teacher forcing (scheduled
    sampling feeds back guesses read on the host) and without attention (its padding mask is read
    on the host), and only for batches whose sources share one length: ``lengths`` is part of a
    capture's signature, so the few mixed batches (~7 %) would each be captured anew; they run
    eagerly. Also only for the ``PeekyDecoder``: a one-layer ``nn.LSTM``/``nn.GRU`` given a state
    unbinds it into a single tensor, which ``mg.compile`` cannot replay yet (reported).
    """
    replayable = args.teacher_forcing == 1.0 and not args.attention and isinstance(model.decoder, PeekyDecoder)
    if not (args.compile and replayable):
        return model
    compiled = mg.compile(lambda source, inputs: model(source, None, inputs))

    def forward(source: mg.Tensor, lengths: Any, inputs: mg.Tensor, teacher_forcing: float) -> mg.Tensor:
        if lengths is None:
            return compiled(source, inputs)
        return model(source, lengths, inputs, teacher_forcing)
    return forward


def padding_of(args: argparse.Namespace) -> str:
    """The source layout asked for on the command line (see ``make_batch``)."""
    if args.packed:
        return "packed"
    return "before" if args.reverse_source else "after"


def bucketed(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of similar source length (less padding to step through)."""
    order = rng.permutation(len(lengths))
    pool = batch_size * 50
    batches = []
    for start in range(0, len(order), pool):
        chunk = order[start : start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def sequence_loss(logits: mg.Tensor, targets: mg.Tensor) -> mg.Tensor:
    """Mean cross-entropy over the non-padding target tokens. logits (T, B, V), targets (T, B)."""
    vocab = logits.shape[-1]
    return F.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1), ignore_index=PAD_ID)


def evaluate(model: Seq2Seq, data: TaskData, device: str, batch_size: int = 1000, beam_width: int = 1,
             limit: int | None = None, padding: str = "packed") -> tuple[float, list[str]]:
    """Exact-match accuracy of the decoded held-out targets, and the decoded strings."""
    model.eval()
    split = data.val
    n = len(split) if limit is None else min(limit, len(split))
    max_length = split.target.shape[1] + 2
    guesses = []
    for index in common.batches(n, batch_size):
        batch = make_batch(split, index, device, padding)
        if beam_width > 1:
            ids = model.beam_search(batch.source, batch.lengths, max_length, beam_width)
        else:
            ids, _ = model.greedy(batch.source, batch.lengths, max_length)
        guesses += [data.target_vocab.decode(row) for row in ids]
    model.train()
    correct = sum(guess == target for guess, (_, target) in zip(guesses, split.text))
    return correct / n, guesses


# --- pictures ---------------------------------------------------------------

def render_graph(model: Seq2Seq, data: TaskData, args: argparse.Namespace, device: str) -> str | None:
    """Draw the unrolled graph of a 4-example batch, one box per time step, with gradient norms."""
    batch = make_batch(data.val, np.arange(min(4, len(data.val))), device, padding_of(args))
    loss = sequence_loss(model(batch.source, batch.lengths, batch.inputs), batch.targets)
    loss.backward(retain_graph=True)
    model.zero_grad()
    path = os.path.join(args.out, "graph")
    fmt = "svg"
    if shutil.which("dot") is None:
        fmt = "dot"
        common.log("note: Graphviz 'dot' is not installed, so the graph is saved as DOT text "
                   "(apt-get install graphviz, then: dot -Tsvg graph.dot -o graph.svg)")
    return mg.viz.render(loss, path=path, format=fmt, collapse="steps", show_grads=True)


def plot_attention(model: Seq2Seq, data: TaskData, args: argparse.Namespace, device: str) -> str:
    """Heat map of the attention weights for the longest of the first 50 held-out sources (PNG)."""
    import matplotlib  # noqa: PLC0415 - only needed with --attention

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    pick = int(np.argmax(data.val.source_lengths[:50]))
    batch = make_batch(data.val, np.array([pick]), device, padding_of(args))
    model.eval()
    ids, weights = model.greedy(batch.source, batch.lengths, data.val.target.shape[1] + 2)
    model.train()
    output = data.target_vocab.decode(ids[0])
    source_tokens = [data.source_vocab.tokens[i] for i in batch.source.numpy()[:, 0]]
    rows = len(output) + 1  # the characters and <eos>
    fig, ax = plt.subplots(figsize=(max(4.0, 0.35 * len(source_tokens) + 1.5), max(3.0, 0.35 * rows + 1.5)))
    image = ax.imshow(weights[0, :rows, : len(source_tokens)], cmap="viridis", aspect="auto", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, label="attention weight")
    ax.set_xticks(range(len(source_tokens)), source_tokens)
    ax.set_yticks(range(rows), [*output, "<eos>"])
    ax.set_xlabel("source (as the encoder reads it)")
    ax.set_ylabel("decoded output")
    ax.set_title(f"attention: {data.val.text[pick][0]!r} → {output!r}")
    fig.tight_layout()
    path = os.path.join(args.out, "attention.png")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# --- the program ------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = common.parser("seq2seq", __doc__, epochs=8, tuned_threads=True)
    add = parser.add_argument
    add("--task", choices=["addition", "dates", "reverse"], default="addition", help="the generated task")
    add("--pairs", type=common.positive_int, default=50_000, help="distinct (source, target) pairs to generate")
    add("--val-fraction", type=common.fraction, default=0.1, help="share of the pairs held out for accuracy")
    add("--data-seed", type=common.nonnegative_int, default=1234,
        help="seed of the generated data (fixed: the same pairs every run)")
    add("--cell", choices=sorted(RECURRENT), default="lstm", help="recurrent cell of encoder and decoder")
    add("--embedding-size", type=common.positive_int, default=16)
    add("--hidden-size", type=common.positive_int, default=128)
    add("--num-layers", type=common.positive_int, default=1)
    add("--dropout", type=common.dropout_rate, default=0.0, help="between stacked recurrent layers")
    add("--fused", action="store_true",
        help="compute each step's gate nonlinearities in one fused op (the graph shows one node per step)")
    add("--compile", action=argparse.BooleanOptionalAction, default=True,
        help="replay the training forward pass with mg.compile (same numbers, less bookkeeping): with the one-layer "
             "peeky decoder and --teacher-forcing 1 only, not with --attention (see training_forward)")
    add("--bidirectional", action="store_true", help="bidirectional encoder (its two final states are bridged)")
    add("--reverse-source", action=argparse.BooleanOptionalAction, default=True,
        help="feed the source backwards (Sutskever et al. 2014)")
    add("--peeky", action=argparse.BooleanOptionalAction, default=True,
        help="feed the encoder's summary to every decoder step and to the output layer (off with --attention)")
    add("--attention", action="store_true",
        help="Bahdanau additive attention over the encoder outputs (instead of --peeky)")
    add("--attention-size", type=common.positive_int, default=64,
        help="width of the attention's tanh layer (with --attention)")
    add("--packed", action=argparse.BooleanOptionalAction, default=True,
        help="give the encoder each source's length, so it stops at its last character; with --no-packed it "
             "reads fixed-width sources with their padding (after them, or before them when reversed)")
    add("--teacher-forcing", type=common.probability, default=1.0,
        help="probability of feeding the true previous token")
    add("--init", choices=["pytorch", "scaled-normal"], default="pytorch",
        help="PyTorch's default initialisation, or that of the NumPy reference implementation (scaled_normal_init)")
    add("--batch-size", type=common.positive_int, default=128)
    add("--lr", type=common.positive_float, default=3e-3, help="Adam learning rate (at the start, see --lr-schedule)")
    add("--lr-schedule", choices=["constant", "cosine"], default="cosine",
        help="keep the learning rate, or lower it along a cosine to 5%% of --lr by the last batch")
    add("--clip", type=common.nonnegative_float, default=5.0, help="clip the gradient norm to this (0: off)")
    add("--beam-width", type=common.positive_int, default=1, help="beam search width for evaluation (1: greedy)")
    add("--examples", type=common.nonnegative_int, default=3, help="decoded held-out examples shown per epoch")
    add("--no-graph", action="store_true", help="skip drawing the unrolled graph")
    return parser


def check_combinations(parser: argparse.ArgumentParser, args: argparse.Namespace, given: set[str]) -> None:
    """Options given on the command line that the others make pointless: usage errors (see common.reject)."""
    common.reject(parser, given, "--peeky", args.attention and args.peeky,
                  "with --attention: the attention decoder reads every encoder output instead (leave out --peeky)")
    common.reject(parser, given, "--attention-size", not args.attention, "without --attention")
    if args.compile:
        why = [reason for reason, applies in [
            ("--attention", args.attention), (f"--teacher-forcing {args.teacher_forcing:g}", args.teacher_forcing < 1),
            ("--no-peeky", not args.peeky), (f"--num-layers {args.num_layers}", args.num_layers > 1)] if applies]
        common.reject(parser, given, "--compile", bool(why),
                      f"with {' and '.join(why)}: only the one-layer peeky decoder with --teacher-forcing 1 is "
                      "replayed (see training_forward); leave out --compile")


def main(argv: list[str] | None = None) -> dict:
    parser = build_parser()
    args, given = common.parse(parser, argv)
    check_combinations(parser, args, given)
    if args.pairs > max_pairs(args.task):
        parser.error(f"--pairs {args.pairs:,}: task {args.task} has too few distinct pairs to draw them "
                     f"(at most {max_pairs(args.task):,})")
    if args.dropout > 0 and args.num_layers == 1:   # nn.LSTM/GRU would warn and ignore it
        parser.error(f"--dropout {args.dropout:g} is applied between stacked recurrent layers: it needs --num-layers 2 "
                     "or more")
    n_val = held_out_count(args.pairs, args.val_fraction)
    if n_val >= args.pairs:
        parser.error(f"--pairs {args.pairs} with --val-fraction {args.val_fraction} leaves no pair to train on "
                     f"({n_val} held out)")
    common.check_batch_size(parser, args, given, args.pairs - n_val,
                            f"training pairs (--pairs {args.pairs:,} less the --val-fraction held out)")
    device = common.setup(args, files=["seq2seq.npz", "seq2seq.json", "graph.svg", "graph.dot", "attention.png"])
    keep_freed_memory()
    if args.attention:
        args.peeky = False  # attention reads the whole encoder output; the peeky context would be redundant
    data = load_task(args.task, n=args.pairs, val_fraction=args.val_fraction, seed=args.data_seed,
                     reverse_source=args.reverse_source)
    model = Seq2Seq(len(data.source_vocab), len(data.target_vocab), args.embedding_size, args.hidden_size,
                    args.num_layers, args.cell, args.bidirectional, args.peeky, args.attention,
                    args.attention_size, args.dropout, args.fused).to(device)
    if args.init == "scaled-normal":
        scaled_normal_init(model)
    optimizer = nn.optim.Adam(model.parameters(), lr=args.lr)
    n_params = sum(p.numel() for p in model.parameters())
    style = "attention" if args.attention else ("peeky" if args.peeky else "plain")
    common.log(f"task {args.task}: {len(data.train)} training / {len(data.val)} held-out pairs, "
               f"e.g. {data.train.text[0][0]!r} → {data.train.text[0][1]!r}")
    common.log(f"model: {args.cell.upper()} seq2seq ({style}, reversed source: {args.reverse_source}), "
               f"{n_params:,} parameters, device {device}")

    padding = padding_of(args)
    forward = training_forward(model, args)
    rng = np.random.default_rng(args.seed)
    stopwatch = common.Stopwatch()
    threads = common.ThreadTuner(args.threads if device == "cpu" else 1)   # a GPU's products use no host BLAS
    history: list[float] = []
    accuracy = 0.0
    for epoch in range(1, args.epochs + 1):
        total_loss = total_tokens = correct_tokens = 0.0
        batches = bucketed(data.train.source_lengths, args.batch_size, rng)
        bar = common.progress(batches, args, desc=f"epoch {epoch}/{args.epochs}", unit="batch")
        with stopwatch:
            for i, index in enumerate(bar):
                lr = common.set_learning_rate(optimizer, args.lr, (epoch - 1 + i / len(batches)) / args.epochs,
                                              args.lr_schedule)
                batch = make_batch(data.train, index, device, padding)
                # a step's cost grows with its recurrent steps: source plus target length, times the batch
                with threads(work=(batch.source.shape[0] + batch.inputs.shape[0]) * len(index)):
                    logits = forward(batch.source, batch.lengths, batch.inputs, args.teacher_forcing)
                    loss = sequence_loss(logits, batch.targets)
                    optimizer.zero_grad()
                    loss.backward()
                    if args.clip > 0:
                        nn.utils.clip_grad_norm_(model.parameters(), args.clip)
                    optimizer.step()
                # running loss and token accuracy for the bar
                targets = batch.targets.numpy()
                mask = targets != PAD_ID
                tokens = int(mask.sum())
                total_loss += common.check_loss(loss.item(), args, epoch, i + 1, lr) * tokens
                total_tokens += tokens
                correct_tokens += int(((logits.numpy().argmax(axis=-1) == targets) & mask).sum())
                bar.set_postfix(loss=f"{total_loss / total_tokens:.3f}", acc=f"{correct_tokens / total_tokens:.3f}",
                                refresh=False)
        bar.close()
        accuracy, guesses = evaluate(model, data, device, beam_width=args.beam_width, padding=padding)
        history.append(accuracy)
        common.log(f"epoch {epoch:2d}/{args.epochs}  loss {total_loss / total_tokens:.4f}  "
                   f"token acc {correct_tokens / total_tokens:.3f}  held-out exact match {accuracy:.2%}  "
                   f"({stopwatch.total / epoch:.1f} s/epoch)")
        for (source, target), guess in list(zip(data.val.text, guesses))[: args.examples]:
            common.log(f"    {'✓' if guess == target else '✗'} {source:>28} → {guess:<12} (want {target})")

    common.log(f"BLAS threads: {threads.summary()}")
    checkpoint = common.save_checkpoint(model, args.out, "seq2seq", config={
        **vars(args), "source_vocab": data.source_vocab.tokens, "target_vocab": data.target_vocab.tokens})
    common.log(f"checkpoint: {checkpoint}")
    graph = None if args.no_graph else render_graph(model, data, args, device)
    if graph:
        common.log(f"unrolled graph (one box per time step): {graph}")
    heat_map = plot_attention(model, data, args, device) if args.attention else None
    if heat_map:
        common.log(f"attention heat map: {heat_map}")
    return common.finish(
        args, example="seq2seq", device=device, epochs=args.epochs, train_seconds=stopwatch.total,
        val_accuracy=accuracy, best_val_accuracy=max(history, default=0.0), accuracy_per_epoch=history,
        task=args.task, cell=args.cell, reverse_source=args.reverse_source, peeky=args.peeky, packed=args.packed,
        attention=args.attention, init=args.init, hidden_size=args.hidden_size, parameters=n_params,
        checkpoint=checkpoint, graph=graph, attention_map=heat_map, blas_threads=threads.summary(),
    )


if __name__ == "__main__":
    common.run(main)
