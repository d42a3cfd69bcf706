"""The Transformer family probed against torch 2.13 beyond tests/nn/test_transformer.py and test_probe_attention.py:
every constructor option, 3-D masks for every attention, float and bool padding masks, the eval-mode values
of torch's nested-tensor encoder path, float32 masks on a float64 model, MultiheadAttention's kdim/vdim,
bias_kv, zero_attn and bias=False on every path, state-dict keys, parameter order and reprs, and errors.

What torch 2.13 does in eval mode without gradients, and what is matched:

- ``TransformerEncoder`` (``enable_nested_tensor=True``, a batch_first post-norm layer with an even head count
  and biases, relu/gelu): with a ``src_key_padding_mask`` and no ``mask``, when no gradient is wanted, torch
  packs each sequence's first ``length`` positions into a nested tensor and pads the result back with 0, so
  the padded positions are 0 before the final norm. ``length`` counts the mask's zero entries (a nonzero float
  entry pads too). With ``mask_check`` only a mask whose padding sits at each row's end takes that path;
  ``mask_check=False`` keeps the first ``length`` positions whatever the mask says. All matched.
- torch's fused encoder-layer kernel (the same eval/no-grad conditions, without the nested tensor) reads a
  float mask as bool (nonzero = masked; random float masks give NaN everywhere; pytorch/pytorch#118628, open)
  and gives NaN for a query whose every key is masked out. Not matched: ours gives the documented additive
  masks and zero rows of torch's plain path (what torch gives with gradients on).
- torch's ``TransformerDecoder``/``Transformer`` deep-copy the decoder layer, and ``TransformerDecoderLayer.
  __setstate__`` then sets ``activation = F.relu`` when the activation is a Module (it lives in ``_modules``):
  torch's stacked decoder layers silently use ReLU in place of, e.g., ``nn.GELU()`` (the encoder layer's was
  fixed in pytorch/pytorch#81832). Not matched: ours uses the module given; the test pins torch's behaviour.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

import minigrad as mg
import nn
from nn import functional as F

pytestmark = [pytest.mark.filterwarnings("ignore:enable_nested_tensor is True"),
              pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors"),
              pytest.mark.filterwarnings("ignore:.*mismatched")]
RNG = np.random.default_rng(2013)
E, HEADS, FF, N, S, T = 8, 2, 12, 3, 5, 4
LEFT = np.array([[0, 0, 0, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 1, 1]], bool)       # padding at the ends
NOT_LEFT = np.array([[0, 0, 0, 0, 0], [0, 1, 0, 0, 0], [1, 0, 0, 1, 1]], bool)
FULL_ROW = np.array([[0, 0, 0, 0, 0], [1, 1, 1, 1, 1], [0, 0, 0, 1, 1]], bool)


def randomize(torch, module) -> None:
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.from_numpy(RNG.standard_normal(tuple(p.shape)) * 0.4 + (1.0 if p.ndim == 1 else 0.0)))


def loaded(torch, ours, theirs):
    """torch's random weights in both; the state dicts' keys (in order) must be the same."""
    assert list(ours.state_dict()) == list(theirs.state_dict())
    randomize(torch, theirs)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def as_ours(value, dtype):
    if not isinstance(value, np.ndarray):
        return value
    return mg.tensor(value.astype(dtype) if value.dtype.kind == "f" and value.dtype != np.float32 else value)


def as_torch(torch, value, dtype):
    if not isinstance(value, np.ndarray):
        return value
    return torch.from_numpy(value.astype(dtype) if value.dtype.kind == "f" and value.dtype != np.float32 else value)


def compare(torch, ours, theirs, arrays: list, kwargs: dict, *, dtype: str = "float64", grad: bool = True,
            tol: float | None = None, what: str = "") -> None:
    """Outputs (and with ``grad`` the gradients of the inputs and of every parameter) of both modules on the
    same inputs. Float64 masks follow ``dtype``; a float32 mask stays float32. ``grad=False``: under no_grad."""
    tol = tol or (1e-10 if dtype == "float64" else 2e-5)
    inputs = [mg.tensor(a.astype(dtype), requires_grad=grad) for a in arrays]
    t_inputs = [torch.from_numpy(a.astype(dtype)).requires_grad_(grad) for a in arrays]
    with mg.enable_grad() if grad else mg.no_grad():
        out = ours(*inputs, **{k: as_ours(v, dtype) for k, v in kwargs.items()})
    with torch.set_grad_enabled(grad):
        t_out = theirs(*t_inputs, **{k: as_torch(torch, v, dtype) for k, v in kwargs.items()})
    out, t_out = (out[0], t_out[0]) if isinstance(out, tuple) else (out, t_out)
    assert out.dtype == getattr(mg, dtype), what
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), rtol=tol, atol=tol, err_msg=f"output {what}")
    if not grad:
        return
    weights = RNG.standard_normal(out.shape)
    (out * mg.tensor(weights.astype(dtype))).sum().backward()
    (t_out * torch.from_numpy(weights.astype(dtype))).sum().backward()
    for i, (x, tx) in enumerate(zip(inputs, t_inputs)):
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=tol, atol=tol, err_msg=f"input {i} {what}")
    params = dict(ours.named_parameters())
    assert list(params) == [name for name, _ in theirs.named_parameters()]
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(params[name].grad.numpy(), p.grad.numpy(), rtol=tol, atol=tol,
                                   err_msg=f"grad of {name} {what}")


def encoder_pair(torch, *, num_layers: int = 2, norm: bool = True, dtype: str = "float64", **layer_kw) -> tuple:
    encoder_kw = {k: layer_kw.pop(k) for k in ("enable_nested_tensor", "mask_check") if k in layer_kw}
    layer_kw.setdefault("batch_first", True)

    def build(lib, dt):
        layer = lib.TransformerEncoderLayer(E, HEADS, FF, 0.0, dtype=dt, **layer_kw)
        return lib.TransformerEncoder(layer, num_layers, lib.LayerNorm(E, dtype=dt) if norm else None, **encoder_kw)

    return loaded(torch, build(nn, getattr(mg, dtype)), build(torch.nn, getattr(torch, dtype)))


# --- torch's nested-tensor encoder path (eval, no gradient wanted) ------------------------------------------

@pytest.mark.parametrize("mask", ["left", "full_row", "float_left", "float_left_finite"])
@pytest.mark.parametrize("norm", [True, False])
def test_encoder_nested_path_zeroes_padding_as_torch(torch, mask: str, norm: bool) -> None:
    """Was: the padded positions computed (as torch's plain path) where torch's eval path gives 0 (norm(0))."""
    ours, theirs = encoder_pair(torch, norm=norm)
    ours.eval(), theirs.eval()
    kpm = {"left": LEFT, "full_row": FULL_ROW, "float_left": np.where(LEFT, -np.inf, 0.0),
           "float_left_finite": np.where(LEFT, -1.0, 0.0)}[mask]   # torch's nested path pads at any nonzero
    src = RNG.standard_normal((N, S, E))
    compare(torch, ours, theirs, [src], {"src_key_padding_mask": kpm}, grad=False, what=mask)
    with mg.no_grad():
        out = ours(mg.tensor(src), src_key_padding_mask=as_ours(kpm, "float64")).numpy()
    padded = kpm != 0
    expected = ours.norm.bias.numpy() if norm else 0.0   # LayerNorm of a zero row is its bias
    np.testing.assert_allclose(out[padded], np.broadcast_to(expected, out[padded].shape), atol=1e-12)


def test_encoder_nested_path_conditions_as_torch(torch) -> None:
    """torch takes the path without grad mode too when no weight and not src requires grad; not with src
    requiring grad, a ``mask``, a layer in training, unbatched input, a non-batch-first layer (its
    ``use_nested_tensor`` is False) or ``enable_nested_tensor=False``."""
    ours, theirs = encoder_pair(torch, norm=False)
    ours.eval(), theirs.eval()
    src = RNG.standard_normal((N, S, E))
    ours.requires_grad_(False), theirs.requires_grad_(False)
    for grad in (False, True):   # frozen weights: the nested path even in grad mode
        compare(torch, ours, theirs, [src], {"src_key_padding_mask": LEFT}, grad=False, what="frozen")
        with mg.set_grad_enabled(grad), torch.set_grad_enabled(grad):
            out = ours(mg.tensor(src), src_key_padding_mask=mg.tensor(LEFT))
        assert not out.numpy()[LEFT].any()
    x = mg.tensor(src, requires_grad=True)   # src requires grad: the plain path, padded positions computed
    t_out = theirs(torch.from_numpy(src).requires_grad_(), src_key_padding_mask=torch.from_numpy(LEFT))
    out = ours(x, src_key_padding_mask=mg.tensor(LEFT))
    assert out.numpy()[LEFT].any()
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), rtol=1e-10, atol=1e-10)
    ours.requires_grad_(True), theirs.requires_grad_(True)
    causal = np.triu(np.ones((S, S), bool), 1)
    compare(torch, ours, theirs, [src], {"src_key_padding_mask": LEFT, "mask": causal}, grad=False, what="mask")
    ours.layers[0].train(), theirs.layers[0].train()
    compare(torch, ours, theirs, [src], {"src_key_padding_mask": LEFT}, grad=False, what="first layer training")
    ours.eval(), theirs.eval()
    compare(torch, ours, theirs, [src[0]], {"src_key_padding_mask": LEFT[1]}, grad=False, what="unbatched")
    for kw in ({"batch_first": False}, {"enable_nested_tensor": False}, {"norm_first": True}):
        ours, theirs = encoder_pair(torch, norm=True, **kw)
        ours.eval(), theirs.eval()
        assert ours.use_nested_tensor == theirs.use_nested_tensor is False
        x = src.transpose(1, 0, 2) if kw.get("batch_first") is False else src
        compare(torch, ours, theirs, [x], {"src_key_padding_mask": LEFT}, grad=False, what=str(kw))
        with mg.no_grad():
            assert ours(mg.tensor(x), src_key_padding_mask=mg.tensor(LEFT)).numpy().std() > 0.1


@pytest.mark.parametrize("mask_check", [True, False])
def test_encoder_nested_path_mask_check_as_torch(torch, mask_check: bool) -> None:
    """Padding not at the rows' ends: with mask_check torch takes the plain path; without, it keeps each row's
    first ``length`` positions (the count of unpadded ones), whatever the mask says, and zeroes the rest."""
    ours, theirs = encoder_pair(torch, norm=False, mask_check=mask_check)
    ours.eval(), theirs.eval()
    src = RNG.standard_normal((N, S, E))
    compare(torch, ours, theirs, [src], {"src_key_padding_mask": NOT_LEFT}, grad=False, what=str(mask_check))
    with mg.no_grad():
        out = ours(mg.tensor(src), src_key_padding_mask=mg.tensor(NOT_LEFT)).numpy()
    assert (not out[1, 4].any()) == (not mask_check)


def test_encoder_nested_path_float32_and_inside_the_transformer(torch) -> None:
    """float32, and nn.Transformer's encoder (whose memory at padded positions is then norm(0) = its bias,
    which the decoder sees when no memory_key_padding_mask hides it)."""
    ours, theirs = encoder_pair(torch, dtype="float32", num_layers=1)
    ours.eval(), theirs.eval()
    compare(torch, ours, theirs, [RNG.standard_normal((N, S, E))], {"src_key_padding_mask": LEFT}, dtype="float32",
            grad=False)
    ours, theirs = loaded(torch, nn.Transformer(E, HEADS, 2, 1, FF, batch_first=True, dtype=mg.float64),
                          torch.nn.Transformer(E, HEADS, 2, 1, FF, batch_first=True, dtype=torch.float64))
    ours.eval(), theirs.eval()
    arrays = [RNG.standard_normal((N, S, E)), RNG.standard_normal((N, T, E))]
    compare(torch, ours, theirs, arrays, {"src_key_padding_mask": LEFT}, grad=False, what="no grad")
    compare(torch, ours, theirs, arrays, {"src_key_padding_mask": LEFT}, grad=True, what="grad")


def test_encoder_nested_path_replays_under_compile(torch) -> None:
    """The left-alignment test is tensor ops: a compiled eval encoder replayed with another mask still agrees
    with eager (and with torch)."""
    ours, theirs = encoder_pair(torch, norm=False, num_layers=1)
    ours.eval(), theirs.eval()
    compiled = mg.compile(ours)
    src = mg.tensor(RNG.standard_normal((N, S, E)))
    with mg.no_grad():
        for kpm in (LEFT, NOT_LEFT, FULL_ROW, LEFT, NOT_LEFT):
            eager = ours(src, src_key_padding_mask=mg.tensor(kpm)).numpy()
            np.testing.assert_array_equal(compiled(src, src_key_padding_mask=mg.tensor(kpm)).numpy(), eager)


def test_torch_fused_layer_reads_float_masks_as_bool_and_ours_adds_them(torch) -> None:
    """Not matched (torch bug pytorch/pytorch#118628): torch's fused eval kernel reads a float mask as bool
    (nonzero = masked, so random float masks give NaN everywhere); ours adds it, as torch's plain path."""
    ours, theirs = loaded(torch, nn.TransformerEncoderLayer(E, HEADS, FF, batch_first=True, dtype=mg.float64),
                          torch.nn.TransformerEncoderLayer(E, HEADS, FF, batch_first=True, dtype=torch.float64))
    ours.eval(), theirs.eval()
    src, mask = RNG.standard_normal((N, S, E)), RNG.standard_normal((S, S))
    with torch.no_grad():
        assert theirs(torch.from_numpy(src), src_mask=torch.from_numpy(mask)).isnan().all()
    compare(torch, ours, theirs, [src], {"src_mask": mask}, grad=True)   # torch's plain path
    with mg.no_grad():
        np.testing.assert_allclose(ours(mg.tensor(src), src_mask=mg.tensor(mask)).numpy(),
                                   theirs(torch.from_numpy(src), src_mask=torch.from_numpy(mask)).detach().numpy(),
                                   rtol=1e-10, atol=1e-10)


def test_torch_decoder_clones_drop_a_module_activation_and_ours_keep_it(torch) -> None:
    """Not matched (torch bug, see the module docstring): torch's deep-copied decoder layers use F.relu for a
    Module activation; with that attribute removed (so torch finds its module) the two agree."""

    def build(lib, dtype):
        layer = lib.TransformerDecoderLayer(E, HEADS, FF, 0.0, activation=lib.GELU(), dtype=dtype)
        return lib.TransformerDecoder(layer, 2)

    ours, theirs = loaded(torch, build(nn, mg.float64), build(torch.nn, torch.float64))
    assert all(layer.__dict__.get("activation") is torch.nn.functional.relu for layer in theirs.layers)
    assert all(isinstance(layer.activation, nn.GELU) for layer in ours.layers)
    for layer in theirs.layers:
        del layer.__dict__["activation"]   # torch's Module.__getattr__ then finds the registered GELU
    compare(torch, ours, theirs, [RNG.standard_normal((T, N, E)), RNG.standard_normal((S, N, E))], {})


# --- float masks of another float dtype ---------------------------------------------------------------------

def test_float32_masks_on_a_float64_transformer_as_torch(torch) -> None:
    """Was a TypeError: torch's layers take a float32 mask (generate_square_subsequent_mask's default) on a
    float64 model (its attention runs need_weights=False); float32 padding masks too."""
    ours, theirs = loaded(torch, nn.Transformer(E, HEADS, 1, 2, FF, 0.0, dtype=mg.float64),
                          torch.nn.Transformer(E, HEADS, 1, 2, FF, 0.0, dtype=torch.float64))
    tgt_mask = nn.Transformer.generate_square_subsequent_mask(T).numpy()
    assert tgt_mask.dtype == np.float32
    kpm32 = np.where(LEFT, -np.inf, 0.0).astype(np.float32)
    arrays = [RNG.standard_normal((S, N, E)), RNG.standard_normal((T, N, E))]
    for kwargs in ({"tgt_mask": tgt_mask}, {"tgt_mask": tgt_mask, "src_mask": RNG.standard_normal((S, S)).astype(
            np.float32)}, {"src_key_padding_mask": kpm32, "memory_key_padding_mask": kpm32}):
        for train in (True, False):
            ours.train(train), theirs.train(train)
            compare(torch, ours, theirs, arrays, kwargs, what=f"{list(kwargs)} train={train}")


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_mask_dtypes_refused_as_torch(torch, need_weights: bool) -> None:
    attention = nn.MultiheadAttention(E, HEADS, dtype=mg.float64)
    x = mg.randn(T, N, E, dtype=mg.float64)
    for dtype, accepted in ((mg.float32, not need_weights), (mg.float16, False)):
        for name, mask in (("attn_mask", mg.zeros(T, T, dtype=dtype)),
                           ("key_padding_mask", mg.zeros(N, T, dtype=dtype))):
            if accepted:
                assert attention(x, x, x, need_weights=need_weights, **{name: mask})[0].dtype == mg.float64
                continue
            with pytest.raises(TypeError, match=f"must be of the query's dtype float64.*got {dtype}"):
                attention(x, x, x, need_weights=need_weights, **{name: mask})
    with pytest.raises(TypeError, match="attn_mask must be bool or of the query's dtype float64.*got int64"):
        attention(x, x, x, attn_mask=mg.zeros(T, T, dtype=mg.int64))


# --- every constructor option, mask kind and mode --------------------------------------------------------------

ACTIVATIONS = {"relu": lambda torch: ("relu", "relu"), "gelu": lambda torch: ("gelu", "gelu"),
               "F.gelu": lambda torch: (F.gelu, torch.nn.functional.gelu),
               "GELU(tanh)": lambda torch: (nn.GELU(approximate="tanh"), torch.nn.GELU(approximate="tanh")),
               "ReLU()": lambda torch: (nn.ReLU(), torch.nn.ReLU())}
OPTIONS = [dict(zip(("batch_first", "norm_first", "bias"), flags))
           for flags in itertools.product([False, True], repeat=3)]
MASK_KINDS = ["none", "bool3", "float3+kpm_float", "bool2+kpm_bool"]


def masks(kind: str, length: int, source: int, batched: bool) -> tuple:
    """(attn_mask, key_padding_mask) of one kind."""
    chosen = {
        "none": (None, None),
        "bool3": (RNG.random((N * HEADS, length, source)) > 0.7, None),
        "float3+kpm_float": (RNG.standard_normal((N * HEADS, length, source)), RNG.standard_normal((N, source))),
        "bool2+kpm_bool": (RNG.random((length, source)) > 0.8, RNG.random((N, source)) > 0.8),
    }[kind]
    attn_mask, kpm = chosen
    if not batched:
        kpm = None if kpm is None else kpm[0]
        attn_mask = attn_mask[:HEADS] if attn_mask is not None and attn_mask.ndim == 3 else attn_mask
    return attn_mask, kpm


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("name", ["TransformerEncoderLayer", "TransformerDecoderLayer"])
def test_layers_every_option_mask_and_mode_as_torch(torch, name: str, activation: str) -> None:
    """relu (a name, the default) runs every option with every mask kind and mode; the activation acts only in the
    feed-forward block, apart from the masks, so each other spelling runs every option and mode with one mask kind
    per option (each kind with both layouts and both norm orders)."""
    ours_act, theirs_act = ACTIVATIONS[activation](torch)
    for i, (options, eps) in enumerate(zip(OPTIONS, itertools.cycle([1e-5, 0.3]))):
        kinds = MASK_KINDS if activation == "relu" else MASK_KINDS[i % 4:i % 4 + 1]
        ours, theirs = loaded(torch, getattr(nn, name)(E, HEADS, FF, 0.0, ours_act, eps, dtype=mg.float64, **options),
                              getattr(torch.nn, name)(E, HEADS, FF, 0.0, theirs_act, eps, dtype=torch.float64,
                                                      **options))
        for kind, batched, train in itertools.product(kinds, [True, False], [True, False]):
            ours.train(train), theirs.train(train)

            def shape(length, batched=batched, bf=options["batch_first"]):
                return ((N, length, E) if bf else (length, N, E)) if batched else (length, E)

            if name == "TransformerEncoderLayer":
                am, kpm = masks(kind, S, S, batched)
                arrays, kwargs = [RNG.standard_normal(shape(S))], {"src_mask": am, "src_key_padding_mask": kpm}
            else:
                (am, kpm), (tm, tkpm) = masks(kind, T, S, batched), masks(kind, T, T, batched)
                arrays = [RNG.standard_normal(shape(T)), RNG.standard_normal(shape(S))]
                kwargs = {"memory_mask": am, "memory_key_padding_mask": kpm, "tgt_mask": tm,
                          "tgt_key_padding_mask": tkpm}
            if kind.startswith("bool"):   # no query with every key masked (NaN in torch's gradient)
                for key in [k for k in kwargs if "mask" in k and kwargs[k] is not None]:
                    kwargs[key] = kwargs[key].copy()
                    kwargs[key][..., 0] = False
            compare(torch, ours, theirs, arrays, kwargs, what=f"{options} eps={eps} {kind} {batched} {train}")


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(k for k, v in o.items() if v) or "default")
def test_transformer_every_option_3d_masks_and_hints_as_torch(torch, options: dict) -> None:
    ours, theirs = loaded(torch, nn.Transformer(E, HEADS, 2, 1, FF, 0.0, "gelu", layer_norm_eps=0.2, dtype=mg.float64,
                                                **options),
                          torch.nn.Transformer(E, HEADS, 2, 1, FF, 0.0, "gelu", layer_norm_eps=0.2,
                                               dtype=torch.float64, **options))
    bf = options["batch_first"]
    arrays = [RNG.standard_normal((N, S, E) if bf else (S, N, E)), RNG.standard_normal((N, T, E) if bf else (T, N, E))]
    causal = nn.Transformer.generate_square_subsequent_mask(T, dtype=mg.float64).numpy()
    memory_mask = RNG.random((N * HEADS, T, S)) > 0.8
    memory_mask[..., 0] = False
    for kwargs in ({"src_mask": RNG.standard_normal((N * HEADS, S, S)),
                    "tgt_mask": RNG.standard_normal((N * HEADS, T, T)),
                    "memory_mask": memory_mask, "tgt_key_padding_mask": np.where(LEFT[:, :T], -np.inf, 0.0)},
                   {"tgt_mask": causal, "tgt_is_causal": True, "src_mask": causal[:1, :1].repeat(S, 0).repeat(S, 1),
                    "src_is_causal": False, "memory_key_padding_mask": LEFT},
                   {"tgt_mask": causal, "memory_mask": RNG.standard_normal((T, S)), "memory_is_causal": False}):
        for train in (True, False):
            ours.train(train), theirs.train(train)
            compare(torch, ours, theirs, arrays, kwargs, what=f"{sorted(kwargs)} train={train}")


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")   # torch, for dim_feedforward=0
def test_custom_encoder_decoder_and_layer_counts_as_torch(torch) -> None:
    def build(lib, dt):
        encoder = lib.TransformerEncoder(lib.TransformerEncoderLayer(E, HEADS, FF, 0.0, dtype=dt), 3,
                                         enable_nested_tensor=False, mask_check=False)
        decoder = lib.TransformerDecoder(lib.TransformerDecoderLayer(E, HEADS, FF, 0.0, norm_first=True, dtype=dt), 1,
                                         lib.LayerNorm(E, eps=0.1, dtype=dt))
        return lib.Transformer(E, HEADS, custom_encoder=encoder, custom_decoder=decoder, dtype=dt)

    ours, theirs = loaded(torch, build(nn, mg.float64), build(torch.nn, torch.float64))
    assert ours.encoder.norm is None and (ours.encoder.enable_nested_tensor, ours.encoder.mask_check) == (False, False)
    compare(torch, ours, theirs, [RNG.standard_normal((S, N, E)), RNG.standard_normal((T, N, E))],
            {"src_key_padding_mask": LEFT, "tgt_mask": np.triu(np.ones((T, T), bool), 1)})
    compare(torch, ours, theirs, [RNG.standard_normal((S, E)), RNG.standard_normal((T, E))],
            {"src_mask": np.zeros((S, S))})
    ours, theirs = loaded(torch, nn.TransformerEncoderLayer(E, HEADS, 0, 0.0, dtype=mg.float64),
                          torch.nn.TransformerEncoderLayer(E, HEADS, 0, 0.0, dtype=torch.float64))
    compare(torch, ours, theirs, [RNG.standard_normal((S, N, E))], {}, what="dim_feedforward=0 (was refused)")


def test_float32_every_layer_as_torch(torch) -> None:
    ours, theirs = loaded(torch, nn.Transformer(E, HEADS, 1, 1, FF, 0.0, "gelu", norm_first=True, bias=False),
                          torch.nn.Transformer(E, HEADS, 1, 1, FF, 0.0, "gelu", norm_first=True, bias=False))
    compare(torch, ours, theirs, [RNG.standard_normal((S, N, E)), RNG.standard_normal((T, N, E))],
            {"tgt_mask": np.triu(np.ones((T, T), bool), 1), "memory_key_padding_mask": LEFT}, dtype="float32")


# --- MultiheadAttention options ----------------------------------------------------------------------------

MHA_OPTIONS = [dict(zip(("kdim", "add_bias_kv", "add_zero_attn", "bias", "batch_first"), flags))
               for flags in itertools.product([None, (3, 5)], [False, True], [False, True], [True, False],
                                              [False, True])]


@pytest.mark.parametrize("options", MHA_OPTIONS, ids=str)
def test_mha_every_option_path_and_layout_as_torch(torch, options: dict) -> None:
    options = dict(options)
    kdim, vdim = options.pop("kdim") or (E, E)
    ours, theirs = loaded(torch, nn.MultiheadAttention(E, HEADS, kdim=kdim, vdim=vdim, dtype=mg.float64, **options),
                          torch.nn.MultiheadAttention(E, HEADS, kdim=kdim, vdim=vdim, dtype=torch.float64, **options))
    bf = options["batch_first"]
    for batched, (need_weights, average), train in itertools.product([True, False], [(True, True), (True, False),
                                                                                     (False, True)], [True, False]):
        ours.train(train), theirs.train(train)

        def shape(length, dim, batched=batched):
            return ((N, length, dim) if bf else (length, N, dim)) if batched else (length, dim)

        am, kpm = masks("bool2+kpm_bool" if train else "float3+kpm_float", T, S, batched)
        if am.dtype == bool:
            am[..., 0], kpm[..., 0] = False, False
        arrays = [RNG.standard_normal(shape(T, E)), RNG.standard_normal(shape(S, kdim)),
                  RNG.standard_normal(shape(S, vdim))]
        kwargs = {"attn_mask": am, "key_padding_mask": kpm, "need_weights": need_weights,
                  "average_attn_weights": average}
        compare(torch, ours, theirs, arrays, kwargs, what=f"batched={batched} {need_weights} {average} {train}")
        inputs = [mg.tensor(a) for a in arrays]
        weights = ours(*inputs, **{k: as_ours(v, "float64") for k, v in kwargs.items()})[1]
        t_kwargs = {k: as_torch(torch, v, "float64") for k, v in kwargs.items()}
        t_weights = theirs(*map(torch.from_numpy, arrays), **t_kwargs)[1]
        assert (weights is None) == (t_weights is None)
        if weights is not None:
            np.testing.assert_allclose(weights.numpy(), t_weights.detach().numpy(), rtol=1e-10, atol=1e-10)


def test_mha_self_attention_in_eval_without_grad_as_torch(torch) -> None:
    """torch's fused MHA kernel (self-attention, batch_first, eval, no grad): the same values."""
    ours, theirs = loaded(torch, nn.MultiheadAttention(E, HEADS, batch_first=True, dtype=mg.float64),
                          torch.nn.MultiheadAttention(E, HEADS, batch_first=True, dtype=torch.float64))
    ours.eval(), theirs.eval()
    x = RNG.standard_normal((N, T, E))
    for kwargs in ({}, {"key_padding_mask": LEFT[:, :T]}, {"attn_mask": np.triu(np.ones((T, T), bool), 1)}):
        with mg.no_grad(), torch.no_grad():
            out, weights = ours(*[mg.tensor(x)] * 3, **{k: mg.tensor(v) for k, v in kwargs.items()})
            t_out, t_weights = theirs(*[torch.from_numpy(x)] * 3, **{k: torch.from_numpy(v) for k, v in kwargs.items()})
        np.testing.assert_allclose(out.numpy(), t_out.numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(weights.numpy(), t_weights.numpy(), rtol=1e-10, atol=1e-10)


# --- state dicts, parameters, reprs, errors -----------------------------------------------------------------------

BUILDERS = {
    "encoder_layer": lambda lib: lib.TransformerEncoderLayer(E, HEADS, FF, activation=lib.GELU(), bias=False),
    "decoder_layer": lambda lib: lib.TransformerDecoderLayer(E, HEADS, FF, norm_first=True, batch_first=True),
    "encoder": lambda lib: lib.TransformerEncoder(lib.TransformerEncoderLayer(E, HEADS, FF), 2, lib.LayerNorm(E)),
    "decoder": lambda lib: lib.TransformerDecoder(lib.TransformerDecoderLayer(E, HEADS, FF), 2),
    "transformer": lambda lib: lib.Transformer(E, HEADS, 1, 2, FF, bias=False),
    "mha_separate": lambda lib: lib.MultiheadAttention(E, HEADS, kdim=3, vdim=5, add_bias_kv=True, add_zero_attn=True),
    "mha_packed_no_bias": lambda lib: lib.MultiheadAttention(E, HEADS, bias=False, batch_first=True),
}


@pytest.mark.parametrize("builder", list(BUILDERS))
def test_state_dict_parameters_modules_and_repr_as_torch(torch, builder: str) -> None:
    ours, theirs = BUILDERS[builder](nn), BUILDERS[builder](torch.nn)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert repr(ours) == repr(theirs)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})   # a torch checkpoint loads


def test_generate_square_subsequent_mask_factory_keywords_as_torch(torch) -> None:
    for args, kwargs, t_kwargs in (((4, "cpu", mg.float64), {}, {"device": "cpu", "dtype": torch.float64}),
                                   ((3,), {"device": "cpu"}, {"device": "cpu"}), ((2,), {"dtype": mg.bool_},
                                                                                  {"dtype": torch.bool})):
        ours = nn.Transformer.generate_square_subsequent_mask(*args, **kwargs)
        t_args = args[:1]
        theirs = torch.nn.Transformer.generate_square_subsequent_mask(*t_args, **t_kwargs)
        assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.") and ours.device == "cpu"
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    model = nn.Transformer(E, HEADS, 1, 1, FF)   # also through an instance, as torch's staticmethod
    np.testing.assert_array_equal(model.generate_square_subsequent_mask(3).numpy(),
                                  torch.nn.Transformer.generate_square_subsequent_mask(3).numpy())


def test_errors_name_the_shapes() -> None:
    layer, decoder = nn.TransformerEncoderLayer(E, HEADS, FF), nn.TransformerDecoderLayer(E, HEADS, FF)
    x = mg.randn(S, N, E)
    cases = [
        (lambda: nn.TransformerEncoderLayer(E, 3), ValueError, "embed_dim 8 must be divisible by num_heads 3"),
        (lambda: nn.TransformerEncoderLayer(E, 2, -1), ValueError, "dim_feedforward must be a non-negative int"),
        (lambda: layer(mg.randn(S, N, 6)), ValueError,
         r"expected embedding dimension 8, got query of shape \(5, 3, 6\)"),
        (lambda: decoder(mg.randn(T, N, E), mg.randn(S, N, 6)), ValueError, r"key of shape \(5, 3, 6\)"),
        (lambda: decoder(mg.randn(T, N, E), mg.randn(S, 2, E)), ValueError, "same batch size"),
        (lambda: layer(x, src_mask=mg.zeros(N, S, S)), ValueError,
         r"3-D attn_mask has shape \(3, 5, 5\), expected \(6, 5, 5\)"),
        (lambda: layer(x, src_mask=mg.zeros(4, S)), ValueError, r"2-D attn_mask has shape \(4, 5\), expected \(5, 5\)"),
        (lambda: layer(x, src_key_padding_mask=mg.zeros(S, N, dtype=mg.bool_)), ValueError,
         r"key_padding_mask has shape \(5, 3\), expected \(3, 5\)"),
        (lambda: layer(x, src_key_padding_mask=mg.zeros(N, S, dtype=mg.int64)), TypeError,
         "src_key_padding_mask must be bool or of the query's dtype float32.*got int64"),
        (lambda: layer(mg.randn(S, E), src_mask=mg.zeros(1, S, S)), ValueError, r"must have shape \(2, 5, 5\)"),
        (lambda: decoder(mg.randn(T, N, E), x, memory_mask=mg.zeros(S, T)), ValueError,
         r"attn_mask has shape \(5, 4\), expected \(4, 5\)"),
    ]
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, HEADS, FF, batch_first=True), 1).eval()
    for kpm, message in ((mg.zeros(S, dtype=mg.bool_), "key_padding_mask must be 2-D"),
                         (mg.zeros(2, N, S, dtype=mg.bool_), "key_padding_mask must be 2-D"),
                         (mg.zeros(N, T, dtype=mg.bool_), r"key_padding_mask has shape \(3, 4\), expected \(3, 5\)")):
        # on the nested path's conditions too (was an AxisError / a broadcast error from the emulation)
        cases.append((lambda kpm=kpm: encoder(mg.randn(N, S, E), src_key_padding_mask=kpm), ValueError, message))
    for fn, error, message in cases:
        with warnings.catch_warnings(), pytest.raises(error, match=message), mg.no_grad():
            warnings.simplefilter("ignore")
            fn()


@pytest.mark.gpu
def test_nested_path_and_float32_masks_on_gpu_match_cpu() -> None:
    """The nested-path emulation and a float32 mask on a float64 model, on the GPU (or the strict stand-in)."""
    cpu = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, HEADS, FF, batch_first=True), 2, nn.LayerNorm(E)).eval()
    cpu_decoder = nn.TransformerDecoderLayer(E, HEADS, FF, dtype=mg.float64)
    src = RNG.standard_normal((N, S, E)).astype(np.float32)
    results = []
    for device in ("cpu", "cuda"):
        model = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, HEADS, FF, batch_first=True), 2,
                                      nn.LayerNorm(E)).to(device).eval()
        model.load_state_dict(cpu.state_dict())
        with mg.no_grad():
            out = [model(mg.tensor(src, device=device), src_key_padding_mask=mg.tensor(kpm, device=device))
                   for kpm in (LEFT, NOT_LEFT)]
        model64 = nn.TransformerDecoderLayer(E, HEADS, FF, dtype=mg.float64).to(device)
        model64.load_state_dict(cpu_decoder.state_dict())
        y = mg.tensor(src.astype(np.float64).transpose(1, 0, 2), device=device, requires_grad=True)
        causal = nn.Transformer.generate_square_subsequent_mask(S, device=device)
        out.append(model64.eval()(y, y, tgt_mask=causal))
        out[-1].sum().backward()
        assert all(o.device.type == device for o in out)
        results.append([o.numpy() for o in out] + [y.grad.numpy()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert not results[0][0][LEFT].any() and results[0][1][NOT_LEFT].any()
