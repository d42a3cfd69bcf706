"""Sequence generation: three PyTorch programs run on torch and on minigrad, only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch program: it keeps the original's PyTorch calls and
habits in the same roles, with our own names, structure and comments, a tiny model, a few steps and generated data
(the helpers and the rule come from tests/test_pytorch_programs.py):

* ``SKETCH_RNN`` mirrors the PyTorch ports of Sketch-RNN (Ha & Eck, "A Neural Representation of Sketch Drawings",
  e.g. alexis-jacq/Pytorch-Sketch-RNN): toy drawings in stroke-5 format (dx, dy, p1, p2, p3) padded to ``Nmax``
  behind a start token, a bidirectional ``nn.LSTM`` encoder whose two final hidden states (``torch.split(hidden,
  1, 0)``) are concatenated, a VAE latent (``sigma = torch.exp(sigma_hat / 2.)``, ``z = mu + sigma * N``), a
  decoder ``nn.LSTM`` fed ``[S_{t-1}; z]`` whose initial ``(h, c)`` are ``torch.tanh(fc_hc(z)).chunk(2, 1)``, a
  head of M bivariate normals (``log_softmax`` weights, ``exp`` deviations, ``tanh`` correlations) and 3 pen
  logits; the reconstruction loss ``-log sum pi N2(dx, dy)`` (``logsumexp``) masked by the sketch lengths plus the
  pen ``F.cross_entropy``, the KL term floored with ``torch.max(LKL, torch.tensor(KL_min))`` and annealed with
  ``eta = 1 - (1 - eta_min) R^step``, ``clip_grad_norm_``, Adam under ``ExponentialLR``; then conditional sampling
  of a few strokes with a temperature (mixture component from ``torch.multinomial``, the offset from two standard
  normals ``x = mu_x + s_x n1``, ``y = mu_y + s_y (rho n1 + sqrt(1 - rho^2) n2)``);
* ``LAYER_NORM_LSTM`` is the layer-normalised LSTM of Sketch-RNN's decoder (Ba et al., "Layer Normalization"), as a
  custom ``nn.Module`` cell with its own ``nn.Parameter`` weights: one ``nn.LayerNorm`` per gate on the gate
  pre-activations (``torch.split`` into i, g, f, o), a forget bias of 1, and ``nn.LayerNorm`` on c before its
  ``tanh``; recurrent dropout after Semeniuta et al. ("Recurrent Dropout without Memory Loss"): dropout on the
  candidate g only, one mask per sequence drawn with ``torch.rand(...) < keep`` and reused at every step; unrolled
  over time in a Python loop, next-step prediction of a noisy sine set under Adam, in float32 and float64;
* ``PIANO_ROLL_LSTM`` mirrors the polyphonic music models trained on piano-rolls (Boulanger-Lewandowski et al.'s
  JSB Chorales / Nottingham setup, as in pyro's and others' PyTorch examples): 88-key multi-hot frames, an
  ``nn.LSTM(batch_first=True)`` stepped one frame at a time, ``nn.BCEWithLogitsLoss(pos_weight=...)`` for the rare
  active keys, frame-level accuracy TP / (TP + FP + FN), scheduled sampling (Bengio et al.): at each step a shared
  coin ``torch.rand(1).item() < p`` chooses the true previous frame or the model's own sampled frame, with ``p``
  decayed per training step; frames sampled as ``(torch.rand(probs.shape) < probs).float()``; then a continuation
  generated from a primer.

Random draws are the same numbers in both runs: ``torch.randn``/``rand``/``randn_like`` read one NumPy stream each
(``_shared_draws``) and ``torch.multinomial`` picks by the inverse CDF at shared uniforms (``_shared_multinomial``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import _assert_same_weights, _twin_models
from tests.test_pytorch_programs_flow import _lean_torch  # noqa: F401 - autouse: torch lean, _dynamo imported in setup
from tests.test_pytorch_programs_generative import _shared_draws
from tests.test_pytorch_programs_rl import _shared_multinomial

TORCH_IMPORTS_SKETCH = """\
import math
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import optim
"""

MINIGRAD_IMPORTS_SKETCH = """\
import math
import minigrad as torch
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad import optim
"""

IMPORTS = (TORCH_IMPORTS_SKETCH, MINIGRAD_IMPORTS_SKETCH)


SKETCH_RNN = '''
class HParams:
    enc_hidden_size = 6
    dec_hidden_size = 8
    Nz = 4
    M = 3
    wKL = 0.5
    KL_min = 0.2
    eta_min = 0.01
    R = 0.9
    lr = 0.01
    lr_decay = 0.95
    grad_clip = 1.0
    temperature = 0.6


hp = HParams()


def to_stroke5(strokes, Nmax):
    """A list of (N_i, 3) stroke-3 arrays (dx, dy, pen lifted) -> (Nmax + 1, B, 5) float tensor (start token first,
    then the strokes, then end-of-sketch padding (0, 0, 0, 0, 1)) and the lengths (with the end token)."""
    batch = torch.zeros(Nmax + 1, len(strokes), 5)
    lengths = []
    for b, sketch in enumerate(strokes):
        n = len(sketch)
        batch[0, b, 2] = 1.0
        batch[1:n + 1, b, :2] = torch.from_numpy(sketch[:, :2])
        batch[1:n + 1, b, 3] = torch.from_numpy(sketch[:, 2])
        batch[1:n + 1, b, 2] = 1 - batch[1:n + 1, b, 3]
        batch[n + 1:, b, 4] = 1.0
        lengths.append(n + 1)
    return batch, lengths


class EncoderRNN(nn.Module):
    """Sketches (Nmax, B, 5) -> z, mu, sigma_hat (B, Nz): a bidirectional LSTM's last states, concatenated."""

    def __init__(self):
        super(EncoderRNN, self).__init__()
        self.lstm = nn.LSTM(5, hp.enc_hidden_size, bidirectional=True)
        self.fc_mu = nn.Linear(2 * hp.enc_hidden_size, hp.Nz)
        self.fc_sigma = nn.Linear(2 * hp.enc_hidden_size, hp.Nz)

    def forward(self, inputs, batch_size):
        hidden = torch.zeros(2, batch_size, hp.enc_hidden_size)
        cell = torch.zeros(2, batch_size, hp.enc_hidden_size)
        _, (hidden, cell) = self.lstm(inputs, (hidden, cell))
        hidden_forward, hidden_backward = torch.split(hidden, 1, 0)
        hidden_cat = torch.cat([hidden_forward.squeeze(0), hidden_backward.squeeze(0)], 1)
        mu = self.fc_mu(hidden_cat)
        sigma_hat = self.fc_sigma(hidden_cat)
        sigma = torch.exp(sigma_hat / 2.)
        N = torch.randn(mu.size())
        return mu + sigma * N, mu, sigma_hat


class DecoderRNN(nn.Module):
    """[S_{t-1}; z] (T, B, 5 + Nz) -> mixture parameters (T, B, M) each and pen logits (T, B, 3)."""

    def __init__(self):
        super(DecoderRNN, self).__init__()
        self.fc_hc = nn.Linear(hp.Nz, 2 * hp.dec_hidden_size)
        self.lstm = nn.LSTM(hp.Nz + 5, hp.dec_hidden_size)
        self.fc_params = nn.Linear(hp.dec_hidden_size, 6 * hp.M + 3)

    def forward(self, inputs, z, hidden_cell=None):
        if hidden_cell is None:
            hidden, cell = torch.tanh(self.fc_hc(z)).chunk(2, 1)
            hidden_cell = (hidden.unsqueeze(0).contiguous(), cell.unsqueeze(0).contiguous())
        outputs, (hidden, cell) = self.lstm(inputs, hidden_cell)
        # in training every step's output is read, in generation only the last state's
        if self.training:
            y = self.fc_params(outputs.view(-1, hp.dec_hidden_size))
        else:
            y = self.fc_params(hidden.view(-1, hp.dec_hidden_size))
        len_out = inputs.size(0) if self.training else 1
        # 6 numbers per mixture component, then the 3 pen logits
        params = torch.split(y, 6, 1)
        params_mixture = torch.stack(params[:-1])                 # (M, T * B, 6)
        pen_logits = params[-1].view(len_out, -1, 3)
        pi_hat, mu_x, mu_y, sigma_x, sigma_y, rho_xy = torch.split(params_mixture, 1, 2)
        as_steps = lambda t: t.transpose(0, 1).squeeze(2).contiguous().view(len_out, -1, hp.M)
        log_pi = F.log_softmax(as_steps(pi_hat), dim=-1)
        params = (log_pi, as_steps(mu_x), as_steps(mu_y), torch.exp(as_steps(sigma_x)), torch.exp(as_steps(sigma_y)),
                  torch.tanh(as_steps(rho_xy)))
        return params, pen_logits, (hidden, cell)


def log_bivariate_normal(dx, dy, mu_x, mu_y, sigma_x, sigma_y, rho_xy):
    """log N2(dx, dy) for each component: dx, dy (T, B, 1) against (T, B, M) parameters."""
    zx = (dx - mu_x) / sigma_x
    zy = (dy - mu_y) / sigma_y
    one_minus_rho2 = 1 - rho_xy ** 2
    z = zx ** 2 + zy ** 2 - 2 * rho_xy * zx * zy
    return -z / (2 * one_minus_rho2) - torch.log(2 * math.pi * sigma_x * sigma_y * torch.sqrt(one_minus_rho2))


def reconstruction_loss(params, pen_logits, batch, lengths, Nmax):
    log_pi, mu_x, mu_y, sigma_x, sigma_y, rho_xy = params
    target = batch[1:]                                            # (Nmax, B, 5)
    dx, dy = target[..., 0:1], target[..., 1:2]
    log_mixture = torch.logsumexp(log_pi + log_bivariate_normal(dx, dy, mu_x, mu_y, sigma_x, sigma_y, rho_xy), 2)
    mask = torch.zeros(Nmax, batch.size(1))
    for b, length in enumerate(lengths):
        mask[:length - 1, b] = 1.0                                # the offsets of the real strokes only
    LS = -torch.sum(mask * log_mixture) / float(Nmax * batch.size(1))
    pen_target = target[..., 2:].argmax(dim=-1)
    LP = F.cross_entropy(pen_logits.reshape(-1, 3), pen_target.reshape(-1))
    return LS + LP


def kl_loss(mu, sigma_hat):
    LKL = -0.5 * torch.mean(1 + sigma_hat - mu ** 2 - torch.exp(sigma_hat))
    return torch.max(LKL, torch.tensor(hp.KL_min))   # below KL_min the KL term pushes no more


def make_model():
    return EncoderRNN(), DecoderRNN()


def train(encoder, decoder, batches, steps, Nmax):
    encoder_optimizer = optim.Adam(encoder.parameters(), hp.lr)
    decoder_optimizer = optim.Adam(decoder.parameters(), hp.lr)
    schedulers = [optim.lr_scheduler.ExponentialLR(optimizer, gamma=hp.lr_decay)
                  for optimizer in (encoder_optimizer, decoder_optimizer)]
    history = []
    eta_step = hp.eta_min
    for step in range(steps):
        encoder.train()
        decoder.train()
        batch, lengths = batches[step % len(batches)]
        batch_size = batch.size(1)
        z, mu, sigma_hat = encoder(batch, batch_size)
        sos_and_strokes = batch[:-1]
        z_stack = torch.stack([z] * Nmax)
        inputs = torch.cat([sos_and_strokes, z_stack], 2)
        params, pen_logits, _ = decoder(inputs, z)
        encoder_optimizer.zero_grad()
        decoder_optimizer.zero_grad()
        eta_step = 1 - (1 - hp.eta_min) * hp.R ** step
        LR = reconstruction_loss(params, pen_logits, batch, lengths, Nmax)
        LKL = kl_loss(mu, sigma_hat)
        loss = LR + hp.wKL * eta_step * LKL
        loss.backward()
        norms = [float(nn.utils.clip_grad_norm_(m.parameters(), hp.grad_clip)) for m in (encoder, decoder)]
        encoder_optimizer.step()
        decoder_optimizer.step()
        for scheduler in schedulers:
            scheduler.step()
        history.append((loss.item(), LR.item(), LKL.item(), norms[0], norms[1], schedulers[0].get_last_lr()[0]))
    return history


def adjust_temperature(log_pi, pen_logits, sigma_x, sigma_y, temperature):
    pi = F.softmax(log_pi / temperature, dim=-1)
    q = F.softmax(pen_logits / temperature, dim=-1)
    scale = math.sqrt(temperature)
    return pi, q, sigma_x * scale, sigma_y * scale


def sample_next_state(params, pen_logits):
    """One stroke-5 state (1, 1, 5) from the last step's mixture, at the temperature hp.temperature."""
    log_pi, mu_x, mu_y, sigma_x, sigma_y, rho_xy = (p[-1] for p in params)        # (1, M)
    pi, q, sigma_x, sigma_y = adjust_temperature(log_pi, pen_logits[-1], sigma_x, sigma_y, hp.temperature)
    k = torch.multinomial(pi, 1)                                                  # (1, 1)
    pick = lambda t: t.gather(1, k).squeeze()
    mx, my, sx, sy, rho = pick(mu_x), pick(mu_y), pick(sigma_x), pick(sigma_y), pick(rho_xy)
    n = torch.randn(2)
    x = mx + sx * n[0]
    y = my + sy * (rho * n[0] + torch.sqrt(torch.clamp(1 - rho ** 2, min=1e-6)) * n[1])
    pen = torch.multinomial(q, 1).item()
    state = torch.zeros(1, 1, 5)
    state[0, 0, 0], state[0, 0, 1], state[0, 0, pen + 2] = x, y, 1.0
    return state, k.item(), pen


@torch.no_grad()
def conditional_generation(encoder, decoder, sketch, Nmax):
    """Encode one sketch (Nmax + 1, 1, 5), then decode stroke after stroke from its z, feeding each sample back."""
    encoder.train(False)
    decoder.train(False)
    z, _, _ = encoder(sketch, 1)
    s = torch.zeros(1, 1, 5)
    s[0, 0, 2] = 1.0
    hidden_cell = None
    strokes, choices = [], []
    for i in range(Nmax):
        inputs = torch.cat([s, z.unsqueeze(0)], 2)
        params, pen_logits, hidden_cell = decoder(inputs, z, hidden_cell)
        s, component, pen = sample_next_state(params, pen_logits)
        strokes.append(s[0, 0].tolist())
        choices.append((component, pen))
        if pen == 2:
            break
    return strokes, choices
'''


LAYER_NORM_LSTM = '''
class LayerNormLSTMCell(nn.Module):
    """One layer-normalised LSTM step with recurrent dropout on the candidate (Semeniuta et al.).

    x (B, I), (h, c) (B, H), mask (B, H) or None ->  (h, c):
        i, g, f, o = LN_k(split(x W_x + h W_h))     each gate its own LayerNorm (its gain and bias)
        c' = sigmoid(f + forget_bias) * c + sigmoid(i) * dropout(tanh(g))
        h' = sigmoid(o) * tanh(LN_c(c'))
    """

    def __init__(self, input_size, hidden_size, forget_bias=1.0):
        super(LayerNormLSTMCell, self).__init__()
        self.hidden_size = hidden_size
        self.forget_bias = forget_bias
        self.weight_x = nn.Parameter(torch.empty(input_size, 4 * hidden_size))
        self.weight_h = nn.Parameter(torch.empty(hidden_size, 4 * hidden_size))
        self.gate_norms = nn.ModuleList([nn.LayerNorm(hidden_size) for _ in range(4)])
        self.cell_norm = nn.LayerNorm(hidden_size)
        nn.init.xavier_uniform_(self.weight_x)
        nn.init.orthogonal_(self.weight_h)

    def forward(self, x, state, mask=None):
        h, c = state
        gates = torch.mm(x, self.weight_x) + torch.mm(h, self.weight_h)
        i, g, f, o = (norm(part) for norm, part in zip(self.gate_norms, torch.split(gates, self.hidden_size, 1)))
        g = torch.tanh(g)
        if mask is not None:
            g = g * mask
        c = torch.sigmoid(f + self.forget_bias) * c + torch.sigmoid(i) * g
        h = torch.sigmoid(o) * torch.tanh(self.cell_norm(c))
        return h, c


class Predictor(nn.Module):
    """Sequences (T, B, I) -> next-step predictions (T, B, I) through the cell unrolled in a Python loop."""

    def __init__(self, input_size, hidden_size, keep_prob=0.8):
        super(Predictor, self).__init__()
        self.cell = LayerNormLSTMCell(input_size, hidden_size)
        self.readout = nn.Linear(hidden_size, input_size)
        self.keep_prob = keep_prob

    def forward(self, sequence):
        T, B, _ = sequence.shape
        h = sequence.new_zeros(B, self.cell.hidden_size)
        c = torch.zeros_like(h)
        mask = None
        if self.training and self.keep_prob < 1.0:
            # one mask per sequence, reused at every step: no memory is lost, since c itself is never dropped
            mask = (torch.rand(B, self.cell.hidden_size) < self.keep_prob).to(h.dtype) / self.keep_prob
        outputs = []
        for t in range(T):
            h, c = self.cell(sequence[t], (h, c), mask)
            outputs.append(self.readout(h))
        return torch.stack(outputs), (h, c)


def make_model(dtype=torch.float32):
    return Predictor(2, 6).to(dtype)


def train(model, series, steps, lr=0.02):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.MSELoss()
    history = []
    for step in range(steps):
        model.train()
        optimizer.zero_grad()
        prediction, _ = model(series[:-1])
        loss = loss_fn(prediction, series[1:])
        loss.backward()
        optimizer.step()
        model.eval()
        with torch.no_grad():
            evaluation = loss_fn(model(series[:-1])[0], series[1:])
        history.append((loss.item(), evaluation.item()))
    return history
'''


PIANO_ROLL_LSTM = '''
KEYS = 88


class MusicRNN(nn.Module):
    """Piano-roll frames (B, T, 88), multi-hot -> logits for the next frame (B, T, 88), one step at a time."""

    def __init__(self, hidden_size=12):
        super(MusicRNN, self).__init__()
        self.lstm = nn.LSTM(KEYS, hidden_size, batch_first=True)
        self.output = nn.Linear(hidden_size, KEYS)

    def step(self, frame, state=None):
        out, state = self.lstm(frame.unsqueeze(1), state)
        return self.output(out.squeeze(1)), state

    def forward(self, rolls, teacher_forcing=1.0):
        """Scheduled sampling: step t reads the true frame t with probability teacher_forcing, else a frame
        sampled from the model's own prediction for it (one coin per step for the whole batch)."""
        frame, state, logits = rolls[:, 0], None, []
        for t in range(rolls.size(1) - 1):
            step_logits, state = self.step(frame, state)
            logits.append(step_logits)
            if torch.rand(1).item() < teacher_forcing:
                frame = rolls[:, t + 1]
            else:
                frame = sample_frame(step_logits.detach())
        return torch.stack(logits, dim=1)


def sample_frame(logits):
    """Each key on with its own probability: a shared uniform below sigmoid(logit); the frame in the model's dtype."""
    probs = torch.sigmoid(logits)
    return (torch.rand(probs.shape) < probs).type_as(probs)


def frame_accuracy(logits, targets):
    """Boulanger-Lewandowski's accuracy: TP / (TP + FP + FN) summed over all frames."""
    predicted = (logits > 0).float()
    true_positive = (predicted * targets).sum()
    false_positive = (predicted * (1 - targets)).sum()
    false_negative = ((1 - predicted) * targets).sum()
    return (true_positive / (true_positive + false_positive + false_negative).clamp(min=1)).item()


def make_model():
    return MusicRNN()


def teacher_forcing_ratio(step, k=3.0):
    """Inverse sigmoid decay: k / (k + exp(step / k))."""
    return k / (k + math.exp(step / k))


def train(model, rolls, steps, lr=0.02):
    # eps 1e-5, not 1e-8: a few weights get gradients near 1e-8, where RMSprop's first step g / sqrt(0.01 g^2)
    # turns float32 rounding into 1e-4 changes of the weights (any two implementations; float64 agrees to 1e-13)
    optimizer = optim.RMSprop(model.parameters(), lr=lr, eps=1e-5)
    pos_weight = torch.full((KEYS,), 4.0)
    criterion = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    history = []
    for step in range(steps):
        model.train()
        ratio = teacher_forcing_ratio(step)
        optimizer.zero_grad()
        logits = model(rolls, teacher_forcing=ratio)
        targets = rolls[:, 1:]
        loss = criterion(logits, targets)
        loss.backward()
        nn.utils.clip_grad_value_(model.parameters(), 1.0)
        optimizer.step()
        history.append((loss.item(), frame_accuracy(logits, targets), ratio))
    return history


@torch.no_grad()
def generate(model, primer, length):
    """Continue primer (B, P, 88) for length frames, each sampled and fed back."""
    model.eval()
    logits, state = None, None
    for t in range(primer.size(1)):
        logits, state = model.step(primer[:, t], state)
    frames = []
    for _ in range(length):
        frame = sample_frame(logits)
        frames.append(frame)
        logits, state = model.step(frame, state)
    return torch.stack(frames, dim=1)
'''

PROGRAMS = (SKETCH_RNN, LAYER_NORM_LSTM, PIANO_ROLL_LSTM)


def test_the_programs_differ_only_in_their_imports() -> None:
    as_minigrad = TORCH_IMPORTS_SKETCH.replace("import torch\n", "import minigrad as torch\n")
    as_minigrad = as_minigrad.replace("torch.nn", "minigrad.nn").replace("from torch", "from minigrad")
    assert as_minigrad == MINIGRAD_IMPORTS_SKETCH
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


def _shared(monkeypatch: pytest.MonkeyPatch, torch: Any, seed: int) -> None:
    """randn/rand/randn_like/randint and multinomial of both libraries read NumPy streams of the same seed."""
    import minigrad as mg  # noqa: PLC0415

    _shared_draws(monkeypatch, torch, seed)
    for lib in (torch, mg):
        _shared_multinomial(monkeypatch, lib, seed + 1)


# ----------------------------------------------------------------------------- 1. Sketch-RNN


def _toy_sketches(count: int, seed: int) -> list:
    """Stroke-3 drawings (N, 3) float32: polygons of 3..5 sides traced with small jitter, the pen lifted at the end."""
    rng = np.random.default_rng(seed)
    sketches = []
    for _ in range(count):
        sides = int(rng.integers(3, 6))
        angles = np.arange(sides) * 2 * np.pi / sides + rng.random() * np.pi
        offsets = np.stack([np.cos(angles), np.sin(angles)], 1) * 0.5 + 0.05 * rng.standard_normal((sides, 2))
        pen = np.zeros((sides, 1))
        pen[-1] = 1.0
        sketches.append(np.concatenate([offsets, pen], 1).astype(np.float32))
    return sketches


@pytest.fixture
def default_dtype(torch: Any, request: pytest.FixtureRequest) -> Any:
    """The default float dtype of both libraries set to the test's parameter, restored after (other tests share
    the process)."""
    import minigrad as mg  # noqa: PLC0415

    saved = torch.get_default_dtype(), mg.get_default_dtype()
    torch.set_default_dtype(getattr(torch, request.param))
    mg.set_default_dtype(getattr(mg, request.param))
    yield np.dtype(request.param)
    torch.set_default_dtype(saved[0])
    mg.set_default_dtype(saved[1])


@pytest.mark.parametrize("default_dtype", ["float32", "float64"], indirect=True)
def test_sketch_rnn_vae_training_and_conditional_sampling(torch: Any, monkeypatch: pytest.MonkeyPatch,
                                                          default_dtype: Any) -> None:
    """Six Adam steps of Sketch-RNN on toy polygons (losses, KL, clipped norms and the decayed lr step by step,
    then the weights), and conditional generation of a few strokes from the trained model (shared draws); under
    ``set_default_dtype(float64)`` everything agrees to 1e-10."""
    steps, Nmax = 6, 6
    sketches = [sketch.astype(default_dtype) for sketch in _toy_sketches(8, 0)]
    torch_program, torch_models, mg_program, mg_models, initials = _twin_models(SKETCH_RNN, imports=IMPORTS)
    results = []
    for program, (encoder, decoder) in ((torch_program, torch_models), (mg_program, mg_models)):
        _shared(monkeypatch, torch, 5)
        batches = [program["to_stroke5"](sketches[i:i + 4], Nmax) for i in (0, 4)]
        history = program["train"](encoder, decoder, batches, steps, Nmax)
        one, _ = program["to_stroke5"](sketches[:1], Nmax)
        strokes, choices = program["conditional_generation"](encoder, decoder, one, Nmax)
        results.append((history, strokes, choices, encoder.fc_mu.weight.dtype))
    (expected, torch_strokes, torch_choices, _), (history, strokes, choices, dtype) = results
    assert dtype == default_dtype
    tolerance = 1e-5 if default_dtype == np.float32 else 1e-10
    np.testing.assert_allclose(history, expected, rtol=tolerance, atol=tolerance / 10)
    assert expected[0][2] == pytest.approx(0.2)   # the KL floor holds at the start, then the KL grows past it
    for torch_model, mg_model, initial in zip(torch_models, mg_models, initials):
        _assert_same_weights(torch_model, mg_model, initial)
    assert choices == torch_choices and len(choices) >= 2
    np.testing.assert_allclose(strokes, torch_strokes, rtol=tolerance, atol=tolerance)


# ----------------------------------------------------------------------------- 2. layer-normalised LSTM


def _noisy_sines(steps: int, batch: int, seed: int, dtype: Any) -> np.ndarray:
    """(T, B, 2): a sine and a cosine of random phase and frequency per column, with a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps)[:, None]
    phase, freq = rng.random(batch) * 6.0, 0.3 + 0.3 * rng.random(batch)
    series = np.stack([np.sin(freq * t + phase), np.cos(freq * t + phase)], -1)
    return (series + 0.02 * rng.standard_normal(series.shape)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_norm_lstm_with_recurrent_dropout(torch: Any, monkeypatch: pytest.MonkeyPatch, dtype: Any) -> None:
    """Four Adam steps of the hand-written layer-normalised cell (masks shared), train and eval losses step by step,
    the weights after; float64 agrees to 1e-10."""
    series = _noisy_sines(6, 3, 1, dtype)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(LAYER_NORM_LSTM, imports=IMPORTS)
    if dtype == np.float64:
        torch_model.double()
        mg_model.double()
        initial = {k: v.double() for k, v in initial.items()}
    results = []
    for program, model in ((torch_program, torch_model), (mg_program, mg_model)):
        _shared(monkeypatch, torch, 2)
        results.append(program["train"](model, program["torch"].from_numpy(series), 4))
    expected, history = results
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(history, expected, rtol=rtol, atol=rtol)
    assert history[-1][0] < history[0][0]
    assert all(train != evaluation for train, evaluation in history)   # dropout was on in training only
    _assert_same_weights(torch_model, mg_model, initial)


# ----------------------------------------------------------------------------- 3. polyphonic piano-roll


def _chorales(count: int, frames: int, seed: int) -> np.ndarray:
    """(B, T, 88) float32 multi-hot rolls: a three-note chord moving by small steps, held for two frames each."""
    rng = np.random.default_rng(seed)
    rolls = np.zeros((count, frames, 88), dtype=np.float32)
    for b in range(count):
        root = int(rng.integers(30, 50))
        for t in range(0, frames, 2):
            rolls[b, t:t + 2, [root, root + 4, root + 7]] = 1.0
            root += int(rng.integers(-2, 3))
    return rolls


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_piano_roll_lstm_with_scheduled_sampling(torch: Any, monkeypatch: pytest.MonkeyPatch, dtype: Any) -> None:
    """Six RMSprop steps under scheduled sampling (shared coins and sampled frames): loss, frame accuracy and the
    teacher forcing ratio step by step, the weights, then a generated continuation; float64 agrees to 1e-10."""
    rolls = _chorales(3, 6, 3).astype(dtype)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(PIANO_ROLL_LSTM, imports=IMPORTS)
    if dtype == np.float64:
        torch_model.double()
        mg_model.double()
    results = []
    for program, model in ((torch_program, torch_model), (mg_program, mg_model)):
        _shared(monkeypatch, torch, 3)
        data = program["torch"].from_numpy(rolls)
        history = program["train"](model, data, 6)
        results.append((history, program["generate"](model, data[:, :3], 4).numpy()))
    (expected, torch_generated), (history, generated) = results
    tolerance = 1e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(history, expected, rtol=tolerance, atol=tolerance / 10)
    assert expected[-1][2] < 0.5 < expected[0][2]   # the model fed itself more and more
    _assert_same_weights(torch_model, mg_model, initial)
    np.testing.assert_array_equal(generated, torch_generated)
    assert generated.shape == (3, 4, 88) and generated.dtype == dtype and set(np.unique(generated)) <= {0.0, 1.0}


def test_a_float32_frame_into_a_float64_lstm_is_refused_as_torch_refuses(torch: Any) -> None:
    """Why ``sample_frame`` ends in ``type_as(probs)``, not the usual ``.float()``: in float64, torch refuses the
    float32 frame (``nn.LSTM``: ValueError, ``nn.Linear``: RuntimeError), and so does minigrad since round 18
    (RecurrentInputError, a ValueError and RuntimeError; it computed in float64 before)."""
    import minigrad as mg  # noqa: PLC0415
    import nn  # noqa: PLC0415

    frame = np.ones((2, 1, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="dtype"):
        torch.nn.LSTM(3, 4, batch_first=True).double()(torch.from_numpy(frame))
    with pytest.raises(ValueError, match="dtype"):
        nn.LSTM(3, 4, batch_first=True).double()(mg.from_numpy(frame))

