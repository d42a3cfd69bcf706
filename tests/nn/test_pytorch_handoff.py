"""The README's "Moving up to PyTorch" blocks run as written, and the model continues in PyTorch."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_blocks(title: str) -> list[str]:
    """The ```python blocks of the README section ``## title``."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    section = text[start:end if end != -1 else None]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_readme_handoff_runs_and_pytorch_continues_training(torch, tmp_path, monkeypatch) -> None:
    blocks = readme_blocks("Moving up to PyTorch")
    assert len(blocks) == 2 and "torch_model.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in " \
        "model.state_dict().items()})" in blocks[0]
    monkeypatch.chdir(tmp_path)
    scope: dict = {"__name__": "readme"}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(blocks[0], "README.md", "exec"), scope)   # noqa: S102 - the README's own code
    assert float(printed.getvalue().split(":")[1]) < 1e-5, printed.getvalue()
    model, torch_model, mg = scope["model"], scope["torch_model"], scope["mg"]

    # the second block: a saved checkpoint read by numpy alone gives the same weights
    with torch.no_grad():
        for p in torch_model.parameters():
            p.zero_()
    exec(compile(blocks[1], "README.md", "exec"), scope)   # noqa: S102
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(torch_model.state_dict()[name].numpy(), value.numpy(), err_msg=name)

    # one more training step on each side from the same weights: they stay together
    x = np.random.default_rng(2).standard_normal((4, 5, 8)).astype(np.float32)
    y = np.random.default_rng(3).integers(0, 4, (4, 5))
    nn = scope["nn"]
    optimizer = nn.optim.SGD(model.parameters(), lr=0.5)
    torch_optimizer = torch.optim.SGD(torch_model.parameters(), lr=0.5)
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(mg.tensor(x)).reshape(-1, 4), y.reshape(-1)).backward()
    optimizer.step()
    torch_optimizer.zero_grad()
    torch.nn.functional.cross_entropy(torch_model(torch.from_numpy(x)).reshape(-1, 4),
                                      torch.from_numpy(y).reshape(-1)).backward()
    torch_optimizer.step()
    for name, value in model.state_dict().items():
        np.testing.assert_allclose(value.numpy(), torch_model.state_dict()[name].detach().numpy(), rtol=1e-5,
                                   atol=1e-6, err_msg=name)
