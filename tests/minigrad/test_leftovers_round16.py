"""Round 16: leftovers of round 15 (constructors without a size, unsqueeze strides, second-order grads through
constant conv weights, saved views, addcmul/addcdiv of integers, xlogy/atan2 Hessians), compared with PyTorch 2.13."""
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _raises_like(call_ours, call_theirs) -> None:
    """Both raise, with the same exception class."""
    with pytest.raises(Exception) as theirs:
        call_theirs()
    with pytest.raises(Exception) as ours:
        call_ours()
    assert isinstance(ours.value, theirs.type), (ours.value, theirs.value)


# --- 1. zeros()/ones()/empty()/full()/x.new_zeros() need a size, as PyTorch's -----------------------------

@pytest.mark.parametrize("name", ["zeros", "ones", "empty"])
def test_filled_constructors_need_a_size(name: str) -> None:
    _raises_like(lambda: getattr(mg, name)(), lambda: getattr(torch, name)())
    _raises_like(lambda: getattr(mg, name)(dtype=mg.float64), lambda: getattr(torch, name)(dtype=torch.float64))
    for make in (lambda lib: getattr(lib, name)(()), lambda lib: getattr(lib, name)(size=())):
        assert make(mg).shape == tuple(make(torch).shape) == ()
    _raises_like(lambda: getattr(mg.ones(2), f"new_{name}")(), lambda: getattr(torch.ones(2), f"new_{name}")())
    assert getattr(mg.ones(2), f"new_{name}")(()).shape == ()


def test_full_needs_a_size() -> None:
    _raises_like(lambda: mg.full(fill_value=2), lambda: torch.full(fill_value=2))
    assert mg.full((), 2).shape == () and mg.full((), 2).dtype == mg.int64
