# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Seeing back-propagation through time with minigrad
#
# A recurrent network applies the same cell at every time step. Back-propagation
# through time (BPTT) is ordinary back-propagation on the *unrolled* graph: one copy
# of the cell per step, all sharing the same weights. minigrad records that graph op
# by op, and `mg.viz` draws it.
#
# In this notebook (about ten seconds on a laptop CPU) we
#
# 1. draw one LSTM step op by op,
# 2. train a tiny RNN and a tiny LSTM on a task that needs a long memory,
# 3. draw both unrolled graphs with the gradient norm on every edge, and
# 4. plot ‖∂L/∂h_t‖ against t: the RNN's gradient vanishes, the LSTM's does not.
#
# This file is built from `docs/tutorial.py` (jupytext); run it with
# `pytest --nbmake docs/tutorial.ipynb` or open it in Jupyter. The drawings need
# Graphviz's `dot` binary (`apt-get install graphviz`); without it they show as DOT text.

# %%
import numpy as np

import minigrad as mg
from minigrad import nn

mg.manual_seed(0)

# %% [markdown]
# ## 1. One LSTM, three steps, every op
#
# `nn.LSTM` runs its cell once per time step inside a name scope `t0`, `t1`, … so
# the drawing shows one cluster per step. Inside a step: the gate pre-activations
# (`matmul`, `add`), the gates (`sigmoid`, `tanh`), the new cell state `c` and the
# hidden state `h` (the op tagged `[h]`). The weights are shared by every step;
# each use is drawn as a small dashed copy so that no edge crosses the picture.

# %%
lstm = nn.LSTM(input_size=2, hidden_size=3)
output, (h_n, c_n) = lstm(mg.randn(3, 1, 2))   # x: (T=3, B=1, I=2)
mg.viz.draw(output[-1].sum())

# %% [markdown]
# ## 2. A task that needs a long memory
#
# Each sequence is 20 steps of noise, one number per step. The target is the sign
# of the **first** number, read at the **last** step: the network must carry one
# bit across 19 steps. We write the unrolled loop ourselves with `nn.RNNCell` and
# `nn.LSTMCell`, opening a name scope per step exactly as `nn.RNN` and `nn.LSTM` do.

# %%
STEPS, BATCH, HIDDEN = 20, 32, 16
rng = np.random.default_rng(0)


def memory_batch():
    """x: (T, B, 1) standard normal; target: (B,) 0.5 · sign(x_0)."""
    x = rng.standard_normal((STEPS, BATCH, 1)).astype(np.float32)
    return mg.tensor(x), mg.tensor(0.5 * np.sign(x[0, :, 0]))


def unroll(cell, x):
    """Run ``cell`` over x: (T, B, I); returns the hidden state h_t of every step, each (B, H)."""
    hidden, state = [], None
    with mg.name_scope(type(cell).__name__.lower()):
        for t in range(x.shape[0]):
            with mg.name_scope(f"t{t}"):
                state = cell(x[t], state)
            hidden.append(state[0] if isinstance(state, tuple) else state)
    return hidden


def memory_loss(cell, x, target):
    """Mean squared error of hidden unit 0 at the last step; also returns every h_t."""
    hidden = unroll(cell, x)
    return ((hidden[-1][:, 0] - target) ** 2).mean(), hidden


def train(cell, steps=500):
    optimizer = nn.optim.Adam(cell.parameters(), lr=1e-2)
    for _ in range(steps):
        loss, _ = memory_loss(cell, *memory_batch())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss.item()


rnn = nn.RNNCell(1, HIDDEN)
lstm = nn.LSTMCell(1, HIDDEN)
with mg.no_grad():   # forget gate open at the start (gate rows i, f, g, o): b_if + b_hf = 2
    lstm.bias_ih[HIDDEN:2 * HIDDEN] = 1.0
    lstm.bias_hh[HIDDEN:2 * HIDDEN] = 1.0
print(f"RNN  loss after training: {train(rnn):.3f}   (always answering 0 gives 0.25)")
print(f"LSTM loss after training: {train(lstm):.3f}")

# %% [markdown]
# ## 3. The unrolled graphs with their gradients
#
# `show_grads=True` colours and labels every edge by the norm of the gradient that
# flowed along it (a log colour scale, legend at the top), and each time step with
# ‖∂L/∂h_t‖. The drawing runs the backward pass itself on the recorded graph; it does
# not change any `.grad`. `collapse="steps"` draws each step as one box;
# `steps_shown=None` keeps every step (by default a layer of over 100 steps keeps its first and
# last two steps and draws the rest as one node), and `wrap=5` lays the steps out in
# rows of five, read like lines of text.

# %%
x, target = memory_batch()
rnn_loss, rnn_hidden = memory_loss(rnn, x, target)
lstm_loss, lstm_hidden = memory_loss(lstm, x, target)
for h in rnn_hidden + lstm_hidden:
    h.retain_grad()   # keep ∂L/∂h_t on these intermediate tensors for section 4

mg.viz.draw(rnn_loss, collapse="steps", steps_shown=None, wrap=5, show_grads=True, show_shapes=False)

# %%
mg.viz.draw(lstm_loss, collapse="steps", steps_shown=None, wrap=5, show_grads=True, show_shapes=False)

# %% [markdown]
# ## 4. The vanishing gradient, in numbers
#
# Now run the real backward pass and read ‖∂L/∂h_t‖ from each step's hidden state.
# In the tanh RNN every step multiplies the gradient by the recurrent Jacobian, and
# it shrinks geometrically towards t = 0: the first input, the only one that
# matters, gets almost no gradient, so the RNN learns little (its loss stays near
# 0.25, the loss of always answering 0). The LSTM's cell state is updated
# additively (c_t = f ⊙ c_{t-1} + i ⊙ g): with the forget gate open the gradient
# reaches t = 0 undiminished, and the LSTM learns the task.

# %%
rnn_loss.backward()
lstm_loss.backward()
rnn_norms = [float(np.linalg.norm(h.grad.numpy())) for h in rnn_hidden]
lstm_norms = [float(np.linalg.norm(h.grad.numpy())) for h in lstm_hidden]
print(" t   ‖∂L/∂h_t‖ RNN   ‖∂L/∂h_t‖ LSTM")
for t in (0, 5, 10, 15, 19):
    print(f"{t:>2}   {rnn_norms[t]:>12.2e}   {lstm_norms[t]:>13.2e}")
print(f"‖∂L/∂h_0‖ / ‖∂L/∂h_19‖: RNN {rnn_norms[0] / rnn_norms[-1]:.1e}, LSTM {lstm_norms[0] / lstm_norms[-1]:.1e}")

# %%
try:
    import matplotlib.pyplot as plt
except ImportError:   # the numbers above tell the same story
    plt = None
if plt is not None:
    figure, axes = plt.subplots(figsize=(6, 3.5))
    axes.semilogy(range(STEPS), rnn_norms, "o-", label="tanh RNN")
    axes.semilogy(range(STEPS), lstm_norms, "s-", label="LSTM")
    axes.set_xlabel("time step t")
    axes.set_ylabel("‖∂L/∂h_t‖ (log scale)")
    axes.set_title("Gradient of the last step's loss w.r.t. each hidden state")
    axes.legend()
    figure.tight_layout()
    plt.show()

# %% [markdown]
# ## Where to go next
#
# * `python -m minigrad.viz --help` draws the built-in models from the command line
#   (`--model seq2seq --steps 1000 --collapse steps --grads`).
# * `python -m examples.vanishing_gradients` repeats section 4 over 100 steps with
#   several forget-gate biases.
# * `mg.viz.draw(loss, collapse=1)` folds whole layers; `collapse="encoder"` folds one
#   part of a model by its name scope.
