"""nn.TransformerEncoderLayer, TransformerDecoderLayer, TransformerEncoder, TransformerDecoder and Transformer
against torch 2.13: torch's state dict loaded into ours, then outputs, input and every parameter gradient in
float64 (train mode with dropout 0, and eval mode) and float32, with torch's masks and layouts.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close

import minigrad as mg
import nn
from nn import functional as F

# torch's notes about its own inference fast paths (nested tensors), which these tests do not need
pytestmark = [pytest.mark.filterwarnings("ignore:enable_nested_tensor is True"),
              pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors")]
RNG = np.random.default_rng(53)
D_MODEL, NHEAD, FEEDFORWARD = 8, 2, 12


def randomize(torch, module) -> None:
    """Non-trivial values in every torch parameter (LayerNorm weights too), so each gradient is checked."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.from_numpy(RNG.standard_normal(tuple(p.shape)) * 0.4 + (1.0 if p.ndim == 1 else 0.0)))


def load_into(torch, ours, theirs) -> None:
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    ours.load_state_dict({name: value.numpy() for name, value in theirs.state_dict().items()})


def loaded_pair(torch, name: str, *args, **kwargs) -> tuple:
    """``nn.<name>(*args, **kwargs)`` and ``torch.nn.<name>`` in float64, torch's random weights loaded into
    ours. ``activation="tanh"`` stands for the callable: ``F.tanh`` in ours, ``torch.tanh`` in torch's."""
    ours_kw, theirs_kw = dict(kwargs), dict(kwargs)
    if kwargs.get("activation") == "tanh":
        ours_kw["activation"], theirs_kw["activation"] = F.tanh, torch.tanh
    theirs = getattr(torch.nn, name)(*args, dtype=torch.float64, **theirs_kw)
    ours = getattr(nn, name)(*args, dtype=mg.float64, **ours_kw)
    randomize(torch, theirs)
    load_into(torch, ours, theirs)
    return ours, theirs


def run_both(torch, ours, theirs, arrays: list, kwargs: dict, rtol: float = 1e-10, atol: float = 1e-10,
             backward: bool = True) -> None:
    """Forward both modules on the same inputs (the masks in ``kwargs`` are NumPy arrays), then compare
    outputs and, with ``backward``, the gradients of the inputs and of every parameter."""
    dtype = next(iter(ours.parameters())).dtype
    inputs = [mg.tensor(a, dtype=dtype, requires_grad=True) for a in arrays]
    t_inputs = [torch.from_numpy(a).to(getattr(torch, str(dtype))).requires_grad_(True) for a in arrays]

    def ours_mask(m):
        return mg.tensor(m, dtype=dtype if m.dtype.kind == "f" else None) if isinstance(m, np.ndarray) else m

    def theirs_mask(m):
        if not isinstance(m, np.ndarray):
            return m
        return torch.from_numpy(m).to(getattr(torch, str(dtype)) if m.dtype.kind == "f" else torch.bool)

    out = ours(*inputs, **{k: ours_mask(m) for k, m in kwargs.items()})
    t_out = theirs(*t_inputs, **{k: theirs_mask(m) for k, m in kwargs.items()})
    assert_close(out, t_out, rtol, atol, "output")
    if not backward:
        return
    grad = RNG.standard_normal(out.shape)
    (out * mg.tensor(grad, dtype=dtype)).sum().backward()
    (t_out * torch.from_numpy(grad).to(t_out.dtype)).sum().backward()
    for i, (x, tx) in enumerate(zip(inputs, t_inputs)):
        assert_close(x.grad, tx.grad, rtol, atol, f"grad of input {i}")
    params = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        assert_close(params[name].grad, p.grad, rtol, atol, f"grad of {name}")


def layout(batch_first: bool, length: int, batch: int = 3) -> tuple:
    return (batch, length, D_MODEL) if batch_first else (length, batch, D_MODEL)


def padding(batch: int, length: int, pad: int) -> np.ndarray:
    mask = np.zeros((batch, length), dtype=bool)
    mask[1:, length - pad:] = True
    return mask


def causal(length: int) -> np.ndarray:
    return np.triu(np.ones((length, length), dtype=bool), 1)


LAYER_CONFIGS = {
    "post_norm_relu": {},
    "pre_norm_gelu": {"norm_first": True, "activation": "gelu"},
    "batch_first_callable": {"batch_first": True, "activation": "tanh"},   # a callable: mg/torch tanh
    "no_bias_eps": {"bias": False, "layer_norm_eps": 1e-3, "norm_first": True},
}


def layer_pair(torch, name: str, config: str) -> tuple:
    """:func:`loaded_pair` of the layer ``name`` built with ``LAYER_CONFIGS[config]``, and its batch_first."""
    settings = LAYER_CONFIGS[config]
    ours, theirs = loaded_pair(torch, name, D_MODEL, NHEAD, FEEDFORWARD, 0.0, **settings)
    return ours, theirs, settings.get("batch_first", False)


@pytest.mark.parametrize("config", list(LAYER_CONFIGS))
@pytest.mark.parametrize("masks", ["none", "bool", "float", "causal_hint", "unbatched"])
def test_encoder_layer_matches_torch_in_training(torch, config: str, masks: str) -> None:
    ours, theirs, batch_first = layer_pair(torch, "TransformerEncoderLayer", config)
    src = RNG.standard_normal(layout(batch_first, 5))
    kwargs = {
        "none": {},
        "bool": {"src_mask": RNG.random((5, 5)) > 0.8, "src_key_padding_mask": padding(3, 5, 2)},
        "float": {"src_mask": RNG.standard_normal((5, 5)), "src_key_padding_mask": RNG.standard_normal((3, 5))},
        "causal_hint": {"src_mask": causal(5), "is_causal": True},
        "unbatched": {"src_key_padding_mask": np.array([False] * 4 + [True])},
    }[masks]
    if masks == "bool":
        kwargs["src_mask"][:, 0] = False
    if masks == "unbatched":
        src = RNG.standard_normal((5, D_MODEL))
    run_both(torch, ours, theirs, [src], kwargs)


@pytest.mark.parametrize("config", list(LAYER_CONFIGS))
@pytest.mark.parametrize("masks", ["none", "bool", "float", "causal_hint", "unbatched"])
def test_decoder_layer_matches_torch_in_training(torch, config: str, masks: str) -> None:
    ours, theirs, batch_first = layer_pair(torch, "TransformerDecoderLayer", config)
    arrays = [RNG.standard_normal(layout(batch_first, 4)), RNG.standard_normal(layout(batch_first, 6))]
    kwargs = {
        "none": {},
        "bool": {"tgt_mask": causal(4), "memory_mask": RNG.random((4, 6)) > 0.8,
                 "tgt_key_padding_mask": padding(3, 4, 1), "memory_key_padding_mask": padding(3, 6, 2)},
        "float": {"tgt_mask": RNG.standard_normal((4, 4)), "memory_mask": RNG.standard_normal((NHEAD * 3, 4, 6)),
                  "memory_key_padding_mask": RNG.standard_normal((3, 6))},
        "causal_hint": {"tgt_mask": causal(4), "tgt_is_causal": True},
        "unbatched": {"tgt_mask": causal(4), "memory_key_padding_mask": np.array([False] * 5 + [True])},
    }[masks]
    if masks == "bool":
        kwargs["memory_mask"][:, 0] = False
    if masks == "unbatched":
        arrays = [RNG.standard_normal((4, D_MODEL)), RNG.standard_normal((6, D_MODEL))]
    run_both(torch, ours, theirs, arrays, kwargs)


@pytest.mark.parametrize("norm", [True, False])
def test_encoder_and_decoder_stacks_match_torch(torch, norm: bool) -> None:
    def stacks(lib, dtype):
        encoder_layer = lib.TransformerEncoderLayer(D_MODEL, NHEAD, FEEDFORWARD, 0.0, dtype=dtype)
        decoder_layer = lib.TransformerDecoderLayer(D_MODEL, NHEAD, FEEDFORWARD, 0.0, dtype=dtype)
        encoder = lib.TransformerEncoder(encoder_layer, 2, lib.LayerNorm(D_MODEL, dtype=dtype) if norm else None,
                                         enable_nested_tensor=False)
        decoder = lib.TransformerDecoder(decoder_layer, 3, lib.LayerNorm(D_MODEL, dtype=dtype) if norm else None)
        return encoder, decoder

    (encoder, decoder), (t_encoder, t_decoder) = stacks(nn, mg.float64), stacks(torch.nn, torch.float64)
    for ours, theirs in ((encoder, t_encoder), (decoder, t_decoder)):
        randomize(torch, theirs)
        load_into(torch, ours, theirs)
    run_both(torch, encoder, t_encoder, [RNG.standard_normal((5, 3, D_MODEL))],
             {"mask": causal(5), "src_key_padding_mask": padding(3, 5, 1)})
    run_both(torch, decoder, t_decoder, [RNG.standard_normal((4, 3, D_MODEL)), RNG.standard_normal((5, 3, D_MODEL))],
             {"tgt_mask": causal(4), "memory_key_padding_mask": padding(3, 5, 2)})


def test_stacked_layers_are_independent_copies_of_the_layer() -> None:
    layer = nn.TransformerEncoderLayer(D_MODEL, NHEAD, FEEDFORWARD)
    encoder = nn.TransformerEncoder(layer, 3)
    first, second = encoder.layers[0], encoder.layers[1]
    assert first is not layer and first.linear1.weight is not second.linear1.weight
    np.testing.assert_array_equal(first.linear1.weight.numpy(), layer.linear1.weight.numpy())
    np.testing.assert_array_equal(second.self_attn.in_proj_weight.numpy(), layer.self_attn.in_proj_weight.numpy())
    assert len(list(encoder.parameters())) == 3 * len(list(layer.parameters()))
    assert encoder.num_layers == 3 and encoder.norm is None
    assert [n for n, _ in encoder.named_parameters()][0] == "layers.0.self_attn.in_proj_weight"


TRANSFORMER_CONFIGS = {
    "default": {},
    "batch_first_pre_norm": {"batch_first": True, "norm_first": True},
    "gelu_no_bias": {"activation": "gelu", "bias": False},
}


@pytest.mark.parametrize("config", list(TRANSFORMER_CONFIGS))
@pytest.mark.filterwarnings("ignore:.*mismatched")   # a float tgt_mask with a bool padding mask: both warn
def test_transformer_matches_torch_in_training(torch, config: str) -> None:
    settings = TRANSFORMER_CONFIGS[config]
    ours, theirs = loaded_pair(torch, "Transformer", D_MODEL, NHEAD, 2, 2, FEEDFORWARD, 0.0, **settings)
    batch_first = settings.get("batch_first", False)
    arrays = [RNG.standard_normal(layout(batch_first, 6)), RNG.standard_normal(layout(batch_first, 4))]
    tgt_mask = nn.Transformer.generate_square_subsequent_mask(4, dtype=mg.float64).numpy()
    kwargs = {"tgt_mask": tgt_mask, "src_key_padding_mask": padding(3, 6, 2),
              "memory_key_padding_mask": padding(3, 6, 2), "tgt_key_padding_mask": padding(3, 4, 1)}
    run_both(torch, ours, theirs, arrays, kwargs)
    run_both(torch, ours, theirs, arrays, {"tgt_mask": tgt_mask, "tgt_is_causal": True})
    run_both(torch, ours, theirs, [RNG.standard_normal((6, D_MODEL)), RNG.standard_normal((4, D_MODEL))],
             {"tgt_mask": tgt_mask, "src_key_padding_mask": np.array([False] * 5 + [True])})


@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_in_eval_mode_matches_torch(torch, batch_first: bool) -> None:
    """Dropout 0.1 is off in eval mode. With gradients torch takes its plain path; without them (and with
    batch_first) its fused and nested-tensor paths, which agree up to rounding except at padded source
    positions, where the nested-tensor encoder writes zeros: the padding is left out of that comparison."""
    ours, theirs = loaded_pair(torch, "Transformer", D_MODEL, NHEAD, 2, 2, FEEDFORWARD, batch_first=batch_first)
    ours.eval()
    theirs.eval()
    arrays = [RNG.standard_normal(layout(batch_first, 6)), RNG.standard_normal(layout(batch_first, 4))]
    tgt_mask = causal(4)
    run_both(torch, ours, theirs, arrays, {"tgt_mask": tgt_mask, "src_key_padding_mask": padding(3, 6, 2)})
    with torch.no_grad():
        run_both(torch, ours, theirs, arrays, {"tgt_mask": tgt_mask}, backward=False)
        run_both(torch, ours.encoder, theirs.encoder, arrays[:1], {"src_key_padding_mask": padding(3, 6, 0)},
                 backward=False)
    twice = [ours(*(mg.tensor(a) for a in arrays), tgt_mask=mg.tensor(tgt_mask)).numpy() for _ in range(2)]
    np.testing.assert_array_equal(twice[0], twice[1])


def test_transformer_float32_matches_torch(torch) -> None:
    theirs = torch.nn.Transformer(D_MODEL, NHEAD, 1, 2, FEEDFORWARD, 0.0, batch_first=True)
    ours = nn.Transformer(D_MODEL, NHEAD, 1, 2, FEEDFORWARD, 0.0, batch_first=True)
    load_into(torch, ours, theirs)
    arrays = [RNG.standard_normal((3, 6, D_MODEL)).astype(np.float32),
              RNG.standard_normal((3, 4, D_MODEL)).astype(np.float32)]
    run_both(torch, ours, theirs, arrays, {"tgt_mask": causal(4), "src_key_padding_mask": padding(3, 6, 2)},
             rtol=2e-5, atol=2e-5)
    assert ours(*(mg.tensor(a) for a in arrays)).dtype == mg.float32


def test_transformer_parameters_and_init_as_torch(torch) -> None:
    ours, theirs = nn.Transformer(D_MODEL, NHEAD, 2, 1, FEEDFORWARD), torch.nn.Transformer(D_MODEL, NHEAD, 2, 1,
                                                                                          FEEDFORWARD)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    for name, p in ours.named_parameters():
        assert p.dtype == mg.float32
        if p.ndim > 1:   # Xavier uniform, as torch's _reset_parameters
            bound = np.sqrt(6 / (p.shape[0] + p.shape[1]))
            assert np.abs(p.numpy()).max() <= bound, name
        elif "norm" in name:
            np.testing.assert_array_equal(p.numpy(), 1.0 if name.endswith("weight") else 0.0)
    assert (ours.d_model, ours.nhead, ours.batch_first) == (theirs.d_model, theirs.nhead, theirs.batch_first)
    layer = nn.TransformerEncoderLayer(D_MODEL, NHEAD)
    assert layer.linear1.weight.shape == (2048, D_MODEL) and layer.dropout.p == 0.1 and layer.activation is F.relu
    assert layer.activation_relu_or_gelu == 1
    assert nn.TransformerEncoderLayer(D_MODEL, NHEAD, activation="gelu").activation_relu_or_gelu == 2
    assert nn.TransformerEncoderLayer(D_MODEL, NHEAD, activation=nn.GELU()).activation_relu_or_gelu == 2
    assert nn.TransformerEncoderLayer(D_MODEL, NHEAD, activation=F.tanh).activation_relu_or_gelu == 0
    custom = nn.Transformer(D_MODEL, NHEAD, custom_encoder=nn.Identity(), custom_decoder=nn.Identity())
    assert isinstance(custom.encoder, nn.Identity) and not list(custom.parameters())


def test_generate_square_subsequent_mask_as_torch(torch) -> None:
    ours = nn.Transformer.generate_square_subsequent_mask(5)
    theirs = torch.nn.Transformer.generate_square_subsequent_mask(5)
    assert ours.dtype == mg.float32
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert nn.Transformer.generate_square_subsequent_mask(3, dtype=mg.float64).dtype == mg.float64


def test_transformer_dropout_in_training_and_gradcheck() -> None:
    model = nn.Transformer(4, 2, 1, 1, 6, dropout=0.3, dtype=mg.float64)
    src, tgt = mg.tensor(RNG.standard_normal((3, 2, 4))), mg.tensor(RNG.standard_normal((2, 2, 4)))
    assert not np.allclose(model(src, tgt).numpy(), model(src, tgt).numpy())
    model.eval()
    np.testing.assert_array_equal(model(src, tgt).numpy(), model(src, tgt).numpy())
    layer = nn.TransformerDecoderLayer(4, 2, 6, 0.0, dtype=mg.float64)
    mask = mg.tensor(causal(2))
    assert mg.gradcheck(lambda t, m: layer(t, m, tgt_mask=mask), [src[:2].detach().requires_grad_(True),
                                                                 src.detach().requires_grad_(True)])


def test_transformer_errors() -> None:
    with pytest.raises(ValueError, match="activation should be 'relu' or 'gelu'"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")
    with pytest.raises(TypeError, match="activation must be"):
        nn.TransformerDecoderLayer(8, 2, activation=3)
    with pytest.raises(ValueError, match="divisible by num_heads"):
        nn.TransformerEncoderLayer(8, 3)
    with pytest.raises(ValueError, match="d_model must be a positive int"):
        nn.TransformerEncoderLayer(0, 1)
    model = nn.Transformer(8, 2, 1, 1, 16)
    with pytest.raises(ValueError, match="batch sizes"):
        model(mg.randn(5, 3, 8), mg.randn(4, 2, 8))
    with pytest.raises(ValueError, match="d_model=8"):
        model(mg.randn(5, 3, 8), mg.randn(4, 3, 6))
    with pytest.raises(ValueError, match="is_causal=True needs attn_mask"):
        model(mg.randn(5, 3, 8), mg.randn(4, 3, 8), tgt_is_causal=True)
    with pytest.raises(ValueError, match="num_layers"):
        nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), -1)
    with pytest.warns(UserWarning, match="mismatched src_key_padding_mask and mask"):
        model.encoder(mg.randn(5, 3, 8), mask=mg.zeros(5, 5), src_key_padding_mask=mg.zeros(3, 5, dtype=mg.bool_))
