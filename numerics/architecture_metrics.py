"""Architecture metrics of the statfield package (static analysis, no imports of statfield).

Measures what the consolidation work is judged by:

* the module import graph (``statfield.X`` -> ``statfield.Y``), its cycles (module-level imports, which run at
  import time; and separately including imports inside functions), and whether
  ``statfield.symbolic`` imports numeric modules (``meanfield``, ``finite_width``, ``sampling``);
* the number of places that branch on an activation's *name* outside the activation package
  (comparisons with the built-in names, ``.name ==`` on an activation);
* the ten longest functions.

Usage::

    python numerics/architecture_metrics.py [--root statfield] [--out DIR] [--smoke]

writes ``DIR/architecture_metrics.json`` (``--smoke`` is accepted for the scripts' convention: the analysis is
already fast, a few seconds).
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from pathlib import Path

ACT_NAMES = ("linear", "relu", "leaky_relu", "tanh", "erf", "gelu", "silu")
NUMERIC = ("statfield.meanfield", "statfield.finite_width", "statfield.sampling")


def module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(tree: ast.AST, mod: str, is_pkg: bool, top_level_only: bool = False) -> list[tuple[str, tuple]]:
    """(target module, imported names) of every statfield import; ``top_level_only``: module-level statements."""
    out = []
    nodes = tree.body if top_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("statfield"):
                    out.append((a.name, ()))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = mod.split(".")
                if not is_pkg:
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("statfield"):
                out.append((target, tuple(a.name for a in node.names)))
    return out


def name_branches(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            vals = [node.left, *node.comparators]
            consts = [v.value for v in vals if isinstance(v, ast.Constant) and isinstance(v.value, str)]
            tuples = [e.value for v in vals if isinstance(v, (ast.Tuple, ast.List, ast.Set))
                      for e in v.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            names = consts + tuples
            if any(n in ACT_NAMES or n.startswith("leaky_relu") for n in names):
                lines.append(node.lineno)
    return sorted(set(lines))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=str(Path(__file__).resolve().parents[1] / "statfield"),
                    help="path of the statfield package folder")
    ap.add_argument("--out", default=None, help="output folder for architecture_metrics.json")
    ap.add_argument("--smoke", action="store_true", help="same analysis (it is fast); for the scripts' convention")
    args = ap.parse_args(argv)
    root = Path(args.root).resolve()
    modules, graph, graph_top, funcs, branches = {}, {}, {}, [], {}
    for path in sorted(root.rglob("*.py")):
        mod = module_name(path, root)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules[mod] = path
        graph[mod] = imports_of(tree, mod, path.name == "__init__.py")
        graph_top[mod] = imports_of(tree, mod, path.name == "__init__.py", top_level_only=True)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                funcs.append((node.end_lineno - node.lineno + 1, f"{mod}.{node.name}"))
        if not mod.startswith("statfield.activations"):
            b = name_branches(tree)
            if b:
                branches[str(path.relative_to(root.parent))] = b
    known = set(modules)

    def resolve(t):
        while t and t not in known:
            t = t.rpartition(".")[0]
        return t

    def edges_of(g):
        out = {}
        for m, items in g.items():
            targets = set()
            for target, names in items:
                subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in known]
                targets.update(subs)
                if len(subs) < len(names) or not names:  # names that are objects of the target module
                    targets.add(resolve(target))
            out[m] = sorted(t for t in targets if t and t != m)
        return out

    edges = edges_of(graph)
    edges_top = edges_of(graph_top)
    sym_numeric = sorted({(m, t) for m, ts in edges.items() if m.startswith("statfield.symbolic")
                          for t in ts if t.startswith(NUMERIC)})
    cycles = _cycles(edges_top)
    lazy_cycles = _cycles(edges)
    funcs.sort(reverse=True)
    out = {
        "modules": len(modules),
        "symbolic_imports_numeric": [f"{a} -> {b}" for a, b in sym_numeric],
        "import_cycles": cycles,
        "import_cycles_including_function_level": lazy_cycles,
        "activation_name_branches": {k: v for k, v in branches.items()},
        "activation_name_branch_count": sum(len(v) for v in branches.values()),
        "longest_functions": [{"lines": n, "function": f} for n, f in funcs[:10]],
    }
    text = json.dumps(out, indent=2)
    print(text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "architecture_metrics.json").write_text(text + "\n", encoding="utf-8")
    return 0


def _cycles(edges):
    """Strongly connected components with more than one module (Tarjan), excluding package facades."""
    idx, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]
    nodes = [m for m in edges if m != "statfield"]

    def strong(v):
        idx[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, []):
            if w == "statfield" or w not in edges:
                continue
            if w not in idx:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], idx[w])
        if low[v] == idx[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in nodes:
        if v not in idx:
            strong(v)
    return comps


if __name__ == "__main__":
    raise SystemExit(main())
