"""Round 24: result strides and memory formats as PyTorch's (what ``.stride()``, ``.is_contiguous()`` and ``view()``
see).

Two differential fuzzers against PyTorch 2.13 (random chains of unary, binary and ternary ops, reductions, joins
and splits; joins, losses and spatial nn ops; on C, transposed, channels-last, expanded, stepped and offset inputs)
found, in 3000 + 2500 cases, 62 + 96 results whose dims longer than 1 had other strides than PyTorch's (55 + 88
``view(-1)`` outcomes differed). Causes, each fixed at one place:

- elementwise ops kept NumPy's order "K", which falls back to C order for mixed layouts where PyTorch's
  TensorIterator lets the first operand with an order decide (``x.t() + y`` is transposed in PyTorch);
- channels-last copies of an (N, 1, H, W) tensor kept NumPy's size-1 strides, and ``stack``/``cat`` lay out from
  them; ``keepdim=True`` reductions kept a channels-last input's strides on the reduced dim (PyTorch's are C order);
- ``preserve_format`` copies of expanded inputs ended PyTorch's insertion sort at a 0 stride;
- ``gather``/``take_along_dim`` took the index's layout; ``binary_cross_entropy(_with_logits)`` lost the
  input's (target's) layout; pad/interpolate/pool of a permuted input kept its order.

Left (1 + 3 of those cases): unary ops on an expanded input order its broadcast dims as NumPy does, and
``huber_loss`` of a broadcast input. Sizes-1 dims' strides and empty tensors' strides still differ at times.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _observed(t: Any, lib: Any) -> tuple:
    """What user code sees of a result's layout: strides of its dims longer than 1, contiguity (C and channels
    last for 4-D), whether ``view(-1)`` works; and its values."""
    try:
        t.view(-1)
        flat = True
    except RuntimeError:
        flat = False
    strides = tuple(s for s, n in zip(t.stride(), t.shape) if n > 1)
    last = t.is_contiguous(memory_format=lib.channels_last) if t.ndim == 4 else None
    return tuple(t.shape), strides, bool(t.is_contiguous()), last, flat


def _values(t: Any) -> np.ndarray:
    return np.asarray(t.detach().double().numpy() if t.dtype not in (mg.bool, torch.bool) else t.numpy())


def _layouts(lib: Any) -> dict[str, Callable]:
    """Operands of shape (2, 3, 4, 5) (or broadcast to it) in several layouts, the same values in both libraries."""
    base = np.round(np.random.default_rng(24).standard_normal((2, 3, 4, 5)), 3) + 2.0

    def c_order(k: int = 0) -> Any:
        return lib.tensor(base + k)

    return {
        "C": c_order,
        "transposed": lambda k=0: lib.tensor(np.ascontiguousarray((base + k).T)).permute(3, 2, 1, 0),
        "channels_last": lambda k=0: c_order(k).contiguous(memory_format=lib.channels_last),
        "stepped": lambda k=0: lib.tensor(np.repeat(base + k, 2, axis=1))[:, ::2],
        "row": lambda k=0: lib.tensor((base + k)[:1, :1, :1]).permute(0, 1, 3, 2).contiguous().permute(0, 1, 3, 2),
        "broadcast_t": lambda k=0: lib.tensor(np.ascontiguousarray((base + k)[0, 0].T)).t(),
    }


BINARY: dict[str, Callable] = {
    "add": lambda lib, a, b: a + b,
    "sub": lambda lib, a, b: a - b,
    "mul": lambda lib, a, b: a * b,
    "div": lambda lib, a, b: a / b,
    "pow": lambda lib, a, b: a ** b,
    "maximum": lambda lib, a, b: lib.maximum(a, b),
    "minimum": lambda lib, a, b: lib.minimum(a, b),
    "where": lambda lib, a, b: lib.where(a > 2, a, b),
    "clamp": lambda lib, a, b: lib.clamp(a, min=b),
    "lerp": lambda lib, a, b: lib.lerp(a, b, 0.25),
    "gt": lambda lib, a, b: a > b,
    "eq": lambda lib, a, b: a == b,
    "atan2": lambda lib, a, b: lib.atan2(a, b),
    "hypot": lambda lib, a, b: lib.hypot(a, b),
    "fmod": lambda lib, a, b: lib.fmod(a, b),
}
PAIRS = [("transposed", "C"), ("channels_last", "C"), ("broadcast_t", "C"), ("stepped", "transposed")]


@pytest.mark.parametrize("first,second", PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_result_layout_as_torch(name: str, first: str, second: str) -> None:
    results = []
    for lib in (mg, torch):
        layouts = _layouts(lib)
        results.append(BINARY[name](lib, layouts[first](), layouts[second](1)))
    ours, theirs = results
    assert _observed(ours, mg) == _observed(theirs, torch)
    np.testing.assert_allclose(_values(ours), _values(theirs), rtol=1e-12, atol=0)


TERNARY: dict[str, Callable] = {
    "where": lambda lib, c, a, b: lib.where(c > 2, a, b),
    "clamp": lambda lib, x, lo, hi: lib.clamp(x, lo - 0.5, hi),
    "lerp": lambda lib, s, e, w: lib.lerp(s, e, w / 8),
    "addcmul": lambda lib, a, b, c: lib.addcmul(a, b, c),
}


@pytest.mark.parametrize("name", list(TERNARY))
@pytest.mark.parametrize("layouts", [("transposed", "C", "channels_last"), ("row", "channels_last", "C")],
                         ids=["t-c-cl", "row-cl-c"])
def test_ternary_result_layout_as_torch(name: str, layouts: tuple) -> None:
    results = []
    for lib in (mg, torch):
        made = _layouts(lib)
        results.append(TERNARY[name](lib, *(made[layout](k) for k, layout in enumerate(layouts))))
    ours, theirs = results
    assert _observed(ours, mg) == _observed(theirs, torch)
    np.testing.assert_allclose(_values(ours), _values(theirs), rtol=1e-12, atol=0)


def test_view_of_a_transposed_sum_raises_as_in_torch() -> None:
    """The user-visible case: ``(x.t() + y).view(-1)`` raises in PyTorch (the result is transposed), so it does
    here; ``(y + x.t()).view(-1)`` works in both, with the same values."""
    x, y = np.arange(6.0).reshape(3, 2), np.arange(6.0).reshape(2, 3) * 10
    with pytest.raises(RuntimeError):
        (torch.tensor(x).t() + torch.tensor(y)).view(-1)
    with pytest.raises(RuntimeError):
        (mg.tensor(x).t() + mg.tensor(y)).view(-1)
    ours = (mg.tensor(y) + mg.tensor(x).t()).view(-1)
    assert ours.tolist() == (torch.tensor(y) + torch.tensor(x).t()).view(-1).tolist()
    grad = mg.tensor(x, requires_grad=True)
    (grad.t() * mg.tensor(y)).sum().backward()
    assert grad.grad.tolist() == y.T.tolist()


def test_row_slices_keep_c_order() -> None:
    """The recurrent-gate case the fast path keeps: slices of rows (strides in C order, not contiguous) give a
    C-contiguous result in both libraries."""
    gates = np.arange(4 * 96.0).reshape(4, 96)
    for lib in (mg, torch):
        g = lib.tensor(gates)
        out = g[:, :32] + g[:, 32:64] * g[:, 64:]
        assert out.is_contiguous() and out.stride() == (32, 1)


def test_channels_last_copy_of_one_channel_has_torch_strides() -> None:
    """An (N, 1, H, W) copy into channels-last: NumPy's ascontiguousarray kept a C-contiguous array as it was, so
    a size-1 dim's stride differed from PyTorch's (3, 1, 3, 1); ``stack`` and ``cat`` lay their result out from
    those strides, and the stack of two such tensors was contiguous here and not in PyTorch (``view`` then
    raised there only)."""
    results = []
    for lib in (mg, torch):
        x = lib.tensor(np.arange(30.0).reshape(5, 1, 2, 3))[:, :, ::2]
        made = [x.contiguous(memory_format=lib.channels_last), x.to(memory_format=lib.channels_last),
                x.clone(memory_format=lib.channels_last)]
        results.append([(tuple(t.stride()), _observed(lib.stack([t, t], 1), lib)) for t in made])
    assert results[0] == results[1]


GPU_OPS: dict[str, Callable] = {
    "add": lambda lib, a, b: a + b,
    "where": lambda lib, a, b: lib.where(a > 2, a, b),
    "gt": lambda lib, a, b: a > b,
    "atan2": lambda lib, a, b: lib.atan2(a, b),
    "sigmoid_complex": lambda lib, a, b: lib.complex(a, b).sigmoid(),
    "div_complex": lambda lib, a, b: lib.complex(a, b) / lib.complex(b, a),
}


@pytest.mark.gpu
@pytest.mark.parametrize("name", list(GPU_OPS))
def test_result_layout_on_gpu_as_on_cpu_and_torch(name: str) -> None:
    """The layout rule runs on device arrays too: a transposed first operand decides on the GPU as on the CPU (the
    complex sigmoid's and quotient's several CuPy steps gave C order)."""
    made = _layouts(mg)
    expected = _observed(GPU_OPS[name](torch, *(_layouts(torch)[k]() for k in ("transposed", "C"))), torch)
    for device in ("cpu", "cuda"):
        result = GPU_OPS[name](mg, made["transposed"]().to(device), made["C"]().to(device))
        assert _observed(result, mg) == expected, device


KEEPDIM: dict[str, Callable] = {
    "sum": lambda lib, x: x.sum(1, keepdim=True),
    "mean_hw": lambda lib, x: x.mean((2, 3), keepdim=True),
    "amax": lambda lib, x: x.amax(1, keepdim=True),
    "max": lambda lib, x: x.max(1, keepdim=True),
    "std": lambda lib, x: x.std(1, keepdim=True),
    "var": lambda lib, x: x.var(1, keepdim=True),
    "logsumexp": lambda lib, x: x.logsumexp(1, keepdim=True),
    "norm": lambda lib, x: x.norm(dim=1, keepdim=True),
    "prod": lambda lib, x: x.prod(1, keepdim=True),
    "nansum": lambda lib, x: lib.nansum(x, 1, keepdim=True),
    "nanmean": lambda lib, x: lib.nanmean(x, 1, keepdim=True),
    "any": lambda lib, x: (x > 1).any(1, keepdim=True),
    "mode": lambda lib, x: x.mode(1, keepdim=True),
    "kthvalue": lambda lib, x: x.kthvalue(2, 1, keepdim=True),
}


@pytest.mark.parametrize("name", list(KEEPDIM))
def test_keepdim_reduction_of_channels_last_is_c_order_as_torch(name: str) -> None:
    """PyTorch's reductions allocate a C-contiguous result, size-1 dims' strides included; NumPy's ``keepdims``
    result kept the channels-last input's strides on the reduced dim, so ``cat([x, x.sum(1, keepdim=True)], 1)``
    of a channels-last ``x`` was channels-last here and C order in PyTorch (``view`` of it then differed)."""
    results = []
    for lib in (mg, torch):
        out = KEEPDIM[name](lib, _layouts(lib)["channels_last"]())
        parts = list(out) if isinstance(out, tuple) else [out]
        results.append(([tuple(t.stride()) for t in parts], _observed(lib.cat([parts[0], parts[0]], 1), lib)))
    assert results[0] == results[1]


def test_preserve_format_copy_of_an_expanded_permuted_input_as_torch() -> None:
    """``preserve_format`` copies (``clone``, ``.to``, ``.float()``, ``*_like``) of an input that is not dense take
    PyTorch's ``infer_dense_strides`` order, whose insertion sort steps over a 0 stride (and over equal strides)
    instead of ending the dim's move there: (5, 4, 2) strides (1, 0, 5) copies to (1, 5, 20) in PyTorch, was C order
    here (``view(-1)`` of the copy then worked only here)."""
    results = []
    for lib in (mg, torch):
        x = lib.tensor(np.arange(10.0).reshape(1, 2, 5)).expand(4, 2, 5).permute(2, 0, 1)
        copies = [x.clone(), x.float(), x.to(lib.float32, memory_format=lib.preserve_format), lib.zeros_like(x),
                  lib.empty_like(x).zero_()]
        results.append([_observed(t, lib) + (tuple(t.stride()),) for t in copies])
    assert results[0] == results[1]


def test_gather_result_is_c_order_as_torch() -> None:
    """``gather``/``take_along_dim`` allocate a C-contiguous result in PyTorch; NumPy's take_along_axis took the
    index's layout (an index from ``zeros_like`` of a transposed input: a transposed result, ``view(-1)`` raised)."""
    results = []
    for lib in (mg, torch):
        x = lib.tensor(np.arange(60.0).reshape(5, 3, 4)).permute(0, 2, 1)
        index = lib.zeros_like(x, dtype=lib.int64)
        results.append([_observed(t, lib) for t in (x.gather(1, index), lib.take_along_dim(x, index, 1))])
    assert results[0] == results[1]


def test_bce_with_logits_keeps_the_target_layout_as_torch() -> None:
    """PyTorch computes ``binary_cross_entropy_with_logits`` in place on ``1 - target``: the unreduced loss has the
    target's layout (a channels-last or transposed target: a channels-last or transposed loss), with or without
    ``weight``/``pos_weight``; it was C order here."""
    base = np.arange(120.0).reshape(2, 3, 4, 5) / 100 - 0.5
    results = []
    for lib in (mg, torch):
        functional = mg.nn.functional if lib is mg else torch.nn.functional
        x, t = lib.tensor(base), lib.tensor(base + 0.5).contiguous(memory_format=lib.channels_last)
        w = lib.tensor(base[0, 0]).t().contiguous().t()
        losses = [functional.binary_cross_entropy_with_logits(x, t, reduction="none"),
                  functional.binary_cross_entropy_with_logits(x, t, weight=w, reduction="none"),
                  functional.binary_cross_entropy_with_logits(x[0, 0], t[0, 0].t().contiguous().t(), reduction="none")]
        results.append(([_observed(loss, lib) for loss in losses], [_values(loss) for loss in losses]))
    assert results[0][0] == results[1][0]
    for ours, theirs in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


def test_bce_keeps_the_input_layout_as_torch() -> None:
    """PyTorch's ``binary_cross_entropy`` writes into ``empty_like(input)`` (weight multiplied in place): a
    channels-last input gives a channels-last loss; NumPy's steps gave C order here."""
    base = np.arange(1.0, 121.0).reshape(2, 3, 4, 5) / 130
    results = []
    for lib in (mg, torch):
        functional = mg.nn.functional if lib is mg else torch.nn.functional
        x, t = lib.tensor(base).contiguous(memory_format=lib.channels_last), lib.tensor(base[::-1].copy())
        losses = [functional.binary_cross_entropy(x, t, reduction="none"),
                  functional.binary_cross_entropy(x, t, weight=lib.tensor(base[0, 0]).t().contiguous().t(),
                                                  reduction="none")]
        results.append(([_observed(loss, lib) for loss in losses], [_values(loss) for loss in losses]))
    assert results[0][0] == results[1][0]
    for ours, theirs in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


def test_spatial_results_of_a_permuted_input_are_c_order_as_torch() -> None:
    """PyTorch's pad/interpolate/pool/conv kernels allocate a channels-last or a C-order result (the input's
    suggested format); a permuted input that is neither gave a result in its own order here (replicate and reflect
    padding: strides (147, 7, 21, 1), PyTorch's (147, 49, 7, 1))."""
    base = np.arange(1.0, 301.0).reshape(4, 5, 5, 3) / 300
    results = []
    for lib in (mg, torch):
        functional = mg.nn.functional if lib is mg else torch.nn.functional
        x = lib.tensor(base).permute(0, 3, 2, 1)
        outs = [functional.pad(x, (1, 1, 1, 1), mode=mode) for mode in ("constant", "replicate", "reflect")]
        outs += [functional.interpolate(x, scale_factor=2, mode=mode) for mode in ("nearest", "bilinear")]
        outs += [functional.max_pool2d(x, 2), functional.adaptive_avg_pool2d(x, 2)]
        results.append(([_observed(t, lib) for t in outs], [_values(t) for t in outs]))
    assert results[0][0] == results[1][0]
    for ours, theirs in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
