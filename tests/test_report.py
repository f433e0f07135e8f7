"""``statfield report`` on a small subset: the folder, results.json, summary.md, PNGs and the PDF."""

import json

import pytest

from statfield.report import make_report, paper_rows, write_json
from statfield.symbolic.derivation import pdflatex_available

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    res = make_report(out, profile="quick", seed=0, progress=False,
                      checks=["relu-k-binomial", "samplers-agree"], derivations=["action"])
    return res, out


def test_report_folder(report):
    res, out = report
    assert res.ok, res.summary_text
    for f in ("report.tex", "results.json", "summary.md", "derivations/action.tex"):
        assert (out / f).exists(), f
    pngs = sorted((out / "figures").glob("*.png"))
    assert {p.name for p in pngs} >= {"relu_k_binomial.png", "samplers_agree.png"}
    for p in pngs:
        assert p.read_bytes()[:8] == PNG_MAGIC
        import matplotlib.image as mpimg

        img = mpimg.imread(p)
        assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100 and img.std() > 0.01
    tex = (out / "report.tex").read_text()
    assert r"\includegraphics" in tex and "figures/relu_k_binomial.png" in tex
    assert r"\texttt{action} (ok)" in tex  # the derivation is listed with its status (built without error)


def test_results_json(report):
    res, out = report
    d = json.loads((out / "results.json").read_text())
    assert d["complete"] is True and d["ok"] is True
    assert d["summary"]["n_checks"] == len([r for r in d["records"] if r["kind"] == "test"])
    assert d["summary"]["n_failed"] == 0
    assert d["versions"]["numpy"] and d["versions"]["statfield"]
    assert d["derivations"]["action"]["status"] == "ok"
    assert {"validation", "derivations", "latex", "total"} <= set(d["timings"])


def test_summary_md(report):
    res, out = report
    s = (out / "summary.md").read_text()
    assert "ALL CHECKS PASSED" in s and "Multiple comparisons" in s and "| samplers |" in s


@pytest.mark.skipif(not pdflatex_available(), reason="pdflatex not installed: the PDF is not built")
def test_report_pdf(report):
    res, out = report
    pdf = out / "report.pdf"
    assert pdf.exists() and pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 20_000


def test_write_json_is_atomic_and_strict(tmp_path):
    import numpy as np

    p = write_json(tmp_path / "x.json", {"a": np.float64(1.5), "b": float("nan"), "c": np.arange(3)})
    assert json.loads(p.read_text()) == {"a": 1.5, "b": None, "c": [0, 1, 2]}
    assert not list(tmp_path.glob("*.tmp"))


def test_paper_rows_from_published_records():
    from statfield.stats import Estimate
    from statfield.validation.core import compare

    r = compare("paper/x", "published coefficient", 2.0, Estimate(1.0, 0.1, 10), kind="published",
                params={"ours": 1.02, "quantity": "corr(e+, e-)"})
    (row,) = paper_rows([r])
    assert row["z_published"] == pytest.approx(-10.0) and row["z_statfield"] == pytest.approx(-0.2)
    assert "published excluded" in row["verdict"]


def test_report_fails_when_a_check_fails(tmp_path, monkeypatch):
    from statfield.stats import Estimate
    from statfield.validation import core

    core._load_builtin_checks()
    monkeypatch.setattr(core, "CHECKS", dict(core.CHECKS))

    @core.register_check("report-wrong", "testgroup", "a deliberately wrong prediction")
    def wrong(profile, seed, outdir):
        return [core.compare("report-wrong/x", "wrong", 1.0, Estimate(1.5, 0.01, 100))]

    res = make_report(tmp_path, checks=["report-wrong"], derivations=["action"], pdf=False, progress=False)
    assert not res.ok
    assert "FAILURES" in (tmp_path / "summary.md").read_text()
    d = json.loads((tmp_path / "results.json").read_text())
    assert d["ok"] is False and d["summary"]["n_failed"] == 1
