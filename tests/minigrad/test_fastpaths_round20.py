"""Round 20's fast paths for the eager hot loop give bit for bit what the general paths give.

* ``backward(gradient)`` with a host array of the root's dtype and shape takes it as it is
  (autograd/engine.py ``_root_grad``): the same ``.grad`` as a gradient that needs converting.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _bits(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a).tobytes()


@pytest.mark.parametrize("as_tensor", [False, True])
def test_backward_with_a_ready_gradient_matches_one_that_is_converted(as_tensor: bool) -> None:
    """A float64 root's gradient given as float64 (taken as it is) or as float32 / a list (converted)."""
    data = np.random.default_rng(2).standard_normal((3, 4))
    seed = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
    grads = []
    for given in (seed, seed.astype("float32").astype("float64"), seed.astype("float32"), seed.tolist()):
        x = mg.tensor(data, requires_grad=True)
        y = x * x + x
        y.backward(mg.tensor(given) if as_tensor and not isinstance(given, list) else given)
        grads.append(x.grad.data)
    assert grads[0].dtype == grads[2].dtype == np.float64
    assert _bits(grads[1]) == _bits(grads[2])
    assert _bits(grads[0]) == _bits(grads[3])
    tx = torch.tensor(data, requires_grad=True)
    (tx * tx + tx).backward(torch.tensor(seed))
    np.testing.assert_array_equal(grads[0], tx.grad.numpy())


def test_backward_gradient_of_another_shape_or_kind_is_still_refused() -> None:
    x = mg.tensor(np.ones((2, 2)), requires_grad=True)
    with pytest.raises((RuntimeError, ValueError)):
        (x * 2).backward(np.ones((2, 3)))
    with pytest.raises(RuntimeError):
        (x * 2).backward(np.ones((2, 2), dtype=complex))
    y = x * 2
    y.backward(np.ones((2, 2), dtype="float64"), retain_graph=True)
    assert np.array_equal(x.grad.data, np.full((2, 2), 2.0))
