r"""Correlated sequences and lagged correlators along a chain index (layers, sites of a ring).

* :func:`autocorrelation_function`, :func:`integrated_time` (Sokal's window, as in emcee),
  :func:`mean_with_tau` — correlated sequences;
* :class:`LaggedCorrelator` — streaming connected correlators :math:`\langle x_l x_{l+m}^T\rangle_c` from
  independent chains (open chain per site, or site-averaged on a ring);
* :func:`lagged_covariances` — per-chain connected lagged covariances of a window (one number per chain,
  for jackknife errors of non-linear functions of them);
* :func:`connected_lag_estimates` — the delta-method connected correlator
  :math:`C_m = \overline{S_m} - \mu\mu^\top` from the joint covariance of per-chain lag products
  :math:`S_m` and means :math:`a` (shared by :class:`LaggedCorrelator` and :func:`statfield.simulate`).
"""

from __future__ import annotations

import math

import numpy as np

from .accumulators import _PAIR_ORDERS_4, CovarianceAccumulator, _cov_stderr, _merge_bivariate, _pair_batch
from .estimate import Estimate

__all__ = ["autocorrelation_function", "integrated_time", "mean_with_tau", "LaggedCorrelator",
           "lagged_covariances", "connected_lag_estimates"]


def autocorrelation_function(x, axis=0):
    r"""Normalised autocorrelation function :math:`\rho(t)` of a sequence (FFT, :math:`O(n\log n)`).

    ``x`` has the sequence along ``axis``; other axes are independent chains whose
    autocovariances are averaged before normalising (as emcee does over walkers).
    Estimator: :math:`\hat C(t) = \frac1n\sum_{s<n-t}(x_s-\bar x)(x_{s+t}-\bar x)` (biased,
    positive definite), :math:`\rho(t) = \hat C(t)/\hat C(0)`.
    """
    x = np.moveaxis(np.asarray(x, dtype=float), axis, 0)
    n = x.shape[0]
    x = x.reshape(n, -1)
    nfft = 1 << (2 * n - 1).bit_length()
    d = x - x.mean(axis=0)
    f = np.fft.rfft(d, n=nfft, axis=0)
    acov = np.fft.irfft(f * np.conj(f), n=nfft, axis=0)[:n] / n
    acov = acov.mean(axis=1)
    if acov[0] <= 0:
        raise ValueError("x has zero variance: the autocorrelation function is undefined")
    return acov / acov[0]


def integrated_time(x, axis=0, c=5.0) -> Estimate:
    r"""Integrated autocorrelation time :math:`\tau_\mathrm{int} = 1 + 2\sum_{t\ge1}\rho(t)` with
    Sokal's automatic window.

    Sokal (1997, "Monte Carlo methods in statistical mechanics", Sec. 3), as implemented in emcee's
    ``autocorr.integrated_time`` (Foreman-Mackey et al. 2013; Goodman & Weare 2010): the sum is cut
    at the smallest window :math:`M` with :math:`M \ge c\,\hat\tau(M)`. With this definition the
    variance of the mean of :math:`n` correlated samples is :math:`\sigma^2\tau_\mathrm{int}/n`
    (e.g. :math:`\tau_\mathrm{int}=(1+a)/(1-a)` for an AR(1) process with coefficient :math:`a`).

    Returns
    -------
    Estimate
        ``value`` = :math:`\hat\tau`, ``stderr`` = Sokal's :math:`\hat\tau\sqrt{2(2M+1)/n_\mathrm{tot}}`
        (:math:`n_\mathrm{tot}` = all samples of all chains), ``n`` = :math:`n_\mathrm{tot}`.
        Reliable only for chains longer than ~50 :math:`\tau` (a ``RuntimeWarning`` says otherwise).
    """
    import warnings

    from .._checks import check_positive

    check_positive(c, "c")
    x = np.moveaxis(np.asarray(x, dtype=float), axis, 0)
    n = x.shape[0]
    if n < 8:
        raise ValueError(f"x must have at least 8 samples along axis {axis}, got {n}")
    rho = autocorrelation_function(x)
    taus = 2.0 * np.cumsum(rho) - 1.0
    ok = np.arange(n) >= c * taus
    window = int(np.argmax(ok)) if np.any(ok) else n - 1
    tau = float(taus[window])
    ntot = int(np.prod(x.shape))
    if n < 50 * tau:
        warnings.warn(f"integrated_time: chain of {n} samples is shorter than 50 tau = {50 * tau:.0f}; "
                      "the estimate is unreliable", RuntimeWarning, stacklevel=2)
    return Estimate(tau, tau * math.sqrt(2.0 * (2 * window + 1) / ntot), ntot)


def mean_with_tau(x, axis=0, c=5.0) -> Estimate:
    r"""Mean of a correlated sequence with error :math:`\sqrt{s^2\hat\tau_\mathrm{int}/n}`.

    ``x`` is 1-D (or has independent chains on the other axes, pooled, with a common
    :math:`\tau`). ``n`` of the result is the effective sample size :math:`n/\hat\tau`.
    """
    x = np.moveaxis(np.asarray(x, dtype=float), axis, 0)
    tau = integrated_time(x, c=c).value
    ntot = x.size
    se = math.sqrt(float(np.var(x, ddof=1)) * max(tau, 1e-300) / ntot)
    return Estimate(float(np.mean(x)), se, max(1, int(round(ntot / max(tau, 1.0)))))


class LaggedCorrelator:
    r"""Streaming connected lagged correlators along a chain index, from independent chains.

    For configurations :math:`x_{c,l,i}` (chain :math:`c`, site/layer :math:`l = 0..L-1`, field
    component :math:`i = 0..d-1`) it estimates

    .. math:: C_{ij}(l, m) = \langle x_{l,i}\, x_{l+m,j}\rangle - \langle x_{l,i}\rangle\langle x_{l+m,j}\rangle,
              \qquad 0 \le m \le \texttt{max\_lag},

    * ``periodic=False`` (layers of a deep network): one :math:`C(l, m)` per site pair with
      :math:`l+m<L`, the unbiased sample covariance over chains; its standard error is the exact
      i.i.d. formula with plug-in mixed moments (see :meth:`CovarianceAccumulator.covariance_stderr`).
      Memory :math:`O(L\,(m_\max+1)\,d^2)`.
    * ``periodic=True`` (a translation-invariant ring, :math:`l+m` taken mod :math:`L`): the
      site average :math:`C_{ij}(m) = \langle s_{ij}(m)\rangle - \mu_i\mu_j` with per-chain
      statistics :math:`s_{ij}(m) = L^{-1}\sum_l x_{l,i}x_{l+m,j}` and :math:`a_i = L^{-1}\sum_l x_{l,i}`
      (:math:`\mu = \langle a\rangle`). Estimator :math:`\bar s - \bar a\bar a^T + \widehat{\mathrm{Cov}}(a)/n`
      (unbiased); error by the delta method from the covariance over chains of :math:`(s, a)`.
      Memory :math:`O((m_\max+1)^2 d^4)`.

    In both modes every chain counts as **one independent sample**: errors come from the spread
    over chains, and ``n`` of each :class:`Estimate` is the number of chains. Feeding correlated
    configurations as if independent (successive MCMC sweeps of one chain) underestimates the
    errors; for MCMC average :math:`s` and :math:`a` over the sweeps of each chain first and pass
    them to :meth:`update_summaries` (what :func:`statfield.sampling.mcmc.simulate_mcmc` does).

    Parameters
    ----------
    max_lag : int >= 0
    periodic : bool
    """

    def __init__(self, max_lag, periodic=False):
        from .._checks import check_int

        self.max_lag = check_int(max_lag, "max_lag", minimum=0)
        self.periodic = bool(periodic)
        self.length = None
        self.dim = None
        self.n = 0
        self._acc = None

    # -- shapes ----------------------------------------------------------------------------
    def _init_shapes(self, L, d):
        if self.length is None:
            if not self.periodic and self.max_lag > L - 1:
                raise ValueError(f"max_lag must be <= chain length - 1 = {L - 1} for an open chain, got {self.max_lag}")
            self.length, self.dim = L, d
            if self.periodic:
                self._acc = CovarianceAccumulator((self.max_lag + 1) * d * d + d, fourth_moments=False)
            else:
                self._acc = [None] * (self.max_lag + 1)
        elif (L, d) != (self.length, self.dim):
            raise ValueError(f"x must have chain length {self.length} and {self.dim} fields, got {(L, d)}")

    @staticmethod
    def _as_configs(x):
        x = np.asarray(x, dtype=float)
        if x.ndim == 2:
            x = x[:, :, None]
        if x.ndim != 3:
            raise ValueError(f"x must have shape (n_chains, length) or (n_chains, length, n_fields), got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("x must be finite (no NaN/inf)")
        return x

    def summaries(self, x):
        r"""Per-chain ring statistics ``(s, a)``: ``s`` shape ``(n, max_lag+1, d, d)``, ``a`` ``(n, d)``."""
        x = self._as_configs(x)
        L = x.shape[1]
        s = np.stack([np.einsum("cli,clj->cij", x, np.roll(x, -m, axis=1)) / L
                      for m in range(self.max_lag + 1)], axis=1)
        return s, x.mean(axis=1)

    # -- accumulation -------------------------------------------------------------------------
    def update(self, x):
        """Add independent configurations ``x`` of shape ``(n_chains, length[, n_fields])``."""
        x = self._as_configs(x)
        nc, L, d = x.shape
        if nc == 0:
            return self
        self._init_shapes(L, d)
        if self.periodic:
            s, a = self.summaries(x)
            return self.update_summaries(s, a)
        for m in range(self.max_lag + 1):
            part = _pair_batch(x[:, : L - m, :, None], x[:, m:, None, :], _PAIR_ORDERS_4)
            self._acc[m] = part if self._acc[m] is None else _merge_bivariate(*self._acc[m], *part, _PAIR_ORDERS_4)
        self.n += nc
        return self

    def update_summaries(self, s, a):
        r"""Ring mode: add per-chain statistics ``s`` ``(n, max_lag+1, d, d)`` and ``a`` ``(n, d)``
        (e.g. averaged over the sweeps of each MCMC chain; each chain counts once)."""
        if not self.periodic:
            raise ValueError("update_summaries needs periodic=True")
        s, a = np.asarray(s, dtype=float), np.asarray(a, dtype=float)
        if a.ndim != 2 or s.shape != (a.shape[0], self.max_lag + 1, a.shape[1], a.shape[1]):
            raise ValueError(f"s must have shape (n, {self.max_lag + 1}, d, d) and a shape (n, d), got {s.shape}, {a.shape}")
        if self.length is None:
            self._init_shapes(-1, a.shape[1])
        elif a.shape[1] != self.dim:
            raise ValueError(f"a must have {self.dim} fields, got {a.shape[1]}")
        self._acc.update(np.concatenate([s.reshape(s.shape[0], -1), a], axis=1))
        self.n += a.shape[0]
        return self

    def merge(self, other: "LaggedCorrelator"):
        """Combine with another correlator fed with other independent chains (in place)."""
        if (other.max_lag, other.periodic) != (self.max_lag, self.periodic):
            raise ValueError("other must have the same max_lag and periodic setting")
        if other.n == 0:
            return self
        if self.n == 0:
            import copy

            self.__dict__.update(copy.deepcopy(other.__dict__))
            return self
        if (other.length, other.dim) != (self.length, self.dim):
            raise ValueError("other must have the same chain length and number of fields")
        if self.periodic:
            self._acc.merge(other._acc)
        else:
            self._acc = [_merge_bivariate(*a, *b, _PAIR_ORDERS_4) for a, b in zip(self._acc, other._acc)]
        self.n += other.n
        return self

    # -- results ------------------------------------------------------------------------------
    def correlator(self):
        r"""``(value, stderr)`` arrays: shape ``(max_lag+1, d, d)`` (ring) or ``(L, max_lag+1, d, d)``
        (open chain; entries with :math:`l+m\ge L` are NaN)."""
        if self.n < 2:
            raise ValueError("need at least 2 chains")
        n, d, M1 = self.n, self.dim, self.max_lag + 1
        if self.periodic:
            return connected_lag_estimates(self._acc.mean, self._acc.covariance, n, M1, d, unbiased=True)
        L = self.length
        val = np.full((L, M1, d, d), np.nan)
        se = np.full((L, M1, d, d), np.nan)
        for m, (nm, _, Mm) in enumerate(self._acc):
            mm = {o: Mm[o] / nm for o in _PAIR_ORDERS_4}
            val[: L - m, m] = Mm[(1, 1)] / (nm - 1)
            se[: L - m, m] = _cov_stderr(nm, mm[(1, 1)], mm[(2, 0)], mm[(0, 2)], mm[(2, 2)])
        return val, se

    def estimate(self, lag, i=0, j=0, site=None) -> Estimate:
        r""":class:`Estimate` of :math:`C_{ij}(m)` (ring) or :math:`C_{ij}(l{=}\texttt{site}, m)` (open)."""
        val, se = self.correlator()
        if self.periodic:
            return Estimate(float(val[lag, i, j]), float(se[lag, i, j]), self.n)
        if site is None:
            raise ValueError("site must be given for an open chain (periodic=False)")
        if site + lag >= self.length:
            raise ValueError(f"site + lag must be < length = {self.length}, got {site} + {lag}")
        return Estimate(float(val[site, lag, i, j]), float(se[site, lag, i, j]), self.n)

    def estimates(self, i=0, j=0):
        """Ring: list over lags of :class:`Estimate`; open chain: list over sites of lists over lags."""
        val, se = self.correlator()
        if self.periodic:
            return [Estimate(float(v), float(s), self.n) for v, s in zip(val[:, i, j], se[:, i, j])]
        return [[Estimate(float(val[l, m, i, j]), float(se[l, m, i, j]), self.n)
                 for m in range(self.max_lag + 1) if l + m < self.length] for l in range(self.length)]


def lagged_covariances(F, lags):
    r"""Connected lagged covariances of fields along a chain, one value per chain.

    ``F``: ``(n_chains, T, n_fields)`` (e.g. the bulk window of each network). Returns
    ``(n_chains, len(lags), n_fields, n_fields)`` with entry ``[i, j, a, b]`` =
    :math:`\frac{1}{T-m}\sum_t (F_a(t) - \bar F_a)(F_b(t+m) - \bar F_b)` for chain ``i``, lag
    ``m = lags[j]``, with :math:`\bar F` the mean over all chains and sites (the stationary mean).
    Averaging over chains gives :math:`\langle\epsilon_a(l)\epsilon_b(l+m)\rangle_c` with an honest
    error (chains are independent); non-linear functions of it take :func:`statfield.stats.jackknife` errors.
    """
    F = np.asarray(F, float)
    if F.ndim != 3:
        raise ValueError(f"F must have shape (n_chains, T, n_fields), got {F.shape}")
    D = F - F.mean(axis=(0, 1), keepdims=True)
    T = D.shape[1]
    out = np.empty((D.shape[0], len(lags), D.shape[2], D.shape[2]))
    for j, m in enumerate(lags):
        m = int(m)
        if not 0 <= m < T:
            raise ValueError(f"lags must lie in [0, T-1 = {T - 1}], got {m}")
        out[:, j] = np.einsum("nta,ntb->nab", D[:, : T - m], D[:, m:]) / (T - m)
    return out


def connected_lag_estimates(mean, cov, n, n_lags, F, unbiased=False):
    r"""Connected lagged correlators from the joint moments of per-chain summaries, delta-method errors.

    The summary vector of every independent chain is :math:`(S_0, \dots, S_{M-1}, a)` with
    :math:`S_m` (``F×F``) a lag-:math:`m` product average and :math:`a` (``F``) the chain's mean field;
    ``mean`` and ``cov`` are their sample mean and covariance over ``n`` chains. Returns
    ``(value, stderr)`` of shape ``(n_lags, F, F)``: :math:`C_m = \bar S_m - \bar a\bar a^\top`
    (``unbiased=True`` adds :math:`\widehat{\mathrm{Cov}}(a)/n`, which removes the :math:`O(1/n)` bias of
    :math:`\bar a\bar a^\top`), with variance :math:`g^\top\Sigma g/n` for the gradient
    :math:`g = \partial C_{m,ij}/\partial(\bar S, \bar a)`.
    """
    M1, d = int(n_lags), int(F)
    ns = M1 * d * d
    mean, cov = np.asarray(mean, float), np.asarray(cov, float)
    sbar = mean[:ns].reshape(M1, d, d)
    abar = mean[ns:]
    cov_aa = cov[ns:, ns:]
    val = sbar - abar[:, None] * abar[None, :]
    if unbiased:
        val = val + cov_aa / n
    v_ss = np.diag(cov)[:ns].reshape(M1, d, d)
    cov_sa = cov[:ns, ns:].reshape(M1, d, d, d)  # [m, i, j, p] = Cov(S_mij, a_p)
    ii = np.arange(d)[:, None] * np.ones((1, d), int)
    jj = ii.T
    c_s_ai = np.take_along_axis(cov_sa, np.broadcast_to(ii[None, :, :, None], (M1, d, d, 1)), axis=3)[..., 0]
    c_s_aj = np.take_along_axis(cov_sa, np.broadcast_to(jj[None, :, :, None], (M1, d, d, 1)), axis=3)[..., 0]
    ai, aj = abar[ii], abar[jj]
    var = (v_ss - 2 * aj * c_s_ai - 2 * ai * c_s_aj + aj ** 2 * cov_aa[ii, ii] + ai ** 2 * cov_aa[jj, jj]
           + 2 * ai * aj * cov_aa[ii, jj])
    return val, np.sqrt(np.maximum(var, 0.0) / n)
