r"""The quadratic EFT of linear and ReLU networks against Monte Carlo.

The EFT (:func:`statfield.symbolic.quadratic_eft`) is the Gaussian theory of the fluctuation fields
of :mod:`statfield.fields` around the large-N saddle (linear :math:`\epsilon = \sqrt N(r-r^*)/r^*`;
ReLU :math:`(\epsilon_+, \epsilon_-, \epsilon_k)`), with lattice precision :math:`M(q)` and real-space
correlators :math:`C_m = \langle x_l x_{l+m}^\top\rangle` (entry ``[a, b]`` =
:math:`\langle x_a(l)\,x_b(l+m)\rangle`). Checked three ways:

* ``eft-*-network`` — against the **bulk of deep real networks** (exact collective-coordinate sampler,
  connected correlators averaged over bulk layers after a burn-in of ten correlation lengths;
  :func:`statfield.simulate` with ``eft_lags``);
* ``eft-*-mcmc`` — against the **MCMC of the periodic collective action** ("the network on a
  circle", SPS17 Eq. 10–11; :func:`statfield.sampling.mcmc.simulate_mcmc`), compared with the EFT
  correlator of the ring of the same length ``L`` (:math:`C^{(L)}_m = L^{-1}\sum_j e^{-iq_jm}M(q_j)^{-1}`);
* ``eft-correlation-length`` — the lattice correlation length :math:`\xi=-1/\ln\chi` against a fit of
  the decay :math:`C_m\propto e^{-m/\xi}` of the MC correlator (jackknife over networks); the
  continuum (gradient-expanded) :math:`\xi` is shown beside it — it differs away from criticality.

Named approximation: the EFT is leading order in :math:`1/N`; its corrections to :math:`C_m` are
:math:`O(1/N)` (one loop with two cubic vertices of order :math:`N^{-1/2}`), so the MC uses widths
:math:`N\ge 10^3` where they are far below the statistical errors.
Conventions: fan-in :math:`W\sim N(0,\sigma_w^2/N)`, :math:`q=|z|^2/N`.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..activations import get_activation
from ..stats import Estimate
from ._common import collective_chains, finish, jackknife, lagged_covariances, pick, sub_seed
from .core import compare, register_check

__all__ = ["EFT_CASES", "collective_variables", "check_eft_linear_network", "check_eft_relu_network",
           "check_eft_linear_mcmc", "check_eft_relu_mcmc", "check_correlation_length"]

#: Parameters of the EFT checks: (sigma_w2, sigma_b2); linear xi = 1.96, ReLU xi = 3.48 layers.
EFT_CASES = {"linear": (0.6, 0.1), "relu": (1.5, 0.1)}
_LABEL = {"eps": r"\epsilon", "eps_plus": r"\epsilon_+", "eps_minus": r"\epsilon_-", "eps_k": r"\epsilon_k"}


def collective_variables(activation) -> tuple:
    r"""The collective coordinates of a piecewise-linear activation's networks, e.g. ``("q",)`` or ``("u", "v", "k")``.

    Taken from the activation's collective model (``get_activation(a).collective.variables``) when it has one;
    otherwise from its slopes :math:`a_\pm`: radial (``("q",)``) when :math:`a_+^2 = a_-^2` (then
    :math:`|\phi(z)|^2 = a_+^2|z|^2`), orthant (``("u", "v", "k")``) otherwise.

    Raises
    ------
    ValueError
        The activation is not piecewise linear (no exact collective reduction).
    """
    act = get_activation(activation)
    model = getattr(act, "collective", None)
    if model is not None:
        return tuple(model.variables)
    if not act.is_piecewise_linear:
        raise ValueError(f"activation {act.name!r} has no collective-coordinate reduction (it is not piecewise linear)")
    return ("q",) if act.a_plus**2 == act.a_minus**2 else ("u", "v", "k")


def _field_array(act, chains, sw2, sb2, N, names):
    """The EFT fields ``(n_networks, T, F)`` in the order ``names`` from collective chains."""
    from .. import fields

    F = fields.fields(get_activation(act), chains, sw2, sb2, N)
    return np.stack([np.asarray(F[k], float) for k in names], axis=-1)


def _eft(act):
    from ..symbolic import eft as _eft_mod

    return _eft_mod.quadratic_eft(act)


def _entries(n_fields, m):
    """Independent entries of C_m: upper triangle at m = 0 (C_0 symmetric), all at m > 0."""
    if m == 0:
        return [(a, b) for a in range(n_fields) for b in range(a, n_fields)]
    return [(a, b) for a in range(n_fields) for b in range(n_fields)]


def _x1_for(act, sw2, sb2):
    """Input x = (x1,) with K^1 = sigma_b2 + sigma_w2 x1^2 = q* (large-N saddle): no transient in the mean."""
    from .. import fields

    qs = fields.q_star_large_n(act, sw2, sb2)
    return np.array([math.sqrt((qs - sb2) / sw2)])


def _panels(eft, sw2, sb2, mc_lags, mc_vals, mc_errs, title, L=None):
    """Theory curves C_m[a, b] over m with MC points (one panel per group of entries)."""
    names = eft.fields
    F = len(names)
    mm = np.arange(0, max(mc_lags) + 1)
    # curves: the numeric ring correlator (a ring of 4096 layers equals the infinite chain to chi^4096)
    theory = np.array([eft.correlator(int(m), sw2, sb2, L=L or 4096) for m in mm])
    if F == 1:
        groups = [[(0, 0)]]
    else:
        groups = [[(0, 0), (1, 1), (2, 2)], [(0, 1), (1, 0)], [(2, 0), (2, 1), (0, 2), (1, 2)]]
    panels = []
    for grp in groups:
        curves, points = [], []
        for i, (a, b) in enumerate(grp):
            lab = rf"$\langle {_LABEL[names[a]]}(l)\,{_LABEL[names[b]]}(l+m)\rangle$"
            curves.append({"x": mm, "y": theory[:, a, b], "label": f"EFT {lab}", "color": f"C{i}", "discrete": True})
            points.append({"x": np.asarray(mc_lags) + 0.06 * i, "y": [v[a, b] for v in mc_vals],
                           "yerr": [e[a, b] for e in mc_errs], "theory": theory[np.asarray(mc_lags, int), a, b],
                           "color": f"C{i}", "label": "MC" if i == 0 else None})
        panels.append({"curves": curves, "points": points, "xlabel": "lag m (layers)", "ylabel": "$C_m$",
                       "title": title, "hline": 0.0})
    return panels


def _network_check(act, profile, seed, outdir):
    import statfield

    t0 = time.perf_counter()
    sw2, sb2 = EFT_CASES[act]
    eft = _eft(act)
    xi = eft.correlation_length("lattice", sw2)
    N = pick(profile, 10_000, 100_000)
    burn = int(math.ceil(10 * xi))
    T = pick(profile, 150, 400)
    n = pick(profile, 1500, 10000)
    lags = pick(profile, (0, 1, 2, 4) if len(eft.fields) == 1 else (0, 1, 3), (0, 1, 2, 3, 4, 6))
    depth = burn + T + max(lags)
    res = statfield.simulate(act, sw2, sb2, N, depth, n, inputs=_x1_for(act, sw2, sb2), method="collective",
                             eft_lags=lags, burn_in=burn, observables=("q",), seed=sub_seed(seed, f"eft-net-{act}"))
    params = {"activation": act, "sigma_w2": sw2, "sigma_b2": sb2, "width": N, "depth": depth, "burn_in": burn,
              "n_networks": n, "xi_lattice": xi, "fields": list(eft.fields)}
    recs, vals, errs = [], [], []
    for j, m in enumerate(lags):
        e = res["eft_corr"][j]
        vals.append(np.asarray(e.value))
        errs.append(np.asarray(e.stderr))
        pred = eft.correlator(int(m), sw2, sb2)
        for a, b in _entries(len(eft.fields), m):
            fa, fb = eft.fields[a], eft.fields[b]
            recs.append(compare(f"eft-{act}-network/C{m}[{fa},{fb}]",
                                f"{act}: <{fa}(l) {fb}(l+{m})>_c in the bulk of deep networks = quadratic EFT",
                                pred[a, b], Estimate(float(e.value[a, b]), float(e.stderr[a, b]), int(e.n)),
                                {**params, "lag": int(m)}, seed))
    fig = None
    if outdir is not None:
        from .plots import theory_vs_mc

        fig = theory_vs_mc(outdir / f"eft_{act}_network.png",
                           panels=_panels(eft, sw2, sb2, lags, vals, errs,
                                          rf"{act} networks, $N = {N}$, $\sigma_w^2 = {sw2}$: EFT vs MC"))
    return finish(recs, t0, fig)


def _mcmc_check(act, profile, seed, outdir):
    from ..sampling.mcmc import simulate_mcmc

    t0 = time.perf_counter()
    sw2, sb2 = EFT_CASES[act]
    eft = _eft(act)
    N = pick(profile, 1000, 4000)
    L = pick(profile, 16, 32)
    n_samples = pick(profile, 300, 3000)
    n_chains = pick(profile, 64, 128)
    lags = pick(profile, (0, 1, 3), (0, 1, 2, 3, 4, 6))
    r = simulate_mcmc(act, sw2, sb2, N, L, n_samples, seed=sub_seed(seed, f"eft-mcmc-{act}"), n_chains=n_chains,
                      eft_lags=lags)
    params = {"activation": act, "sigma_w2": sw2, "sigma_b2": sb2, "width": N, "ring_length": L,
              "n_samples": n_samples, "n_chains": n_chains, "acceptance": r.diagnostics.get("acceptance")}
    names = eft.fields
    F = len(names)
    recs, vals, errs = [], [], []
    for j, m in enumerate(lags):
        pred = eft.correlator(int(m), sw2, sb2, L=L)
        v, s = np.zeros((F, F)), np.zeros((F, F))
        for a in range(F):
            for b in range(F):
                e = r[f"C_{names[a]}_{names[b]}"][j]
                v[a, b], s[a, b] = e.value, e.stderr
        vals.append(v)
        errs.append(s)
        for a, b in _entries(F, m):
            e = r[f"C_{names[a]}_{names[b]}"][j]
            recs.append(compare(f"eft-{act}-mcmc/C{m}[{names[a]},{names[b]}]",
                                f"{act}: <{names[a]}(l) {names[b]}(l+{m})>_c on the periodic chain (MCMC) = "
                                f"EFT on a ring of {L}", pred[a, b], e, {**params, "lag": int(m)}, seed))
    fig = None
    if outdir is not None:
        from .plots import theory_vs_mc

        fig = theory_vs_mc(outdir / f"eft_{act}_mcmc.png",
                           panels=_panels(eft, sw2, sb2, lags, vals, errs,
                                          rf"{act}: MCMC of the ring action, $N = {N}$, $L = {L}$", L=L))
    return finish(recs, t0, fig)


_CAP_NET = (r"Lagged connected correlators $\langle x_a(l)\,x_b(l+m)\rangle_c$ of the EFT fields in the bulk of "
            r"deep {act} networks (exact collective sampler) against the quadratic EFT (lines); pulls below.")
_CAP_MCMC = (r"Correlators of the EFT fields on the periodic chain (MCMC of the collective action, a ring of $L$ "
             r"layers) against the EFT on a ring of the same length; pulls below.")


@register_check("eft-linear-network", "eft", "linear EFT lagged correlators vs the bulk of deep networks",
                caption=_CAP_NET.format(act="linear"))
def check_eft_linear_network(profile, seed, outdir):
    return _network_check("linear", profile, seed, outdir)


@register_check("eft-relu-network", "eft", "ReLU 3x3 EFT lagged correlators vs the bulk of deep networks",
                caption=_CAP_NET.format(act="ReLU"))
def check_eft_relu_network(profile, seed, outdir):
    return _network_check("relu", profile, seed, outdir)


@register_check("eft-linear-mcmc", "eft", "linear EFT ring correlators vs MCMC of the periodic collective action",
                caption="Linear networks. " + _CAP_MCMC)
def check_eft_linear_mcmc(profile, seed, outdir):
    return _mcmc_check("linear", profile, seed, outdir)


@register_check("eft-relu-mcmc", "eft", "ReLU EFT ring correlators vs MCMC of the periodic collective action",
                caption="ReLU networks. " + _CAP_MCMC)
def check_eft_relu_mcmc(profile, seed, outdir):
    return _mcmc_check("relu", profile, seed, outdir)



def _fit_xi(c):
    """xi from the unweighted least-squares slope of ln C_m over m = 0..M (``c``: C_0..C_M)."""
    c = np.asarray(c, float)
    if np.any(c <= 0):
        return np.nan
    m = np.arange(len(c))
    slope = np.polyfit(m, np.log(c), 1)[0]
    return -1.0 / slope


@register_check("eft-correlation-length", "eft",
                "lattice correlation length xi = -1/ln chi vs a fit of the MC correlator decay (linear, ReLU)",
                caption=r"Correlation length: the autocorrelation of the first EFT field ($\epsilon$, $\epsilon_+$) "
                        r"over the lag $m$, with the lattice $\xi=-1/\ln\chi$ (solid) and the continuum $\xi$ of the "
                        r"gradient expansion (dashed); the MC value of $\xi$ is a fit of $\ln C_m$ with a "
                        r"jackknife error.")
def check_correlation_length(profile, seed, outdir):
    from .. import fields

    t0 = time.perf_counter()
    recs, panels = [], []
    for act in ("linear", "relu"):
        sw2, sb2 = EFT_CASES[act]
        eft = _eft(act)
        xi = eft.correlation_length("lattice", sw2)
        xi_cont = eft.correlation_length("continuum", sw2)
        N = pick(profile, 10_000, 100_000)
        burn = int(math.ceil(10 * xi))
        M = int(math.ceil(2 * xi))
        T = pick(profile, 120, 300)
        n = pick(profile, 2000, 20000)
        qs = fields.q_star_large_n(act, sw2, sb2)
        ch = collective_chains(act, sw2, sb2, N, burn + T, n, qs, seed, f"xi-{act}", names=collective_variables(act))
        field = eft.fields[0]  # the slowest mode: eps (radial), eps_plus (orthant)
        eps = _field_array(act, {k: v[:, burn:] for k, v in ch.items()}, sw2, sb2, N, (field,))
        C = lagged_covariances(eps, range(M + 1))[:, :, 0, 0]  # (n, M+1)
        val, se = jackknife(_fit_xi, C)
        params = {"activation": act, "sigma_w2": sw2, "sigma_b2": sb2, "width": N, "burn_in": burn, "bulk_layers": T,
                  "n_networks": n, "fit_lags": [0, M], "field": field, "xi_continuum": xi_cont}
        recs.append(compare(f"eft-correlation-length/{act}",
                            f"{act}: xi fitted to ln<{field}(l) {field}(l+m)>_c, m = 0..{M} = lattice EFT xi",
                            xi, Estimate(float(val), float(se), n), params, seed))
        Cm = C.mean(axis=0)
        Cse = C.std(axis=0, ddof=1) / math.sqrt(n)
        mm = np.linspace(0, M, 50)
        panels.append({"curves": [{"x": mm, "y": Cm[0] * np.exp(-mm / xi), "label": rf"lattice $\xi = {xi:.3f}$"},
                                  {"x": mm, "y": Cm[0] * np.exp(-mm / xi_cont), "style": "--",
                                   "label": rf"continuum $\xi = {xi_cont:.3f}$"}],
                       "points": [{"x": np.arange(M + 1), "y": Cm, "yerr": Cse,
                                   "theory": Cm[0] * np.exp(-np.arange(M + 1) / xi),
                                   "label": rf"MC, fit $\xi = {val:.3f} \pm {se:.2g}$"}],
                       "xlabel": "lag m", "ylabel": rf"$\langle {_LABEL[field]}(l)\,{_LABEL[field]}(l+m)\rangle_c$",
                       "logy": True, "title": rf"{act}, $\sigma_w^2 = {sw2}$: correlation length"})
    fig = None
    if outdir is not None:
        from .plots import theory_vs_mc

        fig = theory_vs_mc(outdir / "eft_correlation_length.png", panels=panels)
    return finish(recs, t0, fig)
