r"""Statistics of Monte Carlo data: estimates with honest error bars, streaming accumulators,
autocorrelation and lagged correlators, resampling.

One package owns every estimator the samplers, the validation harness and the CLI use:

* :mod:`.estimate` — :class:`Estimate` (scalar or array value with standard error and sample count;
  elementwise :meth:`Estimate.z`, exact :meth:`Estimate.to_dict` / :meth:`Estimate.from_dict`),
  :func:`zscore`, :func:`mean_estimate`, :func:`difference`;
* :mod:`.accumulators` — mergeable streaming moments (:class:`MomentAccumulator`, :class:`RecordMoments`,
  :class:`MeanAccumulator` / :class:`RecordMeans` (means and variances only, for large arrays),
  :class:`HigherMomentAccumulator`, :class:`CovarianceAccumulator`, :func:`excess_kurtosis`);
* :mod:`.autocorrelation` — :func:`autocorrelation_function`, :func:`integrated_time`,
  :func:`mean_with_tau`, :class:`LaggedCorrelator`, :func:`lagged_covariances`,
  :func:`connected_lag_estimates`;
* :mod:`.resampling` — :func:`blocking` / :func:`blocked_mean`, :func:`batch_means`, :func:`jackknife`,
  :func:`bootstrap`, :func:`replica_mean_variance`.

Every estimator returns :class:`Estimate` objects; their ``n`` is the number of independent samples (or
the *effective* number for correlated sequences).
"""

from .estimate import Estimate, difference, mean_estimate, zscore
from .accumulators import (CovarianceAccumulator, HigherMomentAccumulator, MeanAccumulator, MomentAccumulator,
                           RecordMeans, RecordMoments, excess_kurtosis)
from .autocorrelation import (LaggedCorrelator, autocorrelation_function, connected_lag_estimates,
                              integrated_time, lagged_covariances, mean_with_tau)
from .resampling import (BlockingAnalysis, batch_means, blocked_mean, blocking, bootstrap, jackknife,
                         replica_mean_variance)

__all__ = [
    "Estimate",
    "MomentAccumulator",
    "zscore",
    "HigherMomentAccumulator",
    "CovarianceAccumulator",
    "LaggedCorrelator",
    "BlockingAnalysis",
    "blocking",
    "blocked_mean",
    "autocorrelation_function",
    "integrated_time",
    "mean_with_tau",
    "batch_means",
    "excess_kurtosis",
    # added with the package split
    "RecordMoments",
    "mean_estimate",
    "difference",
    "lagged_covariances",
    "connected_lag_estimates",
    "jackknife",
    "bootstrap",
    "replica_mean_variance",
    "MeanAccumulator",
    "RecordMeans",
]
