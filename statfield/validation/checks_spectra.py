r"""Checks of the weight-matrix spectra (:mod:`statfield.spectra`) against synthetic truth.

* ``spectra-gaussian-baseline`` — the exact finite-size expectations of :func:`statfield.spectra.gaussian_baseline`
  (:math:`E\log_{10}\|W\|_F^2`, :math:`\mathrm{Var}\ln\|W\|_F` from the :math:`\chi^2_{NM}` law;
  :math:`E\frac1M\sum\ln\lambda_i` from the Wishart log-determinant; :math:`E\frac1M\sum\lambda_i^2 = v^2(N+M+1)/N`)
  against Monte Carlo over independent Gaussian matrices, for a tall, a wide (transposed) and a square shape.
* ``spectra-null-network`` — the average log norm :math:`\frac1L\sum_l\log_{10}\|W^l\|_F^2` of random networks
  in statfield's conventions (:math:`W^l\sim N(0,\sigma_w^2/N_{l-1})`) against the sum of the exact per-layer
  expectations; one number per independent network.
* ``spectra-powerlaw-calibration`` — the Clauset–Shalizi–Newman MLE on synthetic power laws with known
  :math:`\alpha` and known :math:`x_{min}`: :math:`E\hat\alpha = 1 + n(\alpha-1)/(n-1)` and
  :math:`\mathrm{Var}\,\hat\alpha = (\alpha-1)^2n^2/((n-1)^2(n-2))` exactly (the sum of the logs is Gamma).
* ``spectra-tracy-widom`` (``kind="published"``) — Johnstone's (2001) :math:`TW_1` approximation of
  :math:`\lambda_{max}`: coverage of its 10/50/90% quantiles. An asymptotic approximation (coverage off by
  ~0.02 at :math:`N = 100, M = 25`), so reported with its z-score, never counted as a failure.
* ``spectra-heavy-tailed-esd`` (``kind="published"``) — the ESD tail exponent of Pareto matrices with tail
  index :math:`\mu = 1`, :math:`\alpha = 1 + \mu/2` (Martin & Mahoney, arXiv:1810.01075), an asymptotic
  statement, reported with its z-score.

Every estimate is a mean over independent matrices/networks/samples (``docs/conventions.md``, Statistics).
"""

from __future__ import annotations

import math
import time
import zlib

import numpy as np

from ._common import finish, mean_estimate, pick
from .core import compare, register_check

__all__ = ["check_gaussian_baseline", "check_null_network", "check_powerlaw_calibration", "check_tracy_widom",
           "check_heavy_tailed_esd"]


def _seq(seed, key):
    return np.random.SeedSequence(int(seed), spawn_key=(zlib.crc32(key.encode()),))


def _esd_batch(W):
    """Eigenvalues of X = W^T W / N for a stack (n, n_rows, n_cols), transposing wide matrices."""
    if W.shape[1] < W.shape[2]:
        W = np.swapaxes(W, 1, 2)
    N = W.shape[1]
    return np.linalg.eigvalsh(np.swapaxes(W, 1, 2) @ W / N)


@register_check("spectra-gaussian-baseline", "spectra",
                "exact finite-size Gaussian baselines (chi^2, Wishart) vs MC over independent matrices")
def check_gaussian_baseline(profile, seed, outdir):
    from ..spectra import gaussian_baseline, gaussian_matrices, mp_pdf

    t0 = time.perf_counter()
    n = pick(profile, 3000, 30000)
    recs, pooled = [], None
    for shape, v in (((30, 12), 0.7), ((12, 30), 0.05), ((16, 16), 2.0)):
        b = gaussian_baseline(*shape, variance=v)
        W = gaussian_matrices(*shape, variance=v, n=n, seed=_seq(seed, f"baseline-{shape}"))
        ev = _esd_batch(W)
        f2 = np.sum(W**2, axis=(1, 2))
        lnf = 0.5 * np.log(f2)
        params = {"n_rows": shape[0], "n_cols": shape[1], "variance": v, "N": b.N, "M": b.M, "n_matrices": n}
        tag = f"{shape[0]}x{shape[1]}"
        recs += [
            compare(f"spectra-gaussian-baseline/{tag}/log10-frobenius-sq", "E log10 ||W||_F^2 = [ln 2v + psi(NM/2)]/ln 10",
                    b.log10_frobenius_sq, mean_estimate(np.log10(f2)), params, seed),
            compare(f"spectra-gaussian-baseline/{tag}/ln-frobenius-var", "Var ln ||W||_F = psi_1(NM/2)/4",
                    b.ln_frobenius_sd**2, mean_estimate((lnf - b.ln_frobenius) ** 2), params, seed),
            compare(f"spectra-gaussian-baseline/{tag}/mean-log-eig",
                    "E (1/M) sum ln lambda_i = ln(2v/N) + (1/M) sum_i psi((N-i+1)/2)",
                    b.mean_log_eig, mean_estimate(np.log(ev).mean(axis=1)), params, seed),
            compare(f"spectra-gaussian-baseline/{tag}/mean-eig-sq", "E (1/M) sum lambda_i^2 = v^2 (N+M+1)/N",
                    b.mean_eig_sq, mean_estimate((ev**2).mean(axis=1)), params, seed),
        ]
        if shape == (30, 12):
            pooled = (ev.reshape(-1), b)
    fig = None
    if outdir is not None:
        from .plots import theory_vs_mc

        ev, b = pooled
        edges = np.linspace(0, ev.max(), 41)
        cnt, _ = np.histogram(ev, edges)
        w = np.diff(edges)
        dens = cnt / (ev.size * w)
        err = np.sqrt(cnt) / (ev.size * w)
        mid = 0.5 * (edges[1:] + edges[:-1])
        xs = np.linspace(1e-6, ev.max(), 400)
        fig = theory_vs_mc(outdir / "spectra_gaussian_esd.png",
                           curves=[{"x": xs, "y": mp_pdf(xs, b.variance, b.ratio), "label": "Marchenko-Pastur (N -> inf)"}],
                           points=[{"x": mid, "y": dens, "yerr": err, "label": f"ESD, {n} Gaussian 30x12 matrices"}],
                           xlabel=r"$\lambda$ of $X = W^TW/N$", ylabel="density",
                           title="finite-size ESD (exact baselines tested on its moments)")
    return finish(recs, t0, fig)


@register_check("spectra-null-network", "spectra",
                "average log10 ||W^l||_F^2 of random networks (W ~ N(0, sigma_w2/fan_in)) vs the exact expectation")
def check_null_network(profile, seed, outdir):
    from ..spectra import network_baselines, random_network_weights

    t0 = time.perf_counter()
    n = pick(profile, 2000, 20000)
    recs, pts = [], []
    for widths, sw2 in (([20, 40, 40, 10], 2.0), ([8, 30, 30, 30, 30], 1.0)):
        base = network_baselines(widths, sw2)
        pred = float(np.mean([b.log10_frobenius_sq for b in base]))
        per_layer = np.array([[math.log10(float(np.sum(w**2))) for w in random_network_weights(widths, sw2, seed=s)]
                              for s in _seq(seed, f"null-{widths}").spawn(n)])
        est = mean_estimate(per_layer.mean(axis=1))
        params = {"widths": widths, "sigma_w2": sw2, "n_networks": n}
        recs.append(compare(f"spectra-null-network/L{len(widths) - 1}-sw{sw2:g}/mean-log10-frobenius-sq",
                            "(1/L) sum_l E log10 ||W^l||_F^2 (chi^2 per layer, fan-in variances)", pred, est,
                            params, seed))
        m, se, _ = mean_estimate(per_layer)
        pts.append((widths, sw2, m, se, [b.log10_frobenius_sq for b in base]))
    fig = None
    if outdir is not None:
        from .plots import theory_vs_mc

        curves, points = [], []
        for i, (widths, sw2, m, se, th) in enumerate(pts):
            x = np.arange(1, len(m) + 1) + 0.08 * i
            curves.append({"x": x, "y": th, "label": f"exact, widths {widths}, sigma_w2 = {sw2:g}",
                           "discrete": True, "color": f"C{i}"})
            points.append({"x": x, "y": m, "yerr": se, "theory": th, "label": f"MC ({n} networks)", "color": f"C{i}"})
        fig = theory_vs_mc(outdir / "spectra_null_network.png", curves=curves, points=points, xlabel="layer l",
                           ylabel=r"$E\log_{10}\|W^l\|_F^2$", title="random-network null: per-layer log norms")
    return finish(recs, t0, fig)


@register_check("spectra-powerlaw-calibration", "spectra",
                "CSN power-law MLE on synthetic data with known alpha: exact mean and variance (known x_min)")
def check_powerlaw_calibration(profile, seed, outdir):
    from ..spectra import fit_powerlaw, pareto_sample

    t0 = time.perf_counter()
    R = pick(profile, 2000, 20000)
    n = 60
    recs, pts = [], []
    for alpha in (1.5, 2.5, 4.0):
        ss = _seq(seed, f"pl-{alpha}").spawn(R)
        a = np.array([fit_powerlaw(pareto_sample(n, alpha, seed=s), xmin=1.0).alpha for s in ss])
        mean = 1 + n * (alpha - 1) / (n - 1)
        var = (alpha - 1) ** 2 * n**2 / ((n - 1) ** 2 * (n - 2))
        params = {"alpha": alpha, "n": n, "xmin": 1.0, "replicates": R}
        recs.append(compare(f"spectra-powerlaw-calibration/alpha{alpha:g}/mean", "E alpha_hat = 1 + n(alpha-1)/(n-1)",
                            mean, mean_estimate(a), params, seed))
        recs.append(compare(f"spectra-powerlaw-calibration/alpha{alpha:g}/var",
                            "Var alpha_hat = (alpha-1)^2 n^2/((n-1)^2 (n-2))", var,
                            mean_estimate((a - mean) ** 2), params, seed))
        e = mean_estimate(a)
        pts.append((alpha, mean, e.value, e.stderr))
    fig = None
    if outdir is not None:
        from .plots import theory_vs_mc

        al = np.array([p[0] for p in pts])
        fig = theory_vs_mc(outdir / "spectra_powerlaw_calibration.png",
                           curves=[{"x": al, "y": [p[1] for p in pts], "label": "exact E alpha_hat (n = 60)",
                                    "discrete": True}],
                           points=[{"x": al, "y": [p[2] for p in pts], "yerr": [p[3] for p in pts],
                                    "theory": [p[1] for p in pts], "label": f"MC, {R} samples each"}],
                           xlabel=r"true $\alpha$", ylabel=r"$E\hat\alpha$", title="CSN MLE calibration (known x_min)")
    return finish(recs, t0, fig)


@register_check("spectra-tracy-widom", "spectra",
                "Johnstone's TW1 approximation of lambda_max (published asymptotics): quantile coverage")
def check_tracy_widom(profile, seed, outdir):
    from ..spectra import gaussian_baseline, gaussian_matrices
    from ..stats import Estimate

    t0 = time.perf_counter()
    n = pick(profile, 2000, 20000)
    N, M, v = 100, 25, 0.5
    b = gaussian_baseline(N, M, v)
    chunks = [gaussian_matrices(N, M, v, n=min(2000, n - k), seed=s)
              for k, s in zip(range(0, n, 2000), _seq(seed, "tw").spawn((n + 1999) // 2000))]
    lam = np.concatenate([_esd_batch(W)[:, -1] for W in chunks])
    params = {"N": N, "M": M, "variance": v, "n_matrices": n, "centering": "Johnstone 2001 (sqrt(N-1) + sqrt(M))^2"}
    recs, pts = [], []
    for q in (0.1, 0.5, 0.9):
        hit = (lam <= b.lambda_max_quantile(q)).astype(float)
        e = Estimate(float(hit.mean()), math.sqrt(q * (1 - q) / n), n)
        recs.append(compare(f"spectra-tracy-widom/coverage-{q:g}", f"P(lambda_max <= TW1 quantile {q:g}) = {q:g}",
                            q, e, params, seed, kind="published"))
        pts.append((q, e.value, e.stderr))
    fig = None
    if outdir is not None:
        from .plots import theory_vs_mc

        qs = np.array([p[0] for p in pts])
        fig = theory_vs_mc(outdir / "spectra_tracy_widom.png",
                           curves=[{"x": qs, "y": qs, "label": "TW1 (Johnstone 2001)", "discrete": True}],
                           points=[{"x": qs, "y": [p[1] for p in pts], "yerr": [p[2] for p in pts], "theory": qs,
                                    "label": f"MC, {n} matrices {N}x{M}"}],
                           xlabel="nominal quantile", ylabel="empirical coverage",
                           title=r"largest eigenvalue of $W^TW/N$")
    return finish(recs, t0, fig)


@register_check("spectra-heavy-tailed-esd", "spectra",
                "ESD tail exponent of Pareto(mu = 1) matrices vs alpha = 1 + mu/2 (published asymptotics)")
def check_heavy_tailed_esd(profile, seed, outdir):
    from ..spectra import esd, esd_tail_alpha, fit_powerlaw, pareto_matrix

    t0 = time.perf_counter()
    R = pick(profile, 12, 60)
    mu, shape = 1.0, (600, 300)
    a = np.array([fit_powerlaw(esd(pareto_matrix(*shape, mu, seed=s))).alpha
                  for s in _seq(seed, "heavy").spawn(R)])
    e = mean_estimate(a)
    params = {"mu": mu, "shape": list(shape), "matrices": R}
    recs = [compare("spectra-heavy-tailed-esd/mu1/alpha", "mean ESD tail alpha of Pareto(mu) matrices = 1 + mu/2",
                    esd_tail_alpha(mu), e, params, seed, kind="published")]
    fig = None
    if outdir is not None:
        from .plots import theory_vs_mc

        fig = theory_vs_mc(outdir / "spectra_heavy_tailed.png",
                           curves=[{"x": [mu], "y": [esd_tail_alpha(mu)], "label": "1 + mu/2", "discrete": True}],
                           points=[{"x": [mu], "y": [e.value], "yerr": [e.stderr], "theory": [esd_tail_alpha(mu)],
                                    "label": f"CSN fit, {R} matrices {shape[0]}x{shape[1]}"}],
                           xlabel=r"tail index $\mu$ of the entries", ylabel=r"ESD tail $\alpha$",
                           title="heavy-tailed random matrices")
    return finish(recs, t0, fig)
