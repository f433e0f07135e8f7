r"""Perturbing a learned distribution: 8x8 digits, one class from 10 % to 30 % (extra ``statfield[sklearn]``).

The experiment of the seed note on perturbation theory in machine learning (a learned model of an empirical
distribution :math:`P_0`, perturbed to :math:`P_0e^{-\Delta H}/Z`), made quantitative:

1. data: scikit-learn's 8x8 digits (1797 images, ships inside the package; pixel values scaled to [0, 1]);
2. perturbation: :math:`\Delta H_i = -\ln\omega` for images of the target class, 0 otherwise, with
   :math:`\omega = \frac{f^*(1-f_0)}{f_0(1-f^*)}` so that the class fraction :math:`f_0` becomes :math:`f^*`
   exactly in the reweighted empirical distribution;
3. model: a mixture of diagonal Gaussians fitted by *weighted* stepwise EM (Cappé & Moulines 2009,
   J. R. Stat. Soc. B 71, 593) on batches formed by :class:`statfield.perturbation.AdjustedBatcher` — each
   batch's sufficient statistics carry the weights :math:`\tilde w_i = w_i/\langle w\rangle` and are normalised
   by the batch's adjusted size;
4. measurement: the fraction of generated images that a logistic-regression classifier (trained on the real
   digits) assigns to the target class, with a binomial error per model and the spread over independently
   seeded trainings; the unweighted model is measured the same way as the baseline (the classifier's and the
   model's own bias show up there).

:func:`ess_collapse` shows the failure mode: a continuous perturbation :math:`\Delta H = -\varepsilon s` (s the
standardised ink of an image) makes the Kish effective sample size collapse and the Pareto :math:`\hat k` cross
0.7 as :math:`\varepsilon` grows — a few images dominate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._checks import check_in_range, check_int
from ..perturbation import AdjustedBatcher, psis_khat

__all__ = ["load_digits01", "WeightedGaussianMixture", "class_reweighting_demo", "DigitsResult", "ess_collapse"]


def _sklearn():
    try:
        import sklearn  # noqa: F401
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError("the digits demonstration needs scikit-learn: pip install 'statfield[sklearn]'") from exc


def load_digits01():
    """The 8x8 digits of scikit-learn as ``(X, y)`` with ``X`` in [0, 1], shape (1797, 64)."""
    _sklearn()
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.data / 16.0, d.target.astype(int)


class WeightedGaussianMixture:
    r"""Mixture of ``n_components`` diagonal Gaussians fitted by weighted stepwise EM on adjusted batches.

    Sufficient statistics :math:`s = (\sum\tilde w r_k, \sum\tilde w r_k x, \sum\tilde w r_k x^2)/B_{\rm adj}` of
    each batch enter the running statistics with step :math:`\rho_t = (t+2)^{-0.6}`; the M-step maps them to
    weights, means and variances (variance floor ``var_floor``). With all weights equal this is ordinary
    stepwise EM; with weights it maximises the reweighted log-likelihood :math:`\sum_i\tilde w_i\ln p(x_i)`.
    """

    def __init__(self, n_components: int = 40, var_floor: float = 0.01, seed: int = 0):
        self.K = check_int(n_components, "n_components", minimum=1)
        self.var_floor = float(var_floor)
        self.rng = np.random.default_rng(seed)

    def _log_resp(self, X):
        diff = X[:, None, :] - self.mu[None]
        ll = (-0.5 * np.sum(diff * diff / self.var[None] + np.log(2 * np.pi * self.var[None]), axis=2)
              + np.log(self.pi)[None])
        m = ll.max(axis=1, keepdims=True)
        return ll - m - np.log(np.sum(np.exp(ll - m), axis=1, keepdims=True)), ll

    def fit(self, X, weights=None, b_avg: float = 64.0, epochs: int = 30):
        """Fit to ``X`` (n, d) with per-sample ``weights`` (default 1) on adjusted batches of mean size ``b_avg``."""
        X = np.asarray(X, dtype=float)
        n, d = X.shape
        w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
        wt = w / w.mean()
        init = self.rng.choice(n, self.K, replace=False, p=wt / wt.sum())
        self.mu = X[init] + 0.01 * self.rng.standard_normal((self.K, d))
        self.var = np.full((self.K, d), X.var(axis=0).mean() + self.var_floor)
        self.pi = np.full(self.K, 1.0 / self.K)
        s0, s1, s2 = self.pi.copy(), self.pi[:, None] * self.mu, self.pi[:, None] * (self.var + self.mu**2)
        batcher = AdjustedBatcher(b_avg)
        t = 0
        for _ in range(epochs):
            for idx in batcher.batches(w, order=self.rng.permutation(n)):
                lr, _ = self._log_resp(X[idx])
                r = np.exp(lr) * wt[idx, None]
                B = wt[idx].sum()
                rho = (t + 2.0) ** -0.6
                s0 = (1 - rho) * s0 + rho * r.sum(0) / B
                s1 = (1 - rho) * s1 + rho * (r.T @ X[idx]) / B
                s2 = (1 - rho) * s2 + rho * (r.T @ (X[idx] ** 2)) / B
                t += 1
                self.pi = np.clip(s0, 1e-12, None) / np.clip(s0, 1e-12, None).sum()
                self.mu = s1 / np.clip(s0, 1e-12, None)[:, None]
                self.var = np.clip(s2 / np.clip(s0, 1e-12, None)[:, None] - self.mu**2, 0, None) + self.var_floor
        self.adjusted_sizes = np.array(batcher.sizes)
        return self

    def sample(self, n: int, rng=None):
        """``n`` images from the fitted mixture (clipped to [0, 1])."""
        rng = self.rng if rng is None else rng
        k = rng.choice(self.K, size=n, p=self.pi)
        return np.clip(self.mu[k] + np.sqrt(self.var[k]) * rng.standard_normal((n, self.mu.shape[1])), 0.0, 1.0)


@dataclass(frozen=True)
class DigitsResult:
    """Measured class fractions (mean ± standard error over ``n_models`` seeds) and the reweighting used."""

    target_class: int
    data_fraction: float
    target_fraction: float
    omega: float
    baseline_fraction: float
    baseline_stderr: float
    weighted_fraction: float
    weighted_stderr: float
    classifier_accuracy: float
    mean_adjusted_batch: float
    n_models: int

    def z(self) -> float:
        """z-score of the weighted model's class fraction against the target."""
        return (self.weighted_fraction - self.target_fraction) / self.weighted_stderr

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return {**asdict(self), "z": self.z()}


def _classifier(X, y, seed):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y)
    clf = LogisticRegression(max_iter=2000).fit(Xtr, ytr)
    return LogisticRegression(max_iter=2000).fit(X, y), float(clf.score(Xte, yte))


def class_reweighting_demo(target_class: int = 2, target_fraction: float = 0.3, n_models: int = 4,
                           n_generated: int = 5000, n_components: int = 40, epochs: int = 30, b_avg: float = 64.0,
                           seed: int = 0) -> DigitsResult:
    r"""Reweight one digit class to ``target_fraction``, train weighted and unweighted models, measure both.

    The fraction of generated images classified as ``target_class`` is averaged over ``n_models`` independently
    seeded trainings; its standard error is the standard deviation over models divided by
    :math:`\sqrt{n_{\rm models}}` (it contains the binomial noise of ``n_generated`` samples and the training
    noise).
    """
    target_class = check_int(target_class, "target_class", minimum=0, maximum=9)
    target_fraction = check_in_range(target_fraction, "target_fraction", 0.0, 1.0, low_open=True, high_open=True)
    n_models = check_int(n_models, "n_models", minimum=2)
    X, y = load_digits01()
    f0 = float(np.mean(y == target_class))
    omega = target_fraction * (1 - f0) / (f0 * (1 - target_fraction))
    w = np.where(y == target_class, omega, 1.0)  # = exp(-Delta H), Delta H = -ln(omega) on the class
    clf, acc = _classifier(X, y, seed)
    fr = {"base": [], "weighted": []}
    sizes = []
    for m in range(n_models):
        for key, weights in (("base", None), ("weighted", w)):
            gm = WeightedGaussianMixture(n_components, seed=seed * 1000 + 2 * m + (key == "weighted"))
            gm.fit(X, weights, b_avg=b_avg, epochs=epochs)
            if key == "weighted":
                sizes.append(gm.adjusted_sizes[:-1].mean())
            Z = gm.sample(n_generated, rng=np.random.default_rng(seed * 7919 + m))
            fr[key].append(float(np.mean(clf.predict(Z) == target_class)))
    b, wv = np.array(fr["base"]), np.array(fr["weighted"])
    return DigitsResult(target_class, f0, target_fraction, float(omega), float(b.mean()),
                        float(b.std(ddof=1) / math.sqrt(n_models)), float(wv.mean()),
                        float(wv.std(ddof=1) / math.sqrt(n_models)), acc, float(np.mean(sizes)), n_models)


def ess_collapse(eps_values=(0.0, 0.5, 1.0, 2.0, 4.0, 8.0)):
    r"""Kish ESS and Pareto :math:`\hat k` of the weights :math:`e^{\varepsilon s}` (s the standardised ink per image).

    Returns a dict of arrays ``eps``, ``ess``, ``khat`` (``n`` = 1797): the failure mode of too large a
    perturbation, where a few images carry all the weight.
    """
    X, _ = load_digits01()
    ink = X.sum(axis=1)
    s = (ink - ink.mean()) / ink.std()
    out = {"eps": np.asarray(eps_values, float), "ess": [], "khat": []}
    for e in out["eps"]:
        lw = e * s
        w = np.exp(lw - lw.max())
        out["ess"].append(float(w.sum() ** 2 / np.sum(w * w)))
        out["khat"].append(psis_khat(lw))
    out["ess"], out["khat"] = np.array(out["ess"]), np.array(out["khat"])
    out["n"] = X.shape[0]
    return out
