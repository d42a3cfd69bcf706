"""Four audio and speech programs, small, run unchanged on minigrad: only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch program: it keeps the original's PyTorch calls
and habits in the same roles, with our own names, structure and comments, a small model, a few steps and
generated audio (sines and noise drawn here, outside the programs; the helpers and the rule come from
tests/test_pytorch_programs.py):

* ``KEYWORD_SPOTTER`` follows the PyTorch tutorial "Speech Command Classification with torchaudio"
  (https://pytorch.org/tutorials/intermediate/speech_command_classification_with_torchaudio_tutorial.html)
  with torchaudio's ``MelSpectrogram`` written out by hand: ``torch.stft(window=torch.hann_window(n_fft),
  return_complex=True)``, power ``abs().pow(2)``, the triangular mel filterbank of torchaudio's
  ``melscale_fbanks`` built as a matrix (``linspace``, ``log10``, ``unsqueeze`` slopes, ``torch.min``/``torch.max``)
  and applied with ``matmul``, log-mel features, a ``Conv1d``/``BatchNorm1d``/``max_pool1d`` stack and a
  ``Conv2d``/``MaxPool2d`` stem, ``adaptive_avg_pool1d``, ``log_softmax`` + ``nll_loss``, Adam;
* ``CTC_RECOGNISER`` follows the CTC speech recognisers of the DeepSpeech-style PyTorch repositories
  (e.g. SeanNaren/deepspeech.pytorch, and the AssemblyAI "Building an end-to-end Speech Recognition model in
  PyTorch" post): a bidirectional ``LSTM(batch_first=True)``, ``Linear``, ``log_softmax(dim=2)`` transposed to
  (T, B, C), ``nn.CTCLoss(blank=0, reduction="mean", zero_infinity=True)`` with ``input_lengths`` and
  ``target_lengths`` (targets padded 2-D and concatenated 1-D), SGD with momentum and ``clip_grad_norm_``, and a
  greedy decoder (``argmax``, ``unique_consecutive``, blanks dropped);
* ``GRIFFIN_LIM`` follows torchaudio's ``functional.griffinlim`` (the fast Griffin-Lim of Perraudin et al.):
  ``istft``/``stft`` rounds with momentum, the phase kept on the unit circle by ``x / x.abs()`` or by
  ``torch.polar(ones, torch.angle(x))``, the spectral convergence per round, and a phase retrieval by gradient
  descent on the waveform (the magnitude loss back-propagated through ``torch.stft``), Adam;
* ``MU_LAW_WAVENET`` follows torchaudio's ``mu_law_encoding``/``mu_law_decoding`` (``sign``, ``log1p``,
  ``expm1``) and the WaveNet vocoders in PyTorch (e.g. r9y9/wavenet_vocoder): pre-emphasis, frames cut with
  ``unfold`` under ``torch.hamming_window(periodic=False)`` and normalised per frame, ``amplitude_to_DB``'s
  ``10 * log10(clamp(min=...))`` with a ``top_db`` floor, and a tiny gated causal ``Conv1d`` stack
  (``F.pad`` on the left, dilation, ``tanh * sigmoid``, residual and skip 1x1 convolutions) trained on the
  next mu-law class with ``cross_entropy``, Adam.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import MINIGRAD_IMPORTS, TORCH_IMPORTS, _assert_same_weights, _program, _twin_models
from tests.test_pytorch_programs_generative import _shared_draws

IMPORTS = (TORCH_IMPORTS, MINIGRAD_IMPORTS)
IMPORTS_RNN = (TORCH_IMPORTS + "from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence\n",
               MINIGRAD_IMPORTS + "from minigrad.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence\n")


KEYWORD_SPOTTER = '''
SAMPLE_RATE = 800
N_FFT = 64
HOP = 16
N_MELS = 12


def hz_to_mel(freq):
    return 2595.0 * torch.log10(1.0 + freq / 700.0)


def mel_to_hz(mels):
    return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)


def mel_filterbank(n_freqs, f_min, f_max, n_mels, sample_rate):
    """(n_freqs, n_mels) triangles, equally spaced on the HTK mel scale, each rising and falling to 0 at its
    neighbours' centres. Built in float64: a triangle's foot is a difference of nearby frequencies, which
    float32 would leave with a few correct digits only."""
    all_freqs = torch.linspace(0, sample_rate // 2, n_freqs, dtype=torch.float64)
    m_min = hz_to_mel(torch.tensor(float(f_min), dtype=torch.float64))
    m_max = hz_to_mel(torch.tensor(float(f_max), dtype=torch.float64))
    f_pts = mel_to_hz(torch.linspace(m_min.item(), m_max.item(), n_mels + 2, dtype=torch.float64))
    f_diff = f_pts[1:] - f_pts[:-1]                             # (n_mels + 1,)
    slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1)        # (n_freqs, n_mels + 2)
    down = (-1.0 * slopes[:, :-2]) / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return torch.max(torch.zeros(1, dtype=torch.float64), torch.min(down, up)).float()


def dct_matrix(n_mfcc, n_mels):
    """(n_mels, n_mfcc): the orthonormal DCT-II, as torchaudio's create_dct(norm="ortho")."""
    n = torch.arange(float(n_mels))
    k = torch.arange(float(n_mfcc)).unsqueeze(1)
    dct = torch.cos(math.pi / float(n_mels) * (n + 0.5) * k)   # (n_mfcc, n_mels)
    dct[0] *= 1.0 / math.sqrt(2.0)
    dct *= math.sqrt(2.0 / float(n_mels))
    return dct.t()


def deltas(features, win_length=5):
    """Local slopes along the last dim: a regression over win_length frames, edges replicated."""
    n = (win_length - 1) // 2
    denom = n * (n + 1) * (2 * n + 1) / 3
    shape = features.size()
    flat = features.reshape(-1, 1, shape[-1])
    flat = F.pad(flat, (n, n), mode="replicate")
    kernel = torch.arange(-n, n + 1, 1, dtype=flat.dtype).repeat(flat.shape[1], 1, 1)
    return (F.conv1d(flat, kernel, groups=flat.shape[1]) / denom).reshape(shape)


def mask_along_axis(specgram, mask_param, mask_value, axis):
    """SpecAugment: one band of up to mask_param bins (axis 1) or frames (axis 2) set to mask_value, its width
    and start drawn with torch.rand."""
    value = torch.rand(1) * mask_param
    min_value = torch.rand(1) * (specgram.size(axis) - value)
    mask_start = min_value.long().squeeze()
    mask_end = (min_value.long() + value.long()).squeeze()
    mask = torch.arange(0, specgram.shape[axis])
    mask = (mask >= mask_start) & (mask < mask_end)
    if axis == 1:
        mask = mask.unsqueeze(-1)
    return specgram.masked_fill(mask, mask_value)


class LogMel(nn.Module):
    """Waveforms (B, T) to log-mel features (B, n_mels, frames) (SpecAugment's masks in training), and MFCCs
    with their deltas (B, 2 * n_mfcc, frames) beside them."""

    def __init__(self, n_mfcc=4):
        super().__init__()
        self.register_buffer("window", torch.hann_window(N_FFT))
        self.register_buffer("fbank", mel_filterbank(N_FFT // 2 + 1, 0.0, SAMPLE_RATE / 2, N_MELS, SAMPLE_RATE))
        self.register_buffer("dct", dct_matrix(n_mfcc, N_MELS))

    def forward(self, waveform):
        spec = torch.stft(waveform, N_FFT, hop_length=HOP, window=self.window, return_complex=True)
        power = spec.abs().pow(2.0)                                  # (B, freq, frames)
        mel = torch.matmul(power.transpose(-1, -2), self.fbank).transpose(-1, -2)
        log_mel = torch.log(mel + 1e-6)
        mfcc = torch.matmul(log_mel.transpose(-1, -2), self.dct).transpose(-1, -2)
        if self.training:
            log_mel = mask_along_axis(log_mel, 3, log_mel.mean().item(), axis=1)
            log_mel = mask_along_axis(log_mel, 4, 0.0, axis=2)
        return log_mel, torch.cat([mfcc, deltas(mfcc)], dim=1)


class KeywordNet(nn.Module):
    """Log-mel (B, n_mels, frames) to class log-probabilities (B, classes): a Conv2d stem over the
    (mel, frame) image, then Conv1d blocks over frames with the mel bins as channels."""

    def __init__(self, n_classes, channels=8, n_mfcc=4):
        super().__init__()
        self.features = LogMel(n_mfcc)
        self.stem = nn.Sequential(nn.Conv2d(1, 2, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d((2, 1)))
        self.conv1 = nn.Conv1d(2 * (N_MELS // 2) + 2 * n_mfcc, channels, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm1d(channels)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size=3, bias=False)
        self.bn2 = nn.BatchNorm1d(channels)
        self.fc = nn.Linear(channels, n_classes)

    def forward(self, waveform):
        log_mel, cepstra = self.features(waveform)
        x = self.stem(log_mel.unsqueeze(1))                          # (B, 2, mel / 2, frames)
        x = torch.cat([x.flatten(1, 2), cepstra], dim=1)             # (B, 2 * mel / 2 + 2 * n_mfcc, frames)
        x = F.max_pool1d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.adaptive_avg_pool1d(x, 1).squeeze(-1)
        return F.log_softmax(self.fc(x), dim=-1)


def make_model(n_classes):
    return KeywordNet(n_classes)


def train(model, waveforms, labels, steps, lr=0.01):
    optimizer = optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    waveforms, labels = torch.from_numpy(waveforms), torch.from_numpy(labels)
    losses, correct = [], []
    model.train()
    for step in range(steps):
        output = model(waveforms)
        loss = F.nll_loss(output, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        correct.append(output.argmax(dim=-1).eq(labels).sum().item())
    model.eval()
    with torch.no_grad():
        predictions = model(waveforms).argmax(dim=-1)
        log_mel, cepstra = model.features(waveforms[:2])
    return losses, correct, predictions.tolist(), log_mel.numpy(), cepstra.numpy()
'''


CTC_RECOGNISER = '''
BLANK = 0


class SpeechRecogniser(nn.Module):
    """Features (B, T, F) to per-frame log-probabilities (T, B, C) over the characters and the blank (0)."""

    def __init__(self, n_features, hidden, n_classes):
        super().__init__()
        self.norm = nn.LayerNorm(n_features)
        self.rnn = nn.LSTM(n_features, hidden, batch_first=True, bidirectional=True)
        self.classifier = nn.Linear(2 * hidden, n_classes)

    def forward(self, features, lengths=None):
        x = self.norm(features)
        if lengths is None:
            out, _ = self.rnn(x)                                   # (B, T, 2H)
        else:   # padded frames never reach the recurrence, as DeepSpeech's BatchRNN packs them
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            out, _ = self.rnn(packed)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=features.size(1))
        return F.log_softmax(self.classifier(out), dim=2).transpose(0, 1)


def make_model(n_features, n_classes):
    return SpeechRecogniser(n_features, 6, n_classes)


def greedy_decode(log_probs, input_lengths):
    """Best path per utterance: the argmax class per frame, repeats collapsed, blanks dropped."""
    best = torch.argmax(log_probs, dim=2).transpose(0, 1)       # (B, T)
    decoded = []
    for row, length in zip(best, input_lengths.tolist()):
        path = torch.unique_consecutive(row[:length])
        decoded.append([c for c in path.tolist() if c != BLANK])
    return decoded


def train(model, features, targets, input_lengths, target_lengths, steps, flat_targets=False, packed=False,
          lr=0.05):
    criterion = nn.CTCLoss(blank=BLANK, reduction="mean", zero_infinity=True)
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    features, targets = torch.from_numpy(features), torch.from_numpy(targets)
    input_lengths = torch.tensor(input_lengths, dtype=torch.long)
    target_lengths = torch.tensor(target_lengths, dtype=torch.long)
    if flat_targets:   # the other accepted layout: all targets end to end, (sum(target_lengths),)
        targets = torch.cat([t[:n] for t, n in zip(targets, target_lengths.tolist())])
    losses, norms = [], []
    for step in range(steps):
        optimizer.zero_grad()
        log_probs = model(features, input_lengths if packed else None)
        loss = criterion(log_probs, targets, input_lengths, target_lengths)
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)))
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        log_probs = model(features, input_lengths if packed else None)
        per_utterance = F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=BLANK,
                                   reduction="none", zero_infinity=True)
    return losses, norms, greedy_decode(log_probs, input_lengths), per_utterance.numpy()
'''


GRIFFIN_LIM = '''
N_FFT = 32
HOP = 8


def spectrogram(waveform, window, power=None):
    spec = torch.stft(waveform, N_FFT, hop_length=HOP, window=window, return_complex=True)
    return spec if power is None else spec.abs().pow(power)


def griffin_lim(specgram, window, n_iter, power=2.0, momentum=0.99, length=None, initial_phase=None,
                use_polar=False):
    """A waveform (..., T) whose STFT magnitude approaches ``specgram`` (..., freq, frames), a ``power``
    spectrogram: phases from ``initial_phase`` (radians; all 0 when None) re-estimated by istft/stft rounds,
    each pushed on by ``momentum`` times the change since the last round."""
    shape = specgram.size()
    specgram = specgram.reshape([-1] + list(shape[-2:]))
    specgram = specgram.pow(1 / power)                       # back to magnitudes
    if initial_phase is None:
        angles = torch.full(specgram.size(), 1, dtype=torch.complex128 if specgram.dtype == torch.float64
                            else torch.complex64)
    else:
        angles = torch.polar(torch.ones_like(specgram), initial_phase.reshape(specgram.shape))
    tprev = torch.tensor(0.0, dtype=specgram.dtype)
    history = []
    for _ in range(n_iter):
        inverse = torch.istft(specgram * angles, N_FFT, hop_length=HOP, window=window, length=length)
        rebuilt = spectrogram(inverse, window)
        # how far the round moved the estimate: a complex Frobenius norm, and the magnitude mismatch
        history.append((torch.linalg.norm(rebuilt - specgram * angles).item(),
                        (torch.norm(rebuilt.abs() - specgram, p="fro") / specgram.norm()).item()))
        angles = rebuilt
        if momentum:
            angles = angles - tprev.mul_(momentum / (1 + momentum))
        if use_polar:
            angles = torch.polar(torch.ones_like(specgram), torch.angle(angles))
        else:
            angles = angles.div(angles.abs().add(1e-16))
        tprev = rebuilt
    waveform = torch.istft(specgram * angles, N_FFT, hop_length=HOP, window=window, length=length)
    return waveform.reshape(shape[:-2] + waveform.shape[-1:]), history


def run_griffin_lim(target, initial_phase, n_iter, use_polar=False):
    target = torch.from_numpy(target)
    initial_phase = None if initial_phase is None else torch.from_numpy(initial_phase)
    window = torch.hann_window(N_FFT, dtype=target.dtype)
    waveform, history = griffin_lim(spectrogram(target, window, power=2.0), window, n_iter,
                                    length=target.shape[-1], initial_phase=initial_phase, use_polar=use_polar)
    return waveform.numpy(), history


def retrieve_phase(target, start, steps, lr=0.05):
    """Gradient descent on a waveform so that its log-magnitude STFT matches the target's."""
    target = torch.from_numpy(target)
    window = torch.hann_window(N_FFT, dtype=target.dtype)
    wanted = torch.log1p(spectrogram(target, window).abs())
    estimate = torch.from_numpy(start).clone().requires_grad_(True)
    optimizer = optim.Adam([estimate], lr=lr)
    losses = []
    for step in range(steps):
        optimizer.zero_grad()
        loss = F.mse_loss(torch.log1p(spectrogram(estimate, window).abs()), wanted)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, estimate.detach().numpy(), estimate.grad.numpy()


def stft_magnitude(x, fft_size, hop_size, win_length, window):
    """(B, frames, freq) magnitudes, kept off 0 for the logarithm and the square root's gradient."""
    spec = torch.stft(x, fft_size, hop_size, win_length, window, return_complex=True)
    return torch.sqrt(torch.clamp(spec.real ** 2 + spec.imag ** 2, min=1e-7)).transpose(2, 1)


class MultiResolutionSTFTLoss(nn.Module):
    """Spectral convergence plus log-magnitude L1, averaged over several (fft, hop, window) resolutions."""

    def __init__(self, resolutions=((16, 4, 16), (32, 8, 24), (8, 2, 8))):
        super().__init__()
        self.resolutions = resolutions
        for k, (_, _, win_length) in enumerate(resolutions):
            self.register_buffer(f"window{k}", torch.hann_window(win_length))

    def forward(self, x, y):
        sc_loss, mag_loss = 0.0, 0.0
        for k, (fft_size, hop_size, win_length) in enumerate(self.resolutions):
            window = getattr(self, f"window{k}")
            x_mag = stft_magnitude(x, fft_size, hop_size, win_length, window)
            y_mag = stft_magnitude(y, fft_size, hop_size, win_length, window)
            sc_loss += torch.norm(y_mag - x_mag, p="fro") / torch.norm(y_mag, p="fro")
            mag_loss += F.l1_loss(torch.log(y_mag), torch.log(x_mag))
        return sc_loss / len(self.resolutions), mag_loss / len(self.resolutions)


class ISTFTHead(nn.Module):
    """Frame features (B, frames, dim) to a waveform (B, T): a Linear predicts each bin's log-magnitude and
    phase, the complex spectrum mag * (cos p + i sin p) is inverted by torch.istft."""

    def __init__(self, dim, n_fft=N_FFT, hop_length=HOP):
        super().__init__()
        self.n_fft, self.hop_length = n_fft, hop_length
        self.out = nn.Linear(dim, n_fft + 2)
        self.register_buffer("window", torch.hann_window(n_fft))

    def forward(self, x, length):
        x = self.out(x).transpose(1, 2)                  # (B, n_fft + 2, frames)
        mag, p = x.chunk(2, dim=1)
        mag = torch.exp(mag).clip(max=1e2)
        spec = mag * (torch.cos(p) + 1j * torch.sin(p))
        return torch.istft(spec, self.n_fft, self.hop_length, self.n_fft, self.window, center=True, length=length)


def make_vocoder(dim):
    return ISTFTHead(dim)


def train_vocoder(model, features, target, steps, lr=0.01):
    features, target = torch.from_numpy(features), torch.from_numpy(target)
    criterion = MultiResolutionSTFTLoss()
    optimizer = optim.Adam(model.parameters(), lr=lr, betas=(0.8, 0.9))
    history = []
    for step in range(steps):
        audio = model(features, target.size(-1))
        sc_loss, mag_loss = criterion(audio, target)
        loss = sc_loss + mag_loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append((sc_loss.item(), mag_loss.item()))
    return history
'''


MU_LAW_WAVENET = '''
CLASSES = 16


def mu_law_encode(x, quantization_channels):
    """Waveform in [-1, 1] to integer classes 0 .. channels - 1."""
    mu = quantization_channels - 1.0
    x_mu = torch.sign(x) * torch.log1p(mu * torch.abs(x)) / math.log1p(mu)
    return ((x_mu + 1) / 2 * mu + 0.5).to(torch.int64)


def mu_law_decode(x_mu, quantization_channels):
    mu = quantization_channels - 1.0
    if not x_mu.is_floating_point():
        x_mu = x_mu.to(torch.float)
    x = (x_mu / mu) * 2 - 1.0
    return torch.sign(x) * torch.expm1(torch.abs(x) * math.log1p(mu)) / mu


def amplitude_to_db(x, top_db=40.0):
    db = 10.0 * torch.log10(torch.clamp(x, min=1e-10))
    return torch.max(db, db.amax(dim=(-2, -1), keepdim=True) - top_db)


def frame_features(waveform, frame=16, hop=8):
    """Pre-emphasis, Hamming-windowed frames normalised to zero mean and unit variance each, and their
    power in dB: (B, T) -> (B, frames, frame), (B, frames, 1)."""
    emphasised = torch.cat([waveform[:, :1], waveform[:, 1:] - 0.97 * waveform[:, :-1]], dim=1)
    frames = emphasised.unfold(-1, frame, hop) * torch.hamming_window(frame, periodic=False)
    mean = frames.mean(dim=-1, keepdim=True)
    std = frames.std(dim=-1, keepdim=True)
    power = frames.pow(2).mean(dim=-1, keepdim=True)
    return (frames - mean) / (std + 1e-5), amplitude_to_db(power)


class CausalBlock(nn.Module):
    def __init__(self, channels, dilation):
        super().__init__()
        self.pad = dilation
        self.dilated = nn.Conv1d(channels, 2 * channels, kernel_size=2, dilation=dilation)
        self.residual = nn.Conv1d(channels, channels, 1)
        self.skip = nn.Conv1d(channels, channels, 1)

    def forward(self, x):
        h = self.dilated(F.pad(x, (self.pad, 0)))
        filt, gate = h.chunk(2, dim=1)
        h = torch.tanh(filt) * torch.sigmoid(gate)
        return x + self.residual(h), self.skip(h)


class TinyWaveNet(nn.Module):
    """Mu-law classes (B, T) to next-class logits (B, CLASSES, T)."""

    def __init__(self, channels=6, dilations=(1, 2, 4)):
        super().__init__()
        self.embed = nn.Embedding(CLASSES, channels)
        self.blocks = nn.ModuleList([CausalBlock(channels, d) for d in dilations])
        self.out = nn.Sequential(nn.ReLU(), nn.Conv1d(channels, CLASSES, 1))

    def forward(self, classes):
        x = self.embed(classes).transpose(1, 2)
        skips = 0
        for block in self.blocks:
            x, skip = block(x)
            skips = skips + skip
        return self.out(skips)


def make_model():
    return TinyWaveNet()


def companding(waveform):
    waveform = torch.from_numpy(waveform)
    classes = mu_law_encode(waveform, CLASSES)
    frames, db = frame_features(waveform)
    return (classes.numpy(), mu_law_decode(classes, CLASSES).numpy(), frames.numpy(), db.numpy(),
            torch.hann_window(8, periodic=False).numpy())


def train(model, waveform, steps, lr=0.01):
    classes = mu_law_encode(torch.from_numpy(waveform), CLASSES)
    optimizer = optim.Adam(model.parameters(), lr=lr)
    losses = []
    for step in range(steps):
        logits = model(classes[:, :-1])
        loss = F.cross_entropy(logits, classes[:, 1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
'''


PROGRAMS = (KEYWORD_SPOTTER, CTC_RECOGNISER, GRIFFIN_LIM, MU_LAW_WAVENET)


def test_the_programs_differ_only_in_their_imports() -> None:
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source
    for torch_lines, mg_lines in (IMPORTS, IMPORTS_RNN):
        assert torch_lines.replace("torch", "minigrad") == mg_lines.replace("minigrad as torch", "minigrad")


def _tones(rng: np.random.Generator, labels: np.ndarray, length: int, rate: int = 800) -> np.ndarray:
    """One noisy tone per label (float32 (B, length)): class k at 60 + 70 k Hz, random phase and level."""
    t = np.arange(length) / rate
    freq = 60.0 + 70.0 * labels[:, None]
    phase = rng.uniform(0, 2 * np.pi, (len(labels), 1))
    level = rng.uniform(0.5, 1.0, (len(labels), 1))
    waves = level * np.sin(2 * np.pi * freq * t + phase) + 0.1 * rng.standard_normal((len(labels), length))
    return waves.astype(np.float32)


def test_keyword_spotter_on_log_mel_features(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _shared_draws(monkeypatch, torch, 10)   # SpecAugment's torch.rand
    rng = np.random.default_rng(0)
    labels = np.tile(np.arange(3), 3).astype(np.int64)
    waves = _tones(rng, labels, 400)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(KEYWORD_SPOTTER, 3, imports=IMPORTS)
    expected = torch_program["train"](torch_model, waves, labels, 6)
    got = mg_program["train"](mg_model, waves, labels, 6)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-5, atol=1e-6)
    assert got[1:3] == expected[1:3]
    np.testing.assert_allclose(got[3], expected[3], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got[4], expected[4], rtol=1e-4, atol=1e-4)
    _assert_same_weights(torch_model, mg_model, initial)


def _utterances(rng: np.random.Generator, batch: int, frames: int, n_features: int, n_classes: int) -> tuple:
    """Features that hold their characters as bumps, padded targets (B, S), lengths; the last utterance's
    target is too long for its frames (its loss is inf, which zero_infinity zeroes)."""
    input_lengths = [frames, frames - 2, frames - 3, 2]
    target_lengths = [4, 3, 2, 3]
    targets = np.zeros((batch, max(target_lengths)), dtype=np.int64)
    features = 0.3 * rng.standard_normal((batch, frames, n_features)).astype(np.float32)
    for b in range(batch):
        chars = rng.integers(1, n_classes, target_lengths[b])
        targets[b, :target_lengths[b]] = chars
        for k, c in enumerate(chars):
            at = min(k * 2 + 1, input_lengths[b] - 1)
            features[b, at, c % n_features] += 2.0
    return features, targets, input_lengths, target_lengths


@pytest.mark.parametrize(("flat_targets", "packed"), [(False, True), (True, False)])
def test_ctc_recogniser_with_greedy_decoding(torch: Any, flat_targets: bool, packed: bool) -> None:
    rng = np.random.default_rng(1)
    data = _utterances(rng, 4, 9, 5, 5)
    twins = _twin_models(CTC_RECOGNISER, 5, 5, imports=IMPORTS_RNN)
    torch_program, torch_model, mg_program, mg_model, initial = twins
    expected = torch_program["train"](torch_model, *data, 5, flat_targets=flat_targets, packed=packed)
    got = mg_program["train"](mg_model, *data, 5, flat_targets=flat_targets, packed=packed)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-5, atol=1e-6)
    assert got[2] == expected[2]
    np.testing.assert_allclose(got[3], expected[3], rtol=1e-5, atol=1e-6)
    assert expected[3][-1] == 0.0   # the impossible alignment, zeroed
    _assert_same_weights(torch_model, mg_model, initial)


@pytest.mark.parametrize(("use_polar", "random_phase"), [(False, False), (True, True)])
def test_griffin_lim_reconstruction(torch: Any, use_polar: bool, random_phase: bool) -> None:
    rng = np.random.default_rng(2)
    target = _tones(rng, np.array([1, 2]), 96).astype(np.float64)
    initial_phase = rng.uniform(-np.pi, np.pi, (2, 17, 13)) if random_phase else None
    torch_program, mg_program = _program(GRIFFIN_LIM, TORCH_IMPORTS), _program(GRIFFIN_LIM, MINIGRAD_IMPORTS)
    expected = torch_program["run_griffin_lim"](target, initial_phase, 8, use_polar=use_polar)
    got = mg_program["run_griffin_lim"](target, initial_phase, 8, use_polar=use_polar)
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-9, atol=1e-12)
    assert expected[1][-1][1] < expected[1][0][1]   # the magnitudes got closer


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_phase_retrieval_by_gradient_descent_through_stft(torch: Any, dtype: str) -> None:
    rng = np.random.default_rng(3)
    target = _tones(rng, np.array([0, 1]), 64).astype(dtype)
    start = (0.1 * rng.standard_normal(target.shape)).astype(dtype)
    torch_program, mg_program = _program(GRIFFIN_LIM, TORCH_IMPORTS), _program(GRIFFIN_LIM, MINIGRAD_IMPORTS)
    expected = torch_program["retrieve_phase"](target, start, 6)
    got = mg_program["retrieve_phase"](target, start, 6)
    rtol = 1e-5 if dtype == "float32" else 1e-10
    for ours, theirs in zip(got, expected):
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol)
    assert expected[0][-1] < expected[0][0]


def test_istft_head_vocoder_with_multi_resolution_stft_loss(torch: Any) -> None:
    rng = np.random.default_rng(8)
    target = _tones(rng, np.array([1, 2]), 64)
    features = rng.standard_normal((2, 64 // 8 + 1, 6)).astype(np.float32)   # one row per frame (center=True)
    twins = _twin_models(GRIFFIN_LIM, 6, imports=IMPORTS, factory="make_vocoder")
    torch_program, torch_model, mg_program, mg_model, initial = twins
    expected = torch_program["train_vocoder"](torch_model, features, target, 5)
    got = mg_program["train_vocoder"](mg_model, features, target, 5)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    _assert_same_weights(torch_model, mg_model, initial)
    assert sum(expected[-1]) < sum(expected[0])


def test_mu_law_companding_and_frame_features(torch: Any) -> None:
    rng = np.random.default_rng(4)
    waveform = np.clip(_tones(rng, np.array([0, 2]), 80) * 0.8, -1, 1)
    torch_program, mg_program = _program(MU_LAW_WAVENET, TORCH_IMPORTS), _program(MU_LAW_WAVENET, MINIGRAD_IMPORTS)
    expected = torch_program["companding"](waveform)
    got = mg_program["companding"](waveform)
    for ours, theirs in zip(got, expected):
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    assert got[0].min() >= 0 and got[0].max() <= 15


def test_tiny_wavenet_on_mu_law_classes(torch: Any) -> None:
    rng = np.random.default_rng(5)
    waveform = np.clip(_tones(rng, np.array([0, 1]), 48) * 0.8, -1, 1)
    torch_program, torch_model, mg_program, mg_model, initial = _twin_models(MU_LAW_WAVENET, imports=IMPORTS)
    expected = torch_program["train"](torch_model, waveform, 6)
    got = mg_program["train"](mg_model, waveform, 6)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    _assert_same_weights(torch_model, mg_model, initial)


# --- what the programs found -------------------------------------------------------------------------------

_COMPLEX_NORMS = {
    "linalg.vector_norm": lambda lib, z: lib.linalg.vector_norm(z),
    "vector_norm(1, dim=1)": lambda lib, z: lib.linalg.vector_norm(z, 1, dim=1),
    "vector_norm(inf)": lambda lib, z: lib.linalg.vector_norm(z, float("inf")),
    "vector_norm(3, dim=0, keepdim)": lambda lib, z: lib.linalg.vector_norm(z, 3, dim=0, keepdim=True),
    "vector_norm(dtype=complex128)": lambda lib, z: lib.linalg.vector_norm(z, dtype=lib.complex128),
    "linalg.norm": lambda lib, z: lib.linalg.norm(z),
    "matrix_norm('fro')": lambda lib, z: lib.linalg.matrix_norm(z),
    "matrix_norm(1)": lambda lib, z: lib.linalg.matrix_norm(z, 1),
    "matrix_norm(-inf)": lambda lib, z: lib.linalg.matrix_norm(z, -float("inf")),
    "Tensor.norm": lambda lib, z: z.norm(),
    "torch.norm(p='fro')": lambda lib, z: lib.norm(z, p="fro"),
    "torch.norm(1, dim=0)": lambda lib, z: lib.norm(z, 1, dim=0),
}


@pytest.mark.parametrize("name", list(_COMPLEX_NORMS))
def test_norms_of_complex_tensors_are_real_with_the_modulus_gradient(torch: Any, name: str) -> None:
    """Griffin-Lim's ``torch.linalg.norm(rebuilt - estimate)`` of a complex spectrogram: the norms of a complex
    tensor are the norms of its moduli, real-valued (torch.norm gave a complex dtype, linalg's norms refused),
    with the gradient of |z| (z / |z| scaled as the real norm's; 0 at z = 0), as PyTorch."""
    import minigrad as mg  # noqa: PLC0415

    rng = np.random.default_rng(6)
    z = (rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))).astype(np.complex64)
    z[0, 0] = 0
    results = []
    for lib in (torch, mg):
        leaf = lib.from_numpy(z.copy()).requires_grad_(True)
        value = _COMPLEX_NORMS[name](lib, leaf)
        value.sum().backward()
        results.append((value.detach().numpy(), leaf.grad.numpy()))
    (ours, our_grad), (theirs, their_grad) = results[1], results[0]
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    np.testing.assert_allclose(our_grad, their_grad, rtol=1e-5, atol=1e-7)


def test_complex_norms_refuse_what_they_cannot_do() -> None:
    import minigrad as mg  # noqa: PLC0415

    z = mg.tensor(np.ones((2, 2), np.complex64))
    with pytest.raises(TypeError, match="dtype should be a complex dtype"):   # PyTorch: RuntimeError, same words
        mg.linalg.vector_norm(z, dtype=mg.float64)
    # (the order 2 needed a complex SVD, refused then; it has one now: tests/minigrad/test_complex_linalg.py)
    np.testing.assert_allclose(mg.linalg.matrix_norm(z, 2).numpy(), 2, rtol=1e-6)


def test_var_and_std_of_complex_tensors_are_real(torch: Any) -> None:
    """The variance of complex values is the mean of |z - mean|² (real), as PyTorch's and NumPy's; it was the
    complex mean of (z - mean)². Their gradient is PyTorch's (more cases: tests/minigrad/test_complex_more.py)."""
    import minigrad as mg  # noqa: PLC0415

    rng = np.random.default_rng(7)
    z = (rng.standard_normal((3, 5)) + 1j * rng.standard_normal((3, 5))).astype(np.complex64)
    for call in (lambda t: t.var(), lambda t: t.std(dim=1), lambda t: t.var(0, unbiased=False),
                 lambda t: t.std(1, keepdim=True, correction=0)):
        ours, theirs = call(mg.from_numpy(z)).numpy(), call(torch.from_numpy(z)).numpy()
        assert ours.dtype == theirs.dtype == np.float32 and ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    np.testing.assert_allclose(mg.from_numpy(z).var(axis=0).numpy(), np.var(z, axis=0), rtol=1e-6)
    ours, theirs = mg.tensor(z, requires_grad=True), torch.from_numpy(z).requires_grad_(True)
    (ours.var() + ours.std(1).sum()).backward()
    (theirs.var() + theirs.std(1).sum()).backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-5, atol=1e-6)
