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

Robustness: a check whose optional third-party dependency cannot be imported is recorded as *skipped*
with the reason; a failed import of statfield's own code, or a check that raises, is recorded as an
*error*, counted as a failure, with the exception text. The harness itself never crashes on a bad check.

Saving: :meth:`CheckRecord.to_dict` / :meth:`CheckRecord.from_dict` round-trip a record through plain JSON
types; :func:`results_document` and :func:`load_results` write and read the ``results.json`` of
``statfield validate --out`` and ``statfield report``, stamped with :data:`SCHEMA_VERSION`.
"""

from __future__ import annotations

import json
import math
import time
import traceback
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable

from .._io import to_jsonable

__all__ = ["CheckRecord", "compare", "skipped", "register_check", "CHECKS", "run_checks", "summarize",
           "DEFAULT_THRESHOLD", "SCHEMA_VERSION", "format_failure", "available_checks", "results_document",
           "load_results", "z_distribution"]

DEFAULT_THRESHOLD = 5.0

#: Version of the serialised record / ``results.json`` layout. Bump it when a field changes meaning or is
#: removed; :meth:`CheckRecord.from_dict` refuses documents written by a newer layout.
SCHEMA_VERSION = 1

_FLOAT_FIELDS = ("prediction", "estimate", "stderr", "z", "threshold", "runtime")


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
        True when the check could not run (a missing optional dependency); ``reason`` says why.
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
        """Plain JSON-safe dict (non-finite numbers -> ``None``, NumPy scalars/arrays -> Python).

        Carries ``schema_version`` (:data:`SCHEMA_VERSION`) and the derived ``status``;
        :meth:`from_dict` inverts it.
        """
        d = to_jsonable(asdict(self))
        d["status"] = self.status
        d["schema_version"] = SCHEMA_VERSION
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "CheckRecord":
        """Rebuild a record from :meth:`to_dict` output (``None`` numbers become ``nan``).

        Raises
        ------
        ValueError
            ``d`` is not a dict, lacks a required field, has an unknown field, or was written by a newer
            ``schema_version`` than :data:`SCHEMA_VERSION`.
        """
        if not isinstance(d, dict):
            raise ValueError(f"a check record must be a dict, got {type(d).__name__}")
        d = dict(d)
        version = d.pop("schema_version", SCHEMA_VERSION)
        if not isinstance(version, int) or version > SCHEMA_VERSION or version < 1:
            raise ValueError(f"check record schema_version must be an int in [1, {SCHEMA_VERSION}], got {version!r}")
        d.pop("status", None)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown check record field(s) {unknown}; known: {sorted(known)}")
        required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
        missing = [k for k in required if k not in d]
        if missing:
            raise ValueError(f"check record {d.get('name', '?')!r} lacks required field(s) {missing}")
        for k in _FLOAT_FIELDS:
            if k in d:
                d[k] = math.nan if d[k] is None else float(d[k])
        d["n"] = int(d["n"])
        d["params"] = dict(d.get("params") or {})
        return cls(**d)

    @classmethod
    def from_json(cls, text: str) -> "CheckRecord":
        """Rebuild a record from the JSON text of :meth:`to_dict` (see :meth:`from_dict`)."""
        return cls.from_dict(json.loads(text))

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
    """A record for a check that could not run (e.g. an optional third-party dependency is not installed)."""
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
    caption: str | None = None


CHECKS: dict[str, _Check] = {}


def register_check(name: str, group: str, description: str, caption: str | None = None):
    """Decorator: register ``fn(profile, seed, outdir) -> list[CheckRecord]`` under ``name``.

    Parameters
    ----------
    name, group, description : str
        Identifier, group (a section of the report) and one line of plain text (terminal, ``--list``).
    caption : str, optional
        Caption of the check's figure in the LaTeX report (LaTeX, math in ``$...$``); default: the
        description, escaped.
    """

    def deco(fn):
        if name in CHECKS:
            raise ValueError(f"check {name!r} registered twice")
        CHECKS[name] = _Check(name, group, description, fn, caption)
        return fn

    return deco


def _error_record(chk: _Check, exc: BaseException) -> CheckRecord:
    """A failed record for a check that raised (or could not import statfield's own code)."""
    tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
    rec = skipped(chk.name, chk.description, "", group=chk.group)
    rec.skipped, rec.passed, rec.reason = False, False, f"check raised {tb}"
    return rec


def _run_one(chk: _Check, profile, seed, outdir):
    t0 = time.perf_counter()
    try:
        recs = list(chk.fn(profile, seed, outdir))
    except ImportError as exc:
        if (getattr(exc, "name", None) or "").split(".")[0] == "statfield":
            # statfield's own modules always exist: a failed import is a broken package, never a skip
            recs = [_error_record(chk, exc)]
        else:  # an optional third-party dependency (cupy, ...): reported as skipped, with the reason
            recs = [skipped(chk.name, chk.description, f"{type(exc).__name__}: {exc}", group=chk.group)]
    except Exception as exc:  # noqa: BLE001 - a broken check is a failure, not a crash of the harness
        recs = [_error_record(chk, exc)]
    dt = time.perf_counter() - t0
    for r in recs:
        r.group = r.group or chk.group
        r.check = chk.name
        if r.seed is None:
            r.seed = seed
        if not r.runtime:
            r.runtime = dt / max(len(recs), 1)
    return recs, dt


def z_distribution(records) -> dict:
    r"""Distribution of the z-scores of the test records that ran: ``n``, ``mean``, ``sd``, ``max_abs``.

    For a correct theory with calibrated error bars the z-scores are close to standard normal (mean 0,
    sd 1); ``sd`` is ``None`` with fewer than two finite z-scores, every entry ``None`` with none.
    """
    zs = [r.z for r in records if r.kind == "test" and not r.skipped and math.isfinite(r.z)]
    n = len(zs)
    if not n:
        return {"n": 0, "mean": None, "sd": None, "max_abs": None}
    mean = sum(zs) / n
    sd = math.sqrt(sum((z - mean) ** 2 for z in zs) / (n - 1)) if n > 1 else None
    return {"n": n, "mean": mean, "sd": sd, "max_abs": max(abs(z) for z in zs)}


def _per_check(records, timings) -> dict:
    out = {}
    for r in records:
        key = r.check or r.name
        c = out.setdefault(key, {"group": r.group or "other", "n": 0, "failed": 0, "skipped": 0, "published": 0,
                                 "max_abs_z": None, "runtime": (timings or {}).get(key)})
        c["n"] += r.kind == "test" and not r.skipped
        c["failed"] += r.failed
        c["skipped"] += r.skipped
        c["published"] += r.kind == "published" and not r.skipped
        if r.kind == "test" and not r.skipped and math.isfinite(r.z):
            c["max_abs_z"] = max(c["max_abs_z"] or 0.0, abs(r.z))
    return out


def summarize(records, profile="quick", seed=0, timings=None) -> dict:
    """Counts, the multiple-comparison statement, the z distribution, per-check rows and the failures."""
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
        "z_distribution": z_distribution(records),
        "failures": [format_failure(r) if math.isfinite(r.z) or not r.reason else f"{r.name}: {r.reason}"
                     for r in records if r.failed],
        "skipped": [f"{r.name}: {r.reason}" for r in skips],
        "groups": groups,
        "checks": _per_check(records, timings),
        "timings": dict(timings or {}),
        "runtime_total": float(sum((timings or {}).values())),
        "profile": profile,
        "seed": seed,
    }


def _progress_callback(progress, names):
    """``(callback, close)`` for :func:`run_checks`: a user callable, or a progress bar when ``progress`` is true."""
    if callable(progress):
        return progress, (lambda: None)
    from .._progress import progress_bar

    bar = progress_bar(total=len(names), desc="checks", unit="check", enabled=bool(progress))
    started = []

    def cb(name):
        if started:
            bar.update(1)
        started.append(name)
        bar.set_postfix_str(name)

    def close():
        if started:
            bar.update(1)
        bar.close()

    return cb, close


def run_checks(names=None, profile="quick", seed=0, outdir=None, progress=None):
    """Run registered checks; returns ``(records, summary)``.

    Parameters
    ----------
    names : list of str, optional
        Check names (default: all registered checks, in registration order).
    profile : {"quick", "full"}
    seed : int >= 0
        Base seed; each check derives its own streams from it.
    outdir : path, optional
        Folder for the figures (created); ``None`` draws no figures.
    progress : bool or callable, optional
        ``True``: a progress bar on stderr; a callable: ``progress(name)`` is called before each check.

    Raises
    ------
    ValueError
        Unknown profile or check name, or a negative / non-integer seed (the message names it).
    """
    if profile not in ("quick", "full"):
        raise ValueError(f"profile must be 'quick' or 'full', got {profile!r}")
    from .._checks import check_int

    seed = check_int(seed, "seed", minimum=0)
    _load_builtin_checks()
    names = list(CHECKS) if not names else list(names)
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise ValueError(f"unknown check(s) {unknown}; available: {sorted(CHECKS)}")
    if outdir is not None:
        outdir = Path(outdir)
        outdir.mkdir(parents=True, exist_ok=True)
    records, timings = [], {}
    cb, close = _progress_callback(progress, names)
    try:
        for name in names:
            cb(name)
            recs, dt = _run_one(CHECKS[name], profile, seed, outdir)
            timings[name] = dt
            records.extend(recs)
    finally:
        close()
    return records, summarize(records, profile, seed, timings)


def results_document(records, summary, **extra) -> dict:
    """The ``results.json`` document: ``schema_version``, the records (:meth:`CheckRecord.to_dict`), the summary
    and any ``extra`` entries (versions, timings, ...)."""
    return {"schema_version": SCHEMA_VERSION, "records": [r.to_dict() for r in records], "summary": summary,
            **extra}


def load_results(path):
    """Read a ``results.json`` written by ``statfield validate --out`` or ``statfield report``.

    Returns
    -------
    (list[CheckRecord], dict)
        The records and the whole document (``summary``, ``schema_version``, ...).

    Raises
    ------
    ValueError
        The file is not valid JSON, has no ``records`` list, or was written by a newer schema (names the file).
    OSError
        The file cannot be read.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("records"), list):
        raise ValueError(f"{path} is not a statfield results file (no 'records' list)")
    version = doc.get("schema_version", 1)
    if not isinstance(version, int) or not 1 <= version <= SCHEMA_VERSION:
        raise ValueError(f"{path}: schema_version must be an int in [1, {SCHEMA_VERSION}], got {version!r}")
    try:
        records = [CheckRecord.from_dict(d) for d in doc["records"]]
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    return records, doc


#: The modules that register the built-in checks (one line per module).
_BUILTIN = ("statfield.validation.checks_meanfield", "statfield.validation.checks_eft",
            "statfield.validation.checks_samplers", "statfield.validation.checks_paper",
            "statfield.validation.checks_finite_width", "statfield.validation.checks_perturbation",
            "statfield.validation.checks_spectra", "statfield.validation.checks_training",
            "statfield.validation.checks_models", "statfield.validation.checks_architectures")


def _load_builtin_checks():
    """Import the modules that register the built-in checks; a module that fails to import becomes a failing
    check ``import-<module>`` (reported, never a crash of the harness)."""
    import importlib

    for mod in _BUILTIN:
        if mod in _LOADED:
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
