"""Attention as functions, as torch 2.13's: ``F.scaled_dot_product_attention`` and ``F.multi_head_attention_forward``.

Both are composed from the engine's ops (matmul, softmax, where, cat …), so the engine differentiates them and
the graph drawings show every step. They live apart from ``nn.functional``, which re-exports them, so that
``nn.attention``'s modules and ``nn.functional`` can both import them without an import cycle.

Masks come in two kinds, as in PyTorch, with opposite boolean meanings:

- ``scaled_dot_product_attention``'s ``attn_mask``: ``True`` = the pair takes part; a float mask is added to
  the scores.
- ``multi_head_attention_forward``'s (and ``nn.MultiheadAttention``'s) ``attn_mask`` and ``key_padding_mask``:
  ``True`` = the pair is masked out (becomes -inf); a float mask is added to the scores.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import minigrad as mg
from minigrad import Tensor

from ._arguments import _dtype_error, _number, _tensor
from ._dropout import dropout
from ._errors import ArgumentAssertionError, InputDtypeError, InputShapeAssertionError, InputShapeError

__all__ = ["multi_head_attention_forward", "scaled_dot_product_attention"]


class CausalHintError(ValueError, RuntimeError):
    """``is_causal=True`` without the mask it describes (or with an explicit mask too): torch raises a
    RuntimeError, minigrad first raised a ValueError; both catch it."""


class MaskDtypeError(TypeError, AssertionError, RuntimeError):
    """A mask that is neither bool nor floating point: torch's attention asserts (AssertionError), its
    Transformer's causal-mask check fails first (RuntimeError), minigrad first raised a TypeError; all catch it."""


class HeadsDimError(ValueError, IndexError):
    """``enable_gqa=True`` with inputs that have no heads dim (-3): torch's IndexError, minigrad's first
    ValueError."""

_NEG_INF = float("-inf")


def _dropout_probability(p: Any, name: str) -> float:
    """``p`` checked as torch's attention checks it: above 1 is an error; 0, below 0 and NaN mean no dropout
    (torch applies dropout only ``if dropout_p > 0``)."""
    p = _number(p, name, "dropout_p")
    if p > 1.0:
        raise InputShapeError(f"{name}: dropout probability has to be between 0 and 1, but got {p}")
    return p if p > 0.0 else 0.0


def _linear(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """x @ weightᵀ + bias: x (*, in), weight (out, in), bias (out,) → (*, out)."""
    y = x @ weight.T
    return y if bias is None else y + bias


def _safe_softmax(scores: Tensor) -> Tensor:
    """Softmax over the last dim, with 0 (not NaN) for a row whose scores are all -inf, as torch's
    ``_safe_softmax``; such a row also sends no gradient back. scores: (*, L, S) → (*, L, S)."""
    masked_rows = (scores == _NEG_INF).all(dim=-1, keepdim=True)
    # the masked rows are softmaxed as zeros (a uniform row, then dropped): no NaN forward, none backward
    weights = mg.softmax(mg.where(masked_rows, 0.0, scores), dim=-1)
    return mg.where(masked_rows, 0.0, weights)


def _grouped(query: Tensor, key: Tensor, value: Tensor, name: str) -> tuple[Tensor, Tensor]:
    """Key and value heads (dim -3) repeated to the query's head count, as torch's grouped-query attention."""
    if min(query.ndim, key.ndim, value.ndim) < 3:
        raise HeadsDimError(f"{name}: enable_gqa=True needs a heads dim (-3) in query, key and value, got shapes "
                            f"{query.shape}, {key.shape}, {value.shape}")
    heads_q, heads_k, heads_v = query.shape[-3], key.shape[-3], value.shape[-3]
    if heads_q == heads_k == heads_v:
        return key, value
    if not heads_k or not heads_v or heads_q % heads_k or heads_q % heads_v:
        raise InputShapeError(f"{name}: the number of heads in key ({heads_k}) and value ({heads_v}) must divide the "
                              f"number of heads in query ({heads_q})")
    return key.repeat_interleave(heads_q // heads_k, dim=-3), value.repeat_interleave(heads_q // heads_v, dim=-3)


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, *, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(Q Kᵀ · scale + mask) V, as ``torch.nn.functional.scaled_dot_product_attention`` (its math kernel).

    query: (N, …, Hq, L, E), key: (N, …, H, S, E), value: (N, …, H, S, Ev) → (N, …, Hq, L, Ev); at least 2
    dims each, and the batch dims before the last two broadcast. ``scale`` defaults to 1/√E.

    ``attn_mask`` broadcasts to the weights' shape (N, …, Hq, L, S): a bool mask where ``True`` means the
    pair takes part (``False`` becomes -inf), or a float mask of the query's dtype (or float32, as torch
    takes for any query: it is cast to the query's dtype) that is added to the scores. ``is_causal=True``
    (with no ``attn_mask``) lets query i see keys 0 … i: the lower triangle of an (L, S) matrix aligned at
    the top left, also when L != S. ``enable_gqa=True``: key and value may have fewer heads (dim -3) than
    query, each dividing it; their heads are repeated to match.
    ``dropout_p``: dropout on the attention weights (always applied when > 0: pass 0 in eval mode).

    A query row whose every key is masked out gives zeros (and sends no gradient back), as torch 2.13's
    math kernel (``_safe_softmax``) gives; note that ``nn.MultiheadAttention`` with ``need_weights=True``
    gives NaN there instead, as torch's does.
    """
    name = "scaled_dot_product_attention"
    query, key, value = _tensor(query, name, "query"), _tensor(key, name, "key"), _tensor(value, name, "value")
    if min(query.ndim, key.ndim, value.ndim) < 2:
        raise InputShapeError(f"{name}: query, key and value must have at least 2 dims, got shapes {query.shape}, "
                              f"{key.shape}, {value.shape}")
    if not query.dtype == key.dtype == value.dtype:
        raise InputDtypeError(f"{name}: query, key and value must have the same dtype, got {query.dtype}, {key.dtype}, "
                              f"{value.dtype}")
    if query.dtype.kind != "f":
        raise _dtype_error(query.dtype, f"{name}: query, key and value must be floating point, got {query.dtype}")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise InputShapeError(f"{name}: query (…, L, E) {query.shape}, key (…, S, E) {key.shape} and value (…, S, Ev) "
                              f"{value.shape} do not fit")
    dropout_p = _dropout_probability(dropout_p, name)
    if not isinstance(is_causal, bool):   # as torch's binding: None, 0/1 or a NumPy bool are refused
        raise TypeError(f"{name}(): argument 'is_causal' must be bool, not {type(is_causal).__name__}")
    if is_causal and attn_mask is not None:
        raise CausalHintError(f"{name}: an explicit attn_mask must not be given with is_causal=True")
    if enable_gqa:
        key, value = _grouped(query, key, value, name)
    length, source, embed = query.shape[-2], key.shape[-2], query.shape[-1]
    if scale is None:
        scale = 1.0 / math.sqrt(embed) if embed else math.inf
    scale = _number(scale, name, "scale")
    # √scale on each side before the product, as torch's math kernel (it keeps the scores' magnitude down)
    root = math.sqrt(abs(scale))
    scores = (query * (-root if scale < 0 else root)) @ (key * root).mT   # (N, …, Hq, L, S)
    if is_causal:
        attn_mask = mg.ones(length, source, dtype=mg.bool_, device=query.device).tril()
    if attn_mask is not None:
        attn_mask = _tensor(attn_mask, name, "attn_mask")
        if attn_mask.dtype not in (mg.bool_, mg.float32, query.dtype):
            also = "" if query.dtype == mg.float32 else " (or float32)"
            raise InputDtypeError(f"{name}: attn_mask must be bool or of the query's dtype {query.dtype}{also}, got "
                                  f"{attn_mask.dtype}")
        if attn_mask.dtype != mg.bool_ and attn_mask.dtype != query.dtype:
            attn_mask = attn_mask.to(query.dtype)   # torch takes a float32 mask for any query (added in its dtype)
        try:
            fits = mg.broadcast_shapes(scores.shape, attn_mask.shape) == scores.shape
        except ValueError:
            fits = False
        if not fits:
            raise InputShapeError(f"{name}: attn_mask of shape {attn_mask.shape} does not broadcast to the attention "
                                  f"weights' shape {scores.shape}")
        scores = mg.where(attn_mask, scores, _NEG_INF) if attn_mask.dtype == mg.bool_ else scores + attn_mask
    weights = dropout(_safe_softmax(scores), dropout_p)
    return weights @ value


# --- multi-head attention ---------------------------------------------------------------------------------

def _canonical_mask(mask: Any, name: str, like: Tensor) -> Tensor | None:
    """``mask`` as a float mask: a bool one of ``like``'s dtype (``True`` → -inf, ``False`` → 0); a float one as
    it is, of any float dtype, as torch's ``_canonical_mask`` (the attention then takes the query's dtype, or
    float32 on the ``need_weights=False`` path, as torch's do)."""
    if mask is None:
        return None
    mask = _tensor(mask, "multi_head_attention_forward", name)
    if mask.dtype == mg.bool_:
        return mg.zeros(mask.shape, dtype=like.dtype, device=like.device).masked_fill(mask, _NEG_INF)
    if mask.dtype.kind != "f":
        raise MaskDtypeError(f"multi_head_attention_forward: {name} must be bool or of the query's dtype {like.dtype} "
                             f"(a float mask), got {mask.dtype}")
    return mask


def _is_batched(query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Any, attn_mask: Any,
                num_heads: int) -> bool:
    """True for batched (3-D) input, False for unbatched (2-D); the masks' ranks are checked against it."""
    name = "multi_head_attention_forward"
    for what, x in (("query", query), ("key", key), ("value", value)):
        _tensor(x, name, what)
    if query.ndim not in (2, 3):
        raise ArgumentAssertionError(f"{name}: query must be 2-D (L, E) unbatched or 3-D batched, got shape "
                                     f"{query.shape}")
    batched = query.ndim == 3
    if key.ndim != query.ndim or value.ndim != query.ndim:
        raise ArgumentAssertionError(f"{name}: for a {query.ndim}-D query, key and value must be {query.ndim}-D, "
                                     f"got shapes {key.shape} and {value.shape}")
    if key_padding_mask is not None and _tensor(key_padding_mask, name, "key_padding_mask").ndim != query.ndim - 1:
        raise ArgumentAssertionError(f"{name}: for a {query.ndim}-D query, key_padding_mask must be "
                                     f"{query.ndim - 1}-D, got shape {key_padding_mask.shape}")
    if attn_mask is not None:
        if _tensor(attn_mask, name, "attn_mask").ndim not in (2, 3):
            raise ArgumentAssertionError(f"{name}: attn_mask must be 2-D or 3-D, got shape {attn_mask.shape}")
        expected = (num_heads, query.shape[0], key.shape[0])
        if not batched and attn_mask.ndim == 3 and attn_mask.shape != expected:
            raise ArgumentAssertionError(f"{name}: for an unbatched query, a 3-D attn_mask must have shape "
                                         f"{expected}, got {attn_mask.shape}")
    return batched


def _in_projection(query: Tensor, key: Tensor, value: Tensor, weights: tuple, bias: Tensor | None,
                   packed: bool) -> tuple[Tensor, Tensor, Tensor]:
    """q, k, v = each input times its slice of the projection (and plus its slice of ``bias`` (3E,)).

    ``packed``: ``weights`` is ``(in_proj_weight,)`` (3E, E); self-attention (query, key and value the same
    tensor) then takes one matmul. Else ``weights`` is (q_proj_weight, k_proj_weight, v_proj_weight).
    """
    embed = query.shape[-1] if packed else weights[0].shape[0]
    biases = (None,) * 3 if bias is None else tuple(bias[i * embed:(i + 1) * embed] for i in range(3))
    if packed:
        (weight,) = weights
        if query is key and key is value:
            projected = _linear(query, weight, bias)
            return tuple(projected[..., i * embed:(i + 1) * embed] for i in range(3))
        weights = tuple(weight[i * embed:(i + 1) * embed] for i in range(3))
    return tuple(_linear(x, w, b) for x, w, b in zip((query, key, value), weights, biases))


def _check_projection_dtypes(inputs: tuple[Tensor, ...], weights: tuple[Tensor, ...]) -> None:
    """Query, key and value must each have its projection weight's dtype: torch's linear refuses a float64
    input to float32 weights (RuntimeError), where NumPy would promote and return float64."""
    for what, x, weight in zip(("query", "key", "value"), inputs, weights):
        if x.dtype != weight.dtype:
            raise InputDtypeError(f"multi_head_attention_forward: {what} of dtype {x.dtype} does not match the "
                                  f"dtype {weight.dtype} of its projection weight (as torch, no promotion)")


def _pad_last(mask: Tensor | None) -> Tensor | None:
    """A zero column appended to a float mask's last dim (room for bias_k/bias_v or the zero attention)."""
    if mask is None:
        return None
    return mg.cat([mask, mg.zeros(*mask.shape[:-1], 1, dtype=mask.dtype, device=mask.device)], dim=-1)


def multi_head_attention_forward(
        query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int, num_heads: int,
        in_proj_weight: Tensor | None, in_proj_bias: Tensor | None, bias_k: Tensor | None, bias_v: Tensor | None,
        add_zero_attn: bool, dropout_p: float, out_proj_weight: Tensor, out_proj_bias: Tensor | None,
        training: bool = True, key_padding_mask: Tensor | None = None, need_weights: bool = True,
        attn_mask: Tensor | None = None, use_separate_proj_weight: bool = False, q_proj_weight: Tensor | None = None,
        k_proj_weight: Tensor | None = None, v_proj_weight: Tensor | None = None, static_k: Tensor | None = None,
        static_v: Tensor | None = None, average_attn_weights: bool = True,
        is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
    """Multi-head attention as ``torch.nn.functional.multi_head_attention_forward`` (``nn.MultiheadAttention``'s).

    query: (L, N, E) or unbatched (L, E); key: (S, N, Ek), value: (S, N, Ev) (or (S, Ek), (S, Ev)).
    q, k, v are the projections by ``in_proj_weight`` (3E, E) (or, with ``use_separate_proj_weight``, by
    ``q_proj_weight`` (E, E), ``k_proj_weight`` (E, Ek), ``v_proj_weight`` (E, Ev)) plus ``in_proj_bias``
    (3E,); ``bias_k``/``bias_v`` (1, 1, E) append one key/value position, ``add_zero_attn`` one of zeros;
    ``static_k``/``static_v`` (N·num_heads, S, E/num_heads) replace the projected keys/values. Each head
    attends with scale 1/√(E/num_heads), then the heads are joined and projected by ``out_proj_weight``
    (E, E) and ``out_proj_bias`` (E,).

    ``key_padding_mask``: (N, S) (unbatched (S,)); ``attn_mask``: (L, S) or (N·num_heads, L, S). Bool masks
    mark with ``True`` the keys a query must NOT attend to (the opposite of
    :func:`scaled_dot_product_attention`); float masks are added to the scores. ``is_causal`` is a hint that
    ``attn_mask`` (which must be given) is the causal mask. ``dropout_p`` applies only when ``training``.

    Returns ``(attn_output, attn_weights)``: attn_output (L, N, E) (or (L, E)); attn_weights, when
    ``need_weights``, averaged over the heads (N, L, S) (or (L, S)), or per head (N, num_heads, L, S) (or
    (num_heads, L, S)) with ``average_attn_weights=False``; else None. As torch's, ``need_weights=True``
    gives NaN for a query whose every key is masked out, ``need_weights=False`` (the
    scaled-dot-product path) zeros before the output projection.
    """
    name = "multi_head_attention_forward"
    dropout_p = _dropout_probability(dropout_p, name) if training else 0.0   # torch checks it only in training
    batched = _is_batched(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:   # computed as a batch of one, squeezed at the end
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    if (key_padding_mask is not None and attn_mask is not None
            and key_padding_mask.dtype != attn_mask.dtype):
        warnings.warn(f"{name}: support for mismatched key_padding_mask and attn_mask is deprecated (as in "
                      "PyTorch); use the same type for both", stacklevel=2)
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask", query)
    if is_causal and attn_mask is None:
        raise CausalHintError(f"{name}: is_causal=True needs attn_mask (the causal mask: "
                         "Transformer.generate_square_subsequent_mask makes it)")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None   # the hint alone tells scaled_dot_product_attention
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", query)
        if key_padding_mask is not None:
            is_causal = False   # the merged mask is no longer causal
    if embed_dim != embed_dim_to_check:
        raise ArgumentAssertionError(f"{name}: expected embedding dimension {embed_dim_to_check}, got query of shape "
                                     f"{query.shape}")
    if not isinstance(num_heads, int) or num_heads <= 0 or embed_dim % num_heads:
        raise ArgumentAssertionError(f"{name}: embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
    head_dim = embed_dim // num_heads
    # PyTorch asserts key and value alike (their (L, N) with separate projections) first: AssertionError
    asserted = key.shape[:2] != value.shape[:2] if use_separate_proj_weight else key.shape != value.shape
    if key.shape[1] != bsz or value.shape[1] != bsz:
        error = InputShapeAssertionError if asserted else InputShapeError
        raise error(f"{name}: query of shape {query.shape}, key of shape {key.shape} and value of shape "
                    f"{value.shape} must have the same batch size (dim 1 of a batched (L, N, E) input)")
    expected = (embed_dim, embed_dim) if not use_separate_proj_weight else tuple(
        w.shape[-1] if w is not None else None for w in (k_proj_weight, v_proj_weight))
    if (key.shape[-1], value.shape[-1]) != expected:
        error = InputShapeAssertionError if asserted or use_separate_proj_weight else InputShapeError
        raise error(f"{name}: key of shape {key.shape} and value of shape {value.shape} must have "
                    f"{expected[0]} and {expected[1]} features (kdim, vdim)")
    if use_separate_proj_weight:
        if key.shape[:2] != value.shape[:2]:
            raise ArgumentAssertionError(f"{name}: key's sequence and batch dims {key.shape[:2]} differ from value's "
                                         f"{value.shape[:2]}")
        if q_proj_weight is None or k_proj_weight is None or v_proj_weight is None:
            raise ArgumentAssertionError(f"{name}: use_separate_proj_weight=True needs q_proj_weight, "
                                         "k_proj_weight and v_proj_weight")
        _check_projection_dtypes((query, key, value), (q_proj_weight, k_proj_weight, v_proj_weight))
        q, k, v = _in_projection(query, key, value, (q_proj_weight, k_proj_weight, v_proj_weight), in_proj_bias,
                                 packed=False)
    else:
        if key.shape != value.shape:
            raise ArgumentAssertionError(f"{name}: key of shape {key.shape} differs from value of shape {value.shape}")
        if in_proj_weight is None:
            raise ArgumentAssertionError(f"{name}: in_proj_weight is None and use_separate_proj_weight is False")
        _check_projection_dtypes((query, key, value), (in_proj_weight,) * 3)
        q, k, v = _in_projection(query, key, value, (in_proj_weight,), in_proj_bias, packed=True)

    if attn_mask is not None:   # made 3-D: (1 or N·num_heads, L, S)
        expected = (tgt_len, src_len) if attn_mask.ndim == 2 else (bsz * num_heads, tgt_len, src_len)
        if attn_mask.shape != expected:
            raise InputShapeError(f"{name}: the {attn_mask.ndim}-D attn_mask has shape {attn_mask.shape}, expected "
                                  f"{expected}")
        if attn_mask.ndim == 2:
            attn_mask = attn_mask.unsqueeze(0)

    if (bias_k is None) != (bias_v is None):
        raise ArgumentAssertionError(f"{name}: bias_k and bias_v must be given together")
    if bias_k is not None:
        if static_k is not None or static_v is not None:
            raise ArgumentAssertionError(f"{name}: bias_k/bias_v cannot be added to static_k/static_v")
        k = mg.cat([k, bias_k.repeat(1, bsz, 1)], dim=0)
        v = mg.cat([v, bias_v.repeat(1, bsz, 1)], dim=0)
        attn_mask, key_padding_mask = _pad_last(attn_mask), _pad_last(key_padding_mask)

    # heads into the batch: (L, N, E) → (N·num_heads, L, E/num_heads)
    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = _heads(k, static_k, "static_k", bsz * num_heads, head_dim)
    v = _heads(v, static_v, "static_v", bsz * num_heads, head_dim)
    if add_zero_attn:
        zeros = mg.zeros(bsz * num_heads, 1, head_dim, dtype=k.dtype, device=k.device)
        k, v = mg.cat([k, zeros], dim=1), mg.cat([v, zeros], dim=1)
        attn_mask, key_padding_mask = _pad_last(attn_mask), _pad_last(key_padding_mask)
    src_len = k.shape[1]

    if key_padding_mask is not None:   # merged into attn_mask: (N·num_heads, 1, S)
        if key_padding_mask.shape != (bsz, src_len):
            raise ArgumentAssertionError(f"{name}: key_padding_mask has shape {key_padding_mask.shape}, expected "
                                         f"{(bsz, src_len)}")
        key_padding_mask = key_padding_mask.reshape(bsz, 1, 1, src_len).broadcast_to(
            (bsz, num_heads, 1, src_len)).reshape(bsz * num_heads, 1, src_len)
        attn_mask = key_padding_mask if attn_mask is None else attn_mask + key_padding_mask
    if not training:
        dropout_p = 0.0

    if attn_mask is not None and attn_mask.dtype != q.dtype and (need_weights or attn_mask.dtype != mg.float32):
        also = "" if need_weights or q.dtype == mg.float32 else " or float32"
        raise InputDtypeError(f"{name}: a float attn_mask/key_padding_mask must be of the query's dtype "
                              f"{q.dtype}{also} (with need_weights={need_weights}, as torch's), got {attn_mask.dtype}")
    if need_weights:
        if is_causal and attn_mask is None:
            raise CausalHintError(f"{name}: is_causal=True with need_weights=True needs attn_mask")
        scores = (q * math.sqrt(1.0 / head_dim)) @ k.mT   # (N·num_heads, L, S)
        if attn_mask is not None:
            scores = scores + attn_mask
        with mg.errstate(mg.array_module(scores.data), invalid="ignore"):   # NaN rows, as torch's
            weights = mg.softmax(scores, dim=-1)
        weights = dropout(weights, dropout_p)
        output = (weights @ v).transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        output = _linear(output, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, out_proj_weight.shape[0])
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(dim=1)
        if not batched:
            output, weights = output.squeeze(1), weights.squeeze(0)
        return output, weights

    if attn_mask is not None:   # (1, 1, L, S) or (N, num_heads, L, S), as scaled_dot_product_attention wants
        attn_mask = attn_mask.unsqueeze(0) if attn_mask.shape[0] == 1 else \
            attn_mask.reshape(bsz, num_heads, attn_mask.shape[1], src_len)
    q = q.reshape(bsz, num_heads, tgt_len, head_dim)
    k = k.reshape(bsz, num_heads, src_len, head_dim)
    v = v.reshape(bsz, num_heads, src_len, head_dim)
    output = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    output = output.permute(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
    output = _linear(output, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, out_proj_weight.shape[0])
    return (output if batched else output.squeeze(1)), None


def _heads(x: Tensor, static: Tensor | None, what: str, batch_heads: int, head_dim: int) -> Tensor:
    """Keys or values (S, N, E) → (N·num_heads, S, E/num_heads), or ``static`` (already in that shape)."""
    if static is None:
        return x.reshape(x.shape[0], batch_heads, head_dim).transpose(0, 1)
    static = _tensor(static, "multi_head_attention_forward", what)
    if static.ndim != 3 or static.shape[0] != batch_heads or static.shape[2] != head_dim:
        raise ArgumentAssertionError(f"multi_head_attention_forward: {what} must have shape "
                                     f"({batch_heads}, S, {head_dim}), got {static.shape}")
    return static
