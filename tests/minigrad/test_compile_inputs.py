"""mg.compile with arguments whose values change between calls: targets, indices, masks, lists.

A replay must use *this* call's values. Each case compiles a loss or layer
call, feeds it different targets/indices/masks call after call and compares
every call with eager mode (values and gradients, bit for bit).
"""

from __future__ import annotations

import gc
import warnings
import weakref

import numpy as np
import pytest

import minigrad as mg
import nn

F = nn.functional


def _targets(k: int) -> mg.Tensor:
    """Class targets (4,) in [0, 5), different for each call k (k=0 twice: the capture's own values)."""
    table = [[0, 1, 2, 3], [0, 1, 2, 3], [4, 4, 1, 0], [2, 0, 3, 3], [1, 1, 1, 4]]
    return mg.tensor(table[k])


WEIGHT = [1.0, 2.0, 0.5, 3.0, 1.5]
EMBEDDING = nn.Embedding(5, 3, padding_idx=0, dtype=mg.float64)
LINEAR = nn.Linear(3, 2, dtype=mg.float64)

# name -> fn(x (4, 5) float64 requiring grad, k) -> (the compiled function's arguments, fn to compile)
CASES = {
    "cross_entropy": lambda k: ((_targets(k),), lambda x, t: F.cross_entropy(x, t)),
    "cross_entropy_sum": lambda k: ((_targets(k),), lambda x, t: F.cross_entropy(x, t, reduction="sum")),
    "cross_entropy_none": lambda k: ((_targets(k),), lambda x, t: F.cross_entropy(x, t, reduction="none")),
    "cross_entropy_ignore_index": lambda k: ((_targets(k),), lambda x, t: F.cross_entropy(x, t, ignore_index=4)),
    "cross_entropy_all_ignored_sometimes": lambda k: ((_targets(k) * 0 + (4 if k == 2 else 1),),
                                                      lambda x, t: F.cross_entropy(x, t, ignore_index=4)),
    "cross_entropy_label_smoothing": lambda k: ((_targets(k),),
                                                lambda x, t: F.cross_entropy(x, t, label_smoothing=0.2)),
    "cross_entropy_weight_tensor_argument": lambda k: (
        (_targets(k), mg.tensor(WEIGHT, dtype=mg.float64) * (k + 1)),
        lambda x, t, w: F.cross_entropy(x, t, weight=w, label_smoothing=0.1)),
    "cross_entropy_probabilities": lambda k: ((mg.softmax(mg.tensor(np.arange(20.0).reshape(4, 5) * k), axis=1),),
                                              lambda x, p: F.cross_entropy(x, p)),
    "cross_entropy_3d": lambda k: ((_targets(k).reshape(2, 2),),
                                   lambda x, t: F.cross_entropy(x.reshape(2, 2, 5).transpose(0, 2, 1), t)),
    "nll_loss": lambda k: ((_targets(k),), lambda x, t: F.nll_loss(mg.log_softmax(x, axis=1), t)),
    "nll_loss_weight": lambda k: ((_targets(k),),
                                  lambda x, t: F.nll_loss(mg.log_softmax(x, axis=1), t, weight=WEIGHT)),
    "CrossEntropyLoss_module": lambda k: ((_targets(k),),
                                          lambda x, t: nn.CrossEntropyLoss(weight=WEIGHT, dtype=mg.float64)(x, t)),
    "NLLLoss_module": lambda k: ((_targets(k),), lambda x, t: nn.NLLLoss(ignore_index=0)(mg.log_softmax(x, 1), t)),
    "mse_loss": lambda k: ((mg.tensor(np.full((4, 5), float(k))),), lambda x, y: F.mse_loss(x, y)),
    "l1_loss": lambda k: ((mg.tensor(np.full((4, 5), float(k))),), lambda x, y: F.l1_loss(x, y)),
    "bce_with_logits": lambda k: ((mg.tensor((np.arange(20).reshape(4, 5) + k) % 2 * 1.0),
                                   mg.tensor(np.full(5, 1.0 + k))),
                                  lambda x, y, pw: F.binary_cross_entropy_with_logits(x, y, pos_weight=pw)),
    "embedding": lambda k: ((_targets(k).reshape(2, 2),), lambda x, i: F.embedding(i, x.reshape(5, 4))),
    "embedding_padding_idx": lambda k: ((_targets(k),), lambda x, i: F.embedding(i, x.reshape(5, 4), padding_idx=1)),
    "one_hot": lambda k: ((_targets(k),), lambda x, t: (F.one_hot(t, 5).astype(x.dtype) * x).sum(axis=1)),
    "gather": lambda k: ((_targets(k).reshape(4, 1),), lambda x, i: x.gather(1, i)),
    "index_select": lambda k: ((_targets(k),), lambda x, i: x.index_select(1, i)),
    "getitem_tensor_index": lambda k: ((_targets(k),), lambda x, i: x[mg.arange(4), i]),
    "masked_fill": lambda k: ((mg.tensor(np.arange(20).reshape(4, 5) % (k + 2) == 0),),
                              lambda x, m: x.masked_fill(m, 0.0)),
    "where_mask": lambda k: ((mg.tensor(np.arange(20).reshape(4, 5) % (k + 2) == 0),),
                             lambda x, m: mg.where(m, x, -2.0 * x)),
    "mask_from_comparison": lambda k: ((mg.tensor(np.full((4, 5), k - 2.0)),), lambda x, y: x * (y > 0)),
    "dropout_mask_argument": lambda k: ((mg.tensor((np.arange(20).reshape(4, 5) + k) % 3 > 0),),
                                        lambda x, m: x * m / (2 / 3)),
    # engine ops whose indices come from the input's values: recomputed by each replay
    "sort": lambda k: ((), lambda x: mg.sort(x, dim=1)[0]),
    "sort_descending_dim0": lambda k: ((), lambda x: mg.sort(x, dim=0, descending=True)[0]),
    "topk": lambda k: ((), lambda x: mg.topk(x, 2, dim=1)[0] * mg.topk(x, 2, dim=1, largest=False)[1]),
    "max_dim": lambda k: ((), lambda x: x.max(dim=1)[0][:, None] * x.min(dim=0, keepdim=True)[1]),
    "argmax_argsort": lambda k: ((), lambda x: x * x.argmax() + x * mg.argsort(x, dim=1) + x * x.argmin(dim=0)),
    "nonzero": lambda k: ((), lambda x: x * mg.nonzero(x > 0.3).sum() + x[mg.nonzero(x > 0.0, as_tuple=True)].sum()),
    "masked_select": lambda k: ((), lambda x: mg.masked_select(x, x > 0).sum() * x),
    "detach": lambda k: ((), lambda x: x.detach() * x),
    "pad_layer_norm_gelu_softmax": lambda k: ((), lambda x: F.softmax(F.gelu(F.layer_norm(F.pad(x, (1, 2)), (8,))))),
    "embedding_and_linear_modules": lambda k: ((_targets(k),), lambda x, i: LINEAR(EMBEDDING(i)) * x[:, :2]),
    "median_any_integer_floor": lambda k: ((), lambda x: (mg.median(x, 1)[0][:, None] + (x > 1).any(dim=0)) * x
                                           + mg.floor((x * 3).astype(mg.int64)) * x),
}


DATA_DEPENDENT_SHAPES = {"nonzero", "masked_select"}


def _input(k: int) -> mg.Tensor:
    """x (4, 5) float64: call 1 repeats call 0's values, then new values each call."""
    return mg.tensor(np.random.default_rng(max(k, 1)).standard_normal((4, 5)), requires_grad=True)


def _call(fn, x: mg.Tensor, extra: tuple) -> tuple:
    x.grad = None
    out = fn(x, *extra)
    (out * out).sum().backward() if out.ndim else out.backward()
    return out.numpy().copy(), x.grad.numpy().copy()


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_call_uses_its_own_targets_indices_and_masks(case: str) -> None:
    fixed = mg.tensor(np.random.default_rng(3).standard_normal((4, 5)), requires_grad=True)
    extra, fn = CASES[case](0)
    varies = not extra   # the engine-op cases: the input's values change, not a target's
    compiled = mg.compile(fn)
    with warnings.catch_warnings():
        warnings.simplefilter("error", mg.CompileWarning)   # none of these may fall back to eager
        for k in range(6):
            x = _input(k) if varies else fixed
            extra = CASES[case](min(k, 4))[0]
            got, want = _call(compiled, x, extra), _call(fn, x, extra)
            for a, b in zip(got, want):
                np.testing.assert_array_equal(a, b, err_msg=f"{case}: call {k}")
    if case in DATA_DEPENDENT_SHAPES:
        return   # each new count of selected elements captures again: no replay to look for
    out = compiled(_input(5) if varies else fixed, *CASES[case](4)[0])
    assert out._node is not None and out._node.name == "compiled", "the last calls must be replays"
    assert not compiled.eager


def test_replayed_targets_are_range_checked_on_every_call() -> None:
    """The target and index checks are ops: a replay checks the new values (a negative index would wrap)."""
    x = mg.randn(4, 5, requires_grad=True)
    loss = mg.compile(lambda x, t: F.cross_entropy(x, t))
    lookup = mg.compile(lambda w, i: F.embedding(i, w))
    for _ in range(3):
        loss(x, _targets(2))
        lookup(x, _targets(1))
    with pytest.raises(IndexError, match="cross_entropy: target 5 is out of range for C=5"):
        loss(x, mg.tensor([0, 5, 1, 1]))
    with pytest.raises(IndexError, match="cross_entropy: target -1 is out of range"):
        loss(x, mg.tensor([0, -1, 1, 1]))
    with pytest.raises(IndexError, match="embedding: index -1 is out of range for an embedding of 4 rows"):
        lookup(x, mg.tensor([0, -1, 1, 1]))


def _lookup(x: mg.Tensor, t: mg.Tensor) -> mg.Tensor:
    """Reads the target's values with NumPy: the index array is frozen by a capture."""
    return -mg.log_softmax(x, axis=1)[np.arange(4), t.data % 5].mean()


def test_a_value_computed_from_an_argument_with_numpy_is_found_and_runs_eagerly() -> None:
    x = mg.randn(4, 5, requires_grad=True)
    compiled = mg.compile(_lookup)
    compiled(x, _targets(0))
    compiled(x, _targets(1))          # the capture's own values: nothing to see yet
    with pytest.warns(mg.CompileWarning, match=r"op \d+ 'getitem' has its array 'index' with other values"):
        out = compiled(x, _targets(2))
    np.testing.assert_array_equal(out.numpy(), _lookup(x, _targets(2)).numpy())
    assert compiled.eager and compiled(x, _targets(3)).item() == _lookup(x, _targets(3)).item()

    scaled = mg.compile(lambda x, t: x * float(t.data.sum()))   # a Python number from an argument's values
    scaled(x, _targets(0))
    with pytest.warns(mg.CompileWarning, match="'mul' has a constant input with other values"):
        out = scaled(x, _targets(2))
    np.testing.assert_array_equal(out.numpy(), x.numpy() * 9.0)


def test_a_tensor_made_inside_from_an_argument_s_values_is_found_and_runs_eagerly() -> None:
    def scaled(x, t):
        return x * mg.tensor(t.data * 2.0)   # a new tensor of the argument's values: a capture freezes it

    x = mg.randn(4, 5, requires_grad=True)
    compiled = mg.compile(scaled)
    t = [mg.tensor(np.full((4, 5), v)) for v in (1.0, 1.0, 2.0)]
    compiled(x, t[0])
    compiled(x, t[1])
    with pytest.warns(mg.CompileWarning, match="made inside the function"):
        out = compiled(x, t[2])
    np.testing.assert_array_equal(out.numpy(), x.numpy() * 4.0)


def test_check_mode_raises_naming_the_op_whose_frozen_values_differ() -> None:
    x = mg.randn(4, 5, requires_grad=True)
    compiled = mg.compile(_lookup, check=True)
    compiled(x, _targets(0))
    compiled(x, _targets(1))
    with pytest.raises(mg.CompileError, match=r"op \d+ 'getitem' has its array 'index' with other values"):
        compiled(x, _targets(2))


def test_a_multi_output_op_with_one_output_replays() -> None:
    """unbind/split of a length-1 axis returns a 1-tuple: the replay must keep it one."""
    x = mg.randn(1, 3, requires_grad=True)
    first = mg.compile(lambda x: x.unbind(0)[0] * 2.0)
    for _ in range(3):
        x.grad = None
        first(x).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), np.full((1, 3), 2.0))
    layer = nn.LSTM(3, 5, dtype=mg.float64)
    compiled = mg.compile(lambda x, h, c: layer(x, (h, c))[0])   # one layer: the state (1, B, H) is unbound
    rng = np.random.default_rng(0)
    for _ in range(3):
        x, h, c = (mg.tensor(rng.standard_normal(s)) for s in ((4, 2, 3), (1, 2, 5), (1, 2, 5)))
        np.testing.assert_array_equal(compiled(x, h, c).numpy(), layer(x, (h, c))[0].numpy())


def test_list_arguments_are_part_of_the_signature_and_each_list_gets_its_own_capture() -> None:
    """A list of ints (e.g. lengths) is a static argument, as JAX's static_argnums: each value is captured
    once and replayed when it comes back; a list that changes every call reaches MAX_PROGRAMS and runs eagerly
    (pass a Tensor for values that change)."""
    layer = nn.GRU(3, 4, dtype=mg.float64)
    fn = lambda x, lengths: layer(x, lengths=lengths)[0]   # noqa: E731
    compiled = mg.compile(fn)
    x = mg.tensor(np.random.default_rng(1).standard_normal((5, 3, 3)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", mg.CompileWarning)
        for lengths in ([5, 3, 2], [4, 4, 1], [5, 3, 2], [4, 4, 1], [5, 3, 2]):
            np.testing.assert_array_equal(compiled(x, lengths).numpy(), fn(x, lengths).numpy())
    assert len(compiled.programs) == 2
    # as a Tensor, lengths are read with .numpy() inside: that signature runs eagerly, with the right values
    with pytest.warns(mg.CompileWarning, match="reads the value of a tensor"):
        compiled(x, mg.tensor([5, 3, 2]))
    for lengths in ([2, 3, 5], [4, 1, 1]):
        np.testing.assert_array_equal(compiled(x, mg.tensor(lengths)).numpy(), fn(x, lengths).numpy())


def test_the_compile_cache_keeps_no_argument_or_graph_of_a_training_step_alive() -> None:
    """After compiled training steps, only the parameters (and the raw arrays of the capture) remain."""
    model = nn.Linear(5, 3)
    optimizer = nn.optim.SGD(model.parameters(), lr=0.1)
    step = mg.compile(lambda x, t: F.cross_entropy(model(x), t))
    alive = []
    enabled = gc.isenabled()
    gc.disable()   # freed by reference counting alone, as eager graphs are
    try:
        for _ in range(4):
            x, t = mg.randn(8, 5, requires_grad=True), mg.randint(0, 3, (8,))
            loss = step(x, t)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            alive += [weakref.ref(v) for v in (x, t, loss)]
            if loss._node is not None:
                alive.append(weakref.ref(loss._node))
            del x, t, loss
        assert [r() for r in alive] == [None] * len(alive)
    finally:
        if enabled:
            gc.enable()
    assert step.programs, "the step was captured"


def test_tensor_repeats_of_repeat_interleave_run_eagerly_with_a_warning() -> None:
    """The output's shape depends on the repeats' values: read in Python, so that signature runs eagerly."""
    compiled = mg.compile(lambda x, r: mg.repeat_interleave(x, r, dim=0))
    x = mg.tensor([1.0, 2.0])
    with pytest.warns(mg.CompileWarning, match="tolist"):
        compiled(x, mg.tensor([1, 2]))
    np.testing.assert_array_equal(compiled(x, mg.tensor([2, 1])).numpy(), [1.0, 1.0, 2.0])
