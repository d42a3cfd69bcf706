"""mg.fft, stft/istft, the signal windows and minigrad.utils.data against torch: the cases a differential fuzzer
found (round 14).

Each case runs the same call on torch and on minigrad and compares values, dtypes and shapes (never a hard-coded
outcome), or checks that minigrad raises the class torch raises."""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pytest
from helpers import same_on_gpu_as_on_cpu

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")

rng = np.random.default_rng(14)


def _np(t: Any) -> np.ndarray:
    return np.asarray(t.detach().resolve_conj().numpy() if isinstance(t, torch.Tensor) else t.numpy())


def _same(call: Callable, *arrays: np.ndarray, atol: float = 1e-9) -> None:
    """``call(lib, *tensors)`` gives the same dtype, shape and values on torch and minigrad."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = _np(call(torch, *[torch.tensor(a.copy()) for a in arrays]))
    ours = _np(call(mg, *[mg.tensor(a.copy()) for a in arrays]))
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, atol=atol, rtol=1e-7, equal_nan=True)


def _raises_as_torch(call: Callable, *arrays: np.ndarray) -> None:
    """``call`` raises on torch, and minigrad raises an instance of the same class."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as theirs:
            call(torch, *[torch.tensor(a.copy()) for a in arrays])
    with pytest.raises(theirs.type):
        call(mg, *[mg.tensor(a.copy()) for a in arrays])


# --- mg.fft -------------------------------------------------------------------------------------------------------

X23 = rng.standard_normal((2, 3))

FFT_ERRORS = [
    (lambda lib, x: lib.fft.fft(x, n=-1), X23),                     # n=-1 is no "keep the size" for one dim
    (lambda lib, x: lib.fft.irfft(x, n=-1, dim=0), X23),
    (lambda lib, x: lib.fft.fftn(x, dim=(0, -2)), X23),             # dims must be unique: RuntimeError
    (lambda lib, x: lib.fft.rfftn(x, dim=()), X23),                 # at least one dim: RuntimeError
    (lambda lib, x: lib.fft.hfft2(x, dim=()), X23),
    (lambda lib, x: lib.fft.ifftn(x, s=(2, 2, 2)), X23),            # more sizes than dims: RuntimeError
    (lambda lib, x: lib.fft.fft2(x, dim=None), X23),                # fft2's dim is a tuple: TypeError
    (lambda lib, x: lib.fft.irfft2(x, dim=None), X23),
    (lambda lib, x: lib.fft.fft(x), np.array(1.0)),                 # 0-d with a dim: IndexError
    (lambda lib, x: lib.fft.fftn(x, dim=0), np.array(1.0)),
    (lambda lib, x: lib.fft.fft2(x), np.array(1.0)),
    (lambda lib, x: lib.fft.rfftn(x), np.array(1.0)),               # 0-d, no dim: RuntimeError
    (lambda lib, x: lib.fft.fft2(x), np.ones(4, np.float16)),      # 2-dim: the dims are checked first (IndexError)
    (lambda lib, x: lib.fft.ihfft2(x), np.ones(4, np.complex64)),
    (lambda lib, x: lib.fft.rfft2(x), np.ones(4, np.complex64)),    # … but rfft2 checks real-ness first
    (lambda lib, x: lib.fft.fftshift(x, dim=0), np.array(1.0)),
    (lambda lib, x: lib.fft.fftfreq(5, dtype=lib.int64), X23),      # an integer dtype: RuntimeError
    (lambda lib, x: lib.fft.fftfreq(-1), X23),
]


@pytest.mark.parametrize("case", range(len(FFT_ERRORS)))
def test_fft_errors_match_torch(case: int) -> None:
    _raises_as_torch(*FFT_ERRORS[case])


FFT_VALUES = [
    (lambda lib, x: lib.fft.fftn(x), np.array(2.0)),                # 0-d: no dim to transform, the input as complex
    (lambda lib, x: lib.fft.ifftn(x, norm="ortho"), np.array(2.0, np.float32)),
    (lambda lib, x: lib.fft.fftn(x, s=(-1, 4)), X23),               # -1 in s keeps the size
    (lambda lib, x: lib.fft.fftfreq(0), X23),                       # empty
    (lambda lib, x: lib.fft.rfftfreq(0, dtype=lib.float64), X23),   # [nan]
    (lambda lib, x: lib.fft.fftfreq(4, d=0.0), X23),                # [nan, inf, -inf, -inf]
    (lambda lib, x: lib.fft.rfftfreq(5, d=-0.0), X23),
]


@pytest.mark.parametrize("case", range(len(FFT_VALUES)))
def test_fft_values_match_torch(case: int) -> None:
    _same(*FFT_VALUES[case])


def test_fft_random_calls_match_torch() -> None:
    """A seeded sample of transforms, sizes, dims and norms, values and gradients of a real loss."""
    names = [p + f + k for f in ("fft", "rfft", "hfft") for p in ("", "i") for k in ("", "2", "n")]
    local = np.random.default_rng(3)
    for _ in range(40):
        name = names[local.integers(len(names))]
        shape = tuple(int(v) for v in local.integers(2, 5, size=3))
        x = local.standard_normal(shape)
        if not name.startswith(("rfft", "ihfft")) and local.random() < 0.5:
            x = x + 1j * local.standard_normal(shape)
        kwargs: dict = {"norm": [None, "ortho", "forward"][local.integers(3)]}
        if name[-1] not in "2n" and local.random() < 0.5:
            kwargs["n"] = int(local.integers(1, 6))
        elif name.endswith("n") and local.random() < 0.5:
            kwargs["dim"], kwargs["s"] = (0, -1), (int(local.integers(1, 6)), -1)
        grads = []
        for lib in (torch, mg):
            t = lib.tensor(x.copy(), requires_grad=True)
            y = getattr(lib.fft, name)(t, **kwargs)
            weights = lib.tensor(np.cos(np.arange(int(np.prod(y.shape)))).reshape(tuple(y.shape)))
            (y.abs() * weights).sum().backward()
            grads.append((_np(y), _np(t.grad)))
        for theirs, ours in zip(*grads):
            assert ours.dtype == theirs.dtype and ours.shape == theirs.shape, (name, kwargs)
            np.testing.assert_allclose(ours, theirs, atol=1e-9, err_msg=f"{name} {kwargs}")


# --- stft / istft ---------------------------------------------------------------------------------------------------

SPEC = rng.standard_normal((6, 5)) + 1j * rng.standard_normal((6, 5))   # two-sided, not Hermitian


@pytest.mark.parametrize("kwargs", [{}, {"center": False, "hop_length": 2}, {"normalized": True, "length": 7}])
def test_istft_of_a_two_sided_spectrum_reads_the_first_half(kwargs: dict) -> None:
    # a real output (return_complex=False) is irfft of bins 0 … n_fft // 2, as torch's (it was real(ifft))
    _same(lambda lib, s: lib.istft(s, 6, onesided=False, **kwargs), SPEC)
    _same(lambda lib, s: lib.istft(s, 6, window=lib.hann_window(6, dtype=lib.float64) + 0.1, **kwargs), SPEC)


def test_istft_with_a_complex_window_divides_by_its_square() -> None:
    # the frames are multiplied by w twice (stft and istft): the envelope is Σ w², not Σ |w|², as torch's
    window = rng.uniform(0.2, 1.0, 6) + 0.3j
    _same(lambda lib, s, w: lib.istft(s, 6, 2, window=w, onesided=False, return_complex=True), SPEC, window)
    _same(lambda lib, s, w: lib.istft(s, 6, 2, window=w, center=False, return_complex=True), SPEC, window)


SPECTRAL_ERRORS = [
    (lambda lib, s: lib.istft(s, 6, hop_length=7), SPEC),                        # hop_length > win_length
    (lambda lib, s: lib.istft(s, 6, hop_length=4, win_length=3), SPEC),
    (lambda lib, s: lib.istft(s, 6, hop_length=2, length=0), SPEC),             # an empty output
    (lambda lib, s: lib.istft(s[:, :1], 6, hop_length=2, center=True), SPEC),
    (lambda lib, x: lib.stft(x, 8, 1, pad_mode="circular", return_complex=True), np.arange(3.0)),  # wraps twice
    (lambda lib, x: lib.hann_window(-1), X23),                                   # RuntimeError, not ValueError
    (lambda lib, x: lib.kaiser_window(4, dtype=lib.int64), X23),                 # RuntimeError, not TypeError
    (lambda lib, x: lib.bartlett_window(-1, dtype=lib.int64), X23),              # the dtype is checked first
]


@pytest.mark.parametrize("case", range(len(SPECTRAL_ERRORS)))
def test_spectral_errors_match_torch(case: int) -> None:
    _raises_as_torch(*SPECTRAL_ERRORS[case])


def test_stft_circular_padding_up_to_the_signal_length_works() -> None:
    _same(lambda lib, x: lib.stft(x, 8, 1, pad_mode="circular", return_complex=True), np.arange(4.0))


# --- minigrad.utils.data --------------------------------------------------------------------------------------------

def _plain(batch: Any) -> Any:
    """A batch as nested builtins: each tensor as (dtype name, shape, values), containers by type name."""
    if isinstance(batch, torch.Tensor):
        return str(batch.dtype).removeprefix("torch."), tuple(batch.shape), batch.tolist()
    if isinstance(batch, mg.Tensor):
        return str(batch.dtype), tuple(batch.shape), batch.tolist()
    if isinstance(batch, dict):
        return type(batch).__name__, {key: _plain(value) for key, value in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch).__name__, [_plain(value) for value in batch]
    return type(batch).__name__, batch


MIXED_BATCHES = [   # an array first, then what torch.as_tensor converts; a number first, then a 0-d array
    [np.array(0.0), False],
    [np.array(0.0), 1.5],
    [np.ones(2, np.float32), [1.5, 2.0]],
    [np.ones(2, np.int32), [1, 2]],
    [np.ones(2, np.float16), [1.0, 2.0]],
    [np.float32(0.5), np.array(1.0)],
    [0, np.array(1.0)],
    [True, np.array(1)],
    [0.5, np.array(1, np.int32)],
    [(np.ones(2), 1), ([3.0, 4.0], np.array(2))],
]


@pytest.mark.parametrize("case", range(len(MIXED_BATCHES)))
def test_default_collate_of_mixed_samples_matches_torch(case: int) -> None:
    batch = MIXED_BATCHES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # torch: "a tensor from a list of numpy.ndarrays is extremely slow"
        theirs = _plain(torch.utils.data.default_collate(batch))
    assert _plain(mg.utils.data.default_collate(batch)) == theirs


@pytest.mark.parametrize("other", [None, "ab"])
def test_default_collate_refuses_what_torch_cannot_convert(other: Any) -> None:
    with pytest.raises(Exception) as theirs:
        torch.utils.data.default_collate([np.ones(2), other])
    with pytest.raises(theirs.type, match="mixes arrays and"):
        mg.utils.data.default_collate([np.ones(2), other])


def test_default_collate_of_a_tensor_after_an_array() -> None:
    theirs = torch.utils.data.default_collate([np.ones(2), torch.zeros(2)])
    ours = mg.utils.data.default_collate([np.ones(2), mg.zeros(2)])
    assert _plain(ours) == _plain(theirs)


DATA_ERRORS = [
    lambda data, lib: len(data.TensorDataset()),                              # IndexError (tensors[0])
    lambda data, lib: data.TensorDataset(lib.tensor(1.0), lib.ones(1)),       # a 0-d tensor: IndexError
    lambda data, lib: data.random_split(range(10), [2.5, 7.5]),               # float counts: TypeError
    lambda data, lib: data.random_split(range(10), [5.0, 5.0]),
    lambda data, lib: data.TensorDataset(lib.ones(3), lib.ones(4)),           # AssertionError
    lambda data, lib: data.DataLoader(range(3), batch_size=None, drop_last=True),
    lambda data, lib: data.DataLoader(range(3), sampler=[0], batch_sampler=[[0]]),
    lambda data, lib: data.DataLoader(range(3), shuffle=True, sampler=[0]),
]


@pytest.mark.parametrize("case", range(len(DATA_ERRORS)))
def test_data_errors_match_torch(case: int) -> None:
    with pytest.raises(Exception) as theirs:
        DATA_ERRORS[case](torch.utils.data, torch)
    with pytest.raises(theirs.type):
        DATA_ERRORS[case](mg.utils.data, mg)


def test_data_loaders_match_torch() -> None:
    """A sample of map-style and iterable loaders: len() and every batch (values, dtypes, containers); shuffled
    loaders give a permutation (minigrad does not promise torch's order for a seed)."""
    x, y = np.arange(20.0).reshape(10, 2), np.arange(10)

    def rows(data: Any) -> Any:
        class Rows(data.Dataset):
            def __len__(self) -> int:
                return 7

            def __getitem__(self, i: int) -> dict:
                if not 0 <= i < 7:
                    raise IndexError(i)
                return {"i": i, "f": float(i), "a": np.full(2, i, np.float32), "s": f"r{i}"}
        return Rows()

    def stream(data: Any) -> Any:
        class Stream(data.IterableDataset):
            def __iter__(self) -> Any:
                info = data.get_worker_info()
                return iter(range(7) if info is None else range(info.id, 7, info.num_workers))
        return Stream()

    def passes(data: Any, lib: Any) -> list:
        tensors = data.TensorDataset(lib.tensor(x), lib.tensor(y))
        out = []
        for batch_size, drop_last in ((1, False), (3, False), (3, True), (None, False)):
            for dataset in (tensors, rows(data), data.ConcatDataset([tensors, data.Subset(tensors, [4, 1])])):
                loader = data.DataLoader(dataset, batch_size=batch_size, drop_last=drop_last)
                out.append((len(loader), [_plain(b) for b in loader]))
            for workers in (0, 2):
                loader = data.DataLoader(stream(data), batch_size=batch_size, drop_last=drop_last,
                                         num_workers=workers)
                out.append([_plain(b) for b in loader])
        sampler = data.BatchSampler(data.SequentialSampler(range(7)), 3, False)
        out.append(_plain(list(data.DataLoader(rows(data), batch_sampler=sampler))))
        return out

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = passes(torch.utils.data, torch)
    assert passes(mg.utils.data, mg) == theirs
    loader = mg.utils.data.DataLoader(mg.utils.data.TensorDataset(mg.tensor(y)), batch_size=3, shuffle=True,
                                      generator=mg.Generator().manual_seed(0))
    assert sorted(int(v) for (batch,) in loader for v in batch.tolist()) == list(range(10))



@pytest.mark.gpu
@pytest.mark.parametrize("case", ["istft_two_sided", "istft_complex_window", "fftn_0d"])
def test_fixed_spectral_paths_same_on_gpu_as_on_cpu(case: str) -> None:
    window = rng.uniform(0.2, 1.0, 6) + 0.3j
    cases = {
        "istft_two_sided": (lambda lib, s: lib.istft(s, 6, onesided=False), (SPEC,)),
        "istft_complex_window": (lambda lib, s, w: lib.istft(s, 6, 2, window=w, return_complex=True, onesided=False),
                                 (SPEC, window)),
        "fftn_0d": (lambda lib, x: lib.fft.fftn(x).abs(), (np.array(2.0),)),
    }
    same_on_gpu_as_on_cpu(*cases[case])


@pytest.mark.gpu
def test_fftfreq_and_mixed_collate_on_gpu() -> None:
    freqs = mg.fft.fftfreq(4, d=0.0, device="cuda")
    assert str(freqs.device).startswith("cuda")
    np.testing.assert_array_equal(freqs.numpy(), torch.fft.fftfreq(4, d=0.0).numpy())
    mg.set_default_device("cuda")
    try:
        batch = mg.utils.data.default_collate([np.ones(2, np.float32), [1.5, 2.0]])
    finally:
        mg.set_default_device("cpu")
    assert str(batch.device).startswith("cuda") and batch.dtype == np.float32
