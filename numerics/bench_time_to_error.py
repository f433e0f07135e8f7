"""Time to equal statistical error for the P×P kernel: pre-activation (plain and with control variates) vs the
weight-space sampler (and neural-tangents' Monte Carlo kernel when a venv with it exists), ratios in one run.

Task: ReLU (sigma_w2 = 2, sigma_b2 = 0.1), width 1024, depth 10, P = 8, 64, 256 Gaussian inputs (d_in = 64);
the target is the kernel of the last layer, E gram^L = E G^L (docs/conventions.md). Error measure: the largest
standard error over the entries, relative to the kernel scale, err = max_ij se_ij / sqrt(K_ii K_jj).

How the times are equalised: every sampler is run with a pilot of n networks (timed, one BLAS thread via
threadpoolctl); its per-network error sigma = err * sqrt(n) is measured, and the time to reach error eps is
T(eps) = fixed + ((seconds - fixed) / n) * (sigma / eps)^2 (the cost per network is constant, errors fall as
n^{-1/2}; "fixed" is the once-per-run control-variate assembly, reported by simulate in diagnostics). Estimators:
pre-activation and weight space use the Rao-Blackwellised G^L (the plain sample mean, variance_reduction=False);
"pre-activation + CV" uses the cross-fitted control variates of statfield.sampling.control (exact expectation);
neural-tangents' monte_carlo_kernel_fn averages the empirical Gram f f^T / N, whose per-network law is exactly
that of our plain "gram" (measured here with an untimed pre-activation run) and is timed with its jit compiled
beforehand. The 1-min load average is printed beside every figure (the machine is shared: absolute seconds are
inflated, same-run ratios less so). Results: OUT/bench_time_to_error.json; without --smoke the section
"bench_time_to_error" of numerics/BENCHMARKS.md is refreshed. No thresholds are asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import statfield
from statfield.sampling import simulate

SW, SB = 2.0, 0.1
NT_SNIPPET = r"""
import os, sys, time, json
os.environ.setdefault("JAX_ENABLE_X64", "1")
import jax, numpy as np
jax.config.update("jax_enable_x64", True)
from neural_tangents import stax, monte_carlo_kernel_fn
P, d_in, depth, width, n = (int(a) for a in sys.argv[1:6])
sw, sb = float(sys.argv[6]), float(sys.argv[7])
layers = []
for l in range(depth):
    layers.append(stax.Dense(width, W_std=sw ** 0.5, b_std=sb ** 0.5))
    if l + 1 < depth:
        layers.append(stax.Relu())
init_fn, apply_fn, _ = stax.serial(*layers)
x = np.asarray(np.random.default_rng(0).standard_normal((P, d_in)))
kfn = monte_carlo_kernel_fn(init_fn, apply_fn, jax.random.PRNGKey(1), n, batch_size=P, device_count=0)
np.asarray(kfn(x, None, "nngp"))  # compile
load0 = os.getloadavg()[0]
t = time.perf_counter()
k = np.asarray(kfn(x, None, "nngp"))
print(json.dumps({"seconds": time.perf_counter() - t, "networks": n, "load": [load0, os.getloadavg()[0]],
                  "versions": {"neural_tangents": __import__("neural_tangents").__version__, "jax": jax.__version__}}))
"""


def rel_error(est):
    """max_ij se_ij / sqrt(K_ii K_jj) of the last layer."""
    v, se = np.asarray(est.value[-1]), np.asarray(est.stderr[-1])
    d = np.sqrt(np.abs(np.diag(v)))
    return float(np.max(se / np.outer(d, d)))


def run_sampler(X, width, depth, n, method, vr, obs, seed):
    load0 = os.getloadavg()[0]
    t = time.perf_counter()
    res = simulate("relu", SW, SB, width, depth, n, inputs=X, method=method, seed=seed, observables=obs,
                   variance_reduction=vr)
    sec = time.perf_counter() - t
    err = rel_error(res[obs[0]])
    fixed = float(res.diagnostics.get("control_variates_s", 0.0))  # assembly: once per run, not per network
    return {"networks": n, "seconds": sec, "fixed_seconds": fixed, "rel_err": err, "sigma_per_network": err * np.sqrt(n),
            "load": [load0, os.getloadavg()[0]], "variance_reduction": res.parameters["variance_reduction"]}


def bench_nt(nt_python, P, d_in, depth, width, n):
    if not nt_python or not Path(nt_python).exists():
        return {"status": f"not run: {nt_python} not found"}
    env = dict(os.environ, JAX_ENABLE_X64="1", OMP_NUM_THREADS="1", XLA_FLAGS="--xla_cpu_multi_thread_eigen=false")
    try:
        proc = subprocess.run([nt_python, "-c", NT_SNIPPET, str(P), str(d_in), str(depth), str(width), str(n),
                               str(SW), str(SB)], capture_output=True, text=True, timeout=1800, env=env)
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode or not line:
            tail = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode
            return {"status": f"failed: {tail}"}
        return {"status": "ok", **json.loads(line[-1])}
    except Exception as exc:  # reported, not fatal
        return {"status": f"failed: {exc}"}


def time_to(entry, eps):
    """Fixed cost (control-variate assembly) + per-network cost × networks needed for error eps."""
    fixed = entry.get("fixed_seconds", 0.0)
    return fixed + (entry["seconds"] - fixed) / entry["networks"] * (entry["sigma_per_network"] / eps) ** 2


def bench_P(P, d_in, width, depth, n, nt_python, seed):
    X = np.random.default_rng(0).standard_normal((P, d_in))
    out = {"P": P, "d_in": d_in, "width": width, "depth": depth}
    out["preactivation_cv"] = run_sampler(X, width, depth, n["pre"], "preactivation", True, ("G",), seed)
    out["preactivation"] = run_sampler(X, width, depth, n["pre"], "preactivation", False, ("G",), seed)
    out["weights"] = run_sampler(X, width, depth, n["weights"], "weights", False, ("G",), seed + 1)
    gram = run_sampler(X, width, depth, n["pre"], "preactivation", False, ("gram",), seed + 2)  # untimed law of f f^T/N
    out["gram_sigma_per_network"] = gram["sigma_per_network"]
    nt = bench_nt(nt_python, P, d_in, depth, width, n["nt"]) if nt_python else {"status": "not run (--smoke)"}
    if nt.get("status") == "ok":
        nt["sigma_per_network"] = gram["sigma_per_network"]
    out["neural_tangents"] = nt
    for eps in (1e-2, 1e-3):
        key = f"{eps:g}"
        t = {m: time_to(out[m], eps) for m in ("preactivation_cv", "preactivation", "weights")}
        if nt.get("status") == "ok":
            t["neural_tangents"] = time_to(nt, eps)
        out[f"time_to_{key}"] = t
        out[f"ratios_{key}"] = {f"{m}/preactivation_cv": t[m] / t["preactivation_cv"] for m in t if m != "preactivation_cv"}
    return out


def variance_reduction_table(smoke):
    """Variance ratio plain / control variates per observable (same seed, same networks)."""
    rows = []
    configs = ([("relu", "preactivation", 8, 16, 3, 256), ("linear", "wishart", 8, 16, 3, 256)] if smoke else
               [("relu", "preactivation", 8, 1024, 10, 256), ("relu", "preactivation", 8, 64, 10, 2048),
                ("linear", "wishart", 8, 1024, 10, 4096), ("linear", "wishart", 8, 64, 10, 4096)])
    for act, method, P, width, depth, n in configs:
        X = np.random.default_rng(0).standard_normal((P, 64))
        load0 = os.getloadavg()[0]
        kw = dict(inputs=X, method=method, seed=3, observables=("gram", "G"))
        cv = simulate(act, SW, SB, width, depth, n, **kw)
        plain = simulate(act, SW, SB, width, depth, n, variance_reduction=False, block_size=cv.parameters["block_size"], **kw)
        off = ~np.eye(P, dtype=bool)
        for name in ("gram", "G"):
            r = (plain.stderr(name) / np.maximum(cv.stderr(name), 1e-300)) ** 2  # (L, P, P)
            rows.append({"activation": act, "method": method, "P": P, "width": width, "depth": depth, "networks": n,
                         "observable": name, "last_offdiag": float(np.median(r[-1][off])),
                         "last_diag": float(np.median(np.diag(r[-1]))),
                         "all_layers_offdiag": float(np.median(r[1:, off])), "load": [load0, os.getloadavg()[0]]})
    return rows


def write_vr_markdown(path, rows, date):
    lines = ["<!-- bench_variance_reduction:start -->",
             "## Variance reduction per observable (numerics/bench_time_to_error.py --only vr)", "",
             f"Date {date}. sigma_w2={SW}, sigma_b2={SB}, P=8 Gaussian inputs; factor = Var(plain) / Var(control "
             "variates), i.e. (se_plain / se_cv)², same seed and blocks (so the same networks); medians over entries. "
             "Controls: the diagonals gram^l_aa, gram^(l-1)_aa and G^l_aa, whose expectations are exact at any width "
             "for piecewise-linear phi (statfield.sampling.control). For linear phi the diagonal of G is determined "
             "exactly by the controls (its error bar is at rounding level, factor ≫ 1).", "",
             "| activation (sampler) | width | depth | networks | observable | last layer off-diag | last layer diag | "
             "layers 2..L off-diag | load |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['activation']} ({r['method']}) | {r['width']} | {r['depth']} | {r['networks']} | "
                     f"{r['observable']} | **{r['last_offdiag']:.3g}×** | {r['last_diag']:.3g}× | "
                     f"{r['all_layers_offdiag']:.3g}× | {r['load'][0]:.1f}/{r['load'][1]:.1f} |")
    lines.append("<!-- bench_variance_reduction:end -->")
    section = "\n".join(lines)
    text = path.read_text() if path.exists() else ""
    start, end = "<!-- bench_variance_reduction:start -->", "<!-- bench_variance_reduction:end -->"
    if start in text and end in text:
        text = text[:text.index(start)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def write_markdown(path, res):
    info = res["machine"]
    lines = ["<!-- bench_time_to_error:start -->", "## bench_time_to_error (numerics/bench_time_to_error.py)", "",
             f"Machine: {info['cpu_count']} CPUs, {info['platform']}; NumPy {info['numpy']}, statfield "
             f"{info['statfield']}; BLAS threads 1 (threadpoolctl); date {res['date']}. ReLU, sigma_w2={SW}, "
             f"sigma_b2={SB}, width {res['runs'][0]['width']}, depth {res['runs'][0]['depth']}. err = max_ij se_ij / "
             "sqrt(K_ii K_jj) of the last-layer kernel; time to err eps = fixed + (s/network) × (sigma/eps)² (fixed: the "
             "once-per-run control-variate assembly), sigma the "
             "measured per-network error of a timed pilot. Load = 1-min load average before/after each timing "
             "(2 CPUs: loads ≫ 2 inflate absolute seconds; the same-run ratios are the figures to quote).", "",
             "| P | sampler | networks | s (load) | sigma/network | T(1 %) s | T(0.1 %) s | ratio vs pre-act+CV at 1 % / 0.1 % |",
             "|---|---|---|---|---|---|---|---|"]
    for r in res["runs"]:
        for m, label in (("preactivation_cv", "pre-activation + control variates"), ("preactivation", "pre-activation (plain G)"),
                         ("weights", "weight space (plain G)"), ("neural_tangents", "neural-tangents MC (f fᵀ/N)")):
            e = r[m]
            if m == "neural_tangents" and e.get("status") != "ok":
                lines.append(f"| {r['P']} | {label} | – | {e.get('status')} | | | | |")
                continue
            t1, t3 = r["time_to_0.01"][m], r["time_to_0.001"][m]
            ratio = ("1" if m == "preactivation_cv" else
                     f"**{r['ratios_0.01'][m + '/preactivation_cv']:.3g}× / {r['ratios_0.001'][m + '/preactivation_cv']:.3g}×**")
            lines.append(f"| {r['P']} | {label} | {e['networks']} | {e['seconds']:.2f} ({e['load'][0]:.1f}/{e['load'][1]:.1f}) "
                         f"| {e['sigma_per_network']:.3g} | {t1:.3g} | {t3:.3g} | {ratio} |")
    lines += ["", "Control-variate assembly (fixed, once per run): " + ", ".join(
        f"P={r['P']}: {r['preactivation_cv'].get('fixed_seconds', 0.0):.2g} s" for r in res["runs"]) + ". "
              "Apart from that fixed cost, time ratios at equal error are the same at 1 % and 0.1 % (both ∝ sigma²×cost); "
              "the variance-reduction factor of the control variates on this error measure is "
              + ", ".join(f"P={r['P']}: {(r['preactivation']['sigma_per_network'] / r['preactivation_cv']['sigma_per_network']) ** 2:.3g}"
                          for r in res["runs"]) + " (variance ratio, plain / CV).",
              "<!-- bench_time_to_error:end -->"]
    section = "\n".join(lines)
    text = path.read_text() if path.exists() else ""
    start, end = "<!-- bench_time_to_error:start -->", "<!-- bench_time_to_error:end -->"
    if start in text and end in text:
        text = text[:text.index(start)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out/bench_time_to_error", help="output folder")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (< 20 s); BENCHMARKS.md is not touched")
    ap.add_argument("--nt-python", default="/work/nt-venv/bin/python", help="python of a venv with neural-tangents")
    ap.add_argument("--P", type=int, nargs="*", default=None, help="numbers of inputs (default 8 64 256)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", choices=["all", "vr"], default="all",
                    help="'vr': only the variance-reduction factors per observable")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    if args.only == "vr" or args.smoke:
        with threadpool_limits(limits=1, user_api="blas"):
            rows = variance_reduction_table(args.smoke)
        (out / "variance_reduction.json").write_text(json.dumps(rows, indent=2))
        if not args.smoke:
            write_vr_markdown(Path(__file__).with_name("BENCHMARKS.md"), rows, date)
            return rows
    if args.smoke:
        width, depth, Ps = 32, 3, args.P or [4, 8]
        nets = {p: {"pre": 64, "weights": 8, "nt": 4} for p in Ps}
        nt_python = None
    else:
        width, depth, Ps = 1024, 10, args.P or [8, 64, 256]
        table = {8: {"pre": 512, "weights": 32, "nt": 32}, 64: {"pre": 128, "weights": 16, "nt": 16},
                 256: {"pre": 64, "weights": 8, "nt": 8}}
        nets = {p: table.get(p, {"pre": 32, "weights": 8, "nt": 8}) for p in Ps}
        nt_python = args.nt_python
    import platform

    with threadpool_limits(limits=1, user_api="blas"):
        np.linalg.cholesky(np.eye(2))
        res = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "smoke": args.smoke,
               "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "numpy": np.__version__,
                           "statfield": statfield.__version__, "loadavg_start": os.getloadavg()[0]}, "runs": []}
        simulate("relu", SW, SB, 8, 2, 8, inputs=np.eye(2), method="weights")  # warm-up (imports)
        for P in Ps:
            r = bench_P(P, 64 if not args.smoke else 4, width, depth, nets[P], nt_python, args.seed)
            res["runs"].append(r)
            print(json.dumps({"P": P, "ratios_1%": r["ratios_0.01"], "loads": r["preactivation"]["load"]}), flush=True)
            (out / "bench_time_to_error.json").write_text(json.dumps(res, indent=2))
        res["machine"]["loadavg_end"] = os.getloadavg()[0]
    (out / "bench_time_to_error.json").write_text(json.dumps(res, indent=2))
    if not args.smoke:
        write_markdown(Path(__file__).with_name("BENCHMARKS.md"), res)
    return res


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
