"""End to end in a real browser: `simsib app` in a subprocess, headless Debian Chromium driven by
Playwright, a control moved, and the page's chance of a loss checked against `simsib run`.

Needs the [app] and [test] extras and a Chromium from the system (Debian: ``apt-get install -y
chromium``; never a browser downloaded by ``playwright install``).  Skipped, with the reason,
only when no browser can be launched.
"""

from __future__ import annotations

import json
import os
import queue
import shlex
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from simsib.cli.main import app
from simsib.report.formatting import percent

pytest.importorskip("starlette", reason="the [app] extra is not installed: python -m pip install -e '.[app]'")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the [test] extra)")

CHROMIUM = os.environ.get("SIMSIB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# Playwright adds --headless, --no-sandbox and a fresh profile; Debian's wrapper fails to add
# --disable-dev-shm-usage on some machines, so it is given here.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
DRAWS, SEED = 1000, 5
ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium, or set SIMSIB_CHROMIUM)")
    with playwright.sync_playwright() as driver:
        try:
            launched = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        except Exception as exc:  # noqa: BLE001 - any failure to start the browser is a reason to skip
            pytest.skip(f"Chromium at {CHROMIUM} could not be launched: {exc}")
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def address():
    """`simsib app --no-browser --port 0` in a subprocess; the address it prints."""
    process = subprocess.Popen(
        [sys.executable, "-m", "simsib", "app", "essex", "--no-browser", "--port", "0", "--draws", str(DRAWS),
         "--seed", str(SEED)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    try:
        line = lines.get(timeout=120)
    except queue.Empty:
        process.kill()
        pytest.fail(f"simsib app printed no address: {process.stderr.read()}")
    assert line.startswith("simsib app: http://127.0.0.1:"), line
    yield line.split()[2]
    process.terminate()
    process.wait(timeout=30)


def run_prob_loss(args: list[str], out: Path) -> str:
    """P(loss) of `simsib run ARGS`, formatted as the page shows it."""
    result = runner.invoke(app, [*args, "--out", str(out), "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    return percent(json.loads(result.stdout)["investor"]["prob_loss"]["value"])


def test_moving_a_control_changes_the_chance_of_a_loss_as_simsib_run_does(browser, address, tmp_path):
    page = browser.new_page()
    page.set_default_timeout(30_000)
    page.goto(address)
    shown = page.locator("#fig-prob_loss .value")
    playwright.expect(shown).not_to_have_text("")
    before = shown.text_content()

    page.locator('input[type=range][data-key="contract.mechanisms.0.price_per_day"]').fill("60")
    set_line = page.locator("#set-line")
    playwright.expect(set_line).to_contain_text("--set contract.mechanisms.0.price_per_day=60")
    after = shown.text_content()

    assert before == run_prob_loss(["run", "essex", "--draws", str(DRAWS), "--seed", str(SEED)], tmp_path / "a")
    command = shlex.split(set_line.text_content())
    assert command[:2] == ["simsib", "run"]
    assert after == run_prob_loss(command[1:], tmp_path / "b")
    assert after != before

    with page.expect_download() as download:
        page.get_by_text("Download the scenario file").click()
    file = tmp_path / download.value.suggested_filename
    download.value.save_as(file)
    assert after == run_prob_loss(["run", str(file), "--seed", str(SEED)], tmp_path / "c")
    page.close()
