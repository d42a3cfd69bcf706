"""The second batch of torch API that minigrad lacked, against torch 2.13: signal windows, in-place shape changes
(``unsqueeze_``, ``squeeze_``, ``t_``, ``transpose_``, ``resize_`` …), ``nn.Buffer``, ``nn.DataParallel``, the lazy
convolution and normalisation modules, and torch's top-level spellings of functional ops (``mg.conv2d`` …).

Function cases are ``fn(lib, *tensors)`` in PyTorch's spelling, run with ``lib = minigrad`` and ``lib = torch`` on
the same float64 values (tests/helpers.py): values, dtypes and input gradients agree, and every differentiable case
passes ``mg.gradcheck``. Modules: torch's weights loaded, forward and gradients agree, reprs and state-dict keys
match.
"""

from __future__ import annotations

import contextlib
import inspect
from typing import Any, Callable

import numpy as np
import pytest
from helpers import assert_close, case_tests, gpu_case_tests

import minigrad as mg
import nn

RNG = np.random.default_rng(23)


def _normal(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)


X23, X234 = _normal(2, 3), _normal(2, 3, 4)


# --- signal windows -------------------------------------------------------------------------------------------

WINDOWS = ("hann_window", "hamming_window", "blackman_window", "bartlett_window", "kaiser_window")


@pytest.mark.parametrize("name", WINDOWS)
@pytest.mark.parametrize("periodic", [True, False])
def test_windows_same_as_torch(name: str, periodic: bool, torch: Any) -> None:
    """Every length from 0 (empty) and 1 ([1.]) up, both kinds, in the default dtype, float64 and float16."""
    for length in (0, 1, 2, 3, 4, 7, 10):
        for ours_dtype, their_dtype, tol in ((None, None, 1e-6), (mg.float64, torch.float64, 1e-12),
                                             (mg.float16, torch.float16, 2e-3)):
            ours = getattr(mg, name)(length, periodic, dtype=ours_dtype)
            theirs = getattr(torch, name)(length, periodic, dtype=their_dtype)
            assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
            assert_close(ours, theirs.float() if ours_dtype == mg.float16 else theirs, rtol=tol, atol=tol,
                         what=f"{name}({length}, {periodic}, {ours_dtype})")


def test_window_options_same_as_torch(torch: Any) -> None:
    cases = [("hamming_window", (9, False, 0.5, 0.5)), ("hamming_window", (8, True, 0.6, 0.3)),
             ("kaiser_window", (9, False, 3.0)), ("kaiser_window", (8, True, 0.5)), ("kaiser_window", (6, True))]
    for name, args in cases:
        assert_close(getattr(mg, name)(*args, dtype=mg.float64), getattr(torch, name)(*args, dtype=torch.float64),
                     what=f"{name}{args}")
    w = mg.hann_window(5, requires_grad=True)
    assert w.requires_grad and w.is_leaf and w.dtype == mg.float32
    assert mg.blackman_window(4, device="cpu").device == mg.device("cpu")


@pytest.mark.parametrize("name", WINDOWS)
def test_window_errors_name_the_function(name: str) -> None:
    fn = getattr(mg, name)
    with pytest.raises(ValueError, match=f"{name} requires non-negative window_length"):
        fn(-1)
    with pytest.raises(TypeError, match=f"{name}.*floating point"):
        fn(4, dtype=mg.int64)
    for bad in (4.0, True, None):
        with pytest.raises(TypeError, match="window_length"):
            fn(bad)
    with pytest.raises(TypeError, match="periodic"):
        fn(4, "yes")


# --- in-place shape changes -----------------------------------------------------------------------------------

def _views_case(t: Any, x: Any) -> Any:
    """An in-place op on a view made before the shape change still writes through its base (torch's view tracking)."""
    y = x * 1
    row = y[0]
    y.unsqueeze_(0)
    row.mul_(2)
    return y * t.arange(6.0).reshape(1, 2, 3).to(y)


def _base_then_view_case(t: Any, x: Any) -> Any:
    """The base changed in place after a view's shape changed: the view follows, values and graph."""
    base = x * 1
    column = base[:, 1:]
    column.t_()
    base.mul_(3)
    return column * 1


def _view_through_base_case(t: Any, x: Any) -> Any:
    base = x * 1
    y = base.view(3, 2)
    y.swapdims_(0, 1)
    y.unsqueeze_(2)
    y.mul_(2)
    return base.exp()


INPLACE_SHAPE_CASES: dict[str, tuple[Callable, tuple]] = {
    "unsqueeze_": (lambda t, x: (x * 2).unsqueeze_(1), (X23,)),
    "unsqueeze_negative": (lambda t, x: (x * 2).unsqueeze_(-1), (X23,)),
    "squeeze_all": (lambda t, x: (x * 2).unsqueeze_(0).unsqueeze_(-1).squeeze_(), (X23,)),
    "squeeze_dim": (lambda t, x: (x * 2).unsqueeze_(1).squeeze_(1), (X23,)),
    "squeeze_dim_not_1": (lambda t, x: (x * 2).squeeze_(0), (X23,)),
    "squeeze_dims": (lambda t, x: (x * 2).unsqueeze_(0).unsqueeze_(2).squeeze_((0, 2)), (X23,)),
    "t_": (lambda t, x: (x * 2).t_().exp(), (X23,)),
    "t_1d": (lambda t, x: (x[0] * 2).t_(), (X23,)),
    "transpose_": (lambda t, x: (x * 2).transpose_(0, 2).sin(), (X234,)),
    "swapaxes_": (lambda t, x: (x * 2).swapaxes_(-1, 0), (X234,)),
    "swapdims_": (lambda t, x: (x * 2).swapdims_(1, 2) * t.arange(12.0).reshape(1, 4, 3).to(x), (X234,)),
    "chain_then_inplace_math": (lambda t, x: (x + 1).t_().unsqueeze_(0).mul_(x.t()), (X23,)),
    "view_made_before": (_views_case, (X23,)),
    "base_changed_after": (_base_then_view_case, (X23,)),
    "view_through_base": (_view_through_base_case, (X23,)),
}
test_inplace_shape_same_as_torch, test_inplace_shape_gradcheck = case_tests(INPLACE_SHAPE_CASES)
test_inplace_shape_on_gpu_same_as_on_cpu = gpu_case_tests(INPLACE_SHAPE_CASES)


def test_inplace_shape_keeps_the_object_and_the_memory() -> None:
    x = mg.tensor(np.arange(6.0).reshape(2, 3))
    array = x.data
    assert x.unsqueeze_(0) is x and x.shape == (1, 2, 3)
    assert np.shares_memory(array, x.data) and array.shape == (2, 3)
    x.squeeze_().t_()
    x.data[0, 1] = 100.0
    assert array[1, 0] == 100.0 and x.shape == (3, 2)
    detached = mg.tensor(np.ones((2, 3)))
    alias = detached.detach()
    detached.transpose_(0, 1)
    assert alias.shape == (2, 3) and detached.shape == (3, 2)


def test_inplace_shape_recording_rules_as_torch(torch: Any) -> None:
    """A leaf that requires grad (or a view of one) is refused while recording; under no_grad it only changes
    shape; the version counter moves, so a backward that saved the array raises, as torch's."""
    ops = {"unsqueeze_": (0,), "squeeze_": (), "t_": (), "transpose_": (0, 0), "swapaxes_": (0, 0),
           "swapdims_": (0, 0)}
    for name, args in ops.items():
        for lib in (mg, torch):
            leaf = lib.zeros(3, requires_grad=True)
            with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
                getattr(leaf, name)(*args)
            with pytest.raises(RuntimeError, match="view of a leaf"):
                getattr(leaf.view(3, 1), name)(*args)
        with pytest.raises(RuntimeError, match=name):
            getattr(mg.zeros(3, requires_grad=True), name)(*args)
    for lib in (mg, torch):
        param = lib.zeros(2, 3, requires_grad=True)
        with lib.no_grad():
            param.t_().unsqueeze_(0)
        assert tuple(param.shape) == (1, 3, 2) and param.is_leaf and param.requires_grad
        x = lib.ones(2, 3, requires_grad=True)
        y = x.exp()
        z = y.sin()          # saves y
        y.t_()
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            z.sum().backward()
        with lib.no_grad():
            view = x[0]
        with pytest.raises(RuntimeError, match="no_grad"):
            view.unsqueeze_(0)


def test_inplace_shape_errors_name_the_op() -> None:
    with pytest.raises(ValueError, match="t_: expects a tensor with <= 2 dimensions"):
        mg.zeros(2, 3, 4).t_()
    with pytest.raises(IndexError, match="unsqueeze_"):
        mg.zeros(2, 3).unsqueeze_(5)
    with pytest.raises(IndexError, match="transpose_"):
        mg.zeros(2, 3).transpose_(0, 2)
    with pytest.raises(TypeError, match="squeeze_"):
        mg.zeros(2, 3).squeeze_(1.5)


def test_resize_same_as_torch(torch: Any) -> None:
    for lib in (mg, torch):
        x = lib.arange(6.0)
        array = x.data if lib is mg else None
        x.resize_(2, 2)
        assert x.tolist() == [[0.0, 1.0], [2.0, 3.0]]
        if lib is mg:
            assert np.shares_memory(array, x.data)   # shrinking keeps the memory
        x.resize_((3,))
        assert x.tolist() == [0.0, 1.0, 2.0]
        x.resize_as_(lib.zeros(2, 1))
        assert tuple(x.shape) == (2, 1) and x.dtype == (mg.float32 if lib is mg else torch.float32)
        grown = lib.arange(4)
        grown.resize_(2, 3)
        assert grown.flatten()[:4].tolist() == [0, 1, 2, 3]   # torch leaves the rest uninitialised; minigrad zeros
        with pytest.raises(RuntimeError, match="cannot resize variables that require grad"):
            lib.zeros(3, requires_grad=True).resize_(2)
    assert mg.arange(4).resize_(2, 3).tolist() == [[0, 1, 2], [3, 0, 0]]


def test_resize_refusals_name_the_case() -> None:
    with pytest.raises(NotImplementedError, match="resize_: .*not C-contiguous"):
        mg.zeros(2, 3).t().resize_(6)
    with pytest.raises(ValueError, match="resize_: sizes must be non-negative"):
        mg.zeros(2).resize_(-1)
    base = mg.zeros(2, 3)
    row = base[0]   # tracked for autograd while grad mode is on
    with pytest.raises(NotImplementedError, match="resize_: shrinking a tensor .* tracked"):
        base.resize_(4)
    del row
    base.resize_(4)
    assert base.shape == (4,)


# --- nn.Buffer --------------------------------------------------------------------------------------------------

def _buffered(lib: Any) -> Any:
    class Model(lib.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.kept = lib.nn.Buffer(lib.ones(2))
            self.scratch = lib.nn.Buffer(lib.zeros(1), persistent=False)
            self.weight = lib.nn.Parameter(lib.ones(1))
    return Model()


def test_buffer_registers_as_torch(torch: Any) -> None:
    ours, theirs = _buffered(mg), _buffered(torch)
    for model in (ours, theirs):
        assert list(model.state_dict()) == ["weight", "kept"]
        assert [name for name, _ in model.named_buffers()] == ["kept", "scratch"]
    lib_buffer = {id(ours): nn.Buffer, id(theirs): torch.nn.Buffer}
    for model, tensor_type in ((ours, mg.Tensor), (theirs, torch.Tensor)):
        buffer = lib_buffer[id(model)]
        assert type(model.kept) is tensor_type and isinstance(model.kept, buffer)
        assert not isinstance(model.weight, buffer) and not isinstance(tensor_type([1.0]), buffer)
        model.kept = model.kept * 0       # a plain tensor into a buffer's name: still a (persistent) buffer
        assert list(model.state_dict()) == ["weight", "kept"]
        model.kept = buffer(model.kept, persistent=False)   # a Buffer: its persistence
        assert list(model.state_dict()) == ["weight"]
        model.register_buffer("late", None)
        model.late = buffer(model.weight * 2)
        assert list(model.state_dict()) == ["weight", "late"] and model.late.is_leaf and model.late.requires_grad
    ours.to(mg.float64)
    assert ours.kept.dtype == mg.float64 and isinstance(ours.kept, nn.Buffer)


def test_buffer_refusals_as_torch(torch: Any) -> None:
    for lib in (mg, torch):
        model = _buffered(lib)
        with pytest.raises(TypeError, match="parameter 'weight'"):
            model.weight = lib.nn.Buffer(lib.ones(1))
        model.child = lib.nn.Linear(1, 1)
        with pytest.raises(TypeError, match="child module 'child'"):
            model.child = lib.nn.Buffer(lib.ones(1))
        model.plain = 5
        with pytest.raises(KeyError, match="already exists"):
            model.plain = lib.nn.Buffer(lib.ones(1))
        empty = lib.nn.Buffer()
        assert tuple(empty.shape) == (0,) and str(empty.dtype).endswith("float32")
    with pytest.raises(TypeError, match="nn.Buffer: data must be a Tensor"):
        nn.Buffer([1.0])
    data = mg.ones(3)
    assert nn.Buffer(data).data is data.data   # detached, sharing the array


# --- nn.DataParallel --------------------------------------------------------------------------------------------

def _copy_weights(ours: Any, theirs: Any) -> None:
    ours.load_state_dict({key: value.detach().numpy() for key, value in theirs.state_dict().items()})


@pytest.mark.skipif(mg.cuda.is_available(), reason="the no-GPU pass-through (a GPU machine runs the GPU test)")
def test_data_parallel_without_gpu_is_torch_pass_through(torch: Any) -> None:
    theirs = torch.nn.DataParallel(torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh())).double()
    ours = nn.DataParallel(nn.Sequential(nn.Linear(3, 4), nn.Tanh())).double()
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.device_ids == theirs.device_ids == [] and isinstance(ours.module, nn.Sequential)
    _copy_weights(ours, theirs)   # keys 'module.0.weight' …: a DataParallel checkpoint loads as-is
    x = _normal(5, 3)
    out_ours, out_theirs = ours(mg.tensor(x)), theirs(torch.tensor(x))
    assert_close(out_ours, out_theirs)
    out_ours.sum().backward()
    out_theirs.sum().backward()
    assert_close(ours.module[0].weight.grad, theirs.module[0].weight.grad)
    with pytest.raises(Exception, match="Missing key|missing key"):
        ours.load_state_dict(ours.module.state_dict())   # unprefixed keys do not fit, as torch's
    with pytest.raises(RuntimeError, match="device type could not be determined"):
        nn.parallel.data_parallel(ours.module, mg.ones(1, 3))


def test_data_parallel_unwrapping_idioms() -> None:
    model = nn.DataParallel(nn.Linear(2, 2))
    inner = model.module if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)) else model
    assert isinstance(inner, nn.Linear) and list(model.parameters()) == list(inner.parameters())
    with pytest.raises(NotImplementedError, match="DistributedDataParallel"):
        nn.parallel.DistributedDataParallel(nn.Linear(1, 1))
    import nn.parallel as parallel  # noqa: PLC0415 - torch.nn.parallel's import spelling
    assert parallel.DataParallel is nn.DataParallel


@pytest.mark.gpu
def test_data_parallel_on_gpu_runs_on_the_first_device() -> None:
    lin = nn.Linear(2, 3)
    model = nn.DataParallel(lin, device_ids=[0])   # one device: the module moves there, as torch's
    assert model.device_ids == [0] and model.output_device == 0 and lin.weight.device == mg.device("cuda:0")
    out = model(mg.ones(4, 2))   # host inputs are moved to the device
    assert out.device == mg.device("cuda:0") and out.shape == (4, 3)
    out.sum().backward()
    assert lin.weight.grad.device == mg.device("cuda:0")
    several_gpus = mg.cuda.device_count() > 1
    with pytest.warns(UserWarning, match="not split over devices") if several_gpus else contextlib.nullcontext():
        several = nn.DataParallel(lin, output_device=-1)(mg.ones(1, 2))
    assert several.device == mg.device("cpu" if several_gpus else "cuda:0")
    stray = nn.DataParallel(nn.Linear(2, 3), device_ids=[0, 0])   # several ids: the module is not moved
    with pytest.raises(RuntimeError, match="module must have its parameters and buffers on device cuda:0"):
        stray(mg.ones(1, 2))
    assert nn.parallel.data_parallel(lin, (mg.ones(2, 2),), device_ids=[0]).device == mg.device("cuda:0")



# --- lazy modules -----------------------------------------------------------------------------------------------

LAZY_CASES = {
    "conv1d": ("LazyConv1d", (4, 3), (2, 3, 7)),
    "conv1d_unbatched": ("LazyConv1d", (4, 3), (3, 7)),
    "conv2d_groups": ("LazyConv2d", (4, 3, 2, 1, 1, 2, False), (2, 4, 6, 6)),
    "conv2d_reflect": ("LazyConv2d", (2, 3, 1, 1, 1, 1, True, "reflect"), (1, 3, 5, 5)),
    "conv3d": ("LazyConv3d", (2, 2), (1, 3, 4, 4, 4)),
    "conv_transpose1d_groups": ("LazyConvTranspose1d", (4, 3, 1, 0, 0, 2), (2, 6, 5)),
    "conv_transpose2d": ("LazyConvTranspose2d", (4, 3, 2), (2, 6, 3, 3)),
    "conv_transpose3d": ("LazyConvTranspose3d", (2, 2), (1, 3, 2, 2, 2)),
    "batch_norm1d": ("LazyBatchNorm1d", (), (4, 3, 5)),
    "batch_norm2d": ("LazyBatchNorm2d", (1e-3, 0.3), (2, 3, 4, 4)),
    "batch_norm3d_no_bias": ("LazyBatchNorm3d", (1e-5, 0.1, True, True, None, None), (2, 3, 2, 2, 2)),
    "instance_norm1d": ("LazyInstanceNorm1d", (), (2, 3, 5)),
    "instance_norm2d": ("LazyInstanceNorm2d", (1e-5, 0.1, True, False), (2, 3, 4, 4)),
    "instance_norm3d": ("LazyInstanceNorm3d", (), (2, 3, 2, 3, 2)),
}


def _lazy_pair(torch: Any, name: str, args: tuple) -> tuple:
    kwargs = {"bias": False} if name == "LazyBatchNorm3d" else {}
    return getattr(nn, name)(*args, **kwargs).double(), getattr(torch.nn, name)(*args, **kwargs).double()


@pytest.mark.parametrize("case", sorted(LAZY_CASES))
def test_lazy_module_same_as_torch(case: str, torch: Any) -> None:
    """Uninitialised as torch's (repr, state-dict keys, has_uninitialized_params), the same parameter objects
    shaped by the first call, the plain class after it; with torch's weights, equal outputs and gradients."""
    name, args, shape = LAZY_CASES[case]
    ours, theirs = _lazy_pair(torch, name, args)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.has_uninitialized_params() and theirs.has_uninitialized_params()
    assert all(nn.parameter.is_lazy(p) and p.data.shape == (0,) for p in ours.parameters())   # shape: raises
    params = list(ours.parameters())
    x = _normal(*shape)
    out_ours, out_theirs = ours(mg.tensor(x)), theirs(torch.tensor(x))
    assert type(ours).__name__ == type(theirs).__name__ == name[4:]
    assert type(ours) is getattr(nn, name).cls_to_become and not hasattr(ours, "has_uninitialized_params")
    assert repr(ours) == repr(theirs) and out_ours.shape == tuple(out_theirs.shape)
    assert list(ours.parameters()) == params   # the same objects, now shaped
    assert [p.shape for p in ours.parameters()] == [tuple(p.shape) for p in theirs.parameters()]
    # a fresh lazy module inside a container takes torch's weights (and their shapes) from the state dict
    fresh = nn.Sequential(getattr(nn, name)(*args, **({"bias": False} if name == "LazyBatchNorm3d" else {})))
    fresh.double().load_state_dict({f"0.{k}": v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert not fresh[0].has_uninitialized_params() and type(fresh[0]).__name__ == name
    x = _normal(*shape)
    ours_in, theirs_in = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out_ours, out_theirs = fresh(ours_in), theirs(theirs_in)
    assert type(fresh[0]).__name__ == name[4:] and repr(fresh[0]) == repr(theirs)
    assert_close(out_ours, out_theirs, rtol=1e-9, atol=1e-10)
    weights = _normal(*out_ours.shape)
    (out_ours * mg.tensor(weights)).sum().backward()
    (out_theirs * torch.tensor(weights)).sum().backward()
    assert_close(ours_in.grad, theirs_in.grad, rtol=1e-9, atol=1e-10)
    for (key, mine), theirs_param in zip(fresh[0].named_parameters(), theirs.parameters()):
        assert_close(mine.grad, theirs_param.grad, rtol=1e-9, atol=1e-10, what=key)


def test_lazy_modules_train_with_an_optimizer_built_before_the_first_call() -> None:
    model = nn.Sequential(nn.LazyConv1d(4, 3), nn.ReLU(), nn.LazyConvTranspose1d(2, 1), nn.LazyBatchNorm1d(),
                          nn.LazyInstanceNorm1d())
    optimizer = nn.optim.SGD(model.parameters(), lr=0.1)
    out = model(mg.randn(2, 5, 7))
    assert out.shape == (2, 2, 5)
    assert [type(m).__name__ for m in model] == ["Conv1d", "ReLU", "ConvTranspose1d", "BatchNorm1d",
                                                 "InstanceNorm1d"]
    out.pow(2).sum().backward()
    before = model[0].weight.detach().clone()
    optimizer.step()
    assert [p.shape for p in optimizer.param_groups[0]["params"]] == [p.shape for p in model.parameters()]
    assert not mg.allclose(before, model[0].weight)


def test_lazy_modules_minigrad_choices_and_errors() -> None:
    norm = nn.LazyInstanceNorm2d()
    norm(mg.randn(3, 4, 5))   # unbatched (C, H, W): the channels are dim 0 (torch reads dim 1 and fails)
    assert norm.num_features == 3 and norm.weight.shape == (3,)
    plain = nn.LazyBatchNorm1d(affine=False, track_running_stats=False)
    assert not plain.has_uninitialized_params()
    plain(mg.randn(4, 3))
    assert type(plain) is nn.BatchNorm1d and plain.num_features == 3
    loaded = nn.LazyConv2d(4, 3)
    loaded.load_state_dict(nn.Conv2d(2, 4, 3).state_dict())
    assert loaded.in_channels == 2 and type(loaded) is nn.LazyConv2d   # torch keeps 0 until the first call
    partial = nn.LazyConv1d(4, 3)
    partial.load_state_dict({"weight": mg.zeros(4, 2, 3)}, strict=False)
    with pytest.raises(RuntimeError, match=r"LazyConv1d: the state dict gave \['weight'\] but not \['bias'\]"):
        partial(mg.randn(1, 2, 5))
    with pytest.raises(ValueError, match=r"LazyConv1d: in_channels \(3\) must be divisible by groups \(2\)"):
        nn.LazyConv1d(4, 3, groups=2)(mg.randn(2, 3, 5))
    with pytest.raises(ValueError, match="LazyConv1d: expected a 2-D .* or 3-D"):
        nn.LazyConv1d(4, 3)(mg.randn(5))
    with pytest.raises(ValueError, match="LazyBatchNorm2d: expected a 4-D input"):
        nn.LazyBatchNorm2d()(mg.randn(5, 3))
    lazy64 = nn.LazyConv2d(3, 2).double()
    lazy64(mg.randn(1, 2, 4, 4, dtype=mg.float64))
    assert lazy64.weight.dtype == mg.float64 and lazy64.weight.shape == (3, 2, 2, 2)


@pytest.mark.gpu
def test_lazy_module_on_gpu() -> None:
    model = nn.Sequential(nn.LazyConv2d(3, 2), nn.LazyBatchNorm2d()).to("cuda")
    out = model(mg.randn(2, 4, 5, 5, device="cuda"))
    assert out.device == mg.device("cuda:0") and model[0].weight.device == mg.device("cuda:0")
    assert model[1].running_mean.shape == (3,) and model[1].running_mean.device == mg.device("cuda:0")


# --- torch's top-level spellings of functional ops (mg.conv2d …) -----------------------------------------------

X3, X4, X5 = _normal(2, 3, 7), _normal(2, 3, 5, 5), _normal(1, 2, 3, 4, 3)
C4 = _normal(2, 4, 5)
A34, B34, N34 = _normal(3, 4), _normal(3, 4), _normal(3, 4)
W3, W4, W7 = _normal(3), _normal(4), _normal(7)
RUNNING_MEAN, RUNNING_VAR = _normal(3), RNG.uniform(0.5, 2.0, 3)
PROBS, SIGNS, COUNTS = RNG.uniform(0.1, 0.9, (3, 4)), np.array([1.0, -1.0, 1.0]), RNG.uniform(0.0, 3.0, (3, 4))
INDICES = np.array([[0, 2, 4], [3, 3, 1]])
GRID = RNG.uniform(-1.1, 1.1, (2, 3, 4, 2))
POS_WEIGHT = RNG.uniform(0.5, 2, 4)


def _const(t: Any, like: Any, array: np.ndarray) -> Any:
    """A constant (no gradient) on ``like``'s device."""
    return t.tensor(array).to(like.device)


TOPLEVEL_CASES: dict[str, tuple[Callable, tuple]] = {
    # convolutions (F's functions; conv_tbc is time-batch-channel)
    "conv1d": (lambda t, x, w, b: t.conv1d(x, w, b, 1, 1), (X3, _normal(4, 3, 3), W4)),
    "conv2d": (lambda t, x, w: t.conv2d(x, w, None, 2, 1, 1, 1), (X4, _normal(4, 3, 3, 3))),
    "conv3d": (lambda t, x, w: t.conv3d(x, w, padding="same"), (X5, _normal(2, 2, 3, 3, 3))),
    "conv_transpose1d": (lambda t, x, w, b: t.conv_transpose1d(x, w, b, 2, 1, 1), (X3, _normal(3, 2, 3), _normal(2))),
    "conv_transpose2d": (lambda t, x, w: t.conv_transpose2d(x, w, None, 1, 0, 0, 3), (X4, _normal(3, 1, 2, 2))),
    "conv_transpose3d": (lambda t, x, w: t.conv_transpose3d(x, w), (X5, _normal(2, 2, 2, 1, 2))),
    "conv_tbc": (lambda t, x, w, b: t.conv_tbc(x, w, b, 1), (_normal(7, 2, 3), _normal(3, 3, 4), W4)),
    # normalisation, with torch's argument orders
    "batch_norm_eval": (lambda t, x, w, b: t.batch_norm(x, w, b, _const(t, x, RUNNING_MEAN), _const(t, x, RUNNING_VAR),
                                                       False, 0.1, 1e-5, True), (X3, W3, _normal(3))),
    "batch_norm_batch_stats": (lambda t, x: t.batch_norm(x, None, None, None, None, True, 0.1, 1e-3, False), (X4,)),
    "instance_norm": (lambda t, x, w, b: t.instance_norm(x, w, b, None, None, True, 0.1, 1e-5, True),
                      (X3, W3, _normal(3))),
    "layer_norm": (lambda t, x, w, b: t.layer_norm(x, [7], w, b, 1e-5, True), (X3, W7, _normal(7))),
    "layer_norm_defaults": (lambda t, x: t.layer_norm(x, (5, 5)), (X4,)),
    "group_norm": (lambda t, x, w, b: t.group_norm(x, 2, w, b, 1e-5, True), (C4, W4, _normal(4))),
    "rms_norm": (lambda t, x, w: t.rms_norm(x, [7], w, 1e-6), (X3, W7)),
    # dropout that changes nothing (not training, or p = 0): the values are deterministic
    "dropout_eval": (lambda t, x: t.dropout(x, 0.5, False), (X3,)),
    "dropout_p0": (lambda t, x: t.dropout(x, 0.0, True), (X3,)),
    "dropout_p1": (lambda t, x: t.dropout(x, 1.0, True), (X3,)),
    "dropout_inplace": (lambda t, x: t.dropout_(x * 1, 0.0, True), (X3,)),
    "alpha_dropout_eval": (lambda t, x: t.alpha_dropout(x, 0.3, False), (X3,)),
    "feature_dropout_eval": (lambda t, x: t.feature_dropout(x, 0.3, False), (X3,)),
    "feature_alpha_dropout_eval": (lambda t, x: t.feature_alpha_dropout_(x * 2, 0.3, False), (X3,)),
    # pooling and padding: ATen's stride=[] is the kernel size; adaptive_max_pool1d gives indices too
    "max_pool1d": (lambda t, x: t.max_pool1d(x, 2), (X3,)),
    "max_pool1d_options": (lambda t, x: t.max_pool1d(x, 3, 2, 1, 1, True), (X3,)),
    "max_pool1d_with_indices": (lambda t, x: t.max_pool1d_with_indices(x, 3, [], 1), (X3,)),
    "max_pool2d": (lambda t, x: t.max_pool2d(x, 2, [], 0, 1, True), (X4,)),
    "max_pool3d": (lambda t, x: t.max_pool3d(x, (2, 2, 1), 1), (X5,)),
    "avg_pool1d": (lambda t, x: t.avg_pool1d(x, 3), (X3,)),
    "avg_pool1d_options": (lambda t, x: t.avg_pool1d(x, 3, 2, 1, True, False), (X3,)),
    "adaptive_avg_pool1d": (lambda t, x: t.adaptive_avg_pool1d(x, 3), (X3,)),
    "adaptive_max_pool1d": (lambda t, x: t.adaptive_max_pool1d(x, 3), (X3,)),
    "constant_pad_nd": (lambda t, x: t.constant_pad_nd(x, [1, -2, 0, 1], 0.5), (X3,)),
    "grid_sampler": (lambda t, x, g: t.grid_sampler(x, g, 0, 0, False), (X4, GRID)),
    "grid_sampler_bicubic_border": (lambda t, x, g: t.grid_sampler(x, g, 2, 1, True), (X4, GRID)),
    "grid_sampler_nearest_reflection": (lambda t, x, g: t.grid_sampler(x, g, 1, 2, False), (X4, GRID)),
    "affine_grid_generator": (lambda t, theta: t.affine_grid_generator(theta, [2, 3, 4, 5], False),
                              (_normal(2, 2, 3),)),
    # embeddings: the table first; a negative padding_idx is none
    "embedding": (lambda t, w, i: t.embedding(w, i), (_normal(5, 3), INDICES)),
    "embedding_padding": (lambda t, w, i: t.embedding(w, i, 3, True), (_normal(5, 3), INDICES)),
    "embedding_negative_padding": (lambda t, w, i: t.embedding(w, i, -2), (_normal(5, 3), INDICES)),
    # distances, bilinear, activations
    "bilinear": (lambda t, a, b, w, c: t.bilinear(a, b, w, c), (A34, _normal(3, 5), _normal(2, 4, 5), _normal(2))),
    "cosine_similarity": (lambda t, a, b: t.cosine_similarity(a, b, 0, 1e-8), (A34, B34)),
    "pairwise_distance": (lambda t, a, b: t.pairwise_distance(a, b, 3.0, 1e-6, True), (A34, B34)),
    "pdist": (lambda t, a: t.pdist(a, 1.5), (A34,)),
    "hardshrink": (lambda t, x: t.hardshrink(x, 0.3), (X3,)),
    # alpha exact in float32: torch's celu backward rounds alpha to float32 (1e-8 off in float64 for 0.7)
    "celu": (lambda t, x: t.celu(x, 0.5), (X3,)),
    "celu_": (lambda t, x: t.celu_(x * 1, 0.5), (X3,)),
    "selu": (lambda t, x: t.selu(x), (X3,)),
    "selu_": (lambda t, x: t.selu_(x * 1), (X3,)),
    "relu_": (lambda t, x: t.relu_(x * 1), (X3,)),
    "threshold": (lambda t, x: t.threshold(x, 0.1, -2.0), (X3,)),
    "threshold_": (lambda t, x: t.threshold_(x * 1, 0.1, -2.0), (X3,)),
    "prelu": (lambda t, x, w: t.prelu(x, w), (X3, W3)),
    "rrelu_eval": (lambda t, x: t.rrelu(x, 0.1, 0.3, False), (X3,)),
    "rrelu_inplace_eval": (lambda t, x: t.rrelu_(x * 1, 0.1, 0.3), (X3,)),
    # losses, reduction as torch's enum (0 none, 1 mean, 2 sum)
    "bce_with_logits": (lambda t, x: t.binary_cross_entropy_with_logits(x, _const(t, x, PROBS), _const(t, x, W4),
                                                                       _const(t, x, POS_WEIGHT)), (A34,)),
    "bce_with_logits_none": (lambda t, x: t.binary_cross_entropy_with_logits(x, _const(t, x, PROBS), None, None, 0),
                             (A34,)),
    "kl_div_default_none": (lambda t, x: t.kl_div(x, _const(t, x, PROBS)), (A34,)),   # torch's binding: 0
    "kl_div_mean": (lambda t, x: t.kl_div(x, _const(t, x, PROBS), 1), (A34,)),
    "hinge_embedding_loss_default_none": (lambda t, x: t.hinge_embedding_loss(x, _const(t, x, np.sign(B34))),
                                          (A34,)),
    "kl_div_sum_log_target": (lambda t, x: t.kl_div(x, _const(t, x, np.log(PROBS)), 2, log_target=True), (A34,)),
    "kl_div_none": (lambda t, x: t.kl_div(x, _const(t, x, PROBS), 0), (A34,)),
    "cosine_embedding_loss": (lambda t, a, b: t.cosine_embedding_loss(a, b, _const(t, a, SIGNS), 0.1, 2), (A34, B34)),
    "hinge_embedding_loss": (lambda t, x: t.hinge_embedding_loss(x, _const(t, x, np.sign(B34)), 0.5, 1), (A34,)),
    "margin_ranking_loss": (lambda t, a, b: t.margin_ranking_loss(a, b, _const(t, a, np.sign(N34)), 0.2, 0),
                            (A34, B34)),
    "poisson_nll_loss": (lambda t, x: t.poisson_nll_loss(x, _const(t, x, COUNTS), True, True, 1e-8, 1), (A34,)),
    "poisson_nll_loss_rates": (lambda t, x: t.poisson_nll_loss(x.exp(), _const(t, x, COUNTS), False, False, 1e-8, 2),
                               (A34,)),
    "triplet_margin_loss": (lambda t, a, p, n: t.triplet_margin_loss(a, p, n, 1.0, 2.0, 1e-6, True, 1),
                            (A34, B34, N34)),
}
# a padding row gets no gradient though it is read: finite differences disagree there by design
test_toplevel_same_as_torch, test_toplevel_gradcheck = case_tests(TOPLEVEL_CASES, no_gradcheck={"embedding_padding"})
test_toplevel_on_gpu_same_as_on_cpu = gpu_case_tests(TOPLEVEL_CASES, rtol=1e-9, atol=1e-11)


def test_toplevel_names_are_torch_top_level_ones_with_torch_argument_names(torch: Any) -> None:
    """Each name exists at torch's top level; the positional parameters have ATen's names, in order, and the
    same ones are required; minigrad's list of names (read by mg.__getattr__) is nn's."""
    from minigrad import _nn_functions  # noqa: PLC0415 - the list minigrad keeps
    from nn import _toplevel  # noqa: PLC0415

    assert set(_toplevel.__all__) == _nn_functions.NAMES
    for name in _toplevel.__all__:
        assert hasattr(torch, name), name
        schema = torch._C._jit_get_schemas_for_operator(f"aten::{name}")[0]
        theirs = [("input" if a.name == "self" else a.name, a.has_default_value()) for a in schema.arguments
                  if not a.kwarg_only]
        parameters = inspect.signature(getattr(mg, name)).parameters.values()
        ours = [(p.name, p.default is not inspect.Parameter.empty) for p in parameters
                if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
        assert ours == theirs, name
        keywords = {p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}
        assert {a.name for a in schema.arguments if a.kwarg_only and a.name != "out"} <= keywords, name


def test_toplevel_functions_load_nn_on_first_use() -> None:
    """``import minigrad`` alone does not import nn; the first mg.conv2d does (and then they are module
    attributes); names mg already had keep their meaning."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    code = ("import sys, minigrad as mg; assert 'nn' not in sys.modules; f = mg.layer_norm; "
            "assert 'nn' in sys.modules and 'layer_norm' in vars(mg) and f is mg.layer_norm; "
            "import nn; assert mg.conv2d is nn.functional.conv2d and mg.relu is not nn.functional.relu_; "
            "assert not hasattr(mg, 'no_such_function')")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(__import__("pathlib").Path(__file__).parents[2]))


def test_toplevel_dropout_draws_as_f(torch: Any) -> None:
    """Training dropouts: the same statistics as torch's (each entry, or each (sample, channel), dropped with
    probability p, the rest scaled); the in-place ones keep the object; all of ATen's arguments are required."""
    mg.manual_seed(0)
    x = mg.ones(200, 50, 2)
    out = mg.dropout(x, 0.3, True)
    assert abs(float((out == 0).float().mean()) - 0.3) < 0.02 and np.allclose(np.unique(out.numpy()), [0.0, 1 / 0.7])
    out = mg.feature_dropout(x, 0.3, True)
    channel_kept = out.numpy()[:, :, 0] != 0
    assert (channel_kept == (out.numpy()[:, :, 1] != 0)).all() and abs(1 - channel_kept.mean() - 0.3) < 0.02
    y = x * 1
    assert mg.dropout_(y, 0.5, True) is y and float((y == 0).float().mean()) > 0.4
    assert mg.alpha_dropout(x, 0.2, True).shape == x.shape and mg.feature_alpha_dropout_(x * 1, 0.2, True) is not x
    for lib in (mg, torch):
        with pytest.raises(TypeError):
            lib.dropout(lib.ones(3), 0.5)   # train is required, as ATen's
        with pytest.raises(RuntimeError, match="leaf Variable"):
            lib.dropout_(lib.ones(3, requires_grad=True), 0.5, True)
        with pytest.raises((ValueError, RuntimeError), match="(?i)feature dropout requires at least 2 dimensions"):
            lib.feature_dropout(lib.ones(3), 0.5, True)


def test_toplevel_batch_norm_moves_running_stats_as_torch(torch: Any) -> None:
    x = _normal(4, 3, 5)
    stats = {lib: (lib.tensor(RUNNING_MEAN), lib.tensor(RUNNING_VAR)) for lib in (mg, torch)}
    for lib in (mg, torch):
        lib.batch_norm(lib.tensor(x), None, None, *stats[lib], True, 0.2, 1e-5, False)
    for ours, theirs in zip(stats[mg], stats[torch]):
        assert_close(ours, theirs)


def test_toplevel_embedding_renorm_and_rrelu_generator_as_torch(torch: Any) -> None:
    table = _normal(5, 3) * 3
    for lib in (mg, torch):
        weight = lib.tensor(table)
        assert lib.embedding_renorm_(weight, lib.tensor(INDICES), 1.5, 2.0) is weight
        assert_close(weight, torch.embedding_renorm_(torch.tensor(table), torch.tensor(INDICES), 1.5, 2.0))
        with pytest.raises(RuntimeError, match="leaf Variable"):
            lib.embedding_renorm_(lib.tensor(table, requires_grad=True), lib.tensor(INDICES), 1.0, 2.0)
    generator = mg.Generator().manual_seed(3)
    first = mg.rrelu(mg.tensor(-np.ones(6)), 0.1, 0.3, True, generator)
    generator.manual_seed(3)
    assert_close(first, mg.rrelu(mg.tensor(-np.ones(6)), 0.1, 0.3, True, generator).numpy())
    assert ((-first.numpy() >= 0.1) & (-first.numpy() <= 0.3)).all()


def test_toplevel_errors_name_the_function() -> None:
    with pytest.raises(ValueError, match="kl_div: reduction must be 0 \\(none\\), 1 \\(mean\\) or 2 \\(sum\\)"):
        mg.kl_div(mg.zeros(3), mg.zeros(3), 3)
    with pytest.raises(ValueError, match="grid_sampler: interpolation_mode must be 0, 1 or 2"):
        mg.grid_sampler(mg.zeros(1, 1, 2, 2), mg.zeros(1, 1, 1, 2), 3, 0, False)
    with pytest.raises(ValueError, match="conv_tbc: expected input \\(T, B, C_in\\)"):
        mg.conv_tbc(mg.zeros(2, 3), mg.zeros(1, 3, 4), mg.zeros(4))
    with pytest.raises(ValueError, match="conv_tbc: .* do not fit"):
        mg.conv_tbc(mg.zeros(5, 2, 3), mg.zeros(1, 2, 4), mg.zeros(4))
