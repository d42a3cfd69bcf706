"""Round 22: custom ``autograd.Function``'s advanced API, fuzzed against PyTorch 2.13 (/tmp/fuzz22_custom_fn.py):
``needs_input_grad``, ``mark_dirty``, inputs returned as they are, ctx attributes, ``jvp``, the ``vmap``
staticmethod under ``mg.func.vmap`` and saved inputs returned as outputs under ``create_graph=True``."""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")

A = np.array([[0.5, -1.25, 2.0], [1.5, 0.25, -0.75]])


def _outcome(fn: Callable[[Any], Any], lib: Any) -> Any:
    """``fn(lib)``'s result, or the class of what it raised."""
    try:
        return fn(lib)
    except Exception as error:   # noqa: BLE001 - compared with torch's
        return type(error).__name__


def _same(fn: Callable[[Any], Any]) -> None:
    theirs, ours = _outcome(fn, torch), _outcome(fn, mg)
    if isinstance(theirs, str):
        assert ours == theirs, (ours, theirs)
    else:
        np.testing.assert_equal(ours, theirs)


def _values(t: Any) -> Any:
    return None if t is None else np.round(t.detach().numpy(), 10).tolist()


def _twice(lib: Any, **extra: Any) -> type:
    """x ↦ 2x, with the given extra staticmethods / attributes."""
    def forward(ctx: Any, x: Any, *rest: Any) -> Any:
        ctx.log.append(tuple(ctx.needs_input_grad)) if hasattr(ctx, "log") else None
        return x * 2

    def backward(ctx: Any, g: Any) -> Any:
        return g * 2

    namespace = {"forward": staticmethod(forward), "backward": staticmethod(backward)}
    namespace.update(extra)
    return type("Twice", (lib.autograd.Function,), namespace)


# --- ctx.needs_input_grad ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["no_grad", "inference_mode", "enable_grad"])
def test_needs_input_grad_says_which_inputs_require_grad_in_every_grad_mode(mode: str) -> None:
    """Under no_grad, ``ctx.needs_input_grad`` read all False; torch's reads each input's ``requires_grad``."""
    def program(lib: Any) -> list:
        seen: list = []

        class Spy(lib.autograd.Function):
            @staticmethod
            def forward(ctx: Any, x: Any, k: int, w: Any) -> Any:
                seen.append(tuple(ctx.needs_input_grad))
                return x * k * w

            @staticmethod
            def backward(ctx: Any, g: Any) -> Any:
                return g, None, None

        with getattr(lib, mode)():
            Spy.apply(lib.tensor(A, requires_grad=True), 3, lib.tensor(A))
        return seen
    _same(program)


# --- calling a Function instance -----------------------------------------------------------------------------------

def test_calling_an_instance_of_a_static_forward_function_raises_runtime_error() -> None:
    """``Op()(x)`` raised TypeError; torch raises RuntimeError (legacy non-static forward)."""
    _same(lambda lib: _twice(lib)()(lib.tensor(A, requires_grad=True)))


# --- mark_dirty ----------------------------------------------------------------------------------------------------

def _dirty(lib: Any) -> type:
    class Double_(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            return g * 2
    return Double_


@pytest.mark.parametrize("case", ["view_of_leaf", "no_input_requires_grad", "leaf_under_no_grad", "version"])
def test_mark_dirty_as_torch(case: str) -> None:
    """A view of a leaf that requires grad raised NotImplementedError (torch: RuntimeError, the leaf-view rule);
    with no input requiring grad, the result was a new Tensor instead of the input itself, as torch's; the
    version counter did not count mark_dirty's change (torch's counts one more)."""
    def program(lib: Any) -> list:
        if case == "version":
            b = lib.tensor(A, requires_grad=True) * 1
            y = _dirty(lib).apply(b)
            y.sum().backward()
            return [b._version, y is b]
        if case == "view_of_leaf":
            a = lib.tensor(A, requires_grad=True)
            return _values(_dirty(lib).apply(a[0]))
        if case == "no_input_requires_grad":
            a = lib.tensor(A)
            y = _dirty(lib).apply(a)
            return [y is a, y.requires_grad, _values(a)]
        a = lib.tensor(A, requires_grad=True)
        with lib.no_grad():
            y = _dirty(lib).apply(a)
        return [y is a, y.requires_grad, _values(a)]
    _same(program)


# --- ctx attributes and grad_fn class ------------------------------------------------------------------------------

def test_ctx_has_torchs_public_attributes_and_grad_fn_is_a_backward_c_function() -> None:
    """``ctx.to_save``, ``dirty_tensors``, ``non_differentiable`` and ``saved_variables`` did not exist, nor
    ``autograd.function.BackwardCFunction``; ``ctx.materialize_grads`` existed (torch has none)."""
    def program(lib: Any) -> list:
        seen: list = []

        class Probe(lib.autograd.Function):
            @staticmethod
            def forward(ctx: Any, x: Any, m: Any) -> Any:
                seen.append([getattr(ctx, name) is None for name in ("to_save", "dirty_tensors", "non_differentiable")])
                seen.append(hasattr(ctx, "materialize_grads"))
                ctx.save_for_backward(x, None)
                ctx.mark_non_differentiable(m)
                seen.append([len(ctx.to_save), ctx.to_save[1] is None, ctx.non_differentiable[0] is m])
                return x * 2, m

            @staticmethod
            def backward(ctx: Any, g: Any, gm: Any) -> Any:
                with pytest.warns(DeprecationWarning) if lib is mg else _no_check():
                    seen.append(len(ctx.saved_variables))
                seen.append(ctx.to_save is None)
                return g * 2, None

        y, _ = Probe.apply(lib.tensor(A, requires_grad=True), lib.tensor(A))
        seen.append(isinstance(y.grad_fn, lib.autograd.function.BackwardCFunction))
        y.sum().backward()
        return seen
    _same(program)


class _no_check:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


# --- jvp -----------------------------------------------------------------------------------------------------------

def test_a_jvp_returning_too_many_tangents_raises() -> None:
    """A ``jvp`` staticmethod returning two tangents for one output was taken (the extra one dropped); torch raises
    RuntimeError "Function's jvp returned an invalid number of forward gradients (expected 1 but got 2)" (torch's
    first dual_level costs seconds of start-up, so its answer is written here)."""
    class TooMany(mg.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            return x * 2

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            return g * 2

        @staticmethod
        def jvp(ctx: Any, t: Any) -> Any:
            return t * 2, t

    fwd = mg.autograd.forward_ad
    with fwd.dual_level(), pytest.raises(RuntimeError, match="invalid number of forward gradients"):
        _ = fwd.unpack_dual(TooMany.apply(fwd.make_dual(mg.tensor(A), mg.tensor(A)))).tangent


@pytest.mark.parametrize("returned", ["number", "constant", "affine"])
def test_a_jvp_that_is_not_a_linear_map_of_tensors_raises(returned: str) -> None:
    """A ``jvp`` returning a number, or a tangent with a constant term (nonzero for zero input tangents), gave a
    zero (or offset-less) tangent silently: minigrad transposes the jvp, which loses any constant. torch raises
    RuntimeError for the number ("expected Variable or None (got float) for grad output 0") and carries the
    constant; minigrad now raises RuntimeError for both."""
    class Odd(mg.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            return x * 2

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            return g * 2

        @staticmethod
        def jvp(ctx: Any, t: Any) -> Any:
            return 2.0 if returned == "number" else mg.ones(2, 3) if returned == "constant" else t * 2 + 1

    fwd = mg.autograd.forward_ad
    with fwd.dual_level(), pytest.raises(RuntimeError, match="got float|constant term"):
        _ = fwd.unpack_dual(Odd.apply(fwd.make_dual(mg.tensor(A), mg.tensor(A)))).tangent


# --- an input returned as it is ------------------------------------------------------------------------------------

def _identity(lib: Any) -> type:
    class Same(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            return x

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            return g * 3
    return Same


def _view(lib: Any) -> type:
    class Row(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            return x[0]

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            out = g.new_zeros(2, 3)
            out[0] = g * 3
            return out
    return Row


@pytest.mark.parametrize("op", [_identity, _view])
@pytest.mark.parametrize("what", ["output_in_place", "base_in_place", "base_in_place_no_grad", "untouched"])
def test_an_output_sharing_an_inputs_memory_refuses_in_place_changes_as_torch(op: Callable, what: str) -> None:
    """An input returned as it is could be changed in place afterwards (the write recorded on top of the custom
    node); an output viewing an input gave the custom gradient after the input changed in place. torch forbids
    both (a view made inside a custom Function): RuntimeError."""
    def program(lib: Any) -> list:
        a = lib.tensor(A, requires_grad=True)
        b = a * 1
        y = op(lib).apply(b)
        if what == "output_in_place":
            y.mul_(2)
        elif what == "base_in_place":
            b.mul_(2)
        elif what == "base_in_place_no_grad":
            with lib.no_grad():
                b.add_(1)
        (y * 2).sum().backward()
        return [_values(y), _values(a.grad)]
    _same(program)


# --- vmap staticmethod ---------------------------------------------------------------------------------------------

def _scale(lib: Any, recursive: bool = True, generate: bool = False) -> type:
    """x ↦ 2x with a vmap rule that computes 3x (so the answer tells which one ran) unless ``recursive``."""
    class Scale(lib.autograd.Function):
        generate_vmap_rule = generate

        @staticmethod
        def forward(x: Any) -> Any:
            return x * 2

        @staticmethod
        def setup_context(ctx: Any, inputs: tuple, output: Any) -> None:
            pass

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            return g * 2

        @staticmethod
        def vmap(info: Any, in_dims: tuple, x: Any) -> tuple:
            x = x.movedim(in_dims[0], 0)
            return (Scale.apply(x) if recursive else x * 3), 0
    return Scale


@pytest.mark.parametrize("how", ["vmap", "vmap_rule_recursive", "both_rules", "ctx_style_with_rule", "bad_rule"])
def test_vmap_runs_a_functions_vmap_staticmethod_as_torch(how: str) -> None:
    """Inside ``mg.func.vmap`` the Function's ``vmap`` staticmethod was ignored (forward ran per example), so a
    rule that differs from forward gave another answer than torch's; torch's errors for a rule and
    ``generate_vmap_rule=True`` together, and for a ``forward(ctx, …)`` with a rule, were not raised."""
    def program(lib: Any) -> Any:
        x = lib.tensor(A)
        if how == "vmap":
            return _values(lib.func.vmap(_scale(lib, recursive=False).apply)(x))
        if how == "vmap_rule_recursive":
            return _values(lib.func.vmap(_scale(lib).apply, in_dims=1)(x))
        if how == "both_rules":
            return _values(lib.func.vmap(_scale(lib, generate=True).apply)(x))
        if how == "bad_rule":
            class Bad(_scale(lib)):
                @staticmethod
                def vmap(info: Any, in_dims: tuple, x: Any) -> Any:
                    return x * 2
            return _values(lib.func.vmap(Bad.apply)(x))

        class CtxStyle(lib.autograd.Function):
            @staticmethod
            def forward(ctx: Any, x: Any) -> Any:
                return x * 2

            @staticmethod
            def backward(ctx: Any, g: Any) -> Any:
                return g * 2

            @staticmethod
            def vmap(info: Any, in_dims: tuple, x: Any) -> tuple:
                return x * 3, in_dims[0]
        return _values(lib.func.vmap(CtxStyle.apply)(x))
    _same(program)


# torch.func.grad's first call costs ~3 s of start-up, so these are torch 2.13's answers (checked with it): the rule
# computes y = 3x, backward says dy/dx = 2
@pytest.mark.parametrize(("how", "factor"), [
    ("vmap_of_grad", 12.0),   # the grad inside the vmap: forward's values by the rule (3x), the gradient by backward
    ("grad_of_vmap", 18.0),   # the vmap innermost: the rule's own ops are differentiated
])
def test_a_vmap_rule_under_grad_transforms_as_torch(how: str, factor: float) -> None:
    """The vmap staticmethod was ignored: both gave 8x (forward 2x, backward 2)."""
    x, op = mg.tensor(A), _scale(mg, recursive=False)
    if how == "vmap_of_grad":
        got = mg.func.vmap(mg.func.grad(lambda r: (op.apply(r) ** 2).sum()))(x)
    else:
        got = mg.func.grad(lambda v: (mg.func.vmap(op.apply)(v) ** 2).sum())(x)
    np.testing.assert_allclose(got.numpy(), factor * A, rtol=1e-12)


# --- saved inputs returned as outputs ------------------------------------------------------------------------------

def test_a_saved_input_returned_as_is_is_saved_as_an_input_under_create_graph() -> None:
    """A saved input that forward also returned as it is was read back in backward (create_graph=True) as this
    node's output, so the gradient required grad through the node (and a second backward called ``backward``
    again); torch saves it as the input: here a constant, so the gradient does not require grad."""
    def program(lib: Any) -> list:
        calls: list = []

        class MulKeep(lib.autograd.Function):
            @staticmethod
            def forward(ctx: Any, x: Any, w: Any) -> Any:
                ctx.save_for_backward(x, w)
                return x * w, w

            @staticmethod
            def backward(ctx: Any, g: Any, gw: Any) -> Any:
                calls.append(1)
                x, w = ctx.saved_tensors
                return g * w, g * x + gw

        x = lib.tensor(A, requires_grad=True)
        y, same = MulKeep.apply(x, lib.tensor(A * 2))
        (gx,) = lib.autograd.grad((y + same * 3).sum(), x, create_graph=True)
        return [_values(gx), gx.requires_grad, len(calls)]
    _same(program)


@pytest.mark.parametrize(("grad_mode", "requires_grad", "non_differentiable"), [
    (True, True, False), (False, False, False), (False, True, False), (True, True, True), (True, False, True),
])
def test_setup_context_saving_an_input_returned_as_is_raises_as_torch(grad_mode: bool, requires_grad: bool,
                                                                      non_differentiable: bool) -> None:
    """torch refuses a ``setup_context`` that saves an input ``forward`` returned as it is (except where that output
    is a detached alias: not differentiable, of an input that requires grad); minigrad took it."""
    def program(lib: Any) -> list:
        class Keep(lib.autograd.Function):
            @staticmethod
            def forward(x: Any) -> Any:
                return x, x * 2

            @staticmethod
            def setup_context(ctx: Any, inputs: tuple, output: Any) -> None:
                ctx.save_for_backward(inputs[0])
                if non_differentiable:
                    ctx.mark_non_differentiable(output[0])

            @staticmethod
            def backward(ctx: Any, g: Any, g2: Any) -> Any:
                return g + 2 * g2

        with lib.set_grad_enabled(grad_mode):
            same, double = Keep.apply(lib.tensor(A, requires_grad=requires_grad))
        return [_values(same), same.requires_grad, double.requires_grad]
    _same(program)


# --- in-place changes to views forward returned --------------------------------------------------------------------

@pytest.mark.parametrize("how", ["saved_input", "non_differentiable", "under_no_grad"])
def test_an_in_place_change_to_a_view_of_an_input_raises_where_torch_does(how: str) -> None:
    """An output viewing an input that forward also saved could be changed in place (refused only by the version
    check of a later backward); a non-differentiable view, or one made under no_grad, could be changed in place
    with grad mode on (minigrad returned a copy of forward's view that was no longer marked as made under
    no_grad). torch refuses the in-place op itself."""
    def program(lib: Any) -> list:
        class Row(lib.autograd.Function):
            @staticmethod
            def forward(ctx: Any, x: Any) -> Any:
                ctx.save_for_backward(x)
                row = x[0]
                if how == "non_differentiable":
                    ctx.mark_non_differentiable(row)
                return row, x * 2

            @staticmethod
            def backward(ctx: Any, g: Any, g2: Any) -> Any:
                return g2 * 2

        x = lib.tensor(A, requires_grad=True) * 1
        with lib.set_grad_enabled(how != "under_no_grad"):
            row, _ = Row.apply(x)
        try:
            row.mul_(2)
        except RuntimeError:
            return ["refused"]
        return [_values(row), _values(x)]
    _same(program)


# --- one Tensor returned twice -------------------------------------------------------------------------------------

@pytest.mark.parametrize("materialize", [True, False])
def test_a_tensor_returned_twice_is_one_tensor_as_torch(materialize: bool) -> None:
    """forward returning the same (non-input) Tensor twice gave two Tensors, one per output; torch returns that one
    Tensor, attached to the last of its outputs, so every gradient reaching it goes there."""
    def program(lib: Any) -> list:
        seen: list = []

        class Twice(lib.autograd.Function):
            @staticmethod
            def forward(ctx: Any, x: Any) -> Any:
                ctx.save_for_backward(x)
                ctx.set_materialize_grads(materialize)
                y = x * x
                return y, y

            @staticmethod
            def backward(ctx: Any, g1: Any, g2: Any) -> Any:
                seen.append((g1 is None, g2 is None))
                (x,) = ctx.saved_tensors
                return 2 * x * ((0 if g1 is None else g1) + 2 * (0 if g2 is None else g2))

        x = lib.tensor(A, requires_grad=True)
        y, z = Twice.apply(x)
        (y.sum() + 5 * z.sum()).backward()
        return [y is z, _values(x.grad), seen]
    _same(program)


# --- ctx calls PyTorch checks --------------------------------------------------------------------------------------

@pytest.mark.parametrize("call", ["mark_non_differentiable_int", "mark_non_differentiable_none",
                                  "set_materialize_grads_int", "set_materialize_grads_none"])
def test_ctx_methods_check_their_arguments_as_torch(call: str) -> None:
    """``ctx.mark_non_differentiable(3)`` was ignored (torch: RuntimeError) and ``ctx.set_materialize_grads(0)``
    taken as False (torch: TypeError, a bool only)."""
    def program(lib: Any) -> list:
        class Checked(lib.autograd.Function):
            @staticmethod
            def forward(ctx: Any, x: Any) -> Any:
                if call.startswith("mark"):
                    ctx.mark_non_differentiable(3 if call.endswith("int") else None)
                else:
                    ctx.set_materialize_grads(0 if call.endswith("int") else None)
                return x * 2

            @staticmethod
            def backward(ctx: Any, g: Any) -> Any:
                return g * 2
        return _values(Checked.apply(lib.tensor(A, requires_grad=True)))
    _same(program)


@pytest.mark.parametrize("where", ["forward", "setup_context"])
def test_saved_tensors_read_in_forward_are_empty_as_torch(where: str) -> None:
    """``ctx.saved_tensors`` read in forward (or setup_context) gave the tensors just saved; torch's reads ``()``
    until the call is recorded (a forward that uses it computes another value)."""
    def program(lib: Any) -> list:
        class Early(lib.autograd.Function):
            @staticmethod
            def forward(*args: Any) -> Any:
                if where == "forward":
                    ctx, x = args
                    ctx.save_for_backward(x)
                    return x * len(ctx.saved_tensors)
                return args[0] * 2

            @staticmethod
            def backward(ctx: Any, g: Any) -> Any:
                return g * len(ctx.saved_tensors)

        if where == "setup_context":
            def setup_context(ctx: Any, inputs: tuple, output: Any) -> None:
                ctx.save_for_backward(*inputs)
                seen.append(len(ctx.saved_tensors))
            Early.setup_context = staticmethod(setup_context)
        seen: list = []
        x = lib.tensor(A, requires_grad=True)
        y = Early.apply(x)
        y.sum().backward()
        return [_values(y), _values(x.grad), seen]
    _same(program)


def test_mark_dirty_on_a_tensor_forward_made_is_an_ordinary_output_as_torch() -> None:
    """``ctx.mark_dirty`` on a tensor that is not an input raised RuntimeError (with a message about outputs);
    torch warns and takes it as an output (one more version)."""
    def program(lib: Any) -> list:
        class Made(lib.autograd.Function):
            @staticmethod
            def forward(ctx: Any, x: Any) -> Any:
                y = x * 2
                ctx.mark_dirty(y)
                return y

            @staticmethod
            def backward(ctx: Any, g: Any) -> Any:
                return g * 5

        x = lib.tensor(A, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y = Made.apply(x)
        y.sum().backward()
        return [_values(y), y._version, y.grad_fn.name(), _values(x.grad)]
    _same(program)
