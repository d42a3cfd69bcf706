"""Round 25 resweep of the ops rewritten as one autograd node (layer_norm, group_norm, the ELUs, leaky_relu,
softplus, logsigmoid, glu and the losses), each against torch 2.13: what the differential fuzz found.

- layer_norm's node keeps its bias, as PyTorch's NativeLayerNormBackward0 does: a bias changed in place between
  the forward and the backward is refused at backward (it was not).
- group_norm's create_graph rule of an empty input (N = 0 or a 0 in the spatial dims) reshaped with -1 and raised
  where torch gives empty and zero gradients; layer_norm and group_norm of empty slices warned NumPy's "Mean of
  empty slice" (PyTorch is quiet).
- nll_loss's node (and cross_entropy's) takes log_probs of the input's shape, as PyTorch's: a hook on it got the
  (rows, C) gradient ((1, C) for a (C,) input, (N·H·W, C) for (N, C, H, W)); a 4-d input is NllLoss2DBackward0,
  a 3-d or 5+-d one viewed as (N, C, 1, L) first (and a 'none' result viewed back), as PyTorch's nll_loss_nd.
- smooth_l1_loss's and huber_loss's second derivative at a NaN difference is 0, as PyTorch's double backward
  (|d| < β is False there); it was the quadratic piece's 1/β.
- float16 elu/celu/selu/leaky_relu/softplus/logsigmoid/glu are their one node (computing in float32 inside, as
  PyTorch's kernels), not a ToCopy node over a float32 op: grad_fn's name and the hooks' float16 gradients are
  PyTorch's; values and gradients as before (rounded once). So is float16 group_norm of a C-contiguous input,
  with float16 or float32 parameters (NativeGroupNormBackward0; was ToCopy over the float32 op).
- float16 nll_loss/cross_entropy 'sum' and 'mean' on the CPU: the NllLoss op sums as PyTorch's kernel itself
  (NllLossBackward0; was a where node over it).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import minigrad as mg
import nn.functional as MF

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RNG = np.random.default_rng(2525)


@pytest.mark.parametrize("which", ["weight", "bias"])
def test_layer_norm_parameter_changed_in_place_refused_at_backward(which: str) -> None:
    arrays = [RNG.standard_normal(s) for s in ((3, 4), (4,), (4,))]
    outcomes = []
    for lib, F in ((mg, MF), (torch, TF)):
        x, w, b = (lib.tensor(a).requires_grad_() for a in arrays)
        w2, b2 = w * 1, b * 1
        y = F.layer_norm(x, (4,), w2, b2)
        with lib.no_grad():
            (w2 if which == "weight" else b2).add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()
        outcomes.append(True)
    assert outcomes == [True, True]


@pytest.mark.parametrize("shape", [(0, 6, 2), (2, 6, 0), (0, 6)])
def test_group_norm_empty_input_second_derivative_as_torch(shape: tuple) -> None:
    results = []
    for lib, F in ((mg, MF), (torch, TF)):
        x = lib.zeros(*shape, dtype=lib.float64).requires_grad_()
        w = lib.tensor(np.arange(1.0, 7.0)).requires_grad_()
        b = lib.tensor(np.arange(6.0)).requires_grad_()
        with warnings.catch_warnings():
            warnings.simplefilter("error")   # no NumPy "Mean of empty slice"
            y = F.group_norm(x, 3, w, b)
            grads = lib.autograd.grad(y, (x, w, b), lib.ones(*shape, dtype=lib.float64), create_graph=True)
            again = lib.autograd.grad(sum((g * g).sum() for g in grads), (x, w, b), allow_unused=True)
        results.append([np.asarray(g.detach().numpy()) if g is not None else None for g in grads + again])
    for ours, theirs in zip(*results):
        if shape[-1] == 0 and theirs is not None and np.isnan(theirs).all():   # torch's weight gradients of an
            theirs = np.zeros_like(theirs)   # empty S: NaN (its kernel's NaN mean times an empty sum); ours Σ of none
        if ours is None or theirs is None:   # None or zeros, as the other
            assert not np.any(ours if theirs is None else theirs)
            continue
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)


def test_layer_norm_empty_slices_quiet() -> None:
    x = mg.zeros(2, 3, 0, dtype=mg.float64).requires_grad_()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = MF.layer_norm(x, (0,))
        y.sum().backward()
    assert y.shape == (2, 3, 0) and x.grad.shape == (2, 3, 0)


def _hooked(lib, F, fn, x_array, target):   # noqa: ANN001, ANN202, N803
    x = lib.tensor(x_array).requires_grad_()
    y = fn(F, x, lib.tensor(target))
    seen = {}
    node = y.grad_fn
    node.register_hook(lambda gi, go: seen.update(gi=[None if g is None else g.detach().numpy().copy() for g in gi],
                                                  go=[tuple(g.shape) for g in go]))
    y.backward(lib.tensor(np.arange(1.0, 1.0 + np.prod(y.shape)).reshape(y.shape)))
    return node.name(), seen, x.grad.numpy(), tuple(x.grad.stride())


@pytest.mark.parametrize("shape", [(4,), (2, 4), (2, 4, 3), (2, 4, 3, 2), (2, 4, 1, 3, 2), (0, 4, 3, 2)])
@pytest.mark.parametrize("loss", ["nll_loss", "cross_entropy"])
@pytest.mark.parametrize("reduction", ["none", "sum"])
def test_nll_node_hook_sees_pytorchs_grad_inputs(shape: tuple, loss: str, reduction: str) -> None:
    x = RNG.standard_normal(shape)
    target = RNG.integers(0, 4, shape[:1] + shape[2:] if len(shape) > 1 else ())
    if target.size:
        target[(0,) * target.ndim] = 2   # one ignored

    def fn(F, x, t):   # noqa: ANN001, ANN202, N803
        return getattr(F, loss)(x, t, ignore_index=2, reduction=reduction)

    ours, theirs = _hooked(mg, MF, fn, x, target), _hooked(torch, TF, fn, x, target)
    assert ours[0] == theirs[0]
    assert ours[1]["go"] == theirs[1]["go"]
    assert [g.shape for g in ours[1]["gi"]] == [g.shape for g in theirs[1]["gi"]]
    for a, b in zip(ours[1]["gi"], theirs[1]["gi"]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-12, atol=1e-15)
    assert ours[3] == theirs[3] or not x.size   # (an empty gradient: torch gives some 0 strides)


@pytest.mark.parametrize("loss", ["smooth_l1_loss", "huber_loss"])
def test_piecewise_loss_curvature_at_nan_difference_as_torch(loss: str) -> None:
    results = []
    for lib, F in ((mg, MF), (torch, TF)):
        x = lib.tensor(np.array([0.3, 4.0, 1.0, np.nan])).requires_grad_()
        y = lib.tensor(np.array([0.1, np.nan, np.inf, 0.0])).requires_grad_()
        gx, gy = lib.autograd.grad(getattr(F, loss)(x, y, reduction="sum"), (x, y), create_graph=True)
        again = lib.autograd.grad((gx * lib.tensor(np.array([1.0, 2.0, 3.0, 4.0]))).sum(), (x, y))
        results.append([t.detach().numpy() for t in (gx, gy, *again)])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)


HALF_ACTIVATIONS = {
    "elu": lambda F, x: F.elu(x, 0.7),
    "celu": lambda F, x: F.celu(x, 1.5),
    "selu": lambda F, x: F.selu(x),
    "leaky_relu": lambda F, x: F.leaky_relu(x, 0.2),
    "softplus": lambda F, x: F.softplus(x, 2.0, 3.0),
    "softplus_degenerate": lambda F, x: F.softplus(x, 0.0),
    "logsigmoid": lambda F, x: F.logsigmoid(x),
    "glu": lambda F, x: F.glu(x, 0),
    "elu_inplace": lambda F, x: F.elu(x * 1, 0.7, inplace=True),
}


@pytest.mark.parametrize("name", sorted(HALF_ACTIVATIONS))
def test_float16_activation_is_its_one_node(name: str) -> None:
    x_array = np.array([[-3.5, -0.7, 0.0, 0.3], [1.7, 5.0, -0.01, 12.0]])
    g_array = np.array([[0.5, -1.25, 2.0, 0.75], [-0.3, 1.1, 0.9, -2.0]])
    results = []
    for lib, F in ((mg, MF), (torch, TF)):
        x = lib.tensor(x_array).to(lib.float16).requires_grad_()
        y = HALF_ACTIVATIONS[name](F, x)
        seen = {}
        y.grad_fn.register_hook(lambda gi, go, seen=seen: seen.update(gi=[None if g is None else g.dtype for g in gi]))
        y.backward(lib.tensor(g_array[:y.shape[0]]).to(lib.float16))
        results.append((y.grad_fn.name(), str(seen["gi"][-1]).split(".")[-1], str(y.dtype).split(".")[-1],
                        y.detach().float().numpy(), x.grad.float().numpy()))
    ours, theirs = results
    if name not in ("elu_inplace", "softplus_degenerate"):   # (minigrad's copy_ and custom node, any dtype: left)
        assert ours[:3] == theirs[:3]
    np.testing.assert_array_equal(ours[3], theirs[3])
    np.testing.assert_allclose(ours[4], theirs[4], rtol=1e-3, atol=1e-3)   # (torch's tails: other float32 exps)


@pytest.mark.parametrize("params", ["float16", "float32", None])
@pytest.mark.parametrize("shape", [(2, 6, 3), (2, 6, 2, 2)])
def test_float16_group_norm_is_its_one_node(shape: tuple, params: str | None) -> None:
    x_array = RNG.standard_normal(shape) * 3 + 1
    w_array, b_array, g_array = RNG.standard_normal(6), RNG.standard_normal(6), RNG.standard_normal(shape)
    results = []
    for lib, F in ((mg, MF), (torch, TF)):
        x = lib.tensor(x_array).to(lib.float16).requires_grad_()
        affine = [lib.tensor(a).to(getattr(lib, params)).requires_grad_() for a in (w_array, b_array)] if params \
            else [None, None]
        y = F.group_norm(x, 3, *affine)
        seen = {}
        y.grad_fn.register_hook(lambda gi, go, seen=seen: seen.update(gi=[None if g is None else g.dtype for g in gi]))
        y.backward(lib.tensor(g_array).to(lib.float16))
        grads = [t.grad.double().numpy() for t in [x, *affine] if t is not None]
        results.append((y.grad_fn.name(), [str(d).split(".")[-1] for d in seen["gi"]], y.detach().double().numpy(),
                        grads, [str(t.grad.dtype).split(".")[-1] for t in [x, *affine] if t is not None]))
    ours, theirs = results
    assert ours[0] == theirs[0] and ours[1] == theirs[1] and ours[4] == theirs[4]
    np.testing.assert_allclose(ours[2], theirs[2], rtol=2e-3, atol=2e-3)
    for a, b in zip(ours[3], theirs[3]):
        np.testing.assert_allclose(a, b, rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("shape", [(40, 5), (6, 5, 7), (2, 5, 3, 4)])
@pytest.mark.parametrize("loss", ["nll_loss", "cross_entropy"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("weighted", [False, True])
def test_float16_nll_sum_is_its_one_node(shape: tuple, loss: str, reduction: str, weighted: bool) -> None:
    x_array = RNG.standard_normal(shape) * 4 - 3
    target = RNG.integers(0, 5, shape[:1] + shape[2:])
    target.flat[::7] = 1
    w_array = RNG.random(5) * 3
    results = []
    for lib, F in ((mg, MF), (torch, TF)):
        x = lib.tensor(x_array).to(lib.float16).requires_grad_()
        weight = lib.tensor(w_array).to(lib.float16) if weighted else None
        y = getattr(F, loss)(x, lib.tensor(target), weight=weight, ignore_index=1, reduction=reduction)
        y.backward()
        results.append((y.grad_fn.name(), float(y.detach().float()), x.grad.float().numpy()))
    ours, theirs = results
    assert ours[:2] == theirs[:2]
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-2, atol=1e-3)
