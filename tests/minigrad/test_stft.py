"""``mg.stft`` / ``mg.istft`` against ``torch.stft`` / ``torch.istft``: values, dtypes, shapes and float64 gradients
(through ``.abs()`` and ``view_as_real`` of the complex output) for 1-D and batched signals, several
``n_fft``/``hop_length``/``win_length``, hann and no window, ``center``, ``pad_mode``, ``normalized``,
``onesided``, complex input, ``return_complex=False``, ``align_to_window``; the round trip with ``length=``;
torch's errors; the GPU path on the strict CuPy stand-in.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pytest
from helpers import same_as_torch, same_on_gpu_as_on_cpu

import minigrad as mg

torch = pytest.importorskip("torch", reason="PyTorch is the reference for these tests")

RNG = np.random.default_rng(7)
SIGNAL = RNG.standard_normal((2, 19))
IMAG = RNG.standard_normal((2, 19))

STFT = [  # (kwargs, hann window)
    ({"n_fft": 8}, True),
    ({"n_fft": 8}, False),
    ({"n_fft": 6, "hop_length": 2, "win_length": 5, "normalized": True}, True),
    ({"n_fft": 7, "hop_length": 3, "center": False, "onesided": False}, False),
    ({"n_fft": 8, "hop_length": 3, "win_length": 6, "center": False, "align_to_window": True}, True),
    ({"n_fft": 6, "pad_mode": "constant"}, True),
    ({"n_fft": 6, "pad_mode": "replicate", "hop_length": 4}, False),
    ({"n_fft": 6, "pad_mode": "circular"}, True),
]


def _window(lib: Any, kwargs: dict, hann: bool) -> Any:
    if not hann:
        return None
    return lib.tensor(np.hanning(kwargs.get("win_length", kwargs["n_fft"]) + 1)[:-1])


def _stft(kwargs: dict, hann: bool, batched: bool, return_complex: bool = True) -> Callable:
    def run(lib: Any, x: Any, im: Any = None) -> tuple:
        x = x if batched else x[0]
        if im is not None:
            x = lib.complex(x, im if batched else im[0])
        y = lib.stft(x, window=_window(lib, kwargs, hann), return_complex=return_complex, **kwargs)
        return (y,) if not return_complex else (y.abs(), lib.view_as_real(y))
    return run


@pytest.mark.parametrize("batched", [False, True], ids=["1d", "batched"])
@pytest.mark.parametrize("i", range(len(STFT)))
def test_stft_same_as_torch(i: int, batched: bool) -> None:
    """Values, shapes, dtypes and float64 gradients (and mg.gradcheck) of the real-input transform."""
    kwargs, hann = STFT[i]
    same_as_torch(torch, _stft(kwargs, hann, batched), SIGNAL)


@pytest.mark.parametrize("i", [0, 3])
def test_stft_complex_input_and_real_layout(i: int) -> None:
    """A complex signal: two-sided by default; return_complex=False gives view_as_real's (…, 2) layout."""
    kwargs, hann = STFT[i]
    same_as_torch(torch, _stft(kwargs, hann, True), SIGNAL, IMAG)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)   # torch warns that return_complex=False is deprecated
        same_as_torch(torch, _stft(kwargs, hann, False, return_complex=False), SIGNAL, gradcheck=False)


def test_stft_float32_and_method() -> None:
    x = SIGNAL.astype("float32")
    ours = mg.tensor(x).stft(8, 2, window=mg.tensor(np.hanning(9)[:-1].astype("float32")), return_complex=True)
    theirs = torch.tensor(x).stft(8, 2, window=torch.hann_window(8), return_complex=True)
    assert ours.dtype == "complex64" and ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-5)


ISTFT = [  # (kwargs, hann window, length)
    ({"n_fft": 8}, True, None),
    ({"n_fft": 8, "hop_length": 3}, False, 23),
    ({"n_fft": 6, "hop_length": 2, "win_length": 5, "normalized": True}, True, 16),
    ({"n_fft": 7, "hop_length": 2, "center": False, "onesided": False}, False, None),
    ({"n_fft": 8, "hop_length": 2, "center": False}, False, 12),
]


def _istft(kwargs: dict, hann: bool, length: Any, batched: bool) -> Callable:
    def run(lib: Any, x: Any) -> Any:
        x = x if batched else x[0]
        spec = lib.stft(x, window=_window(lib, kwargs, hann), return_complex=True, **kwargs)
        return lib.istft(spec * 1.5, window=_window(lib, kwargs, hann), length=length, **kwargs)
    return run


@pytest.mark.parametrize("batched", [False, True], ids=["1d", "batched"])
@pytest.mark.parametrize("i", range(len(ISTFT)))
def test_istft_round_trip_same_as_torch(i: int, batched: bool) -> None:
    """istft(stft(x)): torch's values, shapes (``length`` crops or zero-pads) and gradients."""
    kwargs, hann, length = ISTFT[i]
    same_as_torch(torch, _istft(kwargs, hann, length, batched), SIGNAL)


def test_istft_two_sided_complex_and_window_gradient() -> None:
    """return_complex=True (two-sided, complex signal) and the gradient to a window that requires grad."""
    def run(lib: Any, re: Any, im: Any, w: Any) -> tuple:
        spec = lib.stft(lib.complex(re, im), 8, 2, window=w, return_complex=True)
        y = lib.istft(spec, 8, 2, window=w + 1, return_complex=True)
        return y.abs(), lib.view_as_real(y)
    same_as_torch(torch, run, SIGNAL, IMAG, np.hanning(9)[:-1] + 0.1)


@pytest.mark.parametrize(("call", "words"), [
    (lambda lib: lib.stft(lib.ones(20, dtype=lib.float64), 8), "return_complex parameter be given"),
    (lambda lib: lib.stft(lib.ones(20, dtype=lib.complex128), 8, onesided=True), "onesided output"),
    (lambda lib: lib.stft(lib.ones(20, dtype=lib.float64), 8, align_to_window=False, return_complex=True),
     "align_to_window"),
    (lambda lib: lib.istft(lib.ones(5, 9, dtype=lib.float64), 8), "complex-valued input"),
    (lambda lib: lib.istft(lib.ones(5, 9, dtype=lib.complex128), 8, onesided=False), "match n_fft"),
    (lambda lib: lib.istft(lib.ones(5, 9, dtype=lib.complex128), 8, window=lib.zeros(8, dtype=lib.float64)),
     "window overlap add min"),
])
def test_errors_as_torch(call: Callable, words: str) -> None:
    with pytest.raises(RuntimeError, match=words):
        call(torch)
    with pytest.raises(RuntimeError, match=words):
        call(mg)


@pytest.mark.gpu
def test_on_gpu() -> None:
    def run(lib: Any, x: Any) -> tuple:
        w = lib.tensor(np.hanning(9)[:-1], device=x.device)
        spec = lib.stft(x, 8, 3, window=w, return_complex=True)
        return spec.abs(), lib.istft(spec, 8, 3, window=w, length=18)
    same_on_gpu_as_on_cpu(run, [SIGNAL])
