"""``statfield report`` on a small subset: the folder, results.json, summary.md, PNGs and the PDF."""

import json

import pytest

from statfield._io import write_json
from statfield.report import make_report, paper_rows
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


def test_summary_md_has_z_distribution_and_per_check_table(report):
    res, out = report
    s = (out / "summary.md").read_text()
    z = res.summary["z_distribution"]
    assert z["n"] == res.summary["n_checks"] and 0 < z["max_abs"] < 5
    assert f"mean {z['mean']:+.2f}, sd {z['sd']:.2f}, max |z| {z['max_abs']:.2f}" in s
    assert "## Per check" in s and "| `relu-k-binomial` | samplers | 4 | 0 | 0 |" in s


def test_results_json_has_schema_and_reloads(report):
    from statfield.validation.core import SCHEMA_VERSION, load_results

    res, out = report
    records, doc = load_results(out / "results.json")
    assert doc["schema_version"] == SCHEMA_VERSION
    assert len(records) == len(doc["records"]) and all(r.check in ("relu-k-binomial", "samplers-agree")
                                                        for r in records)
    assert doc["summary"]["checks"]["samplers-agree"]["n"] == 8


def test_report_tex_captions_are_latex_math(report):
    from statfield.validation.core import CHECKS

    _, out = report
    tex = (out / "report.tex").read_text()
    cap = CHECKS["relu-k-binomial"].caption
    assert cap and "$" in cap and cap in tex  # the registered LaTeX caption, not an escaped description
    assert r"\textbackslash" not in tex.split(r"\appendix")[0].split("figures/relu_k_binomial.png")[1][:600]
    assert "z-scores of the" in tex


def test_report_stages_are_separate(tmp_path):
    """build_latex is a pure function of the collected data (no checks run, nothing written)."""
    from statfield.report import ReportData, build_latex, summary_markdown
    from statfield.stats import Estimate
    from statfield.validation.core import compare, summarize

    recs = [compare("x/a", "a", 1.0, Estimate(1.05, 0.1, 10), group="samplers")]
    recs[0].check = "x"
    data = ReportData(out=tmp_path, profile="quick", seed=0, records=recs, summary=summarize(recs),
                      versions={"statfield": "0", "numpy": "0", "sympy": "0", "python": "3"})
    tex = build_latex(data)
    assert r"\documentclass" in tex and "Exact finite-width identities" in tex
    assert not list(tmp_path.iterdir())
    md = summary_markdown(recs, data.summary, {}, {}, 1.0, "quick")
    assert "ALL CHECKS PASSED" in md and "| `x` | samplers | 1 | 0 | 0 | 0.50 |" in md


def test_new_sections_have_sources_and_pull_charts(tmp_path):
    """Each new group gets its title and source paragraph; records without a figure get a pull chart; published
    asymptotics of other groups never enter the SPS17 table."""
    from statfield.report import ReportData, build_latex
    from statfield.report._collect import group_pull_figures
    from statfield.report._latex import GROUP_INTROS, GROUP_TITLES
    from statfield.stats import Estimate
    from statfield.validation.core import compare, summarize

    groups = ("perturbation", "spectra", "training", "jacobians", "student_teacher")
    recs = [compare(f"{g}-x/a", "a", 1.0, Estimate(1.05, 0.1, 10), group=g) for g in groups]
    recs.append(compare("spectra-x/pub", "asymptotic", 1.0, Estimate(1.0, 0.1, 10), group="spectra",
                        kind="published"))
    for r in recs:
        r.check = r.name.split("/")[0]
    assert paper_rows(recs) == []
    data = ReportData(out=tmp_path, profile="quick", seed=0, records=recs, summary=summarize(recs),
                      versions={"statfield": "0", "numpy": "0", "sympy": "0", "python": "3"})
    group_pull_figures(data)
    assert set(data.group_figures) == set(groups)
    assert (tmp_path / "figures" / "pulls_perturbation.png").read_bytes()[:8] == PNG_MAGIC
    tex = build_latex(data)
    for g in groups:
        assert GROUP_TITLES[g] in tex and GROUP_INTROS[g] in tex and f"figures/pulls_{g}.png" in tex
    assert "arXiv:1711.04735" in tex and "arXiv:1710.03667" in tex and "coefficients quoted for SPS17" not in tex
