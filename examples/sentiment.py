"""Sentiment classification (many-to-one): an embedding and a GRU read a review, say positive or negative.

The reviews are generated from templates (nothing is downloaded) and written
so that the words alone are not enough: "not" flips the next opinion
("the plot was not good" is negative) and after "but" the second clause
decides ("the acting was awful but the ending was great" is positive). A
lexicon baseline that counts positive minus negative words is printed beside
the GRU; the GRU has to read in order to beat it. Reviews of different length
share a batch through the recurrent layer's ``lengths`` argument.

    python -m examples.sentiment
    python -m examples.sentiment --hidden-size 32 --epochs 8
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

import minigrad as mg
from examples import common
from minigrad import nn

F = nn.functional

POSITIVE = ["good", "great", "excellent", "wonderful", "enjoyable", "brilliant", "superb", "delightful",
            "charming", "moving", "clever", "gripping"]
NEGATIVE = ["bad", "awful", "terrible", "boring", "dull", "poor", "horrible", "dreadful", "weak", "tedious",
            "clumsy", "forgettable"]
NOUNS = ["movie", "film", "plot", "acting", "story", "cast", "soundtrack", "ending", "script", "dialogue",
         "direction", "camera work", "pacing", "lead actor", "music", "second half"]
INTENSIFIERS = ["very", "really", "truly", "quite", "rather", "extremely", "so"]
NEGATORS = ["not", "never", "hardly", "not at all"]
FILLERS = ["i saw it last week", "we watched it on a rainy sunday", "my friends came along",
           "the cinema was full", "i had read the book first", "it runs for two hours",
           "the popcorn was cold", "i went in with no expectations"]
PAD_ID = 0


def clause(rng: np.random.Generator) -> tuple[str, int, bool]:
    """One opinion about one thing: (text, label 1/0, whether it was negated)."""
    positive = bool(rng.random() < 0.5)
    word = str(rng.choice(POSITIVE if positive else NEGATIVE))
    negated = bool(rng.random() < 0.3)
    words = ["the", str(rng.choice(NOUNS)), str(rng.choice(["was", "is", "felt", "seemed"]))]
    if negated:
        words.append(str(rng.choice(NEGATORS)))
    elif rng.random() < 0.4:
        words.append(str(rng.choice(INTENSIFIERS)))
    words.append(word)
    return " ".join(words), int(positive != negated), negated


def review(rng: np.random.Generator) -> tuple[str, int, str]:
    """A generated review: (text, label, kind) with kind plain, negated or contrast."""
    text, label, negated = clause(rng)
    kind = "negated" if negated else "plain"
    if rng.random() < 0.35:
        second, second_label, _ = clause(rng)
        while second_label == label:           # a contrast: the clause after "but" decides
            second, second_label, _ = clause(rng)
        text, label, kind = f"{text} but {second}", second_label, "contrast"
    if rng.random() < 0.5:
        filler = str(rng.choice(FILLERS))
        text = f"{filler} and {text}" if rng.random() < 0.5 else f"{text} . {filler}"
    return text, label, kind


@dataclass
class Reviews:
    ids: np.ndarray          # (N, L) int64, padded with 0
    lengths: np.ndarray      # (N,)
    labels: np.ndarray       # (N,)
    kinds: np.ndarray        # (N,) str
    texts: list[str]


def make_reviews(n: int, seed: int, vocab: dict[str, int], exclude: set[str] | None = None) -> Reviews:
    """``n`` generated reviews, none of whose texts is in ``exclude`` (the training set's)."""
    rng = np.random.default_rng(seed)
    items: list[tuple[str, int, str]] = []
    while len(items) < n:
        item = review(rng)
        if not exclude or item[0] not in exclude:
            items.append(item)
    tokens = [[vocab[w] for w in text.split()] for text, _, _ in items]
    ids = np.full((n, max(map(len, tokens))), PAD_ID, dtype=np.int64)
    for i, row in enumerate(tokens):
        ids[i, : len(row)] = row
    return Reviews(ids, np.array([len(t) for t in tokens]), np.array([label for _, label, _ in items]),
                   np.array([kind for _, _, kind in items]), [text for text, _, _ in items])


def build_vocab() -> dict[str, int]:
    words = set(". and but the was is felt seemed".split())
    for group in (POSITIVE, NEGATIVE, NOUNS, INTENSIFIERS, NEGATORS, FILLERS):
        for phrase in group:
            words.update(phrase.split())
    return {w: i + 1 for i, w in enumerate(sorted(words))}   # 0 is padding


def lexicon_predictions(texts: list[str]) -> np.ndarray:
    """Positive when positive words outnumber negative ones (ties: positive)."""
    positive, negative = set(POSITIVE), set(NEGATIVE)
    scores = [sum((w in positive) - (w in negative) for w in text.split()) for text in texts]
    return (np.array(scores) >= 0).astype(np.int64)


class Classifier(nn.Module):
    """Embedding → GRU → Linear on the last real step. ids (T, B), lengths (B,) → logits (B, 2)."""

    def __init__(self, vocab_size: int, embedding_size: int, hidden_size: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_size, padding_idx=PAD_ID)
        self.rnn = nn.GRU(embedding_size, hidden_size)
        self.head = nn.Linear(hidden_size, 2)

    def forward(self, ids: mg.Tensor, lengths: np.ndarray) -> mg.Tensor:
        _, h_n = self.rnn(self.embedding(ids), lengths=lengths)   # h_n: state at each review's last word
        return self.head(h_n[-1])


def predict(model: Classifier, data: Reviews, device: str, batch_size: int = 1000) -> np.ndarray:
    model.eval()
    out = []
    with mg.no_grad():
        for index in common.batches(len(data.labels), batch_size):
            width = int(data.lengths[index].max())
            logits = model(mg.tensor(data.ids[index, :width].T, device=device), data.lengths[index])
            out.append(logits.numpy().argmax(axis=-1))
    model.train()
    return np.concatenate(out)


def build_parser() -> argparse.ArgumentParser:
    parser = common.parser("sentiment", __doc__, epochs=6)
    add = parser.add_argument
    add("--reviews", type=common.positive_int, default=10_000, help="generated reviews (train + held out)")
    add("--val-fraction", type=common.fraction, default=0.2)
    add("--embedding-size", type=common.positive_int, default=32)
    add("--hidden-size", type=common.positive_int, default=64)
    add("--batch-size", type=common.positive_int, default=64)
    add("--lr", type=common.positive_float, default=3e-3, help="Adam learning rate")
    add("--clip", type=common.nonnegative_float, default=5.0, help="clip the gradient norm to this (0: off)")
    add("--data-seed", type=common.nonnegative_int, default=1234, help="seed of the generated reviews")
    return parser


def main(argv: list[str] | None = None) -> dict:
    parser = build_parser()
    args, given = common.parse(parser, argv)
    n_val = max(1, int(args.reviews * args.val_fraction))
    if n_val >= args.reviews:
        parser.error(f"--reviews {args.reviews} with --val-fraction {args.val_fraction} leaves no review to train on")
    common.check_batch_size(parser, args, given, args.reviews - n_val,
                            f"training reviews (--reviews {args.reviews:,} less the --val-fraction held out)")
    device = common.setup(args, files=["sentiment.npz", "sentiment.json"])
    vocab = build_vocab()
    train = make_reviews(args.reviews - n_val, args.data_seed, vocab)
    val = make_reviews(n_val, args.data_seed + 1, vocab, exclude=set(train.texts))
    lexicon = float((lexicon_predictions(val.texts) == val.labels).mean())
    common.log(f"{len(train.labels)} training / {n_val} held-out reviews, {len(vocab)} words, e.g. "
               f"{train.texts[0]!r} → {'positive' if train.labels[0] else 'negative'}")
    common.log(f"lexicon baseline (count positive minus negative words): {lexicon:.1%} held-out accuracy")
    model = Classifier(len(vocab) + 1, args.embedding_size, args.hidden_size).to(device)
    optimizer = nn.optim.Adam(model.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed)
    stopwatch = common.Stopwatch()
    accuracy, by_kind = 0.0, {}
    for epoch in range(1, args.epochs + 1):
        bar = common.progress(common.batches(len(train.labels), args.batch_size, rng), args,
                              desc=f"epoch {epoch}/{args.epochs}", unit="batch")
        total = correct = seen = 0
        with stopwatch:
            for step, index in enumerate(bar, start=1):
                width = int(train.lengths[index].max())
                logits = model(mg.tensor(train.ids[index, :width].T, device=device), train.lengths[index])
                labels = train.labels[index]
                loss = F.cross_entropy(logits, mg.tensor(labels, device=device))
                optimizer.zero_grad()
                loss.backward()
                if args.clip > 0:
                    nn.utils.clip_grad_norm_(model.parameters(), args.clip)
                optimizer.step()
                total += common.check_loss(loss.item(), args, epoch, step) * len(index)
                correct += int((logits.numpy().argmax(axis=-1) == labels).sum())
                seen += len(index)
                bar.set_postfix(loss=f"{total / seen:.3f}", acc=f"{correct / seen:.3f}", refresh=False)
        bar.close()
        right = predict(model, val, device) == val.labels
        accuracy = float(right.mean())
        # a kind with no held-out review has no accuracy (None in the summary, "none held out" here)
        by_kind = {kind: float(right[val.kinds == kind].mean()) if (val.kinds == kind).any() else None
                   for kind in ("plain", "negated", "contrast")}
        common.log(f"epoch {epoch:2d}/{args.epochs}  loss {total / seen:.4f}  held-out accuracy {accuracy:.1%}  ("
                   + ", ".join(f"{k} {v:.1%}" if v is not None else f"{k}: none held out" for k, v in by_kind.items())
                   + f"; {stopwatch.total / epoch:.1f} s/epoch)")
    checkpoint = common.save_checkpoint(model, args.out, "sentiment", config={**vars(args), "vocab": vocab})
    return common.finish(
        args, example="sentiment", device=device, epochs=args.epochs, train_seconds=stopwatch.total,
        val_accuracy=accuracy, val_accuracy_by_kind=by_kind, lexicon_accuracy=lexicon,
        hidden_size=args.hidden_size, checkpoint=checkpoint,
    )


if __name__ == "__main__":
    common.run(main)
