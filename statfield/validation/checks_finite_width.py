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
* ``finite-width-multi-input`` — three inputs: the vertex :math:`V_{(ab)(cd)}` over input quadruples and the
  :math:`1/n` kernel shift :math:`K^{(1)}_{ab}` (:func:`statfield.finite_width.multi_input_recursion`) against
  :math:`n\,\mathrm{Cov}(\hat G_{ab},\hat G_{cd})` and :math:`n(\mathbb E\hat G_{ab} - K_{ab})` at 3 (4) widths,
  extrapolated linearly in :math:`1/n`.
* ``finite-width-one-hidden-layer`` — the connected four-point function of one hidden layer
  (:func:`statfield.finite_width.connected_four_point`, exact at every width) against explicit-weight networks at
  n = 3 and 10.

Monte Carlo: independent networks from :func:`statfield.simulate` (collective coordinates for
piecewise-linear φ, the exact pre-activation sampler for tanh); ``G_var`` has its standard error from
the 4th central moment, ``kurtosis`` by the delta method. Conventions: fan-in
:math:`W\sim N(0,\sigma_w^2/n)`, input :math:`x = (1,)` so :math:`K^{(1)} = \sigma_b^2 + \sigma_w^2`.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from ._common import pick, sub_seed
from .core import compare, register_check

__all__ = [
    "check_kernel_shift",
    "check_kurtosis",
    "check_multi_input",
    "check_one_hidden_layer",
    "check_two_input",
    "check_vertex",
    "finite_width_cases",
    "multi_input_mc",
    "run_case",
]


def finite_width_cases(profile):
    """The (activation, sigma_w2, sigma_b2, width, depth, n_networks, theory) grid of a profile."""
    n_pl = pick(profile, 20_000, 200_000)
    n_tanh = pick(profile, 10_000, 100_000)
    cases = []
    widths = pick(profile, (50, 200), (50, 100, 200, 400))
    for act, sw, sb in (("linear", 1.0, 0.0), ("relu", 2.0, 0.0), ("relu", 1.6, 0.3)):
        for n in widths:
            if sb > 0 and n != 50 and profile != "full":  # the biased ReLU case only at n = 50 (quick profile)
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
    K1 = sb + sw  # x = (1,), the default input of simulate and of recursion
    with warnings.catch_warnings():  # depth/width up to 0.2 on purpose (exact route; leading order where tested)
        warnings.simplefilter("ignore", fw.FiniteWidthWarning)
        theory = fw.recursion(act, sw, sb, depth, width=n, exact=(kind == "exact"))
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
        for l in _layers(case[4]):
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
        for l in _layers(case[4]):
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
        l = case[4]
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
        if case[1:4] == (2.0, 0.0, 50):  # the critical zero-bias ReLU case (sigma_w2 = 2) at n = 50
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


# --------------------------------------------------------------------------- several inputs
_MULTI_X = np.array([[1.0, 0.0], [0.6, 0.8], [-0.3, 1.2]])
_MULTI_V = ((0, 0, 0, 0), (0, 1, 0, 1), (0, 1, 2, 2), (0, 2, 1, 2), (0, 1, 1, 2))
_MULTI_KS = ((0, 0), (0, 1), (0, 2), (1, 2))


def _wls_intercept(x, y, s):
    """Weighted least squares y = a + b x; returns (a, stderr of a from the fit covariance)."""
    A = np.stack([np.ones_like(x), x], axis=1)
    W = 1.0 / s**2
    cov = np.linalg.inv(A.T @ (A * W[:, None]))
    coef = cov @ A.T @ (W * y)
    return float(coef[0]), float(np.sqrt(cov[0, 0]))


def multi_input_mc(act, sw, sb, widths, depth, N, seed, key, X=_MULTI_X):
    """Per width: ``n Cov(G_ab, G_cd)`` (entries ``_MULTI_V``) and ``n (E G_ab - K_ab)`` (``_MULTI_KS``) at layer
    ``depth`` with standard errors, from independent networks of the exact pre-activation sampler."""
    from .. import finite_width as fw
    from ._common import preactivation_layers

    lo = fw.multi_input_recursion(act, sw, sb, depth, X)
    out = {"V": {e: [] for e in _MULTI_V}, "K_shift": {e: [] for e in _MULTI_KS}}
    for n in widths:
        G = preactivation_layers(act, sw, sb, n, depth, N, X, seed, f"{key}/n{n}", want=("G",))["G"][:, depth - 1]
        for a, b, c, d in _MULTI_V:
            x, y = G[:, a, b] - G[:, a, b].mean(), G[:, c, d] - G[:, c, d].mean()
            prod = x * y
            out["V"][(a, b, c, d)].append((n * float(prod.sum()) / (N - 1), n * float(prod.std(ddof=1)) / np.sqrt(N)))
        for a, b in _MULTI_KS:
            g = G[:, a, b]
            out["K_shift"][(a, b)].append((n * (float(g.mean()) - lo.K[depth - 1, a, b]),
                                           n * float(g.std(ddof=1)) / np.sqrt(N)))
    return lo, out


@register_check("finite-width-multi-input", "finite_width",
                "P = 3 inputs: vertex V_(ab)(cd) and kernel shift K1_ab at leading order vs MC extrapolated in 1/n",
                caption=r"Several inputs: $n\,\mathrm{Cov}(\hat G_{ab},\hat G_{cd})$ and $n(\mathbb E\hat G_{ab}-K_{ab})$ "
                        r"at three or more widths, extrapolated linearly in $1/n$, against the leading-order "
                        r"$V_{(ab)(cd)}$ and $K^{(1)}_{ab}$.")
def check_multi_input(profile, seed, outdir):
    """Leading-order multi-input vertex and 1/n kernel shift (:func:`statfield.finite_width.multi_input_recursion`)
    against per-network metrics of the exact pre-activation sampler at 3 (quick) or 4 (full) widths; the MC values
    ``n Cov`` and ``n (E G - K)`` are ``V + O(1/n)`` and ``K_shift + O(1/n)``, so a weighted linear fit in ``1/n``
    is extrapolated to ``1/n -> 0`` (intercept error from the fit covariance)."""
    from ..stats import Estimate

    widths = pick(profile, (16, 32, 64), (16, 32, 64, 128))
    N = pick(profile, 20_000, 150_000)
    depth = 3
    recs = []
    for act, sw, sb in (("tanh", 1.5, 0.05), ("relu", 2.0, 0.1)):
        t0 = time.perf_counter()
        lo, mc = multi_input_mc(act, sw, sb, widths, depth, N, seed, f"finite-width-multi/{act}")
        x = 1.0 / np.asarray(widths, float)
        params = {"activation": act, "sigma_w2": sw, "sigma_b2": sb, "widths": list(widths), "depth": depth,
                  "n_networks": N, "inputs": _MULTI_X.tolist(), "theory": "leading order, 1/n extrapolation"}
        V = lo.vertex(depth)
        for (a, b, c, d), pts in mc["V"].items():
            y, s = np.array(pts).T
            val, se = _wls_intercept(x, y, s)
            recs.append(compare(f"finite-width-multi-input/{act}/V({a}{b})({c}{d})/l{depth}",
                                f"V_({a}{b})({c}{d}) at layer {depth} (1/n -> 0)", V[a, b, c, d],
                                Estimate(val, se, N), dict(params, entry=[a, b, c, d]), seed,
                                runtime=time.perf_counter() - t0))
        for (a, b), pts in mc["K_shift"].items():
            y, s = np.array(pts).T
            val, se = _wls_intercept(x, y, s)
            recs.append(compare(f"finite-width-multi-input/{act}/K1({a}{b})/l{depth}",
                                f"K_shift_{a}{b} at layer {depth} (1/n -> 0)", lo.K_shift[depth - 1, a, b],
                                Estimate(val, se, N), dict(params, entry=[a, b]), seed))
    return recs


@register_check("finite-width-one-hidden-layer", "finite_width",
                "connected four-point function of one hidden layer: exact at every width (n = 3, 10) vs MC",
                caption=r"One hidden layer: the connected four-point function $\mathbb E[z_az_bz_cz_d] - (3\text{ pairings})$ "
                        r"is exact at every width (Halverson, Maiti, Stoner, arXiv:2008.08601).")
def check_one_hidden_layer(profile, seed, outdir):
    """:func:`statfield.finite_width.connected_four_point` at depth 2 vs the fourth cumulant of the units of
    layer 2 (per-network unit averages, influence-function standard errors) at small widths."""
    from .. import finite_width as fw
    from ..activations import get_activation
    from ..stats import Estimate

    N = pick(profile, 40_000, 400_000)
    recs = []
    for act, sw, sb in (("tanh", 1.6, 0.1), ("relu", 2.0, 0.1)):
        for n in (3, 10):
            t0 = time.perf_counter()
            th = fw.connected_four_point(act, sw, sb, _MULTI_X, 2, n)
            rng = np.random.default_rng(sub_seed(seed, f"finite-width-1hl/{act}/{n}"))
            Z = _one_hidden_layer_units(get_activation(act), sw, sb, _MULTI_X, n, N, rng)
            for idx in ((0, 0, 0, 0), (0, 1, 0, 1), (0, 0, 1, 2), (0, 1, 2, 2)):
                kap, se = _fourth_cumulant(Z, idx)
                recs.append(compare(f"finite-width-one-hidden-layer/{act}/n{n}/{''.join(map(str, idx))}",
                                    f"connected <z z z z> at n = {n} (exact)", th[idx], Estimate(kap, se, N),
                                    {"activation": act, "sigma_w2": sw, "sigma_b2": sb, "width": n, "entry": list(idx),
                                     "n_networks": N}, seed, runtime=time.perf_counter() - t0))
    return recs


def _one_hidden_layer_units(act, sw, sb, X, n, N, rng):
    """Units of layer 2 (N, n, P) of N independent networks with n hidden units (explicit weights, exact)."""
    d_in = X.shape[1]
    W1 = rng.standard_normal((N, n, d_in)) * np.sqrt(sw / d_in)
    b1 = rng.standard_normal((N, n, 1)) * np.sqrt(sb)
    H = act.numpy(W1 @ X.T + b1)  # (N, n, P)
    W2 = rng.standard_normal((N, n, n)) * np.sqrt(sw / n)
    b2 = rng.standard_normal((N, n, 1)) * np.sqrt(sb)
    return W2 @ H + b2


def _fourth_cumulant(z, idx):
    """Connected E[z_a z_b z_c z_d] from units z (N, n, P) of independent networks (mean zero exactly).

    Per-network unit averages are independent; the standard error is that of the influence function
    ``y4 - sum over pairings (m_ab y_cd + m_cd y_ab)``.
    """
    a, b, c, d = idx
    pairs = ((a, b, c, d), (a, c, b, d), (a, d, b, c))
    y4 = np.mean(z[..., a] * z[..., b] * z[..., c] * z[..., d], axis=1)
    need = {tuple(p) for i, j, k, l in pairs for p in ((i, j), (k, l))}
    y2 = {p: np.mean(z[..., p[0]] * z[..., p[1]], axis=1) for p in need}
    m2 = {p: float(v.mean()) for p, v in y2.items()}
    kap = float(y4.mean()) - sum(m2[(i, j)] * m2[(k, l)] for i, j, k, l in pairs)
    psi = y4 - sum(m2[(i, j)] * y2[(k, l)] + m2[(k, l)] * y2[(i, j)] for i, j, k, l in pairs)
    return kap, float(psi.std(ddof=1)) / np.sqrt(psi.size)
