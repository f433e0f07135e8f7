"""Backends: namespaces, each backend's own generator, conversion."""

import numpy as np
import pytest
from scipy import stats

from statfield.sampling.backend import backend_name, default_rng, get_namespace, to_numpy


def test_namespaces():
    assert backend_name(get_namespace("numpy")) == "numpy"
    assert backend_name(get_namespace(np)) == "numpy"
    assert backend_name(get_namespace("array_api_strict")) == "array_api_strict"
    with pytest.raises(ValueError, match="backend must be one of"):
        get_namespace("jax-please")
    with pytest.raises(ValueError, match="backend must be one of"):
        get_namespace(3)


def test_cupy_missing_is_clear():
    try:
        import cupy  # noqa: F401
    except ImportError:
        with pytest.raises(ValueError, match="needs CuPy"):
            get_namespace("cupy")
    else:
        pytest.skip("CuPy installed: the error path cannot be exercised")


def test_seed_validation():
    with pytest.raises(ValueError, match="seed"):
        default_rng(-1)
    with pytest.raises(ValueError, match="seed"):
        default_rng(1.5)


def test_numpy_and_strict_draw_identical_numbers():
    a = default_rng(7, "numpy")
    b = default_rng(7, "array_api_strict")
    np.testing.assert_array_equal(a.standard_normal((3, 4)), to_numpy(b.standard_normal((3, 4))))
    np.testing.assert_array_equal(a.chisquare(np.array([0.0, 2.0, 5.0]), (3,)),
                                  to_numpy(b.chisquare(np.array([0.0, 2.0, 5.0]), (3,))))
    np.testing.assert_array_equal(a.binomial(9, 0.5, (5,)), to_numpy(b.binomial(9, 0.5, (5,))))


def test_same_seed_same_stream_and_seedsequence_accepted():
    ss = np.random.SeedSequence(3, spawn_key=(4,))
    x = default_rng(ss).standard_normal((10,))
    y = default_rng(np.random.SeedSequence(3, spawn_key=(4,))).standard_normal((10,))
    np.testing.assert_array_equal(x, y)
    assert not np.array_equal(x, default_rng(np.random.SeedSequence(3, spawn_key=(5,))).standard_normal((10,)))


def test_chisquare_zero_df_and_moments():
    g = default_rng(11)
    df = np.repeat(np.array([0.0, 1.0, 3.0]), 40000)
    x = g.chisquare(df, df.shape)
    assert np.all(x[:40000] == 0.0)
    for j, k in enumerate((1.0, 3.0)):
        s = x[(j + 1) * 40000:(j + 2) * 40000]
        z = (s.mean() - k) / (s.std(ddof=1) / np.sqrt(s.size))
        assert abs(z) < 5
    with pytest.raises(ValueError, match="df"):
        g.chisquare(np.array([-1.0]), (1,))


def test_binomial_goodness_of_fit():
    n_trials, N = 20000, 6
    k = default_rng(5).binomial(N, 0.5, (n_trials,))
    assert k.dtype == np.float64
    obs = np.bincount(k.astype(int), minlength=N + 1)
    exp = stats.binom.pmf(np.arange(N + 1), N, 0.5) * n_trials
    assert stats.chisquare(obs, exp).pvalue > 1e-3  # stated level 1e-3


def test_to_numpy():
    import array_api_strict as xps

    a = xps.asarray([1.0, 2.0])
    out = to_numpy(a)
    assert isinstance(out, np.ndarray) and out.tolist() == [1.0, 2.0]
    arr = np.arange(3.0)
    assert to_numpy(arr) is arr
