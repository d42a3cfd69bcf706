"""nn.Module API against torch.nn.Module, round 25 (random module trees, overrides, nn.utils): what the
fuzzing found. A child's own ``train`` override runs from its parent's ``train()``/``eval()`` (the frozen
batch-norm idiom), as PyTorch's."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")

SIDES = [(torch, torch.nn), (mg, nn)]


def _both(case: Callable) -> Any:
    """``case(T, N)`` on torch's side and on ours: the same answers."""
    theirs, ours = (case(T, N) for T, N in SIDES)
    assert ours == theirs
    return ours


def _frozen_backbone(T: Any, N: Any, log: list) -> Any:
    class Backbone(N.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = N.Linear(2, 2, dtype=T.float64)
            self.bn = N.BatchNorm1d(2, dtype=T.float64)

        def forward(self, x: Any) -> Any:
            return self.bn(self.lin(x))

        def train(self, mode: bool = True) -> Any:
            log.append(mode)
            super().train(mode)
            self.bn.eval()   # running statistics frozen while the rest trains
            return self

    return N.Sequential(Backbone(), N.Dropout(0.0), N.Linear(2, 1, dtype=T.float64))


@pytest.mark.parametrize("call", ["train", "eval", "train_false", "nested"])
def test_child_train_override_runs_from_parent(call: str) -> None:
    def case(T: Any, N: Any) -> Any:
        log: list = []
        model = _frozen_backbone(T, N, log)
        if call == "nested":
            model = N.Sequential(N.ModuleList([model]))
        {"train": lambda: model.train(), "eval": lambda: model.eval(),
         "train_false": lambda: model.train(False), "nested": lambda: model.train()}[call]()
        flags = [(name, m.training) for name, m in model.named_modules()]
        return log, flags

    _both(case)


def test_frozen_batch_norm_keeps_running_stats_over_training_steps() -> None:
    def case(T: Any, N: Any) -> Any:
        model = _frozen_backbone(T, N, []).train()
        x = T.tensor(np.random.default_rng(0).standard_normal((4, 2)))
        bn = model[0].bn
        before = bn.running_mean.tolist()
        for _ in range(2):
            model(x).sum().backward()
        return before == bn.running_mean.tolist(), int(bn.num_batches_tracked), bn.training, model[2].training

    assert _both(case) == (True, 0, False, True)


def test_train_mode_validation_and_return() -> None:
    def case(T: Any, N: Any) -> Any:
        model = N.Sequential(N.Linear(1, 1), N.Sequential(N.ReLU()))
        out = [model.train(False) is model, [m.training for m in model.modules()]]
        try:
            model.train("yes")
        except ValueError:
            out.append("ValueError")
        out.append([m.training for m in model.modules()])
        return out

    _both(case)


def _with_cache(T: Any, N: Any, log: list) -> Any:
    class Positional(N.Module):
        """A plain tensor attribute (not a buffer) that its own ``_apply`` converts with the module."""

        def __init__(self) -> None:
            super().__init__()
            self.lin = N.Linear(2, 2)
            self.register_buffer("steps", T.tensor([1, 2]))
            self.cache = T.tensor([0.5, 1.5])

        def _apply(self, fn: Any, recurse: bool = True) -> Any:
            log.append(type(self).__name__)
            super()._apply(fn, recurse)
            self.cache = fn(self.cache)
            return self

    return N.Sequential(N.Linear(2, 2), N.Sequential(Positional()))


@pytest.mark.parametrize("call", ["double", "half", "float", "to_dtype", "to_tensor", "cpu", "child_double"])
def test_own_apply_override_runs_from_conversions(call: str) -> None:
    def case(T: Any, N: Any) -> Any:
        log: list = []
        model = _with_cache(T, N, log)
        model[0].weight.sum().backward()
        weight = model[0].weight
        convert = {"double": lambda: model.double(), "half": lambda: model.half(), "float": lambda: model.float(),
                   "to_dtype": lambda: model.to(T.float64), "to_tensor": lambda: model.to(T.zeros(1, dtype=T.float16)),
                   "cpu": lambda: model.cpu(), "child_double": lambda: model[1].double()}[call]
        assert convert() is not None
        pos = model[1][0]
        return (log, str(pos.cache.dtype), pos.cache.tolist(), str(pos.steps.dtype), str(pos.lin.weight.dtype),
                str(model[0].weight.dtype), str(model[0].weight.grad.dtype), model[0].weight is weight,
                type(pos.lin.weight).__name__, pos.lin.weight.requires_grad)

    theirs, ours = (case(T, N) for T, N in SIDES)
    assert ours == tuple(x.replace("torch.", "") if isinstance(x, str) else x for x in theirs)


def _trainable_only(T: Any, N: Any) -> Any:
    class Model(N.Module):
        """``parameters()``/``named_parameters()``/``buffers()`` list the trainable ones only (for an optimizer)."""

        def __init__(self) -> None:
            super().__init__()
            self.frozen = N.Linear(2, 2).requires_grad_(False)
            self.head = N.Linear(2, 1)
            self.register_buffer("scale", T.ones(2))

        def named_parameters(self, *args: Any, **kwargs: Any) -> Any:
            return ((n, p) for n, p in super().named_parameters(*args, **kwargs) if p.requires_grad)

        def parameters(self, recurse: bool = True) -> Any:
            return (p for p in super().parameters(recurse) if p.requires_grad)

        def buffers(self, recurse: bool = True) -> Any:
            return iter(())

        def named_buffers(self, *args: Any, **kwargs: Any) -> Any:
            return iter(())

    return Model()


@pytest.mark.parametrize("call", ["double", "half", "to_dtype", "type"])
def test_conversions_reach_tensors_that_overridden_listings_leave_out(call: str) -> None:
    def case(T: Any, N: Any) -> Any:
        model = _trainable_only(T, N)
        {"double": lambda: model.double(), "half": lambda: model.half(), "to_dtype": lambda: model.to(T.float64),
         "type": lambda: model.type(T.float64)}[call]()
        tensors = [model.frozen.weight, model.frozen.bias, model.head.weight, model.scale]
        return [(str(t.dtype).replace("torch.", ""), tuple(t.shape)) for t in tensors], len(list(model.parameters()))

    _both(case)


@pytest.mark.parametrize("spelling", ["tensor_kw", "tensor_kw_nb", "tensor_kw_and_device", "tensor_kw_int", "copy"])
def test_to_keyword_spellings(spelling: str) -> None:
    def case(T: Any, N: Any) -> Any:
        model = N.Sequential(N.Linear(1, 1), N.BatchNorm1d(1))
        half = T.zeros(1, dtype=T.float16)
        call = {"tensor_kw": lambda: model.to(tensor=half),
                "tensor_kw_nb": lambda: model.to(tensor=half, non_blocking=True),
                "tensor_kw_and_device": lambda: model.to("cpu", tensor=half),
                "tensor_kw_int": lambda: model.to(tensor=3),
                "copy": lambda: model.to(T.float64, copy=True)}[spelling]
        try:
            assert call() is model
        except (TypeError, RuntimeError) as error:
            return type(error).__name__
        return [(name, str(t.dtype).replace("torch.", "")) for name, t in model.state_dict().items()]

    _both(case)
