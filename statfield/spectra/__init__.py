r"""Weight-matrix spectra with exact random-matrix baselines (log norms, heavy tails).

Diagnostics of a network from its weight matrices alone — the average log Frobenius norm and the
power-law exponent :math:`\alpha` of each layer's empirical spectral density (ESD), as in weightwatcher —
each reported next to the value a Gaussian random matrix of the same shape would give, exactly at finite
size where a closed form exists.

Convention: ``W`` has shape ``(n_rows, n_cols)``; it is transposed when ``n_rows < n_cols`` so that
:math:`N = \max\ge M = \min`, and the ESD is the set of eigenvalues of :math:`X = W^TW/N` (:math:`M\times M`).
The random-network null is :math:`W^l_{ij}\sim N(0,\sigma_w^2/N_{l-1})` with fan-in
:math:`N_{l-1}` = the number of columns (``docs/conventions.md``).

Modules (one concept each): :mod:`~statfield.spectra.metrics` (per-matrix and per-network metrics, MP bulk
fit), :mod:`~statfield.spectra.powerlaw` (Clauset–Shalizi–Newman tail fit, bootstrap, likelihood ratio,
the pitfalls), :mod:`~statfield.spectra.baseline` (exact Gaussian baselines, null and heavy-tailed
ensembles), :mod:`~statfield.spectra.tracy_widom` (the :math:`TW_1`/:math:`TW_2` laws),
:mod:`~statfield.spectra.io` (loading weights without unpickling), :mod:`~statfield.spectra.plots`,
:mod:`~statfield.spectra.cli` (``statfield spectra FILE``). See ``docs/spectra.md``.
"""

from .baseline import (GaussianBaseline, esd_tail_alpha, gaussian_baseline, gaussian_matrices, network_baselines,
                       pareto_matrix, pareto_sample, random_network_weights, student_t_matrix)
from .io import PickleRefusedError, load_weights, weight_matrices
from .metrics import (MatrixMetrics, MPFit, NetworkMetrics, esd, fit_mp_bulk, matrix_entropy, matrix_metrics,
                      mp_cdf, mp_pdf, network_metrics, stable_rank)
from .powerlaw import LikelihoodRatio, PowerLawFit, TailFitError, fit_powerlaw, likelihood_ratio
from .tracy_widom import tracy_widom_cdf, tracy_widom_moments, tracy_widom_pdf, tracy_widom_ppf

__all__ = [
    "matrix_metrics", "network_metrics", "MatrixMetrics", "NetworkMetrics", "esd", "stable_rank",
    "matrix_entropy", "mp_pdf", "mp_cdf", "MPFit", "fit_mp_bulk",
    "gaussian_baseline", "GaussianBaseline", "gaussian_matrices", "random_network_weights", "network_baselines",
    "pareto_matrix", "pareto_sample", "student_t_matrix", "esd_tail_alpha",
    "fit_powerlaw", "PowerLawFit", "likelihood_ratio", "LikelihoodRatio", "TailFitError",
    "tracy_widom_cdf", "tracy_widom_pdf", "tracy_widom_ppf", "tracy_widom_moments",
    "load_weights", "weight_matrices", "PickleRefusedError",
]
