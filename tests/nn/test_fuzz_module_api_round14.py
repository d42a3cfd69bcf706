"""nn.Module API against torch.nn.Module, differentially: random module trees (layers, containers, shared
children and parameters, persistent and non-persistent buffers, None slots) built the same way in both, then
their traversals, state dicts, load results, reprs and conversions compared; plus what the fuzzing found apart:
``load_state_dict(assign=True)`` of tied parameters (each name gets its own tensor, as PyTorch's) and a 1-element
vector loaded into a 0-d tensor (PyTorch 0.3's checkpoints)."""

from __future__ import annotations

import copy
import random
import warnings
from typing import Any

import numpy
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")


class _Lib:
    """One side of the comparison: its nn package and a tensor maker from NumPy data."""

    def __init__(self, which: str) -> None:
        self.which = which
        self.nn = torch.nn if which == "torch" else nn
        self.make = torch.tensor if which == "torch" else mg.tensor

    def t(self, data: Any, dtype: str = "float32") -> Any:
        return self.make(numpy.asarray(data, dtype=dtype))


LIBS = [_Lib("torch"), _Lib("ours")]


def _leaf(r: random.Random) -> tuple:
    kind = r.choice(["lin", "conv", "bn", "lstm", "emb"])
    return {"lin": ("lin", r.randint(1, 3), r.randint(1, 3), r.random() < .7), "conv": ("conv", r.random() < .5),
            "bn": ("bn", r.random() < .5, r.random() < .7), "lstm": ("lstm", r.randint(1, 2), r.random() < .5),
            "emb": ("emb", r.choice([None, 0, 2]))}[kind]


def _recipe(r: random.Random, depth: int = 0) -> tuple:
    """A random module tree, as nested tuples that both sides build the same way."""
    if depth > 2 or r.random() < 0.3:
        return _leaf(r)
    kind = r.choice(["seq", "ml", "md", "pl", "pd", "custom", "custom"])
    if kind in ("seq", "ml"):
        return kind, tuple(_recipe(r, depth + 1) for _ in range(r.randint(0, 3)))
    if kind == "md":
        return kind, tuple((name, _recipe(r, depth + 1)) for name in r.sample("abcwxy", r.randint(0, 3)))
    if kind == "pl":
        return kind, tuple(r.randint(1, 3) for _ in range(r.randint(0, 3)))
    if kind == "pd":
        return kind, tuple((name, r.randint(1, 3)) for name in r.sample("abcwxy", r.randint(0, 3)))
    ops: list = []
    children: list = []
    params: list = []
    for name in r.sample(["p", "q", "s", "u", "v", "z", "m1", "m2", "b1", "b2"], r.randint(1, 6)):
        c = r.random()
        if c < .35:
            ops.append(("child", name, _recipe(r, depth + 1)))
            children.append(name)
        elif c < .45:
            ops.append(("none_child", name))
        elif c < .6:
            ops.append(("param", name, r.randint(1, 3)))
            params.append(name)
        elif c < .65:
            ops.append(("none_param", name))
        elif c < .85:
            ops.append(("buf", name, r.randint(1, 3), r.choice(["float32", "int64", "float64"]), r.random() < .6))
        elif c < .9:
            ops.append(("none_buf", name))
        elif children:
            ops.append(("share_child", name, r.choice(children)))
        elif params:
            ops.append(("share_param", name, r.choice(params)))
    return "custom", tuple(ops)


def _build(lib: _Lib, recipe: tuple) -> Any:
    n, kind = lib.nn, recipe[0]
    if kind == "lin":
        return n.Linear(recipe[1], recipe[2], bias=recipe[3])
    if kind == "conv":
        return n.Conv2d(2, 3, 3, bias=recipe[1])
    if kind == "bn":
        return n.BatchNorm1d(3, affine=recipe[1], track_running_stats=recipe[2])
    if kind == "lstm":
        return n.LSTM(2, 3, num_layers=recipe[1], bidirectional=recipe[2])
    if kind == "emb":
        return n.Embedding(4, 2, padding_idx=recipe[1])
    if kind == "seq":
        return n.Sequential(*[_build(lib, r) for r in recipe[1]])
    if kind == "ml":
        return n.ModuleList([_build(lib, r) for r in recipe[1]])
    if kind == "md":
        return n.ModuleDict({k: _build(lib, r) for k, r in recipe[1]})
    if kind == "pl":
        return n.ParameterList([lib.t(numpy.ones(s)) for s in recipe[1]])
    if kind == "pd":
        return n.ParameterDict({k: lib.t(numpy.ones(s)) for k, s in recipe[1]})
    m = n.Module()
    for op in recipe[1]:
        if op[0] == "child":
            setattr(m, op[1], _build(lib, op[2]))
        elif op[0] == "none_child":
            m.add_module(op[1], None)
        elif op[0] == "param":
            setattr(m, op[1], n.Parameter(lib.t(numpy.full(op[2], 0.5))))
        elif op[0] == "none_param":
            m.register_parameter(op[1], None)
        elif op[0] == "buf":
            m.register_buffer(op[1], lib.t(numpy.arange(op[2]), op[3]), persistent=op[4])
        elif op[0] == "none_buf":
            m.register_buffer(op[1], None)
        elif op[0] == "share_child":
            setattr(m, op[1], m.get_submodule(op[2]))
        else:
            setattr(m, op[1], m.get_parameter(op[2]))
    return m


def _dtype(t: Any) -> str:
    return str(t.dtype).replace("torch.", "")


def _observe(lib: _Lib, recipe: tuple, seed: int) -> dict:
    """What the module API answers for the tree ``recipe`` (errors as their class name)."""
    m = _build(lib, recipe)
    r = random.Random(seed)
    out: dict = {}
    for kw in [{}, {"prefix": "pre"}, {"recurse": False}, {"remove_duplicate": False}]:
        out[f"params{kw}"] = [(k, tuple(v.shape), type(v).__name__) for k, v in m.named_parameters(**kw)]
        out[f"buffers{kw}"] = [(k, tuple(v.shape), _dtype(v)) for k, v in m.named_buffers(**kw)]
    for kw in [{}, {"prefix": "r"}, {"remove_duplicate": False}]:
        out[f"modules{kw}"] = [(k, type(v).__name__) for k, v in m.named_modules(**kw)]
    out["children"] = [(k, type(v).__name__) for k, v in m.named_children()]
    out["state_dict"] = [(k, tuple(v.shape), type(v).__name__) for k, v in m.state_dict(prefix="pp.").items()]
    out["keep_vars"] = [(k, type(v).__name__) for k, v in m.state_dict(keep_vars=True).items()]
    out["repr"] = repr(m).replace("torch.", "").replace("minigrad.", "")
    applied: list = []
    m.apply(lambda module: applied.append(type(module).__name__))
    out["apply"] = applied
    state = m.state_dict()
    drop = set(r.sample(list(state), min(len(state), r.randint(0, 2))))
    partial = {k: v.clone() for k, v in state.items() if k not in drop}
    partial["bogus.key"] = lib.t([1.0])
    result = m.load_state_dict(partial, strict=False)
    out["load"] = (result.missing_keys, result.unexpected_keys, repr(result))
    try:
        m.load_state_dict(partial)
        out["strict"] = "ok"
    except RuntimeError as error:
        out["strict"] = [key for key in ["bogus.key", *sorted(drop)] if key in str(error)]   # the keys it names
    m.load_state_dict({k: v.clone() * 2 for k, v in state.items()}, assign=True)
    out["assigned"] = [(k, type(v).__name__, v.requires_grad, _dtype(v))
                       for k, v in m.state_dict(keep_vars=True).items()]
    out["shared"] = [[id(p) for p in m.parameters()].index(id(p)) for _, p in m.named_parameters(
        remove_duplicate=False)]
    m.double()
    out["double"] = [(k, _dtype(v)) for k, v in m.state_dict().items()]
    m.half()
    out["half"] = [(k, _dtype(v)) for k, v in m.state_dict().items()]
    return out


@pytest.mark.parametrize("seed", range(0, 240, 12))
def test_random_module_trees_answer_as_torch(seed: int) -> None:
    recipe = _recipe(random.Random(seed))
    theirs, ours = (_observe(lib, recipe, seed) for lib in LIBS)
    for key in theirs:
        assert ours[key] == theirs[key], (key, recipe)


def _tied(lib: _Lib) -> Any:
    n = lib.nn
    a, b = n.Linear(2, 2, bias=False), n.Linear(2, 2, bias=False)
    b.weight = a.weight
    return n.Sequential(a, b)


def test_assign_gives_tied_parameters_a_tensor_each_as_torch() -> None:
    """Was: both names kept one Parameter, which took the value loaded last (0.weight silently [[0, 0], ...])."""
    seen = []
    for lib in LIBS:
        m = _tied(lib)
        m.load_state_dict({"0.weight": lib.t(numpy.ones((2, 2))), "1.weight": lib.t(numpy.zeros((2, 2)))},
                          assign=True)
        seen.append((m[0].weight.tolist(), m[1].weight.tolist(), m[0].weight is m[1].weight,
                     len(list(m.parameters())), type(m[1].weight).__name__, m[1].weight.requires_grad))
    assert seen[1] == seen[0] == ([[1.0, 1.0], [1.0, 1.0]], [[0.0, 0.0], [0.0, 0.0]], False, 2, "Parameter", True)


def test_assign_gives_shared_buffers_a_tensor_each_and_keeps_a_shared_module_shared() -> None:
    seen = []
    for lib in LIBS:
        n = lib.nn
        buffers = n.Module()
        buffers.register_buffer("x", lib.t([1.0]))
        buffers.register_buffer("y", buffers.x)
        buffers.load_state_dict({"x": lib.t([2.0]), "y": lib.t([3.0])}, assign=True)
        lin = n.Linear(2, 1)
        shared = n.Sequential(lin, lin)
        shared.load_state_dict({k: lib.t(numpy.full(tuple(v.shape), float(i)))
                                for i, (k, v) in enumerate(shared.state_dict().items())}, assign=True)
        seen.append((buffers.x.tolist(), buffers.y.tolist(), buffers.x is buffers.y, shared[0].weight.tolist(),
                     shared[1].bias.tolist(), shared[0].weight is shared[1].weight))
    assert seen[1] == seen[0]


def test_a_failed_assign_keeps_tied_parameters_tied() -> None:
    m = _tied(LIBS[1])
    m.register_load_state_dict_post_hook(lambda module, keys: keys.missing_keys.append("late"))
    weight = m[0].weight
    with pytest.raises(RuntimeError, match="late"):
        m.load_state_dict({"0.weight": mg.ones(2, 2), "1.weight": mg.zeros(2, 2)}, assign=True)
    assert m[0].weight is weight and m[1].weight is weight and len(list(m.parameters())) == 1


@pytest.mark.parametrize("assign", [False, True])
def test_a_one_element_vector_loads_into_a_scalar_as_torch(assign: bool) -> None:
    """PyTorch loads a (1,) value into a 0-d parameter or buffer (0.3's checkpoints); ours refused it."""
    seen = []
    for lib in LIBS:
        bn = lib.nn.BatchNorm1d(2)
        state = bn.state_dict()
        state["num_batches_tracked"] = lib.t([5], "int64")
        bn.load_state_dict(state, assign=assign)
        seen.append((bn.num_batches_tracked.tolist(), tuple(bn.num_batches_tracked.shape),
                     _dtype(bn.num_batches_tracked)))
        state["num_batches_tracked"] = lib.t([5, 6], "int64")   # two elements: still a size mismatch
        with pytest.raises(RuntimeError, match="num_batches_tracked"):
            bn.load_state_dict(state, assign=assign)
    assert seen[1] == seen[0] == (5, (), "int64")


def _complex_model(lib: _Lib) -> Any:
    m = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.BatchNorm1d(2))
    m.register_buffer("index", lib.t([1, 2], "int64"))
    return m


def _dtypes(m: Any) -> list:
    return [(k, _dtype(v), v.requires_grad) for k, v in m.state_dict(keep_vars=True).items()]


@pytest.mark.filterwarnings("ignore:Complex modules")   # PyTorch's note that complex modules are new
def test_to_a_complex_dtype_casts_the_floating_tensors_as_torch() -> None:
    """Was: a TypeError ("only accepts floating point or complex dtypes", then refusing complex)."""
    seen = []
    for lib, ns in zip(LIBS, [torch, mg]):
        m = _complex_model(lib).to(ns.complex64)
        x = lib.t(numpy.ones((1, 2)), "complex64")
        seen.append((_dtypes(m), _dtypes(_complex_model(lib).to(dtype=ns.complex128)), _dtype(m[0](x)),
                     _dtypes(m.float()), _dtypes(m.double()), _dtypes(m.half())))   # these leave complex alone
    assert seen[1] == seen[0]
    assert seen[0][0][1] == ("0.weight", "complex64", True)


def test_to_a_real_dtype_keeps_the_real_part_of_complex_tensors_with_a_warning() -> None:
    seen = []
    for lib, ns in zip(LIBS, [torch, mg]):
        m = lib.nn.Linear(2, 1, dtype=ns.complex64)
        with ns.no_grad():
            m.weight.copy_(ns.tensor([[1 + 2j, 3 - 1j]]))
        if ns is torch:   # torch's warning is once per process (TORCH_WARN_ONCE): not asserted
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m.to(ns.float64)
        else:
            with pytest.warns(UserWarning, match="imaginary part"):
                m.to(ns.float64)
        seen.append((m.weight.tolist(), _dtype(m.weight), _dtype(m.bias), m.weight.requires_grad))
    assert seen[1] == seen[0] == ([[1.0, 3.0]], "float64", "float64", True)


def test_a_parameter_over_a_method_or_class_attribute_is_a_key_error_as_torch() -> None:
    """Was: ``m.forward = Parameter(...)`` registered a parameter named forward (shadowing the method)."""
    seen = []
    for lib in LIBS:
        n = lib.nn

        class Model(n.Module):
            scale = 3

            @property
            def answers(self) -> int:
                return 1

        m = Model()
        m.cuda_like = 3   # an instance attribute: replaced by a parameter, as torch's
        row = []
        for name in ["forward", "cuda", "scale", "answers", "cuda_like"]:
            try:
                setattr(m, name, n.Parameter(lib.t([1.0])))
                row.append((name, "ok"))
            except KeyError as error:
                row.append((name, "KeyError", f"attribute '{name}' already exists" in str(error)))
        m.cuda = 3   # a plain value still goes in as torch's (an instance attribute)
        row.append([k for k, _ in m.named_parameters()])
        seen.append(row)
    assert seen[1] == seen[0]
    assert seen[0][-1] == ["cuda_like"]


@pytest.mark.parametrize("kind", ["ParameterList", "ParameterDict"])
def test_calling_a_parameter_container_is_torchs_runtime_error(kind: str) -> None:
    """Was: NotImplementedError ("has no forward()")."""
    for lib in LIBS:
        with pytest.raises(RuntimeError, match=f"{kind} should not be called"):
            getattr(lib.nn, kind)()(lib.t([1.0]))


def test_parameter_list_keeps_other_objects_as_torch() -> None:
    """Was: a TypeError for anything but a Tensor; PyTorch keeps any object (a plain attribute)."""
    seen = []
    for lib in LIBS:
        pl = lib.nn.ParameterList([lib.t([1.0]), 3, None, "a"])
        row = [len(pl), list(pl)[1:], pl[-1], [k for k, _ in pl.named_parameters()], list(pl.state_dict()),
               repr(pl).replace("torch.", ""), [type(v).__name__ for v in pl[1:3]]]
        with pytest.raises(TypeError):
            pl[0] = 5   # a parameter's slot takes only a Parameter or None
        pl[1] = lib.t([2.0, 3.0])   # an object's slot takes a tensor, made a Parameter
        row += [type(pl[1]).__name__, [k for k, _ in pl.named_parameters()], len(copy.deepcopy(pl))]
        with pytest.raises(TypeError):
            pl.extend(3)
        seen.append(row)
    assert seen[1] == seen[0]
    assert seen[0][0] == 4 and "(1): Object of type: int" in seen[0][5]


def test_parameter_dict_keeps_other_objects_as_torch() -> None:
    """Was: a TypeError for anything but a Tensor (``fromkeys(keys)``, ``setdefault(key)`` included)."""
    seen = []
    for lib in LIBS:
        pd = lib.nn.ParameterDict({"b": lib.t([1.0]), "a": 3})
        pd["c"] = None
        pd["d"] = "s"
        row = [list(pd), [type(v).__name__ for v in pd.values()], [k for k, _ in pd.named_parameters()],
               list(pd.state_dict()), "c" in pd, pd.get("a"), repr(pd).replace("torch.", "").replace("minigrad.", "")]
        row += [pd.pop("a"), pd.popitem(), list(reversed(pd)), list(pd.fromkeys(["x"]).items()), pd.setdefault("q")]
        copied = copy.deepcopy(pd)
        row += [list(copied), [k for k, _ in copied.named_parameters()]]
        pd["c"] = lib.t([1.0])
        row += [list(pd), [k for k, _ in pd.named_parameters()]]
        pd.clear()
        row.append(len(pd))
        seen.append(row)
    assert seen[1] == seen[0]
    assert seen[0][0] == ["a", "b", "c", "d"] and "(a): Object of type: int" in seen[0][6]
