"""Retrieval against a real HTTP server on 127.0.0.1 that injects faults.

Every test starts its own ``ThreadingHTTPServer`` (port chosen by the OS) and stops it at the
end. Short timeouts (0.3 s) and backoff (0.01 s) keep the whole module to a few seconds.
Tests that compare with the read-only snapshot skip when it is absent (see conftest).
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import json
import random
import shutil
import socket
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pandas as pd
import pytest
import yaml
from conftest import SNAPSHOT_DIR

from dlddrivers import retrieve as R
from dlddrivers.errors import ConfigError
from dlddrivers.retrieve import transfer as T

REPO = Path(__file__).resolve().parents[1]
SOURCES = REPO / "config" / "sources.yaml"
SNAPSHOT = SNAPSHOT_DIR
needs_snapshot = pytest.mark.skipif(not SNAPSHOT.is_dir(), reason="snapshot folder not available")

STALL = 1.0  # seconds a stalled response sleeps (> TIMEOUT)
FAST = {"timeout": 0.3, "retries": 3, "backoff": 0.01, "progress": False}


# --------------------------------------------------------------------------------------------
# the fault-injecting server


class _State:
    """What the server serves, which faults it injects next, and how often each path was hit."""

    def __init__(self) -> None:
        self.files: dict[str, bytes | Callable[[dict[str, str]], bytes]] = {}
        self.content_type: dict[str, str] = {}
        self.faults: dict[str, list[str]] = defaultdict(list)
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.base = ""

    def url(self, path: str) -> str:
        return self.base + path


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - silence
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        st: _State = self.server.state  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        with st.lock:
            st.hits[parts.path] += 1
            queue = st.faults[parts.path]
            fault = queue.pop(0) if queue else None
        body = st.files.get(parts.path)
        if callable(body):
            body = body(dict(parse_qsl(parts.query)))
        try:
            if fault == "500":
                self.send_error(500, "injected failure")
                return
            if fault == "stall_headers":
                time.sleep(STALL)
            if body is None:
                self.send_error(404, "not found")
                return
            self.send_response(200)
            self.send_header("Content-Type", st.content_type.get(parts.path, "text/plain; charset=utf-8"))
            extra = 100 if fault == "truncate" else 0
            if fault not in ("nolength", "nolength_truncate"):
                self.send_header("Content-Length", str(len(body) + extra))
            self.end_headers()
            half = len(body) // 2
            if fault == "nolength_truncate":
                self.wfile.write(body[:half])  # HTTP/1.0, no length: the close looks like the end
            elif fault == "trickle":  # a few bytes at a time, each well within the read timeout
                for i in range(0, len(body), 8):
                    self.wfile.write(body[i:i + 8])
                    self.wfile.flush()
                    time.sleep(0.02)
            elif fault == "stall_body":
                self.wfile.write(body[:half])
                self.wfile.flush()
                time.sleep(STALL)
                self.wfile.write(body[half:])
            elif fault == "truncate":
                self.wfile.write(body[:half])  # then the connection closes (HTTP/1.0)
            else:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001 - quiet on client aborts
        pass


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def server() -> Iterator[_State]:
    state = _State()
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.state = state  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _spec(url: str, path: str = "demo/file.csv", **kw: object) -> R.FileSpec:
    return R.FileSpec(source="demo", key="file", path=path, url=url, **kw)  # type: ignore[arg-type]


def _leftovers(cache: Path) -> list[Path]:
    return [p for p in cache.rglob("*") if p.is_file()]


BODY = b"a,b\n" + b"".join(f"{i},{i * i}\n".encode() for i in range(2000))


# --------------------------------------------------------------------------------------------
# retries, timeouts, errors


def test_http_500_twice_then_ok_is_retried(server: _State, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    delays: list[float] = []
    real_sleep = time.sleep

    def sleep(s: float) -> None:
        delays.append(s)
        real_sleep(s)

    monkeypatch.setattr(T.time, "sleep", sleep)
    server.files["/f.csv"] = BODY
    server.faults["/f.csv"] = ["500", "500"]
    out = R.fetch(_spec(server.url("/f.csv")), tmp_path, **{**FAST, "backoff": 0.02})
    assert out == tmp_path / "demo/file.csv" == R.local_path(_spec("u"), tmp_path)
    assert out.read_bytes() == BODY
    assert server.hits["/f.csv"] == 3
    assert delays[:2] == [0.02, 0.04]  # exponential backoff between the attempts
    assert _leftovers(tmp_path) == [out]


def test_truncated_body_retried_then_ok(server: _State, tmp_path: Path) -> None:
    server.files["/f.csv"] = BODY
    server.faults["/f.csv"] = ["truncate"]
    out = R.fetch(_spec(server.url("/f.csv")), tmp_path, **FAST)
    assert out.read_bytes() == BODY
    assert server.hits["/f.csv"] == 2


def test_truncated_body_exhausts_retries_without_leftovers(server: _State, tmp_path: Path) -> None:
    server.files["/f.csv"] = BODY
    server.faults["/f.csv"] = ["truncate"] * 10
    url = server.url("/f.csv")
    with pytest.raises(R.DownloadError) as err:
        R.fetch(_spec(url), tmp_path, **{**FAST, "retries": 2})
    msg = str(err.value)
    assert url in msg and "demo/file.csv" in msg and "truncated" in msg and "3 attempts" in msg
    assert server.hits["/f.csv"] == 3
    assert _leftovers(tmp_path) == []  # neither the target nor a .part file


@pytest.mark.parametrize("fault", ["stall_headers", "stall_body"])
def test_stalled_response_times_out_and_is_retried(server: _State, tmp_path: Path, fault: str) -> None:
    server.files["/f.csv"] = BODY
    server.faults["/f.csv"] = [fault]
    out = R.fetch(_spec(server.url("/f.csv")), tmp_path, **FAST)
    assert out.read_bytes() == BODY
    # the stalled first attempt was given up (at the read timeout) and retried once
    assert server.hits["/f.csv"] == 2


def test_stall_every_time_gives_clear_error(server: _State, tmp_path: Path) -> None:
    server.files["/f.csv"] = BODY
    server.faults["/f.csv"] = ["stall_body"] * 5
    with pytest.raises(R.DownloadError, match="timed out|TimeoutError|truncated"):
        R.fetch(_spec(server.url("/f.csv")), tmp_path, **{**FAST, "retries": 1})
    assert server.hits["/f.csv"] == 2
    assert _leftovers(tmp_path) == []


def test_404_is_a_clear_error_and_not_retried(server: _State, tmp_path: Path) -> None:
    url = server.url("/missing.csv")
    with pytest.raises(R.NotFoundError) as err:
        R.fetch(_spec(url), tmp_path, **FAST)
    assert url in str(err.value) and "404" in str(err.value) and "demo/file.csv" in str(err.value)
    assert server.hits["/missing.csv"] == 1
    assert _leftovers(tmp_path) == []


def test_connection_refused_is_retried_then_reported(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/f.csv"
    with pytest.raises(R.DownloadError, match="connection error") as err:
        R.fetch(_spec(url), tmp_path, **{**FAST, "retries": 1})
    assert url in str(err.value) and "2 attempts" in str(err.value)
    assert _leftovers(tmp_path) == []


def test_html_page_instead_of_data_file_is_rejected(server: _State, tmp_path: Path) -> None:
    server.files["/dataset"] = b"<html><body>dataset page</body></html>"
    server.content_type["/dataset"] = "text/html; charset=utf-8"
    with pytest.raises(R.DownloadError, match="web page"):
        R.fetch(_spec(server.url("/dataset"), path="b/x.geojson"), tmp_path, **FAST)
    assert server.hits["/dataset"] == 1
    assert _leftovers(tmp_path) == []


def test_git_lfs_pointer_is_rejected(server: _State, tmp_path: Path) -> None:
    server.files["/big.parquet"] = (b"version https://git-lfs.github.com/spec/v1\n"
                                    b"oid sha256:" + b"0" * 64 + b"\nsize 123456\n")
    spec = _spec(server.url("/big.parquet"), path="c/x.csv.gz", convert="parquet_to_csv_gz")
    with pytest.raises(R.DownloadError, match="Git LFS pointer"):
        R.fetch(spec, tmp_path, **FAST)
    assert _leftovers(tmp_path) == []


def test_progress_line_for_large_files(server: _State, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(T, "PROGRESS_MIN_BYTES", 1000)
    monkeypatch.setattr(T, "PROGRESS_INTERVAL", 0.0)
    monkeypatch.setattr(T, "CHUNK", 4096)
    server.files["/f.csv"] = BODY
    stream = io.StringIO()
    R.fetch(_spec(server.url("/f.csv")), tmp_path, **{**FAST, "progress": stream})
    lines = stream.getvalue().splitlines()
    assert len(lines) >= 2
    assert f"/{len(BODY):,} bytes" in lines[0] and lines[-1].endswith("(100%) done")


# --------------------------------------------------------------------------------------------
# cache and checksums


def test_cached_file_is_not_fetched_again(server: _State, tmp_path: Path) -> None:
    server.files["/f.csv"] = BODY
    spec = _spec(server.url("/f.csv"), sha256=None)
    a = R.fetch(spec, tmp_path, **FAST)
    b = R.fetch(spec, tmp_path, **FAST)
    assert a == b and server.hits["/f.csv"] == 1
    # a recorded checksum is still verified on the cached copy
    wrong = dataclasses.replace(spec, sha256="0" * 64)
    with pytest.warns(R.ChecksumMismatchWarning, match="demo/file.csv"):
        R.fetch(wrong, tmp_path, **FAST, on_checksum_mismatch="warn")
    with pytest.raises(R.ChecksumMismatchError, match="demo/file.csv"):  # the default policy
        R.fetch(wrong, tmp_path, **FAST)
    assert server.hits["/f.csv"] == 1


def test_checksum_match_is_silent(server: _State, tmp_path: Path, recwarn: pytest.WarningsRecorder) -> None:
    server.files["/f.csv"] = BODY
    good = R.sha256_file(_write(tmp_path / "ref", BODY))
    out = R.fetch(_spec(server.url("/f.csv"), sha256=good), tmp_path / "cache",
                  **FAST, on_checksum_mismatch="error")
    assert R.sha256_file(out) == good
    assert not [w for w in recwarn if issubclass(w.category, R.ChecksumMismatchWarning)]


def test_checksum_mismatch_warns_and_keeps_file(server: _State, tmp_path: Path) -> None:
    server.files["/f.csv"] = BODY
    spec = _spec(server.url("/f.csv"), sha256="a" * 64)
    with pytest.warns(R.ChecksumMismatchWarning) as rec:
        out = R.fetch(spec, tmp_path, **FAST, on_checksum_mismatch="warn")
    msg = str(rec[0].message)
    assert "a" * 64 in msg and R.sha256_file(out) in msg and spec.url in msg
    assert out.read_bytes() == BODY


def test_checksum_mismatch_error_leaves_nothing(server: _State, tmp_path: Path) -> None:
    server.files["/f.csv"] = BODY
    spec = _spec(server.url("/f.csv"), sha256="a" * 64)
    with pytest.raises(R.ChecksumMismatchError, match="field 'sha256'") as err:
        R.fetch(spec, tmp_path, **FAST, on_checksum_mismatch="error")
    assert err.value.expected == "a" * 64 and spec.url in str(err.value)
    assert _leftovers(tmp_path) == []


def test_bad_options_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="on_checksum_mismatch"):
        R.fetch(_spec("http://127.0.0.1:9/x"), tmp_path, on_checksum_mismatch="ignore")


# --------------------------------------------------------------------------------------------
# snapshot mode


def test_snapshot_missing_file_names_file_url_and_folder(tmp_path: Path) -> None:
    snap = tmp_path / "snapshot"
    snap.mkdir()
    spec = _spec("https://example.org/upstream/file.csv")
    with pytest.raises(R.SnapshotMissingError) as err:
        R.fetch(spec, tmp_path / "cache", snapshot_dir=snap, **FAST)
    msg = str(err.value)
    assert "demo/file.csv" in msg and spec.url in msg and str(snap) in msg
    assert isinstance(err.value, FileNotFoundError)
    assert not (tmp_path / "cache").exists()


def test_snapshot_file_is_returned_in_place(server: _State, tmp_path: Path) -> None:
    snap = tmp_path / "snapshot"
    _write(snap / "demo/file.csv", BODY)
    out = R.fetch(_spec(server.url("/f.csv"), sha256=R.sha256_file(snap / "demo/file.csv")),
                  tmp_path / "cache", snapshot_dir=snap, **FAST, on_checksum_mismatch="error")
    assert out == snap / "demo/file.csv"
    assert sum(server.hits.values()) == 0 and not (tmp_path / "cache").exists()


# --------------------------------------------------------------------------------------------
# extraction, conversion, WDI API fallback (against the snapshot bytes)


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _real_specs() -> list[R.FileSpec]:
    return R.resolve(yaml.safe_load(SOURCES.read_text()), ["ny.gdp.totl.rt.zs"])


@needs_snapshot
@pytest.mark.parametrize("key, extra_geos", [
    ("ny_gdp_minr_rt_zs", ["ago", "bra", "deu", "mnx", "usa", "zwe"]),
    ("grassland", ["1", "10", "1000", "3", "42", "5000", "99"]),  # lexicographic order upstream
])
def test_extract_from_full_ddf_file_gives_snapshot_bytes(server: _State, tmp_path: Path,
                                                          key: str, extra_geos: list[str]) -> None:
    spec = next(s for s in _real_specs() if s.key == key)
    assert spec.extract and spec.sha256
    expected = (SNAPSHOT / spec.path).read_bytes()
    header, *rows = expected.decode().splitlines(keepends=True)
    years = sorted({r.split(",")[1] for r in rows})
    rng = random.Random(0)
    extra = [f"{g},{y},{rng.uniform(0, 1000):.2f}\n" for g in extra_geos for y in years]
    full = sorted(rows + extra, key=lambda r: (r.split(",")[0], int(r.split(",")[1])))
    assert len(full) > len(rows)
    server.files["/upstream.csv"] = (header + "".join(full)).encode()
    online = dataclasses.replace(spec, url=server.url("/upstream.csv"))
    out = R.fetch(online, tmp_path, **FAST, on_checksum_mismatch="error")
    assert out.read_bytes() == expected
    assert out == tmp_path / spec.path and _leftovers(tmp_path) == [out]


def test_extract_rows_errors_name_file_and_column() -> None:
    with pytest.raises(Exception, match="field 'geo'"):
        R.extract_rows(b"country,time,v\nmng,2000,1\n", {"geo": ["mng"]}, name="u.csv")
    with pytest.raises(Exception, match="no such row"):
        R.extract_rows(b"geo,time,v\nmng,2000,1\n", {"geo": ["chn"]}, name="u.csv")
    # quoted field spanning lines is one record; CRLF kept
    data = b'geo,name\r\nmng,"a\r\nb"\r\nchn,c\r\n'
    assert R.extract_rows(data, {"geo": ["mng"]}) == b'geo,name\r\nmng,"a\r\nb"\r\n'


def _parquet_from_csv(csv_bytes: bytes, dst: Path) -> None:
    df = pd.read_csv(io.BytesIO(csv_bytes), dtype={"Date": str}, float_precision="round_trip")
    df.to_parquet(dst, index=False)


@needs_snapshot
def test_parquet_conversion_small_example(server: _State, tmp_path: Path) -> None:
    snap = SNAPSHOT / "climate_country_monthly_gadm0_global/gadm0_cru_pre_un__monthly.csv.gz"
    lines = gzip.decompress(snap.read_bytes()).split(b"\n")
    small = b"\n".join(lines[:25]) + b"\n"  # header + 24 months, all 264 columns (some empty)
    _parquet_from_csv(small, _write(tmp_path / "srv/x.parquet", b""))
    server.files["/x.parquet"] = (tmp_path / "srv/x.parquet").read_bytes()
    spec = _spec(server.url("/x.parquet"), path="clim/x.csv.gz", convert="parquet_to_csv_gz")
    out = R.fetch(spec, tmp_path / "cache", **FAST)
    assert gzip.decompress(out.read_bytes()) == small
    assert out.read_bytes()[:10] == snap.read_bytes()[:10]  # gzip -n header: no name, mtime 0
    assert _leftovers(tmp_path / "cache") == [out]


@needs_snapshot
@pytest.mark.skipif(shutil.which("gzip") is None, reason="GNU gzip needed for byte-identical .gz")
def test_parquet_conversion_reproduces_snapshot_file_and_checksum(server: _State, tmp_path: Path) -> None:
    spec = next(s for s in _real_specs() if s.key == "era_tmp")
    assert spec.convert == "parquet_to_csv_gz" and spec.sha256
    _parquet_from_csv(gzip.decompress((SNAPSHOT / spec.path).read_bytes()), tmp_path / "up.parquet")
    server.files["/up.parquet"] = (tmp_path / "up.parquet").read_bytes()
    online = dataclasses.replace(spec, url=server.url("/up.parquet"))
    out = R.fetch(online, tmp_path / "cache", **FAST, on_checksum_mismatch="error")
    assert out.read_bytes() == (SNAPSHOT / spec.path).read_bytes()


def _api_pages(csv_bytes: bytes, per_page: int, seed: int = 1) -> Callable[[dict[str, str]], bytes]:
    """A World Bank API v2 imitation serving the mirror rows (shuffled, plus null values)."""
    rows = list(csv.DictReader(io.StringIO(csv_bytes.decode())))
    recs = [{"indicator": {"id": "X", "value": "x"},
             "country": {"id": r["Country Code"][:2], "value": r["Country Name"]},
             "countryiso3code": r["Country Code"], "date": r["Year"],
             "value": json.loads(r["Value"].lower()), "unit": "", "obs_status": "", "decimal": 1}
            for r in rows]
    recs += [{"country": {"id": "MN", "value": "Mongolia"}, "countryiso3code": "MNG",
              "date": str(y), "value": None} for y in (1950, 1951)]
    random.Random(seed).shuffle(recs)
    pages = max(1, -(-len(recs) // per_page))

    def serve(query: dict[str, str]) -> bytes:
        page = int(query.get("page", "1"))
        chunk = recs[(page - 1) * per_page: page * per_page]
        meta = {"page": page, "pages": pages, "per_page": per_page, "total": len(recs)}
        return json.dumps([meta, chunk]).encode()

    return serve


def _wdi_cfg(base: str, per_page: int, sha_by_code: dict[str, str] | None = None) -> dict:
    entry = {"path": "wdi/indicators/{code}/data.csv", "url": base + "/mirror/{code}/data.csv",
             "api_url": base + "/v2/country/all/indicator/{CODE}?format=json&per_page=" + str(per_page)}
    if sha_by_code:
        entry["sha256_by_code"] = sha_by_code
    return {"sources": {"wdi": {"reader": "wdi", "files": {"indicator": entry}}}}


def test_wdi_api_fallback_writes_mirror_layout(server: _State, tmp_path: Path) -> None:
    recs = [
        {"country": {"id": "MN", "value": "Mongolia"}, "countryiso3code": "MNG", "date": "2021", "value": 26.5712},
        {"country": {"id": "MN", "value": "Mongolia"}, "countryiso3code": "MNG", "date": "2020", "value": None},
        {"country": {"id": "KR", "value": "Korea, Rep."}, "countryiso3code": "KOR", "date": "2021", "value": 9.98701153481998e-05},
        {"country": {"id": "MN", "value": "Mongolia"}, "countryiso3code": "MNG", "date": "2019", "value": 25012374},
    ]
    pages = {"1": recs[:2], "2": recs[2:]}
    server.files["/v2/country/all/indicator/NY.GDP.MINR.RT.ZS"] = lambda q: json.dumps(
        [{"page": int(q["page"]), "pages": 2, "per_page": 2, "total": 4}, pages[q["page"]]]).encode()
    (spec,) = R.resolve(_wdi_cfg(server.base, 2), ["NY.GDP.MINR.RT.ZS"])
    assert spec.path == "wdi/indicators/ny.gdp.minr.rt.zs/data.csv"
    out = R.fetch(spec, tmp_path, **FAST)
    assert out.read_bytes() == (
        b"Country Name,Country Code,Year,Value\r\n"
        b'"Korea, Rep.",KOR,2021,9.98701153481998E-05\r\n'
        b"Mongolia,MNG,2019,25012374\r\n"
        b"Mongolia,MNG,2021,26.5712\r\n"
    )
    assert server.hits["/mirror/ny.gdp.minr.rt.zs/data.csv"] == 1
    assert server.hits["/v2/country/all/indicator/NY.GDP.MINR.RT.ZS"] == 2
    assert _leftovers(tmp_path) == [out]


@needs_snapshot
def test_wdi_api_fallback_reproduces_mirror_file(server: _State, tmp_path: Path) -> None:
    code = "ny.gdp.totl.rt.zs"
    spec_real = next(s for s in _real_specs() if s.code == code)
    mirror = (SNAPSHOT / spec_real.path).read_bytes()
    server.files["/v2/country/all/indicator/NY.GDP.TOTL.RT.ZS"] = _api_pages(mirror, per_page=5000)
    server.faults["/v2/country/all/indicator/NY.GDP.TOTL.RT.ZS"] = ["500"]  # retried on the API too
    (spec,) = R.resolve(_wdi_cfg(server.base, 5000, {code: spec_real.sha256}), [code.upper()])
    out = R.fetch(spec, tmp_path, **FAST, on_checksum_mismatch="error")
    assert out.read_bytes() == mirror


def test_wdi_api_error_message_is_reported(server: _State, tmp_path: Path) -> None:
    server.files["/v2/country/all/indicator/NO.SUCH.CODE"] = json.dumps(
        [{"message": [{"id": "120", "key": "Invalid value", "value": "The provided parameter value is not valid"}]}]
    ).encode()
    (spec,) = R.resolve(_wdi_cfg(server.base, 100), ["no.such.code"])
    with pytest.raises(Exception, match="NO.SUCH.CODE.*field 'message'"):
        R.fetch(spec, tmp_path, **FAST)
    assert _leftovers(tmp_path) == []


def test_mirror_hit_does_not_call_api(server: _State, tmp_path: Path) -> None:
    server.files["/mirror/sp.pop.totl/data.csv"] = b"Country Name,Country Code,Year,Value\r\nMongolia,MNG,2020,1\r\n"
    (spec,) = R.resolve(_wdi_cfg(server.base, 100), ["SP.POP.TOTL"])
    R.fetch(spec, tmp_path, **FAST)
    assert server.hits == Counter({"/mirror/sp.pop.totl/data.csv": 1})


# --------------------------------------------------------------------------------------------
# resolve, manifest, CLI


def test_resolve_real_config() -> None:
    cfg = yaml.safe_load(SOURCES.read_text())
    specs = R.resolve(cfg, ["SP.POP.TOTL", "ny.gdp.minr.rt.zs", "sp.pop.totl"])
    wdi = [s for s in specs if s.source == "wdi"]
    assert [s.code for s in wdi] == ["sp.pop.totl", "ny.gdp.minr.rt.zs"]  # de-duplicated, lower-case
    assert wdi[0].sha256 is not None and wdi[1].sha256 is None  # only snapshot codes are recorded
    assert wdi[1].api_url.endswith("/indicator/NY.GDP.MINR.RT.ZS?format=json&per_page=20000")
    assert all(s.sha256 for s in specs if s.source != "wdi")
    assert len({s.path for s in specs}) == len(specs)
    frame = R.specs_frame(specs)
    assert list(frame.columns[:7]) == ["source", "key", "path", "url", "sha256", "extract", "convert"]
    assert len(frame) == len(specs)
    spec = R.spec_for_path(specs, "wdi_resource_rents_ddf/ddf--datapoints--ny_gdp_coal_rt_zs--by--geo--time.csv")
    assert spec.extract == {"geo": ("afg", "chn", "irn", "jpn", "kaz", "kgz", "kor", "mng", "rus", "tjk", "tkm", "uzb")}
    with pytest.raises(ConfigError, match="nope.csv"):
        R.spec_for_path(specs, "nope.csv")
    assert not [s for s in R.resolve(cfg, []) if s.source == "wdi"]


def test_resolve_rejects_malformed_entries() -> None:
    base = {"path": "a/b.csv", "url": "http://127.0.0.1:9/b"}
    with pytest.raises(ConfigError, match=r"sources\.s\.files\.k\.convert"):
        R.resolve({"sources": {"s": {"files": {"k": {**base, "convert": "zip"}}}}}, [])
    with pytest.raises(ConfigError, match=r"sources\.s\.files\.k\.url"):
        R.resolve({"sources": {"s": {"files": {"k": {"path": "a"}}}}}, [])
    with pytest.raises(ConfigError, match="sha256"):
        R.resolve({"sources": {"s": {"files": {"k": {**base, "sha256": "xyz"}}}}}, [])


@needs_snapshot
def test_recorded_checksums_match_snapshot() -> None:
    cfg = yaml.safe_load(SOURCES.read_text())
    codes = sorted(p.name for p in (SNAPSHOT / "wdi/indicators").iterdir())
    m = R.manifest(R.resolve(cfg, codes), SNAPSHOT)
    assert list(m.columns[:6]) == ["source", "key", "path", "url", "sha256", "bytes"]
    assert m["matches"].tolist() == [True] * len(m), m.loc[m["matches"] != True, "path"].tolist()  # noqa: E712


def test_manifest_names_missing_file(tmp_path: Path) -> None:
    with pytest.raises(R.SnapshotMissingError, match="demo/file.csv"):
        R.manifest([_spec("http://127.0.0.1:9/x")], tmp_path)


def test_cli_fetches_everything_and_writes_manifest(server: _State, tmp_path: Path) -> None:
    server.files["/a.csv"] = BODY
    server.files["/mirror/sp.pop.totl/data.csv"] = b"Country Name,Country Code,Year,Value\r\n"
    cfg = _wdi_cfg(server.base, 100)
    cfg["sources"]["demo"] = {"files": {"a": {"path": "demo/a.csv", "url": server.url("/a.csv"),
                                              "sha256": R.sha256_file(_write(tmp_path / "a", BODY))}}}
    src = _write(tmp_path / "sources.yaml", yaml.safe_dump(cfg).encode())
    cache, man = tmp_path / "raw", tmp_path / "manifest.csv"
    argv = ["--sources", str(src), "--cache", str(cache), "--wdi", "SP.POP.TOTL", "--timeout", "0.5",
            "--backoff", "0.01", "--on-checksum-mismatch", "error", "--manifest", str(man)]
    assert R.main(argv) == 0
    assert (cache / "demo/a.csv").read_bytes() == BODY
    table = pd.read_csv(man)
    assert sorted(table["path"]) == ["demo/a.csv", "wdi/indicators/sp.pop.totl/data.csv"]
    # snapshot mode with a missing file: non-zero exit, nothing downloaded
    hits = sum(server.hits.values())
    assert R.main(argv[:4] + ["--snapshot", str(tmp_path / "empty"), "--wdi"]) == 1
    assert sum(server.hits.values()) == hits


# --------------------------------------------------------------------------------------------
# completion by a check, deadline, stale temporary files, confined paths (issue 14)


def test_body_cut_without_content_length_and_recorded_checksum_is_an_error(server: _State, tmp_path: Path) -> None:
    server.files["/f.csv"] = BODY
    server.faults["/f.csv"] = ["nolength_truncate"]
    spec = _spec(server.url("/f.csv"), sha256=R.sha256_file(_write(tmp_path / "ref", BODY)))
    cache = tmp_path / "cache"
    with pytest.raises(R.ChecksumMismatchError) as err:
        R.fetch(spec, cache, **FAST)  # default policy: error
    msg = str(err.value)
    assert str(cache / "demo/file.csv") in msg and ".part" not in msg
    assert _leftovers(cache) == []


def test_body_cut_without_content_length_warns_naming_the_final_file(server: _State, tmp_path: Path) -> None:
    server.files["/f.csv"] = BODY
    server.faults["/f.csv"] = ["nolength_truncate"]
    spec = _spec(server.url("/f.csv"), sha256=R.sha256_file(_write(tmp_path / "ref", BODY)))
    cache = tmp_path / "cache"
    with pytest.warns(R.ChecksumMismatchWarning) as rec:
        out = R.fetch(spec, cache, **FAST, on_checksum_mismatch="warn")
    msg = str(rec[0].message)
    assert str(cache / "demo/file.csv") in msg and ".part" not in msg
    assert out.read_bytes() == BODY[: len(BODY) // 2]


def test_download_without_length_or_checksum_cannot_be_verified(server: _State, tmp_path: Path) -> None:
    """No Content-Length, no recorded sha256: completeness is unknown, so it is not accepted."""
    server.files["/f.csv"] = BODY
    server.faults["/f.csv"] = ["nolength"]
    with pytest.raises(R.UnverifiedDownloadError, match="no Content-Length") as err:
        R.fetch(_spec(server.url("/f.csv")), tmp_path, **FAST)
    assert "sources.demo.files.file.sha256" in str(err.value) and "--record-checksums" in str(err.value)
    assert _leftovers(tmp_path) == []
    server.faults["/f.csv"] = ["nolength"]
    with pytest.warns(R.ChecksumMismatchWarning, match="cannot be checked"):
        out = R.fetch(_spec(server.url("/f.csv")), tmp_path, **FAST, on_checksum_mismatch="warn")
    assert out.read_bytes() == BODY


def test_download_without_length_but_matching_checksum_is_accepted(server: _State, tmp_path: Path,
                                                                   recwarn: pytest.WarningsRecorder) -> None:
    server.files["/f.csv"] = BODY
    server.faults["/f.csv"] = ["nolength"]
    spec = _spec(server.url("/f.csv"), sha256=R.sha256_file(_write(tmp_path / "ref", BODY)))
    assert R.fetch(spec, tmp_path / "cache", **FAST).read_bytes() == BODY
    assert not [w for w in recwarn if issubclass(w.category, R.ChecksumMismatchWarning)]


def test_trickling_server_meets_the_overall_deadline(server: _State, tmp_path: Path) -> None:
    """8 bytes every 20 ms (each read well within the 0.3 s timeout) for ~5 s: the 0.5 s deadline
    stops it, and nothing is left in the cache."""
    server.files["/f.csv"] = BODY[:2000]
    server.faults["/f.csv"] = ["trickle"]
    with pytest.raises(R.DownloadError, match="overall deadline of 0.5 s") as err:
        R.fetch(_spec(server.url("/f.csv")), tmp_path, **FAST, deadline=0.5)
    assert "demo/file.csv" in str(err.value)
    assert _leftovers(tmp_path) == [] and server.hits["/f.csv"] == 1


def test_bad_deadline_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="deadline"):
        R.fetch(_spec("http://127.0.0.1:9/x"), tmp_path, deadline=0)


def test_stale_part_files_are_removed_at_start(server: _State, tmp_path: Path) -> None:
    server.files["/f.csv"] = BODY
    stale = _write(tmp_path / "demo" / ".file.csv.download.abc123.part", b"half a file")
    other = _write(tmp_path / "demo" / "keep.csv", b"x")
    out = R.fetch(_spec(server.url("/f.csv")), tmp_path, **FAST)
    assert out.read_bytes() == BODY and not stale.exists() and other.exists()
    assert sorted(p.name for p in _leftovers(tmp_path)) == ["file.csv", "keep.csv"]
    # the command line sweeps the whole cache first
    stale2 = _write(tmp_path / "other" / ".x.csv.extract.zz.part", b"junk")
    assert R.remove_stale_parts(tmp_path) == [stale2] and not stale2.exists()


@pytest.mark.parametrize("path", ["../outside.csv", "/etc/passwd", "demo/../../x.csv", "demo//x.csv",
                                  "C:/x.csv", "demo\\..\\x.csv", "~/x.csv"])
def test_paths_outside_the_cache_are_refused(path: str, tmp_path: Path) -> None:
    cfg = {"sources": {"demo": {"files": {"f": {"path": path, "url": "http://127.0.0.1:9/x"}}}}}
    with pytest.raises(ConfigError, match="sources.demo.files.f.path"):
        R.resolve(cfg)
    with pytest.raises(ConfigError, match="path"):
        R.fetch(_spec("http://127.0.0.1:9/x", path=path), tmp_path / "cache", **FAST)
    assert not (tmp_path / "outside.csv").exists()


@pytest.mark.parametrize("code", ["..", "../etc", "a/b", "sp..pop", ".sp", "sp pop", ""])
def test_wdi_codes_are_checked_by_pattern(code: str) -> None:
    cfg = yaml.safe_load(SOURCES.read_text())
    with pytest.raises(ConfigError, match="wdi codes"):
        R.resolve(cfg, [code])


def test_record_checksums_rewrites_only_the_changed_value(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    _write(raw / "demo/a.csv", b"a,b\n1,2\n")
    old = "ab" * 32
    text = ("# my comment stays\nsources:\n  demo:\n    files:\n"
            f"      a: {{path: demo/a.csv, url: 'http://127.0.0.1:9/a', sha256: {old}}}\n")
    src = _write(tmp_path / "sources.yaml", text.encode())
    assert R.main(["--sources", str(src), "--snapshot", str(raw), "--record-checksums", "--wdi"]) == 0
    new = R.sha256_file(raw / "demo/a.csv")
    assert src.read_text() == text.replace(old, new)
    spec = R.resolve(yaml.safe_load(src.read_text()))[0]
    assert R.fetch(spec, tmp_path / "cache", snapshot_dir=raw, **FAST) == raw / "demo/a.csv"
