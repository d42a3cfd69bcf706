"""Three reinforcement-learning programs, small, run unchanged on minigrad: only the import lines differ.

Each program is our own rewrite of a well-known public PyTorch program, with the original's PyTorch calls and
habits in the same roles, our own names and comments, a short run on a tiny environment (the helpers and the
rule come from tests/test_pytorch_programs.py):

* ``REINFORCE`` mirrors pytorch/examples ``reinforcement_learning/reinforce.py``
  (https://github.com/pytorch/examples/tree/main/reinforcement_learning): a policy MLP with ``nn.Dropout``
  and ``F.softmax(action_scores, dim=1)``, ``Categorical(probs)``, ``m.sample()``, ``m.log_prob(action)``,
  ``torch.from_numpy(state).float().unsqueeze(0)``, ``action.item()``, returns built in Python with
  ``returns.insert(0, R)``, ``torch.tensor(returns)`` normalised with ``np.finfo(np.float32).eps.item()``,
  ``torch.cat(policy_loss).sum()``, ``del policy.rewards[:]``, ``Adam(lr=1e-2)``;
* ``ACTOR_CRITIC`` mirrors ``reinforcement_learning/actor_critic.py`` of the same directory: one body, an action
  head and a value head, ``SavedAction = namedtuple(...)``, the advantage ``R - value.item()``,
  ``F.smooth_l1_loss(value, torch.tensor([R]))`` (a list holding a 0-dim tensor),
  ``torch.stack(policy_losses).sum() + torch.stack(value_losses).sum()``, with an ``m.entropy()`` bonus as
  A2C programs add;
* ``DQN`` mirrors the PyTorch tutorial "Reinforcement Learning (DQN) Tutorial"
  (https://pytorch.org/tutorials/intermediate/reinforcement_q_learning.html): ``Transition`` namedtuple and a
  ``deque`` replay memory read by ``random.sample``, policy and target nets, the soft update written over
  ``state_dict()`` keys and loaded back with ``load_state_dict``, the non-final mask from
  ``torch.tensor(tuple(map(...)), dtype=torch.bool)``, ``gather(1, action_batch)``, a masked assignment of
  ``target_net(...).max(1).values`` under ``no_grad``, ``nn.SmoothL1Loss``, ``AdamW(amsgrad=True)``,
  ``clip_grad_value_``, epsilon-greedy actions from ``max(1).indices.view(1, 1)`` or
  ``torch.tensor([[action]], dtype=torch.long)``.

The environment is ``CartPole`` below: the classic cart-pole equations in plain Python/NumPy with the gymnasium
calls the programs make (``reset(seed=...)``, ``step``, ``action_space.n``/``sample()``), short episodes,
deterministic for a seed. Random draws: ``Categorical.sample`` reads ``torch.multinomial`` in both libraries, and
here both libraries' ``multinomial`` draw from one NumPy stream by the inverse CDF of their own probabilities
(``_shared_multinomial``), so the two runs take the same actions; Python's ``random`` (the DQN's exploration and
replay batches) is seeded alike before each run. Dropout masks cannot be shared: REINFORCE's ``Dropout(p=0.6)``
is compared at ``p = 0``, and its real dropout is checked for what does not depend on the masks.
"""

from __future__ import annotations

import random
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
TORCH_IMPORTS_RL = TORCH_IMPORTS + """\
import random
import numpy as np
from collections import deque, namedtuple
from itertools import count
from torch.distributions import Categorical
"""

MINIGRAD_IMPORTS_RL = MINIGRAD_IMPORTS + """\
import random
import numpy as np
from collections import deque, namedtuple
from itertools import count
from minigrad.distributions import Categorical
"""


REINFORCE = '''
class Policy(nn.Module):
    """A cart-pole state (1, 4) to the probabilities of pushing left or right (1, 2)."""

    def __init__(self, hidden=128, dropout=0.6):
        super(Policy, self).__init__()
        self.affine1 = nn.Linear(4, hidden)
        self.dropout = nn.Dropout(p=dropout)
        self.affine2 = nn.Linear(hidden, 2)
        self.saved_log_probs = []   # per step of the running episode
        self.rewards = []

    def forward(self, x):
        x = F.relu(self.dropout(self.affine1(x)))
        action_scores = self.affine2(x)
        return F.softmax(action_scores, dim=1)


eps = np.finfo(np.float32).eps.item()


def make_model():
    return Policy()


def select_action(policy, state):
    state = torch.from_numpy(state).float().unsqueeze(0)
    probs = policy(state)
    m = Categorical(probs)
    action = m.sample()
    policy.saved_log_probs.append(m.log_prob(action))
    return action.item()


def finish_episode(policy, optimizer, gamma):
    """One policy-gradient step over the episode just played; returns the loss."""
    R = 0
    policy_loss = []
    returns = []
    for r in policy.rewards[::-1]:
        R = r + gamma * R
        returns.insert(0, R)
    returns = torch.tensor(returns)
    returns = (returns - returns.mean()) / (returns.std() + eps)
    for log_prob, R in zip(policy.saved_log_probs, returns):
        policy_loss.append(-log_prob * R)
    optimizer.zero_grad()
    policy_loss = torch.cat(policy_loss).sum()
    policy_loss.backward()
    optimizer.step()
    del policy.rewards[:]
    del policy.saved_log_probs[:]
    return policy_loss.item()


def main(policy, env, episodes, gamma=0.99, seed=543):
    optimizer = optim.Adam(policy.parameters(), lr=1e-2)
    running_reward = 10
    log = []
    state, _ = env.reset(seed=seed)
    for i_episode in count(1):
        if i_episode > 1:
            state, _ = env.reset()
        ep_reward = 0
        actions = []
        for t in range(1, 10000):
            action = select_action(policy, state)
            actions.append(action)
            state, reward, done, truncated, _ = env.step(action)
            policy.rewards.append(reward)
            ep_reward += reward
            if done or truncated:
                break
        running_reward = 0.05 * ep_reward + (1 - 0.05) * running_reward
        loss = finish_episode(policy, optimizer, gamma)
        log.append((i_episode, ep_reward, running_reward, loss, actions))
        if i_episode == episodes:
            return log
'''


ACTOR_CRITIC = '''
SavedAction = namedtuple('SavedAction', ['log_prob', 'value'])


class Policy(nn.Module):
    """One shared layer, then two heads: a state (4,) to action probabilities (2,) and a state value (1,)."""

    def __init__(self, hidden=128):
        super(Policy, self).__init__()
        self.affine1 = nn.Linear(4, hidden)
        self.action_head = nn.Linear(hidden, 2)   # actor
        self.value_head = nn.Linear(hidden, 1)    # critic
        self.saved_actions = []
        self.rewards = []

    def forward(self, x):
        x = F.relu(self.affine1(x))
        action_prob = F.softmax(self.action_head(x), dim=-1)
        state_values = self.value_head(x)
        return action_prob, state_values


eps = np.finfo(np.float32).eps.item()


def make_model():
    return Policy()


def select_action(model, state, entropies):
    state = torch.from_numpy(state).float()
    probs, state_value = model(state)
    m = Categorical(probs)
    action = m.sample()
    model.saved_actions.append(SavedAction(m.log_prob(action), state_value))
    entropies.append(m.entropy())
    return action.item()


def finish_episode(model, optimizer, entropies, gamma, entropy_coef):
    R = 0
    saved_actions = model.saved_actions
    policy_losses = []   # actor
    value_losses = []    # critic
    returns = []
    for r in model.rewards[::-1]:
        R = r + gamma * R
        returns.insert(0, R)
    returns = torch.tensor(returns)
    returns = (returns - returns.mean()) / (returns.std() + eps)
    for (log_prob, value), R in zip(saved_actions, returns):
        advantage = R - value.item()
        policy_losses.append(-log_prob * advantage)
        value_losses.append(F.smooth_l1_loss(value, torch.tensor([R])))
    optimizer.zero_grad()
    entropy = torch.stack(entropies).mean()
    loss = torch.stack(policy_losses).sum() + torch.stack(value_losses).sum() - entropy_coef * entropy
    loss.backward()
    optimizer.step()
    del model.rewards[:]
    del model.saved_actions[:]
    del entropies[:]
    return loss.item(), entropy.item()


def main(model, env, episodes, gamma=0.99, entropy_coef=0.01, seed=543):
    optimizer = optim.Adam(model.parameters(), lr=3e-2)
    running_reward = 10
    entropies = []
    log = []
    state, _ = env.reset(seed=seed)
    for i_episode in range(1, episodes + 1):
        if i_episode > 1:
            state, _ = env.reset()
        ep_reward = 0
        for t in range(1, 10000):
            action = select_action(model, state, entropies)
            state, reward, done, truncated, _ = env.step(action)
            model.rewards.append(reward)
            ep_reward += reward
            if done or truncated:
                break
        running_reward = 0.05 * ep_reward + (1 - 0.05) * running_reward
        loss, entropy = finish_episode(model, optimizer, entropies, gamma, entropy_coef)
        log.append((i_episode, t, running_reward, loss, entropy))
    return log
'''


DQN = '''
Transition = namedtuple('Transition', ('state', 'action', 'next_state', 'reward'))


class ReplayMemory(object):
    """The last ``capacity`` transitions; a batch is a uniform sample without replacement."""

    def __init__(self, capacity):
        self.memory = deque([], maxlen=capacity)

    def push(self, *args):
        self.memory.append(Transition(*args))

    def sample(self, batch_size):
        return random.sample(self.memory, batch_size)

    def __len__(self):
        return len(self.memory)


class DQN(nn.Module):
    """States (B, n_observations) to one Q-value per action (B, n_actions)."""

    def __init__(self, n_observations, n_actions, hidden=128):
        super(DQN, self).__init__()
        self.layer1 = nn.Linear(n_observations, hidden)
        self.layer2 = nn.Linear(hidden, hidden)
        self.layer3 = nn.Linear(hidden, n_actions)

    def forward(self, x):
        x = F.relu(self.layer1(x))
        x = F.relu(self.layer2(x))
        return self.layer3(x)


BATCH_SIZE = 8
GAMMA = 0.99
EPS_START = 0.9
EPS_END = 0.05
EPS_DECAY = 30
TAU = 0.005
LR = 1e-4


def make_models(n_observations=4, n_actions=2):
    policy_net = DQN(n_observations, n_actions)
    target_net = DQN(n_observations, n_actions)
    target_net.load_state_dict(policy_net.state_dict())
    return policy_net, target_net


class Agent:
    def __init__(self, policy_net, target_net, env, device):
        self.policy_net, self.target_net, self.env, self.device = policy_net, target_net, env, device
        self.optimizer = optim.AdamW(policy_net.parameters(), lr=LR, amsgrad=True)
        self.memory = ReplayMemory(10000)
        self.steps_done = 0

    def select_action(self, state):
        sample = random.random()
        eps_threshold = EPS_END + (EPS_START - EPS_END) * math.exp(-1. * self.steps_done / EPS_DECAY)
        self.steps_done += 1
        if sample > eps_threshold:
            with torch.no_grad():
                # the largest expected reward: max(1) gives (values, indices) per row
                return self.policy_net(state).max(1).indices.view(1, 1)
        return torch.tensor([[self.env.action_space.sample()]], device=self.device, dtype=torch.long)

    def optimize_model(self):
        if len(self.memory) < BATCH_SIZE:
            return None
        transitions = self.memory.sample(BATCH_SIZE)
        batch = Transition(*zip(*transitions))   # a batch of transitions to a transition of batches
        non_final_mask = torch.tensor(tuple(map(lambda s: s is not None, batch.next_state)),
                                      device=self.device, dtype=torch.bool)
        non_final_next_states = torch.cat([s for s in batch.next_state if s is not None])
        state_batch = torch.cat(batch.state)
        action_batch = torch.cat(batch.action)
        reward_batch = torch.cat(batch.reward)

        state_action_values = self.policy_net(state_batch).gather(1, action_batch)
        next_state_values = torch.zeros(BATCH_SIZE, device=self.device)
        with torch.no_grad():
            next_state_values[non_final_mask] = self.target_net(non_final_next_states).max(1).values
        expected_state_action_values = (next_state_values * GAMMA) + reward_batch

        criterion = nn.SmoothL1Loss()
        loss = criterion(state_action_values, expected_state_action_values.unsqueeze(1))
        self.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_value_(self.policy_net.parameters(), 100)
        self.optimizer.step()
        return loss.item()

    def soft_update(self):
        """target = TAU * policy + (1 - TAU) * target, key by key."""
        target_net_state_dict = self.target_net.state_dict()
        policy_net_state_dict = self.policy_net.state_dict()
        for key in policy_net_state_dict:
            target_net_state_dict[key] = policy_net_state_dict[key]*TAU + target_net_state_dict[key]*(1-TAU)
        self.target_net.load_state_dict(target_net_state_dict)


def main(policy_net, target_net, env, num_episodes, device="cpu", seed=0):
    device = torch.device(device)
    agent = Agent(policy_net, target_net, env, device)
    episode_durations, losses, actions = [], [], []
    state, info = env.reset(seed=seed)
    for i_episode in range(num_episodes):
        if i_episode > 0:
            state, info = env.reset()
        state = torch.tensor(state, dtype=torch.float32, device=device).unsqueeze(0)
        for t in count():
            action = agent.select_action(state)
            actions.append(action.item())
            observation, reward, terminated, truncated, _ = env.step(action.item())
            reward = torch.tensor([reward], device=device)
            done = terminated or truncated
            if terminated:
                next_state = None
            else:
                next_state = torch.tensor(observation, dtype=torch.float32, device=device).unsqueeze(0)
            agent.memory.push(state, action, next_state, reward)
            state = next_state
            loss = agent.optimize_model()
            if loss is not None:
                losses.append(loss)
            agent.soft_update()
            if done:
                episode_durations.append(t + 1)
                break
    return episode_durations, losses, actions
'''

PROGRAMS = (REINFORCE, ACTOR_CRITIC, DQN)


class _Discrete:
    """gymnasium's ``Discrete(n)``: ``n`` and a seeded ``sample()``."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.rng = np.random.default_rng(0)

    def sample(self) -> int:
        return int(self.rng.integers(self.n))


class CartPole:
    """The cart-pole of Barto, Sutton and Anderson (gymnasium's CartPole-v1 equations, Euler steps), cut to
    ``max_steps`` per episode. States: float64 (4,) = cart position, velocity, pole angle, angular velocity;
    reward 1.0 per step; the episode ends when the pole leans past 12 degrees or the cart leaves +-2.4."""

    gravity, masscart, masspole, length, force_mag, tau = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02

    def __init__(self, max_steps: int = 12) -> None:
        self.max_steps = max_steps
        self.action_space = _Discrete(2)
        self.rng = np.random.default_rng(0)
        self.state = np.zeros(4)
        self.steps = 0

    def reset(self, seed: int | None = None) -> tuple:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
            self.action_space.rng = np.random.default_rng(seed + 1)
        self.state = self.rng.uniform(-0.05, 0.05, 4)
        self.steps = 0
        return self.state.copy(), {}

    def step(self, action: int) -> tuple:
        x, x_dot, theta, theta_dot = self.state
        force = self.force_mag if action == 1 else -self.force_mag
        total_mass = self.masscart + self.masspole
        polemass_length = self.masspole * self.length
        cos, sin = np.cos(theta), np.sin(theta)
        temp = (force + polemass_length * theta_dot ** 2 * sin) / total_mass
        theta_acc = (self.gravity * sin - cos * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * cos ** 2 / total_mass))
        x_acc = temp - polemass_length * theta_acc * cos / total_mass
        self.state = np.array([x + self.tau * x_dot, x_dot + self.tau * x_acc,
                               theta + self.tau * theta_dot, theta_dot + self.tau * theta_acc])
        self.steps += 1
        terminated = bool(abs(self.state[0]) > 2.4 or abs(self.state[2]) > 12 * 2 * np.pi / 360)
        truncated = self.steps >= self.max_steps
        return self.state.copy(), 1.0, terminated, truncated, {}


def _shared_multinomial(monkeypatch: pytest.MonkeyPatch, lib: Any, seed: int) -> None:
    """``lib.multinomial`` (which ``Categorical.sample`` calls in both libraries) draws indices for each row by the
    inverse CDF of the row's own probabilities at uniforms from a NumPy stream seeded with ``seed``, with
    replacement: (rows, K) -> (rows, num_samples) int64."""
    rng = np.random.default_rng(seed)

    def multinomial(probs: Any, num_samples: int, replacement: bool = False, *, generator: Any = None) -> Any:
        assert probs.ndim == 2 and (replacement or num_samples == 1), (probs.shape, num_samples, replacement)
        p = probs.detach().cpu().numpy().astype(np.float64)
        cdf = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
        u = rng.random((p.shape[0], num_samples, 1))
        picks = np.minimum((cdf[:, None, :] < u).sum(axis=2), p.shape[1] - 1)   # (rows, num_samples)
        return lib.from_numpy(picks.astype(np.int64)).to(probs.device)

    monkeypatch.setattr(lib, "multinomial", multinomial)


def _twins(source: str, factory: str = "make_model") -> tuple:
    """Both programs, and ``factory``'s model(s) in each, minigrad's loaded with torch's initial weights."""
    return _twin_models(source, imports=(TORCH_IMPORTS_RL, MINIGRAD_IMPORTS_RL), factory=factory)


def _both_shared(monkeypatch: pytest.MonkeyPatch, torch: Any, seed: int) -> None:
    import minigrad  # noqa: PLC0415

    for lib in (torch, minigrad):
        _shared_multinomial(monkeypatch, lib, seed)


def test_the_programs_differ_only_in_their_imports() -> None:
    assert TORCH_IMPORTS_RL.count("\n") == MINIGRAD_IMPORTS_RL.count("\n") == 10
    for torch_line, mg_line in zip(TORCH_IMPORTS_RL.splitlines()[5:], MINIGRAD_IMPORTS_RL.splitlines()[5:]):
        assert torch_line.replace("torch", "minigrad") == mg_line
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


# ----------------------------------------------------------------------------- 1. REINFORCE


def test_reinforce_with_shared_actions(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Six episodes of REINFORCE, Dropout at p = 0: the same actions, episode rewards, running rewards and
    losses in both engines, then the same weights."""
    _both_shared(monkeypatch, torch, 1)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(REINFORCE)
    torch_model.dropout.p = mg_model.dropout.p = 0.0
    expected = torch_program["main"](torch_model, CartPole(), 6)
    log = mg_program["main"](mg_model, CartPole(), 6)
    assert [entry[4] for entry in log] == [entry[4] for entry in expected]   # the actions
    assert [entry[:2] for entry in log] == [entry[:2] for entry in expected]
    assert len({entry[1] for entry in log}) > 1   # episodes of different lengths
    np.testing.assert_allclose([entry[2:4] for entry in log], [entry[2:4] for entry in expected], rtol=1e-5,
                               atol=1e-6)
    _assert_same_weights(torch_model, mg_model, initial)


def test_reinforce_with_its_own_dropout_and_sampling() -> None:
    """The program as written (Dropout(0.6), minigrad's own generator): it runs, the losses are finite, the log
    probabilities are those of the probabilities drawn, and the episode-end bookkeeping empties the lists."""
    mg_program = _program(REINFORCE, MINIGRAD_IMPORTS_RL)
    mg_program["torch"].manual_seed(0)
    policy = mg_program["make_model"]()
    log = mg_program["main"](policy, CartPole(), 3)
    assert len(log) == 3 and all(np.isfinite(entry[3]) for entry in log)
    assert policy.rewards == [] and policy.saved_log_probs == []
    assert {a for entry in log for a in entry[4]} <= {0, 1}



@pytest.mark.parametrize("make", [
    lambda lib, deque: lib.tensor(deque([1.0, 1.99, 2.9701])),   # reinforce.py's returns, built with appendleft
    lambda lib, deque: lib.tensor([deque([1.0, 2.0]), deque([3.0, 4.0])]),
    lambda lib, deque: lib.tensor(deque([lib.tensor(1.5), 2.0])),
    lambda lib, deque: lib.tensor(deque([np.float64(1.0)])),
    lambda lib, deque: lib.tensor(deque([True, False])),
    lambda lib, deque: lib.tensor(deque()),
    lambda lib, deque: lib.tensor(range(0)),
], ids=["floats", "nested", "tensor_and_float", "float64_scalar", "bools", "empty", "empty_range"])
def test_a_deque_becomes_a_tensor_as_a_list_does(torch: Any, make: Any) -> None:
    """``torch.tensor(deque)`` reads the deque's elements as a list's (Python floats: float32); NumPy's reading
    gave float64, so reinforce.py's loss was float64 here."""
    import collections  # noqa: PLC0415

    import minigrad  # noqa: PLC0415

    ours, theirs = make(minigrad, collections.deque), make(torch, collections.deque)
    assert ours.dtype == getattr(minigrad, str(theirs.dtype).split(".")[-1]) and ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


# ----------------------------------------------------------------------------- 2. actor-critic


def test_actor_critic_with_shared_actions(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Six episodes of the one-body, two-head actor-critic with an entropy bonus: the same lengths, running
    rewards, losses and entropies, then the same weights."""
    _both_shared(monkeypatch, torch, 2)
    torch_program, torch_model, mg_program, mg_model, initial = _twins(ACTOR_CRITIC)
    expected = torch_program["main"](torch_model, CartPole(), 6)
    log = mg_program["main"](mg_model, CartPole(), 6)
    assert [entry[:2] for entry in log] == [entry[:2] for entry in expected]
    np.testing.assert_allclose([entry[2:] for entry in log], [entry[2:] for entry in expected], rtol=1e-5,
                               atol=1e-6)
    _assert_same_weights(torch_model, mg_model, initial)


# ----------------------------------------------------------------------------- 3. DQN


def _dqn_runs(torch: Any, device: str) -> tuple:
    """The DQN program on torch (CPU) and on minigrad at ``device``, Python's `random` seeded alike."""
    torch_program, torch_nets, mg_program, mg_nets, initials = _twins(DQN, factory="make_models")
    for net in mg_nets:
        net.to(device)
    runs = []
    for program, nets, where in ((torch_program, torch_nets, "cpu"), (mg_program, mg_nets, device)):
        random.seed(7)
        runs.append(program["main"](*nets, CartPole(), 6, device=where))
    return runs, torch_nets, mg_nets, initials


def test_dqn_with_replay_memory_and_soft_target_updates(torch: Any) -> None:
    """Six episodes of the DQN tutorial's loop (random exploration and replay batches from Python's `random`,
    seeded alike): the same actions, durations and losses, then the same policy and target weights."""
    runs, torch_nets, mg_nets, initials = _dqn_runs(torch, "cpu")
    (expected_durations, expected_losses, expected_actions), (durations, losses, actions) = runs
    assert actions == expected_actions and durations == expected_durations
    assert len(losses) == len(expected_losses) > 20
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-5, atol=1e-7)
    for torch_net, mg_net, initial in zip(torch_nets, mg_nets, initials):
        _assert_same_weights(torch_net, mg_net, initial)


@pytest.mark.gpu
def test_dqn_on_the_gpu(torch: Any) -> None:
    """The DQN program with ``device='cuda'`` (states, actions, rewards, masks and the nets there): torch's CPU
    numbers."""
    runs, torch_nets, mg_nets, initials = _dqn_runs(torch, "cuda")
    assert runs[1][:1] + runs[1][2:] == runs[0][:1] + runs[0][2:]
    np.testing.assert_allclose(runs[1][1], runs[0][1], rtol=1e-5, atol=1e-7)
    assert mg_nets[1].layer1.weight.device.type == "cuda"
    for torch_net, mg_net, initial in zip(torch_nets, mg_nets, initials):
        _assert_same_weights(torch_net, mg_net, initial)


# ----------------------------------------------------------------------------- Categorical, as the programs use it


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch", [(), (1,), (3,)])
@pytest.mark.parametrize("by", ["probs", "logits"])
def test_categorical_sample_log_prob_and_entropy_as_torch(torch: Any, monkeypatch: pytest.MonkeyPatch, by: str,
                                                          batch: tuple, dtype: str) -> None:
    """For the same parameters (softmax of scores that require grad, as a policy head gives them): the same
    samples under one shared stream (shapes sample_shape + batch_shape, int64), the same log_prob and entropy
    (values, dtypes, shapes) and the same gradients of the scores."""
    import minigrad  # noqa: PLC0415

    scores = np.random.default_rng(len(batch)).standard_normal(batch + (4,)).astype(dtype)
    results = []
    for lib in (torch, minigrad):
        _shared_multinomial(monkeypatch, lib, 5)
        x = lib.tensor(scores, requires_grad=True)
        m = (lib.distributions.Categorical(lib.softmax(x, dim=-1)) if by == "probs"
             else lib.distributions.Categorical(logits=x))
        action, actions = m.sample(), m.sample((5,))
        log_prob, entropy = m.log_prob(action), m.entropy()
        (log_prob.sum() * 0.5 - m.log_prob(actions).mean() + entropy.sum()).backward()
        results.append([(tuple(t.shape), str(t.dtype).split(".")[-1], t.detach().numpy())
                        for t in (action, actions, log_prob, entropy, x.grad)])
    for name, (theirs, ours) in zip(("action", "actions", "log_prob", "entropy", "grad"), zip(*results)):
        assert ours[:2] == theirs[:2], name
        np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-5 if dtype == "float32" else 1e-12, err_msg=name)
    assert results[0][0][:2] == (batch, "int64") and results[0][1][0] == (5,) + batch
    assert results[0][2][1] == dtype


@pytest.mark.gpu
def test_categorical_on_the_gpu(torch: Any) -> None:
    """minigrad's own sampler on the GPU: int64 indices on the probabilities' device, in range; log_prob and
    entropy as torch's on the CPU."""
    import minigrad  # noqa: PLC0415

    probs = np.array([[0.2, 0.3, 0.5], [0.9, 0.1, 0.0]], dtype=np.float32)
    m = minigrad.distributions.Categorical(minigrad.tensor(probs, device="cuda"))
    samples = m.sample((50,))
    assert samples.shape == (50, 2) and samples.dtype == minigrad.int64 and samples.device.type == "cuda"
    assert samples.numpy().min() >= 0 and samples.numpy().max() <= 2 and (samples.numpy()[:, 1] != 2).all()
    theirs = torch.distributions.Categorical(torch.tensor(probs))
    value = np.array([2, 1])
    np.testing.assert_allclose(m.log_prob(minigrad.tensor(value, device="cuda")).numpy(),
                               theirs.log_prob(torch.tensor(value)).numpy(), rtol=1e-6)
    np.testing.assert_allclose(m.entropy().numpy(), theirs.entropy().numpy(), rtol=1e-6)
