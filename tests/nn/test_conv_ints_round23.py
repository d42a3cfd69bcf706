"""Convolution, pooling and fold int arguments read as PyTorch 2.13 reads them (round 23).

PyTorch's parser tells an int list by its first element only, so a later Python bool is 0 or 1; a bool tensor in a
SymInt list (a convolution's stride/padding/dilation, conv_transpose's, adaptive_avg_pool's output size, a
convolution module's weight shape) raises its RuntimeError, while its plain int lists (the window pools', im2col's,
adaptive_max_pool's, fractional_max_pool's) read it as 0 or 1. Its Python ``_pair`` (modules, F.unfold/F.fold,
lp_pool2d/3d) iterates a tensor: a 0-d one is a TypeError. Each case runs on both libraries: the same error class,
or the same values.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import nn
import nn.functional as F


def _x(lib: Any, dims: int, channels: int = 2, size: int = 5) -> Any:
    return lib.tensor(np.random.default_rng(0).standard_normal((1, channels) + (size,) * dims))


def _w(lib: Any, dims: int) -> Any:
    return lib.tensor(np.random.default_rng(1).standard_normal((2, 2) + (2,) * dims))


def _nn(lib: Any) -> Any:
    return nn if lib is mg else lib.nn


def _module(lib: Any, name: str, *args: Any, dims: int = 2, **kwargs: Any) -> Any:
    """The module's weight shape and output shape (the weights' random values differ between the libraries)."""
    module = getattr(_nn(lib), name)(*args, **kwargs)
    y = module(_x(lib, dims).float())
    return np.array([*module.weight.shape, -1, *y.shape])


# (id, call(lib, lib's nn.functional)); every case but two failed (a wrong error class, a value where PyTorch
# raised, or an error where it gave one) before this round's fix
_cases: list[tuple[str, Callable[[Any, Any], Any]]] = [
    # a later Python bool is the int 0 or 1 (it raised TypeError)
    ("conv2d stride (1, True)", lambda lib, f: f.conv2d(_x(lib, 2), _w(lib, 2), stride=(1, True))),
    ("conv3d padding (1, 1, False)", lambda lib, f: f.conv3d(_x(lib, 3), _w(lib, 3), padding=(1, 1, False))),
    ("conv2d dilation (1, False)", lambda lib, f: f.conv2d(_x(lib, 2), _w(lib, 2), dilation=(1, False))),
    ("conv_transpose2d padding (1, True)",
     lambda lib, f: f.conv_transpose2d(_x(lib, 2), _w(lib, 2), padding=(1, True))),
    ("conv_transpose2d output_padding (0, True)",
     lambda lib, f: f.conv_transpose2d(_x(lib, 2), _w(lib, 2), output_padding=(0, True))),
    ("max_pool2d kernel (2, True)", lambda lib, f: f.max_pool2d(_x(lib, 2), (2, True))),
    ("max_pool3d dilation (1, 1, True)", lambda lib, f: f.max_pool3d(_x(lib, 3), 2, dilation=(1, 1, True))),
    ("avg_pool2d padding (1, False)", lambda lib, f: f.avg_pool2d(_x(lib, 2), 2, padding=(1, False))),
    ("avg_pool3d stride (1, 1, True)", lambda lib, f: f.avg_pool3d(_x(lib, 3), 2, stride=(1, 1, True))),
    ("lp_pool2d kernel (2, True)", lambda lib, f: f.lp_pool2d(_x(lib, 2), 2, (2, True))),
    ("adaptive_avg_pool2d (2, True)", lambda lib, f: f.adaptive_avg_pool2d(_x(lib, 2), (2, True))),
    ("adaptive_max_pool3d (2, None, False)", lambda lib, f: f.adaptive_max_pool3d(_x(lib, 3), (2, None, False))),
    ("unfold stride (1, True)", lambda lib, f: f.unfold(_x(lib, 2), 2, stride=(1, True))),
    ("fold kernel (2, True)", lambda lib, f: f.fold(lib.ones(1, 8, 16, dtype=lib.float64), 5, (2, True))),
    # a bool tensor in a SymInt list raises RuntimeError (it was read as 1)
    ("conv1d stride [tensor(True)]", lambda lib, f: f.conv1d(_x(lib, 1), _w(lib, 1), stride=[lib.tensor(True)])),
    ("conv2d padding (1, tensor(True))",
     lambda lib, f: f.conv2d(_x(lib, 2), _w(lib, 2), padding=(1, lib.tensor(True)))),
    ("conv3d dilation (tensor(True), 1, 1)",
     lambda lib, f: f.conv3d(_x(lib, 3), _w(lib, 3), dilation=(lib.tensor(True), 1, 1))),
    ("conv_transpose2d stride (tensor(True), 1)",
     lambda lib, f: f.conv_transpose2d(_x(lib, 2), _w(lib, 2), stride=(lib.tensor(True), 1))),
    ("adaptive_avg_pool2d (2, tensor(True))",
     lambda lib, f: f.adaptive_avg_pool2d(_x(lib, 2), (2, lib.tensor(True)))),
    ("Conv2d kernel (2, tensor(True))", lambda lib, f: _module(lib, "Conv2d", 2, 2, (2, lib.tensor(True)))),
    # ... and is 0 or 1 in a plain int list (it raised)
    ("adaptive_max_pool3d (tensor(True), 2, 2)",
     lambda lib, f: f.adaptive_max_pool3d(_x(lib, 3), (lib.tensor(True), 2, 2))),
    ("adaptive_avg_pool3d (2, 2, tensor([2]))",
     lambda lib, f: f.adaptive_avg_pool3d(_x(lib, 3), (2, 2, lib.tensor([2])))),
    # (these two passed before: they pin that the SymInt lists' refusal reaches no int list)
    ("AvgPool1d kernel [tensor(True)]", lambda lib, f: _nn(lib).AvgPool1d([lib.tensor(True)])(_x(lib, 1))),
    ("fractional_max_pool2d kernel (2, tensor(True))",
     lambda lib, f: f.fractional_max_pool2d(_x(lib, 2, size=6), (2, lib.tensor(True)), output_size=3,
                                            _random_samples=lib.full((1, 2, 2), 0.5, dtype=lib.float64))),
    # a one-element output_size is not spread by fractional max pooling's C++ check
    ("fractional_max_pool2d output_size (3,)",
     lambda lib, f: f.fractional_max_pool2d(_x(lib, 2, size=6), 2, output_size=(3,),
                                            _random_samples=lib.full((1, 2, 2), 0.5, dtype=lib.float64))),
    # PyTorch's Python _pair and _list_with_default: a 0-d tensor or a NumPy int has no len() or items
    ("unfold kernel tensor(2)", lambda lib, f: f.unfold(_x(lib, 2), lib.tensor(2))),
    ("unfold kernel tensor([2])", lambda lib, f: f.unfold(_x(lib, 2), lib.tensor([2]))),
    ("fold stride tensor(True)", lambda lib, f: f.fold(lib.ones(1, 8, 16, dtype=lib.float64), 5, 2,
                                                       stride=lib.tensor(True))),
    ("lp_pool2d kernel tensor([2])", lambda lib, f: f.lp_pool2d(_x(lib, 2), 2, lib.tensor([2]))),
    ("lp_pool3d kernel tensor(2)", lambda lib, f: f.lp_pool3d(_x(lib, 3), 2, lib.tensor(2))),
    ("adaptive_avg_pool2d np.int64(2)", lambda lib, f: f.adaptive_avg_pool2d(_x(lib, 2), np.int64(2))),
    ("adaptive_max_pool3d tensor(2)", lambda lib, f: f.adaptive_max_pool3d(_x(lib, 3), lib.tensor(2))),
    ("adaptive_max_pool2d tensor([2])", lambda lib, f: f.adaptive_max_pool2d(_x(lib, 2), lib.tensor([2]))),
    ("Conv2d stride tensor(1)", lambda lib, f: _module(lib, "Conv2d", 2, 2, 2, stride=lib.tensor(1))),
    ("Conv2d kernel tensor([2])", lambda lib, f: _module(lib, "Conv2d", 2, 2, lib.tensor([2]))),
    ("ConvTranspose2d output_padding tensor(0)",
     lambda lib, f: _module(lib, "ConvTranspose2d", 2, 2, 2, output_padding=lib.tensor(0))),
    ("AvgPool1d padding tensor(True)", lambda lib, f: _nn(lib).AvgPool1d(2, padding=lib.tensor(True))(_x(lib, 1))),
    # a convolution module's kernel_size is its weight's shape after the channels: a Python bool is 1 there
    ("Conv2d kernel True", lambda lib, f: _module(lib, "Conv2d", 2, 2, True)),
    ("Conv1d kernel (True,)", lambda lib, f: _module(lib, "Conv1d", 2, 2, (True,), dims=1)),
    ("ConvTranspose3d kernel (True, 2, 2)", lambda lib, f: _module(lib, "ConvTranspose3d", 2, 2, (True, 2, 2), dims=3)),
]


def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        result = call()
    except Exception as error:  # noqa: BLE001 - the class is compared
        return "error", error
    if isinstance(result, np.ndarray):
        return "value", result
    return "value", np.asarray(result.detach().numpy() if hasattr(result, "detach") else result.numpy())


@pytest.mark.parametrize("case", [call for _, call in _cases], ids=[name for name, _ in _cases])
def test_int_arguments_read_as_pytorch(torch: Any, case: Callable[[Any, Any], Any]) -> None:
    theirs = _outcome(lambda: case(torch, torch.nn.functional))
    ours = _outcome(lambda: case(mg, F))
    if theirs[0] == "error":
        assert ours[0] == "error", f"PyTorch raised {theirs[1]!r}; ours gave a value"
        assert isinstance(ours[1], type(theirs[1])), f"PyTorch raised {theirs[1]!r}; ours {ours[1]!r}"
    else:
        assert ours[0] == "value", f"PyTorch gave a value; ours raised {ours[1]!r}"
        np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-10, atol=1e-12)


def test_a_pool_int_list_reads_a_bool_tensor_as_one_and_a_conv_refuses_it() -> None:
    x = _x(mg, 2)
    np.testing.assert_array_equal(F.max_pool2d(x, (2, mg.tensor(True))).numpy(), F.max_pool2d(x, (2, 1)).numpy())
    with pytest.raises(RuntimeError, match="bool tensor"):
        F.conv2d(x, _w(mg, 2), stride=(1, mg.tensor(True)))
    # a single bool tensor stands for every dim, in PyTorch's SymInt lists too
    np.testing.assert_array_equal(F.conv2d(x, _w(mg, 2), stride=mg.tensor(True)).numpy(),
                                  F.conv2d(x, _w(mg, 2)).numpy())
