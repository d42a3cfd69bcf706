"""Differential fuzzing of custom autograd Functions, saved-tensor hooks and hook ordering against torch 2.13
(round 15): the cases where minigrad differed, each compared with live torch."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")

A = np.array([0.5, -1.5, 2.0])
B = np.array([1.5, 0.25, -1.0])


def _outcome(fn: Callable[[Any], Any], lib: Any) -> Any:
    """``fn(lib)``'s result, or the class of what it raised (the result of each library, to compare)."""
    try:
        return fn(lib)
    except Exception as error:   # noqa: BLE001 - compared with torch's
        return type(error).__name__


def _same(fn: Callable[[Any], Any]) -> None:
    theirs, ours = _outcome(fn, torch), _outcome(fn, mg)
    if isinstance(theirs, str):   # the class of the error each raised
        assert ours == theirs, (ours, theirs)
    else:
        np.testing.assert_equal(ours, theirs)


def _values(t: Any) -> Any:
    return None if t is None else np.round(t.detach().numpy(), 10).tolist()


def _exp_product(lib: Any) -> type:
    """A Function that saves an input, another input and an intermediate (old style)."""
    class ExpProduct(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any, y: Any) -> Any:
            z = x * y
            ctx.save_for_backward(x, y, z)
            return z.exp()

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            x, y, z = ctx.saved_tensors
            return g * z.exp() * y, g * z.exp() * x
    return ExpProduct


def _exp_of(lib: Any) -> type:
    """A Function that saves its output (new style: setup_context)."""
    class Exp(lib.autograd.Function):
        @staticmethod
        def forward(x: Any) -> Any:
            return x.exp()

        @staticmethod
        def setup_context(ctx: Any, inputs: tuple, output: Any) -> None:
            ctx.save_for_backward(output)

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            (y,) = ctx.saved_tensors
            return g * y
    return Exp


def _saved_input_changed(lib: Any) -> Any:
    a = lib.tensor(A, requires_grad=True)
    b = a * 1
    y = _exp_product(lib).apply(b, lib.tensor(B))
    b.mul_(3)
    y.sum().backward()
    return _values(a.grad)


def _saved_output_changed(lib: Any) -> Any:
    a = lib.tensor(A, requires_grad=True)
    y = _exp_of(lib).apply(a)
    y.add_(1)
    y.sum().backward()
    return _values(a.grad)


def _backward_twice(lib: Any) -> Any:
    a = lib.tensor(A, requires_grad=True)
    y = _exp_product(lib).apply(a, lib.tensor(B, requires_grad=True))
    y.sum().backward()
    y.sum().backward()
    return _values(a.grad)


def _backward_twice_retained(lib: Any) -> Any:
    a = lib.tensor(A, requires_grad=True)
    y = _exp_of(lib).apply(a)
    y.sum().backward(retain_graph=True)
    y.sum().backward()
    return _values(a.grad)


def _hooks_log(lib: Any) -> Any:
    log: list = []

    def pack(t: Any) -> Any:
        log.append(("pack", tuple(t.shape), t.requires_grad))
        return t.detach().clone()   # a copy: backward must read the unpacked values

    def unpack(t: Any) -> Any:
        log.append(("unpack", tuple(t.shape)))
        return t * 1

    a = lib.tensor(A, requires_grad=True)
    b = lib.tensor(B, requires_grad=True)
    with lib.autograd.graph.saved_tensors_hooks(pack, unpack):
        y = _exp_product(lib).apply(a, b)
    y.sum().backward()
    return log, _values(a.grad), _values(b.grad)


def _hooks_change_values(lib: Any) -> Any:
    """An unpack_hook that gives other values: backward reads them (as torch's saved_tensors)."""
    a = lib.tensor(A, requires_grad=True)
    with lib.autograd.graph.saved_tensors_hooks(lambda t: t.detach() * 2, lambda t: t):
        y = _exp_of(lib).apply(a)
    y.sum().backward()
    return _values(a.grad)


def _hooks_change_values_create_graph(lib: Any) -> Any:
    """The same under create_graph=True: backward reads the unpacked values, on the saved tensors' graph."""
    a = lib.tensor(A, requires_grad=True)
    with lib.autograd.graph.saved_tensors_hooks(lambda t: t.detach() * 2, lambda t: t):
        y = _exp_of(lib).apply(a) + _exp_product(lib).apply(a, lib.tensor(B))
    (g,) = lib.autograd.grad(y.sum(), a, create_graph=True)
    (gg,) = lib.autograd.grad(g.sum(), a)
    return _values(g), _values(gg)


@pytest.mark.parametrize("case", [_saved_input_changed, _saved_output_changed, _backward_twice,
                                  _backward_twice_retained, _hooks_log, _hooks_change_values,
                                  _hooks_change_values_create_graph],
                         ids=lambda f: f.__name__.strip("_"))
def test_custom_function_saved_tensors_are_checked_freed_and_hooked(case: Callable) -> None:
    """ctx.save_for_backward kept the tensors aside from the engine: an in-place change after the call gave a
    silently wrong gradient (torch raises), a second backward ran again (torch: the saved values were freed)
    and saved_tensors_hooks never saw them."""
    _same(case)


def _int_and_bool_outputs(lib: Any) -> Any:
    class Split(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            return x.clone(), x > 0, x.argmax()

        @staticmethod
        def backward(ctx: Any, g: Any, g_mask: Any, g_index: Any) -> Any:
            return g * 2

    a = lib.tensor(A, requires_grad=True)
    y, mask, index = Split.apply(a)
    y.sum().backward()
    return [t.requires_grad for t in (y, mask, index)], [t.grad_fn is None for t in (y, mask, index)], _values(a.grad)


def test_integer_and_bool_outputs_of_a_custom_function_do_not_require_grad() -> None:
    """A bool or integer output required grad (and had a grad_fn); torch never differentiates them."""
    _same(_int_and_bool_outputs)


def test_autograd_function_module_is_an_attribute() -> None:
    """``mg.autograd.function.once_differentiable`` (as torch programs spell it) raised AttributeError."""
    assert mg.autograd.function.once_differentiable is mg.autograd.once_differentiable
    assert mg.autograd.function.Function is mg.autograd.Function

    def double_backward(lib: Any) -> Any:
        class Cube(lib.autograd.Function):
            @staticmethod
            def forward(ctx: Any, x: Any) -> Any:
                ctx.save_for_backward(x)
                return x ** 3

            @staticmethod
            @lib.autograd.function.once_differentiable
            def backward(ctx: Any, g: Any) -> Any:
                (x,) = ctx.saved_tensors
                return g * 3 * x ** 2

        a = lib.tensor(A, requires_grad=True)
        (g,) = lib.autograd.grad(Cube.apply(a).sum(), a, create_graph=True)
        return _values(g), g.requires_grad

    _same(double_backward)


@pytest.mark.parametrize("shapes", [((3,), (1, 3)), ((3,), (2, 3)), ((2, 1), (2, 4)), ((1, 3), (1,)), ((3,), ()),
                                    ((2, 3), (3,))])
def test_custom_function_gradient_of_a_broadcast_shape_is_summed(shapes: tuple) -> None:
    """backward returning a gradient of a shape the input expands to raised; torch sums it down (and raises
    RuntimeError for any other shape)."""
    shape, grad_shape = shapes
    rng = np.random.default_rng(15)
    values, grad = rng.standard_normal(shape), rng.standard_normal(grad_shape)

    def run(lib: Any, create_graph: bool) -> Any:
        class Given(lib.autograd.Function):
            @staticmethod
            def forward(ctx: Any, x: Any) -> Any:
                return x * 2

            @staticmethod
            def backward(ctx: Any, g: Any) -> Any:
                return lib.tensor(grad) * g.sum()

        a = lib.tensor(values, requires_grad=True)
        (g,) = lib.autograd.grad(Given.apply(a).sum(), a, create_graph=create_graph)
        return _values(g)

    for create_graph in (False, True):
        _same(lambda lib, create_graph=create_graph: run(lib, create_graph))


def _prehook_order(lib: Any, how: str) -> Any:
    log: list = []
    x = lib.tensor(A, requires_grad=True)
    y = x.exp()
    z = y * 2
    y.grad_fn.register_prehook(lambda go: (log.append(("pre", round(float(go[0].sum()), 8))), (go[0] * 10,))[1])
    y.register_hook(lambda g: (log.append(("tensor", round(float(g.sum()), 8))), g * 3)[1])
    y.retain_grad()
    if how == "grad":
        result = lib.autograd.grad(z.sum(), [y, x])
    elif how == "grad_of_y":
        result = lib.autograd.grad(z.sum(), y)
    elif how == "inputs":
        z.sum().backward(inputs=[y])
        result = (y.grad,)
    else:
        z.sum().backward()
        result = (y.grad, x.grad)
    return log, [_values(r) for r in result]


@pytest.mark.parametrize("how", ["backward", "grad", "grad_of_y", "inputs"])
def test_tensor_hooks_and_retain_grad_run_before_grad_fn_prehooks(how: str) -> None:
    """A prehook registered before a tensor hook ran first, retain_grad's .grad included the prehook's change,
    and ``autograd.grad`` w.r.t. a tensor whose grad_fn has a prehook returned the gradient the prehook made
    (torch: tensor hooks, then retain_grad, then prehooks; ``grad`` captures before prehooks, which do not run
    at a node it stops at)."""
    _same(lambda lib: _prehook_order(lib, how))


def test_an_input_given_twice_to_grad_runs_its_hooks_once() -> None:
    """``autograd.grad(y, [x, x])`` ran x's hook twice; torch once, with the same gradient for both."""
    def run(lib: Any) -> Any:
        log: list = []
        x = lib.tensor(A, requires_grad=True)
        x.register_hook(lambda g: (log.append(round(float(g.sum()), 8)), g * 3)[1])
        g1, g2 = lib.autograd.grad((x * 2).sum(), [x, x])
        return log, _values(g1), _values(g2)
    _same(run)


def _scale_in_place(lib: Any) -> type:
    class ScaleInPlace(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any, w: Any) -> Any:
            x.mul_(w)
            ctx.mark_dirty(x)
            ctx.save_for_backward(x, w)
            return x

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            x, w = ctx.saved_tensors
            return g * w, g * x / w
    return ScaleInPlace


def _dirty_result(lib: Any) -> Any:
    a, w = lib.tensor(A, requires_grad=True), lib.tensor(B, requires_grad=True)
    b = a * 2
    y = _scale_in_place(lib).apply(b, w)
    (y * y).sum().backward()
    return _values(a.grad), _values(w.grad), y is b, y.grad_fn.name(), b._version > 0


def _dirty_input_without_grad(lib: Any) -> Any:
    a, w = lib.tensor(A), lib.tensor(B, requires_grad=True)
    y = _scale_in_place(lib).apply(a, w)
    y.sum().backward()
    return _values(w.grad), y is a, y.requires_grad


def _dirty_leaf(lib: Any) -> Any:
    return _values(_scale_in_place(lib).apply(lib.tensor(A, requires_grad=True), lib.tensor(B)))


def _dirty_breaks_an_earlier_saver(lib: Any) -> Any:
    a, w = lib.tensor(A, requires_grad=True), lib.tensor(B, requires_grad=True)
    b = a * 2
    s = b * w   # saves b, which the Function then changes
    _scale_in_place(lib).apply(b, w)
    s.sum().backward()
    return _values(a.grad)


def _dirty_not_returned(lib: Any) -> Any:
    class Forgets(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            x.mul_(2)
            ctx.mark_dirty(x)
            return x * 1

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            return g
    return _values(Forgets.apply(lib.tensor(A, requires_grad=True) * 1))


@pytest.mark.parametrize("case", [_dirty_result, _dirty_input_without_grad, _dirty_leaf, _dirty_breaks_an_earlier_saver,
                                  _dirty_not_returned], ids=lambda f: f.__name__.strip("_"))
def test_mark_dirty_makes_the_input_the_output(case: Callable) -> None:
    """``ctx.mark_dirty`` raised NotImplementedError; torch returns the input itself, with the call as its
    grad_fn (and raises for a leaf that requires grad, or a dirty input that is not returned)."""
    _same(case)


def test_mark_dirty_on_a_view_raises_a_clear_error() -> None:
    """A view's base would keep a stale graph (torch re-points it): refused, never a wrong gradient."""
    a = mg.tensor(np.ones((2, 3)), requires_grad=True)
    b = a * 1
    with pytest.raises(NotImplementedError, match="mark_dirty on a view"):
        _scale_in_place(mg).apply(b[0], mg.tensor(B))


def _non_tensor_outputs(lib: Any, create_graph: bool) -> Any:
    class WithCount(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            ctx.set_materialize_grads(False)
            return 7, x * 2, "label", x * 3

        @staticmethod
        def backward(ctx: Any, g_count: Any, g: Any, g_label: Any, h: Any) -> Any:
            assert g_count is None and g_label is None
            return (0 if g is None else g * 2) + (0 if h is None else h * 3)

    a = lib.tensor(A, requires_grad=True)
    count, y, label, z = WithCount.apply(a)
    (g,) = lib.autograd.grad(z.sum(), a, create_graph=create_graph)
    return count, label, y.requires_grad, _values(g)


@pytest.mark.parametrize("create_graph", [False, True])
def test_values_that_are_not_tensors_pass_through_a_custom_function(create_graph: bool) -> None:
    """forward returning a number or a string among its Tensors raised TypeError; torch passes them through
    (backward gets None for each)."""
    _same(lambda lib: _non_tensor_outputs(lib, create_graph))


def _tangents_of(lib: Any, style: str) -> Any:
    """Forward AD through a Function whose ``backward`` is not the derivative ``jvp`` gives (a straight-through
    style estimator): the tangent must be ``jvp``'s."""
    if style == "old":
        class Scaled(lib.autograd.Function):
            @staticmethod
            def forward(ctx: Any, x: Any, k: float) -> Any:
                ctx.k = k
                return x * k, x + 1

            @staticmethod
            def backward(ctx: Any, g: Any, g2: Any) -> Any:
                return g * 5, None

            @staticmethod
            def jvp(ctx: Any, tx: Any, tk: Any) -> Any:
                return tx * ctx.k * 7, tx * 3
    else:
        class Scaled(lib.autograd.Function):   # type: ignore[no-redef]
            @staticmethod
            def forward(x: Any, y: Any) -> Any:
                return x * y, x.sin()

            @staticmethod
            def setup_context(ctx: Any, inputs: tuple, output: Any) -> None:
                ctx.save_for_forward(*inputs)

            @staticmethod
            def backward(ctx: Any, g: Any, g2: Any) -> Any:
                return g, g

            @staticmethod
            def jvp(ctx: Any, tx: Any, ty: Any) -> Any:
                x, y = ctx.saved_tensors
                return tx * y + (0 if ty is None else x * ty), tx * x.cos()

    fwd = lib.autograd.forward_ad
    a, b = lib.tensor(A), lib.tensor(B)
    with fwd.dual_level():
        dual = fwd.make_dual(a, lib.tensor(B * 3))
        outputs = Scaled.apply(dual, 2.0) if style == "old" else Scaled.apply(dual, b)
        return [_values(fwd.unpack_dual(y * 1).tangent) for y in outputs]


# torch's first dual_level costs ~2 s of start-up, so these are torch 2.13's answers (checked by hand, equal to
# _tangents_of(torch, style)): the tangent t = 3 B goes through jvp, never through backward
@pytest.mark.parametrize(("style", "expected"), [
    ("old", [14 * 3 * B, 3 * 3 * B]),                       # jvp: (7 k tx, 3 tx) with k = 2
    ("setup_context", [3 * B * B, 3 * B * np.cos(A)]),       # jvp: (tx y, tx cos x); y has no tangent (None)
])
def test_forward_ad_through_a_custom_function_uses_its_jvp(style: str, expected: list) -> None:
    """minigrad derived the tangent from ``backward`` (its double-vjp trick), ignoring the Function's ``jvp``;
    ``ctx.save_for_forward`` did not exist."""
    np.testing.assert_allclose(_tangents_of(mg, style), np.round(expected, 10), rtol=1e-12)


def _post_hook_inputs(lib: Any, how: str) -> Any:
    log: list = []
    x, w = lib.tensor(A, requires_grad=True), lib.tensor(B, requires_grad=True)
    h = x * w
    z = h.sin()
    h.grad_fn.register_hook(lambda gi, go: log.append(("h", [_values(g) for g in gi], _values(go[0]))))
    z.grad_fn.register_hook(lambda gi, go: log.append(("z", [_values(g) for g in gi])))
    loss = (z * 2).sum()
    if how == "grad_of_x":
        result = lib.autograd.grad(loss, x)
    elif how == "backward_inputs_w":
        loss.backward(inputs=[w])
        result = (w.grad, x.grad)
    else:   # backward(inputs=) at a non-leaf: torch runs its node (the hook sees None for each input)
        loss.backward(inputs=[h])
        result = (h.grad,)
    return log, [_values(r) for r in result]


@pytest.mark.parametrize("how", ["grad_of_x", "backward_inputs_w", "backward_inputs_h"])
def test_grad_fn_hooks_in_a_restricted_backward_see_none_off_the_path(how: str) -> None:
    """In ``grad``/``backward(inputs=)``, a grad_fn.register_hook hook got gradients for inputs off every path to
    the targets (torch: None), and at a non-leaf target of ``backward(inputs=)`` it did not run (torch runs it)."""
    _same(lambda lib: _post_hook_inputs(lib, how))


def test_a_custom_function_lets_go_of_its_saved_tensors_after_backward() -> None:
    """The ctx kept the saved tensors (their memory) as long as the graph lived; torch frees them in backward."""
    import gc
    import weakref

    def alive_after_backward(lib: Any) -> tuple:
        class Keeps(lib.autograd.Function):
            @staticmethod
            def forward(ctx: Any, x: Any) -> Any:
                ctx.save_for_backward(x * 3)   # an intermediate: only the ctx holds it
                return x * 2

            @staticmethod
            def backward(ctx: Any, g: Any) -> Any:
                return g * 2

        a = lib.tensor(A, requires_grad=True)
        y = Keeps.apply(a)
        before = weakref.ref(y.grad_fn.saved_tensors[0] if lib is torch else y.grad_fn.ctx.saved_tensors[0])
        gc.collect()
        alive = before() is not None
        y.sum().backward()
        gc.collect()
        return alive, before() is not None
    _same(alive_after_backward)


@pytest.mark.parametrize("imag", [0.0, 1.5])
def test_a_complex_gradient_for_a_real_input_raises(imag: float) -> None:
    """backward returning a complex gradient for a real input had its imaginary part dropped; torch raises."""
    def run(lib: Any) -> Any:
        class Complex(lib.autograd.Function):
            @staticmethod
            def forward(ctx: Any, x: Any) -> Any:
                return x * 2

            @staticmethod
            def backward(ctx: Any, g: Any) -> Any:
                return g.to(lib.complex128) * complex(1.0, imag)

        a = lib.tensor(A, requires_grad=True)
        Complex.apply(a).sum().backward()
        return _values(a.grad)
    _same(run)


def test_vjp_is_backward_and_grad_fn_is_the_ctx() -> None:
    """A Function defining ``vjp`` (PyTorch's other name for ``backward``) raised an empty NotImplementedError;
    ``y.grad_fn.saved_tensors`` / ``needs_input_grad`` / attributes set on ctx raised AttributeError (torch's
    grad_fn of a custom Function is its ctx)."""
    def run(lib: Any) -> Any:
        class Square(lib.autograd.Function):
            @staticmethod
            def forward(ctx: Any, x: Any) -> Any:
                ctx.save_for_backward(x)
                ctx.note = "kept"
                return x * x

            @staticmethod
            def vjp(ctx: Any, g: Any) -> Any:
                (x,) = ctx.saved_tensors
                return 2 * g * x

        a = lib.tensor(A, requires_grad=True)
        y = Square.apply(a)
        seen = [_values(t) for t in y.grad_fn.saved_tensors], tuple(y.grad_fn.needs_input_grad), y.grad_fn.note
        y.sum().backward()
        return seen, _values(a.grad)
    _same(run)

    def without_backward(lib: Any) -> Any:
        class Forward(lib.autograd.Function):
            @staticmethod
            def forward(ctx: Any, x: Any) -> Any:
                return x * x
        a = lib.tensor(A, requires_grad=True)
        Forward.apply(a).sum().backward()
    _same(without_backward)
    with pytest.raises(NotImplementedError, match="implement either the backward or vjp"):
        without_backward(mg)


@pytest.mark.parametrize("reads", [0, 1, 2])
def test_saved_tensors_unpack_at_each_read(reads: int) -> None:
    """The unpack_hook ran once per backward whatever backward read; torch runs it at each read of
    ctx.saved_tensors (none if backward does not read them). After a freeing backward, reading raises."""
    def run(lib: Any) -> Any:
        log: list = []

        class Reads(lib.autograd.Function):
            @staticmethod
            def forward(ctx: Any, x: Any) -> Any:
                ctx.save_for_backward(x)
                return x * 2

            @staticmethod
            def backward(ctx: Any, g: Any) -> Any:
                for _ in range(reads):
                    ctx.saved_tensors   # noqa: B018 - the read is the point
                return g * 2

        a = lib.tensor(A, requires_grad=True)
        with lib.autograd.graph.saved_tensors_hooks(lambda t: (log.append("pack"), t)[1],
                                                    lambda t: (log.append("unpack"), t)[1]):
            y = Reads.apply(a)
        y.sum().backward(retain_graph=True)
        y.sum().backward()
        try:
            y.grad_fn.saved_tensors   # noqa: B018
        except RuntimeError:
            log.append("freed")
        return log, _values(a.grad)
    _same(run)
