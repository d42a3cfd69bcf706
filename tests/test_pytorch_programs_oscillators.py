"""Four recurrent models read as dynamical systems, small, run on torch and on minigrad: only the imports differ.

Each program is our own rewrite of a well-known public PyTorch program (names, helpers and comments are ours),
cut to a tiny model and a few steps on data generated in the test, keeping the original's PyTorch calls in the
same roles (the helpers and the rule come from tests/test_pytorch_programs.py):

* ``CORNN`` follows the coupled oscillatory RNN of Rusch & Mishra ("Coupled Oscillatory Recurrent Neural Network
  (coRNN)", ICLR 2021, https://github.com/tk-rusch/coRNN): a cell of one ``nn.Linear`` on
  ``torch.cat((x, hz, hy), 1)`` whose ``tanh`` drives a damped oscillator, ``hz = hz + dt * (tanh(...) - gamma *
  hy - epsilon * hz)``, ``hy = hy + dt * hz``, on a permuted sequential-pixel task (images ``reshape(B, 1, P)
  .permute(2, 0, 1)``, a fixed ``torch.randperm`` buffer), ``nn.CrossEntropyLoss``, Adam, the learning rate cut by
  writing ``param_group["lr"]``, accuracy by ``output.max(1)[1]`` and ``eq(...).sum().item()`` under ``no_grad``;
* ``LIPSCHITZ_RNN`` follows Erichson et al.'s Lipschitz RNN ("Lipschitz Recurrent Neural Networks", ICLR 2021,
  https://github.com/erichson/LipschitzRNN) and Chang et al.'s antisymmetric RNN (ICLR 2019), in float64: hidden
  matrices ``A = beta * (M - M.T) + (1 - beta) * (M + M.T) - gamma * I`` rebuilt at each step, Euler and midpoint
  (RK2) steps of ``h' = A h + tanh(W h + U x)``, parameters drawn by ``torch.distributions.Normal(...).sample``,
  an antisymmetric cell with an input gate ``sigmoid`` of its own antisymmetric map, on the adding problem,
  Adam with two parameter groups (their own weight decays) under ``MultiStepLR``, ``clip_grad_norm_``;
* ``CFC`` follows the closed-form continuous-time (CfC) cell of Hasani et al. ("Closed-form continuous-time
  neural networks", Nature Machine Intelligence 2022, https://github.com/raminmh/CfC): a backbone MLP on
  ``torch.cat([x, h], 1)`` with LeCun's scaled tanh, the two heads ``ff1``/``ff2`` blended by the time gate
  ``sigmoid(t_a * ts + t_b)`` (and the gate-free and the "pure" closed form ``-A * torch.exp(-ts * (|w_tau| +
  |ff1|)) * ff1 + A``), irregular time stamps and missing observations forward-filled through a mask,
  ``nn.init.xavier_uniform_`` on the matrices, Adam under ``LambdaLR``, ``clip_grad_norm_``; and, in the same
  wrapper, the liquid time-constant cell it closes the form of (Hasani et al., AAAI 2021, as the ``ncps``
  package's ``LTCCell`` writes it): parameters made by ``register_parameter``, synapse gates
  ``torch.sigmoid(sigma * (torch.unsqueeze(v, -1) - mu))`` (B, N, N), ``nn.Softplus`` for positivity, and a fused
  semi-implicit Euler solver unfolded over the elapsed time;
* ``KOOPMAN_AE`` follows the Koopman autoencoders of Lusch, Kutz & Brunton ("Deep learning for universal linear
  embeddings of nonlinear dynamics", 2018) and Azencot et al.'s consistent Koopman autoencoder
  (https://github.com/erichson/koopmanAE), in float64: an MLP encoder/decoder (``xavier_normal_``), a linear
  latent map ``K`` (``nn.Linear(b, b, bias=False)``) started orthogonal from ``torch.svd`` (``U @ V.t()``) and a
  backward map started at ``torch.pinverse(K.t())``, the multi-step prediction loss through
  ``torch.linalg.matrix_power(K, k)``, the backward/forward consistency loss on leading blocks ``K[:, :k]``
  against ``torch.eye(k)``, a stability penalty ``F.relu(torch.linalg.eigvals(K).abs() - 1)``, AdamW with the
  learning rate decayed at set epochs, ``clip_grad_norm_``, a ``no_grad`` rollout, on pendulum trajectories
  lifted to a higher dimension.

Each program's losses, gradient norms, metrics and final weights are compared (float32 to ~1e-5, float64 to
~1e-10; eigenvalues, whose order is LAPACK's, sorted).

What the programs found in minigrad: every value, gradient and schedule agreed with torch on the first run.
Probing the linear algebra they lean on (a diverged K holds NaN) found that a LAPACK failure in ``eigvals``,
``eig``, ``svd``, ``svdvals``, ``pinv``, ``cond``, ``matrix_norm(ord=2)`` came out as a ``ShapeMismatchError`` and in
``matrix_rank`` as NumPy's own ``LinAlgError`` (a ValueError only), where torch raises ``torch.linalg.LinAlgError``;
they raise ``mg.linalg.LinAlgError`` now (``minigrad/ops/solvers.py``, ``decompositions.py``, ``least_squares.py``).
(torch 2.13's MKL build crashes on ``eigvals`` of a NaN matrix.) ``clip_grad_norm_(norm_type="fro")`` returned 0
for parameters without gradients where torch raises (``nn/utils/__init__.py``).

Not bugs: koopmanAE writes its initial matrices with ``weight.data = tensor``; minigrad's ``.data`` is the NumPy
array (README, "Coming from PyTorch"), so the program writes them with ``copy_`` under ``no_grad``; a real matrix
times a complex one (DMD's modes) promotes, by NumPy's rules (DESIGN §3), where torch's ``matmul`` refuses mixed
dtypes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from minigrad import nn  # noqa: F401 - the programs' import, paid at collection (as torch's), not in a test
from tests.test_pytorch_programs import _assert_same_weights, _twin_models
from tests.test_pytorch_programs_dynamics import _assert_same, _numpy
from tests.test_pytorch_programs_flow import _lean_torch  # noqa: F401 - autouse: torch lean, _dynamo imported in setup

CORNN = '''
class CoRNNCell(nn.Module):
    """One step of the coupled oscillators: input x (B, I), position hy and velocity hz (B, H)."""

    def __init__(self, n_inp, n_hid, dt, gamma, epsilon):
        super().__init__()
        self.dt, self.gamma, self.epsilon = dt, gamma, epsilon
        self.i2h = nn.Linear(n_inp + n_hid + n_hid, n_hid)

    def forward(self, x, hy, hz):
        force = torch.tanh(self.i2h(torch.cat((x, hz, hy), 1)))
        hz = hz + self.dt * (force - self.gamma * hy - self.epsilon * hz)
        hy = hy + self.dt * hz
        return hy, hz


class CoRNN(nn.Module):
    """A sequence (T, B, I) to class logits (B, C) read from the last position."""

    def __init__(self, n_inp, n_hid, n_out, dt=0.1, gamma=2.7, epsilon=4.7):
        super().__init__()
        self.n_hid = n_hid
        self.cell = CoRNNCell(n_inp, n_hid, dt, gamma, epsilon)
        self.readout = nn.Linear(n_hid, n_out)

    def forward(self, x):
        hy = torch.zeros(x.size(1), self.n_hid)
        hz = torch.zeros(x.size(1), self.n_hid)
        for t in range(x.size(0)):
            hy, hz = self.cell(x[t], hy, hz)
        return self.readout(hy)


def make_model(pixels=16, classes=4):
    model = CoRNN(1, 8, classes)
    model.register_buffer("perm", torch.randperm(pixels))   # the permuted task: one fixed pixel order
    return model


def as_sequence(model, images):
    """Images (B, 4, 4) to pixel sequences (P, B, 1) in the model's permuted order."""
    batch = images.shape[0]
    return images.reshape(batch, 1, -1)[:, :, model.perm].permute(2, 0, 1)


def test(model, images, labels):
    model.eval()
    correct = 0
    with torch.no_grad():
        output = model(as_sequence(model, images))
        pred = output.max(1)[1]
        correct += pred.eq(labels.view_as(pred)).sum().item()
    return 100.0 * correct / labels.size(0)


def train(model, images, labels, epochs=3, batch_size=8, lr=0.02):
    images, labels = torch.from_numpy(images), torch.from_numpy(labels)
    objective = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=lr)
    losses, accuracies = [], []
    for epoch in range(epochs):
        model.train()
        for start in range(0, images.shape[0], batch_size):
            optimizer.zero_grad()
            output = model(as_sequence(model, images[start:start + batch_size]))
            loss = objective(output, labels[start:start + batch_size])
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        accuracies.append(test(model, images, labels))
        if epoch == 1:
            for param_group in optimizer.param_groups:
                param_group["lr"] = lr / 10.0
    return losses, accuracies
'''


LIPSCHITZ_RNN = '''
def gaussian_init_(n_units, std=1.0):
    sampler = torch.distributions.Normal(torch.Tensor([0.0]), torch.Tensor([std / n_units]))
    return sampler.sample((n_units, n_units))[..., 0]


def symmetric_mix(M, beta, gamma, eye):
    """(1 - beta) (M + M^T) + beta (M - M^T) - gamma I: beta = 1 is antisymmetric, beta = 0 symmetric."""
    return (1 - beta) * (M + M.transpose(1, 0)) + beta * (M - M.transpose(1, 0)) - gamma * eye


class LipschitzRNN(nn.Module):
    """Inputs (B, T, I) to outputs (B, O): h' = A h + tanh(W h + U x) integrated by Euler or midpoint steps."""

    def __init__(self, n_inp, n_out, n_units, eps=0.1, beta=0.75, gamma=0.01, alpha=1.0, solver="euler"):
        super().__init__()
        self.n_units, self.eps, self.beta, self.gamma, self.alpha = n_units, eps, beta, gamma, alpha
        self.solver = solver
        self.E = nn.Linear(n_inp, n_units)
        self.D = nn.Linear(n_units, n_out)
        self.B = nn.Parameter(gaussian_init_(n_units, std=1.0))
        self.C = nn.Parameter(gaussian_init_(n_units, std=1.0))
        self.register_buffer("I", torch.eye(n_units))

    def field(self, h, z, A, W):
        return self.alpha * torch.matmul(h, A) + torch.tanh(torch.matmul(h, W) + z)

    def forward(self, x):
        h = torch.zeros(x.shape[0], self.n_units, dtype=x.dtype)
        for t in range(x.shape[1]):
            z = self.E(x[:, t, :])
            A = symmetric_mix(self.B, self.beta, self.gamma, self.I)
            W = symmetric_mix(self.C, self.beta, self.gamma, self.I)
            if self.solver == "euler":
                h = h + self.eps * self.field(h, z, A, W)
            else:
                half = h + 0.5 * self.eps * self.field(h, z, A, W)
                h = h + self.eps * self.field(half, z, A, W)
        return self.D(h)


class AntisymmetricRNN(nn.Module):
    """Chang et al.'s gated antisymmetric RNN: h += eps * sigmoid(gate) * tanh((W - W^T - gamma I) h + V x + b)."""

    def __init__(self, n_inp, n_out, n_units, eps=0.2, gamma=0.05):
        super().__init__()
        self.eps, self.gamma = eps, gamma
        self.W = nn.Parameter(gaussian_init_(n_units, std=2.0))
        self.W_gate = nn.Parameter(gaussian_init_(n_units, std=2.0))
        self.V = nn.Linear(n_inp, 2 * n_units)
        self.D = nn.Linear(n_units, n_out)

    def forward(self, x):
        n = self.W.shape[0]
        eye = torch.eye(n, dtype=x.dtype)
        h = x.new_zeros(x.shape[0], n)
        for t in range(x.shape[1]):
            drive, gate = self.V(x[:, t]).chunk(2, dim=-1)
            a = h @ symmetric_mix(self.W, 1.0, self.gamma, eye).T + drive
            g = torch.sigmoid(h @ symmetric_mix(self.W_gate, 1.0, self.gamma, eye).T + gate)
            h = h + self.eps * g * torch.tanh(a)
        return self.D(h)


def make_model(kind="lipschitz", solver="euler"):
    if kind == "lipschitz":
        return LipschitzRNN(2, 1, 6, solver=solver).double()
    return AntisymmetricRNN(2, 1, 6).double()


def train(model, x, y, epochs=4, batch_size=8, lr=0.01, clip=1.0):
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    recurrent = [p for name, p in model.named_parameters() if name in ("B", "C", "W", "W_gate")]
    others = [p for name, p in model.named_parameters() if name not in ("B", "C", "W", "W_gate")]
    optimizer = optim.Adam([{"params": recurrent, "weight_decay": 0.0},
                            {"params": others, "weight_decay": 1e-3}], lr=lr)
    scheduler = optim.lr_scheduler.MultiStepLR(optimizer, milestones=[1, 3], gamma=0.5)
    criterion = nn.MSELoss()
    losses, norms, lrs = [], [], []
    for _ in range(epochs):
        for start in range(0, x.shape[0], batch_size):
            optimizer.zero_grad()
            loss = criterion(model(x[start:start + batch_size]).squeeze(-1), y[start:start + batch_size])
            loss.backward()
            norms.append(nn.utils.clip_grad_norm_(model.parameters(), clip).item())
            optimizer.step()
            losses.append(loss.item())
        scheduler.step()
        lrs.append([group["lr"] for group in optimizer.param_groups])
    return losses, norms, lrs
'''


CFC = '''
class LeCun(nn.Module):
    def __init__(self):
        super().__init__()
        self.tanh = nn.Tanh()

    def forward(self, x):
        return 1.7159 * self.tanh(0.666 * x)


class CfcCell(nn.Module):
    """One closed-form step: input (B, I), state (B, H), elapsed time ts (B,) -> the new state (B, H)."""

    def __init__(self, input_size, hidden_size, mode="default", backbone_units=12, backbone_layers=2):
        super().__init__()
        self.hidden_size, self.mode = hidden_size, mode
        layers = [nn.Linear(input_size + hidden_size, backbone_units), LeCun()]
        for _ in range(1, backbone_layers):
            layers += [nn.Linear(backbone_units, backbone_units), LeCun(), nn.Dropout(0.0)]
        self.backbone = nn.Sequential(*layers)
        self.tanh, self.sigmoid = nn.Tanh(), nn.Sigmoid()
        self.ff1 = nn.Linear(backbone_units, hidden_size)
        if mode == "pure":
            self.w_tau = nn.Parameter(torch.zeros(1, hidden_size))
            self.A = nn.Parameter(torch.ones(1, hidden_size))
        else:
            self.ff2 = nn.Linear(backbone_units, hidden_size)
            self.time_a = nn.Linear(backbone_units, hidden_size)
            self.time_b = nn.Linear(backbone_units, hidden_size)
        self.init_weights()

    def init_weights(self):
        for w in self.parameters():
            if w.dim() == 2 and w.requires_grad:
                nn.init.xavier_uniform_(w)

    def forward(self, input, hx, ts):
        ts = ts.view(input.size(0), 1)
        x = self.backbone(torch.cat([input, hx], 1))
        if self.mode == "pure":
            ff1 = self.ff1(x)
            return -self.A * torch.exp(-ts * (torch.abs(self.w_tau) + torch.abs(ff1))) * ff1 + self.A
        ff1 = self.tanh(self.ff1(x))
        ff2 = self.tanh(self.ff2(x))
        t_interp = self.sigmoid(self.time_a(x) * ts + self.time_b(x))
        if self.mode == "no_gate":
            return ff1 + t_interp * ff2
        return ff1 * (1.0 - t_interp) + t_interp * ff2


class LTCCell(nn.Module):
    """The liquid time-constant cell: the ODE dv/dt = -(1/tau + f) v + f A of conductance-based synapses, solved by
    ode_unfolds fused semi-implicit Euler steps over the elapsed time ts (B,); positivity by softplus."""

    def __init__(self, input_size, hidden_size, ode_unfolds=4, epsilon=1e-8):
        super().__init__()
        self.hidden_size, self.ode_unfolds, self.epsilon = hidden_size, ode_unfolds, epsilon
        self.softplus = nn.Softplus()
        n, m = hidden_size, input_size
        self.add_weight("gleak", torch.rand(n) * 0.999 + 0.001)
        self.add_weight("vleak", torch.rand(n) * 0.4 - 0.2)
        self.add_weight("cm", torch.rand(n) * 0.2 + 0.4)
        self.add_weight("sigma", torch.rand(n, n) * 5 + 3)
        self.add_weight("mu", torch.rand(n, n) * 0.5 + 0.3)
        self.add_weight("w", torch.rand(n, n) * 0.99 + 0.01)
        self.add_weight("erev", 2 * torch.randint(0, 2, (n, n)).float() - 1)
        self.add_weight("sensory_sigma", torch.rand(m, n) * 5 + 3)
        self.add_weight("sensory_mu", torch.rand(m, n) * 0.5 + 0.3)
        self.add_weight("sensory_w", torch.rand(m, n) * 0.99 + 0.01)
        self.add_weight("sensory_erev", 2 * torch.randint(0, 2, (m, n)).float() - 1)
        self.add_weight("input_w", torch.ones(m))
        self.add_weight("input_b", torch.zeros(m))

    def add_weight(self, name, init_value):
        param = nn.Parameter(init_value)
        self.register_parameter(name, param)
        return param

    @staticmethod
    def gate(v_pre, mu, sigma):
        """sigmoid(sigma (v_pre - mu)) for each synapse: v_pre (B, N) -> (B, N, M)."""
        return torch.sigmoid(sigma * (torch.unsqueeze(v_pre, -1) - mu))

    def forward(self, input, hx, ts):
        inputs = input * self.input_w + self.input_b
        sensory = self.softplus(self.sensory_w) * self.gate(inputs, self.sensory_mu, self.sensory_sigma)
        numerator_sensory = torch.sum(sensory * self.sensory_erev, dim=1)
        denominator_sensory = torch.sum(sensory, dim=1)
        cm_t = self.softplus(self.cm) / (ts.view(-1, 1) / self.ode_unfolds)
        w_param, gleak = self.softplus(self.w), self.softplus(self.gleak)
        v_pre = hx
        for _ in range(self.ode_unfolds):
            w_activation = w_param * self.gate(v_pre, self.mu, self.sigma)
            numerator = cm_t * v_pre + gleak * self.vleak + torch.sum(w_activation * self.erev, dim=1) \
                + numerator_sensory
            denominator = cm_t + gleak + torch.sum(w_activation, dim=1) + denominator_sensory
            v_pre = numerator / (denominator + self.epsilon)
        return v_pre


class Cfc(nn.Module):
    """Irregularly sampled inputs (B, T, I) with elapsed times (B, T, 1) and an observation mask (B, T, I) to an
    output at each step (B, T, O); a missing input repeats the last one seen."""

    def __init__(self, in_features, hidden_size, out_feature, mode="default"):
        super().__init__()
        self.hidden_size = hidden_size
        if mode == "ltc":
            self.rnn_cell = LTCCell(2 * in_features, hidden_size)
        else:
            self.rnn_cell = CfcCell(2 * in_features, hidden_size, mode)
        self.fc = nn.Linear(hidden_size, out_feature)

    def forward(self, x, timespans, mask):
        batch_size, seq_len, features = x.size()
        h_state = torch.zeros((batch_size, self.hidden_size), device=x.device)
        forwarded_input = torch.zeros((batch_size, features), device=x.device)
        output_sequence = []
        for t in range(seq_len):
            inputs = x[:, t]
            forwarded_input = mask[:, t] * inputs + (1 - mask[:, t]) * forwarded_input
            h_state = self.rnn_cell.forward(torch.cat((forwarded_input, mask[:, t]), dim=1), h_state,
                                            timespans[:, t].squeeze())
            output_sequence.append(self.fc(h_state))
        return torch.stack(output_sequence, dim=1)


def make_model(mode="default"):
    return Cfc(1, 6, 1, mode=mode)


def train(model, x, timespans, mask, y, epochs=3, batch_size=4, lr=0.02, decay=0.9):
    x, timespans, mask, y = (torch.tensor(a) for a in (x, timespans, mask, y))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: decay ** epoch)
    losses, norms, lrs = [], [], []
    for _ in range(epochs):
        for start in range(0, x.shape[0], batch_size):
            rows = slice(start, start + batch_size)
            optimizer.zero_grad()
            y_hat = model(x[rows], timespans[rows], mask[rows])
            loss = F.mse_loss(y_hat, y[rows])
            loss.backward()
            norms.append(float(nn.utils.clip_grad_norm_(model.parameters(), 1.0)))
            optimizer.step()
            losses.append(loss.item())
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
    model.eval()
    with torch.no_grad():
        prediction = model(x[:2], timespans[:2], mask[:2])
    return losses, norms, lrs, prediction
'''


KOOPMAN_AE = '''
def gaussian_init_(n_units, std=1.0):
    sampler = torch.distributions.Normal(torch.Tensor([0.0]), torch.Tensor([std / n_units]))
    return sampler.sample((n_units, n_units))[..., 0]


class EncoderNet(nn.Module):
    def __init__(self, m, b, width=16):
        super().__init__()
        self.tanh = nn.Tanh()
        self.fc1, self.fc2, self.fc3 = nn.Linear(m, width), nn.Linear(width, width), nn.Linear(width, b)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_normal_(module.weight)

    def forward(self, x):
        return self.fc3(self.tanh(self.fc2(self.tanh(self.fc1(x)))))


class DecoderNet(nn.Module):
    def __init__(self, m, b, width=16):
        super().__init__()
        self.tanh = nn.Tanh()
        self.fc1, self.fc2, self.fc3 = nn.Linear(b, width), nn.Linear(width, width), nn.Linear(width, m)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_normal_(module.weight)

    def forward(self, z):
        return self.fc3(self.tanh(self.fc2(self.tanh(self.fc1(z)))))


class Dynamics(nn.Module):
    """The latent step z -> K z, K started orthogonal (U V^T of a Gaussian matrix) times init_scale."""

    def __init__(self, b, init_scale):
        super().__init__()
        self.dynamics = nn.Linear(b, b, bias=False)
        U, _, V = torch.svd(gaussian_init_(b, std=1.0))
        with torch.no_grad():
            self.dynamics.weight.copy_(torch.mm(U, V.t()) * init_scale)

    def forward(self, z):
        return self.dynamics(z)


class BackDynamics(nn.Module):
    def __init__(self, b, forward_dynamics):
        super().__init__()
        self.dynamics = nn.Linear(b, b, bias=False)
        with torch.no_grad():
            self.dynamics.weight.copy_(torch.pinverse(forward_dynamics.dynamics.weight.t()))

    def forward(self, z):
        return self.dynamics(z)


class KoopmanAE(nn.Module):
    def __init__(self, m, b, init_scale=1.05):
        super().__init__()
        self.encoder = EncoderNet(m, b)
        self.dynamics = Dynamics(b, init_scale)
        self.backdynamics = BackDynamics(b, self.dynamics)
        self.decoder = DecoderNet(m, b)

    def forward(self, x, steps, mode="forward"):
        """x (B, m) -> the predictions of the next (or previous) `steps` states, and x's reconstruction."""
        z = self.encoder(x.contiguous())
        q = z.contiguous()
        step = self.dynamics if mode == "forward" else self.backdynamics
        out = []
        for _ in range(steps):
            q = step(q)
            out.append(self.decoder(q))
        return out, self.decoder(z.contiguous())


def make_model(m=6, b=4):
    return KoopmanAE(m, b).double()


def consistency_loss(A, B):
    """The leading blocks of the backward map undo those of the forward one: sum_k ||B_k A_k - I_k||^2 / 2k."""
    loss = 0.0
    K = A.shape[-1]
    for k in range(1, K + 1):
        Ik = torch.eye(k, dtype=A.dtype)
        loss += (torch.sum((torch.mm(B[:k, :], A[:, :k]) - Ik) ** 2)
                 + torch.sum((torch.mm(A[:k, :], B[:, :k]) - Ik) ** 2)) / (2.0 * k)
    return loss


def multistep_loss(model, window, criterion):
    """Latent linearity over a window (B, S + 1, m): decode z_0 K^k and compare with x_k and encoder(x_k)."""
    K = model.dynamics.dynamics.weight
    z0 = model.encoder(window[:, 0])
    loss = 0.0
    for k in range(1, window.shape[1]):
        zk = z0 @ torch.linalg.matrix_power(K, k).T
        loss = loss + criterion(model.decoder(zk), window[:, k]) + 0.1 * criterion(zk, model.encoder(window[:, k]))
    return loss / (window.shape[1] - 1)


def lr_decay(optimizer, epoch, rate=0.5, decay_epochs=(2, 4)):
    if epoch in decay_epochs:
        for param_group in optimizer.param_groups:
            param_group["lr"] *= rate
    return optimizer.param_groups[0]["lr"]


def train(model, windows, epochs=5, batch_size=4, steps=3, lr=0.01, lam=1.0, nu=0.1, eta=0.1, clip=0.5):
    windows = torch.from_numpy(windows)
    criterion = nn.MSELoss()
    optimizer = optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    history = {"loss": [], "consist": [], "stability": [], "norm": [], "lr": []}
    for epoch in range(epochs):
        for start in range(0, windows.shape[0], batch_size):
            batch = windows[start:start + batch_size]
            model.train()
            out, identity = model(batch[:, 0], steps)
            loss_fwd = sum(criterion(out[k], batch[:, k + 1]) for k in range(steps))
            back, _ = model(batch[:, -1], steps, mode="backward")
            loss_bwd = sum(criterion(back[k], batch[:, -k - 2]) for k in range(steps))
            A, B = model.dynamics.dynamics.weight, model.backdynamics.dynamics.weight
            consist = consistency_loss(A, B)
            stability = F.relu(torch.linalg.eigvals(A).abs() - 1.0).pow(2).sum()
            loss = (loss_fwd + lam * criterion(identity, batch[:, 0]) + nu * loss_bwd + eta * consist
                    + multistep_loss(model, batch, criterion) + stability)
            optimizer.zero_grad()
            loss.backward()
            history["norm"].append(torch.nn.utils.clip_grad_norm_(model.parameters(), clip).item())
            optimizer.step()
            history["loss"].append(loss.item())
            history["consist"].append(consist.item())
            history["stability"].append(stability.item())
        history["lr"].append(lr_decay(optimizer, epoch + 1))
    return history


def rollout(model, x0, steps):
    model.eval()
    with torch.no_grad():
        out, identity = model(x0, steps)
    return torch.stack([identity] + out, dim=1), torch.linalg.eigvals(model.dynamics.dynamics.weight)
'''

PROGRAMS = (CORNN, LIPSCHITZ_RNN, CFC, KOOPMAN_AE)


def test_the_programs_differ_only_in_their_imports() -> None:
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. coRNN


def _pixel_digits(count: int, classes: int, seed: int) -> tuple:
    """(count, 4, 4) float32 images: one 4x4 template per class plus noise, and their int64 labels."""
    rng = np.random.default_rng(seed)
    templates = rng.random((classes, 4, 4)) > 0.5
    labels = rng.integers(0, classes, count)
    images = templates[labels] + 0.3 * rng.standard_normal((count, 4, 4))
    return images.astype(np.float32), labels.astype(np.int64)


def test_coupled_oscillatory_rnn_on_permuted_pixels(torch: Any) -> None:
    images, labels = _pixel_digits(24, 4, 0)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(CORNN)
    assert np.array_equal(mg_model.perm.numpy(), torch_model.perm.numpy())   # a buffer: copied with the state
    expected = torch_program["train"](torch_model, images, labels)
    result = mg_program["train"](mg_model, images, labels)
    _assert_same(result, expected, rtol=1e-5, atol=1e-6)
    _assert_same_weights(torch_model, mg_model, initial)
    assert expected[0][-1] < expected[0][0]


# ----------------------------------------------------------------------------- 2. Lipschitz / antisymmetric RNN


def _adding_problem(count: int, length: int, seed: int) -> tuple:
    """Inputs (count, length, 2): values in [0, 1) and a marker on two steps; targets: the two marked values' sum."""
    rng = np.random.default_rng(seed)
    values = rng.random((count, length))
    marks = np.zeros((count, length))
    for row in range(count):
        marks[row, rng.choice(length, 2, replace=False)] = 1.0
    return np.stack([values, marks], axis=-1), (values * marks).sum(1)


@pytest.mark.parametrize(("kind", "solver"), [("lipschitz", "euler"), ("lipschitz", "midpoint"),
                                              ("antisymmetric", None)])
def test_lipschitz_and_antisymmetric_rnns_on_the_adding_problem(torch: Any, kind: str, solver: str | None) -> None:
    x, y = _adding_problem(16, 8, 1)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(LIPSCHITZ_RNN, kind, solver)
    expected = torch_program["train"](torch_model, x, y)
    result = mg_program["train"](mg_model, x, y)
    _assert_same(result, expected, rtol=1e-10, atol=1e-12)
    _assert_same_weights(torch_model, mg_model, initial)
    assert expected[2][-1] == [0.0025, 0.0025]   # MultiStepLR halved both groups twice
    ours = {k: v.numpy() for k, v in mg_model.state_dict().items()}
    for name, value in torch_model.state_dict().items():
        np.testing.assert_allclose(ours[name], value.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


# ----------------------------------------------------------------------------- 3. CfC


def _irregular_sines(count: int, length: int, seed: int) -> tuple:
    """Sines of random frequency and phase seen at irregular times, a third of the values missing.

    Returns inputs (count, length, 1), elapsed times (count, length, 1), mask (count, length, 1) and the targets
    (count, length, 1), the cosine at each time stamp; all float32."""
    rng = np.random.default_rng(seed)
    times = np.cumsum(rng.uniform(0.05, 0.6, (count, length)), axis=1)
    spans = np.diff(times, axis=1, prepend=0.0)
    omega, phase = rng.uniform(0.5, 2.0, (count, 1)), rng.uniform(0, np.pi, (count, 1))
    mask = (rng.random((count, length)) > 1 / 3).astype(np.float64)
    x = np.sin(omega * times + phase) * mask
    y = np.cos(omega * times + phase)
    return tuple(a[..., None].astype(np.float32) for a in (x, spans, mask, y))


@pytest.mark.parametrize("mode", ["default", "no_gate", "pure", "ltc"])
def test_closed_form_continuous_time_cell_on_irregular_series(torch: Any, mode: str) -> None:
    data = _irregular_sines(8, 6, 2)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(CFC, mode)
    expected = torch_program["train"](torch_model, *data)
    result = mg_program["train"](mg_model, *data)
    _assert_same(result, expected, rtol=1e-5, atol=1e-6)
    _assert_same_weights(torch_model, mg_model, initial)
    assert tuple(result[3].shape) == (2, 6, 1) and expected[2][-1] == pytest.approx(0.02 * 0.9 ** 3)


# ----------------------------------------------------------------------------- 4. Koopman autoencoder


def _pendulum_windows(count: int, length: int, lift: int, seed: int) -> np.ndarray:
    """Windows (count, length, lift) of a frictionless pendulum (RK4, dt 0.1) seen through a fixed random linear map
    of its (angle, velocity) to `lift` dims, float64."""
    rng = np.random.default_rng(seed)
    state = np.stack([rng.uniform(-1.5, 1.5, count), rng.uniform(-0.5, 0.5, count)], axis=1)

    def field(s: np.ndarray) -> np.ndarray:
        return np.stack([s[:, 1], -np.sin(s[:, 0])], axis=1)

    states = [state]
    for _ in range(length - 1):
        s, dt = states[-1], 0.1
        k1 = field(s)
        k2 = field(s + dt / 2 * k1)
        k3 = field(s + dt / 2 * k2)
        k4 = field(s + dt * k3)
        states.append(s + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4))
    return np.stack(states, axis=1) @ rng.standard_normal((2, lift)) / np.sqrt(2)


def test_koopman_autoencoder_with_consistency_and_stability(torch: Any) -> None:
    windows = _pendulum_windows(12, 4, 6, 3)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(KOOPMAN_AE)
    K = torch_model.dynamics.dynamics.weight.detach().numpy()
    np.testing.assert_allclose(K @ K.T, 1.05 ** 2 * np.eye(4), atol=1e-6)   # torch.svd (float32): U V^T is orthogonal
    expected = torch_program["train"](torch_model, windows)
    result = mg_program["train"](mg_model, windows)
    _assert_same(result, expected, rtol=1e-9, atol=1e-11)
    assert expected["stability"][0] > 0 and expected["stability"][-1] < expected["stability"][0]
    _assert_same_weights(torch_model, mg_model, initial)
    ours = {k: v.numpy() for k, v in mg_model.state_dict().items()}
    for name, value in torch_model.state_dict().items():
        np.testing.assert_allclose(ours[name], value.numpy(), rtol=1e-9, atol=1e-11, err_msg=name)
    x0 = windows[:3, 0]
    trajectory, eigenvalues = torch_program["rollout"](torch_model, torch.from_numpy(x0), 5)
    mg = mg_program["torch"]
    mg_trajectory, mg_eigenvalues = mg_program["rollout"](mg_model, mg.from_numpy(x0), 5)
    _assert_same(mg_trajectory, trajectory, rtol=1e-9, atol=1e-11)
    assert mg_eigenvalues.dtype == mg.complex128
    np.testing.assert_allclose(np.sort_complex(_numpy(mg_eigenvalues)), np.sort_complex(_numpy(eigenvalues)),
                               rtol=1e-9, atol=1e-11)


# ----------------------------------------------------------------------------- regressions: what the probes found


def test_a_lapack_failure_is_torch_linalg_error(torch: Any) -> None:
    """A NaN in K (a diverged run) made eigvals/eig/svd/svdvals/pinv/cond/matrix_norm(ord=2) raise NumPy's failure as
    a ShapeMismatchError and matrix_rank NumPy's own LinAlgError (a ValueError only), which a program's
    ``except torch.linalg.LinAlgError`` (torch's class for svd of a non-finite input) let through."""
    import minigrad as mg  # noqa: PLC0415

    broken = np.array([[np.nan, 0.5], [0.2, 1.0]])
    with pytest.raises(torch.linalg.LinAlgError):
        torch.linalg.svdvals(torch.from_numpy(broken))
    calls = (mg.linalg.eigvals, mg.linalg.svdvals, mg.linalg.matrix_rank, mg.linalg.pinv, mg.linalg.cond,
             lambda a: mg.linalg.eig(a)[0], lambda a: mg.linalg.svd(a)[1], lambda a: mg.linalg.matrix_norm(a, ord=2))
    for call in calls:
        with pytest.raises(mg.linalg.LinAlgError, match=r"linalg\.\w+: .*shape \(2, 2\), dtype float64"):
            call(mg.tensor(broken, requires_grad=True))
    assert issubclass(mg.linalg.LinAlgError, RuntimeError)
    assert not np.isnan(mg.linalg.eigvalsh(mg.tensor(broken)).numpy()).any()   # eigh reads one triangle, as torch


def test_clip_grad_norm_reads_norm_type_before_looking_for_gradients(torch: Any) -> None:
    """clip_grad_norm_(norm_type="fro") of parameters without gradients (the first step of a program) returned 0
    where torch raises; with gradients both raised. Now the norm type is read first, as torch's."""
    import minigrad as mg  # noqa: PLC0415

    for lib in (torch, mg):
        fresh = lib.nn.Parameter(lib.ones(2))
        with pytest.raises(ValueError, match="could not convert"):
            lib.nn.utils.clip_grad_norm_([fresh], 1.0, norm_type="fro")
        with pytest.raises(TypeError):
            lib.nn.utils.get_total_norm([], norm_type=None)
        assert float(lib.nn.utils.clip_grad_norm_([fresh], 1.0, norm_type="inf")) == 0.0
