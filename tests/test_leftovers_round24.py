"""Round 24 leftovers, each against PyTorch 2.13: a custom ``autograd.Function`` under ``functionalize`` and forward
AD (``ctx.needs_input_grad``), the leniencies of int arguments, the ``grad_fn`` names of conv/pool ops, and the
layouts of ``nonzero`` and channels-last conv3d."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _outcome(fn: Callable[[Any], Any], lib: Any) -> Any:
    """``fn(lib)``'s result as nested lists (or a plain value), or the class of what it raised."""
    try:
        out = fn(lib)
    except Exception as error:   # noqa: BLE001 - compared with torch's
        return type(error).__name__
    if isinstance(out, (tuple, list)):
        return [_plain(o) for o in out]
    return _plain(out)


def _plain(out: Any) -> Any:
    if out is None or isinstance(out, (str, int, float, bool, tuple, list)):
        return out
    return np.round(out.detach().numpy(), 10).tolist()


# --- custom Functions under functionalize and forward AD -----------------------------------------------------------


def _cube(lib: Any, log: list) -> type:
    """x³ with setup_context, backward and jvp; each logs ``ctx.needs_input_grad``; backward honours it."""

    class Cube(lib.autograd.Function):
        generate_vmap_rule = True

        @staticmethod
        def forward(x: Any) -> Any:
            return x ** 3

        @staticmethod
        def setup_context(ctx: Any, inputs: tuple, output: Any) -> None:
            log.append(("setup", ctx.needs_input_grad))
            ctx.save_for_backward(inputs[0])
            ctx.save_for_forward(inputs[0])

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            x, = ctx.saved_tensors
            return 3 * x ** 2 * g if ctx.needs_input_grad[0] else None

        @staticmethod
        def jvp(ctx: Any, t: Any) -> Any:
            log.append(("jvp", ctx.needs_input_grad))
            x, = ctx.saved_tensors
            return 3 * x ** 2 * t

    return Cube


def _old_style(lib: Any) -> type:
    class Double(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            return x * 2

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            return g * 2

    return Double


X = np.array([0.5, -1.0, 2.0])
T = np.array([1.0, 2.0, 3.0])


@pytest.mark.parametrize("case", ["input", "closed_over", "no_tensor", "old_style", "inside_grad", "around_grad"])
def test_custom_function_inside_functionalize_raises_as_torch(case: str) -> None:
    def run(lib: Any) -> Any:
        cube, x = _cube(lib, []), lib.tensor(X)
        func = lib.func
        fn = {"input": lambda: func.functionalize(cube.apply)(x),
              "closed_over": lambda: func.functionalize(lambda y: cube.apply(x) + y)(x),
              "no_tensor": lambda: func.functionalize(lambda y: cube.apply(3.0) + y)(x),
              "old_style": lambda: func.functionalize(_old_style(lib).apply)(x),
              "inside_grad": lambda: func.grad(lambda y: func.functionalize(cube.apply)(y).sum())(x),
              "around_grad": lambda: func.functionalize(func.grad(lambda y: cube.apply(y).sum()))(x)}[case]
        try:
            return fn()
        except RuntimeError as error:
            message = str(error)
            return "needs setup_context" if "setup_context" in message else message[message.find("NYI"):][:48]

    assert _outcome(run, mg) == _outcome(run, torch)
    assert _outcome(run, mg) in ("needs setup_context", "NYI: Functionalize rule for custom_function_call")


def test_functionalize_without_custom_function_still_runs() -> None:
    x = mg.tensor(X)
    assert mg.func.functionalize(lambda y: y.exp() * 2)(x).tolist() == (x.exp() * 2).tolist()


@pytest.mark.parametrize("case", ["jvp", "forward_ad", "forward_ad_requires_grad", "jacfwd",
                                  "hvp", "hessian", "forward_over_reverse"])
def test_needs_input_grad_in_forward_ad_is_torchs(case: str) -> None:
    """PyTorch's duals do not require grad: ``needs_input_grad`` is False for them in ``setup_context`` and ``jvp``
    (minigrad's duals do require grad); a reverse transform inside (hvp, hessian) still sees True, and its
    backward, which honours the flag, gives the right second derivative."""
    def run(lib: Any) -> Any:
        log: list = []
        cube, func, fw = _cube(lib, log), lib.func, lib.autograd.forward_ad
        x, t = lib.tensor(X), lib.tensor(T)

        def forward_ad(requires_grad: bool) -> Any:
            primal = x.clone().requires_grad_(requires_grad)
            with fw.dual_level():
                return fw.unpack_dual(cube.apply(fw.make_dual(primal, t))).tangent

        def forward_over_reverse() -> Any:
            primal = x.clone().requires_grad_()
            with fw.dual_level():
                y = cube.apply(fw.make_dual(primal, t) * 2)
                g, = lib.autograd.grad(y.sum(), primal, create_graph=True)
                return fw.unpack_dual(g).tangent

        scalar = lambda y: cube.apply(y).sum()   # noqa: E731
        value = {"jvp": lambda: func.jvp(cube.apply, (x,), (t,))[1],
                 "forward_ad": lambda: forward_ad(False),
                 "forward_ad_requires_grad": lambda: forward_ad(True),
                 "jacfwd": lambda: func.jacfwd(cube.apply)(x),
                 "hvp": lambda: func.jvp(func.grad(scalar), (x,), (t,))[1],
                 "hessian": lambda: func.hessian(scalar)(x),
                 "forward_over_reverse": forward_over_reverse}[case]()
        # torch calls setup_context once per level (one ctx here): the distinct flags each staticmethod saw
        return _plain(value), sorted(set(log))

    ours, theirs = _outcome(run, mg), _outcome(run, torch)
    assert ours[0] == theirs[0]
    if case in ("hvp", "hessian", "forward_over_reverse"):   # torch's jvp level (False) never runs jvp here
        assert ours[1] == [("setup", (True,))]
    else:
        assert ours[1] == theirs[1]


# --- layouts --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 4), (5,), (2, 3, 4), (1, 1), ()])
def test_nonzero_is_column_major_as_torch(shape: tuple) -> None:
    """PyTorch's ``nonzero``/``argwhere`` result (count, ndim) has strides (1, count) (it was row-major here): a
    ``.view(-1)`` of it raises in both, and ``as_tuple``'s columns are contiguous."""
    values = (np.arange(max(1, int(np.prod(shape))))[:int(np.prod(shape))].reshape(shape) % 3 == 0)
    ours, theirs = mg.tensor(values), torch.tensor(values)
    for fn in (lambda x: x.nonzero(), lambda x: x.argwhere()):
        assert fn(ours).stride() == fn(theirs).stride()
        assert fn(ours).tolist() == fn(theirs).tolist()
    assert [t.stride() for t in ours.nonzero(as_tuple=True)] == [t.stride() for t in theirs.nonzero(as_tuple=True)]


# --- convolutions: one node with the bias, PyTorch's layouts ---------------------------------------------------------


def _conv_case(lib: Any, dims: int, dtype: str, x_layout: str, bias: bool, groups: int = 1) -> tuple:
    rng = np.random.default_rng(dims * 7 + groups)
    x = lib.tensor(rng.standard_normal((2, 4) + (5,) * dims)).to(getattr(lib, dtype))
    w = lib.tensor(rng.standard_normal((6, 4 // groups) + (3,) * dims)).to(getattr(lib, dtype))
    b = lib.tensor(rng.standard_normal(6)).to(getattr(lib, dtype)) if bias else None
    if x_layout != "contiguous":
        x = x.contiguous(memory_format=getattr(lib, x_layout))
    x, w = x.requires_grad_(), w.requires_grad_()
    if b is not None:
        b.requires_grad_()
    conv = getattr(lib.nn.functional, f"conv{dims}d")
    return conv(x, w, b, padding=1, groups=groups), (x, w) if b is None else (x, w, b)


@pytest.mark.parametrize("dims, x_layout", [(1, "contiguous"), (2, "contiguous"), (2, "channels_last"),
                                            (3, "contiguous"), (3, "channels_last_3d")])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bias", [True, False])
def test_conv_is_one_node_in_torchs_layout(dims: int, x_layout: str, dtype: str, bias: bool) -> None:
    """A convolution with a bias was AddBackward0 (and CloneBackward0 for a channels-last result); its float32 3-D
    result with a channels-last input was C order (PyTorch's mkldnn kernel gives channels_last_3d)."""
    (ours, ours_in), (theirs, theirs_in) = (_conv_case(lib, dims, dtype, x_layout, bias) for lib in (mg, torch))
    assert ours.grad_fn.name() == theirs.grad_fn.name() == "ConvolutionBackward0"
    assert ours.stride() == theirs.stride()
    rtol = 1e-10 if dtype == "float64" else 1e-4
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol, atol=rtol)
    g = np.random.default_rng(1).standard_normal(tuple(ours.shape))
    for a, b in zip(mg.autograd.grad(ours, ours_in, mg.tensor(g).to(ours.dtype)),
                    torch.autograd.grad(theirs, theirs_in, torch.tensor(g).to(theirs.dtype))):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=rtol, atol=rtol * 10)


def test_conv_with_bias_second_derivatives_as_torch() -> None:
    """The bias's gradient through the one node, with create_graph=True (a gradient penalty's path)."""
    def run(lib: Any) -> list:
        y, inputs = _conv_case(lib, 2, "float64", "contiguous", True, groups=2)
        grads = lib.autograd.grad((y ** 2).sum(), inputs, create_graph=True)
        second = lib.autograd.grad(sum((g ** 2).sum() for g in grads), inputs)
        return [t.detach().numpy() for t in grads + second]

    for a, b in zip(run(mg), run(torch)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


def test_conv_with_bias_gradcheck() -> None:
    y, inputs = _conv_case(mg, 2, "float64", "channels_last", True, groups=2)
    assert mg.autograd.gradcheck(lambda x, w, b: mg.nn.functional.conv2d(x, w, b, padding=1, groups=2), inputs)


@pytest.mark.parametrize("dims, layout", [(2, "contiguous"), (2, "channels_last"), (3, "contiguous"),
                                          (3, "channels_last_3d")])
@pytest.mark.parametrize("options", [{}, {"padding": 1, "stride": 2}, {"padding": 1, "count_include_pad": False},
                                     {"divisor_override": 3}, {"ceil_mode": True, "stride": 2}])
def test_avg_pool_is_one_node_as_torch(dims: int, layout: str, options: dict) -> None:
    """avg_pool2d/3d were DivBackward0 (a window sum divided by the counts), and CloneBackward0 for a channels-last
    result: now one AvgPool node, PyTorch's AvgPool2DBackward0/AvgPool3DBackward0; values, strides, gradients and
    second derivatives (create_graph) as PyTorch's."""
    def run(lib: Any) -> tuple:
        values = np.random.default_rng(dims).standard_normal((2, 3) + (5,) * dims)
        x = lib.tensor(values)
        if layout != "contiguous":
            x = x.contiguous(memory_format=getattr(lib, layout))
        x.requires_grad_()
        y = getattr(lib.nn.functional, f"avg_pool{dims}d")(x, 3, **options)
        g, = lib.autograd.grad((y ** 2).sum(), x, create_graph=True)
        gg, = lib.autograd.grad((g ** 2).sum(), x)
        return y.grad_fn.name(), y.stride(), y.detach().numpy(), g.detach().numpy(), gg.numpy()

    ours, theirs = run(mg), run(torch)
    assert ours[:2] == theirs[:2]
    for a, b in zip(ours[2:], theirs[2:]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# --- argument leniencies --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [True, np.bool_(True)], ids=["bool", "numpy_bool"])
@pytest.mark.parametrize("call", [
    lambda lib, v: lib.nn.functional.elu(lib.tensor([-1.0, 2.0]), v),
    lambda lib, v: lib.nn.functional.leaky_relu(lib.tensor([-1.0, 2.0]), v),
    lambda lib, v: lib.nn.functional.softplus(lib.tensor([-2.0, 2.0]), v),
    lambda lib, v: lib.nn.functional.hardtanh(lib.tensor([-2.0, 2.0]), -1.0, v),
    lambda lib, v: lib.nn.functional.normalize(lib.ones(1, 3), v),
    lambda lib, v: lib.nn.functional.layer_norm(lib.tensor([[1.0, 2.0]]), (2,), eps=v),
    lambda lib, v: lib.nn.functional.smooth_l1_loss(lib.ones(2), lib.zeros(2), beta=v),
    lambda lib, v: lib.nn.functional.margin_ranking_loss(lib.ones(2), lib.zeros(2), lib.ones(2), margin=v),
], ids=["elu", "leaky_relu", "softplus", "hardtanh", "normalize", "layer_norm", "smooth_l1", "margin_ranking"])
def test_nn_number_arguments_take_bools_as_torch(call: Callable, value: Any) -> None:
    """PyTorch's parser reads a bool (Python's or NumPy's) as the number 0 or 1 in nn's float arguments; minigrad
    raised TypeError."""
    assert _outcome(lambda lib: call(lib, value), mg) == _outcome(lambda lib: call(lib, value), torch)
    assert not isinstance(_outcome(lambda lib: call(lib, value), mg), str)


class _IntLike:
    def __int__(self) -> int:
        return 6


@pytest.mark.parametrize("seed", [1, True, np.bool_(True), 1.0, 1.5, np.float64(2.0), np.int64(3), "3", "abc", None,
                                  _IntLike(), -1, 2 ** 63, 2 ** 64, float("inf"), float("nan")],
                         ids=lambda v: type(v).__name__ + repr(v)[:12])
def test_manual_seed_reads_seeds_as_torch(seed: Any) -> None:
    """``torch.manual_seed`` is ``int(seed)`` (a float, a bool, a numeric string, an object with ``__int__``; int's
    errors otherwise); ``Generator.manual_seed`` takes a Python int only (TypeError for a NumPy int, RuntimeError
    for anything else). minigrad refused ``manual_seed(1.0)`` and took NumPy ints and tensors in Generator's."""
    def run(lib: Any) -> list:
        outcomes = []
        for fn in (lambda: lib.manual_seed(seed).initial_seed(),
                   lambda: lib.Generator().manual_seed(seed).initial_seed()):
            try:
                outcomes.append(fn())
            except Exception as error:   # noqa: BLE001 - compared with torch's
                outcomes.append(type(error).__name__ if type(error).__module__ == "builtins" else
                                sorted(c.__name__ for c in type(error).__mro__ if c.__module__ == "builtins"))
        return outcomes

    ours, theirs = run(mg), run(torch)
    torch.manual_seed(0)
    mg.manual_seed(0)
    for a, b in zip(ours, theirs):
        assert a == b or (isinstance(a, list) and b in a)


@pytest.mark.parametrize("data", [
    lambda lib: [np.bool_(True), 1], lambda lib: [1, np.bool_(True)], lambda lib: [[np.bool_(True)], [1]],
    lambda lib: (np.bool_(True), 1), lambda lib: [np.bool_(True), lib.tensor(1)], lambda lib: [np.array(1), 1],
    lambda lib: [np.array(1.0)], lambda lib: [[np.array(True)]],
    # still computed, as PyTorch's
    lambda lib: [np.bool_(True), 1.5], lambda lib: [np.bool_(True), True], lambda lib: [lib.tensor(True), 1],
    lambda lib: [lib.tensor(1), 2], lambda lib: [np.array([1]), np.array([2])], lambda lib: [np.int64(1), 1],
], ids=lambda f: "")
@pytest.mark.filterwarnings("ignore::UserWarning")   # torch's: a list of NumPy arrays is slow
def test_tensor_of_a_list_refuses_numpy_bools_among_ints_and_0d_arrays_as_torch(data: Callable) -> None:
    """``torch.tensor([np.bool_(True), 1])`` is TypeError (its parser reads the int64 list's NumPy bool as no
    integer) and so is a 0-d NumPy array in a list ("len() of unsized object"); minigrad made int64 tensors."""
    def run(lib: Any) -> Any:
        t = lib.tensor(data(lib))
        return str(t.dtype).replace("torch.", ""), t.tolist()

    assert _outcome(run, mg) == _outcome(run, torch)


@pytest.mark.parametrize("module", ["LayerNorm", "RMSNorm"])
@pytest.mark.parametrize("eps", [True, np.bool_(True), np.int64(1), "tensor", "1e-5"], ids=repr)
def test_norm_modules_take_eps_as_torch(module: str, eps: Any) -> None:
    """LayerNorm/RMSNorm's eps: a bool, a NumPy number or a 0-d tensor is a number, as PyTorch's (ValueError
    before); a string is TypeError in both (PyTorch's at the call)."""
    def run(lib: Any) -> Any:
        value = lib.tensor(0.5) if eps == "tensor" else eps
        return getattr(lib.nn, module)(2, eps=value)(lib.tensor([[1.0, 2.0]]))

    assert _outcome(run, mg) == _outcome(run, torch)


class _Index:
    def __index__(self) -> int:
        return 1


@pytest.mark.parametrize("value", [_Index(), np.array(1)], ids=["__index__", "numpy_0d"])
@pytest.mark.parametrize("call", [
    lambda x, v: x.sum(dim=v), lambda x, v: x.flatten(v), lambda x, v: x.select(v, 0), lambda x, v: x.unsqueeze(v),
    lambda x, v: x.transpose(v, 0), lambda x, v: x.cumsum(v), lambda x, v: x.softmax(v), lambda x, v: x.argmax(v),
    lambda x, v: x.size(v), lambda x, v: x.index_select(v, x.new_zeros(1).long()), lambda x, v: x.movedim(v, 0),
    # list slots and SymInt ones take them, as PyTorch's
    lambda x, v: x.squeeze(v), lambda x, v: x.sum(dim=[v]), lambda x, v: x.select(0, v), lambda x, v: x.view(v, -1),
    lambda x, v: x.permute(v, 0, 2), lambda x, v: x.narrow(0, 0, v), lambda x, v: x.topk(v).values,
], ids=lambda f: "")
def test_single_dims_refuse_index_only_values_as_torch(call: Callable, value: Any) -> None:
    """PyTorch's parser reads a single dim (int64) as a Python or NumPy int or a 0-d integer tensor only: an object
    with only ``__index__`` (a 0-d NumPy array too) is its TypeError (RuntimeError for sum); dim lists and sizes
    take one. minigrad took it everywhere."""
    def run(lib: Any) -> Any:
        x = lib.arange(24.0, requires_grad=True).reshape(2, 3, 4)
        y = call(x, value)
        return y if isinstance(y, int) else (y.grad_fn.name() if y.grad_fn is not None else None, y)

    ours, theirs = _outcome(run, mg), _outcome(run, torch)
    if isinstance(theirs, str):   # the error's class: ours is TypeError and RuntimeError
        assert ours == "ArgumentTypeError" and theirs in ("TypeError", "RuntimeError")
    else:
        assert ours == theirs
