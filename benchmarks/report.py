"""What a report costs: wall time of each stage of ``simsib report`` on a run folder.

    python benchmarks/report.py                  # runs of 2,000 and 100,000 draws
    python benchmarks/report.py --draws 20000

For each size a run folder is made once (not timed), then the report's stages are timed in one
process, after one untimed report that warms imports and fonts: the driver analysis from the
run's own draws (:func:`simsib.report.driver_section.analyse`), every figure (drawn and saved as
PNG and SVG), the HTML and Markdown, and the workbook (``--xlsx``).  The fastest of ``--repeat``
runs is printed, as other tenants of a shared machine only ever add time.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def stages(run_dir: Path, out: Path) -> dict[str, float]:
    from simsib.report import document, driver_section, workbook
    from simsib.report.tables import read_run

    run = read_run(run_dir)
    found: dict = {}
    times = {"drivers": timed(lambda: found.update(result=driver_section.analyse(run)))}
    fig_dir = out / document.FIGURES_DIR
    fig_dir.mkdir(parents=True, exist_ok=True)
    rendered: list = []
    times["figures"] = timed(lambda: rendered.extend(
        (spec, document.render_figure(spec, fig_dir)) for spec in document.figure_specs(run, found["result"])))

    def pages() -> None:
        context = document.report_context(run, rendered, found["result"])
        (out / document.HTML_FILE).write_text(document.render_html(context))
        (out / document.MARKDOWN_FILE).write_text(document.render_markdown(context))

    times["html and markdown"] = timed(pages)
    times["workbook"] = timed(lambda: workbook.write_xlsx(run_dir, out / workbook.XLSX_FILE))
    times["total"] = sum(times.values())
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, nargs="*", default=[2_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for draws in args.draws:
            run_dir = Path(tmp) / f"run{draws}"
            subprocess.run([sys.executable, "-m", "simsib", "run", "--draws", str(draws), "--seed", "1", "--quiet",
                            "--out", str(run_dir)], cwd=ROOT, check=True, capture_output=True)
            stages(run_dir, Path(tmp) / "warm")
            best: dict[str, float] = {}
            for i in range(args.repeat):
                for name, seconds in stages(run_dir, Path(tmp) / f"out{i}").items():
                    best[name] = min(best.get(name, seconds), seconds)
            print(f"{draws:,} draws: " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in best.items()))


if __name__ == "__main__":
    main()
