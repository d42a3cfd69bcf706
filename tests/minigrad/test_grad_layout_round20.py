"""Round 20: a leaf's first ``.grad`` takes the leaf's strides, as PyTorch's AccumulateGrad layout contract does.

The gradient of ``a.t() @ b`` with respect to ``a`` is a transposed array; ``.grad`` kept its strides, so
``a.grad.view(-1)`` (``torch.cat([p.grad.view(-1) for p in params])``) raised where PyTorch's works.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")

CASES = {
    "transposed_matmul": (lambda lib, a: (a.t() @ lib.ones(3, 4, dtype=a.dtype)).sum(), (3, 2), False),
    "transpose_mul": (lambda lib, a: (a.t() * 2.0).sum(), (3, 2), False),
    "transposed_leaf_matmul": (lambda lib, a: (a.t() @ lib.ones(3, 2, dtype=a.dtype)).sum(), (4, 3), True),
    "transposed_leaf_mul": (lambda lib, a: (a * 2.0).sum(), (4, 3), True),
    "permuted_3d": (lambda lib, a: (a.permute(2, 0, 1) * lib.arange(4.0, dtype=a.dtype)).sum(), (3, 4, 2), False),
}


def _grad_strides(lib: Any, case: str) -> tuple:
    fn, shape, transposed_leaf = CASES[case]
    values = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    if transposed_leaf:   # a leaf that is itself a transposed view (F order)
        a = lib.tensor(values).t().detach().requires_grad_()
    else:
        a = lib.tensor(values, requires_grad=True)
    fn(lib, a).backward()
    return a.grad.stride(), a.grad.view(-1).tolist() if a.grad.is_contiguous() else None, a.grad.tolist()


@pytest.mark.parametrize("case", list(CASES))
def test_first_grad_takes_the_leafs_layout_as_torch(case: str) -> None:
    assert _grad_strides(mg, case) == _grad_strides(torch, case)


def test_accumulating_keeps_the_layout() -> None:
    a = mg.tensor(np.ones((3, 2)), requires_grad=True)
    for _ in range(2):
        (a.t() @ mg.ones(3, 4, dtype=a.dtype)).sum().backward()
    assert a.grad.stride() == (2, 1)
    np.testing.assert_array_equal(a.grad.view(-1).numpy(), np.full(6, 8.0))
