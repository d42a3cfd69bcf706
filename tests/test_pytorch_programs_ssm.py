"""State-space and linear-recurrence sequence models, small, run unchanged on minigrad: only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch program: it keeps the original's PyTorch calls
and habits in the same roles, with our own names, structure and comments, a small model, a few steps and
generated data (the helpers and the rule come from tests/test_pytorch_programs.py):

* ``S4D_CLASSIFIER`` follows the S4D layer of state-spaces/s4 (``models/s4/s4d.py``, the "S4D minimal" file)
  and its ``example.py`` sequence classifier, with S4D-Lin's initialisation or S4D-LegS's (the repository's
  ``nplr``: the HiPPO-LegS matrix plus its low-rank correction, ``torch.linalg.eigh`` of the Hermitian
  ``AP * -1j``, eigenvalues sorted by ``torch.sort(W.imag)``, eigenvectors checked by ``V.mH @ V``): a complex
  diagonal ``A = -exp(log_A_real) + 1j * A_imag``, a complex ``C`` kept as
  ``nn.Parameter(torch.view_as_real(C))`` and read back with ``torch.view_as_complex``,
  zero-order-hold discretisation with ``torch.exp`` of complex ``dt * A``, the Vandermonde kernel by ``einsum``
  over ``exp`` of a complex (H, N, L) tensor, ``.real``, the convolution by ``torch.fft.rfft``/``irfft`` with
  ``n=2L``, the ``D`` skip term, ``GELU`` and a ``Conv1d(kernel_size=1)`` + ``GLU(dim=-2)`` output, post-norm
  ``LayerNorm`` residual blocks between a ``Linear`` encoder and decoder; the SSM parameters carry an
  ``_optim`` dict (``weight_decay=0``, their own ``lr``) that ``setup_optimizer`` turns into AdamW parameter
  groups with ``add_param_group``, under ``CosineAnnealingLR``;
* ``MAMBA_LM`` follows johnma2006/mamba-minimal (``model.py``): ``in_proj`` split into the SSM input and the
  gate, a depthwise causal ``Conv1d(groups=d_inner, padding=d_conv - 1)`` cut back with ``[:, :, :l]``,
  ``F.silu``, ``x_proj`` split into ``(delta, B, C)`` by ``split(split_size=[...])``, ``F.softplus`` of
  ``dt_proj``, ``A = -torch.exp(A_log)``, the selective scan as a Python loop over time
  (``x = deltaA[:, i] * x + deltaB_u[:, i]``, ``y = einsum(x, C[:, i])``, ``torch.stack``), ``RMSNorm`` by
  ``rsqrt``, residual blocks, a language-model head tied to the embedding; Adam. The same recurrence is also
  run as alxndrTL/mamba.py runs it: broadcast ``deltaA[:, t] * h + BX[:, t]`` with ``(hs @ C.unsqueeze(-1))``,
  or its parallel scan, a ``torch.autograd.Function`` whose forward and backward run a Blelloch scan in place
  on strided views (``Xa[:, :, :, 1].add_(...)``, ``view``, ``F.pad`` to a power of two, ``zeros_like``);
* ``INDRNN_QRNN`` follows the IndRNN of Sunnydreamrain/IndRNN_pytorch (``h = relu(W x + u * h + b)``, a
  per-unit recurrent weight drawn in ``[0, U_bound]`` and clamped back to ``[-U_bound, U_bound]`` under
  ``torch.no_grad()`` after every step, found by ``'weight_hh' in name``) and the QRNN of
  salesforce/pytorch-qrnn (a masked ``Conv1d`` over time makes the Z, F, O gates, ``chunk(3)``, and
  ``ForgetMult``'s fo-pooling loop ``c = f * z + (1 - f) * c`` over ``split(1)``), both on the adding problem
  with Adam and ``clip_grad_norm_``;
* ``LINEAR_ATTENTION`` follows the linear attention of idiap/fast-transformers ("Transformers are RNNs":
  ``elu(x) + 1`` features, ``einsum`` key-value sums, the causal form by ``cumsum`` over positions) and the
  FAVOR+ softmax kernel of lucidrains/performer-pytorch (a Gaussian orthogonal random matrix from
  ``torch.linalg.qr`` blocks scaled by row norms, kept as a buffer, ``exp(x w - |x|^2 / 2 - amax)`` features
  with ``detach()``-ed maxima), compared with softmax attention on the same inputs and trained as a tiny
  causal language model with Adam;
* ``MIN_GRU`` follows lucidrains/minGRU-pytorch ("Were RNNs All We Needed?"): gates from the input alone, the
  parallel mode by Heinsen's log-space scan (``cumsum``, ``logcumsumexp``, ``exp``; ``g``/``log_g`` by
  ``torch.where``, ``-F.softplus``), ``F.pad`` of the log-coefficients and ``torch.cat`` of ``prev_hidden.log()``
  for a carried state, the one-token recurrent mode by ``torch.lerp``, ``nn.RMSNorm`` residual layers; trained with
  Adam, then decoded both ways.

Where a program draws random numbers to build a buffer (the Performer's projection), the buffer is copied with
the state dict, so both engines read the same features.

Ours on purpose (DESIGN §3, README "Coming from PyTorch"): an int64 tensor mixed with a float32 or complex64
tensor follows NumPy 2's promotion (float64 / complex128). S4D's ``math.pi * repeat(torch.arange(N // 2), ...)``
and ``dtA.unsqueeze(-1) * torch.arange(L)`` therefore name the float dtype of their ``arange`` here
(``dtype=torch.float32``), which leaves torch's numbers unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
from tests.helpers import same_as_torch
from tests.test_pytorch_programs import MINIGRAD_IMPORTS, TORCH_IMPORTS, _twin_models

TORCH_IMPORTS_SSM = TORCH_IMPORTS + """\
from torch.optim.lr_scheduler import CosineAnnealingLR
"""

MINIGRAD_IMPORTS_SSM = MINIGRAD_IMPORTS + """\
from minigrad.optim.lr_scheduler import CosineAnnealingLR
"""


S4D_CLASSIFIER = '''
def hippo_legs(N):
    """The HiPPO-LegS transition (N, N), its normal-plus-low-rank correction P (1, N), and B (N,), float64."""
    q = torch.arange(N, dtype=torch.float64)
    r = (2 * q + 1).sqrt()
    A = -torch.where(q.unsqueeze(1) > q.unsqueeze(0), r.unsqueeze(1) * r.unsqueeze(0), torch.diag(q + 1))
    P = torch.sqrt(.5 + q).unsqueeze(0)
    return A, P, r


def hippo_legs_diagonal(N):
    """The N // 2 eigenvalues (negative imaginary parts) of LegS's normal part A + P^T P, complex64, as
    ``nplr`` computes them: real part the mean diagonal, imaginary parts by ``eigh`` of the Hermitian -i (A + P^T P)."""
    A, P, B = hippo_legs(N)
    AP = A + torch.sum(P.unsqueeze(-2) * P.unsqueeze(-1), dim=-3)
    W_re = torch.mean(torch.diagonal(AP), -1, keepdim=True)
    W_im, V = torch.linalg.eigh(AP * -1j)
    W = W_re + 1j * W_im
    _, idx = torch.sort(W.imag)
    V = V[:, idx][:, :N // 2]
    assert torch.allclose(V.mH @ V, torch.eye(N // 2, dtype=V.dtype), atol=1e-12)   # orthonormal eigenvectors
    return W[idx][:N // 2].to(torch.cfloat)

class S4DKernel(nn.Module):
    """The convolution kernel (H, L) of H diagonal state-space models with N // 2 complex conjugate-pair modes."""

    def __init__(self, d_model, N=8, dt_min=0.001, dt_max=0.1, lr=None, init='lin'):
        super().__init__()
        H = d_model
        log_dt = torch.rand(H) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        C = torch.randn(H, N // 2, dtype=torch.cfloat)
        self.C = nn.Parameter(torch.view_as_real(C))          # optimizers see real numbers only
        self.register("log_dt", log_dt, lr)
        if init == 'legs':                                    # S4D-LegS: the diagonal part of HiPPO-LegS
            W = hippo_legs_diagonal(N).repeat(H, 1)
            self.register("log_A_real", torch.log(-W.real), lr)
            self.register("A_imag", W.imag.contiguous(), lr)
        else:                                                 # S4D-Lin: -1/2 + i pi n
            self.register("log_A_real", torch.log(0.5 * torch.ones(H, N // 2)), lr)
            self.register("A_imag", math.pi * torch.arange(N // 2, dtype=torch.float32).repeat(H, 1), lr)

    def forward(self, L):
        dt = torch.exp(self.log_dt)                                      # (H,)
        C = torch.view_as_complex(self.C)                                # (H, N/2)
        A = -torch.exp(self.log_A_real) + 1j * self.A_imag               # (H, N/2), left half-plane
        dtA = A * dt.unsqueeze(-1)
        K = dtA.unsqueeze(-1) * torch.arange(L, device=A.device, dtype=torch.float32)   # (H, N/2, L)
        C = C * (torch.exp(dtA) - 1.) / A                                # zero-order hold
        return 2 * torch.einsum('hn, hnl -> hl', C, torch.exp(K)).real

    def register(self, name, tensor, lr=None):
        """A parameter with its own optimizer settings (no weight decay), or a fixed buffer when lr == 0."""
        if lr == 0.0:
            self.register_buffer(name, tensor)
        else:
            self.register_parameter(name, nn.Parameter(tensor))
            settings = {"weight_decay": 0.0}
            if lr is not None:
                settings["lr"] = lr
            setattr(getattr(self, name), "_optim", settings)


class S4D(nn.Module):
    """(B, H, L) to (B, H, L): the long convolution with the SSM kernel, a skip term, GELU and a gated output."""

    def __init__(self, d_model, d_state=8, transposed=True, **kernel_args):
        super().__init__()
        self.h, self.n = d_model, d_state
        self.transposed = transposed
        self.D = nn.Parameter(torch.randn(self.h))
        self.kernel = S4DKernel(self.h, N=self.n, **kernel_args)
        self.activation = nn.GELU()
        self.dropout = nn.Identity()
        self.output_linear = nn.Sequential(nn.Conv1d(self.h, 2 * self.h, kernel_size=1), nn.GLU(dim=-2))

    def forward(self, u):
        if not self.transposed:
            u = u.transpose(-1, -2)
        L = u.size(-1)
        k = self.kernel(L=L)                                             # (H, L)
        k_f = torch.fft.rfft(k, n=2 * L)                                 # zero-padded: no wrap-around
        u_f = torch.fft.rfft(u, n=2 * L)
        y = torch.fft.irfft(u_f * k_f, n=2 * L)[..., :L]                 # (B, H, L)
        y = y + u * self.D.unsqueeze(-1)
        y = self.dropout(self.activation(y))
        y = self.output_linear(y)
        if not self.transposed:
            y = y.transpose(-1, -2)
        return y, None


class S4Model(nn.Module):
    """(B, L, d_input) to class scores (B, d_output): Linear encoder, post-norm S4D residual blocks, mean pool."""

    def __init__(self, d_input, d_output=3, d_model=6, n_layers=2, lr=0.001, init='lin'):
        super().__init__()
        self.encoder = nn.Linear(d_input, d_model)
        self.s4_layers = nn.ModuleList([S4D(d_model, lr=lr, init=init) for _ in range(n_layers)])
        self.norms = nn.ModuleList([nn.LayerNorm(d_model) for _ in range(n_layers)])
        self.decoder = nn.Linear(d_model, d_output)

    def forward(self, x):
        x = self.encoder(x).transpose(-1, -2)                            # (B, H, L)
        for layer, norm in zip(self.s4_layers, self.norms):
            z, _ = layer(x)
            x = norm((z + x).transpose(-1, -2)).transpose(-1, -2)
        return self.decoder(x.transpose(-1, -2).mean(dim=1))


def make_model(init='lin'):
    return S4Model(1, init=init)


def setup_optimizer(model, lr, weight_decay, epochs):
    """AdamW over the ordinary parameters, plus one group per distinct ``_optim`` setting of the SSM ones."""
    all_parameters = list(model.parameters())
    params = [p for p in all_parameters if not hasattr(p, "_optim")]
    optimizer = optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    hps = [getattr(p, "_optim") for p in all_parameters if hasattr(p, "_optim")]
    hps = [dict(s) for s in sorted(list(dict.fromkeys(frozenset(hp.items()) for hp in hps)))]
    for hp in hps:
        params = [p for p in all_parameters if getattr(p, "_optim", None) == hp]
        optimizer.add_param_group({"params": params, **hp})
    scheduler = CosineAnnealingLR(optimizer, epochs)
    return optimizer, scheduler


def train(model, inputs, targets, steps):
    optimizer, scheduler = setup_optimizer(model, lr=0.01, weight_decay=0.01, epochs=steps)
    criterion = nn.CrossEntropyLoss()
    inputs, targets = torch.from_numpy(inputs), torch.from_numpy(targets)
    losses, lrs, grads = [], [], []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = criterion(model(inputs), targets)
        loss.backward()
        grads.append({name: p.grad.numpy().copy() for name, p in model.named_parameters()})
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        lrs.append([group["lr"] for group in optimizer.param_groups])
    groups = [(len(group["params"]), group["weight_decay"]) for group in optimizer.param_groups]
    with torch.no_grad():
        kernel = model.s4_layers[0].kernel(L=inputs.size(1))
    return losses, lrs, grads, groups, kernel.numpy()
'''


MAMBA_LM = '''
def npo2(length):
    return 2 ** math.ceil(math.log2(length))


def pad_npo2(X):
    """(B, L, D, N) zero-padded along L to the next power of two."""
    len_npo2 = npo2(X.size(1))
    return F.pad(X, (0, 0, 0, 0, 0, len_npo2 - X.size(1)))


class PScan(torch.autograd.Function):
    """h_t = A_t * h_{t-1} + X_t for every t by a Blelloch scan written in place on strided views."""

    @staticmethod
    def pscan(A, X):
        # A, X: (B, D, L, N), L a power of two; X becomes the scan's result
        B, D, L, _ = A.size()
        num_steps = int(math.log2(L))
        Aa, Xa = A, X
        for _ in range(num_steps - 2):                  # up-sweep
            T = Xa.size(2)
            Aa = Aa.view(B, D, T // 2, 2, -1)
            Xa = Xa.view(B, D, T // 2, 2, -1)
            Xa[:, :, :, 1].add_(Aa[:, :, :, 1].mul(Xa[:, :, :, 0]))
            Aa[:, :, :, 1].mul_(Aa[:, :, :, 0])
            Aa = Aa[:, :, :, 1]
            Xa = Xa[:, :, :, 1]
        if Xa.size(2) == 4:
            Xa[:, :, 1].add_(Aa[:, :, 1].mul(Xa[:, :, 0]))
            Aa[:, :, 1].mul_(Aa[:, :, 0])
            Xa[:, :, 3].add_(Aa[:, :, 3].mul(Xa[:, :, 2] + Aa[:, :, 2].mul(Xa[:, :, 1])))
        elif Xa.size(2) == 2:
            Xa[:, :, 1].add_(Aa[:, :, 1].mul(Xa[:, :, 0]))
            return
        else:
            return
        Aa = A[:, :, 2**(num_steps-2)-1:L:2**(num_steps-2)]      # down-sweep
        Xa = X[:, :, 2**(num_steps-2)-1:L:2**(num_steps-2)]
        Xa[:, :, 2].add_(Aa[:, :, 2].mul(Xa[:, :, 1]))
        Aa[:, :, 2].mul_(Aa[:, :, 1])
        for k in range(num_steps-3, -1, -1):
            Aa = A[:, :, 2**k-1:L:2**k]
            Xa = X[:, :, 2**k-1:L:2**k]
            T = Xa.size(2)
            Aa = Aa.view(B, D, T // 2, 2, -1)
            Xa = Xa.view(B, D, T // 2, 2, -1)
            Xa[:, :, 1:, 0].add_(Aa[:, :, 1:, 0].mul(Xa[:, :, :-1, 1]))
            Aa[:, :, 1:, 0].mul_(Aa[:, :, :-1, 1])

    @staticmethod
    def forward(ctx, A_in, X_in):
        L = X_in.size(1)
        if L == npo2(L):
            A, X = A_in.clone(), X_in.clone()
        else:
            A, X = pad_npo2(A_in), pad_npo2(X_in)
        A, X = A.transpose(2, 1), X.transpose(2, 1)      # (B, D, L, N)
        PScan.pscan(A, X)
        ctx.save_for_backward(A_in, X)
        return X.transpose(2, 1)[:, :L]

    @staticmethod
    def backward(ctx, grad_output_in):
        A_in, X = ctx.saved_tensors
        L = grad_output_in.size(1)
        if L == npo2(L):
            grad_output = grad_output_in.clone()
        else:
            grad_output = pad_npo2(grad_output_in)
            A_in = pad_npo2(A_in)
        grad_output = grad_output.transpose(2, 1)
        A_in = A_in.transpose(2, 1)
        A = F.pad(A_in[:, :, 1:], (0, 0, 0, 1))           # shift left: the reverse scan's coefficients
        grad_output = grad_output.flip(2)
        PScan.pscan(A.flip(2), grad_output)              # the reverse scan as a forward scan of flipped arrays
        grad_output = grad_output.flip(2)
        Q = torch.zeros_like(X)
        Q[:, :, 1:].add_(X[:, :, :-1] * grad_output[:, :, 1:])
        return Q.transpose(2, 1)[:, :L], grad_output.transpose(2, 1)[:, :L]


pscan = PScan.apply



class RMSNorm(nn.Module):
    def __init__(self, d_model, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class MambaBlock(nn.Module):
    """(b, l, d_model) to (b, l, d_model): gated, convolved, then a selective (input-dependent) state-space scan.

    ``scan``: 'einsum' (mamba-minimal's loop), 'loop' (the same recurrence by broadcasting, mamba.py's
    ``selective_scan_seq``) or 'pscan' (mamba.py's parallel scan)."""

    def __init__(self, d_model, d_state=4, expand=2, d_conv=3, scan='einsum'):
        super().__init__()
        self.d_inner = expand * d_model
        self.dt_rank = math.ceil(d_model / 16)
        self.scan = scan
        self.in_proj = nn.Linear(d_model, self.d_inner * 2, bias=False)
        self.conv1d = nn.Conv1d(self.d_inner, self.d_inner, kernel_size=d_conv, groups=self.d_inner,
                                padding=d_conv - 1, bias=True)
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + d_state * 2, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True)
        A = torch.arange(1, d_state + 1).repeat(self.d_inner, 1)         # (d_inner, n): S4D-real init
        self.A_log = nn.Parameter(torch.log(A))
        self.D = nn.Parameter(torch.ones(self.d_inner))
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=False)

    def forward(self, x):
        b, l, d = x.shape
        x_and_res = self.in_proj(x)
        x, res = x_and_res.split(split_size=[self.d_inner, self.d_inner], dim=-1)
        x = x.transpose(1, 2)                                            # (b, d_inner, l)
        x = self.conv1d(x)[:, :, :l]                                     # causal: drop the right padding
        x = F.silu(x.transpose(1, 2))
        y = self.ssm(x) * F.silu(res)
        return self.out_proj(y)

    def ssm(self, x):
        d_in, n = self.A_log.shape
        A = -torch.exp(self.A_log.float())
        D = self.D.float()
        delta, B, C = self.x_proj(x).split(split_size=[self.dt_rank, n, n], dim=-1)
        delta = F.softplus(self.dt_proj(delta))                         # (b, l, d_inner), positive steps
        if self.scan == 'einsum':
            return self.selective_scan(x, delta, A, B, C, D)
        deltaA = torch.exp(delta.unsqueeze(-1) * A)                      # (b, l, d_inner, n)
        BX = delta.unsqueeze(-1) * B.unsqueeze(2) * x.unsqueeze(-1)
        if self.scan == 'pscan':
            hs = pscan(deltaA, BX)
        else:
            h = torch.zeros(x.size(0), self.d_inner, n, device=deltaA.device)
            hs = []
            for t in range(x.size(1)):
                h = deltaA[:, t] * h + BX[:, t]
                hs.append(h)
            hs = torch.stack(hs, dim=1)
            return (hs * C.unsqueeze(2)).sum(-1) + D * x
        return (hs @ C.unsqueeze(-1)).squeeze(3) + D * x

    def selective_scan(self, u, delta, A, B, C, D):
        b, l, d_in = u.shape
        deltaA = torch.exp(torch.einsum('bld,dn->bldn', delta, A))
        deltaB_u = torch.einsum('bld,bln,bld->bldn', delta, B, u)
        x = torch.zeros((b, d_in, A.shape[1]), device=deltaA.device)
        ys = []
        for i in range(l):
            x = deltaA[:, i] * x + deltaB_u[:, i]
            ys.append(torch.einsum('bdn,bn->bd', x, C[:, i, :]))
        return torch.stack(ys, dim=1) + u * D


class ResidualBlock(nn.Module):
    def __init__(self, d_model, scan):
        super().__init__()
        self.mixer = MambaBlock(d_model, scan=scan)
        self.norm = RMSNorm(d_model)

    def forward(self, x):
        return self.mixer(self.norm(x)) + x


class Mamba(nn.Module):
    def __init__(self, vocab_size, d_model=8, n_layer=2, scan='einsum'):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.layers = nn.ModuleList([ResidualBlock(d_model, scan) for _ in range(n_layer)])
        self.norm_f = RMSNorm(d_model)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)
        self.lm_head.weight = self.embedding.weight                      # tied weights

    def forward(self, input_ids):
        x = self.embedding(input_ids)
        for layer in self.layers:
            x = layer(x)
        return self.lm_head(self.norm_f(x))


def make_model(vocab_size, scan):
    return Mamba(vocab_size, scan=scan)


def train(model, tokens, steps, lr=0.01):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    tokens = torch.from_numpy(tokens)
    losses, grads = [], []
    for _ in range(steps):
        logits = model(tokens[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), tokens[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        grads.append({name: p.grad.numpy().copy() for name, p in model.named_parameters()})
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        last = model(tokens[:, :-1])[:, -1].argmax(dim=-1)
    return losses, grads, last.tolist()
'''


INDRNN_QRNN = '''
class IndRNNCell(nn.Module):
    """h' = relu(x W_ih^T + u * h + b): each unit sees only its own past (u is a vector)."""

    def __init__(self, input_size, hidden_size, recurrent_max):
        super().__init__()
        self.hidden_size = hidden_size
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(hidden_size))
        self.bias = nn.Parameter(torch.zeros(hidden_size))
        nn.init.kaiming_uniform_(self.weight_ih, a=8)
        nn.init.uniform_(self.weight_hh, 0, recurrent_max)

    def forward(self, x, h):
        return F.relu(F.linear(x, self.weight_ih, self.bias) + self.weight_hh * h)


class IndRNN(nn.Module):
    """(T, B, I) to one prediction (B, 1) read from the last state of the top layer."""

    def __init__(self, input_size, hidden_size, layers, recurrent_max):
        super().__init__()
        sizes = [input_size] + [hidden_size] * layers
        self.cells = nn.ModuleList([IndRNNCell(i, o, recurrent_max) for i, o in zip(sizes, sizes[1:])])
        self.readout = nn.Linear(hidden_size, 1)

    def forward(self, x):
        for cell in self.cells:
            h = x.new_zeros(x.size(1), cell.hidden_size)
            outputs = []
            for x_t in x.unbind(0):
                h = cell(x_t, h)
                outputs.append(h)
            x = torch.stack(outputs)
        return self.readout(x[-1])


class QRNNLayer(nn.Module):
    """(T, B, I) to (T, B, H): Z, F, O gates from a causal convolution over time, then fo-pooling."""

    def __init__(self, input_size, hidden_size, window=2):
        super().__init__()
        self.hidden_size, self.window = hidden_size, window
        self.conv = nn.Conv1d(input_size, 3 * hidden_size, kernel_size=window, padding=window - 1)

    def forward(self, x, hidden=None):
        T = x.size(0)
        gates = self.conv(x.permute(1, 2, 0))[..., :T].permute(2, 0, 1)   # (T, B, 3H), x_t and x_{t-1} only
        Z, F_, O = gates.chunk(3, dim=2)
        Z, F_, O = torch.tanh(Z), torch.sigmoid(F_), torch.sigmoid(O)
        C = self.forget_mult(Z, F_, hidden)
        return O * C, C[-1:]

    def forget_mult(self, Z, F_, hidden):
        """c_t = f_t * z_t + (1 - f_t) * c_{t-1}, over the time axis (ForgetMult's CPU path)."""
        c = hidden
        cs = []
        for z_t, f_t in zip(Z.split(1, dim=0), F_.split(1, dim=0)):
            c = f_t * z_t if c is None else f_t * z_t + (1 - f_t) * c
            cs.append(c)
        return torch.cat(cs, dim=0)


class QRNN(nn.Module):
    def __init__(self, input_size, hidden_size, layers):
        super().__init__()
        sizes = [input_size] + [hidden_size] * layers
        self.layers = nn.ModuleList([QRNNLayer(i, o, window=2 if k == 0 else 1)
                                     for k, (i, o) in enumerate(zip(sizes, sizes[1:]))])
        self.readout = nn.Linear(hidden_size, 1)

    def forward(self, x):
        hiddens = []
        for layer in self.layers:
            x, h = layer(x)
            hiddens.append(h)
        return self.readout(x[-1]), torch.cat(hiddens, 0)


def make_model(seq_len):
    recurrent_max = pow(2, 1 / seq_len)                                # |u|^T stays below 2
    return IndRNN(2, 6, 2, recurrent_max), QRNN(2, 6, 2)


def clip_recurrent_weights(model, recurrent_max):
    with torch.no_grad():
        for name, param in model.named_parameters():
            if 'weight_hh' in name:
                param.clamp_(-recurrent_max, recurrent_max)


def train(indrnn, qrnn, inputs, targets, steps, lr=0.02, clip=0.5):
    recurrent_max = pow(2, 1 / inputs.shape[0])
    inputs, targets = torch.from_numpy(inputs), torch.from_numpy(targets)
    opt_ind, opt_q = optim.Adam(indrnn.parameters(), lr=lr), optim.Adam(qrnn.parameters(), lr=lr)
    criterion = nn.MSELoss()
    history = []
    for _ in range(steps):
        opt_ind.zero_grad()
        loss_ind = criterion(indrnn(inputs).squeeze(1), targets)
        loss_ind.backward()
        norm_ind = nn.utils.clip_grad_norm_(indrnn.parameters(), clip)
        opt_ind.step()
        clip_recurrent_weights(indrnn, recurrent_max)
        opt_q.zero_grad()
        prediction, hidden = qrnn(inputs)
        loss_q = criterion(prediction.squeeze(1), targets)
        loss_q.backward()
        norm_q = torch.nn.utils.clip_grad_norm_(qrnn.parameters(), max_norm=clip)
        opt_q.step()
        history.append((loss_ind.item(), float(norm_ind), loss_q.item(), float(norm_q)))
    u = torch.cat([cell.weight_hh.detach() for cell in indrnn.cells])
    return history, u.numpy(), tuple(hidden.shape)
'''


LINEAR_ATTENTION = '''
def elu_feature_map(x):
    return F.elu(x) + 1


def linear_attention(q, k, v, causal=False, eps=1e-6):
    """q, k: non-negative features (B, H, L, D); v (B, H, L, M) -> (B, H, L, M), cost linear in L."""
    if causal:
        kv = torch.einsum('bhld,bhlm->bhldm', k, v).cumsum(dim=2)       # running sums: position l sees <= l
        z = 1 / (torch.einsum('bhld,bhld->bhl', q, k.cumsum(dim=2)) + eps)
        return torch.einsum('bhld,bhldm,bhl->bhlm', q, kv, z)
    kv = torch.einsum('bhld,bhlm->bhdm', k, v)
    z = 1 / (torch.einsum('bhld,bhd->bhl', q, k.sum(dim=2)) + eps)
    return torch.einsum('bhld,bhdm,bhl->bhlm', q, kv, z)


def softmax_attention(q, k, v, causal=False):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if causal:
        L = q.size(-2)
        scores = scores.masked_fill(torch.ones(L, L, dtype=torch.bool).triu(1), float('-inf'))
    return torch.softmax(scores, dim=-1) @ v


def orthogonal_matrix_chunk(cols):
    q, _ = torch.linalg.qr(torch.randn((cols, cols)), mode='reduced')
    return q.t()


def gaussian_orthogonal_random_matrix(nb_rows, nb_columns):
    """nb_rows random directions in nb_columns dims, orthogonal within blocks, with Gaussian row lengths."""
    blocks = [orthogonal_matrix_chunk(nb_columns) for _ in range(nb_rows // nb_columns)]
    remaining = nb_rows - (nb_rows // nb_columns) * nb_columns
    if remaining > 0:
        blocks.append(orthogonal_matrix_chunk(nb_columns)[:remaining])
    final_matrix = torch.cat(blocks)
    multiplier = torch.randn((nb_rows, nb_columns)).norm(dim=1)
    return torch.diag(multiplier) @ final_matrix


def softmax_kernel(data, projection_matrix, is_query, eps=1e-4):
    """FAVOR+ positive random features: E[phi(q) . phi(k)] = exp(q . k / sqrt(d))."""
    b, h, *_ = data.shape
    data_normalizer = data.shape[-1] ** -0.25
    ratio = projection_matrix.shape[0] ** -0.5
    projection = projection_matrix.expand(b, h, -1, -1).type_as(data)
    data_dash = torch.einsum('...id,...jd->...ij', (data_normalizer * data), projection)
    diag_data = (torch.sum(data ** 2, dim=-1) / 2.0 * data_normalizer ** 2).unsqueeze(dim=-1)
    if is_query:
        stabiliser = torch.amax(data_dash, dim=-1, keepdim=True).detach()
    else:
        stabiliser = torch.amax(data_dash, dim=(-1, -2), keepdim=True).detach()
    return ratio * (torch.exp(data_dash - diag_data - stabiliser) + eps)


class Attention(nn.Module):
    """Multi-head self-attention (B, L, E) -> (B, L, E) of one kind: 'softmax', 'linear' (elu + 1) or 'favor'."""

    def __init__(self, dim, heads, kind, nb_features=16, causal=True):
        super().__init__()
        self.heads, self.kind, self.causal = heads, kind, causal
        self.to_qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.to_out = nn.Linear(dim, dim)
        self.register_buffer('projection_matrix', gaussian_orthogonal_random_matrix(nb_features, dim // heads))

    def attend(self, q, k, v, kind):
        if kind == 'softmax':
            return softmax_attention(q, k, v, self.causal)
        if kind == 'linear':
            return linear_attention(elu_feature_map(q), elu_feature_map(k), v, self.causal)
        q = softmax_kernel(q, self.projection_matrix, is_query=True)
        k = softmax_kernel(k, self.projection_matrix, is_query=False)
        return linear_attention(q, k, v, self.causal)

    def forward(self, x, kind=None):
        B, L, E = x.shape
        q, k, v = self.to_qkv(x).chunk(3, dim=-1)
        q, k, v = (t.view(B, L, self.heads, -1).transpose(1, 2) for t in (q, k, v))
        out = self.attend(q, k, v, kind or self.kind)
        return self.to_out(out.transpose(1, 2).reshape(B, L, E))


class TinyLM(nn.Module):
    def __init__(self, vocab_size, dim=8, heads=2, kind='linear'):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim)
        self.position = nn.Parameter(torch.zeros(1, 8, dim))
        self.attn = Attention(dim, heads, kind)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab_size)

    def forward(self, tokens, kind=None):
        x = self.embed(tokens) + self.position[:, :tokens.size(1)]
        x = x + self.attn(self.norm(x), kind)
        return self.head(x)


def make_model(vocab_size, kind):
    return TinyLM(vocab_size, kind=kind)


def compare_kinds(model, x):
    """Each kind's attention output on the same (B, L, E) input, and its relative distance from softmax's."""
    attn = model.attn
    with torch.no_grad():
        outputs = {kind: attn(x, kind) for kind in ('softmax', 'linear', 'favor')}
        errors = {kind: ((outputs[kind] - outputs['softmax']).norm() / outputs['softmax'].norm()).item()
                  for kind in ('linear', 'favor')}
        B, L, E = x.shape
        q, k, v = (t.view(B, L, attn.heads, -1).transpose(1, 2) for t in attn.to_qkv(x).chunk(3, dim=-1))
        exact = torch.exp(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)))   # the kernel FAVOR+ estimates
        features = (softmax_kernel(q, attn.projection_matrix, True) @
                    softmax_kernel(k, attn.projection_matrix, False).transpose(-2, -1))
    return {kind: out.numpy() for kind, out in outputs.items()}, errors, exact.numpy(), features.numpy()


def train(model, tokens, steps, lr=0.02):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    tokens = torch.from_numpy(tokens)
    losses, grads = [], []
    for _ in range(steps):
        logits = model(tokens[:, :-1])
        loss = F.cross_entropy(logits.transpose(1, 2), tokens[:, 1:])
        optimizer.zero_grad()
        loss.backward()
        grads.append({name: p.grad.numpy().copy() for name, p in model.named_parameters()})
        optimizer.step()
        losses.append(loss.item())
    return losses, grads
'''


MIN_GRU = '''
def exists(v):
    return v is not None


def heinsen_associative_scan_log(log_coeffs, log_values):
    """h_t = a_t h_{t-1} + b_t for every t at once, in log space: (B, T, D) logs of a and b -> h (B, T, D)."""
    a_star = log_coeffs.cumsum(dim=1)
    log_h0_plus_b_star = (log_values - a_star).logcumsumexp(dim=1)
    return (a_star + log_h0_plus_b_star).exp()


def g(x):
    return torch.where(x >= 0, x + 0.5, x.sigmoid())


def log_g(x):
    return torch.where(x >= 0, (F.relu(x) + 0.5).log(), -F.softplus(-x))


class minGRU(nn.Module):
    """h_t = (1 - z_t) h_{t-1} + z_t g(h~_t), gates from x_t alone: parallel over T (training) or one step."""

    def __init__(self, dim, expansion_factor=1.5):
        super().__init__()
        dim_inner = int(dim * expansion_factor)
        self.to_hidden_and_gate = nn.Linear(dim, dim_inner * 2, bias=False)
        self.to_out = nn.Linear(dim_inner, dim, bias=False)

    def forward(self, x, prev_hidden=None, return_next_prev_hidden=False):
        seq_len = x.shape[1]
        hidden, gate = self.to_hidden_and_gate(x).chunk(2, dim=-1)
        if seq_len == 1:
            hidden = g(hidden)
            gate = gate.sigmoid()
            out = torch.lerp(prev_hidden, hidden, gate) if exists(prev_hidden) else (hidden * gate)
        else:
            log_coeffs = -F.softplus(gate)                       # log(1 - z)
            log_z = -F.softplus(-gate)
            log_values = log_z + log_g(hidden)
            if exists(prev_hidden):
                log_values = torch.cat((prev_hidden.log(), log_values), dim=1)
                log_coeffs = F.pad(log_coeffs, (0, 0, 1, 0))
            out = heinsen_associative_scan_log(log_coeffs, log_values)
            out = out[:, -seq_len:]
        next_prev_hidden = out[:, -1:]
        out = self.to_out(out)
        return (out, next_prev_hidden) if return_next_prev_hidden else out


class MinGRULM(nn.Module):
    def __init__(self, num_tokens, dim=8, depth=2):
        super().__init__()
        self.token_emb = nn.Embedding(num_tokens, dim)
        self.layers = nn.ModuleList([nn.ModuleList([nn.RMSNorm(dim), minGRU(dim)]) for _ in range(depth)])
        self.norm = nn.RMSNorm(dim)
        self.to_logits = nn.Linear(dim, num_tokens, bias=False)

    def forward(self, x, prev_hiddens=None, return_prev_hiddens=False):
        x = self.token_emb(x)
        prev_hiddens = iter(prev_hiddens or [])
        next_prev_hiddens = []
        for norm, mingru in self.layers:
            out, hidden = mingru(norm(x), next(prev_hiddens, None), return_next_prev_hidden=True)
            x = out + x
            next_prev_hiddens.append(hidden)
        logits = self.to_logits(self.norm(x))
        return (logits, next_prev_hiddens) if return_prev_hiddens else logits


def make_model(num_tokens):
    return MinGRULM(num_tokens)


def step_by_step(model, tokens):
    """The same logits (B, T, V) from the recurrent mode: one token at a time, carrying each layer's state."""
    hiddens, outputs = None, []
    with torch.no_grad():
        for t in range(tokens.shape[1]):
            logits, hiddens = model(tokens[:, t:t + 1], hiddens, return_prev_hiddens=True)
            outputs.append(logits)
    return torch.cat(outputs, dim=1)


def train(model, tokens, steps, lr=0.02):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    tokens = torch.from_numpy(tokens)
    losses, grads = [], []
    for _ in range(steps):
        logits = model(tokens[:, :-1])
        loss = F.cross_entropy(logits.transpose(1, 2), tokens[:, 1:])
        optimizer.zero_grad()
        loss.backward()
        grads.append({name: p.grad.numpy().copy() for name, p in model.named_parameters()})
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        parallel = model(tokens)
    return losses, grads, parallel.numpy(), step_by_step(model, tokens).numpy()
'''

PROGRAMS = (S4D_CLASSIFIER, MAMBA_LM, INDRNN_QRNN, LINEAR_ATTENTION, MIN_GRU)


def _twins(source: str, *args: Any) -> tuple:
    """Both programs and their ``make_model(*args)``, minigrad's loaded with torch's initial weights."""
    return _twin_models(source, *args, imports=(TORCH_IMPORTS_SSM, MINIGRAD_IMPORTS_SSM))


def _assert_same_state(torch_model: Any, mg_model: Any, rtol: float = 1e-4, atol: float = 1e-6) -> None:
    ours = {k: v.numpy() for k, v in mg_model.state_dict().items()}
    theirs = {k: v.detach().numpy() for k, v in torch_model.state_dict().items()}
    assert ours.keys() == theirs.keys()
    for name in ours:
        assert ours[name].dtype == theirs[name].dtype, name
        np.testing.assert_allclose(ours[name], theirs[name], rtol=rtol, atol=atol, err_msg=name)


def _assert_same_grads(grads: list, expected: list, rtol: float = 1e-4, atol: float = 1e-6) -> None:
    assert len(grads) == len(expected)
    for step, (ours, theirs) in enumerate(zip(grads, expected)):
        assert ours.keys() == theirs.keys()
        for name in ours:
            assert ours[name].dtype == theirs[name].dtype, name
            np.testing.assert_allclose(ours[name], theirs[name], rtol=rtol, atol=atol, err_msg=f"{name} step {step}")


def test_the_programs_differ_only_in_their_imports() -> None:
    assert TORCH_IMPORTS_SSM.count("\n") == MINIGRAD_IMPORTS_SSM.count("\n") == 6
    for torch_line, mg_line in zip(TORCH_IMPORTS_SSM.splitlines()[5:], MINIGRAD_IMPORTS_SSM.splitlines()[5:]):
        assert torch_line.replace("torch", "minigrad") == mg_line
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. S4D


@pytest.mark.parametrize("init", ["lin", "legs"])
def test_s4d_classifier_with_complex_kernel_fft_convolution_and_param_groups(torch: Any, init: str) -> None:
    rng = np.random.default_rng(0)
    inputs = rng.standard_normal((6, 12, 1)).astype(np.float32)
    targets = (np.digitize(inputs[:, :4, 0].sum(axis=1), [-1.0, 1.0])).astype(np.int64)   # 3 classes
    torch_program, torch_model, mg_program, mg_model, initial = _twins(S4D_CLASSIFIER, init)
    assert mg_model.s4_layers[0].kernel.C.shape == (6, 4, 2) and mg_model.s4_layers[0].kernel.C.dtype == np.float32
    for name in ("log_A_real", "A_imag"):   # built by each engine (LegS: by complex eigh), before the copy
        ours = getattr(mg_program["S4DKernel"](6, init=init), name)
        theirs = getattr(torch_program["S4DKernel"](6, init=init), name)
        assert ours.dtype == np.float32 and ours.shape == (6, 4)
        np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-6, atol=1e-7, err_msg=name)
    assert mg_model.s4_layers[0].kernel.A_imag._optim == {"weight_decay": 0.0, "lr": 0.001}
    expected = torch_program["train"](torch_model, inputs, targets, 4)
    losses, lrs, grads, groups, kernel = mg_program["train"](mg_model, inputs, targets, 4)
    assert groups == expected[3] == [(16, 0.01), (6, 0.0)]   # log_dt, log_A_real, A_imag of 2 layers
    np.testing.assert_allclose(lrs, expected[1], rtol=1e-12)
    np.testing.assert_allclose(losses, expected[0], rtol=1e-5)
    _assert_same_grads(grads, expected[2])
    assert kernel.dtype == expected[4].dtype == np.float32 and kernel.shape == (6, 12)
    np.testing.assert_allclose(kernel, expected[4], rtol=1e-4, atol=1e-6)
    _assert_same_state(torch_model, mg_model)
    assert not np.array_equal(mg_model.s4_layers[0].kernel.log_dt.numpy(), initial["s4_layers.0.kernel.log_dt"].numpy())


# ----------------------------------------------------------------------------- 2. Mamba's selective scan


@pytest.mark.parametrize("scan", ["einsum", "loop", "pscan"])
def test_mamba_selective_scan_language_model(torch: Any, scan: str) -> None:
    vocab = 9
    tokens = (np.arange(7)[None, :] * np.array([[1], [2], [4]]) + np.array([[0], [3], [5]])) % vocab   # (3, 7)
    torch_program, torch_model, mg_program, mg_model, _ = _twins(MAMBA_LM, vocab, scan)
    assert mg_model.lm_head.weight is mg_model.embedding.weight
    assert mg_model.layers[0].mixer.A_log.dtype == np.float32
    expected = torch_program["train"](torch_model, tokens.astype(np.int64), 4)
    losses, grads, last = mg_program["train"](mg_model, tokens.astype(np.int64), 4)
    np.testing.assert_allclose(losses, expected[0], rtol=1e-5)
    _assert_same_grads(grads, expected[1])
    assert last == expected[2]
    _assert_same_state(torch_model, mg_model)
    if scan != "einsum":   # the same recurrence, and the same initial weights: the same training
        torch_program["torch"].manual_seed(0)
        reference = torch_program["train"](torch_program["make_model"](vocab, "einsum"), tokens.astype(np.int64), 4)
        np.testing.assert_allclose(losses, reference[0], rtol=1e-5)


# ----------------------------------------------------------------------------- 3. IndRNN and QRNN


def test_indrnn_with_clamped_recurrent_weights_and_qrnn_fo_pooling(torch: Any) -> None:
    rng = np.random.default_rng(3)
    seq_len, count = 8, 6
    values = rng.random((seq_len, count)).astype(np.float32)
    marks = np.zeros_like(values)
    for column in range(count):
        marks[rng.choice(seq_len, 2, replace=False), column] = 1.0
    inputs = np.stack([values, marks], axis=2)                           # (T, B, 2)
    targets = (values * marks).sum(axis=0).astype(np.float32)
    torch_program, torch_models, mg_program, mg_models, _ = _twins(INDRNN_QRNN, seq_len)
    expected = torch_program["train"](*torch_models, inputs, targets, 5)
    history, u, hidden_shape = mg_program["train"](*mg_models, inputs, targets, 5)
    np.testing.assert_allclose(history, expected[0], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(u, expected[1], rtol=1e-5, atol=1e-7)
    assert np.abs(u).max() <= pow(2, 1 / seq_len) + 1e-7
    assert hidden_shape == expected[2] == (2, count, 6)
    for torch_model, mg_model in zip(torch_models, mg_models):
        _assert_same_state(torch_model, mg_model)


# ----------------------------------------------------------------------------- 4. linear and FAVOR+ attention


@pytest.mark.parametrize("kind", ["linear", "favor"])
def test_linear_and_performer_attention_against_softmax(torch: Any, kind: str) -> None:
    vocab = 7
    tokens = (np.arange(8)[None, :] * np.array([[1], [3], [2]]) + np.array([[0], [1], [4]])) % vocab
    torch_program, torch_model, mg_program, mg_model, _ = _twins(LINEAR_ATTENTION, vocab, kind)
    np.testing.assert_array_equal(mg_model.attn.projection_matrix.numpy(),
                                  torch_model.attn.projection_matrix.numpy())   # the buffer came with the weights
    x = np.random.default_rng(4).standard_normal((2, 6, 8)).astype(np.float32)
    outputs, errors, exact, features = mg_program["compare_kinds"](mg_model, mg_program["torch"].from_numpy(x))
    expected = torch_program["compare_kinds"](torch_model, torch_program["torch"].from_numpy(x))
    for name in outputs:
        assert outputs[name].dtype == expected[0][name].dtype == np.float32
        np.testing.assert_allclose(outputs[name], expected[0][name], rtol=1e-5, atol=1e-6, err_msg=name)
    assert errors == pytest.approx(expected[1], rel=1e-4)
    np.testing.assert_allclose(exact, expected[2], rtol=1e-5)
    np.testing.assert_allclose(features, expected[3], rtol=1e-4, atol=1e-7)
    losses, grads = mg_program["train"](mg_model, tokens.astype(np.int64), 4)
    expected_losses, expected_grads = torch_program["train"](torch_model, tokens.astype(np.int64), 4)
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-5)
    _assert_same_grads(grads, expected_grads)
    _assert_same_state(torch_model, mg_model)


# ----------------------------------------------------------------------------- 5. minGRU


def test_min_gru_log_space_parallel_scan_and_recurrent_mode(torch: Any) -> None:
    vocab = 7
    tokens = (np.arange(8)[None, :] * np.array([[1], [3], [2]]) + np.array([[0], [1], [4]])) % vocab
    torch_program, torch_model, mg_program, mg_model, _ = _twins(MIN_GRU, vocab)
    expected = torch_program["train"](torch_model, tokens.astype(np.int64), 4)
    losses, grads, parallel, recurrent = mg_program["train"](mg_model, tokens.astype(np.int64), 4)
    np.testing.assert_allclose(losses, expected[0], rtol=1e-5)
    _assert_same_grads(grads, expected[1])
    np.testing.assert_allclose(parallel, expected[2], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(recurrent, expected[3], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(recurrent, parallel, rtol=1e-4, atol=1e-5)   # the two modes: one recurrence
    _assert_same_state(torch_model, mg_model)


# ----------------------------------------------------------------------------- what the programs needed

_RE, _IM = np.random.default_rng(5).standard_normal((2, 2, 4, 4))


def _complex_mh(lib: Any, re: Any, im: Any) -> tuple:
    z = lib.complex(re, im)
    return lib.view_as_real(z.mH * 2), lib.view_as_real(lib.adjoint(z) @ z), lib.view_as_real(z[0].H - z[1])


def test_conjugate_transposes_of_complex_tensors_as_torch(torch: Any) -> None:
    """x.mH, x.H and adjoint(x) conjugate a complex tensor (they raised: "minigrad has no complex conjugation")."""
    same_as_torch(torch, _complex_mh, _RE, _IM)
    z = mg.complex(mg.tensor(_RE), mg.tensor(_IM))
    np.testing.assert_array_equal(z.mH.numpy(), np.conj(np.swapaxes(_RE + 1j * _IM, -1, -2)))


def _hermitian_eigh(lib: Any, re: Any, im: Any) -> tuple:
    z = lib.complex(re, im)
    a = z + z.mH                                            # Hermitian
    values, vectors = lib.linalg.eigh(a)
    rebuilt = (vectors * lib.exp(values / 4)[..., None, :]) @ vectors.mH   # independent of the eigenvectors' phases
    return values, lib.view_as_real(rebuilt), vectors.abs(), lib.linalg.eigvalsh(a, UPLO="U")


def test_eigh_of_a_complex_hermitian_matrix_as_torch(torch: Any) -> None:
    """linalg.eigh/eigvalsh take complex Hermitian matrices (S4D-LegS's initialisation): real ascending values,
    complex eigenvectors, and PyTorch's complex gradient (they raised NotImplementedError)."""
    same_as_torch(torch, _hermitian_eigh, _RE, _IM)
    values, vectors = mg.linalg.eigh(mg.tensor((_RE + 1j * _IM).astype(np.complex64)))
    assert values.dtype == np.float32 and vectors.dtype == np.complex64


_LINEAR_OPS = {   # linear maps with real coefficients: the real backward is PyTorch's complex gradient
    "flip": lambda lib, z: z.flip(1),
    "roll": lambda lib, z: lib.roll(z, 1, 1),
    "repeat": lambda lib, z: z.repeat(2, 1, 1),
    "pad": lambda lib, z: lib.nn.functional.pad(z, (1, 2)),
    "tril_triu": lambda lib, z: lib.tril(z) - lib.triu(z, 1) * 2,
    "diagonal_trace": lambda lib, z: lib.diagonal(z, 0, -2, -1) * lib.trace(z[0]),
    "diag_embed": lambda lib, z: lib.diag_embed(z[0]),
    "diag": lambda lib, z: lib.diag(lib.diag(z[1], 1)),
    "cumsum": lambda lib, z: lib.cumsum(z, dim=-1),
    "unfold": lambda lib, z: z.unfold(-1, 2, 1),
}


@pytest.mark.parametrize("name", list(_LINEAR_OPS))
def test_linear_ops_of_complex_tensors_have_torch_gradients(torch: Any, name: str) -> None:
    """Programs with complex state (an LRU's padded scans, S4's diagonal matrices) differentiate through these;
    they refused ("has no complex gradient yet")."""
    op = _LINEAR_OPS[name]
    same_as_torch(torch, lambda lib, re, im: lib.view_as_real(op(lib, lib.complex(re, im))), _RE, _IM)
