"""Online path end to end: with no snapshot, the workflow downloads every raw file from its
provider URL into the cache and builds the same panel as offline.

The "providers" are a real HTTP server on 127.0.0.1 serving the snapshot's files (and, for the
climate files, the parquet that the provider publishes, rebuilt from the snapshot CSV), so the
download, extraction and conversion code paths all run.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.slow


@pytest.fixture()
def provider(snapshot, tmp_path):
    root = tmp_path / "provider"
    sources = yaml.safe_load(open("config/sources.yaml"))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))

    class Quiet(handler.func):  # type: ignore[misc,name-defined]
        def log_message(self, *args):  # noqa: D401 - silence the test server
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    base = f"http://127.0.0.1:{server.server_address[1]}"
    for _name, src in sources["sources"].items():
        for key, f in src["files"].items():
            if "{code}" in f["path"]:
                for code in f.get("sha256_by_code", {}):
                    rel = f["path"].format(code=code)
                    (root / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(snapshot / rel, root / rel)
                f["url"] = f"{base}/" + f["path"]
                f.pop("api_url", None)
                continue
            rel = f["path"]
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            if f.get("convert") == "parquet_to_csv_gz":
                served = rel.replace(".csv.gz", ".parquet")
                df = pd.read_csv(snapshot / rel, dtype={"Date": str})
                df.to_parquet(root / served, index=False)
                f["url"] = f"{base}/{served}"
            else:
                shutil.copy(snapshot / rel, root / rel)
                f["url"] = f"{base}/{rel}"
            del key
    cfg_path = tmp_path / "sources.yaml"
    cfg_path.write_text(yaml.safe_dump(sources, sort_keys=False))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield cfg_path
    server.shutdown()
    server.server_close()


def test_online_run_downloads_and_matches_offline(repo, snapshot, provider, tmp_path):
    exe = shutil.which("snakemake") or str(Path(sys.executable).parent / "snakemake")
    cache = tmp_path / "cache"
    online = tmp_path / "online"
    offline = tmp_path / "offline"
    common = ["--cores", "2", "--config", "run=[neasia,mongolia_aimag]"]
    targets = lambda out: [f"{out}/{s}/panel.parquet" for s in ("neasia", "mongolia_aimag")]  # noqa: E731
    r = subprocess.run([exe, *targets(online), *common, f"sources={provider}", f"raw_dir={cache}",
                        f"results_dir={online}"], cwd=repo, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    # every file the study needs is now in the cache, with nothing partial left behind
    cached = [p for p in cache.rglob("*") if p.is_file()]
    assert cached and not [p for p in cached if p.name.endswith(".part") or ".tmp" in p.name]
    r = subprocess.run([exe, *targets(offline), *common, f"snapshot_dir={snapshot}", f"results_dir={offline}"],
                       cwd=repo, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    a = pd.read_parquet(online / "mongolia_aimag/panel.parquet")
    b = pd.read_parquet(offline / "mongolia_aimag/panel.parquet")
    pd.testing.assert_frame_equal(a, b)
    # a second online run does not fetch again (nothing to do)
    r = subprocess.run([exe, *targets(online), *common, f"sources={provider}", f"raw_dir={cache}",
                        f"results_dir={online}", "-n"], cwd=repo, capture_output=True, text=True, timeout=600)
    assert "Nothing to be done" in r.stdout + r.stderr
    a = pd.read_parquet(online / "neasia/panel.parquet")
    b = pd.read_parquet(offline / "neasia/panel.parquet")
    pd.testing.assert_frame_equal(a, b)
