"""Every script in derivations/ and numerics/ runs with ``--smoke --out <tmp>`` and writes its output."""

import ast
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SMOKE_BUDGET_S = 20
SCRIPTS = sorted(p for d in ("derivations", "numerics") for p in (ROOT / d).glob("*.py") if not p.name.startswith("_"))


def test_scripts_exist():
    assert SCRIPTS, "derivations/ and numerics/ should hold scripts"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_script_conventions(script):
    """Module docstring, argparse with --out and --smoke."""
    src = script.read_text(encoding="utf-8")
    tree = ast.parse(src)
    assert ast.get_docstring(tree), f"{script.name}: missing module docstring"
    assert "argparse" in src and "--out" in src and "--smoke" in src, f"{script.name}: needs argparse --out/--smoke"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_script_smoke(script, tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, MPLBACKEND="Agg")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(script), "--smoke", "--out", str(out)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    dt = time.perf_counter() - t0
    assert proc.returncode == 0, f"{script.name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert out.exists() and any(out.rglob("*")), f"{script.name} wrote nothing into --out"
    if dt > SMOKE_BUDGET_S:  # the scripts convention: --smoke finishes in < 20 s
        warnings.warn(f"{script.parent.name}/{script.name} --smoke took {dt:.0f} s (convention: < {SMOKE_BUDGET_S} s)")
