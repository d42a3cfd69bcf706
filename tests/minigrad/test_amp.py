"""``mg.amp.GradScaler`` against ``torch.amp.GradScaler`` over training steps, and ``mg.autocast``."""

from __future__ import annotations

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn


def _train(lib, model, opt, scaler, poison: set[int], steps: int = 6) -> list:
    """Steps of a scaled loop; gradients of the steps in ``poison`` are made inf after unscaling."""
    scales = []
    x = lib.tensor(np.linspace(-1, 1, 12).reshape(6, 2))
    for step in range(steps):
        opt.zero_grad()
        loss = (model(x) ** 2).mean()
        scaler.scale(loss).backward()
        if step in poison:
            model.weight.grad.data[0, 0] = math.inf
        if step % 2:
            scaler.unscale_(opt)   # as before clipping
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
    return scales


def test_grad_scaler_steps_skips_and_rescales_as_pytorchs() -> None:
    torch = pytest.importorskip("torch", reason="the reference is torch.amp.GradScaler")
    reference = torch.nn.Linear(2, 1).double()
    ours = nn.Linear(2, 1, dtype=mg.float64)
    ours.load_state_dict({k: v.numpy() for k, v in reference.state_dict().items()})
    kw = {"init_scale": 8.0, "growth_interval": 2}
    want = _train(torch, reference, torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9),
                  torch.amp.GradScaler("cpu", **kw), {2, 3})
    got = _train(mg, ours, nn.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9),
                 mg.amp.GradScaler("cpu", **kw), {2, 3})
    assert got == want
    for name, value in reference.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[name].numpy(), value.numpy(), rtol=1e-12, atol=0)


def test_grad_scaler_state_dict_and_misuse() -> None:
    scaler = mg.amp.GradScaler("cpu", init_scale=4.0)
    assert scaler.state_dict() == {"scale": 4.0, "growth_factor": 2.0, "backoff_factor": 0.5,
                                   "growth_interval": 2000, "_growth_tracker": 0}
    other = mg.amp.GradScaler("cpu")
    other.load_state_dict(scaler.state_dict())
    assert other.get_scale() == 4.0
    model = nn.Linear(2, 1)
    opt = nn.optim.SGD(model.parameters(), lr=0.1)
    scaler.scale(model(mg.ones(1, 2)).sum()).backward()
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="unscale_\\(\\) has already been called"):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
        scaler.step(opt)
    with pytest.raises(TypeError, match="GradScaler.scale: outputs must be a Tensor"):
        scaler.scale("loss")


def test_a_cuda_scaler_without_a_gpu_disables_itself_as_pytorchs(monkeypatch) -> None:
    monkeypatch.setattr(mg.backend, "cuda_is_available", lambda: False)
    with pytest.warns(UserWarning, match="CUDA is not available. Disabling"):
        scaler = mg.cuda.amp.GradScaler()
    loss = mg.tensor(2.0, requires_grad=True)
    assert scaler.scale(loss) is loss and scaler.get_scale() == 1.0 and scaler.state_dict() == {}


def test_autocast_is_accepted_and_keeps_dtypes(monkeypatch: pytest.MonkeyPatch) -> None:
    x = mg.ones(2, 2)
    monkeypatch.setattr(mg.amp, "_warned_autocast", False)   # warned once per process: another file may have
    with pytest.warns(UserWarning, match="does not change op dtypes"), mg.autocast("cpu", dtype=mg.float16):
        assert (x @ x).dtype == mg.float32
    with mg.amp.autocast("cuda", enabled=False):
        pass

    @mg.autocast("cpu")
    def f(t: mg.Tensor) -> mg.Tensor:
        return t * 2
    assert f(x).dtype == mg.float32
    with pytest.raises(ValueError, match="device_type must be 'cpu' or 'cuda'"):
        mg.autocast("tpu")
