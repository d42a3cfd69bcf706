"""The official PyTorch NLP tutorials' recurrent models, small, run on torch and on minigrad: only the imports differ.

Each program is our own rewrite of a PyTorch tutorial (names, helpers and comments are ours), cut to a tiny
model and a few steps on data generated in the test, keeping the tutorial's PyTorch calls in the same roles
(the helpers and the rule come from tests/test_pytorch_programs.py):

* ``NAME_GENERATOR`` mirrors "NLP From Scratch: Generating Names with a Character-Level RNN"
  (https://pytorch.org/tutorials/intermediate/char_rnn_generation_tutorial.html): the hand-written recurrent
  step (``i2h``, ``i2o``, ``o2o`` ``Linear`` layers over ``torch.cat`` of category, letter and hidden state,
  ``nn.Dropout(0.1)``, ``nn.LogSoftmax``), targets built with ``torch.LongTensor`` and ``unsqueeze_(-1)``,
  ``NLLLoss`` summed over the name into ``loss = torch.Tensor([0])`` with ``+=``, and sampling with ``topk(1)``
  until the end-of-name letter. Its manual SGD step is written ``p.data += -lr * p.grad.data``, the form the
  README gives for minigrad (whose ``.data`` is the array) that also runs on torch, in place of the tutorial's
  ``p.data.add_(p.grad.data, alpha=-lr)``;
* ``TRANSLATOR`` mirrors "NLP From Scratch: Translation with a Sequence to Sequence Network and Attention"
  (https://pytorch.org/tutorials/intermediate/seq2seq_translation_tutorial.html) as the tutorial trains it,
  which tests/test_pytorch_programs.py's ``SEQ2SEQ_ATTENTION`` does not: a ``TensorDataset`` read by
  ``DataLoader(sampler=RandomSampler(...))``, dropout 0.1 on, epoch losses, ``eval()`` and an ``evaluate``
  that reads the greedy words up to EOS and returns the attention matrix;
* ``CHATBOT`` mirrors the "Chatbot Tutorial" (https://pytorch.org/tutorials/beginner/chatbot_tutorial.html): one
  ``Embedding`` shared by a bidirectional 2-layer GRU encoder over ``pack_padded_sequence`` (lengths on the CPU,
  sorted) whose two directions' outputs are summed and a ``LuongAttnDecoderRNN`` (Luong attention by ``dot``,
  ``general`` or ``concat``, a concat ``Linear`` + ``tanh``, ``F.softmax`` outputs), ``maskNLLLoss`` with
  ``gather``/``masked_select``, teacher forcing by a coin, ``clip_grad_norm_`` on both models, two Adam
  optimizers (the decoder's learning rate multiplied) that both update the shared embedding, and a
  ``GreedySearchDecoder`` that grows its answer with ``torch.max`` and ``torch.cat``.

The random draws compared are made the same in both runs: ``F.dropout`` of both libraries keeps, in call order,
the elements one NumPy stream picks (``_shared_dropout``); the ``RandomSampler`` orders come from one NumPy stream
per library (torch's ``randperm`` and minigrad's sampler generator, ``_shared_sampler_order``); the chatbot's
teacher-forcing coin is a list of flips the test draws.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
from tests.test_pytorch_programs import _assert_same_weights, _twin_models
from tests.test_pytorch_programs_flow import _lean_torch  # noqa: F401 - autouse: torch lean, _dynamo imported in setup
from tests.test_pytorch_programs_gnn import _shared_dropout

TORCH_IMPORTS_TUTORIALS = """\
import math
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import optim
from torch.utils.data import DataLoader, RandomSampler, TensorDataset
"""

MINIGRAD_IMPORTS_TUTORIALS = """\
import math
import minigrad as torch
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad import optim
from minigrad.utils.data import DataLoader, RandomSampler, TensorDataset
"""

IMPORTS = (TORCH_IMPORTS_TUTORIALS, MINIGRAD_IMPORTS_TUTORIALS)


NAME_GENERATOR = '''
LETTERS = "abcdefgh"
N_LETTERS = len(LETTERS) + 1   # the last index ends a name


class NameRNN(nn.Module):
    """One step: category (1, C), letter (1, L), hidden (1, H) -> next-letter log-probabilities (1, L), hidden."""

    def __init__(self, n_categories, input_size, hidden_size, output_size):
        super(NameRNN, self).__init__()
        self.hidden_size = hidden_size
        joined = n_categories + input_size + hidden_size
        self.i2h = nn.Linear(joined, hidden_size)
        self.i2o = nn.Linear(joined, output_size)
        self.o2o = nn.Linear(hidden_size + output_size, output_size)
        self.dropout = nn.Dropout(0.1)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, category, letter, hidden):
        joined = torch.cat((category, letter, hidden), 1)
        hidden = self.i2h(joined)
        output = self.o2o(torch.cat((hidden, self.i2o(joined)), 1))
        return self.softmax(self.dropout(output)), hidden

    def init_hidden(self):
        return torch.zeros(1, self.hidden_size)


def category_tensor(category, categories):
    one_hot = torch.zeros(1, len(categories))
    one_hot[0][categories.index(category)] = 1
    return one_hot


def letters_tensor(name):
    """The name's letters one-hot, (len(name), 1, N_LETTERS)."""
    tensor = torch.zeros(len(name), 1, N_LETTERS)
    for i, letter in enumerate(name):
        tensor[i][0][LETTERS.find(letter)] = 1
    return tensor


def targets_tensor(name):
    """Each letter's successor, the end-of-name index last: (len(name),) longs."""
    indexes = [LETTERS.find(name[i]) for i in range(1, len(name))]
    indexes.append(N_LETTERS - 1)
    return torch.LongTensor(indexes)


def make_model(n_categories, hidden_size=12):
    return NameRNN(n_categories, N_LETTERS, hidden_size, N_LETTERS)


def train_one(rnn, criterion, category, letters, targets, learning_rate):
    targets.unsqueeze_(-1)
    hidden = rnn.init_hidden()
    rnn.zero_grad()
    loss = torch.Tensor([0])
    for i in range(letters.size(0)):
        output, hidden = rnn(category, letters[i], hidden)
        loss += criterion(output, targets[i])
    loss.backward()
    for p in rnn.parameters():
        p.data += -learning_rate * p.grad.data
    return output, loss.item() / letters.size(0)


def train(rnn, examples, categories, steps, learning_rate=0.05):
    criterion = nn.NLLLoss()
    losses, grad_norms = [], []
    for step in range(steps):
        category, name = examples[step % len(examples)]
        _, loss = train_one(rnn, criterion, category_tensor(category, categories), letters_tensor(name),
                            targets_tensor(name), learning_rate)
        losses.append(loss)
        grad_norms.append(sum(p.grad.norm().item() ** 2 for p in rnn.parameters()) ** 0.5)
    return losses, grad_norms


def sample(rnn, category, categories, start_letter="a", max_length=8):
    with torch.no_grad():
        category = category_tensor(category, categories)
        letter = letters_tensor(start_letter)
        hidden = rnn.init_hidden()
        name = start_letter
        for _ in range(max_length):
            output, hidden = rnn(category, letter[0], hidden)
            _, top_index = output.topk(1)
            top_index = top_index[0][0]
            if top_index == N_LETTERS - 1:
                break
            name += LETTERS[top_index]
            letter = letters_tensor(LETTERS[top_index])
        return name
'''


TRANSLATOR = '''
SOS_token = 0
EOS_token = 1
MAX_LENGTH = 5
device = torch.device("cpu")


class EncoderRNN(nn.Module):
    def __init__(self, input_size, hidden_size, dropout_p=0.1):
        super(EncoderRNN, self).__init__()
        self.embedding = nn.Embedding(input_size, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True)
        self.dropout = nn.Dropout(dropout_p)

    def forward(self, sentence):
        return self.gru(self.dropout(self.embedding(sentence)))


class BahdanauAttention(nn.Module):
    """query (B, 1, H), keys (B, T, H) -> context (B, 1, H) and weights (B, 1, T)."""

    def __init__(self, hidden_size):
        super(BahdanauAttention, self).__init__()
        self.Wa = nn.Linear(hidden_size, hidden_size)
        self.Ua = nn.Linear(hidden_size, hidden_size)
        self.Va = nn.Linear(hidden_size, 1)

    def forward(self, query, keys):
        scores = self.Va(torch.tanh(self.Wa(query) + self.Ua(keys)))
        weights = F.softmax(scores.squeeze(2).unsqueeze(1), dim=-1)
        return torch.bmm(weights, keys), weights


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
        decoder_outputs, attentions = [], []
        for i in range(MAX_LENGTH):
            decoder_output, decoder_hidden, attn_weights = self.forward_step(decoder_input, decoder_hidden,
                                                                             encoder_outputs)
            decoder_outputs.append(decoder_output)
            attentions.append(attn_weights)
            if target_tensor is not None:
                decoder_input = target_tensor[:, i].unsqueeze(1)   # teacher forcing
            else:
                _, topi = decoder_output.topk(1)
                decoder_input = topi.squeeze(-1).detach()
        decoder_outputs = F.log_softmax(torch.cat(decoder_outputs, dim=1), dim=-1)
        return decoder_outputs, decoder_hidden, torch.cat(attentions, dim=1)

    def forward_step(self, word, hidden, encoder_outputs):
        embedded = self.dropout(self.embedding(word))
        context, attn_weights = self.attention(hidden.permute(1, 0, 2), encoder_outputs)
        output, hidden = self.gru(torch.cat((embedded, context), dim=2), hidden)
        return self.out(output), hidden, attn_weights


def make_model(words, hidden_size=8):
    return EncoderRNN(words, hidden_size), AttnDecoderRNN(hidden_size, words)


def train_epoch(dataloader, encoder, decoder, encoder_optimizer, decoder_optimizer, criterion):
    total_loss = 0
    for input_tensor, target_tensor in dataloader:
        encoder_optimizer.zero_grad()
        decoder_optimizer.zero_grad()
        encoder_outputs, encoder_hidden = encoder(input_tensor)
        decoder_outputs, _, _ = decoder(encoder_outputs, encoder_hidden, target_tensor)
        loss = criterion(decoder_outputs.view(-1, decoder_outputs.size(-1)), target_tensor.view(-1))
        loss.backward()
        encoder_optimizer.step()
        decoder_optimizer.step()
        total_loss += loss.item()
    return total_loss / len(dataloader)


def train(encoder, decoder, input_ids, target_ids, epochs, batch_size=4, learning_rate=0.01):
    train_data = TensorDataset(torch.LongTensor(input_ids).to(device), torch.LongTensor(target_ids).to(device))
    train_dataloader = DataLoader(train_data, sampler=RandomSampler(train_data), batch_size=batch_size)
    encoder_optimizer = optim.Adam(encoder.parameters(), lr=learning_rate)
    decoder_optimizer = optim.Adam(decoder.parameters(), lr=learning_rate)
    criterion = nn.NLLLoss()
    encoder.train()
    decoder.train()
    return [train_epoch(train_dataloader, encoder, decoder, encoder_optimizer, decoder_optimizer, criterion)
            for _ in range(epochs)]


def evaluate(encoder, decoder, input_ids):
    """The greedy words of one sentence up to EOS, and their rows of the attention matrix (words, T) as an array."""
    encoder.eval()
    decoder.eval()
    with torch.no_grad():
        input_tensor = torch.tensor(input_ids, dtype=torch.long, device=device).view(1, -1)
        encoder_outputs, encoder_hidden = encoder(input_tensor)
        decoder_outputs, decoder_hidden, decoder_attn = decoder(encoder_outputs, encoder_hidden)
        _, topi = decoder_outputs.topk(1)
        decoded_ids = topi.squeeze()
        decoded_words = []
        for idx in decoded_ids:
            if idx.item() == EOS_token:
                decoded_words.append("<EOS>")
                break
            decoded_words.append(idx.item())
    return decoded_words, decoder_attn[0, :len(decoded_words), :].cpu().numpy()
'''


CHATBOT = '''
PAD_token = 0
SOS_token = 1
EOS_token = 2


class EncoderRNN(nn.Module):
    """Padded word ids (T, B) with their lengths (B,), longest first -> outputs (T, B, H), hidden (2 L, B, H)."""

    def __init__(self, hidden_size, embedding, n_layers=1, dropout=0):
        super(EncoderRNN, self).__init__()
        self.n_layers = n_layers
        self.hidden_size = hidden_size
        self.embedding = embedding
        self.gru = nn.GRU(hidden_size, hidden_size, n_layers, dropout=(0 if n_layers == 1 else dropout),
                          bidirectional=True)

    def forward(self, input_seq, input_lengths, hidden=None):
        packed = nn.utils.rnn.pack_padded_sequence(self.embedding(input_seq), input_lengths)
        outputs, hidden = self.gru(packed, hidden)
        outputs, _ = nn.utils.rnn.pad_packed_sequence(outputs)
        outputs = outputs[:, :, :self.hidden_size] + outputs[:, :, self.hidden_size:]   # the two directions
        return outputs, hidden


class Attn(nn.Module):
    """Luong attention: the decoder output (1, B, H) against the encoder outputs (T, B, H) -> weights (B, 1, T)."""

    def __init__(self, method, hidden_size):
        super(Attn, self).__init__()
        if method not in ["dot", "general", "concat"]:
            raise ValueError(method, "is not an appropriate attention method.")
        self.method = method
        if self.method == "general":
            self.attn = nn.Linear(hidden_size, hidden_size)
        elif self.method == "concat":
            self.attn = nn.Linear(hidden_size * 2, hidden_size)
            self.v = nn.Parameter(torch.FloatTensor(hidden_size).uniform_(-0.5, 0.5))

    def dot_score(self, hidden, encoder_output):
        return torch.sum(hidden * encoder_output, dim=2)

    def general_score(self, hidden, encoder_output):
        return torch.sum(hidden * self.attn(encoder_output), dim=2)

    def concat_score(self, hidden, encoder_output):
        joined = torch.cat((hidden.expand(encoder_output.size(0), -1, -1), encoder_output), 2)
        return torch.sum(self.v * self.attn(joined).tanh(), dim=2)

    def forward(self, hidden, encoder_outputs):
        if self.method == "general":
            attn_energies = self.general_score(hidden, encoder_outputs)
        elif self.method == "concat":
            attn_energies = self.concat_score(hidden, encoder_outputs)
        else:
            attn_energies = self.dot_score(hidden, encoder_outputs)
        return F.softmax(attn_energies.t(), dim=1).unsqueeze(1)


class LuongAttnDecoderRNN(nn.Module):
    """One step: words (1, B), hidden (L, B, H), encoder outputs (T, B, H) -> word probabilities (B, V), hidden."""

    def __init__(self, attn_model, embedding, hidden_size, output_size, n_layers=1, dropout=0.1):
        super(LuongAttnDecoderRNN, self).__init__()
        self.n_layers = n_layers
        self.embedding = embedding
        self.embedding_dropout = nn.Dropout(dropout)
        self.gru = nn.GRU(hidden_size, hidden_size, n_layers, dropout=0)
        self.concat = nn.Linear(hidden_size * 2, hidden_size)
        self.out = nn.Linear(hidden_size, output_size)
        self.attn = Attn(attn_model, hidden_size)

    def forward(self, input_step, last_hidden, encoder_outputs):
        embedded = self.embedding_dropout(self.embedding(input_step))
        rnn_output, hidden = self.gru(embedded, last_hidden)
        attn_weights = self.attn(rnn_output, encoder_outputs)
        context = attn_weights.bmm(encoder_outputs.transpose(0, 1))
        concat_input = torch.cat((rnn_output.squeeze(0), context.squeeze(1)), 1)
        concat_output = torch.tanh(self.concat(concat_input))
        return F.softmax(self.out(concat_output), dim=1), hidden


class GreedySearchDecoder(nn.Module):
    def __init__(self, encoder, decoder):
        super(GreedySearchDecoder, self).__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, input_seq, input_length, max_length):
        encoder_outputs, encoder_hidden = self.encoder(input_seq, input_length)
        decoder_hidden = encoder_hidden[:self.decoder.n_layers]
        decoder_input = torch.ones(1, 1, dtype=torch.long) * SOS_token
        all_tokens = torch.zeros([0], dtype=torch.long)
        all_scores = torch.zeros([0])
        for _ in range(max_length):
            decoder_output, decoder_hidden = self.decoder(decoder_input, decoder_hidden, encoder_outputs)
            decoder_scores, decoder_input = torch.max(decoder_output, dim=1)
            all_tokens = torch.cat((all_tokens, decoder_input), dim=0)
            all_scores = torch.cat((all_scores, decoder_scores), dim=0)
            decoder_input = torch.unsqueeze(decoder_input, 0)
        return all_tokens, all_scores


def make_model(attn_model, words, hidden_size=8, layers=2):
    embedding = nn.Embedding(words, hidden_size)
    encoder = EncoderRNN(hidden_size, embedding, layers, dropout=0.0)   # the GRU's own dropout cannot be shared
    decoder = LuongAttnDecoderRNN(attn_model, embedding, hidden_size, words, layers, dropout=0.1)
    return encoder, decoder


def zero_padding(sentences):
    """Id lists -> (max length, B) tuples, padded with PAD_token (the tutorial's zip_longest)."""
    longest = max(len(s) for s in sentences)
    return [tuple(s[t] if t < len(s) else PAD_token for s in sentences) for t in range(longest)]


def binary_matrix(padded):
    return [[0 if word == PAD_token else 1 for word in row] for row in padded]


def batch_to_train_data(pairs):
    """(question, answer) id-list pairs -> padded inputs (T, B), lengths, padded targets (T', B), mask, T'."""
    pairs = sorted(pairs, key=lambda pair: len(pair[0]), reverse=True)
    questions = [q + [EOS_token] for q, _ in pairs]
    answers = [a + [EOS_token] for _, a in pairs]
    lengths = torch.tensor([len(q) for q in questions])
    padded_answers = zero_padding(answers)
    mask = torch.BoolTensor(binary_matrix(padded_answers))
    return (torch.LongTensor(zero_padding(questions)), lengths, torch.LongTensor(padded_answers), mask,
            max(len(a) for a in answers))


def maskNLLLoss(inp, target, mask):
    n_total = mask.sum()
    cross_entropy = -torch.log(torch.gather(inp, 1, target.view(-1, 1)).squeeze(1))
    return cross_entropy.masked_select(mask).mean(), n_total.item()


def train_step(input_variable, lengths, target_variable, mask, max_target_len, encoder, decoder,
               encoder_optimizer, decoder_optimizer, batch_size, clip, use_teacher_forcing):
    encoder_optimizer.zero_grad()
    decoder_optimizer.zero_grad()
    lengths = lengths.to("cpu")
    loss = 0
    print_losses, n_totals = [], 0
    encoder_outputs, encoder_hidden = encoder(input_variable, lengths)
    decoder_input = torch.LongTensor([[SOS_token for _ in range(batch_size)]])
    decoder_hidden = encoder_hidden[:decoder.n_layers]
    for t in range(max_target_len):
        decoder_output, decoder_hidden = decoder(decoder_input, decoder_hidden, encoder_outputs)
        if use_teacher_forcing:
            decoder_input = target_variable[t].view(1, -1)
        else:
            _, topi = decoder_output.topk(1)
            decoder_input = torch.LongTensor([[topi[i][0] for i in range(batch_size)]])
        mask_loss, n_total = maskNLLLoss(decoder_output, target_variable[t], mask[t])
        loss += mask_loss
        print_losses.append(mask_loss.item() * n_total)
        n_totals += n_total
    loss.backward()
    encoder_norm = nn.utils.clip_grad_norm_(encoder.parameters(), clip)
    decoder_norm = nn.utils.clip_grad_norm_(decoder.parameters(), clip)
    encoder_optimizer.step()
    decoder_optimizer.step()
    return sum(print_losses) / n_totals, encoder_norm.item(), decoder_norm.item()


def train(encoder, decoder, batches, coins, checkpoint=None, learning_rate=0.01, decoder_learning_ratio=2.0,
          clip=0.5, teacher_forcing_ratio=0.5):
    encoder.train()
    decoder.train()
    encoder_optimizer = optim.Adam(encoder.parameters(), lr=learning_rate)
    decoder_optimizer = optim.Adam(decoder.parameters(), lr=learning_rate * decoder_learning_ratio)
    if checkpoint is not None:
        encoder_optimizer.load_state_dict(checkpoint["en_opt"])
        decoder_optimizer.load_state_dict(checkpoint["de_opt"])
    history = []
    for pairs, coin in zip(batches, coins):
        inputs, lengths, targets, mask, max_target_len = batch_to_train_data(pairs)
        history.append(train_step(inputs, lengths, targets, mask, max_target_len, encoder, decoder,
                                  encoder_optimizer, decoder_optimizer, len(pairs), clip,
                                  coin < teacher_forcing_ratio))
    return history, (encoder_optimizer, decoder_optimizer)


def save_checkpoint(path, encoder, decoder, optimizers, iteration, loss):
    torch.save({"iteration": iteration, "en": encoder.state_dict(), "de": decoder.state_dict(),
                "en_opt": optimizers[0].state_dict(), "de_opt": optimizers[1].state_dict(), "loss": loss,
                "embedding": encoder.embedding.state_dict()}, path)


def resume(path, attn_model, words, batches, coins):
    """Fresh models and optimizers from the checkpoint at `path`, trained on: (iteration, history, models)."""
    checkpoint = torch.load(path)
    encoder, decoder = make_model(attn_model, words)
    encoder.embedding.load_state_dict(checkpoint["embedding"])
    encoder.load_state_dict(checkpoint["en"])
    decoder.load_state_dict(checkpoint["de"])
    history, _ = train(encoder, decoder, batches, coins, checkpoint)
    return checkpoint["iteration"], history, (encoder, decoder)


def evaluate(encoder, decoder, sentence, max_length=5):
    encoder.eval()
    decoder.eval()
    searcher = GreedySearchDecoder(encoder, decoder)
    indexes_batch = [sentence + [EOS_token]]
    lengths = torch.tensor([len(indexes) for indexes in indexes_batch])
    input_batch = torch.LongTensor(indexes_batch).transpose(0, 1)
    with torch.no_grad():
        tokens, scores = searcher(input_batch, lengths, max_length)
    return [token.item() for token in tokens], scores
'''


PROGRAMS = (NAME_GENERATOR, TRANSLATOR, CHATBOT)


def _shared_sampler_order(monkeypatch: pytest.MonkeyPatch, torch: Any, seed: int) -> None:
    """``RandomSampler``'s permutations, in call order, from one NumPy stream per library of the same seed: torch's
    sampler reads ``torch.randperm(n, generator=...)``, minigrad's the NumPy generator ``random_generator`` gives.
    torch's pass over n samples calls ``randperm`` twice (the whole passes, then the remainder ``[:num_samples % n]``,
    empty here): minigrad's stream draws a second permutation too, so both streams stay in step."""
    import minigrad.utils.data.sampler as mg_sampler  # noqa: PLC0415

    torch_stream, mg_stream = np.random.default_rng(seed), np.random.default_rng(seed)

    def randperm(n: int, **kwargs: Any) -> Any:
        return torch.from_numpy(torch_stream.permutation(n).astype(np.int64))

    class TwoDraws:
        @staticmethod
        def permutation(n: int) -> np.ndarray:
            order = mg_stream.permutation(n)
            mg_stream.permutation(n)
            return order

    monkeypatch.setattr(torch, "randperm", randperm)
    # the sampler reads `mg.random_generator` at each pass: the module it sees is given ours for this test only
    namespace = type("SharedOrder", (), {"random_generator": staticmethod(lambda device="cpu": TwoDraws)})
    monkeypatch.setattr(mg_sampler, "mg", namespace)
    assert mg_sampler.mg is not mg


def _assert_same_grads(torch_model: Any, mg_model: Any, atol: float = 1e-6) -> None:
    """The gradients the last step left on each parameter (after any clipping), the same in both runs."""
    theirs = dict(torch_model.named_parameters())
    for name, parameter in mg_model.named_parameters():
        np.testing.assert_allclose(parameter.grad.numpy(), theirs[name].grad.numpy(), rtol=1e-4, atol=atol,
                                   err_msg=name)


def test_the_programs_differ_only_in_their_imports() -> None:
    torch_lines, mg_lines = TORCH_IMPORTS_TUTORIALS.splitlines(), MINIGRAD_IMPORTS_TUTORIALS.splitlines()
    assert len(torch_lines) == len(mg_lines) == 6 and torch_lines[-1].replace("torch", "minigrad") == mg_lines[-1]
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. Generating names


def _named_examples(seed: int, count: int) -> list:
    """(category, name) pairs: "front" names use the letters a-d, "back" names e-h."""
    rng = np.random.default_rng(seed)
    examples = []
    for _ in range(count):
        category = ("front", "back")[int(rng.integers(2))]
        pool = "abcd" if category == "front" else "efgh"
        examples.append((category, "".join(pool[int(i)] for i in rng.integers(0, 4, int(rng.integers(2, 6))))))
    return examples


def test_generating_names_with_a_character_rnn(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Summed NLLLoss over a name, `p.data += -lr * p.grad.data`, dropout 0.1 with shared masks, topk sampling."""
    categories = ["front", "back"]
    examples = _named_examples(0, 12)
    _shared_dropout(monkeypatch, torch, 0)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(
        NAME_GENERATOR, len(categories), imports=IMPORTS)
    expected, expected_norms = torch_program["train"](torch_model, examples, categories, 12)
    losses, norms = mg_program["train"](mg_model, examples, categories, 12)
    np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(norms, expected_norms, rtol=1e-5)
    _assert_same_weights(torch_model, mg_model, initial)
    _assert_same_grads(torch_model, mg_model)
    for category, start in (("front", "a"), ("back", "e"), ("back", "a")):
        name = mg_program["sample"](mg_model, category, categories, start)
        assert name == torch_program["sample"](torch_model, category, categories, start)


# ----------------------------------------------------------------------------- 2. Translation with attention


def _reversal_pairs(seed: int, count: int, words: int, length: int = 5) -> tuple:
    """Sentences of word ids 2.. ending in EOS (1), then padded with 0: int32 arrays (N, length), as the tutorial's
    ``np.zeros((n, MAX_LENGTH), dtype=np.int32)``; targets reversed."""
    rng = np.random.default_rng(seed)
    source, target = np.zeros((count, length), np.int64), np.zeros((count, length), np.int64)
    for row in range(count):
        n = int(rng.integers(1, length))
        sentence = rng.integers(2, words, n)
        source[row, :n], target[row, :n] = sentence, sentence[::-1]
        source[row, n] = target[row, n] = 1
    return source.astype(np.int32), target.astype(np.int32)


def test_translation_with_bahdanau_attention_and_a_random_sampler(torch: Any,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A TensorDataset read in a shared random order, dropout on, two Adams, greedy evaluate() with attention."""
    words = 8
    inputs, targets = _reversal_pairs(1, 8, words)
    _shared_dropout(monkeypatch, torch, 1)
    _shared_sampler_order(monkeypatch, torch, 1)
    torch_program, torch_models, mg_program, mg_models, initials = _twin_models(TRANSLATOR, words, imports=IMPORTS)
    expected = torch_program["train"](*torch_models, inputs, targets, 3)
    losses = mg_program["train"](*mg_models, inputs, targets, 3)
    np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-6)
    _assert_same_weights(torch_models[0], mg_models[0], initials[0])
    # softmax ignores a shift of all scores: Va's bias gets a zero gradient, its Adam steps follow rounding noise
    _assert_same_weights(torch_models[1], mg_models[1], initials[1], noise_only=("attention.Va.bias",))
    for torch_model, mg_model in zip(torch_models, mg_models):
        _assert_same_grads(torch_model, mg_model)
    for sentence in inputs[:3]:
        decoded, attention = mg_program["evaluate"](*mg_models, sentence)
        torch_decoded, torch_attention = torch_program["evaluate"](*torch_models, sentence)
        assert decoded == torch_decoded
        assert attention.shape == (len(decoded), 5)
        np.testing.assert_allclose(attention, torch_attention, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- 3. Chatbot


def _dialogue_batches(seed: int, count: int, words: int, batch_size: int = 4) -> list:
    """Batches of (question, answer) id lists (ids 3..): the answer is the question shifted by one word id."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        pairs = []
        for _ in range(batch_size):
            question = [int(w) for w in rng.integers(3, words, int(rng.integers(1, 5)))]
            pairs.append((question, [3 + (w - 2) % (words - 3) for w in question]))
        batches.append(pairs)
    return batches


@pytest.mark.parametrize("method", ["dot", "general", "concat"])
def test_chatbot_with_luong_attention(torch: Any, monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    """A shared embedding, a packed bidirectional GRU encoder, Luong attention, maskNLLLoss, a teacher-forcing coin,
    clip_grad_norm_ on both models, two Adams, and greedy search with torch.max/torch.cat."""
    words, steps = 9, 6
    batches = _dialogue_batches(2, steps, words)
    coins = np.random.default_rng(3).random(steps).tolist()
    assert min(coins) < 0.5 < max(coins)   # both branches run
    _shared_dropout(monkeypatch, torch, 2)
    torch_program, torch_models, mg_program, mg_models, initials = _twin_models(
        CHATBOT, method, words, imports=IMPORTS)
    expected, _ = torch_program["train"](*torch_models, batches, coins)
    history, _ = mg_program["train"](*mg_models, batches, coins)
    np.testing.assert_allclose(history, expected, rtol=1e-5, atol=1e-6)   # losses, both gradient norms
    # general: the bias of `attn` adds h . b to every position's score, which softmax ignores (a zero gradient)
    noise_only = ("attn.attn.bias",) if method == "general" else ()
    if method == "concat":
        # attn.attn.weight[2, 1]'s first two gradients are ~1e-8, at Adam's eps, where the step moves ~1e5 x the
        # gradient's float32 error (each library's ~1e-11, the summation order's, which for torch's depends on the
        # CPU): on an AVX512 AMD EPYC torch's weight ends 4e-6 off a float64 run, ours 1.8e-5; so 1e-4 for it
        noise_only = ("attn.attn.weight",)
        np.testing.assert_allclose(mg_models[1].attn.attn.weight.numpy(),
                                   torch_models[1].attn.attn.weight.detach().numpy(), rtol=1e-4, atol=1e-4)
    for torch_model, mg_model, initial in zip(torch_models, mg_models, initials):
        _assert_same_weights(torch_model, mg_model, initial, noise_only=noise_only)
        _assert_same_grads(torch_model, mg_model)
    # the embedding is one module in both models, updated by both optimizers
    assert mg_models[0].embedding is mg_models[1].embedding
    for question, _ in batches[0]:
        tokens, scores = mg_program["evaluate"](*mg_models, question)
        torch_tokens, torch_scores = torch_program["evaluate"](*torch_models, question)
        assert tokens == torch_tokens
        assert scores.dtype == mg.float32 and torch_scores.dtype == torch.float32
        np.testing.assert_allclose(scores.numpy(), torch_scores.numpy(), rtol=1e-5)


def test_chatbot_checkpoint_resumes_training(torch: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """The tutorial's checkpoint (both state dicts, both optimizers' state dicts, the shared embedding's) saved
    after three steps and loaded into fresh models: training goes on as if it had not stopped."""
    words, steps = 9, 6
    batches = _dialogue_batches(4, steps, words)
    coins = np.random.default_rng(5).random(steps).tolist()
    _shared_dropout(monkeypatch, torch, 4)
    torch_program, torch_models, mg_program, mg_models, _ = _twin_models(CHATBOT, "concat", words, imports=IMPORTS)
    results = {}
    for name, program, models in (("torch", torch_program, torch_models), ("mg", mg_program, mg_models)):
        history, optimizers = program["train"](*models, batches[:3], coins[:3])
        path = str(tmp_path / f"{name}.tar")
        program["save_checkpoint"](path, *models, optimizers, 3, history[-1][0])
        results[name] = history, program["resume"](path, "concat", words, batches[3:], coins[3:])
    (expected, (torch_iteration, expected_resumed, torch_resumed)) = results["torch"]
    (history, (iteration, resumed, mg_resumed)) = results["mg"]
    assert iteration == torch_iteration == 3
    np.testing.assert_allclose(history + resumed, expected + expected_resumed, rtol=1e-5, atol=1e-6)
    # the fresh models share one embedding again, loaded three times over with the same weights
    assert mg_resumed[0].embedding is mg_resumed[1].embedding
    for torch_model, mg_model in zip(torch_resumed, mg_resumed):
        ours = {k: v.numpy() for k, v in mg_model.state_dict().items()}
        for key, value in torch_model.state_dict().items():
            np.testing.assert_allclose(ours[key], value.numpy(), rtol=1e-4, atol=1e-5, err_msg=key)
    # the same run, not stopped (the dropout masks drawn again from the start): the steps it takes are the same
    _shared_dropout(monkeypatch, torch, 4)
    _, _, mg_program, mg_models, _ = _twin_models(CHATBOT, "concat", words, imports=IMPORTS)
    uninterrupted, _ = mg_program["train"](*mg_models, batches, coins)
    np.testing.assert_allclose(uninterrupted, history + resumed, rtol=1e-6, atol=1e-7)
