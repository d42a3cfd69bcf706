"""Round 16: what differential fuzzing of the Transformer family against torch 2.13 found (each test failed before
its fix). The fuzzer (kept outside the repository) built torch's and minigrad's modules with every constructor flag,
copied torch's weights, and compared outputs, the gradients of the inputs and of every parameter, and the exception
classes, in training mode, eval mode, and eval mode under no_grad (torch's fast paths).
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn


def _load(torch, theirs, ours) -> None:
    """torch's weights, jittered so that the zero biases are not, loaded into ``ours``."""
    with torch.no_grad():
        for p in theirs.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    ours.load_state_dict({k: mg.tensor(v.numpy()) for k, v in theirs.state_dict().items()})


def _same(ours, theirs, tol: float = 1e-10) -> None:
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=tol, atol=tol)


# --- num_layers=0: torch's forward reads layers[0] --------------------------------------------------------

@pytest.mark.parametrize("kind", ["encoder", "decoder", "transformer_encoder", "transformer_decoder"])
def test_zero_layers_forward_raises_index_error_as_torch(torch, kind: str) -> None:
    def build(lib):
        if kind == "encoder":
            return lib.TransformerEncoder(lib.TransformerEncoderLayer(4, 2, 6), 0, enable_nested_tensor=False)
        if kind == "decoder":
            return lib.TransformerDecoder(lib.TransformerDecoderLayer(4, 2, 6), 0)
        layers = (0, 1) if kind == "transformer_encoder" else (1, 0)
        return lib.Transformer(4, 2, *layers, 6)

    x = np.random.default_rng(1).standard_normal((3, 2, 4)).astype(np.float32)
    theirs, ours = build(torch.nn), build(nn)
    args = (1,) if kind == "encoder" else (2,)
    with pytest.raises(IndexError):
        theirs(*(torch.tensor(x) for _ in range(args[0])))
    with pytest.raises(IndexError, match="num_layers=0"):
        ours(*(mg.tensor(x) for _ in range(args[0])))


# --- generate_square_subsequent_mask's dtype ----------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_square_subsequent_mask_complex_dtype_as_torch(torch, dtype: str) -> None:
    """torch fills a complex mask with -inf+0j; minigrad refused every dtype but float and bool."""
    expected = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=getattr(torch, dtype))
    got = nn.Transformer.generate_square_subsequent_mask(4, dtype=getattr(mg, dtype))
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


def test_square_subsequent_mask_integer_dtype_still_refused(torch) -> None:
    with pytest.raises(RuntimeError):
        torch.nn.Transformer.generate_square_subsequent_mask(3, dtype=torch.int32)
    with pytest.raises(RuntimeError, match="int32"):
        nn.Transformer.generate_square_subsequent_mask(3, dtype=mg.int32)


# --- MultiheadAttention.merge_masks (torch's public helper; was missing) ----------------------------------

@pytest.mark.parametrize("attn", [None, "bool2", "bool3", "float2", "float3"])
@pytest.mark.parametrize("padding", [None, "bool", "float"])
def test_multihead_attention_merge_masks_as_torch(torch, attn: str | None, padding: str | None) -> None:
    rng = np.random.default_rng(16)
    N, L, E, heads = 2, 3, 4, 2
    arrays = {"query": rng.standard_normal((N, L, E)).astype(np.float32)}
    if attn is not None:
        shape = (L, L) if attn.endswith("2") else (N * heads, L, L)
        arrays["attn_mask"] = rng.random(shape) < 0.4 if attn.startswith("bool") else \
            rng.standard_normal(shape).astype(np.float32)
    if padding is not None:
        arrays["key_padding_mask"] = rng.random((N, L)) < 0.4 if padding == "bool" else \
            rng.standard_normal((N, L)).astype(np.float32)
    kwargs = {"attn_mask": None, "key_padding_mask": None}
    expected = torch.nn.MultiheadAttention(E, heads, batch_first=True).merge_masks(
        **{**kwargs, **{k: torch.tensor(v) for k, v in arrays.items()}})
    got = nn.MultiheadAttention(E, heads, batch_first=True).merge_masks(
        **{**kwargs, **{k: mg.tensor(v) for k, v in arrays.items()}})
    assert got[1] == expected[1]
    if expected[0] is None:
        assert got[0] is None
    else:
        assert got[0].dtype == np.dtype(str(expected[0].dtype).replace("torch.", ""))
        np.testing.assert_array_equal(got[0].numpy(), expected[0].numpy())
