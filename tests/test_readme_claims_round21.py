"""README claims, round 21 audit: sentences of README.md that no other test pinned, checked on today's tree.

Each test names the README passage it pins. Where the passage is about PyTorch, the same call runs on torch
and the test asserts both sides of the claim (what minigrad does and what torch does), so a torch upgrade or
a change here that makes the sentence untrue fails here first. Claims found stale in the audit are pinned in
their corrected form (the replacement text is in the round 21 audit report)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn

torch = pytest.importorskip("torch", reason="no torch")

pytestmark = pytest.mark.usefixtures("torch_optim_loaded")  # torch.optim's first import is not a test's time

ROOT = Path(__file__).resolve().parents[1]


# --- "Two commands" and "Development": the README's commands are the Makefile's -----------------------------


def test_two_commands_and_ci_match_the_makefile() -> None:
    """README: `make demo` runs examples.seq2seq, `make test` installs torch==2.13.0+cpu and runs the notebook
    with nbmake on every core, set-up installs `.[dev,examples]`, `make bench` runs overhead/lstm/viz,
    `.ci/run` is `make test` then `make lint`."""
    readme, makefile = (ROOT / "README.md").read_text(), (ROOT / "Makefile").read_text()
    ci = (ROOT / ".ci/run").read_text()
    assert "make demo" in readme and "make test" in readme
    assert re.search(r"^demo: setup\n\t\$\(PY\) -m examples\.seq2seq$", makefile, re.M)
    version = re.search(r"^TORCH_VERSION := (\S+)$", makefile, re.M).group(1)
    assert f"torch=={version}+cpu" in readme
    assert 'pip install -e ".[dev,examples]"' in readme and '-e ".[dev,examples]"' in makefile
    test_rule = re.search(r"^test: .*\n\t(.*)$", makefile, re.M).group(1)
    assert "-n auto" in test_rule and "--nbmake" in test_rule and "docs/*.ipynb" in test_rule
    assert (ROOT / "docs/tutorial.ipynb").exists()
    bench_rule = re.search(r"^bench: setup\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert re.findall(r"-m (bench\.\w+)", bench_rule) == ["bench.overhead", "bench.lstm", "bench.viz"]
    assert ci.index("make test") < ci.index("make lint")


# --- "Deliberately different" ---------------------------------------------------------------------------------


def test_split_chunk_unbind_return_lists_where_torch_gives_tuples() -> None:
    x, t = mg.randn(5, 3), torch.randn(5, 3)
    assert type(x.split(2)) is list and type(x.chunk(2)) is list and type(x.unbind(0)) is list
    assert type(t.split(2)) is tuple and type(t.chunk(2)) is tuple and type(t.unbind(0)) is tuple


def test_shape_is_a_tuple_size_is_mg_size_and_dtypes_are_numpys() -> None:
    x = mg.zeros(2, 3)
    assert type(x.shape) is tuple and repr(x.shape) == "(2, 3)"
    assert isinstance(x.size(), tuple) and repr(x.size()) == "mg.Size([2, 3])" and x.size() == x.shape
    assert mg.float32 is np.dtype("float32")


def test_numpy_promotion_where_torch_keeps_float32() -> None:
    """int64 tensor * 1.5, x / np.sqrt(d), a 0-d float64 tensor times float32: float64 here, float32 in torch;
    integer true division and atan2(int64, float32) keep PyTorch's float32; bool ** 2 is int64."""
    i, x = mg.tensor([1, 2]), mg.randn(3)
    ti, tx = torch.tensor([1, 2]), torch.randn(3)
    assert (i * 1.5).dtype == mg.float64 and (ti * 1.5).dtype == torch.float32
    assert (x / np.sqrt(np.float64(4.0))).dtype == mg.float64 and (tx / np.sqrt(np.float64(4.0))).dtype == torch.float32
    assert (mg.tensor(np.log(np.float64(2.0))) * x).dtype == mg.float64
    assert (torch.tensor(np.log(np.float64(2.0))) * tx).dtype == torch.float32
    assert (i / i).dtype == mg.float32 and (ti / ti).dtype == torch.float32
    assert (2 / i).dtype == mg.float32 and (2 / ti).dtype == torch.float32
    assert mg.atan2(i, x[:2]).dtype == mg.float32 and torch.atan2(ti, tx[:2]).dtype == torch.float32
    assert (x ** np.float64(2)).dtype == mg.float32
    assert (x.half() ** np.float32(2)).dtype == mg.float32 and (x ** np.int64(2)).dtype == mg.float64
    assert (mg.tensor([True, False]) ** 2).dtype == mg.int64


def test_one_parameter_twice_raises_where_torch_warns() -> None:
    p = nn.Parameter(mg.randn(3))
    with pytest.raises(ValueError, match="parameter 1"):
        nn.optim.SGD([p, p], lr=0.1)
    tp = torch.nn.Parameter(torch.randn(3))
    with pytest.warns(UserWarning):
        torch.optim.SGD([tp, tp], lr=0.1)


def test_builtin_optimizer_state_is_arrays_and_its_state_dict_tensors() -> None:
    model = nn.Linear(2, 2)
    optimizer = nn.optim.Adam(model.parameters())
    model(mg.randn(1, 2)).sum().backward()
    optimizer.step()
    state = optimizer.state[model.weight]
    assert isinstance(state["exp_avg"], np.ndarray) and type(state["step"]) is int
    assert isinstance(optimizer.state_dict()["state"][0]["exp_avg"], mg.Tensor)


def test_no_sparse_tensors_and_inference_tensors_are_ordinary() -> None:
    with pytest.raises(NotImplementedError, match="dense"):
        mg.sparse_coo_tensor([[0]], [1.0], (2,))
    with pytest.raises(NotImplementedError, match="dense"):
        mg.zeros(2).to_sparse()
    with mg.inference_mode():
        made = mg.ones(2)
    w = mg.randn(2, requires_grad=True)
    assert made.is_inference() is False
    (w * made).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 1.0])
    with torch.inference_mode():
        tmade = torch.ones(2)
    tw = torch.randn(2, requires_grad=True)
    assert tmade.is_inference()
    with pytest.raises(RuntimeError):
        (tw * tmade).sum().backward()


def test_topk_unsorted_gives_torchs_order_not_a_sorted_one() -> None:
    """Round 19 made `topk(sorted=False)` follow PyTorch's CPU kernel; "Deliberately different" still said it
    sorts (stale: the audit's replacement drops that clause)."""
    a = np.random.default_rng(0).standard_normal(200).astype(np.float32)
    ours, theirs = mg.tensor(a).topk(20, sorted=False), torch.tensor(a).topk(20, sorted=False)
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    assert not np.all(np.diff(ours.values.numpy()) <= 0)


# --- Recurrent layers ------------------------------------------------------------------------------------------


def _nodes_by_scope(output: mg.Tensor) -> dict[str, int]:
    seen, stack = {}, [output.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen[id(node)] = node
        stack.extend(edge for edge, _ in node.next_functions)
    counts: dict[str, int] = {}
    for node in seen.values():
        scope = str(getattr(node, "scope", None))
        counts[scope] = counts.get(scope, 0) + 1
    return counts


@pytest.mark.parametrize(("layer", "ops"), [(nn.LSTM, 10), (nn.GRU, 9), (nn.RNN, 2)])
def test_a_plain_step_records_the_readme_number_of_ops(layer: type, ops: int) -> None:
    """README: "a plain LSTM step records 10 ops, a GRU step 9 and an RNN step 2"."""
    counts = _nodes_by_scope(layer(3, 4)(mg.randn(3, 2, 3))[0])
    name = layer.__name__.lower()
    assert [counts[f"{name}/l0/t{t}"] for t in range(3)] == [ops] * 3


# --- Modules, layers and optimizers ----------------------------------------------------------------------------


def test_vector_to_parameters_makes_views_of_the_vector_as_torch() -> None:
    """Round 15's sentence holds (each parameter becomes a view of the vector, taking its dtype); round 14's
    "copies into the parameters and keeps their dtype" is stale."""
    model = nn.Linear(2, 2).double()
    vector = mg.arange(6, dtype=mg.float32)
    nn.utils.vector_to_parameters(vector, model.parameters())
    vector.data[0] = 100.0
    assert model.weight.dtype == mg.float32 and float(model.weight.data.flat[0]) == 100.0
    tmodel = torch.nn.Linear(2, 2).double()
    tvector = torch.arange(6, dtype=torch.float32)
    torch.nn.utils.vector_to_parameters(tvector, tmodel.parameters())
    tvector[0] = 100.0
    assert tmodel.weight.dtype == torch.float32 and float(tmodel.weight.detach().flatten()[0]) == 100.0


def test_inplace_on_a_hooked_modules_output_is_refused_as_torch() -> None:
    """Round 21 reversed round 19's "unlike PyTorch an in-place op on a hooked module's input or output is
    allowed": both libraries refuse it now."""
    for lib, layers in ((mg, nn), (torch, torch.nn)):
        module = layers.Linear(2, 2)
        module.register_full_backward_hook(lambda mod, grad_input, grad_output: None)
        y = module(lib.randn(1, 2, requires_grad=True))
        with pytest.raises(RuntimeError, match="BackwardHookFunction is a view"):
            y.mul_(2)


def test_foreach_follows_torchs_foreach_order() -> None:
    """README: "`foreach=True` follows PyTorch's foreach order of operations (which rounds differently)": ASGD's
    differs from its foreach=False step (round 20), SGD's and Adam's float32 steps are the same either way."""

    def run(cls: type, foreach: bool, **options: float) -> np.ndarray:
        mg.manual_seed(0)
        p = nn.Parameter(mg.randn(1000))
        optimizer = cls([p], foreach=foreach, **options)
        for i in range(10):
            p.grad = mg.tensor(np.sin(np.arange(1000) * (i + 1)).astype(np.float32))
            optimizer.step()
        return p.numpy().copy()

    options = {"lr": 0.37, "weight_decay": 0.013}
    assert not np.array_equal(run(nn.optim.ASGD, False, **options), run(nn.optim.ASGD, True, **options))
    for cls in (nn.optim.SGD, nn.optim.Adam):
        np.testing.assert_array_equal(run(cls, False, lr=0.01), run(cls, True, lr=0.01))


def test_ties_pick_torchs_index_past_16_elements() -> None:
    """Round 19 superseded round 14's "mode PyTorch's on rows of up to 16 elements; topk and quantile may pick
    another of the tied elements"."""
    rng = np.random.default_rng(0)
    for _ in range(40):
        n = int(rng.integers(17, 60))
        a = rng.integers(0, 4, n).astype(np.float32)
        k = int(rng.integers(1, n + 1))
        x, t = mg.tensor(a), torch.tensor(a)
        np.testing.assert_array_equal(x.topk(k).indices.numpy(), t.topk(k).indices.numpy())
        assert x.mode(0).indices.item() == t.mode(0).indices.item()
        assert x.kthvalue(k, 0).indices.item() == t.kthvalue(k, 0).indices.item()


# --- Autograd: the documented differences -------------------------------------------------------------------


def test_documented_autograd_differences_from_torch() -> None:
    # a view made under no_grad of a tensor that requires grad: False here, True in torch
    x, tx = mg.randn(3, requires_grad=True), torch.randn(3, requires_grad=True)
    with mg.no_grad():
        view = x[:2]
    with torch.no_grad():
        tview = tx[:2]
    assert view.requires_grad is False and tview.requires_grad is True
    # a part of split read after its base changed in place is read again from the base; torch refuses
    w = mg.randn(4, requires_grad=True)
    base = w * 1
    part = base.split(2)[0]
    base.mul_(3)
    part.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [3.0, 3.0, 0.0, 0.0])
    tw = torch.randn(4, requires_grad=True)
    tbase = tw * 1
    tpart = tbase.split(2)[0]
    tbase.mul_(3)
    with pytest.raises(RuntimeError):
        tpart.sum().backward()
    # round 21: a create_graph first gradient through an adaptive pool or reflect/replicate padding alone requires
    # grad, as PyTorch's (the README's "still different" sentence went)
    for ours, theirs in ((lambda x: nn.functional.adaptive_avg_pool1d(x, 2),
                          lambda x: torch.nn.functional.adaptive_avg_pool1d(x, 2)),
                         (lambda x: nn.functional.pad(x, (1, 2), mode="reflect"),
                          lambda x: torch.nn.functional.pad(x, (1, 2), mode="reflect")),
                         (lambda x: nn.functional.pad(x, (2, 1), mode="replicate"),
                          lambda x: torch.nn.functional.pad(x, (2, 1), mode="replicate"))):
        a, ta = mg.randn(1, 1, 4, requires_grad=True), torch.randn(1, 1, 4, requires_grad=True)
        (g,) = mg.autograd.grad(ours(a).sum(), a, create_graph=True)
        (tg,) = torch.autograd.grad(theirs(ta).sum(), ta, create_graph=True)
        assert g.requires_grad is tg.requires_grad is True
        (g2,) = mg.autograd.grad((g * g).sum(), a)
        np.testing.assert_array_equal(g2.numpy(), 0.0)   # PyTorch's zeros: the penalty does not depend on x


def test_leaf_hooks_run_mid_walk_in_torchs_order_when_other_hooks_exist() -> None:
    """Round 20's "a leaf's AccumulateGrad ... runs as soon as its gradient is complete" holds; round 15's "a
    leaf's hooks and post-accumulate hooks run after the whole backward ... their order can differ" is stale."""

    def order(lib: object) -> list[str]:
        log: list[str] = []
        a, b = lib.tensor([1.0], requires_grad=True), lib.tensor([2.0], requires_grad=True)
        a.register_hook(lambda g: log.append("a"))
        c = a * 2
        c.register_hook(lambda g: log.append("c"))
        d = c * b
        d.register_hook(lambda g: log.append("d"))
        b.register_post_accumulate_grad_hook(lambda p: log.append("b-post"))
        (d * 3 + a).sum().backward()
        return log

    assert order(mg) == order(torch) == ["d", "b-post", "c", "a"]


def test_forward_ad_and_vmap_documented_differences() -> None:
    """An unrecorded in-place op on a dual raises (torch updates the primal and keeps a stale tangent); a real
    primal refuses a complex tangent; vmap runs once per example, so `.item()` works where torch raises."""
    import torch.autograd.forward_ad as torch_fwad

    import minigrad.autograd.forward_ad as fwad

    with fwad.dual_level():
        dual = fwad.make_dual(mg.ones(3), mg.ones(3))
        with mg.no_grad(), pytest.raises(RuntimeError, match="tangent"):
            dual.mul_(2)
        with pytest.raises(NotImplementedError, match="complex tangent"):
            fwad.make_dual(mg.ones(2), mg.ones(2, dtype=mg.complex64))
    with torch_fwad.dual_level():
        tdual = torch_fwad.make_dual(torch.ones(3), torch.ones(3))
        with torch.no_grad():
            tdual.mul_(2)

    def f(row: object) -> object:
        return row * 2 if row.sum().item() > 0 else row

    np.testing.assert_array_equal(mg.func.vmap(f)(mg.tensor([[1.0], [-1.0]])).numpy(), [[2.0], [-1.0]])
    with pytest.raises(RuntimeError, match="item"):
        torch.func.vmap(f)(torch.tensor([[1.0], [-1.0]]))


def test_inference_mode_jacobian_is_true_where_torchs_is_zero() -> None:
    with mg.inference_mode():
        ours = mg.autograd.functional.jacobian(lambda t: t**2, mg.tensor([1.0, 2.0]))
    with torch.inference_mode():
        theirs = torch.autograd.functional.jacobian(lambda t: t**2, torch.tensor([1.0, 2.0]))
    np.testing.assert_array_equal(ours.numpy(), [[2.0, 0.0], [0.0, 4.0]])
    np.testing.assert_array_equal(theirs.numpy(), np.zeros((2, 2)))


def test_renorm_and_copysign_second_derivatives_are_finite_where_torchs_are_nan() -> None:
    def second(lib: object, f: object, values: list) -> np.ndarray:
        a = lib.tensor(values, dtype=lib.float64, requires_grad=True)
        (g,) = lib.autograd.grad(f(lib, a).sum(), a, create_graph=True)
        return lib.autograd.grad(g.sum(), a)[0].detach().numpy()

    def renorm(lib: object, a: object) -> object:
        return a.renorm(2, 0, 1.0)

    def copysign(lib: object, a: object) -> object:
        return lib.copysign(a, lib.tensor([-1.0, 1.0], dtype=lib.float64)) ** 2

    zero_row = [[0.0, 0.0], [1.0, 2.0]]
    assert np.all(second(mg, renorm, zero_row)[0] == 0.0) and np.all(np.isnan(second(torch, renorm, zero_row)[0]))
    assert second(mg, copysign, [0.0, 1.0])[0] == 0.0 and np.isnan(second(torch, copysign, [0.0, 1.0])[0])


# --- Tensors and ops: numbers the README quotes ----------------------------------------------------------------


def test_quoted_numbers_of_the_tensor_rounds() -> None:
    assert mg.arange(-1, 1, 0.2)[5].item() == torch.arange(-1, 1, 0.2)[5].item() == 5.551115123125783e-17
    with pytest.raises(RuntimeError):
        mg.linspace(-4.0, 18, 10, dtype=mg.uint8)
    assert mg.linspace(-4, 18, 10, dtype=mg.uint8)[0].item() == 252
    assert (mg.tensor([3], dtype=mg.uint8) >= -1).item() is False
    assert (torch.tensor([3], dtype=torch.uint8) >= -1).item() is False
    x = mg.tensor([1.0])
    x += mg.tensor([2**24 + 1], dtype=mg.int32)
    assert x.item() == 16777216.0
    out = mg.zeros(1)
    mg.add(mg.tensor([1.0]), mg.tensor([2**24 + 1], dtype=mg.int32), out=out)
    assert out.item() == 16777218.0
    a = mg.zeros(1)
    with pytest.raises(RuntimeError, match="cannot be resized"):
        mg.maximum(a, mg.ones(3), out=a)
    assert mg.result_type(mg.tensor([1], dtype=mg.int32), 2.5) == mg.float64
    reciprocal = (mg.tensor(-1j, dtype=mg.complex128) ** -1).item()
    assert reciprocal == 1j and np.signbit(reciprocal.real)
    assert mg.arange(10.0)[5:5].storage_offset() == 5


# --- Seeing BPTT --------------------------------------------------------------------------------------------


def test_show_grads_runs_the_hooks_inside_a_checkpoint_and_no_other() -> None:
    """ "`show_grads=True` runs no hook" has one exception the same paragraph states later: a checkpointed
    function is rerun, hooks inside it included."""
    calls: list[str] = []

    def segment(t: mg.Tensor) -> mg.Tensor:
        inner = t.sin()
        inner.register_hook(lambda g: calls.append("inside"))
        return inner * 2

    x = mg.randn(3, requires_grad=True)
    out = mg.utils.checkpoint.checkpoint(segment, x, use_reentrant=False)
    out.register_hook(lambda g: calls.append("outside"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mg.viz.draw(out.sum(), show_grads=True)
    assert calls == ["inside"]
