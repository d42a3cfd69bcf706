"""Four recurrent forecasting programs, small, run unchanged on minigrad: only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch program: it keeps the original's PyTorch calls
and habits in the same roles, with our own names, structure and comments, a small model, a few steps and
generated multivariate series (the helpers and the rule come from tests/test_pytorch_programs.py):

* ``LSTNET`` follows LSTNet (Lai et al. 2018, https://github.com/laiguokun/LSTNet): a ``Conv2d(1, C, (k, m))``
  over the (time, variables) window, ``torch.squeeze(c, 3)``, a ``nn.GRU`` over the conv features
  (``permute(2, 0, 1).contiguous()``), the skip-GRU over periodic slices (``c[:, :, -pt * skip:]``,
  ``view(B, C, pt, skip)``, ``permute(2, 0, 3, 1).contiguous()``, ``view(pt, B * skip, C)``), the highway
  autoregressive ``Linear(hw, 1)`` over ``x[:, -hw:, :].permute(0, 2, 1).contiguous().view(-1, hw)``, a
  ``torch.sigmoid`` output on max-normalised data, ``nn.L1Loss(reduction="sum")``, Adam with ``clip_grad_norm_``,
  and the RSE / CORR metrics of its evaluation (population ``std`` over the test rows);
* ``DA_RNN`` follows the dual-stage attention RNN (Qin et al. 2017) as its common PyTorch ports write it: an
  encoder whose input attention scores each driving series from ``[h.repeat(n, 1, 1).permute(1, 0, 2), c...,
  X.permute(0, 2, 1)]`` by a ``Linear``-``Tanh``-``Linear`` and ``F.softmax`` over the series, a decoder whose
  temporal attention scores the encoder states the same way and reads the context by ``torch.bmm``, both
  ``nn.LSTMCell`` stepped by hand, states written into ``new_zeros`` buffers by index assignment,
  ``nn.MSELoss``, Adam;
* ``MQ_RNN`` follows the multi-horizon quantile RNN (Wen et al. 2017): an ``nn.LSTM`` encoder over the past
  values and covariates, forking sequences (a forecast from every encoder step), a global MLP from the state and
  the next K steps' covariates (stacked from strided slices) to K horizon-specific contexts and one agnostic one,
  a local MLP shared over horizons, and the pinball loss ``torch.max((q - 1) * e, q * e)`` over several quantiles;
* ``STATEFUL_LSTM`` is the common stateful forecaster trained with truncated BPTT over one long series: the
  series cut into parallel streams, an ``nn.LSTM(batch_first=True)`` whose ``(h, c)`` is carried between chunks
  and ``.detach()``ed, ``torch.nn.utils.clip_grad_value_``, SGD with momentum under ``ReduceLROnPlateau`` stepped
  with each epoch's validation loss (the validation warm-started from the training state under ``no_grad``).

Losses, first-step gradients, metrics and final weights are compared, in float32 (to ~1e-5) and, for LSTNet and
DA-RNN, in float64 (to ~1e-10). The seq2seq pinball-loss forecaster of tests/test_pytorch_programs_forecast.py
is not repeated here.

What they found: every loss, gradient, metric and learning-rate schedule agreed with torch on the first run (the
float32 DA-RNN's attention weights drift apart by Adam's sign-of-noise steps on near-zero gradient entries; in
float64 they agree to 1e-10). Probing the calls they use against torch found only deliberate differences:
``clip_grad_value_(params, -0.5)`` raises here where torch clamps every gradient to -0.5 (a silent wrong result),
torch 2.13's ``clip_grad_value_`` on parameters none of which has a gradient raises an internal "Expected
!nested_tensorlist[0].empty()" RuntimeError where ours does nothing, and an ``nn.LSTM`` given a bare tensor state
raises a RuntimeError/TypeError naming the (h0, c0) tuple where torch raises an accidental IndexError.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from minigrad import nn  # noqa: F401 - the programs' import, paid at collection (as torch's), not in a test
from tests.test_pytorch_programs import _assert_same_weights, _twin_models
from tests.test_pytorch_programs_detection import _assert_close
from tests.test_pytorch_programs_flow import _lean_torch  # noqa: F401 - autouse: torch lean, _dynamo imported in setup

LSTNET = '''
class LSTNet(nn.Module):
    """x (B, P, m): a window of P steps of m variables -> the next step (B, m) in (0, 1)."""

    def __init__(self, window, num_vars, hid_cnn=4, hid_rnn=5, hid_skip=3, kernel=3, skip=2, highway=3,
                 dropout=0.0):
        super().__init__()
        self.window, self.num_vars, self.hid_cnn, self.hid_skip = window, num_vars, hid_cnn, hid_skip
        self.skip, self.highway_window = skip, highway
        self.periods = (window - kernel) // skip   # how many whole periods the skip-GRU steps over
        self.conv1 = nn.Conv2d(1, hid_cnn, kernel_size=(kernel, num_vars))
        self.gru1 = nn.GRU(hid_cnn, hid_rnn)
        self.dropout = nn.Dropout(p=dropout)
        self.gru_skip = nn.GRU(hid_cnn, hid_skip)
        self.linear1 = nn.Linear(hid_rnn + skip * hid_skip, num_vars)
        self.highway = nn.Linear(highway, 1)

    def forward(self, x):
        batch_size = x.size(0)
        c = x.view(-1, 1, self.window, self.num_vars)
        c = F.relu(self.conv1(c))            # (B, C, P - k + 1, 1)
        c = self.dropout(c)
        c = torch.squeeze(c, 3)              # (B, C, T)

        r = c.permute(2, 0, 1).contiguous()  # (T, B, C): the GRU is time-major
        _, r = self.gru1(r)
        r = self.dropout(torch.squeeze(r, 0))

        # the skip-GRU: step t of column j reads the conv feature at period t, phase j
        s = c[:, :, -self.periods * self.skip:].contiguous()
        s = s.view(batch_size, self.hid_cnn, self.periods, self.skip)
        s = s.permute(2, 0, 3, 1).contiguous()
        s = s.view(self.periods, batch_size * self.skip, self.hid_cnn)
        _, s = self.gru_skip(s)
        s = s.view(batch_size, self.skip * self.hid_skip)
        s = self.dropout(s)
        r = torch.cat((r, s), 1)
        res = self.linear1(r)

        # the highway: a linear autoregression on each variable's last few values
        z = x[:, -self.highway_window:, :]
        z = z.permute(0, 2, 1).contiguous().view(-1, self.highway_window)
        z = self.highway(z)
        z = z.view(-1, self.num_vars)
        return torch.sigmoid(res + z)


def make_model(window, num_vars, dtype):
    model = LSTNet(window, num_vars)
    return model.double() if dtype == "float64" else model


def train(model, batches, steps, lr=1e-2, clip=10.0):
    criterion = nn.L1Loss(reduction="sum")
    optimizer = optim.Adam(model.parameters(), lr=lr)
    losses, first_grads = [], None
    model.train()
    for step in range(steps):
        x, y = batches[step % len(batches)]
        x, y = torch.from_numpy(x), torch.from_numpy(y)
        model.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        if first_grads is None:
            first_grads = {name: p.grad.clone() for name, p in model.named_parameters()}
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        losses.append(loss.item())
    return losses, first_grads


def evaluate(model, x, y):
    """Root relative squared error and the mean per-variable correlation over the rows of (x, y)."""
    model.eval()
    with torch.no_grad():
        x, y = torch.from_numpy(x), torch.from_numpy(y)
        predict = model(x)
        rse = torch.sqrt(((predict - y) ** 2).sum()) / torch.sqrt(((y - y.mean()) ** 2).sum())
        sigma_p, sigma_g = predict.std(dim=0, unbiased=False), y.std(dim=0, unbiased=False)
        mean_p, mean_g = predict.mean(dim=0), y.mean(dim=0)
        correlation = ((predict - mean_p) * (y - mean_g)).mean(dim=0) / (sigma_p * sigma_g)
        correlation = correlation[sigma_g != 0].mean()
    return [rse.item(), correlation.item(), predict]
'''


DA_RNN = '''
class InputAttentionEncoder(nn.Module):
    """X (B, T, n) driving series -> the attention-weighted inputs (B, T, n) and the encoder states (B, T, H)."""

    def __init__(self, num_series, hidden_size, steps):
        super().__init__()
        self.num_series, self.hidden_size, self.steps = num_series, hidden_size, steps
        self.lstm = nn.LSTMCell(num_series, hidden_size)
        # the paper's v^T tanh(W [h; s] + U x^k): a single Linear would add the same h, s term to every
        # series' score, which the softmax over series ignores
        self.attn_layer = nn.Sequential(nn.Linear(2 * hidden_size + steps, steps), nn.Tanh(), nn.Linear(steps, 1))

    def forward(self, X):
        weighted_inputs = X.new_zeros(X.size(0), self.steps, self.num_series)
        encoded = X.new_zeros(X.size(0), self.steps, self.hidden_size)
        hidden = X.new_zeros(X.size(0), self.hidden_size)
        cell = X.new_zeros(X.size(0), self.hidden_size)
        for t in range(self.steps):
            # one score per driving series, from the state and that series' whole window
            x = torch.cat((hidden.repeat(self.num_series, 1, 1).permute(1, 0, 2),
                           cell.repeat(self.num_series, 1, 1).permute(1, 0, 2),
                           X.permute(0, 2, 1)), dim=2)          # (B, n, 2H + T)
            x = self.attn_layer(x.view(-1, self.hidden_size * 2 + self.steps))
            alpha = F.softmax(x.view(-1, self.num_series), dim=1)
            weighted = torch.mul(alpha, X[:, t, :])
            hidden, cell = self.lstm(weighted, (hidden, cell))
            weighted_inputs[:, t, :] = weighted
            encoded[:, t, :] = hidden
        return weighted_inputs, encoded


class TemporalAttentionDecoder(nn.Module):
    """Encoder states (B, T, H) and the target's history (B, T) -> the next target value (B, 1)."""

    def __init__(self, encoder_hidden_size, decoder_hidden_size, steps):
        super().__init__()
        self.steps, self.decoder_hidden_size = steps, decoder_hidden_size
        self.attn_layer = nn.Sequential(nn.Linear(2 * decoder_hidden_size + encoder_hidden_size, encoder_hidden_size),
                                        nn.Tanh(), nn.Linear(encoder_hidden_size, 1))
        self.lstm = nn.LSTMCell(1, decoder_hidden_size)
        self.fc = nn.Linear(encoder_hidden_size + 1, 1)
        self.fc_final = nn.Linear(decoder_hidden_size + encoder_hidden_size, 1)

    def forward(self, encoded, y_history):
        hidden = encoded.new_zeros(encoded.size(0), self.decoder_hidden_size)
        cell = encoded.new_zeros(encoded.size(0), self.decoder_hidden_size)
        weights = []
        for t in range(self.steps):
            x = torch.cat((hidden.repeat(self.steps, 1, 1).permute(1, 0, 2),
                           cell.repeat(self.steps, 1, 1).permute(1, 0, 2),
                           encoded), dim=2)                     # (B, T, 2D + H)
            beta = F.softmax(self.attn_layer(x.view(-1, x.size(2))).view(-1, self.steps), dim=1)
            context = torch.bmm(beta.unsqueeze(1), encoded)[:, 0, :]
            y_tilde = self.fc(torch.cat((context, y_history[:, t].unsqueeze(1)), dim=1))
            hidden, cell = self.lstm(y_tilde, (hidden, cell))
            weights.append(beta)
        return self.fc_final(torch.cat((hidden, context), dim=1)), torch.stack(weights, dim=1)


class DARNN(nn.Module):
    def __init__(self, num_series, steps, encoder_hidden=6, decoder_hidden=5):
        super().__init__()
        self.encoder = InputAttentionEncoder(num_series, encoder_hidden, steps)
        self.decoder = TemporalAttentionDecoder(encoder_hidden, decoder_hidden, steps)

    def forward(self, X, y_history):
        weighted, encoded = self.encoder(X)
        prediction, temporal = self.decoder(encoded, y_history)
        return prediction, weighted, temporal


def make_model(num_series, steps, dtype):
    model = DARNN(num_series, steps)
    return model.double() if dtype == "float64" else model


def train(model, batches, steps, lr=1e-2):
    criterion = nn.MSELoss()
    optimizer = optim.Adam(model.parameters(), lr=lr)
    losses, first_grads = [], None
    for step in range(steps):
        X, y_history, y_target = (torch.from_numpy(a) for a in batches[step % len(batches)])
        optimizer.zero_grad()
        prediction, _, _ = model(X, y_history)
        loss = criterion(prediction, y_target.unsqueeze(1))
        loss.backward()
        if first_grads is None:
            first_grads = {name: p.grad.clone() for name, p in model.named_parameters()}
        optimizer.step()
        losses.append(loss.item())
    return losses, first_grads


@torch.no_grad()
def predict(model, X, y_history):
    prediction, weighted, temporal = model(torch.from_numpy(X), torch.from_numpy(y_history))
    return [prediction, weighted, temporal]
'''


MQ_RNN = '''
class MQRNN(nn.Module):
    """Past values (B, T), covariates (B, T + K, c) -> quantiles (B, T, K, Q): from every encoder step t
    (forking sequences) a forecast of steps t + 1 .. t + K."""

    def __init__(self, num_covariates, horizon, quantiles, hidden_size=8, context_size=3, local_size=6):
        super().__init__()
        self.horizon, self.context_size = horizon, context_size
        self.encoder = nn.LSTM(1 + num_covariates, hidden_size, batch_first=True)
        self.global_mlp = nn.Sequential(
            nn.Linear(hidden_size + horizon * num_covariates, 16), nn.ReLU(),
            nn.Linear(16, (horizon + 1) * context_size))
        self.local_mlp = nn.Sequential(
            nn.Linear(2 * context_size + num_covariates, local_size), nn.ReLU(),
            nn.Linear(local_size, len(quantiles)))

    def future_covariates(self, covariates, length):
        """(B, T + K, c) -> (B, T, K, c): at step t, the covariates of steps t + 1 .. t + K."""
        return torch.stack([covariates[:, k + 1:k + 1 + length] for k in range(self.horizon)], dim=2)

    def forward(self, past, covariates):
        batch_size, length = past.shape
        encoder_input = torch.cat([past.unsqueeze(-1), covariates[:, :length]], dim=-1)
        hidden, _ = self.encoder(encoder_input)                             # (B, T, H)
        future = self.future_covariates(covariates, length)                 # (B, T, K, c)
        contexts = self.global_mlp(torch.cat([hidden, future.flatten(2)], dim=-1))
        contexts = contexts.view(batch_size, length, self.horizon + 1, self.context_size)
        specific, agnostic = contexts[:, :, :-1], contexts[:, :, -1:]
        local_input = torch.cat([specific, agnostic.expand(-1, -1, self.horizon, -1), future], dim=-1)
        return self.local_mlp(local_input)


def pinball_loss(prediction, target, quantiles):
    """prediction (..., Q), target (...): the mean quantile loss over every quantile and element."""
    errors = target.unsqueeze(-1) - prediction
    q = torch.tensor(quantiles, dtype=prediction.dtype)
    return torch.max((q - 1) * errors, q * errors).mean()


def forking_targets(series, length, horizon):
    """series (B, T + K) -> (B, T, K): at step t, the values of steps t + 1 .. t + K."""
    return series.unfold(1, horizon, 1)[:, 1:length + 1]


def make_model(num_covariates, horizon, quantiles):
    return MQRNN(num_covariates, horizon, quantiles)


def train(model, batches, steps, quantiles, lr=1e-2):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    losses, first_grads = [], None
    for step in range(steps):
        series, covariates = (torch.from_numpy(a) for a in batches[step % len(batches)])
        length = series.size(1) - model.horizon
        prediction = model(series[:, :length], covariates)
        loss = pinball_loss(prediction, forking_targets(series, length, model.horizon), quantiles)
        optimizer.zero_grad()
        loss.backward()
        if first_grads is None:
            first_grads = {name: p.grad.clone() for name, p in model.named_parameters()}
        optimizer.step()
        losses.append(loss.item())
    return losses, first_grads


@torch.no_grad()
def forecast(model, series, covariates):
    """The last encoder step's forecast (B, K, Q), and how often the truth lies under each quantile (Q,)."""
    series, covariates = torch.from_numpy(series), torch.from_numpy(covariates)
    length = series.size(1) - model.horizon
    prediction = model(series[:, :length], covariates)
    coverage = (forking_targets(series, length, model.horizon).unsqueeze(-1) < prediction).float().mean(dim=(0, 1, 2))
    return [prediction[:, -1], coverage]
'''


STATEFUL_LSTM = '''
class StatefulForecaster(nn.Module):
    """x (B, T, m) -> the next step of each variable (B, T, m), the LSTM state carried in and out."""

    def __init__(self, num_vars, hidden_size=8, num_layers=2):
        super().__init__()
        self.lstm = nn.LSTM(num_vars, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, num_vars)

    def forward(self, x, state=None):
        output, state = self.lstm(x, state)
        return self.head(output), state


def as_streams(series, streams):
    """(N, m) -> (streams, N // streams, m): each row a contiguous stretch of the series."""
    length = series.size(0) // streams
    return series[:length * streams].view(streams, length, -1)


def run_epoch(model, data, bptt, state, optimizer=None, clip=0.5):
    """Chunks of bptt steps over (B, L, m); the state goes on from chunk to chunk, cut off from the graph.
    Returns the mean loss, each chunk's loss and largest gradient entry before clipping, and the last state."""
    losses, largest = [], []
    for start in range(0, data.size(1) - 1, bptt):
        length = min(bptt, data.size(1) - 1 - start)
        inputs, targets = data[:, start:start + length], data[:, start + 1:start + 1 + length]
        if state is not None:
            state = tuple(s.detach() for s in state)
        prediction, state = model(inputs, state)
        loss = F.mse_loss(prediction, targets)
        if optimizer is not None:
            optimizer.zero_grad()
            loss.backward()
            largest.append(max(p.grad.abs().max().item() for p in model.parameters()))
            torch.nn.utils.clip_grad_value_(model.parameters(), clip)
            assert max(p.grad.abs().max().item() for p in model.parameters()) <= clip
            optimizer.step()
        losses.append(loss.item())
    return sum(losses) / len(losses), losses, largest, state


def make_model(num_vars):
    return StatefulForecaster(num_vars)


def train(model, series, epochs, streams=3, bptt=4, split=0.75):
    series = torch.from_numpy(series)
    cut = int(series.size(0) * split)
    train_data, valid_data = as_streams(series[:cut], streams), as_streams(series[cut:], streams)
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=0, threshold=1e-3)
    history = {"train": [], "largest_grad": [], "valid": [], "lr": []}
    for _ in range(epochs):
        model.train()
        _, train_losses, largest, state = run_epoch(model, train_data, bptt, None, optimizer)
        model.eval()
        with torch.no_grad():
            valid_loss, _, _, _ = run_epoch(model, valid_data, bptt, state)
        scheduler.step(valid_loss)
        history["train"].extend(train_losses)
        history["largest_grad"].extend(largest)
        history["valid"].append(valid_loss)
        history["lr"].append(optimizer.param_groups[0]["lr"])
    return history
'''

PROGRAMS = (LSTNET, DA_RNN, MQ_RNN, STATEFUL_LSTM)
TOLERANCES = [("float32", 1e-5), ("float64", 1e-10)]


def test_the_programs_differ_only_in_their_imports() -> None:
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


def _assert_same_float64_weights(torch_model: Any, mg_model: Any, dtype: str) -> None:
    """In float64, every final weight as torch's to 1e-10 (``_assert_same_weights`` checks float32's 1e-4)."""
    if dtype == "float64":
        ours = {k: v.numpy() for k, v in mg_model.state_dict().items()}
        theirs = {k: v.detach().numpy() for k, v in torch_model.state_dict().items()}
        _assert_close(ours, theirs, rtol=1e-10, atol=1e-10)


def _multivariate(rng: np.random.Generator, length: int, num_vars: int) -> np.ndarray:
    """(length, num_vars): positive seasonal series of period 2 and 5 with noise, each variable its own phase."""
    t = np.arange(length)[:, None]
    phases = rng.random(num_vars) * 2 * np.pi
    series = 2.0 + np.sin(2 * np.pi * t / 5 + phases) + 0.5 * np.cos(np.pi * t) + 0.2 * rng.standard_normal(
        (length, num_vars))
    return series + 0.05 * t


# ----------------------------------------------------------------------------- 1. LSTNet


def _lstnet_windows(dtype: str, window: int, num_vars: int, count: int, batch_size: int, seed: int) -> tuple:
    """Training batches of (x (B, P, m), y (B, m)) and a held-out (x, y), scaled by each variable's maximum."""
    rng = np.random.default_rng(seed)
    series = _multivariate(rng, window + count * batch_size + 6, num_vars)
    series = (series / series.max(axis=0)).astype(dtype)
    x = np.stack([series[i:i + window] for i in range(len(series) - window)])
    y = series[window:]
    batches = [(x[i * batch_size:(i + 1) * batch_size], y[i * batch_size:(i + 1) * batch_size]) for i in range(count)]
    return batches, (x[count * batch_size:], y[count * batch_size:])


@pytest.mark.parametrize(("dtype", "tol"), TOLERANCES)
def test_lstnet_conv_gru_skip_gru_and_highway(torch: Any, dtype: str, tol: float) -> None:
    window, num_vars = 9, 3
    batches, held_out = _lstnet_windows(dtype, window, num_vars, 2, 4, seed=50)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(LSTNET, window, num_vars, dtype)
    expected = torch_program["train"](torch_model, batches, 4)
    result = mg_program["train"](mg_model, batches, 4)
    _assert_close(list(result), list(expected), rtol=tol, atol=tol)
    assert set(result[1]) >= {"gru_skip.weight_hh_l0", "highway.weight", "conv1.weight"}
    assert all(np.abs(g.numpy()).max() > 0 for g in result[1].values())
    _assert_same_weights(torch_model, mg_model, initial)
    _assert_same_float64_weights(torch_model, mg_model, dtype)
    metrics = mg_program["evaluate"](mg_model, *held_out)
    expected_metrics = torch_program["evaluate"](torch_model, *held_out)
    _assert_close(metrics, expected_metrics, rtol=tol, atol=tol)
    assert metrics[2].shape == (len(held_out[1]), num_vars) and 0 < metrics[2].numpy().min()
    assert metrics[0] > 0 and -1 <= metrics[1] <= 1


# ----------------------------------------------------------------------------- 2. DA-RNN


def _darnn_batches(dtype: str, count: int, batch_size: int, steps: int, num_series: int, seed: int) -> list:
    """(X (B, T, n) driving series, y_history (B, T), y_target (B,)): the target mixes two of the drivers."""
    rng = np.random.default_rng(seed)
    series = _multivariate(rng, count * batch_size + steps + 1, num_series)
    target = 0.6 * series[:, 0] - 0.4 * series[:, 1] + 0.1 * rng.standard_normal(len(series))
    batches = []
    for b in range(count):
        rows = range(b * batch_size, (b + 1) * batch_size)
        X = np.stack([series[i:i + steps] for i in rows])
        history = np.stack([target[i:i + steps] for i in rows])
        batches.append(tuple(a.astype(dtype) for a in (X, history, target[[i + steps for i in rows]])))
    return batches


@pytest.mark.parametrize(("dtype", "tol"), TOLERANCES)
def test_da_rnn_input_and_temporal_attention_with_lstm_cells(torch: Any, dtype: str, tol: float) -> None:
    steps, num_series = 5, 4
    batches = _darnn_batches(dtype, 2, 3, steps, num_series, seed=60)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(DA_RNN, num_series, steps, dtype)
    expected = torch_program["train"](torch_model, batches, 4)
    result = mg_program["train"](mg_model, batches, 4)
    _assert_close(list(result), list(expected), rtol=tol, atol=tol)
    # a bias added to every score before a softmax over those scores changes nothing: its true gradient is 0
    noise_only = ("encoder.attn_layer.2.bias", "decoder.attn_layer.2.bias")
    assert all(abs(result[1][name].item()) < 1e3 * np.finfo(dtype).eps for name in noise_only)
    # near-uniform attention makes the attention MLPs' gradients sums that nearly cancel: some entries are ~1e-4 of
    # the others and carry float32 rounding of 10 %, which Adam (dividing by each entry's size) turns into steps of
    # differing size; in float32 they are left to the float64 run, where every weight agrees to 1e-10
    if dtype == "float32":
        noise_only += tuple(name for name in initial if ".attn_layer." in name)
        for name in noise_only:   # still close: the drift is a few Adam steps of at most lr each
            np.testing.assert_allclose(mg_model.state_dict()[name].numpy(),
                                       torch_model.state_dict()[name].numpy(), atol=4 * 1e-2, err_msg=name)
    _assert_same_weights(torch_model, mg_model, initial, noise_only=noise_only)
    _assert_same_float64_weights(torch_model, mg_model, dtype)
    outputs = mg_program["predict"](mg_model, *batches[1][:2])
    _assert_close(outputs, torch_program["predict"](torch_model, *batches[1][:2]), rtol=tol, atol=tol)
    prediction, weighted, temporal = (o.numpy() for o in outputs)
    assert prediction.shape == (3, 1) and weighted.shape == (3, steps, num_series)
    assert temporal.shape == (3, steps, steps)
    np.testing.assert_allclose(temporal.sum(-1), 1.0, rtol=1e-5)
    # the weighted inputs are the softmax weights times the inputs: their ratio sums to 1 over the series
    np.testing.assert_allclose((weighted / batches[1][0]).sum(-1), 1.0, rtol=1e-4)


# ----------------------------------------------------------------------------- 3. MQ-RNN


def _mqrnn_batches(count: int, batch_size: int, length: int, horizon: int, seed: int) -> list:
    """(series (B, T + K), covariates (B, T + K, 2): sin/cos of the step) float32."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        t = rng.integers(0, 20, batch_size)[:, None] + np.arange(length + horizon)
        phase = 2 * np.pi * t / 5
        series = 1.0 + np.sin(phase) + 0.3 * rng.standard_normal(t.shape)
        covariates = np.stack([np.sin(phase), np.cos(phase)], axis=-1)
        batches.append((series.astype(np.float32), covariates.astype(np.float32)))
    return batches


def test_mq_rnn_forking_sequences_and_quantile_loss(torch: Any) -> None:
    quantiles, horizon = [0.1, 0.5, 0.9], 3
    batches = _mqrnn_batches(2, 4, 6, horizon, seed=70)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(MQ_RNN, 2, horizon, quantiles)
    expected = torch_program["train"](torch_model, batches, 6, quantiles)
    result = mg_program["train"](mg_model, batches, 6, quantiles)
    _assert_close(list(result), list(expected), rtol=1e-5, atol=1e-6)
    assert result[0][-1] < result[0][0]
    _assert_same_weights(torch_model, mg_model, initial)
    outputs = mg_program["forecast"](mg_model, *batches[0])
    _assert_close(outputs, torch_program["forecast"](torch_model, *batches[0]), rtol=1e-5, atol=1e-6)
    assert outputs[0].shape == (4, horizon, 3) and outputs[1].shape == (3,)


# ----------------------------------------------------------------------------- 4. stateful LSTM, truncated BPTT


def test_stateful_lstm_with_truncated_bptt_clip_value_and_plateau(torch: Any) -> None:
    series = _multivariate(np.random.default_rng(80), 64, 2).astype(np.float32)
    series = (series - series.mean(axis=0)) / series.std(axis=0)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(STATEFUL_LSTM, 2)
    expected = torch_program["train"](torch_model, series, 4)
    history = mg_program["train"](mg_model, series, 4)
    _assert_close(history, expected, rtol=1e-5, atol=1e-6)
    assert history["lr"] == expected["lr"] and len(history["train"]) == 4 * 4
    assert history["lr"][-1] < 0.1   # the plateau cut the learning rate at least once
    assert max(history["largest_grad"]) > 0.5   # and clip_grad_value_ clipped something
    _assert_same_weights(torch_model, mg_model, initial)
