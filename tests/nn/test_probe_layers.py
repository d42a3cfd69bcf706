"""Regression tests for differences from torch 2.13 found by probing the non-recurrent layers: the containers'
slicing, arithmetic and list methods (state-dict keys as torch's), multi-head attention on empty batches, sizes
given as NumPy integers, and errors that name the layer and the shapes.

Values and gradients against torch in float64 (1e-10), with torch's weights copied over by ``load_state_dict``.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
from helpers import assert_close, to_torch

import minigrad as mg
import nn
from nn import functional as F

RNG = np.random.default_rng(2026)


def keys_and_shapes(module: object) -> list:
    return [(key, tuple(value.shape)) for key, value in module.state_dict().items()]


def copy_from(ours: nn.Module, theirs: object) -> nn.Module:
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours


def stack(lib: object) -> object:
    return lib.Sequential(lib.Linear(2, 3), lib.Tanh(), lib.Linear(3, 4), lib.ReLU())


def named_stack(lib: object) -> object:
    return lib.Sequential(OrderedDict(first=lib.Linear(2, 3), act=lib.Tanh(), last=lib.Linear(3, 4)))


# --- Sequential: a slice keeps the children's keys --------------------------------------------------------

@pytest.mark.parametrize("make", [stack, named_stack])
@pytest.mark.parametrize("index", [slice(1, None), slice(2, 3), slice(None, None, 2), slice(None, -1)])
def test_sequential_slice_keeps_keys_and_loads_torchs_state_dict(torch, make: object, index: slice) -> None:
    theirs, ours = make(torch.nn).double(), make(nn).double()
    copy_from(ours, theirs)
    their_part, our_part = theirs[index], ours[index]
    assert type(our_part) is nn.Sequential
    assert keys_and_shapes(our_part) == keys_and_shapes(their_part)   # was renumbered 0, 1, …
    fresh = make(nn).double()[index]
    fresh.load_state_dict({k: v.detach().numpy() for k, v in their_part.state_dict().items()})
    if our_part[0].__class__.__name__ == "Linear":
        x = RNG.standard_normal((5, our_part[0].in_features))
        assert_close(fresh(mg.tensor(x)), their_part(torch.from_numpy(x)))


# --- Sequential + += * *= ----------------------------------------------------------------------------------

@pytest.mark.parametrize("combine", [lambda a, b: a + b, lambda a, b: a * 2, lambda a, b: 3 * a,
                                     lambda a, b: a.__iadd__(b), lambda a, b: a.__imul__(2)])
def test_sequential_arithmetic_as_torch(torch, combine: object) -> None:
    theirs_a, theirs_b = stack(torch.nn).double(), stack(torch.nn).double()
    ours_a, ours_b = copy_from(stack(nn).double(), theirs_a), copy_from(stack(nn).double(), theirs_b)
    theirs, ours = combine(theirs_a, theirs_b), combine(ours_a, ours_b)
    assert type(ours) is nn.Sequential and len(ours) == len(theirs)
    assert keys_and_shapes(ours) == keys_and_shapes(theirs)
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]
    # the same module objects as the operands' (so a repeated block shares its weights), as torch's
    our_sources, their_sources = list(ours_a) + list(ours_b), list(theirs_a) + list(theirs_b)
    assert [next(i for i, m in enumerate(our_sources) if m is module) for module in ours] == \
        [next(i for i, m in enumerate(their_sources) if m is module) for module in theirs]
    # the stack's 4 outputs do not feed its 2 inputs, so the values are compared through the first block
    x = RNG.standard_normal((3, 2))
    ours_x, theirs_x = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, t_out = ours[:2](ours_x), theirs[:2](theirs_x)
    assert_close(out, t_out)
    out.sum().backward()
    t_out.sum().backward()
    assert_close(ours_x.grad, theirs_x.grad)


def test_sequential_arithmetic_refuses_as_torch() -> None:
    with pytest.raises(ValueError, match="Sequential.*ModuleList"):
        stack(nn) + nn.ModuleList()
    with pytest.raises(ValueError, match="Sequential.*Linear"):
        seq = stack(nn)
        seq += nn.Linear(1, 1)
    with pytest.raises(TypeError, match="Sequential.*float"):
        stack(nn) * 2.0
    with pytest.raises(ValueError, match="Sequential: non-positive multiplication factor 0"):
        stack(nn) * 0


# --- ModuleList.pop, += ; ModuleDict.update's errors ------------------------------------------------------------

def layer_list(lib: object) -> object:
    return lib.ModuleList([lib.Linear(1, 2), lib.Linear(2, 3), lib.Linear(3, 4)])


@pytest.mark.parametrize("index", [0, 1, -1, slice(0, 2)])
def test_module_list_pop_as_torch(torch, index: object) -> None:
    theirs, ours = layer_list(torch.nn), layer_list(nn)
    their_item, our_item = theirs.pop(index), ours.pop(index)
    assert keys_and_shapes(our_item) == keys_and_shapes(their_item)
    assert keys_and_shapes(ours) == keys_and_shapes(theirs)


def test_module_list_iadd_extends_in_place(torch) -> None:
    theirs, ours = layer_list(torch.nn), layer_list(nn)
    their_result = theirs.__iadd__([torch.nn.Linear(4, 5)])
    our_result = ours.__iadd__([nn.Linear(4, 5)])
    assert our_result is ours and their_result is theirs
    assert keys_and_shapes(ours) == keys_and_shapes(theirs)

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(1, 2)])

    model = Model()
    layers = model.layers
    model.layers += [nn.Linear(2, 3)]
    assert model.layers is layers and [k for k, _ in model.named_parameters()] == [
        "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]


def test_module_dict_update_names_the_bad_element() -> None:
    heads = nn.ModuleDict({"a": nn.ReLU()})
    with pytest.raises(ValueError, match=r"ModuleDict.update: element #1 has length 3; 2 is required"):
        heads.update([("b", nn.Tanh()), ("c", nn.ReLU(), 3)])
    with pytest.raises(TypeError, match=r"ModuleDict.update: element #0 is a Linear"):
        heads.update([nn.Linear(1, 1)])
    with pytest.raises(TypeError, match=r"ModuleDict.update: expected a mapping .* got int"):
        heads.update(3)
    assert list(heads.keys()) == ["a", "b"]


# --- MultiheadAttention: empty batches; errors that name the shapes ------------------------------------------------

@pytest.mark.parametrize("shapes", [((3, 0, 4), (5, 0, 4)), ((0, 2, 4), (5, 2, 4)), ((3, 2, 4), (0, 2, 4))])
@pytest.mark.parametrize("need_weights", [True, False])
def test_multihead_attention_with_an_empty_dim_as_torch(torch, shapes: tuple, need_weights: bool) -> None:
    query_shape, key_shape = shapes
    theirs = torch.nn.MultiheadAttention(4, 2).double()
    ours = copy_from(nn.MultiheadAttention(4, 2).double(), theirs)
    query, key = RNG.standard_normal(query_shape), RNG.standard_normal(key_shape)
    output, weights = ours(mg.tensor(query), mg.tensor(key), mg.tensor(key), need_weights=need_weights)
    t_output, t_weights = theirs(torch.from_numpy(query), torch.from_numpy(key), torch.from_numpy(key),
                                 need_weights=need_weights)
    assert output.shape == tuple(t_output.shape)
    if key_shape[0]:   # torch gives NaN or zeros for attention over no keys; only the shapes are compared there
        assert_close(output, t_output)
    assert (weights is None) == (t_weights is None)
    if weights is not None:
        assert weights.shape == tuple(t_weights.shape)


def test_multihead_attention_names_mismatched_batch_and_feature_sizes() -> None:
    attention = nn.MultiheadAttention(8, 2)
    with pytest.raises(ValueError, match=r"multi_head_attention_forward: .*\(3, 2, 8\).*\(4, 3, 8\).*batch size"):
        attention(mg.zeros(3, 2, 8), mg.zeros(4, 3, 8), mg.zeros(4, 3, 8))
    with pytest.raises(ValueError, match=r"key of shape \(4, 2, 7\) .* must have 8 and 8 features"):
        nn.TransformerDecoderLayer(8, 2, 16)(mg.zeros(3, 2, 8), mg.zeros(4, 2, 7))
    separate = nn.MultiheadAttention(8, 2, kdim=5, vdim=6)
    with pytest.raises(ValueError, match=r"key of shape \(4, 2, 6\) .* must have 5 and 6 features"):
        separate(mg.zeros(3, 2, 8), mg.zeros(4, 2, 6), mg.zeros(4, 2, 6))


# --- sizes as NumPy integers ------------------------------------------------------------------------------

def test_sizes_given_as_numpy_integers_as_torch(torch) -> None:
    three, four = np.int64(3), np.int64(4)
    for make in (lambda lib: lib.Linear(three, four), lambda lib: lib.Embedding(four, three),
                 lambda lib: lib.BatchNorm1d(three)):
        theirs, ours = make(torch.nn), make(nn)
        assert keys_and_shapes(ours) == keys_and_shapes(theirs)
        assert all(type(getattr(ours, name)) is int for name in ("in_features", "out_features", "num_embeddings",
                                                                   "embedding_dim", "num_features")
                   if hasattr(ours, name))


# --- errors that name the layer and the shapes -----------------------------------------------------------------

def test_batch_norm_checks_its_per_channel_tensors_before_updating() -> None:
    running_mean, running_var = mg.zeros(3), mg.ones(3)
    with pytest.raises(ValueError, match=r"batch_norm: running_mean must have shape \(4,\) .*\(2, 4\).*got \(3,\)"):
        F.batch_norm(mg.ones(2, 4), running_mean, running_var, training=True)
    assert running_mean.numpy().tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match=r"batch_norm: bias must have shape \(4,\)"):
        F.batch_norm(mg.ones(2, 4), mg.zeros(4), mg.ones(4), bias=mg.zeros(5))


def test_group_norm_names_the_channel_count(torch) -> None:
    with pytest.raises(ValueError, match=r"GroupNorm: expected an input with num_channels=4 .*\(2, 6, 3\)"):
        nn.GroupNorm(2, 4)(mg.zeros(2, 6, 3))
    x = RNG.standard_normal((2, 6, 3))   # no affine parameters: any channel count divisible by the groups, as torch
    assert_close(nn.GroupNorm(2, 4, affine=False)(mg.tensor(x)),
                 torch.nn.GroupNorm(2, 4, affine=False)(to_torch(torch, x)))


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "circular"])
def test_conv_names_the_layer_and_the_given_shape(padding_mode: str) -> None:
    conv = nn.Conv2d(4, 6, 3, padding=1, padding_mode=padding_mode)
    with pytest.raises(ValueError, match=r"Conv2d: expected a 3-D \(unbatched\) or 4-D \(batched\) input, got "
                                         r"shape \(4, 9\)"):   # was the padded shape (6, 11)
        conv(mg.zeros(4, 9))
    with pytest.raises(ValueError, match=r"conv1d: weight of shape \(0, 4, 3\) has no output channels"):
        F.conv1d(mg.zeros(1, 4, 9), mg.zeros(0, 4, 3))
