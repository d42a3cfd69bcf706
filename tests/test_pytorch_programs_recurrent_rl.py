"""Recurrent reinforcement-learning programs, small, run unchanged on minigrad: only the import lines differ.

Each program is our own rewrite of a well-known recurrent RL method, with the PyTorch calls and habits its public
implementations use in the same roles, our own names and comments, a short run on a tiny partially observable
environment (the helpers and the rule come from tests/test_pytorch_programs.py; the feed-forward REINFORCE,
actor-critic and DQN are in tests/test_pytorch_programs_rl.py, Rainbow/A2C/QR-DQN in
tests/test_pytorch_programs_rl2.py, CleanRL's feed-forward PPO and SAC in tests/test_pytorch_programs_ppo.py):

* ``DRQN`` (Hausknecht & Stone 2015): a ``Linear`` -> ``nn.LSTM(batch_first=True)`` -> ``Linear`` Q-network acting
  step by step with its ``(h, c)`` carried, a replay of whole episodes (``deque``, ``random.sample``) padded with
  ``nn.utils.rnn.pad_sequence(batch_first=True)`` and masked past each episode's end (``torch.arange(T) <
  lengths``), Q-values gathered with ``q.gather(2, a.unsqueeze(-1))``, targets from a target network copied by
  ``load_state_dict`` every few updates (``max(2)[0]`` under ``no_grad``, ``1 - done`` masks), a masked Huber loss
  (``F.smooth_l1_loss(reduction='none')``), ``clip_grad_norm_``, ``Adam``, epsilon-greedy exploration from
  ``torch.rand(1).item()``;
* ``R2D2`` (Kapturowski et al. 2019): the same network, fixed-length sequences cut from the episodes with the LSTM
  state stored at their first step, a burn-in prefix run from that state under ``torch.no_grad()`` for the online
  and the target network, the learning part with double-Q bootstrapping (online ``argmax`` on ``q.detach()``),
  n-step returns whose discount products come from ``torch.cumprod`` over ``torch.stack``-ed windows, the value
  rescaling h(x) = sign(x)(sqrt(|x|+1)-1)+eps*x and its closed-form inverse, and R2D2's sequence priorities
  ``0.9 * max|td| + 0.1 * mean|td|``;
* ``RECURRENT_PPO`` (CleanRL's ``ppo_atari_lstm.py`` layout, https://github.com/vwxyzjn/cleanrl, with the
  sequence chunks of stable-baselines3-contrib's RecurrentPPO): an encoder, ``nn.LSTM`` stepped one time step at a
  time with the state zeroed by ``(1.0 - d).view(1, -1, 1) * h`` at episode starts, ``torch.flatten(.., 0, 1)``,
  ``Categorical(logits=...)`` ``sample``/``log_prob``/``entropy``, a rollout buffer storing ``(h, c)`` for every
  step (``hs[step] = next_lstm_state[0]``), GAE computed backwards in Python, minibatches of whole sequence
  chunks (each started from its stored state, gathered with ``obs[time_idx, env_idx]``), the clipped surrogate
  with ``torch.clamp(ratio, 1 - eps, 1 + eps)``, ``clip_grad_norm_``, ``Adam(eps=1e-5)``.

The environment is ``CueMaze`` below, a T-maze in plain Python/NumPy: the cue (go left or right at the junction)
is visible only on the first step, so a policy must remember it; episodes end at the junction or after
``max_steps``, so they have different lengths. ``CueMazes`` is a vector of them with automatic reset.

Random draws: ``torch.rand`` (the epsilon-greedy coin) of both libraries reads one NumPy stream each
(``_shared_uniform``); ``multinomial`` (which ``Categorical.sample`` calls in both) reads one NumPy stream each by the
inverse CDF of each engine's own probabilities (``_shared_multinomial`` of tests/test_pytorch_programs_rl.py); the
environments' and the replay's generators are seeded alike. So the two runs take the same actions, replay the same
episodes and must agree: losses, gradient norms and final gradients, actions and final weights, in float32
(~1e-5) and, with the models in float64, to ~1e-10.
"""

from __future__ import annotations

import importlib
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
from tests.test_pytorch_programs_rl import _Discrete, _shared_multinomial

# the extra lines the programs import with; each line names the same thing in both
TORCH_IMPORTS_RRL = TORCH_IMPORTS + """\
import random
import numpy as np
from collections import deque
from torch.distributions import Categorical
"""

MINIGRAD_IMPORTS_RRL = MINIGRAD_IMPORTS + """\
import random
import numpy as np
from collections import deque
from minigrad.distributions import Categorical
"""


RECURRENT_Q_NET = '''
DTYPE = torch.float32   # the tests set float64 here for the double-precision runs


class RecurrentQNet(nn.Module):
    """Observation sequences (B, T, obs_dim) and an optional LSTM state ((1, B, H), (1, B, H)) to Q-values
    (B, T, n_actions) and the state after the last step."""

    def __init__(self, obs_dim, n_actions, hidden=16):
        super().__init__()
        self.fc = nn.Linear(obs_dim, hidden)
        self.lstm = nn.LSTM(hidden, hidden, batch_first=True)
        self.head = nn.Linear(hidden, n_actions)

    def forward(self, x, state=None):
        x = F.relu(self.fc(x))
        x, state = self.lstm(x, state)
        return self.head(x), state

    def init_state(self, batch_size):
        zeros = torch.zeros(1, batch_size, self.lstm.hidden_size, dtype=DTYPE)
        return zeros, zeros.clone()


def make_models(obs_dim=4, n_actions=3):
    q_net = RecurrentQNet(obs_dim, n_actions)
    target_net = RecurrentQNet(obs_dim, n_actions)
    target_net.load_state_dict(q_net.state_dict())
    return q_net, target_net


def play_episode(q_net, env, epsilon, seed=None):
    """One episode, acting epsilon-greedily one step at a time with the LSTM state carried; the episode's lists
    (obs has one entry more than the rest; h and c are the states the steps started from)."""
    obs, _ = env.reset(seed=seed)
    state = q_net.init_state(1)
    episode = {"obs": [obs], "actions": [], "rewards": [], "dones": [], "h": [], "c": []}
    while True:
        episode["h"].append(state[0])
        episode["c"].append(state[1])
        with torch.no_grad():
            q, state = q_net(torch.as_tensor(obs, dtype=DTYPE).view(1, 1, -1), state)
        if torch.rand(1).item() < epsilon:
            action = env.action_space.sample()
        else:
            action = q[0, -1].argmax().item()
        obs, reward, terminated, truncated, _ = env.step(action)
        episode["obs"].append(obs)
        episode["actions"].append(action)
        episode["rewards"].append(reward)
        episode["dones"].append(float(terminated))
        if terminated or truncated:
            return episode
'''


DRQN = RECURRENT_Q_NET + '''

class EpisodeReplay:
    """The last ``capacity`` whole episodes; a batch is a uniform sample of episodes without replacement."""

    def __init__(self, capacity):
        self.episodes = deque(maxlen=capacity)

    def push(self, episode):
        self.episodes.append(episode)

    def sample(self, batch_size):
        return random.sample(list(self.episodes), batch_size)

    def __len__(self):
        return len(self.episodes)


def to_batch(episodes):
    """Padded tensors: obs (B, T + 1, obs_dim), actions (B, T) int64, rewards, dones and mask (B, T)."""
    pad = nn.utils.rnn.pad_sequence
    obs = pad([torch.as_tensor(np.stack(e["obs"]), dtype=DTYPE) for e in episodes], batch_first=True)
    actions = pad([torch.tensor(e["actions"]) for e in episodes], batch_first=True)
    rewards = pad([torch.tensor(e["rewards"], dtype=DTYPE) for e in episodes], batch_first=True)
    dones = pad([torch.tensor(e["dones"], dtype=DTYPE) for e in episodes], batch_first=True)
    lengths = torch.tensor([len(e["actions"]) for e in episodes])
    mask = (torch.arange(actions.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)).to(DTYPE)
    return obs, actions, rewards, dones, mask


def learn(q_net, target_net, optimizer, batch, gamma):
    obs, actions, rewards, dones, mask = batch
    q_all, _ = q_net(obs)                                                   # (B, T + 1, A)
    q = q_all[:, :-1].gather(2, actions.unsqueeze(-1)).squeeze(-1)          # (B, T)
    with torch.no_grad():
        next_q, _ = target_net(obs)
        next_max = next_q[:, 1:].max(2)[0]
        target = rewards + gamma * (1.0 - dones) * next_max
    per_step = F.smooth_l1_loss(q, target, reduction="none")
    loss = (per_step * mask).sum() / mask.sum()
    optimizer.zero_grad()
    loss.backward()
    grad_norm = nn.utils.clip_grad_norm_(q_net.parameters(), 10.0)
    optimizer.step()
    return loss.item(), grad_norm.item()


def main(q_net, target_net, env, episodes, batch_size=4, gamma=0.9, target_every=3, seed=0):
    random.seed(seed)
    optimizer = optim.Adam(q_net.parameters(), lr=1e-2)
    replay = EpisodeReplay(50)
    log = {"actions": [], "losses": [], "grad_norms": []}
    updates = 0
    for i_episode in range(episodes):
        epsilon = max(0.1, 1.0 - i_episode / episodes)
        episode = play_episode(q_net, env, epsilon, seed=seed if i_episode == 0 else None)
        replay.push(episode)
        log["actions"].append(episode["actions"])
        if len(replay) < batch_size:
            continue
        loss, grad_norm = learn(q_net, target_net, optimizer, to_batch(replay.sample(batch_size)), gamma)
        log["losses"].append(loss)
        log["grad_norms"].append(grad_norm)
        updates += 1
        if updates % target_every == 0:
            target_net.load_state_dict(q_net.state_dict())
    return log
'''


R2D2 = RECURRENT_Q_NET + '''

def value_rescale(x, eps=1e-3):
    return torch.sign(x) * (torch.sqrt(torch.abs(x) + 1) - 1) + eps * x


def inverse_value_rescale(x, eps=1e-3):
    return torch.sign(x) * (((torch.sqrt(1 + 4 * eps * (torch.abs(x) + 1 + eps)) - 1) / (2 * eps)) ** 2 - 1)


def cut_sequences(episode, burn_in, learn_len, n_step, stride):
    """Sequences of ``burn_in + learn_len + n_step`` steps from the episode, every ``stride`` steps, each with
    the LSTM state its first step started from; padded past the end (obs 0, done 1, mask 0)."""
    T = len(episode["actions"])
    total = burn_in + learn_len + n_step
    obs = np.stack(episode["obs"])
    sequences = []
    for start in range(0, max(T - burn_in, 0), stride):
        stop = min(start + total, T)
        pad = total - (stop - start)
        seq_obs = np.concatenate([obs[start:stop], np.zeros((pad, obs.shape[1]))])
        sequences.append({
            "obs": torch.as_tensor(seq_obs, dtype=DTYPE),
            "actions": torch.tensor(episode["actions"][start:stop] + [0] * pad),
            "rewards": torch.tensor(episode["rewards"][start:stop] + [0.0] * pad, dtype=DTYPE),
            "dones": torch.tensor(episode["dones"][start:stop] + [1.0] * pad, dtype=DTYPE),
            "mask": torch.tensor([1.0] * (stop - start) + [0.0] * pad, dtype=DTYPE),
            "h": episode["h"][start], "c": episode["c"][start],
        })
    return sequences


def learn(q_net, target_net, optimizer, sequences, burn_in, n_step, gamma):
    obs = torch.stack([s["obs"] for s in sequences])                       # (B, S, obs_dim)
    actions, rewards, dones, mask = (torch.stack([s[k] for s in sequences])
                                     for k in ("actions", "rewards", "dones", "mask"))
    state = (torch.cat([s["h"] for s in sequences], 1), torch.cat([s["c"] for s in sequences], 1))
    L = obs.shape[1] - burn_in - n_step
    with torch.no_grad():                                                  # burn-in: only the state matters
        _, online_state = q_net(obs[:, :burn_in], state)
        _, target_state = target_net(obs[:, :burn_in], state)
    q_all, _ = q_net(obs[:, burn_in:], online_state)                       # (B, L + n, A)
    q = q_all[:, :L].gather(2, actions[:, burn_in:burn_in + L].unsqueeze(-1)).squeeze(-1)
    with torch.no_grad():
        target_q, _ = target_net(obs[:, burn_in:], target_state)
        best = q_all.detach()[:, n_step:].argmax(2, keepdim=True)          # double Q: the online net picks
        bootstrap = inverse_value_rescale(target_q[:, n_step:].gather(2, best).squeeze(-1))
        discounts = gamma * (1.0 - dones[:, burn_in:])
        r = rewards[:, burn_in:]
        r_windows = torch.stack([r[:, k:k + L] for k in range(n_step)], dim=2)          # (B, L, n)
        d_windows = torch.stack([discounts[:, k:k + L] for k in range(n_step)], dim=2)
        running = torch.cumprod(d_windows, dim=2)
        weights = torch.cat([torch.ones_like(running[..., :1]), running[..., :-1]], dim=2)
        returns = (weights * r_windows).sum(2) + running[..., -1] * bootstrap
        target = value_rescale(returns)
    m = mask[:, burn_in:burn_in + L]
    td = target - q
    loss = (0.5 * td.pow(2) * m).sum() / m.sum()
    abs_td = td.detach().abs() * m
    priorities = 0.9 * abs_td.max(1).values + 0.1 * abs_td.sum(1) / m.sum(1).clamp(min=1)
    optimizer.zero_grad()
    loss.backward()
    grad_norm = nn.utils.clip_grad_norm_(q_net.parameters(), 40.0)
    optimizer.step()
    return loss.item(), grad_norm.item(), priorities.tolist()


def main(q_net, target_net, env, episodes, batch_size=4, burn_in=2, learn_len=3, n_step=2, gamma=0.95,
         target_every=2, seed=0):
    random.seed(seed)
    optimizer = optim.Adam(q_net.parameters(), lr=5e-3)
    replay = deque(maxlen=200)
    log = {"actions": [], "losses": [], "grad_norms": [], "priorities": []}
    for i_episode in range(episodes):
        epsilon = max(0.1, 1.0 - i_episode / episodes)
        episode = play_episode(q_net, env, epsilon, seed=seed if i_episode == 0 else None)
        replay.extend(cut_sequences(episode, burn_in, learn_len, n_step, stride=2))
        log["actions"].append(episode["actions"])
        if len(replay) < batch_size:
            continue
        loss, grad_norm, priorities = learn(q_net, target_net, optimizer, random.sample(list(replay), batch_size),
                                            burn_in, n_step, gamma)
        log["losses"].append(loss)
        log["grad_norms"].append(grad_norm)
        log["priorities"].append(priorities)
        if len(log["losses"]) % target_every == 0:
            target_net.load_state_dict(q_net.state_dict())
    return log
'''


RECURRENT_PPO = '''
DTYPE = torch.float32


def layer_init(layer, std=np.sqrt(2), bias_const=0.0):
    torch.nn.init.orthogonal_(layer.weight, std)
    torch.nn.init.constant_(layer.bias, bias_const)
    return layer


class Agent(nn.Module):
    """Flat steps (T * B, obs_dim) of B sequences, their episode-start flags (T * B,) and the LSTM state
    ((1, B, H), (1, B, H)) to actions, log-probabilities, entropies (T * B,) and values (T * B, 1)."""

    def __init__(self, obs_dim, n_actions, hidden=16):
        super().__init__()
        self.encoder = nn.Sequential(layer_init(nn.Linear(obs_dim, hidden)), nn.ReLU())
        self.lstm = nn.LSTM(hidden, hidden)
        for name, param in self.lstm.named_parameters():
            if "bias" in name:
                nn.init.constant_(param, 0)
            elif "weight" in name:
                nn.init.orthogonal_(param, 1.0)
        self.actor = layer_init(nn.Linear(hidden, n_actions), std=0.01)
        self.critic = layer_init(nn.Linear(hidden, 1), std=1)

    def get_states(self, x, lstm_state, done):
        hidden = self.encoder(x)
        batch_size = lstm_state[0].shape[1]
        hidden = hidden.reshape((-1, batch_size, self.lstm.input_size))
        done = done.reshape((-1, batch_size))
        new_hidden = []
        for h, d in zip(hidden, done):
            h, lstm_state = self.lstm(
                h.unsqueeze(0),
                ((1.0 - d).view(1, -1, 1) * lstm_state[0], (1.0 - d).view(1, -1, 1) * lstm_state[1]))
            new_hidden += [h]
        new_hidden = torch.flatten(torch.cat(new_hidden), 0, 1)
        return new_hidden, lstm_state

    def get_value(self, x, lstm_state, done):
        hidden, _ = self.get_states(x, lstm_state, done)
        return self.critic(hidden)

    def get_action_and_value(self, x, lstm_state, done, action=None):
        hidden, lstm_state = self.get_states(x, lstm_state, done)
        logits = self.actor(hidden)
        probs = Categorical(logits=logits)
        if action is None:
            action = probs.sample()
        return action, probs.log_prob(action), probs.entropy(), self.critic(hidden), lstm_state


def make_model(obs_dim=4, n_actions=3):
    return Agent(obs_dim, n_actions)


def main(agent, envs, num_updates, num_steps=8, seq_len=4, seqs_per_batch=3, update_epochs=2, gamma=0.99,
         gae_lambda=0.95, clip_coef=0.2, ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5, seed=1):
    rng = np.random.default_rng(seed)
    optimizer = optim.Adam(agent.parameters(), lr=1e-2, eps=1e-5)
    num_envs, obs_dim, hidden = envs.num_envs, envs.obs_dim, agent.lstm.hidden_size
    obs = torch.zeros((num_steps, num_envs, obs_dim), dtype=DTYPE)
    actions = torch.zeros((num_steps, num_envs))
    logprobs, rewards, dones, values = (torch.zeros((num_steps, num_envs), dtype=DTYPE) for _ in range(4))
    hs = torch.zeros((num_steps, 1, num_envs, hidden), dtype=DTYPE)
    cs = torch.zeros((num_steps, 1, num_envs, hidden), dtype=DTYPE)
    next_obs = torch.as_tensor(envs.reset(seed=seed), dtype=DTYPE)
    next_done = torch.zeros(num_envs, dtype=DTYPE)
    next_lstm_state = (torch.zeros(1, num_envs, hidden, dtype=DTYPE), torch.zeros(1, num_envs, hidden, dtype=DTYPE))
    chunks = [(e, s) for s in range(0, num_steps, seq_len) for e in range(num_envs)]
    log = {"actions": [], "losses": [], "grad_norms": [], "approx_kl": [], "clipfracs": [], "ratio_dev": []}
    for update in range(num_updates):
        for step in range(num_steps):
            obs[step] = next_obs
            dones[step] = next_done
            hs[step] = next_lstm_state[0]
            cs[step] = next_lstm_state[1]
            with torch.no_grad():
                action, logprob, _, value, next_lstm_state = agent.get_action_and_value(
                    next_obs, next_lstm_state, next_done)
                values[step] = value.flatten()
            actions[step] = action
            logprobs[step] = logprob
            next_obs, reward, done = envs.step(action.cpu().numpy())
            rewards[step] = torch.tensor(reward).view(-1)
            next_obs, next_done = torch.as_tensor(next_obs, dtype=DTYPE), torch.as_tensor(done, dtype=DTYPE)
        log["actions"].append(actions.long().tolist())

        with torch.no_grad():   # GAE, backwards through the rollout
            next_value = agent.get_value(next_obs, next_lstm_state, next_done).reshape(1, -1)
            advantages = torch.zeros_like(rewards)
            lastgaelam = 0
            for t in reversed(range(num_steps)):
                if t == num_steps - 1:
                    nextnonterminal = 1.0 - next_done
                    nextvalues = next_value
                else:
                    nextnonterminal = 1.0 - dones[t + 1]
                    nextvalues = values[t + 1]
                delta = rewards[t] + gamma * nextvalues * nextnonterminal - values[t]
                advantages[t] = lastgaelam = delta + gamma * gae_lambda * nextnonterminal * lastgaelam
            returns = advantages + values

        chunk_inds = np.arange(len(chunks))
        for epoch in range(update_epochs):
            rng.shuffle(chunk_inds)
            for start in range(0, len(chunks), seqs_per_batch):
                mb = chunk_inds[start:start + seqs_per_batch]
                env_idx = torch.tensor([chunks[i][0] for i in mb])
                t0 = torch.tensor([chunks[i][1] for i in mb])
                time_idx = t0.unsqueeze(0) + torch.arange(seq_len).unsqueeze(1)    # (seq_len, n_seqs)
                mb_state = (hs[t0, :, env_idx].transpose(0, 1), cs[t0, :, env_idx].transpose(0, 1))
                _, newlogprob, entropy, newvalue, _ = agent.get_action_and_value(
                    obs[time_idx, env_idx].reshape(-1, obs_dim), mb_state, dones[time_idx, env_idx].reshape(-1),
                    actions.long()[time_idx, env_idx].reshape(-1))
                logratio = newlogprob - logprobs[time_idx, env_idx].reshape(-1)
                ratio = logratio.exp()
                with torch.no_grad():
                    log["approx_kl"].append(((ratio - 1) - logratio).mean().item())
                    log["clipfracs"].append(((ratio - 1.0).abs() > clip_coef).float().mean().item())
                    log["ratio_dev"].append((ratio - 1.0).abs().max().item())
                mb_advantages = advantages[time_idx, env_idx].reshape(-1)
                mb_advantages = (mb_advantages - mb_advantages.mean()) / (mb_advantages.std() + 1e-8)
                pg_loss1 = -mb_advantages * ratio
                pg_loss2 = -mb_advantages * torch.clamp(ratio, 1 - clip_coef, 1 + clip_coef)
                pg_loss = torch.max(pg_loss1, pg_loss2).mean()
                v_loss = 0.5 * ((newvalue.view(-1) - returns[time_idx, env_idx].reshape(-1)) ** 2).mean()
                loss = pg_loss - ent_coef * entropy.mean() + v_loss * vf_coef
                optimizer.zero_grad()
                loss.backward()
                log["grad_norms"].append(nn.utils.clip_grad_norm_(agent.parameters(), max_grad_norm).item())
                optimizer.step()
                log["losses"].append(loss.item())
    return log
'''

PROGRAMS = (DRQN, R2D2, RECURRENT_PPO)


class CueMaze:
    """A T-maze: a corridor of ``length`` cells, then a junction. Observations float64 (4,): [cue left, cue right,
    in the corridor, at the junction], the cue shown on the first cell only. Actions: 0 left, 1 right, 2 forward.
    Forward moves along the corridor (-0.01); turning in the corridor or going forward at the junction costs 0.1;
    turning at the junction ends the episode with +1 for the cued side, -1 for the other. ``max_steps`` truncates."""

    def __init__(self, length: int = 3, max_steps: int = 7) -> None:
        self.length, self.max_steps = length, max_steps
        self.action_space = _Discrete(3)
        self.rng = np.random.default_rng(0)
        self.cue = self.pos = self.steps = 0

    def _obs(self) -> np.ndarray:
        obs = np.zeros(4)
        if self.pos == 0:
            obs[self.cue] = 1.0
        obs[2 if self.pos < self.length else 3] = 1.0
        return obs

    def reset(self, seed: int | None = None) -> tuple:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
            self.action_space.rng = np.random.default_rng(seed + 1)
        self.cue, self.pos, self.steps = int(self.rng.integers(2)), 0, 0
        return self._obs(), {}

    def step(self, action: int) -> tuple:
        assert action in (0, 1, 2), action
        self.steps += 1
        terminated = False
        if self.pos < self.length:
            reward = -0.01 if action == 2 else -0.1
            self.pos += action == 2
        elif action == 2:
            reward = -0.1
        else:
            reward, terminated = (1.0 if action == self.cue else -1.0), True
        return self._obs(), reward, terminated, self.steps >= self.max_steps and not terminated, {}


class CueMazes:
    """``num_envs`` CueMazes stepped together with automatic reset: ``step(actions)`` returns the observations
    (num_envs, 4) (a finished maze's first observation of its next episode), rewards (num_envs,) and the flags
    ``terminated or truncated`` (num_envs,) bool."""

    obs_dim = 4

    def __init__(self, num_envs: int = 3) -> None:
        self.num_envs = num_envs
        self.mazes = [CueMaze() for _ in range(num_envs)]

    def reset(self, seed: int) -> np.ndarray:
        return np.stack([maze.reset(seed=seed + i)[0] for i, maze in enumerate(self.mazes)])

    def step(self, actions: np.ndarray) -> tuple:
        observations, rewards, dones = [], [], []
        for maze, action in zip(self.mazes, actions):
            obs, reward, terminated, truncated, _ = maze.step(int(action))
            if terminated or truncated:
                obs, _ = maze.reset()
            observations.append(obs)
            rewards.append(reward)
            dones.append(terminated or truncated)
        return np.stack(observations), np.array(rewards), np.array(dones)


def _shared_uniform(monkeypatch: pytest.MonkeyPatch, torch: Any, seed: int) -> None:
    """``torch.rand`` of both libraries draws, in call order, from one float32 NumPy stream each (same seed)."""
    import minigrad as mg  # noqa: PLC0415

    for lib in (torch, mg):
        rng = np.random.default_rng(seed)

        def rand(*size: Any, rng: np.random.Generator = rng, lib: Any = lib, **kwargs: Any) -> Any:
            shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
            assert not kwargs, kwargs
            return lib.from_numpy(rng.random(shape).astype(np.float32))

        monkeypatch.setattr(lib, "rand", rand)


@pytest.fixture(autouse=True)
def _lean_torch() -> Any:
    """torch on one intra-op thread in each test, restored after (its thread pool only costs on tensors this
    small); torch._dynamo, which torch's first optimizer imports (~1 s once per process), imported as setup."""
    try:
        torch = importlib.import_module("torch")
    except ImportError:   # the tests that need it take the ``torch`` fixture, which skips
        yield
        return
    importlib.import_module("torch._dynamo")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def shared_draws(torch: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same epsilon coins and categorical draws in both runs; Python's ``random`` restored after."""
    import minigrad  # noqa: PLC0415

    state = random.getstate()
    _shared_uniform(monkeypatch, torch, 7)
    for lib in (torch, minigrad):
        _shared_multinomial(monkeypatch, lib, 3)
    yield
    random.setstate(state)


def _twins(source: str, factory: str, float64: bool) -> tuple:
    """Both programs and ``factory``'s model(s) in each, minigrad's loaded with torch's initial weights; with
    ``float64`` the models are ``.double()`` and the programs' DTYPE float64."""
    torch_program, torch_models, mg_program, mg_models, initial = _twin_models(
        source, imports=(TORCH_IMPORTS_RRL, MINIGRAD_IMPORTS_RRL), factory=factory)
    if float64:
        for program in (torch_program, mg_program):
            program["DTYPE"] = program["torch"].float64
        for model in (torch_models if isinstance(torch_models, tuple) else (torch_models,)):
            model.double()
        for model in (mg_models if isinstance(mg_models, tuple) else (mg_models,)):
            model.double()
    return torch_program, torch_models, mg_program, mg_models, initial


def _assert_same_log(log: dict, expected: dict, tol: float) -> None:
    assert log.keys() == expected.keys()
    assert log["actions"] == expected["actions"]
    for key in set(log) - {"actions"}:
        assert len(log[key]) == len(expected[key]) > 0, key
        np.testing.assert_allclose(np.asarray(log[key], dtype=np.float64), np.asarray(expected[key]),
                                   rtol=tol, atol=tol, err_msg=key)


def _assert_same_grads_and_weights(torch_model: Any, mg_model: Any, initial: dict, tol: float,
                                   weight_tol: float | None = None) -> None:
    """The last update's (clipped) gradients and the final weights agree (to ``weight_tol`` if given); the weights
    moved."""
    theirs = dict(torch_model.named_parameters())
    ours = dict(mg_model.named_parameters())
    assert ours.keys() == theirs.keys()
    for name, p in ours.items():
        assert p.grad is not None and p.dtype == p.grad.dtype, name
        np.testing.assert_allclose(p.grad.numpy(), theirs[name].grad.numpy(), rtol=tol, atol=tol, err_msg=name)
    if weight_tol is not None:
        tol = weight_tol
    elif tol >= 1e-6:
        _assert_same_weights(torch_model, mg_model, initial)
        return
    for name, p in ours.items():
        np.testing.assert_allclose(p.detach().numpy(), theirs[name].detach().numpy(), rtol=tol, atol=tol,
                                   err_msg=name)
    assert any(not np.allclose(p.detach().numpy(), initial[n].numpy()) for n, p in ours.items())


def test_the_programs_differ_only_in_their_imports() -> None:
    assert TORCH_IMPORTS_RRL.count("\n") == MINIGRAD_IMPORTS_RRL.count("\n") == 9
    for torch_line, mg_line in zip(TORCH_IMPORTS_RRL.splitlines()[5:], MINIGRAD_IMPORTS_RRL.splitlines()[5:]):
        assert torch_line.replace("torch", "minigrad") == mg_line
    for source in PROGRAMS:
        assert "import" not in source and "minigrad" not in source and "mg." not in source


@pytest.mark.parametrize("float64", [False, True], ids=["float32", "float64"])
def test_drqn(torch: Any, shared_draws: None, float64: bool) -> None:
    """DRQN over whole padded episodes: the same actions, losses and gradient norms per update, the same last
    gradients and final weights, in float32 (1e-5) and float64 (1e-10)."""
    tol = 1e-10 if float64 else 1e-5
    torch_program, (torch_q, torch_target), mg_program, (mg_q, mg_target), initial = _twins(DRQN, "make_models",
                                                                                            float64)
    expected = torch_program["main"](torch_q, torch_target, CueMaze(), 9)
    log = mg_program["main"](mg_q, mg_target, CueMaze(), 9)
    assert len({len(a) for a in log["actions"]}) > 1   # episodes of different lengths: the padding is used
    _assert_same_log(log, expected, tol)
    _assert_same_grads_and_weights(torch_q, mg_q, initial[0], tol)
    for name, p in mg_target.state_dict().items():   # the copies load_state_dict made
        np.testing.assert_allclose(p.numpy(), torch_target.state_dict()[name].numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("float64", [False, True], ids=["float32", "float64"])
def test_r2d2_burn_in_n_step_value_rescaling(torch: Any, shared_draws: None, float64: bool) -> None:
    """R2D2's learner on stored states: the same actions, losses, gradient norms and sequence priorities per
    update, the same last gradients and final weights."""
    tol = 1e-10 if float64 else 1e-5
    torch_program, (torch_q, torch_target), mg_program, (mg_q, mg_target), initial = _twins(R2D2, "make_models",
                                                                                            float64)
    expected = torch_program["main"](torch_q, torch_target, CueMaze(), 7)
    log = mg_program["main"](mg_q, mg_target, CueMaze(), 7)
    assert len(log["losses"]) >= 4
    _assert_same_log(log, expected, tol)
    # float32 weights to 1e-4: Adam (lr 5e-3) makes steps of a size independent of the gradient's, so the few
    # small early gradients of lstm.weight_ih_l0[:, 0] (0 later) carry their float32 rounding into the weights:
    # torch's own float32 run ends 1.5e-5 off the float64 run there (ours 1.3e-5, on the other side) on an AVX512
    # AMD EPYC, 2.8e-5 apart; the float64 case checks the weights to 1e-10
    _assert_same_grads_and_weights(torch_q, mg_q, initial[0], tol, None if float64 else 1e-4)


def test_value_rescaling_round_trip() -> None:
    """h and the closed-form inverse of the R2D2 program are inverses (float64, our engine alone)."""
    mg_program = _program(R2D2, MINIGRAD_IMPORTS_RRL)
    mg = mg_program["torch"]
    x = mg.tensor(np.concatenate([-np.logspace(-3, 3, 13), [0.0], np.logspace(-3, 3, 13)]), dtype=mg.float64)
    h = mg_program["value_rescale"](x)
    assert (h.abs() < x.abs() + 1e-12).all().item()   # it shrinks
    np.testing.assert_allclose(mg_program["inverse_value_rescale"](h).numpy(), x.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("float64", [False, True], ids=["float32", "float64"])
def test_recurrent_ppo(torch: Any, shared_draws: None, float64: bool) -> None:
    """Recurrent PPO: the same sampled actions, losses, gradient norms, KL estimates and clip fractions per
    minibatch, the first minibatch re-creating the rollout's log-probabilities from the stored states (ratio 1),
    the same last gradients and final weights."""
    tol = 1e-10 if float64 else 1e-5
    torch_program, torch_agent, mg_program, mg_agent, initial = _twins(RECURRENT_PPO, "make_model", float64)
    expected = torch_program["main"](torch_agent, CueMazes(), 2, clip_coef=0.02)   # small: the clamp binds
    log = mg_program["main"](mg_agent, CueMazes(), 2, clip_coef=0.02)
    assert max(log["clipfracs"]) > 0
    assert log["ratio_dev"][0] < (1e-12 if float64 else 1e-6)   # the stored (h, c) reproduce the rollout
    assert max(log["ratio_dev"]) > 0.02
    assert len({a for rollout in log["actions"] for row in rollout for a in row}) == 3
    _assert_same_log(log, expected, tol)
    _assert_same_grads_and_weights(torch_agent, mg_agent, initial, tol)
