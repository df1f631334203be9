"""Tests for the two-way FE panel regression (dlddrivers.methods.panel_regression)."""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
import pytest

from dlddrivers.methods import inference as inf
from dlddrivers.methods import panel_regression as pr
from dlddrivers.methods.paneltools import add_lags, within

DICT = pd.DataFrame(
    {
        "indicator": ["y", "spei", "temp", "sheep", "mines"],
        "role": ["outcome", "driver", "driver", "driver", "driver"],
        "domain": ["outcome", "climate", "climate", "grazing", "mining"],
        "measure": ["% of land", "SPEI", "degC", "SFU per km2", "count"],
        "label": ["Bare share", "SPEI-3", "Temperature", "Sheep units", "Licences"],
        "source": ["ESA CCI", "CRU", "ERA5", "NSO", "MRAM"],
        "provider_url": [""] * 5,
        "licence": [""] * 5,
        "formula": [""] * 5,
    }
)


def make_panel(n_units=12, n_years=20, betas=(0.5, -0.3, 0.8, 0.0), seed=1, unbalanced=False):
    """Synthetic panel with unit and year effects, trending drivers and planted coefficients."""
    rng = np.random.default_rng(seed)
    units = [f"U{i:02d}" for i in range(n_units)]
    years = np.arange(2000, 2000 + n_years)
    idx = pd.MultiIndex.from_product([units, years], names=["unit", "year"]).to_frame(index=False)
    n = len(idx)
    a = dict(zip(units, rng.normal(0, 2, n_units), strict=True))
    lt = dict(zip(years, rng.normal(0, 1, n_years), strict=True))
    X = rng.normal(size=(n, 4)) + 0.3 * idx[["unit"]].apply(lambda r: zlib.crc32(r["unit"].encode()) % 3, axis=1).to_numpy()[:, None]
    X[:, 2] += 0.05 * (idx["year"].to_numpy() - 2000)
    y = X @ np.asarray(betas) + idx["unit"].map(a).to_numpy() + idx["year"].map(lt).to_numpy() + rng.normal(0, 0.5, n)
    df = idx.assign(y=y, spei=X[:, 0], temp=X[:, 1], sheep=X[:, 2], mines=X[:, 3])
    if unbalanced:
        drop = rng.choice(n, size=n // 10, replace=False)
        df.loc[drop[: len(drop) // 2], "y"] = np.nan
        df.loc[drop[len(drop) // 2 :], "sheep"] = np.nan
    return df


STUDY = {"name": "synthetic", "outcomes": ["y"], "drivers": ["spei", "temp", "sheep", "mines"], "seed": 7}


def test_panelols_equals_dummy_ols_unbalanced():
    """PanelOLS two-way FE == statsmodels OLS with unit and year dummies (unbalanced, NaNs)."""
    import statsmodels.api as sm

    df = make_panel(unbalanced=True)
    out = pr.compute(df, DICT, STUDY, {"bootstrap_draws": 49})
    coef = out["coefficients"].set_index("driver")
    cc = df.dropna()
    X = pd.get_dummies(cc[["spei", "temp", "sheep", "mines", "unit"]].assign(year=cc["year"].astype(str)),
                       columns=["unit", "year"], drop_first=True, dtype=float)
    res = sm.OLS(cc["y"].to_numpy(), sm.add_constant(X.to_numpy(float))).fit()
    ols = dict(zip(X.columns, res.params[1:], strict=True))
    for d in ["spei", "temp", "sheep", "mines"]:
        assert coef.loc[d, "coef"] == pytest.approx(ols[d], abs=1e-8)
    assert (coef["n_dropped"] == df[["y", "sheep"]].isna().any(axis=1).sum()).all()
    assert (coef["n_obs"] == len(cc)).all()
    assert (coef["estimand"] == "association").all()
    # within transform by alternating projections equals the dummy-regression residual
    D = pd.get_dummies(cc[["unit"]].assign(year=cc["year"].astype(str)), dtype=float).to_numpy()
    resid = cc["spei"].to_numpy() - D @ np.linalg.lstsq(D, cc["spei"].to_numpy(), rcond=None)[0]
    w = within(cc["spei"].to_numpy(), pd.factorize(cc["unit"])[0], pd.factorize(cc["year"])[0])
    np.testing.assert_allclose(w, resid, atol=1e-9)


def test_wild_bootstrap_strong_and_null():
    """Wild cluster bootstrap p is small for a planted effect and not small for a null one."""
    df = make_panel(n_units=8, n_years=15, betas=(1.0, 0.0, 0.0, 0.0), seed=3)
    coef = pr.compute(df, DICT, STUDY, {"bootstrap_draws": 399})["coefficients"].set_index("driver")
    assert coef.loc["spei", "p_wild"] < 0.01
    assert coef.loc["spei", "ci_low"] < 1.0 < coef.loc["spei", "ci_high"]
    assert coef.loc["temp", "p_wild"] > 0.05
    assert coef.loc["spei", "bootstrap_weights"] == "webb"  # 8 clusters < 12
    # clustered SE suppressed with few clusters, and it says why
    assert np.isnan(coef.loc["spei", "se_clustered"])
    assert coef.loc["spei", "status_clustered"].startswith("insufficient_data: 8 clusters < 30")
    assert np.isfinite(coef.loc["spei", "se_dk"])


def test_wild_bootstrap_null_rejection_rate_and_seed():
    """Over seeded null panels the 5 % test rejects rarely; results are reproducible."""
    rej = 0
    for s in range(12):
        df = make_panel(n_units=10, n_years=12, betas=(0.0, 0.0, 0.0, 0.0), seed=100 + s)
        c = pr.compute(df, DICT, {**STUDY, "seed": s}, {"bootstrap_draws": 199})["coefficients"]
        rej += int(c.loc[c["driver"] == "spei", "p_wild"].iloc[0] < 0.05)
    assert rej <= 3
    a = pr.compute(make_panel(), DICT, STUDY, {"bootstrap_draws": 99})["coefficients"]
    b = pr.compute(make_panel(), DICT, STUDY, {"bootstrap_draws": 99})["coefficients"]
    pd.testing.assert_frame_equal(a, b)


def test_std_coef_vif_and_lags():
    df = make_panel(seed=5)
    out = pr.compute(df, DICT, STUDY, {"bootstrap_draws": 49, "lags": {"spei": 1}})
    c = out["coefficients"].set_index("driver")
    assert "spei_lag1" in c.index and "spei" not in c.index
    assert c.loc["spei_lag1", "domain"] == "climate"
    # first year of every unit lost to the lag and reported
    assert (c["n_dropped"] == df["unit"].nunique()).all()
    assert (c["vif"] >= 1 - 1e-9).all()
    # standardised interval = raw interval times the same factor as the coefficient
    ok = c[c["std_coef"].abs() > 0]
    factor = ok["std_coef"] / ok["coef"]
    assert (factor > 0).all()
    assert np.allclose(ok["std_ci_low"], ok["ci_low"] * factor)
    assert np.allclose(ok["std_ci_high"], ok["ci_high"] * factor)
    assert ((ok["std_ci_low"] <= ok["std_coef"]) | (ok["std_ci_high"] >= ok["std_coef"])).all()
    lagged, _ = add_lags(df, {"spei": 1})
    assert lagged.loc[(lagged.unit == "U00") & (lagged.year == 2001), "spei_lag1"].iloc[0] == pytest.approx(
        df.loc[(df.unit == "U00") & (df.year == 2000), "spei"].iloc[0])


def test_detrend_and_first_difference_and_per_unit():
    df = make_panel(seed=9)
    fd = pr.compute(df, DICT, STUDY, {"bootstrap_draws": 49, "first_difference": True})["coefficients"]
    assert (fd["model"] == "first differences + year FE").all()
    assert fd.set_index("driver").loc["sheep", "coef"] == pytest.approx(0.8, abs=0.15)
    dt = pr.compute(df, DICT, STUDY, {"bootstrap_draws": 49, "detrend": True})["coefficients"]
    assert dt.set_index("driver").loc["spei", "coef"] == pytest.approx(0.5, abs=0.15)
    pu = pr.compute(df, DICT, STUDY, {"bootstrap_draws": 49})["per_unit"]
    assert set(pu["unit"]) == set(df["unit"]) and (pu["n_units"] == 1).all()
    assert pu["se_hac"].notna().all()


def test_single_unit_uses_hac_timeseries():
    df = make_panel(n_units=1, n_years=30, seed=2)
    c = pr.compute(df, DICT, STUDY, {"bootstrap_draws": 49})["coefficients"]
    assert c["model"].str.contains("Newey-West").all()
    assert c.set_index("driver").loc["sheep", "coef"] == pytest.approx(0.8, abs=0.3)


def test_no_within_variation_is_refused():
    df = make_panel(seed=4)
    df["mines"] = df["unit"].map({u: i for i, u in enumerate(sorted(df.unit.unique()))}).astype(float)
    c = pr.compute(df, DICT, STUDY, {"bootstrap_draws": 49})["coefficients"].set_index("driver")
    assert c.loc["mines", "status"].startswith("refused: no within variation")
    assert np.isnan(c.loc["mines", "coef"])
    assert c.loc["spei", "status"] == "ok"


def test_wild_bootstrap_matches_wildboottest_enumerated():
    """With 8 clusters all 2^8 Rademacher draws are enumerated by both implementations, so the
    WCR p-value must equal wildboottest's (statsmodels OLS with unit and year dummies)."""
    import warnings

    import statsmodels.formula.api as smf
    from wildboottest.wildboottest import wildboottest

    df = make_panel(n_units=8, n_years=15, betas=(0.15, 0, 0, 0), seed=3, unbalanced=True).dropna()
    m = smf.ols("y ~ spei + temp + sheep + mines + C(unit) + C(year)", data=df)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = wildboottest(m, param="spei", cluster=pd.factorize(df["unit"])[0], B=999,
                           weights_type="rademacher", seed=1)
    c = pr.compute(df, DICT, STUDY, {"bootstrap_draws": 999, "weights": "rademacher"})["coefficients"]
    ours = c.set_index("driver").loc["spei"]
    assert ours["bootstrap_weights"].startswith("rademacher (all 2^G")
    # wildboottest (numba, parallel) resolves exact ties |t*| == |t| (the all-ones and
    # all-minus-ones sign vectors) inconsistently between runs: allow two of 256 draws
    assert ours["p_wild"] == pytest.approx(float(ref["p-value"].iloc[0]), abs=2 / 256 + 1e-12)
    assert ours["p_wild"] == pytest.approx(80 / 256, abs=1e-12)  # our enumeration, ties counted
    # the same reference straight from the toolkit: within transform, then the wild bootstrap
    d = df.sort_values(["unit", "year"])
    u, t = pd.factorize(d["unit"], sort=True)[0], pd.factorize(d["year"], sort=True)[0]
    W = within(d[["y", "spei", "temp", "sheep", "mines"]].to_numpy(float), u, t)
    boot = inf.wild_cluster_bootstrap(W[:, 0], W[:, 1:], u, absorb=(u, t), draws=999,
                                      rng=np.random.default_rng(0), weights="rademacher")
    assert boot.loc[0, "p_wild"] == pytest.approx(80 / 256, abs=1e-12)
    assert boot.loc[0, "coef"] == pytest.approx(ours["coef"], abs=1e-10)


def test_plot_writes_png(tmp_path):
    from dlddrivers.plots import panel_regression as plot_mod

    df = make_panel(seed=6)
    tables = pr.compute(df, DICT, STUDY, {"bootstrap_draws": 29})
    paths = plot_mod.plot(tables, df, DICT, STUDY, tmp_path)
    assert paths and all(p.exists() and p.stat().st_size > 0 for p in paths)


def test_unit_rows_off_leaves_the_coefficients_unchanged():
    """unit_rows=False (the validation, RESTREND's residual regression) skips the per-unit
    time-series fits only: the pooled coefficients are equal to the last bit."""
    df = make_panel(n_units=8, n_years=15)
    opts = {"bootstrap_draws": 49}
    full = pr.compute(df, DICT, STUDY, opts)
    short = pr.compute(df, DICT, STUDY, {**opts, "unit_rows": False})
    pd.testing.assert_frame_equal(full["coefficients"], short["coefficients"])
    assert len(full["per_unit"]) > 0 and len(short["per_unit"]) == 0


def _engines_equal(df, dictionary, study, options):
    """compute() with engine arrays and engine linearmodels: every table equal bit for bit."""
    a = pr.compute(df, dictionary, study, {**options, "engine": "arrays"})
    b = pr.compute(df, dictionary, study, {**options, "engine": "linearmodels"})
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True)
    return a["coefficients"]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("variant", [{}, {"time_effects": False}, {"first_difference": True},
                                     {"detrend": True}])
def test_engine_arrays_equals_panelols_fit_on_panels_with_gaps(seed, variant):
    """One within transform for both covariances (engine arrays) gives exactly the numbers of
    two PanelOLS.fit calls (engine linearmodels): unbalanced panels with missing outcome and
    driver values, two-way, unit effects only (RESTREND's residual regression), first
    differences and detrended data; 6 to 30 units (clustered SE reported from 30)."""
    df = make_panel(n_units=[6, 14, 31][seed], n_years=[12, 20, 9][seed], seed=seed, unbalanced=True)
    coef = _engines_equal(df, DICT, STUDY, {"bootstrap_draws": 49, **variant})
    assert coef["coef"].notna().all() and coef["se_dk"].notna().all() and coef["p_dk"].notna().all()
    if seed == 2 and not variant.get("first_difference"):
        assert coef["se_clustered"].notna().all()


def test_panelols_fits_equals_fit_for_each_covariance():
    """panelols_fits on a PanelOLS model: params, SE and p-values as its fit(), bit for bit."""
    from linearmodels import PanelOLS

    df = make_panel(n_units=9, n_years=15, seed=5, unbalanced=True).dropna()
    data = df.set_index(["unit", "year"])
    for effects in ({"entity_effects": True, "time_effects": True}, {"entity_effects": True},
                    {"time_effects": True}):
        mod = PanelOLS(data["y"], data[["spei", "temp", "sheep"]], **effects)
        specs = {"dk": ("kernel", {}), "cl": ("clustered", {"cluster_entity": True}),
                 "robust": ("robust", {})}
        got = pr.panelols_fits(mod, specs)
        for key, (cov_type, cfg) in specs.items():
            ref = mod.fit(cov_type=cov_type, **cfg)
            for stat in ("params", "std_errors", "pvalues"):
                np.testing.assert_array_equal(got[key][stat].to_numpy(), getattr(ref, stat).to_numpy())
                assert list(got[key][stat].index) == list(getattr(ref, stat).index)


def test_panelols_fits_refuses_what_it_does_not_reproduce():
    from linearmodels import PanelOLS

    data = make_panel(n_units=5, n_years=10).set_index(["unit", "year"])
    mod = PanelOLS(data["y"], data[["spei"]], entity_effects=True, weights=data["temp"].abs() + 1)
    with pytest.raises(ValueError, match="unweighted PanelOLS"):
        pr.panelols_fits(mod, {"dk": ("kernel", {})})
    from dlddrivers.errors import ConfigError

    with pytest.raises(ConfigError, match=r"methods.panel_regression.engine' has value 'fast'; "
                                          r"expected one of \('arrays', 'linearmodels'\)"):
        pr.compute(make_panel(), DICT, STUDY, {"bootstrap_draws": 9, "engine": "fast"})


def test_engine_arrays_equals_panelols_fit_on_validation_panels():
    """The validation's simulated panels (6 and 21 units), as the validation runs them."""
    from dlddrivers import synthetic as S

    for sc in (S.Scenario("a", 0.5, True, "low", 6, 15), S.Scenario("b", 0.2, False, "high", 21, 30)):
        panel, _ = S.simulate(sc, 3)
        _engines_equal(panel, S.dictionary(), S.study(sc, 3), {"bootstrap_draws": 99})


@pytest.mark.slow
@pytest.mark.parametrize("study", ["neasia", "mongolia_aimag"])
def test_engine_arrays_equals_panelols_fit_on_study_panels(default_results, study):
    """The two study panels with a panel regression, with the study's configured options."""
    from dlddrivers.config import load_config
    from dlddrivers.pipeline import read_panel, stage_slice

    sl = stage_slice(load_config("config/config.yaml"), study, "panel_regression")
    panel, dictionary = read_panel(default_results / study)
    coef = _engines_equal(panel, dictionary, sl["study"], sl["options"])
    assert coef["coef"].notna().any()


def _gappy_frame(seed: int, n_units: int, n_years: int, k: int, keep: float) -> pd.DataFrame:
    """Panel sorted by unit and year with rows missing at random (so the years first appear out
    of calendar order), drivers on very different scales."""
    rng = np.random.default_rng(seed)
    rows = [(f"u{g:03d}", 1990 + t) for g in range(n_units) for t in range(n_years)
            if rng.random() < keep or g == 0]
    df = pd.DataFrame(rows, columns=["unit", "year"])
    cols = [f"x{j}" for j in range(k)]
    df[cols] = rng.normal(size=(len(df), k)) * rng.uniform(0.01, 1e3, size=k) + rng.normal(size=k) * 10
    df["y"] = df[cols].to_numpy() @ rng.normal(size=k) + rng.normal(size=len(df))
    return df


@pytest.mark.parametrize("seed,n_units,n_years,k,keep", [
    (1, 57, 4, 4, 0.6),    # more units than years: demean by unit, year dummies removed
    (2, 5, 31, 2, 0.7),    # more years than units: demean by year, unit dummies removed
    (3, 12, 12, 3, 1.0),   # balanced, as many units as years
    (4, 40, 9, 1, 0.5),
    (5, 3, 20, 5, 0.8),
])
def test_panelols_arrays_equals_panelols_fit_bit_for_bit(seed, n_units, n_years, k, keep):
    """panelols_arrays (no PanelOLS model) gives PanelOLS.fit's params, SE and p-values bit for
    bit for every covariance, two-way and unit effects only, on unbalanced panels whose years
    first appear out of order (the dummies' column order matters to the last bit)."""
    from linearmodels import PanelOLS

    df = _gappy_frame(seed, n_units, n_years, k, keep)
    cols = [c for c in df.columns if c.startswith("x")]
    data = df.set_index(["unit", "year"])
    specs = {"dk": ("kernel", {}), "cl": ("clustered", {"cluster_entity": True}),
             "robust": ("robust", {}), "unadjusted": ("unadjusted", {})}
    for time_effects in (True, False):
        got = pr.panelols_arrays(df, "y", cols, specs, time_effects=time_effects)
        assert got is not None
        mod = PanelOLS(data["y"], data[cols], entity_effects=True, time_effects=time_effects)
        for key, (cov_type, cfg) in specs.items():
            ref = mod.fit(cov_type=cov_type, **cfg)
            for stat in ("params", "std_errors", "pvalues"):
                assert got[key][stat].to_numpy().tobytes() == getattr(ref, stat).to_numpy().tobytes()
                assert list(got[key][stat].index) == list(getattr(ref, stat).index)


def test_panelols_arrays_declines_what_it_does_not_reproduce():
    """None (the caller builds the PanelOLS model) for time effects only, unsorted or repeated
    (unit, year) rows, missing values, regressors spanning a constant, other cluster options."""
    df = _gappy_frame(9, 8, 10, 2, 0.9)
    specs = {"dk": ("kernel", {})}
    assert pr.panelols_arrays(df, "y", ["x0", "x1"], specs) is not None
    assert pr.panelols_arrays(df, "y", ["x0", "x1"], specs, entity_effects=False) is None
    assert pr.panelols_arrays(df.iloc[::-1], "y", ["x0", "x1"], specs) is None
    assert pr.panelols_arrays(pd.concat([df, df.iloc[:1]]).sort_values(["unit", "year"]), "y",
                              ["x0", "x1"], specs) is None
    assert pr.panelols_arrays(df.assign(x1=np.where(df.index == 3, np.nan, df["x1"])), "y",
                              ["x0", "x1"], specs) is None
    assert pr.panelols_arrays(df.assign(x1=1.0 - df["x0"] * 0), "y", ["x0", "x1"], specs) is None
    assert pr.panelols_arrays(df, "y", ["x0"], {"cl": ("clustered", {"cluster_time": True})}) is None
    assert pr.panelols_arrays(df.assign(year=df["year"].astype(str)), "y", ["x0"], specs) is None
