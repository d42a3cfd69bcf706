"""Smoke test of examples/sentiment.py."""

from __future__ import annotations

import numpy as np

from examples.sentiment import build_vocab, lexicon_predictions, make_reviews


def test_generated_reviews_are_labelled_by_negation_and_contrast():
    vocab = build_vocab()
    data = make_reviews(300, 0, vocab)
    assert set(np.unique(data.labels)) == {0, 1}
    assert {"plain", "negated", "contrast"} <= set(data.kinds)
    for text, label, kind in zip(data.texts, data.labels, data.kinds):
        if kind == "negated" and " but " not in text:
            assert lexicon_predictions([text])[0] != label   # counting words gets negations wrong
    held_out = make_reviews(100, 1, vocab, exclude=set(data.texts))
    assert not set(held_out.texts) & set(data.texts)


def test_sentiment_runs(run_example, tmp_path):
    summary, _ = run_example(
        "sentiment", "--epochs", "1", "--reviews", "400", "--hidden-size", "8", "--embedding-size", "8",
        "--out", str(tmp_path))
    assert 0.0 <= summary["val_accuracy"] <= 1.0
    assert set(summary["val_accuracy_by_kind"]) == {"plain", "negated", "contrast"}
    assert 0.0 < summary["lexicon_accuracy"] < 1.0
    assert (tmp_path / "sentiment.npz").exists()
