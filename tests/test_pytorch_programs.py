"""Eight PyTorch programs of well-known shapes, run on torch and on minigrad: only the import lines differ.

Each program mirrors a public PyTorch program but is rewritten here in our own words (names, helpers,
comments and docstrings are ours), cut to a small model and a few steps on generated data. What each
keeps is the PyTorch usage of its model, in the same roles:

* ``WORD_LANGUAGE_MODEL`` mirrors pytorch/examples' word language model
  (https://github.com/pytorch/examples/tree/main/word_language_model): an LSTM picked with
  ``getattr(nn, rnn_type)``, the stream cut into columns with ``narrow``/``view``/``t``/``contiguous``,
  state detached between windows, ``new_zeros`` for the initial state, ``NLLLoss`` over ``log_softmax``,
  ``clip_grad_norm_`` and a manual SGD step;
* ``SEQ2SEQ_ATTENTION`` mirrors the PyTorch tutorial "NLP From Scratch: Translation with a Sequence to
  Sequence Network and Attention" (https://pytorch.org/tutorials/intermediate/seq2seq_translation_tutorial.html):
  GRU encoder and decoder with additive attention (``bmm``, ``permute``, ``squeeze``/``unsqueeze``, ``cat``,
  ``softmax``), teacher forcing, ``topk`` greedy decoding, ``NLLLoss``, one Adam optimizer per half of an
  ``nn.ModuleDict``;
* ``CHAR_RNN_CLASSIFICATION`` mirrors the tutorial "NLP From Scratch: Classifying Names with a
  Character-Level RNN" (https://pytorch.org/tutorials/intermediate/char_rnn_classification_tutorial.html):
  a recurrent step built from ``Linear`` + ``LogSoftmax``, one-hot letters written with
  ``tensor[t][0][index] = 1``, ``NLLLoss``, ``topk`` and a manual SGD step;
* ``TRANSFORMER_LANGUAGE_MODEL`` mirrors the ``TransformerModel`` of the same pytorch/examples directory:
  a subclass of ``nn.Transformer`` that runs its encoder under a float causal mask from
  ``log(tril(ones))`` and replaces ``decoder`` with a Linear, a sine/cosine position buffer written with
  strided slices, ``math.sqrt`` scaling;
* ``SENTIMENT_BIGRU`` mirrors the packed bidirectional RNN of bentrevett/pytorch-sentiment-analysis
  (https://github.com/bentrevett/pytorch-sentiment-analysis) with a warmup-then-linear-decay ``LambdaLR``
  of the kind Hugging Face's ``get_linear_schedule_with_warmup`` makes: ``Embedding(padding_idx=0)``,
  ``pack_padded_sequence(enforce_sorted=False)`` and ``pad_packed_sequence``, ``hidden[-2]``/``hidden[-1]``,
  masked mean pooling, ``CrossEntropyLoss(label_smoothing=0.1)``, ``AdamW``, ``clip_grad_norm_``,
  ``eval()``/``no_grad()`` accuracy, and ``torch.save``/``torch.load`` of the state dict into a fresh model;
* ``CHAR_LSTM_LANGUAGE_MODEL`` mirrors the language model of yunjey/pytorch-tutorial
  (https://github.com/yunjey/pytorch-tutorial/tree/master/tutorials/02-intermediate/language_model), on
  characters: truncated BPTT over one long stream (``tuple(s.detach() for s in states)``), ``StepLR``,
  perplexity ``math.exp(loss)``, temperature sampling with ``torch.multinomial`` under a seeded
  ``torch.Generator`` (the two engines' random streams differ, so samples are compared by shape and range);
* ``LSTM_FORECASTER`` follows the encoder-decoder pattern of bentrevett/pytorch-seq2seq
  (https://github.com/bentrevett/pytorch-seq2seq) on a time series: an LSTM encoder, an ``LSTMCell``
  decoder loop, teacher forcing chosen by step index (where such programs flip ``torch.rand(1).item() <
  ratio``), a ``TensorDataset`` read by ``DataLoader(drop_last=True, generator=g)``, ``MSELoss``,
  ``ReduceLROnPlateau`` and early stopping that restores the best state dict;
* ``CRNN_MASKED_ATTENTION`` is written for this file in the common CRNN layout: ``Conv2d``,
  ``BatchNorm2d``, in-place ``ReLU``/``LeakyReLU``, ``MaxPool2d`` columns read by a bidirectional GRU,
  images padded with ``pad_sequence``, attention pooling under ``masked_fill(mask == 0, float("-inf"))``
  and ``einsum``, Nesterov SGD with weight decay, ``zero_grad(set_to_none=True)``, an ``@torch.no_grad()``
  predictor.

The manual SGD steps use ``with torch.no_grad(): p.add_(p.grad, alpha=-lr)`` (PyTorch's recommended form)
rather than the older ``p.data.add_(p.grad.data, alpha=-lr)``, since minigrad's ``.data`` is the NumPy
array (README, "Coming from PyTorch").

Each source runs twice, after ``TORCH_IMPORTS`` and after ``MINIGRAD_IMPORTS``, from the same initial
weights (the torch model's state dict, loaded with ``load_state_dict``), and the training losses must
agree to 1e-5, step by step.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

TORCH_IMPORTS = """\
import math
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import optim
"""

MINIGRAD_IMPORTS = """\
import math
import minigrad as torch
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad import optim
"""

STEPS = 20


WORD_LANGUAGE_MODEL = '''
class RNNModel(nn.Module):
    """Token ids (T, B) to next-token log-probabilities (T * B, V): embedding, a stacked RNN picked by
    its class name ("LSTM", "GRU", "RNN"), and a linear read-out."""

    def __init__(self, rnn_type, vocab_size, embed_size, hidden_size, layers, dropout=0.5):
        super(RNNModel, self).__init__()
        self.vocab_size = vocab_size
        self.drop = nn.Dropout(dropout)
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = getattr(nn, rnn_type)(embed_size, hidden_size, layers, dropout=dropout)
        self.readout = nn.Linear(hidden_size, vocab_size)
        self.rnn_type, self.hidden_size, self.layers = rnn_type, hidden_size, layers
        self.reset_parameters()

    def reset_parameters(self):
        bound = 0.1
        nn.init.zeros_(self.readout.bias)
        nn.init.uniform_(self.embedding.weight, -bound, bound)
        nn.init.uniform_(self.readout.weight, -bound, bound)

    def forward(self, tokens, state):
        outputs, state = self.rnn(self.drop(self.embedding(tokens)), state)
        logits = self.readout(self.drop(outputs)).view(-1, self.vocab_size)
        return F.log_softmax(logits, dim=1), state

    def init_hidden(self, batch_size):
        like = next(self.parameters())   # new_zeros: the state takes the parameters' dtype and device
        if self.rnn_type != 'LSTM':
            return like.new_zeros(self.layers, batch_size, self.hidden_size)
        return (like.new_zeros(self.layers, batch_size, self.hidden_size),
                like.new_zeros(self.layers, batch_size, self.hidden_size))


def batchify(stream, columns):
    """A 1-D id stream as (rows, columns), each column a contiguous stretch; the ragged tail is dropped."""
    rows = stream.size(0) // columns
    return stream.narrow(0, 0, rows * columns).view(columns, -1).t().contiguous()


def detach_state(state):
    """The recurrent state cut off from the previous window's graph (a tensor, or a tuple for LSTM)."""
    if not isinstance(state, torch.Tensor):
        return tuple(detach_state(part) for part in state)
    return state.detach()


def window(source, start, bptt):
    """Rows start..start+bptt as inputs, the rows one further on, flattened, as targets."""
    length = min(bptt, len(source) - 1 - start)
    inputs = source[start:start+length]
    targets = source[start+1:start+1+length].view(-1)
    return inputs, targets


def make_model(vocab_size):
    return RNNModel('LSTM', vocab_size, 8, 12, 2, dropout=0.0)


def train(model, corpus, vocab_size, steps, lr=2.0, clip=0.25, bptt=5, batch_size=4):
    columns = batchify(torch.from_numpy(corpus), batch_size)
    loss_fn = nn.NLLLoss()
    model.train()
    state = model.init_hidden(batch_size)
    history = []
    while len(history) < steps:
        for start in range(0, columns.size(0) - 1, bptt):
            inputs, targets = window(columns, start, bptt)
            state = detach_state(state)   # backpropagate through this window only
            model.zero_grad()
            log_probs, state = model(inputs, state)
            loss = loss_fn(log_probs, targets)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(p.grad, alpha=-lr)
            history.append(loss.item())
            if len(history) == steps:
                break
    return history
'''


SEQ2SEQ_ATTENTION = '''
START = 0
MAX_LENGTH = 6


class Encoder(nn.Module):
    """Word ids (B, T) to GRU outputs (B, T, H) and the last state (1, B, H)."""

    def __init__(self, vocab_size, hidden_size, dropout_p=0.1):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True)
        self.dropout = nn.Dropout(dropout_p)

    def forward(self, words):
        return self.gru(self.dropout(self.embedding(words)))


class AdditiveAttention(nn.Module):
    """score(q, k) = v . tanh(W q + U k), softmax over the source positions, context = weights @ keys."""

    def __init__(self, hidden_size):
        super().__init__()
        self.query_proj = nn.Linear(hidden_size, hidden_size)
        self.key_proj = nn.Linear(hidden_size, hidden_size)
        self.score = nn.Linear(hidden_size, 1)

    def forward(self, query, keys):
        # query (B, 1, H), keys (B, T, H) -> context (B, 1, H), weights (B, 1, T)
        scores = self.score(torch.tanh(self.query_proj(query) + self.key_proj(keys)))   # (B, T, 1)
        weights = F.softmax(scores.squeeze(2).unsqueeze(1), dim=-1)
        return torch.bmm(weights, keys), weights


class AttentionDecoder(nn.Module):
    """MAX_LENGTH steps of log-probabilities (B, MAX_LENGTH, V) over the encoder's outputs, fed the
    targets when given (teacher forcing), else its own greedy picks."""

    def __init__(self, hidden_size, vocab_size, dropout_p=0.1):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, hidden_size)
        self.attention = AdditiveAttention(hidden_size)
        self.gru = nn.GRU(2 * hidden_size, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, vocab_size)
        self.dropout = nn.Dropout(dropout_p)

    def step(self, word, state, memory):
        context, weights = self.attention(state.permute(1, 0, 2), memory)   # the state (1, B, H) as (B, 1, H)
        rnn_input = torch.cat((self.dropout(self.embedding(word)), context), dim=2)
        output, state = self.gru(rnn_input, state)
        return self.out(output), state, weights

    def forward(self, memory, state, targets=None):
        word = torch.empty(memory.size(0), 1, dtype=torch.long).fill_(START)
        logits, attention = [], []
        for t in range(MAX_LENGTH):
            step_logits, state, weights = self.step(word, state, memory)
            logits.append(step_logits)
            attention.append(weights)
            if targets is None:
                _, best = step_logits.topk(1)
                word = best.squeeze(-1).detach()
            else:
                word = targets[:, t].unsqueeze(1)
        log_probs = F.log_softmax(torch.cat(logits, dim=1), dim=-1)
        return log_probs, state, torch.cat(attention, dim=1)


def make_model(source_words, target_words, hidden_size=10):
    return nn.ModuleDict({"encoder": Encoder(source_words, hidden_size, dropout_p=0.0),
                          "decoder": AttentionDecoder(hidden_size, target_words, dropout_p=0.0)})


def train(model, pairs, steps, learning_rate=0.01, batch_size=4):
    encoder, decoder = model["encoder"], model["decoder"]
    sources, targets = pairs
    optimizers = [optim.Adam(encoder.parameters(), lr=learning_rate),
                  optim.Adam(decoder.parameters(), lr=learning_rate)]
    loss_fn = nn.NLLLoss()
    history = []
    for step in range(steps):
        first = (step * batch_size) % len(sources)
        source = torch.from_numpy(sources[first:first + batch_size])
        target = torch.from_numpy(targets[first:first + batch_size])
        for optimizer in optimizers:
            optimizer.zero_grad()
        memory, state = encoder(source)
        log_probs, _, _ = decoder(memory, state, target)
        loss = loss_fn(log_probs.view(-1, log_probs.size(-1)), target.view(-1))
        loss.backward()
        for optimizer in optimizers:
            optimizer.step()
        history.append(loss.item())
    return history


def evaluate(model, sources):
    with torch.no_grad():
        memory, state = model["encoder"](torch.from_numpy(sources))
        log_probs, _, attention = model["decoder"](memory, state)
        _, best = log_probs.topk(1)
    return best.squeeze().tolist(), attention.sum().item()
'''


CHAR_RNN_CLASSIFICATION = '''
ALPHABET = "abcdefghij .,;'"


def one_hot_word(word):
    """A word as one-hot letters, (len(word), 1, len(ALPHABET)): a batch of one at each time step."""
    letters = torch.zeros(len(word), 1, len(ALPHABET))
    for position, letter in enumerate(word):
        letters[position][0][ALPHABET.find(letter)] = 1
    return letters


class RecurrentClassifier(nn.Module):
    """One step: [letter, state] (1, I + H) -> class log-probabilities (1, C) and the next state (1, H)."""

    def __init__(self, input_size, hidden_size, classes):
        super(RecurrentClassifier, self).__init__()
        self.hidden_size = hidden_size
        self.to_state = nn.Linear(input_size + hidden_size, hidden_size)
        self.to_class = nn.Linear(input_size + hidden_size, classes)
        self.log_softmax = nn.LogSoftmax(dim=1)

    def forward(self, letter, state):
        joined = torch.cat((letter, state), 1)
        return self.log_softmax(self.to_class(joined)), self.to_state(joined)

    def initial_state(self):
        return torch.zeros(1, self.hidden_size)


def best_label(log_probs, labels):
    _, index = log_probs.topk(1)
    return labels[index[0].item()]


def make_model(classes, hidden_size=16):
    return RecurrentClassifier(len(ALPHABET), hidden_size, classes)


def train(model, examples, labels, steps, learning_rate=0.05):
    loss_fn = nn.NLLLoss()
    history, guesses = [], []
    for step in range(steps):
        label, word = examples[step % len(examples)]
        target = torch.tensor([labels.index(label)], dtype=torch.long)
        letters = one_hot_word(word)
        model.zero_grad()
        state = model.initial_state()
        for t in range(letters.size()[0]):
            log_probs, state = model(letters[t], state)
        loss = loss_fn(log_probs, target)
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p.add_(p.grad, alpha=-learning_rate)
        history.append(loss.item())
        guesses.append(best_label(log_probs, labels))
    return history, guesses
'''


TRANSFORMER_LANGUAGE_MODEL = '''
class SinusoidalPositions(nn.Module):
    """x (T, B, D) plus a fixed code of each position: sines in the even features, cosines in the odd
    ones, at wavelengths that grow geometrically with the feature index."""

    def __init__(self, d_model, dropout=0.1, max_len=64):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        table = torch.zeros(max_len, d_model)
        positions = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)   # (max_len, 1)
        rates = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))   # (D / 2,)
        table[:, 0::2] = torch.sin(positions * rates)
        table[:, 1::2] = torch.cos(positions * rates)
        self.register_buffer('table', table.unsqueeze(0).transpose(0, 1))   # (max_len, 1, D)

    def forward(self, x):
        return self.dropout(x + self.table[:x.size(0), :])


class CausalTransformerLM(nn.Transformer):
    """Token ids (T, B) -> log-probabilities (T, B, V). Only nn.Transformer's encoder stack runs, under a
    causal mask; the linear read-out is assigned to `decoder`, which replaces the decoder stack."""

    def __init__(self, vocab_size, d_model, heads, ff_size, layers, dropout=0.5):
        super().__init__(d_model=d_model, nhead=heads, dim_feedforward=ff_size, num_encoder_layers=layers,
                         dropout=dropout)
        self.src_mask = None
        self.pos_encoder = SinusoidalPositions(d_model, dropout)
        self.input_emb = nn.Embedding(vocab_size, d_model)
        self.decoder = nn.Linear(d_model, vocab_size)
        bound = 0.1
        nn.init.uniform_(self.input_emb.weight, -bound, bound)
        nn.init.uniform_(self.decoder.weight, -bound, bound)
        nn.init.zeros_(self.decoder.bias)

    @staticmethod
    def causal_mask(size):
        # log of a lower-triangular matrix of ones: 0 where a position may look, -inf after it
        return torch.log(torch.tril(torch.ones(size, size)))

    def forward(self, src, causal=True):
        if not causal:
            self.src_mask = None
        elif self.src_mask is None or self.src_mask.size(0) != len(src):
            self.src_mask = self.causal_mask(len(src)).to(src.device)   # kept for the next batch of this length
        x = self.pos_encoder(self.input_emb(src) * math.sqrt(self.d_model))
        return F.log_softmax(self.decoder(self.encoder(x, mask=self.src_mask)), dim=-1)


def make_model(vocab_size):
    return CausalTransformerLM(vocab_size, 8, 2, 16, 2, dropout=0.0)


def train(model, corpus, vocab_size, steps, lr=0.5, clip=0.25, bptt=5, batch_size=4):
    rows = len(corpus) // batch_size
    columns = torch.from_numpy(corpus).narrow(0, 0, rows * batch_size).view(batch_size, -1).t().contiguous()
    loss_fn = nn.NLLLoss()
    model.train()
    history = []
    while len(history) < steps:
        for start in range(0, columns.size(0) - 1, bptt):
            length = min(bptt, len(columns) - 1 - start)
            inputs, targets = columns[start:start + length], columns[start + 1:start + 1 + length].reshape(-1)
            model.zero_grad()
            loss = loss_fn(model(inputs).view(-1, vocab_size), targets)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(p.grad, alpha=-lr)
            history.append(loss.item())
            if len(history) == steps:
                break
    return history
'''


SENTIMENT_BIGRU = '''
PAD = 0


class BiGRUClassifier(nn.Module):
    """Padded word ids (B, T) and their lengths (B,) -> class logits (B, C): a bidirectional GRU reads the
    packed batch; its two last states plus its outputs averaged over the real tokens feed the classifier."""

    def __init__(self, vocab_size, embed_size, hidden_size, classes, dropout):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size, padding_idx=PAD)
        self.rnn = nn.GRU(embed_size, hidden_size, num_layers=1, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(hidden_size * 2, classes)
        self.dropout = nn.Dropout(dropout)

    def forward(self, tokens, lengths):
        vectors = self.dropout(self.embedding(tokens))
        packed = nn.utils.rnn.pack_padded_sequence(vectors, lengths.to('cpu'), batch_first=True,
                                                   enforce_sorted=False)
        packed_outputs, last = self.rnn(packed)
        outputs, output_lengths = nn.utils.rnn.pad_packed_sequence(packed_outputs, batch_first=True)   # (B, T', 2H)
        real = (tokens[:, :outputs.size(1)] != PAD).unsqueeze(-1)
        mean = outputs.masked_fill(~real, 0.0).sum(dim=1) / output_lengths.unsqueeze(1).float()
        # last[-2] and last[-1]: the top layer's forward and backward directions
        both = self.dropout(torch.cat((last[-2, :, :], last[-1, :, :]), dim=1))
        return self.fc(both + mean)


def warmup_then_linear_decay(optimizer, warmup, total, last_epoch=-1):
    """A LambdaLR whose factor climbs from 0 to 1 over `warmup` steps, then falls linearly to 0 at `total`."""
    def factor(step: int):
        if step >= warmup:
            return max(0.0, float(total - step) / float(max(1, total - warmup)))
        return float(step) / float(max(1, warmup))
    return optim.lr_scheduler.LambdaLR(optimizer, factor, last_epoch)


def make_model(vocab_size, dropout=0.0):
    return BiGRUClassifier(vocab_size, 8, 6, 3, dropout)


def batch_accuracy(logits, labels):
    picked = logits.argmax(1, keepdim=True)   # (B, 1)
    return picked.eq(labels.view_as(picked)).sum().float() / labels.shape[0]


def train(model, batches, steps, lr=0.02):
    optimizer = optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    scheduler = warmup_then_linear_decay(optimizer, warmup=2, total=steps)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    model.train()
    losses, norms, rates, accuracies = [], [], [], []
    for step in range(steps):
        tokens, lengths, labels = (torch.from_numpy(a) for a in batches[step % len(batches)])
        optimizer.zero_grad()
        logits = model(tokens, lengths)
        loss = loss_fn(logits, labels)
        accuracy = batch_accuracy(logits, labels)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        norms.append(norm.item())
        rates.append(scheduler.get_last_lr()[0])
        accuracies.append(accuracy.item())
    return losses, norms, rates, accuracies


def evaluate(model, batches):
    model.eval()
    accuracy_sum, all_logits = 0, []
    with torch.no_grad():
        for tokens, lengths, labels in batches:
            labels = torch.tensor(labels)
            logits = model(torch.tensor(tokens), torch.tensor(lengths))
            accuracy_sum += (logits.argmax(dim=-1) == labels).float().mean().item()
            all_logits.append(logits)
    return accuracy_sum / len(batches), torch.cat(all_logits).numpy()


def save_and_reload(model, path, vocab_size):
    torch.save(model.state_dict(), path)
    fresh = make_model(vocab_size, dropout=0.5)
    fresh.load_state_dict(torch.load(path))
    return fresh
'''


CHAR_LSTM_LANGUAGE_MODEL = '''
class CharacterModel(nn.Module):
    """Character ids (B, T) and an (h, c) state -> next-character logits (B * T, V) and the new state."""

    def __init__(self, vocab_size, embed_size, hidden_size, num_layers):
        super().__init__()
        self.hidden_size, self.num_layers = hidden_size, num_layers
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.lstm = nn.LSTM(embed_size, hidden_size, num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, ids, state):
        out, (h, c) = self.lstm(self.embedding(ids), state)
        rows = out.reshape(out.size(0) * out.size(1), out.size(2))   # one row per (sequence, step)
        return self.head(rows), (h, c)

    def init_hidden(self, batch_size, device="cpu"):
        return (torch.zeros(self.num_layers, batch_size, self.hidden_size).to(device),
                torch.zeros(self.num_layers, batch_size, self.hidden_size).to(device))


def make_model(vocab_size):
    return CharacterModel(vocab_size, 6, 10, 2)


def as_rows(ids, rows):
    """A 1-D stream as `rows` equal rows (rows, N // rows), the remainder dropped."""
    per_row = ids.size(0) // rows
    return ids[:per_row * rows].view(rows, -1)


def train(model, text, vocab, steps, seq_length=6, batch_size=3, lr=0.02):
    index = {ch: i for i, ch in enumerate(vocab)}
    stream = as_rows(torch.LongTensor([index[ch] for ch in text]), batch_size)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    losses, perplexities, rates = [], [], []
    epochs = 0
    while len(losses) < steps:
        model.train()
        states = model.init_hidden(batch_size)
        for i in range(0, stream.size(1) - seq_length, seq_length):
            inputs = stream[:, i:i+seq_length]
            targets = stream[:, (i+1):(i+1)+seq_length]
            states = tuple(s.detach() for s in states)   # carry the values on, not the graph
            logits, states = model(inputs, states)
            loss = loss_fn(logits, targets.reshape(-1))
            model.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            optimizer.step()
            losses.append(loss.item())
            perplexities.append(math.exp(loss.item()))
            if len(losses) == steps:
                break
        scheduler.step()
        rates.append(optimizer.param_groups[0]["lr"])
        epochs += 1
    return losses, perplexities, rates, epochs


def sample(model, vocab, start, length, temperature=0.8, seed=1234):
    generator = torch.Generator().manual_seed(seed)
    model.eval()
    picked, totals = [], []
    with torch.no_grad():
        state = model.init_hidden(1)
        current = torch.tensor([[vocab.index(start)]], dtype=torch.long)
        for _ in range(length):
            logits, state = model(current, state)
            probs = F.softmax(logits / temperature, dim=-1)
            choice = torch.multinomial(probs, num_samples=1, generator=generator).item()
            totals.append(probs.sum().item())
            current.fill_(choice)   # the next input, written in place
            picked.append(choice)
    return "".join(vocab[i] for i in picked), totals, state[0].shape, state[1].shape
'''


LSTM_FORECASTER = '''
class Forecaster(nn.Module):
    """A window (B, T, F) -> the next `horizon` values (B, horizon, F). An LSTM reads the window; an
    LSTMCell then steps on from its last state, fed its own prediction, or the true value on the steps
    listed in `teacher_forcing`."""

    def __init__(self, features, hidden_size, horizon):
        super().__init__()
        self.horizon = horizon
        self.encoder = nn.LSTM(features, hidden_size, num_layers=1, batch_first=True)
        self.cell = nn.LSTMCell(features, hidden_size)
        self.readout = nn.Linear(hidden_size, features)

    def forward(self, window, future=None, teacher_forcing=()):
        _, (h, c) = self.encoder(window)
        h, c = h[-1], c[-1]   # the top layer's state, (B, H)
        value = window[:, -1, :]
        predictions = []
        for t in range(self.horizon):
            h, c = self.cell(value, (h, c))
            prediction = self.readout(h)
            predictions.append(prediction.unsqueeze(1))
            value = future[:, t, :] if future is not None and t in teacher_forcing else prediction
        return torch.cat(predictions, dim=1)


def make_model(hidden_size=8, horizon=3):
    return Forecaster(1, hidden_size, horizon)


def sliding_windows(series, window, horizon):
    """Every full (window, horizon) cut of the series: inputs (N, window, 1), targets (N, horizon, 1)."""
    count = len(series) - window - horizon + 1
    inputs = [series[i:i + window] for i in range(count)]
    targets = [series[i + window:i + window + horizon] for i in range(count)]
    return (torch.tensor(inputs, dtype=torch.float32).unsqueeze(-1),
            torch.tensor(targets, dtype=torch.float32).unsqueeze(-1))


def train(model, series, epochs, window=6, batch_size=4, shuffle=False, seed=0, patience=3):
    x, y = sliding_windows(series, window, model.horizon)
    split = int(len(x) * 0.75)
    g = torch.Generator()
    g.manual_seed(seed)
    train_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x[:split], y[:split]),
                                               batch_size=batch_size, shuffle=shuffle, drop_last=True,
                                               generator=g)
    val_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x[split:], y[split:]),
                                             batch_size=batch_size, shuffle=False)
    loss_fn = nn.MSELoss()
    optimizer = optim.Adam(model.parameters(), lr=0.05)
    scheduler = optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=0)
    history = {"train": [], "val": [], "lr": [], "batches": 0}
    best_val, best_state, epochs_without_gain = float("inf"), None, 0
    for _ in range(epochs):
        model.train()
        for step, (xb, yb) in enumerate(train_loader):
            optimizer.zero_grad()
            # the true value is fed back on every step in even batches, on every other step in odd ones
            loss = loss_fn(model(xb, yb, teacher_forcing=range(0, model.horizon, step % 2 + 1)), yb)
            loss.backward()
            optimizer.step()
            history["train"].append(loss.item())
            history["batches"] += 1
        model.eval()
        with torch.no_grad():
            outputs = [(model(xb), yb) for xb, yb in val_loader]
        val_loss = loss_fn(torch.cat([p for p, _ in outputs]), torch.cat([t for _, t in outputs])).item()
        history["val"].append(val_loss)
        scheduler.step(val_loss)
        history["lr"].append(optimizer.param_groups[0]["lr"])
        if val_loss < best_val - 1e-4:
            best_val, epochs_without_gain = val_loss, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            epochs_without_gain += 1
            if epochs_without_gain >= patience:
                break
    model.load_state_dict(best_state)
    return history, best_val
'''


CRNN_MASKED_ATTENTION = '''
class ConvRecurrentClassifier(nn.Module):
    """Images (B, 1, 8, W) of real widths `widths` (B,) -> class logits (B, C) and attention (B, W / 2).
    Convolutions turn the image into W / 2 columns, a bidirectional GRU reads them left to right, and the
    outputs are pooled by attention that sees only the columns of the real (unpadded) width."""

    def __init__(self, num_classes, channels=4, hidden=8):
        super().__init__()
        self.cnn = nn.Sequential(
            nn.Conv2d(1, channels, kernel_size=3, padding=1),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(channels, channels * 2, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(channels * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.MaxPool2d((2, 1), (2, 1)),
        )
        self.rnn = nn.GRU(channels * 2 * 2, hidden, batch_first=True, bidirectional=True)
        self.score = nn.Linear(2 * hidden, 1)
        self.classifier = nn.Sequential(nn.Dropout(0.0), nn.Linear(2 * hidden, num_classes))

    def forward(self, images, widths):
        maps = self.cnn(images)                            # (B, C, H', W')
        b, c, h, w = maps.size()
        columns = maps.permute(0, 3, 1, 2).flatten(2)      # (B, W', C * H')
        outputs, _ = self.rnn(columns)
        scores = self.score(outputs).squeeze(-1)           # (B, W')
        real = torch.arange(w).unsqueeze(0).expand(b, -1) < (widths // 2).unsqueeze(1)
        scores = scores.masked_fill(real == 0, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        pooled = torch.einsum("bt,bth->bh", weights, outputs)
        return self.classifier(pooled), weights


def pad_batch(samples):
    """(image (1, H, W), label) pairs -> images (B, 1, H, W_max) zero-padded on the right, widths, labels."""
    by_column = [image.permute(2, 0, 1) for image, _ in samples]   # (W, 1, H): pad_sequence pads dim 0
    padded = nn.utils.rnn.pad_sequence(by_column, batch_first=True, padding_value=0.0)
    images = padded.permute(0, 2, 3, 1).contiguous()
    widths = torch.tensor([image.shape[-1] for image, _ in samples])
    return images, widths, torch.stack([label for _, label in samples])


def make_model(num_classes):
    return ConvRecurrentClassifier(num_classes)


def train(model, samples, steps, batch_size=4):
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    losses, attention_sums = [], []
    model.train()
    for step in range(steps):
        first = (step * batch_size) % len(samples)
        images, widths, labels = pad_batch(samples[first:first + batch_size])
        logits, weights = model(images, widths)
        loss = loss_fn(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        attention_sums.append(weights.sum(dim=1).tolist())
    return losses, attention_sums


@torch.no_grad()
def predict(model, samples):
    model.eval()
    images, widths, _ = pad_batch(samples)
    logits, weights = model(images, widths)
    confidence, predicted = F.softmax(logits, dim=1).max(dim=1)
    return predicted.tolist(), confidence.numpy(), weights.numpy(), model.cnn[1].running_mean.numpy()
'''


def _program(source: str, imports: str) -> dict:
    """The program's namespace after running its source below ``imports``."""
    namespace: dict = {"__name__": "program"}
    exec(compile(imports + source, "program", "exec", dont_inherit=True), namespace)   # noqa: S102 - our own program text
    return namespace


def _copy_weights(torch_model: Any, namespace: dict) -> dict:
    """The torch model's initial weights as a minigrad state dict (one array copy each)."""
    mg_torch = namespace["torch"]
    return {k: mg_torch.from_numpy(v.detach().numpy().copy()) for k, v in torch_model.state_dict().items()}


def _twin_models(source: str, *args: Any, imports: tuple[str, str] | None = None,
                 factory: str = "make_model", **kwargs: Any) -> tuple:
    """Both programs (``imports``: torch's and minigrad's import lines, these files' by default) and
    ``factory(*args, **kwargs)``'s model (or tuple of models) in each, minigrad's loaded with torch's initial weights:
    ``(torch_program, torch_model(s), mg_program, mg_model(s), initial weights (a tuple for several models))``."""
    torch_imports, mg_imports = imports or (TORCH_IMPORTS, MINIGRAD_IMPORTS)
    torch_program = _program(source, torch_imports)
    mg_program = _program(source, mg_imports)
    torch_program["torch"].manual_seed(0)
    torch_models, mg_models = torch_program[factory](*args, **kwargs), mg_program[factory](*args, **kwargs)
    single = not isinstance(torch_models, tuple)
    torch_models, mg_models = ((torch_models,), (mg_models,)) if single else (torch_models, mg_models)
    initials = []
    for torch_model, mg_model in zip(torch_models, mg_models):
        initials.append(_copy_weights(torch_model, mg_program))
        mg_model.load_state_dict(initials[-1])
    if single:
        return torch_program, torch_models[0], mg_program, mg_models[0], initials[0]
    return torch_program, torch_models, mg_program, mg_models, tuple(initials)


def _assert_same_weights(torch_model: Any, mg_model: Any, initial: dict, noise_only: tuple = ()) -> None:
    """After training: the same weights in both, and they moved (the in-place updates reached the model).

    ``noise_only``: parameters whose true gradient is exactly 0, so their Adam steps follow the sign of
    float rounding noise (~1e-9) and differ between any two implementations.
    """
    ours = {k: v.numpy() for k, v in mg_model.state_dict().items()}
    theirs = {k: v.detach().numpy() for k, v in torch_model.state_dict().items()}
    assert ours.keys() == theirs.keys()
    for name in set(ours) - set(noise_only):
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-4, atol=1e-5, err_msg=name)
    assert any(not np.array_equal(ours[k], initial[k].numpy()) for k in ours)


def test_the_programs_differ_only_in_their_imports() -> None:
    assert MINIGRAD_IMPORTS.count("\n") == TORCH_IMPORTS.count("\n") == 5
    for source in (WORD_LANGUAGE_MODEL, SEQ2SEQ_ATTENTION, CHAR_RNN_CLASSIFICATION, TRANSFORMER_LANGUAGE_MODEL,
                   SENTIMENT_BIGRU, CHAR_LSTM_LANGUAGE_MODEL, LSTM_FORECASTER, CRNN_MASKED_ATTENTION):
        assert "import" not in source and "minigrad" not in source and "mg." not in source


def test_word_language_model(torch: Any) -> None:
    rng = np.random.default_rng(0)
    ntokens = 11
    # a learnable text: each token mostly follows from the one before
    corpus = np.cumsum(np.where(rng.random(4 * 5 * STEPS + 4) < 0.9, 3, 1)) % ntokens
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(WORD_LANGUAGE_MODEL, ntokens)
    expected = torch_program["train"](torch_model, corpus, ntokens, STEPS)
    losses = mg_program["train"](mg_model, corpus, ntokens, STEPS)
    np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-5)
    _assert_same_weights(torch_model, mg_model, initial)


def _translation_pairs(rng: np.random.Generator, count: int, words: int) -> tuple:
    """Source sentences of word ids (EOS-terminated, padded with EOS), targets: the words reversed."""
    length = 6   # MAX_LENGTH
    source = np.full((count, length), 1, dtype=np.int64)
    target = np.full((count, length), 1, dtype=np.int64)
    for row in range(count):
        n = int(rng.integers(2, length))
        sentence = rng.integers(2, words, n)
        source[row, :n] = sentence
        target[row, :n] = sentence[::-1]
    return source, target


def test_seq2seq_translation_with_bahdanau_attention(torch: Any) -> None:
    rng = np.random.default_rng(1)
    words = 9
    pairs = _translation_pairs(rng, 16, words)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(SEQ2SEQ_ATTENTION, words, words)
    expected = torch_program["train"](torch_model, pairs, STEPS)
    losses = mg_program["train"](mg_model, pairs, STEPS)
    np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-5)
    # softmax ignores a shift of all scores: the score layer's bias gets a zero gradient
    _assert_same_weights(torch_model, mg_model, initial, noise_only=("decoder.attention.score.bias",))
    decoded, attention = mg_program["evaluate"](mg_model, pairs[0][:3])
    torch_decoded, torch_attention = torch_program["evaluate"](torch_model, pairs[0][:3])
    assert decoded == torch_decoded   # greedy decoding with topk, fed back step by step
    assert attention == pytest.approx(torch_attention, rel=1e-5)


def test_char_rnn_classification(torch: Any) -> None:
    rng = np.random.default_rng(2)
    all_categories = ["early", "late"]
    letters = "abcdefghij"
    examples = []
    for _ in range(STEPS):
        category = all_categories[int(rng.integers(2))]
        pool = letters[:5] if category == "early" else letters[5:]
        examples.append((category, "".join(pool[int(i)] for i in rng.integers(0, 5, int(rng.integers(3, 8))))))
    twins = _twin_models(CHAR_RNN_CLASSIFICATION, len(all_categories))
    torch_program, torch_model, mg_program, mg_model, initial = twins
    expected, expected_guesses = torch_program["train"](torch_model, examples, all_categories, STEPS)
    losses, guesses = mg_program["train"](mg_model, examples, all_categories, STEPS)
    np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-5)
    assert guesses == expected_guesses
    _assert_same_weights(torch_model, mg_model, initial)


def test_transformer_language_model(torch: Any) -> None:
    """After pytorch/examples' TransformerModel: a subclass of nn.Transformer whose `decoder` attribute is
    replaced by a Linear, a float causal mask of -inf from log(tril(ones)), a sine/cosine position buffer
    written with strided slices."""
    rng = np.random.default_rng(3)
    ntokens = 11
    corpus = np.cumsum(np.where(rng.random(4 * 5 * STEPS + 4) < 0.9, 3, 1)) % ntokens
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(TRANSFORMER_LANGUAGE_MODEL, ntokens)
    expected = torch_program["train"](torch_model, corpus, ntokens, STEPS)
    losses = mg_program["train"](mg_model, corpus, ntokens, STEPS)
    np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-5)
    # assigning the Linear to `decoder` dropped nn.Transformer's decoder stack from both models
    assert not any(key.startswith("decoder.layers") for key in mg_model.state_dict())
    _assert_same_weights(torch_model, mg_model, initial)


def _sentiment_batches(rng: np.random.Generator, count: int, batch_size: int = 4) -> list:
    """Padded (text, lengths, label) batches, lengths unsorted; each class draws its words from its own range."""
    batches = []
    for _ in range(count):
        lengths = rng.integers(2, 7, batch_size)
        label = rng.integers(0, 3, batch_size)
        text = np.zeros((batch_size, lengths.max()), dtype=np.int64)   # 0 is PAD_IDX
        for row in range(batch_size):
            text[row, :lengths[row]] = rng.integers(1 + 3 * label[row], 4 + 3 * label[row], lengths[row])
        batches.append((text, lengths.astype(np.int64), label.astype(np.int64)))
    return batches


def test_sentiment_bidirectional_gru_on_packed_sequences(torch: Any, tmp_path: Any) -> None:
    """Packed unsorted batches through a bidirectional GRU, label smoothing, AdamW under a warmup LambdaLR,
    clip_grad_norm_, eval accuracy under no_grad, and a state dict saved and loaded into a fresh model."""
    vocab_size, steps = 12, 10
    batches = _sentiment_batches(np.random.default_rng(4), 5)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(SENTIMENT_BIGRU, vocab_size)
    expected = torch_program["train"](torch_model, batches, steps)
    result = mg_program["train"](mg_model, batches, steps)
    for name, ours, theirs in zip(("losses", "norms", "lrs", "accuracies"), result, expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5, err_msg=name)
    assert expected[2][:3] == pytest.approx([0.01, 0.02, 0.0175])   # warmup, then linear decay
    _assert_same_weights(torch_model, mg_model, initial)
    accuracy, logits = mg_program["evaluate"](mg_model, batches)
    torch_accuracy, torch_logits = torch_program["evaluate"](torch_model, batches)
    assert accuracy == pytest.approx(torch_accuracy)
    np.testing.assert_allclose(logits, torch_logits, rtol=1e-5, atol=1e-5)
    # the reloaded models have Dropout(0.5), which eval() must switch off
    reloaded = mg_program["save_and_reload"](mg_model, str(tmp_path / "minigrad.pt"), vocab_size)
    torch_reloaded = torch_program["save_and_reload"](torch_model, str(tmp_path / "torch.pt"), vocab_size)
    np.testing.assert_allclose(mg_program["evaluate"](reloaded, batches)[1],
                               torch_program["evaluate"](torch_reloaded, batches)[1], rtol=1e-5, atol=1e-5)


def test_char_lstm_language_model_with_truncated_bptt(torch: Any) -> None:
    """A stateful LSTM over one long stream (detached state carried across batches), StepLR, perplexity, and
    temperature sampling under a seeded generator."""
    rng = np.random.default_rng(5)
    vocab = "abcdefg "
    text = "".join(vocab[i] for i in np.cumsum(np.where(rng.random(200) < 0.85, 2, 1)) % len(vocab))
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(CHAR_LSTM_LANGUAGE_MODEL, len(vocab))
    expected = torch_program["train"](torch_model, text, vocab, STEPS)
    losses, perplexities, lrs, epochs = mg_program["train"](mg_model, text, vocab, STEPS)
    np.testing.assert_allclose(losses, expected[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(perplexities, expected[1], rtol=1e-5)
    assert lrs == pytest.approx(expected[2]) and epochs == expected[3] == 2
    _assert_same_weights(torch_model, mg_model, initial)
    # the random streams differ: compare what sampling gives, not which characters it draws
    sample, probability_sums, h_shape, c_shape = mg_program["sample"](mg_model, vocab, "a", 20)
    torch_sample, _, torch_h_shape, torch_c_shape = torch_program["sample"](torch_model, vocab, "a", 20)
    assert len(sample) == len(torch_sample) == 20 and set(sample) <= set(vocab)
    assert probability_sums == pytest.approx([1.0] * 20, abs=1e-5)
    assert tuple(h_shape) == tuple(torch_h_shape) == tuple(c_shape) == tuple(torch_c_shape) == (2, 1, 10)
    assert mg_program["sample"](mg_model, vocab, "a", 20)[0] == sample   # the seeded generator repeats


def test_lstm_forecaster_with_lstmcell_decoder_and_early_stopping(torch: Any) -> None:
    """Windows of a noisy sine through TensorDataset/DataLoader(drop_last, generator), an LSTM encoder and an
    LSTMCell decoder with teacher forcing, MSELoss, ReduceLROnPlateau, early stopping that reloads the best
    weights."""
    rng = np.random.default_rng(6)
    series = (np.sin(np.arange(40) * 0.5) + 0.1 * rng.standard_normal(40)).astype(np.float32).tolist()
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(LSTM_FORECASTER)
    expected, expected_best = torch_program["train"](torch_model, series, 6)
    history, best = mg_program["train"](mg_model, series, 6)
    for key in ("train", "val"):
        np.testing.assert_allclose(history[key], expected[key], rtol=1e-5, atol=1e-6, err_msg=key)
    assert history["lr"] == pytest.approx(expected["lr"]) and history["lr"][-1] < history["lr"][0]
    assert history["batches"] == expected["batches"] == 6 * 6   # 26 windows, 19 for training, drop_last
    assert best == pytest.approx(expected_best, rel=1e-5)
    _assert_same_weights(torch_model, mg_model, initial)
    # shuffled: the streams differ, so the batch order does too; the same seed gives the same run
    runs = []
    for _ in range(2):
        mg_model.load_state_dict(initial)
        runs.append(mg_program["train"](mg_model, series, 2, shuffle=True, seed=3)[0])
    assert runs[0] == runs[1] and runs[0]["batches"] == 2 * 6
    assert runs[0]["train"][:6] != pytest.approx(history["train"][:6])


def _variable_width_images(namespace: dict, count: int) -> list:
    """(image (1, 8, W), label) pairs with even widths 4–8; the label shifts the pixels' mean."""
    rng = np.random.default_rng(7)
    lib = namespace["torch"]
    samples = []
    for _ in range(count):
        width, label = int(rng.integers(2, 5)) * 2, int(rng.integers(0, 3))
        image = (rng.standard_normal((1, 8, width)) * 0.3 + label).astype(np.float32)
        samples.append((lib.from_numpy(image), lib.tensor(label)))
    return samples


def test_crnn_with_masked_attention_pooling(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Conv2d/BatchNorm2d/MaxPool2d features read column by column by a bidirectional GRU, attention over the
    real columns only (masked_fill with -inf), pad_sequence collation, Nesterov SGD, a no_grad predictor."""
    import nn  # noqa: PLC0415 - the package the program imports as minigrad.nn

    # until nn/__init__.py exports nn.BatchNorm2d, the program takes it from the module another change adds
    if not hasattr(nn, "BatchNorm2d"):
        normalization_nd = pytest.importorskip("nn.normalization_nd", reason="nn.BatchNorm2d is not there yet")
        monkeypatch.setattr(nn, "BatchNorm2d", normalization_nd.BatchNorm2d, raising=False)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(CRNN_MASKED_ATTENTION, 3)
    torch_samples, samples = _variable_width_images(torch_program, 12), _variable_width_images(mg_program, 12)
    expected, expected_attention = torch_program["train"](torch_model, torch_samples, 8)
    losses, attention = mg_program["train"](mg_model, samples, 8)
    np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(attention, expected_attention, rtol=1e-5)
    # the running statistics and num_batches_tracked are in the state dicts compared here
    _assert_same_weights(torch_model, mg_model, initial)
    predicted, confidence, weights, running_mean = mg_program["predict"](mg_model, samples[:5])
    torch_predicted, torch_confidence, torch_weights, torch_running_mean = torch_program["predict"](
        torch_model, torch_samples[:5])
    assert predicted == torch_predicted
    for ours, theirs in ((confidence, torch_confidence), (weights, torch_weights), (running_mean, torch_running_mean)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    assert (weights[:, 3:] == 0).any()   # masked columns of the narrower images get no attention
