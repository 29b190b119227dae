"""Terminal tables that fit the console (80 columns and up) without cutting a number or a name.

Rich shrinks a table that is wider than the console by wrapping its cells and, where one word is
wider than its column, by cutting it to "…" ("£205.…", "no_effe…").  :func:`show` never lets it:
it gives every column at least its longest word, and when the columns do not fit side by side it
pages them -- the first (label) column repeated, as many other columns as fit on each page -- or,
on a console too narrow even for that, stacks each row as a block of ``header: value`` lines.

Also here: the one label each figure has in every command's terminal output (:func:`figure_label`),
changes of probabilities and shares in percentage points (:func:`change`), and counts of people
without decimals (:func:`count`).
"""

from __future__ import annotations

import math
import re
import textwrap
from typing import Callable, Sequence

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from simsib.report.formatting import money, multiple, number, percent, standard_error
from simsib.report.headlines import HEADLINES

GAP = 3  # columns between two table columns: padding, the (blank) divider, padding
LABEL_WIDTH = 32  # the label column wraps its words beyond this
CELL_WIDTH = 20  # columns of words wrap beyond this (columns of numbers never wrap)
HEADING_WIDTH = 12  # a column's heading up to this long is kept on one line
MIN_WIDTH = 40  # narrower consoles get stacked rows

# Figures that neither the headline table nor the register of labels names; every other figure
# takes its label from one of them.
EXTRA_LABELS = {
    "median_irr": "Median IRR",
    "payment_sd": "Payment standard deviation",
}
_HEADLINE_LABELS = {key: label for label, _, key, _ in HEADLINES}
# Names analyses give figures that summary.json keys otherwise (compare's "loss" is P(loss)).
ALIASES = {"loss": "prob_loss", "median_irr": "irr_median"}

# Units of the formatters, as analyses name them; a "prob" is a probability (shown in %).
FORMATS: dict[str, Callable[[float | None], str]] = {
    "money": money, "percent": percent, "prob": percent, "multiple": multiple, "number": number,
    "people": number, "count": number,
}
SHARES = ("percent", "prob", "share", "probability")  # units whose changes are percentage points


def figure_label(key: str) -> str:
    """The label of a figure (a summary.json key or draws column) in every terminal table: the
    headline table's (``prob_loss`` -> "P(loss): MOIC on drawn < 1"), else the plain short label
    of the register of labels, capitalised."""
    key_in_summary = ALIASES.get(key, key)
    if key_in_summary in _HEADLINE_LABELS:
        return _HEADLINE_LABELS[key_in_summary]
    if key in EXTRA_LABELS:
        return EXTRA_LABELS[key]
    from simsib.scenario.evidence import label

    text = label(key, short=True)
    return text[:1].upper() + text[1:]


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def count(value: float | None) -> str:
    """People (or other counts) without decimals: ``292``, ``1,204``."""
    return number(value, 0)


def estimate(value: float | None, se: float | None, kind: str) -> str:
    """``£6.54m ± £42k``; a probability or share in % (``12.5% ± 2.2%``); counts whole."""
    fmt = FORMATS.get(kind, number)
    if _missing(value):
        return "–"
    if _missing(se):
        return fmt(value)
    return f"{fmt(value)} ± {standard_error(se, kind if kind in FORMATS else 'number')}"


def change(value: float | None, se: float | None, kind: str) -> str:
    """A signed change with its standard error; probabilities and shares in percentage points
    (``+68.0 pp ± 2.9 pp``), never "+68.0%", which reads as a relative change."""
    if _missing(value):
        return "–"
    if kind in SHARES:
        text = f"{100 * value:+.1f} pp".replace("-", "−")
        if _missing(se):
            return text
        points = standard_error(se, "percent").removesuffix("%")
        return f"{text} ± {points} pp"
    fmt = FORMATS.get(kind, number)
    shown = fmt(value)
    signed = shown if shown.startswith(("−", "-", "–")) else "+" + shown
    return signed if _missing(se) else f"{signed} ± {standard_error(se, kind if kind in FORMATS else 'number')}"


def _longest_word(text: str) -> int:
    return max((cell_len(word) for word in text.split()), default=0)


def _widths(header: Sequence[str], rows: Sequence[Sequence[str]], words: set[int]) -> list[int]:
    """Each column's width: a column of numbers its natural width (a figure with its standard error
    stays on one line); the label column and columns of ``words``, their natural width up to a
    cap, beyond which they wrap -- never below their longest word."""
    widths = []
    for j, head in enumerate(header):
        cells = [str(row[j]) for row in rows]
        # A short heading stays on one line ("P(< 0)", not "P(<" over "0)"); a long one wraps.
        heading = cell_len(head) if cell_len(head) <= HEADING_WIDTH else _longest_word(head)
        natural = max([cell_len(c) for c in cells] + [heading], default=0)
        shortest = max([_longest_word(c) for c in cells] + [_longest_word(head)], default=0)
        cap = LABEL_WIDTH if j == 0 else CELL_WIDTH if j in words else natural
        widths.append(max(shortest, min(natural, cap)))
    return widths


_NUMERIC = re.compile(r"^[−+-]?[£$]?\d|^–$")


def text_columns(header: Sequence[str], rows: Sequence[Sequence[str]]) -> set[int]:
    """Columns of words rather than numbers (most filled cells do not start with a number):
    justified left, as text reads; numbers are justified right, so their digits line up."""
    found = set()
    for j in range(1, len(header)):
        cells = [row[j] for row in rows if row[j].strip()]
        if cells and sum(bool(_NUMERIC.match(c)) for c in cells) * 2 < len(cells):
            found.add(j)
    return found


def pages(widths: list[int], width: int, label_range: tuple[int, int] = (0, 0)) -> list[list[int]] | None:
    """The other columns (1, 2, ...) grouped into pages that fit ``width`` beside column 0;
    None when one of them does not fit even alone.

    When every column fits on one page with the label column at the shortest of ``label_range``
    (its longest word, its natural width), the label column takes the room left over, up to its
    natural width (``widths`` is updated): a table does not split over pages just to keep its
    labels on one line.
    """
    shortest, natural = label_range
    others = sum(widths[1:]) + GAP * (len(widths) - 1)
    if shortest and shortest + others <= width:
        widths[0] = min(width - others, natural)
        return [list(range(1, len(widths)))]
    if any(widths[0] + GAP + w > width for w in widths[1:]):
        return None
    grouped: list[list[int]] = [[]]
    used = widths[0]
    for j, w in enumerate(widths[1:], start=1):
        if grouped[-1] and used + GAP + w > width:
            grouped.append([])
            used = widths[0]
        grouped[-1].append(j)
        used += GAP + w
    return grouped


def note(console: Console, text: str, *, indent: str = "", width: int | None = None) -> None:
    """A paragraph wrapped to the console (at most 80 columns), continuation lines indented."""
    width = min(width or console.width, 80)
    lines = textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=indent + "  ",
                          break_long_words=False, break_on_hyphens=False)
    for line in lines:
        console.print(escape(line), highlight=False, soft_wrap=True)


def show(console: Console, title: str | None, header: Sequence[str], rows: Sequence[Sequence[str]], *,
         styles: Sequence[str | None] | None = None, left: Sequence[int] = (0,)) -> None:
    """Print a table that fits the console, paging or stacking its columns rather than cutting.

    Parameters
    ----------
    console : where to print; its width decides the layout
    title : printed once above the table (wrapped), or None
    header : column headings; column 0 labels the rows and is repeated on every page
    rows : cells as text (already formatted)
    styles : a rich style per row (e.g. "dim"), or None
    left : columns justified left besides column 0 and those of words (:func:`text_columns`)
    """
    width = max(console.width, MIN_WIDTH)
    rows = [[str(cell) for cell in row] for row in rows]
    if title:
        note(console, title, width=width)
    words = text_columns(header, rows)
    widths = _widths(header, rows, words)
    labels = [header[0], *(row[0] for row in rows)]
    grouped = pages(widths, width, (max(map(_longest_word, labels)), max(map(cell_len, labels))))
    left = {0, *left, *words}
    if grouped is None:
        _stacked(console, header, rows, width)
        return
    for page, columns in enumerate(grouped):
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1))
        for j in (0, *columns):
            table.add_column(escape(header[j]), width=widths[j], justify="left" if j in left else "right",
                             overflow="fold")
        for i, row in enumerate(rows):
            table.add_row(*(escape(row[j]) for j in (0, *columns)), style=styles[i] if styles else None)
        if page:
            console.print()
        console.print(table, highlight=False)


def _stacked(console: Console, header: Sequence[str], rows: Sequence[Sequence[str]], width: int) -> None:
    """Each row as a block: its label, then one ``heading: value`` line per other column."""
    for row in rows:
        note(console, row[0], width=width)
        for head, cell in zip(header[1:], row[1:]):
            note(console, f"{head}: {cell}", indent="  ", width=width)
