"""Error-class parity with PyTorch: a program's ``except RuntimeError`` catches what PyTorch raises there.

PyTorch programs catch errors by class (``except RuntimeError``, ``pytest.raises(IndexError)``). Where PyTorch's
class differs from the one minigrad raises by NumPy's habit (ValueError for a shape, TypeError for a dtype), minigrad
raises a class that is both (``ShapeMismatchError(ValueError, RuntimeError)``), so code written for either catches
it. Each row is one invalid call, written once against a library namespace (``t`` = torch or minigrad, ``F``, ``nn``,
``optim``), the class PyTorch raises and the class minigrad raised before (still caught). The minigrad half runs
without torch; the torch half checks the table against the live torch.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

import pytest

import minigrad as mg
import nn as mnn

# (call, PyTorch's class, the class minigrad's error also is: its own habit, kept for existing except clauses)
CASES: list[tuple[str, type, type]] = [
    # shape ops
    ("t.randn(2).to('bad')", RuntimeError, ValueError),
    ("t.flip(t.randn(2, 3), [0, 0])", RuntimeError, ValueError),
    ("t.meshgrid(t.arange(3), t.arange(2), indexing='bad')", RuntimeError, ValueError),
    ("t.split(t.randn(5, 2), [2, 2])", RuntimeError, ValueError),
    ("t.randn(5, 2).split([2, 4])", RuntimeError, ValueError),
    ("t.randn(4, 3).split(0)", RuntimeError, ValueError),
    ("t.randn(4, 3).chunk(0)", RuntimeError, ValueError),
    ("t.stack([t.randn(2, 3), t.randn(3, 2)])", RuntimeError, ValueError),
    ("t.stack([])", RuntimeError, TypeError),
    ("t.cat([])", ValueError, TypeError),
    ("t.cat([t.randn(2, 3), t.randn(2, 4)])", RuntimeError, ValueError),
    ("t.cat([t.randn(2, 3), t.randn(2, 3, 1)])", RuntimeError, ValueError),
    ("t.cat([t.randn(2), t.tensor(1.0)])", RuntimeError, ValueError),
    ("t.eye(-1)", RuntimeError, ValueError),
    ("t.zeros(-1)", RuntimeError, ValueError),
    ("t.randn(3).new_zeros(-1)", RuntimeError, ValueError),
    ("t.arange(0, 10, 0)", RuntimeError, ValueError),
    ("t.linspace(0, 1, -1)", RuntimeError, ValueError),
    ("t.randn(4, 3).view(5, 2)", RuntimeError, ValueError),
    ("t.randn(4, 3).view(-1, -1)", RuntimeError, ValueError),
    ("t.randn(4, 3).reshape(-1, 5)", RuntimeError, ValueError),
    ("t.randn(4, 3).expand(4, 4)", RuntimeError, ValueError),
    ("t.randn(4, 3).expand(3)", RuntimeError, ValueError),
    ("t.randn(4, 3).permute(0, 0)", RuntimeError, ValueError),
    ("t.randn(4, 3).flatten(1, 0)", RuntimeError, ValueError),
    ("t.randn(4, 3).unflatten(1, (2, 2))", RuntimeError, ValueError),
    ("t.randn(4, 3).narrow(0, 3, 2)", RuntimeError, IndexError),
    ("t.randn(4, 3).diagonal(dim1=0, dim2=0)", RuntimeError, ValueError),
    ("t.tril(t.randn(3))", RuntimeError, ValueError),
    ("t.randn(4, 3).roll((1, 2), dims=(0,))", RuntimeError, ValueError),
    ("t.randn(4, 3).repeat_interleave(t.tensor([1, 2]), dim=0)", RuntimeError, ValueError),
    ("t.broadcast_shapes((4, 3), (5, 3))", RuntimeError, ValueError),
    ("t.randn(2, 3, 4).t()", RuntimeError, ValueError),
    ("t.randn(2, 3, 4).trace()", RuntimeError, ValueError),
    ("t.randn(2, 3).rot90(1, (0,))", RuntimeError, ValueError),
    ("t.randn(2, 3).movedim((0, 0), (0, 1))", RuntimeError, ValueError),
    ("t.randn(2, 3).repeat(-1, 1)", RuntimeError, ValueError),
    ("t.broadcast_tensors(t.randn(4, 3), t.randn(5, 3))", RuntimeError, ValueError),
    # indexing
    ("t.randn(4, 3).squeeze(2)", IndexError, IndexError),
    ("t.randn(4, 3)[4]", IndexError, IndexError),
    ("t.randn(4, 3).gather(1, t.tensor([[0, 3]]))", RuntimeError, IndexError),
    ("t.randn(4, 3).gather(1, t.tensor([[0.0]]))", RuntimeError, TypeError),
    ("t.randn(4, 3).gather(1, t.tensor([0]))", RuntimeError, ValueError),
    ("t.randn(4, 3).scatter_(1, t.tensor([0]), 1.0)", RuntimeError, ValueError),
    ("t.randn(4, 3).index_select(0, t.tensor([4]))", IndexError, IndexError),
    ("t.randn(2, 3).index_fill_(0, t.tensor([0.0]), 1.0)", IndexError, TypeError),
    ("t.zeros(3).index_fill(0, t.tensor([0]), t.tensor([1.0]))", RuntimeError, ValueError),
    ("t.take(t.randn(4), t.tensor([1.0]))", RuntimeError, TypeError),
    ("t.randn(2, 3).scatter_reduce(0, t.tensor([[0]]), t.randn(1, 1), reduce='bad')", RuntimeError, ValueError),
    ("t.randn(4, 3).masked_fill(t.ones(4, 3), 0.0)", RuntimeError, TypeError),
    ("t.randn(4, 3).masked_select(t.ones(5, 3, dtype=t.bool))", RuntimeError, ValueError),
    ("t.randn(4, 3).copy_(t.randn(5, 3))", RuntimeError, ValueError),
    ("t.randn(4, 3).fill_(t.randn(2))", RuntimeError, ValueError),
    # arithmetic and products
    ("t.randn(4, 3) + t.randn(5, 3)", RuntimeError, ValueError),
    ("t.where(t.ones(4, 3, dtype=t.bool), t.randn(4, 3), t.randn(5, 3))", RuntimeError, ValueError),
    ("t.randn(2, 3).eq(t.randn(4, 3))", RuntimeError, ValueError),
    ("t.randn(2, 3).logical_and(t.randn(4, 3))", RuntimeError, ValueError),
    ("t.tensor([True]) - t.tensor([True])", RuntimeError, TypeError),
    ("t.tensor([1.0, 2.0]) & t.tensor([1.0, 2.0])", NotImplementedError, TypeError),
    ("t.randn(4, 3).clamp()", RuntimeError, ValueError),
    ("t.randn(4, 3) @ t.randn(4, 3)", RuntimeError, ValueError),
    ("t.mm(t.randn(4, 3), t.randn(3))", RuntimeError, ValueError),
    ("t.mv(t.randn(4, 3), t.randn(4))", RuntimeError, ValueError),
    ("t.dot(t.randn(3), t.randn(4))", RuntimeError, ValueError),
    ("t.bmm(t.randn(2, 4, 3), t.randn(3, 3, 5))", RuntimeError, ValueError),
    ("t.einsum('ij,jk->ik', t.randn(4, 3), t.randn(4, 3))", RuntimeError, ValueError),
    ("t.einsum('i->j', t.randn(4))", RuntimeError, ValueError),
    ("t.tensordot(t.randn(4, 3), t.randn(4, 3), dims=([0], [1]))", RuntimeError, ValueError),
    ("t.fft.fft(t.randn(3), norm='bad')", RuntimeError, ValueError),
    # reductions and norms
    ("t.randn(4, 3).sum(dim=2)", IndexError, IndexError),
    ("t.randn(4, 3).sum(dim=(0, 0))", RuntimeError, ValueError),
    ("t.randn(0, 3).max()", RuntimeError, ValueError),
    ("t.randn(4, 3).topk(4)", RuntimeError, ValueError),
    ("t.randn(4, 3).norm(p='bad')", RuntimeError, ValueError),
    ("t.linalg.vector_norm(t.ones(4, 3, dtype=t.long))", RuntimeError, TypeError),
    ("t.linalg.matrix_norm(t.randn(4))", RuntimeError, ValueError),
    # random
    ("t.randint(5, 2, (3,))", RuntimeError, ValueError),
    ("t.multinomial(t.tensor([0.5, 0.5]), 3)", RuntimeError, ValueError),
    ("t.randn(3).bernoulli_(1.5)", RuntimeError, ValueError),
    ("t.empty(2, 3).uniform_(1, 0)", RuntimeError, ValueError),
    # nn.functional and layers
    ("F.conv2d(t.randn(1, 3, 5, 5), t.randn(4, 2, 3, 3))", RuntimeError, ValueError),
    ("F.conv1d(t.randn(1, 3, 2), t.randn(4, 3, 3))", RuntimeError, ValueError),
    ("F.conv2d(t.randn(3, 5, 5, 5, 5), t.randn(4, 3, 3, 3))", RuntimeError, ValueError),
    ("F.conv_transpose2d(t.randn(1, 3, 5, 5), t.randn(4, 2, 3, 3))", RuntimeError, ValueError),
    ("F.conv2d(t.randn(1, 3, 5, 5), t.randn(4, 3, 3, 3), stride=0)", RuntimeError, ValueError),
    ("F.conv2d(t.randn(1, 3, 5, 5), t.randn(4, 3, 3, 3), bias=t.randn(3))", RuntimeError, ValueError),
    ("F.conv2d(t.randn(1, 3, 5, 5), t.randn(4, 3, 3, 3).double())", RuntimeError, TypeError),
    ("nn.Conv2d(3, 4, 3)(t.randn(1, 2, 5, 5))", RuntimeError, ValueError),
    ("nn.Conv2d(3, 4, 3)(t.randn(5, 5))", RuntimeError, ValueError),
    ("F.max_pool2d(t.randn(1, 1, 2, 2), 3)", RuntimeError, ValueError),
    ("F.avg_pool2d(t.randn(1, 1, 4, 4), 2, padding=2)", RuntimeError, ValueError),
    ("F.unfold(t.randn(1, 3, 2, 2), 3)", RuntimeError, ValueError),
    ("F.adaptive_avg_pool2d(t.randn(1, 3, 4, 4, 4, 4), 2)", RuntimeError, ValueError),
    ("F.linear(t.randn(4, 3), t.randn(5, 4))", RuntimeError, ValueError),
    ("nn.Linear(3, 5)(t.randn(4, 4))", RuntimeError, ValueError),
    ("nn.Embedding(10, 3)(t.tensor([10]))", IndexError, IndexError),
    ("nn.Embedding(10, 3, padding_idx=10)", AssertionError, ValueError),
    ("F.one_hot(t.tensor([0, 3]), 3)", RuntimeError, ValueError),
    ("F.one_hot(t.tensor([], dtype=t.long))", RuntimeError, ValueError),
    ("F.softmax(t.randn(4, 3), dim=2)", IndexError, IndexError),
    ("F.softmax(t.ones(4, 3, dtype=t.long), dim=1)", NotImplementedError, TypeError),
    ("F.layer_norm(t.randn(4, 3), (4,))", RuntimeError, ValueError),
    ("nn.LayerNorm(4)(t.randn(4, 3))", RuntimeError, ValueError),
    ("F.group_norm(t.randn(2, 6, 3), 4)", RuntimeError, ValueError),
    ("nn.BatchNorm1d(3)(t.randn(4, 5))", RuntimeError, ValueError),
    ("nn.BatchNorm1d(3)(t.randn(1, 3))", ValueError, ValueError),
    ("F.pad(t.randn(4, 3), (1,))", RuntimeError, ValueError),
    ("F.pad(t.randn(4, 3), (1, 1), mode='bad')", NotImplementedError, ValueError),
    ("F.pad(t.randn(1, 4, 3), (5, 5), mode='reflect')", RuntimeError, ValueError),
    ("F.gelu(t.randn(3), approximate='bad')", RuntimeError, ValueError),
    ("F.prelu(t.randn(2, 3), t.ones(2))", RuntimeError, ValueError),
    ("F.pixel_shuffle(t.randn(1, 3, 2, 2), 2)", RuntimeError, ValueError),
    ("nn.MultiheadAttention(8, 3)", AssertionError, ValueError),
    ("nn.MultiheadAttention(8, 2)(t.randn(4, 2, 8), t.randn(4, 2, 8), t.randn(4, 2, 8), "
     "key_padding_mask=t.zeros(3, 4, dtype=t.bool))", AssertionError, ValueError),
    ("nn.Unflatten(1, (2, 2))(t.randn(4, 3))", RuntimeError, ValueError),
    ("F.softshrink(t.ones(3, dtype=t.long))", RuntimeError, TypeError),
    ("F.group_norm(t.ones(2, 4, 3, dtype=t.long), 2)", RuntimeError, TypeError),
    ("F.adaptive_avg_pool3d(t.randn(1, 2, 4, 4, 4), (2, 2))", RuntimeError, TypeError),
    ("F.adaptive_max_pool2d(t.randn(1, 2, 4, 4), (2, 2, 2))", RuntimeError, TypeError),
    ("F.conv2d(t.randn(1, 4, 5, 5), t.randn(4, 2, 3, 3), groups=0)", RuntimeError, ValueError),
    ("F.conv_transpose1d(t.randn(1, 4, 5), t.randn(4, 2, 3), groups=0)", RuntimeError, ValueError),
    ("F.group_norm(t.randn(6), 2)", RuntimeError, ValueError),
    ("F.rms_norm(t.randn(2, 3), (3,), weight=t.ones(2))", RuntimeError, ValueError),
    ("F.max_unpool2d(t.randn(2, 2), t.zeros(2, 2, dtype=t.long), 2)", RuntimeError, ValueError),
    ("F.max_unpool1d(t.randn(1, 1, 2), t.zeros(1, 1, 3, dtype=t.long), 2)", RuntimeError, ValueError),
    ("F.prelu(t.randn(2, 3), t.ones(3, 1))", RuntimeError, ValueError),
    ("F.rrelu(t.randn(3), 0.5, 0.1)", RuntimeError, ValueError),
    ("t.rrelu(t.randn(3), 0.5, 0.1, training=True, generator=t.Generator())", RuntimeError, ValueError),
    ("F.softshrink(t.randn(3), -1.0)", RuntimeError, ValueError),
    ("F.max_pool1d(t.randn(1, 0, 4), 2)", RuntimeError, ValueError),
    # losses
    ("F.cross_entropy(t.randn(4, 3), t.tensor([0, 1, 2]))", ValueError, ValueError),
    ("F.cross_entropy(t.randn(4, 3), t.tensor([0, 1, 2, 3]))", IndexError, IndexError),
    ("F.cross_entropy(t.randn(4, 3), t.tensor([0, 1, 2, 0]), weight=t.ones(4))", RuntimeError, ValueError),
    ("F.cross_entropy(t.randn(4, 3), t.tensor([0, 1, 2, 0]), label_smoothing=2.0)", RuntimeError, ValueError),
    ("F.nll_loss(t.randn(4, 3), t.tensor([0, 1, 2, 0]), reduction='bad')", ValueError, ValueError),
    ("F.mse_loss(t.randn(4, 3), t.randn(5, 3))", RuntimeError, ValueError),
    ("nn.MSELoss()(t.randn(4, 3), t.randn(5, 3))", RuntimeError, ValueError),
    # an input above 1 whatever the generator's state (t.rand(4) * 3 was all below 1 in 1 run of 81)
    ("F.binary_cross_entropy(t.rand(4) + 1.5, t.rand(4))", RuntimeError, ValueError),
    ("F.binary_cross_entropy(t.rand(4), t.rand(5))", ValueError, ValueError),
    ("F.kl_div(t.randn(4, 3), t.randn(5, 3))", RuntimeError, ValueError),
    ("F.binary_cross_entropy(t.rand(4), t.ones(4, dtype=t.long))", RuntimeError, TypeError),
    ("F.binary_cross_entropy_with_logits(t.randn(4), t.ones(4, dtype=t.bool))", RuntimeError, TypeError),
    ("F.smooth_l1_loss(t.randn(4, 3), t.randn(4, 3), beta=-1.0)", RuntimeError, ValueError),
    ("F.triplet_margin_loss(t.randn(2, 3), t.randn(2, 3), t.randn(3))", RuntimeError, ValueError),
    ("F.multi_margin_loss(t.randn(2, 3, 4), t.tensor([0, 1]))", RuntimeError, ValueError),
    # recurrent layers
    ("nn.LSTM(3, 5)(t.randn(2, 4, 4))", RuntimeError, RuntimeError),
    ("nn.GRU(3, 5)(t.randn(2, 4, 3), t.zeros(1, 3, 5))", RuntimeError, RuntimeError),
    ("nn.LSTMCell(3, 5)(t.randn(4, 4))", RuntimeError, RuntimeError),
    # optimizers
    ("nn.utils.clip_grad_value_([t.randn(3, requires_grad=True)], -1)", RuntimeError, ValueError),
    ("optim.SGD(nn.Linear(2, 2).parameters(), lr=-0.1)", ValueError, ValueError),
    ("optim.Adam(nn.Linear(2, 2).parameters(), betas=(1.5, 0.9))", ValueError, ValueError),
    ("optim.Adam([{'lr': 0.1}])", KeyError, TypeError),
    ("nn.Linear(3, 4).load_state_dict({'weight': t.randn(4, 4), 'bias': t.randn(4)})", RuntimeError, RuntimeError),
]


def _namespace(lib: Any) -> dict:
    if lib is mg:
        return {"t": mg, "F": mnn.functional, "nn": mnn, "optim": mnn.optim}
    return {"t": lib, "F": lib.nn.functional, "nn": lib.nn, "optim": lib.optim}


def _raised(call: str, lib: Any) -> BaseException:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            eval(call, _namespace(lib))   # noqa: S307 - the table's own literal calls
        except Exception as error:  # noqa: BLE001 - the class is what is checked
            return error
    pytest.fail(f"{call} raised nothing")


@pytest.mark.parametrize(("call", "torch_class", "own_class"), CASES, ids=[c[0] for c in CASES])
def test_minigrad_raises_torch_class(call: str, torch_class: type, own_class: type) -> None:
    """minigrad's error is caught by PyTorch's except clause and still by minigrad's own (NumPy-habit) one."""
    error = _raised(call, mg)
    assert isinstance(error, torch_class), f"{call}: {type(error).__mro__} is not a {torch_class.__name__}: {error}"
    assert isinstance(error, own_class), f"{call}: {type(error).__name__} is no longer a {own_class.__name__}"
    assert str(error)


@pytest.fixture(scope="module")
def warm_torch() -> Any:
    """torch, with its one-time lazy imports done in setup (torch._dynamo on the first optimizer, the
    broadcast_shapes helpers), so the calls below time only the calls."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (optional test peer)")
    importlib.import_module("torch._dynamo")
    torch.broadcast_shapes((1,), (2,))
    return torch


@pytest.mark.parametrize(("call", "torch_class", "own_class"), CASES, ids=[c[0] for c in CASES])
def test_table_matches_torch(warm_torch: Any, call: str, torch_class: type, own_class: type) -> None:
    """The table's class is the one the installed PyTorch raises (or a base of it)."""
    error = _raised(call, warm_torch)
    assert isinstance(error, torch_class), f"{call}: torch raised {type(error).__name__}: {error}"
