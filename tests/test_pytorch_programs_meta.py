"""Meta-learning PyTorch programs, small, run unchanged on minigrad: only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch program: it keeps the original's PyTorch calls
and habits in the same roles, with our own names, structure and comments, a small model, a few steps and
generated tasks (the helpers and the rule come from tests/test_pytorch_programs.py):

* ``PROTOTYPICAL_NETWORKS`` mirrors the common PyTorch implementations of Snell et al.'s prototypical networks
  (jakesnell/prototypical-networks, orobix/Prototypical-Networks-for-Few-shot-Learning-PyTorch): a conv4-style
  encoder (``Conv2d``/``BatchNorm2d``/``ReLU``/``MaxPool2d`` blocks, ``x.view(x.size(0), -1)``), episodes drawn
  with ``torch.randperm`` and index lists, prototypes ``support.view(n_way, n_shot, -1).mean(1)``, squared
  distances from ``torch.cdist(query, prototypes) ** 2`` or the hand-written ``euclidean_dist``
  (``x.unsqueeze(1).expand(n, m, d)``), ``F.log_softmax(-dists, dim=1)``, the loss read with
  ``.gather(2, target_inds)``, accuracy from ``log_p_y.max(2)``, Adam under ``StepLR``, an ``eval()``/``no_grad``
  evaluation;
* ``MAML`` mirrors dragen1860/MAML-Pytorch's ``Meta``/``Learner`` on sine regression (Finn et al.'s toy task):
  the weights as an ``nn.ParameterList`` that ``parameters()`` returns, a functional forward
  ``F.linear(F.relu(F.linear(x, w[0], w[1])), w[2], w[3])``, the inner loop
  ``grad = torch.autograd.grad(loss, fast_weights, create_graph=True)`` and
  ``fast_weights = list(map(lambda p: p[1] - update_lr * p[0], zip(grad, fast_weights)))``, the query losses
  of every inner step (the first under ``no_grad``), ``meta_optim.zero_grad(); meta_loss.backward();
  meta_optim.step()``; second order and first order (``create_graph=False``); ``finetunning`` on a
  ``copy.deepcopy(self.net)``;
* ``MAML_FUNC`` is MAML in ``torch.func`` style (as functorch's MAML regression example): a plain
  ``nn.Sequential`` called with ``functional_call(model, params, (x,))``, the inner gradient from
  ``grad(inner_loss)(params, x, y)`` over a dict of tensors, the tasks in a loop or under
  ``vmap(task_loss, in_dims=(None, 0, 0, 0, 0))``, and the meta-gradient by ``backward()`` through it;
* ``REPTILE`` mirrors OpenAI's Reptile sine-wave script (Nichol & Schulman): SGD steps on one task's
  minibatches, ``weights_before = deepcopy(model.state_dict())``, and the outer update
  ``load_state_dict({name: before + (after - before) * outer_lr ...})`` with a linearly decaying step; the inner
  update is the original's ``param.data -= lr * param.grad.data`` (which works as written on minigrad, whose
  ``.data`` is the NumPy array, README) or the form the README recommends,
  ``with torch.no_grad(): param.sub_(lr * param.grad)``;
* ``HYPERNETWORK`` is the usual hypernetwork shape (Ha et al.): a linear hypernetwork maps a learned layer
  embedding (and a per-sample task embedding) to the weights of a target MLP, ``w = self.hyper(z).view(out_f,
  in_f)`` read by ``F.linear(x, w, b)`` and a batched ``torch.bmm`` variant; the generated weights keep their
  gradient with ``retain_grad()`` and it is compared with torch's;
* ``FAST_WEIGHTS_RNN`` mirrors the common PyTorch implementations of Ba et al. 2016's fast weights: the
  fast matrix ``A = lambda_ * A + eta * torch.bmm(h.unsqueeze(2), h.unsqueeze(1))``, an inner loop of
  ``h_s = pre + torch.bmm(A, h_s.unsqueeze(2)).squeeze(2)`` under ``nn.LayerNorm``, trained with Adam on an
  associative-recall task.

Random draws that are part of the computation (the episode classes and samples, the sine amplitudes and
phases) are made the same numbers in both runs: ``torch.randperm`` (``_shared_draws`` of the vision programs)
and ``torch.rand`` (``_shared_draws`` of the generative programs) of both libraries read one NumPy stream each.
MAML and Reptile run in float64 and their meta-losses and weights are compared to 1e-10. The prototypical
network runs in float64 too: its conv biases sit before BatchNorm and a shift of all embeddings leaves the
distances alone, so those parameters' true gradients are 0 and, in float32, Adam steps them by the sign of
rounding noise (+-lr), different in any two engines; in float64 that noise is far below Adam's eps.

Regressions found by these programs (each has its own test at the end): ``torch.autograd.grad(loss,
model.parameters())`` and ``grad(loss, ParameterList)`` (and ``backward(inputs=...)``) took only a list or tuple
(minigrad/autograd/functions.py; torch takes ``tuple(inputs)`` of any iterable); ``torch.vmap``, torch's alias of
``torch.func.vmap``, was missing (minigrad/__init__.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import MINIGRAD_IMPORTS, TORCH_IMPORTS, _assert_same_weights, _twin_models
from tests.test_pytorch_programs_generative import _shared_draws as _shared_rand
from tests.test_pytorch_programs_vision import _shared_draws as _shared_randperm

TORCH_IMPORTS_META = "import copy\n" + TORCH_IMPORTS + """\
from torch.optim.lr_scheduler import StepLR
from torch.func import functional_call, grad, vmap
"""

MINIGRAD_IMPORTS_META = "import copy\n" + MINIGRAD_IMPORTS + """\
from minigrad.optim.lr_scheduler import StepLR
from minigrad.func import functional_call, grad, vmap
"""


PROTOTYPICAL_NETWORKS = '''
def conv_block(in_channels, out_channels):
    """3x3 conv, batch norm, ReLU, 2x2 max pool: halves the image side."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
        nn.MaxPool2d(2),
    )


class ProtoEncoder(nn.Module):
    """Images (B, C, 8, 8) to embeddings (B, z_dim): three conv blocks, flattened."""

    def __init__(self, x_dim=1, hid_dim=6, z_dim=6):
        super(ProtoEncoder, self).__init__()
        self.encoder = nn.Sequential(conv_block(x_dim, hid_dim), conv_block(hid_dim, hid_dim),
                                     conv_block(hid_dim, z_dim))

    def forward(self, x):
        x = self.encoder(x)
        return x.view(x.size(0), -1)


def euclidean_dist(x, y):
    """Squared distances (n, m) between the rows of x (n, d) and of y (m, d)."""
    n, m, d = x.size(0), y.size(0), x.size(1)
    if d != y.size(1):
        raise Exception("embedding sizes differ")
    x = x.unsqueeze(1).expand(n, m, d)
    y = y.unsqueeze(0).expand(n, m, d)
    return torch.pow(x - y, 2).sum(2)


def make_model():
    return ProtoEncoder().double()


def sample_episode(images_by_class, n_way, n_shot, n_query):
    """n_way classes drawn with randperm; for each, n_shot support and n_query query images, class-major."""
    classes = torch.randperm(len(images_by_class))[:n_way]
    support, query = [], []
    for c in classes:
        pool = images_by_class[c]
        order = torch.randperm(pool.size(0))[:n_shot + n_query]
        support.append(pool[order[:n_shot]])
        query.append(pool[order[n_shot:]])
    return torch.stack(support), torch.stack(query)   # (n_way, n_shot, C, H, W), (n_way, n_query, C, H, W)


def proto_loss(model, support, query, distance="cdist"):
    n_way, n_shot, n_query = support.size(0), support.size(1), query.size(1)
    x = torch.cat([support.view(n_way * n_shot, *support.size()[2:]),
                   query.view(n_way * n_query, *query.size()[2:])], 0)
    z = model(x)
    z_dim = z.size(-1)
    prototypes = z[:n_way * n_shot].view(n_way, n_shot, z_dim).mean(1)
    zq = z[n_way * n_shot:]
    if distance == "cdist":
        dists = torch.cdist(zq, prototypes) ** 2
    else:
        dists = euclidean_dist(zq, prototypes)
    log_p_y = F.log_softmax(-dists, dim=1).view(n_way, n_query, -1)
    target_inds = torch.arange(0, n_way).view(n_way, 1, 1).expand(n_way, n_query, 1).long()
    loss_val = -log_p_y.gather(2, target_inds).squeeze().view(-1).mean()
    _, y_hat = log_p_y.max(2)
    acc_val = torch.eq(y_hat, target_inds.squeeze(2)).float().mean()
    return loss_val, {"loss": loss_val.item(), "acc": acc_val.item()}


def train(model, images_by_class, episodes, n_way=3, n_shot=2, n_query=2, lr=0.01):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    scheduler = StepLR(optimizer, step_size=2, gamma=0.5)
    history = []
    for episode in range(episodes):
        model.train()
        support, query = sample_episode(images_by_class, n_way, n_shot, n_query)
        optimizer.zero_grad()
        loss, output = proto_loss(model, support, query, "cdist" if episode % 2 == 0 else "euclidean")
        loss.backward()
        optimizer.step()
        scheduler.step()
        history.append((output["loss"], output["acc"], scheduler.get_last_lr()[0]))
    return history


class PrototypicalBatchSampler(object):
    """Episode index batches over a flat labelled set: classes_per_it classes drawn with randperm, then
    num_samples of each (support + query), the whole batch shuffled."""

    def __init__(self, labels, classes_per_it, num_samples, iterations):
        super(PrototypicalBatchSampler, self).__init__()
        self.labels, self.classes_per_it, self.sample_per_class = labels, classes_per_it, num_samples
        self.iterations = iterations
        self.classes, self.counts = torch.unique(self.labels, return_counts=True)
        self.indexes = torch.empty((len(self.classes), max(self.counts)), dtype=int).fill_(-1)
        self.numel_per_class = torch.zeros_like(self.classes)
        for idx, label in enumerate(self.labels):
            label_idx = torch.argwhere(self.classes == label).item()
            self.indexes[label_idx, torch.where(self.indexes[label_idx] == -1)[0][0]] = idx
            self.numel_per_class[label_idx] += 1

    def __iter__(self):
        spc, cpi = self.sample_per_class, self.classes_per_it
        for it in range(self.iterations):
            batch = torch.LongTensor(spc * cpi)
            c_idxs = torch.randperm(len(self.classes))[:cpi]
            for i, c in enumerate(self.classes[c_idxs]):
                s = slice(i * spc, (i + 1) * spc)
                label_idx = torch.arange(len(self.classes)).long()[self.classes == c].item()
                sample_idxs = torch.randperm(self.numel_per_class[label_idx])[:spc]
                batch[s] = self.indexes[label_idx][sample_idxs]
            batch = batch[torch.randperm(len(batch))]
            yield batch

    def __len__(self):
        return self.iterations


def prototypical_loss(input, target, n_support):
    """The loss and accuracy of one episode given as embeddings (N, d) and their labels (N,)."""
    target_cpu = target.to('cpu')
    input_cpu = input.to('cpu')

    def supp_idxs(c):
        return target_cpu.eq(c).nonzero()[:n_support].squeeze(1)

    classes = torch.unique(target_cpu)
    n_classes = len(classes)
    n_query = target_cpu.eq(classes[0].item()).sum().item() - n_support
    support_idxs = list(map(supp_idxs, classes))
    prototypes = torch.stack([input_cpu[idx_list].mean(0) for idx_list in support_idxs])
    query_idxs = torch.stack(list(map(lambda c: target_cpu.eq(c).nonzero()[n_support:], classes))).view(-1)
    query_samples = input.to('cpu')[query_idxs]
    dists = euclidean_dist(query_samples, prototypes)
    log_p_y = F.log_softmax(-dists, dim=1).view(n_classes, n_query, -1)
    target_inds = torch.arange(0, n_classes)
    target_inds = target_inds.view(n_classes, 1, 1)
    target_inds = target_inds.expand(n_classes, n_query, 1).long()
    loss_val = -log_p_y.gather(2, target_inds).squeeze().view(-1).mean()
    _, y_hat = log_p_y.max(2)
    acc_val = y_hat.eq(target_inds.squeeze(2)).float().mean()
    return loss_val, acc_val


def train_with_sampler(model, images, labels, iterations, classes_per_it=3, n_support=2, n_query=2):
    optim_ = torch.optim.Adam(params=model.parameters(), lr=0.01)
    lr_scheduler = torch.optim.lr_scheduler.StepLR(optimizer=optim_, gamma=0.5, step_size=2)
    sampler = PrototypicalBatchSampler(labels, classes_per_it, n_support + n_query, iterations)
    train_loss, train_acc = [], []
    model.train()
    for batch in iter(sampler):
        optim_.zero_grad()
        x, y = images[batch], labels[batch]
        model_output = model(x)
        loss, acc = prototypical_loss(model_output, target=y, n_support=n_support)
        loss.backward()
        optim_.step()
        train_loss.append(loss.item())
        train_acc.append(acc.item())
        lr_scheduler.step()
    return train_loss, train_acc


@torch.no_grad()
def evaluate(model, images_by_class, episodes, n_way=3, n_shot=2, n_query=2):
    model.eval()
    losses, accuracies = [], []
    for _ in range(episodes):
        support, query = sample_episode(images_by_class, n_way, n_shot, n_query)
        _, output = proto_loss(model, support, query, "euclidean")
        losses.append(output["loss"])
        accuracies.append(output["acc"])
    return losses, accuracies
'''


MAML = '''
class Learner(nn.Module):
    """A two-layer MLP whose weights live in a ParameterList, run functionally on any list of weights."""

    def __init__(self, hidden=12):
        super(Learner, self).__init__()
        self.vars = nn.ParameterList()
        w = nn.Parameter(torch.ones(hidden, 1, dtype=torch.float64))
        torch.nn.init.kaiming_normal_(w)
        self.vars.append(w)
        self.vars.append(nn.Parameter(torch.zeros(hidden, dtype=torch.float64)))
        w = nn.Parameter(torch.ones(1, hidden, dtype=torch.float64))
        torch.nn.init.kaiming_normal_(w)
        self.vars.append(w)
        self.vars.append(nn.Parameter(torch.zeros(1, dtype=torch.float64)))

    def forward(self, x, vars=None):
        if vars is None:
            vars = self.vars
        return F.linear(F.relu(F.linear(x, vars[0], vars[1])), vars[2], vars[3])

    def zero_grad(self, vars=None):
        with torch.no_grad():
            for p in (self.vars if vars is None else vars):
                if p.grad is not None:
                    p.grad.zero_()

    def parameters(self):
        return self.vars


class Meta(nn.Module):
    """MAML: update_step SGD steps per task on the support set, the query loss after them drives Adam."""

    def __init__(self, update_lr=0.02, meta_lr=0.005, update_step=2, first_order=False):
        super(Meta, self).__init__()
        self.update_lr, self.update_step, self.first_order = update_lr, update_step, first_order
        self.net = Learner()
        self.meta_optim = optim.Adam(self.net.parameters(), lr=meta_lr)

    def forward(self, x_spt, y_spt, x_qry, y_qry):
        task_num = x_spt.size(0)
        losses_q = [0 for _ in range(self.update_step + 1)]
        for i in range(task_num):
            loss = F.mse_loss(self.net(x_spt[i], vars=None), y_spt[i])
            grad = torch.autograd.grad(loss, self.net.parameters(), create_graph=not self.first_order)
            fast_weights = list(map(lambda p: p[1] - self.update_lr * p[0], zip(grad, self.net.parameters())))
            with torch.no_grad():
                losses_q[0] += F.mse_loss(self.net(x_qry[i], self.net.parameters()), y_qry[i])
            losses_q[1] += F.mse_loss(self.net(x_qry[i], fast_weights), y_qry[i])
            for k in range(1, self.update_step):
                loss = F.mse_loss(self.net(x_spt[i], fast_weights), y_spt[i])
                grad = torch.autograd.grad(loss, fast_weights, create_graph=not self.first_order)
                fast_weights = list(map(lambda p: p[1] - self.update_lr * p[0], zip(grad, fast_weights)))
                losses_q[k + 1] += F.mse_loss(self.net(x_qry[i], fast_weights), y_qry[i])
        loss_q = losses_q[-1] / task_num
        self.meta_optim.zero_grad()
        loss_q.backward()
        self.meta_optim.step()
        return [l.item() / task_num for l in losses_q]

    def finetunning(self, x_spt, y_spt, x_qry, y_qry, update_step_test=3):
        """Adapt a deep copy of the net to one task (the meta-weights stay as they are): the query loss before
        and after each step."""
        net = copy.deepcopy(self.net)
        losses_q = []
        fast_weights = net.parameters()
        for k in range(update_step_test):
            loss = F.mse_loss(net(x_spt, fast_weights), y_spt)
            grad = torch.autograd.grad(loss, fast_weights)
            with torch.no_grad():
                losses_q.append(F.mse_loss(net(x_qry, fast_weights), y_qry).item())
            fast_weights = list(map(lambda p: p[1] - self.update_lr * p[0], zip(grad, fast_weights)))
        with torch.no_grad():
            losses_q.append(F.mse_loss(net(x_qry, fast_weights), y_qry).item())
        del net
        return losses_q


def sine_tasks(task_num, k_shot, k_query):
    """Sine regression tasks: amplitude in [0.1, 5], phase in [0, pi], x in [-5, 5]; (task, k, 1) float64."""
    amplitude = torch.rand(task_num, 1, 1, dtype=torch.float64) * 4.9 + 0.1
    phase = torch.rand(task_num, 1, 1, dtype=torch.float64) * math.pi
    x = torch.rand(task_num, k_shot + k_query, 1, dtype=torch.float64) * 10 - 5
    y = amplitude * torch.sin(x - phase)
    return x[:, :k_shot], y[:, :k_shot], x[:, k_shot:], y[:, k_shot:]


def make_model(first_order=False):
    return Meta(first_order=first_order)


def train(maml, steps, task_num=3, k_shot=5, k_query=5):
    return [maml(*sine_tasks(task_num, k_shot, k_query)) for _ in range(steps)]


def test(maml, k_shot=5, k_query=5):
    x_spt, y_spt, x_qry, y_qry = sine_tasks(1, k_shot, k_query)
    return maml.finetunning(x_spt[0], y_spt[0], x_qry[0], y_qry[0])
'''


MAML_FUNC = '''
def make_model(hidden=12):
    return nn.Sequential(nn.Linear(1, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.Tanh(),
                         nn.Linear(hidden, 1)).double()


def sine_tasks(task_num, k_shot, k_query):
    amplitude = torch.rand(task_num, 1, 1, dtype=torch.float64) * 4.9 + 0.1
    phase = torch.rand(task_num, 1, 1, dtype=torch.float64) * math.pi
    x = torch.rand(task_num, k_shot + k_query, 1, dtype=torch.float64) * 10 - 5
    y = amplitude * torch.sin(x - phase)
    return x[:, :k_shot], y[:, :k_shot], x[:, k_shot:], y[:, k_shot:]


def train(model, steps, use_vmap=False, inner_lr=0.02, inner_steps=2, task_num=3, k_shot=5, k_query=5):
    meta_opt = optim.Adam(model.parameters(), lr=0.005)

    def inner_loss(params, x, y):
        return F.mse_loss(functional_call(model, params, (x,)), y)

    def task_loss(params, x_spt, y_spt, x_qry, y_qry):
        fast = params
        for _ in range(inner_steps):
            grads = grad(inner_loss)(fast, x_spt, y_spt)
            fast = {name: fast[name] - inner_lr * grads[name] for name in fast}
        return inner_loss(fast, x_qry, y_qry)

    history = []
    for _ in range(steps):
        x_spt, y_spt, x_qry, y_qry = sine_tasks(task_num, k_shot, k_query)
        params = dict(model.named_parameters())
        if use_vmap:   # all tasks at once, as functorch's MAML example
            meta_loss = vmap(task_loss, in_dims=(None, 0, 0, 0, 0))(params, x_spt, y_spt, x_qry, y_qry).mean()
        else:
            meta_loss = 0.0
            for i in range(task_num):
                meta_loss = meta_loss + task_loss(params, x_spt[i], y_spt[i], x_qry[i], y_qry[i])
            meta_loss = meta_loss / task_num
        meta_opt.zero_grad()
        meta_loss.backward()
        meta_opt.step()
        history.append(meta_loss.item())
    return history
'''


REPTILE = '''
def make_model(hidden=16):
    return nn.Sequential(nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                         nn.Linear(hidden, 1)).double()


def train_on_batch(model, x, y, inner_lr, legacy):
    model.zero_grad()
    loss = (model(x) - y).pow(2).mean()
    loss.backward()
    if legacy:   # the original's habit: in-place arithmetic on .data, out of the graph
        for param in model.parameters():
            param.data -= inner_lr * param.grad.data
    else:
        with torch.no_grad():
            for param in model.parameters():
                param.sub_(inner_lr * param.grad)
    return loss.item()


def train(model, iterations, legacy=False, inner_lr=0.02, inner_epochs=2, ntrain=5, outer_lr0=0.1):
    x_all = torch.linspace(-5, 5, 20, dtype=torch.float64)[:, None]
    history = []
    for iteration in range(iterations):
        amplitude = torch.rand(1, dtype=torch.float64).item() * 4.9 + 0.1
        phase = torch.rand(1, dtype=torch.float64).item() * 2 * math.pi
        y_all = amplitude * torch.sin(x_all + phase)
        weights_before = copy.deepcopy(model.state_dict())
        inds = torch.randperm(len(x_all))
        for _ in range(inner_epochs):
            for start in range(0, len(x_all), ntrain):
                batch = inds[start:start + ntrain]
                history.append(train_on_batch(model, x_all[batch], y_all[batch], inner_lr, legacy))
        weights_after = model.state_dict()
        outer_lr = outer_lr0 * (1 - iteration / iterations)
        model.load_state_dict({name: weights_before[name] + (weights_after[name] - weights_before[name]) * outer_lr
                               for name in weights_before})
    return history
'''


HYPERNETWORK = '''
class HyperLinear(nn.Module):
    """A linear layer whose weight (out_f, in_f) and bias (out_f,) a hypernetwork makes from an embedding z."""

    def __init__(self, z_dim, in_f, out_f):
        super().__init__()
        self.in_f, self.out_f = in_f, out_f
        self.z = nn.Parameter(torch.randn(z_dim) * 0.5)
        self.hyper = nn.Linear(z_dim, out_f * in_f)
        self.hyper_bias = nn.Linear(z_dim, out_f)
        self.generated = None

    def forward(self, x):
        w = self.hyper(self.z).view(self.out_f, self.in_f)
        b = self.hyper_bias(self.z)
        if w.requires_grad:
            w.retain_grad()
        self.generated = w
        return F.linear(x, w, b)


class TaskConditionedMLP(nn.Module):
    """A two-layer target MLP: its first layer from a shared hypernetwork, its second layer's weights made per
    sample from a task embedding (B, in_f) -> (B, out_f, in_f) and applied with bmm."""

    def __init__(self, tasks, z_dim=4, in_f=3, hidden=6, out_f=2):
        super().__init__()
        self.hidden, self.out_f = hidden, out_f
        self.layer1 = HyperLinear(z_dim, in_f, hidden)
        self.task_embedding = nn.Embedding(tasks, z_dim)
        self.hyper2 = nn.Sequential(nn.Linear(z_dim, 8), nn.ReLU(), nn.Linear(8, out_f * hidden))

    def forward(self, x, task):
        h = torch.tanh(self.layer1(x))
        w2 = self.hyper2(self.task_embedding(task)).view(-1, self.out_f, self.hidden)
        return torch.bmm(w2, h.unsqueeze(2)).squeeze(2)


def make_model(tasks):
    return TaskConditionedMLP(tasks)


def train(model, x, task, y, steps, lr=0.02):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    history = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.mse_loss(model(x, task), y)
        loss.backward()
        history.append((loss.item(), model.layer1.generated.grad.clone()))
        optimizer.step()
    return history
'''


FAST_WEIGHTS_RNN = '''
class FastWeightsRNN(nn.Module):
    """Ba et al. 2016: a ReLU RNN with a fast associative memory A (B, H, H) decaying by lambda_ and written
    with eta * h h^T each step; the next state settles over `inner_steps` layer-normed iterations."""

    def __init__(self, input_size, hidden_size, num_classes, lambda_=0.9, eta=0.5, inner_steps=1):
        super(FastWeightsRNN, self).__init__()
        self.hidden_size, self.lambda_, self.eta, self.inner_steps = hidden_size, lambda_, eta, inner_steps
        self.W_x = nn.Linear(input_size, hidden_size)
        self.W_h = nn.Linear(hidden_size, hidden_size, bias=False)
        with torch.no_grad():
            self.W_h.weight.copy_(0.05 * torch.eye(hidden_size))
        self.layer_norm = nn.LayerNorm(hidden_size)
        self.fc = nn.Linear(hidden_size, num_classes)

    def forward(self, x):   # x (B, T, I) -> logits (B, num_classes)
        batch_size, steps, _ = x.size()
        h = x.new_zeros(batch_size, self.hidden_size)
        A = x.new_zeros(batch_size, self.hidden_size, self.hidden_size)
        for t in range(steps):
            A = self.lambda_ * A + self.eta * torch.bmm(h.unsqueeze(2), h.unsqueeze(1))
            pre = self.W_x(x[:, t]) + self.W_h(h)
            h_s = F.relu(pre)
            for _ in range(self.inner_steps):
                h_s = pre + torch.bmm(A, h_s.unsqueeze(2)).squeeze(2)
                h_s = F.relu(self.layer_norm(h_s))
            h = h_s
        return self.fc(h)


def make_model(input_size, num_classes):
    return FastWeightsRNN(input_size, 10, num_classes, inner_steps=2)


def train(model, x, y, steps, lr=0.01):
    optimizer = optim.Adam(model.parameters(), lr=lr)
    criterion = nn.CrossEntropyLoss()
    history = []
    for _ in range(steps):
        optimizer.zero_grad()
        logits = model(x)
        loss = criterion(logits, y)
        loss.backward()
        grads = [p.grad.clone() for p in model.parameters()]
        optimizer.step()
        history.append((loss.item(), (logits.argmax(1) == y).float().mean().item(), grads))
    return history
'''


PROGRAMS = (PROTOTYPICAL_NETWORKS, MAML, MAML_FUNC, REPTILE, HYPERNETWORK, FAST_WEIGHTS_RNN)


def _twins(source: str, *args: Any) -> tuple:
    return _twin_models(source, *args, imports=(TORCH_IMPORTS_META, MINIGRAD_IMPORTS_META))


def test_the_programs_differ_only_in_their_imports() -> None:
    assert TORCH_IMPORTS_META.count("\n") == MINIGRAD_IMPORTS_META.count("\n") == 8
    for torch_line, mg_line in zip(TORCH_IMPORTS_META.splitlines()[6:], MINIGRAD_IMPORTS_META.splitlines()[6:]):
        assert torch_line.replace("torch", "minigrad") == mg_line
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. prototypical networks


def _omniglot_like(lib: Any, classes: int, per_class: int, seed: int) -> list:
    """A list of (per_class, 1, 8, 8) float64 image tensors, one per class: a class's bright 2x2 patch at its
    own place, plus noise."""
    rng = np.random.default_rng(seed)
    images_by_class = []
    for c in range(classes):
        images = rng.standard_normal((per_class, 1, 8, 8)) * 0.3
        row, col = divmod(c, 4)
        images[:, 0, 2 * row:2 * row + 2, 2 * col:2 * col + 2] += 1.5
        images_by_class.append(lib.from_numpy(images))
    return images_by_class


def _shared_episodes(monkeypatch: pytest.MonkeyPatch, torch: Any, seed: int) -> None:
    """The vision programs' shared ``randperm`` (and ``rand``/``randint``), also given a 0-dim tensor as n (the
    sampler passes a class's count tensor, as torch's ``randperm`` takes it)."""
    import minigrad as mg  # noqa: PLC0415

    _shared_randperm(monkeypatch, torch, seed)
    for lib in (torch, mg):
        monkeypatch.setattr(lib, "randperm", lambda n, shared=lib.randperm: shared(int(n)))


def test_prototypical_networks(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Episodes (shared randperm draws) train the conv4 encoder under Adam + StepLR; losses, accuracies, the
    learning rate, the weights and the BatchNorm statistics agree with torch, and so does the evaluation."""
    import minigrad as mg  # noqa: PLC0415

    torch_program, torch_model, mg_program, mg_model, initial = _twins(PROTOTYPICAL_NETWORKS)
    _shared_episodes(monkeypatch, torch, 0)
    expected = torch_program["train"](torch_model, _omniglot_like(torch, 6, 5, 0), 6)
    history = mg_program["train"](mg_model, _omniglot_like(mg, 6, 5, 0), 6)
    np.testing.assert_allclose(history, expected, rtol=1e-9, atol=1e-12)
    _assert_same_weights(torch_model, mg_model, initial)
    theirs = {k: v.numpy() for k, v in torch_model.state_dict().items()}
    for name, value in mg_model.state_dict().items():   # running means/variances and batch counters too
        np.testing.assert_allclose(value.numpy(), theirs[name], rtol=1e-4, atol=1e-5, err_msg=name)
    _shared_episodes(monkeypatch, torch, 1)
    expected = torch_program["evaluate"](torch_model, _omniglot_like(torch, 6, 5, 1), 2)
    np.testing.assert_allclose(mg_program["evaluate"](mg_model, _omniglot_like(mg, 6, 5, 1), 2), expected,
                               rtol=1e-8, atol=1e-12)


def test_prototypical_networks_with_a_batch_sampler(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """orobix's episode sampler (unique/argwhere/where bookkeeping, an uninitialised LongTensor filled by slices,
    randperm of a 0-dim count) and its label-driven loss (eq/nonzero/unique, index lists, .to('cpu')): the
    losses and accuracies of every episode and the trained weights agree with torch."""
    import minigrad as mg  # noqa: PLC0415

    torch_program, torch_model, mg_program, mg_model, initial = _twins(PROTOTYPICAL_NETWORKS)
    order = np.random.default_rng(7).permutation(30)   # a flat set whose classes are interleaved
    labels = np.repeat(np.arange(6), 5)[order]
    flat = {lib: (lib.cat(_omniglot_like(lib, 6, 5, 2))[lib.from_numpy(order)], lib.from_numpy(labels))
            for lib in (torch, mg)}
    _shared_episodes(monkeypatch, torch, 2)
    expected = torch_program["train_with_sampler"](torch_model, *flat[torch], 4)
    history = mg_program["train_with_sampler"](mg_model, *flat[mg], 4)
    np.testing.assert_allclose(history, expected, rtol=1e-9, atol=1e-12)
    _assert_same_weights(torch_model, mg_model, initial)


# ----------------------------------------------------------------------------- 2. MAML and Reptile


def _assert_same_float64_weights(torch_model: Any, mg_model: Any) -> None:
    theirs = {k: v.detach().numpy() for k, v in torch_model.state_dict().items()}
    ours = {k: v.numpy() for k, v in mg_model.state_dict().items()}
    assert list(ours) == list(theirs)
    for name in ours:
        assert ours[name].dtype == np.float64, name
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("first_order", [False, True], ids=["second-order", "first-order"])
def test_maml_sine_regression(first_order: bool, torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """dragen1860-style MAML on shared sine tasks: every query loss of every inner step and the final weights
    agree with torch to 1e-10 in float64, second order (create_graph=True) and first order."""
    torch_program, torch_model, mg_program, mg_model, initial = _twins(MAML, first_order)
    _shared_rand(monkeypatch, torch, 2)
    expected = torch_program["train"](torch_model, 4)
    history = mg_program["train"](mg_model, 4)
    np.testing.assert_allclose(history, expected, rtol=1e-10, atol=1e-12)
    _assert_same_float64_weights(torch_model, mg_model)
    assert any(not np.array_equal(v.numpy(), initial[k].numpy()) for k, v in mg_model.state_dict().items())
    expected = torch_program["test"](torch_model)   # fine-tuning a deep copy leaves the meta-weights alone
    np.testing.assert_allclose(mg_program["test"](mg_model), expected, rtol=1e-10, atol=1e-12)
    assert len(expected) == 4
    _assert_same_float64_weights(torch_model, mg_model)


@pytest.mark.parametrize("use_vmap", [False, True], ids=["loop", "vmap"])
def test_maml_in_torch_func_style(use_vmap: bool, torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """functional_call + func.grad in the inner loop (tasks in a loop, or under vmap), backward() through it
    for the meta-gradient: the meta-losses and the weights agree with torch to 1e-10 in float64."""
    torch_program, torch_model, mg_program, mg_model, _ = _twins(MAML_FUNC)
    _shared_rand(monkeypatch, torch, 3)
    expected = torch_program["train"](torch_model, 3, use_vmap)
    history = mg_program["train"](mg_model, 3, use_vmap)
    np.testing.assert_allclose(history, expected, rtol=1e-10, atol=1e-12)
    _assert_same_float64_weights(torch_model, mg_model)


@pytest.mark.parametrize("legacy", [False, True], ids=["no_grad", "data"])
def test_reptile_sine_regression(legacy: bool, torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reptile: inner SGD through `no_grad` in-place updates (or the original's `param.data -= lr *
    param.grad.data`), deepcopy of the state dict and the interpolated outer step through load_state_dict;
    every inner loss and the weights agree to 1e-10 in float64."""
    torch_program, torch_model, mg_program, mg_model, _ = _twins(REPTILE)
    _shared_randperm(monkeypatch, torch, 4)
    _shared_rand(monkeypatch, torch, 4)   # after: its rand (with dtype=) replaces the randperm helper's
    expected = torch_program["train"](torch_model, 3, legacy)
    history = mg_program["train"](mg_model, 3, legacy)
    np.testing.assert_allclose(history, expected, rtol=1e-10, atol=1e-12)
    _assert_same_float64_weights(torch_model, mg_model)


# ----------------------------------------------------------------------------- 3. hypernetworks, fast weights


def test_hypernetwork(torch: Any) -> None:
    """Weights generated by hypernetworks (a viewed Linear output, and per-sample bmm weights): the losses,
    the gradient of the generated weight (retain_grad) at every step and the trained weights agree."""
    import minigrad as mg  # noqa: PLC0415

    rng = np.random.default_rng(5)
    x = rng.standard_normal((12, 3)).astype(np.float32)
    task = rng.integers(0, 3, 12)
    y = np.stack([np.sin(x[:, 0] + task), x[:, 1] * (task - 1)], 1).astype(np.float32)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(HYPERNETWORK, 3)
    expected = torch_program["train"](torch_model, torch.from_numpy(x), torch.from_numpy(task),
                                      torch.from_numpy(y), 6)
    history = mg_program["train"](mg_model, mg.from_numpy(x), mg.from_numpy(task), mg.from_numpy(y), 6)
    np.testing.assert_allclose([loss for loss, _ in history], [loss for loss, _ in expected], rtol=1e-5)
    for (_, ours), (_, theirs) in zip(history, expected):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-6)
    assert history[-1][0] < history[0][0]
    _assert_same_weights(torch_model, mg_model, initial)


def test_fast_weights_rnn(torch: Any) -> None:
    """Associative recall (the key shown last picks which earlier value to name) through the fast-weights RNN:
    losses, accuracies, every parameter's gradient at every step and the trained weights agree."""
    import minigrad as mg  # noqa: PLC0415

    rng = np.random.default_rng(6)
    batch, pairs, keys = 8, 3, 4
    x = np.zeros((batch, 2 * pairs + 1, keys + 3), np.float32)
    y = np.zeros(batch, np.int64)
    for b in range(batch):
        chosen = rng.permutation(keys)[:pairs]
        values = rng.integers(0, 3, pairs)
        for i, (key, value) in enumerate(zip(chosen, values)):
            x[b, 2 * i, key] = 1
            x[b, 2 * i + 1, keys + value] = 1
        asked = rng.integers(0, pairs)
        x[b, -1, chosen[asked]] = 1
        y[b] = values[asked]
    torch_program, torch_model, mg_program, mg_model, initial = _twins(FAST_WEIGHTS_RNN, keys + 3, 3)
    expected = torch_program["train"](torch_model, torch.from_numpy(x), torch.from_numpy(y), 5)
    history = mg_program["train"](mg_model, mg.from_numpy(x), mg.from_numpy(y), 5)
    np.testing.assert_allclose([h[:2] for h in history], [h[:2] for h in expected], rtol=1e-5, atol=1e-6)
    for step, (ours, theirs) in enumerate(zip(history, expected)):
        for i, (a, b) in enumerate(zip(ours[2], theirs[2])):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6, err_msg=f"step {step} grad {i}")
    _assert_same_weights(torch_model, mg_model, initial)


# ----------------------------------------------------------------------------- regressions


def test_autograd_grad_and_backward_take_any_iterable_of_tensors(torch: Any) -> None:
    """``torch.autograd.grad(loss, model.parameters())`` (a generator) and ``grad(loss, ParameterList)`` (what
    MAML-Pytorch's Learner.parameters() returns) work as in torch, which takes ``tuple(inputs)``; so does
    ``backward(inputs=model.parameters())``. A non-iterable is still refused."""
    import minigrad as mg  # noqa: PLC0415

    results = []
    for lib in (torch, mg):
        lib.manual_seed(0)
        layer = lib.nn.Linear(3, 2, dtype=lib.float64)
        with lib.no_grad():
            layer.weight.copy_(lib.from_numpy(np.arange(6.0).reshape(2, 3) / 10))
            layer.bias.copy_(lib.from_numpy(np.array([0.5, -0.5])))
        loss = layer(lib.from_numpy(np.array([[1.0, -2.0, 0.5]]))).tanh().sum()
        from_generator = lib.autograd.grad(loss, layer.parameters(), retain_graph=True)
        from_list = lib.autograd.grad(loss, lib.nn.ParameterList(layer.parameters()), create_graph=True)
        lib.autograd.backward((t for t in [loss]), inputs=iter([layer.bias]))
        results.append([g.detach().numpy() for g in (*from_generator, *from_list, layer.bias.grad)])
        assert layer.weight.grad is None
        with pytest.raises((TypeError, RuntimeError)):
            lib.autograd.grad(loss, 3)
    for theirs, ours in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_top_level_vmap_is_func_vmap_as_torch(torch: Any) -> None:
    """``torch.vmap`` (torch's alias of ``torch.func.vmap``) exists: a model ensemble from ``stack_module_state``
    called through it gives torch's numbers."""
    import minigrad as mg  # noqa: PLC0415

    assert mg.vmap is mg.func.vmap
    x = np.random.default_rng(8).standard_normal((4, 3))
    results = []
    for lib in (torch, mg):
        models = [lib.nn.Linear(3, 2, dtype=lib.float64) for _ in range(3)]
        for i, model in enumerate(models):
            with lib.no_grad():
                model.weight.copy_(lib.from_numpy(np.arange(6.0).reshape(2, 3) * (i - 1)))
                model.bias.fill_(0.5 * i)
        params, buffers = lib.func.stack_module_state(models)

        def call(p: Any, b: Any, inputs: Any, base: Any = models[0], lib: Any = lib) -> Any:
            return lib.func.functional_call(base, (p, b), (inputs,))

        results.append(lib.vmap(call, in_dims=(0, 0, None))(params, buffers, lib.from_numpy(x)).detach().numpy())
    np.testing.assert_allclose(results[1], results[0], rtol=1e-12)
