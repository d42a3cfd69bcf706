"""F.scaled_dot_product_attention, F.multi_head_attention_forward and nn.MultiheadAttention against torch 2.13:
values, attention weights and every gradient (inputs, float masks, parameters) in float64 to 1e-10 and in
float32 to ~1e-5, with torch's weights loaded through load_state_dict; gradcheck; torch's masks, shapes
and errors.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import assert_close, assert_ieee_close, check_against_torch

import minigrad as mg
import nn
from nn import functional as F

RNG = np.random.default_rng(41)


def leaf(*shape: int, dtype: object = mg.float64) -> mg.Tensor:
    return mg.tensor(RNG.standard_normal(shape), dtype=dtype, requires_grad=True)


def torch_sdpa(torch, **kwargs):
    return lambda q, k, v: torch.nn.functional.scaled_dot_product_attention(q, k, v, **kwargs)


# --- scaled_dot_product_attention ---------------------------------------------------------------------------

SHAPES = {   # query, key, value
    "2d": ((3, 4), (5, 4), (5, 6)),
    "3d": ((2, 3, 4), (2, 5, 4), (2, 5, 6)),
    "4d": ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 2)),
    "broadcast_batch": ((2, 3, 7, 4), (3, 5, 4), (3, 5, 6)),
    "broadcast_ones": ((2, 3, 7, 4), (1, 3, 5, 4), (2, 1, 5, 6)),
    "longer_query": ((2, 6, 4), (2, 3, 4), (2, 3, 4)),
}


@pytest.mark.parametrize("case", list(SHAPES))
@pytest.mark.parametrize("scale", [None, 0.3, -0.7])
def test_sdpa_matches_torch_values_and_gradients(torch, case: str, scale: float | None) -> None:
    inputs = [leaf(*shape) for shape in SHAPES[case]]
    check_against_torch(torch, lambda q, k, v: F.scaled_dot_product_attention(q, k, v, scale=scale),
                        torch_sdpa(torch, scale=scale), inputs)


@pytest.mark.parametrize("mask_shape", [(3, 5), (3, 1), (2, 1, 3, 5), (1, 2, 3, 5), (2, 2, 1, 5)])
def test_sdpa_bool_mask_broadcasts_as_torch(torch, mask_shape: tuple) -> None:
    mask = RNG.random(mask_shape) > 0.35
    inputs = [leaf(2, 2, 3, 4), leaf(2, 2, 5, 4), leaf(2, 2, 5, 3)]
    check_against_torch(torch, lambda q, k, v: F.scaled_dot_product_attention(q, k, v, mg.tensor(mask)),
                        torch_sdpa(torch, attn_mask=torch.from_numpy(mask)), inputs)


@pytest.mark.parametrize("mask_shape", [(3, 5), (2, 1, 3, 5), (1, 5)])
def test_sdpa_float_mask_is_added_and_gets_its_gradient_as_torch(torch, mask_shape: tuple) -> None:
    fn = F.scaled_dot_product_attention
    inputs = [leaf(2, 2, 3, 4), leaf(2, 2, 5, 4), leaf(2, 2, 5, 3), leaf(*mask_shape)]
    check_against_torch(torch, lambda q, k, v, m: fn(q, k, v, m),
                        lambda q, k, v, m: torch.nn.functional.scaled_dot_product_attention(q, k, v, m), inputs)


@pytest.mark.parametrize("lengths", [(4, 4), (3, 6), (6, 3)])
def test_sdpa_causal_mask_is_top_left_aligned_as_torch(torch, lengths: tuple) -> None:
    target, source = lengths
    inputs = [leaf(2, target, 4), leaf(2, source, 4), leaf(2, source, 3)]
    check_against_torch(torch, lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                        torch_sdpa(torch, is_causal=True), inputs)
    lower = mg.tensor(np.tril(np.ones((target, source), dtype=bool)))
    causal = F.scaled_dot_product_attention(*inputs, is_causal=True)
    np.testing.assert_array_equal(causal.numpy(), F.scaled_dot_product_attention(*inputs, lower).numpy())


@pytest.mark.parametrize("shapes", [((2, 4, 3, 5), (2, 2, 6, 5), (2, 2, 6, 3)),
                                    ((4, 3, 5), (1, 6, 5), (2, 6, 3)),
                                    ((2, 4, 3, 5), (2, 4, 6, 5), (2, 4, 6, 3))])
def test_sdpa_grouped_query_attention_as_torch(torch, shapes: tuple) -> None:
    inputs = [leaf(*shape) for shape in shapes]
    check_against_torch(torch, lambda q, k, v: F.scaled_dot_product_attention(q, k, v, enable_gqa=True),
                        torch_sdpa(torch, enable_gqa=True), inputs)


def test_sdpa_rows_with_every_key_masked_give_zeros_and_no_gradient_as_torch(torch) -> None:
    """torch 2.13's math kernel (_safe_softmax) gives 0, not NaN, for a query that may see no key; its
    gradient is 0 too, and the other rows' gradients stay finite."""
    bool_mask = RNG.random((2, 3, 5)) > 0.3
    bool_mask[0, 1] = False
    bool_mask[1, :, 2] = True
    float_mask = np.where(bool_mask, 0.0, -np.inf)
    for mask in (bool_mask, float_mask):
        inputs = [leaf(2, 3, 4), leaf(2, 5, 4), leaf(2, 5, 3)]
        with warnings.catch_warnings():
            warnings.simplefilter("error")   # no NumPy warnings on the way
            check_against_torch(torch, lambda q, k, v, m=mask: F.scaled_dot_product_attention(q, k, v, mg.tensor(m)),
                                torch_sdpa(torch, attn_mask=torch.from_numpy(mask)), inputs)
        out = F.scaled_dot_product_attention(*(x.detach() for x in inputs), mg.tensor(mask))
        np.testing.assert_array_equal(out.numpy()[0, 1], 0.0)
        assert inputs[0].grad is not None and np.all(inputs[0].grad.numpy()[0, 1] == 0)
        assert all(np.isfinite(x.grad.numpy()).all() for x in inputs)


def test_sdpa_empty_source_and_empty_embedding_as_torch(torch) -> None:
    for shapes in (((3, 4), (0, 4), (0, 6)), ((3, 0), (5, 0), (5, 6)), ((0, 4), (5, 4), (5, 6))):
        ours = F.scaled_dot_product_attention(*(mg.tensor(np.ones(s)) for s in shapes))
        theirs = torch.nn.functional.scaled_dot_product_attention(*(torch.ones(s, dtype=torch.float64)
                                                                     for s in shapes))
        assert_close(ours, theirs, what=str(shapes))


def test_sdpa_gradcheck() -> None:
    mask = mg.tensor(RNG.random((3, 5)) > 0.3)
    for kwargs in ({}, {"attn_mask": mask}, {"is_causal": True}, {"scale": 0.2}):
        inputs = [leaf(2, 3, 4), leaf(2, 5, 4), leaf(2, 5, 2)]
        assert mg.gradcheck(lambda q, k, v, kw=kwargs: F.scaled_dot_product_attention(q, k, v, **kw), inputs)
    assert mg.gradcheck(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, m),
                        [leaf(2, 3, 4), leaf(2, 5, 4), leaf(2, 5, 2), leaf(3, 5)])
    assert mg.gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, enable_gqa=True),
                        [leaf(4, 3, 2), leaf(2, 5, 2), leaf(1, 5, 3)])


def test_sdpa_float32_matches_torch(torch) -> None:
    mask = RNG.random((3, 5)) > 0.3
    inputs = [leaf(2, 2, 3, 8, dtype=mg.float32), leaf(2, 2, 5, 8, dtype=mg.float32),
              leaf(2, 2, 5, 8, dtype=mg.float32)]
    out = F.scaled_dot_product_attention(*inputs, mg.tensor(mask))
    assert out.dtype == mg.float32
    check_against_torch(torch, lambda q, k, v: F.scaled_dot_product_attention(q, k, v, mg.tensor(mask)),
                        torch_sdpa(torch, attn_mask=torch.from_numpy(mask)), inputs, rtol=1e-5, atol=1e-6)


def test_sdpa_dropout_zeroes_weights_and_scales_the_rest() -> None:
    """With value = the identity the output is the (dropped-out) weights themselves."""
    q, k = leaf(2, 4, 3), leaf(2, 6, 3)
    eye = mg.tensor(np.eye(6))
    weights = F.scaled_dot_product_attention(q, k, eye).numpy()
    np.testing.assert_allclose(weights.sum(-1), 1.0)
    dropped = F.scaled_dot_product_attention(q, k, eye, dropout_p=0.5).numpy()
    kept = dropped != 0
    assert 0 < kept.sum() < kept.size
    np.testing.assert_allclose(dropped[kept], 2 * weights[kept], rtol=1e-12)
    mg.manual_seed(3)
    first = F.scaled_dot_product_attention(q, k, eye, dropout_p=0.3).numpy()
    mg.manual_seed(3)
    np.testing.assert_array_equal(first, F.scaled_dot_product_attention(q, k, eye, dropout_p=0.3).numpy())
    np.testing.assert_array_equal(F.scaled_dot_product_attention(q, k, eye, dropout_p=1.0).numpy(), 0.0)


def test_sdpa_errors_name_the_function_and_the_problem() -> None:
    q, k, v = mg.randn(3, 4), mg.randn(5, 4), mg.randn(5, 6)
    fn = F.scaled_dot_product_attention
    with pytest.raises(ValueError, match="at least 2 dims"):
        fn(mg.randn(4), mg.randn(4), mg.randn(4))
    with pytest.raises(TypeError, match="same dtype"):
        fn(q, k.double(), v)
    with pytest.raises(TypeError, match="floating point"):
        fn(*(mg.ones(2, 2, dtype=mg.int64) for _ in range(3)))
    with pytest.raises(ValueError, match="do not fit"):
        fn(q, mg.randn(5, 3), v)
    with pytest.raises(ValueError, match="do not fit"):
        fn(q, k, mg.randn(6, 6))
    with pytest.raises(TypeError, match="attn_mask must be bool or of the query's dtype"):
        fn(q, k, v, mg.ones(3, 5, dtype=mg.int64))
    with pytest.raises(TypeError, match="attn_mask must be bool or of the query's dtype"):
        fn(q, k, v, mg.ones(3, 5, dtype=mg.float64))
    with pytest.raises(ValueError, match=r"attn_mask of shape \(4, 5\) does not broadcast"):
        fn(q, k, v, mg.ones(4, 5, dtype=mg.bool_))
    with pytest.raises(ValueError, match="does not broadcast"):
        fn(q, k, v, mg.ones(2, 3, 5, dtype=mg.bool_))
    with pytest.raises(ValueError, match="is_causal"):
        fn(q, k, v, mg.ones(3, 5, dtype=mg.bool_), is_causal=True)
    with pytest.raises(ValueError, match="between 0 and 1"):
        fn(q, k, v, dropout_p=1.5)
    with pytest.raises(ValueError, match="must divide"):
        fn(mg.randn(3, 2, 4), mg.randn(2, 5, 4), mg.randn(2, 5, 4), enable_gqa=True)
    with pytest.raises(ValueError, match="heads dim"):
        fn(q, k, v, enable_gqa=True)
    with pytest.raises(TypeError):
        fn(q, k, v, None, 0.0, False, 0.5)   # scale is keyword-only, as torch's


# --- MultiheadAttention -------------------------------------------------------------------------------------

def twins(torch, *args, dtype: str = "float64", **kwargs) -> tuple:
    """An nn.MultiheadAttention and a torch one with the same (random, non-trivial) weights, via load_state_dict."""
    theirs = torch.nn.MultiheadAttention(*args, **kwargs, dtype=getattr(torch, dtype))
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.from_numpy(RNG.standard_normal(tuple(p.shape)) * 0.5))
    ours = nn.MultiheadAttention(*args, **kwargs, dtype=dtype)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({name: value.numpy() for name, value in theirs.state_dict().items()})
    return ours, theirs


def compare(torch, ours, theirs, arrays: list, masks: dict, kwargs: dict, rtol: float = 1e-10,
            atol: float = 1e-12, self_attention: bool = False) -> None:
    """Output, weights, input and parameter gradients of both modules on the same inputs and masks."""
    dtype = ours.in_proj_bias.dtype if ours.in_proj_bias is not None else ours.out_proj.weight.dtype
    inputs = [mg.tensor(a, dtype=dtype, requires_grad=True) for a in arrays]
    t_inputs = [torch.from_numpy(a).to(getattr(torch, str(dtype))).requires_grad_(True) for a in arrays]
    if self_attention:
        inputs, t_inputs = inputs[:1] * 3, t_inputs[:1] * 3
    our_masks = {name: mg.tensor(m, dtype=dtype if m.dtype.kind == "f" else None) for name, m in masks.items()}
    their_masks = {name: torch.from_numpy(m).to(getattr(torch, str(dtype)) if m.dtype.kind == "f" else torch.bool)
                   for name, m in masks.items()}
    out, weights = ours(*inputs, **our_masks, **kwargs)
    t_out, t_weights = theirs(*t_inputs, **their_masks, **kwargs)
    assert_ieee_close(out, t_out, "output", rtol, atol)
    assert (weights is None) == (t_weights is None)
    if weights is not None:
        assert_ieee_close(weights, t_weights, "weights", rtol, atol)
    if not theirs.training or not np.isfinite(out.numpy()).all():
        return
    grad = RNG.standard_normal(out.shape)
    loss = (out * mg.tensor(grad, dtype=dtype)).sum()
    t_loss = (t_out * torch.from_numpy(grad).to(t_out.dtype)).sum()
    if weights is not None:
        grad_w = RNG.standard_normal(weights.shape)
        loss = loss + (weights * mg.tensor(grad_w, dtype=dtype)).sum()
        t_loss = t_loss + (t_weights * torch.from_numpy(grad_w).to(t_out.dtype)).sum()
    loss.backward()
    t_loss.backward()
    for i, (x, tx) in enumerate(zip(inputs[:3 if not self_attention else 1], t_inputs)):
        assert_close(x.grad, tx.grad, rtol, atol, f"grad of input {i}")
    params = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        assert_close(params[name].grad, p.grad, rtol, atol, f"grad of {name}")


CONFIGS = {
    "plain": {},
    "no_bias": {"bias": False},
    "bias_kv": {"add_bias_kv": True},
    "zero_attn": {"add_zero_attn": True},
    "bias_kv_zero_attn": {"add_bias_kv": True, "add_zero_attn": True},
    "kdim_vdim": {"kdim": 3, "vdim": 5},
    "batch_first": {"batch_first": True},
    "everything": {"add_bias_kv": True, "add_zero_attn": True, "kdim": 3, "vdim": 5, "batch_first": True},
}


def sequences(config: dict, target: int = 4, source: int = 6, batch: int = 2, embed: int = 8) -> list:
    def shape(length: int, features: int) -> tuple:
        return (batch, length, features) if config.get("batch_first") else (length, batch, features)

    return [RNG.standard_normal(shape(target, embed)), RNG.standard_normal(shape(source, config.get("kdim", embed))),
            RNG.standard_normal(shape(source, config.get("vdim", embed)))]


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
def test_multihead_attention_matches_torch_in_training(torch, config: str, need_weights: bool,
                                                       average: bool) -> None:
    ours, theirs = twins(torch, 8, 2, **CONFIGS[config])
    kwargs = {"need_weights": need_weights, "average_attn_weights": average}
    compare(torch, ours, theirs, sequences(CONFIGS[config]), {}, kwargs)


MASKS = {
    "bool_2d": lambda: {"attn_mask": RNG.random((4, 6)) > 0.7},
    "float_2d": lambda: {"attn_mask": RNG.standard_normal((4, 6))},
    "bool_3d": lambda: {"attn_mask": RNG.random((2 * 2, 4, 6)) > 0.7},
    "float_3d": lambda: {"attn_mask": RNG.standard_normal((2 * 2, 4, 6))},
    "bool_padding": lambda: {"key_padding_mask": np.array([[False] * 6, [False] * 4 + [True] * 2])},
    "float_padding": lambda: {"key_padding_mask": RNG.standard_normal((2, 6))},
    "both_bool": lambda: {"attn_mask": RNG.random((4, 6)) > 0.8, "key_padding_mask": RNG.random((2, 6)) > 0.8},
    "both_float": lambda: {"attn_mask": RNG.standard_normal((4, 6)), "key_padding_mask": RNG.standard_normal((2, 6))},
}


@pytest.mark.parametrize("mask", list(MASKS))
@pytest.mark.parametrize("config", ["plain", "bias_kv_zero_attn", "batch_first"])
@pytest.mark.parametrize("need_weights", [True, False])
def test_multihead_attention_masks_match_torch(torch, mask: str, config: str, need_weights: bool) -> None:
    masks = MASKS[mask]()
    for m in masks.values():   # no query without any key: those rows are compared on their own below
        if m.dtype == bool:
            m[..., 0] = False
    ours, theirs = twins(torch, 8, 2, **CONFIGS[config])
    compare(torch, ours, theirs, sequences(CONFIGS[config]), masks, {"need_weights": need_weights})


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
def test_multihead_self_attention_with_a_causal_mask_and_is_causal_as_torch(torch, need_weights: bool,
                                                                            batch_first: bool) -> None:
    ours, theirs = twins(torch, 8, 4, batch_first=batch_first)
    causal = np.triu(np.ones((5, 5), dtype=bool), 1)
    x = RNG.standard_normal((2, 5, 8) if batch_first else (5, 2, 8))
    for masks in ({"attn_mask": causal}, {"attn_mask": np.where(causal, -np.inf, 0.0)},
                  {"attn_mask": causal, "key_padding_mask": np.array([[False] * 5, [False] * 3 + [True] * 2])}):
        compare(torch, ours, theirs, [x], masks, {"need_weights": need_weights, "is_causal": True},
                self_attention=True)


@pytest.mark.parametrize("config", ["plain", "bias_kv_zero_attn", "kdim_vdim"])
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
def test_multihead_attention_unbatched_input_as_torch(torch, config: str, need_weights: bool,
                                                      average: bool) -> None:
    settings = CONFIGS[config]
    ours, theirs = twins(torch, 8, 2, **settings)
    arrays = [RNG.standard_normal((4, 8)), RNG.standard_normal((6, settings.get("kdim", 8))),
              RNG.standard_normal((6, settings.get("vdim", 8)))]
    masks = {"key_padding_mask": np.array([False] * 5 + [True]), "attn_mask": RNG.random((2, 4, 6)) > 0.8}
    masks["attn_mask"][..., 0] = False
    compare(torch, ours, theirs, arrays, masks, {"need_weights": need_weights, "average_attn_weights": average})
    out, weights = ours(*(mg.tensor(a) for a in arrays), need_weights=need_weights, average_attn_weights=average)
    source = 6 + settings.get("add_bias_kv", False) + settings.get("add_zero_attn", False)
    assert out.shape == (4, 8)
    assert weights is None or weights.shape == ((4, source) if average else (2, 4, source))


@pytest.mark.parametrize("config", ["plain", "batch_first", "everything"])
@pytest.mark.parametrize("need_weights", [True, False])
def test_multihead_attention_in_eval_mode_matches_torch(torch, config: str, need_weights: bool) -> None:
    """torch takes its fused fast path here where it can (batch_first self-attention without grad); the
    values agree up to rounding."""
    ours, theirs = twins(torch, 8, 2, dropout=0.3, **CONFIGS[config])
    ours.eval()
    theirs.eval()
    arrays = sequences(CONFIGS[config])
    masks = {"key_padding_mask": np.array([[False] * 6, [False] * 4 + [True] * 2])}
    self_masks = {"key_padding_mask": np.array([[False] * 4, [False] * 3 + [True]])}
    with torch.no_grad():
        compare(torch, ours, theirs, arrays, masks, {"need_weights": need_weights})
        if not CONFIGS[config].get("kdim"):
            compare(torch, ours, theirs, arrays, self_masks, {"need_weights": need_weights}, self_attention=True)


def test_multihead_attention_float32_matches_torch(torch) -> None:
    ours, theirs = twins(torch, 8, 2, dtype="float32", add_bias_kv=True, batch_first=True)
    masks = {"key_padding_mask": np.array([[False] * 6, [False] * 4 + [True] * 2])}
    compare(torch, ours, theirs, sequences({"batch_first": True}), masks, {}, rtol=1e-5, atol=1e-6)
    out, _ = ours(*(mg.tensor(a, dtype=mg.float32) for a in sequences({"batch_first": True})))
    assert out.dtype == mg.float32


@pytest.mark.parametrize("need_weights", [True, False])
def test_multihead_attention_queries_without_keys_as_torch(torch, need_weights: bool) -> None:
    """A batch entry whose every key is padding: NaN with need_weights=True (a plain softmax), the output
    projection of zeros with need_weights=False (scaled_dot_product_attention's safe softmax), as torch's."""
    ours, theirs = twins(torch, 8, 2)
    masks = {"key_padding_mask": np.array([[False] * 6, [True] * 6])}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compare(torch, ours, theirs, sequences({}), masks, {"need_weights": need_weights})
    out, _ = ours(*(mg.tensor(a) for a in sequences({})), key_padding_mask=mg.tensor(masks["key_padding_mask"]),
                  need_weights=need_weights)
    if need_weights:
        assert np.isnan(out.numpy()[:, 1]).all() and np.isfinite(out.numpy()[:, 0]).all()
    else:
        np.testing.assert_allclose(out.numpy()[:, 1], np.broadcast_to(ours.out_proj.bias.numpy(), (4, 8)))


def test_multihead_attention_parameters_init_and_repr_as_torch(torch) -> None:
    for kwargs in ({}, {"bias": False}, {"add_bias_kv": True}, {"kdim": 3, "vdim": 5}):
        ours, theirs = nn.MultiheadAttention(12, 3, **kwargs), torch.nn.MultiheadAttention(12, 3, **kwargs)
        assert [(n, p.shape) for n, p in ours.named_parameters()] == \
            [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
        assert repr(ours) == repr(theirs)
        assert all(p.dtype == mg.float32 for p in ours.parameters())
        for name in ("embed_dim", "kdim", "vdim", "num_heads", "head_dim", "batch_first", "dropout",
                     "add_zero_attn", "_qkv_same_embed_dim"):
            assert getattr(ours, name) == getattr(theirs, name), name
    ours = nn.MultiheadAttention(12, 3, add_bias_kv=True)
    bound = np.sqrt(6 / (12 + 36))   # xavier_uniform_ on (3E, E)
    weight = ours.in_proj_weight.numpy()
    assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.8 * bound
    np.testing.assert_array_equal(ours.in_proj_bias.numpy(), 0.0)
    np.testing.assert_array_equal(ours.out_proj.bias.numpy(), 0.0)
    assert np.abs(ours.out_proj.weight.numpy()).max() <= 1 / np.sqrt(12)
    assert ours.bias_k.shape == ours.bias_v.shape == (1, 1, 12) and np.abs(ours.bias_k.numpy()).max() > 0
    assert nn.MultiheadAttention(12, 3, kdim=3).in_proj_weight is None
    assert nn.MultiheadAttention(4, 2, dtype=mg.float64).out_proj.weight.dtype == mg.float64


def test_multihead_attention_dropout_acts_in_training_only(torch) -> None:
    ours, _ = twins(torch, 8, 2, dropout=0.5)
    arrays = [mg.tensor(a) for a in sequences({})]
    plain = nn.MultiheadAttention(8, 2, dtype=mg.float64)
    plain.load_state_dict(ours.state_dict())
    expected = plain(*arrays)[0].numpy()
    assert not np.allclose(ours(*arrays)[0].numpy(), expected)
    ours.eval()
    np.testing.assert_allclose(ours(*arrays)[0].numpy(), expected, rtol=1e-12)


def test_multi_head_attention_forward_gradcheck() -> None:
    ours = nn.MultiheadAttention(4, 2, add_bias_kv=True, add_zero_attn=True, kdim=3, dtype=mg.float64)
    mask = mg.tensor(np.array([[False, False, True], [False, False, False]]))

    def fn(query, key, value, q_weight, bias):
        return F.multi_head_attention_forward(
            query, key, value, 4, 2, None, bias, ours.bias_k, ours.bias_v, True, 0.0, ours.out_proj.weight,
            ours.out_proj.bias, key_padding_mask=mask, use_separate_proj_weight=True, q_proj_weight=q_weight,
            k_proj_weight=ours.k_proj_weight, v_proj_weight=ours.v_proj_weight)[0]

    assert mg.gradcheck(fn, [leaf(2, 2, 4), leaf(3, 2, 3), leaf(3, 2, 4), leaf(4, 4), leaf(12)])


def test_multihead_attention_static_k_v_as_torch(torch) -> None:
    _, theirs = twins(torch, 8, 2)
    arrays = sequences({})
    static_k, static_v = RNG.standard_normal((4, 7, 4)), RNG.standard_normal((4, 7, 4))
    params = {name: mg.tensor(p.detach().numpy()) for name, p in theirs.named_parameters()}
    out, weights = F.multi_head_attention_forward(
        *(mg.tensor(a) for a in arrays), 8, 2, params["in_proj_weight"], params["in_proj_bias"], None, None,
        False, 0.0, params["out_proj.weight"], params["out_proj.bias"], static_k=mg.tensor(static_k),
        static_v=mg.tensor(static_v))
    t_out, t_weights = torch.nn.functional.multi_head_attention_forward(
        *(torch.from_numpy(a) for a in arrays), 8, 2, theirs.in_proj_weight, theirs.in_proj_bias, None, None,
        False, 0.0, theirs.out_proj.weight, theirs.out_proj.bias, static_k=torch.from_numpy(static_k),
        static_v=torch.from_numpy(static_v))
    assert_close(out, t_out, what="output")
    assert_close(weights, t_weights, what="weights")


def test_multihead_attention_errors_and_warnings() -> None:
    with pytest.raises(ValueError, match="divisible by num_heads"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="embed_dim must be a positive int"):
        nn.MultiheadAttention(0, 1)
    with pytest.raises(ValueError, match="dropout"):
        nn.MultiheadAttention(4, 2, dropout=2.0)
    attention = nn.MultiheadAttention(4, 2)
    x = mg.randn(3, 2, 4)
    with pytest.raises(ValueError, match=r"2-D attn_mask has shape \(3, 4\), expected \(3, 3\)"):
        attention(x, x, x, attn_mask=mg.zeros(3, 4))
    with pytest.raises(ValueError, match=r"3-D attn_mask has shape \(2, 3, 3\), expected \(4, 3, 3\)"):
        attention(x, x, x, attn_mask=mg.zeros(2, 3, 3))
    with pytest.raises(ValueError, match=r"key_padding_mask has shape \(3, 3\), expected \(2, 3\)"):
        attention(x, x, x, key_padding_mask=mg.zeros(3, 3, dtype=mg.bool_))
    with pytest.raises(ValueError, match="key_padding_mask must be 2-D"):
        attention(x, x, x, key_padding_mask=mg.zeros(3, dtype=mg.bool_))
    with pytest.raises(TypeError, match="attn_mask must be bool or of the query's dtype"):
        attention(x, x, x, attn_mask=mg.zeros(3, 3, dtype=mg.int64))
    with pytest.raises(ValueError, match="expected embedding dimension 4"):
        attention(mg.randn(3, 2, 5), x, x)
    with pytest.raises(ValueError, match="is_causal=True needs attn_mask"):
        attention(x, x, x, is_causal=True)
    with pytest.raises(ValueError, match="query must be 2-D"):
        attention(mg.randn(1, 3, 2, 4), x, x)
    with pytest.warns(UserWarning, match="mismatched key_padding_mask and attn_mask"):
        attention(x, x, x, attn_mask=mg.zeros(3, 3), key_padding_mask=mg.zeros(2, 3, dtype=mg.bool_))


def test_functional_and_module_are_exported() -> None:
    assert "scaled_dot_product_attention" in F.__all__ and "multi_head_attention_forward" in F.__all__
    assert "MultiheadAttention" in nn.__all__
    from minigrad import nn as nn_again  # noqa: PLC0415

    assert nn_again.MultiheadAttention is nn.MultiheadAttention


@pytest.mark.gpu
def test_attention_on_gpu_matches_cpu() -> None:
    arrays = [RNG.standard_normal(s).astype(np.float32) for s in ((2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 4))]
    mask = RNG.random((3, 5)) > 0.3
    mask[1] = False
    cpu_attention = nn.MultiheadAttention(8, 2, add_bias_kv=True, batch_first=True)
    results = {}
    for device in ("cpu", "cuda"):
        leaves = [mg.tensor(a, requires_grad=True, device=device) for a in arrays]
        out = F.scaled_dot_product_attention(*leaves, mg.tensor(mask, device=device))
        out.sum().backward()
        attention = nn.MultiheadAttention(8, 2, add_bias_kv=True, batch_first=True).to(device)
        attention.load_state_dict(cpu_attention.state_dict())
        x = mg.tensor(arrays[0].reshape(2, 3, 8), requires_grad=True, device=device)
        y, weights = attention(x, x, x, key_padding_mask=mg.tensor(np.array([[False] * 3, [True, False, False]]),
                                                                   device=device))
        (y.sum() + weights.sum()).backward()
        assert y.device.type == device
        results[device] = [out.numpy(), *(leaf.grad.numpy() for leaf in leaves), y.numpy(), weights.numpy(),
                           x.grad.numpy(), attention.in_proj_weight.grad.numpy()]
    for a, b in zip(results["cuda"], results["cpu"]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
