"""Ground-truth validation (issue 6): the simulator's truths are exact, and the methods do what
the validation says they can (and fail where it says they fail). Small, seeded, fast."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dlddrivers import synthetic as S
from dlddrivers import validation as V
from dlddrivers.methods import paneltools as P
from dlddrivers.methods import relative_importance as RI

FAST = {"relative_importance": {"bootstrap_draws": 100}, "panel_regression": {"bootstrap_draws": 49},
        "causal": {"refuter_simulations": 2, "sensitivity_strengths": [0.5]}}


def _runs(sc: S.Scenario, seeds, methods, graph=None) -> pd.DataFrame:
    return pd.concat([V.run_scenario(sc, s, FAST, methods=methods, graph=graph) for s in seeds],
                     ignore_index=True)


# --------------------------------------------------------------------------- simulator truths
@pytest.mark.parametrize("conf", [False, True])
def test_exact_truth_matches_a_very_large_sample(conf):
    sc = S.Scenario(name="big", anthropogenic_share=0.3, confounding=conf, n_units=3000, n_years=15)
    truth = S.calibrate(sc)
    assert truth.share_variance == pytest.approx(0.3, abs=1e-8)
    assert truth.share_trend == pytest.approx(0.3, abs=1e-8)
    df, _ = S.simulate(sc, 3, truth)
    cols = ["veg", *S.DRIVERS]
    W = P.within(df[cols].to_numpy(float), P.codes(df["unit"]), P.codes(df["year"]))
    phi, r2 = RI.lmg(W[:, 1:], W[:, 0])
    assert phi[2:].sum() / phi.sum() == pytest.approx(truth.share_variance, abs=0.02)
    assert r2 == pytest.approx(S.NOISE_R2["low"], abs=0.02)
    emp = np.cov(W[:, 1:].T, bias=True)
    assert np.allclose(emp, truth.within_cov, atol=0.06)
    if not conf:  # independent groups: Shapley truth = share of signal variance
        assert truth.share_signal_variance == pytest.approx(truth.share_variance, abs=1e-8)
    else:
        assert abs(truth.share_signal_variance - truth.share_variance) > 0.02


def test_shapley_truth_agrees_with_lmg_code_on_a_population_covariance():
    truth = S.calibrate(S.Scenario(confounding=True, anthropogenic_share=0.6))
    b = np.array(list(truth.b.values()))
    cov = truth.within_cov
    var_y = b @ cov @ b / truth.r2
    full = np.block([[np.array([[var_y]]), (cov @ b)[None, :]], [(cov @ b)[:, None], cov]])
    d = np.sqrt(np.diag(full))
    R2 = RI.subset_r2(full / np.outer(d, d))
    lmg = RI.shapley_from_r2(R2, 4)[0]
    mine = S.shapley_values(cov, b) / var_y
    assert np.allclose(lmg, mine, atol=1e-10)


def test_trend_truth_is_the_expected_change():
    sc = S.Scenario(name="tr", anthropogenic_share=0.8, n_units=4000, n_years=20)
    df, truth = S.simulate(sc, 1)
    first, last = df[df.year == df.year.min()], df[df.year == df.year.max()]
    d = {k: last[k].mean() - first[k].mean() for k in S.DRIVERS}
    anth = truth.b["herd"] * d["herd"] + truth.b["mining"] * d["mining"]
    # the common climate shocks make the sample change noisy; the anthropogenic one is not
    assert anth == pytest.approx(truth.change_anthropogenic, abs=0.1 * abs(truth.change_anthropogenic))


@pytest.mark.parametrize("sc", [
    S.Scenario(name="plain", n_units=6, n_years=15),
    S.Scenario(name="conf_hidden", confounding=True, hidden=1.0, n_units=21, n_years=30),
    S.Scenario(name="trend_null", year_trend=0.05, null_anthropogenic=True, n_units=5, n_years=29),
    S.Scenario(name="collinear", collinearity=3.0, noise="high", n_units=7, n_years=20),
])
def test_simulator_across_seeds_equals_one_seed_at_a_time(sc):
    """The vectorised simulator gives, for every seed, exactly the panel of the one-seed
    simulator (same draws, same arithmetic), and the seeds are not copies of each other."""
    seeds = [20261125, 7, 20261126]
    panels, truth = S.simulate_seeds(sc, seeds)
    assert len(panels) == 3 and truth.b == S.calibrate(sc).b
    for seed, p in zip(seeds, panels, strict=True):
        one, _ = S.simulate(sc, seed, truth)
        pd.testing.assert_frame_equal(p, one, check_exact=True)
        assert p.shape == (sc.n_units * sc.n_years, 7)
    assert not np.allclose(panels[0]["veg"], panels[2]["veg"])
    # a different seed order gives the same panel per seed
    again, _ = S.simulate_seeds(sc, seeds[::-1], truth)
    pd.testing.assert_frame_equal(again[0], panels[2], check_exact=True)
    assert S.simulate_seeds(sc, [], truth)[0] == []


def test_semi_synthetic_outcome_on_given_drivers():
    drivers, _ = S.simulate(S.Scenario(name="drv", n_units=40, n_years=20, confounding=True), 5)
    b = {"precip": 0.5, "temp": -0.3, "herd": -0.4, "mining": -0.2}
    df, truth = S.outcome_from_drivers(drivers, ["precip", "temp"], ["herd", "mining"], b=b,
                                       r2=0.9, seed=1)
    W = P.within(df[["veg", *S.DRIVERS]].to_numpy(float), P.codes(df["unit"]), P.codes(df["year"]))
    phi, _ = RI.lmg(W[:, 1:], W[:, 0])
    assert phi[2:].sum() / phi.sum() == pytest.approx(truth["share_variance"], abs=0.03)


# --------------------------------------------------------------------------- what methods can do
def test_lmg_and_fixed_effects_recover_the_share_without_confounding_21_units():
    sc = S.Scenario(name="ok21", anthropogenic_share=0.5, confounding=False, n_units=21, n_years=30)
    r = _runs(sc, range(6), ["lmg", "fixed_effects"])
    for q in ("anthropogenic_share_variance", "anthropogenic_share_signal_variance"):
        g = r[r["quantity"] == q]
        assert len(g) == 6
        assert g["abs_error"].max() < 0.10, (q, g["abs_error"].tolist())
        assert g["covers"].astype(bool).mean() >= 0.8, (q, g["covers"].tolist())


def test_six_units_error_and_interval_grow():
    res = {}
    for nu in (6, 21):
        sc = S.Scenario(name=f"u{nu}", anthropogenic_share=0.5, n_units=nu, n_years=15, noise="high")
        r = _runs(sc, range(8), ["lmg"])
        res[nu] = (np.sqrt((r["bias"] ** 2).mean()), (r["ci_high"] - r["ci_low"]).mean())
    assert res[6][0] > 1.3 * res[21][0], res
    assert res[6][1] > 1.5 * res[21][1], res


def test_causal_effect_right_graph_vs_graph_missing_the_confounder():
    sc = S.Scenario(name="causal", anthropogenic_share=0.5, confounding=True, n_units=21, n_years=30)
    right = _runs(sc, [0, 1], ["dowhy"])
    wrong = _runs(sc, [0, 1], ["dowhy"], graph=S.graph(confounding_edge=False))
    h_r = right[right["quantity"] == "effect_herd"]
    h_w = wrong[wrong["quantity"] == "effect_herd"]
    assert h_r["abs_error"].max() < 0.1
    assert h_r["covers"].astype(bool).all()
    # the wrong graph leaves climate confounding open: biased, interval misses the truth
    assert h_w["abs_error"].min() > 2 * h_r["abs_error"].max()
    assert not h_w["covers"].astype(bool).any()
    assert h_w["status"].str.contains(r"adjustment \{mining\}").all()


def test_omitted_confounder_breaks_every_herd_estimate():
    sc = S.Scenario(name="hidden", anthropogenic_share=0.5, confounding=True, n_units=21,
                    n_years=30, hidden=1.0)
    r = _runs(sc, [0, 1], ["lmg", "fixed_effects", "dowhy"]).set_index(["quantity", "seed"])
    for q in ("coef_herd", "effect_herd"):
        assert (r.loc[q, "abs_error"] > 0.2).all()
        assert not r.loc[q, "covers"].astype(bool).any()
    # the LMG share of explained variance is not a causal quantity: here it can look right
    # (seed 0) or be far off (seed 1) while every herd coefficient is wrong
    assert r.loc["anthropogenic_share_variance", "abs_error"].max() > 0.1


def test_strong_collinearity_widens_the_fixed_effects_intervals():
    width = {}
    for k in (0.3, 3.0):
        sc = S.Scenario(name=f"col{k}", n_units=21, n_years=15, collinearity=k)
        r = _runs(sc, [0, 1], ["fixed_effects"])
        m = r[r["quantity"] == "coef_mining"]
        width[k] = (m["ci_high"] - m["ci_low"]).mean()
    assert width[3.0] > 2 * width[0.3], width


def test_every_method_runs_and_reports(tmp_path):
    sc = S.Scenario(name="all", n_units=6, n_years=15, confounding=True)
    r = V.run_scenario(sc, 0, {**FAST, "attribution": {"bootstrap_draws": 9},
                               "restrend": {"bootstrap_draws": 19}})
    assert list(r.columns) == V.RECOVERY_COLUMNS
    assert set(r["method"]) == {"lmg", "fixed_effects", "restrend", "trend_decomposition",
                                "counterfactual", "trend_test", "dowhy"}
    assert not r["status"].astype(str).str.startswith("error").any()
    assert np.allclose(r["bias"], r["estimate"] - r["true_value"], equal_nan=True)
    s = V.summarise(r)
    assert set(s["n_seeds"]) == {1}


# --------------------------------------------------------------------------- summaries
def test_expected_error_takes_the_nearest_grid_shape():
    rows = []
    for nu, ny, err in ((6, 15, 0.3), (6, 30, 0.2), (21, 15, 0.1), (21, 30, 0.05), (100, 30, 0.01)):
        rows.append({"scenario": f"u{nu}y{ny}", "method": "lmg", "quantity": "q", "n_units": nu,
                     "n_years": ny, "anthropogenic_share": 0.5, "confounding": True, "noise": "low",
                     "hidden": 0.0, "collinearity": 0.3, "mean_bias": err, "rmse": err,
                     "mean_abs_error": err, "coverage": 0.9, "mean_ci_width": 0.1, "n_seeds": 2,
                     "n_ok": 2})
    from dlddrivers.config import load_config

    shapes = V.study_shapes(load_config("config/config.yaml"))
    # the shapes come from the config: units listed and years spanned per panel study
    assert shapes == {"neasia": (6, 29), "mongolia_aimag": (21, 14), "mongolia_dzud": (21, 33)}
    ee = V.expected_error(pd.DataFrame(rows), shapes).set_index("study")
    assert (ee.loc["neasia", ["grid_n_units", "grid_n_years"]].tolist()) == [6, 30]
    assert (ee.loc["mongolia_aimag", ["grid_n_units", "grid_n_years"]].tolist()) == [21, 15]
    assert (ee.loc["mongolia_dzud", ["grid_n_units", "grid_n_years"]].tolist()) == [21, 30]
    assert ee.loc["mongolia_aimag", "expected_abs_error"] == pytest.approx(0.1)


def test_default_grid_config():
    cfg = V.load_config("config/validation.yaml")
    names = [s.name for s in V.scenario_grid(cfg)]
    assert len(names) == len(set(names)) == 58
    # issue 13: placebo and trending-year-effect scenarios with 5 seeds each
    for n in ("placebo_null_u21_y30", "placebo_null_u6_y29", "trend_year_effects_u21_y30",
              "trend_year_effects_u6_y29"):
        assert n in names
    jobs = V.run_jobs(cfg)
    # issue 16: at least 5 seeds for every scenario
    assert len(jobs) == 58 * 5 and len(set(jobs)) == len(jobs)
    per = pd.Series([n for n, _ in jobs]).value_counts()
    assert per.min() >= 5 and set(per.index) == set(names)
    assert sum(1 for n, _ in jobs if n == "placebo_null_u21_y30") == 5
    # an extra scenario may still ask for its own number of seeds
    own = {**cfg, "extra": [{**cfg["extra"][0], "seeds": 2}]}
    assert sum(1 for n, _ in V.run_jobs(own) if n == cfg["extra"][0]["name"]) == 2
    assert V.scenario_by_name(cfg, "trend_year_effects_u21_y30").year_trend == 0.05
    full = V.load_config("config/validation.yaml", "full")
    assert len(V.scenario_grid(full)) == 78 and len(V.seeds_of(full)) == 20
    with pytest.raises(KeyError):
        V.scenario_by_name(cfg, "nope")


def test_batches_hold_every_run_once_with_balanced_cost():
    cfg = V.load_config("config/validation.yaml")
    batches = V.batches_of(cfg)
    runs = V.run_jobs(cfg)
    flat = [r for b in batches for r in b]
    assert sorted(flat) == sorted(runs) and len(flat) == len(set(flat))
    assert len(batches) == cfg["batches"]
    # all seeds of a scenario in one batch (calibrated and simulated once there)
    home = {}
    for i, b in enumerate(batches):
        for n, _ in b:
            assert home.setdefault(n, i) == i, n
    n_seeds = pd.Series([n for n, _ in runs]).value_counts()
    assert V.run_cost(S.Scenario(n_units=6, n_years=15)) == 90 + V.RUN_OVERHEAD_UNIT_YEARS
    cost = {sc.name: V.run_cost(sc) * n_seeds[sc.name] for sc in V.scenario_grid(cfg)}
    loads = [sum(cost[n] for n in {n for n, _ in b}) for b in batches]
    # longest-processing-time rule: no batch exceeds another by more than the largest scenario
    assert max(loads) - min(loads) <= max(cost.values())
    assert V.batches_of(cfg) == batches  # deterministic
    many = V.batches_of({**cfg, "seeds": 7, "batches": 3})
    assert sum(len(b) for b in many) == len(V.run_jobs({**cfg, "seeds": 7})) and len(many) == 3


def test_a_batch_job_writes_what_single_runs_write(tmp_path):
    """Batching changes how many processes run, not one byte of the run tables: the batch CSV
    is the single runs' CSVs one after the other (one header)."""
    cfg = {**V.load_config("config/validation.yaml", "smoke"), "seeds": 2, "batches": 1,
           "methods": {**FAST, "attribution": {"bootstrap_draws": 9},
                       "causal": {"refuter_simulations": 3, "sensitivity_strengths": [0.5]}}}
    (batch,) = V.batches_of(cfg)
    out = tmp_path / "batch.csv"
    df = V.run_batch_job(V.batch_slice(cfg, batch), str(out))
    header, expected = None, []
    for name, seed in batch:
        single = tmp_path / "single" / f"{name}_{seed}.csv"
        V.run_slice_job(V.scenario_slice(cfg, name), seed, str(single))
        head, *rows = single.read_bytes().splitlines(keepends=True)
        assert header in (None, head)
        header = head
        expected += rows
        assert len(rows) == int(((df["scenario"] == name) & (df["seed"] == seed)).sum())
    assert out.read_bytes() == header + b"".join(expected)
    with pytest.raises(ValueError, match="no runs"):
        V.run_batch_job({"runs": [], "methods": {}})


def test_batch_tables_do_not_depend_on_the_number_of_batches(tmp_path):
    """The same runs split into 1 or 3 batches give the same rows for every run, and the
    summary of either set of batch files is byte-identical (each run is seeded by its scenario
    and seed alone)."""
    cfg = {**V.load_config("config/validation.yaml", "smoke"), "seeds": 2,
           "methods": {**FAST, "attribution": {"bootstrap_draws": 9}, "restrend": {"bootstrap_draws": 19},
                       "causal": {"refuter_simulations": 2, "sensitivity_strengths": [0.5]}}}
    written, files = {}, {}
    for nb in (1, 3):
        batches = V.batches_of({**cfg, "batches": nb})
        assert len(batches) == min(nb, len(V.scenario_grid(cfg)))
        for i, b in enumerate(batches):
            out = tmp_path / f"b{nb}" / f"batch_{i}.csv"
            V.run_batch_job(V.batch_slice(cfg, b), str(out))
            files.setdefault(nb, []).append(str(out))
            df = pd.read_csv(out)
            for (n, s), rows in df.groupby(["scenario", "seed"], sort=False):
                written.setdefault((n, s), []).append(rows.to_csv(index=False))
    assert sorted(written) == sorted(V.run_jobs(cfg)) and len(written) == 4
    for key, (one, three) in written.items():
        assert one == three, key
    shapes = {"s": (6, 15)}
    for nb in (1, 3):
        V.summary_job(files[nb], str(tmp_path / f"sum{nb}"), shapes, runs=V.run_jobs(cfg))
    for name in ("recovery.csv", "summary.csv", "by_units.csv", "expected_error.csv"):
        assert (tmp_path / "sum1" / name).read_bytes() == (tmp_path / "sum3" / name).read_bytes()
    # a batch table that lacks a run of the config is an error naming the run
    with pytest.raises(ValueError, match=r"lack 1 run\(s\) of the config, first \('"):
        V.summary_job(files[3], str(tmp_path / "bad"), shapes,
                      runs=[*V.run_jobs(cfg), ("a_missing_scenario", 1)])
    with pytest.raises(ValueError, match="not in it"):
        V.summary_job(files[3], str(tmp_path / "bad"), shapes, runs=V.run_jobs(cfg)[1:])
    with pytest.raises(ValueError, match="is in two run tables"):  # a batch file given twice
        V.summary_job([*files[3], files[3][0]], str(tmp_path / "bad"), shapes, runs=V.run_jobs(cfg))


def test_run_scenario_seeds_equals_one_run_per_seed():
    sc = S.Scenario(name="seeds", n_units=6, n_years=15, confounding=True)
    opts = {**FAST, "attribution": {"bootstrap_draws": 9}}
    together = V.run_scenario_seeds(sc, [3, 1], opts, methods=("lmg", "attribution"))
    for seed, df in zip([3, 1], together, strict=True):
        alone = V.run_scenario(sc, seed, opts, methods=("lmg", "attribution"))
        pd.testing.assert_frame_equal(df, alone)
        assert (df["seed"] == seed).all()


# --------------------------------------------------------------------------- power
def test_vectorised_mann_kendall_matches_pymannkendall():
    import pymannkendall as pmk

    rng = np.random.default_rng(0)
    Y = rng.standard_normal((20, 14)) - 0.1 * np.arange(14)
    z = V._mk_z(Y)
    assert np.allclose(z, [pmk.original_test(y).z for y in Y])


def test_restrend_detection_matches_the_restrend_module():
    from dlddrivers.methods.restrend import DEFAULTS, restrend_unit

    rng = np.random.default_rng(4)
    n = 20
    agree = 0
    for _ in range(15):
        c = rng.standard_normal(n)
        y = c + V.degradation(n, 2.0, "gradual") + rng.standard_normal(n)
        g = pd.DataFrame({"unit": "A", "year": np.arange(2000, 2000 + n), "y": y, "c": c})
        row, _ = restrend_unit(g, "y", ["c"], dict(DEFAULTS))
        module = str(row["status"]).startswith("ok") and row["mk_p"] < 0.05 and row["residual_slope"] < 0
        cc, yc = c - c.mean(), y - y.mean()
        from scipy import stats

        b = cc @ yc / (cc @ cc)
        e = yc - b * cc
        f = (yc @ yc - e @ e) / (e @ e / (n - 2))
        mine = stats.f.sf(f, 1, n - 2) <= 0.10 and V._mk_z(e[None, :])[0] < -1.959964
        agree += int(module == mine)
    assert agree == 15


def test_detectable_effect_shrinks_with_length_and_is_calibrated():
    d = {n: V.detectable_effect(n, 1.0, "gradual", n_sim=1000) for n in (14, 29, 33)}
    assert d[14] > d[29] > d[33] > 0
    assert V.detectable_effect(14, 2.0, "gradual", n_sim=1000) == pytest.approx(2 * d[14])
    # power at the detectable effect, on fresh random numbers, is about 80 %
    p = V.detection_rate(14, d[14], "gradual", n_sim=4000, seed=99)
    assert p == pytest.approx(0.8, abs=0.04)
    # RESTREND on 14 years never reaches 80 %: a large degradation makes the VPR fail
    assert V.detectable_effect(14, 1.0, "gradual", method="restrend", n_sim=1000) == np.inf
    assert max(V.detection_rate(14, e, "gradual", method="restrend", n_sim=1000)
               for e in (1, 2, 3, 4, 6, 10)) < 0.75
    assert np.isfinite(V.detectable_effect(29, 1.0, "gradual", method="restrend", n_sim=1000))
    assert V.detection_rate(14, 0.0, "abrupt", n_sim=4000) < 0.05


def test_plots_write_files(tmp_path):
    from dlddrivers.plots.validation import plot_power, plot_recovery

    by = pd.DataFrame({"method": ["lmg"] * 2, "quantity": ["q"] * 2, "n_units": [6, 21],
                       "mean_bias": [0.1, 0.0], "mean_abs_error": [0.1, 0.05],
                       "coverage": [0.7, 0.95], "n_runs": [3, 3], "rmse": [0.1, 0.05]})
    pw = V.power_table(n_years=(14,), effects=(1.0, 3.0), kinds=("gradual",),
                       methods=("mann_kendall",), n_sim=200)
    assert plot_recovery(by, tmp_path / "r.png")[0].exists()
    assert plot_power(pw, tmp_path / "p.png")[0].exists()


def test_wilson_interval_by_hand():
    # k = 8 of n = 10 at 95 %: Wilson (0.4902, 0.9433) (Agresti and Coull 1998 formula)
    lo, hi = V.wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    assert V.wilson_interval(0, 5)[0] == 0.0 and np.isnan(V.wilson_interval(0, 0)[0])


def test_placebo_and_trending_year_effect_scenarios():
    """Placebo world: true anthropogenic share 0 (no confounding), the LMG interval reaches it
    and the calibration does not call it a finding; trending year effects: the decomposition
    recovers the anthropogenic change (the unit-effects-only model misses it)."""
    cfg = V.load_config("config/validation.yaml")
    sc = V.scenario_by_name(cfg, "placebo_null_u21_y30")
    truth = S.calibrate(sc)
    assert truth.share_variance == 0.0 and truth.change_anthropogenic == 0.0
    rec = V.run_scenario(sc, 20261125, {**cfg["methods"]}, methods=("lmg",)).set_index("quantity")
    assert rec.loc["anthropogenic_share_variance", "covers"]
    assert rec.loc["anthropogenic_share_exceeds_placebo", "estimate"] == 0.0
    sc2 = V.scenario_by_name(cfg, "trend_year_effects_u21_y30")
    new = V.run_scenario(sc2, 20261125, cfg["methods"], methods=("attribution",)).set_index("quantity")
    old = V.run_scenario(sc2, 20261125, {**cfg["methods"], "attribution": {
        **cfg["methods"]["attribution"], "year_effects": False}}, methods=("attribution",)).set_index("quantity")
    assert new.loc["anthropogenic_change", "covers"]
    assert not old.loc["anthropogenic_change", "covers"]
    assert new.loc["anthropogenic_change", "abs_error"] < 0.5 * old.loc["anthropogenic_change", "abs_error"]


def test_trend_test_rows_equal_those_from_the_trends_stage():
    """run_trend_test builds only the trends table (no detectable-slope Monte Carlo, no other
    tables): its row equals the one made from the stage's full compute() (as before)."""
    from dlddrivers.methods import trends as TR

    for sc in (S.Scenario("tt6", 0.5, True, "low", 6, 15), S.Scenario("tt21", 0.8, False, "high", 21, 30)):
        panel, truth = S.simulate(sc, 4)
        opts = V.method_options()["trends"]
        study = S.study(sc, 4)
        got = V.run_trend_test(panel, S.dictionary(), study, truth, opts)
        t = TR.compute(panel, S.dictionary(), {**study, "drivers": [], "impacts": []}, opts)["trends"]
        t = t[(t["indicator"] == S.OUTCOME) & (t["status"] == "ok")]
        m, lo, hi = V._mean_ci(t["slope"].to_numpy(float))
        uc = float(((t["ci_low"] <= truth.outcome_slope) & (truth.outcome_slope <= t["ci_high"])).mean())
        det = float((t["significant"].astype(bool) & (np.sign(t["slope"]) == np.sign(truth.outcome_slope))).mean())
        ref = V._row("trend_test", "outcome_slope", truth.outcome_slope, m, lo, hi,
                     f"ok; detection_rate={det:.3f} (units with a significant MK trend of the true sign)", uc)
        assert got == [ref]


@pytest.mark.parametrize("which", ["restrend", "attribution"])
def test_restrend_and_attribution_rows_equal_those_from_the_full_stage(which, monkeypatch):
    """run_restrend leaves out the Chow break scan and run_attribution the stage's LMG rows
    (neither is scored): their rows equal those made from the stage's full compute(), for
    scenarios with and without confounding, a trending year effect and a placebo world."""
    from dlddrivers.methods import attribution as AT
    from dlddrivers.methods import restrend as RT

    mod, keyword, run = ((RT, "break_scan", V.run_restrend) if which == "restrend"
                         else (AT, "lmg", V.run_attribution))
    full_compute = mod.compute
    calls: list = []

    def full(*args, **kwargs):  # the stage's own compute, whatever the harness asks to leave out
        calls.append(kwargs.pop(keyword))
        return full_compute(*args, **kwargs)

    opts = V.method_options()[which]
    for sc in (S.Scenario("rt6", 0.5, True, "low", 6, 15),
               S.Scenario("rt21", 0.8, False, "high", 21, 30),
               S.Scenario("rt21y", 0.5, True, "low", 21, 30, year_trend=0.05),
               S.Scenario("rt6p", 0.5, False, "low", 6, 29, null_anthropogenic=True)):
        panel, truth = S.simulate(sc, 3)
        study = S.study(sc, 3)
        got = run(panel, S.dictionary(), study, truth, opts)
        monkeypatch.setattr(mod, "compute", full)
        ref = run(panel, S.dictionary(), study, truth, opts)
        monkeypatch.setattr(mod, "compute", full_compute)
        pd.testing.assert_frame_equal(pd.DataFrame(got), pd.DataFrame(ref), obj=sc.name)
    assert calls == [False] * 4  # the harness asked to leave the part out


def test_left_out_parts_change_nothing_else():
    """The stage tables without the Chow scan / without the LMG rows equal the full tables
    less exactly those columns and rows."""
    from dlddrivers.methods import attribution as AT
    from dlddrivers.methods import restrend as RT

    sc = S.Scenario("lo21", 0.5, True, "low", 21, 30)
    panel, _ = S.simulate(sc, 5)
    study, dic = S.study(sc, 5), S.dictionary()
    opts = V.method_options()
    a, b = (RT.compute(panel, dic, study, opts["restrend"], break_scan=s) for s in (True, False))
    for name in ("residuals", "residual_drivers"):
        pd.testing.assert_frame_equal(a[name], b[name])
    chow = ["break_year", "chow_f", "chow_p", "chow_p_bonferroni", "n_break_candidates",
            "break_detected", "status"]
    pd.testing.assert_frame_equal(a["restrend"].drop(columns=chow), b["restrend"].drop(columns=chow))
    assert a["restrend"]["chow_f"].notna().any() and b["restrend"]["chow_f"].isna().all()
    ok = b["restrend"]["status"].str.startswith("ok")
    assert ok.any() and (b["restrend"].loc[ok, "status"] == "ok; Chow test not run (break scan left out)").all()
    assert (a["restrend"]["status"].str.startswith("ok") == ok).all()

    a, b = (AT.compute(panel, dic, study, {**opts["attribution"], "unit_rows": True}, lmg=s)["attribution"]
            for s in (True, False))
    assert (a["method"] == "lmg").any() and not (b["method"] == "lmg").any()
    lmg_cols = ["larger_group_lmg", "ranking_agreement"]
    pd.testing.assert_frame_equal(a[a["method"] != "lmg"].drop(columns=lmg_cols).reset_index(drop=True),
                                  b.drop(columns=lmg_cols).reset_index(drop=True))
