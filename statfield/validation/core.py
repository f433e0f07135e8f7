r"""The registry of validation checks: a theoretical prediction against a Monte Carlo estimate.

A *check* is a function ``fn(profile, seed, outdir) -> list[CheckRecord]`` registered with
:func:`register_check`. ``profile`` is ``"quick"`` (CPU; the whole quick profile runs in about a
minute or two on 2 cores) or ``"full"`` (larger widths and sample counts). ``outdir`` is a folder
for figures (``None``: no figures). Each comparison becomes a :class:`CheckRecord` made by
:func:`compare`, which computes the z-score ``z = (estimate - prediction) / stderr`` and the
verdict ``|z| < threshold``.

Two kinds of record:

* ``kind="test"`` — a statement of *our* theory (mean field, EFT, exact finite-N identity) against
  MC. A failure means our theory or our sampler is wrong; it makes ``statfield validate`` fail.
* ``kind="published"`` — a coefficient quoted in the literature (SPS17 as printed in the talk
  notes) against MC. Reported with its z-score ("the data supports it by ... sigma") but never
  counted as a failure of statfield.

Multiple comparisons: with ``n`` test records at threshold ``|z| < t`` the family-wise false-alarm
probability for a correct theory with calibrated Gaussian error bars is at most
``n * P(|Z| > t)`` (Bonferroni; ``t = 5`` gives ``5.7e-7`` per record). :func:`run_checks` states
``n``, ``t`` and the bound in its summary.

Robustness: a check whose dependency (a statfield module still missing) cannot be imported is
recorded as *skipped* with the reason; a check that raises is recorded as an *error*, counted as a
failure, with the exception text. The harness itself never crashes on a bad check.
"""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Callable

__all__ = ["CheckRecord", "compare", "skipped", "register_check", "CHECKS", "run_checks", "summarize",
           "DEFAULT_THRESHOLD", "format_failure", "available_checks"]

DEFAULT_THRESHOLD = 5.0


@dataclass
class CheckRecord:
    """One prediction-vs-estimate comparison.

    Attributes
    ----------
    name, description : str
        Identifier (``check/observable``) and one line of prose.
    prediction, estimate, stderr : float
        Theory value, MC value and its standard error; ``z = (estimate - prediction)/stderr``.
    n : int
        Number of (effective) samples behind the estimate.
    passed : bool
        ``|z| < threshold`` (for ``kind="published"``: the data is consistent with the published value).
    kind : {"test", "published"}
        ``"published"`` records are reported, never counted as failures.
    skipped : bool
        True when the check could not run (a missing dependency); ``reason`` says why.
    """

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
    kind: str = "test"
    skipped: bool = False
    reason: str = ""
    check: str = ""

    @property
    def status(self) -> str:
        """``"skip"``, ``"pass"``, ``"fail"`` (a test) or ``"consistent"``/``"excluded"`` (published)."""
        if self.skipped:
            return "skip"
        if self.kind == "published":
            return "consistent" if self.passed else "excluded"
        return "pass" if self.passed else "fail"

    @property
    def failed(self) -> bool:
        """A test record that ran and did not pass (published records never fail)."""
        return self.kind == "test" and not self.skipped and not self.passed

    def to_dict(self) -> dict:
        """Plain JSON-safe dict (non-finite numbers -> ``None``, NumPy scalars/arrays -> Python)."""
        d = _json_safe(asdict(self))
        d["status"] = self.status
        return d

    def line(self) -> str:
        """One line for a terminal; failures say what disagreed and by how much."""
        mark = {"pass": "PASS", "fail": "FAIL", "skip": "SKIP", "consistent": "PUB+", "excluded": "PUB-"}[self.status]
        if self.skipped:
            return f"[{mark}] {self.name}: skipped ({self.reason})"
        if self.reason and not math.isfinite(self.estimate):
            return f"[{mark}] {self.name}: {self.reason}"
        s = (f"[{mark}] {self.name}: prediction {self.prediction:.6g}, MC {self.estimate:.6g} ± "
             f"{self.stderr:.2g} (z = {self.z:+.2f}, |z| < {self.threshold:g})")
        if self.failed:
            s += "\n       " + format_failure(self)
        return s


def _json_safe(obj):
    """Recursively convert NumPy types to Python and non-finite floats to ``None``."""
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):  # numpy scalars and arrays
        return _json_safe(obj.tolist())
    if isinstance(obj, bool) or obj is None or isinstance(obj, (int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    return str(obj)


def format_failure(rec: CheckRecord) -> str:
    """What disagreed and by how much (absolute, relative, in standard errors)."""
    if not (math.isfinite(rec.estimate) and math.isfinite(rec.prediction)):
        return f"{rec.description}: non-finite value (prediction {rec.prediction}, MC {rec.estimate}) {rec.reason}"
    diff = rec.estimate - rec.prediction
    rel = diff / abs(rec.prediction) if rec.prediction != 0 else math.inf
    return (f"{rec.description}: MC - theory = {diff:+.4g} ({rel:+.3%} relative, {rec.z:+.1f} sigma; "
            f"allowed {rec.threshold:g} sigma) at {rec.params}")


def compare(name, description, prediction, estimate, params=None, seed=None, threshold=DEFAULT_THRESHOLD,
            runtime=0.0, figure=None, group="", kind="test") -> CheckRecord:
    """Build a :class:`CheckRecord` from a prediction and an :class:`~statfield.stats.Estimate`.

    ``z = (estimate.value - prediction) / estimate.stderr``; passes when ``|z| < threshold``.
    Non-finite inputs never pass. A zero error bar passes only on exact equality.
    """
    if kind not in ("test", "published"):
        raise ValueError(f"kind must be 'test' or 'published', got {kind!r}")
    pred = float(prediction)
    val, se, n = float(estimate.value), float(estimate.stderr), int(estimate.n)
    if not (math.isfinite(pred) and math.isfinite(val) and math.isfinite(se)) or se < 0:
        z, ok = math.nan, False
    elif se > 0:
        z = (val - pred) / se
        ok = abs(z) < threshold
    else:
        z = 0.0 if val == pred else math.copysign(math.inf, val - pred)
        ok = val == pred
    return CheckRecord(name=name, description=description, prediction=pred, estimate=val, stderr=se, n=n,
                       z=z, passed=ok, threshold=float(threshold), params=dict(params or {}), seed=seed,
                       runtime=float(runtime), figure=figure, group=group, kind=kind)


def skipped(name, description, reason, group="", kind="test") -> CheckRecord:
    """A record for a check that could not run (e.g. a statfield module not yet available)."""
    nan = math.nan
    return CheckRecord(name=name, description=description, prediction=nan, estimate=nan, stderr=nan, n=0,
                       z=nan, passed=False, threshold=DEFAULT_THRESHOLD, group=group, kind=kind,
                       skipped=True, reason=reason)


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


def _run_one(chk: _Check, profile, seed, outdir):
    t0 = time.perf_counter()
    try:
        recs = list(chk.fn(profile, seed, outdir))
    except ImportError as exc:
        if (getattr(exc, "name", None) or "").split(".")[0] == "statfield":
            # statfield's own modules always exist: a failed import is a broken package, never a skip
            tb = f"{type(exc).__name__}: {exc}"
            rec = skipped(chk.name, chk.description, f"error: {tb}", group=chk.group)
            rec.skipped, rec.passed, rec.reason = False, False, f"check raised {tb}"
            recs = [rec]
        else:  # an optional third-party dependency (cupy, ...): reported as skipped, with the reason
            recs = [skipped(chk.name, chk.description, f"{type(exc).__name__}: {exc}", group=chk.group)]
    except Exception as exc:  # noqa: BLE001 - a broken check is a failure, not a crash of the harness
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        rec = skipped(chk.name, chk.description, f"error: {tb}", group=chk.group)
        rec.skipped, rec.passed, rec.reason = False, False, f"check raised {tb}"
        recs = [rec]
    dt = time.perf_counter() - t0
    for r in recs:
        r.group = r.group or chk.group
        r.check = chk.name
        if r.seed is None:
            r.seed = seed
        if not r.runtime:
            r.runtime = dt / max(len(recs), 1)
    return recs, dt


def summarize(records, profile="quick", seed=0, timings=None) -> dict:
    """Counts, the multiple-comparison statement and the list of failures."""
    tests = [r for r in records if r.kind == "test" and not r.skipped]
    pubs = [r for r in records if r.kind == "published" and not r.skipped]
    skips = [r for r in records if r.skipped]
    t = min((r.threshold for r in tests), default=DEFAULT_THRESHOLD)
    p_one = math.erfc(t / math.sqrt(2.0))
    groups = {}
    for r in records:
        g = groups.setdefault(r.group or "other", {"n": 0, "failed": 0, "skipped": 0, "published": 0})
        g["n"] += 1
        g["failed"] += r.failed
        g["skipped"] += r.skipped
        g["published"] += r.kind == "published" and not r.skipped
    return {
        "n_checks": len(tests),
        "n_failed": sum(r.failed for r in records),
        "n_passed": sum(r.passed for r in tests),
        "n_skipped": len(skips),
        "n_published": len(pubs),
        "n_published_consistent": sum(r.passed for r in pubs),
        "threshold": t,
        "familywise_false_alarm_bound": min(1.0, len(tests) * p_one),
        "multiple_comparisons": (f"{len(tests)} test comparisons at |z| < {t:g}: Bonferroni bound on the "
                                 f"probability of any false alarm for a correct theory = "
                                 f"{min(1.0, len(tests) * p_one):.2g}"),
        "failures": [format_failure(r) if math.isfinite(r.z) or not r.reason else f"{r.name}: {r.reason}"
                     for r in records if r.failed],
        "skipped": [f"{r.name}: {r.reason}" for r in skips],
        "groups": groups,
        "timings": dict(timings or {}),
        "runtime_total": float(sum((timings or {}).values())),
        "profile": profile,
        "seed": seed,
    }


def run_checks(names=None, profile="quick", seed=0, outdir=None, progress=None):
    """Run registered checks; returns ``(records, summary)``.

    Parameters
    ----------
    names : list of str, optional
        Check names (default: all registered checks, in registration order).
    profile : {"quick", "full"}
    seed : int
        Base seed; each check derives its own streams from it.
    outdir : path, optional
        Folder for the figures (created); ``None`` draws no figures.
    progress : callable, optional
        ``progress(name)`` is called before each check (the CLI's progress bar).
    """
    if profile not in ("quick", "full"):
        raise ValueError(f"profile must be 'quick' or 'full', got {profile!r}")
    _load_builtin_checks()
    names = list(CHECKS) if not names else list(names)
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise ValueError(f"unknown check(s) {unknown}; available: {sorted(CHECKS)}")
    if outdir is not None:
        from pathlib import Path

        outdir = Path(outdir)
        outdir.mkdir(parents=True, exist_ok=True)
    records, timings = [], {}
    for name in names:
        if progress is not None:
            progress(name)
        recs, dt = _run_one(CHECKS[name], profile, seed, outdir)
        timings[name] = dt
        records.extend(recs)
    return records, summarize(records, profile, seed, timings)


_BUILTIN = ("statfield.validation.checks_meanfield", "statfield.validation.checks_eft",
            "statfield.validation.checks_samplers", "statfield.validation.checks_paper",
            "statfield.validation.checks_finite_width")


def _load_builtin_checks():
    """Import the modules that register the built-in checks (those present on disk)."""
    import importlib
    import importlib.util

    for mod in _BUILTIN:
        if mod in _LOADED or importlib.util.find_spec(mod) is None:
            continue
        _LOADED.add(mod)
        try:
            importlib.import_module(mod)
        except Exception as exc:  # noqa: BLE001 - report a broken check module as a record, do not crash
            short = mod.rsplit(".", 1)[-1]

            def _broken(profile, seed, outdir, _exc=exc):
                raise _exc

            CHECKS.setdefault(f"import-{short}", _Check(f"import-{short}", short.replace("checks_", ""),
                                                        f"import of {mod}", _broken))


_LOADED: set = set()


def available_checks():
    """Names of all registered checks (built-in modules loaded first)."""
    _load_builtin_checks()
    return list(CHECKS)
