"""Four conditional-computation and autoregressive programs, run on torch and on minigrad: only the imports differ.

Each program is our own rewrite of a well-known public PyTorch program, cut to a tiny model and a few steps on
generated data, and keeps that program's PyTorch usage in the same roles:

* ``SPARSE_MOE`` mirrors the sparsely-gated mixture of experts of Shazeer et al. (2017) in the shape of
  davidmrau/mixture-of-experts (https://github.com/davidmrau/mixture-of-experts): noisy top-k gating whose noise
  scale is ``softplus`` of a linear map (the ``randn_like`` noise shared between the engines), ``topk`` of k + 1,
  ``softmax`` over the k kept logits scattered back into a dense gate matrix with ``zeros(...).scatter``, a
  dispatcher built from ``nonzero``, ``sort``, ``index_select``, ``gather`` and ``split`` that sends each token to its
  experts and adds the weighted outputs back with ``index_add_``, and the importance and load cv² auxiliary losses
  (the load from ``Normal(mean, std).cdf`` of the distance to the k-th / (k+1)-th noisy logit);
* ``SWITCH_TRANSFORMER`` mirrors the Switch Transformer feed-forward layer (Fedus et al. 2021) in the shape of
  labml.ai's annotated implementation (https://nn.labml.ai/transformers/switch/index.html): top-1 routing with
  ``max(dim=-1)``, expert capacity from the ``cumsum`` of ``one_hot`` masks over tokens (overflowing tokens dropped:
  they pass through unchanged), expert outputs written with ``out[rows] = expert(tokens[rows])`` and scaled by the
  router probability, the load-balancing loss (fraction x mean probability x num_experts) and the router z-loss
  (``logsumexp``²), inside a pre-norm transformer block with ``nn.MultiheadAttention``; trained with Adam;
* ``PIXEL_CNN`` mirrors PixelCNN (van den Oord et al. 2016) as the common PyTorch rewrites write it
  (jzbontar/pixelcnn-pytorch's ``MaskedConv2d`` and the gated block of the UvA deep-learning tutorial 12,
  https://uvadlc-notebooks.readthedocs.io): a ``Conv2d`` subclass holding mask A / mask B as a registered buffer
  that is multiplied into the weight in ``forward``, a stack of masked convolutions with ReLU and a 4-way
  ``cross_entropy`` over the pixels of 2-bit toy images; then gated blocks (vertical and horizontal stacks,
  ``tanh(a) * sigmoid(b)`` via ``chunk``) and pixel-by-pixel sampling of 4x4 images with ``torch.multinomial``
  (the draws shared between the engines);
* ``FILM`` mirrors FiLM (Perez et al. 2018, ethanjperez/film): a GRU question encoder (``Embedding``, packed by
  taking the state at each question's end with ``gather``) predicts per-block gamma and beta, applied feature-wise
  as ``gamma.unsqueeze(-1).unsqueeze(-1) * x + beta...`` after ``BatchNorm2d(affine=False)`` inside residual conv
  blocks, a 1x1 conv + global max pool classifier, on a CLEVR-like toy task (how many blobs of the asked colour).

Losses are compared step by step and the final weights after training (float32, rtol 1e-5 for the losses).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import (
    MINIGRAD_IMPORTS,
    TORCH_IMPORTS,
    _assert_same_weights,
    _copy_weights,
    _twin_models,
)
from tests.test_pytorch_programs_flow import _lean_torch  # noqa: F401 - autouse: torch lean, _dynamo imported in setup
from tests.test_pytorch_programs_more import _shared_noise
from tests.test_pytorch_programs_rl import _shared_multinomial

TORCH_IMPORTS_MOE = TORCH_IMPORTS + """\
from torch.distributions import Normal
"""

MINIGRAD_IMPORTS_MOE = MINIGRAD_IMPORTS + """\
from minigrad.distributions import Normal
"""


SPARSE_MOE = '''
class Expert(nn.Module):
    """A two-layer perceptron: (n, input) -> (n, output) logits."""

    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.hidden = nn.Linear(input_size, hidden_size)
        self.out = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        return self.out(torch.relu(self.hidden(x)))


class Dispatcher:
    """Sends each token to the experts with a nonzero gate and adds their gated outputs back per token."""

    def __init__(self, gates):
        self.gates = gates
        pairs = torch.nonzero(gates)                            # (tokens routed, 2): (token, expert), token-major
        sorted_pairs, order = pairs.sort(0)                    # each column sorted on its own
        self.expert_index = sorted_pairs[:, 1:2]               # (routed, 1), expert-major
        self.token_index = pairs[order[:, 1], 0]               # the token of each expert-major pair
        self.sizes = (gates > 0).sum(0).tolist()
        self.kept_gates = torch.gather(gates.index_select(0, self.token_index), 1, self.expert_index)

    def dispatch(self, x):
        return torch.split(x.index_select(0, self.token_index), self.sizes, dim=0)

    def combine(self, expert_outputs):
        stitched = torch.cat(expert_outputs, 0) * self.kept_gates
        combined = torch.zeros(self.gates.size(0), stitched.size(1), dtype=stitched.dtype)
        combined.index_add_(0, self.token_index, stitched)
        return combined


def cv_squared(x):
    """The squared coefficient of variation: small when the entries of x are equal."""
    eps = 1e-10
    if x.shape[0] == 1:
        return torch.tensor(0.0)
    return x.float().var() / (x.float().mean() ** 2 + eps)


class MixtureOfExperts(nn.Module):
    def __init__(self, input_size, output_size, num_experts, hidden_size, k=2, noisy_gating=True):
        super().__init__()
        self.num_experts, self.k, self.noisy_gating = num_experts, k, noisy_gating
        self.experts = nn.ModuleList([Expert(input_size, hidden_size, output_size) for _ in range(num_experts)])
        self.w_gate = nn.Parameter(0.5 * torch.randn(input_size, num_experts))
        self.w_noise = nn.Parameter(0.1 * torch.randn(input_size, num_experts))
        self.register_buffer("mean", torch.tensor([0.0]))
        self.register_buffer("std", torch.tensor([1.0]))

    def prob_in_top_k(self, clean_values, noisy_values, noise_stddev, noisy_top_values):
        """P(expert in the top k) per token and expert, had the noise of that one logit been drawn again."""
        batch, m = noisy_top_values.shape
        top_values_flat = noisy_top_values.flatten()
        positions_if_in = torch.arange(batch) * m + self.k
        threshold_if_in = torch.gather(top_values_flat, 0, positions_if_in).unsqueeze(1)
        is_in = torch.gt(noisy_values, threshold_if_in)
        threshold_if_out = torch.gather(top_values_flat, 0, positions_if_in - 1).unsqueeze(1)
        normal = Normal(self.mean, self.std)
        prob_if_in = normal.cdf((clean_values - threshold_if_in) / noise_stddev)
        prob_if_out = normal.cdf((clean_values - threshold_if_out) / noise_stddev)
        return torch.where(is_in, prob_if_in, prob_if_out)

    def noisy_top_k_gating(self, x, noise_epsilon=1e-2):
        clean_logits = x @ self.w_gate
        if self.noisy_gating and self.training:
            noise_stddev = F.softplus(x @ self.w_noise) + noise_epsilon
            logits = clean_logits + torch.randn_like(clean_logits) * noise_stddev
        else:
            logits = clean_logits
        top_logits, top_indices = logits.topk(min(self.k + 1, self.num_experts), dim=1)
        top_k_gates = F.softmax(top_logits[:, :self.k], dim=1)
        zeros = torch.zeros_like(logits, requires_grad=True)
        gates = zeros.scatter(1, top_indices[:, :self.k], top_k_gates)
        if self.noisy_gating and self.training and self.k < self.num_experts:
            load = self.prob_in_top_k(clean_logits, logits, noise_stddev, top_logits).sum(0)
        else:
            load = (gates > 0).sum(0)
        return gates, load

    def forward(self, x, loss_coef=1e-2):
        gates, load = self.noisy_top_k_gating(x)
        gate_totals = gates.sum(0)
        aux_loss = (cv_squared(gate_totals) + cv_squared(load)) * loss_coef
        dispatcher = Dispatcher(gates)
        expert_inputs = dispatcher.dispatch(x)
        outputs = [self.experts[i](expert_inputs[i]) for i in range(self.num_experts)]
        return dispatcher.combine(outputs), aux_loss, gates


def make_model(input_size=6, output_size=3, num_experts=4, hidden_size=8, k=2):
    return MixtureOfExperts(input_size, output_size, num_experts, hidden_size, k)


def loss_of(model, x, y):
    logits, aux_loss, gates = model(x)
    return F.cross_entropy(logits, y) + aux_loss, aux_loss


def train(model, x, y, steps):
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    losses, aux_losses = [], []
    model.train()
    for step in range(steps):
        loss, aux_loss = loss_of(model, x, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        aux_losses.append(aux_loss.item())
    model.eval()
    with torch.no_grad():
        logits, aux_loss, gates = model(x)
    return losses, aux_losses, gates.numpy(), logits.numpy()
'''


SWITCH_TRANSFORMER = '''
class FeedForward(nn.Module):
    def __init__(self, d_model, d_ff):
        super().__init__()
        self.layer1 = nn.Linear(d_model, d_ff)
        self.layer2 = nn.Linear(d_ff, d_model)

    def forward(self, x):
        return self.layer2(F.gelu(self.layer1(x)))


class SwitchFeedForward(nn.Module):
    """Top-1 routed experts: (B, T, D) -> (B, T, D), plus the routing statistics the losses need."""

    def __init__(self, d_model, d_ff, num_experts, capacity_factor):
        super().__init__()
        self.num_experts, self.capacity_factor = num_experts, capacity_factor
        self.router = nn.Linear(d_model, num_experts)
        self.experts = nn.ModuleList([FeedForward(d_model, d_ff) for _ in range(num_experts)])

    def forward(self, x):
        batch, seq_len, d_model = x.shape
        tokens = x.reshape(-1, d_model)
        router_logits = self.router(tokens)
        route_prob = F.softmax(router_logits, dim=-1)
        route_prob_max, routes = torch.max(route_prob, dim=-1)
        expert_mask = F.one_hot(routes, num_classes=self.num_experts)          # (N, E) int64
        position_in_expert = torch.cumsum(expert_mask, dim=0) * expert_mask     # 1-based queue position, 0 elsewhere
        capacity = int(self.capacity_factor * tokens.shape[0] / self.num_experts)
        kept_mask = expert_mask * (position_in_expert <= capacity)
        out = tokens.new_zeros(tokens.shape)
        for i, expert in enumerate(self.experts):
            rows = torch.nonzero(kept_mask[:, i], as_tuple=True)[0]
            if rows.numel() > 0:
                out[rows] = expert(tokens[rows])
        dropped = torch.nonzero(kept_mask.sum(dim=-1) == 0).squeeze(-1)
        out[dropped] = tokens[dropped]                                           # overflow passes through
        out = out * route_prob_max.unsqueeze(-1)
        # Switch's auxiliary losses: the routed fraction times the mean probability, and the router z-loss
        fraction = expert_mask.float().mean(dim=0)
        balance_loss = self.num_experts * (fraction * route_prob.mean(dim=0)).sum()
        z_loss = torch.logsumexp(router_logits, dim=-1).pow(2).mean()
        counts = expert_mask.sum(dim=0)
        return out.view(batch, seq_len, d_model), balance_loss, z_loss, counts, dropped.numel()


class SwitchBlock(nn.Module):
    def __init__(self, d_model, heads, d_ff, num_experts, capacity_factor):
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attention = nn.MultiheadAttention(d_model, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(d_model)
        self.switch = SwitchFeedForward(d_model, d_ff, num_experts, capacity_factor)

    def forward(self, x, causal_mask):
        h = self.norm1(x)
        attended, _ = self.attention(h, h, h, attn_mask=causal_mask, need_weights=False)
        x = x + attended
        routed, balance_loss, z_loss, counts, dropped = self.switch(self.norm2(x))
        return x + routed, balance_loss, z_loss, counts, dropped


class SwitchLanguageModel(nn.Module):
    def __init__(self, vocab, d_model=8, heads=2, d_ff=16, num_experts=4, capacity_factor=1.0):
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.block = SwitchBlock(d_model, heads, d_ff, num_experts, capacity_factor)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, tokens):
        seq_len = tokens.shape[1]
        causal_mask = torch.triu(torch.ones(seq_len, seq_len, dtype=torch.bool), diagonal=1)
        x, balance_loss, z_loss, counts, dropped = self.block(self.embed(tokens), causal_mask)
        return self.head(self.norm(x)), balance_loss, z_loss, counts, dropped


def make_model(vocab):
    return SwitchLanguageModel(vocab)


def loss_of(model, tokens, balance_coef=0.01, z_coef=1e-3):
    logits, balance_loss, z_loss, counts, dropped = model(tokens[:, :-1])
    task_loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), tokens[:, 1:].reshape(-1))
    return task_loss + balance_coef * balance_loss + z_coef * z_loss, balance_loss, z_loss, counts, dropped


def train(model, batches, steps):
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    history = []
    for step in range(steps):
        loss, balance_loss, z_loss, counts, dropped = loss_of(model, batches[step % len(batches)])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append((loss.item(), balance_loss.item(), z_loss.item(), counts.tolist(), dropped))
    return history
'''


PIXEL_CNN = '''
class MaskedConv2d(nn.Conv2d):
    """A convolution that sees only the pixels above and to the left: mask A also hides the centre pixel."""

    def __init__(self, mask_type, *args, **kwargs):
        super().__init__(*args, **kwargs)
        assert mask_type in ("A", "B")
        _, _, height, width = self.weight.size()
        self.register_buffer("mask", torch.ones_like(self.weight))
        self.mask[:, :, height // 2, width // 2 + (mask_type == "B"):] = 0
        self.mask[:, :, height // 2 + 1:] = 0

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias, self.stride, self.padding)


class PixelCNN(nn.Module):
    """(B, 1, H, W) images of `levels` grey levels -> (B, levels, H, W) logits of each pixel given those before."""

    def __init__(self, levels=4, channels=8, layers=3):
        super().__init__()
        self.levels = levels
        stack = [MaskedConv2d("A", 1, channels, 5, 1, 2, bias=False), nn.BatchNorm2d(channels), nn.ReLU(True)]
        for _ in range(layers):
            stack += [MaskedConv2d("B", channels, channels, 3, 1, 1, bias=False), nn.BatchNorm2d(channels),
                      nn.ReLU(True)]
        stack.append(nn.Conv2d(channels, levels, 1))
        self.net = nn.Sequential(*stack)

    def forward(self, x):
        return self.net(x)


class MaskedConvolution(nn.Module):
    """A convolution whose kernel is multiplied by a fixed (kH, kW) mask, padded to keep the image size."""

    def __init__(self, c_in, c_out, mask):
        super().__init__()
        kernel_size = (mask.shape[0], mask.shape[1])
        padding = tuple((size - 1) // 2 for size in kernel_size)
        self.conv = nn.Conv2d(c_in, c_out, kernel_size, padding=padding)
        self.register_buffer("mask", mask[None, None])

    def forward(self, x):
        return F.conv2d(x, self.conv.weight * self.mask, self.conv.bias, padding=self.conv.padding)


def vertical_stack(c_in, c_out, kernel_size=3, mask_center=False):
    mask = torch.ones(kernel_size, kernel_size)
    mask[kernel_size // 2 + 1:, :] = 0
    if mask_center:
        mask[kernel_size // 2, :] = 0
    return MaskedConvolution(c_in, c_out, mask)


def horizontal_stack(c_in, c_out, kernel_size=3, mask_center=False):
    mask = torch.ones(1, kernel_size)
    mask[0, kernel_size // 2 + 1:] = 0
    if mask_center:
        mask[0, kernel_size // 2] = 0
    return MaskedConvolution(c_in, c_out, mask)


class GatedMaskedConv(nn.Module):
    def __init__(self, channels, mask_center=False):
        super().__init__()
        self.conv_vert = vertical_stack(channels, 2 * channels, mask_center=mask_center)
        self.conv_horiz = horizontal_stack(channels, 2 * channels, mask_center=mask_center)
        self.conv_vert_to_horiz = nn.Conv2d(2 * channels, 2 * channels, kernel_size=1)
        self.conv_horiz_1x1 = nn.Conv2d(channels, channels, kernel_size=1)

    def forward(self, v_stack, h_stack):
        v_features = self.conv_vert(v_stack)
        v_value, v_gate = v_features.chunk(2, dim=1)
        v_out = torch.tanh(v_value) * torch.sigmoid(v_gate)
        h_features = self.conv_horiz(h_stack) + self.conv_vert_to_horiz(v_features)
        h_value, h_gate = h_features.chunk(2, dim=1)
        h_out = self.conv_horiz_1x1(torch.tanh(h_value) * torch.sigmoid(h_gate)) + h_stack
        return v_out, h_out


class GatedPixelCNN(nn.Module):
    def __init__(self, levels=4, channels=6):
        super().__init__()
        self.levels = levels
        self.conv_vstack = vertical_stack(1, channels, mask_center=True)
        self.conv_hstack = horizontal_stack(1, channels, mask_center=True)
        self.layers = nn.ModuleList([GatedMaskedConv(channels), GatedMaskedConv(channels)])
        self.conv_out = nn.Conv2d(channels, levels, kernel_size=1)

    def forward(self, x):
        x = (x.float() / (self.levels - 1)) * 2 - 1
        v_stack, h_stack = self.conv_vstack(x), self.conv_hstack(x)
        for layer in self.layers:
            v_stack, h_stack = layer(v_stack, h_stack)
        return self.conv_out(F.elu(h_stack))

    @torch.no_grad()
    def sample(self, shape):
        images = torch.zeros(shape, dtype=torch.long)
        for row in range(shape[2]):
            for column in range(shape[3]):
                logits = self.forward(images[:, :, :row + 1, :])[:, :, row, column]
                probs = F.softmax(logits, dim=-1)
                images[:, 0, row, column] = torch.multinomial(probs, num_samples=1).squeeze(dim=-1)
        return images


def make_model(levels):
    return PixelCNN(levels), GatedPixelCNN(levels)


def train(model, images, steps, batch_size=4):
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    model.train()
    for step in range(steps):
        first = (step * batch_size) % len(images)
        batch = images[first:first + batch_size]
        if isinstance(model, PixelCNN):
            logits = model(batch.float() / (model.levels - 1))
        else:
            logits = model(batch)
        loss = F.cross_entropy(logits, batch[:, 0])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    return losses
'''


FILM = '''
class FiLM(nn.Module):
    """Feature-wise linear modulation: x (B, C, H, W), gamma and beta (B, C)."""

    def forward(self, x, gammas, betas):
        gammas = gammas.unsqueeze(-1).unsqueeze(-1).expand_as(x)
        betas = betas.unsqueeze(-1).unsqueeze(-1).expand_as(x)
        return gammas * x + betas


class FiLMedResBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.input_proj = nn.Conv2d(channels + 2, channels, kernel_size=1)
        self.conv = nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False)   # the BatchNorm centres
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.film = FiLM()

    def forward(self, x, gammas, betas, coords):
        x = F.relu(self.input_proj(torch.cat([x, coords], 1)))
        out = self.film(self.bn(self.conv(x)), gammas, betas)
        return F.relu(out) + x


class QuestionEncoder(nn.Module):
    """(B, L) padded token ids and their lengths -> (B, blocks, 2, C): gamma and beta for each block."""

    def __init__(self, vocab, embed_dim, hidden, blocks, channels):
        super().__init__()
        self.blocks, self.channels = blocks, channels
        self.embed = nn.Embedding(vocab, embed_dim, padding_idx=0)
        self.rnn = nn.GRU(embed_dim, hidden, batch_first=True)
        self.decoder = nn.Linear(hidden, blocks * 2 * channels)

    def forward(self, questions, lengths):
        outputs, _ = self.rnn(self.embed(questions))
        last = (lengths - 1).view(-1, 1, 1).expand(-1, 1, outputs.size(2))
        summary = outputs.gather(1, last).squeeze(1)
        return self.decoder(summary).view(-1, self.blocks, 2, self.channels)


class FiLMedNet(nn.Module):
    def __init__(self, vocab, answers, channels=6, blocks=2):
        super().__init__()
        self.encoder = QuestionEncoder(vocab, 8, 10, blocks, channels)
        self.stem = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU())
        self.res_blocks = nn.ModuleList([FiLMedResBlock(channels) for _ in range(blocks)])
        self.classifier_conv = nn.Conv2d(channels + 2, 8, kernel_size=1)
        self.classifier = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, answers))

    def forward(self, images, questions, lengths):
        film = self.encoder(questions, lengths)
        batch, _, height, width = images.shape
        ys = torch.linspace(-1, 1, height).view(1, 1, height, 1).expand(batch, 1, height, width)
        xs = torch.linspace(-1, 1, width).view(1, 1, 1, width).expand(batch, 1, height, width)
        coords = torch.cat([xs, ys], 1)
        x = self.stem(images)
        for i, block in enumerate(self.res_blocks):
            gammas, betas = film[:, i, 0], film[:, i, 1]
            x = block(x, 1 + gammas, betas, coords)
        features = F.relu(self.classifier_conv(torch.cat([x, coords], 1)))
        pooled = F.max_pool2d(features, kernel_size=features.shape[2:]).flatten(1)
        return self.classifier(pooled)


def make_model(vocab, answers):
    return FiLMedNet(vocab, answers)


def loss_of(model, images, questions, lengths, answers):
    return F.cross_entropy(model(images, questions, lengths), answers)


def train(model, data, steps, batch_size=6):
    images, questions, lengths, answers = data
    optimizer = optim.Adam(model.parameters(), lr=5e-3, weight_decay=1e-5)
    losses, accuracies = [], []
    for step in range(steps):
        model.train()
        first = (step * batch_size) % len(images)
        rows = slice(first, first + batch_size)
        loss = loss_of(model, images[rows], questions[rows], lengths[rows], answers[rows])
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        losses.append(loss.item())
        model.eval()
        with torch.no_grad():
            predicted = model(images, questions, lengths).argmax(dim=1)
        accuracies.append((predicted == answers).float().mean().item())
    return losses, accuracies
'''

PROGRAMS = (SPARSE_MOE, SWITCH_TRANSFORMER, PIXEL_CNN, FILM)


def _twins(source: str, *args: Any) -> tuple:
    return _twin_models(source, *args, imports=(TORCH_IMPORTS_MOE, MINIGRAD_IMPORTS_MOE))


def _assert_same_float64_gradients(programs: tuple, models: tuple, torch_inputs: list, mg_inputs: list,
                                   rtol: float = 1e-9) -> None:
    """One more ``loss_of`` and backward in float64 from torch's trained weights, both models in training mode:
    the loss agrees to 1e-12 and every parameter's gradient to ``rtol`` (None in both where it took no part)."""
    (torch_program, mg_program), (torch_model, mg_model) = programs, models
    torch_model.double().train()
    mg_model.double().train()
    mg_model.load_state_dict(_copy_weights(torch_model, mg_program))
    losses = []
    for program, model, inputs in ((torch_program, torch_model, torch_inputs), (mg_program, mg_model, mg_inputs)):
        model.zero_grad()
        loss = program["loss_of"](model, *inputs)
        loss = loss[0] if isinstance(loss, tuple) else loss
        assert loss.dtype == program["torch"].float64
        loss.backward()
        losses.append(loss.item())
    assert losses[1] == pytest.approx(losses[0], rel=min(rtol, 1e-12))
    theirs = dict(torch_model.named_parameters())
    for name, parameter in mg_model.named_parameters():
        if theirs[name].grad is None:
            assert parameter.grad is None, name
            continue
        np.testing.assert_allclose(parameter.grad.numpy(), theirs[name].grad.numpy(), rtol=rtol, atol=1e-12,
                                   err_msg=name)


def test_the_programs_differ_only_in_their_imports() -> None:
    assert TORCH_IMPORTS_MOE.splitlines()[-1].replace("torch", "minigrad") == MINIGRAD_IMPORTS_MOE.splitlines()[-1]
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. sparsely-gated mixture of experts


def test_sparse_mixture_of_experts(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Noisy top-2 of 4 experts under Adam: losses, the cv² auxiliary loss, the final gates and outputs agree."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((24, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5).astype(np.int64)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(SPARSE_MOE)
    _shared_noise(monkeypatch, torch, seed=3)
    steps = 8
    expected = torch_program["train"](torch_model, torch.from_numpy(x), torch.from_numpy(y), steps)
    mg = mg_program["torch"]
    result = mg_program["train"](mg_model, mg.from_numpy(x), mg.from_numpy(y), steps)
    np.testing.assert_allclose(result[0], expected[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result[1], expected[1], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(result[2], expected[2], rtol=1e-5, atol=1e-6)
    assert ((result[2] > 0).sum(1) == 2).all()
    np.testing.assert_allclose(result[3], expected[3], rtol=1e-5, atol=1e-5)
    _assert_same_weights(torch_model, mg_model, initial)
    x64 = x.astype(np.float64)
    _assert_same_float64_gradients((torch_program, mg_program), (torch_model, mg_model),
                                   [torch.from_numpy(x64), torch.from_numpy(y)], [mg.from_numpy(x64), mg.from_numpy(y)],
                                   rtol=1e-6)   # cv_squared's .float() keeps the auxiliary loss in float32


# ----------------------------------------------------------------------------- 2. Switch Transformer


def test_switch_transformer(torch: Any) -> None:
    """Top-1 routing with capacity 1.0 drops tokens; losses, balance/z losses, routing counts and drops agree."""
    rng = np.random.default_rng(1)
    vocab = 7
    batches = [np.cumsum(rng.integers(1, 3, (4, 7)), axis=1) % vocab for _ in range(3)]
    torch_program, torch_model, mg_program, mg_model, initial = _twins(SWITCH_TRANSFORMER, vocab)
    mg = mg_program["torch"]
    steps = 6
    expected = torch_program["train"](torch_model, [torch.from_numpy(b) for b in batches], steps)
    history = mg_program["train"](mg_model, [mg.from_numpy(b) for b in batches], steps)
    for ours, theirs in zip(history, expected):
        np.testing.assert_allclose(ours[:3], theirs[:3], rtol=1e-5, atol=1e-6)
        assert ours[3:] == theirs[3:]
    assert sum(step[4] for step in expected) > 0   # capacity really dropped tokens
    # softmax ignores a shift of all scores of a query: the key bias (the middle third) gets a zero gradient
    _assert_same_weights(torch_model, mg_model, initial, noise_only=("block.attention.in_proj_bias",))
    ours, theirs = mg_model.block.attention.in_proj_bias.numpy(), torch_model.block.attention.in_proj_bias.detach()
    for part in (slice(0, 8), slice(16, 24)):
        np.testing.assert_allclose(ours[part], theirs.numpy()[part], rtol=1e-4, atol=1e-5)
    _assert_same_float64_gradients((torch_program, mg_program), (torch_model, mg_model),
                                   [torch.from_numpy(batches[0])], [mg.from_numpy(batches[0])])


# ----------------------------------------------------------------------------- 3. PixelCNN and gated PixelCNN


def _toy_images(count: int, size: int, levels: int, seed: int) -> np.ndarray:
    """(count, 1, size, size) int64 images in 0..levels-1: horizontal ramps with a random offset and some noise."""
    rng = np.random.default_rng(seed)
    ramp = np.arange(size)[None, None, None, :] + rng.integers(0, levels, (count, 1, 1, 1))
    noise = rng.random((count, 1, size, size)) < 0.15
    return ((ramp + noise) % levels).astype(np.int64)


def test_pixel_cnn(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Masked-conv PixelCNN and gated PixelCNN trained with a 4-way pixel cross-entropy, then 4x4 samples drawn
    pixel by pixel (the multinomial draws shared): losses, weights and samples agree; the masks keep causality."""
    levels = 4
    images = _toy_images(8, 6, levels, seed=2)
    torch_program, torch_models, mg_program, mg_models, initials = _twins(PIXEL_CNN, levels)
    mg = mg_program["torch"]
    for torch_model, mg_model, initial in zip(torch_models, mg_models, initials):
        expected = torch_program["train"](torch_model, torch.from_numpy(images), 4)
        losses = mg_program["train"](mg_model, mg.from_numpy(images), 4)
        np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-6)
        _assert_same_weights(torch_model, mg_model, initial)
    # the masks: a change at pixel (2, 3) moves no logit of an earlier pixel in the raster order
    for model, lib in ((mg_models[0], mg), (mg_models[1], mg)):
        base = images[:1].copy()
        changed = base.copy()
        changed[0, 0, 2, 3] = (changed[0, 0, 2, 3] + 1) % levels
        with lib.no_grad():
            inputs = [lib.from_numpy(b) for b in (base, changed)]
            if model is mg_models[0]:
                inputs = [b.float() / (levels - 1) for b in inputs]
            delta = (model(inputs[0]) - model(inputs[1])).abs().sum(1)[0].numpy()
        assert delta.reshape(-1)[:2 * 6 + 3 + 1].max() == 0   # the pixel's own logits do not see it either
        assert delta.reshape(-1)[2 * 6 + 3 + 1:].max() > 0
    _shared_multinomial(monkeypatch, torch, seed=4)
    _shared_multinomial(monkeypatch, mg, seed=4)
    expected = torch_models[1].sample((3, 1, 4, 4)).numpy()
    samples = mg_models[1].sample((3, 1, 4, 4)).numpy()
    np.testing.assert_array_equal(samples, expected)
    assert samples.dtype == np.int64 and samples.min() >= 0 and samples.max() < levels


# ----------------------------------------------------------------------------- 4. FiLM


def _clevr_like(count: int, seed: int, colours: int = 3, size: int = 8) -> tuple:
    """Images (count, 3, size, size) of 1-3 coloured 2x2 blobs; questions 'how many <colour> <filler...>' as
    padded token ids (0 = pad, 1..3 = colours, 4..6 = fillers) with their lengths; answers: the count (0..3)."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 3, size, size), np.float32)
    questions = np.zeros((count, 4), np.int64)
    lengths = rng.integers(1, 5, count)
    answers = np.zeros(count, np.int64)
    for i in range(count):
        blob_colours = rng.integers(0, colours, rng.integers(1, 4))
        for j, colour in enumerate(blob_colours):
            row, column = 2 * (j + rng.integers(0, 2)), 2 * rng.integers(0, size // 2)
            images[i, colour, row:row + 2, column:column + 2] = 1.0
        asked = rng.integers(0, colours)
        questions[i, :lengths[i]] = np.concatenate([[asked + 1], rng.integers(4, 7, lengths[i] - 1)])
        answers[i] = (blob_colours == asked).sum()
    return images + 0.1 * rng.standard_normal(images.shape).astype(np.float32), questions, lengths, answers


def test_film(torch: Any) -> None:
    """FiLM-conditioned residual CNN on a counting question: losses and the eval-mode accuracy at each step agree,
    and so do the weights."""
    data = _clevr_like(18, seed=5)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(FILM, 7, 4)
    mg = mg_program["torch"]
    steps = 6
    expected = torch_program["train"](torch_model, [torch.from_numpy(a) for a in data], steps)
    losses, accuracies = mg_program["train"](mg_model, [mg.from_numpy(a) for a in data], steps)
    np.testing.assert_allclose(losses, expected[0], rtol=1e-5, atol=1e-6)
    assert accuracies == expected[1]
    _assert_same_weights(torch_model, mg_model, initial)
    rows = [a[:6].astype(np.float64) if a.dtype == np.float32 else a[:6] for a in data]
    _assert_same_float64_gradients((torch_program, mg_program), (torch_model, mg_model),
                                   [torch.from_numpy(a) for a in rows], [mg.from_numpy(a) for a in rows])


# ----------------------------------------------------------------------------- fixes found by these programs


@pytest.mark.parametrize("write", [
    lambda lib, x: x.__setitem__(lib.tensor([0, 1]), lib.ones(3, 2)),           # out[rows] = expert(tokens[rows])
    lambda lib, x: x.__setitem__(slice(0, 2), lib.ones(3, 2)),
    lambda lib, x: x.__setitem__(x > -1, lib.ones(5)),
], ids=["rows", "slice", "mask"])
def test_a_written_value_of_the_wrong_shape_raises_runtime_error_as_torch(write: Any, torch: Any) -> None:
    """Without autograd recording, ``x[index] = value`` of a shape that does not fit raised NumPy's plain
    ValueError; PyTorch (and the recorded path) raise a RuntimeError. Now both classes catch it."""
    import minigrad as mg  # noqa: PLC0415

    with pytest.raises(RuntimeError):
        write(torch, torch.zeros(3, 2))
    with pytest.raises(RuntimeError, match="setitem") as caught:
        write(mg, mg.zeros(3, 2))
    assert isinstance(caught.value, ValueError)
