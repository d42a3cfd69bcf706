"""Memory, round 21: what a graph keeps alive before and after ``backward()``, compared with PyTorch.

PyTorch's graph nodes hold only what their backward saved, and a backward without ``retain_graph`` frees
those saved tensors (indices included) while the loss is still held. Measured with weak references and the
cycle collector off (reference counting only), as in ``test_memory_round17``. No timings, no byte counts.
"""

from __future__ import annotations

import contextlib
import gc
import warnings
import weakref
from typing import Any, Callable, Iterator

import numpy as np
import pytest

import minigrad as mg


@contextlib.contextmanager
def cycle_collector_off() -> Iterator[None]:
    """Reference counting only, inside the block."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


# --- a custom Function's node held every array its forward returned ------------------------------------------------

def _ops(lib: Any) -> dict[str, type]:
    class Cube(lib.autograd.Function):   # saves its input only
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            (x,) = ctx.saved_tensors
            return g * 3 * x ** 2

    class Exp(lib.autograd.Function):    # saves its output
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            (y,) = ctx.saved_tensors
            return g * y

    class Sin(lib.autograd.Function):    # setup_context, saves input and output
        @staticmethod
        def forward(x: Any) -> Any:
            return x.sin()

        @staticmethod
        def setup_context(ctx: Any, inputs: tuple, output: Any) -> None:
            ctx.save_for_backward(inputs[0], output)

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            x, _ = ctx.saved_tensors
            return g * x.cos()

    return {"Cube": Cube, "Exp": Exp, "Sin": Sin}


@pytest.mark.parametrize("name", ["Cube", "Exp", "Sin"])
def test_a_custom_functions_output_is_freed_as_torch_frees_it(name: str, torch: Any) -> None:
    """``y = Op.apply(x)``; ``loss = y.sum()``; ``del y``: the node kept the array forward returned
    (``_CustomNode.outputs``) until the whole graph died, so a chain of custom Functions held every output
    (and one that saved its output kept it after backward too). PyTorch's node holds only what was saved."""
    def run(lib: Any, make: Callable) -> list[bool]:
        op = _ops(lib)[name]
        alive = []
        with cycle_collector_off():
            x = make()
            y = op.apply(x * 1)
            ref = weakref.ref(y.data) if lib is mg else weakref.ref(y)
            loss = y.sum()
            del y
            alive.append(ref() is not None)   # held by the graph only where backward saved it
            loss.backward()
            alive.append(ref() is not None)   # backward freed what was saved
        np.testing.assert_allclose(np.asarray(x.grad.detach().numpy()).shape, (3, 4))
        return alive

    saves_output = name in ("Exp", "Sin")
    ours = run(mg, lambda: mg.randn(3, 4, requires_grad=True))
    assert ours == [saves_output, False]
    if not saves_output:   # a torch Tensor saved by its own node is a new Python object: compare where it is not
        assert run(torch, lambda: torch.randn(3, 4, requires_grad=True)) == ours


def test_a_custom_functions_saved_output_still_differentiates_twice() -> None:
    """The saved output is found by identity (not through the dropped outputs): create_graph gives its graph."""
    exp = _ops(mg)["Exp"]
    x = mg.tensor([0.5, 1.0], dtype=mg.float64, requires_grad=True)
    (g,) = mg.autograd.grad(exp.apply(x).sum(), x, create_graph=True)
    (gg,) = mg.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), np.exp([0.5, 1.0]))


# --- outputs and inputs ops kept beside `saved` ---------------------------------------------------------------------

def _arrays_held(node: Any) -> list:
    """Weak references to the arrays a node's attributes hold (tuples included), ``saved`` and the rest."""
    found = []
    for value in vars(node).values():
        for item in value if type(value) is tuple else (value,):
            if isinstance(item, np.ndarray):
                found.append(weakref.ref(item))
    return found


REDUCTIONS = {"prod": lambda x: x.prod(1), "prod_all": lambda x: x.prod(), "cumprod": lambda x: x.cumprod(1),
              "std": lambda x: x.std(1), "var": lambda x: x.var(1)}


@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_backward_frees_the_output_a_reduction_kept(name: str, torch: Any) -> None:
    """prod, cumprod and std kept their output (``result``, ``deviation``) beside ``saved`` after a backward
    without retain_graph; var kept its input beside the centred values it saved. PyTorch frees what its node saved
    (reading ``grad_fn._saved_result`` then raises)."""
    op = REDUCTIONS[name]
    t = torch.rand(3, 4, requires_grad=True)
    ty = op(t * 1 + 1)
    names = [a for a in dir(ty.grad_fn) if a.startswith("_saved_") and isinstance(getattr(ty.grad_fn, a),
                                                                                   torch.Tensor)]
    theirs = sum(getattr(ty.grad_fn, a).numel() == 12 for a in names)   # arrays of the input's size it holds
    ty.sum().backward()
    for a in names:
        with pytest.raises(RuntimeError, match="freed"):
            getattr(ty.grad_fn, a)
    with cycle_collector_off():
        x = mg.rand(3, 4, requires_grad=True)
        y = op(x * 1 + 1)
        loss = y.sum()
        held = _arrays_held(y.grad_fn)
        del y
        assert len([r for r in held if r() is not None and r().size == 12]) == theirs
        loss.backward()
        assert [r() for r in held if r() is not None] == []


def test_a_reduction_backward_twice_with_retain_graph_still_works() -> None:
    x = mg.tensor([[1.0, 2.0, 3.0]], dtype=mg.float64, requires_grad=True)
    for op in REDUCTIONS.values():
        x.grad = None
        y = op(x * 1).sum()
        y.backward(retain_graph=True)
        first = x.grad.numpy().copy()
        y.backward()
        np.testing.assert_allclose(x.grad.numpy(), 2 * first)
        with pytest.raises(RuntimeError, match="second time"):
            y.backward()


def test_var_with_no_degrees_of_freedom_still_reads_its_input(torch: Any) -> None:
    """The input is kept only for the rule of a variance over all of x with no degrees of freedom."""
    for value in ([2.0], [[float("inf")]], 3.0):
        x = mg.tensor(value, dtype=mg.float64, requires_grad=True)
        t = torch.tensor(value, dtype=torch.float64, requires_grad=True)
        x.var().backward()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # torch's "degrees of freedom is <= 0"
            t.var().backward()
        np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


# --- x * number kept x --------------------------------------------------------------------------------------------

CONSTANTS = {"number right": lambda lib, y: y * 2.5, "number left": lambda lib, y: 2.5 * y,
             "mask": lambda lib, y: y * (lib.arange(12).reshape(3, 4) % 2 == 0),
             "frozen tensor left": lambda lib, y: lib.ones(3, 4) * y,
             "dropout": lambda lib, y: lib.nn.functional.dropout(y, 0.5)}


@pytest.mark.parametrize("case", list(CONSTANTS))
def test_a_product_with_a_constant_keeps_nothing_of_the_tensor(case: str, torch: Any) -> None:
    """``y * c`` saved y's array, which only c's gradient would read (a number, or a tensor that requires no
    grad, takes none): an activation scaled or masked by a constant (``q * scale``, dropout's mask) stayed alive
    until backward. PyTorch's MulBackward0 keeps ``c`` only; its y dies with its last user reference."""
    def scale(y: Any) -> Any:
        return CONSTANTS[case](mg if isinstance(y, mg.Tensor) else torch, y)

    def run(lib: Any, make: Callable) -> bool:
        with cycle_collector_off():
            x = make()
            y = x.sin()
            ref = weakref.ref(y.data) if lib is mg else weakref.ref(y)
            loss = scale(y).sum()
            del y
            alive = ref() is not None
            loss.backward()
        return alive

    assert run(mg, lambda: mg.randn(3, 4, requires_grad=True)) is False
    assert run(torch, lambda: torch.randn(3, 4, requires_grad=True)) is False


@pytest.mark.parametrize("case", [c for c in CONSTANTS if c != "dropout"])
def test_a_product_with_a_constant_still_differentiates_twice(case: str, torch: Any) -> None:
    values = np.linspace(-2, 2, 12).reshape(3, 4)
    grads = []
    for lib in (mg, torch):
        x = lib.tensor(values, requires_grad=True)
        (g,) = lib.autograd.grad(CONSTANTS[case](lib, x.sin()).sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad((g * g).sum(), x)
        grads.append((g.detach().numpy(), gg.numpy()))
    np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-12)
    np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-12)
