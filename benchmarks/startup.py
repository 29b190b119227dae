"""Time to the first answer: wall time of whole `simsib` commands, as a user waits for them.

    python benchmarks/startup.py                # 5 runs of each command, median and spread
    python benchmarks/startup.py --repeat 9

Each command runs as a fresh process (interpreter start-up, imports, numba's cache load, the
work, writing outputs), one after the other; the median of ``--repeat`` runs is reported with
the fastest and slowest, because other tenants of a shared machine only ever add time.  The
first run of all warms the numba cache and the OS file cache and is not counted.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (label, arguments after `simsib`, target in seconds on the reference machine)
COMMANDS = (
    ("simsib --version", ["--version"], 0.3),
    ("simsib validate scenarios/essex.toml", ["validate", "scenarios/essex.toml"], 0.6),
    ("simsib run --draws 10000", ["run", "--draws", "10000", "--seed", "1", "--quiet", "--out", "{out}"], 1.0),
    ("simsib run --precision investor.prob_loss=0.005",
     ["run", "--precision", "investor.prob_loss=0.005", "--seed", "1", "--quiet", "--out", "{out}"], 2.0),
)


def time_command(args: list[str], out: Path) -> float:
    argv = [sys.executable, "-m", "simsib", *(a.format(out=out) for a in args)]
    started = time.perf_counter()
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of each command (default 5)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        for _, command, _ in COMMANDS:  # warm-up, not counted
            time_command(command, out)
        print(f"{'command':<40} {'median':>8} {'fastest':>8} {'slowest':>8} {'target':>8}")
        for label, command, target in COMMANDS:
            times = [time_command(command, out) for _ in range(args.repeat)]
            median = statistics.median(times)
            verdict = "met" if median <= target else "MISSED"
            print(f"{label:<40} {median:7.2f}s {min(times):7.2f}s {max(times):7.2f}s {target:7.1f}s  {verdict}")


if __name__ == "__main__":
    main()
