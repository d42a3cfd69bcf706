"""Four real PyTorch programs, trimmed, run unchanged on minigrad: only the import lines differ.

Each program below is written in this repository after the structure of a
well-known PyTorch program, cut to a small model and a few steps on generated
data:

* ``WORD_LANGUAGE_MODEL``: pytorch/examples ``word_language_model`` (LSTM
  language model: ``batchify`` with ``narrow``/``view``/``t``/``contiguous``,
  ``get_batch``, ``repackage_hidden``, ``init_hidden`` with ``new_zeros``,
  ``NLLLoss`` over ``log_softmax``, gradient clipping and a manual SGD step);
* ``SEQ2SEQ_ATTENTION``: the PyTorch seq2seq translation tutorial with
  Bahdanau attention (GRU encoder and decoder, ``bmm``, ``permute``,
  ``squeeze``/``unsqueeze``, ``cat``, ``softmax``, teacher forcing, ``topk``
  greedy decoding, ``NLLLoss``, two Adam optimizers);
* ``CHAR_RNN_CLASSIFICATION``: the char-RNN name classification tutorial (an
  RNN built from ``Linear`` + ``LogSoftmax``, one-hot letters written with
  ``tensor[li][0][index] = 1``, ``NLLLoss``, ``topk`` and a manual SGD step);
* ``TRANSFORMER_LANGUAGE_MODEL``: the same example's ``TransformerModel`` (a
  subclass of ``nn.Transformer`` whose encoder runs under a float causal mask
  from ``log(tril(ones))``, a ``PositionalEncoding`` buffer written with
  strided slices, ``math.sqrt`` scaling).

The one change from the originals that is not an import: their manual SGD step
``p.data.add_(p.grad.data, alpha=-lr)`` is written ``with torch.no_grad():
p.add_(p.grad, alpha=-lr)`` (PyTorch's recommended form), since minigrad's
``.data`` is the NumPy array (README, "Coming from PyTorch").

Each source runs twice, after ``TORCH_IMPORTS`` and after
``MINIGRAD_IMPORTS``, from the same initial weights (the torch model's state
dict, loaded with ``load_state_dict``), and the 20 training losses must agree
to 1e-5.
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
    """Container module with an encoder, a recurrent module, and a decoder."""

    def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5):
        super(RNNModel, self).__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
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
        else:
            return weight.new_zeros(self.nlayers, bsz, self.nhid)


def batchify(data, bsz):
    # Work out how cleanly we can divide the dataset into bsz parts.
    nbatch = data.size(0) // bsz
    # Trim off any extra elements that wouldn't cleanly fit (remainders).
    data = data.narrow(0, 0, nbatch * bsz)
    # Evenly divide the data across the bsz batches.
    data = data.view(bsz, -1).t().contiguous()
    return data


def repackage_hidden(h):
    """Wraps hidden states in new Tensors, to detach them from their history."""
    if isinstance(h, torch.Tensor):
        return h.detach()
    else:
        return tuple(repackage_hidden(v) for v in h)


def get_batch(source, i, bptt):
    seq_len = min(bptt, len(source) - 1 - i)
    data = source[i:i+seq_len]
    target = source[i+1:i+1+seq_len].view(-1)
    return data, target


def make_model(ntokens):
    return RNNModel('LSTM', ntokens, 8, 12, 2, dropout=0.0)


def train(model, corpus, ntokens, steps, lr=2.0, clip=0.25, bptt=5, batch_size=4):
    train_data = batchify(torch.from_numpy(corpus), batch_size)
    criterion = nn.NLLLoss()
    model.train()
    losses = []
    hidden = model.init_hidden(batch_size)
    while len(losses) < steps:
        for batch, i in enumerate(range(0, train_data.size(0) - 1, bptt)):
            data, targets = get_batch(train_data, i, bptt)
            # Starting each batch, we detach the hidden state from how it was previously produced.
            # If we didn't, the model would try backpropagating all the way to start of the dataset.
            model.zero_grad()
            hidden = repackage_hidden(hidden)
            output, hidden = model(data, hidden)
            loss = criterion(output, targets)
            loss.backward()

            # `clip_grad_norm` helps prevent the exploding gradient problem in RNNs / LSTMs.
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(p.grad, alpha=-lr)
            losses.append(loss.item())
            if len(losses) == steps:
                break
    return losses
'''


SEQ2SEQ_ATTENTION = '''
SOS_token = 0
EOS_token = 1
MAX_LENGTH = 6


class EncoderRNN(nn.Module):
    def __init__(self, input_size, hidden_size, dropout_p=0.1):
        super(EncoderRNN, self).__init__()
        self.hidden_size = hidden_size

        self.embedding = nn.Embedding(input_size, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True)
        self.dropout = nn.Dropout(dropout_p)

    def forward(self, input):
        embedded = self.dropout(self.embedding(input))
        output, hidden = self.gru(embedded)
        return output, hidden


class BahdanauAttention(nn.Module):
    def __init__(self, hidden_size):
        super(BahdanauAttention, self).__init__()
        self.Wa = nn.Linear(hidden_size, hidden_size)
        self.Ua = nn.Linear(hidden_size, hidden_size)
        self.Va = nn.Linear(hidden_size, 1)

    def forward(self, query, keys):
        scores = self.Va(torch.tanh(self.Wa(query) + self.Ua(keys)))
        scores = scores.squeeze(2).unsqueeze(1)

        weights = F.softmax(scores, dim=-1)
        context = torch.bmm(weights, keys)

        return context, weights


class AttnDecoderRNN(nn.Module):
    def __init__(self, hidden_size, output_size, dropout_p=0.1):
        super(AttnDecoderRNN, self).__init__()
        self.embedding = nn.Embedding(output_size, hidden_size)
        self.attention = BahdanauAttention(hidden_size)
        self.gru = nn.GRU(2 * hidden_size, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, output_size)
        self.dropout = nn.Dropout(dropout_p)

    def forward(self, encoder_outputs, encoder_hidden, target_tensor=None):
        batch_size = encoder_outputs.size(0)
        decoder_input = torch.empty(batch_size, 1, dtype=torch.long).fill_(SOS_token)
        decoder_hidden = encoder_hidden
        decoder_outputs = []
        attentions = []

        for i in range(MAX_LENGTH):
            decoder_output, decoder_hidden, attn_weights = self.forward_step(
                decoder_input, decoder_hidden, encoder_outputs
            )
            decoder_outputs.append(decoder_output)
            attentions.append(attn_weights)

            if target_tensor is not None:
                # Teacher forcing: Feed the target as the next input
                decoder_input = target_tensor[:, i].unsqueeze(1) # Teacher forcing
            else:
                # Without teacher forcing: use its own predictions as the next input
                _, topi = decoder_output.topk(1)
                decoder_input = topi.squeeze(-1).detach()  # detach from history as input

        decoder_outputs = torch.cat(decoder_outputs, dim=1)
        decoder_outputs = F.log_softmax(decoder_outputs, dim=-1)
        attentions = torch.cat(attentions, dim=1)

        return decoder_outputs, decoder_hidden, attentions

    def forward_step(self, input, hidden, encoder_outputs):
        embedded =  self.dropout(self.embedding(input))

        query = hidden.permute(1, 0, 2)
        context, attn_weights = self.attention(query, encoder_outputs)
        input_gru = torch.cat((embedded, context), dim=2)

        output, hidden = self.gru(input_gru, hidden)
        output = self.out(output)

        return output, hidden, attn_weights


def make_model(input_lang_n_words, output_lang_n_words, hidden_size=10):
    encoder = EncoderRNN(input_lang_n_words, hidden_size, dropout_p=0.0)
    decoder = AttnDecoderRNN(hidden_size, output_lang_n_words, dropout_p=0.0)
    return nn.ModuleDict({"encoder": encoder, "decoder": decoder})


def train(model, pairs, steps, learning_rate=0.01, batch_size=4):
    encoder, decoder = model["encoder"], model["decoder"]
    input_ids, target_ids = pairs
    encoder_optimizer = optim.Adam(encoder.parameters(), lr=learning_rate)
    decoder_optimizer = optim.Adam(decoder.parameters(), lr=learning_rate)
    criterion = nn.NLLLoss()
    losses = []
    for step in range(steps):
        start = (step * batch_size) % len(input_ids)
        input_tensor = torch.from_numpy(input_ids[start:start + batch_size])
        target_tensor = torch.from_numpy(target_ids[start:start + batch_size])

        encoder_optimizer.zero_grad()
        decoder_optimizer.zero_grad()

        encoder_outputs, encoder_hidden = encoder(input_tensor)
        decoder_outputs, _, _ = decoder(encoder_outputs, encoder_hidden, target_tensor)

        loss = criterion(
            decoder_outputs.view(-1, decoder_outputs.size(-1)),
            target_tensor.view(-1)
        )
        loss.backward()

        encoder_optimizer.step()
        decoder_optimizer.step()
        losses.append(loss.item())
    return losses


def evaluate(model, input_ids):
    encoder, decoder = model["encoder"], model["decoder"]
    with torch.no_grad():
        input_tensor = torch.from_numpy(input_ids)
        encoder_outputs, encoder_hidden = encoder(input_tensor)
        decoder_outputs, decoder_hidden, decoder_attn = decoder(encoder_outputs, encoder_hidden)

        _, topi = decoder_outputs.topk(1)
        decoded_ids = topi.squeeze()
    return decoded_ids.tolist(), decoder_attn.sum().item()
'''


CHAR_RNN_CLASSIFICATION = '''
all_letters = "abcdefghij .,;'"
n_letters = len(all_letters)


# Find letter index from all_letters, e.g. "a" = 0
def letterToIndex(letter):
    return all_letters.find(letter)


# Turn a line into a <line_length x 1 x n_letters>,
# or an array of one-hot letter vectors
def lineToTensor(line):
    tensor = torch.zeros(len(line), 1, n_letters)
    for li, letter in enumerate(line):
        tensor[li][0][letterToIndex(letter)] = 1
    return tensor


class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super(RNN, self).__init__()

        self.hidden_size = hidden_size

        self.i2h = nn.Linear(input_size + hidden_size, hidden_size)
        self.i2o = nn.Linear(input_size + hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, input, hidden):
        combined = torch.cat((input, hidden), 1)
        hidden = self.i2h(combined)
        output = self.i2o(combined)
        output = self.softmax(output)
        return output, hidden

    def initHidden(self):
        return torch.zeros(1, self.hidden_size)


def categoryFromOutput(output, all_categories):
    top_n, top_i = output.topk(1)
    category_i = top_i[0].item()
    return all_categories[category_i], category_i


def make_model(n_categories, n_hidden=16):
    return RNN(n_letters, n_hidden, n_categories)


def train(rnn, examples, all_categories, steps, learning_rate=0.05):
    criterion = nn.NLLLoss()
    losses, guesses = [], []
    for step in range(steps):
        category, line = examples[step % len(examples)]
        category_tensor = torch.tensor([all_categories.index(category)], dtype=torch.long)
        line_tensor = lineToTensor(line)

        hidden = rnn.initHidden()

        rnn.zero_grad()

        for i in range(line_tensor.size()[0]):
            output, hidden = rnn(line_tensor[i], hidden)

        loss = criterion(output, category_tensor)
        loss.backward()

        # Add parameters' gradients to their values, multiplied by learning rate
        with torch.no_grad():
            for p in rnn.parameters():
                p.add_(p.grad, alpha=-learning_rate)

        losses.append(loss.item())
        guesses.append(categoryFromOutput(output, all_categories)[0])
    return losses, guesses
'''


TRANSFORMER_LANGUAGE_MODEL = '''
class PositionalEncoding(nn.Module):
    """Adds sine/cosine position signals of different frequencies to the token embeddings."""

    def __init__(self, d_model, dropout=0.1, max_len=64):
        super(PositionalEncoding, self).__init__()
        self.dropout = nn.Dropout(p=dropout)
        pe = torch.zeros(max_len, d_model)
        position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        pe = pe.unsqueeze(0).transpose(0, 1)
        self.register_buffer('pe', pe)

    def forward(self, x):
        x = x + self.pe[:x.size(0), :]
        return self.dropout(x)


class TransformerModel(nn.Transformer):
    """A language model: an nn.Transformer whose encoder alone is used, under a causal mask."""

    def __init__(self, ntoken, ninp, nhead, nhid, nlayers, dropout=0.5):
        super(TransformerModel, self).__init__(d_model=ninp, nhead=nhead, dim_feedforward=nhid,
                                               num_encoder_layers=nlayers, dropout=dropout)
        self.src_mask = None
        self.pos_encoder = PositionalEncoding(ninp, dropout)
        self.input_emb = nn.Embedding(ntoken, ninp)
        self.ninp = ninp
        self.decoder = nn.Linear(ninp, ntoken)
        self.init_weights()

    def _generate_square_subsequent_mask(self, sz):
        return torch.log(torch.tril(torch.ones(sz, sz)))

    def init_weights(self):
        initrange = 0.1
        nn.init.uniform_(self.input_emb.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, src, has_mask=True):
        if has_mask:
            device = src.device
            if self.src_mask is None or self.src_mask.size(0) != len(src):
                mask = self._generate_square_subsequent_mask(len(src)).to(device)
                self.src_mask = mask
        else:
            self.src_mask = None
        src = self.input_emb(src) * math.sqrt(self.ninp)
        src = self.pos_encoder(src)
        output = self.encoder(src, mask=self.src_mask)
        output = self.decoder(output)
        return F.log_softmax(output, dim=-1)


def make_model(ntokens):
    return TransformerModel(ntokens, 8, 2, 16, 2, dropout=0.0)


def train(model, corpus, ntokens, steps, lr=0.5, clip=0.25, bptt=5, batch_size=4):
    nbatch = len(corpus) // batch_size
    train_data = torch.from_numpy(corpus).narrow(0, 0, nbatch * batch_size).view(batch_size, -1).t().contiguous()
    criterion = nn.NLLLoss()
    model.train()
    losses = []
    while len(losses) < steps:
        for i in range(0, train_data.size(0) - 1, bptt):
            seq_len = min(bptt, len(train_data) - 1 - i)
            data, targets = train_data[i:i + seq_len], train_data[i + 1:i + 1 + seq_len].reshape(-1)
            model.zero_grad()
            output = model(data)
            loss = criterion(output.view(-1, ntokens), targets)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(p.grad, alpha=-lr)
            losses.append(loss.item())
            if len(losses) == steps:
                break
    return losses
'''


def _program(source: str, imports: str) -> dict:
    """The program's namespace after running its source below ``imports``."""
    namespace: dict = {"__name__": "program"}
    exec(compile(imports + source, "program", "exec"), namespace)   # noqa: S102 - our own program text
    return namespace


def _copy_weights(torch_model: Any, namespace: dict) -> dict:
    """The torch model's initial weights as a minigrad state dict (one array copy each)."""
    mg_torch = namespace["torch"]
    return {k: mg_torch.from_numpy(v.detach().numpy().copy()) for k, v in torch_model.state_dict().items()}


def _twin_models(source: str, *args: Any) -> tuple:
    torch_program = _program(source, TORCH_IMPORTS)
    mg_program = _program(source, MINIGRAD_IMPORTS)
    torch_program["torch"].manual_seed(0)
    torch_model = torch_program["make_model"](*args)
    mg_model = mg_program["make_model"](*args)
    initial = _copy_weights(torch_model, mg_program)
    mg_model.load_state_dict(initial)
    return torch_program, torch_model, mg_program, mg_model, initial


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
    for source in (WORD_LANGUAGE_MODEL, SEQ2SEQ_ATTENTION, CHAR_RNN_CLASSIFICATION, TRANSFORMER_LANGUAGE_MODEL):
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
    # softmax ignores a shift of all scores: Va's bias gets a zero gradient
    _assert_same_weights(torch_model, mg_model, initial, noise_only=("decoder.attention.Va.bias",))
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
    """pytorch/examples' TransformerModel: a subclass of nn.Transformer, a float causal mask of -inf from
    log(tril(ones)), a sine/cosine position buffer written with strided slices."""
    rng = np.random.default_rng(3)
    ntokens = 11
    corpus = np.cumsum(np.where(rng.random(4 * 5 * STEPS + 4) < 0.9, 3, 1)) % ntokens
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(TRANSFORMER_LANGUAGE_MODEL, ntokens)
    expected = torch_program["train"](torch_model, corpus, ntokens, STEPS)
    losses = mg_program["train"](mg_model, corpus, ntokens, STEPS)
    np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-5)
    # the decoder half of nn.Transformer is built but never used: its weights keep their values in both
    _assert_same_weights(torch_model, mg_model, initial)
