"""PyTorch's ``out=`` keyword: write a function's result into a tensor the caller made beforehand.

``mg.arange(0, n, out=mg.LongTensor(n))``, ``mg.add(a, b, out=c)``, ``mg.max(x, 1, out=(values, indices))``: the
result is computed as without ``out`` and then copied into ``out``'s array, and ``out`` itself (the same object)
is returned. PyTorch's rules:

* ``out`` takes the result's shape: a different shape resizes it (new memory), with PyTorch's warning unless
  ``out`` had no elements or the function creates values (``zeros``, ``rand`` …; ``arange`` warns);
* dtypes: a creation function (``zeros``, ``arange``, ``randint`` …) computes in ``out``'s dtype (an explicit
  ``dtype`` must be the same); most other ops cast their result into ``out``'s dtype where an in-place op could
  (no float into an integer ``out``, nothing but bool into bool: ``"cast"``), some need the very dtype
  (``mm``, ``gather``, ``sort`` …: ``"exact"``), and ``sum``/``cumsum`` accumulate in ``out``'s dtype;
* no autograd: under grad mode an input or ``out`` that requires grad raises PyTorch's error, and ``out``
  never becomes part of a graph;
* ``out`` may not share memory with an input in a way PyTorch refuses (``inputs=``): elementwise ops, sorts and
  scans take ``out`` that is exactly an input (``mg.exp(x, out=x)``) but not one that partly overlaps it
  (``mg.add(x, x[0], out=x)``, ``out=x`` with ``x.T`` as input); ``cat``, ``gather``, ``take`` … take no overlap at
  all (``overlap="any"``), and neither do the matrix products' factors (``mm(a, b, out=a)``: PyTorch's result is
  zeros; ``addmm(c, a, b, out=c)`` is fine: ``"operands"``). A reduction given its own input as out
  (``mg.sum(x, 0, out=x)``), or a view of it (``out=x[0]``), is refused where PyTorch refuses or resizes out first
  and reduces what is left (sum → 0, amax → -inf …), or its kernel reads what it wrote: ``sum``, ``mean``,
  ``prod``, ``amax``, ``amin``, ``all``, ``any``, ``nansum``, ``nanmean`` take no sharing at all (``"any"``);
  ``max``/``min`` along a dim, ``std``, ``var``, ``norm``, ``argmax``, ``argmin``, ``aminmax``, ``mode``,
  ``median`` and the scans take out that is exactly the input unresized (``"reduce"``); ``kthvalue`` takes a
  strided view of its input, not the input itself (``"not_self"``); ``logsumexp`` (composed of other ops there)
  takes any. Where out or an input is not dense (a column of a
  matrix) PyTorch does not check: elementwise ops, sorts and scans compute here as there; where any sharing is
  refused, PyTorch's kernel reads what it wrote (``mv(m, v, out=m[:, 0])`` is wrong), so an exact test of the
  elements shared refuses it here;
* the write bumps ``out``'s version counter, as an in-place op does, so a backward that saved ``out``'s old
  values refuses to run.

Each public function calls :func:`write_out` only when ``out is not None``: a call without ``out`` pays one test.
Most take ``out`` from the table :data:`OUT_RULES` (each function's rule: which out dtypes, elementwise or not,
computed in out's dtype, which overlaps): :func:`install` wraps them with :func:`takes_out` where ``mg``,
``mg.special``, ``mg.fft`` and ``ops/statistics.py`` define their public names.
"""

from __future__ import annotations

import functools
import inspect
import sys
import warnings
from typing import Any, Callable, NamedTuple

from . import backend
from .dtypes import can_cast, complex64, complex128
from .recording import is_recording
from .tensor import Tensor
from .versions import memory_owner

AUTOGRAD_ERROR = ("{name}(): functions with out=... arguments don't support automatic differentiation, but one of "
                  "the arguments requires grad.")


class OutDtypeError(TypeError, RuntimeError):
    """The result cannot be written into ``out``'s dtype (TypeError here, RuntimeError in PyTorch)."""


class OutKernelError(OutDtypeError, NotImplementedError):
    """A function that computes in ``out``'s dtype (``nansum``, ``cumprod``, ``range`` …) given an out of a dtype
    it has no kernel for: PyTorch's NotImplementedError ("nansum_cpu" not implemented for 'Long')."""


def _check_out(name: str, out: Any) -> Tensor:
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if is_recording() and (out.requires_grad or _no_grad_view(out)):
        raise RuntimeError(AUTOGRAD_ERROR.format(name=name))
    return out


def _no_grad_view(out: Tensor) -> bool:
    """Whether ``out`` is a view made under no_grad of a tensor that requires grad (ops.shape.NO_GRAD_VIEW, the
    one view record that names no base), or a view of one: PyTorch's such a view requires grad, so out= with grad
    mode on refuses it (writing it would change the base behind autograd's back). As ops.inplace.made_under_no_grad
    (which this module cannot import)."""
    view = getattr(out, "_view", None)
    while view and view[0] is not None:
        view = getattr(view[0], "_view", None)
    return bool(view)


def creation_args(name: str, out: Any, dtype: Any, device: Any) -> tuple[Any, Any]:
    """The ``(dtype, device)`` a creation function computes in when it writes into ``out``: out's own, and an
    explicit ``dtype`` must be out's (PyTorch's ``dtype X does not match dtype of out parameter (Y)``)."""
    out = _check_out(name, out)
    if dtype is not None and backend.as_dtype(dtype, name) != out.dtype:
        raise OutDtypeError(f"{name}(): dtype {backend.as_dtype(dtype, name)} does not match dtype of out parameter "
                            f"({out.dtype})")
    return out.dtype, out.device if device is None else device


OVERLAP_ERROR = ("{name}(): unsupported operation: some elements of the input tensor (shape {input}) and the "
                 "written-to tensor (out, shape {out}) refer to a single memory location. Please clone() the tensor "
                 "before performing the operation.")


def _dense_span(a: Any) -> tuple[int, int] | None:
    """``(first byte, past last byte)`` of an array whose elements fill that range once each (PyTorch's
    "non-overlapping and dense"), else None (PyTorch does not check those)."""
    if a.size == 0:
        return None
    expected = a.itemsize
    for stride, n in sorted((s, n) for n, s in zip(a.shape, a.strides) if n != 1):
        if stride != expected:
            return None
        expected *= n
    interface = getattr(a, "__cuda_array_interface__", None)   # CuPy's; NumPy's otherwise
    begin = (interface if interface is not None else a.__array_interface__)["data"][0]
    return begin, begin + a.size * a.itemsize


def _layout(a: Any) -> tuple:
    return tuple((n, s) for n, s in zip(a.shape, a.strides) if n != 1)


def _check_overlap(name: str, out: Tensor, inputs: Any, overlap: str, resized: tuple | None,
                   broadcast: bool = False) -> None:
    """PyTorch's memory-overlap checks of ``out`` against each Tensor in ``inputs`` (nested lists too):
    ``"partial"`` refuses an input that shares some but not exactly all of out's elements, ``"any"`` refuses
    any sharing (``out`` being an input included), ``"reduce"`` any sharing but out being exactly the input with
    the result's shape (PyTorch's reductions and scans that read a slice before writing its result: elsewhere
    their result is garbage), ``"not_self"`` as ``"partial"`` but out may not be the input at all (``kthvalue``,
    which PyTorch computes right into a strided view of its input). A ``resized`` out (the result's shape; None:
    not resized) gets new memory: only being an input counts, and for an elementwise op (``broadcast``) that makes
    the op an in-place one, which PyTorch's rule forbids to resize (``maximum(a, b, out=a)`` is
    ``a.maximum_(b)``)."""
    span = _dense_span(out.data)
    for value in inputs:
        if isinstance(value, (list, tuple)):
            _check_overlap(name, out, value, overlap, resized, broadcast)
            continue
        if not isinstance(value, Tensor):
            continue
        if value is out:
            if resized is not None and broadcast and overlap != "any":
                raise RuntimeError(f"{name}(): output with shape {list(out.shape)} doesn't match the broadcast "
                                   f"shape {list(resized)} (out is also an input, so it cannot be resized)")
            clash = overlap in ("any", "not_self") or (resized is not None and overlap == "reduce")
        elif resized is not None:
            continue
        else:
            other = _dense_span(value.data)
            if span is None or other is None:   # not dense: PyTorch does not check, and where any sharing is
                # refused (its kernel reads what it wrote: mv(m, v, out=m[:, 0])) computes a wrong result
                clash = (overlap == "any" or overlap == "reduce" and not _same_elements(out.data, value.data)) \
                    and _shares_elements(out.data, value.data)
            elif not (span[0] < other[1] and other[0] < span[1]):
                continue
            else:
                clash = overlap == "any" or span != other or _layout(out.data) != _layout(value.data)
        if clash:
            raise RuntimeError(OVERLAP_ERROR.format(name=name, input=value.shape, out=out.shape))


def _same_elements(a: Any, b: Any) -> bool:
    """Whether arrays ``a`` and ``b`` are the same elements in the same layout (PyTorch's full overlap)."""
    interface = getattr(a, "__cuda_array_interface__", None)
    if interface is not None:
        first, second = interface["data"][0], b.__cuda_array_interface__["data"][0]
    else:
        first, second = a.__array_interface__["data"][0], b.__array_interface__["data"][0]
    return first == second and _layout(a) == _layout(b)


def _shares_elements(a: Any, b: Any) -> bool:
    """Whether arrays ``a`` and ``b`` (one of them not dense) have an element in common; True where NumPy cannot
    tell (its exact test gives up on some strided layouts)."""
    if memory_owner(a) is not memory_owner(b) or not a.size or not b.size:
        return False
    xp = backend.array_module(a)
    if not xp.may_share_memory(a, b):   # the memory spans do not meet: cheap, no element compared
        return False
    try:   # (CuPy's exact answer runs a kernel: only reached for spans that meet)
        return bool(getattr(xp, "shares_memory", xp.may_share_memory)(a, b))
    except Exception:  # noqa: BLE001 - NumPy's TooHardError: cannot tell, so refuse rather than guess
        return True


def write_out(name: str, result: Any, out: Any, dtypes: str = "cast", warn: bool = True, inputs: Any = (),
              overlap: str = "partial", broadcast: bool = False) -> Any:
    """Copy ``result`` (a Tensor, or a ``(values, indices)`` named tuple written into a pair of tensors) into
    ``out`` and return ``out`` (a pair: the same named tuple type holding out's two tensors).

    ``dtypes`` says which result dtypes ``out`` takes: ``"cast"`` (those an in-place op can write:
    ``dtypes.can_cast``) or ``"exact"`` (only its own). ``warn=False``: resize without PyTorch's warning, as
    its creation functions but ``arange`` do. ``inputs``: the op's tensors (lists of them too) that ``out``
    may not overlap, PyTorch's way (``overlap``: ``"partial"``, ``"any"``, ``"reduce"``, ``"not_self"`` or
    ``"operands"``: see the module's docstring and :func:`_check_overlap`).
    ``broadcast``: the op is elementwise (its result the broadcast of its inputs), so an input given as ``out``
    keeps its shape (PyTorch's in-place rule) instead of being resized.
    """
    if isinstance(result, tuple):
        if not (isinstance(out, (tuple, list)) and len(out) == len(result)):
            raise TypeError(f"{name}(): out must be a tuple of {len(result)} Tensors, got {type(out).__name__}"
                            + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else ""))
        pairs = list(zip(result, out))
    else:
        pairs = [(result, out)]
    targets = [_check_out(name, target) for _, target in pairs]
    if is_recording() and any(value.requires_grad for value, _ in pairs):
        raise RuntimeError(AUTOGRAD_ERROR.format(name=name))
    for (value, target) in pairs:
        if value.dtype != target.dtype and dtypes == "exact":
            raise OutDtypeError(f"{name}(): expected out to have the result's dtype {value.dtype}, got {target.dtype} "
                                f"(shape {target.shape})")
        if not can_cast(value.dtype, target.dtype):
            raise OutDtypeError(f"{name}(): result type {value.dtype} can't be cast to the dtype {target.dtype} of "
                                f"out (shape {target.shape})")
        if value.device != target.device:
            raise ValueError(f"{name}(): out is on {target.device} but the result is on {value.device}")
    for value, target in pairs:
        if target.shape != value.shape:
            _check_resizable(name, target, value.shape)
        if inputs:
            resized = value.shape if target.shape != value.shape else None
            if overlap == "operands":   # the matrix products: out may be the added input, never a factor
                _check_overlap(name, target, inputs[:1], "partial", resized, broadcast)
                _check_overlap(name, target, inputs[1:], "any", resized, broadcast)
            else:
                _check_overlap(name, target, inputs, overlap, resized, broadcast)
    for value, target in pairs:
        _write(name, value, target, warn)
    return type(result)(*targets) if isinstance(result, tuple) else out


def _check_resizable(name: str, out: Tensor, shape: tuple) -> None:
    """PyTorch resizes ``out`` inside its storage, so a tensor sharing that memory (out's base, or a view of
    out) sees the result; minigrad gives a resized out memory of its own, so it refuses rather than differ."""
    shared = getattr(out, "_view", None) or any(
        view is not None and view.data.size for view in (ref() for ref in getattr(out, "_views", None) or ()))
    if shared:
        raise RuntimeError(f"{name}(): out (shape {out.shape}) shares its memory with another tensor (it is a view, "
                           f"or has views) and would be resized to {shape}; PyTorch would write the result into that "
                           f"shared memory, which minigrad does not do: pass an out of shape {shape}, or one that "
                           "shares no memory")


def _write(name: str, value: Tensor, out: Tensor, warn: bool) -> None:
    data = out.data
    if data.shape != value.shape:
        if warn and data.size:
            warnings.warn(f"{name}(): an output with one or more elements was resized since it had shape "
                          f"{tuple(data.shape)}, which does not match the required output shape {value.shape}. "
                          "This behavior is deprecated, and in a future PyTorch release outputs will not be resized "
                          "unless they have zero elements. You can explicitly reuse an out tensor t by resizing it, "
                          "inplace, to zero elements with t.resize_(0).", UserWarning, stacklevel=4)
        for ref in getattr(out, "_views", None) or ():   # views keep the old memory, which out no longer shares
            view = ref()
            if view is not None:
                view._view = None
        out.data = value.data.astype(out.dtype, copy=True)
        out._view, out._views = (), []
    else:
        if data.size and (any(n > 1 and step == 0 for n, step in zip(data.shape, data.strides)) or not getattr(
                data.flags, "writeable", True)):   # (an empty array's strides may be 0: nothing is written)
            raise RuntimeError(f"{name}(): out (shape {out.shape}) is an expanded or read-only view whose elements "
                               "share memory; clone() it first")
        data[...] = value.data
    out._bump_version()


class OutRule(NamedTuple):
    """How :func:`takes_out` writes one function's result into ``out``: ``dtypes`` as :func:`write_out`'s
    (``"cast"`` or ``"exact"``); ``broadcast``: an elementwise op (out that is an input keeps its shape);
    ``accumulate``: computed in out's dtype, passed as the function's ``dtype`` (``prod``, ``nansum`` …: an
    explicit ``dtype`` must be out's); ``kinds``: the dtype kinds out may have (NumPy's letters: ``"b"`` bool,
    ``"u"``/``"i"`` integers, ``"f"`` floats, ``"c"`` complex) where PyTorch refuses some that a cast could write;
    ``warn=False``: resizing a non-empty out gives no warning, as those few of PyTorch's; ``overlap``: which
    sharing of memory between out and an input is refused (:func:`write_out`'s; ``""``: none, as PyTorch's linear
    algebra, which computes into a buffer of its own; ``"operands"``: the first input, addmm's added one, as
    ``"partial"``, the factors as ``"any"``); ``reads_as_out``: a floating or complex input is read in
    out's dtype (PyTorch's ``std``/``var``: a float16 input into a float32 out is computed in float32);
    ``needs_dim``: PyTorch's overloads that take out= all take a dim (``prod``, ``median`` …), so a call with
    out= and no dim (positional or ``dim=``; NumPy's ``axis=`` keeps its meaning) is its TypeError."""

    dtypes: str = "cast"
    broadcast: bool = False
    accumulate: bool = False
    kinds: str = "buifc"
    warn: bool = True
    overlap: str = "partial"
    reads_as_out: bool = False
    needs_dim: bool = False


def takes_out(fn: Callable, name: str, rule: OutRule = OutRule()) -> Callable:
    """``fn`` with PyTorch's keyword-only ``out=``: without it, ``fn`` itself is called (one test more); with
    it, ``fn``'s result is written into ``out`` by :func:`write_out` under ``rule`` and ``out`` is returned.
    The wrapper's signature is ``fn``'s with ``out`` added, so ``inspect.signature`` shows PyTorch's keywords."""

    def with_out(*args: Any, out: Any = None, **kwargs: Any) -> Any:
        if out is None:
            return fn(*args, **kwargs)
        if rule.needs_dim and len(args) < 2 and "dim" not in kwargs and "axis" not in kwargs:
            raise TypeError(f"{name}() missing 1 required positional argument: \"dim\" (PyTorch's {name} takes out= "
                            f"only with a dim: {name}(input, dim, keepdim=False, *, out=...))")
        kind = getattr(getattr(out, "dtype", None), "kind", None)
        if kind is not None and kind not in rule.kinds:
            error = OutKernelError if rule.accumulate else OutDtypeError   # (computed in out's dtype: no kernel)
            raise error(f"{name}(): out (shape {out.shape}) may not have dtype {out.dtype}, as in PyTorch")
        if rule.accumulate and kind is not None:
            if kwargs.get("dtype") is not None and backend.as_dtype(kwargs["dtype"], name) != out.dtype:
                raise OutDtypeError(f"{name}(): dtype {backend.as_dtype(kwargs['dtype'], name)} does not match "
                                    f"dtype of out parameter ({out.dtype})")
            kwargs["dtype"] = out.dtype
        if rule.reads_as_out and kind in ("f", "c"):
            args, kwargs = _input_as(name, out, args, kwargs)
        inputs = (*args, *kwargs.values()) if rule.overlap else ()
        if rule.overlap == "operands":   # the added input first (addmm(input=c, mat1=a, mat2=b)), then the factors
            inputs = inputs if args else (kwargs.get("input"), *(v for k, v in kwargs.items() if k != "input"))
        return write_out(name, fn(*args, **kwargs), out, rule.dtypes, rule.warn, inputs, rule.overlap or "partial",
                         rule.broadcast)

    functools.update_wrapper(with_out, fn)
    signature = inspect.signature(fn)
    parameters = list(signature.parameters.values())
    at = len(parameters) - (bool(parameters) and parameters[-1].kind is inspect.Parameter.VAR_KEYWORD)
    parameters.insert(at, inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY, default=None,
                                            annotation="Tensor | None"))
    with_out.__signature__ = signature.replace(parameters=parameters)   # type: ignore[attr-defined]
    with_out.__name__ = name
    return with_out


def _input_as(name: str, out: Tensor, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """``args``/``kwargs`` with the input (the first argument or ``input=``) cast to out's dtype as PyTorch's
    reductions read it: a complex input to the complex dtype of out's precision (complex64 for a float16 out,
    NumPy having no complex32); a real input into a complex out raises PyTorch's NotImplementedError."""
    x = args[0] if args else kwargs.get("input")
    if not isinstance(x, Tensor) or x.dtype.kind not in "fc":
        return args, kwargs
    dtype = out.dtype
    if x.dtype.kind == "c" and dtype.kind == "f":
        dtype = complex128 if dtype.itemsize == 8 else complex64
    elif x.dtype.kind == "f" and dtype.kind == "c":
        raise NotImplementedError(f"{name}(): not implemented for a {x.dtype} input into an out of dtype {dtype} "
                                  f"(shape {out.shape}), as in PyTorch")
    x = x.to(dtype)
    return ((x, *args[1:]), kwargs) if args else (args, {**kwargs, "input": x})


_WITH_OUT = takes_out(abs, "abs").__code__   # the code of every takes_out wrapper


def user_stacklevel(level: int) -> int:
    """``warnings.warn``'s ``stacklevel`` for a function that ``install`` may have wrapped: ``level`` (2: the
    function's caller), one more where that caller is the out= wrapper, so that the warning names the user's line."""
    return level + (sys._getframe(level).f_code is _WITH_OUT)


def _rules(names: str, rule: OutRule) -> dict[str, OutRule]:
    return dict.fromkeys(names.split(), rule)


_CAST, _EXACT = OutRule(broadcast=True), OutRule("exact", broadcast=True)

# PyTorch's functions that take out= through takes_out (the rest test ``out`` themselves), each compared with
# torch 2.13 (tests/minigrad/test_out_breadth_round17.py): which out dtypes its Python binding takes.
OUT_RULES: dict[str, dict[str, OutRule]] = {
    "mg": {
        # elementwise, the result cast into out as an in-place op would
        **_rules("acos acosh arccos arccosh arcsin arcsinh arctan arctanh asin asinh atan atanh addcdiv angle "
                 "bitwise_and bitwise_or bitwise_xor bitwise_left_shift bitwise_right_shift copysign cos cosh "
                 "deg2rad digamma eq erf erfc erfinv exp2 expm1 floor_divide fmax fmin fmod gcd ge greater "
                 "greater_equal gt hypot i0 igamma igammac lcm le less less_equal lgamma log10 log1p log2 logaddexp "
                 "logaddexp2 logical_and logical_not logical_or logical_xor logit lt minimum multiply mvlgamma ne "
                 "nextafter not_equal polygamma rad2deg reciprocal remainder rsqrt sigmoid sin sinc sinh square tan "
                 "true_divide xlogy", _CAST),
        # elementwise, out of the result's own dtype
        **_rules("bitwise_not ceil clamp_max clamp_min complex conj_physical fix float_power floor frac heaviside "
                 "isneginf isposinf ldexp nan_to_num neg negative polar round sgn sign signbit trunc", _EXACT),
        **_rules("addr column_stack diff dstack ger hstack kron outer row_stack vstack", OutRule()),
        # reductions: out sharing the input's memory (tests/test_reduce_self_out_round25.py): PyTorch resizes out
        # that is the input before it reduces, and reads what it wrote into out that is a view of the input
        **_rules("std var", OutRule(reads_as_out=True, overlap="reduce")),
        **_rules("argmax argmin norm", OutRule("exact", overlap="reduce")),
        **_rules("alias_copy argsort as_strided_copy detach_copy "
                 "diag diagonal_copy dot expand_copy frexp frobenius_norm histogram index_add index_copy index_reduce "
                 "inner isin log_softmax nonzero nonzero_static "
                 "nuclear_norm permute_copy renorm scatter scatter_add scatter_reduce select_copy slice_copy "
                 "slice_scatter softmax squeeze_copy t_copy tensordot transpose_copy tril triu unfold_copy "
                 "unsqueeze_copy vdot view_copy", OutRule("exact")),
        # (all/any: PyTorch's uint8 out refused)
        "all": OutRule("exact", kinds="b", overlap="any"), "any": OutRule("exact", kinds="b", overlap="any"),
        "median": OutRule("exact", needs_dim=True, overlap="reduce"),
        "prod": OutRule("exact", accumulate=True, needs_dim=True, overlap="any"),
        "cumprod": OutRule("exact", accumulate=True, kinds="uifc", overlap="reduce"),
        "logcumsumexp": OutRule("exact", overlap="reduce"),
        **_rules("cross take_along_dim", OutRule("exact", overlap="any")),
        # linear algebra: out may share memory with an input (but matrix_power's: PyTorch's result is then wrong)
        **_rules("cholesky cholesky_inverse cholesky_solve geqrf orgqr", OutRule(overlap="")),
        **_rules("inverse lu_solve lu_unpack ormqr qr slogdet svd triangular_solve",
                 OutRule("exact", overlap="")),
        # matrix products: PyTorch's kernels write out while they read the factors, so an out that shares memory
        # with one gives a wrong result (mm(a, b, out=a) is zeros): refused; out may be addmm's added input
        **_rules("addmm addmv baddbmm", OutRule("exact", overlap="operands")),
        "addbmm": OutRule("exact", warn=False, overlap="operands"),
        **_rules("chain_matmul matrix_power mv", OutRule("exact", overlap="any")),
        "narrow_copy": OutRule("exact", warn=False),
        "range": OutRule("exact", accumulate=True, kinds="uif", warn=False),   # a creation function: out's dtype
    },
    # minigrad/ops/statistics.py's __all__, which mg takes as they are (the same objects)
    "statistics": {
        **_rules("bucketize histc msort nanquantile quantile searchsorted", OutRule("exact")),
        **_rules("cummax cummin mode", OutRule("exact", overlap="reduce")),
        "nanmedian": OutRule("exact", needs_dim=True, overlap="reduce"),
        **_rules("nansum nanmean", OutRule("exact", accumulate=True, kinds="f", overlap="any")),
    },
    "special": {
        **_rules("airy_ai bessel_j0 bessel_j1 bessel_y0 bessel_y1 chebyshev_polynomial_t chebyshev_polynomial_u "
                 "chebyshev_polynomial_v chebyshev_polynomial_w digamma entr erf erfc erfcx erfinv exp2 expit expm1 "
                 "gammainc gammaincc gammaln hermite_polynomial_h hermite_polynomial_he i0 i0e i1 i1e "
                 "laguerre_polynomial_l legendre_polynomial_p log1p log_ndtr logit modified_bessel_i0 "
                 "modified_bessel_i1 modified_bessel_k0 modified_bessel_k1 multigammaln ndtr ndtri polygamma psi "
                 "scaled_modified_bessel_k0 scaled_modified_bessel_k1 shifted_chebyshev_polynomial_t "
                 "shifted_chebyshev_polynomial_u shifted_chebyshev_polynomial_v shifted_chebyshev_polynomial_w sinc "
                 "spherical_bessel_j0 xlog1py xlogy zeta", _CAST),
        "round": _EXACT,
    },
    # mg.linalg: PyTorch's linear algebra computes into a buffer of its own (out may share an input's memory)
    "linalg": {
        **_rules("cholesky cholesky_ex cross det eigh eigvalsh inv inv_ex ldl_factor ldl_factor_ex ldl_solve lu "
                 "lu_factor lu_factor_ex lu_solve matrix_norm matrix_power multi_dot norm qr slogdet solve solve_ex "
                 "solve_triangular svd svdvals vecdot", OutRule("exact", overlap="")),
        "vector_norm": OutRule("exact", overlap="reduce"),   # a reduction: as mg.norm
        **_rules("cond eig eigvals householder_product lstsq matrix_rank pinv tensorinv tensorsolve",
                 OutRule(overlap="")),
    },
    "fft": {
        **_rules("fft fft2 fftn ifft2 ifftn ihfft2 ihfftn rfft rfft2 rfftn", OutRule(kinds="c")),
        **_rules("ifft ihfft", OutRule("exact")),
        **_rules("hfft hfft2 hfftn irfft irfft2 irfftn", OutRule(kinds="f")),
        **_rules("fftfreq rfftfreq", OutRule("exact", accumulate=True, kinds="f")),
    },
}


def install(namespace: dict[str, Any], where: str) -> None:
    """Give each function of ``OUT_RULES[where]`` in ``namespace`` (a module's globals) PyTorch's ``out=``; names
    of one function (``acos`` and ``arccos``, ``mg.sigmoid`` and ``mg.special.expit``) stay one function."""
    for name, rule in OUT_RULES[where].items():
        fn = namespace[name]
        if "out" in inspect.signature(fn).parameters:
            raise TypeError(f"outputs.install: {where}.{name} takes out= already")
        if fn not in _WRAPPED:
            wrapper = takes_out(fn, name, rule)
            wrapper.__module__, wrapper.__qualname__ = namespace["__name__"], name   # pickled by this name
            _WRAPPED[fn] = wrapper, rule
        elif _WRAPPED[fn][1] != rule:
            raise TypeError(f"outputs.install: {where}.{name} has two rules")
        namespace[name] = _WRAPPED[fn][0]


_WRAPPED: dict[Callable, tuple[Callable, OutRule]] = {}   # function → (its out= wrapper, the wrapper's rule)
