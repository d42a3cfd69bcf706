"""Module hooks against torch 2.13 where a differential fuzzer (round 19) found them apart. Each test runs the same
code on torch.nn and on nn and compares what the hooks saw, the gradients and the errors:

- an output that needs no gradient (``a + b`` of constants next to a Linear's output) went through the backward
  hook op: the hooks saw a gradient for it (torch: None) and it came back requiring grad;
- the full backward hooks of a call whose inputs need no gradient may return only None or a tuple of Nones (of
  any length), as torch's; other results were ignored (torch: RuntimeError) and Nones of another length refused;
- a hook's replacement gradients: a number or array was taken as a gradient (torch: TypeError), a bare Tensor was
  taken as a one-gradient tuple (torch: RuntimeError), and a wrong shape was refused at once (torch checks after
  the last hook, which may put it right);
- the backward hooks ran with gradient recording on in a plain backward (torch: off, on under create_graph);
- an input that requires grad but gets no gradient (forward did not use it, or the backward pre-hooks returned
  Nones for every output) was None in grad_input (torch: zeros) and the hooks did not run at all in the second
  case (torch runs them with zeros, and the inputs' gradients are zeros);
- a list output was watched (torch: only a Tensor or a tuple, warning otherwise), a namedtuple output raised;
- a ``load_state_dict`` post-hook that returns a value raised RuntimeError (torch: AssertionError).
"""

from __future__ import annotations

import warnings
from collections import namedtuple
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")


def _libs() -> list[tuple[Any, Any, Any]]:
    """(nn package, float64 tensor maker, autograd namespace) for torch, then ours."""
    return [(torch.nn, lambda x, rg=False: torch.tensor(x, dtype=torch.float64, requires_grad=rg), torch),
            (nn, lambda x, rg=False: mg.tensor(x, dtype=mg.float64, requires_grad=rg), mg)]


def _v(x: Any) -> Any:
    """A hook argument as plain values (tensors as rounded lists, tuples as tuples)."""
    if x is None:
        return None
    if isinstance(x, (tuple, list)):
        return tuple(_v(item) for item in x)
    return np.round(np.asarray(x.detach().numpy(), dtype=np.float64), 6).tolist()


def _linear(lib: Any, n_in: int = 2, n_out: int = 2) -> Any:
    """A float64 Linear with the same weights on both sides."""
    layer = lib.Linear(n_in, n_out).double()
    api, t = (torch, _libs()[0][1]) if lib is torch.nn else (mg, _libs()[1][1])
    with api.no_grad():
        layer.weight.copy_(t(np.arange(n_in * n_out).reshape(n_out, n_in) / 4 - 0.5))
        layer.bias.fill_(0.25)
    return layer


def _two_outputs(lib: Any) -> Any:
    """forward(a, b) -> (Linear(a) * b, a + b)."""
    class TwoOutputs(lib.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = _linear(lib)

        def forward(self, a: Any, b: Any) -> Any:
            return self.lin(a) * b, a + b

    return TwoOutputs()


def _outcome(fn: Any) -> Any:
    try:
        return ("ok", fn())
    except Exception as error:  # noqa: BLE001 - compared by class with torch's
        return ("raise", type(error).__mro__)


def _same(ours: Any, theirs: Any) -> None:
    """Ours equals torch's; an error of ours is an instance of torch's error class."""
    if theirs[0] == "raise":
        assert ours[0] == "raise", f"torch raised {theirs[1][0].__name__}, we returned {ours[1]}"
        assert any(c.__name__ == theirs[1][0].__name__ for c in ours[1]), (ours[1][0], theirs[1][0])
    else:
        assert ours == theirs


@pytest.mark.parametrize("pre_hook", ["none", "scale"])
def test_an_output_that_needs_no_gradient_has_none_in_grad_output_and_stays_without_grad(pre_hook: str) -> None:
    def one(lib: Any, t: Any, _: Any) -> Any:
        log: list = []
        m = _two_outputs(lib)
        m.register_full_backward_pre_hook(
            lambda mod, go: (log.append(("pre", _v(go))), None if pre_hook == "none" else
                             tuple(None if g is None else g * 3 for g in go))[1])
        m.register_full_backward_hook(lambda mod, gi, go: log.append(("bw", _v(gi), _v(go))))
        y, z = m(t([[1.0, 2.0]]), t([[3.0, -1.0]]))
        log.append((y.requires_grad, z.requires_grad, z.grad_fn is None))
        (y * 2 + z).sum().backward()
        return log, _v(m.lin.weight.grad)

    theirs, ours = (one(*lib) for lib in _libs())
    assert ours == theirs


@pytest.mark.parametrize("returned", ["none", "one none", "three nones", "list of none", "a gradient"])
def test_hooks_of_a_call_whose_inputs_need_no_gradient_return_none_or_nones(returned: str) -> None:
    results = []
    for lib, t, _ in _libs():
        m = _linear(lib)

        def hook(mod: Any, gi: Any, go: Any, t: Any = t) -> Any:
            return {"none": None, "one none": (None,), "three nones": (None, None, None), "list of none": [None],
                    "a gradient": (t([[1.0, 1.0]]),)}[returned]

        m.register_full_backward_hook(hook)

        def run(m: Any = m, t: Any = t) -> Any:
            m(t([[1.0, 2.0]])).sum().backward()
            return _v(m.weight.grad)
        results.append(_outcome(run))
    _same(results[1], results[0])


@pytest.mark.parametrize("returned", ["number", "numpy array", "bare tensor", "list", "shape fixed later",
                                      "shape left wrong", "pre: bare tensor", "pre: list"])
def test_a_hooks_replacement_gradients_are_checked_as_torch_does(returned: str) -> None:
    results = []
    for lib, t, _ in _libs():
        m = _linear(lib)
        if returned == "number":
            m.register_full_backward_hook(lambda mod, gi, go: (3.0,))
        elif returned == "numpy array":
            m.register_full_backward_hook(lambda mod, gi, go: (np.ones((1, 2)),))
        elif returned == "bare tensor":
            m.register_full_backward_hook(lambda mod, gi, go: gi[0] * 2)
        elif returned == "list":
            m.register_full_backward_hook(lambda mod, gi, go: [gi[0] * 2])
        elif returned.startswith("shape"):
            m.register_full_backward_hook(lambda mod, gi, go: (gi[0].reshape(-1),))
            if returned == "shape fixed later":
                m.register_full_backward_hook(lambda mod, gi, go: (gi[0].reshape(1, 2) * 5,))
        elif returned == "pre: bare tensor":
            m.register_full_backward_pre_hook(lambda mod, go: go[0] * 2)
        else:
            m.register_full_backward_pre_hook(lambda mod, go: [go[0] * 2])

        def run(m: Any = m, t: Any = t) -> Any:
            x = t([[1.0, 2.0]], rg=True)
            m(x).sum().backward()
            return _v(x.grad), _v(m.weight.grad)
        results.append(_outcome(run))
    _same(results[1], results[0])


@pytest.mark.parametrize("create_graph", [False, True])
def test_backward_hooks_record_only_under_create_graph_and_share_grad_output(create_graph: bool) -> None:
    def one(lib: Any, t: Any, api: Any) -> Any:
        log: list = []
        m = _linear(lib)
        m.register_full_backward_pre_hook(lambda mod, go: log.append(("pre", api.is_grad_enabled(), id(go))))
        m.register_full_backward_hook(lambda mod, gi, go: log.append(
            ("bw", api.is_grad_enabled(), gi[0].requires_grad, (mod.weight * 2).requires_grad, id(go))))
        x = t([[1.0, 2.0]], rg=True)
        m(x).sum().backward(create_graph=create_graph)
        assert log[0][2] == log[1][4]   # the pre-hooks' grad_output tuple is the one the full hooks get
        return [entry[:-1] for entry in log]

    theirs, ours = (one(*lib) for lib in _libs())
    assert ours == theirs


def _unused_second_input(lib: Any) -> Any:
    class UsesA(lib.Module):
        def forward(self, a: Any, b: Any) -> Any:
            return a * a

    return UsesA()


@pytest.mark.parametrize("case", ["unused input", "unused input, create_graph", "pre-hook returns nones",
                                  "pre-hook returns nones, two inputs", "pre-hook returns nones, create_graph"])
def test_an_input_that_gets_no_gradient_gets_zeros_and_the_hooks_still_run(case: str) -> None:
    def one(lib: Any, t: Any, api: Any) -> Any:
        log: list = []
        if case.startswith("unused"):
            m = _unused_second_input(lib)
        elif case.endswith("two inputs"):
            m = _two_outputs(lib)
        else:
            m = _linear(lib)
        if case.startswith("pre-hook"):
            m.register_full_backward_pre_hook(lambda mod, go: tuple(None for _ in go))
        m.register_full_backward_hook(lambda mod, gi, go: log.append(("bw", _v(gi), _v(go))))
        a, b = t([[1.0, 2.0]], rg=True), t([[0.5, -1.0]], rg=True)
        out = m(a) if isinstance(m, (torch.nn.Linear, nn.Linear)) else m(a, b)
        loss = sum(o.sum() for o in out) if isinstance(out, tuple) else out.sum()
        if case.endswith("create_graph"):
            grads = api.autograd.grad(loss, (a, b), create_graph=True, allow_unused=True)
            log.append(("grad", _v(grads), [None if g is None else g.requires_grad for g in grads]))
        else:
            loss.backward()
            log.append(("grads", _v(a.grad), _v(b.grad), [_v(p.grad) for p in m.parameters()]))
        return log

    theirs, ours = (one(*lib) for lib in _libs())
    assert ours == theirs


def test_a_drawing_with_gradients_still_reaches_the_inputs_of_a_module_with_backward_pre_hooks() -> None:
    """The pre-hooks' op takes the watched inputs too (to hand them zeros): ``draw(show_grads=True)``, whose walk
    hands each hook op's gradients through, still reaches the input's edge."""
    m = _linear(nn)
    m.register_full_backward_pre_hook(lambda mod, go: None)
    m.register_full_backward_hook(lambda mod, gi, go: None)
    x = mg.tensor([[1.0, 2.0]], dtype=mg.float64, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # draw warns that it runs no hook
        source = mg.viz.draw(m(x).sum(), show_grads=True).source
    (edge,) = [line for line in source.splitlines() if line.strip().startswith("p0 ->")]
    assert "xlabel" in edge and "dashed" not in edge


@pytest.mark.gpu
def test_the_zeros_for_an_input_without_a_gradient_are_on_its_device() -> None:
    m = _unused_second_input(nn)
    m.register_full_backward_pre_hook(lambda mod, go: (None,))
    seen: list = []
    m.register_full_backward_hook(lambda mod, gi, go: seen.append([g.device.type for g in gi]))
    a = mg.tensor([1.0, 2.0], device="cuda", requires_grad=True)
    b = mg.tensor([1.0, 2.0], device="cuda", requires_grad=True)
    m(a, b).sum().backward()
    assert seen == [["cuda", "cuda"]]
    assert a.grad.device.type == "cuda" and float(a.grad.abs().sum()) == 0.0


@pytest.mark.parametrize("kind", ["list", "dict", "namedtuple", "nested tuple"])
def test_hooks_watch_a_tensor_or_a_tuple_output_only(kind: str) -> None:
    pair = namedtuple("Pair", "x y")
    def one(lib: Any, t: Any, _: Any) -> Any:
        log: list = []

        class Out(lib.Module):
            def forward(self, a: Any) -> Any:
                return {"list": lambda: [a * 2, a * 3], "dict": lambda: {"x": a * 2, "y": a * 3},
                        "namedtuple": lambda: pair(a * 2, a * 3), "nested tuple": lambda: (a * 2, (a * 3,))}[kind]()

        m = Out()
        m.register_full_backward_hook(lambda mod, gi, go: log.append(("bw", _v(gi), _v(go))))
        a = t([1.0, 2.0], rg=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = m(a)
        log.append(("warned", any("backward hooks" in str(w.message) for w in caught), type(out).__name__))
        first, second = (out["x"], out["y"]) if kind == "dict" else (out[0], out[1])
        second = second[0] if kind == "nested tuple" else second
        (first + second * 2).sum().backward()
        log.append(_v(a.grad))
        return log

    theirs, ours = (one(*lib) for lib in _libs())
    assert ours == theirs


def test_a_load_state_dict_post_hook_that_returns_a_value_raises_torchs_assertion_error() -> None:
    results = []
    for lib, _, _ in _libs():
        m = _linear(lib)
        m.register_load_state_dict_post_hook(lambda module, keys: keys)
        results.append(_outcome(lambda m=m: m.load_state_dict(m.state_dict())))
    _same(results[1], results[0])
    assert issubclass(results[1][1][0], RuntimeError)   # ours stays a RuntimeError too


@pytest.mark.parametrize("returned", ["plain tensor", "other parameter", "none"])
def test_what_a_parameter_registration_hook_returns_is_registered_as_the_parameter(returned: str) -> None:
    """torch registers the hook's result, whatever it is, in ``_parameters`` (a plain Tensor was dropped from
    ``parameters()``: an optimizer would not train it)."""
    def one(lib: Any, t: Any, _: Any) -> Any:
        parameter = (torch.nn if lib is torch.nn else nn).Parameter
        replacement = {"plain tensor": lambda: t([9.0], rg=True), "other parameter": lambda: parameter(t([7.0])),
                       "none": lambda: None}[returned]
        handle = lib.modules.module.register_module_parameter_registration_hook(lambda m, n, v: replacement())
        try:
            m = lib.Module()
            m.p = parameter(t([1.0]))
        finally:
            handle.remove()
        return type(m.p).__name__, [(n, _v(p), p.requires_grad) for n, p in m.named_parameters()]

    theirs, ours = (one(*lib) for lib in _libs())
    assert ours == theirs
