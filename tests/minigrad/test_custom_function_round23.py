"""Round 23: custom ``autograd.Function``s under forward AD and the ``mg.func`` transforms, against PyTorch 2.13
(/tmp/fuzz23_custom_fn.py): a Function without ``jvp`` refuses dual inputs, a ``vmap`` rule runs only where an
input is batched, ``set_materialize_grads(False)`` gives ``jvp`` None for inputs without a tangent, and the
Functions PyTorch refuses inside transforms (``forward(ctx, ...)`` without ``setup_context``; no vmap support
inside vmap/jacfwd/hessian) are refused."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")

A = np.array([[0.5, -1.25, 2.0], [1.5, 0.25, -0.75]])
B = np.array([0.75, -0.5, 1.25])


def _outcome(fn: Callable[[Any], Any], lib: Any) -> Any:
    """``fn(lib)``'s result as nested lists, or the class of what it raised."""
    try:
        out = fn(lib)
    except Exception as error:   # noqa: BLE001 - compared with torch's
        return type(error).__name__
    return _plain(out)


def _plain(out: Any) -> Any:
    if isinstance(out, (tuple, list)):
        return [_plain(o) for o in out]
    if out is None or isinstance(out, (str, int, float)):
        return out
    return np.round(out.detach().numpy(), 10).tolist()


def _same(fn: Callable[[Any], Any], expect_error: str | None = None) -> None:
    theirs, ours = _outcome(fn, torch), _outcome(fn, mg)
    if expect_error is not None:
        assert theirs == expect_error, theirs   # the case pins what PyTorch does
    if isinstance(theirs, str):
        assert ours == theirs, (ours, theirs)
    else:
        np.testing.assert_equal(ours, theirs)   # (rounded to 10 digits)


def _fwad(lib: Any) -> Any:
    return mg.autograd.forward_ad if lib is mg else torch.autograd.forward_ad


def _func(lib: Any) -> Any:
    return mg.func if lib is mg else torch.func


def _double(lib: Any, form: str, jvp: bool = False, vmap: str = "none", seen: list | None = None) -> type:
    """x ↦ 2x as a custom Function: ``form`` "ctx" (forward(ctx, x)) or "setup" (setup_context); ``vmap``: "none",
    "generate" (generate_vmap_rule) or "rule" (a vmap staticmethod that gives 3x, so its use shows)."""
    body: dict = {"backward": staticmethod(lambda ctx, g: g * 2)}
    if form == "ctx":
        body["forward"] = staticmethod(lambda ctx, x: x * 2)
    else:
        body["forward"] = staticmethod(lambda x: x * 2)
        body["setup_context"] = staticmethod(lambda ctx, inputs, output: None)
    if jvp:
        body["jvp"] = staticmethod(lambda ctx, t: t * 2)
    if vmap == "generate":
        body["generate_vmap_rule"] = True
    elif vmap == "rule":
        def rule(info: Any, in_dims: tuple, x: Any) -> tuple:
            if seen is not None:
                seen.append(in_dims)
            return x * 3, in_dims[0]
        body["vmap"] = staticmethod(rule)
    return type(f"Double_{form}_{jvp}_{vmap}", (lib.autograd.Function,), body)


# --- 1. forward AD through a Function without jvp ---------------------------------------------------------------


@pytest.mark.parametrize("form", ["ctx", "setup"])
@pytest.mark.parametrize("where", ["dual", "derived", "no_grad", "plain", "requires_grad"])
def test_forward_ad_without_jvp_raises_not_implemented_on_a_dual_input(form: str, where: str) -> None:
    """It took the tangent from backward (2·t); PyTorch raises NotImplementedError wherever an input carries a
    tangent (a dual, a tensor computed from one, also under no_grad) and runs it otherwise."""
    def program(lib: Any) -> Any:
        fwad, op = _fwad(lib), _double(lib, form)
        x = lib.tensor(B)
        with fwad.dual_level():
            dual = fwad.make_dual(x, lib.ones(3, dtype=lib.float64))
            if where == "dual":
                arg = dual
            elif where == "derived":
                arg = dual * 3
            elif where == "no_grad":
                with lib.no_grad():
                    arg = dual * 3
            elif where == "plain":
                arg = x * 3
            else:
                arg = lib.tensor(B, requires_grad=True) * 3
            y = op.apply(arg)
            return fwad.unpack_dual(y).primal
    _same(program, "NotImplementedError" if where in ("dual", "derived", "no_grad") else None)


@pytest.mark.parametrize("api", ["jvp", "jacfwd", "hessian", "linearize"])
def test_forward_transforms_without_jvp_raise_not_implemented(api: str) -> None:
    def program(lib: Any) -> Any:
        F, op = _func(lib), _double(lib, "setup", vmap="generate")
        x = lib.tensor(B)
        if api == "jvp":
            return F.jvp(op.apply, (x,), (lib.ones(3, dtype=lib.float64),))[1]
        if api == "linearize":
            return F.linearize(op.apply, x)[1](lib.ones(3, dtype=lib.float64))
        if api == "hessian":
            return F.hessian(lambda a: op.apply(a).sum())(x)
        return F.jacfwd(op.apply)(x)
    _same(program, "NotImplementedError")


def test_forward_transforms_with_jvp_still_work() -> None:
    def program(lib: Any) -> Any:
        F, op = _func(lib), _double(lib, "setup", jvp=True, vmap="generate")
        x = lib.tensor(B)
        return F.jvp(op.apply, (x,), (lib.tensor(B),))[1], F.jacfwd(op.apply)(x)
    _same(program)


# --- 2. a vmap rule only where an input is batched ----------------------------------------------------------------


VMAP_PROGRAMS = {
    "unbatched only": lambda F, op, x, c: F.vmap(lambda a, b: op.apply(b) + a, in_dims=(0, None))(x, c),
    "batched": lambda F, op, x, c: F.vmap(lambda a, b: op.apply(a) + b, in_dims=(0, None))(x, c),
    "grad over vmap, unbatched": lambda F, op, x, c: F.grad(lambda b: F.vmap(lambda a: op.apply(b) + a)(x).sum())(c),
    "vmap over grad, unbatched": lambda F, op, x, c: F.vmap(grad_of_product(F, op), in_dims=(0, None))(x, c),
    "vmap over grad, batched": lambda F, op, x, c: F.vmap(F.grad(lambda a: op.apply(a).sum()))(x),
    "made before": lambda F, op, x, c: (lambda w: F.vmap(lambda a: op.apply(w) * a)(x))(c * 1.5),
}


def grad_of_product(F: Any, op: type) -> Callable:
    return F.grad(lambda a, b: (op.apply(b) * a).sum())


@pytest.mark.parametrize("name", list(VMAP_PROGRAMS))
def test_a_vmap_rule_runs_only_where_an_input_is_batched(name: str) -> None:
    """``vmap(lambda a, b: F.apply(b) + a, in_dims=(0, None))`` ran the rule (3b + a), PyTorch runs forward (2b + a);
    ``vmap(grad(...))`` with the Function on an unmapped input gave the rule's values as the gradient."""
    def program(lib: Any) -> Any:
        c = lib.tensor(B, requires_grad=name == "made before")
        return VMAP_PROGRAMS[name](_func(lib), _double(lib, "setup", vmap="rule"), lib.tensor(A), c)
    _same(program)


@pytest.mark.parametrize("lib", [torch, mg], ids=["torch", "minigrad"])
def test_a_vmap_rule_is_called_with_batched_inputs_only(lib: Any) -> None:
    seen: list = []
    op = _double(lib, "setup", vmap="rule", seen=seen)
    _func(lib).vmap(lambda a, b: op.apply(b) + a, in_dims=(0, None))(lib.tensor(A), lib.tensor(B))
    assert seen == [], seen
    _func(lib).vmap(lambda a, b: op.apply(a) + b, in_dims=(0, None))(lib.tensor(A), lib.tensor(B))
    assert seen and all(d == (0,) for d in seen), seen


# --- 3. set_materialize_grads(False): None tangents in jvp ----------------------------------------------------------


@pytest.mark.parametrize("lib", [torch, mg], ids=["torch", "minigrad"])
@pytest.mark.parametrize("materialize", [True, False])
def test_jvp_gets_none_for_a_tangentless_input_without_materialized_grads(materialize: bool, lib: Any) -> None:
    """minigrad's jvp got zeros for the input that is not dual; PyTorch passes None (zeros with materialize on)."""
    got: list = []

    class Pair(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any, y: Any) -> Any:
            ctx.set_materialize_grads(materialize)
            return x * 2 + y

        @staticmethod
        def backward(ctx: Any, g: Any) -> tuple:
            return g * 2, g

        @staticmethod
        def jvp(ctx: Any, tx: Any, ty: Any) -> Any:
            got.append((tx is None, ty is None))
            return tx * 2 if ty is None else tx * 2 + ty

    fwad = _fwad(lib)
    with fwad.dual_level():
        out = Pair.apply(fwad.make_dual(lib.tensor(B), lib.ones(3, dtype=lib.float64)), lib.tensor(B))
        tangent = fwad.unpack_dual(out).tangent
    np.testing.assert_allclose(tangent.detach().numpy(), 2.0)
    assert got and all(g == (False, not materialize) for g in got), got


# --- 4. the Functions PyTorch refuses inside transforms -------------------------------------------------------------


TRANSFORMS = {
    "grad": lambda F, lib, op, x: F.grad(lambda a: op.apply(a).sum())(x),
    "vjp": lambda F, lib, op, x: F.vjp(op.apply, x)[1](lib.ones(3, dtype=lib.float64)),
    "jacrev": lambda F, lib, op, x: F.jacrev(op.apply)(x),
    "jvp": lambda F, lib, op, x: F.jvp(op.apply, (x,), (x,))[1],
    "jacfwd": lambda F, lib, op, x: F.jacfwd(op.apply)(x),
    "hessian": lambda F, lib, op, x: F.hessian(lambda a: op.apply(a).sum())(x),
    "vmap": lambda F, lib, op, x: F.vmap(op.apply)(x.expand(2, 3)),
    "vmap, unmapped": lambda F, lib, op, x: F.vmap(lambda a, b: op.apply(b) + a, in_dims=(0, None))(x.expand(2, 3), x),
    "grad, closed over": lambda F, lib, op, x: F.grad(lambda a: a.sum() + op.apply(x).sum())(x),
    "vmap of grad": lambda F, lib, op, x: F.vmap(F.grad(lambda a: op.apply(a).sum()))(x.expand(2, 3)),
    "grad of vmap": lambda F, lib, op, x: F.grad(lambda a: F.vmap(op.apply)(a.expand(2, 3)).sum())(x),
}


@pytest.mark.parametrize("kind", ["ctx", "setup without vmap", "setup with generate_vmap_rule"])
@pytest.mark.parametrize("api", list(TRANSFORMS))
def test_functions_torch_refuses_inside_transforms_are_refused(api: str, kind: str) -> None:
    """A ``forward(ctx, ...)`` Function ran under every transform (PyTorch: RuntimeError, it must override
    setup_context), and one without vmap support under vmap, jacfwd and hessian (PyTorch: RuntimeError)."""
    def program(lib: Any) -> Any:
        form = "ctx" if kind == "ctx" else "setup"
        op = _double(lib, form, jvp=True, vmap="generate" if kind.endswith("rule") else "none")
        return TRANSFORMS[api](_func(lib), lib, op, lib.tensor(B))
    refused = kind == "ctx" or (kind == "setup without vmap" and ("vmap" in api or api in ("jacfwd", "hessian")))
    _same(program, "RuntimeError" if refused else None)


def _doubling_with_rule(lib: Any, rule: Any) -> type:
    """A setup_context Function computing 2x whose vmap staticmethod returns ``rule(in_dims, x)``."""
    class Outer(lib.autograd.Function):
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
            return rule(in_dims, x)

    return Outer


def test_a_vmap_rule_may_call_a_function_without_vmap_support() -> None:
    """The rule runs below the vmap, as PyTorch's: a Function without a rule applied in it is not refused."""
    def program(lib: Any) -> Any:
        inner = _double(lib, "setup")
        Outer = _doubling_with_rule(lib, lambda in_dims, x: (inner.apply(x) + 1, in_dims[0]))
        return _func(lib).vmap(Outer.apply)(lib.tensor(A))
    _same(program)


def test_forward_ctx_function_still_works_outside_transforms_and_in_linearize() -> None:
    def program(lib: Any) -> Any:
        op = _double(lib, "ctx", jvp=True)
        x = lib.tensor(B, requires_grad=True)
        op.apply(x).sum().backward()
        return x.grad, _func(lib).linearize(op.apply, lib.tensor(B))[1](lib.tensor(B))
    _same(program)


# --- found by the fuzzer ---------------------------------------------------------------------------------------------


def _viewing(lib: Any, kind: str, tangent: str) -> type:
    """(x, y) ↦ (x as it is / x.view_as(x) / x[1:], 2y), with a jvp returning x's tangent as ``tangent`` says."""
    class Viewing(lib.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any, y: Any) -> tuple:
            return (x if kind == "as_is" else x.view_as(x) if kind == "view" else x[1:]), y * 2

        @staticmethod
        def backward(ctx: Any, g: Any, h: Any) -> tuple:
            return g, h * 2

        @staticmethod
        def jvp(ctx: Any, tx: Any, ty: Any) -> tuple:
            t = {"same": tx, "view": tx.view_as(tx), "product": tx * 1, "slice": tx[1:]}[tangent]
            if kind == "slice" and tangent != "slice":
                t = t[1:]
            return t, ty * 2
    return Viewing


@pytest.mark.parametrize("dual", [True, False])
@pytest.mark.parametrize("tangent", ["same", "view", "product"])
@pytest.mark.parametrize("kind", ["as_is", "view", "slice"])
def test_a_view_output_needs_a_view_tangent_from_jvp(kind: str, tangent: str, dual: bool) -> None:
    """forward returns (a view of) a dual input: PyTorch's forward AD refuses a jvp tangent that is not a view of the
    input's tangent (RuntimeError); minigrad took it."""
    def program(lib: Any) -> Any:
        fwad = _fwad(lib)
        with fwad.dual_level():
            x = lib.tensor(B)
            if dual:
                x = fwad.make_dual(x, lib.ones(3, dtype=lib.float64))
            a, _ = _viewing(lib, kind, tangent).apply(x, fwad.make_dual(lib.tensor(B), lib.tensor(B)))
            return fwad.unpack_dual(a).tangent
    refused = dual and (tangent == "product" or (tangent == "same" and kind != "slice"))
    _same(program, "RuntimeError" if refused else None)


def test_func_jvp_takes_any_tangent_for_a_view_output() -> None:
    """... but torch.func.jvp does not check it."""
    def program(lib: Any) -> Any:
        op = _viewing(lib, "view", "product")
        return _func(lib).jvp(lambda x: op.apply(x, x)[0], (lib.tensor(B),), (lib.ones(3, dtype=lib.float64),))
    _same(program)


@pytest.mark.parametrize("form", ["ctx", "setup"])
def test_an_output_marked_non_differentiable_has_no_tangent(form: str) -> None:
    """forward's own ops gave a tensor marked non-differentiable the tangent of x * 3; PyTorch runs forward with forward
    grad off: no tangent (the differentiable outputs get jvp's)."""
    def program(lib: Any) -> Any:
        def forward_body(x: Any) -> tuple:
            return x.sin(), x * 3

        def setup(ctx: Any, inputs: tuple, output: tuple) -> None:
            ctx.mark_non_differentiable(output[1])
            ctx.save_for_forward(inputs[0])

        body: dict = {"backward": staticmethod(lambda ctx, g, h: g * ctx.saved_tensors[0].cos()),
                      "jvp": staticmethod(lambda ctx, t: (t * ctx.saved_tensors[0].cos(), None))}
        if form == "ctx":
            body["forward"] = staticmethod(lambda ctx, x: (setup(ctx, (x,), out := forward_body(x)), out)[1])
        else:
            body["forward"] = staticmethod(forward_body)
            body["setup_context"] = staticmethod(setup)
        op = type("SinAndTriple", (lib.autograd.Function,), body)
        fwad = _fwad(lib)
        with fwad.dual_level():
            y, z = op.apply(fwad.make_dual(lib.tensor(B), lib.ones(3, dtype=lib.float64)))
            return fwad.unpack_dual(y).tangent, fwad.unpack_dual(z).tangent
    _same(program)


@pytest.mark.parametrize("lib", [torch, mg], ids=["torch", "minigrad"])
def test_a_vmap_rule_gets_in_dim_none_for_an_unbatched_tensor(lib: Any) -> None:
    """The rule got in_dims (0, 0) for vmap(..., in_dims=(0, None)); PyTorch gives None for the unmapped tensor."""
    seen: list = []

    class Scaled(lib.autograd.Function):
        @staticmethod
        def forward(x: Any, w: Any) -> Any:
            return x * w

        @staticmethod
        def setup_context(ctx: Any, inputs: tuple, output: Any) -> None:
            pass

        @staticmethod
        def backward(ctx: Any, g: Any) -> tuple:
            return g, g

        @staticmethod
        def vmap(info: Any, in_dims: tuple, x: Any, w: Any) -> tuple:
            seen.append(tuple(in_dims))
            return x.movedim(in_dims[0], 0) * w, 0

    out = _func(lib).vmap(Scaled.apply, in_dims=(0, None))(lib.tensor(A), lib.tensor(B))
    np.testing.assert_allclose(out.numpy(), A * B)
    assert seen and all(d == (0, None) for d in seen), seen


@pytest.mark.parametrize("lib", [torch, mg], ids=["torch", "minigrad"])
def test_a_tensor_returned_twice_is_two_outputs_inside_a_transform(lib: Any) -> None:
    """Eagerly one output (backward gets None for the first, with set_materialize_grads(False)); inside torch.func
    transforms two: minigrad's backward got None there too."""
    got: list = []

    class Twice(lib.autograd.Function):
        @staticmethod
        def forward(x: Any) -> tuple:
            y = x.sin()
            return y, y

        @staticmethod
        def setup_context(ctx: Any, inputs: tuple, output: Any) -> None:
            ctx.set_materialize_grads(False)

        @staticmethod
        def backward(ctx: Any, g0: Any, g1: Any) -> Any:
            got.append((g0 is None, g1 is None))
            return (0 if g0 is None else g0) + (0 if g1 is None else g1)

    def loss(x: Any) -> Any:
        a, b = Twice.apply(x)
        return (a + b).sum()

    np.testing.assert_allclose(_func(lib).grad(loss)(lib.tensor(B)).numpy(), 2 * np.ones(3))
    assert got == [(False, False)], got
    got.clear()
    x = lib.tensor(B, requires_grad=True)
    loss(x).backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.ones(3))
    assert got == [(True, False)], got


@pytest.mark.parametrize("inner_form", ["ctx", "setup"])
def test_a_vmap_rule_under_grad_runs_at_the_grad_level(inner_form: str) -> None:
    """grad(vmap(f)): the rule runs below the vmap, at grad's level, where PyTorch refuses a forward(ctx, ...)
    Function (RuntimeError) and takes one with setup_context."""
    def program(lib: Any) -> Any:
        inner = _double(lib, inner_form)
        Outer = _doubling_with_rule(lib, lambda in_dims, x: (inner.apply(x.movedim(in_dims[0], 0)), 0))
        F = _func(lib)
        return F.grad(lambda x: F.vmap(Outer.apply)(lib.stack([x, x * 3])).sum())(lib.tensor(B))
    _same(program, "RuntimeError" if inner_form == "ctx" else None)


def _doubling_in_place(lib: Any) -> type:
    class DoubleInPlace(lib.autograd.Function):
        generate_vmap_rule = True

        @staticmethod
        def forward(x: Any) -> Any:
            return x.mul_(2)

        @staticmethod
        def setup_context(ctx: Any, inputs: tuple, output: Any) -> None:
            ctx.mark_dirty(inputs[0])

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            return g * 2

        @staticmethod
        def jvp(ctx: Any, t: Any) -> Any:
            return t.mul_(2)   # PyTorch's rule for an input marked dirty: its tangent changed in place
    return DoubleInPlace


@pytest.mark.parametrize("api", ["jvp", "fwad", "jacfwd"])
def test_a_function_marking_its_input_dirty_works_in_forward_ad(api: str) -> None:
    """Its forward's in-place op on a tensor carrying a tangent raised (minigrad's refusal of an unrecorded in-place
    op in forward AD), and jvp could not change its tangent in place; PyTorch runs forward with forward grad off."""
    def program(lib: Any) -> Any:
        op, F = _doubling_in_place(lib), _func(lib)
        if api == "jvp":
            return F.jvp(lambda a: op.apply(a * 1), (lib.tensor(B),), (lib.tensor(A[0]),))
        if api == "jacfwd":
            return F.jacfwd(lambda a: op.apply(a * 1))(lib.tensor(B))
        fwad = _fwad(lib)
        with fwad.dual_level():
            y = op.apply(fwad.make_dual(lib.tensor(B), lib.tensor(A[0])) * 1)
            return fwad.unpack_dual(y).tangent
    _same(program)


@pytest.mark.parametrize("mapped", ["input", "computed"])
def test_generate_vmap_rule_with_mark_dirty_raises_inside_vmap(mapped: str) -> None:
    """PyTorch's generated rule runs forward on copies: marking the input dirty raises RuntimeError (minigrad ran it,
    or raised NotImplementedError for the mapped input's slice)."""
    def program(lib: Any) -> Any:
        op = _doubling_in_place(lib)
        f = op.apply if mapped == "input" else (lambda a: op.apply(a * 1))
        return _func(lib).vmap(f)(lib.tensor(A))
    _same(program, "RuntimeError")
