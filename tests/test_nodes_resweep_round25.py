"""Round 25 resweep of the ops rewritten as one autograd node (layer_norm, group_norm, the ELUs, leaky_relu,
softplus, logsigmoid, glu and the losses), each against torch 2.13: what the differential fuzz found.

- layer_norm's node keeps its bias, as PyTorch's NativeLayerNormBackward0 does: a bias changed in place between
  the forward and the backward is refused at backward (it was not).
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn.functional as MF

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RNG = np.random.default_rng(2525)


@pytest.mark.parametrize("which", ["weight", "bias"])
def test_layer_norm_parameter_changed_in_place_refused_at_backward(which: str) -> None:
    arrays = [RNG.standard_normal(s) for s in ((3, 4), (4,), (4,))]
    outcomes = []
    for lib, F in ((mg, MF), (torch, TF)):
        x, w, b = (lib.tensor(a).requires_grad_() for a in arrays)
        w2, b2 = w * 1, b * 1
        y = F.layer_norm(x, (4,), w2, b2)
        with lib.no_grad():
            (w2 if which == "weight" else b2).add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()
        outcomes.append(True)
    assert outcomes == [True, True]
