"""summary.md: the terminal-readable summary of the report (Markdown)."""

from __future__ import annotations

import math

__all__ = ["summary_markdown", "paper_rows", "num"]


def num(x, fmt=".5g") -> str:
    """A number for a table; ``--`` for ``None`` and non-finite values."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "--"
    return format(float(x), fmt)


def _fmtv(x):
    if x is None:
        return "undefined"
    if isinstance(x, bool):
        return "yes" if x else "no"
    return num(x)


def _verdict(z_pub, z_ours, t):
    pub_ok = z_pub is not None and math.isfinite(z_pub) and abs(z_pub) < t
    ours_ok = z_ours is not None and math.isfinite(z_ours) and abs(z_ours) < t
    if pub_ok and ours_ok:
        return "both consistent"
    if ours_ok:
        return f"published excluded ({abs(z_pub):.0f} sigma)" if z_pub is not None and math.isfinite(z_pub) \
            else "published excluded"
    if pub_ok:
        return "published supported, statfield excluded"
    return "neither consistent"


def paper_rows(records) -> list[dict]:
    """The comparison with the published SPS17 coefficients: one row per published record of group ``paper``.

    Each row: quantity, published value, statfield's value, MC estimate ± stderr, and the z-scores
    of both predictions against MC (``|z| < threshold``: the data supports that value).
    """
    rows = []
    for r in records:
        if r.kind != "published" or r.skipped or r.group not in ("paper", ""):
            continue  # published asymptotics of other groups (spectra, ...) stay in their group's table
        ours = r.params.get("ours")
        z_ours = (r.estimate - ours) / r.stderr if ours is not None and r.stderr > 0 else None
        rows.append({"quantity": r.params.get("quantity", r.name), "source": r.params.get("source", ""),
                     "published": r.prediction, "statfield": ours, "mc": r.estimate, "mc_stderr": r.stderr,
                     "z_published": r.z, "z_statfield": z_ours, "threshold": r.threshold,
                     "verdict": r.params.get("verdict") or _verdict(r.z, z_ours, r.threshold)})
    return rows


def z_sentence(z: dict) -> str:
    """One sentence on the z distribution (plain text)."""
    if not z.get("n"):
        return "No z-scores (no test comparison ran)."
    sd = "--" if z.get("sd") is None else f"{z['sd']:.2f}"
    return (f"z-scores of the {z['n']} comparisons: mean {z['mean']:+.2f}, sd {sd}, max |z| {z['max_abs']:.2f} "
            f"(a correct theory with calibrated error bars gives mean near 0 and sd near 1)")


def summary_markdown(records, summary, derivation_status, files, runtime, profile, theory_rows=()) -> str:
    """The terminal-readable summary (Markdown): verdict, z distribution, per-group and per-check tables,
    failures, skips, the published coefficients, derivations and files."""
    lines = ["# statfield report", ""]
    ok = summary["n_failed"] == 0 and not any(s["status"] == "error" for s in derivation_status.values())
    if not ok:
        verdict = "FAILURES (see below)"
    elif summary.get("n_skipped", 0):
        verdict = f"ALL CHECKS THAT RAN PASSED ({summary['n_skipped']} skipped: see below)"
    else:
        verdict = "ALL CHECKS PASSED"
    lines += [f"**{verdict}** - {summary['n_checks']} theory-vs-Monte-Carlo comparisons, "
              f"{summary['n_failed']} failed, {summary['n_skipped']} skipped "
              f"(profile `{profile}`, seed {summary['seed']}, {runtime:.0f} s).", "",
              f"Multiple comparisons: {summary['multiple_comparisons']}.", ""]
    if "z_distribution" in summary:
        lines += [z_sentence(summary["z_distribution"]) + ".", ""]
    lines += ["## What was checked", "", "| group | comparisons | failed | skipped |", "|---|---:|---:|---:|"]
    for g, c in summary["groups"].items():
        lines.append(f"| {g} | {c['n'] - c['published'] - c['skipped']} | {c['failed']} | {c['skipped']} |")
    lines.append("")
    if summary.get("checks"):
        lines += ["## Per check", "", "| check | group | comparisons | failed | skipped | max abs z | time (s) |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        for name, c in summary["checks"].items():
            lines.append(f"| `{name}` | {c['group']} | {c['n']} | {c['failed']} | {c['skipped']} | "
                         f"{num(c['max_abs_z'], '.2f')} | {num(c['runtime'], '.1f')} |")
        lines.append("")
    if summary["failures"]:
        lines += ["## Failures", ""] + [f"- {f}" for f in summary["failures"]] + [""]
    if summary["skipped"]:
        lines += ["## Skipped", ""] + [f"- {s}" for s in summary["skipped"]] + [""]
    prows = paper_rows(records)
    if prows:
        lines += ["## Published SPS17 coefficients against Monte Carlo", "",
                  "Reported, not counted as failures. z = (MC - value)/s.e.", "",
                  "| quantity | published | statfield | MC ± s.e. | z (published) | z (statfield) | verdict |",
                  "|---|---:|---:|---:|---:|---:|---|"]
        for r in prows:
            lines.append(f"| {r['quantity']} | {num(r['published'])} | {num(r['statfield'])} | "
                         f"{num(r['mc'])} ± {num(r['mc_stderr'], '.2g')} | {num(r['z_published'], '+.1f')} | "
                         f"{num(r['z_statfield'], '+.1f')} | {r['verdict']} |")
        lines.append("")
    if theory_rows:
        lines += ["Invariants of the quadratic forms themselves (theory against theory, from "
                  "`statfield.symbolic.compare`; not measurable by MC):", "",
                  "| activation | invariant | published | statfield | agree |", "|---|---|---:|---:|---|"]
        for r in theory_rows:
            lines.append(f"| {r['activation']} | {r['invariant']} | {_fmtv(r['published'])} | {_fmtv(r['ours'])} | "
                         f"{'yes' if r['agree'] else 'no'} |")
        lines.append("")
    lines += ["## Derivations", ""]
    for name, st in derivation_status.items():
        extra = f" ({st['seconds']:.1f} s)" if st.get("seconds") is not None else ""
        lines.append(f"- `{name}`: {st['status']}{extra}" + (f" - {st['error']}" if st.get("error") else ""))
    lines += ["", "## Files", ""] + [f"- `{k}`: {v}" for k, v in files.items()] + [""]
    if summary.get("report_errors"):
        lines += ["## Report errors", ""] + [f"- {e}" for e in summary["report_errors"]] + [""]
    return "\n".join(lines)
