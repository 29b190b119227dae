"""The live view's web server: Starlette routes over a :class:`~simsib.app.live.LiveModel`.

Routes (JSON unless said otherwise):

* ``GET /`` the page (``static/index.html``, with this launch's token), ``GET /static/…`` its
  script and style sheet -- all served from the package, nothing from the internet;
* ``GET /api/state`` the controls and the current numbers;
* ``POST /api/update`` ``{"settings": {key: value}}``: a money change, settled at once; or
  ``{"needs_simulation": true}`` when the change reaches the model; or ``{"error": …}`` naming
  each bad value -- the server keeps running whatever the page sends;
* ``POST /api/simulate`` the same body: simulates afresh, streaming NDJSON lines
  ``{"done", "total"}`` then ``{"status": "done", "view": …}`` (or ``cancelled`` / ``error``);
* ``POST /api/cancel`` stops a simulation at its next chunk (so does closing the stream);
* ``GET /api/scenario.toml`` the scenario file of the current view, as an attachment.

Safety on a shared machine: the server binds 127.0.0.1 unless told otherwise; every request must
carry a Host header naming the address it was reached at (which stops DNS rebinding); every POST
must carry this launch's token (``X-Simsib-Token``, given only to the page), which stops other
web pages from driving it.  Accepted connections have TCP_NODELAY set (asyncio does so for every
TCP transport; without it a small response can wait 40 ms for a delayed ACK).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from simsib.app.live import LiveModel, NeedsSimulation
from simsib.app.view import RankCache, json_safe, render
from simsib.scenario.errors import ScenarioError

STATIC = Path(__file__).resolve().parent / "static"
TOKEN_HEADER = "x-simsib-token"
NO_STORE = {"Cache-Control": "no-store"}
WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def error_body(exc: BaseException) -> dict[str, Any]:
    """``{"message", "problems": [{"key", "message", "text"}]}`` for the page: every bad value at its
    key (``text`` is the message without the key, for showing under the control)."""
    if isinstance(exc, ScenarioError):
        return {"message": "The scenario refuses these values; the numbers shown are for the last valid ones.",
                "problems": [{"key": p.key, "message": p.render(None), "text": replace(p, key="").render(None)}
                             for p in exc.problems]}
    return {"message": f"internal error: {type(exc).__name__}: {exc}. This is a bug in simsib; the server "
            "keeps running.", "problems": []}


def _json(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(json_safe(body), status_code=status, headers=NO_STORE)


class Host:
    """The Host headers a request may carry: the bound address and its loopback names."""

    def __init__(self, host: str, port: int):
        self.any = host in WILDCARD_HOSTS
        names = {host, "127.0.0.1", "localhost"} if host in ("127.0.0.1", "localhost") else {host}
        self.allowed = {f"[{name}]:{port}" if ":" in name else f"{name}:{port}" for name in names}

    def accepts(self, header: str | None) -> bool:
        return self.any or (header or "") in self.allowed


class LiveApp:
    """The routes and the one simulation that may run at a time."""

    def __init__(self, model: LiveModel, host: Host, token: str | None = None):
        self.model = model
        self.host = host
        self.token = token or secrets.token_urlsafe(16)
        self.ranks = RankCache()
        self.cancel = threading.Event()
        self.simulating = threading.Lock()
        routes = [
            Route("/", self.index),
            Route("/api/state", self.state),
            Route("/api/update", self.update, methods=["POST"]),
            Route("/api/simulate", self.simulate, methods=["POST"]),
            Route("/api/cancel", self.cancel_simulation, methods=["POST"]),
            Route("/api/scenario.toml", self.download),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]
        self.app = Starlette(routes=routes)
        self.app.add_middleware(_Guard, live=self)

    # --- routes ----------------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        page = (STATIC / "index.html").read_text(encoding="utf-8").replace("__SIMSIB_TOKEN__", self.token)
        return HTMLResponse(page, headers=NO_STORE)

    def state(self, request: Request) -> Response:
        current = self.model.current
        return _json({"controls": [c.as_json() for c in self.model.controls],
                      "busy": self.simulating.locked(),
                      "view": render(self.model, current, self.ranks) if current is not None else None})

    async def _settings(self, request: Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise ScenarioError.single("settings", "expected a JSON object {\"settings\": {key: value}}") from None
        settings = body.get("settings") if isinstance(body, dict) else None
        if not isinstance(settings, dict):
            raise ScenarioError.single("settings", "expected a JSON object {\"settings\": {key: value}}")
        return settings

    async def update(self, request: Request) -> Response:
        try:
            settings = await self._settings(request)
            # The settlement takes tens of milliseconds of numpy: off the event loop.
            settled = await asyncio.to_thread(self.model.update, settings)
            return _json({"view": await asyncio.to_thread(render, self.model, settled, self.ranks)})
        except NeedsSimulation:
            return _json({"needs_simulation": True})
        except Exception as exc:  # noqa: BLE001 - a bad value or a bug: say so, keep serving
            return _json({"error": error_body(exc)})

    async def simulate(self, request: Request) -> Response:
        try:
            settings = await self._settings(request)
            self.model.variant(settings)  # bad values are refused before anything starts
        except Exception as exc:  # noqa: BLE001
            return _json({"error": error_body(exc)})
        if not self.simulating.acquire(blocking=False):
            return _json({"error": {"message": "A re-simulation is already running; wait for it or cancel it.",
                                    "problems": []}}, status=409)
        self.cancel.clear()
        loop = asyncio.get_running_loop()
        messages: asyncio.Queue = asyncio.Queue()

        def send(message: dict[str, Any]) -> None:
            loop.call_soon_threadsafe(messages.put_nowait, message)

        def work() -> None:
            try:
                settled = self.model.simulate(settings, lambda done, total: send({"done": done, "total": total}),
                                              self.cancel.is_set)
                if settled is None:
                    send({"status": "cancelled"})
                else:
                    send({"status": "done", "view": render(self.model, settled, self.ranks)})
            except Exception as exc:  # noqa: BLE001
                send({"status": "error", "error": error_body(exc)})
            finally:
                self.simulating.release()

        async def stream():
            future = loop.run_in_executor(None, work)
            try:
                while True:
                    message = await messages.get()
                    yield json.dumps(json_safe(message)) + "\n"
                    if "status" in message:
                        break
            finally:
                if not future.done():  # the page went away or aborted: stop at the next chunk
                    self.cancel.set()

        return StreamingResponse(stream(), media_type="application/x-ndjson", headers=NO_STORE)

    async def cancel_simulation(self, request: Request) -> Response:
        self.cancel.set()
        return _json({"cancelling": self.simulating.locked()})

    def download(self, request: Request) -> Response:
        current = self.model.current
        if current is None:
            return _json({"error": {"message": "nothing simulated yet", "problems": []}}, status=409)
        name = f"{self.model.base.meta.name}-view.toml"
        return Response(self.model.scenario_toml(current, name), media_type="application/toml",
                        headers={**NO_STORE, "Content-Disposition": f'attachment; filename="{name}"'})


class _Guard:
    """Refuses requests with a foreign Host header, and POSTs without the launch's token."""

    def __init__(self, app: Callable, live: LiveApp):
        self.app = app
        self.live = live

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            problem = None
            if not self.live.host.accepts(headers.get("host")):
                problem = "this server answers only at the address it printed"
            elif scope["method"] == "POST" and not secrets.compare_digest(
                    headers.get(TOKEN_HEADER, ""), self.live.token):
                problem = "missing or wrong token: reload the page from the address simsib app printed"
            if problem is not None:
                await JSONResponse({"error": {"message": problem, "problems": []}}, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one); ScenarioError if it cannot be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, reuse_port=False)
    except OSError as exc:
        raise ScenarioError.single(
            "--port" if exc.errno in (98, 48, 10048) else "--host",
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another port, or --port 0 for a free one",
            value=port,
        ) from None
    # Inherited by accepted connections on Linux; asyncio sets it on each of them anyway.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def uvicorn_server(live: LiveApp):
    """The uvicorn server of a :class:`LiveApp` (run it with ``.run(sockets=[sock])``; stop it by
    setting ``.should_exit``)."""
    import uvicorn

    config = uvicorn.Config(live.app, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=2)
    return uvicorn.Server(config)


def serve(live: LiveApp, sock: socket.socket, on_ready: Callable[[str], None]) -> None:
    """Serve until interrupted (Ctrl-C); ``on_ready(url)`` is called once the server accepts requests."""
    server = uvicorn_server(live)

    def announce() -> None:
        while not server.started and not server.should_exit:
            threading.Event().wait(0.02)
        if server.started:
            on_ready(url_of(sock))

    threading.Thread(target=announce, daemon=True).start()
    server.run(sockets=[sock])
