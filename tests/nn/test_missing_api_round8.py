"""Round 8 of the torch API that minigrad lacked, nn side, against torch 2.13: fractional max pooling
(``F.fractional_max_pool2d``/``3d`` with ``_random_samples``, ``nn.FractionalMaxPool2d``/``3d``),
``nn.AdaptiveLogSoftmaxWithLoss``, ``F.interpolate(antialias=True)`` and ``is_causal`` checked as torch checks it.

Values, indices, dtypes and gradients are compared with torch on the same inputs (float32 and float64); every new
differentiable op passes ``mg.gradcheck`` in float64; errors are those torch raises.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
from helpers import gpu_case_tests

import minigrad as mg
import nn
import nn.functional as F

RNG = np.random.default_rng(8)


def _normal(*shape: int, dtype: Any = np.float64) -> np.ndarray:
    return RNG.standard_normal(shape).astype(dtype)


def _tolerance(dtype: Any) -> dict:
    return {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-12}


# --- fractional max pooling ----------------------------------------------------------------------------------

FRACTIONAL = [   # (dims, input shape, kernel_size, output_size, output_ratio)
    (2, (2, 3, 7, 9), 2, (4, 5), None),
    (2, (2, 3, 7, 9), (3, 2), (5, 8), None),
    (2, (3, 10, 11), 3, None, (0.5, 0.3)),      # unbatched, by ratio
    (2, (1, 2, 5, 5), 3, 3, None),              # out + k - 1 == in: allowed in 2-D
    (2, (2, 1, 6, 6), 1, 6, None),              # kernel 1, every position
    (3, (2, 2, 6, 7, 8), 2, (3, 4, 5), None),
    (3, (2, 6, 7, 8), (2, 3, 2), (4, 2, 6), None),
    (3, (1, 1, 8, 8, 8), 2, None, 0.5),
]


def _fractional(lib: Any, dims: int) -> Callable:
    functional = lib.nn.functional if lib is not mg else F
    return functional.fractional_max_pool2d if dims == 2 else functional.fractional_max_pool3d


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(FRACTIONAL)))
def test_fractional_max_pool_matches_torch(case: int, dtype: Any, torch: Any) -> None:
    dims, shape, kernel, size, ratio = FRACTIONAL[case]
    a = _normal(*shape, dtype=dtype)
    batch = shape[0] if len(shape) == dims + 2 else 1
    samples = RNG.random((batch, shape[-dims - 1], dims)).astype(dtype)
    x, tx = mg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    values, indices = _fractional(mg, dims)(x, kernel, size, ratio, return_indices=True,
                                            _random_samples=mg.tensor(samples))
    t_values, t_indices = _fractional(torch, dims)(tx, kernel, size, ratio, return_indices=True,
                                                   _random_samples=torch.tensor(samples))
    np.testing.assert_array_equal(indices.numpy(), t_indices.numpy())
    np.testing.assert_array_equal(values.numpy(), t_values.detach().numpy())
    assert values.dtype == dtype and indices.dtype == mg.int64
    weights = _normal(*values.shape, dtype=dtype)
    (values * mg.tensor(weights)).sum().backward()
    (t_values * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), **_tolerance(dtype))


def test_fractional_max_pool_ties_nans_and_infinities_pick_as_torch(torch: Any) -> None:
    a = np.zeros((1, 2, 6, 6))
    a[0, 0, 0, 0] = a[0, 0, 1, 1] = np.nan            # the last NaN of a window wins
    a[0, 1] = -np.inf                                  # all -inf: the window's first position
    a[0, 1, 4, 5] = 1.0
    samples = np.full((1, 2, 2), 0.5)
    ours = F.fractional_max_pool2d_with_indices(mg.tensor(a), 2, 3, _random_samples=mg.tensor(samples))
    theirs = torch.nn.functional.fractional_max_pool2d(torch.tensor(a), 2, 3, return_indices=True,
                                                       _random_samples=torch.tensor(samples))
    np.testing.assert_array_equal(ours[1].numpy(), theirs[1].numpy())
    np.testing.assert_array_equal(ours[0].numpy(), theirs[0].numpy())


@pytest.mark.parametrize("dims, shape, kernel, size", [(2, (1, 2, 5, 6), 2, (3, 4)), (3, (1, 1, 5, 5, 6), 2, 3)])
def test_fractional_max_pool_gradcheck(dims: int, shape: tuple, kernel: int, size: Any) -> None:
    samples = mg.tensor(RNG.random((shape[0], shape[1], dims)))
    x = mg.tensor(_normal(*shape), requires_grad=True)   # distinct values: no ties, no kinks
    assert mg.gradcheck(lambda t: _fractional(mg, dims)(t, kernel, size, _random_samples=samples), [x])


def test_fractional_max_pool_draws_its_samples_when_none_are_given() -> None:
    x = mg.tensor(_normal(2, 3, 9, 9))
    mg.manual_seed(3)
    first = F.fractional_max_pool2d(x, 2, output_size=4)
    mg.manual_seed(3)
    np.testing.assert_array_equal(F.fractional_max_pool2d(x, 2, output_size=4).numpy(), first.numpy())
    assert first.shape == (2, 3, 4, 4)
    assert F.fractional_max_pool3d(mg.tensor(_normal(2, 5, 5, 5)), 2, output_ratio=0.5).shape == (2, 2, 2, 2)


def test_fractional_max_pool_modules_as_torch(torch: Any) -> None:
    samples = RNG.random((2, 3, 2)).astype(np.float32)
    module = nn.FractionalMaxPool2d(3, output_ratio=0.5, return_indices=True, _random_samples=mg.tensor(samples))
    t_module = torch.nn.FractionalMaxPool2d(3, output_ratio=0.5, return_indices=True,
                                            _random_samples=torch.tensor(samples))
    a = _normal(2, 3, 10, 12, dtype=np.float32)
    (values, indices), (t_values, t_indices) = module(mg.tensor(a)), t_module(torch.tensor(a))
    np.testing.assert_array_equal(values.numpy(), t_values.numpy())
    np.testing.assert_array_equal(indices.numpy(), t_indices.numpy())
    assert repr(module) == repr(t_module) == "FractionalMaxPool2d()"
    assert list(module.state_dict()) == list(t_module.state_dict()) == ["_random_samples"]
    assert module.kernel_size == t_module.kernel_size and module.output_ratio == t_module.output_ratio
    samples3 = RNG.random((1, 2, 3))
    module3 = nn.FractionalMaxPool3d((2, 2, 3), output_size=3, _random_samples=mg.tensor(samples3))
    t_module3 = torch.nn.FractionalMaxPool3d((2, 2, 3), output_size=3, _random_samples=torch.tensor(samples3))
    a3 = _normal(1, 2, 6, 7, 9)
    np.testing.assert_array_equal(module3(mg.tensor(a3)).numpy(), t_module3(torch.tensor(a3)).numpy())
    assert module3.output_size == t_module3.output_size == (3, 3, 3)
    assert list(nn.FractionalMaxPool3d(2, output_size=2).state_dict()) == []


FRACTIONAL_ERRORS = [   # (call with lib's functional module and tensor maker, error, our message, torch's message)
    (lambda f, t: f.fractional_max_pool2d(t(1, 1, 5, 5), 3, output_size=4), RuntimeError, "pool height 3 too large",
     "pool height 3 too large"),
    (lambda f, t: f.fractional_max_pool2d(t(1, 1, 5, 5), 3, output_size=(3, 4)), RuntimeError,
     "pool width 3 too large", "pool width 3 too large"),
    (lambda f, t: f.fractional_max_pool3d(t(1, 1, 5, 5, 5), 2, output_size=(4, 3, 3)), RuntimeError,
     "pool time 2 too large", "pool time 2 too large"),
    (lambda f, t: f.fractional_max_pool3d(t(1, 1, 5, 5, 5), 2, output_size=(3, 3, 4)), RuntimeError,
     "pool width 2 too large", "pool width 2 too large"),
    (lambda f, t: f.fractional_max_pool2d(t(1, 1, 5, 5), 2), ValueError, "either an output_size or an output_ratio",
     "either an output_size or an output_ratio"),
    (lambda f, t: f.fractional_max_pool2d(t(5, 5), 2, output_size=2), (RuntimeError, IndexError),
     "expected 3D or 4D", "Dimension out of range"),
    (lambda f, t: f.fractional_max_pool2d(t(2, 3, 0, 5), 2, output_size=2), RuntimeError, "non-zero size",
     "non-zero size"),
    (lambda f, t: f.fractional_max_pool2d(t(2, 3, 5, 5), 2, output_size=2, _random_samples=t(1, 3, 2)),
     RuntimeError, "size\\(0\\) no less", "size\\(0\\) no less"),
    (lambda f, t: f.fractional_max_pool2d(t(2, 3, 5, 5), 2, output_size=2, _random_samples=t(2, 2, 2)),
     RuntimeError, "size\\(1\\) equals to", "size\\(1\\) equals to"),
    (lambda f, t: f.fractional_max_pool2d(t(2, 3, 5, 5), 2, output_size=2, _random_samples=t(2, 3, 3)),
     RuntimeError, "size\\(2\\) equals to 2", "size\\(2\\) equals to 2"),
    (lambda f, t: f.fractional_max_pool2d(t(2, 3, 5, 5), 2, output_size=2, _random_samples=t(2, 3)),
     RuntimeError, "3 dimensions", "3 dimensions"),
    (lambda f, t: f.fractional_max_pool2d(t(2, 3, 5, 5), 2, output_size=2, _random_samples=t(2, 3, 2).double()),
     RuntimeError, "same dtype", "same dtype"),
]


@pytest.mark.parametrize("case", range(len(FRACTIONAL_ERRORS)))
def test_fractional_max_pool_refuses_what_torch_refuses(case: int, torch: Any) -> None:
    call, error, ours, theirs = FRACTIONAL_ERRORS[case]
    with pytest.raises(error, match=ours):
        call(F, lambda *shape: mg.tensor(_normal(*shape, dtype=np.float32)))
    with pytest.raises(error, match=theirs):
        call(torch.nn.functional, lambda *shape: torch.randn(*shape))


@pytest.mark.parametrize("make", [
    lambda lib: lib.FractionalMaxPool2d(2, output_ratio=1.5),
    lambda lib: lib.FractionalMaxPool2d(2, output_ratio=0.5, output_size=2),
    lambda lib: lib.FractionalMaxPool2d(2),
    lambda lib: lib.FractionalMaxPool3d(2, output_ratio=(0.5, 0.5, 0.0)),
])
def test_fractional_max_pool_modules_refuse_what_torch_refuses(make: Callable, torch: Any) -> None:
    with pytest.raises(ValueError) as ours:
        make(nn)
    with pytest.raises(ValueError) as theirs:
        make(torch.nn)
    assert str(ours.value) == str(theirs.value)


def test_fractional_max_pool_refuses_integer_inputs_and_an_empty_window() -> None:
    with pytest.raises(NotImplementedError, match="floating-point"):
        F.fractional_max_pool2d(mg.ones(1, 1, 4, 4, dtype=mg.int64), 2, output_size=2)
    with pytest.raises(ValueError, match="kernel_size must be positive"):   # torch gives -inf everywhere
        F.fractional_max_pool2d(mg.ones(1, 1, 4, 4), 0, output_size=2)


# --- AdaptiveLogSoftmaxWithLoss ------------------------------------------------------------------------------

def _adaptive_pair(torch: Any, head_bias: bool, dtype: Any = np.float64) -> tuple:
    torch.manual_seed(8)
    theirs = torch.nn.AdaptiveLogSoftmaxWithLoss(16, 20, [4, 10, 15], div_value=2.0, head_bias=head_bias)
    theirs = theirs.to(torch.float64 if dtype == np.float64 else torch.float32)
    ours = nn.AdaptiveLogSoftmaxWithLoss(16, 20, [4, 10, 15], div_value=2.0, head_bias=head_bias,
                                         dtype=mg.float64 if dtype == np.float64 else mg.float32)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("head_bias", [False, True])
def test_adaptive_log_softmax_matches_torch(head_bias: bool, dtype: Any, torch: Any) -> None:
    ours, theirs = _adaptive_pair(torch, head_bias, dtype)
    assert list(ours.state_dict()) == list(theirs.state_dict()) and repr(ours) == repr(theirs)
    a, target = _normal(7, 16, dtype=dtype), np.array([0, 3, 5, 19, 12, 4, 17])
    x, tx = mg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    result, t_result = ours(x, mg.tensor(target)), theirs(tx, torch.tensor(target))
    assert type(result).__name__ == type(t_result).__name__ == "_ASMoutput" and result._fields == t_result._fields
    np.testing.assert_allclose(result.output.numpy(), t_result.output.detach().numpy(), **_tolerance(dtype))
    np.testing.assert_allclose(result.loss.numpy(), t_result.loss.detach().numpy(), **_tolerance(dtype))
    assert result.output.dtype == dtype and result.loss.shape == ()
    result.loss.backward()
    t_result.loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), **_tolerance(dtype))
    for (name, p), (t_name, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == t_name
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), **_tolerance(dtype), err_msg=name)
    np.testing.assert_allclose(ours.log_prob(x).detach().numpy(), theirs.log_prob(tx).detach().numpy(),
                               **_tolerance(dtype))
    np.testing.assert_array_equal(ours.predict(x).numpy(), theirs.predict(tx).numpy())
    single, t_single = ours(x[2], mg.tensor(target[2])), theirs(tx[2], torch.tensor(target[2]))
    assert single.output.shape == tuple(t_single.output.shape) == ()
    np.testing.assert_allclose(single.output.numpy(), t_single.output.detach().numpy(), **_tolerance(dtype))


def test_adaptive_log_softmax_predict_on_each_branch_and_a_cluster_free_batch(torch: Any) -> None:
    ours, theirs = _adaptive_pair(torch, True)
    with torch.no_grad():   # bias the head to the shortlist, then to the clusters, so both branches run
        for shift in (0.0, 50.0, -50.0):
            theirs.head.bias[:4] = shift
            ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
            a = _normal(9, 16)
            np.testing.assert_array_equal(ours.predict(mg.tensor(a)).numpy(), theirs.predict(torch.tensor(a)).numpy())
    target = np.array([0, 1, 2, 3])   # shortlist only: no cluster runs
    a = _normal(4, 16)
    np.testing.assert_allclose(ours(mg.tensor(a), mg.tensor(target)).output.numpy(),
                               theirs(torch.tensor(a), torch.tensor(target)).output.detach().numpy(), rtol=1e-12)


def test_adaptive_log_softmax_gradcheck_and_log_prob_normalised() -> None:
    module = nn.AdaptiveLogSoftmaxWithLoss(6, 9, [3, 6], div_value=2.0, head_bias=True, dtype=mg.float64)
    target = mg.tensor([0, 4, 8, 2, 6])
    x = mg.tensor(_normal(5, 6), requires_grad=True)
    assert mg.gradcheck(lambda t: module(t, target).loss, [x])
    assert mg.gradcheck(lambda t: module.log_prob(t), [x])
    np.testing.assert_allclose(module.log_prob(x).exp().sum(dim=1).detach().numpy(), np.ones(5), rtol=1e-12)


ADAPTIVE_ERRORS = [   # (call with lib and a module of lib's, error)
    (lambda lib, m, t: m(t(3, 16), lib.tensor([0, 1])), RuntimeError),
    (lambda lib, m, t: m(t(3, 2, 16), lib.tensor([0, 1, 2])), RuntimeError),
    (lambda lib, m, t: m(t(3, 16), lib.tensor(0)), RuntimeError),
    (lambda lib, m, t: m(t(3, 16), lib.tensor([[0, 1, 2]])), RuntimeError),
    (lambda lib, m, t: m(t(3, 16), lib.tensor([0, 1, 20])), RuntimeError),
    (lambda lib, m, t: m(t(3, 16), lib.tensor([0, -1, 2])), RuntimeError),
]


@pytest.mark.parametrize("case", range(len(ADAPTIVE_ERRORS)))
def test_adaptive_log_softmax_refuses_what_torch_refuses(case: int, torch: Any) -> None:
    call, error = ADAPTIVE_ERRORS[case]
    ours, theirs = _adaptive_pair(torch, False)
    with pytest.raises(error) as ours_error:
        call(mg, ours, lambda *shape: mg.tensor(_normal(*shape)))
    with pytest.raises(error) as theirs_error:
        call(torch, theirs, lambda *shape: torch.randn(*shape, dtype=torch.float64))
    assert str(ours_error.value) == str(theirs_error.value).replace("torch.Size([", "(").replace("])", ")")


@pytest.mark.parametrize("cutoffs", [[], [4, 2], [0, 5], [5, 20], [5, 5], [2.5]])
def test_adaptive_log_softmax_checks_its_cutoffs_as_torch(cutoffs: list, torch: Any) -> None:
    with pytest.raises(ValueError) as ours:
        nn.AdaptiveLogSoftmaxWithLoss(8, 20, cutoffs)
    with pytest.raises(ValueError) as theirs:
        torch.nn.AdaptiveLogSoftmaxWithLoss(8, 20, cutoffs)
    assert str(ours.value) == str(theirs.value)


# --- interpolate(antialias=True) -----------------------------------------------------------------------------

ANTIALIAS = [   # (input shape, interpolate's size/scale arguments)
    ((2, 3, 17, 13), {"size": (5, 4)}),
    ((1, 2, 9, 9), {"size": (4, 20)}),                     # shrink one dim, grow the other
    ((1, 1, 32, 30), {"scale_factor": 0.3}),
    ((1, 1, 32, 30), {"scale_factor": (0.37, 1.7)}),
    ((1, 2, 10, 11), {"size": (3, 11)}),                   # a dim of unchanged size is left alone
    ((1, 1, 7, 9), {"size": (7, 2), "align_corners": True}),
    ((1, 1, 20, 21), {"scale_factor": 0.25, "recompute_scale_factor": True}),
    ((1, 1, 5, 6), {"size": (12, 13)}),                    # growing: the plain filter, normalised
    ((1, 1, 40, 40), {"size": (1, 1)}),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("case", range(len(ANTIALIAS)))
def test_interpolate_antialias_matches_torch(case: int, mode: str, dtype: Any, torch: Any) -> None:
    shape, arguments = ANTIALIAS[case]
    a = _normal(*shape, dtype=dtype)
    x, tx = mg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y = F.interpolate(x, mode=mode, antialias=True, **arguments)
    ty = torch.nn.functional.interpolate(tx, mode=mode, antialias=True, **arguments)
    assert y.shape == tuple(ty.shape) and y.dtype == dtype
    tolerance = {"rtol": 1e-5, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-13}
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **tolerance)
    weights = _normal(*y.shape, dtype=dtype)
    (y * mg.tensor(weights)).sum().backward()
    (ty * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), **tolerance)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_interpolate_antialias_gradcheck(mode: str) -> None:
    x = mg.tensor(_normal(1, 2, 9, 7), requires_grad=True)
    assert mg.gradcheck(lambda t: F.interpolate(t, size=(4, 3), mode=mode, antialias=True), [x])
    assert mg.gradcheck(lambda t: F.interpolate(t, scale_factor=(0.5, 1.5), mode=mode, antialias=True), [x])


def test_interpolate_antialias_still_refuses_what_torch_refuses() -> None:
    x = mg.tensor(_normal(1, 1, 6, 6))
    with pytest.raises(ValueError, match="Anti-alias option is restricted"):
        F.interpolate(x, size=3, mode="nearest", antialias=True)
    with pytest.raises(ValueError, match="Anti-alias option is restricted"):
        F.interpolate(mg.tensor(_normal(1, 1, 6)), size=3, mode="linear", antialias=True)
    with pytest.raises(NotImplementedError, match="lanczos"):
        F.interpolate(x, size=3, mode="lanczos", antialias=True)


# --- is_causal -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [None, 0, 1, np.bool_(True), "yes"])
def test_sdpa_takes_only_a_bool_is_causal_as_torch(value: Any, torch: Any) -> None:
    q = _normal(1, 2, 3, 4, dtype=np.float32)
    with pytest.raises(TypeError, match="argument 'is_causal' must be bool"):
        F.scaled_dot_product_attention(mg.tensor(q), mg.tensor(q), mg.tensor(q), is_causal=value)
    with pytest.raises(TypeError, match="argument 'is_causal' must be bool"):
        torch.nn.functional.scaled_dot_product_attention(torch.tensor(q), torch.tensor(q), torch.tensor(q),
                                                         is_causal=value)


def test_is_causal_none_in_the_layers_as_torch(torch: Any) -> None:
    torch.manual_seed(8)
    t_layer = torch.nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0)
    t_encoder = torch.nn.TransformerEncoder(t_layer, 2, enable_nested_tensor=False)
    layer = nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0)
    encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
    encoder.load_state_dict({k: v.detach().numpy() for k, v in t_encoder.state_dict().items()})
    a = _normal(3, 1, 4, dtype=np.float32)
    causal = torch.nn.Transformer.generate_square_subsequent_mask(3)
    for mask in (None, causal, torch.zeros(3, 3)):   # None lets the encoder detect a causal mask, as torch's
        ours = encoder(mg.tensor(a), mask=None if mask is None else mg.tensor(mask.numpy()), is_causal=None)
        theirs = t_encoder(torch.tensor(a), mask=mask, is_causal=None)
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-5, atol=1e-6)
    # a single layer hands None on to scaled_dot_product_attention, which refuses it in both
    with pytest.raises(TypeError, match="is_causal"):
        t_layer(torch.tensor(a), src_mask=causal, is_causal=None)
    with pytest.raises(TypeError, match="is_causal"):
        layer(mg.tensor(a), src_mask=mg.tensor(causal.numpy()), is_causal=None)
    # the hint without its mask: torch's RuntimeError (also a ValueError here, as minigrad raised before)
    with pytest.raises(RuntimeError, match="Need attn_mask"):
        t_encoder(torch.tensor(a), is_causal=True)
    with pytest.raises(RuntimeError, match="needs attn_mask"):
        encoder(mg.tensor(a), is_causal=True)


# --- on the GPU (a real one, or the strict CuPy stand-in) ----------------------------------------------------

def _fractional_on(lib: Any, x: Any) -> Any:
    samples = lib.tensor(np.linspace(0.1, 0.9, 12).reshape(2, 3, 2), device=x.device)
    return F.fractional_max_pool2d(x, 2, (3, 4), return_indices=True, _random_samples=samples)


def _adaptive_on(lib: Any, x: Any) -> Any:
    mg.manual_seed(8)
    module = nn.AdaptiveLogSoftmaxWithLoss(6, 9, [3, 6], div_value=2.0, dtype=mg.float64).to(x.device)
    target = lib.tensor([0, 4, 8, 2, 6], device=x.device)
    return module(x, target).output, module.log_prob(x), module.predict(x)


GPU_CASES = {
    "fractional_max_pool2d": (_fractional_on, (_normal(2, 3, 6, 7),)),
    "fractional_max_pool3d": (lambda lib, x: F.fractional_max_pool3d(
        x, 2, 3, _random_samples=lib.tensor(np.full((1, 2, 3), 0.4), device=x.device)), (_normal(1, 2, 5, 6, 7),)),
    "adaptive_log_softmax": (_adaptive_on, (_normal(5, 6),)),
    "antialias_bilinear": (lambda lib, x: F.interpolate(x, size=(3, 5), mode="bilinear", antialias=True),
                           (_normal(1, 2, 9, 9),)),
    "antialias_bicubic": (lambda lib, x: F.interpolate(x, scale_factor=0.4, mode="bicubic", antialias=True),
                          (_normal(1, 2, 9, 9),)),
}
test_round8_on_gpu_same_as_on_cpu = gpu_case_tests(GPU_CASES)


# --- nn.utils.fusion, the deprecated spellings, invert_permutation ------------------------------------------

def _copy_into(ours: Any, theirs: Any) -> None:
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def _eval_norm(torch: Any, theirs: Any) -> Any:
    with torch.no_grad():
        theirs.running_mean.uniform_(-1, 1)
        theirs.running_var.uniform_(0.5, 2)
        if theirs.weight is not None:
            theirs.weight.uniform_(0.5, 2)
            theirs.bias.uniform_(-1, 1)
    return theirs.eval()


@pytest.mark.parametrize("conv_bias, affine, transpose", [(False, True, False), (True, True, False),
                                                          (True, False, False), (True, True, True)])
def test_fuse_conv_bn_eval_as_torch(conv_bias: bool, affine: bool, transpose: bool, torch: Any) -> None:
    torch.manual_seed(8)
    make = "ConvTranspose2d" if transpose else "Conv2d"
    t_conv = getattr(torch.nn, make)(3, 4, 3, bias=conv_bias).double().eval()
    t_norm = _eval_norm(torch, torch.nn.BatchNorm2d(4, affine=affine).double())
    conv, norm = getattr(nn, make)(3, 4, 3, bias=conv_bias, dtype=mg.float64), nn.BatchNorm2d(4, affine=affine,
                                                                                             dtype=mg.float64)
    _copy_into(conv, t_conv)
    _copy_into(norm, t_norm)
    conv.eval()
    norm.eval()
    fused, t_fused = nn.utils.fuse_conv_bn_eval(conv, norm, transpose), torch.nn.utils.fuse_conv_bn_eval(
        t_conv, t_norm, transpose)
    a = _normal(2, 3, 6, 6)
    np.testing.assert_allclose(fused(mg.tensor(a)).detach().numpy(), t_fused(torch.tensor(a)).detach().numpy(),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fused(mg.tensor(a)).detach().numpy(), norm(conv(mg.tensor(a))).detach().numpy(),
                               rtol=1e-12, atol=1e-12)
    assert isinstance(fused.bias, nn.Parameter) and fused is not conv
    assert (fused.weight.requires_grad, fused.bias.requires_grad) == (t_fused.weight.requires_grad,
                                                                      t_fused.bias.requires_grad)
    assert conv.bias is None or conv.bias is not fused.bias   # the original is left alone


@pytest.mark.parametrize("features", [4, 1])
def test_fuse_linear_bn_eval_as_torch(features: int, torch: Any) -> None:
    torch.manual_seed(8)
    t_linear, t_norm = torch.nn.Linear(5, 4).double().eval(), _eval_norm(torch, torch.nn.BatchNorm1d(features).double())
    linear, norm = nn.Linear(5, 4, dtype=mg.float64), nn.BatchNorm1d(features, dtype=mg.float64)
    _copy_into(linear, t_linear)
    _copy_into(norm, t_norm)
    linear.eval()
    norm.eval()
    a = _normal(3, 5)
    fused, t_fused = nn.utils.fuse_linear_bn_eval(linear, norm), torch.nn.utils.fuse_linear_bn_eval(t_linear, t_norm)
    np.testing.assert_allclose(fused(mg.tensor(a)).detach().numpy(), t_fused(torch.tensor(a)).detach().numpy(),
                               rtol=1e-12, atol=1e-12)
    with pytest.raises(AssertionError, match="Fusion only for eval"):
        nn.utils.fuse_linear_bn_eval(linear.train(), norm)
    with pytest.raises(AssertionError, match="linear.out_features == bn.num_features"):
        nn.utils.fuse_linear_bn_eval(nn.Linear(5, 3).eval(), nn.BatchNorm1d(4).eval())
    assert nn.utils.fusion.fuse_conv_bn_weights is nn.utils.fuse_conv_bn_weights


@pytest.mark.parametrize("name", ["uniform", "normal", "constant", "eye", "dirac", "xavier_uniform", "xavier_normal",
                                  "kaiming_uniform", "kaiming_normal", "orthogonal"])
def test_deprecated_init_spellings_warn_and_fill_as_the_new_ones(name: str, torch: Any) -> None:
    shape = (3, 2, 3) if name == "dirac" else (3, 4)
    arguments = (0.5,) if name == "constant" else ()
    with pytest.warns(FutureWarning, match=f"`nn.init.{name}` is now deprecated in favor of `nn.init.{name}_`"):
        ours = getattr(nn.init, name)(mg.empty(*shape), *arguments)
    with pytest.warns(FutureWarning, match=f"`nn.init.{name}` is now deprecated"):
        theirs = getattr(torch.nn.init, name)(torch.empty(*shape), *arguments)
    assert ours.shape == tuple(theirs.shape) and getattr(nn.init, name).__name__ == name
    if name in ("constant", "eye", "dirac"):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_clip_grad_norm_is_the_deprecated_clip_grad_norm_(torch: Any) -> None:
    layer = nn.Linear(3, 2)
    (layer(mg.ones(4, 3)) * 10).sum().backward()
    with pytest.warns(FutureWarning, match="`torch.nn.utils.clip_grad_norm` is now deprecated"):
        total = nn.utils.clip_grad_norm(layer.parameters(), 1.0)
    assert float(total) > 1.0 and abs(float(nn.utils.get_total_norm([p.grad for p in layer.parameters()])) - 1) < 1e-5


def test_invert_permutation_as_torch(torch: Any) -> None:
    permutation = np.array([3, 0, 4, 1, 2])
    ours = nn.utils.rnn.invert_permutation(mg.tensor(permutation))
    theirs = torch.nn.utils.rnn.invert_permutation(torch.tensor(permutation))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert ours.dtype == mg.int64 and nn.utils.rnn.invert_permutation(None) is None
    packed = nn.utils.rnn.pack_sequence([mg.ones(2, 1), mg.ones(3, 1)], enforce_sorted=False)
    np.testing.assert_array_equal(nn.utils.rnn.invert_permutation(packed.sorted_indices).numpy(),
                                  packed.unsorted_indices.numpy())


def test_deprecated_modules_warn_and_work_as_torchs(torch: Any) -> None:
    with pytest.warns(FutureWarning, match="`NLLLoss2d` has been deprecated"):
        loss = nn.NLLLoss2d(ignore_index=1)
    with pytest.warns(FutureWarning, match="`NLLLoss2d` has been deprecated"):
        t_loss = torch.nn.NLLLoss2d(ignore_index=1)
    a, target = _normal(2, 3, 4, 4), RNG.integers(0, 3, (2, 4, 4))
    np.testing.assert_allclose(loss(mg.tensor(a).log_softmax(dim=1), mg.tensor(target)).numpy(),
                               t_loss(torch.tensor(a).log_softmax(dim=1), torch.tensor(target)).numpy(), rtol=1e-12)
    assert isinstance(loss, nn.NLLLoss) and repr(loss) == repr(t_loss)
    with pytest.warns(FutureWarning, match="`nn.Container` is deprecated"):
        container = nn.Container(first=nn.Linear(2, 3))
    with pytest.warns(FutureWarning, match="`nn.Container` is deprecated"):
        t_container = torch.nn.Container(first=torch.nn.Linear(2, 3))
    assert repr(container) == repr(t_container) and list(container.state_dict()) == list(t_container.state_dict())


def test_conv_tbc_and_rrelu_in_place_are_functional_names_too(torch: Any) -> None:
    assert F.conv_tbc is mg.conv_tbc and F.rrelu_ is mg.rrelu_
    assert {"conv_tbc", "rrelu_"} <= set(F.__all__)
    a, w, b = _normal(5, 2, 3), _normal(3, 3, 4), _normal(4)
    np.testing.assert_allclose(F.conv_tbc(mg.tensor(a), mg.tensor(w), mg.tensor(b), 1).numpy(),
                               torch.nn.functional.conv_tbc(torch.tensor(a), torch.tensor(w), torch.tensor(b),
                                                            1).numpy(), rtol=1e-12)
    x, tx = mg.tensor(_normal(6)), None
    tx = torch.tensor(x.numpy())
    assert F.rrelu_(x) is x and torch.nn.functional.rrelu_(tx) is tx
    np.testing.assert_allclose(x.numpy(), tx.numpy(), rtol=1e-12)


# --- SyncBatchNorm (one process) -----------------------------------------------------------------------------

def test_sync_batchnorm_converts_and_normalises_as_torch_in_one_process(torch: Any) -> None:
    torch.manual_seed(8)
    t_model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4),
                                  torch.nn.Sequential(torch.nn.Flatten(), torch.nn.BatchNorm1d(64, momentum=None)))
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4),
                          nn.Sequential(nn.Flatten(), nn.BatchNorm1d(64, momentum=None)))
    _copy_into(model, t_model.double())
    model.double()
    norm = model[1]
    t_model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(t_model)
    model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert repr(model) == repr(t_model) and list(model.state_dict()) == list(t_model.state_dict())
    assert type(model[1]) is nn.SyncBatchNorm and model[1].weight is norm.weight
    assert model[1].running_mean is norm.running_mean
    a = _normal(2, 3, 6, 6)
    for training in (True, True, False):
        x, tx = mg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        out, t_out = model.train(training)(x), t_model.train(training)(tx)
        np.testing.assert_allclose(out.detach().numpy(), t_out.detach().numpy(), rtol=1e-9, atol=1e-10)
        (out * out).sum().backward()
        (t_out * t_out).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-8, atol=1e-9)
    for key, value in model.state_dict().items():
        np.testing.assert_allclose(value.numpy(), t_model.state_dict()[key].numpy(), rtol=1e-12, err_msg=key)


def test_sync_batchnorm_takes_any_rank_and_refuses_what_torch_refuses(torch: Any) -> None:
    for shape in ((4, 3), (2, 3, 5), (2, 3, 2, 2, 2)):
        a = _normal(*shape)
        np.testing.assert_allclose(nn.SyncBatchNorm(3, dtype=mg.float64)(mg.tensor(a)).detach().numpy(),
                                   torch.nn.SyncBatchNorm(3).double()(torch.tensor(a)).detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
    with pytest.raises(ValueError, match="expected at least 2D input"):
        nn.SyncBatchNorm(3)(mg.ones(3))
    with pytest.raises(ValueError, match="expected at least 2D input"):
        torch.nn.SyncBatchNorm(3)(torch.ones(3))
    with pytest.raises(NotImplementedError, match="process_group"):
        nn.SyncBatchNorm(3, process_group=object())
    assert repr(nn.SyncBatchNorm(3, bias=False)) == repr(torch.nn.SyncBatchNorm(3, bias=False))
