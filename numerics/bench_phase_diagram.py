"""Benchmark: vectorised tanh phase diagram (200 x 200 grid) vs a naive scalar loop over grid points.

Measures ``statfield.meanfield.phase_diagram("tanh", ...)`` cold (first call, incl. the q-grid table) and
warm (median of repeats), and the per-point cost of the scalar API in a Python loop (``q_star``, ``chi1``,
``depth_scales`` for a random subset of grid points, extrapolated to the full grid); reports the ratio
measured in the same run and checks that both give the same numbers. Never asserts timings. Without
``--smoke`` it refreshes its section of ``numerics/BENCHMARKS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from statfield import meanfield as mf

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- bench_phase_diagram:start -->", "<!-- bench_phase_diagram:end -->"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("out/bench_phase_diagram"))
    ap.add_argument("--smoke", action="store_true", help="20 x 20 grid, 10 loop points, no BENCHMARKS.md")
    ap.add_argument("--n", type=int, default=200, help="grid size per axis")
    ap.add_argument("--loop-points", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args(argv)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass
    n = 20 if a.smoke else a.n
    npts = 10 if a.smoke else a.loop_points
    reps = 1 if a.smoke else a.repeats
    a.out.mkdir(parents=True, exist_ok=True)
    w = np.linspace(0.5, 4.0, n)
    b = np.linspace(0.0, 0.3, n)

    load0 = os.getloadavg()[0]
    t, c = time.perf_counter(), time.process_time()
    pd = mf.phase_diagram("tanh", w, b)
    cold, cold_cpu = time.perf_counter() - t, time.process_time() - c
    warm, warm_cpu = [], []
    for _ in range(reps):
        t, c = time.perf_counter(), time.process_time()
        pd = mf.phase_diagram("tanh", w, b)
        warm.append(time.perf_counter() - t)
        warm_cpu.append(time.process_time() - c)
    warm_s, warm_c = float(np.median(warm)), float(np.median(warm_cpu))

    rng = np.random.default_rng(0)
    idx = rng.choice(n * n, size=npts, replace=False)
    ii, jj = np.unravel_index(idx, (n, n))
    t, c = time.perf_counter(), time.process_time()
    loop = []
    for i, j in zip(ii, jj):
        wi, bi = w[j], b[i]
        loop.append((mf.q_star("tanh", wi, bi), mf.chi1("tanh", wi, bi), mf.depth_scales("tanh", wi, bi)[1]))
    per_point = (time.perf_counter() - t) / npts
    per_point_cpu = (time.process_time() - c) / npts
    loop_full = per_point * n * n
    loop = np.array(loop)
    agree = {
        "q_star": float(np.max(np.abs(loop[:, 0] - pd.q_star[ii, jj]) / np.maximum(loop[:, 0], 1e-300))),
        "chi1": float(np.max(np.abs(loop[:, 1] - pd.chi1[ii, jj]))),
        "xi_c_rel": float(np.max(np.abs(loop[:, 2] - pd.xi_c[ii, jj]) / loop[:, 2])),
    }
    res = {
        "grid": [n, n], "activation": "tanh", "sigma_w2": [0.5, 4.0], "sigma_b2": [0.0, 0.3],
        "cold_s": round(cold, 3), "warm_s": round(warm_s, 3), "warm_all_s": [round(x, 3) for x in warm],
        "cold_cpu_s": round(cold_cpu, 3), "warm_cpu_s": round(warm_c, 3), "loop_per_point_cpu_s": per_point_cpu,
        "speedup_vs_loop_cpu": round(per_point_cpu * n * n / warm_c, 1), "blas_threads": 1,
        "loop_per_point_s": per_point, "loop_points_timed": npts, "loop_full_grid_extrapolated_s": round(loop_full, 1),
        "speedup_vs_loop": round(loop_full / warm_s, 1), "max_diff_vectorised_vs_loop": agree,
        "phases": {k: int(v) for k, v in zip(*np.unique(pd.phase.astype(str), return_counts=True))},
        "cpu_count": os.cpu_count(), "load_avg_start": load0, "load_avg_end": os.getloadavg()[0],
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    (a.out / "bench_phase_diagram.json").write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))
    if not a.smoke:
        section = (f"{START}\n## bench_phase_diagram (numerics/bench_phase_diagram.py)\n\n"
                   f"Machine: {platform.machine()}, {os.cpu_count()} CPUs; Python {platform.python_version()}, NumPy "
                   f"{np.__version__}; BLAS threads pinned to 1 (threadpoolctl); date {time.strftime('%Y-%m-%d %H:%M')} "
                   f"UTC; 1-min load average at start/end {load0:.1f}/{os.getloadavg()[0]:.1f} (CPU seconds are the "
                   f"load-independent figure).\n\n"
                   f"tanh phase diagram on a {n}x{n} grid (sigma_w2 in [0.5, 4], sigma_b2 in [0, 0.3]): q*, chi1, chi_q, "
                   f"c*, chi_c, xi_q, xi_c, phase at every point. Goal: < 2 s.\n\n"
                   f"| quantity | wall (s) | CPU (s) |\n|---|---|---|\n"
                   f"| vectorised, cold (incl. q-grid table) | {cold:.2f} | {cold_cpu:.2f} |\n"
                   f"| vectorised, warm (median of {reps}) | {warm_s:.2f} | {warm_c:.2f} |\n"
                   f"| scalar API in a Python loop, per point | {per_point * 1e3:.1f} ms | {per_point_cpu * 1e3:.1f} ms |\n"
                   f"| loop extrapolated to {n * n} points | {loop_full:.0f} | {per_point_cpu * n * n:.0f} |\n\n"
                   f"Speed-up loop / vectorised (warm, CPU): **{per_point_cpu * n * n / warm_c:.0f}x**. Same numbers: "
                   f"max relative difference loop vs vectorised of q* {agree['q_star']:.1e}, of xi_c "
                   f"{agree['xi_c_rel']:.1e} (xi_c = -1/ln chi_c amplifies 1e-15 in chi_c near chi_c = 1).\n{END}\n")
        path = ROOT / "numerics" / "BENCHMARKS.md"
        text = path.read_text() if path.exists() else "# Benchmarks\n\nMeasured ratios; each script owns its section.\n\n"
        if START in text and END in text:
            pre, rest = text.split(START, 1)
            text = pre + section.rstrip("\n") + rest.split(END, 1)[1]
        else:
            text = text.rstrip("\n") + "\n\n" + section
        path.write_text(text)


if __name__ == "__main__":
    main()
