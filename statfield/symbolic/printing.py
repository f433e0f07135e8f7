r"""LaTeX as a physicist writes it: the printer used by every statfield derivation.

Plain :func:`sympy.latex` prints ``Symbol("sigma_w2")`` as ``\sigma_{w2}``, its square as
``\sigma_{w2}^{2}``, ``digamma`` as ``\operatorname{polygamma}(0, x)`` and the square of the
derivative field :math:`\partial_x\epsilon_+` without parentheses. :class:`PhysicsLatexPrinter`
fixes all of these:

* symbols print through :data:`~statfield.symbolic.symbols.LATEX_NAMES` (``\sigma_w^{2}``,
  ``q^{*}``, ``\epsilon_+``, ...), looked up by symbol and, as a fallback, by name;
* a power of a symbol whose name is itself a power multiplies the exponents:
  ``sigma_w2**2`` -> ``\sigma_w^{4}``, ``sigma_w2**(1/2)`` -> ``\sigma_w``; ``q_star**2`` -> ``q^{*2}``;
* a power of a composite name (``\partial_x \epsilon_+``) is parenthesised:
  :math:`(\partial_x\epsilon_+)^2`;
* :math:`\psi(x)` and :math:`\psi_n(x)` for the digamma / polygamma functions, :math:`\ln\Gamma(x)`
  for ``loggamma``, and ``\ln`` for the natural logarithm.

The output uses only commands of plain LaTeX plus ``\operatorname``, ``\mathrm``, ``\binom``,
``\text``, ``\mathbb`` and ``\tfrac``; :data:`FRAGMENT_PREAMBLE` provides fallbacks for those so
that a fragment compiles in a plain ``article`` (the real definitions win when amsmath is loaded).

SymPy only.
"""

from __future__ import annotations

import re

import sympy as sp
from sympy.printing.latex import LatexPrinter

from .symbols import LATEX_NAMES

__all__ = ["PhysicsLatexPrinter", "latex_expr", "FRAGMENT_PREAMBLE"]

#: ``\providecommand`` fallbacks for the amsmath/amssymb commands that statfield's LaTeX uses, so
#: that a fragment compiles in ``\documentclass{article}`` without packages. ``\providecommand``
#: never overrides an existing definition.
FRAGMENT_PREAMBLE = "\n".join([
    r"\providecommand{\operatorname}[1]{\mathop{\mathrm{#1}}\nolimits}",
    r"\providecommand{\text}[1]{\mbox{#1}}",
    r"\providecommand{\mathbb}[1]{\mathbf{#1}}",
    r"\providecommand{\tfrac}[2]{{\textstyle\frac{#1}{#2}}}",
    r"\providecommand{\dfrac}[2]{{\displaystyle\frac{#1}{#2}}}",
    r"\providecommand{\binom}[2]{{#1\choose #2}}",
    r"\providecommand{\gtrsim}{\mathrel{\buildrel>\over\sim}}",
    r"\providecommand{\lesssim}{\mathrel{\buildrel<\over\sim}}",
])

_POWER_NAME = re.compile(r"^(?P<base>.+)\^\{(?P<exp>\d+)\}$")
_STAR_NAME = re.compile(r"^(?P<base>.+)\^\{\*\}$")


class PhysicsLatexPrinter(LatexPrinter):
    r"""A :class:`sympy.printing.latex.LatexPrinter` with statfield's notation (see the module docstring).

    Parameters
    ----------
    names : dict, optional
        Extra or overriding ``{Symbol: latex}`` entries (e.g. ``{N: "n"}`` in a document that writes
        the width as :math:`n`, as PDLT does).
    **settings
        Passed to :class:`~sympy.printing.latex.LatexPrinter` (``ln_notation=True`` by default).
    """

    def __init__(self, names=None, **settings):
        settings.setdefault("ln_notation", True)
        super().__init__(settings)
        self._names = dict(LATEX_NAMES)
        if names:
            self._names.update(names)
        self._by_str = {}
        for sym, tex in self._names.items():
            self._by_str.setdefault(sym.name if isinstance(sym, sp.Symbol) else str(sym), tex)

    def _name(self, sym):
        if sym in self._names:
            return self._names[sym]
        return self._by_str.get(sym.name)

    def _print_Symbol(self, expr, style="plain"):
        name = self._name(expr)
        return name if name is not None else super()._print_Symbol(expr, style)

    def _print_Pow(self, expr):
        b, e = expr.base, expr.exp
        if isinstance(b, sp.Symbol) and e.is_Rational and e.is_positive:
            name = self._name(b)
            if name is not None:
                m = _POWER_NAME.match(name)
                if m:
                    new = sp.Integer(m.group("exp")) * e
                    if new == 1:
                        return m.group("base")
                    if new.is_Integer:
                        return f"{m.group('base')}^{{{new}}}"
                    return rf"\left({name}\right)^{{{self._print(e)}}}"
                m = _STAR_NAME.match(name)
                if m and e.is_Integer:
                    return f"{m.group('base')}^{{*{e}}}"
                if e == sp.Rational(1, 2):
                    return rf"\sqrt{{{name}}}"
                if " " in name or "^" in name or "\\partial" in name:
                    return rf"\left({name}\right)^{{{self._print(e)}}}"
                if e.is_Integer:
                    return f"{name}^{{{e}}}"
        return super()._print_Pow(expr)

    def _print_polygamma(self, expr, exp=None):
        n, x = expr.args
        head = r"\psi" if n == 0 else rf"\psi_{{{self._print(n)}}}"
        out = rf"{head}\left({self._print(x)}\right)"
        return out if exp is None else rf"{out}^{{{exp}}}"

    def _print_digamma(self, expr, exp=None):  # pragma: no cover - SymPy rewrites digamma to polygamma
        out = rf"\psi\left({self._print(expr.args[0])}\right)"
        return out if exp is None else rf"{out}^{{{exp}}}"

    def _print_loggamma(self, expr, exp=None):
        out = rf"\ln\Gamma\left({self._print(expr.args[0])}\right)"
        return out if exp is None else rf"\left({out}\right)^{{{exp}}}"


def latex_expr(expr, names=None, **settings) -> str:
    """LaTeX of a SymPy object with :class:`PhysicsLatexPrinter`."""
    return PhysicsLatexPrinter(names, **settings).doprint(sp.sympify(expr))
