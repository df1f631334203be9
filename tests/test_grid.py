"""Grid studies: the Inner Mongolia reader against the raw files, config checks, the complete
geodetector against hand computations, gdverse's published examples and the PyPI geodetector
package, optimal discretisation, the ML + SHAP attribution on planted truths, the scale table."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SNAPSHOT_DIR

from dlddrivers.errors import ConfigError, RawFileError
from dlddrivers.methods import geodetector as gd

GRID_RAW = SNAPSHOT_DIR / "inner_mongolia_ndvi_grid"
needs_raw = pytest.mark.skipif(not GRID_RAW.exists(), reason="raw snapshot not available")
DISEASE = Path(__file__).parent / "data" / "geodetector_disease.csv"


def _registry():
    from dlddrivers.units import UnitRegistry

    return UnitRegistry.from_yaml("config/units.yaml")


# --------------------------------------------------------------------------- reader
@needs_raw
def test_reader_matches_raw_file_by_hand():
    import pyreadr

    from dlddrivers.sources import DropLog
    from dlddrivers.sources.inner_mongolia_grid import read

    log = DropLog()
    t = read({"ndvi_40": GRID_RAW / "ndvi_40.rda"}, _registry(), log)
    raw = pyreadr.read_r(str(GRID_RAW / "ndvi_40.rda"))["ndvi_40"]
    assert len(raw) == 713 and t["unit"].nunique() == 713
    assert t["year"].isna().all() and log.frame().empty
    row1 = t[t["unit"] == "IM_40km_00001"].set_index("indicator")["value"]
    # first row of ndvi_40 as printed by R: 0.11599 Bwk low ... 236.54 12.55 1.44957
    assert row1["NDVIchange"] == pytest.approx(0.11599)
    assert row1["Climatezone"] == 2  # Bsk, Bwk, Dwa, Dwb, Dwc -> Bwk = 2
    assert row1["Mining"] == 2  # very low, low, ... -> low = 2
    assert row1["Precipitation"] == pytest.approx(236.54)
    assert row1["GDP"] == pytest.approx(12.55)
    assert row1["Popdensity"] == pytest.approx(1.44957)
    # every value equals the raw column (continuous) or its class position (categorical)
    w = t.pivot(index="unit", columns="indicator", values="value")
    assert np.allclose(w["Tempchange"].to_numpy(), raw["Tempchange"].to_numpy())
    levels = ["very low", "low", "medium", "high", "very high"]
    assert (w["Mining"].to_numpy() == raw["Mining"].astype(str).map(
        {v: i + 1 for i, v in enumerate(levels)}).to_numpy()).all()


@needs_raw
def test_reader_errors_name_file_and_field(tmp_path):
    import pyreadr

    from dlddrivers.sources import DropLog
    from dlddrivers.sources.inner_mongolia_grid import read

    raw = pyreadr.read_r(str(GRID_RAW / "ndvi_50.rda"))["ndvi_50"].reset_index(drop=True)
    bad = raw.copy()
    bad["Climatezone"] = bad["Climatezone"].astype(object)
    bad.loc[3, "Climatezone"] = "Cfa"
    bad["Mining"] = bad["Mining"].astype(str)
    p = tmp_path / "ndvi_50.rda"
    pyreadr.write_rdata(str(p), bad, df_name="ndvi_50")
    with pytest.raises(RawFileError) as e:
        read({"ndvi_50": p}, _registry(), DropLog())
    assert "ndvi_50.rda" in str(e.value) and "Climatezone" in str(e.value) and "'Cfa'" in str(e.value)
    p2 = tmp_path / "ndvi_20.rda"
    pyreadr.write_rdata(str(p2), raw.drop(columns=["GDP"]).assign(Mining=raw["Mining"].astype(str)),
                        df_name="ndvi_20")
    with pytest.raises(RawFileError, match="field 'GDP'"):
        read({"ndvi_20": p2}, _registry(), DropLog())
    with pytest.raises(ConfigError, match="cell size"):
        read({"ndvi_7": p2}, _registry(), DropLog())


# --------------------------------------------------------------------------- config
def _cfg():
    from dlddrivers.config import load_config

    return load_config("config/config.yaml")


def test_grid_study_config_checks():
    import yaml

    from dlddrivers.catalogue import Catalogue
    from dlddrivers.config import validate_schema, validate_semantics

    cfg = _cfg()
    sources = yaml.safe_load(open("config/sources.yaml"))["sources"]
    cat = Catalogue.from_yaml("config/catalogue.yaml", sources)
    validate_schema(cfg)
    validate_semantics(cfg, _registry(), cat)
    st = cfg["studies"]["inner_mongolia_grid"]
    assert st["grid_sizes_km"] == [5, 10, 20, 30, 40, 50] and "inner_mongolia_grid" in cfg["run"]
    assert cat.entries["mining_class"].categories == ["very low", "low", "medium", "high", "very high"]
    assert cat.entries["mining_class"].ordered and not cat.entries["climate_zone"].ordered
    assert {cat.entries[i].domain for i in ("climate_zone", "temp_change", "precipitation_grid")} == {"climate"}
    bad = json.loads(json.dumps(cfg))
    bad["studies"]["inner_mongolia_grid"]["grid_sizes_km"] = [5, 7]
    with pytest.raises(ConfigError) as e:
        validate_semantics(bad, _registry(), cat)
    assert "grid_sizes_km[1]" in str(e.value) and "7" in str(e.value)
    bad = json.loads(json.dumps(cfg))
    bad["studies"]["inner_mongolia_grid"]["years"] = [2010, 2014]
    validate_schema(bad)
    with pytest.raises(ConfigError, match="studies.inner_mongolia_grid.years.*no years"):
        validate_semantics(bad, _registry(), cat)
    bad = json.loads(json.dumps(cfg))
    bad["studies"]["neasia"]["grid_sizes_km"] = [5]
    with pytest.raises(ConfigError, match="studies.neasia.grid_sizes_km"):
        validate_semantics(bad, _registry(), cat)
    bad = json.loads(json.dumps(cfg))
    del bad["studies"]["inner_mongolia_grid"]["grid_sizes_km"]
    with pytest.raises(ConfigError):
        validate_schema(bad)
    bad = json.loads(json.dumps(cfg))
    bad["studies"]["inner_mongolia_grid"]["drivers"].append("spei3_jja")
    with pytest.raises(ConfigError, match="level 'grid'"):
        validate_semantics(bad, _registry(), cat)


@needs_raw
def test_build_cells_one_grid_size_and_status_table():
    import yaml

    from dlddrivers.catalogue import Catalogue
    from dlddrivers.config import study_config
    from dlddrivers.grid import build_cells, categorical_of, stages_not_applicable
    from dlddrivers.stages import STAGES

    cfg = _cfg()
    sources = yaml.safe_load(open("config/sources.yaml"))["sources"]
    cat = Catalogue.from_yaml("config/catalogue.yaml", sources)
    st = study_config(cfg, "inner_mongolia_grid")
    st["grid_sizes_km"] = [50]
    res = build_cells(st, cat, sources, _registry(), GRID_RAW.parent)
    assert len(res.cells) == 469 and set(res.cells["grid_km"]) == {50}
    assert [f.key for f in res.files] == ["ndvi_50"]  # only the file of the chosen size is read
    assert res.cells[st["drivers"]].notna().all().all()
    assert categorical_of(res.dictionary) == {
        "climate_zone": ["Bsk", "Bwk", "Dwa", "Dwb", "Dwc"],
        "mining_class": ["very low", "low", "medium", "high", "very high"]}
    s = stages_not_applicable(st, list(STAGES))
    assert list(s["stage"]) == list(STAGES) and s["status"].str.startswith("not_applicable").all()


# --------------------------------------------------------------------------- detectors
def test_q_definitions_by_hand():
    y = np.array([1.0, 2.0, 3.0, 7.0, 8.0, 9.0, 4.0, 6.0, 5.0])
    s = np.array([0, 0, 0, 1, 1, 1, 2, 2, 3])  # stratum 3 holds one value
    n = len(y)
    # GD: 1 - sum_h N_h s_h^2 / (N s^2), sample variances, the singleton adds nothing
    within = sum(len(y[s == h]) * np.var(y[s == h], ddof=1) for h in (0, 1, 2))
    assert gd.q_gd(y, s) == pytest.approx(1 - within / (n * np.var(y, ddof=1)))
    # population form: 1 - SSW / SST
    ssw = sum(((y[s == h] - y[s == h].mean()) ** 2).sum() for h in range(4))
    assert gd.q_value(y, s, "population") == pytest.approx(1 - ssw / ((y - y.mean()) ** 2).sum())
    with pytest.raises(ConfigError):
        gd.q_value(y, s, "other")


def test_factor_detector_equals_gdverse_published_ntds_example():
    # gdverse reference/gd.md: gd(incidence ~ watershed + elevation + soiltype, data = NTDs)
    # watershed 0.6377737 (p 0.000128803), elevation 0.6067087 (p 0.043382244),
    # soiltype 0.3857168 (p 0.372145486); all three interactions "Enhance, bi-".
    d = pd.read_csv(DISEASE, comment="#")
    published = {"region": (0.6377737, 0.000128803), "level": (0.6067087, 0.043382244),
                 "type": (0.3857168, 0.372145486)}
    cats = {c: [str(v) for v in sorted(d[c].unique())] for c in published}
    cells = d.assign(**{c: d[c].rank(method="dense") for c in published})
    out = gd.grid_detectors(cells, "incidence", list(published), cats,
                            {"n_boot": 0, "min_stratum_size": 1})
    f = out["factor"].set_index("x")
    for c, (q, p) in published.items():
        assert f.loc[c, "q"] == pytest.approx(q, abs=5e-7)
        assert f.loc[c, "p_value"] == pytest.approx(p, rel=1e-5)
        assert f.loc[c, "q_definition"] == "population"
    assert (out["interaction"]["interaction"] == "Enhance, bi-").all()


def test_against_pypi_geodetector_package():
    from geodetector._stats import interaction_type
    from geodetector._stats import q_statistic as pypi_q
    from scipy.stats import ttest_ind

    d = pd.read_csv(DISEASE, comment="#")
    y = d["incidence"].to_numpy(float)
    for c in ("type", "region", "level"):
        x = d[c].to_numpy(int)
        assert gd.q_value(y, x, "population") == pytest.approx(pypi_q(y, x), abs=1e-12)
    names = ["Weaken, nonlinear", "Weaken, uni-", "Enhance, bi-", "Independent", "Enhance, nonlinear"]
    rng = np.random.default_rng(4)
    cases = [(0.4, 0.5, 0.3), (0.4, 0.5, 0.45), (0.4, 0.5, 0.7), (0.4, 0.5, 0.9), (0.4, 0.5, 0.95)]
    for _ in range(200):
        yy = rng.normal(size=60)
        a, b = rng.integers(0, 4, 60), rng.integers(0, 3, 60)
        cases.append((pypi_q(yy, a), pypi_q(yy, b), pypi_q(yy, a * 10 + b)))
    for q1, q2, q12 in cases:
        assert gd.classify_interaction(q1, q2, q12, tol=1e-10, naming="gd") == names[interaction_type(q1, q2, q12)]
    # risk detector t-tests: Welch, as PyPI geodetector (scipy) and R's t.test
    r = d["region"].to_numpy()
    for h1, h2 in itertools.combinations(np.unique(r), 2):
        t, df, p, status = gd.welch_t(y[r == h1], y[r == h2])
        ref = ttest_ind(y[r == h1], y[r == h2], equal_var=False)
        assert status == "ok"
        assert t == pytest.approx(ref.statistic) and p == pytest.approx(ref.pvalue)
        assert df == pytest.approx(ref.df)


def test_welch_df_formula_and_fallback_by_hand():
    y1, y2 = np.array([1.0, 2, 4, 7]), np.array([3.0, 3.5, 9, 10, 12])
    v1, v2 = y1.var(ddof=1) / 4, y2.var(ddof=1) / 5
    t, df, p, _ = gd.welch_t(y1, y2)
    assert t == pytest.approx((y1.mean() - y2.mean()) / np.sqrt(v1 + v2))
    assert df == pytest.approx((v1 + v2) ** 2 / (v1**2 / 3 + v2**2 / 4))
    # where R's t.test fails, GD/gdverse report t = 0, p = 1, df = min(n1, n2) - 1
    assert gd.welch_t(np.array([1.0]), y2)[:3] == (0.0, 0.0, 1.0)
    assert gd.welch_t(np.ones(3), np.ones(4) * 2)[:3] == (0.0, 2.0, 1.0)


def test_ecological_detector_gd_formula_and_gdverse_form_by_hand():
    from scipy.stats import f as fdist

    y = np.array([1.0, 2, 3, 4, 5, 6, 7, 8])
    s1 = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    s2 = np.array([0, 0, 1, 1, 1, 1, 2, 2])
    n = 8
    ssw1 = sum((s1 == h).sum() * np.var(y[s1 == h], ddof=1) for h in (0, 1))
    ssw2 = sum((s2 == h).sum() * np.var(y[s2 == h], ddof=1) for h in (0, 1, 2))
    e = gd.ecological_test(y, s1, s2)
    F = n * (n - 1) * ssw1 / (n * (n - 1) * ssw2)
    assert e["F"] == pytest.approx(F)
    assert e["p_value_gd"] == pytest.approx(2 * (1 - fdist.cdf(F, 7, 7)))
    q1, q2 = gd.q_statistic(y, s1), gd.q_statistic(y, s2)
    assert e["F_gdverse"] == pytest.approx((1 - q1) / (1 - q2))
    assert e["p_value_gdverse"] == pytest.approx(fdist.sf((1 - q1) / (1 - q2), 7, 7))


def test_gdverse_published_ecological_example_form():
    # gdverse reference/ecological_detector.md: F = 2.133333, p = 0.189319 for y = 1:7; its F is
    # (1 - q1)/(1 - q2) with its q values 0.7714286 and 0.8928571 (interaction_detector.md)
    from scipy.stats import f as fdist

    F = (1 - 0.7714286) / (1 - 0.8928571)
    assert F == pytest.approx(2.133333, abs=1e-5)
    assert fdist.sf(F, 6, 6) == pytest.approx(0.189319, abs=1e-6)
    # and our population q reproduces its q for the factor without a singleton stratum
    y = np.arange(1.0, 8.0)
    x2 = np.array([0, 0, 1, 1, 2, 2, 2])
    assert gd.q_statistic(y, x2) == pytest.approx(0.8928571, abs=1e-7)


# --------------------------------------------------------------------------- discretisation
@pytest.mark.parametrize("lo,hi,n,expected", [
    (0, 10, 5, [0, 2, 4, 6, 8, 10]),
    (1, 1000, 5, [0, 200, 400, 600, 800, 1000]),
    (-1.73, 2.5, 5, [-2, -1, 0, 1, 2, 3]),
    (0.1, 0.93, 5, [0, 0.2, 0.4, 0.6, 0.8, 1.0]),
    (0, 1, 10, [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]),
    (-3.2, 4.1, 3, [-4, -2, 0, 2, 4, 6]),
])
def test_r_pretty_matches_r(lo, hi, n, expected):
    # values of R's pretty(c(lo, hi), n)
    assert gd.r_pretty(lo, hi, n) == pytest.approx(expected)


def test_disc_methods_by_definition():
    rng = np.random.default_rng(2)
    x = rng.gamma(2.0, 3.0, 500) + 0.5
    assert gd.disc_breaks(x, "equal", 4) == pytest.approx(np.linspace(x.min(), x.max(), 5))
    assert gd.disc_breaks(x, "quantile", 5) == pytest.approx(np.quantile(x, np.linspace(0, 1, 6)))
    r = (x.max() / x.min()) ** (1 / 4)
    assert gd.disc_breaks(x, "geometric", 4) == pytest.approx(x.min() * r ** np.arange(5))
    assert len(gd.disc_breaks(x - 10, "geometric", 4)) == 0  # min <= 0: not applicable
    m, s = x.mean(), x.std(ddof=1)
    assert gd.disc_breaks(x, "sd", 6) == pytest.approx(
        gd.r_pretty((x.min() - m) / s, (x.max() - m) / s, 6) * s + m)
    # natural breaks (kmeans1d) = exact Fisher-Jenks (same classes, same within-class SS)
    small = rng.gamma(2.0, size=60)
    for k in (3, 5):
        a, b = gd.natural_breaks(small, k), gd.fisher_jenks(small, k)
        sa, sb = gd.assign_strata(small, a), gd.assign_strata(small, b)
        ssd = [sum(((small[st == h] - small[st == h].mean()) ** 2).sum() for h in range(k))
               for st in (sa, sb)]
        assert ssd[0] == pytest.approx(ssd[1])
    # GD stra(): x <= b1 -> 1, b1 < x <= b2 -> 2, ..., x > b_{n-1} -> n
    st = gd.assign_strata(np.array([0.0, 1.0, 1.5, 2.0, 9.0]), np.array([0.0, 1.0, 2.0, 3.0]))
    assert st.tolist() == [0, 0, 1, 1, 2]


def test_optimal_discretisation_keeps_largest_q_and_reports_it():
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 1, 2000)
    # planted truth: Y steps at 0.25, 0.5, 0.75 -> equal or quantile with k = 4 give q near 1
    y = np.floor(x * 4) + rng.normal(0, 0.05, 2000)
    best, cands = gd.optimal_discretisation(y, x, ["equal", "quantile", "natural", "sd"],
                                            list(range(3, 8)))
    ok = [c for c in cands if c["status"] == "ok"]
    assert best["q"] == max(c["q"] for c in ok)
    assert best["q"] > 0.99
    assert len(cands) == 4 * 5
    # ties go to the first method in config order, then the smallest count (GD optidisc)
    first = next(c for c in ok if c["q"] == best["q"])
    assert first is best


# --------------------------------------------------------------------------- grid detectors
def _synthetic_cells(n=3000, seed=1):
    rng = np.random.default_rng(seed)
    zone = rng.integers(1, 4, n).astype(float)
    prec = rng.uniform(100, 500, n)
    mine = rng.integers(1, 6, n).astype(float)
    gdp = rng.gamma(1.0, 10.0, n)
    y = 0.3 * (zone == 2) + 0.001 * prec + rng.normal(0, 0.05, n)
    return pd.DataFrame({"unit": [f"c{i}" for i in range(n)], "grid_km": 5, "ndvi": y,
                         "zone": zone, "prec": prec, "mine": mine, "gdp": gdp})


def test_grid_detectors_tables():
    cells = _synthetic_cells()
    cells.loc[0, "gdp"] = np.nan
    cats = {"zone": ["a", "b", "c"], "mine": ["1", "2", "3", "4", "5"]}
    out = gd.grid_detectors(cells, "ndvi", ["zone", "prec", "mine", "gdp"], cats,
                            {"n_boot": 49, "k_max": 8}, seed=3, study="s", grid_km=5)
    f = out["factor"].set_index("x")
    assert (f["n_dropped"] == 1).all() and (f["n_obs"] == 2999).all()
    assert f.loc["zone", "method"] == "categories" and f.loc["prec", "method"] in gd.DISC_METHODS
    assert f.loc["prec", "q"] > 0.3 and f.loc["zone", "q"] > 0.3
    assert f.loc["mine", "q"] < 0.01 and f.loc["gdp", "q"] < 0.01
    for x in f.index:
        assert f.loc[x, "ci_low"] <= f.loc[x, "q"] <= f.loc[x, "ci_high"]
    # the reported q is the q of the reported breaks and is the best candidate
    br = np.array(json.loads(f.loc["prec", "breaks"]))
    d = cells.dropna()
    st = gd.assign_strata(d["prec"].to_numpy(), br)
    assert gd.q_statistic(d["ndvi"].to_numpy(), st) == pytest.approx(f.loc["prec", "q"], abs=1e-4)
    disc = out["discretisation"]
    assert disc[disc["x"] == "prec"]["q"].max() == pytest.approx(f.loc["prec", "q"])
    assert disc["chosen"].sum() == 2  # one per continuous variable
    i = out["interaction"].set_index(["x1", "x2"])
    assert i.loc[("zone", "prec"), "interaction"] in ("Enhance, bi-", "Independent", "Enhance, nonlinear")
    assert set(i["interaction"]) <= set(gd.INTERACTION_TYPES)
    rm = out["risk_means"]
    z = rm[rm["x"] == "zone"].set_index("stratum")
    assert z.loc[2, "mean"] - z.loc[1, "mean"] == pytest.approx(0.3, abs=0.02)
    r = out["risk"].set_index(["x", "stratum1", "stratum2"])
    assert r.loc[("zone", 1, 2), "risk"] == "Y" and r.loc[("zone", 1, 3), "risk"] == "N"
    e = out["ecological"]
    assert len(e) == 6 and set(e["ecological"]) <= {"Y", "N"}


# --------------------------------------------------------------------------- ML + SHAP
def test_grid_ml_recovers_planted_group_shares():
    from dlddrivers.methods import grid_ml

    cells = _synthetic_cells(n=2000, seed=7)
    dictionary = pd.DataFrame({
        "indicator": ["ndvi", "zone", "prec", "mine", "gdp"],
        "domain": ["outcome", "climate", "climate", "mining", "economy"],
        "label": ["NDVI", "Zone", "Prec", "Mine", "GDP"],
        "categories": ["[]", '["a", "b", "c"]', "[]", '["1", "2", "3", "4", "5"]', "[]"],
        "ordered": [False, False, False, True, False], "note": [""] * 5})
    study = {"name": "s", "outcomes": ["ndvi"], "drivers": ["zone", "prec", "mine", "gdp"],
             "seed": 3}
    out = grid_ml.compute(cells, dictionary, study, {"n_explain": 300, "n_boot": 200,
                                                     "max_iter": 100}, 5)
    sh = out["shares"].set_index("group")
    # Y depends only on the biophysical drivers: the anthropogenic share is near 0
    assert sh.loc["biophysical", "share"] > 0.9
    assert sh.loc["anthropogenic", "ci_low"] <= sh.loc["anthropogenic", "share"] <= sh.loc["anthropogenic", "ci_high"]
    assert sh.loc["biophysical", "share"] + sh.loc["anthropogenic", "share"] == pytest.approx(1)
    assert (sh["estimand"] == "share_of_mean_abs_shap").all()
    assert sh["additivity_error"].max() < 1e-6
    cv = out["cv"]
    assert cv[cv["fold"] == "mean"]["r2"].iloc[0] > 0.8
    assert len(out["shap_values"]) == 300
    # one-hot encoding of the unordered zone sits inside the pipeline (fitted per fold)
    pipe = grid_ml.make_pipeline(study["drivers"], ["zone"], grid_ml.DEFAULTS, 0)
    assert [n for n, _ in pipe.steps] == ["pre", "model"]
    f = pd.DataFrame({"grid_km": 5, "y": "ndvi", "x": ["zone", "prec", "mine", "gdp"],
                      "q": [0.5, 0.6, 0.001, 0.002], "method": "", "k": 0})
    a = grid_ml.ranking_agreement(f, out["importance"]).set_index("x")
    assert set(a.loc[["zone", "prec"], "rank_geodetector"]) == {1, 2}
    assert a.loc["prec", "agree"] and a.loc["zone", "agree"]


def test_scale_table_long_and_wide(tmp_path):
    from dlddrivers.grid import scale_table

    f = []
    for km, q in ((5, 0.8), (50, 0.6)):
        f.append(pd.DataFrame({"study": "s", "y": "ndvi", "grid_km": km, "x": ["a", "b"],
                               "q": [q, 0.1], "ci_low": [q - .1, 0.05], "ci_high": [q + .1, .2],
                               "type": "continuous", "method": "equal", "k": 4, "n_obs": 100,
                               "status": "ok"}))
    s = [pd.DataFrame({"study": "s", "y": "ndvi", "grid_km": [5], "group": ["biophysical"],
                       "share": [0.9], "ci_low": [0.85], "ci_high": [0.95], "n_obs": [100],
                       "status": ["ok"]})]
    t = scale_table(f, s, [])
    q = t[t["measure"] == "q"].set_index(["x", "grid_km"])
    assert q.loc[("a", 5), "value"] == 0.8 and q.loc[("a", 50), "value"] == 0.6
    assert q.loc[("a", 50), "rank"] == 1 and q.loc[("b", 5), "rank"] == 2
    assert (t[t["measure"] == "share_of_mean_abs_shap"]["estimand"] == "share_of_mean_abs_shap").all()


def _sse(x, breaks):
    st = gd.assign_strata(x, breaks)
    return sum(((x[st == h] - x[st == h].mean()) ** 2).sum() for h in np.unique(st))


def test_natural_breaks_dp_equals_kmeans1d_and_brute_force():
    from dlddrivers.methods._jenks import natural_breaks_all

    rng = np.random.default_rng(11)
    # with ties (rounded values) and without
    for x in (np.round(rng.gamma(2.0, 2.0, 3000), 1), rng.normal(size=2500)):
        br = natural_breaks_all(x, list(range(3, 16)))
        for k in (3, 8, 15):
            assert len(br[k]) == k + 1
            assert _sse(x, br[k]) == pytest.approx(_sse(x, gd.natural_breaks(x, k)), rel=1e-9)
    small = rng.gamma(2.0, size=11)
    v = np.sort(small)
    for k in (2, 3, 4):
        best = min(sum(((p - p.mean()) ** 2).sum() for p in np.split(v, cuts))
                   for cuts in itertools.combinations(range(1, len(v)), k - 1))
        st = gd.assign_strata(small, natural_breaks_all(small, [k])[k])
        assert sum(((small[st == h] - small[st == h].mean()) ** 2).sum() for h in range(k)) == pytest.approx(best)



def _dp_depth_first(c0, c1, c2, n, kmax):
    """The former numba DP of methods/_jenks.py, scalar and depth first (an explicit stack),
    as the reference of the vectorised breadth-first version."""
    def cost_of(i, j):
        w = c0[j + 1] - c0[i]
        s = c1[j + 1] - c1[i]
        v = (c2[j + 1] - c2[i]) - s * s / w
        return v if v > 0.0 else 0.0

    cost = np.empty((kmax, n))
    arg = np.zeros((kmax, n), dtype=np.int64)
    for j in range(n):
        cost[0, j] = cost_of(0, j)
    for m in range(1, kmax):
        cost[m, :m] = np.inf
        stack = [(m, n - 1, m, n - 1)]
        while stack:
            lo, hi, olo, ohi = stack.pop()
            if lo > hi:
                continue
            mid = (lo + hi) // 2
            best, bs = np.inf, olo
            for s in range(olo, min(ohi, mid) + 1):
                v = cost[m - 1, s - 1] + cost_of(s, mid)
                if v < best:
                    best, bs = v, s
            cost[m, mid], arg[m, mid] = best, bs
            stack += [(lo, mid - 1, olo, bs), (mid + 1, hi, bs, ohi)]
    return cost, arg


@pytest.mark.parametrize("kind", ["ties", "normal", "few", "grid"])
def test_natural_breaks_dp_equals_the_depth_first_recursion(kind):
    """The breadth-first numpy DP gives the costs (bit for bit) and split points of the
    depth-first scalar recursion it replaced, ties and few distinct values included."""
    from dlddrivers.methods._jenks import _dp

    rng = np.random.default_rng(7)
    x = {"ties": np.round(rng.gamma(2.0, 2.0, 900), 1), "normal": rng.normal(size=400),
         "few": np.repeat([1.0, 2.5, 3.0, 7.0], [3, 1, 4, 2]),
         "grid": np.round(rng.lognormal(size=600), 2)}[kind]
    u, w = np.unique(x, return_counts=True)
    z, w = u - u.mean(), w.astype(float)
    c = (np.concatenate([[0.0], np.cumsum(w)]), np.concatenate([[0.0], np.cumsum(w * z)]),
         np.concatenate([[0.0], np.cumsum(w * z * z)]))
    kmax = min(15, len(u))
    cost, arg = _dp(*c, len(u), kmax)
    ref_cost, ref_arg = _dp_depth_first(*c, len(u), kmax)
    assert np.array_equal(arg, ref_arg)
    assert np.array_equal(cost, ref_cost)  # the same floating-point operations


@needs_raw
def test_jobs_and_summary_on_the_50km_grid(tmp_path):
    """The job functions the grid rules call, on the 50 km file, and the summary section."""
    from dlddrivers import grid
    from dlddrivers.config import study_config
    from dlddrivers.stages import STAGES
    from dlddrivers.summary import build_summary, is_grid_study

    cfg = _cfg()
    cfg["snapshot_dir"] = str(GRID_RAW.parent)
    cfg["studies"]["inner_mongolia_grid"]["grid_sizes_km"] = [50]
    study = study_config(cfg, "inner_mongolia_grid")
    d = tmp_path / "inner_mongolia_grid"
    from dlddrivers.pipeline import panel_slice, raw_dir, setup

    registry, catalogue, sources = setup(cfg)
    slice_ = panel_slice(cfg, "inner_mongolia_grid", registry, catalogue, sources)
    p = grid.grid_data_job(slice_, raw_dir(cfg), d / "data", d / "stages_not_applicable.csv",
                           list(STAGES))
    geo, ml = d / "grid_50km" / "geodetector", d / "grid_50km" / "ml"
    grid.grid_geodetector_job(study, {"n_boot": 49}, p["cells"], p["dictionary"], 50, geo)
    grid.grid_ml_job(study, {"n_explain": 200, "n_boot": 100, "max_iter": 50}, p["cells"],
                     p["dictionary"], geo / "factor.csv", 50, ml)
    grid.grid_scale_job(study, [geo / "factor.csv"], [ml / "shares.csv"],
                        [ml / "ranking_agreement.csv"], p["dictionary"], d / "scale")
    f = pd.read_csv(geo / "factor.csv").set_index("x")
    assert f.loc["climate_zone", "n_obs"] == 469 and f.loc["climate_zone", "method"] == "categories"
    assert json.loads((geo / "run.json").read_text())["tables"]["factor"] == 6
    a = pd.read_csv(ml / "ranking_agreement.csv")
    assert len(a) == 6 and a["agree"].dtype == bool
    assert is_grid_study(d)
    md = build_summary(tmp_path, ["inner_mongolia_grid"], validation=tmp_path / "none.csv")
    assert "## Study `inner_mongolia_grid`" in md and "share_of_mean_abs_shap" in md
    assert "50 km: 469 cells" in md and "Not applicable (they need years)" in md
    q_prec = pd.read_csv(d / "scale" / "scale.csv").query("x == 'precipitation_grid'")["value"].iloc[0]
    assert f"{q_prec:.2f}" in md


def test_class_codes_outside_categories_and_panel_of_grid_study_refused():
    from dlddrivers.panel import build_panel

    cells = _synthetic_cells(n=50)
    cells.loc[3, "zone"] = 4.0  # only 3 labels declared
    with pytest.raises(ConfigError, match="class codes 1..3 in column 'zone'"):
        gd.grid_detectors(cells, "ndvi", ["zone"], {"zone": ["a", "b", "c"]}, {"n_boot": 0})
    with pytest.raises(ConfigError, match="no unit-year panel"):
        build_panel({"name": "g", "level": "grid"}, None, {}, None, ".")
