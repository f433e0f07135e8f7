"""Every ```python block of README.md runs (in order, in one namespace, in a scratch folder)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks():
    text = README.read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_has_the_two_quick_start_commands():
    text = README.read_text(encoding="utf-8")
    assert 'pip install . && statfield report' in text
    assert 'pip install ".[test]" && python -m pytest' in text


def test_readme_snippets_run(tmp_path, monkeypatch):
    blocks = _blocks()
    assert len(blocks) >= 5, "the README's API tour should have runnable python snippets"
    monkeypatch.chdir(tmp_path)
    ns = {"__name__": "__readme__"}
    for i, code in enumerate(blocks):
        try:
            exec(compile(code, f"README.md[python block {i}]", "exec"), ns)
        except Exception as exc:  # pragma: no cover - report which block failed
            pytest.fail(f"README python block {i} failed: {type(exc).__name__}: {exc}\n{code}")
