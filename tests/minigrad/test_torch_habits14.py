"""Small PyTorch names programs use: legacy-era functions (set_default_tensor_type, typename, get_device,
is_storage), storages (untyped_storage, storage), tensor habits (record_stream, as_subclass, output_nr, dim_order,
empty_permuted, as_strided_, resize/resize_as, skip_init) and torch's import paths, checked against torch."""

from __future__ import annotations

import importlib
import warnings

import numpy as np
import pytest

import minigrad as mg
import nn
from minigrad import legacy, storage

try:
    import torch
except ImportError:   # the torch comparisons skip; minigrad's own checks still run
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="compares with torch, which is not installed")


@pytest.fixture
def restore_defaults():
    dtype, device = mg.get_default_dtype(), mg.get_default_device()
    yield
    mg.set_default_dtype(dtype)
    mg.set_default_device(device)
    legacy._moved_to_cuda = False


# --- set_default_tensor_type, typename, get_device, is_storage -------------------------------------------------

def test_set_default_tensor_type_sets_the_float_dtype_and_warns_once(restore_defaults, monkeypatch) -> None:
    monkeypatch.setattr(legacy, "_warned", False)
    with pytest.warns(UserWarning, match=r"set_default_tensor_type\(\) is deprecated"):
        mg.set_default_tensor_type(mg.DoubleTensor)
    assert mg.get_default_dtype() == mg.float64 and mg.tensor([1.0]).dtype == mg.float64
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # once per process, as torch's
        for name, dtype in (("torch.FloatTensor", mg.float32), ("minigrad.DoubleTensor", mg.float64),
                            (mg.FloatTensor, mg.float32)):
            mg.set_default_tensor_type(name)
            assert mg.get_default_dtype() == dtype
        for bad in (mg.LongTensor, "torch.LongTensor", mg.float64, "float64"):
            with pytest.raises(TypeError, match="only floating-point types are supported as the default type"):
                mg.set_default_tensor_type(bad)
    assert mg.get_default_device().type == "cpu"


@pytest.mark.skipif(mg.cuda.is_available(), reason="checks the refusal without a GPU")
def test_set_default_tensor_type_cuda_without_a_gpu_raises_as_torch(restore_defaults) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(TypeError, match="not available"):
            mg.set_default_tensor_type("torch.cuda.FloatTensor")
        if torch is not None and not torch.cuda.is_available():
            with pytest.raises(TypeError, match="not available"):
                torch.set_default_tensor_type("torch.cuda.FloatTensor")


@needs_torch
def test_typename_get_device_is_storage_as_torch() -> None:
    x = mg.zeros(2)
    for dtype, torch_dtype in ((mg.float32, torch.float32), (mg.int64, torch.int64), (mg.bool_, torch.bool),
                               (mg.complex64, torch.complex64), (mg.float64, torch.float64)):
        # minigrad names its own legacy types: 'minigrad.FloatTensor' where torch says 'torch.FloatTensor'
        ours = mg.typename(x.to(dtype))
        assert ours.replace("minigrad.", "torch.") == torch.typename(torch.zeros(2, dtype=torch_dtype))
        assert legacy.legacy_type(ours) in (None, legacy.legacy_type(ours.replace("minigrad.", "torch.")))
    for obj in (3, "a", None, 2.5):
        assert mg.typename(obj) == torch.typename(obj)
    assert mg.typename(nn.Linear(1, 1)).endswith(".Linear")
    assert mg.get_device(x) == torch.get_device(torch.zeros(2)) == -1
    with pytest.raises(TypeError, match="must be Tensor, not int"):
        mg.get_device(3)
    assert mg.is_storage(x.untyped_storage()) and not mg.is_storage(x) and not mg.is_storage(np.zeros(2))


# --- storages --------------------------------------------------------------------------------------------------

@needs_torch
def test_untyped_storage_as_torch() -> None:
    x, tx = mg.arange(4, dtype=mg.int16).reshape(2, 2), torch.arange(4, dtype=torch.int16).reshape(2, 2)
    u, tu = x.untyped_storage(), tx.untyped_storage()
    assert isinstance(u, mg.UntypedStorage)
    assert (u.nbytes(), u.size(), len(u), u.element_size(), u[1], u[-2], u.tolist()) == \
        (tu.nbytes(), tu.size(), len(tu), tu.element_size(), tu[1], tu[-2], tu.tolist())
    assert u[1:3].tolist() == tu[1:3].tolist() and u.device == mg.device("cpu")
    assert u.data_ptr() == x.data_ptr()
    with pytest.raises(IndexError, match="out of range for storage of size 8"):
        u[8]
    f = mg.tensor([1.5, 2.5])
    assert f.untyped_storage().tolist() == torch.tensor([1.5, 2.5]).untyped_storage().tolist()
    assert mg.UntypedStorage(3).nbytes() == 3 and mg.UntypedStorage(3).tolist() == [0, 0, 0]


def test_views_share_a_storage_and_copies_do_not() -> None:
    x = mg.arange(12.0).reshape(3, 4)
    ptr = x.untyped_storage().data_ptr()
    for view in (x[1], x[:, 2], x.t(), x.view(12), x.reshape(2, 6), x.unsqueeze(0), x.detach(), x[1:, 1:]):
        assert view.untyped_storage().data_ptr() == ptr
        assert view.data_ptr() == ptr + view.storage_offset() * view.element_size()
        assert view.untyped_storage() == x.untyped_storage()
    assert x.clone().untyped_storage().data_ptr() != ptr
    assert (x * 1).untyped_storage().data_ptr() != ptr
    assert x[1, 1:].storage_offset() == 5


@needs_torch
def test_typed_storage_warns_once_and_reads_elements_as_torch(monkeypatch) -> None:
    monkeypatch.setattr(storage, "_warned", False)
    x = mg.tensor([[1.5, 2.0], [3.0, 4.0]])
    with pytest.warns(UserWarning, match="TypedStorage is deprecated"):
        s = x[1].storage()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert x.storage().size() == 4   # no second warning
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = torch.tensor([[1.5, 2.0], [3.0, 4.0]])[1].storage()
    assert (s.size(), len(s), s.element_size(), s.nbytes(), s[0], s.tolist()) == \
        (t.size(), len(t), t.element_size(), t.nbytes(), t[0], t.tolist())
    assert type(s[0]) is float and s.dtype == mg.float32 and s.data_ptr() == x.data_ptr()
    with pytest.raises(RuntimeError, match="slices are only supported in UntypedStorage"):
        s[0:1]
    assert mg.is_storage(s) and s.untyped() == x.untyped_storage()


# --- tensor habits ---------------------------------------------------------------------------------------------

def test_record_stream_refuses_a_cpu_tensor() -> None:
    with pytest.raises(RuntimeError, match="record_stream"):
        mg.zeros(2).record_stream(None)


def test_as_subclass_is_a_view_on_the_graph() -> None:
    class Marked(mg.Tensor):
        pass

    a = mg.ones(3, requires_grad=True)
    y = a.as_subclass(Marked)
    assert type(y) is Marked and y.requires_grad and not y.is_leaf and y.data_ptr() == a.data_ptr()
    (y * 2).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [2.0, 2.0, 2.0])
    plain = mg.zeros(2)
    z = plain.as_subclass(Marked)
    z.add_(1.0)   # shares memory
    np.testing.assert_array_equal(plain.numpy(), [1.0, 1.0])
    with pytest.raises(TypeError, match="does not inherit from Tensor"):
        a.as_subclass(int)


@needs_torch
def test_output_nr_as_torch() -> None:
    assert [t.output_nr for t in mg.ones(4, requires_grad=True).split(2)] == \
        [t.output_nr for t in torch.ones(4, requires_grad=True).split(2)] == [0, 1]
    assert [t.output_nr for t in mg.ones(3, requires_grad=True).unbind()] == [0, 1, 2]
    assert mg.ones(2).output_nr == (mg.ones(2, requires_grad=True) * 2).output_nr == 0


def test_dim_order_as_torch() -> None:
    # torch 2.13's values (its dim_order imports torch.fx on first use, a second and a half: not called here)
    for shape, order in (((2, 3), (0, 1)), ((2, 3, 4, 5), (0, 1, 2, 3)), ((2, 1, 4, 1), (0, 1, 2, 3)), ((3,), (0,)),
                         ((), ())):
        assert mg.empty(shape).dim_order() == order
    assert mg.empty(2, 3).t().dim_order() == (1, 0)
    assert mg.empty(2, 3, 4, 5).permute(0, 2, 3, 1).dim_order() == (0, 3, 1, 2)
    cl = mg.empty(2, 3, 4, 5).to(memory_format=mg.channels_last)
    assert cl.dim_order() == (0, 2, 3, 1)
    with pytest.raises(RuntimeError, match="does not have unique dim order"):
        mg.empty(2, 1, 4, 1).dim_order(ambiguity_check=True)
    assert mg.empty(2, 3, 4, 5).dim_order(ambiguity_check=True) == (0, 1, 2, 3)
    assert cl.dim_order(ambiguity_check=[mg.channels_last]) == (0, 2, 3, 1)


@needs_torch
def test_empty_permuted_as_torch() -> None:
    e, t = mg.empty_permuted((2, 3, 4, 5), (0, 2, 3, 1)), torch.empty_permuted((2, 3, 4, 5), (0, 2, 3, 1))
    assert (e.shape, e.stride(), e.is_contiguous()) == (tuple(t.shape), t.stride(), t.is_contiguous())
    assert e.is_contiguous(memory_format=mg.channels_last) and e.dtype == mg.float32
    d = mg.empty_permuted((2, 3), (1, 0), dtype=mg.float64, requires_grad=True)
    assert d.dtype == mg.float64 and d.requires_grad and d.is_leaf and d.stride() == (1, 2)
    for size, layout, message in (((2, 3), (0, 0), "Duplicate dim"), ((2, 3), (0,), "does not match the length")):
        with pytest.raises(RuntimeError, match=message):
            mg.empty_permuted(size, layout)
        with pytest.raises(RuntimeError, match=message):
            torch.empty_permuted(size, layout)


@needs_torch
def test_as_strided_in_place_as_torch() -> None:
    w, tw = mg.arange(12.0), torch.arange(12.0)
    assert w.as_strided_((3, 3), (3, 1), 1) is w
    tw.as_strided_((3, 3), (3, 1), 1)
    np.testing.assert_array_equal(w.numpy(), tw.numpy())
    assert (w.stride(), w.storage_offset()) == (tw.stride(), tw.storage_offset())
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        mg.ones(3, requires_grad=True).as_strided_((2,), (1,))


@needs_torch
def test_resize_and_resize_as_warn_and_reshape_as_torch() -> None:
    for ours, theirs, message in ((lambda x: x.resize(3, 2), lambda x: x.resize(3, 2), "non-inplace resize is"),
                                  (lambda x: x.resize_as(mg.zeros(2, 3)), lambda x: x.resize_as(torch.zeros(2, 3)),
                                   "non-inplace resize_as is")):
        with pytest.warns(UserWarning, match=message):
            got = ours(mg.arange(6.0))
        with pytest.warns(UserWarning, match=message):
            want = theirs(torch.arange(6.0))
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    p = mg.arange(6.0, requires_grad=True)
    with pytest.warns(UserWarning):
        (p.resize(2, 3) * mg.arange(6.0).reshape(2, 3)).sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), np.arange(6.0))
    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match="autograd's resize can only change the shape"):
        mg.arange(6.0).resize(7)


def test_skip_init_builds_without_drawing_from_the_global_stream() -> None:
    mg.manual_seed(0)
    expected = mg.rand(3)
    mg.manual_seed(0)
    layer = nn.utils.skip_init(nn.Linear, 4, 2, bias=False)
    assert isinstance(layer, nn.Linear) and layer.weight.shape == (2, 4) and layer.bias is None
    np.testing.assert_array_equal(mg.rand(3).numpy(), expected.numpy())

    class NoDevice(nn.Module):
        def __init__(self) -> None:
            super().__init__()

    with pytest.raises(RuntimeError, match="must support a 'device' arg"):
        nn.utils.skip_init(NoDevice)
    with pytest.raises(RuntimeError, match="Expected a Module"):
        nn.utils.skip_init(int)


# --- import paths ----------------------------------------------------------------------------------------------

IMPORTS = [
    ("torch.nn.utils.clip_grad", "clip_grad_norm_ clip_grad_value_ clip_grad_norm"),
    ("torch.nn.utils.convert_parameters", "parameters_to_vector vector_to_parameters"),
    ("torch.nn.utils.init", "skip_init"),
    ("torch.nn.utils", "skip_init"),
    ("torch.distributions.one_hot_categorical", "OneHotCategorical OneHotCategoricalStraightThrough"),
    ("torch.autograd.grad_mode", "no_grad enable_grad set_grad_enabled inference_mode"),
    ("torch.autograd.anomaly_mode", "detect_anomaly set_detect_anomaly"),
    ("torch.utils.hooks", "RemovableHandle"),
    ("torch.utils.data._utils.collate", "default_collate default_convert"),
    ("torch.utils.data._utils.worker", "get_worker_info"),
    ("torch.nn.common_types", "_size_2_t _size_any_t _ratio_2_t"),
    ("torch.optim.adamw", "AdamW"),
    ("torch.optim.optimizer", "Optimizer required"),
    ("torch.backends", "cudnn"),
    ("torch.backends.cudnn", "deterministic benchmark"),
    ("torch.storage", "UntypedStorage TypedStorage"),
]


@pytest.mark.parametrize(("path", "names"), IMPORTS, ids=[p for p, _ in IMPORTS])
def test_torchs_import_paths(path: str, names: str) -> None:
    module = importlib.import_module(path.replace("torch", "minigrad", 1))
    for name in names.split():
        assert hasattr(module, name), f"{path} lacks {name}"
    if torch is not None:
        theirs = importlib.import_module(path)
        assert all(hasattr(theirs, name) for name in names.split())


def test_import_paths_name_the_same_objects() -> None:
    from minigrad.nn.utils.clip_grad import clip_grad_norm_
    from minigrad.optim.adamw import AdamW

    from minigrad.autograd.grad_mode import inference_mode, no_grad
    from minigrad.backends import cudnn
    from minigrad.distributions.one_hot_categorical import OneHotCategorical

    assert no_grad is mg.no_grad and inference_mode is mg.inference_mode
    assert OneHotCategorical is mg.distributions.OneHotCategorical and AdamW is nn.optim.AdamW
    assert clip_grad_norm_ is nn.utils.clip_grad_norm_ and nn.utils.clip_grad.clip_grad_norm_ is clip_grad_norm_
    assert cudnn is mg.backends.cudnn
    import minigrad.backends.cudnn as cudnn_module
    assert cudnn_module is cudnn


def test_required_hyper_parameter_as_torch() -> None:
    from minigrad.optim.optimizer import Optimizer, required

    class OldSGD(Optimizer):
        def __init__(self, params, lr=required):
            super().__init__(params, {"lr": lr})

        def step(self, closure=None):
            return None

    w = nn.Parameter(mg.ones(2))
    with pytest.raises(ValueError, match="didn't specify a value of required optimization parameter lr"):
        OldSGD([w])
    assert OldSGD([w], lr=0.1).param_groups[0]["lr"] == 0.1
    assert OldSGD([{"params": [w], "lr": 0.5}]).param_groups[0]["lr"] == 0.5
    assert repr(required) == "<required parameter>"
