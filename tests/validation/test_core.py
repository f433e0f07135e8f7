"""The validation registry: z-scores, verdicts, skipped/broken checks, the multiple-comparison summary."""

import math

import pytest

from statfield.stats import Estimate
from statfield.validation import core
from statfield.validation.core import compare, run_checks, summarize


@pytest.fixture
def registry(monkeypatch):
    """A private copy of the registry so that test checks do not leak into the real one."""
    core._load_builtin_checks()
    monkeypatch.setattr(core, "CHECKS", dict(core.CHECKS))
    return core.CHECKS


def test_compare_z_and_verdict():
    r = compare("a", "d", 1.0, Estimate(1.3, 0.1, 100))
    assert r.z == pytest.approx(3.0)
    assert r.passed and r.status == "pass" and not r.failed
    r = compare("a", "d", 1.0, Estimate(1.6, 0.1, 100))
    assert r.z == pytest.approx(6.0) and not r.passed and r.failed
    assert "MC - theory = +0.6" in r.line() and "+6.0 sigma" in r.line()


def test_compare_nonfinite_and_zero_error():
    assert not compare("a", "d", math.nan, Estimate(1.0, 0.1, 10)).passed
    assert not compare("a", "d", 1.0, Estimate(math.inf, 0.1, 10)).passed
    assert compare("a", "d", 2.0, Estimate(2.0, 0.0, 10)).passed
    bad = compare("a", "d", 2.0, Estimate(2.5, 0.0, 10))
    assert not bad.passed and math.isinf(bad.z)
    with pytest.raises(ValueError, match="kind"):
        compare("a", "d", 1.0, Estimate(1.0, 0.1, 10), kind="nonsense")


def test_published_records_never_fail():
    r = compare("p", "published coefficient", 3.0, Estimate(1.0, 0.1, 100), kind="published")
    assert not r.passed and not r.failed and r.status == "excluded"
    s = summarize([r, compare("t", "d", 1.0, Estimate(1.0, 0.1, 10))])
    assert s["n_failed"] == 0 and s["n_checks"] == 1 and s["n_published"] == 1


def test_summary_states_multiple_comparisons():
    recs = [compare(f"t{i}", "d", 0.0, Estimate(0.0, 1.0, 10)) for i in range(10)]
    s = summarize(recs)
    assert s["n_checks"] == 10 and s["threshold"] == 5.0
    assert s["familywise_false_alarm_bound"] == pytest.approx(10 * math.erfc(5 / math.sqrt(2)))
    assert "10 test comparisons" in s["multiple_comparisons"]


def test_run_checks_handles_skips_errors_and_failures(registry, tmp_path):
    @core.register_check("t-ok", "testgroup", "a passing check")
    def ok(profile, seed, outdir):
        return [compare("t-ok/x", "x", 1.0, Estimate(1.0, 0.1, 10))]

    @core.register_check("t-missing", "testgroup", "needs an optional third-party module that is absent")
    def missing(profile, seed, outdir):
        import statfield_optional_dependency_that_is_absent  # noqa: F401

    @core.register_check("t-own-import", "testgroup", "a broken import of statfield's own code")
    def own(profile, seed, outdir):
        import statfield.this_module_does_not_exist  # noqa: F401

    @core.register_check("t-broken", "testgroup", "raises")
    def broken(profile, seed, outdir):
        raise RuntimeError("boom")

    @core.register_check("t-wrong", "testgroup", "a wrong prediction")
    def wrong(profile, seed, outdir):
        return [compare("t-wrong/x", "x", 1.0, Estimate(2.0, 0.01, 10))]

    with pytest.raises(ValueError, match="registered twice"):
        core.register_check("t-ok", "g", "d")(ok)
    seen = []
    recs, s = run_checks(["t-ok", "t-missing", "t-own-import", "t-broken", "t-wrong"], seed=3,
                         outdir=tmp_path / "figs", progress=seen.append)
    assert seen == ["t-ok", "t-missing", "t-own-import", "t-broken", "t-wrong"]
    by = {r.check: r for r in recs}
    assert by["t-ok"].status == "pass" and by["t-ok"].seed == 3 and by["t-ok"].group == "testgroup"
    assert by["t-missing"].skipped and "ModuleNotFoundError" in by["t-missing"].reason
    assert by["t-own-import"].failed and "this_module_does_not_exist" in by["t-own-import"].reason
    assert by["t-broken"].failed and "boom" in by["t-broken"].reason
    assert by["t-wrong"].failed
    assert s["n_failed"] == 3 and s["n_skipped"] == 1 and s["n_checks"] == 4
    assert any("boom" in f for f in s["failures"]) and any("t-wrong" in f or "x:" in f for f in s["failures"])
    assert (tmp_path / "figs").is_dir()
    assert set(s["timings"]) == {"t-ok", "t-missing", "t-own-import", "t-broken", "t-wrong"}


def test_run_checks_rejects_bad_arguments():
    with pytest.raises(ValueError, match="profile"):
        run_checks(["x"], profile="medium")
    with pytest.raises(ValueError, match="unknown check"):
        run_checks(["no-such-check"])


def test_record_to_dict_is_json_safe():
    import json

    r = compare("a", "d", 1.0, Estimate(math.nan, 0.1, 10))
    d = r.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["estimate"] is None and d["status"] == "fail"
