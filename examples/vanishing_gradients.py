"""Vanishing gradients: ‖∂L_T/∂h_t‖ against t for a plain RNN and an LSTM.

A loss read at the last step T of a length-T sequence is back-propagated
through time, and the norm of its gradient with respect to every hidden state
h_t is measured (``h.retain_grad()``). Through a tanh RNN the gradient shrinks
by a roughly constant factor per step, so the early steps get almost nothing;
through the LSTM's cell state it is multiplied by the forget gate instead,
which stays near 1 when the forget-gate bias is large (Gers et al. 2000,
Jozefowicz et al. 2015). The curves go to a PNG (log scale) and the same
gradient flow is drawn on the unrolled graph with ``mg.viz`` (``show_grads``:
each time-step box shows ‖∂L/∂h_t‖).

The task is the adding problem (see examples/adding_problem.py); with
--epochs N > 0 every model is also trained on it and measured again.

    python -m examples.vanishing_gradients
    python -m examples.vanishing_gradients --length 200 --forget-biases 0 1 5 --epochs 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil

import numpy as np

import minigrad as mg
from examples import common
from examples.adding_problem import make_batch
from minigrad import nn

F = nn.functional
CELLS = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}


class Unrolled(nn.Module):
    """A recurrent cell stepped by hand (one ``t{t}`` name scope per step) and a linear read-out.

    forward(x (T, B, I)) → (prediction (B,), the hidden states h_t (B, H), each keeping its gradient).
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, forget_bias: float = 0.0) -> None:
        super().__init__()
        self.cell = CELLS[cell](input_size, hidden_size)
        self.head = nn.Linear(hidden_size, 1)
        if cell == "lstm" and forget_bias:   # gate order i, f, g, o: the f rows of the bias
            self.cell.bias_ih.data[hidden_size : 2 * hidden_size] += forget_bias

    def forward(self, x: mg.Tensor) -> tuple[mg.Tensor, list[mg.Tensor]]:
        state, hidden = None, []
        for t in range(x.shape[0]):
            with mg.name_scope(f"t{t}"):
                state = self.cell(x[t], state)
                h = state[0] if isinstance(state, tuple) else state
                mg.tag(h, "h")   # the visualiser reads ‖∂L/∂h_t‖ from this op
            if h.requires_grad:
                h.retain_grad()
            hidden.append(h)
        return self.head(hidden[-1]).squeeze(-1), hidden


def gradient_norms(model: Unrolled, x: np.ndarray, y: np.ndarray, device: str) -> list[float]:
    """‖∂L_T/∂h_t‖ for t = 0 … T-1 (Frobenius norm over the batch), L_T the MSE at the last step."""
    prediction, hidden = model(mg.tensor(x, device=device))
    loss = F.mse_loss(prediction, mg.tensor(y, device=device))
    model.zero_grad()
    loss.backward()
    model.zero_grad()
    # in float64: float32 squares of the faded gradients would underflow to 0
    return [float(np.sqrt((h.grad.numpy().astype(np.float64) ** 2).sum())) for h in hidden]


def train(model: Unrolled, args: argparse.Namespace, device: str, label: str) -> float:
    """Train on the adding problem of length --length; returns the seconds spent."""
    optimizer = nn.optim.Adam(model.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed)
    stopwatch = common.Stopwatch()
    for epoch in range(1, args.epochs + 1):
        bar = common.progress(range(args.steps_per_epoch), args, unit="batch",
                              desc=f"{label} epoch {epoch}/{args.epochs}")
        total = 0.0
        with stopwatch:
            for step, _ in enumerate(bar, start=1):
                x, y = make_batch(rng, args.length, args.batch_size)
                prediction, _ = model(mg.tensor(x, device=device))
                loss = F.mse_loss(prediction, mg.tensor(y, device=device))
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                total += common.check_loss(loss.item(), args, epoch, step, model=label)
                bar.set_postfix(mse=f"{total / step:.4f}", refresh=False)
        bar.close()
        common.log(f"{label:>16} epoch {epoch}/{args.epochs}  train MSE {total / args.steps_per_epoch:.4f}")
    return stopwatch.total


LAYERS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def draw_graph(model: Unrolled, cell: str, args: argparse.Namespace, device: str, label: str) -> str:
    """The unrolled graph of a --graph-steps sequence, one box per step, coloured by gradient norm.

    Drawn with the sequence layer (``nn.RNN`` / ``nn.LSTM``) holding the cell's weights: it is
    what a user's model looks like, and its steps tag h_t so each box shows ‖∂L/∂h_t‖.
    """
    layer = LAYERS[cell](model.cell.input_size, model.cell.hidden_size).to(device)
    layer.load_state_dict({f"{name}_l0": value for name, value in model.cell.state_dict().items()})
    x, y = make_batch(np.random.default_rng(1), args.graph_steps, 4)
    output, _ = layer(mg.tensor(x, device=device))
    loss = F.mse_loss(model.head(output[-1]).squeeze(-1), mg.tensor(y, device=device))
    loss.backward(retain_graph=True)
    model.zero_grad()
    fmt = "svg" if shutil.which("dot") else "dot"
    return mg.viz.render(loss, path=os.path.join(args.out, f"graph_{label}"), format=fmt, collapse="steps",
                         steps_shown=None, show_grads=True)   # every step: the fading is the point


def plot(curves: dict[str, list[float]], path: str, length: int) -> str:
    import matplotlib  # noqa: PLC0415 - plotting only

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for label, norms in curves.items():
        values = np.maximum(np.array(norms), 1e-300)   # log scale: keep exact zeros drawable
        ax.semilogy(range(len(norms)), values, label=label, linestyle="--" if "trained" in label else "-")
    ax.set_xlabel("time step t")
    ax.set_ylabel(r"$\|\partial L_T / \partial h_t\|$")
    ax.set_title(f"Gradient of a loss at step T = {length - 1} reaching each hidden state")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = common.parser("vanishing_gradients", __doc__, epochs=0)
    add = parser.add_argument
    add("--cells", nargs="+", choices=sorted(CELLS), default=["rnn", "lstm"])
    add("--forget-biases", nargs="+", type=common.finite_float, default=[0.0, 1.0, 3.0],
        help="LSTM forget-gate bias added at initialisation (one LSTM per value; lstm in --cells only)")
    add("--length", type=common.sequence_length, default=100, help="sequence length T")
    add("--hidden-size", type=common.positive_int, default=64)
    add("--batch-size", type=common.positive_int, default=32)
    add("--graph-steps", type=common.sequence_length, default=20,
        help="time steps in the drawn graph (not with --no-graph)")
    add("--steps-per-epoch", type=common.positive_int, default=50,
        help="adding-problem batches per epoch (with --epochs)")
    add("--lr", type=common.positive_float, default=3e-3, help="Adam learning rate (with --epochs)")
    add("--no-graph", action="store_true", help="skip drawing the graphs")
    return parser


def file_name(label: str) -> str:
    """A model's label as a file name: ``lstm b_f=1`` → ``lstm_b_f1``."""
    return label.replace(" ", "_").replace("=", "")


def main(argv: list[str] | None = None) -> dict:
    parser = build_parser()
    args, given = common.parse(parser, argv)
    args.cells, args.forget_biases = common.distinct(args.cells), common.distinct(args.forget_biases)
    common.reject(parser, given, "--forget-biases", "lstm" not in args.cells,
                  f"with --cells {' '.join(args.cells)}: they set the LSTM's forget gate (add lstm to --cells)")
    for option in ("--steps-per-epoch", "--lr"):
        common.reject(parser, given, option, args.epochs == 0,
                      "with --epochs 0 (the default: measure the untrained models): add --epochs N to train")
    common.reject(parser, given, "--graph-steps", args.no_graph, "with --no-graph")
    runs = {(f"lstm b_f={bias:g}" if cell == "lstm" else cell): (cell, bias)   # label → (cell, forget bias)
            for cell in args.cells for bias in (args.forget_biases if cell == "lstm" else [0.0])}
    device = common.setup(args, files=["gradient_norms.png", "gradient_norms.json",
                                       *[f"{file_name(label)}.npz" for label in runs]])
    x, y = make_batch(np.random.default_rng(args.seed), args.length, args.batch_size)
    models: dict[str, tuple[str, Unrolled]] = {}
    for label, (cell, bias) in runs.items():
        mg.manual_seed(args.seed)
        models[label] = cell, Unrolled(cell, 2, args.hidden_size, bias).to(device)

    curves: dict[str, list[float]] = {}
    graphs: dict[str, str] = {}
    seconds = 0.0
    for label, (cell, model) in models.items():
        curves[label] = gradient_norms(model, x, y, device)
        if args.epochs > 0:
            seconds += train(model, args, device, label)
            curves[f"{label} (trained)"] = gradient_norms(model, x, y, device)
        if not args.no_graph:
            graphs[label] = draw_graph(model, cell, args, device, file_name(label))
        common.save_checkpoint(model, args.out, file_name(label))

    common.log(f"‖∂L_T/∂h_t‖ at a few steps t (T = {args.length - 1}):")
    marks = sorted({0, args.length // 4, args.length // 2, 3 * args.length // 4, args.length - 1})
    common.log(f"{'':>24}  " + "".join(f"t={t:<9}" for t in marks))
    for label, norms in curves.items():
        common.log(f"{label:>24}  " + "".join(f"{norms[t]:<11.2e}" for t in marks))
    png = plot(curves, os.path.join(args.out, "gradient_norms.png"), args.length)
    with open(os.path.join(args.out, "gradient_norms.json"), "w") as f:
        json.dump(curves, f)
    common.log(f"plot: {png} (values: gradient_norms.json)")
    for label, path in graphs.items():
        common.log(f"graph with gradient overlay ({label}): {path}")
    ratios = {label: norms[0] / norms[-1] if norms[-1] else 0.0 for label, norms in curves.items()}
    return common.finish(
        args, example="vanishing_gradients", device=device, epochs=args.epochs, train_seconds=seconds,
        seconds_per_epoch=seconds / max(args.epochs * len(models), 1), length=args.length,
        first_to_last_ratio=ratios, plot=png, graphs=graphs,
        grad_norm_at={label: {str(t): norms[t] for t in marks} for label, norms in curves.items()},
    )


if __name__ == "__main__":
    common.run(main)
