"""The encoder–decoder of ``examples.seq2seq``: an LSTM/GRU encoder, a plain, peeky or
Bahdanau-attention decoder, greedy and beam-search decoding.

The training program (data, loss, evaluation, command line) is ``examples/seq2seq.py``.

Shapes follow the recurrent layers: time first, source (S, B) and decoder
inputs (T, B) as token ids, logits (T, B, V).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

import minigrad as mg
from examples.seq2seq_tasks import EOS_ID, GO_ID, PAD_ID
from minigrad import nn

RECURRENT = {"lstm": nn.LSTM, "gru": nn.GRU}


@dataclass
class Memory:
    """What the decoder may read of the encoded source.

    context: (B, H) the encoder's summary (the decoder's initial top-layer h),
    fed to every step when peeky; values: (B, S, C) encoder outputs and
    keys: (B, S, A) their attention projection; mask_bias: (B, S) 0 for real
    source positions, -1e9 for padding; context_gates (B, G·H) and
    context_logits (B, V): the context's share of a peeky decoder's gates and
    logits (made by ``PeekyDecoder`` on first use).
    """

    context: Any = None
    values: Any = None
    keys: Any = None
    mask_bias: Any = None
    context_gates: Any = None
    context_logits: Any = None

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


class PeekyDecoder(Decoder):
    """The peeky decoder (one layer) computed the cheap way: the same model, parameters and values.

    The peeky input and output are concatenations ``[x_t, context]`` whose second part is the
    same at every step, so each product with a weight ``W = [W_x | W_c]`` splits into a part per
    step and a part per batch::

        [x_t, context] @ Wᵀ + b  =  x_t @ W_xᵀ  +  (context @ W_cᵀ + b)

    ``_context_gates`` and ``_context_logits`` compute ``context @ W_cᵀ + b`` once per batch: in the
    demo that is 128 of the 144 input columns of every step's gate product and of its gradient.
    The recurrent loop is then the layer's own step function (``nn.cells``), run here because the
    layer itself only takes whole inputs.
    """

    def forward(self, inputs: mg.Tensor, state: Any, memory: Memory, teacher_forcing: float = 1.0) -> mg.Tensor:
        if teacher_forcing < 1.0:
            return stepped(self, inputs, state, memory, teacher_forcing)
        (input_x, input_c), (out_h, out_c) = self._split_weights()
        gates = self._context_gates(memory, input_c) + self.embedding(inputs) @ input_x.T   # (T, B, G·H)
        weight_hh_t = nn.cells.loop_weight(self.rnn.weight_hh_l0)   # W_hhᵀ, multiplied by at every step
        with mg.name_scope("rnn"), mg.name_scope("l0"):
            states, outputs = self._layer_state(state), []
            for t, gates_t in enumerate(mg.unbind(gates, 0)):
                with mg.name_scope(f"t{t}"):
                    states = self._step(gates_t, states, weight_hh_t)
                outputs.append(states[0])
        output = mg.stack(outputs, axis=0)                                   # (T, B, H)
        return self._context_logits(memory, out_c) + output @ out_h.T

    def step(self, tokens: mg.Tensor, state: Any, memory: Memory) -> tuple[mg.Tensor, Any, None]:
        """One step: tokens (B,) → logits (B, V), the new state, no attention weights."""
        (input_x, input_c), (out_h, out_c) = self._split_weights()
        gates = self._context_gates(memory, input_c) + self.embedding(tokens) @ input_x.T
        with mg.name_scope("rnn"), mg.name_scope("l0"):
            states = self._step(gates, self._layer_state(state), self.rnn.weight_hh_l0.T)
        logits = self._context_logits(memory, out_c) + states[0] @ out_h.T
        new_state = tuple(s.expand_dims(0) for s in states)
        return logits, (new_state if len(new_state) == 2 else new_state[0]), None

    def _split_weights(self) -> tuple:
        """(W_x, W_c) of the layer's input weight (G·H, E | H) and (W_h, W_c) of the output layer's (V, H | H).

        One ``split`` each, so the backward pass joins the two halves' gradients in one copy."""
        embedding, hidden = self.embedding.embedding_dim, self.rnn.hidden_size
        return (self.rnn.weight_ih_l0.split([embedding, hidden], 1),
                self.out.weight.split([hidden, hidden], 1))

    def _context_gates(self, memory: Memory, input_c: mg.Tensor) -> mg.Tensor:
        """context @ W_cᵀ + the input bias: the context's share of every step's gates (B, G·H), made once per batch."""
        if memory.context_gates is None:
            rnn = self.rnn
            bias = rnn.bias_ih_l0 + rnn.bias_hh_l0 if isinstance(rnn, nn.LSTM) else rnn.bias_ih_l0
            memory.context_gates = memory.context @ input_c.T + bias
        return memory.context_gates

    def _context_logits(self, memory: Memory, out_c: mg.Tensor) -> mg.Tensor:
        """context @ W_cᵀ + b of the output layer: the context's share of every step's logits (B, V), made once."""
        if memory.context_logits is None:
            memory.context_logits = memory.context @ out_c.T + self.out.bias
        return memory.context_logits

    @staticmethod
    def _layer_state(state: Any) -> tuple:
        """The layer's (1, B, H) state(s) as the step functions take them: a tuple of (B, H)."""
        return tuple(s[0] for s in state) if isinstance(state, tuple) else (state[0],)

    def _step(self, gates: mg.Tensor, states: tuple, weight_hh_t: Any) -> tuple:
        """One step of the layer's cell on precomputed input gates (B, G·H); tags h (and c) as the layer does.

        ``weight_hh_t``: W_hhᵀ, or ``nn.cells.loop_weight(W_hh)`` in a loop over time."""
        rnn = self.rnn
        if isinstance(rnn, nn.LSTM):
            states = nn.cells.lstm_step(gates, *states, weight_hh_t, None, fused=rnn.fused)
        else:
            states = (nn.cells.gru_step(gates, states[0], weight_hh_t, rnn.bias_hh_l0, fused=rnn.fused),)
        for state, name in zip(states, "hc"):
            mg.tag(state, name)
        return states


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
    A one-layer peeky decoder is a ``PeekyDecoder`` (the same parameters as ``Decoder``'s,
    computed without concatenating); the others are ``Decoder`` or ``AttentionDecoder``.
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
            kind = PeekyDecoder if peeky and num_layers == 1 else Decoder
            self.decoder = kind(target_vocab, embedding_size, hidden_size, num_layers, cell, dropout, peeky, fused)

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

