"""Six more PyTorch programs, small, run unchanged on minigrad: only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch program: it keeps the original's PyTorch calls
and habits in the same roles, with our own names, structure and comments, a small model, a few steps and
generated data (the helpers and the rule come from tests/test_pytorch_programs.py):

* ``MNIST_CNN`` mirrors pytorch/examples ``mnist`` (https://github.com/pytorch/examples/tree/main/mnist):
  ``Conv2d``, ``F.relu``, ``F.max_pool2d``, ``nn.Dropout``, ``torch.flatten(x, 1)``,
  ``F.log_softmax``/``F.nll_loss``, ``Adadelta`` under ``StepLR(gamma=0.7)``, ``train()``/``eval()``,
  ``DataLoader(dataset, **kwargs)``, a ``no_grad`` evaluation summing ``F.nll_loss(reduction='sum').item()``
  and counting ``pred.eq(target.view_as(pred)).sum().item()``;
* ``VAE`` mirrors pytorch/examples ``vae`` (https://github.com/pytorch/examples/tree/main/vae): the
  reparameterisation with ``torch.randn_like``, ``F.binary_cross_entropy(reduction='sum')``, the KL term
  with ``.pow(2)`` and ``.exp()``, Adam, ``torch.cat`` of inputs and reconstructions, samples decoded from
  ``torch.randn``;
* ``LSTM_TAGGER`` mirrors the part-of-speech tagger of the "Sequence Models and Long Short-Term Memory
  Networks" tutorial (https://pytorch.org/tutorials/beginner/nlp/sequence_models_tutorial.html), on our own
  two sentences: ``torch.tensor(ids, dtype=torch.long)``, ``nn.Embedding``, ``nn.LSTM`` over
  ``embeds.view(len(sentence), 1, -1)``, ``nn.NLLLoss``, ``SGD(lr=0.1)``, ``model.zero_grad()``;
* ``DCGAN`` mirrors the DCGAN faces tutorial (https://pytorch.org/tutorials/beginner/dcgan_faces_tutorial.html)
  at 16x16: ``ConvTranspose2d``/``BatchNorm2d``/``ReLU(True)``/``Tanh`` generator,
  ``Conv2d``/``LeakyReLU(0.2, inplace=True)``/``Sigmoid`` discriminator, an init function chosen by
  ``m.__class__.__name__.find('Conv')`` that writes ``nn.init.normal_(m.weight.data, 0.0, 0.02)``,
  ``Module.apply``, ``BCELoss``, two Adam optimizers with ``betas=(0.5, 0.999)``, ``torch.full``,
  ``label.fill_``, ``fake.detach()``, ``torch.device("cuda:0" if torch.cuda.is_available() ...)``;
* ``TIME_SERIES_LSTM`` mirrors the many-to-one LSTM of yunjey/pytorch-tutorial's recurrent network
  (https://github.com/yunjey/pytorch-tutorial/tree/master/tutorials/02-intermediate/recurrent_neural_network),
  as the common forecasting tutorials train it: ``nn.LSTM(batch_first=True)`` from
  ``(torch.zeros(...), torch.zeros(...))``, ``clip_grad_norm_``, ``ReduceLROnPlateau``, the best weights
  kept with ``torch.save(model.state_dict(), path)`` and restored with
  ``model.load_state_dict(torch.load(path, weights_only=True))``;
* ``NAME_CLASSIFIER`` mirrors the task of the "Classifying Names with a Character-Level RNN" tutorial
  (https://pytorch.org/tutorials/intermediate/char_rnn_classification_tutorial.html), batched: ``nn.RNN``
  over ``pad_sequence`` + ``pack_padded_sequence(enforce_sorted=False)``,
  ``CrossEntropyLoss(weight=..., label_smoothing=0.1)``, ``random_split`` under a seeded
  ``torch.Generator``, a ``DataLoader`` with a ``collate_fn``.

Random draws inside the programs (``torch.randn``/``randn_like`` noise, ``random_split``) come from two
different generators in the two engines. Where the draws are part of the computation compared, the test
makes both engines read the same numbers: ``torch.randn``/``torch.randn_like`` are replaced, in both
libraries alike and only during the run, by draws from one NumPy stream (``_shared_noise``); the split
indices from torch's ``random_split`` are given to minigrad's ``Subset``. Dropout masks cannot be shared:
the MNIST net's losses are compared with its two ``Dropout`` modules at ``p = 0``, and its real dropout is
checked for what does not depend on the masks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.test_pytorch_programs import (
    MINIGRAD_IMPORTS,
    TORCH_IMPORTS,
    _assert_same_weights,
    _program,
    _twin_models,
)

# the extra lines the examples import with; each line names the same thing in both
TORCH_IMPORTS_MORE = TORCH_IMPORTS + """\
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import DataLoader, Subset, TensorDataset, random_split
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence
"""

MINIGRAD_IMPORTS_MORE = MINIGRAD_IMPORTS + """\
from minigrad.optim.lr_scheduler import StepLR
from minigrad.utils.data import DataLoader, Subset, TensorDataset, random_split
from minigrad.nn.utils.rnn import pack_padded_sequence, pad_sequence
"""


MNIST_CNN = '''
class DigitNet(nn.Module):
    """Two 3x3 convolutions, one 2x2 max pool, two dropouts, two linear layers.

    images: (B, 1, 28, 28) -> log-probabilities (B, 10).
    """

    def __init__(self):
        super(DigitNet, self).__init__()
        self.conv_in = nn.Conv2d(1, 32, 3, 1)
        self.conv_out = nn.Conv2d(32, 64, 3, 1)
        self.drop_pooled = nn.Dropout(0.25)
        self.drop_hidden = nn.Dropout(0.5)
        self.hidden = nn.Linear(9216, 128)     # 64 channels x 12 x 12 after the pool
        self.scores = nn.Linear(128, 10)

    def forward(self, images):
        h = F.relu(self.conv_in(images))
        h = F.relu(self.conv_out(h))
        h = self.drop_pooled(F.max_pool2d(h, 2))
        h = F.relu(self.hidden(torch.flatten(h, 1)))
        return F.log_softmax(self.scores(self.drop_hidden(h)), dim=1)


class Options:
    epochs = 2
    batch_size = 8
    eval_batch_size = 4
    lr = 1.0
    gamma = 0.7
    report_every = 1


def fit_one_epoch(opts, model, device, loader, optimizer, epoch, log):
    model.train()
    for step, (images, labels) in enumerate(loader):
        images, labels = images.to(device), labels.to(device)
        optimizer.zero_grad()
        loss = F.nll_loss(model(images), labels)
        loss.backward()
        optimizer.step()
        if step % opts.report_every == 0:
            done = step * len(images)
            log.append((epoch, done, len(loader.dataset), 100. * step / len(loader), loss.item()))


def evaluate(model, device, loader):
    """(mean summed nll over the set, number of right answers)"""
    model.eval()
    summed_nll, right = 0, 0
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            log_probs = model(images)
            summed_nll += F.nll_loss(log_probs, labels, reduction='sum').item()
            guess = log_probs.argmax(dim=1, keepdim=True)
            right += guess.eq(labels.view_as(guess)).sum().item()
    return summed_nll / len(loader.dataset), right


def make_model():
    return DigitNet()


def main(model, train_images, train_labels, test_images, test_labels):
    opts = Options()
    device = torch.device("cpu")
    fit_args = {'batch_size': opts.batch_size}
    eval_args = {'batch_size': opts.eval_batch_size}
    fit_loader = DataLoader(TensorDataset(torch.from_numpy(train_images), torch.from_numpy(train_labels)), **fit_args)
    eval_loader = DataLoader(TensorDataset(torch.from_numpy(test_images), torch.from_numpy(test_labels)), **eval_args)

    model = model.to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=opts.lr)
    scheduler = StepLR(optimizer, step_size=1, gamma=opts.gamma)
    log, scores, lrs = [], [], []
    for epoch in range(1, opts.epochs + 1):
        fit_one_epoch(opts, model, device, fit_loader, optimizer, epoch, log)
        scores.append(evaluate(model, device, eval_loader))
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
    return log, scores, lrs
'''


VAE = '''
PIXELS = 784      # a flattened 28x28 image
LATENT = 20


class Autoencoder(nn.Module):
    """Gaussian encoder and Bernoulli decoder, each one hidden layer of 400.

    forward: images (B, 1, 28, 28) -> (pixel probabilities (B, 784), mu (B, 20), logvar (B, 20)).
    """

    def __init__(self, hidden=400):
        super(Autoencoder, self).__init__()
        self.enc_hidden = nn.Linear(PIXELS, hidden)
        self.enc_mu = nn.Linear(hidden, LATENT)
        self.enc_logvar = nn.Linear(hidden, LATENT)
        self.dec_hidden = nn.Linear(LATENT, hidden)
        self.dec_out = nn.Linear(hidden, PIXELS)

    def encode(self, flat):
        h = F.relu(self.enc_hidden(flat))
        return self.enc_mu(h), self.enc_logvar(h)

    def sample_latent(self, mu, logvar):
        std = torch.exp(0.5*logvar)
        noise = torch.randn_like(std)
        return mu + noise*std

    def decode(self, z):
        return torch.sigmoid(self.dec_out(F.relu(self.dec_hidden(z))))

    def forward(self, images):
        mu, logvar = self.encode(images.view(-1, PIXELS))
        return self.decode(self.sample_latent(mu, logvar)), mu, logvar


def elbo_loss(probs, images, mu, logvar):
    """Negative ELBO summed over the batch: reconstruction BCE plus the closed-form KL to N(0, I)."""
    reconstruction = F.binary_cross_entropy(probs, images.view(-1, PIXELS), reduction='sum')
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return reconstruction + kl


def make_model():
    return Autoencoder()


def fit_one_epoch(model, optimizer, loader, per_batch):
    model.train()
    total = 0
    for images, _ in loader:
        optimizer.zero_grad()
        probs, mu, logvar = model(images)
        loss = elbo_loss(probs, images, mu, logvar)
        loss.backward()
        total += loss.item()
        optimizer.step()
        per_batch.append(loss.item() / len(images))
    return total / len(loader.dataset)


def evaluate(model, loader, batch_size):
    """(mean loss per image, the first batch's first images stacked above their reconstructions)"""
    model.eval()
    total, side_by_side = 0, None
    with torch.no_grad():
        for step, (images, _) in enumerate(loader):
            probs, mu, logvar = model(images)
            total += elbo_loss(probs, images, mu, logvar).item()
            if step == 0:
                shown = min(images.size(0), 8)
                side_by_side = torch.cat([images[:shown], probs.view(batch_size, 1, 28, 28)[:shown]])
    return total / len(loader.dataset), side_by_side


def main(model, train_images, test_images, epochs=2, batch_size=8):
    def loader(images):
        dataset = TensorDataset(torch.from_numpy(images), torch.zeros(len(images)))
        return DataLoader(dataset, batch_size=batch_size, shuffle=False)

    fit_loader, eval_loader = loader(train_images), loader(test_images)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    per_batch, epoch_means, eval_losses = [], [], []
    for _ in range(epochs):
        epoch_means.append(fit_one_epoch(model, optimizer, fit_loader, per_batch))
        eval_loss, side_by_side = evaluate(model, eval_loader, batch_size)
        eval_losses.append(eval_loss)
        with torch.no_grad():
            samples = model.decode(torch.randn(64, LATENT)).cpu()
    return per_batch, epoch_means, eval_losses, side_by_side.numpy(), samples.view(64, 1, 28, 28).numpy()
'''


LSTM_TAGGER = '''
SENTENCES = [
    ("The cat saw the bird".split(), ["DET", "NN", "V", "DET", "NN"]),
    ("Somebody wrote this letter".split(), ["NN", "V", "DET", "NN"]),
]
TAGS = {"DET": 0, "NN": 1, "V": 2}
WORDS = {}
for words, _ in SENTENCES:
    for word in words:
        WORDS.setdefault(word, len(WORDS))   # case matters: "The" and "the" are two entries

EMBEDDING_DIM = HIDDEN_DIM = 6


def as_indices(tokens, index):
    return torch.tensor([index[token] for token in tokens], dtype=torch.long)


class Tagger(nn.Module):
    """Embedding, one-layer LSTM, linear read-out. sentence: (T,) word ids -> (T, tags) log-probabilities."""

    def __init__(self, embedding_dim, hidden_dim, vocab_size, tag_count):
        super(Tagger, self).__init__()
        self.hidden_dim = hidden_dim
        self.embed = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim)
        self.to_tags = nn.Linear(hidden_dim, tag_count)

    def forward(self, sentence):
        length = len(sentence)
        states, _ = self.lstm(self.embed(sentence).view(length, 1, -1))   # (T, batch 1, hidden)
        return F.log_softmax(self.to_tags(states.view(length, -1)), dim=1)


def make_model():
    return Tagger(EMBEDDING_DIM, HIDDEN_DIM, len(WORDS), len(TAGS))


def main(model, epochs):
    first = as_indices(SENTENCES[0][0], WORDS)
    with torch.no_grad():
        untrained = model(first).numpy()

    criterion = nn.NLLLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for _ in range(epochs):
        for words, tags in SENTENCES:
            model.zero_grad()
            loss = criterion(model(as_indices(words, WORDS)), as_indices(tags, TAGS))
            loss.backward()
            optimizer.step()
            losses.append(loss.item())

    with torch.no_grad():
        scores = model(first)
        return untrained, losses, scores.numpy(), scores.argmax(dim=1).tolist()
'''


DCGAN = '''
IMAGE_CHANNELS = 1
LATENT_SIZE = 8
G_WIDTH = 4           # the generator's narrowest feature map count
D_WIDTH = 4
LEARNING_RATE = 0.0002
ADAM_BETAS = (0.5, 0.999)
GPUS = 0
REAL, FAKE = 1., 0.

device = torch.device("cuda:0" if (torch.cuda.is_available() and GPUS > 0) else "cpu")


def init_weights(m):
    """N(0, 0.02) convolution weights; N(1, 0.02) batch-norm scales with zero shifts."""
    kind = m.__class__.__name__
    if kind.find('Conv') != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif kind.find('BatchNorm') != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)


class Generator(nn.Module):
    """z: (B, LATENT_SIZE, 1, 1) -> images (B, IMAGE_CHANNELS, 16, 16) in [-1, 1], through 4x4 and 8x8."""

    def __init__(self, gpus):
        super(Generator, self).__init__()
        self.gpus = gpus
        self.net = nn.Sequential(
            nn.ConvTranspose2d(LATENT_SIZE, G_WIDTH * 4, 4, 1, 0, bias=False),
            nn.BatchNorm2d(G_WIDTH * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(G_WIDTH * 4, G_WIDTH * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(G_WIDTH * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(G_WIDTH * 2, IMAGE_CHANNELS, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, z):
        return self.net(z)


class Discriminator(nn.Module):
    """images (B, IMAGE_CHANNELS, 16, 16) -> probability of being real (B, 1, 1, 1), through 8x8 and 4x4."""

    def __init__(self, gpus):
        super(Discriminator, self).__init__()
        self.gpus = gpus
        self.net = nn.Sequential(
            nn.Conv2d(IMAGE_CHANNELS, D_WIDTH, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(D_WIDTH, D_WIDTH * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(D_WIDTH * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(D_WIDTH * 2, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, images):
        return self.net(images)


def make_models():
    generator = Generator(GPUS).to(device)
    generator.apply(init_weights)
    discriminator = Discriminator(GPUS).to(device)
    discriminator.apply(init_weights)
    return generator, discriminator


def train(generator, discriminator, loader, epochs):
    """Alternate one discriminator step (real then fake batch) and one generator step per batch."""
    bce = nn.BCELoss()
    probe = torch.randn(16, LATENT_SIZE, 1, 1, device=device)   # the same latents every snapshot
    d_opt = optim.Adam(discriminator.parameters(), lr=LEARNING_RATE, betas=ADAM_BETAS)
    g_opt = optim.Adam(generator.parameters(), lr=LEARNING_RATE, betas=ADAM_BETAS)

    g_losses, d_losses, scores, snapshots = [], [], [], []
    step = 0
    for epoch in range(epochs):
        for batch, data in enumerate(loader, 0):
            discriminator.zero_grad()
            real = data[0].to(device)
            count = real.size(0)
            target = torch.full((count,), REAL, dtype=torch.float, device=device)
            judged = discriminator(real).view(-1)
            d_loss_real = bce(judged, target)
            d_loss_real.backward()
            on_real = judged.mean().item()

            fake = generator(torch.randn(count, LATENT_SIZE, 1, 1, device=device))
            target.fill_(FAKE)
            judged = discriminator(fake.detach()).view(-1)   # no gradient into the generator here
            d_loss_fake = bce(judged, target)
            d_loss_fake.backward()                           # adds to the real batch's gradients
            on_fake_before = judged.mean().item()
            d_loss = d_loss_real + d_loss_fake
            d_opt.step()

            generator.zero_grad()
            target.fill_(REAL)   # the generator is scored on being taken for real
            judged = discriminator(fake).view(-1)
            g_loss = bce(judged, target)
            g_loss.backward()
            on_fake_after = judged.mean().item()
            g_opt.step()

            g_losses.append(g_loss.item())
            d_losses.append(d_loss.item())
            scores.append((on_real, on_fake_before, on_fake_after))
            last = epoch == epochs - 1 and batch == len(loader) - 1
            if step % 4 == 0 or last:
                with torch.no_grad():
                    snapshot = generator(probe).detach().cpu()
                snapshots.append(snapshot.numpy())
            step += 1
    return g_losses, d_losses, scores, snapshots
'''


TIME_SERIES_LSTM = '''
class Forecaster(nn.Module):
    """Stacked batch_first LSTM read out at the last step. windows: (B, T, 1) -> next value (B, 1)."""

    def __init__(self, input_size=1, hidden_size=8, num_layers=2, output_size=1):
        super(Forecaster, self).__init__()
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, output_size)

    def forward(self, windows):
        shape = (self.num_layers, windows.size(0), self.hidden_size)
        start = (torch.zeros(shape), torch.zeros(shape))   # (h0, c0), spelled out
        outputs, _ = self.lstm(windows, start)
        return self.head(outputs[:, -1, :])


def make_model():
    return Forecaster()


def sliding_windows(values, width):
    """Every run of ``width`` values, paired with the value that follows it."""
    starts = range(len(values) - width)
    return [values[s:s + width] for s in starts], [values[s + width] for s in starts]


def train(model, series, path, seq_length=8, epochs=5, batch_size=8):
    low, high = min(series), max(series)
    unit = [(v - low) / (high - low) for v in series]
    windows, nexts = sliding_windows(unit, seq_length)
    inputs = torch.tensor(windows, dtype=torch.float32).unsqueeze(-1)   # (N, T, 1)
    targets = torch.tensor(nexts, dtype=torch.float32).unsqueeze(-1)    # (N, 1)
    cut = int(len(inputs) * 0.8)
    fit_x, fit_y, held_x, held_y = inputs[:cut], targets[:cut], inputs[cut:], targets[cut:]

    mse = nn.MSELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode='min', factor=0.5, patience=1)

    history = {'train': [], 'val': [], 'lr': [], 'norm': []}
    best = float('inf')
    for _ in range(epochs):
        model.train()
        summed = 0.0
        for first in range(0, len(fit_x), batch_size):
            x, y = fit_x[first:first + batch_size], fit_y[first:first + batch_size]
            optimizer.zero_grad()
            loss = mse(model(x), y)
            loss.backward()
            grad_norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            optimizer.step()
            summed += loss.item() * x.size(0)
            history['norm'].append(float(grad_norm))

        model.eval()
        with torch.no_grad():
            held_loss = mse(model(held_x), held_y).item()
        plateau.step(held_loss)
        history['train'].append(summed / len(fit_x))
        history['val'].append(held_loss)
        history['lr'].append(optimizer.param_groups[0]['lr'])
        if held_loss < best:
            best = held_loss
            torch.save(model.state_dict(), path)

    model.load_state_dict(torch.load(path, weights_only=True))
    model.eval()
    with torch.no_grad():
        forecast = model(held_x).squeeze().tolist()
    return history, best, [f * (high - low) + low for f in forecast]
'''


NAME_CLASSIFIER = '''
ALPHABET = "abcdefghijklmnopqrstuvwxyz"
VOCAB = len(ALPHABET) + 1   # id 0 pads; letters are 1..26


def letter_ids(name):
    return torch.tensor([ALPHABET.find(ch) + 1 for ch in name], dtype=torch.long)


class NamesDataset:
    """Item i: (letter ids (len(name),), class id as a 0-d tensor)."""

    def __init__(self, names, labels):
        self.names, self.labels = names, labels

    def __len__(self):
        return len(self.names)

    def __getitem__(self, i):
        return letter_ids(self.names[i]), torch.tensor(self.labels[i])


def batch_names(items):
    """-> (ids (B, longest) zero-padded, lengths (B,), classes (B,))"""
    ids, classes = zip(*items)
    lengths = torch.tensor([len(x) for x in ids])
    return pad_sequence(ids, batch_first=True, padding_value=0), lengths, torch.stack(classes)


class NameRNN(nn.Module):
    """Embedding and an Elman RNN over the packed batch; class scores from the last real step of each name."""

    def __init__(self, vocab, embedding_dim, hidden_size, classes):
        super().__init__()
        self.embed = nn.Embedding(vocab, embedding_dim, padding_idx=0)
        self.rnn = nn.RNN(embedding_dim, hidden_size, num_layers=1, batch_first=True)
        self.out = nn.Linear(hidden_size, classes)

    def forward(self, ids, lengths):
        packed = pack_padded_sequence(self.embed(ids), lengths, batch_first=True, enforce_sorted=False)
        _, last = self.rnn(packed)   # (layers, B, hidden), back in the batch's own order
        return self.out(last[-1])


def make_model(classes):
    return NameRNN(VOCAB, 6, 10, classes)


def split(dataset, seed=42):
    return random_split(dataset, [0.75, 0.25], generator=torch.Generator().manual_seed(seed))


def train(model, train_set, test_set, labels, classes, epochs=3, batch_size=4):
    # rarer classes weigh more: total / (classes * count)
    seen = torch.tensor([labels[i] for i in train_set.indices])
    counts = torch.bincount(seen, minlength=classes)
    class_weights = counts.sum() / (classes * counts.float())
    criterion = nn.CrossEntropyLoss(weight=class_weights, label_smoothing=0.1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    fit_loader = DataLoader(train_set, batch_size=batch_size, shuffle=False, collate_fn=batch_names)
    eval_loader = DataLoader(test_set, batch_size=batch_size, shuffle=False, collate_fn=batch_names)

    losses, accuracies = [], []
    for _ in range(epochs):
        model.train()
        for ids, lengths, target in fit_loader:
            optimizer.zero_grad()
            loss = criterion(model(ids, lengths), target)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 3)
            optimizer.step()
            losses.append(loss.item())

        model.eval()
        hits = 0
        with torch.no_grad():
            for ids, lengths, target in eval_loader:
                hits += (model(ids, lengths).argmax(1) == target).sum().item()
        accuracies.append(hits / len(test_set))
    return losses, accuracies, class_weights.tolist()
'''

PROGRAMS = (MNIST_CNN, VAE, LSTM_TAGGER, DCGAN, TIME_SERIES_LSTM, NAME_CLASSIFIER)


def _twins(source: str, *args: Any, factory: str = "make_model") -> tuple:
    """Both programs, and ``factory``'s model(s) in each, minigrad's loaded with torch's initial weights."""
    return _twin_models(source, *args, imports=(TORCH_IMPORTS_MORE, MINIGRAD_IMPORTS_MORE), factory=factory)


def _shared_noise(monkeypatch: pytest.MonkeyPatch, torch: Any, seed: int) -> None:
    """``torch.randn``/``randn_like`` of both libraries draw, in call order, from one float32 NumPy stream each.

    The two engines' generators differ; with this the noise a program draws is the same numbers in both runs
    (each library its own stream of the same seed), so everything downstream of it can be compared exactly.
    """
    import minigrad as mg  # noqa: PLC0415

    for lib, wrap in ((torch, torch.from_numpy), (mg, mg.from_numpy)):
        rng = np.random.default_rng(seed)

        def randn(*size: Any, rng: np.random.Generator = rng, wrap: Any = wrap, float32: Any = lib.float32,
                  **kwargs: Any) -> Any:
            shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
            assert kwargs.get("dtype") in (None, float32) and str(kwargs.get("device", "cpu")) == "cpu"
            return wrap(rng.standard_normal(shape).astype(np.float32))

        def randn_like(x: Any, randn: Any = randn) -> Any:
            return randn(*x.shape)

        monkeypatch.setattr(lib, "randn", randn)
        monkeypatch.setattr(lib, "randn_like", randn_like)


def test_the_programs_differ_only_in_their_imports() -> None:
    assert TORCH_IMPORTS_MORE.count("\n") == MINIGRAD_IMPORTS_MORE.count("\n") == 8
    for torch_line, mg_line in zip(TORCH_IMPORTS_MORE.splitlines()[5:], MINIGRAD_IMPORTS_MORE.splitlines()[5:]):
        assert torch_line.replace("torch", "minigrad") == mg_line
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. MNIST convolutional net


def _mnist_data(count: int, seed: int) -> tuple:
    """Normalised 1x28x28 images whose label is the brightest of 10 horizontal bands, labels int64."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count)
    images = rng.random((count, 1, 28, 28)) * 0.5
    for row, label in enumerate(labels):
        images[row, 0, 2 + 2 * label:4 + 2 * label] += 0.5
    images = (images - 0.1307) / 0.3081   # transforms.Normalize((0.1307,), (0.3081,))
    return images.astype(np.float32), labels.astype(np.int64)


def _no_dropout(model: Any) -> None:
    model.drop_pooled.p = model.drop_hidden.p = 0.0


def test_mnist_cnn_with_adadelta_and_steplr(torch: Any) -> None:
    """DigitNet, fit_one_epoch() and evaluate() on 16 + 8 random images, two epochs, Dropout at p = 0."""
    train_images, train_labels = _mnist_data(16, 0)
    test_images, test_labels = _mnist_data(8, 1)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(MNIST_CNN)
    _no_dropout(torch_model)
    _no_dropout(mg_model)
    log, tests, lrs = mg_program["main"](mg_model, train_images, train_labels, test_images, test_labels)
    expected_log, expected_tests, expected_lrs = torch_program["main"](
        torch_model, train_images, train_labels, test_images, test_labels)
    assert [entry[:4] for entry in log] == [entry[:4] for entry in expected_log] == [
        (epoch, 8 * batch, 16, 100. * batch / 2) for epoch in (1, 2) for batch in range(2)]
    np.testing.assert_allclose([entry[4] for entry in log], [entry[4] for entry in expected_log], rtol=1e-5)
    np.testing.assert_allclose(tests, expected_tests, rtol=1e-5)   # (summed nll / 8, correct count)
    assert [correct for _, correct in tests] == [correct for _, correct in expected_tests]
    assert lrs == pytest.approx(expected_lrs) == [0.7, 0.49]
    _assert_same_weights(torch_model, mg_model, initial)


def test_mnist_cnn_dropout_is_on_in_train_and_off_in_eval(torch: Any) -> None:
    """With the program's Dropout(0.25)/(0.5): training draws masks (two calls differ; the streams differ from
    torch's, so only the run's shape is compared), eval() switches them off (torch's test numbers exactly)."""
    train_images, train_labels = _mnist_data(8, 2)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(MNIST_CNN)
    x = mg_program["torch"].from_numpy(train_images[:4])
    mg_model.train()
    assert not np.allclose(mg_model(x).numpy(), mg_model(x).numpy())
    mg_model.eval()
    np.testing.assert_array_equal(mg_model(x).numpy(), mg_model(x).numpy())
    with torch.no_grad():
        np.testing.assert_allclose(mg_model(x).numpy(), torch_model.eval()(torch.from_numpy(train_images[:4])),
                                   rtol=1e-5, atol=1e-5)
    mg_program["Options"].epochs = 1
    log, tests, lrs = mg_program["main"](mg_model, train_images, train_labels, train_images, train_labels)
    assert len(log) == 1 and np.isfinite(log[0][4]) and len(tests) == 1 and 0 <= tests[0][1] <= 8


# ----------------------------------------------------------------------------- 2. variational autoencoder


def test_vae_with_shared_noise(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The VAE program: every number compared, the reparameterisation noise and the decoded samples included,
    since both engines' randn/randn_like read one shared stream here."""
    rng = np.random.default_rng(3)
    train_images = rng.random((24, 1, 28, 28)).astype(np.float32) ** 3
    test_images = rng.random((8, 1, 28, 28)).astype(np.float32) ** 3
    torch_program, torch_model, mg_program, mg_model, initial = _twins(VAE)
    _shared_noise(monkeypatch, torch, 4)
    log, averages, tests, comparison, sample = mg_program["main"](mg_model, train_images, test_images)
    expected = torch_program["main"](torch_model, train_images, test_images)
    for name, ours, theirs in zip(("log", "averages", "tests"), (log, averages, tests), expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, err_msg=name)
    assert comparison.shape == expected[3].shape == (16, 1, 28, 28)
    np.testing.assert_allclose(comparison, expected[3], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(sample, expected[4], rtol=1e-4, atol=1e-6)
    # Adam moves every weight by about lr a step whatever its gradient's size, so a weight whose gradient is
    # float32 rounding noise takes noise-sized steps: enc_hidden.weight[271, 167]'s first gradient is -1.78e-7 in
    # float64, a sum of terms near 0.1 that cancel; torch's float32 gives -1.56e-7 and minigrad's -2.25e-7.
    _assert_same_weights(torch_model, mg_model, initial, noise_only=("enc_hidden.weight",))
    ours, theirs = mg_model.enc_hidden.weight.numpy(), torch_model.enc_hidden.weight.detach().numpy()
    assert (np.abs(ours - theirs) > 1e-5).sum() <= 3
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


def test_vae_with_its_own_noise(torch: Any) -> None:
    """minigrad's own randn_like: the same seed gives the same run, and what does not depend on the draw
    (the encoder's mu and logvar, the KL term, the decoder) equals torch's."""
    rng = np.random.default_rng(5)
    images = rng.random((8, 1, 28, 28)).astype(np.float32) ** 3
    torch_program, torch_model, mg_program, mg_model, initial = _twins(VAE)
    mg = mg_program["torch"]
    runs = []
    for _ in range(2):
        mg_model.load_state_dict(initial)
        mg.manual_seed(7)
        runs.append(mg_program["main"](mg_model, images, images, epochs=1)[0])
    assert runs[0] == runs[1] and len(runs[0]) == 1
    mg_model.load_state_dict(initial)
    x, tx = mg.from_numpy(images), torch.from_numpy(images)
    with torch.no_grad(), mg.no_grad():
        (mu, logvar), (tmu, tlogvar) = mg_model.encode(x.view(-1, 784)), torch_model.encode(tx.view(-1, 784))
        np.testing.assert_allclose(mu.numpy(), tmu.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(logvar.numpy(), tlogvar.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(mg_model.decode(mu).numpy(), torch_model.decode(tmu).numpy(), rtol=1e-5, atol=1e-6)
        # the loss with z = mu (noise 0) in both
        loss = mg_program["elbo_loss"](mg_model.decode(mu), x, mu, logvar).item()
        expected = torch_program["elbo_loss"](torch_model.decode(tmu), tx, tmu, tlogvar).item()
        assert loss == pytest.approx(expected, rel=1e-5)
        eps = mg_model.sample_latent(mu, logvar) - mu
        assert eps.shape == (8, 20) and eps.dtype == mg.float32


# ----------------------------------------------------------------------------- 3. LSTM part-of-speech tagger


def test_lstm_part_of_speech_tagger(torch: Any) -> None:
    """The LSTM tagger, SGD(lr=0.1) over its two sentences; it learns DET NN V DET NN."""
    epochs = 150   # enough to get every tag right
    torch_program, torch_model, mg_program, mg_model, initial = _twins(LSTM_TAGGER)
    before, losses, after, tags = mg_program["main"](mg_model, epochs)
    expected_before, expected_losses, expected_after, expected_tags = torch_program["main"](torch_model, epochs)
    np.testing.assert_allclose(before, expected_before, rtol=1e-5, atol=1e-6)
    assert len(losses) == 2 * epochs
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(after, expected_after, rtol=1e-4, atol=1e-5)
    assert tags == expected_tags == [0, 1, 2, 0, 1]
    _assert_same_weights(torch_model, mg_model, initial)


# ----------------------------------------------------------------------------- 4. DCGAN


def test_dcgan_weights_init_follows_the_class_names(torch: Any) -> None:
    """init_weights, applied with Module.apply, writes through ``m.weight.data`` (minigrad's is the array)."""
    mg_program = _program(DCGAN, MINIGRAD_IMPORTS_MORE)
    mg_program["torch"].manual_seed(0)
    net_g, net_d = mg_program["make_models"]()
    for net in (net_g, net_d):
        for module in net.modules():
            name = type(module).__name__
            if "Conv" in name:
                assert abs(float(module.weight.std()) - 0.02) < 0.008 and abs(float(module.weight.mean())) < 0.01
            elif "BatchNorm" in name:
                assert abs(float(module.weight.mean()) - 1.0) < 0.03 and (module.bias.numpy() == 0).all()


@pytest.mark.gpu
def test_dcgan_weights_init_writes_device_arrays_in_place() -> None:
    """On the GPU ``m.weight.data`` is a CuPy array: init_weights fills it where it is, the same array."""
    mg_program = _program(DCGAN, MINIGRAD_IMPORTS_MORE)
    net_d = mg_program["Discriminator"](0).to("cuda")
    conv, norm = net_d.net[0], net_d.net[3]
    conv.weight.data[...] = 5.0
    norm.bias.data[...] = 5.0
    arrays = conv.weight.data, norm.weight.data, norm.bias.data
    net_d.apply(mg_program["init_weights"])
    assert all(new is old for new, old in zip((conv.weight.data, norm.weight.data, norm.bias.data), arrays))
    assert conv.weight.device.type == "cuda" and abs(float(conv.weight.std().cpu()) - 0.02) < 0.01
    assert (norm.bias.numpy() == 0).all() and abs(float(norm.weight.mean().cpu()) - 1.0) < 0.03


def test_dcgan_with_shared_noise(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The DCGAN loop at 16x16: both engines draw the latent vectors from one shared stream."""
    rng = np.random.default_rng(8)
    grid = np.linspace(-1, 1, 16, dtype=np.float32)
    centres = rng.uniform(-0.5, 0.5, (24, 2)).astype(np.float32)
    images = np.tanh(3 * (0.3 - np.hypot(grid[None, None, :] - centres[:, 0, None, None],
                                         grid[None, :, None] - centres[:, 1, None, None])))[:, None]
    torch_program, torch_models, mg_program, mg_models, initials = _twins(DCGAN, factory="make_models")
    _shared_noise(monkeypatch, torch, 9)
    loader = mg_program["DataLoader"](mg_program["TensorDataset"](mg_program["torch"].from_numpy(images)),
                                      batch_size=8)
    torch_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(images)), batch_size=8)
    g_losses, d_losses, stats, img_list = mg_program["train"](*mg_models, loader, 2)
    expected = torch_program["train"](*torch_models, torch_loader, 2)
    np.testing.assert_allclose(g_losses, expected[0], rtol=1e-5)
    np.testing.assert_allclose(d_losses, expected[1], rtol=1e-5)
    np.testing.assert_allclose(stats, expected[2], rtol=1e-5)
    assert len(img_list) == len(expected[3]) == 3   # iterations 0 and 4, and the last
    np.testing.assert_allclose(np.stack(img_list), np.stack(expected[3]), rtol=1e-4, atol=1e-6)
    # the running statistics of all four BatchNorm2d layers are in the state dicts compared here
    for torch_model, mg_model, initial in zip(torch_models, mg_models, initials):
        _assert_same_weights(torch_model, mg_model, initial)


# ----------------------------------------------------------------------------- 5. time-series LSTM


def test_time_series_lstm_with_checkpoint_round_trip(torch: Any, tmp_path: Any) -> None:
    """A two-layer batch_first LSTM forecaster, clip_grad_norm_, ReduceLROnPlateau; the best epoch's state dict
    saved with torch.save and restored with torch.load(weights_only=True) in each engine."""
    rng = np.random.default_rng(10)
    series = (np.sin(np.arange(60) * 0.3) * 10 + 20 + rng.standard_normal(60)).astype(np.float32).tolist()
    torch_program, torch_model, mg_program, mg_model, initial = _twins(TIME_SERIES_LSTM)
    history, best, predictions = mg_program["train"](mg_model, series, str(tmp_path / "minigrad.pt"))
    expected, expected_best, expected_predictions = torch_program["train"](
        torch_model, series, str(tmp_path / "torch.pt"))
    for key in ("train", "val", "norm"):
        np.testing.assert_allclose(history[key], expected[key], rtol=1e-5, atol=1e-6, err_msg=key)
    assert history["lr"] == pytest.approx(expected["lr"])
    assert best == pytest.approx(expected_best, rel=1e-5) and best == min(history["val"])
    assert history["val"].index(best) == 2 and history["lr"] == pytest.approx([0.02] * 4 + [0.01])
    assert len(predictions) == 11
    np.testing.assert_allclose(predictions, expected_predictions, rtol=1e-5)
    _assert_same_weights(torch_model, mg_model, initial)   # both restored from their own checkpoint
    # each engine's checkpoint holds the third epoch's weights, which the model now has again (the files
    # differ: minigrad's is an .npz, by design)
    mg_best = mg_program["torch"].load(str(tmp_path / "minigrad.pt"), weights_only=True)
    torch_best = torch.load(str(tmp_path / "torch.pt"), weights_only=True)
    assert list(mg_best) == list(torch_best)
    for name in torch_best:
        np.testing.assert_array_equal(mg_best[name].numpy(), mg_model.state_dict()[name].numpy())
        np.testing.assert_allclose(mg_best[name].numpy(), torch_best[name].numpy(), rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- 6. character-level name classifier


def _names(count: int, seed: int) -> tuple:
    """Names of 3-8 letters; each class draws its letters from its own third of the alphabet (class 0 most often)."""
    rng = np.random.default_rng(seed)
    names, labels = [], []
    for _ in range(count):
        label = int(rng.choice(3, p=[0.5, 0.3, 0.2]))
        letters = "abcdefghijklmnopqrstuvwxyz"[8 * label:8 * label + 9]
        names.append("".join(letters[int(i)] for i in rng.integers(0, 9, int(rng.integers(3, 9)))))
        labels.append(label)
    return names, labels


def test_name_classifier_rnn_on_packed_sequences(torch: Any) -> None:
    """nn.RNN over packed unsorted names, weighted CrossEntropyLoss with label smoothing, momentum SGD; the split
    comes from random_split under a seeded Generator."""
    names, labels = _names(32, 11)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(NAME_CLASSIFIER, 3)
    torch_train, torch_test = torch_program["split"](torch_program["NamesDataset"](names, labels))
    dataset = mg_program["NamesDataset"](names, labels)
    mg_train, mg_test = mg_program["split"](dataset)
    # the two engines' streams differ: the split's sizes and cover are compared, and minigrad's repeats
    assert (len(mg_train), len(mg_test)) == (len(torch_train), len(torch_test)) == (24, 8)
    assert sorted(mg_train.indices + mg_test.indices) == list(range(32))
    assert mg_program["split"](dataset)[0].indices == mg_train.indices != mg_program["split"](dataset, 1)[0].indices
    # the run itself on torch's split
    subset = mg_program["Subset"]
    mg_train, mg_test = subset(dataset, list(torch_train.indices)), subset(dataset, list(torch_test.indices))
    losses, accuracies, weights = mg_program["train"](mg_model, mg_train, mg_test, labels, 3)
    expected, expected_accuracies, expected_weights = torch_program["train"](
        torch_model, torch_train, torch_test, labels, 3)
    assert weights == pytest.approx(expected_weights) and len(set(weights)) == 3
    assert len(losses) == 3 * 6
    np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-6)
    assert accuracies == pytest.approx(expected_accuracies)
    _assert_same_weights(torch_model, mg_model, initial)
