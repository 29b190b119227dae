"""``simsib app``: the live view, a local web page whose controls re-price the run as they move."""

from __future__ import annotations

import os
import webbrowser
from typing import List, Optional

import typer
from rich.markup import escape

from simsib.cli.app import EXIT_BAD_INPUT, DrawsOpt, ScenarioArg, SetOpt, app, err_console, guarded, load
from simsib.scenario.errors import ScenarioError

INSTALL_HINT = ("simsib app needs its optional web server (Starlette and uvicorn). Install it with\n"
                "  python -m pip install 'simsib[app]'\n"
                "or, in a source checkout of simsib,\n"
                "  python -m pip install -e '.[app]'")
# Every draw's care paths stay in memory (about 22 MB per 1,000 Essex draws).
MAX_LIVE_DRAWS = 100_000
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@app.command("app")
@guarded
def app_command(
    scenario: Optional[str] = ScenarioArg,
    port: int = typer.Option(8765, "--port", "-p", min=0, max=65535, help="Port to listen on; 0 picks a free one."),
    host: str = typer.Option("127.0.0.1", "--host",
                             help="Address to listen on. Only this machine (127.0.0.1) unless you give another."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Do not open a browser; just print the address."),
    draws: Optional[int] = DrawsOpt,
    seed: int = typer.Option(1, "--seed", "-s", min=0, help="Seed; the same seed shows the same numbers every launch."),
    set_: List[str] = SetOpt,
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, max=64,
                                          help="Processes sharing the draws.", show_default="2, or 1 on a single core"),
) -> None:
    """Open a live view of a scenario: move the contract terms and assumptions, watch the numbers."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        err_console.print(f"[bold red]error:[/] {escape(INSTALL_HINT)}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    from simsib.app.live import LiveModel
    from simsib.app.server import Host, LiveApp, bind, serve
    from simsib.run.execution import tune_allocator

    path, raw, validated = load(scenario, set_)
    n_draws = draws or validated.simulation.draws
    if n_draws > MAX_LIVE_DRAWS:
        raise ScenarioError.single("--draws", f"the live view keeps every draw's care paths in memory (about 22 MB "
                                   f"per 1,000 Essex draws); at most {MAX_LIVE_DRAWS:,}", value=n_draws)
    sock = bind(host, port)
    model = None
    try:
        tune_allocator()
        model = LiveModel(raw, file=str(path), scenario_arg=scenario or validated.meta.name, base_sets=set_,
                          draws=n_draws, seed=seed, workers=workers or min(2, available_cores()))
        err_console.print(f"simulating {n_draws:,} draws of {validated.meta.name} (seed {seed})…", highlight=False)
        model.start()
        live = LiveApp(model, Host(host, sock.getsockname()[1]))
        if host not in LOOPBACK:
            err_console.print(f"[bold yellow]warning:[/] listening on {host}: anyone who can reach this machine "
                              "can open the view", highlight=False)

        def ready(url: str) -> None:
            typer.echo(f"simsib app: {url}  (Ctrl-C to stop)")
            if not no_browser:
                webbrowser.open(url)

        serve(live, sock, ready)
    except KeyboardInterrupt:
        err_console.print("stopped")
    finally:
        if model is not None:
            model.close()
        sock.close()
