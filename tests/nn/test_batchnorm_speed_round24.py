"""Round 24: batch_norm's channels-last forward passes over x as lines of several positions' channels
(nn._normalization._channel_rows), and the running estimates and ``num_batches_tracked`` are written directly
(one write and one version step each, as copy_/add_ under no_grad) instead of through the in-place ops."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn
import nn._normalization as norm
import nn.functional as F  # noqa: N812

torch = pytest.importorskip("torch", reason="no torch")


def _run(lib: Any, functional: Any, a: np.ndarray, g: np.ndarray, channels_last: bool) -> tuple:
    """Training batch_norm with running estimates, weight and bias, forward and backward."""
    x = lib.tensor(a)
    if channels_last:
        x = x.to(memory_format=getattr(lib, "channels_last" if a.ndim == 4 else "channels_last_3d"))
    x.requires_grad_()
    channels = a.shape[1]
    rng = np.random.default_rng(1)
    weight = lib.tensor(rng.standard_normal(channels), dtype=x.dtype, requires_grad=True)
    bias = lib.tensor(rng.standard_normal(channels), dtype=x.dtype, requires_grad=True)
    running_mean = lib.tensor(rng.standard_normal(channels), dtype=x.dtype)
    running_var = lib.tensor(rng.random(channels) + 0.5, dtype=x.dtype)
    out = functional.batch_norm(x, running_mean, running_var, weight, bias, True, 0.2, 1e-5)
    out.backward(lib.tensor(g, dtype=x.dtype))
    return out, x.grad, weight.grad, bias.grad, running_mean, running_var


@pytest.mark.parametrize("shape", [(2, 16, 48, 48), (3, 8, 55, 57), (2, 8, 16, 16, 16)])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_channels_last_forward_as_torch(shape: tuple, dtype: str) -> None:
    """Sizes that take the lines path (N·∏S a multiple of 16, odd: lines of one position, 3-D): values, layout,
    gradients and running estimates as PyTorch's."""
    rng = np.random.default_rng(0)
    a, g = (rng.standard_normal(shape) * 3 + 2).astype(dtype), rng.standard_normal(shape).astype(dtype)
    ours, theirs = _run(mg, F, a, g, True), _run(torch, torch.nn.functional, a, g, True)
    assert norm._channel_rows(ours[0].data) is not None
    rtol, atol = (1e-10, 1e-12) if dtype == "float64" else (1e-4, 1e-5)
    for what, mine, reference in zip(("out", "x.grad", "weight.grad", "bias.grad", "running_mean", "running_var"),
                                     ours, theirs):
        np.testing.assert_allclose(mine.numpy(), reference.detach().numpy(), rtol=rtol, atol=atol, err_msg=what)
    itemsize = np.dtype(dtype).itemsize
    assert ours[0].data.strides == tuple(s * itemsize for s in theirs[0].stride())


def test_lines_of_several_positions() -> None:
    """(N·∏S / R, R·C) lines: R a power of two up to 512 / C dividing N·∏S; None for C order or small x."""
    x = np.zeros((8, 32, 16, 20)).transpose(0, 2, 3, 1).copy().transpose(0, 3, 1, 2)   # channels last
    assert norm._channel_rows(x).shape == (2560 // 16, 16 * 32)
    odd = np.zeros((3, 8, 55, 57)).transpose(0, 2, 3, 1).copy().transpose(0, 3, 1, 2)
    assert norm._channel_rows(odd).shape == (3 * 55 * 57, 8)
    assert norm._channel_rows(np.zeros((8, 32, 16, 20))) is None
    assert norm._channel_rows(x[:1, :, :2]) is None   # below CHANNEL_ROWS_FROM


@pytest.mark.parametrize("shape", [(4, 3, 5, 6), (2, 3, 2, 3, 4)])
def test_small_inputs_through_the_lines_path(monkeypatch: Any, shape: tuple) -> None:
    """The lines path on small channels-last inputs (its size floor lowered): as PyTorch's to 1e-10."""
    monkeypatch.setattr(norm, "CHANNEL_ROWS_FROM", 0)
    rng = np.random.default_rng(2)
    a, g = rng.standard_normal(shape) + 5, rng.standard_normal(shape)
    for mine, reference in zip(_run(mg, F, a, g, True), _run(torch, torch.nn.functional, a, g, True)):
        np.testing.assert_allclose(mine.numpy(), reference.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_running_estimates_are_written_without_the_in_place_ops(monkeypatch: Any) -> None:
    """A BatchNorm module's step writes running_mean, running_var and num_batches_tracked directly: each one write
    (version + 1, as copy_/add_), the values PyTorch's; Tensor.copy_ and add_ are not called."""
    def refused(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("an in-place op was called")

    ours, theirs = nn.BatchNorm2d(3, momentum=0.3).double(), torch.nn.BatchNorm2d(3, momentum=0.3).double()
    a = np.random.default_rng(3).standard_normal((4, 3, 2, 5))
    monkeypatch.setattr(mg.Tensor, "copy_", refused)
    monkeypatch.setattr(mg.Tensor, "add_", refused)
    for _ in range(2):
        ours(mg.tensor(a))
        theirs(torch.tensor(a))
    monkeypatch.undo()
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        np.testing.assert_allclose(getattr(ours, name).numpy(), getattr(theirs, name).numpy(), rtol=1e-12,
                                   err_msg=name)
        assert getattr(ours, name)._version == 2, name


def test_a_saved_running_estimate_still_sees_the_write() -> None:
    """An eval-mode batch_norm saves running_var; a training step's direct write moves its version, so that backward
    refuses the changed value, as with copy_ (PyTorch's kernel writes it unseen and reads the new value)."""
    x = mg.randn(4, 3, 2, 2, requires_grad=True)
    running_mean, running_var = mg.zeros(3), mg.ones(3)
    out = F.batch_norm(x, running_mean, running_var, training=False)
    F.batch_norm(x, running_mean, running_var, training=True)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def test_other_running_tensors_go_through_copy(monkeypatch: Any) -> None:
    """A Tensor subclass (a Parameter without grad) is written through copy_, so its own behaviour applies."""
    calls = []
    copy = mg.Tensor.copy_

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(type(self).__name__)
        return copy(self, *args, **kwargs)

    monkeypatch.setattr(mg.Tensor, "copy_", counted)
    running_mean = nn.Parameter(mg.zeros(3), requires_grad=False)
    running_var = mg.ones(3)
    F.batch_norm(mg.randn(4, 3, 5), running_mean, running_var, training=True, momentum=0.5)
    assert calls == ["Parameter"]
    assert running_mean._version == running_var._version == 1


def test_an_expanded_running_estimate_is_refused_as_copy_refuses_it() -> None:
    """Memory shared by elements (an expand-ed running_mean) goes to copy_, which refuses it naming the op (a direct
    write through the zero stride would store each channel's value in one place, the last one winning)."""
    with pytest.raises(RuntimeError, match="copy_: unsupported operation"):
        F.batch_norm(mg.randn(4, 3, 2), mg.zeros(1).expand(3), mg.ones(3), training=True)
