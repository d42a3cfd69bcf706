"""Image-to-sequence and dense prediction: two PyTorch programs run on torch and on minigrad, only the imports differ.

Each program is our own rewrite of a well-known public PyTorch program: it keeps the original's PyTorch calls and
habits in the same roles, with our own names, structure and comments, a tiny model, a few steps and generated data
(the helpers and the rule come from tests/test_pytorch_programs.py):

* ``SHOW_ATTEND_TELL`` mirrors sgrvinod's a-PyTorch-Tutorial-to-Image-Captioning
  (https://github.com/sgrvinod/a-PyTorch-Tutorial-to-Image-Captioning): a small CNN encoder whose
  ``AdaptiveAvgPool2d`` grid is read as pixels ``(B, P, D)``, captions sorted by length
  (``caption_lengths.squeeze(1).sort(dim=0, descending=True)`` and ``sort_ind``), an ``nn.LSTMCell`` decoder
  with soft attention (``Linear`` projections, ``ReLU`` energies, ``Softmax(dim=1)`` over pixels) and a sigmoid
  gate on the context (``f_beta``), the ``batch_size_t`` trick (step t decodes only the first rows still running),
  predictions written into slices of ``torch.zeros`` tensors, ``pack_padded_sequence(..., batch_first=True).data``
  for the loss, the doubly stochastic attention penalty ``((1. - alphas.sum(dim=1)) ** 2).mean()``, gradients
  clamped in place per optimizer group (and by ``clip_grad_value_``), top-5 accuracy from ``topk``/``eq``/
  ``expand_as``, one Adam for the decoder and one for the encoder; then beam search (k beams, ``topk`` over the
  flattened scores, ``//`` and ``%`` back to beam and word, the complete/incomplete lists);
* ``DEEPLAB_V3`` mirrors torchvision's DeepLabV3 head and its segmentation reference script
  (https://github.com/pytorch/vision/tree/main/references/segmentation): ASPP with dilated ``Conv2d`` branches
  (dilation 1, 2, 3), an image pooling branch (``AdaptiveAvgPool2d(1)`` and back with ``F.interpolate`` bilinear,
  ``align_corners=False``), ``torch.cat``, a 1x1 projection with ``BatchNorm2d``, ``ReLU`` and ``Dropout``, the
  logits upsampled to the input size, ``CrossEntropyLoss(ignore_index=255)``, SGD under the poly learning rate
  ``LambdaLR(lambda x: (1 - x / total) ** 0.9)``, and mIoU from a confusion matrix built with
  ``torch.bincount(n * target + pred, minlength=n ** 2).reshape(n, n)``.

Dropout masks are drawn by each engine's own generator: the tests make both engines' ``F.dropout`` read the same
NumPy stream (``_shared_dropout``), so the programs run with real dropout in training.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import _assert_same_weights, _twin_models
from tests.test_pytorch_programs_flow import _lean_torch  # noqa: F401 - autouse: torch lean, _dynamo imported in setup
from tests.test_pytorch_programs_gnn import _shared_dropout

TORCH_IMPORTS_CAPTION = """\
import math
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import optim
from torch.nn.utils.rnn import pack_padded_sequence
"""

MINIGRAD_IMPORTS_CAPTION = """\
import math
import minigrad as torch
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad import optim
from minigrad.nn.utils.rnn import pack_padded_sequence
"""

IMPORTS = (TORCH_IMPORTS_CAPTION, MINIGRAD_IMPORTS_CAPTION)


SHOW_ATTEND_TELL = '''
PAD, START, END = 0, 1, 2


class Encoder(nn.Module):
    """Images (B, 3, H, W) to a grid of pixel features (B, S, S, D): two conv blocks, then an adaptive pool to S x S."""

    def __init__(self, grid_size=3, channels=6):
        super(Encoder, self).__init__()
        self.cnn = nn.Sequential(
            nn.Conv2d(3, channels, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(channels, channels, kernel_size=3, padding=1), nn.ReLU(inplace=True))
        self.adaptive_pool = nn.AdaptiveAvgPool2d((grid_size, grid_size))

    def forward(self, images):
        grid = self.adaptive_pool(self.cnn(images))   # (B, D, S, S)
        return grid.permute(0, 2, 3, 1)               # (B, S, S, D)


class SoftAttention(nn.Module):
    """Energies v . relu(W_e pixel + W_d h) over the pixels, softmax, and the weighted mean of the pixels."""

    def __init__(self, encoder_dim, decoder_dim, attention_dim):
        super(SoftAttention, self).__init__()
        self.pixel_proj = nn.Linear(encoder_dim, attention_dim)
        self.hidden_proj = nn.Linear(decoder_dim, attention_dim)
        self.energy = nn.Linear(attention_dim, 1)
        self.relu = nn.ReLU()
        self.softmax = nn.Softmax(dim=1)

    def forward(self, pixels, hidden):
        # pixels (b, P, D), hidden (b, H) -> context (b, D), alpha (b, P)
        energies = self.energy(self.relu(self.pixel_proj(pixels) + self.hidden_proj(hidden).unsqueeze(1)))
        alpha = self.softmax(energies.squeeze(2))
        context = (pixels * alpha.unsqueeze(2)).sum(dim=1)
        return context, alpha


class AttentionDecoder(nn.Module):
    """Teacher-forced caption decoder: an LSTMCell fed [word embedding; gated attention context] at each step."""

    def __init__(self, attention_dim, embed_dim, decoder_dim, vocab_size, encoder_dim, dropout=0.5):
        super(AttentionDecoder, self).__init__()
        self.encoder_dim, self.vocab_size = encoder_dim, vocab_size
        self.attention = SoftAttention(encoder_dim, decoder_dim, attention_dim)
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.dropout = nn.Dropout(p=dropout)
        self.decode_step = nn.LSTMCell(embed_dim + encoder_dim, decoder_dim, bias=True)
        self.init_h = nn.Linear(encoder_dim, decoder_dim)
        self.init_c = nn.Linear(encoder_dim, decoder_dim)
        self.f_beta = nn.Linear(decoder_dim, encoder_dim)   # how much of the context passes at each step
        self.sigmoid = nn.Sigmoid()
        self.fc = nn.Linear(decoder_dim, vocab_size)
        with torch.no_grad():
            self.embedding.weight.uniform_(-0.1, 0.1)
            self.fc.bias.fill_(0)
            self.fc.weight.uniform_(-0.1, 0.1)

    def init_hidden_state(self, pixels):
        mean_pixel = pixels.mean(dim=1)
        return self.init_h(mean_pixel), self.init_c(mean_pixel)

    def forward(self, grid, captions, caption_lengths):
        batch_size = grid.size(0)
        pixels = grid.reshape(batch_size, -1, self.encoder_dim)   # (B, P, D)
        num_pixels = pixels.size(1)
        # longest captions first, so that the rows still decoding at step t are always the first ones
        caption_lengths, sort_ind = caption_lengths.squeeze(1).sort(dim=0, descending=True)
        pixels = pixels[sort_ind]
        captions = captions[sort_ind]
        embeddings = self.embedding(captions)
        h, c = self.init_hidden_state(pixels)
        decode_lengths = (caption_lengths - 1).tolist()   # no step after <end>
        predictions = torch.zeros(batch_size, max(decode_lengths), self.vocab_size).to(grid.device)
        alphas = torch.zeros(batch_size, max(decode_lengths), num_pixels).to(grid.device)
        for t in range(max(decode_lengths)):
            batch_size_t = sum([length > t for length in decode_lengths])
            context, alpha = self.attention(pixels[:batch_size_t], h[:batch_size_t])
            gate = self.sigmoid(self.f_beta(h[:batch_size_t]))
            context = gate * context
            h, c = self.decode_step(torch.cat([embeddings[:batch_size_t, t, :], context], dim=1),
                                    (h[:batch_size_t], c[:batch_size_t]))
            predictions[:batch_size_t, t, :] = self.fc(self.dropout(h))
            alphas[:batch_size_t, t, :] = alpha
        return predictions, captions, decode_lengths, alphas, sort_ind


def make_model(vocab_size):
    encoder = Encoder()
    decoder = AttentionDecoder(attention_dim=8, embed_dim=5, decoder_dim=9, vocab_size=vocab_size, encoder_dim=6)
    return encoder, decoder


def clip_gradient(optimizer, grad_clip):
    """Clamp every gradient of the optimizer's groups to [-grad_clip, grad_clip], in place."""
    for group in optimizer.param_groups:
        for param in group['params']:
            if param.grad is not None:
                param.grad.clamp_(-grad_clip, grad_clip)


def accuracy(scores, targets, k):
    """Percentage of rows whose target is among the k highest scores."""
    batch_size = targets.size(0)
    _, ind = scores.topk(k, 1, True, True)
    correct = ind.eq(targets.view(-1, 1).expand_as(ind))
    return correct.view(-1).float().sum().item() * (100.0 / batch_size)


def train(encoder, decoder, batches, steps, alpha_c=1.0, grad_clip=0.05, device='cpu'):
    encoder, decoder = encoder.to(device), decoder.to(device)
    decoder_optimizer = torch.optim.Adam(params=filter(lambda p: p.requires_grad, decoder.parameters()), lr=4e-3)
    encoder_optimizer = torch.optim.Adam(params=filter(lambda p: p.requires_grad, encoder.parameters()), lr=1e-3)
    criterion = nn.CrossEntropyLoss()
    encoder.train()
    decoder.train()
    history, grads = [], []
    for step in range(steps):
        images, captions, caption_lengths = batches[step % len(batches)]
        images = torch.from_numpy(images).to(device)
        captions = torch.from_numpy(captions).to(device)
        caption_lengths = torch.from_numpy(caption_lengths).to(device)
        scores, captions_sorted, decode_lengths, alphas, sort_ind = decoder(encoder(images), captions, caption_lengths)
        targets = captions_sorted[:, 1:]   # the words after <start>
        scores = pack_padded_sequence(scores, decode_lengths, batch_first=True).data
        targets = pack_padded_sequence(targets, decode_lengths, batch_first=True).data
        loss = criterion(scores, targets)
        loss += alpha_c * ((1. - alphas.sum(dim=1)) ** 2).mean()   # every pixel attended to about once in all
        decoder_optimizer.zero_grad()
        encoder_optimizer.zero_grad()
        loss.backward()
        clip_gradient(decoder_optimizer, grad_clip)
        torch.nn.utils.clip_grad_value_(encoder.parameters(), grad_clip)
        grads.append({name: p.grad.clone().cpu().numpy() for name, p in decoder.named_parameters()})
        decoder_optimizer.step()
        encoder_optimizer.step()
        top5 = accuracy(scores, targets, 5)
        history.append((loss.item(), top5, sum(decode_lengths), sort_ind.tolist()))
    return history, grads


def beam_search(encoder, decoder, image, beam_size=3, max_steps=6, device='cpu'):
    """The best caption of one image (1, 3, H, W), its alphas (L, S, S), the finished beams' scores and the finished
    beams, by beam search over summed log-probabilities."""
    k = beam_size
    vocab_size = decoder.vocab_size
    with torch.no_grad():
        grid = encoder(image.to(device))   # (1, S, S, D)
        grid_size, encoder_dim = grid.size(1), grid.size(3)
        pixels = grid.view(1, -1, encoder_dim)
        num_pixels = pixels.size(1)
        pixels = pixels.expand(k, num_pixels, encoder_dim)
        k_prev_words = torch.LongTensor([[START]] * k).to(device)   # (k, 1)
        seqs = k_prev_words
        top_k_scores = torch.zeros(k, 1).to(device)
        seqs_alpha = torch.ones(k, 1, grid_size, grid_size).to(device)
        complete_seqs, complete_seqs_alpha, complete_seqs_scores = list(), list(), list()
        step = 1
        h, c = decoder.init_hidden_state(pixels)
        while True:
            embeddings = decoder.embedding(k_prev_words).squeeze(1)   # (s, E)
            context, alpha = decoder.attention(pixels, h)
            alpha = alpha.view(-1, grid_size, grid_size)
            context = decoder.sigmoid(decoder.f_beta(h)) * context
            h, c = decoder.decode_step(torch.cat([embeddings, context], dim=1), (h, c))
            scores = F.log_softmax(decoder.fc(h), dim=1)
            scores = top_k_scores.expand_as(scores) + scores   # (s, V)
            if step == 1:   # every beam is the same <start>: take the k best first words of one
                top_k_scores, top_k_words = scores[0].topk(k, 0, True, True)
            else:
                top_k_scores, top_k_words = scores.view(-1).topk(k, 0, True, True)
            prev_word_inds = top_k_words // vocab_size
            next_word_inds = top_k_words % vocab_size
            seqs = torch.cat([seqs[prev_word_inds], next_word_inds.unsqueeze(1)], dim=1)
            seqs_alpha = torch.cat([seqs_alpha[prev_word_inds], alpha[prev_word_inds].unsqueeze(1)], dim=1)
            incomplete_inds = [ind for ind, next_word in enumerate(next_word_inds) if next_word != END]
            complete_inds = list(set(range(len(next_word_inds))) - set(incomplete_inds))
            if len(complete_inds) > 0:
                complete_seqs.extend(seqs[complete_inds].tolist())
                complete_seqs_alpha.extend(seqs_alpha[complete_inds].tolist())
                complete_seqs_scores.extend(top_k_scores[complete_inds])
            k -= len(complete_inds)
            if k == 0:
                break
            seqs = seqs[incomplete_inds]
            seqs_alpha = seqs_alpha[incomplete_inds]
            h = h[prev_word_inds[incomplete_inds]]
            c = c[prev_word_inds[incomplete_inds]]
            pixels = pixels[prev_word_inds[incomplete_inds]]
            top_k_scores = top_k_scores[incomplete_inds].unsqueeze(1)
            k_prev_words = next_word_inds[incomplete_inds].unsqueeze(1)
            if step >= max_steps:   # out of steps: the running beams count as finished
                complete_seqs.extend(seqs.tolist())
                complete_seqs_alpha.extend(seqs_alpha.tolist())
                complete_seqs_scores.extend(top_k_scores.squeeze(1))
                break
            step += 1
    best = complete_seqs_scores.index(max(complete_seqs_scores))
    return complete_seqs[best], complete_seqs_alpha[best], [float(s) for s in complete_seqs_scores], complete_seqs
'''


DEEPLAB_V3 = '''
IGNORE = 255


class ASPPConv(nn.Sequential):
    """A 3x3 atrous branch: padding = dilation keeps the size."""

    def __init__(self, in_channels, out_channels, dilation):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=dilation, dilation=dilation, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU())


class ASPPPooling(nn.Sequential):
    """The image-level branch: one pooled vector per image, projected, then spread back over the feature map."""

    def __init__(self, in_channels, out_channels):
        super().__init__(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU())

    def forward(self, x):
        size = x.shape[-2:]
        for module in self:
            x = module(x)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: a 1x1 branch, one 3x3 branch per rate and the pooling branch, concatenated
    over channels and projected back to out_channels."""

    def __init__(self, in_channels, atrous_rates, out_channels=8):
        super().__init__()
        branches = [nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False),
                                  nn.BatchNorm2d(out_channels), nn.ReLU())]
        for rate in tuple(atrous_rates):
            branches.append(ASPPConv(in_channels, out_channels, rate))
        branches.append(ASPPPooling(in_channels, out_channels))
        self.convs = nn.ModuleList(branches)
        self.project = nn.Sequential(
            nn.Conv2d(len(self.convs) * out_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
            nn.Dropout(0.5))

    def forward(self, x):
        return self.project(torch.cat([conv(x) for conv in self.convs], dim=1))


class DeepLabHead(nn.Sequential):
    def __init__(self, in_channels, num_classes, atrous_rates=(1, 2, 3)):
        super().__init__(
            ASPP(in_channels, atrous_rates),
            nn.Conv2d(8, 8, 3, padding=1, bias=False),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.Conv2d(8, num_classes, 1))


class DeepLabV3(nn.Module):
    """Images (B, 3, H, W) to {"out": logits (B, C, H, W)}: a stride-4 backbone, the ASPP head, bilinear upsampling."""

    def __init__(self, num_classes):
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(3, 6, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(6), nn.ReLU(inplace=True),
            nn.Conv2d(6, 6, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(6), nn.ReLU(inplace=True))
        self.classifier = DeepLabHead(6, num_classes)

    def forward(self, x):
        input_shape = x.shape[-2:]
        features = self.backbone(x)
        logits = self.classifier(features)
        result = {}
        result["out"] = F.interpolate(logits, size=input_shape, mode="bilinear", align_corners=False)
        return result


def make_model(num_classes):
    return DeepLabV3(num_classes)


class ConfusionMatrix:
    """Counts (true class, predicted class) pairs over the labelled pixels."""

    def __init__(self, num_classes):
        self.num_classes = num_classes
        self.mat = None

    def update(self, target, pred):
        n = self.num_classes
        if self.mat is None:
            self.mat = torch.zeros((n, n), dtype=torch.int64, device=target.device)
        with torch.inference_mode():
            k = (target >= 0) & (target < n)   # drops the ignored pixels
            inds = n * target[k].to(torch.int64) + pred[k]
            self.mat += torch.bincount(inds, minlength=n ** 2).reshape(n, n)

    def compute(self):
        h = self.mat.float()
        acc_global = torch.diag(h).sum() / h.sum()
        acc = torch.diag(h) / h.sum(1)
        iu = torch.diag(h) / (h.sum(1) + h.sum(0) - torch.diag(h))
        return acc_global, acc, iu


def train(model, images, masks, epochs, batch_size=2, lr=0.1, device="cpu"):
    model.to(device)
    criterion = nn.CrossEntropyLoss(ignore_index=IGNORE)
    params_to_optimize = [
        {"params": [p for p in model.backbone.parameters() if p.requires_grad]},
        {"params": [p for p in model.classifier.parameters() if p.requires_grad]},
    ]
    optimizer = torch.optim.SGD(params_to_optimize, lr=lr, momentum=0.9, weight_decay=1e-4)
    iters_per_epoch = len(images) // batch_size
    total_iters = iters_per_epoch * epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda x: (1 - x / total_iters) ** 0.9)
    history = []
    for epoch in range(epochs):
        model.train()
        for start in range(0, iters_per_epoch * batch_size, batch_size):
            image = torch.from_numpy(images[start:start + batch_size]).to(device)
            target = torch.from_numpy(masks[start:start + batch_size]).to(device)
            output = model(image)
            loss = criterion(output["out"], target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            history.append((loss.item(), optimizer.param_groups[0]["lr"]))
    return history


def evaluate(model, images, masks, num_classes, device="cpu"):
    model.eval()
    confmat = ConfusionMatrix(num_classes)
    with torch.no_grad():
        for image, target in zip(images, masks):
            image, target = torch.from_numpy(image[None]).to(device), torch.from_numpy(target).to(device)
            output = model(image)["out"]
            confmat.update(target.flatten(), output.argmax(1).flatten())
    acc_global, acc, iu = confmat.compute()
    return confmat.mat.cpu().numpy(), acc_global.item(), acc.tolist(), iu.tolist(), iu.mean().item()
'''


PROGRAMS = (SHOW_ATTEND_TELL, DEEPLAB_V3)
DEVICES = ("cpu", pytest.param("cuda", marks=pytest.mark.gpu))   # cuda: the strict CuPy stand-in without a GPU


def test_the_programs_differ_only_in_their_imports() -> None:
    assert TORCH_IMPORTS_CAPTION.count("\n") == MINIGRAD_IMPORTS_CAPTION.count("\n") == 6
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. Show, Attend and Tell


def _caption_batches(seed: int, count: int, batch_size: int = 4, vocab: int = 9, max_words: int = 5) -> list:
    """Batches of (images (B, 3, 8, 8), captions (B, 2 + max_words) as <start> words <end> <pad>..., lengths (B, 1)).

    The words are read off the image (its brightest channel per row band), so there is something to learn."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        images = rng.standard_normal((batch_size, 3, 8, 8)).astype(np.float32)
        captions = np.zeros((batch_size, max_words + 2), dtype=np.int64)
        lengths = np.zeros((batch_size, 1), dtype=np.int64)
        for row in range(batch_size):
            words = 1 + int(rng.integers(0, max_words))
            bands = images[row].reshape(3, 4, 16).mean(-1).argmax(0)   # (4,) in 0..2
            sentence = 3 + (bands[np.arange(words) % 4] * 2 + np.arange(words)) % (vocab - 3)
            captions[row, :words + 2] = [1, *sentence, 2]
            lengths[row, 0] = words + 2
        batches.append((images, captions, lengths))
    return batches


@pytest.mark.parametrize("device", DEVICES)
def test_show_attend_and_tell_with_beam_search(torch: Any, monkeypatch: pytest.MonkeyPatch, device: str) -> None:
    """Losses, top-5 accuracy, the sort order, every decoder gradient (clamped) at every step, all weights (both
    Adams), and the beam search's best caption, alphas, finished beams and their scores; minigrad on ``device``."""
    _shared_dropout(monkeypatch, torch, seed=3)
    vocab = 9
    batches = _caption_batches(0, 3)
    torch_program, torch_models, mg_program, mg_models, initials = _twin_models(
        SHOW_ATTEND_TELL, vocab, imports=IMPORTS)
    expected, expected_grads = torch_program["train"](*torch_models, batches, 6)
    history, grads = mg_program["train"](*mg_models, batches, 6, device=device)
    np.testing.assert_allclose([h[0] for h in history], [h[0] for h in expected], rtol=1e-5, atol=1e-6)
    assert [h[1:] for h in history] == [h[1:] for h in expected]   # top-5, decoded words, sort_ind
    for ours, theirs in zip(grads, expected_grads):
        assert ours.keys() == theirs.keys()
        for name in ours:
            np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-4, atol=1e-6, err_msg=name)
            assert np.abs(ours[name]).max() <= 0.05 + 1e-7   # clamped in place
    # softmax over pixels ignores what adds the same energy to every pixel: the energy bias, and the hidden-state
    # projection (and pixel bias) of an attention unit that the relu lets through at every pixel, get gradients
    # of ~1e-11 (compared above with atol), which Adam's normalisation turns into steps of either sign
    _assert_same_weights(torch_models[0], mg_models[0], initials[0])
    _assert_same_weights(torch_models[1], mg_models[1], initials[1], noise_only=(
        "attention.energy.bias", "attention.hidden_proj.weight", "attention.hidden_proj.bias",
        "attention.pixel_proj.bias"))
    for torch_model, mg_model in zip(torch_models, mg_models):
        torch_model.eval()
        mg_model.eval()
    # six steps leave a near-uniform read-out that ends every caption at once: sharpen it (x10) and make <end>
    # less likely by 0.3 (beams finish at different steps) or 0.4 (some run out of steps), in both alike
    mg = mg_program["torch"]
    fc_weight, fc_bias = torch_models[1].fc.weight.detach().clone(), torch_models[1].fc.bias.detach().clone()
    for end_penalty in (0.3, 0.4):
        for lib, fc in ((torch, torch_models[1].fc), (mg, mg_models[1].fc)):
            with lib.no_grad():
                fc.weight.copy_(lib.from_numpy(10 * fc_weight.numpy()).to(fc.weight.device))
                fc.bias.copy_(lib.from_numpy(fc_bias.numpy() - end_penalty * np.eye(vocab, dtype=np.float32)[2])
                              .to(fc.bias.device))
        for image in batches[0][0]:
            seq, alphas, scores, finished = mg_program["beam_search"](*mg_models, mg.from_numpy(image[None]),
                                                                      device=device)
            expected_seq, expected_alphas, expected_scores, expected_finished = torch_program["beam_search"](
                *torch_models, torch.from_numpy(image[None]))
            assert seq == expected_seq and seq[0] == 1
            assert finished == expected_finished and len(finished) == 3
            np.testing.assert_allclose(alphas, expected_alphas, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(scores, expected_scores, rtol=1e-5)


# ----------------------------------------------------------------------------- 2. DeepLabV3


def _segmentation_data(seed: int, count: int, classes: int = 3, size: int = 12) -> tuple:
    """Images (N, 3, size, size): a colour per 4x4 block of class c (channel c up) plus noise; masks (N, size, size)
    of the block classes, with the first row and last column unlabelled (255, as VOC's object borders)."""
    rng = np.random.default_rng(seed)
    masks = rng.integers(0, classes, (count, 1, 3, 3)).repeat(4, axis=2).repeat(4, axis=3)[:, 0]
    images = (np.eye(3, dtype=np.float32)[masks].transpose(0, 3, 1, 2)
              + 0.3 * rng.standard_normal((count, 3, size, size)).astype(np.float32))
    masks = masks.astype(np.int64)
    masks[:, 0, :] = 255
    masks[:, :, -1] = 255
    return images.astype(np.float32), masks


@pytest.mark.parametrize("device", DEVICES)
def test_deeplab_v3_with_poly_schedule_and_miou(torch: Any, monkeypatch: pytest.MonkeyPatch, device: str) -> None:
    """Losses and poly learning rates per step (dropout on, masks shared), final weights and BatchNorm statistics,
    then the eval-mode confusion matrix, pixel accuracy, per-class accuracy and IoU, and mIoU; minigrad on
    ``device``."""
    _shared_dropout(monkeypatch, torch, seed=5)
    classes = 3
    images, masks = _segmentation_data(0, 6, classes)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(DEEPLAB_V3, classes, imports=IMPORTS)
    expected = torch_program["train"](torch_model, images, masks, 8)
    history = mg_program["train"](mg_model, images, masks, 8, device=device)
    np.testing.assert_allclose(history, expected, rtol=1e-5, atol=1e-7)
    _assert_same_weights(torch_model, mg_model, initial)
    matrix, acc_global, acc, iu, miou = mg_program["evaluate"](mg_model, images, masks, classes, device=device)
    expected_matrix, *expected_metrics = torch_program["evaluate"](torch_model, images, masks, classes)
    np.testing.assert_array_equal(matrix, expected_matrix)
    assert matrix.dtype == np.int64 and matrix.sum() == (masks != 255).sum()
    assert miou > 0.5   # it learnt the colours: every class is predicted
    np.testing.assert_allclose(np.array([acc_global, *acc, *iu, miou], dtype=float),
                               np.array([expected_metrics[0], *expected_metrics[1], *expected_metrics[2],
                                         expected_metrics[3]], dtype=float), rtol=1e-6, equal_nan=True)


# ----------------------------------------------------------------------------- fixes these programs found


@pytest.mark.parametrize("device", DEVICES)
def test_cross_entropy_mean_then_in_place_add_backpropagates(torch: Any, device: str) -> None:
    """``loss = criterion(scores, targets); loss += alpha_c * penalty`` (Show, Attend and Tell): the mean's op kept its
    output for backward, which the in-place add changed on CuPy (a 0-d array there, a NumPy scalar on the host), so
    backward refused; it keeps its inputs now, as PyTorch, and the gradients are torch's."""
    import minigrad as mg  # noqa: PLC0415

    rng = np.random.default_rng(0)
    logits, target = rng.standard_normal((5, 4)).astype(np.float32), np.array([0, 3, 1, 1, 2])
    grads = []
    for lib, move in ((torch, lambda t: t), (mg, lambda t: t.to(device))):
        x = move(lib.tensor(logits)).requires_grad_()
        weight = move(lib.tensor([1.0, 2.0, 0.5, 1.0]))   # torch refuses a weight that requires grad
        loss = lib.nn.functional.cross_entropy(x, move(lib.tensor(target)), weight=weight, ignore_index=2)
        loss += 0.5 * (x ** 2).mean()
        loss.backward()
        grads.append((loss.item(), x.grad.cpu().numpy()))
    for ours, theirs in zip(grads[1], grads[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("device", DEVICES)
def test_sort_with_ties_orders_them_as_torch_on_every_device(torch: Any, device: str) -> None:
    """``caption_lengths.sort(dim=0, descending=True)`` with equal lengths: on the CPU the ties come in PyTorch's
    CPU order (its ``std::sort``, round 19), on a GPU in their index order, also with ``stable=True`` (minigrad
    had asked CuPy for ``kind=None``, which the CuPy stand-in read as NumPy's unstable quicksort)."""
    import minigrad as mg  # noqa: PLC0415

    lengths = np.random.default_rng(0).integers(3, 7, 40)   # > 16 entries: NumPy's quicksort is unstable there
    stable = device != "cpu"
    ours = mg.tensor(lengths, device=device).sort(dim=0, descending=True)
    theirs = torch.tensor(lengths).sort(dim=0, descending=True, stable=stable)
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    np.testing.assert_array_equal(mg.tensor(lengths, device=device).argsort().numpy(),
                                  torch.tensor(lengths).argsort(stable=stable).numpy())
    np.testing.assert_array_equal(mg.tensor(lengths, device=device).argsort(stable=True).numpy(),
                                  torch.tensor(lengths).argsort(stable=True).numpy())
