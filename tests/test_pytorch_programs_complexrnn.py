"""Complex-valued recurrent and spectral models, small, run on torch and on minigrad: only the imports differ.

Each program is our own rewrite of a well-known public PyTorch program (names, helpers and comments are ours),
cut to a tiny model and a few steps on data generated in the test, keeping the original's PyTorch calls in the
same roles (the helpers and the rule come from tests/test_pytorch_programs.py):

* ``UNITARY_RNN`` is the unitary-evolution RNN of Arjovsky, Shah & Bengio (2016) as its PyTorch ports write it:
  the recurrent matrix W = D3 R2 F^-1 D2 P R1 F D1 applied factor by factor to a complex hidden state, the
  diagonal phase matrices as ``torch.polar(ones, theta)``, ``torch.exp(1j * theta)`` and
  ``torch.complex(cos, sin)``, complex Householder reflections ``h - 2 v (v^H h) / ||v||^2`` built from two real
  parameter rows, ``torch.fft.fft``/``ifft`` with ``norm="ortho"`` along the hidden dim, a fixed permutation
  buffer from ``torch.randperm``; the modReLU nonlinearity ``relu(|z| + b) * z / (|z| + eps)``; inputs through a
  complex Linear made of two real ``nn.Linear``; the read-out from ``cat([h.real, h.imag])``; the copying-memory
  task (symbols, blanks, a delimiter, then the symbols recalled) under ``F.cross_entropy`` and RMSprop;
* ``COMPLEX_GRU`` is a complex-valued recurrent network in the style of the complex-RNN literature (Wolter &
  Yao's complex gated units, the ``complexPyTorch`` layers): ``nn.Parameter(torch.randn(..., dtype=cfloat))``
  weights, a GRU step with split-complex gates (sigmoid and tanh applied to ``.real`` and ``.imag`` apart,
  rejoined with ``torch.complex``), an Elman step on a complex ``nn.Linear(..., dtype=cfloat)`` with modReLU,
  ``.T``/``.t()``/``.mT`` on complex matrices, ``unbind`` over time; the loss ``F.mse_loss`` of
  ``torch.view_as_real`` outputs; Adam stepping the complex parameters (as PyTorch's does, through
  ``view_as_real``); the gradients of every step read with ``view_as_real`` — in complex64 and complex128;
* ``SPECTRAL_MODEL`` mixes a sequence in the frequency domain: Hyena's FFT long convolution (``rfft`` of the
  sequence and of a learned filter as long as the sequence, both with ``n=2T``, multiplied, ``irfft(n=2T)``
  and truncated to T, plus a skip term), FNet's token mixing ``torch.fft.fft2(x).real``, gated by GELU,
  with LayerNorm, AdamW and ``clip_grad_norm_``.

What these programs and their probes found in minigrad, each with a regression test below: ``nn.Linear``
refused a complex ``dtype``; ``nn.init``'s uniform/normal/xavier/kaiming fillers refused complex tensors; the
in-place ``uniform_``/``normal_`` of a complex tensor drew the imaginary part in [0, b - a) and about 0 rather
than in [a, b) and about ``mean``; RMSprop, Adagrad, Adamax, NAdam, RAdam, Adadelta, ASGD and Rprop refused
complex parameters (PyTorch steps them as their real and imaginary parts; Adagrad's ``sum`` starts at
``initial_accumulator_value`` in both parts); ``torch.vdot`` and ``F.normalize`` refused complex tensors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn  # noqa: F401 - the programs' import, paid at collection (as torch's), not in a test
from tests.test_pytorch_programs import _twin_models
from tests.test_pytorch_programs_flow import _lean_torch  # noqa: F401 - autouse: torch lean, _dynamo imported in setup

UNITARY_RNN = '''
class ComplexLinear(nn.Module):
    """A real input (B, I) to a complex output (B, H): two real Linears, one per part."""

    def __init__(self, in_features, out_features):
        super().__init__()
        self.real_part = nn.Linear(in_features, out_features)
        self.imag_part = nn.Linear(in_features, out_features)

    def forward(self, x):
        return torch.complex(self.real_part(x), self.imag_part(x))


def mod_relu(z, bias, eps=1e-5):
    """modReLU: keep the phase of z, shift its modulus by a learned bias and rectify it."""
    modulus = z.abs()
    return F.relu(modulus + bias) * (z / (modulus + eps))


def reflect(h, vector):
    """The complex Householder reflection (I - 2 v v^H / ||v||^2) applied to each row of h: (B, N)."""
    projection = (h * vector.conj()).sum(dim=-1, keepdim=True)
    return h - 2.0 * projection * vector / vector.abs().pow(2).sum()


class UnitaryMatrix(nn.Module):
    """W = D3 R2 F^-1 D2 P R1 F D1 on the hidden state: phases, reflections, a permutation and FFTs."""

    def __init__(self, n):
        super().__init__()
        self.theta1 = nn.Parameter(torch.empty(n).uniform_(-math.pi, math.pi))
        self.theta2 = nn.Parameter(torch.empty(n).uniform_(-math.pi, math.pi))
        self.theta3 = nn.Parameter(torch.empty(n).uniform_(-math.pi, math.pi))
        self.reflection1 = nn.Parameter(torch.randn(2, n))
        self.reflection2 = nn.Parameter(torch.randn(2, n))
        self.register_buffer("permutation", torch.randperm(n))

    def forward(self, h):
        h = h * torch.polar(torch.ones_like(self.theta1), self.theta1)
        h = torch.fft.fft(h, dim=-1, norm="ortho")
        h = reflect(h, torch.complex(self.reflection1[0], self.reflection1[1]))
        h = h[:, self.permutation]
        h = h * torch.exp(1j * self.theta2)
        h = torch.fft.ifft(h, dim=-1, norm="ortho")
        h = reflect(h, torch.complex(self.reflection2[0], self.reflection2[1]))
        return h * torch.complex(torch.cos(self.theta3), torch.sin(self.theta3))


class UnitaryRNN(nn.Module):
    """One-hot symbols (B, T, K) to logits (B, T, C): h_t = modReLU(W h_{t-1} + V x_t), read out from
    [Re h, Im h]."""

    def __init__(self, symbols, hidden_size, classes):
        super().__init__()
        self.hidden_size = hidden_size
        self.recurrence = UnitaryMatrix(hidden_size)
        self.input_map = ComplexLinear(symbols, hidden_size)
        self.mod_bias = nn.Parameter(torch.zeros(hidden_size))
        self.readout = nn.Linear(2 * hidden_size, classes)

    def forward(self, x):
        batch, steps = x.shape[0], x.shape[1]
        h = torch.zeros(batch, self.hidden_size, dtype=torch.complex64)
        outputs = []
        for t in range(steps):
            h = mod_relu(self.recurrence(h) + self.input_map(x[:, t]), self.mod_bias)
            outputs.append(self.readout(torch.cat([h.real, h.imag], dim=-1)))
        return torch.stack(outputs, dim=1)


def make_model(symbols=10, hidden_size=8, classes=9):
    return UnitaryRNN(symbols, hidden_size, classes)


def train(model, inputs, targets, steps, lr=1e-3):
    """The copying-memory task: RMSprop on the cross-entropy of every step's prediction."""
    inputs = F.one_hot(torch.from_numpy(inputs), 10).float()
    targets = torch.from_numpy(targets)
    optimizer = optim.RMSprop(model.parameters(), lr=lr, alpha=0.9)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        logits = model(inputs)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
'''

COMPLEX_GRU = '''
def split_sigmoid(z):
    return torch.complex(torch.sigmoid(z.real), torch.sigmoid(z.imag))


def split_tanh(z):
    return torch.complex(torch.tanh(z.real), torch.tanh(z.imag))


def mod_relu(z, bias, eps=1e-6):
    modulus = torch.abs(z)
    return F.relu(modulus + bias) * z / (modulus + eps)


class ComplexGRUCell(nn.Module):
    """A GRU step on complex values x: (B, I), h: (B, H), with complex weights and split-complex gates."""

    def __init__(self, input_size, hidden_size, dtype):
        super().__init__()
        self.weight_ih = nn.Parameter(torch.randn(3 * hidden_size, input_size, dtype=dtype) / math.sqrt(input_size))
        self.weight_hh = nn.Parameter(torch.randn(3 * hidden_size, hidden_size, dtype=dtype) / math.sqrt(hidden_size))
        self.bias_ih = nn.Parameter(torch.zeros(3 * hidden_size, dtype=dtype))
        self.bias_hh = nn.Parameter(torch.zeros(3 * hidden_size, dtype=dtype))

    def forward(self, x, h):
        gates_x = x @ self.weight_ih.T + self.bias_ih
        gates_h = torch.matmul(h, self.weight_hh.t()) + self.bias_hh
        reset_x, update_x, new_x = gates_x.chunk(3, dim=-1)
        reset_h, update_h, new_h = gates_h.chunk(3, dim=-1)
        reset = split_sigmoid(reset_x + reset_h)
        update = split_sigmoid(update_x + update_h)
        candidate = split_tanh(new_x + reset * new_h)
        return (1 - update) * candidate + update * h


class ComplexRNNCell(nn.Module):
    """An Elman step on complex values with a modReLU nonlinearity (a real bias on the modulus)."""

    def __init__(self, input_size, hidden_size, dtype):
        super().__init__()
        self.input_map = nn.Linear(input_size, hidden_size, dtype=dtype)
        self.weight_hh = nn.Parameter(torch.randn(hidden_size, hidden_size, dtype=dtype) / math.sqrt(hidden_size))
        self.mod_bias = nn.Parameter(torch.full((hidden_size,), -0.1, dtype=self.input_map.weight.real.dtype))

    def forward(self, x, h):
        return mod_relu(self.input_map(x) + h @ self.weight_hh.mT, self.mod_bias)


class ComplexSequenceModel(nn.Module):
    """Complex sequences (B, T, I) to complex sequences (B, T, O): a GRU cell, then an Elman cell."""

    def __init__(self, input_size, hidden_size, output_size, dtype):
        super().__init__()
        self.hidden_size, self.dtype = hidden_size, dtype
        self.gru = ComplexGRUCell(input_size, hidden_size, dtype)
        self.rnn = ComplexRNNCell(hidden_size, hidden_size, dtype)
        self.readout = nn.Parameter(torch.randn(output_size, hidden_size, dtype=dtype) * 0.3)

    def forward(self, x):
        h1 = torch.zeros(x.size(0), self.hidden_size, dtype=self.dtype)
        h2 = torch.zeros_like(h1)
        outputs = []
        for step in x.unbind(1):
            h1 = self.gru(step, h1)
            h2 = self.rnn(h1, h2)
            outputs.append(h2 @ self.readout.T)
        return torch.stack(outputs, 1)


def make_model(dtype_name, input_size=3, hidden_size=6, output_size=2):
    return ComplexSequenceModel(input_size, hidden_size, output_size, getattr(torch, dtype_name))


def train(model, inputs, targets, steps, lr=0.01):
    inputs, targets = torch.from_numpy(inputs), torch.from_numpy(targets)
    optimizer = optim.Adam(model.parameters(), lr=lr)
    losses, gradients = [], []
    for _ in range(steps):
        optimizer.zero_grad()
        prediction = model(inputs)
        loss = F.mse_loss(torch.view_as_real(prediction), torch.view_as_real(targets))
        loss.backward()
        gradients.append({name: torch.view_as_real(p.grad).clone() if p.is_complex() else p.grad.clone()
                          for name, p in model.named_parameters()})
        optimizer.step()
        losses.append(loss.item())
    return losses, gradients
'''

SPECTRAL_MODEL = '''
class GlobalConvolution(nn.Module):
    """A learned filter as long as the sequence, applied by FFT (Hyena-style): u: (B, C, T) -> (B, C, T)."""

    def __init__(self, channels, length):
        super().__init__()
        self.filter = nn.Parameter(torch.randn(channels, length) * 0.2)
        self.skip = nn.Parameter(torch.ones(channels))

    def forward(self, u):
        length = u.size(-1)
        filter_f = torch.fft.rfft(self.filter, n=2 * length)
        u_f = torch.fft.rfft(u, n=2 * length)
        y = torch.fft.irfft(u_f * filter_f, n=2 * length, norm="forward")[..., :length]
        return y / (2 * length) + u * self.skip.unsqueeze(-1)


class FourierMixing(nn.Module):
    """FNet's token mixing: the real part of the 2-D FFT over (T, D)."""

    def forward(self, x):
        return torch.fft.fft2(x).real


class SpectralBlock(nn.Module):
    def __init__(self, width, length):
        super().__init__()
        self.mixing = FourierMixing()
        self.norm1 = nn.LayerNorm(width)
        self.in_proj = nn.Linear(width, 2 * width)
        self.conv = GlobalConvolution(width, length)
        self.norm2 = nn.LayerNorm(width)
        self.out_proj = nn.Linear(width, width)

    def forward(self, x):
        x = self.norm1(x + self.mixing(x))
        gate, value = self.in_proj(x).chunk(2, dim=-1)
        mixed = self.conv(value.transpose(1, 2)).transpose(1, 2)
        return self.norm2(x + self.out_proj(F.gelu(gate) * mixed))


class SpectralRegressor(nn.Module):
    def __init__(self, features, width, length, layers=2):
        super().__init__()
        self.embed = nn.Linear(features, width)
        self.blocks = nn.Sequential(*[SpectralBlock(width, length) for _ in range(layers)])
        self.head = nn.Linear(width, 1)

    def forward(self, x):
        return self.head(self.blocks(self.embed(x))).squeeze(-1)


def make_model(features=2, width=8, length=12):
    return SpectralRegressor(features, width, length)


def train(model, inputs, targets, steps, lr=0.01):
    inputs, targets = torch.from_numpy(inputs), torch.from_numpy(targets)
    optimizer = optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.mse_loss(model(inputs), targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
    return losses
'''

PROGRAMS = (UNITARY_RNN, COMPLEX_GRU, SPECTRAL_MODEL)


def _as_real(value: Any) -> np.ndarray:
    """A tensor of either library as a NumPy array, complex values as (..., 2) real pairs (view_as_real)."""
    array = value.detach().numpy() if hasattr(value, "detach") else np.asarray(value)
    return np.stack([array.real, array.imag], -1) if array.dtype.kind == "c" else array


def _assert_same_state(torch_model: Any, mg_model: Any, initial: dict, rtol: float, atol: float) -> None:
    """The same parameters and buffers in both (complex ones compared part by part), and training moved them."""
    ours, theirs = mg_model.state_dict(), torch_model.state_dict()
    assert ours.keys() == theirs.keys()
    for name in ours:
        assert ours[name].dtype == theirs[name].detach().numpy().dtype, name
        np.testing.assert_allclose(_as_real(ours[name]), _as_real(theirs[name]), rtol=rtol, atol=atol, err_msg=name)
    assert any(not np.array_equal(ours[k].numpy(), initial[k].numpy()) for k in ours)


def test_the_programs_differ_only_in_their_imports() -> None:
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


def _copying_memory(rng: np.random.Generator, batch: int = 4, symbols: int = 3, blanks: int = 2) -> tuple:
    """Inputs: ``symbols`` ids in 1..8, ``blanks`` zeros, the delimiter 9, ``symbols`` zeros; targets: zeros, then
    the symbols again over the last ``symbols`` steps. Both (batch, T) int64."""
    steps = 2 * symbols + blanks + 1
    inputs = np.zeros((batch, steps), np.int64)
    targets = np.zeros((batch, steps), np.int64)
    remembered = rng.integers(1, 9, (batch, symbols))
    inputs[:, :symbols] = remembered
    inputs[:, symbols + blanks] = 9
    targets[:, -symbols:] = remembered
    return inputs, targets


def test_unitary_rnn_on_the_copying_memory_task(torch: Any) -> None:
    inputs, targets = _copying_memory(np.random.default_rng(0))
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(UNITARY_RNN)
    expected = torch_program["train"](torch_model, inputs, targets, 5)
    losses = mg_program["train"](mg_model, inputs, targets, 5)
    np.testing.assert_allclose(losses, expected, rtol=1e-5)
    _assert_same_state(torch_model, mg_model, initial, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("dtype_name", "rtol"), [("complex64", 1e-5), ("complex128", 1e-11)])
def test_complex_gru_with_complex_parameters_under_adam(torch: Any, dtype_name: str, rtol: float) -> None:
    rng = np.random.default_rng(1)
    dtype = np.dtype(dtype_name)
    inputs = (rng.standard_normal((3, 5, 3)) + 1j * rng.standard_normal((3, 5, 3))).astype(dtype)
    targets = (np.roll(inputs[..., :2], 1, axis=1) * np.exp(0.5j)).astype(dtype)   # rotate, delayed one step
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(COMPLEX_GRU, dtype_name)
    assert mg_model.gru.weight_ih.dtype == dtype and mg_model.rnn.input_map.weight.dtype == dtype
    assert mg_model.rnn.mod_bias.dtype == dtype.type(0).real.dtype
    expected, expected_gradients = torch_program["train"](torch_model, inputs, targets, 4)
    losses, gradients = mg_program["train"](mg_model, inputs, targets, 4)
    np.testing.assert_allclose(losses, expected, rtol=rtol)
    for step, (ours, theirs) in enumerate(zip(gradients, expected_gradients)):
        assert ours.keys() == theirs.keys()
        for name in ours:
            np.testing.assert_allclose(ours[name].numpy(), theirs[name].numpy(), rtol=10 * rtol, atol=10 * rtol,
                                       err_msg=f"step {step}: {name}")
    _assert_same_state(torch_model, mg_model, initial, rtol=10 * rtol, atol=rtol)


def test_spectral_model_with_fft_convolution_and_fourier_mixing(torch: Any) -> None:
    rng = np.random.default_rng(2)
    inputs = rng.standard_normal((3, 12, 2)).astype(np.float32)
    targets = (0.3 * np.cumsum(inputs[..., 0], axis=1)).astype(np.float32)   # a running sum: a global convolution
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(SPECTRAL_MODEL)
    expected = torch_program["train"](torch_model, inputs, targets, 5)
    losses = mg_program["train"](mg_model, inputs, targets, 5)
    np.testing.assert_allclose(losses, expected, rtol=1e-5)
    _assert_same_state(torch_model, mg_model, initial, rtol=1e-5, atol=1e-6)


# --- what the programs needed ----------------------------------------------------------------------------------

def test_linear_takes_a_complex_dtype(torch: Any) -> None:
    """``nn.Linear(..., dtype=torch.cfloat)``: complex weight and bias, both parts U(-1/sqrt(in), 1/sqrt(in)) as
    PyTorch's, and the same output and gradients given the same weights (it refused the dtype)."""
    mg.manual_seed(0)
    layer = mg.nn.Linear(4, 50, dtype=mg.cfloat)
    assert layer.weight.dtype == np.complex64 and layer.bias.dtype == np.complex64
    for part in (layer.weight.real, layer.weight.imag, layer.bias.real, layer.bias.imag):
        assert float(part.abs().max()) <= 0.5 and float(part.min()) < -0.25 and float(part.max()) > 0.25
    theirs = torch.nn.Linear(4, 50, dtype=torch.cfloat)
    layer.load_state_dict({k: mg.from_numpy(v.detach().numpy().copy()) for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((2, 4)) + 1j * rng.standard_normal((2, 4))).astype(np.complex64)
    ours_out, theirs_out = layer(mg.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(ours_out.detach().numpy(), theirs_out.detach().numpy(), rtol=1e-6, atol=1e-6)
    mg.view_as_real(ours_out).sin().sum().backward()
    torch.view_as_real(theirs_out).sin().sum().backward()
    for name in ("weight", "bias"):
        np.testing.assert_allclose(getattr(layer, name).grad.numpy(), getattr(theirs, name).grad.numpy(),
                                   rtol=1e-5, atol=1e-6, err_msg=name)
    assert mg.nn.Conv1d(1, 1, 2, dtype=mg.cfloat).weight.dtype == np.complex64   # complex too since round 13


def test_random_fills_of_complex_tensors_draw_both_parts_as_pytorch() -> None:
    """``uniform_(a, b)``: both parts in [a, b) (the imaginary part was in [0, b - a)); ``normal_(mean, std)``:
    both parts about ``mean``, the variance std² split between them (the imaginary part was about 0)."""
    mg.manual_seed(0)
    uniform = mg.empty(4000, dtype=mg.complex64).uniform_(-1, 1)
    for part in (uniform.real, uniform.imag):
        assert -1 <= float(part.min()) < -0.99 and 0.99 < float(part.max()) < 1
    normal = mg.empty(4000, dtype=mg.complex128).normal_(2.0, 3.0)
    for part in (normal.real, normal.imag):
        assert abs(float(part.mean()) - 2.0) < 0.15 and abs(float(part.std()) - 3.0 / np.sqrt(2)) < 0.15


def test_init_fills_complex_tensors_as_pytorch() -> None:
    """The nn.init fillers PyTorch lets fill a complex tensor: each part as the real fill (normal's variance split
    between the parts); the others still refuse (PyTorch's orthogonal_ and trunc_normal_ fail on complex too)."""
    init = mg.nn.init
    mg.manual_seed(0)
    weight = mg.empty(300, 100, dtype=mg.complex64)
    init.kaiming_uniform_(weight, a=np.sqrt(5))   # nn.Linear's: U(-0.1, 0.1) for fan_in 100
    assert weight.dtype == np.complex64
    for part in (weight.real, weight.imag):
        assert 0.099 < float(part.abs().max()) <= 0.1
    init.xavier_normal_(weight)   # std sqrt(2 / 400) in all, so sqrt(1 / 400) a part
    for part in (weight.real, weight.imag):
        assert abs(float(part.std()) - 0.05) < 0.002
    init.constant_(weight, 0.5)
    assert np.array_equal(weight.numpy(), np.full((300, 100), 0.5, np.complex64))
    with pytest.raises(TypeError, match="orthogonal_: can only fill floating-point tensors, got complex64"):
        init.orthogonal_(weight)


COMPLEX_OPTIMIZERS = {
    "RMSprop": {"centered": True, "momentum": 0.5, "weight_decay": 0.1}, "Adagrad": {"initial_accumulator_value": 0.2,
    "lr_decay": 0.1}, "Adamax": {"weight_decay": 0.1}, "NAdam": {"decoupled_weight_decay": True, "weight_decay": 0.1},
    "RAdam": {"weight_decay": 0.1}, "Adadelta": {"weight_decay": 0.1}, "ASGD": {"t0": 1}, "Rprop": {"etas": (0.3, 1.5)},
}


@pytest.mark.parametrize("name", sorted(COMPLEX_OPTIMIZERS))
def test_optimizers_step_complex_parameters_as_their_real_and_imaginary_parts(torch: Any, name: str) -> None:
    """As PyTorch's: the update of the (..., 2) real view, the state's arrays complex (they refused complex)."""
    z = np.random.default_rng(4).standard_normal((3, 4, 2)) @ np.array([1, 1j])
    results = []
    for lib in (torch, mg):
        p = lib.nn.Parameter(lib.tensor(z))
        optimizer = getattr(lib.optim, name)([p], lr=0.05, **COMPLEX_OPTIMIZERS[name])
        for _ in range(4):
            optimizer.zero_grad()
            (lib.view_as_real(p * p).sin().sum() + 0.1 * (p.abs() ** 2).sum()).backward()
            optimizer.step()
        state = {k: v for k, v in optimizer.state_dict()["state"][0].items() if k != "step"}
        results.append((p.detach().numpy(), state))
    (theirs, their_state), (ours, our_state) = results
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    assert our_state.keys() == their_state.keys()
    for key, value in their_state.items():
        np.testing.assert_allclose(np.asarray(our_state[key]), value.numpy(), rtol=1e-12, atol=1e-12, err_msg=key)
        assert np.asarray(our_state[key]).dtype.kind == value.numpy().dtype.kind, key


def test_optimizers_that_do_not_step_complex_parameters_say_so() -> None:
    p = mg.nn.Parameter(mg.zeros(2, dtype=mg.cfloat))
    opt = mg.optim.Adafactor([p])   # PyTorch's constructor takes it; its step refuses it (RuntimeError)
    p.grad = mg.ones(2, dtype=mg.cfloat)
    with pytest.raises(RuntimeError, match="Adafactor: does not support complex parameters"):
        opt.step()


def test_vdot_and_normalize_of_complex_tensors(torch: Any) -> None:
    """``vdot`` conjugates its first vector; ``F.normalize`` divides by the norm of the moduli (both refused
    complex tensors). Values and gradients as PyTorch's, and a float64 gradcheck through the real parts."""
    rng = np.random.default_rng(5)
    a, b = (rng.standard_normal((2, 5)) + 1j * rng.standard_normal((2, 5)))
    cases = {"vdot": lambda lib, x, y: lib.vdot(x, y),
             "normalize": lambda lib, x, y: lib.nn.functional.normalize(lib.stack([x, y]), dim=-1)}
    for name, fn in cases.items():
        ours_in = [mg.tensor(v, requires_grad=True) for v in (a, b)]
        theirs_in = [torch.tensor(v, requires_grad=True) for v in (a, b)]
        ours, theirs = fn(mg, *ours_in), fn(torch, *theirs_in)
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12, err_msg=name)
        mg.view_as_real(ours).sin().sum().backward()
        torch.view_as_real(theirs).sin().sum().backward()
        for o, t in zip(ours_in, theirs_in):
            np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
        parts = [mg.tensor(v, requires_grad=True) for v in (a.real, a.imag, b.real, b.imag)]
        assert mg.gradcheck(lambda xr, xi, yr, yi, fn=fn: mg.view_as_real(
            fn(mg, mg.complex(xr, xi), mg.complex(yr, yi))), parts)
