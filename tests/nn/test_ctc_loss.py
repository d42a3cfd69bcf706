"""F.ctc_loss / nn.CTCLoss / mg.ctc_loss against PyTorch's, values and gradients.

PyTorch's gradient with respect to log_probs is exp(log_probs) - (the alignment posterior over
exp(log_probs)): the gradient with respect to the logits of a log_softmax. It is not the derivative
of the loss in log_probs alone (a finite-difference check of ctc_loss by itself fails, in PyTorch as
here), so the gradchecks go through a log_softmax of free logits, and the comparisons with torch
cover unnormalised log_probs too (where the two must agree on that formula).
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn
from minigrad.ops.ctc import CTCLossError
from nn import functional as F

RNG = np.random.default_rng(29)


def log_softmax(x: np.ndarray) -> np.ndarray:
    return x - np.log(np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True)) - x.max(-1, keepdims=True)


def labels(shape: tuple, classes: int, blank: int) -> np.ndarray:
    """Random labels in [0, classes) other than ``blank``."""
    return RNG.choice([k for k in range(classes) if k != blank], shape)


def concatenated(padded: np.ndarray, lengths: list) -> np.ndarray:
    return np.concatenate([row[:n] for row, n in zip(padded, lengths)]).astype(padded.dtype)


def as_given(lengths: list, form: str, torch: object = None) -> object:
    """The lengths as a list, a tuple, an int64 or int32 tensor (minigrad's, or torch's when given)."""
    if form == "list":
        return list(lengths)
    if form == "tuple":
        return tuple(lengths)
    dtype = np.int32 if form == "int32" else np.int64
    array = np.asarray(lengths, dtype=dtype)
    return torch.from_numpy(array) if torch is not None else mg.tensor(array)


def compare(torch, log_probs: np.ndarray, targets: np.ndarray, input_lengths: list, target_lengths: list,
            form: str = "tensor", rtol: float = 1e-10, atol: float = 1e-12, fn: str = "F", **options) -> None:
    """Loss and the gradient of log_probs (NaNs where torch has them) against torch's F.ctc_loss."""
    x = mg.tensor(log_probs, requires_grad=True)
    tx = torch.tensor(log_probs, requires_grad=True)
    if fn == "F":
        ours = F.ctc_loss(x, mg.tensor(targets), as_given(input_lengths, form), as_given(target_lengths, form),
                          **options)
    elif fn == "module":
        ours = nn.CTCLoss(**options)(x, mg.tensor(targets), as_given(input_lengths, form),
                                     as_given(target_lengths, form))
    else:   # torch.ctc_loss's spelling: the reduction as torch's enum
        options["reduction"] = {"none": 0, "mean": 1, "sum": 2}[options.get("reduction", "mean")]
        ours = mg.ctc_loss(x, mg.tensor(targets), as_given(input_lengths, form), as_given(target_lengths, form),
                           **options)
    if fn == "torch_enum":
        theirs = torch.ctc_loss(tx, torch.from_numpy(targets), as_given(input_lengths, form, torch),
                                as_given(target_lengths, form, torch), **options)
    else:
        theirs = torch.nn.functional.ctc_loss(tx, torch.from_numpy(targets), as_given(input_lengths, form, torch),
                                              as_given(target_lengths, form, torch), **options)
    assert ours.shape == tuple(theirs.shape) and ours.dtype == np.dtype(str(theirs.dtype).replace("torch.", ""))
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=rtol, atol=atol)
    weights = RNG.uniform(0.5, 1.5, ours.shape)
    (ours * mg.tensor(weights, dtype=ours.dtype)).sum().backward()
    (theirs * torch.from_numpy(weights).to(theirs.dtype)).sum().backward()
    ours_grad, their_grad = x.grad.numpy(), tx.grad.numpy()
    np.testing.assert_array_equal(np.isnan(ours_grad), np.isnan(their_grad))
    np.testing.assert_allclose(np.nan_to_num(ours_grad), np.nan_to_num(their_grad), rtol=rtol, atol=atol)


REDUCTIONS = ["none", "sum", "mean"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("target_form", ["padded", "concatenated"])
@pytest.mark.parametrize("form", ["tensor", "int32", "list", "tuple"])
def test_batches_of_varying_lengths_as_torch(torch, reduction: str, target_form: str, form: str) -> None:
    steps, batch, classes, width = 9, 4, 6, 4
    log_probs = log_softmax(RNG.standard_normal((steps, batch, classes)))
    input_lengths, target_lengths = [9, 7, 5, 8], [4, 3, 0, 2]
    targets = labels((batch, width), classes, 0)
    if target_form == "concatenated":
        targets = concatenated(targets, target_lengths)
    compare(torch, log_probs, targets, input_lengths, target_lengths, form, reduction=reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_repeated_labels_need_blanks_between_them(torch, reduction: str) -> None:
    # "1 1 1" needs 5 frames (1 _ 1 _ 1); "2 2 3" needs 4; at 5 frames the first has exactly one alignment
    log_probs = log_softmax(RNG.standard_normal((5, 3, 4)))
    targets = np.array([[1, 1, 1], [2, 2, 3], [3, 1, 3]])
    compare(torch, log_probs, targets, [5, 5, 5], [3, 3, 3], reduction=reduction)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("normalised", [True, False])
def test_dtypes_and_unnormalised_log_probs_as_torch(torch, dtype: type, normalised: bool) -> None:
    """On unnormalised inputs torch's gradient is exp(y) minus the posterior: the same formula here."""
    logits = RNG.standard_normal((30, 3, 12))
    log_probs = (log_softmax(logits) if normalised else logits).astype(dtype)
    targets = labels((3, 8), 12, 0)
    tolerance = {"rtol": 1e-5, "atol": 1e-5} if dtype == np.float32 else {}
    compare(torch, log_probs, targets, [30, 24, 17], [8, 5, 8], reduction="none", **tolerance)
    compare(torch, log_probs, targets, [30, 24, 17], [8, 5, 8], reduction="mean", **tolerance)


@pytest.mark.parametrize("blank", [3, 5])
def test_blank_other_than_zero(torch, blank: int) -> None:
    log_probs = log_softmax(RNG.standard_normal((7, 2, 6)))
    targets = labels((2, 3), 6, blank)
    compare(torch, log_probs, targets, [7, 6], [3, 2], blank=blank, reduction="sum")


@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_impossible_alignments_inf_and_nan_or_zero_as_torch(torch, zero_infinity: bool, reduction: str) -> None:
    """A target that cannot fit its input: loss inf, gradient NaN on that sequence's frames (0 past its end),
    as torch; zero_infinity makes both 0. An empty input with a non-empty target is impossible too."""
    log_probs = log_softmax(RNG.standard_normal((6, 4, 5)))
    targets = np.array([[1, 1, 1], [1, 2, 3], [2, 2, 0], [4, 0, 0]])
    # sequence 0: "1 1 1" in 4 frames (needs 5); 1: 3 labels in 2 frames; 3: one label in 0 frames
    compare(torch, log_probs, targets, [4, 2, 6, 0], [3, 3, 2, 1], reduction=reduction, zero_infinity=zero_infinity)


def test_empty_targets_and_empty_inputs(torch) -> None:
    """Target length 0: the all-blank path; an input of length 0 with an empty target: loss 0."""
    log_probs = log_softmax(RNG.standard_normal((5, 3, 4)))
    targets = np.array([[1, 2], [0, 0], [0, 0]])
    for reduction in REDUCTIONS:
        compare(torch, log_probs, targets, [5, 4, 0], [2, 0, 0], reduction=reduction)
    compare(torch, log_probs, np.zeros(0, dtype=np.int64), [5, 4, 0], [0, 0, 0], reduction="mean")
    compare(torch, log_probs, np.zeros((3, 0), dtype=np.int64), [5, 4, 3], [0, 0, 0], reduction="none")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("target_shape", ["(S,)", "(1, S)"])
def test_unbatched_log_probs(torch, reduction: str, target_shape: str) -> None:
    log_probs = log_softmax(RNG.standard_normal((8, 5)))
    targets = np.array([2, 2, 4]) if target_shape == "(S,)" else np.array([[2, 2, 4]])
    compare(torch, log_probs, targets, [8], [3], reduction=reduction)
    x, tx = mg.tensor(log_probs), torch.tensor(log_probs)   # 0-d length tensors, as torch takes them
    ours = F.ctc_loss(x, mg.tensor(targets), mg.tensor(8), mg.tensor(3), reduction=reduction)
    theirs = torch.nn.functional.ctc_loss(tx, torch.from_numpy(targets), torch.tensor(8), torch.tensor(3),
                                          reduction=reduction)
    assert ours.shape == () and np.isclose(ours.item(), theirs.item(), rtol=1e-12)


@pytest.mark.parametrize("fn", ["module", "torch_enum"])
def test_module_and_torch_ctc_loss_spelling(torch, fn: str) -> None:
    log_probs = log_softmax(RNG.standard_normal((6, 2, 5)))
    targets = labels((2, 3), 5, 4)
    for reduction in REDUCTIONS:
        compare(torch, log_probs, targets, [6, 5], [3, 1], fn=fn, blank=4, reduction=reduction, zero_infinity=True)
    assert repr(nn.CTCLoss(reduction="sum")) == repr(torch.nn.CTCLoss(reduction="sum")) == "CTCLoss()"


# --- gradcheck, through a log_softmax of free logits ---------------------------------------------------------

@pytest.mark.parametrize(("reduction", "blank", "input_lengths", "target_lengths", "targets"), [
    ("sum", 0, [6, 5, 4], [3, 2, 0], [[1, 2, 3], [3, 3, 0], [0, 0, 0]]),
    ("mean", 0, [6, 6, 3], [3, 2, 1], [[2, 2, 2], [1, 3, 0], [3, 0, 0]]),
    ("none", 3, [5, 4, 2], [2, 2, 2], [[0, 0, 0], [1, 2, 0], [2, 1, 0]]),
])
def test_gradcheck_through_log_softmax(reduction: str, blank: int, input_lengths: list, target_lengths: list,
                                       targets: list) -> None:
    logits = mg.tensor(RNG.standard_normal((6, 3, 4)), requires_grad=True)
    targets = mg.tensor(np.array(targets))

    def loss(x: mg.Tensor) -> mg.Tensor:
        return F.ctc_loss(x.log_softmax(dim=2), targets, input_lengths, target_lengths, blank=blank,
                          reduction=reduction)

    assert mg.gradcheck(loss, [logits])


def test_gradcheck_unbatched_concatenated() -> None:
    logits = mg.tensor(RNG.standard_normal((7, 5)), requires_grad=True)
    assert mg.gradcheck(lambda x: F.ctc_loss(x.log_softmax(dim=1), mg.tensor([4, 4, 1]), [7], [3]), [logits])


def test_the_gradient_is_torchs_formula_not_the_plain_derivative() -> None:
    """Direct finite differences in log_probs give -posterior/p; the op gives exp(y) on top (torch's)."""
    log_probs = mg.tensor(RNG.standard_normal((4, 1, 3)), requires_grad=True)
    F.ctc_loss(log_probs, mg.tensor([[1, 2]]), [4], [2], reduction="sum").backward()
    with pytest.raises(mg.GradcheckError):
        mg.gradcheck(lambda x: F.ctc_loss(x, mg.tensor([[1, 2]]), [4], [2], reduction="sum"), [log_probs])
    eps, numeric = 1e-6, np.zeros((4, 1, 3))
    for index in np.ndindex(4, 1, 3):
        for sign in (1, -1):
            moved = log_probs.detach().numpy().copy()
            moved[index] += sign * eps
            numeric[index] += sign * F.ctc_loss(mg.tensor(moved), mg.tensor([[1, 2]]), [4], [2],
                                               reduction="sum").item()
    numeric /= 2 * eps
    np.testing.assert_allclose(log_probs.grad.numpy(), np.exp(log_probs.detach().numpy()) + numeric, atol=1e-7)


# --- errors ------------------------------------------------------------------------------------------------

LP = log_softmax(RNG.standard_normal((6, 2, 5)))
GOOD = {"log_probs": LP, "targets": np.array([[1, 2, 3], [2, 2, 0]]), "input_lengths": [6, 6],
        "target_lengths": [3, 2]}
ERRORS = {   # what changes → (our error, its message, whether torch refuses it too)
    "input longer than T": ({"input_lengths": [7, 6]}, CTCLossError,
                            r"input_lengths must be at most T=6 \(log_probs of shape \(6, 2, 5\)\), got 7 for batch "
                            r"element 0", True),
    "target longer than S": ({"target_lengths": [3, 4]}, CTCLossError,
                             r"target_lengths must be at most S=3 \(padded targets of shape \(2, 3\)\), got 4 for "
                             r"batch element 1", True),
    "negative input length": ({"input_lengths": [6, -1]}, CTCLossError,
                              r"input_lengths must be >= 0, got -1 for batch element 1", True),
    "negative target length": ({"target_lengths": [-2, 2]}, CTCLossError,
                               r"target_lengths must be >= 0, got -2 for batch element 0", True),
    "target is the blank": ({"targets": np.array([[1, 0, 3], [2, 2, 0]])}, CTCLossError,
                            r"target 0 \(batch element 0, position 1\) is the blank", False),
    "target out of range": ({"targets": np.array([[1, 2, 3], [7, 2, 0]])}, CTCLossError,
                            r"target 7 \(batch element 1, position 0\) is outside the label range \[0, 4\]", False),
    "blank out of range": ({"blank": 5}, CTCLossError, r"blank must be in the label range \[0, 4\] .*got 5", True),
    "float targets": ({"targets": np.array([[1.0, 2, 3], [2, 2, 0]])}, TypeError,
                      r"targets must be integer labels, got dtype float64", False),
    "float lengths": ({"input_lengths": np.array([6.0, 6.0])}, TypeError,
                      r"input_lengths must be integers, got dtype float64", True),
    "bool lengths": ({"target_lengths": [True, 2]}, TypeError, r"target_lengths must be a Tensor of integers", True),
    "integer log_probs": ({"log_probs": np.zeros((6, 2, 5), dtype=np.int64)}, TypeError,
                          r"log_probs must be float32 or float64, got int64 \(shape \(6, 2, 5\)\)", True),
    "4-D log_probs": ({"log_probs": LP[None]}, CTCLossError,
                      r"log_probs must be \(T, N, C\), or \(T, C\) unbatched, got shape \(1, 6, 2, 5\)", True),
    "lengths per batch": ({"input_lengths": [6, 6, 6]}, CTCLossError,
                          r"input_lengths must hold one length per batch element \(N=2\), got shape \(3,\)", True),
    "targets per batch": ({"targets": np.array([[1, 2, 3]])}, CTCLossError,
                          r"padded targets of shape \(1, 3\) must have one row per batch element \(N=2\)", True),
    "concatenated sum": ({"targets": np.array([1, 2, 3, 2])}, CTCLossError,
                         r"concatenated targets of shape \(4,\) must hold sum\(target_lengths\) = 5 labels", True),
    "reduction": ({"reduction": "avg"}, ValueError, r"reduction must be 'mean', 'sum' or 'none', got 'avg'", True),
    "empty": ({"log_probs": LP[:, :0], "targets": np.zeros((0, 3), dtype=np.int64), "input_lengths": [],
               "target_lengths": []}, CTCLossError, r"log_probs must not be empty, got shape \(6, 0, 5\)", True),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_bad_input_raises_naming_ctc_loss(case: str) -> None:
    change, error, message, _ = ERRORS[case]
    arguments = {**GOOD, **change}
    options = {key: arguments.pop(key) for key in ("blank", "reduction") if key in arguments}
    inputs = [mg.tensor(arguments[key]) if isinstance(arguments[key], np.ndarray) else arguments[key]
              for key in ("log_probs", "targets", "input_lengths", "target_lengths")]
    with pytest.raises(error, match="^ctc_loss: " + message):
        F.ctc_loss(*inputs, **options)


def test_torch_refuses_the_same_inputs(torch) -> None:
    """Each error above is torch's too, except the three where torch computes something: a blank or an
    out-of-range label inside a target (torch's CPU kernel reads them as labels, or past the end of the
    row), and float targets (torch truncates them to integers)."""
    for change, _, _, refused in ERRORS.values():
        arguments = {**GOOD, **change}
        options = {key: arguments.pop(key) for key in ("blank", "reduction") if key in arguments}
        inputs = [torch.from_numpy(arguments[key]) if isinstance(arguments[key], np.ndarray) else arguments[key]
                  for key in ("log_probs", "targets", "input_lengths", "target_lengths")]
        if refused:
            with pytest.raises((RuntimeError, TypeError, ValueError, NotImplementedError)):
                torch.nn.functional.ctc_loss(*inputs, **options)
        else:
            torch.nn.functional.ctc_loss(*inputs, **options)   # no error: see the docstring


def test_targets_and_lengths_on_the_inputs_values_in_a_compiled_call() -> None:
    """Targets and lengths are op inputs: a replayed mg.compile call uses and checks each call's values."""
    step = mg.compile(lambda x, t, il, tl: F.ctc_loss(x, t, il, tl, reduction="none"))
    x = mg.tensor(LP)
    for targets, lengths in (([[1, 2, 3], [2, 2, 0]], [3, 2]), ([[4, 4, 1], [3, 0, 0]], [3, 1])):
        args = (mg.tensor(targets), mg.tensor([6, 5]), mg.tensor(lengths))
        np.testing.assert_array_equal(step(x, *args).numpy(), F.ctc_loss(x, *args, reduction="none").numpy())
    with pytest.raises(ValueError, match="ctc_loss: target 0 .batch element 0, position 1. is the blank"):
        step(x, mg.tensor([[1, 0, 3], [2, 2, 0]]), mg.tensor([6, 5]), mg.tensor([3, 2]))


# --- GPU (the strict CuPy stand-in without one) ---------------------------------------------------------------

@pytest.mark.gpu
@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # the stand-in is NumPy underneath (CuPy never warns)
@pytest.mark.parametrize("zero_infinity", [False, True])
def test_on_the_gpu_as_on_the_cpu(zero_infinity: bool) -> None:
    logits = RNG.standard_normal((12, 3, 6)).astype(np.float32)
    padded = np.array([[1, 1, 5, 2], [3, 4, 0, 0], [2, 2, 2, 2]])

    def run(device: str, concatenate: bool) -> list:
        x = mg.tensor(logits, requires_grad=True, device=device)
        targets = concatenated(padded, [4, 2, 4]) if concatenate else padded
        losses = F.ctc_loss(x.log_softmax(dim=2), mg.tensor(targets, device=device), mg.tensor([12, 9, 6]),
                            [4, 2, 4], reduction="none", zero_infinity=zero_infinity)
        assert losses.device == x.device
        (losses * mg.tensor([1.0, 0.5, 2.0], device=device)).sum().backward()
        return [losses.numpy(), x.grad.numpy()]

    for concatenate in (False, True):
        for gpu, cpu in zip(run("cuda", concatenate), run("cpu", concatenate)):
            np.testing.assert_allclose(gpu, cpu, rtol=1e-5, atol=1e-6)


# --- it trains -------------------------------------------------------------------------------------------

def test_a_bidirectional_lstm_learns_a_toy_alignment() -> None:
    """Inputs spell a label sequence with each label held 1-3 frames and silence between some: the
    collapsed labels are the target. A bidirectional LSTM + Linear + log_softmax learns it with CTC."""
    mg.manual_seed(3)
    rng = np.random.default_rng(5)
    steps, batch, classes = 12, 8, 4            # labels 1..3, blank 0; input symbol 0 is silence
    inputs, targets, target_lengths = np.zeros((steps, batch, classes), np.float32), [], []
    for n in range(batch):
        sequence, frames = rng.integers(1, classes, rng.integers(2, 5)), []
        for label in sequence:
            frames += [label] * int(rng.integers(1, 3)) + [0] * int(rng.integers(0, 2))
        frames = (frames + [0] * steps)[:steps]
        inputs[np.arange(steps), n, frames] = 1.0
        targets.append(np.pad(sequence, (0, 4 - len(sequence))))
        target_lengths.append(len(sequence))
    inputs += 0.1 * rng.standard_normal(inputs.shape).astype(np.float32)
    x, targets = mg.tensor(inputs), mg.tensor(np.array(targets))
    lstm, head = nn.LSTM(classes, 12, bidirectional=True), nn.Linear(24, classes)
    criterion = nn.CTCLoss()
    optimizer = nn.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=0.05)
    losses = []
    for _ in range(40):
        output, _ = lstm(x)
        loss = criterion(head(output).log_softmax(dim=2), targets, [steps] * batch, target_lengths)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.25 * losses[0], losses
