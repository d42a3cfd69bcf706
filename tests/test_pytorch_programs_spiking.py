"""Spiking networks, a learned optimizer and an LSTM autoencoder, small, run on torch and on minigrad: only the
imports differ.

Each program is our own rewrite of a well-known public PyTorch program (names, helpers and comments are ours),
cut to a tiny model and a few steps on data generated in the test, keeping the original's PyTorch calls in the
same roles (the helpers and the rule come from tests/test_pytorch_programs.py):

* ``LEAKY_SNN`` is a spiking classifier in the style of snnTorch's tutorials and Zenke's SpyTorch: leaky
  integrate-and-fire layers unrolled over T steps (``mem = beta * mem + input - reset * threshold``, or
  reset-to-zero ``(beta * mem + input) * (1 - reset)``, the reset detached), spikes from a custom
  ``torch.autograd.Function`` (forward ``(x > 0).float()``, backward SuperSpike's fast-sigmoid surrogate
  ``1 / (1 + k|x|)^2`` read back with ``ctx.saved_tensors``), a learnable decay ``beta`` clamped to [0, 1],
  inputs rate-coded with ``torch.bernoulli`` (snnTorch's ``spikegen.rate``), ``F.cross_entropy`` on the
  output spike counts, BPTT through all steps, ``torch.optim.Adam``;
* ``ALIF_RSNN`` is the recurrent adaptive-LIF network of Bellec et al.'s LSNN (and its PyTorch ports): input and
  recurrent weights (no self-connections, ``1 - torch.eye``), a threshold that rises with each spike and decays
  back, Bellec's triangular pseudo-derivative as an ``autograd.Function`` with a non-tensor argument (whose
  gradient is ``None``), a leaky read-out integrator, Adam; once with BPTT through the whole sequence and once
  truncated (the state ``detach()``-ed every k steps);
* ``LEARNED_OPTIMIZER`` mirrors "Learning to learn by gradient descent by gradient descent" (Andrychowicz et
  al.; ikostrikov's and chenwydj's PyTorch versions): a coordinatewise two-layer ``nn.LSTMCell`` optimizer that
  reads every coordinate of the optimizee's gradient as one batch row, the gradient preprocessing
  (``log(|g|) / p`` and ``sign(g)`` where ``|g| >= e^-p``, else ``-1`` and ``e^p g`` clamped), the optimizee a
  batch of quadratics ``f(theta) = ||W theta - y||^2`` unrolled 5 steps with
  ``torch.autograd.grad(..., create_graph=True)`` (and first order), the meta-loss the sum of f over the unroll,
  the meta-optimizer Adam on the LSTM's parameters;
* ``LSTM_AUTOENCODER`` mirrors the common "LSTM autoencoder for time-series anomaly detection" (curiousily's
  ECG tutorial and its kin): an ``nn.LSTM`` encoder whose last hidden state is repeated over T
  (``unsqueeze(1).repeat`` or ``expand``), an ``nn.LSTM`` decoder and a ``Linear`` read-out, ``MSELoss`` under
  Adam, per-sequence reconstruction errors under ``torch.no_grad()``, a threshold from ``torch.quantile`` of the
  normal sequences' errors, and anomaly flags ``errors > threshold``.

The rate coder's Bernoulli draws are made the same in both runs: ``torch.bernoulli`` of both libraries compares,
in call order, uniforms from one NumPy stream each of the same seed with the probabilities
(``_shared_bernoulli_probabilities``). Spikes are thresholds of float sums, so a spike would flip where the
two engines' membrane potentials differed across the threshold by rounding; the tests compare exact spike
counts and find none flipped.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn  # noqa: F401 - the programs' import, paid at collection (as torch's), not in a test
from tests.test_pytorch_programs import _assert_same_weights, _twin_models
from tests.test_pytorch_programs_flow import _lean_torch  # noqa: F401 - autouse: torch lean, _dynamo imported in setup

TORCH_IMPORTS_SPIKING = """\
import math
import torch
import torch.nn as nn
import torch.nn.functional as F
"""

MINIGRAD_IMPORTS_SPIKING = """\
import math
import minigrad as torch
import minigrad.nn as nn
import minigrad.nn.functional as F
"""

IMPORTS = (TORCH_IMPORTS_SPIKING, MINIGRAD_IMPORTS_SPIKING)


LEAKY_SNN = '''
class FastSigmoidSpike(torch.autograd.Function):
    """The Heaviside step of the membrane's distance above threshold; backward, the derivative of a fast
    sigmoid, 1 / (1 + k|x|)^2 (SuperSpike's surrogate gradient)."""

    slope = 10.0

    @staticmethod
    def forward(ctx, over_threshold):
        ctx.save_for_backward(over_threshold)
        return (over_threshold > 0).float()

    @staticmethod
    def backward(ctx, grad_spikes):
        over_threshold, = ctx.saved_tensors
        return grad_spikes / (FastSigmoidSpike.slope * torch.abs(over_threshold) + 1.0) ** 2


spike = FastSigmoidSpike.apply


def rate_code(intensity, num_steps):
    """Intensities (B, I) in [0, 1] as spike trains (num_steps, B, I): each step fires with that probability."""
    return torch.bernoulli(intensity.unsqueeze(0).repeat(num_steps, 1, 1))


class Leaky(nn.Module):
    """A layer of leaky integrate-and-fire neurons, one step: input current (B, N), membrane (B, N) -> spikes,
    membrane. The reset comes from the previous step's spikes and is detached, as snnTorch does by default."""

    def __init__(self, size, beta, threshold=1.0, reset_mechanism="subtract", learn_beta=False):
        super().__init__()
        beta = torch.full((size,), beta)
        if learn_beta:
            self.beta = nn.Parameter(beta)
        else:
            self.register_buffer("beta", beta)
        self.threshold = threshold
        self.reset_mechanism = reset_mechanism

    def init_leaky(self, batch_size):
        return self.beta.new_zeros(batch_size, self.beta.numel())

    def forward(self, current, mem):
        reset = spike(mem - self.threshold).detach()
        beta = self.beta.clamp(0, 1)
        if self.reset_mechanism == "subtract":
            mem = beta * mem + current - reset * self.threshold
        elif self.reset_mechanism == "zero":
            mem = (beta * mem + current) * (1 - reset)
        else:
            raise ValueError(self.reset_mechanism)
        return spike(mem - self.threshold), mem


class SpikingNet(nn.Module):
    """Spike trains (T, B, I) -> output spikes and membranes (T, B, C), two fully connected LIF layers."""

    def __init__(self, inputs, hidden, outputs, beta=0.9, reset_mechanism="subtract"):
        super().__init__()
        self.fc1 = nn.Linear(inputs, hidden)
        self.lif1 = Leaky(hidden, beta, reset_mechanism=reset_mechanism, learn_beta=True)
        self.fc2 = nn.Linear(hidden, outputs)
        self.lif2 = Leaky(outputs, beta, reset_mechanism=reset_mechanism, learn_beta=True)

    def forward(self, spikes_in):
        mem1 = self.lif1.init_leaky(spikes_in.size(1))
        mem2 = self.lif2.init_leaky(spikes_in.size(1))
        spk_rec, mem_rec = [], []
        for step in range(spikes_in.size(0)):
            spk1, mem1 = self.lif1(self.fc1(spikes_in[step]), mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            spk_rec.append(spk2)
            mem_rec.append(mem2)
        return torch.stack(spk_rec, dim=0), torch.stack(mem_rec, dim=0)


def make_model(inputs, hidden, outputs, reset_mechanism="subtract"):
    return SpikingNet(inputs, hidden, outputs, reset_mechanism=reset_mechanism)


def train(model, images, labels, steps, num_steps=8, lr=2e-2):
    """Adam on the cross entropy of the output spike counts, back-propagated through every step."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999))
    history = []
    for _ in range(steps):
        spk_rec, mem_rec = model(rate_code(images, num_steps))
        counts = spk_rec.sum(dim=0)
        loss = F.cross_entropy(counts, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        accuracy = (counts.argmax(dim=1) == labels).float().mean()
        history.append((loss.item(), accuracy.item(), spk_rec.sum().item(), mem_rec.abs().mean().item()))
    return history
'''


ALIF_RSNN = '''
class PseudoDerivativeSpike(torch.autograd.Function):
    """z = H(v) of the scaled membrane v = (V - A) / A; backward, Bellec's gamma * max(0, 1 - |v|)."""

    @staticmethod
    def forward(ctx, scaled, dampening):
        ctx.save_for_backward(scaled)
        ctx.dampening = dampening
        return torch.gt(scaled, 0).to(scaled.dtype)

    @staticmethod
    def backward(ctx, grad_spikes):
        scaled, = ctx.saved_tensors
        pseudo = ctx.dampening * torch.clamp(1.0 - scaled.abs(), min=0.0)
        return grad_spikes * pseudo, None


class ALIFCell(nn.Module):
    """One step of recurrent adaptive LIF neurons: x (B, I), state (V, a, z) each (B, H) -> spikes z (B, H), state.

    V' = alpha V + (1 - alpha) (W_in x + W_rec z) - z A, a' = rho a + (1 - rho) z, A = b0 + beta a:
    each spike subtracts the threshold it crossed and raises the next one."""

    def __init__(self, inputs, hidden, tau_mem=10.0, tau_adapt=40.0, threshold=0.05, beta=0.5, dampening=0.3):
        super().__init__()
        self.hidden = hidden
        self.input_weights = nn.Linear(inputs, hidden, bias=False)
        self.recurrent_weights = nn.Parameter(torch.randn(hidden, hidden) / math.sqrt(hidden))
        self.register_buffer("no_self_connections", 1 - torch.eye(hidden))
        self.alpha = math.exp(-1.0 / tau_mem)
        self.rho = math.exp(-1.0 / tau_adapt)
        self.threshold, self.beta, self.dampening = threshold, beta, dampening

    def init_state(self, batch_size):
        zeros = self.recurrent_weights.new_zeros(batch_size, self.hidden)
        return zeros, zeros, zeros

    def forward(self, x, state):
        v, a, z = state
        adaptive = self.threshold + self.beta * a
        recurrent = F.linear(z, self.recurrent_weights * self.no_self_connections)
        v = self.alpha * v + (1 - self.alpha) * (self.input_weights(x) + recurrent) - z.detach() * adaptive
        a = self.rho * a + (1 - self.rho) * z
        adaptive = self.threshold + self.beta * a
        z = PseudoDerivativeSpike.apply((v - adaptive) / adaptive, self.dampening)
        return z, (v, a, z)


class RecurrentSNN(nn.Module):
    """Input spikes (B, T, I) -> class scores (B, C) from a leaky read-out integrator, and the spike counts."""

    def __init__(self, inputs, hidden, classes, kappa=0.8):
        super().__init__()
        self.cell = ALIFCell(inputs, hidden)
        self.readout = nn.Linear(hidden, classes)
        self.kappa = kappa

    def forward(self, spikes_in, truncate=None):
        batch, steps, _ = spikes_in.shape
        state = self.cell.init_state(batch)
        out = spikes_in.new_zeros(batch, self.readout.out_features)
        total, counts = 0.0, 0.0
        for t in range(steps):
            if truncate is not None and t > 0 and t % truncate == 0:
                state = tuple(s.detach() for s in state)   # truncated BPTT: no gradient across this boundary
            z, state = self.cell(spikes_in[:, t], state)
            out = self.kappa * out + (1 - self.kappa) * self.readout(z)
            total = total + out
            counts = counts + z
        return total / steps, counts


def make_model(inputs, hidden, classes):
    return RecurrentSNN(inputs, hidden, classes)


def train(model, spikes_in, labels, steps, truncate=None, lr=1e-2):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for _ in range(steps):
        logits, counts = model(spikes_in, truncate=truncate)
        loss = F.cross_entropy(logits, labels) + 1e-3 * counts.mean()   # a light firing-rate penalty
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append((loss.item(), counts.sum().item()))
    return history
'''


LEARNED_OPTIMIZER = '''
def preprocess_gradients(grad, p=10.0):
    """Gradients (N, 1) -> (N, 2): (log|g| / p, sign g) where |g| >= e^-p, else (-1, e^p g) clamped to [-1, 1]."""
    large = (grad.abs() >= math.exp(-p)).to(grad.dtype)
    log_part = torch.log(grad.abs() + 1e-8) / p * large - (1 - large)
    sign_part = torch.sign(grad) * large + torch.clamp(math.exp(p) * grad, -1.0, 1.0) * (1 - large)
    return torch.cat((log_part, sign_part), dim=1)


class LSTMOptimizer(nn.Module):
    """The optimizee's gradient, one row per coordinate (N, 1), and the state -> the update (N, 1), the state."""

    def __init__(self, hidden_size=10, output_scale=0.1, preprocess=True):
        super().__init__()
        self.preprocess = preprocess
        self.cell1 = nn.LSTMCell(2 if preprocess else 1, hidden_size)
        self.cell2 = nn.LSTMCell(hidden_size, hidden_size)
        self.output = nn.Linear(hidden_size, 1)
        self.hidden_size, self.output_scale = hidden_size, output_scale

    def init_state(self, coordinates, like):
        zeros = like.new_zeros(coordinates, self.hidden_size)
        return (zeros, zeros), (zeros, zeros)

    def forward(self, grad, state):
        x = preprocess_gradients(grad) if self.preprocess else grad
        h1, c1 = self.cell1(x, state[0])
        h2, c2 = self.cell2(h1, state[1])
        return self.output(h2) * self.output_scale, ((h1, c1), (h2, c2))


def quadratic(W, y, theta):
    """Sum over the problems of ||W theta - y||^2: W (P, D, D), y and theta (P, D)."""
    residual = torch.bmm(W, theta.unsqueeze(2)).squeeze(2) - y
    return (residual ** 2).sum()


def make_model(hidden_size=10):
    return LSTMOptimizer(hidden_size)


def unroll(learner, W, y, unroll_steps=5, second_order=True):
    """The optimizee from theta = 0 through ``unroll_steps`` learned updates; the meta-loss sums f over them."""
    theta = torch.zeros(y.shape, dtype=y.dtype, requires_grad=True)
    state = learner.init_state(theta.numel(), y)
    meta_loss, losses = 0, []
    for _ in range(unroll_steps):
        loss = quadratic(W, y, theta)
        grad, = torch.autograd.grad(loss, theta, create_graph=second_order, retain_graph=True)
        update, state = learner(grad.reshape(-1, 1), state)
        theta = theta + update.view_as(theta)
        meta_loss = meta_loss + loss
        losses.append(loss.item())
    return meta_loss, losses, theta


def meta_train(learner, problems, second_order=True, lr=1e-2):
    meta_optimizer = torch.optim.Adam(learner.parameters(), lr=lr)
    history = []
    for W, y in problems:
        meta_loss, losses, theta = unroll(learner, W, y, second_order=second_order)
        meta_optimizer.zero_grad()
        meta_loss.backward()
        meta_optimizer.step()
        history.append([meta_loss.item()] + losses + [theta.detach().norm().item()])
    return history
'''


LSTM_AUTOENCODER = '''
class Encoder(nn.Module):
    """Sequences (B, T, F) -> the LSTM's last hidden state (B, E)."""

    def __init__(self, n_features, embedding_dim):
        super().__init__()
        self.rnn = nn.LSTM(n_features, embedding_dim, num_layers=1, batch_first=True)

    def forward(self, x):
        _, (hidden, _) = self.rnn(x)
        return hidden[-1]


class Decoder(nn.Module):
    """Codes (B, E) -> reconstructions (B, T, F): the code repeated over T, an LSTM, a linear read-out."""

    def __init__(self, seq_len, embedding_dim, n_features, repeat="repeat"):
        super().__init__()
        self.seq_len, self.repeat = seq_len, repeat
        self.rnn = nn.LSTM(embedding_dim, embedding_dim, num_layers=1, batch_first=True)
        self.output_layer = nn.Linear(embedding_dim, n_features)

    def forward(self, code):
        if self.repeat == "repeat":
            code = code.unsqueeze(1).repeat(1, self.seq_len, 1)
        else:
            code = code.unsqueeze(1).expand(-1, self.seq_len, -1)
        x, _ = self.rnn(code)
        return self.output_layer(x)


class RecurrentAutoencoder(nn.Module):
    def __init__(self, seq_len, n_features, embedding_dim=6, repeat="repeat"):
        super().__init__()
        self.encoder = Encoder(n_features, embedding_dim)
        self.decoder = Decoder(seq_len, embedding_dim, n_features, repeat)

    def forward(self, x):
        return self.decoder(self.encoder(x))


def make_model(seq_len, n_features, repeat="repeat"):
    return RecurrentAutoencoder(seq_len, n_features, repeat=repeat)


def train(model, sequences, epochs, batch_size=8, lr=1e-2):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    criterion = nn.MSELoss(reduction="mean")
    history = []
    for _ in range(epochs):
        model.train()
        epoch_losses = []
        for batch in torch.split(sequences, batch_size):
            optimizer.zero_grad()
            loss = criterion(model(batch), batch)
            loss.backward()
            optimizer.step()
            epoch_losses.append(loss.item())
        history.append(sum(epoch_losses) / len(epoch_losses))
    return history


def reconstruction_errors(model, sequences):
    """(B,) mean squared reconstruction error per sequence."""
    model.eval()
    with torch.no_grad():
        return ((model(sequences) - sequences) ** 2).mean(dim=(1, 2))


def detect(model, normal, test, q=0.9):
    threshold = torch.quantile(reconstruction_errors(model, normal), q)
    errors = reconstruction_errors(model, test)
    flags = errors > threshold
    return threshold.item(), errors.tolist(), flags.tolist(), int(flags.sum())
'''

PROGRAMS = (LEAKY_SNN, ALIF_RSNN, LEARNED_OPTIMIZER, LSTM_AUTOENCODER)


def _twins(source: str, *args: Any, **kwargs: Any) -> tuple:
    return _twin_models(source, *args, imports=IMPORTS, **kwargs)


def _shared_bernoulli_probabilities(monkeypatch: pytest.MonkeyPatch, torch: Any, seed: int) -> None:
    """``torch.bernoulli(probabilities)`` of both libraries compares, in call order, uniforms from one NumPy
    stream each of the same seed with the probabilities (a tensor of them, as snnTorch's rate coder passes)."""
    for lib in (torch, mg):
        rng = np.random.default_rng(seed)

        def bernoulli(input: Any, *args: Any, rng: np.random.Generator = rng, lib: Any = lib,  # noqa: A002
                      **kwargs: Any) -> Any:
            assert not args and not kwargs
            p = input.detach().numpy()
            return lib.from_numpy((rng.random(p.shape) < p).astype(p.dtype))

        monkeypatch.setattr(lib, "bernoulli", bernoulli)


def test_the_programs_differ_only_in_their_imports() -> None:
    assert TORCH_IMPORTS_SPIKING.count("\n") == MINIGRAD_IMPORTS_SPIKING.count("\n") == 4
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


def _assert_same_history(history: list, expected: list, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    np.testing.assert_allclose(np.array(history, dtype=np.float64), np.array(expected, dtype=np.float64),
                               rtol=rtol, atol=atol)


# ----------------------------------------------------------------------------- 1. leaky integrate-and-fire


def _intensity_classes(count: int, inputs: int, classes: int, seed: int) -> tuple:
    """Intensities (count, inputs) in [0, 1], the label lighting its own band of inputs brighter; labels int64."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, count)
    images = rng.random((count, inputs)) * 0.3
    band = inputs // classes
    for row, label in enumerate(labels):
        images[row, label * band:(label + 1) * band] += 0.6
    return images.astype(np.float32), labels.astype(np.int64)


@pytest.mark.parametrize("reset_mechanism", ["subtract", "zero"])
def test_leaky_snn_with_surrogate_gradient(torch: Any, monkeypatch: pytest.MonkeyPatch, reset_mechanism: str) -> None:
    images, labels = _intensity_classes(12, 16, 3, 0)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(LEAKY_SNN, 16, 20, 3, reset_mechanism)
    _shared_bernoulli_probabilities(monkeypatch, torch, 1)
    expected = torch_program["train"](torch_model, torch.from_numpy(images), torch.from_numpy(labels), 5)
    _shared_bernoulli_probabilities(monkeypatch, torch, 1)
    history = mg_program["train"](mg_model, mg.from_numpy(images), mg.from_numpy(labels), 5)
    assert [h[2] for h in history] == [h[2] for h in expected]   # the same spikes, step by step
    _assert_same_history(history, expected)
    _assert_same_weights(torch_model, mg_model, initial)
    assert mg_model.lif1.beta.requires_grad and mg_model.lif1.beta.grad is not None


# ----------------------------------------------------------------------------- 2. recurrent adaptive LIF


def _spike_patterns(count: int, steps: int, inputs: int, seed: int) -> tuple:
    """Input spikes (count, steps, inputs); class 0 fires early, class 1 late."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    rates = np.full((count, steps, inputs), 0.05)
    half = steps // 2
    for row, label in enumerate(labels):
        rates[row, half * label:half * (label + 1)] = 0.5
    return (rng.random(rates.shape) < rates).astype(np.float32), labels.astype(np.int64)


@pytest.mark.parametrize("truncate", [None, 4])
def test_alif_recurrent_snn(torch: Any, truncate: int | None) -> None:
    spikes, labels = _spike_patterns(8, 10, 6, 2)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(ALIF_RSNN, 6, 16, 2)
    expected = torch_program["train"](torch_model, torch.from_numpy(spikes), torch.from_numpy(labels), 4, truncate)
    history = mg_program["train"](mg_model, mg.from_numpy(spikes), mg.from_numpy(labels), 4, truncate)
    assert [h[1] for h in history] == [h[1] for h in expected]
    assert sum(h[1] for h in history) > 0   # the network fires (so the pseudo-derivative carries gradient)
    _assert_same_history(history, expected)
    _assert_same_weights(torch_model, mg_model, initial)


# ----------------------------------------------------------------------------- 3. learning to learn


def _quadratics(count: int, problems: int, dim: int, seed: int, dtype: str) -> list:
    rng = np.random.default_rng(seed)
    return [((rng.standard_normal((problems, dim, dim)) / np.sqrt(dim)).astype(dtype),
             rng.standard_normal((problems, dim)).astype(dtype)) for _ in range(count)]


@pytest.mark.parametrize(("second_order", "dtype"), [(True, "float32"), (False, "float64")])
def test_learning_to_learn_lstm_optimizer(torch: Any, second_order: bool, dtype: str) -> None:
    problems = _quadratics(3, 3, 5, 3, dtype)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(LEARNED_OPTIMIZER)
    if dtype == "float64":
        torch_model.double()
        mg_model.double()
        initial = {k: v.double() for k, v in initial.items()}
    expected = torch_program["meta_train"](
        torch_model, [(torch.from_numpy(W), torch.from_numpy(y)) for W, y in problems], second_order)
    history = mg_program["meta_train"](
        mg_model, [(mg.from_numpy(W), mg.from_numpy(y)) for W, y in problems], second_order)
    _assert_same_history(history, expected, rtol=1e-5 if dtype == "float32" else 1e-10, atol=0)
    _assert_same_weights(torch_model, mg_model, initial)


def test_gradient_preprocessing_branches(torch: Any) -> None:
    """Both branches of the preprocessing (a tiny gradient takes the clamped e^p g), and a zero gradient."""
    grads = np.array([[3.0], [-2e-3], [1e-6], [-3e-5], [0.0]], dtype=np.float64)
    torch_program, _, mg_program, _, _ = _twins(LEARNED_OPTIMIZER)
    theirs = torch_program["preprocess_gradients"](torch.from_numpy(grads)).numpy()
    ours = mg_program["preprocess_gradients"](mg.from_numpy(grads))
    assert ours.dtype == mg.float64
    np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-12)


# ----------------------------------------------------------------------------- 4. LSTM autoencoder


def _sine_sequences(count: int, steps: int, seed: int, anomalies: int = 0) -> np.ndarray:
    """(count, steps, 1) noisy sines of random phase; the first ``anomalies`` rows carry a spike and a flat run."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps)
    x = np.sin(0.6 * t + rng.random((count, 1)) * 2 * np.pi) + 0.05 * rng.standard_normal((count, steps))
    for row in range(anomalies):
        x[row, steps // 2] += 3.0
        x[row, -4:] = 1.5
    return x[..., None].astype(np.float32)


@pytest.mark.parametrize("repeat", ["repeat", "expand"])
def test_lstm_autoencoder_anomaly_detection(torch: Any, repeat: str) -> None:
    steps = 8
    normal = _sine_sequences(16, steps, 4)
    test = np.concatenate([_sine_sequences(4, steps, 5, anomalies=4), _sine_sequences(6, steps, 6)])
    torch_program, torch_model, mg_program, mg_model, initial = _twins(LSTM_AUTOENCODER, steps, 1, repeat)
    expected = torch_program["train"](torch_model, torch.from_numpy(normal), 3)
    losses = mg_program["train"](mg_model, mg.from_numpy(normal), 3)
    np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-7)
    _assert_same_weights(torch_model, mg_model, initial)
    threshold, errors, flags, flagged = mg_program["detect"](mg_model, mg.from_numpy(normal), mg.from_numpy(test))
    t_threshold, t_errors, t_flags, t_flagged = torch_program["detect"](
        torch_model, torch.from_numpy(normal), torch.from_numpy(test))
    assert threshold == pytest.approx(t_threshold, rel=1e-5)
    np.testing.assert_allclose(errors, t_errors, rtol=1e-5)
    assert flags == t_flags and flagged == t_flagged
    assert all(flags[:4])   # the spiked and flattened sequences are the ones flagged


def test_a_gradient_for_a_non_tensor_argument_raises_as_in_torch(torch: Any) -> None:
    """A surrogate whose backward returns a gradient for its float ``slope`` argument (instead of None) is a bug
    that torch reports; minigrad used to drop that gradient silently."""
    for lib in (torch, mg):
        class Spike(lib.autograd.Function):
            @staticmethod
            def forward(ctx: Any, x: Any, slope: float) -> Any:
                ctx.save_for_backward(x)
                return (x > 0).float()

            @staticmethod
            def backward(ctx: Any, grad: Any) -> Any:
                (x,) = ctx.saved_tensors
                return grad / (1 + x.abs()) ** 2, grad.sum()

        x = lib.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="position 2, but the corresponding forward input was not a"):
            Spike.apply(x, 10.0).sum().backward()
