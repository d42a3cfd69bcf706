"""Differential fuzzing of the attention functions and transformer modules against torch 2.13 (round 14).

Seeded random configurations in float32 and float64, torch's weights loaded with ``load_state_dict``:
``F.scaled_dot_product_attention`` (masks of every kind and rank, ``is_causal`` with L != S, ``scale``,
``enable_gqa``, fully masked rows), ``nn.MultiheadAttention`` (every constructor option, both masks, both
ranks, ``need_weights``, ``average_attn_weights``), ``F.multi_head_attention_forward`` (``static_k``/``static_v``,
separate projections) and the transformer modules: outputs, attention weights, the gradients of the inputs
and of every parameter, state-dict keys and reprs. Then the error classes torch raises for bad masks, ranks
and dtypes (where minigrad's first class differed, the class raised now is both).

torch is run on its math kernel (``sdpa_kernel(SDPBackend.MATH)``) for ``scaled_dot_product_attention``: its
CPU flash kernel refuses a 1-D mask with a 4-D query (an IndexError from inside the kernel) and gives NaN
for a causal row with a negative ``scale``, where the math kernel, which minigrad follows, gives the values.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import minigrad as mg
import nn
from nn import functional as F

DTYPES = {"float32": (np.float32, 2e-4), "float64": (np.float64, 1e-9)}


def _np(x: object) -> np.ndarray | None:
    if x is None:
        return None
    return x.detach().numpy() if hasattr(x, "detach") else x.numpy()


def _same(ours: object, theirs: object, tol: float, what: str) -> None:
    ours, theirs = _np(ours), _np(theirs)
    assert (ours is None) == (theirs is None), what
    if ours is None:
        return
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype, (what, ours.shape, theirs.shape)
    assert np.array_equal(np.isnan(ours), np.isnan(theirs)), what
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol, equal_nan=True, err_msg=what)


def _tensors(torch, *arrays: np.ndarray | None, grad: bool = True) -> tuple[list, list]:
    """Each array as a torch tensor and a minigrad one (None stays None); float ones are leaves wanting grad."""
    ts = [None if a is None else torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    ms = [None if a is None else mg.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    return ts, ms


def _copy_weights(torch, theirs, ours) -> None:
    """torch's weights, jittered (so zero biases are not), loaded into ``ours``; the state dicts' keys agree."""
    torch_state = theirs.state_dict()
    our_state = ours.state_dict()
    assert list(torch_state) == list(our_state)
    assert all(tuple(torch_state[k].shape) == tuple(our_state[k].shape) for k in torch_state)
    with torch.no_grad():
        for p in theirs.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    ours.load_state_dict({k: mg.tensor(v.numpy()) for k, v in theirs.state_dict().items()})


def _compare_grads(theirs, ours, tol: float, what: str) -> None:
    torch_params, our_params = dict(theirs.named_parameters()), dict(ours.named_parameters())
    assert list(torch_params) == list(our_params)
    for name, p in torch_params.items():
        _same(our_params[name].grad, p.grad, tol, f"{what}: grad of {name}")


# --- scaled_dot_product_attention ------------------------------------------------------------------------

def _sdpa_case(rng: np.random.Generator) -> tuple:
    dtype, tol = DTYPES[("float32", "float64")[rng.integers(2)]]
    batch = tuple(int(n) for n in rng.integers(1, 4, rng.integers(0, 2)))
    heads_q = int(rng.integers(1, 5))
    gqa = bool(rng.random() < 0.25)
    heads_k = int(rng.choice([d for d in range(1, heads_q + 1) if heads_q % d == 0])) if gqa else heads_q
    L, S, E, Ev = (int(n) for n in rng.integers(1, 6, 4))
    shapes = [batch + (heads_q, L, E), batch + (heads_k, S, E), batch + (heads_k, S, Ev)]
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    weights_shape = batch + (heads_q, L, S)
    kind = ("none", "bool", "float", "float32", "causal")[rng.integers(5)]
    mask = None
    if kind in ("bool", "float", "float32"):
        rank = int(rng.integers(1, len(weights_shape) + 1))
        mask_shape = tuple(1 if rng.random() < 0.3 else n for n in weights_shape[-rank:])
        if kind == "bool":   # often fully masked rows: zeros, as torch's math kernel
            mask = rng.random(mask_shape) > rng.choice([0.3, 0.8])
        else:
            mask = rng.standard_normal(mask_shape).astype(dtype if kind == "float" else np.float32)
            mask[rng.random(mask_shape) < rng.choice([0.0, 0.3])] = -np.inf
    scale = None if rng.random() < 0.5 else float(rng.uniform(-1, 2))
    return arrays, mask, dict(is_causal=kind == "causal", scale=scale, enable_gqa=gqa), tol


@pytest.mark.parametrize("seed", range(4))
def test_sdpa_fuzz_values_and_gradients_match_torch_math_kernel(torch, seed: int) -> None:
    from torch.nn.attention import SDPBackend, sdpa_kernel

    rng = np.random.default_rng(1400 + seed)
    for case in range(40):
        arrays, mask, kwargs, tol = _sdpa_case(rng)
        float_mask = mask is not None and mask.dtype.kind == "f"
        (tq, tk, tv, tm), (mq, mk, mv, mm) = _tensors(torch, *arrays, mask)
        with sdpa_kernel(SDPBackend.MATH):
            expected = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm, **kwargs)
        got = F.scaled_dot_product_attention(mq, mk, mv, attn_mask=mm, **kwargs)
        what = f"seed {seed} case {case}: shapes {[a.shape for a in arrays]} mask {_np(mm) is not None} {kwargs}"
        _same(got, expected, tol, what)
        upstream = rng.standard_normal(expected.shape).astype(arrays[0].dtype)
        expected.backward(torch.tensor(upstream))
        got.backward(mg.tensor(upstream))
        for name, ours, theirs in (("query", mq, tq), ("key", mk, tk), ("value", mv, tv)):
            _same(ours.grad, theirs.grad, tol * 10, f"{what}: grad of {name}")
        if float_mask:
            _same(mm.grad, tm.grad, tol * 10, f"{what}: grad of the float mask")


# --- nn.MultiheadAttention -------------------------------------------------------------------------------

def _mha_case(torch, rng: np.random.Generator, case: int) -> None:
    dtype, tol = DTYPES[("float32", "float64")[rng.integers(2)]]
    heads = int(rng.integers(1, 4))
    embed = heads * int(rng.integers(1, 4))
    kdim = None if rng.random() < 0.6 else int(rng.integers(1, 6))
    vdim = None if rng.random() < 0.6 else int(rng.integers(1, 6))
    options = dict(bias=bool(rng.random() < 0.7), add_bias_kv=bool(rng.random() < 0.3),
                   add_zero_attn=bool(rng.random() < 0.3), kdim=kdim, vdim=vdim, batch_first=bool(rng.random() < 0.5))
    unbatched = bool(rng.random() < 0.2)
    N, L, S = (int(n) for n in rng.integers(1, 5, 3))
    self_attention = kdim is None and vdim is None and rng.random() < 0.4
    S = L if self_attention else S
    torch.manual_seed(case)
    theirs = torch.nn.MultiheadAttention(embed, heads, dtype=getattr(torch, np.dtype(dtype).name), **options)
    ours = nn.MultiheadAttention(embed, heads, dtype=dtype, **options)
    _copy_weights(torch, theirs, ours)
    assert repr(ours) == repr(theirs)
    training = bool(rng.random() < 0.3)   # dropout 0: the same values in both modes
    theirs.train(training)
    ours.train(training)

    def shape(length: int, features: int) -> tuple:
        if unbatched:
            return (length, features)
        return (N, length, features) if options["batch_first"] else (length, N, features)

    query = rng.standard_normal(shape(L, embed)).astype(dtype)
    key = query if self_attention else rng.standard_normal(shape(S, kdim or embed)).astype(dtype)
    value = query if self_attention else rng.standard_normal(shape(S, vdim or embed)).astype(dtype)
    padding = None
    if rng.random() < 0.6:
        padding_shape = (S,) if unbatched else (N, S)
        padding = rng.random(padding_shape) < rng.choice([0.2, 0.6])
        if rng.random() < 0.5:   # a float padding mask: -inf where True
            padding = np.where(padding, -np.inf, rng.standard_normal(padding_shape)).astype(dtype)
    mask, is_causal = None, False
    kind = rng.integers(4)
    if kind == 1:
        mask = np.triu(np.ones((L, S), bool), 1)
        is_causal = bool(rng.random() < 0.5)
    elif kind > 1:
        mask_shape = ((heads if unbatched else N * heads), L, S) if rng.random() < 0.4 else (L, S)
        mask = rng.random(mask_shape) < rng.choice([0.2, 0.6])
        if kind == 3:
            mask = np.where(mask, -np.inf, rng.standard_normal(mask_shape)).astype(dtype)
    call = dict(need_weights=bool(rng.random() < 0.6), average_attn_weights=bool(rng.random() < 0.5),
                is_causal=is_causal)
    what = (f"case {case}: E={embed} heads={heads} {options} unbatched={unbatched} self={self_attention} "
            f"training={training} padding={None if padding is None else padding.dtype} "
            f"mask={None if mask is None else (mask.dtype, mask.shape)} {call}")

    (tq, tk, tv), (mq, mk, mv) = _tensors(torch, query, None if self_attention else key,
                                           None if self_attention else value)
    if self_attention:
        tk = tv = tq
        mk = mv = mq
    as_torch = {"key_padding_mask": None if padding is None else torch.tensor(padding),
                "attn_mask": None if mask is None else torch.tensor(mask)}
    as_ours = {k: None if v is None else mg.tensor(v.numpy()) for k, v in as_torch.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # mismatched mask types: deprecated in both
        expected, expected_weights = theirs(tq, tk, tv, **as_torch, **call)
        got, got_weights = ours(mq, mk, mv, **as_ours, **call)
    _same(got, expected, tol, what + ": output")
    _same(got_weights, expected_weights, tol, what + ": weights")
    if np.isnan(_np(expected)).any() or (expected_weights is not None and np.isnan(_np(expected_weights)).any()):
        return   # rows masked out everywhere: NaN, as torch's; no gradient to compare
    upstream = rng.standard_normal(expected.shape).astype(dtype)
    loss_t, loss_m = (expected * torch.tensor(upstream)).sum(), (got * mg.tensor(upstream)).sum()
    if expected_weights is not None:
        upstream_w = rng.standard_normal(expected_weights.shape).astype(dtype)
        loss_t = loss_t + (expected_weights * torch.tensor(upstream_w)).sum()
        loss_m = loss_m + (got_weights * mg.tensor(upstream_w)).sum()
    loss_t.backward()
    loss_m.backward()
    for name, a, b in (("query", mq, tq), ("key", mk, tk), ("value", mv, tv)):
        _same(a.grad, b.grad, tol * 10, f"{what}: grad of {name}")
    _compare_grads(theirs, ours, tol * 10, what)


@pytest.mark.parametrize("seed", range(3))
def test_multihead_attention_fuzz_matches_torch(torch, seed: int) -> None:
    rng = np.random.default_rng(2400 + seed)
    for case in range(25):
        _mha_case(torch, rng, 100 * seed + case)


def test_multi_head_attention_forward_fuzz_static_kv_and_separate_weights(torch) -> None:
    rng = np.random.default_rng(3400)
    compared = 0
    for case in range(60):
        dtype, tol = DTYPES[("float32", "float64")[rng.integers(2)]]
        heads, head_dim = (int(n) for n in rng.integers(1, 3, 2))
        embed = heads * head_dim
        N, L, S = (int(n) for n in rng.integers(1, 4, 3))
        separate = bool(rng.random() < 0.4)
        kdim, vdim = (int(n) for n in rng.integers(1, 5, 2)) if separate else (embed, embed)
        static = bool(rng.random() < 0.4)
        bias_kv = not static and rng.random() < 0.3
        arrays = {
            "query": rng.standard_normal((L, N, embed)), "key": rng.standard_normal((S, N, kdim)),
            "value": rng.standard_normal((S, N, vdim)),
            "in_proj_weight": None if separate else rng.standard_normal((3 * embed, embed)),
            "in_proj_bias": rng.standard_normal(3 * embed) if rng.random() < 0.7 else None,
            "bias_k": rng.standard_normal((1, 1, embed)) if bias_kv else None,
            "bias_v": rng.standard_normal((1, 1, embed)) if bias_kv else None,
            "out_proj_weight": rng.standard_normal((embed, embed)),
            "out_proj_bias": rng.standard_normal(embed) if rng.random() < 0.7 else None,
            "q_proj_weight": rng.standard_normal((embed, embed)) if separate else None,
            "k_proj_weight": rng.standard_normal((embed, kdim)) if separate else None,
            "v_proj_weight": rng.standard_normal((embed, vdim)) if separate else None,
            "static_k": rng.standard_normal((N * heads, S, head_dim)) if static else None,
            "static_v": rng.standard_normal((N * heads, S, head_dim)) if static else None,
        }
        # both masks have S columns: bias_k/bias_v and add_zero_attn pad them, as torch's
        padding = rng.random((N, S)) < 0.3 if rng.random() < 0.4 else None
        mask = rng.standard_normal((L, S)) if rng.random() < 0.4 else None
        arrays = {k: None if v is None else v.astype(dtype) for k, v in arrays.items()}
        mask = None if mask is None else mask.astype(dtype)
        arrays.update(key_padding_mask=padding, attn_mask=mask)
        options = dict(embed_dim_to_check=embed, num_heads=heads, add_zero_attn=bool(rng.random() < 0.3),
                       dropout_p=0.0, training=False, need_weights=bool(rng.random() < 0.5),
                       use_separate_proj_weight=separate)
        expected = torch.nn.functional.multi_head_attention_forward(
            **{k: None if v is None else torch.tensor(v) for k, v in arrays.items()}, **options)
        got = F.multi_head_attention_forward(**{k: None if v is None else mg.tensor(v) for k, v in arrays.items()},
                                             **options)
        add_zero_attn = options["add_zero_attn"]
        what = f"case {case}: separate={separate} static={static} bias_kv={bias_kv} zero={add_zero_attn}"
        _same(got[0], expected[0], tol, what)
        _same(got[1], expected[1], tol, what + ": weights")
        compared += 1
    assert compared == 60


# --- transformer modules ---------------------------------------------------------------------------------

def _transformer_case(torch, rng: np.random.Generator, case: int, kind: str) -> None:
    dtype, tol = DTYPES[("float32", "float64")[rng.integers(2)]]
    tol *= 5
    heads = int(rng.integers(1, 4))
    embed = heads * int(rng.integers(1, 3))
    activation = ("relu", "gelu", "callable")[rng.integers(3)]
    layer = dict(dim_feedforward=int(rng.integers(1, 9)), dropout=0.0,
                 layer_norm_eps=float(rng.choice([1e-5, 1e-3, 0.1])), batch_first=bool(rng.random() < 0.5),
                 norm_first=bool(rng.random() < 0.5), bias=bool(rng.random() < 0.7))
    N, S, T = (int(n) for n in rng.integers(1, 4, 3))
    unbatched = bool(rng.random() < 0.15)
    use_norm = bool(rng.random() < 0.5)

    def build(lib, dtype, act):
        kw = dict(activation=act, dtype=dtype, **layer)
        norm = lib.LayerNorm(embed, dtype=dtype) if use_norm else None
        if kind == "encoder_layer":
            return lib.TransformerEncoderLayer(embed, heads, **kw)
        if kind == "decoder_layer":
            return lib.TransformerDecoderLayer(embed, heads, **kw)
        if kind == "encoder":
            return lib.TransformerEncoder(lib.TransformerEncoderLayer(embed, heads, **kw), 2, norm,
                                          enable_nested_tensor=False)
        if kind == "decoder":
            return lib.TransformerDecoder(lib.TransformerDecoderLayer(embed, heads, **kw), 2, norm)
        return lib.Transformer(embed, heads, 1, 2, **kw)

    torch.manual_seed(case)
    acts = {"relu": ("relu", "relu"), "gelu": ("gelu", "gelu"),
            "callable": (lambda x: torch.tanh(x) * 2, lambda x: mg.tanh(x) * 2)}[activation]
    theirs = build(torch.nn, getattr(torch, np.dtype(dtype).name), acts[0])
    ours = build(nn, dtype, acts[1])
    _copy_weights(torch, theirs, ours)
    if activation != "callable":
        assert repr(ours) == repr(theirs)
    training = bool(rng.random() < 0.4)
    theirs.train(training)
    ours.train(training)

    def shape(length: int) -> tuple:
        if unbatched:
            return (length, embed)
        return (N, length, embed) if layer["batch_first"] else (length, N, embed)

    def padding(length: int) -> np.ndarray | None:
        if rng.random() < 0.5:
            return None
        mask = rng.random((length,) if unbatched else (N, length)) < 0.3
        return mask if rng.random() < 0.6 else np.where(mask, -np.inf, 0.0).astype(dtype)

    def mask(rows: int, cols: int) -> tuple[np.ndarray | None, bool]:
        pick = rng.random()
        if pick < 0.4:
            return None, False
        if pick < 0.6 and rows == cols:
            causal = nn.Transformer.generate_square_subsequent_mask(rows, dtype=dtype).numpy()
            return causal, bool(rng.random() < 0.5)
        mask_shape = (rows, cols) if rng.random() < 0.7 else ((heads if unbatched else N * heads), rows, cols)
        if pick < 0.8:
            return rng.random(mask_shape) < 0.25, False
        return rng.standard_normal(mask_shape).astype(dtype), False

    src, tgt = rng.standard_normal(shape(S)).astype(dtype), rng.standard_normal(shape(T)).astype(dtype)
    if kind in ("encoder_layer", "encoder"):
        m, causal = mask(S, S)
        inputs = [src]
        kwargs = {"src_mask" if kind == "encoder_layer" else "mask": m, "src_key_padding_mask": padding(S),
                  "is_causal": causal}
    elif kind in ("decoder_layer", "decoder"):
        (tgt_mask, tgt_causal), (memory_mask, _) = mask(T, T), mask(T, S)
        inputs = [tgt, src]
        kwargs = dict(tgt_mask=tgt_mask, memory_mask=memory_mask, tgt_key_padding_mask=padding(T),
                      memory_key_padding_mask=padding(S), tgt_is_causal=tgt_causal)
    else:
        (src_mask, src_causal), (tgt_mask, tgt_causal) = mask(S, S), mask(T, T)
        inputs = [src, tgt]
        kwargs = dict(src_mask=src_mask, tgt_mask=tgt_mask, src_key_padding_mask=padding(S),
                      tgt_key_padding_mask=padding(T), memory_key_padding_mask=padding(S),
                      src_is_causal=src_causal, tgt_is_causal=tgt_causal)
    masks = {k: v.shape for k, v in kwargs.items() if isinstance(v, np.ndarray)}
    what = f"case {case} {kind}: E={embed} heads={heads} act={activation} {layer} unbatched={unbatched} " \
           f"training={training} masks={masks}"
    t_inputs, m_inputs = _tensors(torch, *inputs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = theirs(*t_inputs, **{k: torch.tensor(v) if isinstance(v, np.ndarray) else v
                                        for k, v in kwargs.items()})
        got = ours(*m_inputs, **{k: mg.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()})
    _same(got, expected, tol, what)
    if np.isnan(_np(expected)).any():
        return
    upstream = rng.standard_normal(expected.shape).astype(dtype)
    (expected * torch.tensor(upstream)).sum().backward()
    (got * mg.tensor(upstream)).sum().backward()
    for i, (a, b) in enumerate(zip(m_inputs, t_inputs)):
        _same(a.grad, b.grad, tol * 10, f"{what}: grad of input {i}")
    _compare_grads(theirs, ours, tol * 10, what)


@pytest.mark.parametrize("kind", ["encoder_layer", "decoder_layer", "encoder", "decoder", "transformer"])
def test_transformer_modules_fuzz_match_torch(torch, kind: str) -> None:
    rng = np.random.default_rng(4400 + len(kind))
    for case in range(6):
        _transformer_case(torch, rng, case, kind)


# --- error classes (each was a class torch does not raise) -----------------------------------------------

def _raises_as_torch(torch, torch_call, our_call) -> None:
    with pytest.raises(Exception) as theirs:
        torch_call()
    with pytest.raises(type(theirs.value)):
        our_call()


RNG = np.random.default_rng(5400)
Q, K = RNG.standard_normal((2, 3, 4)).astype(np.float32), RNG.standard_normal((2, 5, 4)).astype(np.float32)
Q4, K4 = RNG.standard_normal((2, 4, 3, 4)), RNG.standard_normal((2, 3, 5, 4))

SDPA_ERRORS = {   # name: (query, key, value, keyword arguments) as NumPy arrays
    "int_mask": (Q, K, K, {"attn_mask": np.ones((3, 5), np.int64)}),
    "float64_mask_float32_query": (Q, K, K, {"attn_mask": np.zeros((3, 5))}),
    "float16_mask": (Q, K, K, {"attn_mask": np.zeros((3, 5), np.float16)}),
    "mask_and_is_causal": (Q, K, K, {"attn_mask": np.ones((3, 5), bool), "is_causal": True}),
    "mixed_dtypes": (Q, K.astype(np.float64), K, {}),
    "gqa_heads_not_dividing": (Q4, K4, K4, {"enable_gqa": True}),
    "gqa_without_heads_dim": (Q4[0, 0], K4[0, 0], K4[0, 0], {"enable_gqa": True}),
}


@pytest.mark.parametrize("case", list(SDPA_ERRORS))
def test_sdpa_errors_have_torch_classes(torch, case: str) -> None:
    q, k, v, kwargs = SDPA_ERRORS[case]
    _raises_as_torch(
        torch,
        lambda: torch.nn.functional.scaled_dot_product_attention(
            *(torch.tensor(x) for x in (q, k, v)), **{n: torch.tensor(a) if isinstance(a, np.ndarray) else a
                                                       for n, a in kwargs.items()}),
        lambda: F.scaled_dot_product_attention(
            *(mg.tensor(x) for x in (q, k, v)), **{n: mg.tensor(a) if isinstance(a, np.ndarray) else a
                                                    for n, a in kwargs.items()}))


L, N, S, E = 2, 3, 5, 4
MQ, MK = RNG.standard_normal((L, N, E)).astype(np.float32), RNG.standard_normal((S, N, E)).astype(np.float32)

MHA_ERRORS = {   # name: (query, key, value, keyword arguments) for MultiheadAttention(4, 2)
    "mask_4d": (MQ, MK, MK, {"attn_mask": np.zeros((1, N * 2, L, S), np.float32)}),
    "mask_1d": (MQ, MK, MK, {"attn_mask": np.zeros(S, np.float32)}),
    "int_mask": (MQ, MK, MK, {"attn_mask": np.zeros((L, S), np.int64)}),
    "uint8_padding_mask": (MQ, MK, MK, {"key_padding_mask": np.zeros((N, S), np.uint8)}),
    "float64_mask": (MQ, MK, MK, {"attn_mask": np.zeros((L, S))}),
    "float64_mask_no_weights": (MQ, MK, MK, {"attn_mask": np.zeros((L, S)), "need_weights": False}),
    "float64_padding_mask": (MQ, MK, MK, {"key_padding_mask": np.zeros((N, S))}),
    "padding_mask_1d": (MQ, MK, MK, {"key_padding_mask": np.zeros(S, bool)}),
    "padding_mask_3d": (MQ, MK, MK, {"key_padding_mask": np.zeros((N, 1, S), bool)}),
    "key_features": (MQ, MK[..., :3], MK[..., :3], {}),
    "batch_sizes_differ": (MQ, MK[:, :2], MK[:, :2], {}),
    "query_4d": (MQ[None], MK[None], MK[None], {}),
    "query_1d": (MQ[0, 0], MK[0, 0], MK[0, 0], {}),
    "unbatched_query_batched_key": (MQ[:, 0], MK, MK, {}),
    "unbatched_3d_mask_shape": (MQ[:, 0], MK[:, 0], MK[:, 0], {"attn_mask": np.zeros((1, L, S), bool)}),
    "unbatched_2d_padding_mask": (MQ[:, 0], MK[:, 0], MK[:, 0], {"key_padding_mask": np.zeros((1, S), bool)}),
    "float64_input_float32_weights": (MQ.astype(np.float64), MK.astype(np.float64), MK.astype(np.float64), {}),
    "int_input": (MQ.astype(np.int64), MK.astype(np.int64), MK.astype(np.int64), {}),
}


@pytest.mark.parametrize("case", list(MHA_ERRORS))
def test_multihead_attention_errors_have_torch_classes(torch, case: str) -> None:
    q, k, v, kwargs = MHA_ERRORS[case]
    theirs, ours = torch.nn.MultiheadAttention(E, 2), nn.MultiheadAttention(E, 2)

    def run(module, convert):
        return module(*(convert(x) for x in (q, k, v)),
                      **{n: convert(a) if isinstance(a, np.ndarray) else a for n, a in kwargs.items()})

    _raises_as_torch(torch, lambda: run(theirs, torch.tensor), lambda: run(ours, mg.tensor))


def test_mha_forward_projection_dtype_mismatch_is_refused_not_promoted(torch) -> None:
    """A float64 query into float32 weights: torch refuses; minigrad returned float64 (NumPy's promotion)."""
    ours = nn.MultiheadAttention(E, 2)
    with pytest.raises(RuntimeError, match="float64.*float32"):
        ours(mg.tensor(MQ.astype(np.float64)), mg.tensor(MK), mg.tensor(MK))
    separate = nn.MultiheadAttention(E, 2, kdim=3, vdim=3)
    with pytest.raises(TypeError, match="key of dtype float64"):
        separate(mg.tensor(MQ), mg.tensor(MK[..., :3].astype(np.float64)), mg.tensor(MK[..., :3]))


def test_transformer_errors_have_torch_classes(torch) -> None:
    src, tgt = RNG.standard_normal((3, 2, 4)).astype(np.float32), RNG.standard_normal((5, 2, 4)).astype(np.float32)
    theirs = torch.nn.Transformer(4, 2, 1, 1, 8, dropout=0.0)
    ours = nn.Transformer(4, 2, 1, 1, 8, dropout=0.0)
    for s, t, kwargs in [(src, tgt[:, :1], {}), (src, tgt[:, 0], {}), (src[..., :3], tgt[..., :3], {}),
                         (src[:, 0], tgt, {}), (src, tgt, {"tgt_mask": np.zeros((5, 5), np.int64)}),
                         (src, tgt, {"src_mask": np.zeros((3, 3))}), (src[None], tgt[None], {})]:
        def run(module, convert, s=s, t=t, kwargs=kwargs):
            return module(convert(s), convert(t), **{n: convert(a) for n, a in kwargs.items()})
        _raises_as_torch(torch, lambda: run(theirs, torch.tensor), lambda: run(ours, mg.tensor))
    _raises_as_torch(torch, lambda: torch.nn.Transformer.generate_square_subsequent_mask(3, dtype=torch.int64),
                     lambda: nn.Transformer.generate_square_subsequent_mask(3, dtype=mg.int64))
    _raises_as_torch(torch, lambda: torch.nn.TransformerEncoderLayer(4, 2, -1),
                     lambda: nn.TransformerEncoderLayer(4, 2, -1))
    layer_t, layer_m = torch.nn.TransformerEncoderLayer(4, 2, 8), nn.TransformerEncoderLayer(4, 2, 8)
    for kwargs in [{"src_key_padding_mask": np.zeros((2, 3), np.int64)}, {"src_mask": np.zeros((3, 3), np.int64)},
                   {"src_key_padding_mask": np.zeros(3, bool)}]:
        _raises_as_torch(torch, lambda kwargs=kwargs: layer_t(torch.tensor(src), **{n: torch.tensor(a) for n, a in
                                                                                    kwargs.items()}),
                         lambda kwargs=kwargs: layer_m(mg.tensor(src), **{n: mg.tensor(a) for n, a in kwargs.items()}))


# --- dropout_p as torch reads it -------------------------------------------------------------------------

@pytest.mark.parametrize("p", [-0.5, float("nan")])
def test_sdpa_dropout_p_not_above_zero_means_no_dropout_as_torch(torch, p: float) -> None:
    q, k = mg.tensor(Q), mg.tensor(K)
    expected = torch.nn.functional.scaled_dot_product_attention(torch.tensor(Q), torch.tensor(K), torch.tensor(K),
                                                                 dropout_p=p)
    _same(F.scaled_dot_product_attention(q, k, k, dropout_p=p), expected, 1e-6, f"dropout_p={p}")


def test_mha_forward_ignores_dropout_p_in_eval_as_torch(torch) -> None:
    """torch sets dropout_p to 0 when not training before any check: 1.5 is refused only in training."""
    weights = RNG.standard_normal((3 * E, E)).astype(np.float32), RNG.standard_normal((E, E)).astype(np.float32)

    def run(lib, fn, p, training):
        w_in, w_out = (lib(w) for w in weights)
        return fn(lib(MQ), lib(MK), lib(MK), E, 2, w_in, None, None, None, False, p, w_out, None,
                  training=training)

    expected = run(torch.tensor, torch.nn.functional.multi_head_attention_forward, 1.5, False)
    got = run(mg.tensor, F.multi_head_attention_forward, 1.5, False)
    _same(got[0], expected[0], 1e-5, "output")
    _same(got[1], expected[1], 1e-5, "weights")
    _raises_as_torch(torch, lambda: run(torch.tensor, torch.nn.functional.multi_head_attention_forward, 1.5, True),
                     lambda: run(mg.tensor, F.multi_head_attention_forward, 1.5, True))
