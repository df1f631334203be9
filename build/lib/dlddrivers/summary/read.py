"""Reading a study's result files (``results/<study>/...``) into one object."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

#: Roles whose cells count for the analysis coverage (``carried`` columns are context only).
ANALYSIS_ROLES: tuple[str, ...] = ("outcome", "driver", "impact")


#: Where the validation table is expected, relative to the results folder.
VALIDATION_TABLE = Path("validation") / "expected_error.csv"


@dataclass
class StudyResults:
    """The result files of one study, as read from ``results/<study>/``."""

    name: str
    path: Path
    config: dict = field(default_factory=dict)
    panel: pd.DataFrame | None = None
    coverage: pd.DataFrame | None = None
    dictionary: pd.DataFrame | None = None
    drops: pd.DataFrame | None = None
    #: stage -> table name -> DataFrame, for the stages whose folder exists
    stages: dict[str, dict[str, pd.DataFrame]] = field(default_factory=dict)
    #: stages expected but whose folder does not exist
    missing_stages: list[str] = field(default_factory=list)

    def table(self, stage: str, name: str) -> pd.DataFrame | None:
        """A stage table, or None when the stage or the table is absent."""
        return self.stages.get(stage, {}).get(name)


def _read_csv(path: Path, **kw: object) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path, **kw)  # type: ignore[arg-type]
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def stage_names() -> list[str]:
    """The registered panel stages in pipeline order (:data:`dlddrivers.stages.STAGES`)."""
    from ..stages import STAGES

    return list(STAGES)


def read_study(study_dir: str | Path, stages: Sequence[str] | None = None) -> StudyResults:
    """Read the panel, coverage, dictionary, drops and every stage table of one study
    (``stages``: default every registered panel stage)."""
    d = Path(study_dir)
    res = StudyResults(name=d.name, path=d)
    prov = d / "provenance.json"
    if prov.is_file():
        pj = json.loads(prov.read_text())
        # the study definition: in the panel's config slice (older runs: `study_config`)
        res.config = dict((pj.get("config_slice") or {}).get("study") or pj.get("study_config") or {})
    if (d / "panel.parquet").is_file():
        res.panel = pd.read_parquet(d / "panel.parquet")
    elif (d / "panel.csv").is_file():
        res.panel = pd.read_csv(d / "panel.csv")
    res.coverage = _read_csv(d / "coverage.csv")
    res.dictionary = _read_csv(d / "data_dictionary.csv", keep_default_na=False)
    res.drops = _read_csv(d / "drops.csv")
    for stage in stage_names() if stages is None else stages:
        sd = d / stage
        if not sd.is_dir():
            res.missing_stages.append(stage)
            continue
        res.stages[stage] = {p.stem: t for p in sorted(sd.glob("*.csv"))
                             if (t := _read_csv(p)) is not None}
    return res
