"""The digits reweighting demonstration (needs scikit-learn, the `sklearn` extra, included in `test`)."""

from __future__ import annotations

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn", reason="scikit-learn not installed: pip install 'statfield[sklearn]'")

from statfield.demos.digits import WeightedGaussianMixture, class_reweighting_demo, ess_collapse, load_digits01  # noqa: E402


def test_class_fraction_reaches_the_target_within_errors():
    r = class_reweighting_demo(target_class=2, target_fraction=0.3, n_models=3, n_generated=3000,
                               n_components=20, epochs=8, seed=1)
    assert abs(r.z()) < 5
    assert r.weighted_fraction - r.baseline_fraction > 5 * np.hypot(r.weighted_stderr, r.baseline_stderr)


def test_weighted_em_with_equal_weights_is_unweighted_em():
    X, _ = load_digits01()
    a = WeightedGaussianMixture(5, seed=3).fit(X[:400], None, epochs=2)
    b = WeightedGaussianMixture(5, seed=3).fit(X[:400], np.full(400, 7.0), epochs=2)
    assert np.allclose(a.mu, b.mu) and np.allclose(a.var, b.var) and np.allclose(a.pi, b.pi)


def test_ess_collapses_and_khat_flags_it():
    out = ess_collapse((0.0, 1.0, 4.0, 8.0))
    assert out["ess"][0] == pytest.approx(out["n"])
    assert np.all(np.diff(out["ess"]) < 0)
    assert out["khat"][0] < 0.5 and out["khat"][-1] > 0.7
