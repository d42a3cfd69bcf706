"""Bitwise ops and operators (``& | ^ ~ << >>``, in place too) against PyTorch, and inside ``mg.compile``."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

MASK_A = np.array([[True, False, True], [False, False, True]])
MASK_B = np.array([True, True, False])
INTS = np.array([[0, 5, -3], [12, 7, 1]])
SHIFTS = np.array([1, 0, 2])

CASES: dict[str, tuple[Callable, tuple]] = {
    "and_masks": (lambda t, a, b: a & b, (MASK_A, MASK_B)),
    "or_masks": (lambda t, a, b: a | b, (MASK_A, MASK_B)),
    "xor_masks": (lambda t, a, b: a ^ b, (MASK_A, MASK_B)),
    "not_mask": (lambda t, a: ~a, (MASK_A,)),
    "valid_and_not_padding": (lambda t, a, b: a & ~b, (MASK_A, MASK_B)),
    "and_ints": (lambda t, a, b: a & b, (INTS, SHIFTS)),
    "or_int_scalar": (lambda t, a: a | 8, (INTS,)),
    "reflected": (lambda t, a: 6 & a, (INTS,)),
    "reflected_xor": (lambda t, a: 3 ^ a, (INTS,)),
    "invert_ints": (lambda t, a: ~a, (INTS,)),
    "bool_and_int_scalar": (lambda t, a: a & 1, (MASK_A,)),
    "shift_left": (lambda t, a, b: a << b, (INTS, SHIFTS)),
    "shift_right": (lambda t, a, b: a >> b, (INTS, SHIFTS)),
    "shift_scalar": (lambda t, a: a << 2, (INTS,)),
    "functions": (lambda t, a, b: t.bitwise_xor(t.bitwise_and(a, b), t.bitwise_or(a, b)), (INTS, SHIFTS)),
    "methods": (lambda t, a, b: a.bitwise_and(b).bitwise_not(), (MASK_A, MASK_B)),
    "shift_functions": (lambda t, a, b: t.bitwise_left_shift(a, b) + t.bitwise_right_shift(a, b), (INTS, SHIFTS)),
}


def _run(lib: Any, fn: Callable, arrays: tuple) -> np.ndarray:
    out = fn(lib, *[lib.tensor(a) for a in arrays])
    return out.numpy()


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_values_and_dtype_as_torch(case: str) -> None:
    torch = pytest.importorskip("torch", reason="the reference is PyTorch")
    fn, arrays = CASES[case]
    ours, theirs = _run(mg, fn, arrays), _run(torch, fn, arrays)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


def test_in_place_forms_keep_the_object_and_refuse_a_wider_result() -> None:
    torch = pytest.importorskip("torch", reason="the reference is PyTorch")
    ours, theirs = mg.tensor(MASK_A.copy()), torch.tensor(MASK_A.copy())
    keep = ours
    for other in (MASK_B, ~MASK_B):
        ours &= mg.tensor(other)
        theirs &= torch.tensor(other)
        ours |= mg.tensor(MASK_B)
        theirs |= torch.tensor(MASK_B)
        ours ^= mg.tensor(other)
        theirs ^= torch.tensor(other)
    assert ours is keep
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    n, m = mg.tensor(INTS.copy()), torch.tensor(INTS.copy())
    n <<= 2
    m <<= 2
    n.bitwise_not_()
    m.bitwise_not_()
    np.testing.assert_array_equal(n.numpy(), m.numpy())
    with pytest.raises(TypeError, match="can't be cast to the dtype bool"):
        keep &= 1   # int64 result into a bool tensor, as torch refuses


def test_float_tensors_are_refused_with_a_hint() -> None:
    with pytest.raises(TypeError, match=r"bitwise_and: only integer and bool tensors, got dtype float32"):
        mg.ones(2) & mg.tensor([True, False])
    with pytest.raises(TypeError, match="bitwise_not: only integer and bool tensors"):
        ~mg.ones(2)
    with pytest.raises(TypeError, match="bitwise_or: expected an integer or bool tensor or number, got float"):
        mg.tensor([1, 2]) | 1.5


def test_a_compiled_call_recomputes_its_masks() -> None:
    @mg.compile
    def masked_sum(x: mg.Tensor, valid: mg.Tensor) -> mg.Tensor:
        return (x * ((x > 0) & ~valid)).sum()

    for _ in range(3):
        x = mg.randn(6, requires_grad=True)
        valid = mg.tensor(np.random.default_rng().random(6) < 0.5)
        got = masked_sum(x, valid)
        want = (x.numpy() * ((x.numpy() > 0) & ~valid.numpy())).sum()
        assert got.item() == pytest.approx(float(want), rel=1e-6)
