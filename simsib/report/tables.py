"""Reading a run folder, and the tables of a report: headlines, assumptions, provenance.

A run folder (``simsib run --out DIR``) holds ``summary.json``, ``draws.parquet``,
``quarterly.csv``, ``manifest.json`` and ``scenario.toml``, and ``sensitivity.csv`` when
``simsib sensitivity`` has added one.  :class:`RunFolder` reads the small files at once and the
per-draw table one column at a time, so a run of millions of draws never needs the whole table in
memory.  The table builders here are shared by the HTML and Markdown report and the workbook.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from pydantic import BaseModel

from simsib import __version__
from simsib.report.formatting import money, multiple, number, percent, standard_error
from simsib.report.headlines import headlines, shown
from simsib.run.outputs import DRAWS_FILE, MANIFEST_FILE, QUARTERLY_FILE, SCENARIO_FILE, SUMMARY_FILE
from simsib.scenario.errors import ScenarioError
from simsib.scenario.format import Scenario, all_quantities
from simsib.scenario.loader import load_scenario
from simsib.scenario.variants import raw_at

SENSITIVITY_FILE = "sensitivity.csv"
CONVERGENCE_FILE = "convergence.csv"  # running estimates against draws (simsib.run.precision)
REQUIRED_FILES = (SUMMARY_FILE, DRAWS_FILE, QUARTERLY_FILE, MANIFEST_FILE, SCENARIO_FILE)
_BASE_FORMATS: dict[str, Callable[[Any], str]] = {
    "multiple": multiple, "percent": percent, "money": money, "number": number, "prob": percent,
}


def _formatter(kind: str, digits: int | None = None) -> Callable[[Any], str]:
    """The shared formatter for ``kind``, with a true minus sign (as in the figures)."""
    base = _BASE_FORMATS[kind]
    if digits is not None and kind == "number":
        return lambda v: number(v, digits).replace("-", "−")
    return lambda v: base(v).replace("-", "−")


FORMATTERS = {kind: _formatter(kind) for kind in _BASE_FORMATS}
# Standard errors keep two significant digits when below their figure's display precision.
SE_FORMATTERS = {kind: (lambda v, kind=kind: standard_error(v, kind)) for kind in _BASE_FORMATS}
_EVIDENCE_ID = re.compile(r"\bE\d+\b")


# --- reading a run folder -----------------------------------------------------------------


@dataclass
class RunFolder:
    """The files of one complete run, read lazily where they are large (the draws)."""

    path: Path
    summary: dict[str, Any]
    manifest: dict[str, Any]
    quarterly: pd.DataFrame
    scenario: Scenario
    raw_scenario: dict[str, Any]
    sensitivity: pd.DataFrame | None = field(default=None)
    convergence: pd.DataFrame | None = field(default=None)  # absent from folders of older simsibs

    def column(self, name: str) -> np.ndarray:
        """One per-draw column as float64, shape (n_draws,)."""
        table = pq.read_table(self.path / DRAWS_FILE, columns=[name])
        return table.column(0).to_numpy(zero_copy_only=False).astype(float)

    def head(self, columns: list[str], rows: int) -> pd.DataFrame:
        """The first ``rows`` draws of ``columns``."""
        batches = pq.ParquetFile(self.path / DRAWS_FILE).iter_batches(batch_size=rows, columns=columns)
        return next(batches).to_pandas()

    def bands(self, series: str) -> pd.DataFrame:
        """Quarterly percentile bands of one series, in quarter order."""
        return self.quarterly[self.quarterly["series"] == series].sort_values("quarter")


def read_run(run_dir: Path) -> RunFolder:
    """Read a complete run folder; a missing file is a :class:`ScenarioError` naming it."""
    run_dir = Path(run_dir)
    missing = [name for name in REQUIRED_FILES if not (run_dir / name).is_file()]
    if missing:
        raise ScenarioError.single(
            "RUN_DIR", f"not a complete simsib run folder: missing {', '.join(missing)} "
            "(make one with `simsib run --out DIR`)", value=str(run_dir))
    sensitivity_path = run_dir / SENSITIVITY_FILE
    return RunFolder(
        path=run_dir,
        summary=json.loads((run_dir / SUMMARY_FILE).read_text()),
        manifest=json.loads((run_dir / MANIFEST_FILE).read_text()),
        quarterly=pd.read_csv(run_dir / QUARTERLY_FILE),
        scenario=load_scenario(run_dir / SCENARIO_FILE),
        raw_scenario=tomllib.loads((run_dir / SCENARIO_FILE).read_text()),
        sensitivity=pd.read_csv(sensitivity_path) if sensitivity_path.is_file() else None,
        convergence=pd.read_csv(run_dir / CONVERGENCE_FILE) if (run_dir / CONVERGENCE_FILE).is_file() else None,
    )


# --- tables --------------------------------------------------------------------------------


def headline_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The headline figures: label, kind, raw numbers and their formatted text."""
    rows = []
    for label, section, key, kind in headlines(summary):
        stats = shown(summary, section, key)
        if stats is None:
            continue
        fmt = FORMATTERS[kind]
        central = stats["value"] if "value" in stats else stats.get("mean")
        row = {"label": label, "kind": kind, "metric": f"{section}.{key}", "mean": central,
               "se": stats.get("se"), "p05": stats.get("p05"), "p50": stats.get("p50"), "p95": stats.get("p95")}
        row["text"] = {k: (SE_FORMATTERS[kind] if k == "se" else fmt)(row[k]) if row[k] is not None else ""
                       for k in ("mean", "se", "p05", "p50", "p95")}
        row["note"] = stats.get("reason") if central is None else None  # why a figure has no value
        if central is None:
            row["text"]["mean"] = "–"
        rows.append(row)
    return rows


def payment_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Payments per mechanism and per payer, and the payments without any effect: rows as
    :func:`headline_rows`, from the ``council.paid_*`` entries of summary.json."""
    council = summary.get("council", {})
    rows = []
    for key, stats in council.items():
        if key.startswith("paid_mechanism_"):
            label = f"mechanism {key.removeprefix('paid_mechanism_')}: {stats.get('type', '')}".rstrip(": ")
        elif key.startswith("paid_payer_"):
            label = f"paid by {key.removeprefix('paid_payer_').replace('_', ' ')}"
        elif key == "payments_without_effect":
            label = "had the service no effect"
        else:
            continue
        row = {"label": label, "metric": f"council.{key}",
               **{k: stats.get(k) for k in ("mean", "se", "p05", "p50", "p95")}}
        row["text"] = {k: (SE_FORMATTERS["money"] if k == "se" else FORMATTERS["money"])(row[k])
                       if row[k] is not None else "" for k in ("mean", "se", "p05", "p50", "p95")}
        rows.append(row)
    return rows


def evidence_ids(node: Any) -> list[str]:
    """Evidence ids (``E12``) cited anywhere in a source string or a nested distribution."""
    found: list[str] = []

    def visit(value: Any) -> None:
        if isinstance(value, str):
            found.extend(_EVIDENCE_ID.findall(value))
        elif isinstance(value, dict):
            for item in value.values():
                visit(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                visit(item)

    visit(node.model_dump() if isinstance(node, BaseModel) else node)
    return list(dict.fromkeys(found))


def assumption_rows(scenario: Scenario, raw: dict[str, Any]) -> list[dict[str, str]]:
    """Every scenario input with its value or distribution and its sources, in file order.

    ``kind`` is *uncertain* (drawn once per draw), *fixed*, *per person* (drawn per young person)
    or *structural* (a setting that shapes the simulation, such as a window in months).
    """
    per_draw = all_quantities(scenario)
    rows: list[dict[str, str]] = []

    def add(key: str, value: str, kind: str, source: str | None, cited: Any) -> None:
        rows.append({"key": key, "value": value, "kind": kind, "source": source or "",
                     "evidence": ", ".join(evidence_ids(cited))})

    def walk(node: Any, prefix: str) -> None:
        if hasattr(node, "from_uniforms"):
            kind = ("fixed" if node.is_fixed else "uncertain") if prefix in per_draw else "per person"
            add(prefix, node.describe(), kind, node.source, node)
        elif isinstance(node, BaseModel):
            for name in type(node).model_fields:
                walk(getattr(node, name), f"{prefix}.{name}")
        elif isinstance(node, (list, tuple)):
            for i, item in enumerate(node):
                walk(item, f"{prefix}.{i}")
        elif node is not None and prefix.rsplit(".", 1)[-1] != "source":
            cited = raw_at(raw, prefix)
            source = cited.get("source") if isinstance(cited, dict) else None
            add(prefix, _plain(node), "structural", source, source)

    for section in ("referrals", "population", "effect", "care", "contract", "spv"):
        walk(getattr(scenario, section), section)
    for i, corr in enumerate(scenario.correlations):
        rank = f"{corr.rank:+.2f}".replace("-", "−")
        add(f"correlations.{i}", f"rank correlation {rank} between {' and '.join(corr.between)}",
            "structural", corr.source, corr.source)
    return rows


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def provenance_rows(run: RunFolder) -> list[tuple[str, str]]:
    """What identifies the run and how it was made: (item, value)."""
    s, m = run.summary, run.manifest
    seed = s.get("seed")
    return [
        ("Scenario", f"{s.get('scenario')} — {run.scenario.meta.description}".rstrip(" —")),
        ("Scenario SHA-256", str(s.get("scenario_sha256"))),
        ("Draws", number(s.get("draws"))),
        ("Seed", str(seed) if seed is not None else f"unseeded (entropy {s.get('seed_entropy')})"),
        ("Seed entropy", str(s.get("seed_entropy"))),
        ("Chunk size", number(s.get("chunk_size"))),
        ("simsib version (run)", str(s.get("simsib_version"))),
        ("Run created (UTC)", str(m.get("created_utc", "–"))),
        ("Command", " ".join(m.get("command", [])) or "–"),
        ("Executor, workers", f"{m.get('executor', '–')}, {m.get('workers', '–')}"),
        ("Python, NumPy, platform", f"{m.get('python', '–')}, {m.get('numpy', '–')}, {m.get('platform', '–')}"),
        ("Evidence cited by the scenario", ", ".join(run.scenario.meta.sources) or "–"),
        ("Report written (UTC)", f"{datetime.now(timezone.utc).isoformat(timespec='seconds')} by simsib {__version__}"),
    ]


