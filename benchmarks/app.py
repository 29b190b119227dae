"""Benchmark: how live `simsib app` feels at 10,000 Essex draws.

Prints, for a money change (the cap, moved to a new value each time):

* the compute alone: settling every chunk on the kept care paths and building the page's data
  (wall time, and this thread's CPU time, which other tenants of a shared machine do not inflate);
* the HTTP round trip to a real server (uvicorn on 127.0.0.1, keep-alive);
* in headless Chromium (when Playwright and a system Chromium are there): from the slider's
  ``input`` event to the page's numbers being replaced, measured inside the page -- what a user
  waits for.  Target: median ≤ 150 ms.

and, for a model change (the referral volume), the time to re-simulate and settle.

    python benchmarks/app.py [--draws 10000] [--repeat 30] [--workers 2] [--screenshot docs/app.png]

``--workers`` as ``simsib app --workers``: the server's process and one worker process (the
default on two or more cores) each keep and settle half the chunks.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import threading
import time
import urllib.request
from pathlib import Path

from simsib.app.live import LiveModel
from simsib.app.server import Host, LiveApp, bind, uvicorn_server
from simsib.app.view import RankCache, render
from simsib.run.execution import tune_allocator
from simsib.scenario.loader import bundled_scenario_path, load_raw

TARGET_MS = 150.0
CHROMIUM = os.environ.get("SIMSIB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
# In the page: move the cap slider, resolve when the --set line shows the new cap (it is written
# last, after every figure, chart and sentence).
IN_PAGE = """async (value) => {
  const range = document.querySelector('input[type=range][data-key="contract.cap"]');
  const line = document.getElementById('set-line');
  return await new Promise((resolve) => {
    const observer = new MutationObserver(() => {
      if (line.textContent.includes('contract.cap=' + value)) { observer.disconnect(); resolve(performance.now() - t0); }
    });
    observer.observe(line, { childList: true, characterData: true, subtree: true });
    const t0 = performance.now();
    range.value = value;
    range.dispatchEvent(new Event('input', { bubbles: true }));
  });
}"""


def caps(n: int) -> list[int]:
    """n cap values from £5.0m up in £0.1m steps, skipping the scenario's own £7.2m (no --set)."""
    values = [5_000_000 + 100_000 * i for i in range(60)]
    values = [v for v in values if v != 7_200_000]
    return [values[i % len(values)] for i in range(n)]


def summary(label: str, ms: list[float], target: float | None = None) -> str:
    ms = sorted(ms)
    median, p90 = statistics.median(ms), ms[int(0.9 * (len(ms) - 1))]
    verdict = f" ({'within' if median <= target else 'OVER'} the {target:.0f} ms target)" if target else ""
    return f"{label}: median {median:.0f} ms, p90 {p90:.0f} ms, min {ms[0]:.0f} ms over {len(ms)}{verdict}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--screenshot", type=Path, help="also save a screenshot of the page (cap at £6.0m)")
    args = parser.parse_args()

    tune_allocator()
    model = LiveModel(load_raw(bundled_scenario_path()), file="essex.toml", scenario_arg="essex",
                      draws=args.draws, seed=args.seed, workers=args.workers)
    try:
        run(model, args)
    finally:
        model.close()


def run(model: LiveModel, args: argparse.Namespace) -> None:
    started = time.perf_counter()
    model.start()
    print(f"essex, {args.draws:,} draws, seed {args.seed}, {args.workers} process(es): first simulation "
          f"{time.perf_counter() - started:.2f} s (includes starting the worker and loading the compiled kernels)")

    ranks = RankCache()
    render(model, model.current, ranks)
    wall, cpu = [], []
    for cap in caps(args.repeat):
        t0, c0 = time.perf_counter(), time.thread_time()
        render(model, model.update({"contract.cap": cap}), ranks)
        wall.append(1e3 * (time.perf_counter() - t0))
        cpu.append(1e3 * (time.thread_time() - c0))
    print(summary("money change, compute (settle + page data), wall", wall))
    print(summary("money change, compute, CPU time of the server's thread (the worker's half runs alongside)", cpu))

    simulate = []
    for median in (8.0, 7.0, 9.0):
        t0 = time.perf_counter()
        model.simulate({"referrals.referrals_per_month.median": median})
        simulate.append(time.perf_counter() - t0)
    print(f"model change (referrals a month), re-simulate and settle {args.draws:,} draws: "
          f"median {statistics.median(simulate):.2f} s, min {min(simulate):.2f} s over {len(simulate)}")
    model.simulate({})

    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    live = LiveApp(model, Host("127.0.0.1", port))
    server = uvicorn_server(live)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        http = []
        for cap in caps(args.repeat):
            request = urllib.request.Request(f"http://127.0.0.1:{port}/api/update", method="POST",
                                             data=json.dumps({"settings": {"contract.cap": cap}}).encode(),
                                             headers={"X-Simsib-Token": live.token, "Content-Type": "application/json"})
            t0 = time.perf_counter()
            with urllib.request.urlopen(request) as reply:
                json.loads(reply.read())
            http.append(1e3 * (time.perf_counter() - t0))
        print(summary("money change, HTTP round trip", http))
        browser_timings(port, args)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def browser_timings(port: int, args: argparse.Namespace) -> None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("in the browser: skipped (playwright is not installed)")
        return
    if not Path(CHROMIUM).exists():
        print(f"in the browser: skipped (no Chromium at {CHROMIUM})")
        return
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_selector("#fig-prob_loss .value")
        timings = [page.evaluate(IN_PAGE, cap) for cap in caps(args.repeat)]
        print(summary("money change in Chromium, slider input to numbers replaced", timings, TARGET_MS))
        if args.screenshot:
            page.evaluate(IN_PAGE, 6_000_000)
            # The whole page in one viewport, so the status bar sits at its foot, not over a chart.
            height = page.evaluate("document.documentElement.scrollHeight")
            page.set_viewport_size({"width": 1400, "height": height})
            page.screenshot(path=str(args.screenshot))
            print(f"screenshot: {args.screenshot}")
        browser.close()


if __name__ == "__main__":
    main()
