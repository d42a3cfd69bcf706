"""``nn.MultiheadAttention``, as torch 2.13's: the same parameters, state-dict keys, initialisation, masks and
shapes. The arithmetic is :func:`nn.functional.multi_head_attention_forward` (in ``nn/_attention.py``).

torch also has a fused inference "fast path" (eval mode, no gradient, self-attention with batch_first …);
its values are the same up to rounding, so there is one path here. Where the two differ beyond rounding
(a query whose every key is masked out: NaN on torch's fast path, zeros on its ``need_weights=False``
slow path), this module gives the slow path's result.
"""

from __future__ import annotations

import contextlib
import enum
from typing import Any, Iterator

import numpy

import minigrad as mg
from minigrad import Tensor

from . import init
from ._attention import multi_head_attention_forward
from ._errors import ArgumentAssertionError, InputDtypeError, InputShapeError
from ._parameters import integer_size
from .layers import Linear
from .module import Module, Parameter

__all__ = ["MultiheadAttention", "NonDynamicallyQuantizableLinear", "SDPBackend", "sdpa_kernel"]


class SDPBackend(enum.IntEnum):
    """The kernels PyTorch's ``F.scaled_dot_product_attention`` chooses among (``torch.nn.attention.SDPBackend``,
    same names and values). minigrad has one: the math of ``MATH``, on every device."""

    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4


@contextlib.contextmanager
def sdpa_kernel(backends: Any, set_priority: bool = False) -> Iterator[dict]:
    """PyTorch's context manager that restricts ``F.scaled_dot_product_attention`` to ``backends`` (one
    ``SDPBackend`` or a list). minigrad's attention has only the math path, whose values every PyTorch kernel
    approximates, so the choice changes nothing here; the argument is checked as PyTorch checks it."""
    if not isinstance(backends, (list, SDPBackend)):
        raise AssertionError("Backend must be an instance of SDPBackend or a list of SDPBackend instances, got "
                             f"{type(backends).__name__}")
    yield {}


class NonDynamicallyQuantizableLinear(Linear):
    """A plain :class:`Linear`, under the name torch gives ``MultiheadAttention.out_proj`` (so reprs agree)."""


class MultiheadAttention(Module):
    """Multi-head attention: Concat(head_1, …, head_h) W_O with head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V).

    ``embed_dim`` E is split over ``num_heads`` heads of E/num_heads each. Parameters, as torch's:
    ``in_proj_weight`` (3E, E) (Xavier uniform) when key and value have E features, else
    ``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim), ``v_proj_weight`` (E, vdim); ``in_proj_bias``
    (3E,) (zeros) with ``bias=True``; ``out_proj`` a Linear(E, E) (its bias zeroed); ``bias_k``, ``bias_v``
    (1, 1, E) (Xavier normal) with ``add_bias_kv``. ``dropout`` acts on the attention weights in training.

    forward(query, key, value): query (L, N, E), key (S, N, kdim), value (S, N, vdim) (``batch_first``:
    (N, L, E) …; unbatched: (L, E), (S, kdim), (S, vdim)) → ``(attn_output, attn_weights)``: attn_output
    of the query's shape; attn_weights (N, L, S) averaged over heads (unbatched (L, S)), or
    (N, num_heads, L, S) with ``average_attn_weights=False``, or None with ``need_weights=False``.
    ``key_padding_mask`` (N, S) (unbatched (S,)) and ``attn_mask`` (L, S) or (N·num_heads, L, S): bool
    masks where ``True`` = do not attend, or float masks added to the scores. ``is_causal``: a hint that
    ``attn_mask`` is the causal mask (it must still be given).
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        embed_dim, num_heads, kdim, vdim = (None if size is None else integer_size(size, "MultiheadAttention", what, 1)
                                            for what, size in (("embed_dim", embed_dim), ("num_heads", num_heads),
                                                               ("kdim", kdim), ("vdim", vdim)))
        if embed_dim % num_heads:
            raise ArgumentAssertionError(f"MultiheadAttention: embed_dim {embed_dim} must be divisible by "
                                         f"num_heads {num_heads}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout <= 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be a probability in [0, 1], got {dropout!r}")
        dt = mg.get_default_dtype() if dtype is None else numpy.dtype(dtype)
        if dt.kind not in "fc":   # complex is built, as PyTorch's; its forward refuses it (NotImplementedError)
            # TypeError, and PyTorch's RuntimeError (its integer parameters cannot require grad)
            raise InputDtypeError(f"MultiheadAttention: dtype must be a floating or complex type, got {dt}")
        self.embed_dim = embed_dim
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads, self.dropout, self.batch_first = num_heads, float(dropout), bool(batch_first)
        self.head_dim = embed_dim // num_heads

        def empty(*shape: int) -> Parameter:
            return Parameter(mg.empty(*shape, dtype=dt, device=device))

        if self._qkv_same_embed_dim:
            self.in_proj_weight = empty(3 * embed_dim, embed_dim)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = empty(embed_dim, embed_dim)
            self.k_proj_weight = empty(embed_dim, self.kdim)
            self.v_proj_weight = empty(embed_dim, self.vdim)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = empty(3 * embed_dim)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, device=device, dtype=dt)
        if add_bias_kv:
            self.bias_k = empty(1, 1, embed_dim)
            self.bias_v = empty(1, 1, embed_dim)
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = bool(add_zero_attn)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for weight in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None = None,
                need_weights: bool = True, attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        """``(attn_output, attn_weights)`` for query (L, N, E) (or (N, L, E), or (L, E)); see the class docstring."""
        for what, x in (("query", query), ("key", key), ("value", value)):
            if not isinstance(x, Tensor):
                raise TypeError(f"MultiheadAttention: {what} must be a Tensor, got {type(x).__name__}")
        batched = query.ndim == 3
        given_query, given_key, given_value = query.shape, key.shape, value.shape   # as passed, for the errors below
        if self.batch_first and batched:
            # (N, L, E) → (L, N, E), keeping `query is key is value` (self-attention projects in one matmul)
            if key is value:
                if query is key:
                    query = key = value = query.transpose(1, 0)
                else:
                    query, key = query.transpose(1, 0), key.transpose(1, 0)
                    value = key
            else:
                query, key, value = (x.transpose(1, 0) for x in (query, key, value))
        separate = not self._qkv_same_embed_dim
        try:
            output, weights = multi_head_attention_forward(
                query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight, self.in_proj_bias,
                self.bias_k, self.bias_v, self.add_zero_attn, self.dropout, self.out_proj.weight,
                self.out_proj.bias, training=self.training, key_padding_mask=key_padding_mask,
                need_weights=need_weights, attn_mask=attn_mask, use_separate_proj_weight=separate,
                q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight,
                v_proj_weight=self.v_proj_weight, average_attn_weights=average_attn_weights, is_causal=is_causal)
        except (ArgumentAssertionError, InputShapeError) as error:   # its shapes are the transposed (L, N, E) ones
            if not (self.batch_first and batched):
                raise
            raise type(error)(f"MultiheadAttention(batch_first=True) got query {given_query}, key {given_key} and "
                              f"value {given_value}, batch first (N, L, E); transposed to (L, N, E): {error}") from None
        if self.batch_first and batched:
            output = output.transpose(1, 0)
        return output, weights

    def merge_masks(self, attn_mask: Tensor | None, key_padding_mask: Tensor | None,
                    query: Tensor) -> tuple[Tensor | None, int | None]:
        """torch's helper for its fused kernel: ``(merged_mask, mask_type)``. Only ``key_padding_mask`` (N, L):
        it, type 1; an ``attn_mask`` (L, L) or (N·num_heads, L, L): it as (N, num_heads, L, L), type 2, plus
        the padding mask as (N, num_heads, 1, L) when both are given (for bool masks ``+`` is a logical or);
        neither: ``(None, None)``. query: (N, L, E) (batch first, self-attention, as torch's fast path)."""
        if attn_mask is None:
            return (None, None) if key_padding_mask is None else (key_padding_mask, 1)
        batch_size, seq_len, _ = query.shape
        if attn_mask.ndim == 3:
            merged = attn_mask.reshape(batch_size, -1, seq_len, seq_len)
        else:
            merged = attn_mask.reshape(1, 1, seq_len, seq_len).expand(batch_size, self.num_heads, -1, -1)
        if key_padding_mask is not None:
            merged = merged + key_padding_mask.reshape(batch_size, 1, 1, seq_len).expand(-1, self.num_heads, -1, -1)
        return merged, 2
