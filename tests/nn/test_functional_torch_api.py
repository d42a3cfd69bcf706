"""nn.functional's signatures and the corners PyTorch code reaches positionally or by keyword: argument
order and names as torch's, the deprecated size_average/reduce pair, weighted mse/l1, softmax's implicit dim."""

from __future__ import annotations

import inspect
import re
import warnings

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="PyTorch is the reference for these tests")
F, TF = nn.functional, torch.nn.functional


def _positional(fn: object) -> list:
    return [p.name for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.POSITIONAL_ONLY)]


def _has_signature(fn: object) -> bool:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):   # a C builtin of torch's (gelu, linear, softplus …): nothing to compare
        return False
    # torch's boolean-dispatch wrappers (max_pool1d …) take (*args, **kwargs): nothing to compare either
    return not any(p.kind is p.VAR_POSITIONAL for p in parameters)


@pytest.mark.parametrize("name", sorted(n for n in F.__all__ if hasattr(TF, n) and callable(getattr(F, n))
                                        and not isinstance(getattr(F, n), type) and _has_signature(getattr(TF, n))))
def test_positional_arguments_are_pytorchs_in_pytorchs_order(name: str) -> None:
    """A call written for PyTorch, positionally or with PyTorch's keyword names, means the same here."""
    ours, theirs = _positional(getattr(F, name)), _positional(getattr(TF, name))
    assert ours == theirs[:len(ours)], f"F.{name}: ours {ours}, torch {theirs}"


def _documented(fn: object) -> list:
    """The parameter names of a torch C builtin, from its docstring's first line: ``linear(input, weight, …)``."""
    match = re.match(r"\s*\w+\(([^)]*)\)", fn.__doc__ or "")
    return [part.split("=")[0].strip() for part in match.group(1).split(",") if part.strip()] if match else []


@pytest.mark.parametrize("name", sorted(n for n in F.__all__ if hasattr(TF, n) and callable(getattr(F, n))
                                        and not isinstance(getattr(F, n), type) and not _has_signature(getattr(TF, n))
                                        and _documented(getattr(TF, n))))
def test_builtins_take_pytorchs_documented_argument_names_in_order(name: str) -> None:
    """torch's C builtins (linear, gelu, conv1d …) have no signature; their docstrings name the arguments."""
    ours, theirs = _positional(getattr(F, name)), [n for n in _documented(getattr(TF, name)) if n not in ("*", "/")]
    assert ours[:len(theirs)] == theirs[:len(ours)], f"F.{name}: ours {ours}, torch {theirs}"


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss", "binary_cross_entropy_with_logits", "mse_loss",
                                  "l1_loss"])
@pytest.mark.parametrize(("size_average", "reduce"), [(True, None), (False, None), (None, False), (False, True)])
def test_the_deprecated_size_average_and_reduce_pair_as_pytorch(name: str, size_average: object,
                                                                 reduce: object) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3))
    target = {"cross_entropy": np.array([0, 2, 1, 2]), "nll_loss": np.array([0, 2, 1, 2])}.get(
        name, rng.random((4, 3)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = getattr(F, name)(mg.tensor(x), mg.tensor(target), size_average=size_average, reduce=reduce)
        theirs = getattr(TF, name)(torch.from_numpy(x), torch.from_numpy(target), size_average=size_average,
                                   reduce=reduce)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_weighted_mse_and_l1_as_pytorch(name: str, reduction: str) -> None:
    rng = np.random.default_rng(1)
    x, y, w = rng.standard_normal((5, 2)), rng.standard_normal((5, 2)), rng.random((5, 2))
    xo, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours = getattr(F, name)(xo, mg.tensor(y), reduction=reduction, weight=mg.tensor(w))
    theirs = getattr(TF, name)(xt, torch.from_numpy(y), reduction=reduction, weight=torch.from_numpy(w))
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-12)
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="weight must have the input's shape"):
        getattr(F, name)(xo, mg.tensor(y), weight=mg.ones(2))


@pytest.mark.parametrize("shape", [(4,), (3, 4), (2, 3, 4), (2, 3, 4, 5)])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_without_a_dim_takes_pytorchs_implicit_dim_with_its_warning(name: str, shape: tuple) -> None:
    x = np.random.default_rng(2).standard_normal(shape)
    with pytest.warns(UserWarning, match="implicit dim"):
        ours = getattr(F, name)(mg.tensor(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = getattr(TF, name)(torch.from_numpy(x))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    np.testing.assert_allclose(getattr(F, name)(mg.tensor(x), -1, dtype=mg.float32).numpy(),
                               getattr(TF, name)(torch.from_numpy(x), -1, dtype=torch.float32).numpy(), rtol=1e-6)
    np.testing.assert_allclose(getattr(F, name)(mg.tensor(x), axis=0).numpy(),
                               getattr(TF, name)(torch.from_numpy(x), 0).numpy(), rtol=1e-12)
