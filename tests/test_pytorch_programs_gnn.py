"""Three graph neural network programs, small, run unchanged on minigrad: only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch program (no torch_geometric): it keeps the
original's PyTorch calls and habits in the same roles, with our own names, structure and comments, a small
generated graph and a few steps (the helpers and the rule come from tests/test_pytorch_programs.py):

* ``GCN`` mirrors tkipf/pygcn (https://github.com/tkipf/pygcn): a ``GraphConvolution`` module whose
  ``Parameter(torch.FloatTensor(in_features, out_features))`` is filled by ``reset_parameters()`` from
  U(-1/sqrt(out), 1/sqrt(out)) (written ``self.weight.uniform_`` under ``torch.no_grad()``: pygcn's
  ``self.weight.data.uniform_`` cannot run here, since minigrad's ``.data`` is the NumPy array by design, README
  "Coming from PyTorch"; the draws are overwritten with torch's anyway), ``support = torch.mm(input, self.weight)`` and
  ``output = torch.spmm(adj, support)``; the graph loaded as pygcn loads it (``torch.FloatTensor``,
  ``torch.LongTensor(range(...))`` splits, row-normalised features and a normalised adjacency with
  ``rowsum.pow(-0.5)``, ``r_inv[torch.isinf(r_inv)] = 0.`` and ``torch.diag``), ``F.dropout(x, self.dropout,
  training=self.training)``, ``F.log_softmax``/``F.nll_loss(output[idx_train], labels[idx_train])``,
  ``optim.Adam(lr=0.01, weight_decay=5e-4)`` and pygcn's ``accuracy`` (``output.max(1)[1].type_as(labels)``,
  ``preds.eq(labels).double()``, ``correct.sum() / len(labels)``). Its sparse adjacency
  (``adj.to_sparse()``, ``torch.sparse_coo_tensor(indices, values, shape)``) is refused by minigrad, which has
  no sparse tensors, with an error that says so;
* ``GAT`` mirrors Diego999/pyGAT (https://github.com/Diego999/pyGAT): ``nn.Parameter(torch.empty(size=...))``
  filled by ``nn.init.xavier_uniform_(self.W.data, gain=1.414)``, attention logits from the two halves of
  ``self.a`` (``Wh1 + Wh2.T`` through a ``LeakyReLU``), ``-9e15*torch.ones_like(e)`` and
  ``torch.where(adj > 0, e, zero_vec)`` to mask non-edges, ``F.softmax(attention, dim=1)``, heads held in a
  plain list and registered with ``self.add_module('attention_{}'.format(i), attention)``, concatenated with
  ``torch.cat(..., dim=1)``, ``F.elu``, and pyGAT's early stopping that saves the best epoch's state dict and
  loads it back;
* ``MESSAGE_PASSING`` is graph classification written by hand over an ``edge_index`` (2, E) LongTensor, in the
  way PyTorch Geometric's layers are commonly re-derived: messages gathered with ``x.index_select(0,
  edge_index[0])`` and summed with ``torch.zeros_like(x).index_add_(0, edge_index[1], x_j)``, degrees from
  ``torch.bincount(..., minlength=N)`` and from ``scatter_add_``, a max aggregator
  ``scatter_reduce_(0, index.unsqueeze(-1).expand(-1, F), src, reduce="amax", include_self=False)``, a mean
  aggregator divided by the degree ``.clamp(min=1)``, GCN's symmetric edge weights, a global mean pool over the
  batch vector with ``index_add_``, then a linear classifier; losses, every gradient of every step and the final
  weights are compared.

Dropout masks come from each engine's own generator. Where they are part of the computation compared,
``F.dropout`` of both libraries is replaced, only during the run, by a dropout that draws its keep-mask from one
NumPy stream (``_shared_dropout``): the programs' own calls and their ``training=self.training`` switch stay.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import MINIGRAD_IMPORTS, TORCH_IMPORTS, _assert_same_weights, _program, _twin_models

# pygcn imports Parameter from its module
TORCH_IMPORTS_GNN = TORCH_IMPORTS + "from torch.nn.parameter import Parameter\n"
MINIGRAD_IMPORTS_GNN = MINIGRAD_IMPORTS + "from minigrad.nn.parameter import Parameter\n"


GCN = '''
class GraphConvolution(nn.Module):
    """One graph convolution (Kipf & Welling): adj @ (input @ weight) + bias.

    input (N, in_features), adj (N, N), normalised -> (N, out_features).
    """

    def __init__(self, in_features, out_features, bias=True):
        super(GraphConvolution, self).__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(torch.FloatTensor(in_features, out_features))
        if bias:
            self.bias = Parameter(torch.FloatTensor(out_features))
        else:
            self.register_parameter('bias', None)
        self.reset_parameters()

    def reset_parameters(self):
        # PyTorch's current spelling of pygcn's self.weight.data.uniform_(-stdv, stdv)
        stdv = 1. / math.sqrt(self.weight.size(1))
        with torch.no_grad():
            self.weight.uniform_(-stdv, stdv)
            if self.bias is not None:
                self.bias.uniform_(-stdv, stdv)

    def forward(self, input, adj):
        support = torch.mm(input, self.weight)
        output = torch.spmm(adj, support)
        if self.bias is not None:
            return output + self.bias
        return output

    def __repr__(self):
        return self.__class__.__name__ + ' (' + str(self.in_features) + ' -> ' + str(self.out_features) + ')'


class GCN(nn.Module):
    """Two graph convolutions with a ReLU and dropout between: features (N, F) -> log-probabilities (N, C)."""

    def __init__(self, nfeat, nhid, nclass, dropout):
        super(GCN, self).__init__()
        self.gc1 = GraphConvolution(nfeat, nhid)
        self.gc2 = GraphConvolution(nhid, nclass)
        self.dropout = dropout

    def forward(self, x, adj):
        x = F.relu(self.gc1(x, adj))
        x = F.dropout(x, self.dropout, training=self.training)
        x = self.gc2(x, adj)
        return F.log_softmax(x, dim=1)


def row_normalize(mx):
    """Each row divided by its sum; an all-zero row stays zero (its 1/0 = inf is reset)."""
    rowsum = mx.sum(1)
    r_inv = rowsum.pow(-1)
    r_inv[torch.isinf(r_inv)] = 0.
    return torch.diag(r_inv).mm(mx)


def symmetric_normalize(adj):
    """D^-1/2 A D^-1/2 for the degree matrix D of A (a node of degree 0 keeps a zero row)."""
    rowsum = adj.sum(1)
    r_inv = rowsum.pow(-0.5)
    r_inv[torch.isinf(r_inv)] = 0.
    r_mat_inv = torch.diag(r_inv)
    return torch.mm(torch.mm(r_mat_inv, adj), r_mat_inv)


def to_sparse_coo(adj, legacy=False):
    """The nonzero entries of a dense matrix as a sparse COO tensor, as pygcn's scipy conversion builds it
    (``legacy``: with pygcn's own, deprecated, constructor)."""
    indices = adj.nonzero().t()
    values = adj[indices[0], indices[1]]
    if legacy:
        return torch.sparse.FloatTensor(indices, values, torch.Size(adj.shape))
    return torch.sparse_coo_tensor(indices, values, adj.shape)


def load_data(feature_rows, label_ids, edge_pairs, n_train, n_val, sparse=None):
    """The graph as pygcn's load_data returns it: (adj, features, labels, idx_train, idx_val, idx_test).

    ``sparse``: None keeps the adjacency dense, "to_sparse", "coo" or "legacy" makes it sparse in one of three ways.
    """
    features = torch.FloatTensor(feature_rows)
    labels = torch.LongTensor(label_ids)
    edges = torch.LongTensor(edge_pairs)
    n = labels.shape[0]
    adj = torch.zeros(n, n)
    adj[edges[:, 0], edges[:, 1]] = 1.
    adj = torch.max(adj, adj.t())            # undirected
    adj = symmetric_normalize(adj + torch.eye(n))
    features = row_normalize(features)
    if sparse == "to_sparse":
        adj = adj.to_sparse()
    elif sparse in ("coo", "legacy"):
        adj = to_sparse_coo(adj, legacy=sparse == "legacy")
    idx_train = torch.LongTensor(range(n_train))
    idx_val = torch.LongTensor(range(n_train, n_train + n_val))
    idx_test = torch.LongTensor(range(n_train + n_val, n))
    return adj, features, labels, idx_train, idx_val, idx_test


def accuracy(output, labels):
    preds = output.max(1)[1].type_as(labels)
    correct = preds.eq(labels).double()
    correct = correct.sum()
    return correct / len(labels)


def make_model(nfeat, nclass, nhid=8, dropout=0.5):
    return GCN(nfeat=nfeat, nhid=nhid, nclass=nclass, dropout=dropout)


def train(model, data, epochs, lr=0.01, weight_decay=5e-4):
    adj, features, labels, idx_train, idx_val, idx_test = data
    optimizer = optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    log = []
    for epoch in range(epochs):
        model.train()
        optimizer.zero_grad()
        output = model(features, adj)
        loss_train = F.nll_loss(output[idx_train], labels[idx_train])
        acc_train = accuracy(output[idx_train], labels[idx_train])
        loss_train.backward()
        optimizer.step()
        model.eval()   # validation without dropout
        output = model(features, adj)
        loss_val = F.nll_loss(output[idx_val], labels[idx_val])
        acc_val = accuracy(output[idx_val], labels[idx_val])
        log.append((epoch + 1, loss_train.item(), acc_train.item(), loss_val.item(), acc_val.item()))
    return log


def test(model, data):
    adj, features, labels, idx_train, idx_val, idx_test = data
    model.eval()
    output = model(features, adj)
    loss_test = F.nll_loss(output[idx_test], labels[idx_test])
    acc_test = accuracy(output[idx_test], labels[idx_test])
    return loss_test.item(), acc_test.item(), acc_test.dtype == torch.float64, output.detach()
'''


GAT = '''
class GraphAttentionLayer(nn.Module):
    """One attention head (Velickovic et al.): each node averages its neighbours' Wh with weights
    softmax_j(LeakyReLU(a . [Wh_i || Wh_j])) over the edges of adj.

    h (N, in_features), adj (N, N) -> (N, out_features).
    """

    def __init__(self, in_features, out_features, dropout, alpha, concat=True):
        super(GraphAttentionLayer, self).__init__()
        self.dropout = dropout
        self.in_features = in_features
        self.out_features = out_features
        self.alpha = alpha
        self.concat = concat
        self.W = nn.Parameter(torch.empty(size=(in_features, out_features)))
        nn.init.xavier_uniform_(self.W.data, gain=1.414)
        self.a = nn.Parameter(torch.empty(size=(2*out_features, 1)))
        nn.init.xavier_uniform_(self.a.data, gain=1.414)
        self.leakyrelu = nn.LeakyReLU(self.alpha)

    def forward(self, h, adj):
        Wh = torch.mm(h, self.W)
        e = self.attention_logits(Wh)
        zero_vec = -9e15*torch.ones_like(e)
        attention = torch.where(adj > 0, e, zero_vec)     # non-edges get ~no weight
        attention = F.softmax(attention, dim=1)
        attention = F.dropout(attention, self.dropout, training=self.training)
        h_prime = torch.matmul(attention, Wh)
        if self.concat:
            return F.elu(h_prime)
        return h_prime

    def attention_logits(self, Wh):
        # a . [Wh_i || Wh_j] = Wh_i . a_left + Wh_j . a_right, for all pairs by broadcasting
        Wh1 = torch.matmul(Wh, self.a[:self.out_features, :])
        Wh2 = torch.matmul(Wh, self.a[self.out_features:, :])
        e = Wh1 + Wh2.T
        return self.leakyrelu(e)


class GAT(nn.Module):
    """nheads concatenated attention heads, then one averaging head to the classes; log-probabilities (N, C)."""

    def __init__(self, nfeat, nhid, nclass, dropout, alpha, nheads):
        super(GAT, self).__init__()
        self.dropout = dropout
        self.attentions = [GraphAttentionLayer(nfeat, nhid, dropout=dropout, alpha=alpha, concat=True)
                           for _ in range(nheads)]
        for i, attention in enumerate(self.attentions):
            self.add_module('attention_{}'.format(i), attention)
        self.out_att = GraphAttentionLayer(nhid * nheads, nclass, dropout=dropout, alpha=alpha, concat=False)

    def forward(self, x, adj):
        x = F.dropout(x, self.dropout, training=self.training)
        x = torch.cat([att(x, adj) for att in self.attentions], dim=1)
        x = F.dropout(x, self.dropout, training=self.training)
        x = F.elu(self.out_att(x, adj))
        return F.log_softmax(x, dim=1)


def make_model(nfeat, nclass, nhid=4, nheads=3, dropout=0.6, alpha=0.2):
    return GAT(nfeat=nfeat, nhid=nhid, nclass=nclass, dropout=dropout, alpha=alpha, nheads=nheads)


def accuracy(output, labels):
    preds = output.max(1)[1].type_as(labels)
    correct = preds.eq(labels).double()
    return correct.sum() / len(labels)


def train(model, graph, epochs, path, patience=3, lr=0.005, weight_decay=5e-4):
    """pyGAT's loop: train, validate in eval mode, keep the best epoch's weights on disk, stop after
    ``patience`` epochs without a better validation loss, and load the best weights back."""
    features, adj, labels, idx_train, idx_val = graph
    optimizer = optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    log = []
    best, best_epoch, bad_counter = float('inf'), 0, 0
    for epoch in range(epochs):
        model.train()
        optimizer.zero_grad()
        output = model(features, adj)
        loss_train = F.nll_loss(output[idx_train], labels[idx_train])
        acc_train = accuracy(output[idx_train], labels[idx_train])
        loss_train.backward()
        optimizer.step()
        model.eval()
        output = model(features, adj)
        loss_val = F.nll_loss(output[idx_val], labels[idx_val])
        log.append((loss_train.data.item(), acc_train.data.item(), loss_val.data.item(),
                    accuracy(output[idx_val], labels[idx_val]).item()))
        if log[-1][2] < best:
            best, best_epoch, bad_counter = log[-1][2], epoch, 0
            torch.save(model.state_dict(), path)
        else:
            bad_counter += 1
        if bad_counter == patience:
            break
    model.load_state_dict(torch.load(path))
    return log, best_epoch


def attention_of(model, graph):
    """The first head's attention matrix (N, N) in eval mode."""
    features, adj, labels, idx_train, idx_val = graph
    model.eval()
    head = model.attention_0
    with torch.no_grad():
        e = head.attention_logits(torch.mm(features, head.W))
        return F.softmax(torch.where(adj > 0, e, -9e15*torch.ones_like(e)), dim=1)
'''


MESSAGE_PASSING = '''
class MeanMaxConv(nn.Module):
    """h_i' = relu(W_self h_i + W_mean mean_{j->i} h_j + W_max max_{j->i} h_j) over the edges j -> i.

    x (N, in_channels), edge_index (2, E) of (source, target) rows -> (N, out_channels). A node without
    incoming edges gets zero from both aggregators.
    """

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.lin_self = nn.Linear(in_channels, out_channels)
        self.lin_mean = nn.Linear(in_channels, out_channels, bias=False)
        self.lin_max = nn.Linear(in_channels, out_channels, bias=False)

    def forward(self, x, edge_index):
        num_nodes, channels = x.size()
        x_j = x.index_select(0, edge_index[0])                      # one message per edge, from its source
        summed = torch.zeros_like(x).index_add_(0, edge_index[1], x_j)
        # the int64 count cast to x's dtype: float32 / int64 is float64 under NumPy's promotion rules
        degree = torch.bincount(edge_index[1], minlength=num_nodes).clamp(min=1)
        mean = summed / degree.unsqueeze(-1).to(x.dtype)
        index = edge_index[1].unsqueeze(-1).expand(-1, channels)
        maxed = torch.zeros(num_nodes, channels).scatter_reduce_(0, index, x_j, reduce="amax", include_self=False)
        return F.relu(self.lin_self(x) + self.lin_mean(mean) + self.lin_max(maxed))


class NormalizedConv(nn.Module):
    """Kipf & Welling's propagation over edge_index: self-loops added, each edge weighted by
    1/sqrt(deg(source) deg(target)), messages W x_j summed at the target, plus a bias."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.lin = nn.Linear(in_channels, out_channels, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x, edge_index):
        num_nodes = x.size(0)
        loops = torch.arange(num_nodes).unsqueeze(0).repeat(2, 1)
        source, target = torch.cat([edge_index, loops], dim=1)
        deg = torch.zeros(num_nodes).scatter_add_(0, target, torch.ones(target.size(0)))
        deg_inv_sqrt = deg.pow(-0.5)
        deg_inv_sqrt[deg_inv_sqrt == float('inf')] = 0
        norm = deg_inv_sqrt[source] * deg_inv_sqrt[target]
        h = self.lin(x)
        messages = norm.view(-1, 1) * h[source]
        return torch.zeros_like(h).index_add_(0, target, messages) + self.bias


def global_mean_pool(x, batch, num_graphs):
    """The mean of each graph's node rows: x (N, C), batch (N,) graph ids -> (num_graphs, C)."""
    sums = torch.zeros(num_graphs, x.size(1)).index_add_(0, batch, x)
    counts = torch.bincount(batch, minlength=num_graphs).clamp(min=1).float()
    return sums / counts.unsqueeze(1)


class GraphClassifier(nn.Module):
    def __init__(self, in_channels, hidden, classes):
        super().__init__()
        self.conv1 = MeanMaxConv(in_channels, hidden)
        self.conv2 = NormalizedConv(hidden, hidden)
        self.classify = nn.Linear(hidden, classes)

    def forward(self, x, edge_index, batch, num_graphs):
        h = self.conv1(x, edge_index)
        h = F.relu(self.conv2(h, edge_index))
        return self.classify(global_mean_pool(h, batch, num_graphs))


def collate(graphs):
    """Graphs (x (n_i, C), edge_index (2, E_i), label) as one disconnected graph: node rows stacked, edge ids
    shifted by the nodes before, a batch vector naming each node's graph."""
    xs, edges, batch, labels = [], [], [], []
    offset = 0
    for i, (x, edge_index, label) in enumerate(graphs):
        x = torch.from_numpy(x)
        xs.append(x)
        edges.append(torch.from_numpy(edge_index) + offset)
        batch.append(torch.full((x.size(0),), i, dtype=torch.long))
        labels.append(label)
        offset += x.size(0)
    return torch.cat(xs), torch.cat(edges, dim=1), torch.cat(batch), torch.tensor(labels)


def make_model(in_channels, classes, hidden=6):
    return GraphClassifier(in_channels, hidden, classes)


def train(model, graphs, epochs, batch_size=4):
    optimizer = optim.Adam(model.parameters(), lr=0.02)
    criterion = nn.CrossEntropyLoss()
    losses, grads = [], []
    for epoch in range(epochs):
        for first in range(0, len(graphs), batch_size):
            x, edge_index, batch, labels = collate(graphs[first:first + batch_size])
            optimizer.zero_grad()
            loss = criterion(model(x, edge_index, batch, labels.size(0)), labels)
            loss.backward()
            grads.append({name: p.grad.clone() for name, p in model.named_parameters()})
            optimizer.step()
            losses.append(loss.item())
    return losses, grads


@torch.no_grad()
def predict(model, graphs):
    model.eval()
    x, edge_index, batch, labels = collate(graphs)
    logits = model(x, edge_index, batch, labels.size(0))
    return logits.argmax(dim=1).tolist(), logits
'''

PROGRAMS = (GCN, GAT, MESSAGE_PASSING)


def _twins(source: str, *args: Any) -> tuple:
    """Both programs and their ``make_model(*args)``, minigrad's loaded with torch's initial weights."""
    return _twin_models(source, *args, imports=(TORCH_IMPORTS_GNN, MINIGRAD_IMPORTS_GNN))


def _shared_dropout(monkeypatch: pytest.MonkeyPatch, torch: Any, seed: int) -> None:
    """``F.dropout`` of both libraries keeps, in call order, the elements a float32 NumPy stream picks (one stream
    each, of the same seed), scaled by 1/(1-p) as PyTorch's, on the input's device; off when ``training`` is False
    or p is 0."""
    import minigrad as mg  # noqa: PLC0415
    import nn  # noqa: PLC0415

    for functional, wrap in ((torch.nn.functional, torch.from_numpy), (nn.functional, mg.from_numpy)):
        rng = np.random.default_rng(seed)

        def dropout(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False,  # noqa: A002
                    rng: np.random.Generator = rng, wrap: Any = wrap) -> Any:
            assert not inplace
            if not training or p == 0:
                return input
            keep = (rng.random(tuple(input.shape)) >= p).astype(np.float32) / np.float32(1 - p)
            return input * wrap(keep).to(input.device)   # the host's mask on the input's device (a GPU too)

        monkeypatch.setattr(functional, "dropout", dropout)


def test_the_programs_differ_only_in_their_imports() -> None:
    assert TORCH_IMPORTS_GNN.count("\n") == MINIGRAD_IMPORTS_GNN.count("\n") == 6
    assert TORCH_IMPORTS_GNN.splitlines()[5].replace("torch", "minigrad") == MINIGRAD_IMPORTS_GNN.splitlines()[5]
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. GCN (pygcn)


def _citation_graph(seed: int, nodes: int = 30, classes: int = 3, feature_count: int = 12) -> tuple:
    """A planted-partition graph: (binary features (N, F) with two all-zero rows, labels (N,), edges (E, 2)).

    Nodes link mostly inside their class and carry mostly their class's words, as in Cora.
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, nodes)
    same = labels[:, None] == labels[None, :]
    linked = np.triu(rng.random((nodes, nodes)) < np.where(same, 0.3, 0.03), 1)
    edges = np.argwhere(linked).astype(np.int64)
    words = rng.random((nodes, feature_count)) < 0.15
    own_words = np.arange(feature_count)[None, :] % classes == labels[:, None]
    words |= own_words & (rng.random((nodes, feature_count)) < 0.5)
    features = words.astype(np.float32)
    features[[3, 17]] = 0.   # nodes without words: row_normalize's 1/0 is reset to 0
    return features, labels.astype(np.int64), edges


def _gcn_data(program: dict, graph: tuple, sparse: str | None = None) -> tuple:
    return program["load_data"](*graph, n_train=12, n_val=8, sparse=sparse)


def test_gcn_with_shared_dropout(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """pygcn's train/test loop, its dropout 0.5 included (the masks shared), every epoch's numbers compared."""
    graph = _citation_graph(0)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(GCN, 12, 3)
    _shared_dropout(monkeypatch, torch, 1)
    log = mg_program["train"](mg_model, _gcn_data(mg_program, graph), 15)
    expected = torch_program["train"](torch_model, _gcn_data(torch_program, graph), 15)
    np.testing.assert_allclose(log, expected, rtol=1e-5, atol=1e-6)
    assert log[-1][2] > log[0][2]   # it learns
    _assert_same_weights(torch_model, mg_model, initial)
    loss, acc, is_double, output = mg_program["test"](mg_model, _gcn_data(mg_program, graph))
    torch_loss, torch_acc, torch_is_double, torch_output = torch_program["test"](
        torch_model, _gcn_data(torch_program, graph))
    assert (loss, acc) == pytest.approx((torch_loss, torch_acc), rel=1e-5)
    assert is_double and torch_is_double   # preds.eq(labels).double(): the accuracy is float64 in both
    np.testing.assert_allclose(output.numpy(), torch_output.numpy(), rtol=1e-5, atol=1e-6)


def test_gcn_normalised_graph_is_pygcns(torch: Any) -> None:
    """The loaded graph: symmetric adjacency normalisation, zero feature rows kept zero, the index splits."""
    graph = _citation_graph(0)
    ours = _gcn_data(_program(GCN, MINIGRAD_IMPORTS_GNN), graph)
    theirs = _gcn_data(_program(GCN, TORCH_IMPORTS_GNN), graph)
    for name, a, b in zip(("adj", "features", "labels", "idx_train", "idx_val", "idx_test"), ours, theirs):
        assert a.dtype == b.numpy().dtype and a.shape == tuple(b.shape), name
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, err_msg=name)
    assert not ours[1].numpy()[[3, 17]].any() and np.isfinite(ours[1].numpy()).all()
    assert ours[3].tolist() == list(range(12)) and ours[5].tolist() == list(range(20, 30))


@pytest.mark.filterwarnings("ignore:Sparse invariant checks:UserWarning", "ignore:torch.sparse.SparseTensor")
@pytest.mark.parametrize(("sparse", "error"), [("to_sparse", NotImplementedError), ("coo", NotImplementedError),
                                               ("legacy", AttributeError)])
def test_gcn_sparse_adjacency_is_refused_clearly(torch: Any, sparse: str, error: type) -> None:
    """pygcn keeps adj sparse for torch.spmm; minigrad has no sparse tensors and says so (torch runs it):
    ``to_sparse``/``sparse_coo_tensor`` raise NotImplementedError, ``mg.sparse`` is an AttributeError (so
    ``hasattr`` stays False), each naming the dense way."""
    graph = _citation_graph(0)
    torch_program = _program(GCN, TORCH_IMPORTS_GNN)
    adj = _gcn_data(torch_program, graph, sparse)[0]
    assert adj.is_sparse and torch.equal(adj.to_dense(), _gcn_data(torch_program, graph)[0])
    with pytest.raises(error, match="minigrad has no sparse tensors.*index_put_"):
        _gcn_data(_program(GCN, MINIGRAD_IMPORTS_GNN), graph, sparse)


# ----------------------------------------------------------------------------- 2. GAT (pyGAT)


def _gat_graph(program: dict, graph: tuple, n_train: int = 12, n_val: int = 8) -> tuple:
    """(features, adj with self-loops (N, N), labels, idx_train, idx_val) as pyGAT's loader gives them."""
    lib = program["torch"]
    features, labels, edges = graph
    adj = np.eye(len(labels), dtype=np.float32)
    adj[edges[:, 0], edges[:, 1]] = adj[edges[:, 1], edges[:, 0]] = 1.
    adj /= adj.sum(1, keepdims=True)
    return (lib.from_numpy(features + 0.1), lib.from_numpy(adj), lib.from_numpy(labels),
            lib.arange(n_train), lib.arange(n_train, n_train + n_val))


def test_gat_with_shared_dropout_and_early_stopping(torch: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """pyGAT's training loop (dropout 0.6 on inputs, hidden features and attention, masks shared), early stopping
    on the validation loss with the best state dict saved and loaded back."""
    graph = _citation_graph(2)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(GAT, 12, 3)
    assert list(mg_model.state_dict()) == list(torch_model.state_dict()) == [
        "attention_0.W", "attention_0.a", "attention_1.W", "attention_1.a", "attention_2.W", "attention_2.a",
        "out_att.W", "out_att.a"]   # the heads in the plain list are registered by add_module only
    _shared_dropout(monkeypatch, torch, 3)
    log, best_epoch = mg_program["train"](mg_model, _gat_graph(mg_program, graph), 25, str(tmp_path / "mg.pkl"),
                                          lr=0.1)
    expected, expected_best = torch_program["train"](torch_model, _gat_graph(torch_program, graph), 25,
                                                     str(tmp_path / "torch.pkl"), lr=0.1)
    # it learns, then stops 3 epochs after its best validation loss
    assert (len(log), best_epoch) == (len(expected), expected_best) == (20, 16)
    assert log[best_epoch][2] < 0.6 * log[0][2]
    np.testing.assert_allclose(log, expected, rtol=1e-5, atol=1e-6)
    _assert_same_weights(torch_model, mg_model, initial)   # the best epoch's weights, loaded back
    attention = mg_program["attention_of"](mg_model, _gat_graph(mg_program, graph))
    torch_attention = torch_program["attention_of"](torch_model, _gat_graph(torch_program, graph))
    # 17 Adam steps at lr 0.1 apart: float32 rounding has moved the weights by ~1e-5 relative
    np.testing.assert_allclose(attention.numpy(), torch_attention.numpy(), rtol=1e-4, atol=1e-6)
    adj = _gat_graph(mg_program, graph)[1].numpy()
    assert (attention.numpy()[adj == 0] == 0).all()   # exp(-9e15 - max) underflows: non-edges get exactly 0
    np.testing.assert_allclose(attention.numpy().sum(1), 1, rtol=1e-6)


# ----------------------------------------------------------------------------- 3. message passing by hand


def _small_graphs(seed: int, count: int, channels: int = 5) -> list:
    """(x (n, C) float32, edge_index (2, E) int64, label) graphs: label 0 a directed ring, 1 a star whose
    leaves point at the hub, plus one isolated node in every third graph (it receives no message)."""
    rng = np.random.default_rng(seed)
    graphs = []
    for i in range(count):
        label, n = int(rng.integers(0, 2)), int(rng.integers(4, 7))
        if label == 0:
            edges = [(k, (k + 1) % n) for k in range(n)]
        else:
            edges = [(k, 0) for k in range(1, n)] + [(0, 1)]
        x = rng.standard_normal((n + (i % 3 == 0), channels)).astype(np.float32) + label * 0.3
        graphs.append((x, np.array(edges, dtype=np.int64).T.copy(), label))
    return graphs


def test_message_passing_graph_classifier(torch: Any) -> None:
    """Mean and max aggregation, GCN-normalised propagation and a global mean pool written with index_select,
    index_add_, bincount, scatter_add_ and scatter_reduce_: every loss, every gradient, the final weights."""
    graphs = _small_graphs(0, 12)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(MESSAGE_PASSING, 5, 2)
    losses, grads = mg_program["train"](mg_model, graphs, 3)
    expected, expected_grads = torch_program["train"](torch_model, graphs, 3)
    np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-6)
    assert len(grads) == len(expected_grads) == 9
    for step, (ours, theirs) in enumerate(zip(grads, expected_grads)):
        assert list(ours) == list(theirs)
        for name in ours:
            np.testing.assert_allclose(ours[name].numpy(), theirs[name].numpy(), rtol=1e-4, atol=1e-6,
                                       err_msg=f"step {step}: {name}")
    _assert_same_weights(torch_model, mg_model, initial)
    predicted, logits = mg_program["predict"](mg_model, graphs)
    expected_predicted, expected_logits = torch_program["predict"](torch_model, graphs)
    assert predicted == expected_predicted
    np.testing.assert_allclose(logits.numpy(), expected_logits.numpy(), rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- what the programs needed


def test_nn_parameter_module_names_the_same_classes() -> None:
    """``from torch.nn.parameter import Parameter`` (pygcn's import) has a minigrad spelling."""
    from minigrad.nn.parameter import Buffer, Parameter  # noqa: PLC0415

    import nn  # noqa: PLC0415

    assert Parameter is nn.Parameter and Buffer is nn.Buffer


def test_legacy_constructors_take_a_range(torch: Any) -> None:
    """``torch.LongTensor(range(n))`` (pygcn's index splits) and ``torch.Tensor(range(...))``."""
    import minigrad as mg  # noqa: PLC0415

    for ours, theirs in ((mg.LongTensor(range(2, 6)), torch.LongTensor(range(2, 6))),
                         (mg.FloatTensor(range(3)), torch.FloatTensor(range(3))),
                         (mg.Tensor(range(0)), torch.Tensor(range(0)))):
        assert ours.dtype == theirs.numpy().dtype and ours.tolist() == theirs.tolist()
    with pytest.raises(TypeError, match="generator"):
        mg.Tensor(i for i in range(3))   # torch refuses a generator too


def test_spmm_of_dense_matrices_is_their_product(torch: Any) -> None:
    """``torch.spmm`` on a dense first matrix (pygcn with a dense adjacency): mm's value and gradients, in
    float64, and the errors name spmm."""
    import minigrad as mg  # noqa: PLC0415

    rng = np.random.default_rng(0)
    adj, support = rng.standard_normal((4, 4)), rng.standard_normal((4, 3))
    a, b = mg.tensor(adj, requires_grad=True), mg.tensor(support, requires_grad=True)
    ta, tb = torch.tensor(adj, requires_grad=True), torch.tensor(support, requires_grad=True)
    out, expected = mg.spmm(a, b), torch.spmm(ta, tb)
    assert out.dtype == mg.float64 and out.shape == (4, 3)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-12)
    (out * out).sum().backward()
    (expected * expected).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-12)
    assert mg.gradcheck(mg.spmm, (a.detach().requires_grad_(), b.detach().requires_grad_()))
    with pytest.raises(ValueError, match=r"spmm: .*\(4,\) and \(4, 3\)"):
        mg.spmm(a[0], b)


def test_no_sparse_namespace() -> None:
    """``mg.sparse`` does not exist (``hasattr`` is False) and its error says why, as the refusals do."""
    import minigrad as mg  # noqa: PLC0415

    assert not hasattr(mg, "sparse") and not hasattr(mg, "sparse_csr_tensor")
    with pytest.raises(AttributeError, match="no sparse tensors"):
        mg.sparse.mm   # noqa: B018
    with pytest.raises(AttributeError, match="'nothing_here'$"):
        mg.nothing_here   # noqa: B018 - other missing names keep the plain message


def test_float_divided_by_an_integer_count_follows_numpy(torch: Any) -> None:
    """DESIGN 3, kept on purpose: float32 / int64 (a sum over a bincount degree) is float64 here, NumPy 2's
    promotion; torch gives float32. The message-passing program casts the count to x's dtype first."""
    import minigrad as mg  # noqa: PLC0415

    index = [0, 1, 1]
    assert (mg.ones(2, 2) / mg.bincount(mg.tensor(index)).unsqueeze(-1)).dtype == mg.float64
    assert (torch.ones(2, 2) / torch.bincount(torch.tensor(index)).unsqueeze(-1)).dtype == torch.float32


@pytest.mark.parametrize("name", ["GCN", "GAT"])
def test_gcn_and_gat_in_float64(torch: Any, name: str, tmp_path: Any) -> None:
    """``model.double()`` with float64 features and adjacency, dropout off: the training logs agree to 1e-10."""
    graph = _citation_graph(0)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(globals()[name], 12, 3)
    logs = []
    for program, model in ((torch_program, torch_model), (mg_program, mg_model)):
        model.double()
        for module in model.modules():
            if hasattr(module, "dropout"):
                module.dropout = 0.0
        if name == "GCN":
            adj, features, *rest = _gcn_data(program, graph)
            logs.append(program["train"](model, (adj.double(), features.double(), *rest), 8))
        else:
            features, adj, *rest = _gat_graph(program, graph)
            logs.append(program["train"](model, (features.double(), adj.double(), *rest), 8,
                                         str(tmp_path / f"{len(logs)}.pkl"))[0])
    assert next(mg_model.parameters()).dtype == np.float64
    np.testing.assert_allclose(logs[1], logs[0], rtol=1e-10, atol=1e-12)
