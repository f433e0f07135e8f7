r"""Control variates with exactly known expectations: lower variance, unchanged expectation, honest errors.

Conventions (``docs/conventions.md``, "Network and parameterisation"): :math:`z^l = W^l\phi(z^{l-1}) + b^l`,
:math:`W^l_{ij}\sim N(0,\sigma_w^2/N_{l-1})`, :math:`b^l_i\sim N(0,\sigma_b^2)`, first layer
:math:`\Sigma^1 = \sigma_b^2 + \sigma_w^2 XX^\top/d_{in}`.

**Exact controls.** For piecewise-linear φ (slopes :math:`a_\pm`; ReLU, leaky ReLU, linear) and any width,
the diagonal of the kernel has an exactly known expectation: given :math:`\hat G^l` the units of layer
:math:`l` are centred Gaussians, so :math:`E[|\phi(z^l_\alpha)|^2/N_l\mid\hat G^l] = \tfrac{a_+^2+a_-^2}{2}\hat
G^l_{\alpha\alpha}` and, taking expectations (arXiv:1710.06570 Eq. 9),

.. math:: \mu^1_\alpha = \Sigma^1_{\alpha\alpha},\qquad
          \mu^{l+1}_\alpha = \sigma_b^2 + \sigma_w^2\,\tfrac{a_+^2+a_-^2}{2}\,\mu^l_\alpha
          = E\,\mathrm{gram}^l_{\alpha\alpha} = E\,\hat G^l_{\alpha\alpha}

(the single-input mean-field map, exact at finite width because it is linear in :math:`\hat G`). The
controls of layer :math:`l` are the centred diagonals :math:`\tilde c_s[\alpha] = d_s^l[\alpha] - \mu^l_\alpha`
of the sampled types :math:`s\in\{\mathrm{gram}, G\}` (whichever are computed).

**Estimator.** For each entry :math:`(\alpha,\beta)` of a target :math:`Y\in\{\mathrm{gram}^l, \hat G^l\}`
the controls are :math:`x = (\tilde c_s[\alpha], \tilde c_s[\beta])_s` (:math:`E x = 0` exactly; a control
equal to the target itself, the diagonal of its own type, is left out) and

.. math:: \hat Y_{cv} = \sum_f \frac{n_f}{n}\big(\bar Y_f - \hat\beta_{-f}^\top\bar x_f\big),
          \qquad \hat\beta_{-f} = \hat C_{xx,-f}^{+}\hat C_{xY,-f}

(cross-fitting over :data:`CV_FOLDS` folds of blocks, block ``b`` in fold ``b mod CV_FOLDS``): the
coefficient of fold :math:`f` is estimated on the *other* folds, which are independent of fold :math:`f`,
so every term is exactly unbiased, :math:`E\hat Y_{cv} = EY` at any :math:`n` (no :math:`O(1/n)` bias of a
coefficient fitted on the same data; Glasserman, *Monte Carlo Methods in Financial Engineering*, §4.1,
and Chernozhukov et al. 2018 for cross-fitting). Standard error:
:math:`\mathrm{se}^2 = \sum_f (n_f/n)^2 s^2_{r,f}/n_f` with :math:`s^2_{r,f}` the sample variance of the
residual :math:`Y - \hat\beta_{-f}^\top x` in fold :math:`f` (not fitted on fold :math:`f`, hence not
biased low); the neglected covariance between folds through :math:`\hat\beta` is :math:`O(n^{-2})`.
The error bar is floored at :data:`ROUNDING` times the magnitude of the summed terms, so an entry that the
controls determine exactly (the diagonal of :math:`\hat G` for linear φ) carries a rounding-level error bar.
Everything is streamed: per fold and layer the means of :math:`Y`, :math:`x`, :math:`Yx` and
:math:`xx^\top` (:math:`O(T^2P^2)` numbers per layer, ``T`` control types), merged in block order
(bitwise identical serial, threaded or on Dask).

No exact control is implemented for a single input or for non-piecewise-linear φ (there the deep-layer
kernel has no closed-form expectation at finite width): :func:`statfield.simulate` then uses the plain
estimator, with a warning when ``variance_reduction=True`` was requested explicitly.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..stats import Estimate

__all__ = ["CV_FOLDS", "CV_PREFIX", "ControlSpec", "control_spec", "fold_sizes", "control_means", "cv_stream", "cv_estimates",
           "fold_name"]

#: Number of cross-fitting folds (block ``b`` belongs to fold ``b % CV_FOLDS``).
CV_FOLDS = 4
#: Prefix of the per-block control-variate records (renamed per fold by the runner).
CV_PREFIX = "cv:"
#: Relative floor of the standard error: 10^3 float64 ulps (rounding of the accumulated sums).
ROUNDING = 1e3 * np.finfo(np.float64).eps
_TYPES = ("gram", "G")
_OWN = {"gram": "gram_diag", "G": "G"}  # the control type that equals a target's diagonal


def fold_name(name: str, block: int) -> str:
    """Per-fold accumulator name of a control-variate record of block ``block``."""
    return f"cv{int(block) % CV_FOLDS}:{name[len(CV_PREFIX):]}"


def control_means(act, sigma_w2, sigma_b2, inputs, depth) -> np.ndarray:
    r"""Exact :math:`E\,\mathrm{gram}^l_{\alpha\alpha} = E\hat G^l_{\alpha\alpha}`, shape ``(depth, P)``
    (piecewise-linear φ, any width; see the module docstring)."""
    X = np.asarray(inputs, dtype=np.float64)
    mu = sigma_b2 + sigma_w2 * np.einsum("ad,ad->a", X, X) / X.shape[1]
    slope = float(sigma_w2) * (float(act.a_plus) ** 2 + float(act.a_minus) ** 2) / 2.0
    out = []
    with np.errstate(over="ignore"):  # deep chaotic networks: inf (then no control is used)
        for _ in range(int(depth)):
            out.append(mu)
            mu = sigma_b2 + slope * mu
    return np.stack(out)


class ControlSpec:
    """What the control-variate stream records: targets, control types and their exact means."""

    def __init__(self, targets, types, mu):
        self.targets = tuple(targets)
        self.types = tuple(types)
        self.mu = np.asarray(mu, dtype=np.float64)  # (L, P)

    def names(self) -> tuple:
        return tuple(f"{CV_PREFIX}y:{t}" for t in self.targets) + tuple(
            f"{CV_PREFIX}yc:{t}" for t in self.targets) + (f"{CV_PREFIX}c", f"{CV_PREFIX}cc")


def fold_sizes(n_samples, block_size):
    """Samples per cross-fitting fold (block ``b`` in fold ``b % CV_FOLDS``); folds without blocks omitted."""
    sizes = [0] * CV_FOLDS
    n_full, rest = divmod(int(n_samples), int(block_size))
    for f in range(CV_FOLDS):
        full = len(range(f, n_full, CV_FOLDS))
        sizes[f] = full * int(block_size) + (rest if rest and n_full % CV_FOLDS == f else 0)
    return [s for s in sizes if s > 0]


def control_spec(act, sigma_w2, sigma_b2, inputs, depth, want, n_samples, block_size, requested):
    """The :class:`ControlSpec` of a run, or ``None`` (plain estimator; warns when ``requested`` is True).

    ``requested``: ``None`` (default: use where an exact control exists), ``True`` or ``False``. Cross-fitting
    needs at least two folds with at least two samples each.
    """
    folds = fold_sizes(n_samples, block_size)
    if requested is False:
        return None
    P = np.shape(inputs)[0]
    targets = [t for t in _TYPES if t in want]
    why = None
    if not act.is_piecewise_linear:
        why = (f"no control with an exactly known expectation at finite width for activation {act.name!r} "
               "(implemented for piecewise-linear phi)")
    elif P < 2:
        why = "control variates are implemented for several inputs (the P×P kernel)"
    elif not targets:
        why = "none of the observables 'gram', 'G' is requested"
    elif len(folds) < 2 or min(folds) < 2:
        why = (f"cross-fitting needs at least 2 folds of blocks with >= 2 samples each (n_samples={n_samples}, "
               f"block_size={block_size}: fold sizes {folds}); lower block_size or raise n_samples")
    mu = control_means(act, sigma_w2, sigma_b2, inputs, depth) if why is None else None
    if mu is not None and not np.all(np.isfinite(mu)):
        why = "the exact control means overflow float64 (deep chaotic network)"
    if why is not None:
        if requested:
            warnings.warn(f"variance_reduction: {why}; using the plain estimator", stacklevel=4)
        return None
    types = ("gram_diag", "gram_diag_prev") + (("G",) if "G" in want else ())
    return ControlSpec(targets, types, mu)


def cv_stream(base, spec: ControlSpec, xp):
    """Wrap a block's record iterator: pass every record through and add the control-variate records."""
    prev = None
    for l, rec in enumerate(base):
        with np.errstate(over="ignore", invalid="ignore"):  # overflow -> inf: the runner stops, naming the layer
            out, prev = _cv_record(l, rec, prev, spec, xp)
        yield out


def _cv_record(l, rec, prev, spec, xp):
    mu = xp.asarray(spec.mu[l])
    here = rec["gram_diag"] - mu
    cols = []
    for s in spec.types:
        if s == "gram_diag":
            cols.append(here)
        elif s == "gram_diag_prev":  # layer l-1 (layer 1: none, a zero control that gets coefficient 0)
            cols.append(xp.zeros_like(here) if prev is None else prev)
        else:
            cols.append(xp.linalg.diagonal(rec[s]) - mu)
    c = xp.stack(cols, axis=1)  # (n, T, P)
    out = dict(rec)
    for t in spec.targets:
        Y = rec[t]
        out[f"{CV_PREFIX}y:{t}"] = Y
        out[f"{CV_PREFIX}yc:{t}"] = Y[:, None, :, :] * c[:, :, :, None]  # E[Y_ab c_s[a]]
    out[f"{CV_PREFIX}c"] = c
    out[f"{CV_PREFIX}cc"] = c[:, :, None, :, None] * c[:, None, :, None, :]  # E[c_s[a] c_t[b]]
    return out, here


def _cov_blocks(ybar, cbar, m_yc, m_cc, ia, ib):
    """Covariances of (Y_ab; x), x = (c_s[a], c_s[b]), for the entries (ia, ib): Cxy (L,M,2T), Cxx (L,M,2T,2T)."""
    # Cov(Y_ab, c_s[a]) and Cov(Y_ab, c_s[b]) (Y symmetric per network)
    y = ybar[:, ia, ib][:, None]                                              # (L,1,M)
    ca = m_yc[:, :, ia, ib] - y * cbar[:, :, ia]                              # (L,T,M)
    cb = m_yc[:, :, ib, ia] - y * cbar[:, :, ib]
    Cxy = np.concatenate([np.moveaxis(ca, 1, -1), np.moveaxis(cb, 1, -1)], axis=-1)

    def cc(i, j):  # Cov(c_s[i], c_t[j]) -> (L,M,T,T)
        return np.moveaxis(m_cc[:, :, :, i, j] - cbar[:, :, None, i] * cbar[:, None, :, j], 3, 1)

    A, B, D = cc(ia, ia), cc(ia, ib), cc(ib, ib)
    Cxx = np.concatenate([np.concatenate([A, B], axis=-1),
                          np.concatenate([np.swapaxes(B, -1, -2), D], axis=-1)], axis=-2)
    return Cxy, Cxx


def _coefficients(Cxx, Cxy, own, T, on_diag):
    """Regression coefficients ``Cxx^{-1} Cxy`` per entry, controls that must not enter given coefficient 0.

    Left out: on the diagonal (``on_diag``, a = b) the duplicate controls c_s[b] and, if ``own`` is set, the
    target's own type; everywhere, controls with zero variance (e.g. layer 1's previous-layer control).
    """
    drop = np.zeros(Cxy.shape, dtype=bool)
    drop[:, on_diag, T:] = True
    if own is not None:
        drop[:, on_diag, own] = True
    diag = np.diagonal(Cxx, axis1=-2, axis2=-1)
    scale = np.max(np.abs(diag), axis=-1, keepdims=True)
    drop |= ~(diag > 1e-12 * scale)
    keep = (~drop).astype(float)
    A = Cxx * keep[..., :, None] * keep[..., None, :] + np.eye(Cxx.shape[-1]) * drop[..., None, :]
    b = Cxy * keep
    try:
        return np.linalg.solve(A, b[..., None])[..., 0]
    except np.linalg.LinAlgError:  # (near-)collinear controls somewhere: minimum-norm solution for all
        return np.einsum("...ij,...j->...i", np.linalg.pinv(A, rcond=1e-10, hermitian=True), b)


def _fold_stats(accs, f, t):
    y = accs[f"cv{f}:y:{t}"]
    return (y.n, y.mean, y.variance, accs[f"cv{f}:c"].mean, accs[f"cv{f}:yc:{t}"].mean, accs[f"cv{f}:cc"].mean)


def cv_estimates(accumulators: dict, spec: ControlSpec) -> dict:
    """Cross-fitted control-variate :class:`Estimate` per target (``{}`` if a fold has < 2 samples).

    Computed on the upper triangle ``a <= b`` and mirrored (the targets are symmetric matrices).
    """
    folds = [f for f in range(CV_FOLDS) if f"cv{f}:c" in accumulators]
    stats_n = [accumulators[f"cv{f}:c"].n for f in folds]
    if len(folds) < 2 or min(stats_n) < 2:
        warnings.warn("variance_reduction: too few samples per fold for cross-fitting; using the plain estimator",
                      stacklevel=3)
        return {}
    out = {}
    T = len(spec.types)
    P = spec.mu.shape[1]
    ia, ib = np.triu_indices(P)
    on_diag = ia == ib
    for t in spec.targets:
        st = {f: _fold_stats(accumulators, f, t) for f in folds}
        n_tot = sum(s[0] for s in st.values())
        own = spec.types.index(_OWN[t]) if _OWN[t] in spec.types else None
        value, var, scale = 0.0, 0.0, 0.0
        for f in folds:
            others = [g for g in folds if g != f]
            w = np.array([st[g][0] for g in others], dtype=float)
            w = w / w.sum()
            pooled = [sum(wi * st[g][k] for wi, g in zip(w, others)) for k in (1, 3, 4, 5)]
            Cxy, Cxx = _cov_blocks(*pooled, ia, ib)
            beta = _coefficients(Cxx, Cxy, own, T, on_diag)
            del Cxy, Cxx
            n_f, ybar, vary, cbar, m_yc, m_cc = st[f]
            Cxy_f, Cxx_f = _cov_blocks(ybar, cbar, m_yc, m_cc, ia, ib)
            corr = n_f / (n_f - 1.0)
            xbar = np.concatenate([np.moveaxis(cbar[:, :, ia], 1, -1), np.moveaxis(cbar[:, :, ib], 1, -1)], axis=-1)
            y_f = ybar[:, ia, ib]
            est_f = y_f - np.einsum("...i,...i->...", beta, xbar)
            vr = (vary[:, ia, ib] - 2.0 * corr * np.einsum("...i,...i->...", beta, Cxy_f)
                  + corr * np.einsum("...i,...ij,...j->...", beta, Cxx_f, beta))
            wf = n_f / n_tot
            value = value + wf * est_f
            var = var + wf * wf * np.clip(vr, 0.0, None) / n_f
            scale = scale + wf * (np.abs(y_f) + np.einsum("...i,...i->...", np.abs(beta), np.abs(xbar)))
        # floor at the resolution of the accumulated float64 sums: an entry the controls determine exactly
        # (e.g. the diagonal of G for linear phi) gets a rounding-level error bar, not a zero one
        se = np.sqrt(var + (ROUNDING * scale) ** 2)
        out[t] = Estimate(_mirror(value, ia, ib, P), _mirror(se, ia, ib, P), int(n_tot))
    return out


def _mirror(v, ia, ib, P):
    full = np.empty(v.shape[:-1] + (P, P))
    full[..., ia, ib] = v
    full[..., ib, ia] = v
    return full
