"""Round 16: leftovers of round 15 (constructors without a size, unsqueeze strides, second-order grads through
constant conv weights, saved views, addcmul/addcdiv of integers, xlogy/atan2 Hessians), compared with PyTorch 2.13."""
import numpy as np
import pytest

import minigrad as mg
import nn.functional as F

torch = pytest.importorskip("torch", reason="no torch")


def _raises_like(call_ours, call_theirs) -> None:
    """Both raise, with the same exception class."""
    with pytest.raises(Exception) as theirs:
        call_theirs()
    with pytest.raises(Exception) as ours:
        call_ours()
    assert isinstance(ours.value, theirs.type), (ours.value, theirs.value)


# --- 1. zeros()/ones()/empty()/full()/x.new_zeros() need a size, as PyTorch's -----------------------------

@pytest.mark.parametrize("name", ["zeros", "ones", "empty"])
def test_filled_constructors_need_a_size(name: str) -> None:
    _raises_like(lambda: getattr(mg, name)(), lambda: getattr(torch, name)())
    _raises_like(lambda: getattr(mg, name)(dtype=mg.float64), lambda: getattr(torch, name)(dtype=torch.float64))
    for make in (lambda lib: getattr(lib, name)(()), lambda lib: getattr(lib, name)(size=())):
        assert make(mg).shape == tuple(make(torch).shape) == ()
    _raises_like(lambda: getattr(mg.ones(2), f"new_{name}")(), lambda: getattr(torch.ones(2), f"new_{name}")())
    assert getattr(mg.ones(2), f"new_{name}")(()).shape == ()


def test_full_needs_a_size() -> None:
    _raises_like(lambda: mg.full(fill_value=2), lambda: torch.full(fill_value=2))
    assert mg.full((), 2).shape == () and mg.full((), 2).dtype == mg.int64


# --- 2. unsqueeze keeps the input's strides and gives the new dim PyTorch's ------------------------------------

def _layout(lib, name: str):
    if name == "T":   # (4, 3) with strides (1, 4)
        return lib.arange(12.0).reshape(3, 4).t()
    if name == "size1_permuted":   # (1, 2, 2) with strides (1, 2, 1)
        return lib.arange(4.0).reshape(2, 2, 1).permute(2, 0, 1)
    if name == "sliced":
        return lib.arange(24.0).reshape(2, 3, 4)[..., ::2]
    return lib.arange(0.0).reshape(0, 3).t()   # "empty_T"


UNSQUEEZES = [(layout, dim) for layout in ("T", "size1_permuted", "sliced", "empty_T") for dim in (0, 1, -1, -2)]


@pytest.mark.parametrize("layout, dim", UNSQUEEZES)
def test_unsqueeze_strides_are_pytorchs(layout: str, dim: int) -> None:
    x, t = _layout(mg, layout), _layout(torch, layout)
    assert x.stride() == t.stride()
    y, u = x.unsqueeze(dim), t.unsqueeze(dim)
    assert (y.shape, y.stride(), y.is_contiguous()) == (tuple(u.shape), u.stride(), u.is_contiguous())
    if u.numel():   # (strides of empty tensors are NumPy's: a dim moved or added next to a 0-size one can differ)
        assert y.transpose(0, -1).stride() == u.transpose(0, -1).stride()   # the array's stride, not a report
        assert (y[None].stride(), y[:, None].stride()) == (u[None].stride(), u[:, None].stride())
    x2, t2 = _layout(mg, layout), _layout(torch, layout)
    assert x2.unsqueeze_(dim).stride() == t2.unsqueeze_(dim).stride()


@pytest.mark.parametrize("layout, dim", [("T", 0), ("T", 1), ("T", -1), ("sliced", 1)])
def test_unsqueeze_of_a_strided_tensor_stays_a_recorded_view(layout: str, dim: int) -> None:
    leaf, tleaf = _layout(mg, layout).requires_grad_(), _layout(torch, layout).requires_grad_()
    x, t = leaf * 1, tleaf * 1
    y, u = x.unsqueeze(dim), t.unsqueeze(dim)
    y.mul_(3)   # writes through to x, whose graph then goes through the mul_
    u.mul_(3)
    assert y.data.base is not None and (x.numpy() == t.detach().numpy()).all()
    if u.is_contiguous():
        assert y.view(-1).stride() == u.view(-1).stride()
    (x * x).sum().backward()
    (t * t).sum().backward()
    assert (leaf.grad.numpy() == tleaf.grad.numpy()).all()


def test_compile_replays_an_unsqueeze_of_a_transposed_tensor() -> None:
    import warnings

    from minigrad.compile import CompileWarning

    def fn(x: mg.Tensor, index: mg.Tensor) -> mg.Tensor:
        return x.gather(1, index.t().unsqueeze(-1).expand(-1, -1, 1).squeeze(-1))

    compiled = mg.compile(fn)
    x, index = mg.arange(12.0).reshape(3, 4), mg.tensor([[0, 1, 2], [3, 0, 1]])
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        for _ in range(3):
            assert (compiled(x, index).numpy() == fn(x, index).numpy()).all()


# --- 3. second derivatives through a convolution or grid_sample with a constant weight (grid) -------------------

def _conv_case(lib, name: str, wants: str):
    """(the tensor differentiated, the output): ``wants`` the input ("x") or the weight ("w") to require grad."""
    rs = np.random.default_rng(0)
    functional = F if lib is mg else torch.nn.functional
    shapes = {"conv1d": ((2, 3, 7), (4, 3, 3)), "conv2d": ((2, 4, 5, 5), (4, 2, 3, 3)),
              "conv_transpose1d": ((2, 3, 7), (3, 4, 3)), "grid_sample": ((1, 2, 4, 5), (1, 3, 3, 2))}[name]
    x, w = (lib.tensor(rs.uniform(-1, 1, shape), requires_grad=wants == which) for shape, which in zip(shapes, "xw"))
    keywords = {"align_corners": False} if name == "grid_sample" else {"groups": 2} if name == "conv2d" else {}
    return (x if wants == "x" else w), getattr(functional, name)(x, w, **keywords)


@pytest.mark.parametrize("name, wants", [("conv1d", "x"), ("conv1d", "w"), ("conv2d", "x"), ("conv_transpose1d", "x"),
                                         ("conv_transpose1d", "w"), ("grid_sample", "x")])
def test_second_derivative_through_a_constant_weight_is_unused_as_pytorchs(name: str, wants: str) -> None:
    for lib in (mg, torch):
        leaf, out = _conv_case(lib, name, wants)
        g, = lib.autograd.grad(out.sum(), leaf, create_graph=True)
        assert g.requires_grad   # PyTorch's backward of these takes the input and the weight
        assert lib.autograd.grad(g.sum(), leaf, allow_unused=True, retain_graph=True) == (None,)
        zeros, = lib.autograd.grad(g.sum(), leaf, retain_graph=True, materialize_grads=True)
        assert not zeros.detach().numpy().any()
        with pytest.raises(RuntimeError, match="used"):
            lib.autograd.grad(g.sum(), leaf)


# --- 5. addcmul/addcdiv's value converted to the tensors' dtype, as PyTorch's Scalar ------------------------------

@pytest.mark.parametrize("name, dtype, value", [
    ("addcmul", "int64", 0.5), ("addcmul", "int64", -1.5), ("addcmul", "int8", 2.7), ("addcmul", "uint8", -1),
    ("addcmul", "int32", True), ("addcmul", "int64", np.int64(3)), ("addcmul", "int8", np.int64(3)),
    ("addcmul", "float32", np.float64(0.5)), ("addcmul", "int64", 1 + 0j), ("addcdiv", "float32", True),
    ("addcdiv", "float32", np.float64(0.5)), ("addcmul", "int8", 300), ("addcmul", "int8", -129),
    ("addcmul", "uint8", -0.5), ("addcmul", "int64", float("nan")), ("addcmul", "float32", 1e300),
    ("addcdiv", "float32", 1e300), ("addcmul", "float32", 1j)])
@pytest.mark.parametrize("in_place", [False, True])
def test_addcmul_addcdiv_value_is_converted_as_pytorchs(name: str, dtype: str, value, in_place: bool) -> None:
    def call(lib):
        x, t1, t2 = (lib.tensor(v).to(getattr(lib, dtype)) for v in ([3, 1, 0, 2], [2, 1, 3, 1], [1, 2, 1, 3]))
        return getattr(x, name + "_")(t1, t2, value=value) if in_place else getattr(lib, name)(x, t1, t2, value=value)
    try:
        theirs = call(torch)
    except RuntimeError:
        with pytest.raises(RuntimeError, match=name):
            call(mg)
        return
    ours = call(mg)
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


# --- 6. Hessians of atan2 and xlogy at their singular points ----------------------------------------------------

@pytest.mark.parametrize("name, point", [("atan2", (0.0, 0.0)), ("atan2", (-0.0, 0.0)), ("atan2", (1e-200, 1e-200)),
                                         ("atan2", (0.0, 1e-170)), ("atan2", (1.0, 2.0)), ("xlogy", (0.0, 0.0)),
                                         ("xlogy", (0.0, -1.0)), ("xlogy", (0.0, 2.0)), ("xlogy", (1.0, 0.0))])
def test_hessian_at_a_singular_point_is_pytorchs(name: str, point: tuple) -> None:
    """atan2 at the origin (or where a² + b² underflows): PyTorch's masked 1 / (a² + b²) differentiates to
    0 · inf = NaN, so its Hessian there is NaN (was 0 here)."""
    def hessian(lib):
        return lib.autograd.functional.hessian(lambda v: getattr(lib, name)(v[0], v[1]),
                                               lib.tensor(point, dtype=lib.float64)).detach().numpy()
    np.testing.assert_allclose(hessian(mg), hessian(torch), rtol=1e-12, atol=0)   # NaN where NaN


@pytest.mark.parametrize("layout", ["T", "size1_permuted", "sliced"])
@pytest.mark.parametrize("index", [(None,), (slice(None), None), (Ellipsis, None), (0, None),
                                   (None, slice(1, None), None), (slice(None, None, 2), None, Ellipsis)])
def test_none_index_strides_are_pytorchs_also_after_a_permute(layout: str, index: tuple) -> None:
    """NumPy gives a None dim stride 0, which stride() reads as PyTorch's only until a permute moves it."""
    x, t = _layout(mg, layout), _layout(torch, layout)
    y, u = x[index], t[index]
    reverse = tuple(reversed(range(u.ndim)))
    assert (y.stride(), y.permute(*reverse).stride()) == (u.stride(), u.permute(*reverse).stride())
    np.testing.assert_array_equal(y.numpy(), u.numpy())
