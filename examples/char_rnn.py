"""Character-level language model (RNN, LSTM or GRU) on a text file, with sampling.

Trains with truncated back-propagation through time: the text is cut into
--batch-size parallel streams, read --seq-len characters at a time, and the
recurrent state is carried from one chunk to the next but detached from its
graph (``nn.utils.detach_state``). Reports bits per character on the held-out
end of the text next to the unigram baseline (character frequencies alone),
and prints samples drawn at a --temperature.

    python -m examples.char_rnn                              # LSTM on ~1 MB of the King James Bible
    python -m examples.char_rnn --text small --epochs 20     # the 17 KB text: a quick run
    python -m examples.char_rnn --cell gru --temperature 0.5
    python -m examples.char_rnn --text my_book.txt --hidden-size 512
"""

from __future__ import annotations

import argparse
import math
import os

import numpy as np

import minigrad as mg
from examples import common
from minigrad import nn

F = nn.functional
RECURRENT = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
PRIME = "And it came to pass, "   # the default --prime (a KJV opening; on other texts its unknown characters drop out)


class CharModel(nn.Module):
    """Embedding → RNN/LSTM/GRU → Linear. ids (T, B) → logits (T, B, V), new state."""

    def __init__(self, vocab_size: int, embedding_size: int, hidden_size: int, num_layers: int, cell: str,
                 dropout: float) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        self.rnn = RECURRENT[cell](embedding_size, hidden_size, num_layers, dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, ids: mg.Tensor, state: object = None) -> tuple[mg.Tensor, object]:
        output, state = self.rnn(self.embedding(ids), state)
        return self.head(self.dropout(output)), state


class Text:
    """The characters of a text as ids; ``vocab[i]`` is the character with id i."""

    def __init__(self, text: str) -> None:
        self.vocab = sorted(set(text))
        self.index = {ch: i for i, ch in enumerate(self.vocab)}
        self.ids = np.array([self.index[ch] for ch in text], dtype=np.int64)

    def decode(self, ids: list[int]) -> str:
        return "".join(self.vocab[i] for i in ids)


def streams(ids: np.ndarray, batch_size: int) -> np.ndarray:
    """Cut ``ids`` into ``batch_size`` equal consecutive streams: (L, B), one stream per column."""
    length = len(ids) // batch_size
    return ids[: length * batch_size].reshape(batch_size, length).T.copy()


def split_point(length: int, held_out_fraction: float) -> int:
    """Where the held-out end of a text of ``length`` characters starts (markov_text uses the same split)."""
    return int(length * (1 - held_out_fraction))


def unigram_bits(train: np.ndarray, val: np.ndarray, vocab_size: int) -> float:
    """Bits per character of ``val`` under the training text's character frequencies (add-one smoothed)."""
    counts = np.bincount(train, minlength=vocab_size) + 1.0
    return float(-np.log2(counts[val] / counts.sum()).mean())


def evaluate_bits(model: CharModel, ids: np.ndarray, device: str, chunk: int = 256) -> float:
    """Bits per character of ``ids`` read as one stream, carrying the state across chunks."""
    model.eval()
    total, count, state = 0.0, 0, None
    with mg.no_grad():
        for start in range(0, len(ids) - 1, chunk):
            x = ids[start : start + chunk]
            y = ids[start + 1 : start + chunk + 1]
            x = x[: len(y)]
            logits, state = model(mg.tensor(x[:, None], device=device), state)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), mg.tensor(y, device=device),
                                   reduction="sum")
            total += loss.item()
            count += len(y)
    model.train()
    return total / count / math.log(2)


def sample(model: CharModel, text: Text, prime: str, length: int, temperature: float, device: str,
           rng: np.random.Generator) -> str:
    """``prime`` followed by ``length`` characters drawn from softmax(logits / temperature)."""
    model.eval()
    prime = "".join(ch for ch in prime if ch in text.index) or text.vocab[0]
    out = [text.index[ch] for ch in prime]
    with mg.no_grad():
        logits, state = model(mg.tensor(np.array(out)[:, None], device=device))
        for _ in range(length):
            scores = logits.numpy()[-1, 0].astype(np.float64) / max(temperature, 1e-6)
            p = np.exp(scores - scores.max())
            token = int(rng.choice(len(p), p=p / p.sum()))
            out.append(token)
            logits, state = model(mg.tensor([[token]], device=device), state)
    model.train()
    return text.decode(out)


def build_parser() -> argparse.ArgumentParser:
    parser = common.parser("char_rnn", __doc__, epochs=10)
    add = parser.add_argument
    add("--text", type=common.text_file, default="kjv",
        help="kjv (~1 MB of the King James Bible), small (~17 KB) or the path of a UTF-8 text file")
    add("--cell", choices=sorted(RECURRENT), default="lstm")
    add("--embedding-size", type=common.positive_int, default=32)
    add("--hidden-size", type=common.positive_int, default=256)
    add("--num-layers", type=common.positive_int, default=1)
    add("--dropout", type=common.dropout_rate, default=0.1, help="on the recurrent output (and between layers)")
    add("--seq-len", type=common.positive_int, default=64, help="characters per truncated-BPTT chunk")
    add("--batch-size", type=common.positive_int, default=32, help="parallel streams")
    add("--lr", type=common.positive_float, default=3e-3, help="Adam learning rate (at the start, see --lr-schedule)")
    add("--lr-schedule", choices=["constant", "cosine"], default="cosine",
        help="keep the learning rate, or lower it along a cosine to 5%% of --lr by the end")
    add("--clip", type=common.nonnegative_float, default=5.0, help="clip the gradient norm to this (0: off)")
    add("--val-fraction", type=common.fraction, default=0.1, help="held-out share at the end of the text")
    add("--max-chars", type=common.nonnegative_int, default=0, help="use only the first N characters (0: all)")
    add("--temperature", type=common.positive_float, default=0.7,
        help="sampling temperature (lower: more conservative)")
    add("--sample-length", type=common.positive_int, default=300)
    add("--prime", default=PRIME, help="text the samples start from (characters the text lacks are left out of "
        "the default; given ones must all occur in the text)")
    return parser


def main(argv: list[str] | None = None) -> dict:
    parser = build_parser()
    args = parser.parse_args(argv)
    raw = common.read_text(parser, args.text)
    if args.max_chars and args.max_chars >= len(raw):
        parser.error(f"--max-chars {args.max_chars:,} has no effect on --text {args.text}: it has only "
                     f"{len(raw):,} characters (leave out --max-chars, or give fewer)")
    if args.max_chars:
        raw = raw[: args.max_chars]
    text = Text(raw)
    split = split_point(len(text.ids), args.val_fraction)
    train, val = text.ids[:split], text.ids[split:]
    if len(train) < args.batch_size * (args.seq_len + 1) or len(val) < 2:
        parser.error(f"--text {args.text} is too short for --batch-size {args.batch_size} × --seq-len {args.seq_len}")
    unknown = sorted(set(args.prime) - set(text.index))
    if unknown and args.prime != PRIME:
        parser.error(f"--prime {args.prime!r} has characters that --text {args.text} never uses: "
                     + " ".join(repr(ch) for ch in unknown))
    device = common.setup(args, files=["char_rnn.npz", "char_rnn.json"])   # only now: a usage error writes nothing
    model = CharModel(len(text.vocab), args.embedding_size, args.hidden_size, args.num_layers, args.cell,
                      args.dropout).to(device)
    optimizer = nn.optim.Adam(model.parameters(), lr=args.lr)
    baseline = unigram_bits(train, val, len(text.vocab))
    common.log(f"text {os.path.basename(args.text)}: {len(train):,} training / {len(val):,} held-out characters, "
               f"{len(text.vocab)} distinct; unigram baseline {baseline:.3f} bits/char")
    common.log(f"model: {args.cell.upper()} {args.hidden_size}×{args.num_layers}, "
               f"{sum(int(np.prod(p.shape)) for p in model.parameters()):,} parameters, device {device}")

    rng = np.random.default_rng(args.seed)
    stopwatch = common.Stopwatch()
    val_bits = train_bits = float("nan")
    best = (float("inf"), 0)
    for epoch in range(1, args.epochs + 1):
        # a random offset each epoch, so chunk boundaries move
        data = streams(train[int(rng.integers(args.seq_len)) :], args.batch_size)
        starts = range(0, len(data) - 1, args.seq_len)
        bar = common.progress(starts, args, desc=f"epoch {epoch}/{args.epochs}", unit="chunk")
        state, total, count = None, 0.0, 0
        with stopwatch:
            for i, start in enumerate(bar):
                lr = common.set_learning_rate(optimizer, args.lr, (epoch - 1 + i / len(starts)) / args.epochs,
                                              args.lr_schedule)
                x = data[start : start + args.seq_len]
                y = data[start + 1 : start + args.seq_len + 1]
                x = x[: len(y)]
                logits, state = model(mg.tensor(x, device=device), state)
                loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), mg.tensor(y.reshape(-1), device=device))
                optimizer.zero_grad()
                loss.backward()
                if args.clip > 0:
                    nn.utils.clip_grad_norm_(model.parameters(), args.clip)
                optimizer.step()
                state = nn.utils.detach_state(state)  # truncated BPTT: keep the values, drop the graph
                total += common.check_loss(loss.item(), args, epoch, i + 1, lr) * y.size
                count += y.size
                bar.set_postfix(bpc=f"{total / count / math.log(2):.3f}", refresh=False)
        bar.close()
        train_bits = total / count / math.log(2)
        val_bits = evaluate_bits(model, val, device)
        best = min(best, (val_bits, epoch))
        common.log(f"epoch {epoch:2d}/{args.epochs}  train {train_bits:.3f}  held-out {val_bits:.3f} bits/char  "
                   f"(unigram {baseline:.3f}; {stopwatch.total / epoch:.1f} s/epoch)")

    text_sample = sample(model, text, args.prime, args.sample_length, args.temperature, device, rng)
    common.log(f"sample (temperature {args.temperature}):\n{text_sample}\n")
    checkpoint = common.save_checkpoint(model, args.out, "char_rnn", config={**vars(args), "vocab": text.vocab})
    common.log(f"checkpoint: {checkpoint}")
    return common.finish(
        args, example="char_rnn", device=device, epochs=args.epochs, train_seconds=stopwatch.total,
        val_bpc=val_bits, best_val_bpc=best[0], best_epoch=best[1], train_bpc=train_bits, unigram_bpc=baseline,
        cell=args.cell, hidden_size=args.hidden_size, sample=text_sample, checkpoint=checkpoint,
        text=args.text, val_fraction=args.val_fraction, max_chars=args.max_chars, train_cpu_seconds=stopwatch.cpu,
    )


if __name__ == "__main__":
    common.run(main)
