"""``mg.accelerator``: the device-neutral spelling today's PyTorch tutorials use to pick a device."""

from __future__ import annotations

from typing import Any

import pytest

import minigrad as mg


def test_tutorial_device_line_picks_the_cpu_without_a_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mg.cuda, "is_available", lambda: False)
    device = mg.accelerator.current_accelerator().type if mg.accelerator.is_available() else "cpu"
    assert device == "cpu"
    assert mg.accelerator.current_accelerator() is None
    assert mg.accelerator.current_accelerator(check_available=True) is None
    assert mg.accelerator.device_count() == 0
    for call in (mg.accelerator.current_device_index, mg.accelerator.synchronize, mg.accelerator.empty_cache,
                 mg.accelerator.memory_allocated, mg.accelerator.memory_reserved):
        with pytest.raises(RuntimeError, match="none is available"):
            call()


def test_as_torch_on_a_cpu_only_machine(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    if torch.accelerator.is_available():
        pytest.skip("torch sees an accelerator here; the comparison is for CPU-only machines")
    monkeypatch.setattr(mg.cuda, "is_available", lambda: False)
    assert mg.accelerator.is_available() is torch.accelerator.is_available()
    assert mg.accelerator.current_accelerator() is torch.accelerator.current_accelerator()
    assert mg.accelerator.device_count() == torch.accelerator.device_count()
    with pytest.raises(RuntimeError) as theirs:
        torch.accelerator.synchronize()
    with pytest.raises(RuntimeError) as ours:
        mg.accelerator.synchronize()
    assert str(ours.value) == str(theirs.value)


@pytest.mark.gpu
def test_the_gpu_is_the_accelerator() -> None:
    assert mg.accelerator.is_available()
    device = mg.accelerator.current_accelerator()
    assert device.type == "cuda"
    assert mg.accelerator.device_count() >= 1
    assert mg.accelerator.current_device_index() == mg.cuda.current_device()
    x = mg.ones(3, device=mg.accelerator.current_accelerator())
    mg.accelerator.synchronize()
    assert x.device.type == "cuda"
