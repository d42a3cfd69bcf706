"""mg.quasirandom.SobolEngine against torch.quasirandom.SobolEngine.

Unscrambled points must equal PyTorch's bit for bit (same direction numbers, same float rounding). Scrambled
points come from minigrad's random stream, so they are compared with PyTorch's given PyTorch's random bits
(the engine's ``_random_bits`` replaced), and on their own for the properties a scrambled Sobol' net keeps.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pytest

import minigrad as mg
from minigrad import quasirandom
from minigrad.quasirandom import SobolEngine


def _same(ours: mg.Tensor, theirs: Any) -> None:
    assert ours.dtype == np.dtype(str(theirs.dtype).removeprefix("torch."))
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def _messages(kind: type, ours: Any, theirs: Any) -> tuple[str, str]:
    """What ``ours()`` and ``theirs()`` say, both raising ``kind``."""
    with pytest.raises(kind) as mine:
        ours()
    with pytest.raises(kind) as torchs:
        theirs()
    return str(mine.value), str(torchs.value)


def _steps(engine: Any, lib: Any) -> list:
    """One walk through the engine's API; every result, in order."""
    f64 = lib.float64
    return [engine.draw(), engine.draw(5), engine.draw(0), engine.fast_forward(13).draw(3, dtype=f64),
            engine.reset().draw(4, dtype=f64), engine.draw(), engine.fast_forward(1).draw(2)]


def test_import_paths() -> None:
    import minigrad.quasirandom as module

    assert mg.quasirandom is module is quasirandom and module.SobolEngine is SobolEngine
    assert SobolEngine.MAXDIM == 21201 and SobolEngine.MAXBIT == 30


def test_direction_numbers_are_torchs_for_every_dimension(torch: Any) -> None:
    theirs = torch.zeros(21201, 30, dtype=torch.long)
    torch._sobol_engine_initialize_state_(theirs, 21201)
    np.testing.assert_array_equal(quasirandom._direction_numbers(21201), theirs.numpy())


def test_unscrambled_points_equal_torchs(torch: Any) -> None:
    for dimension in [*range(1, 51), 1111, 21201]:
        ours, theirs = SobolEngine(dimension), torch.quasirandom.SobolEngine(dimension)
        for a, b in zip(_steps(ours, mg), _steps(theirs, torch)):
            _same(a, b)
        assert ours.num_generated == theirs.num_generated == 8
        _same(ours.quasi, theirs.quasi)
    ours, theirs = SobolEngine(3).fast_forward(2 ** 20 + 5), torch.quasirandom.SobolEngine(3).fast_forward(2 ** 20 + 5)
    _same(ours.draw(4), theirs.draw(4))   # ours jumps there at once (a Gray-code XOR), PyTorch's steps


def test_draw_base2(torch: Any) -> None:
    ours, theirs = SobolEngine(4), torch.quasirandom.SobolEngine(4)
    for m in (0, 0, 1, 2, 3):
        _same(ours.draw_base2(m), theirs.draw_base2(m))
    ours.draw(1)
    theirs.draw(1)
    mine, torchs = _messages(ValueError, lambda: ours.draw_base2(3), lambda: theirs.draw_base2(3))
    assert mine == torchs and "n=17+2**3=25" in mine
    with pytest.raises(TypeError, match="non-negative"):
        SobolEngine(2).draw_base2(-1)


def test_dtypes_follow_the_default_dtype(torch: Any) -> None:
    assert SobolEngine(2).draw(3).dtype == np.float32
    assert SobolEngine(2).draw(3, dtype="float64").dtype == np.float64
    previous = mg.get_default_dtype()
    mg.set_default_dtype(mg.float64)
    torch.set_default_dtype(torch.float64)
    try:
        ours, theirs = SobolEngine(3, seed=1), torch.quasirandom.SobolEngine(3, seed=1)
        _same(ours.draw(2), theirs.draw(2))
    finally:
        mg.set_default_dtype(previous)
        torch.set_default_dtype(torch.float32)
    with pytest.raises(NotImplementedError, match="int64"):
        SobolEngine(2).draw(3, dtype=mg.int64)
    with pytest.raises(NotImplementedError, match="float16"):
        SobolEngine(2).draw(3, dtype=mg.float16)
    _same(SobolEngine(2).draw(1, dtype=mg.int64), torch.quasirandom.SobolEngine(2).draw(1, dtype=torch.int64))
    assert SobolEngine(2).draw(2).device.type == "cpu"   # as PyTorch's, whatever the default device


def test_out_is_resized_and_keeps_its_dtype(torch: Any) -> None:
    out = mg.empty(7, dtype=mg.float64)
    result = SobolEngine(3).draw(4, out=out)
    theirs = torch.quasirandom.SobolEngine(3).draw(4, out=torch.empty(7, dtype=torch.float64))
    assert result is out
    _same(out, theirs)


def test_errors_as_torchs(torch: Any) -> None:
    for dimension in (0, 21202):
        mine, torchs = _messages(ValueError, lambda d=dimension: SobolEngine(d),
                                 lambda d=dimension: torch.quasirandom.SobolEngine(d))
        assert mine == torchs == "Supported range of dimensionality for SobolEngine is [1, 21201]"
    for bad in (2.5, True):
        with pytest.raises(TypeError, match="dimension must be an int"):
            SobolEngine(bad)
    with pytest.raises(TypeError, match="n must be an int"):
        SobolEngine(2).draw(2.0)
    with pytest.raises(RuntimeError, match="drawn nothing"):   # PyTorch's RuntimeError too (a -1 size)
        SobolEngine(2).draw(0)
    with pytest.raises(RuntimeError, match="at least 0"):
        SobolEngine(2).fast_forward(3).draw(-1)
    with pytest.raises(ValueError, match=">= 0"):   # PyTorch counts backwards
        SobolEngine(2).fast_forward(-1)
    with pytest.raises(ValueError, match="2\\*\\*30 points"):
        SobolEngine(2).fast_forward(2 ** 30 - 2).draw(3)
    with pytest.raises(ValueError, match="2\\*\\*30 points"):
        SobolEngine(2).fast_forward(2 ** 30 + 1)


def test_attributes_and_repr(torch: Any) -> None:
    for args in [(3,), (3, True, 4), (3, False, 5), (2, True)]:
        ours, theirs = SobolEngine(*args), torch.quasirandom.SobolEngine(*args)
        assert repr(ours) == repr(theirs)
        assert (ours.dimension, ours.scramble, ours.seed, ours.num_generated) == \
               (theirs.dimension, theirs.scramble, theirs.seed, theirs.num_generated)
        assert ours.sobolstate.dtype == ours.shift.dtype == np.int64 and tuple(ours.sobolstate.shape) == (args[0], 30)
    engine = SobolEngine(2)
    assert engine.reset() is engine and engine.fast_forward(3) is engine and engine.num_generated == 3


def test_scrambled_points_equal_torchs_given_its_random_bits(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for seed, dimension in [(0, 1), (7, 5), (3, 33)]:
        generator = torch.Generator().manual_seed(seed)
        shift_bits = torch.randint(2, (dimension, 30), generator=generator)
        ltm = torch.randint(2, (dimension, 30, 30), generator=generator)
        bits = (shift_bits.numpy(), ltm.numpy())
        monkeypatch.setattr(SobolEngine, "_random_bits", lambda self, bits=bits: bits)
        ours, theirs = SobolEngine(dimension, scramble=True), torch.quasirandom.SobolEngine(dimension, True, seed)
        _same(ours.sobolstate, theirs.sobolstate)
        _same(ours.shift, theirs.shift)
        for a, b in zip(_steps(ours, mg), _steps(theirs, torch)):
            _same(a, b)   # the float64 draws too, whose first point PyTorch rounds to float32
        _same(ours.reset().draw_base2(4), theirs.reset().draw_base2(4))


def test_scrambled_points_are_a_net() -> None:
    """In [0, 1); each block of 2**m points holds one point in each interval [k / 2**m, (k + 1) / 2**m) of every
    dimension; the seed decides the scramble."""
    engine = SobolEngine(20, scramble=True, seed=3)
    first, second = engine.draw_base2(6).numpy(), engine.draw_base2(6).numpy()
    for block in (first, second):
        assert block.shape == (64, 20) and block.min() >= 0 and block.max() < 1
        cells = np.sort(np.floor(block * 64).astype(int), axis=0)
        np.testing.assert_array_equal(cells, np.tile(np.arange(64)[:, None], (1, 20)))
    assert not np.array_equal(first, second) and len(np.unique(first[:, 0])) == 64
    np.testing.assert_array_equal(first, SobolEngine(20, scramble=True, seed=3).draw(64).numpy())
    assert not np.array_equal(first, SobolEngine(20, scramble=True, seed=4).draw(64).numpy())
    mg.manual_seed(11)
    unseeded = SobolEngine(4, scramble=True).draw(8).numpy()
    mg.manual_seed(11)
    np.testing.assert_array_equal(unseeded, SobolEngine(4, scramble=True).draw(8).numpy())
    assert abs(SobolEngine(3, scramble=True, seed=0).draw(1024).numpy().mean() - 0.5) < 0.01


def test_the_table_packs_from_joe_and_kuos_text() -> None:
    """The packed table is what _pack_joe_kuo makes of the table in Joe & Kuo's text format."""
    from minigrad._sobol_direction_numbers import PACKED

    poly, m = quasirandom._table()
    lines = ["d       s       a       m_i"]
    for d in range(1, 60):
        s = int(poly[d]).bit_length() - 1
        lines.append(" ".join(map(str, [d + 1, s, (int(poly[d]) >> 1) & (2 ** (s - 1) - 1), *m[d, :s]])))
    assert lines[1:5] == ["2 1 0 1", "3 2 1 1 3", "4 3 1 1 3 1", "5 3 2 1 1 1"]
    packed = np.unpackbits(np.frombuffer(quasirandom._pack_joe_kuo("\n".join(lines)), np.uint8))
    shipped = np.unpackbits(np.frombuffer(base64.b64decode(PACKED), np.uint8))
    widths = sum(sum(quasirandom._field_widths(s)) * count for s, count in quasirandom._blocks(60))
    np.testing.assert_array_equal(packed[:widths], shipped[:widths])
    assert quasirandom._primitive_polynomial_counts()[:6] == [1, 1, 2, 2, 6, 6]
    lines[3] = "4 3 1 1 2 1"   # m_2 even
    with pytest.raises(ValueError, match="dimension 4"):
        quasirandom._pack_joe_kuo("\n".join(lines))
