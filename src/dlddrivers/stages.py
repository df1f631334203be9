"""The analysis stages: one registry that the workflow, the config checks, the summary and the
report all iterate.

A stage is a :class:`Stage`: its name and title in words, the function that computes its tables
and the one that draws its figures, what it needs from a study (a causal graph, years, outcomes,
impacts), its options (``DEFAULTS`` and their bounds) and the tables it writes, each with a
column contract (:class:`TableSpec`, checked before a table is written: columns, order and key
directly, the numbers of a column whose dtype does not already guarantee them by pandera). The
registry keeps the pipeline's order: the Snakemake rules (one per stage), the report's
subcategories, the summary's stage table and the config schema's ``methods`` keys come from it.

Adding a stage is one module (``DEFAULTS``, ``compute`` and ``plot``) and one
:func:`StageRegistry.register` call at the end of this file; ``tests/test_stages.py`` registers a
toy stage and runs it through the job, the option checks, the report names and the summary.

Data flow: this module sits above :mod:`dlddrivers.methods`, :mod:`dlddrivers.causal` and
:mod:`dlddrivers.plots` (it imports them; they never import it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .errors import DLDError
from .methods import attribution as _at
from .methods import geodetector as _gd
from .methods import impacts as _im
from .methods import panel_regression as _pr
from .methods import relative_importance as _ri
from .methods import restrend as _rt
from .methods._common import PREFLIGHT_COLUMNS

#: What a stage may need from a study (``Stage.needs``).
NEEDS = frozenset({"graph", "years", "outcomes", "impacts"})


class TableContractError(DLDError):
    """A stage returned a table that breaks its declared contract."""

    def __init__(self, stage: str, table: str, problem: str):
        self.stage, self.table = stage, table
        super().__init__(f"stage '{stage}', table '{table}.csv': {problem}")


def _numeric_dtype(s: pd.Series) -> bool:
    """The column's dtype holds numbers only (a number type, not bool): the contract's
    "numbers" check passes without reading a value."""
    return bool(pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s))


@dataclass(frozen=True)
class TableSpec:
    """One result table of a stage: file stem, title in words and its columns in order.

    ``numeric`` columns must hold numbers (or be empty); ``key`` columns identify a row (no
    duplicates); an ``optional`` table is written only by some studies (e.g. heads lost needs
    herd counts). A table with no rows and no columns is an empty result, always accepted.
    ``variable_columns``: besides :attr:`columns`, the table has columns named after the
    study's indicators (e.g. one SHAP column per driver); each of those must hold numbers.
    """

    name: str
    title: str
    columns: tuple[str, ...]
    numeric: tuple[str, ...] = ()
    key: tuple[str, ...] = ()
    optional: bool = False
    variable_columns: bool = False

    def schema(self):  # noqa: ANN201 - a pandera DataFrameSchema (imported lazily)
        """The table's pandera contract: exactly :attr:`columns` in this order, numbers in
        :attr:`numeric` (the key is checked by :meth:`check`)."""
        import pandera.pandas as pa

        def numeric(s: pd.Series) -> bool:
            if _numeric_dtype(s):
                return True
            vals = s.dropna()
            return bool(
                vals.map(
                    lambda v: (
                        isinstance(v, (int, float, np.number))
                        and not isinstance(v, (bool, np.bool_))
                    )
                ).all()
            )

        cols = {
            c: pa.Column(
                None,
                nullable=True,
                required=True,
                checks=[pa.Check(numeric, error="numbers")] if c in self.numeric else None,
            )
            for c in self.columns
        }
        return pa.DataFrameSchema(cols, strict=True, ordered=True, name=self.name)

    def check(self, table: pd.DataFrame, stage: str) -> None:
        """Raise :class:`TableContractError` naming the stage, table and column when ``table``
        breaks the contract."""
        if table.shape == (0, 0):
            return
        if self.variable_columns:
            missing = [c for c in self.columns if c not in table.columns]
            if missing:
                raise TableContractError(stage, self.name, f"missing columns {missing}")
            bad = [
                str(c)
                for c in table.columns
                if c not in self.columns
                and not (
                    pd.api.types.is_numeric_dtype(table[c])
                    and not pd.api.types.is_bool_dtype(table[c])
                )
            ]
            if bad:
                raise TableContractError(stage, self.name, f"columns {bad} are not numbers")
            return
        got = [str(c) for c in table.columns]
        if got != list(self.columns):
            missing = [c for c in self.columns if c not in got]
            extra = [c for c in got if c not in self.columns]
            what = (
                (f"missing columns {missing}" if missing else "")
                + ("; " if missing and extra else "")
                + (f"undeclared columns {extra}" if extra else "")
            )
            raise TableContractError(
                stage,
                self.name,
                (what or "columns out of the declared order")
                + f"; expected exactly {list(self.columns)}",
            )
        if self.key:
            dup = table.duplicated(list(self.key), keep=False)
            if dup.any():
                first = table.loc[dup, list(self.key)].iloc[0].to_dict()
                raise TableContractError(
                    stage,
                    self.name,
                    f"{int(dup.sum())} rows share a key {list(self.key)}, e.g. {first}",
                )
        if all(_numeric_dtype(table[c]) for c in self.numeric):
            # columns, order and key are checked above; a numeric column whose dtype is a
            # number type passes the schema's check without looking at a value, so pandera
            # (0.1-0.15 s to import in every stage job) has nothing left to decide
            return
        import pandera.errors as pe

        try:
            self.schema().validate(table, lazy=False)
        except pe.SchemaError as exc:
            raise TableContractError(stage, self.name, str(exc).splitlines()[0]) from None


@dataclass(frozen=True)
class Stage:
    """One analysis stage (see the module docstring).

    ``compute(panel, dictionary, study, options[, graph]) -> {table name: DataFrame}`` and
    ``plot(tables, panel or graph, dictionary, study, outdir) -> [figure paths]`` (the graph
    is passed instead of the panel when ``"graph"`` is in :attr:`needs`). ``figures`` maps a
    figure file-name prefix to its title in words (the report's item names). ``priority`` is
    the Snakemake priority of the stage's jobs: when cores are free, ready jobs of a higher
    priority start first, so stages with the most work or whose tables other jobs read (the
    maps read trends, attribution and RESTREND) do not finish last with one core idle. It
    orders the jobs only; the results do not depend on it.
    """

    name: str
    title: str
    compute: Callable[..., dict[str, pd.DataFrame]]
    plot: Callable[..., list]
    defaults: Mapping[str, Any]
    tables: tuple[TableSpec, ...]
    needs: frozenset[str] = frozenset({"years"})
    bounds: Mapping[str, Any] | None = None
    figures: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    priority: int = 0

    def __post_init__(self) -> None:
        unknown = sorted(set(self.needs) - NEEDS)
        if unknown:
            raise ValueError(f"stage '{self.name}': needs {unknown} not in {sorted(NEEDS)}")

    @property
    def function(self) -> str:
        """Dotted name of the compute function (the summary cites it)."""
        return f"{self.compute.__module__}.{self.compute.__qualname__}"

    def table(self, name: str) -> TableSpec:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(
            f"stage '{self.name}' declares no table '{name}' "
            f"(declared: {[t.name for t in self.tables]})"
        )

    def check_tables(self, tables: Mapping[str, pd.DataFrame]) -> None:
        """Every returned table is declared and meets its contract; every non-optional declared
        table is returned."""
        declared = {t.name for t in self.tables}
        extra = sorted(set(tables) - declared)
        if extra:
            raise TableContractError(
                self.name, extra[0], f"not declared by the stage (declared: {sorted(declared)})"
            )
        for t in self.tables:
            if t.name not in tables:
                if not t.optional:
                    raise TableContractError(self.name, t.name, "declared but not returned")
                continue
            t.check(tables[t.name], self.name)

    def run(
        self,
        panel: pd.DataFrame,
        dictionary: pd.DataFrame,
        study: dict,
        options: dict,
        graph: Any = None,
    ) -> dict[str, pd.DataFrame]:
        """Compute the stage's tables and check them against their contracts."""
        if "graph" in self.needs:
            tables = self.compute(panel, dictionary, study, options, graph)
        else:
            tables = self.compute(panel, dictionary, study, options)
        self.check_tables(tables)
        return tables

    def draw(
        self,
        tables: Mapping[str, pd.DataFrame],
        panel: pd.DataFrame,
        dictionary: pd.DataFrame,
        study: dict,
        outdir: Any,
        graph: Any = None,
    ) -> list:
        """Draw the stage's figures from its tables (plots only draw)."""
        if "graph" in self.needs:
            return self.plot(tables, graph, dictionary, study, outdir)
        return self.plot(tables, panel, dictionary, study, outdir)


class StageRegistry(Mapping[str, Stage]):
    """Stages by name, in pipeline order (the order they were registered)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._stages: dict[str, Stage] = {}

    def register(self, stage: Stage, *, replace: bool = False) -> Stage:
        """Add ``stage`` at the end of the pipeline order (``replace`` keeps its place)."""
        if stage.name in self._stages and not replace:
            raise ValueError(f"{self.kind} stage '{stage.name}' is already registered")
        if not stage.name.isidentifier() or stage.name != stage.name.lower():
            raise ValueError(f"stage name '{stage.name}': lower-case letters, digits and _ only")
        self._stages[stage.name] = stage
        return stage

    def unregister(self, name: str) -> Stage:
        return self._stages.pop(name)

    def __getitem__(self, name: str) -> Stage:
        return self._stages[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._stages)

    def __len__(self) -> int:
        return len(self._stages)

    def position(self, name: str) -> int:
        """0-based place of a stage in the pipeline order."""
        return list(self._stages).index(name)


#: Stages of panel studies (unit x year), in pipeline order.
STAGES = StageRegistry("panel")
#: Stages of grid studies (cross-sectional cells; run once per grid size by the grid rules).
GRID_STAGES = StageRegistry("grid")


def stage(name: str) -> Stage:
    """The registered stage ``name`` (panel or grid), or a config error listing them."""
    if name in STAGES:
        return STAGES[name]
    if name in GRID_STAGES:
        return GRID_STAGES[name]
    from .errors import ConfigError

    raise ConfigError(
        "stage", name, f"one of the registered stages {list(STAGES) + list(GRID_STAGES)}"
    )


def option_sections() -> list[str]:
    """The keys allowed under ``methods`` in the config: every registered stage, and ``pixel``
    (options of pixel studies, :data:`dlddrivers.gridded.pipeline.DEFAULTS`)."""
    return [*STAGES, *GRID_STAGES, "pixel"]


# ------------------------------------------------------------------------------ registrations
def _register_builtin() -> None:
    from .causal import stage as causal
    from .methods import (
        attribution,
        geodetector,
        grid_ml,
        impacts,
        panel_regression,
        relative_importance,
        restrend,
        sdg,
        trends,
    )
    from .plots import attribution as p_attribution
    from .plots import causal as p_causal
    from .plots import geodetector as p_geodetector
    from .plots import grid as p_grid
    from .plots import impacts as p_impacts
    from .plots import panel_regression as p_panel_regression
    from .plots import relative_importance as p_relative_importance
    from .plots import restrend as p_restrend
    from .plots import sdg as p_sdg
    from .plots import trends as p_trends

    def tables(stage_name: str, contracts: dict | None = None) -> tuple[TableSpec, ...]:
        return tuple(
            TableSpec(name=n, title=TABLE_TITLES.get(n, n.replace("_", " ")), **spec)
            for n, spec in (contracts or TABLE_CONTRACTS)[stage_name].items()
        )

    def add(
        name: str,
        title: str,
        mod: Any,
        plot: Callable,
        needs: set[str],
        figures: dict[str, str],
        description: str,
        priority: int = 0,
    ) -> None:
        STAGES.register(
            Stage(
                name=name,
                title=title,
                compute=mod.compute,
                plot=plot,
                defaults=getattr(mod, "DEFAULTS", {}),
                bounds=getattr(mod, "OPTION_BOUNDS", None),
                needs=frozenset(needs),
                tables=tables(name),
                figures=figures,
                description=description,
                priority=priority,
            )
        )

    add(
        "trends",
        "Trends",
        trends,
        p_trends.plot,
        {"years"},
        {
            "trends_correlations_within": "Within-unit correlations",
            "trends_": "Trend per unit",
            "land_condition_": "Improving, stable, degrading units and area",
            "unit_drivers_": "Outcome and drivers per unit (standardised) with its trend",
        },
        "Mann-Kendall (Hamed-Rao) trend and Theil-Sen slope per unit and indicator",
        priority=2,  # the maps read it; many small multiples to draw
    )
    add(
        "panel_regression",
        "Panel regression",
        panel_regression,
        p_panel_regression.plot,
        {"years", "outcomes"},
        {"coefficients_": "Standardised two-way fixed-effects coefficients"},
        "two-way fixed-effects regression with clustered, Driscoll-Kraay and wild-bootstrap inference",
    )
    add(
        "relative_importance",
        "Relative importance",
        relative_importance,
        p_relative_importance.plot,
        {"years", "outcomes"},
        {"lmg_shares_": "LMG shares of the explained variance"},
        "LMG shares of the within R² with unit-block bootstrap and placebo calibration",
        priority=1,  # bootstrap and placebo draws of every subset of drivers
    )
    add(
        "restrend",
        "RESTREND",
        restrend,
        p_restrend.plot,
        {"years", "outcomes"},
        {"restrend_residuals_": "RESTREND residuals and their trend"},
        "residual trend of the outcome after its climate fit",
        priority=1,  # the maps read it
    )
    add(
        "geodetector",
        "Geographical detector",
        geodetector,
        p_geodetector.plot,
        {"outcomes"},
        {
            "geodetector_q_": "Factor detector (q)",
            "geodetector_risk_": "Risk detector (mean per stratum)",
            "geodetector_interaction_": "Interaction detector",
        },
        "factor, interaction, risk and ecological detectors of the geographical detector",
    )
    add(
        "sdg",
        "SDG 15.3.1 productivity",
        sdg,
        p_sdg.plot,
        {"years", "outcomes"},
        {"sdg_": "SDG 15.3.1 productivity terms"},
        "trajectory, state and performance as Trends.Earth defines them",
    )
    add(
        "attribution",
        "Attribution",
        attribution,
        p_attribution.plot,
        {"years", "outcomes"},
        {
            "attribution_units_": "Attribution waterfall per unit",
            "attribution_": "Attribution of the observed change (waterfall) and LMG shares",
        },
        "trend decomposition, counterfactual and LMG shares side by side",
        priority=2,  # the maps read it; the longest stage
    )
    add(
        "impacts",
        "Impacts (livestock losses)",
        impacts,
        p_impacts.plot,
        {"years", "impacts"},
        {
            "impacts_": "Impact associations and loss years",
            "impact_vs_climate_": "Impact against each climate driver",
            "heads_lost": "Livestock lost per year (million head)",
        },
        "impact regressions and the largest-loss years",
    )
    add(
        "causal",
        "Causal inference",
        causal,
        p_causal.plot,
        {"graph", "years", "outcomes"},
        {
            "causal_graph": "Causal graph",
            "causal_effects": "Causal effects with refutations",
            "causal_change_attribution": "Change attribution between periods",
        },
        "DoWhy backdoor effects on the config graph with refutations and sensitivity",
    )

    GRID_STAGES.register(
        Stage(
            name="grid_geodetector",
            title="Geographical detector (grid)",
            compute=geodetector.grid_detectors,
            plot=p_grid.plot_geodetector,
            defaults=geodetector.GRID_DEFAULTS,
            bounds=geodetector.GRID_OPTION_BOUNDS,
            tables=tables("grid_geodetector", GRID_TABLE_CONTRACTS),
            needs=frozenset(),
            figures={},
            description="complete geodetector with optimal discretisation",
        )
    )
    GRID_STAGES.register(
        Stage(
            name="grid_ml",
            title="Machine learning and SHAP (grid)",
            compute=grid_ml.compute,
            plot=p_grid.plot_ml,
            defaults=grid_ml.DEFAULTS,
            bounds=grid_ml.OPTION_BOUNDS,
            tables=tables("grid_ml", GRID_TABLE_CONTRACTS),
            needs=frozenset(),
            figures={
                "shap_beeswarm": "SHAP values per cell (random forest)",
                "shap_group_shares": "SHAP shares of the driver groups",
            },
            description="gradient-boosted trees and SHAP group shares with cross-validated skill",
        )
    )


#: Table file stem -> title in words (the report's item names).
TABLE_TITLES: dict[str, str] = {
    "trends": "Table: trends",
    "correlations": "Table: correlations",
    "land_condition": "Table: land condition (counts and area)",
    "land_condition_units": "Table: land condition per unit",
    "standardised": "Table: standardised series",
    "coefficients": "Table: coefficients",
    "per_unit": "Table: per-unit regressions",
    "shares": "Table: LMG shares",
    "restrend": "Table: RESTREND per unit",
    "residual_drivers": "Table: residuals against anthropogenic drivers",
    "residuals": "Table: residuals",
    "factor": "Table: factor detector",
    "interaction": "Table: interaction detector",
    "risk": "Table: risk detector",
    "attribution": "Table: attribution",
    "effects": "Table: effects",
    "loss_years": "Table: largest-loss years",
    "unit_mean": "Table: impact mean across units per year",
    "preflight": "Table: drivers kept and left out (pre-flight)",
}

#: Per stage, its tables' contracts (columns in order, numeric columns, key, optional).
#: The driver pre-flight table that several stages write (columns from the methods' own list).
PREFLIGHT_CONTRACT: dict[str, Any] = {
    "columns": tuple(PREFLIGHT_COLUMNS),
    "numeric": tuple(c for c in PREFLIGHT_COLUMNS if c.startswith("n_")),
    "key": ("outcome", "driver"),
}

# fmt: off
TABLE_CONTRACTS: dict[str, dict[str, dict[str, Any]]] = {
    "trends": {
        "correlations": {
            "columns": (
                "study", "var1", "var2", "kind", "r", "ci_low", "ci_high", "p_value", "n_obs",
                "n_units", "n_dropped", "estimand", "status"
            ),
            "numeric": ("r", "ci_low", "ci_high", "p_value", "n_obs", "n_units", "n_dropped"),
            "key": ("var1", "var2", "kind"),
        },
        "land_condition": {
            "columns": (
                "indicator", "role", "better", "condition", "n_units", "unit_share", "area_km2",
                "area_share", "units", "n_units_total", "area_column", "estimand", "status"
            ),
            "numeric": ("n_units", "unit_share", "area_km2", "area_share", "n_units_total"),
            "key": ("indicator", "condition"),
        },
        "land_condition_units": {
            "columns": (
                "indicator", "role", "unit", "slope_per_decade", "mk_p", "significant", "better",
                "condition", "area_km2", "first_year", "last_year", "estimand", "status"
            ),
            "numeric": ("slope_per_decade", "mk_p", "area_km2", "first_year", "last_year"),
            "key": ("indicator", "unit"),
        },
        "standardised": {
            "columns": ("unit", "year", "indicator", "role", "value", "mean", "sd", "z", "trend_z"),
            "numeric": ("year", "value", "mean", "sd", "z", "trend_z"),
            "key": ("unit", "year", "indicator"),
        },
        "trends": {
            "columns": (
                "study", "unit", "indicator", "role", "domain", "n_units", "n_years", "n_obs",
                "n_missing", "first_year", "last_year", "mk_variant", "mk_variant_used", "mk_s",
                "mk_z", "mk_tau", "mk_p", "mk_trend", "significant", "slope", "intercept", "ci_low",
                "ci_high", "ci_level", "slope_per_decade", "slope_pct_of_mean", "mean", "resid_sd",
                "detectable_slope", "reading", "status", "note", "estimand"
            ),
            "numeric": (
                "n_units", "n_years", "n_obs", "n_missing", "first_year", "last_year", "mk_s", "mk_z",
                "mk_tau", "mk_p", "slope", "intercept", "ci_low", "ci_high", "ci_level",
                "slope_per_decade", "slope_pct_of_mean", "mean", "resid_sd", "detectable_slope"
            ),
            "key": ("unit", "indicator"),
        },
    },
    "panel_regression": {
        "coefficients": {
            "columns": tuple(_pr.COEF_COLUMNS),
            "numeric": (
                "coef", "se_dk", "p_dk", "p_wild", "ci_low", "ci_high", "ci_level", "std_coef",
                "std_ci_low", "std_ci_high", "vif", "n_units", "n_years", "n_obs", "n_dropped",
                "n_clusters", "bootstrap_draws", "within_r2"
            ),
            "key": ("outcome", "driver"),
        },
        "per_unit": {
            "columns": tuple(_pr.PER_UNIT_COLUMNS),
            "numeric": (
                "coef", "se_hac", "p_hac", "ci_low", "ci_high", "ci_level", "hac_maxlags", "r2",
                "n_units", "n_years", "n_obs", "n_dropped"
            ),
            "key": ("outcome", "unit", "driver"),
        },
        "preflight": PREFLIGHT_CONTRACT,
    },
    "relative_importance": {
        "preflight": PREFLIGHT_CONTRACT,
        "shares": {
            "columns": tuple(_ri.SHARE_COLUMNS),
            "numeric": (
                "share", "share_ci_low", "share_ci_high", "r2_contribution", "r2_ci_low", "r2_ci_high",
                "total_r2", "total_r2_ci_low", "total_r2_ci_high", "ci_low", "ci_high", "ci_level",
                "n_predictors", "n_units", "n_years", "n_obs", "n_dropped", "bootstrap_draws",
                "placebo_median", "placebo_p95", "placebo_exceedance", "share_above_placebo",
                "placebo_draws"
            ),
            "key": ("outcome", "predictor", "level", "variation"),
        },
    },
    "restrend": {
        "residual_drivers": {
            "columns": (*_pr.COEF_COLUMNS, "note"),
            "numeric": (
                "coef", "se_dk", "p_dk", "p_wild", "ci_low", "ci_high", "ci_level", "std_coef",
                "std_ci_low", "std_ci_high", "vif", "n_units", "n_years", "n_obs", "n_dropped",
                "n_clusters", "bootstrap_draws", "within_r2"
            ),
            "key": ("outcome", "driver"),
        },
        "residuals": {
            "columns": tuple(_rt.RESIDUAL_COLUMNS),
            "numeric": ("year", "observed", "fitted", "residual"),
            "key": ("unit", "year", "outcome"),
        },
        "restrend": {
            "columns": tuple(_rt.RESTREND_COLUMNS),
            "numeric": (
                "vpr_r2", "vpr_f", "vpr_p", "residual_slope", "ci_low", "ci_high", "ci_level",
                "residual_change", "mk_p", "break_year", "chow_f", "chow_p", "chow_p_bonferroni",
                "n_break_candidates", "n_units", "n_years", "n_obs", "n_dropped", "residual_intercept"
            ),
            "key": ("outcome", "unit"),
        },
    },
    "geodetector": {
        "factor": {
            "columns": (
                "study", "y", "x", "sample", "method", "n_strata_requested", "n_strata", "edges",
                "stratum_sizes", "q", "ci_low", "ci_high", "ci_level", "F", "df1", "df2", "lambda",
                "p_value", "n_units", "n_years", "n_obs", "n_dropped", "estimand", "status", "note"
            ),
            "numeric": (
                "n_strata_requested", "n_strata", "q", "ci_low", "ci_high", "ci_level", "F", "df1",
                "df2", "lambda", "p_value", "n_units", "n_years", "n_obs", "n_dropped"
            ),
            "key": ("y", "x", "sample"),
        },
        "interaction": {
            "columns": (
                "study", "y", "x1", "x2", "sample", "q_x1", "q_x2", "q_x1x2", "q_sum", "interaction",
                "n_cells", "min_cell_size", "p_value", "n_units", "n_years", "n_obs", "n_dropped",
                "estimand", "status", "note"
            ),
            "numeric": (
                "q_x1", "q_x2", "q_x1x2", "q_sum", "n_cells", "min_cell_size", "p_value", "n_units",
                "n_years", "n_obs", "n_dropped"
            ),
            "key": ("y", "x1", "x2", "sample"),
        },
        "risk": {
            "columns": tuple(_gd.RISK_COLUMNS),
            "numeric": (
                "stratum", "lower", "upper", "n", "mean_y", "sd_y", "ci_low", "ci_high", "ci_level",
                "p_vs_next", "n_differs"
            ),
            "key": ("y", "x", "sample", "stratum"),
        },
    },
    "sdg": {
        "sdg_terms": {
            "columns": (
                "study", "unit", "indicator", "term", "higher_is_better", "value", "value_meaning",
                "cls", "degradation", "label", "p_value", "ci_low", "ci_high", "ci_level", "period",
                "baseline", "recent", "n_units", "n_years", "n_obs", "n_dropped", "estimand", "status",
                "note"
            ),
            "numeric": (
                "value", "cls", "degradation", "p_value", "ci_low", "ci_high", "ci_level", "n_units",
                "n_years", "n_obs", "n_dropped"
            ),
            "key": ("unit", "indicator", "term"),
        },
    },
    "attribution": {
        "attribution": {
            "columns": tuple(_at.COLUMNS),
            "numeric": (
                "value", "ci_low", "ci_high", "ci_level", "n_units", "n_years", "n_obs", "n_dropped",
                "placebo_median", "placebo_p95", "placebo_exceedance", "placebo_draws"
            ),
            "key": ("outcome", "unit", "method", "quantity"),
        },
        "preflight": PREFLIGHT_CONTRACT,
    },
    "impacts": {
        "effects": {
            "columns": (
                "impact", "driver", "domain", "coef", "se_clustered", "p_clustered", "se_dk", "p_dk",
                "p_wild", "ci_low", "ci_high", "ci_level", "std_coef", "std_ci_low", "std_ci_high",
                "vif", "n_units", "n_years", "n_obs", "n_dropped", "n_clusters", "bootstrap_weights",
                "bootstrap_draws", "within_r2", "model", "status", "status_clustered", "estimand",
                "lag", "term"
            ),
            "numeric": (
                "coef", "se_dk", "p_dk", "p_wild", "ci_low", "ci_high", "ci_level", "std_coef",
                "std_ci_low", "std_ci_high", "vif", "n_units", "n_years", "n_obs", "n_dropped",
                "n_clusters", "bootstrap_draws", "within_r2", "lag"
            ),
            "key": ("impact", "driver", "term"),
        },
        "loss_years": {
            "columns": tuple(_im.LOSS_COLUMNS),
            "numeric": (
                "year", "rank", "mean_loss", "ci_low", "ci_high", "ci_level", "n_units_reporting",
                "n_units_above_p90", "n_units", "n_years", "n_obs"
            ),
            "key": ("impact", "year"),
        },
        "unit_mean": {
            "columns": tuple(_im.UNIT_MEAN_COLUMNS),
            "numeric": ("year", "mean", "n_units_reporting", "n_units"),
            "key": ("impact", "year"),
        },
        "heads_lost": {
            "columns": tuple(_im.HEADS_COLUMNS),
            "numeric": ("year", "heads_lost_million", "n_units_reporting", "n_units_missing", "n_units"),
            "key": ("year",),
            "optional": True,
        },
    },
    "causal": {
        "audit": {
            "columns": (
                "study", "from", "to", "in_config", "reason", "adjacency_found", "orientation_found",
                "verdict", "method", "alpha", "panel_handling", "n_units", "n_years", "n_obs",
                "n_dropped", "status", "note"
            ),
            "numeric": ("alpha", "n_units", "n_years", "n_obs", "n_dropped"),
        },
        "change_attribution": {
            "columns": (
                "study", "outcome", "node", "domain", "baseline", "recent", "contribution",
                "contribution_ci_low", "contribution_ci_high", "share_of_change", "ci_low", "ci_high",
                "ci_level", "observed_change", "modelled_change", "modelled_change_ci_low",
                "modelled_change_ci_high", "estimand", "label", "method", "panel_handling",
                "num_samples", "n_bootstrap", "n_units", "n_years", "n_obs", "n_obs_baseline",
                "n_obs_recent", "n_dropped", "flag", "status"
            ),
            "numeric": (
                "contribution", "contribution_ci_low", "contribution_ci_high", "share_of_change",
                "ci_low", "ci_high", "ci_level", "observed_change", "modelled_change",
                "modelled_change_ci_low", "modelled_change_ci_high", "num_samples", "n_bootstrap",
                "n_units", "n_years", "n_obs", "n_obs_baseline", "n_obs_recent", "n_dropped"
            ),
            "key": ("outcome", "node"),
        },
        "effects": {
            "columns": (
                "study", "outcome", "treatment", "treatment_lag", "estimator", "estimand",
                "identification", "adjustment_set", "panel_handling", "ci_level", "effect", "se",
                "ci_low", "ci_high", "p_value", "driver_sd_within", "effect_per_sd", "ci_low_per_sd",
                "ci_high_per_sd", "n_units", "n_years", "n_obs", "n_dropped", "df_resid",
                "refuters_passed", "robust", "status", "se_iid", "se_cluster", "ci_low_cluster",
                "ci_high_cluster", "n_clusters", "partial_r2_yd", "rv_q1", "rv_q1_alpha", "benchmark",
                "benchmark_r2_d", "benchmark_r2_y", "k_erase", "driver_domain"
            ),
            "numeric": (
                "treatment_lag", "ci_level", "effect", "se", "ci_low", "ci_high", "p_value",
                "driver_sd_within", "effect_per_sd", "ci_low_per_sd", "ci_high_per_sd", "n_units",
                "n_years", "n_obs", "n_dropped", "df_resid", "se_iid", "se_cluster", "ci_low_cluster",
                "ci_high_cluster", "n_clusters", "partial_r2_yd", "rv_q1", "rv_q1_alpha",
                "benchmark_r2_d", "benchmark_r2_y", "k_erase"
            ),
            "key": ("outcome", "treatment"),
        },
        "granger": {
            "columns": (
                "study", "unit", "driver", "outcome", "lag", "f_stat", "p_value", "df_num", "df_denom",
                "n_obs", "n_units", "n_years", "test", "estimand", "status"
            ),
            "numeric": ("lag", "f_stat", "p_value", "df_num", "df_denom", "n_obs", "n_units", "n_years"),
            "key": ("unit", "driver", "outcome", "lag"),
        },
        "refutations": {
            "columns": (
                "study", "refuter", "new_effect", "refuter_p_value", "passed", "rule", "n_simulations",
                "random_state", "erasing_strength", "outcome", "treatment", "treatment_lag",
                "estimator", "adjustment_set", "panel_handling", "effect", "ci_low", "ci_high",
                "p_value", "ci_level", "n_units", "n_years", "n_obs", "n_dropped", "status"
            ),
            "numeric": (
                "new_effect", "refuter_p_value", "n_simulations", "random_state", "erasing_strength",
                "treatment_lag", "effect", "ci_low", "ci_high", "p_value", "ci_level", "n_units",
                "n_years", "n_obs", "n_dropped"
            ),
            "key": ("outcome", "treatment", "refuter"),
        },
    },
}
# fmt: on

# fmt: off
#: Per grid stage, its tables' contracts (one set of tables per grid size).
GRID_TABLE_CONTRACTS: dict[str, dict[str, dict[str, Any]]] = {
    "grid_geodetector": {
        "discretisation": {
            "columns": (
                "study", "grid_km", "y", "x", "method", "k", "n_strata", "q", "chosen", "breaks",
                "stratum_sizes", "n_obs", "n_dropped", "status"
            ),
            "numeric": ("grid_km", "k", "n_strata", "q", "n_obs", "n_dropped"),
            "key": ("y", "x", "method", "k"),
        },
        "ecological": {
            "columns": (
                "study", "grid_km", "y", "x1", "x2", "F", "df1", "df2", "p_value_gd",
                "p_value_two_sided", "ecological", "ecological_two_sided", "F_gdverse",
                "p_value_gdverse", "n_obs", "status"
            ),
            "numeric": (
                "grid_km", "F", "df1", "df2", "p_value_gd", "p_value_two_sided", "F_gdverse",
                "p_value_gdverse", "n_obs"
            ),
            "key": ("y", "x1", "x2"),
        },
        "factor": {
            "columns": (
                "study", "grid_km", "y", "x", "type", "method", "k", "n_strata", "breaks",
                "stratum_sizes", "q", "ci_low", "ci_high", "ci_level", "q_definition", "q_population",
                "q_gd", "F", "df1", "df2", "lambda", "p_value", "significant", "n_obs", "n_dropped",
                "estimand", "status", "note"
            ),
            "numeric": (
                "grid_km", "k", "n_strata", "q", "ci_low", "ci_high", "ci_level", "q_population",
                "q_gd", "F", "df1", "df2", "lambda", "p_value", "n_obs", "n_dropped"
            ),
            "key": ("y", "x"),
        },
        "interaction": {
            "columns": (
                "study", "grid_km", "y", "x1", "x2", "q_x1", "q_x2", "q_x1x2", "q_sum", "interaction",
                "n_cells", "min_cell_size", "n_obs", "n_dropped", "estimand", "status"
            ),
            "numeric": (
                "grid_km", "q_x1", "q_x2", "q_x1x2", "q_sum", "n_cells", "min_cell_size", "n_obs",
                "n_dropped"
            ),
            "key": ("y", "x1", "x2"),
        },
        "risk": {
            "columns": (
                "study", "grid_km", "y", "x", "stratum1", "stratum2", "label1", "label2", "mean1",
                "mean2", "t", "df", "p_value", "risk", "n_obs", "status"
            ),
            "numeric": ("grid_km", "stratum1", "stratum2", "mean1", "mean2", "t", "df", "p_value", "n_obs"),
            "key": ("y", "x", "stratum1", "stratum2"),
        },
        "risk_means": {
            "columns": (
                "study", "grid_km", "y", "x", "stratum", "label", "n", "mean", "sd", "n_obs",
                "n_dropped"
            ),
            "numeric": ("grid_km", "stratum", "n", "mean", "sd", "n_obs", "n_dropped"),
            "key": ("y", "x", "stratum"),
        },
    },
    "grid_ml": {
        "cv": {
            "columns": (
                "study", "grid_km", "y", "n_obs", "n_dropped", "fold", "n_train", "n_test", "r2",
                "rmse", "estimand", "r2_min", "r2_max"
            ),
            "numeric": ("grid_km", "n_obs", "n_dropped", "n_train", "n_test", "r2", "rmse", "r2_min", "r2_max"),
            "key": ("y", "fold"),
        },
        "importance": {
            "columns": (
                "study", "grid_km", "y", "n_obs", "n_dropped", "x", "domain", "group", "mean_abs_shap",
                "share", "ci_low", "ci_high", "ci_level", "rank", "n_explained", "estimand", "status",
                "note"
            ),
            "numeric": (
                "grid_km", "n_obs", "n_dropped", "mean_abs_shap", "share", "ci_low", "ci_high",
                "ci_level", "rank", "n_explained"
            ),
            "key": ("y", "x"),
        },
        "ranking_agreement": {
            "columns": (
                "study", "grid_km", "y", "x", "group", "q", "rank_geodetector",
                "share_of_mean_abs_shap", "rank_shap", "rank_difference", "agree", "spearman_rho",
                "same_top_variable", "n_variables"
            ),
            "numeric": (
                "grid_km", "q", "rank_geodetector", "share_of_mean_abs_shap", "rank_shap",
                "rank_difference", "spearman_rho", "n_variables"
            ),
            "key": ("y", "x"),
        },
        "shap_values": {
            # besides these, one SHAP column and one value column per driver of the study
            "columns": ("study", "y"),
            "variable_columns": True,
        },
        "shares": {
            "columns": (
                "study", "grid_km", "y", "n_obs", "n_dropped", "group", "variables", "share", "ci_low",
                "ci_high", "ci_level", "cv_r2", "n_explained", "n_boot", "additivity_error",
                "estimand", "status", "note"
            ),
            "numeric": (
                "grid_km", "n_obs", "n_dropped", "share", "ci_low", "ci_high", "ci_level", "cv_r2",
                "n_explained", "n_boot", "additivity_error"
            ),
            "key": ("y", "group"),
        },
    },
}
# fmt: on


_register_builtin()
