"""Round 18 leftovers: complex inputs to the dropouts where PyTorch needs no random mask (p = 0, p = 1, not
training), a complex ``soft_margin_loss``, and ``instance_norm``/``local_response_norm`` checking the input's
shape before its dtype, each as PyTorch 2.13's."""
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn
import nn.functional as F

Z = (np.arange(24).reshape(2, 3, 4) * (0.5 - 0.25j) - 2).astype(np.complex64)


def _outcome(call: Any) -> Any:
    """('ok', array, dtype name) or ('error', exception class)."""
    try:
        out = call()
    except Exception as error:  # noqa: BLE001 - the class is compared
        return "error", type(error)
    return "ok", np.asarray(out.detach().numpy()), str(out.dtype).replace("torch.", "")


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("name", ["dropout1d", "alpha_dropout", "feature_alpha_dropout"])
def test_complex_dropout_matches_pytorch(torch: Any, name: str, p: float, training: bool) -> None:
    theirs = _outcome(lambda: getattr(torch.nn.functional, name)(torch.from_numpy(Z), p=p, training=training))
    ours = _outcome(lambda: getattr(F, name)(mg.tensor(Z), p=p, training=training))
    assert ours[0] == theirs[0], (ours, theirs)
    if theirs[0] == "error":   # a random mask: PyTorch has no complex bernoulli_
        assert issubclass(ours[1], theirs[1])
    else:
        np.testing.assert_array_equal(ours[1], theirs[1])
        assert ours[2] == theirs[2]


@pytest.mark.parametrize(("module", "p"), [("Dropout1d", 0.0), ("Dropout1d", 1.0), ("AlphaDropout", 1.0)])
def test_complex_dropout_modules_match_pytorch(torch: Any, module: str, p: float) -> None:
    expected = getattr(torch.nn, module)(p)(torch.from_numpy(Z))
    got = getattr(nn, module)(p)(mg.tensor(Z))
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
    assert got.dtype == mg.complex64


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("target_dtype", ["float32", "complex64", "int64"])
def test_complex_soft_margin_loss_matches_pytorch(torch: Any, reduction: str, target_dtype: str) -> None:
    x = np.array([1 + 2j, -0.5 + 0.3j, 0.1 - 1j, 3 - 0.5j], dtype=np.complex64)
    t = np.array([1, -1, 1, -1]).astype(target_dtype)
    expected = torch.nn.functional.soft_margin_loss(torch.from_numpy(x), torch.from_numpy(t), reduction=reduction)
    got = F.soft_margin_loss(mg.tensor(x), mg.tensor(t), reduction=reduction)
    assert got.dtype == mg.complex64 and expected.dtype == torch.complex64
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6, atol=1e-6)


def test_complex_soft_margin_loss_refuses_a_gradient_as_pytorch(torch: Any) -> None:
    x = np.array([1 + 2j, -0.5 + 0.3j], dtype=np.complex64)
    with pytest.raises(RuntimeError):
        torch.nn.functional.soft_margin_loss(torch.tensor(x, requires_grad=True), torch.ones(2))
    with pytest.raises(RuntimeError, match="soft_margin_loss"):
        F.soft_margin_loss(mg.tensor(x, requires_grad=True), mg.ones(2))
    with mg.no_grad():
        assert F.soft_margin_loss(mg.tensor(x, requires_grad=True), mg.ones(2)).dtype == mg.complex64


@pytest.mark.parametrize("dtype", ["int64", "bool", "complex64"])
@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
@pytest.mark.parametrize("call", ["instance_norm", "instance_norm_running", "local_response_norm"])
def test_norms_check_the_shape_before_the_dtype(torch: Any, call: str, shape: tuple, dtype: str) -> None:
    data = np.ones(shape, dtype=dtype)

    def run(lib: Any, functional: Any) -> Any:
        if call == "local_response_norm":
            return functional.local_response_norm(lib.tensor(data), 2)
        if call == "instance_norm":
            return functional.instance_norm(lib.tensor(data))
        return functional.instance_norm(lib.tensor(data), lib.zeros(3), lib.ones(3), use_input_stats=False)

    theirs, ours = _outcome(lambda: run(torch, torch.nn.functional)), _outcome(lambda: run(mg, F))
    assert theirs[0] == ours[0] == "error"
    assert issubclass(ours[1], theirs[1]), (ours, theirs)
