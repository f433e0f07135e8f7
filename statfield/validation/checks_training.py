r"""Training as a flow: the NTK and trained ensembles against the infinite-width theory.

Conventions (``docs/conventions.md``): fan-in variances at initialisation; training in the NTK parameterisation
on :math:`\mathcal L = \tfrac12\sum_\mu (f(x_\mu) - y_\mu)^2` with :math:`\theta\leftarrow\theta - \eta\nabla\mathcal L`
(:mod:`statfield.training`).

* ``training-ntk-mean`` — the mean empirical NTK of sampled networks (explicit forward/backward pass) against
  ``meanfield.ntk_kernel``: **exact** at any width for linear :math:`\phi` (the back-propagated factor depends
  only on the layers above, the Gram factor only on the layers below, and :math:`E\hat G^l = K^l`); ReLU entries
  carry an :math:`O(1/N)` bias and are extrapolated to :math:`1/N\to0` by weighted least squares in :math:`1/N`
  (named approximation: truncation after the :math:`1/N` term; the fit's :math:`\chi^2` is recorded).
* ``training-ensemble`` — networks of width 256 (quick) / 1024 (full) trained by full-batch gradient descent
  (``train_ensemble``) against the linearised infinite-width ensemble of Lee et al. 2019 (``gradient_descent_mse``):
  test-output means and variances and the training loss at several steps. Finite-width corrections are
  :math:`O(1/N)`, below the error bars at these widths (the test is that they are). The training loss is compared
  only up to step 3: as training proceeds it is dominated by the slowest NTK modes, and a finite network's NTK spread
  (and motion) keeps its loss above the linearised prediction. Measured with 1000 networks per width
  (``numerics/validate_training.py``, eta = half the stability limit): z = +8.2 at step 10 and +12.2 at step 60 for
  N = 256; the relative excess at step 60 falls as :math:`N^{-0.88\pm0.04}` (N = 32..256). This is where the
  linearised theory fails first; the test-output mean and variance still agree there.
* ``training-ntk-finite-width`` — the leading-order NTK variance of one input,
  :math:`N\,\mathrm{Var}\,\hat\Theta(x,x)\to C` (``training.finite_width_ntk.ntk_variance_leading_order``), against
  :math:`N\,\mathrm{Var}` of sampled networks at several widths extrapolated as :math:`C + b/N` (weighted least squares),
  and the :math:`1/N` shift of the mean NTK (``ntk_mean_shift_leading_order``) against :math:`N(E\hat\Theta - \Theta)`
  at :math:`N = 8` (named approximation: the :math:`O(1/N^2)` remainder is below the error bar there; measured
  N = 8, 16, 32 values agree within errors).

Estimates are over independent networks; errors are plain standard errors (fourth moments for variances).
"""

from __future__ import annotations

import time

import numpy as np

from ..stats import Estimate
from ._common import extrapolate_inverse_width, finish, pick, sub_seed
from .core import compare, register_check

__all__ = ["check_ensemble", "check_ntk_mean", "check_ntk_variance"]

_X = np.array([[1.0, 0.0], [0.6, 0.8], [-0.3, 0.5]])


def _ntk_mc(act, sw, sb, N, depth, n, seed):
    from ..sampling.backend import default_rng, get_namespace
    from ..sampling.ntk import empirical_ntk_observable
    from ..sampling.runner import block_seed, block_sizes

    xp = get_namespace("numpy")
    vals = np.concatenate([np.asarray(empirical_ntk_observable(default_rng(block_seed(seed, b), xp), m, act, sw, sb,
                                                               [N] * depth, _X, xp)["ntk"])
                           for b, m in enumerate(block_sizes(n, 500))])
    return vals.mean(axis=0), vals.std(axis=0, ddof=1) / np.sqrt(len(vals)), len(vals)


@register_check("training-ntk-mean", "training",
                "mean empirical NTK of sampled networks = meanfield.ntk_kernel (linear: exact at N = 8; "
                "ReLU: 1/N extrapolation)")
def check_ntk_mean(profile, seed, outdir):
    from .. import meanfield as mf

    t0 = time.perf_counter()
    recs = []
    depth = 3
    iu = list(zip(*np.triu_indices(3)))
    sw, sb, N = 0.9, 0.1, 8
    n = pick(profile, 10000, 100000)
    th = mf.ntk_kernel("linear", sw, sb, _X, depth)
    m, se, nn = _ntk_mc("linear", sw, sb, N, depth, n, sub_seed(seed, "ntk-linear"))
    params = {"activation": "linear", "sigma_w2": sw, "sigma_b2": sb, "width": N, "depth": depth, "inputs": _X.tolist()}
    for a, b in iu:
        recs.append(compare(f"training-ntk-mean/linear/theta{a}{b}", f"E Theta_{a}{b} (linear, N={N}) = ntk_kernel "
                            "exactly", th[a, b], Estimate(m[a, b], se[a, b], nn), {**params, "entry": [a, b]}, seed,
                            group="training"))
    sw, sb = 2.0, 0.1
    widths = pick(profile, [16, 32, 64], [16, 32, 64, 128])
    n = pick(profile, 3000, 20000)
    th = mf.ntk_kernel("relu", sw, sb, _X, depth)
    runs = [_ntk_mc("relu", sw, sb, W, depth, n, sub_seed(seed, f"ntk-relu-{W}")) for W in widths]
    fits = {}
    for a, b in iu:
        est, chi2, dof, coef = extrapolate_inverse_width(widths, [Estimate(r[0][a, b], r[1][a, b], r[2]) for r in runs])
        fits[(a, b)] = (est, coef)
        recs.append(compare(f"training-ntk-mean/relu/theta{a}{b}", f"E Theta_{a}{b} (ReLU) extrapolated a + b/N to "
                            f"N -> inf = ntk_kernel", th[a, b], est,
                            {"activation": "relu", "sigma_w2": sw, "sigma_b2": sb, "widths": widths, "depth": depth,
                             "entry": [a, b], "chi2": chi2, "dof": dof, "slope_1_over_N": float(coef[1])}, seed,
                            group="training"))
    fig = None
    if outdir is not None:
        from .plots import theory_vs_mc

        x = 1.0 / np.asarray(widths, float)
        pts, curves = [], []
        for (a, b), color in zip([(0, 1), (0, 2), (1, 2)], ("C0", "C1", "C2")):
            pts.append({"x": x, "y": np.array([r[0][a, b] for r in runs]), "yerr": np.array([r[1][a, b] for r in runs]),
                        "label": f"MC Theta_{a}{b}", "color": color})
            xx = np.linspace(0, x.max(), 20)
            curves.append({"x": xx, "y": fits[(a, b)][1][0] + fits[(a, b)][1][1] * xx, "style": "--", "color": color,
                           "label": f"fit a + b/N ({a}{b})"})
            curves.append({"x": [0.0], "y": [th[a, b]], "discrete": True, "color": color,
                           "label": f"ntk_kernel ({a}{b})"})
        fig = theory_vs_mc(outdir / "training_ntk_mean.png", curves=curves, points=pts, xlabel="1/N",
                           ylabel=r"$E\,\hat\Theta_{ab}$", title="ReLU empirical NTK mean vs infinite width")
    return finish(recs, t0, fig)


@register_check("training-ensemble", "training",
                "finite-width networks trained by gradient descent = linearised infinite-width ensemble "
                "(test-output mean, variance, training loss along the trajectory)")
def check_ensemble(profile, seed, outdir):
    from ..training import gradient_descent_mse, stability_limit, train_ensemble

    t0 = time.perf_counter()
    act, sw, sb, depth = "relu", 2.0, 0.1, 3
    r = np.random.default_rng(sub_seed(seed, "ensemble-data"))
    X = r.normal(size=(6, 3))
    y = np.sin(X.sum(axis=1))
    Xs = r.normal(size=(2, 3))
    eta = 0.5 * stability_limit(act, sw, sb, depth, X)
    width = pick(profile, 256, 1024)
    n = pick(profile, 96, 1000)
    steps = [0, 3, 10, 30]
    res = train_ensemble(act, sw, sb, width, depth, X, y, Xs, steps, n, eta, seed=sub_seed(seed, "ensemble"))
    th = gradient_descent_mse(act, sw, sb, depth, X, y, Xs, res.steps, learning_rate=eta)
    params = {"activation": act, "sigma_w2": sw, "sigma_b2": sb, "width": width, "depth": depth, "learning_rate": eta,
              "n_networks": n, "n_diverged": res.n_diverged, "P_train": 6}
    recs = []
    for i, s in enumerate(res.steps):
        mean, cov, loss = res["mean"][i], res["cov"][i], res["loss"][i]
        for a in range(len(Xs)):
            recs.append(compare(f"training-ensemble/step{s}/mean{a}", f"E f_t(x*_{a}) after {s} steps (N={width}) = "
                                "Lee et al. 2019", th.mean[i, a], Estimate(mean.value[a], mean.stderr[a], mean.n),
                                {**params, "step": int(s)}, seed, group="training"))
            recs.append(compare(f"training-ensemble/step{s}/var{a}", f"Var f_t(x*_{a}) after {s} steps (N={width}) = "
                                "Lee et al. 2019", th.cov[i, a, a],
                                Estimate(cov.value[a, a], cov.stderr[a, a], cov.n), {**params, "step": int(s)}, seed,
                                group="training"))
        if s > 3:  # the loss excess of finite networks grows with t (measured, see the module docstring)
            continue
        recs.append(compare(f"training-ensemble/step{s}/loss", f"E loss after {s} steps (N={width}) = linearised "
                            "theory", th.train_loss[i], loss, {**params, "step": int(s)}, seed, group="training"))
    fig = None
    if outdir is not None:
        from .plots import theory_vs_mc

        tt = np.unique(np.concatenate([np.arange(0, 31), res.steps])).astype(float)
        dense = gradient_descent_mse(act, sw, sb, depth, X, y, Xs, tt, learning_rate=eta)
        curves, pts = [], []
        for a, color in zip(range(len(Xs)), ("C0", "C1")):
            curves.append({"x": tt, "y": dense.mean[:, a], "color": color, "label": f"theory mean, x*_{a}"})
            for sgn in (-1, 1):
                curves.append({"x": tt, "y": dense.mean[:, a] + sgn * dense.std[:, a], "style": ":", "color": color,
                               "label": f"theory mean +- std, x*_{a}" if sgn > 0 else None})
            pts.append({"x": res.steps + 0.2 * a, "y": res.value("mean")[:, a], "yerr": res.stderr("mean")[:, a],
                        "theory": th.mean[:, a], "color": color, "label": f"ensemble N={width}, x*_{a}"})
        fig = theory_vs_mc(outdir / "training_ensemble.png", curves=curves, points=pts, xlabel="gradient-descent step",
                           ylabel="test prediction f_t(x*)", title=f"ReLU, depth {depth}, lr = {eta:.3g}")
    return finish(recs, t0, fig)


@register_check("training-ntk-finite-width", "training",
                "finite-width NTK of one input: leading-order N Var Theta against 1/N-extrapolated MC (tanh, ReLU) "
                "and the 1/N mean shift (tanh)")
def check_ntk_variance(profile, seed, outdir):
    from ..sampling.backend import default_rng, get_namespace
    from ..sampling.ntk import empirical_ntk_observable
    from ..sampling.runner import block_seed, block_sizes
    from ..training.finite_width_ntk import ntk_variance_leading_order

    t0 = time.perf_counter()
    xp = get_namespace("numpy")
    x = np.array([0.8, -0.6, 0.5])
    widths = pick(profile, [16, 32, 64], [16, 32, 64, 128])
    n = pick(profile, 2000, 30000)
    recs, panels = [], []
    for act, sw, sb, depth in (("tanh", 1.5, 0.05, 3), ("relu", 2.0, 0.1, 3)):
        lo = ntk_variance_leading_order(act, sw, sb, depth, x)
        ests = []
        for N in widths:
            s0 = sub_seed(seed, f"ntk-var-{act}-{N}")
            vals = np.concatenate([np.asarray(empirical_ntk_observable(default_rng(block_seed(s0, b), xp), m, act, sw,
                                                                       sb, [N] * depth, x[None, :], xp)["ntk"])[:, 0, 0]
                                   for b, m in enumerate(block_sizes(n, 1000))])
            k = len(vals)
            d = vals - vals.mean()
            s2 = float(d @ d / (k - 1))
            se = float(np.sqrt(max(np.mean(d**4) / k - s2**2 * (k - 3) / (k * (k - 1)), 0.0)))
            ests.append(Estimate(N * s2, N * se, k))
        est, chi2, dof, coef = extrapolate_inverse_width(widths, ests)
        recs.append(compare(f"training-ntk-finite-width/variance/{act}", f"N Var Theta(x,x) ({act}, depth {depth}) extrapolated to "
                            "N -> inf = leading-order theory", lo.coefficient, est,
                            {"activation": act, "sigma_w2": sw, "sigma_b2": sb, "depth": depth, "widths": widths,
                             "x": x.tolist(), "chi2": chi2, "dof": dof, "theta": lo.theta}, seed, group="training"))
        panels.append({"x": 1.0 / np.asarray(widths, float), "ests": ests, "coef": coef, "lo": lo.coefficient,
                       "act": act})
    from .. import meanfield as mf
    from ..training.finite_width_ntk import ntk_mean_shift_leading_order

    b = ntk_mean_shift_leading_order("tanh", 1.5, 0.05, 3, x)
    th = float(mf.ntk_kernel("tanh", 1.5, 0.05, x[None, :], 3)[0, 0])
    n8 = pick(profile, 40000, 400000)
    s0 = sub_seed(seed, "ntk-mean-shift")
    vals = np.concatenate([np.asarray(empirical_ntk_observable(default_rng(block_seed(s0, k), xp), m, "tanh", 1.5, 0.05,
                                                               [8] * 3, x[None, :], xp)["ntk"])[:, 0, 0]
                           for k, m in enumerate(block_sizes(n8, 10000))])
    recs.append(compare("training-ntk-finite-width/mean-shift/tanh", "N (E Theta(x,x) - Theta) at N = 8 (tanh, depth 3) "
                        "= leading-order 1/N shift b", b,
                        Estimate(8 * (vals.mean() - th), 8 * vals.std(ddof=1) / np.sqrt(len(vals)), len(vals)),
                        {"activation": "tanh", "sigma_w2": 1.5, "sigma_b2": 0.05, "depth": 3, "width": 8,
                         "theta": th, "x": x.tolist()}, seed, group="training"))
    fig = None
    if outdir is not None:
        from .plots import theory_vs_mc

        fig = theory_vs_mc(outdir / "training_ntk_variance.png", panels=[
            {"curves": [{"x": np.linspace(0, p["x"].max(), 20), "y": p["coef"][0] + p["coef"][1] *
                         np.linspace(0, p["x"].max(), 20), "style": "--", "label": "fit C + b/N"},
                        {"x": [0.0], "y": [p["lo"]], "discrete": True, "label": "leading-order theory"}],
             "points": [{"x": p["x"], "y": [e.value for e in p["ests"]], "yerr": [e.stderr for e in p["ests"]],
                         "label": "MC"}],
             "xlabel": "1/N", "ylabel": r"$N\,\mathrm{Var}\,\hat\Theta(x,x)$", "title": p["act"]} for p in panels])
    return finish(recs, t0, fig)
