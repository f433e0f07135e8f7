"""Benchmark train_ensemble and the empirical NTK (timings measured in this run; no thresholds asserted).

(a) train_ensemble: full-batch gradient descent of ReLU networks, depth 3 (d_in -> N -> N -> 1), width N = 512,
    P = 100 training points (d_in = 10), 10 test points, float64, NumPy, BLAS threads pinned (--threads). A few
    networks for a few steps at each block size; the cost per network-step is extrapolated to the target of the
    issue, 1000 networks x 1000 steps (the cost is linear in both: every step of every network does the same
    three O(N^2 P) matrix products). The peak memory of one block is printed (independent of n_networks).
(b) Empirical NTK of P inputs at width N, depth 3: the explicit formula (O(L N P^2) after the forward pass) against
    the Jacobian route (per-input parameter gradients stacked into a P x n_params matrix J, Theta = J J^T,
    O(P^2 n_params) = O(L N^2 P^2)) on the same networks; the two kernels agree to round-off (printed).

Results go to OUT/bench_train_ensemble.json. --smoke runs tiny sizes in a few seconds.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import statfield
from statfield.sampling.backend import default_rng, get_namespace
from statfield.training import empirical, stability_limit, train_ensemble


def bench_train(width, depth, P, d_in, n_test, n_networks, steps, block_sizes, seed=0):
    r = np.random.default_rng(seed)
    X = r.normal(size=(P, d_in))
    y = np.sin(X.sum(axis=1))
    Xs = r.normal(size=(n_test, d_in))
    eta = 0.5 * stability_limit("relu", 2.0, 0.1, depth, X)
    train_ensemble("relu", 2.0, 0.1, width, depth, X, y, Xs, [0, 1], 2, eta, seed=seed)  # warm-up (imports, BLAS)
    out = []
    for bs in block_sizes:
        t = time.perf_counter()
        res = train_ensemble("relu", 2.0, 0.1, width, depth, X, y, Xs, [0, steps], n_networks, eta, seed=seed,
                             block_size=bs)
        dt = time.perf_counter() - t
        per = dt / (n_networks * steps)
        widths = empirical.network_widths(width, depth)
        block_mem = bs * 8 * (2 * empirical.parameter_count(widths, d_in) + 4 * sum(widths) * (P + n_test))
        out.append({"block_size": bs, "seconds": dt, "seconds_per_network_step": per,
                    "extrapolated_1000_networks_1000_steps_s": per * 1e6, "block_memory_bytes": block_mem,
                    "final_loss": res.value("loss")[-1], "n_diverged": res.n_diverged})
        print(f"  block {bs:4d}: {dt:.2f} s for {n_networks} networks x {steps} steps -> {per * 1e3:.3f} ms per "
              f"network-step; 1000 x 1000 extrapolated: {per * 1e6 / 60:.1f} min; block memory "
              f"{block_mem / 2**20:.0f} MiB")
    return {"width": width, "depth": depth, "P": P, "d_in": d_in, "n_test": n_test, "n_networks": n_networks,
            "steps": steps, "learning_rate": eta, "runs": out}


def jacobian_ntk(params, X, sw, sb, xp):
    """Baseline: per-input gradients of every parameter stacked into J (P x n_params); Theta = J J^T."""
    zs, hs = empirical.forward(params, xp.asarray(X), "relu", sw, sb, xp)
    deltas = empirical.backward(params, zs, "relu", sw, xp)
    n, _, P = zs[-1].shape
    cols = []
    for l, ((W, b), d) in enumerate(zip(params, deltas)):
        h = hs[l]
        hb = np.broadcast_to(h, (n,) + h.shape[-2:]) if h.ndim == 2 else h
        gW = np.sqrt(sw / W.shape[2]) * np.einsum("nip,njp->npij", d, hb)  # (n, P, N_l, N_{l-1})
        cols.append(gW.reshape(n, P, -1))
        cols.append(np.sqrt(sb) * np.transpose(d, (0, 2, 1)))
    J = np.concatenate(cols, axis=2)
    return np.matmul(J, np.transpose(J, (0, 2, 1))), J.nbytes


def bench_ntk(width, depth, P, d_in, n, seed=0):
    xp = get_namespace("numpy")
    X = np.random.default_rng(seed).normal(size=(P, d_in))
    params = empirical.init_parameters(default_rng(seed, xp), n, empirical.network_widths(width, depth), d_in)
    t = time.perf_counter()
    th = np.asarray(empirical.empirical_ntk(params, X, "relu", 2.0, 0.1))
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    thj, jbytes = jacobian_ntk(params, X, 2.0, 0.1, xp)
    t_jac = time.perf_counter() - t
    err = float(np.max(np.abs(th - thj)) / np.max(np.abs(thj)))
    print(f"  empirical NTK, N={width}, P={P}, {n} networks: explicit {t_ours:.3f} s, Jacobian {t_jac:.3f} s "
          f"(ratio {t_jac / t_ours:.1f}x; J alone {jbytes / 2**20:.0f} MiB); max rel. difference {err:.1e}")
    return {"width": width, "depth": depth, "P": P, "n_networks": n, "explicit_s": t_ours, "jacobian_s": t_jac,
            "ratio": t_jac / t_ours, "jacobian_bytes": jbytes, "max_rel_diff": err}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="bench-train-out", help="output folder")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (a few seconds)")
    ap.add_argument("--threads", type=int, default=2, help="BLAS threads (default 2)")
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    res = {"statfield_version": statfield.__version__, "python": platform.python_version(),
           "numpy": np.__version__, "machine": platform.machine(), "threads": a.threads, "smoke": a.smoke}
    with threadpool_limits(a.threads):
        print("(a) train_ensemble")
        if a.smoke:
            res["train"] = bench_train(32, 3, 20, 5, 4, 8, 5, [4, 8])
        else:
            res["train"] = bench_train(512, 3, 100, 10, 10, 16, 20, [2, 8, 16])
        print("(b) empirical NTK: explicit formula vs Jacobian")
        if a.smoke:
            res["ntk"] = [bench_ntk(32, 3, 8, 5, 4)]
        else:
            res["ntk"] = [bench_ntk(256, 3, 32, 10, 16), bench_ntk(512, 3, 64, 10, 4)]
    (out / "bench_train_ensemble.json").write_text(json.dumps(res, indent=2))
    print(f"wrote {out / 'bench_train_ensemble.json'}")


if __name__ == "__main__":
    main()
