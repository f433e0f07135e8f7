r"""Jacobians, initialisation schemes and the linear student–teacher model against exact Monte Carlo.

* ``jacobian-moments`` (:func:`statfield.jacobian.jacobian_moments`): the mean squared singular value
  :math:`\frac1N\mathbb E\,\mathrm{tr}\,JJ^\top = \chi_1^L` (Poole et al. 2016; exact at every width for ReLU,
  extrapolated in :math:`1/N` for tanh) and the free-probability relative variance
  :math:`\mathrm{Var}\lambda/(\mathbb E\lambda)^2 = L(\kappa_D + s_W)` (Pennington, Schoenholz & Ganguli 2017,
  arXiv:1711.04735, Eq. 7–11), exact at infinite width only: the per-network moments of sampled Jacobians at
  several widths are fitted in :math:`1/N` and the intercept is compared (named approximation: truncation of the
  :math:`1/N` series at first order; the fit's :math:`\chi^2` is recorded).
* ``jacobian-log-norm`` (:func:`statfield.jacobian.log_jacobian_norm_moments`): the exact finite-width mean and
  variance of :math:`\ln(\|Ju\|^2/\|u\|^2)` of zero-bias ReLU networks (Hanin & Nica 2018, arXiv:1812.05994)
  against forward-mode tangent propagation through sampled networks.
* ``initialisation-variance`` (:func:`statfield.initialisation.variance_propagation`): forward :math:`q^l` and
  backward :math:`g^l` second moments under two schemes with unequal widths (He fan-in with ReLU, exact for the
  mean at any width; Glorot with tanh, mean field, whose :math:`O(1/N)` corrections are below the error bars at
  these widths) against weight-space networks (Schoenholz et al. 2017, arXiv:1611.01232, §4).
* ``student-teacher`` (:mod:`statfield.student_teacher`): the test error of the linear student after gradient
  flow or ridge regression against exact simulation — conditional on the sampled spectra the theory is exact
  (Advani & Saxe, arXiv:1710.03667; Kaplan's notes Eq. 6.0.14); the Marchenko–Pastur limit (notes Eq. 6.0.15) is
  compared with simulations at several sizes :math:`P` (fixed :math:`r = D/P`) extrapolated in :math:`1/P`.

Conventions: ``docs/conventions.md`` (fan-in variances :math:`W\sim N(0,\sigma_w^2/N_{l-1})`,
:math:`b\sim N(0,\sigma_b^2)`); student–teacher inputs have entries :math:`N(0, 1/P)`. Every estimate is a mean
over independent networks / data sets with standard error ``std/sqrt(n)``.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time

import numpy as np

from ..stats import Estimate
from ._common import extrapolate_inverse_width, finish, mean_estimate, pick, sub_seed
from .core import compare, register_check

__all__ = ["check_jacobian_moments", "check_jacobian_log_norm", "check_initialisation", "check_student_teacher",
           "check_student_teacher_asymptotic"]


def _small_blas(fn):
    """Run a check with one BLAS thread when threadpoolctl is installed (otherwise unchanged).

    These checks loop over many small matrices (eigh/QR/SVD of at most 256 x 256); a multi-threaded BLAS spends
    more time synchronising than computing on them (measured on 2 busy cores: 107 s instead of 5 s for
    ``student-teacher-asymptotic``). The numbers do not depend on the thread count beyond rounding.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # optional: without it the check runs with the default thread count
            ctx = contextlib.nullcontext()
        else:
            ctx = threadpool_limits(limits=1, user_api="blas")
        with ctx:
            return fn(*args, **kwargs)

    return wrapper


def _per_network_moments(ev):
    """Per network: mean squared singular value and relative variance of the squared singular values."""
    mean = ev.mean(axis=1)
    return mean, (ev**2).mean(axis=1) / mean**2 - 1


def _fit_panel(widths, ests, coef, theory, label, ylabel, title, order=1):
    x = 1.0 / np.asarray(widths, float)
    xx = np.linspace(0, x.max() * 1.05, 50)
    return {"curves": [{"x": xx, "y": np.polyval(coef[::-1], xx), "label": f"fit, order {order} in 1/N", "style": "--"},
                       {"x": [0], "y": [theory], "label": f"{label} = {theory:.5g}", "style": "s"}],
            "points": [{"x": x, "y": [e.value for e in ests], "yerr": [e.stderr for e in ests],
                        "theory": np.polyval(coef[::-1], x), "label": "MC (per-network moments)"}],
            "pull_label": r"$(\mathrm{MC}-\mathrm{fit})/\sigma$", "xlabel": "$1/N$", "ylabel": ylabel, "title": title}


@register_check("jacobian-moments", "jacobians",
                "input-output Jacobian: mean chi_1^L and free-probability relative variance L(kappa_D + s_W) vs "
                "sampled networks (1/N extrapolation)",
                caption=r"Squared singular values $\lambda$ of the bulk Jacobian $J=\prod_k W^kD^{k-1}$ over $L=4$ "
                        r"layers: the relative variance $\mathrm{Var}\,\lambda/(\mathbb{E}\lambda)^2$ of sampled "
                        r"networks at several widths, fitted in $1/N$, against the free-probability value "
                        r"$L(\kappa_D+s_W)$ (Pennington et al.\ 2017), for Gaussian ReLU and orthogonal $\tanh$ "
                        r"networks; the mean $\chi_1^L$ is compared as well (pulls: residuals of the fit).")
@_small_blas
def check_jacobian_moments(profile, seed, outdir):
    from .. import jacobian as jc
    from ..activations import get_activation

    t0 = time.perf_counter()
    L, burn = 4, 12
    widths = pick(profile, [32, 64, 128], [32, 64, 128, 256])
    cases = [("relu", 2.0, 0.0, "gaussian"), ("tanh", 1.0, 0.05, "orthogonal")]
    recs, panels = [], []
    for act, sw, sb, w in cases:
        th = jc.jacobian_moments(act, sw, sb, L, w)
        means, rels = [], []
        for N in widths:
            n = pick(profile, 48 if N < 128 else 24, 200 if N < 256 else 60)
            ev = jc.sample_jacobian_spectrum(act, sw, sb, N, L, n, w, burn_in=burn,
                                             seed=sub_seed(seed, f"jac-{act}-{w}-{N}"))
            mn, rel = _per_network_moments(ev)
            means.append(mean_estimate(mn))
            rels.append(mean_estimate(rel))
        params = {"activation": act, "sigma_w2": sw, "sigma_b2": sb, "weights": w, "depth": L, "burn_in": burn,
                  "widths": widths}
        rel0, chi2, dof, coef = extrapolate_inverse_width(widths, rels)
        recs.append(compare(f"jacobian-moments/{act}-{w}/relative_variance",
                            f"{act}, {w} weights: Var(lambda)/E(lambda)^2 extrapolated to 1/N -> 0 = L(kappa_D + s_W)",
                            th.relative_variance, rel0, {**params, "fit_chi2": chi2, "fit_dof": dof}, seed))
        if get_activation(act).is_piecewise_linear:
            # E phi'^2 = (a_+^2 + a_-^2)/2 at any q: (1/N) E tr JJ^T = chi_1^L exactly at every width
            for N, e in zip(widths, means):
                recs.append(compare(f"jacobian-moments/{act}-{w}/mean_N{N}",
                                    f"{act}: (1/N) E tr JJ^T = chi_1^L exactly at width {N}", th.mean, e,
                                    {**params, "width": N}, seed))
        else:
            m0, chi2m, dofm, _ = extrapolate_inverse_width(widths, means)
            recs.append(compare(f"jacobian-moments/{act}-{w}/mean", f"{act}: (1/N) E tr JJ^T extrapolated = chi_1^L",
                                th.mean, m0, {**params, "fit_chi2": chi2m, "fit_dof": dofm}, seed))
        panels.append(_fit_panel(widths, rels, coef, th.relative_variance, r"free probability $L(\kappa_D+s_W)$",
                                 r"$\mathrm{Var}\,\lambda/(\mathbb{E}\lambda)^2$",
                                 rf"{act}, {w}, $\sigma_w^2 = {sw}$, $L = {L}$"))
    fig = None
    if outdir is not None:
        from .plots import theory_vs_mc

        fig = theory_vs_mc(outdir / "jacobian_moments.png", panels=panels)
    return finish(recs, t0, fig)


@register_check("jacobian-log-norm", "jacobians",
                "ReLU: exact finite-width mean and variance of ln ||Ju||^2 (Hanin-Nica) vs sampled networks",
                caption=r"Zero-bias ReLU networks ($\sigma_w^2=2$): mean and variance of $\ln(\|Ju\|^2/\|u\|^2)$, a "
                        r"sum of independent layer terms $\ln(2\chi^2_k/N)$, $k\sim\mathrm{Bin}(N,\frac12)$ "
                        r"(Hanin \& Nica 2018), against forward-mode tangent propagation through sampled networks; "
                        r"the variance grows like $L/N$ (log-normal regime).")
@_small_blas
def check_jacobian_log_norm(profile, seed, outdir):
    from .. import jacobian as jc

    t0 = time.perf_counter()
    sw = 2.0
    # (width, depth, networks); the sampler holds one (n, N, N) weight array: at most ~0.4 GB
    cases = pick(profile, [(6, 4, 20000), (24, 8, 20000)], [(6, 4, 100000), (24, 8, 80000), (64, 16, 12000)])
    recs, labels, vals, errs, preds = [], [], [], [], []
    for N, L, n in cases:
        th = jc.log_jacobian_norm_moments("relu", sw, L, N)
        x = jc.sample_log_jacobian_norm("relu", sw, N, L, n, seed=sub_seed(seed, f"logjac-{N}-{L}"))
        x = x[np.isfinite(x)]  # k = 0 in some layer (probability p_dead) gives J u = 0: excluded, as in the law
        params = {"activation": "relu", "sigma_w2": sw, "sigma_b2": 0.0, "width": N, "depth": L,
                  "n_networks": int(x.size), "p_dead": th["p_dead"]}
        m = mean_estimate(x)
        d2 = (x - x.mean()) ** 2
        v = Estimate(float(d2.mean() * x.size / (x.size - 1)), float(d2.std(ddof=1) / math.sqrt(x.size)), x.size)
        recs.append(compare(f"jacobian-log-norm/N{N}-L{L}/mean", f"E ln||Ju||^2 (N={N}, L={L}) = exact law", th["mean"],
                            m, params, seed))
        recs.append(compare(f"jacobian-log-norm/N{N}-L{L}/var", f"Var ln||Ju||^2 (N={N}, L={L}) = exact law", th["var"],
                            v, params, seed))
        for what, e, p in (("mean", m, th["mean"]), ("var", v, th["var"])):
            labels.append(f"{what}, N={N}, L={L}")
            vals.append(e.value - p)
            errs.append(e.stderr)
            preds.append(p)
    fig = None
    if outdir is not None:
        from .plots import theory_vs_mc

        idx = np.arange(len(labels))
        fig = theory_vs_mc(outdir / "jacobian_log_norm.png", panels=[{
            "curves": [{"x": idx, "y": np.zeros(len(idx)), "label": "exact finite-width law", "discrete": True}],
            "points": [{"x": idx, "y": vals, "yerr": errs, "theory": np.zeros(len(idx)), "label": "MC"}],
            "xticklabels": labels, "ylabel": r"MC $-$ theory of $\ln\|Ju\|^2$",
            "title": rf"ReLU, $\sigma_w^2 = {sw}$, $\sigma_b^2 = 0$"}])
    return finish(recs, t0, fig)


_INIT_WIDTHS = [30, 64, 128, 32, 96, 64]


@register_check("initialisation-variance", "jacobians",
                "forward q^l and backward g^l under He fan-in (ReLU) and Glorot (tanh) with unequal widths vs "
                "weight-space networks",
                caption=r"Unequal widths $(30, 64, 128, 32, 96, 64)$: the forward second moment $q^l$ and the "
                        r"backpropagated $g^l=\mathbb{E}|\delta^l|^2/N_l$ of the mean-field recursions "
                        r"$q^l=v_lN_{l-1}\langle\phi^2\rangle+\sigma_b^2$, $g^{l-1}=v_lN_l\langle\phi'^2\rangle g^l$ "
                        r"(He fan-in with ReLU; Glorot with $\tanh$) against weight-space Monte Carlo.")
@_small_blas
def check_initialisation(profile, seed, outdir):
    from .. import initialisation as ini

    t0 = time.perf_counter()
    n = pick(profile, 1500, 3000)  # the sampler keeps every layer's weights: n * sum(N_l N_{l-1}) * 8 bytes
    cases = [("relu", "fan_in", 2.0, 0.0), ("tanh", "glorot", 1.5, 0.1)]
    recs, panels = [], []
    L = len(_INIT_WIDTHS) - 1
    for act, scheme, sw, sb in cases:
        th = ini.variance_propagation(act, _INIT_WIDTHS, scheme, sw, sb)
        q, g = ini.sample_variance_propagation(act, _INIT_WIDTHS, scheme, sw, sb, n_networks=n,
                                               seed=sub_seed(seed, f"init-{act}-{scheme}"))
        params = {"activation": act, "scheme": scheme, "sigma_w2": sw, "sigma_b2": sb, "widths": _INIT_WIDTHS,
                  "n_networks": n}
        qm, qs, _ = mean_estimate(q)
        gm, gs, _ = mean_estimate(g)
        for l in range(L):
            recs.append(compare(f"initialisation-variance/{act}-{scheme}/q{l + 1}",
                                f"{act}, {scheme}: E |z^{l + 1}|^2/N_{l + 1} = variance_propagation q", th.q[l],
                                Estimate(float(qm[l]), float(qs[l]), n), {**params, "layer": l + 1}, seed))
        for l in range(L - 1):  # g^L = 1 by construction
            recs.append(compare(f"initialisation-variance/{act}-{scheme}/g{l + 1}",
                                f"{act}, {scheme}: E |delta^{l + 1}|^2/N_{l + 1} = variance_propagation g", th.g[l],
                                Estimate(float(gm[l]), float(gs[l]), n), {**params, "layer": l + 1}, seed))
        lay = np.arange(1, L + 1)
        panels.append({"curves": [{"x": lay, "y": th.q, "label": "mean field $q^l$", "discrete": True},
                                  {"x": lay, "y": th.g, "label": "mean field $g^l$", "discrete": True}],
                       "points": [{"x": lay - 0.08, "y": qm, "yerr": qs, "theory": th.q, "label": "MC $q^l$"},
                                  {"x": lay + 0.08, "y": gm, "yerr": gs, "theory": th.g, "label": "MC $g^l$"}],
                       "xlabel": "layer l", "ylabel": "second moment", "logy": True,
                       "title": rf"{act}, {scheme.replace('_', '-')}, $\sigma_w^2 = {sw}$, $\sigma_b^2 = {sb}$"})
    fig = None
    if outdir is not None:
        from .plots import theory_vs_mc

        fig = theory_vs_mc(outdir / "initialisation_variance.png", panels=panels)
    return finish(recs, t0, fig)


@register_check("student-teacher", "student_teacher",
                "linear student-teacher: test error after gradient flow / ridge = theory given the sampled spectra "
                "(exact)",
                caption=r"Linear student--teacher model (Advani \& Saxe): the test error after gradient flow for a "
                        r"time $t$ ($P=60$, $D=90$) and after ridge regression ($P=D=50$), exact simulation against "
                        r"$E_{\rm gen}=\frac1P\sum_\alpha[(\sigma_{\bar w}^2+\sigma_{w_0}^2)e^{-2\lambda_\alpha t}"
                        r"+\frac{\sigma_\epsilon^2}{\lambda_\alpha}(1-e^{-\lambda_\alpha t})^2]+\sigma_\epsilon^2$ "
                        r"averaged over the sampled spectra.")
@_small_blas
def check_student_teacher(profile, seed, outdir):
    from .. import student_teacher as st

    t0 = time.perf_counter()
    sw, se, s0 = 1.0, 0.1, 0.2
    n, n_test = pick(profile, 150, 1000), pick(profile, 400, 2000)
    times = np.array([0.5, 2.0, 5.0, 20.0, np.inf])
    ridges = np.array([0.02, 0.1, 0.5, 2.0])
    mt = st.simulate_student_teacher(60, 90, sw, se, s0, t=times, n_samples=n, n_test=n_test,
                                     seed=sub_seed(seed, "st-time"))
    mr = st.simulate_student_teacher(50, 50, sw, se, 0.0, ridge=ridges, n_samples=n, n_test=n_test,
                                     seed=sub_seed(seed, "st-ridge"))
    base = {"sigma_wbar2": sw, "sigma_eps2": se, "n_samples": n, "n_test": n_test}
    recs = []
    for k, tt in enumerate(times):
        recs.append(compare(f"student-teacher/time/t{tt:g}", f"E_gen after gradient flow to t = {tt:g} (P=60, D=90)",
                            mt.theory_given_spectrum[k], mt.errors[k], {**base, "P": 60, "D": 90, "sigma_w02": s0,
                                                                      "t": float(tt)}, seed))
    for k, g in enumerate(ridges):
        recs.append(compare(f"student-teacher/ridge/g{g:g}", f"E_gen of ridge regression, gamma = {g:g} (P=D=50)",
                            mr.theory_given_spectrum[k], mr.errors[k], {**base, "P": 50, "D": 50, "ridge": float(g)},
                            seed))
    fig = None
    if outdir is not None:
        from .plots import theory_vs_mc

        tx = np.where(np.isfinite(times), times, 100.0)  # t = inf drawn at t = 100 (off the fitted scale)
        fig = theory_vs_mc(outdir / "student_teacher.png", panels=[
            {"curves": [{"x": tx, "y": mt.theory_given_spectrum, "label": "theory given the spectra", "discrete": True}],
             "points": [{"x": tx, "y": [e.value for e in mt.errors], "yerr": [e.stderr for e in mt.errors],
                         "theory": mt.theory_given_spectrum, "label": "simulation"}],
             "xlabel": r"training time $t$ ($\infty$ drawn at 100)", "ylabel": r"$E_{\rm gen}$", "logx": True,
             "title": r"gradient flow, $P=60$, $D=90$"},
            {"curves": [{"x": ridges, "y": mr.theory_given_spectrum, "label": "theory given the spectra",
                         "discrete": True}],
             "points": [{"x": ridges, "y": [e.value for e in mr.errors], "yerr": [e.stderr for e in mr.errors],
                         "theory": mr.theory_given_spectrum, "label": "simulation"}],
             "xlabel": r"ridge $\gamma$", "ylabel": r"$E_{\rm gen}$", "logx": True, "title": r"ridge, $P=D=50$"}])
    return finish(recs, t0, fig)


@register_check("student-teacher-asymptotic", "student_teacher",
                "linear student-teacher: simulations at P = 20..80 (r = D/P fixed), extrapolated in 1/P, vs the "
                "Marchenko-Pastur limit",
                caption=r"Linear student--teacher model at fixed $r=D/P=2$: the simulated test error at several "
                        r"sizes $P$, fitted in $1/P$, against the Marchenko--Pastur limit (Kaplan's notes Eq.~6.0.15) "
                        r"at $t=1$ and $t=\infty$, where it is $\sigma_\epsilon^2 r/(r-1)$ (pulls: residuals of the "
                        r"fit).")
@_small_blas
def check_student_teacher_asymptotic(profile, seed, outdir):
    from .. import student_teacher as st

    t0 = time.perf_counter()
    sw, se, s0, r = 1.0, 0.1, 0.2, 2.0
    sizes = pick(profile, [20, 40, 80], [20, 40, 80, 160])
    n, n_test = pick(profile, 400, 2000), pick(profile, 500, 2000)
    times = np.array([1.0, np.inf])
    per = []
    for P in sizes:
        mc = st.simulate_student_teacher(P, int(r * P), sw, se, s0, t=times, n_samples=n, n_test=n_test,
                                         seed=sub_seed(seed, f"st-asym-{P}"))
        per.append(mc.errors)
    params = {"r": r, "sigma_wbar2": sw, "sigma_eps2": se, "sigma_w02": s0, "sizes": sizes, "n_samples": n,
              "n_test": n_test}
    recs, panels = [], []
    for k, tt in enumerate(times):
        ests = [e[k] for e in per]
        e0, chi2, dof, coef = extrapolate_inverse_width(sizes, ests)
        pred = float(st.asymptotic_generalization_error(r, sw, se, s0, t=float(tt)))
        recs.append(compare(f"student-teacher-asymptotic/t{tt:g}",
                            f"E_gen at t = {tt:g} extrapolated to 1/P -> 0 = Marchenko-Pastur limit", pred, e0,
                            {**params, "t": float(tt), "fit_chi2": chi2, "fit_dof": dof}, seed))
        t_tex = r"\infty" if not np.isfinite(tt) else f"{tt:g}"
        panel = _fit_panel(sizes, ests, coef, pred, "Marchenko-Pastur limit", r"$E_{\rm gen}$",
                           rf"$r = {r:g}$, $t = {t_tex}$")
        panel["xlabel"] = "$1/P$"
        panel["curves"][0]["label"] = "fit, order 1 in 1/P"
        panel["points"][0]["label"] = "simulation"
        panels.append(panel)
    fig = None
    if outdir is not None:
        from .plots import theory_vs_mc

        fig = theory_vs_mc(outdir / "student_teacher_asymptotic.png", panels=panels)
    return finish(recs, t0, fig)
