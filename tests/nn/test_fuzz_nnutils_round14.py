"""Differential fuzzing of nn.utils against torch 2.13's torch.nn.utils (round 14): the cases where the two differed.

prune.ln_structured with n="fro" over more than two dims and n="nuc" (torch.norm hands both to
linalg.matrix_norm: a nuclear norm over exactly two dims, else its RuntimeError), a bool ``amount=True`` (torch's
topk/kthvalue TypeError in the methods that pass the count to them; ln_structured prunes one channel),
vector_to_parameters with a vector that is not 1-D (torch's RuntimeError, IndexError for a 0-d one), and the legacy
weight_norm/spectral_norm on a name that is not a parameter (a buffer, an already reparametrised weight: torch's
KeyError).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn
from nn.utils import prune

W3 = np.sin(np.arange(12) * 1.7).reshape(3, 2, 2)          # a Conv1d weight (out, in, k)
W4 = np.sin(np.arange(24) * 1.7).reshape(3, 2, 2, 2)       # a Conv2d weight


def _pair(torch: Any, weight: np.ndarray) -> tuple[nn.Module, Any]:
    """(ours, torch's) modules holding ``weight`` as the parameter ``w``."""
    ours, theirs = nn.Module(), torch.nn.Module()
    ours.w = nn.Parameter(mg.tensor(weight))
    theirs.w = torch.nn.Parameter(torch.tensor(weight))
    return ours, theirs


def _torch_error(fn: Any) -> type:
    with pytest.raises(Exception) as info:
        fn()
    return info.type


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_ln_structured_nuclear_norm_over_two_dims_matches_torch(torch: Any, dim: int) -> None:
    import torch.nn.utils.prune as tp
    ours, theirs = _pair(torch, W3)
    prune.ln_structured(ours, "w", amount=1, n="nuc", dim=dim)
    tp.ln_structured(theirs, "w", amount=1, n="nuc", dim=dim)
    np.testing.assert_array_equal(ours.w_mask.numpy(), theirs.w_mask.numpy())


@pytest.mark.parametrize("n", ["fro", "nuc"])
def test_ln_structured_matrix_norm_over_three_dims_raises_like_torch(torch: Any, n: str) -> None:
    import torch.nn.utils.prune as tp
    ours, theirs = _pair(torch, W4)
    expected = _torch_error(lambda: tp.ln_structured(theirs, "w", amount=1, n=n, dim=0))
    assert expected is RuntimeError
    with pytest.raises(RuntimeError, match="matrix_norm"):
        prune.ln_structured(ours, "w", amount=1, n=n, dim=0)
    assert not prune.is_pruned(ours)


def test_ln_structured_nuclear_norm_over_one_dim_raises_like_torch(torch: Any) -> None:
    import torch.nn.utils.prune as tp
    ours, theirs = _pair(torch, W3[:, :, 0])
    assert _torch_error(lambda: tp.ln_structured(theirs, "w", amount=1, n="nuc", dim=0)) is RuntimeError
    with pytest.raises(RuntimeError, match="matrix_norm"):
        prune.ln_structured(ours, "w", amount=1, n="nuc", dim=0)


def test_ln_structured_frobenius_over_two_dims_still_matches_torch(torch: Any) -> None:
    import torch.nn.utils.prune as tp
    for weight in (W3, W3[:, :, 0]):
        ours, theirs = _pair(torch, weight)
        prune.ln_structured(ours, "w", amount=1, n="fro", dim=1)
        tp.ln_structured(theirs, "w", amount=1, n="fro", dim=1)
        np.testing.assert_array_equal(ours.w_mask.numpy(), theirs.w_mask.numpy())


@pytest.mark.parametrize("method", ["l1_unstructured", "random_unstructured", "random_structured"])
def test_amount_true_raises_torchs_type_error(torch: Any, method: str) -> None:
    import torch.nn.utils.prune as tp
    kwargs = {"dim": 0} if method == "random_structured" else {}
    ours, theirs = _pair(torch, W3[:, :, 0])
    assert _torch_error(lambda: getattr(tp, method)(theirs, "w", amount=True, **kwargs)) is TypeError
    with pytest.raises(TypeError, match="bool"):
        getattr(prune, method)(ours, "w", amount=True, **kwargs)


def test_amount_true_global_and_false_and_ln_structured_match_torch(torch: Any) -> None:
    import torch.nn.utils.prune as tp
    ours, theirs = _pair(torch, W3[:, :, 0])
    assert _torch_error(lambda: tp.global_unstructured([(theirs, "w")], tp.L1Unstructured, amount=True)) is TypeError
    with pytest.raises(TypeError, match="bool"):
        prune.global_unstructured([(ours, "w")], prune.L1Unstructured, amount=True)
    for amount in (True, False):   # ln_structured passes the count to keep to topk: True prunes one channel
        ours, theirs = _pair(torch, W3[:, :, 0])
        prune.ln_structured(ours, "w", amount=amount, n=1, dim=0)
        tp.ln_structured(theirs, "w", amount=amount, n=1, dim=0)
        np.testing.assert_array_equal(ours.w_mask.numpy(), theirs.w_mask.numpy())
    ours, theirs = _pair(torch, W3[:, :, 0])
    prune.l1_unstructured(ours, "w", amount=False)
    tp.l1_unstructured(theirs, "w", amount=False)
    np.testing.assert_array_equal(ours.w_mask.numpy(), theirs.w_mask.numpy())


def test_vector_to_parameters_error_classes_match_torch(torch: Any) -> None:
    ours, theirs = nn.Linear(3, 2), torch.nn.Linear(3, 2)
    cases = [(np.ones((1, 8)), RuntimeError), (np.float64(1.0), IndexError)]
    for value, cls in cases:
        tvec = torch.tensor(value)
        assert _torch_error(lambda v=tvec: torch.nn.utils.vector_to_parameters(v, theirs.parameters())) is cls
        with pytest.raises(cls, match="1-D"):
            nn.utils.vector_to_parameters(mg.tensor(value), ours.parameters())
    with pytest.raises(TypeError):
        nn.utils.vector_to_parameters([1.0] * 8, ours.parameters())


@pytest.mark.parametrize("which", ["weight_norm", "spectral_norm"])
def test_legacy_norms_on_a_buffer_raise_torchs_key_error(torch: Any, which: str) -> None:
    ours, theirs = nn.Linear(3, 2), torch.nn.Linear(3, 2)
    ours.register_buffer("buf", mg.ones(2, 2))
    theirs.register_buffer("buf", torch.ones(2, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        assert _torch_error(lambda: getattr(torch.nn.utils, which)(theirs, "buf")) is KeyError
        with pytest.raises(KeyError, match="buf"):
            getattr(nn.utils, which)(ours, "buf")
    assert "buf" in ours._buffers


@pytest.mark.parametrize("first, second", [("weight_norm", "spectral_norm"), ("spectral_norm", "weight_norm")])
def test_legacy_norms_stacked_raise_torchs_key_error(torch: Any, first: str, second: str) -> None:
    ours, theirs = nn.Linear(3, 2), torch.nn.Linear(3, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        getattr(torch.nn.utils, first)(theirs)
        getattr(nn.utils, first)(ours)
        assert _torch_error(lambda: getattr(torch.nn.utils, second)(theirs)) is KeyError
        with pytest.raises(KeyError, match="weight"):
            getattr(nn.utils, second)(ours)


def test_parametrized_weight_then_legacy_weight_norm_raises_torchs_key_error(torch: Any) -> None:
    ours, theirs = nn.Linear(3, 2), torch.nn.Linear(3, 2)
    nn.utils.parametrizations.weight_norm(ours)
    torch.nn.utils.parametrizations.weight_norm(theirs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        assert _torch_error(lambda: torch.nn.utils.weight_norm(theirs)) is KeyError
        with pytest.raises(KeyError, match="weight"):
            nn.utils.weight_norm(ours)


def test_ln_structured_n_none_is_the_two_norm_as_torch(torch: Any) -> None:
    import torch.nn.utils.prune as tp
    for weight, dim in ((W3, 1), (W4, 0), (W3[:, :, 0], 1)):
        ours, theirs = _pair(torch, weight)
        prune.ln_structured(ours, "w", amount=1, n=None, dim=dim)
        tp.ln_structured(theirs, "w", amount=1, n=None, dim=dim)
        np.testing.assert_array_equal(ours.w_mask.numpy(), theirs.w_mask.numpy())


@pytest.mark.parametrize("buffer", [False, True])
def test_remove_parametrizations_after_an_unsafe_dtype_change_raises_like_torch(torch: Any, buffer: bool) -> None:
    import torch.nn.utils.parametrize as tparam

    class ToDouble(nn.Module):
        def forward(self, x: mg.Tensor) -> mg.Tensor:
            return x.double()

    class TorchToDouble(torch.nn.Module):
        def forward(self, x: Any) -> Any:
            return x.double()

    ours, theirs = nn.Linear(3, 2), torch.nn.Linear(3, 2)
    name = "buf" if buffer else "weight"
    if buffer:
        ours.register_buffer("buf", mg.ones(2))
        theirs.register_buffer("buf", torch.ones(2))
    nn.utils.parametrize.register_parametrization(ours, name, ToDouble(), unsafe=True)
    tparam.register_parametrization(theirs, name, TorchToDouble(), unsafe=True)
    assert _torch_error(lambda: tparam.remove_parametrizations(theirs, name)) is RuntimeError
    with pytest.raises(RuntimeError, match="leave_parametrized=False"):
        nn.utils.parametrize.remove_parametrizations(ours, name)
    assert str(getattr(ours, name).dtype) == "float64"   # still parametrized
    nn.utils.parametrize.remove_parametrizations(ours, name, leave_parametrized=False)
    tparam.remove_parametrizations(theirs, name, leave_parametrized=False)
    assert str(getattr(ours, name).dtype) == "float32" and getattr(theirs, name).dtype == torch.float32
