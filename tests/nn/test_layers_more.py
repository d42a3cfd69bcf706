"""Flatten, Unflatten, ParameterList, ParameterDict and Module.to(tensor)/half/type, against torch."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="PyTorch is the reference for these tests")


@pytest.mark.parametrize(("start", "end"), [(1, -1), (0, -1), (1, 2), (-2, -1), (2, 2)])
def test_flatten_as_pytorch(start: int, end: int) -> None:
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)
    ours = nn.Flatten(start, end)(mg.tensor(x, requires_grad=True))
    theirs = torch.nn.Flatten(start, end)(torch.from_numpy(x))
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert repr(nn.Flatten(start, end)) == repr(torch.nn.Flatten(start, end))


@pytest.mark.parametrize(("dim", "sizes"), [(1, (2, 6)), (-1, (5, 1)), (0, (2, 1)), (1, (-1, 3)), (2, [5])])
def test_unflatten_as_pytorch(dim: int, sizes: tuple) -> None:
    x = np.arange(2 * 12 * 5, dtype=np.float64).reshape(2, 12, 5)
    t = mg.tensor(x, requires_grad=True)
    ours = nn.Unflatten(dim, sizes)(t)
    theirs = torch.nn.Unflatten(dim, sizes)(torch.from_numpy(x))
    assert ours.shape == tuple(theirs.shape)
    ours.sum().backward()
    assert t.grad.shape == x.shape
    with pytest.raises(ValueError, match="cannot split"):
        nn.Unflatten(1, (5, 5))(t)


def test_parameter_list_registers_converts_and_indexes_as_pytorch() -> None:
    values = [np.ones((2, 2)), np.zeros(3)]
    ours = nn.ParameterList([mg.tensor(v) for v in values])
    theirs = torch.nn.ParameterList([torch.from_numpy(v) for v in values])
    ours.append(nn.Parameter(mg.ones(1)))
    theirs.append(torch.nn.Parameter(torch.ones(1)))
    ours[0] = mg.full((2, 2), 3.0)
    theirs[0] = torch.full((2, 2), 3.0)
    ours += [mg.zeros(4)]
    theirs += [torch.zeros(4)]
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in ours)
    assert len(ours) == len(theirs) == 4 and len(ours[1:3]) == 2
    np.testing.assert_array_equal(ours[0].numpy(), theirs[0].detach().numpy())
    holder = nn.Module()
    holder.plist = ours
    assert list(holder.state_dict()) == ["plist.0", "plist.1", "plist.2", "plist.3"]
    with pytest.raises(IndexError):
        ours[9]   # noqa: B018


def test_parameter_dict_as_pytorch() -> None:
    ours = nn.ParameterDict({"a": mg.ones(2), "b": nn.Parameter(mg.zeros(1))})
    theirs = torch.nn.ParameterDict({"a": torch.ones(2), "b": torch.nn.Parameter(torch.zeros(1))})
    for d, make in ((ours, mg.ones), (theirs, torch.ones)):
        d["c"] = make(3)
        del d["a"]
        d.update({"d": make(1)})
    assert list(ours) == list(theirs) and list(ours.keys()) == list(theirs.keys())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert "c" in ours and "a" not in ours and ours.get("a") is None
    assert isinstance(ours.pop("c"), nn.Parameter) and len(ours) == 2
    with pytest.raises(KeyError, match="no parameter 'zz'"):
        ours["zz"]   # noqa: B018


def test_module_to_a_tensor_half_and_type() -> None:
    model = nn.Linear(2, 2)
    assert model.to(mg.zeros(1, dtype=mg.float64)) is model and model.weight.dtype == mg.float64
    assert model.half().weight.dtype == mg.float16
    assert model.type(mg.float32).weight.dtype == mg.float32
    assert model.to("cpu", non_blocking=True) is model and model.share_memory() is model
    with pytest.raises(TypeError, match="bfloat16"):
        model.bfloat16()


def _positional(cls: type) -> list:
    import inspect  # noqa: PLC0415

    return [p.name for p in inspect.signature(cls.__init__).parameters.values()
            if p.name != "self" and p.kind is p.POSITIONAL_OR_KEYWORD]


# Where our positional order is DESIGN.md's, not PyTorch's: nn.RNN keeps bias 4th (a positional "relu"
# there raises a TypeError saying to pass nonlinearity by keyword). torch's LSTM/GRU/RNN take *args.
# nn.RNNBase/nn.RNNCellBase are there for isinstance checks; building one raises (torch's take mode first).
POSITIONAL_EXCEPTIONS = {"RNN", "Parameter", "RNNBase", "RNNCellBase"}


def test_every_module_takes_pytorchs_positional_arguments_in_pytorchs_order() -> None:
    """A call written for PyTorch with positional arguments must mean the same here, or fail loudly."""
    for name in sorted(n for n in dir(nn) if n[:1].isupper() and n not in POSITIONAL_EXCEPTIONS):
        ours, theirs = getattr(nn, name), getattr(torch.nn, name, None)
        if not isinstance(ours, type) or not isinstance(theirs, type):
            continue
        try:
            want = _positional(theirs)
        except (TypeError, ValueError):
            continue
        if not want:   # torch's signature is *args (LSTM, GRU): nothing to compare by name
            continue
        have = _positional(ours)
        assert have == want[:len(have)], f"nn.{name}: ours {have}, torch {want}"


def test_embedding_max_norm_scale_grad_by_freq_and_from_pretrained_as_pytorch() -> None:
    rng = np.random.default_rng(0)
    table = rng.standard_normal((6, 4)) * 3
    idx = np.array([[0, 2, 2], [5, 2, 1]])
    ours = nn.Embedding(6, 4, None, 1.5, 2.0, True, dtype=mg.float64)
    theirs = torch.nn.Embedding(6, 4, None, 1.5, 2.0, True).double()
    with mg.no_grad():
        ours.weight.copy_(mg.tensor(table))
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(table))
    out_o, out_t = ours(mg.tensor(idx)), theirs(torch.from_numpy(idx))
    np.testing.assert_allclose(out_o.numpy(), out_t.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.weight.numpy(), theirs.weight.detach().numpy(), rtol=1e-12)   # rows renormed
    (out_o * mg.tensor(np.arange(24.0).reshape(2, 3, 4))).sum().backward()
    (out_t * torch.arange(24.0, dtype=torch.float64).reshape(2, 3, 4)).sum().backward()
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-12)
    assert repr(ours) == repr(theirs)
    frozen, t_frozen = nn.Embedding.from_pretrained(mg.tensor(table)), torch.nn.Embedding.from_pretrained(
        torch.from_numpy(table))
    assert not frozen.weight.requires_grad and not t_frozen.weight.requires_grad
    np.testing.assert_array_equal(frozen(mg.tensor(idx)).numpy(), t_frozen(torch.from_numpy(idx)).numpy())
    assert nn.Embedding.from_pretrained(mg.tensor(table), freeze=False, padding_idx=0).weight.requires_grad
    with pytest.raises(ValueError, match="sparse"):
        nn.Embedding(3, 2, sparse=True)


def test_cells_and_dropout_take_device_and_inplace_where_pytorch_does() -> None:
    assert nn.LSTMCell(3, 4, True, "cpu").weight_ih.device == "cpu"
    with pytest.raises(TypeError, match="peephole must be True or False"):
        nn.LSTMCell(3, 4, peephole="yes")
    assert repr(nn.Dropout(0.2, True)) == repr(torch.nn.Dropout(0.2, True))
    assert nn.GRUCell(3, 4, False, "cpu").bias_ih is None


@pytest.mark.parametrize("shape, normalized", [((4, 6), (6,)), ((2, 3, 4), (3, 4)), ((5,), 5)])
@pytest.mark.parametrize("eps", [None, 1e-3])
@pytest.mark.parametrize("affine", [True, False])
def test_rms_norm_as_pytorch(shape: tuple, normalized: object, eps: object, affine: bool) -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape)
    ours = nn.RMSNorm(normalized, eps, affine, dtype=mg.float64)
    theirs = torch.nn.RMSNorm(normalized, eps, affine, dtype=torch.float64)
    if affine:
        w = rng.standard_normal(ours.weight.shape)
        ours.load_state_dict({"weight": w})
        theirs.load_state_dict({"weight": torch.from_numpy(w)})
    assert repr(ours) == repr(theirs)
    xo, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = ours(xo), theirs(xt)
    np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), rtol=1e-12)
    g = rng.standard_normal(shape)
    (yo * mg.tensor(g)).sum().backward()
    (yt * torch.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-10)
    if affine:
        np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-10)
    assert mg.gradcheck(lambda t: nn.functional.rms_norm(t, normalized, eps=1e-3), (mg.tensor(x, requires_grad=True),))
    with pytest.raises(ValueError, match="does not end with normalized_shape"):
        nn.functional.rms_norm(mg.ones(3, 2), (3,))


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5)])
@pytest.mark.parametrize("options", [{}, {"momentum": None}, {"affine": False}, {"track_running_stats": False},
                                     {"momentum": 0.3, "eps": 1e-3}, {"bias": False}])
def test_batch_norm_1d_trains_and_evaluates_as_pytorch(shape: tuple, options: dict) -> None:
    rng = np.random.default_rng(4)
    ours = nn.BatchNorm1d(3, dtype=mg.float64, **options)
    theirs = torch.nn.BatchNorm1d(3, dtype=torch.float64, **options)
    if ours.affine:
        new = {k: rng.standard_normal(3) for k in ("weight", "bias") if k in theirs.state_dict()}
        ours.load_state_dict({**{k: v.numpy() for k, v in ours.state_dict().items()}, **new})
        theirs.load_state_dict({**theirs.state_dict(), **{k: torch.from_numpy(v) for k, v in new.items()}})
    assert list(ours.state_dict()) == list(theirs.state_dict()) and repr(ours) == repr(theirs)
    for _ in range(3):   # training steps move the running estimates
        x = rng.standard_normal(shape) * 2 + 1
        xo, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        yo, yt = ours(xo), theirs(xt)
        np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        g = rng.standard_normal(shape)
        (yo * mg.tensor(g)).sum().backward()
        (yt * torch.from_numpy(g)).sum().backward()
        np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-12, err_msg=key)
    ours.eval()
    theirs.eval()
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(ours(mg.tensor(x)).numpy(), theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="4 channels"):
        ours(mg.ones(2, 4))
