"""The normalisations of ``torch.nn.functional`` (re-exported by ``nn.functional``): ``layer_norm``,
``rms_norm``, ``batch_norm``, ``group_norm`` and ``instance_norm``: the mean and the biased variance over the
normalised dims (each group, instance or channel), then the scale and shift. Each is one op where PyTorch records
one node (:class:`LayerNorm`, :class:`GroupNorm`, :class:`BatchNorm`, :class:`BatchNormEval`; instance_norm
PyTorch's batch norm of a (1, N·C, *S) view, :class:`InstanceNorm`), with its backward in a few array passes (what
makes a small CNN's step fast); rms_norm, float16 batch/instance norm and a few edge cases compose engine ops."""

from __future__ import annotations

import math
import string
from typing import Any

import numpy

import minigrad as mg
from minigrad import Tensor, memory_formats
from minigrad._nn_support import ArgumentTypeError
from minigrad.int_arguments import int_arg, int_tuple

from ._arguments import _floating, _number, _tensor
from ._errors import InputDtypeError, InputShapeError
from ._flags import flag
from ._gradient_layout import channels_last_as

__all__ = ["batch_norm", "group_norm", "instance_norm", "layer_norm", "rms_norm"]


def _mixed(name: str, x: Tensor, **params: Any) -> bool:
    """PyTorch's CPU rule for a normalisation's parameters (weight, bias, running estimates; None skipped): all of
    the input's dtype, or all float32 with a float16 input (its "mixed dtype" kernels: computed in float32, the
    result rounded once to float16). True for that mixed case, False for one dtype; any other mix is an
    InputDtypeError (RuntimeError, as PyTorch's) naming every dtype, where NumPy would promote."""
    dtypes = {what: tensor.dtype for what, tensor in params.items() if isinstance(tensor, Tensor)}
    if all(dtype == x.dtype for dtype in dtypes.values()):
        return False
    if x.dtype == mg.float16 and all(dtype == mg.float32 for dtype in dtypes.values()):
        return True
    listed = ", ".join(f"{what} {dtype}" for what, dtype in dtypes.items())
    raise InputDtypeError(f"{name}: mixed dtypes: input {x.dtype} with {listed}; the parameters must have the "
                          f"input's dtype (or all be float32 with a float16 input), as PyTorch's CPU kernels")


def _per_channel(tensor: Any, channels: int, ndim: int, name: str, what: str) -> Tensor:
    """A (C,) weight, bias or running statistic, shaped (1, C, 1, …) to broadcast over an input of ``ndim`` dims."""
    tensor = _tensor(tensor, name, what)
    if tensor.shape != (channels,):
        raise InputShapeError(f"{name}: {what} must have shape ({channels},) (one per channel), got {tensor.shape}")
    return tensor.reshape((1, channels) + (1,) * (ndim - 2))


def _affine(out: Tensor, weight: Any, bias: Any, name: str) -> Tensor:
    channels = out.shape[1]
    if weight is not None:
        out = out * _per_channel(weight, channels, out.ndim, name, "weight")
    if bias is not None:
        out = out + _per_channel(bias, channels, out.ndim, name, "bias")
    return out


def _centered(x: Tensor, axes: tuple) -> tuple[Tensor, Tensor]:
    """(x - mean, mean) over ``axes`` (the mean detached, with size-1 dims), shifted as PyTorch's Welford moments
    are: with x₀ the first element of each slice (a constant), x - mean = (x - x₀) - mean(x - x₀). So a constant
    slice centres to exactly 0 (a plain float32 sum is an ulp off, which 1/√(0 + eps) blows up), and a large
    common offset (1e4 ± 1e-3) cancels exactly before the sum instead of rounding the mean to the offset's ulp."""
    if any(x.shape[axis] == 0 for axis in axes):
        mean = x.mean(axis=axes, keepdims=True)
        return x - mean, mean.detach()
    first = x.detach()[tuple(slice(0, 1) if axis in axes else slice(None) for axis in range(x.ndim))]
    shifted = x - first
    mean = shifted.mean(axis=axes, keepdims=True)
    # mean.detach() rather than an op under no_grad: forward AD differentiates through no_grad, and refuses an op
    # there on a tensor carrying tangents (jacfwd(jacfwd(...)) of layer_norm, group_norm, batch_norm)
    return shifted - mean, first + mean.detach()


def _normalized(x: Tensor, axes: tuple, eps: float, flat_to_zero: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """(x - mean) / √(var + eps) over ``axes`` (biased variance), with the mean and variance kept.
    ``flat_to_zero`` with eps = 0: a slice of zero variance normalises to 0, not 0/0 = NaN (PyTorch's batch_norm
    kernel takes its 1/√var as 0), with a zero gradient."""
    centered, mean = _centered(x, axes)
    variance = (centered * centered).mean(axis=axes, keepdims=True)
    if flat_to_zero and eps == 0:
        flat = variance == 0
        return centered * mg.where(flat, 0.0, mg.where(flat, 1.0, variance).rsqrt()), mean, variance
    return centered / (variance + eps).sqrt(), mean, variance


def _normalized_shape(normalized_shape: Any, name: str) -> tuple:
    """``normalized_shape`` as a tuple of ints, read as PyTorch's SymInt[]: an int or a sequence of ints, 0-d or
    one-element int tensors among them, a bool after the first item as 0 or 1. A bool tensor among them raises
    :func:`int_tuple`'s ArgumentTypeError (PyTorch's RuntimeError); a tensor as the whole list a TypeError."""
    if isinstance(normalized_shape, (int, numpy.integer)):
        normalized_shape = (normalized_shape,)
    try:
        if isinstance(normalized_shape, Tensor):
            raise TypeError("a tensor is no list of sizes")
        shape = int_tuple(tuple(normalized_shape), name, "normalized_shape")
    except ArgumentTypeError:   # (a TypeError too) a bool tensor among the sizes: PyTorch's RuntimeError
        raise
    except TypeError:
        raise TypeError(f"{name}: normalized_shape must be an int or a tuple of ints, got {normalized_shape!r}") \
            from None
    if min(shape, default=0) < 0:   # PyTorch's RuntimeError ("negative dimension")
        raise InputShapeError(f"{name}: normalized_shape must be non-negative, got {normalized_shape!r}")
    return shape


def layer_norm(input: Tensor, normalized_shape: Any, weight: Tensor | None = None,  # noqa: A002
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the last dims given by ``normalized_shape`` (mean 0, biased variance 1), then scale and shift.

    input: (*, *normalized_shape) → same shape. y = (x - E[x]) / √(Var[x] + eps) · weight + bias,
    with ``weight`` and ``bias`` of shape ``normalized_shape`` (either may be None).
    """
    # no integer or complex kernel, as PyTorch's; C-contiguous, as PyTorch's kernel reads it and lays out its result
    # (so layer_norm(x.transpose(1, 2), ...).view(-1) works)
    input = _floating(input, "layer_norm").contiguous()
    shape = _normalized_shape(normalized_shape, "layer_norm")
    eps = _number(eps, "layer_norm", "eps")   # a NumPy float64 or a 0-d tensor would make the result float64
    if not shape or input.shape[input.ndim - len(shape):] != shape or len(shape) > input.ndim:
        raise InputShapeError(f"layer_norm: input of shape {input.shape} does not end with normalized_shape {shape}")
    for what, tensor in (("weight", weight), ("bias", bias)):
        if tensor is not None and _tensor(tensor, "layer_norm", what).shape != shape:
            raise InputShapeError(f"layer_norm: {what} of shape {tensor.shape} must have normalized_shape {shape}")
    _mixed("layer_norm", input, weight=weight, bias=bias)   # float16 with float32 parameters: the op computes so
    affine = tuple(tensor for tensor in (weight, bias) if tensor is not None)
    return LayerNorm(len(shape), weight is not None, bias is not None)(input, eps, *affine)


def _normalize_rows(xp: Any, rows: Any, eps: float, out: Any) -> tuple:
    """x̂ = (x - mean) · rstd of each row of ``rows`` (slices, N) written into ``out`` (its shape); returns the
    shift (the mean of x - x₀, x₀ the row's first entry: :func:`_centered` says why) and rstd = 1/√(biased
    variance + eps), both (slices, 1). An empty row has NaN statistics, quietly."""
    with mg.errstate(xp, invalid="ignore", divide="ignore"):
        xp.subtract(rows, rows[:, :1], out=out)   # x - x₀: exact for a constant row, a common offset cancels
        # (an empty row's mean: 0 / 0, NaN, quietly; NumPy's mean would warn "Mean of empty slice")
        shift = out.mean(axis=1, keepdims=True) if rows.shape[1] else out.sum(axis=1, keepdims=True) / 0
        out -= shift
        rstd = 1 / xp.sqrt(xp.einsum("ij,ij->i", out, out)[:, None] / rows.shape[1] + eps)
    out *= rstd
    return shift, rstd


def _normalized_rows(rows: Any, shift: Any, rstd: Any) -> Any:
    """x̂ of :func:`_normalize_rows` again, from the rows and their saved shift and rstd (a new array)."""
    normalized = rows - rows[:, :1]
    normalized -= shift
    normalized *= rstd
    return normalized


def _rows_input_gradient(xp: Any, scaled: Any, normalized: Any, rstd: Any) -> Any:
    """The rows' gradient, PyTorch's: rstd · (ĝ - mean(ĝ) - x̂ · mean(ĝ · x̂)) per row, ĝ = ``scaled`` (the output
    gradient times the weight), x̂ = ``normalized``, written over ``normalized`` (one large array fewer)."""
    count = normalized.shape[1]
    gx = normalized
    if not count:   # empty rows: an empty gradient (0 / 0 would warn)
        return gx
    gx *= (-xp.einsum("ij,ij->i", scaled, normalized) / count)[:, None]
    gx += scaled
    gx -= scaled.mean(axis=1, keepdims=True)
    gx *= rstd
    return gx


class LayerNorm(mg.Function):
    """:func:`layer_norm` as one op, PyTorch's ``native_layer_norm`` (its node NativeLayerNormBackward0, edges
    (x, weight, bias)): each slice x of the last ``dims`` dims (N entries) becomes x̂ · weight + bias, x̂ = (x -
    mean) · rstd, rstd = 1/√(biased variance + eps). Inputs x (C-contiguous), eps (a number), then weight and bias
    (normalized_shape) where given (``has_weight``, ``has_bias``). float16 computes in float32 and rounds the
    result once (PyTorch's CPU kernel), with float16 or float32 parameters.

    The mean is taken of x - x₀ (x₀ the slice's first entry; :func:`_centered` says why), and the variance of the
    centred slice (two passes). Backward, PyTorch's: with ĝ = g · weight, dx = rstd · (ĝ - mean(ĝ) - x̂ ·
    mean(ĝ · x̂)), dweight = Σ g · x̂, dbias = Σ g (sums over the leading dims); the node keeps x, the shifted
    mean, rstd, weight and bias, as PyTorch's keeps x, mean, rstd, weight and bias (x̂ is computed again). Its
    ``create_graph=True`` rule is minigrad/higher_order_rules.py's ``_layer_norm``."""

    name = "native_layer_norm"

    def __init__(self, dims: int, has_weight: bool, has_bias: bool) -> None:
        self.dims, self.has_weight, self.has_bias = dims, has_weight, has_bias

    def pytorch_inputs(self) -> tuple:
        """PyTorch's node's inputs (x, weight, bias) among this op's (x, eps, weight, bias), None where not given."""
        return _affine_slots(2, self.has_weight, self.has_bias)

    def _rows(self, x: Any) -> Any:
        """x (C-contiguous) as (slices, N): one normalised slice per row."""
        size = math.prod(x.shape[x.ndim - self.dims:])
        return x.reshape(math.prod(x.shape[:x.ndim - self.dims]), size)

    def forward(self, x: Any, eps: float, *affine: Any) -> Any:
        self.eps = eps   # for the create_graph rule
        xp, rows = self.xp, self._rows(x)
        weight = affine[0] if self.has_weight else None
        bias = affine[-1] if self.has_bias else None
        wide = x.dtype == numpy.float16   # PyTorch's float16 kernel computes in float32
        if wide:
            rows = rows.astype(numpy.float32)
        out = xp.empty(x.shape, dtype=rows.dtype)   # the result owns its memory (an in-place op on it is no view's)
        out_rows = self._rows(out)
        shift, rstd = _normalize_rows(xp, rows, eps, out_rows)   # x̂, then scaled and shifted in place
        if weight is not None:
            out_rows *= weight.reshape(-1)
        if bias is not None:
            out_rows += bias.reshape(-1)
        # the bias too, as PyTorch's node keeps it (an in-place change of it before the backward is refused)
        self.saved, self.bias_dtype = (x, shift, rstd, weight, bias), None if bias is None else bias.dtype
        return out.astype(x.dtype) if wide else out

    def backward(self, gy: Any) -> tuple:
        x, shift, rstd, weight, _ = self.saved
        xp, rows = self.xp, self._rows(x)
        wide = x.dtype == numpy.float16
        g = self._rows(gy).astype(numpy.float32) if wide else self._rows(gy)
        normalized = _normalized_rows(rows.astype(numpy.float32) if wide else rows, shift, rstd)
        grads = [None, None]   # x's (below) and eps's
        if self.has_weight:   # (before x's gradient, which is written over x̂)
            grads.append(xp.einsum("ij,ij->j", g, normalized).reshape(weight.shape).astype(weight.dtype, copy=False)
                         if self.needs_grad[2] else None)
        if self.has_bias:
            bias_shape = x.shape[x.ndim - self.dims:]
            grads.append(xp.einsum("ij->j", g).reshape(bias_shape).astype(self.bias_dtype, copy=False)
                         if self.needs_grad[-1] else None)
        if self.needs_grad[0]:
            scaled = g if weight is None else g * weight.reshape(-1)   # ĝ
            grads[0] = _rows_input_gradient(xp, scaled, normalized, rstd).reshape(x.shape).astype(x.dtype, copy=False)
        return tuple(grads)


class GroupNorm(mg.Function):
    """:func:`group_norm` of a C-contiguous or channels-last x (N, C, *S) as one op (float16 computed in float32 and
    rounded once, with float16 or float32 parameters, as PyTorch's CPU kernel), PyTorch's ``native_group_norm``
    (its node NativeGroupNormBackward0, edges (x, weight, bias)): each sample's ``groups`` groups of C/groups
    channels normalised over the group's channels and S (:func:`_normalize_rows` over rows (N·groups, C/groups·∏S),
    as :class:`LayerNorm`), then times weight and plus bias (C,) where given. Backward, PyTorch's: ĝ = g · weight,
    dx = rstd · (ĝ - mean(ĝ) - x̂ · mean(ĝ · x̂)) per group, dweight = Σ g · x̂, dbias = Σ g (over N and S); the
    node keeps x, the shift, rstd and weight. A channels-last x is read through a C-order copy; its result and
    gradient are laid out as x, as PyTorch's kernel allocates them. Its ``create_graph=True`` rule is
    minigrad/higher_order_rules.py's ``_group_norm``."""

    name = "native_group_norm"
    pytorch_outputs = 3   # PyTorch's node's outputs (y, mean, rstd): its hooks get (g, None, None)

    def __init__(self, groups: int, has_weight: bool, has_bias: bool) -> None:
        self.groups, self.has_weight, self.has_bias = groups, has_weight, has_bias

    def pytorch_inputs(self) -> tuple:
        """PyTorch's node's inputs (x, weight, bias) among this op's (x, eps, weight, bias), None where not given."""
        return _affine_slots(2, self.has_weight, self.has_bias)

    def _rows(self, x: Any) -> Any:
        """x as (N·groups, C/groups·∏S): one group per row."""
        return x.reshape(x.shape[0] * self.groups, x.size // max(x.shape[0] * self.groups, 1))

    @staticmethod
    def _channels(x: Any) -> Any:
        """x as (N, C, ∏S)."""
        return x.reshape(x.shape[0], x.shape[1], math.prod(x.shape[2:]))

    def forward(self, x: Any, eps: float, *affine: Any) -> Any:
        self.eps = eps   # for the create_graph rule
        xp = self.xp
        weight = affine[0] if self.has_weight else None
        wide = x.dtype == numpy.float16   # PyTorch's float16 kernel computes in float32
        rows = self._rows(x).astype(numpy.float32) if wide else self._rows(x)   # (a channels-last x: a C-order copy)
        out = xp.empty(x.shape, dtype=rows.dtype)   # (owns its memory: an in-place op on it is no view's)
        shift, rstd = _normalize_rows(xp, rows, eps, self._rows(out))
        channels = self._channels(out)
        if weight is not None:
            channels *= weight[:, None]
        if self.has_bias:
            channels += affine[-1][:, None]
        self.saved, self.bias_dtype = (x, shift, rstd, weight), affine[-1].dtype if self.has_bias else None
        if not x.flags.c_contiguous:   # channels last: PyTorch's kernel lays its result out as x
            return _laid_out_as(xp, x, out)
        return out.astype(x.dtype) if wide else out

    def backward(self, gy: Any) -> tuple:
        x, shift, rstd, weight = self.saved
        xp = self.xp
        wide = x.dtype == numpy.float16   # in float32, each gradient rounded once to its input's dtype
        normalized = _normalized_rows(self._rows(x).astype(numpy.float32) if wide else self._rows(x), shift, rstd)
        g = self._channels(gy.astype(numpy.float32) if wide else gy)
        grads = [None, None]   # x's (below) and eps's
        if self.has_weight:   # (before x's gradient, which is written over x̂)
            grads.append(xp.einsum("ncs,ncs->c", g, normalized.reshape(g.shape)).astype(weight.dtype, copy=False)
                         if self.needs_grad[2] else None)
        if self.has_bias:
            grads.append(xp.einsum("ncs->c", g).astype(self.bias_dtype, copy=False) if self.needs_grad[-1] else None)
        if self.needs_grad[0]:
            scaled = g if weight is None else g * weight[:, None]   # ĝ
            gx = _rows_input_gradient(xp, self._rows(scaled), normalized, rstd).reshape(x.shape)
            # x's layout and dtype (channels last: as PyTorch's kernel allocates its grad_input)
            grads[0] = gx.astype(x.dtype, copy=False) if x.flags.c_contiguous else _laid_out_as(xp, x, gx)
        return tuple(grads)


def _laid_out_as(xp: Any, x: Any, values: Any) -> Any:
    """``values`` (x's shape) in a new array of x's dtype and strides (x dense: channels last)."""
    out = xp.empty_like(x)
    out[...] = values
    return out


def _kernel_layout(x: Tensor) -> Tensor:
    """``x`` in the layout PyTorch's batch_norm kernel gives its result (its ``suggest_memory_format``): a
    channels-last x stays so (NumPy's elementwise ops keep that layout), any other becomes C-contiguous (a
    transposed (N, C, L), so ``batch_norm(x.transpose(1, 2), ...).view(-1)`` works as in PyTorch)."""
    if memory_formats.suggest(tuple(x.shape), x.stride()) is memory_formats.contiguous_format:
        return x.contiguous()
    return x


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,  # noqa: A002
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel (dim 1) of (N, C, *) over every other dim, as ``torch.nn.functional.batch_norm``.

    ``training``: with the batch's mean and biased variance, and the running estimates (if given) moved
    in place by ``momentum`` towards the batch mean and unbiased variance; else with the running ones.
    Then times ``weight`` and plus ``bias`` (C,), either may be None.
    """
    x = _kernel_layout(_floating(input, "batch_norm"))
    if x.numel() == 0:   # PyTorch's: an empty input skips every check (eval mode needs no running estimates): its
        out = x.clone()  # copy times weight[0] plus bias[0] (zero gradients), the running estimates untouched
        for what, tensor in (("weight", weight), ("bias", bias)):
            if tensor is not None:
                first = _tensor(tensor, "batch_norm", what).reshape(-1)[0].to(x.dtype)
                out = out * first if what == "weight" else out + first
        return out
    if x.ndim < 2:
        raise InputShapeError(f"batch_norm: expected an input of at least 2 dims (N, C, ...), got shape {x.shape}")
    for what, tensor in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                         ("bias", bias)):
        if tensor is not None:   # the (C,) shape, named with the input's, before any in-place update
            _tensor(tensor, "batch_norm", what)
            if tensor.shape != (x.shape[1],):
                raise InputShapeError(f"batch_norm: {what} must have shape ({x.shape[1]},) (one per channel of "
                                      f"the input of shape {x.shape}), got {tensor.shape}")
    if momentum is None:   # the modules' cumulative average (momentum=None) passes 1 / batches seen; torch's F refuses
        raise TypeError("batch_norm: momentum must be a number, got None (a BatchNorm module's momentum=None "
                        "passes 1 / batches seen)")
    momentum, eps = _number(momentum, "batch_norm", "momentum"), _number(eps, "batch_norm", "eps")   # (as layer_norm's)
    if training and not eps > 0:   # a zero-variance channel would divide by zero, a negative eps give NaN
        raise ValueError(f"batch_norm: eps must be positive during training, got {eps}")
    if not eps >= 0:
        raise ValueError(f"batch_norm: eps must be non-negative, got {eps}")
    if (running_mean is None) != (running_var is None):   # one alone was left un-updated; torch refuses
        raise ValueError("batch_norm: running_mean and running_var must either both be None or neither be None")
    count = x.numel() // x.shape[1]
    if training and count == 1:   # before the dtypes and the running estimates, as PyTorch's checks
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input "
                         f"of shape {x.shape}")
    if not training and running_mean is None:
        raise InputShapeError("batch_norm: running_mean and running_var are needed when not training")
    _mixed("batch_norm", x, running_mean=running_mean, running_var=running_var, weight=weight, bias=bias)
    if running_mean is not None and (running_mean.requires_grad or running_var.requires_grad) \
            and mg.is_grad_enabled():   # PyTorch's native_batch_norm has no derivative for them
        what = "running_mean" if running_mean.requires_grad else "running_var"
        raise RuntimeError(f"The function 'batch_norm' is not differentiable with respect to argument '{what}'. "
                           "This input cannot have requires_grad True.")
    if x.dtype == mg.float16:
        return _half_batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps)
    affine = tuple(tensor for tensor in (weight, bias) if tensor is not None)
    if not training:
        return BatchNormEval(weight is not None, bias is not None)(x, eps, running_mean, running_var, *affine)
    if running_mean is None:   # eps and momentum as inputs: mg.compile sees a later call's other values
        return BatchNorm(False, weight is not None, bias is not None)(x, eps, momentum, *affine)[0]
    out, moved_mean, moved_var = BatchNorm(True, weight is not None, bias is not None)(
        x, eps, momentum, running_mean, running_var, *affine)
    _write_running(running_mean, moved_mean)
    _write_running(running_var, moved_var)
    return out


def _write_running(running: Tensor, moved: Tensor) -> None:
    """``running.copy_(moved)`` under no_grad: one in-place write (its version moves once, so a backward that saved
    the old estimate refuses it). A plain tensor's writable array is written directly, out of the autograd
    engine: two copy_ calls were most of a small batch norm's time (~15 µs each, the op itself ~20 µs). Anything
    else (:func:`_writes_directly`: a capture by ``mg.compile``, which records copy_ to replay it, a Tensor
    subclass, read-only or expanded memory, a device change) goes through copy_ itself."""
    if _writes_directly(running, moved.data):
        running.data[...] = moved.data
        running._bump_version()
        return
    with mg.no_grad():
        running.copy_(moved)


def count_batch(tracked: Tensor) -> None:
    """``tracked.add_(1)`` under no_grad (a batch norm module's ``num_batches_tracked``), written directly where
    :func:`_write_running` writes directly."""
    if _writes_directly(tracked, tracked.data):
        tracked.data[...] += 1
        tracked._bump_version()
        return
    with mg.no_grad():
        tracked.add_(1)


def _writes_directly(tensor: Tensor, value: Any) -> bool:
    """Whether :func:`_write_running` and :func:`count_batch` write ``tensor``'s array themselves: a plain Tensor
    whose array is writable, not expanded (no zero stride: copy_ refuses that) and of the array type of ``value``
    (no device change), with no ``mg.compile`` capture running (it records copy_ and add_, to replay them)."""
    data = tensor.data
    return (type(tensor) is Tensor and type(data) is type(value) and getattr(data.flags, "writeable", True)
            and 0 not in data.strides and not mg.compiler.is_compiling())


def _affine_slots(first: int, has_weight: bool, has_bias: bool) -> tuple:
    """(0, weight's position, bias's position) in a batch norm op's inputs, whose weight and bias come from
    ``first`` on where given; None for one not given (PyTorch's node has an edge for it all the same)."""
    return (0, first if has_weight else None, first + has_weight if has_bias else None)


def _over_channels(ndim: int) -> tuple[str, str]:
    """einsum's subscripts of an (N, C, *) array of ``ndim`` dims and of its channel dim: ``("abcd", "b")``."""
    letters = string.ascii_letters[:ndim]
    return letters, letters[1]


class BatchNorm(mg.Function):
    """:func:`batch_norm` in training mode as one op, PyTorch's ``native_batch_norm``: y = (x - mean) · invstd ·
    weight + bias with the batch's per-channel mean and invstd = 1/√(biased variance + eps). Inputs x (N, C, *),
    eps and momentum (numbers), then running_mean and running_var (C,) where ``tracks`` (read only: no gradient),
    weight and bias (C,) where given (``has_weight``, ``has_bias``).

    Outputs: y (x's shape and layout), then the running estimates moved one step, r · (1 - momentum) + momentum ·
    the batch's mean (unbiased variance), for :func:`batch_norm` to write in (:func:`_write_running`: one in-place
    write each, which ``mg.compile`` replays); without running estimates, the batch's mean and biased variance,
    unread. Sums are einsum's (one pass, no temporary; a large channels-last x's over lines of several positions'
    channels, :func:`_channel_rows`); the variance is that of x - mean (two passes). Its backward is
    PyTorch's in a few array passes: dx = (g - mean(g) - x̂ · mean(g · x̂)) · invstd · weight, dweight = Σ g · x̂,
    dbias = Σ g, x̂ = (x - mean) · invstd; the node keeps x, mean, invstd and weight, as PyTorch's. Its
    ``create_graph=True`` rule is minigrad/higher_order_rules.py's ``_batch_norm``."""

    name = "native_batch_norm"
    multiple = True
    n_outputs = 3
    pytorch_outputs = 1   # PyTorch's node has a gradient for y only (grad_fn.register_hook's grad_outputs)

    def __init__(self, tracks: bool, has_weight: bool, has_bias: bool) -> None:
        self.tracks, self.has_weight, self.has_bias = tracks, has_weight, has_bias

    def pytorch_inputs(self) -> tuple:
        """PyTorch's NativeBatchNormBackward0's inputs (x, weight, bias) among this op's, None where not given: its
        ``next_functions`` and the ``grad_inputs`` of ``grad_fn.register_hook``'s hooks (see minigrad's names)."""
        return _affine_slots(5 if self.tracks else 3, self.has_weight, self.has_bias)

    def forward(self, x: Any, eps: float, momentum: float, *rest: Any) -> tuple:
        self.eps = eps   # for the create_graph rule
        xp, (over, channel) = self.xp, _over_channels(x.ndim)
        shape, count = (1, x.shape[1]) + (1,) * (x.ndim - 2), x.size // x.shape[1]
        weight = rest[-2 if self.has_bias else -1] if self.has_weight else None
        rows = _channel_rows(x)
        if rows is not None:   # channels last
            out, mean, variance, invstd = self._rows_forward(x, rows, eps, weight, rest[-1] if self.has_bias else None)
        else:
            mean = xp.einsum(f"{over}->{channel}", x) / count
            out = x - mean.reshape(shape)   # centred, then scaled and shifted in place
            variance = xp.einsum(f"{over},{over}->{channel}", out, out) / count
            invstd = 1 / xp.sqrt(variance + eps)
            out *= (invstd if weight is None else invstd * weight).reshape(shape)
            if self.has_bias:
                out += rest[-1].reshape(shape)
        self.saved = (x, mean, invstd, weight)
        if not self.tracks:
            return out, mean, variance
        running_mean, running_var = rest[:2]
        return (out, running_mean * (1 - momentum) + mean * momentum,   # as mul_ then add_: the same roundings
                running_var * (1 - momentum) + variance * (momentum * count / (count - 1)))

    def _rows_forward(self, x: Any, rows: Any, eps: float, weight: Any, bias: Any) -> tuple:
        """(out, mean, biased variance, invstd) of a channels-last x, as forward's, passing over its 2-D view ``rows``
        (:func:`_channel_rows`: R positions' C channels per line) with each (C,) vector tiled R times along a line;
        out is laid out as x (channels last) in memory of its own."""
        xp, channels, count = self.xp, x.shape[1], x.size // x.shape[1]
        repeats = rows.shape[1] // channels

        def per_channel(line: Any) -> Any:   # a line's R partial sums of each channel, added
            return line.reshape(repeats, channels).sum(axis=0)

        mean = per_channel(xp.einsum("ij->j", rows)) / count
        out = xp.empty_like(x)   # (order K: x's strides)
        centered = _channel_rows(out)
        xp.subtract(rows, xp.tile(mean, repeats), out=centered)   # centred, then scaled and shifted in place
        variance = per_channel(xp.einsum("ij,ij->j", centered, centered)) / count
        invstd = 1 / xp.sqrt(variance + eps)
        centered *= xp.tile(invstd if weight is None else invstd * weight, repeats)
        if bias is not None:
            centered += xp.tile(bias, repeats)
        return out, mean, variance, invstd

    def backward(self, gy: Any, *statistics: Any) -> tuple:   # the steps' gradients: None (used under no_grad)
        x, mean, invstd, weight = self.saved
        xp, (over, channel) = self.xp, _over_channels(x.ndim)
        shape, count = (1, x.shape[1]) + (1,) * (x.ndim - 2), x.size // x.shape[1]
        needs_x = self.needs_grad[0]
        needs_weight = self.has_weight and self.needs_grad[-2 if self.has_bias else -1]
        needs_bias = self.has_bias and self.needs_grad[-1]
        if needs_x or needs_weight:
            centered = x - mean.reshape(shape)
            dot = xp.einsum(f"{over},{over}->{channel}", gy, centered)   # Σ g · (x - mean)
        total = xp.einsum(f"{over}->{channel}", gy) if needs_x or needs_bias else None
        gx = None
        if needs_x:   # g · a + (x - mean) · b + c, per channel: a = invstd · weight
            scale = invstd if weight is None else invstd * weight
            centered *= (-(dot / count) * (invstd * invstd) * scale).reshape(shape)
            gx = xp.multiply(gy, scale.reshape(shape), out=xp.empty_like(x))   # in x's layout, as PyTorch's
            gx += centered
            gx -= ((total / count) * scale).reshape(shape)
        grads = [gx, None, None, None, None] if self.tracks else [gx, None, None]
        if self.has_weight:
            grads.append(dot * invstd if needs_weight else None)
        if self.has_bias:
            grads.append(total if needs_bias else None)
        return tuple(grads)


CHANNEL_ROW_LENGTH = 512   # :func:`_channel_rows`: at most this many entries per line (unless C alone is more)
CHANNEL_ROWS_FROM = 65536   # :func:`_channel_rows`: from this many entries of x


def _channel_rows(x: Any) -> Any:
    """A channels-last x (N, C, *S of 3 or more dims: C its fastest dim, every dim dense) as a 2-D view
    (N·∏S / R, R·C): R positions' channels per line, R the largest power of two up to ``CHANNEL_ROW_LENGTH`` / C
    that divides N·∏S (a NumPy pass over lines of a few channels runs its inner loop that few times: 2-3x slower);
    None for any other layout, and below ``CHANNEL_ROWS_FROM`` entries (the tiled vectors cost more than they
    save)."""
    if x.ndim < 3 or x.size < CHANNEL_ROWS_FROM:
        return None
    moved = x.transpose(0, *range(2, x.ndim), 1)
    if not moved.flags.c_contiguous:
        return None
    positions, channels = x.size // x.shape[1], x.shape[1]
    repeats = 1
    while 2 * repeats * channels <= CHANNEL_ROW_LENGTH and positions % (2 * repeats) == 0:
        repeats *= 2
    return moved.reshape(positions // repeats, repeats * channels)


class BatchNormEval(mg.Function):
    """:func:`batch_norm` with the running estimates as one op (PyTorch's ``native_batch_norm``, not training):
    y = (x - running_mean) · invstd · weight + bias, invstd = 1/√(running_var + eps), computed as PyTorch's CPU
    kernel does, x · α + β with α = invstd · weight and β = bias - running_mean · α. Inputs x (N, C, *), eps,
    running_mean and running_var (C,) (no gradient: :func:`batch_norm` refuses them requiring grad, as PyTorch),
    then weight and bias (C,) where given. Backward: dx = g · invstd · weight, dweight = Σ g · (x - running_mean) ·
    invstd, dbias = Σ g. Its ``create_graph=True`` rule is minigrad/higher_order_rules.py's ``_batch_norm_eval``."""

    name = "native_batch_norm"

    def __init__(self, has_weight: bool, has_bias: bool) -> None:
        self.has_weight, self.has_bias = has_weight, has_bias

    def pytorch_inputs(self) -> tuple:
        """PyTorch's node's inputs (x, weight, bias) among this op's, as :meth:`BatchNorm.pytorch_inputs`."""
        return _affine_slots(4, self.has_weight, self.has_bias)

    def forward(self, x: Any, eps: float, running_mean: Any, running_var: Any, *affine: Any) -> Any:
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        weight = affine[0] if self.has_weight else None
        invstd = 1 / self.xp.sqrt(running_var + eps)
        scale = invstd if weight is None else invstd * weight
        shift = -running_mean * scale if not self.has_bias else affine[-1] - running_mean * scale
        out = x * scale.reshape(shape)   # x · α + β in two passes, as PyTorch's CPU kernel (its roundings too)
        out += shift.reshape(shape)
        self.saved, self.running_var = (x, running_mean, invstd, weight), running_var
        return out

    def kept_for_backward(self) -> tuple:
        """``saved`` and running_var, as PyTorch's node saves both running estimates: changing either in place
        after the forward is refused at backward (running_var alone was accepted)."""
        return (*self.saved, self.running_var)

    def backward(self, gy: Any) -> tuple:
        x, running_mean, invstd, weight = self.saved
        xp, (over, channel) = self.xp, _over_channels(x.ndim)
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        gx = None
        if self.needs_grad[0]:
            scale = invstd if weight is None else invstd * weight
            gx = xp.multiply(gy, scale.reshape(shape), out=xp.empty_like(x))   # in x's layout, as PyTorch's
        grads = [gx, None, None, None]
        if self.has_weight:
            grads.append(xp.einsum(f"{over},{over}->{channel}", gy, x - running_mean.reshape(shape)) * invstd
                         if self.needs_grad[-2 if self.has_bias else -1] else None)
        if self.has_bias:
            grads.append(xp.einsum(f"{over}->{channel}", gy) if self.needs_grad[-1] else None)
        return tuple(grads)


def _half_batch_norm(x: Tensor, running_mean: Tensor | None, running_var: Tensor | None, weight: Tensor | None,
                     bias: Tensor | None, training: bool, momentum: float, eps: float) -> Tensor:
    """:func:`batch_norm` of a float16 ``x`` (N, C, *), as PyTorch's CPU kernel: the statistics in float32 (the
    running estimates moved in float32 and rounded once); when training, the batch's mean and 1/√(var + eps) are
    rounded to float16 before they normalise x (:func:`_half_affine`)."""
    axes, shape = (0, *range(2, x.ndim)), (1, x.shape[1]) + (1,) * (x.ndim - 2)
    x32 = x.float()
    if not training:
        return _half_affine(x32, running_mean.float().reshape(shape),
                            1 / (running_var.float().reshape(shape) + eps).sqrt(), weight, bias)
    mean = x32.mean(axis=axes)
    centered = x32 - mean.reshape(shape)
    variance = (centered * centered).mean(axis=axes)
    if running_mean is not None and running_var is not None:
        count = x.numel() // x.shape[1]
        with mg.no_grad():
            running_mean.copy_(running_mean.float().mul_(1 - momentum).add_(mean.detach() * momentum))
            running_var.copy_(running_var.float().mul_(1 - momentum).add_(
                variance.detach() * (momentum * count / (count - 1))))
    if eps == 0:   # instance_norm's eps=0: a zero-variance channel's 1/√var is 0, as in :func:`_normalized`
        flat = variance == 0
        invstd = mg.where(flat, 0.0, mg.where(flat, 1.0, variance).rsqrt())
    else:
        invstd = 1 / (variance + eps).sqrt()
    return _half_affine(x32, _rounded(mean, mg.float16).reshape(shape), _rounded(invstd, mg.float16).reshape(shape),
                        weight, bias)


def _half_instance_norm(x: Tensor, running_mean: Tensor | None, running_var: Tensor | None, weight: Tensor | None,
                        bias: Tensor | None, use_input_stats: bool, momentum: float, eps: float) -> Tensor:
    """:func:`instance_norm` of a float16 ``x`` (N, C, *S), as PyTorch's: :func:`_half_batch_norm` of x as
    (1, N·C, *S) with the (C,) weight, bias and running estimates repeated N times; each running estimate then
    takes the mean of its N moved copies."""
    batch, channels = x.shape[:2]
    name = "instance_norm"
    per_channel = [None if t is None else _per_channel(t, channels, 2, name, what).reshape(-1).repeat(batch)
                   for what, t in (("running_mean", running_mean), ("running_var", running_var),
                                   ("weight", weight), ("bias", bias))]
    out = _half_batch_norm(x.reshape(1, batch * channels, *x.shape[2:]), *per_channel, use_input_stats,
                           _number(momentum, name, "momentum"), eps)
    if use_input_stats:
        with mg.no_grad():
            for running, moved in zip((running_mean, running_var), per_channel[:2]):
                if running is not None:
                    running.copy_(moved.reshape(batch, channels).mean(axis=0))
    return out.reshape(x.shape)


def _instance_norm_as_batch_norm(x: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
                                 weight: Tensor | None, bias: Tensor | None, use_input_stats: bool, momentum: float,
                                 eps: float) -> Tensor:
    """:func:`instance_norm` of a C-contiguous float32/float64 x (N, C, *S) as PyTorch records it: a view of x as
    (1, N·C, *S) normalised by one batch-norm op (:class:`InstanceNorm`, or :class:`BatchNormEval` with the running
    estimates: NativeBatchNormBackward0), the (C,) weight and bias repeated N times (RepeatBackward0 edges), the
    result viewed back. Training, each running estimate moves by ``momentum`` towards the mean over N of the
    instances' statistics (computed again under no_grad, as the composed ops did)."""
    name, (batch, channels) = "instance_norm", x.shape[:2]
    per_channel = []
    for what, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if t is not None:
            _per_channel(t, channels, 2, name, what)   # (C,) checked
        per_channel.append(None if t is None else _tensor(t, name, what))
    affine = tuple(t.repeat(batch) for t in per_channel[2:] if t is not None)
    flat = x.reshape(1, batch * channels, *x.shape[2:])
    has_weight, has_bias = weight is not None, bias is not None
    if not use_input_stats:   # the running estimates read only (no gradient), in x's dtype: PyTorch casts them
        stats = [t.detach().to(x.dtype).repeat(batch) for t in per_channel[:2]]
        return BatchNormEval(has_weight, has_bias)(flat, eps, *stats, *affine).reshape(x.shape)
    out = InstanceNorm(batch * channels, has_weight, has_bias)(flat, eps, *affine).reshape(x.shape)
    if running_mean is not None:
        axes, count = tuple(range(2, x.ndim)), math.prod(x.shape[2:])
        with mg.no_grad():
            centered, mean = _centered(x.detach(), axes)
            unbiased = (centered * centered).mean(axis=axes, keepdims=True) * (count / (count - 1))
            for running, value in ((running_mean, mean), (running_var, unbiased)):
                average = value.reshape(batch, channels).mean(axis=0)
                running.mul_(1 - momentum).add_(average.astype(running.dtype) * momentum)
    return out


class InstanceNorm(GroupNorm):
    """:func:`instance_norm`'s op: x (1, N·C, *S) with N·C groups of one channel (:class:`GroupNorm`'s rows, each
    instance centred on its first entry: a constant instance normalises to exactly 0, a large offset cancels),
    weight and bias (N·C,) where given, recorded as PyTorch's ``native_batch_norm`` of that view (its node
    NativeBatchNormBackward0, edges (x, weight, bias); its hooks' grad_outputs y's alone)."""

    name = "native_batch_norm"
    pytorch_outputs = 1


def _rounded(x: Tensor, dtype: Any) -> Tensor:
    """``x``'s values rounded to ``dtype`` (still in x's dtype), with x's gradient."""
    return x + (x.detach().to(dtype).to(x.dtype) - x.detach())   # the difference is exact: x + it is the rounding


def _half_affine(x: Tensor, mean: Tensor, invstd: Tensor, weight: Any, bias: Any) -> Tensor:
    """(x - mean) · invstd · weight + bias for a float16 batch_norm, as PyTorch's CPU kernel: x (N, C, *) and the
    (1, C, 1, …) statistics in float32, folded into x · α + β (α = invstd · weight, β = bias - mean · α) with one
    rounding (a fused multiply-add, here in float64), then rounded to float16."""
    shape = mean.shape
    alpha = invstd if weight is None else invstd * weight.float().reshape(shape)
    beta = -mean * alpha if bias is None else bias.float().reshape(shape) - mean * alpha
    return (x.double() * alpha.double() + beta.double()).float().half()


def rms_norm(input: Tensor, normalized_shape: Any, weight: Tensor | None = None,  # noqa: A002
             eps: float | None = None) -> Tensor:
    """x / √(mean(x²) + eps) over the last dims given by ``normalized_shape``, then times ``weight``, as
    ``torch.nn.functional.rms_norm``; ``eps=None`` is the input dtype's machine epsilon.

    input: (*, *normalized_shape) → same shape; ``weight`` of shape ``normalized_shape`` (or None).
    """
    input = _tensor(input, "rms_norm")
    if not input.is_complex():   # a complex input computes with PyTorch's complex ops (mean of x², rsqrt)
        input = _floating(input, "rms_norm")
    shape = _normalized_shape(normalized_shape, "rms_norm")
    if not shape or len(shape) > input.ndim or input.shape[input.ndim - len(shape):] != shape:
        raise InputShapeError(f"rms_norm: input of shape {input.shape} does not end with normalized_shape {shape}")
    if weight is not None and _tensor(weight, "rms_norm", "weight").shape != shape:
        raise InputShapeError(f"rms_norm: weight of shape {weight.shape} must have normalized_shape {shape}")
    eps = float(numpy.finfo(input.dtype).eps) if eps is None else _number(eps, "rms_norm", "eps")
    axes = tuple(range(input.ndim - len(shape), input.ndim))
    input = _kernel_layout(input)   # PyTorch's result: channels-last kept, any other layout C order
    out = input * ((input * input).mean(axis=axes, keepdims=True) + eps).rsqrt()
    out = out if weight is None else (out * weight).to(input.dtype)   # the input's dtype, as PyTorch's
    return channels_last_as(out, input)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,  # noqa: A002 - PyTorch's name
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise each group of C/num_groups channels of each sample over the group's channels and every
    other dim (mean 0, biased variance 1), then times ``weight`` and plus ``bias`` (C,), as PyTorch's.

    input: (N, C, *) → same shape; C divisible by ``num_groups``.
    """
    name = "group_norm"
    x, eps = _floating(input, name), _number(eps, name, "eps")
    if x.ndim < 2:
        raise InputShapeError(f"{name}: expected at least 2 dims (N, C, *) for the input, got shape {x.shape}")
    num_groups = int_arg(num_groups, name, "num_groups")   # 2.0 and True are TypeErrors, as PyTorch's
    if num_groups < 1 or x.shape[1] % num_groups:
        raise InputShapeError(f"{name}: expected the number of channels of the input of shape {x.shape} to be "
                              f"divisible by num_groups, got num_groups={num_groups!r}")
    batch, channels = x.shape[:2]
    if batch * channels // num_groups * math.prod(x.shape[2:]) == 1:
        raise ValueError(f"{name}: expected more than 1 value per channel when training, got input of shape "
                         f"{x.shape} with num_groups={num_groups}")
    _mixed(name, x, weight=weight, bias=bias)   # float16 with float32 parameters: computed in float32, as one dtype
    # PyTorch's layouts: a channels-last x stays so (the result and x's gradient), any other becomes C order
    x = _kernel_layout(x)
    affine = tuple(tensor for tensor in (weight, bias) if tensor is not None)
    for what, tensor in (("weight", weight), ("bias", bias)):
        if tensor is not None:
            _per_channel(tensor, channels, 2, name, what)   # (C,) checked
    # (float16: the op computes in float32, as PyTorch's kernel)
    return GroupNorm(num_groups, weight is not None, bias is not None)(x, eps, *affine)


def instance_norm(input: Tensor, running_mean: Tensor | None = None,  # noqa: A002
                  running_var: Tensor | None = None, weight: Tensor | None = None, bias: Tensor | None = None,
                  use_input_stats: bool = True, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel of each sample over its other dims, as ``torch.nn.functional.instance_norm``.

    input: (N, C, *) → same shape. ``use_input_stats``: with each instance's mean and biased variance, and
    the running estimates (C,) (if given) moved in place by ``momentum`` towards the batch's average of the
    instances' means and unbiased variances; else with the running estimates. Then times ``weight`` and plus
    ``bias`` (C,).
    """
    name = "instance_norm"
    x, eps = _tensor(input, name), _number(eps, name, "eps")
    use_input_stats = flag(use_input_stats, name, "use_input_stats")
    if not use_input_stats:   # PyTorch's parser first (None: TypeError); with input stats after the spatial check
        momentum = _number(momentum, name, "momentum")
    if x.ndim < (3 if use_input_stats else 2):   # (N, C) with the running estimates: torch's batch_norm of it
        # the shape before the dtype, as PyTorch; under 2 dims its batch_norm indexes dim 1 (IndexError)
        raise (ValueError if use_input_stats else IndexError)(
            f"{name}: expected an input of at least {3 if use_input_stats else 2} dims (N, C, *), got shape {x.shape}")
    x = _floating(x, name).contiguous()   # PyTorch's: batch_norm of input.contiguous().view(1, N·C, *): C order
    if (running_mean is None) != (running_var is None):   # as torch (its batch_norm underneath) refuses
        raise ValueError(f"{name}: running_mean and running_var must either both be None or neither be None")
    channels, count = x.shape[1], math.prod(x.shape[2:])
    if use_input_stats and count == 1:   # before the dtypes, as PyTorch's checks
        raise ValueError(f"{name}: expected more than 1 spatial element when training, got input of shape {x.shape}")
    if use_input_stats:   # (F.instance_norm's spatial check comes before torch.instance_norm's parser)
        momentum = _number(momentum, name, "momentum")
    if not use_input_stats and (running_mean is None or running_var is None):   # torch's class
        raise RuntimeError(f"{name}: running_mean and running_var are needed when use_input_stats is False")
    _mixed(name, x, weight=weight, bias=bias)   # PyTorch casts the running estimates
    if use_input_stats and count == 0 and x.shape[0]:   # PyTorch's batch_norm of an empty (1, N·C, *S) input
        running_mean = running_var = None                # moves no running estimate (they stayed NaN here)
    if x.dtype == mg.float16 and count != 1:   # PyTorch's: batch_norm of (1, N·C, *S), the (C,) tensors repeated
        return _half_instance_norm(x, running_mean, running_var, weight, bias, use_input_stats, momentum, eps)
    if x.numel() and (eps != 0 or not use_input_stats):
        return _instance_norm_as_batch_norm(x, running_mean, running_var, weight, bias, use_input_stats, momentum,
                                            eps)
    # (eps = 0: a zero-variance instance's 1/√var is 0, as PyTorch's kernel; an empty input: NaN statistics)
    if not use_input_stats:
        mean = _per_channel(running_mean, channels, x.ndim, name, "running_mean").to(x.dtype)
        variance = _per_channel(running_var, channels, x.ndim, name, "running_var").to(x.dtype)
        return _affine((x - mean) / (variance + eps).sqrt(), weight, bias, name)
    out, mean, variance = _normalized(x, tuple(range(2, x.ndim)), eps, flat_to_zero=True)   # batch_norm's kernel
    unbiased = variance * (count / (count - 1)) if count > 1 else variance
    with mg.no_grad():
        for running, batch_value in ((running_mean, mean), (running_var, unbiased)):
            if running is not None:
                _per_channel(running, channels, x.ndim, name, "running statistics")
                average = batch_value.detach().reshape(x.shape[0], channels).mean(axis=0)
                running.mul_(1 - momentum).add_(average.astype(running.dtype) * momentum)
    return _affine(out, weight, bias, name)
