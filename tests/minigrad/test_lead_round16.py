"""Round 16, found while integrating the helpers' work (the lead's regression tests)."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg


@pytest.mark.parametrize("fn", ["lgamma", "special.gammaln"])
def test_lgamma_at_huge_negative_integers_is_inf_as_torch(fn, torch) -> None:
    x = np.array([-2.5e305, -1e306, -1.7e308, -3.0])
    ours = mg.tensor(x)
    theirs = torch.tensor(x)
    got = (mg.special.gammaln(ours) if fn == "special.gammaln" else mg.lgamma(ours)).numpy()
    want = (torch.special.gammaln(theirs) if fn == "special.gammaln" else torch.lgamma(theirs)).numpy()
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", [mg.float32, mg.float64])
def test_sinc_gradient_with_create_graph_equals_the_plain_gradient_near_zero(dtype) -> None:
    x = mg.tensor([1e-4, -3e-3, 0.2, 0.0, 0.5], dtype=dtype, requires_grad=True)
    (plain,) = mg.autograd.grad(mg.sinc(x).sum(), x)
    (graphed,) = mg.autograd.grad(mg.sinc(x).sum(), x, create_graph=True)
    rtol = 1e-6 if dtype == mg.float32 else 1e-14   # the same slope, evaluated in another order
    np.testing.assert_allclose(graphed.detach().numpy(), plain.numpy(), rtol=rtol)


@pytest.mark.parametrize("make", [
    lambda lib, x: x.prod(),
    lambda lib, x: x.prod(dim=0),
    lambda lib, x: x.cumprod(dim=0),
    lambda lib, x: x.std(dim=0),
])
def test_writing_into_an_output_the_backward_reads_raises_as_torch(make, torch) -> None:
    data = np.array([[1.5, -2.0], [0.5, 3.0]])
    for lib in (torch, mg):
        x = lib.tensor(data, requires_grad=True)
        y = make(lib, x)
        y.mul_(2)   # the gradient would have been doubled silently
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_a_replayed_fused_lstm_is_drawn_with_its_gradient_norms_as_eager() -> None:
    """compile=True with fused=True: the replay's drawing lost the fused op's [h, c] tags, so no step showed
    ‖∂L/∂h‖ (Program.drawn now keeps a captured op's output tags)."""
    import nn

    x = np.random.default_rng(1).standard_normal((4, 2, 2))
    sources = []
    for compile_step in (False, True):
        mg.manual_seed(0)
        layer = nn.LSTM(2, 3, fused=True, compile=compile_step).to(mg.float64)
        for _ in range(2):   # the second call replays
            out, _ = layer(mg.tensor(x))
        sources.append(mg.viz.draw((out ** 2).sum(), show_grads=True).source)
    assert sources[0].count("‖∂L/∂h‖") == 4
    assert sources[1] == sources[0]


@pytest.mark.parametrize("args, kwargs", [((4, 4), {"nonlinearity": "relu"}), ((3, 5, 2), {"batch_first": True}),
                                          ((3, 5), {"bidirectional": True, "nonlinearity": "tanh"})])
def test_rnn_prints_as_torch(args, kwargs, torch) -> None:
    import nn

    assert repr(nn.RNN(*args, **kwargs)) == repr(torch.nn.RNN(*args, **kwargs))


def test_grad_of_an_output_a_replayed_call_also_reads_equals_eager() -> None:
    """return loss, logits: autograd.grad(loss, logits) and loss.backward(inputs=[logits]) stopped at the replayed
    call's node (logits leads to no other target), so logits got no gradient ("not used"; None with allow_unused)."""

    def step(x, w):
        logits = x @ w
        return (logits.tanh() ** 2).sum(), logits

    x = mg.tensor(np.random.default_rng(0).standard_normal((2, 3)))
    results = []
    for fn in (step, mg.compile(step)):
        mg.manual_seed(0)
        w = mg.randn(3, 4, dtype=mg.float64, requires_grad=True)
        for _ in range(3):   # the later calls replay
            loss, logits = fn(x, w)
        grads = list(mg.autograd.grad(loss, [logits, w], retain_graph=True))
        grads.append(mg.autograd.grad(loss, logits, retain_graph=True)[0])
        loss.backward(inputs=[logits])
        results.append([g.numpy() for g in grads] + [logits.grad.numpy()])
    for eager, replayed in zip(*results):
        np.testing.assert_array_equal(replayed, eager)


def test_module_apply_as_torch(torch) -> None:
    import nn

    ours, theirs = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2)), torch.nn.Sequential(
        torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    for (_, p), (_, q) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        p.copy_(mg.tensor(q.numpy()))
    weight = ours[0].weight
    ours[0].weight.grad = mg.ones(2, 3)
    theirs[0].weight.grad = torch.ones(2, 3)
    assert ours._apply(lambda t: t * 2) is ours
    theirs._apply(lambda t: t * 2)
    assert ours[0].weight is weight and ours[0].weight.requires_grad
    for (key, p), (_, q) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=key)
    np.testing.assert_array_equal(ours[0].weight.grad.numpy(), theirs[0].weight.grad.numpy())
    ours._apply(lambda t: t.double(), recurse=False)   # no parameters of its own: nothing changes
    assert ours[0].weight.dtype == mg.float32


@pytest.mark.parametrize("start, end, step, dtype", [
    (0.0, 1000.0, 1.0, "float32"), (-5.0, 3000.0, 3.0, "float64"), (2030.0, 2080.0, 1.0, "float16"),
    (0.0, 2048.0, 1.0, "float16"), (-7.0, 9.0, 0.5, "float16"), (0.0, 40.0, 0.1, "float32"),
])
def test_arange_of_whole_numbers_takes_the_plain_path_with_torchs_bits(start, end, step, dtype, torch) -> None:
    ours = mg.arange(start, end, step, dtype=getattr(mg, dtype)).numpy()
    theirs = torch.arange(start, end, step, dtype=getattr(torch, dtype)).numpy()
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("create_graph", [False, True])
def test_the_zero_norm_has_no_gradient_as_torch(create_graph, torch) -> None:
    data = np.array([[0.0, 1.5, -2.0], [3.0, 0.0, 0.0]])
    for lib in (mg, torch):
        x = lib.tensor(data, requires_grad=True)
        y = lib.linalg.vector_norm(x, 0, dim=1)
        with pytest.raises(RuntimeError):
            lib.autograd.grad(y.sum(), x, create_graph=create_graph)
        y = lib.linalg.vector_norm(x, 0, dim=1)
        assert lib.autograd.grad(y.sum(), x, allow_unused=True, create_graph=create_graph) == (None,)
        w = lib.tensor(data, requires_grad=True)
        (lib.linalg.vector_norm(w, 0) + (w * 2).sum()).backward()   # another path still gives its gradient
        np.testing.assert_array_equal(w.grad.numpy(), np.full((2, 3), 2.0))
