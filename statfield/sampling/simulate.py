r"""``statfield.simulate``: exact Monte Carlo of random networks with per-layer estimates and error bars.

Conventions (``docs/conventions.md``, "Network and parameterisation"): :math:`z^1 = W^1x + b^1`, :math:`z^l = W^l\phi(z^{l-1}) + b^l`,
:math:`W^l_{ij}\sim N(0,\sigma_w^2/N_{l-1})` (fan-in, :math:`N_0 = d_{in}`), :math:`b^l_i\sim N(0,\sigma_b^2)`;
:math:`q^l = |z^l|^2/N_l`. Layers are numbered :math:`1..L`; index ``i`` of every per-layer estimate is layer
``i + 1``.

Two words keep one meaning for every method:

``n_samples``
    The number of **independent samples** behind every error bar: independent networks for the exact
    samplers, independent Markov chains for ``method="mcmc"`` (each chain's time average counts once;
    the recorded sweeps per chain are the MCMC option ``n_sweeps``). ``Estimate.n`` equals it.
``burn_in``
    The number of leading **layers** left out of depth-averaged (bulk) statistics, the EFT correlators.
    It is never a number of MCMC sweeps (those are ``n_tune``); the ring of ``method="mcmc"`` is
    translation invariant and has no leading layers, so there ``burn_in`` must be 0.

Every standard error is the plain :math:`\sqrt{\mathrm{Var}/n}` over independent samples (no
autocorrelation enters).

Observables (``result[name]`` is an array-valued :class:`statfield.stats.Estimate` over layers, the same
names for every method):

single input (``P = 1``)
    ``q`` — :math:`E\,q^l`; ``log_q`` — :math:`E\ln q^l` (finite even when :math:`q^l` overflows float64,
    with ``method="collective"``, or ``"preactivation"`` for piecewise-linear φ: both track log-norms);
    ``G`` — :math:`E\hat G^l`,
    :math:`\hat G^l = \sigma_b^2 + \sigma_w^2|\phi(z^{l-1})|^2/N_{l-1}` (:math:`\hat G^1 = \sigma_b^2 +
    \sigma_w^2|x|^2/d_{in}`), the conditional variance of a unit of layer :math:`l`;
    ``G_var`` — :math:`\mathrm{Var}\,\hat G^l` across networks (PDLT: :math:`V^{(l)} = N\,\mathrm{Var}\hat G^l`),
    stderr :math:`\sqrt{(\hat\mu_4 - \hat\mu_2^2 (n-3)/(n-1))/n}` (plug-in central moments, the exact i.i.d. formula);
    ``kurtosis`` — the excess kurtosis of one unit of layer :math:`l`. Given :math:`\hat G^l` a unit is
    :math:`N(0,\hat G^l)`, so :math:`E z^4 = 3E(\hat G^l)^2` and exactly
    :math:`\kappa^l = 3\,\mathrm{Var}\hat G^l/(E\hat G^l)^2` (= :math:`3V/(NK^2)` in PDLT notation). We
    estimate it from :math:`\hat G` (a Rao–Blackwellised estimator: lower variance than the 4th moment of
    :math:`z`), stderr by the delta method with :math:`\mathrm{Var}\bar G = \mu_2/n`,
    :math:`\mathrm{Var}\,s^2 \approx (\mu_4-\mu_2^2)/n`, :math:`\mathrm{Cov}(\bar G, s^2)\approx\mu_3/n`;
    The ``G_var`` and ``kurtosis`` error bars are asymptotic (large ``n``): for heavy-tailed
    :math:`\hat G` (very small width, e.g. :math:`N = 4`, with :math:`n\sim 2000`) we measured z-score
    variances of about 1.4 over repeated runs (error bars ~20% too small); at :math:`N = 16`,
    :math:`n\ge 2000` they are calibrated within 5–15%;
    for piecewise-linear non-linear φ (ReLU, leaky): ``u`` :math:`=E|z_+|^2/N`, ``v`` :math:`=E|z_-|^2/N`,
    ``k`` — mean number of positive units.

several inputs (``P > 1``, ``inputs`` of shape ``(P, d_in)``)
    ``gram`` — :math:`E[z^{l\top}z^l/N_l]`, an Estimate whose ``value`` and ``stderr`` are ``P×P`` arrays
    (``result.value("gram")`` has shape ``(L, P, P)``); ``G`` — :math:`E\hat G^l` (``P×P``; equal in mean
    to ``gram`` exactly, smaller variance); ``c`` (``P = 2``) — the mean per-network correlation
    coefficient :math:`\hat c^l = \mathrm{gram}_{12}/\sqrt{\mathrm{gram}_{11}\mathrm{gram}_{22}}` (not the
    ratio of means: they differ at :math:`O(1/N)`).

EFT lagged correlators (``eft_lags=(0, 1, ...)``)
    ``eft_corr`` — an Estimate of shape ``(len(eft_lags), F, F)`` (``result["eft_corr"][i]`` is lag
    ``eft_lags[i]``): the connected correlator
    :math:`C_m = \langle\epsilon_l\epsilon_{l+m}^\top\rangle - \mu\mu^\top` of the EFT fluctuation fields
    (:mod:`statfield.fields`, shared with the symbolic EFT) averaged over the bulk layers
    :math:`l = \text{burn\_in}+1,\dots,L-m_\max` (the same layers for every lag; streamed over layers,
    so memory does not grow with the depth), assuming a stationary bulk (:math:`\mu` is the bulk mean
    field). Errors from independent networks by the delta method on the joint covariance of the
    per-network lag products and bulk means. ``eft_mean`` — :math:`E\epsilon_l` per layer.

Samplers (``method``): ``"weights"`` (full networks, the reference), ``"preactivation"`` (P×P
Cholesky, :mod:`.preactivation`), ``"collective"`` (single input; :mod:`.collective`), ``"wishart"``
(linear φ: the chain of P×P Gram matrices, exactly Wishart given the layer below, sampled by the
Bartlett decomposition at a cost independent of the width, :mod:`.wishart`), ``"mcmc"``
(the periodic chain "network on a circle", :mod:`statfield.sampling.mcmc`: same observable names, site
``i`` of the ring in place of layer ``i + 1``); ``"auto"`` picks ``collective`` for a single input
and piecewise-linear φ, ``wishart`` for several inputs and linear φ, else ``preactivation``. All but MCMC are exact in distribution at any width.
"""

from __future__ import annotations

import time

import numpy as np

from .._checks import check_int, check_variances
from .plan import DERIVED, METHODS, make_plan
from .result import SimulationResult
from .runner import run_blocks

__all__ = ["simulate", "SimulationResult", "METHODS"]


def simulate(activation, sigma_w2, sigma_b2, width, depth, n_samples, inputs=None, method="auto",
             backend="numpy", seed=0, chunk_size=None, checkpoint=None, progress=False, *, observables=None,
             block_size=None, workers=1, eft_lags=None, burn_in=None, on_chunk=None, scheduler=None,
             max_memory=None, max_seconds=None, variance_reduction=None, dtype="float64", residual=False,
             **options):
    r"""Sample random networks exactly and return per-layer estimates with standard errors.

    Steps: validate every argument once and plan the run (:func:`.plan.make_plan`, which also refuses
    requests whose estimated memory or time is out of bounds) → run the blocks (:func:`.runner.run_blocks`,
    streaming per-layer statistics) → assemble the estimates (:func:`assemble`).

    Parameters
    ----------
    activation : str, Activation, SymPy expression or callable
        Resolved by :func:`statfield.activations.get_activation`.
    sigma_w2 : float > 0
        Weight variance per fan-in, :math:`W^l_{ij}\sim N(0, \sigma_w^2/N_{l-1})`.
    sigma_b2 : float >= 0
        Bias variance.
    width : int >= 1 or sequence of ``depth`` ints
        Hidden widths :math:`N_1..N_L`.
    depth : int >= 1
        Number of layers :math:`L` (for ``"mcmc"``: sites of the ring).
    n_samples : int >= 2
        Independent samples behind every error bar: networks, or independent Markov chains for ``"mcmc"``.
    inputs : array (d_in,) or (P, d_in), optional
        Network inputs; default a single input ``x = (1,)`` (:math:`|x|^2/d_{in} = 1`, so
        :math:`K^1 = \sigma_b^2 + \sigma_w^2`).
    method : {"auto", "weights", "preactivation", "collective", "wishart", "mcmc"}
        Sampler (see the module docstring).
    backend : {"numpy", "cupy", "array_api_strict"} or module
        Array backend; each uses its own random generator (:mod:`.backend`).
    seed : int >= 0
        Root seed; block ``b`` uses ``SeedSequence(seed, spawn_key=(b,))``.
    chunk_size : int >= 1, optional
        Samples per chunk (checkpoint / work unit); never changes the numbers.
    checkpoint : path-like, optional
        ``.npz`` checkpoint written atomically after every chunk; an existing one is resumed (and refused
        if its parameters differ or its content is inconsistent).
    progress : bool
        Progress bar on stderr.
    observables : sequence of str, optional
        Subset of the observables to compute (default: all for this method and number of inputs). Use
        ``("log_q",)`` (or ``("c",)`` for two inputs) for deep chaotic networks whose :math:`q` overflows
        (collective sampler, or pre-activation sampler with piecewise-linear φ).
    block_size : int >= 1, optional
        Samples per block, the unit of randomness (default depends on the method and sizes; stored in
        ``parameters``).
    workers : int >= 1
        Threads working on blocks (the result does not depend on it).
    eft_lags : sequence of int >= 0, optional
        Lags ``m`` of the connected EFT-field correlators (single input; activations with EFT fields only,
        see :func:`statfield.sampling.eft.require_eft`).
    burn_in : int >= 0, optional
        Leading layers left out of the bulk average of the EFT correlators (default 0; 0 for ``"mcmc"``).
    on_chunk : callable, optional
        ``on_chunk(chunk_index, n_finished_blocks)`` after each chunk (see :func:`.runner.run_blocks`).
    scheduler : None, "local", str or distributed.Client, optional
        Where the blocks run: ``None`` (this process, ``workers`` threads), ``"local"`` (a
        ``distributed.LocalCluster`` on this machine), a scheduler address, or a Dask client. Needs the extra
        ``statfield[distributed]``; the numbers are bitwise those of the serial run.
    max_memory : float, optional
        Largest estimated peak memory in bytes (default: :data:`.plan.MEMORY_FRACTION` of the available memory).
    max_seconds : float, optional
        Longest estimated run time (default :data:`.plan.MAX_SECONDS`; ``math.inf`` disables the check).
    variance_reduction : None, True or False
        Control variates with exactly known expectations for ``gram`` and ``G`` (several inputs,
        piecewise-linear φ; cross-fitted, so the estimate stays exactly unbiased and its error bar honest;
        :mod:`.control`). ``None`` (default): used wherever such a control exists; ``True``: the same, with a
        warning (and the plain estimator) where none exists; ``False``: the plain sample mean. With it, the
        default ``block_size`` is capped at ``ceil(n_samples / 4)`` (four cross-fitting folds of blocks).
    dtype : {"float64", "float32"}
        Sampling precision of ``method="preactivation"`` and ``"weights"`` (normals, pre-activations, GEMMs);
        kernels, Cholesky factors and all accumulation stay float64. float32 sums over ``N`` units carry a
        relative rounding error of order :math:`10^{-7}\sqrt{N}` per network (measured: see
        ``numerics/BENCHMARKS.md``), far below the statistical error of any feasible run. Anything else is
        a ``ValueError``.
    **options
        ``method="mcmc"`` only: ``n_sweeps`` (recorded sweeps per chain, default 200), ``n_tune``
        (equilibration sweeps), ``thin``, ``boundary``, ``log_bounds`` (see
        :func:`statfield.sampling.mcmc.simulate_mcmc`).
    residual : bool
        Residual network :math:`z^{l+1} = z^l + W^{l+1}\phi(z^l) + b^{l+1}` (first layer as above): delegates to
        :func:`statfield.resnet.simulate_resnet` (exact pre-activation sampler; NumPy, ``method="auto"`` or
        ``"preactivation"``, observables ``q``, ``u``, ``gram``).

    Observables also include ``"ntk"``: the empirical neural tangent kernel :math:`\Theta` (P×P, NTK
    parameterisation, one output unit of layer ``depth``) of each sampled network from the explicit
    forward/backward pass (:func:`statfield.sampling.ntk.empirical_ntk_observable`); its mean estimates
    :func:`statfield.meanfield.ntk_kernel` (exact for linear networks at any width, :math:`O(1/N)` otherwise).
    ``observables=("ntk",)`` is computed alone (one record per network, not per layer).

    Returns
    -------
    SimulationResult

    Raises
    ------
    ValueError
        Invalid parameters (the message names the parameter and the allowed range), a checkpoint with
        different parameters or inconsistent content, an impossible method/observable combination, or a
        request whose estimated memory/time exceeds the limits (the message states the estimate).
    OverflowError
        A requested observable overflows float64 (the message names the layer).
    ImportError
        ``scheduler`` given without Dask installed (names the extra ``statfield[distributed]``).
    """
    t0 = time.perf_counter()
    if residual:
        return _simulate_residual(activation, sigma_w2, sigma_b2, width, depth, n_samples, inputs, method, backend,
                                  seed, scheduler, checkpoint, observables)
    if observables is not None and not isinstance(observables, str) and "ntk" in tuple(observables):
        return _simulate_ntk(activation, sigma_w2, sigma_b2, width, depth, n_samples, inputs, method, backend, seed,
                             chunk_size, checkpoint, progress, tuple(observables), block_size, workers, scheduler, t0)
    if method == "mcmc":
        from .mcmc import simulate_ring

        if scheduler is not None:
            raise ValueError("scheduler: method='mcmc' runs its chains vectorised in this process; use scheduler=None")

        return simulate_ring(activation, sigma_w2, sigma_b2, width, depth, n_samples, seed=seed, backend=backend,
                             eft_lags=eft_lags, burn_in=burn_in, observables=observables, progress=progress,
                             t0=t0, **options)
    plan = make_plan(activation, sigma_w2, sigma_b2, width, depth, n_samples, inputs, method, backend, seed,
                     chunk_size, observables=observables, block_size=block_size, workers=workers, eft_lags=eft_lags,
                     burn_in=burn_in, max_memory=max_memory, max_seconds=max_seconds,
                     variance_reduction=variance_reduction, dtype=dtype, **options)
    parameters = plan.parameters()
    meta = dict(parameters, statfield_version=_version())
    for key in ("n_samples", "block_size"):
        meta.pop(key)
    block_source = None
    if scheduler is not None:
        from .distributed import dask_block_source

        block_source = dask_block_source(scheduler)
    run = run_blocks(plan.sample_block, n_samples=plan.n_samples, block_size=plan.block_size, seed=plan.seed,
                     xp=plan.xp, chunk_size=plan.chunk_size, checkpoint=checkpoint, meta=meta, progress=progress,
                     workers=plan.workers, on_chunk=on_chunk, block_source=block_source)
    estimates = assemble(run.accumulators, plan.want, plan.lags)
    diagnostics = {}
    if plan.cv is not None:
        from .control import cv_estimates

        t_cv = time.perf_counter()
        estimates.update(cv_estimates(run.accumulators, plan.cv))
        diagnostics["control_variates_s"] = time.perf_counter() - t_cv  # fixed cost, independent of n_samples
    return SimulationResult(estimates=estimates, parameters=parameters, diagnostics=diagnostics,
                            method=plan.method, backend=plan.backend, seed=plan.seed,
                            elapsed_s=time.perf_counter() - t0)


def _simulate_residual(activation, sigma_w2, sigma_b2, width, depth, n_samples, inputs, method, backend, seed,
                       scheduler, checkpoint, observables):
    """``simulate(..., residual=True)``: validate what the residual sampler supports, then delegate."""
    if method not in ("auto", "preactivation"):
        raise ValueError(f"method: residual networks are sampled in pre-activation space only (method='auto' or "
                         f"'preactivation'), got {method!r}")
    if backend not in ("numpy", None):
        raise ValueError(f"backend: residual networks are sampled with NumPy only, got {backend!r}")
    if scheduler is not None or checkpoint is not None:
        raise ValueError("scheduler/checkpoint: not supported with residual=True (the residual sampler runs in "
                         "one process)")
    if observables is not None and not set(observables) <= {"q", "u", "gram"}:
        raise ValueError(f"observables: residual=True provides 'q', 'u' and 'gram', got {tuple(observables)}")
    from ..resnet import simulate_resnet

    return simulate_resnet(activation, sigma_w2, sigma_b2, width, depth, n_samples, inputs=inputs, seed=seed)


def _simulate_ntk(activation, sigma_w2, sigma_b2, width, depth, n_samples, inputs, method, backend, seed, chunk_size,
                  checkpoint, progress, observables, block_size, workers, scheduler, t0):
    """``observables=("ntk",)``: the empirical NTK of every sampled network, streamed through the same runner."""
    from ..activations import get_activation
    from .backend import backend_name, get_namespace
    from .ntk import sample_ntk
    from .plan import _inputs, _widths

    if observables != ("ntk",):
        raise ValueError(f"observables: 'ntk' is computed alone (weight-space forward/backward pass); got "
                         f"{observables}: run the other observables in a separate call")
    if method not in ("auto", "weights"):
        raise ValueError(f"method: the empirical NTK needs the weights (method='auto' or 'weights'), got {method!r}")
    act = get_activation(activation)
    sigma_w2, sigma_b2 = check_variances(sigma_w2, sigma_b2)
    widths = _widths(width, depth)
    X = _inputs(inputs)
    n_samples = check_int(n_samples, "n_samples", minimum=2)
    xp = get_namespace(backend)
    if block_size is None:
        per_net = 8.0 * (sum(widths) * X.shape[0] * 3 + max(widths) ** 2)
        block_size = int(max(1, min(n_samples, 2**27 // max(per_net, 1.0))))
    block_size = check_int(block_size, "block_size", minimum=1)

    def sample_block(rng, n):
        return sample_ntk(rng, n, act, sigma_w2, sigma_b2, widths, X, xp)

    parameters = {"activation": act.name, "sigma_w2": sigma_w2, "sigma_b2": sigma_b2, "widths": list(widths),
                  "inputs": X.tolist(), "n_samples": n_samples, "block_size": block_size, "observables": ["ntk"]}
    meta = dict(parameters, statfield_version=_version())
    for key in ("n_samples", "block_size"):
        meta.pop(key)
    block_source = None
    if scheduler is not None:
        from .distributed import dask_block_source

        block_source = dask_block_source(scheduler)
    run = run_blocks(sample_block, n_samples=n_samples, block_size=block_size, seed=seed, xp=xp,
                     chunk_size=chunk_size, checkpoint=checkpoint, meta=meta, progress=progress, workers=workers,
                     block_source=block_source)
    est = run.accumulators["ntk"].mean_estimate()
    from ..stats import Estimate

    est = Estimate(np.asarray(est.value)[0], np.asarray(est.stderr)[0], est.n)  # one record: drop the layer axis
    return SimulationResult(estimates={"ntk": est}, parameters=parameters, diagnostics={}, method="weights",
                            backend=backend_name(xp), seed=seed, elapsed_s=time.perf_counter() - t0)


def assemble(accumulators: dict, want, lags=None) -> dict:
    """Estimates from the merged accumulators: means, ``G_var``, ``kurtosis``, EFT mean fields and correlators."""
    from ..stats import Estimate, connected_lag_estimates

    estimates = {name: accumulators[name].mean_estimate() for name in want if name not in DERIVED}
    if "G_var" in want:
        estimates["G_var"] = accumulators["G"].variance_estimate()
    if "kurtosis" in want:  # kappa = 3 Var G / (E G)^2 exactly for a Gaussian unit given G
        estimates["kurtosis"] = accumulators["G"].squared_cv_estimate(3.0)
    if lags is not None:
        F = accumulators["eft_mean"].shape[1]
        joint = accumulators["joint:eft"]
        estimates["eft_mean"] = accumulators["eft_mean"].mean_estimate()
        val, se = connected_lag_estimates(joint.mean, joint.covariance, joint.n, len(lags), F)
        estimates["eft_corr"] = Estimate(val, se, joint.n)
    return estimates


def _version():
    import statfield

    return getattr(statfield, "__version__", "unknown")
