"""Each gradient reaches a node in that node's dtype on a hit of the shape cache too (round 24's gate, completed).

Round 24's gate (autograd.engine._dtype_gate) casts an op's gradient for an input of another dtype to that input's
dtype, as PyTorch's ``validate_outputs``; but it ran only on misses of the shape cache until a float16 value or a
mixed-dtype op had been seen there. A float32 value that needs grad meeting float64 values (a float64 chain of the
same shape, a float64 NumPy array it broadcasts against, an int64 tensor: NumPy 2's promotion) on a hit went
ungated: hooks and ``retain_grad`` on the float32 ops before it saw float64 gradients. Now a second floating dtype
among recorded outputs turns the gate on (engine._note_float_dtypes): the differential fuzz (/tmp/h25_b/fuzz.py,
chains of 2-4 ops over float16/32/64 leaves, 0-d and int64 tensors, Python and NumPy scalars and arrays, leaves
changed to float16 by ``.data``, hooks and retain_grad on the intermediates, shapes warmed in the cache by
single-dtype programs first) found 19 of 1,500 programs whose hooks saw another dtype than their tensor's; none now.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import engine


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """As a process that recorded no complex, float16 or mixed-dtype graph yet, with an empty shape cache."""
    monkeypatch.setattr(engine._COMPLEX, "live", False)
    monkeypatch.setattr(engine._DTYPES, "live", False)
    monkeypatch.setattr(engine, "_PLAIN", True)
    monkeypatch.setattr(engine, "_PLAIN_FLOAT", None)
    monkeypatch.setattr(engine, "_meta_cache", {})
    monkeypatch.setattr(engine, "_HIGHER_METAS", {})


def _warm(shapes: list, dtypes: tuple = ("float32", "float64")) -> None:
    """Single-dtype programs that leave these output shapes in the shape cache."""
    for dtype in dtypes:
        for shape in shapes:
            (mg.ones(shape, dtype=dtype, requires_grad=True) * 2).sum().backward()


def _program(L, x, other, other_op):   # noqa: ANN001, ANN202 - minigrad or torch
    """exp(x) * sin(3x) in x's dtype, its first row (unbind: a multi-output op, which leaves no shape in the cache)
    meeting ``other`` (another dtype); the gradients the hooks on that row and on h and s's retain_grad see."""
    seen = []
    h = x.exp()
    h.register_hook(lambda g: seen.append(g))
    s = (x * 3).sin()
    s.retain_grad()
    row = (h * s).unbind(0)[0]
    row.register_hook(lambda g: seen.append(g))
    y = other_op(row, other)
    (y * y).sum().backward()
    return h, s, seen, y


CASES = {   # name: (x's shape, the other operand's values and dtype, how it meets h * s)
    "float64 leaf chain, same shape": ((2, 3), lambda L: L.tensor(np.full((2, 3), 0.75), requires_grad=True),
                                       lambda a, b: a * b.exp()),
    "float64 array, broadcast": ((), lambda L: np.linspace(0.5, 1.5, 6).reshape(2, 3) if L is mg
                                 else L.from_numpy(np.linspace(0.5, 1.5, 6).reshape(2, 3)), lambda a, b: a / b),
    "int64 tensor (NumPy: float64)": ((3,), lambda L: L.tensor(np.array([1, 2, 3])), lambda a, b: b - a),
    "float64 0-d tensor (NumPy: float64)": ((3,), lambda L: L.tensor(np.float64(1.25)), lambda a, b: a * b),
    "NumPy float64 scalar": ((1, 3), lambda L: np.float64(1.25), lambda a, b: b - a),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_float32_op_meeting_float64_values_on_a_cache_hit_sends_float32_gradients(fresh: None, name: str) -> None:
    """The hook on a float32 op before it and its retain_grad see float32 gradients, as PyTorch's, with PyTorch's
    values (to float32's precision: where NumPy promotes to float64 and PyTorch keeps float32, the op itself runs in
    another precision)."""
    torch = pytest.importorskip("torch")
    shape, other, op = CASES[name]
    x0 = np.random.default_rng(3).uniform(0.2, 1.0, (2, *shape)).astype(np.float32)
    _warm([shape, (2, 3), (3,), (1, 3)])
    got = {}
    for L in (mg, torch):
        x = L.tensor(x0, requires_grad=True)
        got[L] = _program(L, x, other(L), op), x
    (h, s, seen, y), x = got[mg]
    assert y.dtype == mg.float64 and h.dtype == s.dtype == mg.float32   # NumPy's promotion: float64 (documented)
    assert [g.dtype for g in seen] == [mg.float32] * 2, (name, [g.dtype for g in seen])
    assert s.grad.dtype == mg.float32 and x.grad.dtype == mg.float32
    (th, ts, tseen, _), tx = got[torch]
    for ours, theirs in (*zip(seen, tseen), (s.grad, ts.grad), (x.grad, tx.grad)):
        np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=2e-6, atol=1e-6)


def test_programs_of_one_dtype_after_another_keep_the_hit_plain(fresh: None) -> None:
    """A float64 program then a float32 one pay nothing on their hits (the shape cache then holds float32 metas
    only); float64 outputs after float32 ones miss, so the op where a float32 value meets float64 ones is gated."""
    _warm([(3,), (2, 3)], ("float64",))
    assert engine._meta_cache[(3,)][0][1] == mg.float64
    _warm([(3,), (2, 3)], ("float32",))
    assert engine._PLAIN and engine._PLAIN_FLOAT == mg.float32
    assert all(meta[0][1] != mg.float64 for meta in engine._meta_cache.values())
    node = (mg.ones(3, requires_grad=True) * 2 * mg.ones(3, dtype=mg.float64)).grad_fn
    assert not engine._PLAIN and node.grad_dtypes == (mg.float32, None)   # its gate: the cast to float32


def test_a_leaf_changed_to_float16_by_data_gets_float16_gradients(fresh: None) -> None:
    """``p.data = p.data.half()`` by hand: the float16 ops after it are gated where they are recorded; p's hook and
    .grad see float16, and the float16 op's hook too, as PyTorch's."""
    torch = pytest.importorskip("torch")
    _warm([(2, 3), (3,)])
    w0 = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    got = {}
    for L in (mg, torch):
        p = L.tensor(w0, requires_grad=True)
        p.data = p.data.half() if L is torch else p.data.astype(np.float16)
        w = L.tensor(np.full(3, 0.5, dtype=np.float32), requires_grad=True)
        seen = []
        p.register_hook(seen.append)
        h = (p * 300).exp()   # float16: overflows past 65504
        h.register_hook(seen.append)
        (h * w).sum().backward()
        got[L] = seen, p.grad, w.grad
    for ours, theirs in zip(got[mg][0] + [got[mg][1], got[mg][2]], got[torch][0] + [got[torch][1], got[torch][2]]):
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
        np.testing.assert_array_equal(ours.numpy().astype(np.float64), theirs.detach().double().numpy())



def test_a_split_of_a_leaf_made_float16_by_data_is_gated(fresh: None) -> None:
    """``p.data = p.data.half()`` by hand, then split or unbind of p: their float16 parts meeting a float32 value
    on a cache hit sent float32 gradients to the parts' hooks (split's and unbind's outputs skip the dtype gate:
    their input's dtype; a float16 one now turns it on)."""
    torch = pytest.importorskip("torch")
    _warm([(2, 1), (2, 3), (3,)], ("float32",))
    got = {}
    for L in (mg, torch):
        p = L.tensor(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3), requires_grad=True)
        p.data = p.data.half() if L is torch else p.data.astype(np.float16)
        w = L.tensor(np.float32(0.7), requires_grad=True)
        seen = []
        part = p.split(1, -1)[0]
        part.register_hook(seen.append)
        (w * part).sum().backward()
        got[L] = seen[0], p.grad
    for ours, theirs in zip(got[mg], got[torch]):
        assert ours.dtype == mg.float16 and theirs.dtype == torch.float16
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())

# --- addcdiv: one op (AddcdivBackward0) with PyTorch's gradient formulas, each step in its operands' dtypes ---------
# It was add(x, div(value * t1, t2)) on the tensors cast to their common dtype: t1's gradient (g / t2) * value where
# PyTorch's is g * (value / t2) with value / t2 rounded in t2's dtype, t2's without PyTorch's float16 rounding of
# t2 * t2 (inf past 255.9), float16 tensors' gradients in float32 rounded once where PyTorch's float16 ops round
# each step. /tmp/h25_b/addc_cmp.py (27 dtype triples of float16/32/64, 3 broadcasts, 3 values, small and large
# divisors, values and the 3 gradients bit for bit against torch 2.13): 735 of 1,944 differed; 1 now (a float64
# gradient cast to a float16 t1: PyTorch converts through float32, rounding twice).

ADDCDIV = [("float32", "float32", "float16", 0.3, 300.0), ("float64", "float32", "float32", -2.5, 3.0),
           ("float16", "float16", "float16", 0.3, 3.0), ("float16", "float16", "float16", 1, 300.0),
           ("float32", "float32", "float32", 0.3, 3.0), ("float64", "float16", "float16", -2.5, 300.0)]


@pytest.mark.parametrize("op", ["addcdiv", "addcmul"])
@pytest.mark.parametrize("dx, d1, d2, value, scale", ADDCDIV)
def test_addcdiv_addcmul_gradients_are_pytorchs_bit_for_bit(op: str, dx: str, d1: str, d2: str, value: float,
                                                            scale: float) -> None:
    """addcmul likewise (AddCMulBy, where value is not 1 or the dtypes differ): t1's gradient g * (t2 * value), t2's
    g * (t1 * value), each product with the number in its tensor's dtype (/tmp/h25_b/addcmul_cmp.py: 359 of 1,458
    gradients differed, none now; its values differ from PyTorch's by an ulp where PyTorch's CPU kernel fuses the
    multiply-add, as before)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    arrays = (rng.standard_normal((3, 4)), rng.standard_normal(4), rng.uniform(0.1, scale, (3, 1)) * [[1], [-1], [1]])
    got = {}
    for L in (mg, torch):
        ts = [L.tensor(a).to(getattr(L, d)).requires_grad_() for a, d in zip(arrays, (dx, d1, d2))]
        y = getattr(L, op)(*ts, value=value)
        g = np.linspace(-2, 2, 12).reshape(3, 4)
        y.backward(L.tensor(g).to(y.dtype))
        got[L] = [y.detach(), *(t.grad for t in ts)]
    for what, ours, theirs in zip(("value", "x.grad", "tensor1.grad", "tensor2.grad"), got[mg], got[torch]):
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), what
        if what == "value" and op == "addcmul":   # PyTorch's kernel: one fused multiply-add
            atol = 4 * np.finfo(ours.numpy().dtype).eps * np.abs(theirs.numpy()).max()
            np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=0, atol=atol)
        else:
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=what)
    name = getattr(mg, op)(*[mg.ones(2, requires_grad=True)] * 3, value=2).grad_fn.name()
    assert name == op.capitalize() + "Backward0"


@pytest.mark.parametrize("op", ["addcdiv", "addcmul"])
def test_addcdiv_addcmul_first_and_second_derivatives(op: str) -> None:
    """gradcheck in float64 (real and complex values); create_graph's second derivatives equal PyTorch's."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    x, a, c = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.uniform(1, 2, (3, 1))
    fn = getattr(mg, op)
    assert mg.gradcheck(lambda *t: fn(*t, value=-0.7), [mg.tensor(v, requires_grad=True) for v in (x, a, c)])
    z = [mg.tensor(rng.standard_normal(3) + 1j * rng.standard_normal(3) + k, requires_grad=True) for k in (0, 0, 2)]
    assert mg.gradcheck(lambda *t: fn(*t, value=0.5j), z)
    second = {}
    for L in (mg, torch):
        ts = [L.tensor(v, requires_grad=True) for v in (x, a, c)]
        y = getattr(L, op)(*ts, value=0.5)
        first = L.autograd.grad((y * y).sum(), ts, create_graph=True)
        second[L] = L.autograd.grad(sum((g * g).sum() for g in first), ts)
    for ours, theirs in zip(second[mg], second[torch]):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("weight", [0.3, -1.5, "tensor"])
@pytest.mark.parametrize("shapes", [((3, 4), (4,), (3, 1)), ((3,), (), ())])
def test_float16_lerp_gradients_are_pytorchs_bit_for_bit(weight: Any, shapes: tuple) -> None:
    """float16 lerp runs PyTorch's kernel in float32 (rounded once); its gradients are PyTorch's float16 ops, each
    product rounded to float16 before the sum over a broadcast (and a weight tensor's end - start rounded): they
    were float32 products summed, rounded once at the end (/tmp/h25_b/lerp_cmp.py: 23 of 84 differed, none now)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal(shapes[0]) * 10, rng.standard_normal(shapes[1]) * 10, rng.uniform(-1, 2, shapes[2])]
    got = {}
    for L in (mg, torch):
        ts = [L.tensor(a).to(L.float16).requires_grad_() for a in arrays[:3 if weight == "tensor" else 2]]
        y = L.lerp(*ts[:2], ts[2] if weight == "tensor" else weight)
        y.backward(L.tensor(np.linspace(-2, 2, y.numel()).reshape(tuple(y.shape))).to(L.float16))
        got[L] = [y.detach(), *(t.grad for t in ts)]
    for ours, theirs in zip(got[mg], got[torch]):
        assert ours.dtype == mg.float16 and theirs.dtype == torch.float16
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
