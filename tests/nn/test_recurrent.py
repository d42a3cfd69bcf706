"""Recurrent sequence layers (nn/recurrent.py): PyTorch parity, peephole/coupled references, lengths,
scopes, BPTT. The cells are tested in test_cells.py, packing in test_rnn_utils.py."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn
from tests.helpers import assert_close
from tests.nn.recurrent_helpers import (
    assert_same_param_grads,
    copy_weights,
    functional,
    leaf,
    numpy_lstm_reference,
    tol,
    torch_leaf,
    walk,
    weighted_sum,
)

RNG = np.random.default_rng(1234)


def assert_layer_matches(torch: Any, name: str, model: nn.Module, torch_model: Any, result: tuple,
                         torch_result: tuple, leaves: list, dtype: Any = np.float64, what: str = "") -> None:
    """A sequence layer's (output, final state) and every gradient equal PyTorch's.

    ``leaves``: (ours, torch's) pairs of input leaves whose gradients must agree too.
    """
    (out, final), (t_out, t_final) = result, torch_result
    finals, t_finals = (list(final), list(t_final)) if name == "LSTM" else ([final], [t_final])
    assert_close(out, t_out, **tol(dtype), what=f"output{what}")
    for a, b in zip(finals, t_finals):
        assert_close(a, b, **tol(dtype), what=f"final state{what}")
    weighted_sum([out, *finals]).backward()
    weighted_sum([t_out, *t_finals], torch).backward()
    for i, (a, b) in enumerate(leaves):
        assert_close(a.grad, b.grad, **tol(dtype), what=f"grad of input leaf {i}{what}")
    assert_same_param_grads(model, torch_model, dtype)


# --- sequence layers against PyTorch ----------------------------------------------

LAYER_CASES = list(itertools.product(["RNN", "LSTM", "GRU"], [1, 2], [False, True], [False, True], [False, True]))


@pytest.mark.parametrize("name,num_layers,bidirectional,batch_first,given_state", LAYER_CASES)
def test_layer_matches_torch(torch, name: str, num_layers: int, bidirectional: bool, batch_first: bool,
                             given_state: bool) -> None:
    steps, batch, inputs, hidden = 4, 3, 3, 4
    kwargs = {"num_layers": num_layers, "bidirectional": bidirectional, "batch_first": batch_first}
    model = getattr(nn, name)(inputs, hidden, dtype=mg.float64, **kwargs)
    torch_model = getattr(torch.nn, name)(inputs, hidden, **kwargs).double()
    copy_weights(model, torch_model)
    x_np = RNG.standard_normal((batch, steps, inputs) if batch_first else (steps, batch, inputs))
    x, tx = leaf(x_np, np.float64), torch_leaf(torch, x_np, np.float64)
    state = t_state = None
    state_leaves: list = []
    if given_state:
        shape = ((2 if bidirectional else 1) * num_layers, batch, hidden)
        arrays = [RNG.standard_normal(shape) for _ in range(2 if name == "LSTM" else 1)]
        state_leaves = [(leaf(a, np.float64), torch_leaf(torch, a, np.float64)) for a in arrays]
        state = tuple(s for s, _ in state_leaves) if name == "LSTM" else state_leaves[0][0]
        t_state = tuple(t for _, t in state_leaves) if name == "LSTM" else state_leaves[0][1]
    assert_layer_matches(torch, name, model, torch_model, model(x, state), torch_model(tx, t_state),
                         [(x, tx), *state_leaves])


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_layer_float32_bias_free_relu_and_unbatched(torch, name: str) -> None:
    options = {"nonlinearity": "relu"} if name == "RNN" else {}
    model = getattr(nn, name)(3, 5, num_layers=2, bias=False, bidirectional=True, **options)
    torch_model = getattr(torch.nn, name)(3, 5, num_layers=2, bias=False, bidirectional=True, **options)
    copy_weights(model, torch_model)
    x_np = RNG.standard_normal((6, 3)).astype(np.float32)          # unbatched (T, I)
    x, tx = leaf(x_np, np.float32), torch_leaf(torch, x_np, np.float32)
    out, final = model(x)
    assert out.shape == (6, 10) and (final[0] if name == "LSTM" else final).shape == (4, 5)
    assert_layer_matches(torch, name, model, torch_model, (out, final), torch_model(tx), [(x, tx)], np.float32)


def test_state_dict_from_torch_loads_as_is(torch) -> None:
    torch_model = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    model = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    state = {k: v.numpy() for k, v in torch_model.state_dict().items()}
    assert list(model.state_dict()) == list(state)
    model.load_state_dict(state)
    np.testing.assert_array_equal(model.weight_hh_l1_reverse.numpy(), state["weight_hh_l1_reverse"])
    assert model.weight_ih_l1.shape == (16, 8)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_lengths_match_packed_sequence(torch, name: str, batch_first: bool) -> None:
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    steps, batch, inputs, hidden = 5, 4, 3, 3
    lengths = [3, 5, 1, 4]     # unsorted, includes the full length and 1
    model = getattr(nn, name)(inputs, hidden, num_layers=2, bidirectional=True, batch_first=batch_first,
                              dtype=mg.float64)
    torch_model = getattr(torch.nn, name)(inputs, hidden, num_layers=2, bidirectional=True,
                                          batch_first=batch_first).double()
    copy_weights(model, torch_model)
    x_np = RNG.standard_normal((batch, steps, inputs) if batch_first else (steps, batch, inputs))
    h_np = RNG.standard_normal((4, batch, hidden))
    x, tx = leaf(x_np, np.float64), torch_leaf(torch, x_np, np.float64)
    h, th = leaf(h_np, np.float64), torch_leaf(torch, h_np, np.float64)
    state, t_state = ((h, h * 0.5), (th, th * 0.5)) if name == "LSTM" else (h, th)

    packed = pack_padded_sequence(tx, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
    t_packed, t_final = torch_model(packed, t_state)
    t_out, _ = pad_packed_sequence(t_packed, batch_first=batch_first, total_length=steps)
    assert_layer_matches(torch, name, model, torch_model, model(x, state, lengths=lengths), (t_out, t_final),
                         [(x, tx), (h, th)], what=" with lengths")


def test_lengths_forms_and_padding() -> None:
    model = nn.GRU(2, 3, bidirectional=True, dtype=mg.float64)
    x = mg.tensor(RNG.standard_normal((6, 3, 2)))
    out_list, h_list = model(x, lengths=[2, 4, 3])
    for lengths in (np.array([2, 4, 3]), mg.tensor([2, 4, 3])):
        out, h = model(x, lengths=lengths)
        np.testing.assert_array_equal(out.numpy(), out_list.numpy())
        np.testing.assert_array_equal(h.numpy(), h_list.numpy())
    # past each sequence's end the output is zero (here all sequences end by step 4)
    assert np.all(out_list.numpy()[4:] == 0) and np.all(out_list.numpy()[2:, 0] == 0)
    assert np.all(out_list.numpy()[:2, 0] != 0)
    # a sequence's forward final state equals running it alone, unpadded
    alone, h_alone = model(x[:3, 2:3])
    np.testing.assert_allclose(h_list.numpy()[:, 2:3], h_alone.numpy(), rtol=1e-12)
    np.testing.assert_allclose(out_list.numpy()[:3, 2:3], alone.numpy(), rtol=1e-12)
    # all lengths equal to T: identical to no lengths at all
    full, h_full = model(x, lengths=[6, 6, 6])
    plain, h_plain = model(x)
    np.testing.assert_array_equal(full.numpy(), plain.numpy())


def test_layer_errors() -> None:
    model = nn.LSTM(3, 4, num_layers=2)
    with pytest.raises(ValueError, match=r"LSTM.*input_size=3.*\(5, 2, 7\)"):
        model(mg.zeros(5, 2, 7))
    with pytest.raises(ValueError, match=r"LSTM.*state h0 of shape \(2, 2, 4\).*got \(1, 2, 4\)"):
        model(mg.zeros(5, 2, 3), (mg.zeros(1, 2, 4), mg.zeros(2, 2, 4)))
    with pytest.raises(TypeError, match=r"LSTM.*tuple \(h0, c0\)"):
        model(mg.zeros(5, 2, 3), mg.zeros(2, 2, 4))
    with pytest.raises(ValueError, match=r"LSTM.*lengths.*\[1, 5\].*6"):
        model(mg.zeros(5, 2, 3), lengths=[6, 2])
    with pytest.raises(ValueError, match=r"LSTM.*one length per sequence.*\(2\)"):
        model(mg.zeros(5, 2, 3), lengths=[3, 2, 1])
    with pytest.raises(ValueError, match=r"LSTM.*lengths.*\[1, 5\]"):
        model(mg.zeros(5, 2, 3), lengths=[0, 2])
    with pytest.raises(TypeError, match="lengths must be integers"):
        model(mg.zeros(5, 2, 3), lengths=[2.5, 2])
    with pytest.raises(ValueError, match="dropout"):
        nn.GRU(3, 4, num_layers=2, dropout=1.5)
    with pytest.raises(ValueError, match="nonlinearity 'gelu'"):
        nn.RNN(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="fused=True"):
        nn.LSTM(3, 4, coupled=True, fused=True)
    with pytest.warns(UserWarning, match="num_layers=1"):
        nn.RNN(3, 4, dropout=0.5)
    assert nn.RNN(3, 4, 1, "relu").nonlinearity == "relu"      # PyTorch's positional order
    with pytest.raises(ValueError, match="4th positional argument is the nonlinearity"):
        nn.RNN(3, 4, 1, False)             # bias comes 5th, as in PyTorch


def test_repr_is_pytorch_like() -> None:
    assert repr(nn.LSTM(10, 20, num_layers=2, batch_first=True, bidirectional=True)) == \
        "LSTM(10, 20, num_layers=2, batch_first=True, bidirectional=True)"
    assert repr(nn.RNNCell(3, 4, nonlinearity="relu")) == "RNNCell(3, 4, nonlinearity=relu)"
    assert repr(nn.LSTMCell(3, 4, peephole=True)) == "LSTMCell(3, 4, peephole=True)"


def test_dropout_between_layers() -> None:
    model = nn.LSTM(3, 8, num_layers=2, dropout=0.5, dtype=mg.float64)
    x = mg.tensor(RNG.standard_normal((4, 2, 3)))
    model.eval()
    eval_out, _ = model(x)
    again, _ = model(x)
    np.testing.assert_array_equal(eval_out.numpy(), again.numpy())
    reference = nn.LSTM(3, 8, num_layers=2, dtype=mg.float64)
    reference.load_state_dict(model.state_dict())
    np.testing.assert_array_equal(eval_out.numpy(), reference(x)[0].numpy())
    model.train()
    train_out, _ = model(x)
    assert not np.allclose(train_out.numpy(), eval_out.numpy())
    # p = 1: the second layer sees zeros, so its output does not depend on x
    ones = nn.GRU(3, 4, num_layers=2, dropout=1.0, dtype=mg.float64)
    a, _ = ones(x)
    b, _ = ones(x * 2.0)
    np.testing.assert_array_equal(a.numpy(), b.numpy())


# --- peephole and coupled LSTM layers: an independent NumPy reference ----------------

@pytest.mark.parametrize("peephole,coupled", [(True, False), (False, True), (True, True)])
def test_peephole_coupled_layer_reference_and_gradcheck(peephole: bool, coupled: bool) -> None:
    model = nn.LSTM(2, 3, bidirectional=True, peephole=peephole, coupled=coupled, dtype=mg.float64)
    assert ("weight_ci_l0_reverse" in dict(model.named_parameters())) == (peephole and not coupled)
    x = RNG.standard_normal((4, 2, 2))
    h0, c0 = RNG.standard_normal((2, 2, 3)), RNG.standard_normal((2, 2, 3))
    out, (h_n, c_n) = model(mg.tensor(x), (mg.tensor(h0), mg.tensor(c0)))
    for d, suffix in enumerate(["", "_reverse"]):
        params = {n[:-len(f"_l0{suffix}")]: p.numpy() for n, p in model.named_parameters()
                  if n.endswith(f"_l0{suffix}")}
        seq = x if d == 0 else x[::-1]
        ref_out, ref_h, ref_c = numpy_lstm_reference(seq, h0[d], c0[d], params, peephole, coupled)
        ref_out = ref_out if d == 0 else ref_out[::-1]
        np.testing.assert_allclose(out.numpy()[..., d * 3:(d + 1) * 3], ref_out, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(h_n.numpy()[d], ref_h, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(c_n.numpy()[d], ref_c, rtol=1e-12, atol=1e-14)

    names = [n for n, _ in model.named_parameters()]
    params = [p.detach().requires_grad_() for _, p in model.named_parameters()]

    def run(x: mg.Tensor, h: mg.Tensor, c: mg.Tensor) -> tuple:
        out, (h_n, c_n) = model(x, (h, c), lengths=[3, 2])
        return out, h_n, c_n

    inputs = [mg.tensor(a, requires_grad=True) for a in (x[:3], h0, c0)]
    assert mg.gradcheck(functional(model, names, run), inputs + params)


# --- fused gates against the primitive ops (layers) --------------------------------

@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_fused_layer_matches_primitive_ops(name: str) -> None:
    plain = getattr(nn, name)(3, 5, num_layers=2, bidirectional=True)
    fused = getattr(nn, name)(3, 5, num_layers=2, bidirectional=True, fused=True)
    fused.load_state_dict(plain.state_dict())
    x_np = RNG.standard_normal((6, 2, 3)).astype(np.float32)
    results = []
    for model in (plain, fused):
        x = leaf(x_np, np.float32)
        out, final = model(x, lengths=[6, 4])
        finals = list(final) if name == "LSTM" else [final]
        weighted_sum([out, *finals]).backward()
        results.append((out, finals, x.grad, {n: p.grad for n, p in model.named_parameters()}))
    (out_a, finals_a, gx_a, grads_a), (out_b, finals_b, gx_b, grads_b) = results
    assert_close(out_b, out_a.numpy(), rtol=1e-5, atol=1e-6, what="output")
    for a, b in zip(finals_a, finals_b):
        assert_close(b, a.numpy(), rtol=1e-5, atol=1e-6, what="final state")
    assert_close(gx_b, gx_a.numpy(), rtol=1e-5, atol=1e-6, what="grad of input")
    for n in grads_a:
        assert_close(grads_b[n], grads_a[n].numpy(), rtol=1e-5, atol=1e-5, what=f"grad of {n}")


# --- the unrolled graph: scopes, tags, BPTT ----------------------------------------

def test_scopes_and_tags_name_layer_direction_and_step() -> None:
    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.LSTM(2, 3, num_layers=2, bidirectional=True)

        def forward(self, x: mg.Tensor) -> mg.Tensor:
            return self.encoder(x)[0]

    out = Model()(mg.randn(4, 1, 2))
    nodes = walk(out)
    tagged = {(n.tag, n.scope) for n in nodes if n.tag}
    for k in range(2):
        for suffix in ("", "_reverse"):
            for t in range(4):
                scope = f"model/encoder/l{k}{suffix}/t{t}"
                assert ("h", scope) in tagged and ("c", scope) in tagged, scope
                step_ops = sorted(n.name for n in nodes if n.scope == scope)
                assert step_ops.count("sigmoid") == 3 and step_ops.count("addmm") == 1, step_ops   # gates_x + h W_hhᵀ
    assert len(tagged) == 2 * 2 * 2 * 4
    # the projection of all steps is one matmul per layer and direction, outside the step scopes
    projections = [n for n in nodes if n.name == "matmul" and "/t" not in n.scope]
    assert sorted(n.scope for n in projections) == [f"model/encoder/l{k}{s}" for k in (0, 1) for s in ("", "_reverse")]
    assert all(n.scope.startswith("model/encoder") for n in nodes)


def test_reverse_direction_scope_uses_actual_time_index() -> None:
    model = nn.GRU(2, 2, bidirectional=True)
    out, _ = model(mg.randn(3, 1, 2), lengths=[2])
    reverse_scopes = {n.scope for n in walk(out) if n.scope.startswith("gru/l0_reverse/t")}
    assert reverse_scopes == {"gru/l0_reverse/t0", "gru/l0_reverse/t1"}   # t2 is past the end: not run


def test_long_unroll_backpropagates() -> None:
    model = nn.RNN(1, 2, dtype=mg.float64)
    x = mg.tensor(RNG.standard_normal((10_000, 1, 1)), requires_grad=True)
    out, _ = model(x)
    out[-1].sum().backward()
    assert x.grad is not None and np.all(np.isfinite(x.grad.numpy()))
    assert x.grad.numpy()[-1, 0, 0] != 0
    assert all(np.all(np.isfinite(p.grad.numpy())) for p in model.parameters())


def test_truncated_bptt_stops_at_chunk_boundary() -> None:
    model = nn.LSTM(2, 3, dtype=mg.float64)
    x1 = mg.tensor(RNG.standard_normal((5, 2, 2)), requires_grad=True)
    x2 = mg.tensor(RNG.standard_normal((5, 2, 2)), requires_grad=True)
    _, state = model(x1)
    detached = nn.utils.detach_state(state)
    assert all(s.is_leaf and not s.requires_grad for s in detached)
    out, _ = model(x2, detached)
    out.sum().backward()
    assert x1.grad is None                      # nothing reached the previous chunk
    grads = {n: p.grad.numpy().copy() for n, p in model.named_parameters()}
    # the same as running the second chunk alone from those state values
    model.zero_grad()
    alone, _ = model(mg.tensor(x2.numpy()), (mg.tensor(state[0].numpy()), mg.tensor(state[1].numpy())))
    alone.sum().backward()
    for n, p in model.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), grads[n], rtol=1e-12)
    # without detaching, the gradient does reach the first chunk
    _, state = model(x1)
    out, _ = model(x2, state)
    out.sum().backward()
    assert x1.grad is not None and np.abs(x1.grad.numpy()).sum() > 0


def test_layer_device_and_dtype_kwargs() -> None:
    model = nn.GRU(3, 4, num_layers=2, bidirectional=True, device="cpu", dtype=mg.float64)
    assert all(p.dtype == np.float64 and p.device == "cpu" for p in model.parameters())
    assert [n for n, _ in model.named_parameters()][:4] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    out, h = model(mg.randn(5, 2, 3, dtype=mg.float64))
    assert out.shape == (5, 2, 8) and h.shape == (4, 2, 4) and out.dtype == np.float64
    assert len(model.all_weights) == 4 and len(model.all_weights[0]) == 4


def test_benchmark_numpy_baseline_matches_nn_lstm() -> None:
    from bench.numpy_lstm import NumpyLSTM

    model = nn.LSTM(3, 4, dtype=mg.float64)
    weights = {n[:-3]: p.numpy() for n, p in model.named_parameters()}
    x_np = RNG.standard_normal((6, 2, 3))
    reference = NumpyLSTM(weights["weight_ih"], weights["weight_hh"], weights["bias_ih"], weights["bias_hh"])
    ref_out = reference.forward(x_np)
    grad_out = RNG.standard_normal(ref_out.shape)
    ref_grads = reference.backward(grad_out, input_grad=True)
    x = mg.tensor(x_np, requires_grad=True)
    out, _ = model(x)
    (out * mg.tensor(grad_out)).sum().backward()
    np.testing.assert_allclose(out.numpy(), ref_out, rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), ref_grads["input"], rtol=1e-10)
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), ref_grads[name[:-3]], rtol=1e-10, atol=1e-13)


def test_weight_used_at_every_step_gets_the_summed_gradient(torch) -> None:
    """A leaf weight multiplied at every step (its gradient is summed over time in one GEMM)."""
    x_np, w_np = RNG.standard_normal((5, 2, 3)), RNG.standard_normal((3, 3))
    results = []
    for retain in (False, True):
        w = mg.tensor(w_np, requires_grad=True)
        seen = []
        u = mg.tensor(w_np, requires_grad=True)
        u.register_hook(lambda g, seen=seen: seen.append(g.numpy().copy()))
        h = mg.zeros(2, 3, dtype=mg.float64)
        for x_t in mg.tensor(x_np):
            h = (x_t + h @ w + h @ u).tanh()
        h.sum().backward(retain_graph=retain)
        results.append((w.grad.numpy(), u.grad.numpy(), seen))
    tw, tu = torch.tensor(w_np, requires_grad=True), torch.tensor(w_np, requires_grad=True)
    th = torch.zeros(2, 3, dtype=torch.float64)
    for x_t in torch.from_numpy(x_np):
        th = torch.tanh(x_t + th @ tw + th @ tu)
    th.sum().backward()
    for w_grad, u_grad, seen in results:
        assert_close(w_grad, tw.grad, what="grad of the shared weight")
        assert_close(u_grad, tu.grad, what="grad of the hooked weight")
        assert seen and np.allclose(sum(seen), tu.grad.numpy())   # the hook saw every part of the gradient


# --- the initial state's device (on the GPU, or the strict CuPy stand-in without one) ------------------

@pytest.mark.gpu
@pytest.mark.parametrize("name", ["LSTM", "GRU", "LSTMCell"])
def test_initial_state_on_another_device_is_refused(name: str) -> None:
    module = getattr(nn, name)(3, 4, device="cuda")
    is_cell = name.endswith("Cell")
    x = mg.zeros((2, 3) if is_cell else (5, 2, 3), device="cuda")
    h = mg.zeros((2, 4) if is_cell else (1, 2, 4))                  # on the CPU
    state = (h, h) if "LSTM" in name else h
    with pytest.raises(nn.RecurrentStateError, match=f"{name}: expected state h0? on device cuda"):
        module(x, state)


@pytest.mark.gpu
def test_packed_input_runs_on_the_gpu() -> None:
    from nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    lengths = [2, 4, 1]
    array = RNG.standard_normal((4, 3, 2)).astype(np.float32)
    results = []
    mg.manual_seed(3)
    weights = nn.LSTM(2, 3, bidirectional=True).state_dict()   # the same weights on both devices
    for device in ("cpu", "cuda"):
        model = nn.LSTM(2, 3, bidirectional=True, device=device)
        model.load_state_dict(weights)
        x = mg.tensor(array, device=device, requires_grad=True)
        out, (h, c) = model(pack_padded_sequence(x, lengths, enforce_sorted=False))
        padded, _ = pad_packed_sequence(out)
        (padded.sum() + h.sum()).backward()
        results.append([padded.numpy(), h.numpy(), x.grad.numpy(), model.weight_hh_l0.grad.numpy()])
    for cpu, gpu in zip(*results):
        np.testing.assert_allclose(gpu, cpu, rtol=1e-4, atol=1e-5)
