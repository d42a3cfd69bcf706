"""Layers that had no full PyTorch comparison (forward, input and parameter gradients, weights copied over).

An audit of every ``nn`` module with a ``torch.nn`` counterpart found these compared forward-only or not at all;
each row builds the layer in both libraries, copies torch's state dict into ours, and compares outputs, the
gradient of every floating input and of every parameter, and the buffers after the call, in float64 (1e-10) and
float32 (1e-5), in train and eval mode. Random layers run where they are deterministic (p=0, p=1, eval).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
from helpers import assert_close

import minigrad as mg
import nn

RNG = np.random.default_rng(1313)


def _pooled(dims: int) -> Callable[[Any, np.random.Generator], list]:
    """MaxUnpool inputs: the values and indices of torch's max pool (kernel 2) over a random input."""
    def make(torch: Any, rng: np.random.Generator) -> list:
        x = torch.from_numpy(rng.standard_normal((2, 3) + (6, 4, 4)[:dims]))
        values, indices = getattr(torch.nn.functional, f"max_pool{dims}d")(x, 2, return_indices=True)
        return [(values.numpy(), True), (indices.numpy(), False)]
    return make


def _normal(*shape: int) -> Callable[[Any, np.random.Generator], list]:
    return lambda torch, rng: [(rng.standard_normal(shape), True)]


def _class_target(shape: tuple, classes: int, log_probs: bool = False) -> Callable[[Any, np.random.Generator], list]:
    """Scores ``(N, C, ...)`` (log-probabilities when asked) and integer targets."""
    def make(torch: Any, rng: np.random.Generator) -> list:
        x = rng.standard_normal(shape)
        if log_probs:
            x = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
        target = rng.integers(0, classes, (shape[0],) + shape[2:])
        return [(x, True), (target, False)]
    return make


def _fractional(dims: int) -> Callable[[Any, Any, Callable], Any]:
    def build(lib: Any, tensor: Callable) -> Any:
        samples = tensor(np.random.default_rng(5).uniform(size=(2, 3, dims)))
        cls = getattr(lib, f"FractionalMaxPool{dims}d")
        return cls(2, output_ratio=0.5, _random_samples=samples)
    return build


# id, build(lib, tensor) -> module, inputs(torch, rng) -> [(array, requires_grad)], training modes
CASES: list[tuple[str, Callable, Callable, tuple]] = [
    ("Dropout1d-p0", lambda lib, t: lib.Dropout1d(0.0), _normal(2, 3, 5), (True, False)),
    ("Dropout1d-p1", lambda lib, t: lib.Dropout1d(1.0), _normal(2, 3, 5), (True, False)),
    ("Dropout3d-p1", lambda lib, t: lib.Dropout3d(1.0), _normal(2, 3, 2, 3, 2), (True, False)),
    ("Dropout3d-eval", lambda lib, t: lib.Dropout3d(0.4), _normal(3, 2, 3, 2), (False,)),
    ("AlphaDropout-p0", lambda lib, t: lib.AlphaDropout(0.0), _normal(4, 5), (True, False)),
    ("AlphaDropout-eval", lambda lib, t: lib.AlphaDropout(0.3), _normal(4, 5), (False,)),
    ("FeatureAlphaDropout-p0", lambda lib, t: lib.FeatureAlphaDropout(0.0), _normal(2, 3, 4), (True, False)),
    ("FeatureAlphaDropout-eval", lambda lib, t: lib.FeatureAlphaDropout(0.5), _normal(2, 3, 4), (False,)),
    ("FractionalMaxPool2d", _fractional(2), _normal(2, 3, 7, 6), (True, False)),
    ("FractionalMaxPool3d", _fractional(3), _normal(2, 3, 5, 6, 4), (True, False)),
    ("MaxUnpool1d", lambda lib, t: lib.MaxUnpool1d(2), _pooled(1), (True,)),
    ("MaxUnpool2d", lambda lib, t: lib.MaxUnpool2d(2), _pooled(2), (True,)),
    ("MaxUnpool3d", lambda lib, t: lib.MaxUnpool3d(2), _pooled(3), (True,)),
    ("NLLLoss2d", lambda lib, t: lib.NLLLoss2d(weight=t(np.array([0.5, 2.0, 1.0]))),
     _class_target((2, 3, 4, 5), 3, log_probs=True), (True,)),
    ("LinearCrossEntropyLoss", lambda lib, t: lib.LinearCrossEntropyLoss(6, 5, bias=True, label_smoothing=0.1),
     _class_target((7, 6), 5), (True,)),
    ("LazyLinear", lambda lib, t: lib.LazyLinear(4), _normal(3, 5), (True,)),
    ("SyncBatchNorm", lambda lib, t: lib.SyncBatchNorm(3, momentum=0.3), _normal(4, 3, 2, 2), (True, False)),
    # options of layers compared elsewhere only in their defaults
    ("BatchNorm1d-cumulative", lambda lib, t: lib.BatchNorm1d(4, momentum=None), _normal(5, 4, 3), (True, False)),
    ("BatchNorm2d-no-affine", lambda lib, t: lib.BatchNorm2d(3, affine=False), _normal(2, 3, 3, 2), (True, False)),
    ("BatchNorm3d-no-stats", lambda lib, t: lib.BatchNorm3d(2, track_running_stats=False), _normal(2, 2, 2, 3, 2),
     (True, False)),
    ("InstanceNorm1d-stats", lambda lib, t: lib.InstanceNorm1d(3, affine=True, track_running_stats=True),
     _normal(2, 3, 6), (True, False)),
    ("InstanceNorm2d-stats", lambda lib, t: lib.InstanceNorm2d(3, momentum=None, track_running_stats=True),
     _normal(2, 3, 4, 3), (True, False)),
    ("GroupNorm", lambda lib, t: lib.GroupNorm(2, 6, eps=1e-3), _normal(3, 6, 5), (True,)),
    ("LayerNorm-no-bias", lambda lib, t: lib.LayerNorm((3, 4), bias=False), _normal(2, 3, 4), (True,)),
    ("RMSNorm-eps", lambda lib, t: lib.RMSNorm([4], eps=1e-2), _normal(3, 2, 4), (True,)),
    ("LocalResponseNorm", lambda lib, t: lib.LocalResponseNorm(3, alpha=0.3, beta=0.6, k=1.5), _normal(2, 5, 4, 3),
     (True,)),
    ("PReLU-channels", lambda lib, t: lib.PReLU(3, init=0.1), _normal(2, 3, 4), (True,)),
    ("Bilinear", lambda lib, t: lib.Bilinear(3, 4, 2), lambda torch, rng: [(rng.standard_normal((5, 3)), True),
                                                                           (rng.standard_normal((5, 4)), True)],
     (True,)),
    ("EmbeddingBag-weights", lambda lib, t: lib.EmbeddingBag(7, 3, mode="sum", padding_idx=2),
     lambda torch, rng: [(rng.integers(0, 7, (4, 3)), False), (None, False), (rng.standard_normal((4, 3)), True)],
     (True,)),
    ("MultiheadAttention-kv", lambda lib, t: lib.MultiheadAttention(4, 2, bias=True, add_bias_kv=True, kdim=3,
                                                                   vdim=5, batch_first=True),
     lambda torch, rng: [(rng.standard_normal((2, 3, 4)), True), (rng.standard_normal((2, 5, 3)), True),
                         (rng.standard_normal((2, 5, 5)), True)], (True, False)),
    ("Embedding-max-norm", lambda lib, t: lib.Embedding(6, 3, max_norm=1.0, scale_grad_by_freq=True),
     lambda torch, rng: [(np.array([[0, 2, 2], [5, 0, 2]]), False)], (True,)),
    ("ConvTranspose2d-output-padding", lambda lib, t: lib.ConvTranspose2d(4, 6, 3, stride=2, padding=1,
                                                                          output_padding=1, groups=2, dilation=1),
     _normal(2, 4, 3, 4), (True,)),
    ("Conv1d-same-dilated", lambda lib, t: lib.Conv1d(3, 4, 4, padding="same", dilation=2, padding_mode="reflect"),
     _normal(2, 3, 9), (True,)),
    ("DataParallel", lambda lib, t: lib.DataParallel(lib.Sequential(lib.Linear(5, 4), lib.Tanh())), _normal(3, 5),
     (True,)),
]


def _compare(torch: Any, build: Callable, inputs: list, training: bool, dtype: str, tol: float) -> None:
    mg_dtype, t_dtype = getattr(mg, dtype), getattr(torch, dtype)
    theirs = build(torch.nn, lambda a: torch.from_numpy(a).to(t_dtype)).to(t_dtype)
    ours = build(nn, lambda a: mg.tensor(a, dtype=mg_dtype)).to(dtype=mg_dtype)
    cast = [(a.astype(dtype) if a is not None and a.dtype.kind == "f" else a, grad) for a, grad in inputs]
    if any(isinstance(p, torch.nn.parameter.UninitializedParameter) for p in theirs.parameters()):
        with torch.no_grad(), mg.no_grad():      # a lazy layer takes its shapes from a first call
            theirs(*[torch.from_numpy(a.copy()) for a, _ in cast])
            ours(*[mg.tensor(a) for a, _ in cast])
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    ours.train(training)
    theirs.train(training)
    xs = [None if a is None else mg.tensor(a, requires_grad=g) for a, g in cast]
    txs = [None if a is None else torch.from_numpy(a.copy()).requires_grad_(g) for a, g in cast]
    out, expected = ours(*xs), theirs(*txs)
    if isinstance(expected, tuple):      # MultiheadAttention: (output, averaged weights)
        assert_close(out[1], expected[1], tol, tol, "second output")
        out, expected = out[0], expected[0]
    assert out.dtype == mg_dtype and expected.dtype == t_dtype
    assert_close(out, expected, tol, tol, "forward")
    upstream = RNG.standard_normal(out.shape).astype(dtype)
    (out * mg.tensor(upstream)).sum().backward()
    (expected * torch.from_numpy(upstream)).sum().backward()
    for i, (x, tx) in enumerate(zip(xs, txs)):
        if tx is not None and tx.requires_grad:
            assert x.grad is not None, f"input {i} got no gradient"
            assert_close(x.grad, tx.grad, tol, tol, f"grad of input {i}")
    t_params = dict(theirs.named_parameters())
    params = dict(ours.named_parameters())
    assert list(params) == list(t_params)
    for name, p in params.items():
        assert_close(p.grad, t_params[name].grad, tol, tol, f"grad of {name}")
    t_state = theirs.state_dict()
    for name, value in ours.state_dict().items():
        assert_close(value, t_state[name], tol, tol, f"state {name} after the call")


@pytest.mark.filterwarnings("ignore:`NLLLoss2d` has been deprecated:FutureWarning")
@pytest.mark.parametrize("dtype, tol", [("float64", 1e-10), ("float32", 1e-5)])
@pytest.mark.parametrize("name, build, make_inputs, modes", CASES, ids=[c[0] for c in CASES])
def test_layer_agrees_with_torch(torch: Any, name: str, build: Callable, make_inputs: Callable, modes: tuple,
                                 dtype: str, tol: float) -> None:
    inputs = make_inputs(torch, RNG)
    for training in modes:
        _compare(torch, build, inputs, training, dtype, tol)
