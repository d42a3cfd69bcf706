"""nn.utils.parametrize, nn.utils.parametrizations (weight_norm, spectral_norm, orthogonal) and the legacy
nn.utils.weight_norm / spectral_norm, against torch 2.13: layout (state-dict keys, class, repr), values and
gradients with the weights copied over, power-iteration buffers, optimizer steps, state dicts both ways,
no_grad/eval, the recurrent layers, and mg.compile (replays see updated originals, or run eagerly)."""

from __future__ import annotations

import copy
import pickle
import warnings
from typing import Any, Callable

import numpy as np
import pytest
from helpers import assert_close

import minigrad as mg
import nn
from nn import functional as F
from nn.utils import parametrize as P
from nn.utils.parametrizations import orthogonal, spectral_norm, weight_norm

RNG = np.random.default_rng(11)


# --- helpers ---

class Symmetric(nn.Module):
    def forward(self, x: mg.Tensor) -> mg.Tensor:
        return x.triu() + x.triu(1).T

    def right_inverse(self, a: mg.Tensor) -> mg.Tensor:
        return a.triu()


class Double(nn.Module):
    def forward(self, x: mg.Tensor) -> mg.Tensor:
        return x * 2

    def right_inverse(self, a: mg.Tensor) -> mg.Tensor:
        return a / 2


class RankOne(nn.Module):
    """Two originals: w = x yᵀ."""

    def forward(self, x: mg.Tensor, y: mg.Tensor) -> mg.Tensor:
        return x.unsqueeze(-1) @ y.unsqueeze(-2)

    def right_inverse(self, z: mg.Tensor) -> tuple[mg.Tensor, mg.Tensor]:
        return z[:, 0] * 1.0, z[0, :] / z[0, 0]


def torch_state(module: nn.Module, torch: Any) -> dict:
    return {k: torch.from_numpy(v.numpy().copy()) for k, v in module.state_dict().items()}


def from_torch(module: nn.Module, torch_module: Any) -> None:
    module.load_state_dict({k: v.detach().numpy().copy() for k, v in torch_module.state_dict().items()})


def assert_same_run(torch: Any, module: nn.Module, torch_module: Any, x: np.ndarray, rtol: float = 1e-10,
                    what: str = "") -> None:
    """The forward values and every parameter's gradient (by name, in order) equal torch's."""
    inputs = mg.tensor(x)
    y = module(inputs)
    ty = torch_module(torch.from_numpy(x))
    y, ty = (y[0], ty[0]) if isinstance(y, tuple) else (y, ty)
    assert_close(y, ty, rtol=rtol, atol=1e-12, what=f"forward {what}")
    weights = RNG.standard_normal(y.shape)
    (y * mg.tensor(weights)).sum().backward()
    (ty * torch.from_numpy(weights)).sum().backward()
    ours, theirs = list(module.named_parameters()), list(torch_module.named_parameters())
    assert [n for n, _ in ours] == [n for n, _ in theirs]
    for (name, p), (_, tp) in zip(ours, theirs):
        assert_close(p.grad, tp.grad, rtol=rtol, atol=1e-12, what=f"grad of {name} {what}")


def sgd_steps(module: Any, lr: float = 0.1) -> None:
    for p in module.parameters():
        if p.grad is not None:
            p.data -= lr * p.grad.data
    module.zero_grad()


def torch_sgd_steps(torch: Any, module: Any, lr: float = 0.1) -> None:
    with torch.no_grad():
        for p in module.parameters():
            if p.grad is not None:
                p -= lr * p.grad
    module.zero_grad()


LAYERS: dict[str, tuple[Callable, Callable, Callable]] = {
    # name: (minigrad layer, torch layer, input)
    "linear": (lambda: nn.Linear(4, 3, dtype=mg.float64), lambda t: t.nn.Linear(4, 3).double(),
               lambda: RNG.standard_normal((5, 4))),
    "conv1d": (lambda: nn.Conv1d(2, 3, 3, dtype=mg.float64), lambda t: t.nn.Conv1d(2, 3, 3).double(),
               lambda: RNG.standard_normal((2, 2, 6))),
    "embedding": (lambda: nn.Embedding(6, 4, dtype=mg.float64), lambda t: t.nn.Embedding(6, 4).double(),
                  lambda: np.array([[0, 3, 5], [2, 2, 1]])),
}


def pair(torch: Any, layer: str) -> tuple[nn.Module, Any, np.ndarray]:
    make, make_torch, make_input = LAYERS[layer]
    module, torch_module = make(), make_torch(torch)
    torch_module.load_state_dict(torch_state(module, torch))
    return module, torch_module, make_input()


# --- parametrize ---

def test_layout_class_repr_and_keys_are_torchs(torch) -> None:
    module, torch_module, _ = pair(torch, "linear")
    weight_norm(module)
    torch.nn.utils.parametrizations.weight_norm(torch_module)
    assert type(module).__name__ == "ParametrizedLinear" and isinstance(module, nn.Linear)
    assert P.type_before_parametrizations(module) is nn.Linear
    assert P.type_before_parametrizations(nn.Linear(2, 2)) is nn.Linear
    assert P.is_parametrized(module) and P.is_parametrized(module, "weight")
    assert not P.is_parametrized(module, "bias") and not P.is_parametrized(nn.Linear(2, 2))
    assert repr(module) == repr(torch_module)
    assert list(module.state_dict()) == list(torch_module.state_dict()) == [
        "bias", "parametrizations.weight.original0", "parametrizations.weight.original1"]
    assert isinstance(module.parametrizations.weight, P.ParametrizationList)
    assert module.parametrizations.weight.original0.shape == (3, 1)


def test_assignment_goes_through_right_inverse_and_chains() -> None:
    module = nn.Linear(3, 3, dtype=mg.float64)
    original = module.weight
    P.register_parametrization(module, "weight", Symmetric())
    assert module.parametrizations.weight.original is original   # the optimizer's parameter stays
    assert np.allclose(module.weight.numpy(), module.weight.numpy().T)
    a = RNG.standard_normal((3, 3))
    module.weight = mg.tensor(a + a.T)
    assert_close(module.weight, a + a.T)
    P.register_parametrization(module, "weight", Double())
    assert_close(module.weight, 2 * (a + a.T))
    module.weight = mg.tensor(a + a.T)
    assert_close(module.weight, a + a.T)
    assert "(0): Symmetric()\n      (1): Double()" in repr(module)
    assert list(module.state_dict()) == ["bias", "parametrizations.weight.original"]
    with pytest.raises(KeyError, match="already exists"):
        module.weight = nn.Parameter(mg.zeros(3, 3, dtype=mg.float64))


def test_registration_checks_are_torchs() -> None:
    class Shrink(nn.Module):
        def forward(self, x: mg.Tensor) -> mg.Tensor:
            return x[:2]

    with pytest.raises(ValueError, match="may not change the shape"):
        P.register_parametrization(nn.Linear(3, 3), "weight", Shrink())
    with pytest.raises(ValueError, match="does not have a parameter, a buffer"):
        P.register_parametrization(nn.Linear(3, 3), "nope", Double())
    module = P.register_parametrization(nn.Linear(3, 3), "weight", Shrink(), unsafe=True)
    assert module.weight.shape == (2, 3)
    chained = P.register_parametrization(nn.Linear(3, 3), "weight", Double())
    with pytest.raises(ValueError, match="may not change the shape"):
        P.register_parametrization(chained, "weight", Shrink())
    with pytest.raises(ValueError, match="does not have a parametrization on bias"):
        P.remove_parametrizations(chained, "bias")
    identity = P.register_parametrization(nn.Linear(2, 2), "weight", nn.Identity())
    with pytest.raises(RuntimeError, match="does not implement right_inverse"):
        identity.weight = mg.zeros(2, 2)


def test_several_originals_and_removal(torch) -> None:
    module = nn.Linear(3, 3, dtype=mg.float64)
    P.register_parametrization(module, "weight", RankOne())
    assert list(module.state_dict()) == ["bias", "parametrizations.weight.original0",
                                         "parametrizations.weight.original1"]
    assert np.linalg.matrix_rank(module.weight.numpy()) == 1
    with pytest.raises(ValueError, match="sequence of tensors"):
        P.remove_parametrizations(module, "weight", leave_parametrized=False)
    value = module.weight.numpy()
    P.remove_parametrizations(module, "weight")
    assert type(module) is nn.Linear and isinstance(module.weight, nn.Parameter)
    assert list(module.state_dict()) == ["bias", "weight"] and "parametrizations" not in module.__dict__
    assert_close(module.weight, value)


@pytest.mark.parametrize("leave", [True, False])
def test_remove_keeps_the_original_object(leave) -> None:
    module = nn.Linear(3, 3, dtype=mg.float64)
    P.register_parametrization(module, "weight", Double())
    original, before = module.parametrizations.weight.original, module.weight.numpy()
    P.remove_parametrizations(module, "weight", leave_parametrized=leave)
    assert module.weight is original and module._parameters["weight"] is original
    assert_close(module.weight, before if leave else before / 2)
    assert repr(module) == "Linear(in_features=3, out_features=3, bias=True)"


def test_a_buffer_can_be_parametrized() -> None:
    module = nn.Linear(2, 2)
    module.register_buffer("scale", mg.ones(2))
    P.register_parametrization(module, "scale", Double())
    assert "parametrizations.scale.original" in module.state_dict()
    assert "parametrizations.scale.original" in dict(module.named_buffers())
    assert_close(module.scale, np.ones(2, dtype=np.float32))   # right_inverse keeps the value
    assert_close(module.parametrizations.scale.original, np.full(2, 0.5, dtype=np.float32))
    P.remove_parametrizations(module, "scale")
    assert "scale" in module._buffers


def test_cached_computes_once_per_block() -> None:
    module = P.register_parametrization(nn.Linear(3, 3), "weight", Double())
    assert module.weight is not module.weight
    with P.cached():
        first = module.weight
        with P.cached():
            assert module.weight is first
        assert module.weight is first
    assert module.weight is not first


def test_deepcopy_works_and_pickling_is_refused() -> None:
    module = P.register_parametrization(nn.Linear(3, 3), "weight", Double())
    clone = copy.deepcopy(module)
    assert type(clone) is type(module)   # as PyTorch's (stack_module_state of copies needs it)
    assert_close(clone.weight, module.weight.numpy())
    P.remove_parametrizations(clone, "weight")
    assert type(module).__name__ == "ParametrizedLinear" and module.weight.shape == (3, 3)
    for dump in (pickle.dumps, copy.copy):
        with pytest.raises(RuntimeError, match="only supported through state_dict"):
            dump(module)


def test_transfer_parametrizations_and_params() -> None:
    source = P.register_parametrization(nn.Linear(3, 3), "weight", Double())
    target = P.transfer_parametrizations_and_params(source, nn.Linear(3, 3))
    assert target.parametrizations.weight.original is source.parametrizations.weight.original
    assert_close(target.weight, source.weight.numpy())


# --- weight norm ---

@pytest.mark.parametrize("layer, dim", [("linear", 0), ("linear", 1), ("linear", None), ("linear", -1),
                                        ("linear", -2), ("conv1d", 0), ("conv1d", 2), ("conv1d", -2),
                                        ("embedding", 1), ("embedding", None)])
def test_weight_norm_matches_torch(torch, layer, dim) -> None:
    module, torch_module, x = pair(torch, layer)
    weight_norm(module, dim=dim)
    torch.nn.utils.parametrizations.weight_norm(torch_module, dim=dim)
    assert_close(module.parametrizations.weight.original0, torch_module.parametrizations.weight.original0)
    with torch.no_grad():   # g no longer the norm of v
        torch_module.parametrizations.weight.original0.mul_(1.5)
    from_torch(module, torch_module)
    assert_same_run(torch, module, torch_module, x, what=f"{layer} dim={dim}")


def test_weight_norm_dim_out_of_range_is_torchs_error() -> None:
    with pytest.raises(IndexError, match=r"range of \[-2, 1\], but got 2"):
        weight_norm(nn.Linear(3, 2), dim=2)


def test_weight_norm_gradcheck() -> None:
    module = weight_norm(nn.Linear(4, 3, dtype=mg.float64))
    chain = module.parametrizations.weight
    x = mg.tensor(RNG.standard_normal((5, 4)), requires_grad=True)
    g, v = chain.original0, chain.original1
    # the module's path is the function checked: weight = chain[0](g, v)
    assert_close(module(x), F.linear(x, chain[0](g, v), module.bias).numpy())
    assert mg.gradcheck(lambda g, v, x, b: F.linear(x, chain[0](g, v), b), [g, v, x, module.bias])
    whole = weight_norm(nn.Linear(4, 3, dtype=mg.float64), dim=None).parametrizations.weight
    assert mg.gradcheck(lambda g, v: whole[0](g, v), [whole.original0, whole.original1])


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("compiled", [False, True])
def test_weight_norm_of_a_recurrent_weight_matches_torch(torch, kind, compiled) -> None:
    module = getattr(nn, kind)(3, 4, dtype=mg.float64, compile=compiled)
    torch_module = getattr(torch.nn, kind)(3, 4).double()
    torch_module.load_state_dict(torch_state(module, torch))
    weight_norm(module, "weight_hh_l0")
    torch.nn.utils.parametrizations.weight_norm(torch_module, "weight_hh_l0")
    with torch.no_grad():
        torch_module.parametrizations.weight_hh_l0.original0.mul_(1.7)
    from_torch(module, torch_module)
    assert repr(module) == repr(torch_module).replace("3, 4\n", "3, 4" + (", compile=True\n" if compiled else "\n"))
    assert [tuple(w.shape) for w in module.all_weights[0]] == [tuple(w.shape) for w in torch_module.all_weights[0]]
    x = RNG.standard_normal((5, 2, 3))
    for step in range(4):   # replays (compile=True) see the updated originals
        assert_same_run(torch, module, torch_module, x, what=f"step {step}")
        sgd_steps(module)
        torch_sgd_steps(torch, torch_module)


@pytest.mark.parametrize("legacy", ["weight_norm", "spectral_norm"])
def test_the_legacy_hooks_on_a_recurrent_weight_match_torch(torch, legacy) -> None:
    """The layers read their weights as attributes, so the tensor a legacy hook sets before each forward
    is the one the loop uses."""
    module, torch_module = nn.GRU(3, 4, dtype=mg.float64), torch.nn.GRU(3, 4).double()
    torch_module.load_state_dict(torch_state(module, torch))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        getattr(nn.utils, legacy)(module, "weight_hh_l0")
        getattr(torch.nn.utils, legacy)(torch_module, "weight_hh_l0")
    from_torch(module, torch_module)   # the same starting vectors for the power iteration
    module.eval(), torch_module.eval()
    x = RNG.standard_normal((5, 2, 3))
    for step in range(2):
        assert_same_run(torch, module, torch_module, x, what=f"step {step}")
        sgd_steps(module)
        torch_sgd_steps(torch, torch_module)


def test_a_parametrized_peephole_weight_is_the_one_the_step_reads() -> None:
    module = nn.LSTM(2, 3, peephole=True, dtype=mg.float64)
    plain = nn.LSTM(2, 3, peephole=True, dtype=mg.float64)
    plain.load_state_dict(module.state_dict())
    weight_norm(module, "weight_cf_l0", dim=None)
    assert "weight_cf_l0" in module._all_weights[0]
    with mg.no_grad():
        plain.weight_cf_l0.copy_(module.weight_cf_l0)   # the same value, computed from (g, v)
    x = mg.tensor(RNG.standard_normal((4, 2, 2)))
    np.testing.assert_allclose(module(x)[0].numpy(), plain(x)[0].numpy(), rtol=1e-12)
    module(x)[0].sum().backward()
    original = module.parametrizations.weight_cf_l0
    assert original.original0.grad is not None and np.abs(original.original1.grad.numpy()).sum() > 0


def test_parameter_names_keep_the_models_path() -> None:
    model = nn.Sequential(nn.Linear(3, 2))
    weight_norm(model[0])
    assert model[0].parametrizations.weight.original1.name == "0.parametrizations.weight.original1"


def test_weight_norm_state_dicts_round_trip(torch, tmp_path) -> None:
    module, torch_module, x = pair(torch, "linear")
    weight_norm(module)
    torch.nn.utils.parametrizations.weight_norm(torch_module)
    path = tmp_path / "wn.npz"
    nn.save(module.state_dict(), path)
    fresh = weight_norm(nn.Linear(4, 3, dtype=mg.float64))
    fresh.load_state_dict(nn.load(path))
    assert_close(fresh(mg.tensor(x)), module(mg.tensor(x)).numpy())
    torch_module.load_state_dict(torch_state(module, torch))   # ours into torch's
    assert_close(module(mg.tensor(x)), torch_module(torch.from_numpy(x)))


def test_optimizer_steps_update_the_originals(torch) -> None:
    module, torch_module, x = pair(torch, "linear")
    weight_norm(module)
    torch.nn.utils.parametrizations.weight_norm(torch_module)
    optimizer = nn.optim.SGD(module.parameters(), lr=0.05, momentum=0.9)
    momenta = [torch.zeros_like(p) for p in torch_module.parameters()]   # torch.optim's first step costs 2 s
    before = module.parametrizations.weight.original1.numpy().copy()
    for _ in range(3):
        optimizer.zero_grad()
        torch_module.zero_grad()
        (module(mg.tensor(x)) ** 2).sum().backward()
        (torch_module(torch.from_numpy(x)) ** 2).sum().backward()
        optimizer.step()
        with torch.no_grad():
            for p, buffer in zip(torch_module.parameters(), momenta):
                buffer.mul_(0.9).add_(p.grad)
                p -= 0.05 * buffer
    assert not np.allclose(before, module.parametrizations.weight.original1.numpy())
    for p, tp in zip(module.parameters(), torch_module.parameters()):
        assert_close(p, tp, rtol=1e-9)
    assert_close(module.weight, torch_module.weight, rtol=1e-9)


def test_no_grad_and_eval() -> None:
    module = weight_norm(nn.Linear(3, 2)).eval()
    with mg.no_grad():
        y = module(mg.randn(4, 3))
        assert not y.requires_grad and not module.weight.requires_grad
    assert module(mg.randn(4, 3)).requires_grad and not module.parametrizations.weight[0].training


# --- spectral norm ---

@pytest.mark.parametrize("layer, dim, iterations", [("linear", None, 1), ("linear", 1, 3), ("conv1d", None, 1),
                                                    ("conv1d", -1, 2), ("embedding", None, 1)])
def test_spectral_norm_matches_torch_in_training_and_eval(torch, layer, dim, iterations) -> None:
    module, torch_module, x = pair(torch, layer)
    spectral_norm(module, n_power_iterations=iterations, dim=dim)
    torch.nn.utils.parametrizations.spectral_norm(torch_module, n_power_iterations=iterations, dim=dim)
    assert list(module.state_dict()) == list(torch_module.state_dict())
    assert repr(module) == repr(torch_module)
    from_torch(module, torch_module)   # the same starting vectors
    for step in range(2):   # training: each read runs the power iteration on the buffers
        assert_same_run(torch, module, torch_module, x, what=f"training step {step}")
        for name, buffer in module.named_buffers():
            assert_close(buffer, torch_module.get_buffer(name), what=name)
    module.eval()
    torch_module.eval()
    u = module.parametrizations.weight[0]._u.numpy().copy()
    module.zero_grad()
    torch_module.zero_grad()
    assert_same_run(torch, module, torch_module, x, what="eval")
    np.testing.assert_array_equal(module.parametrizations.weight[0]._u.numpy(), u)   # eval: no iteration


def test_spectral_norm_estimates_the_largest_singular_value() -> None:
    module = spectral_norm(nn.Linear(6, 5, dtype=mg.float64), n_power_iterations=5)
    for _ in range(5):
        weight = module.weight.numpy()
    assert abs(np.linalg.norm(weight, 2) - 1.0) < 1e-6
    vector = spectral_norm(nn.Linear(3, 2, dtype=mg.float64), name="bias")   # 1-d: normalised exactly
    assert abs(np.linalg.norm(vector.bias.numpy()) - 1.0) < 1e-12 and "_u" not in dict(vector.named_buffers())
    with pytest.raises(ValueError, match="n_power_iterations to be positive"):
        spectral_norm(nn.Linear(2, 2), n_power_iterations=0)
    with pytest.raises(IndexError, match="Dimension out of range"):
        spectral_norm(nn.Linear(2, 2), dim=2)


# --- orthogonal ---

@pytest.mark.parametrize("shape, orthogonal_map", [((4, 4), "matrix_exp"), ((4, 4), "cayley"),
                                                    ((4, 4), "householder"), ((3, 5), None), ((5, 3), "cayley")])
def test_orthogonal_matches_torch(torch, shape, orthogonal_map) -> None:
    module = nn.Linear(shape[1], shape[0], dtype=mg.float64)
    torch_module = torch.nn.Linear(shape[1], shape[0]).double()
    torch_module.load_state_dict(torch_state(module, torch))
    orthogonal(module, orthogonal_map=orthogonal_map)
    torch.nn.utils.parametrizations.orthogonal(torch_module, orthogonal_map=orthogonal_map)
    assert list(module.state_dict()) == list(torch_module.state_dict())
    with torch.no_grad():   # away from the starting point; the diagonal (householder's signs) stays
        torch_module.parametrizations.weight.original.add_(torch.from_numpy(
            0.3 * RNG.standard_normal(shape) * (1 - np.eye(*shape))))
    from_torch(module, torch_module)   # the same base (wide or tall: completed with random columns)
    q = module.weight.numpy()
    small = min(shape)
    assert np.allclose(q @ q.T if shape[0] < shape[1] else q.T @ q, np.eye(small), atol=1e-10)
    assert_same_run(torch, module, torch_module, RNG.standard_normal((2, shape[1])), rtol=1e-8)


@pytest.mark.parametrize("orthogonal_map, trivialization", [(None, True), ("cayley", False)])
def test_orthogonal_batches_of_matrices_match_torch(torch, orthogonal_map, trivialization) -> None:
    module, torch_module, x = pair(torch, "conv1d")   # weight (3, 2, 3): three wide 2 × 3 matrices
    orthogonal(module, orthogonal_map=orthogonal_map, use_trivialization=trivialization)
    torch.nn.utils.parametrizations.orthogonal(torch_module, orthogonal_map=orthogonal_map,
                                               use_trivialization=trivialization)
    assert list(module.state_dict()) == list(torch_module.state_dict())
    from_torch(module, torch_module)
    q = module.weight.numpy()
    assert np.allclose(q @ q.transpose(0, 2, 1), np.eye(2), atol=1e-10)
    assert_same_run(torch, module, torch_module, x, rtol=1e-8)
    if not trivialization:   # no inverse to assign through, as PyTorch's
        with pytest.raises(NotImplementedError, match="not possible to assign"):
            module.weight = mg.tensor(q)


def test_orthogonal_starts_from_an_orthogonal_weight(torch) -> None:
    module = nn.Linear(4, 4, dtype=mg.float64)
    q, _ = np.linalg.qr(RNG.standard_normal((4, 4)))
    with mg.no_grad():
        module.weight.copy_(mg.tensor(q))
    orthogonal(module)
    assert_close(module.weight, q, rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="Expected a matrix"):
        orthogonal(nn.Linear(2, 2), name="bias")


# --- the legacy hook-based forms ---

def test_legacy_weight_norm_matches_torch(torch) -> None:
    module, torch_module, x = pair(torch, "linear")
    with pytest.warns(FutureWarning) as ours:
        nn.utils.weight_norm(module, dim=None)
    with pytest.warns(FutureWarning) as theirs:
        torch.nn.utils.weight_norm(torch_module, dim=None)
    assert str(ours[0].message) == str(theirs[0].message)
    assert list(module.state_dict()) == list(torch_module.state_dict()) == ["bias", "weight_g", "weight_v"]
    assert repr(module) == repr(torch_module)
    with torch.no_grad():
        torch_module.weight_g.mul_(1.5)
    from_torch(module, torch_module)
    assert_same_run(torch, module, torch_module, x)
    with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nn.utils.weight_norm(module, dim=None)
    # the legacy state dict loads into the parametrization (PyTorch's compatibility hook)
    modern = weight_norm(nn.Linear(4, 3, dtype=mg.float64), dim=None)
    modern.load_state_dict(module.state_dict())
    assert_close(modern(mg.tensor(x)), module(mg.tensor(x)).numpy())
    nn.utils.remove_weight_norm(module)
    torch.nn.utils.remove_weight_norm(torch_module)
    assert list(module.state_dict()) == list(torch_module.state_dict()) == ["bias", "weight"]
    assert_close(module.weight, torch_module.weight)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found"):
        nn.utils.remove_weight_norm(module)


def test_legacy_spectral_norm_matches_torch(torch) -> None:
    module, torch_module, x = pair(torch, "conv1d")
    nn.utils.spectral_norm(module)
    torch.nn.utils.spectral_norm(torch_module)
    state = torch_module.state_dict()
    assert list(module.state_dict()) == list(state) == ["bias", "weight_orig", "weight_u", "weight_v"]
    assert module.state_dict()._metadata[""]["spectral_norm"] == state._metadata[""]["spectral_norm"]
    from_torch(module, torch_module)
    for step in range(2):
        assert_same_run(torch, module, torch_module, x, what=f"step {step}")
        assert_close(module.weight_u, torch_module.weight_u)
    module.eval()
    torch_module.eval()
    module.zero_grad()
    torch_module.zero_grad()
    assert_same_run(torch, module, torch_module, x, what="eval")
    # a state dict of the format before version 1 (the weight saved, no v)
    old = {k: v.detach().numpy() for k, v in state.items() if k != "weight_v"}
    old["weight"] = (torch_module.weight_orig / 2.0).detach().numpy()
    module.load_state_dict(old)
    w = module.weight_orig.numpy().reshape(3, -1)
    sigma = module.weight_u.numpy() @ w @ module.weight_v.numpy()
    assert abs(sigma - 2.0) < 1e-8
    nn.utils.remove_spectral_norm(module)
    assert list(module.state_dict()) == ["bias", "weight"] and "spectral_norm" not in \
        module.state_dict()._metadata[""]


# --- mg.compile ---

def run_compiled(make: Callable, steps: int = 4) -> tuple[Any, list]:
    """A compiled module and an eager copy trained side by side with SGD: equal at every step."""
    model, reference = make(), make()
    reference.load_state_dict(model.state_dict())
    compiled = mg.compile(model)
    x = mg.tensor(RNG.standard_normal((5, 4)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for step in range(steps):
            for net in (compiled, reference):
                net.zero_grad()
                (net(x) ** 2).sum().backward()
            sgd_steps(model)
            sgd_steps(reference)
            np.testing.assert_allclose(compiled(x).numpy(), reference(x).numpy(), rtol=1e-12, atol=1e-14,
                                       err_msg=f"step {step}")
    return compiled, [w for w in caught if issubclass(w.category, mg.CompileWarning)]


def test_compiled_weight_norm_replays_with_updated_originals() -> None:
    compiled, caught = run_compiled(lambda: weight_norm(nn.Linear(4, 3, dtype=mg.float64)))
    assert len(compiled.programs) == 1 and not caught


def test_compiled_spectral_norm_runs_eagerly_in_training_and_replays_in_eval() -> None:
    compiled, caught = run_compiled(lambda: spectral_norm(nn.Linear(4, 3, dtype=mg.float64)))
    assert caught and "spectral_norm updates its power-iteration buffers" in str(caught[0].message)
    compiled, caught = run_compiled(lambda: spectral_norm(nn.Linear(4, 3, dtype=mg.float64)).eval())
    assert len(compiled.programs) == 1 and not caught


def test_compiled_legacy_weight_norm_runs_eagerly() -> None:
    def make() -> nn.Module:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return nn.utils.weight_norm(nn.Linear(4, 3, dtype=mg.float64))
    _, caught = run_compiled(make)
    assert caught and "has hooks" in str(caught[0].message)


def test_compiled_call_sees_assignment_chaining_and_cache() -> None:
    module = P.register_parametrization(nn.Linear(3, 3, dtype=mg.float64), "weight", Symmetric())
    compiled = mg.compile(lambda x: module(x))
    x = mg.tensor(RNG.standard_normal((2, 3)))
    for _ in range(3):
        compiled(x)
    a = RNG.standard_normal((3, 3))
    module.weight = mg.tensor(a + a.T)
    assert_close(compiled(x), (x.numpy() @ (a + a.T).T + module.bias.numpy()))
    P.register_parametrization(module, "weight", Double())
    assert_close(compiled(x), (x.numpy() @ (2 * (a + a.T)).T + module.bias.numpy()))
    for scale in (3.0, 5.0):   # a weight cached outside the call is not what a replay reads
        with P.cached():
            with mg.no_grad():
                module.parametrizations.weight.original.mul_(scale)
            expected = x.numpy() @ module.weight.numpy().T + module.bias.numpy()
            assert_close(compiled(x), expected)


# --- the GPU ---

@pytest.mark.gpu
@pytest.mark.parametrize("wrap", ["weight_norm", "spectral_norm", "orthogonal", "legacy_weight_norm",
                                  "legacy_spectral_norm"])
def test_on_the_gpu_as_on_the_cpu(wrap) -> None:
    def make() -> nn.Module:
        module = nn.Linear(4, 4)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return {"weight_norm": weight_norm, "spectral_norm": spectral_norm, "orthogonal": orthogonal,
                    "legacy_weight_norm": nn.utils.weight_norm,
                    "legacy_spectral_norm": nn.utils.spectral_norm}[wrap](module)

    cpu, gpu = make(), make()
    gpu.load_state_dict(cpu.state_dict())
    gpu.to("cuda")
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    results = []
    for module, device in ((cpu, "cpu"), (gpu, "cuda")):
        y = module(mg.tensor(x, device=device))
        assert y.device.type == device
        (y * y).sum().backward()
        results.append((y.numpy(), [p.grad.numpy() for p in module.parameters()],
                        [b.numpy() for b in module.buffers()]))
    (y_cpu, grads_cpu, buffers_cpu), (y_gpu, grads_gpu, buffers_gpu) = results
    np.testing.assert_allclose(y_gpu, y_cpu, rtol=1e-5, atol=1e-6)
    for a, b in zip(grads_gpu + buffers_gpu, grads_cpu + buffers_cpu):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
