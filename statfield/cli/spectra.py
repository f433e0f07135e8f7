"""``statfield spectra FILE``: the subcommand of :mod:`statfield.spectra.cli`, under the CLI's exit-status rule.

:func:`statfield.spectra.cli.run` reports a file it refuses or cannot read with status 1 and a line
``error: ...``; the ``statfield`` command reserves 1 for a failed physics check, so here such a file is bad
input: status 2 and one line ``statfield: error: ...`` on stderr (:mod:`statfield.cli`).
"""

from __future__ import annotations

import contextlib
import io
import sys

__all__ = ["add_parser", "run"]


def add_parser(subparsers):
    """Register ``spectra`` (options: :func:`statfield.spectra.cli.add_parser`); returns the sub-parser."""
    from ..spectra.cli import add_parser as _add

    p = _add(subparsers)
    for a in p._actions:  # every option of the statfield CLI has a help text
        if a.dest == "seed" and not a.help:
            a.help = "seed of the bootstrap and of the Gaussian baselines (default 0)"
    return p


def run(args) -> int:
    """Run :func:`statfield.spectra.cli.run`; 0 on success, 2 for a file or option it refuses."""
    from ..spectra.cli import run as _run

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = int(_run(args) or 0)
    for line in err.getvalue().splitlines():
        if line.startswith("error: "):
            line = "statfield: " + line
        print(line, file=sys.stderr)
    return 0 if rc == 0 else 2
