"""The Transformer of "Attention Is All You Need", as torch 2.13's ``nn.Transformer`` and its parts:
``TransformerEncoderLayer``, ``TransformerDecoderLayer``, ``TransformerEncoder``, ``TransformerDecoder``.

Same constructor arguments, submodule names and state-dict keys as torch's (a torch ``state_dict`` loads
with ``load_state_dict``), built from :class:`MultiheadAttention`, :class:`Linear`, :class:`LayerNorm` and
:class:`Dropout`. torch's fused inference kernels are not here: their values agree with the plain path up to
rounding, but for a query whose every key is masked out (NaN there, pytorch#118628), for an
``nn.GELU(approximate="tanh")`` activation (the fused encoder-layer kernel computes the exact GELU, about 1e-4
apart) and for ``is_causal=True`` without a mask (the fused kernels ignore the hint, the plain path raises):
here the plain path's values and errors, which torch's training mode gives. One value they change is kept:
where torch's ``TransformerEncoder`` takes its nested-tensor path (its conditions, see
:meth:`TransformerEncoder.forward`), the padded positions come out as 0 before the final norm, as torch's do.

Masks, as in torch (and :class:`MultiheadAttention`): a bool mask's ``True`` means "do not attend"; a
float mask is added to the attention scores. ``*_is_causal`` are hints that the mask given is the causal
one (:meth:`Transformer.generate_square_subsequent_mask`); ``None`` (torch detects a causal mask to pick a
kernel, which changes no value) uses the mask as given.
"""

from __future__ import annotations

import copy
import operator
import warnings
from typing import Any, Callable

import numpy

import minigrad as mg
from minigrad import Tensor

from . import functional as F
from . import init
from ._attention import _canonical_mask
from ._errors import InputDtypeError, InputRankError, InputShapeAssertionError, InputShapeError
from ._parameters import integer_size
from .activation import GELU, ReLU
from .attention import MultiheadAttention
from .containers import ModuleList
from .layers import Dropout, Linear
from .module import Module
from .normalization import LayerNorm

__all__ = ["Transformer", "TransformerDecoder", "TransformerDecoderLayer", "TransformerEncoder",
           "TransformerEncoderLayer"]


def _activation(activation: str | Callable[[Tensor], Tensor], name: str) -> Callable[[Tensor], Tensor]:
    """``"relu"`` → F.relu, ``"gelu"`` → F.gelu, a callable as it is."""
    if isinstance(activation, str):
        if activation not in ("relu", "gelu"):
            raise InputShapeError(f"{name}: activation should be 'relu' or 'gelu' (or a callable), not {activation!r}")
        return F.relu if activation == "relu" else F.gelu
    if not callable(activation):
        raise TypeError(f"{name}: activation must be 'relu', 'gelu' or a callable, got {type(activation).__name__}")
    return activation


def _float_masks(key_padding_mask: Any, mask: Any, like: Tensor, mask_name: str) -> tuple[Any, Any]:
    """Both masks as float masks of ``like``'s dtype (bool ``True`` → -inf), warning if their types differ, as
    torch's encoder (and encoder layer) does before its attention (which then sees float masks only)."""
    if key_padding_mask is not None and mask is not None and key_padding_mask.dtype != mask.dtype:
        warnings.warn(f"support for mismatched src_key_padding_mask and {mask_name} is deprecated (as in PyTorch); "
                      "use the same type for both", stacklevel=3)
    return (_canonical_mask(key_padding_mask, "src_key_padding_mask", like),
            _canonical_mask(mask, mask_name, like))


def _check_sizes(d_model: Any, nhead: Any, dim_feedforward: Any, name: str) -> tuple:
    """d_model, nhead and dim_feedforward as ints (NumPy ints and 0-d integer tensors too, as PyTorch's); a
    non-integer is a TypeError, too small a ValueError from MultiheadAttention for d_model/nhead and a RuntimeError
    from Linear's empty weight for dim_feedforward, as PyTorch's. dim_feedforward may be 0, as torch's (a
    feed-forward network whose output is linear2's bias)."""
    return (integer_size(d_model, name, "d_model", 1), integer_size(nhead, name, "nhead", 1),
            integer_size(dim_feedforward, name, "dim_feedforward", 0, InputShapeError))


class _TransformerLayer(Module):
    """What the encoder and decoder layers share, registered in torch's order (so their state dicts, reprs
    and random initialisation are torch's): a MultiheadAttention for each name in ``attentions``, the
    feed-forward network ``linear1``, ``dropout``, ``linear2``, then a LayerNorm ``norm{i}`` and a Dropout
    ``dropout{i}`` for each residual block (each attention, then the feed-forward network)."""

    def __init__(self, name: str, attentions: tuple[str, ...], d_model: int, nhead: int, dim_feedforward: int,
                 dropout: float, activation: str | Callable[[Tensor], Tensor], layer_norm_eps: float,
                 batch_first: bool, norm_first: bool, bias: bool, device: Any, dtype: Any) -> None:
        super().__init__()
        d_model, nhead, dim_feedforward = _check_sizes(d_model, nhead, dim_feedforward, name)
        factory = {"device": device, "dtype": dtype}
        for attention in attentions:
            setattr(self, attention, MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                        batch_first=batch_first, **factory))
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm_first = bool(norm_first)
        blocks = range(1, len(attentions) + 2)
        for i in blocks:
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory))
        for i in blocks:
            setattr(self, f"dropout{i}", Dropout(dropout))
        self.activation = _activation(activation, name)

    def _sa_block(self, x: Tensor, attn_mask: Tensor | None, key_padding_mask: Tensor | None,
                  is_causal: bool) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False,
                           is_causal=is_causal)[0]
        return self.dropout1(x)

    def _feed_forward(self, x: Tensor) -> Tensor:
        return self.linear2(self.dropout(self.activation(self.linear1(x))))


class TransformerEncoderLayer(_TransformerLayer):
    """Self-attention then a feed-forward network, each in a residual branch with dropout and a LayerNorm.

    Post-norm (default): x = norm1(x + SA(x)); x = norm2(x + FF(x)). ``norm_first=True`` (pre-norm):
    x = x + SA(norm1(x)); x = x + FF(norm2(x)). FF(x) = linear2(dropout(activation(linear1(x)))).
    Submodules as torch's: ``self_attn`` (MultiheadAttention), ``linear1`` (d_model → dim_feedforward),
    ``dropout``, ``linear2``, ``norm1``, ``norm2``, ``dropout1``, ``dropout2``.

    src: (S, N, E), or (N, S, E) with ``batch_first``, or unbatched (S, E) → the same shape.
    ``src_mask``: (S, S) or (N·nhead, S, S); ``src_key_padding_mask``: (N, S) (unbatched (S,)).
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable[[Tensor], Tensor] = F.relu, layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__("TransformerEncoderLayer", ("self_attn",), d_model, nhead, dim_feedforward, dropout,
                         activation, layer_norm_eps, batch_first, norm_first, bias, device, dtype)
        # torch's flag for its fused kernel: 1 relu, 2 gelu, 0 anything else
        activation = self.activation
        self.activation_relu_or_gelu = 1 if activation is F.relu or isinstance(activation, ReLU) else \
            2 if activation is F.gelu or isinstance(activation, GELU) else 0

    def forward(self, src: Tensor, src_mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                is_causal: bool = False) -> Tensor:
        """src (S, N, E) / (N, S, E) / (S, E) → the same shape; see the class docstring for the masks."""
        src_key_padding_mask, src_mask = _float_masks(src_key_padding_mask, src_mask, src, "src_mask")
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout2(self._feed_forward(x))


class TransformerDecoderLayer(_TransformerLayer):
    """Self-attention, attention over the encoder's output (``memory``), then a feed-forward network, each in
    a residual branch with dropout and a LayerNorm (after it, or before with ``norm_first``).

    Submodules as torch's: ``self_attn``, ``multihead_attn``, ``linear1``, ``dropout``, ``linear2``,
    ``norm1``, ``norm2``, ``norm3``, ``dropout1``, ``dropout2``, ``dropout3``.
    tgt: (T, N, E) (``batch_first``: (N, T, E); unbatched (T, E)), memory: (S, N, E) likewise → tgt's shape.
    ``tgt_mask`` (T, T) or (N·nhead, T, T), ``memory_mask`` (T, S) or (N·nhead, T, S),
    ``tgt_key_padding_mask`` (N, T), ``memory_key_padding_mask`` (N, S).
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable[[Tensor], Tensor] = F.relu, layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__("TransformerDecoderLayer", ("self_attn", "multihead_attn"), d_model, nhead,
                         dim_feedforward, dropout, activation, layer_norm_eps, batch_first, norm_first, bias,
                         device, dtype)

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False) -> Tensor:
        """tgt (T, N, E), memory (S, N, E) (or batch first, or unbatched) → tgt's shape."""
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal)
            return x + self._ff_block(self.norm3(x))
        x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal))
        return self.norm3(x + self._ff_block(x))

    def _mha_block(self, x: Tensor, memory: Tensor, attn_mask: Tensor | None, key_padding_mask: Tensor | None,
                   is_causal: bool) -> Tensor:
        x = self.multihead_attn(x, memory, memory, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                is_causal=is_causal, need_weights=False)[0]
        return self.dropout2(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout3(self._feed_forward(x))


def _clones(module: Module, count: int, name: str) -> ModuleList:
    """``count`` independent deep copies of ``module`` (each starts with ``module``'s weights), as torch's."""
    try:   # torch's range(num_layers): anything with __index__ (a NumPy int, a one-element integer tensor, True)
        count = operator.index(count)
    except TypeError:
        raise TypeError(f"{name}: num_layers must be an int, got {type(count).__name__} {count!r:.40}") from None
    if count < 0:
        raise ValueError(f"{name}: num_layers must be a non-negative int, got {count!r}")
    if not isinstance(module, Module):
        raise TypeError(f"{name}: expected a layer Module to copy, got {type(module).__name__}")
    return ModuleList([copy.deepcopy(module) for _ in range(count)])


def _refuse_0d(x: Any, name: str, what: str) -> None:
    """InputRankError (PyTorch's IndexError: it reads the sequence length off x's shape) for a 0-d Tensor x."""
    if isinstance(x, Tensor) and x.ndim == 0:
        raise InputRankError(f"{name}: {what} must be (S, N, E), (N, S, E) or unbatched (S, E), got a 0-d tensor")


def _check_layers(layers: ModuleList, name: str) -> None:
    """torch's forward reads ``layers[0]``: with ``num_layers=0`` it raises IndexError, and so does ours."""
    if not len(layers):
        raise IndexError(f"{name}: forward needs at least one layer (num_layers=0 was given), as torch's, which "
                         "reads layers[0]")


def _why_not_nested_tensor(layer: Module) -> str:
    """torch's conditions for ``TransformerEncoder.use_nested_tensor`` (its sparsity fast path) on a layer: the
    first one the layer fails, in torch's words (its warning names it), or "" when it meets them all."""
    if not isinstance(layer, TransformerEncoderLayer):
        return "encoder_layer was not TransformerEncoderLayer"
    attention = layer.self_attn
    failed = [(layer.norm_first, "encoder_layer.norm_first was True"),
              (not attention.batch_first, "encoder_layer.self_attn.batch_first was not True"
                                          "(use batch_first for better inference performance)"),
              (not attention._qkv_same_embed_dim, "encoder_layer.self_attn._qkv_same_embed_dim was not True"),
              (attention.in_proj_bias is None, "encoder_layer.self_attn was passed bias=False"),
              (not layer.activation_relu_or_gelu, "encoder_layer.activation_relu_or_gelu was not True"),
              (layer.norm1.eps != layer.norm2.eps, "encoder_layer.norm1.eps was not equal to encoder_layer.norm2.eps"),
              (attention.num_heads % 2 == 1, "encoder_layer.self_attn.num_heads is odd")]
    return next((reason for fails, reason in failed if fails), "")


def _nested_padding(key_padding_mask: Tensor, mask_check: bool) -> tuple[Tensor, Tensor]:
    """torch's nested tensor of a float key padding mask (N, S): sequence n keeps its first ``length[n]``
    positions, its count of zero entries. Returns the float padding mask the layers then see (-inf after
    ``length``) and the (N, S) bool mask of the positions torch's padded output sets to 0. With ``mask_check``
    and a mask whose padding is not all at the rows' ends, both are as without the nested path (the mask
    given, nothing zeroed), as torch then takes its plain path; tensor ops decide, so mg.compile replays too."""
    keep = key_padding_mask == 0
    lengths = keep.sum(dim=1, keepdim=True)
    padded = mg.arange(keep.shape[1], device=keep.device).unsqueeze(0) >= lengths   # (N, S)
    nested = mg.zeros_like(key_padding_mask).masked_fill(padded, float("-inf"))
    if not mask_check:
        return nested, padded
    aligned = (keep != padded).all()   # left-aligned: the kept positions are exactly the first `length`
    return mg.where(aligned, nested, key_padding_mask), padded & aligned


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` (``layers.0`` …, each starting with its weights), then
    ``norm`` if given. src: (S, N, E) (or (N, S, E) / (S, E)) → the same shape.

    ``enable_nested_tensor`` and ``mask_check`` (torch's inference fast path) are kept as attributes;
    ``use_nested_tensor`` is set as torch sets it, with torch's warning naming the reason when
    ``enable_nested_tensor`` cannot be honoured (:meth:`forward` says which values depend on it).
    """

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True) -> None:
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers, "TransformerEncoder")
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = bool(enable_nested_tensor)
        # torch's attribute: whether its nested-tensor fast path could be used; torch warns when it was asked for
        why_not = _why_not_nested_tensor(encoder_layer)
        if enable_nested_tensor and why_not:
            warnings.warn(f"enable_nested_tensor is True, but self.use_nested_tensor is False because {why_not}",
                          stacklevel=2)
        self.use_nested_tensor = self.enable_nested_tensor and not why_not
        self.mask_check = bool(mask_check)

    def forward(self, src: Tensor, mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                is_causal: bool | None = None) -> Tensor:
        """src → the same shape; ``mask`` (S, S) or (N·nhead, S, S), ``src_key_padding_mask`` (N, S).

        torch 2.13's nested-tensor path, and its values: when ``use_nested_tensor``, the first layer in eval
        mode, a batched ``src``, a ``src_key_padding_mask``, no ``mask``, and no gradient wanted (grad mode off,
        or neither ``src`` nor the first layer's weights require grad), each sequence keeps its first ``length``
        positions, ``length`` its count of zero entries in the (float) padding mask (so a nonzero float entry
        pads, as a ``True`` does), and the positions after them are 0 before ``norm``. With ``mask_check``
        (default) that happens only when every row's padding is at its end (else torch takes the plain path);
        without it, torch does not look and keeps the first ``length`` positions. (Under torch.compile torch
        skips the path with ``mask_check``; ``mg.compile`` gives the eager values.)
        """
        _refuse_0d(src, "TransformerEncoder", "src")
        src_key_padding_mask, mask = _float_masks(src_key_padding_mask, mask, src, "mask")
        _check_layers(self.layers, "TransformerEncoder")
        zeroed = None
        if self._takes_nested_path(src, mask, src_key_padding_mask):
            src_key_padding_mask, zeroed = _nested_padding(src_key_padding_mask, self.mask_check)
        output = src
        for layer in self.layers:
            output = layer(output, src_mask=mask, is_causal=bool(is_causal),
                           src_key_padding_mask=src_key_padding_mask)
        if zeroed is not None:   # torch's to_padded_tensor(0.0)
            batch_first = self.layers[0].self_attn.batch_first
            output = mg.where((zeroed if batch_first else zeroed.T).unsqueeze(-1), 0.0, output)
        return output if self.norm is None else self.norm(output)

    def _takes_nested_path(self, src: Tensor, mask: Tensor | None, key_padding_mask: Tensor | None) -> bool:
        """torch 2.13's conditions for its nested-tensor path (``why_not_sparsity_fast_path`` empty), but
        the left-alignment check, which :func:`_nested_padding` makes with tensor ops (so a replay needs no
        read of the mask, and mg.compile, unlike torch.compile, keeps the path)."""
        if (not self.use_nested_tensor or not len(self.layers) or self.layers[0].training or src.ndim != 3
                or key_padding_mask is None or key_padding_mask.ndim != 2 or mask is not None):
            # (a padding mask of another rank is left to the attention, which names the shapes it expects)
            return False
        first = self.layers[0]
        attention = first.self_attn
        tensors = (src, attention.in_proj_weight, attention.in_proj_bias, attention.out_proj.weight,
                   attention.out_proj.bias, first.norm1.weight, first.norm1.bias, first.norm2.weight,
                   first.norm2.bias, first.linear1.weight, first.linear1.bias, first.linear2.weight,
                   first.linear2.bias)
        return not (mg.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors))


class TransformerDecoder(Module):
    """``num_layers`` copies of ``decoder_layer`` (``layers.0`` …), then ``norm`` if given.
    tgt: (T, N, E), memory: (S, N, E) (or batch first, or unbatched) → tgt's shape."""

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm: Module | None = None) -> None:
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers, "TransformerDecoder")
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        """tgt, memory → tgt's shape; the masks as :class:`TransformerDecoderLayer`'s."""
        _refuse_0d(tgt, "TransformerDecoder", "tgt")
        _check_layers(self.layers, "TransformerDecoder")
        output = tgt
        for layer in self.layers:
            output = layer(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                           tgt_key_padding_mask=tgt_key_padding_mask,
                           memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=bool(tgt_is_causal),
                           memory_is_causal=memory_is_causal)
        return output if self.norm is None else self.norm(output)


class Transformer(Module):
    """An encoder (``num_encoder_layers`` TransformerEncoderLayers and a final LayerNorm) and a decoder
    (``num_decoder_layers`` TransformerDecoderLayers and a LayerNorm), as torch's ``nn.Transformer``; every
    parameter with more than one dim starts Xavier-uniform. ``custom_encoder``/``custom_decoder`` replace them.

    forward(src, tgt): src (S, N, E), tgt (T, N, E) (``batch_first``: (N, S, E), (N, T, E); unbatched
    (S, E), (T, E)) → (T, N, E) (or tgt's layout). Masks: ``src_mask`` (S, S), ``tgt_mask`` (T, T)
    (e.g. :meth:`generate_square_subsequent_mask`), ``memory_mask`` (T, S), and key padding masks
    ``src_key_padding_mask`` (N, S), ``tgt_key_padding_mask`` (N, T), ``memory_key_padding_mask`` (N, S).
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable[[Tensor], Tensor] = F.relu, custom_encoder: Module | None = None,
                 custom_decoder: Module | None = None, layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        layer_args = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first, norm_first,
                      bias)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(TransformerEncoderLayer(*layer_args, **factory), num_encoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(TransformerDecoderLayer(*layer_args, **factory), num_decoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory))
        self._reset_parameters()
        self.d_model, self.nhead, self.batch_first = d_model, nhead, bool(batch_first)

    def forward(self, src: Tensor, tgt: Tensor, src_mask: Tensor | None = None, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, src_key_padding_mask: Tensor | None = None,
                tgt_key_padding_mask: Tensor | None = None, memory_key_padding_mask: Tensor | None = None,
                src_is_causal: bool | None = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        """src (S, N, E), tgt (T, N, E) (or batch first, or unbatched) → tgt's shape; see the class docstring."""
        for what, x in (("src", src), ("tgt", tgt)):
            if not isinstance(x, Tensor):
                raise TypeError(f"Transformer: {what} must be a Tensor, got {type(x).__name__}")
        batch_dim = 0 if self.batch_first else 1
        if src.ndim == 0 or tgt.ndim == 0 or (src.ndim == 3 and tgt.ndim <= batch_dim):   # PyTorch's IndexError
            raise InputRankError(f"Transformer: src of shape {src.shape} and tgt of shape {tgt.shape} must both be "
                                 f"batched (3-D, batch_first={self.batch_first}) or unbatched (2-D)")
        if src.ndim == 3 and src.shape[batch_dim] != tgt.shape[batch_dim]:
            raise InputShapeError(f"Transformer: the batch sizes of src {src.shape} and tgt {tgt.shape} must be "
                                  f"equal (batch_first={self.batch_first})")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise InputShapeError(f"Transformer: the feature sizes of src {src.shape} and tgt {tgt.shape} must "
                                  f"equal d_model={self.d_model}")
        if src.ndim == 3 and tgt.ndim != 3:   # PyTorch's decoder attention asserts the query's rank
            raise InputShapeAssertionError(f"Transformer: tgt of shape {tgt.shape} must be 3-D, as src of shape "
                                           f"{src.shape} is batched (batch_first={self.batch_first})")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                            memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> Tensor:
        """The (sz, sz) causal float mask: -inf above the diagonal (a later position), 0 elsewhere
        (float32 unless ``dtype`` is given), as torch's; with ``dtype=bool``: True above the diagonal; a
        complex ``dtype`` holds -inf+0j, as torch's. An integer ``dtype`` (which cannot hold -inf) is an
        error, where torch raises too."""
        dtype = mg.get_default_dtype() if dtype is None else dtype
        if numpy.dtype(dtype).kind in "iu":
            raise InputDtypeError(f"Transformer.generate_square_subsequent_mask: dtype must be floating point or "
                                  f"bool (or complex; -inf does not fit {numpy.dtype(dtype)}), got {dtype}")
        return mg.full((sz, sz), float("-inf"), dtype=dtype, device=device).triu(1)

    def _reset_parameters(self) -> None:
        for param in self.parameters():
            if param.ndim > 1:
                init.xavier_uniform_(param)
