"""NumPy arrays meeting Tensors: ``p.data += -lr * p.grad`` (micrograd's and makemore's update, ``.data`` being the
array) updates in place as PyTorch's does; ``array (op) tensor`` is the Tensor's reflected operator."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg


def test_the_data_update_habit_trains_as_torch(torch: Any) -> None:
    rng = np.random.default_rng(0)
    w0, x, y = rng.standard_normal((3, 2)), rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
    results = []
    for library in (mg, torch):
        w = library.tensor(w0.copy(), requires_grad=True)
        data = w.data
        for _ in range(3):
            loss = ((library.tensor(x) @ w - library.tensor(y)) ** 2).mean()
            w.grad = None
            loss.backward()
            w.data += -0.1 * w.grad
        results.append(w.detach().numpy().copy())
        if library is mg:
            assert w.data is data and w.is_leaf and w.requires_grad   # the same array, updated in place
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12)


def test_array_operators_give_tensors() -> None:
    a = np.array([1.0, 2.0, 3.0])
    t = mg.tensor([3.0, 2.0, 1.0], dtype=mg.float64, requires_grad=True)
    for got, want in ((a + t, [4, 4, 4]), (a - t, [-2, 0, 2]), (a * t, [3, 4, 3]), (a / t, [1 / 3, 1, 3]),
                      (a ** t, [1, 4, 3]), (np.float64(2) * t, [6, 4, 2])):
        assert isinstance(got, mg.Tensor) and got.requires_grad
        np.testing.assert_allclose(got.numpy(), want)
    assert (a < t).numpy().tolist() == [True, False, False]
    assert (a == t).numpy().tolist() == [False, True, False]
    assert float(a @ t) == 10.0


def test_other_numpy_functions_of_a_tensor_are_refused() -> None:
    t = mg.ones(2, requires_grad=True)
    with pytest.raises(TypeError):
        np.exp(t)
    with pytest.raises(TypeError):
        np.add(np.ones(2), t, where=np.array([True, False]))


@pytest.mark.gpu
def test_a_device_array_hands_its_operators_to_the_tensor() -> None:
    t = mg.ones(3, device="cuda")
    array = mg.zeros(3, device="cuda").data + 2.0
    out = array * t
    assert isinstance(out, mg.Tensor) and out.device.type == "cuda"
    assert out.numpy().tolist() == [2.0, 2.0, 2.0]


def test_where_with_the_condition_alone_gives_indices_as_torch(torch: Any) -> None:
    condition = np.array([[True, False, True], [False, False, True]])
    ours, theirs = mg.where(mg.tensor(condition)), torch.where(torch.tensor(condition))
    assert len(ours) == len(theirs) == 2
    for a, b in zip(ours, theirs):
        assert a.dtype == mg.int64
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(TypeError, match="condition alone"):
        mg.where(mg.tensor(condition), 1.0)
