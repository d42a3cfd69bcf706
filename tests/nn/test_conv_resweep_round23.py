"""Round 23: a regression sweep of the rewritten convolutions and pools (nn._conv.Convolution, MaxPool,
WindowSum) against PyTorch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn.functional as F  # noqa: N812

INTEGER_DTYPES = ["int64", "int32", "int16", "int8", "uint8"]


@pytest.mark.parametrize("dtype", INTEGER_DTYPES)
def test_max_pool1d_with_indices_takes_integers_as_torch(torch: Any, dtype: str) -> None:
    # max_pool1d(return_indices=True) is torch's max_pool1d_with_indices, whose CPU kernel takes integers
    x = np.random.default_rng(0).integers(0, 100, (2, 3, 9))
    expected = torch.nn.functional.max_pool1d(torch.tensor(x, dtype=getattr(torch, dtype)), 3, 2, 1,
                                              return_indices=True)
    values, index = F.max_pool1d(mg.tensor(x, dtype=getattr(mg, dtype)), 3, 2, 1, return_indices=True)
    assert values.dtype == getattr(mg, dtype)
    np.testing.assert_array_equal(values.numpy(), expected[0].numpy())
    np.testing.assert_array_equal(index.numpy(), expected[1].numpy())
    unbatched = F.max_pool1d_with_indices(mg.tensor(x[0], dtype=getattr(mg, dtype)), 3)
    np.testing.assert_array_equal(unbatched[0].numpy(), torch.nn.functional.max_pool1d_with_indices(
        torch.tensor(x[0], dtype=getattr(torch, dtype)), 3)[0].numpy())


def test_max_pool1d_without_indices_still_refuses_integers(torch: Any) -> None:
    x = np.arange(6).reshape(1, 1, 6)
    with pytest.raises(NotImplementedError):
        torch.nn.functional.max_pool1d(torch.tensor(x), 2)
    with pytest.raises(NotImplementedError):
        F.max_pool1d(mg.tensor(x), 2)



# (name, function of (functional module, x, weight)): results of col2im (Fold) without padding
FOLDED = [
    ("conv_transpose1d", lambda f, x, w: f.conv_transpose1d(x, w, stride=2)),
    ("conv_transpose2d", lambda f, x, w: f.conv_transpose2d(x.reshape(2, 2, 2, 3), w.reshape(2, 3, 1, 2))),
    ("fold", lambda f, x, w: f.fold(x.reshape(2, 4, 3), (2, 4), (2, 2))),
]


@pytest.mark.parametrize(("name", "fn"), FOLDED, ids=[row[0] for row in FOLDED])
def test_folded_result_takes_in_place_ops_as_torch(torch: Any, name: str, fn: Any) -> None:
    # without padding, col2im's result was a whole-array view of the op's own sum, so y.add_(1) was refused
    # as 'an in-place op on a view of another tensor'; PyTorch's result owns its memory
    rng = np.random.default_rng(3)
    x_values, w_values = rng.standard_normal((2, 2, 6)), rng.standard_normal((2, 3, 2))
    grads = []
    for lib, functional in ((torch, torch.nn.functional), (mg, F)):
        x, w = lib.tensor(x_values, requires_grad=True), lib.tensor(w_values, requires_grad=True)
        y = fn(functional, x, w)
        y.mul_(3)
        (y * y).sum().backward()
        grads.append([x.grad.numpy(), w.grad.numpy() if w.grad is not None else None])
    np.testing.assert_allclose(grads[1][0], grads[0][0], rtol=1e-12)
    if grads[0][1] is not None:
        np.testing.assert_allclose(grads[1][1], grads[0][1], rtol=1e-12)


@pytest.mark.parametrize("dims", [2, 3])
def test_max_pool_node_has_torch_name(torch: Any, dims: int) -> None:
    # the max pools' own op (round 23) was 'MaxPoolBackward0'; PyTorch's node is MaxPool{2,3}DWithIndicesBackward0
    x = np.random.default_rng(0).standard_normal((1, 2) + (4,) * dims)
    expected = getattr(torch.nn.functional, f"max_pool{dims}d")(torch.tensor(x, requires_grad=True), 2)
    y = getattr(F, f"max_pool{dims}d")(mg.tensor(x, requires_grad=True), 2)
    assert y.grad_fn.name() == expected.grad_fn.name()
    assert y.grad_fn.name == "max_pool"   # minigrad's own name (mg.viz, repr) unchanged


@pytest.mark.parametrize(("fn", "x_shape", "w_shape"), [("conv1d", (1, 2, 9), (2, 2, 2)),
                                                        ("conv3d", (1, 2, 6, 6, 5), (6, 1, 1, 2, 1))])
@pytest.mark.parametrize("x_grad", [True, False])
def test_same_padding_with_an_odd_total_lets_x_change_in_place_as_torch(torch: Any, fn: str, x_shape: tuple,
                                                                         w_shape: tuple, x_grad: bool) -> None:
    # padding='same' with an even kernel: PyTorch convolves a copy padded by the extra element, so its backward
    # reads the copy and x may change in place after the op; ours read x itself and refused
    rng = np.random.default_rng(5)
    x_values, w_values = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    groups = x_shape[1] // w_shape[1]
    grads = []
    for lib, functional in ((torch, torch.nn.functional), (mg, F)):
        x_leaf, w = lib.tensor(x_values, requires_grad=x_grad), lib.tensor(w_values, requires_grad=True)
        x = x_leaf * 1
        y = getattr(functional, fn)(x, w, padding="same", groups=groups)
        x.add_(1)
        (y * y).sum().backward()
        grads.append([w.grad.numpy()] + ([x_leaf.grad.numpy()] if x_grad else []))
    for ours, theirs in zip(grads[1], grads[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
