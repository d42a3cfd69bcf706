"""Round 18: complex-valued models and training, fuzzed against torch 2.13 in complex128 and complex64.

Each test is one root cause the differential fuzzer found (modules, activations, losses, optimizers, clip_grad,
nn.init, save/load, mg.compile, higher-order grads and gradcheck on complex parameters and data); the values and
gradients (PyTorch's convention: ``z.grad`` is dL/dz* for a real loss) are compared with live torch.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")


def _complex(rng: np.random.Generator, *shape: int, dtype: Any = np.complex128) -> np.ndarray:
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


def _close(ours: Any, theirs: Any, what: str, tol: float = 1e-10) -> None:
    a = ours.detach().numpy() if isinstance(ours, mg.Tensor) else np.asarray(ours)
    e = theirs.detach().resolve_conj().numpy()
    assert a.shape == e.shape and a.dtype == e.dtype, f"{what}: {a.shape} {a.dtype} != {e.shape} {e.dtype}"
    np.testing.assert_allclose(a, e, rtol=tol, atol=tol, err_msg=what)


LOSSES: dict[str, Callable[[Any, Any], Any]] = {   # real losses of a complex output y (lib: torch or mg)
    "abs2": lambda lib, y: (y.abs() ** 2).sum(),
    "mul_conj": lambda lib, y: (y * y.conj()).real.sum(),
    "view_as_real": lambda lib, y: lib.view_as_real(y).pow(2).sum(),
    "parts": lambda lib, y: y.real.sum() + 2 * y.imag.sum(),
    "matmul_mH": lambda lib, y: (y @ y.mH).real.sum(),
    "fft": lambda lib, y: lib.fft.fft(y).abs().sum(),
    "mean_abs": lambda lib, y: lib.sigmoid(y).mean().abs(),
}


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_compiled_complex_step_has_torchs_gradient(loss: str) -> None:
    # a mg.compile'd call with complex inputs requiring grad raised "compiled has no complex gradient yet" in
    # backward-building (the replay node had no complex_grad mark); eager and torch give the gradient
    rng = np.random.default_rng(0)
    w0, x0 = _complex(rng, 3, 4), _complex(rng, 5, 3)

    def step(lib: Any, w: Any, x: Any) -> Any:
        return LOSSES[loss](lib, lib.tanh(x @ w))

    tw = torch.tensor(w0, requires_grad=True)
    step(torch, tw, torch.tensor(x0)).backward()
    compiled = mg.compile(lambda w, x: step(mg, w, x))
    mw = mg.tensor(w0, requires_grad=True)
    for _ in range(3):   # the first call captures, the next ones replay
        mw.grad = None
        compiled(mw, mg.tensor(x0)).backward()
    _close(mw.grad, tw.grad, loss)


def test_compiled_complex_output_and_real_weight_as_torch() -> None:
    # a complex output's backward with a gradient, and a real weight feeding a complex output (its grad is real)
    rng = np.random.default_rng(1)
    w0, x0, g0 = rng.standard_normal((3, 4)), _complex(rng, 5, 3), _complex(rng, 5, 4)
    tw = torch.tensor(w0, requires_grad=True)
    torch.exp(torch.tensor(x0) @ tw.to(torch.complex128)).backward(torch.tensor(g0))
    compiled = mg.compile(lambda w, x: mg.exp(x @ w.to(mg.complex128)))
    mw = mg.tensor(w0, requires_grad=True)
    for _ in range(2):
        mw.grad = None
        compiled(mw, mg.tensor(x0)).backward(mg.tensor(g0))
    _close(mw.grad, tw.grad, "real weight")


RECURRENT = [  # (class name, args, kwargs, input shape)
    ("RNNCell", (3, 4), {}, (2, 3)),
    ("LSTMCell", (3, 4), {}, (2, 3)),
    ("GRUCell", (3, 4), {}, (3,)),
    ("RNN", (3, 4), dict(batch_first=True, bias=False), (2, 5, 3)),
    ("LSTM", (3, 4), dict(num_layers=2, bidirectional=True), (5, 2, 3)),
    ("LSTM", (3, 4), dict(proj_size=2), (5, 3)),
    ("GRU", (3, 4), dict(num_layers=2), (5, 2, 3)),
]


def _leaves(out: Any) -> list:
    return [t for o in out for t in _leaves(o)] if isinstance(out, tuple) else [out]


@pytest.mark.parametrize("name, args, kwargs, shape", RECURRENT)
def test_complex_recurrent_layers_and_cells_as_torch(name: str, args: tuple, kwargs: dict, shape: tuple) -> None:
    # a complex input to a layer built with dtype=complex raised "input must be a floating-point tensor"; PyTorch
    # computes (complex tanh and sigmoid gates), so outputs, states and every gradient are its
    rng = np.random.default_rng(2)
    theirs = getattr(torch.nn, name)(*args, **kwargs, dtype=torch.complex128)
    ours = getattr(nn, name)(*args, **kwargs, dtype=mg.complex128)
    ours.load_state_dict({k: mg.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    x = _complex(rng, *shape)
    tx, mx = torch.tensor(x, requires_grad=True), mg.tensor(x, requires_grad=True)
    touts, mouts = _leaves(theirs(tx)), _leaves(ours(mx))
    sum((y.abs() ** 2).sum() for y in touts).backward()
    sum((y.abs() ** 2).sum() for y in mouts).backward()
    for i, (m, t) in enumerate(zip(mouts, touts)):
        _close(m, t, f"{name} output {i}")
    _close(mx.grad, tx.grad, f"{name} input grad")
    for (key, mp), tp in zip(ours.named_parameters(), theirs.parameters()):
        _close(mp.grad, tp.grad, f"{name}.{key} grad")


def test_complex_recurrent_refusals_as_torch() -> None:
    # a real input or state for a complex layer is refused, as PyTorch's (it does not promote)
    lstm = nn.LSTM(3, 4, dtype=mg.complex64)
    with pytest.raises(ValueError, match="does not match weight dtype"):
        lstm(mg.zeros((5, 2, 3)))
    cell = nn.RNNCell(3, 4, dtype=mg.complex128)
    with pytest.raises(RuntimeError):
        cell(mg.zeros((2, 3), dtype=mg.complex128), mg.zeros((2, 4), dtype=mg.float64))
    with pytest.raises(NotImplementedError):   # relu has no complex kernel in PyTorch either
        nn.RNNCell(3, 4, nonlinearity="relu", dtype=mg.complex128)(mg.ones((2, 3), dtype=mg.complex128))


@pytest.mark.parametrize("weight", [None, "complex", "real"])
def test_complex_rms_norm_as_torch(weight: str | None) -> None:
    # F.rms_norm refused a complex input (ComplexInputError); PyTorch computes x · rsqrt(mean(x·x) + eps) with its
    # complex ops (a real weight multiplies, a complex one too), so values and gradients are its
    rng = np.random.default_rng(3)
    x = _complex(rng, 2, 3, 4)
    w = {None: None, "complex": _complex(rng, 4), "real": rng.standard_normal(4)}[weight]
    outs = []
    for lib in (torch, mg):
        args = [lib.tensor(v, requires_grad=True) for v in (x, w) if v is not None]
        y = lib.nn.functional.rms_norm(args[0], (4,), *args[1:], eps=1e-3)
        (y * y.conj()).real.sum().backward()
        outs.append([y] + [a.grad for a in args])
    for i, (t, m) in enumerate(zip(*outs)):
        _close(m, t, f"rms_norm {weight} {i}")
    theirs, ours = torch.nn.RMSNorm(4, dtype=torch.complex64), nn.RMSNorm(4, dtype=mg.complex64)
    _close(ours(mg.tensor(x.astype(np.complex64))), theirs(torch.tensor(x.astype(np.complex64))), "RMSNorm", 1e-6)


JVP_FUNCTIONS: dict[str, Callable[[Any, Any, Any], Any]] = {
    "real_of_complex": lambda lib, a, b: (a.abs() ** 2 * b).sum(),
    "holomorphic": lambda lib, a, b: lib.exp(a) * 2 + b,
    "conjugate": lambda lib, a, b: a.conj() * lib.sin(a) + b,
    "angle": lambda lib, a, b: (a + b).angle(),
    "real_to_complex": lambda lib, a, b: lib.exp(b * (1 + 2j)) + a,
    "tuple": lambda lib, a, b: (a * b, a.conj() * b.sum(), (a * a).real),
}


@pytest.mark.parametrize("name", sorted(JVP_FUNCTIONS))
@pytest.mark.parametrize("strict", [False, True])
def test_functional_jvp_of_complex_functions_as_torch(name: str, strict: bool) -> None:
    # autograd.functional.jvp multiplied the rows of PyTorch's (conjugate) gradient by v for complex inputs or
    # outputs: for |z|² it gave Σ conj-gradient · v, not the directional derivative Re(conj(2z)·v) torch's
    # double-backward trick gives (and torch.func.jvp, and a finite difference)
    rng = np.random.default_rng(5)
    a, b, va, vb = _complex(rng, 3), rng.standard_normal(3), _complex(rng, 3), rng.standard_normal(3)
    results = []
    fn = JVP_FUNCTIONS[name]
    for lib in (torch, mg):
        results.append(lib.autograd.functional.jvp(lambda x, y, lib=lib: fn(lib, x, y), (lib.tensor(a), lib.tensor(b)),
                                                   (lib.tensor(va), lib.tensor(vb)), strict=strict)[1])
    theirs, ours = (r if isinstance(r, tuple) else (r,) for r in results)
    for i, (m, t) in enumerate(zip(ours, theirs)):
        _close(m, t, f"{name} jvp {i}")


@pytest.mark.parametrize("call", ["jacobian_holomorphic", "jacobian_real_to_complex", "jacobian_graph",
                                  "hessian_of_complex_input"])
def test_functional_jacobian_of_a_complex_output_raises_as_torch(call: str) -> None:
    # autograd.functional.jacobian of a complex output returned the rows of the conjugate-convention gradient
    # (conj(f'(z)) for a holomorphic f), and hessian of a complex input their Jacobian; PyTorch refuses both
    rng = np.random.default_rng(6)
    z, x = _complex(rng, 3), rng.standard_normal(3)

    def run(lib: Any) -> Any:
        functional = lib.autograd.functional
        if call == "jacobian_holomorphic":
            return functional.jacobian(lambda v: lib.exp(v), lib.tensor(z))
        if call == "jacobian_real_to_complex":
            return functional.jacobian(lambda v: lib.exp(v * 1j), lib.tensor(x))
        if call == "jacobian_graph":
            return functional.jacobian(lambda v: v * v, lib.tensor(z), create_graph=True)
        return functional.hessian(lambda v: (v.abs() ** 2).sum(), lib.tensor(z))

    for lib in (torch, mg):
        with pytest.raises(RuntimeError, match="real scalar outputs"):
            run(lib)
    # a real output of complex inputs keeps its Jacobian (the conjugate-convention gradient rows), as torch's
    _close(mg.autograd.functional.jacobian(lambda v: v.abs() ** 2, mg.tensor(z)),
           torch.autograd.functional.jacobian(lambda v: v.abs() ** 2, torch.tensor(z)), "real output")


@pytest.mark.parametrize("grid_dtype", ["complex128", "float64"])
def test_complex_grid_sample_raises_not_implemented_as_torch(grid_dtype: str) -> None:
    # a complex input raised GridDtypeError (a TypeError and RuntimeError), not PyTorch's NotImplementedError
    x = _complex(np.random.default_rng(7), 1, 1, 2, 2)
    grid = np.zeros((1, 2, 2, 2), dtype=grid_dtype)
    for lib in (torch, mg):
        with pytest.raises(NotImplementedError):
            lib.nn.functional.grid_sample(lib.tensor(x), lib.tensor(grid), align_corners=False)


COMPLEX_LOSSES: dict[str, tuple[Callable[..., Any], tuple[str, ...]]] = {   # (call, operand kinds: c/r/v)
    "triplet_margin_loss": (lambda F, a, p, n: F.triplet_margin_loss(a, p, n, swap=True), ("c", "c", "c")),
    "triplet_margin_loss_p1_mixed": (lambda F, a, p, n: F.triplet_margin_loss(a, p, n, p=1), ("c", "r", "c")),
    "gaussian_nll_loss": (lambda F, x, t, v: F.gaussian_nll_loss(x, t, v, full=True), ("c", "c", "v")),
    "gaussian_nll_loss_complex_target": (lambda F, x, t, v: F.gaussian_nll_loss(x, t, v), ("r", "c", "v")),
    "poisson_nll_loss": (lambda F, x, t: F.poisson_nll_loss(x, t), ("c", "c")),
    "poisson_nll_loss_rate": (lambda F, x, t: F.poisson_nll_loss(x, t, log_input=False), ("c", "v")),
    "poisson_nll_loss_complex_target": (lambda F, x, t: F.poisson_nll_loss(x, t), ("r", "c")),
    "multilabel_soft_margin_complex_target": (lambda F, x, t: F.multilabel_soft_margin_loss(x, t), ("r", "c")),
}


@pytest.mark.parametrize("name", sorted(COMPLEX_LOSSES))
def test_losses_written_from_ops_take_complex_values_as_torch(name: str) -> None:
    # triplet_margin_loss, gaussian_nll_loss and poisson_nll_loss refused a complex input (ComplexInputError), and
    # a complex target of a real input was cast to the input's dtype, its imaginary part lost (a float64 loss
    # where PyTorch's ops give a complex128 one); PyTorch computes all of them with its ops
    rng = np.random.default_rng(8)
    call, kinds = COMPLEX_LOSSES[name]
    values = [{"c": _complex(rng, 3, 4), "r": rng.standard_normal((3, 4)),
               "v": np.abs(rng.standard_normal((3, 4))) + 0.5}[kind] for kind in kinds]
    outs = []
    for lib in (torch, mg):
        args = [lib.tensor(v, requires_grad=True) for v in values]
        loss = call(lib.nn.functional, *args)
        (loss.abs() ** 2 if loss.is_complex() else loss).backward()
        outs.append([loss] + [a.grad for a in args])
    for i, (t, m) in enumerate(zip(*outs)):
        _close(m, t, f"{name} {i}")


def test_complex_variance_and_margin_target_raise_as_torch() -> None:
    # a complex variance (no order) and a complex margin_ranking target (clamp) raise NotImplementedError, as torch's
    rng = np.random.default_rng(9)
    x, t, z = rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), _complex(rng, 3, 4)
    for lib in (torch, mg):
        F = lib.nn.functional
        with pytest.raises(NotImplementedError):
            F.gaussian_nll_loss(lib.tensor(x), lib.tensor(t), lib.tensor(z))
        with pytest.raises(NotImplementedError):
            F.margin_ranking_loss(lib.tensor(x[0]), lib.tensor(t[0]), lib.tensor(z[0]))


@pytest.mark.parametrize("name, error", [("mse_loss", NotImplementedError), ("smooth_l1_loss", NotImplementedError),
                                         ("huber_loss", RuntimeError), ("soft_margin_loss", RuntimeError)])
def test_complex_target_of_a_real_kernel_loss_raises_as_torch(name: str, error: type) -> None:
    # a real input with a complex target: huber_loss gave 0.0 and soft_margin_loss a float64 loss (the target cast
    # to the input's dtype, its imaginary part dropped), mse_loss and smooth_l1_loss a complex loss; PyTorch's
    # kernels refuse (no complex kernel, or a complex result that can't be cast to the input's dtype)
    x, t = np.ones(3), np.ones(3) * (1 + 1j)
    for lib in (torch, mg):
        with pytest.raises(error):
            getattr(lib.nn.functional, name)(lib.tensor(x), lib.tensor(t))


@pytest.mark.parametrize("name", ["dropout", "dropout2d", "dropout3d", "Dropout"])
def test_complex_dropout_in_training_raises_as_torch(name: str) -> None:
    # a complex input in training computed a masked copy; PyTorch draws its mask with bernoulli_ in the input's
    # dtype and refuses (NotImplementedError); p=0, p=1 and eval mode still pass the input through, as its
    x = _complex(np.random.default_rng(10), 2, 3, 4, 4)
    for lib in (torch, mg):
        run = (lambda v, p, training, lib=lib: lib.nn.Dropout(p).train(training)(v)) if name == "Dropout" else \
            (lambda v, p, training, lib=lib: getattr(lib.nn.functional, name)(v, p, training=training))
        with pytest.raises(NotImplementedError):
            run(lib.tensor(x), 0.5, True)
        for p, training in ((0.5, False), (0.0, True), (1.0, True)):
            out = run(lib.tensor(x), p, training)
            np.testing.assert_array_equal(np.asarray(out.numpy()), x * (p != 1.0 or not training))


@pytest.mark.gpu
def test_complex_lstm_and_compiled_step_on_cuda_as_on_the_host() -> None:
    # the two paths opened above (complex recurrent layers, compiled complex gradients) on the device backend
    rng = np.random.default_rng(11)
    x, w0 = _complex(rng, 4, 2, 3), _complex(rng, 3, 3)
    results = []
    for device in ("cpu", "cuda"):
        mg.manual_seed(0)
        lstm = nn.LSTM(3, 2, dtype=mg.complex128).to(device)
        if not results:
            weights = {k: v.detach().numpy() for k, v in lstm.state_dict().items()}
        lstm.load_state_dict({k: mg.tensor(v, device=device) for k, v in weights.items()})
        out, _ = lstm(mg.tensor(x, device=device))
        w = mg.tensor(w0, requires_grad=True, device=device)
        step = mg.compile(lambda v, w: (mg.tanh(v @ w).abs() ** 2).sum())
        for _ in range(2):
            w.grad = None
            step(mg.tensor(x, device=device), w).backward()
        results.append((out.detach().cpu().numpy(), w.grad.cpu().numpy()))
    for host, device in zip(*results):
        np.testing.assert_allclose(device, host, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dim", [0, 1, None])
@pytest.mark.parametrize("api", ["parametrizations", "legacy"])
def test_complex_weight_norm_as_torch(api: str, dim: int | None) -> None:
    # weight_norm of a complex weight computed along dim 0 or the last dim, where PyTorch's fused kernel (which
    # has no complex dtype) raises NotImplementedError; dim=None (the whole tensor) computes in both
    rng = np.random.default_rng(12)
    theirs = torch.nn.Linear(3, 4, dtype=torch.complex128)
    ours = nn.Linear(3, 4, dtype=mg.complex128)
    ours.load_state_dict({k: mg.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    x = _complex(rng, 2, 3)
    wrap = {"parametrizations": lambda lib: lib.nn.utils.parametrizations.weight_norm,
            "legacy": lambda lib: lib.nn.utils.weight_norm}[api]
    if dim is not None:
        for lib, module in ((torch, theirs), (mg, ours)):
            with pytest.raises(NotImplementedError):
                wrap(lib)(module, dim=dim)(lib.tensor(x))
        return
    outs = []
    for lib, module in ((torch, theirs), (mg, ours)):
        wrapped = wrap(lib)(module, dim=None)
        y = wrapped(lib.tensor(x))
        (y.abs() ** 2).sum().backward()
        outs.append([y] + [p.grad for p in wrapped.parameters()])
    for i, (t, m) in enumerate(zip(*outs)):
        _close(m, t, f"weight_norm {i}")
