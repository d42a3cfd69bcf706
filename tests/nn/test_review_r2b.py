"""Review follow-ups in nn/: an optimizer that takes a complex parameter but does not step it (the
``accepts_complex`` flag, Adafactor's), one lr reading (``lr_scalar``) for optimizers and schedules with an
integer Tensor lr as PyTorch's, ``nn.modules.module``'s global hook functions (the deprecated
``register_module_backward_hook`` refused by name), the global-hook count behind every module call, and a
state-dict load that copies an incoming value only when a tensor written before it shares its memory."""

from __future__ import annotations

import tracemalloc
import warnings
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn
from nn.hooks import has_hooks


def test_accepts_complex_is_taken_by_the_constructor_and_refused_by_step() -> None:
    class Plain(nn.optim.Optimizer):
        def __init__(self, params: Any) -> None:
            super().__init__(params, {"lr": 0.1})

        def _update(self, param: Any, grad: Any, state: dict, hyper: dict) -> None:
            param -= hyper["lr"] * grad

    class Taking(Plain):
        accepts_complex = True

    z = nn.Parameter(mg.tensor(np.array([1 + 2j, 3 - 1j])))
    with pytest.raises(TypeError, match="complex"):
        Plain([z])
    opt = Taking([z])
    opt.step()                                  # no gradient: nothing to refuse, as PyTorch's Adafactor
    z.grad = mg.tensor(np.array([1 + 0j, 1j]))
    with pytest.raises(RuntimeError, match=r"Taking: does not support complex parameters \(parameter 0"):
        opt.step()
    assert z.data.tolist() == [1 + 2j, 3 - 1j] and not opt.state[z]
    # Adafactor: the same refusal at step; its state dict still loads (the check is step's alone)
    ada = nn.optim.Adafactor([z])
    ada.load_state_dict(ada.state_dict())
    with pytest.raises(TypeError, match="Adafactor: does not support complex parameters"):
        ada.step()


def _int_lr_run(lib: Any, optim: Any, tensor: Any, parameter: Any) -> list:
    """An int64 Tensor lr through ExponentialLR (gamma 0.7: 90·0.7 is 62.99… in float64, 63 in float32),
    ReduceLROnPlateau, and an Adam step (which computes lr / (1 - beta1) in float32)."""
    p = parameter(tensor(np.ones(3)))
    opt = optim.SGD([p], lr=tensor(np.array(90, dtype=np.int64)))
    scheduler = optim.lr_scheduler.ExponentialLR(opt, 0.7)
    opt.step()
    scheduler.step()
    out = [int(opt.param_groups[0]["lr"].item())]
    plateau = optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.35)
    plateau.step(1.0)
    plateau.step(2.0)
    out.append(int(opt.param_groups[0]["lr"].item()))
    q = parameter(tensor(np.ones(2)))
    adam = optim.Adam([q], lr=tensor(np.array(1, dtype=np.int32)))
    q.grad = tensor(np.full(2, 0.1))
    adam.step()
    return [*out, float(q.data[0].item())]


def test_an_integer_tensor_lr_computes_in_float32_as_torch() -> None:
    torch = pytest.importorskip("torch", reason="no torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = _int_lr_run(torch, torch.optim, torch.tensor, torch.nn.Parameter)
        ours = _int_lr_run(mg, nn.optim, mg.tensor, nn.Parameter)
    assert ours == theirs
    assert ours[0] == 63
    lr_scalar = nn.optim.checks.lr_scalar
    assert [type(lr_scalar(v)) for v in (mg.tensor(3), mg.tensor(np.float16(2)), 0.5, 2)] == \
        [np.float32, np.float16, float, int]


def test_nn_modules_module_holds_torchs_global_hook_functions() -> None:
    torch = pytest.importorskip("torch", reason="no torch")
    from nn.modules import module as ours

    assert set(ours.__all__) == set(torch.nn.modules.module.__all__)
    assert not [name for name in dir(nn.modules) if name.startswith("register_module")]   # as torch.nn.modules
    assert ours.register_module_forward_hook is nn.module.register_module_forward_hook
    with pytest.raises(NotImplementedError, match="register_module_full_backward_hook"):
        ours.register_module_backward_hook(lambda module, grad_input, grad_output: None)


def test_has_hooks_follows_global_registrations_and_removals() -> None:
    from nn.modules.module import register_module_forward_hook, register_module_full_backward_pre_hook

    layer, calls = nn.Identity(), []
    assert not has_hooks(layer)
    first = register_module_forward_hook(lambda m, args, out: calls.append(1))
    second = register_module_full_backward_pre_hook(lambda m, go: None)
    try:
        assert has_hooks(layer)
        first.remove()
        first.remove()                         # a second remove changes nothing (the count stays right)
        assert has_hooks(layer)
        layer(mg.ones(2))
    finally:
        second.remove()
    assert not has_hooks(layer) and calls == []
    layer(mg.ones(2))
    assert calls == []


def _rotating(sizes: int) -> tuple[Any, dict]:
    seq = nn.Sequential(*[nn.Linear(sizes, sizes, bias=False) for _ in range(3)])
    weights = [layer.weight for layer in seq]
    rotated = {f"{i}.weight": weights[(i + 1) % 3] for i in range(3)}   # 0 <- 1, 1 <- 2, 2 <- 0
    return seq, rotated


def test_load_state_dict_copies_only_what_an_earlier_write_would_clobber() -> None:
    seq, rotated = _rotating(4)
    before = [layer.weight.data.copy() for layer in seq]
    seq.load_state_dict(rotated)
    for i, layer in enumerate(seq):
        np.testing.assert_array_equal(layer.weight.data, before[(i + 1) % 3])
    # reloading a module's own state dict (values in their own tensors' memory) makes no extra copy
    big = nn.Linear(512, 512, bias=False).double()
    state, size = big.state_dict(), big.weight.data.nbytes
    tracemalloc.start()
    try:
        big.load_state_dict(state)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * size, (peak, size)   # the undo copy of the weight, not a second copy of the value
