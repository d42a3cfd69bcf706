"""The Annotated Transformer (harvardnlp), small, run unchanged on minigrad: only the import lines differ.

``ANNOTATED`` is our own rewrite of the encoder-decoder of "The Annotated Transformer"
(https://nlp.seas.harvard.edu/annotated-transformer/, harvardnlp/annotated-transformer), written from scratch the
way it writes it, not with ``nn.Transformer`` (that one is tests/test_pytorch_programs_vit.py's translation
transformer; BERT is there too): ``clones()`` by ``copy.deepcopy`` into an ``nn.ModuleList``; its own
``LayerNorm`` (``a_2``/``b_2``, ``x.std(-1, keepdim=True)`` unbiased, eps added to the std); ``SublayerConnection``
(pre-norm residual with dropout); ``attention()`` with ``scores.masked_fill(mask == 0, -1e9)`` and dropout on
``p_attn``; ``MultiHeadedAttention`` by ``view``/``transpose``/``contiguous`` over four cloned Linears;
``PositionwiseFeedForward``; a sinusoidal ``PositionalEncoding`` buffer (``torch.exp(torch.arange(0, d, 2) *
-(math.log(10000.0) / d))``, read with ``requires_grad_(False)``); ``Embeddings`` scaled by ``math.sqrt(d_model)``;
a ``Generator`` with ``log_softmax``; ``subsequent_mask`` from ``torch.triu(torch.ones(...), diagonal=1)
.type(torch.uint8) == 0``; ``Batch`` with its masks and ``ntokens = (tgt_y != pad).data.sum()``;
``xavier_uniform_`` on every ``p.dim() > 1``; ``LabelSmoothing`` (``nn.KLDivLoss(reduction="sum")``, the target
distribution by ``fill_``, ``scatter_(1, target.unsqueeze(1), confidence)`` and ``index_fill_`` of the rows
``torch.nonzero(target.data == padding_idx)`` finds); the Noam rate through ``LambdaLR`` on
``Adam(lr=0.5, betas=(0.9, 0.98), eps=1e-9)``; ``SimpleLossCompute`` (loss / norm); ``run_epoch`` with
``TrainState``, ``DummyOptimizer`` and ``DummyScheduler``; the synthetic copy task (``data_gen``) for a few
epochs, and ``greedy_decode`` (``torch.max`` over the generator's output, ``torch.cat`` of ``ys``).

Four habits are written differently, since minigrad's ``.data`` is the NumPy array by design (README, "Coming
from PyTorch", "Deliberately different"): the notebook's ``x.data.clone()`` is ``x.detach().clone()``,
``target.data.unsqueeze(1)`` is ``target.unsqueeze(1)``, ``type_as(src.data)`` is ``type_as(src)`` and
``next_word.data[0]`` is ``next_word[0]``. Where ``.data`` reads as well as a NumPy array, it stays:
``(tgt_y != pad).data.sum()`` (a NumPy integer here), ``torch.nonzero(target.data == padding_idx)`` and
``sloss.data * norm``. DESIGN 3: ``loss / norm`` with an int64 ``norm`` is float64 in minigrad (NumPy 2's
promotion; torch: float32), so the losses compare to float32 tolerance.

Random draws: the initial weights are copied torch -> minigrad; the copy task's ``torch.randint`` and every
``F.dropout`` (p = 0.1 as the notebook's, in training) read, in both libraries alike and only during the run, one
NumPy stream each (``_shared_randint``, ``_shared_dropout``), so losses, learning rates, every gradient of every step,
the evaluation losses (dropout off in ``eval()``), the final weights and the greedy decodes are all compared.
"""

from __future__ import annotations

import copy
import importlib
from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import MINIGRAD_IMPORTS, TORCH_IMPORTS, _assert_same_weights, _program, _twin_models
from tests.test_pytorch_programs_gnn import _shared_dropout
from tests.test_pytorch_programs_text import _shared_randint

# the notebook imports copy for clones() and make_model()
TORCH_IMPORTS_ANNOTATED = "import copy\n" + TORCH_IMPORTS
MINIGRAD_IMPORTS_ANNOTATED = "import copy\n" + MINIGRAD_IMPORTS

ANNOTATED = '''
def clones(module, N):
    """N independent deep copies of ``module`` in a ModuleList."""
    return nn.ModuleList([copy.deepcopy(module) for _ in range(N)])


class LayerNorm(nn.Module):
    """The Annotated Transformer's own layer norm: a_2 * (x - mean) / (std + eps) + b_2 over the last dim,
    std unbiased (torch's default) and eps added to the std, not the variance."""

    def __init__(self, features, eps=1e-6):
        super(LayerNorm, self).__init__()
        self.a_2 = nn.Parameter(torch.ones(features))
        self.b_2 = nn.Parameter(torch.zeros(features))
        self.eps = eps

    def forward(self, x):
        mean = x.mean(-1, keepdim=True)
        std = x.std(-1, keepdim=True)
        return self.a_2 * (x - mean) / (std + self.eps) + self.b_2


class SublayerConnection(nn.Module):
    """Pre-norm residual: x + dropout(sublayer(norm(x)))."""

    def __init__(self, size, dropout):
        super(SublayerConnection, self).__init__()
        self.norm = LayerNorm(size)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, sublayer):
        return x + self.dropout(sublayer(self.norm(x)))


def attention(query, key, value, mask=None, dropout=None):
    """Scaled dot products (B, h, Tq, Tk), masked where mask == 0, softmax, then a weighted sum of the values."""
    d_k = query.size(-1)
    scores = torch.matmul(query, key.transpose(-2, -1)) / math.sqrt(d_k)
    if mask is not None:
        scores = scores.masked_fill(mask == 0, -1e9)
    p_attn = scores.softmax(dim=-1)
    if dropout is not None:
        p_attn = dropout(p_attn)
    return torch.matmul(p_attn, value), p_attn


class MultiHeadedAttention(nn.Module):
    def __init__(self, h, d_model, dropout=0.1):
        super(MultiHeadedAttention, self).__init__()
        assert d_model % h == 0
        self.d_k = d_model // h
        self.h = h
        self.linears = clones(nn.Linear(d_model, d_model), 4)
        self.attn = None
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, query, key, value, mask=None):
        if mask is not None:
            mask = mask.unsqueeze(1)          # the same mask for every head
        nbatches = query.size(0)
        query, key, value = [
            lin(x).view(nbatches, -1, self.h, self.d_k).transpose(1, 2)
            for lin, x in zip(self.linears, (query, key, value))
        ]
        x, self.attn = attention(query, key, value, mask=mask, dropout=self.dropout)
        x = x.transpose(1, 2).contiguous().view(nbatches, -1, self.h * self.d_k)
        del query
        del key
        del value
        return self.linears[-1](x)


class PositionwiseFeedForward(nn.Module):
    def __init__(self, d_model, d_ff, dropout=0.1):
        super(PositionwiseFeedForward, self).__init__()
        self.w_1 = nn.Linear(d_model, d_ff)
        self.w_2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.w_2(self.dropout(self.w_1(x).relu()))


class Embeddings(nn.Module):
    def __init__(self, d_model, vocab):
        super(Embeddings, self).__init__()
        self.lut = nn.Embedding(vocab, d_model)
        self.d_model = d_model

    def forward(self, x):
        return self.lut(x) * math.sqrt(self.d_model)


class PositionalEncoding(nn.Module):
    """Sines and cosines of position * 10000^(-2i/d) in a (1, max_len, d_model) buffer, added to the input."""

    def __init__(self, d_model, dropout, max_len=64):
        super(PositionalEncoding, self).__init__()
        self.dropout = nn.Dropout(p=dropout)
        pe = torch.zeros(max_len, d_model)
        position = torch.arange(0, max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * -(math.log(10000.0) / d_model))
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        pe = pe.unsqueeze(0)
        self.register_buffer("pe", pe)

    def forward(self, x):
        x = x + self.pe[:, : x.size(1)].requires_grad_(False)
        return self.dropout(x)


class Generator(nn.Module):
    def __init__(self, d_model, vocab):
        super(Generator, self).__init__()
        self.proj = nn.Linear(d_model, vocab)

    def forward(self, x):
        return F.log_softmax(self.proj(x), dim=-1)


class EncoderLayer(nn.Module):
    def __init__(self, size, self_attn, feed_forward, dropout):
        super(EncoderLayer, self).__init__()
        self.self_attn = self_attn
        self.feed_forward = feed_forward
        self.sublayer = clones(SublayerConnection(size, dropout), 2)
        self.size = size

    def forward(self, x, mask):
        x = self.sublayer[0](x, lambda x: self.self_attn(x, x, x, mask))
        return self.sublayer[1](x, self.feed_forward)


class Encoder(nn.Module):
    def __init__(self, layer, N):
        super(Encoder, self).__init__()
        self.layers = clones(layer, N)
        self.norm = LayerNorm(layer.size)

    def forward(self, x, mask):
        for layer in self.layers:
            x = layer(x, mask)
        return self.norm(x)


class DecoderLayer(nn.Module):
    def __init__(self, size, self_attn, src_attn, feed_forward, dropout):
        super(DecoderLayer, self).__init__()
        self.size = size
        self.self_attn = self_attn
        self.src_attn = src_attn
        self.feed_forward = feed_forward
        self.sublayer = clones(SublayerConnection(size, dropout), 3)

    def forward(self, x, memory, src_mask, tgt_mask):
        m = memory
        x = self.sublayer[0](x, lambda x: self.self_attn(x, x, x, tgt_mask))
        x = self.sublayer[1](x, lambda x: self.src_attn(x, m, m, src_mask))
        return self.sublayer[2](x, self.feed_forward)


class Decoder(nn.Module):
    def __init__(self, layer, N):
        super(Decoder, self).__init__()
        self.layers = clones(layer, N)
        self.norm = LayerNorm(layer.size)

    def forward(self, x, memory, src_mask, tgt_mask):
        for layer in self.layers:
            x = layer(x, memory, src_mask, tgt_mask)
        return self.norm(x)


class EncoderDecoder(nn.Module):
    def __init__(self, encoder, decoder, src_embed, tgt_embed, generator):
        super(EncoderDecoder, self).__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.src_embed = src_embed
        self.tgt_embed = tgt_embed
        self.generator = generator

    def forward(self, src, tgt, src_mask, tgt_mask):
        return self.decode(self.encode(src, src_mask), src_mask, tgt, tgt_mask)

    def encode(self, src, src_mask):
        return self.encoder(self.src_embed(src), src_mask)

    def decode(self, memory, src_mask, tgt, tgt_mask):
        return self.decoder(self.tgt_embed(tgt), memory, src_mask, tgt_mask)


def make_model(src_vocab, tgt_vocab, N=2, d_model=16, d_ff=32, h=2, dropout=0.1):
    c = copy.deepcopy
    attn = MultiHeadedAttention(h, d_model)
    ff = PositionwiseFeedForward(d_model, d_ff, dropout)
    position = PositionalEncoding(d_model, dropout)
    model = EncoderDecoder(
        Encoder(EncoderLayer(d_model, c(attn), c(ff), dropout), N),
        Decoder(DecoderLayer(d_model, c(attn), c(attn), c(ff), dropout), N),
        nn.Sequential(Embeddings(d_model, src_vocab), c(position)),
        nn.Sequential(Embeddings(d_model, tgt_vocab), c(position)),
        Generator(d_model, tgt_vocab),
    )
    for p in model.parameters():
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)
    return model


def subsequent_mask(size):
    """(1, size, size) bool: True where position j <= i may be attended to."""
    attn_shape = (1, size, size)
    mask = torch.triu(torch.ones(attn_shape), diagonal=1).type(torch.uint8)
    return mask == 0


class Batch:
    """A batch with its masks: src_mask (B, 1, S); tgt shifted right, tgt_y left, tgt_mask (B, T, T)."""

    def __init__(self, src, tgt=None, pad=2):
        self.src = src
        self.src_mask = (src != pad).unsqueeze(-2)
        if tgt is not None:
            self.tgt = tgt[:, :-1]
            self.tgt_y = tgt[:, 1:]
            self.tgt_mask = self.make_std_mask(self.tgt, pad)
            self.ntokens = (self.tgt_y != pad).data.sum()

    @staticmethod
    def make_std_mask(tgt, pad):
        tgt_mask = (tgt != pad).unsqueeze(-2)
        tgt_mask = tgt_mask & subsequent_mask(tgt.size(-1)).type_as(tgt_mask)
        return tgt_mask


class TrainState:
    step = 0
    accum_step = 0
    samples = 0
    tokens = 0


def run_epoch(data_iter, model, loss_compute, optimizer, scheduler, mode="train", accum_iter=1,
              train_state=TrainState(), record=None):
    """One pass over the batches; the mean loss per token. ``record`` (a list) gets each step's loss, the learning
    rate it used, and every parameter's gradient as a NumPy array."""
    total_tokens = 0
    total_loss = 0
    for i, batch in enumerate(data_iter):
        out = model.forward(batch.src, batch.tgt, batch.src_mask, batch.tgt_mask)
        loss, loss_node = loss_compute(out, batch.tgt_y, batch.ntokens)
        if mode == "train" or mode == "train+log":
            loss_node.backward()
            train_state.step += 1
            train_state.samples += batch.src.shape[0]
            train_state.tokens += batch.ntokens
            if record is not None:
                record.append((loss.item(), optimizer.param_groups[0]["lr"],
                               [p.grad.detach().cpu().numpy().copy() for p in model.parameters()]))
            if i % accum_iter == 0:
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                train_state.accum_step += 1
            scheduler.step()
        total_loss += loss
        total_tokens += batch.ntokens
        del loss
        del loss_node
    return total_loss / total_tokens, train_state


def rate(step, model_size, factor, warmup):
    """The Noam schedule: factor * d^-1/2 * min(step^-1/2, step * warmup^-3/2), step 0 taken as 1."""
    if step == 0:
        step = 1
    return factor * (model_size ** (-0.5) * min(step ** (-0.5), step * warmup ** (-1.5)))


class LabelSmoothing(nn.Module):
    """KL divergence to a smoothed target: confidence on the true class, smoothing / (size - 2) elsewhere,
    0 on the padding class and on the rows whose target is padding."""

    def __init__(self, size, padding_idx, smoothing=0.0):
        super(LabelSmoothing, self).__init__()
        self.criterion = nn.KLDivLoss(reduction="sum")
        self.padding_idx = padding_idx
        self.confidence = 1.0 - smoothing
        self.smoothing = smoothing
        self.size = size
        self.true_dist = None

    def forward(self, x, target):
        assert x.size(1) == self.size
        true_dist = x.detach().clone()
        true_dist.fill_(self.smoothing / (self.size - 2))
        true_dist.scatter_(1, target.unsqueeze(1), self.confidence)
        true_dist[:, self.padding_idx] = 0
        mask = torch.nonzero(target.data == self.padding_idx)
        if mask.dim() > 0:
            true_dist.index_fill_(0, mask.squeeze(), 0.0)
        self.true_dist = true_dist
        return self.criterion(x, true_dist.clone().detach())


def data_gen(V, batch_size, nbatches):
    """The copy task: random sequences starting with 1, the target equal to the source."""
    for i in range(nbatches):
        data = torch.randint(1, V, size=(batch_size, 10))
        data[:, 0] = 1
        src = data.requires_grad_(False).clone().detach()
        tgt = data.requires_grad_(False).clone().detach()
        yield Batch(src, tgt, 0)


class SimpleLossCompute:
    def __init__(self, generator, criterion):
        self.generator = generator
        self.criterion = criterion

    def __call__(self, x, y, norm):
        x = self.generator(x)
        sloss = (self.criterion(x.contiguous().view(-1, x.size(-1)), y.contiguous().view(-1)) / norm)
        return sloss.data * norm, sloss


def greedy_decode(model, src, src_mask, max_len, start_symbol):
    memory = model.encode(src, src_mask)
    ys = torch.zeros(1, 1).fill_(start_symbol).type_as(src)
    for i in range(max_len - 1):
        out = model.decode(memory, src_mask, ys, subsequent_mask(ys.size(1)).type_as(src))
        prob = model.generator(out[:, -1])
        _, next_word = torch.max(prob, dim=1)
        next_word = next_word[0]
        ys = torch.cat([ys, torch.zeros(1, 1).type_as(src).fill_(next_word)], dim=1)
    return ys


class DummyOptimizer:
    param_groups = [{"lr": 0}]

    def step(self):
        pass

    def zero_grad(self, set_to_none=False):
        pass


class DummyScheduler:
    def step(self):
        pass


def train_copy_task(model, epochs=3, nbatches=3, batch_size=6, V=11, warmup=4, record=None):
    """The notebook's copy-task example, small: train, then evaluate, each epoch; the eval losses."""
    criterion = LabelSmoothing(size=V, padding_idx=0, smoothing=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.5, betas=(0.9, 0.98), eps=1e-9)
    lr_scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer=optimizer,
        lr_lambda=lambda step: rate(step, model_size=model.src_embed[0].d_model, factor=1.0, warmup=warmup))
    evals = []
    for epoch in range(epochs):
        model.train()
        run_epoch(data_gen(V, batch_size, nbatches), model, SimpleLossCompute(model.generator, criterion),
                  optimizer, lr_scheduler, mode="train", train_state=TrainState(), record=record)
        model.eval()
        loss, _ = run_epoch(data_gen(V, batch_size, 2), model, SimpleLossCompute(model.generator, criterion),
                            DummyOptimizer(), DummyScheduler(), mode="eval")
        evals.append(float(loss))
    return evals


def decode_examples(model, max_len=10):
    model.eval()
    src = torch.LongTensor([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]])
    src_mask = torch.ones(1, 1, max_len)
    return greedy_decode(model, src, src_mask, max_len=max_len, start_symbol=1)
'''


@pytest.fixture(autouse=True)
def _dynamo_in_setup() -> None:
    """torch's first optimizer imports torch._dynamo (~1 s, once per process): imported here, it counts as setup."""
    pytest.importorskip("torch", reason="PyTorch is not installed (optional test peer)")
    importlib.import_module("torch._dynamo")


def _twins(*args: Any, **kwargs: Any) -> tuple:
    return _twin_models(ANNOTATED, *args, imports=(TORCH_IMPORTS_ANNOTATED, MINIGRAD_IMPORTS_ANNOTATED), **kwargs)


def _shared_copy_task_draws(monkeypatch: pytest.MonkeyPatch, torch: Any, seed: int) -> None:
    """``_shared_randint`` (data_gen's ``size=`` keyword too) and ``_shared_dropout`` of the same seed."""
    _shared_randint(monkeypatch, torch, seed)
    _shared_dropout(monkeypatch, torch, seed)


def test_the_program_differs_only_in_its_imports() -> None:
    assert TORCH_IMPORTS_ANNOTATED.replace("torch", "minigrad").count("\n") == MINIGRAD_IMPORTS_ANNOTATED.count("\n")
    assert "import" not in ANNOTATED and "minigrad" not in ANNOTATED and "mg." not in ANNOTATED


def _key_biases(names: Any) -> tuple:
    """The key projections' biases (``linears.1.bias``): softmax ignores a shift of a query's scores, so their true
    gradient is 0 and their Adam steps follow the sign of rounding noise, different in any two implementations."""
    return tuple(name for name in names if name.endswith("linears.1.bias"))


@pytest.fixture
def default_dtype(request: pytest.FixtureRequest, torch: Any) -> Any:
    """Both libraries' default dtype set to the parameter's for the test (so the positional table and every
    ``torch.zeros``/``torch.ones`` of the program are built in it), restored after."""
    import minigrad as mg  # noqa: PLC0415

    saved = torch.get_default_dtype(), mg.get_default_dtype()
    torch.set_default_dtype(getattr(torch, request.param))
    mg.set_default_dtype(getattr(mg, request.param))
    yield request.param
    torch.set_default_dtype(saved[0])
    mg.set_default_dtype(saved[1])


@pytest.mark.parametrize("default_dtype", ["float32", "float64"], indirect=True)
def test_copy_task_training_and_greedy_decoding(torch: Any, monkeypatch: pytest.MonkeyPatch,
                                                default_dtype: str) -> None:
    tolerance = {"float32": 1e-5, "float64": 1e-10}[default_dtype]
    epochs = 3 if default_dtype == "float32" else 2   # float64: a shorter run, to keep the suite fast
    torch_program, torch_model, mg_program, mg_model, initial = _twins(11, 11)
    expected_steps, steps = [], []
    _shared_copy_task_draws(monkeypatch, torch, 0)
    expected_evals = torch_program["train_copy_task"](torch_model, epochs=epochs, record=expected_steps)
    _shared_copy_task_draws(monkeypatch, torch, 0)
    evals = mg_program["train_copy_task"](mg_model, epochs=epochs, record=steps)

    names = [name for name, _ in torch_model.named_parameters()]
    noise = _key_biases(names)
    assert len(steps) == len(expected_steps) == 3 * epochs
    for step, ((loss, lr, grads), (expected_loss, expected_lr, expected_grads)) in enumerate(
            zip(steps, expected_steps)):
        np.testing.assert_allclose(loss, expected_loss, rtol=tolerance, err_msg=f"step {step}")
        assert lr == pytest.approx(expected_lr, rel=1e-12), step   # the Noam rate, in Python floats in both
        for name, grad, expected in zip(names, grads, expected_grads):
            if name not in noise:
                np.testing.assert_allclose(grad, expected, rtol=10 * tolerance, atol=tolerance,
                                           err_msg=f"step {step}: {name}")
    # warmup 4 then step^-1/2: the rate rises, peaks at step 4, then falls
    lrs = [lr for _, lr, _ in steps]
    assert lrs.index(max(lrs)) == 4 and lrs[0] == pytest.approx(0.5 * 16 ** -0.5 * 4 ** -1.5)
    np.testing.assert_allclose(evals, expected_evals, rtol=tolerance)
    assert evals[-1] < evals[0]
    _assert_same_weights(torch_model, mg_model, initial, noise_only=tuple(initial))   # the names, and that they moved
    # Adam with eps=1e-9 steps ~lr (0.06 at the peak) wherever m/sqrt(v) is ~1, however small the gradient: where a
    # gradient is ~1e-8 (float32's rounding of a sum that nearly cancels), float32's last bits move a weight by up
    # to ~3e-4. The float64 run shows it is rounding: there every weight agrees to 1e-10.
    weight_tolerance = {"float32": 1e-3, "float64": 1e-10}[default_dtype]
    ours, theirs = mg_model.state_dict(), torch_model.state_dict()
    for name in set(initial) - set(_key_biases(initial)):
        np.testing.assert_allclose(ours[name].numpy(), theirs[name].detach().numpy(), rtol=weight_tolerance,
                                   atol=weight_tolerance, err_msg=name)

    decoded = mg_program["decode_examples"](mg_model)
    expected_decoded = torch_program["decode_examples"](torch_model)
    assert decoded.dtype == mg_program["torch"].int64 and decoded.shape == (1, 10)
    assert decoded.tolist() == expected_decoded.tolist() and decoded.tolist()[0][0] == 1


@pytest.mark.parametrize("targets", [[2, 1, 3, 3, 4], [2, 1, 0, 3, 3], [0, 1, 0, 3, 0]], ids=["no-pad", "one-pad",
                                                                                             "three-pads"])
def test_label_smoothing_with_padding_rows(torch: Any, targets: list) -> None:
    """The notebook's LabelSmoothing(5, 0, 0.4) example: no padding row, one (``nonzero(...).squeeze()`` is 0-d) and
    several; the smoothed distribution, the KL loss and its gradient."""
    results = []
    for imports in (TORCH_IMPORTS_ANNOTATED, MINIGRAD_IMPORTS_ANNOTATED):
        program = _program(ANNOTATED, imports)
        lib = program["torch"]
        crit = program["LabelSmoothing"](5, 0, 0.4)
        predict = lib.tensor([[0.05, 0.2, 0.65, 0.05, 0.05]] * 5, requires_grad=True)
        loss = crit(predict.log(), lib.LongTensor(targets))
        loss.backward()
        results.append((crit.true_dist.detach().numpy(), loss.item(), predict.grad.numpy()))
    (theirs, their_loss, their_grad), (ours, our_loss, our_grad) = results
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    assert (ours[np.array(targets) == 0] == 0).all() and (ours[:, 0] == 0).all()
    np.testing.assert_allclose(our_loss, their_loss, rtol=1e-6)
    np.testing.assert_allclose(our_grad, their_grad, rtol=1e-6)


def test_building_blocks(torch: Any) -> None:
    """subsequent_mask, the Batch masks and ntokens, the hand-written LayerNorm (unbiased std), the buffer that is
    not a parameter, clones() that share nothing, and the Noam rate, against torch's run of the same source."""
    theirs, ours = _program(ANNOTATED, TORCH_IMPORTS_ANNOTATED), _program(ANNOTATED, MINIGRAD_IMPORTS_ANNOTATED)
    mg = ours["torch"]
    mask = ours["subsequent_mask"](4)
    assert mask.dtype == mg.bool and mask.shape == (1, 4, 4)
    np.testing.assert_array_equal(mask.numpy(), theirs["subsequent_mask"](4).numpy())

    tokens = np.array([[1, 4, 5, 0, 0], [1, 2, 3, 4, 0]])
    batch, expected = ours["Batch"](mg.from_numpy(tokens), mg.from_numpy(tokens), 0), theirs["Batch"](
        torch.from_numpy(tokens), torch.from_numpy(tokens), 0)
    for name in ("src_mask", "tgt_mask", "tgt", "tgt_y"):
        np.testing.assert_array_equal(getattr(batch, name).numpy(), getattr(expected, name).numpy(), err_msg=name)
    assert int(batch.ntokens) == int(expected.ntokens) == 5

    x = np.random.default_rng(1).standard_normal((2, 3, 6)).astype(np.float32)
    norm, expected_norm = ours["LayerNorm"](6), theirs["LayerNorm"](6)
    np.testing.assert_allclose(norm(mg.from_numpy(x)).detach().numpy(), expected_norm(torch.from_numpy(x)).detach()
                               .numpy(), rtol=1e-5, atol=1e-6)
    assert [name for name, _ in norm.named_parameters()] == ["a_2", "b_2"]

    position = ours["PositionalEncoding"](8, 0.1)
    assert list(position.state_dict()) == ["pe"] and not list(position.parameters())
    assert position.pe.dtype == mg.float32 and not position.pe.requires_grad
    np.testing.assert_allclose(position.pe.numpy(), theirs["PositionalEncoding"](8, 0.1).pe.numpy(), atol=1e-6)

    layers = ours["clones"](mg.nn.Linear(3, 3), 2)
    assert layers[0].weight is not layers[1].weight and not np.shares_memory(layers[0].weight.data,
                                                                             layers[1].weight.data)
    assert [ours["rate"](s, 16, 1.0, 4) for s in range(6)] == [theirs["rate"](s, 16, 1.0, 4) for s in range(6)]

    model = ours["make_model"](11, 11)   # xavier_uniform_ on p.dim() > 1: U(-b, b), b = sqrt(6 / (fan_in + fan_out))
    for name, p in model.named_parameters():
        if p.dim() > 1:
            bound = (6.0 / sum(p.shape)) ** 0.5
            assert 0.7 * bound < float(p.abs().max()) <= bound, name


# ----------------------------------------------------------------------------- regressions the program found


def test_deepcopy_of_a_view_is_its_own_tensor(torch: Any) -> None:
    """PositionalEncoding's buffer is ``pe.unsqueeze(0)``, a view; ``copy.deepcopy`` of the module (make_model's
    ``c(position)``) copied the view's record (base, the op that made it) and failed on the op's module reference.
    As torch's, the copy owns its array: not a view, and writing to it leaves the original and its base alone."""
    import minigrad as mg  # noqa: PLC0415

    for lib in (torch, mg):
        base = lib.zeros(2, 3)
        view = base.unsqueeze(0)
        copied = copy.deepcopy(view)
        copied.add_(1.0)
        assert copied.shape == (1, 2, 3) and float(copied.sum()) == 6.0
        assert float(base.sum()) == float(view.sum()) == 0.0
        base_copy = copy.deepcopy(base)   # the copy of a base is not the base of the original's views
        base_copy.add_(1.0)
        assert float(view.sum()) == 0.0
    sliced = copy.deepcopy(mg.arange(6.0)[1:4])
    assert sliced.tolist() == [1.0, 2.0, 3.0] and getattr(sliced, "_view", None) is None
