"""Attribution methods: panel in, result tables out.

READ THIS FIRST (the stage interface every method module follows; also in docs/stage_interface.md)

## The panel interface (what every method receives)
The panel stage (being written now by others) produces per study:
- `panel: pd.DataFrame` — columns `unit` (str, e.g. ISO3 `MNG` or aimag id `MN65`), `year` (int), then one float column per indicator id (NaN where missing). One row per unit and year.
- `dictionary: pd.DataFrame` — one row per indicator with columns `indicator, role, domain, measure, label, source, provider_url, licence, formula`. `role` is one of `outcome`, `driver`, `impact`. `domain` is one of `climate, grazing, agriculture, mining, land_use, population, impact, outcome`. Biophysical drivers = domain `climate`; anthropogenic drivers = `grazing, agriculture, mining, land_use, population`.
- `study: dict` — e.g. `{"name": "mongolia_aimag", "level": "aimag", "units": [...], "years": [2007, 2020], "outcomes": ["biomass_median"], "drivers": ["spei3_jja", "t2m_jja", "sheep_units_per_km2", "licences_active_n"], "impacts": [], "seed": 20261125}`. Default studies: `neasia` (6 countries, 1992-2020, outcomes like `bare_sparse_share` (% of land)), `mongolia_aimag` (21 aimags, 2007-2020, outcome biomass), `mongolia_dzud` (21 aimags, 1992-2024, impact `mort_sfu`, drivers SPEI, winter/summer temperature, grazing pressure from the previous December's herd).
- `options: dict` — your stage's options from `config["methods"][<stage>]` (you define the keys and their defaults in a module-level `DEFAULTS` dict and document them; the caller merges config over DEFAULTS).

Each stage module exposes `compute(panel, dictionary, study, options) -> dict[str, pd.DataFrame]` (named result tables, no file I/O) and a plotting function in `src/dlddrivers/plots/<stage>.py`: `plot(tables, panel, dictionary, study, outdir: Path) -> list[Path]` that draws only from the tables/panel (plots never compute statistics; use `dlddrivers.plots.style`: `apply_style()`, `DOMAIN_COLORS`, `OKABE_ITO`, `save(fig, path, caption=..., svg=...)`; axis labels with measurement units from `dictionary.measure`, source in the caption). The workflow (written by the lead) calls `compute`, writes each table to `results/<study>/<stage>/<name>.csv`, then calls `plot`.

## Honesty rules for every table
- Every row carries `n_units`, `n_years`, `n_obs` (as applicable) and an `estimand` column naming which of the four things it is: `share_of_area`, `share_of_explained_variance`, `share_of_trend`, `causal_effect` (or `association`, `trend`, `detection` where that is what it is). Nothing prints a bare "X % human".
- Where the data cannot support a method (too few units/years, a non-significant climate model, singular design), the row says so in a `status` column (e.g. `ok`, `insufficient_data: 6 units < 30 clusters`, `refused: VPR not significant (p=0.41)`) and leaves the number NaN instead of printing one.
- Every estimate has an interval (CI columns `ci_low`, `ci_high` at a documented level) — no share without its interval. Seeds come from `study["seed"]`; results are reproducible.
- Methods must run on real panels with NaNs: drop incomplete rows per analysis and REPORT how many were dropped (a column or a table), never silently.

"""
