"""Initialisers: fill a parameter's array in place, as ``torch.nn.init``.

Each function writes into ``tensor.data`` (on the tensor's device, in its
dtype) with numbers from the engine's generator for that device, so
``mg.manual_seed`` makes initialisation reproducible; nothing is recorded in
the graph. Each returns the tensor it filled.

Fans follow PyTorch: for a weight of shape ``(out, in, *k)``,
``fan_in = in * prod(k)`` and ``fan_out = out * prod(k)``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy

import minigrad as mg
from minigrad import Tensor

__all__ = [
    "calculate_gain", "constant_", "dirac_", "eye_", "kaiming_normal_", "kaiming_uniform_", "normal_", "ones_",
    "orthogonal_", "sparse_", "trunc_normal_", "uniform_", "xavier_normal_", "xavier_uniform_", "zeros_",
]


# the initialisers that draw into complex tensors as PyTorch's do (each part drawn as the real case, normal's
# variance split between the parts); orthogonal_ and trunc_normal_ refuse them, as PyTorch's do
_COMPLEX_OK = {"uniform_", "normal_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
               "sparse_"}


class InitDtypeError(TypeError, NotImplementedError):
    """A draw into a tensor of a dtype with no random numbers (integers, bool): PyTorch's NotImplementedError,
    and the TypeError minigrad raised before (``except`` clauses for either catch it)."""


class InitArgumentError(ValueError, RuntimeError):
    """An argument PyTorch refuses (U(a, b) with a > b or an infinite bound, a negative or NaN std, a fill value
    that is not a number): PyTorch's RuntimeError, and the ValueError minigrad raised before."""


class _GroupsZeroError(ValueError, ZeroDivisionError):
    """``dirac_(groups=0)``: PyTorch's ZeroDivisionError, and the ValueError minigrad raised before."""


def _check(tensor: Any, name: str) -> Tensor:
    """The Tensor to fill (any dtype: the fills take any; the draws check theirs with :func:`_drawable`)."""
    # PyTorch programs fill ``m.weight.data``, which is minigrad's NumPy/CuPy array: fill it through a
    # Tensor that shares it (as_tensor never copies an array).
    if mg.is_array(tensor):
        tensor = mg.as_tensor(tensor)
    if not isinstance(tensor, Tensor):
        raise TypeError(f"nn.init.{name}: expected a Tensor, Parameter or array, got {type(tensor).__name__}")
    return tensor


def _drawable(tensor: Tensor, name: str, uniform: bool) -> None:
    """Refuse to draw random numbers into an integer or bool tensor (or a complex one, for the initialisers
    that have no complex form): PyTorch's NotImplementedError, a TypeError too. A normal draw into an empty
    tensor passes (PyTorch's normal_ checks nothing there, its uniform_ checks the dtype first)."""
    kind = tensor.dtype.kind
    if kind == "f" or kind == "c" and name in _COMPLEX_OK or not uniform and tensor.numel() == 0:
        return
    raise InitDtypeError(f"nn.init.{name}: can only fill floating-point tensors, got {tensor.dtype} (shape "
                         f"{tensor.shape}); PyTorch has no {'uniform' if uniform else 'normal'} random numbers of "
                         "that dtype either")


def _empty_no_op(tensor: Tensor) -> bool:
    """PyTorch's kaiming initialisers warn and return at once for a tensor with a zero-size dim."""
    if 0 not in tensor.shape:
        return False
    warnings.warn("Initializing zero-element tensors is a no-op", UserWarning, stacklevel=3)
    return True


def _parts(tensor: Tensor, draw: Any) -> Any:
    """``draw(shape)`` for a real tensor; for a complex one, two draws as its real and imaginary parts."""
    if tensor.dtype.kind != "c":
        return draw(tensor.shape)
    both = draw((2, *tensor.shape))
    return both[0] + 1j * both[1]


def _write(tensor: Tensor, values: Any, writes: int = 1) -> Tensor:
    """Copy ``values`` (an array on the tensor's device) into the tensor's own array, as an in-place op: the
    version counter moves, so a backward that saved the old values refuses them (as PyTorch's), by ``writes``:
    the number of in-place ops PyTorch's function makes, so ``tensor._version`` reads as PyTorch's."""
    with mg.no_grad():
        tensor.data[...] = values.astype(tensor.dtype, copy=False)
    for _ in range(writes):
        tensor._bump_version()
    return tensor


def _uniform_draw(gen: Any) -> Any:
    """``draw(shape)``: U[0, 1) numbers from a NumPy Generator or a CuPy RandomState."""
    return gen.random if hasattr(gen, "random") else gen.random_sample


def _uniform_array(tensor: Tensor, low: float, high: float, generator: Any = None) -> Any:
    """low + (high - low) * U, low and high rounded to the tensor's (real) dtype and U on the grid k / 2**digits
    of that dtype, as PyTorch draws it: a float64 U just below 1 would round up to 1 in float16 (a weight equal to
    ``high``). A value rounded up to ``high`` in that dtype is ``low`` instead, as PyTorch's: [low, high), each
    number of the dtype in it as likely (each part of a complex tensor too)."""
    gen = mg.random_generator(tensor.device, generator)
    real = numpy.finfo(tensor.dtype).dtype   # float32 for complex64 …
    digits = 2.0 ** (numpy.finfo(real).nmant + 1)   # 2**11 for float16, 2**24 for float32 and complex64 …
    below, top = numpy.asarray(low, real)[()], numpy.asarray(high, real)[()]   # the bounds in it, as PyTorch's
    span = float(top) - float(below)
    with mg.on_device(tensor.device):
        draw = _uniform_draw(gen)
        xp = mg.array_module(tensor.data)

        def part(shape: tuple) -> Any:
            u = draw(shape)
            values = xp.asarray(float(below) + span * (xp.floor(u * digits) / digits), dtype=real)
            if below < top:
                values[values >= top] = below
            return values
        return _parts(tensor, part)


def _normal_array(tensor: Tensor, mean: float, std: float, generator: Any = None) -> Any:
    gen = mg.random_generator(tensor.device, generator)
    with mg.on_device(tensor.device):
        if tensor.dtype.kind == "c":
            std = std / math.sqrt(2)   # the variance std² split between the two parts, as PyTorch's
        return _parts(tensor, lambda shape: mean + std * gen.standard_normal(shape))


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for ``nonlinearity`` (as ``torch.nn.init.calculate_gain``)."""
    linear = ("linear", "sigmoid", "conv1d", "conv2d", "conv3d",   # PyTorch's list: its code has no "identity"
              "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
    if nonlinearity in linear:
        return 1   # an int, as PyTorch's
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise ValueError(f"nn.init.calculate_gain: negative_slope {slope!r} is not a number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"nn.init.calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _fans(tensor: Tensor, name: str) -> tuple[int, int]:
    if tensor.ndim < 2:
        raise ValueError(f"nn.init.{name}: fan in and fan out need a tensor with at least 2 dimensions, "
                         f"got shape {tensor.shape}")
    receptive = 1
    for size in tensor.shape[2:]:
        receptive *= size
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight ``(out, in, *k)``, by torch's private name.

    Private in PyTorch too, but the reset_parameters that custom layers copy from ``nn.Linear`` call it for the
    bias bound ``1 / sqrt(fan_in)``.
    """
    return _fans(tensor, "_calculate_fan_in_and_fan_out")   # shapes only: any dtype, a Tensor or an array


def _fan(tensor: Tensor, mode: str, name: str) -> int:
    mode = mode.lower() if isinstance(mode, str) else mode   # "FAN_IN" works, as PyTorch's
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"nn.init.{name}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(tensor, name)
    return fan_in if mode == "fan_in" else fan_out


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    """fan_in or fan_out of a weight, as PyTorch's private helper that custom initialisers call."""
    return _fan(tensor, mode, "_calculate_correct_fan")


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Tensor:
    """Fill ``tensor`` (any shape, floating-point or complex) with samples of U(a, b) in place; returns it."""
    tensor = _check(tensor, "uniform_")
    _drawable(tensor, "uniform_", uniform=True)
    if not a <= b:
        raise InitArgumentError(f"nn.init.uniform_: expects a [a, b) range, but found a={a} > b={b}")
    if not math.isfinite(a) or not math.isfinite(b):
        raise InitArgumentError(f"nn.init.uniform_: the bounds must be finite, got a={a}, b={b}")
    return _write(tensor, _uniform_array(tensor, a, b, generator))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Tensor:
    """Fill ``tensor`` (any shape, floating-point or complex) with samples of N(mean, std²); returns it."""
    tensor = _check(tensor, "normal_")
    if not std >= 0:   # NaN too
        raise InitArgumentError(f"nn.init.normal_: expects std >= 0.0, but found std {std}")
    _drawable(tensor, "normal_", uniform=False)
    return _write(tensor, _normal_array(tensor, mean, std, generator))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill ``tensor`` (any shape and dtype) with ``val`` in place, without recording; returns it."""
    tensor = _check(tensor, "constant_")
    if isinstance(val, Tensor) and val.ndim:
        raise InitArgumentError(f"nn.init.constant_: fill_ only supports a number or a 0-dimension value tensor, "
                                f"got a tensor of shape {val.shape}")
    if isinstance(val, complex) and tensor.dtype.kind not in "cb":   # into bool: True where non-zero, as PyTorch
        raise InitArgumentError(f"nn.init.constant_: the value {val} cannot be converted to type {tensor.dtype}")
    if not isinstance(val, (Tensor, int, float, complex, bool)) and not hasattr(val, "__float__"):   # torch's fill_
        raise TypeError(f"nn.init.constant_: val must be a number or a 0-d tensor, got {type(val).__name__} "
                        f"({val!r:.40}) for the tensor of shape {tuple(tensor.shape)}")
    with mg.no_grad():   # PyTorch's fill_ (its conversion: -2 is 254 in uint8, NaN or 300 into int8 are refused)
        tensor.fill_(val)
    return tensor


def zeros_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` (any shape and dtype) with zeros in place; returns it."""
    return constant_(_check(tensor, "zeros_"), 0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` (any shape and dtype) with ones in place; returns it."""
    return constant_(_check(tensor, "ones_"), 1)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """Glorot uniform: U(-a, a) with a = gain · √(6 / (fan_in + fan_out)); tensor (out, in, *k), ≥ 2 dims."""
    tensor = _check(tensor, "xavier_uniform_")
    fan_in, fan_out = _fans(tensor, "xavier_uniform_")
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    _drawable(tensor, "xavier_uniform_", uniform=True)   # the dtype first, as PyTorch's uniform_
    if not bound >= 0:
        raise InitArgumentError(f"nn.init.xavier_uniform_: expects gain >= 0 (U(-a, a) with a = {bound}), got {gain}")
    return _write(tensor, _uniform_array(tensor, -bound, bound, generator))


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """Glorot normal: N(0, std²) with std = gain · √(2 / (fan_in + fan_out)); tensor (out, in, *k), ≥ 2 dims."""
    tensor = _check(tensor, "xavier_normal_")
    fan_in, fan_out = _fans(tensor, "xavier_normal_")
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    if not std >= 0:
        raise InitArgumentError(f"nn.init.xavier_normal_: expects gain >= 0 (std = {std}), got {gain}")
    _drawable(tensor, "xavier_normal_", uniform=False)
    return _write(tensor, _normal_array(tensor, 0.0, std, generator))


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator: Any = None) -> Tensor:
    """He uniform: U(-b, b) with b = gain · √(3 / fan), gain = calculate_gain(nonlinearity, a).

    ``kaiming_uniform_(w, a=math.sqrt(5))`` is ``nn.Linear``'s default: U(-1/√in, 1/√in). A tensor with a
    zero-size dim is left as it is, with PyTorch's UserWarning.
    """
    tensor = _check(tensor, "kaiming_uniform_")
    if _empty_no_op(tensor):
        return tensor
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(tensor, mode, "kaiming_uniform_"))
    _drawable(tensor, "kaiming_uniform_", uniform=True)
    return _write(tensor, _uniform_array(tensor, -bound, bound, generator))


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator: Any = None) -> Tensor:
    """He normal in place: N(0, std²) with std = gain / √fan; tensor: (out, in, *k), at least 2-D. A tensor
    with a zero-size dim is left as it is, with PyTorch's UserWarning."""
    tensor = _check(tensor, "kaiming_normal_")
    if _empty_no_op(tensor):
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode, "kaiming_normal_"))
    _drawable(tensor, "kaiming_normal_", uniform=False)
    return _write(tensor, _normal_array(tensor, 0.0, std, generator))


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """A (semi-)orthogonal matrix times ``gain``; a tensor of shape (rows, *rest) is treated as
    (rows, prod(rest)). As PyTorch: QR of a Gaussian matrix with the signs of R's diagonal
    folded into Q, so the result is uniformly distributed."""
    tensor = _check(tensor, "orthogonal_")
    if tensor.ndim < 2:
        raise ValueError(f"nn.init.orthogonal_: needs a tensor with at least 2 dimensions, got shape {tensor.shape}")
    if tensor.numel() == 0:
        return tensor
    _drawable(tensor, "orthogonal_", uniform=False)
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    gen = mg.random_generator(tensor.device, generator)
    xp = mg.array_module(tensor.data)
    with mg.on_device(tensor.device):
        flat = gen.standard_normal((rows, cols))
        if rows < cols:
            flat = flat.T
        q, r = xp.linalg.qr(flat)
        q = q * xp.sign(xp.diagonal(r))
        if rows < cols:
            q = q.T
    return _write(tensor, (gain * q).reshape(tensor.shape), writes=2)   # PyTorch's copy_ and mul_(gain)


def eye_(tensor: Tensor) -> Tensor:
    """The identity matrix (ones on the diagonal of a 2-D tensor of any dtype, as ``torch.nn.init.eye_``)."""
    tensor = _check(tensor, "eye_")
    if tensor.ndim != 2:
        raise ValueError(f"nn.init.eye_: needs a 2-D tensor, got shape {tensor.shape}")
    xp = mg.array_module(tensor.data)
    with mg.on_device(tensor.device):
        return _write(tensor, xp.eye(*tensor.shape))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """The Dirac delta of a convolution weight (out, in, *k) with 1-3 spatial dims: each of the first
    min(out/groups, in) output channels of each group passes its input channel through, as PyTorch's."""
    tensor = _check(tensor, "dirac_")
    if tensor.ndim not in (3, 4, 5):
        raise ValueError(f"nn.init.dirac_: needs a 3-, 4- or 5-D tensor, got shape {tensor.shape}")
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1 or tensor.shape[0] % groups:
        error = _GroupsZeroError if groups == 0 else ValueError   # PyTorch's size % 0: ZeroDivisionError
        raise error(f"nn.init.dirac_: dim 0 ({tensor.shape[0]}) must be divisible by groups, got {groups!r}")
    out_per_group = tensor.shape[0] // groups
    xp = mg.array_module(tensor.data)
    with mg.on_device(tensor.device):
        values = xp.zeros(tensor.shape)
    centre = tuple(k // 2 for k in tensor.shape[2:])
    for g in range(groups):
        for d in range(min(out_per_group, tensor.shape[1])):
            values[(g * out_per_group + d, d, *centre)] = 1
    return _write(tensor, values, writes=1 + groups * min(out_per_group, tensor.shape[1]))   # zero_, one write each


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  generator: Any = None) -> Tensor:
    """N(mean, std²) truncated to [a, b] (absolute bounds, as PyTorch), in place; returns the tensor.

    Drawn exactly in every case by rejection (only the rejected numbers are drawn again): from N(0, 1) when
    [a, b] holds the mean and most of the mass, from U(a, b) when it holds the mean in a narrow interval, and
    from an exponential (Robert 1995) when it lies on one side of the mean, so far tails are exact too.
    PyTorch's UserWarning when the mean is more than 2 std outside [a, b].
    """
    tensor = _check(tensor, "trunc_normal_")
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
                      "The distribution of values may be incorrect.", UserWarning, stacklevel=2)
    _drawable(tensor, "trunc_normal_", uniform=True)
    if not std >= 0:   # NaN too
        raise InitArgumentError(f"nn.init.trunc_normal_: expects std >= 0.0, but found std {std}")
    if not a <= b:
        raise InitArgumentError(f"nn.init.trunc_normal_: needs a < b (or a == b: every value a), got a={a} > b={b}")
    alpha, beta = (a - mean) / std, (b - mean) / std   # the bounds in std units (std = 0: ZeroDivisionError)
    gen = mg.random_generator(tensor.device, generator)
    xp = mg.array_module(tensor.data)
    with mg.on_device(tensor.device):
        if alpha >= 0:
            z = _one_sided(xp, gen, tensor.numel(), alpha, beta)
        elif beta <= 0:   # the mirror image of the one-sided case
            z = -_one_sided(xp, gen, tensor.numel(), -beta, -alpha)
        else:
            z = _straddling(xp, gen, tensor.numel(), alpha, beta)
        return _write(tensor, xp.clip(mean + std * z.reshape(tensor.shape), a, b))


def _rejection(xp: Any, n: int, propose: Any, accept: Any) -> Any:
    """``n`` numbers: ``propose(k)`` draws k candidates, ``accept(z)`` keeps some; the others are drawn again."""
    out = xp.empty(n)
    pending = xp.arange(n)
    while pending.size:
        z = propose(pending.size)
        kept = accept(z)
        out[pending[kept]] = z[kept]
        pending = pending[~kept]
    return out


def _one_sided(xp: Any, gen: Any, n: int, alpha: float, beta: float) -> Any:
    """N(0, 1) truncated to [alpha, beta] with 0 <= alpha <= beta (beta may be inf): proposals alpha + Exp(lam)
    cut at beta, lam = (alpha + √(alpha² + 4)) / 2, kept with probability exp(-(z - lam)² / 2) (over 75%)."""
    draw = _uniform_draw(gen)
    lam = (alpha + math.sqrt(alpha * alpha + 4.0)) / 2.0
    mass = -math.expm1(-lam * (beta - alpha))   # the exponential's probability of landing in [alpha, beta]
    return _rejection(xp, n, lambda k: alpha - xp.log1p(-mass * draw(k)) / lam,
                      lambda z: draw(z.size) <= xp.exp(-0.5 * (z - lam) ** 2))


def _straddling(xp: Any, gen: Any, n: int, alpha: float, beta: float) -> Any:
    """N(0, 1) truncated to [alpha, beta] with alpha < 0 < beta: N(0, 1) proposals kept inside when they land
    there often (as PyTorch's), else (a narrow interval) U(alpha, beta) proposals kept with probability
    exp(-z² / 2) (over 70% there)."""
    draw = _uniform_draw(gen)
    if math.erf(beta / math.sqrt(2.0)) - math.erf(alpha / math.sqrt(2.0)) > 0.6:   # a mass over 0.3
        return _rejection(xp, n, gen.standard_normal, lambda z: (alpha <= z) & (z <= beta))
    return _rejection(xp, n, lambda k: alpha + (beta - alpha) * draw(k),
                      lambda z: draw(z.size) <= xp.exp(-0.5 * z * z))


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01, generator: Any = None) -> Tensor:
    """A 2-D tensor with N(0, std²) entries, ``ceil(sparsity · rows)`` of them in each column set to zero
    (at random rows), as ``torch.nn.init.sparse_``."""
    tensor = _check(tensor, "sparse_")
    if tensor.ndim != 2:
        raise ValueError(f"nn.init.sparse_: needs a 2-D tensor, got shape {tensor.shape}")
    if not std >= 0:   # NaN too
        raise InitArgumentError(f"nn.init.sparse_: expects std >= 0.0, but found std {std}")
    _drawable(tensor, "sparse_", uniform=False)   # PyTorch's normal_'s checks first, then (PyTorch has none) ours
    if not 0 <= sparsity <= 1:
        raise ValueError(f"nn.init.sparse_: sparsity must be in [0, 1], got {sparsity}")
    rows, cols = tensor.shape
    zeros = math.ceil(sparsity * rows)
    values = _normal_array(tensor, 0.0, std, generator)
    gen = mg.random_generator(tensor.device, generator)
    with mg.on_device(tensor.device):
        for col in range(cols):
            values[gen.permutation(rows)[:zeros], col] = 0
    return _write(tensor, values, writes=1 + cols)   # PyTorch's normal_, then one write per column


# --- PyTorch's deprecated spellings without the trailing underscore (old tutorials write them) -----------------

def _deprecated(method: Any) -> Any:
    new_name = method.__name__
    old_name = new_name[:-1]

    def deprecated_init(*args: Any, **kwargs: Any) -> Any:
        warnings.warn(f"`nn.init.{old_name}` is now deprecated in favor of `nn.init.{new_name}`.", FutureWarning,
                      stacklevel=2)
        return method(*args, **kwargs)

    deprecated_init.__name__ = deprecated_init.__qualname__ = old_name
    deprecated_init.__doc__ = f"Deprecated (with PyTorch's FutureWarning): :func:`{new_name}`."
    return deprecated_init


uniform = _deprecated(uniform_)
normal = _deprecated(normal_)
constant = _deprecated(constant_)
eye = _deprecated(eye_)
dirac = _deprecated(dirac_)
xavier_uniform = _deprecated(xavier_uniform_)
xavier_normal = _deprecated(xavier_normal_)
kaiming_uniform = _deprecated(kaiming_uniform_)
kaiming_normal = _deprecated(kaiming_normal_)
orthogonal = _deprecated(orthogonal_)
sparse = _deprecated(sparse_)
