"""Normalizing flows and autoregressive density models, run unchanged on torch and on minigrad: only the imports differ.

Each program is our own rewrite of a well-known public PyTorch program (the helpers and the rule come from
tests/test_pytorch_programs.py): it keeps the original's PyTorch calls in the same roles, with our own names,
structure and comments, tiny sizes, a few steps and generated data. RealNVP lives in
tests/test_pytorch_programs_generative.py and is not repeated here.

* ``MADE_MAF`` follows karpathy/pytorch-made (https://github.com/karpathy/pytorch-made) and the masked
  autoregressive flow of Papamakarios et al. 2017 (as karpathy/pytorch-normalizing-flows writes it): a
  ``MaskedLinear`` subclass of ``nn.Linear`` with a ``register_buffer`` mask applied as ``self.mask * self.weight``
  in ``F.linear``, degrees drawn with ``torch.randperm``/``torch.randint`` from a ``torch.Generator`` seeded
  by a cycling mask seed (order-agnostic training over several masks, the evaluation averaging the logits of
  every mask), masks ``m[l - 1][:, None] <= m[l][None, :]`` copied into the buffers with ``copy_``, the output
  mask repeated with ``torch.cat`` for two outputs per input; MAF layers (``mu, alpha = out.chunk(2, dim=1)``,
  ``u = (x - mu) * torch.exp(-alpha)``, log-det ``-alpha.sum(1)``) stacked with reversed orders, and
  ``@torch.no_grad()`` sampling as a Python loop over the dimensions in their order writing ``x[:, i]``;
* ``GLOW`` follows rosinality/glow-pytorch (https://github.com/rosinality/glow-pytorch) and openai/glow: ActNorm
  with data-dependent initialisation on the first batch (a ``uint8`` flag buffer, ``torch.no_grad()``, mean and
  std over the batch and spatial dims), the invertible 1x1 convolution in both forms -- plain
  (``F.conv2d`` with ``weight.view(C, C, 1, 1)``, log-det from ``torch.slogdet`` in float64, reverse through
  ``torch.inverse``) and LU-decomposed (a ``torch.linalg.qr`` orthogonal start factored by
  ``torch.linalg.lu`` or ``torch.linalg.lu_factor`` + ``torch.lu_unpack``, ``w = P @ (L * l_mask + eye) @
  (U * u_mask + torch.diag(s_sign * torch.exp(log_s)))``) --, an affine coupling whose last ``ZeroConv2d``
  starts at zero (``F.pad(value=1)``, ``torch.exp(scale * 3)``, ``torch.sigmoid(log_s + 2)``), squeeze and
  unsqueeze by ``view`` + ``permute``, a multi-scale split with a learned prior (the last block's prior read from
  ``zeros_like``), ``ModuleList[::-1]`` for the reverse, the loss in bits per dimension with uniform
  dequantisation (``torch.rand_like``), Adamax or Adam, sampling at a temperature and the exact reconstruction;
* ``NICE`` follows the NICE paper (Dinh et al. 2014) as PyTorch re-implementations write it (e.g.
  https://github.com/fmu2/NICE): additive couplings that split the input by ``reshape((B, W // 2, 2))`` with
  alternating masks and put it back with ``torch.stack``, a learned diagonal ``Scaling`` (log-det
  ``torch.sum(self.scale)``), the standard logistic prior ``-(F.softplus(z) + F.softplus(-z))`` sampled as
  ``log(u) - log(1 - u)``, Adam with the paper's ``betas=(0.9, 0.01), eps=1e-4``, and the inverse ``g(f(x)) == x``.

Random draws: the two engines' generators differ, so both read the same numbers where a comparison depends on
them: ``_shared_draws`` (tests/test_pytorch_programs_generative.py) for ``randn``/``rand``, ``rand_like``
added here over it, and ``_seeded_degrees`` for MADE's ``randperm``/``randint`` under a ``torch.Generator``
(one NumPy stream per generator, seeded by its ``initial_seed()``, so a mask seed gives the same degrees every
time it comes round). Each engine's own draws are checked too: a MADE built on minigrad's own generator is
autoregressive (its Jacobian is zero wherever the order forbids), and minigrad's own LU-factored orthogonal
start reconstructs an orthogonal matrix. The GPU-path test runs minigrad's programs on ``cuda`` (the strict CuPy
stand-in without a GPU) against the host.

What the programs found: the programs themselves ran and agreed as written. Probing the seeds such programs use
found that ``Generator.manual_seed``/``manual_seed`` refused a negative seed (a ``hash(key)`` seed is negative
half the time), which PyTorch takes and wraps modulo 2**64; the regression test at the end checks it. Left as
they are: ``torch.manual_seed(1.5)`` truncates to 1 where minigrad raises a TypeError, and ``torch.allclose`` of
float32 and float64 raises where minigrad promotes (DESIGN §3) and compares.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
from tests.test_pytorch_programs import _assert_same_weights, _program, _twin_models
from tests.test_pytorch_programs_flow import _lean_torch  # noqa: F401 - autouse: torch lean, _dynamo imported in setup
from tests.test_pytorch_programs_generative import _shared_draws

TORCH_IMPORTS_FLOWS = """\
import math
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import optim
"""

MINIGRAD_IMPORTS_FLOWS = """\
import math
import minigrad as torch
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad import optim
"""


MADE_MAF = '''
class MaskedLinear(nn.Linear):
    """A Linear layer whose weight is multiplied by a fixed 0/1 mask (out, in) kept as a buffer."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__(in_features, out_features, bias)
        self.register_buffer('mask', torch.ones(out_features, in_features))

    def set_mask(self, mask):
        self.mask.copy_(mask.t())   # mask (in, out) of bools

    def forward(self, input):
        return F.linear(input, self.mask * self.weight, self.bias)


class MADE(nn.Module):
    """x (B, nin) to (B, nout) outputs where output k (and k + nin, ...) sees only inputs earlier in the order."""

    def __init__(self, nin, hidden_sizes, nout, num_masks=1, order=None):
        super().__init__()
        self.nin, self.nout, self.hidden_sizes = nin, nout, hidden_sizes
        assert self.nout % self.nin == 0, 'nout must be a multiple of nin'
        layers = []
        sizes = [nin] + list(hidden_sizes) + [nout]
        for h0, h1 in zip(sizes, sizes[1:]):
            layers.extend([MaskedLinear(h0, h1), nn.ReLU()])
        self.net = nn.Sequential(*layers[:-1])
        self.order = order
        self.num_masks = num_masks
        self.seed = 0
        self.degrees = {}
        self.update_masks()

    def update_masks(self):
        if self.degrees and self.num_masks == 1:
            return   # a single mask never changes
        depth = len(self.hidden_sizes)
        g = torch.Generator().manual_seed(self.seed)
        self.seed = (self.seed + 1) % self.num_masks
        if self.order is not None:
            self.degrees[-1] = self.order
        else:
            self.degrees[-1] = torch.randperm(self.nin, generator=g)
        for l in range(depth):
            low = int(self.degrees[l - 1].min())
            self.degrees[l] = torch.randint(low, self.nin - 1, (self.hidden_sizes[l],), generator=g)
        masks = [self.degrees[l - 1][:, None] <= self.degrees[l][None, :] for l in range(depth)]
        masks.append(self.degrees[depth - 1][:, None] < self.degrees[-1][None, :])
        if self.nout > self.nin:
            masks[-1] = torch.cat([masks[-1]] * (self.nout // self.nin), dim=1)
        layers = [module for module in self.net.modules() if isinstance(module, MaskedLinear)]
        for layer, mask in zip(layers, masks):
            layer.set_mask(mask)

    def forward(self, x):
        return self.net(x)


def violations(model, x):
    """How many (output, input) pairs have a gradient the order forbids: output k may depend on input j only
    when the order puts j before k."""
    order = model.degrees[-1]
    x = x.clone().requires_grad_(True)
    logits = model(x)
    count = 0
    for k in range(model.nin):
        grad, = torch.autograd.grad(logits[:, k].sum(), x, retain_graph=True)
        allowed = order < order[k]
        count += int(((grad.abs().sum(0) > 0) & ~allowed).sum())
    return count


def make_made(nin=6, hidden=(16, 16), num_masks=3):
    return MADE(nin, list(hidden), nin, num_masks=num_masks)


def made_nll(model, x, resample_every=1, samples=1):
    """Bits (nats) per example of binary x under the logits averaged over `samples` masks."""
    logits = torch.zeros_like(x)
    for _ in range(samples):
        if resample_every:
            model.update_masks()
        logits += model(x)   # in place: the zeros join the graph
    logits /= samples
    return F.binary_cross_entropy_with_logits(logits, x, reduction='sum') / x.size(0)


def train_made(model, data, steps, batch_size=8, lr=1e-2):
    x_all = torch.from_numpy(data).to(next(model.parameters()).device)
    optimizer = optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    losses = []
    for step in range(steps):
        start = (step * batch_size) % x_all.size(0)
        x = x_all[start:start + batch_size]
        loss = made_nll(model, x)   # order-agnostic: a new mask every step
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        test = made_nll(model, x_all, samples=model.num_masks).item()
    masks = [module.mask.clone() for module in model.modules() if isinstance(module, MaskedLinear)]
    return losses, test, [m.numpy() for m in masks]


class MAFLayer(nn.Module):
    """x (B, D) to u (B, D): u_i = (x_i - mu_i(x_<i)) * exp(-alpha_i(x_<i)); log|det du/dx| = -sum alpha."""

    def __init__(self, dim, hidden, order):
        super().__init__()
        self.dim = dim
        self.made = MADE(dim, hidden, 2 * dim, order=order)

    def forward(self, x):
        mu, alpha = self.made(x).chunk(2, dim=1)
        u = (x - mu) * torch.exp(-alpha)
        return u, -alpha.sum(1)

    def inverse(self, u, clone=True):
        """x from u, one dimension at a time in the order, and log|det dx/du| = sum alpha; differentiable
        (the inverse autoregressive direction): the MADE reads a clone of x, which is then written in place."""
        x = torch.zeros_like(u)
        log_det = torch.zeros(u.size(0), device=u.device)
        for i in self.made.degrees[-1].argsort().tolist():   # dimensions in their order
            mu, alpha = self.made(x.clone() if clone else x).chunk(2, dim=1)
            x[:, i] = u[:, i] * torch.exp(alpha[:, i]) + mu[:, i]
            log_det += alpha[:, i]
        return x, log_det


class MAF(nn.Module):
    def __init__(self, dim, hidden, layers):
        super().__init__()
        forward_order = torch.arange(dim)
        self.layers = nn.ModuleList(
            [MAFLayer(dim, hidden, forward_order if k % 2 == 0 else forward_order.flip(0)) for k in range(layers)])

    def forward(self, x):
        log_det = torch.zeros(x.size(0), device=x.device)
        for layer in self.layers:
            x, ld = layer(x)
            log_det = log_det + ld
        base = -0.5 * x.pow(2) - 0.5 * math.log(2 * math.pi)
        return base.sum(1) + log_det, x

    @torch.no_grad()
    def sample(self, n):
        x = torch.randn(n, self.layers[0].dim, device=self.layers[0].made.net[0].weight.device)
        for layer in reversed(self.layers):
            x, _ = layer.inverse(x)
        return x

    def sample_with_log_prob(self, u, clone=True):
        """Samples x from base noise u with log q(x), keeping the graph (reverse-KL training reads both)."""
        log_q = (-0.5 * u.pow(2) - 0.5 * math.log(2 * math.pi)).sum(1)
        x = u
        for layer in reversed(self.layers):
            x, log_det = layer.inverse(x, clone)
            log_q = log_q - log_det
        return x, log_q


def make_maf(dim=3, hidden=(12,), layers=3):
    return MAF(dim, list(hidden), layers)


def train_maf(model, data, steps, batch_size=16, lr=5e-3):
    x_all = torch.from_numpy(data).to(next(model.parameters()).device)
    optimizer = optim.Adam(model.parameters(), lr=lr)
    losses, first_grads = [], None
    for step in range(steps):
        start = (step * batch_size) % x_all.size(0)
        log_prob, _ = model(x_all[start:start + batch_size])
        loss = -log_prob.mean()
        optimizer.zero_grad()
        loss.backward()
        if first_grads is None:
            first_grads = {n: p.grad.detach().numpy().copy() for n, p in model.named_parameters()}
        optimizer.step()
        losses.append(loss.item())
    return losses, first_grads


def reverse_kl_gradients(model, noise, clone=True):
    """Gradients of KL(q || N(0, 2 I)) estimated on fixed base noise, through the sampling loop."""
    x, log_q = model.sample_with_log_prob(torch.from_numpy(noise), clone)
    loss = (log_q + 0.25 * x.pow(2).sum(1)).mean()
    model.zero_grad()
    loss.backward()
    return loss.item(), {n: p.grad.numpy().copy() for n, p in model.named_parameters()}


def evaluate_maf(model, data, n_samples=5):
    x = torch.from_numpy(data)
    with torch.no_grad():
        log_prob, u = model(x)
    samples = model.sample(n_samples)
    with torch.no_grad():
        _, u_back = model(samples)   # the samples' own base noise, recovered
    return log_prob.numpy(), u.numpy(), samples.numpy(), u_back.numpy()
'''


GLOW = '''
def logabs(x):
    return torch.log(torch.abs(x))


class ActNorm(nn.Module):
    """Per-channel affine y = scale * (x + loc), initialised from the first batch to zero mean, unit std."""

    def __init__(self, in_channel):
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(1, in_channel, 1, 1))
        self.scale = nn.Parameter(torch.ones(1, in_channel, 1, 1))
        self.register_buffer('initialized', torch.tensor(0, dtype=torch.uint8))

    def initialize(self, input):
        with torch.no_grad():
            mean = input.mean(dim=(0, 2, 3), keepdim=True)
            std = input.std(dim=(0, 2, 3), keepdim=True)
            self.loc.copy_(-mean)
            self.scale.copy_(1 / (std + 1e-6))

    def forward(self, input):
        _, _, height, width = input.shape
        if self.initialized.item() == 0:
            self.initialize(input)
            self.initialized.fill_(1)
        logdet = height * width * torch.sum(logabs(self.scale))
        return self.scale * (input + self.loc), logdet

    def reverse(self, output):
        return output / self.scale - self.loc


class InvConv2d(nn.Module):
    """y = W x at every pixel (a 1x1 convolution), W (C, C) started orthogonal; log-det = H W log|det W|."""

    def __init__(self, in_channel):
        super().__init__()
        q, _ = torch.linalg.qr(torch.randn(in_channel, in_channel))
        self.weight = nn.Parameter(q)

    def forward(self, input):
        _, channels, height, width = input.shape
        out = F.conv2d(input, self.weight.view(channels, channels, 1, 1))
        if self.training:
            logdet = height * width * torch.slogdet(self.weight.double())[1].float()
        else:
            logdet = height * width * torch.linalg.slogdet(self.weight.double()).logabsdet.float()
        return out, logdet

    def reverse(self, output):
        channels = output.shape[1]
        return F.conv2d(output, torch.inverse(self.weight).view(channels, channels, 1, 1))


class InvConv2dLU(nn.Module):
    """The same map with W = P L (U + diag(sign * exp(log_s))): the log-det is H W sum(log_s)."""

    def __init__(self, in_channel, factor=False):
        super().__init__()
        q, _ = torch.linalg.qr(torch.randn(in_channel, in_channel))
        if factor:
            lu, pivots = torch.linalg.lu_factor(q)
            w_p, w_l, w_u = torch.lu_unpack(lu, pivots)
        else:
            w_p, w_l, w_u = torch.linalg.lu(q)
        w_s = torch.diag(w_u)
        w_u = torch.triu(w_u, 1)
        u_mask = torch.triu(torch.ones_like(w_u), 1)
        l_mask = u_mask.T
        self.register_buffer('w_p', w_p)
        self.register_buffer('u_mask', u_mask)
        self.register_buffer('l_mask', l_mask)
        self.register_buffer('s_sign', torch.sign(w_s))
        self.register_buffer('l_eye', torch.eye(l_mask.shape[0]))
        self.w_l = nn.Parameter(w_l)
        self.w_s = nn.Parameter(logabs(w_s))
        self.w_u = nn.Parameter(w_u)

    def calc_weight(self):
        return self.w_p @ (self.w_l * self.l_mask + self.l_eye) @ (
            self.w_u * self.u_mask + torch.diag(self.s_sign * torch.exp(self.w_s)))

    def forward(self, input):
        _, _, height, width = input.shape
        weight = self.calc_weight()
        out = F.conv2d(input, weight.unsqueeze(2).unsqueeze(3))
        return out, height * width * torch.sum(self.w_s)

    def reverse(self, output):
        weight = self.calc_weight()
        return F.conv2d(output, weight.inverse().unsqueeze(2).unsqueeze(3))


class ZeroConv2d(nn.Module):
    """A 3x3 convolution (padded with ones) that starts at exactly zero, scaled by exp(3 * scale)."""

    def __init__(self, in_channel, out_channel):
        super().__init__()
        self.conv = nn.Conv2d(in_channel, out_channel, 3, padding=0)
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.bias.zero_()
        self.scale = nn.Parameter(torch.zeros(1, out_channel, 1, 1))

    def forward(self, input):
        out = F.pad(input, [1, 1, 1, 1], value=1)
        return self.conv(out) * torch.exp(self.scale * 3)


class AffineCoupling(nn.Module):
    """The second half of the channels scaled and shifted by a net of the first half."""

    def __init__(self, in_channel, filter_size=8):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channel // 2, filter_size, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(filter_size, filter_size, 1),
            nn.ReLU(inplace=True),
            ZeroConv2d(filter_size, in_channel),
        )
        with torch.no_grad():
            self.net[0].weight.normal_(0, 0.05)
            self.net[0].bias.zero_()
            self.net[2].weight.normal_(0, 0.05)
            self.net[2].bias.zero_()

    def forward(self, input):
        in_a, in_b = input.chunk(2, 1)
        log_s, t = self.net(in_a).chunk(2, 1)
        s = torch.sigmoid(log_s + 2)
        out_b = (in_b + t) * s
        logdet = torch.sum(torch.log(s).view(input.shape[0], -1), 1)
        return torch.cat([in_a, out_b], 1), logdet

    def reverse(self, output):
        out_a, out_b = output.chunk(2, 1)
        log_s, t = self.net(out_a).chunk(2, 1)
        s = torch.sigmoid(log_s + 2)
        return torch.cat([out_a, out_b / s - t], 1)


class FlowStep(nn.Module):
    def __init__(self, in_channel, conv_lu):
        super().__init__()
        self.actnorm = ActNorm(in_channel)
        if conv_lu == 'plain':
            self.invconv = InvConv2d(in_channel)
        else:
            self.invconv = InvConv2dLU(in_channel, factor=conv_lu == 'factor')
        self.coupling = AffineCoupling(in_channel)

    def forward(self, input):
        out, logdet = self.actnorm(input)
        out, det1 = self.invconv(out)
        out, det2 = self.coupling(out)
        return out, logdet + det1 + det2

    def reverse(self, output):
        return self.actnorm.reverse(self.invconv.reverse(self.coupling.reverse(output)))


def gaussian_log_p(x, mean, log_sd):
    return -0.5 * math.log(2 * math.pi) - log_sd - 0.5 * (x - mean) ** 2 / torch.exp(2 * log_sd)


def gaussian_sample(eps, mean, log_sd):
    return mean + torch.exp(log_sd) * eps


def squeeze2d(input):
    b, c, h, w = input.shape
    out = input.view(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
    return out.contiguous().view(b, c * 4, h // 2, w // 2)


def unsqueeze2d(input):
    b, c, h, w = input.shape
    out = input.view(b, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
    return out.contiguous().view(b, c // 4, h * 2, w * 2)


class Block(nn.Module):
    """Squeeze, K flow steps, then split half the channels off under a prior learned from the other half."""

    def __init__(self, in_channel, n_flow, split, conv_lu):
        super().__init__()
        squeeze_dim = in_channel * 4
        self.flows = nn.ModuleList([FlowStep(squeeze_dim, conv_lu) for _ in range(n_flow)])
        self.split = split
        self.prior = ZeroConv2d(in_channel * 2, in_channel * 4) if split else ZeroConv2d(in_channel * 4, in_channel * 8)

    def forward(self, input):
        out = squeeze2d(input)
        logdet = 0
        for flow in self.flows:
            out, det = flow(out)
            logdet = logdet + det
        if self.split:
            out, z_new = out.chunk(2, 1)
            mean, log_sd = self.prior(out).chunk(2, 1)
        else:
            z_new = out
            mean, log_sd = self.prior(torch.zeros_like(out)).chunk(2, 1)
        log_p = gaussian_log_p(z_new, mean, log_sd).view(input.shape[0], -1).sum(1)
        return out, logdet, log_p, z_new

    def reverse(self, output, eps, reconstruct=False):
        if reconstruct:
            input = torch.cat([output, eps], 1) if self.split else eps
        elif self.split:
            mean, log_sd = self.prior(output).chunk(2, 1)
            input = torch.cat([output, gaussian_sample(eps, mean, log_sd)], 1)
        else:
            mean, log_sd = self.prior(torch.zeros_like(output)).chunk(2, 1)
            input = gaussian_sample(eps, mean, log_sd)
        for flow in self.flows[::-1]:
            input = flow.reverse(input)
        return unsqueeze2d(input)


class Glow(nn.Module):
    def __init__(self, in_channel, n_flow, n_block, conv_lu='lu'):
        super().__init__()
        self.blocks = nn.ModuleList()
        n_channel = in_channel
        for _ in range(n_block - 1):
            self.blocks.append(Block(n_channel, n_flow, split=True, conv_lu=conv_lu))
            n_channel *= 2
        self.blocks.append(Block(n_channel, n_flow, split=False, conv_lu=conv_lu))

    def forward(self, input):
        log_p_sum, logdet, out, z_outs = 0, 0, input, []
        for block in self.blocks:
            out, det, log_p, z_new = block(out)
            z_outs.append(z_new)
            logdet = logdet + det
            log_p_sum = log_p_sum + log_p
        return log_p_sum, logdet, z_outs

    def reverse(self, z_list, reconstruct=False):
        for i, block in enumerate(self.blocks[::-1]):
            if i == 0:
                input = block.reverse(z_list[-1], z_list[-1], reconstruct=reconstruct)
            else:
                input = block.reverse(input, z_list[-(i + 1)], reconstruct=reconstruct)
        return input


def make_model(conv_lu='lu'):
    return Glow(1, 2, 2, conv_lu=conv_lu)


def calc_loss(log_p, logdet, image_size, n_bins, n_channel=1):
    """Bits per dimension of the dequantised image, and its two parts."""
    n_pixel = image_size * image_size * n_channel
    loss = -math.log(n_bins) * n_pixel + logdet + log_p
    return ((-loss / (math.log(2) * n_pixel)).mean(), (log_p / (math.log(2) * n_pixel)).mean(),
            (logdet / (math.log(2) * n_pixel)).mean())


def train(model, images, steps, batch_size=8, lr=2e-3, n_bits=5, optimizer_name='Adam'):
    n_bins = 2.0 ** n_bits
    optimizer = getattr(optim, optimizer_name)(model.parameters(), lr=lr)
    device = next(model.parameters()).device
    data = torch.from_numpy(images).to(device)
    history = []
    for step in range(steps + 1):
        start = (step * batch_size) % data.size(0)
        image = data[start:start + batch_size] * 255
        image = torch.floor(image / 2 ** (8 - n_bits)) / n_bins - 0.5
        if step == 0:
            with torch.no_grad():   # ActNorm's data-dependent initialisation
                model(image + torch.rand_like(image) / n_bins)
            continue
        log_p, logdet, _ = model(image + torch.rand_like(image) / n_bins)
        logdet = logdet.mean()
        loss, log_p, log_det = calc_loss(log_p, logdet, image.shape[-1], n_bins)
        model.zero_grad()
        loss.backward()
        optimizer.step()
        history.append((loss.item(), log_p.item(), log_det.item()))
    return history


def evaluate(model, images, temperature=0.7):
    model.eval()
    x = torch.from_numpy(images[:4]).to(next(model.parameters()).device) - 0.5
    with torch.no_grad():
        log_p, logdet, z_outs = model(x)
        back = model.reverse(z_outs, reconstruct=True)
        z_sample = [torch.randn(z.shape, device=z.device) * temperature for z in z_outs]
        samples = model.reverse(z_sample)
    return (log_p + logdet).numpy(), (back - x).abs().max().item(), samples.numpy()
'''


NICE = '''
class AdditiveCoupling(nn.Module):
    """Half the coordinates (alternating by `mask_config`) shifted by an MLP of the other half."""

    def __init__(self, in_out_dim, mid_dim, hidden, mask_config):
        super().__init__()
        self.mask_config = mask_config
        self.in_block = nn.Sequential(nn.Linear(in_out_dim // 2, mid_dim), nn.ReLU())
        self.mid_block = nn.ModuleList(
            [nn.Sequential(nn.Linear(mid_dim, mid_dim), nn.ReLU()) for _ in range(hidden - 1)])
        self.out_block = nn.Linear(mid_dim, in_out_dim // 2)

    def forward(self, x, reverse=False):
        [B, W] = list(x.size())
        x = x.reshape((B, W // 2, 2))
        if self.mask_config:
            on, off = x[:, :, 0], x[:, :, 1]
        else:
            off, on = x[:, :, 0], x[:, :, 1]
        shift = self.in_block(off)
        for block in self.mid_block:
            shift = block(shift)
        shift = self.out_block(shift)
        on = on - shift if reverse else on + shift
        x = torch.stack((on, off), dim=2) if self.mask_config else torch.stack((off, on), dim=2)
        return x.reshape((B, W))


class Scaling(nn.Module):
    """z = x * exp(scale), one learned log-scale per coordinate; log|det| = sum(scale)."""

    def __init__(self, dim):
        super().__init__()
        self.scale = nn.Parameter(torch.zeros((1, dim)), requires_grad=True)

    def forward(self, x, reverse=False):
        log_det_J = torch.sum(self.scale)
        x = x * torch.exp(-self.scale) if reverse else x * torch.exp(self.scale)
        return x, log_det_J


class StandardLogistic:
    def log_prob(self, x):
        return -(F.softplus(x) + F.softplus(-x))

    def sample(self, size, dtype=None):
        u = torch.rand(*size, dtype=dtype)
        return torch.log(u) - torch.log(1. - u)


class NICE(nn.Module):
    def __init__(self, in_out_dim, coupling=4, mid_dim=16, hidden=2, mask_config=1):
        super().__init__()
        self.prior = StandardLogistic()
        self.in_out_dim = in_out_dim
        self.coupling = nn.ModuleList([
            AdditiveCoupling(in_out_dim, mid_dim, hidden, (mask_config + i) % 2) for i in range(coupling)])
        self.scaling = Scaling(in_out_dim)

    def f(self, x):
        for layer in self.coupling:
            x = layer(x)
        return self.scaling(x)

    def g(self, z):
        x, _ = self.scaling(z, reverse=True)
        for i in reversed(range(len(self.coupling))):
            x = self.coupling[i](x, reverse=True)
        return x

    def log_prob(self, x):
        z, log_det_J = self.f(x)
        return torch.sum(self.prior.log_prob(z), dim=1) + log_det_J

    def sample(self, size):
        return self.g(self.prior.sample((size, self.in_out_dim), dtype=self.scaling.scale.dtype))

    def forward(self, x):
        return self.log_prob(x)


def make_model(dtype='float32', dim=8):
    return NICE(dim).to(getattr(torch, dtype))


def train(model, data, steps, batch_size=16, lr=1e-3):
    optimizer = optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.01), eps=1e-4)
    x_all = torch.from_numpy(data)
    losses = []
    for step in range(steps):
        start = (step * batch_size) % x_all.size(0)
        x = x_all[start:start + batch_size]
        x = x + torch.rand(*x.shape, dtype=x.dtype) / 256.   # dequantise
        loss = -model(x).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def evaluate(model, data, n_samples=4):
    x = torch.from_numpy(data)
    with torch.no_grad():
        z, _ = model.f(x)
        back = model.g(z)
        samples = model.sample(n_samples)
    return z.numpy(), (back - x).abs().max().item(), samples.numpy()
'''

PROGRAMS = (MADE_MAF, GLOW, NICE)


@pytest.fixture(autouse=True, scope="module")
def _imports_loaded() -> None:
    """minigrad's lazily loaded modules (``minigrad.nn.functional``, ``minigrad.optim``) load in setup, once, as
    ``import torch`` does, not in the first test's call."""
    _program("", MINIGRAD_IMPORTS_FLOWS)


def _twins(source: str, *args: Any, factory: str = "make_model") -> tuple:
    return _twin_models(source, *args, imports=(TORCH_IMPORTS_FLOWS, MINIGRAD_IMPORTS_FLOWS), factory=factory)


def _seeded_degrees(monkeypatch: pytest.MonkeyPatch, *libs: Any) -> None:
    """``randperm(n, generator=g)`` and ``randint(low, high, size, generator=g)`` of each library (torch and/or
    minigrad) read one NumPy stream per generator object, seeded by ``g.initial_seed()``: a MADE mask seed gives
    the same degrees in both engines, and again each time it comes round."""
    for lib in libs:
        streams: dict = {}

        def stream(generator: Any, streams: dict = streams) -> np.random.Generator:
            if id(generator) not in streams:   # the generator is kept alive with its stream: ids stay unique
                streams[id(generator)] = (generator, np.random.default_rng(generator.initial_seed()))
            return streams[id(generator)][1]

        def randperm(n: int, *, generator: Any, lib: Any = lib, stream: Any = stream) -> Any:
            return lib.from_numpy(stream(generator).permutation(n).astype(np.int64))

        def randint(low: int, high: int, size: tuple, *, generator: Any, lib: Any = lib, stream: Any = stream) -> Any:
            return lib.from_numpy(stream(generator).integers(low, high, size).astype(np.int64))

        monkeypatch.setattr(lib, "randperm", randperm)
        monkeypatch.setattr(lib, "randint", randint)


def _shared_uniforms(monkeypatch: pytest.MonkeyPatch, torch: Any, seed: int) -> None:
    """``_shared_draws`` plus ``rand_like`` (Glow's dequantisation) read from the same streams."""
    _shared_draws(monkeypatch, torch, seed)
    for lib in (torch, mg):
        monkeypatch.setattr(lib, "rand_like", lambda x, rand=lib.rand: rand(*x.shape, dtype=x.dtype))


def test_the_programs_differ_only_in_their_imports() -> None:
    assert TORCH_IMPORTS_FLOWS.count("\n") == MINIGRAD_IMPORTS_FLOWS.count("\n") == 5
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. MADE and MAF


def _binary_chains(count: int, dim: int, seed: int) -> np.ndarray:
    """(count, dim) float32 0/1 rows where each bit mostly repeats the one before it."""
    rng = np.random.default_rng(seed)
    flips = rng.random((count, dim)) < 0.15
    flips[:, 0] = rng.random(count) < 0.5
    return (np.cumsum(flips, axis=1) % 2).astype(np.float32)


def test_made_order_agnostic_training(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three masks from seeded generators, a new one every step: losses, the mask-averaged test NLL, the final
    masks and weights equal torch's."""
    data = _binary_chains(32, 6, 0)
    _seeded_degrees(monkeypatch, torch, mg)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(MADE_MAF, factory="make_made")
    assert [n for n, _ in mg_model.named_buffers()] == [n for n, _ in torch_model.named_buffers()]
    expected = torch_program["train_made"](torch_model, data, 8)
    losses, test_nll, masks = mg_program["train_made"](mg_model, data, 8)
    np.testing.assert_allclose(losses, expected[0], rtol=1e-5)
    assert test_nll == pytest.approx(expected[1], rel=1e-5)
    for ours, theirs in zip(masks, expected[2]):
        np.testing.assert_array_equal(ours, theirs)
    assert losses[-1] < losses[0]
    _assert_same_weights(torch_model, mg_model, initial)


def test_made_on_minigrads_own_generator_is_autoregressive(torch: Any) -> None:
    """Unpatched: minigrad's own ``randperm``/``randint`` under a seeded ``Generator`` give masks whose
    Jacobian respects the order, for every mask seed, and the same seed gives the same masks."""
    program = _program(MADE_MAF, MINIGRAD_IMPORTS_FLOWS)
    model = program["make_made"]()
    x = mg.from_numpy(_binary_chains(5, 6, 1))
    seen = []
    for _ in range(2 * model.num_masks):
        model.update_masks()
        assert sorted(model.degrees[-1].tolist()) == list(range(6))
        assert program["violations"](model, x) == 0
        seen.append(model.net[0].mask.numpy().copy())
    for k in range(model.num_masks):
        np.testing.assert_array_equal(seen[k], seen[k + model.num_masks])


def _correlated_points(count: int, seed: int) -> np.ndarray:
    """(count, 3) float32: x2 depends on x1 nonlinearly, x3 on both."""
    rng = np.random.default_rng(seed)
    x1 = rng.standard_normal(count)
    x2 = 0.5 * x1 ** 2 + 0.3 * rng.standard_normal(count)
    x3 = np.tanh(x1 - x2) + 0.2 * rng.standard_normal(count)
    return np.stack([x1, x2, x3], 1).astype(np.float32)


def test_maf_stack_with_reversed_orders(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three MAF layers: losses, first gradients, log-densities, base noise and the loop-over-dimensions samples
    (from shared base noise) equal torch's; sampling inverts the density direction."""
    data = _correlated_points(48, 2)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(MADE_MAF, factory="make_maf")
    expected, expected_grads = torch_program["train_maf"](torch_model, data, 8)
    losses, grads = mg_program["train_maf"](mg_model, data, 8)
    np.testing.assert_allclose(losses, expected, rtol=1e-5)
    assert losses[-1] < losses[0]
    assert grads.keys() == expected_grads.keys()
    for name in grads:
        np.testing.assert_allclose(grads[name], expected_grads[name], rtol=1e-4, atol=1e-6, err_msg=name)
    _shared_draws(monkeypatch, torch, 3)
    ours = mg_program["evaluate_maf"](mg_model, data)
    theirs = torch_program["evaluate_maf"](torch_model, data)
    for name, a, b in zip(("log_prob", "u", "samples", "u_back"), ours, theirs):
        assert a.dtype == b.dtype == np.float32, name
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=name)
    base = np.random.default_rng(3).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(ours[3], base, atol=1e-4)   # samples map back to the noise they came from
    _assert_same_weights(torch_model, mg_model, initial)
    noise = np.random.default_rng(4).standard_normal((6, 3)).astype(np.float32)
    loss, grads = mg_program["reverse_kl_gradients"](mg_model, noise)
    expected_loss, expected_grads = torch_program["reverse_kl_gradients"](torch_model, noise)
    assert loss == pytest.approx(expected_loss, rel=1e-5)
    for name in grads:
        np.testing.assert_allclose(grads[name], expected_grads[name], rtol=1e-4, atol=1e-6, err_msg=name)
    for program, model in ((torch_program, torch_model), (mg_program, mg_model)):
        with pytest.raises(RuntimeError, match="modified by an inplace operation|changed in place"):
            program["reverse_kl_gradients"](model, noise, clone=False)   # the MADE saved x, then x was written


# ----------------------------------------------------------------------------- 2. Glow


def _quantised_blobs(count: int, seed: int) -> np.ndarray:
    """(count, 1, 4, 4) float32 images in [0, 1): a bright blob at a random corner, on 256 levels."""
    rng = np.random.default_rng(seed)
    images = 0.2 * rng.random((count, 1, 4, 4))
    rows, cols = rng.integers(0, 3, count), rng.integers(0, 3, count)
    for k in range(count):
        images[k, 0, rows[k]:rows[k] + 2, cols[k]:cols[k] + 2] += 0.6
    return (np.floor(images * 256) / 256).astype(np.float32)


@pytest.mark.parametrize(("conv_lu", "optimizer_name"), [("plain", "Adamax"), ("lu", "Adam")])
def test_glow_multi_scale(conv_lu: str, optimizer_name: str, torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """ActNorm's first-batch initialisation, a few steps in bits per dim, the exact reconstruction and samples
    at a temperature (shared draws) agree with torch for each 1x1 convolution. (The ``lu_factor`` start differs
    from ``lu``'s only in how the factors are computed: the test below checks it on minigrad's own draws.)"""
    images = _quantised_blobs(24, 4)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(GLOW, conv_lu)
    _shared_uniforms(monkeypatch, torch, 5)
    expected = torch_program["train"](torch_model, images, 4, optimizer_name=optimizer_name)
    history = mg_program["train"](mg_model, images, 4, optimizer_name=optimizer_name)
    np.testing.assert_allclose(history, expected, rtol=1e-5, atol=1e-5)
    assert history[-1][0] < history[0][0]
    assert all(int(m.initialized) == 1 for m in mg_model.modules() if type(m).__name__ == "ActNorm")
    ours, theirs = mg_program["evaluate"](mg_model, images), torch_program["evaluate"](torch_model, images)
    # log p(z) + log|det| nearly cancel (terms ~20, sum ~0.4): compared at the terms' float32 rounding
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-5, atol=1e-5)
    assert ours[1] < 1e-5 and theirs[1] < 1e-5
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-4, atol=1e-5)
    _assert_same_weights(torch_model, mg_model, initial)


@pytest.mark.parametrize("conv_lu", ["lu", "factor"])
def test_glow_lu_start_on_minigrads_own_draws_is_orthogonal(conv_lu: str) -> None:
    """minigrad's own QR and LU factors rebuild the orthogonal start: P L (U + diag(sign exp(log s))) W^T = I."""
    program = _program(GLOW, MINIGRAD_IMPORTS_FLOWS)
    layer = program["InvConv2dLU"](6, factor=conv_lu == "factor")
    weight = layer.calc_weight().detach().numpy()
    np.testing.assert_allclose(weight @ weight.T, np.eye(6), atol=1e-5)


# ----------------------------------------------------------------------------- 3. NICE


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_nice_training_and_inverse(dtype: str, torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Additive couplings and a diagonal scaling under a logistic prior: losses, latents, samples (shared
    uniforms) and the weights equal torch's, and g(f(x)) == x in both engines; float64 to 1e-10."""
    data = _quantised_blobs(32, 6).reshape(32, 16)[:, :8].astype(dtype)
    rtol, atol = (1e-5, 1e-5) if dtype == "float32" else (1e-10, 1e-12)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(NICE, dtype)
    _shared_draws(monkeypatch, torch, 7)
    expected = torch_program["train"](torch_model, data, 6)
    losses = mg_program["train"](mg_model, data, 6)
    np.testing.assert_allclose(losses, expected, rtol=rtol)
    assert losses[-1] < losses[0]
    ours, theirs = mg_program["evaluate"](mg_model, data), torch_program["evaluate"](torch_model, data)
    for a, b in zip(ours[::2], theirs[::2]):
        assert a.dtype == b.dtype == np.dtype(dtype)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    assert ours[1] < 10 * atol and theirs[1] < 10 * atol
    _assert_same_weights(torch_model, mg_model, initial)


# ----------------------------------------------------------------------------- the GPU path


@pytest.mark.gpu
def test_glow_and_maf_on_the_gpu_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """minigrad's Glow (slogdet, inverse, the LU product, ActNorm's first batch, Adam) and MADE/MAF (masks from
    a CPU ``Generator`` copied into device buffers, the sampling loop) on ``cuda`` (the strict CuPy stand-in
    where there is no GPU): the same numbers as on the host, the draws read from one NumPy stream per run."""
    program = _program(MADE_MAF, MINIGRAD_IMPORTS_FLOWS)
    glow = _program(GLOW, MINIGRAD_IMPORTS_FLOWS)
    images, points, binary = _quantised_blobs(16, 4), _correlated_points(32, 2), _binary_chains(16, 6, 0)
    _seeded_degrees(monkeypatch, mg)
    results = []
    for device in ("cpu", "cuda"):
        rng = np.random.default_rng(5)

        def draw(shape: Any, rng: np.random.Generator = rng, device: Any = None, **kwargs: Any) -> Any:
            return mg.from_numpy(rng.random(tuple(shape)).astype(np.float32)).to(device or "cpu")

        monkeypatch.setattr(mg, "rand_like", lambda x, draw=draw: draw(x.shape, device=x.device))
        monkeypatch.setattr(mg, "randn", lambda *shape, draw=draw, **kwargs: draw(
            shape[0] if len(shape) == 1 and isinstance(shape[0], tuple) else shape, **kwargs) - 0.5)
        outputs = []
        for conv_lu, steps in (("plain", 0), ("lu", 1)):   # 0 steps: ActNorm's initialising pass only
            mg.manual_seed(0)
            model = glow["make_model"](conv_lu).to(device)
            history = glow["train"](model, images, steps)
            log_density, error, samples = glow["evaluate"](model, images)
            assert error < 1e-5
            outputs += [history, log_density, samples]
        mg.manual_seed(0)
        made, maf = program["make_made"]().to(device), program["make_maf"]().to(device)
        made_losses, made_test, _ = program["train_made"](made, binary, 2)
        maf_losses, _ = program["train_maf"](maf, points, 2)
        maf_samples = maf.sample(4)
        assert maf_samples.device.type == device
        results.append([*outputs, made_losses, made_test, maf_losses, maf_samples.numpy()])
    for ours, host in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, host, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- regressions the programs found


def test_a_negative_seed_wraps_modulo_2_to_the_64_as_torchs(torch: Any) -> None:
    """A mask or data seed from ``hash(key)`` is negative half the time: PyTorch takes [-2**63, 2**64) and wraps a
    negative seed modulo 2**64; minigrad refused it with a TypeError. Now the same initial seeds and the same
    stream as the wrapped seed's; out of range is a ValueError in both."""
    for seed in (-1, -12345, -2 ** 63):
        for lib in (torch, mg):
            assert lib.Generator().manual_seed(seed).initial_seed() == seed + 2 ** 64
            assert lib.manual_seed(seed).initial_seed() == seed + 2 ** 64
        ours = mg.randperm(8, generator=mg.Generator().manual_seed(seed)).tolist()
        assert ours == mg.randperm(8, generator=mg.Generator().manual_seed(seed + 2 ** 64)).tolist()
    for lib in (torch, mg):
        with pytest.raises(ValueError):
            lib.Generator().manual_seed(-2 ** 63 - 1)
    torch.manual_seed(0)
    mg.manual_seed(0)
