"""Round 20's regression sweep: what re-running rounds 19-20's fuzzers (and a container-edit fuzzer) on the
finished tree found, each compared with live PyTorch."""

import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")


def _self_containing(lib_nn):
    """A Sequential appended into itself (a cycle in the module tree)."""
    seq = lib_nn.Sequential(lib_nn.Linear(2, 2))
    seq.append(seq)
    return seq


def test_state_dict_of_a_module_containing_itself_raises_recursion_error_as_torch():
    # the looping walk (round 19) grew ever longer keys until memory ran out; PyTorch's recursion stops
    with pytest.raises(RecursionError):
        _self_containing(torch.nn).state_dict()
    with pytest.raises(RecursionError, match="contains itself"):
        _self_containing(nn).state_dict()


def test_state_dict_keeps_a_shared_child_under_each_name_as_torch():
    # a module under two names (not its own ancestor) is no cycle: each name saves it, as PyTorch's
    def build(lib_nn):
        shared = lib_nn.Linear(2, 2)
        inner = lib_nn.Sequential(shared, lib_nn.Tanh(), shared)
        return lib_nn.Sequential(inner, shared, lib_nn.ModuleList([inner]))

    ours, theirs = build(nn).state_dict(), build(torch.nn).state_dict()
    assert list(ours) == list(theirs)
    assert list(ours._metadata) == list(theirs._metadata)
    assert mg.is_tensor(ours["1.weight"])


@pytest.mark.parametrize("walk", ["named_modules", "named_parameters"])
def test_remove_duplicate_false_walk_of_a_module_containing_itself_raises_recursion_error_as_torch(walk):
    # named_modules' loop (remove_duplicate=False) yielded forever, so list(...) ran out of memory
    with pytest.raises(RecursionError):
        list(getattr(_self_containing(torch.nn), walk)(remove_duplicate=False))
    with pytest.raises(RecursionError, match="contains itself"):
        list(getattr(_self_containing(nn), walk)(remove_duplicate=False))
    seq = _self_containing(nn)   # the default walk skips what it has seen, as PyTorch's memo does
    assert [n for n, _ in seq.named_modules()] == [n for n, _ in _self_containing(torch.nn).named_modules()]


def test_remove_duplicate_false_keeps_a_shared_child_under_each_name_as_torch():
    def build(lib_nn):
        shared = lib_nn.Linear(2, 2)
        return lib_nn.Sequential(lib_nn.Sequential(shared, shared), shared, lib_nn.ModuleList([shared]))

    for walk in ("named_modules", "named_parameters"):
        ours = [n for n, _ in getattr(build(nn), walk)(remove_duplicate=False)]
        assert ours == [n for n, _ in getattr(build(torch.nn), walk)(remove_duplicate=False)]


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_deeply_nested_model_copies_as_deep_as_torchs(how):
    # round 20's Place (a parameter's name read through its module's place) halved the depth copies reached:
    # each leaf's copy climbed the chain of places not yet copied (torch: ~160 levels, ours broke at ~73)
    import copy
    import pickle

    def build(lib_nn, depth=120):
        model = lib_nn.Linear(2, 2)
        for _ in range(depth):
            model = lib_nn.Sequential(model)
        return model

    def do(model):
        return copy.deepcopy(model) if how == "deepcopy" else pickle.loads(pickle.dumps(model))

    do(build(torch.nn))
    ours = build(nn)
    copied = do(ours)
    names = [p.name for p in copied.parameters()]
    assert names == [n for n, _ in ours.named_parameters()] == [n for n, _ in copied.named_parameters()]
