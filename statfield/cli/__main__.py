"""``python -m statfield.cli``: the ``statfield`` command line."""

import sys

from . import main

sys.exit(main())
