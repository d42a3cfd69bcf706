"""Round 22, lead: small fixes found while merging the helpers' reports (each compared with live torch)."""

import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")


@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("lengths", [[[3, 2]], [[3], [2]]])
def test_pack_padded_sequence_two_dim_lengths_raise_torchs_class(lengths: list, enforce_sorted: bool) -> None:
    """2-D lengths: PyTorch raises RuntimeError when sorted is enforced, index_select's IndexError when not."""
    with pytest.raises((RuntimeError, IndexError)) as theirs:
        torch.nn.utils.rnn.pack_padded_sequence(torch.zeros(3, 2, 4), torch.tensor(lengths),
                                                enforce_sorted=enforce_sorted)
    with pytest.raises(type(theirs.value), match="1-D"):
        nn.utils.rnn.pack_padded_sequence(mg.zeros(3, 2, 4), mg.tensor(lengths), enforce_sorted=enforce_sorted)
