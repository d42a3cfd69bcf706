"""Three sequence and dynamics programs, small, run unchanged on minigrad: only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch program: it keeps the original's PyTorch calls
and habits in the same roles, with our own names, structure and comments, a small model, a few steps and
generated data (the helpers and the rule come from tests/test_pytorch_programs.py):

* ``SINE_SEQUENCE`` mirrors pytorch/examples ``time_sequence_prediction``
  (https://github.com/pytorch/examples/tree/main/time_sequence_prediction): two ``nn.LSTMCell`` and a
  ``Linear`` in float64 (``seq.double()``), a loop over ``input.split(1, dim=1)`` from
  ``torch.zeros(input.size(0), 51, dtype=torch.double)`` states, ``future`` steps fed back from the model's own
  output, ``torch.cat(outputs, dim=1)``, ``optim.LBFGS(lr=0.8)`` stepped with a ``closure()``, a
  ``torch.no_grad()`` forecast read as ``pred.detach().numpy()``;
* ``TEMPORAL_CONV_NET`` mirrors the ``TemporalBlock``/``TemporalConvNet`` of locuslab/TCN
  (https://github.com/locuslab/TCN) on its adding problem: causal ``nn.Conv1d(padding=(k-1)*dilation,
  dilation=dilation)`` cut back by a ``Chomp1d`` module (``x[:, :, :-chomp].contiguous()``), weight
  normalisation by the legacy ``torch.nn.utils.weight_norm`` or by
  ``torch.nn.utils.parametrizations.weight_norm``, ``nn.Sequential(*layers)``, a 1x1 ``Conv1d`` residual
  ``downsample`` only where the channel counts differ, ``normal_(0, 0.01)`` initialisation, Adam,
  ``clip_grad_norm_``;
* ``NEURAL_ODE`` follows the ``ode_demo`` of rtqichen/torchdiffeq (https://github.com/rtqichen/torchdiffeq)
  with the solver written by hand: an MLP vector field ``f(t, y)`` integrated by a classical Runge-Kutta 4
  loop over ``torch.linspace(0, T, n)``, ``torch.stack(ys)``, trained by back-propagating through the solver
  on a damped spiral, Adam under ``ExponentialLR``, and the field's Jacobian at one point by
  ``torch.autograd.functional.jacobian``.

The TCN's ``self.conv1.weight.data.normal_(0, 0.01)`` is written ``with torch.no_grad():
self.conv1.weight.normal_(0, 0.01)``, the translation README ("Coming from PyTorch") gives: minigrad's ``.data``
is the NumPy array (DESIGN: deliberately different), which has no ``normal_``. Both spellings change nothing a
weight-normalised convolution uses (its ``weight`` is recomputed from ``weight_g``/``weight_v`` before each call),
and the other weights are overwritten by torch's when the state dict is copied.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import MINIGRAD_IMPORTS, TORCH_IMPORTS, _twin_models

TORCH_IMPORTS_SERIES = TORCH_IMPORTS + """\
from torch.nn.utils import weight_norm
from torch.optim.lr_scheduler import ExponentialLR
"""

MINIGRAD_IMPORTS_SERIES = MINIGRAD_IMPORTS + """\
from minigrad.nn.utils import weight_norm
from minigrad.optim.lr_scheduler import ExponentialLR
"""


SINE_SEQUENCE = '''
class Sequence(nn.Module):
    """A two-layer LSTM-cell forecaster: (B, L) values to (B, L + future) one-step-ahead predictions."""

    def __init__(self):
        super(Sequence, self).__init__()
        self.lstm1 = nn.LSTMCell(1, 51)
        self.lstm2 = nn.LSTMCell(51, 51)
        self.linear = nn.Linear(51, 1)

    def forward(self, input, future=0):
        outputs = []
        h_t = torch.zeros(input.size(0), 51, dtype=torch.double)
        c_t = torch.zeros(input.size(0), 51, dtype=torch.double)
        h_t2 = torch.zeros(input.size(0), 51, dtype=torch.double)
        c_t2 = torch.zeros(input.size(0), 51, dtype=torch.double)
        for input_t in input.split(1, dim=1):            # (B, 1) per time step
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        for _ in range(future):                          # run on, reading its own last prediction
            h_t, c_t = self.lstm1(output, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        return torch.cat(outputs, dim=1)


def make_model():
    seq = Sequence()
    seq.double()
    return seq


def train(seq, data, steps, future=4):
    """LBFGS on rows 2.. of data (B, L), a forecast of rows 0..1 after each step; the losses and forecasts."""
    input = torch.from_numpy(data[2:, :-1])
    target = torch.from_numpy(data[2:, 1:])
    test_input = torch.from_numpy(data[:2, :-1])
    test_target = torch.from_numpy(data[:2, 1:])
    criterion = nn.MSELoss()
    optimizer = optim.LBFGS(seq.parameters(), lr=0.8)
    closure_losses, step_losses, test_losses, forecasts = [], [], [], []
    for i in range(steps):
        def closure():
            optimizer.zero_grad()
            out = seq(input)
            loss = criterion(out, target)
            closure_losses.append(loss.item())
            loss.backward()
            return loss
        step_losses.append(optimizer.step(closure).item())
        with torch.no_grad():
            pred = seq(test_input, future=future)
            loss = criterion(pred[:, :-future], test_target)
            test_losses.append(loss.item())
            y = pred.detach().numpy()
        forecasts.append(y)
    return closure_losses, step_losses, test_losses, forecasts
'''


TEMPORAL_CONV_NET = '''
class Chomp1d(nn.Module):
    """Drops the last chomp_size time steps: what a causal convolution's right padding added."""

    def __init__(self, chomp_size):
        super(Chomp1d, self).__init__()
        self.chomp_size = chomp_size

    def forward(self, x):
        return x[:, :, :-self.chomp_size].contiguous()


class TemporalBlock(nn.Module):
    """Two dilated causal convolutions with ReLU and dropout, plus a residual: (B, C_in, T) to (B, C_out, T)."""

    def __init__(self, n_inputs, n_outputs, kernel_size, stride, dilation, padding, dropout=0.2, norm=None):
        super(TemporalBlock, self).__init__()
        norm = norm or weight_norm
        self.conv1 = norm(nn.Conv1d(n_inputs, n_outputs, kernel_size,
                                    stride=stride, padding=padding, dilation=dilation))
        self.chomp1 = Chomp1d(padding)
        self.relu1 = nn.ReLU()
        self.dropout1 = nn.Dropout(dropout)
        self.conv2 = norm(nn.Conv1d(n_outputs, n_outputs, kernel_size,
                                    stride=stride, padding=padding, dilation=dilation))
        self.chomp2 = Chomp1d(padding)
        self.relu2 = nn.ReLU()
        self.dropout2 = nn.Dropout(dropout)
        self.net = nn.Sequential(self.conv1, self.chomp1, self.relu1, self.dropout1,
                                 self.conv2, self.chomp2, self.relu2, self.dropout2)
        self.downsample = nn.Conv1d(n_inputs, n_outputs, 1) if n_inputs != n_outputs else None
        self.relu = nn.ReLU()
        self.init_weights()

    def init_weights(self):
        with torch.no_grad():
            self.conv1.weight.normal_(0, 0.01)
            self.conv2.weight.normal_(0, 0.01)
            if self.downsample is not None:
                self.downsample.weight.normal_(0, 0.01)

    def forward(self, x):
        out = self.net(x)
        res = x if self.downsample is None else self.downsample(x)
        return self.relu(out + res)


class TemporalConvNet(nn.Module):
    """One TemporalBlock per entry of num_channels, the dilation doubling at each level."""

    def __init__(self, num_inputs, num_channels, kernel_size=2, dropout=0.2, norm=None):
        super(TemporalConvNet, self).__init__()
        layers = []
        for i in range(len(num_channels)):
            dilation_size = 2 ** i
            in_channels = num_inputs if i == 0 else num_channels[i - 1]
            layers += [TemporalBlock(in_channels, num_channels[i], kernel_size, stride=1, dilation=dilation_size,
                                     padding=(kernel_size - 1) * dilation_size, dropout=dropout, norm=norm)]
        self.network = nn.Sequential(*layers)

    def forward(self, x):
        return self.network(x)


class AddingTCN(nn.Module):
    """(B, 2, T) sequences of (value, marker) to (B, 1): a Linear read-out of the last time step."""

    def __init__(self, input_size, output_size, num_channels, kernel_size, dropout, norm=None):
        super(AddingTCN, self).__init__()
        self.tcn = TemporalConvNet(input_size, num_channels, kernel_size=kernel_size, dropout=dropout, norm=norm)
        self.linear = nn.Linear(num_channels[-1], output_size)
        with torch.no_grad():
            self.linear.weight.normal_(0, 0.01)

    def forward(self, x):
        y1 = self.tcn(x)
        return self.linear(y1[:, :, -1])


def data_generator(values, positions):
    """The adding problem: inputs (N, 2, T) of values and a two-hot marker row, targets (N, 1) the marked sum."""
    X_num = torch.from_numpy(values).unsqueeze(1)
    N, _, seq_length = X_num.shape
    X_mask = torch.zeros([N, 1, seq_length])
    Y = torch.zeros([N, 1])
    for i in range(N):
        X_mask[i, 0, positions[i][0]] = 1
        X_mask[i, 0, positions[i][1]] = 1
        Y[i, 0] = X_num[i, 0, positions[i][0]] + X_num[i, 0, positions[i][1]]
    X = torch.cat((X_num, X_mask), dim=1)
    return X, Y


def make_model(parametrized=False):
    norm = torch.nn.utils.parametrizations.weight_norm if parametrized else weight_norm
    return AddingTCN(2, 1, [6, 6, 4], kernel_size=3, dropout=0.0, norm=norm)


def train(model, X_train, Y_train, steps, batch_size=4, lr=4e-3, clip=0.5):
    """Adam on consecutive batches (the last one short); the losses, clipped norms and first gradients."""
    optimizer = getattr(optim, 'Adam')(model.parameters(), lr=lr)
    model.train()
    losses, norms, first_grads = [], [], None
    i = 0
    while len(losses) < steps:
        if i + batch_size > X_train.size(0):
            x, y = X_train[i:], Y_train[i:]
        else:
            x, y = X_train[i:(i + batch_size)], Y_train[i:(i + batch_size)]
        optimizer.zero_grad()
        output = model(x)
        loss = F.mse_loss(output, y)
        loss.backward()
        if first_grads is None:
            first_grads = {name: p.grad.numpy().copy() for name, p in model.named_parameters()}
        if clip > 0:
            norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), clip)))
        optimizer.step()
        losses.append(loss.item())
        i = 0 if i + batch_size >= X_train.size(0) else i + batch_size
    return losses, norms, first_grads


def evaluate(model, X_test, Y_test):
    model.eval()
    with torch.no_grad():
        output = model(X_test)
        test_loss = F.mse_loss(output, Y_test)
        return test_loss.item(), output.numpy()
'''


NEURAL_ODE = '''
class ODEFunc(nn.Module):
    """The learned vector field dy/dt = f(t, y) for y (..., 2): an MLP of y ** 3, as torchdiffeq's demo."""

    def __init__(self, hidden=16):
        super(ODEFunc, self).__init__()
        self.net = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, 2))
        for m in self.net.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, mean=0, std=0.1)
                nn.init.constant_(m.bias, val=0)

    def forward(self, t, y):
        return self.net(y ** 3)


class Spiral(nn.Module):
    """The true field: a damped rotation of y ** 3."""

    def __init__(self):
        super(Spiral, self).__init__()
        self.register_buffer('true_A', torch.tensor([[-0.1, 2.0], [-2.0, -0.1]]))

    def forward(self, t, y):
        return torch.mm(y ** 3, self.true_A) if y.dim() == 2 else (y ** 3) @ self.true_A


def rk4_step(func, t, dt, y):
    k1 = func(t, y)
    k2 = func(t + dt / 2, y + dt * k1 / 2)
    k3 = func(t + dt / 2, y + dt * k2 / 2)
    k4 = func(t + dt, y + dt * k3)
    return y + dt * (k1 + 2 * k2 + 2 * k3 + k4) / 6


def odeint(func, y0, t):
    """y at every time of t (n,): (n, *y0.shape), by one RK4 step between consecutive times."""
    ys = [y0]
    y = y0
    for t0, t1 in zip(t[:-1], t[1:]):
        y = rk4_step(func, t0, t1 - t0, y)
        ys.append(y)
    return torch.stack(ys)


device = torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')


class RunningAverageMeter(object):
    """An exponential moving average of the values it is given."""

    def __init__(self, momentum=0.99):
        self.momentum = momentum
        self.val = None
        self.avg = 0

    def update(self, val):
        self.avg = val if self.val is None else self.avg * self.momentum + val * (1 - self.momentum)
        self.val = val


def make_model():
    return ODEFunc().to(device)


def true_trajectory(n, end):
    t = torch.linspace(0., end, n).to(device)
    true_y0 = torch.tensor([[2., 0.]]).to(device)
    with torch.no_grad():
        true_y = odeint(Spiral().to(device), true_y0, t)
    return t, true_y0, true_y


def get_batch(t, true_y, starts, batch_time):
    """Pieces of the true trajectory: y0 (M, 1, 2), times (batch_time,), targets (batch_time, M, 1, 2)."""
    s = torch.from_numpy(starts)
    batch_y0 = true_y[s]
    batch_t = t[:batch_time]
    batch_y = torch.stack([true_y[s + i] for i in range(batch_time)], dim=0)
    return batch_y0, batch_t, batch_y


def train(func, starts_per_step, n=12, end=1.5, batch_time=4, lr=1e-2):
    t, true_y0, true_y = true_trajectory(n, end)
    optimizer = optim.Adam(func.parameters(), lr=lr)
    scheduler = ExponentialLR(optimizer, gamma=0.9)
    losses, lrs, grads = [], [], []
    loss_meter = RunningAverageMeter(0.9)
    for starts in starts_per_step:
        optimizer.zero_grad()
        batch_y0, batch_t, batch_y = get_batch(t, true_y, starts, batch_time)
        pred_y = odeint(func, batch_y0, batch_t)
        loss = torch.mean(torch.abs(pred_y - batch_y))
        loss.backward()
        grads.append(torch.cat([p.grad.flatten() for p in func.parameters()]).numpy().copy())
        optimizer.step()
        scheduler.step()
        loss_meter.update(loss.item())
        losses.append((loss.item(), loss_meter.avg))
        lrs.append(scheduler.get_last_lr()[0])
    with torch.no_grad():
        pred_y = odeint(func, true_y0, t)
        test_loss = torch.mean(torch.abs(pred_y - true_y)).item()
    jac = torch.autograd.functional.jacobian(lambda y: func(t[0], y), true_y0[0])
    return losses, lrs, grads, test_loss, pred_y.cpu().numpy(), true_y.cpu().numpy(), jac.cpu().numpy()
'''

PROGRAMS = (SINE_SEQUENCE, TEMPORAL_CONV_NET, NEURAL_ODE)


def _twins(source: str, *args: Any) -> tuple:
    """Both programs and their ``make_model(*args)``, minigrad's loaded with torch's initial weights."""
    return _twin_models(source, *args, imports=(TORCH_IMPORTS_SERIES, MINIGRAD_IMPORTS_SERIES))


def _assert_same_state(torch_model: Any, mg_model: Any, rtol: float, atol: float) -> None:
    ours = {k: v.numpy() for k, v in mg_model.state_dict().items()}
    theirs = {k: v.detach().numpy() for k, v in torch_model.state_dict().items()}
    assert ours.keys() == theirs.keys()
    for name in ours:
        assert ours[name].dtype == theirs[name].dtype, name
        np.testing.assert_allclose(ours[name], theirs[name], rtol=rtol, atol=atol, err_msg=name)


def test_the_programs_differ_only_in_their_imports() -> None:
    assert TORCH_IMPORTS_SERIES.count("\n") == MINIGRAD_IMPORTS_SERIES.count("\n") == 7
    for torch_line, mg_line in zip(TORCH_IMPORTS_SERIES.splitlines()[5:], MINIGRAD_IMPORTS_SERIES.splitlines()[5:]):
        assert torch_line.replace("torch", "minigrad") == mg_line
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. time sequence prediction


def _sine_waves(rows: int, length: int, period: float = 20.0, seed: int = 0) -> np.ndarray:
    """float64 (rows, length) sine waves, each row shifted by a random whole number of steps."""
    rng = np.random.default_rng(seed)
    steps = np.arange(length) + rng.integers(-4 * period, 4 * period, rows)[:, None]
    return np.sin(steps / period).astype(np.float64)


def test_time_sequence_prediction_with_lbfgs_in_float64(torch: Any) -> None:
    # rows and shifts where LBFGS's steps stay tame: where its first steps overshoot to losses of 1e3, a
    # 1e-15 change of torch's own initial weights moves its later losses by 1e-6 (float64 rounding amplified)
    data = _sine_waves(8, 13, seed=1)
    torch_program, torch_model, mg_program, mg_model, _ = _twins(SINE_SEQUENCE)
    expected = torch_program["train"](torch_model, data, 2)
    closure_losses, step_losses, test_losses, forecasts = mg_program["train"](mg_model, data, 2)
    assert len(closure_losses) == len(expected[0]) > 2   # LBFGS called the closure more than once a step
    np.testing.assert_allclose(closure_losses, expected[0], rtol=1e-10)
    np.testing.assert_allclose(step_losses, expected[1], rtol=1e-10)
    np.testing.assert_allclose(test_losses, expected[2], rtol=1e-10)
    for ours, theirs in zip(forecasts, expected[3]):
        assert ours.dtype == theirs.dtype == np.float64 and ours.shape == theirs.shape == (2, 12 + 4)
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    _assert_same_state(torch_model, mg_model, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------- 2. temporal convolutional network


def _adding_problem(count: int, length: int, seed: int) -> tuple:
    """float32 values (count, length) and, per row, the two marked positions (NumPy ints, as np.random.choice)."""
    rng = np.random.default_rng(seed)
    values = rng.random((count, length)).astype(np.float32)
    return values, [rng.choice(length, size=2, replace=False) for _ in range(count)]


@pytest.mark.filterwarnings("ignore:`torch.nn.utils.weight_norm` is deprecated:FutureWarning")
@pytest.mark.parametrize("parametrized", [False, True], ids=["legacy_weight_norm", "parametrizations"])
def test_temporal_conv_net_on_the_adding_problem(torch: Any, parametrized: bool) -> None:
    values, positions = _adding_problem(14, 10, 1)
    torch_program, torch_model, mg_program, mg_model, _ = _twins(TEMPORAL_CONV_NET, parametrized)
    names = [name for name, _ in mg_model.named_parameters()]
    assert names == [name for name, _ in torch_model.named_parameters()]
    assert ("tcn.network.0.conv1.weight_g" in names) != parametrized   # the two APIs name the pieces differently
    assert "tcn.network.0.downsample.weight" in names and "tcn.network.1.downsample.weight" not in names
    x, y = mg_program["data_generator"](values[:10], positions[:10])
    expected_x, expected_y = torch_program["data_generator"](values[:10], positions[:10])
    np.testing.assert_array_equal(x.numpy(), expected_x.numpy())
    np.testing.assert_array_equal(y.numpy(), expected_y.numpy())
    assert x.shape == (10, 2, 10) and (x.numpy()[:, 1].sum(axis=1) == 2).all()
    expected_losses, expected_norms, expected_grads = torch_program["train"](torch_model, expected_x, expected_y, 6)
    losses, norms, grads = mg_program["train"](mg_model, x, y, 6)   # batches of 4, 4, 2, then 4, 4, 2
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(norms, expected_norms, rtol=1e-5)
    assert grads.keys() == expected_grads.keys()
    for name in grads:
        np.testing.assert_allclose(grads[name], expected_grads[name], rtol=1e-4, atol=1e-7, err_msg=name)
    _assert_same_state(torch_model, mg_model, rtol=1e-4, atol=1e-6)
    test_loss, output = mg_program["evaluate"](mg_model, *mg_program["data_generator"](values[10:], positions[10:]))
    expected_test_loss, expected_output = torch_program["evaluate"](
        torch_model, *torch_program["data_generator"](values[10:], positions[10:]))
    assert test_loss == pytest.approx(expected_test_loss, rel=1e-5)
    np.testing.assert_allclose(output, expected_output, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- 3. neural ODE by hand-written RK4


def test_neural_ode_with_rk4_backprop_and_jacobian(torch: Any) -> None:
    rng = np.random.default_rng(2)
    starts_per_step = [rng.choice(np.arange(12 - 4, dtype=np.int64), 3, replace=False) for _ in range(5)]
    torch_program, torch_model, mg_program, mg_model, _ = _twins(NEURAL_ODE)
    expected = torch_program["train"](torch_model, starts_per_step)
    losses, lrs, grads, test_loss, pred_y, true_y, jac = mg_program["train"](mg_model, starts_per_step)
    np.testing.assert_allclose(true_y, expected[5], rtol=1e-6, atol=1e-6)   # |y| ~ 2: 1 ulp is 2.4e-7
    np.testing.assert_allclose(losses, expected[0], rtol=1e-5)
    assert lrs == pytest.approx(expected[1]) == [1e-2 * 0.9 ** (k + 1) for k in range(5)]
    np.testing.assert_allclose(np.stack(grads), np.stack(expected[2]), rtol=1e-4, atol=1e-7)
    assert test_loss == pytest.approx(expected[3], rel=1e-5)
    assert pred_y.shape == expected[4].shape == (12, 1, 2)
    np.testing.assert_allclose(pred_y, expected[4], rtol=1e-5, atol=1e-6)
    assert jac.shape == expected[6].shape == (2, 2) and jac.dtype == expected[6].dtype
    np.testing.assert_allclose(jac, expected[6], rtol=1e-5, atol=1e-7)
    _assert_same_state(torch_model, mg_model, rtol=1e-4, atol=1e-6)
