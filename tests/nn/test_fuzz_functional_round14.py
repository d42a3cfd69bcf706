"""nn.functional against torch.nn.functional: the cases a round-14 differential fuzz (random configurations of the
convolutions, pools, norms, resizing, padding, embeddings and every loss, float32 and float64) found differing
from PyTorch 2.13, each with the value, dtype, error class or gradient torch gives."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")
F, TF = nn.functional, torch.nn.functional


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_conv_transpose_too_small_output_raises_runtime_error(dims: int) -> None:
    # output size (4 - 1)·1 - 2·2 + 0 + 1 = 0: torch's shape check raises RuntimeError ("Output size is too small")
    x, w = np.ones((1, 2) + (4,) * dims), np.ones((2, 2) + (1,) * dims)
    conv_t = getattr(F, f"conv_transpose{dims}d")
    with pytest.raises(RuntimeError):
        getattr(TF, f"conv_transpose{dims}d")(torch.tensor(x), torch.tensor(w), padding=2)
    with pytest.raises(RuntimeError, match="too small"):
        conv_t(mg.tensor(x), mg.tensor(w), padding=2)


@pytest.mark.parametrize(("shape", "pads", "mode"), [
    ((3, 3), (-1, -2), "reflect"),             # crops the dim to nothing
    ((1, 3), (-2, -1), "replicate"),
    ((3, 3, 2, 1), (-2, -2, 0, 1), "circular"),  # crops more than the dim has
])
def test_pad_crop_to_nothing_raises_runtime_error(shape: tuple, pads: tuple, mode: str) -> None:
    x = np.ones(shape)
    with pytest.raises(RuntimeError):
        TF.pad(torch.tensor(x), pads, mode=mode)
    with pytest.raises(RuntimeError, match="pad"):
        F.pad(mg.tensor(x), pads, mode=mode)


@pytest.mark.parametrize("name", ["nll_loss", "cross_entropy"])
@pytest.mark.parametrize("ignore_index", [-100, 0, 2])
def test_uint8_class_targets_are_indices_not_a_mask(name: str, ignore_index: int) -> None:
    # torch takes Byte targets for (N, C) inputs; ours indexed with them as a boolean mask (IndexError)
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((4, 3)), np.array([1, 2, 0, 0], dtype=np.uint8)
    xt, xm = torch.tensor(x, requires_grad=True), mg.tensor(x, requires_grad=True)
    expected = getattr(TF, name)(xt, torch.tensor(t), ignore_index=ignore_index)
    got = getattr(F, name)(xm, mg.tensor(t), ignore_index=ignore_index)
    np.testing.assert_allclose(got.item(), expected.item(), rtol=1e-12)
    expected.backward()
    got.backward()
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ["huber_loss", "soft_margin_loss"])
@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_mixed_dtype_loss_computes_in_the_input_dtype(name: str, reduction: str) -> None:
    # float32 input, float64 target: torch's huber/soft-margin losses are float32 (computed in the input's dtype)
    rng = np.random.default_rng(1)
    x, t = rng.uniform(-2, 2, (2, 3)).astype(np.float32), rng.choice([-1.0, 1.0, 0.3, 2.5], (2, 3))
    expected = getattr(TF, name)(torch.tensor(x), torch.tensor(t), reduction=reduction)
    xm = mg.tensor(x, requires_grad=True)
    got = getattr(F, name)(xm, mg.tensor(t), reduction=reduction)
    assert got.dtype == np.float32 and expected.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6)
    got.sum().backward()
    assert xm.grad.dtype == np.float32
    # and a float64 input with a float32 target stays float64
    got64 = getattr(F, name)(mg.tensor(t), mg.tensor(x), reduction=reduction)
    assert got64.dtype == getattr(TF, name)(torch.tensor(t), torch.tensor(x), reduction=reduction).numpy().dtype


def test_kl_div_integer_target_raises_runtime_error() -> None:
    x, t = np.zeros((2, 3)), np.ones((2, 3), dtype=np.int64)
    with pytest.raises(RuntimeError):
        TF.kl_div(torch.tensor(x), torch.tensor(t), reduction="batchmean")
    with pytest.raises(RuntimeError, match="kl_div"):
        F.kl_div(mg.tensor(x), mg.tensor(t), reduction="batchmean")


@pytest.mark.parametrize(("name", "shapes", "kwargs", "torch_class"), [
    ("conv2d", [(1, 4, 5, 5), (2, 4, 3, 3)], {"padding": "foo"}, RuntimeError),
    ("conv2d", [(1, 4, 5, 5), (2, 4, 3, 3)], {"stride": (1, 2, 3)}, RuntimeError),   # too many ints
    ("conv1d", [(1, 4, 5), (2, 4, 3)], {"padding": (1, 1)}, RuntimeError),
    ("conv1d", [(1, 4, 5), (2, 4, 3)], {"stride": 1.5}, TypeError),                # not an int: still TypeError
    ("max_pool2d", [(1, 2, 5, 5)], {"kernel_size": (1, 2, 3)}, RuntimeError),
    ("batch_norm", [(3,), (3,), (3,)], {}, RuntimeError),                           # a 1-D input
    ("batch_norm", [(2, 3, 4), None, None], {"training": False}, RuntimeError),     # eval without running stats
    ("local_response_norm", [(2, 3, 4)], {"size": 0}, RuntimeError),
    ("pixel_shuffle", [(5, 2)], {"upscale_factor": 2}, RuntimeError),
    ("pixel_unshuffle", [(5, 2)], {"downscale_factor": 2}, RuntimeError),
    ("pixel_shuffle", [(4, 2, 2)], {"upscale_factor": 0}, RuntimeError),
])
def test_argument_errors_have_torch_class(name: str, shapes: list, kwargs: dict, torch_class: type) -> None:
    rng = np.random.default_rng(2)
    arrays = [None if s is None else rng.standard_normal(s) for s in shapes]
    with pytest.raises(torch_class):
        getattr(TF, name)(*[None if a is None else torch.tensor(a) for a in arrays], **kwargs)
    with pytest.raises(torch_class, match=name.split("_")[0]):
        getattr(F, name)(*[None if a is None else mg.tensor(a) for a in arrays], **kwargs)


def test_embedding_padding_idx_out_of_range_error_classes() -> None:
    weight, indices = np.zeros((5, 3)), np.array([[0, 1]])
    with pytest.raises(AssertionError):
        TF.embedding(torch.tensor(indices), torch.tensor(weight), padding_idx=5)
    with pytest.raises(AssertionError, match="padding_idx"):
        F.embedding(mg.tensor(indices), mg.tensor(weight), padding_idx=5)
    with pytest.raises(RuntimeError):
        TF.embedding_bag(torch.tensor(indices), torch.tensor(weight), padding_idx=-6)
    with pytest.raises(RuntimeError, match="padding_idx"):
        F.embedding_bag(mg.tensor(indices), mg.tensor(weight), padding_idx=-6)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_momentum_none_raises_type_error(training: bool) -> None:
    # torch's F.batch_norm refuses momentum=None (only the modules have the cumulative average); ours failed with
    # "unsupported operand" in training and silently ignored it in eval
    x = np.random.default_rng(3).standard_normal((4, 3))
    with pytest.raises(TypeError):
        TF.batch_norm(torch.tensor(x), torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64),
                      training=training, momentum=None)
    running_mean = mg.zeros(3, dtype="float64")
    with pytest.raises(TypeError, match="momentum"):
        F.batch_norm(mg.tensor(x), running_mean, mg.ones(3, dtype="float64"), training=training, momentum=None)
    np.testing.assert_array_equal(running_mean.numpy(), np.zeros(3))


def test_instance_norm_of_n_c_with_running_estimates() -> None:
    # torch normalises an (N, C) input by the running estimates when use_input_stats=False; ours refused it
    rng = np.random.default_rng(4)
    x, rm, rv, w, b = (rng.standard_normal((3, 4)), rng.standard_normal(4), rng.uniform(0.5, 2, 4),
                       rng.standard_normal(4), rng.standard_normal(4))
    xt, xm = torch.tensor(x, requires_grad=True), mg.tensor(x, requires_grad=True)
    expected = TF.instance_norm(xt, torch.tensor(rm), torch.tensor(rv), torch.tensor(w), torch.tensor(b),
                                use_input_stats=False)
    got = F.instance_norm(xm, mg.tensor(rm), mg.tensor(rv), mg.tensor(w), mg.tensor(b), use_input_stats=False)
    np.testing.assert_allclose(got.numpy(), expected.detach().numpy(), rtol=1e-12)
    expected.sum().backward()
    got.sum().backward()
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
    with pytest.raises(ValueError):   # with the input's own statistics it needs a spatial dim, as torch
        F.instance_norm(mg.tensor(x))


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_max_pool_minus_inf_next_to_padding_picks_the_input_entry(dims: int) -> None:
    # a window of the padding (-inf) and input entries that are all -inf: torch picks the first input entry; ours
    # picked the padding (index -1, and the gradient was lost)
    x = np.zeros((1, 1) + (3,) * dims)
    x[(0, 0) + (0,) * dims] = -np.inf
    x[(0, 0) + (1,) * dims] = -np.inf
    xt, xm = torch.tensor(x, requires_grad=True), mg.tensor(x, requires_grad=True)
    kwargs = {"kernel_size": 3, "stride": 1, "padding": 1, "return_indices": True}
    (values_t, index_t), (values_m, index_m) = (getattr(TF, f"max_pool{dims}d")(xt, **kwargs),
                                                getattr(F, f"max_pool{dims}d")(xm, **kwargs))
    np.testing.assert_array_equal(index_m.numpy(), index_t.numpy())
    np.testing.assert_array_equal(values_m.numpy(), values_t.detach().numpy())
    cotangent = np.random.default_rng(5).standard_normal(values_t.shape)
    (values_t * torch.tensor(cotangent)).sum().backward()
    (values_m * mg.tensor(cotangent)).sum().backward()
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-12)   # the same entries, summed


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_adaptive_max_pool_window_with_several_nans_picks_the_last(dims: int) -> None:
    x = np.zeros((1, 1) + (4,) * dims)
    x[(0, 0) + (0,) * dims] = np.nan
    x[(0, 0) + (1,) * dims] = np.nan
    xt, xm = torch.tensor(x, requires_grad=True), mg.tensor(x, requires_grad=True)
    (_, index_t), (values_m, index_m) = (getattr(TF, f"adaptive_max_pool{dims}d")(xt, 1, return_indices=True),
                                         getattr(F, f"adaptive_max_pool{dims}d")(xm, 1, return_indices=True))
    np.testing.assert_array_equal(index_m.numpy(), index_t.numpy())
    getattr(TF, f"adaptive_max_pool{dims}d")(xt, 1).sum().backward()
    values_m.sum().backward()
    np.testing.assert_array_equal(xm.grad.numpy(), xt.grad.numpy())
