"""Memory formats as PyTorch's: the keyword every ``*_like``/``clone``/``contiguous``/cast takes, the strides
it gives, and the custom-optimizer habit ``zeros_like(p, memory_format=torch.preserve_format)``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn

FORMATS = ("contiguous_format", "preserve_format", "channels_last")


def _in(library: Any, name: str) -> Any:
    return getattr(library, name)


def _element_strides(x: Any) -> tuple:
    return tuple(x.stride())


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("source", ["contiguous", "channels_last"])
def test_strides_and_contiguity_as_torch(torch: Any, fmt: str, source: str) -> None:
    data = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    ours, theirs = mg.tensor(data), torch.tensor(data)
    if source == "channels_last":
        ours, theirs = ours.contiguous(memory_format=mg.channels_last), theirs.contiguous(
            memory_format=torch.channels_last)
    a, b = _in(mg, fmt), _in(torch, fmt)
    made = {
        "zeros_like": (mg.zeros_like(ours, memory_format=a), torch.zeros_like(theirs, memory_format=b)),
        "ones_like": (mg.ones_like(ours, memory_format=a), torch.ones_like(theirs, memory_format=b)),
        "empty_like": (mg.empty_like(ours, memory_format=a), torch.empty_like(theirs, memory_format=b)),
        "full_like": (mg.full_like(ours, 2.0, memory_format=a), torch.full_like(theirs, 2.0, memory_format=b)),
        "randn_like": (mg.randn_like(ours, memory_format=a), torch.randn_like(theirs, memory_format=b)),
        "rand_like": (mg.rand_like(ours, memory_format=a), torch.rand_like(theirs, memory_format=b)),
        "randint_like": (mg.randint_like(ours, 5, memory_format=a), torch.randint_like(theirs, 5, memory_format=b)),
        "clone": (ours.clone(memory_format=a), theirs.clone(memory_format=b)),
        "float": (ours.float(memory_format=a), theirs.float(memory_format=b)),
        "half": (ours.half(memory_format=a), theirs.half(memory_format=b)),
        "to": (ours.to(mg.float32, memory_format=a), theirs.to(torch.float32, memory_format=b)),
        "sum": (ours + 1, theirs + 1),
    }
    if fmt != "preserve_format":
        made["contiguous"] = (ours.contiguous(memory_format=a), theirs.contiguous(memory_format=b))
    for name, (x, y) in made.items():
        assert _element_strides(x) == _element_strides(y), name
        for check in FORMATS:
            assert x.is_contiguous(memory_format=_in(mg, check)) == y.is_contiguous(
                memory_format=_in(torch, check)), (name, check)
    np.testing.assert_array_equal(made["clone"][0].numpy(), made["clone"][1].numpy())


def test_values_and_gradients_pass_through_a_layout_change() -> None:
    x = mg.randn(2, 3, 4, 5, requires_grad=True)
    y = x.contiguous(memory_format=mg.channels_last)
    assert y is not x and y.is_contiguous(memory_format=mg.channels_last)
    assert y.contiguous(memory_format=mg.channels_last) is y
    (y * mg.arange(5.0)).sum().backward()
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    np.testing.assert_array_equal(x.grad.numpy(), np.broadcast_to(np.arange(5.0), (2, 3, 4, 5)))


def test_errors_as_torch(torch: Any) -> None:
    for ours, theirs in ((lambda: mg.zeros_like(mg.ones(2, 3), memory_format=mg.channels_last),
                          lambda: torch.zeros_like(torch.ones(2, 3), memory_format=torch.channels_last)),
                         (lambda: mg.ones(2, 3).contiguous(memory_format=mg.channels_last_3d),
                          lambda: torch.ones(2, 3).contiguous(memory_format=torch.channels_last_3d))):
        with pytest.raises(RuntimeError) as theirs_error:
            theirs()
        with pytest.raises(RuntimeError, match="required rank") as ours_error:
            ours()
        assert str(theirs_error.value) in str(ours_error.value)
    with pytest.raises(TypeError, match="memory_format"):
        mg.zeros_like(mg.ones(2), memory_format="channels_last")
    with pytest.raises(RuntimeError):
        torch.empty(2, 3, memory_format=torch.preserve_format)
    with pytest.raises(RuntimeError, match="preserve_format"):
        mg.empty(2, 3, memory_format=mg.preserve_format)


def test_module_to_channels_last_as_torch(torch: Any) -> None:
    ours, theirs = nn.Conv2d(3, 4, 3), torch.nn.Conv2d(3, 4, 3)
    ours.to(memory_format=mg.channels_last)
    theirs.to(memory_format=torch.channels_last)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        assert p.stride() == q.stride(), name
    x = mg.randn(2, 3, 6, 6)
    np.testing.assert_allclose(ours(x.contiguous(memory_format=mg.channels_last)).numpy(), ours(x).numpy(),
                               rtol=1e-6)


CUSTOM_OPTIMIZER = '''
class MyAdam(optim.Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                beta1, beta2 = group["betas"]
                state["step"] += 1
                state["exp_avg"].mul_(beta1).add_(p.grad, alpha=1 - beta1)
                state["exp_avg_sq"].mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                denom = (state["exp_avg_sq"].sqrt() / (1 - beta2 ** state["step"]) ** 0.5).add_(group["eps"])
                p.addcdiv_(state["exp_avg"], denom, value=-group["lr"] / (1 - beta1 ** state["step"]))


def train(model, x, y):
    opt = MyAdam(model.parameters(), lr=0.1)
    for _ in range(4):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
    return loss.item()
'''


def test_a_custom_optimizer_written_as_pytorchs_trains_as_torch(torch: Any) -> None:
    rng = np.random.default_rng(1)
    w, b = rng.standard_normal((2, 3)), rng.standard_normal(2)
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
    results = []
    for library, neural, optim in ((mg, nn, nn.optim), (torch, torch.nn, torch.optim)):
        namespace = {"torch": library, "optim": optim}
        exec(CUSTOM_OPTIMIZER, namespace)   # noqa: S102 - the program above
        model = neural.Linear(3, 2).double()
        with library.no_grad():
            model.weight.copy_(library.tensor(w))
            model.bias.copy_(library.tensor(b))
        loss = namespace["train"](model, library.tensor(x), library.tensor(y))
        results.append((loss, model.weight.detach().numpy().copy()))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12)


@pytest.mark.parametrize("view", ["t", "permute", "slice"])
def test_like_constructors_preserve_the_layout_by_default_as_torch(torch: Any, view: str) -> None:
    # torch's *_like default is preserve_format (NumPy's zeros_like keeps the layout too)
    data = np.random.default_rng(0).standard_normal((2, 3, 4, 6))
    make = {"t": lambda x: x.reshape(6, 24).t(), "permute": lambda x: x.permute(0, 2, 3, 1),
            "slice": lambda x: x[:, :, :, ::2]}[view]
    ours, theirs = make(mg.tensor(data)), make(torch.tensor(data))
    for name in ("zeros_like", "ones_like", "empty_like", "rand_like", "randn_like"):
        a, b = getattr(mg, name)(ours), getattr(torch, name)(theirs)
        assert _element_strides(a) == _element_strides(b) and a.is_contiguous() == b.is_contiguous(), name
    assert _element_strides(mg.full_like(ours, 2.0)) == _element_strides(torch.full_like(theirs, 2.0))
    assert _element_strides(mg.randint_like(ours, 5)) == _element_strides(torch.randint_like(theirs, 5))
