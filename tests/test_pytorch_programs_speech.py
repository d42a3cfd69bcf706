"""Three recurrent speech sequence-to-sequence programs, small, run unchanged on minigrad: only the imports differ.

Each program is our own rewrite of a well-known public PyTorch program: it keeps the original's PyTorch calls
and habits in the same roles, with our own names, structure and comments, a tiny model, a few steps and
generated data (drawn here, outside the programs; the helpers and the rule come from
tests/test_pytorch_programs.py). tests/test_pytorch_programs_audio.py has the keyword spotter, CTC and
Griffin-Lim programs; these three are about recurrent cells stepped by hand inside an encoder-decoder.

* ``LISTEN_ATTEND_SPELL`` follows Chan et al.'s "Listen, Attend and Spell" as the public PyTorch ports write it
  (e.g. Alexander-H-Liu/End-to-end-ASR-Pytorch, kaituoxu/Listen-Attend-Spell): a pyramidal bidirectional
  ``LSTM`` listener that halves time between layers by reshaping (B, T, D) -> (B, T/2, 2D) (an odd last
  frame trimmed, lengths halved), each layer over ``pack_padded_sequence(enforce_sorted=False)``; a speller
  of ``LSTMCell`` layers stepped in a Python loop, dot-product content attention (``bmm``,
  ``masked_fill(pad, -inf)``, ``softmax``), teacher forcing by one ``torch.rand(1).item()`` coin per step,
  ``cross_entropy(ignore_index=PAD, label_smoothing=0.1)``, Adam with ``clip_grad_norm_``, and greedy
  decoding under ``@torch.no_grad()`` that stops once every row has emitted <eos>;
* ``TACOTRON_LITE`` follows NVIDIA/tacotron2's model.py cut down: a prenet whose dropout stays on at
  inference (``F.dropout(x, 0.5, training=True)``), location-sensitive attention (a ``Conv1d`` over the
  previous and cumulative attention weights, ``Linear`` projections, ``tanh`` energies, ``masked_fill``,
  ``softmax``), an attention ``LSTMCell`` and a decoder ``LSTMCell``, padded frames filled in place
  (``masked_fill_``), a stop-token ``BCEWithLogitsLoss``, a ``Conv1d``/``BatchNorm1d``/``tanh`` postnet added as a
  residual, L1 + MSE mel losses, and the guided attention loss of Tachibana et al. (DC-TTS) built from
  ``torch.arange`` and ``exp``; free-running inference stops on ``sigmoid(gate) > 0.5``;
* ``RNN_TRANSDUCER`` follows Graves' RNN transducer as the PyTorch tutorials of it write the toy (e.g.
  lorenlugosch's "Sequence-to-sequence learning with Transducers" notebook): a ``GRU`` encoder, a ``GRU``
  prediction network over the labels behind a blank start symbol, the joint network by broadcasting
  (B, T, 1, H) + (B, 1, U+1, H), ``tanh``, ``Linear``, ``log_softmax``, the transducer loss written by hand as
  the forward recursion over the (T, U+1) lattice with ``torch.logsumexp``, and greedy transducer decoding
  (several symbols per frame, the prediction ``GRU`` stepped with its hidden state, a blank penalty).

The random draws (the teacher-forcing coin, the prenet's dropout masks) read the same NumPy stream in both runs
(``_shared_draws``, ``_shared_dropout``), so everything downstream can be compared exactly. LAS and the transducer
also run with model and batch on the GPU (``pytest.mark.gpu``: the real one, or the strict CuPy stand-in).
Pinned at the end: a mixed-dtype ``binary_cross_entropy_with_logits`` takes the target's dtype, as torch's (since
round 20), and one difference from torch is kept: a convolution input changed in place after the call (torch
refuses at backward; minigrad's convolution kept its own copy and returns the gradient of what it read).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import MINIGRAD_IMPORTS, TORCH_IMPORTS, _assert_same_weights, _twin_models
from tests.test_pytorch_programs_flow import _lean_torch  # noqa: F401 - autouse: torch lean, _dynamo imported in setup
from tests.test_pytorch_programs_generative import _shared_draws
from tests.test_pytorch_programs_gnn import _shared_dropout

IMPORTS = (TORCH_IMPORTS + "from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence\n",
           MINIGRAD_IMPORTS + "from minigrad.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence\n")


LISTEN_ATTEND_SPELL = '''
PAD, SOS, EOS = 0, 1, 2


def run_packed(rnn, x, lengths):
    """A batch-first recurrent layer over the valid frames only; padding comes back as zeros."""
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, _ = rnn(packed)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.size(1))
    return out


class PyramidalListener(nn.Module):
    """Frames (B, T, F) and lengths (B,) to listener features (B, T // 2**levels, 2H) and their lengths."""

    def __init__(self, n_features, hidden, levels=2):
        super().__init__()
        self.base = nn.LSTM(n_features, hidden, batch_first=True, bidirectional=True)
        self.pyramid = nn.ModuleList(
            [nn.LSTM(4 * hidden, hidden, batch_first=True, bidirectional=True) for _ in range(levels)])

    def forward(self, frames, lengths):
        out = run_packed(self.base, frames, lengths)
        for rnn in self.pyramid:
            batch, steps, size = out.shape
            if steps % 2 == 1:   # the last frame has no partner
                out = out[:, :steps - 1, :]
                steps -= 1
            out = out.contiguous().view(batch, steps // 2, size * 2)   # two neighbours side by side
            lengths = lengths // 2
            out = run_packed(rnn, out, lengths)
        return out, lengths


class Speller(nn.Module):
    """One character per call: the previous character and context through stacked LSTMCells, then attention."""

    def __init__(self, vocab_size, embed_size, hidden, listener_size, layers=2):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size, padding_idx=PAD)
        sizes = [embed_size + listener_size] + [hidden] * (layers - 1)
        self.cells = nn.ModuleList([nn.LSTMCell(size, hidden) for size in sizes])
        self.query = nn.Linear(hidden, listener_size)
        self.classifier = nn.Linear(hidden + listener_size, vocab_size)

    def initial_state(self, listener):
        batch = listener.size(0)
        states = [(listener.new_zeros(batch, cell.hidden_size), listener.new_zeros(batch, cell.hidden_size))
                  for cell in self.cells]
        return listener.new_zeros(batch, listener.size(2)), states

    @staticmethod
    def attend(query, listener, padding):
        """query (B, D), listener (B, S, D), padding (B, S) True where no frame -> context (B, D), weights (B, S)."""
        energies = torch.bmm(listener, query.unsqueeze(2)).squeeze(2)
        weights = F.softmax(energies.masked_fill(padding, float("-inf")), dim=-1)
        return torch.bmm(weights.unsqueeze(1), listener).squeeze(1), weights

    def forward(self, token, context, states, listener, padding):
        x = torch.cat([self.embedding(token), context], dim=-1)
        new_states = []
        for cell, state in zip(self.cells, states):
            h, c = cell(x, state)
            new_states.append((h, c))
            x = h
        context, weights = self.attend(self.query(x), listener, padding)
        logits = self.classifier(torch.cat([x, context], dim=-1))
        return logits, context, new_states, weights


class ListenAttendSpell(nn.Module):
    def __init__(self, n_features, vocab_size, hidden=5):
        super().__init__()
        self.listener = PyramidalListener(n_features, hidden)
        self.speller = Speller(vocab_size, 4, 2 * hidden, 2 * hidden)

    def listen(self, frames, lengths):
        listener, lengths = self.listener(frames, lengths)
        steps = torch.arange(listener.size(1), device=listener.device)
        padding = steps.unsqueeze(0) >= lengths.to(listener.device).unsqueeze(1)
        return listener, padding

    def forward(self, frames, lengths, targets, teacher_forcing=0.7):
        """targets (B, U) ending in EOS, PAD after -> logits (B, U, V)."""
        listener, padding = self.listen(frames, lengths)
        context, states = self.speller.initial_state(listener)
        token = targets.new_full((targets.size(0),), SOS)
        outputs = []
        for step in range(targets.size(1)):
            logits, context, states, _ = self.speller(token, context, states, listener, padding)
            outputs.append(logits)
            if torch.rand(1).item() < teacher_forcing:   # one coin for the whole batch at this step
                token = targets[:, step]
            else:
                token = logits.argmax(dim=-1)
        return torch.stack(outputs, dim=1)

    @torch.no_grad()
    def greedy_decode(self, frames, lengths, max_length=8):
        listener, padding = self.listen(frames, lengths)
        context, states = self.speller.initial_state(listener)
        token = torch.full((frames.size(0),), SOS, dtype=torch.long, device=frames.device)
        finished = torch.zeros(frames.size(0), dtype=torch.bool, device=frames.device)
        decoded, attention = [], []
        for _ in range(max_length):
            logits, context, states, weights = self.speller(token, context, states, listener, padding)
            token = logits.argmax(dim=-1).masked_fill(finished, PAD)
            decoded.append(token)
            attention.append(weights)
            finished = finished | (token == EOS)
            if finished.all():
                break
        return torch.stack(decoded, dim=1).tolist(), torch.stack(attention, dim=1).cpu().numpy()


def make_model(n_features, vocab_size):
    return ListenAttendSpell(n_features, vocab_size)


def train(model, frames, lengths, targets, steps, lr=0.1, clip=1.0, device="cpu"):
    """lengths stay on the CPU, where pack_padded_sequence wants them."""
    frames, targets = torch.from_numpy(frames).to(device), torch.from_numpy(targets).to(device)
    lengths = torch.from_numpy(lengths)
    optimizer = optim.Adam(model.parameters(), lr=lr)
    losses, norms = [], []
    for _ in range(steps):
        optimizer.zero_grad()
        logits = model(frames, lengths, targets)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=PAD,
                               label_smoothing=0.1)
        loss.backward()
        norms.append(nn.utils.clip_grad_norm_(model.parameters(), clip).item())
        optimizer.step()
        losses.append(loss.item())
    return losses, norms
'''


TACOTRON_LITE = '''
def lengths_to_mask(lengths):
    """(B,) lengths -> (B, max) True on the valid positions."""
    positions = torch.arange(int(lengths.max().item()), device=lengths.device)
    return positions.unsqueeze(0) < lengths.unsqueeze(1)


class Encoder(nn.Module):
    """Symbols (B, S) sorted longest first -> memory (B, S, 2H): embedding, one conv block, a packed BiLSTM."""

    def __init__(self, n_symbols, size):
        super().__init__()
        self.embedding = nn.Embedding(n_symbols, size)
        self.conv = nn.Sequential(nn.Conv1d(size, size, 3, padding=1, bias=False), nn.BatchNorm1d(size))
        self.lstm = nn.LSTM(size, size // 2, batch_first=True, bidirectional=True)

    def forward(self, text, lengths):
        x = F.relu(self.conv(self.embedding(text).transpose(1, 2))).transpose(1, 2)
        x = pack_padded_sequence(x, lengths.cpu().numpy(), batch_first=True)
        self.lstm.flatten_parameters()
        out, _ = self.lstm(x)
        out, _ = pad_packed_sequence(out, batch_first=True)
        return out


class Prenet(nn.Module):
    def __init__(self, in_size, sizes):
        super().__init__()
        self.layers = nn.ModuleList(
            [nn.Linear(a, b, bias=False) for a, b in zip([in_size] + sizes[:-1], sizes)])

    def forward(self, x):
        for linear in self.layers:   # dropout on even at inference: the only variation the decoder sees
            x = F.dropout(F.relu(linear(x)), p=0.5, training=True)
        return x


class LocationSensitiveAttention(nn.Module):
    def __init__(self, rnn_size, memory_size, attention_size, filters=3, kernel=5):
        super().__init__()
        self.query_layer = nn.Linear(rnn_size, attention_size, bias=False)
        self.memory_layer = nn.Linear(memory_size, attention_size, bias=False)
        self.v = nn.Linear(attention_size, 1, bias=False)
        self.location_conv = nn.Conv1d(2, filters, kernel, padding=(kernel - 1) // 2, bias=False)
        self.location_dense = nn.Linear(filters, attention_size, bias=False)

    def forward(self, query, memory, processed_memory, weights_cat, padding):
        """query (B, R), memory (B, S, D), weights_cat (B, 2, S) -> context (B, D), weights (B, S)."""
        location = self.location_dense(self.location_conv(weights_cat).transpose(1, 2))
        energies = self.v(torch.tanh(self.query_layer(query.unsqueeze(1)) + location + processed_memory))
        energies = energies.squeeze(-1).masked_fill(padding, -float("inf"))
        weights = F.softmax(energies, dim=1)
        return torch.bmm(weights.unsqueeze(1), memory).squeeze(1), weights


class Decoder(nn.Module):
    def __init__(self, n_mels, memory_size, prenet_size=6, rnn_size=8, attention_size=6):
        super().__init__()
        self.n_mels, self.rnn_size = n_mels, rnn_size
        self.prenet = Prenet(n_mels, [prenet_size, prenet_size])
        self.attention_rnn = nn.LSTMCell(prenet_size + memory_size, rnn_size)
        self.attention_layer = LocationSensitiveAttention(rnn_size, memory_size, attention_size)
        self.decoder_rnn = nn.LSTMCell(rnn_size + memory_size, rnn_size)
        self.linear_projection = nn.Linear(rnn_size + memory_size, n_mels)
        self.gate_layer = nn.Linear(rnn_size + memory_size, 1)

    def initial_state(self, memory, text_lengths):
        batch, steps, size = memory.shape
        self.attention_state = (memory.new_zeros(batch, self.rnn_size), memory.new_zeros(batch, self.rnn_size))
        self.decoder_state = (memory.new_zeros(batch, self.rnn_size), memory.new_zeros(batch, self.rnn_size))
        self.weights = memory.new_zeros(batch, steps)
        self.cumulative = memory.new_zeros(batch, steps)
        self.context = memory.new_zeros(batch, size)
        self.memory, self.processed = memory, self.attention_layer.memory_layer(memory)
        self.padding = ~lengths_to_mask(text_lengths)

    def step(self, prenet_frame):
        self.attention_state = self.attention_rnn(torch.cat((prenet_frame, self.context), -1), self.attention_state)
        weights_cat = torch.cat((self.weights.unsqueeze(1), self.cumulative.unsqueeze(1)), dim=1)
        self.context, self.weights = self.attention_layer(self.attention_state[0], self.memory, self.processed,
                                                          weights_cat, self.padding)
        self.cumulative = self.cumulative + self.weights
        self.decoder_state = self.decoder_rnn(torch.cat((self.attention_state[0], self.context), -1),
                                              self.decoder_state)
        hidden_context = torch.cat((self.decoder_state[0], self.context), dim=1)
        return self.linear_projection(hidden_context), self.gate_layer(hidden_context), self.weights

    def forward(self, memory, mels, text_lengths):
        """Teacher forced: mels (B, n_mels, T) -> mel (B, n_mels, T), gate (B, T), alignments (B, T, S)."""
        go = memory.new_zeros(1, memory.size(0), self.n_mels)
        inputs = self.prenet(torch.cat((go, mels.permute(2, 0, 1)), dim=0))
        self.initial_state(memory, text_lengths)
        frames, gates, alignments = [], [], []
        while len(frames) < inputs.size(0) - 1:
            frame, gate, weights = self.step(inputs[len(frames)])
            frames += [frame.squeeze(1)]
            gates += [gate.squeeze(1)]
            alignments += [weights]
        return (torch.stack(frames).permute(1, 2, 0).contiguous(), torch.stack(gates).transpose(0, 1).contiguous(),
                torch.stack(alignments).transpose(0, 1))

    def inference(self, memory, text_lengths, max_steps=6):
        frame = memory.new_zeros(memory.size(0), self.n_mels)
        self.initial_state(memory, text_lengths)
        frames, gates = [], []
        while True:
            frame, gate, _ = self.step(self.prenet(frame))
            frames.append(frame)
            gates.append(gate.squeeze(1))
            if torch.sigmoid(gate.data).gt(0.5).all() or len(frames) == max_steps:
                break
        return torch.stack(frames, dim=2), torch.stack(gates, dim=1)


class Postnet(nn.Module):
    def __init__(self, n_mels, channels=6, kernel=5, layers=3):
        super().__init__()
        sizes = [n_mels] + [channels] * (layers - 1) + [n_mels]
        # no bias before a BatchNorm, as ESPnet's postnet: the norm removes it, its gradient would be exactly 0
        self.convolutions = nn.ModuleList(
            [nn.Sequential(nn.Conv1d(a, b, kernel, padding=(kernel - 1) // 2, bias=False), nn.BatchNorm1d(b))
             for a, b in zip(sizes[:-1], sizes[1:])])

    def forward(self, x):
        for i, conv in enumerate(self.convolutions):
            x = conv(x)
            if i < len(self.convolutions) - 1:
                x = torch.tanh(x)
        return x


class TacotronLite(nn.Module):
    def __init__(self, n_symbols, n_mels, size=8):
        super().__init__()
        self.n_mels = n_mels
        self.encoder = Encoder(n_symbols, size)
        self.decoder = Decoder(n_mels, size)
        self.postnet = Postnet(n_mels)

    def forward(self, text, text_lengths, mels, mel_lengths):
        memory = self.encoder(text, text_lengths)
        mel, gate, alignments = self.decoder(memory, mels, text_lengths)
        post = mel + self.postnet(mel)
        padding = ~lengths_to_mask(mel_lengths)
        frame_padding = padding.unsqueeze(1).expand(-1, self.n_mels, -1)
        mel = mel.masked_fill(frame_padding, 0.0)   # the postnet saved mel for its backward: not in place
        post.masked_fill_(frame_padding, 0.0)
        gate.masked_fill_(padding, 1e3)   # the padded frames say "stop"
        return mel, post, gate, alignments

    def inference(self, text, text_lengths):
        mel, gate = self.decoder.inference(self.encoder(text, text_lengths), text_lengths)
        return mel, mel + self.postnet(mel), gate


def guided_attention_loss(alignments, text_lengths, mel_lengths, g=0.2):
    """Mean of W * A over the valid (frame, symbol) cells, W = 1 - exp(-(s/S - t/T)^2 / (2 g^2)): attention away
    from the diagonal costs."""
    batch, frames, symbols = alignments.shape
    s = torch.arange(symbols).to(alignments.dtype).view(1, 1, -1) / text_lengths.to(alignments.dtype).view(-1, 1, 1)
    t = torch.arange(frames).to(alignments.dtype).view(1, -1, 1) / mel_lengths.to(alignments.dtype).view(-1, 1, 1)
    weights = 1.0 - torch.exp(-((s - t) ** 2) / (2 * g * g))
    valid = (lengths_to_mask(mel_lengths).unsqueeze(2) & lengths_to_mask(text_lengths).unsqueeze(1)).to(weights.dtype)
    return (weights * alignments * valid).sum() / valid.sum()


class TacotronLoss(nn.Module):
    def __init__(self):
        super().__init__()
        self.gate_loss = nn.BCEWithLogitsLoss()

    def forward(self, outputs, mel_target, gate_target):
        mel, post, gate, _ = outputs
        mel_loss = (F.mse_loss(mel, mel_target) + F.mse_loss(post, mel_target)
                    + F.l1_loss(mel, mel_target) + F.l1_loss(post, mel_target))
        return mel_loss, self.gate_loss(gate.view(-1, 1), gate_target.view(-1, 1))


def make_model(n_symbols, n_mels):
    return TacotronLite(n_symbols, n_mels)


def train(model, text, text_lengths, mels, mel_lengths, steps, lr=0.01):
    text, mels = torch.from_numpy(text), torch.from_numpy(mels)
    text_lengths, mel_lengths = torch.from_numpy(text_lengths), torch.from_numpy(mel_lengths)
    gate_target = (torch.arange(mels.size(2)).unsqueeze(0) >= mel_lengths.unsqueeze(1) - 1).to(mels.dtype)
    criterion = TacotronLoss()
    optimizer = optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-6, weight_decay=1e-6)
    model.train()
    history = []
    for _ in range(steps):
        model.zero_grad()
        outputs = model(text, text_lengths, mels, mel_lengths)
        mel_loss, gate_loss = criterion(outputs, mels, gate_target)
        attention_loss = guided_attention_loss(outputs[3], text_lengths, mel_lengths)
        loss = mel_loss + gate_loss + attention_loss
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        history.append([loss.item(), mel_loss.item(), gate_loss.item(), attention_loss.item(), grad_norm.item()])
    return history


def synthesise(model, text, text_lengths):
    model.eval()
    with torch.no_grad():
        mel, post, gate = model.inference(torch.from_numpy(text), torch.from_numpy(text_lengths))
    return mel.numpy(), post.numpy(), gate.numpy()
'''


RNN_TRANSDUCER = '''
BLANK = 0


class Transducer(nn.Module):
    """Frames (B, T, F) and labels (B, U) to joint log-probabilities (B, T, U+1, V); symbol 0 is the blank."""

    def __init__(self, n_features, vocab_size, hidden=6, joint_size=7):
        super().__init__()
        self.encoder = nn.GRU(n_features, hidden, batch_first=True)
        self.embedding = nn.Embedding(vocab_size, hidden)
        self.predictor = nn.GRU(hidden, hidden, batch_first=True)
        self.encoder_proj = nn.Linear(hidden, joint_size)
        self.predictor_proj = nn.Linear(hidden, joint_size)
        self.output = nn.Linear(joint_size, vocab_size)

    def joint(self, encoded, predicted):
        """(B, T, J) and (B, U+1, J) -> (B, T, U+1, V), every frame against every label prefix."""
        return F.log_softmax(self.output(torch.tanh(encoded.unsqueeze(2) + predicted.unsqueeze(1))), dim=-1)

    def predict(self, labels, state=None):
        out, state = self.predictor(self.embedding(labels), state)
        return self.predictor_proj(out), state

    def forward(self, frames, labels):
        encoded, _ = self.encoder(frames)
        start = labels.new_full((labels.size(0), 1), BLANK)   # the blank doubles as the start symbol
        predicted, _ = self.predict(torch.cat([start, labels], dim=1))
        return self.joint(self.encoder_proj(encoded), predicted)

    @torch.no_grad()
    def greedy_decode(self, frames, max_symbols=3, blank_penalty=0.0):
        """One utterance (T, F) -> label ids: at each frame emit until the blank wins (at most max_symbols);
        blank_penalty is taken off the blank's log-probability first (fewer deletions)."""
        encoded, _ = self.encoder(frames.unsqueeze(0))
        encoded = self.encoder_proj(encoded)[0]
        predicted, state = self.predict(torch.tensor([[BLANK]], device=frames.device))
        hypothesis = []
        for t in range(encoded.size(0)):
            for _ in range(max_symbols):
                log_probs = self.joint(encoded[t].view(1, 1, -1), predicted)[0, 0, 0]
                log_probs[BLANK] -= blank_penalty
                symbol = int(log_probs.argmax())
                if symbol == BLANK:
                    break
                hypothesis.append(symbol)
                predicted, state = self.predict(torch.tensor([[symbol]], device=frames.device), state)
        return hypothesis


def transducer_loss(log_probs, labels, frame_lengths, label_lengths):
    """Mean over the batch of -log P(labels | frames), by the forward variables of Graves (2012):
    alpha(t, u) = logsumexp(alpha(t-1, u) + blank(t-1, u), alpha(t, u-1) + emit(t, u-1)),
    -log P = -(alpha(T-1, U) + blank(T-1, U)) at each utterance's own (T, U)."""
    batch, frames, prefixes, _ = log_probs.shape
    blank = log_probs[:, :, :, BLANK]                                                 # (B, T, U+1)
    index = labels.view(batch, 1, prefixes - 1, 1).expand(batch, frames, prefixes - 1, 1)
    emit = log_probs[:, :, :-1, :].gather(3, index).squeeze(3)                        # (B, T, U)
    alpha = [[None] * prefixes for _ in range(frames)]
    for t in range(frames):
        for u in range(prefixes):
            if t == 0 and u == 0:
                alpha[t][u] = log_probs.new_zeros(batch)
            elif t == 0:
                alpha[t][u] = alpha[t][u - 1] + emit[:, t, u - 1]
            elif u == 0:
                alpha[t][u] = alpha[t - 1][u] + blank[:, t - 1, u]
            else:
                paths = torch.stack([alpha[t - 1][u] + blank[:, t - 1, u], alpha[t][u - 1] + emit[:, t, u - 1]])
                alpha[t][u] = torch.logsumexp(paths, dim=0)
    table = torch.stack([torch.stack(row, dim=1) for row in alpha], dim=1)           # (B, T, U+1)
    rows = torch.arange(batch, device=log_probs.device)
    last_t, last_u = frame_lengths - 1, label_lengths
    log_likelihood = table[rows, last_t, last_u] + blank[rows, last_t, last_u]
    return -log_likelihood.mean(), table


def make_model(n_features, vocab_size):
    return Transducer(n_features, vocab_size)


def gradients(model, frames, labels, frame_lengths, label_lengths):
    """The loss, the lattice of forward variables and every parameter's gradient, for one batch."""
    model.zero_grad()
    log_probs = model(frames, labels)
    log_probs.retain_grad()
    loss, table = transducer_loss(log_probs, labels, frame_lengths, label_lengths)
    loss.backward()
    grads = {name: p.grad.cpu().numpy().copy() for name, p in model.named_parameters()}
    return loss.item(), table.detach().cpu().numpy(), log_probs.grad.cpu().numpy(), grads


def train(model, frames, labels, frame_lengths, label_lengths, steps, lr=0.2, device="cpu", blank_penalty=0.5):
    frames, labels = torch.from_numpy(frames).to(device), torch.from_numpy(labels).to(device)
    frame_lengths = torch.from_numpy(frame_lengths).to(device)
    label_lengths = torch.from_numpy(label_lengths).to(device)
    first = gradients(model, frames, labels, frame_lengths, label_lengths)
    optimizer = optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss, _ = transducer_loss(model(frames, labels), labels, frame_lengths, label_lengths)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    decoded = [model.greedy_decode(f[:n], blank_penalty=blank_penalty) for f, n in zip(frames, frame_lengths.tolist())]
    return first, losses, decoded
'''

PROGRAMS = (LISTEN_ATTEND_SPELL, TACOTRON_LITE, RNN_TRANSDUCER)


def test_the_programs_differ_only_in_their_imports() -> None:
    torch_lines, mg_lines = IMPORTS
    assert torch_lines.splitlines()[5].replace("torch", "minigrad") == mg_lines.splitlines()[5]
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. Listen, Attend and Spell


def _utterances(seed: int, batch: int, n_features: int, vocab: int) -> tuple:
    """Frames (B, T, F) float32 whose mean level tracks the transcript, lengths (B,) unsorted (one odd T),
    targets (B, U) int64: symbols 3.. then EOS (2), PAD (0) after."""
    rng = np.random.default_rng(seed)
    lengths = np.array([13, 9, 11, 8][:batch], dtype=np.int64)
    frames = np.zeros((batch, lengths.max(), n_features), dtype=np.float32)
    label_lengths = rng.integers(2, 5, batch)
    targets = np.zeros((batch, label_lengths.max() + 1), dtype=np.int64)
    for row in range(batch):
        symbols = rng.integers(3, vocab, label_lengths[row])
        targets[row, :label_lengths[row]] = symbols
        targets[row, label_lengths[row]] = 2
        level = np.repeat(symbols, -(-lengths[row] // label_lengths[row]))[:lengths[row]]
        frames[row, :lengths[row]] = (0.3 * level[:, None] + rng.standard_normal((lengths[row], n_features)))
    return frames, lengths, targets


def test_listen_attend_spell(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pyramidal BiLSTM listener over packed unsorted batches, an LSTMCell speller with masked dot attention,
    teacher forcing by a shared coin, label smoothing with ignore_index, Adam + clipping, greedy decoding."""
    n_features, vocab = 3, 7
    frames, lengths, targets = _utterances(0, 4, n_features, vocab)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(
        LISTEN_ATTEND_SPELL, n_features, vocab, imports=IMPORTS)
    _shared_draws(monkeypatch, torch, 0)
    expected = torch_program["train"](torch_model, frames, lengths, targets, 6)
    _shared_draws(monkeypatch, torch, 0)
    got = mg_program["train"](mg_model, frames, lengths, targets, 6)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-5, err_msg="losses")
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-5, err_msg="gradient norms")
    for (name, p), (_, q) in zip(mg_model.named_parameters(), torch_model.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=name)
    _assert_same_weights(torch_model, mg_model, initial)
    mg = mg_program["torch"]
    decoded, attention = mg_model.greedy_decode(mg.from_numpy(frames), mg.from_numpy(lengths))
    expected_decoded, expected_attention = torch_model.greedy_decode(torch.from_numpy(frames),
                                                                     torch.from_numpy(lengths))
    assert decoded == expected_decoded
    # every row emitted <eos> (2) within 4 steps, the first to finish padded with PAD (0) after it
    assert len(decoded[0]) == 4 and all(2 in row for row in decoded) and decoded[3][-1] == 0
    np.testing.assert_allclose(attention, expected_attention, rtol=1e-5, atol=1e-7)
    # lengths 13, 9, 11, 8 -> 3, 2, 2, 2 listener frames: attention never lands on the padding
    assert np.all(attention[1:, :, 2] == 0.0) and attention.shape[2] == 3


# ----------------------------------------------------------------------------- 2. Tacotron-lite


def _text_and_mels(seed: int, n_symbols: int, n_mels: int) -> tuple:
    """Symbols (B, S) sorted longest first, PAD 0; mels (B, n_mels, T) float32 zero after each length."""
    rng = np.random.default_rng(seed)
    text_lengths = np.array([5, 4, 3], dtype=np.int64)
    mel_lengths = np.array([6, 7, 4], dtype=np.int64)
    text = np.zeros((3, text_lengths.max()), dtype=np.int64)
    mels = np.zeros((3, n_mels, mel_lengths.max()), dtype=np.float32)
    for row in range(3):
        text[row, :text_lengths[row]] = rng.integers(1, n_symbols, text_lengths[row])
        mels[row, :, :mel_lengths[row]] = rng.standard_normal((n_mels, mel_lengths[row])) * 0.5
    return text, text_lengths, mels, mel_lengths


def test_tacotron_lite(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Location-sensitive attention between two LSTMCells, prenet dropout on at inference (shared masks), a
    BatchNorm postnet residual, L1 + MSE + stop-token BCE + guided attention losses, Adam, then free-running
    synthesis in eval mode.

    In float64 (``.double()``, float64 mels): in float32 the runs agree to 1e-6 in the losses but Adam's
    steps on the weights with a near-zero gradient (~3e-7) follow float32 rounding, which moves the third step's
    gradient norm by ~1e-5; in float64 every number agrees to ~1e-14."""
    n_symbols, n_mels = 6, 4
    text, text_lengths, mels, mel_lengths = _text_and_mels(1, n_symbols, n_mels)
    mels = mels.astype(np.float64)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(
        TACOTRON_LITE, n_symbols, n_mels, imports=IMPORTS)
    torch_model.double()
    mg_model.double()
    _shared_dropout(monkeypatch, torch, 2)
    expected = torch_program["train"](torch_model, text, text_lengths, mels, mel_lengths, 3)
    got = mg_program["train"](mg_model, text, text_lengths, mels, mel_lengths, 3)
    np.testing.assert_allclose(got, expected, rtol=1e-11)
    assert got[-1][0] < got[0][0]
    _assert_same_weights(torch_model, mg_model, initial)
    got = mg_program["synthesise"](mg_model, text, text_lengths)
    expected = torch_program["synthesise"](torch_model, text, text_lengths)
    for name, ours, theirs in zip(("mel", "postnet", "gate"), got, expected):
        assert ours.dtype == theirs.dtype == np.float64
        np.testing.assert_allclose(ours, theirs, rtol=1e-11, atol=1e-14, err_msg=name)


# ----------------------------------------------------------------------------- 3. RNN transducer


def _transducer_data(seed: int, n_features: int, vocab: int) -> tuple:
    rng = np.random.default_rng(seed)
    frame_lengths = np.array([6, 4, 5], dtype=np.int64)
    label_lengths = np.array([2, 3, 1], dtype=np.int64)
    frames = rng.standard_normal((3, 6, n_features)).astype(np.float32)
    labels = np.zeros((3, 3), dtype=np.int64)   # padded with the blank; never read past each length
    for row in range(3):
        labels[row, :label_lengths[row]] = rng.integers(1, vocab, label_lengths[row])
    return frames, labels, frame_lengths, label_lengths


def test_rnn_transducer_loss_by_hand(torch: Any) -> None:
    """GRU encoder and prediction network, a broadcast joint, the forward lattice with logsumexp: loss, lattice,
    d loss / d log-probs and parameter gradients, then Adam steps and greedy transducer decoding."""
    n_features, vocab = 3, 4
    data = _transducer_data(2, n_features, vocab)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(
        RNN_TRANSDUCER, n_features, vocab, imports=IMPORTS)
    expected = torch_program["train"](torch_model, *data, 8)
    got = mg_program["train"](mg_model, *data, 8)
    (loss, table, log_prob_grad, grads), losses, decoded = got
    (expected_loss, expected_table, expected_log_prob_grad, expected_grads), expected_losses, expected_decoded = (
        expected)
    assert loss == pytest.approx(expected_loss, rel=1e-6)
    np.testing.assert_allclose(table, expected_table, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(log_prob_grad, expected_log_prob_grad, rtol=1e-5, atol=1e-7)
    # the padded label positions past each utterance's U are never on a path: exactly zero gradient there
    assert np.all(log_prob_grad[2, :, 2:] == 0.0)
    for name in expected_grads:
        np.testing.assert_allclose(grads[name], expected_grads[name], rtol=1e-4, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-5)
    assert decoded == expected_decoded == [[2], [3, 3], [2]]   # labels [2, 2], [3, 3, 3], [2]
    _assert_same_weights(torch_model, mg_model, initial)


@pytest.mark.gpu
def test_rnn_transducer_on_the_gpu(torch: Any) -> None:
    """The transducer program with its model and batch on the GPU (real, or the strict CuPy stand-in): the lattice,
    d loss / d log-probs, the parameter gradients, the Adam steps and the greedy decoding as torch's on the CPU."""
    n_features, vocab = 3, 4
    data = _transducer_data(2, n_features, vocab)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(
        RNN_TRANSDUCER, n_features, vocab, imports=IMPORTS)
    expected = torch_program["train"](torch_model, *data, 2)
    got = mg_program["train"](mg_model.to("cuda"), *data, 2, device="cuda")
    assert next(mg_model.parameters()).device.type == "cuda"
    for ours, theirs in zip(got[0][1:3], expected[0][1:3]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)
    for name, grad in expected[0][3].items():
        np.testing.assert_allclose(got[0][3][name], grad, rtol=1e-4, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-5)
    assert got[2] == expected[2]


@pytest.mark.gpu
def test_listen_attend_spell_on_the_gpu(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The LAS program on the GPU (real, or the strict CuPy stand-in), lengths on the CPU for packing: the losses,
    gradient norms, weights and the greedy decoding as torch's on the CPU."""
    n_features, vocab = 3, 7
    frames, lengths, targets = _utterances(0, 4, n_features, vocab)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(
        LISTEN_ATTEND_SPELL, n_features, vocab, imports=IMPORTS)
    _shared_draws(monkeypatch, torch, 0)
    expected = torch_program["train"](torch_model, frames, lengths, targets, 2)
    _shared_draws(monkeypatch, torch, 0)
    got = mg_program["train"](mg_model.to("cuda"), frames, lengths, targets, 2, device="cuda")
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    mg = mg_program["torch"]
    decoded, attention = mg_model.greedy_decode(mg.from_numpy(frames).to("cuda"), mg.from_numpy(lengths))
    expected_decoded, expected_attention = torch_model.greedy_decode(torch.from_numpy(frames),
                                                                     torch.from_numpy(lengths))
    assert decoded == expected_decoded
    np.testing.assert_allclose(attention, expected_attention, rtol=1e-5, atol=1e-7)
    _assert_same_weights(torch_model, mg_model.cpu(), initial)


# ----------------------------------------------------------------------------- differences kept on purpose


def test_stop_token_loss_takes_the_float32_targets_dtype_as_torch(torch: Any) -> None:
    """torch's binary_cross_entropy_with_logits gives float32 for float64 logits and a float32 target (its
    in-place steps keep the target's dtype), and so does minigrad's since round 20 (it promoted as NumPy does
    before, a difference documented nowhere); the TACOTRON_LITE program builds its gate target in the mels' dtype,
    which gives both the float64 loss."""
    import minigrad as mg  # noqa: PLC0415
    import nn  # noqa: PLC0415

    logits = np.array([[0.3], [-2.0], [4.5]])
    target = np.array([[1.0], [0.0], [1.0]], dtype=np.float32)
    ours = nn.functional.binary_cross_entropy_with_logits(mg.from_numpy(logits), mg.from_numpy(target))
    theirs = torch.nn.functional.binary_cross_entropy_with_logits(torch.from_numpy(logits), torch.from_numpy(target))
    assert ours.dtype == mg.float32 and theirs.dtype == torch.float32
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-6)


def test_changing_a_convolution_input_in_place_is_refused_as_torch(torch: Any) -> None:
    """Tacotron 2 fills the padded mel frames in place after its postnet has read them (through ``.data``, which
    torch's version counter does not see). Written with the tensor itself, torch refuses at backward, since its
    convolution saves the input for the weight's gradient; minigrad's saves the input too (not its unfolded
    windows) and refuses the same way. Unchanged, both give the same weight gradient."""
    import minigrad as mg  # noqa: PLC0415
    import nn  # noqa: PLC0415

    rng = np.random.default_rng(3)
    x_values, w_values = rng.standard_normal((1, 2, 6)), rng.standard_normal((3, 2, 3))
    weight_grads = []
    for lib, functional in ((torch, torch.nn.functional), (mg, nn.functional)):
        x = lib.from_numpy(x_values).requires_grad_()
        weight = lib.from_numpy(w_values).requires_grad_()
        out = functional.conv1d(x * 2, weight, padding=1)
        (out * out).sum().backward()
        weight_grads.append(weight.grad.numpy())
    np.testing.assert_allclose(weight_grads[1], weight_grads[0], rtol=1e-12)
    for lib, functional in ((torch, torch.nn.functional), (mg, nn.functional)):
        x = lib.from_numpy(x_values).requires_grad_()
        mel = x * 2
        out = functional.conv1d(mel, lib.from_numpy(w_values).requires_grad_(), padding=1)
        mel.masked_fill_(lib.from_numpy(x_values > 0), 0.0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            (out * out).sum().backward()
