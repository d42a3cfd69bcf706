"""The ```python blocks of README.md, CONTRIBUTING.md and docs/*.md run as written and print what they say.

**Grouping.** The blocks of one ``## `` section (its ``### `` subsections included) run in order in one
namespace, as a reader pastes them into one session: a later block may use names an earlier block of
the same section defined (the ``pack_sequence`` block uses the LSTM block's imports). Each section starts
from an empty namespace, in a fresh temporary working directory (blocks write checkpoints and drawings).

**Markers.** An HTML comment on the line right above a block's fence (invisible on GitHub) says how to run it:

- ``<!-- readme-test: skip REASON -->``: not run here; the reason is shown (a ``tests/...py`` path in it
  must exist: that file runs the block instead);
- ``<!-- readme-test: needs dot|torch|gpu -->``: skipped, saying so, where Graphviz's ``dot``, PyTorch or a
  GPU is missing;
- ``<!-- readme-test: replace OLD with NEW (REASON) -->``: run with the text ``OLD`` (found exactly once)
  replaced by ``NEW``, to shrink an example's size; the reason says why.

Every other block runs as written.

**Checked comments.** Each top-level statement runs on its own, so a failure names its README line, and:

- ``print(...)  # EXPECTED``: what the statement prints must match ``EXPECTED``;
- ``expr  # → EXPECTED``: ``repr(expr)`` must match ``EXPECTED``;
- a statement followed directly by a comment line ``# SomeError: MESSAGE`` (the class's name, or its
  module-qualified name as a traceback prints it; more lines of the message follow as ``#   ...``) must
  raise that exception, with a message that matches ``MESSAGE``; the block then goes on with the next
  statement. Any other exception fails the test.

"Match" means, after every run of whitespace on both sides becomes one space: ``EXPECTED`` is the
comment up to its first ``"; "`` (prose may follow a semicolon; not so in error messages), and it is a
prefix of the printed text ending at a word boundary (so the comment may show only the start of long
output); ``...`` in it matches anything; a number written ``~N`` or ``about N`` matches a printed
number within 10% of N, or, when N is written with an exponent (``~1e-7``), within a factor of ten.
Other comments are prose and are not checked.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
import re
import shutil
import tokenize
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]

MARKER = re.compile(r"^<!--\s*readme-test:\s*(.*?)\s*-->$")
NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
SPECIAL = re.compile(rf"\.\.\.|(?:~|\babout )({NUMBER})")
ERROR_COMMENT = re.compile(r"^#\s*((?:\w+\.)*\w*(?:Error|Exception|Warning|Interrupt)): ?(.*)$")


@dataclass(frozen=True)
class Block:
    """One ```python block: its file, its ``## `` section, the file line of its first code line, its code."""

    path: Path
    section: str
    line: int
    code: str
    markers: tuple[str, ...]


def python_blocks(path: Path) -> list[Block]:
    """The ```python blocks of a Markdown file in order, each with its section and the markers above it."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, section, markers, i = [], "(top)", [], 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            start = i + 1
            i = start
            while i < len(lines) and not lines[i].startswith("```"):
                i += 1
            if line.strip() == "```python":
                blocks.append(Block(path, section, start + 1, "\n".join(lines[start:i]) + "\n", tuple(markers)))
            markers = []
        elif line.startswith("## "):
            section, markers = line[3:].strip(), []
        elif MARKER.match(line.strip()):
            markers.append(MARKER.match(line.strip()).group(1))
        else:
            markers = []
        i += 1
    return blocks


def sections() -> list[tuple[str, list[Block]]]:
    """The blocks grouped by (file, ``## `` section), in file order."""
    grouped: dict[str, list[Block]] = {}
    for path in DOCUMENTS:
        for block in python_blocks(path):
            grouped.setdefault(f"{path.name}: {block.section}", []).append(block)
    return list(grouped.items())


# --- the comment convention -------------------------------------------------------------------------------

def normalise(text: str) -> str:
    """Every run of whitespace as one space, no leading or trailing space."""
    return " ".join(text.split())


def _close(shown: str, target: str) -> bool:
    value, wanted = float(shown), float(target)
    if "e" in target.lower():
        return wanted != 0 and 0.1 <= value / wanted <= 10
    return abs(value - wanted) <= 0.1 * abs(wanted)


def matches(printed: str, expected: str) -> bool:
    """Whether ``printed`` matches the comment text ``expected`` (see the module docstring)."""
    printed, expected = normalise(printed), normalise(expected)
    pattern, targets, position = [], [], 0
    for special in SPECIAL.finditer(expected):
        pattern.append(re.escape(expected[position:special.start()]))
        if special.group(0) == "...":
            pattern.append(".*?")
        else:
            pattern.append(f"({NUMBER})")
            targets.append(special.group(1))
        position = special.end()
    pattern.append(re.escape(expected[position:]))
    found = re.match("".join(pattern) + r"(?=\s|$)", printed, flags=re.S)
    return found is not None and all(_close(shown, target) for shown, target in zip(found.groups(), targets))


def expected_output(comment: str) -> str:
    """The part of a print line's comment that states its output: up to the first "; "."""
    return comment.split("; ", 1)[0]


def error_matches(error: BaseException, name: str, message: str) -> bool:
    """Whether ``error`` is of the class named ``name`` (plain or module-qualified) and says ``message``."""
    cls = type(error)
    return name in (cls.__qualname__, f"{cls.__module__}.{cls.__qualname__}") and matches(str(error), message)


# --- running a block ---------------------------------------------------------------------------------------

def _comments(code: str) -> dict[int, tuple[int, str]]:
    """Block line → (column, text after '#') of the comment on that line."""
    found = {}
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        if token.type == tokenize.COMMENT:
            found[token.start[0]] = (token.start[1], token.string)
    return found


def _expected_error(code_lines: list[str], stmt: ast.stmt) -> tuple[str, str] | None:
    """(class name, message) from the ``# SomeError: ...`` lines right below ``stmt``, if there are any."""
    below = stmt.end_lineno   # 0-based index of the line after the statement
    if below >= len(code_lines):
        return None
    first = ERROR_COMMENT.match(code_lines[below].strip())
    if first is None:
        return None
    message = [first.group(2)]
    for line in code_lines[below + 1:]:
        if not line.startswith("#   "):
            break
        message.append(line[1:])
    return first.group(1), "\n".join(message)


def _is_print(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
            and isinstance(stmt.value.func, ast.Name) and stmt.value.func.id == "print")


def run_block(block: Block, code: str, scope: dict[str, Any]) -> int:
    """Run ``code`` (``block``'s, maybe shrunk) statement by statement in ``scope``; returns the checks made."""
    code_lines, comments = code.splitlines(), _comments(code)
    checks = 0
    for stmt in ast.parse(code).body:
        where = f"{block.path.name}:{block.line + stmt.lineno - 1}"
        column, comment = comments.get(stmt.end_lineno, (-1, ""))
        # a comment after code on the statement's last line is its own (a full-line comment is not)
        trailing = comment[1:].strip() if column > 0 and code_lines[stmt.end_lineno - 1][:column].strip() else ""
        arrow = isinstance(stmt, ast.Expr) and trailing.startswith("→")
        error = _expected_error(code_lines, stmt)
        if arrow:
            tree: ast.AST = ast.Expression(stmt.value)
        else:
            tree = ast.Module(body=[stmt], type_ignores=[])
        ast.increment_lineno(tree, block.line - 1)
        compiled = compile(tree, str(block.path), "eval" if arrow else "exec")
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                value = eval(compiled, scope)   # noqa: S307 - the documentation's own code
        except Exception as raised:
            if error is None:
                raise
            assert error_matches(raised, *error), (
                f"{where}: the comment says\n{error[0]}: {error[1]}\nbut it raised\n"
                f"{type(raised).__module__}.{type(raised).__qualname__}: {raised}")
            checks += 1
            continue
        assert error is None, f"{where}: the comment says it raises {error[0]}, but it ran"
        if _is_print(stmt) and trailing:
            assert matches(printed.getvalue(), expected_output(trailing)), (
                f"{where}: the comment says\n{expected_output(trailing)}\nbut it printed\n{printed.getvalue()}")
            checks += 1
        if arrow:
            wanted = expected_output(trailing[1:].strip())
            assert matches(repr(value), wanted), f"{where}: the comment says\n{wanted}\nbut the value is\n{value!r}"
            checks += 1
    return checks


def _needs(what: str) -> str | None:
    """Why a block marked ``needs WHAT`` cannot run here, or None when it can."""
    if what == "dot":
        return None if shutil.which("dot") else "needs Graphviz's dot (apt-get install graphviz)"
    if what == "torch":
        return None if importlib.util.find_spec("torch") else "needs PyTorch"
    if what == "gpu":
        import minigrad as mg

        return None if mg.cuda.is_available() else "needs a CUDA GPU"
    raise AssertionError(f"unknown readme-test requirement {what!r}")


def prepared(block: Block) -> tuple[str | None, str]:
    """(why the block is skipped or None, its code after any ``replace`` markers)."""
    code = block.code
    for marker in block.markers:
        verb, _, rest = marker.partition(" ")
        if verb == "skip":
            return f"{block.path.name}:{block.line}: {rest}", code
        if verb == "needs":
            reason = _needs(rest.strip())
            if reason:
                return f"{block.path.name}:{block.line}: {reason}", code
        elif verb == "replace":
            old, new = re.match(r"(\S+) with (\S+)", rest).groups()
            assert code.count(old) == 1, f"{block.path.name}:{block.line}: {old!r} is not in the block once"
            code = code.replace(old, new)
        else:
            raise AssertionError(f"{block.path.name}:{block.line}: unknown marker {marker!r}")
    return None, code


SECTIONS = sections()


@pytest.mark.parametrize("blocks", [blocks for _, blocks in SECTIONS], ids=[name for name, _ in SECTIONS])
def test_section_runs_and_prints_what_it_says(blocks: list[Block], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    scope: dict[str, Any] = {"__name__": "__readme__"}
    skipped = []
    with warnings.catch_warnings():
        # the exploding-gradient example overflows on purpose, and says NumPy warns of it
        warnings.filterwarnings("ignore", "overflow encountered", RuntimeWarning)
        for block in blocks:
            reason, code = prepared(block)
            if reason:
                skipped.append(reason)
                continue
            run_block(block, code, scope)
    if len(skipped) == len(blocks):
        pytest.skip("; ".join(skipped))


def test_every_block_is_found_and_every_marker_is_understood() -> None:
    blocks = [block for _, section in SECTIONS for block in section]
    assert len(blocks) >= 13, [f"{b.path.name}:{b.line}" for b in blocks]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.count("```python") == sum(b.path.name == "README.md" for b in blocks)
    assert readme.count("readme-test:") == sum(len(b.markers) for b in blocks if b.path.name == "README.md"), \
        "a readme-test marker is not directly above a ```python fence"
    for block in blocks:
        for marker in block.markers:
            verb, _, rest = marker.partition(" ")
            assert verb in ("skip", "needs", "replace"), marker
            if verb == "skip":   # a block skipped here is run elsewhere, and says where
                paths = re.findall(r"tests/\S+\.py", rest)
                assert paths and all((ROOT / p).exists() for p in paths), marker
            if verb == "needs":
                assert rest in ("dot", "torch", "gpu"), marker
            if verb == "replace":
                assert re.fullmatch(r"\S+ with \S+ \(.+\)", rest), f"say why: {marker}"


@pytest.mark.parametrize(("printed", "comment", "ok"), [
    ("tensor([1, 0])\n", "tensor([1, 0])", True),
    ("(4, 10, 32)   (4, 4, 16)\n", "(4, 10, 32) (4, 4, 16)", True),        # whitespace is normalised
    ("tensor([1, 0])", "tensor([1, 1])", False),
    ("(3, 20)", "(3, 2", False),                                            # a prefix ends at a word boundary
    ("2 6 and more", "2 6", True),                                          # ... but may be a prefix
    ("2 60", "2 6", False),
    ("loss 0.210  accuracy 98.0%", "loss ~0.21 accuracy ~98%", True),
    ("loss 0.310  accuracy 98.0%", "loss ~0.21 accuracy ~98%", False),
    ("largest difference: 2.4e-07", "largest difference: ~1e-7", True),
    ("largest difference: 2.4e-05", "largest difference: ~1e-7", False),
    ("takes 0.16 s", "takes about 0.15 s", True),
    ("min=2.081e+35 max=2.644e+35 non-finite=0", "min=... max=... non-finite=0", True),
    ("min=2.081e+35 max=2.644e+35 non-finite=1", "min=... max=... non-finite=0", False),
])
def test_the_comment_convention(printed: str, comment: str, ok: bool) -> None:
    assert matches(printed, comment) is ok


def test_prose_after_a_semicolon_is_not_compared() -> None:
    assert expected_output("(3, 2); swaps two dims, also on 2-D") == "(3, 2)"
    assert error_matches(ValueError("LSTM: expected (6, 2, 4)"), "ValueError", "LSTM: expected (6, 2, 4)")
    assert not error_matches(TypeError("LSTM: expected"), "ValueError", "LSTM: expected")
