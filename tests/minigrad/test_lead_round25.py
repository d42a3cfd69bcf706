"""Lead's pins for round 25: regressions the full suite caught after the helpers' commits."""

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name", ["addcdiv", "addcmul"])
@pytest.mark.parametrize("value", [-0.5, 2.0])
def test_addc_gradients_sum_back_when_only_the_input_broadcasts(name: str, value: float) -> None:
    """tensor1/tensor2 of shape () broadcast to (1,) by the input alone: their gradients have shape () (the one-op
    AddCDiv/AddCMul took gy's shape when tensor1 and tensor2 had one shape between them)."""
    ours = [mg.tensor(v, dtype=mg.float64, requires_grad=True) for v in ([1.5], 2.9, 1.2)]
    theirs = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in ([1.5], 2.9, 1.2)]
    getattr(mg, name)(*ours, value=value).backward(mg.tensor([0.45], dtype=mg.float64))
    getattr(torch, name)(*theirs, value=value).backward(torch.tensor([0.45], dtype=torch.float64))
    for o, t in zip(ours, theirs):
        assert o.grad.shape == tuple(t.grad.shape)
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-12)
