"""Round 24's missing-API sweep: names and keywords of PyTorch's public API that minigrad still lacked, each
checked against torch 2.13 (values, dtypes, gradients; float64 gradchecks for the differentiable ones)."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="PyTorch is the reference for these tests")


# --- torch.dtype and torch.layout as classes -------------------------------------------------------------------

@pytest.mark.parametrize("name", ["float32", "float64", "float16", "int64", "int32", "uint8", "bool", "complex64",
                                  "long", "double", "half", "cfloat"])
def test_dtype_is_the_class_of_every_dtype_name(name: str) -> None:
    # `isinstance(d, torch.dtype)` and annotations `dtype: torch.dtype = torch.float32` (evaluated when the def runs)
    assert isinstance(getattr(torch, name), torch.dtype)
    assert isinstance(getattr(mg, name), mg.dtype)
    assert not isinstance(mg.ones(2), mg.dtype) and not isinstance("float32", mg.dtype)


def test_dtype_in_an_annotation_and_layout_class() -> None:
    def cast(x: mg.Tensor, dtype: mg.dtype = mg.float64) -> mg.Tensor:
        return x.to(dtype)

    assert cast(mg.ones(2)).dtype == mg.float64
    assert isinstance(torch.strided, torch.layout) and isinstance(mg.strided, mg.layout)
    assert isinstance(mg.ones(2).layout, mg.layout)


# --- keyword names torch's functions take ---------------------------------------------------------------------

def _model_with_grads(lib, seed: int = 0):
    rng = np.random.default_rng(seed)
    weights = [lib.tensor(rng.standard_normal(s), requires_grad=True) for s in ((3, 4), (4,))]
    for w in weights:
        w.grad = lib.tensor(rng.standard_normal(tuple(w.shape)) * 5)
    return weights


@pytest.mark.parametrize(("name", "kwargs"), [
    ("clip_grad_norm_", {"max_norm": 1.0, "norm_type": 2.0}),
    ("clip_grad_norm_", {"max_norm": 0.5, "norm_type": float("inf"), "error_if_nonfinite": True}),
    ("clip_grad_value_", {"clip_value": 0.3}),
])
def test_clip_grad_takes_parameters_by_keyword(name: str, kwargs: dict) -> None:
    # torch.nn.utils.clip_grad_norm_(parameters=model.parameters(), max_norm=1.0); ours named it params
    ours, theirs = _model_with_grads(mg), _model_with_grads(torch)
    got = getattr(nn.utils, name)(parameters=ours, **kwargs)
    expected = getattr(torch.nn.utils, name)(parameters=theirs, **kwargs)
    if expected is not None:
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-12)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12)


def test_clip_grads_with_norm_takes_parameters_by_keyword() -> None:
    ours, theirs = _model_with_grads(mg), _model_with_grads(torch)
    nn.utils.clip_grads_with_norm_(parameters=ours, max_norm=1.0, total_norm=mg.tensor(7.0, dtype=mg.float64))
    torch.nn.utils.clip_grads_with_norm_(parameters=theirs, max_norm=1.0,
                                         total_norm=torch.tensor(7.0, dtype=torch.float64))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12)


def test_default_convert_takes_data_by_keyword() -> None:
    from torch.utils.data import default_convert

    got = mg.utils.data.default_convert(data={"x": np.arange(3.0), "y": (np.int64(2), "s")})
    expected = default_convert(data={"x": np.arange(3.0), "y": (np.int64(2), "s")})
    np.testing.assert_array_equal(got["x"].numpy(), expected["x"].numpy())
    assert got["x"].dtype == mg.float64 and expected["x"].dtype == torch.float64
    assert [type(v).__name__ for v in got["y"]] == ["Tensor", "str"] == [type(v).__name__ for v in expected["y"]]
