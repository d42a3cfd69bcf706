"""Complex parameters in the remaining layers, against torch 2.13 with dtype=torch.complex128.

Convolutions (plain and transposed, 1-3 dims) take complex weights and inputs as PyTorch's: each module is built
in both libraries, torch's weights are copied over, and the output and every gradient of
(out · conj(out)).real.sum() agree to 1e-10; a float64 gradcheck runs through the real and imaginary parts.
Where PyTorch refuses complex values (Embedding's gradient, EmbeddingBag's forward, Adafactor's step, layer_norm,
hardtanh, mse_loss) the same error class is raised; where it computes (pairwise_distance, tanhshrink) the values
and gradients are its.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn
import nn.functional as F

torch = pytest.importorskip("torch", reason="no torch")


def _complex(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def _power(out: Any) -> Any:
    """(out · conj(out)).real.sum(): a real loss whose gradient reads both parts of every output."""
    return (out * out.conj()).real.sum()


def _close(ours: Any, theirs: Any, what: str) -> None:
    a = ours.numpy() if isinstance(ours, mg.Tensor) else np.asarray(ours)
    e = theirs.detach().numpy()
    assert a.shape == e.shape and a.dtype == e.dtype, f"{what}: {a.shape} {a.dtype} != {e.shape} {e.dtype}"
    np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-10, err_msg=what)


CONVS = [  # (class name, args, kwargs, input shape)
    ("Conv1d", (3, 4, 3), dict(padding=1), (2, 3, 7)),
    ("Conv1d", (4, 6, 3), dict(groups=2, stride=2, dilation=2, bias=False), (2, 4, 9)),
    ("Conv1d", (3, 4, 3), dict(padding="same", padding_mode="reflect"), (2, 3, 7)),
    ("Conv1d", (3, 2, 2), dict(padding=1, padding_mode="circular"), (3, 6)),          # unbatched
    ("Conv2d", (3, 4, (2, 3)), dict(padding=(1, 0), stride=(1, 2)), (2, 3, 5, 6)),
    ("Conv2d", (2, 4, 3), dict(padding=1, padding_mode="replicate", groups=2), (1, 2, 4, 4)),
    ("Conv3d", (2, 3, 2), dict(padding=1), (2, 2, 3, 4, 3)),
    ("ConvTranspose1d", (3, 4, 3), dict(stride=2, padding=1, output_padding=1), (2, 3, 5)),
    ("ConvTranspose1d", (4, 2, 2), dict(groups=2, dilation=2, bias=False), (4, 5)),     # unbatched
    ("ConvTranspose2d", (3, 4, 3), dict(stride=2, output_padding=1), (2, 3, 4, 4)),
    ("ConvTranspose3d", (2, 3, 2), dict(stride=2), (2, 2, 3, 3, 2)),
]


@pytest.mark.parametrize("dtype", ["complex128", "complex64"])
def test_complex_convolutions_match_torch(dtype: str) -> None:
    rng = np.random.default_rng(0)
    tol = {"complex128": 1e-10, "complex64": 2e-4}[dtype]
    for name, args, kwargs, shape in CONVS:
        theirs = getattr(torch.nn, name)(*args, **kwargs, dtype=getattr(torch, dtype))
        ours = getattr(nn, name)(*args, **kwargs, dtype=dtype)
        assert ours.weight.dtype == np.dtype(dtype) and ours.weight.numpy().imag.any(), name   # complex init
        ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
        x = _complex(rng, *shape).astype(dtype)
        tx, ox = torch.tensor(x, requires_grad=True), mg.tensor(x, requires_grad=True)
        t_out, o_out = theirs(tx), ours(ox)
        _power(t_out).backward()
        _power(o_out).backward()
        pairs = [(o_out, t_out, "output"), (ox.grad, tx.grad, "input grad")]
        pairs += [(p.grad, dict(theirs.named_parameters())[k].grad, k) for k, p in ours.named_parameters()]
        for o, t, what in pairs:
            a, e = o.numpy(), t.detach().numpy()
            assert a.shape == e.shape and a.dtype == e.dtype, (name, what)
            np.testing.assert_allclose(a, e, rtol=tol, atol=tol, err_msg=f"{name} {kwargs} {what}")


def test_complex_conv_functionals_gradcheck_and_fold() -> None:
    """F.conv1d/conv_transpose2d/unfold/fold of complex tensors: a float64 gradcheck through the real and
    imaginary parts, and unfold/fold against torch."""
    rng = np.random.default_rng(1)
    x, w, b = _complex(rng, 2, 3, 6), _complex(rng, 4, 3, 2), _complex(rng, 4)
    parts = [mg.tensor(v, requires_grad=True) for a in (x, w, b) for v in (a.real, a.imag)]
    assert mg.gradcheck(lambda xr, xi, wr, wi, br, bi: mg.view_as_real(F.conv1d(
        mg.complex(xr, xi), mg.complex(wr, wi), mg.complex(br, bi), stride=2, padding=1)), parts)
    x2, w2 = _complex(rng, 1, 2, 3, 3), _complex(rng, 2, 2, 2, 2)
    parts = [mg.tensor(v, requires_grad=True) for a in (x2, w2) for v in (a.real, a.imag)]
    assert mg.gradcheck(lambda xr, xi, wr, wi: mg.view_as_real(F.conv_transpose2d(
        mg.complex(xr, xi), mg.complex(wr, wi), stride=2, groups=2)), parts)
    image, columns = _complex(rng, 2, 3, 4, 4), _complex(rng, 2, 12, 9)
    cases = [(lambda lib, v: lib.nn.functional.unfold(v, 2, padding=1, stride=2), image),
             (lambda lib, v: lib.nn.functional.fold(v, (4, 4), 2, dilation=1, padding=0, stride=1), columns)]
    for fn, value in cases:
        tv, ov = torch.tensor(value, requires_grad=True), mg.tensor(value, requires_grad=True)
        t_out, o_out = fn(torch, tv), fn(mg, ov)
        _power(t_out).backward()
        _power(o_out).backward()
        _close(o_out, t_out, "fold/unfold")
        _close(ov.grad, tv.grad, "fold/unfold grad")


def test_complex_embedding_and_embedding_bag_as_torch() -> None:
    """A complex Embedding is built and looks up without a gradient (padding_idx, max_norm as torch's); with the
    weight requiring grad the lookup raises RuntimeError, as torch's. EmbeddingBag is built but its forward
    refuses any non-floating weight (complex, integer) with RuntimeError, as torch's kernel."""
    idx = [[1, 2, 1], [0, 9, 3]]
    for kwargs in ({}, {"padding_idx": 1}, {"max_norm": 1.0, "norm_type": 1.5}):
        theirs = torch.nn.Embedding(10, 3, dtype=torch.complex128, **kwargs)
        ours = nn.Embedding(10, 3, dtype=mg.complex128, **kwargs)
        if "padding_idx" in kwargs:
            assert not ours.weight.numpy()[1].any()
        ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
        with torch.no_grad():
            t_out = theirs(torch.tensor(idx))
        with mg.no_grad():
            o_out = ours(mg.tensor(idx))
        _close(o_out, t_out, f"embedding {kwargs}")
        _close(ours.weight, theirs.weight, f"renormed weight {kwargs}")
        with pytest.raises(RuntimeError):
            theirs(torch.tensor(idx))
        with pytest.raises(RuntimeError, match="embedding"):
            ours(mg.tensor(idx))
    frozen = nn.Embedding.from_pretrained(mg.tensor(_complex(np.random.default_rng(2), 4, 2)))
    assert frozen(mg.tensor([3, 0])).dtype == np.complex128
    bag = nn.EmbeddingBag(5, 3, dtype=mg.complex128)
    assert bag.weight.dtype == np.complex128 and torch.nn.EmbeddingBag(5, 3, dtype=torch.complex128) is not None
    for weight in (mg.tensor(_complex(np.random.default_rng(3), 5, 3)), mg.ones(5, 3, dtype=mg.int64)):
        with pytest.raises(RuntimeError):
            torch.nn.functional.embedding_bag(torch.tensor([[1, 2]]), torch.tensor(weight.numpy()))
        with pytest.raises(RuntimeError, match="embedding_bag: weight must be floating point"):
            F.embedding_bag(mg.tensor([[1, 2]]), weight)
    with mg.no_grad(), pytest.raises(RuntimeError, match="embedding_bag"):
        bag(mg.tensor([[1, 2]]))


def test_adafactor_refuses_complex_parameters_at_step_as_torch() -> None:
    """torch.optim.Adafactor takes a complex parameter, steps while it has no gradient and raises RuntimeError
    ("Adafactor does not support complex parameters") once it has one; ours the same, nothing changed by the
    refused step. (torch's optimizer is not built here: its first construction costs seconds of imports.)"""
    rng = np.random.default_rng(4)
    value, grad = _complex(rng, 3, 4), _complex(rng, 3, 4)
    op, orl = nn.Parameter(mg.tensor(value)), nn.Parameter(mg.ones(3, dtype=mg.float64))
    ours = nn.optim.Adafactor([orl, op])
    ours.step()                                                 # no gradients yet: nothing to refuse
    orl.grad, op.grad = mg.ones(3, dtype=mg.float64), mg.tensor(grad)
    with pytest.raises(RuntimeError, match="Adafactor: does not support complex parameters"):
        ours.step()
    np.testing.assert_array_equal(op.numpy(), value)
    np.testing.assert_array_equal(orl.numpy(), np.ones(3))      # all-or-nothing: the real one did not step
    assert not ours.state[orl]
    ours.load_state_dict(ours.state_dict())                     # an empty state still loads
    op.grad = None
    ours.step()                                                 # the real one alone steps
    assert ours.state[orl]["step"] == 1 and not np.array_equal(orl.numpy(), np.ones(3))


def test_complex_sweep_of_other_functions_as_torch() -> None:
    """Functions PyTorch computes for complex inputs give its values and gradients (pairwise_distance,
    tanhshrink and softsign cast a complex input to float32, dropping the imaginary part); those it refuses
    (hardtanh, relu6, threshold, layer_norm, mse_loss: an order or a kernel complex numbers lack) raise
    NotImplementedError, its class, where they computed."""
    rng = np.random.default_rng(5)
    a, b = _complex(rng, 3, 4), _complex(rng, 3, 4)
    computed = {"tanhshrink": lambda lib, x, y: lib.nn.functional.tanhshrink(x),
                "softsign": lambda lib, x, y: lib.nn.functional.softsign(x)}
    computed.update({f"pairwise_distance p={p}": (lambda lib, x, y, p=p: lib.nn.functional.pairwise_distance(
        x, y, p=p, keepdim=p == 1)) for p in (2, 1, 3.5, float("inf"))})
    for name, fn in computed.items():
        tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        ox, oy = mg.tensor(a, requires_grad=True), mg.tensor(b, requires_grad=True)
        t_out, o_out = fn(torch, tx, ty), fn(mg, ox, oy)
        (_power(t_out) if t_out.is_complex() else t_out.sum()).backward()
        (_power(o_out) if o_out.dtype.kind == "c" else o_out.sum()).backward()
        _close(o_out, t_out, name)
        _close(ox.grad, tx.grad, f"{name} grad")
        if ty.grad is not None:
            _close(oy.grad, ty.grad, f"{name} grad y")
    refused = {"hardtanh": lambda lib, x: lib.nn.functional.hardtanh(x),
               "relu6": lambda lib, x: lib.nn.functional.relu6(x),
               "threshold": lambda lib, x: lib.nn.functional.threshold(x, 0.5, 0.0),
               "layer_norm": lambda lib, x: lib.nn.functional.layer_norm(x, (4,)),
               "LayerNorm": lambda lib, x: lib.nn.LayerNorm(4, dtype=x.dtype)(x),
               "mse_loss": lambda lib, x: lib.nn.functional.mse_loss(x, x * 2)}
    for name, fn in refused.items():
        with pytest.raises(NotImplementedError):
            fn(torch, torch.tensor(a))
        with pytest.raises(NotImplementedError, match={"relu6": "hardtanh", "LayerNorm": "layer_norm"}.get(name, name)):
            fn(mg, mg.tensor(a))


def test_complex_bilinear_attention_and_refusal_classes() -> None:
    """Bilinear is built complex and gives torch's no-grad output; its gradient (torch refuses to record one)
    passes a float64 gradcheck through the real parts. MultiheadAttention is built complex and its forward raises
    NotImplementedError (softmax), as torch's. A complex input to a function without a complex kernel (pools,
    gelu, elu, scaled_dot_product_attention, cross_entropy) raises NotImplementedError as torch's, and is still a
    TypeError as the first contract's refusal."""
    rng = np.random.default_rng(6)
    theirs = torch.nn.Bilinear(3, 2, 4, dtype=torch.complex128)
    ours = nn.Bilinear(3, 2, 4, dtype=mg.complex128)
    assert ours.weight.dtype == np.complex128 and ours.weight.numpy().imag.any()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x1, x2 = _complex(rng, 5, 3), _complex(rng, 5, 2)
    with torch.no_grad():
        expected = theirs(torch.tensor(x1), torch.tensor(x2))
    _close(ours(mg.tensor(x1), mg.tensor(x2)), expected, "bilinear")
    w, b = ours.weight.detach().numpy(), ours.bias.detach().numpy()
    parts = [mg.tensor(v, requires_grad=True) for a in (x1[:2], x2[:2], w) for v in (a.real, a.imag)]
    assert mg.gradcheck(lambda ar, ai, br, bi, wr, wi: mg.view_as_real(F.bilinear(
        mg.complex(ar, ai), mg.complex(br, bi), mg.complex(wr, wi), mg.tensor(b))), parts)
    q = _complex(rng, 3, 2, 4)
    for lib in (torch, mg):
        attention = lib.nn.MultiheadAttention(4, 2, dtype=lib.complex128)
        with pytest.raises(NotImplementedError):
            attention(*(lib.tensor(q),) * 3)
    z = _complex(rng, 1, 2, 4, 4)
    calls = {"max_pool2d": lambda lib, v: lib.nn.functional.max_pool2d(v, 2),
             "avg_pool1d": lambda lib, v: lib.nn.functional.avg_pool1d(v[0], 2),
             "adaptive_avg_pool2d": lambda lib, v: lib.nn.functional.adaptive_avg_pool2d(v, 2),
             "gelu": lambda lib, v: lib.nn.functional.gelu(v),
             "elu": lambda lib, v: lib.nn.functional.elu(v),
             "scaled_dot_product_attention": lambda lib, v: lib.nn.functional.scaled_dot_product_attention(v, v, v),
             "cross_entropy": lambda lib, v: lib.nn.functional.cross_entropy(v[0, 0], lib.tensor([0, 1, 2, 3]))}
    for name, fn in calls.items():
        with pytest.raises(RuntimeError):
            fn(torch, torch.tensor(z))
        with pytest.raises(NotImplementedError, match=name) as raised:
            fn(mg, mg.tensor(z))
        assert isinstance(raised.value, TypeError), name
