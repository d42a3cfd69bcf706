"""Three generative-model programs, run unchanged on torch and on minigrad: only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch program: it keeps the original's PyTorch calls
and habits in the same roles, with our own names, structure and comments, a small model, a few steps and
generated data (the helpers and the rule come from tests/test_pytorch_programs.py and
tests/test_pytorch_programs_more.py):

* ``REAL_NVP`` follows the RealNVP notebooks on 2-D toy data (Dinh et al. 2017; e.g.
  https://github.com/senya-ashukha/real-nvp-pytorch): affine coupling layers whose alternating masks are
  ``register_buffer``\\ s, ``s = torch.tanh(self.s_net(x_masked)) * (1 - mask)``, ``t`` likewise,
  ``y = x_masked + (1 - mask) * (x * torch.exp(s) + t)`` and ``log_det = s.sum(dim=1)``, an
  ``nn.ModuleList`` of them, a ``torch.distributions.MultivariateNormal(torch.zeros(2), torch.eye(2))`` prior
  read with ``prior.log_prob(z)``, the loss ``-(log_prob + log_det).mean()`` under Adam, samples drawn with
  ``prior.sample((n,))`` and pushed back through the inverse, and the x -> z -> x round trip;
* ``DDPM`` follows the denoising diffusion of "The Annotated Diffusion Model" and lucidrains'
  denoising-diffusion-pytorch (https://github.com/lucidrains/denoising-diffusion-pytorch) on 2-D points:
  a ``GaussianDiffusion`` module whose schedule (``torch.linspace`` betas in float64, ``torch.cumprod`` of the
  alphas, ``F.pad(alphas_cumprod[:-1], (1, 0), value=1.)``, the posterior variance, its clamped log and mean
  coefficients) is kept as float32 buffers by a local ``register_buffer`` wrapper, an ``extract`` helper over
  ``a.gather(-1, t).reshape(b, *((1,) * (len(x_shape) - 1)))``,
  a sinusoidal time embedding (``torch.exp(torch.arange(half) * -scale)``, ``t[:, None] * emb[None, :]``,
  ``torch.cat((emb.sin(), emb.cos()), dim=-1)``), ``q_sample`` with ``torch.randn_like`` noise and
  ``torch.randint(0, T, (b,))`` steps, an MSE loss on the predicted noise, an EMA copy made with
  ``copy.deepcopy(model)`` and moved by ``lerp_`` under ``torch.no_grad()``, and ``@torch.no_grad()``
  sampling loops over ``reversed(range(T))`` ending in ``torch.clamp(x, -1, 1)``: one through the predicted
  x_0 (clamped) and the posterior mean, one by the paper's Algorithm 2;
* ``VQ_VAE`` follows zalandoresearch/pytorch-vq-vae (https://github.com/zalandoresearch/pytorch-vq-vae) on
  1x8x8 images: convolutional encoder and decoder, a codebook ``nn.Embedding(K, D)`` initialised with
  ``uniform_(-1/K, 1/K)`` (under ``no_grad``: minigrad's ``.data`` is the array), the nearest code from
  ``(flat ** 2).sum(1, keepdim=True) - 2 * flat @ weight.t() + (weight ** 2).sum(1)`` and
  ``torch.argmin(distances, dim=1).unsqueeze(1)``, one-hot ``torch.zeros(n, K).scatter_(1, indices, 1)``,
  ``encodings @ weight``, the codebook and commitment losses with ``.detach()``, the straight-through
  ``inputs + (quantized - inputs).detach()``, the perplexity
  ``torch.exp(-torch.sum(avg_probs * torch.log(avg_probs + 1e-10)))`` and ``permute(0, 2, 3, 1).contiguous()``;
  its EMA quantiser (a ``register_buffer`` of cluster sizes, ``nn.Parameter(torch.Tensor(K, D))``, the codebook
  replaced by new ``nn.Parameter`` objects every training step, Laplace smoothing); and the Gumbel-softmax
  quantiser of karpathy/deep-vector-quantization
  (https://github.com/karpathy/deep-vector-quantization): ``F.gumbel_softmax(logits, tau, dim=1, hard=True)``,
  ``torch.einsum('b n h w, n d -> b d h w', ...)`` and the KL term to the uniform prior.

Random draws: the two engines' generators differ, so for the comparisons both read the same numbers
(``_shared_draws``): ``randn``/``randn_like``/``rand``/``randint`` of both libraries, torch's
``MultivariateNormal`` noise and the exponential draws of torch's ``gumbel_softmax`` come, in call order, from
one NumPy stream per library with the same seed. One habit is written around a documented design choice
(README, "Deliberately different"; DESIGN §3): an integer tensor times a Python float is float64 in minigrad
(NumPy 2's promotion) and float32 in PyTorch, so the time embedding's ``torch.arange`` names its dtype.

What the programs found: float32 ``cumsum``/``cumprod``/``logcumsumexp`` rounded at every step, where PyTorch's
CPU kernels accumulate in float64 and round once (the schedule's ``alphas_cumprod`` drifted by ~6e-7 over 1000
steps); the regression test at the end checks the same bits. Left as they are (both within an ulp or so, and
ours the correctly rounded one where they differ): torch 2.13's CPU ``sqrt`` of float32 is not always correctly
rounded, and its ``lerp`` uses a fused multiply-add.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import _assert_same_weights, _twin_models

TORCH_IMPORTS_GEN = """\
import copy
import math
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import optim
"""

MINIGRAD_IMPORTS_GEN = """\
import copy
import math
import minigrad as torch
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad import optim
"""


REAL_NVP = '''
class AffineCoupling(nn.Module):
    """One coupling layer: the coordinates where ``mask`` is 1 pass through and set a scale and a shift for the
    others.  x: (B, D) -> (y (B, D), log|det dy/dx| (B,))."""

    def __init__(self, mask, hidden=16):
        super().__init__()
        dim = mask.numel()
        self.register_buffer('mask', mask)
        self.s_net = nn.Sequential(nn.Linear(dim, hidden), nn.LeakyReLU(), nn.Linear(hidden, dim))
        self.t_net = nn.Sequential(nn.Linear(dim, hidden), nn.LeakyReLU(), nn.Linear(hidden, dim))

    def _scale_shift(self, x_masked):
        s = torch.tanh(self.s_net(x_masked)) * (1 - self.mask)
        t = self.t_net(x_masked) * (1 - self.mask)
        return s, t

    def forward(self, x):
        x_masked = x * self.mask
        s, t = self._scale_shift(x_masked)
        y = x_masked + (1 - self.mask) * (x * torch.exp(s) + t)
        return y, s.sum(dim=1)

    def inverse(self, y):
        y_masked = y * self.mask
        s, t = self._scale_shift(y_masked)
        return y_masked + (1 - self.mask) * (y - t) * torch.exp(-s)


class RealNVP(nn.Module):
    """Data x (B, 2) <-> latent z (B, 2) through couplings with alternating masks; N(0, I) prior on z."""

    def __init__(self, layers=4, hidden=16):
        super().__init__()
        masks = [torch.tensor([1.0, 0.0]) if i % 2 == 0 else torch.tensor([0.0, 1.0]) for i in range(layers)]
        self.couplings = nn.ModuleList([AffineCoupling(mask, hidden) for mask in masks])
        self.prior = torch.distributions.MultivariateNormal(torch.zeros(2), torch.eye(2))

    def forward(self, x):
        log_det = torch.zeros(x.shape[0], dtype=x.dtype)
        for coupling in self.couplings:
            x, layer_log_det = coupling(x)
            log_det = log_det + layer_log_det
        return x, log_det

    def inverse(self, z):
        for coupling in reversed(self.couplings):
            z = coupling.inverse(z)
        return z

    def log_prob(self, x):
        z, log_det = self(x)
        return self.prior.log_prob(z) + log_det

    def sample(self, n):
        with torch.no_grad():
            return self.inverse(self.prior.sample((n,)))


def make_model():
    return RealNVP()


def train(model, points, steps, batch_size=16, lr=3e-3):
    data = torch.from_numpy(points)
    optimizer = optim.Adam(model.parameters(), lr=lr)
    history = []
    for step in range(steps):
        start = (step * batch_size) % len(data)
        x = data[start:start + batch_size]
        z, log_det = model(x)
        loss = -(model.prior.log_prob(z) + log_det).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    return history


def evaluate(model, points, n_samples=8):
    """(mean log-likelihood of the points, round-trip error x -> z -> x, latents, samples)"""
    x = torch.from_numpy(points)
    with torch.no_grad():
        z, _ = model(x)
        back = model.inverse(z)
        mean_log_prob = model.log_prob(x).mean().item()
    samples = model.sample(n_samples)
    return mean_log_prob, (back - x).abs().max().item(), z.numpy(), samples.numpy()
'''


DDPM = '''
def extract(a, t, x_shape):
    """a (T,) read at the steps t (B,), shaped (B, 1, ..., 1) to broadcast against x_shape."""
    b = t.shape[0]
    out = a.gather(-1, t)
    return out.reshape(b, *((1,) * (len(x_shape) - 1)))


class SinusoidalTimeEmbedding(nn.Module):
    """Steps t (B,) to (B, dim): sines and cosines of t at geometrically spaced frequencies."""

    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, t):
        half = self.dim // 2
        scale = math.log(10000) / (half - 1)
        # the dtype named: an int64 arange times a Python float follows NumPy promotion in some engines
        emb = torch.exp(torch.arange(half, dtype=torch.float32) * -scale)
        emb = t[:, None].float() * emb[None, :]   # int64 * float32 is float64 under NumPy 2 promotion
        return torch.cat((emb.sin(), emb.cos()), dim=-1)


class Denoiser(nn.Module):
    """Predicts the noise in x_t (B, 2) at steps t (B,)."""

    def __init__(self, dim=2, hidden=32, time_dim=8):
        super().__init__()
        self.time_mlp = nn.Sequential(SinusoidalTimeEmbedding(time_dim), nn.Linear(time_dim, hidden), nn.GELU())
        self.inp = nn.Linear(dim, hidden)
        self.net = nn.Sequential(nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, dim))

    def forward(self, x, t):
        return self.net(self.inp(x) + self.time_mlp(t))


class GaussianDiffusion(nn.Module):
    """The fixed forward process q(x_t | x_0) over T linear-schedule steps (its constants as float32 buffers),
    the training loss of a noise-predicting model, and the reverse sampler through the posterior mean."""

    def __init__(self, model, timesteps=30):
        super().__init__()
        self.model = model
        self.num_timesteps = timesteps
        betas = torch.linspace(1e-4, 0.02, timesteps, dtype=torch.float64)
        alphas = 1. - betas
        alphas_cumprod = torch.cumprod(alphas, dim=0)
        alphas_cumprod_prev = F.pad(alphas_cumprod[:-1], (1, 0), value=1.)

        def register_buffer(name, val):
            self.register_buffer(name, val.to(torch.float32))

        register_buffer('betas', betas)
        register_buffer('alphas_cumprod', alphas_cumprod)
        register_buffer('sqrt_recip_alphas', torch.sqrt(1. / alphas))
        register_buffer('sqrt_alphas_cumprod', torch.sqrt(alphas_cumprod))
        register_buffer('sqrt_one_minus_alphas_cumprod', torch.sqrt(1. - alphas_cumprod))
        register_buffer('sqrt_recip_alphas_cumprod', torch.sqrt(1. / alphas_cumprod))
        register_buffer('sqrt_recipm1_alphas_cumprod', torch.sqrt(1. / alphas_cumprod - 1))
        posterior_variance = betas * (1. - alphas_cumprod_prev) / (1. - alphas_cumprod)
        register_buffer('posterior_variance', posterior_variance)
        register_buffer('posterior_log_variance_clipped', torch.log(posterior_variance.clamp(min=1e-20)))
        register_buffer('posterior_mean_coef1', betas * torch.sqrt(alphas_cumprod_prev) / (1. - alphas_cumprod))
        register_buffer('posterior_mean_coef2', (1. - alphas_cumprod_prev) * torch.sqrt(alphas) / (1. - alphas_cumprod))

    def q_sample(self, x_start, t, noise=None):
        if noise is None:
            noise = torch.randn_like(x_start)
        return (extract(self.sqrt_alphas_cumprod, t, x_start.shape) * x_start
                + extract(self.sqrt_one_minus_alphas_cumprod, t, x_start.shape) * noise)

    def p_losses(self, x_start, t):
        noise = torch.randn_like(x_start)
        x_noisy = self.q_sample(x_start, t, noise=noise)
        loss = F.mse_loss(self.model(x_noisy, t), noise, reduction='none')
        return loss.mean(dim=1).mean()

    def forward(self, x):
        t = torch.randint(0, self.num_timesteps, (x.shape[0],), device=x.device).long()
        return self.p_losses(x, t)

    def predict_start_from_noise(self, x_t, t, noise):
        return (extract(self.sqrt_recip_alphas_cumprod, t, x_t.shape) * x_t
                - extract(self.sqrt_recipm1_alphas_cumprod, t, x_t.shape) * noise)

    def q_posterior(self, x_start, x_t, t):
        mean = (extract(self.posterior_mean_coef1, t, x_t.shape) * x_start
                + extract(self.posterior_mean_coef2, t, x_t.shape) * x_t)
        return mean, extract(self.posterior_log_variance_clipped, t, x_t.shape)

    @torch.no_grad()
    def p_sample(self, model, x, t_index):
        t = torch.full((x.shape[0],), t_index, device=x.device, dtype=torch.long)
        x_start = torch.clamp(self.predict_start_from_noise(x, t, model(x, t)), -1., 1.)
        mean, log_variance = self.q_posterior(x_start, x, t)
        noise = torch.randn_like(x) if t_index > 0 else 0.
        return mean + (0.5 * log_variance).exp() * noise

    @torch.no_grad()
    def p_sample_simple(self, model, x, t_index):
        """The DDPM paper's Algorithm 2 step, without the x_0 clip."""
        t = torch.full((x.shape[0],), t_index, dtype=torch.long)
        betas_t = extract(self.betas, t, x.shape)
        mean = extract(self.sqrt_recip_alphas, t, x.shape) * (
            x - betas_t * model(x, t) / extract(self.sqrt_one_minus_alphas_cumprod, t, x.shape))
        if t_index == 0:
            return mean
        return mean + torch.sqrt(extract(self.posterior_variance, t, x.shape)) * torch.randn_like(x)

    @torch.no_grad()
    def sample(self, model, shape, clipped=True):
        x = torch.randn(shape)
        for i in reversed(range(0, self.num_timesteps)):
            x = self.p_sample(model, x, i) if clipped else self.p_sample_simple(model, x, i)
        return torch.clamp(x, -1, 1)


class EMA:
    """An exponential moving average of a model's weights, in a frozen deep copy."""

    def __init__(self, model, beta=0.9):
        self.beta = beta
        self.ema_model = copy.deepcopy(model)
        self.ema_model.requires_grad_(False)

    def update(self, model):
        with torch.no_grad():
            for ema_p, p in zip(self.ema_model.parameters(), model.parameters()):
                ema_p.lerp_(p, 1. - self.beta)


def make_model():
    return Denoiser()


def train(model, points, steps, batch_size=16, lr=2e-3, timesteps=30):
    diffusion = GaussianDiffusion(model, timesteps)
    ema = EMA(model)
    optimizer = optim.Adam(diffusion.parameters(), lr=lr)
    data = torch.from_numpy(points)
    history = []
    for step in range(steps):
        start = (step * batch_size) % len(data)
        loss = diffusion(data[start:start + batch_size])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        ema.update(model)
        history.append(loss.item())
    clipped = diffusion.sample(ema.ema_model, (6, 2))
    simple = diffusion.sample(ema.ema_model, (6, 2), clipped=False)
    return history, ema.ema_model, (clipped.numpy(), simple.numpy()), diffusion
'''


VQ_VAE = '''
class VectorQuantizer(nn.Module):
    """Each D-vector of the encoder's map (B, D, H, W) replaced by its nearest of K codebook vectors."""

    def __init__(self, num_embeddings, embedding_dim, commitment_cost):
        super(VectorQuantizer, self).__init__()
        self._embedding_dim = embedding_dim
        self._num_embeddings = num_embeddings
        self._embedding = nn.Embedding(self._num_embeddings, self._embedding_dim)
        with torch.no_grad():
            self._embedding.weight.uniform_(-1 / self._num_embeddings, 1 / self._num_embeddings)
        self._commitment_cost = commitment_cost

    def forward(self, inputs):
        inputs = inputs.permute(0, 2, 3, 1).contiguous()   # BCHW -> BHWC
        input_shape = inputs.shape
        flat_input = inputs.view(-1, self._embedding_dim)
        distances = ((flat_input ** 2).sum(1, keepdim=True)
                     - 2 * flat_input @ self._embedding.weight.t()
                     + (self._embedding.weight ** 2).sum(1))
        encoding_indices = torch.argmin(distances, dim=1).unsqueeze(1)
        encodings = torch.zeros(encoding_indices.shape[0], self._num_embeddings).scatter_(1, encoding_indices, 1)
        quantized = (encodings @ self._embedding.weight).view(input_shape)

        e_latent_loss = F.mse_loss(quantized.detach(), inputs)
        q_latent_loss = F.mse_loss(quantized, inputs.detach())
        loss = q_latent_loss + self._commitment_cost * e_latent_loss

        quantized = inputs + (quantized - inputs).detach()   # straight-through
        avg_probs = torch.mean(encodings, dim=0)
        perplexity = torch.exp(-torch.sum(avg_probs * torch.log(avg_probs + 1e-10)))
        return loss, quantized.permute(0, 3, 1, 2).contiguous(), perplexity, encoding_indices


class VectorQuantizerEMA(nn.Module):
    """The same nearest-code quantiser with a codebook that is not learned by gradient: each code follows an
    exponential moving average of the encoder vectors assigned to it (Laplace-smoothed cluster sizes)."""

    def __init__(self, num_embeddings, embedding_dim, commitment_cost, decay, epsilon=1e-5):
        super(VectorQuantizerEMA, self).__init__()
        self._embedding_dim = embedding_dim
        self._num_embeddings = num_embeddings
        self._embedding = nn.Embedding(self._num_embeddings, self._embedding_dim)
        self._commitment_cost = commitment_cost
        self.register_buffer('_ema_cluster_size', torch.zeros(num_embeddings))
        self._ema_w = nn.Parameter(torch.Tensor(num_embeddings, self._embedding_dim))
        with torch.no_grad():
            self._embedding.weight.normal_()
            self._ema_w.normal_()
        self._decay = decay
        self._epsilon = epsilon

    def forward(self, inputs):
        inputs = inputs.permute(0, 2, 3, 1).contiguous()
        input_shape = inputs.shape
        flat_input = inputs.view(-1, self._embedding_dim)
        distances = (torch.sum(flat_input ** 2, dim=1, keepdim=True)
                     + torch.sum(self._embedding.weight ** 2, dim=1)
                     - 2 * torch.matmul(flat_input, self._embedding.weight.t()))
        encoding_indices = torch.argmin(distances, dim=1).unsqueeze(1)
        encodings = torch.zeros(encoding_indices.shape[0], self._num_embeddings, device=inputs.device)
        encodings.scatter_(1, encoding_indices, 1)
        quantized = torch.matmul(encodings, self._embedding.weight).view(input_shape)

        if self.training:   # move the codebook: new Parameters each step, outside the optimizer
            self._ema_cluster_size = self._ema_cluster_size * self._decay + (1 - self._decay) * torch.sum(encodings, 0)
            n = torch.sum(self._ema_cluster_size.detach())
            self._ema_cluster_size = ((self._ema_cluster_size + self._epsilon)
                                      / (n + self._num_embeddings * self._epsilon) * n)
            dw = torch.matmul(encodings.t(), flat_input)
            self._ema_w = nn.Parameter(self._ema_w * self._decay + (1 - self._decay) * dw)
            self._embedding.weight = nn.Parameter(self._ema_w / self._ema_cluster_size.unsqueeze(1))

        loss = self._commitment_cost * F.mse_loss(quantized.detach(), inputs)
        quantized = inputs + (quantized - inputs).detach()
        avg_probs = torch.mean(encodings, dim=0)
        perplexity = torch.exp(-torch.sum(avg_probs * torch.log(avg_probs + 1e-10)))
        return loss, quantized.permute(0, 3, 1, 2).contiguous(), perplexity, encoding_indices


class GumbelQuantizer(nn.Module):
    """A relaxed quantiser: logits over the K codes per position, a hard Gumbel-softmax sample picks one."""

    def __init__(self, num_hiddens, num_embeddings, embedding_dim, kl_weight=5e-4, temperature=1.0):
        super().__init__()
        self.n_embed = num_embeddings
        self.temperature = temperature
        self.kl_weight = kl_weight
        self.proj = nn.Conv2d(num_hiddens, num_embeddings, 1)
        self.embed = nn.Embedding(num_embeddings, embedding_dim)

    def forward(self, z):
        logits = self.proj(z)
        soft_one_hot = F.gumbel_softmax(logits, tau=self.temperature, dim=1, hard=True)
        z_q = torch.einsum('b n h w, n d -> b d h w', soft_one_hot, self.embed.weight)
        qy = F.softmax(logits, dim=1)   # KL to the uniform prior over the codes
        diff = self.kl_weight * torch.sum(qy * torch.log(qy * self.n_embed + 1e-10), dim=1).mean()
        return diff, z_q, soft_one_hot.argmax(dim=1)


class VQVAE(nn.Module):
    """Images (B, 1, 8, 8) -> codes on a 4x4 grid -> reconstructions (B, 1, 8, 8)."""

    def __init__(self, num_hiddens=8, num_embeddings=6, embedding_dim=3, commitment_cost=0.25, decay=0.0,
                 gumbel=False):
        super(VQVAE, self).__init__()
        self._encoder = nn.Sequential(
            nn.Conv2d(1, num_hiddens, kernel_size=4, stride=2, padding=1), nn.ReLU(True),
            nn.Conv2d(num_hiddens, num_hiddens, kernel_size=3, stride=1, padding=1), nn.ReLU(True))
        if gumbel:
            self._vq = GumbelQuantizer(num_hiddens, num_embeddings, embedding_dim)
        else:
            self._pre_vq_conv = nn.Conv2d(num_hiddens, embedding_dim, kernel_size=1, stride=1)
            if decay > 0.0:
                self._vq = VectorQuantizerEMA(num_embeddings, embedding_dim, commitment_cost, decay)
            else:
                self._vq = VectorQuantizer(num_embeddings, embedding_dim, commitment_cost)
        self._decoder = nn.Sequential(
            nn.Conv2d(embedding_dim, num_hiddens, kernel_size=3, stride=1, padding=1), nn.ReLU(True),
            nn.ConvTranspose2d(num_hiddens, 1, kernel_size=4, stride=2, padding=1))
        self.gumbel = gumbel

    def forward(self, x):
        z = self._encoder(x)
        if self.gumbel:
            loss, quantized, indices = self._vq(z)
            perplexity = None
        else:
            loss, quantized, perplexity, indices = self._vq(self._pre_vq_conv(z))
        return loss, self._decoder(quantized), perplexity, indices


def make_model(quantizer='nearest'):
    return VQVAE(decay=0.9 if quantizer == 'ema' else 0.0, gumbel=quantizer == 'gumbel')


def train(model, images, steps, batch_size=8, lr=3e-3):
    data = torch.from_numpy(images)
    data_variance = float(images.var())
    optimizer = optim.Adam(model.parameters(), lr=lr, amsgrad=False)
    model.train()
    recon_errors, perplexities, codes = [], [], []
    for step in range(steps):
        start = (step * batch_size) % len(data)
        batch = data[start:start + batch_size]
        optimizer.zero_grad()
        vq_loss, data_recon, perplexity, indices = model(batch)
        recon_error = F.mse_loss(data_recon, batch) / data_variance
        loss = recon_error + vq_loss
        loss.backward()
        optimizer.step()
        recon_errors.append(recon_error.item())
        perplexities.append(perplexity.item() if perplexity is not None else vq_loss.item())
        codes.append(indices.reshape(-1).tolist())
    return recon_errors, perplexities, codes
'''

PROGRAMS = (REAL_NVP, DDPM, VQ_VAE)


def _twins(source: str, *args: Any) -> tuple:
    return _twin_models(source, *args, imports=(TORCH_IMPORTS_GEN, MINIGRAD_IMPORTS_GEN))


def _numpy_draws(lib: Any, seed: int) -> dict:
    """``randn``, ``rand``, ``randn_like``, ``randint`` for ``lib`` (torch or minigrad) reading one NumPy stream."""
    rng = np.random.default_rng(seed)

    def numpy_dtype(dtype: Any) -> Any:
        if dtype is None:
            return np.float32
        return lib.empty(0, dtype=dtype).numpy().dtype

    def shape_of(size: tuple) -> tuple:
        return tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)

    def randn(*size: Any, dtype: Any = None, **kwargs: Any) -> Any:
        assert str(kwargs.get("device", "cpu")) == "cpu"
        return lib.from_numpy(rng.standard_normal(shape_of(size)).astype(numpy_dtype(dtype)))

    def rand(*size: Any, dtype: Any = None, **kwargs: Any) -> Any:
        assert str(kwargs.get("device", "cpu")) == "cpu"
        return lib.from_numpy(rng.random(shape_of(size)).astype(numpy_dtype(dtype)))

    def randn_like(x: Any) -> Any:
        return randn(*x.shape, dtype=x.dtype)

    def randint(low: int, high: int, size: tuple, **kwargs: Any) -> Any:
        assert str(kwargs.get("device", "cpu")) == "cpu"
        return lib.from_numpy(rng.integers(low, high, size).astype(np.int64))

    return {"randn": randn, "rand": rand, "randn_like": randn_like, "randint": randint}


def _shared_draws(monkeypatch: pytest.MonkeyPatch, torch: Any, seed: int) -> None:
    """Both libraries' random draws, in call order, from one NumPy stream each of the same seed.

    ``randn``/``randn_like``/``rand``/``randint`` of both, plus torch's own paths that bypass them: the
    ``MultivariateNormal`` noise (``_standard_normal``) and ``Tensor.exponential_`` (``gumbel_softmax``'s
    draw; minigrad's draws a uniform u and takes -log1p(-u), which this gives torch too).
    """
    import torch.distributions.multivariate_normal as torch_mvn  # noqa: PLC0415

    import minigrad as mg  # noqa: PLC0415

    for lib in (torch, mg):
        for name, draw in _numpy_draws(lib, seed).items():
            monkeypatch.setattr(lib, name, draw)
    randn, rand = torch.randn, torch.rand

    def exponential_(self: Any, lambd: float = 1.0, **kwargs: Any) -> Any:
        return self.copy_(-torch.log1p(-rand(*self.shape, dtype=self.dtype)) / lambd)

    monkeypatch.setattr(torch_mvn, "_standard_normal", lambda shape, dtype, device: randn(*shape, dtype=dtype))
    monkeypatch.setattr(torch.Tensor, "exponential_", exponential_)


def test_the_programs_differ_only_in_their_imports() -> None:
    assert TORCH_IMPORTS_GEN.count("\n") == MINIGRAD_IMPORTS_GEN.count("\n") == 6
    assert TORCH_IMPORTS_GEN.splitlines()[:2] == MINIGRAD_IMPORTS_GEN.splitlines()[:2] == ["import copy", "import math"]
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. RealNVP


def _moons(count: int, seed: int) -> np.ndarray:
    """(count, 2) float32 points on two interleaved half circles with a little noise."""
    rng = np.random.default_rng(seed)
    angle = rng.random(count) * np.pi
    upper = rng.random(count) < 0.5
    x = np.where(upper, np.cos(angle), 1 - np.cos(angle))
    y = np.where(upper, np.sin(angle), 0.5 - np.sin(angle))
    return (np.stack([x, y], 1) + 0.05 * rng.standard_normal((count, 2))).astype(np.float32)


def test_real_nvp_on_moons(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Maximum likelihood through four couplings under Adam; the log-likelihood, the latents, the round trip
    and samples drawn from the prior (shared draws) agree with torch."""
    points = _moons(48, 0)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(REAL_NVP)
    assert [name for name, _ in mg_model.named_buffers()] == [name for name, _ in torch_model.named_buffers()]
    expected = torch_program["train"](torch_model, points, 12)
    history = mg_program["train"](mg_model, points, 12)
    np.testing.assert_allclose(history, expected, rtol=1e-5, atol=1e-6)
    assert history[-1] < history[0]
    _shared_draws(monkeypatch, torch, 1)
    log_prob, round_trip, latents, samples = mg_program["evaluate"](mg_model, points)
    expected_log_prob, expected_round_trip, expected_latents, expected_samples = torch_program["evaluate"](
        torch_model, points)
    assert log_prob == pytest.approx(expected_log_prob, rel=1e-5)
    assert round_trip < 1e-5 and expected_round_trip < 1e-5
    np.testing.assert_allclose(latents, expected_latents, rtol=1e-5, atol=1e-6)
    assert samples.shape == expected_samples.shape == (8, 2) and samples.dtype == np.float32
    np.testing.assert_allclose(samples, expected_samples, rtol=1e-5, atol=1e-6)
    _assert_same_weights(torch_model, mg_model, initial)


# ----------------------------------------------------------------------------- 2. DDPM


def _ring(count: int, seed: int) -> np.ndarray:
    """(count, 2) float32 points near a circle of radius 0.7 (inside the sampler's [-1, 1] clamp)."""
    rng = np.random.default_rng(seed)
    angle = rng.random(count) * 2 * np.pi
    return (0.7 * np.stack([np.cos(angle), np.sin(angle)], 1) + 0.03 * rng.standard_normal((count, 2))).astype(
        np.float32)


def test_ddpm_with_ema_and_sampling(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Noise prediction at random steps (shared randint/randn_like), Adam, an EMA deep copy moved with lerp_,
    then two no_grad reverse chains from shared noise: losses, the schedule buffers, the EMA weights and the
    samples."""
    points = _ring(48, 2)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(DDPM)
    _shared_draws(monkeypatch, torch, 3)
    expected, torch_ema, expected_samples, torch_diffusion = torch_program["train"](torch_model, points, 10)
    history, mg_ema, samples, mg_diffusion = mg_program["train"](mg_model, points, 10)
    np.testing.assert_allclose(history, expected, rtol=1e-5, atol=1e-6)
    buffers = dict(mg_diffusion.named_buffers())
    assert list(buffers) == [name for name, _ in torch_diffusion.named_buffers()] and len(buffers) == 11
    for name, theirs in torch_diffusion.named_buffers():
        assert buffers[name].dtype == np.float32, name
        np.testing.assert_allclose(buffers[name].numpy(), theirs.numpy(), rtol=1e-6, atol=1e-9, err_msg=name)
    _assert_same_weights(torch_model, mg_model, initial)
    _assert_same_weights(torch_ema, mg_ema, initial)
    assert all(not p.requires_grad for p in mg_ema.parameters()) and all(p.requires_grad for p in mg_model.parameters())
    for ours, theirs in zip(samples, expected_samples):
        assert ours.shape == (6, 2) and np.abs(ours).max() <= 1
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- 3. VQ-VAE


def _blob_images(count: int, seed: int) -> np.ndarray:
    """(count, 1, 8, 8) float32 images: a bright 3x3 square at a random place over faint noise."""
    rng = np.random.default_rng(seed)
    images = rng.random((count, 1, 8, 8)) * 0.2
    for image, (row, col) in zip(images, rng.integers(0, 6, (count, 2))):
        image[0, row:row + 3, col:col + 3] += 1.0
    return images.astype(np.float32)


@pytest.mark.parametrize("quantizer", ["nearest", "ema"])
def test_vq_vae_with_straight_through_codebook(quantizer: str, torch: Any) -> None:
    """Nearest-code quantisation, the commitment loss (and the codebook loss, or the EMA codebook whose
    Parameters are replaced every step), the straight-through gradient and the perplexity, under Adam: every
    number, the chosen codes and the moved codebook included, equals torch's."""
    images = _blob_images(24, 4)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(VQ_VAE, quantizer)
    expected = torch_program["train"](torch_model, images, 9)
    recon, perplexity, codes = mg_program["train"](mg_model, images, 9)
    np.testing.assert_allclose(recon, expected[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(perplexity, expected[1], rtol=1e-5, atol=1e-6)
    assert codes == expected[2]
    _assert_same_weights(torch_model, mg_model, initial)


def test_vq_vae_with_gumbel_softmax_quantizer(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Gumbel variant with shared draws: losses, the sampled codes and the weights equal torch's."""
    images = _blob_images(24, 5)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(VQ_VAE, 'gumbel')
    _shared_draws(monkeypatch, torch, 6)
    expected = torch_program["train"](torch_model, images, 9)
    recon, kl, codes = mg_program["train"](mg_model, images, 9)
    np.testing.assert_allclose(recon, expected[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(kl, expected[1], rtol=1e-5, atol=1e-7)
    assert codes == expected[2]
    _assert_same_weights(torch_model, mg_model, initial)


# ----------------------------------------------------------------------------- regressions the programs found


@pytest.mark.parametrize("name", ["cumsum", "cumprod", "logcumsumexp"])
def test_float32_running_sums_and_products_round_once_as_torchs_cpu_kernels(name: str, torch: Any) -> None:
    """The DDPM's ``alphas_cumprod``: PyTorch's CPU scans accumulate float32 in float64 and round each output
    once; minigrad rounded every step, drifting ~6e-7 relative over 1000 steps. Now the same bits, the cumsum
    gradient (a sum from the right) and complex64 included."""
    import minigrad as mg  # noqa: PLC0415

    rng = np.random.default_rng(0)
    schedule = 1 - np.linspace(1e-4, 0.02, 1000, dtype=np.float32)
    values = schedule if name == "cumprod" else rng.standard_normal(1000).astype(np.float32)
    x = np.stack([values, values[::-1]])   # (2, 1000)
    for dim in (1, 0):
        expected = getattr(torch, name)(torch.from_numpy(x), dim=dim).numpy()
        ours = getattr(mg, name)(mg.from_numpy(x), dim=dim).numpy()
        assert ours.dtype == np.float32
        np.testing.assert_array_equal(ours, expected)
    if name == "cumsum":
        gy = rng.standard_normal(x.shape).astype(np.float32)
        theirs = torch.from_numpy(x).requires_grad_()
        torch.cumsum(theirs, dim=1).backward(torch.from_numpy(gy))
        ours = mg.from_numpy(x).requires_grad_()
        mg.cumsum(ours, dim=1).backward(mg.from_numpy(gy))
        np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())
        z = (x + 1j * x[::-1]).astype(np.complex64)
        np.testing.assert_array_equal(mg.cumsum(mg.from_numpy(z), dim=1).numpy(),
                                      torch.cumsum(torch.from_numpy(z), dim=1).numpy())
