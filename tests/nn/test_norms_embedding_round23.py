"""Round 23: normalization and embedding layers over several training steps, compared with PyTorch 2.13
(weights copied, the same inputs, train()/eval() switches, attributes changed after construction)."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")


def _pair(name: str, *args: object, **kwargs: object) -> tuple:
    return getattr(nn, name)(*args, **kwargs, dtype=mg.float64), getattr(torch.nn, name)(*args, **kwargs,
                                                                                       dtype=torch.float64)


def _same_state(ours: nn.Module, theirs: object) -> None:
    mine, their_state = ours.state_dict(), theirs.state_dict()
    assert list(mine) == list(their_state)
    for key, value in their_state.items():
        np.testing.assert_allclose(mine[key].numpy(), value.numpy(), rtol=1e-10, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("name, shape", [("BatchNorm1d", (4, 3)), ("BatchNorm2d", (2, 3, 2, 2)),
                                         ("SyncBatchNorm", (2, 3, 2))])
def test_batch_norm_track_running_stats_switched_off_after_construction(name: str, shape: tuple) -> None:
    """PyTorch reads track_running_stats at each forward: switched off, training leaves the buffers alone and eval
    still normalises with them (they exist). minigrad moved them in training and used batch statistics in eval."""
    rng = np.random.default_rng(0)
    ours, theirs = _pair(name, 3)
    for step in range(3):
        x = rng.standard_normal(shape) * 2 + 1
        for module in (ours, theirs):
            module.train(step != 1)
            module.track_running_stats = step == 0
        out, expected = ours(mg.tensor(x)), theirs(torch.tensor(x))
        np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
        _same_state(ours, theirs)


@pytest.mark.parametrize("momentum", [None, 0.3])
def test_batch_norm_track_running_stats_switched_on_without_buffers(momentum: float | None) -> None:
    """Built with track_running_stats=False the buffers are None; switched on afterwards, PyTorch normalises with the
    batch's statistics and counts nothing (minigrad raised AttributeError on the None count)."""
    rng = np.random.default_rng(1)
    ours, theirs = _pair("BatchNorm1d", 3, momentum=momentum, track_running_stats=False)
    for step in range(2):
        x = rng.standard_normal((4, 3, 2))
        for module in (ours, theirs):
            module.track_running_stats = True
            module.train(step == 0)
        out, expected = ours(mg.tensor(x)), theirs(torch.tensor(x))
        np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
        _same_state(ours, theirs)


def _raises_as_torch(ours: object, theirs: object) -> None:
    with pytest.raises(Exception) as expected:
        theirs()
    with pytest.raises(expected.type):
        ours()


def test_instance_norm_of_empty_instances_leaves_running_stats() -> None:
    """(N, C, 0) with N > 0: PyTorch's batch_norm of the empty (1, N·C, 0) moves nothing; minigrad made them NaN."""
    theirs_mean, theirs_var = torch.tensor([1.0, -2.0, 3.0]), torch.tensor([1.0, 2.0, 0.5])
    ours_mean, ours_var = mg.tensor(theirs_mean.numpy()), mg.tensor(theirs_var.numpy())
    for dtype in ("float32", "float16"):
        x = np.zeros((2, 3, 0), dtype=dtype)
        torch.nn.functional.instance_norm(torch.tensor(x), theirs_mean, theirs_var, momentum=0.3)
        out = nn.functional.instance_norm(mg.tensor(x), ours_mean, ours_var, momentum=0.3)
        assert out.shape == (2, 3, 0)
        np.testing.assert_array_equal(ours_mean.numpy(), theirs_mean.numpy())
        np.testing.assert_array_equal(ours_var.numpy(), theirs_var.numpy())


def test_norm_functions_refuse_with_torch_classes_and_order() -> None:
    """float16 eval batch_norm without running estimates raised AttributeError; instance_norm without them and
    use_input_stats=False a ValueError (torch: RuntimeError); one value per channel with mixed dtypes named the dtypes
    (torch checks the count first: ValueError)."""
    F, TF = nn.functional, torch.nn.functional
    half = np.ones((2, 3), dtype=np.float16)
    _raises_as_torch(lambda: F.batch_norm(mg.tensor(half), None, None),
                     lambda: TF.batch_norm(torch.tensor(half), None, None))
    x = np.ones((2, 3, 4))
    _raises_as_torch(lambda: F.instance_norm(mg.tensor(x), use_input_stats=False),
                     lambda: TF.instance_norm(torch.tensor(x), use_input_stats=False))
    one, weight = np.ones((1, 3)), np.ones(3, dtype=np.float32)
    _raises_as_torch(lambda: F.batch_norm(mg.tensor(one), None, None, mg.tensor(weight), training=True),
                     lambda: TF.batch_norm(torch.tensor(one), None, None, torch.tensor(weight), training=True))
    single = np.ones((2, 3, 1))
    _raises_as_torch(lambda: F.instance_norm(mg.tensor(single), weight=mg.tensor(weight)),
                     lambda: TF.instance_norm(torch.tensor(single), weight=torch.tensor(weight)))


@pytest.mark.parametrize("max_norm", [100.0, 0.5])
def test_embedding_max_norm_always_counts_as_in_place(max_norm: float) -> None:
    """PyTorch's renorm is an in-place op on the weight whether or not a row was over max_norm: a backward that saved
    the weight raises either way. minigrad raised only once some looked-up row grew past max_norm (data-dependent)."""
    rows = np.array([[0.3, 0.1], [0.2, -0.4], [1.5, 2.0]])
    index = np.array([0, 1])
    for lib, functional in ((torch, torch.nn.functional), (mg, nn.functional)):
        source = lib.tensor(rows, requires_grad=True)
        weight = source.exp()   # exp saves its result
        functional.embedding(lib.tensor(index), weight, max_norm=max_norm).sum()
        with pytest.raises(RuntimeError):
            weight.sum().backward()


def test_local_response_norm_module_is_the_functional() -> None:
    """nn.LocalResponseNorm skipped F.local_response_norm's float16 handling: a float16 (N, C, L) input lost PyTorch's
    per-step rounding (ulps off everywhere) and a 4-D one was computed where PyTorch's CPU kernel refuses it."""
    x = (np.random.default_rng(0).standard_normal((2, 5, 7)) * 3).astype(np.float16)
    ours = nn.LocalResponseNorm(3, alpha=0.9, beta=0.8)(mg.tensor(x))
    theirs = torch.nn.LocalResponseNorm(3, alpha=0.9, beta=0.8)(torch.tensor(x))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    image = np.ones((1, 2, 2, 2), dtype=np.float16)
    _raises_as_torch(lambda: nn.LocalResponseNorm(2)(mg.tensor(image)),
                     lambda: torch.nn.LocalResponseNorm(2)(torch.tensor(image)))


@pytest.mark.parametrize("fn, shape", [("group_norm", (2, 3, 4, 5)), ("group_norm", (2, 1, 3, 1)),
                                       ("rms_norm", (2, 3, 4, 5))])
def test_group_and_rms_norm_give_torch_layout(fn: str, shape: tuple) -> None:
    """PyTorch's group_norm/rms_norm keep a channels-last input's layout and give any other C order, so
    ``out.view(-1)`` works on a transposed input; minigrad kept the transposed layout (view raised)."""
    x = np.random.default_rng(2).standard_normal(shape)
    args = (shape[1],) if fn == "group_norm" else ([shape[-1]],)
    ours_fn, theirs_fn = getattr(nn.functional, fn), getattr(torch.nn.functional, fn)
    for layout in ("transposed", "swapped", "channels_last"):
        if layout == "channels_last":
            ours = mg.tensor(x).contiguous(memory_format=mg.channels_last)
            theirs = torch.tensor(x).contiguous(memory_format=torch.channels_last)
        else:
            dims = (0, 3) if layout == "transposed" else (1, 2)
            ours = mg.tensor(x).transpose(*dims).contiguous().transpose(*dims)
            theirs = torch.tensor(x).transpose(*dims).contiguous().transpose(*dims)
        out, expected = ours_fn(ours, *args), theirs_fn(theirs, *args)
        assert out.stride() == expected.stride(), layout
        np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode, padding_idx", [("max", None), ("max", 2), ("sum", 0), ("mean", 0)])
def test_embedding_bag_with_nan_and_infinite_rows(mode: str, padding_idx: int | None) -> None:
    """Max bags are PyTorch's running maximum: a NaN first row stays NaN (it gave 0, hiding the NaN), a later NaN is
    passed over, and a bag of -inf is -inf (it gave 0); a NaN padding row no longer makes sum/mean bags NaN."""
    inf = np.inf
    weight = np.array([[np.nan, 1.0, -inf], [3.0, np.nan, -inf], [0.5, np.nan, -inf], [-inf, -inf, -inf]])
    index = np.array([[0, 2], [1, 2], [0, 1], [2, 1], [3, 3], [3, 0]])
    grad = np.arange(18.0).reshape(6, 3)
    theirs = torch.tensor(weight, requires_grad=True)
    expected = torch.nn.functional.embedding_bag(torch.tensor(index), theirs, mode=mode, padding_idx=padding_idx)
    expected.backward(torch.tensor(grad))
    ours = mg.tensor(weight, requires_grad=True)
    out = nn.functional.embedding_bag(mg.tensor(index), ours, mode=mode, padding_idx=padding_idx)
    out.backward(mg.tensor(grad))
    np.testing.assert_array_equal(out.numpy(), expected.detach().numpy())
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_embedding_max_norm_scales_rows_with_torch_bits(dtype: str) -> None:
    """PyTorch adds 1e-7 to the row's norm and divides in float64, then scales in the weight's dtype; minigrad added
    it in float32 (where 1e-7 rounds to an ulp), so renormed rows came out ulps away from PyTorch's."""
    rows = np.array([[-1.14, -0.91], [-0.78, 0.96], [3.09, 1.09], [0.1, 0.2]], dtype=dtype)
    index = np.array([0, 1, 2, 3])
    theirs = torch.tensor(rows)
    torch.embedding_renorm_(theirs, torch.tensor(index), 0.5, 1.0)
    ours = mg.tensor(rows)
    nn.functional.embedding(mg.tensor(index), ours, max_norm=0.5, norm_type=1.0)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
