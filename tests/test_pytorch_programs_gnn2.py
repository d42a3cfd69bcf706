"""Four more graph and point-cloud networks, small, run unchanged on minigrad: only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch program (no torch_geometric), keeping the
original's PyTorch calls in the same roles with our own names, structure and comments, on generated data and a
few steps (the helpers and the rule come from tests/test_pytorch_programs.py; GCN, GAT and a hand-written
message-passing classifier are in tests/test_pytorch_programs_gnn.py and are not repeated):

* ``GRAPHSAGE`` follows the SAGEConv of Hamilton et al. as PyTorch Geometric's layer and its mini-batch example
  compute it, written over an ``edge_index``: a mean aggregator (``index_add_`` divided by the ``bincount``
  degree ``.clamp(min=1)``) and a max aggregator (``scatter_reduce(..., reduce="amax", include_self=False)``),
  root and neighbour ``Linear`` maps, ``F.normalize``; each mini-batch keeps at most ``num_samples`` incoming
  edges per node, picked by a ``torch.randperm`` of the edges, a stable ``torch.sort`` by target and a rank
  within each target from ``cumsum`` of the degrees; training batches from ``randperm(...).split(...)``, Adam;
* ``GIN`` follows the graph isomorphism network of Xu et al. (PyG's GINConv and its TU-dataset example):
  ``(1 + eps) * x + sum_j x_j`` with ``eps`` a ``Parameter(torch.Tensor([0.]))`` (or a buffer when not trained),
  MLPs with ``BatchNorm1d``, node features ``F.one_hot`` of the ``bincount`` degree, ``global_add_pool`` over the
  batch vector with ``scatter_add_``, the readout of every layer concatenated, ``F.cross_entropy``, Adam and
  ``StepLR``, eval-mode accuracy with the running statistics;
* ``DGCNN`` mirrors WangYueFT/dgcnn's PyTorch model (https://github.com/WangYueFT/dgcnn): ``knn`` from
  ``-2 x^T x`` and the squared norms, ``topk(k=k, dim=-1)[1]``, ``get_graph_feature`` gathering neighbours with
  ``idx + idx_base`` and ``view(batch_size * num_points, -1)[idx, :]``, edge features
  ``cat((feature - x, x), dim=3).permute(0, 3, 1, 2)``, ``Conv2d``/``BatchNorm2d``/``LeakyReLU`` then
  ``max(dim=-1)[0]``, ``adaptive_max_pool1d``/``adaptive_avg_pool1d``, and its label-smoothed ``cal_loss``
  (``zeros_like(pred).scatter(1, gold.view(-1, 1), 1)``);
* ``POINTNET`` mirrors fxia22/pointnet.pytorch (https://github.com/fxia22/pointnet.pytorch): the T-Net ``STN3d``
  and the feature ``STNkd`` (``Conv1d``, ``BatchNorm1d``, ``torch.max(x, 2, keepdim=True)[0]``, the identity
  added as ``torch.eye(k).flatten().view(1, k * k).repeat(batchsize, 1)``), ``torch.bmm`` of the points by the
  learned transform, ``feature_transform_regularizer`` (mean over the batch of ``||A A^T - I||`` by
  ``torch.norm(..., dim=(1, 2))``), ``nll_loss`` plus 0.001 times the regulariser, Adam + StepLR, and a random
  rotation about the up axis plus jitter drawn in the program with ``torch.rand``/``torch.randn_like``.

Random draws that are part of the computation (GraphSAGE's permutations, PointNet's augmentation, dropout) are
made the same numbers in both runs with the shared-draw helpers of the other program files.

What they found: the values, gradients and dtypes all agreed with torch at once; the refusals these programs
meet (a float64 source for ``index_add_``, an edge index past the node count in ``gather``/``scatter_add``, a
negative or 2-D ``bincount`` input, a float ``index_select`` index, ``bmm`` of mismatched batches, ``repeat``
with too few counts) raised NumPy's class only, and now raise PyTorch's RuntimeError as well. Two habits of the
originals are written around, not changed: ``pred.data`` (minigrad's ``.data`` is the array, README), and a
Linear bias right before BatchNorm under Adam (its true gradient is 0, so Adam steps it by lr along the sign of
float rounding noise, differently in any two libraries, and the running means follow): GIN's MLP drops that bias,
and PointNet, which keeps pointnet.pytorch's biased convolutions, is compared in float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import MINIGRAD_IMPORTS, TORCH_IMPORTS, _assert_same_weights, _twin_models
from tests.test_pytorch_programs_generative import _shared_draws as _shared_normal_draws
from tests.test_pytorch_programs_gnn import _citation_graph, _shared_dropout
from tests.test_pytorch_programs_vision import _shared_draws as _shared_randperm

GRAPHSAGE = '''
class SAGEConv(nn.Module):
    """h_i' = W_neigh aggr_{j->i} h_j + W_root h_i, optionally L2-normalised; aggr is 'mean' or 'max'.

    x (N, in_channels), edge_index (2, E) of (source, target) rows -> (N, out_channels). A node that
    receives no message aggregates to zero.
    """

    def __init__(self, in_channels, out_channels, aggr='mean', normalize=False):
        super().__init__()
        self.aggr = aggr
        self.normalize = normalize
        self.lin_l = nn.Linear(in_channels, out_channels)
        self.lin_r = nn.Linear(in_channels, out_channels, bias=False)

    def aggregate(self, x_j, target, num_nodes):
        out = torch.zeros(num_nodes, x_j.size(1), dtype=x_j.dtype)
        if self.aggr == 'mean':
            out = out.index_add_(0, target, x_j)
            deg = torch.bincount(target, minlength=num_nodes).clamp(min=1)
            return out / deg.view(-1, 1).to(x_j.dtype)
        index = target.view(-1, 1).expand_as(x_j)
        return out.scatter_reduce(0, index, x_j, reduce='amax', include_self=False)

    def forward(self, x, edge_index):
        source, target = edge_index
        out = self.lin_l(self.aggregate(x[source], target, x.size(0))) + self.lin_r(x)
        if self.normalize:
            out = F.normalize(out, p=2., dim=-1)
        return out


class GraphSAGE(nn.Module):
    def __init__(self, in_channels, hidden_channels, out_channels, dropout=0.5):
        super().__init__()
        self.convs = nn.ModuleList([SAGEConv(in_channels, hidden_channels, aggr='mean', normalize=True),
                                    SAGEConv(hidden_channels, out_channels, aggr='max')])
        self.dropout = dropout

    def forward(self, x, edge_index):
        x = F.relu(self.convs[0](x, edge_index))
        x = F.dropout(x, p=self.dropout, training=self.training)
        return self.convs[1](x, edge_index).log_softmax(dim=-1)


def to_undirected(edges):
    """(E, 2) pairs -> (2, 2E) edge_index with both directions."""
    edge_index = edges.t()
    return torch.cat([edge_index, edge_index.flip(0)], dim=1)


def sample_neighbors(edge_index, num_nodes, num_samples):
    """At most num_samples incoming edges per node, the ones a random permutation of the edges puts first."""
    perm = torch.randperm(edge_index.size(1))
    source, target = edge_index[:, perm]
    target, order = torch.sort(target, stable=True)
    source = source[order]
    counts = torch.bincount(target, minlength=num_nodes)
    first = torch.cumsum(counts, dim=0) - counts
    rank = torch.arange(target.numel()) - first[target]
    keep = rank < num_samples
    return torch.stack([source[keep], target[keep]], dim=0)


def make_model(in_channels, classes, hidden=8, dropout=0.5):
    return GraphSAGE(in_channels, hidden, classes, dropout=dropout)


def train(model, data, epochs, batch_size=5, num_samples=2, lr=0.01):
    x, y, edge_index, train_idx = data
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    log = []
    for epoch in range(epochs):
        model.train()
        for batch in train_idx[torch.randperm(train_idx.numel())].split(batch_size):
            sampled = sample_neighbors(edge_index, x.size(0), num_samples)
            optimizer.zero_grad()
            out = model(x, sampled)
            loss = F.nll_loss(out[batch], y[batch])
            loss.backward()
            optimizer.step()
            log.append((loss.item(), sampled.size(1)))
    return log


@torch.no_grad()
def test(model, data):
    """Full-neighbourhood inference: (accuracy on all nodes, log-probabilities (N, C))."""
    x, y, edge_index, train_idx = data
    model.eval()
    out = model(x, edge_index)
    return int((out.argmax(dim=-1) == y).sum()) / y.size(0), out
'''


GIN = '''
class GINConv(nn.Module):
    """h_i' = mlp((1 + eps) h_i + sum_{j->i} h_j); eps a learned scalar (a fixed buffer when train_eps is False).

    x (N, C_in), edge_index (2, E) of (source, target) rows -> (N, C_out).
    """

    def __init__(self, mlp, eps=0., train_eps=False):
        super().__init__()
        self.nn = mlp
        if train_eps:
            self.eps = nn.Parameter(torch.Tensor([eps]))
        else:
            self.register_buffer('eps', torch.Tensor([eps]))

    def forward(self, x, edge_index):
        source, target = edge_index
        aggregated = torch.zeros_like(x).index_add_(0, target, x.index_select(0, source))
        return self.nn((1 + self.eps) * x + aggregated)


def mlp(in_channels, hidden):
    # no bias before BatchNorm: BN removes it, and its exactly-zero gradient would make Adam step on rounding noise
    return nn.Sequential(nn.Linear(in_channels, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(),
                         nn.Linear(hidden, hidden), nn.ReLU())


def global_add_pool(x, batch, size=None):
    """The sum of each graph's node rows: x (N, C), batch (N,) graph ids -> (size, C)."""
    size = int(batch.max().item()) + 1 if size is None else size
    index = batch.unsqueeze(-1).expand(-1, x.size(-1))
    return torch.zeros(size, x.size(-1), dtype=x.dtype).scatter_add_(0, index, x)


class GIN(nn.Module):
    """GIN layers, each layer's sum-pooled graph embedding concatenated, then a two-layer classifier."""

    def __init__(self, in_channels, hidden, classes, num_layers=3, dropout=0.5):
        super().__init__()
        self.convs = nn.ModuleList()
        for layer in range(num_layers):
            # the first layer learns eps, the others keep it at 0 (GIN-0), as the paper compares
            self.convs.append(GINConv(mlp(in_channels if layer == 0 else hidden, hidden), train_eps=layer == 0))
        self.lin1 = nn.Linear(num_layers * hidden, hidden)
        self.lin2 = nn.Linear(hidden, classes)
        self.dropout = dropout

    def forward(self, x, edge_index, batch):
        pooled = []
        for conv in self.convs:
            x = conv(x, edge_index)
            pooled.append(global_add_pool(x, batch))
        h = F.relu(self.lin1(torch.cat(pooled, dim=1)))
        h = F.dropout(h, p=self.dropout, training=self.training)
        return self.lin2(h)


def degree_features(edge_index, num_nodes, max_degree=4):
    """One-hot in-degree (capped) as node features: (N, max_degree + 1) float32."""
    degree = torch.bincount(edge_index[1], minlength=num_nodes).clamp(max=max_degree)
    return F.one_hot(degree, num_classes=max_degree + 1).float()


def collate(graphs):
    """(num_nodes, edge_index (2, E), label) graphs as one disconnected graph and a batch vector."""
    xs, edges, batch, labels = [], [], [], []
    offset = 0
    for i, (num_nodes, edge_index, label) in enumerate(graphs):
        edge_index = torch.from_numpy(edge_index)
        xs.append(degree_features(edge_index, num_nodes))
        edges.append(edge_index + offset)
        batch.append(torch.full((num_nodes,), i, dtype=torch.long))
        labels.append(label)
        offset += num_nodes
    return torch.cat(xs, dim=0), torch.cat(edges, dim=1), torch.cat(batch), torch.tensor(labels)


def make_model(classes, hidden=8):
    return GIN(5, hidden, classes)


def train(model, graphs, epochs, batch_size=4, lr=0.01):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    log = []
    for epoch in range(epochs):
        model.train()
        total = 0.
        for first in range(0, len(graphs), batch_size):
            x, edge_index, batch, y = collate(graphs[first:first + batch_size])
            optimizer.zero_grad()
            out = model(x, edge_index, batch)
            loss = F.cross_entropy(out, y)
            loss.backward()
            optimizer.step()
            total += loss.item() * y.size(0)
        scheduler.step()
        log.append((total / len(graphs), evaluate(model, graphs), scheduler.get_last_lr()[0]))
    return log


@torch.no_grad()
def evaluate(model, graphs):
    model.eval()
    x, edge_index, batch, y = collate(graphs)
    return (model(x, edge_index, batch).argmax(dim=1) == y).sum().item() / len(graphs)
'''


DGCNN = '''
def knn(x, k):
    """x (B, C, N) -> the k nearest points of each point (itself included), indices (B, N, k)."""
    inner = -2 * torch.matmul(x.transpose(2, 1), x)
    xx = torch.sum(x ** 2, dim=1, keepdim=True)
    pairwise_distance = -xx - inner - xx.transpose(2, 1)       # minus the squared distances
    return pairwise_distance.topk(k=k, dim=-1)[1]


def get_graph_feature(x, k=4, idx=None):
    """Edge features (x_j - x_i, x_i) over each point's k nearest neighbours: x (B, C, N) -> (B, 2C, N, k)."""
    batch_size = x.size(0)
    num_points = x.size(2)
    x = x.view(batch_size, -1, num_points)
    if idx is None:
        idx = knn(x, k=k)
    idx_base = torch.arange(0, batch_size, device=x.device).view(-1, 1, 1) * num_points
    idx = idx + idx_base
    idx = idx.view(-1)
    _, num_dims, _ = x.size()
    x = x.transpose(2, 1).contiguous()
    feature = x.view(batch_size * num_points, -1)[idx, :]
    feature = feature.view(batch_size, num_points, k, num_dims)
    x = x.view(batch_size, num_points, 1, num_dims).repeat(1, 1, k, 1)
    return torch.cat((feature - x, x), dim=3).permute(0, 3, 1, 2).contiguous()


class DGCNN(nn.Module):
    """Two EdgeConv blocks on a dynamic k-NN graph, a shared point MLP, max+mean pooling, an MLP head.

    points (B, 3, N) -> logits (B, output_channels).
    """

    def __init__(self, k=4, emb_dims=16, dropout=0.5, output_channels=3):
        super(DGCNN, self).__init__()
        self.k = k
        self.bn1 = nn.BatchNorm2d(8)
        self.bn2 = nn.BatchNorm2d(8)
        self.bn3 = nn.BatchNorm1d(emb_dims)
        self.conv1 = nn.Sequential(nn.Conv2d(6, 8, kernel_size=1, bias=False), self.bn1,
                                   nn.LeakyReLU(negative_slope=0.2))
        self.conv2 = nn.Sequential(nn.Conv2d(8 * 2, 8, kernel_size=1, bias=False), self.bn2,
                                   nn.LeakyReLU(negative_slope=0.2))
        self.conv3 = nn.Sequential(nn.Conv1d(16, emb_dims, kernel_size=1, bias=False), self.bn3,
                                   nn.LeakyReLU(negative_slope=0.2))
        self.linear1 = nn.Linear(emb_dims * 2, 12, bias=False)
        self.bn4 = nn.BatchNorm1d(12)
        self.dp1 = nn.Dropout(p=dropout)
        self.linear2 = nn.Linear(12, output_channels)

    def forward(self, x):
        batch_size = x.size(0)
        x = get_graph_feature(x, k=self.k)
        x1 = self.conv1(x).max(dim=-1, keepdim=False)[0]
        x = get_graph_feature(x1, k=self.k)       # the graph is rebuilt in feature space
        x2 = self.conv2(x).max(dim=-1, keepdim=False)[0]
        x = self.conv3(torch.cat((x1, x2), dim=1))
        x1 = F.adaptive_max_pool1d(x, 1).view(batch_size, -1)
        x2 = F.adaptive_avg_pool1d(x, 1).view(batch_size, -1)
        x = torch.cat((x1, x2), 1)
        x = F.leaky_relu(self.bn4(self.linear1(x)), negative_slope=0.2)
        return self.linear2(self.dp1(x))


def cal_loss(pred, gold, smoothing=True):
    """Cross-entropy with label smoothing eps = 0.2 spread over the other classes."""
    gold = gold.contiguous().view(-1)
    if smoothing:
        eps = 0.2
        n_class = pred.size(1)
        one_hot = torch.zeros_like(pred).scatter(1, gold.view(-1, 1), 1)
        one_hot = one_hot * (1 - eps) + (1 - one_hot) * eps / (n_class - 1)
        log_prb = F.log_softmax(pred, dim=1)
        return -(one_hot * log_prb).sum(dim=1).mean()
    return F.cross_entropy(pred, gold, reduction='mean')


def make_model(classes, dropout=0.5):
    return DGCNN(output_channels=classes, dropout=dropout)


def train(model, points, labels, epochs, batch_size=4, lr=0.01):
    """points (M, N, 3) as the loader gives them; each batch is permuted to (B, 3, N)."""
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    log = []
    for epoch in range(epochs):
        model.train()
        for first in range(0, points.size(0), batch_size):
            data = points[first:first + batch_size].permute(0, 2, 1)
            label = labels[first:first + batch_size]
            opt.zero_grad()
            logits = model(data)
            loss = cal_loss(logits, label)
            loss.backward()
            opt.step()
            preds = logits.max(dim=1)[1]
            log.append((loss.item(), (preds == label).sum().item()))
    return log


def predict(model, points):
    model.eval()
    with torch.no_grad():
        logits = model(points.permute(0, 2, 1))
    return logits.max(dim=1)[1].tolist(), logits, knn(points.permute(0, 2, 1), 4)
'''


POINTNET = '''
class STNkd(nn.Module):
    """A T-Net: a point MLP, a max over the points and an MLP regress a k x k transform, identity added.

    x (B, k, N) -> (B, k, k).
    """

    def __init__(self, k=3, width=16):
        super(STNkd, self).__init__()
        self.k = k
        self.conv1 = torch.nn.Conv1d(k, width, 1)
        self.conv2 = torch.nn.Conv1d(width, 2 * width, 1)
        self.conv3 = torch.nn.Conv1d(2 * width, 4 * width, 1)
        self.fc1 = nn.Linear(4 * width, 2 * width)
        self.fc2 = nn.Linear(2 * width, width)
        self.fc3 = nn.Linear(width, k * k)
        self.relu = nn.ReLU()
        self.bn1 = nn.BatchNorm1d(width)
        self.bn2 = nn.BatchNorm1d(2 * width)
        self.bn3 = nn.BatchNorm1d(4 * width)
        self.bn4 = nn.BatchNorm1d(2 * width)
        self.bn5 = nn.BatchNorm1d(width)
        self.width = width

    def forward(self, x):
        batchsize = x.size()[0]
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.relu(self.bn3(self.conv3(x)))
        x = torch.max(x, 2, keepdim=True)[0]
        x = x.view(-1, 4 * self.width)
        x = F.relu(self.bn4(self.fc1(x)))
        x = F.relu(self.bn5(self.fc2(x)))
        x = self.fc3(x)
        iden = torch.eye(self.k).flatten().view(1, self.k * self.k).repeat(batchsize, 1)
        if x.is_cuda:
            iden = iden.cuda()
        x = x + iden
        return x.view(-1, self.k, self.k)


class PointNetfeat(nn.Module):
    """Input transform, shared point MLP, optional feature transform, max pool: (B, 3, N) -> (B, 4 * width)."""

    def __init__(self, feature_transform=True, width=16):
        super(PointNetfeat, self).__init__()
        self.stn = STNkd(k=3, width=width)
        self.conv1 = torch.nn.Conv1d(3, width, 1)
        self.conv2 = torch.nn.Conv1d(width, 2 * width, 1)
        self.conv3 = torch.nn.Conv1d(2 * width, 4 * width, 1)
        self.bn1 = nn.BatchNorm1d(width)
        self.bn2 = nn.BatchNorm1d(2 * width)
        self.bn3 = nn.BatchNorm1d(4 * width)
        self.feature_transform = feature_transform
        if self.feature_transform:
            self.fstn = STNkd(k=width, width=width)
        self.width = width

    def forward(self, x):
        trans = self.stn(x)
        x = x.transpose(2, 1)
        x = torch.bmm(x, trans)
        x = x.transpose(2, 1)
        x = F.relu(self.bn1(self.conv1(x)))
        if self.feature_transform:
            trans_feat = self.fstn(x)
            x = x.transpose(2, 1)
            x = torch.bmm(x, trans_feat)
            x = x.transpose(2, 1)
        else:
            trans_feat = None
        x = F.relu(self.bn2(self.conv2(x)))
        x = self.bn3(self.conv3(x))
        x = torch.max(x, 2, keepdim=True)[0]
        return x.view(-1, 4 * self.width), trans, trans_feat


class PointNetCls(nn.Module):
    def __init__(self, k=3, feature_transform=True, width=16):
        super(PointNetCls, self).__init__()
        self.feature_transform = feature_transform
        self.feat = PointNetfeat(feature_transform=feature_transform, width=width)
        self.fc1 = nn.Linear(4 * width, 2 * width)
        self.fc2 = nn.Linear(2 * width, width)
        self.fc3 = nn.Linear(width, k)
        self.dropout = nn.Dropout(p=0.3)
        self.bn1 = nn.BatchNorm1d(2 * width)
        self.bn2 = nn.BatchNorm1d(width)
        self.relu = nn.ReLU()

    def forward(self, x):
        x, trans, trans_feat = self.feat(x)
        x = F.relu(self.bn1(self.fc1(x)))
        x = F.relu(self.bn2(self.dropout(self.fc2(x))))
        x = self.fc3(x)
        return F.log_softmax(x, dim=1), trans, trans_feat


def feature_transform_regularizer(trans):
    """Mean over the batch of ||A A^T - I||_F: how far each transform A (B, d, d) is from orthogonal."""
    d = trans.size()[1]
    I = torch.eye(d)[None, :, :]
    if trans.is_cuda:
        I = I.cuda()
    return torch.mean(torch.norm(torch.bmm(trans, trans.transpose(2, 1)) - I, dim=(1, 2)))


def augment(points):
    """A random rotation about the up (y) axis and Gaussian jitter: (B, N, 3) -> (B, N, 3)."""
    theta = torch.rand(points.size(0), dtype=points.dtype) * 2 * math.pi
    c, s = torch.cos(theta), torch.sin(theta)
    zero, one = torch.zeros_like(theta), torch.ones_like(theta)
    rotation = torch.stack([c, zero, -s, zero, one, zero, s, zero, c], dim=1).view(-1, 3, 3)
    return torch.bmm(points, rotation) + 0.02 * torch.randn_like(points)


def make_model(classes, feature_transform=True):
    return PointNetCls(k=classes, feature_transform=feature_transform)


def train(model, points, labels, epochs, batch_size=4, lr=0.01):
    optimizer = optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999))
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    log = []
    for epoch in range(epochs):
        for first in range(0, points.size(0), batch_size):
            target = labels[first:first + batch_size]
            batch = augment(points[first:first + batch_size]).transpose(2, 1)
            optimizer.zero_grad()
            model = model.train()
            pred, trans, trans_feat = model(batch)
            loss = F.nll_loss(pred, target)
            regularizer = feature_transform_regularizer(trans)
            if model.feature_transform:
                regularizer = regularizer + feature_transform_regularizer(trans_feat)
            loss = loss + regularizer * 0.001
            loss.backward()
            optimizer.step()
            # pointnet.pytorch: pred.data / target.data (.data is the raw array there: README, Coming from PyTorch)
            pred_choice = pred.detach().max(1)[1]
            correct = pred_choice.eq(target).cpu().sum()
            log.append((loss.item(), regularizer.item(), correct.item()))
        scheduler.step()
    return log


def evaluate(model, points):
    model = model.eval()
    with torch.no_grad():
        pred, trans, _ = model(points.transpose(2, 1))
    return pred, trans
'''

PROGRAMS = (GRAPHSAGE, GIN, DGCNN, POINTNET)


def _twins(source: str, *args: Any, **kwargs: Any) -> tuple:
    return _twin_models(source, *args, imports=(TORCH_IMPORTS, MINIGRAD_IMPORTS), **kwargs)


def test_the_programs_differ_only_in_their_imports() -> None:
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. GraphSAGE


def _sage_data(program: dict, graph: tuple, n_train: int = 15) -> tuple:
    lib = program["torch"]
    features, labels, edges = graph
    return (lib.from_numpy(features + 0.1), lib.from_numpy(labels),
            program["to_undirected"](lib.from_numpy(edges)), lib.arange(n_train))


def test_graphsage_minibatches_with_sampled_neighbours(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Mean then max SAGE layers on sampled neighbourhoods (shared randperm draws), dropout masks shared: every
    batch's loss and sampled edge count, the weights, and full-graph inference agree."""
    graph = _citation_graph(1)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(GRAPHSAGE, 12, 3)
    _shared_randperm(monkeypatch, torch, 0)
    _shared_dropout(monkeypatch, torch, 1)
    log = mg_program["train"](mg_model, _sage_data(mg_program, graph), 4)
    expected = torch_program["train"](torch_model, _sage_data(torch_program, graph), 4)
    assert len(log) == 12
    np.testing.assert_allclose(log, expected, rtol=1e-5, atol=1e-6)
    _assert_same_weights(torch_model, mg_model, initial)
    accuracy, out = mg_program["test"](mg_model, _sage_data(mg_program, graph))
    expected_accuracy, expected_out = torch_program["test"](torch_model, _sage_data(torch_program, graph))
    assert accuracy == expected_accuracy
    np.testing.assert_allclose(out.numpy(), expected_out.numpy(), rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- 2. GIN


def _tiny_graphs(seed: int, count: int) -> list:
    """(num_nodes, edge_index (2, E) int64 both directions, label): 0 a cycle, 1 a path, 2 a star."""
    rng = np.random.default_rng(seed)
    graphs = []
    for _ in range(count):
        label, n = int(rng.integers(0, 3)), int(rng.integers(4, 7))
        if label == 0:
            pairs = [(k, (k + 1) % n) for k in range(n)]
        elif label == 1:
            pairs = [(k, k + 1) for k in range(n - 1)]
        else:
            pairs = [(0, k) for k in range(1, n)]
        one_way = np.array(pairs, dtype=np.int64).T
        graphs.append((n, np.concatenate([one_way, one_way[::-1]], axis=1).copy(), label))
    return graphs


def test_gin_graph_classification(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """GIN with a learned and a fixed eps, BatchNorm1d MLPs, sum pooling by the batch vector: every epoch's loss,
    eval accuracy and learning rate, the weights and the BatchNorm running statistics agree."""
    graphs = _tiny_graphs(0, 12)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(GIN, 3)
    assert "convs.0.eps" in dict(mg_model.named_parameters()) and "convs.1.eps" in dict(mg_model.named_buffers())
    _shared_dropout(monkeypatch, torch, 2)
    log = mg_program["train"](mg_model, graphs, 4)
    expected = torch_program["train"](torch_model, graphs, 4)
    np.testing.assert_allclose(log, expected, rtol=1e-5, atol=1e-6)
    assert log[-1][1] > 0.5
    _assert_same_weights(torch_model, mg_model, initial)


# ----------------------------------------------------------------------------- 3. DGCNN


def _point_clouds(seed: int, count: int, points: int = 12) -> tuple:
    """(clouds (M, N, 3) float32, labels (M,)): 0 a sphere's surface, 1 a cube's surface, 2 a flat disc."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, count)
    clouds = rng.standard_normal((count, points, 3))
    clouds /= np.linalg.norm(clouds, axis=2, keepdims=True)
    cube = clouds / np.abs(clouds).max(axis=2, keepdims=True)
    disc = clouds * np.array([1., 0.05, 1.]) * rng.random((count, points, 1))
    clouds = np.where(labels[:, None, None] == 1, cube, np.where(labels[:, None, None] == 2, disc, clouds))
    return clouds.astype(np.float32), labels.astype(np.int64)


def test_dgcnn_edgeconv_classifier(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The dynamic-graph EdgeConv classifier under momentum SGD with label smoothing, dropout masks shared: every
    step's loss and correct count, the weights and running statistics, eval logits and the k-NN indices agree."""
    clouds, labels = _point_clouds(0, 8)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(DGCNN, 3)
    _shared_dropout(monkeypatch, torch, 3)
    import minigrad as mg  # noqa: PLC0415

    log = mg_program["train"](mg_model, mg.from_numpy(clouds), mg.from_numpy(labels), 3)
    expected = torch_program["train"](torch_model, torch.from_numpy(clouds), torch.from_numpy(labels), 3)
    np.testing.assert_allclose(log, expected, rtol=1e-5, atol=1e-6)
    _assert_same_weights(torch_model, mg_model, initial)
    predicted, logits, idx = mg_program["predict"](mg_model, mg.from_numpy(clouds))
    expected_predicted, expected_logits, expected_idx = torch_program["predict"](torch_model, torch.from_numpy(clouds))
    assert predicted == expected_predicted
    np.testing.assert_allclose(logits.numpy(), expected_logits.numpy(), rtol=1e-4, atol=1e-5)
    assert idx.dtype == mg.int64 and np.array_equal(idx.numpy(), expected_idx.numpy())
    assert (idx.numpy()[..., 0] == np.arange(12)).all()   # each point is its own nearest neighbour


# ----------------------------------------------------------------------------- 4. PointNet


def test_pointnet_with_input_and_feature_transforms(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """PointNet with both T-Nets and the orthogonality regulariser, augmentation and dropout draws shared: every
    step's loss, regulariser and correct count, the weights and the eval-mode predictions and transforms agree.

    In float64: BatchNorm over 4 clouds, the max over points and Adam make the run chaotic, so float32 rounding
    (~1e-7) grows to 1e-3 in a few steps in either library; in float64 the two agree to ~1e-10. (Float64 also keeps
    the zero gradients of the biases before BatchNorm below Adam's eps, so they do not step on rounding noise.)
    """
    import minigrad as mg  # noqa: PLC0415

    clouds, labels = _point_clouds(1, 8)
    clouds = clouds.astype(np.float64)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(POINTNET, 3)
    torch_model.double()
    mg_model.double()
    _shared_normal_draws(monkeypatch, torch, 4)
    _shared_dropout(monkeypatch, torch, 5)
    log = mg_program["train"](mg_model, mg.from_numpy(clouds), mg.from_numpy(labels), 2)
    expected = torch_program["train"](torch_model, torch.from_numpy(clouds), torch.from_numpy(labels), 2)
    np.testing.assert_allclose(log, expected, rtol=1e-8, atol=1e-10)
    _assert_same_weights(torch_model, mg_model, initial)
    pred, trans = mg_program["evaluate"](mg_model, mg.from_numpy(clouds))
    expected_pred, expected_trans = torch_program["evaluate"](torch_model, torch.from_numpy(clouds))
    assert pred.dtype == trans.dtype == mg.float64
    np.testing.assert_allclose(pred.numpy(), expected_pred.numpy(), rtol=1e-8, atol=1e-10)
    # the conv biases before BatchNorm have a true gradient of 0: Adam steps them ~5e-9 on float64 rounding noise
    # whose sign follows each library's (and CPU's) summation order, and eval-mode BatchNorm does not cancel them,
    # so the transforms (entries ~0.1-1) agree to ~1e-9 (to ~1e-10 on an Intel Xeon, 1e-9 on an AVX512 AMD EPYC)
    np.testing.assert_allclose(trans.numpy(), expected_trans.numpy(), rtol=1e-8, atol=1e-8)


# ----------------------------------------------------------------------------- what the programs needed


@pytest.mark.parametrize(("name", "call", "numpy_kind"), [
    ("index_add_ source dtype", lambda T: T.zeros(3, 2).index_add_(0, T.tensor([0, 1]), T.ones(2, 2, dtype=T.float64)),
     TypeError),
    ("index_add_ index range", lambda T: T.zeros(3, 2).index_add_(0, T.tensor([0, 3]), T.ones(2, 2)), IndexError),
    ("index_add_ source shape", lambda T: T.zeros(3, 2).index_add_(0, T.tensor([0, 1, 2]), T.ones(2, 2)), ValueError),
    ("scatter_reduce src dtype", lambda T: T.zeros(3).scatter_reduce(0, T.tensor([0, 1]), T.ones(2, dtype=T.float64),
                                                                     "amax", include_self=False), TypeError),
    ("scatter_add index range", lambda T: T.zeros(3).scatter_add(0, T.tensor([0, 5]), T.ones(2)), IndexError),
    ("scatter_add_ negative index", lambda T: T.zeros(3).scatter_add_(0, T.tensor([0, -1]), T.ones(2)), IndexError),
    ("scatter src dtype", lambda T: T.zeros(2, 3).scatter(1, T.tensor([[0], [1]]), T.ones(2, 1, dtype=T.float64)),
     TypeError),
    ("gather index range", lambda T: T.ones(2, 3).gather(1, T.tensor([[0], [3]])), IndexError),
    ("bincount negative", lambda T: T.bincount(T.tensor([0, -1])), ValueError),
    ("bincount 2-D", lambda T: T.bincount(T.tensor([[0, 1]])), TypeError),
    ("bincount float", lambda T: T.bincount(T.tensor([0., 1.])), TypeError),
    ("bincount weights length", lambda T: T.bincount(T.tensor([0, 1]), weights=T.ones(3)), ValueError),
    ("index_select float index", lambda T: T.ones(2, 3).index_select(0, T.tensor([0.])), TypeError),
    ("index_select 2-D index", lambda T: T.ones(2, 3).index_select(0, T.tensor([[0]])), TypeError),
    ("bmm inner sizes", lambda T: T.bmm(T.ones(2, 3, 4), T.ones(2, 3, 4)), ValueError),
    ("bmm of matrices", lambda T: T.bmm(T.ones(3, 4), T.ones(4, 3)), ValueError),
    ("repeat with too few counts", lambda T: T.eye(3).repeat(2), ValueError),
])
def test_graph_op_refusals_raise_torchs_class_too(torch: Any, name: str, call: Any, numpy_kind: type) -> None:
    """The refusals a graph or point-cloud program meets (a float source for index_add_, an edge index past the
    node count, a float degree vector, a T-Net repeated with too few counts) raise PyTorch's class as well as
    the NumPy-style class minigrad raised before, so ``except`` clauses written for either catch them."""
    import minigrad as mg  # noqa: PLC0415

    with pytest.raises(Exception) as theirs:   # noqa: PT011 - the class is what is compared
        call(torch)
    with pytest.raises(Exception) as ours:   # noqa: PT011
        call(mg)
    assert isinstance(ours.value, theirs.type), (type(ours.value).__mro__, theirs.type)
    assert isinstance(ours.value, numpy_kind)
    assert name.split()[0].rstrip("_") in str(ours.value)   # the message names the op
