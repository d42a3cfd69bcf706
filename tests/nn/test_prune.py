"""nn.utils.prune against torch 2.13's torch.nn.utils.prune: the reparametrisation (weight_orig Parameter,
weight_mask buffer, weight recomputed by a forward pre-hook), masks of the deterministic methods, outputs and
gradients of pruned Linear / Conv2d / LSTM (weight_hh_l0) with the weights copied over, iterative pruning
(PruningContainer), global_unstructured, state dicts both ways, remove, the validation errors, the random
methods (seeded, counts) and PyTorch's keyword names."""

from __future__ import annotations

import copy
import inspect
import re
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import nn
from nn.utils import prune

RNG = np.random.default_rng(7)


# --- helpers ---

def tprune(torch: Any) -> Any:
    import torch.nn.utils.prune as tp
    return tp


def make_pair(torch: Any, kind: str) -> tuple[nn.Module, Any, np.ndarray]:
    """(ours, torch's, an input) in float64 with torch's weights copied into ours."""
    torch.manual_seed(3)
    if kind == "linear":
        ours, theirs, x = nn.Linear(6, 5), torch.nn.Linear(6, 5), RNG.standard_normal((4, 6))
    elif kind == "conv":
        ours, theirs, x = nn.Conv2d(3, 4, 3), torch.nn.Conv2d(3, 4, 3), RNG.standard_normal((2, 3, 6, 6))
    else:
        ours, theirs, x = nn.LSTM(3, 4), torch.nn.LSTM(3, 4), RNG.standard_normal((5, 2, 3))
    ours.double()
    theirs.double()
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()})
    return ours, theirs, x


def run_both(torch: Any, ours: nn.Module, theirs: Any, x: np.ndarray) -> None:
    """Outputs and the gradients of every parameter (by name, in order) equal torch's."""
    weights = RNG.standard_normal(1)
    y, ty = ours(mg.tensor(x)), theirs(torch.from_numpy(x))
    if isinstance(y, tuple):
        y, ty = y[0], ty[0]
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    ours.zero_grad()
    theirs.zero_grad()
    ((y * y).sum() * float(weights[0])).backward()
    ((ty * ty).sum() * float(weights[0])).backward()
    names = [n for n, _ in ours.named_parameters()]
    assert names == [n for n, _ in theirs.named_parameters()]
    for (name, p), (_, tp_) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp_.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


def same_masks(ours: nn.Module, theirs: Any, name: str) -> None:
    np.testing.assert_array_equal(getattr(ours, name + "_mask").numpy(), getattr(theirs, name + "_mask").numpy())
    np.testing.assert_allclose(getattr(ours, name).numpy(), getattr(theirs, name).detach().numpy(), rtol=1e-12)


def tensor_name(kind: str) -> str:
    return "weight_hh_l0" if kind == "lstm" else "weight"


# --- deterministic methods against torch ---

METHODS: dict[str, Callable] = {
    "identity": lambda p, m, n: p.identity(m, n),
    "l1_int": lambda p, m, n: p.l1_unstructured(m, n, amount=5),
    "l1_frac": lambda p, m, n: p.l1_unstructured(m, n, amount=0.35),
    "ln2_dim0": lambda p, m, n: p.ln_structured(m, n, amount=2, n=2, dim=0),
    "ln1_dim_last": lambda p, m, n: p.ln_structured(m, n, amount=0.4, n=1, dim=-1),
    "ln_inf_dim1": lambda p, m, n: p.ln_structured(m, n, amount=1, n=float("inf"), dim=1),
}


@pytest.mark.parametrize("kind", ["linear", "conv", "lstm"])
@pytest.mark.parametrize("method", sorted(METHODS))
def test_masks_outputs_gradients_and_state_dict_keys_match_torch(torch: Any, kind: str, method: str) -> None:
    ours, theirs, x = make_pair(torch, kind)
    name = tensor_name(kind)
    orig = getattr(ours, name)
    METHODS[method](prune, ours, name)
    METHODS[method](tprune(torch), theirs, name)
    assert getattr(ours, name + "_orig") is orig                 # the same Parameter object, renamed
    assert isinstance(orig, nn.Parameter) and name not in ours._parameters
    assert name + "_mask" in ours._buffers and not isinstance(getattr(ours, name), nn.Parameter)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    same_masks(ours, theirs, name)
    run_both(torch, ours, theirs, x)
    assert prune.is_pruned(ours)


def test_iterative_pruning_combines_masks_as_torch(torch: Any) -> None:
    for kind in ("linear", "conv"):
        ours, theirs, x = make_pair(torch, kind)
        custom = RNG.random(tuple(ours.weight.shape)) > 0.2
        steps = [lambda p, m: p.l1_unstructured(m, "weight", amount=0.2),
                 lambda p, m: p.ln_structured(m, "weight", amount=1, n=2, dim=0),
                 lambda p, m: p.l1_unstructured(m, "weight", amount=0.3),
                 lambda p, m: p.ln_structured(m, "weight", amount=0.5, n=1, dim=1)]
        for step in steps:
            step(prune, ours)
            step(tprune(torch), theirs)
            same_masks(ours, theirs, "weight")
        prune.custom_from_mask(ours, "weight", mask=mg.tensor(custom))
        tprune(torch).custom_from_mask(theirs, "weight", mask=torch.from_numpy(custom))
        same_masks(ours, theirs, "weight")
        hooks = [h for h, _ in ours._hooks["forward_pre"].values()]
        assert len(hooks) == 1 and isinstance(hooks[0], prune.PruningContainer) and len(hooks[0]) == 5
        assert [type(m).__name__ for m in hooks[0]] == ["L1Unstructured", "LnStructured", "L1Unstructured",
                                                         "LnStructured", "CustomFromMask"]
        run_both(torch, ours, theirs, x)


def test_importance_scores_decide_what_is_pruned(torch: Any) -> None:
    ours, theirs, x = make_pair(torch, "conv")
    scores = RNG.standard_normal(tuple(ours.weight.shape))
    prune.l1_unstructured(ours, "weight", amount=0.5, importance_scores=mg.tensor(scores))
    tprune(torch).l1_unstructured(theirs, "weight", amount=0.5, importance_scores=torch.from_numpy(scores))
    same_masks(ours, theirs, "weight")
    scores2 = RNG.standard_normal(tuple(ours.weight.shape))
    prune.ln_structured(ours, "weight", amount=1, n=2, dim=0, importance_scores=mg.tensor(scores2))
    tprune(torch).ln_structured(theirs, "weight", amount=1, n=2, dim=0, importance_scores=torch.from_numpy(scores2))
    same_masks(ours, theirs, "weight")
    run_both(torch, ours, theirs, x)
    with pytest.raises(AssertionError, match="importance_scores should have the same shape"):
        prune.l1_unstructured(ours, "bias", amount=1, importance_scores=mg.zeros(3))


def test_global_unstructured_across_modules_as_torch(torch: Any) -> None:
    lin, tlin, _ = make_pair(torch, "linear")
    conv, tconv, _ = make_pair(torch, "conv")
    params = [(lin, "weight"), (conv, "weight"), (conv, "bias")]
    tparams = [(tlin, "weight"), (tconv, "weight"), (tconv, "bias")]
    prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=40)
    tprune(torch).global_unstructured(tparams, pruning_method=tprune(torch).L1Unstructured, amount=40)
    for (m, n), (tm, _) in zip(params, tparams):
        same_masks(m, tm, n)
    total = sum(int((m.__dict__[n + "_mask"].numpy() == 0).sum()) for m, n in params)
    assert total == 40
    # a second global pruning works on what is left, with importance scores for one tensor
    scores = RNG.standard_normal(tuple(lin.weight.shape))
    prune.global_unstructured(iter(params), pruning_method=prune.L1Unstructured, amount=0.3,
                              importance_scores={(lin, "weight"): mg.tensor(scores)})
    tprune(torch).global_unstructured(tparams, pruning_method=tprune(torch).L1Unstructured, amount=0.3,
                                      importance_scores={(tlin, "weight"): torch.from_numpy(scores)})
    for (m, n), (tm, _) in zip(params, tparams):
        same_masks(m, tm, n)
    with pytest.raises(TypeError, match='Only "unstructured" PRUNING_TYPE'):
        prune.global_unstructured(params, pruning_method=prune.RandomStructured, amount=1)
    with pytest.raises(TypeError, match="importance_scores must be of type dict"):
        prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=1, importance_scores=[1])


# --- state dicts, remove, training ---

def test_state_dict_round_trip_with_torchs_pruned_model(torch: Any) -> None:
    for kind in ("linear", "conv", "lstm"):
        ours, theirs, x = make_pair(torch, kind)
        name = tensor_name(kind)
        prune.l1_unstructured(ours, name, amount=0.3)
        tprune(torch).identity(theirs, name)
        state = {k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()}
        theirs.load_state_dict(state)
        theirs(torch.from_numpy(x))   # the hook recomputes the weight from the loaded mask
        same_masks(ours, theirs, name)
        run_both(torch, ours, theirs, x)
        # and back: torch prunes further, ours (pruned once) loads its state
        tprune(torch).ln_structured(theirs, name, amount=1, n=1, dim=0)
        ours.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()})
        ours(mg.tensor(x))
        same_masks(ours, theirs, name)
        run_both(torch, ours, theirs, x)


def test_remove_makes_the_pruning_permanent(torch: Any) -> None:
    ours, theirs, x = make_pair(torch, "conv")
    orig = ours.weight
    prune.l1_unstructured(ours, "weight", amount=0.5)
    prune.l1_unstructured(ours, "bias", amount=1)
    tprune(torch).l1_unstructured(theirs, "weight", amount=0.5)
    tprune(torch).l1_unstructured(theirs, "bias", amount=1)
    with mg.no_grad():
        ours.weight_orig.add_(1.0)   # a trained weight: remove keeps the masked current values
    with torch.no_grad():
        theirs.weight_orig.add_(1.0)
    assert prune.remove(ours, "weight") is ours
    tprune(torch).remove(theirs, "weight")
    assert ours.weight is orig and isinstance(ours.weight, nn.Parameter)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["bias_orig", "weight", "bias_mask"]
    assert [n for n, _ in ours.named_parameters()] == ["bias_orig", "weight"]
    np.testing.assert_array_equal(ours.weight.numpy(), theirs.weight.detach().numpy())
    assert prune.is_pruned(ours)
    prune.remove(ours, "bias")
    tprune(torch).remove(theirs, "bias")
    assert not prune.is_pruned(ours) and not ours._hooks["forward_pre"]
    run_both(torch, ours, theirs, x)
    with pytest.raises(ValueError, match="Parameter 'weight' of module .* has to be pruned before pruning can be"):
        prune.remove(ours, "weight")


def test_training_keeps_pruned_entries_zero_and_the_module_copies() -> None:
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    prune.l1_unstructured(model[0], "weight", amount=0.5)
    prune.random_structured(model[2], "weight", amount=1, dim=0)
    assert prune.is_pruned(model) and not prune.is_pruned(model[1])
    opt = nn.optim.SGD(model.parameters(), lr=0.1)
    x = mg.randn(5, 4)
    for _ in range(3):
        opt.zero_grad()
        model(x).pow(2).sum().backward()
        mask = model[0].weight_mask.numpy()
        assert np.all(model[0].weight_orig.grad.numpy()[mask == 0] == 0)
        opt.step()
    model(x)
    assert np.all(model[0].weight.numpy()[model[0].weight_mask.numpy() == 0] == 0)
    with pytest.raises(RuntimeError, match="graph leaves"):   # as torch's: module.weight came from a graph
        copy.deepcopy(model)
    with mg.no_grad():
        model(x)
    twin = copy.deepcopy(model)
    with mg.no_grad():
        twin[0].weight_orig.fill_(1.0)
    twin(x)
    np.testing.assert_array_equal(twin[0].weight.numpy(), twin[0].weight_mask.numpy())
    model.double()   # the hook recomputes the weight in the new dtype
    model(x.double())
    assert model[0].weight.dtype == mg.float64


def test_a_failed_pruning_leaves_the_module_as_it_was() -> None:
    lin = nn.Linear(3, 2)
    weight = lin.weight
    with pytest.raises(ValueError, match="amount=7 should be smaller than the number of parameters to prune=6"):
        prune.l1_unstructured(lin, "weight", amount=7)
    assert lin.weight is weight and "weight_orig" not in lin._parameters and not prune.is_pruned(lin)
    prune.l1_unstructured(lin, "weight", amount=2)
    mask = lin.weight_mask.numpy().copy()
    with pytest.raises(ValueError, match="should be smaller than the number of parameters to prune=4"):
        prune.l1_unstructured(lin, "weight", amount=5)   # 4 entries left unpruned
    hooks = [h for h, _ in lin._hooks["forward_pre"].values()]
    assert len(hooks) == 1 and isinstance(hooks[0], prune.L1Unstructured)
    np.testing.assert_array_equal(lin.weight_mask.numpy(), mask)
    prune.l1_unstructured(lin, "weight", amount=1)
    prune.l1_unstructured(lin, "weight", amount=1)
    with pytest.raises(ValueError):
        prune.l1_unstructured(lin, "weight", amount=3)
    container = [h for h, _ in lin._hooks["forward_pre"].values()][0]
    assert isinstance(container, prune.PruningContainer) and len(container) == 3
    assert int((lin.weight_mask.numpy() == 0).sum()) == 4


# --- ties ---

def test_ties_prune_the_lowest_indices_first_and_the_count_is_torchs(torch: Any) -> None:
    """PyTorch keeps whichever tied entries its topk leaves (no index rule; see the module's docstring);
    here the lowest flat indices are pruned first. Off the cut the masks agree; the count always does."""
    values = np.array([[1.0, 2.0, 1.0, 3.0], [2.0, 1.0, 0.5, 1.0]])
    lin = nn.Linear(4, 2)
    lin.weight.data[...] = values
    prune.l1_unstructured(lin, "weight", amount=3)   # 0.5 then two of the four 1.0s: the first two
    np.testing.assert_array_equal(lin.weight_mask.numpy(), [[0, 1, 0, 1], [1, 1, 0, 1]])
    tl = torch.nn.Linear(4, 2)
    with torch.no_grad():
        tl.weight.copy_(torch.from_numpy(values))
    tprune(torch).l1_unstructured(tl, "weight", amount=3)
    assert int((tl.weight_mask == 0).sum()) == 3 and tl.weight_mask[1, 2] == 0
    # structured: tied norms keep the lowest channels
    conv = nn.Conv2d(1, 4, 1)
    conv.weight.data[...] = np.array([1.0, 2.0, 1.0, 1.0]).reshape(4, 1, 1, 1)
    prune.ln_structured(conv, "weight", amount=2, n=1, dim=0)
    np.testing.assert_array_equal(conv.weight_mask.numpy().reshape(-1), [1, 1, 0, 0])


# --- random methods ---

def test_random_methods_are_seeded_and_prune_torchs_count(torch: Any) -> None:
    for amount in (0.0, 0.3, 0.5, 7, 1.0):
        masks = []
        for _ in range(2):
            mg.manual_seed(5)
            lin = nn.Linear(6, 5)
            mg.manual_seed(11)
            prune.random_unstructured(lin, "weight", amount=amount)
            masks.append(lin.weight_mask.numpy())
        np.testing.assert_array_equal(*masks)
        tl = tprune(torch).random_unstructured(torch.nn.Linear(6, 5), "weight", amount=amount)
        assert int((masks[0] == 0).sum()) == int((tl.weight_mask == 0).sum())
    for amount, dim in ((1, 0), (0.5, 1), (0.34, -1), (0, 0)):
        mg.manual_seed(2)
        conv = prune.random_structured(nn.Conv2d(3, 4, 3), "weight", amount=amount, dim=dim)
        mg.manual_seed(2)
        conv2 = prune.random_structured(nn.Conv2d(3, 4, 3), "weight", amount=amount, dim=dim)
        np.testing.assert_array_equal(conv.weight_mask.numpy(), conv2.weight_mask.numpy())
        tconv = tprune(torch).random_structured(torch.nn.Conv2d(3, 4, 3), "weight", amount=amount, dim=dim)
        other = tuple(d for d in range(4) if d != dim % 4)
        ours_pruned = int((conv.weight_mask.numpy().sum(axis=other) == 0).sum())
        assert ours_pruned == int((tconv.weight_mask.sum(dim=other) == 0).sum())
    # iterative random: the second pruning counts among the entries left
    lin = prune.random_unstructured(nn.Linear(10, 10), "weight", amount=0.5)
    prune.random_unstructured(lin, "weight", amount=0.5)
    tl = tprune(torch).random_unstructured(torch.nn.Linear(10, 10), "weight", amount=0.5)
    tprune(torch).random_unstructured(tl, "weight", amount=0.5)
    assert int((lin.weight_mask.numpy() == 0).sum()) == int((tl.weight_mask == 0).sum()) == 75
    mg.manual_seed(1)
    lstm = prune.random_structured(nn.LSTM(3, 4), "weight_hh_l0", amount=2, dim=0)
    assert int((lstm.weight_hh_l0_mask.numpy().sum(axis=1) == 0).sum()) == 2
    y, _ = lstm(mg.randn(3, 1, 3))
    assert y.shape == (3, 1, 4)


# --- errors, the classes, the signatures ---

ERROR_CASES = [
    (lambda p, m: p.l1_unstructured(m, "weight", amount=-1), ValueError),
    (lambda p, m: p.l1_unstructured(m, "weight", amount=1.5), ValueError),
    (lambda p, m: p.random_unstructured(m, "weight", amount="a"), TypeError),
    (lambda p, m: p.l1_unstructured(m, "weight", amount=31), ValueError),
    (lambda p, m: p.ln_structured(m, "bias", amount=1, n=2, dim=0), ValueError),
    (lambda p, m: p.ln_structured(m, "weight", amount=1, n=2, dim=2), IndexError),
    (lambda p, m: p.random_structured(m, "weight", amount=6, dim=0), ValueError),
    (lambda p, m: p.remove(m, "weight"), ValueError),
]


@pytest.mark.parametrize("case", range(len(ERROR_CASES)))
def test_errors_and_messages_as_torch(torch: Any, case: int) -> None:
    call, error = ERROR_CASES[case]
    with pytest.raises(error) as theirs:
        call(tprune(torch), torch.nn.Linear(6, 5))
    with pytest.raises(error) as ours:
        call(prune, nn.Linear(6, 5))
    # the same text but for how each library prints a module and a shape
    def plain(text: str) -> str:
        return re.sub(r"torch\.Size\(\[(\d+)\]\)", r"(\1,)", text).split(" of module")[0]

    assert plain(str(ours.value)).startswith(plain(str(theirs.value)).split("torch.Size")[0])


def test_prune_method_container_checks_and_custom_method() -> None:
    t = mg.tensor(np.arange(1.0, 7.0).reshape(2, 3), requires_grad=True)
    pruned = prune.L1Unstructured(amount=2).prune(t)
    np.testing.assert_array_equal(pruned.numpy(), [[0, 0, 3], [4, 5, 6]])
    pruned.sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [[0, 0, 1], [1, 1, 1]])
    scores = mg.tensor([[9.0, 9.0, 0.0], [9.0, 9.0, 9.0]])
    np.testing.assert_array_equal(prune.L1Unstructured(1).prune(t, importance_scores=scores).numpy(),
                                  [[1, 2, 0], [4, 5, 6]])
    first = prune.Identity()
    first._tensor_name = "weight"
    container = prune.PruningContainer(first)
    with pytest.raises(TypeError, match="is not a BasePruningMethod subclass"):
        container.add_pruning_method(object())
    other = prune.Identity()
    other._tensor_name = "bias"
    with pytest.raises(ValueError, match="Can only add pruning methods acting on the parameter named 'weight'"):
        container.add_pruning_method(other)

    class EveryOther(prune.BasePruningMethod):
        PRUNING_TYPE = "unstructured"

        def compute_mask(self, t: mg.Tensor, default_mask: mg.Tensor) -> mg.Tensor:
            mask = default_mask.clone()
            mask.data.reshape(-1)[::2] = 0
            return mask

    lin = nn.Linear(3, 2)
    EveryOther.apply(lin, "weight")
    np.testing.assert_array_equal(lin.weight_mask.numpy().reshape(-1), [0, 1, 0, 1, 0, 1])
    EveryOther.apply(lin, "weight")   # on the three entries left: the first and the third of them
    np.testing.assert_array_equal(lin.weight_mask.numpy().reshape(-1), [0, 0, 0, 1, 0, 0])


def test_pytorchs_names_and_keywords(torch: Any) -> None:
    tp = tprune(torch)
    for name in ("identity", "random_unstructured", "l1_unstructured", "random_structured", "ln_structured",
                 "global_unstructured", "custom_from_mask", "remove", "is_pruned"):
        assert list(inspect.signature(getattr(prune, name)).parameters) == \
            list(inspect.signature(getattr(tp, name)).parameters), name
    for cls in ("BasePruningMethod", "Identity", "RandomUnstructured", "L1Unstructured", "RandomStructured",
                "LnStructured", "CustomFromMask", "PruningContainer"):
        for method in ("__init__", "apply", "compute_mask", "apply_mask", "prune", "remove"):
            ours, theirs = getattr(getattr(prune, cls), method), getattr(getattr(tp, cls), method)
            assert list(inspect.signature(ours).parameters) == list(inspect.signature(theirs).parameters), \
                f"{cls}.{method}"
        assert getattr(prune, cls).__dict__.get("PRUNING_TYPE") == getattr(tp, cls).__dict__.get("PRUNING_TYPE")
    assert nn.utils.prune is prune
