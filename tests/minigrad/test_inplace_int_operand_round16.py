"""Round 16: in-place float ops with an integer (or bool) tensor operand compute in x's dtype, as PyTorch.

PyTorch computes ``x.add_(int_tensor)`` in the result's dtype (x's): the integer operand is cast to x's float
dtype first. NumPy computed float32 + int32 in float64 and rounded once, so ``float32 1 += int32 2**24 + 1`` gave
16777218 where PyTorch gives 16777216 (float16 ``x += int64 2049``: 2050, PyTorch 2048).
"""

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")

BIG = {"float16": 2049, "float32": 2**24 + 1, "float64": 2**53 + 1}   # the first integers x's dtype rounds
X_VALUES = [0.99, -0.5, 3.0]

# name -> (x, other) -> the call; each other is an integer tensor of a value x's dtype cannot hold exactly
OPS = {
    "add_": lambda x, o: x.add_(o),
    "add_alpha": lambda x, o: x.add_(o, alpha=1),
    "sub_": lambda x, o: x.sub_(o),
    "iadd": lambda x, o: x.__iadd__(o),
    "isub": lambda x, o: x.__isub__(o),
    "mul_": lambda x, o: x.mul_(o),
    "imul": lambda x, o: x.__imul__(o),
    "div_": lambda x, o: x.div_(o),
    "itruediv": lambda x, o: x.__itruediv__(o),
    "div_floor": lambda x, o: x.div_(o, rounding_mode="floor"),
    "floor_divide_": lambda x, o: x.floor_divide_(o),
    "clamp_": lambda x, o: x.clamp_(o, None),
    "clamp_min_": lambda x, o: x.clamp_min_(o),
    "clamp_max_": lambda x, o: x.clamp_max_(-o),
    "remainder_": lambda x, o: x.remainder_(o),
    "imod": lambda x, o: x.__imod__(o),
    "fmod_": lambda x, o: x.fmod_(o),
    "hypot_": lambda x, o: x.hypot_(o),
    "copysign_": lambda x, o: x.copysign_(-o),
    "addcmul_": lambda x, o: x.addcmul_(o, o // o),
    "addcdiv_": lambda x, o: x.addcdiv_(o, (o // o).to(x.dtype)),
    "nextafter_": lambda x, o: x.nextafter_(o),
}

NOT_DIFFERENTIABLE = {"nextafter_", "floor_divide_", "div_floor"}   # no gradient in PyTorch either
CASES = [(name, fdt, idt, shape, grad) for name in OPS
         for fdt, idt in (("float16", "int16"), ("float32", "int32"), ("float64", "int64"))
         for shape in ((3,), ()) for grad in (False, True) if not (grad and name in NOT_DIFFERENTIABLE)]


def _run(lib, name, fdt, idt, shape, grad):
    x = lib.tensor(X_VALUES, dtype=getattr(lib, fdt))
    other = lib.tensor(np.full(shape, BIG[fdt], dtype=idt))
    if grad:
        leaf = x.requires_grad_(True)
        x = leaf * 1   # a non-leaf: the in-place op is recorded
    result = OPS[name](x, other)
    assert result is x
    if not grad:
        return x.numpy(), None
    x.sum().backward()
    return x.detach().numpy(), leaf.grad.numpy()


IDS = [f"{n}-{f}-{i}-{'vec' if s else '0d'}{'-grad' if g else ''}" for n, f, i, s, g in CASES]


@pytest.mark.parametrize("name,fdt,idt,shape,grad", CASES, ids=IDS)
def test_integer_tensor_operand_is_cast_to_x_dtype_first(name, fdt, idt, shape, grad):
    expected, expected_grad = _run(torch, name, fdt, idt, shape, grad)
    ours, our_grad = _run(mg, name, fdt, idt, shape, grad)
    assert ours.dtype == expected.dtype
    np.testing.assert_array_equal(ours, expected)
    if grad:
        np.testing.assert_allclose(our_grad, expected_grad, rtol=1e-3)


@pytest.mark.parametrize("idt", ["bool", "uint8", "int8", "int16", "int32", "int64"])
@pytest.mark.parametrize("fdt", ["float16", "float32", "float64"])
def test_the_brief_cases_over_the_dtype_matrix(fdt, idt):
    """``x += t`` for every float x and integer or bool t (values near the rounding edge where the dtype allows)."""
    results = []
    info = np.iinfo(idt) if idt != "bool" else None
    value = True if info is None else min(int(info.max), BIG[fdt])
    for lib in (torch, mg):
        x = lib.tensor([1.0, 0.5], dtype=getattr(lib, fdt))
        x += lib.tensor(np.array([value, value], dtype=idt))
        results.append(x.numpy())
    np.testing.assert_array_equal(results[1], results[0])


@pytest.mark.parametrize("op", ["mul_", "div_"])
def test_float16_times_a_0d_integer_reads_it_in_float32(op):
    """PyTorch's mul and div read a one-number tensor in float32 for a float16 x (2049, not float16's 2048)."""
    results = []
    for lib in (torch, mg):
        x = lib.tensor([1.6435546875, 3.0] if op == "mul_" else [3367.5, 1.0], dtype=lib.float16)
        getattr(x, op)(lib.tensor(2049))
        results.append(x.numpy())
    np.testing.assert_array_equal(results[1], results[0])


REFUSED = {
    "heaviside_": lambda lib, x, o: x.heaviside_(o),
    "addcdiv_two_ints": lambda lib, x, o: x.addcdiv_(o, o),
    "lerp_": lambda lib, x, o: x.lerp_(o, 0.5),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_ops_that_refuse_integer_operands_still_refuse(name):
    for lib in (torch, mg):
        x, other = lib.tensor([1.0, 2.0]), lib.tensor([3, 4])
        with pytest.raises(RuntimeError):
            REFUSED[name](lib, x, other)


def test_out_of_place_keeps_numpy_promotion():
    """DESIGN.md §3: ``x + int_tensor`` keeps NumPy 2's promotion (float32 + int32 is float64); only in place
    (whose result dtype is x's) follows PyTorch's computation dtype."""
    x, other = mg.tensor([1.0], dtype=mg.float32), mg.tensor([2**24 + 1], dtype=mg.int32)
    result = x + other
    assert result.dtype == mg.float64 and result.item() == 2**24 + 2
    x += other
    assert x.dtype == mg.float32 and x.item() == 2**24
