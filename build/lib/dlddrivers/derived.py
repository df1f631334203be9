"""Derived indicators: a safe arithmetic formula language over indicator names.

A formula is parsed with :mod:`ast` and only these nodes are accepted: numbers, indicator names,
``+ - * /`` and unary minus, parentheses, and two functions:

* ``lag(x, k)``: the value of ``x`` in year ``t - k`` of the same unit (``k`` a positive integer);
* ``zero_if_missing(x)``: a missing value counts as 0 (for a species a country does not report);
  every such fill is counted and reported in the coverage table.

Anything else (attribute access, calls to other functions, comparisons, strings, ...) is a
``ValueError`` naming what was found. Nothing is ever passed to ``eval``.

Coefficients used in the catalogue's formulas: Mongolian sheep forage units (NSO Mongolia
national standard): horse 7, cattle 6, camel 5, sheep 1, goat 0.9; applied to every country.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import numpy as np
import pandas as pd

FUNCTIONS = {"lag", "zero_if_missing"}
#: Bounds checked before a formula is used: the largest lag order (years), the longest formula
#: text and the most syntax nodes (a runaway expression is refused, not a RecursionError).
MAX_LAG = 10
MAX_FORMULA_CHARS = 1000
MAX_FORMULA_NODES = 200
_BINOPS = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide}


@dataclass
class Formula:
    text: str
    tree: ast.Expression
    names: set[str]


def parse_formula(text: str) -> Formula:
    """Parse and check a formula; return it with the set of indicator names it uses.

    Refused before parsing: text longer than :data:`MAX_FORMULA_CHARS`; after parsing: more
    than :data:`MAX_FORMULA_NODES` syntax nodes, or a lag order above :data:`MAX_LAG`.
    """
    if len(text) > MAX_FORMULA_CHARS:
        raise ValueError(f"a formula of at most {MAX_FORMULA_CHARS} characters (this one has {len(text)})")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"arithmetic over indicator names and numbers (syntax error at column {exc.offset})") from exc
    except (RecursionError, MemoryError) as exc:
        raise ValueError("a formula that is not nested this deeply") from exc
    n_nodes = sum(1 for _ in ast.walk(tree))
    if n_nodes > MAX_FORMULA_NODES:
        raise ValueError(f"a formula of at most {MAX_FORMULA_NODES} terms and operators (this one has {n_nodes})")
    names: set[str] = set()

    def check(node: ast.AST) -> None:
        if isinstance(node, ast.Expression):
            check(node.body)
        elif isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            check(node.left)
            check(node.right)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            check(node.operand)
        elif isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            pass
        elif isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS:
            if node.keywords:
                raise ValueError("functions without keyword arguments")
            if node.func.id == "lag":
                if len(node.args) != 2 or not isinstance(node.args[0], ast.Name) or not (
                    isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, int) and node.args[1].value > 0
                ):
                    raise ValueError("lag(<indicator>, <positive integer>)")
                if node.args[1].value > MAX_LAG:
                    raise ValueError(f"a lag order of at most {MAX_LAG} years (found {node.args[1].value})")
                names.add(node.args[0].id)
            else:
                if len(node.args) != 1:
                    raise ValueError("zero_if_missing(<expression>)")
                check(node.args[0])
        else:
            raise ValueError(
                "arithmetic (+ - * /) over indicator names and numbers, lag(x, k) and "
                f"zero_if_missing(x); found {type(node).__name__}: {ast.unparse(node)!r}"
            )

    check(tree)
    return Formula(text=text, tree=tree, names=names)


def lag_orders(formula: Formula) -> dict[str, int]:
    """The largest lag order applied to each indicator name of a formula (0 when unlagged)."""
    out = {n: 0 for n in formula.names}
    for node in ast.walk(formula.tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "lag":
            name, k = node.args[0].id, int(node.args[1].value)
            out[name] = max(out.get(name, 0), k)
    return out


def evaluate(formula: Formula | str, panel: pd.DataFrame) -> tuple[pd.Series, int]:
    """Evaluate a formula on a wide panel (columns unit, year, indicators; sorted by unit, year).

    Returns the values and the number of missing values that ``zero_if_missing`` filled.
    """
    f = parse_formula(formula) if isinstance(formula, str) else formula
    missing = [n for n in f.names if n not in panel.columns]
    if missing:
        raise KeyError(f"formula {f.text!r} needs indicators not in the panel: {missing}")
    filled = 0

    def ev(node: ast.AST):
        nonlocal filled
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.BinOp):
            with np.errstate(divide="ignore", invalid="ignore"):
                out = _BINOPS[type(node.op)](ev(node.left), ev(node.right))
            return out
        if isinstance(node, ast.UnaryOp):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            return panel[node.id].astype(float).to_numpy()
        if isinstance(node, ast.Call):
            if node.func.id == "lag":
                name, k = node.args[0].id, node.args[1].value
                s = panel.set_index(["unit", "year"])[name].astype(float)
                shifted = s.copy()
                shifted.index = pd.MultiIndex.from_arrays(
                    [s.index.get_level_values(0), s.index.get_level_values(1) + k]
                )
                keys = pd.MultiIndex.from_frame(panel[["unit", "year"]])
                return shifted.reindex(keys).to_numpy()
            v = np.asarray(ev(node.args[0]), dtype=float)
            v = np.broadcast_to(v, (len(panel),)).copy()
            n = int(np.isnan(v).sum())
            filled += n
            v[np.isnan(v)] = 0.0
            return v
        raise ValueError(f"unsupported node {type(node).__name__}")  # pragma: no cover - parse guards

    vals = np.asarray(ev(f.tree), dtype=float)
    vals = np.broadcast_to(vals, (len(panel),)).copy()
    vals[~np.isfinite(vals)] = np.nan  # division by zero is a gap, not infinity
    return pd.Series(vals, index=panel.index), filled
