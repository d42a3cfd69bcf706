"""PyTorch's import paths and class hierarchy: ``torch.nn.modules.<sub>``, the base classes that weight-init,
freezing and custom-loss code tests or subclasses, ``torch.autograd.function``, and the tensor-kind predicates
custom optimizers read (``grad.is_sparse``). Each is compared with live torch where torch is installed."""

from __future__ import annotations

import importlib
import inspect
import warnings

import numpy as np
import pytest

import minigrad as mg
import nn
import nn.modules

torch = pytest.importorskip("torch", reason="PyTorch is the reference for these tests")
import torch.nn as tnn  # noqa: E402


@pytest.mark.parametrize("sub", sorted(nn.modules.SUBMODULES))
def test_each_submodule_names_the_classes_torchs_names(sub: str) -> None:
    ours = importlib.import_module(f"minigrad.nn.modules.{sub}")
    theirs = importlib.import_module(f"torch.nn.modules.{sub}")
    for name in nn.modules.SUBMODULES[sub]:
        kind = inspect.isclass if name != "_addindent" else inspect.isfunction
        assert kind(getattr(theirs, name)), name   # a name torch has there
        assert kind(getattr(ours, name)), name
        if name not in nn.modules._OWN:
            assert getattr(ours, name) is getattr(nn, name)
            assert getattr(nn.modules, name) is getattr(nn, name)


def _public_subclasses(package: object, base: type) -> set[str]:
    return {name for name in dir(package) if inspect.isclass(getattr(package, name))
            and issubclass(getattr(package, name), base) and not name.startswith("_")}


@pytest.mark.parametrize("sub, base", [(sub, name) for sub, names in nn.modules.SUBMODULES.items()
                                       for name in names if name in nn.modules._OWN
                                       and name not in ("_addindent", "_IncompatibleKeys")])
def test_a_base_class_has_the_subclasses_torchs_has(sub: str, base: str) -> None:
    """isinstance(m, nn.modules.conv._ConvNd) holds for the same layers as in torch (transposed ones too)."""
    ours = getattr(importlib.import_module(f"nn.modules.{sub}"), base)
    theirs = getattr(importlib.import_module(f"torch.nn.modules.{sub}"), base)
    names = _public_subclasses(nn, ours) | (_public_subclasses(tnn, theirs) & set(dir(nn)))
    assert names, base
    assert _public_subclasses(nn, ours) == _public_subclasses(tnn, theirs) & set(dir(nn)), base


def test_import_paths_programs_use() -> None:
    from minigrad.nn.modules.batchnorm import _BatchNorm
    from minigrad.nn.modules.module import Module
    from minigrad.nn.modules.utils import _pair, _quadruple, _reverse_repeat_tuple, _single, _triple

    from minigrad.autograd.function import Function, FunctionCtx, once_differentiable
    assert Function is mg.autograd.Function and FunctionCtx is mg.autograd.FunctionCtx
    assert once_differentiable is mg.autograd.once_differentiable and Module is nn.Module
    assert isinstance(nn.SyncBatchNorm(3), _BatchNorm) and isinstance(nn.LazyBatchNorm1d(), _BatchNorm)
    assert not isinstance(nn.InstanceNorm2d(3), _BatchNorm)
    from torch.nn.modules import utils as tutils
    for ours, theirs in ((_single, tutils._single), (_pair, tutils._pair), (_triple, tutils._triple),
                         (_quadruple, tutils._quadruple)):
        for value in (3, (1, 2), [4, 5, 6], "ab"):
            assert ours(value) == theirs(value)
    assert _reverse_repeat_tuple((1, 2, 3), 2) == tutils._reverse_repeat_tuple((1, 2, 3), 2)
    from minigrad.nn.modules.module import _addindent
    from torch.nn.modules.module import _addindent as theirs
    for text in ("one", "a\nb\n\nc", "x(\n  y\n)\n"):
        assert _addindent(text, 2) == theirs(text, 2)


def test_a_repr_with_blank_lines_in_extra_repr_as_torchs() -> None:
    """Module.__repr__ indents a child's lines with _addindent: blank lines stay empty, as PyTorch's."""
    def build(lib: object) -> object:
        class Note(lib.Module):
            def extra_repr(self) -> str:
                return "first\n\nlast"
        outer = lib.Sequential(lib.Linear(2, 3))
        outer.add_module("note", Note())
        return outer
    assert repr(build(nn)).replace("nn.", "") == repr(build(tnn))


def test_bn_freezing_code_finds_the_same_modules() -> None:
    """The usual 'freeze every batch norm' loop picks the same layers in both libraries."""
    def build(lib: object) -> object:
        return lib.Sequential(lib.Conv2d(3, 4, 3), lib.BatchNorm2d(4), lib.ConvTranspose2d(4, 4, 2),
                              lib.InstanceNorm2d(4), lib.BatchNorm1d(4), lib.GroupNorm(2, 4), lib.Dropout(0.1),
                              lib.Dropout2d(0.1), lib.AdaptiveAvgPool2d(1), lib.AvgPool1d(2))

    def picked(model: object, base: type) -> list[int]:
        return [i for i, m in enumerate(model) if isinstance(m, base)]

    ours, theirs = build(nn), build(tnn)
    for sub, base in (("batchnorm", "_BatchNorm"), ("batchnorm", "_NormBase"), ("conv", "_ConvNd"),
                      ("dropout", "_DropoutNd"), ("pooling", "_AdaptiveAvgPoolNd"), ("pooling", "_AvgPoolNd")):
        assert picked(ours, getattr(importlib.import_module(f"nn.modules.{sub}"), base)) == \
            picked(theirs, getattr(importlib.import_module(f"torch.nn.modules.{sub}"), base)), base


_SMOOTHING = '''
class LabelSmoothingLoss(_WeightedLoss):
    def __init__(self, weight=None, reduction="mean", smoothing=0.1):
        super().__init__(weight=weight, reduction=reduction)
        self.smoothing = smoothing

    def forward(self, logits, target):
        log_p = F.log_softmax(logits, dim=-1)
        classes = logits.size(-1)
        smooth = torch.full_like(log_p, self.smoothing / (classes - 1))
        smooth.scatter_(1, target.unsqueeze(1), 1.0 - self.smoothing)
        if self.weight is not None:
            log_p = log_p * self.weight.unsqueeze(0)
        loss = -(smooth * log_p).sum(-1)
        return loss.mean() if self.reduction == "mean" else loss.sum() if self.reduction == "sum" else loss


class Legacy(_Loss):
    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)

    def forward(self, x, y):
        d = (x - y) ** 2
        return d.mean() if self.reduction == "mean" else d.sum() if self.reduction == "sum" else d
'''


def _losses(lib: object, functional: object, weighted: type, plain: type) -> dict:
    scope = {"torch": lib, "F": functional, "_WeightedLoss": weighted, "_Loss": plain}
    exec(_SMOOTHING, scope)   # noqa: S102 - the test's own source, run once with each library
    return scope


def test_a_loss_written_on_torchs_bases_runs_and_agrees() -> None:
    import torch.nn.functional as TF
    from nn.modules.loss import _Loss, _WeightedLoss
    from torch.nn.modules.loss import _Loss as TLoss
    from torch.nn.modules.loss import _WeightedLoss as TWeighted
    ours = _losses(mg, nn.functional, _WeightedLoss, _Loss)
    theirs = _losses(torch, TF, TWeighted, TLoss)
    rng = np.random.default_rng(0)
    logits, target, weight = rng.standard_normal((5, 4)), rng.integers(0, 4, 5), rng.random(4) + 0.5
    for reduction in ("mean", "sum", "none"):
        for w in (None, weight):
            a = ours["LabelSmoothingLoss"](None if w is None else mg.tensor(w), reduction, 0.2)
            b = theirs["LabelSmoothingLoss"](None if w is None else torch.tensor(w), reduction, 0.2)
            x = mg.tensor(logits, requires_grad=True)
            tx = torch.tensor(logits, requires_grad=True)
            la, lb = a(x, mg.tensor(target)), b(tx, torch.tensor(target))
            np.testing.assert_allclose(la.detach().numpy(), lb.detach().numpy(), rtol=1e-12)
            la.sum().backward()
            lb.sum().backward()
            np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
            assert ("weight" in dict(a.named_buffers())) == ("weight" in dict(b.named_buffers()))
            assert sorted(a.state_dict()) == sorted(b.state_dict())
    with pytest.raises(ValueError, match="LabelSmoothingLoss: reduction must be"):
        ours["LabelSmoothingLoss"](reduction="avg")


def test_the_legacy_pair_on_a_subclass_warns_at_the_users_line() -> None:
    from nn.modules.loss import _Loss, _WeightedLoss
    legacy = _losses(mg, nn.functional, _WeightedLoss, _Loss)["Legacy"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loss = legacy(size_average=False)   # this line
    assert loss.reduction == "sum"
    assert [w.filename for w in caught] == [__file__]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nn.CrossEntropyLoss(reduce=False)   # this line too, through _WeightedLoss
        nn.MSELoss(size_average=True)
    assert [w.filename for w in caught] == [__file__, __file__]


def test_tensor_kind_predicates_and_to_dense_as_torchs() -> None:
    names = ("is_sparse", "is_sparse_csr", "is_quantized", "is_meta", "is_nested", "is_mkldnn", "is_mps", "is_xpu")
    x, t = mg.ones(2, 3), torch.ones(2, 3)
    for name in names:
        assert getattr(x, name) is getattr(t, name) is False, name
    assert x.to_dense() is x and t.to_dense() is t
    assert x.to_dense(mg.float64).dtype == mg.float64
    w = mg.ones(2, requires_grad=True)
    (w * 2).sum().backward()
    assert not w.grad.is_sparse   # a custom optimizer's first line


def test_sdpa_kernel_selection_runs_the_one_math_path() -> None:
    """HF-style code: `with sdpa_kernel(SDPBackend.MATH): F.scaled_dot_product_attention(...)`."""
    from minigrad.nn.attention import SDPBackend, sdpa_kernel
    from torch.nn.attention import SDPBackend as TBackend
    from torch.nn.attention import sdpa_kernel as tkernel
    assert {k: v.value for k, v in SDPBackend.__members__.items()} == \
        {k: v.value for k, v in TBackend.__members__.items()}
    q = np.random.default_rng(1).standard_normal((1, 2, 4, 8))
    with sdpa_kernel([SDPBackend.MATH, SDPBackend.FLASH_ATTENTION]) as ours, tkernel(TBackend.MATH) as theirs:
        a = nn.functional.scaled_dot_product_attention(mg.tensor(q), mg.tensor(q), mg.tensor(q), is_causal=True)
        b = torch.nn.functional.scaled_dot_product_attention(*[torch.tensor(q)] * 3, is_causal=True)
    assert ours == theirs == {}
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)
    with pytest.raises(AssertionError, match="Backend must be an instance of SDPBackend"), sdpa_kernel("math"):
        pass


def test_private_init_helpers_and_the_lazy_mixin_as_torchs() -> None:
    from minigrad.nn.modules.lazy import LazyModuleMixin
    from torch.nn.modules.lazy import LazyModuleMixin as TLazy
    w, tw = mg.empty(5, 3, 2), torch.empty(5, 3, 2)
    for mode in ("fan_in", "FAN_OUT"):
        assert nn.init._calculate_correct_fan(w, mode) == torch.nn.init._calculate_correct_fan(tw, mode)
    with pytest.raises(ValueError):
        nn.init._calculate_correct_fan(w, "fan_avg")
    for name, args in (("LazyLinear", (3,)), ("LazyConv2d", (3, 2)), ("LazyBatchNorm1d", ()),
                       ("LazyInstanceNorm2d", ()), ("Linear", (2, 3)), ("Conv2d", (2, 3, 1))):
        ours, theirs = getattr(nn, name)(*args), getattr(tnn, name)(*args)
        assert isinstance(ours, LazyModuleMixin) == isinstance(theirs, TLazy), name
