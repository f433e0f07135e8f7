"""``python -m statfield``: the ``statfield`` command line (:func:`statfield.cli.main`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
