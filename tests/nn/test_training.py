"""The pieces train together: XOR, a small regression, the README's loop, and regularisers."""

from __future__ import annotations

import numpy as np

import minigrad as mg
import nn
from nn import functional as F


def test_mlp_learns_xor() -> None:
    x = mg.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([[0.0], [1.0], [1.0], [0.0]], dtype=np.float32)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    optimizer = nn.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(300):
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(model(x), y)
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05
    predictions = (model(x).numpy() > 0).astype(np.float32)
    np.testing.assert_array_equal(predictions, y)


def test_xor_as_two_class_cross_entropy_with_sgd_momentum() -> None:
    x = mg.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 1, 1, 0])
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    optimizer = nn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(300):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05
    np.testing.assert_array_equal(model(x).numpy().argmax(axis=1), y)


def test_regression_reaches_stated_loss() -> None:
    """An MLP fits y = sin(2x) on [-1.5, 1.5] to a mean squared error below 1e-3 in 400 Adam steps."""
    x = np.linspace(-1.5, 1.5, 64, dtype=np.float32)[:, None]
    y = np.sin(2 * x)
    model = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 1))
    optimizer = nn.optim.Adam(model.parameters(), lr=0.02)
    first = None
    for _ in range(400):
        optimizer.zero_grad()
        loss = F.mse_loss(model(mg.tensor(x)), y)
        loss.backward()
        optimizer.step()
        first = first if first is not None else loss.item()
    assert first > 0.1 and loss.item() < 1e-3


def test_l1_penalty_and_weight_decay_shrink_weights() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 10)).astype(np.float32)
    noise = 0.5 * rng.standard_normal((32, 1)).astype(np.float32)
    y = x[:, :2] @ np.array([[1.0], [-2.0]], dtype=np.float32) + noise  # only two features matter

    def fit(l1: float, weight_decay: float) -> np.ndarray:
        mg.manual_seed(0)
        model = nn.Linear(10, 1)
        optimizer = nn.optim.SGD(model.parameters(), lr=0.05, weight_decay=weight_decay)
        for _ in range(300):
            optimizer.zero_grad()
            loss = F.mse_loss(model(mg.tensor(x)), y)
            if l1:
                loss = loss + l1 * nn.utils.l1_penalty([model.weight])
            loss.backward()
            optimizer.step()
        return np.abs(model.weight.numpy()[0])

    plain, lasso, decayed = fit(0.0, 0.0), fit(0.3, 0.0), fit(0.0, 0.5)
    assert plain[2:].sum() > 0.2  # least squares fits the noise with the useless features
    assert lasso[2:].sum() < 0.5 * plain[2:].sum()  # L1 pushes them towards zero
    assert decayed.sum() < plain.sum()  # L2 shrinks everything


def test_readme_training_loop_runs_as_written(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    mg.manual_seed(0)

    # data: 2-D points, label 1 inside the unit circle
    rng = np.random.default_rng(0)
    x = rng.uniform(-1.5, 1.5, size=(256, 2)).astype(np.float32)
    y = (np.sum(x**2, axis=1) < 1.0).astype(np.int64)

    model = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Dropout(0.1), nn.Linear(32, 2))
    optimizer = nn.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=1e-4)

    for epoch in range(200):  # noqa: B007 - `epoch` is saved below
        model.train()
        optimizer.zero_grad()
        logits = model(mg.tensor(x))              # (256, 2)
        loss = F.cross_entropy(logits, y)         # integer targets: a NumPy array or a Tensor
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optimizer.step()

    model.eval()
    with mg.no_grad():
        accuracy = (model(mg.tensor(x)).numpy().argmax(axis=1) == y).mean()
    print(f"loss {loss.item():.3f}  accuracy {accuracy:.1%}")

    nn.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}, "checkpoint.npz")
    checkpoint = nn.load("checkpoint.npz")
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])

    assert accuracy > 0.9 and checkpoint["epoch"] == 199
