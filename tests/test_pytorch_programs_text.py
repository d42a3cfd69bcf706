"""Three PyTorch programs on text, ratings and tables, small, run unchanged on minigrad: only the imports differ.

Each program is our own rewrite of a well-known public PyTorch program: it keeps the original's PyTorch calls
and habits in the same roles, with our own names, structure and comments, a small model, a few steps and
generated data (no torchtext, no download; the helpers and the rule come from tests/test_pytorch_programs.py):

* ``TEXT_CLASSIFICATION`` mirrors the tutorial "Text classification with the torchtext library"
  (https://pytorch.org/tutorials/beginner/text_sentiment_ngrams_tutorial.html): ``nn.EmbeddingBag(vocab_size,
  embed_dim, sparse=False)`` (mean of each bag) and a Linear, a ``collate_batch`` that concatenates the
  headlines' id tensors and turns their lengths into ``offsets`` with ``cumsum``, ``CrossEntropyLoss``,
  ``SGD(lr=5)``, ``StepLR(optimizer, 1.0, gamma=0.1)`` stepped only when the validation accuracy drops,
  ``clip_grad_norm_(..., 0.1)``, accuracy from ``(predicted_label.argmax(1) == label).sum().item()``; beside it
  ``bag_variants`` runs EmbeddingBag's other modes (``"sum"``, ``"max"``), ``per_sample_weights``,
  ``padding_idx``, 2-D input, ``include_last_offset``, ``from_pretrained`` and ``F.embedding_bag``;
* ``COLLABORATIVE_FILTERING`` is a matrix factorisation with a small MLP tower, in the manner of neural
  collaborative filtering (He et al. 2017) as PyTorch recommender tutorials write it: user and item
  ``nn.Embedding``s initialised with ``nn.init.normal_(std=0.01)``, ``(u * i).sum(dim=1)`` plus bias
  embeddings, negatives drawn with ``torch.randint``, ``BCEWithLogitsLoss(pos_weight=torch.tensor([3.0]))``,
  dense ``Adam`` with ``weight_decay``, recall@k with ``torch.topk(...).indices`` and ``torch.isin`` under
  ``model.eval()`` and ``torch.inference_mode()``;
* ``WIDE_AND_DEEP`` is the tabular "wide & deep" model of the fastai/Kaggle entity-embedding kind:
  ``nn.ModuleList`` of ``nn.Embedding(c, d)`` read with ``torch.cat([emb(x_cat[:, i]) ...], 1)``,
  ``nn.BatchNorm1d`` on the continuous columns, an ``nn.Sequential`` MLP with ``nn.Dropout`` (p = 0 where the
  runs are compared), a wide Linear over ``F.one_hot`` crosses, ``F.binary_cross_entropy_with_logits``,
  ``OneCycleLR(max_lr=..., total_steps=...)`` (which also cycles Adam's beta1), an AUC from ``torch.argsort``
  ranks, and the state dict through ``torch.save``/``torch.load(weights_only=True)`` into a fresh model.

One habit is written differently: the tutorial's ``self.embedding.weight.data.uniform_(-r, r)`` and
``self.fc.bias.data.zero_()`` are written ``with torch.no_grad(): weight.uniform_(-r, r)``, which PyTorch
documents as the same thing, because minigrad's ``.data`` is the NumPy/CuPy array by design (README, "Coming
from PyTorch", "Deliberately different"); ``test_data_is_the_array_by_design`` pins that.

The negative items come from ``torch.randint``: both engines' ``randint`` read one shared NumPy stream here
(``_shared_randint``, the integer twin of tests/test_pytorch_programs_more.py's ``_shared_noise``), so every
number downstream of the draws is compared.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import _assert_same_weights, _program, _twin_models
from tests.test_pytorch_programs_more import MINIGRAD_IMPORTS_MORE, TORCH_IMPORTS_MORE

TEXT_CLASSIFICATION = '''
def tokenize(line):
    """Lower case and split on white space: what basic_english does to our generated headlines."""
    return line.lower().split()


class Vocabulary:
    """Word -> id in order of first appearance; id 0 is '<unk>', for words never seen."""

    def __init__(self, lines):
        self.ids = {"<unk>": 0}
        for line in lines:
            for word in tokenize(line):
                self.ids.setdefault(word, len(self.ids))

    def __len__(self):
        return len(self.ids)

    def __call__(self, words):
        return [self.ids.get(word, 0) for word in words]


class TextClassificationModel(nn.Module):
    """Bags of word ids (concatenated, with offsets) -> class scores (B, num_class): the mean of each bag's
    embeddings, then a Linear."""

    def __init__(self, vocab_size, embed_dim, num_class):
        super(TextClassificationModel, self).__init__()
        self.embedding = nn.EmbeddingBag(vocab_size, embed_dim, sparse=False)
        self.fc = nn.Linear(embed_dim, num_class)
        self.init_weights()

    def init_weights(self):
        initrange = 0.5
        with torch.no_grad():
            self.embedding.weight.uniform_(-initrange, initrange)
            self.fc.weight.uniform_(-initrange, initrange)
            self.fc.bias.zero_()

    def forward(self, text, offsets):
        return self.fc(self.embedding(text, offsets))


EMBED_DIM = 16
NUM_CLASS = 4


def make_model(vocab_size):
    return TextClassificationModel(vocab_size, EMBED_DIM, NUM_CLASS)


def make_collate(vocab):
    """The DataLoader's collate_fn: (label 1..4, headline) pairs -> (labels, all ids in one row, offsets)."""
    def text_pipeline(line):
        return vocab(tokenize(line))

    def label_pipeline(label):
        return int(label) - 1

    def collate_batch(batch):
        label_list, text_list, offsets = [], [], [0]
        for label, text in batch:
            label_list.append(label_pipeline(label))
            processed_text = torch.tensor(text_pipeline(text), dtype=torch.int64)
            text_list.append(processed_text)
            offsets.append(processed_text.size(0))
        label_list = torch.tensor(label_list, dtype=torch.int64)
        offsets = torch.tensor(offsets[:-1]).cumsum(dim=0)
        text_list = torch.cat(text_list)
        return label_list, text_list, offsets

    return collate_batch, text_pipeline


def train_one_epoch(model, dataloader, criterion, optimizer, log):
    model.train()
    total_acc, total_count = 0, 0
    for label, text, offsets in dataloader:
        optimizer.zero_grad()
        predicted_label = model(text, offsets)
        loss = criterion(predicted_label, label)
        loss.backward()
        log["norm"].append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), 0.1)))
        optimizer.step()
        total_acc += (predicted_label.argmax(1) == label).sum().item()
        total_count += label.size(0)
        log["loss"].append(loss.item())
    log["train_acc"].append(total_acc / total_count)


def evaluate(model, dataloader, criterion):
    model.eval()
    total_acc, total_count, total_loss = 0, 0, 0.0
    with torch.no_grad():
        for label, text, offsets in dataloader:
            predicted_label = model(text, offsets)
            total_loss += criterion(predicted_label, label).item() * label.size(0)
            total_acc += (predicted_label.argmax(1) == label).sum().item()
            total_count += label.size(0)
    return total_acc / total_count, total_loss / total_count


def main(model, vocab, train_data, valid_data, epochs, batch_size=8, lr=5):
    collate_batch, _ = make_collate(vocab)
    train_dataloader = DataLoader(train_data, batch_size=batch_size, shuffle=False, collate_fn=collate_batch)
    valid_dataloader = DataLoader(valid_data, batch_size=batch_size, shuffle=False, collate_fn=collate_batch)
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1.0, gamma=0.1)
    total_accu = None
    log = {"loss": [], "norm": [], "train_acc": [], "valid_acc": [], "valid_loss": [], "lr": []}
    for epoch in range(1, epochs + 1):
        train_one_epoch(model, train_dataloader, criterion, optimizer, log)
        accu_val, loss_val = evaluate(model, valid_dataloader, criterion)
        if total_accu is not None and total_accu > accu_val:
            scheduler.step()
        else:
            total_accu = accu_val
        log["valid_acc"].append(accu_val)
        log["valid_loss"].append(loss_val)
        log["lr"].append(scheduler.get_last_lr()[0])
    return log


def predict(model, vocab, line):
    _, text_pipeline = make_collate(vocab)
    with torch.no_grad():
        text = torch.tensor(text_pipeline(line))
        output = model(text, torch.tensor([0]))
        return output.argmax(1).item() + 1


def bag_variants(table, text, offsets, sample_weights):
    """EmbeddingBag's other settings over one table (V, D): each output and the gradients of a weighted sum
    of it, as NumPy arrays, by name."""
    results = {}
    probe = torch.linspace(-1.0, 1.0, table.shape[1])

    def record(name, out, *leaves):
        (out * probe).pow(2).sum().backward()
        results[name] = out.detach().numpy()
        for k, leaf in enumerate(leaves):
            results[name + ".grad" + str(k)] = leaf.grad.numpy().copy()

    for mode in ("mean", "sum", "max"):
        bag = nn.EmbeddingBag.from_pretrained(table.clone(), freeze=False, mode=mode)
        record(mode, bag(text, offsets), bag.weight)
    weights = sample_weights.clone().requires_grad_(True)
    bag = nn.EmbeddingBag.from_pretrained(table.clone(), freeze=False, mode="sum")
    record("sum_weighted", bag(text, offsets, per_sample_weights=weights), bag.weight, weights)
    for mode in ("mean", "sum", "max"):
        bag = nn.EmbeddingBag(table.shape[0], table.shape[1], mode=mode, padding_idx=0)
        with torch.no_grad():
            bag.weight.copy_(table)
        record("padded_" + mode, bag(text, offsets), bag.weight)
    bag = nn.EmbeddingBag.from_pretrained(table.clone(), freeze=False, mode="mean")
    record("two_d", bag(text[:12].view(4, 3)), bag.weight)
    bag = nn.EmbeddingBag.from_pretrained(table.clone(), freeze=False, mode="sum", include_last_offset=True)
    record("last_offset", bag(text, torch.cat([offsets, torch.tensor([len(text)])])), bag.weight)
    weight = table.clone().requires_grad_(True)
    weights = sample_weights.clone().requires_grad_(True)
    record("functional", F.embedding_bag(text, weight, offsets, mode="sum", per_sample_weights=weights,
                                         padding_idx=1), weight, weights)
    frozen = nn.EmbeddingBag.from_pretrained(table, mode="max")
    results["frozen.requires_grad"] = frozen.weight.requires_grad
    return results
'''


COLLABORATIVE_FILTERING = '''
class Recommender(nn.Module):
    """(users (B,), items (B,)) -> logits (B,): a dot product of user and item factors plus a bias per user
    and per item, plus an MLP over a second pair of embeddings (the neural half)."""

    def __init__(self, num_users, num_items, factors=8, hidden=8):
        super().__init__()
        self.user_factors = nn.Embedding(num_users, factors)
        self.item_factors = nn.Embedding(num_items, factors)
        self.user_bias = nn.Embedding(num_users, 1)
        self.item_bias = nn.Embedding(num_items, 1)
        self.user_mlp = nn.Embedding(num_users, hidden)
        self.item_mlp = nn.Embedding(num_items, hidden)
        self.mlp = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        for emb in (self.user_factors, self.item_factors, self.user_mlp, self.item_mlp):
            nn.init.normal_(emb.weight, std=0.01)
        nn.init.zeros_(self.user_bias.weight)
        nn.init.zeros_(self.item_bias.weight)

    def forward(self, users, items):
        u, i = self.user_factors(users), self.item_factors(items)
        dot = (u * i).sum(dim=1) + self.user_bias(users).squeeze(1) + self.item_bias(items).squeeze(1)
        neural = self.mlp(torch.cat([self.user_mlp(users), self.item_mlp(items)], dim=1)).squeeze(1)
        return dot + neural

    def score_all(self, users):
        """Every item's logit for each user: (U,) -> (U, num_items)."""
        num_items = self.item_factors.num_embeddings
        pairs_users = users.repeat_interleave(num_items)
        pairs_items = torch.arange(num_items).repeat(len(users))
        return self(pairs_users, pairs_items).view(len(users), num_items)


def make_model(num_users, num_items):
    return Recommender(num_users, num_items)


def train(model, pairs, num_items, epochs, batch_size=16, negatives=3, lr=0.02):
    users_all = torch.tensor([user for user, _ in pairs])
    items_all = torch.tensor([item for _, item in pairs])
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([float(negatives)]))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    losses = []
    for epoch in range(epochs):
        model.train()
        for start in range(0, len(users_all), batch_size):
            users = users_all[start:start + batch_size]
            positives = items_all[start:start + batch_size]
            sampled = torch.randint(0, num_items, (len(users) * negatives,))
            batch_users = torch.cat([users, users.repeat(negatives)])
            batch_items = torch.cat([positives, sampled])
            labels = torch.cat([torch.ones(len(users)), torch.zeros(len(sampled))])
            loss = loss_fn(model(batch_users, batch_items), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses


def recall_at_k(model, pairs, held_out, num_users, num_items, k=3):
    """Mean recall@k over the users with held-out items, items seen in training masked out."""
    seen = torch.zeros(num_users, num_items, dtype=torch.bool)
    seen[torch.tensor([u for u, _ in pairs]), torch.tensor([i for _, i in pairs])] = True
    model.eval()
    with torch.inference_mode():
        scores = model.score_all(torch.arange(num_users))
        probabilities = torch.sigmoid(scores)
        top = torch.topk(scores.masked_fill(seen, float("-inf")), k, dim=1).indices
        recalls = []
        for user, items in held_out.items():
            hits = torch.isin(top[user], torch.tensor(items)).sum().item()
            recalls.append(hits / min(k, len(items)))
        flags = (scores.requires_grad, torch.is_inference_mode_enabled(), model.training)
    return sum(recalls) / len(recalls), top.tolist(), probabilities.numpy(), flags
'''


WIDE_AND_DEEP = '''
CARDS = [(5, 3), (4, 2), (7, 3)]   # (categories, embedding size) per categorical column
CONTINUOUS = 3


class WideAndDeep(nn.Module):
    """(x_cat (B, 3) int64, x_cont (B, 3)) -> logits (B,): an MLP over the categorical embeddings and the
    batch-normalised continuous columns (deep), plus a Linear over one-hot crosses of columns 0 and 1 (wide)."""

    def __init__(self, cards, n_cont, hidden=(16, 8), p=0.0):
        super().__init__()
        self.embs = nn.ModuleList([nn.Embedding(c, d) for c, d in cards])
        self.emb_drop = nn.Dropout(p)
        self.bn_cont = nn.BatchNorm1d(n_cont)
        self.second = cards[1][0]
        self.crosses = cards[0][0] * cards[1][0]
        self.wide = nn.Linear(self.crosses, 1)
        sizes = [sum(d for _, d in cards) + n_cont] + list(hidden)
        layers = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(n_in, n_out), nn.ReLU(inplace=True), nn.BatchNorm1d(n_out), nn.Dropout(p)]
        layers.append(nn.Linear(sizes[-1], 1))
        self.deep = nn.Sequential(*layers)

    def forward(self, x_cat, x_cont):
        x = torch.cat([emb(x_cat[:, i]) for i, emb in enumerate(self.embs)], 1)
        x = torch.cat([self.emb_drop(x), self.bn_cont(x_cont)], 1)
        cross = F.one_hot(x_cat[:, 0] * self.second + x_cat[:, 1], self.crosses).float()
        return (self.deep(x) + self.wide(cross)).squeeze(1)


def make_model(p=0.0):
    return WideAndDeep(CARDS, CONTINUOUS, p=p)


def roc_auc(scores, labels):
    """The probability that a positive outscores a negative, from the scores' ranks (no ties)."""
    ranks = torch.argsort(torch.argsort(scores)).float() + 1
    positive = labels == 1
    n_pos = positive.sum().item()
    n_neg = len(labels) - n_pos
    return ((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)).item()


def train(model, train_set, valid_set, epochs, batch_size=16, max_lr=0.05):
    x_cat, x_cont, y = (torch.from_numpy(a) for a in train_set)
    v_cat, v_cont, v_y = (torch.from_numpy(a) for a in valid_set)
    steps_per_epoch = math.ceil(len(y) / batch_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=max_lr, weight_decay=1e-5)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=epochs * steps_per_epoch)
    log = {"loss": [], "lr": [], "beta1": [], "valid_loss": [], "auc": []}
    for epoch in range(epochs):
        model.train()
        for start in range(0, len(y), batch_size):
            logits = model(x_cat[start:start + batch_size], x_cont[start:start + batch_size])
            loss = F.binary_cross_entropy_with_logits(logits, y[start:start + batch_size])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            log["loss"].append(loss.item())
            log["lr"].append(scheduler.get_last_lr()[0])
            log["beta1"].append(optimizer.param_groups[0]["betas"][0])
        model.eval()
        with torch.no_grad():
            logits = model(v_cat, v_cont)
            log["valid_loss"].append(F.binary_cross_entropy_with_logits(logits, v_y).item())
            log["auc"].append(roc_auc(logits, v_y))
    return log


def save_and_reload(model, path):
    torch.save(model.state_dict(), path)
    fresh = make_model()
    fresh.load_state_dict(torch.load(path, weights_only=True))
    fresh.eval()
    return fresh


def predict(model, data):
    x_cat, x_cont, _ = (torch.from_numpy(a) for a in data)
    model.eval()
    with torch.no_grad():
        return torch.sigmoid(model(x_cat, x_cont)).numpy()
'''

PROGRAMS = (TEXT_CLASSIFICATION, COLLABORATIVE_FILTERING, WIDE_AND_DEEP)


def _twins(source: str, *args: Any) -> tuple:
    """Both programs and their ``make_model(*args)``, minigrad's loaded with torch's initial weights."""
    return _twin_models(source, *args, imports=(TORCH_IMPORTS_MORE, MINIGRAD_IMPORTS_MORE))


def _shared_randint(monkeypatch: pytest.MonkeyPatch, torch: Any, seed: int) -> None:
    """``torch.randint`` of both libraries draws, in call order, from one int64 NumPy stream each (same seed).

    Takes PyTorch's forms ``randint(high, size)`` and ``randint(low, high, size)``, ``size`` also by keyword.
    """
    import minigrad as mg  # noqa: PLC0415

    for lib in (torch, mg):
        rng = np.random.default_rng(seed)

        def randint(*args: Any, rng: np.random.Generator = rng, lib: Any = lib, size: Any = None,
                    **kwargs: Any) -> Any:
            args = args if size is None else (*args, size)
            low, high, size = (0, *args) if len(args) == 2 else args
            assert kwargs.get("dtype") in (None, lib.int64) and str(kwargs.get("device", "cpu")) == "cpu"
            return lib.from_numpy(rng.integers(low, high, tuple(size)).astype(np.int64))

        monkeypatch.setattr(lib, "randint", randint)


def test_the_programs_differ_only_in_their_imports() -> None:
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


def test_data_is_the_array_by_design() -> None:
    """The tutorial's ``weight.data.uniform_(...)``: minigrad's ``.data`` is the NumPy array (README,
    "Deliberately different"), so the programs here write PyTorch's equivalent under ``no_grad``."""
    import minigrad as mg  # noqa: PLC0415
    from minigrad import nn  # noqa: PLC0415

    bag = nn.EmbeddingBag(5, 3)
    assert isinstance(bag.weight.data, np.ndarray)
    with mg.no_grad():
        bag.weight.uniform_(-0.5, 0.5)
    assert np.abs(bag.weight.numpy()).max() <= 0.5


# ----------------------------------------------------------------------------- 1. text classification


_TOPICS = (
    "market shares profit bank stocks trade",        # 1 business
    "match goal season team coach league",           # 2 sports
    "election minister vote parliament war treaty",  # 3 world
    "software chip robot phone internet data",       # 4 sci/tech
)
_COMMON = "the a new after over says report today".split()


def _headlines(count: int, seed: int, noise: float = 0.0) -> list:
    """(label "1".."4", headline) pairs: words of the label's topic among common words; ``noise``: the
    share of labels drawn at random."""
    rng = np.random.default_rng(seed)
    data = []
    for _ in range(count):
        topic = int(rng.integers(4))
        words = [_TOPICS[topic].split()[int(i)] for i in rng.integers(0, 6, int(rng.integers(1, 4)))]
        words += [_COMMON[int(i)] for i in rng.integers(0, len(_COMMON), int(rng.integers(1, 6)))]
        rng.shuffle(words)
        label = int(rng.integers(4)) if rng.random() < noise else topic
        data.append((str(label + 1), " ".join(words)))
    return data


def test_text_classification_with_embedding_bag(torch: Any) -> None:
    """The tutorial's loop: EmbeddingBag(mean) + Linear, collate_batch offsets, SGD(lr=5) clipped at 0.1, StepLR
    stepped when the validation accuracy drops; losses, norms, accuracies, learning rates and weights compared."""
    train_data, valid_data = _headlines(32, 0), _headlines(16, 1, noise=0.5)
    vocab_size = 1 + len({word for _, line in train_data for word in line.lower().split()})   # and '<unk>'
    torch_program, torch_model, mg_program, mg_model, initial = _twins(TEXT_CLASSIFICATION, vocab_size)
    vocab = torch_program["Vocabulary"](line for _, line in train_data)
    mg_vocab = mg_program["Vocabulary"](line for _, line in train_data)
    assert len(vocab) == len(mg_vocab) == vocab_size
    expected = torch_program["main"](torch_model, vocab, train_data, valid_data, 5)
    log = mg_program["main"](mg_model, mg_vocab, train_data, valid_data, 5)
    for key in ("loss", "norm", "valid_loss"):
        np.testing.assert_allclose(log[key], expected[key], rtol=1e-5, atol=1e-6, err_msg=key)
    for key in ("train_acc", "valid_acc", "lr"):
        assert log[key] == pytest.approx(expected[key]), key
    assert len(log["loss"]) == 5 * 4 and min(log["lr"]) < 5   # the scheduler stepped at least once
    _assert_same_weights(torch_model, mg_model, initial)
    for _, line in valid_data[:4] + [("", "robot says the chip is new unknownword")]:
        assert mg_program["predict"](mg_model, mg_vocab, line) == torch_program["predict"](torch_model, vocab, line)


def test_embedding_bag_modes_weights_padding_and_functional(torch: Any) -> None:
    """EmbeddingBag's modes, per_sample_weights, padding_idx (a bag of padding only, an empty bag, an index
    repeated in a max bag), 2-D input, include_last_offset, from_pretrained and F.embedding_bag: outputs and
    gradients equal torch's."""
    rng = np.random.default_rng(2)
    table = rng.standard_normal((7, 5)).astype(np.float32)
    text = np.array([3, 0, 5, 3, 0, 0, 2, 6, 1, 1, 4, 0, 2, 5], dtype=np.int64)
    offsets = np.array([0, 3, 3, 4, 6, 11], dtype=np.int64)   # bags: [3 0 5] [] [3] [0 0] [2 6 1 1 4] [0 2 5]
    sample_weights = rng.uniform(0.5, 2.0, len(text)).astype(np.float32)
    results = []
    for imports in (TORCH_IMPORTS_MORE, MINIGRAD_IMPORTS_MORE):
        program = _program(TEXT_CLASSIFICATION, imports)
        lib = program["torch"]
        results.append(program["bag_variants"](*(lib.from_numpy(a.copy()) for a in (table, text, offsets,
                                                                                       sample_weights))))
    expected, ours = results
    assert ours.keys() == expected.keys()
    for name in expected:
        np.testing.assert_allclose(ours[name], expected[name], rtol=1e-5, atol=1e-6, err_msg=name)
    assert ours["frozen.requires_grad"] is False
    assert (ours["mean"][1] == 0).all() and (ours["max"][1] == 0).all()   # the empty bag


# ----------------------------------------------------------------------------- 2. collaborative filtering


def _ratings(num_users: int, num_items: int, seed: int) -> tuple:
    """Implicit feedback: user u likes items of group u % 3 mostly; 5 training pairs and 2 held out per user."""
    rng = np.random.default_rng(seed)
    pairs, held_out = [], {}
    for user in range(num_users):
        group = np.arange(user % 3, num_items, 3)
        liked = rng.choice(group, 7, replace=False)
        pairs += [(user, int(item)) for item in liked[:5]]
        held_out[user] = [int(item) for item in liked[5:]]
    order = rng.permutation(len(pairs))
    return [pairs[i] for i in order], held_out


def test_collaborative_filtering_with_negative_sampling(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """MF + MLP recommender, negatives from a shared randint stream, BCEWithLogitsLoss(pos_weight), Adam with
    weight decay; recall@k with topk/isin under inference_mode."""
    num_users, num_items = 12, 21
    pairs, held_out = _ratings(num_users, num_items, 3)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(COLLABORATIVE_FILTERING, num_users, num_items)
    _shared_randint(monkeypatch, torch, 4)
    expected = torch_program["train"](torch_model, pairs, num_items, 4)
    losses = mg_program["train"](mg_model, pairs, num_items, 4)
    assert len(losses) == 4 * 4
    np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-6)
    _assert_same_weights(torch_model, mg_model, initial)
    recall, top, probabilities, flags = mg_program["recall_at_k"](mg_model, pairs, held_out, num_users, num_items)
    torch_recall, torch_top, torch_probabilities, torch_flags = torch_program["recall_at_k"](
        torch_model, pairs, held_out, num_users, num_items)
    np.testing.assert_allclose(probabilities, torch_probabilities, rtol=1e-5, atol=1e-6)
    assert top == torch_top and recall == pytest.approx(torch_recall)
    # not scores.is_inference(): minigrad makes no inference tensors (always False, minigrad/ops/inference.py)
    assert flags == torch_flags == (False, True, False)


# ----------------------------------------------------------------------------- 3. wide & deep on a table


def _table(count: int, seed: int) -> tuple:
    """(x_cat (N, 3) int64, x_cont (N, 3) float32, y (N,) float32): y depends on a cross of columns 0 and 1,
    on column 2's category and on the first continuous column."""
    rng = np.random.default_rng(seed)
    x_cat = np.stack([rng.integers(0, c, count) for c in (5, 4, 7)], axis=1).astype(np.int64)
    x_cont = (rng.standard_normal((count, 3)) * [1.0, 5.0, 0.1] + [0.0, 20.0, 1.0]).astype(np.float32)
    logit = np.where((x_cat[:, 0] + x_cat[:, 1]) % 2 == 0, 1.0, -1.0) + 0.3 * (x_cat[:, 2] - 3) + x_cont[:, 0]
    y = (rng.random(count) < 1 / (1 + np.exp(-2 * logit))).astype(np.float32)
    return x_cat, x_cont, y


def test_wide_and_deep_with_one_cycle_and_checkpoint(torch: Any, tmp_path: Any) -> None:
    """Entity embeddings from a ModuleList, BatchNorm1d, a one-hot wide part, BCE with logits under OneCycleLR
    (learning rate and Adam's beta1 both cycled), AUC from argsort ranks, the state dict saved and reloaded."""
    train_set, valid_set = _table(40, 5), _table(24, 6)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(WIDE_AND_DEEP)
    expected = torch_program["train"](torch_model, train_set, valid_set, 4)
    log = mg_program["train"](mg_model, train_set, valid_set, 4)
    for key in ("loss", "valid_loss", "auc"):
        np.testing.assert_allclose(log[key], expected[key], rtol=1e-5, atol=1e-6, err_msg=key)
    assert log["lr"] == pytest.approx(expected["lr"], rel=1e-6)
    assert log["beta1"] == pytest.approx(expected["beta1"], rel=1e-6)
    assert len(log["loss"]) == 4 * 3 and max(log["lr"]) == pytest.approx(0.05, rel=0.05)
    # the running statistics and num_batches_tracked of the three BatchNorm1d are in the state dicts
    _assert_same_weights(torch_model, mg_model, initial)
    reloaded = mg_program["save_and_reload"](mg_model, str(tmp_path / "minigrad.pt"))
    torch_reloaded = torch_program["save_and_reload"](torch_model, str(tmp_path / "torch.pt"))
    np.testing.assert_array_equal(mg_program["predict"](reloaded, valid_set),
                                  mg_program["predict"](mg_model, valid_set))
    np.testing.assert_allclose(mg_program["predict"](reloaded, valid_set),
                               torch_program["predict"](torch_reloaded, valid_set), rtol=1e-5, atol=1e-6)


def test_roc_auc_from_argsort_ranks(torch: Any) -> None:
    """The program's AUC against the pairwise definition."""
    rng = np.random.default_rng(7)
    scores, labels = rng.standard_normal(30).astype(np.float32), (rng.random(30) < 0.4).astype(np.float32)
    pairwise = np.mean([s > t for s, ls in zip(scores, labels) if ls for t, lt in zip(scores, labels) if not lt])
    for imports in (TORCH_IMPORTS_MORE, MINIGRAD_IMPORTS_MORE):
        program = _program(WIDE_AND_DEEP, imports)
        lib = program["torch"]
        assert program["roc_auc"](lib.from_numpy(scores), lib.from_numpy(labels)) == pytest.approx(pairwise)


# ----------------------------------------------------------------------------- what the programs found


def test_steplr_takes_the_tutorials_float_step_size(torch: Any) -> None:
    """``StepLR(optimizer, 1.0, gamma=0.1)``, as the text classification tutorial writes it: a whole float step
    size works as its int, as in PyTorch (a fractional one, which PyTorch's two formulas read differently, and
    one below 1 stay refused)."""
    import minigrad as mg  # noqa: PLC0415

    lrs = []
    for lib in (torch, mg):
        optimizer = lib.optim.SGD([lib.nn.Parameter(lib.zeros(1))], lr=5)
        scheduler = lib.optim.lr_scheduler.StepLR(optimizer, 2.0, gamma=0.1)
        lrs.append([])
        for _ in range(5):
            optimizer.step()
            scheduler.step()
            lrs[-1].append(scheduler.get_last_lr()[0])
    assert lrs[1] == lrs[0] == pytest.approx([5, 0.5, 0.5, 0.05, 0.05])
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="step_size must be an int >= 1"):
            mg.optim.lr_scheduler.StepLR(optimizer, bad)


def test_repeat_interleave_of_counts_alone(torch: Any) -> None:
    """``torch.repeat_interleave(lengths)``: each position repeated its count, the bag of each element (the
    inverse of the offsets ``collate_batch`` builds), in the counts' dtype."""
    import minigrad as mg  # noqa: PLC0415

    for counts in ([2, 0, 3, 1], []):
        for dtype in ("int64", "int32"):
            ours = mg.repeat_interleave(mg.tensor(np.array(counts, dtype=dtype)))
            theirs = torch.repeat_interleave(torch.from_numpy(np.array(counts, dtype=dtype)))
            assert ours.dtype == np.dtype(dtype) and ours.tolist() == theirs.tolist()
    lengths = mg.tensor([2, 0, 3])
    assert lengths.repeat_interleave(output_size=5).tolist() == [0, 0, 2, 2, 2]
    with pytest.raises(ValueError, match="repeats must be a 1-D int tensor"):
        mg.repeat_interleave(mg.tensor([[1, 2]]))
    with pytest.raises((TypeError, NotImplementedError), match="repeats must be integers"):
        mg.repeat_interleave(mg.tensor([1.0, 2.0]))


def test_embedding_bag_errors_are_runtime_errors_and_the_old_argument_order_works(torch: Any) -> None:
    """Where PyTorch raises RuntimeError (bad offsets, an index out of range, dtypes), ours are RuntimeErrors
    too (and keep their Python class); ``embedding_bag(weight, input, offsets)``, the order before PyTorch 1.0,
    still works with PyTorch's warning."""
    from minigrad.nn import functional as F  # noqa: PLC0415

    import minigrad as mg  # noqa: PLC0415

    weight, text = mg.ones(6, 3), mg.tensor([1, 2, 4, 5])
    for call, words in [
        (lambda: F.embedding_bag(text, weight, mg.tensor([1, 3])), "offsets\\[0\\] has to be 0"),
        (lambda: F.embedding_bag(text, weight, mg.tensor([0, 3, 2])), "non-decreasing"),
        (lambda: F.embedding_bag(text, weight, mg.tensor([0, 9])), "at most the input's length"),
        (lambda: F.embedding_bag(text, weight, mg.zeros(0, dtype=mg.int64), include_last_offset=True),
         "at least one offset"),
        (lambda: F.embedding_bag(mg.tensor([0, 7]), weight, mg.tensor([0])), "index 7 is out of range"),
        (lambda: F.embedding_bag(text.float(), weight.double(), mg.tensor([0])), "input must be integers"),
        (lambda: F.embedding_bag(text, weight, mg.tensor([0.0])), "offsets must be integers"),
        (lambda: F.embedding_bag(text, weight.double(), mg.tensor([0]), mode="sum", per_sample_weights=mg.ones(4)),
         "per_sample_weights \\(float32\\) must have the weight's dtype"),
        (lambda: F.one_hot(mg.tensor([0, 5]), 5), "class index 5 is out of range"),
    ]:
        with pytest.raises(RuntimeError, match=words):
            call()
    table = np.random.default_rng(8).standard_normal((6, 3)).astype(np.float32)
    with pytest.warns(UserWarning, match="Argument order of nn.functional.embedding_bag was changed"):
        ours = F.embedding_bag(mg.from_numpy(table), text, mg.tensor([0, 2]), mode="sum")
    with pytest.warns(UserWarning, match="Argument order"):
        theirs = torch.nn.functional.embedding_bag(torch.from_numpy(table), torch.tensor([1, 2, 4, 5]),
                                                   torch.tensor([0, 2]), mode="sum")
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_embedding_bag_where_torch_cpu_is_wrong() -> None:
    """Two bugs of PyTorch 2.13's CPU embedding_bag that ours does not copy (values by hand):

    * ``scale_grad_by_freq``: each row's gradient is divided by its index's count in the whole input, as
      ``F.embedding`` does and PyTorch's docs say; PyTorch's CPU backward reads the count of another index
      (pytorch/pytorch#190063, fixed by #190264 after 2.13);
    * ``include_last_offset=True`` with a last offset short of the input's length: the indices after it are in
      no bag, in every mode; PyTorch's CPU sum leaves them out, its mean divides by a count that has them and
      its max takes them in (pytorch/pytorch#191965).
    """
    from minigrad.nn import functional as F  # noqa: PLC0415

    import minigrad as mg  # noqa: PLC0415

    weight = mg.ones(4, 2, requires_grad=True)
    F.embedding_bag(mg.tensor([1, 1, 3]), weight, mg.tensor([0]), mode="sum", scale_grad_by_freq=True).sum().backward()
    assert weight.grad[:, 0].tolist() == [0.0, 1.0, 0.0, 1.0]   # PyTorch 2.13 CPU: [0, 1, 0, 0.5]
    table, text, offsets = mg.tensor([[1.0, 1.0], [5.0, 5.0], [9.0, 9.0]]), mg.tensor([0, 1, 2]), mg.tensor([0, 2])
    results = [F.embedding_bag(text, table, offsets, mode=mode, include_last_offset=True)[0, 0].item()
               for mode in ("sum", "mean", "max")]
    assert results == [6.0, 3.0, 5.0]   # PyTorch 2.13 CPU: [6.0, 2.0, 9.0]
