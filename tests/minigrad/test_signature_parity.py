"""PyTorch's keyword names: a call written for PyTorch with keyword arguments runs here.

Every public function of ``mg``, method of ``mg.Tensor`` and function of ``nn.functional``, ``mg.special`` and
``mg.fft`` that torch also has (``torch.X``, ``torch.Tensor.X``, ``torch.nn.functional.X``, ``torch.special.X``,
``torch.fft.X``) accepts
each keyword torch's accepts, as a named parameter or through ``**kwargs``, less the keywords of the explicit
tables below (each with its reason). Then ~40 common ops are called with the same keyword arguments in
minigrad and in torch, and give the same values, dtypes and gradients.

torch's keyword names come from ``inspect.signature`` where torch's function has one. A C builtin has none;
its names come from its ATen schemas, the signatures its Python binding is generated from (``self`` is
``input`` for a function, the bound tensor for a method; ``aten::special_X`` for ``torch.special.X``,
``aten::fft_X`` for ``torch.fft.X``), and a
builtin without a schema from the signature lines of its docstring (as tests/nn/test_functional_torch_api.py
reads F.linear's). Docstrings alone would not do: they misname keywords torch refuses (Tensor.div's "value",
Tensor.fmod's "divisor", Tensor.bmm's "batch2"), while the schemas name what the binding parses.
"""

from __future__ import annotations

import inspect
import re
import warnings
from typing import Any, Callable

import numpy as np
import pytest
from helpers import same_as_torch

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="PyTorch is the reference for these tests")
TF = torch.nn.functional

NAMESPACES = {"mg": (mg, torch), "Tensor": (mg.Tensor, torch.Tensor), "F": (nn.functional, TF),
              "special": (mg.special, torch.special), "fft": (mg.fft, torch.fft)}
SCHEMA_PREFIX = {"special": "special_", "fft": "fft_"}   # aten::special_X is torch.special.X

# Keywords of torch's that do not apply to minigrad, whatever the op.
NOT_APPLICABLE = {
    "out": "taken by the functions programs call with it (OUT_TAKEN below, minigrad/outputs.py), not by all",
    "layout": "one layout, dense and strided: no sparse or nested tensors",
    "pin_memory": "no page-locked host memory: CuPy copies from ordinary NumPy arrays",
    "names": "no named tensors (torch's Dimname overloads)",
}

# Keywords of one op that minigrad leaves out on purpose, each with its reason.
LEFT_OUT: dict[tuple[str, str], dict[str, str]] = {
    ("mg", "compile"): dict.fromkeys(("model", "shapes_spec", "recompile_limit", "isolate_recompiles"),
                                     "torch.compile's inductor/dynamo tuning: mg.compile has its own capture"),
    ("mg", "save"): dict.fromkeys(("pickle_module", "pickle_protocol", "_use_new_zipfile_serialization",
                                   "_disable_byteorder_record"),
                                  "mg.save writes its own pickle-free format (minigrad/serialization.py)"),
    ("mg", "load"): {"pickle_module": "mg.load reads its own pickle-free format, never a pickle",
                     "mmap": "checkpoints are read whole"},
    ("Tensor", "expand"): {"implicit": "an internal flag of torch's tracer (x.expand(..., implicit=True))"},
    ("F", "elu_"): dict.fromkeys(("scale", "input_scale"), "aten::elu_'s internal SELU constants; torch documents "
                                                          "elu_(input, alpha) and F.selu covers SELU"),
}

# Keywords torch's ATen schemas (or docstrings) name but torch's Python binding refuses: left out here too.
# Each entry is a call torch answers with a TypeError, so the table stays true as torch changes.
TORCH_REFUSES: dict[tuple[str, str, str], Callable[[], Any]] = {
    ("Tensor", "to", "other"): lambda: torch.ones(2).to(other=torch.ones(2)),
    ("Tensor", "apply_", "callable"): lambda: torch.ones(2).apply_(callable=float),
    ("Tensor", "map_", "tensor"): lambda: torch.ones(2).map_(tensor=torch.ones(2), callable=max),   # (other=)
    ("mg", "from_numpy", "ndarray"): lambda: torch.from_numpy(ndarray=np.ones(2)),
    ("mg", "set_num_threads", "int"): lambda: torch.set_num_threads(int=1),
    ("mg", "set_num_interop_threads", "int"): lambda: torch.set_num_interop_threads(int=1),
    ("F", "fractional_max_pool2d", "random_samples"): lambda: TF.fractional_max_pool2d(  # (its keyword: _random_…)
        torch.ones(1, 1, 4, 4), 2, output_size=2, random_samples=torch.rand(1, 1, 2)),
    ("F", "fractional_max_pool3d", "random_samples"): lambda: TF.fractional_max_pool3d(
        torch.ones(1, 1, 4, 4, 4), 2, output_size=2, random_samples=torch.rand(1, 1, 3)),
}


def _split_top_level(text: str) -> list[str]:
    """``"a, b=(1, 2), *, c"`` → ``["a", "b=(1, 2)", "*", "c"]``: commas outside brackets."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char in "([{"
        depth -= char in ")]}"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [part.strip() for part in [*parts, current] if part.strip()]


def _documented(fn: Any, name: str) -> set[str] | None:
    """The keyword names on the signature lines of ``fn``'s docstring (``sum(input, dim, keepdim=False, *,
    dtype=None) -> Tensor``, every overload's line), or None when it has none."""
    names, found = set(), False
    for line in (fn.__doc__ or "").splitlines():
        match = re.match(r"\s*(?:\.\. (?:function|method):: )?(?:[\w.]*\.)?" + re.escape(name) + r"\(", line)
        if match is None:
            continue
        depth, end = 1, match.end()
        while end < len(line) and depth:
            depth += line[end] in "([{"
            depth -= line[end] in ")]}"
            end += 1
        if depth:
            continue
        found = True
        for part in _split_top_level(line[match.end():end - 1]):
            keyword = part.split("=")[0].split(":")[0].strip()
            if keyword not in ("*", "/", "self") and not keyword.startswith("*"):
                names.add(keyword)
    return names if found else None


def _dispatched(name: str, overload: str) -> bool:
    """Whether ``aten::name.overload`` is one of ATen's operators (TorchScript's own overloads on lists and
    scalars, ``eq.Tensor_list(Tensor[] a, Tensor[] b)`` …, which Python never sees, are not)."""
    try:
        torch._C._dispatch_find_schema_or_throw("aten::" + name, overload)
    except RuntimeError:
        return False
    return True


def _schema_keywords(name: str, method: bool) -> set[str] | None:
    """The argument names of ``aten::name``'s schemas, the signatures torch's Python binding parses; ``self``
    is ``input`` for a function and the bound tensor for a method. Out= variants (their other arguments are
    the functional variant's; ``normal.out`` has a ``self`` torch.normal has not) and TorchScript's own
    overloads are left out."""
    schemas = torch._C._jit_get_schemas_for_operator("aten::" + name)
    if not schemas:
        return None
    names = set()
    for schema in schemas:
        arguments = schema.arguments
        out_variant = any(argument.kwarg_only and argument.alias_info is not None and argument.alias_info.is_write
                          for argument in arguments)   # writes out= (or max=, max_values= …)
        if out_variant or (method and "self" not in [a.name for a in arguments]) or not _dispatched(
                name, schema.overload_name):
            continue
        for argument in arguments:
            if argument.name != "self":
                names.add(argument.name)
            elif not method:
                names.add("input")
    return names


def torch_keywords(where: str, name: str) -> set[str] | None:
    """The keyword names torch's ``where``.``name`` accepts (None: torch tells nothing)."""
    fn, method = getattr(NAMESPACES[where][1], name), where == "Tensor"
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        parameters = None
    kinds = {p.kind for p in parameters or ()}
    # torch's boolean-dispatch wrappers (max_pool1d …) take (*args, **kwargs): their names are elsewhere
    if parameters is not None and not {inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD} <= kinds:
        names = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        return set(names[1:] if method and names and names[0] == "self" else names)
    keywords = _schema_keywords(SCHEMA_PREFIX.get(where, "") + name, method)
    return keywords if keywords is not None else _documented(fn, name)


def minigrad_keywords(where: str, name: str) -> set[str] | None:
    """The keyword names minigrad's ``where``.``name`` accepts: named parameters (not the bound tensor of a
    method), or None for any keyword (``**kwargs``)."""
    parameters = list(inspect.signature(getattr(NAMESPACES[where][0], name)).parameters.values())
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return None
    if where == "Tensor" and parameters and parameters[0].kind in (inspect.Parameter.POSITIONAL_ONLY,
                                                                   inspect.Parameter.POSITIONAL_OR_KEYWORD):
        parameters = parameters[1:]
    return {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _shared_names(where: str) -> list[str]:
    """Public callables of minigrad's namespace that torch's namespace has too (no classes or modules)."""
    ours, theirs = NAMESPACES[where]
    names = []
    for name in dir(ours):
        if name.startswith("_") or not hasattr(theirs, name):
            continue
        mine, torchs = getattr(ours, name, None), getattr(theirs, name)
        if all(callable(f) and not isinstance(f, type) and not inspect.ismodule(f) for f in (mine, torchs)):
            names.append(name)
    return names


SHARED = [(where, name) for where in NAMESPACES for name in _shared_names(where)]


def missing_keywords(where: str, name: str) -> list[str]:
    """torch's keywords of ``where``.``name`` that minigrad's does not accept, less the tables above."""
    theirs, ours = torch_keywords(where, name), minigrad_keywords(where, name)
    if theirs is None or ours is None:
        return []
    left_out = set(NOT_APPLICABLE) | set(LEFT_OUT.get((where, name), {})) | set(NOT_SUPPORTED.get((where, name), {}))
    left_out |= {keyword for (w, n, keyword) in TORCH_REFUSES if (w, n) == (where, name)}
    return sorted(theirs - ours - left_out)


# Options of torch's that minigrad does not implement. minigrad takes the keyword, so that passing it raises a
# NotImplementedError naming the op and the option (never a bare "unexpected keyword argument"); each entry
# is the reason and a call that passes it.
_OUT_DTYPE = "not supported: raises NotImplementedError (torch's CUDA-only float16/bfloat16 product into float32)"
_M, _B = mg.ones(2, 2), mg.ones(1, 2, 2)
NOT_SUPPORTED: dict[tuple[str, str], dict[str, tuple[str, Callable[[], Any]]]] = {
    ("mg", "mm"): {"out_dtype": (_OUT_DTYPE, lambda: mg.mm(_M, _M, out_dtype=mg.float32))},
    ("Tensor", "mm"): {"out_dtype": (_OUT_DTYPE, lambda: _M.mm(_M, out_dtype=mg.float32))},
    ("mg", "bmm"): {"out_dtype": (_OUT_DTYPE, lambda: mg.bmm(_B, _B, out_dtype=mg.float32))},
    ("Tensor", "bmm"): {"out_dtype": (_OUT_DTYPE, lambda: _B.bmm(_B, out_dtype=mg.float32))},
    ("mg", "addmm"): {"out_dtype": (_OUT_DTYPE, lambda: mg.addmm(_M, _M, _M, out_dtype=mg.float32))},
    ("Tensor", "addmm"): {"out_dtype": (_OUT_DTYPE, lambda: _M.addmm(_M, _M, out_dtype=mg.float32))},
    ("mg", "baddbmm"): {"out_dtype": (_OUT_DTYPE, lambda: mg.baddbmm(_B, _B, _B, out_dtype=mg.float32))},
    ("Tensor", "baddbmm"): {"out_dtype": (_OUT_DTYPE, lambda: _B.baddbmm(_B, _B, out_dtype=mg.float32))},
    ("mg", "gather"): {"sparse_grad": ("not supported: sparse_grad=True raises NotImplementedError (no sparse "
                                       "tensors; False is accepted)",
                                       lambda: mg.gather(_M, 0, mg.zeros(1, 2, dtype=mg.int64), sparse_grad=True))},
    ("Tensor", "gather"): {"sparse_grad": ("not supported: sparse_grad=True raises NotImplementedError",
                                           lambda: _M.gather(0, mg.zeros(1, 2, dtype=mg.int64), sparse_grad=True))},
}

@pytest.mark.parametrize(("where", "name"), SHARED, ids=[f"{w}.{n}" for w, n in SHARED])
def test_accepts_pytorchs_keywords(where: str, name: str) -> None:
    missing = missing_keywords(where, name)
    assert not missing, f"{where}.{name} lacks torch's keywords {missing}"


# PyTorch's out= (minigrad/outputs.py; tests/minigrad/test_out_keyword.py checks what it writes): these take it,
# and no function of mg takes it where torch's has no out= variant.
OUT_TAKEN = ("arange", "linspace", "logspace", "zeros", "ones", "empty", "full", "eye", "rand", "randn", "randint",
             "randperm", "cat", "concat", "stack", "matmul", "mm", "bmm", "add", "sub", "mul", "div", "sum", "mean",
             "max", "min", "sort", "topk", "cumsum", "clamp", "clip", "where", "index_select", "gather", "abs", "exp",
             "log", "sqrt", "pow")


def _torch_has_out(name: str) -> bool:
    """Whether one of ``aten::name``'s schemas writes a keyword-only output (``out``, or ``values``/``indices``)."""
    return any(argument.kwarg_only and argument.alias_info is not None and argument.alias_info.is_write
               for schema in torch._C._jit_get_schemas_for_operator("aten::" + name) for argument in schema.arguments)


def test_out_is_taken_where_torch_takes_it() -> None:
    taking = {name for where, name in SHARED if where == "mg" and "out" in (minigrad_keywords(where, name) or ())}
    assert set(OUT_TAKEN) <= taking, f"mg functions without out=: {sorted(set(OUT_TAKEN) - taking)}"
    assert not [name for name in sorted(taking) if not _torch_has_out(name)], "out= where torch has none"


UNSUPPORTED = sorted((w, n, k) for (w, n), options in NOT_SUPPORTED.items() for k in options)


@pytest.mark.parametrize(("where", "name", "keyword"), UNSUPPORTED, ids=[".".join(k) for k in UNSUPPORTED])
def test_options_not_supported_raise_naming_the_op_and_the_option(where: str, name: str, keyword: str) -> None:
    reason, call = NOT_SUPPORTED[where, name][keyword]
    assert keyword in (torch_keywords(where, name) or ()), f"torch's {where}.{name} has no {keyword}"
    with pytest.raises(NotImplementedError, match=rf"^{name}: {keyword}\b.* is not supported"):
        call()


@pytest.mark.parametrize("key", sorted(TORCH_REFUSES), ids=[".".join(k) for k in sorted(TORCH_REFUSES)])
def test_the_keywords_left_out_as_torch_refuses_them_are_refused_by_torch(key: tuple) -> None:
    with warnings.catch_warnings(), pytest.raises(TypeError):
        warnings.simplefilter("ignore")
        TORCH_REFUSES[key]()


def test_the_tables_name_real_ops_and_keywords() -> None:
    shared = set(SHARED)
    for key in [*LEFT_OUT, *NOT_SUPPORTED, *((w, n) for w, n, _ in TORCH_REFUSES)]:
        assert key in shared, f"{key} is not an op both minigrad and torch have"
    for (where, name), keywords in LEFT_OUT.items():
        assert set(keywords) <= torch_keywords(where, name), f"torch's {where}.{name} has no {set(keywords)}"


# --- the same keyword call in minigrad and in torch ------------------------------------------------------------
# Each case is ``fn(lib, *tensors)`` written once in PyTorch's keyword spelling and run with lib = minigrad and
# lib = torch on the same float64 values (tests/helpers.py's same_as_torch): outputs, dtypes and gradients agree.

def _F(lib: Any) -> Any:   # noqa: N802 - the usual name of nn.functional
    return lib.nn.functional


RNG = np.random.default_rng(11)
X34, Y34, X3, X4, X234 = (RNG.standard_normal(s) for s in ((3, 4), (3, 4), (3,), (4,), (2, 3, 4)))
X14, W54, B5, B234 = RNG.standard_normal((1, 4)), RNG.standard_normal((5, 4)), RNG.standard_normal(5), \
    RNG.standard_normal((2, 3, 4))
TARGET = np.array([0, 3, 1])
INDEX = np.array([[0, 2], [1, 1], [3, 0]])
ROWS = np.array([2, 0, 2])
SHAPE34 = np.abs(RNG.standard_normal((3, 4))) + 0.5   # a constant first argument (no gradient to it, in torch either)

KEYWORD_CASES: dict[str, tuple[Callable, tuple]] = {
    # reductions
    "sum": (lambda t, x: t.sum(input=x, dim=1, keepdim=True, dtype=t.float64), (X34,)),
    "sum_method_dims": (lambda t, x: x.sum(dim=(0, 2), keepdim=False), (X234,)),
    "mean": (lambda t, x: t.mean(input=x, dim=0, keepdim=True, dtype=t.float64), (X34,)),
    "std_unbiased": (lambda t, x: x.std(dim=0, unbiased=False), (X34,)),
    "std_correction": (lambda t, x: t.std(input=x, dim=1, correction=0, keepdim=True), (X34,)),
    "var": (lambda t, x: t.var(input=x, dim=(0, 1), correction=2, keepdim=False), (X234,)),
    "var_method": (lambda t, x: x.var(dim=1, unbiased=True, keepdim=True), (X34,)),
    "max_dim": (lambda t, x: t.max(input=x, dim=1, keepdim=True), (X34,)),
    "max_other": (lambda t, x, y: t.max(input=x, other=y), (X34, Y34)),
    "min_method": (lambda t, x: x.min(dim=0, keepdim=False), (X34,)),
    "amax": (lambda t, x: t.amax(input=x, dim=(0, 1), keepdim=True), (X234,)),
    "argmax": (lambda t, x: t.argmax(input=x, dim=1, keepdim=True), (X34,)),
    "argmin_method": (lambda t, x: x.argmin(dim=0), (X34,)),
    "logsumexp": (lambda t, x: t.logsumexp(input=x, dim=1, keepdim=False), (X34,)),
    "prod": (lambda t, x: t.prod(input=x, dim=1, keepdim=True, dtype=t.float64), (X34,)),
    "norm": (lambda t, x: t.norm(input=x, p=1, dim=1, keepdim=True, dtype=t.float64), (X34,)),
    "norm_method": (lambda t, x: x.norm(p=2, dim=0, keepdim=False), (X34,)),
    # order
    "topk": (lambda t, x: x.topk(k=2, dim=-1, largest=False, sorted=True), (X34,)),
    "topk_function": (lambda t, x: t.topk(input=x, k=2, dim=0), (X34,)),
    "sort": (lambda t, x: t.sort(input=x, dim=0, descending=True, stable=True), (X34,)),
    "argsort": (lambda t, x: t.argsort(input=x, dim=1, descending=True), (X34,)),
    # scans and softmax
    "cumsum": (lambda t, x: t.cumsum(input=x, dim=1, dtype=t.float64), (X34,)),
    "cumsum_method": (lambda t, x: x.cumsum(dim=0), (X34,)),
    "softmax": (lambda t, x: t.softmax(input=x, dim=0, dtype=t.float64), (X34,)),
    "F_softmax": (lambda t, x: _F(t).softmax(input=x, dim=-1), (X34,)),
    "log_softmax": (lambda t, x: _F(t).log_softmax(input=x, dim=1, dtype=t.float64), (X34,)),
    "log_softmax_method": (lambda t, x: x.log_softmax(dim=0), (X34,)),
    # joining and splitting
    "cat": (lambda t, x, y: t.cat(tensors=[x, y], dim=1), (X34, Y34)),
    "stack": (lambda t, x, y: t.stack(tensors=(x, y), dim=-1), (X34, Y34)),
    "chunk": (lambda t, x: t.chunk(input=x, chunks=2, dim=1), (X34,)),
    "split": (lambda t, x: t.split(tensor=x, split_size_or_sections=[1, 2], dim=0), (X34,)),
    "split_method": (lambda t, x: x.split(split_size=3, dim=1), (X34,)),
    "tensor_split": (lambda t, x: t.tensor_split(input=x, sections=3, dim=1), (X34,)),
    "hsplit": (lambda t, x: t.hsplit(input=x, indices=[1, 3]), (X34,)),
    # indexing
    "gather": (lambda t, x, i: t.gather(input=x, dim=1, index=i, sparse_grad=False), (X34, INDEX)),
    "index_select": (lambda t, x, i: t.index_select(input=x, dim=0, index=i), (X34, ROWS)),
    "where": (lambda t, x, y: t.where(condition=x > 0, input=x, other=y), (X34, Y34)),
    "masked_fill": (lambda t, x: t.masked_fill(input=x, mask=x > 0, value=0.5), (X34,)),
    "masked_fill_method": (lambda t, x: x.masked_fill(mask=x < 0, value=-1.0), (X34,)),
    "repeat_interleave": (lambda t, x: t.repeat_interleave(input=x, repeats=2, dim=0, output_size=8), (X4,)),
    # pointwise
    "clamp": (lambda t, x: t.clamp(input=x, min=-0.5, max=0.5), (X34,)),
    "clamp_method": (lambda t, x: x.clamp(min=-0.2), (X34,)),
    "add_alpha": (lambda t, x, y: t.add(input=x, other=y, alpha=2), (X34, Y34)),
    "sub_method": (lambda t, x, y: x.sub(other=y, alpha=0.5), (X34, Y34)),
    "mul": (lambda t, x, y: t.mul(input=x, other=y), (X34, Y34)),
    "div_rounding": (lambda t, x, y: t.div(input=x, other=y, rounding_mode="floor") + x, (X34, Y34)),
    "pow": (lambda t, x: t.pow(input=x, exponent=2), (X34,)),
    "atan2": (lambda t, x, y: x.atan2(other=y), (X34, Y34)),
    "lerp": (lambda t, x, y: t.lerp(input=x, end=y, weight=0.25), (X34, Y34)),
    "xlogy": (lambda t, x, y: t.xlogy(input=x, other=y.abs() + 0.5), (X34, Y34)),
    "hypot_method": (lambda t, x, y: x.hypot(other=y), (X34, Y34)),
    "float_power": (lambda t, x: t.float_power(input=x, exponent=2), (X34,)),
    "copysign": (lambda t, x, y: t.copysign(input=x, other=y), (X34, Y34)),
    "fmax_method": (lambda t, x, y: x.fmax(other=y), (X34, Y34)),
    "logaddexp2": (lambda t, x, y: t.logaddexp2(input=x, other=y), (X34, Y34)),
    "logit": (lambda t, x: t.logit(input=x.sigmoid(), eps=0.1), (X34,)),
    "nan_to_num": (lambda t, x: t.nan_to_num(input=x / (x > 0), nan=0.5, posinf=2.0), (X34,)),
    "sinc": (lambda t, x: t.sinc(input=x), (X34,)),
    "deg2rad": (lambda t, x: t.deg2rad(input=x), (X34,)),
    # special functions
    "lgamma": (lambda t, x: t.lgamma(input=x.abs() + 0.1), (X34,)),
    "polygamma": (lambda t, x: t.polygamma(n=2, input=x.abs() + 0.5), (X34,)),   # torch's n = 1 is 1e-9 off
    "mvlgamma": (lambda t, x: t.mvlgamma(input=x.abs() + 2, p=3), (X34,)),
    "erfinv": (lambda t, x: t.erfinv(input=x.tanh() * 0.9), (X34,)),
    "igammac_method": (lambda t, y: t.tensor(SHAPE34).igammac(other=y.abs() + 0.1), (Y34,)),
    "special_gammainc": (lambda t, y: t.special.gammainc(input=t.tensor(SHAPE34), other=y.abs()), (Y34,)),
    "special_xlog1py": (lambda t, x, y: t.special.xlog1py(input=x, other=y.abs()), (X34, Y34)),
    "special_zeta": (lambda t, q: t.special.zeta(input=t.tensor(SHAPE34) + 1, other=q.abs() + 1), (X34,)),
    "special_ndtri": (lambda t, x: t.special.ndtri(input=x.sigmoid()), (X34,)),
    "special_multigammaln": (lambda t, x: t.special.multigammaln(input=x.abs() + 1, p=2), (X34,)),
    "special_softmax": (lambda t, x: t.special.softmax(input=x, dim=1, dtype=t.float64), (X34,)),
    "special_logsumexp": (lambda t, x: t.special.logsumexp(input=x, dim=0, keepdim=True), (X34,)),
    # products
    "matmul": (lambda t, x, y: t.matmul(input=x, other=y.T), (X34, Y34)),
    "mm": (lambda t, x, y: t.mm(input=x, mat2=y.T), (X34, Y34)),
    "bmm": (lambda t, x, y: x.bmm(mat2=y.transpose(1, 2)), (X234, B234)),
    "dot": (lambda t, x: t.dot(input=x, tensor=x), (X4,)),
    "outer": (lambda t, x, y: t.outer(input=x, vec2=y), (X3, X4)),
    "einsum": (lambda t, x, y: t.einsum("ij,kj->ik", x, y), (X34, Y34)),
    # shapes
    "unsqueeze": (lambda t, x: t.unsqueeze(input=x, dim=1), (X34,)),
    "view": (lambda t, x: x.view(size=(4, 3)), (X34,)),
    "reshape": (lambda t, x: t.reshape(input=x, shape=(2, 6)), (X34,)),
    "reshape_method": (lambda t, x: x.reshape(shape=(12,)), (X34,)),
    "permute": (lambda t, x: t.permute(input=x, dims=(2, 0, 1)), (X234,)),
    "permute_method": (lambda t, x: x.permute(dims=(1, 0, 2)), (X234,)),
    "transpose": (lambda t, x: t.transpose(input=x, dim0=0, dim1=2), (X234,)),
    "transpose_method": (lambda t, x: x.transpose(0, dim1=1), (X34,)),
    "swapaxes": (lambda t, x: t.swapaxes(input=x, axis0=0, axis1=1), (X34,)),
    "flatten": (lambda t, x: t.flatten(input=x, start_dim=1, end_dim=2), (X234,)),
    "squeeze": (lambda t, x: t.squeeze(input=x, dim=0), (X14,)),
    "expand": (lambda t, x: x.expand(size=(3, 4)), (X14,)),
    "broadcast_to": (lambda t, x: t.broadcast_to(input=x, size=(3, 4)), (X4,)),
    "repeat": (lambda t, x: x.repeat(repeats=(2, 1)), (X34,)),
    "tile": (lambda t, x: t.tile(input=x, dims=(2,)), (X34,)),
    "flip": (lambda t, x: t.flip(input=x, dims=(0, 1)), (X34,)),
    "narrow": (lambda t, x: t.narrow(input=x, dim=1, start=1, length=2), (X34,)),
    # nn.functional
    "linear": (lambda t, x, w, b: _F(t).linear(input=x, weight=w, bias=b), (X34, W54, B5)),
    "cross_entropy": (lambda t, x, y: _F(t).cross_entropy(input=x, target=y, reduction="sum", label_smoothing=0.1,
                                                         ignore_index=1), (X34, TARGET)),
    "cross_entropy_weight": (lambda t, x, y, w: _F(t).cross_entropy(input=x, target=y, weight=w.detach().abs()),
                             (X34, TARGET, X4)),
    "nll_loss": (lambda t, x, y: _F(t).nll_loss(input=_F(t).log_softmax(x, dim=1), target=y, reduction="mean",
                                                ignore_index=0), (X34, TARGET)),
    "mse_loss": (lambda t, x, y: _F(t).mse_loss(input=x, target=y, reduction="none"), (X34, Y34)),
    "dropout_eval": (lambda t, x: _F(t).dropout(input=x, p=0.5, training=False, inplace=False), (X34,)),
    "dropout_p0": (lambda t, x: _F(t).dropout(input=x, p=0.0, training=True), (X34,)),
    "layer_norm": (lambda t, x, w, b: _F(t).layer_norm(input=x, normalized_shape=(4,), weight=w, bias=b, eps=1e-3),
                   (X34, X4, X4)),
    "embedding": (lambda t, i, w: _F(t).embedding(input=i, weight=w, padding_idx=0), (ROWS, W54)),
    "pad": (lambda t, x: _F(t).pad(input=x, pad=(1, 2), mode="constant", value=0.5), (X34,)),
    "one_hot": (lambda t, i: _F(t).one_hot(input=i, num_classes=5), (TARGET,)),
}
# padding_idx's row gets no gradient by design (PyTorch's too), and the class weights are detached (torch does
# not differentiate them): finite differences cannot agree with either
# nan_to_num's input is ±inf where finite differences are taken (inf - inf)
NO_GRADCHECK = {"embedding", "cross_entropy_weight", "nan_to_num"}


@pytest.mark.parametrize("name", sorted(KEYWORD_CASES))
def test_the_same_keyword_call_gives_torchs_values_dtypes_and_gradients(name: str) -> None:
    fn, arrays = KEYWORD_CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # torch's own deprecations
        same_as_torch(torch, fn, *arrays, gradcheck=name not in NO_GRADCHECK)


def test_more_of_pytorchs_keyword_spellings_as_torch() -> None:
    x = np.arange(12.0).reshape(3, 4) - 5.5
    ours, theirs = mg.tensor(x), torch.from_numpy(x.copy())
    pairs = [
        (mg.isin(element=2.5, test_elements=ours), torch.isin(element=2.5, test_elements=theirs)),
        (mg.isin(ours, test_element=0.5), torch.isin(theirs, test_element=0.5)),
        (mg.scalar_tensor(s=3), torch.scalar_tensor(s=3)),
        (mg.asarray(obj=[1, 2]), torch.asarray(obj=[1, 2])),
        (ours.clone().round_(decimals=1), theirs.clone().round_(decimals=1)),
        (ours.type(mg.float32, non_blocking=False), theirs.type(torch.float32, non_blocking=False)),
        (mg.zeros(3, 4).copy_(ours, non_blocking=False), torch.zeros(3, 4).copy_(theirs, non_blocking=False)),
        (ours.view(dtype=mg.int64), theirs.view(dtype=torch.int64)),
        (mg.vsplit(ours, sections=3)[1], torch.vsplit(theirs, sections=3)[1]),
        (mg.tensor_split(ours, tensor_indices_or_sections=mg.tensor([1, 3]), dim=1)[1],
         torch.tensor_split(theirs, tensor_indices_or_sections=torch.tensor([1, 3]), dim=1)[1]),
    ]
    for k, (a, b) in enumerate(pairs):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=f"pair {k}")
        assert a.numpy().dtype == b.numpy().dtype, f"pair {k}: {a.dtype} vs {b.dtype}"
    for spelled in ({"scalar": 1, "tensor": theirs}, {"scalar1": 1, "scalar2": 2.0}):
        assert mg.result_type(**{k: ours if v is theirs else v for k, v in spelled.items()}) == \
            torch.empty(0, dtype=torch.result_type(**spelled)).numpy().dtype
    mg.manual_seed(0)
    drawn = mg.empty(1000).uniform_(**{"from": -2.0, "to": -1.0})
    assert -2.0 <= float(drawn.min()) and float(drawn.max()) < -1.0


def test_numpy_spellings_keep_numpys_names() -> None:
    x = mg.tensor(np.arange(24.0).reshape(2, 3, 4))
    assert mg.broadcast_to(mg.ones(4), shape=(3, 4)).shape == (3, 4)
    assert mg.swapaxes(x, axis1=0, axis2=2).shape == (4, 3, 2) == x.swapaxes(axis0=0, axis1=2).shape
    assert [p.shape for p in mg.hsplit(x, indices_or_sections=3)] == [(2, 1, 4)] * 3
    assert [p.shape for p in mg.split(x, [2], axis=2)] == [(2, 3, 2), (2, 3, 2)]
    assert x.transpose(axes=(2, 0, 1)).shape == (4, 2, 3)


@pytest.mark.parametrize(("call", "message"), [
    (lambda x: x.view(2, 6, size=(12,)), "view: give the size positionally or as size=, not both"),
    (lambda x: x.reshape(12, shape=(12,)), "reshape: give the shape positionally or as shape="),
    (lambda x: x.permute(1, 0, dims=(1, 0)), "permute: give the dims positionally or as dims="),
    (lambda x: x.transpose(1, dim0=0), "transpose: give two dims"),
    (lambda x: x.swapaxes(0, 1, axis0=1), "swapaxes: give axis0= and axis1= .* or axis1= and axis2="),
    (lambda x: mg.broadcast_to(x, (3, 4), shape=(3, 4)), "broadcast_to: give exactly one of size=, shape="),
    (lambda x: mg.hsplit(x, 2, sections=2), "hsplit: give exactly one of indices_or_sections=, sections=, indices="),
    (lambda x: mg.hsplit(x, sections=[2]), "hsplit: sections= takes an int and indices= a list"),
    (lambda x: mg.split(x), "split: give exactly one of split_size_or_sections=, split_size="),
    (lambda x: mg.isin(1.0, x, element=1.0), "isin: give exactly one of elements=, element="),
    (lambda x: mg.result_type(x), "result_type: expected two operands"),
    (lambda x: nn.functional.one_hot(x.long(), input=x.long()), "one_hot: give the indices as tensor or as input="),
    (lambda x: x.uniform_(0.0, too=1.0), "uniform_: unexpected keyword 'too'"),
    (lambda x: x.copy_(x, non_blocking=1), "copy_: non_blocking must be a bool"),
    (lambda x: mg.norm(x, dtype=mg.float32), "norm: dtype=float32 must be a floating dtype"),
    (lambda x: mg.repeat_interleave(x, 2, output_size=5), "repeat_interleave: output_size=5 but the repeats give"),
])
def test_a_keyword_with_its_positional_twin_or_a_wrong_value_raises_naming_the_op(call: Callable,
                                                                                  message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        call(mg.tensor(np.arange(12.0).reshape(3, 4)))
