"""PyTorch's graph introspection on ``grad_fn``: ``name()``, ``next_functions``, ``metadata``, prehooks.

``node.name`` stays minigrad's op name (a ``str``: ``"mul"``) for everything that
reads it; called, it gives PyTorch's (``"MulBackward0"``). The tutorial's graph walk
(print each node's name, recurse into ``next_functions``) must print the same tree
as PyTorch's where the two graphs are made of the same ops, and reach every node and
every leaf of minigrad's graph.
"""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import nn
from minigrad.autograd.engine import AccumulateGrad, Function, count_consumers
from minigrad.autograd.names import OpName

RNG = np.random.default_rng(3)
X34, X4, X234 = RNG.standard_normal((3, 4)), RNG.standard_normal(4), RNG.standard_normal((2, 3, 4))
P34 = RNG.uniform(0.5, 2.0, (3, 4))


def _leaves(lib: Any) -> tuple:
    return (lib.tensor(X34, requires_grad=True), lib.tensor(X4, requires_grad=True),
            lib.tensor(X234, requires_grad=True), lib.tensor(P34, requires_grad=True))


# fn(lib, x, v, b, p): x (3, 4), v (4,), b (2, 3, 4), p (3, 4) positive; one op whose node both libraries name alike
SAME_OP: dict[str, Callable] = {
    "mul": lambda t, x, v, b, p: x * p, "mul_scalar": lambda t, x, v, b, p: x * 2,
    "add": lambda t, x, v, b, p: x + p, "sub": lambda t, x, v, b, p: x - p, "div": lambda t, x, v, b, p: x / p,
    "pow_scalar": lambda t, x, v, b, p: x ** 2, "pow_tensor": lambda t, x, v, b, p: p ** x,
    "pow_base": lambda t, x, v, b, p: 2 ** x, "neg": lambda t, x, v, b, p: -x,
    "sum": lambda t, x, v, b, p: x.sum(), "sum_dim": lambda t, x, v, b, p: x.sum(0),
    "mean": lambda t, x, v, b, p: x.mean(), "mean_dim": lambda t, x, v, b, p: x.mean(1),
    "prod": lambda t, x, v, b, p: x.prod(), "prod_dim": lambda t, x, v, b, p: x.prod(1),
    "max": lambda t, x, v, b, p: x.max(), "max_dim": lambda t, x, v, b, p: x.max(1)[0],
    "amax": lambda t, x, v, b, p: x.amax(1),
    "mm": lambda t, x, v, b, p: x @ p.T, "mv": lambda t, x, v, b, p: x @ v, "dot": lambda t, x, v, b, p: v @ v,
    "vector_matrix": lambda t, x, v, b, p: v @ x.T, "stack_matrix": lambda t, x, v, b, p: b @ x.T,
    "batched": lambda t, x, v, b, p: b @ b.mT, "bmm": lambda t, x, v, b, p: t.bmm(b, b.mT),
    "T": lambda t, x, v, b, p: x.T, "transpose": lambda t, x, v, b, p: x.transpose(0, 1),
    "permute": lambda t, x, v, b, p: b.permute(2, 0, 1), "view": lambda t, x, v, b, p: x.view(12),
    "reshape": lambda t, x, v, b, p: x.reshape(2, 6), "flatten": lambda t, x, v, b, p: b.flatten(),
    "select": lambda t, x, v, b, p: x[0], "select_last": lambda t, x, v, b, p: x[:, 0],
    "select_ellipsis": lambda t, x, v, b, p: b[..., 1], "slice": lambda t, x, v, b, p: x[1:],
    "slice_after_select": lambda t, x, v, b, p: x[0, 1:], "index": lambda t, x, v, b, p: x[[0, 2]],
    "mask": lambda t, x, v, b, p: x[t.tensor(X34 > 0)], "unsqueeze": lambda t, x, v, b, p: x[None],
    "cat": lambda t, x, v, b, p: t.cat([x, p]), "stack": lambda t, x, v, b, p: t.stack([x, p]),
    "split": lambda t, x, v, b, p: x.split(2)[1], "unbind": lambda t, x, v, b, p: x.unbind(0)[2],
    "expand": lambda t, x, v, b, p: v.expand(3, 4), "repeat": lambda t, x, v, b, p: x.repeat(2, 1),
    "tanh": lambda t, x, v, b, p: x.tanh(), "sigmoid": lambda t, x, v, b, p: x.sigmoid(),
    "relu": lambda t, x, v, b, p: x.relu(), "exp": lambda t, x, v, b, p: x.exp(), "log": lambda t, x, v, b, p: p.log(),
    "sqrt": lambda t, x, v, b, p: p.sqrt(), "abs": lambda t, x, v, b, p: x.abs(), "sin": lambda t, x, v, b, p: x.sin(),
    "cos": lambda t, x, v, b, p: x.cos(), "log_softmax": lambda t, x, v, b, p: x.log_softmax(1),
    "softmax": lambda t, x, v, b, p: x.softmax(1), "logsumexp": lambda t, x, v, b, p: x.logsumexp(1),
    "clamp": lambda t, x, v, b, p: x.clamp(-0.5, 0.5), "to_double": lambda t, x, v, b, p: x.float(),
    "where": lambda t, x, v, b, p: t.where(x > 0, x, p), "minimum": lambda t, x, v, b, p: t.minimum(x, p),
    "maximum": lambda t, x, v, b, p: t.maximum(x, p), "cumsum": lambda t, x, v, b, p: x.cumsum(0),
    "flip": lambda t, x, v, b, p: x.flip(0), "roll": lambda t, x, v, b, p: x.roll(1, 0),
    "gather": lambda t, x, v, b, p: x.gather(1, t.tensor([[0], [1], [3]])),
    "var": lambda t, x, v, b, p: x.var(), "std": lambda t, x, v, b, p: x.std(), "norm": lambda t, x, v, b, p: x.norm(),
    "clone": lambda t, x, v, b, p: x.clone(),
}


@pytest.mark.parametrize("case", sorted(SAME_OP))
def test_name_call_is_pytorchs(torch: Any, case: str) -> None:
    ours = SAME_OP[case](mg, *_leaves(mg)).grad_fn
    theirs = SAME_OP[case](torch, *_leaves(torch)).grad_fn
    assert ours.name() == theirs.name(), f"{case}: {ours.name!r} gives {ours.name()}, PyTorch {theirs.name()}"


def test_name_is_still_the_op_name_string() -> None:
    x, v, b, p = _leaves(mg)
    y = x * p
    name = y.grad_fn.name
    assert isinstance(name, str) and type(name) is OpName and name == "mul" and "mul" == name
    assert hash(name) == hash("mul") and {"mul": 1}[name] == 1 and name in {"mul", "add"} and "mu" in name
    assert f"{name}" == "mul" and type(f"{name}") is str and f"{name:>4}" == " mul" and str(name) == "mul"
    assert repr(name) == "'mul'" and json.dumps(name) == '"mul"' and name.upper() == "MUL"
    assert pickle.loads(pickle.dumps(name))() == "MulBackward0" and copy.deepcopy(name) == "mul"
    assert repr(y).endswith("grad_fn=<MulBackward0>)") and repr(y.grad_fn) == "<mul node>"
    # names an op sets per call stay equal to what they were, before and after grad_fn hands the node out
    for tensor, old in [(x.sum(0), "sum"), (x.view(12), "view"), (b.permute(2, 0, 1), "permute"), (x @ p.T, "matmul"),
                        (x[0], "getitem"), (mg.cat([x, p]), "concat"), (x.clamp(0, 1), "clip"), (x.amax(1), "amax")]:
        assert tensor._node.name == old and tensor.grad_fn.name == old and tensor._node.name == old
        assert type(tensor.grad_fn.name) is OpName and type(tensor.grad_fn.name()) is str
    # every Function class's name is an OpName, set once when the class is made
    class Twice(Function):
        def forward(self, a: Any) -> Any:
            return a * 2

        def backward(self, gy: Any) -> Any:
            return gy * 2

    assert type(Twice.name) is OpName and Twice.name == "twice" and Twice.name() == "TwiceBackward0"
    assert Twice()(x).grad_fn.name() == "TwiceBackward0"


def test_custom_function_name_is_pytorchs(torch: Any) -> None:
    def define(lib: Any) -> Any:
        class MyFn(lib.autograd.Function):
            @staticmethod
            def forward(ctx: Any, a: Any) -> Any:
                return a * 2

            @staticmethod
            def backward(ctx: Any, g: Any) -> Any:
                return g * 2
        return MyFn

    ours = define(mg).apply(_leaves(mg)[0]).grad_fn
    theirs = define(torch).apply(_leaves(torch)[0]).grad_fn
    assert ours.name == "MyFn" and ours.name() == theirs.name() == "MyFnBackward"
    assert len(ours.next_functions) == len(theirs.next_functions) == 1


# --- the tutorial's walk -----------------------------------------------------------------------------------------

def _print_graph(node: Any, depth: int = 0, lines: list | None = None) -> list:
    """The tutorials' recursive walk: each node's name, then its next_functions, one indent deeper."""
    lines = [] if lines is None else lines
    if node is None:
        lines.append("  " * depth + "None")
        return lines
    lines.append("  " * depth + f"{node.name()} {len(node.next_functions)}")
    for parent, _ in node.next_functions:
        _print_graph(parent, depth + 1, lines)
    return lines


def _reached(root: Any) -> tuple[set, set]:
    """The nodes and the leaves (AccumulateGrad.variable) a walk over next_functions reaches from ``root``."""
    nodes, leaves, stack = set(), set(), [root]
    while stack:
        node = stack.pop()
        if isinstance(node, AccumulateGrad):
            leaves.add(id(node.variable))
        elif node is not None and node not in nodes:
            nodes.add(node)
            stack.extend(parent for parent, _ in node.next_functions)
    return nodes, leaves


def _assert_walk_reaches_everything(loss: mg.Tensor, leaves: list) -> None:
    nodes, found = _reached(loss.grad_fn)
    assert nodes == set(count_consumers(loss._node)), "the walk missed or added nodes"
    assert found == {id(leaf) for leaf in leaves}, "the walk missed a leaf"


def _mlp_loss(lib: Any, params: list) -> Any:
    """A two-layer MLP written with tensor ops, as the tutorials' first example; (x - y)**2 as d * d."""
    w1, b1, w2, b2 = params
    x, y = lib.tensor(X34), lib.tensor(X34[:, :2])
    h = (x @ w1 + b1).tanh()
    d = h @ w2 + b2 - y
    return (d * d).mean()


def _rnn_step_loss(lib: Any, params: list) -> Any:
    """Two steps of an Elman RNN cell, h = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh), and a loss on the last h."""
    w_ih, w_hh, b_ih, b_hh = params
    h = lib.zeros(3, 5, dtype=lib.float64)
    for step in range(2):
        x = lib.tensor(X234[step])
        h = (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).tanh()
    return h.sum()


@pytest.mark.parametrize("build, shapes", [(_mlp_loss, [(4, 5), (5,), (5, 2), (2,)]),
                                           (_rnn_step_loss, [(5, 4), (5, 5), (5,), (5,)])],
                         ids=["mlp", "rnn_step"])
def test_tutorial_walk_prints_pytorchs_tree(torch: Any, build: Callable, shapes: list) -> None:
    arrays = [RNG.standard_normal(shape) for shape in shapes]
    ours = [mg.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    loss, torch_loss = build(mg, ours), build(torch, theirs)
    assert _print_graph(loss.grad_fn) == _print_graph(torch_loss.grad_fn)
    _assert_walk_reaches_everything(loss, ours)
    loss.backward()   # the graph's saved arrays are freed; names and structure stay
    assert _print_graph(loss.grad_fn) == _print_graph(torch_loss.grad_fn)


def test_tutorial_walk_over_modules_reaches_every_parameter(torch: Any) -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    loss = nn.functional.cross_entropy(model(mg.tensor(X34, dtype=mg.float32)), np.array([0, 2, 1]))
    _assert_walk_reaches_everything(loss, list(model.parameters()))
    names = {line.split()[0] for line in _print_graph(loss.grad_fn)}
    torch_model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    torch_loss = torch.nn.functional.cross_entropy(torch_model(torch.tensor(X34, dtype=torch.float32)),
                                                   torch.tensor([0, 2, 1]))
    shared = {"TanhBackward0", "LogSoftmaxBackward0", "torch::autograd::AccumulateGrad"}
    assert shared <= names and shared <= {line.split()[0] for line in _print_graph(torch_loss.grad_fn)}

    cell = nn.RNNCell(4, 5)
    h = cell(mg.tensor(X234[1], dtype=mg.float32), cell(mg.tensor(X234[0], dtype=mg.float32)))
    _assert_walk_reaches_everything(h.sum(), list(cell.parameters()))
    assert h.grad_fn.name() == "TanhBackward0"


# --- next_functions ----------------------------------------------------------------------------------------------

def test_next_functions_structure(torch: Any) -> None:
    for lib in (mg, torch):
        x, v, b, p = _leaves(lib)
        y = x * 2                       # a constant second input: (None, 0)
        first, constant = y.grad_fn.next_functions
        assert constant == (None, 0) and first[1] == 0
        accumulate = first[0]
        assert accumulate.name() == "torch::autograd::AccumulateGrad" and accumulate.variable is x
        assert accumulate.next_functions == () and accumulate.metadata == {}
        assert (x + p).grad_fn.next_functions[0][0] is accumulate   # one per leaf while held, as PyTorch's
        z = (y + x.detach()).sum()      # a non-leaf parent, a detached input
        (add, index), = z.grad_fn.next_functions
        assert add.name() == "AddBackward0" and index == 0
        assert add.next_functions[0][0] is y.grad_fn and add.next_functions[1] == (None, 0)
        pieces = x.unbind(0)            # an op with several outputs: the index says which
        total = pieces[2] * pieces[0]
        assert [index for _, index in total.grad_fn.next_functions] == [2, 0]
        assert total.grad_fn.next_functions[0][0] is total.grad_fn.next_functions[1][0]
        assert len(lib.cat([x, p, x]).grad_fn.next_functions) == 3


def test_accumulate_grad_does_not_keep_the_graph_alive() -> None:
    x = mg.tensor(X34, requires_grad=True)
    accumulate = (x * 2).grad_fn.next_functions[0][0]
    assert accumulate.variable is x and "shape (3, 4)" in repr(accumulate)
    del accumulate
    assert AccumulateGrad.of(x).variable is x


# --- metadata and hooks ------------------------------------------------------------------------------------------

def test_metadata_is_a_dict_per_node() -> None:
    x = mg.tensor(X34, requires_grad=True)
    y = x * 2
    z = y + 1
    y.grad_fn.metadata["label"] = "doubled"
    assert y.grad_fn.metadata == {"label": "doubled"} and z.grad_fn.metadata == {}
    assert z.grad_fn.next_functions[0][0].metadata["label"] == "doubled"


def test_register_prehook_as_pytorchs(torch: Any) -> None:
    grads = {}
    for lib in (mg, torch):
        x = lib.tensor(X34, requires_grad=True)
        y = x.tanh()
        seen: list = []

        def double(grad_outputs: tuple, seen: list = seen) -> tuple:
            seen.append(len(grad_outputs))
            return (grad_outputs[0] * 2,)

        handle = y.grad_fn.register_prehook(double)
        (y * y).sum().backward(retain_graph=True)
        grads[lib.__name__] = x.grad.numpy().copy()
        handle.remove()
        x.grad = None
        (y * y).sum().backward()
        assert seen == [1]
        assert np.allclose(x.grad.numpy() * 2, grads[lib.__name__])
    assert np.allclose(grads["minigrad"], grads["torch"])


def test_hook_errors() -> None:
    x = mg.tensor(X34, requires_grad=True)
    y = x.tanh()
    y.grad_fn.register_prehook(lambda grad_outputs: (grad_outputs[0], grad_outputs[0]))
    with pytest.raises(mg.autograd.HookError, match="register_prehook.*tuple of 1"):
        y.sum().backward()
    with pytest.raises(NotImplementedError, match="register_prehook.*'unbind' has 3 outputs"):
        x.unbind(0)[0].grad_fn.register_prehook(lambda grad_outputs: None)
    with pytest.raises(TypeError, match="callable"):
        y.grad_fn.register_prehook(3)


def _node_hook_run(lib: Any, create_graph: bool) -> tuple[list, list]:
    """``grad_fn.register_hook`` on y = a * b: what the hook sees, and the gradients after it doubled a's."""
    a, b = lib.tensor(X34[0], requires_grad=True), lib.tensor(P34[0], requires_grad=True)
    y = a * b
    seen: list = []

    def hook(grad_inputs: tuple, grad_outputs: tuple) -> tuple:
        seen.append([g.detach().numpy().copy() for g in (*grad_inputs, *grad_outputs)])
        return (grad_inputs[0] * 2, grad_inputs[1])

    handle = y.grad_fn.register_hook(hook)
    (y * y).sum().backward(create_graph=create_graph)
    grads = [a.grad.detach().numpy().copy(), b.grad.detach().numpy().copy()]
    if create_graph:   # the replaced gradient keeps its graph: d(sum a.grad)/db
        b.grad = None
        a.grad.sum().backward()
        grads.append(b.grad.detach().numpy().copy())
    handle.remove()
    a.grad = b.grad = None
    (a * b).sum().backward()   # a new node: no hook
    y2 = a * b
    y2.sum().backward()
    grads.append(a.grad.detach().numpy().copy())
    return seen, grads


@pytest.mark.parametrize("create_graph", [False, True])
def test_node_hook_sees_and_replaces_the_gradients_as_torch(torch: Any, create_graph: bool) -> None:
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # torch warns of backward(create_graph=True)'s reference cycle
        expected_seen, expected = _node_hook_run(torch, create_graph)
    seen, grads = _node_hook_run(mg, create_graph)
    # with create_graph the second backward runs through y's node again (a.grad's graph holds it): the hook too
    assert len(seen) == len(expected_seen) == (2 if create_graph else 1)
    for got, want in zip(sum(seen, []) + grads, sum(expected_seen, []) + expected):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_node_hook_gets_none_for_an_input_without_grad_and_its_handle_removes_it(torch: Any) -> None:
    for lib in (torch, mg):
        a, c = lib.tensor(X4, requires_grad=True), lib.tensor(X4)
        y = a * c
        seen: list = []
        handle = y.grad_fn.register_hook(lambda grad_inputs, grad_outputs, seen=seen: seen.append(
            [g is None for g in grad_inputs]))
        y.sum().backward(retain_graph=True)
        handle.remove()
        y.sum().backward()
        assert seen == [[False, True]], lib.__name__


def test_node_hook_errors() -> None:
    x = mg.tensor(X34, requires_grad=True)
    y = x.exp()
    with pytest.raises(TypeError, match="callable"):
        y.grad_fn.register_hook(3)
    handle = y.grad_fn.register_hook(lambda grad_inputs, grad_outputs: (grad_inputs[0][:1],))
    with pytest.raises(mg.autograd.HookError, match=r"'exp'.*shape \(1, 4\).*input's shape \(3, 4\)"):
        y.sum().backward(retain_graph=True)
    handle.remove()
    y.grad_fn.register_hook(lambda grad_inputs, grad_outputs: (grad_inputs[0], grad_inputs[0]))
    with pytest.raises(mg.autograd.HookError, match="returned 2 values.*tuple of 1"):
        y.sum().backward()
    z = x * mg.tensor(X34)
    z.grad_fn.register_hook(lambda grad_inputs, grad_outputs: (grad_inputs[0], grad_inputs[0]))
    with pytest.raises(mg.autograd.HookError, match="input 1, which takes none"):
        z.sum().backward()
