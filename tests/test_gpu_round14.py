"""GPU paths that read device arrays back to the host once per call (found by fuzzing the strict CuPy stand-in
against the CPU): each program runs on ``cpu`` and on ``cuda``; the ``cuda`` run's Tensors live there, equal the
``cpu`` run's, and the run makes at most the host reads it needs (a real GPU: 0 counted, the checks still run).
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
from tests.helpers import device_tolerance

pytestmark = pytest.mark.gpu

RNG = np.random.default_rng(1414)


def _nn() -> Any:
    import nn  # noqa: PLC0415 - nn sits above minigrad

    return nn


def _host_copies() -> int:
    """Device-to-host copies so far (the stand-in counts them; a real GPU: 0)."""
    from minigrad import backend  # noqa: PLC0415

    copies = getattr(backend._cupy, "copies", None)
    return 0 if copies is None else copies["to_host"]


def _both(program: Callable[[str], list], host_copies: int) -> None:
    """``program(device)`` on cpu and cuda: the cuda Tensors are on cuda and equal the cpu ones, and the cuda run
    read at most ``host_copies`` arrays back to the host (the program's own reads of its results not counted)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        cpu = program("cpu")
        before = _host_copies()
        gpu = program("cuda")
        copied = _host_copies() - before
    assert copied <= host_copies, f"{copied} device-to-host copies (at most {host_copies})"
    assert len(cpu) == len(gpu)
    cpu_arrays = [c.detach().numpy() for c in cpu]
    rtol, atol = device_tolerance(1e-10, 1e-12, cpu_arrays)
    for k, (g, c) in enumerate(zip(gpu, cpu_arrays)):
        assert g.device.type == "cuda", f"item {k} on {g.device}"
        a = g.detach().cpu().numpy()
        assert a.dtype == c.dtype and a.shape == c.shape, f"item {k}: {a.dtype}{a.shape} vs {c.dtype}{c.shape}"
        np.testing.assert_allclose(a, c, rtol=rtol, atol=atol, err_msg=f"item {k}")


def test_max_pool_reads_nothing_back_without_padding() -> None:
    """The max pool picked each window's largest entry with a gather, whose range check (for a user's index)
    read the engine-made index's min and max back to the host: two reads per pool, four with padding."""
    x = RNG.standard_normal((2, 3, 6, 6))
    x[0, 0, :2, :2] = -np.inf   # a padded window of -inf picks its first input entry

    def program(device: str, padding: int) -> list:
        F = _nn().functional
        xt = mg.tensor(x, device=device, requires_grad=True)
        y, index = F.max_pool2d(xt, 3, stride=2, padding=padding, return_indices=True)
        g, = mg.autograd.grad(mg.where(mg.isinf(y), 0.0, y).sum(), [xt])
        return [y, index, g]

    _both(lambda device: program(device, 0), host_copies=0)
    _both(lambda device: program(device, 1), host_copies=1)   # the padded windows' pick: one checked gather


def test_gather_checks_its_index_with_one_host_read() -> None:
    """gather's range check read the index's min and max as two host reads; one (both together) suffices."""
    x = RNG.standard_normal((3, 4))
    index = np.array([[0, 3], [2, 2], [1, 0]])

    def program(device: str) -> list:
        xt = mg.tensor(x, device=device, requires_grad=True)
        y = xt.gather(1, mg.tensor(index, device=device))
        g, = mg.autograd.grad((y * y).sum(), [xt])
        return [y, g]

    _both(program, host_copies=1)
    with pytest.raises(IndexError, match="out of range"):
        mg.tensor(x, device="cuda").gather(1, mg.tensor(index + 2, device="cuda"))


def test_lbfgs_two_loop_stays_on_the_device() -> None:
    """L-BFGS's two-loop recursion read two dot products back to the host per stored pair and iteration (1,180
    reads in a 20-iteration step); its coefficients now stay on the device, with the same float64 numbers."""
    # float64: 40 quasi-Newton steps near the minimum magnify float32's last-place differences between the GPU's
    # reductions and NumPy's (5e-5 on an H200), where float64's stay far below the tolerance
    w0 = RNG.standard_normal((3, 4))
    target = RNG.standard_normal((3, 4))

    def program(device: str) -> list:
        w = _nn().Parameter(mg.tensor(w0, device=device))
        goal = mg.tensor(target, device=device)
        opt = _nn().optim.LBFGS([w], lr=0.5, max_iter=20, history_size=10)

        def closure() -> mg.Tensor:
            opt.zero_grad()
            loss = ((w - goal) ** 4).sum() + (w * w).sum()
            loss.backward()
            return loss

        for _ in range(2):
            opt.step(closure)
        return [w]

    # the convergence tests' reads, a handful per iteration as PyTorch's .item() calls (132 here), none per stored
    # pair (those made it 436)
    _both(program, host_copies=150)


def test_class_targets_checked_with_one_host_read() -> None:
    """cross_entropy / nll_loss / embedding read their targets' min and max back as two host reads (and masked
    the ignored ones out, a third on a GPU), and the mean over kept targets tested its denominator on the host:
    one read (min and max together) checks the targets now; all targets ignored still give NaN with zero
    gradients."""
    logits = RNG.standard_normal((4, 5))
    target = np.array([1, 4, 2, 1])
    weight = np.abs(RNG.standard_normal((6, 3)))

    def program(device: str) -> list:
        F = _nn().functional
        x = mg.tensor(logits, device=device, requires_grad=True)
        t = mg.tensor(target, device=device)
        w = mg.tensor(weight, device=device, requires_grad=True)
        out = [F.cross_entropy(x, t, ignore_index=1, label_smoothing=0.1), F.nll_loss(x, t, ignore_index=1),
               F.nll_loss(x, t * 0 + 1, ignore_index=1), F.embedding(t, w)]
        return out + list(mg.autograd.grad(sum(o.sum() for o in out[:2] + out[3:]), [x, w]))

    # per call: one for its targets' range; per loss, one more for the pick log_probs[rows, targets] (getitem
    # checks a device index's range: CuPy would wrap it, see test_device_index_out_of_range_raises)
    _both(program, host_copies=7)
    empty = program("cuda")[2]
    assert np.isnan(empty.item())
    with pytest.raises(IndexError, match="out of bounds|out of range"):
        _nn().functional.nll_loss(mg.tensor(logits, device="cuda"), mg.tensor(target + 1, device="cuda"))


def test_median_of_all_elements_reads_nothing_back() -> None:
    """median()'s backward counted the ties on the host, and nanmedian() tested for an all-NaN input on the host
    (the index it then took gives the first NaN anyway): both stay on the device now, as PyTorch's CUDA ops."""
    x = RNG.standard_normal((3, 4))
    x[0, :2] = x[1, 1]   # ties share the gradient
    x[2, 3] = np.nan

    def program(device: str) -> list:
        xt = mg.tensor(x, device=device, requires_grad=True)
        nan = mg.tensor(np.full((2, 2), np.nan), device=device, requires_grad=True)
        out = [mg.median(xt[:2]), mg.nanmedian(xt), mg.nanmedian(nan)]
        return out + list(mg.autograd.grad(out[0] + out[1] + out[2], [xt, nan]))

    _both(program, host_copies=0)


def test_binary_cross_entropy_checks_both_ranges_with_one_host_read() -> None:
    """binary_cross_entropy tested input and target in [0, 1] with a host read each; one read tests both."""
    p = 1 / (1 + np.exp(-RNG.standard_normal((3, 4))))
    y = RNG.random((3, 4))

    def program(device: str) -> list:
        x = mg.tensor(p, device=device, requires_grad=True)
        loss = _nn().functional.binary_cross_entropy(x, mg.tensor(y, device=device))
        return [loss, *mg.autograd.grad(loss, [x])]

    _both(program, host_copies=1)
    with pytest.raises(ValueError, match="target should be between 0 and 1"):
        _nn().functional.binary_cross_entropy(mg.tensor(p, device="cuda"), mg.tensor(y + 1, device="cuda"))


def test_histogram_ranges_read_min_and_max_together() -> None:
    """histc (whose range is found twice: for its errors and in the recorded op) and histogram read the data's
    min and max as two host reads each; one read each is left (PyTorch's CUDA histc reads them too)."""
    x = RNG.standard_normal((4, 5))

    def program(device: str) -> list:
        xt = mg.tensor(x, device=device)
        return [mg.histc(xt, bins=6), *mg.histogram(xt, bins=5)]

    _both(program, host_copies=3)


def test_device_index_out_of_range_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    """CuPy wraps an out-of-range integer index array around where NumPy raises (CuPy's documented difference:
    ``cupy.arange(3)[[1, 3]]`` is ``[1, 0]``), so ``x[idx]`` and ``x[idx] = v`` on a GPU returned or wrote the
    wrong elements silently. The stand-in raises as NumPy does; here it wraps as CuPy does, and the check (one
    host read for a device index, none for a host one) raises NumPy's IndexError, as on the CPU."""
    from minigrad import backend  # noqa: PLC0415

    cupy = backend._cupy
    if not getattr(cupy, "is_strict_stand_in", False):
        pytest.skip("a real GPU: CuPy itself wraps")
    stand_in = type(cupy.asarray(0))

    def wrapped(index: Any, size: int) -> Any:
        return index % size if isinstance(index, np.ndarray) and index.dtype.kind in "iu" else index

    def getitem(self: Any, index: Any) -> Any:   # CuPy's wrap-around, for a 1-D array's integer array index
        return stand_in(np.asarray(self._a[wrapped(index._a if isinstance(index, stand_in) else index, len(self._a))]))

    def setitem(self: Any, index: Any, value: Any) -> None:
        index = wrapped(index._a if isinstance(index, stand_in) else index, len(self._a))
        self._a[index] = value._a if isinstance(value, stand_in) else value

    monkeypatch.setattr(stand_in, "__getitem__", getitem)
    monkeypatch.setattr(stand_in, "__setitem__", setitem)
    x = mg.tensor([1.0, 2.0, 3.0], device="cuda")
    for index in (mg.tensor([1, 3], device="cuda"), [1, 3], np.array([-4])):
        with pytest.raises(IndexError, match="out of bounds for axis 0 with size 3"):
            x[index]
        with pytest.raises(IndexError, match="out of bounds for axis 0 with size 3"):
            x.clone()[index] = 7.0
    before = _host_copies()
    assert x[mg.tensor([2, -3], device="cuda")].tolist() == [3.0, 1.0]
    assert x[[2, 0]].tolist() == [3.0, 1.0]
    assert _host_copies() - before == 3   # the device index's check, and the two tolist() reads


def test_pad_modes_read_nothing_back() -> None:
    """F.pad's reflect/circular/replicate modes index with positions made on the host; moved to the device first,
    getitem's range check read them back once per padded dim. They index as NumPy arrays now: checked on the
    host, no read."""
    x = RNG.standard_normal((2, 3, 4, 5))

    def program(device: str) -> list:
        F = _nn().functional
        xt = mg.tensor(x, device=device, requires_grad=True)
        out = [F.pad(xt, (2, 1, 1, 3), mode=mode) for mode in ("reflect", "circular", "replicate")]
        out.append(F.pad(xt[0], (-1, 2), mode="circular"))   # one padded dim: a 2-D or 3-D input, as PyTorch
        return out + list(mg.autograd.grad(sum((o * o).sum() for o in out), [xt]))

    _both(program, host_copies=0)


def test_index_ops_check_their_index_with_one_host_read() -> None:
    """take, put and index_fill/add/copy checked their index's range with two host reads (min, then max); one
    (both together) suffices. take and put index with their (checked) index afterwards, and getitem / index_put
    check it again: a second read each."""
    x = RNG.standard_normal((3, 4))
    rows, flat = np.array([2, 0]), np.array([0, -1, 5])

    def program(device: str, name: str) -> list:
        xt = mg.tensor(x, device=device, requires_grad=True)
        i, j = mg.tensor(rows, device=device), mg.tensor(flat, device=device)
        src = mg.tensor(x[:2] * 2, device=device)
        out = {"take": lambda: mg.take(xt, j), "put": lambda: xt.put(j, src.reshape(-1)[:3]),
               "index_fill": lambda: xt.index_fill(0, i, 1.5), "index_add": lambda: xt.index_add(0, i, src),
               "index_copy": lambda: xt.index_copy(0, i, src)}[name]()
        return [out, *mg.autograd.grad((out * out).sum(), [xt])]

    for name, reads in (("take", 2), ("put", 2), ("index_fill", 1), ("index_add", 1), ("index_copy", 1)):
        _both(lambda device: program(device, name), host_copies=reads)   # noqa: B023 - run at once
    with pytest.raises(IndexError, match="out of range"):
        mg.take(mg.tensor(x, device="cuda"), mg.tensor(flat + 8, device="cuda"))
    with pytest.raises(IndexError, match="out of range"):
        mg.tensor(x, device="cuda").index_fill(0, mg.tensor(rows - 4, device="cuda"), 0.0)
