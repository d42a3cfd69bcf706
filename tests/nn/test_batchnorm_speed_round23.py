"""Round 23: batch_norm of float32/float64 is one op (PyTorch's native_batch_norm, nn/_normalization.py's BatchNorm
and BatchNormEval) with a backward of few array passes. Its values, gradients, running estimates, layouts and
second derivatives against PyTorch 2.13 and finite differences: training and eval, momentum None, affine False,
track_running_stats False, 2-D to 5-D inputs, channels-last, float16/32/64."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import minigrad as mg
import nn
import nn.functional as F
from tests.helpers import same_on_gpu_as_on_cpu

torch = pytest.importorskip("torch", reason="no torch")
TF = torch.nn.functional

SHAPES = [(6, 3), (4, 3, 5), (2, 3, 4, 5), (2, 3, 2, 3, 2)]


def _arrays(shape: tuple, dtype: str, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    channels = shape[1]
    return {"x": (rng.standard_normal(shape) * 2 + 1).astype(dtype), "g": rng.standard_normal(shape).astype(dtype),
            "weight": rng.standard_normal(channels).astype(dtype), "bias": rng.standard_normal(channels).astype(dtype),
            "running_mean": rng.standard_normal(channels).astype(dtype),
            "running_var": (rng.random(channels) + 0.5).astype(dtype)}


def _run(lib: object, f: object, a: dict, training: bool, affine: bool, channels_last: bool,
         momentum: float = 0.1) -> tuple:
    """batch_norm forward and backward with ``lib`` (torch or mg): (out, x, weight, bias, running_mean, running_var)."""
    x = lib.tensor(a["x"])
    if channels_last:
        fmt = {4: "channels_last", 5: "channels_last_3d"}[x.ndim]
        x = x.to(memory_format=getattr(lib, fmt))
    x.requires_grad_()
    weight, bias = (lib.tensor(a["weight"], requires_grad=True), lib.tensor(a["bias"], requires_grad=True)) \
        if affine else (None, None)
    running_mean, running_var = lib.tensor(a["running_mean"]), lib.tensor(a["running_var"])
    out = f.batch_norm(x, running_mean, running_var, weight, bias, training, momentum, 1e-5)
    out.backward(lib.tensor(a["g"]))
    return out, x, weight, bias, running_mean, running_var


def _numpy(t: object) -> np.ndarray:
    return t.detach().numpy() if hasattr(t, "detach") else t.numpy()


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_values_gradients_and_running_estimates_as_torch(shape: tuple, dtype: str, training: bool,
                                                         affine: bool) -> None:
    a = _arrays(shape, dtype)
    ours, theirs = _run(mg, F, a, training, affine, False), _run(torch, TF, a, training, affine, False)
    rtol, atol = (1e-10, 1e-12) if dtype == "float64" else (2e-5, 2e-5)
    assert ours[0].dtype == mg.float32 if dtype == "float32" else ours[0].dtype == mg.float64
    for what, mine, their in zip(("out", "x.grad", "weight.grad", "bias.grad"), ours[:4], theirs[:4]):
        if what == "out":
            np.testing.assert_allclose(mine.numpy(), _numpy(their), rtol=rtol, atol=atol, err_msg=what)
        elif mine is not None:
            np.testing.assert_allclose(mine.grad.numpy(), their.grad.numpy(), rtol=rtol, atol=atol, err_msg=what)
    for what, mine, their in zip(("running_mean", "running_var"), ours[4:], theirs[4:]):
        np.testing.assert_allclose(mine.numpy(), their.numpy(), rtol=rtol, atol=atol, err_msg=what)
    assert ours[0].grad_fn.name() == theirs[0].grad_fn.name() == "NativeBatchNormBackward0"


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (2, 3, 2, 3, 2)])
@pytest.mark.parametrize("training", [True, False])
def test_channels_last_keeps_its_layout_in_the_result_and_the_gradient(shape: tuple, training: bool) -> None:
    a = _arrays(shape, "float64", seed=1)
    ours, theirs = _run(mg, F, a, training, True, True), _run(torch, TF, a, training, True, True)
    itemsize = 8
    assert ours[0].data.strides == tuple(s * itemsize for s in theirs[0].stride())
    assert ours[1].grad.data.strides == tuple(s * itemsize for s in theirs[1].grad.stride())
    np.testing.assert_allclose(ours[0].numpy(), _numpy(theirs[0]), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours[1].grad.numpy(), theirs[1].grad.numpy(), rtol=1e-10, atol=1e-12)


def test_gradient_of_a_channels_last_input_from_a_contiguous_gradient_is_channels_last() -> None:
    a = _arrays((2, 3, 4, 5), "float64", seed=2)
    grads = []
    for lib, f in ((mg, F), (torch, TF)):
        x = lib.tensor(a["x"]).to(memory_format=lib.channels_last).requires_grad_()
        f.batch_norm(x, None, None, training=True).backward(lib.tensor(a["g"]))   # g: C-contiguous
        grads.append(x.grad)
    assert grads[0].data.strides == tuple(s * 8 for s in grads[1].stride())
    np.testing.assert_allclose(grads[0].numpy(), grads[1].numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("momentum", [None, 0.3])
@pytest.mark.parametrize("track_running_stats", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_modules_over_steps_as_torch(momentum: float | None, track_running_stats: bool, affine: bool) -> None:
    kwargs = {"momentum": momentum, "track_running_stats": track_running_stats, "affine": affine}
    ours, theirs = nn.BatchNorm2d(3, **kwargs, dtype=mg.float64), torch.nn.BatchNorm2d(3, **kwargs,
                                                                                       dtype=torch.float64)
    rng = np.random.default_rng(3)
    for step in range(4):
        if step == 3:
            ours.eval(), theirs.eval()
        x = rng.standard_normal((4, 3, 3, 2)) * 3 - 1
        mx, tx = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        my, ty = ours(mx), theirs(tx)
        np.testing.assert_allclose(my.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
        (my * my).sum().backward()
        (ty * ty).sum().backward()
        np.testing.assert_allclose(mx.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-10)
        for key, value in theirs.state_dict().items():
            np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-10, atol=1e-12,
                                       err_msg=key)
        if affine:
            np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("training", [True, False])
def test_float16_as_torch(training: bool) -> None:
    a = _arrays((4, 3, 5), "float16", seed=4)
    ours = F.batch_norm(mg.tensor(a["x"]), mg.tensor(a["running_mean"]), mg.tensor(a["running_var"]),
                        mg.tensor(a["weight"]), mg.tensor(a["bias"]), training)
    theirs = TF.batch_norm(torch.tensor(a["x"]), torch.tensor(a["running_mean"]), torch.tensor(a["running_var"]),
                           torch.tensor(a["weight"]), torch.tensor(a["bias"]), training)
    assert ours.dtype == mg.float16
    np.testing.assert_allclose(ours.numpy().astype(np.float32), theirs.numpy().astype(np.float32), rtol=1e-3,
                               atol=1e-3)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("parts", ["x", "weight", "bias", "all"])
def test_gradcheck_and_gradgradcheck(training: bool, parts: str) -> None:
    a = _arrays((3, 2, 4), "float64", seed=5)
    wanted = {name: parts in (name, "all") for name in ("x", "weight", "bias")}
    tensors = {name: mg.tensor(a[name], requires_grad=wanted[name]) for name in wanted}
    inputs = [tensors[name] for name in wanted if wanted[name]]

    def fn(*_: mg.Tensor) -> mg.Tensor:
        running = (mg.tensor(a["running_mean"]), mg.tensor(a["running_var"]))
        return F.batch_norm(tensors["x"], *running, tensors["weight"], tensors["bias"], training)

    assert mg.gradcheck(fn, inputs)
    assert mg.gradgradcheck(fn, inputs)


@pytest.mark.parametrize("training", [True, False])
def test_second_derivatives_as_torch(training: bool) -> None:
    """d/d(x, weight, bias) of |∂L/∂x|² + |∂L/∂weight|²; in eval, ∂L/∂x has no derivative in x (None, as torch's)."""
    a = _arrays((3, 2, 4), "float64", seed=6)
    results = []
    for lib, f in ((mg, F), (torch, TF)):
        x, weight, bias = (lib.tensor(a[name], requires_grad=True) for name in ("x", "weight", "bias"))
        y = f.batch_norm(x, lib.tensor(a["running_mean"]), lib.tensor(a["running_var"]), weight, bias, training)
        gx, gw, _ = lib.autograd.grad((y * lib.tensor(a["g"])).sum(), (x, weight, bias), create_graph=True)
        second = lib.autograd.grad((gx * gx).sum() + (gw * gw).sum(), (x, weight, bias), allow_unused=True,
                                   retain_graph=True)
        only_x = lib.autograd.grad((gx * gx).sum(), (x,), allow_unused=True)[0]
        results.append([None if t is None else _numpy(t) for t in (gx, gw, *second, only_x)])
    for k, (mine, their) in enumerate(zip(*results)):
        assert (mine is None) == (their is None), k
        if mine is not None:
            np.testing.assert_allclose(mine, their, rtol=1e-10, atol=1e-10, err_msg=str(k))


@pytest.mark.parametrize("training", [True, False])
def test_running_estimates_that_require_grad_refused_as_torch(training: bool) -> None:
    a = _arrays((4, 3), "float32")
    running = mg.tensor(a["running_mean"], requires_grad=True), mg.tensor(a["running_var"])
    with pytest.raises(RuntimeError, match="not differentiable with respect to argument 'running_mean'"):
        F.batch_norm(mg.tensor(a["x"]), *running, training=training)
    with pytest.raises(RuntimeError):
        TF.batch_norm(torch.tensor(a["x"]), torch.tensor(a["running_mean"], requires_grad=True),
                      torch.tensor(a["running_var"]), training=training)
    with mg.no_grad():   # nothing is recorded: fine, as torch's
        out = F.batch_norm(mg.tensor(a["x"]), *running, training=training)
    assert out.shape == (4, 3)


def test_input_changed_in_place_after_forward_refused_at_backward_as_torch() -> None:
    x = mg.tensor(_arrays((4, 3), "float64")["x"], requires_grad=True)
    h = x * 1
    y = F.batch_norm(h, None, None, training=True)
    with mg.no_grad():
        h.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_eps_zero_in_eval_gives_torch_values_where_the_variance_is_positive() -> None:
    a = _arrays((5, 3, 2), "float64", seed=7)
    args = [a["running_mean"], a["running_var"], a["weight"], a["bias"]]
    ours = F.batch_norm(mg.tensor(a["x"]), *map(mg.tensor, args), False, 0.1, 0.0)
    theirs = TF.batch_norm(torch.tensor(a["x"]), *map(torch.tensor, args), False, 0.1, 0.0)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.gpu
@pytest.mark.parametrize("training", [True, False])
def test_on_gpu_as_on_cpu(training: bool) -> None:
    a = _arrays((3, 2, 4, 2), "float64", seed=8)

    def fn(lib: object, x: mg.Tensor, weight: mg.Tensor, bias: mg.Tensor) -> mg.Tensor:
        running = mg.tensor(a["running_mean"], device=x.device), mg.tensor(a["running_var"], device=x.device)
        out = F.batch_norm(x, *running, weight, bias, training)
        return out * out

    same_on_gpu_as_on_cpu(fn, [a["x"], a["weight"], a["bias"]])


@pytest.mark.parametrize("change", ["momentum_none", "eps"])
def test_compiled_module_sees_a_new_momentum_or_eps(change: str) -> None:
    """momentum=None moves the running estimates by 1 / batches seen, and eps may be set after compiling: each is
    an input of the op, so mg.compile notices its new value (it had frozen them into the op, silently)."""
    kwargs = {"momentum": None} if change == "momentum_none" else {}
    compiled_bn, eager_bn = nn.BatchNorm2d(3, **kwargs), nn.BatchNorm2d(3, **kwargs)
    compiled = mg.compile(compiled_bn)
    rng = np.random.default_rng(9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mg.CompileWarning)   # it runs eagerly from then on, and says so
        for step in range(5):
            if change == "eps" and step == 3:
                compiled_bn.eps = eager_bn.eps = 0.5
            x = rng.standard_normal((4, 3, 2, 2)).astype(np.float32)
            np.testing.assert_allclose(compiled(mg.tensor(x)).numpy(), eager_bn(mg.tensor(x)).numpy(), rtol=1e-6,
                                       atol=1e-6)
    np.testing.assert_allclose(compiled_bn.running_mean.numpy(), eager_bn.running_mean.numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(compiled_bn.running_var.numpy(), eager_bn.running_var.numpy(), rtol=1e-6, atol=1e-7)
