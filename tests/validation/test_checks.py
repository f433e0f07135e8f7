"""The built-in checks: the quick profile passes, every check really runs, and the harness can fail.

The quick profile is run once per session (module fixture); the perturbation tests re-run single
checks with a deliberately wrong prediction and assert that the harness reports the failure.
"""

import importlib.util
import json
import math

import pytest

from statfield.validation import core
from statfield.validation.core import available_checks, run_checks

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _module_on_disk(reason: str) -> bool:
    """True when a skip reason names a statfield module that exists (so the skip would be a bug)."""
    for token in reason.replace("'", " ").replace('"', " ").split():
        if token.startswith("statfield.") and importlib.util.find_spec(token.rstrip(".,:)")) is not None:
            return True
    return False


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("quick-profile")
    records, summary = run_checks(profile="quick", seed=0, outdir=out)
    return records, summary, out


@pytest.mark.slow
def test_quick_profile_passes(quick):
    records, summary, _ = quick
    failures = [r.line() for r in records if r.failed]
    assert not failures, "\n".join(failures)
    assert summary["n_failed"] == 0
    assert summary["n_checks"] >= 50
    for r in records:
        if r.skipped:
            assert not _module_on_disk(r.reason), f"{r.name} skipped although its module exists: {r.reason}"
            continue
        assert math.isfinite(r.z) and math.isfinite(r.prediction) and r.stderr > 0, r.line()


@pytest.mark.slow
def test_every_check_ran_and_drew_its_figure(quick):
    records, _, out = quick
    ran = {r.check for r in records if not r.skipped}
    for name in available_checks():
        if name.startswith("import-"):
            pytest.fail(f"a check module failed to import: {name}")
    skipped = {r.check for r in records if r.skipped}
    assert ran | skipped == set(available_checks())
    for r in records:
        if r.skipped or r.group in ("finite_width", "perturbation", "architectures"):
            continue  # these draw no figure of their own; the report draws a pull chart for them
        assert r.figure, f"{r.name} has no figure"
        assert (out / r.figure).read_bytes()[:8] == PNG_MAGIC


@pytest.mark.slow
def test_records_serialise(quick):
    records, summary, _ = quick
    json.dumps({"records": [r.to_dict() for r in records], "summary": summary}, allow_nan=False)


def test_perturbed_mean_field_prediction_fails(monkeypatch):
    """q* and chi_1 of tanh, each off by 1 %, must fail the mean-field check (the harness can fail)."""
    mf = importlib.import_module("statfield.meanfield")
    q_star, chi1 = mf.q_star, mf.chi1
    monkeypatch.setattr(mf, "q_star", lambda *a, **k: 1.01 * q_star(*a, **k))
    monkeypatch.setattr(mf, "chi1", lambda *a, **k: 1.01 * chi1(*a, **k))
    records, summary = run_checks(["meanfield-tanh"], profile="quick", seed=0)
    by = {r.name: r for r in records}
    assert by["meanfield-tanh/q_star"].failed and by["meanfield-tanh/chi1"].failed
    assert summary["n_failed"] == 2
    assert "sigma" in summary["failures"][0] and "relative" in summary["failures"][0]


def test_perturbed_eft_coefficient_fails(monkeypatch):
    """A linear EFT propagator 3 % too large (a wrong coefficient in M(q)) must fail against the networks."""
    eft_mod = importlib.import_module("statfield.symbolic.eft")
    eft = eft_mod.quadratic_eft("linear")
    cls = type(eft)
    orig = cls.correlator

    def wrong(self, m, sigma_w2=None, sigma_b2=None, L=None):
        return 1.03 * orig(self, m, sigma_w2, sigma_b2, L)

    monkeypatch.setattr(cls, "correlator", wrong)
    records, summary = run_checks(["eft-linear-network"], profile="quick", seed=0)
    c0 = [r for r in records if r.name.endswith("C0[eps,eps]")][0]
    assert c0.failed and abs(c0.z) > 5
    assert summary["n_failed"] >= 1


def test_unperturbed_checks_pass_with_another_seed():
    """The same two checks pass with their true predictions (seed 1), so the failures above are the perturbation."""
    importlib.import_module("statfield.meanfield")
    records, summary = run_checks(["meanfield-tanh", "eft-linear-network"], profile="quick", seed=1)
    assert summary["n_failed"] == 0, [r.line() for r in records if r.failed]


def test_builtin_modules_register_checks():
    names = available_checks()
    for expected in ("relu-k-binomial", "samplers-agree", "meanfield-linear-exact", "meanfield-relu-q-star",
                     "meanfield-tanh", "meanfield-c-star", "nngp-kernels", "eft-linear-network",
                     "eft-relu-network", "eft-linear-mcmc", "eft-relu-mcmc", "eft-correlation-length"):
        assert expected in names
    for expected in ("perturbation-cumulants", "perturbation-posterior", "jacobian-moments", "jacobian-log-norm",
                     "initialisation-variance", "student-teacher", "student-teacher-asymptotic"):
        assert expected in names
    groups = {core.CHECKS[n].group for n in names}
    assert {"meanfield", "eft", "samplers", "perturbation", "jacobians", "student_teacher"} <= groups


def test_perturbed_student_teacher_limit_fails(monkeypatch):
    """The Marchenko-Pastur limit 10 % too large must fail against the 1/P-extrapolated simulations."""
    st = importlib.import_module("statfield.student_teacher")
    orig = st.asymptotic_generalization_error
    monkeypatch.setattr(st, "asymptotic_generalization_error", lambda *a, **k: 1.1 * orig(*a, **k))
    records, summary = run_checks(["student-teacher-asymptotic"], profile="quick", seed=0)
    assert summary["n_failed"] == len(records) == 2
    assert all(abs(r.z) > 5 for r in records)
