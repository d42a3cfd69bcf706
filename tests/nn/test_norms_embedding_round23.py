"""Round 23: normalization and embedding layers over several training steps, compared with PyTorch 2.13
(weights copied, the same inputs, train()/eval() switches, attributes changed after construction)."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")


def _pair(name: str, *args: object, **kwargs: object) -> tuple:
    return getattr(nn, name)(*args, **kwargs, dtype=mg.float64), getattr(torch.nn, name)(*args, **kwargs,
                                                                                       dtype=torch.float64)


def _same_state(ours: nn.Module, theirs: object) -> None:
    mine, their_state = ours.state_dict(), theirs.state_dict()
    assert list(mine) == list(their_state)
    for key, value in their_state.items():
        np.testing.assert_allclose(mine[key].numpy(), value.numpy(), rtol=1e-10, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("name, shape", [("BatchNorm1d", (4, 3)), ("BatchNorm2d", (2, 3, 2, 2)),
                                         ("SyncBatchNorm", (2, 3, 2))])
def test_batch_norm_track_running_stats_switched_off_after_construction(name: str, shape: tuple) -> None:
    """PyTorch reads track_running_stats at each forward: switched off, training leaves the buffers alone and eval
    still normalises with them (they exist). minigrad moved them in training and used batch statistics in eval."""
    rng = np.random.default_rng(0)
    ours, theirs = _pair(name, 3)
    for step in range(3):
        x = rng.standard_normal(shape) * 2 + 1
        for module in (ours, theirs):
            module.train(step != 1)
            module.track_running_stats = step == 0
        out, expected = ours(mg.tensor(x)), theirs(torch.tensor(x))
        np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
        _same_state(ours, theirs)


@pytest.mark.parametrize("momentum", [None, 0.3])
def test_batch_norm_track_running_stats_switched_on_without_buffers(momentum: float | None) -> None:
    """Built with track_running_stats=False the buffers are None; switched on afterwards, PyTorch normalises with the
    batch's statistics and counts nothing (minigrad raised AttributeError on the None count)."""
    rng = np.random.default_rng(1)
    ours, theirs = _pair("BatchNorm1d", 3, momentum=momentum, track_running_stats=False)
    for step in range(2):
        x = rng.standard_normal((4, 3, 2))
        for module in (ours, theirs):
            module.track_running_stats = True
            module.train(step == 0)
        out, expected = ours(mg.tensor(x)), theirs(torch.tensor(x))
        np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
        _same_state(ours, theirs)
