"""torch's top-level ATen functions minigrad lacked before round 25 (``convolution``, ``native_layer_norm``,
``native_batch_norm``, ``native_group_norm``, ``native_dropout``, ``norm_except_dim``): values and statistics
against torch 2.13, gradients by float64 gradcheck."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="PyTorch is the reference for these tests")


def _pair(shape, seed=0):
    a = np.random.default_rng(seed).standard_normal(shape)
    return mg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def _same(got, expected, rtol=1e-10, atol=1e-12):
    got, expected = (t if isinstance(t, tuple) else (t,) for t in (got, expected))
    assert len(got) == len(expected) and got[0].requires_grad == expected[0].requires_grad
    for a, b in zip(got, expected):   # (torch's group norm statistics say requires_grad, yet pass no gradient on)
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize(("x_shape", "w_shape", "transposed", "stride", "padding", "dilation", "out_pad", "groups"), [
    ((2, 4, 9), (6, 2, 3), False, [2], [1], [1], [0], 2),
    ((1, 3, 6, 7), (4, 3, 3, 2), False, [1, 2], [0, 1], [2, 1], [0, 0], 1),
    ((2, 4, 5, 5), (4, 3, 3, 3), True, [2, 2], [1, 0], [1, 1], [1, 0], 1),
    ((1, 2, 3, 4, 3), (2, 2, 2, 2, 2), False, [1, 1, 1], [0, 1, 0], [1, 1, 1], [0, 0, 0], 1),
])
def test_convolution(x_shape, w_shape, transposed, stride, padding, dilation, out_pad, groups) -> None:
    (x, tx), (w, tw) = _pair(x_shape, 1), _pair(w_shape, 2)
    bias_size = w_shape[1] * groups if transposed else w_shape[0]
    b, tb = _pair((bias_size,), 3)
    args = (stride, padding, dilation, transposed, out_pad, groups)
    got, expected = mg.convolution(x, w, b, *args), torch.convolution(tx, tw, tb, *args)
    _same(got, expected)
    got.sum().backward()
    expected.sum().backward()
    for a, c in ((x, tx), (w, tw), (b, tb)):
        np.testing.assert_allclose(a.grad.numpy(), c.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("shape", "normalized", "affine"), [((2, 3, 4), [4], False), ((2, 3, 4), [3, 4], True)])
def test_native_layer_norm(shape, normalized, affine) -> None:
    (x, tx) = _pair(shape)
    (w, tw), (b, tb) = (_pair(normalized, 4), _pair(normalized, 5)) if affine else ((None, None), (None, None))
    _same(mg.native_layer_norm(x, normalized, w, b, 1e-5), torch.native_layer_norm(tx, normalized, tw, tb, 1e-5))
    assert mg.gradcheck(lambda t: mg.native_layer_norm(t, normalized, w, b, 1e-5)[0], (x,))


@pytest.mark.parametrize("training", [True, False])
def test_native_batch_norm(training: bool) -> None:
    x, tx = _pair((4, 3, 5))
    running = [mg.zeros(3, dtype=mg.float64), mg.ones(3, dtype=mg.float64)]
    t_running = [torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)]
    (w, tw), (b, tb) = _pair((3,), 6), _pair((3,), 7)
    _same(mg.native_batch_norm(x, w, b, *running, training, 0.1, 1e-5),
          torch.native_batch_norm(tx, tw, tb, *t_running, training, 0.1, 1e-5))
    for a, c in zip(running, t_running):   # the running statistics moved as torch's
        np.testing.assert_allclose(a.numpy(), c.numpy(), rtol=1e-12)
    assert mg.gradcheck(lambda t: mg.native_batch_norm(t, w, b, None, None, True, 0.1, 1e-5)[0], (x,))


def test_native_group_norm() -> None:
    x, tx = _pair((4, 6, 5))
    (w, tw), (b, tb) = _pair((6,), 8), _pair((6,), 9)
    _same(mg.native_group_norm(x, w, b, 4, 6, 5, 2, 1e-5), torch.native_group_norm(tx, tw, tb, 4, 6, 5, 2, 1e-5))
    assert mg.gradcheck(lambda t: mg.native_group_norm(t, None, None, 4, 6, 5, 3, 1e-5)[0], (x,))
    with pytest.raises(RuntimeError, match="N \\* C \\* HxW"):
        mg.native_group_norm(x, None, None, 4, 6, 4, 2, 1e-5)


@pytest.mark.parametrize(("p", "train"), [(0.3, True), (0.0, True), (1.0, True), (0.5, False), (0.5, None)])
def test_native_dropout(p: float, train) -> None:
    x, tx = _pair((40, 50))
    out, mask = mg.native_dropout(x, p, train)
    t_out, t_mask = torch.native_dropout(tx, p, train)
    assert mask.dtype == mg.bool and t_mask.dtype == torch.bool and out.requires_grad == t_out.requires_grad
    scale = 0.0 if p == 1 else 1 / (1 - p)
    kept = mask.numpy()
    np.testing.assert_allclose(out.detach().numpy(), x.detach().numpy() * kept * (scale if train is not False else 1))
    if train is False or p == 0:
        assert kept.all() and t_mask.all()
    elif p == 1:
        assert not kept.any() and not t_mask.any()
    else:
        assert abs(kept.mean() - (1 - p)) < 0.05
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept * (scale if train is not False else 1))


@pytest.mark.parametrize(("pow_", "dim"), [(2, 0), (2, 1), (3, 2), (2, -1), (1, 0)])
def test_norm_except_dim(pow_, dim) -> None:
    v, tv = _pair((3, 4, 5))
    _same(mg.norm_except_dim(v, pow_, dim), torch.norm_except_dim(tv, pow_, dim))
    assert mg.gradcheck(lambda t: mg.norm_except_dim(t, pow_, dim), (v,))


@pytest.mark.parametrize(("name", "x_shape", "g_shape", "mode", "padding"), [
    ("grid_sampler_2d", (2, 3, 5, 6), (2, 4, 3, 2), 0, 0), ("grid_sampler_2d", (1, 2, 4, 4), (1, 2, 5, 2), 2, 1),
    ("grid_sampler_3d", (1, 2, 3, 4, 5), (1, 2, 3, 2, 3), 0, 2),
    ("grid_sampler_3d", (1, 1, 3, 3, 3), (1, 2, 2, 2, 3), 1, 0),
])
def test_grid_sampler_2d_and_3d(name, x_shape, g_shape, mode, padding) -> None:
    (x, tx), (g, tg) = _pair(x_shape, 10), _pair(g_shape, 11)
    got, expected = getattr(mg, name)(x, g * 0.9, mode, padding, False), getattr(torch, name)(tx, tg * 0.9, mode,
                                                                                              padding, False)
    _same(got, expected)
    wrong = (x[0], g[0]) if name.endswith("2d") else (x[..., 0], g[..., 0, :])
    with pytest.raises(RuntimeError, match="expected"):
        getattr(mg, name)(*wrong, mode, padding, False)
