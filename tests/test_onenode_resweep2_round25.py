"""Round 25 resweep (part 2) of the round's one-op rewrites against torch 2.13: addcdiv/addcmul (c1aaaa46,
faabe870), float16 lerp (7281e121), prelu (58b7d085), instance_norm (d09ddd32), channels-last group_norm
(30747271). Each cell pins a difference the sweep found."""

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")

_VALUES = {"c": [[1.0 + 2j, 0.5 - 1j], [0.3 + 1j, 2.0], [1.5, -2.0 + 1j]], "f": [[1.0, 0.5], [0.3, 2.0], [1.5, -2.0]]}


@pytest.mark.parametrize("name, value, kinds", [
    ("addcdiv", 3, "cff"), ("addcmul", 2, "cff"), ("addcmul", 1, "ccc"), ("addcdiv", 0.5 + 1j, "ccc"),
    ("addcmul", -1, "fcf")])
def test_addc_complex_second_derivatives(name: str, value: complex, kinds: str) -> None:
    """create_graph through the one-op addcdiv/addcmul with complex values: their rules had no complex variant
    (NotImplementedError; the add/mul/div composites they replaced had one)."""
    results = []
    for lib in (mg, torch):
        dtypes = {"c": lib.complex128, "f": lib.float64}
        xs = [lib.tensor(_VALUES[k][i], dtype=dtypes[k]).requires_grad_() for i, k in enumerate(kinds)]
        y = getattr(lib, name)(*xs, value=value)
        grads = lib.autograd.grad((y * y.conj()).real.sum(), xs, create_graph=True)
        second = lib.autograd.grad(sum((g * g.conj()).real.sum() for g in grads), xs)
        results.append([np.asarray(t.detach().numpy()) for t in (*grads, *second)])
    for ours, theirs in zip(*results):
        assert ours.dtype == theirs.dtype
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kwargs", [{"use_input_stats": False}, {}, {"use_input_stats": False, "shape": (2, 3)}])
def test_instance_norm_momentum_none_is_a_type_error_first(kwargs: dict) -> None:
    """momentum=None is PyTorch's TypeError (its parser's, before any other check): without running estimates and
    use_input_stats=False it was the RuntimeError about the missing estimates (d09ddd32's sweep missed it)."""
    shape = kwargs.pop("shape", (2, 3, 4))
    with pytest.raises(TypeError, match="momentum"):
        torch.nn.functional.instance_norm(torch.ones(shape), momentum=None, **kwargs)
    with pytest.raises(TypeError, match="momentum"):
        mg.nn.functional.instance_norm(mg.ones(shape), momentum=None, **kwargs)


@pytest.mark.parametrize("shape", [(3, 3, 1), (3, 3)])
def test_instance_norm_spatial_check_before_momentum(shape: tuple) -> None:
    """With the input's statistics F.instance_norm's spatial-size check (ValueError) runs before torch.instance_norm's
    parser reads momentum, so one spatial element with momentum=None is the ValueError, as PyTorch's."""
    with pytest.raises(ValueError):
        torch.nn.functional.instance_norm(torch.ones(shape), momentum=None)
    with pytest.raises(ValueError):
        mg.nn.functional.instance_norm(mg.ones(shape), momentum=None)


@pytest.mark.parametrize("name", ["addcmul", "addcdiv"])
@pytest.mark.parametrize("kinds", [("complex128", "complex128", "float32"), ("complex128", "float32", "complex128"),
                                   ("float64", "float32", "complex64")])
def test_addc_complex_gradients_keep_real_tensors_own_dtype(name: str, kinds: tuple) -> None:
    """Beside complex tensors a real float32 tensor's products with the value are float32 before they meet the
    complex gradient, as PyTorch's formulas (g * (t2 * value), g * (value / t2)); they were in the complex common
    dtype (float64 precision): not PyTorch's bits."""
    values = [[0.1 + 0.3j, -1.7], [0.7 - 0.2j, 1.3 + 0.1j], [0.3, -0.9 + 0.4j]]
    theirs = [torch.tensor([v if "complex" in k else v.real for v in vs], dtype=getattr(torch, k)).requires_grad_()
              for vs, k in zip(values, kinds)]
    ours = [mg.tensor(t.detach().numpy()).requires_grad_() for t in theirs]
    y = getattr(torch, name)(*theirs, value=2.3)
    g = torch.tensor([0.7 + 0.1j, -1.1 - 0.6j], dtype=y.dtype)
    y.backward(g)
    getattr(mg, name)(*ours, value=2.3).backward(mg.tensor(g.numpy()))
    for o, t in zip(ours, theirs):
        np.testing.assert_array_equal(o.grad.numpy(), t.grad.numpy())


@pytest.mark.parametrize("name", ["addcmul", "addcdiv"])
@pytest.mark.parametrize("value", [1, 2.5])
def test_addc_float16_is_one_node(name: str, value: float) -> None:
    """Three float16 tensors: one AddcmulBackward0/AddcdivBackward0 node whose hooks see float16 gradients, as
    PyTorch's (it was a ToCopyBackward0 over the float32 op, with float32 tensors' casts under it); values and
    gradients bit for bit as torch's, the input's broadcast gradient summed in float32."""
    arrays = [np.array(v, dtype=np.float16) for v in ([[1.5], [-0.25]], [0.75, 2.0, 0.1], [[1.25, -3.0, 0.3]])]
    results = []
    for lib in (mg, torch):
        xs = [lib.tensor(a).requires_grad_() for a in arrays]
        y = getattr(lib, name)(*xs, value=value)
        seen = []
        y.register_hook(lambda g, seen=seen: seen.append(str(g.dtype).split(".")[-1]))
        y.backward(lib.tensor(np.array([[0.3, -1.7, 2.1], [0.9, 0.01, -0.4]], dtype=np.float16)))
        results.append((y.grad_fn.name(), seen, [t.detach().numpy() for t in (y, *(x.grad for x in xs))]))
    (node, seen, arrays_m), (node_t, seen_t, arrays_t) = results
    assert (node, seen) == (node_t, seen_t)
    for ours, theirs in zip(arrays_m, arrays_t):
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("weight", [0.7, 0.3, "tensor"])
def test_lerp_float16_is_one_node(weight: object) -> None:
    """float16 lerp: one LerpBackward0/LerpBackward1 node on the float16 tensors (hooks see float16), as PyTorch's;
    it was a ToCopyBackward0 over a float32 Lerp (7281e121 kept the casts). Values and gradients bit for bit."""
    arrays = [np.array(v, dtype=np.float16) for v in ([[1.5], [-0.25]], [0.75, 2.0, 0.1], [[0.3, 0.8, -0.2]])]
    results = []
    for lib in (mg, torch):
        xs = [lib.tensor(a).requires_grad_() for a in arrays]
        y = lib.lerp(xs[0], xs[1], xs[2] if weight == "tensor" else weight)
        seen = []
        y.register_hook(lambda g, seen=seen: seen.append(str(g.dtype).split(".")[-1]))
        y.backward(lib.tensor(np.array([[0.3, -1.7, 2.1], [0.9, 0.01, -0.4]], dtype=np.float16)))
        grads = [x.grad for x in xs if x.grad is not None]
        results.append((y.grad_fn.name(), seen, [t.detach().numpy() for t in (y, *grads)]))
    (node, seen, arrays_m), (node_t, seen_t, arrays_t) = results
    assert (node, seen) == (node_t, seen_t)
    assert len(arrays_m) == len(arrays_t)
    for ours, theirs in zip(arrays_m, arrays_t):
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("shape, affine", [((2, 4, 3, 2), False), ((2, 4, 2, 3, 2), True)])
def test_group_norm_channels_last_create_graph_gradient_layout(shape: tuple, affine: bool) -> None:
    """create_graph=True through channels-last group_norm: x's gradient channels-last, as PyTorch's (and as the
    first-order backward since 30747271); its rule gave C order. Values as torch's."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    fmt = "channels_last" if len(shape) == 4 else "channels_last_3d"
    wb = [rng.standard_normal(shape[1]) for _ in range(2)] if affine else [None, None]
    results = []
    for lib in (mg, torch):
        xt = lib.tensor(x).contiguous(memory_format=getattr(lib, fmt)).requires_grad_()
        params = [None if p is None else lib.tensor(p) for p in wb]
        y = lib.nn.functional.group_norm(xt, 2, *params)
        (gx,) = lib.autograd.grad((y * y * y).sum(), xt, create_graph=True)
        results.append((tuple(gx.stride()), gx.detach().numpy()))
    assert results[0][0] == results[1][0]
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["addcmul", "addcdiv"])
@pytest.mark.parametrize("dtypes", [("float64", "float64", "float16"), ("float64", "float32", "float64"),
                                    ("float32", "float16", "float32")])
def test_addc_create_graph_first_order_as_plain_and_torch(name: str, dtypes: tuple) -> None:
    """create_graph=True gives the first-order gradients create_graph=False gives (and PyTorch's): the one ops'
    rules computed the products with the value in the common dtype, where the backward rounds them in tensor1's and
    tensor2's own dtypes (391 of 648 mixed-dtype cases differed, float16 ones by up to 1e-3)."""
    arrays = [np.array([[0.3], [-1.1]]), np.array([0.7, 0.1, -0.45]), np.array([[1.3, -2.1, 0.7]])]
    results = []
    for lib, create_graph in ((mg, False), (mg, True), (torch, True)):
        xs = [lib.tensor(a).to(getattr(lib, d)).requires_grad_() for a, d in zip(arrays, dtypes)]
        y = getattr(lib, name)(*xs, value=0.1)
        grads = lib.autograd.grad((y * y).sum(), xs, create_graph=create_graph)
        results.append([g.detach().numpy() for g in grads])
    for plain, graphed, theirs in zip(*results):
        np.testing.assert_array_equal(graphed, plain)
        np.testing.assert_allclose(graphed, theirs, rtol=1e-6 if graphed.dtype != np.float16 else 1e-3)


@pytest.mark.parametrize("weight", [0.1, -0.2, "tensor"])
def test_lerp_float16_create_graph_first_order_as_plain(weight: object) -> None:
    """float16 lerp with create_graph=True: its first-order gradients as create_graph=False's and PyTorch's (each
    product in float32 rounded to float16, each broadcast sum in float32 rounded once); the rule computed in float16
    steps (a broadcast start's gradient one float16 ulp off)."""
    arrays = [np.array(v, dtype=np.float16) for v in ([0.3, -1.2, 0.45], [[0.7], [-0.35]], [[0.2, 0.9, -0.6]])]
    results = []
    for lib, create_graph in ((mg, False), (mg, True), (torch, True)):
        xs = [lib.tensor(a).requires_grad_() for a in arrays]
        inputs = xs if weight == "tensor" else xs[:2]
        y = lib.lerp(xs[0], xs[1], xs[2] if weight == "tensor" else weight)
        grads = lib.autograd.grad((y * y).sum(), inputs, create_graph=create_graph)
        results.append([g.detach().numpy() for g in grads])
    for plain, graphed, theirs in zip(*results):
        np.testing.assert_array_equal(graphed, plain)
        np.testing.assert_array_equal(graphed, theirs)


@pytest.mark.parametrize("kind", ["group_norm", "group_norm_channels_last", "layer_norm"])
def test_float16_norm_create_graph_runs_as_plain(kind: str) -> None:
    """float16 group_norm/layer_norm under create_graph=True: their rules cast with AsType("float32"), a string the
    cast no longer takes (AttributeError); now the first-order gradients equal create_graph=False's."""
    x = np.random.default_rng(0).standard_normal((2, 4, 3, 2))
    results = []
    for create_graph in (False, True):
        xt = mg.tensor(x).to(mg.float16)
        if kind == "group_norm_channels_last":
            xt = xt.contiguous(memory_format=mg.channels_last)
        xt.requires_grad_()
        weight = mg.ones(2 if kind == "layer_norm" else 4, dtype=mg.float16, requires_grad=True)
        y = (mg.nn.functional.layer_norm(xt, (2,), weight) if kind == "layer_norm"
             else mg.nn.functional.group_norm(xt, 2, weight))
        grads = mg.autograd.grad((y.float() * y.float() * mg.arange(48.0).reshape(x.shape)).sum(), [xt, weight],
                                 create_graph=create_graph)
        results.append([g.detach().numpy() for g in grads])
    for plain, graphed in zip(*results):
        assert graphed.dtype == plain.dtype == np.float16
        np.testing.assert_array_equal(graphed, plain)
