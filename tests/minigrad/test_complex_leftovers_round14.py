"""Complex leftovers of the round-14 complex-autograd fuzzer, against torch 2.13.

1. A complex ``alpha`` of add/sub/add_/sub_, ``beta``/``alpha`` of addmm/addmv/addr/baddbmm/addbmm and ``value`` of
   addcmul/addcdiv were refused ("must be a number"); torch computes them for complex tensors and refuses them for
   real ones.
2. Complex ``0 ** b`` followed NumPy (0j ** 0j was 1, 0j ** (-1 + 1j) NaN); torch's is exp(b · log 0).
3. acosh refused create_graph=True for complex inputs.
4. ``mg.conj_physical_`` was missing (the method existed).
5. A write into a ``conj()`` result named overlapping unfold windows; it now says conj is a copy here.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")

RNG = np.random.default_rng(1414)


def _crand(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)


def _values_and_grads(fn, arrays):
    """``fn(lib, *tensors)`` and the gradients of ``sum Re(out · w)`` to each tensor, for minigrad and torch."""
    w = None
    results = []
    for lib in (mg, torch):
        xs = [lib.tensor(a, requires_grad=True) for a in arrays]
        out = fn(lib, *xs)
        if w is None:
            w = _crand(*tuple(out.shape))
        (out * lib.tensor(w)).real.sum().backward()
        results.append((out.detach().numpy(), [x.grad.numpy() for x in xs]))
    return results


# --- 1. complex alpha / beta ---------------------------------------------------------------------------------------

SCALED = {
    "add": (lambda lib, a, b: lib.add(a, b, alpha=2 - 1j), [(3,), (2, 3)]),
    "sub": (lambda lib, a, b: lib.sub(a, b, alpha=1j), [(3,), (3,)]),
    "add_method": (lambda lib, a, b: a.add(b, alpha=-0.5j), [(2, 3), (3,)]),
    "sub_method": (lambda lib, a, b: a.sub(b, alpha=1 + 1j), [(3,), (3,)]),
    "addmm": (lambda lib, x, m, n: lib.addmm(x, m, n, beta=0.5 - 2j, alpha=1j), [(3, 4), (3, 2), (2, 4)]),
    "addmv": (lambda lib, x, m, v: lib.addmv(x, m, v, beta=1j, alpha=2 - 1j), [(3,), (3, 2), (2,)]),
    "addr": (lambda lib, x, u, v: lib.addr(x, u, v, beta=-1j, alpha=0.5j), [(3, 4), (3,), (4,)]),
    "baddbmm": (lambda lib, x, a, b: lib.baddbmm(x, a, b, beta=2j, alpha=1 - 1j), [(2, 3, 4), (2, 3, 5), (2, 5, 4)]),
    "addbmm": (lambda lib, x, a, b: lib.addbmm(x, a, b, beta=1 + 2j, alpha=-1j), [(3, 4), (2, 3, 5), (2, 5, 4)]),
    "addcmul": (lambda lib, x, a, b: lib.addcmul(x, a, b, value=2 - 1j), [(2, 3), (3,), (2, 1)]),
    "addcdiv": (lambda lib, x, a, b: lib.addcdiv(x, a, b, value=0.5j), [(3,), (2, 3), (3,)]),
}


@pytest.mark.parametrize("name", sorted(SCALED))
def test_complex_alpha_and_beta_as_torch(name):
    fn, shapes = SCALED[name]
    (ours, our_grads), (theirs, their_grads) = _values_and_grads(fn, [_crand(*s) for s in shapes])
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    for g, h in zip(our_grads, their_grads):
        np.testing.assert_allclose(g, h, rtol=1e-12, atol=1e-12)


def test_complex_alpha_with_one_complex_operand_as_torch():
    x, r = _crand(3), np.array([1.0, -2.0, 0.5])
    for a, b in ((x, r), (r, x)):
        ours = mg.add(mg.tensor(a), mg.tensor(b), alpha=1j).numpy()
        np.testing.assert_allclose(ours, torch.add(torch.tensor(a), torch.tensor(b), alpha=1j).numpy())
    np.testing.assert_allclose(mg.add(mg.tensor(r), 1j, alpha=1j).numpy(),
                               torch.add(torch.tensor(r), 1j, alpha=1j).numpy())


@pytest.mark.parametrize("call", [
    lambda lib: lib.add(lib.tensor([1.0, 2.0]), lib.tensor([1.0, 2.0]), alpha=1j),
    lambda lib: lib.sub(lib.tensor([1.0, 2.0]), 1, alpha=1 + 0j),
    lambda lib: lib.tensor([1.0, 2.0]).add(lib.tensor([3.0, 4.0]), alpha=2j),
])
def test_complex_alpha_of_real_tensors_raises_as_torch(call):
    with pytest.raises(RuntimeError, match="non-complex"):
        call(torch)
    with pytest.raises(RuntimeError, match="non-complex input tensors, argument alpha must not be a complex"):
        call(mg)


def test_complex_alpha_of_integer_tensors_raises_as_torch():
    with pytest.raises(RuntimeError, match="integral input tensors"):
        torch.add(torch.tensor([1, 2]), torch.tensor([1, 2]), alpha=1j)
    with pytest.raises(RuntimeError, match="integral input tensors"):
        mg.add(mg.tensor([1, 2]), mg.tensor([1, 2]), alpha=1j)


@pytest.mark.parametrize("name", ["addmm", "addmv", "addr", "baddbmm", "addbmm", "addcmul", "addcdiv"])
def test_complex_beta_of_real_tensors_as_torch(name):
    """torch converts a complex beta/alpha (addcmul's value) to the real dtype: it raises where the imaginary part
    is not zero and reads ``1 + 0j`` as 1."""
    arrays = [RNG.standard_normal(s) for s in SCALED[name][1]]
    if name.startswith("addc"):
        with pytest.raises(RuntimeError):
            getattr(torch, name)(*map(torch.tensor, arrays), value=1j)
        with pytest.raises(RuntimeError, match="value=1j is complex but the tensors are float64"):
            getattr(mg, name)(*map(mg.tensor, arrays), value=1j)
        ours = getattr(mg, name)(*map(mg.tensor, arrays), value=2 + 0j)
        theirs = getattr(torch, name)(*map(torch.tensor, arrays), value=2 + 0j)
        assert ours.dtype == mg.float64
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
        return
    for what in ("beta", "alpha"):
        with pytest.raises(RuntimeError):
            getattr(torch, name)(*map(torch.tensor, arrays), **{what: 1j})
        with pytest.raises(RuntimeError, match=f"{what}=1j is complex but the tensors are float64"):
            getattr(mg, name)(*map(mg.tensor, arrays), **{what: 1j})
    ours = getattr(mg, name)(*map(mg.tensor, arrays), beta=2 + 0j, alpha=1 + 0j)
    theirs = getattr(torch, name)(*map(torch.tensor, arrays), beta=2 + 0j, alpha=1 + 0j)
    assert ours.dtype == mg.float64
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


# --- 2. complex pow at a zero base --------------------------------------------------------------------------------

def _same(ours, theirs):
    """Same dtype, shape, NaN places and values (inf as inf; torch's exp-log at a non-zero base rounds apart)."""
    a, b = ours.numpy(), theirs.numpy()
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(np.nan_to_num(a.real, nan=7), np.nan_to_num(b.real, nan=7), atol=1e-6)
    np.testing.assert_allclose(np.nan_to_num(a.imag, nan=7), np.nan_to_num(b.imag, nan=7), atol=1e-6)


@pytest.mark.parametrize("exponent", [0j, 1, 2j, 1 + 1j, -1 + 1j, 0.5j, -1, 2, 0.5, -0.5])
def test_complex_pow_of_zero_as_torch(exponent):
    """torch's complex pow is exp(b · log a): 0 ** 0j is NaN, 0 ** (-1 + 1j) inf + NaN j (NumPy: 1 and NaN)."""
    base = [0j, 1 + 1j, -0.5j]
    for lib in (mg, torch):
        z, e = lib.tensor(base), lib.tensor([exponent] * 3, dtype=lib.complex64)
        results = [z ** e, lib.pow(z, e), 0j ** e]
        if exponent not in (0, 1):   # torch's pow(Tensor, Scalar) 0 and 1 are a fill and a copy
            results.append(z ** exponent)
        if lib is mg:
            ours = results
    for a, b in zip(ours, results):
        _same(a, b)


def test_zero_to_the_zero_as_torch():
    for lib in (mg, torch):
        values = [lib.tensor([0j]) ** lib.tensor([0.0]), lib.tensor([0.0]) ** lib.tensor([0j]),
                  lib.tensor([0j]) ** 0, lib.tensor([0j]) ** 0j, lib.tensor([0.0]) ** lib.tensor([0.0])]
        if lib is mg:
            ours = values
    for a, b in zip(ours, values):
        _same(a, b)
    assert np.isnan(ours[0].numpy()).all() and ours[2].item() == 1 and ours[4].item() == 1


# --- 3. acosh's second derivative for complex inputs ---------------------------------------------------------------

def test_complex_acosh_second_derivative_as_torch():
    """Was refused with create_graph=True. Points on both sides of the cut (imaginary part ±0.0, Re z < 1), Re z < 0
    (where 1/sqrt(z² - 1) would have the other sign) and random ones."""
    z = np.concatenate([_crand(6) * 2, [complex(-0.5, -0.0), -0.5 + 0j, complex(0.3, -0.0), complex(-2, -0.0),
                                        -2 + 0j, complex(1.5, -0.0), -3 - 1j]])
    w, v = _crand(*z.shape), _crand(*z.shape)
    results = []
    for lib in (mg, torch):
        x = lib.tensor(z, requires_grad=True)
        g, = lib.autograd.grad((lib.acosh(x) * lib.tensor(w)).real.sum(), [x], create_graph=True)
        gg, = lib.autograd.grad((g * lib.tensor(v)).real.sum(), [x])
        results.append((g.detach().numpy(), gg.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


# --- 4. mg.conj_physical_ --------------------------------------------------------------------------------------------

def test_top_level_conj_physical_in_place_as_torch():
    z, w = _crand(2, 3), _crand(2, 3)
    results = []
    for lib in (mg, torch):
        x = lib.tensor(z, requires_grad=True)
        y = x * 1
        assert lib.conj_physical_(y) is y
        real = lib.tensor([1.0, -2.0])
        assert lib.conj_physical_(real) is real
        (y * lib.tensor(w)).real.sum().backward()
        results.append((y.detach().numpy(), x.grad.numpy(), real.numpy()))
        with pytest.raises(TypeError, match="must be Tensor"):
            lib.conj_physical_([1 + 1j])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs)


@pytest.mark.parametrize("name", ["add_", "sub_"])
def test_complex_alpha_in_place_as_torch(name):
    a, b, w = _crand(2, 3), _crand(3), _crand(2, 3)
    results = []
    for lib in (mg, torch):
        x, y = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
        out = x * 1
        getattr(out, name)(y, alpha=0.5 - 2j)
        plain = lib.tensor(a)
        getattr(plain, name)(lib.tensor(b.real), alpha=1j)   # a real operand of a complex tensor
        (out * lib.tensor(w)).real.sum().backward()
        results.append((out.detach().numpy(), plain.numpy(), x.grad.numpy(), y.grad.numpy()))
        with pytest.raises(RuntimeError, match="non-complex"):
            getattr(lib.tensor([1.0, 2.0]), name)(lib.tensor([3.0, 4.0]), alpha=1j)
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


# --- 5. a write into conj()'s result says why it is refused --------------------------------------------------------

@pytest.mark.parametrize("write", [
    lambda c: c.add_(1), lambda c: c.mul_(2), lambda c: c.copy_(c * 1), lambda c: c.zero_(), lambda c: c.fill_(1),
    lambda c: c.__setitem__(0, 5), lambda c: c.__setitem__(slice(None), 5), lambda c: c[0].sub_(1),
    lambda c: c.real.add_(1), lambda c: c.imag.zero_(), lambda c: mg.view_as_real(c).mul_(2),
])
def test_write_into_conj_names_the_copy(write):
    """minigrad's conj is a copy (torch's is a lazy view whose writes reach x): the write raises, and now says so
    instead of naming overlapping unfold windows; conj_physical gives a writable conjugate."""
    x = mg.tensor(_crand(3))
    before = x.numpy().copy()
    with pytest.raises(RuntimeError, match=r"conj\(\) result is a copy.*conj_physical\(\)"):
        write(mg.conj(x))
    np.testing.assert_array_equal(x.numpy(), before)
    writable = mg.conj_physical(x)
    write(writable)
