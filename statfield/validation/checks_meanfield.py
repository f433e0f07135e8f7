r"""Mean-field theory (Poole et al. 2016, arXiv:1606.05340; Schoenholz et al. 2017, arXiv:1611.01232)
against Monte Carlo **means** of finite networks.

Conventions: :math:`W^l_{ij}\sim N(0,\sigma_w^2/N)` (fan-in), :math:`b^l_i\sim N(0,\sigma_b^2)`,
:math:`q^l = |z^l|^2/N`, :math:`K^1 = \sigma_b^2 + \sigma_w^2 x\cdot x'/d_{in}`; layer :math:`l` of the MC is
:math:`K^{(l)}` of the theory (``nngp_kernel(..., depth=l)``).

What is exact and what is extrapolated (``docs/conventions.md``, sections *Order parameters and fields*
and *Statistics*):

* linear and ReLU: :math:`\mathbb E q^l = \sigma_w^2\,\mathbb E\,\phi^2\text{-term} + \sigma_b^2` is linear in
  :math:`\mathbb E q^{l-1}` (:math:`\mathbb E u^{l-1} = \mathbb E q^{l-1}/2` for ReLU by symmetry), so the
  iterated mean-field q-map gives the **exact** mean at every width — tested at :math:`N = 5, 6`, where the
  saddle (mode) is far from the mean. Likewise the linear NNGP kernel is the exact mean Gram matrix.
* non-linear maps (tanh q*, χ₁, c*; ReLU and erf NNGP kernels): finite networks are biased by
  :math:`O(1/N)` (Jensen), amplified by :math:`1/(1-\chi_c)` for c* in the chaotic phase. The MC values
  at several widths are extrapolated to :math:`1/N\to 0` by weighted least squares in :math:`1/N`
  (named approximation: truncation of the :math:`1/N` series at the stated order; the fit's
  :math:`\chi^2` is recorded), and the intercept is compared with the theory.

Estimators: one number per independent network (bulk-layer averages are taken within a network),
so standard errors across networks are honest; the bulk starts after a burn-in of many depth scales.
"""

from __future__ import annotations

import time

import numpy as np

from ._common import (finish, bulk_mean_per_network, collective_chains, extrapolate_inverse_width, mean_estimate, pick,
                      preactivation_layers, rng_for, sub_seed)
from ..stats import Estimate
from .core import compare, register_check

__all__ = ["check_linear_exact", "check_relu_q_star", "check_tanh_fixed_point", "check_c_star", "check_nngp"]


def _iterate_qmap(mf, act, sw2, sb2, K1, depth):
    """Mean-field E q^l, l = 1..depth: q^1 = K^1, q^{l+1} = qmap(q^l)."""
    out = [float(K1)]
    for _ in range(depth - 1):
        out.append(float(mf.qmap(act, sw2, sb2, out[-1])))
    return np.array(out)


@register_check("meanfield-linear-exact", "meanfield",
                "linear: E q^l from the iterated q-map is exact at width N = 5 (collective and weight-space MC)",
                caption=r"Linear networks of width $N=5$: the iterated mean-field map "
                        r"$q^{l+1}=\sigma_w^2 q^l+\sigma_b^2$ "
                        r"gives $\mathbb{E}\,q^l$ exactly at every width (collective and weight-space Monte Carlo; "
                        r"pulls $(\mathrm{MC}-\mathrm{theory})/\sigma$ below).")
def check_linear_exact(profile, seed, outdir):
    import statfield
    from .. import meanfield as mf

    t0 = time.perf_counter()
    sw2, sb2, N, depth = 0.8, 0.3, 5, 12
    K1 = sb2 + sw2 * 1.0  # default input x = (1,)
    pred = _iterate_qmap(mf, "linear", sw2, sb2, K1, depth)
    n_c, n_w = pick(profile, 60000, 1000000), pick(profile, 10000, 200000)
    rc = statfield.simulate("linear", sw2, sb2, N, depth, n_c, method="collective", observables=("q",),
                            seed=sub_seed(seed, "lin-c"))
    rw = statfield.simulate("linear", sw2, sb2, N, depth, n_w, method="weights", observables=("q",),
                            seed=sub_seed(seed, "lin-w"))
    params = {"activation": "linear", "sigma_w2": sw2, "sigma_b2": sb2, "width": N, "depth": depth, "K1": K1}
    recs = []
    for l in (1, depth // 2, depth):
        recs.append(compare(f"meanfield-linear-exact/collective/q{l}", f"E q^{l} (collective, N={N}) = iterated q-map",
                            pred[l - 1], rc["q"][l - 1], {**params, "layer": l, "n_networks": n_c}, seed))
    for l in (2, depth):
        recs.append(compare(f"meanfield-linear-exact/weights/q{l}", f"E q^{l} (weight space, N={N}) = iterated q-map",
                            pred[l - 1], rw["q"][l - 1], {**params, "layer": l, "n_networks": n_w}, seed))
    fig = None
    if outdir is not None:
        from .plots import theory_vs_mc

        L = np.arange(1, depth + 1)
        fig = theory_vs_mc(outdir / "meanfield_linear_exact.png",
                           curves=[{"x": L, "y": pred, "label": "iterated q-map (exact for the mean)", "discrete": True}],
                           points=[{"x": L - 0.1, "y": rc.value("q"), "yerr": rc.stderr("q"), "theory": pred,
                                    "label": f"collective MC, N = {N}"},
                                   {"x": L + 0.1, "y": rw.value("q"), "yerr": rw.stderr("q"), "theory": pred,
                                    "label": f"weight-space MC, N = {N}"}],
                           xlabel="layer l", ylabel=r"$E\,q^l$",
                           title=rf"linear, $\sigma_w^2 = {sw2}$, $\sigma_b^2 = {sb2}$", hline=float(mf.q_star("linear", sw2, sb2)))
    return finish(recs, t0, fig)


@register_check("meanfield-relu-q-star", "meanfield",
                "ReLU: the MC mean E q^L of deep width-6 networks equals the mean-field q* (exact, not the mode)",
                caption=r"ReLU networks of width $N=6$: $\mathbb{E}\,q^l$ follows the iterated $q$-map exactly and "
                        r"tends to the mean-field fixed point $q^*=\sigma_b^2/(1-\sigma_w^2/2)$ (the mean, not the "
                        r"mode "
                        r"of the collective action).")
def check_relu_q_star(profile, seed, outdir):
    import statfield
    from .. import meanfield as mf

    t0 = time.perf_counter()
    sw2, sb2, N, depth = 1.5, 0.2, 6, 60
    K1 = sb2 + sw2 * 1.0
    qs = float(mf.q_star("relu", sw2, sb2))
    pred = _iterate_qmap(mf, "relu", sw2, sb2, K1, depth)
    n = pick(profile, 30000, 500000)
    r = statfield.simulate("relu", sw2, sb2, N, depth, n, method="collective", observables=("q", "u", "k"),
                           seed=sub_seed(seed, "relu-qstar"))
    params = {"activation": "relu", "sigma_w2": sw2, "sigma_b2": sb2, "width": N, "depth": depth, "K1": K1,
              "n_networks": n, "chi1": sw2 / 2}
    recs = [
        compare("meanfield-relu-q-star/q_star", f"E q^{depth} (N={N}) = mean-field q* (transient (chi1)^L negligible)",
                qs, r["q"][depth - 1], params, seed),
        compare("meanfield-relu-q-star/u_star", f"E u^{depth} = q*/2 (half the units positive on average)",
                qs / 2, r["u"][depth - 1], params, seed),
        compare("meanfield-relu-q-star/q3", "E q^3 = iterated q-map (exact for the mean at any N)", pred[2],
                r["q"][2], params, seed),
    ]
    fig = None
    if outdir is not None:
        from .plots import theory_vs_mc

        L = np.arange(1, depth + 1)
        fig = theory_vs_mc(outdir / "meanfield_relu_q_star.png",
                           curves=[{"x": L, "y": pred, "label": "iterated q-map", "discrete": True}],
                           points=[{"x": L, "y": r.value("q"), "yerr": r.stderr("q"), "theory": pred,
                                    "label": f"MC mean, N = {N}"}],
                           xlabel="layer l", ylabel=r"$E\,q^l$", hline=qs, logx=True,
                           title=rf"ReLU, $\sigma_w^2 = {sw2}$, $\sigma_b^2 = {sb2}$: $E\,q^l \to q^* = {qs:.4g}$")
    return finish(recs, t0, fig)


@register_check("meanfield-tanh", "meanfield",
                "tanh: q* and chi_1 vs networks of widths 8..64, extrapolated in 1/N",
                caption=r"$\tanh$ networks: bulk means of $\hat G=q$ and of $\sigma_w^2|\phi'(z)|^2/N$ at widths "
                        r"$N=8\ldots64$, fitted in $1/N$ and extrapolated to $1/N\to0$, against the mean-field "
                        r"$q^*$ and $\chi_1=\sigma_w^2\,\mathbb{E}[\phi'(\sqrt{q^*}z)^2]$ (pulls: residuals of the fit).")
def check_tanh_fixed_point(profile, seed, outdir):
    from ..activations import get_activation
    from .. import meanfield as mf

    t0 = time.perf_counter()
    act = get_activation("tanh")
    sw2, sb2 = 1.5, 0.05
    qs = float(mf.q_star("tanh", sw2, sb2))
    chi1 = float(mf.chi1("tanh", sw2, sb2))
    widths = pick(profile, [8, 16, 32, 64], [8, 16, 32, 64, 128])
    order = pick(profile, 1, 2)
    n = pick(profile, 4000, 40000)
    depth, burn = 26, 12  # chains start at q* (K^1 = q*): only the 1/N bias and the fluctuations relax
    est_q, est_chi = [], []
    for N in widths:
        ch = collective_chains("tanh", sw2, sb2, N, depth, n, qs, seed, f"tanh-{N}", names=("G",))
        G = ch["G"][:, burn:]  # K^l given the previous layer: E G^l = E q^l, lower variance
        est_q.append(mean_estimate(G.mean(axis=1)))
        # chi_1 estimator: sigma_w2 |phi'(z^l)|^2 / N with z^l = sqrt(G^l) xi exactly (given the previous
        # layer a unit is N(0, G^l); docs/conventions.md, "Order parameters and fields")
        rng = rng_for(seed, f"tanh-xi-{N}")
        xi = np.asarray(rng.standard_normal((n, G.shape[1], N)))
        d = np.asarray(act.derivative(np.sqrt(G)[..., None] * xi, np))
        est_chi.append(mean_estimate(sw2 * (d * d).mean(axis=(1, 2))))
    eq, chi2_q, dof, coef_q = extrapolate_inverse_width(widths, est_q, order)
    ec, chi2_c, _, coef_c = extrapolate_inverse_width(widths, est_chi, order)
    params = {"activation": "tanh", "sigma_w2": sw2, "sigma_b2": sb2, "widths": widths, "depth": depth,
              "burn_in": burn, "n_networks": n, "fit_order": order}
    recs = [
        compare("meanfield-tanh/q_star", "bulk E q extrapolated to 1/N -> 0 = mean-field q*", qs, eq,
                {**params, "fit_chi2": chi2_q, "fit_dof": dof}, seed),
        compare("meanfield-tanh/chi1", "bulk E[sigma_w2 phi'(z)^2] extrapolated to 1/N -> 0 = chi_1", chi1, ec,
                {**params, "fit_chi2": chi2_c, "fit_dof": dof}, seed),
    ]
    fig = None
    if outdir is not None:
        from .plots import theory_vs_mc

        x = 1.0 / np.asarray(widths, float)
        xx = np.linspace(0, x.max() * 1.05, 50)
        panels = []
        for lab, ests, coef, th in (("$q^*$", est_q, coef_q, qs), (r"$\chi_1$", est_chi, coef_c, chi1)):
            panels.append({"curves": [{"x": xx, "y": np.polyval(coef[::-1], xx), "label": f"fit, order {order} in 1/N",
                                       "style": "--"},
                                      {"x": [0], "y": [th], "label": f"mean field {lab} = {th:.5g}", "style": "s"}],
                           "points": [{"x": x, "y": [e.value for e in ests], "yerr": [e.stderr for e in ests],
                                       "theory": np.polyval(coef[::-1], x), "label": "MC (bulk mean)"}],
                           "pull_label": r"$(\mathrm{MC}-\mathrm{fit})/\sigma$",
                           "xlabel": "$1/N$", "ylabel": "bulk mean of " + (r"$\hat G = q$" if "q" in lab else
                                                                             r"$\sigma_w^2|\phi'(z)|^2/N$"),
                           "title": rf"tanh, $\sigma_w^2 = {sw2}$, $\sigma_b^2 = {sb2}$"})
        fig = theory_vs_mc(outdir / "meanfield_tanh.png", panels=panels)
    return finish(recs, t0, fig)


@register_check("meanfield-c-star", "meanfield",
                "tanh (chaotic phase): c* vs two-input networks, extrapolated in 1/N (finite N overestimates c*)",
                caption=r"$\tanh$ in the chaotic phase: the bulk correlation coefficient $c^l$ of two inputs at several "
                        r"widths, fitted to second order in $1/N$, against the mean-field fixed point $c^*$ "
                        r"(pulls: residuals of the fit).")
def check_c_star(profile, seed, outdir):
    from .. import meanfield as mf

    t0 = time.perf_counter()
    sw2, sb2 = 4.0, 0.1
    cs = float(mf.c_star("tanh", sw2, sb2))
    chi_c = float(mf.chi_c("tanh", sw2, sb2))
    # the 1/N bias is large here (c ~ 0.45 at N = 16 for c* ~ 0.29): second order in 1/N is needed
    widths = pick(profile, [32, 64, 128, 256], [16, 32, 64, 128, 256, 512, 1024])
    order = 2
    n = pick(profile, 1500, 10000)
    xi_c = -1.0 / np.log(chi_c)
    burn = int(np.ceil(6 * xi_c))  # transient ~ chi_c^burn relative to the distance to c* at the input
    depth = burn + pick(profile, 12, 30)
    rho = 0.27  # input overlap x.x'/d_in: first-layer correlation near c* (short transient)
    X = np.array([[1.0, 0.0], [rho, np.sqrt(1 - rho**2)]]) * np.sqrt(2.0)  # |x|^2/d_in = 1
    ests = []
    for N in widths:
        G = preactivation_layers("tanh", sw2, sb2, N, depth, n, X, seed, f"cstar-{N}", want=("G",))["G"]
        c = G[:, :, 0, 1] / np.sqrt(G[:, :, 0, 0] * G[:, :, 1, 1])
        ests.append(mean_estimate(bulk_mean_per_network(c, burn)))
    ec, chi2, dof, coef = extrapolate_inverse_width(widths, ests, order)
    params = {"activation": "tanh", "sigma_w2": sw2, "sigma_b2": sb2, "widths": widths, "depth": depth,
              "burn_in": burn, "n_networks": n, "fit_order": order, "chi_c": chi_c, "fit_chi2": chi2, "fit_dof": dof}
    recs = [compare("meanfield-c-star/c_star", "bulk correlation coefficient extrapolated to 1/N -> 0 = c*", cs, ec,
                    params, seed)]
    fig = None
    if outdir is not None:
        from .plots import theory_vs_mc

        x = 1.0 / np.asarray(widths, float)
        xx = np.linspace(0, x.max() * 1.05, 50)
        fig = theory_vs_mc(outdir / "meanfield_c_star.png", panels=[{
            "curves": [{"x": xx, "y": np.polyval(coef[::-1], xx), "label": f"fit, order {order} in 1/N", "style": "--"},
                       {"x": [0], "y": [cs], "label": rf"mean field $c^* = {cs:.5g}$", "style": "s"}],
            "points": [{"x": x, "y": [e.value for e in ests], "yerr": [e.stderr for e in ests],
                        "theory": np.polyval(coef[::-1], x), "label": "MC (bulk, two inputs)"}],
            "pull_label": r"$(\mathrm{MC}-\mathrm{fit})/\sigma$", "xlabel": "$1/N$", "ylabel": r"bulk mean of $c^l$",
            "title": rf"tanh, chaotic phase ($\sigma_w^2 = {sw2}$, $\chi_c = {chi_c:.3f}$): $c^*$ from above"}])
    return finish(recs, t0, fig)


_NNGP_X = np.array([[1.0, 0.5, -0.3, 0.2], [0.2, -1.0, 0.4, 0.9], [-0.6, 0.3, 1.2, -0.4]])


@register_check("nngp-kernels", "meanfield",
                "NNGP kernels K^(L) of 3 inputs vs pre-activation networks: linear exact (N=8), ReLU/erf in 1/N",
                caption=r"NNGP kernels $K^{(3)}$ of three inputs: Monte Carlo minus theory for every entry (linear: "
                        r"exact at $N=8$; ReLU and erf: extrapolated to $1/N\to0$), and the pulls.")
def check_nngp(profile, seed, outdir):
    from .. import meanfield as mf

    t0 = time.perf_counter()
    X = _NNGP_X
    P = X.shape[0]
    iu = np.triu_indices(P)
    depth = 3
    cases = [("linear", 0.9, 0.2, [8], 0), ("relu", 1.8, 0.1, pick(profile, [16, 32, 64, 128], [16, 32, 64, 128, 256]), 1),
             ("erf", 2.0, 0.05, pick(profile, [16, 32, 64, 128], [16, 32, 64, 128, 256]), 1)]
    n_lin, n = pick(profile, 40000, 400000), pick(profile, 3000, 20000)
    recs, panels = [], []
    for act, sw2, sb2, widths, order in cases:
        K = np.asarray(mf.nngp_kernel(act, sw2, sb2, X, depth), float)
        per_width = []
        for N in widths:
            G = preactivation_layers(act, sw2, sb2, N, depth, n_lin if order == 0 else n, X, seed,
                                     f"nngp-{act}-{N}", want=("G",))["G"][:, -1]  # E G^L = E gram^L
            m, se, nn = mean_estimate(G)
            per_width.append((m, se, nn))
        params = {"activation": act, "sigma_w2": sw2, "sigma_b2": sb2, "widths": widths, "depth": depth,
                  "inputs": X.tolist(), "fit_order": order}
        mc_val, mc_err = [], []
        for a, b in zip(*iu):
            ests = [Estimate(float(m[a, b]), float(se[a, b]), int(nn)) for m, se, nn in per_width]
            if order == 0:
                e, extra = ests[0], {"exact": True}
            else:
                e, chi2, dof, _ = extrapolate_inverse_width(widths, ests, order)
                extra = {"fit_chi2": chi2, "fit_dof": dof}
            mc_val.append(e.value)
            mc_err.append(e.stderr)
            what = f"E G^{depth} (N = {widths[0]}, exact)" if order == 0 else "E G^L extrapolated to 1/N -> 0"
            recs.append(compare(f"nngp-kernels/{act}/K{a}{b}", f"{act}: {what} = NNGP K^({depth})[{a},{b}]",
                                K[a, b], e, {**params, **extra, "entry": [int(a), int(b)]}, seed))
        idx = np.arange(len(iu[0]))
        panels.append({"curves": [{"x": idx, "y": np.zeros(len(idx)), "label": "NNGP (mean field)", "discrete": True}],
                       "points": [{"x": idx, "y": np.asarray(mc_val) - K[iu], "yerr": mc_err, "theory": np.zeros(len(idx)),
                                   "label": "MC, N = 8 (exact)" if order == 0 else r"MC extrapolated to $1/N \to 0$"}],
                       "xticklabels": [f"K[{a},{b}]" for a, b in zip(*iu)],
                       "ylabel": f"MC $-$ NNGP $K^{{({depth})}}$",
                       "title": rf"{act}, $\sigma_w^2 = {sw2}$, $\sigma_b^2 = {sb2}$"})
    fig = None
    if outdir is not None:
        from .plots import theory_vs_mc

        fig = theory_vs_mc(outdir / "nngp_kernels.png", panels=panels)
    return finish(recs, t0, fig)
