"""Tracy-Widom laws: the Fredholm-determinant CDF against published high-precision moments."""

import math

import numpy as np
import pytest

from statfield.spectra.tracy_widom import (TW_REFERENCE_MOMENTS, tracy_widom_cdf, tracy_widom_moments,
                                           tracy_widom_pdf, tracy_widom_ppf)


@pytest.mark.parametrize("beta", [1, 2])
def test_moments_match_published_values(beta):
    # Bornemann 2010, Table 4 (13 digits); the quadrature of our CDF reproduces them to ~1e-10
    mean, var = tracy_widom_moments(beta)
    ref_mean, ref_var = TW_REFERENCE_MOMENTS[beta]
    assert mean == pytest.approx(ref_mean, abs=1e-8)
    assert var == pytest.approx(ref_var, abs=1e-8)


def test_quantiles_and_roundtrip():
    # Johnstone 2001, Table 1 (TW1 percentiles, 2 decimals): 0.05 -> -3.18, 0.50 -> -1.27, 0.95 -> 0.98
    q = tracy_widom_ppf([0.05, 0.5, 0.95])
    np.testing.assert_allclose(q, [-3.18, -1.27, 0.98], atol=0.006)
    np.testing.assert_allclose(tracy_widom_cdf(q), [0.05, 0.5, 0.95], atol=1e-10)


def test_cdf_monotone_limits_and_pdf():
    s = np.linspace(-8, 8, 17)
    F = tracy_widom_cdf(s)
    assert np.all(np.diff(F) > 0) and F[0] < 1e-6 and 1 - F[-1] < 1e-6
    # the density is the derivative of the CDF
    h = 0.01
    d = (tracy_widom_cdf(-1.0 + h) - tracy_widom_cdf(-1.0 - h)) / (2 * h)
    assert tracy_widom_pdf(-1.0) == pytest.approx(d, rel=1e-4)
    assert tracy_widom_cdf(40.0) == 1.0 and tracy_widom_cdf(-40.0) == 0.0


def test_bad_input():
    with pytest.raises(ValueError, match="beta"):
        tracy_widom_cdf(0.0, beta=4)
    with pytest.raises(ValueError, match="s must be finite"):
        tracy_widom_cdf(math.nan)
    with pytest.raises(ValueError, match="q must lie in"):
        tracy_widom_ppf(1.0)
