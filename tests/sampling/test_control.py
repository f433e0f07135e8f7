"""Control variates: exact expectations (against exact kernels and the plain estimator), calibrated error bars
over repeated runs (sum of z^2 within chi^2 bounds), a real variance reduction, warnings where no control exists."""

import warnings

import numpy as np
import pytest
from scipy.stats import chi2

import statfield as sf
from statfield.kernels import nngp_kernel
from statfield.sampling.control import control_means
from statfield.sampling.wishart import linear_gram_moments

X3 = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.2], [1.0, 1.0, 1.0]])
R = 100  # repeated runs
ALPHA = 1e-4  # per-statistic false-alarm probability


def _calibration(zs):
    """zs: (R, m) z-scores of m statistics over R independent runs -> assert chi^2 and mean-z bounds."""
    zs = np.asarray(zs)
    r = zs.shape[0]
    lo, hi = chi2.ppf(ALPHA, r), chi2.ppf(1 - ALPHA, r)
    s = (zs ** 2).sum(axis=0)
    assert np.all((s > lo) & (s < hi)), (s, lo, hi)
    assert np.all(np.abs(zs.mean(axis=0)) * np.sqrt(r) < 5)  # no bias


@pytest.mark.parametrize("act, method, depth", [("relu", "preactivation", 2), ("linear", "wishart", 2)])
def test_error_bars_calibrated_over_repeated_runs(act, method, depth):
    """Exact truth: ReLU layer 2 (E gram^2 = E G^2 = the NNGP kernel of layer 2, Sigma^1 being deterministic);
    linear networks at every layer (the iterated kernel)."""
    sw, sb, N = 1.7, 0.1, 6
    if act == "relu":
        truth = nngp_kernel(act, sw, sb, X3, depth)
    else:
        truth = linear_gram_moments(sw, sb, [N] * depth, X3)[0][-1]
    iu = np.triu_indices(3)
    zs = []
    for r in range(R):
        res = sf.simulate(act, sw, sb, N, depth, 160, inputs=X3, method=method, seed=r, block_size=40)
        assert res.parameters["variance_reduction"]
        zg = res["G"][-1].z(truth)
        if act == "linear":  # G^2_aa = sigma_b2 + sigma_w2 gram^1_aa: determined by a control, rounding-level error
            assert np.all(np.abs(np.diag(zg)) < 5) and np.all(np.diag(res["G"][-1].stderr) < 1e-6)
            zs.append(np.concatenate([res["gram"][-1].z(truth)[iu], zg[np.triu_indices(3, 1)]]))
        else:
            zs.append(np.concatenate([res["gram"][-1].z(truth)[iu], zg[iu]]))
    _calibration(zs)


def test_same_expectation_as_plain_estimator_and_smaller_error():
    kw = dict(inputs=X3, seed=5)
    cv = sf.simulate("relu", 2.0, 0.1, 16, 4, 4000, **kw)
    plain = sf.simulate("relu", 2.0, 0.1, 16, 4, 4000, variance_reduction=False, **kw)
    assert not plain.parameters["variance_reduction"] and cv.parameters["variance_reduction"]
    for name in ("gram", "G"):
        # same random numbers: the difference is the control correction, compare with the plain error bar
        assert np.all(np.abs(cv[name].value - plain[name].value) <= 5 * plain[name].stderr + 1e-12)  # + rounding
        assert np.all(cv[name].stderr <= plain[name].stderr * 1.05 + 1e-12)  # + rounding (layer 1 G)
        off = ~np.eye(3, dtype=bool)
        assert np.median(plain[name].stderr[-1][off] / cv[name].stderr[-1][off]) > 2.0
    mu = control_means(sf.get_activation("relu"), 2.0, 0.1, X3, 4)
    diag = np.diagonal(cv["gram"].value, axis1=1, axis2=2)
    se = np.diagonal(cv["gram"].stderr, axis1=1, axis2=2)
    assert np.all(np.abs(diag - mu) < 5 * se)  # the exact diagonal mean of the controls


def test_no_exact_control_warns_and_uses_plain_estimator():
    with pytest.warns(UserWarning, match="variance_reduction: no control"):
        res = sf.simulate("tanh", 1.5, 0.1, 4, 2, 40, inputs=X3, variance_reduction=True, seed=1)
    assert not res.parameters["variance_reduction"]
    plain = sf.simulate("tanh", 1.5, 0.1, 4, 2, 40, inputs=X3, variance_reduction=False, seed=1)
    assert res["gram"] == plain["gram"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the default (None) applies silently where it can
        sf.simulate("tanh", 1.5, 0.1, 4, 2, 40, inputs=X3, seed=1)
    with pytest.warns(UserWarning, match="several inputs"):
        sf.simulate("relu", 1.5, 0.1, 4, 2, 40, variance_reduction=True)
    with pytest.warns(UserWarning, match="cross-fitting needs"):
        assert not sf.simulate("relu", 1.5, 0.1, 4, 2, 3, inputs=X3, variance_reduction=True).parameters[
            "variance_reduction"]
    with pytest.raises(ValueError, match="variance_reduction must be"):
        sf.simulate("relu", 1.5, 0.1, 4, 2, 40, inputs=X3, variance_reduction="yes")


def test_checkpoint_resume_and_threads_give_identical_numbers(tmp_path):
    class Killed(RuntimeError):
        pass

    def kill(ci, done):
        if ci == 1:
            raise Killed

    kw = dict(inputs=X3, seed=2, block_size=10, chunk_size=20)
    ref = sf.simulate("relu", 1.5, 0.1, 8, 3, 100, **kw)
    assert ref.parameters["variance_reduction"]
    ck = tmp_path / "cv.npz"
    with pytest.raises(Killed):
        sf.simulate("relu", 1.5, 0.1, 8, 3, 100, checkpoint=ck, on_chunk=kill, **kw)
    for res in (sf.simulate("relu", 1.5, 0.1, 8, 3, 100, checkpoint=ck, **kw),
                sf.simulate("relu", 1.5, 0.1, 8, 3, 100, workers=2, **kw)):
        for name in ref.names:
            assert res[name] == ref[name], name
