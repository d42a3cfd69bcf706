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


def test_lbfgs_complex_parameters_keep_real_scalars_after_a_state_load() -> None:
    """LBFGS's H_diag and ro are real for complex parameters (PyTorch's view the parameters as real): also after
    load_state_dict (they came back complex, and the next step warned about discarding the imaginary part)."""
    import warnings

    def run(reload: bool) -> tuple:
        mg.manual_seed(0)
        w = nn.Parameter(mg.tensor([1.0 + 2.0j, -0.5 + 0.25j], dtype=mg.complex128))
        opt = mg.optim.LBFGS([w], max_iter=3)

        def closure() -> mg.Tensor:
            opt.zero_grad()
            loss = (w * w.conj()).real.sum() + (w.real * 0.3).sum()
            loss.backward()
            return loss
        opt.step(closure)
        if reload:
            state = opt.state_dict()
            opt = mg.optim.LBFGS([w], max_iter=3)
            opt.load_state_dict(state)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            opt.step(closure)
        entry = opt.state[w]
        return w.detach().numpy().copy(), entry["H_diag"], entry["ro"]

    plain, reloaded = run(False), run(True)
    assert (plain[0] == reloaded[0]).all()
    assert mg.as_tensor(reloaded[1]).dtype == mg.float64
    assert all(mg.as_tensor(r).dtype == mg.float64 for r in reloaded[2])


def test_avg_pool3d_refuses_float16_on_the_cpu_as_torch() -> None:
    """PyTorch has no float16 CPU kernel of avg_pool3d (NotImplementedError); it computed in float32 here."""
    with pytest.raises(NotImplementedError):
        torch.nn.functional.avg_pool3d(torch.ones(1, 1, 2, 2, 2, dtype=torch.float16), 2)
    with pytest.raises(NotImplementedError, match="avg_pool3d"):
        nn.functional.avg_pool3d(mg.ones(1, 1, 2, 2, 2, dtype=mg.float16), 2)
    with pytest.raises(NotImplementedError, match="avg_pool3d"):
        nn.AvgPool3d(2)(mg.ones(1, 1, 2, 2, 2, dtype=mg.float16))


@pytest.mark.parametrize("name, args", [("avg_pool2d", (2,)), ("lp_pool2d", (2, 2)), ("max_pool2d", (2,)),
                                        ("avg_pool1d", (2,))])
def test_pools_of_a_0d_input_raise_torchs_class(name: str, args: tuple) -> None:
    """A 0-d input: PyTorch's avg/lp pools read dim -3 (IndexError), others check the rank (RuntimeError)."""
    with pytest.raises((IndexError, RuntimeError)) as theirs:
        getattr(torch.nn.functional, name)(torch.tensor(1.0), *args)
    with pytest.raises(type(theirs.value)):
        getattr(nn.functional, name)(mg.tensor(1.0), *args)
