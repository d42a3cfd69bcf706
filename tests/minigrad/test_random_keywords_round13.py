"""PyTorch's keywords of the random ops and factories: ``layout=``, ``pin_memory=``, ``out=``, ``generator=``,
``requires_grad=`` (with ``out=`` too), ``dtype=``/``device=``, each with torch's meaning.

Every call runs in torch and in minigrad with the same arguments; shapes, dtypes, ``requires_grad`` and error
classes must agree (sampled values differ by design, so draws are checked for determinism under a seed instead).
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")

# name -> call(L, x, **keywords); L is torch or mg, x a (2, 3) float32 tensor of ones of that library
FACTORIES: dict[str, Callable[..., Any]] = {
    "rand": lambda L, x, **k: L.rand(2, 3, **k),
    "randn": lambda L, x, **k: L.randn(2, 3, **k),
    "randint": lambda L, x, **k: L.randint(0, 5, (2, 3), **k),
    "randperm": lambda L, x, **k: L.randperm(4, **k),
    "rand_like": lambda L, x, **k: L.rand_like(x, **k),
    "randn_like": lambda L, x, **k: L.randn_like(x, **k),
    "randint_like": lambda L, x, **k: L.randint_like(x, 5, **k),
    "normal": lambda L, x, **k: L.normal(0.0, 1.0, (2, 3), **k),
    "zeros": lambda L, x, **k: L.zeros(2, 3, **k),
    "zeros_size": lambda L, x, **k: L.zeros(size=(2, 3), **k),
    "ones": lambda L, x, **k: L.ones(2, 3, **k),
    "full": lambda L, x, **k: L.full((2, 3), 1.5, **k),
    "empty": lambda L, x, **k: L.empty(2, 3, **k),
    "arange": lambda L, x, **k: L.arange(5, **k),
    "arange3": lambda L, x, **k: L.arange(0.0, 2.0, 0.5, **k),
    "linspace": lambda L, x, **k: L.linspace(0, 1, 5, **k),
    "logspace": lambda L, x, **k: L.logspace(0, 1, 5, **k),
    "eye": lambda L, x, **k: L.eye(3, 2, **k),
    "empty_strided": lambda L, x, **k: L.empty_strided((2, 3), (1, 2), **k),
    "zeros_like": lambda L, x, **k: L.zeros_like(x, **k),
    "ones_like": lambda L, x, **k: L.ones_like(x, **k),
    "empty_like": lambda L, x, **k: L.empty_like(x, **k),
    "full_like": lambda L, x, **k: L.full_like(x, 2, **k),
    "new_zeros": lambda L, x, **k: x.new_zeros((2, 2), **k),
    "new_ones": lambda L, x, **k: x.new_ones(2, 2, **k),
    "new_empty": lambda L, x, **k: x.new_empty((2, 2), **k),
    "new_full": lambda L, x, **k: x.new_full((2, 2), 3, **k),
    "new_empty_strided": lambda L, x, **k: x.new_empty_strided((2, 2), (1, 2), **k),
}
PIN_ONLY = {  # torch takes pin_memory but no layout here
    "tensor": lambda L, x, **k: L.tensor([1, 2], **k),
}


def _outcome(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``call(*args, **kwargs)``'s (shape, dtype, requires_grad), or the exception it raised."""
    try:
        result = call(*args, **kwargs)
    except Exception as error:  # noqa: BLE001 - the class is what is compared
        return error
    return tuple(result.shape), str(result.dtype).replace("torch.", ""), result.requires_grad


def _same(name: str, what: str, theirs: Any, ours: Any) -> None:
    if isinstance(theirs, Exception):
        assert isinstance(ours, type(theirs)), f"{name}({what}): torch raises {theirs!r}, minigrad gave {ours!r}"
    else:
        assert ours == theirs, f"{name}({what}): torch gives {theirs}, minigrad {ours}"


def test_layout_pin_memory_dtype_device_requires_grad_as_torch() -> None:
    """Each keyword torch's factories take is accepted with torch's result; what torch refuses raises the same
    class here (pin_memory=1 and layout='strided' are TypeErrors; an int tensor cannot require grad)."""
    cases = [{"layout": None}, {"pin_memory": False}, {"pin_memory": None}, {"requires_grad": True},
             {"requires_grad": None}, {"dtype": "float64"}, {"device": "cpu"}, {"pin_memory": 1},
             {"layout": "strided"}, {"layout": "strided", "pin_memory": False, "requires_grad": True}]
    for name, call in {**FACTORIES, **PIN_ONLY}.items():
        for keywords in cases:
            if name in PIN_ONLY and "layout" in keywords:
                continue
            lib_kw = [{k: getattr(L, v) if k == "dtype" else v for k, v in keywords.items()} for L in (torch, mg)]
            for kw, L in zip(lib_kw, (torch, mg)):
                if kw.get("layout") == "strided" and len(kw) > 1:
                    kw["layout"] = L.strided
            theirs = _outcome(call, torch, torch.ones(2, 3), **lib_kw[0])
            ours = _outcome(call, mg, mg.ones(2, 3), **lib_kw[1])
            _same(name, str(keywords), theirs, ours)
    # a layout minigrad lacks (torch: a sparse tensor, or NotImplementedError): refused, a RuntimeError too
    sparse = type(mg.strided)("sparse_coo")
    for name, call in FACTORIES.items():
        op = name.removesuffix("_size").removesuffix("3").replace("new_empty_strided", "empty_strided")
        with pytest.raises(NotImplementedError, match=op):
            call(mg, mg.ones(2, 3), layout=sparse)
    assert mg.zeros(2, layout=torch.strided).shape == (2,)   # torch's own strided layout object is strided too


def test_pin_memory_true_as_torch_on_this_machine() -> None:
    """pin_memory=True: without a GPU PyTorch raises a RuntimeError (no pinned-memory allocator); minigrad does
    the same, and with a GPU accepts it (a CPU tensor, as PyTorch's pinned one). With out= it is ignored."""
    gpu = mg.cuda.is_available()
    for name, call in {**FACTORIES, **PIN_ONLY}.items():
        theirs = _outcome(call, torch, torch.ones(2, 3), pin_memory=True)
        ours = _outcome(call, mg, mg.ones(2, 3), pin_memory=True)
        if gpu:
            assert not isinstance(ours, Exception), f"{name}: {ours!r}"
            assert ours[:2] == _outcome(call, mg, mg.ones(2, 3))[:2]
        else:
            if not torch.cuda.is_available():
                assert isinstance(theirs, RuntimeError), name
            assert isinstance(ours, RuntimeError) and "pin_memory" in str(ours), f"{name}: {ours!r}"
    for L in (torch, mg):
        out = L.empty(0)
        assert L.zeros(2, out=out, pin_memory=True) is out and out.shape == (2,)


def _outs(L: Any) -> dict[str, Any]:
    return {"f": L.empty(0), "i": L.empty(0, dtype=L.int64), "f5": L.empty(5), "f23": L.empty(2, 3)}


OUT_CALLS: dict[str, Callable[..., Any]] = {
    "normal_ff": lambda L, x, o, **k: L.normal(0.0, 1.0, (2, 3), out=o, **k),
    "normal_tt": lambda L, x, o, **k: L.normal(x, x, out=o, **k),
    "normal_tf": lambda L, x, o, **k: L.normal(x, 2.0, out=o, **k),
    "normal_ft": lambda L, x, o, **k: L.normal(1.0, x, out=o, **k),
    "bernoulli": lambda L, x, o, **k: L.bernoulli(x * 0.5, out=o, **k),
    "multinomial": lambda L, x, o, **k: L.multinomial(x, 2, out=o, **k),
    "multinomial_r": lambda L, x, o, **k: L.multinomial(x, 5, True, out=o, **k),
    "rand": lambda L, x, o, **k: L.rand(2, 3, out=o, **k),
    "randn": lambda L, x, o, **k: L.randn(2, 3, out=o, **k),
    "randint": lambda L, x, o, **k: L.randint(3, (2, 3), out=o, **k),
    "randperm": lambda L, x, o, **k: L.randperm(6, out=o, **k),
    "zeros": lambda L, x, o, **k: L.zeros(2, 3, out=o, **k),
    "ones": lambda L, x, o, **k: L.ones((2, 3), out=o, **k),
    "full": lambda L, x, o, **k: L.full((2, 3), 2, out=o, **k),
    "empty": lambda L, x, o, **k: L.empty(2, 3, out=o, **k),
    "arange": lambda L, x, o, **k: L.arange(0, 6, out=o, **k),
    "linspace": lambda L, x, o, **k: L.linspace(0, 1, 6, out=o, **k),
    "logspace": lambda L, x, o, **k: L.logspace(0, 1, 6, out=o, **k),
    "eye": lambda L, x, o, **k: L.eye(2, 3, out=o, **k),
}


def test_out_writes_resizes_returns_and_takes_requires_grad_as_torch() -> None:
    """out=: the result is out itself, resized to the result's shape and in out's dtype; requires_grad=True with
    out= makes out require grad (an int64 out raises); the dtypes each op refuses for out raise as torch's."""
    for name, call in OUT_CALLS.items():
        for which in ("f", "i", "f5", "f23"):
            for keywords in ({}, {"requires_grad": True}, {"generator": None}):
                if keywords and name.startswith(("normal_t", "normal_ft", "bernoulli", "multinomial")) \
                        and "requires_grad" in keywords:
                    continue   # torch's tensor overloads take no requires_grad
                if name == "normal_tf" and which != "f23":
                    continue   # torch's Tensor_float overload does not resize out (it broadcasts into it)
                results = []
                for L in (torch, mg):
                    out = _outs(L)[which]
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        got = _outcome(call, L, L.ones(2, 3), out, **keywords)
                    if not isinstance(got, Exception):
                        assert got == (tuple(out.shape), str(out.dtype).replace("torch.", ""),
                                                            out.requires_grad)
                    results.append(got)
                _same(name, f"out={which}, {keywords}", *results)
    # returns out itself, with values of the op: 0/1 draws in an int64 out, distinct categories, N(5, 0) = 5
    for L in (torch, mg):
        out = L.empty(0, dtype=L.int64)
        assert L.bernoulli(L.full((50,), 0.5), out=out) is out
        assert set(np.unique(out.numpy()).tolist()) <= {0, 1} and out.dtype == L.int64
        picks = L.empty(0, dtype=L.int64)
        assert L.multinomial(L.ones(4, 6), 6, out=picks) is picks
        assert (np.sort(picks.numpy(), axis=1) == np.arange(6)).all()
        target = L.empty(3, dtype=L.float64)
        assert L.normal(5.0, L.zeros(3, dtype=L.float64), out=target) is target
        assert target.tolist() == [5.0, 5.0, 5.0]


def test_out_resize_warning_as_torch() -> None:
    """A non-empty out of the wrong shape: normal with a tensor mean or std warns, as torch's; normal with
    numbers, bernoulli, multinomial and the factories resize it silently, as torch's."""
    for name in ("normal_ff", "normal_tt", "normal_ft", "bernoulli", "multinomial", "zeros", "rand", "randperm"):
        warned = []
        for L in (torch, mg):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                OUT_CALLS[name](L, L.ones(2, 3), L.empty(7) if name != "multinomial" else L.empty(7, dtype=L.int64))
            warned.append(any("resized" in str(w.message) for w in caught))
        assert warned[0] == warned[1], f"{name}: torch warns {warned[0]}, minigrad {warned[1]}"
    with pytest.raises(TypeError, match="bernoulli"):   # torch has no bernoulli(input, p, out=) either
        mg.bernoulli(mg.ones(2), 0.5, out=mg.empty(0))


DRAWS: dict[str, Callable[..., Any]] = {
    "rand": lambda L, x, g: L.rand(2, 3, generator=g),
    "randn": lambda L, x, g: L.randn(2, 3, generator=g, dtype=L.float64),
    "randint": lambda L, x, g: L.randint(0, 9, (2, 3), generator=g),
    "randperm": lambda L, x, g: L.randperm(6, generator=g),
    "rand_like": lambda L, x, g: L.rand_like(x, generator=g),
    "randn_like": lambda L, x, g: L.randn_like(x, generator=g),
    "randint_like": lambda L, x, g: L.randint_like(x, 9, generator=g),
    "normal_tt": lambda L, x, g: L.normal(x, x, generator=g),
    "normal_tf": lambda L, x, g: L.normal(x, 2.0, generator=g),
    "normal_ft": lambda L, x, g: L.normal(0.0, x, generator=g),
    "normal_ff": lambda L, x, g: L.normal(0.0, 1.0, (2, 3), generator=g),
    "normal_out": lambda L, x, g: L.normal(0.0, 1.0, (2, 3), generator=g, out=L.empty(0)),
    "bernoulli": lambda L, x, g: L.bernoulli(x * 0.5, generator=g),
    "bernoulli_p": lambda L, x, g: L.bernoulli(x, 0.5, generator=g),
    "multinomial": lambda L, x, g: L.multinomial(x, 2, generator=g),
    "poisson": lambda L, x, g: L.poisson(x * 3, generator=g),
    "random_": lambda L, x, g: x.clone().random_(0, 100, generator=g),
    "uniform_": lambda L, x, g: x.clone().uniform_(-1, 1, generator=g),
    "normal_": lambda L, x, g: x.clone().normal_(generator=g),
    "exponential_": lambda L, x, g: x.clone().exponential_(generator=g),
    "geometric_": lambda L, x, g: x.clone().geometric_(0.3, generator=g),
    "cauchy_": lambda L, x, g: x.clone().cauchy_(generator=g),
    "log_normal_": lambda L, x, g: x.clone().log_normal_(generator=g),
    "bernoulli_": lambda L, x, g: x.clone().bernoulli_(0.5, generator=g),
}


def test_generator_and_manual_seed_determinism() -> None:
    """generator=: the same seed gives the same draws, the next draw differs, and the default stream is not
    touched; without generator=, mg.manual_seed repeats the draws. Dtypes and shapes as torch's."""
    x = mg.ones(2, 3)
    for name, draw in DRAWS.items():
        first = draw(mg, x, mg.Generator().manual_seed(7))
        state = mg.get_rng_state()
        g = mg.Generator().manual_seed(7)
        again, after = draw(mg, x, g), draw(mg, x, g)
        assert (mg.get_rng_state() == state).all(), f"{name}: generator= drew from the default stream"
        assert np.array_equal(first.numpy(), again.numpy()), f"{name}: same seed, other draws"
        if name not in ("bernoulli", "bernoulli_p", "bernoulli_", "multinomial"):   # few outcomes: may repeat
            assert not np.array_equal(first.numpy(), after.numpy()), f"{name}: the stream did not advance"
        mg.manual_seed(3)
        seeded = draw(mg, x, None)
        mg.manual_seed(3)
        assert np.array_equal(seeded.numpy(), draw(mg, x, None).numpy()), f"{name}: manual_seed does not repeat"
        theirs = draw(torch, torch.ones(2, 3), torch.Generator().manual_seed(7))
        assert (tuple(first.shape), str(first.dtype)) == (tuple(theirs.shape), str(theirs.dtype)[6:]), name
    for L in (torch, mg):   # a generator= that is not a Generator: TypeError in both
        with pytest.raises(TypeError):
            L.rand(2, generator=5)
