"""Random sampling with PyTorch's names: ``randperm``, ``multinomial``, ``bernoulli``/``bernoulli_``,
``normal``, and the in-place fills ``random_``, ``exponential_``, ``geometric_``, ``cauchy_`` and
``log_normal_``. All draw from ``generator=`` (an ``mg.Generator``) or else the engine's generator for the
device (seeded by ``mg.manual_seed``), so they work on every device; each result is noted as a draw, so
an ``mg.compile`` replay draws fresh samples.

The samples are not reparameterised (nor are PyTorch's): drawn with tensors that require grad (normal's mean
and std, bernoulli's probabilities) the result requires grad, with a zero gradient to them, as PyTorch's.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy

from .. import backend, generators
from ..arguments import allocating, as_bool
from ..autograd import Function
from ..constructors import SampleDtypeError, exact_integers, out_requires_grad, tensor_options
from ..dtypes import get_default_dtype
from ..outputs import OutDtypeError, creation_args, write_out
from ..recording import note_draw
from ..tensor import GradTypeError, Tensor, int64
from ._util import ArgumentTypeError, ShapeMismatchError, count_arg, int_tuple, note_random_op, number, tensor_arg
from .inplace import _fill, _inplace


def _host(value: Any) -> Any:
    """A number or an array (on any device) as a NumPy array, for checking its values."""
    return numpy.asarray(backend.to_numpy(value) if backend.is_array(value) else value)


def _uniform(shape: tuple, device: Any, normal: bool = False, generator: Any = None, name: str = "random") -> Any:
    """float64 samples of U[0, 1) (or N(0, 1)) drawn straight from ``generator`` (an ``mg.Generator``) or
    the device's generator."""
    dev = backend.resolve_device(device)
    gen = generators.drawing_from(generator, dev, name)
    with backend.on_device(dev):
        if normal:
            return gen.standard_normal(shape)
        return gen.random(shape) if hasattr(gen, "random") else gen.random_sample(shape)   # CuPy's RandomState


def _drawn(name: str, make: Callable, inputs: tuple) -> Tensor:
    """``make(*arrays of inputs)`` as a Tensor without gradient, noted as a draw (an ``mg.compile``
    replay calls ``make`` again: fresh samples, in eager's order)."""
    arrays = [i.data if isinstance(i, Tensor) else i for i in inputs]
    with allocating(name):
        data = make(*arrays)
    return note_draw(name, make, inputs, Tensor._make(data, False, None, 0))


class ZeroGradientDraw(Function):
    """A sample passed through from the tensors it was drawn with: the result requires grad when one of them
    does, and their gradient is zero (PyTorch's NormalBackward/BernoulliBackward: no reparameterisation), or,
    ``defined=False``, backward raises as PyTorch's (``probs.bernoulli(0.3)``: its derivative is not
    implemented)."""

    def __init__(self, defined: bool = True) -> None:
        self.defined = defined

    def forward(self, sample: Any, *params: Any) -> Any:
        self.params = [(p.shape, p.dtype) for p in params]
        return sample.copy()

    def backward(self, gy: Any) -> tuple:
        if not self.defined:
            raise RuntimeError(f"derivative for {self.name} is not implemented (as PyTorch's)")
        return (None, *(self.xp.zeros(shape, dtype=dtype) for shape, dtype in self.params))


def _zero_gradient(name: str, sample: Tensor, params: tuple, defined: bool = True) -> Tensor:
    """``sample`` with a zero gradient to the ``params`` (Tensors) when one of them requires grad."""
    if not any(p.requires_grad for p in params):
        return sample
    op = ZeroGradientDraw(defined)
    op.name = name
    return op(sample, *params)


def randperm(n: int, *, generator: Any = None, out: Any = None, dtype: Any = int64, device: Any = None,
             requires_grad: bool = False, layout: Any = None, pin_memory: Any = None) -> Tensor:
    """A random permutation of 0 … n-1 (int64 by default), as torch.randperm; ``out=``: in out's dtype."""
    tensor_options("randperm", layout, None if out is not None else pin_memory, device)
    if out is not None:
        dtype, device = creation_args("randperm", out, None if dtype is int64 else dtype, device)
        values = randperm(n, generator=generator, dtype=dtype, device=device)
        return out_requires_grad(write_out("randperm", values, out, warn=False), requires_grad, "randperm")
    n = count_arg(n, "randperm", "n", one_element=True)
    dtype = backend.as_dtype(dtype, "randperm")
    if dtype.kind not in "iuf":
        raise SampleDtypeError(f"randperm: not implemented for dtype {dtype} (integer or float dtypes)")
    if n - 1 > exact_integers(dtype, "randperm")[1]:   # a cast would wrap or round, as PyTorch refuses
        raise ShapeMismatchError(f"randperm: n = {n} is too large for dtype {dtype} (values up to n - 1 must fit)")
    requires_grad = requires_grad is not None and as_bool(requires_grad, "randperm", "requires_grad")
    if requires_grad and dtype.kind != "f":
        raise GradTypeError(f"randperm: integer tensors cannot require grad (dtype {dtype})")
    out = _drawn("randperm", lambda: _uniform((n,), device, False, generator, "randperm")
                 .argsort(kind="stable").astype(dtype), ())
    return out.requires_grad_(True) if requires_grad else out


def _probabilities(probs: Any, name: str, error: type[Exception] = ArgumentTypeError) -> Tensor:
    """``probs`` as a floating point Tensor; another dtype raises ``error`` (PyTorch's class for ``name``)."""
    probs = tensor_arg(probs, name)
    if probs.dtype.kind != "f":
        raise error(f"{name}: expected a floating point tensor of probabilities, got dtype {probs.dtype}")
    return probs


def _multinomial_array(rows: Any, k: int, replacement: bool, device: Any, generator: Any = None) -> Any:
    """(B, C) non-negative weights → (B, k) int64 category indices."""
    xp = backend.array_module(rows)
    weights = rows.astype("float64")
    totals = weights.sum(axis=1, keepdims=True)
    uniform = _uniform((rows.shape[0], k if replacement else rows.shape[1]), device, False, generator, "multinomial")
    if replacement:
        cdf = xp.cumsum(weights / totals, axis=1)
        cdf[:, -1] = 1.0   # rounding must not leave the last category unreachable
        picks = xp.minimum((uniform[:, :, None] >= cdf[:, None, :]).sum(axis=2), rows.shape[1] - 1)
    else:
        # Gumbel top-k: the k largest log w + Gumbel noise are a draw without replacement
        with backend.errstate(xp, divide="ignore"):
            keys = xp.log(weights) - xp.log(-xp.log(xp.maximum(uniform, 1e-300)))
        picks = xp.argsort(-keys, axis=1, kind="stable")[:, :k]
    return picks.astype("int64")


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *, generator: Any = None,  # noqa: A002
                out: Any = None) -> Tensor:
    """Category indices drawn with weights ``probs`` (non-negative, need not sum to 1), as torch.multinomial.

    Shapes: probs (C,) → (num_samples,); probs (B, C) → (B, num_samples), one draw per row; int64.
    Without replacement each row gives distinct categories (at most its number of non-zero weights).
    ``out=``: an int64 tensor written (resized) and returned, as PyTorch's.
    """
    if out is not None:
        if isinstance(out, Tensor) and out.dtype != int64:
            raise ArgumentTypeError(f"multinomial(): expects an int64 tensor out, got dtype {out.dtype}")
        values = multinomial(input, num_samples, replacement, generator=generator)
        return write_out("multinomial", values, out, warn=False)
    probs = _probabilities(input, "multinomial")
    k = count_arg(num_samples, "multinomial", "num_samples", one_element=True)   # tensor([2]) too
    if k == 0:
        raise ShapeMismatchError("multinomial: cannot sample num_samples <= 0 samples (as PyTorch)")
    if probs.ndim not in (1, 2):
        raise ShapeMismatchError(f"multinomial: probs must be 1-D or 2-D, got shape {probs.shape}")
    rows = probs.data.reshape(1, -1) if probs.ndim == 1 else probs.data
    if not replacement and k > rows.shape[1]:
        raise ShapeMismatchError(f"multinomial: cannot draw {k} samples without replacement from {rows.shape[1]} "
                                 "categories")
    if rows.shape[0] == 0:   # no rows: (0, k), as PyTorch
        return Tensor._make(backend.array_module(rows).zeros((0, k), dtype="int64"), False, None, 0)
    if rows.shape[1] == 0:
        raise ShapeMismatchError(f"multinomial: probs of shape {probs.shape} has no categories")
    host = _host(rows).astype("float64")
    if not numpy.isfinite(host).all() or (host < 0).any():
        raise ShapeMismatchError("multinomial: probs must be finite and non-negative")
    if (host.sum(axis=1) <= 0).any():
        raise ShapeMismatchError("multinomial: each row of probs must have a positive sum")
    if not replacement and k > int((host > 0).sum(axis=1).min()):
        raise ShapeMismatchError(f"multinomial: cannot draw {k} samples without replacement from a row with fewer "
                                 "non-zero weights")
    device, flat = probs.device, probs.ndim == 1
    note_random_op("multinomial", (probs,))

    def make(p: Any) -> Any:
        picks = _multinomial_array(p.reshape(1, -1) if flat else p, k, bool(replacement), device, generator)
        return picks.reshape(-1) if flat else picks
    return _drawn("multinomial", make, (probs,))


def bernoulli(input: Tensor, p: Any = None, *, generator: Any = None, out: Any = None) -> Tensor:  # noqa: A002
    """1 with probability ``probs`` (elementwise; or the number ``p`` for all), else 0; probs's dtype.
    ``out=`` (with no ``p``, as PyTorch's): the draws written into out, in its dtype, and out returned."""
    if out is not None:
        if p is not None:
            raise TypeError("bernoulli(): out= is taken only without p (bernoulli(input, *, generator, out)), "
                            "as PyTorch's")
        if isinstance(out, Tensor) and out.dtype.kind == "c":
            raise NotImplementedError(f"bernoulli(): not implemented for an out of dtype {out.dtype} (as PyTorch's)")
        values = bernoulli(input, generator=generator)
        if isinstance(out, Tensor) and out.dtype != values.dtype:   # 0s and 1s in out's dtype, as PyTorch draws
            values = Tensor._make(values.data.astype(out.dtype), False, None, 0)
        return write_out("bernoulli", values, out, warn=False)
    if p is None:
        probs = _probabilities(input, "bernoulli", SampleDtypeError)   # PyTorch: NotImplementedError
    else:   # the probability is p: input gives the shape and dtype only (an integer or bool one too, as PyTorch)
        probs = tensor_arg(input, "bernoulli")
        p = number(p, "bernoulli", "p")
        if not 0 <= p <= 1:
            raise ShapeMismatchError(f"bernoulli: p must be in [0, 1], got {p}")
    device = probs.device
    note_random_op("bernoulli", (probs,))   # with a number p too: torch's vmap takes input as a parameter

    def make(chance: Any) -> Any:   # the range check here, so that every mg.compile replay makes its own
        if p is None and chance.size and not ((_host(chance) >= 0) & (_host(chance) <= 1)).all():
            raise ShapeMismatchError("bernoulli: probabilities must be in [0, 1]")
        draw = _uniform(chance.shape, device, False, generator, "bernoulli")
        xp = backend.array_module(draw)
        return xp.asarray(draw < (chance if p is None else p)).astype(chance.dtype)   # 0-d: an array
    return _zero_gradient("bernoulli", _drawn("bernoulli", make, (probs,)), (probs,), defined=p is None)


def bernoulli_(x: Tensor, p: Any = 0.5, *, generator: Any = None) -> Tensor:
    """Fill ``x`` in place with 1 with probability ``p`` (a number or a tensor broadcast to x), else 0."""
    if not isinstance(x, Tensor):
        raise TypeError(f"bernoulli_: expected a Tensor, got {type(x).__name__}")
    shape, device, dtype = x.shape, x.device, x.dtype
    if dtype.kind == "c":   # PyTorch's bernoulli_ kernels have no complex one
        raise SampleDtypeError(f"bernoulli_: not implemented for dtype {dtype} (shape {shape}), as in PyTorch")
    if isinstance(p, Tensor):
        chance = _probabilities(p, "bernoulli_", SampleDtypeError)   # PyTorch: NotImplementedError
        if _broadcast_shape(chance.shape, shape) != shape:
            raise ShapeMismatchError(f"bernoulli_: p of shape {chance.shape} does not broadcast to the tensor's "
                                     f"shape {shape}")
    else:
        chance = number(p, "bernoulli_", "p")
        if not 0 <= chance <= 1:
            raise ShapeMismatchError("bernoulli_: p must be in [0, 1]")

    def make(*arrays: Any) -> Any:   # a tensor p's range checked here, so that every mg.compile replay checks its own
        if arrays and not ((_host(arrays[0]) >= 0) & (_host(arrays[0]) <= 1)).all():
            raise ShapeMismatchError("bernoulli_: p must be in [0, 1]")
        draw = _uniform(shape, device, False, generator, "bernoulli_")
        xp = backend.array_module(draw)
        return xp.asarray(draw < (arrays[0] if arrays else chance)).astype(dtype)
    params = (chance,) if isinstance(chance, Tensor) else ()
    note_random_op("bernoulli_", params, into=x)
    sample = _zero_gradient("bernoulli_", _drawn("bernoulli_", make, params), params)
    return _inplace(x, "bernoulli_", _fill("bernoulli_", True, sample), sample)


def _broadcast_shape(*shapes: tuple) -> tuple | None:
    """The shape ``shapes`` broadcast to, or None where they do not broadcast."""
    try:
        return tuple(numpy.broadcast_shapes(*shapes))
    except ValueError:
        return None


def unwrap_value(value: Any) -> Any:
    return value.data if isinstance(value, Tensor) else value


def normal(mean: Any = 0.0, std: Any = 1.0, size: Any = None, *, generator: Any = None, dtype: Any = None,
           device: Any = None, requires_grad: bool = False, out: Any = None, layout: Any = None,
           pin_memory: Any = None) -> Tensor:
    """Samples of N(mean, std²), as torch.normal: ``mean`` and ``std`` are tensors (broadcast together,
    the result takes their shape) or numbers with a ``size``. A complex mean tensor (or a complex ``dtype``) gives
    complex samples whose real and imaginary parts each have variance std²/2, as PyTorch's; ``std`` is real.

    ``out=`` (every overload): the samples, drawn in out's dtype, written into out (resized) and returned; with
    numbers and ``requires_grad=True``, out then requires grad, as PyTorch's. ``layout``/``pin_memory``: PyTorch's
    constructor options (minigrad.constructors.tensor_options)."""
    tensor_options("normal", layout, None if out is not None else pin_memory, device)
    if out is not None:
        if isinstance(out, Tensor):
            if dtype is not None and backend.as_dtype(dtype, "normal") != out.dtype:
                raise OutDtypeError(f"normal(): dtype {backend.as_dtype(dtype, 'normal')} does not match dtype of "
                                    f"out parameter ({out.dtype})")
            dtype, device = out.dtype, out.device if device is None else device
        values = normal(mean, std, size, generator=generator, dtype=dtype, device=device)
        warn = isinstance(mean, Tensor) or isinstance(std, Tensor)   # PyTorch warns on resizing for these only
        return out_requires_grad(write_out("normal", values, out, warn=warn), requires_grad, "normal")
    tensors = [t for t in (mean, std) if isinstance(t, Tensor)]
    for value, what in ((mean, "mean"), (std, "std")):
        if not isinstance(value, Tensor):
            number(value, "normal", what)
    if tensors:
        if size is not None:
            raise TypeError("normal: give size only when mean and std are both numbers")
        shape = _broadcast_shape(*(t.shape for t in tensors))
        if shape is None:
            raise ShapeMismatchError(f"normal: mean and std shapes {[t.shape for t in tensors]} do not broadcast")
        kind = tensors[0].dtype if dtype is None else backend.as_dtype(dtype, "normal")
        device = tensors[0].device if device is None else device
    else:
        if size is None:
            raise TypeError("normal: with numbers for mean and std, give size (e.g. normal(0, 1, (2, 3)))")
        shape = int_tuple(size, "normal", "size")
        if any(n < 0 for n in shape):
            raise ShapeMismatchError(f"normal: size {shape} has a negative dimension")
        kind = get_default_dtype() if dtype is None else backend.as_dtype(dtype, "normal")
    if kind.kind not in "fc":
        raise SampleDtypeError(f"normal: samples must be floating point or complex, got dtype {kind}")
    if isinstance(std, Tensor) and std.dtype.kind == "c":
        raise RuntimeError(f"normal expects standard deviation to be non-complex (got std of dtype {std.dtype})")
    if not (_host(unwrap_value(std)) >= 0).all():   # NaN too, as PyTorch
        raise ShapeMismatchError("normal: expects std >= 0.0 (every element), got a negative or NaN std")
    inputs = tuple(v for v in (mean, std) if isinstance(v, Tensor))
    note_random_op("normal", inputs)

    def make(*arrays: Any) -> Any:
        values = iter(arrays)
        m = next(values) if isinstance(mean, Tensor) else mean
        s = next(values) if isinstance(std, Tensor) else std
        if kind.kind == "c":   # the parts each N(0, 1/2), as randn's: a complex variance of 1
            parts = _uniform((2, *shape), device, True, generator, "normal") * 0.5 ** 0.5
            sample = parts[0] + 1j * parts[1]
        else:
            sample = _uniform(shape, device, True, generator, "normal")
        return backend.array_module(sample).asarray(sample * s + m).astype(kind, copy=False)
    out = _zero_gradient("normal", _drawn("normal", make, inputs), inputs)
    return out_requires_grad(out, requires_grad, "normal")


# --- in-place fills from the other distributions x.exponential_() … (PyTorch's Tensor methods) --------

def _fill_from(x: Any, name: str, sample: Callable[[Any, Any], Any], generator: Any) -> Tensor:
    """Fill ``x`` in place with ``sample(draw, shape)`` cast to x's dtype; ``draw`` is the array generator
    (``generator``'s or the device's), so an ``mg.compile`` replay draws afresh."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
    shape, device, dtype = x.shape, x.device, x.dtype
    note_random_op(name, into=x)

    def make() -> Any:
        dev = backend.resolve_device(device)
        gen = generators.drawing_from(generator, dev, name)
        with backend.on_device(dev):
            return sample(gen, shape).astype(dtype)
    return _inplace(x, name, _fill(name, True, _drawn(name, make, ())))


def _floating(x: Any, name: str) -> None:
    if isinstance(x, Tensor) and x.dtype.kind != "f":
        raise SampleDtypeError(f"{name}: not implemented for dtype {x.dtype} (floating point tensors only, as "
                               "PyTorch)")   # TypeError, and PyTorch's RuntimeError or NotImplementedError


def _unit(gen: Any, shape: tuple) -> Any:
    """U[0, 1) in float64 from a NumPy Generator or CuPy's RandomState."""
    return gen.random(shape) if hasattr(gen, "random") else gen.random_sample(shape)


_NOT_GIVEN = object()


def random_(x: Tensor, from_: Any = _NOT_GIVEN, to: Any = _NOT_GIVEN, *, generator: Any = None,
            **kwargs: Any) -> Tensor:
    """Fill ``x`` with integers drawn uniformly, as ``Tensor.random_``: ``random_(to)`` → [0, to),
    ``random_(from, to)`` → [from, to), ``random_()`` → [0, the largest integer x's dtype holds exactly]
    (2**24 for float32, 2**53 for float64, the dtype's max for integers, {0, 1} for bool), and
    ``random_(from, None)`` → [from, that largest value]. PyTorch's keywords ``from=``/``to=`` work too.
    """
    if "from" in kwargs:
        if from_ is not _NOT_GIVEN:
            raise TypeError("random_: got 'from' twice")
        from_ = kwargs.pop("from")
    if kwargs:
        raise TypeError(f"random_: unexpected keyword arguments {sorted(kwargs)}")
    if not isinstance(x, Tensor):
        raise TypeError(f"random_: expected a Tensor, got {type(x).__name__}")
    if from_ is not _NOT_GIVEN and to is _NOT_GIVEN:   # random_(to), PyTorch's one-argument overload
        from_, to = 0, from_
    low = 0 if from_ is _NOT_GIVEN else _integer(from_, "from")
    to = None if to is _NOT_GIVEN or to is None else _integer(to, "to")
    lowest, highest = exact_integers(x.dtype, "random_")
    high = highest if to is None else to - 1   # inclusive
    if low > high:
        raise ShapeMismatchError(f"random_: expects 'from' to be less than 'to', got from={low} >= to={high + 1}")
    if low < lowest or high > highest:
        raise ShapeMismatchError(f"random_: [{low}, {high + 1}) does not fit in dtype {x.dtype} "
                                 f"(it holds {lowest} … {highest} exactly)")

    def sample(gen: Any, shape: tuple) -> Any:
        if hasattr(gen, "integers"):   # a NumPy Generator
            return gen.integers(low, high, shape, endpoint=True, dtype="int64" if high < 1 << 63 else "uint64")
        return gen.randint(low, high + 1, shape, dtype="int64" if high < 1 << 63 else "uint64")   # CuPy's
    return _fill_from(x, "random_", sample, generator)


def _integer(value: Any, what: str) -> int:
    if isinstance(value, Tensor) and value.data.size == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)):
        raise TypeError(f"random_: {what} must be an int, got {type(value).__name__}")
    if not -2 ** 63 <= value < 2 ** 63:
        raise ValueError(f"random_: {what} = {value} does not fit in int64 (PyTorch's bounds are int64s)")
    return int(value)


def exponential_(x: Tensor, lambd: float = 1.0, *, generator: Any = None) -> Tensor:
    """Fill ``x`` with samples of Exp(lambd) (density lambd·e^(-lambd·t), mean 1/lambd), as PyTorch's."""
    lambd = number(lambd, "exponential_", "lambd")
    if not lambd > 0:
        raise ShapeMismatchError(f"exponential_: expects lambd > 0.0, got lambd={lambd}")
    _floating(x, "exponential_")
    return _fill_from(x, "exponential_", lambda gen, shape: _log_of_one_minus(_unit(gen, shape)) / -lambd,
                      generator)


def _log_of_one_minus(u: Any) -> Any:
    """log(1 - u) for u in [0, 1): finite (1 - u is in (0, 1])."""
    return backend.array_module(u).log1p(-u)


def geometric_(x: Tensor, p: float, *, generator: Any = None) -> Tensor:
    """Fill ``x`` with the number of Bernoulli(p) trials up to the first success: 1, 2, … (P(k) = (1-p)^(k-1) p)."""
    p = number(p, "geometric_", "p")
    if not 0 < p < 1:
        raise ShapeMismatchError(f"geometric_: expects p to be in (0, 1), got p={p}")
    if isinstance(x, Tensor) and x.dtype.kind in "bc":
        raise SampleDtypeError(f"geometric_: not implemented for dtype {x.dtype} (integer or floating point "
                               "tensors, as PyTorch)")

    def sample(gen: Any, shape: tuple) -> Any:
        u = _unit(gen, shape)
        return backend.array_module(u).floor(_log_of_one_minus(u) / numpy.log1p(-p)) + 1
    return _fill_from(x, "geometric_", sample, generator)


def cauchy_(x: Tensor, median: float = 0.0, sigma: float = 1.0, *, generator: Any = None) -> Tensor:
    """Fill ``x`` with samples of the Cauchy distribution: median + sigma·tan(π(U - ½))."""
    median, sigma = number(median, "cauchy_", "median"), number(sigma, "cauchy_", "sigma")
    if not sigma > 0:
        raise ShapeMismatchError(f"cauchy_: expects sigma > 0.0, got sigma={sigma}")
    _floating(x, "cauchy_")

    def sample(gen: Any, shape: tuple) -> Any:
        u = _unit(gen, shape)
        return median + sigma * backend.array_module(u).tan(numpy.pi * (u - 0.5))
    return _fill_from(x, "cauchy_", sample, generator)


def log_normal_(x: Tensor, mean: float = 1.0, std: float = 2.0, *, generator: Any = None) -> Tensor:
    """Fill ``x`` with exp(N(mean, std²)) samples, as PyTorch's (``mean`` and ``std`` of the underlying normal)."""
    mean, std = number(mean, "log_normal_", "mean"), number(std, "log_normal_", "std")
    if not std > 0:
        raise ShapeMismatchError(f"log_normal_: expects std > 0.0, got std={std}")
    _floating(x, "log_normal_")

    def sample(gen: Any, shape: tuple) -> Any:
        z = gen.standard_normal(shape)
        return backend.array_module(z).exp(mean + std * z)
    return _fill_from(x, "log_normal_", sample, generator)
