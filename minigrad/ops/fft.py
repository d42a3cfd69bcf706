"""Discrete Fourier transforms: the ops behind ``mg.fft``, with PyTorch's results, dtypes and gradients.

Three ops carry all the math, each over any set of dims and each differentiable:

* :class:`ComplexFFT` — complex to complex (``fft``, ``ifft``, ``fft2``, ``fftn`` …);
* :class:`RealToComplexFFT` — real to the one-sided half spectrum (``rfft*``, and ``ihfft`` conjugated);
* :class:`ComplexToRealFFT` — a one-sided half spectrum to real (``irfft*``, and ``hfft`` of the conjugate).

The values are NumPy's (CuPy's) ``xp.fft`` results: pocketfft on the CPU, as PyTorch's CPU FFT, in the
input's precision (float32 → complex64, float64 → complex128). ``n``/``s`` zero-pad or crop each
transformed dim first, as PyTorch's.

Gradients follow PyTorch's complex convention (``z.grad`` is ``dL/dz*``; see ``autograd.engine._complex_gate``):
each transform is linear, so the gradient is its adjoint. The adjoint of a transform with ``norm`` is the
transform in the other direction with the *dual* norm (``"backward"`` ↔ ``"forward"``, ``"ortho"`` stays), the
same scale factor. The one-sided transforms also fold Hermitian symmetry in, as PyTorch's
``fft_r2c_backward`` (zero-fill the missing half, complex adjoint, real part) and ``fft_c2r_backward``
(one-sided real transform, entries ``1 … n - n//2 - 1`` of the last dim doubled).
"""

from __future__ import annotations

from typing import Any

from ..autograd import Function

__all__ = ["ComplexFFT", "RealToComplexFFT", "ComplexToRealFFT", "resize", "DUAL_NORM"]

# The norm whose scale factor the transform in the other direction shares (the adjoint's norm).
DUAL_NORM = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


def refuse_float16(x: Any) -> None:
    """PyTorch's CPU FFT has no float16 kernel (its RuntimeError; ``mg.fft`` checks first, ``stft`` reaches the
    ops): NumPy's would widen float16 to complex64 silently."""
    if x.dtype == "float16":
        raise NotImplementedError(f"FFT (fft, stft): float16 input of shape {tuple(x.shape)} is not supported, as "
                                  "PyTorch's CPU FFT has no float16 kernel; cast it to float32 first")


def resize(xp: Any, x: Any, axes: tuple, sizes: tuple) -> Any:
    """``x`` cropped or zero-padded at the end of each of ``axes`` to ``sizes`` (PyTorch's ``n``/``s``)."""
    if all(x.shape[a] == n for a, n in zip(axes, sizes)):
        return x
    crop = [slice(None)] * x.ndim
    for a, n in zip(axes, sizes):
        crop[a] = slice(0, min(n, x.shape[a]))
    x = x[tuple(crop)]
    if all(x.shape[a] == n for a, n in zip(axes, sizes)):
        return x
    shape = list(x.shape)
    for a, n in zip(axes, sizes):
        shape[a] = n
    out = xp.zeros(tuple(shape), dtype=x.dtype)
    out[tuple(slice(0, s) for s in x.shape)] = x
    return out


class ComplexFFT(Function):
    """``fftn`` (``inverse``: ``ifftn``) over ``axes`` after resizing them to ``sizes``: x (...) → complex (...).

    The gradient is the adjoint: the transform in the other direction with the dual norm, resized back.
    A real ``x`` gets the real part (the engine takes it).
    """

    name = "fft_c2c"
    complex_grad = True   # backward gives PyTorch's gradient: see autograd.engine._complex_gate

    def __init__(self, axes: tuple, sizes: tuple, norm: str, inverse: bool) -> None:
        self.axes, self.sizes, self.norm, self.inverse = axes, sizes, norm, inverse

    def forward(self, x: Any) -> Any:
        refuse_float16(x)
        self.in_shape = x.shape
        transform = self.xp.fft.ifftn if self.inverse else self.xp.fft.fftn
        return transform(resize(self.xp, x, self.axes, self.sizes), axes=self.axes, norm=self.norm)

    def backward(self, gy: Any) -> Any:
        adjoint = self.xp.fft.fftn if self.inverse else self.xp.fft.ifftn
        gx = adjoint(gy, axes=self.axes, norm=DUAL_NORM[self.norm])
        return resize(self.xp, gx, self.axes, tuple(self.in_shape[a] for a in self.axes))


class RealToComplexFFT(Function):
    """``rfftn`` over ``axes`` (the last one halved to ``n // 2 + 1``) after resizing them to ``sizes``;
    ``conjugate``: the conjugate of that (``ihfft`` is ``conj(rfft)`` with the dual norm). x real (...) →
    complex (..., n // 2 + 1, ...).

    The gradient (PyTorch's ``fft_r2c_backward``): the half spectrum zero-filled to ``n``, the complex
    adjoint (``ifftn`` with the dual norm), its real part, resized back.
    """

    name = "fft_r2c"
    complex_grad = True   # backward gives PyTorch's gradient: see autograd.engine._complex_gate

    def __init__(self, axes: tuple, sizes: tuple, norm: str, conjugate: bool) -> None:
        self.axes, self.sizes, self.norm, self.conjugate = axes, sizes, norm, conjugate

    def forward(self, x: Any) -> Any:
        refuse_float16(x)
        self.in_shape = x.shape
        y = self.xp.fft.rfftn(resize(self.xp, x, self.axes, self.sizes), axes=self.axes, norm=self.norm)
        return y.conj() if self.conjugate else y

    def backward(self, gy: Any) -> Any:
        xp = self.xp
        if self.conjugate:
            gy = gy.conj()
        full = resize(xp, gy, self.axes[-1:], self.sizes[-1:])   # the missing half gets no gradient
        gx = xp.fft.ifftn(full, axes=self.axes, norm=DUAL_NORM[self.norm]).real
        return resize(xp, gx, self.axes, tuple(self.in_shape[a] for a in self.axes))


class ComplexToRealFFT(Function):
    """``irfftn`` over ``axes`` to real sizes ``sizes`` (the last axis of the input, a one-sided half spectrum,
    cropped or padded to ``sizes[-1] // 2 + 1``, the others to ``sizes``); ``conjugate``: of ``conj(x)``
    (``hfft`` is ``irfft`` of the conjugate with the dual norm). x complex (...) → real (..., n, ...).

    The gradient (PyTorch's ``fft_c2r_backward``): the one-sided ``rfftn`` with the dual norm, with the
    entries whose mirror image lies outside the half spectrum (``1 … n - n//2 - 1`` of the last axis) doubled,
    resized back. A real ``x`` gets the real part.
    """

    name = "fft_c2r"
    complex_grad = True   # backward gives PyTorch's gradient: see autograd.engine._complex_gate

    def __init__(self, axes: tuple, sizes: tuple, norm: str, conjugate: bool) -> None:
        self.axes, self.sizes, self.norm, self.conjugate = axes, sizes, norm, conjugate

    def forward(self, x: Any) -> Any:
        self.in_shape, self.real_input = x.shape, x.dtype.kind != "c"
        half = self.sizes[:-1] + (self.sizes[-1] // 2 + 1,)
        x = resize(self.xp, x, self.axes, half)
        return self.xp.fft.irfftn(x.conj() if self.conjugate else x, s=self.sizes, axes=self.axes, norm=self.norm)

    def backward(self, gy: Any) -> Any:
        xp = self.xp
        gx = xp.fft.rfftn(gy, axes=self.axes, norm=DUAL_NORM[self.norm])
        doubled = self.sizes[-1] - gx.shape[self.axes[-1]]
        if doubled > 0:
            index = [slice(None)] * gx.ndim
            index[self.axes[-1]] = slice(1, 1 + doubled)
            gx[tuple(index)] *= 2
        if self.conjugate:
            gx = gx.conj()
        gx = resize(xp, gx, self.axes, tuple(self.in_shape[a] for a in self.axes))
        return gx.real if self.real_input else gx
