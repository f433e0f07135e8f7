"""The ``statfield`` command line: derive, meanfield, sample, validate, report, spectra, ntk, train.

Examples
--------
::

    statfield report                                  # the main job: ./statfield-report/
    statfield derive --list
    statfield derive relu-eft --out out/derivations
    statfield meanfield tanh --sigma-w2 1.5 --sigma-b2 0.05 --json
    statfield sample relu --sigma-w2 1.5 --sigma-b2 0.1 --width 100 --depth 20 --n-samples 2000 --json
    statfield validate --list
    statfield validate --quick                        # exit status 1 when a check fails
    statfield spectra model.safetensors --json        # weight spectra with Gaussian baselines
    statfield ntk relu --sigma-w2 2 --sigma-b2 0.1 --depth 3 --inputs "1,0;0.6,0.8"
    statfield train relu --sigma-w2 2 --sigma-b2 0.1 --depth 2 --synthetic 8,4,3 --steps 0,100,inf
    python -m statfield --version

Exit status (every command): 0 success; 1 a physics check failed; 2 bad input (a usage error, or a
``ValueError``/``TypeError``/``OverflowError``/``MemoryError``/``OSError`` raised by the library, or a missing
optional dependency, printed as one line ``statfield: error: ...``); 3 an internal error (a bug: please report
it with ``--traceback``).

Adding a subcommand is one entry of :data:`SUBCOMMANDS`: a module that provides ``add_parser(subparsers)``
(registers the sub-parser and its options, every option with a help text) and ``run(args) -> int``. The
module is imported only when its subcommand runs (or for ``statfield COMMAND --help``), so ``statfield
--help`` stays fast.

Conventions (every command, ``docs/conventions.md``): ``W_ij ~ N(0, sigma_w2/N_{l-1})`` (fan-in),
``b_i ~ N(0, sigma_b2)``, ``q = |z|^2/N``, ``K^1 = sigma_b2 + sigma_w2 x.x'/d_in`` (arXiv:1710.06570).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass

__all__ = ["main", "build_parser", "Subcommand", "SUBCOMMANDS"]


@dataclass(frozen=True)
class Subcommand:
    """One subcommand: the module that implements it and the names of its two functions.

    ``module.<add>(subparsers)`` registers the sub-parser (its name must be the key in :data:`SUBCOMMANDS`);
    ``module.<run>(args) -> int`` runs it and returns the exit status.
    """

    module: str
    help: str
    add: str = "add_parser"
    run: str = "run"


#: name -> implementation; imported lazily. A new subcommand is one line here.
SUBCOMMANDS: dict[str, Subcommand] = {
    "derive": Subcommand("statfield.cli.derive", "write a derivation as LaTeX (PDF when pdflatex is present)"),
    "meanfield": Subcommand("statfield.cli.meanfield", "mean-field numbers: q*, chi_1, chi_q, c*, chi_c, xi's, phase"),
    "sample": Subcommand("statfield.cli.sample",
                         "Monte Carlo of random networks (per-layer estimates with error bars)"),
    "validate": Subcommand("statfield.cli.validate", "run the validation checks (theory vs Monte Carlo)"),
    "report": Subcommand("statfield.cli.report", "the main job: derivations + validation + figures in one folder"),
    "spectra": Subcommand("statfield.cli.spectra",
                          "weight-matrix spectra of a weight file (log norms, ESD tail alpha) with Gaussian baselines"),
    "ntk": Subcommand("statfield.training.cli",
                      "neural tangent kernel at infinite width (and its finite-width Monte Carlo mean)",
                      add="add_ntk_parser", run="run_ntk"),
    "train": Subcommand("statfield.training.cli",
                        "gradient-descent dynamics: infinite-width theory and trained finite-width ensembles",
                        add="add_train_parser", run="run_train"),
}

#: Exceptions of the library that mean bad input or an unusable environment: one line, exit status 2.
USER_ERRORS = (ValueError, TypeError, OverflowError, MemoryError, OSError)

EXIT_OK, EXIT_FAILED_CHECK, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3


def _version() -> str:
    from .. import __version__

    return __version__


def _selected(argv) -> str | None:
    """The subcommand named on the command line (the first token that is not a top-level option)."""
    for tok in argv:
        if tok == "--":
            return None
        if not tok.startswith("-"):
            return tok if tok in SUBCOMMANDS else None
    return None


def build_parser(commands=None) -> argparse.ArgumentParser:
    """The argument parser.

    Parameters
    ----------
    commands : iterable of str, optional
        Subcommands whose modules are imported and whose options are registered; the others are listed
        (name and help) but not imported. Default: all of them.
    """
    full = set(SUBCOMMANDS) if commands is None else set(commands)
    p = argparse.ArgumentParser(
        prog="statfield",
        description="Statistical field theory of random neural networks: derivations, mean field, "
                    "exact Monte Carlo and their validation (arXiv:1710.06570).",
        epilog="Conventions: W ~ N(0, sigma_w2/N_{l-1}) (fan-in), b ~ N(0, sigma_b2), q = |z|^2/N "
               "(docs/conventions.md). Exit status: 0 success, 1 a physics check failed, 2 bad input, "
               "3 internal error.")
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}",
                   help="print the version and exit")
    p.add_argument("--traceback", action="store_true",
                   help="show the Python traceback of an error (for bug reports) instead of one line")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, cmd in SUBCOMMANDS.items():
        if name in full:
            getattr(importlib.import_module(cmd.module), cmd.add)(sub)
        else:
            sub.add_parser(name, help=cmd.help, add_help=False)
    return p


def _one_line(exc: BaseException) -> str:
    msg = " ".join(str(exc).split())
    if isinstance(exc, MemoryError):
        return f"out of memory{': ' + msg if msg else ''} (MemoryError)"
    return msg or type(exc).__name__


def main(argv=None) -> int:
    """Entry point of the ``statfield`` console script; returns the exit status.

    Usage errors (argparse) raise ``SystemExit(2)`` as usual; library errors that mean bad input
    (:data:`USER_ERRORS`) print ``statfield: error: <message>`` on stderr and return 2; a failed physics check
    returns 1; an unexpected exception (a bug) prints one line and returns 3 (``--traceback`` re-raises).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    name = _selected(argv)
    parser = build_parser([name] if name else ())
    args = parser.parse_args(argv)
    if args.command != name:  # not found by the quick scan of argv: build every sub-parser and parse again
        parser = build_parser()
        args = parser.parse_args(argv)
    cmd = SUBCOMMANDS[args.command]
    try:
        return int(getattr(importlib.import_module(cmd.module), cmd.run)(args) or 0)
    except BrokenPipeError:  # e.g. `statfield sample ... | head`: stop quietly
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        print("statfield: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - one line on stderr, never a traceback (unless --traceback)
        if args.traceback:
            raise
        return _report_error(exc)


def _report_error(exc: Exception) -> int:
    """Print one line for ``exc`` on stderr; return 2 (bad input / environment) or 3 (internal error)."""
    own_import = isinstance(exc, ImportError) and (exc.name or "").split(".")[0] == "statfield"
    if isinstance(exc, USER_ERRORS) or (isinstance(exc, ImportError) and not own_import):
        # bad input, or an optional dependency that is not installed (e.g. --backend cupy)
        print(f"statfield: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"statfield: internal error: {type(exc).__name__}: {_one_line(exc)} "
          f"(rerun with 'statfield --traceback ...' and report it)", file=sys.stderr)
    return EXIT_INTERNAL
