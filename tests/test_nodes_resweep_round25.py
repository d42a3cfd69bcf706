"""Round 25 resweep of the ops rewritten as one autograd node (layer_norm, group_norm, the ELUs, leaky_relu,
softplus, logsigmoid, glu and the losses), each against torch 2.13: what the differential fuzz found.

- layer_norm's node keeps its bias, as PyTorch's NativeLayerNormBackward0 does: a bias changed in place between
  the forward and the backward is refused at backward (it was not).
- group_norm's create_graph rule of an empty input (N = 0 or a 0 in the spatial dims) reshaped with -1 and raised
  where torch gives empty and zero gradients; layer_norm and group_norm of empty slices warned NumPy's "Mean of
  empty slice" (PyTorch is quiet).
"""

from __future__ import annotations

import warnings

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


@pytest.mark.parametrize("shape", [(0, 6, 2), (2, 6, 0), (0, 6)])
def test_group_norm_empty_input_second_derivative_as_torch(shape: tuple) -> None:
    results = []
    for lib, F in ((mg, MF), (torch, TF)):
        x = lib.zeros(*shape, dtype=lib.float64).requires_grad_()
        w = lib.tensor(np.arange(1.0, 7.0)).requires_grad_()
        b = lib.tensor(np.arange(6.0)).requires_grad_()
        with warnings.catch_warnings():
            warnings.simplefilter("error")   # no NumPy "Mean of empty slice"
            y = F.group_norm(x, 3, w, b)
            grads = lib.autograd.grad(y, (x, w, b), lib.ones(*shape, dtype=lib.float64), create_graph=True)
            again = lib.autograd.grad(sum((g * g).sum() for g in grads), (x, w, b), allow_unused=True)
        results.append([np.asarray(g.detach().numpy()) if g is not None else None for g in grads + again])
    for ours, theirs in zip(*results):
        if shape[-1] == 0 and theirs is not None and np.isnan(theirs).all():   # torch's weight gradients of an
            theirs = np.zeros_like(theirs)   # empty S: NaN (its kernel's NaN mean times an empty sum); ours Σ of none
        if ours is None or theirs is None:   # None or zeros, as the other
            assert not np.any(ours if theirs is None else theirs)
            continue
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)


def test_layer_norm_empty_slices_quiet() -> None:
    x = mg.zeros(2, 3, 0, dtype=mg.float64).requires_grad_()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = MF.layer_norm(x, (0,))
        y.sum().backward()
    assert y.shape == (2, 3, 0) and x.grad.shape == (2, 3, 0)
