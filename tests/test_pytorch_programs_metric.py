"""Three PyTorch programs that learn from pairs, triplets or a teacher, run unchanged on minigrad.

Each program is our own rewrite of a well-known public PyTorch program: it keeps the original's PyTorch calls
and habits in the same roles, with our own names, structure and comments, a small model, a few steps and
generated data (the helpers and the rule come from tests/test_pytorch_programs.py and
tests/test_pytorch_programs_more.py; only the import lines differ between the two runs):

* ``SIAMESE`` mirrors pytorch/examples ``siamese_network``
  (https://github.com/pytorch/examples/tree/main/siamese_network) with a small CNN in place of its ResNet:
  one shared ``Conv2d``/``BatchNorm2d``/``ReLU``/``AdaptiveAvgPool2d`` tower applied to both images, the two
  feature vectors joined with ``torch.cat((out1, out2), 1)``, a ``Linear`` head and ``nn.Sigmoid()``,
  ``xavier_uniform_`` in an ``init_weights`` method applied with ``self.fc.apply(self.init_weights)``,
  ``nn.BCELoss()``, ``Adadelta`` under ``StepLR``, a test pass that counts
  ``torch.where(outputs > 0.5, 1, 0).eq(targets.view_as(pred))``;
* ``METRIC_LEARNING`` is written for this file in the usual batch-hard layout of metric-learning code
  (FaceNet-style triplets, as in the common PyTorch re-identification repositories): embeddings
  ``F.normalize(x, p=2, dim=1)``, a distance matrix from ``torch.cdist``, the label equality matrix
  ``labels.unsqueeze(0) == labels.unsqueeze(1)`` and ``torch.eye(n, dtype=torch.bool)``, the hardest negative
  from ``dist.masked_fill(same, float('inf')).min(dim=1)`` and the k nearest from ``topk(k, largest=False)``,
  ``nn.TripletMarginLoss(margin=1.0, p=2)`` plus ``nn.CosineEmbeddingLoss`` and an NT-Xent term whose scaled
  logits have their diagonal masked in place (``logits.masked_fill_(eye, -9e15)``), ``F.cosine_similarity`` and
  ``F.pairwise_distance`` as metrics, ``SGD(momentum=0.9, nesterov=True)``;
* ``DISTILLATION`` mirrors the PyTorch "Knowledge Distillation Tutorial"
  (https://pytorch.org/tutorials/beginner/knowledge_distillation_tutorial.html): a deep teacher trained with
  ``CrossEntropyLoss`` and Adam, then frozen (``teacher.eval()``, ``torch.no_grad()``), a light student
  trained on ``torch.sum(soft_targets * (soft_targets.log() - soft_prob)) / soft_prob.size()[0] * (T**2)``
  plus the label loss, the same with ``nn.KLDivLoss(reduction="batchmean", log_target=True)``, and the
  tutorial's cosine variant: the flattened convolution outputs matched with ``F.avg_pool1d`` and
  ``nn.CosineEmbeddingLoss()`` against ``torch.ones(...)``; accuracy with ``torch.max(outputs.data, 1)``.

No program draws random numbers once its models are built (the weights are copied torch -> minigrad; the
cosine teacher built inside the distillation program loads the trained teacher's state dict), and the Dropout
layers run at ``p = 0``, so every number of the two runs is compared. The regression tests at the end cover
what the programs found: ``torch.where(mask, 2, 0)`` gave 1 for 2, ``topk``/``kthvalue`` with k out of range
raised a ValueError only, and a quotient (``logits / T``) or a power (``x ** 2``) changed in place before
backward was refused.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
from tests.test_pytorch_programs import _assert_same_weights, _program
from tests.test_pytorch_programs_more import MINIGRAD_IMPORTS_MORE, TORCH_IMPORTS_MORE, _twins

SIAMESE = '''
class SiameseNetwork(nn.Module):
    """Do two images show the same class?  images_1, images_2: (B, 1, H, W) -> probability (B, 1).

    One convolution tower (shared weights) turns each image into a feature vector; the head reads the two
    vectors side by side.
    """

    def __init__(self, width=4):
        super(SiameseNetwork, self).__init__()
        self.tower = nn.Sequential(
            nn.Conv2d(1, width, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, 2 * width, kernel_size=3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d((1, 1)),
        )
        self.fc_in_features = 2 * width
        self.fc = nn.Sequential(
            nn.Linear(self.fc_in_features * 2, 16),
            nn.ReLU(inplace=True),
            nn.Linear(16, 1),
        )
        self.sigmoid = nn.Sigmoid()
        self.fc.apply(self.init_weights)

    def init_weights(self, m):
        if isinstance(m, nn.Linear):
            torch.nn.init.xavier_uniform_(m.weight)
            with torch.no_grad():
                m.bias.fill_(0.01)

    def forward_once(self, x):
        features = self.tower(x)
        return features.view(features.size()[0], -1)

    def forward(self, input1, input2):
        out1 = self.forward_once(input1)
        out2 = self.forward_once(input2)
        joined = torch.cat((out1, out2), 1)
        return self.sigmoid(self.fc(joined))


def make_model():
    return SiameseNetwork()


def fit_one_epoch(model, loader, optimizer, log):
    model.train()
    criterion = nn.BCELoss()
    for batch, (images_1, images_2, targets) in enumerate(loader):
        optimizer.zero_grad()
        outputs = model(images_1, images_2).squeeze()
        loss = criterion(outputs, targets)
        loss.backward()
        optimizer.step()
        log.append(loss.item())


def evaluate(model, loader):
    """(summed BCE per pair, number of pairs judged right)"""
    model.eval()
    criterion = nn.BCELoss()
    test_loss, correct = 0, 0
    with torch.no_grad():
        for images_1, images_2, targets in loader:
            outputs = model(images_1, images_2).squeeze()
            test_loss += criterion(outputs, targets).sum().item()
            pred = torch.where(outputs > 0.5, 1, 0)   # int64 guesses against float targets
            correct += pred.eq(targets.view_as(pred)).sum().item()
    return test_loss / len(loader.dataset), correct


def main(model, train_pairs, test_pairs, epochs=3):
    train_loader = DataLoader(TensorDataset(*(torch.from_numpy(a) for a in train_pairs)), batch_size=6)
    test_loader = DataLoader(TensorDataset(*(torch.from_numpy(a) for a in test_pairs)), batch_size=4)
    optimizer = optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.7)
    log, scores, lrs = [], [], []
    for epoch in range(1, epochs + 1):
        fit_one_epoch(model, train_loader, optimizer, log)
        scores.append(evaluate(model, test_loader))
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
    return log, scores, lrs
'''


METRIC_LEARNING = '''
class EmbeddingNet(nn.Module):
    """points (B, D) -> unit-length embeddings (B, E)."""

    def __init__(self, in_features, embedding_size=4):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(in_features, 16), nn.ReLU(), nn.Linear(16, embedding_size))

    def forward(self, x):
        return F.normalize(self.body(x), p=2, dim=1)


def make_model(in_features):
    return EmbeddingNet(in_features)


def label_masks(labels):
    """(same (B, B): equal labels, the diagonal included; positive (B, B): equal labels off the diagonal)"""
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    not_self = ~torch.eye(labels.size(0), dtype=torch.bool)
    return same, same & not_self


def mine_hardest(embeddings, labels):
    """Per anchor: the index of its farthest positive and of its nearest negative (no gradient)."""
    with torch.no_grad():
        dist = torch.cdist(embeddings, embeddings, p=2)
        same, positive = label_masks(labels)
        hardest_positive = dist.masked_fill(~positive, float('-inf')).argmax(dim=1)
        _, hardest_negative = dist.masked_fill(same, float('inf')).min(dim=1)
    return hardest_positive, hardest_negative


def k_nearest_negative_loss(embeddings, labels, k=2, margin=0.5):
    """Margin loss over each anchor's k nearest negatives, differentiated through cdist, masked_fill, topk."""
    dist = torch.cdist(embeddings, embeddings)
    same, positive = label_masks(labels)
    far_positive = dist.masked_fill(~positive, 0.0).max(dim=1).values
    near_negative, _ = dist.masked_fill(same, float('inf')).topk(k, dim=1, largest=False)
    return F.relu(far_positive.unsqueeze(1) - near_negative + margin).mean()


def contrastive_loss(embeddings, positive, temperature=0.5):
    """NT-Xent over the batch: each anchor's similarities to the others (its own masked out, in place on the
    scaled logits), cross-entropy towards its mined positive."""
    logits = embeddings @ embeddings.t() / temperature
    logits.masked_fill_(torch.eye(embeddings.size(0), dtype=torch.bool), -9e15)
    return F.cross_entropy(logits, positive)


def train(model, points, labels, steps, batch_size=8):
    triplet_loss = nn.TripletMarginLoss(margin=1.0, p=2)
    cosine_loss = nn.CosineEmbeddingLoss(margin=0.2)
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
    points, labels = torch.from_numpy(points), torch.from_numpy(labels)
    history = []
    for step in range(steps):
        first = (step * batch_size) % points.size(0)
        x, y = points[first:first + batch_size], labels[first:first + batch_size]
        embeddings = model(x)
        positive, negative = mine_hardest(embeddings, y)
        loss_triplet = triplet_loss(embeddings, embeddings[positive], embeddings[negative])
        # pairs (anchor, partner): +1 for its hardest positive, -1 for its hardest negative
        partners = torch.cat((embeddings[positive], embeddings[negative]))
        pair_targets = torch.cat((torch.ones(y.size(0)), -torch.ones(y.size(0))))
        loss_cosine = cosine_loss(torch.cat((embeddings, embeddings)), partners, pair_targets)
        loss_knn = k_nearest_negative_loss(embeddings, y)
        loss_nce = contrastive_loss(embeddings, positive)
        loss = loss_triplet + 0.5 * loss_cosine + loss_knn + 0.1 * loss_nce
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            positive_similarity = F.cosine_similarity(embeddings, embeddings[positive]).mean().item()
            negative_distance = F.pairwise_distance(embeddings, embeddings[negative]).mean().item()
        history.append((loss.item(), loss_triplet.item(), loss_cosine.item(), loss_knn.item(), loss_nce.item(),
                        positive_similarity, negative_distance))
    return history


@torch.no_grad()
def recall_at_1(model, points, labels):
    """Share of points whose nearest other point (cosine distance) has the same label, and those neighbours."""
    model.eval()
    embeddings = model(torch.from_numpy(points))
    labels = torch.from_numpy(labels)
    similarity = embeddings @ embeddings.t()
    dist = (1 - similarity).masked_fill(torch.eye(len(labels), dtype=torch.bool), float('inf'))
    _, nearest = dist.topk(1, dim=1, largest=False)
    hits = labels[nearest.squeeze(1)] == labels
    return hits.float().mean().item(), nearest.squeeze(1).tolist()
'''


DISTILLATION = '''
class DeepNN(nn.Module):
    """The teacher: four convolutions. images (B, 3, 8, 8) -> logits (B, classes)."""

    def __init__(self, num_classes=4, dropout=0.1):
        super(DeepNN, self).__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 8, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Conv2d(8, 8, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 8, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(32, 24),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(24, num_classes),
        )

    def forward(self, x):
        x = self.features(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


class LightNN(nn.Module):
    """The student: two convolutions. images (B, 3, 8, 8) -> logits (B, classes)."""

    def __init__(self, num_classes=4, dropout=0.1):
        super(LightNN, self).__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 4, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Conv2d(4, 4, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(16, 12),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(12, num_classes),
        )

    def forward(self, x):
        x = self.features(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


class DeepNNCosine(DeepNN):
    """The teacher that also returns its flattened convolution output (B, 32)."""

    def forward(self, x):
        x = self.features(x)
        flattened_conv_output = torch.flatten(x, 1)
        return self.classifier(flattened_conv_output), flattened_conv_output


class LightNNCosine(LightNN):
    """The student that also returns its flattened convolution output (B, 16)."""

    def forward(self, x):
        x = self.features(x)
        flattened_conv_output = torch.flatten(x, 1)
        return self.classifier(flattened_conv_output), flattened_conv_output


def make_models():
    # Dropout at 0: its masks come from each engine's own generator and could not be compared
    return DeepNN(dropout=0.0), LightNN(dropout=0.0), LightNNCosine(dropout=0.0)


def count_parameters(model):
    return "{:,}".format(sum(p.numel() for p in model.parameters()))


def train(model, loader, epochs, learning_rate):
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=learning_rate)
    model.train()
    losses = []
    for epoch in range(epochs):
        running_loss = 0.0
        for inputs, labels in loader:
            optimizer.zero_grad()
            loss = criterion(model(inputs), labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
        losses.append(running_loss / len(loader))
    return losses


def test(model, loader):
    model.eval()
    correct, total = 0, 0
    with torch.no_grad():
        for inputs, labels in loader:
            outputs = model(inputs)
            if isinstance(outputs, tuple):
                outputs = outputs[0]
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    return 100 * correct / total


def train_knowledge_distillation(teacher, student, loader, epochs, learning_rate, T, soft_target_loss_weight,
                                 ce_loss_weight, use_kl_div=False):
    ce_loss = nn.CrossEntropyLoss()
    kl_div = nn.KLDivLoss(reduction="batchmean", log_target=True)
    optimizer = optim.Adam(student.parameters(), lr=learning_rate)
    teacher.eval()    # the teacher's weights stay as they are
    student.train()
    losses = []
    for epoch in range(epochs):
        for inputs, labels in loader:
            optimizer.zero_grad()
            with torch.no_grad():
                teacher_logits = teacher(inputs)
            student_logits = student(inputs)
            soft_prob = F.log_softmax(student_logits / T, dim=-1)
            if use_kl_div:
                soft_targets_loss = kl_div(soft_prob, F.log_softmax(teacher_logits / T, dim=-1)) * (T**2)
            else:
                # KL(teacher || student) by hand, scaled by T**2 as in "Distilling the knowledge in a neural network"
                soft_targets = F.softmax(teacher_logits / T, dim=-1)
                soft_targets_loss = torch.sum(soft_targets * (soft_targets.log() - soft_prob)) \\
                    / soft_prob.size()[0] * (T**2)
            label_loss = ce_loss(student_logits, labels)
            loss = soft_target_loss_weight * soft_targets_loss + ce_loss_weight * label_loss
            loss.backward()
            optimizer.step()
            losses.append((loss.item(), soft_targets_loss.item(), label_loss.item()))
    return losses


def train_cosine_loss(teacher, student, loader, epochs, learning_rate, hidden_rep_loss_weight, ce_loss_weight):
    ce_loss = nn.CrossEntropyLoss()
    cosine_loss = nn.CosineEmbeddingLoss()
    optimizer = optim.Adam(student.parameters(), lr=learning_rate)
    teacher.eval()
    student.train()
    losses = []
    for epoch in range(epochs):
        for inputs, labels in loader:
            optimizer.zero_grad()
            with torch.no_grad():
                _, teacher_hidden_representation = teacher(inputs)
            student_logits, student_hidden_representation = student(inputs)
            # the teacher's 32 features averaged in pairs to the student's 16
            teacher_hidden_representation = F.avg_pool1d(teacher_hidden_representation, 2)
            hidden_rep_loss = cosine_loss(student_hidden_representation, teacher_hidden_representation,
                                          target=torch.ones(inputs.size(0)))
            label_loss = ce_loss(student_logits, labels)
            loss = hidden_rep_loss_weight * hidden_rep_loss + ce_loss_weight * label_loss
            loss.backward()
            optimizer.step()
            losses.append((loss.item(), hidden_rep_loss.item(), label_loss.item()))
    return losses


def main(teacher, student, cosine_student, train_images, train_labels, test_images, test_labels):
    train_loader = DataLoader(TensorDataset(torch.from_numpy(train_images), torch.from_numpy(train_labels)),
                              batch_size=8)
    test_loader = DataLoader(TensorDataset(torch.from_numpy(test_images), torch.from_numpy(test_labels)),
                             batch_size=8)
    sizes = [count_parameters(m) for m in (teacher, student, cosine_student)]
    results = {"sizes": sizes}
    results["teacher"] = train(teacher, train_loader, epochs=2, learning_rate=0.01)
    results["teacher_accuracy"] = test(teacher, test_loader)
    start = {k: v.clone() for k, v in student.state_dict().items()}
    results["kd"] = train_knowledge_distillation(teacher, student, train_loader, epochs=1, learning_rate=0.01,
                                                 T=2, soft_target_loss_weight=0.25, ce_loss_weight=0.75)
    results["kd_accuracy"] = test(student, test_loader)
    kd_weights = {k: v.clone() for k, v in student.state_dict().items()}
    student.load_state_dict(start)
    results["kl"] = train_knowledge_distillation(teacher, student, train_loader, epochs=1, learning_rate=0.01,
                                                 T=2, soft_target_loss_weight=0.25, ce_loss_weight=0.75,
                                                 use_kl_div=True)
    results["kl_matches_kd"] = all(torch.allclose(v, kd_weights[k], rtol=1e-4, atol=1e-6)
                                   for k, v in student.state_dict().items())
    cosine_teacher = DeepNNCosine(dropout=0.0)
    cosine_teacher.load_state_dict(teacher.state_dict())
    results["cosine"] = train_cosine_loss(cosine_teacher, cosine_student, train_loader, epochs=1,
                                          learning_rate=0.01, hidden_rep_loss_weight=0.25, ce_loss_weight=0.75)
    results["cosine_accuracy"] = test(cosine_student, test_loader)
    return results
'''

PROGRAMS = (SIAMESE, METRIC_LEARNING, DISTILLATION)


def test_the_programs_differ_only_in_their_imports() -> None:
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source
    assert TORCH_IMPORTS_MORE.count("\n") == MINIGRAD_IMPORTS_MORE.count("\n")


# ----------------------------------------------------------------------------- 1. siamese network


def _image_pairs(count: int, seed: int) -> tuple:
    """(images_1 (N, 1, 8, 8), images_2 (N, 1, 8, 8), targets (N,) float32: 1 when both show the same class).

    Class c is a bright horizontal band at rows 2c..2c+1 over noise; half the pairs share their class.
    """
    rng = np.random.default_rng(seed)
    first = rng.integers(0, 4, count)
    same = rng.random(count) < 0.5
    second = np.where(same, first, (first + rng.integers(1, 4, count)) % 4)

    def draw(classes: np.ndarray) -> np.ndarray:
        images = rng.random((count, 1, 8, 8)) * 0.5
        for row, c in enumerate(classes):
            images[row, 0, 2 * c:2 * c + 2] += 1.0
        return images.astype(np.float32)

    return draw(first), draw(second), same.astype(np.float32)


def test_siamese_network_with_bce_adadelta_and_steplr(torch: Any) -> None:
    """Both images through one BatchNorm tower (its running statistics updated twice a step), BCELoss on the
    sigmoid, three epochs of Adadelta under StepLR, the where/eq/view_as accuracy count."""
    torch_program, torch_model, mg_program, mg_model, initial = _twins(SIAMESE)
    train_pairs, test_pairs = _image_pairs(18, 0), _image_pairs(8, 1)
    log, scores, lrs = mg_program["main"](mg_model, train_pairs, test_pairs)
    expected_log, expected_scores, expected_lrs = torch_program["main"](torch_model, train_pairs, test_pairs)
    assert len(log) == len(expected_log) == 9
    np.testing.assert_allclose(log, expected_log, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-5, atol=1e-6)
    assert [right for _, right in scores] == [right for _, right in expected_scores]
    assert lrs == pytest.approx(expected_lrs) == [0.7, 0.49, 0.343]
    _assert_same_weights(torch_model, mg_model, initial)   # running statistics and num_batches_tracked included
    assert int(mg_model.state_dict()["tower.1.num_batches_tracked"].item()) == 2 * 9


def test_siamese_init_weights_fills_the_head_only() -> None:
    """``self.fc.apply(self.init_weights)``: the Linear layers of the head get Xavier weights and 0.01 biases;
    the tower keeps its default initialisation."""
    program = _program(SIAMESE, MINIGRAD_IMPORTS_MORE)
    program["torch"].manual_seed(0)
    model = program["make_model"]()
    for layer in (model.fc[0], model.fc[2]):
        fan_out, fan_in = layer.weight.shape
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        weights = layer.weight.numpy()
        assert np.abs(weights).max() <= bound and np.abs(weights).max() > 0.5 * bound
        assert (layer.bias.numpy() == np.float32(0.01)).all()
    assert (model.tower[1].weight.numpy() == 1).all() and (model.tower[1].bias.numpy() == 0).all()


# ----------------------------------------------------------------------------- 2. metric learning


def _clustered_points(count: int, seed: int, classes: int = 3, features: int = 6) -> tuple:
    """Points (count, features) float32 around one centre per class, labels int64, every class in each 8."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((classes, features)) * 1.5
    labels = np.arange(count) % classes
    rng.shuffle(labels)
    points = centres[labels] + rng.standard_normal((count, features))
    return points.astype(np.float32), labels.astype(np.int64)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_metric_learning_with_mined_triplets(dtype: str, torch: Any) -> None:
    """Batch-hard triplets (mined under no_grad), the cosine pair loss, a k-nearest-negative margin loss
    differentiated through cdist/masked_fill/topk and an NT-Xent term masked in place, Nesterov SGD; recall@1
    under @no_grad. In float64 (``model.double()``) the runs agree to 1e-10."""
    points, labels = _clustered_points(24, 2)
    points = points.astype(dtype)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(METRIC_LEARNING, points.shape[1])
    if dtype == "float64":
        torch_model.double()
        mg_model.double()
    expected = torch_program["train"](torch_model, points, labels, 9)
    history = mg_program["train"](mg_model, points, labels, 9)
    tolerance = {"rtol": 1e-5, "atol": 1e-6} if dtype == "float32" else {"rtol": 1e-10, "atol": 1e-12}
    np.testing.assert_allclose(history, expected, **tolerance)
    for name, weights in mg_model.state_dict().items():
        assert weights.dtype == np.dtype(dtype)
        np.testing.assert_allclose(weights.numpy(), torch_model.state_dict()[name].numpy(), **tolerance)
    recall, neighbours = mg_program["recall_at_1"](mg_model, points, labels)
    expected_recall, expected_neighbours = torch_program["recall_at_1"](torch_model, points, labels)
    assert recall == pytest.approx(expected_recall) and neighbours == expected_neighbours


# ----------------------------------------------------------------------------- 3. knowledge distillation


def _coloured_images(count: int, seed: int) -> tuple:
    """Images (count, 3, 8, 8) float32 whose class (0..3) is which quadrant is bright, labels int64."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, count)
    images = rng.random((count, 3, 8, 8)) * 0.5
    for row, label in enumerate(labels):
        top, left = 4 * (label // 2), 4 * (label % 2)
        images[row, :, top:top + 4, left:left + 4] += rng.random(3)[:, None, None] + 0.5
    return images.astype(np.float32), labels.astype(np.int64)


def test_knowledge_distillation_tutorial(torch: Any) -> None:
    """Teacher trained with cross-entropy; a student distilled with the hand-written soft-target loss, again
    with KLDivLoss(batchmean, log_target=True) (the same steps), and the cosine-loss student on avg_pool1d'd
    teacher features."""
    train_images, train_labels = _coloured_images(24, 3)
    test_images, test_labels = _coloured_images(8, 4)
    torch_program, torch_models, mg_program, mg_models, initials = _twins(DISTILLATION, factory="make_models")
    data = (train_images, train_labels, test_images, test_labels)
    expected = torch_program["main"](*torch_models, *data)
    results = mg_program["main"](*mg_models, *data)
    assert results["sizes"] == expected["sizes"] == ["2,868", "516", "516"]
    for key in ("teacher", "kd", "kl", "cosine"):
        np.testing.assert_allclose(results[key], expected[key], rtol=1e-5, atol=1e-6, err_msg=key)
    for key in ("teacher_accuracy", "kd_accuracy", "cosine_accuracy"):
        assert results[key] == pytest.approx(expected[key]), key
    assert results["kl_matches_kd"] and expected["kl_matches_kd"]
    np.testing.assert_allclose(np.array(results["kl"]), np.array(results["kd"]), rtol=1e-5, atol=1e-6)
    for torch_model, mg_model, initial in zip(torch_models, mg_models, initials):
        _assert_same_weights(torch_model, mg_model, initial)


# ----------------------------------------------------------------------------- regressions the programs found


@pytest.mark.parametrize("pair", [(2, 0), (5, 7), (-1, 1), (True, 0), (True, False), (2.5, 0), (2, 0.5), (1j, 0)])
def test_where_of_two_python_numbers_keeps_their_values(pair: tuple, torch: Any) -> None:
    """``torch.where(outputs > 0.5, 1, 0)`` in the siamese test pass: the numbers took the condition's dtype, so
    ``where(mask, 2, 0)`` gave [1, 0] (2 cast to bool); now PyTorch's dtype for the pair, whatever the condition."""
    ours = mg.where(mg.tensor([True, False]), *pair)
    theirs = torch.where(torch.tensor([True, False]), *pair)
    assert ours.tolist() == theirs.tolist() and str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
    # a non-bool condition (NumPy's reading, which PyTorch refuses) gives the same numbers and dtype
    assert mg.where(mg.tensor([3, 0], dtype=mg.uint8), *pair).tolist() == theirs.tolist()
    assert mg.where(mg.tensor([3, 0], dtype=mg.uint8), *pair).dtype == ours.dtype


@pytest.mark.parametrize("call", [lambda t: t.ones(3, 4).topk(5), lambda t: t.ones(3, 4).topk(-1, dim=0),
                                  lambda t: t.tensor(2.0).topk(2), lambda t: t.ones(3, 4).kthvalue(5),
                                  lambda t: t.ones(3, 4).kthvalue(0, dim=0)])
def test_topk_and_kthvalue_refuse_k_out_of_range_with_torchs_runtime_error(call: Any, torch: Any) -> None:
    """PyTorch raises RuntimeError ("selected index k out of range"); ours is that and the ValueError it was."""
    with pytest.raises(RuntimeError):
        call(torch)
    with pytest.raises(RuntimeError, match="k .* is out of range") as caught:
        call(mg)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("divide", [
    lambda t, F, z: z @ z.t() / 0.5,                       # logits / temperature (NT-Xent, SimCLR)
    lambda t, F, z: z @ z.t() / t.tensor(0.5),             # a constant tensor divisor
    lambda t, F, z: z @ z.t() / z.abs().sum(),             # a divisor that needs its gradient too
    lambda t, F, z: 2.0 / (z @ z.t()).abs().add(1),        # a number divided by a tensor
    lambda t, F, z: F.normalize(z @ z.t(), dim=1),         # x / norm inside F.normalize
    lambda t, F, z: (z @ z.t()).pow(2),                    # pow with a number exponent: its input only
    lambda t, F, z: (z @ z.t()) ** 3,
])
@pytest.mark.parametrize("in_place", ["masked_fill_", "fill_diagonal_", "setitem"])
def test_a_quotient_changed_in_place_before_backward(divide: Any, in_place: str, torch: Any) -> None:
    """``logits = z @ z.t() / T; logits.masked_fill_(eye, -9e15)``: the division kept its own output for the
    divisor's gradient (pow for the exponent's), so backward refused the changed array; they keep what
    PyTorch's div and pow(Tensor, Scalar) keep now, their inputs."""
    torch_functional = torch.nn.functional

    z = np.random.default_rng(5).standard_normal((4, 3))
    results = []
    for lib, functional in ((torch, torch_functional), (mg, mg.nn.functional)):
        leaf = lib.tensor(z, requires_grad=True)
        quotient = divide(lib, functional, leaf * 1.0)
        if in_place == "masked_fill_":
            quotient.masked_fill_(lib.eye(4, dtype=lib.bool), -9e15)
        elif in_place == "fill_diagonal_":
            quotient.fill_diagonal_(float("-inf"))
        else:
            quotient[0, 1] = 3.0
        loss = functional.cross_entropy(quotient, lib.tensor([1, 0, 3, 2]))
        loss.backward()
        results.append((loss.item(), leaf.grad.numpy()))
    assert results[1][0] == pytest.approx(results[0][0], rel=1e-12)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-10, atol=1e-14)


def test_a_changed_quotient_is_still_refused_where_the_dividend_changed(torch: Any) -> None:
    """What the division keeps now (the dividend, for the divisor's gradient) is still checked: a dividend
    changed in place before backward raises, as in PyTorch."""
    for lib in (torch, mg):
        x = lib.tensor([1.0, 2.0], requires_grad=True) * 1.0
        scale = lib.tensor(2.0, requires_grad=True)
        y = x / scale
        x.add_(1.0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()
    # a Python number divisor keeps nothing of the dividend: changing it afterwards is fine, as in PyTorch
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    doubled = x * 1.0
    y = doubled / 2.0
    doubled.add_(1.0)
    y.sum().backward()
    assert x.grad.tolist() == [0.5, 0.5]


def test_second_derivatives_of_a_quotient_against_torch(torch: Any) -> None:
    """The higher-order rule of the division rebuilds the quotient from the kept dividend: d2/da db and d2/db2."""
    values = []
    for lib in (torch, mg):
        a = lib.tensor([1.5, -2.0, 0.5], dtype=lib.float64, requires_grad=True)
        b = lib.tensor([0.7, 1.3, -0.4], dtype=lib.float64, requires_grad=True)
        (ga, gb) = lib.autograd.grad((a / b).pow(2).sum(), (a, b), create_graph=True)
        second = lib.autograd.grad((ga * gb).sum() + gb.sum(), (a, b))
        values.append([ga.detach().numpy(), gb.detach().numpy(), *(s.numpy() for s in second)])
    for ours, theirs in zip(values[1], values[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
