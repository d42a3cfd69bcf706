"""Fuzz the public API: random shapes, dtypes and argument kinds thrown at every public ``mg.*`` function,
every Tensor method, indexing and ``nn.functional``.

A call may return a result or raise a documented exception type (ValueError, TypeError, IndexError,
RuntimeError, or their minigrad subclasses). It must never leak an internal error: an AttributeError,
KeyError, ZeroDivisionError, UnboundLocalError ... or a ValueError/TypeError/IndexError raised by a
line of minigrad that is not an explicit ``raise`` (``tuple index out of range``, ``not enough values
to unpack`` ...). NumPy's own messages, and errors raised by minigrad's ``raise`` statements (which name
the op), are fine. Every Tensor returned holds a numeric ``numpy.ndarray`` (never a NumPy scalar or
an object array), and backward through it gives each leaf a gradient of its own shape.

Examples are derandomized so CI is reproducible. CI draws ``EXAMPLES`` per test (about 15 s for the file
on one busy core); ``pytest --soak tests/test_fuzz.py`` draws ``SOAK_EXAMPLES`` (minutes; not in CI), and
MINIGRAD_FUZZ_EXAMPLES=N sets any other count. The tests run in a temporary working folder, and drawn
strings hold no path separator, so a function that writes files (``mg.save``) writes only there.
"""

from __future__ import annotations

import dis
import os
import sys
import traceback
import warnings
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minigrad as mg
import nn
from minigrad import outputs

ALLOWED = (ValueError, TypeError, IndexError, RuntimeError)
PACKAGE_DIRS = tuple(os.path.dirname(m.__file__) + os.sep for m in (mg, nn))
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # errors name files relative to it
EXAMPLES = 30
SOAK_EXAMPLES = 1000


def _examples() -> int:
    """Examples per test: MINIGRAD_FUZZ_EXAMPLES if set, else SOAK_EXAMPLES under ``--soak``, else EXAMPLES."""
    if os.environ.get("MINIGRAD_FUZZ_EXAMPLES"):
        return int(os.environ["MINIGRAD_FUZZ_EXAMPLES"])
    soak = any(arg == "--soak" for arg in sys.argv) or "--soak" in os.environ.get("PYTEST_ADDOPTS", "")
    return SOAK_EXAMPLES if soak else EXAMPLES


FUZZ = settings(max_examples=_examples(), deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))

# Not fuzzed, with the reason: classes of errors and the cuda module are not functions; Function is an
# abstract base (calling it raises NotImplementedError by design); set_default_device is fuzzed separately
# (it changes global state that later tests rely on).
NOT_FUNCTIONS = {"AnomalyError", "AxisError", "GradcheckError", "Function", "cuda", "set_default_device"}
PUBLIC = sorted(n for n in mg.__all__ if n not in NOT_FUNCTIONS and callable(getattr(mg, n))
                and not isinstance(getattr(mg, n), np.dtype))

TENSOR_METHODS = sorted(
    n for n in ("exp", "log", "tanh", "sigmoid", "relu", "abs", "sqrt", "clip", "clamp", "maximum", "minimum",
                "sum", "mean", "max", "min", "var", "logsumexp", "softmax", "log_softmax", "reshape", "view",
                "transpose", "swapaxes", "expand_dims", "unsqueeze", "squeeze", "broadcast_to", "chunk", "split",
                "unbind", "item", "numpy", "tolist", "backward", "detach", "to", "float", "double", "long",
                "astype", "retain_grad", "register_hook", "requires_grad_", "matmul", "__add__", "__radd__",
                "__sub__", "__rsub__", "__mul__", "__truediv__", "__rtruediv__", "__pow__", "__rpow__",
                "__matmul__", "__rmatmul__", "__neg__", "__abs__", "__lt__", "__le__", "__eq__", "__ne__",
                "__len__", "__bool__", "__float__", "__int__", "__index__", "__iter__", "__repr__",
                # PyTorch's spellings (DESIGN §3) and in-place ops
                "size", "numel", "dim", "flatten", "permute", "t", "expand", "repeat", "clone", "contiguous",
                "masked_fill", "topk", "argmax", "argmin", "amax", "amin", "std", "norm", "sin", "cos", "bmm",
                "gather", "narrow", "sort", "argsort", "index_select", "all", "any", "mm", "expand_as", "view_as",
                "new_zeros", "new_full", "new_tensor", "int", "bool", "half", "type_as", "add", "sub", "mul", "div",
                "add_", "sub_", "mul_", "div_", "clamp_", "zero_", "fill_", "copy_", "masked_fill_", "exp_", "pow_",
                "uniform_", "normal_", "__setitem__", "__iadd__", "__isub__", "__imul__", "__itruediv__",
                # more of PyTorch's surface (ops/math.py, scan.py, index.py, contract.py, random.py, extras.py)
                "sign", "floor", "round", "log1p", "rsqrt", "square", "erf", "lerp", "remainder", "fmod", "atan2",
                "logaddexp", "clamp_min", "isnan", "logical_and", "isclose", "allclose", "count_nonzero", "prod",
                "cumsum", "cumprod", "median", "logcumsumexp", "flip", "roll", "tril", "diag", "nonzero",
                "masked_select", "scatter", "scatter_", "scatter_add", "repeat_interleave", "type", "dot",
                "outer", "addmm", "bernoulli", "bernoulli_", "multinomial", "floor_", "clamp_min_", "__mod__")
    if hasattr(mg.Tensor, n))


# --- strategies ---------------------------------------------------------------

DTYPES = st.sampled_from(["float32", "float64", "float16", "int64", "int32", "bool"])


@st.composite
def tensors(draw: Any, max_dims: int = 3) -> mg.Tensor:
    """A tensor of random shape (sides 0..3, so empty tensors too) and dtype; values from a drawn seed
    (cheaper than drawing every element)."""
    dtype = np.dtype(draw(DTYPES))
    shape = tuple(draw(st.lists(st.integers(0, 3), max_size=max_dims)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    t = mg.tensor((rng.standard_normal(shape) * 2).astype(dtype))
    if dtype.kind == "f" and draw(st.booleans()):
        t.requires_grad_(True)
    return t


SMALL_INTS = st.integers(-4, 4)
# strings, also read as file names by mg.save: no separator, so no file lands outside the working folder
TEXT = st.text(st.characters(blacklist_characters="/\\", blacklist_categories=("Cs",)), max_size=2)
VALUES = st.one_of(
    tensors(), tensors(), SMALL_INTS, st.floats(-3, 3), st.none(), st.booleans(),
    st.tuples(SMALL_INTS, SMALL_INTS), st.lists(SMALL_INTS, max_size=3), TEXT,
    st.lists(tensors(max_dims=2), max_size=3), tensors().map(lambda t: t.numpy()),
    st.sampled_from([mg.float32, mg.int64, "cpu", Ellipsis, slice(1, None)]),
)
KWARGS = st.dictionaries(
    st.sampled_from(["axis", "keepdims", "dtype", "requires_grad", "device"]),
    st.one_of(st.none(), SMALL_INTS, st.booleans(), st.tuples(SMALL_INTS), st.sampled_from(["float64", "cpu"])),
    max_size=2,
)
INDEX_PARTS = st.one_of(
    SMALL_INTS, st.none(), st.just(Ellipsis),
    st.builds(slice, st.none() | SMALL_INTS, st.none() | SMALL_INTS, st.none() | st.sampled_from([1, 2, -1])),
    st.lists(SMALL_INTS, max_size=3), st.lists(st.booleans(), max_size=3).map(np.array),
    tensors(max_dims=2), st.floats(-2, 2), TEXT,
)
INDICES = st.one_of(INDEX_PARTS, st.tuples(INDEX_PARTS, INDEX_PARTS), st.tuples(INDEX_PARTS, INDEX_PARTS, INDEX_PARTS))


# --- the oracle ---------------------------------------------------------------

RAISE = dis.opmap["RAISE_VARARGS"]


def internal_origin(error: BaseException) -> str | None:
    """Where ``error`` leaked from inside minigrad/nn without an explicit ``raise``; None if it did not.

    The instruction that raised is read from the running bytecode, not from the source line, so a file
    edited while the fuzz runs (other work in the same tree) cannot make a deliberate error look internal.
    """
    last = error.__traceback__
    while last is not None and last.tb_next is not None:
        last = last.tb_next
    frame = traceback.extract_tb(error.__traceback__)[-1]
    if last is None or not frame.filename.startswith(PACKAGE_DIRS):
        return None        # raised by NumPy or by the Python call itself (wrong number of arguments)
    if last.tb_frame.f_code.co_code[last.tb_lasti] == RAISE:
        return None        # a deliberate minigrad error: a `raise` statement
    if last.tb_frame.f_code is outputs._WITH_OUT and isinstance(error, TypeError):
        return None        # the out= wrapper calling the function: the Python call itself (wrong arguments)
    return f"{os.path.relpath(frame.filename, REPO)}:{frame.lineno}: {frame.line}"


def check_call(what: str, call: Callable[[], Any], inputs: list) -> None:
    """Run ``call``; fail on an undocumented exception type, an internal leak or a malformed result."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            result = call()
            outputs = [r for r in (result if isinstance(result, (list, tuple)) else [result])
                       if isinstance(r, mg.Tensor)]
            for out in outputs:
                assert type(out.data) is np.ndarray, f"{what}: result holds a {type(out.data).__name__}"
                assert out.data.dtype.kind in "biufc", f"{what}: result has dtype {out.data.dtype}"
            leaves = [x for x in inputs if isinstance(x, mg.Tensor) and x.requires_grad and x.is_leaf]
            for x in leaves:
                x.grad = None
            if outputs and all(o.requires_grad for o in outputs):
                total = outputs[0].sum()
                for o in outputs[1:]:
                    total = total + o.sum()
                total.backward()
                for x in leaves:
                    if x.grad is not None:
                        assert x.grad.shape == x.shape, f"{what}: grad shape {x.grad.shape} for input {x.shape}"
    except ALLOWED as error:
        origin = internal_origin(error)
        if origin is not None:
            pytest.fail(f"{what}: internal {type(error).__name__} leaked ({error}) from {origin}")
    except AssertionError:
        raise
    except Exception as error:  # noqa: BLE001 - the point of the test
        origin = internal_origin(error) or "outside minigrad"
        pytest.fail(f"{what}: undocumented {type(error).__name__}: {error} (from {origin})\n"
                    + "".join(traceback.format_exception(error)[-4:]))


@pytest.fixture(autouse=True, scope="module")
def _scratch_folder(tmp_path_factory: pytest.TempPathFactory):
    """Run in a fresh folder: fuzzed strings are also file names (``mg.save(x, "a")`` writes ``a``)."""
    before = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("fuzz"))
    yield
    os.chdir(before)


@pytest.fixture(autouse=True)
def _restore_global_state():
    """Every process-wide setting a fuzzed call may change (set_default_dtype, set_printoptions …) put back."""
    yield
    mg.set_grad_enabled(True)
    mg.set_default_device("cpu")
    mg.set_default_dtype(mg.float32)
    mg.set_printoptions(profile="default")
    mg.use_deterministic_algorithms(False)
    for device, dtype in (("cpu", mg.bfloat16), ("cuda", mg.float16)):   # set_autocast_cpu_enabled(True) …
        mg.set_autocast_enabled(device, False)
        mg.set_autocast_dtype(device, dtype)
    mg.set_autocast_cache_enabled(True)
    limiter = mg.settings._threads[0]
    if limiter is not None:   # set_num_threads: the BLAS pools as they were
        limiter.restore_original_limits()
        mg.settings._threads[0] = None


# --- the fuzz tests -------------------------------------------------------------

@pytest.mark.parametrize("name", PUBLIC)
@FUZZ
@given(args=st.lists(VALUES, max_size=4), kwargs=KWARGS)
def test_public_function(name: str, args: list, kwargs: dict) -> None:
    fn = getattr(mg, name)
    flat = args + [v for a in args if isinstance(a, list) for v in a]
    check_call(f"mg.{name}", lambda: fn(*args, **kwargs), flat)
    mg.set_grad_enabled(True)


@pytest.mark.parametrize("method", TENSOR_METHODS)
@FUZZ
@given(x=tensors(), args=st.lists(VALUES, max_size=3))
def test_tensor_method(method: str, x: mg.Tensor, args: list) -> None:
    bound = getattr(x, method)
    check_call(f"Tensor.{method}", lambda: bound(*args), [x, *args])


@settings(FUZZ, max_examples=FUZZ.max_examples * 8)
@given(x=tensors(), index=INDICES)
def test_indexing(x: mg.Tensor, index: Any) -> None:
    check_call(f"Tensor[{index!r}]", lambda: x[index], [x])


@FUZZ
@given(device=VALUES)
def test_set_default_device(device: Any) -> None:
    check_call("mg.set_default_device", lambda: mg.set_default_device(device), [])


def nn_functional_names() -> list:
    F = nn.functional
    return sorted(n for n in F.__all__ if callable(getattr(F, n)) and not isinstance(getattr(F, n), type))


@pytest.mark.parametrize("name", nn_functional_names())
@FUZZ
@given(args=st.lists(VALUES, max_size=4))
def test_nn_functional(name: str, args: list) -> None:
    import nn.functional as F

    fn = getattr(F, name)
    flat = args + [v for a in args if isinstance(a, list) for v in a]
    check_call(f"nn.functional.{name}", lambda: fn(*args), flat)


# --- the oracle itself must be able to fail -------------------------------------

def test_oracle_flags_internal_errors():
    from minigrad.ops._util import one_axis, sum_to

    with pytest.raises(AttributeError) as leaked:
        sum_to(None, (2,))                      # a bare AttributeError from inside minigrad
    assert internal_origin(leaked.value) is not None
    with pytest.raises(TypeError) as deliberate:
        one_axis(1.5, 2, "sum")                 # an explicit `raise` naming the op
    assert internal_origin(deliberate.value) is None
    with pytest.raises(pytest.fail.Exception, match="undocumented KeyError"):
        check_call("dict", lambda: {}["missing"], [])
    with pytest.raises(pytest.fail.Exception, match="internal AttributeError|undocumented AttributeError"):
        check_call("sum_to", lambda: sum_to(None, (2,)), [])
