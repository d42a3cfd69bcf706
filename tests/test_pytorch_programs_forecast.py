"""Four probabilistic and deep forecasting programs, small, run unchanged on minigrad: only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch program: it keeps the original's PyTorch calls
and habits in the same roles, with our own names, structure and comments, a small model, a few steps and
generated data (the helpers and the rule come from tests/test_pytorch_programs.py):

* ``DEEPAR`` follows DeepAR as GluonTS's and pytorch-forecasting's PyTorch versions write it
  (https://github.com/awslabs/gluonts, https://github.com/sktime/pytorch-forecasting): lagged scaled targets
  stacked from strided slices, covariates, a series ``nn.Embedding`` and the log of the series' mean scale
  (``abs().mean(dim=1, keepdim=True).clamp(min=1.0)``) read by ``nn.LSTM(batch_first=True, num_layers=2,
  dropout=0.0)``; a Gaussian head (``Normal(loc * scale, softplus(.) * scale)``) or a negative-binomial one
  (``NegativeBinomial(total_count=1 / alpha, logits=log(mu * alpha))``) trained by ``-log_prob(...).mean()``
  with teacher forcing, Adam and ``clip_grad_norm_``; the forecast runs the LSTM over the context, repeats
  the state with ``repeat_interleave`` once per sample path and draws each step ancestrally with
  ``distribution.sample()`` fed back as the next lag, then reads ``torch.quantile`` over the paths;
* ``NBEATS`` follows ElementAI's N-BEATS (https://github.com/ServiceNow/N-BEATS): fully connected blocks
  whose ``theta`` is expanded by a generic, a polynomial-trend (a fixed ``(degree + 1, T)`` matrix of
  ``t ** i``, kept as ``nn.Parameter(requires_grad=False)`` as the original does) or a Fourier-seasonality
  basis (``cos``/``sin`` of ``2 pi f t`` in buffers), read by ``einsum`` and ``@``; doubly residual stacking
  over the time-reversed input (``flip(dims=(1,))``) under an input mask; the MASE and sMAPE losses written
  by hand with ``divide_no_nan`` (NaN and inf set to 0 through boolean-mask assignment); Adam whose
  ``param_groups`` learning rate is halved every few steps;
* ``SEQ2SEQ_QUANTILES`` is the common encoder-decoder forecaster: an ``nn.GRU`` encoder, an ``nn.GRUCell``
  decoder in a Python loop with dot-product attention over the encoder outputs (``bmm`` + ``softmax``),
  scheduled sampling (``torch.rand(1).item() < teacher_forcing_ratio``, the ratio decaying as an inverse
  sigmoid of the step) between the truth and the model's own median, and the pinball loss over several
  quantiles (``torch.max((q - 1) * e, q * e)``);
* ``TFT`` follows the Temporal Fusion Transformer of pytorch-forecasting (and Lim et al.'s reference code):
  gated residual networks with ``F.glu`` gates, ``nn.ELU`` and ``LayerNorm`` (a skip connection that changes
  size is resampled by ``F.interpolate(mode="linear", align_corners=True)`` under a trainable sigmoid gate),
  variable selection networks
  (prescaling ``Linear(1, h)``, softmax weights from a GRN over the flattened inputs, per-variable GRNs,
  ``stack`` and weighted ``sum``), static context vectors that start an ``nn.LSTM`` encoder (run on a
  ``pack_padded_sequence(enforce_sorted=False)`` of unequal encoder lengths) and an LSTM decoder, interpretable
  multi-head attention (one value projection shared by all heads, heads averaged) under a mask made of the
  encoder's padding and a causal ``triu`` mask, and a quantile output.

Random draws the two engines make differently are given the same numbers (``_shared_draws`` of
tests/test_pytorch_programs_generative.py; torch's ``Normal.sample`` draws through ``torch.normal``, which is
routed to the same stream here), so the forecast samples and the scheduled-sampling coins are compared exactly.

What they found: ``torch.quantile`` (DeepAR's forecast) and ``F.glu`` (the TFT's gates) refused bad arguments
with minigrad's TypeError/ValueError where PyTorch raises RuntimeError; both now raise an error of both classes
(tests at the end of this file). A float64 input to a float32 ``nn.LSTM`` runs in float64 here where PyTorch
raises (DESIGN section 3: mixed dtypes follow NumPy's promotion, as ``nn.Linear`` does).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import MINIGRAD_IMPORTS, TORCH_IMPORTS, _assert_same_weights, _twin_models
from tests.test_pytorch_programs_generative import _shared_draws

TORCH_IMPORTS_FORECAST = TORCH_IMPORTS + """\
from torch.distributions import NegativeBinomial, Normal
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
"""

MINIGRAD_IMPORTS_FORECAST = MINIGRAD_IMPORTS + """\
from minigrad.distributions import NegativeBinomial, Normal
from minigrad.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
"""


DEEPAR = '''
class DeepAR(nn.Module):
    """An autoregressive LSTM forecaster. Each step reads the scaled target at a few lags, the step's
    covariates, the series' embedding and the log of its scale, and gives the distribution of the step's
    value in the original scale: Normal, or NegativeBinomial for counts."""

    def __init__(self, num_series, num_covariates, lags=(1, 2, 4), hidden_size=8, num_layers=2,
                 embedding_dim=2, likelihood="normal"):
        super().__init__()
        self.lags = list(lags)
        self.likelihood = likelihood
        self.embedding = nn.Embedding(num_series, embedding_dim)
        input_size = len(self.lags) + num_covariates + embedding_dim + 1
        self.rnn = nn.LSTM(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers,
                           batch_first=True, dropout=0.0)
        self.first_param = nn.Linear(hidden_size, 1)
        self.second_param = nn.Linear(hidden_size, 1)

    @property
    def history_length(self):
        return max(self.lags)

    def mean_scale(self, target, context_length):
        """target (B, L + ...): the mean absolute value of the context (B, 1), at least 1."""
        context = target[:, self.history_length:self.history_length + context_length]
        return context.abs().mean(dim=1, keepdim=True).clamp(min=1.0)

    def static_features(self, series_ids, scale):
        return torch.cat([self.embedding(series_ids), scale.log()], dim=-1)

    def features(self, scaled, covariates, static):
        """scaled (B, L + T): the scaled target with the L = max(lags) values before the window;
        covariates (B, T, K); static (B, S) -> inputs (B, T, len(lags) + K + S)."""
        length, start = covariates.size(1), self.history_length
        lagged = torch.stack([scaled[:, start - lag:start - lag + length] for lag in self.lags], dim=-1)
        return torch.cat([lagged, covariates, static.unsqueeze(1).expand(-1, length, -1)], dim=-1)

    def distribution(self, outputs, scale):
        """outputs (B, T, H), scale (B, 1) -> a distribution with batch shape (B, T)."""
        first = self.first_param(outputs).squeeze(-1)
        second = F.softplus(self.second_param(outputs).squeeze(-1))
        if self.likelihood == "normal":
            return Normal(first * scale, second * scale)
        mu = F.softplus(first) * scale
        alpha = (second + 1e-3) / scale.sqrt()
        return NegativeBinomial(total_count=1.0 / alpha, logits=torch.log(mu * alpha))

    def forward(self, target, covariates, series_ids, context_length):
        """Teacher forcing over a whole window: target (B, L + T), covariates (B, T, K), series_ids (B,)
        -> the distribution of the window's T values."""
        scale = self.mean_scale(target, context_length)
        inputs = self.features(target / scale, covariates, self.static_features(series_ids, scale))
        outputs, _ = self.rnn(inputs)
        return self.distribution(outputs, scale)


def make_model(num_series, num_covariates, likelihood):
    return DeepAR(num_series, num_covariates, likelihood=likelihood)


def train(model, batches, steps, context_length, lr=1e-2, clip=10.0):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    losses, norms = [], []
    model.train()
    for step in range(steps):
        target, covariates, series_ids = batches[step % len(batches)]
        target, covariates = torch.tensor(target), torch.tensor(covariates)
        distribution = model(target, covariates, torch.tensor(series_ids), context_length)
        loss = -distribution.log_prob(target[:, model.history_length:]).mean()
        optimizer.zero_grad()
        loss.backward()
        norms.append(float(nn.utils.clip_grad_norm_(model.parameters(), clip)))
        optimizer.step()
        losses.append(loss.item())
    return losses, norms


@torch.no_grad()
def forecast(model, past, covariates, series_ids, prediction_length, num_samples=4):
    """past (B, L + C) values, covariates (B, C + P, K) -> sample paths (B, num_samples, P) drawn one step at
    a time from the model's own draws (the mean path for counts), and their 10/50/90% quantiles (3, B, P)."""
    model.eval()
    past, covariates = torch.tensor(past), torch.tensor(covariates)
    context_length = past.size(1) - model.history_length
    scale = model.mean_scale(past, context_length)
    static = model.static_features(torch.tensor(series_ids), scale)
    scaled = past / scale
    _, state = model.rnn(model.features(scaled, covariates[:, :context_length], static))

    def repeat(x, dim=0):   # every series num_samples times, the sample paths side by side in the batch
        return x.repeat_interleave(num_samples, dim=dim)

    state = tuple(repeat(part, dim=1) for part in state)
    history, scale, static = repeat(scaled), repeat(scale), repeat(static)
    future = repeat(covariates[:, context_length:])
    for t in range(prediction_length):
        lagged = torch.stack([history[:, -lag] for lag in model.lags], dim=-1)
        step_input = torch.cat([lagged, future[:, t], static], dim=-1).unsqueeze(1)
        outputs, state = model.rnn(step_input, state)
        distribution = model.distribution(outputs, scale)
        value = distribution.sample() if model.likelihood == "normal" else distribution.mean
        history = torch.cat([history, value / scale], dim=1)
    paths = (history[:, -prediction_length:] * scale).view(-1, num_samples, prediction_length)
    quantiles = torch.quantile(paths, torch.tensor([0.1, 0.5, 0.9]), dim=1)
    return paths.numpy(), quantiles.numpy()
'''


NBEATS = '''
class NBeatsBlock(nn.Module):
    """A stack of ReLU layers reading the residual input (B, T_in), then theta (B, theta_size) expanded by
    the basis into a backcast (B, T_in) and a forecast (B, T_out)."""

    def __init__(self, input_size, theta_size, basis, layers=2, layer_size=16):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(input_size, layer_size)]
                                    + [nn.Linear(layer_size, layer_size) for _ in range(layers - 1)])
        self.basis_parameters = nn.Linear(layer_size, theta_size)
        self.basis = basis

    def forward(self, x):
        block_input = x
        for layer in self.layers:
            block_input = torch.relu(layer(block_input))
        return self.basis(self.basis_parameters(block_input))


class GenericBasis(nn.Module):
    def __init__(self, backcast_size, forecast_size):
        super().__init__()
        self.backcast_size, self.forecast_size = backcast_size, forecast_size

    def forward(self, theta):
        return theta[:, :self.backcast_size], theta[:, -self.forecast_size:]


class TrendBasis(nn.Module):
    """theta holds polynomial coefficients: forecast = theta[:, :p] @ [t ** i], backcast from the rest."""

    def __init__(self, degree, backcast_size, forecast_size):
        super().__init__()
        self.polynomial_size = degree + 1
        # fixed bases kept as parameters that need no gradient, as the original does (Adam skips them)
        self.backcast_time = nn.Parameter(self.powers(backcast_size), requires_grad=False)
        self.forecast_time = nn.Parameter(self.powers(forecast_size), requires_grad=False)

    def powers(self, size):
        t = torch.arange(size, dtype=torch.float32) / size
        return torch.stack([t ** i for i in range(self.polynomial_size)])

    def forward(self, theta):
        p = self.polynomial_size
        backcast = torch.einsum("bp,pt->bt", theta[:, p:], self.backcast_time)
        forecast = torch.einsum("bp,pt->bt", theta[:, :p], self.forecast_time)
        return backcast, forecast


class SeasonalityBasis(nn.Module):
    """theta holds Fourier coefficients: cos and sin of 2 pi f t for the frequencies 0 .. harmonics - 1."""

    def __init__(self, harmonics, backcast_size, forecast_size):
        super().__init__()
        frequency = torch.arange(harmonics, dtype=torch.float32).unsqueeze(1)
        for name, size in (("backcast", backcast_size), ("forecast", forecast_size)):
            grid = 2 * math.pi * frequency * torch.arange(size, dtype=torch.float32) / size
            self.register_buffer(name + "_cos", torch.cos(grid))
            self.register_buffer(name + "_sin", torch.sin(grid))
        self.harmonics = harmonics

    def forward(self, theta):
        cos_b, sin_b, cos_f, sin_f = theta.split(self.harmonics, dim=1)
        backcast = cos_b @ self.backcast_cos + sin_b @ self.backcast_sin
        forecast = cos_f @ self.forecast_cos + sin_f @ self.forecast_sin
        return backcast, forecast


class NBeats(nn.Module):
    def __init__(self, blocks):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x, input_mask):
        residuals = x.flip(dims=(1,))
        input_mask = input_mask.flip(dims=(1,))
        forecast = x[:, -1:]
        for block in self.blocks:
            backcast, block_forecast = block(residuals)
            residuals = (residuals - backcast) * input_mask
            forecast = forecast + block_forecast
        return forecast


def make_model(kind, input_size, output_size):
    if kind == "generic":
        return NBeats([NBeatsBlock(input_size, input_size + output_size, GenericBasis(input_size, output_size))
                       for _ in range(2)])
    degree, harmonics = 2, 3
    trend = NBeatsBlock(input_size, 2 * (degree + 1), TrendBasis(degree, input_size, output_size))
    seasonality = NBeatsBlock(input_size, 4 * harmonics, SeasonalityBasis(harmonics, input_size, output_size))
    return NBeats([trend, seasonality])


def divide_no_nan(a, b):
    """a / b with 0 where the quotient is NaN or infinite (0 / 0, x / 0)."""
    result = a / b
    result[result != result] = 0.0
    result[result == float("inf")] = 0.0
    return result


def smape_loss(forecast, target, mask):
    return 200 * torch.mean(divide_no_nan(torch.abs(forecast - target),
                                          torch.abs(forecast.detach()) + torch.abs(target.detach())) * mask)


def mase_loss(insample, freq, forecast, target, mask):
    masep = torch.mean(torch.abs(insample[:, freq:] - insample[:, :-freq]), dim=1)
    masked_masep_inv = divide_no_nan(mask, masep[:, None])
    return torch.mean(torch.abs(target - forecast) * masked_masep_inv)


def train(model, batches, steps, loss_name, lr=1e-3, freq=2, lr_decay_step=2):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    losses = []
    model.train()
    for step in range(steps):
        for param_group in optimizer.param_groups:
            param_group["lr"] = lr * 0.5 ** (step // lr_decay_step)
        x, x_mask, y, y_mask = (torch.tensor(a) for a in batches[step % len(batches)])
        forecast = model(x, x_mask)
        if loss_name == "MASE":
            loss = mase_loss(x, freq, forecast, y, y_mask)
        else:
            loss = smape_loss(forecast, y, y_mask)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    x, x_mask = torch.tensor(batches[0][0]), torch.tensor(batches[0][1])
    with torch.no_grad():
        return losses, model(x, x_mask).numpy()
'''


SEQ2SEQ_QUANTILES = '''
class Encoder(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.gru = nn.GRU(input_size, hidden_size, batch_first=True)

    def forward(self, x):
        return self.gru(x)   # outputs (B, T, H), last state (1, B, H)


class AttentionDecoder(nn.Module):
    """One step: dot-product attention of the state over the encoder outputs, a GRUCell fed the previous
    value and the context, and the step's quantiles."""

    def __init__(self, hidden_size, num_quantiles):
        super().__init__()
        self.query = nn.Linear(hidden_size, hidden_size, bias=False)
        self.cell = nn.GRUCell(1 + hidden_size, hidden_size)
        self.out = nn.Linear(2 * hidden_size, num_quantiles)

    def forward(self, previous, hidden, encoder_outputs):
        scores = torch.bmm(encoder_outputs, self.query(hidden).unsqueeze(2)).squeeze(2)
        weights = F.softmax(scores / math.sqrt(hidden.size(-1)), dim=1)
        context = torch.bmm(weights.unsqueeze(1), encoder_outputs).squeeze(1)
        hidden = self.cell(torch.cat([previous, context], dim=1), hidden)
        return self.out(torch.cat([hidden, context], dim=1)), hidden, weights


class Seq2SeqForecaster(nn.Module):
    def __init__(self, input_size, hidden_size, quantiles):
        super().__init__()
        self.quantiles = quantiles
        self.median = quantiles.index(0.5)
        self.encoder = Encoder(input_size, hidden_size)
        self.decoder = AttentionDecoder(hidden_size, len(quantiles))

    def forward(self, past, horizon, future=None, teacher_forcing_ratio=0.0):
        """past (B, T, I) with the target in channel 0, future (B, horizon) -> quantiles (B, horizon, Q)."""
        encoder_outputs, hidden = self.encoder(past)
        hidden = hidden[0]
        previous = past[:, -1, :1]
        outputs, attentions = [], []
        for t in range(horizon):
            prediction, hidden, weights = self.decoder(previous, hidden, encoder_outputs)
            outputs.append(prediction)
            attentions.append(weights)
            teacher_force = future is not None and torch.rand(1).item() < teacher_forcing_ratio
            previous = future[:, t:t + 1] if teacher_force else prediction[:, self.median:self.median + 1]
        return torch.stack(outputs, dim=1), torch.stack(attentions, dim=1)


def quantile_loss(prediction, target, quantiles):
    """Pinball loss: prediction (B, P, Q), target (B, P)."""
    q = torch.tensor(quantiles)
    errors = target.unsqueeze(-1) - prediction
    return torch.max((q - 1) * errors, q * errors).mean()


def make_model(input_size, quantiles):
    return Seq2SeqForecaster(input_size, 8, list(quantiles))


def inverse_sigmoid_decay(step, k=3.0):
    return k / (k + math.exp(step / k))


def train(model, batches, steps, lr=5e-3):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    losses, ratios = [], []
    model.train()
    for step in range(steps):
        past, future = (torch.tensor(a) for a in batches[step % len(batches)])
        ratio = inverse_sigmoid_decay(step)
        prediction, _ = model(past, future.size(1), future, ratio)
        loss = quantile_loss(prediction, future, model.quantiles)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        ratios.append(ratio)
    return losses, ratios


@torch.no_grad()
def predict(model, past, horizon):
    model.eval()
    prediction, attention = model(torch.tensor(past), horizon)
    return prediction.numpy(), attention.numpy()
'''


TFT = '''
class GatedLinearUnit(nn.Module):
    def __init__(self, input_size, output_size, dropout=0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(input_size, output_size * 2)

    def forward(self, x):
        return F.glu(self.fc(self.dropout(x)), dim=-1)


class GateAddNorm(nn.Module):
    def __init__(self, input_size, output_size):
        super().__init__()
        self.glu = GatedLinearUnit(input_size, output_size)
        self.norm = nn.LayerNorm(output_size)

    def forward(self, x, skip):
        return self.norm(self.glu(x) + skip)


class ResampleNorm(nn.Module):
    """(..., input_size) linearly interpolated to (..., output_size), scaled by a trainable gate in (0, 2), then
    LayerNorm: the GRN's skip connection where the sizes differ."""

    def __init__(self, input_size, output_size):
        super().__init__()
        self.output_size = output_size
        self.mask = nn.Parameter(torch.zeros(output_size, dtype=torch.float))
        self.gate = nn.Sigmoid()
        self.norm = nn.LayerNorm(output_size)

    def interpolate(self, x):
        flat = x.contiguous().view(-1, x.size(-1))
        resized = F.interpolate(flat.unsqueeze(1), self.output_size, mode="linear", align_corners=True).squeeze(1)
        return resized.view(*x.shape[:-1], self.output_size)

    def forward(self, x):
        return self.norm(self.interpolate(x) * self.gate(self.mask) * 2.0)


class GatedResidualNetwork(nn.Module):
    """LayerNorm(skip(x) + GLU(W2 ELU(W1 x + Wc context))): (..., input_size) -> (..., output_size)."""

    def __init__(self, input_size, hidden_size, output_size, context_size=None):
        super().__init__()
        self.skip = ResampleNorm(input_size, output_size) if input_size != output_size else None
        self.fc1 = nn.Linear(input_size, hidden_size)
        self.context = nn.Linear(context_size, hidden_size, bias=False) if context_size else None
        self.elu = nn.ELU()
        self.fc2 = nn.Linear(hidden_size, hidden_size)
        self.gate_norm = GateAddNorm(hidden_size, output_size)

    def forward(self, x, context=None):
        residual = self.skip(x) if self.skip is not None else x
        hidden = self.fc1(x)
        if context is not None:
            hidden = hidden + self.context(context)
        hidden = self.fc2(self.elu(hidden))
        return self.gate_norm(hidden, residual)


class VariableSelectionNetwork(nn.Module):
    """Real variables (..., V) each prescaled to (..., h), weighted by softmax weights (..., 1, V) from a GRN
    over all of them and summed after their own GRNs: (..., hidden_size)."""

    def __init__(self, num_variables, prescale_size, hidden_size, context_size=None):
        super().__init__()
        self.prescalers = nn.ModuleList([nn.Linear(1, prescale_size) for _ in range(num_variables)])
        self.flattened_grn = GatedResidualNetwork(num_variables * prescale_size, hidden_size, num_variables,
                                                  context_size)
        self.single_grns = nn.ModuleList([GatedResidualNetwork(prescale_size, hidden_size, hidden_size)
                                          for _ in range(num_variables)])

    def forward(self, x, context=None):
        embeddings = [prescale(x[..., i:i + 1]) for i, prescale in enumerate(self.prescalers)]
        weights = F.softmax(self.flattened_grn(torch.cat(embeddings, dim=-1), context), dim=-1).unsqueeze(-2)
        transformed = torch.stack([grn(e) for grn, e in zip(self.single_grns, embeddings)], dim=-1)
        return (transformed * weights).sum(dim=-1), weights.squeeze(-2)


class InterpretableMultiHeadAttention(nn.Module):
    """Per-head queries and keys, one value projection shared by all heads, the heads averaged."""

    def __init__(self, n_head, d_model):
        super().__init__()
        self.d_k = d_model // n_head
        self.v_layer = nn.Linear(d_model, self.d_k)
        self.q_layers = nn.ModuleList([nn.Linear(d_model, self.d_k) for _ in range(n_head)])
        self.k_layers = nn.ModuleList([nn.Linear(d_model, self.d_k) for _ in range(n_head)])
        self.w_h = nn.Linear(self.d_k, d_model, bias=False)

    def forward(self, q, k, v, mask):
        values = self.v_layer(v)
        heads, attentions = [], []
        for q_layer, k_layer in zip(self.q_layers, self.k_layers):
            scores = torch.bmm(q_layer(q), k_layer(k).permute(0, 2, 1))
            scores = scores / torch.sqrt(torch.tensor(self.d_k, dtype=scores.dtype))
            attention = F.softmax(scores.masked_fill(mask, -1e9), dim=2)
            heads.append(torch.bmm(attention, values))
            attentions.append(attention)
        head = torch.stack(heads, dim=2)
        return self.w_h(torch.mean(head, dim=2)), torch.stack(attentions, dim=2)


class TemporalFusionTransformer(nn.Module):
    def __init__(self, num_static, num_encoder_vars, num_decoder_vars, hidden_size=8, n_head=2,
                 quantiles=(0.1, 0.5, 0.9)):
        super().__init__()
        self.quantiles = list(quantiles)
        self.static_selection = VariableSelectionNetwork(num_static, 4, hidden_size)
        self.encoder_selection = VariableSelectionNetwork(num_encoder_vars, 4, hidden_size, hidden_size)
        self.decoder_selection = VariableSelectionNetwork(num_decoder_vars, 4, hidden_size, hidden_size)
        self.static_context_selection = GatedResidualNetwork(hidden_size, hidden_size, hidden_size)
        self.static_context_hidden = GatedResidualNetwork(hidden_size, hidden_size, hidden_size)
        self.static_context_cell = GatedResidualNetwork(hidden_size, hidden_size, hidden_size)
        self.static_enrichment_context = GatedResidualNetwork(hidden_size, hidden_size, hidden_size)
        self.lstm_encoder = nn.LSTM(hidden_size, hidden_size, batch_first=True)
        self.lstm_decoder = nn.LSTM(hidden_size, hidden_size, batch_first=True)
        self.post_lstm_gate = GateAddNorm(hidden_size, hidden_size)
        self.static_enrichment = GatedResidualNetwork(hidden_size, hidden_size, hidden_size, hidden_size)
        self.attention = InterpretableMultiHeadAttention(n_head, hidden_size)
        self.post_attention_gate = GateAddNorm(hidden_size, hidden_size)
        self.positionwise = GatedResidualNetwork(hidden_size, hidden_size, hidden_size)
        self.pre_output_gate = GateAddNorm(hidden_size, hidden_size)
        self.output_layer = nn.Linear(hidden_size, len(self.quantiles))

    def attention_mask(self, encoder_lengths, encoder_length, decoder_length):
        """True where a decoder step may not look: padding after each encoder's end, and later decoder steps."""
        causal = torch.triu(torch.ones(decoder_length, decoder_length, dtype=torch.bool), diagonal=1)
        padding = torch.arange(encoder_length).unsqueeze(0) >= encoder_lengths.unsqueeze(1)
        batch = encoder_lengths.size(0)
        return torch.cat([padding.unsqueeze(1).expand(-1, decoder_length, -1),
                          causal.unsqueeze(0).expand(batch, -1, -1)], dim=2)

    def forward(self, static, encoder_x, decoder_x, encoder_lengths):
        """static (B, S), encoder_x (B, Te, Ve) right-padded to the longest of encoder_lengths (B,),
        decoder_x (B, Td, Vd) -> quantiles (B, Td, Q), attention (B, Td, heads, Te + Td)."""
        encoder_length, decoder_length = encoder_x.size(1), decoder_x.size(1)
        static_embedding, static_weights = self.static_selection(static)
        selection_context = self.static_context_selection(static_embedding)
        encoder_input, _ = self.encoder_selection(
            encoder_x, selection_context.unsqueeze(1).expand(-1, encoder_length, -1))
        decoder_input, _ = self.decoder_selection(
            decoder_x, selection_context.unsqueeze(1).expand(-1, decoder_length, -1))
        state = (self.static_context_hidden(static_embedding).unsqueeze(0),
                 self.static_context_cell(static_embedding).unsqueeze(0))
        packed = pack_padded_sequence(encoder_input, encoder_lengths, batch_first=True, enforce_sorted=False)
        packed_output, state = self.lstm_encoder(packed, state)
        encoder_output, _ = pad_packed_sequence(packed_output, batch_first=True, total_length=encoder_length)
        decoder_output, _ = self.lstm_decoder(decoder_input, state)
        lstm_output = torch.cat([encoder_output, decoder_output], dim=1)
        embeddings = torch.cat([encoder_input, decoder_input], dim=1)
        lstm_output = self.post_lstm_gate(lstm_output, embeddings)
        enrichment = self.static_enrichment_context(static_embedding)
        enriched = self.static_enrichment(lstm_output,
                                          enrichment.unsqueeze(1).expand(-1, lstm_output.size(1), -1))
        mask = self.attention_mask(encoder_lengths, encoder_length, decoder_length)
        attended, attention = self.attention(enriched[:, encoder_length:], enriched, enriched, mask)
        attended = self.post_attention_gate(attended, enriched[:, encoder_length:])
        output = self.pre_output_gate(self.positionwise(attended), lstm_output[:, encoder_length:])
        return self.output_layer(output), attention, static_weights


def quantile_loss(prediction, target, quantiles):
    errors = target.unsqueeze(-1) - prediction
    q = torch.tensor(quantiles)
    return torch.max((q - 1) * errors, q * errors).mean()


def make_model(num_static, num_encoder_vars, num_decoder_vars):
    return TemporalFusionTransformer(num_static, num_encoder_vars, num_decoder_vars)


def train(model, batches, steps, lr=1e-2):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    losses = []
    model.train()
    for step in range(steps):
        static, encoder_x, decoder_x, lengths, target = batches[step % len(batches)]
        prediction, _, _ = model(torch.tensor(static), torch.tensor(encoder_x), torch.tensor(decoder_x),
                                 torch.tensor(lengths))
        loss = quantile_loss(prediction, torch.tensor(target), model.quantiles)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 0.1)
        optimizer.step()
        losses.append(loss.item())
    return losses


@torch.no_grad()
def interpret(model, batch):
    model.eval()
    static, encoder_x, decoder_x, lengths, _ = batch
    prediction, attention, static_weights = model(torch.tensor(static), torch.tensor(encoder_x),
                                                  torch.tensor(decoder_x), torch.tensor(lengths))
    return prediction.numpy(), attention.mean(dim=(0, 2)).numpy(), static_weights.numpy()
'''

PROGRAMS = (DEEPAR, NBEATS, SEQ2SEQ_QUANTILES, TFT)


def _twins(source: str, *args: Any) -> tuple:
    """Both programs and their ``make_model(*args)``, minigrad's loaded with torch's initial weights."""
    return _twin_models(source, *args, imports=(TORCH_IMPORTS_FORECAST, MINIGRAD_IMPORTS_FORECAST))


def test_the_programs_differ_only_in_their_imports() -> None:
    assert TORCH_IMPORTS_FORECAST.count("\n") == MINIGRAD_IMPORTS_FORECAST.count("\n") == 7
    for torch_line, mg_line in zip(TORCH_IMPORTS_FORECAST.splitlines()[5:],
                                   MINIGRAD_IMPORTS_FORECAST.splitlines()[5:]):
        assert torch_line.replace("torch", "minigrad") == mg_line
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


def _shared_forecast_draws(monkeypatch: pytest.MonkeyPatch, torch: Any, seed: int) -> None:
    """``_shared_draws`` for both engines, and torch's ``torch.normal(mean, std)`` (where its
    ``Normal.sample`` draws) read from the same stream as ``mean + std * randn`` (minigrad's ``rsample``)."""
    _shared_draws(monkeypatch, torch, seed)
    randn = torch.randn

    def normal(mean: Any, std: Any, **kwargs: Any) -> Any:
        assert not kwargs and isinstance(mean, torch.Tensor) and mean.shape == std.shape
        return mean + randn(*mean.shape, dtype=mean.dtype) * std

    monkeypatch.setattr(torch, "normal", normal)


# ----------------------------------------------------------------------------- 1. DeepAR


def _deepar_batches(count: int, batch_size: int, history: int, window: int, num_series: int, counts: bool,
                    seed: int) -> list:
    """(target (B, history + window), covariates (B, window, 2), series ids (B,)): a daily-like seasonal
    level per series, Poisson counts or Gaussian noise around it; covariates are sin/cos of the step."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        ids = rng.integers(0, num_series, batch_size)
        start = rng.integers(0, 20, batch_size)[:, None]
        steps = start + np.arange(history + window)
        level = (3.0 + 2.0 * ids)[:, None] * (1.5 + np.sin(2 * np.pi * steps / 7))
        target = rng.poisson(level) if counts else level + rng.standard_normal(level.shape)
        phase = 2 * np.pi * steps[:, history:] / 7
        covariates = np.stack([np.sin(phase), np.cos(phase)], axis=-1)
        batches.append((target.astype(np.float32), covariates.astype(np.float32), ids.astype(np.int64)))
    return batches


@pytest.mark.parametrize("likelihood", ["normal", "negative_binomial"])
def test_deepar_with_teacher_forcing_and_ancestral_sampling(likelihood: str, torch: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    history, context, horizon, num_series = 4, 6, 3, 3
    counts = likelihood != "normal"
    batches = _deepar_batches(2, 4, history, context + horizon, num_series, counts, seed=10)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(DEEPAR, num_series, 2, likelihood)
    expected = torch_program["train"](torch_model, batches, 4, context)
    losses, norms = mg_program["train"](mg_model, batches, 4, context)
    np.testing.assert_allclose(losses, expected[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(norms, expected[1], rtol=1e-5, atol=1e-6)
    _assert_same_weights(torch_model, mg_model, initial)
    target, covariates, ids = batches[0]
    past = target[:, :history + context]
    _shared_forecast_draws(monkeypatch, torch, seed=11)   # each engine reads its own stream of one seed
    expected_paths, expected_quantiles = torch_program["forecast"](torch_model, past, covariates, ids, horizon)
    paths, quantiles = mg_program["forecast"](mg_model, past, covariates, ids, horizon)
    assert paths.shape == (4, 4, horizon) and quantiles.shape == (3, 4, horizon)
    np.testing.assert_allclose(paths, expected_paths, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(quantiles, expected_quantiles, rtol=1e-5, atol=1e-5)
    # the Gaussian paths differ sample by sample; the count model's mean paths are the same for each sample
    assert (np.ptp(paths, axis=1).min() > 0) == (likelihood == "normal")


# ----------------------------------------------------------------------------- 2. N-BEATS


def _nbeats_batches(count: int, batch_size: int, input_size: int, output_size: int, seed: int) -> list:
    """(x, x_mask, y, y_mask) float32 windows of trend + season + noise; the first row of each batch is flat
    over its input (its MASE scale is 0, so divide_no_nan meets 0/0 and x/0), the second has padded
    (masked, zero) early inputs and a masked last target."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        t = rng.integers(0, 30, batch_size)[:, None] + np.arange(input_size + output_size)
        series = 5 + 0.1 * t + np.sin(2 * np.pi * t / 4) + 0.1 * rng.standard_normal(t.shape)
        series[0, :input_size] = 3.0
        x, y = series[:, :input_size], series[:, input_size:]
        x_mask, y_mask = np.ones_like(x), np.ones_like(y)
        x[1, :2] = x_mask[1, :2] = y_mask[1, -1] = 0.0
        batches.append(tuple(a.astype(np.float32) for a in (x, x_mask, y, y_mask)))
    return batches


@pytest.mark.parametrize(("kind", "loss_name"), [("generic", "MASE"), ("interpretable", "SMAPE")])
def test_nbeats_generic_and_interpretable_with_hand_written_losses(kind: str, loss_name: str, torch: Any) -> None:
    input_size, output_size = 8, 4
    batches = _nbeats_batches(2, 4, input_size, output_size, seed=20)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(NBEATS, kind, input_size, output_size)
    expected, expected_forecast = torch_program["train"](torch_model, batches, 4, loss_name)
    losses, forecast = mg_program["train"](mg_model, batches, 4, loss_name)
    np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-6)
    assert np.isfinite(losses).all()
    assert forecast.shape == (4, output_size) and forecast.dtype == np.float32
    np.testing.assert_allclose(forecast, expected_forecast, rtol=1e-5, atol=1e-5)
    _assert_same_weights(torch_model, mg_model, initial)


# ----------------------------------------------------------------------------- 3. seq2seq with quantiles


def _seq2seq_batches(count: int, batch_size: int, length: int, horizon: int, seed: int) -> list:
    """(past (B, length, 2): the value and a step-of-week feature, future (B, horizon)) float32."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        t = rng.integers(0, 30, batch_size)[:, None] + np.arange(length + horizon)
        values = np.sin(2 * np.pi * t / 6) + 0.2 * rng.standard_normal(t.shape)
        past = np.stack([values[:, :length], (t[:, :length] % 6) / 6.0], axis=-1)
        batches.append((past.astype(np.float32), values[:, length:].astype(np.float32)))
    return batches


def test_seq2seq_gru_attention_with_scheduled_sampling_and_pinball_loss(torch: Any,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    quantiles = (0.1, 0.5, 0.9)
    batches = _seq2seq_batches(2, 4, 6, 3, seed=30)
    _shared_draws(monkeypatch, torch, seed=31)   # the teacher-forcing coins: one torch.rand(1) per step
    torch_program, torch_model, mg_program, mg_model, initial = _twins(SEQ2SEQ_QUANTILES, 2, quantiles)
    expected, expected_ratios = torch_program["train"](torch_model, batches, 5)
    losses, ratios = mg_program["train"](mg_model, batches, 5)
    np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-6)
    assert ratios == pytest.approx(expected_ratios) and ratios[0] > 0.5 > ratios[-1]
    _assert_same_weights(torch_model, mg_model, initial)
    prediction, attention = mg_program["predict"](mg_model, batches[0][0], 4)
    expected_prediction, expected_attention = torch_program["predict"](torch_model, batches[0][0], 4)
    assert prediction.shape == (4, 4, 3) and attention.shape == (4, 4, 6)
    np.testing.assert_allclose(prediction, expected_prediction, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(attention, expected_attention, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(attention.sum(-1), 1.0, rtol=1e-5)


# ----------------------------------------------------------------------------- 4. Temporal Fusion Transformer


def _tft_batches(count: int, batch_size: int, encoder_length: int, decoder_length: int, seed: int) -> list:
    """(static (B, 3), encoder_x (B, Te, 4) right-padded with zeros, decoder_x (B, Td, 3), encoder lengths (B,)
    int64, target (B, Td)) float32: a seasonal value whose level the first static variable sets."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        static = rng.standard_normal((batch_size, 3))
        t = rng.integers(0, 30, batch_size)[:, None] + np.arange(encoder_length + decoder_length)
        season = np.sin(2 * np.pi * t / 5)
        values = static[:, :1] + season + 0.1 * rng.standard_normal(t.shape)
        known = np.stack([season, np.cos(2 * np.pi * t / 5), (t % 5) / 5.0], axis=-1)
        encoder_x = np.concatenate([values[:, :encoder_length, None], known[:, :encoder_length]], axis=-1)
        lengths = rng.integers(encoder_length - 2, encoder_length + 1, batch_size)
        lengths[0] = encoder_length
        for row, length in enumerate(lengths):
            encoder_x[row, length:] = 0.0
        batches.append((static.astype(np.float32), encoder_x.astype(np.float32),
                        known[:, encoder_length:].astype(np.float32), lengths.astype(np.int64),
                        values[:, encoder_length:].astype(np.float32)))
    return batches


def test_temporal_fusion_transformer(torch: Any) -> None:
    # three variables in every selection network at least: its softmax weights come from a LayerNorm over one
    # value per variable, and a LayerNorm of two values is always (-1, 1) (a gradient of rounding noise only)
    batches = _tft_batches(2, 4, 5, 3, seed=40)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(TFT, 3, 4, 3)
    expected = torch_program["train"](torch_model, batches, 3)
    losses = mg_program["train"](mg_model, batches, 3)
    np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-6)
    # a key bias adds the same q . b to every score of a query, which softmax ignores: its true gradient is 0
    _assert_same_weights(torch_model, mg_model, initial,
                         noise_only=("attention.k_layers.0.bias", "attention.k_layers.1.bias"))
    prediction, attention, static_weights = mg_program["interpret"](mg_model, batches[1])
    expected_prediction, expected_attention, expected_static_weights = torch_program["interpret"](torch_model,
                                                                                                  batches[1])
    assert prediction.shape == (4, 3, 3) and attention.shape == (3, 5 + 3)
    np.testing.assert_allclose(prediction, expected_prediction, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(attention, expected_attention, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(static_weights, expected_static_weights, rtol=1e-5, atol=1e-6)
    # the causal mask: the first decoder step sees no later decoder step
    assert np.all(attention[0, 5 + 1:] == 0.0)


# ----------------------------------------------------------------------------- what the programs found


def _quantile_refusals(lib: Any) -> dict:
    """The calls quantile refuses, by what is wrong (the first: DeepAR's ``torch.quantile(paths, torch.tensor([...]))``
    on a float64 model, in both libraries)."""
    x = lib.zeros(4, 5)
    return {
        "q of another dtype": lambda: lib.quantile(x, lib.tensor([0.1, 0.9], dtype=lib.float64), dim=1),
        "integer input": lambda: lib.quantile(lib.tensor([1, 2]), 0.5),
        "empty input": lambda: lib.quantile(lib.zeros(0), 0.5),
        "unknown interpolation": lambda: lib.quantile(x, 0.5, interpolation="cubic"),
        "2-d q": lambda: lib.quantile(x, lib.full((2, 2), 0.5)),
        "q tensor out of range": lambda: lib.nanquantile(x, lib.tensor([1.5])),
        "q float out of range": lambda: x.quantile(-0.5),
    }


def test_quantile_refuses_with_torchs_runtime_error(torch: Any) -> None:
    import minigrad as mg  # noqa: PLC0415

    for case, ours in _quantile_refusals(mg).items():
        with pytest.raises(RuntimeError):
            _quantile_refusals(torch)[case]()
        with pytest.raises(RuntimeError, match="quantile"):   # and still the TypeError/ValueError it was
            ours()
    with pytest.raises(TypeError):
        _quantile_refusals(mg)["q of another dtype"]()
    with pytest.raises(ValueError):
        _quantile_refusals(mg)["q float out of range"]()


@pytest.mark.parametrize("shape", [(), (2, 3)])
def test_glu_of_an_odd_or_0d_size_raises_torchs_runtime_error(shape: tuple, torch: Any) -> None:
    import minigrad as mg  # noqa: PLC0415

    with pytest.raises(RuntimeError):
        torch.nn.functional.glu(torch.ones(shape))
    with pytest.raises(RuntimeError, match="glu"):   # and the ValueError it was
        mg.nn.functional.glu(mg.ones(shape))
    with pytest.raises(ValueError, match="glu"):
        mg.nn.functional.glu(mg.ones(shape))
