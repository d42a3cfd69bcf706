"""Round 25, in-place leftovers, against PyTorch 2.13.

An in-place op, with gradients recorded, on a part of an ``expand``-ed view (or of overlapping ``unfold`` windows)
whose elements no longer share memory: ``b.expand(2, 3)[:, :1].mul_(5)``. PyTorch writes any view through its
base's as_strided; minigrad wrote through each view in turn, so the expanded view between refused the write
(a differential sweep of 22 view chains x 28 in-place ops x {non-leaf base, plain base with an operand that
requires grad, no_grad}: 933 of 1,518 cases raised where PyTorch computes, and 4 fills of
``b.expand(3, 3).diagonal()`` gave wrong values and gradients silently; after the fix 0 and 0, with 2 fills of an
overlapping part computed where PyTorch's backward refuses them).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _tensor(lib: Any, values: Any, requires_grad: bool = False) -> Any:
    if lib is torch:
        return torch.tensor(values, dtype=torch.float64, requires_grad=requires_grad)
    return mg.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def _numpy(t: Any) -> np.ndarray:
    return np.array(t.detach().numpy())


# (name, base shape, views of b: every tensor made on the way, the written part last)
_CHAINS: list[tuple[str, tuple, Callable[[Any], list]]] = [
    ("expand[:, :1]", (2, 1), lambda b: (lambda e: [e, e[:, :1]])(b.expand(2, 3))),
    ("expand[0]", (3,), lambda b: (lambda e: [e, e[0]])(b.expand(4, 3))),
    ("expand.t()[:1]", (2, 1), lambda b: (lambda e: (lambda t: [e, t, t[:1]])(e.t()))(b.expand(2, 3))),
    ("expand[:, 0].unsqueeze", (2, 1), lambda b: (lambda e: (lambda p: [e, p, p.unsqueeze(0)])(e[:, 0]))(
        b.expand(2, 3))),
    ("view.expand[:, :1]", (2, 2), lambda b: (lambda v: (lambda e: [v, e, e[:, :1]])(v.expand(2, 3)))(b[:, 1:])),
    ("expand.diagonal", (3, 1), lambda b: (lambda e: [e, e.diagonal()])(b.expand(3, 3))),
    ("unfold[:, 0]", (5,), lambda b: (lambda w: [w, w[:, 0]])(b.unfold(0, 2, 1))),
]

_OPS: list[tuple[str, bool, Callable[[Any, Any], Any]]] = [
    ("mul_(5)", False, lambda x, w: x.mul_(5.0)),
    ("add_(w, alpha=2)", True, lambda x, w: x.add_(w, alpha=2)),
    ("tanh_", False, lambda x, w: x.tanh_()),
    ("copy_(w)", True, lambda x, w: x.copy_(w)),
    ("x[...] = w", True, lambda x, w: x.__setitem__(Ellipsis, w)),
    ("fill_(2)", False, lambda x, w: x.fill_(2.0)),
]


def _run(lib: Any, chain: Callable, base_shape: tuple, op: Callable, with_operand: bool, plain_base: bool) -> tuple:
    """The op on the chain's last view; then every tensor's values and, after a backward of a weighted sum of them
    all, the gradients of the leaf ``a`` (b = a * 1) and of the operand ``w``."""
    rng = np.random.default_rng(sum(base_shape) + 7 * with_operand)
    a = _tensor(lib, rng.uniform(0.5, 2.0, base_shape), requires_grad=not plain_base)
    b = a * 1 if not plain_base else a
    tensors = chain(b)
    w = _tensor(lib, rng.uniform(0.5, 2.0, tuple(tensors[-1].shape)), requires_grad=True) if with_operand else None
    op(tensors[-1], w)
    loss = 0
    for i, t in enumerate([b] + tensors):
        loss = loss + (t * _tensor(lib, np.random.default_rng(i).uniform(-1, 1, tuple(t.shape)))).sum()
    loss.backward()
    leaves = (w,) if plain_base else (a, w)   # (a plain base written in place is no leaf any more)
    grads = [None if t is None or t.grad is None else _numpy(t.grad) for t in leaves]
    return [_numpy(t) for t in [b] + tensors], grads


@pytest.mark.parametrize("op_name, with_operand, op", _OPS, ids=[o[0] for o in _OPS])
@pytest.mark.parametrize("chain_name, base_shape, chain", _CHAINS, ids=[c[0] for c in _CHAINS])
def test_inplace_on_a_part_of_an_expanded_view_records_as_pytorch(chain_name: str, base_shape: tuple, chain: Callable,
                                                                  op_name: str, with_operand: bool,
                                                                  op: Callable) -> None:
    """A non-leaf base (or, with an operand that requires grad, a base that does not): values of the base and of
    every view, and the gradients, as PyTorch's (the write reaches the base where the part reads its memory)."""
    for plain_base in (False, True) if with_operand else (False,):
        values, grads = _run(mg, chain, base_shape, op, with_operand, plain_base)
        expected_values, expected_grads = _run(torch, chain, base_shape, op, with_operand, plain_base)
        for got, want in zip(values, expected_values):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
        for got, want in zip(grads, expected_grads):
            assert (got is None) == (want is None)
            if want is not None:
                np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_the_issue_example() -> None:
    a = mg.tensor([[1.0], [2.0]], dtype=mg.float64, requires_grad=True)
    e = (a * 1).expand(2, 3)
    e[:, :1].mul_(5)
    (e * mg.arange(6.0, dtype=mg.float64).reshape(2, 3)).sum().backward()
    np.testing.assert_array_equal(e.numpy(), [[5.0] * 3, [10.0] * 3])
    np.testing.assert_array_equal(a.grad.numpy(), [[15.0], [60.0]])   # torch's


def test_a_part_of_overlapping_unfold_windows_is_written_without_grad_too() -> None:
    """``b.unfold(0, 2, 1)[:, 0].mul_(2)`` under no_grad: PyTorch writes it (its elements do not share memory). The
    windows themselves, which do, stay refused here (PyTorch's result there depends on the order it writes in)."""
    for lib in (mg, torch):
        b = lib.arange(5.0)
        with lib.no_grad():
            b.unfold(0, 2, 1)[:, 0].mul_(2)
        assert b.tolist() == [0.0, 2.0, 4.0, 6.0, 4.0]
    with pytest.raises(RuntimeError, match="read-only"):
        mg.arange(5.0).unfold(0, 2, 1).mul_(2)


@pytest.mark.gpu
def test_a_part_of_an_expanded_view_on_the_gpu() -> None:
    """The write through the base's places runs on the device (CuPy arrays: expand is a view there too)."""
    a = mg.tensor([[1.0], [2.0]], dtype=mg.float64, requires_grad=True, device="cuda")
    e = (a * 1).expand(2, 3)
    e.diagonal().mul_(5)
    (e * mg.arange(6.0, dtype=mg.float64, device="cuda").reshape(2, 3)).sum().backward()
    np.testing.assert_array_equal(e.numpy(), [[5.0] * 3, [10.0] * 3])
    np.testing.assert_array_equal(a.grad.numpy(), [[15.0], [60.0]])


# --- out= without a dim: PyTorch's overloads that take out= all take a dim ------------------------------------------

_NEEDS_DIM = {
    "prod": lambda lib, x, out: lib.prod(x, out=out),
    "median": lambda lib, x, out: lib.median(x, out=out),
    "nanmedian": lambda lib, x, out: lib.nanmedian(x, out=out),
    "logsumexp": lambda lib, x, out: lib.logsumexp(x, out=out),
    "logsumexp dim=None": lambda lib, x, out: lib.logsumexp(x, dim=None, out=out),
}


@pytest.mark.parametrize("call", sorted(_NEEDS_DIM))
def test_out_without_a_dim_is_pytorchs_type_error(call: str) -> None:
    for lib in (torch, mg):
        x, out = lib.tensor([[1.0, 2.0], [3.0, 4.0]]), lib.zeros(())
        with pytest.raises(TypeError, match="dim"):
            _NEEDS_DIM[call](lib, x, out)
        assert out.tolist() == 0.0


def test_out_with_a_dim_and_numpys_axis_still_write() -> None:
    x = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
    out = mg.zeros(2)
    assert mg.prod(x, 1, out=out) is out and out.tolist() == [2.0, 12.0]
    assert mg.prod(x, dim=0, out=out).tolist() == [3.0, 8.0]
    assert mg.logsumexp(x, axis=(0, 1), out=mg.zeros(())).shape == ()   # NumPy's keyword
    values, indices = mg.median(x, 0, out=(mg.zeros(2), mg.zeros(2, dtype=mg.int64)))
    assert values.tolist() == [1.0, 2.0] and indices.tolist() == [0, 0]
    assert mg.prod(x).item() == 24.0 and mg.median(x).item() == 2.0   # without out: all elements, as PyTorch


# --- out= that is not dense and shares a factor's memory ------------------------------------------------------------

_FACTOR_OUTS = {
    "mv out=a column of the matrix": lambda lib, m: lib.mv(m, lib.ones(3), out=m[:, 0]),
    "mv out=the vector, a column": lambda lib, m: lib.mv(lib.eye(3), m[:, 1], out=m[:, 1]),
    "mm out=columns of a factor": lambda lib, m: lib.mm(m[:, :2].t(), m[:, 1:3], out=m[:2, ::2]),
    "matmul out=every other column": lambda lib, m: lib.matmul(m[:2, :2], m[:2, ::2], out=m[1:3, ::2]),
    "cat out=a column": lambda lib, m: lib.cat([m[0, :1], m[1:, 0]], out=m[:, 0]),
}


def _factor_matrix(lib: Any) -> Any:
    return lib.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])


@pytest.mark.parametrize("call", sorted(_FACTOR_OUTS))
def test_a_non_dense_out_sharing_a_factor_is_refused(call: str) -> None:
    """PyTorch checks only dense outs: these compute, reading what the kernel already wrote (mv(m, 1, out=m[:, 0])
    gives [5, 11, 17] where the product is [6, 15, 24]); refused as its dense overlap is, m left unchanged."""
    m = _factor_matrix(mg)
    with pytest.raises(RuntimeError, match="single memory location"):
        _FACTOR_OUTS[call](mg, m)
    assert m.tolist() == _factor_matrix(mg).tolist()


def test_the_mv_case_is_wrong_in_pytorch() -> None:
    m = _factor_matrix(torch)
    torch.mv(m, torch.ones(3), out=m[:, 0])
    assert m[:, 0].tolist() != (_factor_matrix(torch) @ torch.ones(3)).tolist()   # why refusing is better


def test_a_non_dense_out_that_shares_no_element_still_writes() -> None:
    m = _factor_matrix(mg)
    assert mg.mv(m[:, 1:], mg.ones(2), out=m[:, 0]).tolist() == [5.0, 11.0, 17.0]   # columns 1-2 summed into 0
    x = mg.tensor([[1.0, -2.0], [3.0, 4.0]])
    assert mg.abs(x[:, 0], out=x[0]).tolist() == [1.0, 3.0]   # elementwise: as PyTorch, which does not check


# --- atan2, hypot, nextafter, logaddexp2 take tensors only, as PyTorch's (no number overload) ----------------------

_ATAN2_NUMBERS = {
    "atan2(x, 2)": lambda lib, x: lib.atan2(x, 2),
    "atan2(2.5, x)": lambda lib, x: lib.atan2(2.5, x),
    "x.atan2(True)": lambda lib, x: x.atan2(True),
    "arctan2(x, 1j)": lambda lib, x: lib.arctan2(x, 1j),
    "x.atan2_(2)": lambda lib, x: x.atan2_(2),
    "atan2(x, np.float64)": lambda lib, x: lib.atan2(x, np.float64(2.0)),
    "hypot(x, 2.0)": lambda lib, x: lib.hypot(x, 2.0),
    "hypot(2, x)": lambda lib, x: lib.hypot(2, x),
    "nextafter(x, 0.0)": lambda lib, x: lib.nextafter(x, 0.0),
    "x.nextafter(1)": lambda lib, x: x.nextafter(1),
    "logaddexp2(x, 0.0)": lambda lib, x: lib.logaddexp2(x, 0.0),
    "logaddexp2(1.0, x)": lambda lib, x: lib.logaddexp2(1.0, x),
}


@pytest.mark.parametrize("call", sorted(_ATAN2_NUMBERS))
def test_a_tensor_only_binary_op_with_a_number_is_pytorchs_type_error(call: str) -> None:
    for lib in (torch, mg):
        with pytest.raises(TypeError, match="must be Tensor"):
            _ATAN2_NUMBERS[call](lib, lib.tensor([1.0, -2.0]))


def test_atan2_with_a_0d_tensor_still_broadcasts() -> None:
    got = mg.atan2(mg.tensor([1.0, -2.0]), mg.tensor(2.0))
    np.testing.assert_allclose(got.numpy(), np.arctan2([1.0, -2.0], 2.0), rtol=1e-6)
