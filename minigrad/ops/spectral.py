"""The short-time Fourier transform and its inverse: PyTorch's ``torch.stft`` and ``torch.istft``.

Both are written with existing differentiable ops, so gradients (to the signal and to the window) come
from those: ``stft`` pads the signal (``center``: ``n_fft // 2`` each side, ``pad_mode``), cuts it into frames
of ``n_fft`` samples ``hop_length`` apart (``unfold``), multiplies them by the window (``win_length`` samples,
zero-padded to ``n_fft`` in the middle; a rectangle when None), transforms each frame (one-sided ``rfft``
for a real input and window, ``fft`` otherwise; ``normalized``: ``norm="ortho"``) and puts frequency before
frames. ``istft`` inverts each frame (``ifft`` for ``return_complex``, else ``irfft`` of the first
``n_fft // 2 + 1`` bins, as PyTorch's, even of a two-sided spectrum), multiplies it by the window, overlap-adds the
frames (``index_add``) and divides by the overlap-added squared window (PyTorch's NOLA check refuses an
envelope below 1e-11), then crops the ``center`` padding or to ``length``.

Shapes: ``stft`` of (T,) or (B, T) → (N, frames) or (B, N, frames) complex, ``N = n_fft // 2 + 1`` one-sided
or ``n_fft``, ``frames = 1 + T // hop`` (``center``) or ``1 + (T - n_fft) // hop``; ``return_complex=False``:
``view_as_real``'s (…, 2) real layout. ``istft`` maps them back to (T,) or (B, T).
"""

from __future__ import annotations

from typing import Any

from .. import backend
from ..tensor import Tensor
from ._util import int_arg, tensor_arg
from .complex_ops import complex, imag, real, view_as_real  # noqa: A004
from .fft import ComplexFFT, ComplexToRealFFT, RealToComplexFFT
from .index_write import index_add
from .join import cat
from .select import index_select
from .shape import reshape, transpose

__all__ = ["stft", "istft"]

_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _sizes(name: str, n_fft: Any, hop_length: Any, win_length: Any) -> tuple[int, int, int]:
    n_fft = int_arg(n_fft, name, "n_fft")
    hop = n_fft // 4 if hop_length is None else int_arg(hop_length, name, "hop_length")
    win = n_fft if win_length is None else int_arg(win_length, name, "win_length")
    if n_fft <= 0:
        raise RuntimeError(f"{name}: expected 0 < n_fft, but got n_fft={n_fft}")
    if hop <= 0:
        raise RuntimeError(f"{name}: expected hop_length > 0, but got hop_length={hop}")
    if not 0 < win <= n_fft:
        raise RuntimeError(f"{name}: expected 0 < win_length <= n_fft, but got win_length={win}")
    return n_fft, hop, win


def _window(name: str, window: Any, n_fft: int, win: int, like: Tensor) -> Tensor:
    """The window (``win`` samples, default ones) zero-padded to ``n_fft`` in the middle: (n_fft,)."""
    if window is None:
        w = like.new_ones((win,)).real if like.dtype.kind == "c" else like.new_ones((win,))
    else:
        w = tensor_arg(window, name)
        if w.ndim != 1 or w.shape[0] != win:
            raise RuntimeError(f"{name}: expected a 1D window tensor of size equal to win_length={win}, "
                               f"but got window with size {tuple(w.shape)}")
    if win == n_fft:
        return w
    left = (n_fft - win) // 2
    zeros = w.new_zeros((left,)), w.new_zeros((n_fft - win - left,))
    return cat([zeros[0], w, zeros[1]])


def _by_parts(fn: Any, x: Tensor) -> Tensor:
    """``fn(x)`` for a real ``x``; of a complex one, ``fn`` of its real and imaginary parts put together (the
    framing and overlap-add ops carry real gradients only)."""
    return complex(fn(real(x)), fn(imag(x))) if x.dtype.kind == "c" else fn(x)


def _pad(x: Tensor, left: int, right: int, mode: str) -> Tensor:
    """``x`` padded along its last dim: ``left``/``right`` samples as ``F.pad``'s ``mode``."""
    t = x.shape[-1]
    if mode == "constant":
        return cat([x.new_zeros(x.shape[:-1] + (left,)), x, x.new_zeros(x.shape[:-1] + (right,))], -1)
    if mode == "reflect" and (left >= t or right >= t):
        raise RuntimeError(f"stft: padding size should be less than the corresponding input dimension, but got "
                           f"padding ({left}, {right}) at dimension -1 of input {tuple(x.shape)}")
    if mode == "circular" and (left > t or right > t):
        raise RuntimeError(f"stft: padding value causes wrapping around more than once (circular padding "
                           f"({left}, {right}) of an input of length {t})")
    np = backend.numpy
    index = np.arange(-left, t + right)
    if mode == "reflect":
        index = np.abs(index)
        index = np.where(index >= t, 2 * (t - 1) - index, index)
    elif mode == "replicate":
        index = np.clip(index, 0, t - 1)
    else:
        index = index % t
    return index_select(x, -1, index)


def stft(input: Tensor, n_fft: int, hop_length: int | None = None, win_length: int | None = None,  # noqa: A002
         window: Tensor | None = None, center: bool = True, pad_mode: str = "reflect", normalized: bool = False,
         onesided: bool | None = None, return_complex: bool | None = None,
         align_to_window: bool | None = None) -> Tensor:
    """The short-time Fourier transform (torch.stft): (T,) or (B, T) → complex (N, frames) or (B, N, frames),
    N = n_fft // 2 + 1 (one-sided) or n_fft, frames = 1 + T // hop (center) or 1 + (T - n_fft) // hop;
    ``return_complex=False``: real (…, N, frames, 2)."""
    x = tensor_arg(input, "stft")
    if center and align_to_window is not None:
        raise RuntimeError("stft align_to_window should only be set when center = false")
    if x.ndim not in (1, 2):
        raise RuntimeError(f"stft: expected a 1D or 2D tensor, but got shape {tuple(x.shape)}")
    if x.dtype.kind in "biu":
        raise RuntimeError(f"stft: expected a floating point or complex input, but got {x.dtype}")
    n_fft, hop, win = _sizes("stft", n_fft, hop_length, win_length)
    w = _window("stft", window, n_fft, win, x)
    complex_in = x.dtype.kind == "c" or w.dtype.kind == "c"
    if return_complex is None:
        if not complex_in:
            raise RuntimeError("stft requires the return_complex parameter be given for real inputs, and will "
                               "further require that return_complex=True in a future PyTorch release.")
        return_complex = True
    if onesided is None:
        onesided = not complex_in
    elif onesided and complex_in:
        raise RuntimeError("Cannot have onesided output if window or input is complex")
    if center:
        if pad_mode not in _PAD_MODES:
            raise NotImplementedError(f"stft: pad_mode {pad_mode!r} is not supported (expected one of {_PAD_MODES})")
        x = _by_parts(lambda part: _pad(part, n_fft // 2, n_fft // 2, pad_mode), x)
    elif align_to_window:   # frames start where their window starts: 1 + (T - win_length) // hop of them
        left = (n_fft - win) // 2
        x = _by_parts(lambda part: _pad(part, left, n_fft - win - left, "constant"), x)
    if x.shape[-1] < n_fft:
        raise RuntimeError(f"stft: expected 0 < n_fft <= {x.shape[-1]}, but got n_fft={n_fft}")
    frames = _by_parts(lambda part: part.unfold(-1, n_fft, hop), x) * w   # (…, frames, n_fft)
    norm = "ortho" if normalized else "backward"
    axis = frames.ndim - 1
    if onesided:
        spec = RealToComplexFFT((axis,), (n_fft,), norm, False)(frames)
    else:
        spec = ComplexFFT((axis,), (n_fft,), norm, False)(frames)
    spec = transpose(spec, -1, -2)   # (…, N, frames)
    return spec if return_complex else view_as_real(spec)


def istft(input: Tensor, n_fft: int, hop_length: int | None = None, win_length: int | None = None,  # noqa: A002
          window: Tensor | None = None, center: bool = True, normalized: bool = False, onesided: bool | None = None,
          length: int | None = None, return_complex: bool = False) -> Tensor:
    """The inverse of :func:`stft` (torch.istft): complex (N, frames) or (B, N, frames) → (T,) or (B, T),
    T = ``length`` or n_fft + hop (frames - 1), less n_fft // 2 at each end when ``center``."""
    x = tensor_arg(input, "istft")
    if x.dtype.kind != "c":
        raise RuntimeError("istft requires a complex-valued input tensor matching the output from stft with "
                           "return_complex=True.")
    if x.ndim not in (2, 3):
        raise RuntimeError(f"istft: expected a tensor with 2 or 3 dims (…, freq, frames), got shape {tuple(x.shape)}")
    n_fft, hop, win = _sizes("istft", n_fft, hop_length, win_length)
    w = _window("istft", window, n_fft, win, real(x))
    n_freq, n_frames = x.shape[-2], x.shape[-1]
    if onesided is None:
        onesided = n_freq != n_fft
    if onesided:
        if n_freq != n_fft // 2 + 1:
            raise RuntimeError(f"istft: expected the frequency dimension (3rd to the last) of the input tensor to "
                               f"match n_fft / 2 + 1 when onesided=True, but got {n_freq} (shape {tuple(x.shape)})")
        if return_complex:
            raise RuntimeError("istft: cannot have onesided output if the window or input is complex "
                               "(return_complex=True needs onesided=False)")
    elif n_freq != n_fft:
        raise RuntimeError(f"istft: expected the frequency dimension (3rd to the last) of the input tensor to match "
                           f"n_fft when onesided=False, but got {n_freq} (shape {tuple(x.shape)})")
    if not return_complex and w.dtype.kind == "c":
        raise RuntimeError("istft: complex windows require return_complex=True")
    if hop > win:
        raise RuntimeError(f"istft: expected 0 < hop_length <= win_length, but got hop_length={hop}, "
                           f"win_length={win}")
    norm = "ortho" if normalized else "backward"
    spec = transpose(x, -1, -2)   # (…, frames, N)
    axis = spec.ndim - 1
    if return_complex:
        frames = ComplexFFT((axis,), (n_fft,), norm, True)(spec)
    else:   # as PyTorch's: a real output reads the first n_fft // 2 + 1 bins only, even of a two-sided input
        frames = ComplexToRealFFT((axis,), (n_fft,), norm, False)(spec[..., :n_fft // 2 + 1])
    frames = frames * w   # (…, frames, n_fft)
    total = n_fft + hop * (n_frames - 1)
    np = backend.numpy
    index = (np.arange(n_frames)[:, None] * hop + np.arange(n_fft)).reshape(-1)
    batch = frames.shape[:-2]
    y = _by_parts(lambda part: index_add(part.new_zeros(batch + (total,)), -1, index,
                                         reshape(part, batch + (n_frames * n_fft,))), frames)
    square = w * w   # a complex window too (not |w|²): frames were multiplied by w twice, as PyTorch's
    envelope = index_add(square.new_zeros((total,)), 0, index, reshape(square.expand(n_frames, n_fft), (-1,)))
    start = n_fft // 2 if center else 0
    end = total if length is None and not center else (total - n_fft // 2 if length is None else start + length)
    end = min(end, total)
    y, envelope = y[..., start:end], envelope[start:end]
    if not envelope.shape[0]:
        raise RuntimeError(f"istft: the output would be empty (n_fft={n_fft}, hop_length={hop}, {n_frames} frames, "
                           f"center={center}, length={length}); PyTorch's istft refuses it too")
    smallest = float(envelope.abs().min().item())
    if smallest < 1e-11:
        raise RuntimeError(f"istft: window overlap add min: {smallest:g} < 1e-11 (the window fails the NOLA "
                           f"condition for n_fft={n_fft}, hop_length={hop}, win_length={win})")
    y = y / envelope
    if length is not None and y.shape[-1] < length:
        y = cat([y, y.new_zeros(batch + (length - y.shape[-1],))], -1)
    return y


METHODS = {"stft": stft, "istft": istft}
