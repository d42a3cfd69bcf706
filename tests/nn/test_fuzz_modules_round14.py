"""nn modules against torch.nn, differentially: each module built with the same arguments in both, then its repr,
state-dict keys, shapes and dtypes, buffers and parameter flags compared; torch's weights loaded into ours (from
``.numpy()``), then forward and backward in train and eval mode on the same float64 inputs: outputs, input and
parameter gradients, parameters and buffers afterwards. A scratch sweep ran this over every module class both
packages export (thousands of argument sets); the cases below are a sample of it plus what it found:
``EmbeddingBag``'s out-of-range ``padding_idx`` (AssertionError in torch), a dropout module's ``p`` kept as given
(its repr), the error classes of ``Fold`` (RuntimeError), ``MultiLabelSoftMarginLoss`` of a 0-d input (IndexError),
``Hardtanh(max_val <= min_val)`` (AssertionError) and a non-floating layer dtype (RuntimeError)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")


def _side(value: Any, ours: bool) -> Any:
    """An argument for one side: a dtype name or an array becomes that side's dtype / tensor."""
    if isinstance(value, str) and value in ("float64", "float32"):
        return getattr(mg if ours else torch, value)
    if isinstance(value, np.ndarray):
        return mg.tensor(value) if ours else torch.tensor(value)
    return value


def _outputs(out: Any) -> list:
    return [y for x in out for y in _outputs(x)] if isinstance(out, (tuple, list)) else [out]


def _close(ours: Any, theirs: Any, what: str) -> None:
    a, e = ours.numpy(), theirs.detach().numpy()
    assert a.shape == e.shape and a.dtype == e.dtype, f"{what}: {a.shape} {a.dtype} vs torch {e.shape} {e.dtype}"
    np.testing.assert_allclose(a, e, rtol=1e-7, atol=1e-9, err_msg=what)


def _compare(name: str, args: tuple, kwargs: dict, inputs: Callable | None, modes: tuple = ("train", "eval")) -> None:
    """``name`` built from ``args``/``kwargs`` in both packages agrees with torch's (see the module docstring);
    ``inputs(rng)`` gives the forward's arguments (NumPy arrays become tensors; float ones require grad)."""
    t_mod = getattr(torch.nn, name)(*[_side(a, False) for a in args], **{k: _side(v, False) for k, v in kwargs.items()})
    o_mod = getattr(nn, name)(*[_side(a, True) for a in args], **{k: _side(v, True) for k, v in kwargs.items()})
    if name.startswith("Lazy"):   # materialise both on the same first input
        first = inputs(np.random.default_rng(99))
        t_mod(*[torch.tensor(a) for a in first])
        o_mod(*[mg.tensor(a) for a in first])
    assert repr(o_mod) == repr(t_mod)
    t_state, o_state = t_mod.state_dict(), o_mod.state_dict()
    assert list(o_state) == list(t_state)
    for key, value in t_state.items():
        assert o_state[key].shape == tuple(value.shape), key
        assert str(o_state[key].dtype) == str(value.dtype).removeprefix("torch."), key
    assert [n for n, _ in o_mod.named_buffers()] == [n for n, _ in t_mod.named_buffers()]
    assert ([(n, p.requires_grad) for n, p in o_mod.named_parameters()]
            == [(n, p.requires_grad) for n, p in t_mod.named_parameters()])
    if inputs is None:
        return
    o_mod.load_state_dict({k: v.detach().numpy().copy() for k, v in t_state.items()})
    for mode in modes:
        getattr(t_mod, mode)()
        getattr(o_mod, mode)()
        rng = np.random.default_rng(0)
        arrays = [np.asarray(a) for a in inputs(rng)]
        t_in = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
        o_in = [mg.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
        t_out, o_out = _outputs(t_mod(*t_in)), _outputs(o_mod(*o_in))
        assert len(o_out) == len(t_out)
        t_loss, o_loss = 0, 0
        for k, (o, t) in enumerate(zip(o_out, t_out)):
            _close(o, t, f"{mode} output {k}")
            if t.requires_grad:
                upstream = rng.standard_normal(tuple(t.shape))
                t_loss = t_loss + (t * torch.tensor(upstream)).sum()
                o_loss = o_loss + (o * mg.tensor(upstream)).sum()
        if isinstance(t_loss, int):
            continue
        t_loss.backward()
        o_loss.backward()
        for k, (o, t) in enumerate(zip(o_in, t_in)):
            if t.grad is not None:
                _close(o.grad, t.grad, f"{mode} grad of input {k}")
        for (key, t), (_, o) in zip(t_mod.named_parameters(), o_mod.named_parameters()):
            if t.grad is not None:
                _close(o.grad, t.grad, f"{mode} grad of {key}")
            _close(o, t, f"{mode} {key} after the step")
        for (key, t), (_, o) in zip(t_mod.named_buffers(), o_mod.named_buffers()):
            _close(o, t, f"{mode} buffer {key}")


def _normal(*shape: int) -> Callable:
    return lambda rng: [rng.standard_normal(shape)]


D = {"dtype": "float64"}
CASES = [
    ("Linear", (4, 3), D, _normal(5, 4)),
    ("Linear", (), dict(in_features=4, out_features=2, bias=False, device=None, **D), _normal(4)),
    ("Bilinear", (3, 4, 5), D, lambda r: [r.standard_normal((6, 3)), r.standard_normal((6, 4))]),
    ("Conv2d", (4, 6, 3), dict(padding=1, padding_mode="circular", stride=2, groups=2, **D), _normal(2, 4, 7, 6)),
    ("Conv1d", (4, 6, 3), dict(padding="same", dilation=2, padding_mode="reflect", **D), _normal(4, 7)),
    ("ConvTranspose2d", (4, 6, 3), dict(stride=2, padding=1, output_padding=1, groups=2, **D), _normal(2, 4, 5, 6)),
    ("LazyConv1d", (4, 3), dict(stride=2, bias=False, **D), _normal(2, 3, 7)),
    ("LazyLinear", (3,), D, _normal(4, 5)),
    ("Embedding", (10, 3), dict(padding_idx=-1, max_norm=1.0, norm_type=1.5, scale_grad_by_freq=True, **D),
     lambda r: [np.array([[9, 3, 3], [1, 9, 0]])]),
    ("EmbeddingBag", (10, 3), dict(mode="max", **D), lambda r: [np.array([1, 2, 4, 5, 4, 3]), np.array([0, 3])]),
    ("EmbeddingBag", (10, 3), dict(mode="mean", padding_idx=4, include_last_offset=True, **D),
     lambda r: [np.array([1, 2, 4, 5, 4, 3]), np.array([0, 3, 6])]),
    ("BatchNorm2d", (4,), dict(momentum=None, **D), _normal(3, 4, 3, 2)),
    ("BatchNorm1d", (4,), dict(affine=False, **D), _normal(3, 4)),
    ("InstanceNorm1d", (4,), dict(affine=True, track_running_stats=True, **D), _normal(4, 5)),
    ("LazyInstanceNorm2d", (), dict(affine=True, **D), _normal(2, 3, 4, 4)),
    ("GroupNorm", (2, 4), dict(eps=1e-2, **D), _normal(3, 4, 5)),
    ("LayerNorm", ([3, 4],), dict(bias=False, **D), _normal(2, 3, 4)),
    ("RMSNorm", (4,), dict(eps=None, **D), _normal(2, 4)),
    ("LocalResponseNorm", (2, 1e-3, 0.5, 2.0), {}, _normal(2, 5, 3, 3)),
    ("PReLU", (4, 0.3), D, _normal(2, 4, 3)),
    ("RReLU", (0.1, 0.2), {}, _normal(3, 4)),
    ("GELU", (), {"approximate": "tanh"}, _normal(3, 4)),
    ("Softplus", (2.0, 1.0), {}, _normal(3, 4)),
    ("GLU", (0,), {}, _normal(4, 3)),
    ("Softmax2d", (), {}, _normal(4, 2, 3)),
    ("MaxPool2d", (3,), dict(stride=2, padding=1, ceil_mode=True, return_indices=True), _normal(2, 3, 7, 8)),
    ("AvgPool3d", (3,), dict(stride=2, ceil_mode=True, count_include_pad=False), _normal(2, 3, 5, 6, 5)),
    ("LPPool1d", (1.5, 3), dict(stride=2, ceil_mode=True), lambda r: [np.abs(r.standard_normal((2, 3, 9))) + .1]),
    ("AdaptiveMaxPool2d", ((2, None),), dict(return_indices=True), _normal(3, 7, 8)),
    ("ReflectionPad2d", ((1, 2, 0, -1),), {}, _normal(2, 3, 5, 6)),
    ("CircularPad3d", (1,), {}, _normal(2, 3, 4, 5, 4)),
    ("ConstantPad1d", (2, 1.5), {}, _normal(3, 6)),
    ("Upsample", (), dict(scale_factor=1.7, mode="bilinear", recompute_scale_factor=True), _normal(2, 3, 5, 4)),
    ("PixelUnshuffle", (2,), {}, _normal(2, 4, 6)),
    ("ChannelShuffle", (3,), {}, _normal(2, 6, 3)),
    ("Fold", ((4, 5), 2), {}, _normal(2, 12, 12)),
    ("Unfold", ((2, 3),), dict(stride=2, padding=1), _normal(3, 4, 5)),
    ("Unflatten", (-1, [2, -1]), {}, _normal(4, 6)),
    ("PairwiseDistance", (1.5, 1e-3, True), {}, lambda r: [r.standard_normal((3, 4)), r.standard_normal(4)]),
    ("CosineSimilarity", (0, 1e-3), {}, lambda r: [r.standard_normal((3, 4)), r.standard_normal((1, 4))]),
    ("Dropout2d", (1.0,), {}, _normal(2, 3, 4, 4)),
    ("AlphaDropout", (0,), {}, _normal(2, 3)),
    ("CrossEntropyLoss", (), dict(weight=np.array([1., 2., .5, 3.]), ignore_index=1, label_smoothing=0.2),
     lambda r: [r.standard_normal((2, 4, 3)), r.integers(0, 4, (2, 3))]),
    ("GaussianNLLLoss", (), dict(full=True, eps=1e-3, reduction="sum"),
     lambda r: [r.standard_normal((3, 4)), r.standard_normal((3, 4)), r.random((3, 1)) + 0.1]),
    ("TripletMarginLoss", (), dict(margin=0.5, p=1.0, eps=1e-3, swap=True),
     lambda r: list(r.standard_normal((3, 5, 3)))),
    ("MultiLabelMarginLoss", (), {}, lambda r: [r.standard_normal((2, 4)), np.array([[3, 0, -1, 1], [1, 2, 3, -1]])]),
    ("CTCLoss", (), dict(blank=3, zero_infinity=True),
     lambda r: [np.log(np.full((6, 2, 4), .25)), np.array([[1, 2, 2], [0, 1, 0]]), np.array([6, 5]), np.array([3, 2])]),
    ("AdaptiveLogSoftmaxWithLoss", (8, 10, (2, 5, 8)), dict(div_value=2.0, head_bias=True, **D),
     lambda r: [r.standard_normal((5, 8)), r.integers(0, 10, 5)]),
]


@pytest.mark.parametrize("name, args, kwargs, inputs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_module_matches_torch(name: str, args: tuple, kwargs: dict, inputs: Callable) -> None:
    modes = ("eval",) if name == "RReLU" else ("train", "eval")
    _compare(name, args, kwargs, inputs, modes)


def test_the_sweep_covers_every_class_both_export() -> None:
    """Each class torch.nn and nn both export is a module class here too (the sweep's list)."""
    theirs = {n for n in dir(torch.nn) if isinstance(getattr(torch.nn, n), type)
              and issubclass(getattr(torch.nn, n), torch.nn.Module)}
    ours = {n for n in dir(nn) if isinstance(getattr(nn, n, None), type)}
    assert len(theirs & ours) > 150
    assert all(issubclass(getattr(nn, n), nn.Module) for n in theirs & ours)


# --- what the sweep found ----------------------------------------------------------------------------------

@pytest.mark.parametrize("p", [0, 1, 0.25])
def test_dropout_keeps_p_as_given(p: float) -> None:
    for name in ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"):
        assert repr(getattr(nn, name)(p)) == repr(getattr(torch.nn, name)(p))


def _same_error(build_ours: Callable, build_theirs: Callable) -> None:
    with pytest.raises(Exception) as expected:
        build_theirs()
    with pytest.raises(expected.type):
        build_ours()


@pytest.mark.parametrize("padding_idx", [10, -11])
def test_embedding_bag_padding_idx_out_of_range_is_an_assertion_error(padding_idx: int) -> None:
    _same_error(lambda: nn.EmbeddingBag(10, 3, padding_idx=padding_idx),
                lambda: torch.nn.EmbeddingBag(10, 3, padding_idx=padding_idx))


def test_fold_of_a_wrong_block_count_is_a_runtime_error() -> None:
    x = np.zeros((2, 12, 11))
    _same_error(lambda: nn.Fold((4, 5), 2)(mg.tensor(x)), lambda: torch.nn.Fold((4, 5), 2)(torch.tensor(x)))
    x = np.zeros((2, 11, 12))
    _same_error(lambda: nn.Fold((4, 5), 2)(mg.tensor(x)), lambda: torch.nn.Fold((4, 5), 2)(torch.tensor(x)))


def test_multilabel_soft_margin_loss_of_a_0d_input_is_an_index_error() -> None:
    x, y = np.array(0.5), np.array(1.0)
    _same_error(lambda: nn.MultiLabelSoftMarginLoss()(mg.tensor(x), mg.tensor(y)),
                lambda: torch.nn.MultiLabelSoftMarginLoss()(torch.tensor(x), torch.tensor(y)))


def test_hardtanh_with_max_not_above_min_is_an_assertion_error() -> None:
    _same_error(lambda: nn.Hardtanh(1.0, -1.0), lambda: torch.nn.Hardtanh(1.0, -1.0))


def test_a_layer_of_an_integer_dtype_is_a_runtime_error() -> None:
    _same_error(lambda: nn.Linear(3, 4, dtype=mg.int64), lambda: torch.nn.Linear(3, 4, dtype=torch.int64))


@pytest.mark.parametrize("name, args, kwargs, shape", [
    ("AvgPool3d", (3,), dict(ceil_mode=True), (2, 3, 3, 8, 1)),
    ("AvgPool3d", (4,), dict(stride=(2, 1, 1), padding=2, count_include_pad=False), (3, 6, 2, 6)),
    ("LPPool3d", (1, (4, 4, 2)), dict(ceil_mode=True), (2, 3, 1, 6, 8)),
])
def test_3d_average_pools_refuse_an_input_smaller_than_the_kernel(name: str, args: tuple, kwargs: dict,
                                                                  shape: tuple) -> None:
    """PyTorch's 3-D average pool checks each input dim against the kernel before padding (the 2-D one does not):
    such an input is a RuntimeError, not a result."""
    x = np.random.default_rng(0).standard_normal(shape)
    _same_error(lambda: getattr(nn, name)(*args, **kwargs)(mg.tensor(x)),
                lambda: getattr(torch.nn, name)(*args, **kwargs)(torch.tensor(x)))


@pytest.mark.parametrize("name, args", [
    ("ConvTranspose1d", (4, 6, 3)), ("ConvTranspose2d", (4, 6, 3)), ("ConvTranspose3d", (4, 6, 3)),
    ("AdaptiveAvgPool3d", (2,)), ("AdaptiveMaxPool3d", (2,)),
    ("ReflectionPad1d", (1,)), ("ReflectionPad2d", (1,)), ("ReflectionPad3d", (1,)),
    ("ReplicationPad1d", (1,)), ("ReplicationPad2d", (1,)), ("ReplicationPad3d", (1,)),
    ("CircularPad1d", (1,)), ("CircularPad2d", (1,)), ("CircularPad3d", (1,)),
    ("Dropout2d", (0.5,)), ("Dropout3d", (0.5,)),
])
def test_an_input_of_the_wrong_rank_raises_torchs_error_class(name: str, args: tuple) -> None:
    """RuntimeError (ConvTranspose, adaptive 3-D pools, feature dropout); the reflect/replicate pads'
    RuntimeError (fewer dims than padded) or NotImplementedError (more); the circular pads' ValueError."""
    for shape in [(), (4,), (2, 4), (2, 4, 3), (2, 4, 3, 3), (1, 4, 3, 3, 3), (1, 2, 4, 3, 3, 3)]:
        x = np.ones(shape, dtype=np.float32)
        try:
            getattr(torch.nn, name)(*args)(torch.tensor(x))
        except Exception as error:  # noqa: BLE001 - the class is what is compared
            with pytest.raises(type(error)):
                getattr(nn, name)(*args)(mg.tensor(x))


@pytest.mark.parametrize("name, args", [
    ("Linear", (-2, 3)), ("Linear", (2.0, 3)), ("Linear", (2, None)),
    ("Bilinear", (2, -3, 4)), ("Bilinear", (2, 3, 4.0)),
    ("Conv1d", (-2, 4, 3)), ("Conv2d", (2, 4.0, 3)), ("ConvTranspose1d", (2, -4, 3)), ("ConvTranspose2d", (None, 4, 3)),
    ("Embedding", (3, -4)), ("Embedding", (3.0, 4)), ("EmbeddingBag", (-3, 4)), ("EmbeddingBag", (3, 2.0)),
    ("BatchNorm1d", (-2,)), ("BatchNorm2d", (2.0,)), ("SyncBatchNorm", (None,)), ("PReLU", (-2,)), ("PReLU", (2.0,)),
    ("GroupNorm", (2, -2)), ("GroupNorm", (2, 2.0)), ("LayerNorm", (-2,)), ("RMSNorm", ((3, -1),)),
])
def test_a_bad_size_argument_raises_torchs_error_class(name: str, args: tuple) -> None:
    """TypeError for a size that is not an int, RuntimeError for a negative one (PyTorch's "negative dimension")."""
    _same_error(lambda: getattr(nn, name)(*args), lambda: getattr(torch.nn, name)(*args))


@pytest.mark.parametrize("name, args, shape", [
    ("BatchNorm1d", (0,), None), ("InstanceNorm1d", (0,), None),
    ("GroupNorm", (2, 0), (3, 0, 2)),
    ("Embedding", (0, 4), None), ("Linear", (0, 2), (3, 0)), ("LayerNorm", (0,), (3, 0)),
])
def test_a_size_of_zero_is_taken_as_torch_takes_it(name: str, args: tuple, shape: tuple | None) -> None:
    _compare(name, args, {"dtype": "float64"}, None if shape is None else _normal(*shape))


@pytest.mark.parametrize("name", ["MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss"])
@pytest.mark.parametrize("target_dtype", ["int64", "int32"])
def test_an_integer_target_keeps_the_inputs_float_dtype(name: str, target_dtype: str) -> None:
    """PyTorch promotes by category: a float32 input and an integer target give a float32 loss (NumPy's rule
    would give float64)."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((3, 4)).astype(np.float32), rng.integers(0, 3, (3, 4)).astype(target_dtype)
    ours, theirs = getattr(nn, name)()(mg.tensor(x), mg.tensor(y)), getattr(torch.nn, name)()(torch.tensor(x),
                                                                                             torch.tensor(y))
    assert ours.dtype == mg.float32 and theirs.dtype == torch.float32
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


@pytest.mark.parametrize("name, args", [
    ("Linear", (300, 200)), ("Bilinear", (20, 30, 200)), ("Conv1d", (40, 600, 5)), ("Conv2d", (16, 400, 3, 1, 0, 1, 4)),
    ("ConvTranspose2d", (16, 400, 3, 1, 0, 0, 4)), ("ConvTranspose3d", (8, 300, 2)), ("Embedding", (3000, 40)),
    ("EmbeddingBag", (3000, 40)), ("PReLU", (500, 0.1)), ("BatchNorm2d", (300,)), ("GroupNorm", (3, 300)),
])
def test_default_initialisation_draws_as_torchs(name: str, args: tuple) -> None:
    """Each parameter of a large layer has torch's distribution: the same range and standard deviation (within
    sampling error), e.g. Linear/Conv U(-1/√fan_in, 1/√fan_in) for weight and bias, Embedding N(0, 1)."""
    torch.manual_seed(0)
    mg.manual_seed(0)
    theirs, ours = getattr(torch.nn, name)(*args).state_dict(), getattr(nn, name)(*args).state_dict()
    assert list(ours) == list(theirs)
    for key, value in theirs.items():
        a, e = ours[key].numpy().astype(np.float64), value.numpy().astype(np.float64)
        scale = max(np.abs(e).max(), 1e-12)
        assert np.abs(a).max() == pytest.approx(np.abs(e).max(), rel=0.1 if e.std() > 0.5 else 0.02, abs=1e-12), key
        assert a.std() == pytest.approx(e.std(), rel=0.1, abs=1e-12 * scale), key
        assert abs(a.mean() - e.mean()) <= 0.1 * scale + 1e-12, key


@pytest.mark.parametrize("name", ["ConstantPad1d", "ZeroPad2d", "ReflectionPad2d", "ReplicationPad3d", "CircularPad2d",
                                  "ReflectionPad1d", "ConstantPad3d"])
@pytest.mark.parametrize("padding", [(1, 2), (0, 1, 2, 1), (1, 0, 1, 1, 0, 2), (1, -1, 0, 2)])
def test_a_padding_module_takes_amounts_for_other_dims_than_its_own(name: str, padding: tuple) -> None:
    """As PyTorch's: ``ZeroPad2d((1, 2))`` pads the last dim only, ``ConstantPad1d((0, 1, 2, 1), v)`` the last two
    (reflect / replicate then need an input of that rank, a circular pad one of its own too)."""
    args = (padding, 1.5) if name.startswith("Constant") else (padding,)
    for shape in [(3, 5), (2, 3, 5), (2, 3, 4, 5), (1, 2, 3, 4, 5)]:
        x = np.random.default_rng(0).standard_normal(shape)
        try:
            expected = getattr(torch.nn, name)(*args)(torch.tensor(x))
        except Exception as error:  # noqa: BLE001 - the class is what is compared
            with pytest.raises(type(error)):
                getattr(nn, name)(*args)(mg.tensor(x))
            continue
        module = getattr(nn, name)(*args)
        assert repr(module) == repr(getattr(torch.nn, name)(*args))
        np.testing.assert_array_equal(module(mg.tensor(x)).numpy(), expected.numpy())


@pytest.mark.parametrize("name", ["Embedding", "EmbeddingBag"])
def test_from_pretrained_of_a_table_that_is_not_2d_is_an_assertion_error(name: str) -> None:
    _same_error(lambda: getattr(nn, name).from_pretrained(mg.zeros(3)),
                lambda: getattr(torch.nn, name).from_pretrained(torch.zeros(3)))


@pytest.mark.parametrize("groups,shape", [(2, (4,)), (0, (1, 4, 2)), (3, (1, 4, 2))])
def test_channel_shuffle_refuses_with_torchs_runtime_error(torch: Any, groups: int, shape: tuple) -> None:
    for module, zeros in ((torch.nn, torch.zeros), (nn, mg.zeros)):
        with pytest.raises(RuntimeError):
            module.ChannelShuffle(groups)(zeros(*shape))
