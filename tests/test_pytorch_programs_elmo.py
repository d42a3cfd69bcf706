"""Recurrent contextual embeddings and language models, small, run unchanged on minigrad: only the imports differ.

Each program is our own rewrite of a well-known public PyTorch program (names, helpers and comments are ours),
cut to a tiny vocabulary, a few steps and generated data; the helpers and the rule come from
tests/test_pytorch_programs.py. Unlike the LSTM language models of tests/test_pytorch_programs_awd.py and the
word language model of tests/test_pytorch_programs.py, every recurrence here is written cell by cell:

* ``ELMO_LITE`` mirrors the bidirectional language model of ELMo as allenai/allennlp writes it
  (https://github.com/allenai/allennlp, ``modules/elmo.py``, ``elmo_lstm.py``, ``lstm_cell_with_projection.py``,
  ``scalar_mix.py``, ``highway.py``): a character CNN (``nn.Embedding(padding_idx=0)`` read as ``(B * T, D, C)``
  by ``transpose(1, 2)``, one ``nn.Conv1d`` per width, ``torch.max(..., dim=-1)`` over the characters and a relu,
  ``torch.cat``), two highway layers (one Linear to ``2 * width``, ``chunk``, ``gate * x + (1 - gate) * relu(t)``,
  the carry bias set to 1 with ``bias[width:].fill_`` under ``no_grad``), a projection; begin/end-of-sentence
  tokens put in with allennlp's ``add_sentence_boundary_token_ids`` (a ``new_zeros`` tensor filled by slice
  and row assignments, lengths read back with ``.detach().cpu().numpy()``) and taken out again with
  ``remove_sentence_boundaries`` (assignments of slices of a tensor that requires grad, so the gradient flows
  through ``__setitem__``); the batch sorted by length (``sort(0, descending=True)``, ``index_select``, the
  restoration indices from a second ``sort``) and each layer run as allennlp's ``LstmCellWithProjection``
  does, on the shrinking (forwards) or growing (backwards, ``go_forward=False``) slice of the batch still
  inside its sentence, writing into ``clone()``s of the full-batch state; the memory and the projected state
  clipped with ``torch.clamp`` (cell clip / projection clip), residual connections above the first layer;
  the backward language model either reads each row reversed inside its length (``torch.flip`` when every
  row is full, otherwise ``gather`` by reversed positions) or runs ``go_forward=False`` — the two give the same
  numbers; a full-softmax LM loss in each direction (``F.cross_entropy(ignore_index=0)``); ``ScalarMix``
  (``nn.ParameterList`` of ``torch.FloatTensor([0.0])`` scalars, ``softmax`` over their ``cat``,
  ``torch.split(weights, split_size_or_sections=1)``, times ``gamma``, optionally each layer normalised over
  its unmasked entries) feeding a tagger; ``optim.Adagrad(initial_accumulator_value=...)`` or Adam,
  ``clip_grad_norm_``. Losses, the scalar-mix outputs, the final gradients and weights are compared;
* ``MOGRIFIER_COPY`` is a Mogrifier LSTM (Melis et al. 2020, in the manner of its public PyTorch ports: rounds
  of ``x = 2 * sigmoid(Q h) * x`` and ``h = 2 * sigmoid(R x) * h`` before an ``nn.LSTMCell`` step) under a
  highway LSTM cell (allennlp's ``AugmentedLstm`` with ``use_highway``: six input blocks, five state blocks,
  ``torch.split``), trained on a delayed-copy task with truncated BPTT (``[(h.detach(), c.detach()) ...]``
  between windows), ``clip_grad_value_`` and RMSprop;
* ``DYNAMIC_EVALUATION`` mirrors benkrause/dynamic-evaluation (Krause et al. 2018): after an LSTM language
  model is trained (by hand, with the old ``p.add_(-lr, p.grad)`` of the code of its time),
  ``gradient_statistics`` collects the RMS of the training gradients on the Parameters themselves
  (``param.MS``, ``param.decrate = MS / sum of mean MS``), and evaluation adapts the weights after each
  segment with ``lamb * decrate * (w0 - w) - lr * grad / (MS + eps)`` added in place under
  ``torch.no_grad()``, ``decrate`` capped by a bool-mask assignment. The static and dynamic losses, the
  per-segment losses, the statistics and the adapted weights are compared.

One habit is written differently: Krause's ``param.data0 = 1 * param.data`` and ``param.MS = 0 * param.data``
are written ``param.detach().clone()`` and ``torch.zeros_like(param)``, and allennlp's
``layer.bias[width:].data.fill_(1)`` is ``fill_`` under ``no_grad``, because minigrad's ``.data`` is the
NumPy/CuPy array by design (README, "Coming from PyTorch").

No program draws random numbers after its weights are made, so every number is compared.

Fixed while writing these: PyTorch's deprecated overloads that give the scale first, by position, which it still
runs with a warning and the code of the dynamic-evaluation era is full of — ``p.data.add_(-lr, p.grad.data)``,
``torch.add(x, alpha, y)``, ``exp_avg_sq.mul_(beta2).addcmul_(1 - beta2, grad, grad)``,
``p.data.addcdiv_(-step_size, exp_avg, denom)`` — raised a TypeError here (``add_`` even read a one-element
tensor as ``alpha``); they now warn as PyTorch does and compute the same (minigrad/ops/pointwise.py ``_scale_first``,
minigrad/ops/inplace.py ``add_``/``sub_``; ``test_deprecated_scale_first_overloads``).

Kept as they are (DESIGN §3 or a clearer error than PyTorch's accident): an LSTM fed a float64 input with
float32 weights computes in float64 (NumPy promotion; PyTorch raises a ValueError); an LSTM's state given as one
tensor, or a GRU's as a tuple, raises ``nn.RecurrentStateError`` (PyTorch: an IndexError / AttributeError from
deep inside); ``pack_padded_sequence`` with a length beyond the input's steps raises ``PackingError`` (PyTorch
packs it without a word).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import MINIGRAD_IMPORTS, _assert_same_weights, _program, _twin_models
from tests.test_pytorch_programs_flow import _lean_torch  # noqa: F401 - autouse: torch lean, _dynamo imported in setup

ELMO_LITE = '''
class CharacterEncoder(nn.Module):
    """Character ids (B, T, C) to token vectors (B, T, P): embedded characters, one Conv1d per width with a
    max over the characters and a relu, highway layers, a linear projection (allennlp's char CNN, small)."""

    def __init__(self, chars, char_dim, filters, highway_layers, out_dim):
        super().__init__()
        self.char_embedding = nn.Embedding(chars, char_dim, padding_idx=0)
        self.convolutions = nn.ModuleList([nn.Conv1d(char_dim, count, kernel_size=width, bias=True)
                                           for width, count in filters])
        width = sum(count for _, count in filters)
        self.highways = nn.ModuleList([nn.Linear(width, 2 * width) for _ in range(highway_layers)])
        for layer in self.highways:   # start by carrying the input: gate bias 1 on the carry half
            with torch.no_grad():
                layer.bias[width:].fill_(1.0)
        self.projection = nn.Linear(width, out_dim)

    def forward(self, chars):
        batch, steps, length = chars.size()
        embedded = self.char_embedding(chars.view(-1, length)).transpose(1, 2)   # (B * T, D, C)
        pooled = []
        for conv in self.convolutions:
            features, _ = torch.max(conv(embedded), dim=-1)
            pooled.append(F.relu(features))
        token = torch.cat(pooled, dim=-1)
        for layer in self.highways:
            transform, gate = layer(token).chunk(2, dim=-1)
            gate = torch.sigmoid(gate)
            token = gate * token + (1 - gate) * F.relu(transform)
        return self.projection(token).view(batch, steps, -1)


class ClippedLstmCell(nn.Module):
    """One step of an LSTM with a projected state; the memory clipped to +-cell_clip and the projected state
    to +-proj_clip (allennlp's LstmCellWithProjection)."""

    def __init__(self, input_size, hidden_size, cell_size, cell_clip=3.0, proj_clip=3.0):
        super().__init__()
        self.cell_size, self.cell_clip, self.proj_clip = cell_size, cell_clip, proj_clip
        self.input_linearity = nn.Linear(input_size, 4 * cell_size, bias=False)
        self.state_linearity = nn.Linear(hidden_size, 4 * cell_size, bias=True)
        self.state_projection = nn.Linear(cell_size, hidden_size, bias=False)

    def forward(self, x, state):
        h, c = state
        gates = self.input_linearity(x) + self.state_linearity(h)
        n = self.cell_size
        input_gate = torch.sigmoid(gates[:, 0 * n:1 * n])
        forget_gate = torch.sigmoid(gates[:, 1 * n:2 * n])
        memory_init = torch.tanh(gates[:, 2 * n:3 * n])
        output_gate = torch.sigmoid(gates[:, 3 * n:4 * n])
        memory = input_gate * memory_init + forget_gate * c
        memory = torch.clamp(memory, -self.cell_clip, self.cell_clip)
        output = self.state_projection(output_gate * torch.tanh(memory))
        output = torch.clamp(output, -self.proj_clip, self.proj_clip)
        return output, memory


class DirectionalLM(nn.Module):
    """Stacked clipped LSTM cells over a batch sorted by decreasing length, (B, T, P), in one direction, residual
    connections above the first layer. As allennlp's LstmCellWithProjection, the rows still inside their sequence
    are the first ones, so each step runs on a shrinking (forwards) or growing (backwards) slice of the batch and
    writes into clones of the full-batch state. Returns every layer's outputs [(B, T, P)], zero on padding."""

    def __init__(self, size, cell_size, layers, go_forward=True):
        super().__init__()
        self.cells = nn.ModuleList([ClippedLstmCell(size, size, cell_size) for _ in range(layers)])
        self.cell_size, self.go_forward = cell_size, go_forward

    def run_layer(self, cell, inputs, batch_lengths):
        batch, steps, size = inputs.size()
        output_accumulator = inputs.new_zeros(batch, steps, size)
        full_batch_h = inputs.new_zeros(batch, size)
        full_batch_c = inputs.new_zeros(batch, self.cell_size)
        current = batch - 1 if self.go_forward else 0
        for timestep in range(steps):
            index = timestep if self.go_forward else steps - timestep - 1
            if self.go_forward:
                while batch_lengths[current] <= index:
                    current -= 1
            else:
                while current < len(batch_lengths) - 1 and batch_lengths[current + 1] > index:
                    current += 1
            previous_h = full_batch_h[0:current + 1].clone()
            previous_c = full_batch_c[0:current + 1].clone()
            h, c = cell(inputs[0:current + 1, index], (previous_h, previous_c))
            full_batch_h = full_batch_h.clone()
            full_batch_c = full_batch_c.clone()
            full_batch_h[0:current + 1] = h
            full_batch_c[0:current + 1] = c
            output_accumulator[0:current + 1, index] = h
        return output_accumulator

    def forward(self, inputs, batch_lengths):
        outputs, layer_input = [], inputs
        for index, cell in enumerate(self.cells):
            layer_output = self.run_layer(cell, layer_input, batch_lengths)
            if index > 0:
                layer_output = layer_output + layer_input
            outputs.append(layer_output)
            layer_input = layer_output
        return outputs


def sort_batch_by_length(tensor, sequence_lengths):
    """The rows by decreasing length, the sorted lengths, and the indices that put the rows back."""
    sorted_lengths, permutation_index = sequence_lengths.sort(0, descending=True)
    sorted_tensor = tensor.index_select(0, permutation_index)
    index_range = torch.arange(0, len(sequence_lengths), device=sequence_lengths.device)
    _, reverse_mapping = permutation_index.sort(0, descending=False)
    restoration_indices = index_range.index_select(0, reverse_mapping)
    return sorted_tensor, sorted_lengths, restoration_indices


def add_sentence_boundary_token_ids(tensor, mask, begin_token, end_token):
    """(B, T) or (B, T, C) ids with a begin token before and an end token after each row's words: (B, T + 2, ...)
    and the new mask (allennlp's helper of the same name)."""
    lengths = mask.sum(dim=1).detach().cpu().numpy()
    shape = list(tensor.shape)
    shape[1] += 2
    with_boundaries = tensor.new_zeros(*shape)
    with_boundaries[:, 1:-1] = tensor
    for i, j in enumerate(lengths):
        with_boundaries[i, 0] = begin_token
        with_boundaries[i, j + 1] = end_token
    if tensor.dim() == 2:
        return with_boundaries, with_boundaries != 0
    return with_boundaries, (with_boundaries > 0).long().sum(dim=-1) > 0


def remove_sentence_boundaries(tensor, mask):
    """(B, T + 2, D) without each row's first and last real step: (B, T, D) and the mask (B, T)."""
    lengths = mask.sum(dim=1).detach().cpu().numpy()
    shape = list(tensor.shape)
    shape[1] -= 2
    without = tensor.new_zeros(*shape)
    new_mask = tensor.new_zeros(shape[0], shape[1], dtype=torch.long)
    for i, j in enumerate(lengths):
        if j > 2:
            without[i, :(j - 2), :] = tensor[i, 1:(j - 1), :]
            new_mask[i, :(j - 2)] = 1
    return without, new_mask.bool()


def reverse_padded(x, lengths):
    """Each row's first lengths[b] steps reversed, the padding left where it is: x (B, T, ...) by gather."""
    steps = x.size(1)
    if bool((lengths == steps).all()):
        return torch.flip(x, dims=[1])
    positions = torch.arange(steps).unsqueeze(0)
    index = lengths.unsqueeze(1) - 1 - positions
    index = torch.where(index >= 0, index, positions.expand_as(index))
    if x.dim() == 2:
        return x.gather(1, index)
    return x.gather(1, index.unsqueeze(-1).expand(-1, -1, x.size(2)))


class ScalarMix(nn.Module):
    """gamma * sum_k softmax(s)_k * layer_k, optionally each layer normalised over its unmasked entries
    (allennlp's ScalarMix)."""

    def __init__(self, layers, do_layer_norm=False):
        super().__init__()
        self.do_layer_norm = do_layer_norm
        self.scalar_parameters = nn.ParameterList([nn.Parameter(torch.FloatTensor([0.0])) for _ in range(layers)])
        self.gamma = nn.Parameter(torch.FloatTensor([1.0]))

    def _normed(self, tensor, broadcast_mask, count):
        mean = torch.sum(tensor * broadcast_mask) / count
        variance = torch.sum(((tensor - mean) * broadcast_mask) ** 2) / count
        return (tensor - mean) / torch.sqrt(variance + 1e-12)

    def forward(self, tensors, mask=None):
        weights = F.softmax(torch.cat([p for p in self.scalar_parameters]), dim=0)
        weights = torch.split(weights, split_size_or_sections=1)
        if not self.do_layer_norm:
            return self.gamma * sum(w * t for w, t in zip(weights, tensors))
        broadcast_mask = mask.float().unsqueeze(-1)
        count = torch.sum(mask).float() * tensors[0].size(-1)
        return self.gamma * sum(w * self._normed(t, broadcast_mask, count) for w, t in zip(weights, tensors))


class ElmoLite(nn.Module):
    """Character ids (B, T, C) and word ids (B, T), 0 for padding, to the bidirectional LM loss, a tagging loss
    on the scalar mix of the layers, and the mix (B, T, 2P). Words 1 and 2 are the sentence boundaries."""

    def __init__(self, chars, vocab, tags, size=6, cell_size=8, layers=2, do_layer_norm=False, backward="flip"):
        super().__init__()
        self.encoder = CharacterEncoder(chars, 4, [(1, 3), (2, 4), (3, 5)], 2, size)
        self.forward_lm = DirectionalLM(size, cell_size, layers)
        self.backward_lm = DirectionalLM(size, cell_size, layers, go_forward=backward != "flip")
        self.backward = backward
        self.softmax = nn.Linear(size, vocab)
        self.mix = ScalarMix(layers + 1, do_layer_norm)
        self.tagger = nn.Linear(2 * size, tags)
        self.register_buffer("begin_chars", torch.tensor([1, 2, 2, 0]))
        self.register_buffer("end_chars", torch.tensor([1, 3, 3, 0]))

    def lm_loss(self, states, words):
        logits = self.softmax(states)
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)), words.reshape(-1), ignore_index=0)

    def forward(self, chars, words, tags):
        mask = (chars > 0).long().sum(dim=-1) > 0
        chars, boundary_mask = add_sentence_boundary_token_ids(chars, mask, self.begin_chars, self.end_chars)
        words, _ = add_sentence_boundary_token_ids(words, mask, 1, 2)
        lengths = boundary_mask.long().sum(-1)
        tokens = self.encoder(chars) * boundary_mask.unsqueeze(-1).float()
        tokens, sorted_lengths, restore = sort_batch_by_length(tokens, lengths)
        words = words.index_select(0, restore.argsort())
        batch_lengths = sorted_lengths.tolist()
        forwards = self.forward_lm(tokens, batch_lengths)
        if self.backward == "flip":   # the backward LM reads each row reversed and its outputs are turned back
            backwards = [reverse_padded(b, sorted_lengths)
                         for b in self.backward_lm(reverse_padded(tokens, sorted_lengths), batch_lengths)]
        else:
            backwards = self.backward_lm(tokens, batch_lengths)
        # the forward LM at t predicts word t + 1, the backward LM word t - 1
        forward_loss = self.lm_loss(forwards[-1][:, :-1], words[:, 1:])
        backward_loss = self.lm_loss(backwards[-1][:, 1:], words[:, :-1].masked_fill(words[:, 1:] == 0, 0))
        layers = [torch.cat([tokens, tokens], dim=-1)]
        layers += [torch.cat([f, b], dim=-1) for f, b in zip(forwards, backwards)]
        layers = [layer.index_select(0, restore) for layer in layers]
        mixed, mixed_mask = remove_sentence_boundaries(self.mix(layers, boundary_mask), boundary_mask)
        tag_loss = F.cross_entropy(self.tagger(mixed)[mixed_mask], tags[mixed_mask])
        return 0.5 * (forward_loss + backward_loss), tag_loss, mixed


def make_model(chars, vocab, tags, do_layer_norm=False, backward="flip"):
    return ElmoLite(chars, vocab, tags, do_layer_norm=do_layer_norm, backward=backward)


def train(model, batches, steps, optimizer_name="Adagrad", lr=0.1, clip=1.0):
    if optimizer_name == "Adagrad":
        optimizer = optim.Adagrad(model.parameters(), lr=lr, initial_accumulator_value=0.1)
    else:
        optimizer = optim.Adam(model.parameters(), lr=lr)
    history, mixes = [], []
    for step in range(steps):
        chars, words, tags = batches[step % len(batches)]
        optimizer.zero_grad()
        lm_loss, tag_loss, mixed = model(chars, words, tags)
        (lm_loss + tag_loss).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        history.append((lm_loss.item(), tag_loss.item()))
        mixes.append(mixed.detach())
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return history, mixes, grads
'''


MOGRIFIER_COPY = '''
class MogrifierCell(nn.Module):
    """An LSTMCell whose input x and state h first gate each other in turn: x = 2 sigmoid(Q h) * x on odd rounds,
    h = 2 sigmoid(R x) * h on even ones (Melis et al. 2020)."""

    def __init__(self, input_size, hidden_size, rounds=5):
        super().__init__()
        self.cell = nn.LSTMCell(input_size, hidden_size)
        self.mogrifier = nn.ModuleList([nn.Linear(hidden_size, input_size) if i % 2 == 0
                                        else nn.Linear(input_size, hidden_size) for i in range(rounds)])

    def mogrify(self, x, h):
        for i, gate in enumerate(self.mogrifier):
            if i % 2 == 0:
                x = 2 * torch.sigmoid(gate(h)) * x
            else:
                h = 2 * torch.sigmoid(gate(x)) * h
        return x, h

    def forward(self, x, state):
        h, c = state
        x, h = self.mogrify(x, h)
        return self.cell(x, (h, c))


class HighwayLstmCell(nn.Module):
    """An LSTM step whose output is a highway mix of the LSTM's output and a projection of its input
    (allennlp's AugmentedLstm with use_highway): six input blocks, five state blocks."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.input_linearity = nn.Linear(input_size, 6 * hidden_size, bias=False)
        self.state_linearity = nn.Linear(hidden_size, 5 * hidden_size, bias=True)

    def forward(self, x, state):
        h, c = state
        n = self.hidden_size
        projected_input = self.input_linearity(x)
        projected_state = self.state_linearity(h)
        input_gate, forget_gate, memory_init, output_gate, highway_gate = torch.split(
            projected_input[..., :5 * n] + projected_state, n, dim=-1)
        memory = torch.sigmoid(input_gate) * torch.tanh(memory_init) + torch.sigmoid(forget_gate) * c
        output = torch.sigmoid(output_gate) * torch.tanh(memory)
        highway_gate = torch.sigmoid(highway_gate)
        output = highway_gate * output + (1 - highway_gate) * projected_input[..., 5 * n:]
        return output, memory


class CopyModel(nn.Module):
    """Symbol ids (T, B) to logits (T, B, V): an embedding, a Mogrifier layer, a highway LSTM layer, a read-out;
    the state (a list of (h, c) per layer) comes in and goes out for truncated BPTT."""

    def __init__(self, vocab, embed=5, hidden=8):
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed)
        self.cells = nn.ModuleList([MogrifierCell(embed, hidden, rounds=4), HighwayLstmCell(hidden, hidden)])
        self.readout = nn.Linear(hidden, vocab)
        self.hidden = hidden

    def init_state(self, batch):
        weight = self.readout.weight
        return [(weight.new_zeros(batch, self.hidden), weight.new_zeros(batch, self.hidden)) for _ in self.cells]

    def forward(self, symbols, state):
        outputs = []
        for x in self.embedding(symbols).unbind(0):
            new_state = []
            for cell, layer_state in zip(self.cells, state):
                h, c = cell(x, layer_state)
                new_state.append((h, c))
                x = h
            state = new_state
            outputs.append(self.readout(x))
        return torch.stack(outputs), state


def make_model(vocab):
    return CopyModel(vocab)


def copy_stream(symbols, delay, vocab):
    """Targets: the input `delay` steps earlier (0, a blank, before that). symbols (T, B) int64."""
    targets = torch.zeros_like(symbols)
    targets[delay:] = symbols[:-delay]
    return targets


def train(model, symbols, steps, window=4, delay=2, lr=0.02):
    vocab = model.readout.out_features
    targets = copy_stream(symbols, delay, vocab)
    optimizer = optim.RMSprop(model.parameters(), lr=lr, alpha=0.9)
    state = model.init_state(symbols.size(1))
    history = []
    start = 0
    for _ in range(steps):
        if start + window > symbols.size(0):
            start, state = 0, model.init_state(symbols.size(1))
        state = [(h.detach(), c.detach()) for h, c in state]   # truncate: back-propagate through this window only
        logits, state = model(symbols[start:start + window], state)
        loss = F.cross_entropy(logits.flatten(0, 1), targets[start:start + window].flatten())
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_value_(model.parameters(), 0.5)
        optimizer.step()
        history.append(loss.item())
        start += window
    return history
'''


DYNAMIC_EVALUATION = '''
class WordLM(nn.Module):
    """Ids (T, B) to logits (T, B, V) and the LSTM state."""

    def __init__(self, vocab, embed=6, hidden=8):
        super().__init__()
        self.encoder = nn.Embedding(vocab, embed)
        self.rnn = nn.LSTM(embed, hidden)
        self.decoder = nn.Linear(hidden, vocab)

    def forward(self, ids, state=None):
        output, state = self.rnn(self.encoder(ids), state)
        return self.decoder(output), state


def make_model(vocab):
    return WordLM(vocab)


def repackage(state):
    return tuple(s.detach() for s in state)


def segments(data, bptt):
    for start in range(0, data.size(0) - 1, bptt):
        length = min(bptt, data.size(0) - 1 - start)
        yield data[start:start + length], data[start + 1:start + 1 + length]


def lm_loss(model, ids, targets, state):
    logits, state = model(ids, state)
    return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1)), state


def train(model, data, epochs, bptt=4, lr=1.0):
    """Plain SGD written as older programs do, with the deprecated ``add_(alpha, other)`` (still run by PyTorch,
    with a warning)."""
    history = []
    for _ in range(epochs):
        state = None
        for ids, targets in segments(data, bptt):
            state = None if state is None else repackage(state)
            loss, state = lm_loss(model, ids, targets, state)
            model.zero_grad()
            loss.backward()
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(-lr, p.grad)
            history.append(loss.item())
    return history


def gradient_statistics(model, data, bptt=4):
    """Per parameter: MS, the root mean square of the training gradients over the segments, and decrate,
    MS over the sum of every parameter's mean MS (Krause et al.'s gradstat), kept as attributes of the Parameter."""
    for param in model.parameters():
        param.MS = torch.zeros_like(param)
    state, count = None, 0
    for ids, targets in segments(data, bptt):
        state = None if state is None else repackage(state)
        model.zero_grad()
        loss, state = lm_loss(model, ids, targets, state)
        loss.backward()
        for param in model.parameters():
            param.MS = param.MS + param.grad * param.grad
        count += 1
    total = 0
    for param in model.parameters():
        param.MS = torch.sqrt(param.MS / count)
        total += torch.mean(param.MS)
    for param in model.parameters():
        param.decrate = param.MS / total


def static_loss(model, data, bptt=4):
    model.eval()
    total, count, state = 0.0, 0, None
    with torch.no_grad():
        for ids, targets in segments(data, bptt):
            loss, state = lm_loss(model, ids, targets, state)
            total += loss.item() * ids.numel()
            count += ids.numel()
    return total / count


def dynamic_loss(model, data, bptt=4, lr=0.05, lamb=0.02, epsilon=1e-3):
    """Score each segment, then move the weights by its gradient (scaled by 1 / (MS + epsilon)) and back toward
    the trained weights w0 by lamb * decrate * (w0 - w), decrate capped at 1 / lamb (Krause et al. 2018)."""
    model.eval()
    for param in model.parameters():
        param.data0 = param.detach().clone()
        param.decrate[param.decrate > 1 / lamb] = 1 / lamb
    total, count, state, losses = 0.0, 0, None, []
    for ids, targets in segments(data, bptt):
        state = None if state is None else repackage(state)
        model.zero_grad()
        loss, state = lm_loss(model, ids, targets, state)
        loss.backward()
        with torch.no_grad():
            for param in model.parameters():
                step = lamb * param.decrate * (param.data0 - param) - lr * param.grad / (param.MS + epsilon)
                param.add_(step)
        total += loss.item() * ids.numel()
        count += ids.numel()
        losses.append(loss.item())
    return total / count, losses
'''


PROGRAMS = (ELMO_LITE, MOGRIFIER_COPY, DYNAMIC_EVALUATION)


def test_the_programs_differ_only_in_their_imports() -> None:
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. ELMo


def _elmo_batches(lib: Any, count: int = 2, seed: int = 0) -> list:
    """(chars (B, T, C), words (B, T), tags (B, T)) batches, 0 for padding; the rows' lengths differ (so the
    length sort has no ties) and each word is spelt by its id."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        lengths = rng.permutation([5, 3, 4])
        words = np.zeros((3, 5), np.int64)
        chars = np.zeros((3, 5, 4), np.int64)
        for row, length in enumerate(lengths):
            words[row, :length] = rng.integers(3, 9, length)
            for t in range(length):
                spelt = rng.integers(1, 5)
                chars[row, t, :spelt] = (words[row, t] + np.arange(spelt)) % 11 + 1
        batches.append(tuple(lib.from_numpy(a) for a in (chars, words, words % 3)))
    return batches


@pytest.mark.parametrize(("backward", "do_layer_norm", "optimizer"),
                         [("flip", False, "Adagrad"), ("go_backward", True, "Adam")])
def test_elmo_lite_bidirectional_lm_and_scalar_mix(torch: Any, backward: str, do_layer_norm: bool,
                                                    optimizer: str) -> None:
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(
        ELMO_LITE, 13, 9, 3, do_layer_norm=do_layer_norm, backward=backward)
    lr = 0.1 if optimizer == "Adagrad" else 0.02
    expected, expected_mixes, expected_grads = torch_program["train"](torch_model, _elmo_batches(torch), 3,
                                                                      optimizer, lr)
    got, mixes, grads = mg_program["train"](mg_model, _elmo_batches(mg_program["torch"]), 3, optimizer, lr)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    for ours, theirs in zip(mixes, expected_mixes):
        assert ours.shape == tuple(theirs.shape) == (3, 5, 12)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-6)
    assert grads.keys() == expected_grads.keys()
    for name in grads:
        np.testing.assert_allclose(grads[name].numpy(), expected_grads[name].numpy(), rtol=1e-4, atol=1e-6,
                                   err_msg=name)
    _assert_same_weights(torch_model, mg_model, initial)
    assert not np.array_equal(mg_model.mix.scalar_parameters[0].numpy(), [0.0])   # the mix learnt


def test_elmo_backward_lm_reversed_or_run_backwards_is_the_same() -> None:
    """Reading each row reversed within its length and running the cells backwards give the same losses and mix;
    with every row full, the reversal is ``torch.flip``."""
    program = _program(ELMO_LITE, MINIGRAD_IMPORTS)
    mg = program["torch"]
    chars, words, tags = _elmo_batches(mg, 1)[0]
    mg.manual_seed(0)
    flipped = program["make_model"](13, 9, 3, backward="flip")
    backwards = program["make_model"](13, 9, 3, backward="go_backward")
    backwards.load_state_dict(flipped.state_dict())
    for one, other in zip(flipped(chars, words, tags), backwards(chars, words, tags)):
        np.testing.assert_allclose(one.detach().numpy(), other.detach().numpy(), rtol=1e-6, atol=1e-7)
    x = mg.arange(12.0).view(2, 3, 2)
    reverse_padded = program["reverse_padded"]
    np.testing.assert_array_equal(reverse_padded(x, mg.tensor([3, 3])).numpy(), x.numpy()[:, ::-1])
    np.testing.assert_array_equal(reverse_padded(x, mg.tensor([2, 3])).numpy()[0], x.numpy()[0, [1, 0, 2]])


# ----------------------------------------------------------------------------- 2. Mogrifier + highway LSTM


def test_mogrifier_and_highway_lstm_copy_task_with_truncated_bptt(torch: Any) -> None:
    symbols = np.random.default_rng(1).integers(1, 6, (16, 3))
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(MOGRIFIER_COPY, 6)
    expected = torch_program["train"](torch_model, torch.from_numpy(symbols), 8)
    got = mg_program["train"](mg_model, mg_program["torch"].from_numpy(symbols), 8)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert got[-1] < got[0]
    _assert_same_weights(torch_model, mg_model, initial)


# ----------------------------------------------------------------------------- 3. dynamic evaluation


def _stream(rows: int, step: int, seed: int) -> np.ndarray:
    """(rows, 2) ids: each column mostly the id before plus ``step``, mod 7."""
    rng = np.random.default_rng(seed)
    return (np.cumsum(np.where(rng.random((rows, 2)) < 0.9, step, 1), axis=0) % 7).astype(np.int64)


@pytest.mark.filterwarnings("ignore:This overload of add_ is deprecated")
def test_dynamic_evaluation_adapts_weights_toward_the_segment(torch: Any) -> None:
    """The validation text follows another rule than the training text, so adapting while scoring helps."""
    train_ids, valid_ids = _stream(13, 2, 0), _stream(17, 3, 1)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(DYNAMIC_EVALUATION, 7)
    runs = []
    for program, model in ((torch_program, torch_model), (mg_program, mg_model)):
        lib = program["torch"]
        train, valid = lib.from_numpy(train_ids), lib.from_numpy(valid_ids)
        history = program["train"](model, train, 3)
        trained = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
        program["gradient_statistics"](model, train)
        statistics = [(p.MS.detach().numpy(), p.decrate.detach().numpy()) for p in model.parameters()]
        static = program["static_loss"](model, valid)
        dynamic, per_segment = program["dynamic_loss"](model, valid)
        runs.append((history, trained, statistics, static, dynamic, per_segment))
    (expected, expected_trained, expected_statistics, expected_static, expected_dynamic, expected_segments) = runs[0]
    history, trained, statistics, static, dynamic, per_segment = runs[1]
    np.testing.assert_allclose(history, expected, rtol=1e-5, atol=1e-6)
    for name in trained:
        np.testing.assert_allclose(trained[name], expected_trained[name], rtol=1e-4, atol=1e-6, err_msg=name)
    for (ms, decrate), (expected_ms, expected_decrate) in zip(statistics, expected_statistics):
        np.testing.assert_allclose(ms, expected_ms, rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(decrate, expected_decrate, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose([static, dynamic], [expected_static, expected_dynamic], rtol=1e-5)
    np.testing.assert_allclose(per_segment, expected_segments, rtol=1e-5, atol=1e-6)
    assert dynamic < static
    _assert_same_weights(torch_model, mg_model, initial)   # the adapted weights
    assert any(not np.array_equal(mg_model.state_dict()[k].numpy(), trained[k]) for k in trained)


def test_deprecated_scale_first_overloads(torch: Any) -> None:
    """PyTorch's deprecated ``add_(alpha, other)``, ``add(input, alpha, other)``, ``sub``/``sub_`` alike and
    ``addcmul``/``addcdiv(input, value, tensor1, tensor2)`` (function, method, in place): the same values,
    dtypes and gradients as torch's, with a UserWarning; more positional arguments still raise a TypeError."""
    import minigrad as mg  # noqa: PLC0415

    warned = {}
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(3).astype(np.float32) + 2 for _ in range(3)]

    def calls(lib: Any) -> list:
        a, b, c = (lib.from_numpy(x.copy()).requires_grad_() for x in arrays)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            results = [a.clone().add_(-0.5, b), a.clone().sub_(2, b), lib.add(a, 3, b), lib.sub(a, 0.5, b),
                       a.add(np.float32(0.25), b), a.sub(3, b), lib.addcmul(a, 0.5, b, c), lib.addcdiv(a, -2, b, c),
                       a.clone().addcmul_(0.25, b, c), a.clone().addcdiv_(0.25, b, c), a.addcmul(2, b, c)]
        warned[lib] = [str(w.message) for w in caught if w.category is UserWarning]
        sum(r.sum() for r in results).backward()
        return [r.detach().numpy() for r in results] + [a.grad.numpy(), b.grad.numpy(), c.grad.numpy()]

    for ours, theirs in zip(calls(mg), calls(torch)):
        assert ours.dtype == theirs.dtype == np.float32
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    assert len(warned[mg]) == 11 and all("deprecated" in message for message in warned[mg])
    x = mg.ones(2)
    for bad in (lambda: mg.add(x, 2, x, x), lambda: mg.add(x, x, x), lambda: mg.add(x, 2, x, alpha=2),
                lambda: mg.addcmul(x, 2, x, x, value=3), lambda: x.sub_(x, x)):
        with pytest.raises(TypeError):
            bad()

