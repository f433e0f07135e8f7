"""The ``statfield`` command line: help, exit codes, JSON output."""

import importlib
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from statfield import cli
from statfield.cli import build_parser, main
from statfield.stats import Estimate
from statfield.validation import core

SUBCOMMANDS = ("derive", "meanfield", "sample", "validate", "report", "spectra", "ntk", "train")


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
    records, doc = core.load_results(tmp_path / "results.json")
    assert doc["schema_version"] == d["schema_version"] == core.SCHEMA_VERSION
    assert [r.to_dict() for r in records] == d["records"]
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


# --------------------------------------------------------------------------- exit-status promise
def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("statfield: error: ") and "Traceback" not in err
    return lines[0]


def test_unknown_activation_is_bad_input(capsys):
    """Regression: `statfield meanfield nope ...` used to print a table of dashes and exit 0."""
    assert main(["meanfield", "nope", "--sigma-w2", "1", "--sigma-b2", "0.1"]) == 2
    cap = capsys.readouterr()
    assert "nope" in _one_error_line(cap.err) and cap.out == ""
    assert main(["sample", "nope", "--sigma-w2", "1", "--sigma-b2", "0.1", "--width", "4", "--depth", "2",
                 "--n-samples", "10"]) == 2
    assert "nope" in _one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("argv", [["validate", "--seed", "-1"], ["report", "--seed", "-3"],
                                  ["sample", "relu", "--sigma-w2", "1", "--sigma-b2", "0", "--width", "2", "--depth",
                                   "2", "--n-samples", "4", "--seed", "-1"],
                                  ["sample", "relu", "--sigma-w2", "nan", "--sigma-b2", "0", "--width", "2", "--depth",
                                   "2", "--n-samples", "4"],
                                  ["sample", "relu", "--sigma-w2", "1", "--sigma-b2", "0", "--width", "2", "--depth",
                                   "2", "--n-samples", "4", "--workers", "0"]])
def test_bad_option_values_are_usage_errors(argv, capsys):
    """Regression: `validate --seed -1` used to run and be reported as a failed physics check (exit 1)."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "error: argument" in err and "Traceback" not in err


@pytest.mark.parametrize("exc", [OverflowError("q overflows float64 at layer 7"), MemoryError(),
                                 PermissionError(13, "Permission denied", "/ro/ckpt.npz"), TypeError("bad type"),
                                 ValueError("width must be >= 1"), FileNotFoundError(2, "No such file", "x.npy")])
def test_library_errors_exit_2_with_one_line(exc, monkeypatch, capsys):
    import statfield.sampling

    def boom(*a, **k):
        raise exc

    monkeypatch.setattr(statfield.sampling, "simulate", boom)
    argv = ["sample", "relu", "--sigma-w2", "1", "--sigma-b2", "0.1", "--width", "4", "--depth", "2",
            "--n-samples", "10"]
    assert main(argv) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line != "statfield: error: "
    if isinstance(exc, MemoryError):
        assert "out of memory" in line
    with pytest.raises(type(exc)):
        main(["--traceback", *argv])


@pytest.mark.parametrize("exc,code", [(ModuleNotFoundError("No module named 'cupy'", name="cupy"), 2),
                                      (ImportError("cannot import name 'x'", name="statfield.sampling.x"), 3)])
def test_missing_optional_dependency_is_bad_input_but_own_import_is_a_bug(exc, code, monkeypatch, capsys):
    import statfield.sampling

    def boom(*a, **k):
        raise exc

    monkeypatch.setattr(statfield.sampling, "simulate", boom)
    assert main(["sample", "relu", "--sigma-w2", "1", "--sigma-b2", "0.1", "--width", "4", "--depth", "2",
                 "--n-samples", "10", "--backend", "cupy"]) == code
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_internal_error_exits_3_without_traceback(monkeypatch, capsys):
    import statfield.sampling

    def boom(*a, **k):
        raise RuntimeError("a bug")

    monkeypatch.setattr(statfield.sampling, "simulate", boom)
    assert main(["sample", "relu", "--sigma-w2", "1", "--sigma-b2", "0.1", "--width", "4", "--depth", "2",
                 "--n-samples", "10"]) == 3
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: a bug" in err and "Traceback" not in err and "--traceback" in err


@pytest.mark.parametrize("act,sw,sb", [("linear", 1.5, 0.1), ("relu", 2.5, 0.1), ("relu", 1.5, 0.1),
                                       ("tanh", 4.0, 0.1), ("tanh", 1.0, 0.05), ("erf", 1.2, 0.0)])
def test_meanfield_phase_is_meanfield_phase(act, sw, sb, capsys):
    """Regression: the CLI re-implemented the phase rule and said 'chaotic' where mf.phase says 'unbounded'."""
    from statfield import meanfield as mf

    assert main(["meanfield", act, "--sigma-w2", str(sw), "--sigma-b2", str(sb), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["phase"] == mf.phase(act, sw, sb)
    if act == "linear":
        assert d["phase"] == "unbounded"


def test_version(capsys):
    import statfield

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"statfield {statfield.__version__}"


def test_python_dash_m_statfield():
    """`python -m statfield` is the CLI, and a real process shows one error line and exit status 2."""
    proc = subprocess.run([sys.executable, "-m", "statfield", "meanfield", "nope", "--sigma-w2", "1", "--sigma-b2",
                           "0.1"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert _one_error_line(proc.stderr) and proc.stdout == ""


def test_every_option_has_help():
    import argparse

    parser = build_parser()
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)][0]
    missing = []
    for name, sp in [("statfield", parser), *subs.choices.items()]:
        for a in sp._actions:
            if isinstance(a, argparse._SubParsersAction):
                continue
            if not a.help or a.help == argparse.SUPPRESS:
                missing.append(f"{name} {'/'.join(a.option_strings) or a.dest}")
    assert not missing, missing
    assert set(cli.SUBCOMMANDS) == set(subs.choices)


def test_help_does_not_import_subcommands():
    """`statfield --help` lists the subcommands without importing their modules (or SymPy / matplotlib)."""
    code = ("import sys; from statfield.cli import build_parser; build_parser(()).format_help(); "
            "print(sorted(m for m in sys.modules if m.startswith('statfield.cli.') or m.split('.')[0] in "
            "('sympy', 'matplotlib') or m in ('statfield.validation', 'statfield.sampling')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_a_new_subcommand_is_one_table_entry(monkeypatch, capsys):
    """A module with add_parser/run (or other names, as for two subcommands in one module) is one entry."""
    import types

    from statfield import cli

    mod = types.ModuleType("statfield_fake_cli")

    def add_parser(subparsers):
        p = subparsers.add_parser("fake", help="a fake subcommand")
        p.add_argument("--code", type=int, default=0, help="exit status to return")
        return p

    def add_other(subparsers):
        return subparsers.add_parser("fake2", help="another one")

    mod.add_parser, mod.run = add_parser, lambda args: args.code
    mod.add_other, mod.run_other = add_other, lambda args: (print("ran fake2"), 0)[1]
    monkeypatch.setitem(sys.modules, "statfield_fake_cli", mod)
    monkeypatch.setitem(cli.SUBCOMMANDS, "fake", cli.Subcommand("statfield_fake_cli", "a fake subcommand"))
    monkeypatch.setitem(cli.SUBCOMMANDS, "fake2", cli.Subcommand("statfield_fake_cli", "another", add="add_other",
                                                                 run="run_other"))
    assert main(["fake", "--code", "1"]) == 1
    assert main(["fake2"]) == 0 and "ran fake2" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "a fake subcommand" in capsys.readouterr().out


def test_sample_observables_checkpoint_chunks_workers(tmp_path, capsys):
    base = ["sample", "relu", "--sigma-w2", "1.5", "--sigma-b2", "0.1", "--width", "6", "--depth", "3",
            "--n-samples", "300", "--seed", "3", "--json"]
    assert main([*base, "--observables", "q,log_q"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert set(d["estimates"]) == {"q", "log_q"}
    ckpt = tmp_path / "run.npz"
    assert main([*base, "--observables", "q", "--checkpoint", str(ckpt), "--chunk-size", "100",
                 "--workers", "2"]) == 0
    d2 = json.loads(capsys.readouterr().out)
    assert ckpt.exists()
    # chunking, threads and the checkpoint never change the numbers
    assert d2["estimates"]["q"] == d["estimates"]["q"]
    assert main([*base, "--observables", "q", "--checkpoint", str(ckpt), "--chunk-size", "100"]) == 0  # resumed
    assert json.loads(capsys.readouterr().out)["estimates"]["q"] == d["estimates"]["q"]
    assert main([*base, "--observables", "no_such_observable"]) == 2
    assert "no_such_observable" in _one_error_line(capsys.readouterr().err)


def test_report_exit_statuses(monkeypatch, tmp_path, capsys):
    """1 only when a physics check failed; 3 when the report is incomplete (a bug), 0 otherwise."""
    import statfield.report as rep

    def fake(n_failed, ok, errors=()):
        return lambda *a, **k: rep.ReportResult(out=tmp_path, ok=ok, summary={"n_failed": n_failed},
                                                summary_text="summary", errors=list(errors))

    for (n_failed, ok, errors), code in (((0, True, ()), 0), ((2, False, ()), 1),
                                         ((0, False, ["LaTeX (report.tex): ! Undefined control sequence."]), 3)):
        monkeypatch.setattr(rep, "make_report", fake(n_failed, ok, errors))
        assert main(["report", "--out", str(tmp_path), "--no-pdf", "--no-progress"]) == code
    assert "Undefined control sequence" in capsys.readouterr().err


def test_packaging_files_agree():
    """LICENSE (MIT, as in pyproject), CITATION.cff with the package version, py.typed shipped, extras present."""
    import re
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

    import statfield

    root = Path(__file__).resolve().parents[1]
    meta = tomllib.loads((root / "pyproject.toml").read_text())
    assert meta["project"]["license"] == {"text": "MIT"} and "MIT License" in (root / "LICENSE").read_text()
    cff = (root / "CITATION.cff").read_text()
    assert re.search(r'^version: "?([^"\n]+)"?$', cff, re.M).group(1) == statfield.__version__
    assert re.search(r"^cff-version: 1\.2\.0$", cff, re.M) and "arXiv:1710.06570" in cff
    assert (root / "statfield" / "py.typed").exists()
    assert "py.typed" in meta["tool"]["setuptools"]["package-data"]["statfield"]
    extras = meta["project"]["optional-dependencies"]
    assert {"torch", "distributed", "spectra", "sklearn", "arviz", "all", "test", "gpu"} <= set(extras)
    assert not any(req.startswith("cupy") for req in extras["all"])
    names = {re.split(r"[<>=\[]", r)[0] for k in ("torch", "distributed", "spectra", "sklearn", "arviz")
             for r in extras[k]}
    assert names == {re.split(r"[<>=\[]", r)[0] for r in extras["all"]}
    versions = {c.rsplit(" :: ", 1)[1] for c in meta["project"]["classifiers"]
                if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)}
    assert versions == {"3.10", "3.11", "3.12", "3.13"}
    assert "## [0.2.0] - unreleased" in (root / "CHANGELOG.md").read_text()


def test_spectra_subcommand(tmp_path, capsys):
    """`statfield spectra FILE`: metrics as JSON; an unreadable file or a bad option is bad input (2), never 1."""
    rng = np.random.default_rng(0)
    f = tmp_path / "w.npz"
    np.savez(f, layer1=rng.normal(size=(120, 60)) / np.sqrt(60), layer2=rng.normal(size=(60, 40)) / np.sqrt(40))
    assert main(["spectra", str(f), "--json", "--n-boot", "2", "--n-baseline", "1"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert len(d["layers"]) == 2
    assert main(["spectra", str(tmp_path / "missing.npz")]) == 2
    assert _one_error_line(capsys.readouterr().err)
    assert main(["spectra", str(f), "--n-boot", "-1"]) == 2
    assert _one_error_line(capsys.readouterr().err)


def test_ntk_subcommand(capsys):
    from statfield.meanfield import ntk_kernel

    X = [[1.0, 0.0], [0.6, 0.8]]
    assert main(["ntk", "relu", "--sigma-w2", "2", "--sigma-b2", "0.1", "--depth", "3", "--inputs",
                 "1,0;0.6,0.8", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert np.allclose(d["ntk"], ntk_kernel("relu", 2.0, 0.1, X, 3))
    assert main(["ntk", "relu", "--sigma-w2", "2", "--sigma-b2", "0.1", "--depth", "3", "--inputs", "1,a"]) == 2
    assert "inputs" in _one_error_line(capsys.readouterr().err)


def test_train_subcommand(capsys):
    base = ["train", "relu", "--sigma-w2", "2", "--sigma-b2", "0.1", "--depth", "2"]
    assert main([*base, "--synthetic", "6,3,2", "--steps", "0,50,inf", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    loss = d["theory"]["train_loss"]
    assert len(loss) == 3 and loss[-1] < loss[1] < loss[0]
    assert main([*base, "--synthetic", "6,3"]) == 2
    assert "synthetic" in _one_error_line(capsys.readouterr().err)


def test_sample_flags_for_variance_reduction_dtype_residual_and_methods(capsys):
    from statfield.cli import main

    assert main(["sample", "relu", "--sigma-w2", "2", "--sigma-b2", "0.1", "--width", "4", "--depth", "2",
                 "--n-samples", "40", "--method", "wishart", "--no-progress"]) == 2  # Wishart chains: linear only
    capsys.readouterr()
    assert main(["sample", "relu", "--sigma-w2", "1", "--sigma-b2", "0.05", "--width", "8", "--depth", "3",
                 "--n-samples", "50", "--residual", "--json"]) == 0
    assert '"residual": true' in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:  # argparse refuses the choice: usage error, exit status 2
        main(["sample", "relu", "--sigma-w2", "2", "--sigma-b2", "0.1", "--width", "8", "--depth", "2",
              "--n-samples", "40", "--dtype", "float16"])
    assert exc.value.code == 2
    assert main(["sample", "relu", "--sigma-w2", "2", "--sigma-b2", "0.1", "--width", "8", "--depth", "2",
                 "--n-samples", "40", "--variance-reduction", "off", "--dtype", "float32", "--method",
                 "preactivation", "--no-progress"]) == 0
