"""Smoke tests of examples/seq2seq.py: tiny budgets, every option path, the files it writes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from examples.seq2seq import make_batch
from examples.seq2seq_model import Decoder, Memory, PeekyDecoder, Seq2Seq
from examples.seq2seq_tasks import EOS_ID, Vocab, addition_pairs, dates_pairs, encode_pairs, load_task, reverse_pairs

ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_the_options():
    result = subprocess.run([sys.executable, "-m", "examples.seq2seq", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    for option in ("--task", "--reverse-source", "--peeky", "--attention", "--bidirectional", "--device",
                   "--teacher-forcing", "--beam-width", "--clip"):
        assert option in result.stdout


def test_tasks_are_fixed_distinct_and_correct():
    pairs = addition_pairs(n=300, seed=7)
    assert pairs == addition_pairs(n=300, seed=7)
    assert len({s for s, _ in pairs}) == 300
    for source, target in pairs:
        a, b = source.split("+")
        assert int(a) + int(b) == int(target) and len(a) <= 3 and len(b) <= 3
    for _source, target in dates_pairs(n=200, seed=3):
        assert len(target) == 10 and target[4] == "-" and target[7] == "-"
        assert 1950 <= int(target[:4]) <= 2049
    for source, target in reverse_pairs(n=100, seed=3):
        assert target == source[::-1]


def test_held_out_pairs_are_unseen_and_sources_reverse():
    data = load_task("addition", n=500, val_fraction=0.1, seed=5, reverse_source=True)
    assert len(data.train) == 450 and len(data.val) == 50
    assert not {s for s, _ in data.train.text} & {s for s, _ in data.val.text}
    source, target = data.val.text[0]
    row = data.val.source[0, : data.val.source_lengths[0]]
    assert data.source_vocab.decode(row) == source[::-1]
    assert data.target_vocab.decode(data.val.target[0]) == target
    assert EOS_ID in data.val.target[0]


def test_batches_pack_or_pad_the_source():
    data = load_task("addition", n=100, seed=5, reverse_source=True)
    index = np.arange(8)
    lengths = data.val.source_lengths[index]
    packed = make_batch(data.val, index, "cpu", "packed")
    assert packed.source.shape == (lengths.max(), 8)
    assert packed.lengths is None or list(packed.lengths) == lengths.tolist()
    before = make_batch(data.val, index, "cpu", "before").source.numpy()
    after = make_batch(data.val, index, "cpu", "after").source.numpy()
    width = data.val.source.shape[1]
    for column, length in enumerate(lengths):
        assert (before[: width - length, column] == 0).all() and (before[width - length :, column] != 0).all()
        assert np.array_equal(before[width - length :, column], after[:length, column])
    # decoder inputs are the targets shifted right behind <go>
    assert np.array_equal(packed.inputs.numpy()[1:], packed.targets.numpy()[:-1])


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_peeky_decoder_is_the_concatenated_model(cell):
    """PeekyDecoder's split products give the logits and gradients of the textbook form, which
    concatenates the context to every step's input and output (Decoder), and the same per-step decoding."""
    mg.manual_seed(3)
    args = (11, 6, 16, 1, cell, 0.0, True)
    fast, reference = PeekyDecoder(*args), Decoder(*args)
    reference.load_state_dict(fast.state_dict())
    rng = np.random.default_rng(0)
    inputs = mg.tensor(rng.integers(0, 11, size=(5, 4)))
    context = mg.tensor(rng.standard_normal((4, 16)).astype(np.float32))
    h0 = mg.tensor(rng.standard_normal((1, 4, 16)).astype(np.float32))
    state = (h0, mg.tensor(rng.standard_normal((1, 4, 16)).astype(np.float32))) if cell == "lstm" else h0
    outputs = []
    for decoder in (fast, reference):
        logits = decoder(inputs, state, Memory(context=context))
        (logits * logits).sum().backward()
        outputs.append((logits.numpy(), {n: p.grad.numpy() for n, p in decoder.named_parameters()}))
    (fast_logits, fast_grads), (ref_logits, ref_grads) = outputs
    np.testing.assert_allclose(fast_logits, ref_logits, rtol=1e-5, atol=1e-6)
    assert fast_grads.keys() == ref_grads.keys()
    for name in ref_grads:
        np.testing.assert_allclose(fast_grads[name], ref_grads[name], rtol=1e-4, atol=1e-5, err_msg=name)
    with mg.no_grad():   # one decoding step: logits, and the new state in the layer's (1, B, H) form
        fast_step = fast.step(inputs[0], state, Memory(context=context))
        ref_step = reference.step(inputs[0], state, Memory(context=context))
    np.testing.assert_allclose(fast_step[0].numpy(), ref_step[0].numpy(), rtol=1e-5, atol=1e-6)
    fast_state = fast_step[1] if cell == "lstm" else (fast_step[1],)
    ref_state = ref_step[1] if cell == "lstm" else (ref_step[1],)
    for a, b in zip(fast_state, ref_state):
        assert a.shape == b.shape == (1, 4, 16)
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_peeky_model_uses_the_split_decoder_for_one_layer_only():
    assert type(Seq2Seq(12, 13, peeky=True).decoder) is PeekyDecoder
    assert type(Seq2Seq(12, 13, peeky=True, num_layers=2).decoder) is Decoder
    assert type(Seq2Seq(12, 13, peeky=False).decoder) is Decoder


def test_encode_pairs_pads_and_ends_with_eos():
    vocab = Vocab("abc")
    encoded = encode_pairs([("ab", "c"), ("abca", "cab")], vocab, vocab)
    assert encoded.source.shape == (2, 4) and encoded.target.shape == (2, 4)
    assert encoded.source_lengths.tolist() == [2, 4]
    assert encoded.target[0].tolist() == [vocab.index["c"], EOS_ID, 0, 0]
    with pytest.raises(ValueError, match="'z'"):
        vocab.encode("z")


def test_addition_peeky_runs_and_writes_checkpoint_and_graph(run_example, tmp_path):
    summary, stdout = run_example(
        "seq2seq", "--task", "addition", "--pairs", "600", "--epochs", "2", "--batch-size", "64",
        "--hidden-size", "32", "--embedding-size", "8", "--out", str(tmp_path))
    assert summary["epochs"] == 2 and summary["task"] == "addition"
    assert 0.0 <= summary["val_accuracy"] <= 1.0
    assert len(summary["accuracy_per_epoch"]) == 2
    assert "held-out exact match" in stdout
    assert (tmp_path / "seq2seq.npz").exists()
    config = json.loads((tmp_path / "seq2seq.json").read_text())
    assert config["peeky"] and config["reverse_source"]
    assert summary["graph"] and Path(summary["graph"]).exists() and Path(summary["graph"]).parent == tmp_path
    with np.load(tmp_path / "seq2seq.npz", allow_pickle=False) as saved:
        assert any("encoder" in key for key in saved.files)


def test_compiled_training_is_eager_training(run_example, tmp_path):
    """--compile (the default) replays the recorded forward pass: the weights trained equal eager mode's bit for bit."""
    weights = []
    for flag in ("--compile", "--no-compile"):
        out = tmp_path / flag.strip("-")
        summary, _ = run_example(
            "seq2seq", "--pairs", "600", "--epochs", "2", "--batch-size", "64", "--hidden-size", "16",
            "--embedding-size", "8", "--no-graph", flag, "--out", str(out))
        with np.load(out / "seq2seq.npz", allow_pickle=False) as saved:
            weights.append({key: saved[key] for key in saved.files})
    compiled, eager = weights
    assert compiled.keys() == eager.keys() and len(eager) > 10
    for key in eager:
        assert np.array_equal(compiled[key], eager[key]), key


def test_attention_gru_bidirectional_beam_and_scheduled_sampling(run_example, tmp_path):
    summary, _ = run_example(
        "seq2seq", "--task", "dates", "--pairs", "200", "--epochs", "1", "--batch-size", "64",
        "--hidden-size", "16", "--embedding-size", "8", "--attention-size", "8", "--attention", "--bidirectional",
        "--cell", "gru", "--no-graph",
        "--teacher-forcing", "0.5", "--beam-width", "3", "--num-layers", "2", "--out", str(tmp_path))
    assert summary["attention"] and summary["cell"] == "gru"
    assert (tmp_path / "attention.png").exists()
    assert (tmp_path / "seq2seq.npz").exists()


def test_peeky_beam_search_and_scheduled_sampling(run_example, tmp_path):
    summary, _ = run_example(
        "seq2seq", "--task", "addition", "--pairs", "300", "--epochs", "1", "--hidden-size", "16",
        "--embedding-size", "8", "--teacher-forcing", "0.5", "--beam-width", "3", "--no-graph", "--out", str(tmp_path))
    assert summary["peeky"] is True and 0.0 <= summary["val_accuracy"] <= 1.0


def test_reverse_task_plain_lstm_reading_padding(run_example, tmp_path):
    summary, _ = run_example(
        "seq2seq", "--task", "reverse", "--pairs", "300", "--epochs", "1", "--hidden-size", "16",
        "--no-peeky", "--no-packed", "--lr-schedule", "constant", "--init", "scaled-normal", "--no-graph",
        "--out", str(tmp_path))
    assert summary["peeky"] is False and summary["reverse_source"] is True and summary["packed"] is False
    assert summary["init"] == "scaled-normal"
    assert summary["graph"] is None


def test_cuda_without_a_gpu_says_how_to_get_one(tmp_path):
    import minigrad as mg

    if mg.cuda.is_available():
        pytest.skip("a GPU is present: --device cuda is expected to work here")
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "examples.seq2seq", "--device", "cuda", "--out", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2   # a usage error, before anything is written
    assert "CuPy" in result.stderr and "argument --device: 'cuda' asks for a GPU" in result.stderr
    assert not out.exists()
