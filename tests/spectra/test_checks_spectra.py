"""The spectra validation checks register, run and draw their figures (the full quick profile runs in
tests/validation once the registry imports statfield.validation.checks_spectra)."""

import math

import statfield.validation.checks_spectra as cs
from statfield.validation.core import CHECKS, _run_one

NAMES = ["spectra-gaussian-baseline", "spectra-null-network", "spectra-powerlaw-calibration", "spectra-tracy-widom",
         "spectra-heavy-tailed-esd"]


def test_checks_are_registered():
    assert cs.__name__ in __import__("sys").modules
    for name in NAMES:
        assert name in CHECKS and CHECKS[name].group == "spectra"


def test_a_check_runs_passes_and_draws(tmp_path):
    recs, _ = _run_one(CHECKS["spectra-heavy-tailed-esd"], "quick", 0, tmp_path)
    assert len(recs) == 1 and recs[0].kind == "published" and not recs[0].skipped
    r = recs[0]
    assert math.isfinite(r.z) and r.stderr > 0 and r.passed, r.line()
    assert r.figure and (tmp_path / r.figure).read_bytes()[:4] == b"\x89PNG"
