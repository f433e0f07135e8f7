r"""``statfield spectra FILE``: per-layer spectral metrics of a weight file, each with its Gaussian baseline.

Self-contained: :func:`add_parser` adds the subcommand to an :mod:`argparse` sub-parser collection and
:func:`run` executes it (exit status 0, 1 on a file statfield refuses or cannot read, 2 on bad usage)::

    statfield spectra model.safetensors               # table
    statfield spectra model.npz --json                # JSON on stdout
    statfield spectra model.safetensors --plot figs/  # one ESD figure per layer
    statfield spectra model.safetensors --sigma-w2 2  # null N(0, sigma_w2/fan_in) (default sigma_w2 = 1)

Conventions: ``W`` of shape ``(n_rows, n_cols)`` (PyTorch ``Linear.weight``: ``(out, in)``, fan-in =
columns), transposed when wide, ESD of :math:`X = W^TW/N` with :math:`N = \max \ge M = \min`
(``docs/spectra.md``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``spectra`` subcommand to ``subparsers`` (from ``ArgumentParser.add_subparsers``); returns it."""
    p = subparsers.add_parser(
        "spectra", help="weight-matrix spectra of a weight file (log norms, ESD tail alpha) with Gaussian baselines",
        description="Load a weight file without unpickling (.npz/.npy, safetensors, or a PyTorch archive via "
                    "torch.load(weights_only=True)) and print per-layer metrics: log10 ||W||_F^2 (with the exact "
                    "Gaussian expectation), spectral norm, stable rank, matrix entropy, the Marchenko-Pastur bulk "
                    "fit, the Tracy-Widom statistic of lambda_max, and the power-law tail exponent alpha of the ESD "
                    "of X = W^T W / N (Clauset-Shalizi-Newman, bootstrap error) next to the same fit on Gaussian "
                    "matrices of the same shape.",
        epilog="W is (n_rows, n_cols), transposed when n_rows < n_cols; N = max >= M = min. Pickled files are refused.")
    p.add_argument("file", help="weight file: .npz/.npy, .safetensors, or a PyTorch zip archive (needs torch)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.add_argument("--plot", metavar="DIR", default=None, help="write one ESD figure per layer into DIR")
    p.add_argument("--n-boot", type=int, default=50, help="bootstrap replicates of each tail fit (default 50)")
    p.add_argument("--n-baseline", type=int, default=3,
                   help="Gaussian matrices per layer for the baseline alpha (default 3)")
    p.add_argument("--sigma-w2", type=float, default=1.0,
                   help="the random-network null W ~ N(0, sigma_w2/fan_in), fan_in = n_cols, whose exact "
                        "E log10 ||W||_F^2 is printed next to each layer's (default 1)")
    p.add_argument("--conv", choices=["flatten", "slices", "skip"], default="flatten",
                   help="convolution kernels (out, in, k...): one (out, in*k) matrix, k (out, in) slices, or skip")
    p.add_argument("--min-eigs", type=int, default=50,
                   help="fewest eigenvalues for a tail fit, >= 20 (smaller layers are reported without alpha)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(fn=run)
    return p


def _fmt(x, spec=".3f"):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return format(x, spec)


def _table(net, path, sigma_w2) -> str:
    lines = [f"{path}: {len(net.layers)} weight matrices; ESD of X = W^T W / N (N = max, M = min of the shape)"]
    hdr = (f"{'layer':<28} {'shape':>11} {'log10|W|F^2':>11} {'(null E)':>9} {'||W||_2':>8} {'st.rank':>8} "
           f"{'entropy':>7} {'TW s':>7} {'alpha':>13} {'alpha Gauss':>11}")
    lines += [hdr, "-" * len(hdr)]
    for m in net.layers:
        ref = m.null.log10_frobenius_sq
        if m.alpha is not None:
            a = f"{m.alpha:.2f} ± {m.alpha_stderr:.2f}"
            ab = _fmt(m.alpha_baseline, ".2f") + (f"±{m.alpha_baseline_sd:.1f}" if m.alpha_baseline_sd is not None else "")
        else:
            a, ab = "-", "-"
        name = m.name if len(m.name) <= 28 else "…" + m.name[-27:]
        lines.append(f"{name:<28} {m.shape[0]:>5}x{m.shape[1]:<5} {m.log10_frobenius_sq:>11.4f} {ref:>9.4f} "
                     f"{m.spectral_norm:>8.3g} {m.stable_rank:>8.2f} {m.matrix_entropy:>7.3f} {m.tw_statistic:>7.1f} "
                     f"{a:>13} {ab:>11}")
        if m.alpha is None and m.alpha_note:
            lines.append(f"{'':<28}   {m.alpha_note}")
    lines.append("")
    lines.append(f"average log10 ||W||_F^2 = {net.mean_log10_frobenius_sq:.4f} (random-network null, exact: "
                 f"{net.null_mean_log10_frobenius_sq:.4f})")
    if net.n_alpha:
        lines.append(f"average alpha = {net.mean_alpha:.3f} ± {net.mean_alpha_stderr:.3f} over {net.n_alpha} layer(s) "
                     f"(Gaussian baseline of the same shapes: {net.mean_alpha_baseline:.3f}); "
                     f"average weighted alpha = {net.mean_alpha_weighted:.3f}")
    lines.append(f"(null E): exact E log10 ||W||_F^2 of the random-network null W ~ N(0, sigma_w2/fan_in), "
                 f"sigma_w2 = {sigma_w2:g}, fan_in = n_cols;\nTW s: Tracy-Widom statistic of lambda_max against a Gaussian matrix of the same shape and variance "
                 "||W||_F^2/(N M) (s > 3: beyond the noise edge).")
    return "\n".join(lines)


def run(args) -> int:
    """Execute ``statfield spectra`` for parsed ``args``; returns the exit status."""
    from .io import PickleRefusedError, load_weights, weight_matrices
    from .metrics import network_metrics

    for name, lo in (("n_boot", 0), ("n_baseline", 1), ("min_eigs", 20), ("seed", 0)):
        if getattr(args, name) < lo:
            print(f"error: --{name.replace('_', '-')} must be >= {lo}, got {getattr(args, name)}", file=sys.stderr)
            return 2
    if not (math.isfinite(args.sigma_w2) and args.sigma_w2 > 0):
        print(f"error: --sigma-w2 must be finite and > 0, got {args.sigma_w2}", file=sys.stderr)
        return 2
    try:
        tensors = load_weights(args.file)
    except (PickleRefusedError, FileNotFoundError, ImportError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    mats = weight_matrices(tensors, conv=args.conv)
    if not mats:
        shapes = {k: list(getattr(v, "shape", ())) for k, v in tensors.items()}
        print(f"error: {args.file} holds no weight matrix (2-D float tensor); tensors: {shapes}", file=sys.stderr)
        return 1
    try:
        net = network_metrics(mats, sigma_w2=args.sigma_w2, n_boot=args.n_boot, n_baseline=args.n_baseline,
                              seed=args.seed, min_eigs=args.min_eigs)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.plot:
        from .plots import save_layer_figures

        paths = save_layer_figures(net, args.plot)
        if not args.json:
            print(f"wrote {len(paths)} figure(s) into {args.plot}")
    if args.json:
        from .._io import to_jsonable

        doc = {"file": str(args.file), "sigma_w2": args.sigma_w2,
               "convention": "W (n_rows, n_cols) transposed when n_rows < n_cols; ESD of X = W^T W / N, N = max >= "
                             "M = min; null W ~ N(0, sigma_w2/n_cols); alpha: CSN MLE, x_min by KS, bootstrap error; "
                             "alpha_baseline: the same fit on Gaussian matrices of the same shape",
               **net.to_dict()}
        print(json.dumps(to_jsonable(doc), indent=2, allow_nan=False))
    else:
        print(_table(net, args.file, args.sigma_w2))
    return 0


def main(argv=None) -> int:
    """Stand-alone entry point (``python -m statfield.spectra.cli FILE``), for use before the wiring."""
    ap = argparse.ArgumentParser(prog="statfield")
    sub = ap.add_subparsers(dest="command")
    add_parser(sub)
    args = ap.parse_args(["spectra", *(sys.argv[1:] if argv is None else argv)])
    return int(args.fn(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
