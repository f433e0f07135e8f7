"""The training-* validation checks register and can fail (their passing run is the harness' quick profile)."""

import numpy as np

from statfield import meanfield as mf
from statfield.validation import checks_training as ct
from statfield.validation.core import CHECKS


def test_registered():
    assert {"training-ntk-mean", "training-ensemble", "training-ntk-finite-width"} <= set(CHECKS)


def test_perturbed_ntk_kernel_fails(monkeypatch):
    """A 10% error in ntk_kernel is caught by the linear-network exact identity and the ReLU extrapolation."""
    real = mf.ntk_kernel
    monkeypatch.setattr(mf, "ntk_kernel", lambda *a, **k: 1.10 * np.asarray(real(*a, **k)))
    recs = ct.check_ntk_mean("quick", 0, None)
    failed = [r.name for r in recs if r.failed]
    assert any("/linear/" in n for n in failed) and any("/relu/" in n for n in failed), failed
