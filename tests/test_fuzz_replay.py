"""``mg.compile`` never freezes values: a replay with new tensor values gives eager mode's result.

For every public ``mg.*`` function and Tensor method that tests/test_fuzz.py fuzzes (its registry and its
argument strategies, imported, not copied), the tensor arguments drawn (A) become the compiled function's
inputs and every other argument is fixed in it. The function is called with A until it replays, then with new
tensors B of the same shapes, dtypes and ``requires_grad`` (integers drawn in -6..6, so indices are negative
or out of range too), and compared with eager ``fn(B)``: both raise the same exception type, or both give the
same values (NaN-aware), dtypes, in-place changes to the inputs and gradients (the outputs' sum, backward). A
signature that falls back to eager mode (a :class:`mg.CompileWarning`) passes trivially.

A mismatch is a silent wrong result of a replay: a value-dependent check, or an array computed from an argument
in a public function instead of in an op's forward (CONTRIBUTING, "A replay runs only the ops' forwards").
Derandomized: one Hypothesis example per function; of its CANDIDATES drawn argument lists, the first PAIRS that
eager mode takes for A are compared (or the first one, to compare errors, when eager takes none).
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import minigrad as mg
from tests.test_fuzz import (  # noqa: F401 - the fixtures are used by name
    FUZZ,
    KWARGS,
    PUBLIC,
    TENSOR_METHODS,
    VALUES,
    _restore_global_state,
    _scratch_folder,
    tensors,
)

CANDIDATES = 12
PAIRS = 2
CALLS_BEFORE = 4    # capture, verification, then replays (conftest writes a program's code from its first replay)
# Hypothesis's first example is its simplest, then a random one; a failure is reported as drawn (no shrinking)
REPLAY = settings(FUZZ, max_examples=2, phases=[Phase.generate])

# name: (reproducer, reason) of replays known to give wrong values, each a strict xfail
KNOWN: dict[str, tuple[str, str]] = {}

ARGS = st.lists(st.tuples(tensors(), st.lists(VALUES, max_size=3), st.one_of(st.just({}), KWARGS)),
                min_size=CANDIDATES, max_size=CANDIDATES)


class _Slot:
    """Where the i-th tensor input goes in an argument template."""

    def __init__(self, i: int) -> None:
        self.i = i


def _template(args: list, kwargs: dict) -> tuple[list, dict, list]:
    """(args, kwargs with each Tensor, also inside a top-level list or tuple, replaced by a slot, the tensors)."""
    found: list = []

    def slot(v: Any) -> Any:
        if isinstance(v, mg.Tensor):
            found.append(v)
            return _Slot(len(found) - 1)
        if isinstance(v, (list, tuple)) and any(isinstance(e, mg.Tensor) for e in v):
            return type(v)(slot(e) for e in v)
        return v

    return [slot(a) for a in args], {k: slot(v) for k, v in kwargs.items()}, found


def _fill(v: Any, ts: tuple) -> Any:
    if isinstance(v, _Slot):
        return ts[v.i]
    if isinstance(v, (list, tuple)) and any(isinstance(e, _Slot) for e in v):
        return type(v)(_fill(e, ts) for e in v)
    return v


def _spec(t: mg.Tensor) -> tuple:
    return t.numpy().copy(), t.requires_grad


def _new_values(a: np.ndarray, requires_grad: bool, rng: np.random.Generator) -> tuple:
    """Values B for ``a``'s shape and dtype, drawn independently (integers -6..6: negative, out of range)."""
    if a.dtype == bool:
        values = rng.random(a.shape) < 0.5
    elif a.dtype.kind in "iu":
        values = rng.integers(-6, 7, a.shape).astype(a.dtype)
    else:
        values = (rng.standard_normal(a.shape) * 2).astype(a.dtype)
    return values, requires_grad


def _make(specs: list) -> list:
    return [mg.tensor(v.copy(), requires_grad=g) for v, g in specs]


def _flat(result: Any) -> list:
    if isinstance(result, (list, tuple)):
        return [x for r in result for x in _flat(r)]
    if isinstance(result, dict):
        return [x for k in sorted(result, key=repr) for x in [k, *_flat(result[k])]]
    return [result]


def _outcome(call: Callable, specs: list) -> tuple:
    """Run ``call`` on fresh tensors from ``specs``: ('raises', type) or ('ok', outputs, inputs after, grads)."""
    inputs = _make(specs)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        mg.manual_seed(0)
        try:
            result = call(*inputs)
        except Exception as error:  # noqa: BLE001 - compared with the other run's
            return "raises", type(error)
        finally:
            mg.set_grad_enabled(True)
        outs = _flat(result)
        values = [(o.dtype, o.detach().numpy().copy()) if isinstance(o, mg.Tensor) else o for o in outs]
        after = [t.detach().numpy().copy() for t in inputs]
        grads: Any = None
        tensor_outs = [o for o in outs if isinstance(o, mg.Tensor)]
        if tensor_outs and all(o.requires_grad for o in tensor_outs):
            try:
                total = sum((o.sum() for o in tensor_outs[1:]), tensor_outs[0].sum())
                total.backward()
                grads = [None if t.grad is None else t.grad.numpy().copy() for t in inputs if t.requires_grad]
            except Exception as error:  # noqa: BLE001 - compared with the other run's
                grads = type(error)
    return "ok", values, after, grads


def _same(what: str, eager: tuple, replay: tuple) -> None:
    if eager[0] == "raises" or replay[0] == "raises":
        assert eager == replay, f"{what}: eager {eager[:2]}, replay {replay[:2]}"
        return
    _, values, after, grads = eager
    _, r_values, r_after, r_grads = replay
    assert len(values) == len(r_values), f"{what}: {len(values)} outputs, the replay {len(r_values)}"
    for k, (v, r) in enumerate(zip(values, r_values)):
        if isinstance(v, tuple) and len(v) == 2 and isinstance(v[1], np.ndarray):
            assert isinstance(r, tuple) and r[0] == v[0], f"{what}: output {k} dtype {v[0]}, the replay {r}"
            np.testing.assert_array_equal(r[1], v[1], err_msg=f"{what}: output {k}", strict=True)
        elif isinstance(v, (np.ndarray, np.generic, int, float, complex)):
            np.testing.assert_array_equal(r, v, err_msg=f"{what}: output {k}")
        else:
            assert type(r) is type(v), f"{what}: output {k}: eager {v!r}, replay {r!r}"   # handles, contexts
    for k, (v, r) in enumerate(zip(after, r_after)):
        np.testing.assert_array_equal(r, v, err_msg=f"{what}: input {k} after the call", strict=True)
    if isinstance(grads, list) and isinstance(r_grads, list):
        for k, (v, r) in enumerate(zip(grads, r_grads)):
            assert (v is None) == (r is None), f"{what}: gradient {k}: eager {v}, replay {r}"
            if v is not None:
                np.testing.assert_array_equal(r, v, err_msg=f"{what}: gradient {k}", strict=True)
    else:
        assert grads == r_grads, f"{what}: gradients: eager {grads}, replay {r_grads}"


def check_replay(what: str, fn: Callable, candidates: list, seed: int) -> None:
    """Compare replays with new values against eager mode for the first PAIRS candidates eager mode takes."""
    chosen: list = []
    for args, kwargs in candidates:
        t_args, t_kwargs, found = _template(args, kwargs)

        def call(*ts: mg.Tensor, t_args: list = t_args, t_kwargs: dict = t_kwargs) -> Any:
            return fn(*[_fill(a, ts) for a in t_args], **{k: _fill(v, ts) for k, v in t_kwargs.items()})

        specs = [_spec(t) for t in found]
        if _outcome(call, specs)[0] == "ok":
            chosen.append((call, specs, args, kwargs))
            if len(chosen) == PAIRS:
                break
    if not chosen:
        args, kwargs = candidates[0]
        t_args, t_kwargs, found = _template(args, kwargs)

        def call(*ts: mg.Tensor) -> Any:
            return fn(*[_fill(a, ts) for a in t_args], **{k: _fill(v, ts) for k, v in t_kwargs.items()})

        chosen = [(call, [_spec(t) for t in found], args, kwargs)]
    rng = np.random.default_rng(seed)
    for call, specs, args, kwargs in chosen:
        compiled = mg.compile(call)
        for _ in range(CALLS_BEFORE):
            _outcome(compiled, specs)
        new = [_new_values(v, g, rng) for v, g in specs]
        _same(f"{what}(*{args!r}, **{kwargs!r}) with tensors {[v for v, _ in new]}",
              _outcome(call, new), _outcome(compiled, new))


def _known(name: str) -> list:
    if name not in KNOWN:
        return []
    reproducer, reason = KNOWN[name]
    return [pytest.mark.xfail(strict=True, reason=f"{reason}: {reproducer}")]


@pytest.mark.parametrize("name", [pytest.param(n, marks=_known(f"mg.{n}")) for n in PUBLIC])
@REPLAY
@given(candidates=ARGS, seed=st.integers(0, 2**16))
def test_public_function_replays_new_values(name: str, candidates: list, seed: int) -> None:
    fn = getattr(mg, name)
    check_replay(f"mg.{name}", fn, [([x, *args], kwargs) for x, args, kwargs in candidates], seed)


@pytest.mark.parametrize("method", [pytest.param(n, marks=_known(f"Tensor.{n}")) for n in TENSOR_METHODS])
@REPLAY
@given(candidates=ARGS, seed=st.integers(0, 2**16))
def test_tensor_method_replays_new_values(method: str, candidates: list, seed: int) -> None:
    def fn(x: mg.Tensor, *args: Any) -> Any:
        return getattr(x, method)(*args)

    check_replay(f"Tensor.{method}", fn, [([x, *args], {}) for x, args, _ in candidates], seed)



class _FrozenShift(mg.Function):
    """A deliberately broken op: the shift is computed from the argument's values when the op is made (in
    the public function), so a replay adds the capture's shift: the bug class this file hunts."""

    def __init__(self, shift: Any) -> None:
        self.shift = shift

    def forward(self, x: Any) -> Any:
        return x + self.shift

    def backward(self, gy: Any) -> Any:
        return gy


def _frozen(x: mg.Tensor) -> mg.Tensor:
    return _FrozenShift(x.data.max().copy())(x)


def test_the_check_catches_a_value_frozen_at_capture() -> None:
    x = mg.tensor(np.arange(6.0).reshape(2, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mg.CompileWarning)
        with pytest.raises(AssertionError):
            check_replay("frozen", _frozen, [([x], {})], seed=0)
