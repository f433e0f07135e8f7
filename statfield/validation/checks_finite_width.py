r"""Checks of the finite-width theory (:mod:`statfield.finite_width`) against :func:`statfield.simulate`.

* ``finite-width-vertex`` — the four-point vertex :math:`V^{(l)} = n\,\mathrm{Var}\,\hat G^{(l)}`
  (PDLT, arXiv:2106.10165, §4.3): exact finite-width recursion for linear and ReLU
  (at depth/width up to 0.2, where the leading order is already off by 20–50%), leading order for
  tanh at depth/width :math:`\le 0.06` (where its remainder, measured below 0.5%, is below the MC error).
* ``finite-width-kurtosis`` — the excess kurtosis of one pre-activation,
  :math:`3\,\mathrm{Var}\hat G/(\mathbb E\hat G)^2 = 3V/(nK^2)`, same cases.
* ``finite-width-kernel-shift`` — the mean metric :math:`\mathbb E\hat G^{(l)} = K^{(l)} + K^{(l)}_{\{1\}}/n`
  for tanh (the :math:`1/n` shift, PDLT §4.5); for linear/ReLU it equals the mean-field kernel
  at every width.
* ``finite-width-two-input`` — the two-input vertex :math:`V_{(ab)(cd)} = n\,\mathrm{Cov}(\hat G_{ab},\hat G_{cd})`
  (leading order, :func:`statfield.finite_width.two_input_recursion`) for ReLU and tanh, against per-network
  metrics of the exact pre-activation sampler.

Monte Carlo: independent networks from :func:`statfield.simulate` (collective coordinates for
piecewise-linear φ, the exact pre-activation sampler for tanh); ``G_var`` has its standard error from
the 4th central moment, ``kurtosis`` by the delta method. Conventions: fan-in
:math:`W\sim N(0,\sigma_w^2/n)`, input :math:`x = (1,)` so :math:`K^{(1)} = \sigma_b^2 + \sigma_w^2`.
"""

from __future__ import annotations

import time

import numpy as np

from ._common import pick, sub_seed
from .core import compare, register_check

__all__ = ["finite_width_cases", "run_case", "check_vertex", "check_kurtosis", "check_kernel_shift", "check_two_input"]


def finite_width_cases(profile):
    """The (activation, sigma_w2, sigma_b2, width, depth, n_networks, theory) grid of a profile."""
    n_pl = pick(profile, 20_000, 200_000)
    n_tanh = pick(profile, 10_000, 100_000)
    cases = []
    widths = pick(profile, (50, 200), (50, 100, 200, 400))
    for act, sw, sb in (("linear", 1.0, 0.0), ("relu", 2.0, 0.0), ("relu", 1.6, 0.3)):
        for n in widths:
            if act == "relu" and sb > 0 and n != 50 and profile != "full":
                continue
            cases.append((act, sw, sb, n, n // 5 + 1, n_pl, "exact"))
    for sw, sb in pick(profile, ((1.5, 0.05),), ((1.5, 0.05), (1.0, 0.0))):
        for n in widths:
            # depth/n <= 0.06: the measured LO remainder for tanh is < 0.5% there (MC with 3e5 networks,
            # n = 50 and 200), below the 0.45% relative error of the full profile's variance estimate
            cases.append(("tanh", sw, sb, n, max(2, min(6, int(0.02 * n) + 2)), n_tanh, "leading order"))
    return cases


def run_case(case, seed):
    """Simulate one case; returns ``(theory FiniteWidthResult, SimulationResult, params)``."""
    from .. import finite_width as fw
    from ..sampling import simulate

    act, sw, sb, n, depth, N, kind = case
    K1 = sb + sw  # x = (1,)
    theory = fw.recursion(act, sw, sb, depth, K1, width=n, exact=(kind == "exact"))
    key = f"finite-width/{act}/{sw}/{sb}/{n}/{depth}"
    sim = simulate(act, sw, sb, n, depth, N, seed=sub_seed(seed, key), observables=("G", "G_var", "kurtosis"))
    params = {"activation": act, "sigma_w2": sw, "sigma_b2": sb, "width": n, "depth": depth, "n_networks": N,
              "theory": kind, "K1": K1}
    return theory, sim, params


def _layers(depth):
    return sorted({2, (depth + 2) // 2, depth})


_CACHE: dict = {}


def _results(profile, seed):
    key = (profile, seed)
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = [(case,) + run_case(case, seed) for case in finite_width_cases(profile)]
    return _CACHE[key]


@register_check("finite-width-vertex", "finite_width",
                "four-point vertex V = n Var G^l: exact (linear, ReLU) and leading order (tanh) vs MC")
def check_vertex(profile, seed, outdir):
    from ..stats import Estimate

    recs = []
    for case, theory, sim, params in _results(profile, seed):
        t0 = time.perf_counter()
        n = case[3]
        for l in _layers(case[4]):  # noqa: E741
            e = sim.estimates["G_var"][l - 1]
            est = Estimate(n * e.value, n * e.stderr, e.n)
            recs.append(compare(f"finite-width-vertex/{case[0]}/sw{case[1]}/sb{case[2]}/n{n}/l{l}",
                                f"V^({l}) = n Var G ({params['theory']})", theory.V[l - 1], est,
                                dict(params, layer=l), seed, runtime=time.perf_counter() - t0))
    if outdir is not None and recs:
        recs[-1].figure = _figure(profile, seed, outdir)
    return recs


@register_check("finite-width-kurtosis", "finite_width",
                "excess kurtosis of a pre-activation 3 Var G/(E G)^2 = 3V/(n K^2) vs MC")
def check_kurtosis(profile, seed, outdir):
    recs = []
    for case, theory, sim, params in _results(profile, seed):
        kap = theory.kurtosis(case[3])
        for l in _layers(case[4]):  # noqa: E741
            recs.append(compare(f"finite-width-kurtosis/{case[0]}/sw{case[1]}/sb{case[2]}/n{case[3]}/l{l}",
                                f"excess kurtosis of z^({l}) ({params['theory']})", kap[l - 1],
                                sim.estimates["kurtosis"][l - 1], dict(params, layer=l), seed))
    return recs


@register_check("finite-width-kernel-shift", "finite_width",
                "mean metric E G^l = K^l + K_shift^l / n (tanh; exactly K^l for linear, ReLU) vs MC")
def check_kernel_shift(profile, seed, outdir):
    recs = []
    for case, theory, sim, params in _results(profile, seed):
        Gm = theory.G_mean(case[3])
        l = case[4]  # noqa: E741
        recs.append(compare(f"finite-width-kernel-shift/{case[0]}/sw{case[1]}/sb{case[2]}/n{case[3]}/l{l}",
                            f"E G^({l}) = K + K_shift/n ({params['theory']})", Gm[l - 1],
                            sim.estimates["G"][l - 1], dict(params, layer=l, K_shift=float(theory.K_shift[l - 1])),
                            seed))
    return recs


def _figure(profile, seed, outdir):
    """V/K^2 vs depth for ReLU at n = 50: MC with error bars, exact and leading-order curves."""
    from .. import finite_width as fw
    from .plots import theory_vs_mc

    for case, theory, sim, params in _results(profile, seed):
        if case[0] == "relu" and case[2] == 0.0 and case[3] == 50:
            n, depth = case[3], case[4]
            lo = fw.recursion("relu", case[1], case[2], depth, params["K1"])
            ls = np.arange(1, depth + 1)
            K2 = theory.K**2
            val = np.array([e.value for e in sim.estimates["G_var"]]) * n / K2
            err = np.array([e.stderr for e in sim.estimates["G_var"]]) * n / K2
            return theory_vs_mc(outdir / "finite_width_vertex.png",
                                curves=[{"x": ls, "y": theory.V / K2, "label": "exact (finite n)"},
                                        {"x": ls, "y": lo.V / lo.K**2, "label": "leading order", "style": "--"}],
                                points=[{"x": ls, "y": val, "yerr": err, "label": f"MC, n = {n}"}],
                                xlabel="layer l", ylabel="V / K^2", title="ReLU at criticality, n = 50")
    return None


@register_check("finite-width-two-input", "finite_width",
                "two-input four-point vertex V_(ab)(cd) = n Cov(G_ab, G_cd) at leading order vs MC")
def check_two_input(profile, seed, outdir):
    """Leading-order two-input vertex (:func:`statfield.finite_width.two_input_recursion`) vs the exact
    pre-activation sampler (per-network metrics, covariance over independent networks)."""
    from .. import finite_width as fw
    from ..stats import Estimate
    from ._common import preactivation_layers

    N = pick(profile, 6_000, 60_000)
    # depth 3: the ReLU LO remainder is ~ c (l-2)/(2n) = 1.25% (n = 200) / 0.6% (n = 400), below the MC error
    n, depth = pick(profile, 200, 400), 3
    X = np.array([[1.0, 0.0], [0.6, 0.8]]) * np.array([[1.0], [1.3]])  # |x_1|^2/2 = 0.5, |x_2|^2/2 = 0.845
    recs = []
    for act, sw, sb in (("relu", 2.0, 0.0), ("tanh", 1.5, 0.05)):
        t0 = time.perf_counter()
        K1 = sb + sw * X @ X.T / X.shape[1]
        theory = fw.two_input_recursion(act, sw, sb, depth, K1)
        G = preactivation_layers(act, sw, sb, n, depth, N, X, seed, f"finite-width-two-input/{act}", want=("G",))["G"]
        ent = np.stack([G[..., 0, 0], G[..., 0, 1], G[..., 1, 1]], axis=-1)  # (N, depth, 3)
        d = ent - ent.mean(axis=0)
        params = {"activation": act, "sigma_w2": sw, "sigma_b2": sb, "width": n, "depth": depth, "n_networks": N,
                  "theory": "leading order", "K1": K1.tolist()}
        names = ("11", "12", "22")
        for i in range(3):
            for j in range(i, 3):
                prod = d[:, depth - 1, i] * d[:, depth - 1, j]
                est = Estimate(n * float(prod.mean()) * N / (N - 1), n * float(prod.std(ddof=1)) / np.sqrt(N), N)
                recs.append(compare(f"finite-width-two-input/{act}/({names[i]})({names[j]})/l{depth}",
                                    f"V_({names[i]})({names[j]}) at layer {depth} (leading order)",
                                    theory.V[depth - 1, i, j], est, dict(params, layer=depth), seed,
                                    runtime=time.perf_counter() - t0))
    return recs
