"""``statfield sample``: exact Monte Carlo of random networks (:func:`statfield.simulate`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ._common import csv_list, finite_float, nonneg_int, positive_int, print_json

__all__ = ["add_parser", "run", "load_inputs"]

def _methods():
    from ..sampling.plan import METHODS

    return tuple(METHODS)


def add_parser(subparsers):
    """Register ``sample`` on an argparse ``subparsers`` object; returns the sub-parser."""
    s = subparsers.add_parser("sample", help="Monte Carlo of random networks (per-layer estimates with error bars)",
                              description="Sample random networks exactly (statfield.simulate) and print per-layer "
                                          "estimates with standard errors; --json prints SimulationResult.to_json(). "
                                          "Conventions: W ~ N(0, sigma_w2/N_{l-1}), b ~ N(0, sigma_b2), "
                                          "K^1 = sigma_b2 + sigma_w2 x.x/d_in.")
    s.add_argument("activation", help="linear, relu, leaky_relu[_a], tanh, erf, gelu, silu")
    s.add_argument("--sigma-w2", type=finite_float, required=True, help="weight variance per fan-in (> 0)")
    s.add_argument("--sigma-b2", type=finite_float, required=True, help="bias variance (>= 0)")
    s.add_argument("--width", type=int, required=True, help="hidden width N of every layer (>= 1)")
    s.add_argument("--depth", type=int, required=True, help="number of layers L (>= 1)")
    s.add_argument("--n-samples", type=int, required=True,
                   help="number of independent networks (>= 2; for --method mcmc: independent Markov chains)")
    s.add_argument("--method", default="auto", choices=_methods(),
                   help="sampler (default auto: collective for one input and piecewise-linear phi, wishart for "
                        "linear phi with several inputs, else preactivation)")
    s.add_argument("--residual", action="store_true",
                   help="residual network z^{l+1} = z^l + W phi(z^l) + b (pre-activation sampler, NumPy)")
    s.add_argument("--variance-reduction", choices=("auto", "on", "off"), default="auto",
                   help="control variates with exactly known means (auto: where they exist; on: warn where they "
                        "do not; off: the plain estimator)")
    s.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                   help="sampling precision of preactivation/weights (accumulation is always float64)")
    s.add_argument("--scheduler", default=None, metavar="ADDRESS|local",
                   help="run blocks as Dask tasks: 'local' (a LocalCluster) or a scheduler address; bit-identical "
                        "to the serial run (needs statfield[distributed])")
    s.add_argument("--backend", default="numpy", help="array backend: numpy (default) or cupy")
    s.add_argument("--seed", type=nonneg_int, default=0, help="root seed (>= 0; default 0)")
    s.add_argument("--inputs", type=Path, default=None, metavar="FILE",
                   help="P x d_in input matrix as a text file (np.loadtxt) or .npy (never unpickled); "
                        "default: one input x = (1,), so K^1 = sigma_b2 + sigma_w2")
    s.add_argument("--observables", type=csv_list, default=None, metavar="NAMES",
                   help="comma-separated subset of the observables, e.g. q,log_q,G (default: all for the method); "
                        "use log_q for deep chaotic networks whose q overflows")
    s.add_argument("--checkpoint", type=Path, default=None, metavar="FILE",
                   help=".npz checkpoint written atomically after every chunk; an existing one is resumed "
                        "(refused when its parameters differ)")
    s.add_argument("--chunk-size", type=positive_int, default=None, metavar="N",
                   help="samples per chunk, the unit of checkpointing and of parallel work (never changes the numbers)")
    s.add_argument("--workers", type=positive_int, default=1, metavar="N",
                   help="threads working on chunks (default 1; never changes the numbers)")
    s.add_argument("--json", action="store_true", help="print the SimulationResult as JSON")
    s.add_argument("--no-progress", action="store_true", help="no progress bar (default: shown on a terminal)")
    return s


def load_inputs(path):
    """Read a ``P x d_in`` input matrix: ``.npy`` with ``allow_pickle=False``, otherwise ``np.loadtxt``.

    Raises
    ------
    ValueError
        The file does not hold a finite 2-D matrix (the message names the file).
    OSError
        The file cannot be read.
    """
    import numpy as np

    path = Path(path)
    try:
        X = np.load(path, allow_pickle=False) if path.suffix == ".npy" else np.loadtxt(path, ndmin=2)
        X = np.asarray(X, dtype=float)
    except ValueError as exc:
        raise ValueError(f"--inputs {path}: {exc}") from None
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.size == 0 or not np.all(np.isfinite(X)):
        raise ValueError(f"--inputs {path} must hold a finite P x d_in matrix, got shape {X.shape}")
    return X


def _print_estimates(res, args):
    import numpy as np

    print(f"{args.activation}: sigma_w2 = {args.sigma_w2:g}, sigma_b2 = {args.sigma_b2:g}, width {args.width}, "
          f"depth {args.depth}, {args.n_samples} samples, method {res.method}, seed {args.seed}")
    for name in res.names:
        vals, errs = np.asarray(res.value(name)), np.asarray(res.stderr(name))
        if vals.ndim == 0 or len(vals) == 0:
            continue
        unit = "lag" if name == "eft_corr" else "layer"
        labels = res.parameters.get("eft_lags") if name == "eft_corr" else None
        print(f"  {name}:")
        show = list(range(len(vals)))
        if len(show) > 12:
            show = show[:5] + show[-5:]
        for i in show:
            lab = labels[i] if labels is not None and i < len(labels) else i + 1
            if vals[i].ndim == 0:
                print(f"    {unit} {lab:>4}: {vals[i]:.6g} ± {errs[i]:.2g}")
            else:  # P x P Gram / G matrices of several inputs
                val = np.array2string(vals[i], precision=5, separator=", ", prefix=" " * 16)
                err = np.array2string(errs[i], separator=", ", prefix=" " * 16,
                                      formatter={"float_kind": lambda x: f"{x:.2g}"})
                print(f"    {unit} {lab:>4}: {val}\n          stderr: {err}")


def run(args) -> int:
    """Run :func:`statfield.simulate` with the options given; print the estimates (text or JSON)."""
    from ..sampling import simulate

    kw = dict(method=args.method, backend=args.backend, seed=args.seed, workers=args.workers,
              progress=not (args.json or args.no_progress) and sys.stderr.isatty())
    if args.residual:
        kw = dict(method=args.method, seed=args.seed, residual=True)
    else:
        kw["variance_reduction"] = {"auto": None, "on": True, "off": False}[args.variance_reduction]
        kw["dtype"] = args.dtype
        if args.scheduler is not None:
            kw["scheduler"] = args.scheduler
    if args.inputs is not None:
        kw["inputs"] = load_inputs(args.inputs)
    for key in ("observables", "checkpoint", "chunk_size"):
        if getattr(args, key) is not None:
            kw[key] = getattr(args, key)
    res = simulate(args.activation, args.sigma_w2, args.sigma_b2, args.width, args.depth, args.n_samples, **kw)
    if args.json:
        js = res.to_json()
        print_json(json.loads(js) if isinstance(js, str) else js)
        return 0
    _print_estimates(res, args)
    return 0
