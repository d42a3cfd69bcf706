"""Recurrent layers under the wrappers PyTorch users put on them, against torch, round 20.

A differential fuzz (/tmp/fuzz20_rnnwrap.py: RNN/LSTM/GRU with 1-3 layers, bidirectional, proj_size, batch_first,
eval-mode dropout, bias=False, packed input sorted or not, h0/c0 given or not, float32/64, weights copied) under
``parametrizations.weight_norm``/``spectral_norm``/``orthogonal``, the legacy ``weight_norm``/``spectral_norm``,
``prune`` (l1, random_structured, global, ``remove``), ``parametrize.cached()``, ``flatten_parameters()``,
``functional_call``, forward/backward hooks, state dict round trips, ``deepcopy``, ``.double()/.half()/.to()``,
``clip_grad_norm_``, custom parametrizations, and ``compile=True``/``mg.compile`` with the originals changed between
calls matched torch's outputs, states, input and original-parameter gradients and state dicts, except for:

- a parametrization that changes a weight's shape (``unsafe=True``): the step op refused it with a ValueError,
  PyTorch with a RuntimeError;
- a weight or bias of another dtype than the others (a Parameter of another dtype assigned to it, or an unsafe
  parametrization): PyTorch refuses it (RuntimeError), minigrad promoted to float64 silently (the layers' and
  cells' forward now call ``_recurrent_checks.check_weight_dtypes``);
- setting a parametrized weight (``layer.weight_hh_l0 = value``, or ``functional_call`` replacing it) did not count
  as an in-place change of the originals (PyTorch's ``set_`` does): a backward through an earlier forward gave the
  originals gradients taken at other values where PyTorch raises;
- ``copy.deepcopy`` gave each copy of a parametrized module a class of its own, so ``stack_module_state`` of copies
  raised where PyTorch's works.
"""

from __future__ import annotations

import copy
import importlib
from typing import Any

import numpy as np
import pytest

import minigrad as mg


@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch", reason="no torch")
    importlib.import_module("torch.nn.utils.prune")   # not imported by torch itself
    return torch


def _load(lib: Any, module: Any, seed: int) -> None:
    rng = np.random.default_rng(seed)
    module.load_state_dict({k: lib.from_numpy(rng.uniform(-0.6, 0.6, tuple(v.shape)))
                            for k, v in sorted(module.state_dict().items())})


def _raised(call: Any) -> type | None:
    try:
        call()
    except Exception as error:  # noqa: BLE001  (the class is what is compared)
        return type(error)
    return None


@pytest.mark.parametrize(("kind", "name"), [("RNN", "weight_hh_l0"), ("GRU", "weight_hh_l0"), ("LSTM", "bias_hh_l0"),
                                            ("GRU", "bias_hh_l0"), ("RNN", "weight_ih_l0")])
def test_a_parametrization_that_changes_a_weights_shape_raises_runtime_error_as_pytorch(torch, kind: str,
                                                                                          name: str) -> None:
    raised = {}
    for lib in (torch, mg):
        class DropRow(lib.nn.Module):
            def forward(self, weight: Any) -> Any:
                return weight[:-1]

        layer = getattr(lib.nn, kind)(2, 3, dtype=lib.float64)
        lib.nn.utils.parametrize.register_parametrization(layer, name, DropRow(), unsafe=True)
        raised[lib] = _raised(lambda: layer(lib.zeros(3, 2, 2, dtype=lib.float64)))   # noqa: B023
    assert raised[torch] is RuntimeError
    assert raised[mg] is not None and issubclass(raised[mg], RuntimeError)


_MIXED = [(kind, name, dtype) for kind in ("RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell")
          for name in ("weight_hh", "bias_ih", "bias_hh") for dtype in ("float32", "float64")]


@pytest.mark.parametrize(("kind", "name", "dtype"), _MIXED)
def test_a_weight_of_another_dtype_raises_as_pytorch_instead_of_promoting(torch, kind: str, name: str,
                                                                          dtype: str) -> None:
    raised = {}
    for lib in (torch, mg):
        base = getattr(lib, dtype)
        other = lib.float64 if dtype == "float32" else lib.float32
        module = getattr(lib.nn, kind)(2, 3, dtype=base)
        attribute = name if "Cell" in kind else f"{name}_l0"
        setattr(module, attribute, lib.nn.Parameter(getattr(module, attribute).detach().to(other)))
        shape = (1, 2) if "Cell" in kind else (2, 1, 2)
        raised[lib] = _raised(lambda: module(lib.zeros(*shape, dtype=base)))   # noqa: B023
    assert raised[torch] is RuntimeError
    assert raised[mg] is not None and issubclass(raised[mg], RuntimeError)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_compiled_parametrized_and_pruned_layers_follow_their_originals_as_pytorch(torch, kind: str) -> None:
    """compile=True on a layer with weight_norm on one weight and l1 pruning on another: the second call, after
    the originals and the mask changed in place, computes with the new values (outputs and gradients as torch's)."""
    x = np.random.default_rng(0).standard_normal((4, 2, 3))
    seen = {}
    for lib in (torch, mg):
        layer = getattr(lib.nn, kind)(3, 4, num_layers=2, bidirectional=True, dtype=lib.float64)
        _load(lib, layer, 1)
        lib.nn.utils.parametrizations.weight_norm(layer, "weight_hh_l0")
        lib.nn.utils.prune.l1_unstructured(layer, "weight_ih_l1_reverse", amount=0.3)
        if lib is mg:
            layer.compile = True
        results = []
        for _ in range(2):
            inputs = lib.from_numpy(x).requires_grad_()
            output = layer(inputs)[0]
            (output * output).sum().backward()
            results += [output.detach().numpy().copy(), inputs.grad.numpy().copy()]
            results += [p.grad.numpy().copy() for _, p in sorted(layer.named_parameters())]
            layer.zero_grad()
            with lib.no_grad():
                layer.parametrizations.weight_hh_l0.original0.mul_(1.5)
                layer.parametrizations.weight_hh_l0.original1.add_(0.25)
                layer.weight_ih_l1_reverse_mask[0] = 0
                layer.weight_ih_l1_reverse_orig.add_(0.1)
        seen[lib] = results
    assert len(seen[mg]) == len(seen[torch])
    for ours, theirs in zip(seen[mg], seen[torch]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("how", ["assign", "functional_call"])
@pytest.mark.parametrize("kind", ["RNN", "LSTM"])
def test_a_backward_after_a_parametrized_weight_was_set_raises_as_pytorch(torch, kind: str, how: str) -> None:
    """Setting a parametrized weight (``layer.weight_hh_l0 = value``, or ``functional_call`` with
    ``{"weight_hh_l0": value}``, which sets it and sets it back) replaces the originals as PyTorch's ``set_``: an
    in-place change, so a backward through a forward that read the old originals raises RuntimeError. minigrad
    gave the originals gradients taken at other values than theirs (and none to the tensor passed in)."""
    raised = {}
    for lib in (torch, mg):
        layer = getattr(lib.nn, kind)(2, 3, dtype=lib.float64)
        _load(lib, layer, 0)
        lib.nn.utils.parametrizations.weight_norm(layer, "weight_hh_l0")
        value = lib.from_numpy(np.random.default_rng(1).uniform(-0.5, 0.5, tuple(layer.weight_hh_l0.shape)))
        x = lib.ones(3, 1, 2, dtype=lib.float64)
        if how == "assign":
            output = layer(x)[0]
            layer.weight_hh_l0 = value
        else:
            output = lib.func.functional_call(layer, {"weight_hh_l0": value.requires_grad_()}, (x,))[0]
        raised[lib] = _raised(lambda: output.sum().backward())   # noqa: B023
    assert raised[torch] is RuntimeError
    assert raised[mg] is not None and issubclass(raised[mg], RuntimeError)


def test_deep_copies_of_a_parametrized_layer_share_its_class_and_stack_as_pytorch(torch) -> None:
    """``[copy.deepcopy(model) for _ in range(n)]`` then ``stack_module_state`` (the ensembling recipe) works on
    weight-normed models in PyTorch; minigrad gave each copy a class of its own, which stack_module_state
    refused. Removing the parametrization from one copy still leaves the others (and the original) theirs."""
    stacked = {}
    for lib in (torch, mg):
        layer = lib.nn.Linear(3, 2, dtype=lib.float64)
        _load(lib, layer, 0)
        lib.nn.utils.parametrizations.weight_norm(layer, "weight")
        copies = [copy.deepcopy(layer) for _ in range(3)]
        assert all(type(c) is type(layer) for c in copies)
        params, _ = lib.func.stack_module_state(copies)
        stacked[lib] = {k: v.detach().numpy() for k, v in params.items()}
    assert list(stacked[mg]) == list(stacked[torch])
    for name in stacked[torch]:
        np.testing.assert_allclose(stacked[mg][name], stacked[torch][name], rtol=1e-12)
    lstm = mg.nn.LSTM(3, 4)
    mg.nn.utils.parametrizations.weight_norm(lstm, "weight_hh_l0")
    first, second = copy.deepcopy(lstm), copy.deepcopy(lstm)
    mg.nn.utils.parametrize.remove_parametrizations(first, "weight_hh_l0")
    mg.nn.utils.parametrizations.weight_norm(second, "weight_ih_l0")
    assert lstm.weight_hh_l0.shape == (16, 4) and not mg.nn.utils.parametrize.is_parametrized(lstm, "weight_ih_l0")
    assert "weight_ih_l0" in lstm._parameters and lstm.weight_ih_l0.shape == (16, 3)
    assert first(mg.zeros(2, 1, 3))[0].shape == second(mg.zeros(2, 1, 3))[0].shape == lstm(mg.zeros(2, 1, 3))[0].shape
