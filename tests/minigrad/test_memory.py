"""mg.gc_paused: the collector is off inside, back to its former state after (nested, on error)."""

from __future__ import annotations

import gc

import pytest

import minigrad as mg


def test_gc_paused_restores_the_collector_state() -> None:
    assert gc.isenabled()
    with mg.gc_paused():
        assert not gc.isenabled()
        with mg.gc_paused():                      # nested: the inner exit leaves it paused
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(KeyError), mg.gc_paused():
        raise KeyError("boom")
    assert gc.isenabled()


def test_gc_paused_keeps_a_disabled_collector_disabled() -> None:
    gc.disable()
    try:
        with mg.gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_recurrent_layer_records_with_the_collector_paused(monkeypatch) -> None:
    import nn

    seen = []
    real = mg.gc_paused

    def spy():
        seen.append(True)
        return real()

    monkeypatch.setattr(mg, "gc_paused", spy)
    nn.GRU(2, 3)(mg.randn(4, 1, 2))
    assert seen and gc.isenabled()
