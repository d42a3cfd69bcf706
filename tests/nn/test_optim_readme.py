"""The README's "Optimizers and learning-rate schedules" snippet runs as written and prints what it says."""

from __future__ import annotations

import contextlib
import io
import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def test_readme_optimizer_snippet_runs() -> None:
    text = README.read_text()
    section = text[text.index("### Optimizers and learning-rate schedules"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md (optimizers)", "exec"), {})
    assert printed.getvalue().strip() == "[0.0125]"
