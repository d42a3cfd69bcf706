"""``inplace=True`` on the activations and dropouts writes into the input and returns it, as PyTorch's.

The battery runs one program twice, under torch and under minigrad, in float64 with the same weights: a producer
(Linear, Conv2d, a norm, a pooling, a view of an intermediate …) makes ``h``, an in-place activation is applied
(``y = act(h, inplace=True)``, ``y is h``), and the loss reads both ``h`` and ``y``. Where torch's backward succeeds
ours must give the same gradients; where torch raises (the producer saved its output, as sigmoid does; a leaf; a
view of several outputs) ours must raise a RuntimeError too, at the same step.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import nn
from nn import functional as F

RNG = np.random.default_rng(7)
TORCH_SKIP = "PyTorch is not installed (optional test peer)"

# name -> the in-place call, the same spelling for torch.nn.functional and nn.functional
ACTIVATIONS: dict[str, Callable[[Any, Any], Any]] = {
    "relu": lambda f, h: f.relu(h, inplace=True),
    "elu": lambda f, h: f.elu(h, 0.8, inplace=True),
    "celu": lambda f, h: f.celu(h, 0.5, inplace=True),   # torch computes 1/alpha in float32
    "selu": lambda f, h: f.selu(h, inplace=True),
    "leaky_relu": lambda f, h: f.leaky_relu(h, 0.1, inplace=True),
    "rrelu": lambda f, h: f.rrelu(h, 0.1, 0.3, training=False, inplace=True),
    "hardtanh": lambda f, h: f.hardtanh(h, -0.5, 0.5, inplace=True),
    "relu6": lambda f, h: f.relu6(h, inplace=True),
    "hardsigmoid": lambda f, h: f.hardsigmoid(h, inplace=True),
    "hardswish": lambda f, h: f.hardswish(h, inplace=True),
    "silu": lambda f, h: f.silu(h, inplace=True),
    "mish": lambda f, h: f.mish(h, inplace=True),
    "threshold": lambda f, h: f.threshold(h, 0.1, 2.0, inplace=True),
    "relu_": lambda f, h: f.relu_(h),
}

IDX = np.array([[1, 3, 0], [2, 2, 4]])


def _lin(nn_: Any) -> Any:
    return nn_.Linear(4, 5)


def _conv(nn_: Any) -> Any:
    return nn_.Conv2d(2, 3, 3, padding=1)


# name -> (module builder (gets torch.nn or nn), forward(lib, module, x), input shape)
PRODUCERS: dict[str, tuple[Callable[[Any], Any] | None, Callable[[Any, Any, Any], Any], tuple]] = {
    "linear": (_lin, lambda lib, m, x: m(x), (3, 4)),
    "conv2d": (_conv, lambda lib, m, x: m(x), (2, 2, 4, 4)),
    "conv_transpose2d": (lambda nn_: nn_.ConvTranspose2d(2, 3, 3, stride=2), lambda lib, m, x: m(x), (2, 2, 3, 3)),
    "batch_norm1d": (lambda nn_: nn_.BatchNorm1d(4), lambda lib, m, x: m(x), (3, 4)),
    "batch_norm2d": (lambda nn_: nn_.BatchNorm2d(2), lambda lib, m, x: m(x), (2, 2, 3, 3)),
    "layer_norm": (lambda nn_: nn_.LayerNorm(4), lambda lib, m, x: m(x), (3, 4)),
    "group_norm": (lambda nn_: nn_.GroupNorm(2, 4), lambda lib, m, x: m(x), (2, 4, 3, 3)),
    "instance_norm2d": (lambda nn_: nn_.InstanceNorm2d(2, affine=True), lambda lib, m, x: m(x), (2, 2, 3, 3)),
    "embedding": (lambda nn_: nn_.Embedding(5, 4), lambda lib, m, x: m(lib.from_numpy(IDX)), (3, 4)),
    "residual": (lambda nn_: nn_.Linear(4, 4), lambda lib, m, x: m(x) + x, (3, 4)),
    "view": (_lin, lambda lib, m, x: m(x).view(15), (3, 4)),
    "reshape": (_lin, lambda lib, m, x: m(x).reshape(5, 3), (3, 4)),
    "flatten": (_conv, lambda lib, m, x: m(x).flatten(1), (2, 2, 4, 4)),
    "slice": (_lin, lambda lib, m, x: m(x)[:, 1:4], (3, 4)),
    "select": (_lin, lambda lib, m, x: m(x)[1], (3, 4)),
    "transpose": (_lin, lambda lib, m, x: m(x).t(), (3, 4)),
    "permute": (_conv, lambda lib, m, x: m(x).permute(0, 2, 3, 1), (2, 2, 4, 4)),
    "unsqueeze": (_lin, lambda lib, m, x: m(x).unsqueeze(0), (3, 4)),
    "slice_of_view": (_lin, lambda lib, m, x: m(x).t()[1:], (3, 4)),
    "cat": (_lin, lambda lib, m, x: lib.cat([m(x), x], 1), (3, 4)),
    "max_pool2d": (lambda nn_: nn_.MaxPool2d(2), lambda lib, m, x: m(x), (2, 2, 4, 4)),
    "avg_pool2d": (lambda nn_: nn_.AvgPool2d(2), lambda lib, m, x: m(x), (2, 2, 4, 4)),
    "upsample": (lambda nn_: nn_.Upsample(scale_factor=2), lambda lib, m, x: m(x), (1, 2, 2, 2)),
    "interpolate": (None, lambda lib, m, x: lib.nn.functional.interpolate(x, scale_factor=2, mode="bilinear"),
                    (1, 2, 2, 2)),
    "lstm": (lambda nn_: nn_.LSTM(4, 3), lambda lib, m, x: m(x)[0], (2, 3, 4)),
    "lstm_batch_first": (lambda nn_: nn_.LSTM(4, 3, batch_first=True), lambda lib, m, x: m(x)[0], (2, 3, 4)),
    "multihead_attention": (lambda nn_: nn_.MultiheadAttention(4, 2, batch_first=True),
                            lambda lib, m, x: m(x, x, x)[0], (2, 3, 4)),
    "dropout_eval": (lambda nn_: nn_.Sequential(nn_.Linear(4, 5), nn_.Dropout(0.5).eval()),
                     lambda lib, m, x: m(x), (3, 4)),
    # torch raises: the producer saved its output, a leaf, a view of one of several outputs
    "sigmoid": (None, lambda lib, m, x: x.sigmoid(), (3, 4)),
    "tanh": (None, lambda lib, m, x: x.tanh(), (3, 4)),
    "exp": (None, lambda lib, m, x: x.exp(), (3, 4)),
    "softmax": (None, lambda lib, m, x: x.softmax(1), (3, 4)),
    "leaf": (None, lambda lib, m, x: x, (3, 4)),
    "chunk": (_lin, lambda lib, m, x: m(x).chunk(2, 1)[0], (3, 4)),
    "unbind": (_lin, lambda lib, m, x: m(x).unbind(0)[1], (3, 4)),
}


# the views, the producers torch refuses and the second LSTM layout test what happens to the graph, the same for
# every activation: there the in-place op of Tensor (relu) and the general rule (the others) are enough
FEW = ("relu", "leaky_relu", "silu", "hardtanh")
SHORT = {"view", "reshape", "flatten", "slice", "select", "transpose", "permute", "unsqueeze", "slice_of_view",
         "residual", "dropout_eval", "lstm_batch_first", "sigmoid", "tanh", "exp", "softmax", "leaf", "chunk", "unbind"}


def _run(lib: Any, functional: Any, producer: str, activation: str, x_values: np.ndarray,
         state: dict | None) -> tuple:
    """(step at which it raised or "ok", the gradients by name) of one program under ``lib``."""
    build, forward, _ = PRODUCERS[producer]
    module = None
    if build is not None:
        module = build(lib.nn).double()
        if state is not None:
            module.load_state_dict(state)
    x = lib.from_numpy(x_values.copy()).requires_grad_(True)
    h = forward(lib, module, x)
    try:
        y = ACTIVATIONS[activation](functional, h)
    except RuntimeError:
        return "forward", {}
    assert y is h, f"{producer}/{activation}: the result is not the input itself"
    weights = lib.from_numpy(np.linspace(-1.0, 1.0, h.numel()).reshape(h.shape))
    loss = (h * weights).sum() + (y * y).sum()   # reads h again after the in-place activation
    try:
        loss.backward()
    except RuntimeError:
        return "backward", {}
    grads = {"x": x.grad}
    if module is not None:
        grads.update({name: p.grad for name, p in module.named_parameters()})
    return "ok", {k: (None if g is None else g.detach().numpy().copy() if hasattr(g, "detach") else g.numpy())
                  for k, g in grads.items()}


@pytest.mark.parametrize("producer", list(PRODUCERS))
def test_inplace_activation_after_producer_as_torch(torch: Any, producer: str) -> None:
    """Every in-place activation after ``producer``: torch's outcome (gradients, or the step that raises)."""
    build, _, shape = PRODUCERS[producer]
    torch.manual_seed(0)
    state = None
    if build is not None:
        state = {k: v.numpy().copy() for k, v in build(torch.nn).double().state_dict().items()}
    x_values = RNG.standard_normal(shape)
    for activation in FEW if producer in SHORT else ACTIVATIONS:
        t_outcome, t_grads = _run(torch, torch.nn.functional, producer, activation, x_values,
                                  {k: torch.from_numpy(v) for k, v in state.items()} if state else None)
        outcome, grads = _run(mg, F, producer, activation, x_values, state)
        assert outcome == t_outcome, f"{producer}/{activation}: torch {t_outcome}, minigrad {outcome}"
        for name, expected in t_grads.items():
            if expected is None:
                assert grads[name] is None, f"{producer}/{activation}: {name} got a gradient, torch's none"
                continue
            # torch's hardsigmoid backward takes 1/6 in float32, also in float64
            rtol = 1e-7 if activation == "hardsigmoid" else 1e-9
            np.testing.assert_allclose(grads[name], expected, rtol=rtol, atol=1e-11,
                                       err_msg=f"{producer}/{activation}: grad of {name}")


MODULES: dict[str, Callable[[Any], Any]] = {
    "ReLU": lambda nn_: nn_.ReLU(inplace=True), "ELU": lambda nn_: nn_.ELU(0.5, inplace=True),
    "CELU": lambda nn_: nn_.CELU(0.5, inplace=True), "SELU": lambda nn_: nn_.SELU(inplace=True),
    "LeakyReLU": lambda nn_: nn_.LeakyReLU(0.2, inplace=True), "RReLU": lambda nn_: nn_.RReLU(inplace=True).eval(),
    "Hardtanh": lambda nn_: nn_.Hardtanh(inplace=True), "ReLU6": lambda nn_: nn_.ReLU6(inplace=True),
    "Hardswish": lambda nn_: nn_.Hardswish(inplace=True), "SiLU": lambda nn_: nn_.SiLU(inplace=True),
    "Mish": lambda nn_: nn_.Mish(inplace=True), "Threshold": lambda nn_: nn_.Threshold(0.1, 2.0, inplace=True),
}


def test_modules_with_inplace_write_into_their_input_as_torch(torch: Any) -> None:
    """``x = conv(a); y = act(x); return x + y`` with ``act = nn.X(inplace=True)``: x is y, as in torch."""
    torch.manual_seed(0)
    t_conv = torch.nn.Conv2d(2, 3, 3, padding=1).double()
    conv = nn.Conv2d(2, 3, 3, padding=1).double()
    conv.load_state_dict({k: v.numpy() for k, v in t_conv.state_dict().items()})
    a_values = RNG.standard_normal((2, 2, 4, 4))
    for name, build in MODULES.items():
        outputs = []
        for lib, c in ((torch, t_conv), (mg, conv)):
            c.zero_grad()
            a = lib.from_numpy(a_values.copy()).requires_grad_(True)
            x = c(a)
            y = build(lib.nn)(x)
            assert y is x, name
            (x + y).square().sum().backward()
            outputs.append([t.detach().numpy().copy() for t in (y, a.grad, c.weight.grad, c.bias.grad)])
        for mine, peer in zip(outputs[1], outputs[0]):
            np.testing.assert_allclose(mine, peer, rtol=1e-9, atol=1e-11, err_msg=name)


def test_no_grad_and_eval_write_in_place_even_into_a_leaf(torch: Any) -> None:
    """Under no_grad the input is overwritten and returned, a leaf that requires grad included, as torch's."""
    values = np.array([-4.0, -3.0, -1.0, -0.25, 0.0, 0.1, 0.5, 1.0, 3.0, 6.0, 7.0])
    for name, call in ACTIVATIONS.items():
        x, t = mg.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
        with mg.no_grad():
            y = call(F, x)
        with torch.no_grad():
            call(torch.nn.functional, t)
        assert y is x and x.requires_grad and x.grad_fn is None, name
        np.testing.assert_allclose(x.detach().numpy(), t.detach().numpy(), rtol=1e-12, atol=1e-15, err_msg=name)
    for name, build in MODULES.items():   # a tensor that does not require grad, with grad mode on
        x = mg.tensor(values)
        assert build(nn)(x) is x, name
        np.testing.assert_allclose(x.numpy(), build(torch.nn)(torch.tensor(values)).numpy(), rtol=1e-12,
                                   err_msg=name)


DROPOUTS: dict[str, Callable[[Any, Any], Any]] = {
    "dropout": lambda f, h: f.dropout(h, 0.5, True, inplace=True),
    "dropout1d": lambda f, h: f.dropout1d(h, 0.5, True, inplace=True),
    "dropout2d": lambda f, h: f.dropout2d(h.unsqueeze(-1), 0.5, True, inplace=True).squeeze(-1),
    "dropout3d": lambda f, h: f.dropout3d(h[..., None, None], 0.5, True, inplace=True)[..., 0, 0],
    "alpha_dropout": lambda f, h: f.alpha_dropout(h, 0.5, True, inplace=True),
    "feature_alpha_dropout": lambda f, h: f.feature_alpha_dropout(h, 0.5, True, inplace=True),
}


@pytest.mark.parametrize("name", list(DROPOUTS))
def test_dropout_inplace_writes_the_dropped_values_and_the_gradient_follows_the_mask(name: str) -> None:
    """In training the input (here a (2, 3, 4) intermediate) holds the result afterwards, and the gradient is
    the out-of-place dropout's with the same mask (an affine map per element: y = a·h + b, a read off y)."""
    mg.manual_seed(3)
    w = mg.tensor(RNG.standard_normal((2, 3, 4)), requires_grad=True)
    h = w * 1.0
    before = h.numpy().copy()
    y = DROPOUTS[name](F, h)
    after = h.numpy()
    np.testing.assert_array_equal(y.numpy(), after)
    assert not np.array_equal(after, before) and h.grad_fn is not None
    y.sum().backward()
    # each element is a·h + b with a in {0, scale} for dropout and a fixed (a, b) pair per kept/dropped for alpha
    slope = w.grad.numpy()
    np.testing.assert_allclose(after, slope * before + (after - slope * before), rtol=0)
    kept = slope != 0
    if name in ("dropout", "dropout1d", "dropout2d", "dropout3d"):
        np.testing.assert_allclose(after[kept], 2.0 * before[kept], rtol=1e-12)
        np.testing.assert_array_equal(after[~kept], 0.0)
    assert kept.any() and (~kept).any()


def test_dropout_modules_follow_inplace_as_torch(torch: Any) -> None:
    """Dropout/Dropout1d/2d/3d pass ``inplace`` on; AlphaDropout and FeatureAlphaDropout ignore it, as torch's."""
    shapes = {"Dropout": (2, 3), "Dropout1d": (2, 3, 4), "Dropout2d": (2, 3, 4, 4), "Dropout3d": (2, 3, 2, 2, 2),
              "AlphaDropout": (2, 3), "FeatureAlphaDropout": (2, 3, 4)}
    for name, shape in shapes.items():
        for lib in (torch, mg):
            x = lib.ones(*shape, dtype=lib.float64) * 1.0
            same = getattr(lib.nn, name)(0.5, inplace=True)(x) is x
            assert same == (name in ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d")), (name, lib.__name__)
            assert getattr(lib.nn, name)(0.5, inplace=True).eval()(x) is x, name


@pytest.mark.parametrize("call", [lambda h: F.relu(h, inplace=True), lambda h: nn.ReLU(inplace=True)(h),
                                  lambda h: F.elu(h, inplace=True), lambda h: F.relu_(h),
                                  lambda h: F.dropout(h, 0.5, True, True), lambda h: nn.Dropout2d(0.5, True)(h),
                                  lambda h: F.alpha_dropout(h, 0.5, True, True)])
def test_a_leaf_that_requires_grad_refuses_as_torch(torch: Any, call: Callable) -> None:
    x = mg.ones(2, 3, 4, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place "):
        call(x)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place "):
        torch.nn.functional.relu(torch.ones(2, requires_grad=True), inplace=True)
    np.testing.assert_array_equal(x.numpy(), 1.0)   # untouched
    # where torch's dropout returns its input untouched (not training, p = 0), a leaf passes, as in torch
    assert F.dropout(x, 0.5, False, True) is x and F.dropout(x, 0.0, True, True) is x
    assert torch.nn.functional.dropout(torch.ones(2, requires_grad=True), 0.0, True, True).is_leaf


def test_a_diagonal_view_is_written_through_as_torch() -> None:
    """A diagonal (unfold, as_strided, tensor_split part) view is written through its base while recording, as
    PyTorch's (tests/minigrad/test_view_writes.py compares gradients); under no_grad too."""
    base = mg.tensor(RNG.standard_normal((3, 3)), requires_grad=True) * 1.0
    view = base.diagonal()
    before = view.numpy().copy()
    assert F.relu(view, inplace=True) is view
    np.testing.assert_array_equal(np.diagonal(base.numpy()), np.maximum(before, 0))
    assert base.grad_fn is not None and view.grad_fn is not None
    with mg.no_grad():
        assert F.leaky_relu(view, 0.5, inplace=True) is view
    np.testing.assert_array_equal(np.diagonal(base.numpy()), np.maximum(before, 0))
