"""Leftovers of the round-14 vmap fuzz, each checked against torch 2.13: ``backward()`` inside a ``func``
transform, ``generator=`` draws under vmap's ``randomness`` modes, and a few ops' errors and dtypes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg

X = np.arange(6.0).reshape(3, 2) * 0.5 - 1.0


@pytest.fixture(params=["minigrad", "torch"])
def lib(request: Any) -> Any:
    """Each test runs once with minigrad, once with torch: the same program, the same outcome."""
    return mg if request.param == "minigrad" else request.getfixturevalue("torch")


# --- 1. backward() inside a transform ----------------------------------------------------------------------------


@pytest.mark.parametrize("transform", ["vmap", "grad", "vjp", "jacrev", "jacfwd", "jvp", "hessian"])
@pytest.mark.parametrize("entry", ["method", "function"])
def test_backward_inside_a_transform_raises_as_torch(lib: Any, transform: str, entry: str) -> None:
    func, w, x = lib.func, lib.ones(2, requires_grad=True), lib.tensor(X)

    def f(v: Any) -> Any:
        loss = (w * 2).sum()
        loss.backward() if entry == "method" else lib.autograd.backward(loss)
        return (v * v).sum()

    call = {"vmap": lambda: func.vmap(f)(x), "grad": lambda: func.grad(f)(x[0]),
            "vjp": lambda: func.vjp(f, x[0]), "jacrev": lambda: func.jacrev(f)(x[0]),
            "jacfwd": lambda: func.jacfwd(f)(x[0]), "jvp": lambda: func.jvp(f, (x[0],), (x[0],)),
            "hessian": lambda: func.hessian(f)(x[0])}[transform]
    with pytest.raises(RuntimeError, match="backward\\(\\) called inside a functorch transform"):
        call()
    assert w.grad is None   # nothing accumulated (before: one example's gradient per call)


def _grads_around_a_transform(lib: Any) -> tuple:
    w = lib.tensor([1.0, -2.0], dtype=lib.float64, requires_grad=True)
    x = lib.tensor(X)
    with pytest.raises(RuntimeError, match="functorch"):
        lib.func.vmap(lambda v: v.sum().backward())(x)   # refused before anything else, as torch's
    inside = lib.func.vmap(lambda v: lib.autograd.grad((w * w).sum(), w)[0] * v)(x)   # allowed, as torch's
    lib.func.vmap(lambda v: (w * v).sum())(x).sum().backward()   # after the transform: a plain backward
    return inside.detach().numpy(), w.grad.numpy()


def test_backward_after_a_transform_and_autograd_grad_inside_still_work(torch: Any) -> None:
    for ours, theirs in zip(_grads_around_a_transform(mg), _grads_around_a_transform(torch)):
        np.testing.assert_allclose(ours, theirs)


def _grad_after_linearize(lib: Any) -> np.ndarray:
    w = lib.ones(2, requires_grad=True)

    def f(v: Any) -> Any:
        (w * 2).sum().backward()
        return (v * v).sum()

    lib.func.linearize(f, lib.tensor(X[0]))
    return w.grad.numpy()


def test_linearize_lets_backward_run_as_torch(torch: Any) -> None:
    np.testing.assert_allclose(_grad_after_linearize(mg), _grad_after_linearize(torch))


# --- 2. generator= inside vmap ---------------------------------------------------------------------------------


DRAWS = {
    "rand": lambda lib, v, g: v + lib.rand(2, generator=g, dtype=lib.float64),
    "normal": lambda lib, v, g: v + lib.normal(0.0, 1.0, (2,), generator=g, dtype=lib.float64),
    "randint": lambda lib, v, g: v + lib.randint(0, 5, (2,), generator=g),
    "randperm": lambda lib, v, g: v + lib.randperm(2, generator=g),
    "multinomial": lambda lib, v, g: v + lib.multinomial(lib.ones(2), 2, generator=g),
    "bernoulli": lambda lib, v, g: v + lib.bernoulli(lib.full((2,), 0.5, dtype=lib.float64), generator=g),
    "uniform_": lambda lib, v, g: v.clone().uniform_(generator=g),
    "normal_": lambda lib, v, g: v.clone().normal_(generator=g),
}


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_generator_draw_in_error_mode_raises_as_torch(lib: Any, name: str) -> None:
    g = lib.Generator().manual_seed(0)
    with pytest.raises(RuntimeError, match="randomness error mode"):
        lib.func.vmap(lambda v: DRAWS[name](lib, v, g))(lib.tensor(X))


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_generator_draw_in_same_mode_repeats_the_numbers(lib: Any, name: str) -> None:
    """Every example gets one call's numbers, and the generator ends where one call leaves it, as torch's."""
    g, twin = lib.Generator().manual_seed(3), lib.Generator().manual_seed(3)
    zeros = lib.zeros(3, 2, dtype=lib.float64)
    out = lib.func.vmap(lambda v: DRAWS[name](lib, v, g), randomness="same")(zeros)
    one = DRAWS[name](lib, zeros[0], twin)
    assert all(lib.equal(row, one) for row in out)
    assert lib.equal(g.get_state(), twin.get_state())


def test_same_mode_repeats_host_and_generator_draws_together() -> None:
    g = mg.Generator().manual_seed(1)
    out = mg.func.vmap(lambda v: v + mg.rand(2, dtype=mg.float64) + 10 * mg.rand(2, generator=g, dtype=mg.float64)
                       + 100 * mg.rand(2, dtype=mg.float64), randomness="same")(mg.zeros(4, 2, dtype=mg.float64))
    assert all(mg.equal(row, out[0]) for row in out)


def test_generator_draw_in_different_mode_draws_on(lib: Any) -> None:
    g = lib.Generator().manual_seed(0)
    out = lib.func.vmap(lambda v: v + lib.rand(2, generator=g, dtype=lib.float64),
                        randomness="different")(lib.zeros(3, 2, dtype=lib.float64))
    assert not lib.equal(out[0], out[1])


def test_generator_draws_in_jacfwd_and_nested_vmaps_as_torch(lib: Any) -> None:
    func, g, x = lib.func, lib.Generator().manual_seed(0), lib.tensor(X)

    def draw(v: Any) -> Any:
        return v + lib.rand((), generator=g, dtype=lib.float64)

    with pytest.raises(RuntimeError, match="randomness error mode"):
        func.jacfwd(draw)(x[0])
    assert func.jacfwd(draw, randomness="same")(x[0]).shape == (2, 2)
    with pytest.raises(RuntimeError, match="randomness error mode"):   # the outer vmap's mode sees the inner's draws
        func.vmap(func.vmap(draw, randomness="different"), randomness="error")(x)
    out = func.vmap(func.vmap(draw, randomness="same"), randomness="different")(lib.zeros(3, 2, dtype=lib.float64))
    assert all(row[0] == row[1] for row in out) and out[0, 0] != out[1, 0]


def test_generator_draw_in_an_empty_batch() -> None:
    """Size 0: one call on a stand-in learns the shapes; "error" raises as torch's, its draws are undone."""
    g = mg.Generator().manual_seed(0)
    state = g.get_state()
    with pytest.raises(RuntimeError, match="randomness error mode"):
        mg.func.vmap(lambda v: v + mg.rand(2, generator=g))(mg.zeros(0, 2))
    for mode in ("same", "different"):
        out = mg.func.vmap(lambda v: v + mg.rand(2, generator=g), randomness=mode)(mg.zeros(0, 2))
        assert out.shape == (0, 2) and mg.equal(g.get_state(), state)


def test_default_generator_passed_explicitly_is_the_host_stream() -> None:
    out = mg.func.vmap(lambda v: v + mg.rand(2, generator=mg.default_generator, dtype=mg.float64) + mg.rand(
        2, dtype=mg.float64), randomness="same")(mg.zeros(3, 2, dtype=mg.float64))
    assert all(mg.equal(row, out[0]) for row in out)


# --- 3. ops: errors and dtypes as torch's ------------------------------------------------------------------------


def _outcome(lib: Any, call: Any) -> Any:
    """The result's (shape, dtype name, values), or "RuntimeError" / "IndexError" when the call raises one."""
    try:
        out = call(lib)
    except (RuntimeError, IndexError) as error:
        return "IndexError" if isinstance(error, IndexError) else "RuntimeError"
    return tuple(out.shape), str(out.dtype).replace("torch.", ""), str(out.tolist())   # str: NaN equals NaN


INTEGER_STATISTICS = {
    "mean": lambda lib: lib.tensor([1, 2, 4]).mean(),
    "mean_dim": lambda lib: lib.mean(lib.tensor([[1, 2], [3, 4]]), 1),
    "mean_bool": lambda lib: lib.tensor([True, False]).mean(),
    "mean_uint8": lambda lib: lib.tensor([1, 2], dtype=lib.uint8).mean(),
    "mean_dtype": lambda lib: lib.tensor([1, 2, 4]).mean(dtype=lib.float64),
    "var": lambda lib: lib.tensor([1, 2, 4]).var(),
    "std_dim": lambda lib: lib.tensor([[1, 2], [3, 5]]).std(0),
    "complex_mean": lambda lib: lib.tensor([1 + 1j, 3 - 1j]).mean(),
}


@pytest.mark.parametrize("name", sorted(INTEGER_STATISTICS))
def test_mean_var_std_of_integers_raise_as_torch(torch: Any, name: str) -> None:
    assert _outcome(mg, INTEGER_STATISTICS[name]) == _outcome(torch, INTEGER_STATISTICS[name])


def test_numpy_keywords_keep_numpys_float64_mean_of_integers() -> None:
    """README: ``axis=``/``keepdims=``/``ddof=`` calls give NumPy's result (its float64 mean of ints)."""
    x = np.array([1, 2, 4])
    assert mg.tensor(x).mean(axis=0).dtype == mg.float64 and mg.tensor(x).mean(axis=0).item() == x.mean()
    assert mg.tensor(x).mean(keepdims=True).shape == (1,)
    assert mg.tensor(x).var(axis=0).item() == pytest.approx(x.var())
    assert mg.tensor(x).std(ddof=1).item() == pytest.approx(x.std(ddof=1))


REPEATED_DIMS = {
    "sum": lambda lib, x, d: x.sum(d), "sum_keepdim": lambda lib, x, d: x.sum(d, keepdim=True),
    "mean": lambda lib, x, d: x.mean(d), "amax": lambda lib, x, d: x.amax(d), "amin": lambda lib, x, d: x.amin(d),
    "var": lambda lib, x, d: x.var(d), "std": lambda lib, x, d: x.std(d),
    "logsumexp": lambda lib, x, d: x.logsumexp(d), "norm": lambda lib, x, d: x.norm(dim=d),
    "nansum": lambda lib, x, d: x.nansum(d), "nanmean": lambda lib, x, d: x.nanmean(d),
    "var_mean": lambda lib, x, d: lib.var_mean(x, d)[0], "std_mean": lambda lib, x, d: lib.std_mean(x, d)[1],
}


@pytest.mark.parametrize("dims", [(0,), (-1,), (0, -1), (0, 0), [-1, -1], (0, 1)])
@pytest.mark.parametrize("name", sorted(REPEATED_DIMS))
def test_a_0d_tensors_dim_named_twice_raises_as_torch(torch: Any, name: str, dims: Any) -> None:
    """A 0-d tensor has one dim, 0 or -1: naming it twice raises RuntimeError (before: reduced over nothing)."""
    def call(lib: Any) -> Any:
        return REPEATED_DIMS[name](lib, lib.tensor(1.5, dtype=lib.float64), dims)
    assert _outcome(mg, call) == _outcome(torch, call)


ZERO_D_DIMS = {
    "squeeze": lambda lib, x, d: x.squeeze(d), "count_nonzero": lambda lib, x, d: lib.count_nonzero(x, d),
    "movedim": lambda lib, x, d: lib.movedim(x, d, d),
}


@pytest.mark.parametrize("dims", [(0,), (-1,), (0, -1), (0, 0), [-1, -1], (0, 1)])
@pytest.mark.parametrize("name", sorted(ZERO_D_DIMS))
def test_a_0d_tensors_dim_named_twice_by_other_ops_raises_as_torch(torch: Any, name: str, dims: Any) -> None:
    """normalize_axis itself refuses a 0-d tensor's dim named twice (squeeze((0, 0)) and count_nonzero(x, (0, -1))
    returned the tensor; torch: "dim 0 appears multiple times")."""
    def call(lib: Any) -> Any:
        return ZERO_D_DIMS[name](lib, lib.tensor(1.5, dtype=lib.float64), dims)
    assert _outcome(mg, call) == _outcome(torch, call)


REPEATED_DIMS_ELSEWHERE = {
    "all": lambda lib, x, d: x.all(d), "any": lambda lib, x, d: x.any(d), "permute": lambda lib, x, d: x.permute(d),
    "vector_norm": lambda lib, x, d: lib.linalg.vector_norm(x, dim=d),
}


@pytest.mark.parametrize("shape", [(), (2, 3)])
@pytest.mark.parametrize("dims", [(0,), (-1,), (0, -1), (0, 0), [-1, -1], (0, 1), (1, 1), (1, 0)])
@pytest.mark.parametrize("name", sorted(REPEATED_DIMS_ELSEWHERE))
def test_all_any_permute_vector_norm_dims_as_torch(torch: Any, name: str, dims: Any, shape: tuple) -> None:
    """all/any and vector_norm reduced a 0-d tensor over (0, -1) (torch: "dim 0 appears multiple times"), and
    raised NumPy's ValueError for a repeated dim of more dims; a 0-d tensor's permute(0) returned it."""
    def call(lib: Any) -> Any:
        return REPEATED_DIMS_ELSEWHERE[name](lib, lib.ones(shape, dtype=lib.float64) * 1.5, dims)
    assert _outcome(mg, call) == _outcome(torch, call)


@pytest.mark.parametrize("name", ["sum", "mean", "var", "nansum", "nanmean", "var_mean"])
def test_a_dim_named_twice_raises_runtime_error(torch: Any, name: str) -> None:
    def call(lib: Any) -> Any:
        return REPEATED_DIMS[name](lib, lib.ones(2, 3, dtype=lib.float64), (1, -1))
    assert _outcome(mg, call) == _outcome(torch, call) == "RuntimeError"


FILL_AND_LINEAR = {
    "fill_diagonal_1d": lambda lib, F: lib.ones(3).fill_diagonal_(0.0),
    "fill_diagonal_0d": lambda lib, F: lib.tensor(1.0).fill_diagonal_(0.0),
    "fill_diagonal_unequal": lambda lib, F: lib.ones(2, 3, 2).fill_diagonal_(0.0),
    "fill_diagonal_tall": lambda lib, F: lib.ones(3, 2).fill_diagonal_(0.0, wrap=True),
    "linear_0d_weight": lambda lib, F: F.linear(lib.ones(3), lib.tensor(2.0)),
    "linear_0d_input": lambda lib, F: F.linear(lib.tensor(3.0), lib.ones(1)),
    "linear_3d_weight": lambda lib, F: F.linear(lib.ones(3), lib.ones(2, 2, 3)),
    "linear_1d_weight": lambda lib, F: F.linear(lib.ones(2, 3), lib.ones(3)),
    "linear_1d_weight_0d_bias": lambda lib, F: F.linear(lib.ones(4, 2, 3), lib.ones(3), lib.tensor(1.0)),
    "linear_1d_weight_0d_bias_2d_input": lambda lib, F: F.linear(lib.ones(2, 3), lib.ones(3), lib.tensor(1.0)),
    "linear_1d_weight_1d_bias": lambda lib, F: F.linear(lib.ones(3), lib.ones(3), lib.ones(2)),
    "linear_bias_grows_the_output": lambda lib, F: F.linear(lib.ones(2, 3), lib.ones(4, 3), lib.ones(3, 2, 4)),
    "linear_bias_broadcasts": lambda lib, F: F.linear(lib.ones(2, 3), lib.ones(4, 3), lib.ones(2, 1)),
}


@pytest.mark.parametrize("name", sorted(FILL_AND_LINEAR))
def test_fill_diagonal_and_linear_raise_as_torch(torch: Any, name: str) -> None:
    import minigrad.nn.functional as mg_functional
    import torch.nn.functional as torch_functional

    assert _outcome(mg, lambda lib: FILL_AND_LINEAR[name](lib, mg_functional)) == \
        _outcome(torch, lambda lib: FILL_AND_LINEAR[name](lib, torch_functional))


def test_a_stream_that_cannot_be_put_back_is_refused_by_same() -> None:
    """A GPU's stream (CuPy's, whose state cannot be copied) is shown to vmap as this stand-in is: "same" cannot
    repeat its draws and says so, "error" raises torch's error, "different" lets it draw."""
    from minigrad.recording import note_generator_draw

    class GpuStream:
        pass

    def draw(v: Any) -> Any:
        note_generator_draw(GpuStream())
        return v

    x = mg.zeros(2, 3)
    with pytest.raises(NotImplementedError, match="randomness='same'.*GPU"):
        mg.func.vmap(draw, randomness="same")(x)
    with pytest.raises(RuntimeError, match="randomness error mode"):
        mg.func.vmap(draw)(x)
    assert mg.func.vmap(draw, randomness="different")(x).shape == (2, 3)


@pytest.mark.parametrize("shapes", [((2,), (3,)), ((2, 3), (3, 2)), ((2, 1), (1, 3))])
def test_complex_of_shapes_that_do_not_broadcast_raises_as_torch(torch: Any, shapes: tuple) -> None:
    def call(lib: Any) -> Any:
        return lib.complex(lib.ones(shapes[0]), lib.ones(shapes[1]))
    assert _outcome(mg, call) == _outcome(torch, call)


@pytest.mark.parametrize("call", [lambda lib: lib.diff(lib.tensor(1.0)),
                                  lambda lib: lib.count_nonzero(lib.ones(2, 3), dim=(0, 0))])
def test_diff_of_0d_and_repeated_count_nonzero_dims_are_runtime_errors(torch: Any, call: Any) -> None:
    for lib in (torch, mg):
        with pytest.raises(RuntimeError):
            call(lib)
