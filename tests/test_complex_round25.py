"""Complex values and autograd against PyTorch 2.13 (round 25 fuzz: values and gradients of complex64/complex128
elementwise ops, reductions, linear algebra, FFTs, promotion, views; see the round-25 notes in README)."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

Z = np.array([1 + 2j, 3 - 1j, -0.5 + 0.25j])


def _grad_of(lib, fn, z):
    leaf = lib.tensor(z, requires_grad=True)
    out = fn(lib, leaf)
    weight = lib.tensor(np.arange(1, out.numel() + 1).reshape(tuple(out.shape)) + 0.5j)
    ((out * weight).real if out.is_complex() else out * weight.real).sum().backward()
    return out.detach().numpy(), leaf.grad.numpy()


def _kept(view):
    def fn(lib, z):
        base = z * 1
        kept = view(lib, base)
        base.mul_(1j)   # an in-place change of the base re-reads the kept view
        return kept * 2
    return fn


# a real/imag/view_as_real view kept over an in-place write of its complex base: its backward raised AttributeError
# ('Real' object has no attribute 'grad_dtypes') since the view was read again with the dtype gate's variant class
VIEW_CASES = {
    "real": _kept(lambda lib, b: b.real),
    "imag": _kept(lambda lib, b: b.imag),
    "view_as_real": _kept(lambda lib, b: lib.view_as_real(b)),
    "write_through_view_as_real": lambda lib, z: (lambda r: (r.mul_(3), lib.view_as_complex(r))[-1])(
        lib.view_as_real(z * 1)),
}


@pytest.mark.parametrize("name", sorted(VIEW_CASES))
def test_views_of_a_complex_base_written_in_place(name):
    torch = pytest.importorskip("torch")
    ours, theirs = _grad_of(mg, VIEW_CASES[name], Z), _grad_of(torch, VIEW_CASES[name], Z)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12)


TINY = np.array([1e-310 + 0j, -1e-310j, 3e-320 - 4e-320j, 1e-200j, 1 + 1j, 0j])


@pytest.mark.parametrize("op", ["abs", "vector_norm_1", "vector_norm_inf"])
def test_abs_gradient_at_subnormal_complex_values(op):
    # d|z| = z/|z|: NumPy's complex division by a subnormal |z| gave inf+nan·1j, a NaN gradient. PyTorch's
    # vectorised CPU loop gives NaN there too, its scalar loop z/|z| (which element gets which depends on the
    # length): the unit z/|z| is the gradient, and the normal elements are PyTorch's
    fn = {"abs": lambda lib, z: z.abs(),
          "vector_norm_1": lambda lib, z: lib.linalg.vector_norm(z.reshape(-1, 1), 1, dim=1),
          "vector_norm_inf": lambda lib, z: lib.linalg.vector_norm(z.reshape(-1, 1), float("inf"), dim=1)}[op]
    _, grad = _grad_of(mg, fn, TINY)
    weight = np.arange(1, TINY.size + 1)
    unit = np.array([1, -1j, 0.6 - 0.8j, 1j, (1 + 1j) / np.sqrt(2), 0])
    np.testing.assert_allclose(grad, weight * unit, rtol=1e-14)
    torch = pytest.importorskip("torch")
    np.testing.assert_allclose(grad[3:], _grad_of(torch, fn, TINY)[1][3:], rtol=1e-12)


def test_angle_gradient_where_the_squared_modulus_underflows():
    # d angle(z) = i z / |z|²: |z|² of 1e-200j underflowed to 0 and the gradient read 0 (PyTorch: NaN), and |z|² of
    # 1e300+1e300j overflowed to inf (0 here and in PyTorch); computed as (i z / |z|) / |z|, both are finite
    z = mg.tensor(np.array([1e-200j, 3e-170 + 4e-170j, 1e300 + 1e300j, 1 - 1j, 0j]), requires_grad=True)
    mg.angle(z).sum().backward()
    expected = [-1e200, (-0.8 + 0.6j) / 5e-170, (-1 + 1j) / 2e300, 0.5 + 0.5j, 0]
    np.testing.assert_allclose(z.grad.numpy(), expected, rtol=1e-14, atol=0)


def _custom_functions(lib):
    class Square(lib.autograd.Function):   # PyTorch's convention: grad · conj(dy/dz)
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * g * x.conj()

    class SquareWithoutConj(Square):   # the classic mistake: gradcheck must say so, as PyTorch's
        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * g * x

    class Modulus(lib.autograd.Function):   # complex in, real out
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.abs()

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x / x.abs()

    return Square, SquareWithoutConj, Modulus


@pytest.mark.parametrize("which", [0, 1, 2])
def test_custom_functions_of_complex_values_run_their_backward_as_pytorch(which):
    # a PyTorch-style Function met by a complex value raised NotImplementedError ("has no complex gradient yet");
    # PyTorch runs its backward as written (the author's Wirtinger convention), and gradcheck judges it
    torch = pytest.importorskip("torch")
    ours = _grad_of(mg, lambda lib, z: _custom_functions(lib)[which].apply(z), Z)
    theirs = _grad_of(torch, lambda lib, z: _custom_functions(lib)[which].apply(z), Z)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12)
    # torch.autograd.gradcheck's verdicts: True, False (the missing conj), True
    fn = _custom_functions(mg)[which]
    verdict = mg.autograd.gradcheck(fn.apply, (mg.tensor(Z, requires_grad=True),), raise_exception=False)
    assert verdict is (which != 1)


@pytest.mark.parametrize("make", ["conj", "neg", "conj_imag", "requires_grad"])
def test_as_tensor_reads_a_torch_tensor_with_lazy_bits(make):
    # mg.as_tensor/asarray of torch's lazy conj (or neg) view raised torch's "Can't call numpy() on Tensor that has
    # conjugate bit set" (mg.tensor resolved it); one that requires grad "Can't call numpy() ... requires grad"
    torch = pytest.importorskip("torch")
    z = torch.tensor(Z)
    value = {"conj": lambda: z.conj(), "neg": lambda: z._neg_view(), "conj_imag": lambda: z.conj().imag,
             "requires_grad": lambda: z.clone().requires_grad_()}[make]()
    expected = value.detach().resolve_conj().resolve_neg().numpy()
    for fn in (mg.as_tensor, mg.asarray):
        np.testing.assert_array_equal(fn(value).numpy(), expected)
        assert fn(value).requires_grad is False
    if make in ("conj", "neg"):
        with pytest.raises(ValueError, match="copy=False"):
            mg.asarray(value, copy=False)


def test_as_tensor_of_a_torch_tensor_still_aliases_it():
    torch = pytest.importorskip("torch")
    t = torch.tensor(Z)
    a, b = mg.as_tensor(t), mg.asarray(t, copy=False)
    t[0] = 7j
    assert a.numpy()[0] == 7j and b.numpy()[0] == 7j


@pytest.mark.gpu
def test_the_round25_complex_gradients_on_gpu_as_on_cpu():
    grads = []
    for device in ("cpu", "cuda"):
        z = mg.tensor(TINY, requires_grad=True, device=device)
        base = z * 1
        kept = mg.view_as_real(base)
        base.mul_(1j)
        (z.abs().sum() + mg.angle(z[3:]).sum() + (kept * 2).sum()).backward()
        grads.append(z.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-14)
    assert np.isfinite(grads[0]).all()


def _rotate(lib):
    class Rotate(lib.autograd.Function):   # real in, complex out: x · e^{iθ} · x
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * (0.6 + 0.8j)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return (2 * x * g * (0.6 - 0.8j)).real

    return Rotate


def test_create_graph_through_a_custom_function_from_real_to_complex():
    # its node runs as the complex variant (a real input of a complex output), which had no higher-order rule:
    # NotImplementedError "no higher-order gradient for Rotate" where PyTorch differentiates the backward again
    torch = pytest.importorskip("torch")
    results = []
    for lib in (mg, torch):
        x = lib.tensor(np.array([0.5, -1.5, 2.0]), requires_grad=True)
        y = _rotate(lib).apply(x)
        (g,) = lib.autograd.grad((y * lib.tensor(Z)).real.sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad((g * g).sum(), x)
        results.append((g.detach().numpy(), gg.numpy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12)
    x = mg.tensor(np.array([0.5, -1.5, 2.0]), requires_grad=True)
    assert mg.autograd.gradgradcheck(_rotate(mg).apply, (x,))


@pytest.mark.parametrize("pair", [("complex128", "complex128"), ("complex64", "float64"), ("complex128", "float32"),
                                  ("complex64", "float16"), ("complex128", "complex64"), ("complex128", "int64")])
def test_abs_of_complex_values_into_out(pair):
    # torch.abs(z, out=) of complex z takes a floating out of any precision or one of z's own dtype (raised here:
    # "expected out to have the result's dtype"); another complex dtype or an integer out raises in both
    torch = pytest.importorskip("torch")
    results = []
    for lib in (mg, torch):
        out = lib.empty(2, dtype=getattr(lib, pair[1]))
        try:
            got = lib.abs(lib.tensor(np.array([3 + 4j, -1j]), dtype=getattr(lib, pair[0])), out=out)
            assert got is out
            results.append(got.numpy())
        except RuntimeError:
            results.append("raises")
    if isinstance(results[1], str):
        assert results[0] == "raises"
    else:
        assert results[0].dtype == results[1].dtype
        np.testing.assert_array_equal(results[0], results[1])


@pytest.mark.parametrize("p", [0.5, "tensor"])
def test_bernoulli_in_place_refuses_a_complex_tensor(p):
    # torch's bernoulli_ has no complex kernel (NotImplementedError); it filled a complex tensor with 0/1 here
    z = mg.zeros(3, dtype=mg.complex64)
    with pytest.raises(NotImplementedError, match="bernoulli_"):
        z.bernoulli_(mg.full((3,), 0.5) if p == "tensor" else p)
