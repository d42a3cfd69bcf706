"""PyTorch's autograd API against PyTorch: ``mg.autograd.grad``, ``mg.autograd.backward`` over several
tensors, ``Tensor.backward(gradient, retain_graph, create_graph, inputs)``, ``retains_grad`` and
``register_post_accumulate_grad_hook``.

Each case builds the same graph in both libraries from the same float64 values (``_pair``), runs the
same call and compares the gradients, which ``.grad`` changed, and the order in which hooks ran.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from helpers import assert_close, to_torch

import minigrad as mg
from minigrad import autograd

RNG = np.random.default_rng(11)
X, W, B = RNG.standard_normal(3), RNG.standard_normal((3, 3)), RNG.standard_normal(3)


def _pair(torch: Any, *arrays: np.ndarray) -> tuple[list, list]:
    """The same leaves (requiring grad) in minigrad and in PyTorch."""
    ours = [mg.tensor(a, requires_grad=True) for a in arrays]
    return ours, [to_torch(torch, t) for t in ours]


def _net(lib: Any, x: Any, w: Any, b: Any) -> tuple[Any, Any, Any]:
    """``h = tanh(w @ x + b)``, ``loss = sum(h * h * x)``: returns (h, the matmul output, loss)."""
    z = w @ x
    h = (z + b).tanh()
    return h, z, (h * h * x).sum()


def _assert_all_close(ours: Any, theirs: Any, what: str) -> None:
    assert len(ours) == len(theirs), what
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if b is None:
            assert a is None, f"{what}[{i}]"
        else:
            assert a is not None, f"{what}[{i}]"
            assert_close(a, b, what=f"{what}[{i}]")
            assert a.dtype == np.dtype(str(b.dtype).replace("torch.", "")) and a.shape == tuple(b.shape)


def _grads(tensors: list) -> list:
    return [t.grad for t in tensors]


# --- autograd.grad --------------------------------------------------------------------------------------------

def test_grad_of_leaves_matches_torch_and_touches_no_grad(torch: Any) -> None:
    ours, theirs = _pair(torch, X, W, B)
    expected = torch.autograd.grad(_net(torch, *theirs)[2], theirs)
    got = autograd.grad(_net(mg, *ours)[2], ours)
    assert type(got) is tuple and all(isinstance(g, mg.Tensor) and not g.requires_grad for g in got)
    _assert_all_close(got, expected, "grad")
    assert _grads(ours) == [None, None, None] and _grads(theirs) == [None, None, None]


def test_grad_of_a_tensor_and_of_a_dict_of_inputs(torch: Any) -> None:
    ours, theirs = _pair(torch, X, W, B)
    got = autograd.grad(_net(mg, *ours)[2], ours[1])
    expected = torch.autograd.grad(_net(torch, *theirs)[2], theirs[1])
    _assert_all_close(got, expected, "grad")
    got = autograd.grad(_net(mg, *ours)[2], {"w": ours[1], "x": ours[0]})
    expected = torch.autograd.grad(_net(torch, *theirs)[2], {"w": theirs[1], "x": theirs[0]})
    assert list(got) == list(expected) == ["w", "x"]
    _assert_all_close(list(got.values()), list(expected.values()), "grad by name")


@pytest.mark.parametrize("order", ["h_then_leaves", "leaves_then_h", "h_only", "z_and_h"])
def test_grad_wrt_non_leaves_matches_torch(torch: Any, order: str) -> None:
    ours, theirs = _pair(torch, X, W, B)
    results = []
    for lib, leaves in ((mg, ours), (torch, theirs)):
        h, z, loss = _net(lib, *leaves)
        inputs = {"h_then_leaves": [h, *leaves], "leaves_then_h": [*leaves, h], "h_only": [h],
                  "z_and_h": [z, h]}[order]
        results.append((lib.autograd.grad(loss, inputs), h))
    _assert_all_close(results[0][0], results[1][0], order)
    assert results[0][1].grad is None and _grads(ours) == [None] * 3


def test_grad_runs_no_op_beyond_the_inputs_as_torch(torch: Any) -> None:
    """grad(loss, h) without retain_graph leaves h's own graph intact: h.backward(gh) works after, as in
    PyTorch; and hooks beyond h do not run."""
    ours, theirs = _pair(torch, X, W, B)
    calls: dict = {"mg": [], "torch": []}
    for name, lib, leaves in (("mg", mg, ours), ("torch", torch, theirs)):
        h, z, loss = _net(lib, *leaves)
        z.register_hook(lambda g, name=name: calls[name].append("z"))
        leaves[1].register_hook(lambda g, name=name: calls[name].append("w"))
        (gh,) = lib.autograd.grad(loss, h)
        assert calls[name] == []
        h.backward(gh)
        assert calls[name] == ["z", "w"]
    _assert_all_close(_grads(ours), _grads(theirs), "grads after h.backward(gh)")


def test_hooks_on_the_way_run_and_may_replace_the_gradient_as_torch(torch: Any) -> None:
    """A hook on an intermediate tensor runs in grad() (its replacement flows on); a hook on a leaf input
    changes what grad returns; a retained tensor on the way gets its .grad, as in PyTorch."""
    ours, theirs = _pair(torch, X, W, B)
    seen: dict = {"mg": [], "torch": []}
    results = []
    for name, lib, leaves in (("mg", mg, ours), ("torch", torch, theirs)):
        h, z, loss = _net(lib, *leaves)
        z.retain_grad()
        h.register_hook(lambda g, name=name: seen[name].append(("h", g.detach().numpy().copy())) or g * 3)
        leaves[0].register_hook(lambda g, name=name: seen[name].append(("x", g.detach().numpy().copy())) or g * 2)
        leaves[0].register_post_accumulate_grad_hook(lambda t, name=name: seen[name].append(("post", None)))
        results.append((lib.autograd.grad(loss, leaves), z.grad, z.retains_grad))
    _assert_all_close(results[0][0], results[1][0], "grads")
    assert_close(results[0][1], results[1][1], what="retained z.grad")
    assert results[0][2] and results[1][2]
    assert [k for k, _ in seen["mg"]] == [k for k, _ in seen["torch"]] == ["h", "x"]   # no post-accumulate hook
    for (_, ours_g), (_, theirs_g) in zip(seen["mg"], seen["torch"]):
        np.testing.assert_allclose(ours_g, theirs_g, rtol=1e-12)
    assert _grads(ours) == [None] * 3


@pytest.mark.parametrize("others", [[], [1], [0, 2]])
def test_a_hook_on_a_non_leaf_input_as_torch(torch: Any, others: list) -> None:
    """PyTorch returns the gradient at a non-leaf input after its hooks when nothing beyond it is wanted,
    and before them when the walk goes on through it (the hook's result flows on either way)."""
    ours, theirs = _pair(torch, X, W, B)
    results = []
    for lib, leaves in ((mg, ours), (torch, theirs)):
        h, z, loss = _net(lib, *leaves)
        h.register_hook(lambda g: g * 10)
        results.append(lib.autograd.grad(loss, [h] + [leaves[i] for i in others]))
    _assert_all_close(results[0], results[1], "grads")


def test_grad_of_an_output_wrt_itself_as_torch(torch: Any) -> None:
    ours, theirs = _pair(torch, X, W, B)
    for lib, leaves in ((mg, ours), (torch, theirs)):
        h, z, loss = _net(lib, *leaves)
        g_loss, g_h, g_x = lib.autograd.grad([loss, h], [loss, h, leaves[0]], [None, lib.ones_like(h)])
        assert g_loss.item() == 1.0 and g_h.shape == h.shape
        (g_self,) = lib.autograd.grad(leaves[0], leaves[0], lib.ones_like(leaves[0]))
        assert g_self.tolist() == [1.0, 1.0, 1.0]


def test_unused_inputs_raise_unless_allowed_as_torch(torch: Any) -> None:
    ours, theirs = _pair(torch, X, W, B)
    unused, unused_t = mg.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    loss, loss_t = (ours[0] * 2).sum(), (theirs[0] * 2).sum()
    with pytest.raises(RuntimeError, match="index 1 appears to not have been used"):
        torch.autograd.grad(loss_t, [theirs[0], unused_t], retain_graph=True)
    with pytest.raises(RuntimeError, match=r"input 1 \(shape \(2,\)\) appears to not have been used.*allow_unused"):
        autograd.grad(loss, [ours[0], unused], retain_graph=True)
    for kwargs in ({"allow_unused": True}, {"materialize_grads": True}, {"allow_unused": True,
                                                                          "materialize_grads": True}):
        got = autograd.grad(loss, [ours[0], unused], retain_graph=True, **kwargs)
        expected = torch.autograd.grad(loss_t, [theirs[0], unused_t], retain_graph=True, **kwargs)
        _assert_all_close(got, expected, str(kwargs))
    assert autograd.grad(loss, [ours[0], unused], retain_graph=True, materialize_grads=True)[1].dtype == mg.float32
    with pytest.raises(ValueError, match="allow_unused to be True or not passed when materialize_grads=True"):
        autograd.grad(loss, [unused], materialize_grads=True, allow_unused=False)
    with pytest.raises(RuntimeError, match="input 0 .* appears to not have been used"):   # nothing reached
        autograd.grad(loss, [ours[1]], retain_graph=True)
    assert autograd.grad([], [unused], allow_unused=True) == (None,)


def test_grad_argument_errors(torch: Any) -> None:
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    with pytest.raises(RuntimeError, match="input 0 .* does not require grad"):
        autograd.grad(y, [mg.tensor([1.0])])
    with pytest.raises(RuntimeError, match="grad: element 0 of the tensors does not require grad"):
        autograd.grad(mg.tensor([1.0]) * 2, [x])
    with pytest.raises(RuntimeError, match="inputs` cannot be empty"):
        autograd.grad(y, [])
    with pytest.raises(TypeError, match=r"grad: inputs must all be Tensors, but inputs\[1\] is a int"):
        autograd.grad(y, [x, 3])
    with pytest.raises(RuntimeError, match="grad: got 1 tensors and 2 gradients"):
        autograd.grad(y, x, grad_outputs=[mg.tensor(1.0), mg.tensor(1.0)])
    with pytest.raises(ValueError, match=r"grad: grad has shape \(1,\) but the tensor has shape \(\)"):
        autograd.grad(y, x, grad_outputs=mg.ones(1))
    with pytest.raises(RuntimeError, match="grad: grad can be implicitly created only for a one-element tensor"):
        autograd.grad(x * x, x)
    with pytest.raises(NotImplementedError, match="create_graph=True: no higher-order gradient for bincount"):
        autograd.grad(mg.bincount(mg.tensor([0, 1]), weights=x.reshape(-1)[:1].repeat(2)).sum(), x,
                      create_graph=True)   # others work
    with pytest.raises(RuntimeError, match="is_grads_batched=True needs grad_outputs"):   # each with a batch dim
        autograd.grad(y, x, is_grads_batched=True)
    with pytest.warns(FutureWarning, match="only_inputs"):
        assert autograd.grad(y, x, only_inputs=False, retain_graph=True)[0].numpy().tolist() == [2.0, 4.0]


def test_grad_frees_the_graph_unless_retain_graph(torch: Any) -> None:
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    first = autograd.grad(y, x, retain_graph=True)[0]
    np.testing.assert_array_equal(autograd.grad(y, x)[0].numpy(), first.numpy())
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        autograd.grad(y, x)


def test_several_outputs_with_grad_outputs_match_torch(torch: Any) -> None:
    ours, theirs = _pair(torch, X, W, B)
    gh = RNG.standard_normal(3)
    results = []
    for lib, leaves in ((mg, ours), (torch, theirs)):
        h, z, loss = _net(lib, *leaves)
        given = to_torch(torch, mg.tensor(gh)) if lib is torch else mg.tensor(gh)
        results.append(lib.autograd.grad([loss, h, loss], leaves, grad_outputs=[None, given, None]))
    _assert_all_close(results[0], results[1], "grads")


def test_grad_returns_arrays_of_the_inputs_dtype_that_share_nothing() -> None:
    a = mg.tensor([1.0, 2.0], dtype=mg.float32, requires_grad=True)
    b = mg.tensor([3.0, 4.0], dtype=mg.float64, requires_grad=True)
    given = mg.tensor([1.0, 1.0], dtype=mg.float64)
    ga, gb = autograd.grad(a + b, [a, b], grad_outputs=given)
    assert ga.dtype == mg.float32 and gb.dtype == mg.float64
    gb.data += 1
    assert given.numpy().tolist() == [1.0, 1.0] and ga.numpy().tolist() == [1.0, 1.0]
    h = a * 2
    g1, g2 = autograd.grad(h.sum(), [h, h])
    g1.data += 1
    assert g2.numpy().tolist() == [1.0, 1.0]


def test_grad_through_a_multi_output_node_and_of_its_outputs_as_torch(torch: Any) -> None:
    ours, theirs = _pair(torch, RNG.standard_normal((4, 3)))
    results = []
    for lib, (x,) in ((mg, ours), (torch, theirs)):
        first, second = (x * 2).chunk(2, 0)
        loss = (first.tanh() * second).sum() + (second ** 2).sum()
        results.append(lib.autograd.grad(loss, [second, x, first]))
    _assert_all_close(results[0], results[1], "chunk outputs")


def test_grad_wrt_the_inputs_and_outputs_of_a_compiled_step() -> None:
    def step(x: mg.Tensor, w: mg.Tensor) -> tuple[mg.Tensor, mg.Tensor]:
        h = (x @ w).tanh()
        return h, h.sum() * 2

    compiled = mg.compile(step)
    x, w = mg.tensor(RNG.standard_normal((2, 3)), requires_grad=True), mg.tensor(W, requires_grad=True)
    expected = None
    for _ in range(3):   # capture, then replays: one node standing for the whole call
        h, s = compiled(x, w)
        loss = (h * h).sum() + s
        got = autograd.grad(loss, [x, w, h])
        if expected is None:
            h_eager, s_eager = step(x, w)
            expected = autograd.grad((h_eager * h_eager).sum() + s_eager, [x, w, h_eager])
        for a, b in zip(got, expected):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)
    assert x.grad is None and w.grad is None


def test_grad_through_a_long_chain_wrt_an_intermediate() -> None:
    x = mg.tensor([0.5], dtype=mg.float64, requires_grad=True)
    y, middle = x, None
    for i in range(6000):   # past the walk's fresh-chunk size and far past the recursion limit
        y = y * 1.0001
        if i == 3000:
            middle = y
    g_middle, g_x = autograd.grad(y.sum(), [middle, x])
    assert g_middle.numpy() == pytest.approx(1.0001 ** 2999)
    assert g_x.numpy() == pytest.approx(1.0001 ** 6000)


@pytest.mark.filterwarnings("ignore:divide by zero")
def test_grad_under_detect_anomaly_names_the_op() -> None:
    x = mg.tensor([0.0, 1.0], requires_grad=True)
    with mg.detect_anomaly(), pytest.raises(mg.AnomalyError, match="sqrt"):
        autograd.grad(x.sqrt().sum(), x)


# --- autograd.backward and Tensor.backward -----------------------------------------------------------------------

def test_backward_over_several_tensors_sums_their_gradients_as_torch(torch: Any) -> None:
    ours, theirs = _pair(torch, X, W, B)
    gh = RNG.standard_normal(3)
    for lib, leaves in ((mg, ours), (torch, theirs)):
        h, z, loss = _net(lib, *leaves)
        given = to_torch(torch, mg.tensor(gh)) if lib is torch else mg.tensor(gh)
        lib.autograd.backward([loss, h, loss], [None, given, lib.ones_like(loss)])
    _assert_all_close(_grads(ours), _grads(theirs), "grads")


def test_backward_of_a_leaf_and_of_one_tensor(torch: Any) -> None:
    ours, theirs = _pair(torch, X, W, B)
    g = RNG.standard_normal(3)
    autograd.backward([ours[0]], [mg.tensor(g)])
    torch.autograd.backward([theirs[0]], [torch.from_numpy(g)])
    autograd.backward(_net(mg, *ours)[2])
    torch.autograd.backward(_net(torch, *theirs)[2])
    _assert_all_close(_grads(ours), _grads(theirs), "grads")
    autograd.backward([])   # nothing to do, as in PyTorch


@pytest.mark.parametrize("which", ["w", "x_and_b", "h", "h_and_w", "unused"])
def test_backward_inputs_accumulate_only_into_those_as_torch(torch: Any, which: str) -> None:
    ours, theirs = _pair(torch, X, W, B)
    calls: dict = {"mg": [], "torch": []}
    states = []
    for name, lib, leaves in (("mg", mg, ours), ("torch", torch, theirs)):
        h, z, loss = _net(lib, *leaves)
        for label, t in (("x", leaves[0]), ("w", leaves[1]), ("b", leaves[2]), ("h", h), ("z", z)):
            t.register_hook(lambda g, label=label, name=name: calls[name].append(label))
        other = lib.zeros(2, dtype=leaves[0].dtype, requires_grad=True)
        picked = {"w": [leaves[1]], "x_and_b": [leaves[0], leaves[2]], "h": [h], "h_and_w": [h, leaves[1]],
                  "unused": [other]}[which]
        loss.backward(inputs=picked)
        states.append((_grads(leaves), h.grad if h.retains_grad else None, h.retains_grad, other.grad))
    _assert_all_close(states[0][0], states[1][0], "leaf grads")
    assert (states[0][1] is None) == (states[1][1] is None) and states[0][2] == states[1][2]
    if states[1][1] is not None:
        assert_close(states[0][1], states[1][1], what="h.grad")
    assert states[0][3] is None and states[1][3] is None
    assert sorted(calls["mg"]) == sorted(calls["torch"])


def test_a_non_leaf_in_inputs_keeps_its_grad_afterwards_as_torch(torch: Any) -> None:
    ours, theirs = _pair(torch, X, W, B)
    for lib, leaves in ((mg, ours), (torch, theirs)):
        h, z, loss = _net(lib, *leaves)
        loss.backward(inputs=[h], retain_graph=True)
        assert h.retains_grad
        first = h.grad.detach().numpy().copy()
        loss.backward()   # h keeps accumulating, as after retain_grad()
        np.testing.assert_allclose(h.grad.detach().numpy(), 2 * first)
    _assert_all_close(_grads(ours), _grads(theirs), "leaf grads")


def test_backward_keywords_positions_and_errors(torch: Any) -> None:
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    (x * x).backward(gradient=mg.ones(2), retain_graph=None)
    (x * x).backward(grad=mg.ones(2))   # minigrad's earlier keyword
    (x * x).backward(mg.ones(2), False, False, [x])   # PyTorch's positional order
    assert x.grad.numpy().tolist() == [6.0, 12.0]
    with pytest.raises(TypeError, match="give the gradient once"):
        (x * x).backward(gradient=mg.ones(2), grad=mg.ones(2))
    with pytest.raises(NotImplementedError, match="create_graph=True: no higher-order gradient for bincount"):
        mg.bincount(mg.tensor([0, 1]), weights=x).sum().backward(create_graph=True)   # an op without a rule
    with pytest.raises(RuntimeError, match="inputs` cannot be empty"):
        (x * x).sum().backward(inputs=[])
    with pytest.raises(RuntimeError, match="can't retain_grad on a tensor that has requires_grad=False"):
        (x * x).sum().backward(inputs=[mg.tensor([1.0])])
    with pytest.raises(RuntimeError, match="backward: element 1 of the tensors does not require grad"):
        autograd.backward([x.sum(), mg.tensor(1.0)])
    with pytest.raises(RuntimeError, match="got 2 tensors and 1 gradients"):
        autograd.backward([x.sum(), x.sum()], [mg.tensor(1.0)])
    with pytest.raises(TypeError, match="tensors must be a Tensor or a sequence of Tensors, got float"):
        autograd.backward(1.0)
    with pytest.warns(FutureWarning, match="grad_variables"):
        autograd.backward(x.sum(), grad_variables=mg.tensor(2.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        with pytest.raises(RuntimeError, match="grad_tensors and grad_variables"):
            autograd.backward(x.sum(), mg.tensor(1.0), grad_variables=mg.tensor(1.0))
    assert x.grad.numpy().tolist() == [8.0, 14.0]


def test_an_error_in_a_restricted_walk_changes_no_grad() -> None:
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h.register_hook(lambda g: mg.zeros(3))   # the wrong shape: HookError before any .grad changes
    with pytest.raises(mg.HookError):
        (h * h).sum().backward(inputs=[x])
    assert x.grad is None


# --- retains_grad, retain_grad and post-accumulate-grad hooks ------------------------------------------------------

def test_retains_grad_is_torchs(torch: Any) -> None:
    ours, theirs = _pair(torch, X, W, B)
    for lib, leaves in ((mg, ours), (torch, theirs)):
        h, z, _ = _net(lib, *leaves)
        assert not h.retains_grad and not leaves[0].retains_grad
        h.retain_grad()
        leaves[0].retain_grad()   # a leaf keeps its .grad anyway: nothing changes
        assert h.retains_grad and not leaves[0].retains_grad and not z.retains_grad
        with pytest.raises(RuntimeError, match="can't retain_grad on (a )?[Tt]ensor that has requires_grad=False"):
            lib.zeros(2).retain_grad()


def test_post_accumulate_grad_hooks_run_after_accumulation_as_torch(torch: Any) -> None:
    ours, theirs = _pair(torch, X, W, B)
    seen: dict = {"mg": [], "torch": []}
    for name, lib, leaves in (("mg", mg, ours), ("torch", torch, theirs)):
        w = leaves[1]

        def step(t: Any, name: str = name, lib: Any = lib) -> None:   # an optimizer step, as PyTorch's examples
            seen[name].append(t.grad.detach().numpy().copy())
            with lib.no_grad():
                t -= 0.1 * t.grad
            t.grad = None

        handle = w.register_post_accumulate_grad_hook(step)
        assert isinstance(handle, mg.RemovableHandle if lib is mg else torch.utils.hooks.RemovableHandle)
        _net(lib, *leaves)[2].backward()
        _net(lib, *leaves)[2].backward(inputs=[leaves[0]])   # w not among the inputs: its hook does not run
        handle.remove()
        _net(lib, *leaves)[2].backward()
    assert len(seen["mg"]) == len(seen["torch"]) == 1
    np.testing.assert_allclose(seen["mg"][0], seen["torch"][0], rtol=1e-12)
    _assert_all_close([t.detach() for t in ours] + _grads(ours), [t.detach() for t in theirs] + _grads(theirs),
                      "values and grads")


def test_post_accumulate_grad_hook_errors_as_torch(torch: Any) -> None:
    for lib in (mg, torch):
        x = lib.ones(2, requires_grad=True)
        with pytest.raises(RuntimeError, match="non-leaf"):
            (x * 2).register_post_accumulate_grad_hook(lambda t: None)
        with pytest.raises(RuntimeError, match="doesn't require gradient"):
            lib.ones(2).register_post_accumulate_grad_hook(lambda t: None)
        x.register_post_accumulate_grad_hook(lambda t: 5)
        with pytest.raises(TypeError):
            (x * 2).sum().backward()
    x = mg.ones(2, requires_grad=True)
    x.register_post_accumulate_grad_hook(lambda t: 5)
    with pytest.raises(mg.HookError, match="returned a int; it must return None"):
        (x * 2).sum().backward()
    assert x.grad.numpy().tolist() == [2.0, 2.0]   # the hook runs after the accumulation


@pytest.mark.gpu
def test_grad_and_backward_inputs_on_a_gpu() -> None:
    x = mg.tensor(X, device="cuda", requires_grad=True)
    w = mg.tensor(W, device="cuda", requires_grad=True)
    unused = mg.zeros(2, device="cuda", requires_grad=True)
    h = (w @ x).tanh()
    loss = (h * h).sum()
    gx, gh, gu = autograd.grad(loss, [x, h, unused], retain_graph=True, materialize_grads=True)
    assert gx.device == gh.device == gu.device == x.device and gu.numpy().tolist() == [0.0, 0.0]
    loss.backward(inputs=[w])
    assert x.grad is None and w.grad.device == w.device
    cpu = [mg.tensor(X, requires_grad=True), mg.tensor(W, requires_grad=True)]
    h_cpu = (cpu[1] @ cpu[0]).tanh()
    expected = autograd.grad((h_cpu * h_cpu).sum(), [cpu[0], h_cpu, cpu[1]])
    for got, want in zip((gx, gh, w.grad), expected):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-7)
