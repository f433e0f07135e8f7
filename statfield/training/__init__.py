r"""Training as a flow: the NTK at finite and infinite width, gradient-descent dynamics, trained ensembles.

* :mod:`.linearized` — the infinite-width trained ensemble (Lee et al. 2019) :func:`gradient_descent_mse` and the
  exact Bayesian posterior :func:`nngp_posterior`;
* :mod:`.empirical` — the empirical NTK of sampled networks (explicit forward/backward pass, array API);
* :mod:`.ensemble` — :func:`train_ensemble`: full-batch gradient descent of many finite-width networks at once,
  with streaming estimates and error bars;
* :mod:`.finite_width_ntk` — finite-width NTK of one input: leading-order variance and 1/N mean shift at any depth,
  exact moments for one hidden layer;
* :mod:`.cli` — the ``statfield ntk`` and ``statfield train`` subcommands.

Conventions: ``docs/conventions.md`` (fan-in variances ``sigma_w2``, ``sigma_b2``); training in the NTK
parameterisation with the loss :math:`\tfrac12\sum_\mu (f(x_\mu) - y_\mu)^2`.
"""

from .empirical import empirical_ntk, init_parameters, network_widths
from .finite_width_ntk import (
    NTKVariance,
    OneLayerNTKMoments,
    ntk_mean_shift_leading_order,
    ntk_variance_leading_order,
    one_hidden_layer_ntk_moments,
)
from .linearized import (
    PosteriorPrediction,
    TrainingPrediction,
    gradient_descent_mse,
    nngp_posterior,
    stability_limit,
    train_test_kernels,
)

__all__ = [
    "EnsembleResult",
    "NTKVariance",
    "OneLayerNTKMoments",
    "PosteriorPrediction",
    "TrainingPrediction",
    "empirical_ntk",
    "gradient_descent_mse",
    "init_parameters",
    "network_widths",
    "nngp_posterior",
    "ntk_mean_shift_leading_order",
    "ntk_variance_leading_order",
    "one_hidden_layer_ntk_moments",
    "stability_limit",
    "train_ensemble",
    "train_test_kernels",
]


def __getattr__(name):
    if name in ("train_ensemble", "EnsembleResult"):
        from . import ensemble

        return getattr(ensemble, name)
    raise AttributeError(f"module 'statfield.training' has no attribute {name!r}")
