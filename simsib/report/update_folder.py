"""Writing a re-forecast as a run folder: the posterior, shaped like ``simsib run``'s, plus the update.

Files (written into a staging folder and moved into place whole, as a run's are):

* ``summary.json``, ``draws.parquet``, ``quarterly.csv``, ``manifest.json``, ``scenario.toml`` --
  as ``simsib run`` writes them, for the posterior draws (equally weighted; standard errors
  from the effective sample size), so ``simsib report`` and every reader of a run folder work
  on it; ``summary.json`` adds a ``review`` section (money to date and to come);
* ``update.json`` -- :func:`simsib.analysis.posterior.update_report`;
* ``observations.csv`` -- each observed figure beside its prior and posterior predictive;
* ``stages.csv`` -- the forecast at signing and after each review;
* ``update.md`` -- all of it in words and tables (:mod:`simsib.report.update`).
"""

from __future__ import annotations

import platform
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from simsib.analysis.posterior import decision_rows, stage_rows, update_report
from simsib.analysis.update import UpdateResult
from simsib.report.update import FIT_FILE, STAGES_FILE, UPDATE_FILE, UPDATE_MARKDOWN, fit_table, update_markdown
from simsib.run.folder import write_scenario
from simsib.run.outputs import (
    DRAWS_FILE,
    MANIFEST_FILE,
    QUARTERLY_FILE,
    SCENARIO_FILE,
    SUMMARY_FILE,
    publish,
    staging_folder,
    write_json,
)
from simsib.run.summary import write_quarterly_csv


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def write_update_folder(
    results: Sequence[UpdateResult],
    raw_scenario: dict[str, Any],
    out_dir: Path,
    *,
    command: Sequence[str] = (),
    report: bool = False,
    xlsx: bool = False,
) -> Path:
    """Write the last stage's posterior and every stage's summary into ``out_dir`` atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    result = results[-1]
    out_dir = Path(out_dir)
    staging = staging_folder(out_dir)
    try:
        draws = result.draws.copy()
        draws.insert(0, "draw", np.arange(len(draws), dtype=np.int64))
        pq.write_table(pa.Table.from_pandas(draws, preserve_index=False), staging / DRAWS_FILE)
        write_json(staging / SUMMARY_FILE, _clean(result.summary_dict))
        write_quarterly_csv(staging / QUARTERLY_FILE, {c: result.quarterly[c].tolist() for c in result.quarterly})
        write_scenario(staging / SCENARIO_FILE, raw_scenario)
        content = _clean(update_report(result))
        stages = stage_rows(list(results))
        content["stages"] = _clean(stages)
        content["stage_decisions"] = _clean([{"observations": r.observations.file, "review_quarter": r.review_quarter,
                                              "rows": decision_rows(r)} for r in results])
        write_json(staging / UPDATE_FILE, content)
        fit_table(content["fit"]).to_csv(staging / FIT_FILE, index=False)
        pd.DataFrame(stages).to_csv(staging / STAGES_FILE, index=False)
        (staging / UPDATE_MARKDOWN).write_text(update_markdown(content, result.summary_dict))
        write_json(staging / MANIFEST_FILE, {
            **result.header,
            "command": list(command),
            "observations": [r.observations.file for r in results],
            "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "timings_seconds": {"prior": round(result.pool.seconds, 3),
                                "posterior": round(result.diagnostics.assemble_seconds, 3)},
            "python": sys.version.split()[0], "numpy": np.__version__, "platform": platform.platform(),
        })
        if report or xlsx:
            from simsib.report.document import XLSX_FILE, write_report, write_xlsx

            if report:
                write_report(staging)
            if xlsx:
                write_xlsx(staging, staging / XLSX_FILE)
        publish(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir

