"""The ``statfield`` command line: help, exit codes, JSON output."""

import importlib
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from statfield.cli import build_parser, main
from statfield.stats import Estimate
from statfield.validation import core

SUBCOMMANDS = ("derive", "meanfield", "sample", "validate", "report")


def test_help_of_every_subcommand(capsys):
    for args in ([], *([c] for c in SUBCOMMANDS)):
        with pytest.raises(SystemExit) as exc:
            main([*args, "--help"])
        assert exc.value.code == 0
    out = capsys.readouterr().out
    for c in SUBCOMMANDS:
        assert c in out
    assert "sigma_w2" in out and "--quick" in out and "--json" in out


def test_console_script_runs():
    exe = shutil.which("statfield")
    cmd = [exe] if exe else [sys.executable, "-m", "statfield.cli"]
    proc = subprocess.run([*cmd, "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "derive" in proc.stdout
    proc = subprocess.run([*cmd, "nonsense-command"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2


def test_derive_list(capsys):
    from statfield.symbolic.catalog import DERIVATIONS

    assert main(["derive", "--list"]) == 0
    out = capsys.readouterr().out
    for name in DERIVATIONS:
        assert name in out


def test_derive_unknown_name_fails(tmp_path, capsys):
    assert main(["derive", "no-such-derivation", "--out", str(tmp_path)]) == 2
    assert "unknown derivation" in capsys.readouterr().err


def test_derive_writes_tex(tmp_path, capsys):
    importlib.import_module("statfield.symbolic.action")
    assert main(["derive", "action", "--out", str(tmp_path), "--no-pdf"]) == 0
    tex = (tmp_path / "action.tex").read_text()
    assert r"\documentclass" in tex and r"\end{document}" in tex


def test_meanfield_json(capsys):
    importlib.import_module("statfield.meanfield")
    assert main(["meanfield", "relu", "--sigma-w2", "1.5", "--sigma-b2", "0.1", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["q_star"] == pytest.approx(0.1 / (1 - 0.75), rel=1e-10)
    assert d["chi1"] == pytest.approx(0.75, rel=1e-10)
    assert d["phase"] == "ordered"
    assert d["critical_sigma_w2"] == pytest.approx(2.0, rel=1e-8)
    assert d["xi_q"] == pytest.approx(-1 / __import__("math").log(0.75), rel=1e-8)


def test_meanfield_text_and_missing_fixed_point(capsys):
    importlib.import_module("statfield.meanfield")
    assert main(["meanfield", "tanh", "--sigma-w2", "1.5", "--sigma-b2", "0.05"]) == 0
    out = capsys.readouterr().out
    assert "q*" in out and "chi_1" in out and "phase" in out
    # linear network with sigma_w2 > 1: no finite fixed point -> reported, not a crash
    assert main(["meanfield", "linear", "--sigma-w2", "1.5", "--sigma-b2", "0.1", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["q_star"] is None and "q_star" in d["notes"]


def test_meanfield_bad_input(capsys):
    assert main(["meanfield", "relu", "--sigma-w2", "-1", "--sigma-b2", "0.1"]) == 2
    assert "sigma_w2" in capsys.readouterr().err


def test_sample_json_matches_simulate(capsys):
    import statfield

    args = ["sample", "relu", "--sigma-w2", "1.5", "--sigma-b2", "0.1", "--width", "20", "--depth", "3",
            "--n-samples", "200", "--seed", "7"]
    assert main([*args, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    ref = json.loads(json.dumps(statfield.simulate("relu", 1.5, 0.1, 20, 3, 200, seed=7).to_json()))
    ref.pop("elapsed_s"), d.pop("elapsed_s")
    assert ref == d
    assert main(args) == 0
    assert "layer" in capsys.readouterr().out


def test_sample_bad_input(capsys):
    assert main(["sample", "relu", "--sigma-w2", "1.5", "--sigma-b2", "0.1", "--width", "0", "--depth", "3",
                 "--n-samples", "10"]) == 2
    assert "width" in capsys.readouterr().err


def test_validate_list(capsys):
    assert main(["validate", "--list"]) == 0
    out = capsys.readouterr().out
    assert "relu-k-binomial" in out and "[samplers]" in out


def test_validate_json_and_exit_codes(capsys, tmp_path, monkeypatch):
    assert main(["validate", "relu-k-binomial", "--json", "--no-progress", "--out", str(tmp_path)]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["summary"]["n_failed"] == 0 and d["summary"]["n_checks"] == len(d["records"])
    assert json.loads((tmp_path / "results.json").read_text())["summary"]["n_checks"] == d["summary"]["n_checks"]
    assert (tmp_path / "relu_k_binomial.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # a real PNG, not just a file

    core._load_builtin_checks()
    monkeypatch.setattr(core, "CHECKS", dict(core.CHECKS))

    @core.register_check("cli-wrong", "testgroup", "a deliberately wrong prediction")
    def wrong(profile, seed, outdir):
        return [core.compare("cli-wrong/x", "wrong", 1.0, Estimate(1.5, 0.01, 100))]

    assert main(["validate", "cli-wrong", "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "MC - theory = +0.5" in out
    assert main(["validate", "no-such-check"]) == 2


def test_parser_rejects_two_profiles():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["validate", "--quick", "--full"])


def test_sample_with_inputs_file(tmp_path, capsys):
    """Several inputs from a text file: the Gram matrix per layer, printed and as JSON."""
    import json as _json

    from statfield.cli import main as _main

    X = tmp_path / "X.txt"
    X.write_text("1 0 0\n0.6 0.8 0\n")
    args = ["sample", "erf", "--sigma-w2", "2", "--sigma-b2", "0.05", "--width", "32", "--depth", "2",
            "--n-samples", "50", "--inputs", str(X)]
    assert _main(args) == 0
    out = capsys.readouterr().out
    assert "gram:" in out and "stderr:" in out
    assert _main(args + ["--json"]) == 0
    d = _json.loads(capsys.readouterr().out)
    assert d["parameters"]["inputs"] == [[1.0, 0.0, 0.0], [0.6, 0.8, 0.0]]
    gram1 = np.asarray(d["estimates"]["gram"][0]["value"])
    assert gram1.shape == (2, 2) and np.allclose(gram1, gram1.T)
    bad = tmp_path / "bad.txt"
    bad.write_text("1 nan\n")
    assert _main(args[:-1] + [str(bad)]) == 2
