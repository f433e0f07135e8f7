"""The document layer: derivation documents (prose + equations + tables -> LaTeX) that need numbers.

It sits above the theory modules: builders may call :mod:`statfield.symbolic` for the algebra and
the numeric modules (:mod:`statfield.meanfield`, :mod:`statfield.finite_width`) for tables, which
:mod:`statfield.symbolic` itself never imports (see ``docs/architecture.md``).

Modules: ``catalog`` (the named derivations of ``statfield derive NAME``), ``finite_width`` (the
finite-width document with its numeric table), ``saddles`` (general-activation saddles through the
mean-field module).
"""

from .catalog import DERIVATIONS, build_derivation, derivation_names

__all__ = ["DERIVATIONS", "build_derivation", "derivation_names"]
