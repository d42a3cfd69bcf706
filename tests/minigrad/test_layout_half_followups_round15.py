"""Round-15 layout and float16 follow-ups, each compared with live PyTorch: unsqueeze of non-contiguous tensors,
contiguous(preserve_format), reductions' result layouts, cosine_similarity overflow, float16 rounding of
batch_norm, embedding_bag and prod, and nn modules against their functional forms in float16."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _pair(shape: tuple, layout: str, dtype: str = "float32", seed: int = 0) -> tuple:
    """The same values as a minigrad and a torch tensor of ``shape``, laid out as ``layout`` says."""
    a = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    x, t = mg.tensor(a), torch.tensor(a)
    if layout == "T":
        x, t = x.transpose(0, -1), t.transpose(0, -1)
    elif layout == "channels_last":
        x, t = x.permute(0, 2, 3, 1), t.permute(0, 2, 3, 1)
    elif layout == "sliced":
        x, t = x[..., ::2], t[..., ::2]
    return x, t


@pytest.mark.parametrize("shape, layout, dim", [((2, 3), "T", -1), ((2, 3), "T", 2), ((2, 4, 5), "T", -1),
                                                ((2, 3, 4, 5), "channels_last", 4), ((3, 4), "sliced", -1),
                                                ((2, 3), "T", 0), ((2, 3), "T", 1), ((2, 1, 3), "T", 1)])
def test_unsqueeze_of_a_non_contiguous_tensor_is_a_view_with_pytorchs_values(shape: tuple, layout: str,
                                                                              dim: int) -> None:
    """(The new dim's stride can differ from PyTorch's for a transposed input: NumPy's reshape picks it, and
    restriding the array after the op hid it from mg.compile's capture.)"""
    x, t = _pair(shape, layout)
    y = x.unsqueeze(dim)
    assert np.shares_memory(y.data, x.data)
    np.testing.assert_array_equal(y.numpy(), t.unsqueeze(dim).numpy())


def test_unsqueeze_view_of_a_transposed_tensor_still_writes_through() -> None:
    t = torch.arange(6.0).reshape(2, 3).requires_grad_()
    x = mg.arange(6.0).reshape(2, 3).requires_grad_()
    t2, x2 = t * 1, x * 1
    t2.T.unsqueeze(-1).mul_(3)
    x2.T.unsqueeze(-1).mul_(3)
    (t2 * t2).sum().backward()
    (x2 * x2).sum().backward()
    np.testing.assert_array_equal(x2.detach().numpy(), t2.detach().numpy())
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


@pytest.mark.parametrize("shape, layout", [((2, 3), "T"), ((2, 3, 4, 5), "channels_last"), ((3, 4), "sliced")])
def test_contiguous_preserve_format_of_a_non_contiguous_tensor_raises(shape: tuple, layout: str) -> None:
    x, t = _pair(shape, layout)
    with pytest.raises(RuntimeError, match="preserve memory format is unsupported"):
        t.contiguous(memory_format=torch.preserve_format)
    with pytest.raises(RuntimeError, match="preserve memory format is unsupported"):
        x.contiguous(memory_format=mg.preserve_format)
    c = mg.zeros((2, 3))
    assert c.contiguous(memory_format=mg.preserve_format) is c
    assert mg.zeros((2, 1)).T.contiguous(memory_format=mg.preserve_format).shape == (1, 2)


@pytest.mark.parametrize("name", ["nansum", "nanmean", "count_nonzero"])
@pytest.mark.parametrize("shape, layout, dim", [((2, 3, 4), "T", 0), ((2, 3, 4), "T", 1),
                                                ((2, 3, 4, 5), "channels_last", 1),
                                                ((2, 3, 4, 5), "channels_last", (1, 2))])
def test_nan_reductions_and_count_nonzero_give_c_ordered_results(name: str, shape: tuple, layout: str,
                                                                 dim: int | tuple) -> None:
    x, t = _pair(shape, layout)
    x, t = x.masked_fill(x > 1, float("nan")), t.masked_fill(t > 1, float("nan"))
    ours, theirs = getattr(mg, name)(x, dim), getattr(torch, name)(t, dim)
    assert ours.stride() == theirs.stride() and ours.is_contiguous()
    assert ours.view(-1).shape == theirs.view(-1).shape
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype, big", [("float32", 3e38), ("float32", 1e20), ("float16", 6e4), ("float16", 300.0),
                                        ("float64", 1e308)])
def test_cosine_similarity_of_overflowing_norms_follows_pytorch(dtype: str, big: float) -> None:
    a = np.full((3, 4), big, dtype=dtype)
    a[1] *= -1
    a[2, 0] = 1
    b = np.ones((3, 4), dtype=dtype)
    b[0] = big
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    xa, xb = mg.tensor(a, requires_grad=True), mg.tensor(b, requires_grad=True)
    expected = torch.nn.functional.cosine_similarity(ta, tb, dim=1)
    got = mg.nn.functional.cosine_similarity(xa, xb, dim=1)
    expected.sum().backward()
    got.sum().backward()
    np.testing.assert_array_equal(got.detach().numpy(), expected.detach().numpy())
    np.testing.assert_allclose(xa.grad.numpy(), ta.grad.numpy(), rtol=1e-3, atol=1e-30)
    np.testing.assert_allclose(xb.grad.numpy(), tb.grad.numpy(), rtol=1e-3, atol=1e-30)


@pytest.mark.parametrize("module, shape", [("BatchNorm2d", (4, 3, 5, 5)), ("BatchNorm3d", (3, 2, 3, 4, 2))])
@pytest.mark.parametrize("training", [True, False])
def test_float16_batch_norm_rounds_as_pytorch(module: str, shape: tuple, training: bool) -> None:
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(shape) * 2 + 1).astype("float16")
    ours, theirs = getattr(mg.nn, module)(shape[1]).half(), getattr(torch.nn, module)(shape[1]).half()
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(rng.standard_normal(shape[1])))
        theirs.bias.copy_(torch.tensor(rng.standard_normal(shape[1])))
        theirs.running_var.copy_(torch.tensor(rng.random(shape[1]) + 0.5))
    ours.load_state_dict({k: mg.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    ours.train(training)
    theirs.train(training)
    tx, mx = torch.tensor(x, requires_grad=True), mg.tensor(x, requires_grad=True)
    for _ in range(2):   # the second call reads the running estimates the first moved
        expected, got = theirs(tx), ours(mx)
        np.testing.assert_array_equal(got.detach().numpy(), expected.detach().numpy())
    for name in ("running_mean", "running_var"):
        np.testing.assert_array_equal(getattr(ours, name).numpy(), getattr(theirs, name).numpy())
    g = rng.standard_normal(shape).astype("float16")
    expected.backward(torch.tensor(g))
    got.backward(mg.tensor(g))
    np.testing.assert_allclose(mx.grad.numpy().astype("float32"), tx.grad.numpy().astype("float32"),
                               rtol=2e-2, atol=2e-2)
    np.testing.assert_allclose(ours.weight.grad.numpy().astype("float32"),
                               theirs.weight.grad.numpy().astype("float32"), rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("mode, weighted, padding_idx", [("sum", False, None), ("sum", True, None),
                                                         ("mean", False, None), ("mean", False, 2), ("sum", True, 1)])
def test_float16_embedding_bag_sums_in_float32(mode: str, weighted: bool, padding_idx: int | None) -> None:
    rng = np.random.default_rng(4)
    weight = (rng.standard_normal((6, 5)) * 30).astype("float16")
    indices = rng.integers(0, 6, 40)
    offsets = np.array([0, 7, 20, 21, 33])
    psw = rng.standard_normal(40).astype("float16") if weighted else None
    expected = torch.nn.functional.embedding_bag(torch.tensor(indices), torch.tensor(weight), torch.tensor(offsets),
                                                 mode=mode, padding_idx=padding_idx,
                                                 per_sample_weights=None if psw is None else torch.tensor(psw))
    got = mg.nn.functional.embedding_bag(mg.tensor(indices), mg.tensor(weight), mg.tensor(offsets), mode=mode,
                                         padding_idx=padding_idx,
                                         per_sample_weights=None if psw is None else mg.tensor(psw))
    assert got.dtype == mg.float16
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


@pytest.mark.parametrize("name, kwargs, shape", [
    ("Upsample", {"scale_factor": 2, "mode": "bilinear"}, (2, 3, 5, 5)),
    ("Upsample", {"scale_factor": 2, "mode": "bicubic"}, (1, 2, 4, 4)),
    ("Upsample", {"scale_factor": 2, "mode": "trilinear"}, (1, 2, 3, 4, 3)),
    ("UpsamplingBilinear2d", {"scale_factor": 2}, (2, 3, 5, 5)),
    ("Conv3d", {"in_channels": 3, "out_channels": 4, "kernel_size": 2}, (2, 3, 4, 4, 4)),
    ("ConvTranspose1d", {"in_channels": 3, "out_channels": 4, "kernel_size": 3}, (2, 3, 9)),
    ("ConvTranspose2d", {"in_channels": 3, "out_channels": 4, "kernel_size": 3}, (2, 3, 6, 6)),
    ("ConvTranspose3d", {"in_channels": 3, "out_channels": 4, "kernel_size": 2}, (2, 3, 4, 4, 4)),
])
def test_float16_modules_use_functionals_float32_path(name: str, kwargs: dict, shape: tuple) -> None:
    x = (np.random.default_rng(5).standard_normal(shape) * 3).astype("float16")
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(**kwargs)
    ours = getattr(mg.nn, name)(**kwargs)
    ours.load_state_dict({k: mg.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    expected = theirs.half()(torch.tensor(x)).detach().numpy()
    if name.startswith("ConvTranspose"):
        # torch's own float16 conv_transpose is CPU-dependent: on an AVX512 CPU (AMD EPYC) it rounds on the way
        # (hundreds of float16 steps off); the reference is the float64 result of the same float16 numbers
        expected = theirs.double()(torch.tensor(x).double()).detach().numpy().astype("float16")
    got = ours.half()(mg.tensor(x)).detach().numpy()
    if name.startswith("Upsampl"):
        np.testing.assert_array_equal(got, expected)
    else:   # a float32 sum in another order may land one float16 step away (float16 steps: many steps)
        steps = np.abs(got.astype("float32") - expected) / np.spacing(np.abs(expected)).astype("float32")
        assert steps.max() <= 1


@pytest.mark.parametrize("name, function, kwargs", [("AdaptiveAvgPool3d", "adaptive_avg_pool3d", {"output_size": 2})])
def test_float16_3d_average_pool_modules_equal_their_functional(name: str, function: str, kwargs: dict) -> None:
    """(AvgPool3d and avg_pool3d both refuse float16 on the CPU since round 22, as PyTorch's: test_lead_round22.)"""
    x = mg.tensor((np.random.default_rng(6).standard_normal((2, 3, 5, 5, 5)) * 3).astype("float16"))
    got = getattr(mg.nn, name)(**kwargs)(x)
    assert got.dtype == mg.float16
    np.testing.assert_array_equal(got.numpy(), getattr(mg.nn.functional, function)(x, *kwargs.values()).numpy())


@pytest.mark.parametrize("use_input_stats, shape", [(True, (3, 2, 5, 4)), (True, (2, 3, 7)), (False, (3, 2, 5, 4))])
def test_float16_instance_norm_rounds_as_pytorchs_batch_norm(use_input_stats: bool, shape: tuple) -> None:
    """nn.functional's instance_norm still widens float16 to float32 first; this is the function it wraps."""
    from nn._normalization import instance_norm
    rng = np.random.default_rng(7)
    x = (rng.standard_normal(shape) * 3 + 2).astype("float16")
    channels = shape[1]
    w, b = rng.standard_normal(channels).astype("float16"), rng.standard_normal(channels).astype("float16")
    rm, rv = rng.standard_normal(channels).astype("float16"), (rng.random(channels) + 0.5).astype("float16")
    t_rm, t_rv, m_rm, m_rv = torch.tensor(rm), torch.tensor(rv), mg.tensor(rm), mg.tensor(rv)
    expected = torch.nn.functional.instance_norm(torch.tensor(x), t_rm, t_rv, torch.tensor(w), torch.tensor(b),
                                                 use_input_stats)
    got = instance_norm(mg.tensor(x), m_rm, m_rv, mg.tensor(w), mg.tensor(b), use_input_stats)
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
    np.testing.assert_array_equal(m_rm.numpy(), t_rm.numpy())
    np.testing.assert_array_equal(m_rv.numpy(), t_rv.numpy())


@pytest.mark.parametrize("shape, dim", [((5, 6), 1), ((3, 4, 5), 2), ((3, 4, 5), 0), ((30,), None), ((2, 9), -1),
                                        ((4, 5), None)])
def test_float16_prod_rounds_each_step_as_pytorch(shape: tuple, dim: int | None) -> None:
    x = (np.random.default_rng(8).standard_normal((40,) + shape) * 1.5).astype("float16")
    for sample in x:   # NumPy's product along the innermost dim rounded only once
        expected = torch.tensor(sample).prod() if dim is None else torch.tensor(sample).prod(dim)
        got = mg.tensor(sample).prod() if dim is None else mg.tensor(sample).prod(dim)
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
        assert got.dtype == mg.float16 and got.shape == tuple(expected.shape)
