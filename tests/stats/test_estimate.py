"""Estimate (shape-generic, exact dict round trip), mean/difference, jackknife, bootstrap, replicas."""

import json
import math

import numpy as np
import pytest

from statfield.stats import (Estimate, HigherMomentAccumulator, MomentAccumulator, bootstrap, difference,
                             jackknife, mean_estimate, replica_mean_variance, zscore)


def test_array_estimate_indexes_iterates_and_z_is_elementwise():
    e = Estimate(np.array([[1.0, 2.0], [3.0, 4.0]]), 0.5, 10)
    assert e.shape == (2, 2) and len(e) == 2 and isinstance(e[1], Estimate)
    assert e[1, 0].value == 3.0 and e[1, 0].stderr == 0.5 and e[1, 0].n == 10
    np.testing.assert_array_equal(e.z(np.ones((2, 2))), [[0.0, 2.0], [4.0, 6.0]])
    assert [x.value.tolist() for x in e] == [[1.0, 2.0], [3.0, 4.0]]
    z = zscore(Estimate([1.0, 2.0], [0.0, 0.0], 3), [1.0, 3.0])
    assert z[0] == 0.0 and z[1] == -math.inf
    with pytest.raises(TypeError):
        len(Estimate(1.0, 0.1, 2))
    assert (2 * Estimate(1.0, 0.1, 4)).stderr == pytest.approx(0.2)


def test_to_dict_from_dict_is_exact_through_json():
    rng = np.random.default_rng(0)
    cases = [Estimate(rng.standard_normal((3, 2)), rng.random((3, 2)), np.array([[5, 6], [7, 8], [9, 10]])),
             Estimate(1 / 3, 1e-17, 12), Estimate([np.nan, np.inf, -np.inf], [np.inf, 0.0, 1.0], 4)]
    for e in cases:
        back = Estimate.from_dict(json.loads(json.dumps(e.to_dict(), allow_nan=False)))
        assert back == e
        assert type(back.n) is type(e.n)
    with pytest.raises(ValueError, match="value"):
        Estimate.from_dict({"mean": 1})


def test_accumulators_return_estimates_of_the_observable_shape(rng=np.random.default_rng(1)):
    x = rng.standard_normal((500, 3))
    for acc in (MomentAccumulator((3,)).update(x), HigherMomentAccumulator((3,)).update(x)):
        m, v = acc.mean_estimate(), acc.variance_estimate()
        assert isinstance(m, Estimate) and m.shape == (3,) and v.shape == (3,) and m.n == 500
        np.testing.assert_allclose(m.value, x.mean(0), rtol=1e-12)
        np.testing.assert_allclose(v.value, x.var(0, ddof=1), rtol=1e-12)
    # the same variance error bar from both accumulators (one formula)
    a, b = MomentAccumulator((3,)).update(x), HigherMomentAccumulator((3,)).update(x)
    np.testing.assert_allclose(a.variance_estimate().stderr, b.variance_estimate().stderr, rtol=1e-10)


def test_mean_difference_jackknife_bootstrap_agree_for_the_mean():
    rng = np.random.default_rng(2)
    x = rng.exponential(2.0, size=4000)
    m = mean_estimate(x)
    jv, js = jackknife(lambda a: a, x, n_groups=len(x))  # delete-one: exactly s/sqrt(n) for the mean
    bs = bootstrap(lambda a: a, x, n_resamples=300, seed=3)
    assert jv == pytest.approx(m.value) and js == pytest.approx(m.stderr, rel=1e-10)  # exact for a linear stat
    assert abs(bs.stderr / m.stderr - 1) < 5 * math.sqrt(1 / (2 * 300))  # bootstrap sd: relative error 1/sqrt(2B)
    d = difference(m, Estimate(2.0, 0.0, 10))
    assert abs(d.z(0.0)) < 5 and d.n == 10
    with pytest.raises(ValueError, match="per_sample"):
        jackknife(lambda a: a, x[:1])


def test_replica_mean_variance_matches_direct_iid():
    rng = np.random.default_rng(4)
    o = rng.normal(1.0, 2.0, size=(3000, 1))  # one "sweep" per replica: plain i.i.d. samples
    mean, var = replica_mean_variance(o, o ** 2)
    assert abs(mean.z(1.0)[0]) < 5 and abs(var.z(4.0)[0]) < 5 and mean.n == 3000
