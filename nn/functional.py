"""Stateless layers and losses (``from nn import functional as F``), as ``torch.nn.functional``.

Nearly everything is composed from the engine's ops, so each function's gradient is the engine's and shows
up op by op in the graph drawings. Defined here: ``linear``, ``embedding``, the activations PyTorch's
``torch.nn.functional`` defines itself, ``softmax``, ``one_hot``, ``pad`` and ``normalize``. Two small ops
bring their own backward: :class:`EmbeddingLookup` (a gather that leaves the padding row without gradient)
and :class:`ConstantPad` (``gelu``'s erfc is the engine's ``mg.special.erfc``). The rest is re-exported, one concept
to a module: the losses and distances (``nn/_common_losses.py``, ``nn/_losses.py``, with their shared
``reduction=`` handling in ``nn/_reduction.py``), normalisations (``nn/_normalization.py``), dropout
(``nn/_dropout.py``), activations (``nn/_activations.py``, ``nn/_activations_inplace.py``), convolution and
pooling (``nn/_conv.py``), attention (``nn/_attention.py``) and a few more (``nn/_functional_more.py``).
Axis arguments of the older functions are NumPy's ``axis=`` (PyTorch's ``dim=`` is accepted as well); the
functions that PyTorch alone has take ``dim=`` only.
"""

from __future__ import annotations

import functools
import inspect
import math
import operator
from typing import Any

import numpy

import minigrad as mg
from minigrad import Tensor, channel_shuffle, native_channel_shuffle, pixel_shuffle, pixel_unshuffle
from minigrad.int_arguments import int_arg, int_tuple, refuse_bool_tensors

from . import grad  # noqa: F401 - PyTorch's F.grad (torch.nn.grad): conv2d_input …
from ._activations import (
    Gelu,
    _reads_input,
    celu,
    elu,
    glu,
    hardshrink,
    hardsigmoid,
    hardswish,
    hardtanh,
    leaky_relu,
    logsigmoid,
    mish,
    prelu,
    relu6,
    rrelu,
    selu,
    silu,
    softmin,
    softplus,
    softshrink,
    softsign,
    tanhshrink,
    threshold,
)
from ._activations_inplace import celu_, elu_, hardtanh_, leaky_relu_, relu_, selu_, threshold_
from ._arguments import _dim, _dtype_error, _floating, _implicit_dim, _number, _same_dtype, _tensor
from ._attention import multi_head_attention_forward, scaled_dot_product_attention
from ._common_losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cosine_similarity,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    pairwise_distance,
    smooth_l1_loss,
)
from ._conv import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    conv1d,
    conv2d,
    max_pool1d,
    max_pool2d,
)
from ._dropout import alpha_dropout, dropout, dropout1d
from ._embedding import EmbeddingLookup, _normalize_padding, _renorm_rows
from ._errors import InputShapeError, UnsupportedModeError
from ._flags import flag
from ._fold import conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d, fold, unfold
from ._fractional_pool import (
    fractional_max_pool2d,
    fractional_max_pool2d_with_indices,
    fractional_max_pool3d,
    fractional_max_pool3d_with_indices,
)
from ._functional_more import bilinear, dropout2d, dropout3d, feature_alpha_dropout, gumbel_softmax, pdist
from ._gradient_layout import channels_last_as
from ._grid_sample import affine_grid, grid_sample
from ._half_pool import adaptive_avg_pool3d_float16
from ._in_place import written_in_place
from ._interpolate import interpolate, upsample, upsample_bilinear, upsample_nearest
from ._linear_cross_entropy import linear_cross_entropy
from ._losses import (
    cosine_embedding_loss,
    ctc_loss,
    gaussian_nll_loss,
    hinge_embedding_loss,
    margin_ranking_loss,
    multi_margin_loss,
    multilabel_margin_loss,
    multilabel_soft_margin_loss,
    poisson_nll_loss,
    soft_margin_loss,
    triplet_margin_loss,
    triplet_margin_with_distance_loss,
)
from ._normalization import batch_norm, group_norm, instance_norm, layer_norm, rms_norm
from ._padding import ConstantPad
from ._pool_more import (
    adaptive_avg_pool3d,
    adaptive_max_pool1d_with_indices,
    adaptive_max_pool2d_with_indices,
    adaptive_max_pool3d,
    adaptive_max_pool3d_with_indices,
    avg_pool3d,
    local_response_norm,
    lp_pool1d,
    lp_pool2d,
    lp_pool3d,
    max_pool1d_with_indices,
    max_pool2d_with_indices,
    max_pool3d,
    max_pool3d_with_indices,
    max_unpool1d,
    max_unpool2d,
    max_unpool3d,
)
from ._targets import TargetError, checked_indices
from .embedding_bag import embedding_bag

__all__ = [
    "TargetError", "binary_cross_entropy", "binary_cross_entropy_with_logits", "celu", "cosine_similarity",
    "cross_entropy", "dropout", "elu", "embedding", "gelu", "glu", "hardshrink", "hardsigmoid", "hardswish",
    "hardtanh", "huber_loss", "kl_div", "l1_loss", "layer_norm", "leaky_relu", "linear", "log_softmax", "logsigmoid",
    "mish", "mse_loss", "nll_loss", "normalize", "one_hot", "pad", "pairwise_distance", "prelu", "relu", "relu6",
    "batch_norm", "rms_norm",
    "selu", "sigmoid", "silu", "smooth_l1_loss", "softmax", "softmin", "softplus", "softshrink", "softsign", "tanh",
    "tanhshrink", "threshold",
    "multi_head_attention_forward", "scaled_dot_product_attention",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d", "avg_pool1d",
    "avg_pool2d", "conv1d", "conv2d", "max_pool1d",
    "max_pool2d", "cosine_embedding_loss", "gaussian_nll_loss", "hinge_embedding_loss", "margin_ranking_loss",
    "multi_margin_loss", "multilabel_margin_loss", "multilabel_soft_margin_loss", "poisson_nll_loss",
    "soft_margin_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss", "celu_", "elu_", "hardtanh_",
    "leaky_relu_", "relu_", "selu_",
    "threshold_", "alpha_dropout", "bilinear", "dropout1d", "gumbel_softmax", "pdist", "group_norm", "instance_norm",
    "dropout2d", "dropout3d", "feature_alpha_dropout", "rrelu",
    "ctc_loss",
]
# resizing, transposed and 3-D convolution, sliding blocks, more pooling, embedding bags, pixel shuffles
__all__ += [
    "interpolate", "upsample", "upsample_bilinear", "upsample_nearest", "conv3d", "conv_transpose1d",
    "conv_transpose2d", "conv_transpose3d", "fold", "unfold", "adaptive_avg_pool3d", "adaptive_max_pool1d_with_indices",
    "adaptive_max_pool2d_with_indices", "adaptive_max_pool3d", "adaptive_max_pool3d_with_indices", "avg_pool3d",
    "local_response_norm", "lp_pool1d", "lp_pool2d", "lp_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
    "max_pool3d", "max_pool3d_with_indices", "max_unpool1d", "max_unpool2d", "max_unpool3d", "embedding_bag",
    "channel_shuffle", "native_channel_shuffle", "pixel_shuffle", "pixel_unshuffle",
]
__all__ += ["affine_grid", "grid_sample"]
__all__ += ["linear_cross_entropy"]


# --- float16 in float32 -----------------------------------------------------------


def _float16_in_float32(fn: Any, widened: tuple[str, ...], moved: tuple[str, ...] = (),
                        strict: tuple[str, ...] = ()) -> Any:
    """``fn`` that computes a float16 ``input`` as PyTorch's CPU kernels do: in float32 (their ``opmath`` type), its
    float16 tensor arguments named in ``widened`` cast up, and the result rounded once to float16 (a chain of
    float16 steps rounds at each). ``moved``: float16 tensors that ``fn`` reads and moves in place (running
    estimates), read in float32 and written back rounded once. Other inputs: ``fn`` as it is. The gradients flow
    back through the casts. ``strict``: a tensor so named of another dtype than float16 leaves the call to ``fn``
    as it is, whose own dtype rule decides (PyTorch refuses a float32 conv weight with a float16 input)."""
    signature = inspect.signature(fn)
    first = next(iter(signature.parameters))

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        x = args[0] if args else kwargs.get(first)
        if not (isinstance(x, Tensor) and x.dtype == mg.float16):
            try:
                return fn(*args, **kwargs)
            except TypeError as error:
                if error.__traceback__.tb_next is None:   # the call's own complaint (wrong arguments), not fn's:
                    signature.bind(*args, **kwargs)       # raised by the signature, as a direct call of fn would
                raise
        bound = signature.bind(*args, **kwargs)
        if bound.arguments.get("inplace") is True:   # PyTorch's in-place kernel computes in float32 too: the
            bound.arguments["inplace"] = False        # out-of-place result, written into x (float16 steps were
            rest, keywords = bound.args[1:], bound.kwargs   # up to 1 float16 ulp off, hardswish_/silu_/selu_ …)
            return written_in_place(f"{fn.__name__}_", x, lambda v: run(v, *rest, **keywords))
        halves = {name: bound.arguments.get(name) for name in widened + moved}
        if any(isinstance(halves[name], Tensor) and halves[name].dtype != mg.float16 for name in strict):
            return fn(*args, **kwargs)
        for name, value in halves.items():
            if isinstance(value, Tensor) and value.dtype == mg.float16:
                bound.arguments[name] = value.float()
        y = fn(*bound.args, **bound.kwargs).half()
        with mg.no_grad():
            for name in moved:   # written back only where fn moved it (training), as PyTorch's
                wide = bound.arguments.get(name)
                if wide is not halves[name] and wide._version:
                    halves[name].copy_(wide)
        return y
    return run


# strict: another dtype among the parameters goes to the function's own rule (PyTorch's mixed-dtype norms or error)
# (layer_norm takes float16 itself: its one op computes in float32, as PyTorch's kernel)
rms_norm = _float16_in_float32(rms_norm, ("input", "weight"))
# (group_norm takes float16 itself: its one op computes in float32, as PyTorch's kernel)
conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d = (
    _float16_in_float32(f, ("input", "weight", "bias"), strict=("weight", "bias")) for f in (
        conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d))
# (interpolate takes float16 itself: PyTorch's kernels keep its weights in float16)
avg_pool1d, avg_pool2d, adaptive_avg_pool1d, adaptive_avg_pool2d = (
    _float16_in_float32(f, ("input",)) for f in (avg_pool1d, avg_pool2d, adaptive_avg_pool1d, adaptive_avg_pool2d))
scaled_dot_product_attention = _float16_in_float32(scaled_dot_product_attention,
                                                   ("query", "key", "value", "attn_mask"), strict=("key", "value"))


def _on_gpu_float16_in_float32(fn: Any, widened: tuple[str, ...], strict: tuple[str, ...] = ()) -> Any:
    """``fn`` that computes a float16 ``input`` on a GPU in float32, rounded once (:func:`_float16_in_float32`), as
    PyTorch's CUDA kernels; on the CPU ``fn`` itself, which refuses float16 as PyTorch's CPU kernels (they have
    none: NotImplementedError)."""
    wide = _float16_in_float32(fn, widened, strict=strict)
    signature = inspect.signature(fn)
    first = next(iter(signature.parameters))

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        x = signature.bind(*args, **kwargs).arguments.get(first)   # (a wrong call: Python's TypeError, naming fn)
        if isinstance(x, Tensor) and x.dtype == mg.float16 and x.device.type != "cpu":
            return wide(*args, **kwargs)
        return fn(*args, **kwargs)
    return run


# PyTorch has no float16 CPU kernel of these (refused); on a GPU in float32 rounded once, as its CUDA kernels (a
# class weight of another dtype is refused as float16, as PyTorch's CUDA kernel does)
pdist = _on_gpu_float16_in_float32(pdist, ("input",))
multi_margin_loss = _on_gpu_float16_in_float32(multi_margin_loss, ("input", "weight"), strict=("weight",))
multilabel_margin_loss = _on_gpu_float16_in_float32(multilabel_margin_loss, ("input",))
avg_pool3d = _on_gpu_float16_in_float32(avg_pool3d, ("input",))
# the activations whose float16 kernels run in float32 (PyTorch's softsign and tanhshrink are float16 steps);
# celu, elu, glu, leaky_relu, logsigmoid, selu and softplus are one op each that computes so itself (PyTorch's one
# node, no ToCopy nodes around it)
hardsigmoid, hardswish, mish, silu = (
    _float16_in_float32(f, ("input",)) for f in (hardsigmoid, hardswish, mish, silu))


def _adaptive_avg_pool3d_in_float16_steps(fn: Any) -> Any:
    """``adaptive_avg_pool3d`` that takes a float16 input as PyTorch's CPU kernel does (float16 steps: see
    ``nn/_half_pool.py``). Other dtypes: ``fn``."""
    @functools.wraps(fn)
    def run(input: Tensor, output_size: Any) -> Tensor:  # noqa: A002 - PyTorch's name
        if isinstance(input, Tensor) and input.dtype == mg.float16:
            return adaptive_avg_pool3d_float16(input, output_size)
        return fn(input, output_size)
    return run


adaptive_avg_pool3d = _adaptive_avg_pool3d_in_float16_steps(adaptive_avg_pool3d)


def _local_response_norm_as_pytorch(fn: Any) -> Any:
    """``local_response_norm`` that takes a float16 (N, C, L) input through PyTorch's own steps, each rounded to
    float16: x², a window mean over the channels (avg_pool2d: in float32, rounded once), · α, + k, ^ β, x / that.
    A float16 input of 4 or more dims is refused on the CPU (NotImplementedError), as PyTorch's, whose avg_pool3d
    has no float16 CPU kernel; on a GPU it is computed in float32, rounded once."""
    in_float32 = _float16_in_float32(fn, ("input",))

    @functools.wraps(fn)
    def run(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,  # noqa: A002 - PyTorch's name
            k: float = 1.0) -> Tensor:
        x = input
        if isinstance(x, Tensor) and x.dtype == mg.float16 and x.ndim > 3 and x.numel() and x.device.type == "cpu":
            raise NotImplementedError(f"local_response_norm: not implemented for float16 on the CPU with {x.ndim} dims "
                                      f"(shape {x.shape}), as PyTorch's (its avg_pool3d has no float16 CPU kernel; "
                                      "3-D inputs and a GPU work)")
        if not (isinstance(x, Tensor) and x.dtype == mg.float16 and x.ndim == 3 and x.numel() > 0
                and isinstance(size, int) and not isinstance(size, bool) and size >= 1):
            return in_float32(input, size, alpha, beta, k)
        alpha, beta, k = (_number(v, "local_response_norm", n) for v, n in ((alpha, "alpha"), (beta, "beta"), (k, "k")))
        squares = ConstantPad(((0, 0), (size // 2, (size - 1) // 2), (0, 0)), 0.0)(x * x)     # (N, C + size - 1, L)
        mean = avg_pool2d(squares.unsqueeze(1), (size, 1), stride=1).squeeze(1)               # (N, C, L)
        return x / (mean * alpha + k) ** beta
    return run


local_response_norm = _local_response_norm_as_pytorch(local_response_norm)


__all__ += ["fractional_max_pool2d", "fractional_max_pool2d_with_indices", "fractional_max_pool3d",
            "fractional_max_pool3d_with_indices"]


# --- layers -------------------------------------------------------------------

def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:  # noqa: A002 - PyTorch's keyword
    """x @ weightᵀ + bias. x: (*, in), weight: (out, in), bias: (out,) → (*, out).

    As PyTorch, a 1-D weight (in,) gives (*,): one output feature without its axis (x @ weight); it takes a
    bias only as a 0-d tensor, with an input that is not 2-D. A bias that would grow the output raises, as PyTorch's.
    """
    x, weight = _tensor(input, "linear"), _tensor(weight, "linear", "weight")
    if x.ndim == 0 or weight.ndim == 0:
        raise InputShapeError(f"linear: both arguments to linear need to be at least 1D, but they are {x.ndim}D and "
                              f"{weight.ndim}D (input shape {x.shape}, weight shape {weight.shape})")
    if weight.ndim > 2:
        raise InputShapeError(f"linear: weight must be 2-D (out_features, in_features) or 1-D (in_features,), got "
                              f"shape {weight.shape} (t() expects a tensor with <= 2 dimensions, but self is "
                              f"{weight.ndim}D)")
    if x.shape[-1] != weight.shape[-1]:
        raise InputShapeError(f"linear: input of shape {x.shape} does not match weight of shape {weight.shape} "
                              f"(last input dimension must be {weight.shape[-1]})")
    if weight.dtype != x.dtype or (isinstance(bias, Tensor) and bias.dtype != x.dtype):   # one cheap test
        _same_dtype("linear", input=x, weight=weight, bias=bias)
    if x.dtype is mg.float16 and bias is not None:   # PyTorch's addmm: x @ Wᵀ + b in float32, rounded once
        return linear(x.float(), weight.float(), bias.float()).half()
    y = x @ (weight.T if weight.ndim == 2 else weight)
    if bias is None:
        return y
    if weight.ndim == 1 and (x.ndim == 2 or getattr(bias, "ndim", 0) == 1):   # PyTorch's addmm path
        raise InputShapeError(f"linear: mat2 must be a matrix, got 1-D tensor (a 1-D weight {weight.shape} takes "
                              f"only a 0-d bias, with an input that is not 2-D; got input {x.shape}, bias "
                              f"{getattr(bias, 'shape', ())})")
    try:
        out = y + bias
    except ValueError:   # a bias that does not broadcast (minigrad's shape errors are ValueErrors too)
        out = None
    if out is None or out.shape != y.shape:
        raise InputShapeError(f"linear: a bias of shape {tuple(getattr(bias, 'shape', ()))} does not broadcast to "
                              f"the output's shape {y.shape} (input {x.shape}, weight {weight.shape})")
    node = y._node
    if node is not None and (x.ndim == 2 or (x.data.flags.c_contiguous and getattr(bias, "ndim", 0) == 1)):
        # PyTorch computes this as one addmm node (a contiguous input flattened to 2-D; for other ranks only with a
        # 1-D bias: a 0-d one is added by a node of its own): a backward that fails there gives the bias no gradient
        # either, where our add node had sent it one (engine._finished_leaves)
        node.outer_edges = (*node.edges, bias)
    return out


def embedding(input: Any, weight: Tensor, padding_idx: int | None = None,  # noqa: A002
              max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
              sparse: bool = False) -> Tensor:
    """Rows of ``weight`` (V, D) picked by integer indices ``input`` (any shape S) → (*S, D).

    Repeated indices accumulate their gradients; the row ``padding_idx`` (if
    given) gets none, as PyTorch. ``max_norm``: each looked-up row whose
    ``norm_type``-norm exceeds it is first scaled down to it, in ``weight``
    itself (outside the graph, as PyTorch's). ``scale_grad_by_freq``: a row's
    gradient is divided by how often its index occurs in ``input``. Sparse
    gradients are not supported (``sparse=True`` raises).
    """
    weight = _tensor(weight, "embedding", "weight")
    if weight.ndim != 2:
        raise InputShapeError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape "
                              f"{weight.shape}")
    if sparse:
        raise ValueError("embedding: sparse=True needs sparse gradients, which minigrad does not have")
    num, _ = weight.shape
    # checked by an op whose output the lookup reads: a compiled function checks and uses each call's indices
    indices = checked_indices(input, weight.device, num, "embedding", lambda value, _low, _high: (
        f"embedding: index {value} is out of range for an embedding of {num} rows "
        f"(indices must be in [0, {num - 1}])"), dtypes=("int64", "int32"))
    if padding_idx is not None:
        if not isinstance(padding_idx, (int, numpy.integer, numpy.ndarray, Tensor)):   # PyTorch compares it with 0
            raise TypeError(f"embedding: padding_idx must be an int, got {type(padding_idx).__name__} "   # first
                            f"{padding_idx!r:.40}")
        padding_idx = _normalize_padding(int_arg(padding_idx, "embedding", "padding_idx", one_element=True), num,
                                         "embedding")   # (PyTorch's SymInt: tensor([1]) too)
    if max_norm is not None:
        _renorm_rows(weight, indices.data, _number(max_norm, "embedding", "max_norm"),
                     _number(norm_type, "embedding", "norm_type"))
    scale_grad_by_freq = flag(scale_grad_by_freq, "embedding", "scale_grad_by_freq")   # "False" is not False
    return EmbeddingLookup(indices.data, padding_idx, scale_grad_by_freq)(weight)


def relu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """max(x, 0) elementwise; ``inplace=True`` writes it into ``input`` and returns ``input``, as PyTorch's
    (``F.relu_``). Any shape."""
    if inplace is not False and flag(inplace, "relu", "inplace"):
        return relu_(input)
    return mg.relu(input)


def tanh(input: Tensor) -> Tensor:  # noqa: A002
    """Hyperbolic tangent elementwise."""
    return mg.tanh(input)


def sigmoid(input: Tensor) -> Tensor:  # noqa: A002
    """1 / (1 + e^{-x}) elementwise."""
    return mg.sigmoid(input)


def gelu(input: Tensor, *, approximate: str = "none") -> Tensor:  # noqa: A002 - PyTorch's keyword
    """GELU(x) = x · Φ(x), Φ the standard normal CDF, as ``torch.nn.functional.gelu``.

    ``approximate="none"``: Φ(x) = ½(1 + erf(x/√2)); ``"tanh"``:
    ½(1 + tanh(√(2/π)(x + 0.044715 x³))). Computed as special.ndtr(x) and σ(2√(2/π)(x + 0.044715 x³)), the same
    functions without 1 + erf and 1 + tanh cancelling for x < 0, so both are exact far into the left tail (PyTorch's
    float32 is 1e-4 off at x = -3 and 0 below -5.5). Any shape in, the same shape out.
    """
    x = _tensor(input, "gelu")
    if not isinstance(approximate, str):   # `approximate == "none"` on an array asks NumPy for a truth value
        raise TypeError(f"gelu(): argument 'approximate' must be str, not {type(approximate).__name__}")
    if approximate not in ("none", "tanh"):
        raise InputShapeError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    if x.dtype.kind != "f":   # either way, as PyTorch (the tanh form quietly gave float64 for integers)
        raise _dtype_error(x.dtype, f"gelu: input must be floating point, got {x.dtype} (shape {x.shape})")
    if approximate == "tanh":
        return Gelu("tanh")(x)
    # Φ(x) as a constant of the op, which keeps it and x (its gradient reads both); one op, its left tail from x
    # itself (erfc(-x/√2) was 1600 ulp off at -36). Of x.detach(), not under no_grad: jacfwd(jacfwd(F.gelu)) refused
    # ops under no_grad on tensors carrying tangents
    cdf = mg.special.ndtr(x.detach())
    return Gelu("none")(x, cdf)


gelu = _float16_in_float32(gelu, ("input",))


def one_hot(tensor: Any = None, num_classes: int = -1, *, input: Any = None) -> Tensor:  # noqa: A002
    """Integer class indices of shape S → int64 Tensor (*S, num_classes) with a 1 at each index.

    ``num_classes=-1`` takes one more than the largest index (as PyTorch).
    The result records no gradient (indices are not differentiable). PyTorch's docstring names the
    indices ``tensor``, its binding ``input=``: both keywords work.
    """
    if input is not None:
        if tensor is not None:
            raise TypeError("one_hot: give the indices as tensor or as input=, not both")
        tensor = input
    if isinstance(tensor, Tensor):
        array = tensor.data
    elif mg.is_array(tensor):
        array = tensor
    else:
        raise TypeError(f"one_hot: expected an integer Tensor of class indices, got {type(tensor).__name__}")
    if array.dtype.kind not in "iu":
        raise TargetError(f"one_hot: class indices must be integers, got dtype {array.dtype}")
    if array.dtype != numpy.int64:   # RuntimeError, as PyTorch's ("only applicable to index tensor of type Long")
        raise TargetError(f"one_hot: class indices must have dtype int64, got {array.dtype} (cast them with .long())")
    num_classes = int_arg(num_classes, "one_hot", "num_classes")
    if num_classes < -1:
        raise InputShapeError(f"one_hot: num_classes must be -1 or a non-negative int, got {num_classes!r}")
    indices = tensor if isinstance(tensor, Tensor) else mg.as_tensor(array)
    if num_classes == -1:
        if not array.size:
            raise InputShapeError("one_hot: cannot infer num_classes from an empty tensor; pass num_classes")
        # .item(): the output's shape depends on the values (mg.compile runs such a call eagerly)
        num_classes = int(indices.max().item()) + 1
    indices = checked_indices(indices, indices.device, num_classes, "one_hot", lambda value, _low, _high: (
        f"one_hot: class index {value} is out of range for num_classes={num_classes} "
        f"(indices must be in [0, {num_classes - 1}])"))
    classes = mg.arange(num_classes, device=indices.device)   # depends on num_classes only; AllocationError if too many
    return (indices.unsqueeze(-1) == classes).astype(numpy.int64)


def _axis(axis: int | None, dim: int | None, default: int = -1) -> int:
    if dim is not None:
        if axis is not None and axis != dim:
            raise TypeError(f"give axis= or dim=, not both (axis={axis}, dim={dim})")
        return dim
    return default if axis is None else axis


def _softmax_input(name: str, input: Any, dim: Any, axis: Any, dtype: Any, stacklevel: int) -> tuple:  # noqa: A002
    """The input (cast to ``dtype`` first, as PyTorch) and the axis: ``dim`` (or ``axis=``); neither given,
    PyTorch's implicit choice with its deprecation warning (0 for 0-, 1- and 3-D inputs, else 1)."""
    x = _tensor(input, name)
    if dtype is not None:
        x = x.astype(dtype)
    if dim is None and axis is None:
        return x, _implicit_dim(name, x.ndim, stacklevel + 2)
    return x, _axis(axis, dim)


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None, *,  # noqa: A002
            axis: int | None = None) -> Tensor:
    """exp(x) / Σ exp(x) along ``dim`` (or NumPy's ``axis=``), as ``torch.nn.functional.softmax``."""
    x, axis = _softmax_input("softmax", input, dim, axis, dtype, _stacklevel)
    return mg.softmax(x, axis=axis)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None, *,  # noqa: A002
                axis: int | None = None) -> Tensor:
    """x - logsumexp(x) along ``dim`` (or NumPy's ``axis=``), as ``torch.nn.functional.log_softmax``."""
    x, axis = _softmax_input("log_softmax", input, dim, axis, dtype, _stacklevel)
    return mg.log_softmax(x, axis=axis)


# --- padding, and normalisation by a norm ---------------------------------------------

_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _pad_source(mode: str, n: int, before: int, after: int) -> Any:
    """For each position of the padded axis, the position of the input it copies (non-constant modes)."""
    j = numpy.arange(-before, n + after)
    if mode == "replicate":
        return numpy.clip(j, 0, n - 1)
    if mode == "circular":
        return j % n
    j = numpy.abs(j)                      # reflect about the first element, then about the last
    return numpy.where(j > n - 1, 2 * (n - 1) - j, j)


def pad(input: Tensor, pad: Any, mode: str = "constant", value: float | None = None) -> Tensor:  # noqa: A002
    """Pad (or, with negative amounts, crop) the last dims of ``input``, as PyTorch.

    ``pad`` lists (before, after) amounts starting from the LAST dim:
    ``(left, right)`` pads dim -1, ``(left, right, top, bottom)`` dims -1 and
    -2, and so on. ``mode``: ``"constant"`` (fill with ``value``, default 0),
    ``"reflect"`` (mirror without repeating the edge), ``"replicate"`` (repeat
    the edge) or ``"circular"`` (wrap around). x: (*, n) → (*, before + n + after).
    """
    input = _tensor(input, "pad")
    try:   # PyTorch's SymInt[]: a first bool is refused (a later one is 0 or 1), and a Tensor as the whole list
        amounts = [None if isinstance(p, bool) and not i else operator.index(p) for i, p in enumerate(pad)]
    except TypeError:
        amounts = [None]
    if isinstance(pad, (str, bytes, Tensor)) or None in amounts:
        raise TypeError(f"pad: pad must be a sequence of ints, got {pad!r}")
    refuse_bool_tensors(pad, "pad", "pad")   # (RuntimeError, as PyTorch's; operator.index reads one as 0 or 1)
    if len(amounts) % 2:
        raise InputShapeError(f"pad: padding length must be divisible by 2, got {len(amounts)} amounts {tuple(pad)}")
    if len(amounts) // 2 > input.ndim:
        raise InputShapeError(f"pad: {len(amounts)} amounts pad {len(amounts) // 2} dims but the input of shape "
                              f"{input.shape} has {input.ndim}")
    if mode not in _PAD_MODES:
        raise UnsupportedModeError(f"pad: mode must be one of {', '.join(map(repr, _PAD_MODES))}, got {mode!r}")
    widths = [(0, 0)] * input.ndim
    for i in range(len(amounts) // 2):
        widths[input.ndim - 1 - i] = (amounts[2 * i], amounts[2 * i + 1])
    if mode == "constant":
        return _constant_pad(input, widths, 0.0 if value is None else value)
    if value not in (None, 0):
        raise InputShapeError(f"pad: mode {mode!r} does not take a value (got value={value!r})")
    if mode != "circular" and input.dtype.kind == "b":   # NotImplementedError, as PyTorch's kernels
        raise _dtype_error(input.dtype, f"pad: {mode} padding is not implemented for bool (input of shape "
                                        f"{input.shape}), as in PyTorch")
    padded = len(amounts) // 2
    if padded > 3 or input.ndim not in (padded + 1, padded + 2):   # PyTorch's kernels: (C, *S) or (N, C, *S)
        raise UnsupportedModeError(f"pad: {mode} padding of {padded} dim(s) ({len(amounts)} amounts) takes a "
                                   f"{padded + 1}-D or {padded + 2}-D input (at most 3 padded dims), got shape "
                                   f"{input.shape}")
    if mode != "circular" and 0 in input.shape[input.ndim - padded - 1:]:   # PyTorch's kernels: only N may be 0
        raise InputShapeError(f"pad: {mode} padding expects a {padded + 1}-D or {padded + 2}-D (batch mode) input "
                              f"with possibly 0 batch size and other non-zero dims, got shape {input.shape}")
    sizes = [n + before + after for n, (before, after) in zip(input.shape[-padded:], widths[-padded:])]
    if mode != "circular" and max(sizes) == 0:   # PyTorch's kernels: some padded dim may be cropped to 0, not all
        raise InputShapeError(f"pad: {mode} padding {tuple(amounts)} leaves nothing of the input of shape "
                              f"{input.shape}: every padded dim would be empty")
    out = input
    for axis, (before, after) in enumerate(widths):
        if (before, after) == (0, 0):
            continue
        n = input.shape[axis]
        if mode == "circular" and (before < 0 or after < 0):   # PyTorch's circular crops first, then wraps
            if n + min(before, 0) + min(after, 0) < 0:
                raise InputShapeError(f"pad: circular padding ({before}, {after}) of dim {axis} crops more than "
                                      f"the input of shape {input.shape} has")
            out = out[(slice(None),) * axis + (slice(max(-before, 0), n - max(-after, 0)),)]
            n, before, after = out.shape[axis], max(before, 0), max(after, 0)
            if (before, after) == (0, 0):
                continue
        elif n + before + after < 0:   # reflect, replicate: a negative amount crops the padded result
            raise InputShapeError(f"pad: {mode} padding ({before}, {after}) of dim {axis} would make its size {n} "
                                  f"negative ({n + before + after}) for an input of shape {input.shape}")
        limit = {"reflect": n - 1, "circular": n, "replicate": None}[mode]
        if n == 0 or (limit is not None and max(before, after) > limit):
            rule = {"reflect": f"< the dim size {n}", "circular": f"<= the dim size {n}",
                    "replicate": "on a non-empty dim"}[mode]
            raise InputShapeError(f"pad: {mode} padding ({before}, {after}) of dim {axis} of an input of shape "
                                  f"{input.shape} must be {rule}")
        # a host index: getitem checks its range on the host and moves it, with no read of the device
        out = out[(slice(None),) * axis + (_pad_source(mode, n, before, after),)]
    out = out.clone() if out is input or getattr(out, "_view", None) else out   # never the input or a view of it
    if mode == "circular":   # PyTorch's circular pad (slices and a cat): C order
        return out.contiguous()
    # PyTorch's reflection/replication backward reads the input (its shape): a create_graph gradient requires grad;
    # its kernels lay the result out as the input suggests (channels-last stays so)
    return channels_last_as(_reads_input(out), input)


def _constant_pad(x: Tensor, widths: list, value: Any) -> Tensor:
    integer, floating = x.dtype.kind in "iu", x.dtype.kind == "f"   # NaN or 1e5 (float16) too, as PyTorch's
    if integer and not numpy.iinfo(x.dtype).min <= value <= numpy.iinfo(x.dtype).max \
            or floating and numpy.finfo(x.dtype).max < abs(value) < math.inf:
        raise InputShapeError(f"pad: value {value!r} cannot be converted to {x.dtype} without overflow (input of "
                              f"shape {x.shape})")
    crop = []
    for axis, ((before, after), n) in enumerate(zip(widths, x.shape)):
        if n + min(before, 0) + min(after, 0) < 0:   # torch crops first: the crop alone must leave >= 0
            raise InputShapeError(f"pad: padding ({before}, {after}) of dim {axis} would make its size {n} "
                                  f"negative ({n + min(before, 0) + min(after, 0)}) for an input of shape {x.shape}")
        crop.append(slice(max(-before, 0), n - max(-after, 0)))
    source = x
    if any(before < 0 or after < 0 for before, after in widths):
        x = x[tuple(crop)]   # negative amounts crop, as in PyTorch
    grow = tuple((max(before, 0), max(after, 0)) for before, after in widths)
    if not any(before or after for before, after in grow):
        return x.clone()   # a new tensor, as PyTorch's (not the input or a view of it)
    return channels_last_as(ConstantPad(grow, value)(x), source)   # as PyTorch's: as the input suggests


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,  # noqa: A002
              out: Tensor | None = None) -> Tensor:
    """x / max(‖x‖_p, eps) along ``dim``: each slice along ``dim`` gets p-norm 1 (a zero slice stays 0).

    Any shape in, the same shape out (written into ``out`` if given, as PyTorch's ``torch.div(..., out=out)``).
    The clamp is ``clamp_min`` (no gradient to the norm below ``eps``), as PyTorch.
    """
    # a complex x too, as PyTorch's: z / max(‖z‖_p, eps), the norm of the moduli
    x = input if isinstance(input, Tensor) and input.dtype.kind == "c" else _floating(input, "normalize")
    p = 2.0 if p is None else _number(p, "normalize", "p")   # None: the 2-norm, as PyTorch's
    if isinstance(dim, Tensor):   # PyTorch's norm reads it as an int list: tensor([1]) and tensor(True) are dim 1
        dim = int_tuple(dim, "normalize", "dim", dims=True)[0]
    dims = dim if dim is None or isinstance(dim, (tuple, list)) else _dim(dim, x.ndim, "normalize")   # as norm's
    norm = x.norm(p, dims, keepdim=True)
    denominator = mg.clip(norm, min=_number(eps, "normalize", "eps"))
    return x / denominator if out is None else mg.div(x, denominator, out=out)
