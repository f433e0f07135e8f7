r""":class:`SimulationResult`: the per-layer estimates of :func:`statfield.simulate`, with a versioned JSON form.

Vocabulary (the same for every ``method``, MCMC included; ``result[name]`` is an array-valued
:class:`statfield.stats.Estimate` whose first axis is the layer, ``result[name][i]`` the estimate at
layer ``i + 1``):

``q``, ``log_q``, ``G``, ``G_var``, ``kurtosis``, ``u``, ``v``, ``k`` (single input), ``gram``, ``G``,
``c`` (several inputs), ``eft_mean`` (per layer) and ``eft_corr`` (first axis: the lag
``eft_lags[i]``). See :func:`statfield.simulate` for the definitions. ``n`` of every estimate is the
number of independent samples behind it (networks, or independent Markov chains for ``method="mcmc"``).

JSON: :meth:`SimulationResult.to_json` returns a plain dict with ``schema`` = ``"statfield.SimulationResult"``
and ``schema_version`` = :data:`SCHEMA_VERSION`; :meth:`SimulationResult.from_json` restores the result
exactly (floats round-trip through JSON's shortest representation; non-finite numbers are written as
``"nan"``/``"inf"``/``"-inf"``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from .._io import to_jsonable
from ..stats import Estimate

__all__ = ["SimulationResult", "SCHEMA", "SCHEMA_VERSION"]

SCHEMA = "statfield.SimulationResult"
#: Version of the JSON layout written by :meth:`SimulationResult.to_json` (1: unversioned files of
#: statfield <= 0.x, read as well).
SCHEMA_VERSION = 2

CONVENTIONS = ("z^l = W^l phi(z^{l-1}) + b^l; W ~ N(0, sigma_w2/N_{l-1}) (fan-in), b ~ N(0, sigma_b2);"
               " q = |z|^2/N; index i of each list is layer i+1 (eft_corr: lag eft_lags[i]);"
               " see docs/conventions.md")


def _version():
    import statfield

    return getattr(statfield, "__version__", "unknown")


def _as_estimate(x) -> Estimate:
    """An array-valued Estimate from an Estimate or a list of per-layer Estimates."""
    if isinstance(x, Estimate):
        return x
    items = list(x)
    if not items:
        raise ValueError("an observable needs at least one estimate")
    ns = [np.asarray(e.n) for e in items]
    if all(a.ndim == 0 for a in ns) and len({int(a) for a in ns}) == 1:
        n = int(ns[0])
    else:
        n = np.stack([np.broadcast_to(a, np.shape(e.value)) for a, e in zip(ns, items)])
    return Estimate(np.stack([np.asarray(e.value, float) for e in items]),
                    np.stack([np.asarray(e.stderr, float) for e in items]), n)


@dataclass
class SimulationResult:
    """Per-layer Monte Carlo estimates of :func:`statfield.simulate`.

    Attributes
    ----------
    estimates : dict[str, Estimate]
        ``estimates[name]`` is an array-valued :class:`~statfield.stats.Estimate` over layers (for
        ``eft_corr``: over lags); ``estimates[name][i]`` is the estimate at layer ``i + 1``. Lists of
        per-layer estimates are accepted and stacked.
    parameters : dict
        Everything needed to reproduce the run (activation, variances, widths, inputs, n_samples, ...),
        JSON types only.
    method, backend : str
    seed : int
    version : str
        statfield version that produced the numbers.
    elapsed_s : float
        Wall time of the run.
    diagnostics : dict
        Sampler diagnostics (MCMC: acceptance rates, step sizes, box; empty for the exact samplers).
    """

    estimates: dict
    parameters: dict
    method: str
    backend: str
    seed: int
    version: str = field(default_factory=_version)
    elapsed_s: float = 0.0
    diagnostics: dict = field(default_factory=dict)

    def __post_init__(self):
        self.estimates = {str(k): _as_estimate(v) for k, v in self.estimates.items()}

    def __getitem__(self, name) -> Estimate:
        if name not in self.estimates:
            raise KeyError(f"no observable {name!r}; available: {sorted(self.estimates)}")
        return self.estimates[name]

    def __contains__(self, name):
        return name in self.estimates

    @property
    def names(self) -> tuple:
        """Observable names."""
        return tuple(self.estimates)

    @property
    def depth(self) -> int:
        return int(self.parameters.get("depth", 0))

    def value(self, name) -> np.ndarray:
        """Values of ``name`` stacked over layers: shape ``(L,)`` or ``(L, P, P)``."""
        return np.array(self[name].value, dtype=float)

    def stderr(self, name) -> np.ndarray:
        """Standard errors of ``name`` stacked over layers."""
        return np.array(self[name].stderr, dtype=float)

    def n(self, name) -> np.ndarray:
        """Sample counts per layer."""
        e = self[name]
        return np.broadcast_to(np.asarray(e.n, dtype=int), e.shape[:1]).copy()

    # ------------------------------------------------------------------------------------ JSON
    def to_json(self) -> dict:
        """A plain (JSON-serialisable) dict with ``schema``/``schema_version``; inverse of :meth:`from_json`."""
        return {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "statfield_version": self.version,
            "method": self.method,
            "backend": self.backend,
            "seed": int(self.seed),
            "parameters": to_jsonable(self.parameters),
            "elapsed_s": float(self.elapsed_s),
            "diagnostics": to_jsonable(self.diagnostics),
            "conventions": CONVENTIONS,
            "estimates": {name: [e.to_dict() for e in est] for name, est in self.estimates.items()},
        }

    def dumps(self, **kw) -> str:
        """``json.dumps(self.to_json())`` (strict JSON: no NaN/inf literals)."""
        return json.dumps(self.to_json(), allow_nan=False, **kw)

    @classmethod
    def from_json(cls, data) -> "SimulationResult":
        """Rebuild a result from :meth:`to_json` output (a dict, or a JSON string).

        Raises
        ------
        ValueError
            ``data`` is not a SimulationResult document, or its ``schema_version`` is newer than
            :data:`SCHEMA_VERSION` (the message names both).
        """
        if isinstance(data, (str, bytes)):
            try:
                data = json.loads(data)
            except json.JSONDecodeError as exc:
                raise ValueError(f"data: not valid JSON ({exc})") from None
        if not isinstance(data, dict) or "estimates" not in data or "method" not in data:
            raise ValueError("data must be the dict (or JSON string) written by SimulationResult.to_json")
        schema = data.get("schema", SCHEMA)
        version = int(data.get("schema_version", 1))
        if schema != SCHEMA or version > SCHEMA_VERSION:
            raise ValueError(f"data: schema {schema!r} version {version} is not readable by this statfield "
                             f"(reads {SCHEMA!r} up to version {SCHEMA_VERSION})")
        estimates = {name: _as_estimate([Estimate.from_dict(d) for d in items])
                     for name, items in data["estimates"].items()}
        return cls(estimates=estimates, parameters=data.get("parameters", {}), method=data["method"],
                   backend=data.get("backend", "numpy"), seed=int(data.get("seed", 0)),
                   version=data.get("statfield_version", "unknown"), elapsed_s=float(data.get("elapsed_s", 0.0)),
                   diagnostics=data.get("diagnostics", {}))

    def __repr__(self):
        p = self.parameters
        return (f"SimulationResult(activation={p.get('activation')!r}, sigma_w2={p.get('sigma_w2')}, "
                f"sigma_b2={p.get('sigma_b2')}, widths={p.get('widths_summary')}, depth={self.depth}, "
                f"n_samples={p.get('n_samples')}, method={self.method!r}, observables={list(self.estimates)})")
