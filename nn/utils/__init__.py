"""Training helpers: gradient clipping, an L1 penalty, and detaching recurrent state.

``clip_grad_norm_`` and ``clip_grad_value_`` change ``.grad`` arrays in place
(nothing is recorded); ``l1_penalty`` is differentiable and goes into the loss.
``nn.utils.rnn`` packs and pads variable-length sequences, as ``torch.nn.utils.rnn``.
``nn.utils.parametrize`` computes a module's tensor from others on each read (``register_parametrization``);
``nn.utils.parametrizations`` builds ``weight_norm``, ``spectral_norm`` and ``orthogonal`` on it, as
PyTorch's; ``weight_norm``/``spectral_norm`` here are PyTorch's legacy hook-based forms.
"""

from __future__ import annotations

import math
import types
import warnings
from typing import Any, Iterable

import numpy

import minigrad as mg
from minigrad import Tensor

from .._errors import InputShapeError
from . import fusion, parametrizations, parametrize, prune, rnn, stateless
from .fusion import fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval, fuse_linear_bn_weights
from .spectral_norm import remove_spectral_norm, spectral_norm
from .weight_norm import remove_weight_norm, weight_norm

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "detach_state", "get_total_norm",
           "l1_penalty", "parameters_to_vector", "parametrizations", "parametrize", "remove_spectral_norm",
           "remove_weight_norm", "rnn", "spectral_norm", "stateless", "vector_to_parameters", "weight_norm"]
__all__ += ["clip_grad", "convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format",
            "convert_parameters", "memory_format", "skip_init"]
__all__ += ["clip_grad_norm", "fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval",
            "fuse_linear_bn_weights", "fusion", "prune"]


def _tensors(params: Any, name: str) -> list[Tensor]:
    """A list of Tensors from a Tensor, an iterable of Tensors, or a Module."""
    if isinstance(params, Tensor):
        return [params]
    if hasattr(params, "parameters") and callable(params.parameters):
        return list(params.parameters())
    out = list(params)
    for i, p in enumerate(out):
        if not isinstance(p, Tensor):
            raise TypeError(f"nn.utils.{name}: item {i} is a {type(p).__name__}, not a Tensor")
    return out


def detach_state(state: Any) -> Any:
    """Cut a recurrent state from its graph: a Tensor, or a (nested) tuple/list of Tensors.

    Used for truncated back-propagation through time: carry the values of
    ``h`` (or ``(h, c)``) into the next chunk without the graph that made them.
    None stays None.
    """
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    raise TypeError(f"nn.utils.detach_state: expected a Tensor or a tuple/list of Tensors, got {type(state).__name__}")


def clip_grad_norm_(parameters: Any, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Scale the gradients of ``parameters`` so their joint ``norm_type``-norm is at most ``max_norm``.

    The total norm is the norm of the per-parameter norms (``inf``: the largest
    absolute entry). When ``max_norm / (total + 1e-6)`` is below 1 every
    gradient is multiplied by it, as ``torch.nn.utils.clip_grad_norm_``.
    Parameters without a gradient are skipped. Returns the total norm before
    clipping as a 0-d Tensor (on the first gradient's device; no host sync).
    ``foreach`` is accepted for PyTorch's signature (one loop serves both).
    """
    norm_type = float(norm_type)   # torch's ValueError/TypeError for "fro" or None, also with no gradients
    is_generator = isinstance(parameters, types.GeneratorType)
    params = _tensors(parameters, "clip_grad_norm_")
    if is_generator and not params:
        warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.", stacklevel=2)
    tensors = [p for p in params if p.grad is not None]
    if not tensors:
        return mg.tensor(0.0)
    total = _total_norm([p.grad.data for p in tensors], norm_type, error_if_nonfinite, "clip_grad_norm_")
    clip_grads_with_norm_(tensors, max_norm, total)
    return total


def get_total_norm(tensors: Any, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None) -> Tensor:
    """The ``norm_type``-norm of all entries of ``tensors`` (e.g. gradients) taken together, as
    ``torch.nn.utils.get_total_norm``: a 0-d Tensor (0 for none)."""
    norm_type = float(norm_type)
    arrays = [t.data for t in _tensors(tensors, "get_total_norm")]
    if not arrays:
        return mg.tensor(0.0)
    return _total_norm(arrays, norm_type, error_if_nonfinite, "get_total_norm")


def _total_norm(arrays: list, norm_type: float, error_if_nonfinite: bool, name: str) -> Tensor:
    """The norm of the per-array norms, on the first array's device (no host sync unless checking)."""
    device = mg.device_of(arrays[0])
    xp = mg.array_module(arrays[0])
    for a in arrays:   # torch.linalg.vector_norm's errors
        if a.dtype.kind not in "fc":
            raise RuntimeError(f"nn.utils.{name}: linalg.vector_norm: Expected a floating point or complex tensor "
                               f"as input. Got {a.dtype} (shape {a.shape})")
        if a.size == 0 and (norm_type < 0 or math.isinf(norm_type)):
            raise RuntimeError(f"nn.utils.{name}: cannot compute the {norm_type} norm of the empty gradient of "
                               f"shape {a.shape} because the operation does not have an identity")
    with mg.on_device(device):
        norms = [mg.to_device(_grad_norm(a, norm_type), device) for a in arrays]
        total = _grad_norm(xp.stack(norms), norm_type)
        if error_if_nonfinite and not bool(xp.isfinite(total)):
            raise RuntimeError(f"nn.utils.{name}: the total {norm_type}-norm of the gradients is "
                               f"{float(total)}; pass error_if_nonfinite=False to clip anyway")
    return mg.as_tensor(xp.asarray(total))


def clip_grads_with_norm_(parameters: Any, max_norm: float, total_norm: Any, foreach: bool | None = None) -> None:
    """Scale every gradient by ``max_norm / (total_norm + 1e-6)`` when that is below 1, in place, as
    ``torch.nn.utils.clip_grads_with_norm_`` (``total_norm`` from :func:`get_total_norm`)."""
    grads = [p.grad.data for p in _tensors(parameters, "clip_grads_with_norm_") if p.grad is not None]
    if not grads:
        return
    xp = mg.array_module(grads[0])
    total = total_norm.data if isinstance(total_norm, Tensor) else xp.asarray(total_norm)
    with mg.on_device(mg.device_of(grads[0])):
        # max_norm / (total + 1e-6) as PyTorch computes it (Tensor.__rtruediv__: a reciprocal, then a product)
        coef = xp.minimum(xp.reciprocal(total + 1e-6) * float(max_norm), 1.0)
        for g in grads:   # one after the other, as PyTorch's (foreach too): those before an unwritable one are scaled
            _refuse_unwritable(g, "clip_grads_with_norm_")
            # PyTorch's foreach path takes a 0-d total only; its loop (foreach=False) broadcasts into each gradient
            if coef.ndim and (foreach is not False or not _broadcasts_into(coef.shape, g.shape)):
                raise RuntimeError(f"nn.utils.clip_grads_with_norm_: total_norm must be a 0-d tensor, got shape "
                                   f"{tuple(coef.shape)} for a gradient of shape {tuple(g.shape)}")
            scale = mg.to_device(coef, mg.device_of(g))
            if g.dtype == xp.float16:   # PyTorch multiplies in float32 (its opmath), the coefficient not rounded first
                g[...] = (g.astype(xp.float32) * scale.astype(xp.float32)).astype(xp.float16)
            else:
                g *= scale.astype(g.dtype)


def _refuse_unwritable(g: Any, name: str) -> None:
    """PyTorch's RuntimeError for a gradient clipped in place that cannot be written: an expanded view (assigned as
    ``p.grad = g.expand(...)``; NumPy's ValueError otherwise, CuPy's a silent race) or read-only memory."""
    if g.size > 1 and any(n > 1 and step == 0 for n, step in zip(g.shape, g.strides)):
        raise RuntimeError(f"nn.utils.{name}: unsupported operation: more than one element of the written-to tensor "
                           f"(a .grad of shape {tuple(g.shape)}, an expanded view) refers to a single memory location. "
                           "Please clone() the tensor before performing the operation.")
    if not getattr(getattr(g, "flags", None), "writeable", True):
        raise RuntimeError(f"nn.utils.{name}: the .grad of shape {tuple(g.shape)} is read-only memory; clone() it")


def _broadcasts_into(shape: tuple, target: tuple) -> bool:
    """Whether an array of ``shape`` broadcasts to ``target`` (so that ``x *= it`` keeps x's shape)."""
    try:
        return numpy.broadcast_shapes(shape, target) == tuple(target)
    except ValueError:
        return False


def parameters_to_vector(parameters: Any) -> Tensor:
    """All parameters flattened and joined into one 1-D tensor, in order (differentiable), as PyTorch's."""
    tensors = _tensors(parameters, "parameters_to_vector")
    if not tensors:
        raise ValueError("nn.utils.parameters_to_vector: no parameters given")
    return mg.cat([p.reshape(-1) for p in tensors])


def vector_to_parameters(vec: Tensor, parameters: Any) -> None:
    """Make each parameter's array the next slice of the 1-D ``vec`` (nothing recorded), as PyTorch's: views of
    ``vec``'s array (a later write to ``vec`` reaches the parameters), in ``vec``'s dtype and device. The sizes
    must add up to ``vec``'s length (PyTorch ignores the rest of a longer one)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"nn.utils.vector_to_parameters: expected a 1-D Tensor, got {type(vec).__name__}")
    if vec.ndim == 0:   # PyTorch's errors: slicing a 0-d tensor, then viewing a slice of rows as a parameter
        raise IndexError("nn.utils.vector_to_parameters: expected a 1-D Tensor, got a 0-d one (slice() cannot be "
                         "applied to a 0-dim tensor)")
    if vec.ndim != 1:
        raise InputShapeError(f"nn.utils.vector_to_parameters: expected a 1-D Tensor, got shape {tuple(vec.shape)}")
    tensors = _tensors(parameters, "vector_to_parameters")
    needed = sum(p.numel() for p in tensors)
    if needed != vec.shape[0]:
        raise InputShapeError(f"nn.utils.vector_to_parameters: the parameters hold {needed} numbers, the vector "
                              f"{vec.shape[0]}")
    if vec.dtype.kind not in "fc" and any(p.requires_grad for p in tensors):
        raise RuntimeError(f"nn.utils.vector_to_parameters: data set to a tensor that requires gradients must be "
                           f"floating point or complex dtype, got a vector of {vec.dtype}")
    start = 0
    for p in tensors:   # as PyTorch's param.data = vec[...].view_as(param): a view of vec, in vec's dtype
        n = p.numel()
        p.data = vec.data[start:start + n].reshape(p.shape)
        start += n


def _grad_norm(g: Any, norm_type: float) -> Any:
    """The ``norm_type``-norm of all entries of one gradient array, a 0-d array on its device (float16 summed in
    float32 and rounded back, as PyTorch's: NumPy's float16 sums overflow above 65504)."""
    xp = mg.array_module(g)
    if g.dtype == xp.float16:
        return xp.asarray(_grad_norm(g.astype(xp.float32), norm_type)).astype(xp.float16)
    if norm_type == 2.0:
        # ord=None flattens in memory order (ravel(order="K")), so the column-major weight
        # gradients of x @ W.T are not copied as g.ravel() would; only the summation order changes.
        return xp.linalg.norm(g)
    return xp.linalg.norm(g.ravel(), norm_type)


def clip_grad_value_(parameters: Any, clip_value: float, foreach: bool | None = None) -> None:
    """Clamp every gradient entry into ``[-clip_value, clip_value]`` in place."""
    clip_value = float(clip_value)
    if not clip_value >= 0:
        raise InputShapeError(f"nn.utils.clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    grads = [p.grad.data for p in _tensors(parameters, "clip_grad_value_") if p.grad is not None]
    for g in grads:
        if g.dtype.kind == "c":   # NumPy would clip complex numbers by their lexicographic order
            raise NotImplementedError(f"nn.utils.clip_grad_value_: clamp is not supported for complex types (a "
                                      f"{g.dtype} gradient of shape {g.shape})")
        if foreach is not False:   # PyTorch's foreach clamp refuses before it writes any; its loop, one by one
            _refuse_unwritable(g, "clip_grad_value_")
    for g in grads:
        if foreach is False:
            _refuse_unwritable(g, "clip_grad_value_")
        mg.array_module(g).clip(g, -clip_value, clip_value, out=g)


def l1_penalty(params: Iterable[Tensor] | Any) -> Tensor:
    """Σ |p| over all parameters: a differentiable scalar to add to the loss (L1 regularisation).

    ``loss = loss + 1e-4 * nn.utils.l1_penalty(model.parameters())``.
    """
    tensors = _tensors(params, "l1_penalty")
    if not tensors:
        raise ValueError("nn.utils.l1_penalty: no parameters given")
    total = tensors[0].abs().sum()
    for p in tensors[1:]:
        total = total + p.abs().sum()
    return total


def clip_grad_norm(parameters: Any, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None) -> Tensor:
    """Deprecated spelling of :func:`clip_grad_norm_` (with PyTorch's FutureWarning)."""
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of `torch.nn.utils.clip_grad_norm_`.",
                  FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


# torch.nn.utils' submodules of these functions (``from torch.nn.utils.clip_grad import clip_grad_norm_``),
# skip_init (torch.nn.utils.init) and the memory-format conversions (torch.nn.utils.memory_format)
from . import clip_grad, convert_parameters, memory_format  # noqa: E402
from .init import skip_init  # noqa: E402
from .memory_format import convert_conv2d_weight_memory_format, convert_conv3d_weight_memory_format  # noqa: E402
