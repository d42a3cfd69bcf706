"""Round 18, leftovers (second batch), each compared with PyTorch 2.13: saved tensors that were checked although
the gradient does not read them (erfinv's result, the input of expm1, ndtr, ndtri and of ldexp with a float
exponent: ours raised "modified by an inplace operation" where PyTorch gives the gradient)."""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")

A = np.random.default_rng(1).uniform(0.2, 0.8, (3, 4))
B = np.random.default_rng(2).uniform(0.2, 0.8, (3, 4))


def _outcome(lib: Any, program: Callable, order: int = 1) -> Any:
    """``program(lib, x)`` with x a float64 leaf, giving the loss: 'raise' if it or the gradient raises
    RuntimeError, else x's gradient (``order=2``: the gradient of the gradient's sum, through create_graph)."""
    x = lib.tensor(A, requires_grad=True)
    try:
        loss = program(lib, x)
        (g,) = lib.autograd.grad(loss, x, create_graph=order == 2)
        if order == 2:
            (g,) = lib.autograd.grad(g.sum(), x)
    except RuntimeError:
        return "raise"
    return np.array(g.detach().numpy() if lib is torch else g.numpy())


def _same_as_torch(program: Callable, order: int = 1) -> Any:
    theirs, ours = _outcome(torch, program, order), _outcome(mg, program, order)
    if isinstance(theirs, str) or isinstance(ours, str):
        assert isinstance(theirs, str) and isinstance(ours, str), (theirs if isinstance(theirs, str) else "a gradient",
                                                                   ours if isinstance(ours, str) else "a gradient")
    else:
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    return theirs


def _op(lib: Any, name: str) -> Callable:
    if name == "ldexp":   # a float exponent that needs a gradient: its gradient reads the result in PyTorch
        w = lib.tensor(B, requires_grad=True) * 1
        return lambda y: lib.ldexp(y, w)
    return getattr(lib.special, name) if name in ("ndtr", "ndtri") else getattr(lib, name)


def _changed(name: str, which: str) -> Callable:
    def program(lib: Any, x: Any) -> Any:
        y = x * 1
        z = _op(lib, name)(y)
        (y if which == "input" else z).mul_(1.5)
        return (z * lib.tensor(B)).sum()
    return program


CHANGES = [(name, which) for name in ("erfinv", "expm1", "ndtr", "ndtri") for which in ("input", "result")] + [
    ("ldexp", "input")]   # ldexp's result changed: PyTorch refuses, ours gives the (right) gradient of the new loss


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("name, which", CHANGES)
def test_a_saved_tensor_is_checked_only_where_pytorch_saves_it(name: str, which: str, order: int) -> None:
    # erfinv: PyTorch recomputes erfinv(x) (the result may change); expm1 and ndtri save their result (the input
    # may change; ours read a copy of x: expm1's exp(x) and ndtri's float64 y stay exact); ndtr is a composite
    # whose erf saves its own x/√2 (either may change); ldexp's exponent gradient reads the result
    _same_as_torch(_changed(name, which), order)


def test_expm1_keeps_its_exact_gradient_in_the_negative_tail() -> None:
    # PyTorch's y + 1 rounds to 0 at x = -30 in float32; ours (and PyTorch's ELU) give exp(x)
    x = mg.tensor([-30.0, -1e-3], requires_grad=True)
    mg.expm1(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([-30.0, -1e-3]), rtol=1e-6)


NUMPY_SCALARS = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64, np.bool_,
                 np.float16, np.float32]


@pytest.mark.parametrize("kind", NUMPY_SCALARS, ids=lambda t: t.__name__)
@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_complex_zero_to_a_numpy_scalar_power_is_pytorchs(dtype: str, kind: type) -> None:
    # mg.tensor(0j) ** np.int64(0) was NaN + NaN j (a NumPy scalar went the tensor-exponent way, exp(0 · log 0));
    # PyTorch reads a NumPy scalar as a Python number: 1 + 0j, and 0j (not -0j) for 1 and 2. A 0-d int tensor
    # exponent is a tensor in both: NaN + NaN j. (The dtype stays NumPy 2's: complex64 ** np.int64 is complex128.)
    for e in (0, 1) if kind is np.bool_ else (0, 1, 2):
        ours = (mg.tensor([0j, 1 + 2j], dtype=dtype) ** kind(e)).numpy()
        theirs = (torch.tensor([0j, 1 + 2j], dtype=getattr(torch, dtype)) ** kind(e)).numpy()
        np.testing.assert_array_equal(ours, theirs)
        assert str(ours[0]) == str(theirs[0])   # the sign of a zero part
    theirs = torch.tensor(0j, dtype=getattr(torch, dtype)) ** torch.tensor(0)
    assert np.isnan((mg.tensor(0j, dtype=dtype) ** mg.tensor(0)).numpy()) and np.isnan(theirs.numpy())


def test_a_numpy_scalar_power_saves_no_result() -> None:
    # as a Python number exponent: x ** np.int64(2) changed in place before backward is not refused
    def program(lib: Any, x: Any) -> Any:
        z = (x * 1) ** np.int64(2)
        z.mul_(1.5)
        return (z * lib.tensor(B)).sum()
    assert not isinstance(_same_as_torch(program), str)


@pytest.mark.parametrize("walk", [list, tuple, iter])
def test_iterating_a_tensor_is_one_unbind(walk: Callable) -> None:
    # the rows were x[i] each (SelectBackward0 nodes, one per row); PyTorch's are x.unbind(0): one
    # UnbindBackward0 node, whose rows refuse an in-place change while recording (a multi-output view)
    for lib in (torch, mg):
        x = lib.tensor(A, requires_grad=True)
        rows = list(walk(x * 1))
        assert [r.grad_fn.name() for r in rows] == ["UnbindBackward0"] * 3
        assert all(r.grad_fn is rows[0].grad_fn for r in rows)
        (rows[0] * 2 + rows[2] * 3).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy() if lib is mg else x.grad.detach().numpy(),
                                      np.repeat([[2.0], [0.0], [3.0]], 4, axis=1))
        with pytest.raises(RuntimeError):
            for row in x * 1:
                row.add_(1)


@pytest.mark.parametrize("make", ["asarray", "asarray_copy_false", "as_tensor", "from_numpy", "asarray_1d"])
def test_asarray_of_a_0d_numpy_array_copies_as_pytorchs(make: str) -> None:
    # mg.asarray(np.array(3.0)) shared the array's memory; PyTorch's asarray reads a 0-d NumPy array as a scalar
    # (a copy, even with copy=False), while as_tensor, from_numpy and asarray of a 1-d array share it
    def shares(lib: Any) -> tuple:
        source = np.array([3.0]) if make == "asarray_1d" else np.array(3.0, dtype=np.float32)
        name = make.removesuffix("_copy_false").removesuffix("_1d")
        t = getattr(lib, name)(source, copy=False) if make.endswith("copy_false") else getattr(lib, name)(source)
        source[...] = 7
        return float(t.reshape(-1)[0].item()), str(t.dtype).removeprefix("torch."), tuple(t.shape)
    assert shares(mg) == shares(torch)


@pytest.mark.parametrize("name", ["unsafe_split", "unsafe_chunk", "unsafe_split_with_sizes"])
def test_unsafe_split_parts_may_be_changed_in_place(name: str) -> None:
    # PyTorch documents unsafe_split as split without the autograd refusal of in-place ops on its parts: the op
    # is recorded on the part alone (its memory, and so the input's values, still change). Ours refused it as
    # split does. (Changing the input and then using a part's saved value raises here; PyTorch's separate
    # version counters read the changed values silently, as its docs warn.)
    def program(lib: Any, x: Any) -> Any:
        y = x * 1
        parts = getattr(lib, name)(y, [2, 1] if name.endswith("sizes") else 2)
        parts[0].mul_(2)
        return (parts[0] * 3).sum() + (parts[1] ** 2).sum() + (y * lib.tensor(B)).sum()
    assert not isinstance(_same_as_torch(program), str)


def _init_and_dropout_cases(lib: Any) -> dict:
    init = (torch.nn if lib is torch else nn).init
    F = torch.nn.functional if lib is torch else nn.functional
    return {
        "orthogonal_": (lambda: lib.empty(3, 5), lambda x: init.orthogonal_(x)),
        "sparse_": (lambda: lib.empty(4, 3), lambda x: init.sparse_(x, 0.5)),
        "dirac_": (lambda: lib.empty(4, 2, 3), lambda x: init.dirac_(x, 2)),
        "dropout1d_unbatched": (lambda: lib.ones(3, 4), lambda x: F.dropout1d(x, 0.5, True, inplace=True)),
        "dropout1d_unbatched_eval": (lambda: lib.ones(3, 4), lambda x: F.dropout1d(x, 0.5, False, inplace=True)),
        "dropout3d_unbatched": (lambda: lib.ones(3, 2, 2, 2), lambda x: F.dropout3d(x, 0.5, True, inplace=True)),
        "alpha_dropout": (lambda: lib.ones(3, 4), lambda x: F.alpha_dropout(x, 0.5, True, inplace=True)),
        "feature_alpha_dropout": (lambda: lib.ones(3, 4),
                                  lambda x: F.feature_alpha_dropout(x, 0.5, True, inplace=True)),
    }


@pytest.mark.parametrize("name", sorted(_init_and_dropout_cases(mg)))
def test_version_after_init_and_in_place_dropout_is_pytorchs(name: str) -> None:
    # each was 1: PyTorch's functions make several in-place ops (orthogonal_: copy_ and mul_; sparse_: normal_
    # and a write per column; dirac_: zero_ and a write per delta; alpha dropout: mul_ and add_; an unbatched
    # channel dropout: unsqueeze_ and squeeze_ around it)
    versions = []
    for lib in (torch, mg):
        make, call = _init_and_dropout_cases(lib)[name]
        x = make()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call(x)
        versions.append(x._version)
    assert versions[1] == versions[0]
