"""Each ``mg.compile(...)`` wrapper honours its own options (fullgraph=, check=, mode=), whatever other wrappers of
the same function did before: a wrapper's captures, eager fallbacks and limits are its own.

torch.compile shares one cache per function between its calls (unless ``isolate_recompiles=True``), so there a
``fullgraph=True`` wrapper made after an eager fallback may stay silent; minigrad keeps them apart, which raises
where torch's fresh-function behaviour raises.
"""

from __future__ import annotations

import copy
import warnings

import pytest

import minigrad as mg
import nn


def frozen(x: mg.Tensor) -> mg.Tensor:
    return x * mg.tensor(x.data.sum())   # a value read in NumPy: frozen by a capture, caught by the check calls


def branches(x: mg.Tensor) -> mg.Tensor:
    return x + 1 if x.sum().item() > 0 else x - 1   # .item(): this signature cannot be captured whole


def _calls(compiled, values=(2.0, 3.0, 4.0)) -> tuple[str, list]:
    """What calling ``compiled`` on ones(3) * v for each v does: 'error' or 'ok' (each result checked against
    eager's), and the warnings' texts."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            for v in values:
                out = compiled(mg.ones(3) * v)
                assert out.numpy().tolist() in ([v * 3 * v] * 3, [v + 1] * 3)   # frozen's or branches' eager value
        except mg.CompileError:
            return "error", [str(w.message) for w in caught]
    return "ok", [str(w.message) for w in caught]


@pytest.mark.parametrize("fn", [frozen, branches])
def test_a_wrapper_after_an_eager_fallback_keeps_its_own_options(fn) -> None:
    plain = mg.compile(fn)
    outcome, said = _calls(plain)
    assert outcome == "ok" and said and "runs eagerly" in said[0]   # the plain wrapper falls back with a warning
    for options in ({"fullgraph": True}, {"check": True}):
        if fn is branches and "check" in options:
            continue   # check=True re-runs fn eagerly on every call, so .item() is allowed there
        compiled = mg.compile(fn, **options)
        assert _calls(compiled)[0] == "error", options
        assert _calls(compiled)[0] == "error", options   # and again: no eager verdict was kept in its place
    assert _calls(plain) == ("ok", [])   # the first wrapper's verdict is unchanged, and warned once only
    mg.compiler.reset()   # forgets captures, not options
    assert _calls(mg.compile(fn, fullgraph=True))[0] == "error"
    assert _calls(plain)[0] == "ok"


def test_compiling_a_compiled_function_or_an_attributed_function_keeps_the_outer_options() -> None:
    inner = mg.compile(branches)
    outer = mg.compile(inner, fullgraph=True)   # the outer wrapper's options win, as torch.compile's nesting
    assert outer.fn is branches and outer.__wrapped__ is inner and outer.fullgraph and not inner.fullgraph
    assert outer.programs is not inner.programs
    with pytest.raises(mg.CompileError, match="fullgraph=True"):
        outer(mg.ones(3))
    assert _calls(inner)[0] == "ok"
    loose = mg.compile(mg.compile(branches, fullgraph=True))   # the outer one warns, as torch's runs, on every call
    assert _calls(loose)[0] == "ok" and _calls(loose)[0] == "ok"
    fused = mg.compile(mg.compile(frozen), mode="max-autotune")
    assert fused.fuse and not fused.__wrapped__.fuse and fused.fn is frozen

    def tagged(x: mg.Tensor) -> mg.Tensor:
        return x * 2
    tagged.check, tagged.programs, tagged.tag = True, "not mine", "kept"   # function attributes named as ours
    compiled = mg.compile(tagged)
    assert compiled.check is False and compiled.fn is tagged and isinstance(compiled.programs, dict)
    assert compiled.tag == "kept" and compiled.__name__ == "tagged"   # other attributes copied, as functools.wraps
    assert compiled(mg.ones(2)).numpy().tolist() == [2.0, 2.0] and compiled.programs


def test_copies_and_modules_compile_anew_with_their_own_options() -> None:
    strict = mg.compile(frozen, fullgraph=True)
    strict(mg.ones(3))
    twin = copy.copy(strict)   # its own captures (a shared dict would skip its first capture), same options
    assert twin.fullgraph and twin.fn is frozen and twin.programs is not strict.programs and not twin.programs
    assert _calls(twin)[0] == "error"
    model = nn.Linear(3, 2)
    compiled = mg.compile(mg.compile(model), fullgraph=True)   # a compiled module compiled again is still the module
    assert compiled._orig_mod._orig_mod is model and len(list(compiled.parameters())) == 2

    class Gate(nn.Module):
        def forward(self, x: mg.Tensor) -> mg.Tensor:
            return branches(x)
    gate = Gate()
    gate.compile(fullgraph=True)
    with pytest.raises(mg.CompileError):
        gate(mg.ones(3))
    gate.compile()   # compiled again with other options: the new options replace the old ones
    assert _calls(gate.__dict__["_compiled_call"])[0] == "ok"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mg.CompileWarning)
        assert gate(mg.ones(3)).numpy().tolist() == [2.0] * 3
    gate.compile(fullgraph=True)   # and back: the eager verdict of the previous compile() is not inherited
    with pytest.raises(mg.CompileError):
        gate(mg.ones(3))
    clone = copy.deepcopy(gate)
    with pytest.raises(mg.CompileError):
        clone(mg.ones(3))


def test_mode_and_options_together_raise_as_torch() -> None:
    for kwargs in ({"mode": "max-autotune", "options": {}}, {"mode": "default", "options": {"a": 1}, "disable": True}):
        with pytest.raises(RuntimeError, match="mode or options"):
            mg.compile(frozen, **kwargs)
    decorate = mg.compile(mode="reduce-overhead", options={"trace": 1})   # as torch: raised when given the function
    with pytest.raises(RuntimeError, match="mode or options"):
        decorate(frozen)
    assert mg.compile(frozen, options={"trace": 1})(mg.ones(2)).numpy().tolist() == [2.0, 2.0]
    assert mg.compile(frozen, disable=True) is frozen
