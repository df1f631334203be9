"""Corruption corpus: a corrupted copy of one raw file either stops the run with a message naming
the file (and the value), or leaves the panel identical to the clean one with the difference
counted in ``drops.csv``. Never a silently different panel.

Each test links the read-only snapshot into ``tmp_path`` file by file, replaces one file by a
corrupted copy, and builds the panel (``build_panel``, readers) or runs the panel job (checksums).
"""

from __future__ import annotations

import gzip
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dlddrivers.config import load_config, study_config
from dlddrivers.errors import ConfigError, RawFileError
from dlddrivers.panel import build_panel
from dlddrivers.pipeline import panel_job as _panel_job
from dlddrivers.pipeline import panel_slice, raw_dir, setup
from dlddrivers.pipeline import verify_raw_files as _verify_raw_files
from dlddrivers.retrieve import ChecksumMismatchError, ChecksumMismatchWarning
from dlddrivers.sources import DropLog
from dlddrivers.sources import _common as C

WDI_ARABLE = "wdi/indicators/ag.lnd.arbl.zs/data.csv"
NSO = "mongolia_nso/livestock_population_aimag_species.csv"
CRU_PRE = "climate_country_monthly_gadm0_global/gadm0_cru_pre_un__monthly.csv.gz"
EITI1 = "mongolia_mining_licences/eitimongolia-1.json"
MNG_2005 = b"Mongolia,MNG,2005,0.75474763408522"


# --------------------------------------------------------------------------------------------
# fixtures and helpers


def panel_job(cfg, study, out):
    """The panel job as the workflow runs it: from the study's config slice."""
    reg, cat, src = setup(cfg)
    return _panel_job(panel_slice(cfg, study, reg, cat, src), raw_dir(cfg), out)


def verify_raw_files(cfg, study, cat, src):
    return _verify_raw_files(study, cat, src, raw_dir(cfg), cfg.get("on_checksum_mismatch") or "error")


@pytest.fixture(scope="module")
def base(snapshot):
    cfg = load_config("config/config.yaml", overrides={"snapshot_dir": str(snapshot)})
    reg, cat, src = setup(cfg)
    return cfg, reg, cat, src


@pytest.fixture(scope="module")
def clean(base, snapshot):
    """The clean panels of the national and the aimag study (the reference)."""
    cfg, reg, cat, src = base
    return {name: build_panel(study_config(cfg, name), cat, src, reg, snapshot)
            for name in ("neasia", "mongolia_aimag")}


def mirror(snapshot: Path, tmp: Path, rel: str, data: bytes) -> Path:
    """A raw folder in ``tmp`` that links every snapshot file, except ``rel`` replaced by ``data``."""
    raw = tmp / "raw"
    for f in snapshot.rglob("*"):
        if f.is_file():
            dst = raw / f.relative_to(snapshot)
            dst.parent.mkdir(parents=True, exist_ok=True)
            if f.relative_to(snapshot).as_posix() != rel:
                dst.symlink_to(f)
    (raw / rel).write_bytes(data)
    return raw


def build(base, study: str, raw: Path, **study_overrides):
    cfg, reg, cat, src = base
    st = dict(study_config(cfg, study), **study_overrides)
    return build_panel(st, cat, src, reg, raw)


def replaced(snapshot: Path, rel: str, old: bytes, new: bytes) -> bytes:
    data = (snapshot / rel).read_bytes()
    assert data.count(old) == 1, f"{rel}: the planted change needs exactly one {old!r}"
    return data.replace(old, new)


# --------------------------------------------------------------------------------------------
# the cases of the issue


def test_wdi_truncated_mid_line_is_an_error(base, snapshot, tmp_path):
    """'...,MNG,2005,0.7' and nothing after: the old code kept 0.7 and lost every later row."""
    data = (snapshot / WDI_ARABLE).read_bytes()
    cut = data[: data.index(MNG_2005) + len(b"Mongolia,MNG,2005,0.7")]
    raw = mirror(snapshot, tmp_path, WDI_ARABLE, cut)
    with pytest.raises(RawFileError, match="ends mid-line") as err:
        build(base, "neasia", raw)
    assert WDI_ARABLE in str(err.value) and "'Mongolia,MNG,2005,0.7'" in str(err.value)


def test_wdi_truncated_mid_line_is_stopped_by_its_checksum_before_reading(base, snapshot, tmp_path):
    data = (snapshot / WDI_ARABLE).read_bytes()
    cut = data[: data.index(MNG_2005) + len(b"Mongolia,MNG,2005,0.7")]
    raw = mirror(snapshot, tmp_path, WDI_ARABLE, cut)
    cfg = dict(base[0], snapshot_dir=str(raw))
    with pytest.raises(ChecksumMismatchError) as err:
        panel_job(cfg, "neasia", tmp_path / "out")
    msg = str(err.value)
    import hashlib

    recorded = "dd27e2c2e44bfc95d393cdd3e580c27293bbf38d625201700f6d9e7482d2c7f5"
    assert WDI_ARABLE in msg and recorded in msg and hashlib.sha256(cut).hexdigest() in msg
    assert "--record-checksums" in msg and "sha256_by_code.ag.lnd.arbl.zs" in msg
    assert not (tmp_path / "out" / "panel.csv").exists()


def test_rows_cut_at_a_line_end_are_caught_by_the_checksum_only(base, snapshot, tmp_path, clean):
    """A file cut at a line end parses; only the recorded checksum tells (panel_job checks it)."""
    data = (snapshot / WDI_ARABLE).read_bytes()
    cut = data[: data.index(MNG_2005) + len(MNG_2005) + 1]
    raw = mirror(snapshot, tmp_path, WDI_ARABLE, cut)
    res = build(base, "neasia", raw)  # the reader alone cannot tell ...
    assert not res.panel.equals(clean["neasia"].panel)
    cfg = dict(base[0], snapshot_dir=str(raw))
    with pytest.raises(ChecksumMismatchError, match="ag.lnd.arbl.zs"):  # ... the checksum does
        verify_raw_files(cfg, study_config(cfg, "neasia"), base[2], base[3])
    with pytest.warns(ChecksumMismatchWarning, match="ag.lnd.arbl.zs"):  # warn: read, but not quietly
        verify_raw_files(dict(cfg, on_checksum_mismatch="warn"), study_config(cfg, "neasia"), base[2], base[3])


def test_clean_snapshot_passes_the_checksum_check(base):
    cfg, _, cat, src = base
    checked = verify_raw_files(cfg, study_config(cfg, "neasia"), cat, src)
    assert len(checked) >= 15 and all(len(v) == 64 for v in checked.values())


def test_sentinel_value_is_an_error_naming_file_indicator_unit_year_and_range(base, snapshot, tmp_path):
    raw = mirror(snapshot, tmp_path, WDI_ARABLE,
                 replaced(snapshot, WDI_ARABLE, MNG_2005, b"Mongolia,MNG,2005,-999"))
    with pytest.raises(RawFileError) as err:
        build(base, "neasia", raw)
    msg = str(err.value)
    for part in (WDI_ARABLE, "arable_share", "MNG", "year 2005", "-999.0", "[0, 100] % of land area"):
        assert part in msg, part


def test_sentinel_value_dropped_on_request_is_counted_and_nothing_else_changes(base, snapshot, tmp_path, clean):
    raw = mirror(snapshot, tmp_path, WDI_ARABLE,
                 replaced(snapshot, WDI_ARABLE, MNG_2005, b"Mongolia,MNG,2005,-999"))
    res = build(base, "neasia", raw, on_implausible="drop")
    ref = clean["neasia"].panel
    assert res.panel.shape == ref.shape
    cell = (res.panel["unit"] == "MNG") & (res.panel["year"] == 2005)
    assert np.isnan(res.panel.loc[cell, "arable_share"]).all()
    # every other cell is the clean one (cells that derive from MNG 2005 arable share excepted)
    derived_from_arable = [c for c in ref.columns if c in ("arable_share", "pasture_share",
                                                            "sheep_units_per_km2_pasture")]
    other = ref.columns.difference(derived_from_arable)
    pd.testing.assert_frame_equal(res.panel[other], ref[other])
    pd.testing.assert_frame_equal(res.panel.loc[~cell], ref.loc[~cell])
    d = res.drops[res.drops["reason"].str.startswith("implausible value")]
    assert d["rows"].sum() == 1 and d["file"].iloc[0] == "data.csv"
    assert "MNG 2005: -999.0" in d["detail"].iloc[0] and "arable_share" in d["reason"].iloc[0]


def test_derived_indicator_checked_after_derivation(base, snapshot, tmp_path):
    """Arable share 95 % (plausible alone) makes pasture = agri (73.3) - arable - crops < 0."""
    raw = mirror(snapshot, tmp_path, WDI_ARABLE,
                 replaced(snapshot, WDI_ARABLE, MNG_2005, b"Mongolia,MNG,2005,95.0"))
    with pytest.raises(RawFileError) as err:
        build(base, "neasia", raw)
    msg = str(err.value)
    for part in ("pasture_share", "agri_land_share - arable_share - perm_crop_share", "MNG",
                 "year 2005", "arable_share=95.0", WDI_ARABLE):
        assert part in msg, part


def test_empty_file_names_the_file(base, snapshot, tmp_path):
    raw = mirror(snapshot, tmp_path, WDI_ARABLE, b"")
    with pytest.raises(RawFileError, match="non-empty file") as err:
        build(base, "neasia", raw)
    assert WDI_ARABLE in str(err.value)


def test_latin1_byte_in_nso_livestock_names_file_line_and_byte(base, snapshot, tmp_path):
    data = (snapshot / NSO).read_bytes()
    bad = data.replace(b"Arkhangai,1970,Cattle", "Arkhangaï,1970,Cattle".encode("latin-1"), 1)
    raw = mirror(snapshot, tmp_path, NSO, bad)
    with pytest.raises(RawFileError) as err:
        build(base, "mongolia_aimag", raw)
    msg = str(err.value)
    assert NSO in msg and "UTF-8" in msg and "0xef" in msg and "line 3" in msg


def test_truncated_gzip_names_the_file(base, snapshot, tmp_path):
    data = (snapshot / CRU_PRE).read_bytes()
    raw = mirror(snapshot, tmp_path, CRU_PRE, data[: len(data) // 2])
    with pytest.raises(RawFileError, match="truncated") as err:
        build(base, "neasia", raw)
    assert CRU_PRE in str(err.value)


def test_gzip_cut_at_a_line_end_inside_is_still_caught(base, snapshot, tmp_path):
    """A complete gzip of a CSV cut mid-line (a broken conversion) stops on its last line."""
    text = gzip.decompress((snapshot / CRU_PRE).read_bytes())
    raw = mirror(snapshot, tmp_path, CRU_PRE, gzip.compress(text[: len(text) // 2]))
    with pytest.raises(RawFileError, match="mid-line|fields") as err:
        build(base, "neasia", raw)
    assert CRU_PRE in str(err.value)


def test_not_gzip_at_all_names_the_file(base, snapshot, tmp_path):
    raw = mirror(snapshot, tmp_path, CRU_PRE, b"this is not gzip data\n")
    with pytest.raises(RawFileError, match="gzip") as err:
        build(base, "neasia", raw)
    assert CRU_PRE in str(err.value)


def test_truncated_json_names_the_file_and_position(base, snapshot, tmp_path):
    data = (snapshot / EITI1).read_bytes()
    raw = mirror(snapshot, tmp_path, EITI1, data[: len(data) // 2])
    with pytest.raises(RawFileError, match="ends early") as err:
        build(base, "mongolia_aimag", raw)
    assert EITI1 in str(err.value) and "line 1, column" in str(err.value)


def test_json_key_twice_with_two_values_names_both(base, snapshot, tmp_path):
    data = (snapshot / EITI1).read_bytes()
    bad = data.replace(b'{"cordinate":{"CODE":"4613"', b'{"cordinate":{"CODE":"4613","CODE":"9999"', 1)
    raw = mirror(snapshot, tmp_path, EITI1, bad)
    with pytest.raises(RawFileError) as err:
        build(base, "mongolia_aimag", raw)
    msg = str(err.value)
    assert EITI1 in msg and "'CODE'" in msg and "'4613'" in msg and "'9999'" in msg


def test_renamed_column_names_file_and_column(base, snapshot, tmp_path):
    data = (snapshot / WDI_ARABLE).read_bytes()
    header = data.split(b"\n", 1)[0]
    raw = mirror(snapshot, tmp_path, WDI_ARABLE, data.replace(header, header.replace(b"Value", b"Val"), 1))
    with pytest.raises(RawFileError, match="field 'Value'") as err:
        build(base, "neasia", raw)
    assert WDI_ARABLE in str(err.value)


def test_duplicate_unit_year_with_conflicting_values_names_file_and_both(base, snapshot, tmp_path):
    data = (snapshot / WDI_ARABLE).read_bytes()
    raw = mirror(snapshot, tmp_path, WDI_ARABLE, data + b"Mongolia,MNG,2005,0.9\n")
    with pytest.raises(RawFileError) as err:
        build(base, "neasia", raw)
    msg = str(err.value)
    assert WDI_ARABLE in msg and "MNG" in msg and "2005" in msg
    assert "0.75474763408522" in msg and "0.9" in msg and "conflicting" in msg


def test_duplicate_aimag_year_in_nso_names_both_values(base, snapshot, tmp_path):
    data = (snapshot / NSO).read_bytes()
    raw = mirror(snapshot, tmp_path, NSO, data + b"Arkhangai,1970,Cattle,250.0\n")
    with pytest.raises(RawFileError) as err:
        build(base, "mongolia_aimag", raw)
    msg = str(err.value)
    assert NSO in msg and "233.9" in msg and "250.0" in msg


def test_planted_values_in_range_leave_the_rest_identical(base, snapshot, tmp_path, clean):
    """Control: a plausible changed value changes exactly that cell (the corpus can see changes)."""
    raw = mirror(snapshot, tmp_path, WDI_ARABLE,
                 replaced(snapshot, WDI_ARABLE, MNG_2005, b"Mongolia,MNG,2005,0.8"))
    res = build(base, "neasia", raw)
    ref = clean["neasia"].panel
    diff = (res.panel.drop(columns=["unit", "year"]) != ref.drop(columns=["unit", "year"])) & ref.drop(
        columns=["unit", "year"]).notna()
    changed = {(ref.loc[i, "unit"], int(ref.loc[i, "year"]), c) for i, c in zip(*np.nonzero(diff.to_numpy()), strict=True)
               for c in [diff.columns[c]]}
    assert ("MNG", 2005, "arable_share") in changed
    assert {u for u, _, _ in changed} == {"MNG"} and {y for _, y, _ in changed} == {2005}


# --------------------------------------------------------------------------------------------
# the shared reading path, file by file


def test_read_csv_user_file_that_is_not_a_csv_names_path_and_line(tmp_path):
    f = tmp_path / "passwd"
    f.write_text("root:x:0:0:root:/root:/bin/bash\nuser,1,2,3,4\nother\n")
    with pytest.raises(RawFileError) as err:
        C.read_csv(f, final_newline=False, dtype=str)
    assert str(f) in str(err.value) and "line 2" in str(err.value)


def test_user_csv_indicator_that_cannot_be_parsed_is_refused(base, tmp_path):
    """A catalogue `source: csv` entry pointing at a non-CSV file: path and line in the error."""
    from dlddrivers.sources import csv_user

    f = tmp_path / "notes.csv"
    f.write_text("unit,year,value\nMNG,2000,1\nMNG,2001,2,3\n")
    with pytest.raises(RawFileError) as err:
        csv_user.read({"data": f}, base[1], DropLog(), indicator="x", measure="m", level="country")
    assert str(f) in str(err.value) and "line 3" in str(err.value)


def test_read_csv_last_row_short_of_fields(tmp_path):
    f = tmp_path / "a.csv"
    f.write_text("a,b,c\n1,2,3\n4,5\n")
    with pytest.raises(RawFileError, match="2 on the last line 3"):
        C.read_csv(f)


def test_read_bytes_missing_file(tmp_path):
    with pytest.raises(RawFileError, match="an existing file"):
        C.read_bytes(tmp_path / "nope.csv")


def test_blank_only_file_is_empty(tmp_path):
    f = tmp_path / "a.csv"
    f.write_text("\n  \n")
    with pytest.raises(RawFileError, match="non-empty"):
        C.read_csv(f)


def test_read_json_identical_repeated_key_is_accepted(tmp_path):
    f = tmp_path / "a.json"
    f.write_text('{"a": 1, "a": 1, "b": [1, 2]}')
    assert C.read_json(f) == {"a": 1, "b": [1, 2]}


# --------------------------------------------------------------------------------------------
# catalogue ranges


def test_every_catalogue_entry_has_a_range_or_sentinels(base):
    cat = base[2]
    shares = [e for e in cat.entries.values() if e.measure.startswith("%")]
    assert shares and all((e.valid_min, e.valid_max) == (0.0, 100.0) for e in shares)
    heads = [e for e in cat.entries.values() if e.measure in ("head", "thousand head", "km2", "people")
             and e.id != "net_migration"]
    assert heads and all(e.valid_min == 0.0 for e in heads)
    assert cat.entries["net_migration"].valid_min is None
    assert cat.entries["mort_sfu"].valid_max == 1.0
    assert all(-999.0 in e.sentinels for e in cat.entries.values())


def test_bad_range_in_catalogue_is_a_config_error(tmp_path):
    import yaml

    from dlddrivers.catalogue import Catalogue

    doc = yaml.safe_load(open("config/catalogue.yaml"))
    doc["indicators"]["arable_share"]["valid_min"] = "low"
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError, match="arable_share.valid_min"):
        Catalogue.from_yaml(p)
    doc["indicators"]["arable_share"]["valid_min"] = 200
    p.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError, match="at most valid_max"):
        Catalogue.from_yaml(p)


def test_on_implausible_is_in_the_schema(snapshot):
    with pytest.raises(ConfigError):
        cfg = load_config("config/config.yaml", overrides={
            "snapshot_dir": str(snapshot), "studies": {"neasia": {"on_implausible": "ignore"}}})
        setup(cfg)
    cfg = load_config("config/config.yaml", overrides={
        "snapshot_dir": str(snapshot), "studies": {"neasia": {"on_implausible": "drop"}}})
    setup(cfg)


def test_clean_json_and_gzip_read_identically(snapshot):
    """The shared path returns what json/gzip return on the clean files."""
    assert C.read_json(snapshot / EITI1) == json.loads((snapshot / EITI1).read_bytes())
    assert C.read_bytes(snapshot / CRU_PRE) == gzip.decompress((snapshot / CRU_PRE).read_bytes())


def test_warn_policy_reads_a_changed_file_with_a_warning(base, snapshot, tmp_path):
    raw = mirror(snapshot, tmp_path, WDI_ARABLE,
                 replaced(snapshot, WDI_ARABLE, MNG_2005, b"Mongolia,MNG,2005,0.8"))
    cfg = dict(base[0], snapshot_dir=str(raw), on_checksum_mismatch="warn")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        paths = panel_job(cfg, "neasia", tmp_path / "out")
    assert any(issubclass(w.category, ChecksumMismatchWarning) and WDI_ARABLE in str(w.message) for w in rec)
    prov = json.loads(paths["provenance"].read_text())
    rec_ = next(r for r in prov["raw_files"] if r["path"].endswith(WDI_ARABLE))
    assert rec_["recorded_sha256_matches"] is False
    shutil.rmtree(tmp_path / "out")


# --------------------------------------------------------------------------------------------
# generated pages


def test_html_in_labels_and_descriptions_is_escaped_in_summary_html():
    from dlddrivers import summary as S

    dic = pd.DataFrame([{"indicator": "x", "role": "driver", "label": "<img src=x onerror=alert(1)>",
                         "measure": "m", "note": "<script>alert('note')</script> & [click](javascript:alert(2))"}])
    md = "## Study `s`: <b onclick=alert(3)>desc</b>\n\n" + S.caveats_section(dic)
    page = S.markdown_to_html(md)
    body = page.split("<body>", 1)[1]
    assert "<img src=x" not in body and "<script>" not in body and "<b onclick" not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body and "&lt;script&gt;" in body
    assert 'href="javascript' not in body
    # ordinary markdown still renders
    assert "<h2>" in body and "<li>" in body and "<code>x</code>" in body


def _cru_with(snapshot: Path, date: str, iso3: str, value: str) -> bytes:
    lines = gzip.decompress((snapshot / CRU_PRE).read_bytes()).decode().split("\n")
    col = lines[0].split(",").index(iso3)
    i = next(k for k, ln in enumerate(lines) if ln.startswith(date + ","))
    cells = lines[i].split(",")
    cells[col] = value
    lines[i] = ",".join(cells)
    return gzip.compress("\n".join(lines).encode())


def test_monthly_climate_sentinel_is_caught_before_the_annual_sum(base, snapshot, tmp_path, clean):
    """-999 mm in one month: the annual sum would still look plausible (a few hundred mm)."""
    raw = mirror(snapshot, tmp_path, CRU_PRE, _cru_with(snapshot, "X200507", "MNG", "-999"))
    with pytest.raises(RawFileError) as err:
        build(base, "neasia", raw)
    msg = str(err.value)
    assert CRU_PRE in msg and "MNG 2005-07: -999.0" in msg and "cru_pre" in msg
    res = build(base, "neasia", raw, on_implausible="drop")
    ref = clean["neasia"].panel
    cell = (res.panel["unit"] == "MNG") & (res.panel["year"] == 2005)
    assert res.panel.loc[cell, "precip_annual"].isna().all() and res.panel.loc[cell, "precip_gs"].isna().all()
    pd.testing.assert_frame_equal(res.panel.loc[~cell], ref.loc[~cell])
    same = ref.columns.difference(["precip_annual", "precip_gs"])
    pd.testing.assert_frame_equal(res.panel[same], ref[same])
    d = res.drops[res.drops["reason"].str.startswith("implausible monthly value")]
    assert d["rows"].sum() == 1 and "MNG 2005-07: -999.0" in d["detail"].iloc[0]
