"""nn.Module against torch.nn.Module where a differential probe found them apart: always_call forward hooks
when a pre-hook or a forward hook raises, a full backward hook's grad_input for an input that needs no gradient,
the global hooks under ``nn.modules.module``, ``register_parameter(name, None)``, ``zero_grad(set_to_none=False)``
on a gradient that requires grad, ``dir()`` of a container and ParameterDict's repr. Each test runs the same code
on torch.nn and on nn."""

from __future__ import annotations

import warnings
from typing import Any

import numpy
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")


def _libs() -> list[tuple[Any, Any]]:
    """(nn package, float64 tensor maker) for torch, then ours."""
    return [(torch.nn, lambda x, rg=False: torch.tensor(x, dtype=torch.float64, requires_grad=rg)),
            (nn, lambda x, rg=False: mg.tensor(x, dtype=mg.float64, requires_grad=rg))]


def _log_always_call_hooks(lib: Any, t: Any) -> list:
    """What always_call hooks see when a pre-hook raises, when a forward hook raises after another changed the
    output, and when an always_call hook raises too (silenced with a warning, the next still runs)."""
    log: list = []

    def raising(*_: Any) -> None:
        raise KeyError("hook")

    first = lib.Identity()
    first.register_forward_pre_hook(raising)
    first.register_forward_hook(lambda m, a, o: log.append(("after pre", o)), always_call=True)
    first.register_forward_hook(lambda m, a, o: log.append("never"))
    second = lib.Identity()
    second.register_forward_hook(lambda m, a, o: o * 2)
    second.register_forward_hook(raising)
    second.register_forward_hook(lambda m, a, k, o: log.append(("output", float(o.sum()), dict(k))),
                                 always_call=True, with_kwargs=True)
    third = lib.Identity()
    third.register_forward_pre_hook(raising)
    third.register_forward_hook(raising, always_call=True)
    third.register_forward_hook(lambda m, a, o: log.append(("next", o)), always_call=True)
    fourth = lib.Identity()   # forward returned: an always_call hook that raises is not run again
    fourth.register_forward_hook(raising, always_call=True)
    fourth.register_forward_hook(lambda m, a, o: log.append(("last", float(o.sum()))), always_call=True)
    for module in (first, second, third, fourth):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(KeyError):
                module(t([1.5]))
        log.append(len(caught))
    return log


def test_always_call_hooks_run_when_a_pre_hook_or_a_forward_hook_raises() -> None:
    (tnn, tt), (mnn, mt) = _libs()
    theirs, ours = _log_always_call_hooks(tnn, tt), _log_always_call_hooks(mnn, mt)
    assert ours == theirs
    assert ours == [("after pre", None), 0, ("output", 3.0, {}), 0, ("next", None), 1, ("last", 1.5), 0]


def _backward_hook_grads(lib: Any, t: Any) -> tuple:
    class Two(lib.Module):
        def forward(self, x: Any, y: Any, k: int) -> Any:
            return x * y + k, x + 1

    module, log = Two(), []
    module.register_full_backward_hook(lambda m, gi, go: log.append([None if g is None else g.tolist() for g in gi]))
    x, y = t([1.0, 2.0], True), t([3.0, 4.0])
    a, b = module(x, y, 7)
    (a.sum() * 2 + b.sum()).backward()
    return log, x.grad.tolist(), y.grad


def test_full_backward_hook_gets_zeros_for_a_tensor_input_that_needs_no_gradient() -> None:
    # was y's gradient (x * 2, computed although y does not require grad); torch hands the hook zeros
    (tnn, tt), (mnn, mt) = _libs()
    theirs, ours = _backward_hook_grads(tnn, tt), _backward_hook_grads(mnn, mt)
    assert ours == theirs
    assert ours[0] == [[[7.0, 9.0], [0.0, 0.0], None]] and ours[2] is None


def test_global_hooks_are_reachable_as_nn_modules_module_functions() -> None:
    from nn.modules import module as path  # torch.nn.modules.module.register_module_forward_hook & co.

    log: list = []
    model = nn.Sequential(nn.Identity())
    handles = [path.register_module_forward_pre_hook(lambda m, a: log.append(("pre", type(m).__name__))),
               path.register_module_forward_hook(lambda m, a, o: log.append(("post", type(m).__name__)))]
    try:
        model(mg.ones(1))
    finally:
        for handle in handles:
            handle.remove()
    model(mg.ones(1))
    assert log == [("pre", "Sequential"), ("pre", "Identity"), ("post", "Identity"), ("post", "Sequential")]
    assert path.register_module_forward_hook is nn.module.register_module_forward_hook


def _none_parameter(lib: Any, t: Any) -> list:
    module = lib.Module()
    module.register_parameter("p", None)
    out: list = ["p" in module._parameters, module.p, list(module.state_dict())]
    with pytest.raises(TypeError):   # a registered name takes a Parameter or None, never a plain Tensor
        module.p = t([1.0])
    module.p = lib.Parameter(t([2.0]))
    out += [[name for name, _ in module.named_parameters()], list(module.state_dict())]
    out.append("bias" in lib.Linear(1, 1, bias=False)._parameters)
    return out


def test_register_parameter_with_none_registers_the_name() -> None:
    (tnn, tt), (mnn, mt) = _libs()
    assert _none_parameter(mnn, mt) == _none_parameter(tnn, tt) == [True, None, [], ["p"], ["p"], True]


def _zeroed_grad(lib: Any, t: Any) -> tuple:
    layer = lib.Linear(1, 1).double()
    layer(t([[2.0]])).sum().backward()
    grad = layer.weight.grad
    grad.requires_grad_(True)
    layer.zero_grad(set_to_none=False)
    return layer.weight.grad is grad, layer.weight.grad.requires_grad, layer.weight.grad.tolist()


def test_zero_grad_without_set_to_none_takes_the_gradient_out_of_autograd() -> None:
    (tnn, tt), (mnn, mt) = _libs()
    assert _zeroed_grad(mnn, mt) == _zeroed_grad(tnn, tt) == (True, False, [[0.0]])


def _dir_names(lib: Any) -> list:
    tree = lib.ModuleDict({"enc": lib.Sequential(lib.Linear(1, 1), lib.ReLU())})
    tree.enc.register_buffer("stat", None)
    wanted = ("enc", "stat", "0", "1", "weight", "forward", "training")
    return [[name for name in wanted if name in dir(module)] for module in (tree, tree.enc, tree.enc[0])]


def test_dir_lists_a_containers_children_and_none_buffers_without_digit_names() -> None:
    assert _dir_names(nn) == _dir_names(torch.nn) == [["enc", "forward", "training"], ["stat", "forward", "training"],
                                                      ["weight", "forward", "training"]]


def test_parameter_dict_repr_names_the_tensor_type_as_torch() -> None:
    ours = repr(nn.ParameterDict({"p": nn.Parameter(mg.zeros(2, 3, dtype=mg.float64))}))
    theirs = repr(torch.nn.ParameterDict({"p": torch.nn.Parameter(torch.zeros(2, 3, dtype=torch.float64))}))
    assert ours.replace("minigrad.", "torch.") == theirs
    assert "[minigrad.DoubleTensor of size 2x3]" in ours
    listed = repr(nn.ParameterList([nn.Parameter(mg.tensor(numpy.zeros(2)))]))   # a list keeps the dtype
    assert "[float64 of size 2]" in listed


def _global_backward_log(lib: Any, t: Any, path: Any) -> list:
    """Global backward pre-hooks (doubling grad_output) and full backward hooks around a module's own hook, on a
    module with two inputs (one needing no gradient) and a Sequential; none after the handles are removed."""
    class Two(lib.Module):
        def forward(self, x: Any, y: Any) -> Any:
            return x * y, x + 1

    def listed(grads: tuple) -> list:
        return [None if g is None else g.tolist() for g in grads]

    log: list = []
    module, chain = Two(), lib.Sequential(lib.Identity())
    module.register_full_backward_hook(lambda m, gi, go: log.append(("own", listed(gi))))
    handles = [path.register_module_full_backward_pre_hook(
                   lambda m, go: log.append(("pre", type(m).__name__, listed(go))) or tuple(g * 2 for g in go)),
               path.register_module_full_backward_hook(
                   lambda m, gi, go: log.append(("full", type(m).__name__, listed(gi))))]
    x, y = t([1.0, 2.0], True), t([3.0, 4.0])
    try:
        a, b = module(x, y)
        (a.sum() + chain(b).sum()).backward()
    finally:
        for handle in handles:
            handle.remove()
    log.append(x.grad.tolist())
    x.grad = None
    module(x, y)[0].sum().backward()
    return [*log, x.grad.tolist()]


def test_global_full_backward_hooks_run_before_each_modules_own() -> None:
    import torch.nn.modules.module as theirs_path

    from nn.modules import module as ours_path

    (tnn, tt), (mnn, mt) = _libs()
    theirs, ours = _global_backward_log(tnn, tt, theirs_path), _global_backward_log(mnn, mt, ours_path)
    assert ours == theirs
    assert ours[4:7] == [("pre", "Two", [[1.0, 1.0], [4.0, 4.0]]), ("full", "Two", [[14.0, 16.0], [0.0, 0.0]]),
                         ("own", [[14.0, 16.0], [0.0, 0.0]])]
    assert ours[-2:] == [("own", [[3.0, 4.0], [0.0, 0.0]]), [3.0, 4.0]]   # removed: no global hook, no doubling


def _registration_log(lib: Any, t: Any, path: Any) -> list:
    """What the global registration hooks see (and what their results replace) while a small tree is built."""
    log: list = []

    def on_module(owner: Any, name: str, child: Any) -> Any:
        log.append(("module", type(owner).__name__, name, type(child).__name__))
        return lib.Tanh() if name == "swap" else None

    def on_parameter(owner: Any, name: str, param: Any) -> None:
        log.append(("parameter", type(owner).__name__, name, tuple(param.shape)))

    def on_buffer(owner: Any, name: str, buffer: Any) -> Any:
        log.append(("buffer", type(owner).__name__, name, None if buffer is None else buffer.tolist()))
        return None if buffer is None else buffer * 2

    handles = [path.register_module_module_registration_hook(on_module),
               path.register_module_parameter_registration_hook(on_parameter),
               path.register_module_buffer_registration_hook(on_buffer)]
    try:
        tree = lib.Sequential(lib.Linear(1, 2))
        tree.swap = lib.ReLU()
        tree.add_module("empty", None)
        tree.register_buffer("stat", t([1.0]))
        tree.stat = t([3.0])
        tree.register_parameter("extra", None)   # None: no parameter hook, as torch's
        tree.extra = lib.Parameter(t([1.0]))
        lib.ModuleList([lib.Identity()]).append(lib.Identity())
        lib.ModuleDict({"k": lib.Identity()})
    finally:
        for handle in handles:
            handle.remove()
    lib.Linear(1, 1)   # removed: no more calls
    return [*log, type(tree.swap).__name__, tree.stat.tolist()]


def test_global_registration_hooks_see_and_replace_what_modules_register() -> None:
    import torch.nn.modules.module as theirs_path

    from nn.modules import module as ours_path

    (tnn, tt), (mnn, mt) = _libs()
    theirs, ours = _registration_log(tnn, tt, theirs_path), _registration_log(mnn, mt, ours_path)
    assert ours == theirs
    assert ours[-2:] == ["Tanh", [6.0]] and ("module", "ModuleList", "1", "Identity") in ours


def _hooks_of_the_forward_call(lib: Any, t: Any) -> list:
    log: list = []
    layer = lib.Linear(1, 1).double()
    handle = layer.register_full_backward_hook(lambda *_: log.append("at forward"))
    pre = layer.register_full_backward_pre_hook(lambda *_: log.append("pre at forward"))
    y = layer(t([[1.0]], True))
    handle.remove()
    pre.remove()
    layer.register_full_backward_hook(lambda *_: log.append("added after"))
    y.sum().backward()
    layer(t([[1.0]], True)).sum().backward()
    return log


def test_backward_hooks_are_those_registered_when_forward_ran() -> None:
    (tnn, tt), (mnn, mt) = _libs()
    assert _hooks_of_the_forward_call(mnn, mt) == _hooks_of_the_forward_call(tnn, tt) \
        == ["pre at forward", "at forward", "added after"]
