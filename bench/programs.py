"""Real PyTorch programs, one training step each, run on minigrad and on PyTorch in the same process.

    python -m bench.programs [--steps 10] [--repeats 3] [--threads 1]

Each program's source is run twice, once below PyTorch's import lines and once below
minigrad's (``import minigrad as torch`` …), exactly as ``tests/test_pytorch_programs.py``
runs them, but at the sizes the originals train at:

* ``word LM``: pytorch/examples ``word_language_model`` (2-layer LSTM, 200 units,
  embedding 200, bptt 35, batch 20, dropout 0.2, a 10,000-word vocabulary, gradient
  clipping, manual SGD) — the program text of the test;
* ``attention s2s``: the PyTorch seq2seq translation tutorial with Bahdanau attention
  (GRU encoder and decoder, hidden 128, batch 32, sentences of 10 tokens, vocabularies of
  4,000 and 3,000 words, two Adam optimizers) — the program text of the test;
* ``addition s2s``: the addition task of ``examples/seq2seq.py`` in the book's form
  ("Deep Learning from Scratch 2", ch. 7: reversed source, peeky LSTM decoder, vocabulary
  13, embedding 16, hidden 128, batch 128, Adam), written below in PyTorch's spelling.

Both peers start from the same weights (PyTorch's initialisation, copied) and read the
same batches. A number is the median over ``--repeats`` rounds of the mean time of
``--steps`` training steps (the program's own ``train`` loop), peers interleaved, BLAS and
PyTorch limited to ``--threads`` threads.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from typing import Any, Callable

import numpy as np
from threadpoolctl import threadpool_limits

from tests.test_pytorch_programs import MINIGRAD_IMPORTS, SEQ2SEQ_ATTENTION, TORCH_IMPORTS, WORD_LANGUAGE_MODEL

ADDITION_SEQ2SEQ = '''
class PeekySeq2seq(nn.Module):
    """Encoder LSTM reads the reversed question; its final h is fed to every decoder step ("peeky")."""

    def __init__(self, vocab_size, wordvec_size, hidden_size):
        super().__init__()
        self.embed_enc = nn.Embedding(vocab_size, wordvec_size)
        self.encoder = nn.LSTM(wordvec_size, hidden_size, batch_first=True)
        self.embed_dec = nn.Embedding(vocab_size, wordvec_size)
        self.decoder = nn.LSTM(wordvec_size + hidden_size, hidden_size, batch_first=True)
        self.affine = nn.Linear(hidden_size + hidden_size, vocab_size)

    def forward(self, source, target_in):
        _, (h, c) = self.encoder(self.embed_enc(source))
        context = h[-1].unsqueeze(1).expand(-1, target_in.size(1), -1)   # (B, T_out, H)
        decoded, _ = self.decoder(torch.cat((self.embed_dec(target_in), context), dim=2), (h, c))
        return self.affine(torch.cat((decoded, context), dim=2))           # (B, T_out, V)


def make_model(vocab_size=13, wordvec_size=16, hidden_size=128):
    return PeekySeq2seq(vocab_size, wordvec_size, hidden_size)


def train(model, pairs, steps, batch_size=128, lr=1e-3):
    questions, answers = pairs
    optimizer = optim.Adam(model.parameters(), lr=lr)
    criterion = nn.CrossEntropyLoss()
    losses = []
    for step in range(steps):
        start = (step * batch_size) % (len(questions) - batch_size + 1)
        source = torch.from_numpy(questions[start:start + batch_size, ::-1].copy())   # reversed source
        answer = torch.from_numpy(answers[start:start + batch_size])
        target_in, target_out = answer[:, :-1], answer[:, 1:]
        optimizer.zero_grad()
        logits = model(source, target_in)
        loss = criterion(logits.reshape(-1, logits.size(-1)), target_out.reshape(-1))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
'''


def _program(source: str, imports: str) -> dict:
    namespace: dict = {"__name__": "program"}
    exec(compile(imports + source, "program", "exec"), namespace)   # noqa: S102 - our own program text
    return namespace


def _twins(source: str, make: Callable[[dict], Any]) -> tuple[dict, Any, dict, Any]:
    """The program under both import lines, and one model each with the torch model's initial weights."""
    torch_program, mg_program = _program(source, TORCH_IMPORTS), _program(source, MINIGRAD_IMPORTS)
    torch_program["torch"].manual_seed(0)
    torch_model = make(torch_program)
    mg_model = make(mg_program)
    mg_model.load_state_dict({k: v.detach().numpy().copy() for k, v in torch_model.state_dict().items()})
    return torch_program, torch_model, mg_program, mg_model


def word_lm(steps: int) -> dict[str, Callable[[], Any]]:
    ntokens, bptt, batch = 10_000, 35, 20
    corpus = np.random.default_rng(0).integers(0, ntokens, size=bptt * batch * (steps + 1) + 1)
    torch_program, torch_model, mg_program, mg_model = _twins(
        WORD_LANGUAGE_MODEL, lambda p: p["RNNModel"]("LSTM", ntokens, 200, 200, 2, dropout=0.2))
    return {"torch": lambda: torch_program["train"](torch_model, corpus, ntokens, steps, bptt=bptt, batch_size=batch),
            "minigrad": lambda: mg_program["train"](mg_model, corpus, ntokens, steps, bptt=bptt, batch_size=batch)}


def attention_seq2seq(steps: int) -> dict[str, Callable[[], Any]]:
    rng = np.random.default_rng(0)
    batch, length = 32, 10
    pairs = (rng.integers(2, 4000, size=(batch * steps, length)), rng.integers(2, 3000, size=(batch * steps, length)))
    source = SEQ2SEQ_ATTENTION.replace("MAX_LENGTH = 6", f"MAX_LENGTH = {length}")
    torch_program, torch_model, mg_program, mg_model = _twins(source, lambda p: p["make_model"](4000, 3000, 128))
    return {"torch": lambda: torch_program["train"](torch_model, pairs, steps, batch_size=batch),
            "minigrad": lambda: mg_program["train"](mg_model, pairs, steps, batch_size=batch)}


def addition_seq2seq(steps: int) -> dict[str, Callable[[], Any]]:
    rng = np.random.default_rng(0)
    batch = 128
    pairs = (rng.integers(0, 13, size=(batch * steps, 7)), rng.integers(0, 13, size=(batch * steps, 6)))
    torch_program, torch_model, mg_program, mg_model = _twins(ADDITION_SEQ2SEQ, lambda p: p["make_model"]())
    return {"torch": lambda: torch_program["train"](torch_model, pairs, steps),
            "minigrad": lambda: mg_program["train"](mg_model, pairs, steps)}


PROGRAMS = {"word LM": word_lm, "attention s2s": attention_seq2seq, "addition s2s": addition_seq2seq}


def run(steps: int, repeats: int, threads: int) -> None:
    import torch  # noqa: PLC0415 - the peer; this benchmark needs it

    torch.set_num_threads(threads)
    print(f"# one training step of each program, float32, CPU, {threads} thread(s); median of {repeats} rounds "
          f"of {steps} steps (ms per step)")
    print(f"# {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"NumPy {np.__version__}, PyTorch {torch.__version__}")
    print(f"{'program':>14} | {'minigrad':>9} | {'torch':>9} | {'mg/torch':>9}")
    for name, build in PROGRAMS.items():
        peers = build(steps)
        first = {peer: run_steps() for peer, run_steps in peers.items()}   # warm-up, and the losses to compare
        samples: dict[str, list[float]] = {peer: [] for peer in peers}
        for _ in range(repeats):
            for peer, run_steps in peers.items():
                start = time.perf_counter()
                run_steps()
                samples[peer].append((time.perf_counter() - start) * 1e3 / steps)
        ms = {peer: statistics.median(v) for peer, v in samples.items()}
        difference = abs(first["minigrad"][0] - first["torch"][0])
        print(f"{name:>14} | {ms['minigrad']:>9.1f} | {ms['torch']:>9.1f} | {ms['minigrad'] / ms['torch']:>9.2f}"
              f"   (first losses {first['minigrad'][0]:.4f} / {first['torch'][0]:.4f}, difference {difference:.1e})",
              flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10, help="training steps per round")
    parser.add_argument("--repeats", type=int, default=3, help="rounds per peer (the median is reported)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS and PyTorch threads")
    args = parser.parse_args(argv)
    with threadpool_limits(limits=args.threads):
        run(args.steps, args.repeats, args.threads)


if __name__ == "__main__":
    main()
