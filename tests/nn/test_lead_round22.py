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


def test_load_state_dict_takes_a_torch_tensor_with_the_conjugate_bit() -> None:
    """``torch_t.conj()`` is a lazy conjugate view (numpy() refuses it): loaded as its values, as PyTorch loads it."""
    theirs = torch.nn.Linear(2, 3, dtype=torch.complex128)
    ours = nn.Linear(2, 3, dtype=mg.complex128)
    source = {k: v.detach().conj() for k, v in torch.nn.Linear(2, 3, dtype=torch.complex128).state_dict().items()}
    theirs.load_state_dict(source)
    ours.load_state_dict(source)
    for key, value in theirs.state_dict().items():
        assert (ours.state_dict()[key].numpy() == value.numpy()).all()

