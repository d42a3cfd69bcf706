"""Round 23: parametrizations, pruning and weight-reshaping utilities over training against torch 2.13.

A structured prune of an already-pruned tensor with a ``dim`` past its last dim raised NumPy's ValueError
("Calling nonzero on 0d arrays") from the PruningContainer; PyTorch raises an IndexError. The other tests pin
combinations the round's differential fuzz found equal to PyTorch (stacked parametrizations, weight_norm +
pruning + spectral_norm on one layer trained with Adam under train/eval switches, optimizers made before the
registration), so that they stay so.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from helpers import assert_close

import minigrad as mg
import nn
from nn.utils import parametrizations as PZ
from nn.utils import parametrize as P
from nn.utils import prune

pytestmark = pytest.mark.usefixtures("torch_optim_loaded")   # torch.optim's first step: outside the timings


def _np(x: Any) -> np.ndarray:
    return np.asarray(x.detach().numpy())


def _copy(mm: nn.Module, tm: Any) -> None:
    mm.load_state_dict({k: mg.tensor(_np(v)) for k, v in tm.state_dict().items()})


# --- the fix: structured re-pruning with a dim out of range ---

@pytest.mark.parametrize("method", ["ln", "random"])
@pytest.mark.parametrize("dim", [2, 5])
def test_structured_repruning_dim_out_of_range_is_index_error(method: str, dim: int) -> None:
    layer = nn.Linear(3, 2)
    prune.l1_unstructured(layer, "weight", 1)
    mask = layer.weight_mask.numpy().copy()
    with pytest.raises(IndexError, match="out of range"):
        if method == "ln":
            prune.ln_structured(layer, "weight", 0.5, n=2, dim=dim)
        else:
            prune.random_structured(layer, "weight", 0.5, dim=dim)
    # the earlier pruning is left in place and still applied
    np.testing.assert_array_equal(layer.weight_mask.numpy(), mask)
    y = layer(mg.ones((1, 3), dtype=layer.weight_orig.dtype))
    expected = (layer.weight_orig.numpy() * mask).sum(axis=1) + layer.bias.numpy()
    np.testing.assert_allclose(y.numpy()[0], expected, rtol=1e-6)


def test_structured_repruning_dim_out_of_range_as_torch(torch: Any) -> None:
    import torch.nn.utils.prune as tp
    layer = torch.nn.Linear(3, 2)
    tp.l1_unstructured(layer, "weight", 1)
    with pytest.raises(IndexError):
        tp.ln_structured(layer, "weight", 0.5, n=2, dim=2)


# --- combinations, against torch ---

def _train(torch: Any, tm: Any, mm: nn.Module, steps: int, seed: int, opt: str = "adam") -> None:
    rng = np.random.default_rng(seed)
    if opt == "adam":
        ot, om = torch.optim.Adam(tm.parameters(), lr=0.01), nn.optim.Adam(mm.parameters(), lr=0.01)
    else:
        ot = torch.optim.SGD(tm.parameters(), lr=0.05, momentum=0.9)
        om = nn.optim.SGD(mm.parameters(), lr=0.05, momentum=0.9)
    for step in range(steps):
        training = step % 3 != 2
        tm.train(training)
        mm.train(training)
        x = rng.standard_normal((3, 4))
        yt = tm(torch.tensor(x))
        ym = mm(mg.tensor(x))
        assert_close(ym.numpy(), _np(yt), rtol=1e-9, atol=1e-11, what=f"step {step} output")
        r = rng.standard_normal(tuple(yt.shape))
        ot.zero_grad()
        om.zero_grad()
        (yt * torch.tensor(r)).sum().backward()
        (ym * mg.tensor(r)).sum().backward()
        for (name, pt), (name_m, pm) in zip(tm.named_parameters(), mm.named_parameters()):
            assert name == name_m
            assert_close(pm.grad.numpy(), _np(pt.grad), rtol=1e-8, atol=1e-11, what=f"step {step} grad {name}")
        ot.step()
        om.step()
        st, sm = tm.state_dict(), mm.state_dict()
        assert list(st) == list(sm)
        for key in st:
            assert_close(_np(sm[key]), _np(st[key]), rtol=1e-8, atol=1e-11, what=f"step {step} {key}")
    assert repr(tm) == repr(mm)


def test_stacked_parametrizations_with_prune_and_spectral_norm_train_as_torch(torch: Any) -> None:
    import torch.nn.utils.prune as tp
    torch.manual_seed(0)
    tm = torch.nn.Linear(4, 3, dtype=torch.float64)
    mm = nn.Linear(4, 3, dtype=mg.float64)
    _copy(mm, tm)
    torch.nn.utils.parametrizations.weight_norm(tm, dim=1)
    PZ.weight_norm(mm, dim=1)
    tp.l1_unstructured(tm, "bias", 1)
    prune.l1_unstructured(mm, "bias", 1)
    torch.nn.utils.parametrizations.spectral_norm(tm, n_power_iterations=2)   # chained on weight_norm
    PZ.spectral_norm(mm, n_power_iterations=2)
    _copy(mm, tm)   # the power iteration's random u, v
    _train(torch, tm, mm, 5, seed=1)
    torch.nn.utils.parametrize.remove_parametrizations(tm, "weight", leave_parametrized=True)
    P.remove_parametrizations(mm, "weight", leave_parametrized=True)
    tp.remove(tm, "bias")
    prune.remove(mm, "bias")
    assert type(mm) is nn.Linear
    _train(torch, tm, mm, 2, seed=2, opt="sgd")


def test_optimizer_made_before_legacy_spectral_norm_and_prune_keeps_training(torch: Any) -> None:
    import torch.nn.utils.prune as tp
    torch.manual_seed(1)
    tm = torch.nn.Linear(4, 2, dtype=torch.float64)
    mm = nn.Linear(4, 2, dtype=mg.float64)
    _copy(mm, tm)
    ot = torch.optim.SGD(tm.parameters(), lr=0.1, momentum=0.5)
    om = nn.optim.SGD(mm.parameters(), lr=0.1, momentum=0.5)
    torch.nn.utils.spectral_norm(tm)
    nn.utils.spectral_norm(mm)
    tp.l1_unstructured(tm, "bias", 1)
    prune.l1_unstructured(mm, "bias", 1)
    _copy(mm, tm)
    rng = np.random.default_rng(3)
    for _ in range(3):
        x = rng.standard_normal((2, 4))
        yt, ym = tm(torch.tensor(x)), mm(mg.tensor(x))
        assert_close(ym.numpy(), _np(yt), rtol=1e-9, atol=1e-12)
        ot.zero_grad()
        om.zero_grad()
        yt.pow(2).sum().backward()
        ym.pow(2).sum().backward()
        ot.step()
        om.step()
        for key, value in tm.state_dict().items():
            assert_close(_np(mm.state_dict()[key]), _np(value), rtol=1e-9, atol=1e-12, what=key)


def test_split_parametrization_of_a_frozen_weight_removed_as_torch(torch: Any) -> None:
    class SplitT(torch.nn.Module):
        def forward(self, a: Any, b: Any) -> Any:
            return a + b

        def right_inverse(self, w: Any) -> tuple:
            return w * 0.25, w * 0.75

    class Split(nn.Module):
        def forward(self, a: mg.Tensor, b: mg.Tensor) -> mg.Tensor:
            return a + b

        def right_inverse(self, w: mg.Tensor) -> tuple:
            return w * 0.25, w * 0.75

    tm, mm = torch.nn.Linear(3, 2, dtype=torch.float64), nn.Linear(3, 2, dtype=mg.float64)
    _copy(mm, tm)
    tm.weight.requires_grad_(False)
    mm.weight.requires_grad_(False)
    torch.nn.utils.parametrize.register_parametrization(tm, "weight", SplitT())
    P.register_parametrization(mm, "weight", Split())
    assert [(k, p.requires_grad) for k, p in tm.named_parameters()] == \
        [(k, p.requires_grad) for k, p in mm.named_parameters()]
    torch.nn.utils.parametrize.remove_parametrizations(tm, "weight")
    P.remove_parametrizations(mm, "weight")
    # a tensor that requires no gradient comes back as a buffer, in both
    assert [k for k, _ in tm.named_buffers()] == [k for k, _ in mm.named_buffers()] == ["weight"]
    assert_close(mm.weight.numpy(), _np(tm.weight), rtol=1e-12)


def test_multi_tensor_removal_under_no_grad_leaves_a_buffer_as_torch(torch: Any) -> None:
    tm, mm = torch.nn.Linear(4, 3), nn.Linear(4, 3)
    torch.nn.utils.parametrizations.weight_norm(tm, dim=1)
    PZ.weight_norm(mm, dim=1)
    with torch.no_grad():
        torch.nn.utils.parametrize.remove_parametrizations(tm, "weight")
    with mg.no_grad():
        P.remove_parametrizations(mm, "weight")
    layout = (list(mm._parameters), list(mm._buffers))
    assert (list(tm._parameters), list(tm._buffers)) == layout == (["bias"], ["weight"])
