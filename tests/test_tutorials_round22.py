"""PyTorch's recurrent tutorials not yet ported elsewhere, in float64, run on torch and on minigrad: only the imports
differ.

Each program is our own rewrite of an official tutorial or example (our names and comments), cut to a tiny model,
a few steps and generated data; the weights are torch's initial ones (the helpers come from
tests/test_pytorch_programs.py), and losses, gradient norms, weights and outputs must agree to float64 round-off
(1e-10 relative) step by step:

* ``CLASSIFY_NAMES`` follows today's "NLP From Scratch: Classifying Names with a Character-Level RNN"
  (https://pytorch.org/tutorials/intermediate/char_rnn_classification_tutorial.html): a ``Dataset`` of
  ``(label_tensor, text_tensor, label, text)`` items, ``random_split(data, [.85, .15], generator=...)``, both the
  hand-written ``i2h``/``h2h``/``h2o`` recurrence under ``F.tanh`` and the ``nn.RNN`` + ``h2o`` ``CharRNN`` reading
  ``hidden[0]``, ``LogSoftmax`` + ``NLLLoss`` summed over a mini-batch from ``0 + loss``, batches shuffled by
  Python's ``random`` and cut by ``np.array_split``, ``clip_grad_norm_(params, 3)``, SGD, and the confusion matrix
  written with ``confusion[label_i][guess_i] += 1`` and normalised row by row;
* ``CHAR_TAGGER`` is the exercise of "Sequence Models and Long Short-Term Memory Networks"
  (https://pytorch.org/tutorials/beginner/nlp/sequence_models_tutorial.html): the LSTM part-of-speech tagger with
  each word's representation the word embedding joined to a character LSTM's last hidden state, and the tutorial's
  opening check that an LSTM fed one step at a time equals the LSTM fed the whole sequence;
* ``WORD_LM`` follows pytorch/examples ``word_language_model`` (https://github.com/pytorch/examples/tree/main/
  word_language_model) and the "Language Modeling with nn.Transformer" tutorial: ``RNNModel`` for LSTM, GRU,
  RNN_TANH and RNN_RELU with ``tie_weights`` (``decoder.weight = encoder.weight``), dropout around the recurrence,
  ``new_zeros`` hidden states, ``repackage_hidden``, ``clip_grad_norm_`` and the manual SGD step, the learning rate
  divided by 4 when the validation loss stalls; the tutorial's ``TransformerModel`` (``TransformerEncoderLayer`` +
  ``TransformerEncoder`` under ``nn.Transformer.generate_square_subsequent_mask``, a sine/cosine ``pe`` buffer) in
  the same loop; the best weights saved with ``torch.save(model.state_dict(), path)`` and loaded back; and
  ``generate.py``'s temperature sampling (the draw shared, see below); and the examples' own ``TransformerModel``
  (an ``nn.Transformer`` subclass, ported in float32 without dropout by tests/test_pytorch_programs.py) in float64
  with its dropout on;
* ``CLASSIC_TRANSLATION`` is the pre-2023 "Translation with a Sequence to Sequence Network and Attention": one word
  per encoder call written into ``encoder_outputs[ei]``, the ``AttnDecoderRNN`` whose attention is a Linear over
  ``cat(embedded[0], hidden[0])`` applied with ``bmm``, ``loss = 0`` plus an NLLLoss per word, Python's ``random``
  choosing teacher forcing or free running (``topi.squeeze().detach()``, stopped at EOS by ``.item()``), two SGDs,
  and the greedy ``evaluate`` filling the attention matrix row by row (the batched version of today is in
  tests/test_pytorch_programs_tutorials.py);
* ``SINE_TODAY`` is today's ``time_sequence_prediction/train.py``: the states made on an empty ``dummy_param``'s
  device (a Parameter LBFGS steps without a gradient), ``torch.from_numpy(data).to(device)``,
  ``nn.MSELoss().to(device)``, ``pred.cpu().detach().numpy()`` (the older script is in
  tests/test_pytorch_programs_series.py).

The classifier and the word language model also run on ``cuda`` (the strict CuPy stand-in without a GPU), the
classifier under the tutorial's ``torch.set_default_device(device)``, against torch's CPU numbers.

Random draws: ``F.dropout`` keeps, in both libraries, the elements one NumPy stream picks (``_shared_dropout``); the
recurrent layers' own inter-layer dropout is set to 0 (torch's runs inside its C++ kernel); the word sampled in
generation is the inverse CDF of one NumPy uniform stream over the engine's own ``word_weights``.
``random_split`` draws from each engine's generator: the sizes must agree, and minigrad's ``Subset`` is given
torch's indices.

Not ported: ``torch.save(model, f)`` of a whole module (``word_language_model/main.py``): minigrad's ``save``
never pickles (README), and refuses a module with a ``TypeError`` that says to save its ``state_dict()``; and
``generate_sine_wave.py``'s ``torch.save(numpy_array, f)``: ``torch.load`` (with ``weights_only=False``) gives the
NumPy array back, minigrad's ``load`` a Tensor (README), so ``torch.from_numpy(torch.load(path))`` raises
minigrad's ``TypeError`` (torch 2.13's default ``weights_only=True`` refuses the file too).
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pytest

import minigrad as mg
from tests import test_pytorch_programs as programs
from tests import test_pytorch_programs_tutorials as tutorials
from tests.test_pytorch_programs import (
    MINIGRAD_IMPORTS,
    TORCH_IMPORTS,
    TRANSFORMER_LANGUAGE_MODEL,
    _program,
    _twin_models,
)
from tests.test_pytorch_programs_gnn import _shared_dropout

TORCH_IMPORTS_R22 = """\
import math
import random
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset, random_split
"""

MINIGRAD_IMPORTS_R22 = """\
import math
import random
import numpy as np
import minigrad as torch
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.utils.data import Dataset, random_split
"""

IMPORTS = (TORCH_IMPORTS_R22, MINIGRAD_IMPORTS_R22)
for _alias in ("minigrad.nn", "minigrad.utils.data"):   # the programs' imports: loaded at collection, not in a test
    importlib.import_module(_alias)
RTOL = 1e-10
pytestmark = pytest.mark.usefixtures("torch_optim_loaded")   # torch.optim's first step costs ~2 s: not in a test


CLASSIFY_NAMES = '''
ALL_LETTERS = "abcdefgh .,;'"
N_LETTERS = len(ALL_LETTERS)


def letter_to_index(letter):
    return ALL_LETTERS.find(letter)


def line_to_tensor(line):
    """One-hot letters (len(line), 1, N_LETTERS): a batch of one at each time step."""
    tensor = torch.zeros(len(line), 1, N_LETTERS, dtype=torch.double)
    for li, letter in enumerate(line):
        tensor[li][0][letter_to_index(letter)] = 1
    return tensor


class NamesDataset(Dataset):
    def __init__(self, pairs):
        self.labels_uniq = sorted(set(label for label, _ in pairs))
        self.data, self.data_tensors, self.labels, self.labels_tensors = [], [], [], []
        for label, name in pairs:
            self.data.append(name)
            self.data_tensors.append(line_to_tensor(name))
            self.labels.append(label)
        for label in self.labels:
            self.labels_tensors.append(torch.tensor([self.labels_uniq.index(label)], dtype=torch.long))

    def __len__(self):
        return len(self.data)

    def __getitem__(self, idx):
        return self.labels_tensors[idx], self.data_tensors[idx], self.labels[idx], self.data[idx]


class HandRNN(nn.Module):
    """The recurrence written out: h = tanh(i2h(x_t) + h2h(h)), then log-probabilities of the classes (1, C)."""

    def __init__(self, input_size, hidden_size, output_size):
        super(HandRNN, self).__init__()
        self.hidden_size = hidden_size
        self.i2h = nn.Linear(input_size, hidden_size)
        self.h2h = nn.Linear(hidden_size, hidden_size)
        self.h2o = nn.Linear(hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, line_tensor):
        hidden = torch.zeros(1, self.hidden_size, dtype=line_tensor.dtype)
        for i in range(line_tensor.size(0)):
            hidden = F.tanh(self.i2h(line_tensor[i]) + self.h2h(hidden))
        return self.softmax(self.h2o(hidden))


class CharRNN(nn.Module):
    """nn.RNN over the letters (T, 1, N_LETTERS); its last hidden state (1, H) read out to (1, C)."""

    def __init__(self, input_size, hidden_size, output_size):
        super(CharRNN, self).__init__()
        self.rnn = nn.RNN(input_size, hidden_size)
        self.h2o = nn.Linear(hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, line_tensor):
        rnn_out, hidden = self.rnn(line_tensor)
        output = self.h2o(hidden[0])
        output = self.softmax(output)
        return output


def make_model(kind, n_classes, hidden_size=10):
    return {"hand": HandRNN, "nn.RNN": CharRNN}[kind](N_LETTERS, hidden_size, n_classes).double()


def split(dataset, seed=2024):
    return random_split(dataset, [.85, .15], generator=torch.Generator().manual_seed(seed))


def train(rnn, training_data, n_epoch=2, n_batch_size=4, learning_rate=0.2, shuffle_seed=0):
    """Per mini-batch: the mean loss and the gradient norm clip_grad_norm_ returns."""
    criterion = nn.NLLLoss()
    order = random.Random(shuffle_seed)
    optimizer = torch.optim.SGD(rnn.parameters(), lr=learning_rate)
    losses, norms = [], []
    rnn.train()
    for epoch in range(n_epoch):
        rnn.zero_grad()
        batches = list(range(len(training_data)))
        order.shuffle(batches)
        batches = np.array_split(batches, len(batches) // n_batch_size)
        for batch in batches:
            batch_loss = 0
            for i in batch:
                (label_tensor, text_tensor, label, text) = training_data[i]
                output = rnn.forward(text_tensor)
                loss = criterion(output, label_tensor)
                batch_loss += loss
            batch_loss.backward()
            norms.append(nn.utils.clip_grad_norm_(rnn.parameters(), 3).item())
            optimizer.step()
            optimizer.zero_grad()
            losses.append(batch_loss.item() / len(batch))
    return losses, norms


def label_from_output(output, output_labels):
    top_n, top_i = output.topk(1)
    label_i = top_i[0].item()
    return output_labels[label_i], label_i


def evaluate(rnn, testing_data, classes):
    """The confusion matrix (C, C), each row normalised to sum 1, and the guesses."""
    confusion = torch.zeros(len(classes), len(classes), dtype=torch.double)
    guesses = []
    rnn.eval()
    with torch.no_grad():
        for i in range(len(testing_data)):
            (label_tensor, text_tensor, label, text) = testing_data[i]
            output = rnn(text_tensor)
            guess, guess_i = label_from_output(output, classes)
            guesses.append(guess)
            label_i = classes.index(label)
            confusion[label_i][guess_i] += 1
    for i in range(len(classes)):
        denom = confusion[i].sum()
        if denom > 0:
            confusion[i] = confusion[i] / denom
    return confusion.numpy(), guesses
'''


CHAR_TAGGER = '''
def prepare_sequence(seq, to_ix):
    return torch.tensor([to_ix[w] for w in seq], dtype=torch.long)


class CharAwareTagger(nn.Module):
    """Word ids (T,) and each word's character ids -> tag log-probabilities (T, tags): a word's features are its
    embedding joined to the last hidden state of a character LSTM over its letters."""

    def __init__(self, word_dim, char_dim, char_hidden, hidden_dim, vocab_size, alphabet_size, tagset_size):
        super(CharAwareTagger, self).__init__()
        self.word_embeddings = nn.Embedding(vocab_size, word_dim)
        self.char_embeddings = nn.Embedding(alphabet_size, char_dim)
        self.char_lstm = nn.LSTM(char_dim, char_hidden)
        self.lstm = nn.LSTM(word_dim + char_hidden, hidden_dim)
        self.hidden2tag = nn.Linear(hidden_dim, tagset_size)

    def forward(self, sentence, words_chars):
        embeds = self.word_embeddings(sentence)
        char_reps = []
        for chars in words_chars:
            char_embeds = self.char_embeddings(chars)
            _, (h_n, _) = self.char_lstm(char_embeds.view(len(chars), 1, -1))
            char_reps.append(h_n.view(1, -1))
        features = torch.cat([embeds, torch.cat(char_reps)], dim=1)
        lstm_out, _ = self.lstm(features.view(len(sentence), 1, -1))
        tag_space = self.hidden2tag(lstm_out.view(len(sentence), -1))
        return F.log_softmax(tag_space, dim=1)


def make_model(vocab_size, alphabet_size, tagset_size):
    return CharAwareTagger(4, 3, 3, 5, vocab_size, alphabet_size, tagset_size).double()


def train(model, training_data, word_to_ix, char_to_ix, tag_to_ix, epochs=3):
    loss_function = nn.NLLLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for epoch in range(epochs):
        for sentence, tags in training_data:
            model.zero_grad()
            sentence_in = prepare_sequence(sentence, word_to_ix)
            chars_in = [prepare_sequence(word, char_to_ix) for word in sentence]
            targets = prepare_sequence(tags, tag_to_ix)
            tag_scores = model(sentence_in, chars_in)
            loss = loss_function(tag_scores, targets)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    with torch.no_grad():
        sentence = training_data[0][0]
        scores = model(prepare_sequence(sentence, word_to_ix), [prepare_sequence(w, char_to_ix) for w in sentence])
    return losses, scores.numpy(), scores.argmax(dim=1).tolist()


def step_by_step(lstm, inputs, hidden):
    """The tutorial's opening: one step at a time, then the whole sequence at once from the same state."""
    outs = []
    state = hidden
    for i in inputs:
        out, state = lstm(i.view(1, 1, -1), state)
        outs.append(out)
    whole, whole_state = lstm(torch.cat(inputs).view(len(inputs), 1, -1), hidden)
    return torch.cat(outs).numpy(), whole.numpy(), state[0].numpy(), whole_state[0].numpy(), whole_state[1].numpy()
'''


WORD_LM = '''
class RNNModel(nn.Module):
    """Token ids (T, B) -> next-token log-probabilities (T * B, V): encoder, recurrent module, decoder."""

    def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5, tie_weights=False):
        super(RNNModel, self).__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        if rnn_type in ['LSTM', 'GRU']:
            self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
        else:
            try:
                nonlinearity = {'RNN_TANH': 'tanh', 'RNN_RELU': 'relu'}[rnn_type]
            except KeyError as e:
                raise ValueError("An invalid option for `--model` was supplied") from e
            self.rnn = nn.RNN(ninp, nhid, nlayers, nonlinearity=nonlinearity, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        if tie_weights:
            if nhid != ninp:
                raise ValueError('When using the tied flag, nhid must be equal to emsize')
            self.decoder.weight = self.encoder.weight
        self.init_weights()
        self.rnn_type = rnn_type
        self.nhid = nhid
        self.nlayers = nlayers

    def init_weights(self):
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output)
        decoded = decoded.view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        if self.rnn_type == 'LSTM':
            return (weight.new_zeros(self.nlayers, bsz, self.nhid),
                    weight.new_zeros(self.nlayers, bsz, self.nhid))
        return weight.new_zeros(self.nlayers, bsz, self.nhid)


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, dropout=0.1, max_len=64):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, 1, d_model)
        pe[:, 0, 0::2] = torch.sin(position * div_term)
        pe[:, 0, 1::2] = torch.cos(position * div_term)
        self.register_buffer('pe', pe)

    def forward(self, x):
        x = x + self.pe[:x.size(0)]
        return self.dropout(x)


class TransformerModel(nn.Module):
    """Token ids (T, B) -> logits (T, B, V) under a causal mask (the nn.Transformer tutorial's model)."""

    def __init__(self, ntoken, d_model, nhead, d_hid, nlayers, dropout=0.5):
        super().__init__()
        self.model_type = 'Transformer'
        self.pos_encoder = PositionalEncoding(d_model, dropout)
        encoder_layers = nn.TransformerEncoderLayer(d_model, nhead, d_hid, dropout)
        self.transformer_encoder = nn.TransformerEncoder(encoder_layers, nlayers, enable_nested_tensor=False)
        self.embedding = nn.Embedding(ntoken, d_model)
        self.d_model = d_model
        self.linear = nn.Linear(d_model, ntoken)
        self.init_weights()

    def init_weights(self):
        initrange = 0.1
        nn.init.uniform_(self.embedding.weight, -initrange, initrange)
        nn.init.zeros_(self.linear.bias)
        nn.init.uniform_(self.linear.weight, -initrange, initrange)

    def forward(self, src, src_mask=None):
        src = self.embedding(src) * math.sqrt(self.d_model)
        src = self.pos_encoder(src)
        if src_mask is None:
            src_mask = nn.Transformer.generate_square_subsequent_mask(len(src), dtype=src.dtype)
        output = self.transformer_encoder(src, src_mask)
        return self.linear(output)


def make_model(kind, ntokens):
    if kind == 'Transformer':
        model = TransformerModel(ntokens, 8, 2, 12, 2, dropout=0.0)
    else:
        model = RNNModel(kind, ntokens, 8, 8, 2, dropout=0.2, tie_weights=True)
        model.rnn.dropout = 0.0   # torch's inter-layer dropout draws inside its kernel: not shareable
    return model.double()


def batchify(data, bsz, device):
    nbatch = data.size(0) // bsz
    data = data.narrow(0, 0, nbatch * bsz)
    data = data.view(bsz, -1).t().contiguous()
    return data.to(device)


def get_batch(source, i, bptt=4):
    seq_len = min(bptt, len(source) - 1 - i)
    data = source[i:i+seq_len]
    target = source[i+1:i+1+seq_len].view(-1)
    return data, target


def repackage_hidden(h):
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


def run_model(model, data, hidden, ntokens):
    if hasattr(model, 'model_type'):
        return model(data).view(-1, ntokens), hidden
    hidden = repackage_hidden(hidden)
    output, hidden = model(data, hidden)
    return output, hidden


def evaluate(model, data_source, ntokens, eval_batch_size):
    model.eval()
    total_loss = 0.
    criterion = nn.NLLLoss() if not hasattr(model, 'model_type') else nn.CrossEntropyLoss()
    hidden = None if hasattr(model, 'model_type') else model.init_hidden(eval_batch_size)
    with torch.no_grad():
        for i in range(0, data_source.size(0) - 1, 4):
            data, targets = get_batch(data_source, i)
            output, hidden = run_model(model, data, hidden, ntokens)
            total_loss += len(data) * criterion(output, targets).item()
    return total_loss / (len(data_source) - 1)


def train_epochs(model, train_ids, val_ids, ntokens, path, epochs=2, lr=4.0, clip=0.25, batch_size=3):
    """main.py's loop: per step the loss and the gradient norm; per epoch the validation loss and the lr."""
    device = next(model.parameters()).device
    train_data = batchify(torch.from_numpy(train_ids), batch_size, device)
    val_data = batchify(torch.from_numpy(val_ids), 2, device)
    transformer = hasattr(model, 'model_type')
    criterion = nn.CrossEntropyLoss() if transformer else nn.NLLLoss()
    losses, norms, val_losses, lrs = [], [], [], []
    best_val_loss = None
    for epoch in range(epochs):
        model.train()
        hidden = None if transformer else model.init_hidden(batch_size)
        for batch, i in enumerate(range(0, train_data.size(0) - 1, 4)):
            data, targets = get_batch(train_data, i)
            model.zero_grad()
            output, hidden = run_model(model, data, hidden, ntokens)
            loss = criterion(output, targets)
            loss.backward()
            norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), clip)))
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(p.grad, alpha=-lr)
            losses.append(loss.item())
        val_loss = evaluate(model, val_data, ntokens, 2)
        val_losses.append(val_loss)
        if not best_val_loss or val_loss < best_val_loss:
            torch.save(model.state_dict(), path)
            best_val_loss = val_loss
        else:
            lr /= 4.0
        lrs.append(lr)
    model.load_state_dict(torch.load(path))
    return losses, norms, val_losses, lrs


def generate(model, ntokens, words, temperature, pick):
    """generate.py: the next word drawn from exp(log-probabilities / temperature), fed back."""
    model.eval()
    input = torch.tensor([[1]], dtype=torch.long)
    transformer = hasattr(model, 'model_type')
    hidden = None if transformer else model.init_hidden(1)
    picked, weights = [], []
    with torch.no_grad():
        for i in range(words):
            if transformer:
                output = model(input)
                word_weights = output[-1].squeeze().div(temperature).exp().cpu()
            else:
                output, hidden = model(input, hidden)
                word_weights = output.squeeze().div(temperature).exp().cpu()
            word_idx = pick(word_weights)
            weights.append(word_weights.numpy())
            picked.append(word_idx)
            if transformer:
                input = torch.cat([input, torch.tensor([[word_idx]]).long()], 0)
            else:
                input.fill_(word_idx)
    return picked, np.stack(weights)
'''


CLASSIC_TRANSLATION = '''
SOS_token = 0
EOS_token = 1
MAX_LENGTH = 6


class EncoderRNN(nn.Module):
    """One word id at a time: (1,) -> output (1, 1, H), hidden (1, 1, H)."""

    def __init__(self, input_size, hidden_size):
        super(EncoderRNN, self).__init__()
        self.hidden_size = hidden_size
        self.embedding = nn.Embedding(input_size, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size)

    def forward(self, input, hidden):
        embedded = self.embedding(input).view(1, 1, -1)
        output, hidden = self.gru(embedded, hidden)
        return output, hidden

    def initHidden(self):
        return torch.zeros(1, 1, self.hidden_size, dtype=torch.double)


class AttnDecoderRNN(nn.Module):
    """One step with attention over MAX_LENGTH encoder outputs: word (1, 1) -> log-probabilities (1, V), hidden,
    attention weights (1, MAX_LENGTH)."""

    def __init__(self, hidden_size, output_size, dropout_p=0.1, max_length=MAX_LENGTH):
        super(AttnDecoderRNN, self).__init__()
        self.hidden_size = hidden_size
        self.output_size = output_size
        self.dropout_p = dropout_p
        self.max_length = max_length
        self.embedding = nn.Embedding(self.output_size, self.hidden_size)
        self.attn = nn.Linear(self.hidden_size * 2, self.max_length)
        self.attn_combine = nn.Linear(self.hidden_size * 2, self.hidden_size)
        self.dropout = nn.Dropout(self.dropout_p)
        self.gru = nn.GRU(self.hidden_size, self.hidden_size)
        self.out = nn.Linear(self.hidden_size, self.output_size)

    def forward(self, input, hidden, encoder_outputs):
        embedded = self.embedding(input).view(1, 1, -1)
        embedded = self.dropout(embedded)
        attn_weights = F.softmax(self.attn(torch.cat((embedded[0], hidden[0]), 1)), dim=1)
        attn_applied = torch.bmm(attn_weights.unsqueeze(0), encoder_outputs.unsqueeze(0))
        output = torch.cat((embedded[0], attn_applied[0]), 1)
        output = self.attn_combine(output).unsqueeze(0)
        output = F.relu(output)
        output, hidden = self.gru(output, hidden)
        output = F.log_softmax(self.out(output[0]), dim=1)
        return output, hidden, attn_weights


def make_model(input_words, output_words, hidden_size=6):
    return EncoderRNN(input_words, hidden_size).double(), AttnDecoderRNN(hidden_size, output_words).double()


def train_one(input_tensor, target_tensor, encoder, decoder, encoder_optimizer, decoder_optimizer, criterion,
              use_teacher_forcing, max_length=MAX_LENGTH):
    encoder_hidden = encoder.initHidden()
    encoder_optimizer.zero_grad()
    decoder_optimizer.zero_grad()
    input_length = input_tensor.size(0)
    target_length = target_tensor.size(0)
    encoder_outputs = torch.zeros(max_length, encoder.hidden_size, dtype=torch.double)
    loss = 0
    for ei in range(input_length):
        encoder_output, encoder_hidden = encoder(input_tensor[ei], encoder_hidden)
        encoder_outputs[ei] = encoder_output[0, 0]
    decoder_input = torch.tensor([[SOS_token]])
    decoder_hidden = encoder_hidden
    if use_teacher_forcing:
        for di in range(target_length):
            decoder_output, decoder_hidden, decoder_attention = decoder(decoder_input, decoder_hidden, encoder_outputs)
            loss += criterion(decoder_output, target_tensor[di])
            decoder_input = target_tensor[di]
    else:
        for di in range(target_length):
            decoder_output, decoder_hidden, decoder_attention = decoder(decoder_input, decoder_hidden, encoder_outputs)
            topv, topi = decoder_output.topk(1)
            decoder_input = topi.squeeze().detach()
            loss += criterion(decoder_output, target_tensor[di])
            if decoder_input.item() == EOS_token:
                break
    loss.backward()
    encoder_optimizer.step()
    decoder_optimizer.step()
    return loss.item() / target_length


def tensor_from_ids(ids):
    return torch.tensor(list(ids) + [EOS_token], dtype=torch.long).view(-1, 1)


def train_iters(encoder, decoder, pairs, n_iters, teacher_forcing_ratio=0.5, learning_rate=0.05, seed=0):
    """Per iteration: the loss per target word and whether the coin chose teacher forcing."""
    coin = random.Random(seed)
    encoder_optimizer = torch.optim.SGD(encoder.parameters(), lr=learning_rate)
    decoder_optimizer = torch.optim.SGD(decoder.parameters(), lr=learning_rate)
    criterion = nn.NLLLoss()
    losses, forced = [], []
    for it in range(n_iters):
        source, target = pairs[it % len(pairs)]
        use_teacher_forcing = True if coin.random() < teacher_forcing_ratio else False
        losses.append(train_one(tensor_from_ids(source), tensor_from_ids(target), encoder, decoder,
                                encoder_optimizer, decoder_optimizer, criterion, use_teacher_forcing))
        forced.append(use_teacher_forcing)
    return losses, forced


def evaluate(encoder, decoder, source, max_length=MAX_LENGTH):
    """The greedy words (ids, then '<EOS>') and the attention rows (words, MAX_LENGTH)."""
    with torch.no_grad():
        input_tensor = tensor_from_ids(source)
        encoder_hidden = encoder.initHidden()
        encoder_outputs = torch.zeros(max_length, encoder.hidden_size, dtype=torch.double)
        for ei in range(input_tensor.size()[0]):
            encoder_output, encoder_hidden = encoder(input_tensor[ei], encoder_hidden)
            encoder_outputs[ei] += encoder_output[0, 0]
        decoder_input = torch.tensor([[SOS_token]])
        decoder_hidden = encoder_hidden
        decoded_words = []
        decoder_attentions = torch.zeros(max_length, max_length, dtype=torch.double)
        for di in range(max_length):
            decoder_output, decoder_hidden, decoder_attention = decoder(decoder_input, decoder_hidden, encoder_outputs)
            decoder_attentions[di] = decoder_attention
            topv, topi = decoder_output.topk(1)
            if topi.item() == EOS_token:
                decoded_words.append('<EOS>')
                break
            decoded_words.append(topi.item())
            decoder_input = topi.squeeze().detach()
        return decoded_words, decoder_attentions[:di + 1].numpy()
'''


SINE_TODAY = '''
class Sequence(nn.Module):
    """Two LSTMCells and a Linear: values (B, L) -> one-step-ahead predictions (B, L + future), on the device of an
    empty ``dummy_param`` (today's pytorch/examples train.py)."""

    def __init__(self, hidden=6):
        super(Sequence, self).__init__()
        self.hidden = hidden
        self.lstm1 = nn.LSTMCell(1, hidden)
        self.lstm2 = nn.LSTMCell(hidden, hidden)
        self.linear = nn.Linear(hidden, 1)
        self.dummy_param = nn.Parameter(torch.empty(0))

    def forward(self, input, future=0):
        outputs = []
        device = self.dummy_param.device
        h_t = torch.zeros(input.size(0), self.hidden, dtype=torch.double).to(device)
        c_t = torch.zeros(input.size(0), self.hidden, dtype=torch.double).to(device)
        h_t2 = torch.zeros(input.size(0), self.hidden, dtype=torch.double).to(device)
        c_t2 = torch.zeros(input.size(0), self.hidden, dtype=torch.double).to(device)
        for input_t in input.split(1, dim=1):
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        for i in range(future):
            h_t, c_t = self.lstm1(output, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        outputs = torch.cat(outputs, dim=1)
        return outputs


def make_model():
    return Sequence()


def train(seq, data, device, steps=1, future=5):
    """LBFGS(lr=0.8) with a closure on rows 3.., a no_grad forecast of rows 0..2: per-closure losses, test losses,
    forecasts (3, L - 1 + future)."""
    data = torch.from_numpy(data).to(device)
    input = data[3:, :-1]
    target = data[3:, 1:]
    test_input = data[:3, :-1]
    test_target = data[:3, 1:]
    seq = seq.to(device).double()
    criterion = nn.MSELoss().to(device)
    optimizer = torch.optim.LBFGS(seq.parameters(), lr=0.8)
    losses, test_losses, forecasts = [], [], []
    for i in range(steps):
        def closure():
            optimizer.zero_grad()
            out = seq(input)
            loss = criterion(out, target)
            losses.append(loss.item())
            loss.backward()
            return loss
        optimizer.step(closure)
        with torch.no_grad():
            pred = seq(test_input, future=future)
            loss = criterion(pred[:, :-future], test_target)
            test_losses.append(loss.item())
            y = pred.cpu().detach().numpy()
        forecasts.append(y)
    return losses, test_losses, forecasts, seq.dummy_param.grad is None
'''


def test_the_programs_differ_only_in_their_imports() -> None:
    assert TORCH_IMPORTS_R22.count("\n") == MINIGRAD_IMPORTS_R22.count("\n") == 7
    for source in (CLASSIFY_NAMES, CHAR_TAGGER, WORD_LM, CLASSIC_TRANSLATION, SINE_TODAY):
        assert "import" not in source and "minigrad" not in source and "mg." not in source


def _assert_same_state(torch_model: Any, mg_model: Any, rtol: float = RTOL) -> None:
    theirs = {k: v.detach().numpy() for k, v in torch_model.state_dict().items()}
    ours = {k: v.numpy() for k, v in mg_model.state_dict().items()}
    assert ours.keys() == theirs.keys()
    for name, value in theirs.items():
        assert ours[name].dtype == value.dtype, name
        np.testing.assert_allclose(ours[name], value, rtol=rtol, atol=1e-12, err_msg=name)


# ----------------------------------------------------------------------------- 1. classifying names


def _names(rng: np.random.Generator, count: int) -> list:
    """(language, name) pairs: each language draws its letters from its own half of a-h."""
    pairs = []
    for _ in range(count):
        label = ["Early", "Late", "Mixed"][int(rng.integers(3))]
        pool = {"Early": "abcd", "Late": "efgh", "Mixed": "adeh ."}[label]
        pairs.append((label, "".join(pool[int(i)] for i in rng.integers(0, len(pool), int(rng.integers(2, 6))))))
    return pairs


@pytest.mark.parametrize("kind", ["hand", "nn.RNN"])
def test_classifying_names_with_a_character_level_rnn(torch: Any, kind: str) -> None:
    pairs = _names(np.random.default_rng(22), 20)
    torch_program, torch_model, mg_program, mg_model, _ = _twin_models(CLASSIFY_NAMES, kind, 3, imports=IMPORTS)
    torch_data, mg_data = torch_program["NamesDataset"](pairs), mg_program["NamesDataset"](pairs)
    (torch_train, torch_test), (mg_train, mg_test) = torch_program["split"](torch_data), mg_program["split"](mg_data)
    assert (len(mg_train), len(mg_test)) == (len(torch_train), len(torch_test)) == (17, 3)
    mg_train.indices, mg_test.indices = list(torch_train.indices), list(torch_test.indices)
    expected = torch_program["train"](torch_model, torch_train)
    got = mg_program["train"](mg_model, mg_train)
    np.testing.assert_allclose(got, expected, rtol=RTOL)
    assert min(expected[1]) > 0 and len(expected[0]) == 8
    _assert_same_state(torch_model, mg_model)
    classes = torch_data.labels_uniq
    confusion, guesses = mg_program["evaluate"](mg_model, mg_data, classes)
    torch_confusion, torch_guesses = torch_program["evaluate"](torch_model, torch_data, classes)
    assert guesses == torch_guesses
    np.testing.assert_array_equal(confusion, torch_confusion)
    np.testing.assert_allclose(confusion.sum(axis=1), 1.0)


# ----------------------------------------------------------------------------- 2. POS tagger with characters


def test_lstm_tagger_with_character_features(torch: Any) -> None:
    training_data = [("the dog ate the apple".split(), ["DET", "NN", "V", "DET", "NN"]),
                     ("everybody read that book".split(), ["NN", "V", "DET", "NN"])]
    word_to_ix: dict = {}
    char_to_ix: dict = {}
    for sentence, _ in training_data:
        for word in sentence:
            word_to_ix.setdefault(word, len(word_to_ix))
            for char in word:
                char_to_ix.setdefault(char, len(char_to_ix))
    tag_to_ix = {"DET": 0, "NN": 1, "V": 2}
    torch_program, torch_model, mg_program, mg_model, _ = _twin_models(
        CHAR_TAGGER, len(word_to_ix), len(char_to_ix), len(tag_to_ix), imports=IMPORTS)
    expected = torch_program["train"](torch_model, training_data, word_to_ix, char_to_ix, tag_to_ix)
    got = mg_program["train"](mg_model, training_data, word_to_ix, char_to_ix, tag_to_ix)
    np.testing.assert_allclose(got[0], expected[0], rtol=RTOL)
    np.testing.assert_allclose(got[1], expected[1], rtol=RTOL, atol=1e-12)
    assert got[2] == expected[2]
    _assert_same_state(torch_model, mg_model)


def test_lstm_step_by_step_equals_the_whole_sequence(torch: Any) -> None:
    rng = np.random.default_rng(3)
    inputs = [rng.standard_normal((1, 3)) for _ in range(5)]
    state = (rng.standard_normal((1, 1, 3)), rng.standard_normal((1, 1, 3)))
    torch.manual_seed(1)
    lstm = torch.nn.LSTM(3, 3).double()
    ours = mg.nn.LSTM(3, 3).double()
    ours.load_state_dict({k: mg.from_numpy(v.detach().numpy().copy()) for k, v in lstm.state_dict().items()})
    torch_program, mg_program = _program(CHAR_TAGGER, TORCH_IMPORTS_R22), _program(CHAR_TAGGER, MINIGRAD_IMPORTS_R22)
    with torch.no_grad():
        expected = torch_program["step_by_step"](lstm, [torch.from_numpy(i) for i in inputs],
                                                 tuple(torch.from_numpy(s) for s in state))
    got = mg_program["step_by_step"](ours, [mg.from_numpy(i) for i in inputs],
                                     tuple(mg.from_numpy(s) for s in state))
    for ours_part, theirs in zip(got, expected):
        np.testing.assert_allclose(ours_part, theirs, rtol=RTOL, atol=1e-14)
    np.testing.assert_allclose(got[0], got[1], rtol=1e-14, atol=1e-15)   # one at a time = all at once


# ----------------------------------------------------------------------------- 3. word language model


def _shared_picker(seed: int) -> Any:
    """A sampler of one word index from unnormalised weights: the inverse CDF of a NumPy uniform stream."""
    rng = np.random.default_rng(seed)

    def pick(word_weights: Any) -> int:
        w = word_weights.numpy()
        return int(np.searchsorted(np.cumsum(w) / w.sum(), rng.random(), side="right"))

    return pick


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN_TANH", "RNN_RELU", "Transformer"])
def test_word_language_model_tied_and_transformer(torch: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any,
                                                  kind: str) -> None:
    rng = np.random.default_rng(5)
    ntokens = 9
    stream = np.cumsum(np.where(rng.random(50) < 0.85, 2, 1)) % ntokens
    train_ids, val_ids = stream[:39].astype(np.int64), stream[39:].astype(np.int64)
    _shared_dropout(monkeypatch, torch, seed=7)   # one NumPy stream per library, of the same seed
    torch_program, torch_model, mg_program, mg_model, _ = _twin_models(WORD_LM, kind, ntokens, imports=IMPORTS)
    if kind != "Transformer":   # tied: one Parameter under two names, listed once by parameters()
        assert mg_model.decoder.weight is mg_model.encoder.weight
        assert len(list(mg_model.parameters())) == len(list(torch_model.parameters()))
    expected = torch_program["train_epochs"](torch_model, train_ids, val_ids, ntokens, str(tmp_path / "t.pt"),
                                             epochs=3)
    got = mg_program["train_epochs"](mg_model, train_ids, val_ids, ntokens, str(tmp_path / "m.pt"), epochs=3)
    for ours, theirs in zip(got, expected):
        np.testing.assert_allclose(ours, theirs, rtol=RTOL)
    assert len(expected[0]) == 9
    _assert_same_state(torch_model, mg_model)
    if kind != "Transformer":   # still tied after load_state_dict
        assert mg_model.decoder.weight is mg_model.encoder.weight
    picked, weights = mg_program["generate"](mg_model, ntokens, 4, 0.8, _shared_picker(11))
    torch_picked, torch_weights = torch_program["generate"](torch_model, ntokens, 4, 0.8, _shared_picker(11))
    assert picked == torch_picked
    np.testing.assert_allclose(weights, torch_weights, rtol=RTOL)



@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True:UserWarning")   # both warn as nn.Transformer does
def test_examples_transformer_subclass_in_float64_with_dropout(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """pytorch/examples' ``TransformerModel(nn.Transformer)`` (ported in float32 without dropout by
    tests/test_pytorch_programs.py) in float64 with its dropout on: the position code's, and each encoder layer's
    three ``Dropout`` modules (the shared masks); the self-attention's own dropout runs inside torch's kernel and is
    set to 0 in both."""
    rng = np.random.default_rng(3)
    corpus = np.cumsum(np.where(rng.random(60) < 0.9, 3, 1)) % 11
    _shared_dropout(monkeypatch, torch, seed=5)
    programs = [_program(TRANSFORMER_LANGUAGE_MODEL, imports) for imports in (TORCH_IMPORTS, MINIGRAD_IMPORTS)]
    models = []
    for program in programs:
        program["torch"].manual_seed(0)
        model = program["CausalTransformerLM"](11, 8, 2, 16, 2, dropout=0.2)
        for layer in model.encoder.layers:
            layer.self_attn.dropout = 0.0
        models.append(model.double())
    models[1].load_state_dict({k: mg.from_numpy(v.detach().numpy().copy()) for k, v in models[0].state_dict().items()})
    expected = programs[0]["train"](models[0], corpus, 11, 6)
    got = programs[1]["train"](models[1], corpus, 11, 6)
    np.testing.assert_allclose(got, expected, rtol=RTOL)
    _assert_same_state(models[0], models[1])


# ----------------------------------------------------------------------------- 4. the classic translation tutorial


def test_classic_seq2seq_translation_with_teacher_forcing_on_and_off(torch: Any,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The pre-2023 tutorial: one word per encoder call written into ``encoder_outputs[ei]``, attention from a Linear
    over ``cat(embedded, hidden)``, ``loss = 0`` plus NLLLoss per word, free running stopped at EOS by ``.item()``;
    Python's ``random`` picks teacher forcing or free running for each pair (both happen)."""
    rng = np.random.default_rng(9)
    pairs = []
    for _ in range(6):
        source = [int(i) for i in rng.integers(2, 8, int(rng.integers(2, 5)))]
        pairs.append((source, [(w + 1) % 6 + 2 for w in source]))   # a word-by-word substitution
    _shared_dropout(monkeypatch, torch, seed=4)   # the decoder's Dropout(0.1) keeps the same elements in both
    torch_program, (torch_encoder, torch_decoder), mg_program, (mg_encoder, mg_decoder), _ = _twin_models(
        CLASSIC_TRANSLATION, 9, 9, imports=IMPORTS)
    expected = torch_program["train_iters"](torch_encoder, torch_decoder, pairs, 8, 0.5)
    got = mg_program["train_iters"](mg_encoder, mg_decoder, pairs, 8, 0.5)
    assert got[1] == expected[1] and 0 < sum(expected[1]) < 8
    np.testing.assert_allclose(got[0], expected[0], rtol=RTOL)
    _assert_same_state(torch_encoder, mg_encoder)
    _assert_same_state(torch_decoder, mg_decoder)
    torch_decoder.eval()
    mg_decoder.eval()
    for source, _ in pairs[:3]:
        words, attention = mg_program["evaluate"](mg_encoder, mg_decoder, source)
        torch_words, torch_attention = torch_program["evaluate"](torch_encoder, torch_decoder, source)
        assert words == torch_words
        np.testing.assert_allclose(attention, torch_attention, rtol=RTOL, atol=1e-14)


# ----------------------------------------------------------------------------- 5. time sequence prediction, today


def _sine_waves(rows: int, length: int, seed: int, period: int = 4) -> np.ndarray:
    """generate_sine_wave.py, small: float64 sines (rows, length), each row shifted by a random phase."""
    rng = np.random.default_rng(seed)
    x = np.arange(length) + rng.integers(-4 * period, 4 * period, rows)[:, None]
    return np.sin(x / 1.0 / period).astype("float64")


def test_time_sequence_prediction_with_a_dummy_param_for_the_device(torch: Any) -> None:
    """Today's train.py: states made on ``self.dummy_param.device`` (an empty Parameter LBFGS also steps, its grad
    never set), ``torch.from_numpy(data).to(device)``, ``Sequence().to(device).double()``,
    ``nn.MSELoss().to(device)``, ``pred.cpu().detach().numpy()``. (Rows and phases where LBFGS does not overshoot:
    an overshoot to losses of 1e5 turns float64 round-off into 1e-7 relative differences, as in any two engines.)"""
    data = _sine_waves(5, 9, seed=2)
    torch_program, torch_model, mg_program, mg_model, _ = _twin_models(SINE_TODAY, imports=IMPORTS)
    expected = torch_program["train"](torch_model, data, torch.device("cpu"))
    got = mg_program["train"](mg_model, data, mg.device("cpu"))
    assert len(got[0]) == len(expected[0]) == 20 and got[3] is expected[3] is True
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-9)
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-9)
    for ours, theirs in zip(got[2], expected[2]):
        assert ours.dtype == theirs.dtype == np.float64 and ours.shape == theirs.shape == (3, 8 + 5)
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    _assert_same_state(torch_model, mg_model, rtol=1e-9)


# ----------------------------------------------------------------------------- 6. on the GPU


@pytest.mark.gpu
def test_tutorials_on_cuda_as_on_torchs_cpu(torch: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """The classifier under the tutorial's ``torch.set_default_device(device)`` and the word language model moved
    with ``.to(device)`` (``batchify`` too), on ``cuda`` (the strict CuPy stand-in where there is no GPU): torch's
    CPU numbers. (Only minigrad moves: torch's run stays on its CPU.)"""
    pairs = _names(np.random.default_rng(22), 20)
    rng = np.random.default_rng(5)
    stream = (np.cumsum(np.where(rng.random(50) < 0.85, 2, 1)) % 9).astype(np.int64)
    _shared_dropout(monkeypatch, torch, seed=7)
    torch_names, torch_rnn, mg_names, mg_rnn, _ = _twin_models(CLASSIFY_NAMES, "nn.RNN", 3, imports=IMPORTS)
    torch_lm, torch_model, mg_lm, mg_model, _ = _twin_models(WORD_LM, "LSTM", 9, imports=IMPORTS)
    mg_model.to("cuda")
    mg.set_default_device("cuda")
    try:
        mg_rnn.to("cuda")
        torch_data, mg_data = torch_names["NamesDataset"](pairs), mg_names["NamesDataset"](pairs)
        assert mg_data[0][1].device.type == "cuda"
        torch_train, _ = torch_names["split"](torch_data)
        mg_train, _ = mg_names["split"](mg_data)
        mg_train.indices = list(torch_train.indices)
        np.testing.assert_allclose(mg_names["train"](mg_rnn, mg_train), torch_names["train"](torch_rnn, torch_train),
                                   rtol=1e-9)
        classes = torch_data.labels_uniq
        assert mg_names["evaluate"](mg_rnn, mg_data, classes)[1] == torch_names["evaluate"](torch_rnn, torch_data,
                                                                                           classes)[1]
        expected = torch_lm["train_epochs"](torch_model, stream[:39], stream[39:], 9, str(tmp_path / "t.pt"), epochs=1)
        got = mg_lm["train_epochs"](mg_model, stream[:39], stream[39:], 9, str(tmp_path / "m.pt"), epochs=1)
    finally:
        mg.set_default_device("cpu")
    for ours, theirs in zip(got, expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9)
    assert all(p.device.type == "cuda" for p in mg_model.parameters())


# ----------------------------------------------------------------------------- 7. earlier ports, in float64


@pytest.mark.parametrize("program", ["generating names", "batched translation", "word language model"])
def test_earlier_tutorial_ports_under_a_float64_default_dtype(torch: Any, monkeypatch: pytest.MonkeyPatch,
                                                              program: str) -> None:
    """The ports compared in float32 (to 1e-5) by tests/test_pytorch_programs_tutorials.py and
    tests/test_pytorch_programs.py, run unchanged after ``set_default_dtype(float64)`` in both engines: every
    ``torch.zeros``/``Tensor``/``nn.Linear`` they make is float64, and the losses agree to 1e-10."""
    torch.set_default_dtype(torch.float64)
    mg.set_default_dtype(mg.float64)
    try:
        if program == "generating names":
            categories, examples = ["front", "back"], tutorials._named_examples(0, 8)
            _shared_dropout(monkeypatch, torch, 0)
            torch_program, torch_model, mg_program, mg_model, _ = _twin_models(
                tutorials.NAME_GENERATOR, len(categories), imports=tutorials.IMPORTS)
            expected = torch_program["train"](torch_model, examples, categories, 8)
            got = mg_program["train"](mg_model, examples, categories, 8)
        elif program == "batched translation":
            inputs, targets = tutorials._reversal_pairs(1, 8, 8)
            _shared_dropout(monkeypatch, torch, 1)
            tutorials._shared_sampler_order(monkeypatch, torch, 1)
            torch_program, torch_models, mg_program, mg_models, _ = _twin_models(
                tutorials.TRANSLATOR, 8, imports=tutorials.IMPORTS)
            torch_model, mg_model = torch_models[0], mg_models[0]
            expected = torch_program["train"](*torch_models, inputs, targets, 2)
            got = mg_program["train"](*mg_models, inputs, targets, 2)
        else:
            rng = np.random.default_rng(0)
            corpus = np.cumsum(np.where(rng.random(4 * 5 * 8 + 4) < 0.9, 3, 1)) % 11
            torch_program, torch_model, mg_program, mg_model, _ = _twin_models(programs.WORD_LANGUAGE_MODEL, 11)
            expected = torch_program["train"](torch_model, corpus, 11, 8)
            got = mg_program["train"](mg_model, corpus, 11, 8)
    finally:
        torch.set_default_dtype(torch.float32)
        mg.set_default_dtype(mg.float32)
    assert next(mg_model.parameters()).dtype == mg.float64 and next(torch_model.parameters()).dtype == torch.float64
    np.testing.assert_allclose(got, expected, rtol=RTOL)
