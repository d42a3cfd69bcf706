"""nn.Module: registration order, containers, modes, devices/dtypes, state dicts, repr, name scopes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(3, 4)
        self.drop = nn.Dropout(0.5)
        self.scale = nn.Parameter(mg.ones(4))
        self.register_buffer("count", mg.zeros(1))

    def forward(self, x: mg.Tensor) -> mg.Tensor:
        return self.drop(self.proj(x)) * self.scale


class Model(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 3)
        self.blocks = nn.ModuleList([Block(), Block()])
        self.heads = nn.ModuleDict({"tag": nn.Linear(4, 2), "score": nn.Linear(4, 1, bias=False)})

    def forward(self, tokens: np.ndarray) -> mg.Tensor:
        x = self.embed(tokens)
        x = self.blocks[0](x)
        return self.heads["tag"](x)


EXPECTED_NAMES = [
    "embed.weight",
    "blocks.0.scale", "blocks.0.proj.weight", "blocks.0.proj.bias",
    "blocks.1.scale", "blocks.1.proj.weight", "blocks.1.proj.bias",
    "heads.tag.weight", "heads.tag.bias", "heads.score.weight",
]


def test_parameters_in_definition_order_with_dotted_paths() -> None:
    model = Model()
    names = [name for name, _ in model.named_parameters()]
    # a module's own parameters come before its children's, children in definition order
    assert names == EXPECTED_NAMES
    assert [p.name for p in model.parameters()] == EXPECTED_NAMES
    assert len(list(model.parameters())) == 10
    assert [type(m).__name__ for m in model.children()] == ["Embedding", "ModuleList", "ModuleDict"]
    assert [name for name, _ in model.named_modules()][:5] == ["", "embed", "blocks", "blocks.0", "blocks.0.proj"]
    assert sum(isinstance(m, nn.Linear) for m in model.modules()) == 4


def test_shared_parameter_counted_once() -> None:
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.Identity(), shared)
    assert len(list(model.parameters())) == 2


def test_parameters_appended_after_assignment_get_full_names() -> None:
    class Stack(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.ModuleList()
            for _ in range(2):
                self.layers.append(nn.Linear(2, 2))
            self.heads = nn.ModuleDict()
            self.heads["out"] = nn.Linear(2, 1)

    model = Stack()
    names = [name for name, _ in model.named_parameters()]
    assert names == ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias",
                     "heads.out.weight", "heads.out.bias"]
    assert [p.name for p in model.parameters()] == names


def test_module_list_and_dict_behave_like_containers() -> None:
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and isinstance(layers[-1], nn.Linear) and len(layers[1:]) == 2
    layers.append(nn.Identity())
    layers.insert(0, nn.Dropout(0.1))
    assert [type(m).__name__ for m in layers] == ["Dropout", "Linear", "Linear", "Linear", "Identity"]
    del layers[0]
    assert [n for n, _ in layers.named_parameters()][:2] == ["0.weight", "0.bias"]
    heads = nn.ModuleDict()
    heads["a"] = nn.Linear(1, 1)
    heads.update({"b": nn.Linear(1, 2)})
    assert list(heads) == ["a", "b"] and "b" in heads and len(heads) == 2
    assert heads.pop("a").out_features == 1 and list(heads.keys()) == ["b"]
    with pytest.raises(KeyError, match="no module 'zzz'"):
        heads["zzz"]
    with pytest.raises(TypeError, match="not a Module"):
        layers.append(3)
    with pytest.raises(IndexError, match="out of range"):
        layers[9]


def test_name_scopes_follow_attribute_paths() -> None:
    model = Model()
    out = model(np.array([[1, 2], [3, 4]]))
    assert out._node.scope == "model/heads.tag"
    node = out._node
    scopes = set()
    stack = [node]
    while stack:
        n = stack.pop()
        scopes.add(n.scope)
        stack.extend(e[0] for e in n.edges if isinstance(e, tuple))
    assert {"model/embed", "model/blocks.0/proj", "model/blocks.0/drop", "model/heads.tag"} <= scopes


def test_train_eval_switch_every_module_and_dropout_obeys() -> None:
    model = Model()
    x = np.arange(6).reshape(2, 3)
    model.eval()
    assert all(not m.training for m in model.modules())
    np.testing.assert_array_equal(model(x).numpy(), model(x).numpy())  # no dropout: deterministic
    assert model.train() is model and all(m.training for m in model.modules())
    a, b = model(x).numpy(), model(x).numpy()
    assert not np.array_equal(a, b)


def test_zero_grad_clears_every_parameter() -> None:
    model = Model()
    model.eval()
    model(np.array([1, 2])).sum().backward()
    assert model.embed.weight.grad is not None
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_to_dtype_keeps_parameter_identity() -> None:
    model = Model()
    params = list(model.parameters())
    assert model.double() is model
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert all(a is b for a, b in zip(params, model.parameters()))
    assert model.blocks[0].count.dtype == np.float64
    model.to(dtype=mg.float32)
    assert all(p.dtype == np.float32 for p in model.parameters())
    model.to(mg.float64)  # a dtype first, as PyTorch and Tensor.to allow
    assert all(p.dtype == np.float64 for p in model.parameters())
    model.float()
    assert all(p.device == "cpu" for p in model.to("cpu").parameters())


def test_state_dict_round_trip_with_numpy_arrays() -> None:
    a, b = Model(), Model()
    state = a.state_dict()
    # PyTorch's order: each module's parameters, then its buffers, then its children's
    assert list(state) == ["embed.weight", "blocks.0.scale", "blocks.0.count", "blocks.0.proj.weight",
                           "blocks.0.proj.bias", "blocks.1.scale", "blocks.1.count", "blocks.1.proj.weight",
                           "blocks.1.proj.bias", "heads.tag.weight", "heads.tag.bias", "heads.score.weight"]
    b.load_state_dict({k: v.numpy().astype(np.float64) for k, v in state.items()})  # cast to float32 on load
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
        assert pb.dtype == np.float32
        np.testing.assert_array_equal(pa.numpy(), pb.numpy(), err_msg=name)


def test_failed_load_state_dict_changes_nothing_and_names_every_key() -> None:
    model = Model()
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    bad = {k: v.numpy() + 1 for k, v in model.state_dict().items()}
    bad["heads.tag.weight"] = np.zeros((3, 4), dtype=np.float32)
    del bad["embed.weight"]
    bad["extra.bias"] = np.zeros(2)
    with pytest.raises(nn.StateDictError) as info:
        model.load_state_dict(bad)
    message = str(info.value)
    assert "heads.tag.weight: shape (3, 4) in the state dict, (2, 4) in the model" in message
    assert "missing key: embed.weight" in message and "unexpected key: extra.bias" in message
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[key], err_msg=key)
    # strict=False loads what fits and reports the rest
    del bad["heads.tag.weight"]
    result = model.load_state_dict(bad, strict=False)
    assert result.missing_keys == ["embed.weight", "heads.tag.weight"] and result.unexpected_keys == ["extra.bias"]
    np.testing.assert_array_equal(model.heads.score.weight.numpy(), before["heads.score.weight"] + 1)


def test_repr_reads_like_pytorch() -> None:
    text = repr(Model())
    # two children that print alike are one line, as PyTorch prints them
    assert text.startswith("Model(\n  (embed): Embedding(10, 3)\n  (blocks): ModuleList(\n    (0-1): 2 x Block(\n")
    assert "(proj): Linear(in_features=3, out_features=4, bias=True)" in text
    assert "(drop): Dropout(p=0.5, inplace=False)" in text   # as PyTorch prints it
    assert "(score): Linear(in_features=4, out_features=1, bias=False)" in text
    assert text.endswith("\n  )\n)")


def test_module_list_repr_is_pytorchs(torch) -> None:
    def build(lib: Any) -> Any:
        n = lib.nn
        return n.ModuleList([n.ReLU(), n.ReLU(), n.ReLU(), n.Linear(2, 3), n.Tanh(), n.Tanh(),
                             n.Sequential(n.Linear(3, 3), n.ReLU()), n.Sequential(n.Linear(3, 3), n.ReLU())])
    assert repr(build(mg)) == repr(build(torch))
    assert repr(nn.ModuleList()) == repr(torch.nn.ModuleList()) == "ModuleList()"
    assert repr(nn.ModuleList([nn.ReLU()])) == repr(torch.nn.ModuleList([torch.nn.ReLU()]))


def test_assigning_a_plain_tensor_over_a_parameter_raises_as_in_torch(torch) -> None:
    model = nn.Linear(2, 3)
    weight = model.weight
    with pytest.raises(TypeError, match=r"Linear: cannot assign a Tensor as parameter 'weight' \(nn.Parameter or None"):
        model.weight = model.weight * 2
    peer = torch.nn.Linear(2, 3)
    with pytest.raises(TypeError, match="cannot assign"):
        peer.weight = peer.weight * 2
    assert model.weight is weight and [n for n, _ in model.named_parameters()] == ["weight", "bias"]
    model.weight = nn.Parameter(mg.zeros(3, 2))          # a new Parameter replaces it, in place in the order
    assert [n for n, _ in model.named_parameters()] == ["weight", "bias"] and model.weight.numpy().sum() == 0
    model.bias = None                                    # None removes it
    assert [n for n, _ in model.named_parameters()] == ["weight"]
    seq = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="cannot assign a int as child module '0'"):
        setattr(seq, "0", 5)


def test_a_buffer_assigned_a_tensor_stays_a_buffer() -> None:
    class Counter(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("count", mg.zeros(1))

    module = Counter()
    module.count = module.count + 1
    assert list(module.state_dict()) == ["count"] and module.state_dict()["count"].item() == 1
