"""examples/markov_chains.py on texts with known answers, and examples/markov_text.py end to end."""

from __future__ import annotations

import math

import numpy as np
import pytest

from examples import markov_text
from examples.char_rnn import Text
from examples.markov_chains import (
    SMOOTHINGS,
    CharChain,
    WordChain,
    bits_per_char,
    choose_ks,
    copied_share,
    detokenize,
    tokenize,
    verbatim_runs,
)


def _ids(text: str, vocab: str) -> np.ndarray:
    return np.array([vocab.index(ch) for ch in text])


def test_bits_per_char_is_the_exact_entropy_of_a_known_distribution():
    # frequencies a: 1/4, b: 1/2, c: 1/4 → entropy 1.5 bits; the order-0 chain without smoothing is exact
    text = _ids("aabbbbcc" * 5, "abc")
    chain = CharChain(text, 3, order=0)
    assert bits_per_char(chain.probabilities(text, 0, [0.0], start=0)) == pytest.approx(1.5, abs=1e-12)
    # eight equally likely characters: 3 bits
    uniform = np.arange(8).repeat(3)
    assert bits_per_char(CharChain(uniform, 8, 0).probabilities(uniform, 0, [0.0], start=0)) == pytest.approx(3.0)


def test_a_deterministic_text_costs_zero_bits_at_order_one():
    text = _ids("abc" * 20, "abc")
    probabilities = CharChain(text, 3, order=1).probabilities(text, 1, [0.0, 0.0])
    np.testing.assert_allclose(probabilities, 1.0)
    assert bits_per_char(probabilities) == 0.0


def test_add_k_and_interpolation_follow_their_formulas():
    text = _ids("abacabad", "abcd")
    chain = CharChain(text, 4, order=1)
    held = _ids("ab", "abcd")
    k0, k1 = 0.5, 2.0
    unigram = (np.array([4, 2, 1, 1]) + k0) / (8 + 4 * k0)   # counts a4 b2 c1 d1
    # after "a" the training text has b twice, c once, d once: n(a) = 4, n(a, b) = 2
    add_k = (2 + k1) / (4 + 4 * k1)
    interpolated = (2 + k1 * 4 * unigram[1]) / (4 + 4 * k1)
    assert chain.probabilities(held, 1, [k0, k1], "add-k")[0] == pytest.approx(add_k)
    assert chain.probabilities(held, 1, [k0, k1], "interpolated")[0] == pytest.approx(interpolated)
    # the first character of a held-out text has no context inside it: order 0
    assert chain.probabilities(held, 1, [k0, k1], start=0)[0] == pytest.approx(unigram[0])


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
def test_char_transition_probabilities_sum_to_one(smoothing):
    text = Text("the cat sat on the mat; the rat ate the hat. xyz")
    chain = CharChain(text.ids, len(text.vocab), order=3)
    ks = [0.3, 0.1, 0.05, 0.01]
    for context in ("the", "at ", "zzz", "", "q"[:0]):
        ids = [text.index[ch] for ch in context]
        for order in range(4):
            p = chain.distribution(ids, order, ks, smoothing)
            assert p.shape == (len(text.vocab),)
            assert p.sum() == pytest.approx(1.0, abs=1e-12)
            assert p.min() > 0


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
def test_smoothing_never_gives_probability_zero_to_a_held_out_character(smoothing):
    text = Text("aaaaabbbbbababab" + "zq")   # z and q occur only in the held-out part
    train, held = text.ids[:16], text.ids[16:]
    chain = CharChain(train, len(text.vocab), order=4)
    for order in range(5):
        p = chain.probabilities(np.concatenate([train[-6:], held]), order, [1e-3] * 5, smoothing)
        assert (p > 0).all()
        assert np.isfinite(bits_per_char(p))


def test_choose_ks_picks_the_best_of_the_grid_order_by_order():
    rng = np.random.default_rng(0)
    train = rng.integers(0, 5, 2000)
    held = rng.integers(0, 5, 500)
    chain = CharChain(train, 5, order=2)
    grid = (0.01, 1.0, 100.0)
    ks, bits = choose_ks(chain, held, 2, "interpolated", grid)
    for w in range(3):
        scores = [bits_per_char(chain.probabilities(held, w, [*ks[:w], k])) for k in grid]
        assert bits[w] == pytest.approx(min(scores))
        assert ks[w] == grid[int(np.argmin(scores))]
    # independent uniform characters: a larger k (closer to uniform) wins at every order
    assert ks[1] == ks[2] == 100.0
    assert bits[0] == pytest.approx(math.log2(5), abs=0.02)


def test_word_chain_probabilities_sum_to_one_and_follow_the_counts():
    tokens = tokenize("the cat sat. the cat ran. the dog sat.")
    chain = WordChain(tokens, 1)
    assert chain.probabilities(("the",)) == {"cat": pytest.approx(2 / 3), "dog": pytest.approx(1 / 3)}
    for context in chain.next:
        assert sum(chain.probabilities(context).values()) == pytest.approx(1.0)
    assert chain.probabilities(("unseen",)) == {}
    two = WordChain(tokens, 2)
    assert two.probabilities(("the", "cat")) == {"sat": 0.5, "ran": 0.5}
    generated = two.generate(["the", "cat"], 20, np.random.default_rng(0))
    assert len(generated) == 20 and set(generated) <= set(tokens)


def test_tokens_round_trip_and_verbatim_runs():
    assert tokenize("Let there be light: and there was.") == ["Let", "there", "be", "light", ":", "and", "there",
                                                               "was", "."]
    assert detokenize(tokenize("In the beginning, God said: go.")) == "In the beginning, God said: go."
    corpus = "a b c d e f"
    assert verbatim_runs("a b c x d e".split(), corpus) == [3, 2, 1, 0, 2, 1]
    share, longest = copied_share("a b c x d e".split(), corpus, 3)
    assert longest == 3 and share == pytest.approx(3 / 6)


def test_chains_refuse_bad_orders():
    with pytest.raises(ValueError, match="too short for order 5"):
        CharChain(np.arange(4), 4, 5)
    with pytest.raises(ValueError, match="at least 1"):
        WordChain(["a", "b"], 0)
    with pytest.raises(ValueError, match="too few for order 3"):
        WordChain(["a", "b"], 3)
    with pytest.raises(ValueError, match="64-bit"):
        CharChain(np.arange(300) % 200, 200, 9)
    with pytest.raises(ValueError, match="unknown smoothing"):
        CharChain(np.arange(10) % 3, 3, 1).probabilities(np.arange(3), 1, [1, 1], "laplace")


@pytest.mark.parametrize(("argv", "words"), [
    (["--text", "{short}", "--max-order", "8"], "too short for --max-order 8"),
    (["--text", "small", "--start", "Zebra"], "known words include: "),
    (["--text", "small", "--word-orders", "1", "100000"], "too few for --word-orders"),
    (["--text", "{latin1}"], "cannot read --text"),
])
def test_markov_text_bad_input_is_a_usage_error_and_writes_nothing(argv, words, tmp_path, monkeypatch, capsys):
    (tmp_path / "short.txt").write_text("abcdefghijklmno " * 2)
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 ".encode("latin-1") * 50)
    argv = [a.format(short=tmp_path / "short.txt", latin1=tmp_path / "latin1.txt") for a in argv]
    before = set(tmp_path.iterdir())
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as raised:
        markov_text.main([*argv, "--out", str(tmp_path / "out")])
    assert raised.value.code == 2
    error = capsys.readouterr().err
    assert words in error
    assert set(tmp_path.iterdir()) == before
    if "Zebra" in argv:
        assert "the" in error.split("known words include: ")[1]


def test_markov_text_runs_on_the_small_text(run_example, tmp_path):
    summary, stdout = run_example("markov_text", "--text", "small", "--max-order", "5", "--start", "We",
                                  "--sample-length", "50", "--rnn-summary", str(tmp_path / "none.json"),
                                  "--out", str(tmp_path), timeout=60)
    bits = [summary["held_out_bpc"][str(w)] for w in range(1, 6)]
    assert summary["val_bpc"] == min(bits) < summary["unigram_bpc"]
    assert bits[0] > bits[1]                              # order 2 beats order 1
    assert set(summary["word_samples"]) == {"1", "2", "3"}
    for sample in summary["word_samples"].values():
        assert sample.startswith("We")
    assert all(0.0 <= share <= 1.0 for share in summary["copied_share"].values())
    assert (tmp_path / "markov_text.png").stat().st_size > 10_000
    assert "held-out bpc" in stdout


def test_markov_text_puts_char_rnn_beside_its_table(run_example, tmp_path):
    import json  # noqa: PLC0415

    from examples.common import TEXTS  # noqa: PLC0415

    rnn = tmp_path / "rnn.json"
    rnn.write_text(json.dumps({"val_bpc": 1.234, "text": TEXTS["small"], "val_fraction": 0.1, "max_chars": 0}))
    summary, stdout = run_example("markov_text", "--text", "small", "--max-order", "2", "--start", "We",
                                  "--rnn-summary", str(rnn), "--out", str(tmp_path / "run"), timeout=60)
    assert summary["char_rnn_bpc"] == 1.234
    assert "1.234" in stdout
    summary, _ = run_example("markov_text", "--text", "small", "--max-order", "2", "--start", "We",
                             "--val-fraction", "0.2", "--rnn-summary", str(rnn), "--out", str(tmp_path / "b"))
    assert summary["char_rnn_bpc"] is None              # another split: not comparable
