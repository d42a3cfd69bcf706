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
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

import minigrad as mg
from examples import common
from examples.seq2seq_tasks import EOS_ID, GO_ID, PAD_ID, EncodedPairs, TaskData, load_task
from minigrad import nn

F = nn.functional
RECURRENT = {"lstm": nn.LSTM, "gru": nn.GRU}


# --- the model --------------------------------------------------------------

@dataclass
class Memory:
    """What the decoder may read of the encoded source.

    context: (B, H) the encoder's summary (the decoder's initial top-layer h),
    fed to every step when peeky; values: (B, S, C) encoder outputs and
    keys: (B, S, A) their attention projection; mask_bias: (B, S) 0 for real
    source positions, -1e9 for padding.
    """

    context: Any = None
    values: Any = None
    keys: Any = None
    mask_bias: Any = None

    def repeat(self, times: int) -> Memory:
        """Each batch row repeated ``times`` times in a row (for beam search)."""
        def rep(x: Any) -> Any:
            if x is None:
                return None
            index = np.repeat(np.arange(x.shape[0]), times)
            return x[index]
        return Memory(rep(self.context), rep(self.values), rep(self.keys), rep(self.mask_bias))


def top_hidden(state: Any) -> mg.Tensor:
    """The last layer's hidden state (B, H) of an LSTM ``(h, c)`` or GRU ``h`` state (L, B, H)."""
    h = state[0] if isinstance(state, tuple) else state
    return h[-1]


def select_rows(state: Any, index: np.ndarray) -> Any:
    """The state of batch rows ``index`` (used to reorder beams)."""
    if isinstance(state, tuple):
        return tuple(s[:, index] for s in state)
    return state[:, index]


class Encoder(nn.Module):
    """Embedding → LSTM/GRU. source: (S, B) ids → outputs (S, B, D*H), final state (D*L, B, H)."""

    def __init__(self, vocab_size: int, embedding_size: int, hidden_size: int, num_layers: int, cell: str,
                 bidirectional: bool, dropout: float, fused: bool = False) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_size, padding_idx=PAD_ID)
        self.rnn = RECURRENT[cell](embedding_size, hidden_size, num_layers, dropout=dropout,
                                   bidirectional=bidirectional, fused=fused)

    def forward(self, source: mg.Tensor, lengths: Any = None) -> tuple[mg.Tensor, Any]:
        return self.rnn(self.embedding(source), lengths=lengths)


class AdditiveAttention(nn.Module):
    """Bahdanau et al. (2015): score(q, k_j) = vᵀ tanh(W_q q + W_k k_j), softmax over j.

    query: (B, H), memory values: (B, S, C) → context (B, C), weights (B, S).
    """

    def __init__(self, query_size: int, value_size: int, attention_size: int) -> None:
        super().__init__()
        self.query = nn.Linear(query_size, attention_size, bias=False)
        self.key = nn.Linear(value_size, attention_size)
        self.score = nn.Linear(attention_size, 1, bias=False)

    def keys(self, values: mg.Tensor) -> mg.Tensor:
        """W_k k_j for every source position, computed once per batch: (B, S, C) → (B, S, A)."""
        return self.key(values)

    def forward(self, query: mg.Tensor, memory: Memory) -> tuple[mg.Tensor, mg.Tensor]:
        batch, length, _ = memory.keys.shape
        energy = (memory.keys + self.query(query).expand_dims(1)).tanh()      # (B, S, A)
        scores = self.score(energy).reshape(batch, length) + memory.mask_bias
        weights = mg.softmax(scores, axis=-1)                                  # (B, S)
        context = (weights.expand_dims(1) @ memory.values).reshape(batch, -1)  # (B, C)
        return context, weights


class Decoder(nn.Module):
    """Embedding → LSTM/GRU → Linear; with ``peeky`` the encoder's context joins the input and the output.

    forward(inputs (T, B) ids, state, memory) → logits (T, B, V). With teacher
    forcing the whole target sequence goes through the recurrent layer in one
    call; with a ratio below 1 it is stepped, feeding back its own guesses.
    """

    def __init__(self, vocab_size: int, embedding_size: int, hidden_size: int, num_layers: int, cell: str,
                 dropout: float, peeky: bool, fused: bool = False) -> None:
        super().__init__()
        self.peeky = peeky
        extra = hidden_size if peeky else 0
        self.embedding = nn.Embedding(vocab_size, embedding_size, padding_idx=PAD_ID)
        self.rnn = RECURRENT[cell](embedding_size + extra, hidden_size, num_layers, dropout=dropout, fused=fused)
        self.out = nn.Linear(hidden_size + extra, vocab_size)

    def forward(self, inputs: mg.Tensor, state: Any, memory: Memory, teacher_forcing: float = 1.0) -> mg.Tensor:
        if teacher_forcing < 1.0:
            return stepped(self, inputs, state, memory, teacher_forcing)
        x = self.embedding(inputs)                                           # (T, B, E)
        if self.peeky:
            context = memory.context.expand_dims(0).broadcast_to((x.shape[0], *memory.context.shape))
            x = mg.concat([x, context], axis=-1)
        output, _ = self.rnn(x, state)                                       # (T, B, H)
        if self.peeky:
            output = mg.concat([output, context], axis=-1)
        return self.out(output)

    def step(self, tokens: mg.Tensor, state: Any, memory: Memory) -> tuple[mg.Tensor, Any, None]:
        """One step: tokens (B,) → logits (B, V), the new state, no attention weights."""
        x = self.embedding(tokens)                                           # (B, E)
        if self.peeky:
            x = mg.concat([x, memory.context], axis=-1)
        output, state = self.rnn(x.expand_dims(0), state)
        output = output.reshape(output.shape[1:])
        if self.peeky:
            output = mg.concat([output, memory.context], axis=-1)
        return self.out(output), state, None


class AttentionDecoder(nn.Module):
    """Bahdanau's decoder: at step t attend with s_{t-1} over the encoder outputs,
    feed [embedding(y_{t-1}), context_t] to the LSTM/GRU, predict from [s_t, context_t].

    forward(inputs (T, B) ids, state, memory) → logits (T, B, V), stepped in time.
    """

    def __init__(self, vocab_size: int, embedding_size: int, hidden_size: int, num_layers: int, cell: str,
                 dropout: float, value_size: int, attention_size: int, fused: bool = False) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_size, padding_idx=PAD_ID)
        self.attention = AdditiveAttention(hidden_size, value_size, attention_size)
        self.rnn = RECURRENT[cell](embedding_size + value_size, hidden_size, num_layers, dropout=dropout,
                                   fused=fused)
        self.out = nn.Linear(hidden_size + value_size, vocab_size)

    def forward(self, inputs: mg.Tensor, state: Any, memory: Memory, teacher_forcing: float = 1.0) -> mg.Tensor:
        return stepped(self, inputs, state, memory, teacher_forcing)

    def step(self, tokens: mg.Tensor, state: Any, memory: Memory) -> tuple[mg.Tensor, Any, mg.Tensor]:
        """One step: tokens (B,) → logits (B, V), the new state, attention weights (B, S)."""
        context, weights = self.attention(top_hidden(state), memory)
        x = mg.concat([self.embedding(tokens), context], axis=-1)
        output, state = self.rnn(x.expand_dims(0), state)
        output = mg.concat([output.reshape(output.shape[1:]), context], axis=-1)
        return self.out(output), state, weights


def stepped(decoder: Decoder | AttentionDecoder, inputs: mg.Tensor, state: Any, memory: Memory,
            teacher_forcing: float) -> mg.Tensor:
    """Run ``decoder.step`` over time; with probability 1 - ``teacher_forcing`` (per row and step)
    the next input is the decoder's own greedy guess instead of the true token. → (T, B, V)."""
    tokens, logits = inputs[0], []
    for t in range(inputs.shape[0]):
        with mg.name_scope(f"t{t}"):
            step_logits, state, _ = decoder.step(tokens, state, memory)
        logits.append(step_logits)
        if t + 1 < inputs.shape[0]:
            tokens = inputs[t + 1]
            if teacher_forcing < 1.0:
                guess = mg.as_tensor(step_logits.data.argmax(axis=-1))
                keep = mg.rand(tokens.shape[0], device=tokens.device) < teacher_forcing
                tokens = mg.where(keep, tokens, guess)
    return mg.stack(logits, axis=0)


class Seq2Seq(nn.Module):
    """Encoder, bridge (for a bidirectional encoder) and decoder.

    forward(source (S, B), lengths (B,), decoder inputs (T, B)) → logits (T, B, V).
    """

    def __init__(self, source_vocab: int, target_vocab: int, embedding_size: int = 16, hidden_size: int = 128,
                 num_layers: int = 1, cell: str = "lstm", bidirectional: bool = False, peeky: bool = False,
                 attention: bool = False, attention_size: int | None = None, dropout: float = 0.0,
                 fused: bool = False) -> None:
        super().__init__()
        if cell not in RECURRENT:
            raise ValueError(f"Seq2Seq: cell must be one of {sorted(RECURRENT)}, got {cell!r}")
        self.cell, self.num_layers, self.bidirectional = cell, num_layers, bidirectional
        self.encoder = Encoder(source_vocab, embedding_size, hidden_size, num_layers, cell, bidirectional, dropout,
                               fused)
        if bidirectional:  # the two directions' final states → the decoder's initial state
            self.bridge_h = nn.Linear(2 * hidden_size, hidden_size)
            if cell == "lstm":
                self.bridge_c = nn.Linear(2 * hidden_size, hidden_size)
        value_size = hidden_size * (2 if bidirectional else 1)
        if attention:
            self.decoder = AttentionDecoder(target_vocab, embedding_size, hidden_size, num_layers, cell, dropout,
                                            value_size, attention_size or hidden_size, fused)
        else:
            self.decoder = Decoder(target_vocab, embedding_size, hidden_size, num_layers, cell, dropout, peeky, fused)

    def encode(self, source: mg.Tensor, lengths: Any) -> tuple[Memory, Any]:
        """Run the encoder: the decoder's memory and initial state."""
        outputs, state = self.encoder(source, lengths)
        if self.bidirectional:
            state = self._bridge(state)
        memory = Memory(context=top_hidden(state))
        if isinstance(self.decoder, AttentionDecoder):
            memory.values = outputs.swapaxes(0, 1)                           # (B, S, C)
            memory.keys = self.decoder.attention.keys(memory.values)
            padding = (source == PAD_ID).numpy().T.astype(np.float32) * -1e9
            memory.mask_bias = mg.tensor(padding, device=source.device)
        return memory, state

    def _bridge(self, state: Any) -> Any:
        def join(s: mg.Tensor, bridge: nn.Linear) -> mg.Tensor:
            _, batch, hidden = s.shape                                       # (L*2, B, H), directions interleaved
            both = s.reshape(self.num_layers, 2, batch, hidden)
            return bridge(mg.concat([both[:, 0], both[:, 1]], axis=-1))
        if isinstance(state, tuple):
            return join(state[0], self.bridge_h).tanh(), join(state[1], self.bridge_c)
        return join(state, self.bridge_h).tanh()

    def forward(self, source: mg.Tensor, lengths: Any, inputs: mg.Tensor, teacher_forcing: float = 1.0) -> mg.Tensor:
        memory, state = self.encode(source, lengths)
        return self.decoder(inputs, state, memory, teacher_forcing=teacher_forcing)

    def greedy(self, source: mg.Tensor, lengths: Any, max_length: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Decode greedily until every row has produced <eos> (or ``max_length`` tokens).

        Returns ids (B, T) and, with attention, the weights (B, T, S).
        """
        with mg.no_grad():
            memory, state = self.encode(source, lengths)
            batch = source.shape[1]
            tokens = mg.full((batch,), GO_ID, dtype=mg.int64, device=source.device)
            ids, weights = [], []
            done = np.zeros(batch, dtype=bool)
            for _ in range(max_length):
                logits, state, attention = self.decoder.step(tokens, state, memory)
                tokens = mg.as_tensor(logits.data.argmax(axis=-1))
                ids.append(tokens.numpy())
                if attention is not None:
                    weights.append(attention.numpy())
                done |= ids[-1] == EOS_ID
                if done.all():
                    break
        return np.stack(ids, axis=1), (np.stack(weights, axis=1) if weights else None)

    def beam_search(self, source: mg.Tensor, lengths: Any, max_length: int, width: int) -> np.ndarray:
        """Keep the ``width`` most probable prefixes per row; returns the best one's ids (B, T)."""
        with mg.no_grad():
            memory, state = self.encode(source, lengths)
            batch = source.shape[1]
            memory, state = memory.repeat(width), select_rows(state, np.repeat(np.arange(batch), width))
            scores = np.full((batch, width), -np.inf)
            scores[:, 0] = 0.0                             # all beams start equal: keep one copy
            history = np.zeros((batch, width, 0), dtype=np.int64)
            tokens = mg.full((batch * width,), GO_ID, dtype=mg.int64, device=source.device)
            finished = np.zeros((batch, width), dtype=bool)
            for _ in range(max_length):
                logits, state, _ = self.decoder.step(tokens, state, memory)
                log_probs = mg.log_softmax(logits, axis=-1).numpy().astype(np.float64)
                vocab = log_probs.shape[-1]
                log_probs = log_probs.reshape(batch, width, vocab)
                # a finished beam can only continue with <pad>, at no cost
                log_probs[finished] = -np.inf
                log_probs[finished, PAD_ID] = 0.0
                total = (scores[..., None] + log_probs).reshape(batch, width * vocab)
                best = np.argsort(-total, axis=1, kind="stable")[:, :width]
                parent, token = best // vocab, best % vocab
                scores = np.take_along_axis(total, best, axis=1)
                history = np.concatenate([np.take_along_axis(history, parent[..., None], axis=1),
                                          token[..., None]], axis=2)
                finished = np.take_along_axis(finished, parent, axis=1) | (token == EOS_ID)
                rows = (np.arange(batch)[:, None] * width + parent).reshape(-1)
                state = select_rows(state, rows)
                tokens = mg.tensor(token.reshape(-1), device=source.device)
                if finished.all():
                    break
            return history[np.arange(batch), scores.argmax(axis=1)]


def scaled_normal_init(model: nn.Module) -> None:
    """The initialisation of the hand-written NumPy seq2seq the published numbers come from:
    embeddings N(0, 0.01²), weights N(0, 1/fan_in), biases 0 (instead of PyTorch's uniform ones)."""
    for name, param in model.named_parameters():
        if "bias" in name:
            nn.init.zeros_(param)
        elif "embedding" in name:
            nn.init.normal_(param, std=0.01)
        else:
            nn.init.normal_(param, std=param.shape[-1] ** -0.5)


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
    parser = common.parser("seq2seq", __doc__, epochs=8)
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
    add("--dropout", type=common.probability, default=0.0, help="between stacked recurrent layers")
    add("--fused", action="store_true",
        help="compute each step's gate nonlinearities in one fused op (faster; the graph shows one node per step)")
    add("--bidirectional", action="store_true", help="bidirectional encoder (its two final states are bridged)")
    add("--reverse-source", action=argparse.BooleanOptionalAction, default=True,
        help="feed the source backwards (Sutskever et al. 2014)")
    add("--peeky", action=argparse.BooleanOptionalAction, default=True,
        help="feed the encoder's summary to every decoder step and to the output layer")
    add("--attention", action="store_true", help="Bahdanau additive attention over the encoder outputs")
    add("--attention-size", type=common.positive_int, default=64, help="width of the attention's tanh layer")
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


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    device = common.setup(args)
    if args.attention and args.peeky:
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
    rng = np.random.default_rng(args.seed)
    stopwatch = common.Stopwatch()
    history: list[float] = []
    accuracy = 0.0
    for epoch in range(1, args.epochs + 1):
        total_loss = total_tokens = correct_tokens = 0.0
        batches = bucketed(data.train.source_lengths, args.batch_size, rng)
        bar = common.progress(batches, args, desc=f"epoch {epoch}/{args.epochs}", unit="batch")
        with stopwatch:
            for i, index in enumerate(bar):
                common.set_learning_rate(optimizer, args.lr, (epoch - 1 + i / len(batches)) / args.epochs,
                                         args.lr_schedule)
                batch = make_batch(data.train, index, device, padding)
                logits = model(batch.source, batch.lengths, batch.inputs, teacher_forcing=args.teacher_forcing)
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
                total_loss += loss.item() * tokens
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
        checkpoint=checkpoint, graph=graph, attention_map=heat_map,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
