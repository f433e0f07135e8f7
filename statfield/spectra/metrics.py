r"""Spectral metrics of one weight matrix and of a network (a list of weight matrices).

Convention (as everywhere in :mod:`statfield.spectra`): ``W`` has shape ``(n_rows, n_cols)``; when
``n_rows < n_cols`` it is transposed, so :math:`N = \max \ge M = \min`, and the empirical spectral density
(ESD) is the set of the :math:`M` eigenvalues of :math:`X = W^TW/N` (``numpy.linalg.eigvalsh`` of the
:math:`M\times M` Gram matrix, or the SVD of :math:`W` when the spectrum spans more than 8 decades; values below
the rounding level of the method are set to 0).

Per matrix (:func:`matrix_metrics`):

* :math:`\|W\|_F`, the "log norm" :math:`\log_{10}\|W\|_F^2` of the seed blog post (Martin & Mahoney,
  arXiv:2002.06716 Eq. 6 uses the same quantity), the spectral norm :math:`\|W\|_2 = s_{max}`,
  :math:`\lambda_{max} = s_{max}^2/N`;
* stable rank :math:`\|W\|_F^2/\|W\|_2^2` (Rudelson & Vershynin 2007, Def. 1.1);
* matrix entropy :math:`S = -\frac{1}{\ln R}\sum_i p_i\ln p_i`, :math:`p_i = s_i^2/\sum_j s_j^2`, :math:`R`
  the number of non-zero singular values (the "generalized vector entropy" of Martin & Mahoney,
  arXiv:1810.01075, Sec. 4.2); 1 for a flat spectrum, 0 for rank one;
* the power-law tail exponent :math:`\alpha` of the ESD (:func:`statfield.spectra.fit_powerlaw`:
  Clauset–Shalizi–Newman MLE, :math:`x_{min}` by KS distance, untruncated, with a bootstrap error) and the
  weighted :math:`\hat\alpha = \alpha\log_{10}\lambda_{max}` (arXiv:2002.06716 Eq. 9);
* **the same tail fit on Gaussian matrices of the same shape** (``alpha_baseline``, mean and spread over
  ``n_baseline`` draws), so that an :math:`\alpha` is never read without the value pure noise would give;
* a Marchenko–Pastur bulk fit (:func:`fit_mp_bulk`) and the exact Gaussian baseline at the matrix's own
  variance :math:`\hat v = \|W\|_F^2/(NM)` (:func:`statfield.spectra.gaussian_baseline`) with the
  Tracy–Widom statistic of :math:`\lambda_{max}`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .._checks import check_int, check_positive
from .baseline import GaussianBaseline, gaussian_baseline, gaussian_matrices
from .powerlaw import PowerLawFit, TailFitError, fit_powerlaw

__all__ = ["as_matrix", "esd", "stable_rank", "matrix_entropy", "mp_pdf", "mp_cdf", "MPFit", "fit_mp_bulk",
           "MatrixMetrics", "matrix_metrics", "NetworkMetrics", "network_metrics", "MIN_EIGS_TAIL"]

#: Fewest eigenvalues (M = min(n_rows, n_cols)) for which matrix_metrics attempts a tail fit.
MIN_EIGS_TAIL = 50


def as_matrix(W, name="W") -> np.ndarray:
    """Validate ``W`` (2-D, real, finite, non-empty) and return it as float64."""
    if hasattr(W, "detach") and hasattr(W, "cpu"):  # a torch tensor, without importing torch
        W = W.detach().cpu().numpy()
    try:
        A = np.asarray(W, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a 2-D array of real numbers, got {type(W).__name__}") from exc
    if A.ndim != 2:
        raise ValueError(f"{name} must be 2-D (a weight matrix), got {A.ndim}-D with shape {A.shape}; "
                         "reshape convolution kernels first (statfield.spectra.io.weight_matrices)")
    if A.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {A.shape}")
    bad = ~np.isfinite(A)
    if bad.any():
        raise ValueError(f"{name} must be finite: {int(bad.sum())} NaN/inf entr{'y' if bad.sum() == 1 else 'ies'} "
                         f"in a {A.shape[0]}x{A.shape[1]} matrix")
    return A


def _singular_values(A):
    """Singular values, descending.

    From the eigenvalues of the smaller Gram matrix (several times faster than an SVD), whose absolute accuracy
    on ``s**2`` is ~ ``eps * s_max**2``; when the spectrum spans more than 8 decades (extremely heavy tails,
    near rank deficiency) the SVD is used instead (accuracy ``eps * s_max`` on ``s``). Values below the
    accuracy of the method used are set to 0.
    """
    eps = np.finfo(float).eps
    G = A.T @ A if A.shape[0] >= A.shape[1] else A @ A.T
    w = np.linalg.eigvalsh(G)[::-1]
    if w[0] > 0 and w[-1] > 1e-8 * w[0]:
        return np.sqrt(w)
    s = np.linalg.svd(A, compute_uv=False)
    return np.where(s > max(A.shape) * eps * s[0], s, 0.0)


def esd(W) -> np.ndarray:
    r"""Eigenvalues of :math:`X = W^TW/N` (ascending), :math:`N = \max(W.shape)`, ``W`` transposed if wide.

    Returns the :math:`M = \min(W.shape)` values :math:`s_i^2/N`.
    """
    A = as_matrix(W)
    N = max(A.shape)
    return np.sort(_singular_values(A) ** 2 / N)


def stable_rank(W) -> float:
    r"""Stable rank :math:`\|W\|_F^2/\|W\|_2^2\in[1, M]` (Rudelson & Vershynin 2007, Def. 1.1)."""
    s = _singular_values(as_matrix(W))
    if s[0] == 0:
        raise ValueError("W is the zero matrix: its stable rank is undefined")
    return float(np.sum(s**2) / s[0] ** 2)


def _entropy_from_sv(s):
    s2 = s**2
    tot = s2.sum()
    if tot == 0:
        raise ValueError("W is the zero matrix: its matrix entropy is undefined")
    p = s2[s2 > tot * 1e-30] / tot
    R = p.size
    if R == 1:
        return 0.0
    return float(-np.sum(p * np.log(p)) / math.log(R))


def matrix_entropy(W) -> float:
    r"""Normalised entropy of the squared singular values, :math:`-\sum p_i\ln p_i/\ln R` (arXiv:1810.01075 Sec. 4.2)."""
    return _entropy_from_sv(_singular_values(as_matrix(W)))


# --------------------------------------------------------------------------- Marchenko–Pastur
def _mp_edges(sigma2, ratio):
    sq = math.sqrt(ratio)
    return sigma2 * (1 - sq) ** 2, sigma2 * (1 + sq) ** 2


def mp_pdf(x, sigma2, ratio):
    r"""Marchenko–Pastur density :math:`\rho(x) = \frac{\sqrt{(\lambda_+-x)(x-\lambda_-)}}{2\pi\sigma^2 y x}`
    on :math:`[\lambda_-, \lambda_+]`, :math:`\lambda_\pm = \sigma^2(1\pm\sqrt y)^2`, :math:`0 < y = M/N \le 1`
    (Marchenko & Pastur 1967; the limit ESD of :math:`X = W^TW/N` for entries of variance :math:`\sigma^2`)."""
    sigma2 = check_positive(sigma2, "sigma2")
    ratio = float(ratio)
    if not (0 < ratio <= 1):
        raise ValueError(f"ratio must lie in (0, 1] (y = M/N with N >= M), got {ratio!r}")
    lo, hi = _mp_edges(sigma2, ratio)
    x = np.asarray(x, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.sqrt(np.clip((hi - x) * (x - lo), 0, None)) / (2 * math.pi * sigma2 * ratio * x)
    return np.where((x > lo) & (x < hi), r, 0.0)


def mp_cdf(x, sigma2, ratio, n_grid=4001):
    r"""Marchenko–Pastur distribution function, by quadrature in :math:`x = \frac{\lambda_++\lambda_-}2 -
    \frac{\lambda_+-\lambda_-}2\cos\theta` (the integrand :math:`\propto\sin^2\theta/x(\theta)` is smooth,
    also at :math:`y = 1` where :math:`\lambda_- = 0`); trapezoid rule on ``n_grid`` points, error
    :math:`< 10^{-6}`."""
    sigma2 = check_positive(sigma2, "sigma2")
    ratio = float(ratio)
    if not (0 < ratio <= 1):
        raise ValueError(f"ratio must lie in (0, 1] (y = M/N with N >= M), got {ratio!r}")
    lo, hi = _mp_edges(sigma2, ratio)
    th = np.linspace(0.0, math.pi, n_grid)
    c, h = 0.5 * (lo + hi), 0.5 * (hi - lo)
    xt = c - h * np.cos(th)
    with np.errstate(invalid="ignore", divide="ignore"):
        f = (h * np.sin(th)) ** 2 / (2 * math.pi * sigma2 * ratio * xt)
    if lo == 0:  # sin^2/(c - h cos) with c = h: = h (1 + cos theta)/(2 pi sigma2 y), finite at theta = 0
        f = h * (1 + np.cos(th)) / (2 * math.pi * sigma2 * ratio)
    F = np.r_[0.0, np.cumsum(0.5 * (f[1:] + f[:-1]) * np.diff(th))]
    F = F / F[-1]
    return np.interp(np.asarray(x, float), xt, F, left=0.0, right=1.0)


@dataclass(frozen=True)
class MPFit:
    r"""Marchenko–Pastur fit of the bulk: :math:`\sigma^2` with :math:`y = M/N` fixed.

    ``sigma2`` minimises the KS distance between the ESD and the MP law (spikes and a heavy tail move the
    mean, not the bulk's CDF); ``n_spikes`` counts eigenvalues above :math:`\lambda_+` by more than
    ``spike_margin`` Tracy–Widom scales (Johnstone 2001) at the fitted :math:`\sigma^2`.
    """

    sigma2: float
    ratio: float
    edges: tuple
    ks_distance: float
    n_spikes: int
    spike_margin: float

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["edges"] = list(self.edges)
        return d


def fit_mp_bulk(eigs, N, M, spike_margin=3.0) -> MPFit:
    r"""Fit the Marchenko–Pastur law to the ESD ``eigs`` of :math:`X = W^TW/N` (``M`` values, ``N >= M``)."""
    from scipy.optimize import minimize_scalar

    ev = np.sort(np.asarray(eigs, float))
    N = check_int(N, "N", minimum=1)
    M = check_int(M, "M", minimum=1)
    if M > N:
        raise ValueError(f"need N >= M (transpose W), got N = {N}, M = {M}")
    if ev.size < 2:
        raise ValueError(f"eigs must hold at least 2 eigenvalues for a bulk fit, got {ev.size}")
    y = M / N
    emp_hi = np.arange(1, ev.size + 1) / ev.size
    emp_lo = np.arange(0, ev.size) / ev.size

    def ks(log_s2):
        F = mp_cdf(ev, math.exp(log_s2), y, n_grid=1001)
        return float(max(np.max(emp_hi - F), np.max(F - emp_lo)))

    mean = float(np.mean(ev))
    if mean <= 0:
        raise ValueError("the ESD is identically zero: no bulk to fit")
    med = float(np.median(ev))
    grid = np.log(mean) + np.linspace(math.log(1e-3), math.log(3.0), 61)
    if med > 0:
        grid = np.r_[grid, math.log(med)]
    vals = [ks(g) for g in grid]
    g0 = grid[int(np.argmin(vals))]
    res = minimize_scalar(ks, bounds=(g0 - 0.15, g0 + 0.15), method="bounded", options={"xatol": 1e-5})
    best = float(res.x) if res.fun <= min(vals) else g0
    s2 = math.exp(best)
    lo, hi = _mp_edges(s2, y)
    b = gaussian_baseline(N, M, s2)
    n_spikes = int(np.sum(ev > b.tw_center + spike_margin * b.tw_scale))
    return MPFit(sigma2=s2, ratio=y, edges=(lo, hi), ks_distance=ks(best), n_spikes=n_spikes,
                 spike_margin=float(spike_margin))


# --------------------------------------------------------------------------- per matrix
@dataclass(frozen=True)
class MatrixMetrics:
    r"""Metrics of one weight matrix (see the module docstring for definitions and sources).

    ``alpha`` is ``None`` only when no tail fit was attempted (``tail_fit=False`` or, in
    :func:`network_metrics`, a matrix too small); ``alpha_note`` then says why.
    ``baseline`` is the exact :class:`GaussianBaseline` at the matrix's own variance
    :math:`\hat v = \|W\|_F^2/(NM)`; ``null`` the baseline of the random-network null
    :math:`N(0, \sigma_w^2/\text{fan\_in})` when ``sigma_w2`` was given (``fan_in = n_cols``).
    """

    name: str
    shape: tuple
    N: int
    M: int
    transposed: bool
    frobenius_norm: float
    log10_frobenius_sq: float
    spectral_norm: float
    lambda_max: float
    stable_rank: float
    matrix_entropy: float
    mean_log_eig: float | None
    mean_eig_sq: float
    mp: MPFit
    baseline: GaussianBaseline
    tw_statistic: float
    alpha: float | None = None
    alpha_stderr: float | None = None
    alpha_weighted: float | None = None
    alpha_weighted_stderr: float | None = None
    powerlaw: PowerLawFit | None = None
    alpha_baseline: float | None = None
    alpha_baseline_sd: float | None = None
    alpha_baseline_values: tuple = ()
    alpha_note: str = ""
    null: GaussianBaseline | None = None
    eigenvalues: np.ndarray = field(default=None, repr=False, compare=False)

    def to_dict(self, eigenvalues=False) -> dict:
        d = {}
        for k in self.__dataclass_fields__:
            if k == "eigenvalues" and not eigenvalues:
                continue
            v = getattr(self, k)
            d[k] = v.to_dict() if hasattr(v, "to_dict") else (list(v) if isinstance(v, tuple) else v)
        return d


def _tail_fit(ev, n_boot, seed, n_tail_min):
    pos = ev[ev > 0]  # exact zeros (rank deficiency, below rounding) have no place on a log scale
    return fit_powerlaw(pos, n_tail_min=n_tail_min, n_boot=n_boot, seed=seed)


def matrix_metrics(W, *, name="W", tail_fit=True, n_boot=50, n_baseline=3, seed=0, sigma_w2=None,
                   n_tail_min=10, min_eigs=MIN_EIGS_TAIL) -> MatrixMetrics:
    r"""All spectral metrics of one weight matrix, each with its Gaussian baseline.

    Parameters
    ----------
    W : array_like, 2-D, finite
        Shape ``(n_rows, n_cols)``; transposed internally when ``n_rows < n_cols`` (``transposed``
        records it), so :math:`X = W^TW/N` with :math:`N\ge M`.
    name : str
        Label carried into the result.
    tail_fit : bool
        Fit the power-law tail of the ESD (default). A matrix with fewer than ``min_eigs`` eigenvalues
        raises :class:`~statfield.spectra.powerlaw.TailFitError` instead of returning a number.
    n_boot : int >= 0
        Bootstrap replicates of the tail fit (its error bar; ``n_boot < 2``: asymptotic error).
    n_baseline : int >= 1
        Gaussian matrices of the same shape on which the same tail fit is repeated (``alpha_baseline`` is
        their mean, ``alpha_baseline_sd`` their standard deviation when ``n_baseline >= 2``).
    seed : int >= 0
        Seed of the bootstrap and of the baseline matrices (NumPy ``Generator``).
    sigma_w2 : float, optional
        If given, ``null`` is the exact baseline of statfield's random-network null,
        :math:`W_{ij}\sim N(0,\sigma_w^2/n_{cols})` (``docs/conventions.md``).
    n_tail_min : int
        Fewest eigenvalues in the fitted tail.
    min_eigs : int
        Fewest eigenvalues (:math:`M`) for a tail fit (default :data:`MIN_EIGS_TAIL` = 50).

    Returns
    -------
    MatrixMetrics
    """
    A = as_matrix(W, name)
    n_rows, n_cols = A.shape
    n_boot = check_int(n_boot, "n_boot", minimum=0)
    n_baseline = check_int(n_baseline, "n_baseline", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    min_eigs = check_int(min_eigs, "min_eigs", minimum=2 * check_int(n_tail_min, "n_tail_min", minimum=2))
    N, M = max(A.shape), min(A.shape)
    if M < 2:
        raise ValueError(f"{name} must have at least 2 rows and 2 columns for a spectrum (M = min(shape) >= 2), "
                         f"got shape {A.shape}")
    s = _singular_values(A)  # descending
    if s[0] == 0:
        raise ValueError(f"{name} is the zero matrix: no spectrum to analyse")
    ev = np.sort(s**2 / N)
    fro2 = float(np.sum(s**2))
    v_hat = fro2 / (N * M)
    base = gaussian_baseline(n_rows, n_cols, v_hat)
    # a rank-deficient W has zero eigenvalues: its mean log eigenvalue is -inf, reported as None
    mean_log_val = float(np.mean(np.log(ev))) if np.all(ev > 0) else None
    mp = fit_mp_bulk(ev, N, M)
    kw = {}
    if tail_fit:
        if M < min_eigs:
            raise TailFitError(f"{name}: too small for a tail fit: M = min{A.shape} = {M} eigenvalues, need at "
                               f"least min_eigs = {min_eigs}")
        fit = _tail_fit(ev, n_boot, seed, n_tail_min)
        ss = np.random.SeedSequence([seed, 0x5EC7])
        G = gaussian_matrices(n_rows, n_cols, v_hat, n_baseline, seed=ss)
        alphas = []
        for g in G:
            ev_g = np.sort(_singular_values(g) ** 2 / N)
            alphas.append(_tail_fit(ev_g, 0, seed, n_tail_min).alpha)
        kw = dict(alpha=fit.alpha, alpha_stderr=fit.alpha_stderr, alpha_weighted=fit.alpha * math.log10(ev[-1]),
                  alpha_weighted_stderr=fit.alpha_stderr * abs(math.log10(ev[-1])),
                  powerlaw=fit, alpha_baseline=float(np.mean(alphas)),
                  alpha_baseline_sd=float(np.std(alphas, ddof=1)) if len(alphas) >= 2 else None,
                  alpha_baseline_values=tuple(float(a) for a in alphas))
    else:
        kw = dict(alpha_note="no tail fit requested")
    null = gaussian_baseline(n_rows, n_cols, check_positive(sigma_w2, "sigma_w2") / n_cols) if sigma_w2 is not None else None
    return MatrixMetrics(
        name=str(name), shape=(int(n_rows), int(n_cols)), N=int(N), M=int(M), transposed=bool(n_rows < n_cols),
        frobenius_norm=math.sqrt(fro2), log10_frobenius_sq=math.log10(fro2), spectral_norm=float(s[0]),
        lambda_max=float(ev[-1]), stable_rank=float(fro2 / s[0] ** 2), matrix_entropy=_entropy_from_sv(s),
        mean_log_eig=mean_log_val, mean_eig_sq=float(np.mean(ev**2)), mp=mp, baseline=base,
        tw_statistic=base.tw_statistic(ev[-1]), null=null, eigenvalues=ev, **kw)


# --------------------------------------------------------------------------- per network
@dataclass(frozen=True)
class NetworkMetrics:
    r"""Metrics of every layer and their averages over layers.

    ``mean_log10_frobenius_sq`` is the seed's average log norm :math:`\frac1L\sum_l\log_{10}\|W^l\|_F^2`
    (all layers); ``mean_alpha``/``mean_alpha_weighted`` average the layers that had a tail fit
    (``n_alpha`` of them; ``mean_alpha_stderr`` combines their bootstrap errors as independent), next to ``mean_alpha_baseline`` (the same fit on Gaussian matrices of the same
    shapes). ``null_mean_log10_frobenius_sq`` is the exact expectation of the average log norm under the
    random-network null when ``sigma_w2`` was given.
    """

    layers: list
    mean_log10_frobenius_sq: float
    mean_alpha: float | None
    mean_alpha_stderr: float | None
    mean_alpha_weighted: float | None
    mean_alpha_baseline: float | None
    n_alpha: int
    null_mean_log10_frobenius_sq: float | None = None

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "layers"}
        d["layers"] = [m.to_dict() for m in self.layers]
        return d


def network_metrics(weights, *, names=None, sigma_w2=None, n_boot=50, n_baseline=3, seed=0, tail_fit=True,
                    min_eigs=MIN_EIGS_TAIL, progress=False) -> NetworkMetrics:
    r"""Metrics of a network's weight matrices (:func:`matrix_metrics` per layer) and their layer averages.

    Parameters
    ----------
    weights : list of 2-D arrays, or dict ``name -> 2-D array``
        The layers, e.g. :func:`statfield.spectra.random_network_weights` or
        ``weight_matrices(load_weights(path))``.
    names : list of str, optional
        Layer names (default: the dict keys, or ``layer1, layer2, ...``).
    sigma_w2 : float, optional
        Attach the random-network null baseline :math:`N(0, \sigma_w^2/n_{cols})` to every layer.
    n_boot, n_baseline, seed, min_eigs
        As in :func:`matrix_metrics`; layer ``l`` uses seed ``seed + l``.
    tail_fit : bool
        Fit the ESD tails. Layers with fewer than ``min_eigs`` eigenvalues get no :math:`\alpha` (``None``,
        with ``alpha_note`` saying "too small for a tail fit") and are left out of the alpha averages.
    progress : bool
        Show a progress bar over layers (:func:`statfield._progress.progress_iter`).

    Returns
    -------
    NetworkMetrics
    """
    if isinstance(weights, dict):
        items = list(weights.items())
    else:
        try:
            items = list(weights)
        except TypeError as exc:
            raise TypeError(f"weights must be a list of 2-D arrays or a dict name -> array, got "
                            f"{type(weights).__name__}") from exc
        if hasattr(weights, "ndim"):
            raise TypeError("weights must be a list of matrices (or a dict), not one array; use matrix_metrics(W)")
        items = [(f"layer{i + 1}", w) for i, w in enumerate(items)]
    if names is not None:
        names = list(names)
        if len(names) != len(items):
            raise ValueError(f"names must have one entry per layer: {len(names)} names for {len(items)} layers")
        items = [(n, w) for n, (_, w) in zip(names, items)]
    if not items:
        raise ValueError("weights is empty: need at least one weight matrix")
    seed = check_int(seed, "seed", minimum=0)
    it = enumerate(items)
    if progress:
        from .._progress import progress_iter

        it = progress_iter(it, total=len(items), desc="spectra")
    layers = []
    for l, (nm, w) in it:
        A = as_matrix(w, f"weights[{nm!r}]")
        fit_here = tail_fit and min(A.shape) >= min_eigs
        m = matrix_metrics(A, name=str(nm), tail_fit=fit_here, n_boot=n_boot, n_baseline=n_baseline, seed=seed + l,
                           sigma_w2=sigma_w2, min_eigs=min_eigs)
        if tail_fit and not fit_here:
            m = _replace(m, alpha_note=f"too small for a tail fit: M = {min(A.shape)} eigenvalues < min_eigs = "
                                       f"{min_eigs}")
        layers.append(m)
    fitted = [m for m in layers if m.alpha is not None]
    mean = lambda xs: float(np.mean(xs)) if xs else None  # noqa: E731
    null_mean = mean([m.null.log10_frobenius_sq for m in layers]) if sigma_w2 is not None else None
    return NetworkMetrics(layers=layers, mean_log10_frobenius_sq=float(np.mean([m.log10_frobenius_sq for m in layers])),
                          mean_alpha=mean([m.alpha for m in fitted]),
                          mean_alpha_stderr=(math.sqrt(sum(m.alpha_stderr**2 for m in fitted)) / len(fitted)
                                             if fitted else None),
                          mean_alpha_weighted=mean([m.alpha_weighted for m in fitted]),
                          mean_alpha_baseline=mean([m.alpha_baseline for m in fitted]), n_alpha=len(fitted),
                          null_mean_log10_frobenius_sq=null_mean)


def _replace(obj, **kw):
    import dataclasses

    return dataclasses.replace(obj, **kw)
