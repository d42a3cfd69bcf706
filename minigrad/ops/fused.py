"""Fused recurrent steps: the gate nonlinearities and state update of one LSTM or
GRU step as a single graph node, with a hand-written backward.

These are the only ops whose backward is written by hand for a whole formula;
``nn.LSTM(fused=True)`` / ``nn.GRU(fused=True)`` use them while the weight
matmuls stay ordinary ops. The primitive-op cells stay the reference: the tests
check that both give the same numbers.

On the CPU the step is vectorised NumPy that reuses its temporaries. On a GPU it
is one CuPy ``ElementwiseKernel`` forward and one backward (one thread per
hidden unit of each batch row), created on first use and cached; CuPy is
reached through :func:`minigrad.backend.cupy_module`, never imported here.

Gate layout follows PyTorch: LSTM pre-activations are ``(…, 4H)`` in the order
i, f, g, o; GRU pre-activations are ``(…, 3H)`` in the order r, z, n.
"""

from __future__ import annotations

from typing import Any

from .. import backend
from ..autograd import Function
from ..tensor import Tensor

_FLOATS = ("float32", "float64")
_FLOAT_DTYPES = tuple(backend.numpy.dtype(name) for name in _FLOATS)


def _fits(state: Any, width: int, gates: Any) -> bool:
    """The usual valid call, recognised with a few comparisons (``_check`` explains anything else)."""
    dtype = getattr(state, "dtype", None)
    if dtype not in _FLOAT_DTYPES or not backend.is_array(state) or state.ndim == 0:
        return False
    expected = state.shape[:-1] + (width * state.shape[-1],)
    return all(backend.is_array(g) and g.dtype == dtype and g.shape == expected for g in gates)


def _check(name: str, state_name: str, state: Any, width: int, **gates: Any) -> int:
    """Validate shapes/dtypes; return the hidden size H (the state's last axis)."""
    if _fits(state, width, gates.values()):
        return state.shape[-1]
    arrays = {**gates, state_name: state}
    for key, array in arrays.items():
        if not backend.is_array(array):
            raise TypeError(f"{name}: {key} must be a tensor, got {type(array).__name__}")
    dtypes = {key: str(a.dtype) for key, a in arrays.items()}
    if len(set(dtypes.values())) != 1 or next(iter(dtypes.values())) not in _FLOATS:
        listed = ", ".join(f"{k} {d}" for k, d in dtypes.items())
        raise TypeError(f"{name}: inputs must all be float32 or all float64, got {listed}")
    if state.ndim == 0:
        raise ValueError(f"{name}: {state_name} must have a hidden axis, got shape {tuple(state.shape)}")
    hidden = state.shape[-1]
    expected = tuple(state.shape[:-1]) + (width * hidden,)
    for key, array in gates.items():
        if tuple(array.shape) != expected:
            shapes = ", ".join(f"{k} {tuple(a.shape)}" for k, a in arrays.items())
            raise ValueError(
                f"{name}: {key} must have shape {expected} ({width}×hidden size {hidden} on the last axis, "
                f"same leading axes as {state_name}); got {shapes}"
            )
    return hidden


def _sigmoid_into(xp: Any, x: Any, out: Any) -> Any:
    """out = 1 / (1 + exp(-x)), exactly as the ``sigmoid`` op computes it."""
    xp.negative(x, out=out)
    with backend.errstate(xp, over="ignore"):  # exp(+large) = inf gives sigmoid 0, correctly
        xp.exp(out, out=out)
    out += 1
    xp.reciprocal(out, out=out)
    return out


def _one_minus_square(xp: Any, y: Any) -> Any:
    """1 - y² in one new array (the derivative of tanh at its output y)."""
    out = xp.multiply(y, y)
    xp.subtract(1, out, out=out)
    return out


def _sigmoid_slope(xp: Any, y: Any) -> Any:
    """y (1 - y) in one new array (the derivative of sigmoid at its output y)."""
    out = xp.subtract(1, y)
    out *= y
    return out


# --- CUDA kernels (CuPy ElementwiseKernel sources) ----------------------------
#
# One thread per element of the (…, H) state; ``i`` is that element's flat
# index, so row = i / H and the gate pre-activations of unit j = i % H sit at
# row * (width*H) + j + k*H (``minigrad_gate_index`` gives it for k = 0).
# Arrays indexed that way are ``raw`` and passed C-contiguous; the (…, H)
# arrays are ordinary (broadcast) arguments.

_PREAMBLE = r"""
template <typename T> __device__ __forceinline__ T minigrad_sigmoid(T x) {
    return T(1) / (T(1) + exp(-x));
}
// where gate 0 of state element i sits in a C-contiguous (rows, gates * H) array
__device__ __forceinline__ ptrdiff_t minigrad_gate_index(ptrdiff_t i, ptrdiff_t H, ptrdiff_t gates) {
    const ptrdiff_t row = i / H;
    return row * gates * H + (i - row * H);
}
"""

KERNELS: dict[str, tuple[str, str, str]] = {
    "lstm_forward": (
        "raw T gates, T c, int64 H",
        "T h_new, T c_new, T tanh_c_new, raw T act",
        r"""
        const ptrdiff_t k = minigrad_gate_index(i, H, 4);
        const T in_gate = minigrad_sigmoid(gates[k]);
        const T forget_gate = minigrad_sigmoid(gates[k + H]);
        const T cell_gate = tanh(gates[k + 2 * H]);
        const T out_gate = minigrad_sigmoid(gates[k + 3 * H]);
        act[k] = in_gate;
        act[k + H] = forget_gate;
        act[k + 2 * H] = cell_gate;
        act[k + 3 * H] = out_gate;
        const T cell = forget_gate * c + in_gate * cell_gate;
        const T tanh_cell = tanh(cell);
        c_new = cell;
        tanh_c_new = tanh_cell;
        h_new = out_gate * tanh_cell;
        """,
    ),
    "lstm_backward": (
        "raw T act, T c, T tanh_c_new, T grad_h_new, T grad_c_new, int64 H",
        "raw T grad_gates, T grad_c",
        r"""
        const ptrdiff_t k = minigrad_gate_index(i, H, 4);
        const T in_gate = act[k];
        const T forget_gate = act[k + H];
        const T cell_gate = act[k + 2 * H];
        const T out_gate = act[k + 3 * H];
        const T grad_cell = grad_c_new + grad_h_new * out_gate * (T(1) - tanh_c_new * tanh_c_new);
        grad_gates[k] = grad_cell * cell_gate * in_gate * (T(1) - in_gate);
        grad_gates[k + H] = grad_cell * c * forget_gate * (T(1) - forget_gate);
        grad_gates[k + 2 * H] = grad_cell * in_gate * (T(1) - cell_gate * cell_gate);
        grad_gates[k + 3 * H] = grad_h_new * tanh_c_new * out_gate * (T(1) - out_gate);
        grad_c = grad_cell * forget_gate;
        """,
    ),
    "gru_forward": (
        "raw T gi, raw T gh, T h, int64 H",
        "T h_new, raw T act",
        r"""
        const ptrdiff_t k = minigrad_gate_index(i, H, 3);
        const T reset = minigrad_sigmoid(gi[k] + gh[k]);
        const T update = minigrad_sigmoid(gi[k + H] + gh[k + H]);
        const T candidate = tanh(gi[k + 2 * H] + reset * gh[k + 2 * H]);
        act[k] = reset;
        act[k + H] = update;
        act[k + 2 * H] = candidate;
        h_new = (T(1) - update) * candidate + update * h;
        """,
    ),
    "gru_backward": (
        "raw T act, raw T gh, T h, T grad_h_new, int64 H",
        "raw T grad_gi, raw T grad_gh, T grad_h",
        r"""
        const ptrdiff_t k = minigrad_gate_index(i, H, 3);
        const T reset = act[k];
        const T update = act[k + H];
        const T candidate = act[k + 2 * H];
        const T grad_candidate = grad_h_new * (T(1) - update) * (T(1) - candidate * candidate);
        const T grad_update = grad_h_new * (h - candidate) * update * (T(1) - update);
        const T grad_reset = grad_candidate * gh[k + 2 * H] * reset * (T(1) - reset);
        grad_gi[k] = grad_reset;
        grad_gi[k + H] = grad_update;
        grad_gi[k + 2 * H] = grad_candidate;
        grad_gh[k] = grad_reset;
        grad_gh[k + H] = grad_update;
        grad_gh[k + 2 * H] = grad_candidate * reset;
        grad_h = grad_h_new * update;
        """,
    ),
}

_compiled: dict[str, Any] = {}


def _kernel(name: str) -> Any:
    """The CuPy ElementwiseKernel ``name`` (built once; CuPy compiles per dtype and device)."""
    kernel = _compiled.get(name)
    if kernel is None:
        in_params, out_params, body = KERNELS[name]
        kernel = backend.cupy_module().ElementwiseKernel(
            in_params, out_params, body, f"minigrad_{name}", preamble=_PREAMBLE
        )
        _compiled[name] = kernel
    return kernel


def _zero(xp: Any, like: Any) -> Any:
    """A 0-d zero that broadcasts in a kernel in place of a missing gradient."""
    return xp.zeros((), dtype=like.dtype)


# --- LSTM ---------------------------------------------------------------------

class LSTMGates(Function):
    """(gates (…, 4H), c (…, H)) → (h' (…, H), c' (…, H)) of one LSTM step.

    i, f, o = σ(gates_i, gates_f, gates_o), g = tanh(gates_g),
    c' = f*c + i*g, h' = o*tanh(c'). Keeps the four activations, c and tanh(c').
    """

    name = "lstm_gates"
    multiple = True
    n_outputs = 2

    def forward(self, gates: Any, c: Any) -> tuple:
        hidden = _check(self.name, "c", c, 4, gates=gates)
        if self.xp is backend.numpy:
            return self._forward_host(gates, c, hidden)
        return self._forward_kernel(gates, c, hidden)

    def _forward_host(self, gates: Any, c: Any, hidden: int) -> tuple:
        xp = self.xp
        two, three = 2 * hidden, 3 * hidden
        # σ over all four blocks in one pass (fewer calls than three slices), then g's block gets tanh
        act = _sigmoid_into(xp, gates, xp.empty_like(gates))
        xp.tanh(gates[..., two:three], out=act[..., two:three])
        in_gate, forget_gate = act[..., :hidden], act[..., hidden:two]
        cell_gate, out_gate = act[..., two:three], act[..., three:]
        c_new = forget_gate * c
        c_new += in_gate * cell_gate
        tanh_c_new = xp.tanh(c_new)
        h_new = out_gate * tanh_c_new
        self.saved = (act, c, tanh_c_new)
        return h_new, c_new

    def _forward_kernel(self, gates: Any, c: Any, hidden: int) -> tuple:
        xp = self.xp
        with backend.on_device(backend.device_of(gates)):
            gates = xp.ascontiguousarray(gates)
            act = xp.empty(gates.shape, dtype=gates.dtype)
            h_new, c_new, tanh_c_new = (xp.empty(c.shape, dtype=c.dtype) for _ in range(3))
            _kernel("lstm_forward")(gates, c, hidden, h_new, c_new, tanh_c_new, act)
        self.saved = (act, c, tanh_c_new)
        return h_new, c_new

    def backward(self, grad_h_new: Any, grad_c_new: Any) -> tuple:
        if self.xp is backend.numpy:
            return self._backward_host(grad_h_new, grad_c_new)
        return self._backward_kernel(grad_h_new, grad_c_new)

    def _backward_host(self, grad_h_new: Any, grad_c_new: Any) -> tuple:
        xp = self.xp
        act, c, tanh_c_new = self.saved
        hidden = c.shape[-1]
        two, three = 2 * hidden, 3 * hidden
        in_gate, forget_gate = act[..., :hidden], act[..., hidden:two]
        cell_gate, out_gate = act[..., two:three], act[..., three:]
        grad_gates = xp.empty_like(act)
        grad_i, grad_f = grad_gates[..., :hidden], grad_gates[..., hidden:two]
        grad_g, grad_o = grad_gates[..., two:three], grad_gates[..., three:]

        # dL/dc' in total: directly, and through h' = o*tanh(c')
        if grad_h_new is None:
            grad_cell = grad_c_new             # only read below, never written
            grad_o.fill(0)
        else:
            grad_cell = _one_minus_square(xp, tanh_c_new)
            grad_cell *= out_gate
            grad_cell *= grad_h_new
            if grad_c_new is not None:
                grad_cell += grad_c_new
            xp.multiply(grad_h_new, tanh_c_new, out=grad_o)
            grad_o *= _sigmoid_slope(xp, out_gate)
        xp.multiply(grad_cell, cell_gate, out=grad_i)
        grad_i *= _sigmoid_slope(xp, in_gate)
        xp.multiply(grad_cell, c, out=grad_f)
        grad_f *= _sigmoid_slope(xp, forget_gate)
        xp.multiply(grad_cell, in_gate, out=grad_g)
        grad_g *= _one_minus_square(xp, cell_gate)
        grad_c = grad_cell * forget_gate if self.needs_grad[1] else None
        return (grad_gates if self.needs_grad[0] else None), grad_c

    def _backward_kernel(self, grad_h_new: Any, grad_c_new: Any) -> tuple:
        xp = self.xp
        act, c, tanh_c_new = self.saved
        with backend.on_device(backend.device_of(act)):
            if grad_h_new is None:
                grad_h_new = _zero(xp, c)
            if grad_c_new is None:
                grad_c_new = _zero(xp, c)
            grad_gates = xp.empty(act.shape, dtype=act.dtype)
            grad_c = xp.empty(c.shape, dtype=c.dtype)
            _kernel("lstm_backward")(act, c, tanh_c_new, grad_h_new, grad_c_new, c.shape[-1], grad_gates, grad_c)
        return (grad_gates if self.needs_grad[0] else None), (grad_c if self.needs_grad[1] else None)


# --- GRU ----------------------------------------------------------------------

class GRUGates(Function):
    """(gi (…, 3H), gh (…, 3H), h (…, H)) → h' (…, H) of one GRU step.

    gi = x W_ihᵀ + b_ih, gh = h W_hhᵀ + b_hh, order r, z, n:
    r = σ(gi_r + gh_r), z = σ(gi_z + gh_z), n = tanh(gi_n + r*gh_n),
    h' = (1-z)*n + z*h. Keeps r, z, n, gh and h.
    """

    name = "gru_gates"

    def forward(self, gi: Any, gh: Any, h: Any) -> Any:
        hidden = _check(self.name, "h", h, 3, gi=gi, gh=gh)
        if self.xp is backend.numpy:
            return self._forward_host(gi, gh, h, hidden)
        return self._forward_kernel(gi, gh, h, hidden)

    def _forward_host(self, gi: Any, gh: Any, h: Any, hidden: int) -> Any:
        xp = self.xp
        two = 2 * hidden
        act = xp.empty_like(gi)
        reset_update = act[..., :two]
        xp.add(gi[..., :two], gh[..., :two], out=reset_update)
        _sigmoid_into(xp, reset_update, reset_update)
        reset, update, candidate = act[..., :hidden], act[..., hidden:two], act[..., two:]
        xp.multiply(reset, gh[..., two:], out=candidate)
        candidate += gi[..., two:]
        xp.tanh(candidate, out=candidate)
        h_new = xp.subtract(1, update)
        h_new *= candidate
        h_new += update * h
        self.saved = (act, gh, h)
        return h_new

    def _forward_kernel(self, gi: Any, gh: Any, h: Any, hidden: int) -> Any:
        xp = self.xp
        with backend.on_device(backend.device_of(gi)):
            gi = xp.ascontiguousarray(gi)
            gh = xp.ascontiguousarray(gh)
            act = xp.empty(gi.shape, dtype=gi.dtype)
            h_new = xp.empty(h.shape, dtype=h.dtype)
            _kernel("gru_forward")(gi, gh, h, hidden, h_new, act)
        self.saved = (act, gh, h)
        return h_new

    def backward(self, grad_h_new: Any) -> tuple:
        if self.xp is backend.numpy:
            return self._backward_host(grad_h_new)
        return self._backward_kernel(grad_h_new)

    def _backward_host(self, grad_h_new: Any) -> tuple:
        xp = self.xp
        act, gh, h = self.saved
        hidden = h.shape[-1]
        two = 2 * hidden
        reset, update, candidate = act[..., :hidden], act[..., hidden:two], act[..., two:]
        grad_gi = xp.empty_like(act)
        grad_reset, grad_update, grad_candidate = grad_gi[..., :hidden], grad_gi[..., hidden:two], grad_gi[..., two:]
        # n: through h' = (1-z)*n + …, then tanh
        xp.subtract(1, update, out=grad_candidate)
        grad_candidate *= grad_h_new
        grad_candidate *= _one_minus_square(xp, candidate)
        # z: h' = n + z*(h - n), then sigmoid
        xp.subtract(h, candidate, out=grad_update)
        grad_update *= grad_h_new
        grad_update *= _sigmoid_slope(xp, update)
        # r: enters n's pre-activation as r*gh_n, then sigmoid
        xp.multiply(grad_candidate, gh[..., two:], out=grad_reset)
        grad_reset *= _sigmoid_slope(xp, reset)
        grad_gh = None
        if self.needs_grad[1]:
            grad_gh = xp.empty_like(grad_gi)
            grad_gh[..., :two] = grad_gi[..., :two]
            xp.multiply(grad_candidate, reset, out=grad_gh[..., two:])
        grad_h = grad_h_new * update if self.needs_grad[2] else None
        return (grad_gi if self.needs_grad[0] else None), grad_gh, grad_h

    def _backward_kernel(self, grad_h_new: Any) -> tuple:
        xp = self.xp
        act, gh, h = self.saved
        with backend.on_device(backend.device_of(act)):
            grad_gi = xp.empty(act.shape, dtype=act.dtype)
            grad_gh = xp.empty(act.shape, dtype=act.dtype)
            grad_h = xp.empty(h.shape, dtype=h.dtype)
            _kernel("gru_backward")(act, gh, h, grad_h_new, h.shape[-1], grad_gi, grad_gh, grad_h)
        needs = self.needs_grad
        return (grad_gi if needs[0] else None), (grad_gh if needs[1] else None), (grad_h if needs[2] else None)


# --- public functions ---------------------------------------------------------

def lstm_gates(gates: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """One LSTM state update as a single node named ``lstm_gates``.

    ``gates``: (…, 4H) pre-activations x W_ihᵀ + b_ih + h W_hhᵀ + b_hh in the
    order i, f, g, o; ``c``: (…, H) previous cell. Returns ``(h', c')``, each
    (…, H): c' = σ(f)*c + σ(i)*tanh(g), h' = σ(o)*tanh(c').
    """
    h_new, c_new = LSTMGates()(gates, c)
    return h_new, c_new


def gru_gates(gi: Tensor, gh: Tensor, h: Tensor) -> Tensor:
    """One GRU state update as a single node named ``gru_gates``.

    ``gi``: (…, 3H) = x W_ihᵀ + b_ih, ``gh``: (…, 3H) = h W_hhᵀ + b_hh (order
    r, z, n), ``h``: (…, H) previous state. Returns h' (…, H):
    r = σ(gi_r+gh_r), z = σ(gi_z+gh_z), n = tanh(gi_n + r*gh_n), h' = (1-z)*n + z*h.
    """
    return GRUGates()(gi, gh, h)
