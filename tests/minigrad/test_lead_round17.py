"""Round 17, found by the lead while integrating: an int device is a CUDA index, as PyTorch's ``torch.device(0)``."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg


def test_an_int_device_is_a_cuda_index() -> None:
    assert mg.device(0) == "cuda:0" and mg.device(np.int64(2)) == "cuda:2"
    assert mg.device(0).type == "cuda" and mg.device(3).index == 3
    with pytest.raises(RuntimeError, match="must not be negative"):
        mg.device(-1)
    with pytest.raises(TypeError):   # a bool is no device index (torch: TypeError)
        mg.device(True)


@pytest.mark.gpu
def test_tensors_made_with_an_int_device_live_on_that_gpu() -> None:
    x = mg.zeros(2, 3, device=0)
    assert x.device == "cuda:0" and x.to(0).device == "cuda:0" and mg.tensor([1.0], device=0).device == "cuda:0"
