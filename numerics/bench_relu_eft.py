"""Benchmark: time to derive the ReLU quadratic EFT from the action (issue 2 goal: < 10 s).

Each timing runs in a fresh Python process (cold SymPy caches), so it measures the whole chain
action -> collective coordinates (exact measures) -> Stirling -> large-N per-unit action -> saddle
-> Hessian -> M(q) -> propagator -> closed-form correlators C_0, C_1 -> correlation lengths ->
continuum EFT. Also timed: the same pipeline for the linear network (ratio ReLU / linear) and the
full LaTeX document of the ReLU derivation (with the finite-N saddle steps; no pdflatex). Both wall
and CPU seconds are reported, with the load average (other jobs share the machine). The benchmark
never asserts a timing; without ``--smoke`` it refreshes its section of numerics/BENCHMARKS.md.

Usage: python numerics/bench_relu_eft.py [--out out/bench_relu_eft] [--smoke] [--repeats 3]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

_PIPELINE = r"""
import json, time
w0, c0 = time.perf_counter(), time.process_time()
from statfield.symbolic.eft import quadratic_eft
eft = quadratic_eft({act!r})
eft.precision(); eft.propagator(); eft.correlator(0); eft.correlator(1)
eft.correlation_length("lattice"); eft.correlation_length("continuum"); eft.continuum().density()
if {doc!r}:
    eft.derivation(finite_n=True).to_latex()
print(json.dumps({{"wall": time.perf_counter() - w0, "cpu": time.process_time() - c0}}))
"""


def run_fresh(act, doc=False):
    code = _PIPELINE.format(act=act, doc=doc)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def summarize(runs):
    return {k: {"median": statistics.median(r[k] for r in runs), "min": min(r[k] for r in runs)}
            for k in ("wall", "cpu")}


def write_markdown(path, res):
    r, l, d = res["relu"], res["linear"], res["relu_document"]
    lines = [
        "<!-- bench_relu_eft:start -->",
        "## bench_relu_eft (numerics/bench_relu_eft.py)",
        "",
        f"Machine: {res['machine']['processor']}, {res['machine']['cpu_count']} CPUs, {res['machine']['platform']}; "
        f"Python {res['machine']['python']}, SymPy {res['machine']['sympy']}; load average at start "
        f"{res['load_start']:.1f}, at end {res['load_end']:.1f}; {res['repeats']} fresh processes each; "
        f"date {res['date']}.",
        "",
        "| pipeline (fresh process, cold caches) | wall median / min (s) | CPU median / min (s) |",
        "|---|---|---|",
        f"| ReLU EFT from the action (goal < 10 s) | {r['wall']['median']:.2f} / {r['wall']['min']:.2f} | "
        f"{r['cpu']['median']:.2f} / {r['cpu']['min']:.2f} |",
        f"| linear EFT from the action | {l['wall']['median']:.2f} / {l['wall']['min']:.2f} | "
        f"{l['cpu']['median']:.2f} / {l['cpu']['min']:.2f} |",
        f"| ReLU full LaTeX derivation (incl. finite-N saddles) | {d['wall']['median']:.2f} / {d['wall']['min']:.2f} | "
        f"{d['cpu']['median']:.2f} / {d['cpu']['min']:.2f} |",
        "",
        f"Ratios (CPU medians, same run): ReLU / linear = **{r['cpu']['median'] / l['cpu']['median']:.2f}×**; "
        f"full document / EFT = **{d['cpu']['median'] / r['cpu']['median']:.2f}×**; ReLU EFT CPU / 10 s goal = "
        f"**{r['cpu']['median'] / 10:.2f}**.",
        "<!-- bench_relu_eft:end -->",
    ]
    section = "\n".join(lines)
    text = path.read_text() if path.exists() else "# statfield benchmarks\n"
    start, end = "<!-- bench_relu_eft:start -->", "<!-- bench_relu_eft:end -->"
    if start in text and end in text:
        i, j = text.index(start), text.index(end) + len(end)
        text = text[:i] + section + text[j:]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out/bench_relu_eft", help="output folder")
    ap.add_argument("--smoke", action="store_true", help="one linear run only (< 20 s); BENCHMARKS.md untouched")
    ap.add_argument("--repeats", type=int, default=3, help="fresh processes per pipeline")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    import sympy

    res = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "machine": {"processor": platform.machine(), "cpu_count": os.cpu_count(), "platform": platform.platform(),
                       "python": platform.python_version(), "sympy": sympy.__version__},
           "load_start": os.getloadavg()[0]}
    if args.smoke:
        res["repeats"] = 1
        res["linear"] = summarize([run_fresh("linear")])
    else:
        res["repeats"] = args.repeats
        for key, act, doc in (("relu", "relu", False), ("linear", "linear", False), ("relu_document", "relu", True)):
            res[key] = summarize([run_fresh(act, doc) for _ in range(args.repeats)])
    res["load_end"] = os.getloadavg()[0]
    (out / "bench_relu_eft.json").write_text(json.dumps(res, indent=2))
    if not args.smoke:
        write_markdown(Path(__file__).with_name("BENCHMARKS.md"), res)
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
