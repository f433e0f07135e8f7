r"""Exact finite-size baselines for Gaussian weight matrices, and the null ensembles.

Convention (every function of :mod:`statfield.spectra`): a weight matrix :math:`W` has shape
``(n_rows, n_cols)``; when ``n_rows < n_cols`` it is **transposed** first, so that
:math:`N = \max(n_{rows}, n_{cols}) \ge M = \min(n_{rows}, n_{cols})`, and its spectrum is the set of the
:math:`M` eigenvalues of the correlation matrix

.. math:: X = W^T W / N \quad (M\times M),\qquad \lambda_i(X) = s_i(W)^2/N,

with :math:`s_i` the singular values of :math:`W` (the convention of Martin & Mahoney, arXiv:1810.01075,
Eq. 1, and of weightwatcher). For :math:`W_{ij}\sim N(0, v)` i.i.d. (``variance = v``):

* :math:`\|W\|_F^2 = v\,\chi^2_{k}`, :math:`k = NM`, hence (digamma :math:`\psi`, trigamma :math:`\psi_1`)
  :math:`E\ln\|W\|_F^2 = \ln(2v) + \psi(k/2)`, :math:`\mathrm{Var}\ln\|W\|_F^2 = \psi_1(k/2)`
  (moments of :math:`\ln\chi^2`; Johnson, Kotz & Balakrishnan, *Continuous Univariate Distributions* 1,
  Ch. 18);
* :math:`W^TW\sim\mathcal W_M(N, vI)` (real Wishart), so (Muirhead 1982, Thm 3.2.15; Bishop 2006, Eq. B.81)
  :math:`E\ln\det W^TW = M\ln(2v) + \sum_{i=1}^{M}\psi\bigl(\tfrac{N-i+1}{2}\bigr)` and
  :math:`E\,\tfrac1M\sum_i\ln\lambda_i = \ln\tfrac{2v}{N} + \tfrac1M\sum_{i=1}^{M}\psi\bigl(\tfrac{N-i+1}{2}\bigr)`;
* :math:`E (W^TW)^2 = v^2 N(N+M+1) I` (fourth Gaussian moments), so
  :math:`E\,\tfrac1M\sum_i\lambda_i^2 = v^2 (N+M+1)/N` and :math:`E\,\tfrac1M\sum_i\lambda_i = v`;
* Marchenko–Pastur limits :math:`\lambda_\pm = v(1\pm\sqrt{y})^2`, :math:`y = M/N`
  (Marchenko & Pastur 1967);
* largest eigenvalue (Johnstone 2001, Ann. Statist. 29, 295, Thm 1.1):
  :math:`(N\lambda_{max}/v - \mu_{NM})/\sigma_{NM}\to TW_1` with
  :math:`\mu_{NM} = (\sqrt{N-1}+\sqrt{M})^2`,
  :math:`\sigma_{NM} = (\sqrt{N-1}+\sqrt{M})(1/\sqrt{N-1}+1/\sqrt{M})^{1/3}` — an approximation
  (accurate to a few percent in the quantiles already for :math:`M \sim 10`; Johnstone 2001, Table 1).

The null of a random network in statfield's conventions (``docs/conventions.md``): layer :math:`l` has
:math:`W^l\in\mathbb R^{N_l\times N_{l-1}}`, :math:`W^l_{ij}\sim N(0, \sigma_w^2/N_{l-1})` (fan-in = number
of columns, the PyTorch ``Linear.weight`` layout), see :func:`random_network_weights` and
:func:`network_baselines`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._checks import check_int, check_positive

__all__ = ["GaussianBaseline", "gaussian_baseline", "gaussian_matrices", "random_network_weights",
           "network_baselines", "pareto_matrix", "student_t_matrix", "esd_tail_alpha", "pareto_sample",
           "spectrum_shape"]

_LN10 = math.log(10.0)


def spectrum_shape(n_rows, n_cols):
    """``(N, M, transposed)`` with ``N = max``, ``M = min`` and ``transposed = n_rows < n_cols``."""
    n_rows = check_int(n_rows, "n_rows", minimum=1)
    n_cols = check_int(n_cols, "n_cols", minimum=1)
    return max(n_rows, n_cols), min(n_rows, n_cols), n_rows < n_cols


@dataclass(frozen=True)
class GaussianBaseline:
    r"""Exact expectations for an ``n_rows x n_cols`` matrix with i.i.d. :math:`N(0, v)` entries.

    All attributes refer to the conventions of the module docstring (:math:`X = W^TW/N`, :math:`N\ge M`,
    the matrix transposed when ``n_rows < n_cols``; ``transposed`` says whether it was).

    Attributes
    ----------
    n_rows, n_cols : int
        The shape as given.
    variance : float
        :math:`v`, the variance of one entry.
    N, M : int
        :math:`N = \max`, :math:`M = \min` of the shape.
    transposed : bool
        True when ``n_rows < n_cols`` (the spectrum is that of :math:`WW^T/N_{cols}`).
    log10_frobenius_sq : float
        :math:`E\log_{10}\|W\|_F^2 = [\ln(2v) + \psi(NM/2)]/\ln 10` (exact).
    ln_frobenius, ln_frobenius_sd : float
        Mean :math:`\tfrac12[\ln(2v) + \psi(NM/2)]` and standard deviation
        :math:`\tfrac12\sqrt{\psi_1(NM/2)}` of :math:`\ln\|W\|_F` (exact).
    frobenius_sq : float
        :math:`E\|W\|_F^2 = vNM`.
    mean_eig : float
        :math:`E\,\tfrac1M\sum\lambda_i = v`.
    mean_log_eig : float
        :math:`E\,\tfrac1M\sum\ln\lambda_i` (exact, Wishart log-determinant).
    mean_eig_sq : float
        :math:`E\,\tfrac1M\sum\lambda_i^2 = v^2(N+M+1)/N` (exact).
    mp_edges : (float, float)
        :math:`v(1\mp\sqrt{M/N})^2`.
    tw_center, tw_scale : float
        Johnstone's centring and scaling of :math:`\lambda_{max}` in units of :math:`X`:
        :math:`v\mu_{NM}/N` and :math:`v\sigma_{NM}/N`; ``None`` for :math:`N = 1` (the Tracy–Widom methods
        then raise).
    """

    n_rows: int
    n_cols: int
    variance: float
    N: int
    M: int
    transposed: bool
    log10_frobenius_sq: float
    ln_frobenius: float
    ln_frobenius_sd: float
    frobenius_sq: float
    mean_eig: float
    mean_log_eig: float
    mean_eig_sq: float
    mp_edges: tuple
    tw_center: float | None
    tw_scale: float | None

    def _tw(self):
        if self.tw_center is None:
            raise ValueError(f"the Tracy-Widom edge needs N >= 2 (Johnstone 2001), got N = {self.N}")
        return self.tw_center, self.tw_scale

    @property
    def ratio(self) -> float:
        """:math:`y = M/N \\le 1`."""
        return self.M / self.N

    def lambda_max_cdf(self, lam):
        r""":math:`P(\lambda_{max}\le\lambda)\approx F_1((\lambda - \text{tw\_center})/\text{tw\_scale})` (Johnstone 2001)."""
        from .tracy_widom import tracy_widom_cdf

        c, s = self._tw()
        return tracy_widom_cdf((np.asarray(lam, float) - c) / s, beta=1)

    def lambda_max_quantile(self, q):
        r"""Quantile of :math:`\lambda_{max}` from the :math:`TW_1` approximation."""
        from .tracy_widom import tracy_widom_ppf

        c, s = self._tw()
        return c + s * np.asarray(tracy_widom_ppf(q, beta=1))

    @property
    def lambda_max_mean(self) -> float:
        r""":math:`E\lambda_{max}\approx` ``tw_center + tw_scale * E TW_1`` (Johnstone 2001)."""
        from .tracy_widom import tracy_widom_moments

        c, s = self._tw()
        return c + s * tracy_widom_moments(1)[0]

    @property
    def lambda_max_sd(self) -> float:
        r"""Standard deviation of :math:`\lambda_{max}` from :math:`TW_1`: ``tw_scale * sd(TW_1)``."""
        from .tracy_widom import tracy_widom_moments

        return self._tw()[1] * math.sqrt(tracy_widom_moments(1)[1])

    def tw_statistic(self, lam) -> float:
        r"""The Tracy–Widom statistic :math:`s = (\lambda_{max} - \text{tw\_center})/\text{tw\_scale}`.

        :math:`s \gg 1` (e.g. :math:`1 - F_1(s) < 10^{-3}` for :math:`s > 2.4`) flags a spike beyond the
        bulk of a Gaussian matrix of this shape and variance.
        """
        c, s = self._tw()
        return float((float(lam) - c) / s)

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["mp_edges"] = list(self.mp_edges)
        d["ratio"] = self.ratio
        return d


def gaussian_baseline(n_rows, n_cols, variance=1.0) -> GaussianBaseline:
    r"""Exact finite-size expectations for an ``n_rows x n_cols`` matrix with i.i.d. :math:`N(0, v)` entries.

    Parameters
    ----------
    n_rows, n_cols : int >= 1
        Shape of :math:`W` (transposed internally when ``n_rows < n_cols``; ``transposed`` records it).
    variance : float > 0
        Variance :math:`v` of one entry. For statfield's random-network null use
        ``variance = sigma_w2 / fan_in`` with ``fan_in = n_cols`` (``docs/conventions.md``).

    Returns
    -------
    GaussianBaseline
        See its attributes; the equations and sources are in the module docstring.

    Examples
    --------
    >>> b = gaussian_baseline(512, 256, variance=2.0 / 256)
    >>> round(b.mean_eig_sq / b.variance**2, 4)   # (N + M + 1)/N
    1.502
    """
    from scipy.special import polygamma, psi

    v = check_positive(variance, "variance")
    N, M, transposed = spectrum_shape(n_rows, n_cols)
    k2 = 0.5 * N * M
    ln_f2 = math.log(2.0 * v) + float(psi(k2))
    sd_ln_f2 = math.sqrt(float(polygamma(1, k2)))
    i = np.arange(1, M + 1)
    mean_log = math.log(2.0 * v / N) + float(np.mean(psi((N - i + 1) / 2.0)))
    sq = math.sqrt(M / N)
    if N >= 2:  # Johnstone's centring needs N - 1 >= 1
        a = math.sqrt(N - 1)
        mu = (a + math.sqrt(M)) ** 2
        sig = (a + math.sqrt(M)) * (1.0 / a + 1.0 / math.sqrt(M)) ** (1.0 / 3.0)
        tw_c, tw_s = v * mu / N, v * sig / N
    else:
        tw_c = tw_s = None
    return GaussianBaseline(
        n_rows=int(n_rows), n_cols=int(n_cols), variance=v, N=N, M=M, transposed=transposed,
        log10_frobenius_sq=ln_f2 / _LN10, ln_frobenius=0.5 * ln_f2, ln_frobenius_sd=0.5 * sd_ln_f2,
        frobenius_sq=v * N * M, mean_eig=v, mean_log_eig=mean_log, mean_eig_sq=v * v * (N + M + 1) / N,
        mp_edges=(v * (1.0 - sq) ** 2, v * (1.0 + sq) ** 2), tw_center=tw_c, tw_scale=tw_s)


def _generator(seed):
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    seed = check_int(seed, "seed", minimum=0)
    return np.random.default_rng(seed)


def gaussian_matrices(n_rows, n_cols, variance=1.0, n=1, seed=0) -> np.ndarray:
    r"""``n`` i.i.d. :math:`N(0, v)` matrices, shape ``(n, n_rows, n_cols)`` (NumPy ``Generator(PCG64)``).

    Parameters
    ----------
    n_rows, n_cols, n : int >= 1
    variance : float > 0
    seed : int >= 0, numpy.random.SeedSequence or numpy.random.Generator
    """
    n_rows = check_int(n_rows, "n_rows", minimum=1)
    n_cols = check_int(n_cols, "n_cols", minimum=1)
    n = check_int(n, "n", minimum=1)
    v = check_positive(variance, "variance")
    return math.sqrt(v) * _generator(seed).standard_normal((n, n_rows, n_cols))


def random_network_weights(widths, sigma_w2=1.0, seed=0) -> list:
    r"""The weight matrices of one random network in statfield's conventions (the null ensemble).

    :math:`W^l\in\mathbb R^{N_l\times N_{l-1}}`, :math:`W^l_{ij}\sim N(0, \sigma_w^2/N_{l-1})`, ``l = 1..L``
    (``docs/conventions.md``; fan-in parameterisation as in :func:`statfield.simulate`).

    Parameters
    ----------
    widths : sequence of int >= 1
        :math:`(N_0 = d_{in}, N_1, \dots, N_L)`, at least two entries.
    sigma_w2 : float > 0
        Weight variance per fan-in.
    seed : int >= 0, SeedSequence or Generator
        Seed of the NumPy ``Generator``.

    Returns
    -------
    list of ndarray
        ``[W^1, ..., W^L]`` with ``W^l.shape == (N_l, N_{l-1})``.
    """
    widths = [check_int(w, "widths[i]", minimum=1) for w in widths]
    if len(widths) < 2:
        raise ValueError(f"widths must list d_in and at least one layer width (>= 2 entries), got {widths}")
    sw2 = check_positive(sigma_w2, "sigma_w2")
    rng = _generator(seed)
    return [math.sqrt(sw2 / fan_in) * rng.standard_normal((n_out, fan_in))
            for fan_in, n_out in zip(widths[:-1], widths[1:])]


def network_baselines(widths, sigma_w2=1.0) -> list:
    r""":class:`GaussianBaseline` of every layer of the random-network null (:func:`random_network_weights`).

    The network's average log norm :math:`\tfrac1L\sum_l\log_{10}\|W^l\|_F^2` has the exact expectation
    ``mean(b.log10_frobenius_sq for b in network_baselines(widths, sigma_w2))``.
    """
    widths = [check_int(w, "widths[i]", minimum=1) for w in widths]
    if len(widths) < 2:
        raise ValueError(f"widths must list d_in and at least one layer width (>= 2 entries), got {widths}")
    sw2 = check_positive(sigma_w2, "sigma_w2")
    return [gaussian_baseline(n_out, fan_in, sw2 / fan_in) for fan_in, n_out in zip(widths[:-1], widths[1:])]


# --------------------------------------------------------------------------- heavy-tailed ensembles
def pareto_sample(n, alpha, xmin=1.0, seed=0) -> np.ndarray:
    r"""``n`` i.i.d. draws of a continuous power law :math:`p(x) = \frac{\alpha-1}{x_{min}}(x/x_{min})^{-\alpha}`,
    :math:`x\ge x_{min}` (Clauset, Shalizi & Newman 2009, Eq. 2.2; inverse transform, their Eq. D.4).

    Parameters
    ----------
    n : int >= 1
    alpha : float > 1
        The density exponent.
    xmin : float > 0
    seed : int >= 0, SeedSequence or Generator
    """
    n = check_int(n, "n", minimum=1)
    alpha = float(alpha)
    if not (math.isfinite(alpha) and alpha > 1):
        raise ValueError(f"alpha must be finite and > 1 (a normalisable power law), got {alpha!r}")
    xmin = check_positive(xmin, "xmin")
    u = _generator(seed).random(n)
    return xmin * (1.0 - u) ** (-1.0 / (alpha - 1.0))


def pareto_matrix(n_rows, n_cols, mu, seed=0, signed=False) -> np.ndarray:
    r"""A matrix with i.i.d. Pareto (Lomax) entries of tail index :math:`\mu`: :math:`P(|W_{ij}| > t)\sim t^{-\mu}`.

    Entries are ``Generator.pareto(mu)`` (:math:`P(x > t) = (1+t)^{-\mu}`, the ensemble of the seed
    experiments, ``np.random.pareto(a=mu)``), with random signs when ``signed``. The ESD tail exponent of
    :math:`X = W^TW/N` is :func:`esd_tail_alpha` (``mu``).
    """
    n_rows = check_int(n_rows, "n_rows", minimum=1)
    n_cols = check_int(n_cols, "n_cols", minimum=1)
    mu = check_positive(mu, "mu")
    rng = _generator(seed)
    W = rng.pareto(mu, size=(n_rows, n_cols))
    if signed:
        W = W * rng.choice((-1.0, 1.0), size=W.shape)
    return W


def student_t_matrix(n_rows, n_cols, nu, seed=0) -> np.ndarray:
    r"""A matrix with i.i.d. Student-t entries with :math:`\nu` degrees of freedom (tail index :math:`\mu = \nu`)."""
    n_rows = check_int(n_rows, "n_rows", minimum=1)
    n_cols = check_int(n_cols, "n_cols", minimum=1)
    nu = check_positive(nu, "nu")
    return _generator(seed).standard_t(nu, size=(n_rows, n_cols))


def esd_tail_alpha(mu) -> float:
    r"""The ESD tail exponent of :math:`X = W^TW/N` for i.i.d. entries of tail index :math:`\mu`, :math:`0<\mu<4`.

    :math:`\alpha = 1 + \mu/2`: the largest eigenvalues are carried by the largest entries,
    :math:`\lambda\approx W_{ij}^2/N`, and :math:`P(W_{ij}^2 > t)\sim t^{-\mu/2}` (Martin & Mahoney,
    arXiv:1810.01075, Table 3 for :math:`\mu<2`; Auffinger, Ben Arous & Péché 2009 for the extreme
    eigenvalues at :math:`\mu < 4`). For :math:`\mu\ge 4` the edge is Tracy–Widom and there is no power-law
    tail: a :class:`ValueError` is raised.
    """
    mu = check_positive(mu, "mu")
    if mu >= 4.0:
        raise ValueError(f"mu must lie in (0, 4) for a power-law ESD tail, got {mu!r} (mu >= 4: Tracy-Widom edge)")
    return 1.0 + 0.5 * mu
