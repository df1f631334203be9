"""Results for people: the generated summary, maps, and the Snakemake report.

Unit tests build small hand-made tables and check that the right numbers appear with their
estimand and interval, and that missing stages are reported as missing. The end-to-end test runs
the workflow on the raw snapshot into a temporary folder, builds the report and the summary,
opens both in headless Chromium, checks the screenshots are not blank and that every image of
summary.html resolves to a file. Chromium may be absent on a developer machine (the test is
then skipped), but never in CI (``CI`` set): there the test fails instead.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dlddrivers import summary as S

# ------------------------------------------------------------------------------------------
# hand-made tables


def _dictionary() -> pd.DataFrame:
    return pd.DataFrame({
        "indicator": ["y", "rain", "graze", "rents"],
        "role": ["outcome", "driver", "driver", "carried"],
        "domain": ["outcome", "climate", "grazing", "mining"],
        "label": ["Bare land", "Rainfall", "Grazing pressure", "Mineral rents"],
        "measure": ["% of land area", "mm/yr", "sheep units per km2", "% of GDP"],
        "source": ["s"] * 4, "provider": ["P"] * 4, "provider_code": [""] * 4,
        "provider_url": [""] * 4, "licence": [""] * 4, "aggregation": [""] * 4,
        "formula": [""] * 4,
        "note": ["CCI-LC map class; step changes at map-version years", "", "", "no series for DPR Korea"],
    })


def _coverage() -> pd.DataFrame:
    rows = []
    for unit, name in (("A", "Alpha"), ("PRK", "DPR Korea")):
        for ind, role in (("y", "outcome"), ("rain", "driver"), ("graze", "driver"), ("rents", "carried")):
            for year in range(2000, 2010):
                status = "observed"
                if ind == "rents" and unit == "PRK":
                    status = "missing"
                if ind == "graze" and year >= 2008:
                    status = "missing"
                rows.append((unit, name, ind, role, year, status, ""))
    return pd.DataFrame(rows, columns=["unit", "unit_name", "indicator", "role", "year", "status", "note"])


def _attribution() -> pd.DataFrame:
    base = {"outcome": "y", "ci_level": 0.95, "n_units": 2, "n_years": 10, "n_obs": 20, "n_dropped": 0,
            "status": "ok", "larger_group_lmg": "anthropogenic", "larger_group_trend": "anthropogenic",
            "larger_group_counterfactual": "anthropogenic", "ranking_agreement": "agree",
            "sign_agreement": "agree", "note": ""}
    rows = [
        ("pooled", "lmg", "anthropogenic_share", 0.6125, 0.4217, 0.8391, "fraction of R2", "share_of_explained_variance"),
        ("pooled", "lmg", "biophysical_share", 0.3875, 0.1609, 0.5783, "fraction of R2", "share_of_explained_variance"),
        ("pooled", "trend_decomposition", "observed_change", -1.234, -2.5, -0.11, "% of land area", "share_of_trend"),
        ("pooled", "trend_decomposition", "anthropogenic", -0.777, -1.5, -0.05, "% of land area", "share_of_trend"),
        ("pooled", "trend_decomposition", "anthropogenic_share_of_observed", 0.6297, 0.2, 1.1, "fraction", "share_of_trend"),
        ("pooled", "counterfactual", "climate_share_of_predicted_change", 0.2468, -0.1, 0.5, "fraction", "share_of_trend"),
        ("A", "lmg", "anthropogenic_share", 0.7, 0.5, 0.9, "fraction of R2", "share_of_explained_variance"),
        ("PRK", "lmg", "anthropogenic_share", 0.4, 0.2, 0.6, "fraction of R2", "share_of_explained_variance"),
    ]
    df = pd.DataFrame([{**base, "unit": u, "method": m, "quantity": q, "value": v, "ci_low": lo,
                        "ci_high": hi, "value_unit": vu, "estimand": e}
                       for u, m, q, v, lo, hi, vu, e in rows])
    prk = df["unit"] == "PRK"
    df.loc[prk, "ranking_agreement"] = "disagree"
    df.loc[prk, "larger_group_trend"] = "biophysical"
    return df


def _shares() -> pd.DataFrame:
    base = {"outcome": "y", "ci_level": 0.95, "total_r2": 0.55, "estimand": "share_of_explained_variance",
            "status": "ok; caution: unit block bootstrap over only 2 units"}
    return pd.DataFrame([
        {**base, "predictor": "graze", "level": "predictor", "domain": "grazing", "share": 0.6125,
         "share_ci_low": 0.4217, "share_ci_high": 0.8391},
        {**base, "predictor": "rain", "level": "predictor", "domain": "climate", "share": 0.3875,
         "share_ci_low": 0.1609, "share_ci_high": 0.5783},
        {**base, "predictor": "anthropogenic", "level": "group", "domain": "anthropogenic", "share": 0.6125,
         "share_ci_low": 0.4217, "share_ci_high": 0.8391},
    ])


def test_formatting():
    assert S.fmt_num(0.0000123456) == "1.23e-05"
    assert S.fmt_num(0.000123456) == "0.000123"
    assert S.fmt_num(0.732255) == "0.732"
    assert S.fmt_num(12345.6) == "12,346"
    assert S.fmt_num(float("nan")) == "n/a"
    assert S.fmt_num(float("inf")) == "not defined"
    assert S.fmt_pct(0.6125) == "61.2 %" or S.fmt_pct(0.6125) == "61.3 %"
    assert S.fmt_estimate(0.5, 0.25, 0.75, 0.9) == "0.500 (90 % interval 0.250 to 0.750)"
    assert S.fmt_estimate(0.5, np.nan, 0.75) == "0.500 (no interval)"
    assert S.fmt_p(0.0, 999) == "p < 0.0010"


def test_coverage_section_counts_and_gaps():
    md = S.coverage_section(_coverage(), _dictionary())
    assert "**Units:** 2 (Alpha, DPR Korea)" in md
    assert "2000-2009 (10 years)" in md
    # drivers: 2 indicators x 2 units x 10 years = 40 cells, 4 missing -> 90.0 % observed
    assert re.search(r"driver \(2\) \| 40 \| 90\.0 % \| 0\.0 % \| 10\.0 %", md)
    assert "DPR Korea: no observed value at all for Mineral rents (`rents`)" in md
    assert "Grazing pressure (`graze`) (driver): observed only 2000-2007 (study years 2000-2009)" in md


def test_attribution_section_names_estimand_and_interval():
    md = S.attribution_section(_attribution(), _dictionary())
    assert re.search(r"\| lmg \| `share_of_explained_variance` \| anthropogenic share of explained variance "
                     r"\| 61\.[23] % \(95 % interval 42\.2 % to 83\.9 %\) \| % \|", md)
    assert "| trend_decomposition | `share_of_trend` | observed change (Theil-Sen) | -1.23 (95 % interval -2.50 to -0.110) | % of land area |" in md
    assert "anthropogenic share of observed change | 63.0 % (95 % interval 20.0 % to 110.0 %)" in md
    assert "climate share of predicted change | 24.7 % (95 % interval -10.0 % to 50.0 %)" in md
    assert "(here 1 anthropogenic and 1 biophysical)" in md  # driver counts from the dictionary
    # no bare "X % human": every share row carries its estimand
    for line in md.splitlines():
        if "share" in line and line.startswith("| ") and "---" not in line and "estimand" not in line:
            assert "`share_of" in line, line


def test_attribution_falls_back_to_lmg_groups_when_missing():
    md = S.attribution_section(None, _dictionary(), _shares())
    assert md.startswith("Attribution stage missing")
    assert "anthropogenic" in md and "`share_of_explained_variance`" in md
    assert "95 % interval 42.2 % to 83.9 %" in md
    assert S.attribution_section(None, _dictionary(), None).startswith("Attribution stage missing")


def test_agreement_and_drivers():
    md = S.agreement_section(_attribution(), None, _coverage(), _dictionary())
    assert "same larger group in 1 of 2 units (anthropogenic in 1)" in md
    assert "DPR Korea: LMG anthropogenic, trend biophysical, counterfactual anthropogenic" in md
    assert "RESTREND: stage missing" in md
    dr = S.drivers_section(_shares(), None, _dictionary())
    assert "Grazing pressure (`graze`) [grazing] 61." in dr and "95 % interval 42.2 % to 83.9 %" in dr
    assert "estimand `share_of_explained_variance`" in dr
    assert "Caution: unit block bootstrap over only 2 units" in dr
    assert "Panel regression: stage missing." in dr


def test_causal_section_survivors_and_missing():
    assert S.causal_section(None, _dictionary()).startswith("Causal stage missing")
    eff = pd.DataFrame([
        {"outcome": "y", "treatment": "graze", "effect": 0.25, "ci_low": 0.125, "ci_high": 0.375,
         "ci_level": 0.95, "effect_per_sd": 0.5, "ci_low_per_sd": 0.25, "ci_high_per_sd": 0.75,
         "refuters_passed": "5/5", "robust": True, "status": "ok", "estimator": "backdoor.linear_regression"},
        {"outcome": "y", "treatment": "rain", "effect": 0.3, "ci_low": 0.1, "ci_high": 0.5,
         "ci_level": 0.95, "effect_per_sd": 0.4, "ci_low_per_sd": 0.1, "ci_high_per_sd": 0.7,
         "refuters_passed": "4/5", "robust": False, "status": "ok", "estimator": "backdoor.linear_regression"},
    ])
    ref = pd.DataFrame([{"outcome": "y", "treatment": "rain", "refuter": "placebo_treatment", "passed": False}])
    md = S.causal_section(eff, _dictionary(), ref)
    assert "2 effects estimated" in md and "1 pass every refutation, 1 of these" in md
    assert "Grazing pressure (`graze`) -> Bare land (`y`) | 0.250 (95 % interval 0.125 to 0.375) % of land area per sheep units per km2" in md
    assert "| 4/5 | placebo_treatment | no |" in md
    assert "`causal_effect`" in md


def test_validation_section(tmp_path):
    assert S.validation_section(tmp_path / "absent.csv").startswith("Validation not run")
    p = tmp_path / "expected_error.csv"
    pd.DataFrame({"shape": ["linear"], "method": ["lmg"], "bias": [0.0123], "coverage": [0.94]}).to_csv(p, index=False)
    md = S.validation_section(p)
    assert "| linear | lmg | 0.0123 | 0.940 |" in md
    q = tmp_path / "by_study.csv"
    pd.DataFrame({"study": ["a", "b"], "method": ["lmg", "dowhy"], "mean_bias": [0.5, -0.25],
                  "coverage": [0.9, 0.8]}).to_csv(q, index=False)
    md = S.validation_section(q, "b")
    assert "| dowhy | -0.250 | 0.800 |" in md and "lmg" not in md
    assert "no row for study `c`" in S.validation_section(q, "c")
    # condensed to the headline's methods, with a link to the full table
    r = tmp_path / "ee.csv"
    pd.DataFrame({"study": "a", "method": ["lmg", "fixed_effects", "dowhy", "restrend"],
                  "quantity": ["anthropogenic_share_variance", "coef_herd", "effect_herd", "residual_change"],
                  "expected_abs_error": [0.04, 0.1, 0.2, 0.3], "rmse": 0.5, "coverage": [0.9, 0.8, 0.7, 0.6]}
                 ).to_csv(r, index=False)
    md = S.validation_section(r, "a", methods=("lmg", "dowhy"), link="validation/expected_error.csv")
    assert "| lmg | anthropogenic_share_variance | 0.0400 | 0.900 |" in md
    assert "| dowhy | effect_herd | 0.200 | 0.700 |" in md
    assert "fixed_effects" not in md and "restrend" not in md and "rmse" not in md
    assert "(2 of 4 rows" in md and "](validation/expected_error.csv)" in md


def _write_study(root: Path, name: str, stages: dict[str, dict[str, pd.DataFrame]]) -> None:
    d = root / name
    d.mkdir(parents=True)
    _coverage().to_csv(d / "coverage.csv", index=False)
    _dictionary().to_csv(d / "data_dictionary.csv", index=False)
    pd.DataFrame({"source": ["wdi"], "file": ["x"], "reason": ["aggregate excluded"], "rows": [12],
                  "detail": [""]}).to_csv(d / "drops.csv", index=False)
    for st, tabs in stages.items():
        (d / st).mkdir()
        for k, t in tabs.items():
            t.to_csv(d / st / f"{k}.csv", index=False)


def test_summary_reads_the_study_from_the_panel_config_slice(tmp_path):
    """The study definition comes from the panel's provenance (``config_slice.study``): its
    description heads the study and its level's caveat is stated; an indicator's catalogue
    ``caveat`` (carried in the dictionary) is printed once."""
    import json

    _write_study(tmp_path, "toy", {})
    d = tmp_path / "toy"
    (d / "provenance.json").write_text(json.dumps({"study": "toy", "config_slice": {
        "study": {"name": "toy", "level": "country", "description": "Six countries, 1992-2020"}}}))
    dic = _dictionary()
    dic["caveat"] = ["Counts international migration only."] + [""] * (len(dic) - 1)
    dic.to_csv(d / "data_dictionary.csv", index=False)
    md = S.build_summary(tmp_path, ["toy"])
    assert "## Study `toy`: Six countries, 1992-2020" in md
    assert "Country values are means or totals over the whole national territory" in md
    assert md.count("Counts international migration only.") == 1


def test_study_summary_reports_missing_stages_and_html(tmp_path):
    _write_study(tmp_path, "toy", {"attribution": {"attribution": _attribution()},
                                   "relative_importance": {"shares": _shares()}})
    md = S.build_summary(tmp_path, ["toy"])
    assert "| causal | missing (not run or failed) |" in md
    assert "| trends | missing (not run or failed) |" in md
    assert "Causal stage missing" in md
    assert "Validation not run" in md
    assert "no series for DPR Korea" in md and "step changes at map-version years" in md
    assert "aggregate excluded (12 rows)" in md
    # every number names its table: the first page links it in the heading, the details cite
    # the table and the registered function that wrote it after each section
    assert ("### Headline: anthropogenic vs biophysical, calibrated against placebos "
            "([relative_importance/shares.csv](toy/relative_importance/shares.csv))") in md
    assert ("*Source: [attribution/attribution.csv](toy/attribution/attribution.csv) by "
            "`dlddrivers.methods.attribution.compute`; [relative_importance/shares.csv]"
            "(toy/relative_importance/shares.csv) by `dlddrivers.methods.relative_importance.compute`; "
            "computed from [panel.parquet](toy/panel.parquet)") in md
    details = md.split("# Details", 1)[1]
    sections = [s for s in details.split("\n### ")[1:]
                if not s.startswith(("Stages", "Figures", "Expected error"))]
    uncited = [s.splitlines()[0] for s in sections if "*Source: " not in s]
    assert not uncited, f"sections without a source line: {uncited}"
    html = S.markdown_to_html(md)
    assert "<table>" in html and "<h2>" in html
    # a study with no result folder at all
    assert "Panel not built" in S.build_summary(tmp_path, ["nothing"])


# ------------------------------------------------------------------------------------------
# end to end: workflow, report, summary, chromium


def _exe(name: str) -> str:
    return shutil.which(name) or str(Path(sys.executable).parent / name)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def _screenshot(browser: str, url: str, png: Path, profile: Path) -> None:
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", f"--screenshot={png}", "--window-size=1280,2000",
           "--virtual-time-budget=5000", url]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert png.is_file() and png.stat().st_size > 0, r.stderr[-2000:]


def _pixel_variance(png: Path) -> float:
    import matplotlib.image as mpimg

    img = mpimg.imread(png)
    return float(np.asarray(img, dtype=float)[..., :3].var())


class _Imgs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.src: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.src.append(dict(attrs).get("src") or "")


@pytest.fixture(scope="session")
def built_results(default_results, snapshot) -> tuple[Path, float]:
    """The default studies built on the snapshot (shared fixture), plus report.html; returns
    (results, seconds to build the report)."""
    repo = Path(__file__).resolve().parents[1]
    out = default_results
    # the validation (smoke preset: two scenarios) so the report holds its section too; the
    # studies' summary stays as built (validation=False), which the report does not rebuild
    env = {**os.environ, "DLD_VALIDATION_PRESET": "smoke"}
    r = subprocess.run([_exe("snakemake"), "validate", "--cores", "2", "--config", f"snapshot_dir={snapshot}",
                        f"results_dir={out}"], cwd=repo, capture_output=True, text=True, timeout=1800, env=env)
    assert r.returncode == 0, r.stderr[-4000:]
    args = ["--cores", "2", "--config", f"snapshot_dir={snapshot}", f"results_dir={out}"]
    t0 = time.perf_counter()
    r = subprocess.run([_exe("snakemake"), *args, "--report", str(out / "report.html")], cwd=repo,
                       capture_output=True, text=True, timeout=900, env=env)
    assert r.returncode == 0, r.stderr[-4000:]
    return out, time.perf_counter() - t0


@pytest.mark.slow
def test_report_and_summary_render(built_results, tmp_path):
    out, _seconds = built_results
    report, md, html = out / "report.html", out / "summary.md", out / "summary.html"
    for p in (report, md, html):
        assert p.is_file() and p.stat().st_size > 0, p
    text = md.read_text()
    for study in ("neasia", "mongolia_aimag", "mongolia_dzud"):
        assert f"## Study `{study}`" in text
        assert any((out / study / "maps").glob("*.png")), study
    assert "`share_of_explained_variance`" in text
    # every image of the summary resolves to an existing file
    parser = _Imgs()
    parser.feed(html.read_text())
    assert parser.src, "summary.html has no image"
    for src in parser.src:
        assert not src.startswith(("http:", "https:", "data:")), src
        assert (html.parent / src).is_file(), f"broken image link {src}"
    # every table, panel or provenance file the summary cites exists
    links = re.findall(r"\]\(([^)]+\.(?:csv|json|parquet))\)", text)
    assert len(links) > 30, len(links)
    broken = sorted({x for x in links if not (md.parent / x).is_file()})
    assert not broken, f"summary cites missing files: {broken[:10]}"
    # the report holds the maps, the stage figures and the stage tables
    rep = report.read_text(errors="replace")
    assert "map_trend_biomass_median.png" in rep and "coverage.png" in rep
    assert "attribution.csv" in rep and "trends.csv" in rep
    # its front page holds the studies' first pages of the summary
    assert "Headline: anthropogenic vs biophysical, calibrated against placebos" in rep
    assert "dld-summary" in rep
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed in CI (.ci/run installs it)")
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    for page in (html, report):
        png = tmp_path / f"{page.stem}.png"
        _screenshot(browser, page.resolve().as_uri(), png, tmp_path / f"profile_{page.stem}")
        assert _pixel_variance(png) > 1e-4, f"{page.name} renders blank"


def _dump_dom(browser: str, url: str, profile: Path, width: int = 1366, height: int = 768) -> str:
    """The DOM of ``url`` after its scripts ran, from headless Chromium."""
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", f"--window-size={width},{height}", "--virtual-time-budget=8000",
           "--dump-dom", url]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert r.stdout.strip(), r.stderr[-2000:]
    return r.stdout


#: Measures, in the browser, the rendered height of each study's first page (from its
#: "Study" heading to the next h2/h1) and writes them into the page as JSON.
_MEASURE = """<script>
window.addEventListener('load', function () {
  var hs = Array.from(document.querySelectorAll('h1, h2'));
  var out = [];
  hs.forEach(function (h, i) {
    if (h.tagName === 'H2' && h.textContent.indexOf('Study ') === 0) {
      var next = hs[i + 1];
      var bottom = next ? next.getBoundingClientRect().top : document.body.getBoundingClientRect().bottom;
      out.push({study: h.textContent, height: bottom - h.getBoundingClientRect().top,
                width: document.documentElement.scrollWidth});
    }
  });
  var pre = document.createElement('pre'); pre.id = 'measure'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


@pytest.mark.slow
def test_report_and_summary_structure_in_browser(built_results, tmp_path):
    """Headless Chromium renders the report and the summary: the report's menu has the summary
    first, then each study with data coverage and the stages in pipeline order, then the
    validation; each study's first page of the summary fits a laptop screen (1366 x 768) and no
    table is wider than the page."""
    import json

    from dlddrivers import reporting
    from dlddrivers.stages import STAGES

    out, _ = built_results
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed in CI (.ci/run installs it)")
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    report = out / "report.html"
    # the report's own data: categories and subcategories, and the menu as rendered
    rep = report.read_text(errors="replace")
    m = re.search(r"var categories = (\{.*?\});", rep, re.S)
    assert m, "report.html holds no categories"
    cats = json.loads(m.group(1))
    studies = ["mongolia_aimag", "mongolia_dzud", "neasia"]  # the panel studies
    every = sorted(c for c in cats if c.startswith("2 Study"))
    assert set(every) >= {reporting.study_category(s) for s in studies}
    assert sorted(cats) == [reporting.SUMMARY_CATEGORY, *every, reporting.VALIDATION_CATEGORY]
    expected_subcats = [reporting.coverage_subcategory(), *[reporting.stage_subcategory(s) for s in STAGES],
                        reporting.maps_subcategory()]
    for s in studies:
        assert sorted(cats[reporting.study_category(s)]) == expected_subcats, s
    assert any(p.endswith("summary.html") for v in cats[reporting.SUMMARY_CATEGORY].values() for p in v)
    assert any(p.endswith("recovery_by_units.png") for v in cats[reporting.VALIDATION_CATEGORY].values()
               for p in v)
    dom = _dump_dom(browser, report.resolve().as_uri(), tmp_path / "profile_report")
    pos = [dom.find(reporting.SUMMARY_CATEGORY), *[dom.find(reporting.study_category(s)) for s in studies],
           dom.find(reporting.VALIDATION_CATEGORY)]
    assert all(p >= 0 for p in pos) and pos == sorted(pos), pos  # menu: summary, studies, validation
    # items are titled in words, not file paths
    assert "Standardised two-way fixed-effects coefficients" in rep
    # the summary: one laptop screen per study before the details, nothing wider than the page
    page = out / "summary.html"
    probe = out / "summary_probe.html"
    probe.write_text(page.read_text().replace("</body>", _MEASURE + "</body>"))
    try:
        dom = _dump_dom(browser, probe.resolve().as_uri(), tmp_path / "profile_summary")
    finally:
        probe.unlink()
    m = re.search(r'<pre id="measure">(.*?)</pre>', dom, re.S)
    assert m, "the measuring script did not run"
    sizes = json.loads(m.group(1).replace("&quot;", '"'))
    assert [x["study"].split()[1].rstrip(":") for x in sizes][:3] == ["neasia", "mongolia_aimag", "mongolia_dzud"]
    sizes = sizes[:3]  # the grid study's summary is one block of its own
    for x in sizes:
        assert x["height"] <= 768, x  # one laptop screen of headline per study
        assert x["width"] <= 1366, x
    text = " ".join(re.sub(r"<[^>]+>", " ", dom).split())
    assert 0 <= text.find("Study mongolia_dzud") < text.find("Details: study neasia")


def test_front_page_fragment_and_rst(tmp_path):
    """The report's front page: workflow.rst then the studies' first pages (no images, links
    shown as file names, styles scoped), and only once the summary exists."""
    from dlddrivers import reporting

    md = ("# DLD\n\nIntro.\n\n## Study `a`\n\n### Headline ([r/shares.csv](a/r/shares.csv))\n\n"
          "| x | y |\n|---|---|\n| 1 | 2 |\n\n![fig](a/maps/m.png)\n\n# Details\n\n## Details: study `a`\n\nsecret")
    frag = S.front_page_fragment(md)
    assert frag.startswith('<div class="dld-summary">') and "<table>" in frag
    assert "<img" not in frag and "href" not in frag and "<code>r/shares.csv</code>" in frag
    assert "secret" not in frag and "Details: study" not in frag
    assert "body {" not in frag and ".dld-summary th" in frag
    base = tmp_path / "workflow.rst"
    base.write_text("Intro text.\n")
    front = tmp_path / "results" / "summary_front.html"
    out = tmp_path / "cache" / "front.rst"
    assert reporting.front_page_rst(base, front, out) == str(base.resolve())  # no summary yet
    front.parent.mkdir()
    front.write_text(frag)
    rst = reporting.front_page_rst(base, front, out)
    assert rst == str(out.resolve())
    text = out.read_text()
    assert text.startswith("Intro text.") and f":file: {front.resolve()}" in text
    from docutils.core import publish_parts

    html = publish_parts(text, writer_name="html")["html_body"]
    assert "Intro text." in html and "<table>" in html and "Summary of results" in html
