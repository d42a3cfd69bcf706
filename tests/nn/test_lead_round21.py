"""Round 21 (lead): a parametrization that changes a recurrent weight's dtype is refused, as PyTorch's layers and
cells refuse it ("self and mat2 must have the same dtype"); the dtype check saw only the original parameter, so
the layer computed in float64 from a float32 input."""

from __future__ import annotations

import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")


class _Double(nn.Module):
    def forward(self, w: mg.Tensor) -> mg.Tensor:
        return w.double()


class _TorchDouble(torch.nn.Module):
    def forward(self, w):  # noqa: ANN001, ANN201 - torch's module
        return w.double()


@pytest.mark.parametrize("cls", ["LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell"])
@pytest.mark.parametrize("which", ["ih", "hh"])
def test_a_dtype_changing_parametrization_is_refused_as_torch(cls: str, which: str) -> None:
    cell = "Cell" in cls
    name = f"weight_{which}" if cell else f"weight_{which}_l0"
    shape = (2, 3) if cell else (5, 2, 3)
    theirs = getattr(torch.nn, cls)(3, 4)
    torch.nn.utils.parametrize.register_parametrization(theirs, name, _TorchDouble(), unsafe=True)
    with pytest.raises((RuntimeError, ValueError)) as refused:   # a layer's parametrized weight_ih_l0: ValueError
        theirs(torch.randn(*shape))
    ours = getattr(nn, cls)(3, 4)
    nn.utils.parametrize.register_parametrization(ours, name, _Double(), unsafe=True)
    with pytest.raises(type(refused.value), match="float64"):
        ours(mg.randn(*shape))


@pytest.mark.parametrize("cls", ["LSTM", "GRUCell"])
def test_a_dtype_keeping_parametrization_still_runs_as_torch(cls: str) -> None:
    cell = "Cell" in cls
    name = "weight_hh" if cell else "weight_hh_l0"
    ours, theirs = getattr(nn, cls)(3, 4), getattr(torch.nn, cls)(3, 4)
    ours.load_state_dict({k: mg.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    nn.utils.parametrize.register_parametrization(ours, name, nn.Identity())
    torch.nn.utils.parametrize.register_parametrization(theirs, name, torch.nn.Identity())
    x = torch.randn(2, 3) if cell else torch.randn(5, 2, 3)
    out, tout = ours(mg.tensor(x.numpy())), theirs(x)
    out, tout = (out[0], tout[0]) if isinstance(out, tuple) else (out, tout)
    assert out.dtype == mg.float32
    assert abs(out.numpy() - tout.detach().numpy()).max() < 1e-5


def test_float16_cdist_is_refused_on_the_cpu_as_torch() -> None:
    # it computed in float32 and rounded once; PyTorch's CPU has no float16 kernel (as pdist, refused in round 21)
    with pytest.raises(NotImplementedError):
        torch.cdist(torch.ones(3, 4).half(), torch.ones(2, 4).half())
    with pytest.raises(NotImplementedError, match="float16"):
        mg.cdist(mg.ones(3, 4).half(), mg.ones(2, 4).half())
    assert mg.cdist(mg.ones(3, 4), mg.zeros(2, 4)).tolist() == [[2.0, 2.0]] * 3


def test_deleting_requires_grad_raises_torchs_runtime_error() -> None:
    with pytest.raises(RuntimeError):
        del torch.ones(2, requires_grad=True).requires_grad
    x = mg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="requires_grad"):
        del x.requires_grad
    assert x.requires_grad
