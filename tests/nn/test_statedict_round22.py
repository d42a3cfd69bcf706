"""Module state dicts against torch.nn.Module (round 22's differential fuzzing of state_dict/load_state_dict and
their hooks): a subclass's ``_load_from_state_dict`` that reads its tensors (or extra state) after calling
``super()`` sees the loaded values, as PyTorch's (the load now writes each key as it walks, keeping what it
replaced, and puts everything back when the load fails); ``state_dict``'s old positional arguments yield to the
keywords given; the load post-hooks run as the walk leaves each subtree, on the keys found so far; an instance
norm without running statistics refuses them from an unversioned state dict; a failed load leaves a lazy module
lazy; and ``_non_persistent_buffers_set`` is the set ``state_dict`` reads."""

from __future__ import annotations

import warnings
from collections import OrderedDict
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

    def t(self, data: Any, dtype: str = "float32") -> Any:
        array = numpy.asarray(data, dtype=dtype)
        return torch.tensor(array) if self.which == "torch" else mg.tensor(array)


LIBS = [_Lib("torch"), _Lib("ours")]


def _reads_weight_after_super(lib: _Lib) -> Any:
    class Cached(lib.nn.Linear):
        def _load_from_state_dict(self, state_dict: Any, prefix: str, *rest: Any) -> None:
            super()._load_from_state_dict(state_dict, prefix, *rest)
            self.cached = float(self.weight.sum())

    model = lib.nn.Sequential(Cached(2, 1))
    model.load_state_dict({"0.weight": lib.t([[1.0, 2.0]]), "0.bias": lib.t([0.0])})
    return model[0].cached


def _reads_extra_state_after_super(lib: _Lib) -> Any:
    class Extra(lib.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.value = 0

        def get_extra_state(self) -> Any:
            return self.value

        def set_extra_state(self, state: Any) -> None:
            self.value = state

        def _load_from_state_dict(self, state_dict: Any, prefix: str, *rest: Any) -> None:
            super()._load_from_state_dict(state_dict, prefix, *rest)
            self.seen = self.value

    model = Extra()
    model.load_state_dict({"_extra_state": 4})
    return model.seen


def _shared_module_renamed_by_a_pre_hook(lib: _Lib) -> Any:
    """A module shared under two names, loaded from its own state dict with one name's key renamed to 9s: PyTorch
    writes the 9s, then the other name's value (the module's own memory, now 9s)."""
    lin = lib.nn.Linear(2, 1)
    model = lib.nn.Sequential(lin, lib.nn.Sequential(lin))

    def rename(module: Any, state_dict: dict, prefix: str, *rest: Any) -> None:
        if prefix + "old" in state_dict:
            state_dict[prefix + "weight"] = state_dict.pop(prefix + "old")

    lin.register_load_state_dict_pre_hook(rename)
    state = model.state_dict()
    state["0.old"] = state.pop("0.weight") * 0 + 9
    model.load_state_dict(state)
    return lin.weight.tolist()


@pytest.mark.parametrize("case", [_reads_weight_after_super, _reads_extra_state_after_super,
                                  _shared_module_renamed_by_a_pre_hook])
def test_a_module_sees_its_loaded_values_during_the_load_as_torch(case: Any) -> None:
    """Was: the walk only recorded the values and copied them at its end, so an override reading ``self.weight``
    after ``super()._load_from_state_dict`` got the old weight (-0.96 for torch's 3.0), and the old extra state."""
    assert case(LIBS[1]) == case(LIBS[0])


def test_a_failed_load_still_changes_nothing_and_keeps_saved_graphs_valid() -> None:
    class Cached(nn.Linear):
        def _load_from_state_dict(self, state_dict: Any, prefix: str, *rest: Any) -> None:
            super()._load_from_state_dict(state_dict, prefix, *rest)
            self.cached = float(self.weight.sum())

    model = nn.Sequential(Cached(2, 2), nn.Linear(2, 3))
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    loss = model(mg.ones(1, 2)).sum()
    bad = {k: v * 0 + 7 for k, v in model.state_dict().items()}
    bad["1.bias"] = mg.zeros(4)
    with pytest.raises(RuntimeError, match=r"1\.bias"):
        model.load_state_dict(bad)
    assert all(numpy.array_equal(model.state_dict()[k].numpy(), v) for k, v in before.items())
    loss.backward()   # the failed load wrote 0.* and put it back: no in-place change is counted
    assert model[0].weight.grad is not None
    model.register_load_state_dict_post_hook(lambda module, keys: keys.missing_keys.append("late"))
    with pytest.raises(RuntimeError, match="late"):
        model.load_state_dict({k: v * 0 + 7 for k, v in model.state_dict().items()})
    assert all(numpy.array_equal(model.state_dict()[k].numpy(), v) for k, v in before.items())


def _post_hook_lists(lib: _Lib, action: str) -> Any:
    model = lib.nn.Sequential(lib.nn.Linear(1, 1), lib.nn.Sequential(lib.nn.Linear(1, 1)), lib.nn.Linear(1, 1))
    seen = []

    def hook(module: Any, keys: Any) -> None:
        seen.append((list(keys.missing_keys), list(keys.unexpected_keys)))
        if action == "clear":
            keys.missing_keys.clear()
            keys.unexpected_keys.clear()
        elif action == "add":
            keys.unexpected_keys.append("added")

    for module in (model[0], model[1], model):
        module.register_load_state_dict_post_hook(hook)
    for module in model.modules():
        module.register_load_state_dict_pre_hook(lambda module, sd, prefix, *rest: seen.append(prefix))
    state = model.state_dict()
    for key in ("0.bias", "1.0.bias", "2.bias"):
        state.pop(key)
    state["zz"], state["1.zz"] = lib.t([1.0]), lib.t([1.0])
    try:
        result = model.load_state_dict(state)
        return seen, result.missing_keys, result.unexpected_keys
    except RuntimeError:
        return seen, "RuntimeError"


@pytest.mark.parametrize("action", ["look", "clear", "add"])
def test_load_post_hooks_run_as_the_walk_leaves_each_subtree_as_torch(action: str) -> None:
    """Was: the post-hooks ran after the whole walk (after every pre-hook), each seeing the keys of the whole
    load, so a child's hook clearing the lists also cleared a later sibling's missing keys and the strict load
    passed, where PyTorch's (its hooks run as the walk leaves each subtree) refuses it."""
    assert _post_hook_lists(LIBS[1], action) == _post_hook_lists(LIBS[0], action)


@pytest.mark.parametrize("args, kwargs", [((None, "a."), {"prefix": "b."}), (("dest", "a."), {"destination": "kw"}),
                                          ((None, "", True), {}), ((None, "", True), {"keep_vars": False}),
                                          ((None, "a.", True), {"prefix": "", "keep_vars": True})])
def test_state_dict_positional_arguments_yield_to_keywords_as_torch(args: tuple, kwargs: dict) -> None:
    """Was: the old positional form (destination, prefix, keep_vars) overrode the keywords given (``a.`` keys for
    torch's ``b.``, the positional destination filled), and gave no FutureWarning."""
    seen = []
    for lib in LIBS:
        model = lib.nn.Linear(1, 1)
        dicts = {"dest": OrderedDict(), "kw": OrderedDict()}
        call_args = tuple(dicts.get(a, a) if isinstance(a, str) and a in dicts else a for a in args)
        call_kwargs = {k: dicts.get(v, v) if isinstance(v, str) else v for k, v in kwargs.items()}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = model.state_dict(*call_args, **call_kwargs)
        seen.append(([(k, type(v).__name__) for k, v in result.items()], [len(d) for d in dicts.values()],
                     [w.category.__name__ for w in caught]))
    assert seen[1] == seen[0]


def _instance_norm_load(lib: _Lib, version: int | None, strict: bool) -> Any:
    model = lib.nn.Sequential(lib.nn.InstanceNorm1d(2))
    state = OrderedDict([("0.running_mean", lib.t([0.0, 0.0])), ("0.running_var", lib.t([1.0, 1.0]))])
    if version is not None:
        state._metadata = OrderedDict([("", {"version": 1}), ("0", {"version": version})])
    try:
        result = model.load_state_dict(state, strict=strict)
        return result.missing_keys, result.unexpected_keys
    except RuntimeError as error:
        return "RuntimeError", "track_running_stats=False" in str(error), "0.running_mean" in str(error)


@pytest.mark.parametrize("version, strict", [(None, False), (None, True), (2, False), (2, True)])
def test_an_instance_norm_refuses_running_stats_from_an_unversioned_state_dict_as_torch(version: Any,
                                                                                         strict: bool) -> None:
    """Was: with ``strict=False`` the keys came back as unexpected; PyTorch refuses a dict without a version (a
    checkpoint from before 0.4) that has running statistics for a norm without them."""
    assert _instance_norm_load(LIBS[1], version, strict) == _instance_norm_load(LIBS[0], version, strict)


_LAZY = [   # (the model, a state dict that fits, one more key that breaks it, its lazy layer's input)
    (lambda: nn.Sequential(nn.LazyLinear(2)), {"0.weight": numpy.ones((2, 3)), "0.bias": numpy.ones(2)},
     ("0.bias", numpy.ones(3)), (1, 5)),
    (lambda: nn.Sequential(nn.LazyConv1d(2, 3), nn.Linear(1, 1)),
     {"0.weight": numpy.ones((2, 4, 3)), "0.bias": numpy.ones(2), "1.weight": numpy.ones((1, 1)),
      "1.bias": numpy.ones(1)}, ("1.weight", numpy.ones((2, 2))), (1, 6, 5)),
    (lambda: nn.Sequential(nn.LazyBatchNorm1d()),
     {"0.weight": numpy.ones(2), "0.bias": numpy.ones(2), "0.running_mean": numpy.zeros(2),
      "0.running_var": numpy.ones(2), "0.num_batches_tracked": numpy.array(3)}, ("zz", numpy.ones(1)), (2, 4))]


@pytest.mark.parametrize("make, good, bad, width", _LAZY)
def test_a_failed_load_leaves_a_lazy_module_lazy(make: Any, good: dict, bad: tuple, width: tuple) -> None:
    """Was (as PyTorch, which keeps what it wrote): the placeholders took the state dict's shapes and the module
    its plain class before the load failed, so an input of another width was then refused."""
    model = make()
    with pytest.raises(RuntimeError, match=bad[0]):
        model.load_state_dict({**good, bad[0]: bad[1]})
    assert model[0].has_uninitialized_params() and type(model[0]).__name__.startswith("Lazy")
    assert model[0](mg.ones(*width)).shape[0] == width[0]   # its first input still decides its shapes
    model = make()
    model.load_state_dict(good)   # a load that fits gives them the state dict's shapes
    assert not getattr(model[0], "has_uninitialized_params", lambda: False)()
    assert all(numpy.array_equal(model.state_dict()[k].numpy(), v) for k, v in good.items())


@pytest.mark.gpu
def test_a_gpu_model_loads_and_puts_back_on_its_device() -> None:
    class Cached(nn.Linear):
        def _load_from_state_dict(self, state_dict: Any, prefix: str, *rest: Any) -> None:
            super()._load_from_state_dict(state_dict, prefix, *rest)
            self.cached = self.weight.sum().item()

    model = nn.Sequential(Cached(2, 1), nn.Linear(1, 1)).to("cuda")
    before = {k: v.cpu().numpy().copy() for k, v in model.state_dict().items()}
    with pytest.raises(RuntimeError, match=r"1\.weight"):
        model.load_state_dict({"0.weight": numpy.ones((1, 2)), "0.bias": numpy.ones(1), "1.weight": numpy.ones(2),
                               "1.bias": numpy.ones(1)})
    assert all(numpy.array_equal(model.state_dict()[k].cpu().numpy(), v) for k, v in before.items())
    model.load_state_dict({"0.weight": numpy.ones((1, 2)), "0.bias": numpy.ones(1), "1.weight": numpy.ones((1, 1)),
                           "1.bias": numpy.ones(1)})
    assert model[0].cached == 2.0 and model[0].weight.device.type == "cuda"


def _non_persistent_edits(lib: _Lib) -> Any:
    model = lib.nn.BatchNorm1d(2)
    model._non_persistent_buffers_set.add("running_mean")
    saved = [list(model.state_dict())]
    model._non_persistent_buffers_set = {"running_var"}
    saved.append(list(model.state_dict()))
    model.register_buffer("extra", lib.t([1.0]), persistent=False)
    saved.append(sorted(model._non_persistent_buffers_set))
    return saved


def test_non_persistent_buffers_set_is_the_set_state_dict_reads_as_torch() -> None:
    """Was: an AttributeError; PyTorch code (and libraries built on it) edits the set to leave buffers out."""
    assert _non_persistent_edits(LIBS[1]) == _non_persistent_edits(LIBS[0])
