"""Mixed-dtype arithmetic against the contract (DESIGN §3): result dtypes are NumPy 2's ``result_type``
semantics (a Python number is weak, a NumPy scalar, a NumPy array and a 0-d tensor keep their dtype), the values
NumPy's, and where minigrad or PyTorch refuses a combination, the error is of PyTorch's class.

The oracle is NumPy itself, run on the same operands; the exceptions minigrad documents (README "Deliberately
different" and "Coming from PyTorch") are listed in :func:`_documented` and there checked against PyTorch, so no
case may differ from both NumPy and PyTorch (a silent surprise). Every dtype pair of the eleven below meets every
operator; tensor–tensor pairs rotate through the ranks (2-D with 2-D, 1-D and 0-d, 0-d with 2-D and 0-d).
"""

from __future__ import annotations

import operator
import warnings
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64", "complex64",
          "complex128"]
OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "//": operator.floordiv,
    "%": operator.mod, "**": operator.pow, "&": operator.and_, "|": operator.or_, "^": operator.xor,
    "<<": operator.lshift, ">>": operator.rshift, "==": operator.eq, "<": operator.lt}
RANKS = [((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 3), ()), ((), (2, 3)), ((), ())]
PYTHON_NUMBERS = {"int": 2, "float": 2.5, "complex": 2 + 1j, "bool": True}


@pytest.fixture(scope="module")
def torch() -> Any:
    return pytest.importorskip("torch", reason="no torch")


def _array(dtype: str, shape: tuple) -> np.ndarray:
    """Values 1, 2, 3 (every dtype holds them; no zero divisor, no overflow of any op here)."""
    return np.asarray((np.arange(int(np.prod(shape))) % 3 + 1).astype(dtype).reshape(shape))


def _kind(x: Any) -> str:
    """'b', 'i', 'f' or 'c' of an array, NumPy scalar or Python number ('u' counts as 'i')."""
    kind = np.asarray(x).dtype.kind if not isinstance(x, (bool, int, float, complex)) or isinstance(x, np.generic) \
        else {bool: "b", int: "i", float: "f", complex: "c"}[type(x)]
    return "i" if kind == "u" else kind


def _to_torch(torch: Any, x: Any) -> Any:
    """The operand PyTorch gets: arrays as tensors (0-d ones too), NumPy scalars as Python numbers (as PyTorch
    reads them)."""
    if isinstance(x, np.ndarray):
        return torch.from_numpy(x) if x.ndim else torch.tensor(x.item(), dtype=getattr(torch, str(x.dtype)))
    return x.item() if isinstance(x, np.generic) else x


def _outcome(fn: Callable, *args: Any) -> Any:
    """``fn(*args)``, or the exception it raised."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args)
    except Exception as error:  # noqa: BLE001 - the outcome is compared, whatever it is
        return error


def _documented(name: str, a: Any, b: Any, tensor_side: str) -> np.dtype | None:
    """The dtype minigrad documents where it leaves NumPy 2 for PyTorch's choice (None: NumPy's rule holds).

    ``a`` and ``b`` are the NumPy operands in call order; ``tensor_side`` says which of them is a minigrad tensor
    ("a", "b" or "ab").
    """
    ka, kb = _kind(a), _kind(b)
    if name in ("/", "atan2") and ka in "bi" and kb in "bi":
        return np.dtype("float32")        # integer true division (and atan2): the default float dtype, as PyTorch
    if name == "atan2" and {ka, kb} & {"b", "i"}:
        # the float-valued binary functions make an integer operand float first, as PyTorch: of the other
        # operand's float dtype (int64 with float32 is float32; NumPy 2 gives float64)
        return a.dtype if ka in "fc" else b.dtype
    tensor, other = (a, b) if tensor_side != "b" else (b, a)
    if name == "**" and tensor_side == "a":
        if _kind(tensor) == "b" and type(other) is int:
            return np.dtype("int64")      # bool tensor ** Python int: computed in int64, as PyTorch
        if _kind(tensor) == "f" and type(other) is np.float64:
            return tensor.dtype           # np.float64 is a Python float: PyTorch's pow(Tensor, Scalar)
    return None


def _tolerance(dtype: np.dtype) -> float:
    return {"e": 2e-3, "f": 2e-6, "F": 2e-6}.get(dtype.char, 1e-12)


def _check(name: str, got: Any, expected: Any, documented: np.dtype | None, torch_call: tuple, case: str) -> None:
    """minigrad's outcome ``got`` against NumPy's ``expected`` (a value or an exception); ``torch_call`` is
    ``(fn, *args)`` giving PyTorch's outcome, run only where needed."""

    def torch_outcome() -> Any:
        return _outcome(*torch_call)

    if isinstance(got, Exception):
        reference = torch_outcome()
        assert isinstance(reference, Exception), f"{case}: minigrad raised {got!r}, PyTorch gives {reference}"
        assert isinstance(got, type(reference)), f"{case}: {type(got).__name__} is not PyTorch's " \
                                                 f"{type(reference).__name__}"
        return
    assert isinstance(got, mg.Tensor), f"{case}: got {type(got).__name__}"
    if isinstance(expected, Exception):   # NumPy refuses: minigrad may only be as lenient as PyTorch
        reference = torch_outcome()
        assert not isinstance(reference, Exception) and str(reference.dtype) == f"torch.{got.dtype}", \
            f"{case}: minigrad gives {got.dtype}, NumPy raises {expected!r}, PyTorch gives {reference}"
        return
    expected = np.asarray(expected)
    want = documented if documented is not None else expected.dtype
    assert got.dtype == want, f"{case}: dtype {got.dtype}, expected {want} (NumPy 2: {expected.dtype})"
    if documented is not None:   # a documented choice is PyTorch's
        reference = torch_outcome()
        assert str(reference.dtype) == f"torch.{got.dtype}", f"{case}: documented {got.dtype}, PyTorch {reference}"
    tol = max(_tolerance(got.dtype), _tolerance(expected.dtype))   # NumPy's atan2 of bools rounds in float16
    np.testing.assert_allclose(got.numpy(), expected.astype(got.dtype), rtol=tol, atol=0, err_msg=case)


def _binary_cases(torch: Any, pairs: list[tuple[Any, Any, str]], ops: dict = OPS) -> int:
    """Run every op on every (a, b, tensor_side) pair; returns the count of cases checked."""
    count = 0
    for a, b, side in pairs:
        ma = mg.tensor(a) if "a" in side else a
        mb = mg.tensor(b) if "b" in side else b
        for name, fn in ops.items():
            case = f"{type(a).__name__}:{getattr(a, 'dtype', '')}{getattr(a, 'shape', '')} {name} " \
                   f"{type(b).__name__}:{getattr(b, 'dtype', '')}{getattr(b, 'shape', '')} (tensor: {side})"
            _check(name, _outcome(fn, ma, mb), _outcome(fn, a, b), _documented(name, a, b, side),
                   (fn, _to_torch(torch, a), _to_torch(torch, b)), case)
            count += 1
    return count


def test_tensor_with_tensor_of_every_dtype_pair_and_rank(torch: Any) -> None:
    pairs = []
    for i, da in enumerate(DTYPES):
        for j, db in enumerate(DTYPES):
            sa, sb = RANKS[(i + j) % len(RANKS)]
            pairs.append((_array(da, sa), _array(db, sb), "ab"))
    assert _binary_cases(torch, pairs) == len(DTYPES) ** 2 * len(OPS)


def test_tensor_with_python_numbers_on_either_side(torch: Any) -> None:
    pairs = []
    for i, da in enumerate(DTYPES):
        for number in PYTHON_NUMBERS.values():
            a = _array(da, RANKS[i % 2][0] if i % 3 else ())
            pairs += [(a, number, "a"), (number, a, "b")]
    _binary_cases(torch, pairs)


def test_tensor_with_numpy_scalars_and_arrays(torch: Any) -> None:
    """A NumPy scalar keeps its dtype as in NumPy 2 (``x / np.sqrt(d)`` is float64 for a float32 x); so does an
    array. The side alternates over the dtype pairs."""
    pairs = []
    for i, da in enumerate(DTYPES):
        for j, db in enumerate(DTYPES):
            a, scalar, array = _array(da, (2, 3)), _array(db, ()).dtype.type(2), _array(db, (3,))
            pairs += [(a, scalar, "a"), (array, a, "b")] if (i + j) % 2 else [(scalar, a, "b"), (a, array, "a")]
    _binary_cases(torch, pairs)


def test_functions_of_mixed_dtypes(torch: Any) -> None:
    """where, cat, stack, maximum, atan2, addcmul and lerp on every dtype pair (ranks rotating)."""
    cond = np.array([[True, False, True], [False, True, True]])

    def lerp_reference(a: Any, b: Any, w: Any) -> Any:
        if a.dtype.kind not in "fc":
            raise TypeError("PyTorch's lerp takes a floating point start")
        return a + w * (b - a)   # a bool weight too: False gives a, True b, in NumPy's dtype

    functions: dict[str, tuple[Callable, Callable, Callable]] = {
        "where": (lambda a, b: mg.where(mg.tensor(cond), a, b), lambda a, b: np.where(cond, a, b),
                  lambda t, a, b: t.where(t.from_numpy(cond), a, b)),
        "cat": (lambda a, b: mg.cat([a, b]), lambda a, b: np.concatenate([a, b]), lambda t, a, b: t.cat([a, b])),
        "stack": (lambda a, b: mg.stack([a, b]), lambda a, b: np.stack([a, b]), lambda t, a, b: t.stack([a, b])),
        "maximum": (mg.maximum, np.maximum, lambda t, a, b: t.maximum(a, b)),
        "atan2": (mg.atan2, np.arctan2, lambda t, a, b: t.atan2(a, b)),
        "addcmul": (lambda a, b: mg.addcmul(a, b, b), lambda a, b: a + b * b, lambda t, a, b: t.addcmul(a, b, b)),
        "lerp": (lambda a, b: mg.lerp(a, b, 0.25), lambda a, b: lerp_reference(a, b, 0.25),
                 lambda t, a, b: t.lerp(a, b, 0.25)),
        "lerp_tensor_weight": (lambda a, b: mg.lerp(a, a, b), lambda a, b: lerp_reference(a, a, b),
                               lambda t, a, b: t.lerp(a, a, b)),
    }
    for i, da in enumerate(DTYPES):
        for j, db in enumerate(DTYPES):
            for name, (ours, numpys, torchs) in functions.items():
                if name == "lerp_tensor_weight" and da[0] not in "fc":
                    continue   # PyTorch takes an integer start where a float 0-d weight promotes it; refused here
                same = name in ("cat", "stack")
                sa, sb = ((2, 3), (2, 3)) if same else RANKS[(i + j) % 4]
                a, b = _array(da, sa), _array(db, sb)
                case = f"{name}({da}{sa}, {db}{sb})"
                _check(name, _outcome(ours, mg.tensor(a), mg.tensor(b)), _outcome(numpys, a, b),
                       _documented(name, a, b, "ab"), (torchs, torch, _to_torch(torch, a), _to_torch(torch, b)), case)


@pytest.mark.parametrize("op", ["+=", "-=", "*=", "/="])
def test_in_place_keeps_the_dtype_or_raises_pytorchs_error(torch: Any, op: str) -> None:
    """``x op= y`` writes the promoted result cast back to x's dtype, as PyTorch, when that cast stays in x's
    category or goes down (int → uint8 wraps, as PyTorch); a result of a higher category (float into an integer
    tensor, complex into a float one, anything into bool but bool) raises PyTorch's RuntimeError."""
    rank = {"b": 0, "i": 1, "u": 1, "f": 2, "c": 3}
    fn = {"+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv}[op]
    plain = {"+=": operator.add, "-=": operator.sub, "*=": operator.mul, "/=": operator.truediv}[op]
    for i, da in enumerate(DTYPES):
        for j, db in enumerate(DTYPES):
            sb = ((2, 3), (3,), ())[(i + j) % 3]
            a, b = _array(da, (2, 3)), _array(db, sb)
            case = f"{da}(2, 3) {op} {db}{sb}"
            x = mg.tensor(a.copy())
            got = _outcome(fn, x, mg.tensor(b))
            out_of_place = _outcome(plain, mg.tensor(a), mg.tensor(b))
            reference = _outcome(fn, torch.from_numpy(a.copy()), _to_torch(torch, b))
            if isinstance(out_of_place, Exception) or rank[out_of_place.dtype.kind] > rank[a.dtype.kind]:
                assert isinstance(got, Exception), f"{case}: gave {getattr(got, 'dtype', got)}, expected an error"
                assert isinstance(reference, Exception), f"{case}: PyTorch gives {reference}"
                assert isinstance(got, type(reference)), f"{case}: {got!r} is not PyTorch's {reference!r}"
                assert x.dtype == a.dtype and (x.numpy() == a).all(), f"{case}: x changed by a refused op"
                continue
            assert got is x and x.dtype == a.dtype, f"{case}: {getattr(got, 'dtype', got)}"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                np.testing.assert_allclose(x.numpy(), out_of_place.numpy().astype(a.dtype),
                                           rtol=_tolerance(a.dtype), atol=0, err_msg=case)
            if isinstance(reference, Exception):   # PyTorch refuses - with a bool operand; NumPy subtracts it
                assert op == "-=" and "b" in (a.dtype.kind, b.dtype.kind), f"{case}: PyTorch raises {reference!r}"
            else:
                np.testing.assert_allclose(x.numpy(), reference.numpy(), rtol=_tolerance(a.dtype), atol=0,
                                           err_msg=case)


def test_numpy_scalars_and_arrays_reach_remainder_fmod_and_the_bitwise_ops() -> None:
    """Round-13 fixes: ``x % np.float32(2)`` and ``fmod`` refused NumPy scalars other than np.float64, and
    ``mask & np_array`` / ``x | np.True_`` refused NumPy operands; each keeps NumPy 2's dtype now."""
    x, i = mg.tensor([1.5, 2.5, -3.5]), mg.tensor([1, 2, -3], dtype=mg.int8)
    for ours, theirs in [(x % np.float32(2), x.numpy() % np.float32(2)),
                         (np.int16(2) % i, np.int16(2) % i.numpy()),
                         (mg.fmod(x, np.int8(2)), np.fmod(x.numpy(), np.int8(2))),
                         (i & np.array([3, 1, 7], dtype=np.int16), i.numpy() & np.array([3, 1, 7], dtype=np.int16)),
                         (np.array([1, 1, 0], dtype=np.uint8) | i, np.array([1, 1, 0], dtype=np.uint8) | i.numpy()),
                         (i ^ np.True_, i.numpy() ^ np.True_), (i << np.int64(1), i.numpy() << np.int64(1))]:
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours.numpy(), theirs)
    with pytest.raises(TypeError, match="bitwise_and"):
        mg.tensor([1]) & np.array([1.5])
