r"""Validate once, then plan: what :func:`statfield.simulate` will sample, and what it will cost.

:func:`make_plan` checks every argument of :func:`statfield.simulate` exactly once (messages name the
parameter and its allowed range), resolves the method, the observables and the block size, builds the
block sampler, and estimates the peak memory and the run time (:func:`estimate_resources`). A request
that cannot fit (more than :data:`MEMORY_FRACTION` of the available memory, or than ``max_memory``) or
would take absurdly long (more than ``max_seconds``, default :data:`MAX_SECONDS`) is refused with a
``ValueError`` stating the estimate *before* anything is allocated.

The sampling loop then runs without re-validating anything per layer.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

from .._checks import check_int, check_nonnegative, check_positive, check_variances
from ..activations import get_activation
from .backend import backend_name, get_namespace
from .collective import collective_observables, sample_collective
from .control import CV_FOLDS, ControlSpec, control_spec, cv_stream
from .eft import EFT_WINDOW, FieldMap, eft_stream
from .preactivation import available_observables, sample_preactivation
from .weights import sample_weights
from .wishart import is_linear, sample_wishart, wishart_observables

__all__ = ["METHODS", "DERIVED", "SimulationPlan", "make_plan", "estimate_resources", "available_memory",
           "MEMORY_FRACTION", "MAX_SECONDS"]

METHODS = ("auto", "weights", "preactivation", "collective", "wishart", "mcmc")
#: Observables computed from the moments of ``G`` (not sampled themselves).
DERIVED = ("G_var", "kurtosis")
#: Largest fraction of the available memory a run may plan to use (override with ``max_memory=``).
MEMORY_FRACTION = 0.5
#: Longest estimated run time accepted without ``max_seconds=`` (one week).
MAX_SECONDS = 7 * 86400.0
#: Assumed sustained throughput for the time estimate (floating-point operations per second) and
#: Python overhead per layer, block and observable (seconds) — deliberately optimistic, so that only
#: requests that are hopeless on any machine are refused.
_FLOPS = 5e9
_OVERHEAD_S = 2e-6


def available_memory():
    """Available memory in bytes (``MemAvailable`` of ``/proc/meminfo``, else ``sysconf``), or ``None``."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def _widths(width, depth):
    if isinstance(width, (int, np.integer)) and not isinstance(width, bool):
        return [check_int(width, "width", minimum=1)] * depth
    try:
        ws = [check_int(w, "width", minimum=1) for w in width]
    except TypeError:
        raise ValueError(f"width must be a positive integer or a sequence of {depth} positive integers, "
                         f"got {width!r}") from None
    if len(ws) != depth:
        raise ValueError(f"width: a sequence of per-layer widths must have length depth={depth}, got {len(ws)}")
    return ws


def _inputs(inputs):
    if inputs is None:
        return np.ones((1, 1))
    X = np.asarray(inputs, dtype=float)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"inputs must have shape (d_in,) or (P, d_in) with P, d_in >= 1, got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("inputs must be finite")
    return X


def _default_block_size(method, act, widths, P, d_in):
    nmax = max(widths)
    if method == "collective":
        return 1024 if act.is_piecewise_linear else max(1, min(1024, 2**20 // nmax))
    if method == "preactivation":
        return max(1, min(256, 2**22 // (nmax * P)))
    if method == "wishart":
        return max(1, min(1024, 2**20 // (P * max(P, min(nmax, P)))))
    fan = max([d_in] + list(widths))
    return max(1, min(256, 2**22 // (nmax * fan + nmax * P)))


def _version():
    import statfield

    return getattr(statfield, "__version__", "unknown")


@dataclass
class SimulationPlan:
    """A validated request of :func:`statfield.simulate` (exact samplers), ready to run."""

    act: object
    sigma_w2: float
    sigma_b2: float
    widths: list
    inputs: np.ndarray
    n_samples: int
    method: str
    xp: object
    backend: str
    seed: int
    want: tuple
    sampler_want: set
    block_size: int
    chunk_size: int | None
    workers: int
    lags: list | None = None
    burn_in: int = 0
    field_map: FieldMap | None = None
    cv: ControlSpec | None = None
    dtype: str = "float64"
    resources: dict = field(default_factory=dict)

    @property
    def depth(self) -> int:
        return len(self.widths)

    @property
    def n_blocks(self) -> int:
        return -(-self.n_samples // self.block_size)

    def sample_block(self, rng, n):
        """The block sampler ``(rng, n) -> iterator of per-layer records`` for this plan."""
        act, sw, sb, widths, X, xp, want = (self.act, self.sigma_w2, self.sigma_b2, self.widths, self.inputs,
                                            self.xp, self.sampler_want)
        if self.method == "collective":
            g1 = float(sb + sw * np.dot(X[0], X[0]) / X.shape[1])
            base = ({k: v for k, v in rec.items() if k in want}
                    for rec in sample_collective(rng, n, act, sw, sb, widths, g1, xp))
        elif self.method == "preactivation":
            base = sample_preactivation(rng, n, act, sw, sb, widths, X, xp, want, dtype=self.dtype)
        elif self.method == "wishart":
            base = sample_wishart(rng, n, act, sw, sb, widths, X, xp, want)
        else:
            base = sample_weights(rng, n, act, sw, sb, widths, X, xp, want, dtype=self.dtype)
        if self.cv is not None:
            return cv_stream(base, self.cv, xp)
        if self.lags is None:
            return base
        return eft_stream(lambda _rng, _n: base, self.field_map, self.lags, self.burn_in, self.depth)(rng, n)

    def parameters(self) -> dict:
        """JSON parameters identifying the run (stored in the result and compared on resume)."""
        widths = [int(w) for w in self.widths]
        return {
            "activation": self.act.name,
            "sigma_w2": float(self.sigma_w2),
            "sigma_b2": float(self.sigma_b2),
            "widths": widths,
            "widths_summary": widths[0] if len(set(widths)) == 1 else widths,
            "depth": self.depth,
            "n_samples": self.n_samples,
            "inputs": self.inputs.tolist(),
            "method": self.method,
            "backend": self.backend,
            "block_size": self.block_size,
            "observables": sorted(self.sampler_want),
            "eft_lags": self.lags,
            "eft_fields": list(self.field_map.names) if self.lags is not None else None,
            "burn_in": int(self.burn_in),
            "variance_reduction": self.cv is not None,
            "dtype": self.dtype,
        }


def _dtype(dtype, method):
    """``"float64"`` or ``"float32"`` (float32 only for the GEMM-bound samplers), else a ``ValueError``."""
    try:
        name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    except TypeError:
        name = None
    if name not in ("float64", "float32"):
        raise ValueError(f"dtype must be 'float64' or 'float32' (sampling precision; accumulation is always "
                         f"float64), got {dtype!r}")
    if name == "float32" and method not in ("preactivation", "weights"):
        raise ValueError(f"dtype='float32' is supported by method='preactivation' and 'weights' (GEMM-bound), "
                         f"not by method={method!r}")
    return name


def _observables(method, act, P, observables):
    if method == "collective":
        base = collective_observables(act)
    elif method == "wishart":
        base = wishart_observables(P)
    else:
        base = available_observables(act, P)
    available = base + (DERIVED if P == 1 else ())
    if observables is None:
        return tuple(available), base
    want = (observables,) if isinstance(observables, str) else tuple(observables)
    bad = [o for o in want if o not in available]
    if bad:
        raise ValueError(f"observables: {bad} not available for method={method!r} with P={P}; "
                         f"choose from {list(available)}")
    return want, base


def _eft(act, sigma_w2, sigma_b2, widths, P, eft_lags, burn_in):
    depth = len(widths)
    if P != 1:
        raise ValueError("eft_lags: the EFT field correlators are defined for a single input (P = 1)")
    lags = [check_int(m, "eft_lags", minimum=0) for m in np.atleast_1d(eft_lags).tolist()]
    if not lags:
        raise ValueError("eft_lags must contain at least one lag (or be None)")
    burn_in = check_int(burn_in, "burn_in", minimum=0, maximum=depth - 1)
    if depth - burn_in - max(lags) < 1:
        raise ValueError(f"eft_lags: max lag {max(lags)} leaves no bulk layers (depth={depth}, burn_in={burn_in})")
    if len(set(widths)) != 1:
        raise ValueError("eft_lags: the EFT fields need equal widths")
    return lags, burn_in, FieldMap(act, sigma_w2, sigma_b2, widths[0])


def make_plan(activation, sigma_w2, sigma_b2, width, depth, n_samples, inputs=None, method="auto",
              backend="numpy", seed=0, chunk_size=None, *, observables=None, block_size=None, workers=1,
              eft_lags=None, burn_in=None, max_memory=None, max_seconds=None, variance_reduction=None,
              dtype="float64", **options) -> SimulationPlan:
    """Validate the arguments of :func:`statfield.simulate` once and plan the run (exact samplers).

    ``method="mcmc"`` is planned by :func:`statfield.sampling.mcmc.plan_mcmc`; here it raises.
    See :func:`statfield.simulate` for the parameters; ``max_memory`` (bytes) and ``max_seconds`` bound
    the estimated peak memory and run time.
    """
    act = get_activation(activation)
    sigma_w2, sigma_b2 = check_variances(sigma_w2, sigma_b2)
    for name, val in (("sigma_w2", sigma_w2), ("sigma_b2", sigma_b2)):
        if np.ndim(val) != 0:  # one network per call: arrays would fail later without naming the parameter
            raise ValueError(f"{name} must be a scalar, got an array of shape {np.shape(val)}")
    depth = check_int(depth, "depth", minimum=1)
    widths = _widths(width, depth)
    n_samples = check_int(n_samples, "n_samples", minimum=2)
    seed = check_int(seed, "seed", minimum=0)
    workers = check_int(workers, "workers", minimum=1)
    if chunk_size is not None:
        chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    if method == "mcmc":
        raise ValueError("method='mcmc' is planned by statfield.sampling.mcmc (use statfield.simulate)")
    X = _inputs(inputs)
    P, d_in = X.shape
    xp = get_namespace(backend)
    if options:
        raise ValueError(f"unexpected keyword arguments {sorted(options)} (only method='mcmc' takes extra options)")
    if method == "auto":
        if P == 1 and act.is_piecewise_linear:
            method = "collective"
        elif P > 1 and is_linear(act):
            method = "wishart"
        else:
            method = "preactivation"
    if method == "wishart" and not is_linear(act):
        raise ValueError(f"method='wishart' needs a linear activation phi(z) = a z (Gram matrices form a Wishart "
                         f"chain only then), got {act.name!r}; use method='preactivation'")
    if method == "collective" and P != 1:
        raise ValueError(f"method='collective' needs a single input (inputs of shape (d_in,) or (1, d_in)), got P={P}")
    want, base = _observables(method, act, P, observables)
    sampler_want = set(want) - set(DERIVED)
    if set(want) & set(DERIVED):
        sampler_want.add("G")
    dtype = _dtype(dtype, method)
    if variance_reduction not in (None, True, False):
        raise ValueError(f"variance_reduction must be None (use it where an exact control exists), True or False, "
                         f"got {variance_reduction!r}")
    if block_size is None:
        block_size = _default_block_size(method, act, widths, P, d_in)
        if variance_reduction is not False and P > 1 and act.is_piecewise_linear:
            block_size = max(2, min(block_size, -(-n_samples // CV_FOLDS)))  # >= CV_FOLDS blocks to cross-fit
    block_size = check_int(block_size, "block_size", minimum=1)
    if method == "collective":
        g1 = float(sigma_b2 + sigma_w2 * np.dot(X[0], X[0]) / d_in)
        if not g1 > 0:
            raise ValueError("inputs: the first-layer variance sigma_b2 + sigma_w2 |x|^2/d_in must be > 0")
    lags, field_map = None, None
    burn_in = 0 if burn_in is None else burn_in
    if eft_lags is not None:
        lags, burn_in, field_map = _eft(act, sigma_w2, sigma_b2, widths, P, eft_lags, burn_in)
        sampler_want.update(("q", "log_q", "G") + (("u", "v", "k") if "u" in base else ()))
    else:
        burn_in = check_int(burn_in, "burn_in", minimum=0, maximum=depth - 1)
    cv = control_spec(act, sigma_w2, sigma_b2, X, depth, want, n_samples, block_size, variance_reduction)
    if cv is not None:
        sampler_want.add("gram_diag")
    plan = SimulationPlan(act=act, sigma_w2=sigma_w2, sigma_b2=sigma_b2, widths=widths, inputs=X,
                          n_samples=n_samples, method=method, xp=xp, backend=backend_name(xp), seed=seed, want=want,
                          sampler_want=sampler_want, block_size=block_size, chunk_size=chunk_size, workers=workers,
                          lags=lags, burn_in=burn_in, field_map=field_map, cv=cv, dtype=dtype)
    plan.resources = estimate_resources(plan)
    check_resources(plan.resources, max_memory=max_memory, max_seconds=max_seconds)
    return plan


def estimate_resources(plan: SimulationPlan) -> dict:
    r"""Estimated peak memory (bytes) and run time (seconds) of a plan.

    Memory: blocks in flight (1, or ``2 × workers``) × (the sampler's working set of one block + its
    per-layer accumulators, twice for the growing buffers) + the running total and its checkpoint copy.
    Working sets (float64): weights :math:`6nN(N_\mathrm{in} + P)`, pre-activation :math:`8nNP + 4nP^2`,
    collective :math:`32n` (piecewise linear) or :math:`6nN`; the EFT stream adds
    :math:`n(W + m_\max)F` for its window :math:`W`. Time: the sampler's floating-point work at
    :data:`_FLOPS` plus a Python overhead per layer, block and observable. Both are order-of-magnitude
    estimates for refusing hopeless requests, not predictions.
    """
    n, L, P = plan.block_size, plan.depth, plan.inputs.shape[0]
    N = max(plan.widths)
    fan = max([plan.inputs.shape[1]] + list(plan.widths))
    if plan.method == "weights":
        work = 6.0 * n * N * (fan + P)
        flops = 2.0 * N * fan * P + 12.0 * N * P
    elif plan.method == "preactivation":
        work = 8.0 * n * N * P + 4.0 * n * P * P
        flops = 2.0 * N * P * P + 12.0 * N * P + P ** 3
    elif plan.method == "wishart":
        rows = min(N, P)
        work = 4.0 * n * rows * P + 8.0 * n * P * P
        flops = 4.0 * rows * P * P + P ** 3
    elif plan.act.is_piecewise_linear:
        work, flops = 32.0 * n, 80.0
    else:
        work, flops = 6.0 * n * N, 30.0 * N
    size = 1 if P == 1 else P * P
    n_names = len(plan.sampler_want)
    per_block_acc = 2 * 4 * L * n_names * size
    if plan.lags is not None:
        F = len(plan.field_map.names)
        work += n * (EFT_WINDOW + max(plan.lags)) * F * 3 + n * EFT_WINDOW * 4 + n * len(plan.lags) * F * F
        per_block_acc += 2 * 4 * L * F
        n_names += 1
    if plan.cv is not None:  # control-variate records: Y, Y x, x, x x^T per target and fold (control.py)
        T, nt = len(plan.cv.types), len(plan.cv.targets)
        cv_size = (nt * (1 + T) + T * T) * P * P + T * P
        work += 3.0 * n * cv_size
        per_block_acc += 2 * 4 * L * cv_size
        flops += 6.0 * cv_size
    in_flight = 1 if plan.workers <= 1 else 2 * plan.workers
    total_acc = per_block_acc / 2
    bytes_ = 8.0 * (in_flight * (work + per_block_acc) + 2 * total_acc)
    seconds = plan.n_samples * L * flops / _FLOPS + plan.n_blocks * L * (n_names + 1) * _OVERHEAD_S
    return {"bytes": float(bytes_), "seconds": float(seconds), "blocks": plan.n_blocks, "in_flight": in_flight}


def _fmt_bytes(b):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if b < 1024 or unit == "PiB":
            return f"{b:.3g} {unit}"
        b /= 1024.0


def check_resources(resources: dict, max_memory=None, max_seconds=None):
    """Refuse (``ValueError`` stating the estimate) a plan over the memory or time limit.

    ``max_memory`` (bytes) defaults to :data:`MEMORY_FRACTION` of :func:`available_memory` (no memory
    check when that is unknown); ``max_seconds`` defaults to :data:`MAX_SECONDS`; ``math.inf`` disables a check.
    """
    if max_memory is None:
        avail = available_memory()
        limit = None if avail is None else MEMORY_FRACTION * avail
        what = f"{MEMORY_FRACTION:g} of the available memory ({_fmt_bytes(avail)})" if avail is not None else ""
    else:
        limit = check_positive(max_memory, "max_memory") if max_memory != math.inf else None
        what = f"max_memory = {_fmt_bytes(limit)}" if limit is not None else ""
    if limit is not None and resources["bytes"] > limit:
        raise ValueError(f"this request needs an estimated {_fmt_bytes(resources['bytes'])} of memory, more than "
                         f"{what}: lower block_size or workers (memory grows with block_size × width × fan-in and "
                         f"the number of blocks in flight), or raise max_memory")
    if max_seconds is None:
        limit_s = MAX_SECONDS
    else:
        limit_s = math.inf if max_seconds == math.inf else check_nonnegative(max_seconds, "max_seconds")
    if resources["seconds"] > limit_s:
        raise ValueError(f"this request would run for an estimated {resources['seconds']:.3g} s "
                         f"({resources['seconds'] / 86400:.3g} days), more than max_seconds = {limit_s:.3g} s: "
                         f"lower n_samples, depth or width, or raise max_seconds")
