"""Round 19: ``mg.compile`` against eager mode on random programs (differential fuzzing, /tmp/fuzz19_compile.py).

The fuzzer built thousands of programs with tests/support/device_sweep.program_case, wrapped each in ``mg.compile``
and called it several times (capture, replay, new values, another signature, back; under ``no_grad``; with dropout
and random draws, in-place ops, views, changing Python numbers and closure tensors), comparing every call's outputs
and gradients with eager's bit for bit. Each test here is one root cause it found.
"""
import warnings
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg


def _calls(fn: Callable, inputs: list, seed: int = 0) -> list:
    """``fn``'s result on each input in turn (the engine's generator seeded once, first), with its strides."""
    mg.manual_seed(seed)
    results = []
    for x in inputs:
        y = fn(x)
        results.append((y.numpy().copy(), y.stride()))
    return results


@pytest.mark.parametrize("draw", [
    lambda lib, x: x * lib.rand_like(x),
    lambda lib, x: lib.randn_like(x) + x,
    lambda lib, x: lib.randint_like(x, 0, 9) * x,
])
def test_a_replayed_like_draw_keeps_its_inputs_layout(draw: Callable, torch: Any) -> None:
    """``rand_like`` of a transposed tensor is transposed (PyTorch's preserve_format, and eager mode's); a replay
    drew it C-ordered, so ``x * mg.rand_like(x)`` had strides (3, 1) where eager and PyTorch give (1, 4)."""
    rng = np.random.default_rng(0)
    inputs = [mg.tensor(rng.standard_normal((4, 3))).t() for _ in range(5)]
    want = _calls(lambda x: draw(mg, x), inputs)
    got = _calls(mg.compile(lambda x: draw(mg, x)), inputs)
    torch_strides = draw(torch, torch.tensor(rng.standard_normal((4, 3))).t()).stride()
    for call, ((values, strides), (values_c, strides_c)) in enumerate(zip(want, got)):
        np.testing.assert_array_equal(values_c, values, err_msg=f"call {call}")
        assert strides_c == strides == torch_strides, call


@pytest.mark.parametrize("spread", [
    lambda lib, x: x.std(0),
    lambda lib, x: lib.std(x, dim=1, keepdim=True, correction=0),
    lambda lib, x: lib.std_mean(x, dim=0)[0],
    lambda lib, x: (lambda s: s * s.detach())(lib.std(x, dim=(0,), correction=1)),   # its array read again
])
def test_std_over_a_dim_replays(spread: Callable, torch: Any) -> None:
    """``x.std(0)`` keeps its own output for its backward; the capture took that array for a value frozen from the
    arguments, so every compiled function with a std over a dim ran eagerly (a CompileWarning on its first call
    with new values). It replays now, bit-identical to eager (and to PyTorch's values)."""
    compiled = mg.compile(lambda x: spread(mg, x) * 2)
    rng = np.random.default_rng(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", mg.CompileWarning)
        for call in range(5):
            values = rng.standard_normal((3, 4))
            x, x_eager = (mg.tensor(values, requires_grad=True) for _ in range(2))
            y, y_eager = compiled(x), spread(mg, x_eager) * 2
            y.sum().backward()
            y_eager.sum().backward()
            assert y.numpy().tobytes() == y_eager.numpy().tobytes(), call
            assert x.grad.numpy().tobytes() == x_eager.grad.numpy().tobytes(), call
            t = torch.tensor(values, requires_grad=True)
            spread(torch, t).mul(2).sum().backward()
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert compiled.programs and not compiled.eager   # replayed, not run eagerly


CONFIG = {"scale": np.float64(2.0)}   # NumPy scalars the functions below read: changing one must capture again


class _Holder:
    def __init__(self) -> None:
        self.scale = np.float32(2.0)

    def apply(self, x: mg.Tensor) -> mg.Tensor:
        return x * self.scale


HOLDER = _Holder()


def _set_scale(value: float) -> None:
    CONFIG["scale"], HOLDER.scale = np.float64(value), np.float32(value)


@pytest.mark.parametrize("fn", [
    lambda x, holder: x * CONFIG["scale"],    # a dict item
    lambda x, holder: x * HOLDER.scale,       # an object's attribute
    lambda x, holder: HOLDER.apply(x),        # read by a method it calls
    lambda x, holder: x * holder.scale,       # an attribute of an object argument (its part of the signature)
], ids=["dict", "attribute", "method", "argument"])
def test_a_numpy_scalar_it_reads_is_guarded(fn: Callable) -> None:
    """``hp["lr"] = numpy.float64(...)``, ``self.scale = numpy.sqrt(d)``: a NumPy scalar read through a dict or an
    object was not guarded as Python numbers are, so after it changed a replay multiplied by the old value
    ([2, 4] where eager gives [3, 6])."""
    compiled = mg.compile(fn)
    x = mg.tensor([1.0, 2.0])
    try:
        _set_scale(2.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mg.CompileWarning)
            for _ in range(3):   # capture, check, replay
                compiled(x, HOLDER)
            for value in (3.0, -0.0, 3.0):
                _set_scale(value)
                got, want = compiled(x, HOLDER), fn(x, HOLDER)
                assert got.numpy().tobytes() == want.numpy().tobytes(), value
    finally:
        _set_scale(2.0)


@pytest.mark.parametrize("first, then", [
    (np.float64(0.0), np.float64(-0.0)),
    (np.float32(0.0), np.float32(-0.0)),
    (complex(0.0, 1.0), complex(-0.0, 1.0)),
    (complex(1.0, 0.0), complex(1.0, -0.0)),
], ids=["float64", "float32", "complex-real", "complex-imag"])
def test_a_negative_zero_in_a_numpy_or_complex_argument_is_another_signature(first: Any, then: Any,
                                                                              torch: Any) -> None:
    """``-0.0`` and ``0.0`` are equal in Python: a Python float argument's signature told them apart, a NumPy
    scalar's or a complex number's did not, so ``f(x, numpy.float64(-0.0))`` replayed the capture of ``0.0``
    (``x * -0.0`` gave [0.0] where eager and PyTorch give [-0.0])."""
    def fn(x: Any, k: Any) -> Any:
        return x * k

    compiled = mg.compile(fn)
    x = mg.tensor([1.0])
    for _ in range(3):
        compiled(x, first)
    got, want = compiled(x, then), fn(x, then)
    assert got.numpy().tobytes() == want.numpy().tobytes()
    def signs(a: np.ndarray) -> np.ndarray:
        return np.signbit(np.stack([a.real, a.imag]))

    np.testing.assert_array_equal(signs(got.numpy()), signs(fn(torch.tensor([1.0]), then).numpy()))


@pytest.mark.parametrize("returns", [
    lambda y: (y, y[0]),
    lambda y: (y[0], y),
    lambda y: (y, y.t()),
    lambda y: (y, y.reshape(-1)),
    lambda y: (y, y.diagonal()),
    lambda y: (y, y.t()[0]),   # a view of a view it does not return: runs eagerly
], ids=["index", "index-first", "t", "reshape", "diagonal", "view-of-a-view"])
@pytest.mark.parametrize("write", ["base", "view"])
def test_an_output_that_views_another_output_follows_an_in_place_change_of_it(returns: Callable, write: str,
                                                                               torch: Any) -> None:
    """``return y, y[0]``: eager tracks ``y[0]`` as a view of ``y``, so ``y.mul_(3)`` after the call re-points its
    graph through the write. A replay's outputs were not tracked: the view's gradient missed the write
    (x.grad [[10, 10], [6, 6]] where eager and PyTorch give [[18, 18], [6, 6]]), and writing into the view raised."""
    def fn(lib: Any, x: Any) -> tuple:
        return returns(x * 2)

    def run(lib: Any, call: Callable, x: Any) -> tuple:
        base, view = call(x) if returns(x)[0].shape == x.shape else call(x)[::-1]
        (base if write == "base" else view).mul_(3)
        (base.sum() + 2 * view.sum()).backward()
        return base.detach().numpy().copy(), view.detach().numpy().copy(), x.grad.numpy().copy()

    compiled = mg.compile(lambda x: fn(mg, x))
    values = np.arange(4.0).reshape(2, 2)
    want = run(torch, lambda t: fn(torch, t), torch.tensor(values, requires_grad=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mg.CompileWarning)
        for call in range(4):   # capture, check, replays
            eager = run(mg, lambda t: fn(mg, t), mg.tensor(values + call, requires_grad=True))
            got = run(mg, compiled, mg.tensor(values + call, requires_grad=True))
            for a, b in zip(got, eager):
                assert a.tobytes() == b.tobytes(), call
    np.testing.assert_array_equal(got[2], want[2])


@pytest.mark.parametrize("backward_from", ["other", "written"])
def test_a_write_into_an_output_refuses_only_a_backward_through_the_op_that_saved_it(backward_from: str,
                                                                                    torch: Any) -> None:
    """``a, b = f(x)`` with ``a = x.exp()`` (exp saves its output), then ``a.add_(1)``: a backward from ``b`` runs
    no op that saved ``a``, so eager and PyTorch allow it; a replay's node checked every op's saved arrays and
    raised. A backward through ``exp`` still raises, naming the op."""
    def fn(lib: Any, x: Any) -> tuple:
        return x.exp(), x.sin() * 2

    def run(lib: Any, call: Callable, x: Any) -> Any:
        a, b = call(x)
        a.add_(1)
        try:
            (b if backward_from == "other" else a).sum().backward()
        except RuntimeError as error:
            return "raised: " + str(error)
        return x.grad.numpy().copy()

    want = run(torch, lambda t: fn(torch, t), torch.tensor([0.5, -1.0], requires_grad=True))
    compiled = mg.compile(lambda x: fn(mg, x))
    for call in range(4):   # capture, check, replays
        got = run(mg, compiled, mg.tensor([0.5, -1.0 + call], requires_grad=True))
        eager = run(mg, lambda t: fn(mg, t), mg.tensor([0.5, -1.0 + call], requires_grad=True))
        if backward_from == "other":
            assert got.tobytes() == eager.tobytes(), call
        else:
            assert isinstance(got, str) and isinstance(eager, str) and "inplace" in got and "'exp'" in got, got
    assert isinstance(want, str) == (backward_from == "written")


@pytest.mark.parametrize("fn", [
    lambda lib, x, y: (lib.tensordot(x, y, dims=([], [])),),   # a reshape of a tensor it does not return
    lambda lib, x, y: ((x * y).amax(), x * 1),                 # a view of the array its op saved
    lambda lib, x, y: (lib.kthvalue(x * y, 1, dim=-1)[0],),
    lambda lib, x, y: ((x * y).t().reshape(-1),),
], ids=["tensordot", "amax", "kthvalue", "reshape"])
def test_an_in_place_op_on_an_output_that_is_a_view_of_memory_only_it_reads(fn: Callable, torch: Any) -> None:
    """Eager mode records ``y.mul_(3)`` on an output that views memory no other tensor the caller sees reads
    (tensordot's reshaped product, ``x.amax()``'s saved result); a replay's output was an untracked view, so the
    same write raised RuntimeError ("a view minigrad does not track") on every replayed call."""
    def run(lib: Any, call: Callable, offset: float) -> tuple:
        x = lib.tensor(np.arange(6.0).reshape(2, 3) + offset, requires_grad=True)
        y = lib.tensor(np.array([2.0]), requires_grad=True)
        outs = call(x, y)
        outs[0].mul_(3)
        try:   # (amax's backward reads the array written: refused, in PyTorch too)
            sum(o.sum() for o in outs).backward()
        except RuntimeError as error:
            assert "inplace" in str(error)
            return outs[0].detach().numpy().copy(), np.array([np.nan]), np.array([np.nan])
        return outs[0].detach().numpy().copy(), x.grad.numpy().copy(), y.grad.numpy().copy()

    compiled = mg.compile(lambda x, y: fn(mg, x, y))
    want = run(torch, lambda x, y: fn(torch, x, y), 3.0)
    for call in range(4):   # capture, check, replays
        got, eager = run(mg, compiled, call), run(mg, lambda x, y: fn(mg, x, y), call)
        for a, b in zip(got, eager):
            assert a.tobytes() == b.tobytes(), call
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("fn", [
    lambda x: x * float(x.data.max()),
    lambda x: x * mg.tensor(np.sort(x.data)[::-1].copy()),
], ids=["number", "array"])
def test_a_value_frozen_from_the_arguments_is_checked_after_a_warm_up_with_one_input(fn: Callable) -> None:
    """A value ``fn`` computes from ``x.data`` is frozen by a capture and checked on the next calls; but the
    checks stopped after two calls with the capture's own values, so a warm-up with one input (four calls) left
    the signature replaying the frozen value: ``x * float(x.data.max())`` gave [2, 10] for [1, 5] (eager [5, 25])."""
    compiled = mg.compile(fn)
    warm = mg.tensor([1.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mg.CompileWarning)
        for _ in range(5):
            assert compiled(warm).numpy().tobytes() == fn(warm).numpy().tobytes()
        for values in ([1.0, 5.0], [3.0, -1.0], [1.0, 2.0]):
            x = mg.tensor(values)
            assert compiled(x).numpy().tobytes() == fn(x).numpy().tobytes(), values


def test_a_warm_up_with_one_input_still_replays() -> None:
    """The calls with the capture's values replay once the checks are used up (not an eager run each)."""
    compiled = mg.compile(lambda x: x * 2 + 1)
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    for _ in range(5):
        y = compiled(x)
    assert type(y.grad_fn).__name__ == "Replay" and compiled.programs and not compiled.eager
    assert compiled(mg.tensor([3.0], requires_grad=True)).tolist() == [7.0]


def test_an_output_that_views_a_tensor_it_does_not_return_and_its_own_view_follow_an_in_place_change(
        torch: Any) -> None:
    """``r = (x * 2).reshape(-1); return r, r[:1]``: ``r`` views a tensor the call does not return and ``r[:1]``
    views ``r``; eager writes ``r.mul_(3)`` through to that tensor and re-points both, a replay raised."""
    def fn(x: Any) -> tuple:
        r = (x * 2).reshape(-1)
        return r, r[:1]

    def run(call: Callable, x: Any) -> tuple:
        r, head = call(x)
        r.mul_(3)
        (r.sum() + 5 * head.sum()).backward()
        return r.detach().numpy().copy(), head.detach().numpy().copy(), x.grad.numpy().copy()

    compiled = mg.compile(fn)
    values = np.arange(4.0).reshape(2, 2)
    want = run(fn, torch.tensor(values, requires_grad=True))
    for call in range(4):   # capture, check, replays
        got = run(compiled, mg.tensor(values, requires_grad=True))
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b, err_msg=f"call {call}")
