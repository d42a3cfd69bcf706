"""minigrad: a small reverse-mode autograd engine over NumPy (CPU) and CuPy (GPU).

``import minigrad as mg``; ``from minigrad import nn`` gives the top-level
``nn`` package; ``mg.viz`` draws graphs (both loaded on first use).
"""

from __future__ import annotations

import importlib
import math as _math
from typing import Any

from . import (
    _aliases,
    _nn_functions,
    accelerator,
    amp,
    autograd,
    compiler,
    cpu,
    cuda,
    higher_order,  # noqa: F401  # registers create_graph=True's walk with autograd
    higher_order_arrays,  # noqa: F401  # and those of index writes, strided reads, einsum and linear algebra
    higher_order_rules,  # noqa: F401  # more of its rules (statistics, scans, indexing, custom Functions)
    return_types,
)
from .accelerator import get_device_module
from .amp import (
    GradScaler,  # torch.GradScaler is torch.amp.GradScaler
    autocast,
    clear_autocast_cache,
    get_autocast_cpu_dtype,
    get_autocast_dtype,
    get_autocast_gpu_dtype,
    is_autocast_cache_enabled,
    is_autocast_cpu_enabled,
    is_autocast_enabled,
    set_autocast_cache_enabled,
    set_autocast_cpu_dtype,
    set_autocast_cpu_enabled,
    set_autocast_dtype,
    set_autocast_enabled,
    set_autocast_gpu_dtype,
)
from .arguments import Int64RangeError
from .autograd import AnomalyError, AxisError, Function, HookError, tag
from .autograd.engine import DeviceMismatchError
from .backend import (
    Device,
    array_module,
    device_of,
    errstate,
    get_default_device,
    is_array,
    make_array,
    on_device,
    resolve_device,
    set_default_device,
    to_device,
    to_numpy,
)
from .compile import CompileError, CompileWarning, compile
from .constructors import (
    arange,
    as_tensor,
    empty,
    full,
    full_like,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from .control_flow import cond, while_loop
from .generators import (
    Generator,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    random_generator,
    seed,
    set_rng_state,
)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .hooks import RemovableHandle
from .memory import gc_paused
from .memory_formats import channels_last, channels_last_3d, contiguous_format, memory_format, preserve_format
from .ops import (  # PyTorch's spellings (DESIGN §3)
    Size,
    ValuesIndices,
    abs,
    add,
    amax,
    amin,
    argmax,
    argmin,
    argsort,
    astype,
    bmm,
    broadcast_to,
    cat,
    chunk,
    clip,
    clone,
    concat,
    cos,
    div,
    exp,
    expand_dims,
    flatten,
    gather,
    index_select,
    log,
    log_softmax,
    logsumexp,
    masked_fill,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mul,
    narrow,
    neg,
    norm,
    numel,
    permute,
    pow,
    relu,
    reshape,
    sigmoid,
    sin,
    softmax,
    sort,
    split,
    sqrt,
    squeeze,
    stack,
    std,
    sub,
    sum,
    swapaxes,
    t,
    tanh,
    topk,
    transpose,
    unbind,
    unsqueeze,
    var,
    where,
)
from .ops.creation import from_numpy, linspace, rand_like, randn_like
from .ops.fused import gru_gates, lstm_gates
from .ops.linalg import step_addmm, step_matmul
from .recording import (
    current_scope,
    detect_anomaly,
    enable_grad,
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    is_grad_enabled,
    name_scope,
    no_grad,
    set_anomaly_enabled,
    set_detect_anomaly,
    set_grad_enabled,
)
from .serialization import CheckpointError, load, save
from .tensor import Tensor, bool_, float16, float32, float64, int32, int64
from .version import __version__  # also makes mg.version (torch.version)

autograd.gradcheck = gradcheck   # torch.autograd.gradcheck's spelling (autograd cannot import it: a cycle)
autograd.gradgradcheck = gradgradcheck

_aliases.install()   # `import minigrad.nn` / `minigrad.optim` are the top-level nn / nn.optim

device = Device

__all__ = [
    "Size", "ValuesIndices", "all", "any", "argsort", "index_select", "sort", "amax", "amin", "argmax",
    "argmin", "bmm", "cat", "clamp", "clone", "cos",
    "double", "flatten", "from_numpy", "gather", "half", "linspace", "long", "masked_fill", "narrow", "norm", "numel",
    "permute", "rand_like", "randn_like", "sin", "std", "t", "topk", "unsqueeze",
    "CheckpointError", "load", "save",
    "gc_paused", "gru_gates", "lstm_gates", "step_addmm", "step_matmul", "tag",
    "GradScaler", "__version__", "get_device_module",
    "amp", "autocast", "is_autocast_enabled", "set_autocast_enabled", "get_autocast_dtype", "set_autocast_dtype",
    "is_autocast_cpu_enabled", "set_autocast_cpu_enabled", "get_autocast_cpu_dtype", "set_autocast_cpu_dtype",
    "get_autocast_gpu_dtype", "set_autocast_gpu_dtype", "is_autocast_cache_enabled", "set_autocast_cache_enabled",
    "clear_autocast_cache",
    "default_generator", "get_rng_state", "initial_seed", "seed",
    "set_rng_state",
    "Generator", "HookError", "RemovableHandle", "current_scope", "CompileError",
    "CompileWarning", "accelerator", "compile", "compiler", "cond", "return_types", "while_loop",
    "channels_last", "channels_last_3d", "contiguous_format", "memory_format", "preserve_format",
    "AnomalyError", "AxisError", "DeviceMismatchError", "Int64RangeError", "Device", "Function", "GradcheckError",
    "Tensor", "abs", "add",
    "array_module", "device_of", "errstate", "is_array", "make_array", "on_device", "random_generator",
    "resolve_device", "scatter_add", "to_device", "to_numpy",
    "arange", "as_tensor", "astype", "bool_", "broadcast_to", "chunk", "clip", "concat", "cpu", "cuda",
    "detect_anomaly", "device", "div", "empty", "enable_grad", "exp", "expand_dims", "float16",
    "float32", "float64", "full", "full_like", "get_default_device", "gradcheck", "int32", "int64",
    "is_anomaly_enabled", "is_anomaly_check_nan_enabled", "is_grad_enabled", "set_anomaly_enabled",
    "set_detect_anomaly", "log", "log_softmax", "logsumexp", "manual_seed",
    "matmul", "max", "maximum", "mean", "min", "minimum", "mul", "name_scope", "neg", "no_grad",
    "ones", "ones_like", "pow", "rand", "randint", "randn", "relu", "reshape", "set_default_device",
    "set_grad_enabled", "sigmoid", "softmax", "split", "sqrt", "squeeze", "stack", "sub", "sum",
    "swapaxes", "tanh", "tensor", "transpose", "unbind", "var", "where", "zeros", "zeros_like",
]


def __getattr__(name: str) -> Any:
    # `mg.viz` and `from minigrad import nn` are loaded on first use, so that
    # importing the engine never needs graphviz nor imports the nn library.
    if name in ("viz", "utils", "linalg", "special", "fft", "distributions", "testing", "random", "func", "jit",
                "multiprocessing", "profiler", "quasirandom", "distributed", "signal", "masked", "xpu", "mps"):
        return importlib.import_module(f".{name}", __name__)
    if name == "OutOfMemoryError":   # torch.OutOfMemoryError is torch.cuda.OutOfMemoryError (CuPy's, with CuPy)
        return cuda.OutOfMemoryError
    if name == "AcceleratorError":   # torch.AcceleratorError is torch.cuda.AcceleratorError (CuPy's, with CuPy)
        return cuda.AcceleratorError
    if name == "vmap":   # torch.vmap is torch.func.vmap
        return importlib.import_module(".func", __name__).vmap
    if name in ("nn", "optim"):
        return importlib.import_module(_aliases.real_name(f"minigrad.{name}"))
    if name in _nn_functions.NAMES:   # torch's top-level conv2d, dropout …: nn puts them here as it loads
        __getattr__("nn")
        if name in globals():
            return globals()[name]
    if name == "sparse" or name.startswith("sparse_"):   # pygcn's torch.sparse.FloatTensor(indices, values, shape)
        raise AttributeError(f"module 'minigrad' has no attribute {name!r}: {_sparse.NO_SPARSE}")
    if name in _QUANTIZED:   # torch.quantize_per_tensor, torch.qint8 …
        raise AttributeError(f"module 'minigrad' has no attribute {name!r}: {_quantize.NO_QUANTIZED}")
    raise AttributeError(f"module 'minigrad' has no attribute {name!r}")


_QUANTIZED = frozenset(("quantize_per_tensor", "quantize_per_channel", "quantize_per_tensor_dynamic", "dequantize",
                        "qint8", "quint8", "qint32", "quint4x2", "quint2x4", "per_tensor_affine",
                        "per_channel_affine", "q_scale", "q_zero_point", "int_repr"))


# PyTorch's dtype names (mg.float32 … are NumPy's dtypes, as these). They shadow the builtins
# int/float/bool in this module's namespace, so they come last: nothing below may call those builtins.
clamp = clip
long = int64
int = int32  # noqa: A001
float = float32  # noqa: A001
double = float64
bool = bool_  # noqa: A001
half = float16

from .ops import all, any  # noqa: E402, A004 - PyTorch's names, last: they shadow the builtins here

# More of PyTorch's tensor surface. Last as well: round, type-like names shadow builtins here.
# mg.scatter_add is torch.scatter_add for a Tensor, and still the array interop for an array module.
from .ops.contract import addmm, baddbmm, dot, einsum, ger, mm, outer, spmm  # noqa: E402
from .ops.extras import detach, empty_like, empty_strided, eye, is_contiguous, is_tensor, nelement  # noqa: E402
from .ops.index import (  # noqa: E402
    argwhere,
    broadcast_shapes,
    broadcast_tensors,
    diag,
    flip,
    masked_select,
    meshgrid,
    nonzero,
    repeat_interleave,
    roll,
    scatter,
    scatter_add,
    tril,
    triu,
)
from .ops.inference import inference_mode, is_inference, is_inference_mode_enabled  # noqa: E402
from .ops.math import (  # noqa: E402
    allclose,
    atan2,
    ceil,
    clamp_max,
    clamp_min,
    count_nonzero,
    erf,
    exp2,
    expm1,
    fix,
    floor,
    fmod,
    isclose,
    isfinite,
    isinf,
    isnan,
    isneginf,
    isposinf,
    lerp,
    log1p,
    log2,
    log10,
    logaddexp,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    reciprocal,
    remainder,
    round,  # noqa: A004 - PyTorch's name
    rsqrt,
    sign,
    square,
    trunc,
)
from .ops.random import bernoulli, multinomial, normal, randperm  # noqa: E402
from .ops.scan import cumprod, cumsum, logcumsumexp, median, prod  # noqa: E402

__all__ += [
    "addmm", "baddbmm", "dot", "einsum", "ger", "mm", "outer", "spmm",
    "detach", "empty_like", "empty_strided", "eye", "inference_mode", "is_contiguous", "is_tensor", "nelement",
    "is_inference", "is_inference_mode_enabled",
    "argwhere", "broadcast_shapes", "broadcast_tensors", "diag", "flip", "masked_select", "meshgrid", "nonzero",
    "repeat_interleave", "roll", "scatter", "tril", "triu",
    "allclose", "atan2", "ceil", "clamp_max", "clamp_min", "count_nonzero", "erf", "exp2", "expm1", "fix", "floor",
    "fmod", "isclose", "isfinite", "isinf", "isnan", "isneginf", "isposinf", "lerp", "log1p", "log2", "log10",
    "logaddexp", "logical_and", "logical_not", "logical_or", "logical_xor", "reciprocal", "remainder", "round",
    "rsqrt", "sign", "square", "trunc",
    "bernoulli", "multinomial", "normal", "randperm",
    "cumprod", "cumsum", "logcumsumexp", "median", "prod",
]

# The rest of PyTorch's functions, from modules that list them in __all__ (their names may shadow builtins).
from . import dtypes as _dtypes  # noqa: E402
from . import legacy as _legacy  # noqa: E402
from . import settings as _settings  # noqa: E402
from . import symbolic as _symbolic  # noqa: E402
from .ops import arrange as _arrange  # noqa: E402
from .ops import bitwise as _bitwise  # noqa: E402
from .ops import grids as _grids  # noqa: E402
from .ops import pointwise as _pointwise  # noqa: E402
from .ops import statistics as _statistics  # noqa: E402

for _module in (_pointwise, _arrange, _statistics, _bitwise, _grids, _dtypes, _legacy, _settings, _symbolic):
    globals().update({_name: getattr(_module, _name) for _name in _module.__all__})
    __all__ += _module.__all__

# PyTorch's constants
pi, e, inf, nan = _math.pi, _math.e, _math.inf, _math.nan
newaxis = None   # x[:, mg.newaxis], as NumPy's
__all__ += ["pi", "e", "inf", "nan", "newaxis"]

# Gamma-family and other special functions with PyTorch's top-level names (mg.special has the rest)
from .ops.gamma import binomial, digamma, lgamma, mvlgamma, poisson, polygamma  # noqa: E402
from .ops.gamma import gammainc as igamma  # noqa: E402
from .ops.gamma import gammaincc as igammac  # noqa: E402
from .ops.special_functions import erfinv, i0  # noqa: E402

__all__ += ["binomial", "digamma", "erfinv", "i0", "igamma", "igammac", "lgamma", "mvlgamma", "poisson", "polygamma"]

from .ops.ctc import ctc_loss  # noqa: E402 - torch.ctc_loss (reduction also as torch's enum); nn.functional's too

__all__ += ["ctc_loss"]

# PyTorch's other top-level spellings of what exists under another name
from .constructors import asarray  # noqa: E402
from .ops.shuffle import channel_shuffle, native_channel_shuffle, pixel_shuffle, pixel_unshuffle  # noqa: E402
from .ops.tensor_more import (  # noqa: E402
    as_strided_,
    diagflat,
    empty_permuted,
    frexp,
    index_reduce,
    is_same_size,
    is_signed,
    ldexp,
    renorm,
    unravel_index,
)
from .ops.windows import bartlett_window, blackman_window, hamming_window, hann_window, kaiser_window  # noqa: E402
from .tensor import set_printoptions  # noqa: E402

concatenate, absolute = cat, abs
__all__ += ["channel_shuffle", "native_channel_shuffle", "pixel_shuffle", "pixel_unshuffle"]
__all__ += ["as_strided_", "diagflat", "empty_permuted", "frexp", "index_reduce", "is_same_size", "is_signed", "ldexp",
            "renorm", "unravel_index"]
__all__ += ["bartlett_window", "blackman_window", "hamming_window", "hann_window", "kaiser_window"]


def _linalg_function(name: str) -> Any:
    return getattr(importlib.import_module(".linalg", __name__), name)


def det(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's argument name
    """torch.det: ``mg.linalg.det``; input (…, n, n) → (…)."""
    return _linalg_function("det")(input)


def slogdet(input: Tensor) -> Any:  # noqa: A002
    """torch.slogdet: ``mg.linalg.slogdet`` (sign, logabsdet), a ``minigrad.return_types.slogdet``."""
    return return_types.slogdet(*_linalg_function("slogdet")(input))


def logdet(input: Tensor) -> Tensor:  # noqa: A002
    """log(det(A)): NaN for a negative determinant, -inf for a zero one (torch.logdet); complex A: the complex
    ``log(sign) + logabsdet``, as PyTorch's."""
    A = input
    sign, logabsdet = _linalg_function("slogdet")(A)
    if sign.dtype.kind == "c":   # PyTorch adds logabsdet as (1+0j)·logabsdet: a singular A gives -inf+nanj
        return log(sign) + logabsdet * (1 + 0j)
    return where(sign < 0, _math.nan, logabsdet)   # (the builtin float is shadowed here by mg.float)


def inverse(input: Tensor) -> Tensor:  # noqa: A002
    """torch.inverse: ``mg.linalg.inv``; input (…, n, n) → (…, n, n)."""
    return _linalg_function("inv")(input)


def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:  # noqa: A002
    """torch.pinverse: ``mg.linalg.pinv`` with ``rtol=rcond``; input (…, m, n) → (…, n, m)."""
    return _linalg_function("pinv")(input, rtol=rcond)


def matrix_exp(input: Tensor) -> Tensor:  # noqa: A002
    """torch.matrix_exp: ``mg.linalg.matrix_exp``; input (…, n, n) → (…, n, n)."""
    return _linalg_function("matrix_exp")(input)


__all__ += ["set_printoptions", "concatenate", "absolute", "asarray", "det", "slogdet", "logdet", "inverse",
            "pinverse", "matrix_exp"]

# PyTorch's older linear algebra (torch.svd's (U, S, V), qr(some=), cholesky, cholesky_solve …), also as methods
from . import linalg_legacy as _linalg_legacy  # noqa: E402

globals().update({_name: getattr(_linalg_legacy, _name) for _name in _linalg_legacy.__all__})
__all__ += _linalg_legacy.__all__
for _name, _fn in _linalg_legacy.METHODS.items():
    setattr(Tensor, _name, _fn)

# torch.svd_lowrank and torch.pca_lowrank (randomized; minigrad/lowrank.py)
from .lowrank import pca_lowrank, svd_lowrank  # noqa: E402

__all__ += ["pca_lowrank", "svd_lowrank"]

# torch.autograd's spellings of the recording switches (autograd cannot import them: ops is a layer above)
autograd.no_grad, autograd.enable_grad, autograd.set_grad_enabled = no_grad, enable_grad, set_grad_enabled
autograd.inference_mode, autograd.detect_anomaly = inference_mode, detect_anomaly
autograd.set_detect_anomaly = set_detect_anomaly

# The LU family's top-level and method spellings (torch.lu, torch.lu_solve, torch.lu_unpack; Tensor.lu, lu_solve)
from .ops import lu as _lu  # noqa: E402

lu, lu_solve, lu_unpack = _lu.lu, _lu.legacy_lu_solve, _lu.lu_unpack
__all__ += ["lu", "lu_solve", "lu_unpack"]
for _name, _fn in _lu.METHODS.items():
    setattr(Tensor, _name, _fn)

# Householder reflectors in LAPACK's layout (torch.geqrf, orgqr, ormqr; Tensor.geqrf, orgqr, ormqr)
from .ops import householder as _householder  # noqa: E402

geqrf, orgqr, ormqr = _householder.geqrf, _householder.orgqr, _householder.ormqr
__all__ += ["geqrf", "orgqr", "ormqr"]
for _name, _fn in _householder.METHODS.items():
    setattr(Tensor, _name, _fn)

# Histograms (torch.histogram, torch.histogramdd; Tensor.histogram)
from .ops import histogram as _histogram  # noqa: E402

histogram, histogramdd = _histogram.histogram, _histogram.histogramdd
__all__ += ["histogram", "histogramdd"]
for _name, _fn in _histogram.METHODS.items():
    setattr(Tensor, _name, _fn)

# Tensors from a sequence: torch.combinations, vander, cumulative_trapezoid and the deprecated chain_matmul
from .ops import sequences as _sequences  # noqa: E402

globals().update({_name: getattr(_sequences, _name) for _name in _sequences.__all__})
__all__ += _sequences.__all__

# PyTorch's other spellings: the top-level in-place functions (torch.exp_(x)), unsafe_chunk/unsafe_split and
# Tensor.bfloat16 (a TypeError: NumPy has no bfloat16)
from .ops import spellings as _spellings  # noqa: E402

globals().update({_name: getattr(_spellings, _name) for _name in _spellings.__all__})
__all__ += _spellings.__all__
for _name, _fn in _spellings.METHODS.items():
    setattr(Tensor, _name, _fn)

# Writes into a view (torch.select_scatter …), torch.gradient, the *_copy variants, and more of PyTorch's top-level
# functions (nonzero_static, fill, frombuffer, from_dlpack, the deprecated range, the legacy norms); also as methods
from .ops import copies as _copies  # noqa: E402
from .ops import gradient as _gradient  # noqa: E402
from .ops import quantize as _quantize  # noqa: E402 - fake quantisation; quantised tensors: refused in __getattr__
from .ops import scatters as _scatters  # noqa: E402
from .ops import sparse as _sparse  # noqa: E402 - sparse_coo_tensor / to_sparse: refused, no sparse tensors
from .ops import torch_functions as _torch_functions  # noqa: E402

for _module in (_scatters, _gradient, _copies, _torch_functions, _sparse, _quantize):
    globals().update({_name: getattr(_module, _name) for _name in _module.__all__})
    __all__ += _module.__all__
for _name, _fn in {**_scatters.METHODS, **_torch_functions.METHODS, **_sparse.METHODS}.items():
    setattr(Tensor, _name, _fn)

# complex numbers (ops/complex_ops.py); last: mg.complex shadows the builtin here
from .ops.complex_ops import (  # noqa: E402
    angle,
    complex,  # noqa: A004
    conj,
    conj_physical,
    imag,
    is_conj,
    is_neg,
    polar,
    real,
    resolve_conj,
    resolve_neg,
    view_as_complex,
    view_as_real,
)

__all__ += ["angle", "complex", "conj", "conj_physical", "imag", "is_conj", "is_neg", "polar", "real",
            "resolve_conj", "resolve_neg", "view_as_complex", "view_as_real"]

# the short-time Fourier transform and its inverse (torch.stft, torch.istft; Tensor.stft, Tensor.istft)
from .ops import spectral as _spectral  # noqa: E402

stft, istft = _spectral.stft, _spectral.istft
__all__ += ["stft", "istft"]
for _name, _fn in _spectral.METHODS.items():
    setattr(Tensor, _name, _fn)

# segment reductions (torch.segment_reduce), from scatter_reduce
from .ops.segment_reduce import segment_reduce  # noqa: E402

__all__ += ["segment_reduce"]

# the LOBPCG eigensolver (torch.lobpcg)
from .ops.lobpcg import lobpcg  # noqa: E402

__all__ += ["lobpcg"]

# PyTorch's out= on the functions minigrad/outputs.py lists (the others take it themselves); last: it wraps them
from . import outputs as _outputs  # noqa: E402

_outputs.install(globals(), "mg")
