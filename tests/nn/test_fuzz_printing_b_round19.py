"""Round 19: optimizer repr and grad_fn names against PyTorch (fuzzers: /tmp/fuzz19_optrepr.py, _gradfn.py)."""

from __future__ import annotations

import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")

# PyTorch's groups also carry foreach/fused/capturable/differentiable, which minigrad's keep too since round 20:
# nothing is left out of the comparison
_IMPLEMENTATION: tuple[str, ...] = ()


def _without_implementation_keys(text: str) -> str:
    return "\n".join(line for line in text.split("\n")
                     if not any(line.startswith(f"    {key}:") for key in _IMPLEMENTATION))


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "Adagrad", "Adadelta", "Adamax", "ASGD", "NAdam", "RAdam",
                                  "RMSprop", "Rprop", "Adafactor"])
def test_optimizer_repr_and_default_hyper_parameters_are_pytorch_s(name) -> None:
    """A blank line between groups, and the defaults PyTorch's signatures give (the int 0, not 0.0)."""
    theirs = getattr(torch.optim, name)([{"params": [torch.nn.Parameter(torch.ones(2, 2))]},
                                         {"params": [torch.nn.Parameter(torch.ones(2))], "lr": 0.5, "tag": "x"}])
    ours = getattr(nn.optim, name)([{"params": [nn.Parameter(mg.ones(2, 2))]},
                                    {"params": [nn.Parameter(mg.ones(2))], "lr": 0.5, "tag": "x"}])
    assert repr(ours) == _without_implementation_keys(repr(theirs))
    for group, torch_group in zip(ours.param_groups, theirs.param_groups):
        for key, value in group.items():
            if key != "params":
                assert type(value) is type(torch_group[key]) and value == torch_group[key], key


@pytest.mark.parametrize("name, kwargs", [
    ("Adam", {"betas": [0.8, 0.9]}), ("AdamW", {"betas": [0.8, 0.9]}), ("Adamax", {"betas": [0.8, 0.9]}),
    ("NAdam", {"betas": [0.8, 0.9]}), ("RAdam", {"betas": [0.8, 0.9]}),
    ("Rprop", {"etas": [0.4, 2.0], "step_sizes": [0.1, 1.0]}),
])
def test_a_list_pair_is_stored_as_pytorch_stores_it(name, kwargs) -> None:
    """PyTorch's Adam and AdamW store betas as a tuple; its other optimizers keep the list they were given."""
    theirs = getattr(torch.optim, name)([torch.nn.Parameter(torch.ones(2))], **kwargs)
    ours = getattr(nn.optim, name)([nn.Parameter(mg.ones(2))], **kwargs)
    assert repr(ours) == _without_implementation_keys(repr(theirs))
    for key in kwargs:
        assert type(ours.param_groups[0][key]) is type(theirs.param_groups[0][key])


@pytest.mark.parametrize("name, group", [
    ("SGD", {"name": "head", "lr": 0.1}), ("Adam", {"eps": 1e-3, "lr": 0.1, "tag": 1}), ("Adagrad", {}),
    ("RMSprop", {"weight_decay": 0.1}), ("RAdam", {}), ("NAdam", {"lr": 0.2, "betas": (0.8, 0.9)}),
])
def test_group_and_state_dict_keys_are_in_pytorch_s_order(name, group) -> None:
    """The group's own entries as given, then the defaults in PyTorch's order (``print(opt.param_groups)``)."""
    theirs = getattr(torch.optim, name)([{"params": [torch.nn.Parameter(torch.ones(2))], **group}])
    ours = getattr(nn.optim, name)([{"params": [nn.Parameter(mg.ones(2))], **group}])
    expected = [key for key in theirs.param_groups[0] if key not in _IMPLEMENTATION]
    assert list(ours.param_groups[0]) == expected
    assert list(ours.state_dict()["param_groups"][0]) == expected[1:] + ["params"]


# --- grad_fn.name() of one op's node, as PyTorch's ---------------------------------------------------------------

def _inputs(lib) -> dict:
    import numpy as np
    rng = np.random.default_rng(0)
    arrays = {"x": rng.standard_normal((3, 4)), "p": rng.uniform(0.5, 1.5, (3, 4)), "u": rng.uniform(0.1, 0.9, (3, 4)),
              "v": rng.standard_normal(4), "q": rng.standard_normal((1, 3, 1, 4)),
              "c": rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))}
    made = {name: lib.tensor(array, requires_grad=True) for name, array in arrays.items()}
    return {**made, "lib": lib}


@pytest.mark.parametrize("expression", [
    # PyTorch's spelling of the op's node (FFT's C2C, torch.special's own nodes, the ops PyTorch runs as another)
    "lib.fft.fft2(x)", "lib.fft.rfft(x)", "lib.fft.irfft(x)", "lib.fft.hfft(x)", "lib.fft.fft(c)", "lib.fft.ifftn(x)",
    "lib.special.log_ndtr(x)", "lib.special.ndtri(u)", "lib.special.i0e(x)", "lib.special.i1(x)",
    "lib.special.i1e(x)", "lib.special.xlog1py(x, p)", "lib.special.entr(p)", "lib.special.zeta(p + 1, p)",
    "lib.special.erfcx(x)", "lib.special.gammainc(p, p)", "lib.special.gammaincc(p, p)", "c.real", "c.imag",
    "x.tensor_split(2, 1)[0]", "x.hsplit(2)[1]", "x.unflatten(1, (2, 2))",
    "x.take_along_dim(lib.tensor([[0], [1], [2]]), 1)",
    # nodes whose PyTorch name depends on the call
    "lib.fft.fft(x)", "lib.fft.ifft(x)", "lib.fft.ihfft(x)", "lib.fft.ihfft2(x)", "x.t()", "v.t()", "q.squeeze()",
    "q.squeeze(0)", "q.squeeze((0, 2))", "x.unsqueeze(0)", "lib.unsqueeze(x, -1)", "x.clamp_min(0)",
    "x.clamp_max(p)", "lib.clamp_min(x, lib.tensor(0.0, dtype=lib.float64))",
    "x.scatter(1, lib.tensor([[0], [1], [2]]), 5.0)", "x.lerp(p, u)", "x.lerp(p, 0.3)",
    "x.masked_fill(x > 0, lib.tensor(1.0, dtype=lib.float64))",
    "x.index_fill(1, lib.tensor([0]), lib.tensor(1.0, dtype=lib.float64))", "x.round(decimals=1)",
    "lib.special.round(x)", "x.sgn()", "v.diag()", "x[:3, :3].diag()", "1 - x", "lib.rsub(x, 2)", "lib.rsub(x, p)",
    "lib.tensor(1.0, dtype=lib.float64) - x", "x.deg2rad()", "x.rad2deg()", "x.index_select(1, lib.tensor([0, 2]))",
    "x.masked_select(x > 0)", "lib.linalg.eigvals(x[:3, :3])", "lib.nanmedian(x, 0).values", "x.nanmedian()",
    "lib.conj_physical(c)", "lib.polygamma(0, p)", "lib.polygamma(2, p)",
])
def test_grad_fn_names_are_pytorch_s(expression) -> None:
    theirs = eval(expression, {}, _inputs(torch)).grad_fn.name()
    assert eval(expression, {}, _inputs(mg)).grad_fn.name() == theirs


@pytest.mark.parametrize("statement", [
    "a[0] = 5.0", "a[0, 1:] = p[0, 1:]", "a[None, 0] = 1.0", "a[0, [1, 2]] = 1.0", "a[1][2] = 3.0",
    "a[a > 0] = 0.0", "a[[0, 1]] = 1.0", "a[:, [0, 1]] = 1.0", "a[:] = 2.0", "a[0:3, ...] = 2.0", "a[...] = p * 3",
    "a[0].fill_(1.0)", "a[0].mul_(2)", "a.fill_(2.0)", "a.fill_(lib.tensor(2.0, dtype=lib.float64))", "a.copy_(p)",
    "a.clamp_min_(0)", "a.clamp_max_(p)", "a.masked_fill_(a > 0, lib.tensor(1.0, dtype=lib.float64))",
    "a.scatter_(1, lib.tensor([[0], [1], [2]]), 1.0)", "a.t_()", "a.transpose_(0, 1)", "a.swapaxes_(0, 1)",
    "a.unsqueeze_(0)", "a.unsqueeze_(0).squeeze_()", "a.unsqueeze_(0).squeeze_(0)", "a.unsqueeze_(0).squeeze_((0,))",
    # an in-place op on a view writes through its base: PyTorch's CopySlices, whatever the view
    "a[:].fill_(1.0)", "a.t().mul_(2)", "a.view(12).add_(1)", "a[0][1:].zero_()", "a.diagonal().zero_()",
    "a.unsqueeze(0).mul_(2)", "a[..., 1].relu_()",
])
def test_grad_fn_names_after_in_place_ops_are_pytorch_s(statement) -> None:
    names = []
    for lib in (torch, mg):
        inputs = _inputs(lib)
        inputs["a"] = inputs["x"] * 1
        exec(statement, {}, inputs)
        names.append(inputs["a"].grad_fn.name())
    assert names[1] == names[0]
