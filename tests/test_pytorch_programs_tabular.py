"""Four PyTorch programs for tabular data and recommendation, run on torch and on minigrad: only the imports differ.

Each program is our own rewrite of a well-known public PyTorch program: it keeps the original's PyTorch calls
and habits in the same roles, with our own names, structure and comments, a small model, a few steps and
generated data (the helpers and the rule come from tests/test_pytorch_programs.py):

* ``DLRM`` follows facebookresearch/dlrm (https://github.com/facebookresearch/dlrm, ``dlrm_s_pytorch.py``),
  cut small: a bottom MLP over the dense features, one ``nn.EmbeddingBag(mode="sum")`` per sparse feature read
  with 1-D indices, ``offsets`` (an empty bag included) and ``per_sample_weights``, the pairwise dot
  interactions as ``torch.bmm`` of the stacked feature vectors with their transpose, the strict lower triangle
  picked with ``torch.tril_indices(n, n, offset=-1)``, a top MLP, ``BCEWithLogitsLoss`` and plain SGD; the
  losses and every weight (the embedding tables included) are compared;
* ``FT_TRANSFORMER`` follows the FT-Transformer of yandex-research/rtdl (https://github.com/yandex-research/rtdl):
  a feature tokenizer (one weight and bias per numeric feature, an ``nn.Embedding`` over all categories with
  per-feature ``category_offsets``), a learned ``[CLS]`` token joined with ``torch.cat`` after ``expand``, a
  pre-norm ``nn.TransformerEncoder(batch_first=True, norm_first=True, dropout=0)``, a head on the CLS output,
  and ``AdamW`` with two parameter groups, the second (biases, norms, the tokenizer) without weight decay;
* ``TABNET`` follows dreamquark-ai/tabnet (https://github.com/dreamquark-ai/tabnet), cut to a few steps:
  sparsemax written by hand (sort descending, ``cumsum``, ``torch.arange``, the support size counted from a
  comparison, threshold tau from ``gather``, ``clamp(min=0)``), attentive transformers whose logits are scaled
  by the prior, ``prior = (gamma - M) * prior``, gated feature transformers, ghost batch normalisation (a batch
  ``chunk``'d into virtual batches, one ``BatchNorm1d`` over each) and the entropy sparsity loss, Adam;
* ``LR_FINDER`` follows the learning-rate range test of davidtvs/pytorch-lr-finder
  (https://github.com/davidtvs/pytorch-lr-finder) and fastai's ``lr_find``: the model's and the optimizer's
  ``state_dict()`` saved with ``copy.deepcopy``, an exponential sweep (``LambdaLR``, ``ExponentialLR`` or, as
  there, a subclass of ``_LRScheduler`` whose ``get_lr`` reads ``base_lrs`` and ``last_epoch``),
  bias-corrected exponential smoothing of the loss, a stop when it diverges, and ``load_state_dict`` of both
  afterwards: training then goes on exactly as if no sweep had been run, in each engine.

No program draws random numbers once its models are built (the weights are copied torch -> minigrad), so every
number of the two runs is compared. What the programs found, each with its regression test at the end:
``torch.optim.lr_scheduler._LRScheduler`` (the old name that range-test schedulers subclass) was missing, and an
optimizer's ``load_state_dict`` kept the ``initial_lr`` of a scheduler built after the save (PyTorch takes the saved
group whole), so a schedule built after the range test's restore started from the sweep's first lr. Where PyTorch's
CPU ``embedding_bag`` is inconsistent (a last offset short of the input with ``include_last_offset``), ours keeps its
documented rule (tests/test_pytorch_programs_text.py).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import MINIGRAD_IMPORTS, TORCH_IMPORTS, _assert_same_weights, _program, _twin_models

TORCH_IMPORTS_TABULAR = TORCH_IMPORTS + """\
import copy
from torch.optim.lr_scheduler import ExponentialLR, LambdaLR, _LRScheduler
"""

MINIGRAD_IMPORTS_TABULAR = MINIGRAD_IMPORTS + """\
import copy
from minigrad.optim.lr_scheduler import ExponentialLR, LambdaLR, _LRScheduler
"""


DLRM = '''
class DotInteractionNet(nn.Module):
    """Click probability logits (B,) from dense features (B, F) and one bag of ids per sparse feature.

    The bottom MLP maps the dense features to one D-vector; each table gives one D-vector per sample (the sum
    of its bag's rows, weighted where weights are given); the dots of every pair of these vectors, beside the
    bottom output, are the top MLP's input.
    """

    def __init__(self, dense_features, table_sizes, embed_dim, bottom=(8,), top=(8,)):
        super(DotInteractionNet, self).__init__()
        self.bot_l = self.create_mlp([dense_features, *bottom, embed_dim], last_relu=True)
        self.emb_l = self.create_emb(embed_dim, table_sizes)
        fields = 1 + len(table_sizes)
        rows, cols = torch.tril_indices(fields, fields, offset=-1)   # each unordered pair once, no self-dots
        self.rows, self.cols = rows, cols
        self.top_l = self.create_mlp([embed_dim + rows.numel(), *top, 1], last_relu=False)

    def create_mlp(self, sizes, last_relu):
        layers = nn.ModuleList()
        for i in range(len(sizes) - 1):
            n, m = sizes[i], sizes[i + 1]
            layer = nn.Linear(n, m, bias=True)
            with torch.no_grad():
                layer.weight.normal_(0.0, math.sqrt(2 / (m + n)))
                layer.bias.normal_(0.0, math.sqrt(1 / m))
            layers.append(layer)
            if i < len(sizes) - 2 or last_relu:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers)

    def create_emb(self, embed_dim, table_sizes):
        tables = nn.ModuleList()
        for n in table_sizes:
            table = nn.EmbeddingBag(n, embed_dim, mode="sum", sparse=False)
            bound = math.sqrt(1 / n)
            nn.init.uniform_(table.weight, -bound, bound)
            tables.append(table)
        return tables

    def apply_emb(self, indices, offsets, weights):
        return [table(idx, off, per_sample_weights=w)
                for table, idx, off, w in zip(self.emb_l, indices, offsets, weights)]

    def interact_features(self, x, ly):
        batch_size, d = x.shape
        stacked = torch.cat([x] + ly, dim=1).view((batch_size, -1, d))   # (B, fields, D)
        dots = torch.bmm(stacked, torch.transpose(stacked, 1, 2))         # (B, fields, fields)
        pairs = dots[:, self.rows, self.cols]                             # (B, pairs)
        return torch.cat([x, pairs], dim=1)

    def forward(self, dense, indices, offsets, weights):
        x = self.bot_l(dense)
        ly = self.apply_emb(indices, offsets, weights)
        return self.top_l(self.interact_features(x, ly)).squeeze(1)


def make_model(dense_features, table_sizes, embed_dim=4):
    return DotInteractionNet(dense_features, table_sizes, embed_dim)


def as_tensors(batch):
    dense, labels, bags = batch
    indices = [torch.from_numpy(ids) for ids, _, _ in bags]
    offsets = [torch.from_numpy(starts) for _, starts, _ in bags]
    weights = [None if w is None else torch.from_numpy(w) for _, _, w in bags]
    return torch.from_numpy(dense), torch.from_numpy(labels), indices, offsets, weights


def train(model, batches, epochs, lr=0.2):
    loss_fn = torch.nn.BCEWithLogitsLoss(reduction="mean")
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    history, accuracies = [], []
    for epoch in range(epochs):
        model.train()
        for batch in batches:
            dense, labels, indices, offsets, weights = as_tensors(batch)
            logits = model(dense, indices, offsets, weights)
            loss = loss_fn(logits, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history.append(loss.item())
        model.eval()
        correct = total = 0
        with torch.no_grad():
            for batch in batches:
                dense, labels, indices, offsets, weights = as_tensors(batch)
                clicked = torch.sigmoid(model(dense, indices, offsets, weights)).round()
                correct += (clicked == labels).sum().item()
                total += labels.shape[0]
        accuracies.append(correct / total)
    return history, accuracies
'''


FT_TRANSFORMER = '''
class FeatureTokenizer(nn.Module):
    """Numeric values (B, N) and category ids (B, C) to one token (B, N + C, D) per feature.

    A numeric feature's token is weight_j * x_j + bias_j; a categorical one's is its row of one shared
    embedding (each feature's ids shifted by the categories before it) plus bias_j.
    """

    def __init__(self, n_num_features, cardinalities, d_token):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_num_features, d_token))
        self.bias = nn.Parameter(torch.empty(n_num_features + len(cardinalities), d_token))
        category_offsets = torch.tensor([0] + cardinalities[:-1]).cumsum(0)
        self.register_buffer("category_offsets", category_offsets, persistent=False)
        self.category_embeddings = nn.Embedding(sum(cardinalities), d_token)
        for parameter in (self.weight, self.bias, self.category_embeddings.weight):
            nn.init.kaiming_uniform_(parameter, a=math.sqrt(5))

    def forward(self, x_num, x_cat):
        tokens = self.weight[None] * x_num[:, :, None]
        tokens = torch.cat([tokens, self.category_embeddings(x_cat + self.category_offsets[None])], dim=1)
        return tokens + self.bias[None]


class FTTransformer(nn.Module):
    """Class logits (B, K) read from the [CLS] token after a pre-norm Transformer over the feature tokens."""

    def __init__(self, n_num_features, cardinalities, n_classes, d_token=8, n_blocks=2, n_heads=2):
        super().__init__()
        self.tokenizer = FeatureTokenizer(n_num_features, cardinalities, d_token)
        self.cls_token = nn.Parameter(torch.empty(1, 1, d_token))
        nn.init.uniform_(self.cls_token, -1 / math.sqrt(d_token), 1 / math.sqrt(d_token))
        layer = nn.TransformerEncoderLayer(d_token, n_heads, dim_feedforward=2 * d_token, dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, n_blocks, enable_nested_tensor=False)
        self.head = nn.Sequential(nn.LayerNorm(d_token), nn.ReLU(), nn.Linear(d_token, n_classes))

    def forward(self, x_num, x_cat):
        tokens = self.tokenizer(x_num, x_cat)
        cls = self.cls_token.expand(tokens.shape[0], -1, -1)
        tokens = torch.cat([cls, tokens], dim=1)
        return self.head(self.transformer(tokens)[:, 0])


def make_model(n_num_features, cardinalities, n_classes):
    return FTTransformer(n_num_features, cardinalities, n_classes)


def make_optimizer(model, lr=3e-3, weight_decay=0.1):
    def needs_wd(name):
        return all(part not in name for part in ("tokenizer", "norm", ".bias", "cls_token"))

    decayed = [p for name, p in model.named_parameters() if needs_wd(name)]
    plain = [p for name, p in model.named_parameters() if not needs_wd(name)]
    return torch.optim.AdamW([{"params": decayed}, {"params": plain, "weight_decay": 0.0}],
                             lr=lr, weight_decay=weight_decay)


def train(model, x_num, x_cat, labels, steps, batch_size=8):
    x_num, x_cat, labels = torch.from_numpy(x_num), torch.from_numpy(x_cat), torch.from_numpy(labels)
    optimizer = make_optimizer(model)
    loss_fn = nn.CrossEntropyLoss()
    history = []
    for step in range(steps):
        start = (step * batch_size) % x_num.shape[0]
        rows = slice(start, start + batch_size)
        optimizer.zero_grad()
        loss = loss_fn(model(x_num[rows], x_cat[rows]), labels[rows])
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    model.eval()
    with torch.no_grad():
        probabilities = F.softmax(model(x_num, x_cat), dim=1)
    groups = [len(group["params"]) for group in optimizer.param_groups]
    return history, probabilities.tolist(), groups
'''


TABNET = '''
def sparsemax(z, dim=-1):
    """The Euclidean projection of z onto the probability simplex along ``dim`` (Martins and Astudillo, 2016):
    max(z - tau, 0), tau chosen so each slice sums to 1; many outputs are exactly 0."""
    z = z - z.max(dim=dim, keepdim=True).values            # for stability; the projection does not change
    z_sorted, _ = torch.sort(z, dim=dim, descending=True)
    cumulative = z_sorted.cumsum(dim) - 1
    shape = [1] * z.dim()
    shape[0] = -1
    rank = torch.arange(1, z.size(dim) + 1, device=z.device, dtype=z.dtype).view(shape).transpose(0, dim)
    support = rank * z_sorted > cumulative                  # the largest k entries that stay positive
    support_size = support.sum(dim=dim).unsqueeze(dim)
    tau = cumulative.gather(dim, support_size - 1) / support_size.to(z.dtype)
    return torch.clamp(z - tau, min=0)


class SparsemaxFunction(torch.autograd.Function):
    """sparsemax along ``dim`` with its closed-form backward: on the support, the incoming gradient less its
    mean over the support; 0 elsewhere."""

    @staticmethod
    def forward(ctx, input, dim=-1):
        ctx.dim = dim
        max_val, _ = input.max(dim=dim, keepdim=True)
        input = input - max_val
        input_srt, _ = torch.sort(input, descending=True, dim=dim)
        input_cumsum = input_srt.cumsum(dim) - 1
        shape = [1] * input.dim()
        shape[0] = -1
        rhos = torch.arange(1, input.size(dim) + 1, device=input.device, dtype=input.dtype)
        rhos = rhos.view(shape).transpose(0, dim)
        support_size = (rhos * input_srt > input_cumsum).sum(dim=dim).unsqueeze(dim)
        tau = input_cumsum.gather(dim, support_size - 1)
        tau /= support_size.to(input.dtype)
        output = torch.clamp(input - tau, min=0)
        ctx.save_for_backward(support_size, output)
        return output

    @staticmethod
    def backward(ctx, grad_output):
        supp_size, output = ctx.saved_tensors
        dim = ctx.dim
        grad_input = grad_output.clone()
        grad_input[output == 0] = 0
        v_hat = grad_input.sum(dim=dim) / supp_size.to(output.dtype).squeeze(dim)
        v_hat = v_hat.unsqueeze(dim)
        grad_input = torch.where(output != 0, grad_input - v_hat, grad_input)
        return grad_input, None


class GhostBatchNorm(nn.Module):
    """BatchNorm1d over virtual batches of ``virtual_batch_size`` rows: (B, D) -> (B, D)."""

    def __init__(self, features, virtual_batch_size=4, momentum=0.02):
        super().__init__()
        self.virtual_batch_size = virtual_batch_size
        self.bn = nn.BatchNorm1d(features, momentum=momentum)

    def forward(self, x):
        chunks = x.chunk(int(math.ceil(x.shape[0] / self.virtual_batch_size)), 0)
        return torch.cat([self.bn(chunk) for chunk in chunks], dim=0)


class GatedBlock(nn.Module):
    """Linear -> ghost batch norm -> GLU: (B, in) -> (B, out)."""

    def __init__(self, features_in, features_out, virtual_batch_size):
        super().__init__()
        self.fc = nn.Linear(features_in, 2 * features_out, bias=False)
        self.bn = GhostBatchNorm(2 * features_out, virtual_batch_size)
        self.out = features_out

    def forward(self, x):
        x = self.bn(self.fc(x))
        return x[:, :self.out] * torch.sigmoid(x[:, self.out:])


class FeatTransformer(nn.Module):
    """Two gated blocks, the second a residual scaled by sqrt(0.5): (B, in) -> (B, n_d + n_a)."""

    def __init__(self, features_in, width, virtual_batch_size):
        super().__init__()
        self.first = GatedBlock(features_in, width, virtual_batch_size)
        self.second = GatedBlock(width, width, virtual_batch_size)
        self.scale = math.sqrt(0.5)

    def forward(self, x):
        x = self.first(x)
        return (x + self.second(x)) * self.scale


class AttentiveTransformer(nn.Module):
    """Attention features (B, n_a) and the prior (B, F) to a sparse feature mask (B, F), rows summing to 1."""

    def __init__(self, n_a, features, virtual_batch_size, by_function):
        super().__init__()
        self.fc = nn.Linear(n_a, features, bias=False)
        self.bn = GhostBatchNorm(features, virtual_batch_size)
        self.by_function = by_function

    def forward(self, priors, processed_feat):
        x = torch.mul(self.bn(self.fc(processed_feat)), priors)
        return SparsemaxFunction.apply(x, -1) if self.by_function else sparsemax(x)


class TabNetLite(nn.Module):
    """Features (B, F) to logits (B, K) and the mask-entropy loss, over ``n_steps`` decision steps."""

    def __init__(self, features, classes, n_d=4, n_a=4, n_steps=3, gamma=1.3, virtual_batch_size=4,
                 by_function=False):
        super().__init__()
        self.n_d, self.n_steps, self.gamma, self.epsilon = n_d, n_steps, gamma, 1e-15
        self.initial_bn = nn.BatchNorm1d(features, momentum=0.01)
        self.initial_splitter = FeatTransformer(features, n_d + n_a, virtual_batch_size)
        self.feat_transformers = nn.ModuleList(
            [FeatTransformer(features, n_d + n_a, virtual_batch_size) for _ in range(n_steps)])
        self.att_transformers = nn.ModuleList(
            [AttentiveTransformer(n_a, features, virtual_batch_size, by_function) for _ in range(n_steps)])
        self.final_mapping = nn.Linear(n_d, classes, bias=False)

    def forward(self, x):
        x = self.initial_bn(x)
        prior = torch.ones(x.shape, dtype=x.dtype)
        m_loss = 0
        att = self.initial_splitter(x)[:, self.n_d:]
        steps_output = []
        masks = []
        explain = torch.zeros_like(x)
        for step in range(self.n_steps):
            mask = self.att_transformers[step](prior, att)
            m_loss += torch.mean(torch.sum(torch.mul(mask, torch.log(mask + self.epsilon)), dim=1))
            prior = torch.mul(self.gamma - mask, prior)      # a feature used now is less likely chosen again
            out = self.feat_transformers[step](torch.mul(mask, x))
            d = F.relu(out[:, :self.n_d])
            steps_output.append(d)
            att = out[:, self.n_d:]
            masks.append(mask)
            step_weight = torch.sum(d, dim=1)      # how much this step decided: weights its mask
            explain = explain + torch.mul(mask, step_weight.unsqueeze(dim=1))
        m_loss /= self.n_steps
        res = torch.sum(torch.stack(steps_output, dim=0), dim=0)
        explain = explain / explain.sum(dim=1, keepdim=True).clamp_min(self.epsilon)
        return self.final_mapping(res), m_loss, masks, explain


def make_model(features, classes, by_function=False):
    return TabNetLite(features, classes, by_function=by_function)


def train(model, x, y, steps, batch_size=8, lambda_sparse=1e-3):
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-2)
    loss_fn = torch.nn.functional.cross_entropy
    history = []
    for step in range(steps):
        start = (step * batch_size) % x.shape[0]
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        optimizer.zero_grad()
        logits, m_loss, _, _ = model(xb)
        loss = loss_fn(logits, yb) - lambda_sparse * m_loss
        loss.backward()
        optimizer.step()
        history.append((loss.item(), m_loss.item()))
    model.eval()
    with torch.no_grad():
        _, _, masks, explain = model(x)
    sparsity = [(m == 0).float().mean().item() for m in masks]
    sums = [m.sum(dim=1).tolist() for m in masks]
    return history, sparsity, sums, explain.mean(dim=0).tolist()
'''


LR_FINDER = '''
class Regressor(nn.Module):
    def __init__(self, features, hidden=16):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(features, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, x):
        return self.net(x).squeeze(-1)


class ExponentialSweep(_LRScheduler):
    """From each group's lr to end_lr, geometrically, over num_iter steps (the range test's own scheduler)."""

    def __init__(self, optimizer, end_lr, num_iter, last_epoch=-1):
        if num_iter <= 1:
            raise ValueError("`num_iter` must be larger than 1")
        self.end_lr, self.num_iter = end_lr, num_iter
        super(ExponentialSweep, self).__init__(optimizer, last_epoch)

    def get_lr(self):
        fraction = self.last_epoch / (self.num_iter - 1)
        return [base_lr * (self.end_lr / base_lr) ** fraction for base_lr in self.base_lrs]


def make_model(features):
    return Regressor(features)


def make_optimizer(model):
    return optim.Adam(model.parameters(), lr=1e-3)


def fit(model, optimizer, batches, steps, scheduler=None):
    loss_fn = nn.MSELoss()
    history = []
    for step in range(steps):
        x, y = batches[step % len(batches)]
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        history.append(loss.item())
    return history


def range_test(model, optimizer, batches, start_lr=1e-4, end_lr=10.0, num_iter=30, smooth_f=0.2,
               diverge_th=4.0, schedule="lambda"):
    """Train with the learning rate growing from start_lr to end_lr, geometrically; stop when the smoothed loss
    passes diverge_th times its best. Model and optimizer are put back as they were before."""
    model_state = copy.deepcopy(model.state_dict())
    optimizer_state = copy.deepcopy(optimizer.state_dict())
    for group in optimizer.param_groups:
        group["lr"] = start_lr
    ratio = (end_lr / start_lr) ** (1 / (num_iter - 1))
    if schedule == "lambda":
        scheduler = LambdaLR(optimizer, lambda it: ratio ** it)
    elif schedule == "exponential":
        scheduler = ExponentialLR(optimizer, gamma=ratio)
    else:
        scheduler = ExponentialSweep(optimizer, end_lr, num_iter)
    loss_fn = nn.MSELoss()
    lrs, losses = [], []
    best, average = None, 0.0
    for iteration in range(num_iter):
        x, y = batches[iteration % len(batches)]
        lrs.append(scheduler.get_last_lr()[0])
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        scheduler.step()
        average = smooth_f * loss.item() + (1 - smooth_f) * average
        smoothed = average / (1 - (1 - smooth_f) ** (iteration + 1))
        losses.append(smoothed)
        if best is None or smoothed < best:
            best = smoothed
        if smoothed > diverge_th * best or math.isnan(smoothed):
            break
    steepest = min(range(1, len(losses)), key=lambda i: losses[i] - losses[i - 1])
    model.load_state_dict(model_state)
    optimizer.load_state_dict(optimizer_state)
    return lrs, losses, lrs[steepest]


def main(model, data, warmup=3, after=4, schedule="lambda", sweep=True):
    """A few steps, the range test (unless not ``sweep``), then training under a decaying schedule built on the
    restored optimizer (it starts from the optimizer's lr, which the sweep must not have left behind)."""
    batches = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in data]
    optimizer = make_optimizer(model)
    first = fit(model, optimizer, batches, warmup)
    lrs, losses, suggested, restored, restored_optimizer = [], [], None, True, True
    if sweep:
        before = copy.deepcopy(model.state_dict())
        moments = copy.deepcopy(optimizer.state_dict())
        lrs, losses, suggested = range_test(model, optimizer, batches, schedule=schedule)
        restored = all(torch.equal(before[k], v) for k, v in model.state_dict().items())
        state = optimizer.state_dict()
        restored_optimizer = (
            [g["lr"] for g in state["param_groups"]] == [g["lr"] for g in moments["param_groups"]]
            and all(torch.equal(moments["state"][i][key], state["state"][i][key])
                    for i in moments["state"] for key in ("exp_avg", "exp_avg_sq")))
    decay = LambdaLR(optimizer, lambda epoch: 1 / (1 + epoch))
    second = fit(model, optimizer, batches, after, decay)
    return first, lrs, losses, suggested, restored, restored_optimizer, second, decay.base_lrs
'''

PROGRAMS = (DLRM, FT_TRANSFORMER, TABNET, LR_FINDER)


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Any:
    """torch on one intra-op thread in each test, restored after: on tensors this small its thread pool only
    costs (its CPU embedding_bag forward wakes the pool on every call: ~7 ms on two cores, 50 us on one)."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (optional test peer)")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _twins(source: str, *args: Any) -> tuple:
    return _twin_models(source, *args, imports=(TORCH_IMPORTS_TABULAR, MINIGRAD_IMPORTS_TABULAR))


def test_the_programs_differ_only_in_their_imports() -> None:
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source
    for torch_line, mg_line in zip(TORCH_IMPORTS_TABULAR.splitlines(), MINIGRAD_IMPORTS_TABULAR.splitlines()):
        assert torch_line.replace("torch", "minigrad") == mg_line or "minigrad" in mg_line


# ----------------------------------------------------------------------------- 1. DLRM


def _click_batches(count: int, batch_size: int, table_sizes: tuple, seed: int) -> list:
    """Batches of (dense (B, 3) float32, clicked (B,) float32, one (ids, offsets, weights or None) per table).

    A bag holds 0..3 ids (an empty bag in every batch); the second table's bags carry per-sample weights. A click
    is more likely when the first dense feature and the first table's ids are large.
    """
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        dense = rng.standard_normal((batch_size, 3)).astype(np.float32)
        bags, score = [], dense[:, 0].copy()
        for table, size in enumerate(table_sizes):
            lengths = rng.integers(0, 4, batch_size)
            lengths[table] = 0
            ids = rng.integers(0, size, int(lengths.sum()))
            offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
            weights = rng.random(ids.shape[0]).astype(np.float32) + 0.5 if table == 1 else None
            if table == 0:
                bag_of = np.repeat(np.arange(batch_size), lengths)
                score += np.bincount(bag_of, weights=ids, minlength=batch_size) / size - 0.7
            bags.append((ids.astype(np.int64), offsets, weights))
        batches.append((dense, (score > 0).astype(np.float32), bags))
    return batches


def test_dlrm_with_embedding_bags_and_dot_interactions(torch: Any) -> None:
    """Bottom MLP, three sum-mode EmbeddingBags read with offsets (one with per-sample weights, empty bags
    included), bmm dot interactions under tril_indices(offset=-1), top MLP, BCEWithLogitsLoss, SGD."""
    table_sizes = (6, 5, 7)
    batches = _click_batches(3, 6, table_sizes, 0)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(DLRM, 3, table_sizes)
    assert mg_model.rows.tolist() == torch_model.rows.tolist() == [1, 2, 2, 3, 3, 3]
    assert mg_model.cols.tolist() == torch_model.cols.tolist() == [0, 0, 1, 0, 1, 2]
    history, accuracies = mg_program["train"](mg_model, batches, 3)
    expected_history, expected_accuracies = torch_program["train"](torch_model, batches, 3)
    assert len(history) == 9
    np.testing.assert_allclose(history, expected_history, rtol=1e-5, atol=1e-6)
    assert accuracies == pytest.approx(expected_accuracies)
    _assert_same_weights(torch_model, mg_model, initial)
    for name in ("emb_l.0.weight", "emb_l.1.weight", "emb_l.2.weight"):
        assert not np.array_equal(mg_model.state_dict()[name].numpy(), initial[name].numpy()), name


# ----------------------------------------------------------------------------- 2. FT-Transformer


def _mixed_table(count: int, seed: int) -> tuple:
    """(numeric (count, 3) float32, categories (count, 2) int64 of 3 and 4 levels, labels (count,) of 3 classes)."""
    rng = np.random.default_rng(seed)
    numeric = rng.standard_normal((count, 3)).astype(np.float32)
    categories = np.stack([rng.integers(0, 3, count), rng.integers(0, 4, count)], axis=1).astype(np.int64)
    labels = ((numeric[:, 0] > 0).astype(np.int64) + (categories[:, 1] >= 2)) % 3
    return numeric, categories, labels.astype(np.int64)


def test_ft_transformer_with_adamw_groups(torch: Any) -> None:
    """Feature tokens, a CLS token joined by cat + expand, a pre-norm TransformerEncoder, AdamW whose second
    group (tokenizer, norms, biases, CLS) has no weight decay; eval-mode probabilities under no_grad."""
    numeric, categories, labels = _mixed_table(16, 1)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(FT_TRANSFORMER, 3, [3, 4], 3)
    assert "tokenizer.category_offsets" not in mg_model.state_dict()
    history, probabilities, groups = mg_program["train"](mg_model, numeric, categories, labels, 6)
    expected_history, expected_probabilities, expected_groups = torch_program["train"](
        torch_model, numeric, categories, labels, 6)
    assert groups == expected_groups
    np.testing.assert_allclose(history, expected_history, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probabilities, expected_probabilities, rtol=1e-5, atol=1e-6)
    # the key bias adds q . b_k to every score of a query alike, so softmax makes its true gradient 0 and its
    # AdamW steps follow the sign of rounding noise: compared apart from the query and value biases
    key_biases = tuple(f"transformer.layers.{i}.self_attn.in_proj_bias" for i in range(2))
    _assert_same_weights(torch_model, mg_model, initial, noise_only=key_biases)
    for name in key_biases:
        ours, theirs = mg_model.state_dict()[name].numpy(), torch_model.state_dict()[name].numpy()
        for part in (slice(0, 8), slice(16, 24)):
            np.testing.assert_allclose(ours[part], theirs[part], rtol=1e-4, atol=1e-5, err_msg=name)


# ----------------------------------------------------------------------------- 3. TabNet


def _tabular_classes(count: int, seed: int, features: int = 6) -> tuple:
    """(features (count, 6) float32, labels (count,) int64 of 3 classes decided by features 0 and 3 only)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((count, features)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 3] > 0.5)
    return x, y.astype(np.int64)


@pytest.mark.parametrize(("dtype", "by_function"), [("float32", False), ("float64", True)])
def test_tabnet_with_sparsemax_and_ghost_batch_norm(dtype: str, by_function: bool, torch: Any) -> None:
    """Sparsemax masks scaled by the prior (differentiated through the hand-written projection, or by the
    autograd.Function's closed-form backward), ghost BatchNorm1d on 4-row chunks of 8-row batches (running
    statistics updated twice per call), the entropy sparsity term, Adam; eval-mode masks and explanations.

    The entropy term sums M log(M + 1e-15) over masks with entries near 0, where float32 rounding of M is
    magnified by the log: it agrees to 1e-4 in float32; in float64 (``model.double()``) everything to 1e-10."""
    x, y = _tabular_classes(24, 2)
    x = x.astype(dtype)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(TABNET, 6, 3, by_function)
    if dtype == "float64":
        torch_model.double()
        mg_model.double()
    history, sparsity, sums, explain = mg_program["train"](mg_model, x, y, 6)
    expected_history, expected_sparsity, _, expected_explain = torch_program["train"](torch_model, x, y, 6)
    history, expected_history = np.array(history), np.array(expected_history)
    if dtype == "float32":
        np.testing.assert_allclose(history[:, 0], expected_history[:, 0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(history[:, 1], expected_history[:, 1], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(explain, expected_explain, rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_allclose(history, expected_history, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(explain, expected_explain, rtol=1e-10, atol=1e-12)
    assert sparsity == pytest.approx(expected_sparsity)
    assert any(s > 0 for s in sparsity)                       # sparsemax gives exact zeros
    np.testing.assert_allclose(sums, 1.0, rtol=1e-5)
    if dtype == "float32":
        _assert_same_weights(torch_model, mg_model, initial)
    else:
        for name, weights in mg_model.state_dict().items():
            assert weights.dtype == (np.int64 if name.endswith("num_batches_tracked") else np.float64), name
            np.testing.assert_allclose(weights.numpy(), torch_model.state_dict()[name].numpy(), rtol=1e-10,
                                       atol=1e-12, err_msg=name)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_both_sparsemaxes_of_the_program_and_their_gradients_match_torch(dim: int, torch: Any) -> None:
    """The program's two sparsemaxes on one (4, 5) float64 input along each dim: values and the gradient of a
    weighted sum, through sort/cumsum/gather/clamp or the Function's backward; the same in both."""
    import minigrad as mg  # noqa: PLC0415

    rng = np.random.default_rng(5)
    z = rng.standard_normal((4, 5)) * 2
    weights = rng.standard_normal((4, 5))
    outputs = []
    for imports, lib in ((TORCH_IMPORTS_TABULAR, torch), (MINIGRAD_IMPORTS_TABULAR, mg)):
        program = _program(TABNET, imports)
        by_function = program["SparsemaxFunction"].apply
        for sparsemax in (program["sparsemax"], lambda t, dim, apply=by_function: apply(t, dim)):
            inputs = lib.tensor(z, requires_grad=True)
            result = sparsemax(inputs, dim=dim)
            (result * lib.tensor(weights)).sum().backward()
            outputs.append((result.detach().numpy(), inputs.grad.numpy()))
    for values, grad in outputs[1:]:
        np.testing.assert_allclose(values, outputs[0][0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(grad, outputs[0][1], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(outputs[0][0].sum(axis=dim), 1.0, rtol=1e-12)
    assert (outputs[0][0] == 0).any()


# ----------------------------------------------------------------------------- 4. LR range test


def _regression_batches(count: int, batch_size: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        x = rng.standard_normal((batch_size, 4)).astype(np.float32)
        y = (np.sin(x[:, 0]) + 0.5 * x[:, 1] * x[:, 2]).astype(np.float32)
        batches.append((x, y))
    return batches


@pytest.mark.parametrize("schedule", ["lambda", "exponential", "subclass"])
def test_lr_range_test_restores_model_and_optimizer(schedule: str, torch: Any) -> None:
    """A few Adam steps, the range test (LambdaLR, ExponentialLR or a subclass of ``_LRScheduler``, from 1e-4 to
    10; smoothed loss, stopped on divergence), then model and optimizer restored from deepcopied state dicts:
    exactly, in each engine, so the training that follows equals training that never ran the sweep."""
    data = _regression_batches(3, 8, 3)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(LR_FINDER, 4)
    results = mg_program["main"](mg_model, data, schedule=schedule)
    expected = torch_program["main"](torch_model, data, schedule=schedule)
    first, lrs, losses, suggested, restored, restored_optimizer, second, _ = results
    assert restored and restored_optimizer
    assert expected[4] and expected[5]
    np.testing.assert_allclose(first, expected[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lrs, expected[1], rtol=1e-6)
    assert lrs[0] == pytest.approx(1e-4) and len(lrs) < 30          # the sweep stopped when the loss diverged
    np.testing.assert_allclose(losses, expected[2], rtol=1e-4, atol=1e-6)
    assert suggested == pytest.approx(expected[3])
    np.testing.assert_allclose(second, expected[6], rtol=1e-5, atol=1e-6)
    _assert_same_weights(torch_model, mg_model, initial)
    assert results[7] == expected[7] == pytest.approx([1e-3])   # the decay after it starts from the restored lr
    # each engine alone: the sweep left no trace, training goes on as in a run without it
    for program, lib, result in ((mg_program, mg_program["torch"], results), (torch_program, torch, expected)):
        clean = program["make_model"](4)
        clean.load_state_dict({k: lib.from_numpy(v.numpy().copy()) for k, v in initial.items()})
        straight = program["main"](clean, data, sweep=False)
        assert straight[0] + straight[6] == result[0] + result[6]


def test_a_restored_optimizer_forgets_the_initial_lr_of_a_scheduler_built_after_its_save(torch: Any) -> None:
    """PyTorch's optimizer load_state_dict takes each saved group whole, so ``initial_lr`` written by a scheduler
    built after the save goes, and the next scheduler's base_lrs are the restored lr. Ours kept the stale
    ``initial_lr`` (the range test's 1e-5): a later LambdaLR then ran from it, silently."""
    import minigrad as mg  # noqa: PLC0415

    for lib in (torch, mg):
        p = lib.nn.Parameter(lib.ones(2))
        optimizer = lib.optim.Adam([p], lr=1e-3)
        saved = copy.deepcopy(optimizer.state_dict())
        optimizer.param_groups[0]["lr"] = 1e-5
        sweep = lib.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 10.0 ** epoch)
        for _ in range(2):
            p.sum().backward()
            optimizer.step()
            sweep.step()
        optimizer.load_state_dict(saved)
        assert "initial_lr" not in optimizer.param_groups[0], lib.__name__
        after = lib.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 0.5 ** epoch)
        optimizer.step()
        after.step()
        assert after.base_lrs == pytest.approx([1e-3]) and after.get_last_lr() == pytest.approx([5e-4])
        # a saved initial_lr is taken, as before: a schedule resumes from the state dicts
        resumed = lib.optim.Adam([lib.nn.Parameter(lib.ones(2))], lr=0.5)
        resumed.load_state_dict(optimizer.state_dict())
        assert resumed.param_groups[0]["initial_lr"] == pytest.approx(1e-3)


def test_lr_scheduler_subclassed_under_its_old_name(torch: Any) -> None:
    """``_LRScheduler``, PyTorch's old name of ``LRScheduler``, exists for the programs that subclass it (it was
    missing); ``ExponentialSweep`` of the range test gives torch's rates, and is an ``LRScheduler``."""
    rates = []
    for imports in (TORCH_IMPORTS_TABULAR, MINIGRAD_IMPORTS_TABULAR):
        program = _program(LR_FINDER, imports)
        lib = program["torch"]
        optimizer = lib.optim.SGD([lib.nn.Parameter(lib.zeros(2))], lr=1e-3)
        sweep = program["ExponentialSweep"](optimizer, end_lr=1.0, num_iter=4)
        assert isinstance(sweep, lib.optim.lr_scheduler.LRScheduler)
        assert "_LRScheduler" not in lib.optim.lr_scheduler.__all__
        rates.append([sweep.get_last_lr()[0]])
        for _ in range(3):
            optimizer.step()
            sweep.step()
            rates[-1].append(optimizer.param_groups[0]["lr"])
        with pytest.raises(ValueError, match="num_iter"):
            program["ExponentialSweep"](optimizer, end_lr=1.0, num_iter=1)
    assert rates[1] == pytest.approx(rates[0], rel=1e-12) and rates[0][-1] == pytest.approx(1.0)
