"""nn.Module's PyTorch API beyond the basics: signatures of traversal and state methods, lookups by
dotted name, forward hooks, zero_grad(set_to_none=False), load_state_dict(assign=True); each against torch."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="PyTorch is the reference for these tests")


class Net(nn.Module):
    def __init__(self, lib: object) -> None:
        super().__init__()
        self.body = lib.Sequential(lib.Linear(3, 4), lib.Tanh(), lib.Linear(4, 2))
        self.head = lib.Linear(2, 2)
        self.register_buffer("scale", _tensor(lib, [2.0, 3.0]))

    def forward(self, x: object) -> object:
        return self.head(self.body(x)) * self.scale


def _tensor(lib: object, values: list) -> object:
    return torch.tensor(values) if lib is torch.nn else mg.tensor(values)


class TorchNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
        self.head = torch.nn.Linear(2, 2)
        self.register_buffer("scale", torch.tensor([2.0, 3.0]))

    def forward(self, x: object) -> object:
        return self.head(self.body(x)) * self.scale


def _pair() -> tuple[Net, TorchNet]:
    ours, theirs = Net(nn), TorchNet()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def test_traversal_keywords_give_pytorchs_names() -> None:
    ours, theirs = _pair()
    for call in (lambda m: [n for n, _ in m.named_parameters(prefix="net")],
                 lambda m: [n for n, _ in m.named_parameters(recurse=False)],
                 lambda m: [n for n, _ in m.body.named_parameters(recurse=False)],
                 lambda m: [n for n, _ in m.named_buffers(prefix="net")],
                 lambda m: [n for n, _ in m.named_modules(prefix="net")],
                 lambda m: [tuple(b.shape) for b in m.buffers()],
                 lambda m: len(list(m.parameters(recurse=False))),
                 lambda m: list(m.state_dict(prefix="model.")),
                 lambda m: list(m.state_dict(keep_vars=True))):
        assert call(ours) == call(theirs)
    assert all(isinstance(v, nn.Parameter) for k, v in ours.state_dict(keep_vars=True).items() if k != "scale")
    destination: dict = {}
    assert ours.state_dict(destination=destination, prefix="p.") is destination and "p.head.bias" in destination


def test_shared_parameters_once_unless_remove_duplicate_false() -> None:
    ours, theirs = nn.Sequential(nn.Linear(2, 2)), torch.nn.Sequential(torch.nn.Linear(2, 2))
    ours.append(ours[0])
    theirs.append(theirs[0])
    for m in (ours, theirs):
        assert len(list(m.named_parameters())) == 2
    assert [n for n, _ in ours.named_parameters(remove_duplicate=False)] == \
        [n for n, _ in theirs.named_parameters(remove_duplicate=False)]
    assert [n for n, _ in ours.named_modules(remove_duplicate=False)] == \
        [n for n, _ in theirs.named_modules(remove_duplicate=False)]


def test_lookups_by_dotted_name() -> None:
    ours, theirs = _pair()
    assert type(ours.get_submodule("body.2")).__name__ == type(theirs.get_submodule("body.2")).__name__ == "Linear"
    assert ours.get_submodule("") is ours
    assert ours.get_parameter("body.0.weight") is ours.body[0].weight
    assert ours.get_buffer("scale") is ours.scale
    for lookup in (lambda m: m.get_submodule("body.7"), lambda m: m.get_parameter("head.nope"),
                   lambda m: m.get_buffer("body.scale")):
        with pytest.raises(AttributeError):
            lookup(ours)
        with pytest.raises(AttributeError):
            lookup(theirs)
    ours.set_submodule("body.1", nn.ReLU())
    assert isinstance(ours.body[1], nn.ReLU)
    ours.add_module("extra", nn.Identity())
    ours.register_module("other", None)
    assert [n for n, _ in ours.named_children()] == ["body", "head", "extra"]
    with pytest.raises(KeyError, match="without '.'"):
        ours.add_module("a.b", nn.Identity())


def test_forward_hooks_see_and_replace_inputs_and_outputs_as_in_pytorch() -> None:
    ours, theirs = _pair()
    x = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    seen: dict = {"ours": [], "theirs": []}
    handles = []
    for name, model in (("ours", ours), ("theirs", theirs)):
        log = seen[name]
        handles += [
            model.body.register_forward_pre_hook(lambda m, args: (args[0] * 2,)),
            model.body[1].register_forward_hook(lambda m, args, out, log=log: log.append(out.detach().numpy().copy())),
            model.head.register_forward_hook(lambda m, args, kwargs, out: out + 1, with_kwargs=True),
            model.head.register_forward_hook(lambda m, args, out, log=log: log.append("first"), prepend=True),
        ]
    a = ours(mg.tensor(x)).numpy()
    b = theirs(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert seen["ours"][1] == seen["theirs"][1] == "first"
    np.testing.assert_allclose(seen["ours"][0], seen["theirs"][0], rtol=1e-5, atol=1e-6)
    for handle in handles:
        handle.remove()
        handle.remove()
    np.testing.assert_allclose(ours(mg.tensor(x)).numpy(), theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    assert len(seen["ours"]) == 2


def test_a_compiled_call_runs_forward_hooks_while_they_are_registered() -> None:
    model = Net(nn)
    compiled = mg.compile(lambda t: model(t))
    x = mg.randn(2, 3)
    for _ in range(4):
        compiled(x)
    calls = []
    handle = model.head.register_forward_hook(lambda m, args, out: calls.append(1))
    with pytest.warns(mg.CompileWarning, match="has hooks"):
        for _ in range(3):
            compiled(x)
    assert len(calls) == 3
    handle.remove()
    for _ in range(4):
        compiled(x)
    assert len(calls) == 3 and len(compiled.programs) == 1


def test_zero_grad_set_to_none_false_zeroes_in_place() -> None:
    model = nn.Linear(2, 2)
    model(mg.ones(1, 2)).sum().backward()
    grad = model.weight.grad
    model.zero_grad(set_to_none=False)
    assert model.weight.grad is grad and not grad.numpy().any()
    model.zero_grad()
    assert model.weight.grad is None


def test_load_state_dict_copies_into_the_arrays_and_assign_takes_them() -> None:
    model = nn.Linear(2, 2)
    view = model.state_dict()["weight"]   # shares the parameter's array, as in PyTorch
    model.load_state_dict({"weight": np.full((2, 2), 5.0), "bias": np.zeros(2)})
    assert view.numpy().tolist() == [[5.0, 5.0], [5.0, 5.0]] and model.weight.dtype == mg.float32
    new = np.full((2, 2), 7.0)   # float64
    model.load_state_dict({"weight": new, "bias": np.ones(2)}, assign=True)
    assert model.weight.dtype == mg.float64 and np.shares_memory(model.weight.numpy(), new)
    assert model.weight.requires_grad and isinstance(model.weight, nn.Parameter)


def test_a_graph_that_saved_a_weight_refuses_backward_after_a_load() -> None:
    model = nn.Linear(2, 2)
    # the input wants a gradient, which reads the weight (as torch, a constant input's product keeps no weight)
    loss = (model(mg.ones(1, 2, requires_grad=True)) ** 2).sum()
    model.load_state_dict({"weight": np.ones((2, 2)), "bias": np.zeros(2)})
    with pytest.raises(RuntimeError, match="modified by an inplace operation|changed in place"):
        loss.backward()


def test_tied_weights_appear_under_each_name_and_load_from_pytorch() -> None:
    def tied(lib: object) -> object:
        model = lib.Module() if lib is nn else torch.nn.Module()
        model.encoder = lib.Embedding(5, 3)
        model.decoder = lib.Linear(3, 5)
        model.decoder.weight = model.encoder.weight   # the word language model's tie_weights
        return model
    ours, theirs = tied(nn), tied(torch.nn)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})   # strict: both names
    np.testing.assert_array_equal(ours.decoder.weight.numpy(), theirs.encoder.weight.detach().numpy())
    assert ours.decoder.weight is ours.encoder.weight and len(list(ours.parameters())) == 2


def test_a_non_persistent_buffer_is_not_in_the_state_dict() -> None:
    for lib, make in ((nn, mg.zeros), (torch.nn, torch.zeros)):
        model = lib.Linear(2, 2)
        model.register_buffer("kept", make(2))
        model.register_buffer("scratch", make(2), persistent=False)
        assert list(model.state_dict()) == ["weight", "bias", "kept"]
        assert [n for n, _ in model.named_buffers()] == ["kept", "scratch"]


def test_full_backward_hooks_see_and_replace_gradients_as_in_pytorch() -> None:
    ours, theirs = _pair()
    x = np.linspace(-1, 1, 6, dtype=np.float64).reshape(2, 3)
    ours.double()
    theirs.double()
    seen: dict = {"ours": [], "theirs": []}
    for name, model in (("ours", ours), ("theirs", theirs)):
        log = seen[name]

        def pre(module: object, grad_output: tuple, log: list = log) -> tuple:
            log.append(("pre", [g.detach().numpy().copy() for g in grad_output]))
            return (grad_output[0] * 2,)

        def full(module: object, grad_input: tuple, grad_output: tuple, log: list = log) -> None:
            log.append(("full", [None if g is None else g.detach().numpy().copy() for g in grad_input],
                        [g.detach().numpy().copy() for g in grad_output]))

        model.body.register_full_backward_pre_hook(pre)
        model.body.register_full_backward_hook(full)
        model.head.register_full_backward_hook(lambda m, gi, go: (gi[0] * 0.5,))
    xa = mg.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    (ours(xa) ** 2).sum().backward()
    (theirs(xt) ** 2).sum().backward()
    np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
    for name, param in theirs.named_parameters():
        np.testing.assert_allclose(ours.get_parameter(name).grad.numpy(), param.grad.numpy(), rtol=1e-12,
                                   err_msg=name)
    assert [e[0] for e in seen["ours"]] == [e[0] for e in seen["theirs"]] == ["pre", "full"]
    for a, b in zip(seen["ours"], seen["theirs"]):
        for x_, y_ in zip(a[1:], b[1:]):
            for p, q in zip(x_, y_):
                np.testing.assert_allclose(p, q, rtol=1e-12)


def test_a_full_backward_hook_gets_none_for_inputs_that_need_no_gradient() -> None:
    ours, theirs = nn.Linear(3, 2), torch.nn.Linear(3, 2)
    got = []
    for model in (ours, theirs):
        model.register_full_backward_hook(lambda m, gi, go: got.append((gi, len(go))))
    ours(mg.ones(1, 3)).sum().backward()
    theirs(torch.ones(1, 3)).sum().backward()
    assert got[0][0] == got[1][0] == (None,) and got[0][1] == got[1][1] == 1


def test_backward_hook_gradients_have_an_entry_per_argument_and_output_as_in_pytorch() -> None:
    """An LSTM called with (x, (h0, c0)) returns (output, (h, c)): the tuple items are None entries."""
    ours, theirs = nn.LSTM(3, 4).double(), torch.nn.LSTM(3, 4).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    log: dict = {"ours": [], "theirs": []}
    for model, key in ((ours, "ours"), (theirs, "theirs")):
        model.register_full_backward_hook(lambda m, gi, go, key=key: log[key].append(
            ([None if g is None else tuple(g.shape) for g in gi], [None if g is None else tuple(g.shape) for g in go])))
    rng = np.random.default_rng(0)
    x, h0, c0 = rng.random((5, 2, 3)), rng.random((1, 2, 4)), rng.random((1, 2, 4))
    xo, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours(xo, (mg.tensor(h0), mg.tensor(c0)))[0].sum().backward()
    theirs(xt, (torch.tensor(h0), torch.tensor(c0)))[0].sum().backward()
    assert log["ours"] == log["theirs"] == [([(5, 2, 3), None], [(5, 2, 4), None])]
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-12)


def _hooked_gradients(lib: object, layer: object) -> tuple:
    """d/dx of tanh(layer(x)).sum() with create_graph=True through a full backward hook (which triples grad_input)
    and a backward pre-hook (which doubles grad_output), then the gradient of its squared norm, and what the
    hook saw."""
    seen: list = []

    def hook(module: object, grad_input: tuple, grad_output: tuple) -> tuple:
        seen.append([g.detach().numpy().copy() for g in (*grad_input, *grad_output)])
        return (grad_input[0] * 3,)

    layer.register_full_backward_hook(hook)
    layer.register_full_backward_pre_hook(lambda module, grad_output: (grad_output[0] * 2,))
    x = lib.tensor(np.arange(6.0).reshape(2, 3) / 7, requires_grad=True)
    (g,) = lib.autograd.grad(layer(x).tanh().sum(), [x], create_graph=True)
    (h,) = lib.autograd.grad((g * g).sum(), [x])
    return [g.detach().numpy(), h.numpy()], seen


def test_full_backward_hooks_with_create_graph_as_torch() -> None:
    torch = pytest.importorskip("torch", reason="the comparison needs torch")
    theirs_layer = torch.nn.Linear(3, 2).double()
    ours_layer = nn.Linear(3, 2, dtype=mg.float64)
    ours_layer.load_state_dict({k: v.detach().numpy() for k, v in theirs_layer.state_dict().items()})
    theirs, theirs_seen = _hooked_gradients(torch, theirs_layer)
    ours, ours_seen = _hooked_gradients(mg, ours_layer)
    assert len(ours_seen) == len(theirs_seen) == 2   # the second grad runs back through the hooked module
    for got, want in zip(ours + sum(ours_seen, []), theirs + sum(theirs_seen, [])):
        np.testing.assert_allclose(got, want, rtol=1e-12)
