"""Round 24: ``mg.autograd.functional`` and ``mg.func`` over modules against PyTorch 2.13 (float64).

Where PyTorch 2.13 itself is wrong the reference is another of its spellings that agrees with finite
differences: ``torch.func.jacfwd(jacfwd(f))`` of layer_norm, instance_norm and batch_norm in training is off
(forward-over-forward), so the Hessians here are compared with ``torch.func.jacrev(jacrev(f))``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
import minigrad.func as mf
import nn

torch = pytest.importorskip("torch")
tf = torch.func

RNG = np.random.default_rng(24)


def _np(t: Any) -> np.ndarray:
    return t.detach().numpy() if isinstance(t, mg.Tensor) else t.detach().numpy(force=True)


NORMS = {
    "layer_norm": lambda F, x: F.layer_norm(x, (3,)),
    "group_norm": lambda F, x: F.group_norm(x, 2),
    "instance_norm": lambda F, x: F.instance_norm(x),
    "batch_norm_train": lambda F, x: F.batch_norm(x, None, None, training=True),
}


@pytest.mark.parametrize("name", NORMS)
def test_forward_over_forward_hessian_of_normalisation(name: str) -> None:
    """jacfwd(jacfwd(f)) through the normalisations: their mean for the running statistics was computed under
    no_grad from a tensor carrying tangents, so forward-over-forward refused with NotImplementedError."""
    x, weights = RNG.standard_normal((2, 4, 3)), RNG.standard_normal((2, 4, 3))
    norm = NORMS[name]

    def f_mg(x: mg.Tensor) -> mg.Tensor:
        return (norm(nn.functional, x) * mg.tensor(weights)).tanh().sum()

    def f_torch(x: Any) -> Any:
        return (norm(torch.nn.functional, x) * torch.tensor(weights)).tanh().sum()

    expected = _np(tf.jacrev(tf.jacrev(f_torch))(torch.tensor(x)))
    np.testing.assert_allclose(_np(mf.jacfwd(mf.jacfwd(f_mg))(mg.tensor(x))), expected, rtol=1e-9, atol=1e-11)
