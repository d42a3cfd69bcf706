"""Integer-argument leftovers of round 25, each against PyTorch 2.13: ``squeeze(None)`` is a TypeError (it
squeezed every dim), a bare ``__index__``-only object or 0-d NumPy array for a fixed-length ``int[N]`` list (roll's
shifts and dims, a convolution's or pool's kernel/stride/padding/dilation) is PyTorch's RuntimeError, ``x[np.bool_]``
an IndexError (it added a dim, as NumPy's mask of one), ``tensordot``'s dims read as PyTorch's Python code reads
them (``isinstance(dims, int)``; a one-element tensor is its int); a sequence layer's input_size/hidden_size pass
PyTorch's ``isinstance(int)`` test (``True`` does, ``np.int64(3)`` does not) and num_layers or a cell's sizes take a
0-d integer tensor or array; ``repeat_interleave`` takes an ``__index__`` object as PyTorch's SymInt overload and
refuses a list or a 1-d array; ``split``'s size is an int by PyTorch's ``isinstance(int)`` test (a NumPy int is its
TypeError); ``arange`` refuses ``tensor([3])``; a convolution or pool module's 0-d NumPy array
kernel is the TypeError of PyTorch's ``_ntuple`` (iteration over a 0-d array), a padding module's too (an
``__index__`` object is repeated there, not refused); a float ``new_tensor``/``tensor(dtype=)`` refuses None (NumPy
made NaN); MultiheadAttention and the Transformer layers take NumPy ints and 0-d integer tensors as sizes; LBFGS a
NumPy int max_iter/history_size; DataLoader's num_workers of another type is a TypeError; a convolution's channels
and a batch norm's num_features are read as ``torch.empty``'s sizes (a 0-d tensor or an ``__index__`` object
works); F.embedding's padding_idx refuses an ``__index__``-only object (PyTorch compares it with 0 first).

Round 25's tables against torch 2.13 (slot x value cells whose outcome differs): round 24's 1,692-cell table 66 -> 42
(its formatting artefacts aside), its 480-cell slot table 14 -> 0, the new 1,764-cell table of module constructors,
optimizers, DataLoader, constructors, ``new_*`` and shape ops 301 -> 203 (most left: PyTorch's Python modules and
schedulers store a float, None or tensor unchecked where we refuse it, and number slots given NumPy arrays)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import nn
import nn.functional as F

torch = pytest.importorskip("torch", reason="no torch")


class _Index:
    def __index__(self) -> int:
        return 1


def _libs(lib: Any) -> tuple:
    return (nn, F) if lib is mg else (torch.nn, torch.nn.functional)


def _outcome(call: Callable, lib: Any) -> Any:
    """``call(lib)``'s values (rounded, as a list) and shape, or the exception it raised."""
    try:
        out = call(lib)
    except Exception as error:  # noqa: BLE001 - the class is the outcome
        return error
    parts = out if isinstance(out, (tuple, list)) else (out,)
    return [(tuple(p.shape), np.round(np.asarray(p.detach().numpy(), float), 6).tolist()) if hasattr(p, "detach")
            else tuple(p) if isinstance(p, (tuple, list)) else p for p in parts]


def _assert_same_outcome(call: Callable) -> None:
    theirs, ours = _outcome(call, torch), _outcome(call, mg)
    if isinstance(theirs, Exception):
        assert isinstance(ours, type(theirs)), f"PyTorch raised {theirs!r:.120}, we gave {ours!r:.120}"
        return
    assert not isinstance(ours, Exception), f"PyTorch computed {theirs!r:.120}, we raised {ours!r:.200}"
    assert ours == theirs


def x24(lib: Any) -> Any:
    return lib.arange(24.0).reshape(2, 1, 3, 4)


SQUEEZE = {
    "x.squeeze(None)": lambda lib: x24(lib).squeeze(None),
    "x.squeeze(dim=None)": lambda lib: x24(lib).squeeze(dim=None),
    "squeeze(x, None)": lambda lib: lib.squeeze(x24(lib), None),
    "squeeze(x, dim=None)": lambda lib: lib.squeeze(x24(lib), dim=None),
    "squeeze_copy(x, None)": lambda lib: lib.squeeze_copy(x24(lib), None),
    "x.squeeze_(None)": lambda lib: x24(lib).squeeze_(None),
    "x.squeeze_(dim=None)": lambda lib: x24(lib).squeeze_(dim=None),
    "x.squeeze(0, None)": lambda lib: x24(lib).squeeze(0, None),
    # what still works
    "x.squeeze()": lambda lib: x24(lib).squeeze(), "x.squeeze(1)": lambda lib: x24(lib).squeeze(1),
    "x.squeeze(())": lambda lib: x24(lib).squeeze(()), "x.squeeze(1, 0)": lambda lib: x24(lib).squeeze(1, 0),
    "squeeze_copy(x)": lambda lib: lib.squeeze_copy(x24(lib)), "x.squeeze_()": lambda lib: x24(lib).squeeze_(),
    "x.squeeze_(1)": lambda lib: x24(lib).squeeze_(1),
}


@pytest.mark.parametrize("name", SQUEEZE)
def test_squeeze_none_is_a_type_error(name: str) -> None:
    _assert_same_outcome(SQUEEZE[name])


def test_numpy_axis_none_still_squeezes_every_dim() -> None:
    assert mg.squeeze(mg.zeros(2, 1, 3), axis=None).shape == (2, 3)


BARE = {   # a bare value for PyTorch's int[N] lists (N > 0)
    "roll shifts": lambda lib, v: x24(lib).roll(v, 0), "roll dims": lambda lib, v: x24(lib).roll(1, v),
    "max_pool1d kernel": lambda lib, v: _libs(lib)[1].max_pool1d(lib.ones(1, 1, 4), v),
    "max_pool1d stride": lambda lib, v: _libs(lib)[1].max_pool1d(lib.ones(1, 1, 4), 2, v),
    "max_pool1d padding": lambda lib, v: _libs(lib)[1].max_pool1d(lib.ones(1, 1, 4), 2, padding=v),
    "max_pool1d dilation": lambda lib, v: _libs(lib)[1].max_pool1d(lib.ones(1, 1, 4), 2, dilation=v),
    "avg_pool2d stride": lambda lib, v: _libs(lib)[1].avg_pool2d(lib.ones(1, 1, 4, 4), 2, v),
    "adaptive_avg_pool1d size": lambda lib, v: _libs(lib)[1].adaptive_avg_pool1d(lib.ones(1, 1, 4), v),
    "conv1d stride": lambda lib, v: _libs(lib)[1].conv1d(lib.ones(1, 1, 4), lib.ones(1, 1, 2), stride=v),
    "conv1d padding": lambda lib, v: _libs(lib)[1].conv1d(lib.ones(1, 1, 4), lib.ones(1, 1, 2), padding=v),
    "conv2d stride": lambda lib, v: _libs(lib)[1].conv2d(lib.ones(1, 1, 4, 4), lib.ones(1, 1, 2, 2), stride=v),
}
VALUES = {"__index__": lambda lib: _Index(), "np0d": lambda lib: np.array(1), "np.int64": lambda lib: np.int64(1),
          "int": lambda lib: 1, "0-d tensor": lambda lib: lib.tensor(1), "True": lambda lib: True,
          "(__index__,)": lambda lib: (_Index(),), "[np0d]": lambda lib: [np.array(1)]}


@pytest.mark.parametrize("slot", BARE)
def test_bare_index_object_in_a_fixed_length_int_list(slot: str) -> None:
    for value in VALUES.values():
        _assert_same_outcome(lambda lib, value=value: BARE[slot](lib, value(lib)))


INDEX = {
    "x[np.bool_(True)]": lambda lib: x24(lib)[np.bool_(True)],
    "x[np.bool_(False)]": lambda lib: x24(lib)[np.bool_(False)],
    "x[0, np.bool_(True)]": lambda lib: x24(lib)[0, np.bool_(True)],
    "x[..., np.bool_(True)]": lambda lib: x24(lib)[..., np.bool_(True)],
    "x[np.bool_] = 1": lambda lib: x24(lib).__setitem__(np.bool_(True), 1.0),
    "x[True]": lambda lib: x24(lib)[True], "x[np.array(True)]": lambda lib: x24(lib)[np.array(True)],
    "x[[np.bool_(True), np.bool_(False)]]": lambda lib: x24(lib)[[np.bool_(True), np.bool_(False)]],
}


@pytest.mark.parametrize("name", INDEX)
def test_numpy_bool_scalar_is_not_an_index(name: str) -> None:
    _assert_same_outcome(INDEX[name])


def _a(lib: Any) -> Any:
    return lib.arange(6.0).reshape(2, 3)


def _b(lib: Any) -> Any:
    return lib.arange(6.0).reshape(3, 2)


TENSORDOT = {
    "np.int64": lambda lib: np.int64(1), "np.int32": lambda lib: np.int32(0), "__index__": lambda lib: _Index(),
    "np0d": lambda lib: np.array(1), "True": lambda lib: True, "1.0": lambda lib: 1.0,
    "tensor(1)": lambda lib: lib.tensor(1), "tensor([1])": lambda lib: lib.tensor([1]),
    "tensor([[1]])": lambda lib: lib.tensor([[1]]), "tensor(1.0)": lambda lib: lib.tensor(1.0),
    "tensor([1, 0])": lambda lib: lib.tensor([1, 0]), "tensor([[1], [0]])": lambda lib: lib.tensor([[1], [0]]),
    "tensor(-1)": lambda lib: lib.tensor(-1), "([np.int64(1)], [__index__])": lambda lib: ([np.int64(1)], [_Index()]),
}


def test_tensordot_dims_as_pytorch_reads_them() -> None:
    for dims in TENSORDOT.values():
        _assert_same_outcome(lambda lib, dims=dims: lib.tensordot(_a(lib), _b(lib), dims(lib)))


SEQUENCE_LAYERS = {
    "LSTM(2, np.int64(3))": lambda lib: _libs(lib)[0].LSTM(2, np.int64(3)).weight_hh_l0.shape,
    "GRU(2, np.int32(3))": lambda lib: _libs(lib)[0].GRU(2, np.int32(3)).weight_hh_l0.shape,
    "RNN(np.int64(2), 3)": lambda lib: _libs(lib)[0].RNN(np.int64(2), 3).weight_ih_l0.shape,
    "LSTM(2, True)": lambda lib: _libs(lib)[0].LSTM(2, True).weight_hh_l0.shape,
    "LSTM(True, 3)": lambda lib: _libs(lib)[0].LSTM(True, 3).weight_ih_l0.shape,
    "GRU(2, True) forward": lambda lib: _libs(lib)[0].GRU(2, True)(lib.ones(1, 2))[0].shape,
    "LSTM(2, 3, True)": lambda lib: _libs(lib)[0].LSTM(2, 3, True).weight_ih_l0.shape,
    "LSTM(2, 3, np.array(2))": lambda lib: _libs(lib)[0].LSTM(2, 3, np.array(2)).weight_ih_l1.shape,
    "LSTM(2, 3, tensor(2))": lambda lib: _libs(lib)[0].LSTM(2, 3, lib.tensor(2)).weight_ih_l1.shape,
    "LSTM(2, __index__)": lambda lib: _libs(lib)[0].LSTM(2, _Index()),
    "LSTM(2, 3.0)": lambda lib: _libs(lib)[0].LSTM(2, 3.0),
    "LSTMCell(2, True)": lambda lib: _libs(lib)[0].LSTMCell(2, True).weight_hh.shape,
    "RNNCell(2, np.int64(3))": lambda lib: _libs(lib)[0].RNNCell(2, np.int64(3)).weight_hh.shape,
}


@pytest.mark.parametrize("name", SEQUENCE_LAYERS)
def test_sequence_layer_sizes(name: str) -> None:
    _assert_same_outcome(SEQUENCE_LAYERS[name])


def _x23(lib: Any) -> Any:
    return lib.arange(6.0).reshape(2, 3)


OTHERS = {
    "repeat_interleave(__index__)": lambda lib: _x23(lib).repeat_interleave(_Index()),
    "repeat_interleave(np.array(2), 0)": lambda lib: _x23(lib).repeat_interleave(np.array(2), 0),
    "repeat_interleave(np.array([2]))": lambda lib: _x23(lib).repeat_interleave(np.array([2])),
    "repeat_interleave([1, 2], 0)": lambda lib: _x23(lib).repeat_interleave([1, 2], 0),
    "repeat_interleave((2,))": lambda lib: _x23(lib).repeat_interleave((2,)),
    "repeat_interleave(True)": lambda lib: _x23(lib).repeat_interleave(True),
    "repeat_interleave(tensor([1, 2]), 0)": lambda lib: _x23(lib).repeat_interleave(lib.tensor([1, 2]), 0),
    "split(np.int64(1))": lambda lib: _x23(lib).split(np.int64(1)),
    "split(__index__, 1)": lambda lib: _x23(lib).split(_Index(), 1),
    "split(np.array(1))": lambda lib: lib.split(_x23(lib), np.array(1)),
    "split(tensor(1))": lambda lib: _x23(lib).split(lib.tensor(1)),
    "split([np.int64(1), __index__])": lambda lib: _x23(lib).split([np.int64(1), _Index()]),
    "arange(tensor([3]))": lambda lib: lib.arange(lib.tensor([3])),
    "arange(0, 3, tensor([1]))": lambda lib: lib.arange(0, 3, lib.tensor([1])),
    "arange(tensor(3))": lambda lib: lib.arange(lib.tensor(3)),
    "Conv1d(1, 1, np.array(2))": lambda lib: _libs(lib)[0].Conv1d(1, 1, np.array(2)).weight.shape,
    "Conv1d(1, 1, np.array([2]))": lambda lib: _libs(lib)[0].Conv1d(1, 1, np.array([2])).weight.shape,
    "Conv1d(stride=np.array(2))": lambda lib: _libs(lib)[0].Conv1d(1, 1, 2, stride=np.array(2)).weight.shape,
    "Conv1d(1, 1, __index__)": lambda lib: _libs(lib)[0].Conv1d(1, 1, _Index())(lib.ones(1, 1, 4)).shape,
    "Conv1d(stride=__index__)": lambda lib: _libs(lib)[0].Conv1d(1, 1, 2, stride=_Index())(
        lib.ones(1, 1, 4)).shape,
    "MaxPool1d(np.array(2))": lambda lib: _libs(lib)[0].MaxPool1d(np.array(2))(lib.ones(1, 1, 4)),
    "MaxPool1d(__index__)": lambda lib: _libs(lib)[0].MaxPool1d(_Index())(lib.ones(1, 1, 4)),
}


@pytest.mark.parametrize("name", OTHERS)
def test_other_int_slots(name: str) -> None:
    _assert_same_outcome(OTHERS[name])


MODULES = {
    "x.new_tensor([None])": lambda lib: lib.ones(2).new_tensor([None]),
    "x.new_tensor([1.0, None])": lambda lib: lib.ones(2).new_tensor([1.0, None]),
    "tensor([[None]], dtype=float64)": lambda lib: lib.tensor([[None]], dtype=lib.float64),
    "tensor(None, dtype=float32)": lambda lib: lib.tensor(None, dtype=lib.float32),
    "tensor([nan, 1], dtype=float32)": lambda lib: lib.tensor([float("nan"), 1], dtype=lib.float32).isnan(),
    "ZeroPad1d(__index__)": lambda lib: _libs(lib)[0].ZeroPad1d(_Index())(lib.ones(1, 1, 2)),
    "ReflectionPad1d(__index__)": lambda lib: _libs(lib)[0].ReflectionPad1d(_Index())(lib.ones(1, 1, 3)),
    "ZeroPad1d(tensor(1))": lambda lib: _libs(lib)[0].ZeroPad1d(lib.tensor(1))(lib.ones(1, 1, 2)),
    "ConstantPad2d(np.array(1))": lambda lib: _libs(lib)[0].ConstantPad2d(np.array(1), 0.0)(lib.ones(1, 1, 2, 2)),
    "MultiheadAttention(np.int64(4), np.int32(2))": lambda lib: _libs(lib)[0].MultiheadAttention(
        np.int64(4), np.int32(2)).in_proj_weight.shape,
    "MultiheadAttention(tensor(4), 1)": lambda lib: _libs(lib)[0].MultiheadAttention(
        lib.tensor(4), 1).in_proj_weight.shape,
    "MultiheadAttention(4, __index__)": lambda lib: _libs(lib)[0].MultiheadAttention(4, _Index()),
    "MultiheadAttention(4, None)": lambda lib: _libs(lib)[0].MultiheadAttention(4, None),
    "TransformerEncoderLayer(4, np.int64(2), np.int64(8))": lambda lib: _libs(lib)[0].TransformerEncoderLayer(
        4, np.int64(2), np.int64(8)).linear1.weight.shape,
    "TransformerEncoderLayer(4, 1, None)": lambda lib: _libs(lib)[0].TransformerEncoderLayer(4, 1, None),
    "TransformerEncoder(layer, np.int64(2))": lambda lib: len(_libs(lib)[0].TransformerEncoder(
        _libs(lib)[0].TransformerEncoderLayer(4, 1, 8), np.int64(2)).layers),
    "TransformerEncoder(layer, tensor([2]))": lambda lib: len(_libs(lib)[0].TransformerEncoder(
        _libs(lib)[0].TransformerEncoderLayer(4, 1, 8), lib.tensor([2])).layers),
    "TransformerEncoder(layer, 2.0)": lambda lib: _libs(lib)[0].TransformerEncoder(
        _libs(lib)[0].TransformerEncoderLayer(4, 1, 8), 2.0),
}


@pytest.mark.filterwarnings("ignore:enable_nested_tensor")   # (PyTorch's TransformerEncoder's, batch_first=False)
@pytest.mark.parametrize("name", MODULES)
def test_module_and_constructor_slots(name: str) -> None:
    _assert_same_outcome(MODULES[name])


def _data(lib: Any) -> Any:
    import importlib
    return importlib.import_module("torch.utils.data" if lib is torch else "minigrad.utils.data")


DATA_AND_OPTIM = {
    "DataLoader(num_workers=None)": lambda lib: list(_data(lib).DataLoader([1, 2], num_workers=None)),
    "DataLoader(num_workers=1.5)": lambda lib: list(_data(lib).DataLoader([1, 2], num_workers=1.5)),
    "DataLoader(num_workers=__index__)": lambda lib: list(_data(lib).DataLoader([1, 2], num_workers=_Index())),
    "DataLoader(num_workers=-1)": lambda lib: list(_data(lib).DataLoader([1, 2], num_workers=-1)),
}


@pytest.mark.parametrize("name", DATA_AND_OPTIM)
def test_data_loader_and_optimizer_ints(name: str) -> None:
    _assert_same_outcome(DATA_AND_OPTIM[name])


def test_lbfgs_steps_with_numpy_int_options() -> None:
    """PyTorch's LBFGS computes with max_iter and history_size as given (max_eval = max_iter * 5 // 4); ours
    refused a NumPy int at the first step (torch.optim is not imported here: its first import takes ~1.5 s)."""
    assert nn.optim.LBFGS([nn.Parameter(mg.ones(2))], max_iter=np.int64(4)).defaults["max_eval"] == 5
    p = nn.Parameter(mg.tensor([1.0, 2.0]))
    opt = nn.optim.LBFGS([p], max_iter=np.int64(3), history_size=np.int32(2))

    def closure() -> Any:
        opt.zero_grad()
        loss = (p ** 2).sum()
        loss.backward()
        return loss
    opt.step(closure)
    assert float(p.detach().abs().max()) < 1e-3


def _emb(lib: Any, padding_idx: Any) -> Any:
    return _libs(lib)[1].embedding(lib.tensor([0, 1]), lib.ones(3, 2), padding_idx=padding_idx)


LAYER_SIZES = {
    "Conv1d(tensor(1), np.array(2), 1)": lambda lib: _libs(lib)[0].Conv1d(lib.tensor(1), np.array(2), 1).weight.shape,
    "Conv1d(True, 2, 1)": lambda lib: _libs(lib)[0].Conv1d(True, 2, 1).weight.shape,
    "Conv1d(1, True, 1)": lambda lib: _libs(lib)[0].Conv1d(1, True, 1),
    "Conv1d(__index__, 2, 1)": lambda lib: _libs(lib)[0].Conv1d(_Index(), 2, 1),
    "Conv1d(2, 2, 1, groups=__index__)": lambda lib: _libs(lib)[0].Conv1d(2, 2, 1, groups=_Index()),
    "ConvTranspose1d(np.array(2), tensor(1), 1)": lambda lib: _libs(lib)[0].ConvTranspose1d(
        np.array(2), lib.tensor(1), 1).weight.shape,
    "BatchNorm1d(__index__)": lambda lib: _libs(lib)[0].BatchNorm1d(_Index()).weight.shape,
    "BatchNorm1d(tensor(2))": lambda lib: _libs(lib)[0].BatchNorm1d(lib.tensor(2)).weight.shape,
    "BatchNorm1d(np.array(2))": lambda lib: _libs(lib)[0].BatchNorm1d(np.array(2)).running_mean.shape,
    "BatchNorm1d(True)": lambda lib: _libs(lib)[0].BatchNorm1d(True),
    "embedding(padding_idx=__index__)": lambda lib: _emb(lib, _Index()),
    "embedding(padding_idx=np.array(1))": lambda lib: _emb(lib, np.array(1)),
    "embedding(padding_idx=tensor([1]))": lambda lib: _emb(lib, lib.tensor([1])),
    "embedding(padding_idx=True)": lambda lib: _emb(lib, True),
    # fake_quantize: PyTorch's overloads take two numbers (a 0-d tensor is one) or two tensors, not a mix
    "fake_quantize(x, 0.1, tensor([0]))": lambda lib: lib.fake_quantize_per_tensor_affine(
        lib.linspace(-1, 1, 7), 0.1, lib.tensor([0]), 0, 255),
    "fake_quantize(x, 0.1, tensor(3.0))": lambda lib: lib.fake_quantize_per_tensor_affine(
        lib.linspace(-1, 1, 7), 0.1, lib.tensor(3.0), 0, 255),
    "fake_quantize(x, tensor(0.1), 3)": lambda lib: lib.fake_quantize_per_tensor_affine(
        lib.linspace(-1, 1, 7), lib.tensor(0.1), 3, 0, 255),
}


@pytest.mark.parametrize("name", LAYER_SIZES)
def test_layer_sizes_as_torch_empty_reads_them(name: str) -> None:
    _assert_same_outcome(LAYER_SIZES[name])
