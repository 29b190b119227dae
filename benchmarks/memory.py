"""Peak memory of a large run: ``simsib run --draws 1000000 --workers 2`` of the Essex scenario.

Runs the CLI as a subprocess and samples, every ``--interval`` seconds, the resident set size
(RSS) of the simsib process and of each worker process, and their proportional set size (PSS:
pages shared between the forked workers and their parent counted once, shared out).  Prints
the peaks, and ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` (the largest single process, measured
by the kernel, so no peak between samples is missed).  Target: peak total < 2 GB.

    python benchmarks/memory.py                       # 1,000,000 draws, 2 workers
    python benchmarks/memory.py --draws 200000 --workers 4
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

GB = 1024**3
MB = 1024**2
TARGET_BYTES = 2 * GB


def _sample(main: psutil.Process, cpu: dict[int, float]) -> tuple[int, int, dict[int, int]]:
    """(total RSS, total PSS, RSS per process) of ``main`` and its descendants, now.

    Also records each process's CPU seconds so far in ``cpu``.
    """
    rss = pss = 0
    per_process: dict[int, int] = {}
    try:
        processes = [main, *main.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, 0, {}
    for process in processes:
        try:
            info = process.memory_full_info()
            times = process.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
        per_process[process.pid] = info.rss
        cpu[process.pid] = times.user + times.system
    return rss, pss, per_process


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scenario", default="essex")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between samples")
    parser.add_argument("--keep", type=Path, default=None, help="write the run folder here (default: a temp dir)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp) / "run"
        command = [sys.executable, "-m", "simsib", "run", args.scenario, "--draws", str(args.draws),
                   "--workers", str(args.workers), "--seed", str(args.seed), "--quiet", "--out", str(out)]
        print("$", " ".join(["simsib", *command[3:]]), flush=True)
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        main_process = psutil.Process(proc.pid)
        peak_total_rss = peak_total_pss = peak_main = peak_worker = 0
        n_samples = 0
        cpu: dict[int, float] = {}
        while proc.poll() is None:
            total_rss, total_pss, per_process = _sample(main_process, cpu)
            n_samples += 1
            peak_total_rss = max(peak_total_rss, total_rss)
            peak_total_pss = max(peak_total_pss, total_pss)
            peak_main = max(peak_main, per_process.get(proc.pid, 0))
            workers = [rss for pid, rss in per_process.items() if pid != proc.pid]
            peak_worker = max([peak_worker, *workers])
            time.sleep(args.interval)
        stderr = proc.stderr.read() if proc.stderr else ""
        elapsed = time.perf_counter() - started
        largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
        if proc.returncode != 0:
            print(stderr, file=sys.stderr)
            print(f"simsib exited with {proc.returncode}", file=sys.stderr)
            return 1
        size = sum(p.stat().st_size for p in out.iterdir())
        timings = json.loads((out / "manifest.json").read_text())["timings_seconds"]

    print(f"draws                      {args.draws:,} on {args.workers} workers in {elapsed:,.1f} s "
          f"({args.draws / elapsed:,.0f} draws/s)")
    print(f"simsib's own timings       simulate {timings['simulate']:,.1f} s, total {timings['total']:,.1f} s "
          f"(assembling draws.parquet and the summary: {timings['total'] - timings['simulate']:,.1f} s)")
    main_cpu = cpu.get(proc.pid, 0.0)
    print(f"CPU seconds (last sample)  simsib process {main_cpu:,.1f} s, workers "
          f"{sum(cpu.values()) - main_cpu:,.1f} s")
    print(f"peak RSS, simsib process   {peak_main / MB:,.0f} MB")
    print(f"peak RSS, one worker       {peak_worker / MB:,.0f} MB")
    print(f"peak RSS, all processes    {peak_total_rss / MB:,.0f} MB   (sum; shared pages counted in each)")
    print(f"peak PSS, all processes    {peak_total_pss / MB:,.0f} MB   (shared pages counted once)")
    print(f"largest process (kernel)   {largest / MB:,.0f} MB   (getrusage RUSAGE_CHILDREN ru_maxrss)")
    print(f"run folder                 {size / MB:,.0f} MB;  {n_samples} samples every {args.interval} s")
    verdict = "ok" if max(peak_total_rss, largest) < TARGET_BYTES else "OVER TARGET"
    print(f"target < {TARGET_BYTES / GB:.0f} GB: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
