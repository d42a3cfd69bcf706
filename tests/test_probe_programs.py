"""Regression tests for what porting more PyTorch programs (tests/test_pytorch_programs.py) found missing.

* ``nn.BatchNorm2d`` / ``nn.BatchNorm3d`` (the CRNN program's ``Conv2d → BatchNorm2d → ReLU`` block): batch
  normalisation of (N, C, H, W) and (N, C, D, H, W) per channel, as PyTorch's, in ``nn/normalization.py``
  beside ``BatchNorm1d`` (all three share ``_BatchNorm``).
* ``torch.autograd.Variable`` (older RNN tutorials: ``from torch.autograd import Variable``,
  ``Variable(torch.zeros(...))`` for hidden states): ``minigrad/autograd/variable.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from helpers import assert_close, to_torch

import minigrad as mg
from nn import normalization

RNG = np.random.default_rng(11)

SHAPES = {"BatchNorm1d": (4, 3, 5), "BatchNorm2d": (3, 3, 4, 5), "BatchNorm3d": (2, 3, 2, 3, 4)}

OPTIONS = [
    {},
    {"momentum": None},
    {"affine": False},
    {"track_running_stats": False},
    {"eps": 1e-3, "momentum": 0.3, "bias": False},
]


def _twins(torch: Any, name: str, options: dict) -> tuple:
    """Our layer and torch's, with torch's random scale and shift loaded into ours."""
    ours = getattr(normalization, name)(3, **options)
    theirs = getattr(torch.nn, name)(3, **options)
    with torch.no_grad():
        for parameter in theirs.parameters():
            parameter.uniform_(0.5, 1.5)
    ours.load_state_dict({k: v.numpy().copy() for k, v in theirs.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
@pytest.mark.parametrize("name", ["BatchNorm2d", "BatchNorm3d", "BatchNorm1d"])
def test_batch_norm_trains_and_evaluates_as_torch(torch: Any, name: str, options: dict) -> None:
    ours, theirs = _twins(torch, name, options)
    assert str(ours) == str(theirs)
    for step in range(3):   # three training batches move the running statistics, then one in eval
        x = mg.tensor(RNG.standard_normal(SHAPES[name]).astype(np.float32) * 2 + 1, requires_grad=True)
        tx = to_torch(torch, x)
        out, t_out = ours(x), theirs(tx)
        assert_close(out, t_out, rtol=1e-5, atol=1e-5, what=f"{name} forward, step {step}")
        weights = RNG.standard_normal(out.shape).astype(np.float32)
        (out * mg.tensor(weights)).sum().backward()
        (t_out * torch.from_numpy(weights)).sum().backward()
        assert_close(x.grad, tx.grad, rtol=1e-4, atol=1e-5, what=f"{name} input gradient")
        for (key, p), tp in zip(ours.named_parameters(), theirs.parameters()):
            assert_close(p.grad, tp.grad, rtol=1e-4, atol=1e-5, what=f"{name}.{key} gradient")
            p.grad, tp.grad = None, None
    for key, value in theirs.state_dict().items():   # running_mean, running_var, num_batches_tracked
        assert_close(ours.state_dict()[key], value, rtol=1e-5, atol=1e-6, what=f"{name}.{key}")
    ours.eval()
    theirs.eval()
    x = RNG.standard_normal(SHAPES[name]).astype(np.float32)
    assert_close(ours(mg.tensor(x)), theirs(torch.from_numpy(x)), rtol=1e-5, atol=1e-5, what=f"{name} eval")


@pytest.mark.parametrize("name", ["BatchNorm2d", "BatchNorm3d"])
def test_batch_norm_gradcheck(name: str) -> None:
    layer = getattr(normalization, name)(3, momentum=None).double()
    x = mg.tensor(RNG.standard_normal(SHAPES[name]), requires_grad=True)
    weights = mg.tensor(RNG.standard_normal(SHAPES[name]))
    assert mg.gradcheck(lambda v, w, b: (layer(v) * weights).sum(), [x, layer.weight, layer.bias])


@pytest.mark.parametrize(("name", "shape", "layout"), [
    ("BatchNorm2d", (2, 3, 4), "4-D (N, C, H, W)"),
    ("BatchNorm3d", (2, 3, 4, 5), "5-D (N, C, D, H, W)"),
    ("BatchNorm1d", (2, 3, 4, 5), "2-D (N, C) or 3-D (N, C, L)"),
])
def test_batch_norm_names_the_layer_and_the_dims_it_takes(name: str, shape: tuple, layout: str) -> None:
    with pytest.raises(ValueError) as error:
        getattr(normalization, name)(3)(mg.zeros(*shape))
    assert str(error.value) == f"{name}: expected a {layout} input, got shape {shape}"
    with pytest.raises(ValueError, match=f"{name}: input has 4 channels"):
        getattr(normalization, name)(3)(mg.zeros(SHAPES[name][0], 4, *SHAPES[name][2:]))
    with pytest.raises(ValueError, match=f"{name}: num_features must be a positive int"):
        getattr(normalization, name)(0)


def test_batch_norm_2d_loads_torchs_state_dict_and_counts_batches(torch: Any) -> None:
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
    theirs(torch.randn(2, 1, 5, 5))
    layer = normalization.BatchNorm2d(2)
    layer.load_state_dict({k[2:]: v.numpy() for k, v in theirs.state_dict().items() if k.startswith("1.")})
    assert int(layer.num_batches_tracked.item()) == 1 and layer.num_batches_tracked.dtype == mg.int64
    assert list(layer.state_dict()) == list(theirs[1].state_dict())


@pytest.mark.gpu
def test_batch_norm_2d_on_the_gpu_as_on_the_cpu() -> None:
    x = RNG.standard_normal((2, 3, 4, 4)).astype(np.float32)
    results = {}
    for device in ("cpu", "cuda"):
        layer = normalization.BatchNorm2d(3, device=device)
        xo = mg.tensor(x, requires_grad=True, device=device)
        out = layer(xo)
        (out * out).sum().backward()
        layer.eval()
        results[device] = [out.numpy(), xo.grad.numpy(), layer.weight.grad.numpy(), layer.running_var.numpy(),
                           layer(xo).numpy()]
    for cpu, gpu in zip(results["cpu"], results["cuda"]):
        np.testing.assert_allclose(gpu, cpu, rtol=1e-5, atol=1e-5)


def test_variable_as_torchs_legacy_wrapper(torch: Any) -> None:
    from minigrad.autograd import Variable  # noqa: PLC0415 - spelled as older programs import it

    data = np.arange(3, dtype=np.float32)
    for lib, wrap in ((mg, Variable), (torch, torch.autograd.Variable)):
        t = lib.from_numpy(data.copy())
        v = wrap(t, requires_grad=True)
        assert v is not t and v.requires_grad and v.is_leaf and not t.requires_grad
        assert isinstance(t, wrap) and isinstance(v, lib.Tensor)
        assert wrap(v * 2).grad_fn is None and not wrap(v * 2).requires_grad   # detached from the graph
        with lib.no_grad():
            v[0] = 7.0
        assert t[0].item() == 7.0   # the same memory
        with pytest.warns(UserWarning, match="volatile was removed"):
            wrap(t, volatile=True)
        with pytest.raises(TypeError, match="Variable data has to be a tensor, but got list"):
            wrap([1.0])
    assert issubclass(mg.Tensor, Variable)


def test_an_old_tutorial_rnn_with_variables_as_torch(torch: Any) -> None:
    """The hidden state made as ``Variable(torch.zeros(...))`` and the input as ``Variable(x)`` (pre-0.4 code)."""
    source = """
def run(weights, x):
    rnn = torch.nn.GRU(3, 4)
    rnn.load_state_dict(weights)
    hidden = Variable(torch.zeros(1, x.size(1), 4))
    output, hidden = rnn(Variable(x, requires_grad=True), hidden)
    loss = output.pow(2).mean()
    loss.backward()
    return loss.item(), rnn.weight_hh_l0.grad
"""
    weights = torch.nn.GRU(3, 4).state_dict()
    x = np.random.default_rng(12).standard_normal((5, 2, 3)).astype(np.float32)
    results = []
    for lib in (torch, mg):
        namespace = {"torch": lib, "Variable": lib.autograd.Variable}
        exec(source, namespace)   # noqa: S102 - our own program text
        state = {k: lib.from_numpy(v.numpy().copy()) for k, v in weights.items()}
        results.append(namespace["run"](state, lib.from_numpy(x.copy())))
    (loss, grad), (torch_loss, torch_grad) = results[1], results[0]
    assert loss == pytest.approx(torch_loss, rel=1e-5)
    assert_close(grad, torch_grad, rtol=1e-4, atol=1e-6, what="weight_hh_l0 gradient")
