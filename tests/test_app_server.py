"""The live view's HTTP side through Starlette's TestClient (no browser), and `simsib app`'s start-up."""

from __future__ import annotations

import json
import socket
import sys

import pytest
from typer.testing import CliRunner

pytest.importorskip("starlette", reason="the [app] extra is not installed: python -m pip install -e '.[app]'")
pytest.importorskip("httpx2", reason="Starlette's TestClient needs httpx2 (the [test] extra)")
from starlette.testclient import TestClient  # noqa: E402

from simsib.app.live import LiveModel, NeedsSimulation  # noqa: E402
from simsib.app.server import Host, LiveApp, bind  # noqa: E402
from simsib.cli.main import app  # noqa: E402
from simsib.scenario.errors import ScenarioError  # noqa: E402
from simsib.scenario.loader import bundled_scenario_path, load_raw  # noqa: E402

DRAWS, SEED, PORT = 400, 9, 8765
SETS = ["simulation.chunk_size=200"]
ORIGIN = f"http://127.0.0.1:{PORT}"
runner = CliRunner()


@pytest.fixture(scope="module")
def started() -> LiveApp:
    raw = load_raw(bundled_scenario_path("essex"), SETS)
    model = LiveModel(raw, file="essex.toml", scenario_arg="essex", base_sets=SETS, draws=DRAWS, seed=SEED)
    model.start()
    return LiveApp(model, Host("127.0.0.1", PORT))


@pytest.fixture()
def client(started):
    try:  # every test starts from the scenario's values
        started.model.update({})
    except NeedsSimulation:
        started.model.simulate({})
    with TestClient(started.app, base_url=ORIGIN, headers={"X-Simsib-Token": started.token}) as test_client:
        yield test_client


def post(client, path, settings):
    return client.post(path, json={"settings": settings})


def test_the_page_carries_the_launch_token_and_loads_only_local_files(client, started):
    page = client.get("/")
    assert page.status_code == 200 and started.token in page.text
    assert "http" not in page.text.replace(ORIGIN, "").replace("http://www.w3.org", "")  # no CDN
    for path in ("/static/app.js", "/static/app.css"):
        assert client.get(path).status_code == 200


def test_foreign_host_and_missing_token_are_refused(client):
    assert client.get("/", headers={"Host": "evil.example:8765"}).status_code == 403  # DNS rebinding
    assert client.get("/", headers={"Host": f"localhost:{PORT}"}).status_code == 200
    refused = client.post("/api/update", json={"settings": {}}, headers={"X-Simsib-Token": "guess"})
    assert refused.status_code == 403 and "token" in refused.json()["error"]["message"]


def test_state_lists_the_controls_and_the_current_numbers(client, started):
    state = client.get("/api/state").json()
    assert [c["key"] for c in state["controls"]] == [c.key for c in started.model.controls]
    assert state["view"]["set_line"] == f"simsib run essex --draws {DRAWS} --seed {SEED} --set simulation.chunk_size=200"


def test_a_money_change_answers_with_the_new_numbers(client, started):
    view = post(client, "/api/update", {"contract.cap": 5e6}).json()["view"]
    assert "--set contract.cap=5000000" in view["set_line"]
    assert view["figures"][0]["value"] == started.model.current.summary["investor"]["prob_loss"]["value"]


@pytest.mark.parametrize("settings, key", [({"contract.mechanisms.0.price_per_day": -5}, "contract.mechanisms.0.price_per_day"),
                                           ({"contract.cap": True}, "contract.cap"),
                                           ({"no.such.key": 1}, "no.such.key")])
def test_bad_values_are_a_message_and_the_server_keeps_going(client, settings, key):
    reply = post(client, "/api/update", settings)
    assert reply.status_code == 200
    problems = reply.json()["error"]["problems"]
    assert any(p["key"] == key and p["text"] for p in problems), problems
    assert "view" in post(client, "/api/update", {"contract.cap": 6e6}).json()


def test_malformed_bodies_are_a_message(client):
    for body in (b"not json", b"[1, 2]", b'{"settings": 3}'):
        reply = client.post("/api/update", content=body, headers={"Content-Type": "application/json"})
        assert reply.status_code == 200 and reply.json()["error"]["problems"][0]["key"] == "settings"


def test_a_model_change_streams_progress_then_the_numbers(client, started):
    change = {"referrals.referrals_per_month.median": 6.0}
    assert post(client, "/api/update", change).json() == {"needs_simulation": True}
    with client.stream("POST", "/api/simulate", json={"settings": change}) as reply:
        lines = [json.loads(line) for line in reply.iter_lines() if line]
    assert [m["done"] for m in lines[:-1]] == [200, 400]
    assert lines[-1]["status"] == "done"
    assert "referrals.referrals_per_month.median=6" in lines[-1]["view"]["set_line"]
    assert started.model.current.simulated


def test_cancel_stops_a_simulation_and_keeps_the_numbers(client, started, monkeypatch):
    before = started.model.current

    def waits_for_cancel(scenario, entropy, plan, remotes, cancel, progress, cancelled):
        progress(200)
        while not cancelled():
            pass
        return None

    monkeypatch.setattr("simsib.app.live.simulate_groups", waits_for_cancel)
    with client.stream("POST", "/api/simulate", json={"settings": {"referrals.referrals_per_month.median": 5.0}}) as reply:
        lines = reply.iter_lines()
        assert json.loads(next(lines)) == {"done": 200, "total": DRAWS}
        busy = post(client, "/api/simulate", {})
        assert busy.status_code == 409 and "already running" in busy.json()["error"]["message"]
        assert client.post("/api/cancel").json() == {"cancelling": True}
        assert json.loads(next(lines)) == {"status": "cancelled"}
    assert started.model.current is before


def test_the_downloaded_scenario_gives_the_views_chance_of_a_loss_in_simsib_run(client, tmp_path):
    view = post(client, "/api/update", {"contract.mechanisms.0.price_per_day": 65}).json()["view"]
    download = client.get("/api/scenario.toml")
    assert download.headers["content-disposition"] == 'attachment; filename="essex-view.toml"'
    file = tmp_path / "essex-view.toml"
    file.write_bytes(download.content)
    assert "simsib run essex-view.toml --seed 9" in download.text
    result = runner.invoke(app, ["run", str(file), "--seed", str(SEED), "--out", str(tmp_path / "out"), "--json"])
    assert result.exit_code == 0, result.output
    prob_loss = json.loads(result.stdout)["investor"]["prob_loss"]
    assert prob_loss["value"] == view["figures"][0]["value"] and prob_loss["se"] == view["figures"][0]["se"]


def test_bind_refuses_a_port_in_use_and_sets_nodelay():
    sock = bind("127.0.0.1", 0)
    try:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        with pytest.raises(ScenarioError) as err:
            bind("127.0.0.1", sock.getsockname()[1])
        assert err.value.problems[0].key == "--port" and "--port 0" in err.value.problems[0].message
    finally:
        sock.close()


def test_simsib_app_without_the_extra_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if the [app] extra were not installed
    result = runner.invoke(app, ["app", "--no-browser"])
    assert result.exit_code == 2
    assert "pip install -e '.[app]'" in result.output and "pip install 'simsib[app]'" in result.output


def test_simsib_app_on_a_busy_port_exits_2_naming_it():
    holder = bind("127.0.0.1", 0)
    try:
        result = runner.invoke(app, ["app", "--no-browser", "--port", str(holder.getsockname()[1])])
    finally:
        holder.close()
    assert result.exit_code == 2 and "--port" in result.output


def test_simsib_app_refuses_more_draws_than_it_can_keep():
    result = runner.invoke(app, ["app", "--no-browser", "--draws", "1000000"])
    assert result.exit_code == 2 and "--draws" in result.output
