"""Round 15, found by the lead while integrating: fixes too small for a file of their own."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.gradcheck import GradcheckError


def test_gradcheck_perturbs_an_input_of_any_layout() -> None:
    """gradcheck perturbed ``x.data.reshape(-1)``, a copy for a transposed input (``mg.tensor(a.T)`` keeps its
    layout, as PyTorch's), so every numerical derivative came out 0 and a right gradient was reported wrong."""
    a = np.random.default_rng(0).standard_normal((3, 4))
    x = mg.tensor(a.T, requires_grad=True)
    assert not x.is_contiguous()
    assert mg.autograd.gradcheck(lambda t: (t ** 3 * mg.arange(3.0, dtype=mg.float64)).sum(), (x,))
    np.testing.assert_array_equal(x.detach().numpy(), a.T)   # put back exactly
    with pytest.raises(GradcheckError, match="input 0"):
        mg.autograd.gradcheck(WrongCube.apply, (x,))


class WrongCube(mg.autograd.Function):
    """x ** 3 with a backward off by a factor of 2, which gradcheck must catch."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        return gy * 6 * x ** 2


def test_rand_and_randn_need_a_size_as_in_pytorch(torch) -> None:
    for name in ("rand", "randn"):
        with pytest.raises(TypeError):
            getattr(torch, name)()
        with pytest.raises(TypeError, match=f"{name}.*size"):
            getattr(mg, name)()
        for size in ((), []):
            assert getattr(mg, name)(size).shape == tuple(getattr(torch, name)(size).shape) == ()
        assert getattr(mg, name)(size=()).shape == ()
        assert getattr(mg, name)(0).shape == (0,)


def test_random_ops_of_a_0d_tensor_still_draw() -> None:
    x = mg.tensor(0.5)
    assert mg.rand_like(x).shape == mg.randn_like(x).shape == ()
    assert mg.nn.functional.dropout(x, 0.5).shape == ()
    assert mg.nn.functional.rrelu(mg.tensor(-1.0), training=True).shape == ()
    assert mg.distributions.Normal(mg.tensor(0.0), mg.tensor(1.0)).sample().shape == ()
    assert mg.distributions.Uniform(mg.tensor(0.0), mg.tensor(1.0)).rsample().shape == ()


@pytest.mark.parametrize("call", [
    lambda L, a: L.maximum(a, L.ones(3), out=a),
    lambda L, a: L.add(L.ones(3), a, out=a),
    lambda L, a: L.mul(a, L.ones(2, 1), out=a),
    lambda L, a: L.atan2(a, L.ones(3), out=a),
    lambda L, a: L.div(a, L.ones(3), out=a),
], ids=["maximum", "add", "mul", "atan2", "div"])
def test_an_elementwise_op_given_an_input_as_out_does_not_resize_it(torch, call) -> None:
    """``maximum(a, b, out=a)`` is ``a.maximum_(b)`` in PyTorch: a (1,) a cannot become (3,). minigrad resized the
    input silently."""
    with pytest.raises(RuntimeError, match=r"output with shape \[1\] doesn't match the broadcast shape"):
        call(torch, torch.ones(1))
    a = mg.ones(1)
    with pytest.raises(RuntimeError, match=r"output with shape \[1\] doesn't match the broadcast shape"):
        call(mg, a)
    assert a.shape == (1,) and a.tolist() == [1.0]


def test_a_reduction_given_its_input_as_out_still_resizes_it_as_in_pytorch(torch) -> None:
    """Where PyTorch's result is right (logsumexp, composed of other ops). aminmax's (this test's first subject)
    is the input's first element, which arange(3)'s min happened to be: refused since round 25
    (tests/test_reduce_self_out_round25.py)."""
    ours, theirs = mg.tensor([[0.0, 1.0], [2.0, 5.0]]), torch.tensor([[0.0, 1.0], [2.0, 5.0]])
    mg.logsumexp(ours, 1, out=ours)
    torch.logsumexp(theirs, 1, out=theirs)
    assert ours.shape == tuple(theirs.shape) == (2,) and ours.tolist() == pytest.approx(theirs.tolist())
    x = mg.arange(3.0)
    with pytest.raises(RuntimeError, match="aminmax.*single memory location"):
        mg.aminmax(x, dim=0, out=(x, mg.empty(0)))


def test_linear_with_a_bias_of_the_wrong_size_names_linear(torch) -> None:
    with pytest.raises(RuntimeError):
        torch.nn.functional.linear(torch.ones(2, 3), torch.ones(4, 3), torch.ones(5))
    with pytest.raises(RuntimeError, match=r"linear: a bias of shape \(5,\) does not broadcast .*\(2, 4\)"):
        mg.nn.functional.linear(mg.ones(2, 3), mg.ones(4, 3), mg.ones(5))


@pytest.mark.parametrize("make", [
    lambda L, a: L.tensor(a), lambda L, a: L.as_tensor(a), lambda L, a: L.from_numpy(a),
    lambda L, a: L.zeros(2, dtype=a.dtype), lambda L, a: L.ones(2).to(a.dtype),
], ids=["tensor", "as_tensor", "from_numpy", "zeros", "to"])
@pytest.mark.parametrize("wide", [np.longdouble, np.clongdouble], ids=["longdouble", "clongdouble"])
def test_numpys_extended_precision_is_refused_as_in_pytorch(torch, make, wide) -> None:
    """``mg.tensor(np.ones(2, np.longdouble))`` made a float128 Tensor that no PyTorch program can have."""
    a = np.ones(2, wide)
    if a.dtype.itemsize <= (8 if a.dtype.kind == "f" else 16):
        pytest.skip("on this platform NumPy's longdouble is float64")
    with pytest.raises(TypeError):
        make(torch, a)
    with pytest.raises(TypeError, match="float64 and complex128|wider than any PyTorch dtype"):
        make(mg, a)


def test_the_second_derivative_of_a_real_abs_is_zero(torch) -> None:
    """The complex |z| rule was registered for real abs too, so d²|x|/dx² came out ~1e-7 in float32 (x / |x|
    differentiated), where PyTorch gives 0."""
    values = [-1.5, 0.3, 2.0]
    x = mg.tensor(values, requires_grad=True)
    (g,) = mg.autograd.grad(x.abs().sum(), x, create_graph=True)
    (h,) = mg.autograd.grad((g * mg.arange(1.0, 4.0)).sum(), x, materialize_grads=True, allow_unused=True)
    tx = torch.tensor(values, requires_grad=True)
    (tg,) = torch.autograd.grad(tx.abs().sum(), tx, create_graph=True)
    (th,) = torch.autograd.grad((tg * torch.arange(1.0, 4.0)).sum(), tx, materialize_grads=True, allow_unused=True)
    assert h.tolist() == (th + 0).tolist() == [0.0, 0.0, 0.0]   # th: a materialized zero without storage


@pytest.mark.parametrize("module, padding, shape", [
    ("ReflectionPad3d", (-2,) * 6, (5, 4, 4, 4, 4)),
    ("ReplicationPad3d", (-2,) * 6, (5, 4, 4, 4, 4)),
    ("ReflectionPad2d", (-2, -2, -2, -2), (1, 2, 4, 4)),
    ("ReflectionPad3d", (-2, -2, 1, -2, 1, -2), (4, 1, 5, 5)),
])
def test_padding_modules_refuse_what_pytorch_refuses(torch, module, padding, shape) -> None:
    """Padding that empties every padded dim, or a reflect pad as large as the dim it empties, gave empty
    results where PyTorch raises."""
    with pytest.raises(RuntimeError):
        getattr(torch.nn, module)(padding)(torch.ones(shape))
    with pytest.raises(RuntimeError, match=module):
        getattr(mg.nn, module)(padding)(mg.ones(shape))


def test_padding_modules_still_empty_one_dim_as_pytorch(torch) -> None:
    for module, padding, shape in [("ReplicationPad3d", (-2, -2, 1, -2, 1, -2), (4, 1, 5, 5)),
                                   ("ReflectionPad2d", (-2, -2, 0, 0), (1, 2, 4, 4))]:
        ours = getattr(mg.nn, module)(padding)(mg.ones(shape))
        assert ours.shape == tuple(getattr(torch.nn, module)(padding)(torch.ones(shape)).shape)


def test_square_is_differentiable_to_any_order_as_pytorchs_pow(torch) -> None:
    results = []
    for lib in (mg, torch):
        x = lib.tensor([1.5, -2.0], dtype=lib.float64, requires_grad=True)
        (g1,) = lib.autograd.grad(lib.square(x).sum(), x, create_graph=True)
        (g2,) = lib.autograd.grad(g1.sum(), x, create_graph=True)
        (g3,) = lib.autograd.grad(g2.sum(), x, allow_unused=True, materialize_grads=True)
        results.append([g1.tolist(), g2.tolist(), (g3 + 0).tolist()])
    assert results[0] == results[1] == [[3.0, -4.0], [2.0, 2.0], [0.0, 0.0]]


@pytest.mark.parametrize("pool, shape", [("avg_pool1d", (1, 2, 4)), ("avg_pool2d", (1, 2, 4, 4)),
                                         ("avg_pool3d", (1, 1, 4, 4, 4))])
def test_avg_pool_gradient_can_be_differentiated_again_as_pytorchs(torch, pool, shape) -> None:
    """PyTorch's avg-pool backward reads its input (its derivative there is zeros), so the gradient requires grad
    under create_graph and a second grad gives zeros; minigrad's gradient was a constant and the second grad
    raised."""
    results = []
    for lib, functional in ((mg, mg.nn.functional), (torch, torch.nn.functional)):
        x = lib.ones(*shape, dtype=lib.float64, requires_grad=True)
        (g1,) = lib.autograd.grad((getattr(functional, pool)(x, 2) * 3).sum(), x, create_graph=True)
        (g2,) = lib.autograd.grad(g1.sum(), x)
        results.append((g1.requires_grad, (g1 + 0).sum().item(), (g2 + 0).abs().sum().item()))
    assert results[0] == results[1]


@pytest.mark.parametrize("pool, shape, size", [("adaptive_avg_pool2d", (1, 6, 7, 7), (3, 3)),
                                               ("adaptive_avg_pool2d", (1, 6, 6, 6), (3, 3)),
                                               ("adaptive_avg_pool3d", (2, 4, 5, 5, 5), (2, 3, 2))])
def test_adaptive_average_pools_give_c_order_as_pytorch(torch, pool, shape, size) -> None:
    """The round-15 window sums left the pooled dims transposed in memory, so Show-Attend-Tell's
    ``grid.permute(0, 2, 3, 1).view(1, -1, D)`` raised where PyTorch's view works."""
    x = mg.randn(*shape)
    ours = getattr(mg.nn.functional, pool)(x, size)
    theirs = getattr(torch.nn.functional, pool)(torch.tensor(x.numpy()), size)
    assert ours.stride() == theirs.stride()
    channels_last = (0, *range(2, x.ndim), 1)
    assert ours.permute(*channels_last).view(shape[0], -1, shape[1]).shape[1] == theirs[0, 0].numel()
