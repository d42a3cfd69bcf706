"""Round 16, small torch-parity leftovers (third wave): 0-d tensors as number arguments, 0-d index_copy, det's
sign at a singular matrix, the ord-0 norm's gradient; each compared with live PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn.functional as F

torch = pytest.importorskip("torch", reason="no torch")
TF = torch.nn.functional

_X = np.random.RandomState(0).randn(4, 3).astype(np.float32)
_Y = np.random.RandomState(1).randn(4, 3).astype(np.float32)
_SIGN = np.sign(np.random.RandomState(2).randn(4, 3)).astype(np.float32)

# (name, call(F, tensor constructor, x, y, sign)) where a number argument is a 0-d tensor
_ZERO_D_ARGUMENTS = [
    ("celu", lambda f, t, x, y, s: f.celu(x, alpha=t(0.5))),
    ("elu", lambda f, t, x, y, s: f.elu(x, alpha=t(0.5, dtype=mg.float64 if f is F else torch.float64))),
    ("leaky_relu", lambda f, t, x, y, s: f.leaky_relu(x, negative_slope=t(0.2))),
    ("hardshrink", lambda f, t, x, y, s: f.hardshrink(x, lambd=t(0.5))),
    ("softshrink", lambda f, t, x, y, s: f.softshrink(x, lambd=t(0.5))),
    ("threshold", lambda f, t, x, y, s: f.threshold(x, t(0.1), t(2))),
    ("rrelu", lambda f, t, x, y, s: f.rrelu(x, lower=t(0.1), upper=t(0.3), training=False)),
    ("pdist", lambda f, t, x, y, s: f.pdist(x, p=t(3.0))),
    ("pairwise_distance", lambda f, t, x, y, s: f.pairwise_distance(x, y, p=t(3.0))),
    ("hinge_embedding_loss", lambda f, t, x, y, s: f.hinge_embedding_loss(x, s, margin=t(0.5))),
    ("margin_ranking_loss", lambda f, t, x, y, s: f.margin_ranking_loss(x, y, s, margin=t(0.5))),
    ("norm", lambda f, t, x, y, s: x.norm(p=t(3.0))),
    ("norm_dim", lambda f, t, x, y, s: (mg.norm if f is F else torch.norm)(x, p=t(True), dim=1)),
]


@pytest.mark.parametrize("call", [c for _, c in _ZERO_D_ARGUMENTS], ids=[n for n, _ in _ZERO_D_ARGUMENTS])
def test_zero_d_tensor_number_arguments_match_torch(call):
    ours = call(F, mg.tensor, mg.tensor(_X), mg.tensor(_Y), mg.tensor(_SIGN))
    theirs = call(TF, torch.tensor, torch.tensor(_X), torch.tensor(_Y), torch.tensor(_SIGN))
    assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("value", ["one_element", "requires_grad"])
def test_number_argument_tensors_torch_refuses_stay_type_errors(value):
    def make(t):
        return t([0.5]) if value == "one_element" else t(0.5, requires_grad=True)
    with pytest.raises(TypeError):
        TF.celu(torch.tensor(_X), alpha=make(torch.tensor))
    with pytest.raises(TypeError):
        F.celu(mg.tensor(_X), alpha=make(mg.tensor))


_ZERO_D_INDEX_COPIES = [([0], [2.0]), ([0, 0], [2.0, 3.0]), (0, 2.0), ([0], 2.0), (0, [2.0]), ([0, 0], 2.0),
                        ([0], [2.0, 3.0]), ([1], [2.0]), ([0], [[2.0]])]


@pytest.mark.parametrize("in_place", [False, True])
@pytest.mark.parametrize(("index", "source"), _ZERO_D_INDEX_COPIES)
def test_index_copy_into_a_zero_d_tensor_matches_torch(index, source, in_place):
    def run(lib):
        x, i, s = lib.tensor(1.0), lib.tensor(index), lib.tensor(source)
        try:
            return (x.index_copy_(0, i, s) if in_place else lib.index_copy(x, 0, i, s)).item()
        except (IndexError, RuntimeError) as error:
            return IndexError if isinstance(error, IndexError) else RuntimeError
    assert run(mg) == run(torch)


@pytest.mark.parametrize("source", [2.0, [2.0]])
def test_index_copy_into_a_zero_d_tensor_gradients_match_torch(source):
    grads = []
    for lib in (mg, torch):
        x, s = lib.tensor(1.0, requires_grad=True), lib.tensor(source, requires_grad=True)
        (lib.index_copy(x, 0, lib.tensor([0]), s) * 3).backward()
        grads.append((x.grad.tolist(), s.grad.tolist()))
    assert grads[0] == grads[1]


@pytest.mark.parametrize("source_shape", [(3, 3), (1, 2), (2, 3, 1), (3,), (2, 3)])
def test_index_copy_source_shape_error_class_matches_torch(source_shape):
    """PyTorch's RuntimeError when a dim other than ``dim`` differs, its IndexError otherwise."""
    classes = []
    for lib in (mg, torch):
        with pytest.raises(RuntimeError if source_shape in ((3, 3), (1, 2)) else IndexError) as caught:
            lib.index_copy(lib.zeros(2, 3), 1, lib.tensor([0, 1]), lib.ones(source_shape))
        classes.append(isinstance(caught.value, IndexError))
    assert classes[0] == classes[1]
