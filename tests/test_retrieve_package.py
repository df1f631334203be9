"""The retrieval package's seams: the command line as a module, the World Bank API paging with an
injected page reader, and checksum warnings that point at the caller."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pandas as pd
import pytest
import yaml

from dlddrivers import retrieve as R
from dlddrivers.errors import RawFileError
from dlddrivers.retrieve.wdi_api import wdi_api_file, wdi_api_records

API = "https://api.example.org/v2/country/all/indicator/SP.POP.TOTL?format=json&per_page=2"


def _pages(records: list[dict], per_page: int) -> dict[int, bytes]:
    chunks = [records[i:i + per_page] for i in range(0, len(records), per_page)]
    return {k + 1: json.dumps([{"page": k + 1, "pages": len(chunks)}, c]).encode()
            for k, c in enumerate(chunks)}


def test_api_pages_are_walked_in_order_keeping_the_query() -> None:
    records = [{"countryiso3code": iso, "country": {"value": iso.title()}, "date": str(y), "value": v}
               for (iso, y, v) in [("MNG", 2001, 1.5), ("MNG", 2000, 2.0), ("CHN", 2000, 3.25),
                                   ("CHN", 2001, None), ("JPN", 2000, 7.0)]]
    pages = _pages(records, 2)
    asked: list[tuple[str, int]] = []

    def get_page(url: str, page: int) -> bytes:
        asked.append((url, page))
        return pages[page]

    got = wdi_api_records(API, get_page)
    assert got == records  # all three pages, in page order
    assert [p for _, p in asked] == [1, 2, 3]
    for url, page in asked:
        query = dict(parse_qsl(urlsplit(url).query))
        assert query == {"format": "json", "per_page": "2", "page": str(page)}
    # the CSV: null value dropped, sorted by country code then year, %.15G values, CRLF
    assert wdi_api_file(API, "sp.pop.totl", get_page).decode() == (
        "Country Name,Country Code,Year,Value\r\nChn,CHN,2000,3.25\r\nJpn,JPN,2000,7\r\n"
        "Mng,MNG,2000,2\r\nMng,MNG,2001,1.5\r\n")


def test_api_without_values_names_the_api_url() -> None:
    pages = _pages([{"countryiso3code": "MNG", "date": "2000", "value": None}], 5)
    with pytest.raises(RawFileError, match=r"SP\.POP\.TOTL.*at least one value for sp.pop.totl"):
        wdi_api_file(API, "sp.pop.totl", lambda url, page: pages[page])


def test_api_error_answer_names_the_page_url() -> None:
    body = json.dumps([{"message": [{"id": "120", "value": "Invalid value"}]}]).encode()
    with pytest.raises(RawFileError, match=r"page=1.*data for this indicator code"):
        wdi_api_records(API, lambda url, page: body)


def test_checksum_warnings_point_at_the_caller(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo/file.csv").write_bytes(b"a,b\n1,2\n")
    spec = R.FileSpec(source="demo", key="f", path="demo/file.csv", url="http://x/f.csv", sha256="0" * 64)
    with pytest.warns(R.ChecksumMismatchWarning) as fetched:
        R.fetch(spec, tmp_path / "cache", snapshot_dir=tmp_path, on_checksum_mismatch="warn")
    with pytest.warns(R.ChecksumMismatchWarning) as verified:
        R.verify_file(tmp_path / "demo/file.csv", "0" * 64, policy="warn", key="sources.demo.files.f.sha256")
    assert [Path(w.filename) for w in (*fetched, *verified)] == [Path(__file__)] * 2
    assert "at key 'sources.demo.files.f.sha256'" in str(fetched[0].message)
    assert "at key 'sources.demo.files.f.sha256'" in str(verified[0].message)


def test_python_dash_m_runs_the_command_line(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    (raw / "demo").mkdir(parents=True)
    body = b"year,value\n2000,1\n"
    (raw / "demo/file.csv").write_bytes(body)
    digest = hashlib.sha256(body).hexdigest()
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sources": {"demo": {"files": {"f": {
        "path": "demo/file.csv", "url": "http://x/file.csv", "sha256": digest}}}}}))
    out = tmp_path / "manifest.csv"
    r = subprocess.run([sys.executable, "-m", "dlddrivers.retrieve", "--sources", str(sources),
                        "--snapshot", str(raw), "--manifest", str(out), "--wdi"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"ok {raw / 'demo/file.csv'}" in r.stderr
    m = pd.read_csv(out)
    assert m[["path", "sha256", "bytes", "matches"]].to_dict("records") == [
        {"path": "demo/file.csv", "sha256": digest, "bytes": len(body), "matches": True}]
    assert R.RECORD_COMMAND.startswith("python -m dlddrivers.retrieve ")
