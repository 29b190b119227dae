"""Observations files: what a running contract has seen, as a tidy CSV, read strictly.

One row per published or recorded figure::

    month,series,cohort,value,sd,source
    20,referrals_to_date,,75,,"E12: year 1 to November 2014"
    21,completions_to_date,,24,,"E12"

Columns (``docs/observations.md`` is the reference):

* ``quarter`` *or* ``month`` (one of them, for the whole file): ``quarter`` is the quarter index as
  in ``quarterly.csv`` (0 = months 0-2 of the contract); ``month`` is the number of months from
  the contract start at which the figure was measured (``20``: the end of the 20th month).  A
  per-quarter figure is for that quarter; a ``*_to_date`` figure counts everything up to its end.
* ``series``: one of :data:`SERIES`.
* ``cohort`` (optional): the quarterly start cohort (the quarter its young people started), for
  the series that can be split by cohort; empty means every cohort.
* ``value``: the figure.  Counts are whole numbers, days and £ are 0 or more, shares lie in [0, 1].
* ``sd`` (optional): the figure's measurement error as a standard deviation, in its own unit,
  replacing the default observation model of :mod:`simsib.analysis.likelihood`.
* ``source`` (optional): where the figure comes from (an evidence id, a report).

Lines starting with ``#`` and blank lines are skipped.  Every problem is reported at once as a
:class:`~simsib.scenario.errors.ScenarioError` naming the file, the line, the column, the value
and what was expected; unknown columns and series are errors, with a "did you mean".
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from simsib.model.outcomes import MONTHS_PER_QUARTER
from simsib.run.observables import baseline_mechanism
from simsib.scenario.errors import Problem, ScenarioError, did_you_mean
from simsib.scenario.format import Scenario

BUNDLED = Path(__file__).resolve().parent.parent / "scenarios" / "observed"
TIME_COLUMNS = ("quarter", "month")
COLUMNS = (*TIME_COLUMNS, "series", "cohort", "value", "sd", "source")


@dataclass(frozen=True)
class Series:
    """An observable figure: what it counts, in what unit, at what resolution.

    base : the per-draw series it is read from (:func:`simsib.run.observables.observable_series`);
        a share is ``base`` ÷ ``denominator``
    kind : ``count``, ``days``, ``money``, ``share`` or ``signed_days`` (may be negative)
    to_date : summed from the contract start to the end of the period (else within its quarter)
    monthly : may be given at any month end (else only at quarter ends)
    by_cohort : may name a start cohort
    """

    name: str
    base: str
    kind: str
    to_date: bool
    monthly: bool = False
    by_cohort: bool = False
    denominator: str | None = None
    description: str = ""


def _pair(base: str, kind: str, what: str, *, monthly: bool = False, by_cohort: bool = False) -> list[Series]:
    return [
        Series(base, base, kind, False, False, by_cohort, description=f"{what} in the quarter"),
        Series(f"{base}_to_date", base, kind, True, monthly, by_cohort, description=f"{what} since the contract began"),
    ]


SERIES: dict[str, Series] = {s.name: s for s in [
    *_pair("referrals", "count", "referrals, converting or not", monthly=True),
    *_pair("starts", "count", "young people starting the service", monthly=True),
    *_pair("completions", "count", "young people completing therapy (counted when it ends)", by_cohort=True),
    *_pair("care_days", "days", "days in care of served young people, inside their tracking windows", by_cohort=True),
    *_pair("child_days", "days", "child-days (days under 18) inside the tracking windows", by_cohort=True),
    *_pair("care_days_saved", "signed_days", "care days saved against the contract's baseline proportion"),
    *_pair("events", "count", "events (reconvictions, readmissions) of served people, treated paths", by_cohort=True),
    *_pair("payments", "money", "outcome payments made by the council (£)"),
    Series("payments_made_to_date", "payments_made", "count", True,
           description="quarters in which an outcome payment was made"),
    Series("care_proportion", "care_days", "share", False, by_cohort=True, denominator="child_days",
           description="care days ÷ child-days in the quarter"),
    Series("care_proportion_to_date", "care_days", "share", True, by_cohort=True, denominator="child_days",
           description="care days ÷ child-days since the contract began"),
]}


@dataclass(frozen=True)
class Observation:
    """One row of an observations file.

    month_end : months from the contract start at the moment the figure was measured; a
        quarter's figure has ``month_end = 3 · (quarter + 1)``
    """

    line: int
    series: str
    month_end: int
    cohort: int | None
    value: float
    sd: float | None = None
    source: str = ""

    @property
    def quarter(self) -> int:
        """The quarter holding the last month the figure covers."""
        return (self.month_end - 1) // MONTHS_PER_QUARTER

    @property
    def kind(self) -> str:
        return SERIES[self.series].kind

    @property
    def key(self) -> tuple[str, int, int | None]:
        return self.series, self.month_end, self.cohort

    @property
    def label(self) -> str:
        """``series@month`` (and ``[cohort c]``): how tables and messages name the row."""
        cohort = f"[cohort {self.cohort}]" if self.cohort is not None else ""
        return f"{self.series}{cohort}@month {self.month_end}"


@dataclass(frozen=True)
class Observations:
    """The rows of one or more observations files, in file order."""

    rows: tuple[Observation, ...]
    file: str = ""

    @property
    def review_quarter(self) -> int:
        """The first quarter not yet observed: the review date, in quarters from the start."""
        return max(row.quarter for row in self.rows) + 1

    @property
    def needs_cohorts(self) -> bool:
        return any(row.cohort is not None for row in self.rows)

    @property
    def series_used(self) -> list[str]:
        return list(dict.fromkeys(row.series for row in self.rows))

    def __len__(self) -> int:
        return len(self.rows)

    def columns(self, part: Observations) -> list[int]:
        """Positions among these rows of the rows of ``part`` (matched by series, time and cohort)."""
        position = {row.key: j for j, row in enumerate(self.rows)}
        return [position[row.key] for row in part.rows]

    @staticmethod
    def union(sets: Sequence[Observations]) -> Observations:
        """Every distinct row (by series, time and cohort) of ``sets``, first occurrence first."""
        rows: dict[tuple, Observation] = {}
        for observations in sets:
            for row in observations.rows:
                rows.setdefault(row.key, row)
        return Observations(tuple(rows.values()), sets[-1].file if sets else "")

    def and_then(self, later: Observations) -> Observations:
        """These rows followed by ``later``'s: what is known at a later review."""
        files = " + ".join(f for f in (self.file, later.file) if f)
        return Observations(self.rows + later.rows, files)


# --- reading -------------------------------------------------------------------------------


def observations_path(name: str | Path) -> Path:
    """A file path, or the name of a bundled observations file (``essex-year1``)."""
    path = Path(name)
    if path.exists() or path.suffix == ".csv" or len(path.parts) > 1:
        return path
    bundled = BUNDLED / f"{name}.csv"
    return bundled if bundled.exists() else path


def bundled_names() -> list[str]:
    return sorted(p.stem for p in BUNDLED.glob("*.csv"))


def read_observations(name: str | Path, scenario: Scenario | None = None) -> Observations:
    """Read and check an observations file (against ``scenario``'s timeline when given)."""
    path = observations_path(name)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        names = ", ".join(bundled_names())
        raise ScenarioError.single("", f"no such observations file (bundled: {names})", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError.single("", f"cannot read the file as UTF-8 text: {exc}", file=str(path)) from None
    # A bundled file goes by its name, a file by its path as given.
    observations = parse_observations(text, file=str(name) if path.parent == BUNDLED else str(path))
    if scenario is not None:
        check_against(observations, scenario)
    return observations


def _content_lines(text: str) -> Iterable[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            yield number, line


def parse_observations(text: str, file: str = "") -> Observations:
    """Rows of an observations CSV (``text``); every problem at once as a :class:`ScenarioError`."""
    lines = list(_content_lines(text))
    if not lines:
        raise ScenarioError.single("", "no header and no rows: expected a CSV with columns "
                                   "quarter or month, series, value", file=file)
    records = list(csv.reader(io.StringIO("\n".join(line for _, line in lines))))
    header_line, header = lines[0][0], [h.strip() for h in records[0]]
    problems = _header_problems(header, header_line)
    if problems:
        raise ScenarioError(problems, file=file)
    time_column = next(c for c in TIME_COLUMNS if c in header)
    rows: list[Observation] = []
    seen: dict[tuple, int] = {}
    for (number, _), record in zip(lines[1:], records[1:]):
        if len(record) != len(header):
            problems.append(Problem(f"line {number}", f"expected {len(header)} comma-separated cells "
                                    f"({', '.join(header)}), found {len(record)}"))
            continue
        cells = {column: cell.strip() for column, cell in zip(header, record)}
        row, row_problems = _row(cells, number, time_column)
        problems += row_problems
        if row is None:
            continue
        key = (row.series, row.month_end, row.cohort)
        if key in seen:
            problems.append(Problem(f"line {number}", f"repeats line {seen[key]} (the same series, time "
                                    "and cohort): give each figure once"))
        seen.setdefault(key, number)
        rows.append(row)
    if not rows and not problems:
        problems.append(Problem("", "the file has a header but no rows"))
    if problems:
        raise ScenarioError(problems, file=file)
    return Observations(tuple(rows), file)


def _header_problems(header: Sequence[str], line: int) -> list[Problem]:
    problems = []
    for column in header:
        if column not in COLUMNS:
            problems.append(Problem(f"line {line}", "unknown column", value=column, has_value=True,
                                    choices=COLUMNS, suggestion=did_you_mean(column, COLUMNS)))
    for column in dict.fromkeys(c for c in header if header.count(c) > 1):
        problems.append(Problem(f"line {line}", f"column {column!r} appears more than once"))
    times = [c for c in TIME_COLUMNS if c in header]
    if len(times) != 1:
        problems.append(Problem(f"line {line}", "expected exactly one time column, 'quarter' or 'month'"
                                + (f" (found {' and '.join(times)})" if times else "")))
    for column in ("series", "value"):
        if column not in header:
            problems.append(Problem(f"line {line}", f"missing the column {column!r}"))
    return problems


def _integer(text: str) -> int | None:
    try:
        value = int(text)
    except ValueError:
        return None
    return value


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _row(cells: dict[str, str], line: int, time_column: str) -> tuple[Observation | None, list[Problem]]:
    """One row, or the problems with it."""
    problems: list[Problem] = []

    def bad(column: str, message: str, value: str, **extra) -> None:
        problems.append(Problem(f"line {line}, column {column}", message, value=value, has_value=True, **extra))

    name = cells["series"]
    series = SERIES.get(name)
    if series is None:
        bad("series", "unknown series", name, suggestion=did_you_mean(name, SERIES), choices=tuple(SERIES))
    time_text = cells[time_column]
    time = _integer(time_text)
    month_end = None
    if time_column == "quarter":
        if time is None or time < 0:
            bad("quarter", "expected a whole quarter index, 0 or more (0 is the contract's first quarter)", time_text)
        else:
            month_end = MONTHS_PER_QUARTER * (time + 1)
    elif time is None or time < 1:
        bad("month", "expected a whole number of months since the contract began, 1 or more", time_text)
    elif series is not None and not series.monthly and time % MONTHS_PER_QUARTER:
        bad("month", f"{name} is known by quarter: expected a quarter end (a multiple of 3)", time_text)
    else:
        month_end = time
    cohort_text = cells.get("cohort", "")
    cohort = None
    if cohort_text:
        cohort = _integer(cohort_text)
        if cohort is None or cohort < 0:
            bad("cohort", "expected a start cohort: the whole quarter index in which its young people started, "
                "0 or more (or empty for every cohort)", cohort_text)
            cohort = None
        elif series is not None and not series.by_cohort:
            bad("cohort", f"{name} is not split by cohort: leave the cell empty", cohort_text)
    value_text = cells["value"]
    value = _number(value_text)
    if value is None:
        bad("value", "expected a number", value_text)
    elif series is not None:
        expected = _value_problem(series, value)
        if expected:
            bad("value", expected, value_text)
    sd_text = cells.get("sd", "")
    sd = None
    if sd_text:
        sd = _number(sd_text)
        if sd is None or sd <= 0:
            bad("sd", "expected the measurement error's standard deviation: a number above 0 (or empty)", sd_text)
            sd = None
    if problems:
        return None, problems
    return Observation(line, name, month_end, cohort, value, sd, cells.get("source", "")), []


def _value_problem(series: Series, value: float) -> str | None:
    """What was expected of a value of ``series``, or None when ``value`` is fine."""
    if series.kind == "count" and (value < 0 or value != int(value)):
        return "expected a whole number, 0 or more"
    if series.kind in ("days", "money") and value < 0:
        return "expected 0 or more"
    if series.kind == "share" and not 0.0 <= value <= 1.0:
        return "expected a share between 0 and 1 (10.8% is 0.108)"
    return None


def check_against(observations: Observations, scenario: Scenario) -> None:
    """Every row must fall inside ``scenario``'s timeline and name what it can measure."""
    problems = []
    n_quarters, n_cohorts = scenario.n_quarters, scenario.n_cohorts
    for row in observations.rows:
        if row.quarter >= n_quarters:
            problems.append(Problem(f"line {row.line}", f"{row.label} is after the contract's last quarter "
                                    f"(quarter {n_quarters - 1}, month {MONTHS_PER_QUARTER * n_quarters})"))
        if row.cohort is not None and row.cohort >= n_cohorts:
            problems.append(Problem(f"line {row.line}, column cohort", f"the scenario has start cohorts "
                                    f"0 to {n_cohorts - 1}", value=row.cohort, has_value=True))
        if SERIES[row.series].base == "care_days_saved" and baseline_mechanism(scenario) is None:
            problems.append(Problem(f"line {row.line}, column series", "care days saved need a "
                                    "days_saved_vs_baseline mechanism (its baseline), which the scenario lacks",
                                    value=row.series, has_value=True))
    if problems:
        raise ScenarioError(problems, file=observations.file)


def write_observations(path: Path, rows: Sequence[Observation], *, header_comment: str = "") -> None:
    """Write rows as an observations CSV with a ``quarter`` column when every row is at a quarter
    end, else ``month``."""
    by_quarter = all(row.month_end % MONTHS_PER_QUARTER == 0 for row in rows)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        for line in header_comment.splitlines():
            handle.write(f"# {line}\n")
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["quarter" if by_quarter else "month", "series", "cohort", "value", "source"])
        for row in rows:
            time = row.month_end // MONTHS_PER_QUARTER - 1 if by_quarter else row.month_end
            value = int(row.value) if SERIES[row.series].kind == "count" else repr(float(row.value))
            writer.writerow([time, row.series, "" if row.cohort is None else row.cohort, value, row.source])

