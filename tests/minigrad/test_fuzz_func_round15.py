"""Cases pinned by the round-15 differential fuzz of ``mg.func`` compositions (vmap, grad, jacrev, jacfwd,
hessian, jvp, vjp, functional_call, stack_module_state) against ``torch.func`` (torch 2.13), and vmap's
``randomness`` leftovers of round 14: each runs one program with minigrad and with torch and compares values,
shapes and structure, or the error class.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg

P = np.array([[0.2, 0.5], [0.9, 0.1], [0.5, 0.5]])


@pytest.fixture(scope="module", autouse=True)
def _torch_func_loaded() -> None:
    """torch.func's first jvp and vmap(grad) of a batch norm load its rules (seconds, once): done in setup."""
    try:
        import torch
    except ImportError:
        return
    torch.func.jvp(torch.sin, (torch.ones(2),), (torch.ones(2),))
    torch.func.vmap(torch.func.grad(lambda x: torch.nn.functional.batch_norm(x, None, None, training=True).sum()))(
        torch.ones(2, 3, 2))


def _outcome(lib: Any, program: Any) -> Any:
    """The result's shape, or the class name of the error the program raises."""
    try:
        return tuple(program(lib).shape)
    except Exception as error:   # noqa: BLE001 - the class is what is compared
        return type(error).__name__


# --- 1. vmap's randomness modes: what torch refuses ----------------------------------------------------------------

SAME_WITH_MAPPED_PARAMETERS = {
    "bernoulli": lambda lib, p: lib.bernoulli(p),
    "bernoulli_p": lambda lib, p: p.bernoulli(0.5),
    "bernoulli_into_clone": lambda lib, p: p.clone().bernoulli_(p),
    "multinomial": lambda lib, p: lib.multinomial(p, 1),
    "normal_mean": lambda lib, p: lib.normal(p, 1.0),
    "normal_std": lambda lib, p: lib.normal(0.0, p),
    "poisson": lambda lib, p: lib.poisson(p),
    "binomial": lambda lib, p: lib.binomial(p * 4, p),
    # allowed by torch: the numbers do not depend on the mapped values
    "rand_like": lambda lib, p: lib.rand_like(p),
    "bernoulli_into_mapped": lambda lib, p: p.clone().bernoulli_(0.5),
    "normal_into_mapped": lambda lib, p: p.clone().normal_(),
    "bernoulli_unmapped_probs": lambda lib, p: p + lib.bernoulli(lib.full((2,), 0.5, dtype=lib.float64)),
    "dropout": lambda lib, p: lib.nn.functional.dropout(p, 0.5),
}


@pytest.mark.parametrize("name", sorted(SAME_WITH_MAPPED_PARAMETERS))
def test_same_randomness_with_mapped_parameters_raises_as_torch(torch: Any, name: str) -> None:
    """torch has no "same" rule for a random op whose numbers depend on a mapped tensor; the loop gave each example
    its own probabilities' draw (different rows: not what "same" promises)."""
    def program(lib: Any) -> Any:
        return lib.func.vmap(lambda p: SAME_WITH_MAPPED_PARAMETERS[name](lib, p), randomness="same")(
            lib.tensor(P))
    assert _outcome(mg, program) == _outcome(torch, program)


def test_same_randomness_with_a_mapped_parameter_raises_for_one_example(torch: Any) -> None:
    for lib in (mg, torch):
        with pytest.raises(RuntimeError, match="same randomness with a batched tensor"):
            lib.func.vmap(lib.bernoulli, randomness="same")(lib.tensor(P[:1]))


IN_PLACE_DRAWS = {
    "normal_": lambda z: z.normal_(), "uniform_": lambda z: z.uniform_(), "bernoulli_": lambda z: z.bernoulli_(0.0),
    "exponential_": lambda z: z.exponential_(), "random_": lambda z: z.random_(0, 3),
}


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("how", ["input", "captured"])
@pytest.mark.parametrize("name", sorted(IN_PLACE_DRAWS))
def test_different_randomness_into_an_unmapped_tensor_raises_as_torch(torch: Any, name: str, how: str,
                                                                      batch: int) -> None:
    """One draw into an unmapped tensor cannot give each example its own numbers: torch raises. The loop drew once
    per example (an input with in_dim None of one example, a bernoulli_(0.0) or a captured tensor passed)."""
    def program(lib: Any) -> Any:
        z, x = lib.zeros(2, dtype=lib.float64), lib.zeros(batch, 2, dtype=lib.float64)
        if how == "input":
            return lib.func.vmap(lambda v, t: IN_PLACE_DRAWS[name](t) + v, in_dims=(0, None),
                                 randomness="different")(x, z)
        return lib.func.vmap(lambda v: IN_PLACE_DRAWS[name](z) + v, randomness="different")(x)
    ours, theirs = _outcome(mg, program), _outcome(torch, program)
    if how == "captured" and batch == 1:   # one call: a captured tensor cannot be told from a fresh one
        assert ours == (1, 2) and theirs == "RuntimeError"
        return
    assert ours == theirs == "RuntimeError"


@pytest.mark.parametrize("mode", ["same", "different"])
def test_in_place_draws_into_mapped_tensors_still_work(torch: Any, mode: str) -> None:
    for lib in (mg, torch):
        x = lib.zeros(3, 2, dtype=lib.float64)
        out = lib.func.vmap(lambda v: v.clone().normal_() + v.normal_(), randomness=mode)(x.clone())
        assert out.shape == (3, 2) and bool((out[0] == out[1]).all()) == (mode == "same")
        z = lib.zeros(2, dtype=lib.float64)
        if mode == "same":   # an unmapped tensor filled with one draw: allowed
            lib.func.vmap(lambda v, t: t.normal_() + v, in_dims=(0, None), randomness="same")(x, z)
            assert bool((z != 0).all())


# --- 2. jvp: a tangent that is (a view of) a primal func writes in place --------------------------------------------

X = np.arange(12.0).reshape(3, 4) * 0.5 - 1.0


@pytest.mark.parametrize("program", [
    lambda lib, x: lib.func.jvp(lambda a: a.mul_(2), (x,), (x,)),
    lambda lib, x: lib.func.jvp(lambda a: a.mul_(2), (x,), (x[:],)),
    lambda lib, x: lib.func.jvp(lambda a, b: a.mul_(2) + b, (x, x[0]), (x[0].expand(3, 4), x[1])),
], ids=["same", "view", "two-primals"])
def test_jvp_tangent_sharing_a_primals_memory_as_torch(torch: Any, program: Any) -> None:
    """The tangents are read after func ran: the tangent x of jvp(lambda a: a.mul_(2), (x,), (x,)) was read
    doubled, giving 4·x where torch gives 2·x."""
    ours, theirs = program(mg, mg.tensor(X)), program(torch, torch.tensor(X))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)


# --- 3. replace_all_batch_norm_modules_ ---------------------------------------------------------------------------


def _batch_norm_model(lib: Any) -> Any:
    nn = lib.nn
    lib.manual_seed(0)
    inner = nn.Sequential(nn.Conv1d(2, 3, 1), nn.BatchNorm1d(3))
    return nn.Sequential(nn.Linear(4, 4), inner, nn.InstanceNorm1d(3, track_running_stats=True), nn.Tanh())


def test_replace_all_batch_norm_modules_as_torch(torch: Any) -> None:
    """torch.func's (it was missing): batch norm modules (nested ones too) keep no running statistics, so vmap over
    the model normalises each example with its own batch statistics, in eval mode too; other norms are left alone."""
    x = np.random.default_rng(0).standard_normal((3, 5, 2, 4))
    models = [_batch_norm_model(torch).double(), _batch_norm_model(mg).double()]
    models[1].load_state_dict({k: mg.tensor(v.numpy()) for k, v in models[0].state_dict().items()})
    outcomes = []
    for lib, model in zip((torch, mg), models):
        assert lib.func.replace_all_batch_norm_modules_(model) is model
        norm = model[1][1]
        assert norm.running_mean is None and norm.running_var is None and norm.num_batches_tracked is None
        assert norm.track_running_stats is False and model[2].track_running_stats is True
        assert sorted(dict(model.named_buffers())) == ["2.num_batches_tracked", "2.running_mean", "2.running_var"]
        model.eval()
        outcomes.append(lib.func.vmap(model)(lib.tensor(x)).detach().numpy())
    np.testing.assert_allclose(outcomes[1], outcomes[0], rtol=1e-10, atol=1e-12)


# --- 4. has_aux: the auxiliary output holds Tensors only ----------------------------------------------------------

AUX_PROGRAMS = {
    "grad-number": lambda lib, x: lib.func.grad(lambda u: (u.sin().sum(), [u, 2.0]), has_aux=True)(x),
    "grad-none": lambda lib, x: lib.func.grad(lambda u: (u.sin().sum(), None), has_aux=True)(x),
    "grad_and_value-str": lambda lib, x: lib.func.grad_and_value(lambda u: (u.sum(), {"k": "v"}), has_aux=True)(x),
    "vjp-none": lambda lib, x: lib.func.vjp(lambda u: (u.sin(), None), x, has_aux=True),
    "jvp-int": lambda lib, x: lib.func.jvp(lambda u: (u.sin(), {"n": 3}), (x,), (x,), has_aux=True),
    "jacrev-nested-none": lambda lib, x: lib.func.jacrev(lambda u: (u.sin(), {"k": None}), has_aux=True)(x),
    "jacfwd-int": lambda lib, x: lib.func.jacfwd(lambda u: (u.sin(), 1), has_aux=True)(x),
    "vmap-grad-number": lambda lib, x: lib.func.vmap(lib.func.grad(lambda u: (u.sum(), 1.5), has_aux=True))(
        x.reshape(2, 2)),
}


@pytest.mark.parametrize("name", sorted(AUX_PROGRAMS))
def test_non_tensor_aux_raises_as_torch(torch: Any, name: str) -> None:
    """torch.func refuses a number, a string or None in ``aux`` (RuntimeError "Expected tensors, got unsupported
    type"); minigrad returned them."""
    for lib in (torch, mg):
        with pytest.raises(RuntimeError, match="Expected tensors, got unsupported type"):
            AUX_PROGRAMS[name](lib, lib.tensor(X[0]))


def test_tensor_aux_in_pytrees_and_empty_aux_still_work(torch: Any) -> None:
    for lib in (torch, mg):
        x = lib.tensor(X[0])
        assert lib.func.grad(lambda u: (u.sum(), ()), has_aux=True)(x)[1] == ()
        aux = lib.func.jacrev(lambda u: (u.sin(), {"k": [u * 2]}), has_aux=True)(x)[1]
        np.testing.assert_allclose(aux["k"][0].numpy(), X[0] * 2)


# --- 5. BatchNorm in train mode: running statistics in buffers every transform got as inputs ---------------------


def _train_mode_ensemble(lib: Any, program: str) -> list:
    nn = lib.nn
    lib.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(2, 2, 1), nn.BatchNorm1d(2)).double().train()
    if lib is mg:   # torch's initial values
        model.load_state_dict({k: mg.tensor(v.numpy()) for k, v in _torch_model_state().items()})
    func, x = lib.func, lib.tensor(np.random.default_rng(0).standard_normal((3, 4, 2, 5)))
    params, buffers = func.stack_module_state([model] * 3)

    def f(p: Any, b: Any, xx: Any) -> Any:
        return func.functional_call(model, (p, b), (xx,))
    if program == "vmap":
        out = func.vmap(f)(params, buffers, x)
    elif program == "vmap-unmapped-input":
        out = func.vmap(f, in_dims=(0, 0, None))(params, buffers, x[0])
    elif program == "vmap-grad":
        out = func.vmap(func.grad(lambda p, b, xx: f(p, b, xx).pow(2).sum()))(params, buffers, x)["0.weight"]
    else:   # grad with the buffers as an argument (not differentiated)
        one = {k: v[0].clone() for k, v in buffers.items()}
        out = func.grad(lambda p, b: f(p, b, x[0]).pow(2).sum())({k: v[0] for k, v in params.items()}, one)["0.weight"]
        buffers = one
    return [out.detach().numpy()] + [buffers[k].numpy() for k in sorted(buffers)]


def _torch_model_state() -> dict:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv1d(2, 2, 1), torch.nn.BatchNorm1d(2)).double().state_dict()


@pytest.mark.parametrize("program", ["vmap", "vmap-unmapped-input", "vmap-grad", "grad-buffers-argument"])
def test_batch_norm_train_mode_with_buffers_passed_in_as_torch(torch: Any, program: str) -> None:
    """torch lets BatchNorm update running statistics that every transform got as an input (buffers stacked by
    stack_module_state and mapped by vmap: an ensemble in train mode; a grad's argument); minigrad refused any
    buffer write inside a transform."""
    for ours, theirs in zip(_train_mode_ensemble(mg, program), _train_mode_ensemble(torch, program)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def _write_captured_running_statistics(lib: Any, how: str) -> Any:
    model = lib.nn.Sequential(lib.nn.BatchNorm1d(2)).double().train()
    x = lib.tensor(np.random.default_rng(0).standard_normal((3, 4, 2)))
    params, buffers = dict(model.named_parameters()), dict(model.named_buffers())
    with pytest.raises(RuntimeError):
        if how == "captured-by-grad":
            lib.func.grad(lambda p: lib.func.functional_call(model, (p, buffers), (x[0],)).sum())(params)
        else:
            lib.func.vmap(lambda b, xx: lib.func.functional_call(model, b, (xx,)), in_dims=(None, 0))(buffers, x)
    return buffers


@pytest.mark.parametrize("how", ["captured-by-grad", "unmapped-by-vmap"])
def test_batch_norm_train_mode_writing_captured_buffers_still_raises(torch: Any, how: str) -> None:
    _write_captured_running_statistics(torch, how)
    buffers = _write_captured_running_statistics(mg, how)
    assert float(buffers["0.running_mean"].abs().sum()) == 0 and int(buffers["0.num_batches_tracked"]) == 0


# --- 6. linearize of a complex output -------------------------------------------------------------------------------

Z = np.array([1 + 2j, -0.5 + 0.3j, 0.7 - 1.1j])
W = np.array([0.3 - 0.2j, 1.0 + 0.5j, -0.4 + 0.9j])


@pytest.mark.parametrize("body,complex_input", [
    ("a.sin()", True), ("a.sin() * a.conj()", True), ("a.exp().conj()", True), ("a * 1j", False),
    ("lib.complex(a, a * 2).exp()", False), ("lib.polar(a.abs() + 1, a.abs())", False), ("a.abs()", True),
])
def test_linearize_of_a_complex_output_as_torch(torch: Any, body: str, complex_input: bool) -> None:
    """jvp_fn gave zeros for every complex output (only real floating outputs were differentiated)."""
    results = []
    for lib in (mg, torch):
        func = eval("lambda a: " + body, {"lib": lib})   # noqa: S307 - the bodies above
        z, w = (Z, W) if complex_input else (Z.real.copy(), W.real.copy())
        out = lib.func.linearize(func, lib.tensor(z))[1](lib.tensor(w))
        results.append(out.resolve_conj().numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12, atol=1e-15)


# --- 7. vmap's outputs that are views of a mapped input ------------------------------------------------------------


@pytest.mark.parametrize("body", ["a", "a[0]", "a.t()", "a.view(-1)", "a.add_(0)", "a.unsqueeze(0)", "a[::2]",
                                  "a.expand(2, 2)", "a.detach()", "a * 1", "a.flip(0)"])
@pytest.mark.parametrize("out_dim", [0, -1])
def test_vmap_output_viewing_a_mapped_input_aliases_it_as_torch(torch: Any, body: str, out_dim: int) -> None:
    """torch's vmap returns a view of the input where each example's output is one (an in-place change of the
    result reaches the input); minigrad stacked copies, so x stayed as it was."""
    results = []
    for lib in (mg, torch):
        x = lib.arange(6.0, dtype=lib.float64).reshape(3, 2)
        out = lib.func.vmap(eval("lambda a: " + body), out_dims=out_dim)(x)   # noqa: S307 - the bodies above
        values = out.clone()
        if body != "a.expand(2, 2)":   # overlapping: torch refuses writing into it
            out.add_(100)
        results.append((values.numpy(), x.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_array_equal(ours, theirs)


def test_vmap_output_viewing_an_input_that_requires_grad_keeps_its_gradient(torch: Any) -> None:
    grads = []
    for lib in (mg, torch):
        x = lib.arange(6.0, dtype=lib.float64).reshape(3, 2).requires_grad_()
        (lib.func.vmap(lambda a: a.t(), out_dims=1)(x) * lib.arange(6.0, dtype=lib.float64).reshape(2, 3)).sum() \
            .backward()
        grads.append(x.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])
