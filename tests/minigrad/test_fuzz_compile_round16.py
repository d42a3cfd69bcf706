"""Round 16: regressions found by differential fuzzing of ``mg.compile`` replays against eager mode, with the
state a training loop changes between calls (hooks, retain_grad, autograd.grad targets, parameters, modes).

Each test runs the same program eagerly and compiled (capture, check, replays) and requires the same values,
gradients and errors, bit for bit.
"""

import functools
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn


def _loss_and_logits():
    """A compiled step that returns the loss and the logits it computed the loss from (a common form)."""
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))

    def step(x, y):
        logits = model(x)
        return nn.functional.cross_entropy(logits, y), logits

    return model, step


def _run(compiled: bool, after_call) -> list:
    """Five calls of the step (eager or compiled); ``after_call(loss, logits)`` runs between call and backward
    and returns the loss to differentiate. Records the logits' gradient and every parameter's."""
    model, step = _loss_and_logits()
    f = mg.compile(step) if compiled else step
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for call in range(5):
            x = mg.tensor(np.random.default_rng(call).standard_normal((6, 4)).astype(np.float32))
            y = mg.tensor(np.arange(6) % 2)
            loss, logits = f(x, y)
            loss = after_call(loss, logits)
            loss.backward()
            rows.append(None if logits.grad is None else logits.grad.numpy())
            rows += [p.grad.numpy() for p in model.parameters()]
            model.zero_grad()
    return rows


def _retain(loss, logits):
    logits.retain_grad()
    return loss


def _hook(loss, logits):
    logits.register_hook(lambda g: g * 2.0)
    return loss


def _hook_and_retain(loss, logits):
    logits.register_hook(lambda g: g * 2.0)
    logits.retain_grad()
    return loss


@pytest.mark.parametrize("after_call", [_retain, _hook, _hook_and_retain])
def test_a_hook_or_retain_grad_on_an_output_the_call_also_reads_sees_its_whole_gradient(after_call):
    # a replay ran them on the gradient from outside the call only (None here): .grad stayed None and a hook that
    # scales the gradient changed nothing, where eager scales every parameter's gradient
    want, got = _run(False, after_call), _run(True, after_call)
    assert len(want) == len(got)
    for a, b in zip(want, got):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a, b)


def test_a_hook_on_an_output_read_inside_and_outside_the_call_sees_its_whole_gradient():
    # was a RuntimeError (the walk ran the hook on the outside part before the replay's backward); now the replay
    # runs it on the outside part plus the inside's terms, as eager (tests/minigrad/test_compile_grad_outside_round16)
    def after_call(loss, logits):
        logits.register_hook(lambda g: g * 2.0)
        return loss + logits.sum()

    want, got = _run(False, after_call), _run(True, after_call)
    for a, b in zip(want, got):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a, b)


def test_autograd_grad_of_an_output_the_call_reads_and_a_weight():
    model, step = _loss_and_logits()
    compiled = mg.compile(step)
    x, y = mg.ones(6, 4), mg.tensor(np.arange(6) % 2)
    weight = model[0].weight
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(4):
            loss, logits = step(x, y)
            want = mg.autograd.grad(loss, [logits, weight])
            loss, logits = compiled(x, y)
            got = mg.autograd.grad(loss, [logits, weight])   # raised "not used in the graph" before
            for a, b in zip(want, got):
                np.testing.assert_array_equal(a.numpy(), b.numpy())


def _scaled(x, scale=2.0):
    return x * scale


def _scaled_by_keyword(x, *, scale=2.0):
    return x * scale


def _scaled_by_table(x, table={"s": 2.0}):  # noqa: B006 - the mutable default is the point
    return x * table["s"]


def _plus_weight(x, weight=mg.ones(3)):  # noqa: B008 - a tensor default, rebound below
    return x + weight


@pytest.mark.parametrize("fn, change", [
    (_scaled, lambda: setattr(_scaled, "__defaults__", (5.0,))),
    (_scaled_by_keyword, lambda: _scaled_by_keyword.__kwdefaults__.__setitem__("scale", 5.0)),
    (_scaled_by_table, lambda: _scaled_by_table.__defaults__[0].__setitem__("s", 5.0)),
    (_plus_weight, lambda: setattr(_plus_weight, "__defaults__", (mg.ones(3) * 4.0,))),
])
def test_a_default_argument_changed_after_a_capture_captures_again(fn, change):
    defaults, keyword_defaults = fn.__defaults__, dict(fn.__kwdefaults__ or {})
    compiled = mg.compile(fn)
    x = mg.ones(3)
    try:
        for _ in range(3):   # capture, check, replay
            compiled(x)
        change()
        np.testing.assert_array_equal(compiled(x).numpy(), fn(x).numpy())   # the replay used the old default
    finally:
        if defaults and type(defaults[0]) is dict:
            defaults[0]["s"] = 2.0
        fn.__defaults__ = defaults
        fn.__kwdefaults__ = keyword_defaults or None


class _Holder:
    """A plain object passed as an argument (a state or batch holder)."""


def _holder_calls(fn, make, change) -> tuple:
    """``fn(x, holder)`` compiled, called three times, then ``change(holder)``: the compiled result and eager's."""
    holder = make()
    compiled = mg.compile(fn)
    x = mg.ones(3)
    for _ in range(3):
        compiled(x, holder)
    change(holder)
    return compiled(x, holder).numpy(), fn(x, holder).numpy()


def _with_list():
    holder = _Holder()
    holder.xs = [mg.ones(3), mg.ones(3)]
    return holder


def _with_inner():
    holder = _Holder()
    holder.inner = _Holder()
    holder.inner.w, holder.inner.s = mg.ones(3), 2.0
    return holder


def _with_dict():
    holder = _Holder()
    holder.d = {"w": mg.ones(3), "s": 2.0}
    return holder


@pytest.mark.parametrize("fn, make, change", [
    (lambda x, h: x * h.xs[0] + h.xs[1], _with_list, lambda h: h.xs.__setitem__(0, mg.ones(3) * 7.0)),
    (lambda x, h: x * h.inner.w * h.inner.s, _with_inner, lambda h: setattr(h.inner, "w", mg.ones(3) * 7.0)),
    (lambda x, h: x * h.inner.w * h.inner.s, _with_inner, lambda h: setattr(h.inner, "s", 5.0)),
    (lambda x, h: x * h.d["w"] * h.d["s"], _with_dict, lambda h: h.d.__setitem__("w", mg.ones(3) * 7.0)),
    (lambda x, h: x * h.d["w"] * h.d["s"], _with_dict, lambda h: h.d.__setitem__("s", 5.0)),
])
def test_the_lists_dicts_and_objects_inside_an_object_argument_are_read_on_every_call(fn, make, change):
    got, want = _holder_calls(fn, make, change)
    np.testing.assert_array_equal(got, want)


def test_the_arguments_a_partial_holds_are_guarded():
    def scaled(x, scale, weight):
        return x * scale * weight

    compiled_fn = functools.partial(scaled, scale=2.0, weight=mg.ones(3))
    compiled = mg.compile(compiled_fn)
    x = mg.ones(3)
    for change in (lambda: compiled_fn.keywords.__setitem__("scale", 5.0),
                   lambda: compiled_fn.keywords.__setitem__("weight", mg.ones(3) * 3.0)):
        for _ in range(3):
            compiled(x)
        change()
        np.testing.assert_array_equal(compiled(x).numpy(), compiled_fn(x).numpy())


def test_a_tensor_in_a_list_kept_on_a_compiled_module_is_guarded():
    class Masked(nn.Module):
        def __init__(self):
            super().__init__()
            self.masks = [mg.ones(3)]   # not registered: nn does not see an item replaced

        def forward(self, x):
            return x * self.masks[0]

    model = Masked()
    compiled = mg.compile(model)
    for _ in range(3):
        compiled(mg.ones(3))
    model.masks[0] = mg.ones(3) * 4.0
    np.testing.assert_array_equal(compiled(mg.ones(3)).numpy(), model(mg.ones(3)).numpy())


def _written_after_the_call(compiled: bool) -> list:
    """``x * w`` (only ``w`` needs a gradient: eager's product keeps ``x`` alone), then ``w`` written in place
    through ``w.detach()`` before the backward: eager allows it."""
    weight = nn.Parameter(mg.ones(3))

    def fn(x):
        return (x * weight).sum(), weight.detach()

    f = mg.compile(fn) if compiled else fn
    rows = []
    for call in range(4):
        loss, detached = f(mg.ones(3) * call)
        detached.add_(1.0)
        loss.backward()   # a replay's in-place check looked at every array its ops saved: RuntimeError
        rows += [loss.numpy(), weight.grad.numpy(), weight.numpy()]
        weight.grad = None
    return rows


def test_the_in_place_check_of_a_replay_covers_what_its_ops_backwards_read_only():
    for a, b in zip(_written_after_the_call(False), _written_after_the_call(True)):
        np.testing.assert_array_equal(a, b)


def test_a_replay_still_refuses_a_write_into_what_its_backward_reads(torch):
    weight = nn.Parameter(mg.ones(3))
    compiled = mg.compile(lambda x: (x * weight).sum())
    x = mg.ones(3)
    for _ in range(3):
        loss = compiled(x)
        x.add_(1.0)   # the product's backward reads x
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            loss.backward()
    w = torch.ones(3, requires_grad=True)
    tx = torch.ones(3)
    loss = (tx * w).sum()
    tx.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


class _Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 2)

    def forward(self, x):
        return self.linear(x)


class _Body(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = _Head()

    def forward(self, x):
        return self.head(x.tanh())


def _tripled(self, x):
    return self.linear(x) * 3.0


@pytest.mark.parametrize("change", [
    lambda model: setattr(model.head, "forward", _tripled.__get__(model.head)),   # a child's, on the instance
    lambda model: setattr(model, "forward", lambda x: model.head(x) * 3.0),       # the compiled module's own
    lambda model: setattr(type(model.head), "forward", _tripled),                  # on the class
])
def test_a_forward_replaced_after_a_capture_captures_again(change):
    original = _Head.forward
    try:
        mg.manual_seed(0)
        model = _Body()
        compiled = mg.compile(model)
        x = mg.ones(1, 3)
        for _ in range(3):
            compiled(x)
        change(model)
        np.testing.assert_array_equal(compiled(x).numpy(), model(x).numpy())   # the replay ran the old forward
    finally:
        _Head.forward = original


FACTOR = 2.0   # read by _inner_scaled, which a compiled function calls through its compiled form


def _inner_scaled(x):
    return x * FACTOR


_INNER = mg.compile(_inner_scaled)


def test_what_a_compiled_function_called_inside_another_reads_is_guarded():
    global FACTOR
    table = {"s": 2.0}
    inner = mg.compile(lambda x: x * table["s"])

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.masks = [mg.ones(3)]

        def forward(self, x):
            return x * self.masks[0]

    block = Block()
    compiled_block = mg.compile(block)

    def outer(x):   # the inner compiled functions run eagerly inside its capture: it replays their ops
        return _INNER(x) + inner(x) + compiled_block(x)

    compiled = mg.compile(outer)
    x = mg.ones(3)
    try:
        for change in (lambda: globals().__setitem__("FACTOR", 5.0), lambda: table.__setitem__("s", 7.0),
                       lambda: block.masks.__setitem__(0, mg.ones(3) * 4.0)):
            for _ in range(3):
                compiled(x)
            change()
            np.testing.assert_array_equal(compiled(x).numpy(), outer(x).numpy())
    finally:
        FACTOR = 2.0


def _replayed_then_changed(fn, change) -> tuple:
    """``fn``'s compiled result after ``change()`` (captured and replayed before it), and eager's."""
    compiled = mg.compile(fn)
    x = mg.ones(3)
    for _ in range(3):
        compiled(x)
    change()
    return compiled(x).numpy(), fn(x).numpy()


def test_a_tensor_in_a_deque_an_ordered_dict_or_a_defaultdict_is_guarded():
    import collections

    recent = collections.deque([mg.ones(3)])
    table = collections.OrderedDict(w=mg.ones(3))
    counts = collections.defaultdict(float, w=mg.ones(3))
    for fn, change in ((lambda x: x * recent[0], lambda: recent.__setitem__(0, mg.ones(3) * 5.0)),
                       (lambda x: x * table["w"], lambda: table.__setitem__("w", mg.ones(3) * 5.0)),
                       (lambda x: x * counts["w"], lambda: counts.__setitem__("w", mg.ones(3) * 5.0))):
        got, want = _replayed_then_changed(fn, change)
        np.testing.assert_array_equal(got, want)


def test_a_function_a_layer_or_a_small_array_an_object_argument_holds_is_part_of_the_signature():
    holder = _Holder()
    holder.act, holder.table, holder.layer = (lambda x: x * 2.0), np.array([2.0], np.float32), nn.Linear(3, 3)
    for fn, change in ((lambda x, h: h.act(x), lambda: setattr(holder, "act", lambda y: y * 3.0)),
                       (lambda x, h: x * float(h.table[0]), lambda: holder.table.__setitem__(0, 5.0)),
                       (lambda x, h: h.layer(x), lambda: setattr(holder, "layer", nn.Linear(3, 3)))):
        compiled = mg.compile(fn)
        x = mg.ones(3)
        for _ in range(3):
            compiled(x, holder)
        change()
        np.testing.assert_array_equal(compiled(x, holder).numpy(), fn(x, holder).numpy())


class _Settings:
    table = {"w": mg.ones(3)}   # held by the class, read through an instance
    layers = [nn.Linear(3, 3)]


def test_a_tensor_or_module_held_by_a_class_attribute_is_guarded():
    settings = _Settings()
    original = dict(_Settings.table), list(_Settings.layers)
    try:
        for fn, change in ((lambda x: x * settings.table["w"],
                            lambda: _Settings.table.__setitem__("w", mg.ones(3) * 5.0)),
                           (lambda x: settings.layers[0](x),
                            lambda: _Settings.layers.__setitem__(0, nn.Linear(3, 3)))):
            got, want = _replayed_then_changed(fn, change)
            np.testing.assert_array_equal(got, want)
    finally:
        _Settings.table, _Settings.layers = original[0], original[1]


def test_a_module_four_containers_deep_is_guarded():
    mg.manual_seed(0)
    blocks = {"a": [{"b": [nn.Linear(3, 3)]}]}   # the module at the depth where tensors are the last level
    got, want = _replayed_then_changed(lambda x: blocks["a"][0]["b"][0](x),
                                       lambda: blocks["a"][0]["b"].__setitem__(0, nn.Linear(3, 3)))
    np.testing.assert_array_equal(got, want)


def test_a_function_whose_code_was_reloaded_captures_again():
    # IPython's autoreload puts an edited function's new code into the same function object
    def helper(x):
        return x * 2.0

    def edited(x):
        return x * 3.0

    def fn(x):
        return helper(x) + 1.0

    class Model(nn.Module):
        def forward(self, x):
            return x * 2.0

    def edited_forward(self, x):
        return x * 3.0

    model = Model()
    for function, change in ((fn, lambda: setattr(helper, "__code__", edited.__code__)),
                             (model, lambda: setattr(Model.forward, "__code__",
                                                     edited_forward.__code__))):
        got, want = _replayed_then_changed(function, change)
        np.testing.assert_array_equal(got, want)


LEVEL = 2.0   # read by the property, static method and class method below


class _Described(nn.Module):
    BASE = 2.0

    def __init__(self):
        super().__init__()
        self.cfg = {"s": 2.0}

    @property
    def scale(self):
        return self.cfg["s"] * LEVEL

    @staticmethod
    def shift(x):
        return x + LEVEL

    @classmethod
    def base(cls):
        return cls.BASE

    def forward(self, x):
        return self.shift(x * self.scale) * self.base()


def test_what_a_property_a_static_or_a_class_method_reads_is_guarded():
    global LEVEL
    try:
        for change in (lambda model: model.cfg.__setitem__("s", 5.0),
                       lambda model: globals().__setitem__("LEVEL", 3.0),
                       lambda model: setattr(_Described, "BASE", 7.0)):
            model = _Described()
            got, want = _replayed_then_changed(model, functools.partial(change, model))
            np.testing.assert_array_equal(got, want)
    finally:
        LEVEL, _Described.BASE = 2.0, 2.0


def test_what_a_helper_of_another_user_module_reads_is_guarded():
    import sys
    import types

    utils = types.ModuleType("round16_utils")   # a user's module: `import utils; utils.helper(x)`
    exec("SCALE = 2.0\nTABLE = {'s': 2.0}\ndef helper(x):\n    return x * SCALE * TABLE['s']\n", utils.__dict__)
    sys.modules["round16_utils"] = utils
    try:
        for change in (lambda: setattr(utils, "SCALE", 5.0), lambda: utils.TABLE.__setitem__("s", 3.0)):
            got, want = _replayed_then_changed(lambda x: utils.helper(x), change)
            np.testing.assert_array_equal(got, want)
    finally:
        del sys.modules["round16_utils"]


@pytest.mark.parametrize("fn", [
    lambda x: x.view(-1) * 2.0,                             # eager refuses a view of a transposed input
    lambda x: x.contiguous(),                               # eager copies a transposed input; a capture returned x
    lambda x: x * 2.0 if x.is_contiguous() else x * 3.0,    # a branch on the layout
])
def test_an_input_of_other_strides_is_another_signature(fn, torch):
    compiled = mg.compile(fn)
    base = np.arange(16, dtype=np.float32).reshape(4, 4)
    for _ in range(3):
        compiled(mg.tensor(base))
    x = mg.tensor(base).t()
    want = torch.tensor(base).t()
    try:
        expected = fn(want)
    except RuntimeError:
        with pytest.raises(RuntimeError):
            compiled(x)   # a replay returned a copy
        return
    got = compiled(x)
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
    assert got.is_contiguous() == expected.is_contiguous()
    assert np.shares_memory(got.data, x.data) == (expected.data_ptr() == want.data_ptr())


def test_a_weight_of_other_strides_captures_again():
    weight = nn.Parameter(mg.ones(4, 4))
    fn = lambda x: x * weight.view(-1)   # noqa: E731
    compiled = mg.compile(fn)
    for _ in range(3):
        compiled(mg.ones(16))
    weight.data = np.ascontiguousarray(np.arange(16, dtype=np.float32).reshape(4, 4)).T   # a transposed array
    with pytest.raises(RuntimeError):
        fn(mg.ones(16))
    with pytest.raises(RuntimeError):
        compiled(mg.ones(16))
