"""Adversarial checks of attention and the Transformer against torch 2.13 (float64, 1e-9): every mask kind and
combination through nn.MultiheadAttention (both the need_weights and the scaled-dot-product paths, rows that
are fully masked out), dropout placement and eval determinism, the causal hints, and the regressions found
by probing: an integer ``generate_square_subsequent_mask`` dtype, a float32 ``attn_mask`` on a float64
``scaled_dot_product_attention``, and ``TransformerEncoder.use_nested_tensor``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import minigrad as mg
import nn
from nn import functional as F

pytestmark = [pytest.mark.filterwarnings("ignore:enable_nested_tensor is True"),
              pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors"),
              pytest.mark.filterwarnings("ignore:.*mismatched key_padding_mask"),
              pytest.mark.filterwarnings("ignore:.*mismatched src_key_padding_mask")]
RNG = np.random.default_rng(97)
E, HEADS, L, S, N = 8, 2, 4, 5, 3


def same(actual: mg.Tensor, expected, what: str) -> None:
    """Equal shapes, NaN at the same places, the rest within 1e-9."""
    a, e = actual.numpy(), expected.detach().numpy()
    assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
    assert (np.isnan(a) == np.isnan(e)).all(), f"{what}: NaN at different places"
    np.testing.assert_allclose(a, e, rtol=1e-9, atol=1e-9, err_msg=what)


def loaded(torch, ours, theirs):
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.from_numpy(RNG.standard_normal(tuple(p.shape)) * 0.4 + (1.0 if p.ndim == 1 else 0.0)))
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def masks(kind: str, batched: bool) -> tuple:
    """(attn_mask, key_padding_mask) as NumPy arrays for the query length L, key length S and batch N."""
    am = RNG.random((L, S)) > 0.7
    kpm = RNG.random((N, S)) > 0.7
    full_row = np.zeros((L, S), bool)
    full_row[1] = True
    full_key = np.zeros((N, S), bool)
    full_key[0] = True
    chosen = {
        "none": (None, None),
        "bool2": (am, None),
        "float2": (np.where(am, -np.inf, RNG.standard_normal((L, S))), None),
        "bool3": (RNG.random((N * HEADS, L, S)) > 0.7, None),
        "float3": (RNG.standard_normal((N * HEADS, L, S)), None),
        "kpm_bool": (None, kpm),
        "kpm_float": (None, np.where(kpm, -np.inf, 0.3)),
        "both_bool": (am, kpm),
        "both_float": (RNG.standard_normal((L, S)), RNG.standard_normal((N, S))),
        "mixed": (am, RNG.standard_normal((N, S))),
        "full_row": (full_row, None),
        "full_row_float": (np.where(full_row, -np.inf, 0.0), None),
        "full_key": (None, full_key),
    }[kind]
    am, kpm = chosen
    if not batched:
        kpm = None if kpm is None else kpm[0]
        am = am[:HEADS] if am is not None and am.ndim == 3 else am
    return am, kpm


def both(torch, array):
    if array is None:
        return None, None
    return mg.tensor(array), torch.from_numpy(array)


def zero_nan(x):
    return x.masked_fill(x != x, 0.0) if isinstance(x, mg.Tensor) else x.nan_to_num()


MASKS = ["none", "bool2", "float2", "bool3", "float3", "kpm_bool", "kpm_float", "both_bool", "both_float", "mixed",
         "full_row", "full_row_float", "full_key"]


@pytest.mark.parametrize("kind", MASKS)
@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_every_mask_kind_values_weights_and_gradients(torch, kind: str, need_weights: bool) -> None:
    configs = [dict(batch_first=False, batched=True, kdim=None, bias_kv=False, zero=False, avg=True, causal=False),
               dict(batch_first=True, batched=True, kdim=6, bias_kv=True, zero=False, avg=False, causal=True),
               dict(batch_first=True, batched=False, kdim=None, bias_kv=False, zero=True, avg=False, causal=False),
               dict(batch_first=False, batched=False, kdim=6, bias_kv=True, zero=True, avg=True, causal=True)]
    for c in configs:
        kw = dict(kdim=c["kdim"], vdim=c["kdim"], add_bias_kv=c["bias_kv"], add_zero_attn=c["zero"],
                  batch_first=c["batch_first"], bias=not c["bias_kv"])
        ours, theirs = loaded(torch, nn.MultiheadAttention(E, HEADS, dtype=mg.float64, **kw),
                              torch.nn.MultiheadAttention(E, HEADS, dtype=torch.float64, **kw))

        def shape(n: int, d: int, c: dict = c) -> tuple:
            return ((N, n, d) if c["batch_first"] else (n, N, d)) if c["batched"] else (n, d)

        arrays = [RNG.standard_normal(shape(L, E)), RNG.standard_normal(shape(S, c["kdim"] or E)),
                  RNG.standard_normal(shape(S, c["kdim"] or E))]
        inputs = [mg.tensor(a, requires_grad=True) for a in arrays]
        t_inputs = [torch.from_numpy(a).requires_grad_() for a in arrays]
        am, kpm = masks(kind, c["batched"])
        (am_o, am_t), (kpm_o, kpm_t) = both(torch, am), both(torch, kpm)
        causal = c["causal"] and am is not None
        options = dict(need_weights=need_weights, average_attn_weights=c["avg"], is_causal=causal)
        out, weights = ours(*inputs, attn_mask=am_o, key_padding_mask=kpm_o, **options)
        t_out, t_weights = theirs(*t_inputs, attn_mask=am_t, key_padding_mask=kpm_t, **options)
        what = f"{kind} {c}"
        same(out, t_out, f"output {what}")
        assert (weights is None) == (t_weights is None) == (not need_weights)
        grad = RNG.standard_normal(tuple(t_out.shape))
        loss, t_loss = (zero_nan(out) * mg.tensor(grad)).sum(), (zero_nan(t_out) * torch.from_numpy(grad)).sum()
        if need_weights:
            same(weights, t_weights, f"weights {what}")
            loss, t_loss = loss + zero_nan(weights).sum() * 0.3, t_loss + zero_nan(t_weights).sum() * 0.3
        loss.backward()
        t_loss.backward()
        for i, (x, tx) in enumerate(zip(inputs, t_inputs)):
            same(x.grad, tx.grad, f"grad of input {i} {what}")
        params = dict(ours.named_parameters())
        for name, p in theirs.named_parameters():
            same(params[name].grad, p.grad, f"grad of {name} {what}")


def test_mha_dropout_is_deterministic_in_eval_and_random_in_training() -> None:
    attention = nn.MultiheadAttention(E, HEADS, dropout=0.9)
    x = mg.randn(L, N, E)
    for need_weights in (True, False):
        attention.eval()
        first, second = (attention(x, x, x, need_weights=need_weights)[0].numpy() for _ in range(2))
        assert np.array_equal(first, second)
        attention.train()
        first, second = (attention(x, x, x, need_weights=need_weights)[0].numpy() for _ in range(2))
        assert not np.array_equal(first, second)


@pytest.mark.parametrize("name", ["TransformerEncoderLayer", "TransformerDecoderLayer"])
@pytest.mark.parametrize("norm_first", [False, True])
def test_layers_dropout_one_in_training_matches_torch(torch, name: str, norm_first: bool) -> None:
    """dropout=1 zeroes every dropped tensor: deterministic, so torch's placement of each dropout is checked."""
    ours, theirs = loaded(torch, getattr(nn, name)(E, HEADS, 12, dropout=1.0, norm_first=norm_first, dtype=mg.float64),
                          getattr(torch.nn, name)(E, HEADS, 12, dropout=1.0, norm_first=norm_first,
                                                  dtype=torch.float64))
    arrays = [RNG.standard_normal((L, N, E))] + ([RNG.standard_normal((S, N, E))] if "Decoder" in name else [])
    same(ours(*map(mg.tensor, arrays)), theirs(*map(torch.from_numpy, arrays)), name)


@pytest.mark.parametrize("activation", ["gelu", "relu", "callable"])
def test_transformer_masks_hints_and_all_gradients(torch, activation: str) -> None:
    ours_act, theirs_act = (F.tanh, torch.tanh) if activation == "callable" else (activation, activation)
    kw = dict(dim_feedforward=12, dropout=0.0, layer_norm_eps=0.3, batch_first=True, norm_first=activation == "gelu")
    ours, theirs = loaded(torch, nn.Transformer(E, HEADS, 2, 2, activation=ours_act, dtype=mg.float64, **kw),
                          torch.nn.Transformer(E, HEADS, 2, 2, activation=theirs_act, dtype=torch.float64, **kw))
    src, tgt = RNG.standard_normal((N, S, E)), RNG.standard_normal((N, L, E))
    masks_np = dict(src_mask=RNG.standard_normal((S, S)), tgt_mask=RNG.standard_normal((L, L)),   # not causal
                    memory_mask=RNG.random((L, S)) > 0.8, src_key_padding_mask=RNG.random((N, S)) > 0.8,
                    tgt_key_padding_mask=np.where(RNG.random((N, L)) > 0.8, -np.inf, 0.0),
                    memory_key_padding_mask=RNG.random((N, S)) > 0.8)
    for hints in ({}, {"tgt_is_causal": True}, {"src_is_causal": False, "memory_is_causal": True}):
        inputs = [mg.tensor(src, requires_grad=True), mg.tensor(tgt, requires_grad=True)]
        t_inputs = [torch.from_numpy(src).requires_grad_(), torch.from_numpy(tgt).requires_grad_()]
        kpm = {} if hints.get("tgt_is_causal") else {"tgt_key_padding_mask": None}
        kwargs = {**masks_np, **kpm}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = ours(*inputs, **{k: None if v is None else mg.tensor(v) for k, v in kwargs.items()}, **hints)
            t_out = theirs(*t_inputs, **{k: None if v is None else torch.from_numpy(v) for k, v in kwargs.items()},
                           **hints)
        same(out, t_out, f"output {hints}")
        grad = RNG.standard_normal(tuple(t_out.shape))
        (out * mg.tensor(grad)).sum().backward()
        (t_out * torch.from_numpy(grad)).sum().backward()
        for i, (x, tx) in enumerate(zip(inputs, t_inputs)):
            same(x.grad, tx.grad, f"grad of input {i} {hints}")
        params = dict(ours.named_parameters())
        for name, p in theirs.named_parameters():
            same(params[name].grad, p.grad, f"grad of {name} {hints}")
        ours.zero_grad()
        theirs.zero_grad()


# --- regressions found by probing ------------------------------------------------------------------------------

def test_generate_square_subsequent_mask_dtypes_as_torch(torch) -> None:
    for ours_dtype, theirs_dtype in ((None, None), (mg.float64, torch.float64), (mg.float16, torch.float16),
                                     (mg.bool_, torch.bool)):
        for size in (0, 1, 4):
            mask = nn.Transformer.generate_square_subsequent_mask(size, dtype=ours_dtype)
            t_mask = torch.nn.Transformer.generate_square_subsequent_mask(size, dtype=theirs_dtype)
            assert str(mask.dtype) == str(t_mask.dtype).removeprefix("torch.")
            np.testing.assert_array_equal(mask.numpy(), t_mask.numpy())
    for dtype in (mg.int64, mg.int32, mg.uint8):   # -inf does not fit: torch raises, and so do we (was garbage)
        with pytest.raises(TypeError, match="generate_square_subsequent_mask: dtype must be floating point or bool"):
            nn.Transformer.generate_square_subsequent_mask(3, dtype=dtype)


def test_sdpa_takes_a_float32_mask_for_a_float64_query_as_torch(torch) -> None:
    arrays = [RNG.standard_normal(shape) for shape in ((2, 3, 4), (2, 5, 4), (2, 5, 6))]
    mask_np = np.where(RNG.random((3, 5)) > 0.8, -np.inf, RNG.standard_normal((3, 5))).astype(np.float32)
    inputs = [mg.tensor(a, requires_grad=True) for a in arrays]
    t_inputs = [torch.from_numpy(a).requires_grad_() for a in arrays]
    mask, t_mask = mg.tensor(mask_np, requires_grad=True), torch.from_numpy(mask_np).requires_grad_()
    out = F.scaled_dot_product_attention(*inputs, mask)
    t_out = torch.nn.functional.scaled_dot_product_attention(*t_inputs, t_mask)
    assert out.dtype == mg.float64
    same(out, t_out, "output")
    grad = RNG.standard_normal(tuple(t_out.shape))
    (out * mg.tensor(grad)).sum().backward()
    (t_out * torch.from_numpy(grad)).sum().backward()
    for x, tx in zip(inputs, t_inputs):
        same(x.grad, tx.grad, "input grad")
    assert mask.grad.dtype == mg.float32
    np.testing.assert_allclose(mask.grad.numpy(), t_mask.grad.numpy(), rtol=1e-6, atol=1e-6)
    # a float64 mask on a float32 query is refused, as torch refuses it
    q32 = mg.randn(2, 3, 4)
    with pytest.raises(TypeError, match="attn_mask must be bool or of the query's dtype float32"):
        F.scaled_dot_product_attention(q32, q32, q32, mg.zeros(3, 3, dtype=mg.float64))


@pytest.mark.parametrize("layer_kw", [{}, {"batch_first": True}, {"batch_first": True, "norm_first": True},
                                      {"batch_first": True, "bias": False}, {"batch_first": True, "activation": "tanh"},
                                      {"batch_first": True, "activation": "gelu"}])
@pytest.mark.parametrize("enable", [True, False])
def test_encoder_use_nested_tensor_as_torch(torch, layer_kw: dict, enable: bool) -> None:
    ours_kw, theirs_kw = dict(layer_kw), dict(layer_kw)
    if layer_kw.get("activation") == "tanh":
        ours_kw["activation"], theirs_kw["activation"] = F.tanh, torch.tanh
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, HEADS, 12, **ours_kw), 1, enable_nested_tensor=enable,
                                 mask_check=False)
    theirs = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(E, HEADS, 12, **theirs_kw), 1,
                                         enable_nested_tensor=enable, mask_check=False)
    assert (ours.enable_nested_tensor, ours.use_nested_tensor, ours.mask_check) == \
        (theirs.enable_nested_tensor, theirs.use_nested_tensor, theirs.mask_check)


def test_odd_heads_disable_nested_tensor() -> None:
    layer = nn.TransformerEncoderLayer(9, 3, 12, batch_first=True)
    assert not nn.TransformerEncoder(layer, 1).use_nested_tensor
    assert nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 12, batch_first=True), 1).use_nested_tensor

