"""``list * tensor`` is Python's sequence repetition in PyTorch (the tensor is read through ``__index__``), not an
elementwise product: ``[0] * torch.tensor(3)`` is ``[0, 0, 0]``."""

from __future__ import annotations

from typing import Any

import pytest

import minigrad as mg


@pytest.mark.parametrize("sequence", [[0], (1, 2), "ab", []])
def test_a_sequence_times_an_integer_tensor_repeats_it(torch: Any, sequence: Any) -> None:
    for count in (mg.tensor(3), mg.tensor(0)):
        theirs = torch.tensor(count.item())
        assert sequence * count == sequence * theirs
        assert count * sequence == theirs * sequence


def test_a_sequence_times_a_float_tensor_raises_type_error(torch: Any) -> None:
    for module in (mg, torch):
        with pytest.raises(TypeError):
            [1, 2] * module.tensor([1.0, 2.0])
        with pytest.raises(TypeError):
            module.tensor([1.0, 2.0]) * (1, 2)
