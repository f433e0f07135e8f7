r"""Power-law tails: the Clauset–Shalizi–Newman fit, its bootstrap error, likelihood ratios and the pitfalls.

Model (Clauset, Shalizi & Newman 2009, SIAM Rev. 51, 661, "CSN"): for :math:`x\ge x_{min}`,
:math:`p(x) = \frac{\alpha-1}{x_{min}}\,(x/x_{min})^{-\alpha}` (CSN Eq. 2.2), fitted to the values above
:math:`x_{min}`:

* :math:`\hat\alpha = 1 + n\bigl[\sum_{i}\ln(x_i/x_{min})\bigr]^{-1}` (maximum likelihood, CSN Eq. 3.1),
  asymptotic error :math:`(\hat\alpha-1)/\sqrt n` (CSN Eq. 3.2);
* :math:`x_{min}` minimises the Kolmogorov–Smirnov distance :math:`D` between the empirical and the fitted
  CDF of the tail (CSN Eq. 3.9), scanned over the observed values with at least ``n_tail_min`` points above;
* the reported uncertainty is the standard deviation over a **nonparametric bootstrap** that redoes the whole
  fit, :math:`x_{min}` scan included (CSN Sec. 3.4);
* with an upper cut :math:`x_{max}` the *truncated* density
  :math:`p(x)\propto x^{-\alpha}` on :math:`[x_{min}, x_{max}]` is used and :math:`\hat\alpha` solves the
  likelihood equation :math:`E_\alpha[\ln(x/x_{min})] = \overline{\ln(x/x_{min})}` (the normalisation is
  :math:`(\alpha-1)/(x_{min}^{1-\alpha} - x_{max}^{1-\alpha})`); any real :math:`\alpha` is then admissible.

The pitfalls this module reproduces on purpose (and statfield avoids by default):

1. ``xmax = max(x)`` (as weightwatcher once did, passing ``xmax=np.max(evals)`` to the ``powerlaw``
   package): a truncated power law fits *any* bounded bulk, e.g. the Marchenko–Pastur edge of pure Gaussian
   noise, with :math:`\alpha` between 1.5 and 5 and a small KS distance. statfield fits untruncated tails
   (``xmax=None``) and reports the same fit on Gaussian matrices of the same shape next to every
   :math:`\alpha` (:func:`statfield.spectra.matrix_metrics`).
2. A capped parameter range: the ``powerlaw`` package (2.x) restricts :math:`\alpha` to ``[0, 3]`` by default
   (``Power_Law.DEFAULT_PARAMETER_RANGES``), so a tail with :math:`\alpha = 4` is reported as 3.
   ``alpha_range=(lo, hi)`` reproduces a cap (the concave log-likelihood is then maximised at the clipped
   value) and :attr:`PowerLawFit.at_bound` says when the answer sits on the cap; the default is no cap.
3. The sign of the likelihood ratio: here :math:`R = \ln L_{PL} - \ln L_{alt}`, so **R > 0 favours the power
   law** (CSN Sec. 5.1 and the ``powerlaw`` package's ``distribution_compare(first, second)``, where R > 0
   favours the first); some reports use the opposite order. :class:`LikelihoodRatio` carries the convention
   in its ``favours`` field so that no reader has to guess.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .._checks import check_int

__all__ = ["PowerLawFit", "fit_powerlaw", "LikelihoodRatio", "likelihood_ratio", "TailFitError"]

_CHUNK_ELEMENTS = 2_000_000


class TailFitError(ValueError):
    """Raised when the data cannot support a tail fit (too few values, all equal, ...)."""


@dataclass(frozen=True)
class PowerLawFit:
    r"""Result of :func:`fit_powerlaw`.

    Attributes
    ----------
    alpha : float
        :math:`\hat\alpha` (CSN Eq. 3.1, or the truncated MLE when ``xmax`` is set).
    alpha_stderr : float
        Bootstrap standard deviation of :math:`\hat\alpha` when ``n_boot >= 2``, otherwise the asymptotic
        error ``alpha_stderr_asymptotic``; ``stderr_method`` says which.
    alpha_stderr_asymptotic : float
        :math:`(\hat\alpha-1)/\sqrt{n_{tail}}` (CSN Eq. 3.2) for an untruncated fit; for a truncated fit
        :math:`1/\sqrt{n_{tail}\,\mathrm{Var}_\alpha\ln(x/x_{min})}` (the Fisher information).
    xmin, xmax : float
        Lower cut (scanned or given) and upper cut (``None``: untruncated).
    xmin_stderr : float
        Bootstrap standard deviation of :math:`x_{min}` (0 when ``xmin`` was given or ``n_boot < 2``).
    n, n_tail : int
        Number of values, and of values used in the fit.
    ks_distance : float
        KS distance :math:`D` of the tail to the fitted law.
    at_bound : bool
        True when ``alpha`` sits on an end of ``alpha_range`` (a cap decided the answer, not the data).
    """

    alpha: float
    alpha_stderr: float
    alpha_stderr_asymptotic: float
    xmin: float
    xmax: float | None
    xmin_stderr: float
    n: int
    n_tail: int
    ks_distance: float
    n_boot: int
    stderr_method: str
    alpha_range: tuple | None = None
    at_bound: bool = False
    bootstrap_alphas: np.ndarray = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "bootstrap_alphas"}
        d["alpha_range"] = list(self.alpha_range) if self.alpha_range is not None else None
        return d


# --------------------------------------------------------------------------- core estimators
def _truncated_mean_log(beta, L):
    r""":math:`E[u]` for the density :math:`\propto e^{-\beta u}` on :math:`[0, L]` (:math:`u = \ln(x/x_{min})`)."""
    beta = np.asarray(beta, float)
    L = np.asarray(L, float)
    bl = beta * L
    small = np.abs(bl) < 1e-6
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        out = 1.0 / beta - L / np.expm1(bl)
    series = L / 2.0 - beta * L * L / 12.0
    out = np.where(small, series, out)
    # beta L -> +inf: E u -> 1/beta; beta L -> -inf: E u -> L + 1/beta
    out = np.where(~small & (bl > 700), 1.0 / np.where(beta == 0, 1.0, beta), out)
    out = np.where(~small & (bl < -700), L + 1.0 / np.where(beta == 0, 1.0, beta), out)
    return out


def _truncated_alpha(mean_u, L, lo=-60.0, hi=200.0):
    """Vectorised bisection of the truncated-power-law likelihood equation for beta = alpha - 1."""
    mean_u = np.asarray(mean_u, float)
    L = np.asarray(L, float)
    a = np.full(mean_u.shape, lo)
    b = np.full(mean_u.shape, hi)
    for _ in range(80):  # E u is strictly decreasing in beta
        m = 0.5 * (a + b)
        f = _truncated_mean_log(m, L) - mean_u
        a = np.where(f > 0, m, a)
        b = np.where(f > 0, b, m)
    return 1.0 + 0.5 * (a + b)


def _candidates(xs, n_tail_min, max_candidates):
    """Indices (into the sorted data) of the distinct values that leave >= n_tail_min points above."""
    n = xs.size
    idx = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    idx = idx[idx <= n - n_tail_min]
    if idx.size > max_candidates:
        idx = idx[np.unique(np.linspace(0, idx.size - 1, max_candidates).round().astype(int))]
    return idx


def _fit_core(xs, n_tail_min, xmin, xmax, alpha_range, max_candidates):
    """Fit on sorted data. Returns (alpha, xmin, n_tail, D) or raises TailFitError."""
    n = xs.size
    if xmax is not None:
        n_hi = int(np.searchsorted(xs, xmax, side="right"))
        trunc = True
    else:
        n_hi, trunc = n, False
    if xmin is not None:
        i0 = int(np.searchsorted(xs, xmin, side="left"))
        idx = np.array([i0])
        if n_hi - i0 < n_tail_min:
            raise TailFitError(f"only {n_hi - i0} values lie in [xmin, xmax]; a tail fit needs at least "
                               f"n_tail_min = {n_tail_min}")
        xmin_vals = np.array([float(xmin)])
    else:
        idx = _candidates(xs[:n_hi], n_tail_min, max_candidates)
        if idx.size == 0:
            raise TailFitError(f"no x_min candidate leaves n_tail_min = {n_tail_min} distinct-valued points "
                               f"in the tail (n = {n})")
        xmin_vals = xs[idx]
    logx = np.log(xs)
    csum = np.r_[np.cumsum(logx[::-1])[::-1], 0.0]  # csum[i] = sum_{j>=i} log x_j
    n_t = (n_hi - idx).astype(float)
    lxm = np.log(xmin_vals)
    S = csum[idx] - csum[n_hi] - n_t * lxm
    valid = S > 0
    mean_u = np.where(valid, S / n_t, 1.0)
    if trunc:
        L = math.log(float(xmax)) - lxm
        alpha = _truncated_alpha(mean_u, L)
    else:
        alpha = 1.0 + 1.0 / mean_u
    if alpha_range is not None:
        alpha = np.clip(alpha, alpha_range[0], alpha_range[1])
        if not trunc:
            alpha = np.maximum(alpha, 1.0 + 1e-9)
    # KS distance of each candidate's tail, in chunks (candidates x tail points)
    D = np.full(idx.size, np.inf)
    m_max = int(np.max(n_t))
    step = max(1, _CHUNK_ELEMENTS // max(m_max, 1))
    k = np.arange(m_max)
    for c0 in range(0, idx.size, step):
        sl = slice(c0, c0 + step)
        ii, nt, a, lm = idx[sl], n_t[sl], alpha[sl], lxm[sl]
        pos = ii[:, None] + k[None, :]
        mask = k[None, :] < nt[:, None]
        lx = logx[np.minimum(pos, n - 1)]
        u = lx - lm[:, None]
        with np.errstate(over="ignore", invalid="ignore"):
            if trunc:
                b = (a - 1.0)[:, None]
                Lc = (math.log(float(xmax)) - lm)[:, None]
                small = np.abs(b) < 1e-12
                bs = np.where(small, 1.0, b)
                F = np.where(small, u / Lc, np.expm1(-bs * u) / np.expm1(-bs * Lc))
            else:
                F = -np.expm1(-(a - 1.0)[:, None] * u)
        upper = (k[None, :] + 1.0) / nt[:, None] - F
        lower = F - k[None, :] / nt[:, None]
        d = np.where(mask, np.maximum(upper, lower), -np.inf).max(axis=1)
        D[sl] = d
    D = np.where(valid & np.isfinite(alpha), D, np.inf)
    j = int(np.argmin(D))
    if not np.isfinite(D[j]):
        raise TailFitError("every x_min candidate gives a degenerate tail (all tail values equal)")
    return float(alpha[j]), float(xmin_vals[j]), int(n_t[j]), float(D[j])


def _asymptotic_stderr(alpha, n_tail, xmin, xmax):
    if xmax is None:
        return (alpha - 1.0) / math.sqrt(n_tail)
    # observed Fisher information of the truncated likelihood: Var_alpha(u) per point, u = ln(x/xmin)
    L = math.log(xmax / xmin)
    b = alpha - 1.0
    h = 1e-5 * max(1.0, abs(b))
    dEu = (_truncated_mean_log(b + h, L) - _truncated_mean_log(b - h, L)) / (2 * h)  # = -Var(u)
    var_u = float(-dEu)
    return 1.0 / math.sqrt(n_tail * var_u) if var_u > 0 else math.inf


def _validate(x, n_tail_min):
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"x must be a 1-D array of real numbers, got {type(x).__name__}") from exc
    if arr.ndim != 1:
        raise ValueError(f"x must be 1-D, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"x must be finite: {int(np.sum(~np.isfinite(arr)))} NaN/inf value(s)")
    if np.any(arr <= 0):
        raise ValueError(f"x must be > 0 (a power law lives on x > 0): {int(np.sum(arr <= 0))} value(s) <= 0")
    n_tail_min = check_int(n_tail_min, "n_tail_min", minimum=2)
    if arr.size < 2 * n_tail_min:
        raise TailFitError(f"too few values for a tail fit: n = {arr.size}, need at least 2 * n_tail_min = "
                           f"{2 * n_tail_min}")
    return np.sort(arr), n_tail_min


def fit_powerlaw(x, xmin=None, xmax=None, *, n_tail_min=10, n_boot=0, seed=0, alpha_range=None,
                 max_candidates=1000) -> PowerLawFit:
    r"""Fit :math:`p(x)\propto x^{-\alpha}`, :math:`x\ge x_{min}`, by maximum likelihood (Clauset et al. 2009).

    Parameters
    ----------
    x : array_like, 1-D, finite, > 0
        The data (e.g. the eigenvalues of :math:`X = W^TW/N`).
    xmin : float, optional
        Fixed lower cut; default: scanned, minimising the KS distance (CSN Eq. 3.9).
    xmax : float, optional
        Upper cut of a *truncated* power law (values above are dropped). Default ``None`` (untruncated);
        ``xmax = max(x)`` reproduces pitfall 1 of the module docstring.
    n_tail_min : int >= 2
        Fewest points in the tail; ``x`` must hold at least ``2 * n_tail_min`` values.
    n_boot : int >= 0
        Bootstrap replicates for the error bar (each redoes the ``xmin`` scan). ``n_boot < 2`` reports the
        asymptotic error instead (``stderr_method`` says which).
    seed : int >= 0
        Seed of the bootstrap's NumPy ``Generator``.
    alpha_range : (float, float), optional
        Restrict :math:`\alpha` to ``[lo, hi]`` (a cap; pitfall 2). Default: none.
    max_candidates : int
        At most this many ``xmin`` candidates, evenly spaced in rank among the distinct values.

    Returns
    -------
    PowerLawFit

    Raises
    ------
    TailFitError
        Too few values, or no tail with distinct values (a :class:`ValueError`).
    ValueError
        Non-1-D, non-finite or non-positive data; bad ``alpha_range``/``xmin``/``xmax``.
    """
    xs, n_tail_min = _validate(x, n_tail_min)
    n_boot = check_int(n_boot, "n_boot", minimum=0)
    max_candidates = check_int(max_candidates, "max_candidates", minimum=1)
    if alpha_range is not None:
        lo, hi = (float(v) for v in alpha_range)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"alpha_range must be (lo, hi) with finite lo < hi, got {alpha_range!r}")
        alpha_range = (lo, hi)
    if xmin is not None:
        xmin = float(xmin)
        if not (math.isfinite(xmin) and xmin > 0):
            raise ValueError(f"xmin must be finite and > 0, got {xmin!r}")
    if xmax is not None:
        xmax = float(xmax)
        if not (math.isfinite(xmax) and xmax > 0):
            raise ValueError(f"xmax must be finite and > 0, got {xmax!r}")
        if xmin is not None and xmax <= xmin:
            raise ValueError(f"xmax must exceed xmin, got xmin = {xmin}, xmax = {xmax}")
    alpha, xm, n_tail, D = _fit_core(xs, n_tail_min, xmin, xmax, alpha_range, max_candidates)
    se_asym = _asymptotic_stderr(alpha, n_tail, xm, xmax)
    boots = None
    xmin_se = 0.0
    if n_boot >= 2:
        rng = np.random.default_rng(check_int(seed, "seed", minimum=0))
        a_b, x_b = [], []
        for _ in range(n_boot):
            sample = np.sort(xs[rng.integers(0, xs.size, xs.size)])
            try:
                a, xb, _, _ = _fit_core(sample, n_tail_min, xmin, xmax, alpha_range, max_candidates)
            except TailFitError:
                continue
            a_b.append(a)
            x_b.append(xb)
        if len(a_b) < 2:
            raise TailFitError(f"the bootstrap failed: only {len(a_b)} of {n_boot} resamples could be fitted")
        boots = np.asarray(a_b)
        se = float(np.std(boots, ddof=1))
        xmin_se = float(np.std(x_b, ddof=1)) if xmin is None else 0.0
        method = f"bootstrap ({len(a_b)} resamples, x_min rescanned)" if xmin is None else \
            f"bootstrap ({len(a_b)} resamples, fixed x_min)"
    else:
        se = se_asym
        method = "asymptotic (alpha - 1)/sqrt(n_tail), CSN Eq. 3.2" if xmax is None else \
            "asymptotic (observed Fisher information of the truncated likelihood)"
    at_bound = bool(alpha_range is not None and (np.isclose(alpha, alpha_range[0]) or np.isclose(alpha, alpha_range[1])))
    return PowerLawFit(alpha=alpha, alpha_stderr=se, alpha_stderr_asymptotic=se_asym, xmin=xm, xmax=xmax,
                       xmin_stderr=xmin_se, n=int(xs.size), n_tail=n_tail, ks_distance=D, n_boot=n_boot,
                       stderr_method=method, alpha_range=alpha_range, at_bound=at_bound, bootstrap_alphas=boots)


# --------------------------------------------------------------------------- likelihood ratios
@dataclass(frozen=True)
class LikelihoodRatio:
    r"""Vuong's test of the power law against an alternative on the same tail (CSN Sec. 5.1, Eq. 5.4 ff.).

    Attributes
    ----------
    R : float
        :math:`R = \sum_i[\ln p_{PL}(x_i) - \ln p_{alt}(x_i)]`: **R > 0 favours the power law**.
    p_value : float
        Two-sided significance of the sign of R, :math:`p = \mathrm{erfc}(|R|/\sqrt{2n\sigma^2})`
        (:math:`\sigma^2` the variance of the pointwise log-ratio; CSN Eq. C.6).
    normalized_R : float
        :math:`R/\sqrt{n\sigma^2}`.
    alternative : str
    favours : str
        ``"power_law"``, the alternative's name, or ``"neither"`` when ``p_value >= 0.1`` (CSN's threshold).
    """

    R: float
    p_value: float
    normalized_R: float
    alternative: str
    n_tail: int
    favours: str
    convention: str = "R = lnL(power law) - lnL(alternative); R > 0 favours the power law"

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _loglik_alternative(t, xmin, alternative):
    from scipy import optimize, special, stats

    if alternative == "exponential":
        lam = 1.0 / np.mean(t - xmin)  # MLE of the exponential shifted to xmin
        return np.log(lam) - lam * (t - xmin)
    if alternative == "lognormal":
        lt = np.log(t)
        lx = math.log(xmin)

        def nll(p):
            mu, ls = p
            s = math.exp(ls)
            z0 = (lx - mu) / s
            logsf = special.log_ndtr(-z0)
            return -np.sum(stats.norm.logpdf(lt, mu, s) - lt - logsf)

        p0 = np.array([float(np.mean(lt)), math.log(max(float(np.std(lt)), 1e-3))])
        res = optimize.minimize(nll, p0, method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000})
        mu, s = res.x[0], math.exp(res.x[1])
        return stats.norm.logpdf(lt, mu, s) - lt - special.log_ndtr(-(lx - mu) / s)
    raise ValueError(f"alternative must be 'exponential' or 'lognormal', got {alternative!r}")


def likelihood_ratio(x, fit: PowerLawFit, alternative="lognormal") -> LikelihoodRatio:
    r"""Compare the fitted (untruncated) power law with an alternative on the tail :math:`x\ge x_{min}`.

    Parameters
    ----------
    x : array_like
        The data given to :func:`fit_powerlaw`.
    fit : PowerLawFit
        An untruncated fit (``fit.xmax is None``).
    alternative : {"exponential", "lognormal"}
        Both fitted by maximum likelihood to the same tail, conditioned on :math:`x\ge x_{min}`.

    Returns
    -------
    LikelihoodRatio
        With the sign convention **R > 0 favours the power law** (see the module docstring, pitfall 3).
    """
    if fit.xmax is not None:
        raise ValueError("likelihood_ratio needs an untruncated fit (fit.xmax is None)")
    xs = np.asarray(x, float)
    t = np.sort(xs[xs >= fit.xmin])
    if t.size < 2:
        raise TailFitError(f"the tail above xmin = {fit.xmin} holds {t.size} value(s); need >= 2")
    a = fit.alpha
    l_pl = math.log(a - 1.0) - math.log(fit.xmin) - a * np.log(t / fit.xmin)
    l_alt = _loglik_alternative(t, fit.xmin, alternative)
    d = l_pl - l_alt
    R = float(np.sum(d))
    n = t.size
    sd = float(np.std(d))
    if sd > 0:
        nr = R / (math.sqrt(n) * sd)
        p = float(math.erfc(abs(nr) / math.sqrt(2.0)))
    else:
        nr, p = (0.0, 1.0) if R == 0 else (math.copysign(math.inf, R), 0.0)
    favours = "neither" if p >= 0.1 else ("power_law" if R > 0 else alternative)
    return LikelihoodRatio(R=R, p_value=p, normalized_R=nr, alternative=alternative, n_tail=int(n), favours=favours)
