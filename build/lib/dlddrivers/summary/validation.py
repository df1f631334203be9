"""The expected error of the methods from the ground-truth validation, per study shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .format import _isnan, fmt_num, md_table
from .read import VALIDATION_TABLE

#: Validation methods behind the headline numbers of a study (LMG shares and trend
#: decomposition of the attribution stage, DoWhy causal effects): the condensed table of
#: the summary's first page keeps their rows only and links the full table.
HEADLINE_METHODS: dict[str, tuple[str, ...] | None] = {
    "lmg": None,  # every LMG quantity
    "trend_decomposition": ("anthropogenic_change",),  # the headline shows components, not shares
    "dowhy": None,
}


def validation_section(path: str | Path | None, study: str | None = None,
                       methods: Sequence[str] | Mapping[str, Sequence[str] | None] | None = None,
                       link: str | None = None) -> str:
    """The expected error of each method from the validation on synthetic panels; with
    ``study`` and a ``study`` column, only that study's rows (its panel shape). With ``methods``
    (names, or method -> quantities with None for all) only those rows and the columns method,
    quantity, expected error and coverage, followed by
    a link (``link``: the full table's path relative to the page) to every row."""
    if path is None or not Path(path).is_file():
        return ("Validation not run (no `validation/expected_error.csv`): the expected error of the "
                "methods on synthetic panels with known answers is not known for this run.")
    t = pd.read_csv(path)
    if study is not None and "study" in t.columns:
        t = t[t["study"].astype(str) == study].drop(columns="study")
        if t.empty:
            return f"Validation table has no row for study `{study}`."
    if t.empty:
        return "Validation table is empty."
    full = len(t)
    if methods is not None and "method" in t.columns:
        spec = dict(methods) if isinstance(methods, Mapping) else {m: None for m in methods}
        keep_row = [m in spec and (spec[m] is None or q in spec[m])
                    for m, q in zip(t["method"].astype(str), t.get("quantity", pd.Series("", index=t.index)).astype(str),
                                    strict=True)]
        t = t[keep_row]
        keep = [c for c in ("method", "quantity", "expected_abs_error", "coverage") if c in t.columns]
        t = t[keep]
        target = link or VALIDATION_TABLE.as_posix()
        show = t.copy()
        for c in show.columns:
            if pd.api.types.is_float_dtype(show[c]):
                show[c] = show[c].map(fmt_num)
        return (f"On synthetic panels of this shape with a known answer ({len(t)} of {full} rows; "
                f"`coverage`: share of intervals holding the truth). All methods: "
                f"[{VALIDATION_TABLE.as_posix()}]({target}).\n\n" + md_table(show.fillna("").astype(str)))
    show = t.copy()
    for c in show.columns:
        if pd.api.types.is_float_dtype(show[c]):
            show[c] = show[c].map(fmt_num)
    show = show.fillna("").astype(str)
    return (f"Expected error of each method on synthetic panels with a known answer "
            f"(`{VALIDATION_TABLE.as_posix()}`, {len(t)} rows; `coverage` is the share of runs whose "
            f"interval held the true value, with its Wilson interval):\n\n" + md_table(show)
            + special_scenarios_text(Path(path).with_name("summary.csv")))


def special_scenarios_text(path: Path) -> str:
    """The placebo and trending-year-effect scenarios of the validation (``summary.csv``):
    false-positive rate of the placebo calibration, coverage of a zero share, and the trend
    decomposition under a common trend."""
    if not path.is_file():
        return ""
    t = pd.read_csv(path)
    if "null_anthropogenic" not in t.columns:
        return ""
    null = t["null_anthropogenic"].astype(str).str.lower().isin(["true", "1", "1.0"])
    trend = t["year_trend"].fillna(0).astype(float) != 0
    want = {("lmg", "anthropogenic_share_variance"), ("lmg", "anthropogenic_share_exceeds_placebo"),
            ("trend_decomposition", "anthropogenic_change")}
    pick = np.array([(m, q) in want for m, q in zip(t["method"], t["quantity"], strict=True)], bool)
    sub = t[(null | trend).to_numpy() & pick]
    if sub.empty:
        return ""
    rows = []
    for r in sub.itertuples():
        cov = ("" if _isnan(r.coverage) else
               f"{fmt_num(r.coverage, 2)} (Wilson {fmt_num(r.coverage_ci_low, 2)} to {fmt_num(r.coverage_ci_high, 2)})")
        rows.append({"scenario": f"`{r.scenario}`", "method": r.method, "quantity": r.quantity,
                     "mean error": fmt_num(r.mean_abs_error), "coverage": cov or "-",
                     "seeds": str(r.n_seeds)})
    return ("\n\nPlacebo worlds (the anthropogenic drivers trend and persist but have no effect; for "
            "`anthropogenic_share_exceeds_placebo` the mean error is the rate of wrongly calling the "
            "share a finding) and a common trend in the year effects:\n\n" + md_table(pd.DataFrame(rows)))
