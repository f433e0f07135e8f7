"""Exact Monte Carlo samplers of random networks (array-API code; NumPy, CuPy, array-api-strict).

* :func:`simulate` / :class:`SimulationResult` — the entry point: per-layer estimates with error bars;
* :mod:`.backend` — ``get_namespace``, ``default_rng`` (each backend's own generator), ``to_numpy``;
* :mod:`.weights` — full random networks (the reference);
* :mod:`.preactivation` — :math:`z^l|z^{l-1}\\sim N(0,\\Sigma^l\\otimes I)` via a P×P Cholesky;
* :mod:`.collective` — single-input chains in collective coordinates (χ², binomial);
* :mod:`.wishart` — linear networks: the chain of P×P Gram matrices (Bartlett decomposition, any width);
* :mod:`.control` — control variates with exactly known expectations (cross-fitted; ``variance_reduction``);
* :mod:`.plan` — validate once, plan, estimate memory/time (refuse what cannot fit or finish);
* :mod:`.runner` — blocks, SeedSequence per block, streaming accumulation, validated atomic checkpoints;
* :mod:`.eft` — EFT fields (dispatch on the activation object) and streamed lagged correlators;
* :mod:`.result` — :class:`SimulationResult` and its versioned JSON;
* :mod:`.distributed` — blocks as Dask tasks (optional extra ``statfield[distributed]``);
* :mod:`.mcmc` — MCMC of the collective lattice action on a periodic chain.

Importing this package never imports SymPy.
"""

from .backend import default_rng, get_namespace, to_numpy
from .result import SimulationResult
from .simulate import METHODS, simulate
from .mcmc import CollectiveMCMC, MCMCResult, collective_action, simulate_mcmc

__all__ = ["simulate", "SimulationResult", "METHODS", "get_namespace", "default_rng", "to_numpy"]
__all__ += ["simulate_mcmc", "collective_action", "CollectiveMCMC", "MCMCResult"]
