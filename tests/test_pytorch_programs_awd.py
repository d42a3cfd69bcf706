"""Regularised recurrent language models, small, run unchanged on minigrad: only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch program (names, helpers and comments are ours),
cut to a tiny vocabulary and a few steps on generated text; the helpers and the rule come from
tests/test_pytorch_programs.py:

* ``AWD_LSTM`` mirrors the AWD-LSTM language model of salesforce/awd-lstm-lm
  (https://github.com/salesforce/awd-lstm-lm): embedding dropout as a row mask on the embedding weight
  (``weight.new_empty((V, 1)).bernoulli_(1 - p).expand_as(weight) / (1 - p)``) looked up with
  ``F.embedding(words, weight, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse)`` (and AWD's
  ``padding_idx=-1`` when the embedding has none, which freezes the last row), ``LockedDropout`` (one
  ``bernoulli_`` mask per sequence, shared over time), DropConnect on each layer's ``weight_hh_l0`` — written
  both ways current code does it: ``parametrize.register_parametrization(lstm, "weight_hh_l0", DropConnect(p))``
  and a raw Parameter passed through ``torch.func.functional_call`` —, three single-layer ``nn.LSTM`` of
  different sizes, a decoder tied to the encoder (``decoder.weight = encoder.weight``), AR/TAR activation
  regularisation, hidden states repackaged (``detach``) between BPTT windows of variable length (the learning
  rate scaled by ``seq_len / bptt``), ``clip_grad_norm_``, SGD switched to ``optim.ASGD(t0=0, lambd=0.)``
  (NT-ASGD: the switch when validation stops improving) and validation with the averaged weights
  ``optimizer.state[p]['ax']`` copied in and back out;
* ``PRETRAINED_EMBEDDINGS`` is the classifier over frozen or tuned pretrained vectors that text tutorials
  write: ``nn.Embedding.from_pretrained`` (``freeze`` True and False, ``padding_idx``, ``max_norm``,
  ``scale_grad_by_freq``, ``sparse=False``) and ``nn.EmbeddingBag.from_pretrained`` read with offsets and
  ``per_sample_weights``;
* ``CHAR_GRU`` is the character-level GRU language model of char-rnn ports (in the manner of
  spro/char-rnn.pytorch): ``nn.GRU(..., dropout=p)`` between its layers, perplexity as ``math.exp`` of the
  mean NLL, and temperature sampling by ``torch.multinomial`` under ``eval()`` (dropout off; at ``dropout=1.0`` the
  training-mode dropout is deterministic, so its place between the layers is compared with torch's too).

Random draws that the compared numbers depend on read one NumPy stream per engine of the same seed:
``Tensor.bernoulli_`` (here), ``F.dropout`` (``_shared_dropout`` of tests/test_pytorch_programs_gnn.py) and
``torch.multinomial`` (``_shared_multinomial`` of tests/test_pytorch_programs_rl.py).

ASGD's validation writes ``with torch.no_grad(): p.copy_(state['ax'])`` where AWD writes ``p.data = ...``:
minigrad's ``.data`` is the NumPy array by design, and its built-in optimizers keep their state as arrays (README,
"Coming from PyTorch"), so the program reads the averages with ``torch.as_tensor(state['ax'])``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import MINIGRAD_IMPORTS, TORCH_IMPORTS, _assert_same_weights, _twin_models
from tests.test_pytorch_programs_gnn import _shared_dropout
from tests.test_pytorch_programs_rl import _shared_multinomial

TORCH_IMPORTS_AWD = TORCH_IMPORTS + """\
from torch.nn.utils import parametrize
"""

MINIGRAD_IMPORTS_AWD = MINIGRAD_IMPORTS + """\
from minigrad.nn.utils import parametrize
"""


AWD_LSTM = '''
def embedded_dropout(embed, words, dropout=0.1):
    """Drop whole rows (words) of the embedding table, scaling the kept rows by 1 / (1 - dropout)."""
    weight = embed.weight
    if dropout:
        mask = weight.new_empty((weight.size(0), 1)).bernoulli_(1 - dropout).expand_as(weight) / (1 - dropout)
        weight = mask * weight
    padding_idx = embed.padding_idx
    if padding_idx is None:
        padding_idx = -1   # as AWD-LSTM writes it: the last row never gets a gradient
    return F.embedding(words, weight, padding_idx, embed.max_norm, embed.norm_type,
                       embed.scale_grad_by_freq, embed.sparse)


class LockedDropout(nn.Module):
    """Variational dropout on (T, B, H): one mask per sequence and feature, the same at every time step."""

    def forward(self, x, dropout=0.5):
        if not self.training or not dropout:
            return x
        keep = x.new_empty(1, x.size(1), x.size(2)).bernoulli_(1 - dropout)
        return (keep / (1 - dropout)).expand_as(x) * x


class DropConnect(nn.Module):
    """A parametrization: the recurrent weight with dropout on its entries (in training)."""

    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, weight):
        return F.dropout(weight, p=self.p, training=self.training)


class RawWeightDrop(nn.Module):
    """Keeps the LSTM's recurrent weight as ``weight_hh_l0_raw`` and runs the LSTM with a dropped copy of it."""

    def __init__(self, lstm, p):
        super().__init__()
        self.lstm, self.p = lstm, p
        self.weight_hh_l0_raw = nn.Parameter(lstm.weight_hh_l0.detach().clone())
        del lstm.weight_hh_l0

    def forward(self, x, state):
        dropped = F.dropout(self.weight_hh_l0_raw, p=self.p, training=self.training)
        return torch.func.functional_call(self.lstm, {"weight_hh_l0": dropped}, (x, state))


class AWDLanguageModel(nn.Module):
    """Token ids (T, B) to logits (T * B, V), the per-layer states, and the outputs before and after dropout."""

    def __init__(self, ntoken, ninp, nhid, nlayers, dropout=0.4, dropouth=0.25, dropouti=0.3, dropoute=0.1,
                 wdrop=0.5, style="parametrize"):
        super().__init__()
        self.lockdrop = LockedDropout()
        self.encoder = nn.Embedding(ntoken, ninp)
        sizes = [ninp] + [nhid] * (nlayers - 1) + [ninp]    # the last layer returns to ninp for the tie
        rnns = [nn.LSTM(sizes[l], sizes[l + 1], 1) for l in range(nlayers)]
        if style == "parametrize":
            for rnn in rnns:
                parametrize.register_parametrization(rnn, "weight_hh_l0", DropConnect(wdrop))
        else:
            rnns = [RawWeightDrop(rnn, wdrop) for rnn in rnns]
        self.rnns = nn.ModuleList(rnns)
        self.decoder = nn.Linear(ninp, ntoken)
        self.decoder.weight = self.encoder.weight
        self.sizes, self.nlayers = sizes, nlayers
        self.dropout, self.dropouth, self.dropouti, self.dropoute = dropout, dropouth, dropouti, dropoute
        with torch.no_grad():
            self.encoder.weight.uniform_(-0.1, 0.1)
            self.decoder.bias.zero_()

    def forward(self, words, hidden):
        # under parametrize.cached() each LSTM reads its dropped weight once per window (torch's LSTM
        # would otherwise evaluate the parametrization, and draw a new mask, at each of its attribute reads)
        with parametrize.cached():
            return self.run_layers(words, hidden)

    def run_layers(self, words, hidden):
        emb = embedded_dropout(self.encoder, words, self.dropoute if self.training else 0)
        raw_output = self.lockdrop(emb, self.dropouti)
        new_hidden, raw_outputs, outputs = [], [], []
        for l, rnn in enumerate(self.rnns):
            raw_output, state = rnn(raw_output, hidden[l])
            new_hidden.append(state)
            raw_outputs.append(raw_output)
            if l != self.nlayers - 1:
                raw_output = self.lockdrop(raw_output, self.dropouth)
                outputs.append(raw_output)
        output = self.lockdrop(raw_output, self.dropout)
        outputs.append(output)
        logits = self.decoder(output.view(-1, output.size(2)))
        return logits, new_hidden, raw_outputs, outputs

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        return [(weight.new_zeros(1, bsz, size), weight.new_zeros(1, bsz, size)) for size in self.sizes[1:]]


def repackage_hidden(h):
    """Cut the states off the graph of the window before."""
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


def batchify(data, bsz):
    nbatch = data.size(0) // bsz
    return data.narrow(0, 0, nbatch * bsz).view(bsz, -1).t().contiguous()


def get_batch(source, i, seq_len):
    seq_len = min(seq_len, len(source) - 1 - i)
    return source[i:i + seq_len], source[i + 1:i + 1 + seq_len].reshape(-1)


def make_model(ntoken, style="parametrize"):
    return AWDLanguageModel(ntoken, 6, 8, 3, style=style)


def evaluate(model, criterion, source, bsz, bptt=4):
    model.eval()
    total_loss = 0.0
    hidden = model.init_hidden(bsz)
    with torch.no_grad():
        for i in range(0, source.size(0) - 1, bptt):
            data, targets = get_batch(source, i, bptt)
            logits, hidden, _, _ = model(data, hidden)
            total_loss += len(data) * criterion(logits, targets).item()
            hidden = [repackage_hidden(h) for h in hidden]
    return total_loss / len(source)


def train(model, train_ids, valid_ids, seq_lens, epochs=3, bsz=3, bptt=4, lr=3.0, clip=0.25, alpha=2.0,
          beta=1.0, wdecay=1.2e-6, nonmono=1, switch_at=1):
    criterion = nn.CrossEntropyLoss()
    train_data = batchify(torch.from_numpy(train_ids), bsz)
    val_data = batchify(torch.from_numpy(valid_ids), 2)
    params = list(model.parameters())
    optimizer = optim.SGD(params, lr=lr, weight_decay=wdecay)
    losses, val_losses, best_val_loss, lengths = [], [], [], iter(seq_lens)
    for epoch in range(epochs):
        model.train()
        hidden = model.init_hidden(bsz)
        i = 0
        while i < train_data.size(0) - 2:
            seq_len = next(lengths)
            lr2 = optimizer.param_groups[0]["lr"]
            optimizer.param_groups[0]["lr"] = lr2 * seq_len / bptt
            data, targets = get_batch(train_data, i, seq_len)
            hidden = [repackage_hidden(h) for h in hidden]
            optimizer.zero_grad()
            logits, hidden, raw_outputs, outputs = model(data, hidden)
            raw_loss = criterion(logits, targets)
            loss = raw_loss
            loss = loss + alpha * outputs[-1].pow(2).mean()                                    # AR
            loss = loss + beta * (raw_outputs[-1][1:] - raw_outputs[-1][:-1]).pow(2).mean()    # TAR
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, clip)
            optimizer.step()
            optimizer.param_groups[0]["lr"] = lr2
            losses.append(raw_loss.item())
            i += seq_len
        if "t0" in optimizer.param_groups[0]:
            saved = {}
            with torch.no_grad():
                for prm in model.parameters():
                    saved[prm] = prm.detach().clone()
                    prm.copy_(optimizer.state[prm]["ax"])
            val_loss = evaluate(model, criterion, val_data, 2)
            with torch.no_grad():
                for prm in model.parameters():
                    prm.copy_(saved[prm])
        else:
            val_loss = evaluate(model, criterion, val_data, 2)
            stalled = len(best_val_loss) > nonmono and val_loss > min(best_val_loss[:-nonmono])
            if stalled or epoch == switch_at:
                optimizer = optim.ASGD(params, lr=lr, t0=0, lambd=0., weight_decay=wdecay)
            best_val_loss.append(val_loss)
        val_losses.append(val_loss)
    averages = [torch.as_tensor(optimizer.state[p]["ax"]).clone() for p in params]
    return losses, val_losses, type(optimizer).__name__, averages
'''


PRETRAINED_EMBEDDINGS = '''
class PretrainedClassifier(nn.Module):
    """Padded word ids (B, T) to class logits (B, C) from three views of the same pretrained vectors (V, D)."""

    def __init__(self, vectors, classes):
        super().__init__()
        self.tuned = nn.Embedding.from_pretrained(vectors, freeze=False, padding_idx=0, scale_grad_by_freq=True,
                                                  sparse=False)
        self.frozen = nn.Embedding.from_pretrained(vectors, freeze=True, max_norm=1.0)
        self.bag = nn.EmbeddingBag.from_pretrained(vectors, freeze=False, mode="sum", padding_idx=0)
        self.fc = nn.Linear(3 * vectors.size(1), classes)

    def forward(self, words, lengths):
        mask = (words != 0).unsqueeze(-1).float()
        tuned = (self.tuned(words) * mask).sum(1) / lengths.unsqueeze(1).float()
        frozen = self.frozen(words).max(dim=1).values
        flat = words[words != 0]
        offsets = torch.cat([lengths.new_zeros(1), lengths.cumsum(0)[:-1]])
        weights = torch.linspace(1.0, 0.5, flat.size(0))
        bag = self.bag(flat, offsets, per_sample_weights=weights)
        return self.fc(torch.cat([tuned, frozen, bag], dim=1))


def make_model(vectors, classes):
    # one copy of the vectors, which the three tables share (from_pretrained keeps the tensor it is given):
    # the frozen table's max_norm renormalises rows of all three in place
    return PretrainedClassifier(torch.tensor(vectors), classes)


def train(model, batches, steps):
    optimizer = optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.05)
    losses = []
    for step in range(steps):
        words, lengths, labels = batches[step % len(batches)]
        optimizer.zero_grad()
        loss = F.cross_entropy(model(words, lengths), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    flags = {name: p.requires_grad for name, p in model.named_parameters()}
    return losses, flags
'''


CHAR_GRU = '''
class CharGRU(nn.Module):
    """Character ids (B, T) to next-character logits (B, T, V) and the GRU state (layers, B, H)."""

    def __init__(self, vocab_size, embed_size, hidden_size, layers, dropout):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.gru = nn.GRU(embed_size, hidden_size, layers, dropout=dropout, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, chars, hidden=None):
        output, hidden = self.gru(self.embed(chars), hidden)
        return self.head(output), hidden


def make_model(vocab_size, dropout=0.0):
    return CharGRU(vocab_size, 6, 10, 2, dropout)


def random_chunks(text, chunk, count):
    """(count, chunk + 1) windows of the text at evenly spread starts: inputs and targets shifted by one."""
    starts = torch.linspace(0, len(text) - chunk - 2, count).long()
    windows = torch.stack([text[s:s + chunk + 1] for s in starts.tolist()])
    return windows[:, :-1], windows[:, 1:]


def train(model, text, steps, chunk=7, batch=3, lr=0.02):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    criterion = nn.CrossEntropyLoss()
    text = torch.from_numpy(text)
    losses = []
    model.train()
    for step in range(steps):
        inputs, targets = random_chunks(text[step:], chunk, batch)
        logits, _ = model(inputs)
        loss = criterion(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
    return losses


@torch.no_grad()
def perplexity(model, text, chunk=8):
    model.eval()
    text = torch.from_numpy(text)
    total_nll, count, hidden = 0.0, 0, None
    for start in range(0, len(text) - 1, chunk):
        inputs = text[start:start + chunk][None]
        targets = text[start + 1:start + 1 + chunk][None]
        inputs = inputs[:, :targets.size(1)]
        logits, hidden = model(inputs, hidden)
        total_nll += F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), reduction="sum").item()
        count += targets.numel()
    return math.exp(total_nll / count)


@torch.no_grad()
def sample(model, prime, length, temperature=0.8):
    model.eval()
    hidden = None
    for char in prime[:-1]:
        _, hidden = model(torch.tensor([[char]]), hidden)
    current = torch.tensor([[prime[-1]]])
    produced = list(prime)
    for _ in range(length):
        logits, hidden = model(current, hidden)
        probs = F.softmax(logits[:, -1] / temperature, dim=-1)
        current = torch.multinomial(probs, 1)
        produced.append(current.item())
    return produced, hidden
'''

PROGRAMS = (AWD_LSTM, PRETRAINED_EMBEDDINGS, CHAR_GRU)


def _twins(source: str, *args: Any, **kwargs: Any) -> tuple:
    """Both programs and their models, minigrad's loaded with torch's initial weights."""
    return _twin_models(source, *args, imports=(TORCH_IMPORTS_AWD, MINIGRAD_IMPORTS_AWD), **kwargs)


@pytest.fixture(autouse=True)
def _no_onednn(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch without oneDNN (restored after): its CPU LSTM builds a new oneDNN primitive for every new sequence
    length (about 50 ms each), which AWD's variable windows would pay again and again. The numbers are the same."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (optional test peer)")
    monkeypatch.setattr(torch.backends.mkldnn, "enabled", False)


def _shared_bernoulli(monkeypatch: pytest.MonkeyPatch, torch: Any, seed: int) -> None:
    """``Tensor.bernoulli_(p)`` of both libraries fills the tensor with ``u < p`` for uniforms u read, in call
    order, from one NumPy stream each of the same seed (a float p only)."""
    import minigrad as mg  # noqa: PLC0415

    for lib in (torch, mg):
        rng = np.random.default_rng(seed)

        def bernoulli_(self: Any, p: float = 0.5, *, generator: Any = None, rng: np.random.Generator = rng,
                       lib: Any = lib) -> Any:
            assert isinstance(p, float) and generator is None
            draws = (rng.random(tuple(self.shape)) < p).astype(np.float32)
            with lib.no_grad():
                return self.copy_(lib.from_numpy(draws))

        monkeypatch.setattr(lib.Tensor, "bernoulli_", bernoulli_)


def test_the_programs_differ_only_in_their_imports() -> None:
    assert TORCH_IMPORTS_AWD.count("\n") == MINIGRAD_IMPORTS_AWD.count("\n") == 6
    assert TORCH_IMPORTS_AWD.splitlines()[5].replace("torch", "minigrad") == MINIGRAD_IMPORTS_AWD.splitlines()[5]
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. AWD-LSTM


def _corpus(count: int, vocab: int, seed: int) -> np.ndarray:
    """A learnable id stream: each token mostly the one before plus 3."""
    rng = np.random.default_rng(seed)
    return (np.cumsum(np.where(rng.random(count) < 0.85, 3, 1)) % vocab).astype(np.int64)


@pytest.mark.parametrize("style", ["parametrize", "functional_call"])
def test_awd_lstm_with_weight_drop_and_nt_asgd(torch: Any, monkeypatch: pytest.MonkeyPatch, style: str) -> None:
    vocab = 10
    train_ids, valid_ids = _corpus(3 * 14 + 1, vocab, 0), _corpus(2 * 8 + 1, vocab, 1)
    seq_lens = [4, 3, 5, 4, 2, 4, 5, 3, 4, 4, 3, 5, 4, 4, 4, 3]
    torch_program, torch_model, mg_program, mg_model, initial = _twins(AWD_LSTM, vocab, style=style)
    _shared_bernoulli(monkeypatch, torch, 0)
    _shared_dropout(monkeypatch, torch, 1)
    expected = torch_program["train"](torch_model, train_ids, valid_ids, seq_lens)
    got = mg_program["train"](mg_model, train_ids, valid_ids, seq_lens)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-5, atol=1e-6)
    assert got[2] == expected[2] == "ASGD"
    for ours, theirs in zip(got[3], expected[3]):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-6)
    _assert_same_weights(torch_model, mg_model, initial)
    assert mg_model.decoder.weight is mg_model.encoder.weight


def test_awd_lstm_with_minigrads_own_draws() -> None:
    """Unpatched, minigrad's own ``bernoulli_`` and ``F.dropout`` drive the regularisers: a seed repeats a run, another
    seed changes it, the locked mask is the same at every time step, and eval() turns every dropout off."""
    from tests.test_pytorch_programs import _program  # noqa: PLC0415

    program = _program(AWD_LSTM, MINIGRAD_IMPORTS_AWD)
    mg = program["torch"]
    train_ids, valid_ids = _corpus(3 * 8 + 1, 10, 0), _corpus(2 * 6 + 1, 10, 1)

    def run(seed: int) -> list:
        mg.manual_seed(seed)
        model = program["make_model"](10)
        return program["train"](model, train_ids, valid_ids, [4] * 20, epochs=2, switch_at=0)[0]

    first = run(0)
    assert run(0) == first and run(1) != first and np.isfinite(first).all()
    x = mg.ones(5, 3, 4)
    dropped = program["LockedDropout"]()(x, 0.5)
    assert (dropped.numpy() == dropped.numpy()[:1]).all() and set(np.unique(dropped.numpy())) <= {0.0, 2.0}
    mg.manual_seed(2)
    model = program["make_model"](10).eval()
    hidden = model.init_hidden(2)
    words = mg.from_numpy(train_ids[:8].reshape(4, 2))
    np.testing.assert_array_equal(model(words, hidden)[0].numpy(), model(words, hidden)[0].numpy())


# ----------------------------------------------------------------------------- 2. pretrained embeddings


def test_embedding_from_pretrained_classifier(torch: Any) -> None:
    rng = np.random.default_rng(2)
    vocab, dim, classes = 9, 4, 3
    vectors = (rng.standard_normal((vocab, dim)) * 0.8).astype(np.float32)
    batches = []
    for _ in range(3):
        lengths = rng.integers(1, 5, 4)
        words = np.zeros((4, 4), dtype=np.int64)
        for row, n in enumerate(lengths):
            words[row, :n] = rng.integers(1, vocab, n)
        labels = words[:, 0] % classes
        batches.append((words, lengths.astype(np.int64), labels))
    torch_program, torch_model, mg_program, mg_model, initial = _twins(PRETRAINED_EMBEDDINGS, vectors, classes)

    def as_tensors(lib: Any) -> list:
        return [tuple(lib.from_numpy(a) for a in batch) for batch in batches]

    expected, expected_flags = torch_program["train"](torch_model, as_tensors(torch), 6)
    losses, flags = mg_program["train"](mg_model, as_tensors(mg_program["torch"]), 6)
    np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-6)
    assert flags == expected_flags and not flags["frozen.weight"] and flags["tuned.weight"]
    _assert_same_weights(torch_model, mg_model, initial)


# ----------------------------------------------------------------------------- 3. character GRU


def test_char_gru_perplexity_and_temperature_sampling(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    vocab = 7
    text = _corpus(40, vocab, 3)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(CHAR_GRU, vocab)
    expected = torch_program["train"](torch_model, text, 6)
    losses = mg_program["train"](mg_model, text, 6)
    np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-6)
    _assert_same_weights(torch_model, mg_model, initial)
    # a model with dropout between its GRU layers: eval() turns it off, so perplexity and samples agree
    torch_program, torch_model, mg_program, mg_model, _ = _twins(CHAR_GRU, vocab, dropout=0.4)
    assert mg_model.gru.dropout == torch_model.gru.dropout == 0.4
    np.testing.assert_allclose(mg_program["perplexity"](mg_model, text), torch_program["perplexity"](torch_model, text),
                               rtol=1e-5)
    for lib in (torch, mg_program["torch"]):
        _shared_multinomial(monkeypatch, lib, 4)
    expected_ids, expected_hidden = torch_program["sample"](torch_model, [1, 4], 12)
    ids, hidden = mg_program["sample"](mg_model, [1, 4], 12)
    assert ids == expected_ids
    np.testing.assert_allclose(hidden.numpy(), expected_hidden.numpy(), rtol=1e-5, atol=1e-6)
    assert not mg_model.training
    # at p=1 the training-mode dropout is deterministic (every unit dropped): the layer below the top one feeds zeros,
    # the top layer's own output is not dropped, as in torch
    torch_program, torch_model, mg_program, mg_model, _ = _twins(CHAR_GRU, vocab, dropout=1.0)
    outputs = []
    for program, model in ((torch_program, torch_model), (mg_program, mg_model)):
        logits, _ = model.train()(program["torch"].from_numpy(text[None, :10]))
        logits.sum().backward()
        outputs.append((logits.detach().numpy(), model.gru.weight_ih_l1.grad.numpy(), model.embed.weight.grad.numpy()))
    for ours, theirs in zip(outputs[1], outputs[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    # in training mode the dropout is on: the output moves away from eval's
    chars = mg_program["torch"].from_numpy(text[None, :10])
    mg_model.eval()
    evaluated = mg_model(chars)[0].detach().numpy()
    mg_model.train()
    assert not np.allclose(mg_model(chars)[0].detach().numpy(), evaluated)
