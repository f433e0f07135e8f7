r"""The registry of validation checks: a theoretical prediction against a Monte Carlo estimate.

A *check* is a function ``fn(profile, seed, outdir) -> list[CheckRecord]`` registered with
:func:`register_check`. ``profile`` is ``"quick"`` (CPU, the whole quick profile runs in about a
minute or two on 2 cores) or ``"full"``. ``outdir`` is a folder for figures (``None``: no figures).
Each comparison becomes a :class:`CheckRecord` made by :func:`compare`, which computes the
z-score ``(estimate - prediction)/stderr`` and the pass/fail verdict against ``threshold``.

Multiple comparisons: with ``n`` records at threshold ``|z| < t`` the family-wise false-alarm
probability for a correct theory is at most ``n * P(|Z| > t)`` (``t = 5``: ``5.7e-7`` per record).
:func:`run_checks` reports it.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

__all__ = ["CheckRecord", "compare", "register_check", "CHECKS", "run_checks", "DEFAULT_THRESHOLD"]

DEFAULT_THRESHOLD = 5.0


@dataclass
class CheckRecord:
    """One prediction-vs-estimate comparison."""

    name: str
    description: str
    prediction: float
    estimate: float
    stderr: float
    n: int
    z: float
    passed: bool
    threshold: float
    params: dict = field(default_factory=dict)
    seed: int | None = None
    runtime: float = 0.0
    figure: str | None = None
    group: str = ""

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("prediction", "estimate", "stderr", "z", "runtime", "threshold"):
            v = d[k]
            d[k] = None if v is None or (isinstance(v, float) and not math.isfinite(v)) else float(v)
        return d

    def line(self) -> str:
        mark = "PASS" if self.passed else "FAIL"
        return (f"[{mark}] {self.name}: prediction {self.prediction:.6g}, MC {self.estimate:.6g} ± "
                f"{self.stderr:.2g} (z = {self.z:+.2f}, |z| < {self.threshold:g})")


def compare(name, description, prediction, estimate, params=None, seed=None, threshold=DEFAULT_THRESHOLD,
            runtime=0.0, figure=None, group="") -> CheckRecord:
    """Build a :class:`CheckRecord` from a prediction and an :class:`~statfield.stats.Estimate`."""
    pred = float(prediction)
    val, se, n = float(estimate.value), float(estimate.stderr), int(estimate.n)
    if not (math.isfinite(pred) and math.isfinite(val) and math.isfinite(se)):
        z, ok = math.nan, False
    elif se > 0:
        z = (val - pred) / se
        ok = abs(z) < threshold
    else:
        z = 0.0 if val == pred else math.inf
        ok = val == pred
    return CheckRecord(name=name, description=description, prediction=pred, estimate=val, stderr=se, n=n,
                       z=z, passed=ok, threshold=float(threshold), params=dict(params or {}), seed=seed,
                       runtime=float(runtime), figure=figure, group=group)


@dataclass
class _Check:
    name: str
    group: str
    description: str
    fn: Callable


CHECKS: dict[str, _Check] = {}


def register_check(name: str, group: str, description: str):
    """Decorator: register ``fn(profile, seed, outdir) -> list[CheckRecord]`` under ``name``."""

    def deco(fn):
        if name in CHECKS:
            raise ValueError(f"check {name!r} registered twice")
        CHECKS[name] = _Check(name, group, description, fn)
        return fn

    return deco


def run_checks(names=None, profile="quick", seed=0, outdir=None, progress=None):
    """Run registered checks; returns ``(records, summary)``.

    ``progress``: optional callable ``progress(name)`` called before each check (CLI progress bar).
    """
    if profile not in ("quick", "full"):
        raise ValueError(f"profile must be 'quick' or 'full', got {profile!r}")
    names = list(CHECKS) if not names else list(names)
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise ValueError(f"unknown check(s) {unknown}; available: {sorted(CHECKS)}")
    records = []
    for name in names:
        if progress is not None:
            progress(name)
        t0 = time.perf_counter()
        recs = CHECKS[name].fn(profile, seed, outdir)
        dt = time.perf_counter() - t0
        for r in recs:
            r.group = r.group or CHECKS[name].group
            if not r.runtime:
                r.runtime = dt / max(len(recs), 1)
        records.extend(recs)
    n = len(records)
    t = min((r.threshold for r in records), default=DEFAULT_THRESHOLD)
    p_one = math.erfc(t / math.sqrt(2.0))
    summary = {
        "n_checks": n,
        "n_failed": sum(not r.passed for r in records),
        "threshold": t,
        "familywise_false_alarm_bound": min(1.0, n * p_one),
        "profile": profile,
        "seed": seed,
    }
    return records, summary
