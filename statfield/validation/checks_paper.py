r"""The published SPS17 EFT coefficients (as quoted in Kahn's talk) against Monte Carlo.

:mod:`statfield.symbolic.compare` turns both the published quadratic forms (linear kernel
:math:`(1+\sigma_w^4)-2\sigma_w^2\cos q`, talk eq. after Eq. 12; ReLU continuum EFT, talk Eq. 23,
read on the lattice with backward differences) and statfield's own EFT into **invariants under
rescaling and sign flips of the fields** (the papers' normalisations are not stated): absolute
same-layer correlation coefficients, lag-1 auto- and cross-correlations, the correlation length.
This check measures the same invariants on the bulk of deep networks (exact collective sampler,
:math:`N = 10^4`, fields of :mod:`statfield.fields`) and reports, for every invariant,

* a ``kind="test"`` record: statfield's value vs MC (a failure is a failure of our theory), and
* a ``kind="published"`` record: the published value vs MC, with statfield's value in ``params`` —
  reported with its z-score ("the data excludes it by ... sigma"), never counted as a failure.

Estimator: per-network connected lagged covariance matrices :math:`C_0, C_1, \dots, C_M` of the fields
over the bulk layers; every invariant is a smooth function of their means; delete-one-group jackknife
over networks for the standard errors. Parameters: :math:`\sigma_w^2 = 0.8` (inside the region
:math:`\sigma_w^2 < 1.073` where the published ReLU form is positive definite), :math:`\sigma_b^2 = 0.1`.

Definitions (same as :mod:`statfield.symbolic.compare`): :math:`R_m = C_m/(s s^\top)`,
:math:`s = \sqrt{\mathrm{diag}\,C_0}`; ``corr_a_b_abs`` = :math:`|R_0[a,b]|`; ``lag1_autocorr_a`` =
:math:`R_1[a,a]`; ``lag1_cross_a_b_abs`` = :math:`|R_1[a,b]|` (:math:`\langle x_a(l)x_b(l+1)\rangle`);
``corr_triple`` = :math:`R_0[+,-]R_0[-,k]R_0[k,+]` (sign-flip invariant; the published table gives its
sign, its magnitude follows from the three absolute correlations).
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..stats import Estimate
from ._common import collective_chains, finish, jackknife, lagged_covariances, pick
from .core import compare, register_check

__all__ = ["PAPER_PARAMS", "mc_invariants", "check_paper"]

PAPER_PARAMS = (0.8, 0.1)
_SOURCE = {"linear": "SPS17 linear kernel (talk, eq. after Eq. 12)", "relu": "SPS17 ReLU continuum EFT (talk Eq. 23)"}


def _radial(act) -> bool:
    """One collective field (|z|, linear-like) rather than three (orthant: r+, r-, k)."""
    from .checks_eft import collective_variables

    return len(collective_variables(act)) == 1


def _keys(act):
    if _radial(act):
        return ["lag1_autocorr_eps", "xi_lattice"]
    return ["corr_plus_minus_abs", "corr_plus_k_abs", "corr_minus_k_abs", "corr_triple", "lag1_autocorr_plus",
            "lag1_autocorr_minus", "lag1_autocorr_k", "lag1_cross_plus_minus_abs", "lag1_cross_minus_plus_abs",
            "xi_lattice"]


def mc_invariants(act, C):
    r"""Invariants (in :func:`_keys` order) from the lagged covariances ``C`` (``(M+1, F, F)``, lags 0..M).

    ``xi_lattice`` is fitted to :math:`\ln C_m[0,0]` over ``m = 0..M`` (the first field: ``eps`` /
    ``eps_plus``, whose autocorrelation decays with the slowest mode).
    """
    from .checks_eft import _fit_xi

    C = np.asarray(C, float)
    s = np.sqrt(np.diag(C[0]))
    R0 = C[0] / np.outer(s, s)
    R1 = C[1] / np.outer(s, s)
    xi = _fit_xi(C[:, 0, 0])
    if _radial(act):
        return np.array([R1[0, 0], xi])
    return np.array([abs(R0[0, 1]), abs(R0[0, 2]), abs(R0[1, 2]), R0[0, 1] * R0[1, 2] * R0[2, 0], R1[0, 0], R1[1, 1],
                     R1[2, 2], abs(R1[0, 1]), abs(R1[1, 0]), xi])


def _theory(act, inv):
    """Values of the invariants in :func:`_keys` order from a compare.py invariant dict (None: undefined)."""
    out = []
    for k in _keys(act):
        if k == "corr_triple":
            parts = [inv.get("corr_plus_minus_abs"), inv.get("corr_minus_k_abs"), inv.get("corr_plus_k_abs"),
                     inv.get("corr_triple_sign")]
            out.append(None if any(p is None for p in parts) else parts[3] * parts[0] * parts[1] * parts[2])
        else:
            v = inv.get(k)
            out.append(None if v is None or (isinstance(v, float) and not math.isfinite(v)) else float(v))
    return out


@register_check("paper-sps17", "paper",
                "published SPS17 EFT invariants (talk Eq. 12, 23) and statfield's, against deep-network MC",
                caption=r"Invariants of the quadratic EFT (absolute correlation coefficients, lag-1 correlations, "
                        r"$\xi$) measured on deep networks ($N=10^4$, $\sigma_w^2=0.8$, $\sigma_b^2=0.1$) against "
                        r"statfield's EFT and the published SPS17 forms; pulls against statfield's values.")
def check_paper(profile, seed, outdir):
    from .. import fields
    from ..symbolic import compare as cmp
    from ..symbolic.eft import quadratic_eft
    from .checks_eft import _field_array, collective_variables

    t0 = time.perf_counter()
    sw2, sb2 = PAPER_PARAMS
    recs, panels = [], []
    for act in ("linear", "relu"):
        ours_d = cmp.our_invariants(act, sw2, sb2)
        pub_d = cmp.published_invariants(act, sw2, sb2)
        ours, pub = _theory(act, ours_d), _theory(act, pub_d)
        xi = float(ours_d["xi_lattice"])
        N = pick(profile, 10_000, 100_000)
        burn = int(math.ceil(10 * xi))
        M = max(2, int(math.ceil(2 * xi)))
        T = pick(profile, 150, 400)
        n = pick(profile, 2000, 20000)
        qs = fields.q_star_large_n(act, sw2, sb2)
        ch = collective_chains(act, sw2, sb2, N, burn + T, n, qs, seed, f"paper-{act}", names=collective_variables(act))
        bulk = {k: v[:, burn:] for k, v in ch.items()}
        F = _field_array(act, bulk, sw2, sb2, N, quadratic_eft(act).fields)
        C = lagged_covariances(F, range(M + 1))  # (n, M+1, F, F)
        val, se = jackknife(lambda c: mc_invariants(act, c), C)
        params = {"activation": act, "sigma_w2": sw2, "sigma_b2": sb2, "width": N, "burn_in": burn, "bulk_layers": T,
                  "n_networks": n, "source": _SOURCE[act], "fit_lags_xi": [0, M]}
        xs, mcv, mce, ov, pv = [], [], [], [], []
        for i, key in enumerate(_keys(act)):
            est = Estimate(float(val[i]), float(se[i]), n)
            label = f"{act}: {key}"
            recs.append(compare(f"paper-sps17/{act}/{key}/statfield", f"{label} of statfield's EFT vs MC",
                                ours[i], est, {**params, "quantity": label}, seed))
            if pub[i] is not None:
                recs.append(compare(f"paper-sps17/{act}/{key}/published", f"{label} of the published EFT vs MC",
                                    pub[i], est, {**params, "quantity": label, "ours": ours[i]}, seed,
                                    kind="published"))
            xs.append(i)
            mcv.append(est.value)
            mce.append(est.stderr)
            ov.append(ours[i])
            pv.append(np.nan if pub[i] is None else pub[i])
        panels.append({"curves": [{"x": xs, "y": ov, "style": "s", "label": "statfield EFT"},
                                  {"x": xs, "y": pv, "style": "^", "label": "published (SPS17, as quoted)"}],
                       "points": [{"x": np.asarray(xs) + 0.15, "y": mcv, "yerr": mce, "label": f"MC, N = {N}",
                                   "theory": np.asarray(ov, float)}],
                       "xticklabels": [k.replace("_abs", " |.|").replace("_", " ") for k in _keys(act)],
                       "ylabel": "invariant", "title": rf"{act}, $\sigma_w^2 = {sw2}$: invariants of the EFT"})
    fig = None
    if outdir is not None:
        from .plots import theory_vs_mc

        fig = theory_vs_mc(outdir / "paper_sps17.png", panels=panels)
    return finish(recs, t0, fig)
