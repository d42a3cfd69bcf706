"""Quantisation-aware training programs, small, run on torch and on minigrad: only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch program (the helpers and the rule come from
tests/test_pytorch_programs.py): it keeps the original's PyTorch calls and habits in the same roles, with our own
names, structure and comments, tiny models, a few steps and generated data:

* ``HAND_WRITTEN_QAT`` follows the hand-written quantisation-aware training of Jacob et al., "Quantization and
  Training of Neural Networks for Efficient Integer-Arithmetic-Only Inference", as the from-scratch PyTorch notes
  and tutorials write it (observers as modules, ``torch.fake_quantize_*`` in forward): min/max and moving-average
  observers keeping ``min_val``/``max_val`` buffers, asymmetric uint8 activation qparams
  (``scale = (max - min) / (qmax - qmin)``, ``zero_point = qmin - round(min / scale)``), symmetric int8 weights
  in the restricted range [-127, 127] (PyTorch's observers' ``max / 127.5`` over [-128, 127] puts the largest
  weight exactly on a rounding tie, which the last bit of any two engines' weights decides) per tensor (the
  float/int overload of ``fake_quantize_per_tensor_affine``) or per output channel
  (``fake_quantize_per_channel_affine`` with float32 scales and int32 zero points), the tensor-qparams overload for
  activations of the CNN, ``Conv2d`` + ``BatchNorm2d`` either kept or folded into the convolution
  (``gamma / sqrt(running_var + eps)``) with frozen statistics, and a few SGD steps;
* ``LSQ`` follows Learned Step Size Quantization (Esser et al., ICLR 2020) as its PyTorch re-implementations write
  it (e.g. zhutmost/lsq-net): a learnable step ``s`` initialised from the data as ``2 * mean|x| / sqrt(Qp)``, the
  gradient-scale trick ``y = x * g + (x - x * g).detach()``, ``round_pass`` (``(x.round() - x).detach() + x``),
  ``torch.clamp`` to ``[-Qn, Qp]``, per-tensor and per-channel steps, ``F.linear`` with quantised weights and
  activations, SGD with momentum, in float32 and float64;
* ``BINARY_NETS`` follows the binarised and low-bit networks of BinaryNet (Courbariaux et al.) / XNOR-Net
  (Rastegari et al.), DoReFa-Net (Zhou et al.) and Ternary Weight Networks (Li et al.) as the common PyTorch ports
  write them (e.g. jiecaoyu/XNOR-Net-PyTorch): ``sign`` with a hardtanh straight-through estimator in a
  ``torch.autograd.Function`` (``ctx.save_for_backward``, ``grad_output[input.abs() > 1] = 0``), the XNOR scaling
  factor ``mean |W|`` per output channel, DoReFa's ``tanh`` weight normalisation and k-bit activations, ternary
  weights at the threshold ``0.7 * mean |W|`` with the mean of the kept magnitudes as scale.

Below the programs, the functions themselves against torch: bit-equal values and straight-through gradients of
``fake_quantize_per_tensor_affine`` (both overloads) and ``fake_quantize_per_channel_affine`` (int32 and float zero
points, every axis) in float32/float64 (float16 too), int8 and uint8 ranges, rounding ties, and the errors torch
raises for bad ranges, axes, dtypes and shapes. (No gradcheck: the straight-through gradient is by design not the
derivative of the step function, which is 0 almost everywhere.)

Nothing here draws random numbers after the models are built (torch's initial weights reach minigrad through the
state dict), so losses, weights and observer buffers are compared step by step. ``torch.quantize_per_tensor`` and
the quantised dtypes are out of scope in minigrad: they raise an AttributeError that says so (tested below).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn  # noqa: F401 - the library's import at collection, not in the first test's call
from tests.test_pytorch_programs import _assert_same_weights, _twin_models
from tests.test_pytorch_programs_flow import _lean_torch  # noqa: F401 - autouse: torch lean, _dynamo imported in setup

HAND_WRITTEN_QAT = '''
class RangeObserver(nn.Module):
    """Tracks the range of what passes through it (min_val/max_val buffers): the running min/max, or an
    exponential moving average of each batch's min/max when ``averaging`` is set."""

    def __init__(self, averaging=None, quant_min=0, quant_max=255):
        super().__init__()
        self.averaging, self.quant_min, self.quant_max = averaging, quant_min, quant_max
        self.register_buffer("min_val", torch.tensor(float("inf")))
        self.register_buffer("max_val", torch.tensor(float("-inf")))

    def forward(self, x):
        if self.training:
            low, high = x.detach().min(), x.detach().max()
            if self.averaging is None or torch.isinf(self.min_val).item():
                self.min_val.copy_(torch.minimum(self.min_val, low))
                self.max_val.copy_(torch.maximum(self.max_val, high))
            else:
                self.min_val.mul_(1 - self.averaging).add_(low * self.averaging)
                self.max_val.mul_(1 - self.averaging).add_(high * self.averaging)
        return x

    def qparams(self):
        """Asymmetric: the range widened to hold 0, mapped onto [quant_min, quant_max]."""
        low = torch.clamp(self.min_val, max=0.0)
        high = torch.clamp(self.max_val, min=0.0)
        scale = torch.clamp((high - low) / float(self.quant_max - self.quant_min), min=1e-8)
        zero_point = torch.clamp(self.quant_min - torch.round(low / scale), self.quant_min, self.quant_max)
        return scale, zero_point.to(torch.int32)


def fake_quant_activation(observer, x, tensor_qparams):
    observer(x)
    scale, zero_point = observer.qparams()
    if tensor_qparams:
        return torch.fake_quantize_per_tensor_affine(x, scale, zero_point, observer.quant_min, observer.quant_max)
    return torch.fake_quantize_per_tensor_affine(x, scale.item(), int(zero_point.item()), observer.quant_min,
                                                 observer.quant_max)


def fake_quant_weight_per_tensor(w):
    """Symmetric int8 in the restricted range [-127, 127] over the whole tensor (zero point 0)."""
    scale = max(w.detach().abs().max().item() / 127, 1e-8)
    return torch.fake_quantize_per_tensor_affine(w, scale, 0, -127, 127)


def fake_quant_weight_per_channel(w):
    """Symmetric int8 in [-127, 127] per output channel: a float32 scale and an int32 zero point per row of w
    (C_out, ...)."""
    max_abs = w.detach().abs().flatten(1).max(dim=1).values
    scale = torch.clamp(max_abs / 127, min=1e-8).float()
    zero_point = torch.zeros(w.shape[0], dtype=torch.int32)
    return torch.fake_quantize_per_channel_affine(w, scale, zero_point, 0, -127, 127)


class QuantMLP(nn.Module):
    """Features (N, 6) -> scores (N, 3): two Linear layers, weights and activations fake-quantised."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 10)
        self.fc2 = nn.Linear(10, 3)
        self.observe_input = RangeObserver()
        self.observe_hidden = RangeObserver(averaging=0.1)

    def forward(self, x):
        x = fake_quant_activation(self.observe_input, x, tensor_qparams=False)
        h = F.relu(F.linear(x, fake_quant_weight_per_tensor(self.fc1.weight), self.fc1.bias))
        h = fake_quant_activation(self.observe_hidden, h, tensor_qparams=False)
        return F.linear(h, fake_quant_weight_per_tensor(self.fc2.weight), self.fc2.bias)


class QuantCNN(nn.Module):
    """Images (N, 1, 6, 6) -> scores (N, 3): Conv2d + BatchNorm2d (kept, or folded into the convolution with
    frozen statistics), ReLU, average pooling and a Linear layer; weights per channel, activations per tensor."""

    def __init__(self, fold_bn):
        super().__init__()
        self.fold_bn = fold_bn
        self.conv = nn.Conv2d(1, 4, 3, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 3)
        self.observe_input = RangeObserver(averaging=0.2)
        self.observe_conv = RangeObserver(averaging=0.2)

    def folded_conv(self, x):
        """conv(x, W * g) + (beta - mean * g) with g = gamma / sqrt(running_var + eps), W * g quantised."""
        factor = self.bn.weight / torch.sqrt(self.bn.running_var + self.bn.eps)
        weight = self.conv.weight * factor.reshape(-1, 1, 1, 1)
        bias = self.bn.bias - self.bn.running_mean * factor
        return F.conv2d(x, fake_quant_weight_per_channel(weight), bias)

    def forward(self, x):
        x = fake_quant_activation(self.observe_input, x, tensor_qparams=True)
        if self.fold_bn:
            y = self.folded_conv(x)
        else:
            y = self.bn(F.conv2d(x, fake_quant_weight_per_channel(self.conv.weight)))
        y = fake_quant_activation(self.observe_conv, F.relu(y), tensor_qparams=True)
        return self.fc(F.adaptive_avg_pool2d(y, 1).flatten(1))


def make_model(kind):
    if kind == "mlp":
        return QuantMLP()
    model = QuantCNN(fold_bn=kind == "cnn_folded")
    with torch.no_grad():   # statistics as if calibrated before the folded training
        model.bn.running_mean.copy_(torch.linspace(-0.2, 0.3, 4))
        model.bn.running_var.copy_(torch.linspace(0.5, 1.5, 4))
    return model


def train(model, inputs, labels, steps, lr=0.1, batch_size=8):
    x_all, y_all = torch.from_numpy(inputs), torch.from_numpy(labels)
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    criterion = nn.CrossEntropyLoss()
    model.train()
    history = []
    for step in range(steps):
        start = (step * batch_size) % len(x_all)
        x, y = x_all[start:start + batch_size], y_all[start:start + batch_size]
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    model.eval()
    with torch.no_grad():
        accuracy = (model(x_all).argmax(dim=1) == y_all).float().mean().item()
    return history, accuracy
'''


LSQ = '''
def grad_scale(x, scale):
    """x in forward; its gradient multiplied by ``scale`` in backward."""
    scaled = x * scale
    return scaled + (x - scaled).detach()


def round_pass(x):
    """round(x) in forward, the identity in backward (straight-through)."""
    return (x.round() - x).detach() + x


class LsqQuantizer(nn.Module):
    """Quantises x to ``s * round(clamp(x / s, -Qn, Qp))`` with a learned step s (one, or one per output row)."""

    def __init__(self, bits, all_positive=False, per_channel=0):
        super().__init__()
        self.thd_neg, self.thd_pos = (0, 2 ** bits - 1) if all_positive else (-2 ** (bits - 1) + 1, 2 ** (bits - 1) - 1)
        self.per_channel = per_channel
        self.s = nn.Parameter(torch.ones(per_channel, 1) if per_channel else torch.ones(1))

    def init_from(self, x):
        with torch.no_grad():
            if self.per_channel:
                self.s.copy_(x.detach().abs().mean(dim=-1, keepdim=True) * 2 / (self.thd_pos ** 0.5))
            else:
                self.s.copy_(x.detach().abs().mean() * 2 / (self.thd_pos ** 0.5))

    def forward(self, x):
        g = 1.0 / ((self.thd_pos * x.numel()) ** 0.5)
        step = grad_scale(self.s, g)
        x = torch.clamp(x / step, self.thd_neg, self.thd_pos)
        return round_pass(x) * step


class LsqLinear(nn.Linear):
    def __init__(self, in_features, out_features, bits, per_channel):
        super().__init__(in_features, out_features)
        self.quan_w = LsqQuantizer(bits, per_channel=out_features if per_channel else 0)
        self.quan_a = LsqQuantizer(bits, all_positive=True)

    def forward(self, x):
        return F.linear(self.quan_a(x), self.quan_w(self.weight), self.bias)


class LsqNet(nn.Module):
    def __init__(self, bits=3):
        super().__init__()
        self.fc1 = nn.Linear(5, 12)
        self.fc2 = LsqLinear(12, 8, bits, per_channel=True)
        self.fc3 = LsqLinear(8, 2, bits, per_channel=False)

    def forward(self, x):
        h = F.relu(self.fc1(x))
        return self.fc3(F.relu(self.fc2(h)))

    def calibrate(self, x):
        h = F.relu(self.fc1(x))
        for layer in (self.fc2, self.fc3):
            layer.quan_w.init_from(layer.weight)
            layer.quan_a.init_from(h)
            h = F.relu(layer(h))


def make_model(dtype_name):
    return LsqNet().to(getattr(torch, dtype_name))


def train(model, inputs, targets, steps, lr=0.05):
    x, y = torch.from_numpy(inputs), torch.from_numpy(targets)
    model.calibrate(x)
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    history, steps_seen = [], []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        history.append(loss.item())
        steps_seen.append(model.fc3.quan_w.s.item())
    return history, steps_seen
'''


BINARY_NETS = '''
class BinaryActive(torch.autograd.Function):
    """sign(x) forward; hardtanh's gradient backward: grad_output where |x| <= 1, else 0."""

    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return input.sign()

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        grad_input = grad_output.clone()
        grad_input[input.abs() > 1] = 0
        return grad_input


def ste(real, quantised):
    """quantised in forward, the identity to ``real`` in backward."""
    return real + (quantised - real).detach()


def xnor_weight(w):
    """sign(W) scaled by mean |W| of each output channel (XNOR-Net's alpha)."""
    alpha = w.abs().mean(dim=(1, 2, 3), keepdim=True)
    return BinaryActive.apply(w) * alpha


def quantize_k(x, bits):
    levels = float(2 ** bits - 1)
    return ste(x, torch.round(x * levels) / levels)


def dorefa_weight(w, bits=2):
    """tanh(W) normalised into [0, 1], quantised to k bits, mapped back to [-1, 1]."""
    t = torch.tanh(w)
    t = t / (2 * t.abs().max()) + 0.5
    return 2 * quantize_k(t, bits) - 1


def ternary_weight(w):
    """W to alpha * {-1, 0, 1}: zero below delta = 0.7 * mean |W| (per output channel), alpha the mean of the
    kept magnitudes; straight-through to W."""
    delta = 0.7 * w.abs().mean(dim=(1, 2, 3), keepdim=True)
    kept = (w.abs() > delta).float()
    alpha = (w.abs() * kept).sum(dim=(1, 2, 3), keepdim=True) / kept.sum(dim=(1, 2, 3), keepdim=True).clamp(min=1)
    return ste(w, alpha * torch.sign(w) * kept)


class LowBitConv(nn.Conv2d):
    def __init__(self, in_channels, out_channels, mode):
        super().__init__(in_channels, out_channels, 3, padding=1, bias=False)
        self.mode = mode

    def forward(self, x):
        if self.mode == "xnor":
            x, w = BinaryActive.apply(x), xnor_weight(self.weight)
        elif self.mode == "dorefa":
            x, w = quantize_k(torch.clamp(x, 0, 1), 2), dorefa_weight(self.weight)
        else:
            w = ternary_weight(self.weight)
        return F.conv2d(x, w, None, self.stride, self.padding)


class LowBitNet(nn.Module):
    """Images (N, 1, 6, 6) -> scores (N, 3): a full-precision first convolution, BatchNorm, a low-bit
    convolution (binary, DoReFa or ternary), BatchNorm, pooling and a full-precision classifier."""

    def __init__(self, mode):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 3, padding=1, bias=False)   # BatchNorm follows: a bias would only learn noise
        self.bn1 = nn.BatchNorm2d(6)
        self.conv2 = LowBitConv(6, 8, mode)
        self.bn2 = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8 * 3 * 3, 3)

    def forward(self, x):
        x = self.bn1(self.conv1(x))
        # average pooling: a low-bit convolution gives many equal values, and which of two equal maxima takes
        # max pooling's gradient would depend on the last bit of each engine's sums
        x = F.avg_pool2d(F.hardtanh(self.bn2(self.conv2(x))), 2)
        return self.fc(x.flatten(1))


def make_model(mode):
    return LowBitNet(mode)


def train(model, images, labels, steps, lr=0.01):
    x, y = torch.from_numpy(images), torch.from_numpy(labels)
    optimizer = optim.Adam(model.parameters(), lr=lr)
    history = []
    for step in range(steps):
        rows = slice((step % 2) * 6, (step % 2) * 6 + 6)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x[rows]), y[rows])
        loss.backward()
        optimizer.step()
        if model.conv2.mode == "xnor":
            with torch.no_grad():   # BinaryConnect keeps the real-valued weights in [-1, 1]
                model.conv2.weight.clamp_(-1, 1)
        history.append(loss.item())
    return history
'''

PROGRAMS = (HAND_WRITTEN_QAT, LSQ, BINARY_NETS)
STEPS = 6


def test_the_programs_differ_only_in_their_imports() -> None:
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


def _classes(rng: np.random.Generator, shape: tuple, count: int) -> tuple:
    """``count`` float32 inputs of ``shape`` with labels 0..2 that a small model can learn (the class shifts
    the mean of the input)."""
    labels = rng.integers(0, 3, count)
    inputs = rng.standard_normal((count, *shape)).astype(np.float32) + labels.reshape(-1, *[1] * len(shape)) - 1.0
    return inputs.astype(np.float32), labels.astype(np.int64)


@pytest.mark.parametrize("kind", ["mlp", "cnn", "cnn_folded"])
def test_hand_written_qat(torch: Any, kind: str) -> None:
    rng = np.random.default_rng(3)
    inputs, labels = _classes(rng, (6,) if kind == "mlp" else (1, 6, 6), 16)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(HAND_WRITTEN_QAT, kind)
    expected, expected_accuracy = torch_program["train"](torch_model, inputs, labels, STEPS)
    losses, accuracy = mg_program["train"](mg_model, inputs, labels, STEPS)
    # a margin for one rounding flip: the activations are fake-quantised to steps of ~0.011, and the float32 sums
    # before them (conv/linear; torch's order depends on the CPU) differ by ~4e-7, enough to put a value lying that
    # close to a rounding boundary into the other step: on an AVX512 AMD EPYC 1 of 512 activations at step 5 (loss
    # 2e-5 off); a wrong rounding rule or zero point would move many
    np.testing.assert_allclose(losses, expected, rtol=1e-4, atol=1e-6)
    assert accuracy == expected_accuracy
    _assert_same_weights(torch_model, mg_model, initial)   # the observers' min_val/max_val buffers too


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_learned_step_size_quantization(torch: Any, dtype: str) -> None:
    rng = np.random.default_rng(4)
    inputs = rng.standard_normal((12, 5)).astype(dtype)
    targets = np.stack([inputs[:, 0] - inputs[:, 1], inputs[:, 2:].sum(1)], axis=1).astype(dtype)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(LSQ, dtype)
    expected, expected_steps = torch_program["train"](torch_model, inputs, targets, STEPS)
    losses, steps = mg_program["train"](mg_model, inputs, targets, STEPS)
    rtol = 1e-5 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(losses, expected, rtol=rtol)
    np.testing.assert_allclose(steps, expected_steps, rtol=rtol)
    assert len(set(steps)) > 1   # the step size is learned
    _assert_same_weights(torch_model, mg_model, initial)


@pytest.mark.parametrize("mode", ["xnor", "dorefa", "ternary"])
def test_binary_and_ternary_networks(torch: Any, mode: str) -> None:
    rng = np.random.default_rng(5)
    images, labels = _classes(rng, (1, 6, 6), 12)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(BINARY_NETS, mode)
    expected = torch_program["train"](torch_model, images, labels, STEPS)
    losses = mg_program["train"](mg_model, images, labels, STEPS)
    np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-6)
    _assert_same_weights(torch_model, mg_model, initial)


# ----------------------------------------------------------------------------- the fake-quantisation functions

RANGES = {"int8": (-128, 127), "uint8": (0, 255)}


def _values(rng: np.random.Generator, shape: tuple, dtype: str, scale: float) -> np.ndarray:
    """Normal values spread over more than the grid holds, with exact half steps (rounding ties) among them."""
    x = rng.standard_normal(shape) * 200 * scale
    x.flat[:9] = (np.arange(9) - 4.5) * scale
    return x.astype(dtype)


def _same(torch: Any, fn: Any, x: np.ndarray, *qparams: Any) -> None:
    """``fn(lib, x, *qparams)`` in both libraries (a numpy qparam becomes each library's tensor): bit-equal values,
    dtype and straight-through gradient."""
    rng = np.random.default_rng(0)
    grad = rng.standard_normal(x.shape).astype(x.dtype)
    results = []
    for lib in (torch, mg):
        leaf = lib.tensor(x, requires_grad=True)
        y = fn(lib, leaf, *(lib.from_numpy(q) if isinstance(q, np.ndarray) else q for q in qparams))
        y.backward(lib.from_numpy(grad))
        results.append((y.detach().numpy(), leaf.grad.numpy()))
    (y_torch, g_torch), (y_mg, g_mg) = results
    assert y_mg.dtype == y_torch.dtype == x.dtype
    np.testing.assert_array_equal(y_mg, y_torch)
    np.testing.assert_array_equal(g_mg, g_torch)
    assert 0 < np.count_nonzero(g_mg) < g_mg.size   # the gradient is cut where the grid is left, kept elsewhere


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bits", ["int8", "uint8"])
@pytest.mark.parametrize("qparams", ["numbers", "tensors"])
def test_fake_quantize_per_tensor_affine_matches_torch(torch: Any, dtype: str, bits: str, qparams: str) -> None:
    quant_min, quant_max = RANGES[bits]
    scale, zero_point = 0.1, (quant_min + quant_max) // 3
    x = _values(np.random.default_rng(1), (7, 9), dtype, scale)
    if qparams == "tensors":   # the tensor-qparams overload: a float32 scale, an int32 zero point
        args = (np.array(scale, np.float32), np.array(zero_point, np.int32))
    else:
        args = (scale, zero_point)
    _same(torch, lambda lib, x, s, z: lib.fake_quantize_per_tensor_affine(x, s, z, quant_min, quant_max), x, *args)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bits", ["int8", "uint8"])
@pytest.mark.parametrize("zero_point_dtype", ["int32", "float32"])
def test_fake_quantize_per_channel_affine_matches_torch(torch: Any, dtype: str, bits: str,
                                                        zero_point_dtype: str) -> None:
    quant_min, quant_max = RANGES[bits]
    rng = np.random.default_rng(2)
    x = _values(rng, (4, 3, 5), dtype, 0.05)
    for axis in range(x.ndim):
        channels = x.shape[axis]
        scale = rng.uniform(0.01, 0.1, channels).astype(np.float32)
        shift = 0.3 if zero_point_dtype == "float32" else 0
        zero_point = rng.integers(quant_min + 1, quant_min + 9, channels) + shift
        _same(torch, lambda lib, x, s, z, axis=axis: lib.fake_quantize_per_channel_affine(x, s, z, axis, quant_min,
                                                                                          quant_max),
              x, scale, zero_point.astype(zero_point_dtype))


def test_fake_quantize_straight_through_gradient_reads_the_rounded_value(torch: Any) -> None:
    """The gradient passes where round(x / scale) + zero_point lies in [quant_min, quant_max] (PyTorch's mask, on the
    rounded value): x / scale = -0.4 rounds to 0 and keeps its gradient though it lies below quant_min = 0."""
    x = np.array([-0.4, -0.6, 0.2, 255.4, 255.6], np.float32)
    for lib in (torch, mg):
        leaf = lib.tensor(x, requires_grad=True)
        y = lib.fake_quantize_per_tensor_affine(leaf, 1.0, 0, 0, 255)
        y.sum().backward()
        assert leaf.grad.tolist() == [1.0, 0.0, 1.0, 1.0, 0.0]
        assert y.tolist() == [0.0, 0.0, 0.0, 255.0, 255.0]


def test_fake_quantize_in_float16(torch: Any) -> None:
    x = _values(np.random.default_rng(3), (6, 5), "float16", 0.1)
    expected = torch.fake_quantize_per_tensor_affine(torch.from_numpy(x), 0.1, 3, -128, 127).numpy()
    np.testing.assert_array_equal(mg.fake_quantize_per_tensor_affine(mg.from_numpy(x), 0.1, 3, -128, 127).numpy(),
                                  expected)


def _bad_calls(lib: Any) -> dict:
    x = lib.ones(2, 3)
    s3, z3 = lib.full((3,), 0.1), lib.zeros(3, dtype=lib.int32)
    return {
        "per_tensor zero point outside the range": lambda: lib.fake_quantize_per_tensor_affine(x, 0.1, 300, 0, 255),
        "per_tensor quant_min > quant_max": lambda: lib.fake_quantize_per_tensor_affine(x, 0.1, 0, 5, 2),
        "per_tensor int input": lambda: lib.fake_quantize_per_tensor_affine(x.long(), 0.1, 0, 0, 255),
        "per_tensor two scales": lambda: lib.fake_quantize_per_tensor_affine(x, lib.tensor([0.5, 0.2]),
                                                                             lib.tensor(2, dtype=lib.int32), 0, 255),
        "per_tensor scale requires grad": lambda: lib.fake_quantize_per_tensor_affine(
            x, lib.tensor(0.5, requires_grad=True), lib.tensor(2, dtype=lib.int32), 0, 255),
        "per_channel negative axis": lambda: lib.fake_quantize_per_channel_affine(x, s3, z3, -1, -128, 127),
        "per_channel axis past the end": lambda: lib.fake_quantize_per_channel_affine(x, s3, z3, 2, -128, 127),
        "per_channel wrong count": lambda: lib.fake_quantize_per_channel_affine(x, s3[:2], z3, 1, -128, 127),
        "per_channel float64 scale": lambda: lib.fake_quantize_per_channel_affine(x, s3.double(), z3, 1, -128, 127),
        "per_channel int64 zero point": lambda: lib.fake_quantize_per_channel_affine(x, s3, z3.long(), 1, -128, 127),
        "per_channel 2-D scale": lambda: lib.fake_quantize_per_channel_affine(x, s3.reshape(1, 3), z3.reshape(1, 3),
                                                                               1, -128, 127),
        "per_channel zero point outside": lambda: lib.fake_quantize_per_channel_affine(x, s3, z3 + 9, 1, 0, 5),
        "per_channel quant_min > quant_max": lambda: lib.fake_quantize_per_channel_affine(x, s3, z3, 1, 5, 2),
        "per_channel int input": lambda: lib.fake_quantize_per_channel_affine(x.int(), s3, z3, 1, -128, 127),
        "per_channel float scale": lambda: lib.fake_quantize_per_channel_affine(x, 0.1, z3, 1, -128, 127),
    }


@pytest.mark.parametrize("case", [
    "per_tensor zero point outside the range", "per_tensor quant_min > quant_max", "per_tensor int input",
    "per_tensor two scales", "per_tensor scale requires grad", "per_channel negative axis",
    "per_channel axis past the end", "per_channel wrong count", "per_channel float64 scale",
    "per_channel int64 zero point", "per_channel 2-D scale", "per_channel zero point outside",
    "per_channel quant_min > quant_max", "per_channel int input", "per_channel float scale"])
def test_fake_quantize_refuses_what_torch_refuses(torch: Any, case: str) -> None:
    with pytest.raises(Exception) as expected:   # noqa: PT011 - the class is torch's, compared below
        _bad_calls(torch)[case]()
    with pytest.raises(type(expected.value), match="fake_quantize_per_(tensor|channel)_affine"):
        _bad_calls(mg)[case]()


@pytest.mark.parametrize("name", ["quantize_per_tensor", "quantize_per_channel", "dequantize", "qint8", "quint8"])
def test_quantised_tensors_are_refused_by_name(name: str) -> None:
    with pytest.raises(AttributeError, match=f"{name}.*no quantised tensors"):
        getattr(mg, name)


@pytest.mark.gpu
def test_fake_quantize_on_gpu_as_on_cpu() -> None:
    x = _values(np.random.default_rng(4), (4, 6), "float32", 0.05)
    results = []
    for device in ("cpu", "cuda"):
        leaf = mg.tensor(x, device=device, requires_grad=True)
        scale = mg.tensor([0.05, 0.02, 0.1, 0.07], device=device)
        zero_point = mg.tensor([0, 1, -2, 3], dtype=mg.int32, device=device)
        y = mg.fake_quantize_per_channel_affine(leaf, scale, zero_point, 0, -128, 127)
        y = y + mg.fake_quantize_per_tensor_affine(leaf, 0.1, 2, -128, 127)
        y = y + mg.fake_quantize_per_tensor_affine(leaf, mg.tensor(0.1, device=device), mg.tensor(2, device=device),
                                                   0, 255)
        y.sum().backward()
        results.append((y.numpy(), leaf.grad.numpy()))
    for cpu, gpu in zip(*results):
        np.testing.assert_array_equal(gpu, cpu)
