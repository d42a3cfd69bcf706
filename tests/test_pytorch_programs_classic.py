"""Three classic statistical-learning programs, small, run unchanged on minigrad: only the import lines differ.

Each program is our own rewrite of code that PyTorch tutorials and course notebooks write again and again for
the classic models (no GPyTorch, no scikit-learn, no Pyro): it keeps their PyTorch calls and habits in the same
roles, with our own names, structure and comments, on small generated data (the helpers and the rule come from
tests/test_pytorch_programs.py):

* ``GAUSSIAN_PROCESS`` is exact Gaussian-process regression as the GPyTorch-free tutorials write it, in float64:
  an RBF kernel from ``torch.cdist(x1, x2) ** 2`` (and from ``(x1.unsqueeze(1) - x2.unsqueeze(0)).pow(2).sum(-1)``),
  positive hyperparameters through ``F.softplus(raw)`` and ``raw.exp()`` (0-dim parameters among them),
  ``K + noise * torch.eye(n)``, ``torch.linalg.cholesky``, ``torch.cholesky_solve``, the log marginal likelihood
  ``-0.5 * y.T @ alpha - torch.log(torch.diagonal(L)).sum() - 0.5 * n * math.log(2 * math.pi)`` optimised by
  ``Adam`` and by ``LBFGS(line_search_fn='strong_wolfe')``, the predictive mean and variance through
  ``torch.linalg.solve_triangular(L, Ks, upper=False)``, and the same likelihood from
  ``MultivariateNormal(mean, scale_tril=L).log_prob(y)``;
* ``CLASSIC_ML`` holds k-means, PCA, least squares and logistic regression as the "machine learning with plain
  tensors" notebooks write them, in float32 and in float64: k-means++ seeding, ``torch.cdist`` + ``argmin``
  assignments, centroids from ``index_add_`` / ``bincount`` and from ``scatter_add_``, empty clusters kept with
  ``torch.where``, the inertia; PCA through ``torch.linalg.svd(X - X.mean(0), full_matrices=False)`` and through
  ``torch.linalg.eigh(cov)`` turned to descending order with ``torch.flip``, signs fixed with ``torch.sign``,
  the explained-variance ratio; ``torch.linalg.lstsq(A, b).solution``, ``torch.linalg.pinv`` and ridge
  regression with ``torch.linalg.solve(A.T @ A + lam * I, A.T @ b)``, differentiated with respect to A;
  logistic regression fitted full-batch by ``LBFGS`` on ``F.binary_cross_entropy_with_logits``;
* ``BAYES_BY_BACKPROP`` is a Bayesian neural network trained as in Blundell et al. 2015 ("Weight Uncertainty in
  Neural Networks") and its many PyTorch re-implementations, in float32 and ``.double()``: ``mu``/``rho``
  parameters, ``sigma = torch.log1p(torch.exp(rho))``, ``w = mu + sigma * torch.randn_like(sigma)``,
  ``Normal`` and ``kl_divergence(q, prior).sum()`` against ``Normal(0, 1)`` (and its Monte Carlo estimate from
  ``log_prob``), ``Independent(Normal(...), 1).log_prob``, an ELBO with
  ``F.nll_loss(F.log_softmax(...), reduction='sum')`` averaged over Monte Carlo samples, the predictive entropy
  with ``Categorical(probs=...)`` and ``Categorical(logits=...)``; beside it ``Bernoulli(logits=...)`` and the
  log densities, entropies, means and variances of ``Beta``, ``Gamma`` and ``Dirichlet`` with their gradients.

Random draws: the k-means++ seeding reads uniforms the test gives both runs (where such programs call
``torch.multinomial``), and the network's ``torch.randn_like`` reads one shared stream in both libraries
(``_shared_normal``), so every number is compared. ``Beta``/``Gamma``/``Dirichlet.rsample`` draw from the
engines' own generators: only their shapes, supports and gradients' shapes are compared.

The regression tests at the end cover what the programs and the probes around them found: Adam, AdamW, NAdam,
Adadelta and SGD with momentum could not step a 0-dim parameter (a TypeError from NumPy's 0-dim arithmetic, which
gives scalars); under ``torch.set_default_dtype(torch.float64)`` an integer tensor's true division and
float-valued functions gave float32 instead of the default dtype; ``torch.pca_lowrank``/``svd_lowrank`` were
missing; ``einsum`` refused an index repeated inside one operand (``einsum("ii", K)``, a trace); the shape
errors of the solvers, factorisations and ``cdist`` were a ValueError only, where PyTorch raises RuntimeError.
Torch's float64 trigamma (the derivative of ``digamma``, in Beta's and Gamma's entropy gradients) is ~5e-10 off;
minigrad's is kept, and those gradients are compared to 1e-7.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
from tests.test_pytorch_programs import MINIGRAD_IMPORTS, TORCH_IMPORTS, _copy_weights, _program

# the distributions the programs name; each line names the same thing in both
TORCH_IMPORTS_CLASSIC = TORCH_IMPORTS + """\
from torch.distributions import Normal, MultivariateNormal, Categorical, Independent, kl_divergence
"""

MINIGRAD_IMPORTS_CLASSIC = MINIGRAD_IMPORTS + """\
from minigrad.distributions import Normal, MultivariateNormal, Categorical, Independent, kl_divergence
"""


GAUSSIAN_PROCESS = '''
class ExactGP(nn.Module):
    """GP regression with a constant mean and a scaled RBF kernel.  train_x: (n, d), train_y: (n,).

    k(x, x') = s * exp(-|x - x'|^2 / (2 l^2)); observations add noise^2 on the diagonal.
    """

    def __init__(self, train_x, train_y, pairwise="cdist"):
        super().__init__()
        self.train_x, self.train_y, self.pairwise = train_x, train_y, pairwise
        dtype = train_x.dtype
        self.raw_lengthscale = nn.Parameter(torch.zeros(train_x.size(1), dtype=dtype))   # one per input dim
        self.raw_outputscale = nn.Parameter(torch.tensor(0.0, dtype=dtype))
        self.log_noise = nn.Parameter(torch.tensor(-1.0, dtype=dtype))
        self.mean_constant = nn.Parameter(torch.zeros(1, dtype=dtype))

    def lengthscale(self):
        return F.softplus(self.raw_lengthscale)

    def outputscale(self):
        return F.softplus(self.raw_outputscale)

    def noise(self):
        return self.log_noise.exp() ** 2

    def squared_distances(self, x1, x2):
        x1, x2 = x1 / self.lengthscale(), x2 / self.lengthscale()
        if self.pairwise == "cdist":
            return torch.cdist(x1, x2) ** 2
        return (x1.unsqueeze(1) - x2.unsqueeze(0)).pow(2).sum(-1)

    def kernel(self, x1, x2):
        return self.outputscale() * torch.exp(-0.5 * self.squared_distances(x1, x2))

    def train_covariance(self):
        n = self.train_x.size(0)
        K = self.kernel(self.train_x, self.train_x)
        return K + self.noise() * torch.eye(n, dtype=K.dtype)

    def log_marginal_likelihood(self):
        n = self.train_x.size(0)
        L = torch.linalg.cholesky(self.train_covariance())
        y = (self.train_y - self.mean_constant).unsqueeze(-1)   # (n, 1)
        alpha = torch.cholesky_solve(y, L)
        fit = -0.5 * (y.T @ alpha).squeeze()
        return fit - torch.log(torch.diagonal(L)).sum() - 0.5 * n * math.log(2 * math.pi)

    def log_marginal_likelihood_mvn(self):
        L = torch.linalg.cholesky(self.train_covariance())
        mean = self.mean_constant.expand(self.train_x.size(0))
        return MultivariateNormal(mean, scale_tril=L).log_prob(self.train_y)

    @torch.no_grad()
    def predict(self, test_x):
        """Predictive mean and variance (m,) of the noisy observations at test_x (m, d)."""
        L = torch.linalg.cholesky(self.train_covariance())
        alpha = torch.cholesky_solve((self.train_y - self.mean_constant).unsqueeze(-1), L)
        Ks = self.kernel(self.train_x, test_x)   # (n, m)
        mean = self.mean_constant + (Ks.T @ alpha).squeeze(-1)
        v = torch.linalg.solve_triangular(L, Ks, upper=False)
        variance = self.outputscale() - v.pow(2).sum(dim=0) + self.noise()
        return mean, variance


def hyperparameters(model):
    return model.lengthscale().tolist() + [model.outputscale().item(), model.noise().item(),
                                           model.mean_constant.item()]


def fit_adam(model, steps=15, lr=0.1):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = -model.log_marginal_likelihood() / model.train_x.size(0)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def fit_lbfgs(model, steps=3):
    optimizer = torch.optim.LBFGS(model.parameters(), lr=1, max_iter=10, line_search_fn='strong_wolfe')

    def closure():
        optimizer.zero_grad()
        loss = -model.log_marginal_likelihood_mvn() / model.train_x.size(0)
        loss.backward()
        return loss

    return [optimizer.step(closure).item() for _ in range(steps)]


def main(train_x, train_y, test_x, pairwise):
    train_x, train_y, test_x = torch.from_numpy(train_x), torch.from_numpy(train_y), torch.from_numpy(test_x)
    model = ExactGP(train_x, train_y, pairwise)
    report = {"adam": fit_adam(model), "after_adam": hyperparameters(model)}
    report["two_likelihoods"] = [model.log_marginal_likelihood().item(),
                                 model.log_marginal_likelihood_mvn().item()]
    report["lbfgs"] = fit_lbfgs(model)
    report["after_lbfgs"] = hyperparameters(model)
    mean, variance = model.predict(test_x)
    report["mean"], report["variance"] = mean.numpy(), variance.numpy()
    return report
'''

CLASSIC_ML = '''
def kmeans_plus_plus(X, k, uniforms):
    """k centres (k, d) picked from X (n, d): the first uniformly, each next with probability proportional to
    its squared distance to the nearest centre so far.  uniforms: (k,) draws in [0, 1) (torch.multinomial's)."""
    n = X.size(0)
    centers = X[int(uniforms[0].item() * n)].unsqueeze(0)
    for j in range(1, k):
        d2 = torch.cdist(X, centers).pow(2).min(dim=1).values
        cumulative = torch.cumsum(d2 / d2.sum(), dim=0)
        pick = torch.searchsorted(cumulative, uniforms[j:j + 1]).clamp(max=n - 1)
        centers = torch.cat([centers, X[pick]], dim=0)
    return centers


def assign(X, centers):
    distances = torch.cdist(X, centers)           # (n, k)
    labels = torch.argmin(distances, dim=1)
    inertia = distances.gather(1, labels.unsqueeze(1)).pow(2).sum()
    return labels, inertia


def update_index_add(X, labels, centers):
    k = centers.size(0)
    counts = torch.bincount(labels, minlength=k).to(X.dtype)
    sums = torch.zeros_like(centers).index_add_(0, labels, X)
    means = sums / counts.clamp(min=1).unsqueeze(1)
    return torch.where(counts.unsqueeze(1) > 0, means, centers), counts   # an empty cluster keeps its centre


def update_scatter_add(X, labels, centers):
    k, d = centers.shape
    sums = torch.zeros(k, d, dtype=X.dtype).scatter_add_(0, labels.unsqueeze(1).expand(-1, d), X)
    counts = torch.zeros(k, dtype=X.dtype).scatter_add_(0, labels, torch.ones_like(labels, dtype=X.dtype))
    empty = counts == 0
    means = sums / torch.where(empty, torch.ones_like(counts), counts)[:, None]
    return torch.where(empty[:, None], centers, means), counts


def kmeans(X, centers, iterations=8, update=update_index_add, tol=1e-10):
    history = []
    for _ in range(iterations):
        labels, inertia = assign(X, centers)
        new_centers, counts = update(X, labels, centers)
        shift = torch.linalg.norm(new_centers - centers)
        centers = new_centers
        history.append((inertia.item(), shift.item(), counts.tolist()))
        if shift < tol:
            break
    labels, inertia = assign(X, centers)
    return centers, labels, inertia.item(), history


def pca_svd(X, k):
    Xc = X - X.mean(0)
    U, S, Vh = torch.linalg.svd(Xc, full_matrices=False)
    # sign convention: the entry of largest magnitude in each column of U is positive
    signs = torch.sign(U[torch.argmax(torch.abs(U), dim=0), torch.arange(U.shape[1])])
    U, Vh = U * signs, Vh * signs.unsqueeze(1)
    variance = S ** 2 / (X.shape[0] - 1)
    return Vh[:k], (variance / variance.sum())[:k], U[:, :k] * S[:k]


def pca_eigh(X, k):
    Xc = X - X.mean(dim=0, keepdim=True)
    cov = Xc.T @ Xc / (X.size(0) - 1)
    eigenvalues, eigenvectors = torch.linalg.eigh(cov)           # ascending
    eigenvalues, eigenvectors = torch.flip(eigenvalues, dims=[0]), torch.flip(eigenvectors, dims=[1])
    scores = Xc @ eigenvectors
    signs = torch.sign(scores[scores.abs().argmax(dim=0), range(scores.size(1))])
    eigenvectors = eigenvectors * signs
    ratio = eigenvalues / eigenvalues.sum()
    return eigenvectors.T[:k], ratio[:k], (Xc @ eigenvectors)[:, :k]


def linear_solutions(A, b, lam=0.5):
    lstsq = torch.linalg.lstsq(A, b).solution
    pinv = torch.linalg.pinv(A) @ b
    I = torch.eye(A.shape[1], dtype=A.dtype)
    ridge = torch.linalg.solve(A.T @ A + lam * I, A.T @ b)
    return lstsq, pinv, ridge


class LogisticRegression(nn.Module):
    def __init__(self, features):
        super().__init__()
        self.linear = nn.Linear(features, 1)

    def forward(self, x):
        return self.linear(x).squeeze(-1)


def make_model(features):
    return LogisticRegression(features)


def fit_logistic(model, X, y, l2=1e-2, steps=4):
    optimizer = torch.optim.LBFGS(model.parameters(), lr=1, max_iter=4, history_size=10,
                                  line_search_fn='strong_wolfe')

    def closure():
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(model(X), y) + l2 * model.linear.weight.pow(2).sum()
        loss.backward()
        return loss

    losses = [optimizer.step(closure).item() for _ in range(steps)]
    with torch.no_grad():
        accuracy = ((model(X) > 0).to(y.dtype) == y).float().mean().item()
    return losses, accuracy


def main(points, uniforms, far_centre, A, b, labels_y, model):
    X = torch.from_numpy(points)
    report = {}
    centers = kmeans_plus_plus(X, 3, torch.from_numpy(uniforms))
    report["seeds"] = centers.numpy()
    for name, update in (("index_add", update_index_add), ("scatter_add", update_scatter_add)):
        final, labels, inertia, history = kmeans(X, centers, update=update)
        report[name] = (final.numpy(), labels.numpy(), inertia, history)
    # a centre far from every point gets no point: it must stay where it is
    start = torch.cat([centers[:2], torch.from_numpy(far_centre).unsqueeze(0)])
    report["empty"] = kmeans(X, start, iterations=3, update=update_scatter_add)[0].numpy()
    report["pca_svd"] = [t.numpy() for t in pca_svd(X, 2)]
    report["pca_eigh"] = [t.numpy() for t in pca_eigh(X, 2)]
    A, b = torch.from_numpy(A).requires_grad_(), torch.from_numpy(b)
    solutions = linear_solutions(A, b)
    sum(s.pow(2).sum() for s in solutions).backward()
    report["solutions"] = [s.detach().numpy() for s in solutions] + [A.grad.numpy()]
    report["logistic"] = fit_logistic(model, X, torch.from_numpy(labels_y))
    report["coefficients"] = [model.linear.weight.detach().numpy(), model.linear.bias.detach().numpy()]
    return report
'''

BAYES_BY_BACKPROP = '''
class BayesianLinear(nn.Module):
    """A linear layer whose weights are Gaussians N(mu, sigma^2), sigma = softplus(rho), sampled at each call.

    x: (B, in_features) -> (B, out_features); the call leaves KL(q(w) || prior) in self.kl.
    """

    def __init__(self, in_features, out_features, prior_sigma=1.0):
        super().__init__()
        self.weight_mu = nn.Parameter(torch.empty(out_features, in_features).uniform_(-0.3, 0.3))
        self.weight_rho = nn.Parameter(torch.full((out_features, in_features), -3.0))
        self.bias_mu = nn.Parameter(torch.zeros(out_features))
        self.bias_rho = nn.Parameter(torch.full((out_features,), -3.0))
        self.prior = Normal(0, prior_sigma)
        self.kl = 0

    def forward(self, x):
        weight_sigma = torch.log1p(torch.exp(self.weight_rho))
        bias_sigma = torch.log1p(torch.exp(self.bias_rho))
        weight = self.weight_mu + weight_sigma * torch.randn_like(weight_sigma)   # the reparameterisation
        bias = self.bias_mu + bias_sigma * torch.randn_like(bias_sigma)
        self.kl = (kl_divergence(Normal(self.weight_mu, weight_sigma), self.prior).sum()
                   + kl_divergence(Normal(self.bias_mu, bias_sigma), self.prior).sum())
        # the Monte Carlo estimate of the same KL, from the weights drawn
        self.kl_sampled = (Normal(self.weight_mu, weight_sigma).log_prob(weight)
                           - self.prior.log_prob(weight)).sum()
        self.weight_log_prob = Independent(Normal(self.weight_mu, weight_sigma), 1).log_prob(weight)   # (out,)
        return F.linear(x, weight, bias)


class BayesianMLP(nn.Module):
    def __init__(self, features, hidden, classes):
        super().__init__()
        self.hidden = BayesianLinear(features, hidden)
        self.out = BayesianLinear(hidden, classes)

    def forward(self, x):
        return self.out(F.relu(self.hidden(x)))

    def kl(self):
        return sum(m.kl for m in self.modules() if isinstance(m, BayesianLinear))


def make_model(features, hidden, classes):
    return BayesianMLP(features, hidden, classes)


def elbo_loss(model, x, y, samples, batches):
    """The negative ELBO of one batch, averaged over `samples` weight draws; the KL is spread over the batches."""
    nll, kl = 0.0, 0.0
    for _ in range(samples):
        log_probs = F.log_softmax(model(x), dim=1)
        nll = nll + F.nll_loss(log_probs, y, reduction='sum')
        kl = kl + model.kl()
    return (kl / batches + nll) / samples, nll / samples, kl / samples


@torch.no_grad()
def predictive(model, x, samples=4):
    probs = torch.stack([F.softmax(model(x), dim=-1) for _ in range(samples)]).mean(dim=0)
    entropy = Categorical(probs=probs).entropy()
    mean_logits = torch.stack([model(x) for _ in range(samples)]).mean(0)
    return probs, entropy, Categorical(logits=mean_logits).entropy()


def train(model, x, y, epochs=3, batch_size=8, samples=2, lr=0.01):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    batches = math.ceil(x.size(0) / batch_size)
    history = []
    for _ in range(epochs):
        for start in range(0, x.size(0), batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            optimizer.zero_grad()
            loss, nll, kl = elbo_loss(model, xb, yb, samples, batches)
            loss.backward()
            optimizer.step()
            history.append([loss.item(), nll.item(), kl.item(), model.hidden.kl_sampled.item(),
                            model.hidden.weight_log_prob.tolist()])
    return history


def main(model, features, labels):
    x, y = torch.from_numpy(features), torch.from_numpy(labels)
    history = train(model, x, y)
    probs, entropy, logit_entropy = predictive(model, x[:6])
    return history, probs.numpy(), entropy.numpy(), logit_entropy.numpy()


def other_distributions(logits, targets, a, b, concentration, value, proportions):
    """Log densities, entropies, means and variances of the distributions Bayesian programs use, and their
    gradients with respect to the parameters."""
    logits, a, b = logits.requires_grad_(), a.requires_grad_(), b.requires_grad_()
    concentration = concentration.requires_grad_()
    bernoulli = torch.distributions.Bernoulli(logits=logits)
    beta = torch.distributions.Beta(a, b)
    gamma = torch.distributions.Gamma(a, rate=b)
    dirichlet = torch.distributions.Dirichlet(concentration)
    parts = [bernoulli.log_prob(targets), bernoulli.entropy(), bernoulli.mean, bernoulli.variance,
             beta.log_prob(value), beta.entropy(), beta.mean, beta.variance,
             gamma.log_prob(value * 3), gamma.entropy(), gamma.mean, gamma.variance,
             dirichlet.log_prob(proportions), dirichlet.entropy(), dirichlet.mean, dirichlet.variance]
    total = sum(p.sum() for p in parts)
    total.backward()
    return [p.detach().numpy() for p in parts] + [logits.grad.numpy(), a.grad.numpy(), b.grad.numpy(),
                                                  concentration.grad.numpy()]


def reparameterised_draws(a, b, concentration):
    """rsample draws that carry gradients back to the parameters (their values are each engine's own)."""
    a, b, concentration = a.requires_grad_(), b.requires_grad_(), concentration.requires_grad_()
    draws = [torch.distributions.Beta(a, b).rsample(), torch.distributions.Gamma(a, b).rsample((2,)),
             torch.distributions.Dirichlet(concentration).rsample()]
    sum(d.sum() for d in draws).backward()
    return [tuple(d.shape) for d in draws], [g.shape for g in (a.grad, b.grad, concentration.grad)], draws
'''


def _regression_data(seed: int) -> tuple:
    rng = np.random.default_rng(seed)
    train_x = rng.uniform(-3, 3, (14, 2))
    train_y = np.sin(train_x[:, 0]) + 0.5 * np.cos(2 * train_x[:, 1]) + 0.1 * rng.standard_normal(14)
    test_x = rng.uniform(-3, 3, (5, 2))
    return train_x, train_y, test_x


def _assert_same(ours: Any, theirs: Any, rtol: float, where: str = "") -> None:
    """Nested dicts, lists and tuples of numbers and arrays: the same structure, values within rtol (and atol)."""
    if isinstance(theirs, dict):
        assert ours.keys() == theirs.keys(), where
        for key in theirs:
            _assert_same(ours[key], theirs[key], rtol, f"{where}/{key}")
    elif isinstance(theirs, (list, tuple)) and any(isinstance(v, (list, tuple, np.ndarray)) for v in theirs):
        assert len(ours) == len(theirs), where
        for index, (mine, other) in enumerate(zip(ours, theirs)):
            _assert_same(mine, other, rtol, f"{where}[{index}]")
    else:
        assert np.shape(ours) == np.shape(theirs), where
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol, err_msg=where)


def test_the_programs_differ_only_in_their_imports() -> None:
    assert TORCH_IMPORTS_CLASSIC.count("\\n") == MINIGRAD_IMPORTS_CLASSIC.count("\\n")
    for source in (GAUSSIAN_PROCESS, CLASSIC_ML, BAYES_BY_BACKPROP):
        assert "import" not in source and "minigrad" not in source and "mg." not in source


@pytest.mark.parametrize("pairwise", ["cdist", "broadcast"])
def test_gaussian_process_regression(pairwise: str, torch: Any) -> None:
    data = _regression_data(0)
    expected = _program(GAUSSIAN_PROCESS, TORCH_IMPORTS_CLASSIC)["main"](*data, pairwise)
    report = _program(GAUSSIAN_PROCESS, MINIGRAD_IMPORTS_CLASSIC)["main"](*data, pairwise)
    _assert_same(report, expected, 1e-9)
    np.testing.assert_allclose(*expected["two_likelihoods"], rtol=1e-12)
    assert expected["lbfgs"][-1] < expected["adam"][-1] < expected["adam"][0]


def _classic_data(seed: int) -> tuple:
    """Three blobs in 4-D (24, 4), k-means++ uniforms, a far centre, a regression problem and 0/1 labels."""
    rng = np.random.default_rng(seed)
    means = np.array([[0.0, 0.0, 0.0, 0.0], [4.0, 1.0, -2.0, 0.5], [-3.0, 3.0, 1.0, -1.0]])
    points = np.concatenate([m + rng.standard_normal((8, 4)) * [2.5, 1.5, 1.0, 0.5] for m in means])
    uniforms = rng.random(3)
    far_centre = np.full(4, 50.0)
    A = rng.standard_normal((12, 4))
    b = A @ rng.standard_normal((4, 2)) + 0.1 * rng.standard_normal((12, 2))
    labels_y = (points[:, 0] + 0.5 * points[:, 1] + rng.standard_normal(24) > 0.5).astype(np.float64)
    return points, uniforms, far_centre, A, b, labels_y


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_kmeans_pca_least_squares_and_logistic_regression(dtype: str, torch: Any) -> None:
    """Everything in the data's dtype (the logistic model ``.double()``d for float64): 1e-9 in float64, 1e-5 in
    float32 (where LBFGS's line search and the SVD's rounding are the two engines' own)."""
    data = tuple(array.astype(dtype) for array in _classic_data(1))
    torch_program = _program(CLASSIC_ML, TORCH_IMPORTS_CLASSIC)
    mg_program = _program(CLASSIC_ML, MINIGRAD_IMPORTS_CLASSIC)
    torch.manual_seed(0)
    torch_model, mg_model = torch_program["make_model"](4), mg_program["make_model"](4)
    mg_model.load_state_dict(_copy_weights(torch_model, mg_program))
    if dtype == "float64":
        torch_model.double()
        mg_model.double()
    expected = torch_program["main"](*data, torch_model)
    report = mg_program["main"](*data, mg_model)
    if dtype == "float32":
        # float32 LBFGS with a strong-Wolfe search: the losses agree to 2e-5, but the fitted coefficients sit in a
        # flat valley where the two engines' last-bit differences (torch's kernels differ by CPU: AVX2 against
        # AVX-512) move them by up to ~3e-4; they are compared to 1e-3 here, everything else to 2e-5
        _assert_same(report.pop("coefficients"), expected.pop("coefficients"), 1e-3, "/coefficients")
    _assert_same(report, expected, 1e-9 if dtype == "float64" else 2e-5)
    assert report["pca_svd"][0].dtype == mg_model.linear.weight.dtype == np.dtype(dtype)
    assert expected["empty"][2].tolist() == [50.0] * 4
    # the two PCA routes agree (up to the per-component sign each fixes)
    tolerance = 1e-10 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(np.abs(expected["pca_svd"][0]), np.abs(expected["pca_eigh"][0]), atol=tolerance)
    np.testing.assert_allclose(expected["pca_svd"][1], expected["pca_eigh"][1], rtol=tolerance)


def _shared_normal(monkeypatch: pytest.MonkeyPatch, torch: Any, seed: int) -> None:
    """``randn_like`` of both libraries draws, in call order, from one NumPy stream each (same seed), in the
    argument's dtype: the two engines' generators differ, and with this the weights drawn are the same numbers."""
    for lib in (torch, mg):
        rng = np.random.default_rng(seed)

        def randn_like(x: Any, rng: np.random.Generator = rng, lib: Any = lib) -> Any:
            assert str(x.device) == "cpu"
            return lib.from_numpy(rng.standard_normal(tuple(x.shape))).to(x.dtype)

        monkeypatch.setattr(lib, "randn_like", randn_like)


def _two_moons(count: int, seed: int) -> tuple:
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, np.pi, count)
    labels = rng.integers(0, 2, count)
    x = np.stack([np.cos(angle) + labels, np.sin(angle) * (1 - 2 * labels) + 0.5 * labels], axis=1)
    return x + 0.1 * rng.standard_normal(x.shape), labels.astype(np.int64)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bayes_by_backprop(dtype: str, torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The network in float32 as the Bayes-by-backprop repositories train it (1e-5), and ``.double()``d (1e-9)."""
    features, labels = _two_moons(24, 2)
    features = features.astype(dtype)
    torch_program = _program(BAYES_BY_BACKPROP, TORCH_IMPORTS_CLASSIC)
    mg_program = _program(BAYES_BY_BACKPROP, MINIGRAD_IMPORTS_CLASSIC)
    torch.manual_seed(0)
    torch_model, mg_model = torch_program["make_model"](2, 8, 2), mg_program["make_model"](2, 8, 2)
    initial = _copy_weights(torch_model, mg_program)
    mg_model.load_state_dict(initial)
    if dtype == "float64":
        torch_model.double()
        mg_model.double()
    _shared_normal(monkeypatch, torch, 5)
    expected = torch_program["main"](torch_model, features, labels)
    result = mg_program["main"](mg_model, features, labels)
    rtol = 1e-9 if dtype == "float64" else 1e-5
    _assert_same(result, expected, rtol)
    ours = {k: v.numpy() for k, v in mg_model.state_dict().items()}
    for name, value in torch_model.state_dict().items():
        assert ours[name].dtype == np.dtype(dtype)
        np.testing.assert_allclose(ours[name], value.numpy(), rtol=rtol, atol=rtol, err_msg=name)
        assert not np.array_equal(ours[name], initial[name].numpy()), name


def test_distributions_of_bayesian_programs(torch: Any) -> None:
    rng = np.random.default_rng(3)
    arrays = (rng.standard_normal(5), (rng.random(5) > 0.5).astype(np.float64), rng.uniform(0.5, 3, 5),
              rng.uniform(0.5, 3, 5), rng.uniform(0.5, 3, (2, 3)), rng.uniform(0.05, 0.95, 5),
              rng.dirichlet(np.ones(3), 2))
    results = []
    for imports in (TORCH_IMPORTS_CLASSIC, MINIGRAD_IMPORTS_CLASSIC):
        program = _program(BAYES_BY_BACKPROP, imports)
        wrap = program["torch"].from_numpy
        results.append(program["other_distributions"](*(wrap(a.copy()) for a in arrays)))
    _assert_same(results[1][:16], results[0][:16], 1e-10)
    # The gradients with respect to Beta's and Gamma's concentrations go through the entropies' digamma, whose
    # derivative is trigamma: torch's float64 trigamma is off by ~5e-10 relative (against mpmath at these
    # points), minigrad's by ~1e-16, and Beta's entropy gradient subtracts two trigammas, which magnifies it.
    _assert_same(results[1][16:], results[0][16:], 1e-7)
    shapes = []
    for imports in (TORCH_IMPORTS_CLASSIC, MINIGRAD_IMPORTS_CLASSIC):
        program = _program(BAYES_BY_BACKPROP, imports)
        wrap = program["torch"].from_numpy
        draw_shapes, grad_shapes, draws = program["reparameterised_draws"](*(wrap(a.copy()) for a in arrays[2:5]))
        shapes.append((draw_shapes, [tuple(g) for g in grad_shapes]))
        assert (draws[0].detach().numpy() > 0).all() and (draws[0].detach().numpy() < 1).all()
        np.testing.assert_allclose(draws[2].detach().numpy().sum(-1), 1.0, rtol=1e-12)
    assert shapes[0] == shapes[1] == ([(5,), (2, 5), (2, 3)], [(5,), (5,), (2, 3)])


def test_trigamma_to_float64_precision() -> None:
    """polygamma(1, x) and digamma's derivative at points with closed forms: pi^2/6 at 1, pi^2/2 at 1/2,
    pi^2/6 - 1 at 2 (torch 2.13's float64 trigamma is ~5e-10 off there, so the reference is the closed form)."""
    x = mg.tensor([1.0, 0.5, 2.0], dtype=mg.float64, requires_grad=True)
    expected = np.array([np.pi ** 2 / 6, np.pi ** 2 / 2, np.pi ** 2 / 6 - 1])
    np.testing.assert_allclose(mg.polygamma(1, x).detach().numpy(), expected, rtol=1e-14)
    mg.digamma(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-14)


@pytest.mark.parametrize("name, options", [("Adam", {}), ("AdamW", {}), ("NAdam", {}), ("Adadelta", {}),
                                           ("SGD", {"momentum": 0.9, "weight_decay": 0.1})])
def test_optimizers_step_a_zero_dim_parameter(name: str, options: dict, torch: Any) -> None:
    """A 0-dim parameter (a GP's raw outputscale, ``nn.Parameter(torch.tensor(0.0))``): NumPy's arithmetic on 0-dim
    arrays gives scalars, which these optimizers' ``out=`` steps could not write to, and which SGD kept as its
    momentum buffer (a TypeError at the next step)."""
    values = []
    for lib in (torch, mg):
        p = lib.nn.Parameter(lib.tensor(0.5, dtype=lib.float64))
        optimizer = getattr(lib.optim, name)([p], lr=0.1, **options)
        for _ in range(3):
            optimizer.zero_grad()
            ((p - 2) ** 2).backward()
            optimizer.step()
        assert tuple(p.shape) == ()
        values.append(p.item())
    assert values[1] == pytest.approx(values[0], rel=1e-14)


@pytest.mark.parametrize("call", [
    lambda lib, i: i / 2, lambda lib, i: i / i, lambda lib, i: 2 / i, lambda lib, i: (i > 1) / 2,
    lambda lib, i: lib.sqrt(i), lambda lib, i: i.exp(), lambda lib, i: lib.log(i), lambda lib, i: i.sigmoid(),
    lambda lib, i: i.rsqrt(), lambda lib, i: lib.erf(i), lambda lib, i: lib.atan2(i, i), lambda lib, i: lib.digamma(i),
    lambda lib, i: lib.angle(i), lambda lib, i: lib.special.hermite_polynomial_h(i, 2),
])
def test_integers_become_the_default_float_dtype(call: Any, torch: Any) -> None:
    """Under ``set_default_dtype(float64)`` (the first line of many GP and scientific programs) an integer tensor's
    true division and float-valued functions give float64, as PyTorch's: they gave float32, hard-coded."""
    results = []
    for lib in (torch, mg):
        lib.set_default_dtype(lib.float64)
        try:
            i = lib.arange(1, 4)
            results.append(call(lib, i))
        finally:
            lib.set_default_dtype(lib.float32)
        results.append(call(lib, lib.arange(1, 4)))
    (t64, t32, m64, m32) = results
    assert str(m64.dtype) == str(t64.dtype).removeprefix("torch.") == "float64"
    assert str(m32.dtype) == str(t32.dtype).removeprefix("torch.") == "float32"
    np.testing.assert_allclose(m64.numpy(), t64.numpy(), rtol=1e-14)


@pytest.mark.parametrize("shape", [(9, 5), (5, 9)])
def test_pca_lowrank_and_svd_lowrank_where_q_reaches_the_rank(shape: tuple, torch: Any) -> None:
    """torch.pca_lowrank / svd_lowrank were missing (an AttributeError in PCA programs that use them). Their
    Gaussian test matrix comes from each engine's own generator; at q = rank the result does not depend on it,
    so singular values, components up to sign, projections' magnitudes and gradients are compared."""
    rng = np.random.default_rng(4)
    data = rng.standard_normal((shape[0], 3)) @ rng.standard_normal((3, shape[1]))   # rank 3
    results = []
    for lib in (torch, mg):
        lib.manual_seed(0)
        x = lib.from_numpy(data.copy()).requires_grad_()
        U, S, V = lib.pca_lowrank(x, q=3)  # noqa: N806
        projected = (x - x.mean(0)) @ V[:, :2]
        (S.sum() + (U @ lib.diag(S) @ V.mT).pow(2).sum() + projected.pow(2).sum()).backward()
        _, S_plain, _ = lib.svd_lowrank(x.detach(), q=3, niter=1)  # noqa: N806
        results.append([t.detach().numpy() for t in (U, S, V, projected, x.grad, S_plain)])
    for ours, theirs in zip(results[1], results[0]):
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(np.abs(ours), np.abs(theirs), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(results[1][1], np.linalg.svd(data - data.mean(0), compute_uv=False)[:3], atol=1e-10)
    with pytest.raises(ValueError, match="q"):
        mg.pca_lowrank(mg.from_numpy(data), q=10)


@pytest.mark.parametrize("equation, shapes", [
    ("ii", [(3, 3)]), ("bii->b", [(2, 3, 3)]), ("bii->bi", [(2, 3, 3)]), ("ij,jj->i", [(2, 3), (3, 3)]),
    ("bii,bjj->bij", [(2, 3, 3), (2, 3, 3)]), ("iji->j", [(3, 2, 3)]), ("...ii->...", [(2, 3, 3)]),
])
def test_einsum_reads_a_repeated_index_on_its_diagonal(equation: str, shapes: list, torch: Any) -> None:
    """``torch.einsum("ii", K)`` (a trace, as GP programs write trace(K^-1 dK)) and the batched forms raised
    NotImplementedError; now values, gradients and second derivatives are torch's."""
    rng = np.random.default_rng(6)
    arrays = [rng.standard_normal(shape) for shape in shapes]
    results = []
    for lib in (torch, mg):
        xs = [lib.from_numpy(a.copy()).requires_grad_() for a in arrays]
        y = lib.einsum(equation, *xs)
        weights = lib.from_numpy(np.arange(1.0, 1.0 + y.numel()).reshape(tuple(y.shape)))
        grads = lib.autograd.grad((y * weights).sum(), xs, create_graph=True)
        second = lib.autograd.grad(sum((g * g * x).sum() for g, x in zip(grads, xs)), xs)
        results.append([t.detach().numpy() for t in (y, *grads, *second)])
    for ours, theirs in zip(*results):
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="repeated for operand 1"):
        mg.einsum("ij,jj->i", mg.zeros(2, 3), mg.zeros(3, 4))


@pytest.mark.gpu
def test_the_fixes_run_on_the_gpu_path() -> None:
    """The einsum diagonal's backward, the low-rank PCA and Adam on a 0-dim parameter on ``cuda`` (the strict
    CuPy stand-in where there is no GPU): the same numbers as on the host."""
    rng = np.random.default_rng(7)
    K = rng.standard_normal((2, 3, 3))  # noqa: N806
    data = rng.standard_normal((6, 3)) @ rng.standard_normal((3, 4))   # rank 3: q = 3 is exact, whatever R
    results = []
    for device in ("cpu", "cuda"):
        k = mg.tensor(K, device=device, requires_grad=True)
        mg.einsum("bii->b", k).pow(2).sum().backward()
        mg.manual_seed(0)
        _, S, _ = mg.pca_lowrank(mg.tensor(data, device=device), q=3)  # noqa: N806
        p = mg.nn.Parameter(mg.tensor(0.5, dtype=mg.float64, device=device))
        optimizer = mg.optim.Adam([p], lr=0.1)
        (p * p).backward()
        optimizer.step()
        results.append([k.grad.numpy(), S.numpy(), p.detach().numpy()])
    for ours, host in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, host, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("call", [
    lambda lib: lib.linalg.cholesky(lib.ones(3, 2, dtype=lib.float64)),
    lambda lib: lib.linalg.solve_triangular(lib.eye(2, dtype=lib.float64), lib.ones(3, 1, dtype=lib.float64),
                                            upper=False),
    lambda lib: lib.cholesky_solve(lib.ones(3, 1, dtype=lib.float64), lib.eye(2, dtype=lib.float64)),
    lambda lib: lib.cholesky_solve(lib.ones(2, dtype=lib.float64), lib.eye(2, dtype=lib.float64)),
    lambda lib: lib.linalg.lstsq(lib.ones(3, 2, dtype=lib.float64), lib.ones(4, 1, dtype=lib.float64)),
    lambda lib: lib.linalg.matrix_power(lib.ones(2, 3, dtype=lib.float64), 2),
    lambda lib: lib.cdist(lib.ones(2, 3), lib.ones(2, 4)),
])
def test_linear_algebra_shape_errors_are_torchs_runtime_error(call: Any, torch: Any) -> None:
    """A shape that a solver, a factorisation or cdist cannot take: PyTorch raises RuntimeError (which programs
    catch around a Cholesky), minigrad raised a ValueError only; now both. cholesky_solve names itself (it named
    the solve_triangular it calls)."""
    with pytest.raises(RuntimeError):
        call(torch)
    with pytest.raises(RuntimeError) as caught:
        call(mg)
    assert isinstance(caught.value, ValueError)
