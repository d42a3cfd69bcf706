"""This session's new ops and rules run on ``cuda`` (a real GPU, or the strict CuPy stand-in of tests/conftest.py)
and give the CPU's values: complex convolutions and embeddings, create_graph through complex FFT/linalg, the LU
family, det's cofactor rule and eig, forward AD under no_grad and jacfwd, the complex elementwise fixes, complex
ordering refusals, factory keywords, version counters, compile's in-place capture, padded recurrent layers,
special functions, distributions, samplers and a Tensor lr.

Each program takes the device and returns a list of Tensors (values and gradients); it runs on ``cpu`` and on
``cuda``, and the ``cuda`` run's Tensors must live there and equal the ``cpu`` run's.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import minigrad.autograd.forward_ad as fwAD
from minigrad import func
from tests.helpers import device_tolerance

pytestmark = pytest.mark.gpu

RNG = np.random.default_rng(1313)
A = RNG.standard_normal((3, 3))
B = RNG.standard_normal((3, 3))
V = RNG.standard_normal(4)


def _nn() -> Any:
    import nn  # noqa: PLC0415 - nn sits above minigrad

    return nn


def _host(item: Any) -> Any:
    return item.detach().numpy() if isinstance(item, mg.Tensor) else np.asarray(item)


def _host_copies() -> int:
    """Device-to-host copies so far (the stand-in counts them; a real GPU: 0)."""
    from minigrad import backend  # noqa: PLC0415

    copies = getattr(backend._cupy, "copies", None)
    return 0 if copies is None else copies["to_host"]


def _both(program: Callable[[str], list], rtol: float = 1e-10, atol: float = 1e-12,
          host_copies: int | None = 0) -> None:
    """``program(device)`` on cpu and cuda: the cuda Tensors are on cuda and equal the cpu ones, and the cuda run
    read at most ``host_copies`` arrays back to the host (None: not counted)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        cpu = program("cpu")
        before = _host_copies()
        gpu = program("cuda")
        copied = _host_copies() - before
    assert host_copies is None or copied <= host_copies, f"{copied} device-to-host copies"
    assert len(cpu) == len(gpu)
    for k, item in enumerate(gpu):
        if isinstance(item, mg.Tensor):
            assert item.device.type == "cuda", f"item {k} on {item.device}"
    cpu_arrays, gpu_arrays = [_host(c) for c in cpu], [_host(g) for g in gpu]
    rtol, atol = device_tolerance(rtol, atol, cpu_arrays)
    for k, (a, b) in enumerate(zip(gpu_arrays, cpu_arrays)):
        assert a.dtype == b.dtype and a.shape == b.shape, f"item {k}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"item {k}")


def _t(array: Any, device: str, requires_grad: bool = False) -> mg.Tensor:
    return mg.tensor(array, device=device, requires_grad=requires_grad)


def _grads(loss: mg.Tensor, inputs: list, create_graph: bool = False) -> list:
    return list(mg.autograd.grad(loss, inputs, create_graph=create_graph))


def _second(loss: mg.Tensor, x: mg.Tensor, v: np.ndarray) -> list:
    """The first gradient (with create_graph) and a Hessian-vector product."""
    g, = _grads(loss, [x], create_graph=True)
    s = (g * mg.tensor(v, device=x.device)).sum()
    hv, = _grads(mg.real(s) if s.dtype.kind == "c" else s, [x])
    return [g, hv]


def _abs2(y: mg.Tensor) -> mg.Tensor:
    """A real loss with a second derivative of its own (complex y: through its real and imaginary parts)."""
    if y.dtype.kind != "c":
        return (y ** 2 + y ** 3).sum()
    return (mg.real(y) ** 2 + mg.imag(y) ** 3).sum()


# --- complex layers -------------------------------------------------------------------------------------------------

def test_complex_convolutions_fold_and_embeddings() -> None:
    x = RNG.standard_normal((2, 2, 5, 5)) + 1j * RNG.standard_normal((2, 2, 5, 5))
    w = RNG.standard_normal((3, 2, 3, 3)) + 1j * RNG.standard_normal((3, 2, 3, 3))
    x1 = RNG.standard_normal((2, 2, 7)) + 1j * RNG.standard_normal((2, 2, 7))

    def program(device: str) -> list:
        F = _nn().functional
        xt, wt = _t(x, device, True), _t(w, device, True)
        y = F.conv2d(xt, wt, padding=1)
        yt = F.conv_transpose2d(xt, wt.transpose(0, 1).conj(), stride=2)
        cols = F.unfold(xt, 2)
        back = F.fold(cols, (5, 5), 2)
        c1 = F.conv1d(_t(x1, device), wt[:, :, 0], padding=1)
        loss = _abs2(y) + _abs2(yt) + _abs2(back)
        emb = _nn().Embedding(4, 3, dtype=mg.complex128, device=device)
        bag = _nn().EmbeddingBag(4, 3, mode="sum", dtype=mg.complex128, device=device)
        with mg.no_grad():
            emb.weight.copy_(_t(w.reshape(-1)[:12].reshape(4, 3), device))
            bag.weight.copy_(_t(w.reshape(-1)[6:18].reshape(4, 3), device))
        idx = _t(np.array([[0, 3], [2, 2]]), device)
        with mg.no_grad():   # complex lookups compute (torch: no complex embedding gradient)
            looked_up = emb(idx)
        with pytest.raises(TypeError, match="floating point"):   # embedding_bag refuses it at forward, as torch
            bag(idx)
        return [y, yt, back, c1, *_grads(loss, [xt, wt]), looked_up, bag.weight]

    _both(program, host_copies=2)   # embedding's index range check reads its min and max (one read per lookup)


def test_complex_nn_functions() -> None:
    z = RNG.standard_normal((3, 4)) + 1j * RNG.standard_normal((3, 4))

    def program(device: str) -> list:
        F = _nn().functional
        zt = _t(z, device, True)
        outs = [F.tanhshrink(zt), F.softsign(zt), F.pairwise_distance(zt, zt.flip(0)), F.silu(zt.detach())]
        bil = _nn().Bilinear(4, 4, 2, dtype=mg.complex128, device=device)
        with mg.no_grad():
            bil.weight.copy_(_t(np.resize(z, (2, 4, 4)), device))
            bil.bias.copy_(_t(z[0, :2], device))
        outs.append(bil(zt, zt))
        loss = sum(_abs2(o) for o in outs[:3]) + _abs2(outs[4])
        return [*outs, *_grads(loss, [zt])]

    _both(program)


# --- create_graph rules ---------------------------------------------------------------------------------------------

def test_create_graph_through_complex_fft_and_linalg() -> None:
    z = A + 1j * B
    v = B - 1j * A

    def program(device: str) -> list:
        out = []
        for f in (lambda x: mg.fft.fft(x, dim=-1), lambda x: mg.fft.irfft(x, n=4),
                  lambda x: mg.linalg.inv(x), lambda x: mg.linalg.det(x).reshape(1),
                  lambda x: mg.linalg.solve(x, x.mT.conj()), lambda x: mg.linalg.matrix_exp(x),
                  lambda x: mg.abs(x) * mg.angle(x)):
            x = _t(z, device, True)
            out += _second(_abs2(f(x)), x, v)
        x = _t(A, device, True)
        out += _second(_abs2(mg.fft.rfft(x)), x, B)
        return out

    _both(program, rtol=1e-9, atol=1e-10, host_copies=None)   # solve/inv read LAPACK's info, as torch's checks


def test_create_graph_through_lu_family_eig_and_singular_det() -> None:
    sq = RNG.standard_normal((4, 4))
    wide = RNG.standard_normal((3, 5))
    singular = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.5, -1.0, 2.0]])   # rank 2

    def program(device: str) -> list:
        la = mg.linalg
        cases = [(lambda x: la.lu_factor(x)[0], sq), (lambda x: mg.cat([p.reshape(-1) for p in la.lu(x)[1:]]), wide),
                 (lambda x: la.lu_solve(*la.lu_factor(x[:, :3]), x[:, 3:]), wide),
                 (lambda x: mg.cat([p.reshape(-1) for p in mg.lu_unpack(*la.lu_factor(x))[1:]]), sq),
                 (lambda x: la.lu_factor(x)[0], sq + 1j * sq.T),
                 (lambda x: la.det(x).reshape(1), singular), (lambda x: la.det(x).reshape(1), np.zeros((2, 2))),
                 (lambda x: la.eigvals(x), sq), (lambda x: la.eig(x)[0], sq + 1j * sq.T)]
        out = []
        for f, a in cases:
            x = _t(a, device, True)
            y = f(x)
            loss = _abs2(y) if y.dtype.kind == "c" else (y ** 2 + y ** 3).sum()
            out += _second(loss, x, np.ones_like(a))
        return out

    _both(program, rtol=1e-8, atol=1e-9, host_copies=None)   # pivots and info checks, det's singularity test


# --- forward AD and jacfwd ------------------------------------------------------------------------------------------

def test_forward_ad_under_no_grad_and_complex_duals() -> None:
    def program(device: str) -> list:
        out = []
        for primal, tangent in ((V, V[::-1].copy()), (V + 1j * V[::-1], V - 2j)):
            with fwAD.dual_level():
                d = fwAD.make_dual(_t(primal, device), _t(tangent, device))
                with mg.no_grad():
                    y = d.sin() * d.exp()
                    s = y.cumsum(0)
                z = (s * d).sum() + mg.abs(d).sum()
                out += [fwAD.unpack_dual(t).tangent for t in (y, s, z)]
        return out

    _both(program)
    torch = pytest.importorskip("torch", reason="no torch")   # the complex tangents through no_grad are torch's
    fw = torch.autograd.forward_ad
    with fw.dual_level():
        d = fw.make_dual(torch.tensor(V + 1j * V[::-1]), torch.tensor(V - 2j))
        with torch.no_grad():
            s = (d.sin() * d.exp()).cumsum(0)
        expected = fw.unpack_dual((s * d).sum() + d.abs().sum()).tangent.numpy()
    np.testing.assert_allclose(program("cpu")[-1].numpy(), expected, rtol=1e-12)


def test_jacfwd_hessian_and_jvp_through_no_grad() -> None:
    w = RNG.standard_normal((2, 4))

    def program(device: str) -> list:
        wt = _t(w, device)

        def f(a: mg.Tensor) -> mg.Tensor:
            with mg.no_grad():
                c = a ** 2
            return (a.sin() * c) @ wt.T + a.sum()

        x = _t(V, device)
        return [func.jacfwd(f)(x), func.hessian(lambda a: f(a).sum())(x),
                *func.jvp(f, (x,), (_t(np.ones(4), device),))]

    _both(program)


# --- complex elementwise and products -------------------------------------------------------------------------------

def test_complex_logaddexp_logcumsumexp_dist_log1p_vecdot() -> None:
    a = RNG.standard_normal((3, 4)) + 1j * RNG.standard_normal((3, 4))
    b = RNG.standard_normal((3, 4)) + 1j * RNG.standard_normal((3, 4))
    small = np.array([1e-10 + 1e-12j, -3e-9 + 2e-20j, 0.5 - 0.25j])

    def program(device: str) -> list:
        x, y = _t(a, device, True), _t(b, device, True)
        outs = [mg.logaddexp(x, y), mg.logcumsumexp(x, dim=1), mg.dist(x, y).reshape(1), mg.log1p(x),
                mg.linalg.vecdot(x, y), mg.vdot(x[0], y[1]).reshape(1), mg.log1p(_t(small, device))]
        loss = sum(_abs2(o) for o in outs[:6])
        ties = mg.logaddexp(_t(np.array([complex(-np.inf, 0), 1 + 1j]), device),
                            _t(np.array([complex(-np.inf, 0), 1 + 1j]), device))
        return [*outs, *_grads(loss, [x, y]), ties]

    _both(program)


def test_complex_ordering_refusals_on_cuda() -> None:
    z = mg.tensor([1 + 2j, -1 + 0j], device="cuda")
    for op in (lambda t: t > 0, lambda t: mg.clamp(t, 0, 1), lambda t: mg.maximum(t, t), lambda t: t.max(),
               lambda t: mg.sort(t), lambda t: mg.sign(t), lambda t: mg.unique(t), lambda t: mg.topk(t, 1)):
        with pytest.raises((TypeError, RuntimeError, NotImplementedError)):
            op(z)
    assert mg.relu(mg.tensor([-1.0, 2.0], device="cuda")).device.type == "cuda"


# --- factories, version counters, compile ---------------------------------------------------------------------------

def test_factory_out_layout_and_pin_memory() -> None:
    def program(device: str) -> list:
        out = mg.empty(5, device=device)
        mg.arange(5, out=out)
        lin = mg.empty(4, device=device)
        mg.linspace(0, 1, 4, out=lin)
        normal = mg.empty(3, device=device)
        mg.normal(_t(np.zeros(3), device), 1.0, out=normal)
        z = mg.zeros(2, 3, layout=mg.strided, device=device, requires_grad=True)
        assert normal.shape == (3,) and normal.device.type == device
        return [out, lin, z, mg.ones(2, layout=mg.strided, device=device)]

    _both(program)


def test_version_counter_checks_on_cuda() -> None:
    for inplace in (lambda t: t.relu_(), lambda t: t.exp_(), lambda t: t.sigmoid_()):
        x = mg.tensor(V, device="cuda", requires_grad=True)
        y = x * 1.0
        inplace(y)
        with mg.no_grad():
            y.add_(1.0)
        with pytest.raises(RuntimeError):
            y.sum().backward()

    def program(device: str) -> list:
        x = _t(V, device, True)
        y = (x * 2.0).relu_()
        z = (x * 3.0)
        _nn().functional.leaky_relu(z, 0.1, inplace=True)
        loss = (y ** 2).sum() + (z ** 3).sum()
        return _second(loss, x, V)

    _both(program)


def test_compile_captures_inplace_batchnorm_on_cuda() -> None:
    x = RNG.standard_normal((4, 3)).astype(np.float32)

    def program(device: str) -> list:
        nn = _nn()
        bn = nn.BatchNorm1d(3, device=device)
        step = mg.compile(lambda t: nn.functional.relu(bn(t), inplace=True))
        outs = [step(_t(x * k, device)) for k in (1.0, 2.0, 3.0)]
        return [*outs, bn.running_mean, bn.running_var]

    _both(program, rtol=1e-6, atol=1e-6)


# --- recurrent layers with lengths= ---------------------------------------------------------------------------------

def test_recurrent_lengths_zero_the_padding_on_cuda() -> None:
    x = RNG.standard_normal((3, 4, 2))
    x[1, 3:] = np.nan
    x[2, 2:] = np.inf

    def program(device: str) -> list:
        nn = _nn()
        mg.manual_seed(0)
        out = []
        for cls in (nn.LSTM, nn.GRU, nn.RNN):
            layer = cls(2, 3, batch_first=True, dtype=mg.float64).to(device)
            xt = _t(x, device, True)
            y, _ = layer(xt, lengths=[4, 3, 2])
            y.sum().backward()
            grads = [p.grad for p in layer.parameters()]
            if device == "cpu":   # (the cuda run equals it)
                assert all(np.isfinite(g.numpy()).all() for g in grads), f"{cls.__name__}: padding reached a grad"
            out += [y, xt.grad, *grads]
        return out

    _both(program)


# --- special functions, distributions -------------------------------------------------------------------------------

def test_special_functions_at_extremes() -> None:
    neg_sub = np.array([-5e-320, -1.5, 0.75, 2.5])
    big = np.array([1e300, 3.0, 0.5])

    def program(device: str) -> list:
        s = mg.special
        x = _t(neg_sub, device)
        b = _t(big, device)
        tiny = _t(np.array([5e-320, 40.0, -60.0, 0.3]), device, True)
        i = s.i0e(tiny) + s.i1e(tiny)
        grad, = _grads(i.sum(), [tiny])
        return [mg.lgamma(x), s.polygamma(1, b), s.polygamma(2, x[1:]), i, grad,
                s.gammaincc(_t(np.array([1e-20, 30.0]), device), _t(np.array([1.0, 1e-5]), device)),
                s.gammainc(_t(np.array([30.0]), device), _t(np.array([1e-5]), device)),
                s.zeta(_t(np.array([1200.0, 2.0]), device), _t(np.array([1.0, 2.0]), device)),
                s.multigammaln(_t(np.array([0.5, 3.0]), device), 2)]

    _both(program, host_copies=None)   # series lengths and branches read from the data (one read each)


def test_distributions_at_the_edges() -> None:
    def program(device: str) -> list:
        D = mg.distributions
        logits = _t(np.array([-np.inf, 0.3, np.inf]), device)
        nb = D.NegativeBinomial(total_count=_t(np.array([2.0, 3.0, 4.0]), device),
                                logits=_t(np.array([-np.inf, 0.3, 1.0]), device))
        bern = D.Bernoulli(logits=logits)
        count = _t(np.array([3.0, 4.0]), device, True)
        binom = D.Binomial(total_count=count, probs=_t(np.array([0.5, 0.3]), device))
        transform = D.transforms.SoftplusTransform()
        pts = _t(np.array([np.inf, 0.0, 1.0]), device)
        return [nb.log_prob(_t(np.array([0.0, 2.0, 1.0]), device)), nb.mean,
                bern.log_prob(_t(np.array([0.0, 1.0, 0.0]), device)), binom.mode,
                transform.log_abs_det_jacobian(pts, transform(pts)), transform.inv(_t(np.array([0.0, 1.0]), device))]

    _both(program, host_copies=None)   # validate_args reads the support checks, as torch's


# --- data samplers, optimizers with a Tensor lr ---------------------------------------------------------------------

def test_samplers_read_the_generator_and_collate_cuda_tensors() -> None:
    from minigrad.utils import data  # noqa: PLC0415

    g = mg.Generator()
    g.manual_seed(3)
    first = list(data.RandomSampler(range(6), generator=g))
    g.manual_seed(3)
    assert list(data.RandomSampler(range(6), generator=g)) == first
    items = [(mg.tensor(np.float32(k), device="cuda"), mg.tensor([k, k + 1], device="cuda")) for k in range(3)]
    x, y = data.default_collate(items)
    assert x.device.type == "cuda" and y.device.type == "cuda"
    assert x.dtype == mg.float32 and y.dtype == mg.int64
    np.testing.assert_array_equal(y.numpy(), [[0, 1], [1, 2], [2, 3]])


def test_tensor_lr_steps_on_cuda_params() -> None:
    w0 = RNG.standard_normal((3, 2)).astype(np.float32)

    def program(device: str) -> list:
        optim = _nn().optim
        out = []
        for cls in (optim.SGD, optim.Adam, optim.AdamW, optim.Adagrad, optim.RAdam):
            w = _nn().Parameter(_t(w0, device))
            opt = cls([w], lr=mg.tensor(0.01))
            sched = optim.lr_scheduler.ExponentialLR(opt, 0.9)
            for _ in range(3):
                opt.zero_grad()
                ((w ** 2).sum() + w.sum()).backward()
                opt.step()
                sched.step()
            out += [w.detach()]
        return out

    _both(program, rtol=1e-6, atol=1e-7)
