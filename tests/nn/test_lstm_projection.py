"""nn.LSTM(proj_size=P): PyTorch's LSTM with projections (Sak et al. 2014), and its positional order.

h_t = (o_t * tanh(c_t)) W_hrᵀ with ``weight_hr_l{k}`` (P, H): against PyTorch in float64 with its
weights loaded (outputs, h_n, c_n and every gradient to 1e-10), with lengths and packed input,
given states, unbatched input; compile=True bit for bit against eager; the peephole/coupled/fused
variants against an independent NumPy reference; finite differences; state-dict order; errors.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn
from nn.utils.rnn import pack_padded_sequence
from tests.helpers import assert_close
from tests.nn.recurrent_helpers import (
    assert_same_param_grads,
    copy_weights,
    functional,
    leaf,
    tol,
    torch_leaf,
    walk,
    weighted_sum,
)

RNG = np.random.default_rng(2024)
INPUTS, HIDDEN, PROJ, STEPS, BATCH = 3, 5, 2, 4, 3


def make_pair(torch: Any, dtype: Any = np.float64, options: dict | None = None, **kwargs: Any) -> tuple:
    """(ours, PyTorch's) projected LSTM with the same weights, both in ``dtype``; ``options`` are ours only."""
    kwargs.setdefault("proj_size", PROJ)
    model = nn.LSTM(INPUTS, HIDDEN, dtype=dtype, **kwargs, **(options or {}))
    torch_model = torch.nn.LSTM(INPUTS, HIDDEN, **kwargs).to(getattr(torch, np.dtype(dtype).name))
    copy_weights(model, torch_model)
    return model, torch_model


def state_shapes(num_layers: int, bidirectional: bool, batch: int | None = BATCH, proj: int = PROJ) -> tuple:
    """The shapes of h0 (D·L, B, P) and c0 (D·L, B, H) (without B when ``batch`` is None)."""
    count = num_layers * (2 if bidirectional else 1)
    middle = () if batch is None else (batch,)
    return (count, *middle, proj), (count, *middle, HIDDEN)


def assert_matches_torch(torch: Any, model: nn.Module, torch_model: Any, result: tuple, torch_result: tuple,
                         leaves: list, dtype: Any = np.float64) -> None:
    """output, h_n, c_n and the gradients of ``leaves`` ((ours, torch's) pairs) and of every weight agree."""
    (out, (h_n, c_n)), (t_out, (t_h_n, t_c_n)) = result, torch_result
    for name, a, b in (("output", out, t_out), ("h_n", h_n, t_h_n), ("c_n", c_n, t_c_n)):
        assert_close(a, b, **tol(dtype), what=name)
    weighted_sum([out, h_n, c_n]).backward()
    weighted_sum([t_out, t_h_n, t_c_n], torch).backward()
    for i, (a, b) in enumerate(leaves):
        assert a.grad is not None, f"input leaf {i} got no gradient"
        assert_close(a.grad, b.grad, **tol(dtype), what=f"grad of input leaf {i}")
    assert_same_param_grads(model, torch_model, dtype)


# --- against PyTorch ----------------------------------------------------------------------------

CASES = list(itertools.product([1, 2], [False, True], [False, True], [False, True]))


@pytest.mark.parametrize("num_layers,bidirectional,batch_first,given_state", CASES)
def test_projected_lstm_matches_torch(torch, num_layers: int, bidirectional: bool, batch_first: bool,
                                      given_state: bool) -> None:
    model, torch_model = make_pair(torch, num_layers=num_layers, bidirectional=bidirectional,
                                   batch_first=batch_first)
    x_np = RNG.standard_normal((BATCH, STEPS, INPUTS) if batch_first else (STEPS, BATCH, INPUTS))
    x, tx = leaf(x_np, np.float64), torch_leaf(torch, x_np, np.float64)
    leaves = [(x, tx)]
    state = t_state = None
    if given_state:
        arrays = [RNG.standard_normal(shape) for shape in state_shapes(num_layers, bidirectional)]
        leaves += [(leaf(a, np.float64), torch_leaf(torch, a, np.float64)) for a in arrays]
        state, t_state = tuple(s for s, _ in leaves[1:]), tuple(t for _, t in leaves[1:])
    out, (h_n, c_n) = result = model(x, state)
    directions = 2 if bidirectional else 1
    assert out.shape == ((BATCH, STEPS) if batch_first else (STEPS, BATCH)) + (directions * PROJ,)
    assert (h_n.shape, c_n.shape) == state_shapes(num_layers, bidirectional)
    assert_matches_torch(torch, model, torch_model, result, torch_model(tx, t_state), leaves)


@pytest.mark.parametrize("form", ["lengths", "packed"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_lengths_and_packed_input_match_torch(torch, form: str, batch_first: bool) -> None:
    from torch.nn.utils.rnn import pack_padded_sequence as torch_pack
    from torch.nn.utils.rnn import pad_packed_sequence as torch_pad

    lengths = [3, 4, 1]                      # unsorted, with the full length and 1
    model, torch_model = make_pair(torch, num_layers=2, bidirectional=True, batch_first=batch_first)
    x_np = RNG.standard_normal((BATCH, STEPS, INPUTS) if batch_first else (STEPS, BATCH, INPUTS))
    arrays = [RNG.standard_normal(shape) for shape in state_shapes(2, True)]
    x, tx = leaf(x_np, np.float64), torch_leaf(torch, x_np, np.float64)
    states = [(leaf(a, np.float64), torch_leaf(torch, a, np.float64)) for a in arrays]
    state, t_state = tuple(s for s, _ in states), tuple(t for _, t in states)

    t_packed, t_final = torch_model(torch_pack(tx, torch.tensor(lengths), batch_first=batch_first,
                                               enforce_sorted=False), t_state)
    if form == "lengths":
        out, final = model(x, state, lengths=lengths)
        t_out, _ = torch_pad(t_packed, batch_first=batch_first, total_length=STEPS)
    else:
        packed, final = model(pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False),
                              state)
        out, t_out = packed.data, t_packed.data
        assert out.shape == (sum(lengths), 2 * PROJ)
    assert_matches_torch(torch, model, torch_model, (out, final), (t_out, t_final), [(x, tx), *states])


@pytest.mark.parametrize("given_state", [False, True])
def test_unbatched_input_matches_torch(torch, given_state: bool) -> None:
    model, torch_model = make_pair(torch, num_layers=2, bidirectional=True)
    x_np = RNG.standard_normal((STEPS, INPUTS))
    x, tx = leaf(x_np, np.float64), torch_leaf(torch, x_np, np.float64)
    leaves = [(x, tx)]
    state = t_state = None
    if given_state:
        arrays = [RNG.standard_normal(shape) for shape in state_shapes(2, True, batch=None)]
        leaves += [(leaf(a, np.float64), torch_leaf(torch, a, np.float64)) for a in arrays]
        state, t_state = tuple(s for s, _ in leaves[1:]), tuple(t for _, t in leaves[1:])
    out, (h_n, c_n) = result = model(x, state)
    assert out.shape == (STEPS, 2 * PROJ) and h_n.shape == (4, PROJ) and c_n.shape == (4, HIDDEN)
    assert_matches_torch(torch, model, torch_model, result, torch_model(tx, t_state), leaves)


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
def test_float32_without_bias_matches_torch(torch) -> None:
    model, torch_model = make_pair(torch, np.float32, num_layers=2, bidirectional=True, bias=False)
    assert [n for n, _ in model.named_parameters()][:3] == ["weight_ih_l0", "weight_hh_l0", "weight_hr_l0"]
    x_np = RNG.standard_normal((STEPS, BATCH, INPUTS)).astype(np.float32)
    x, tx = leaf(x_np, np.float32), torch_leaf(torch, x_np, np.float32)
    result = model(x)
    assert result[0].dtype == np.float32
    assert_matches_torch(torch, model, torch_model, result, torch_model(tx), [(x, tx)], np.float32)


def test_pytorch_positional_call_builds_the_same_lstm(torch) -> None:
    """proj_size is the 8th positional parameter, as PyTorch's; device and dtype follow it."""
    model = nn.LSTM(4, 8, 2, True, False, 0.0, True, 3)
    torch_model = torch.nn.LSTM(4, 8, 2, True, False, 0.0, True, 3)
    assert (model.num_layers, model.bidirectional, model.proj_size) == (2, True, 3)
    assert not (model.peephole or model.coupled or model.fused or model.compile)
    assert repr(model) == repr(torch_model) == "LSTM(4, 8, proj_size=3, num_layers=2, bidirectional=True)"
    assert {n: p.shape for n, p in model.named_parameters()} == \
        {n: tuple(p.shape) for n, p in torch_model.named_parameters()}
    assert nn.LSTM(4, 8, 1, True, False, 0.0, False, 3, "cpu", mg.float64).weight_hr_l0.dtype == np.float64

    model, torch_model = nn.LSTM(4, 8, 2, True, False, 0.0, True, 3, None, mg.float64), torch_model.double()
    copy_weights(model, torch_model)
    x_np = RNG.standard_normal((5, 2, 4))
    x, tx = leaf(x_np, np.float64), torch_leaf(torch, x_np, np.float64)
    assert_matches_torch(torch, model, torch_model, model(x), torch_model(tx), [(x, tx)])


@pytest.mark.parametrize("kwargs", [{}, {"bias": False}, {"num_layers": 2, "bidirectional": True},
                                    {"num_layers": 3, "bidirectional": True, "bias": False}])
def test_state_dict_keys_order_and_shapes_are_torchs(torch, kwargs: dict) -> None:
    model, torch_model = nn.LSTM(4, 8, proj_size=3, **kwargs), torch.nn.LSTM(4, 8, proj_size=3, **kwargs)
    ours, theirs = model.state_dict(), torch_model.state_dict()
    assert list(ours) == list(theirs)
    assert [tuple(v.shape) for v in ours.values()] == [tuple(v.shape) for v in theirs.values()]
    # all_weights groups the same names per layer and direction, w_hr last
    assert [[p.shape for p in group] for group in model.all_weights] == \
        [[tuple(p.shape) for p in group] for group in torch_model.all_weights]
    model.flatten_parameters()
    model.load_state_dict({k: v.numpy() for k, v in theirs.items()})          # loads as-is
    np.testing.assert_array_equal(model.weight_hr_l0.numpy(), theirs["weight_hr_l0"].numpy())


def test_weight_hr_is_initialised_like_the_others() -> None:
    model = nn.LSTM(4, 16, proj_size=3, dtype=mg.float64)
    bound = 1 / np.sqrt(16)                               # 1/√hidden_size, as every LSTM weight
    values = model.weight_hr_l0.numpy()
    assert values.shape == (3, 16) and np.all(np.abs(values) <= bound) and np.abs(values).max() > bound / 2
    assert model.weight_hh_l0.shape == (64, 3)


# --- compile=True: bit for bit eager ----------------------------------------------------------

VARIANTS = [{}, {"peephole": True}, {"coupled": True}, {"peephole": True, "coupled": True}, {"fused": True}]


def run_twice(model: nn.Module, x_np: np.ndarray, arrays: list, layout: str) -> list[np.ndarray]:
    """Two forward + backward passes (the first captures, the second replays); the second's arrays."""
    lengths = [4, 2, 3]
    for _ in range(2):
        model.zero_grad()
        x = mg.tensor(x_np, requires_grad=True)
        states = [mg.tensor(a, requires_grad=True) for a in arrays]
        if layout == "packed":
            out, (h_n, c_n) = model(pack_padded_sequence(x, lengths, enforce_sorted=False), tuple(states))
            out = out.data
        else:
            out, (h_n, c_n) = model(x, tuple(states), lengths=lengths if layout == "lengths" else None)
        ((out * out).sum() + (h_n * h_n.tanh()).sum() + (c_n * c_n.tanh()).sum()).backward()
    grads = [x.grad, *(s.grad for s in states), *(p.grad for p in model.parameters())]
    return [out.numpy(), h_n.numpy(), c_n.numpy(), *(g.numpy() for g in grads)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("num_layers,bidirectional,layout",
                         list(itertools.product([1, 2], [False, True], ["full", "lengths", "packed"])))
@pytest.mark.parametrize("options", VARIANTS, ids=["-".join(o) or "plain" for o in VARIANTS])
def test_compiled_projected_lstm_equals_eager(options: dict, num_layers: int, bidirectional: bool, layout: str,
                                              dtype: Any) -> None:
    kwargs = {"proj_size": PROJ, "num_layers": num_layers, "bidirectional": bidirectional, "dtype": dtype, **options}
    eager, compiled = nn.LSTM(INPUTS, HIDDEN, **kwargs), nn.LSTM(INPUTS, HIDDEN, compile=True, **kwargs)
    compiled.load_state_dict(eager.state_dict())
    rng = np.random.default_rng(11)
    x_np = rng.standard_normal((STEPS, BATCH, INPUTS)).astype(dtype)
    arrays = [rng.standard_normal(shape).astype(dtype) for shape in state_shapes(num_layers, bidirectional)]
    expected, got = run_twice(eager, x_np, arrays, layout), run_twice(compiled, x_np, arrays, layout)
    assert len(expected) == len(got)
    for i, (a, b) in enumerate(zip(expected, got)):
        np.testing.assert_array_equal(b, a, err_msg=f"array {i}")
    replays = compiled._compiled_directions.values()
    assert len(replays) == num_layers * (2 if bidirectional else 1) and not any(c.eager for c in replays)


@pytest.mark.parametrize("unbatched", [False, True])
def test_compiled_without_a_state_equals_eager(unbatched: bool) -> None:
    kwargs = {"proj_size": PROJ, "num_layers": 2, "bidirectional": True, "batch_first": True, "dtype": mg.float64}
    eager, compiled = nn.LSTM(INPUTS, HIDDEN, **kwargs), nn.LSTM(INPUTS, HIDDEN, compile=True, **kwargs)
    compiled.load_state_dict(eager.state_dict())
    x_np = RNG.standard_normal((STEPS, INPUTS) if unbatched else (BATCH, STEPS, INPUTS))
    results = []
    for model in (eager, compiled):
        for _ in range(2):
            model.zero_grad()
            x = mg.tensor(x_np, requires_grad=True)
            out, (h_n, c_n) = model(x)
            weighted_sum([out, h_n, c_n]).backward()
        results.append([out, h_n, c_n, x.grad, *(p.grad for p in model.parameters())])
    for i, (a, b) in enumerate(zip(*results)):
        np.testing.assert_array_equal(b.numpy(), a.numpy(), err_msg=f"array {i}")


def test_compiled_dropout_with_a_fixed_seed_equals_eager() -> None:
    kwargs = {"proj_size": PROJ, "num_layers": 3, "bidirectional": True, "dropout": 0.5, "dtype": mg.float64}
    eager, compiled = nn.LSTM(INPUTS, HIDDEN, **kwargs), nn.LSTM(INPUTS, HIDDEN, compile=True, **kwargs)
    compiled.load_state_dict(eager.state_dict())
    x_np = RNG.standard_normal((STEPS, BATCH, INPUTS))
    arrays = [RNG.standard_normal(shape) for shape in state_shapes(3, True)]
    results = []
    for model in (eager, compiled):
        mg.manual_seed(5)
        results.append(run_twice(model, x_np, arrays, "lengths"))
    for i, (a, b) in enumerate(zip(*results)):
        np.testing.assert_array_equal(b, a, err_msg=f"array {i}")


# --- peephole, coupled, fused with a projection: an independent NumPy reference -------------------

def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-v))


def numpy_projected_lstm(x: np.ndarray, h: np.ndarray, c: np.ndarray, p: dict, peephole: bool,
                         coupled: bool) -> tuple:
    """Sak et al.'s projected LSTM (with Gers' peepholes / CIFG), written directly: x (T, B, I) → (outputs, h, c)."""
    outputs = []
    for x_t in x:
        a = x_t @ p["weight_ih"].T + p["bias_ih"] + h @ p["weight_hh"].T + p["bias_hh"]
        blocks = np.split(a, 3 if coupled else 4, axis=-1)
        a_f, a_g, a_o = blocks[-3:]
        if peephole:
            a_f = a_f + p["weight_cf"] * c
        f = _sigmoid(a_f)
        if coupled:
            i = 1 - f
        else:
            i = _sigmoid(blocks[0] + (p["weight_ci"] * c if peephole else 0))
        c = f * c + i * np.tanh(a_g)
        o = _sigmoid(a_o + (p["weight_co"] * c if peephole else 0))
        h = (o * np.tanh(c)) @ p["weight_hr"].T
        outputs.append(h)
    return np.stack(outputs), h, c


def test_numpy_reference_is_torchs(torch) -> None:
    model, torch_model = make_pair(torch)
    x = RNG.standard_normal((STEPS, BATCH, INPUTS))
    params = {n[:-3]: p.detach().numpy() for n, p in torch_model.named_parameters()}
    ref_out, ref_h, ref_c = numpy_projected_lstm(x, np.zeros((BATCH, PROJ)), np.zeros((BATCH, HIDDEN)), params,
                                                 False, False)
    t_out, (t_h, t_c) = torch_model(torch.from_numpy(x))
    for a, b in ((ref_out, t_out), (ref_h, t_h[0]), (ref_c, t_c[0])):
        assert_close(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("options", VARIANTS, ids=["-".join(o) or "plain" for o in VARIANTS])
def test_variants_with_projection_match_the_numpy_reference(options: dict) -> None:
    model = nn.LSTM(INPUTS, HIDDEN, proj_size=PROJ, bidirectional=True, dtype=mg.float64, **options)
    peephole, coupled = options.get("peephole", False), options.get("coupled", False)
    x = RNG.standard_normal((STEPS, BATCH, INPUTS))
    h0, c0 = (RNG.standard_normal(shape) for shape in state_shapes(1, True))
    out, (h_n, c_n) = model(mg.tensor(x), (mg.tensor(h0), mg.tensor(c0)))
    for d, suffix in enumerate(["", "_reverse"]):
        end = f"_l0{suffix}"
        params = {n[:-len(end)]: p.numpy() for n, p in model.named_parameters() if n.endswith(end)}
        ref_out, ref_h, ref_c = numpy_projected_lstm(x if d == 0 else x[::-1], h0[d], c0[d], params, peephole,
                                                     coupled)
        np.testing.assert_allclose(out.numpy()[..., d * PROJ:(d + 1) * PROJ], ref_out if d == 0 else ref_out[::-1],
                                   rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(h_n.numpy()[d], ref_h, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(c_n.numpy()[d], ref_c, rtol=1e-12, atol=1e-14)


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_projected_lstm_matches_torch(torch, dtype: Any) -> None:
    """fused=True with proj_size: the fused gate op, then the projection as an ordinary matmul."""
    model, torch_model = make_pair(torch, dtype, {"fused": True}, num_layers=2, bidirectional=True)
    assert repr(model) == "LSTM(3, 5, proj_size=2, num_layers=2, bidirectional=True, fused=True)"
    x_np = RNG.standard_normal((STEPS, BATCH, INPUTS)).astype(dtype)
    x, tx = leaf(x_np, dtype), torch_leaf(torch, x_np, dtype)
    assert_matches_torch(torch, model, torch_model, model(x), torch_model(tx), [(x, tx)], dtype)
    assert "lstm_gates" in {n.name for n in walk(model(x)[0])}


# --- finite differences ----------------------------------------------------------------------

@pytest.mark.parametrize("options", [{}, {"peephole": True, "coupled": True}], ids=["plain", "peephole-coupled"])
def test_gradcheck_tiny_projected_lstm(options: dict) -> None:
    model = nn.LSTM(2, 3, num_layers=2, proj_size=2, bidirectional=True, dtype=mg.float64, **options)
    names = [n for n, _ in model.named_parameters()]
    params = [p.detach().requires_grad_() for _, p in model.named_parameters()]

    def run(x: mg.Tensor, h: mg.Tensor, c: mg.Tensor) -> tuple:
        out, (h_n, c_n) = model(x, (h, c), lengths=[3, 2])
        return out, h_n, c_n

    shapes = [(3, 2, 2), (4, 2, 2), (4, 2, 3)]
    inputs = [mg.tensor(RNG.standard_normal(shape), requires_grad=True) for shape in shapes]
    assert mg.gradcheck(functional(model, names, run), inputs + params)


# --- the graph, the repr and the errors ---------------------------------------------------------

def test_each_step_projects_its_hidden_state() -> None:
    model = nn.LSTM(2, 4, proj_size=3)
    out, _ = model(mg.randn(3, 2, 2))
    nodes = walk(out)
    for t in range(3):
        step = [n for n in nodes if n.scope == f"lstm/l0/t{t}"]
        names = [n.name for n in step]
        assert names.count("addmm") == 1 and names.count("matmul") == 1   # gates_x + h W_hhᵀ, the projection
    assert out.shape == (3, 2, 3)


def test_repr_is_torchs(torch) -> None:
    for kwargs in ({}, {"num_layers": 2, "bias": False, "batch_first": True, "bidirectional": True}):
        assert repr(nn.LSTM(4, 8, proj_size=3, **kwargs)) == repr(torch.nn.LSTM(4, 8, proj_size=3, **kwargs))
    assert repr(nn.LSTM(4, 8, proj_size=3, peephole=True, compile=True)) == \
        "LSTM(4, 8, proj_size=3, compile=True, peephole=True)"
    assert repr(nn.LSTM(4, 8)) == "LSTM(4, 8)"


def test_dropout_between_projected_layers() -> None:
    model = nn.LSTM(3, 6, num_layers=2, proj_size=2, dropout=1.0, dtype=mg.float64)
    x = mg.tensor(RNG.standard_normal((4, 2, 3)))
    a, _ = model(x)
    b, _ = model(x * 2.0)
    np.testing.assert_array_equal(a.numpy(), b.numpy())       # layer 1 sees zeros
    model.eval()
    reference = nn.LSTM(3, 6, num_layers=2, proj_size=2, dtype=mg.float64)
    reference.load_state_dict(model.state_dict())
    np.testing.assert_array_equal(model(x)[0].numpy(), reference(x)[0].numpy())


@pytest.mark.parametrize("proj_size,error,message", [
    (5, ValueError, r"LSTM: proj_size has to be smaller than hidden_size \(5\), got 5"),
    (9, ValueError, "smaller than hidden_size"),
    (-1, ValueError, "proj_size should be a positive integer or zero"),
    (2.0, TypeError, "proj_size should be of type int, got float 2.0"),    # PyTorch's TypeError too
    (True, TypeError, r"peephole and coupled are keyword-only: nn.LSTM\(..., peephole=True\)"),
])
def test_invalid_proj_size_is_refused(torch, proj_size: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        nn.LSTM(3, 5, proj_size=proj_size)
    if isinstance(proj_size, int) and not isinstance(proj_size, bool):
        with pytest.raises(ValueError):                          # PyTorch refuses the same sizes
            torch.nn.LSTM(3, 5, proj_size=proj_size)


def test_old_positional_peephole_is_refused_not_misread() -> None:
    """Before PyTorch's order, the 8th positional argument was peephole: such calls now fail loudly."""
    with pytest.raises(TypeError, match="keyword-only"):
        nn.LSTM(3, 4, 1, True, False, 0.0, False, True)
    with pytest.raises(TypeError):
        nn.LSTM(3, 4, 1, True, False, 0.0, False, 0, None, None, True)   # an 11th positional argument
    assert nn.LSTM(3, 4, peephole=True, coupled=True).weight_cf_l0.shape == (4,)


@pytest.mark.parametrize("name", ["GRU", "RNN"])
def test_proj_size_is_lstm_only(torch, name: str) -> None:
    with pytest.raises(ValueError, match=f"{name}: proj_size argument is only supported for LSTM"):
        getattr(nn, name)(3, 5, proj_size=2)
    with pytest.raises(ValueError, match="only supported for LSTM"):
        getattr(torch.nn, name)(3, 5, proj_size=2)
    for module in (nn, torch.nn):   # given at all, even 0 (round 16)
        with pytest.raises(ValueError, match="only supported for LSTM"):
            getattr(module, name)(3, 5, proj_size=0)
    assert getattr(nn, name)(3, 5).proj_size == 0


def test_wrong_state_shapes_are_refused() -> None:
    model = nn.LSTM(3, 5, num_layers=2, proj_size=2)
    x = mg.zeros(4, 3, 3)
    h_good, c_good = mg.zeros(2, 3, 2), mg.zeros(2, 3, 5)
    with pytest.raises(nn.RecurrentStateError,
                       match=r"LSTM: expected state h0 of shape \(2, 3, 2\) \(num_layers \* num_directions, "
                             r"batch, proj_size\).*got \(2, 3, 5\)"):
        model(x, (mg.zeros(2, 3, 5), c_good))                    # h0 as wide as the cell
    with pytest.raises(ValueError, match=r"state c0 of shape \(2, 3, 5\) \(num_layers \* num_directions, "
                                         r"batch, hidden_size\).*got \(2, 3, 2\)"):
        model(x, (h_good, mg.zeros(2, 3, 2)))                    # c0 as narrow as the projection
    with pytest.raises(ValueError, match=r"state h0 of shape \(2, 2\) \(num_layers \* num_directions, proj_size\)"):
        model(mg.zeros(4, 3), (mg.zeros(2, 5), mg.zeros(2, 5)))  # unbatched
    out, (h_n, c_n) = model(x, (h_good, c_good))
    assert (out.shape, h_n.shape, c_n.shape) == ((4, 3, 2), (2, 3, 2), (2, 3, 5))


def test_lstm_step_projects_with_weight_hr() -> None:
    """The step function alone: h' = (o * tanh(c')) W_hrᵀ, fused or not."""
    rng = np.random.default_rng(0)
    gates_x, h, c = (mg.tensor(rng.standard_normal(shape)) for shape in [(2, 16), (2, 3), (2, 4)])
    weight_hh_t, weight_hr_t = mg.tensor(rng.standard_normal((3, 16))), mg.tensor(rng.standard_normal((4, 3)))
    plain_h, plain_c = nn.cells.lstm_step(gates_x, h, c, weight_hh_t, None)
    projected_h, projected_c = nn.cells.lstm_step(gates_x, h, c, weight_hh_t, None, weight_hr_t=weight_hr_t)
    fused_h, fused_c = nn.cells.lstm_step(gates_x, h, c, weight_hh_t, None, fused=True, weight_hr_t=weight_hr_t)
    np.testing.assert_array_equal(projected_c.numpy(), plain_c.numpy())
    np.testing.assert_allclose(projected_h.numpy(), plain_h.numpy() @ weight_hr_t.numpy(), rtol=1e-14)
    np.testing.assert_allclose(fused_h.numpy(), projected_h.numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(fused_c.numpy(), projected_c.numpy(), rtol=1e-13, atol=1e-15)
