"""A device sweep: minigrad's op surface run on ``cpu`` and on ``cuda`` with the same host inputs, every
disagreement reported (raises or not and the class, dtype, shape, ``stride()`` of the dims longer than 1, values,
NaN positions, the gradients of a fixed random weighting of the float outputs, and that cuda results are on cuda).

    python -m tests.support.device_sweep --seconds 150 --workers 12 --out DIR   # a GPU machine
    python -m tests.support.device_sweep --stand-in --seconds 120 --workers 2 --out DIR   # the strict stand-in
    python -m tests.support.device_sweep [--stand-in] --case N   # one case of a report again, printed

Cases come from the existing tables, as ``fn(lib)`` with ``lib`` a :class:`Lib` (minigrad, whose ``tensor`` and
factories make host tensors moved to one device): the op x dtype matrix and the namespace and functional sweeps
of round 16, the layer rows of test_layer_coverage_round13 and test_fuzz_modules_round14 and test_nn_gpu's
functions; then a dtype x layout grid of pointwise ops, binary ops and reductions, in-place writes through views
(and from views of the same memory), and, once those are done, the random programs of torch_programs.py
(minigrad's side only) until the time is up. Each worker process takes one block of the fixed cases.

``DIR/report.txt`` gets each new bucket (source:op and the kind of difference) with one reproducer as soon as it
is found, then the count of each bucket and the summary line (``DIR/summary.txt`` holds it all along). An error
is a case that broke the sweep: a timeout (``CASE_SECONDS``) or a worker that died (a crash), which is restarted
after that case. The run ends about ``--seconds`` + 60 s after it starts at the latest.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import itertools
import multiprocessing
import os
import queue as queues
import re
import signal
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

TESTS = Path(__file__).resolve().parents[1]
for _path in (str(TESTS.parent), str(TESTS)):   # the repository (minigrad, nn) and tests/ (helpers)
    if _path not in sys.path:
        sys.path.insert(0, _path)

import minigrad as mg  # noqa: E402
import nn  # noqa: E402

Case = tuple[str, str, Callable[["Lib"], Any]]   # (source, op, fn(lib) -> result)
TOLERANCES = {"float64": (1e-9, 1e-12), "complex128": (1e-9, 1e-12), "float32": (1e-5, 1e-6),
              "complex64": (1e-5, 1e-6), "float16": (1e-2, 1e-2), "bfloat16": (1e-2, 1e-2)}
FACTORIES = ("zeros", "ones", "empty", "full", "arange", "eye", "linspace", "logspace", "rand", "randn", "randint",
             "randperm", "as_tensor", "asarray")   # made on the host (random: from the seed both sides set), moved
DTYPES = ("bool", "uint8", "int8", "int32", "int64", "float16", "float32", "float64", "complex64", "complex128")
CASE_SECONDS = 45   # a first call on a GPU compiles its kernels


class CaseTimeout(Exception):
    """A case ran past ``CASE_SECONDS`` (raised by the alarm)."""


class Lib:
    """``minigrad`` as a case sees it: factories and ``tensor`` make host tensors moved to ``device``, and every
    tensor made with ``requires_grad`` is a leaf whose gradient is compared."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.leaves: list = []
        self.nn = nn   # so that ``lib.nn.functional`` is minigrad's, as in the tables' torch spellings

    def __getattr__(self, name: str) -> Any:
        attr = getattr(mg, name)
        if name not in FACTORIES:
            return attr

        def factory(*args: Any, **kwargs: Any) -> Any:
            grad = kwargs.pop("requires_grad", False)
            return self._leaf(attr(*args, **{"device": "cpu", **kwargs}).to(self.device), grad)
        return factory

    def _leaf(self, t: Any, grad: bool) -> Any:
        if grad:
            t.requires_grad_(True)
            self.leaves.append(t)
        return t

    def tensor(self, data: Any, dtype: Any = None, requires_grad: bool = False, **kwargs: Any) -> Any:
        """A host tensor of ``data`` moved to this side's device (``device=`` is ignored: the side decides)."""
        kwargs.pop("device", None)
        return self._leaf(mg.tensor(data, dtype=dtype, **kwargs).to(self.device), requires_grad)

    def leaf(self, array: Any, grad: bool = True) -> Any:
        """A tensor of the host array ``array``; a leaf with a gradient where its dtype can have one."""
        return self.tensor(array, requires_grad=grad and np.asarray(array).dtype.kind in "fc")


# --- comparison -------------------------------------------------------------------------------------------

def _host(t: Any) -> np.ndarray:
    return t.detach().cpu().numpy()


def compare(a: Any, b: Any, what: str) -> list[str]:
    """The differences between the cpu result ``a`` and the cuda result ``b`` (empty when they agree)."""
    if isinstance(a, BaseException) or isinstance(b, BaseException):
        if type(a) is type(b):
            return []
        return [f"{what}: raises {_name(a)}/{_name(b)}: cpu {_brief(a)} / cuda {_brief(b)}"]
    if isinstance(a, mg.Tensor) and isinstance(b, mg.Tensor):
        if b.device.type != "cuda":
            return [f"{what}: device: the cuda result is on {b.device}"]
        for name, x, y in (("dtype", a.dtype, b.dtype), ("shape", a.shape, b.shape), ("stride", _strides(a),
                                                                                       _strides(b))):
            if x != y:
                return [f"{what}: {name}: cpu {x} / cuda {y}"]
        return _values(_host(a), _host(b), str(a.dtype), what)
    if isinstance(a, dict) and isinstance(b, dict):
        if list(a) != list(b):
            return [f"{what}: keys: cpu {list(a)} / cuda {list(b)}"]
        return [d for k in a for d in compare(a[k], b[k], f"{what}[{k}]")]
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        if len(a) != len(b) or type(a) is not type(b):
            return [f"{what}: type: cpu {_brief(a)} / cuda {_brief(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in compare(x, y, f"{what}[{i}]")]
    if isinstance(a, (float, complex, np.floating, np.complexfloating)) and type(a) is type(b):
        return _values(np.asarray(a), np.asarray(b), "float64", what)
    if type(a) is not type(b) or isinstance(a, mg.Tensor) or isinstance(b, mg.Tensor):
        return [f"{what}: type: cpu {_brief(a)} / cuda {_brief(b)}"]
    if type(a).__module__ != "builtins" and not isinstance(a, (np.generic, np.dtype)):
        return []   # a module, a device, a function …: nothing of the two to compare
    try:
        same = bool(a == b)
    except Exception:  # noqa: BLE001 - objects that do not compare: their text
        same = repr(a) == repr(b)
    return [] if same else [f"{what}: values: cpu {_brief(a)} / cuda {_brief(b)}"]


def _strides(t: Any) -> tuple:
    """``t.stride()`` of the dims that have one (the stride of a dim of size 1, or of an empty tensor, is free)."""
    return tuple(s for s, n in zip(t.stride(), t.shape) if n > 1) if t.numel() else ()


def _values(x: np.ndarray, y: np.ndarray, dtype: str, what: str) -> list[str]:
    if dtype not in TOLERANCES:
        if np.array_equal(x, y):
            return []
        return [f"{what}: values: differ at {np.argwhere(x != y)[:3].tolist()}: cpu {x.ravel()[:6]} / "
                f"cuda {y.ravel()[:6]}"]
    rtol, atol = TOLERANCES[dtype]
    x, y = x.astype(np.complex128 if x.dtype.kind == "c" else np.float64), y.astype(np.complex128 if
                                                                                   y.dtype.kind == "c" else np.float64)
    if (np.isnan(x) != np.isnan(y)).any():
        return [f"{what}: NaN: positions differ: cpu {x.ravel()[:6]} / cuda {y.ravel()[:6]}"]
    close = np.isclose(x, y, rtol=rtol, atol=atol, equal_nan=True)
    if close.all():
        return []
    i = np.argwhere(~close)[0].tolist()
    return [f"{what}: values: {(~close).sum()} differ ({dtype}), first at {i}: cpu {x[tuple(i)]} / cuda {y[tuple(i)]}"]


def _name(value: Any) -> str:
    return type(value).__name__ if isinstance(value, BaseException) else "nothing"


def _brief(value: Any) -> str:
    if isinstance(value, BaseException):
        return f"raised {type(value).__name__}: {str(value)[:150]}"
    if isinstance(value, mg.Tensor):
        return f"Tensor{tuple(value.shape)} {value.dtype} on {value.device}"
    if isinstance(value, (tuple, list)):
        return f"{type(value).__name__} of {len(value)}"
    return f"{type(value).__name__} {str(value)[:80]}"


def _outputs(result: Any) -> list:
    """The float and complex tensors of a result that carry a gradient."""
    if isinstance(result, mg.Tensor):
        return [result] if result.requires_grad and (result.is_floating_point() or result.is_complex()) else []
    if isinstance(result, (tuple, list, dict)):
        return [t for r in (result.values() if isinstance(result, dict) else result) for t in _outputs(r)]
    return []


def run_side(fn: Callable[[Lib], Any], device: str, seed: int) -> tuple[Any, Any]:
    """``fn``'s result on ``device`` and the gradients of its leaves from a fixed random weighting of its
    float outputs (an exception in place of either where it raised)."""
    lib = Lib(device)
    mg.manual_seed(seed)
    try:
        result = fn(lib)
    except CaseTimeout:
        raise
    except Exception as error:  # noqa: BLE001 - the exception is the result compared
        return error, None
    outputs = _outputs(result)
    if not outputs or not lib.leaves:
        return result, None
    rng = np.random.default_rng(seed)
    try:
        loss = 0
        for out in outputs:
            weight = mg.tensor(rng.standard_normal(out.shape)).to(device).to(out.dtype)
            term = (out * weight).sum()
            loss = loss + (term.real if out.is_complex() else term)
        grads = mg.autograd.grad(loss, lib.leaves, allow_unused=True)
    except CaseTimeout:
        raise
    except Exception as error:  # noqa: BLE001
        return result, error
    return result, list(grads)


def check(fn: Callable[[Lib], Any], seed: int) -> list[str]:
    """Run ``fn`` on both devices; the differences."""
    cpu, cpu_grads = run_side(fn, "cpu", seed)
    cuda, cuda_grads = run_side(fn, "cuda", seed)
    if isinstance(cpu, dict) and "text" in cpu and isinstance(cuda, dict) and cuda["text"] != cpu["text"]:
        return ["diverged"]   # a program whose two sides made different random choices (a rounding-level tie)
    problems = compare(cpu, cuda, "result") + compare(cpu_grads, cuda_grads, "grads")
    if problems and isinstance(cpu, dict) and "text" in cpu:
        problems.append(f"program (seed {seed}):\n{cpu['text']}")
    return problems


# --- cases from the existing tables -----------------------------------------------------------------------

def _params(test: Callable) -> list[tuple]:
    """The parameter tuples of a test's ``pytest.mark.parametrize`` marks (their product)."""
    lists = []
    for mark in reversed(getattr(test, "pytestmark", [])):
        if mark.name == "parametrize":
            names = mark.args[0] if isinstance(mark.args[0], str) else ",".join(mark.args[0])
            single = "," not in names
            lists.append([(getattr(v, "values", (v,)) if single else tuple(getattr(v, "values", v)))
                          for v in mark.args[1]])
    return [tuple(x for part in combo for x in part) for combo in itertools.product(*lists)]


def _module(path: str) -> Any:
    """A module of tests/ by its path (the test folders are no packages)."""
    name = "device_sweep_" + path.replace("/", "_").removesuffix(".py")
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, TESTS / path)
        sys.modules[name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[name]


UNFIT = {   # harvested rows whose two sides cannot agree: "source table:row" -> why
    "missing_api_round8 GPU_CASES:adaptive_log_softmax": "random init on the default device, then moved: with cuda "
                                                         "the default, the GPU's generator draws other weights",
}


def harvested_cases() -> Iterator[Case]:
    """Every table of tests/minigrad and tests/nn whose rows are ``lambda lib: ...`` or ``(lambda lib, *xs: ...,
    arrays)`` (the op x dtype matrix's, the complex linalg and autograd ones, the refusals …), arrays as leaves."""
    for path in sorted(TESTS.glob("minigrad/test_*.py")) + sorted(TESTS.glob("nn/test_*.py")):
        if "lambda lib" not in path.read_text():
            continue
        try:
            module = _module(str(path.relative_to(TESTS)))
        except BaseException:  # noqa: BLE001 - pytest's Skipped (importorskip) is a BaseException
            continue
        for table_name, table in vars(module).items():
            if not isinstance(table, dict) or not table_name.lstrip("_").isupper():
                continue
            for key, row in table.items():
                fn, arrays = (row, ()) if callable(row) else row[:2] if isinstance(row, tuple) and len(row) > 1 else \
                    (None, ())
                if not callable(fn) or not isinstance(arrays, (tuple, list)) or not all(
                        isinstance(a, np.ndarray) for a in arrays):
                    continue
                params = list(inspect.signature(fn).parameters.values())
                required = [p for p in params if p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD]
                name = f"{path.stem.removeprefix('test_')} {table_name}:{key}"
                if params and params[0].name == "lib" and len(required) == 1 + len(arrays) and name not in UNFIT:
                    yield path.stem.removeprefix("test_"), f"{table_name}:{key}", lambda lib, f=fn, a=arrays: \
                        _on_default_device(lib, f, *[lib.leaf(x) for x in a])


def _on_default_device(lib: Lib, fn: Callable, *args: Any) -> Any:
    """``fn(lib, *args)`` with the side's device as the default one: these tables' rows also make tensors and
    modules with their module's ``mg`` and ``nn``, not through ``lib``."""
    mg.set_default_device(lib.device)
    try:
        return fn(lib, *args)
    finally:
        mg.set_default_device("cpu")


def table_cases() -> Iterator[Case]:
    dm, ns = _module("minigrad/test_dtype_matrix_round16.py"), _module("minigrad/test_sweep_namespace_round16.py")
    fs, lc = _module("nn/test_sweep_functional_round16.py"), _module("nn/test_layer_coverage_round13.py")
    for limits, in _params(dm.test_hardtanh_of_unsigned_integers_as_torch):
        yield "dtype_matrix", "hardtanh", lambda lib, a=limits: lib.nn.functional.hardtanh(
            lib.tensor([0, 3, 200], dtype=mg.uint8), *a)
    for dtype, exponent, form in _params(dm.test_integer_power_of_a_python_int_beyond_the_dtype):
        if form not in ("operator", "method_"):
            continue
        power = (lambda x, e: x ** e) if form == "operator" else (lambda x, e: x.pow_(e))
        yield "dtype_matrix", f"pow-{form}", lambda lib, d=dtype, e=exponent, f=power: f(
            lib.tensor([1, 0, 1], dtype=getattr(mg, d)), e)
    for a, b, function in _params(dm.test_isclose_of_two_dtypes_raises_as_torch):
        yield "dtype_matrix", function, lambda lib, a=a, b=b, f=function: getattr(lib, f)(
            lib.tensor([1, 0], dtype=getattr(mg, a)), lib.tensor([1, 0], dtype=getattr(mg, b)))
    for a, b in _params(dm.test_dist_takes_an_integer_beside_a_float_as_torch):
        yield "dtype_matrix", "dist", lambda lib, a=a, b=b: lib.dist(lib.tensor([1, 0, 3], dtype=getattr(mg, a)),
                                                                      lib.tensor([0, 1, 1], dtype=getattr(mg, b)))
    for call, in _params(ns.test_refusals_raise_torchs_error_class):
        yield "namespace", "refusal", call
    for p, dim in _params(ns.test_norm_with_no_identity_over_an_empty_dim_raises):
        yield "namespace", "norm", lambda lib, p=p, d=dim: lib.norm(lib.zeros(0, 4), p, d)
    for args, kwargs, method in _params(ns.test_squeeze_method_takes_dims_as_separate_ints):
        yield "namespace", method, lambda lib, a=args, k=kwargs, m=method: getattr(
            lib.leaf(np.ones((1, 3, 1))) * 2, m)(*a, **k)
    for args, kwargs in _params(ns.test_count_nonzero_method_takes_dims_as_separate_ints):
        yield "namespace", "count_nonzero", lambda lib, a=args, k=kwargs: lib.tensor(
            [[0, 1, 2], [3, 0, 0]]).count_nonzero(*a, **k)
    for size, in _params(ns.test_view_copy_of_a_non_contiguous_tensor):
        yield "namespace", "view_copy", lambda lib, s=size: lib.view_copy(lib.leaf(np.arange(12.0).reshape(4, 3)).T,
                                                                          s)
    for call, args in _params(fs.test_invalid_arguments_raise_runtime_error):
        fn = getattr(mg, call) if call == "conv_tbc" else getattr(nn.functional, call)
        yield "functional", call, lambda lib, f=fn, a=args: f(*a(lib))
    for start, end in _params(fs.test_flatten_of_a_0d_tensor_checks_its_dims):
        yield "functional", "flatten", lambda lib, s=start, e=end: nn.Flatten(s, e)(lib.tensor(2.0))
    for name, shape, size in _params(fs.test_adaptive_pools_to_an_empty_output):
        yield "functional", name, lambda lib, n=name, s=shape, o=size: getattr(nn.functional, n)(
            lib.leaf(np.random.default_rng(0).standard_normal(s)), o)
    for dtype, name, args in _params(fs.test_integer_inputs_raise_not_implemented_error):
        yield "functional", name, lambda lib, d=dtype, n=name, a=args: getattr(nn.functional, n)(
            lib.tensor(np.arange(24).reshape(2, 3, 4).astype(d)), *a)
    for align, mode, in_shape, grid_shape in _params(fs.test_grid_sample_with_nothing_to_sample):
        yield "functional", f"grid_sample-{mode}", lambda lib, m=mode, a=align, s=in_shape, g=grid_shape: (
            nn.functional.grid_sample(lib.leaf(np.random.default_rng(0).standard_normal(s)),
                                      lib.leaf(np.random.default_rng(1).uniform(-1, 1, g)), mode=m, align_corners=a))
    for dtype in ("float64", "float32"):
        for name, build, make_inputs, modes in lc.CASES:
            if name == "DataParallel":   # on the CPU it refuses while a GPU is present, as torch's
                continue
            for training in modes:
                yield "layers", name, lambda lib, b=build, m=make_inputs, t=training, d=dtype: _layer(lib, b, m, t, d)
    fm, gpu = _module("nn/test_fuzz_modules_round14.py"), _module("nn/test_nn_gpu.py")
    for row in fm.CASES:
        for mode in ("eval",) if row[0] == "RReLU" else ("train", "eval"):   # RReLU trains on random slopes
            yield "modules", row[0], lambda lib, r=row, m=mode: _fuzz_module(lib, *r, m)
    for name, (fn, arrays) in gpu.CASES.items():
        for dtype in ("float64", "float32"):
            yield "nn_gpu", name, lambda lib, f=fn, a=arrays, d=dtype: f(
                *[lib.leaf(x.astype(d) if x.dtype.kind == "f" else x) for x in a])


def _layer(lib: Lib, build: Callable, make_inputs: Callable, training: bool, dtype: str) -> list:
    """A layer built on the host (seeded), moved to the side's device, called: its output and state after."""
    import torch  # noqa: PLC0415 - MaxUnpool's inputs come from torch's max pool
    module = build(nn, lambda a: mg.tensor(a, dtype=getattr(mg, dtype))).to(dtype=getattr(mg, dtype))
    inputs = make_inputs(torch, np.random.default_rng(7))
    xs = [None if a is None else lib.leaf(a.astype(dtype) if a.dtype.kind == "f" else a, grad) for a, grad in inputs]
    if any(getattr(p, "is_lazy", False) for p in module.parameters()) or "Lazy" in type(module).__name__:
        with mg.no_grad():
            module(*[None if x is None else x.detach().cpu() for x in xs])
    module = module.to(lib.device).train(training)
    params = [p for p in module.parameters() if p.requires_grad]
    lib.leaves.extend(params)
    return [module(*xs), *module.state_dict().values()]


def _fuzz_module(lib: Lib, name: str, args: tuple, kwargs: dict, inputs: Callable, mode: str) -> list:
    """A row of test_fuzz_modules_round14's table (float64; arrays are tensors), built on the host, moved,
    called in ``mode``: its outputs and state after."""
    def side(value: Any) -> Any:
        if isinstance(value, str) and value in ("float64", "float32"):
            return getattr(mg, value)
        return mg.tensor(value) if isinstance(value, np.ndarray) else value
    module = getattr(nn, name)(*map(side, args), **{k: side(v) for k, v in kwargs.items()})
    if name.startswith("Lazy"):   # materialized by a first call on the host
        with mg.no_grad():
            module(*[mg.tensor(a) for a in inputs(np.random.default_rng(99))])
    module = getattr(module.to(lib.device), mode)()
    lib.leaves.extend(p for p in module.parameters() if p.requires_grad)
    return [module(*[lib.leaf(np.asarray(a)) for a in inputs(np.random.default_rng(0))]),
            *module.state_dict().values()]


def grid_cases() -> Iterator[Case]:
    """Pointwise ops and reductions over every dtype, contiguous and transposed."""
    unary = ["neg", "abs", "exp", "log", "sqrt", "sin", "tanh", "sigmoid", "relu", "sign", "floor", "round",
             "reciprocal", "square", "isnan", "isinf", "logical_not", "bitwise_not", "erf", "expm1", "log1p",
             "angle", "conj", "nan_to_num", "signbit", "trunc", "frac", "sgn", "argsort", "sort", "clone",
             "contiguous", "t", "ravel"]
    binary = ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "remainder", "fmod", "floor_divide",
              "eq", "lt", "logical_and", "bitwise_and", "atan2", "hypot", "copysign", "where_gt", "matmul"]
    reductions = ["sum", "mean", "prod", "amax", "amin", "argmax", "std", "var", "norm", "logsumexp", "any", "all",
                  "max", "min", "median", "nansum", "count_nonzero", "softmax", "log_softmax", "cummax", "topk",
                  "cumsum", "cumprod", "flip"]
    rng = np.random.default_rng(17)
    base = rng.integers(-3, 4, (3, 4)) + np.round(rng.standard_normal((3, 4)), 2) * 0.5

    def value(dtype: str, seed: int) -> np.ndarray:
        values = base + seed * 0.25
        return (values > 0) if dtype == "bool" else np.abs(values * 4).astype(dtype) if dtype == "uint8" else \
            (values * (1 + 0.5j) if dtype.startswith("complex") else values).astype(dtype)

    for dtype, transposed in itertools.product(DTYPES, (False, True)):
        def x(lib: Lib, d: str = dtype, t: bool = transposed, seed: int = 0) -> Any:
            leaf = lib.leaf(value(d, seed).T.copy() if t else value(d, seed))
            return leaf.T if t else leaf   # non-contiguous (a transposed view) where asked
        for name in unary:
            yield "grid", f"{name}-{dtype}", lambda lib, n=name, x=x: getattr(x(lib), n)()
        for name in reductions:
            dims = [(1,)] if name in ("topk", "cummax", "softmax", "log_softmax", "cumsum", "cumprod", "flip") \
                else [(), (1,)]
            for dim in dims:
                args = (2,) if name == "topk" else dim
                yield "grid", f"{name}{args}-{dtype}", lambda lib, n=name, a=args, x=x: getattr(x(lib), n)(*a)
        for name, other in itertools.product(binary, ("same", "float32", "int64", "scalar", "0-d")):
            def call(lib: Lib, n: str = name, o: str = other, x: Callable = x, d: str = dtype) -> Any:
                a = x(lib)
                b = 1.5 if o == "scalar" else lib.tensor(2, dtype=getattr(mg, d)) if o == "0-d" else \
                    x(lib, d if o == "same" else o, seed=1)
                if n == "where_gt":
                    return mg.where(a > b, a, b)
                return a @ b.T if n == "matmul" and not isinstance(b, float) else getattr(mg, n)(a, b)
            yield "grid", f"{name}-{dtype}-{other}", call


def inplace_cases() -> Iterator[Case]:
    """In-place writes, through views and from views of the same memory (CuPy's setitem skips those)."""
    writes: dict[str, Callable] = {
        "add_": lambda x: x.add_(1),
        "add_-T-view": lambda x: x[:2].T.add_(x[2:].T),
        "setitem-int-list": lambda x: x.__setitem__([0, 2], x[1]),
        "setitem-mask": lambda x: x.__setitem__(x > 0, 0),
        "setitem-overlap": lambda x: x.__setitem__(slice(1, None), x[:-1]),   # refused, as torch's
        "setitem-disjoint": lambda x: x.__setitem__(slice(0, 2), x[2:]),
        "setitem-column": lambda x: x.__setitem__((slice(None), 0), x[:, 1]),
        "copy_-T-disjoint": lambda x: x[:2, :2].copy_(x[2:, 1:].T),
        "copy_-flip": lambda x: x.copy_(x.flip(0)),
        "copy_-strided": lambda x: x[:, ::2].copy_(x[:, 1::2]),
        "mul_-slice-view": lambda x: x[:2].mul_(x[2:]),
        "index_put_": lambda x: x.index_put_((mg.tensor([0, 1, 0]).to(x.device),), x[2] * 1, accumulate=True),
        "masked_fill_": lambda x: x.masked_fill_(x < 0, -1),
        "fill_diagonal_": lambda x: x.fill_diagonal_(5),
        "clamp_-T": lambda x: x.T.clamp_(-1, 1),
        "setitem-own-real": lambda x: x.__setitem__((0, 1), x[0, 1].real),   # CuPy: the same view, no copy
        "copy_-real-imag": lambda x: x.real.copy_(x.imag),
    }
    for dtype, (name, write) in itertools.product(("float32", "float64", "int64", "complex64", "bool"),
                                                  writes.items()):
        def case(lib: Lib, d: str = dtype, w: Callable = write) -> Any:
            values = np.arange(-6, 6).reshape(4, 3) * 0.75
            leaf = lib.leaf((values > 0) if d == "bool" else values.astype(d))
            x = leaf * 1 if leaf.requires_grad else leaf.clone()   # a non-leaf to write into, with a gradient
            w(x)
            return x
        yield "inplace", f"{name}-{dtype}", case


def layout_cases() -> Iterator[Case]:
    """Ops that keep their input's layout (channels-last, transposed), which CuPy's C-order joins and copies lose."""
    ops: dict[str, Callable] = {
        "cat": lambda x: mg.cat([x, x * 2], 1), "stack": lambda x: mg.stack([x, x], 0), "clone": mg.clone,
        "add": lambda x: x + 1, "exp": mg.exp, "where": lambda x: mg.where(x > 0, x, 0.0), "to": lambda x: x.double(),
        "empty_like": lambda x: mg.empty_like(x).shape, "zeros_like": mg.zeros_like, "masked_fill": lambda x:
        x.masked_fill(x > 0, 1.0), "sum": lambda x: x.sum(1, keepdim=True), "softmax": lambda x: x.softmax(1),
        "relu_": lambda x: (x * 1).relu_(), "copy_": lambda x: mg.empty_like(x).copy_(x)}
    layouts = {"channels_last": lambda t: t.contiguous(memory_format=mg.channels_last),
               "transposed": lambda t: t.transpose(1, 3)}
    for (name, op), (layout, make) in itertools.product(ops.items(), layouts.items()):
        yield "layouts", f"{name}-{layout}", lambda lib, o=op, m=make: o(m(
            lib.leaf(np.random.default_rng(3).standard_normal((2, 3, 4, 5)).astype("float32"))))


def program_case(seed: int) -> Case:
    """One random program of torch_programs' table (1-4 ops), minigrad only: the outputs of every step."""
    from tests.support import torch_program_ops, torch_programs
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in rng.integers(0, 4, int(rng.integers(0, 4))))
    names = [str(n) for n in rng.choice(torch_programs.NAMES, int(rng.integers(1, 5)))]

    def run(lib: Lib) -> Any:
        import torch  # noqa: PLC0415 - the table's torch side is built (never run)
        torch_programs.mg = torch_program_ops.mg = lib
        p = torch_programs.Program(torch, seed)
        x, steps = p.leaf(shape), {}
        for name in names:
            p.text.append(f"{name}:")
            thunks = torch_programs.OPS[name](p, x)
            if thunks is None:
                continue
            key = f"{len(steps)}:{name}"
            try:
                out = thunks[0]()
            except Exception as error:  # noqa: BLE001 - compared with the other side's
                steps[key] = error
                break
            steps[key] = out
            value = out[0] if isinstance(out, tuple) else out
            x = (value, torch.from_numpy(value.detach().cpu().numpy().copy()))
            p.values.append(x)
        return steps | {"text": "\n".join(p.text)}   # the text: both sides made the same random choices
    return "programs", "+".join(names), run


# --- workers and the report -------------------------------------------------------------------------------

def fixed_cases() -> list[Case]:
    return [*table_cases(), *harvested_cases(), *inplace_cases(), *layout_cases(), *grid_cases()]


def _alarm(signum: int, frame: Any) -> None:
    raise CaseTimeout(f"no answer in {CASE_SECONDS} s")


def worker(wid: int, workers: int, start: int, deadline: float, stand_in: bool, queue: Any, current: Any) -> None:
    """Run this worker's block of the fixed cases (a block: one process compiles the GPU kernels of its dtypes), then
    programs ``i = len(cases) + wid + k * workers``, skipping the cases before ``start``, until ``deadline``."""
    if stand_in:
        from tests.support import strict_cupy
        strict_cupy.install()
    warnings.simplefilter("ignore")
    np.seterr(all="ignore")
    signal.signal(signal.SIGALRM, _alarm)
    cases = fixed_cases()
    n = len(cases)
    for i in itertools.chain(range(wid * n // workers, (wid + 1) * n // workers), itertools.count(n + wid, workers)):
        if time.time() > deadline:
            break
        if i < start:
            continue
        source, op, fn = cases[i] if i < len(cases) else program_case(i)
        current[2 * wid], current[2 * wid + 1] = i, time.time()   # shared memory: it outlives a crash
        signal.alarm(CASE_SECONDS)
        try:
            problems = check(fn, seed=i)
            status = "skip" if problems == ["diverged"] else "mismatch" if problems else "ok"
            if status == "mismatch":   # the bucket: the op (a program's: of its first differing step) and the kind
                step = re.match(r"\w+\[\d+:(\w+)\]", problems[0])
                op = (step.group(1) if step else "") if source == "programs" else op.split("-")[0]
                part, kind = problems[0].split(": ")[:2]
                op = f"{op} {'grads' if part.startswith('grads') else 'result'} {kind}"
            text = "\n".join(problems)
        except Exception:  # noqa: BLE001 - a case that broke the sweep (a timeout included)
            status, text = "error", traceback.format_exc(limit=4)
        finally:
            signal.alarm(0)
        text = f"{text}\nrerun: python -m tests.support.device_sweep --case {i}" if text else ""
        queue.put((status, wid, i, f"{source}:{op}\n{text}" if text else f"{source}:{op}"))
    queue.put(("done", wid, -1, ""))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=150)
    parser.add_argument("--workers", type=int, default=12)
    parser.add_argument("--out", type=Path, default=Path("device_sweep_out"))
    parser.add_argument("--stand-in", action="store_true", help="the strict CuPy stand-in as the GPU")
    parser.add_argument("--case", type=int, help="run this one case (its number in the report) and print")
    args = parser.parse_args(argv)
    if args.case is not None:
        if args.stand_in:
            from tests.support import strict_cupy
            strict_cupy.install()
        cases = fixed_cases()
        source, op, fn = cases[args.case] if args.case < len(cases) else program_case(args.case)
        print(f"{source}:{op}\n" + ("\n".join(check(fn, args.case)) or "the same on both devices"))
        return {}
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    deadline = time.time() + args.seconds
    args.out.mkdir(parents=True, exist_ok=True)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    current = context.Array("d", 2 * args.workers, lock=False)   # per worker: its case, when it began
    spawn = lambda wid, start: context.Process(  # noqa: E731
        target=worker, args=(wid, args.workers, start, deadline, args.stand_in, queue, current), daemon=True)
    processes = {wid: spawn(wid, 0) for wid in range(args.workers)}
    for process in processes.values():
        process.start()
    counts = {"run": 0, "ok": 0, "skip": 0, "mismatch": 0, "error": 0}
    buckets: dict[str, int] = {}
    done: set = set()
    restarts, summarized = 0, 0.0

    def handle(message: tuple) -> None:
        status, wid, i, text = message
        if status == "done":
            done.add(wid)
        else:
            _record(report, counts, buckets, status, i, text)

    with open(args.out / "report.txt", "w") as report:
        report.write(f"device sweep: {' '.join(sys.argv)}\n\n")
        while len(done) < args.workers and time.time() < deadline + CASE_SECONDS + 20:
            try:
                handle(queue.get(timeout=1))
            except queues.Empty:
                pass
            for wid, process in processes.items():
                i, began = int(current[2 * wid]), current[2 * wid + 1]
                if process.is_alive() and began and time.time() - began > CASE_SECONDS + 15:
                    process.kill()   # stuck where the alarm cannot reach (inside a native call)
                if wid in done or process.is_alive():
                    continue
                while True:   # its last messages first: a worker that said "done" did not crash
                    try:
                        handle(queue.get_nowait())
                    except queues.Empty:
                        break
                if wid not in done:   # crashed or killed: note its case, go on after it
                    _record(report, counts, buckets, "error", i, f"worker died (exit {process.exitcode}) in case "
                            f"{i}\nrerun: python -m tests.support.device_sweep --case {i}")
                    restarts += 1
                    if restarts > 3 * args.workers or time.time() > deadline:
                        done.add(wid)
                        continue
                    processes[wid] = spawn(wid, i + 1)
                    processes[wid].start()
                    current[2 * wid + 1] = 0.0   # not in a case yet
            if time.time() - summarized > 2:
                summarized = time.time()
                _write_summary(args.out, counts)
        summary = _write_summary(args.out, counts)
        report.write("\nbuckets (cases each):\n" + "".join(f"  {k}: {v}\n" for k, v in sorted(buckets.items())))
        report.write(f"\nsummary: {summary}\n")
    for process in processes.values():
        process.kill()
    print(summary)
    return counts | {"buckets": buckets}


def _write_summary(out: Path, counts: dict) -> str:
    """The summary line, also in ``out/summary.txt`` (kept current, for a run killed before its end)."""
    summary = (f"cases run {counts['run']}, ok {counts['ok']}, mismatches {counts['mismatch']}, "
               f"errors {counts['error']} (programs skipped as diverged: {counts['skip']})")
    (out / "summary.txt").write_text(summary + "\n")
    return summary


def _record(report: Any, counts: dict, buckets: dict, status: str, i: int, text: str) -> None:
    counts["run"] += 1
    counts[status] += 1
    if status in ("ok", "skip"):
        return
    bucket = f"{status} {text.split(chr(10))[0]}"
    buckets[bucket] = buckets.get(bucket, 0) + 1
    if buckets[bucket] == 1 and report.tell() < 1_000_000:   # one reproducer per bucket, the report under ~1 MB
        report.write(f"[{status}] case {i}: {text[:3000]}\n\n")
        report.flush()


if __name__ == "__main__":
    main()
